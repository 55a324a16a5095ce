//go:build !amd64 || purego

package rfb

// gradientError is gradientErrorGo on this platform.
func gradientError(row, up []byte) int { return gradientErrorGo(row, up) }

// countRepeats is countRepeatsGo on this platform.
func countRepeats(row []byte) int { return countRepeatsGo(row) }
