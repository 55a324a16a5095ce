//go:build !amd64 || purego

package rfb

import "image"

// newPixels is newPixelsGo on this platform.
func newPixels(row, up []byte) uint32 { return newPixelsGo(row, up) }

// tightTileSoft is tightTileSoftGo on this platform.
func tightTileSoft(img *Image, t image.Rectangle) (soft, uniform bool) {
	return tightTileSoftGo(img, t)
}
