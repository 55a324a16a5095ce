//go:build amd64 && !purego

package rfb

// newPixels is newPixelsGo in SSE2 (tight_plan_amd64.s) for rows of 5
// to 32 pixels.
func newPixels(row, up []byte) uint32 {
	if n := len(row) / 4; n < 5 || n > 32 || len(up) != 0 && len(up) < len(row) {
		return newPixelsGo(row, up)
	}
	return newPixelsSSE2(row, up)
}

//go:noescape
func newPixelsSSE2(row, up []byte) uint32
