//go:build !amd64 || purego

package rfb

// gradientError is gradientErrorGo on this platform.
func gradientError(row, up []byte) int { return gradientErrorGo(row, up) }
