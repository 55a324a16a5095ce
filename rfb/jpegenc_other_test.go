//go:build !amd64 || purego

package rfb

// jpegVariants is every set of kernels this platform has besides the
// pure Go ones: none.
func jpegVariants() []jpegVariant { return nil }
