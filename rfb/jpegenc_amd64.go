//go:build amd64 && !purego

package rfb

import "golang.org/x/sys/cpu"

// jpegSSE2 is the SSE2 kernels (SSE2 is part of every amd64 CPU), and
// jpegAVX2 the AVX2 ones, which do eight lanes at a time.
var (
	jpegSSE2 = jpegKernels{ycc: jpegYCCSSE2Go, luma: jpegLumaSSE2Go, chroma: jpegChromaSSE2Go, fdct: jpegFDCTSSE2, transposed: true}
	jpegAVX2 = jpegKernels{ycc: jpegYCCAVX2Go, luma: jpegLumaAVX2Go, chroma: jpegChromaAVX2Go, fdct: jpegFDCTAVX2, transposed: true}
)

// jpegFast is the kernels FastJPEG uses: AVX2 where the CPU has it.
var jpegFast = func() jpegKernels {
	if cpu.X86.HasAVX2 {
		return jpegAVX2
	}
	return jpegSSE2
}()

// The wrappers check the bounds the assembly relies on, as the Go forms'
// indexing does.

func jpegYCCSSE2Go(p []byte, stride int, y, cb, cr *[64]float32) {
	_ = p[7*stride+31]
	jpegYCCSSE2(&p[0], stride, y, cb, cr)
}

func jpegLumaSSE2Go(p []byte, stride int, y *[64]float32) {
	_ = p[7*stride+31]
	jpegLumaSSE2(&p[0], stride, y)
}

func jpegChromaSSE2Go(p []byte, step, down int, cb, cr *[64]float32) {
	_ = p[7*step+down+63]
	jpegChromaSSE2(&p[0], step, down, cb, cr)
}

func jpegYCCAVX2Go(p []byte, stride int, y, cb, cr *[64]float32) {
	_ = p[7*stride+31]
	jpegYCCAVX2(&p[0], stride, y, cb, cr)
}

func jpegLumaAVX2Go(p []byte, stride int, y *[64]float32) {
	_ = p[7*stride+31]
	jpegLumaAVX2(&p[0], stride, y)
}

func jpegChromaAVX2Go(p []byte, step, down int, cb, cr *[64]float32) {
	_ = p[7*step+down+63]
	jpegChromaAVX2(&p[0], step, down, cb, cr)
}

//go:noescape
func jpegYCCSSE2(p *byte, stride int, y, cb, cr *[64]float32)

//go:noescape
func jpegLumaSSE2(p *byte, stride int, y *[64]float32)

//go:noescape
func jpegChromaSSE2(p *byte, step, down int, cb, cr *[64]float32)

//go:noescape
func jpegFDCTSSE2(d, recipT *[64]float32, coef *[64]int16) uint64

//go:noescape
func jpegYCCAVX2(p *byte, stride int, y, cb, cr *[64]float32)

//go:noescape
func jpegLumaAVX2(p *byte, stride int, y *[64]float32)

//go:noescape
func jpegChromaAVX2(p *byte, step, down int, cb, cr *[64]float32)

//go:noescape
func jpegFDCTAVX2(d, recipT *[64]float32, coef *[64]int16) uint64
