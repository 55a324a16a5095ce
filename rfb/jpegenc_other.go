//go:build !amd64 || purego

package rfb

// jpegFast is the kernels FastJPEG uses: pure Go on this platform.
var jpegFast = jpegGo
