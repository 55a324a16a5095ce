//go:build !amd64 || purego

package rfb

// gradientError is gradientErrorGo on this platform.
func gradientError(row, up []byte) int { return gradientErrorGo(row, up) }

// countRepeats is countRepeatsGo on this platform.
func countRepeats(row []byte) int { return countRepeatsGo(row) }

// gradientRow24 is gradientRow24Go on this platform.
func gradientRow24(out, row, up []byte) { gradientRow24Go(out, row, up) }
