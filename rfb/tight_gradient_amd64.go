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

// gradientRow24 is gradientRow24Go in SSE2 (tight_gradient_amd64.s) for
// rows of 5 pixels or more.
func gradientRow24(out, row, up []byte) {
	n := len(row) / 4
	if n < 5 || len(up) < n*4 || len(out) < n*3 {
		gradientRow24Go(out, row, up)
		return
	}
	out[0], out[1], out[2] = row[2]-up[2], row[1]-up[1], row[0]-up[0]
	gradientRow24SSE2(out, row, up)
}

//go:noescape
func gradientRow24SSE2(out, row, up []byte)
