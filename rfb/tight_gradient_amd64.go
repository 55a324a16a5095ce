//go:build amd64 && !purego

package rfb

// gradientError is gradientErrorGo in SSE2 (tight_gradient_amd64.s).
func gradientError(row, up []byte) int {
	if len(up) < len(row) {
		return gradientErrorGo(row, up)
	}
	return gradientErrorSSE2(row, up)
}

//go:noescape
func gradientErrorSSE2(row, up []byte) int

// countRepeats is countRepeatsGo in SSE2 (tight_gradient_amd64.s).
func countRepeats(row []byte) int { return countRepeatsSSE2(row) }

//go:noescape
func countRepeatsSSE2(row []byte) int
