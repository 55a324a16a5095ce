//go:build !amd64 || purego

package rfb

// newPixels is newPixelsGo on this platform.
func newPixels(row, up []byte) uint32 { return newPixelsGo(row, up) }
