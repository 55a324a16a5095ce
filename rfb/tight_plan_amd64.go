//go:build amd64 && !purego

package rfb

import "image"

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

// tightTileSoft is tightTileSoftGo in SSE2 (tight_plan_amd64.s) for
// tiles 5 to 32 pixels wide.
func tightTileSoft(img *Image, t image.Rectangle) (soft, uniform bool) {
	w, h := t.Dx(), t.Dy()
	o := t.Min.Y*img.Stride + t.Min.X*4
	if w < 5 || w > 32 || h < 1 || t.Min.X < 0 || t.Min.Y < 0 || o+(h-1)*img.Stride+w*4 > len(img.Pix) {
		return tightTileSoftGo(img, t)
	}
	r := tileSoftSSE2(img.Pix[o:], img.Stride, w, h)
	return r&1 != 0, r&2 != 0
}

//go:noescape
func tileSoftSSE2(pix []byte, stride, w, h int) int
