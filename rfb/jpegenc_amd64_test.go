//go:build amd64 && !purego

package rfb

import "golang.org/x/sys/cpu"

// jpegVariants is every set of kernels this CPU runs, each of which the
// tests compare with the pure Go kernels, whichever FastJPEG chose.
func jpegVariants() []jpegVariant {
	v := []jpegVariant{{"sse2", &jpegSSE2}}
	if cpu.X86.HasAVX2 {
		v = append(v, jpegVariant{"avx2", &jpegAVX2})
	}
	return v
}
