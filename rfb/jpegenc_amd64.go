//go:build amd64 && !purego

package rfb

// jpegFast is the kernels FastJPEG uses: SSE2 (part of every amd64 CPU).
var jpegFast = jpegKernels{ycc: jpegYCCAsm, luma: jpegLumaAsm, chroma: jpegChromaAsm, fdct: jpegFDCTSSE2, transposed: true}

// The wrappers check the bounds the assembly relies on, as the Go forms'
// indexing does.

func jpegYCCAsm(p []byte, stride int, y, cb, cr *[64]float32) {
	_ = p[7*stride+31]
	jpegYCCSSE2(&p[0], stride, y, cb, cr)
}

func jpegLumaAsm(p []byte, stride int, y *[64]float32) {
	_ = p[7*stride+31]
	jpegLumaSSE2(&p[0], stride, y)
}

func jpegChromaAsm(p []byte, step, down int, cb, cr *[64]float32) {
	_ = p[7*step+down+63]
	jpegChromaSSE2(&p[0], step, down, cb, cr)
}

//go:noescape
func jpegYCCSSE2(p *byte, stride int, y, cb, cr *[64]float32)

//go:noescape
func jpegLumaSSE2(p *byte, stride int, y *[64]float32)

//go:noescape
func jpegChromaSSE2(p *byte, step, down int, cb, cr *[64]float32)

//go:noescape
func jpegFDCTSSE2(d, recipT *[64]float32, coef *[64]int16) uint64
