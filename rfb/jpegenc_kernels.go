package rfb

// The hot kernels of FastJPEG: colour conversion of 8×8 blocks, and the
// forward DCT with quantisation and zig-zag reordering. Each has a pure Go
// form here and, on amd64 (without the purego build tag), an SSE2 and an
// AVX2 form in jpegenc_amd64.s that give bit-identical results: all work
// in float32 with the same operations in the same order, and the Go form
// converts every product to float32 explicitly, so that no compiler fuses
// a multiply and an add (the Go specification allows fusing only where no
// explicit conversion rounds; the assembly uses no FMA).
// TestJPEGKernelsMatch and TestJPEGKernelsExact hold each to it.

// jpegKernels is one implementation of the kernels.
//
//   - ycc converts the 8×8 pixels at p (rows stride bytes apart) into
//     level-shifted Y and centred Cb and Cr.
//   - luma converts the 8×8 pixels at p into level-shifted Y only.
//   - chroma makes the 8×8 Cb and Cr of 16×8 groups of pixels: chroma
//     row j averages the pixel pairs of row p+j·step and row p+j·step+down
//     (down is 0 for 4:2:2, where each pair counts twice).
//   - fdct transforms b in place, quantises it by recip, writes the
//     coefficients to coef and returns a mask with bit i set when coef[i]
//     is not zero. Its layout is natural order (row·8 + column), or
//     transposed (column·8 + row) when transposed is set, and so are
//     recip's.
type jpegKernels struct {
	ycc    func(p []byte, stride int, y, cb, cr *[64]float32)
	luma   func(p []byte, stride int, y *[64]float32)
	chroma func(p []byte, step, down int, cb, cr *[64]float32)
	fdct   func(b, recip *[64]float32, coef *[64]int16) uint64
	// transposed: fdct's recip and coef are in transposed order.
	transposed bool
}

var jpegGo = jpegKernels{ycc: jpegYCCGo, luma: jpegLumaGo, chroma: jpegChromaGo, fdct: jpegFDCTGo}

// jpegOrder maps an fdct's coefficients to zig-zag order: zig[z] is the
// index in coef of zig-zag position z, and mask[k][v] the zig-zag mask of
// the bits v of byte k of fdct's mask.
type jpegOrder struct {
	zig  [64]uint8
	mask [8][256]uint64
}

// jpegOrders are the natural [0] and the transposed [1] order.
var jpegOrders = func() *[2]jpegOrder {
	o := new([2]jpegOrder)
	for t := range 2 {
		for z, n := range jpegZigzag {
			if t == 1 {
				n = n%8*8 + n/8
			}
			o[t].zig[z] = uint8(n)
			for v := range 256 {
				if v>>(n%8)&1 != 0 {
					o[t].mask[n/8][v] |= 1 << z
				}
			}
		}
	}
	return o
}()

// zigzagMask is m, a mask of fdct's, in zig-zag order.
func (o *jpegOrder) zigzagMask(m uint64) uint64 {
	return o.mask[0][byte(m)] | o.mask[1][byte(m>>8)] | o.mask[2][byte(m>>16)] | o.mask[3][byte(m>>24)] |
		o.mask[4][byte(m>>32)] | o.mask[5][byte(m>>40)] | o.mask[6][byte(m>>48)] | o.mask[7][byte(m>>56)]
}

// JFIF colour conversion factors. The chroma of a 2×2 group is computed
// from the sums of its four samples with the factors divided by 4 (an
// exact scaling in binary floating point).
const (
	jyR, jyG, jyB float32 = 0.299, 0.587, 0.114
	jbR, jbG, jbB float32 = -0.168736, -0.331264, 0.5
	jrR, jrG, jrB float32 = 0.5, -0.418688, -0.081312
)

// jpegYCCGo is the pure Go ycc kernel.
func jpegYCCGo(p []byte, stride int, y, cb, cr *[64]float32) {
	for j := range 8 {
		row := (*[32]byte)(p[j*stride:])
		for i := range 8 {
			b, g, r := float32(row[i*4]), float32(row[i*4+1]), float32(row[i*4+2])
			y[j*8+i] = jpegDot(r, g, b, jyR, jyG, jyB) - 128
			cb[j*8+i] = jpegDot(r, g, b, jbR, jbG, jbB)
			cr[j*8+i] = jpegDot(r, g, b, jrR, jrG, jrB)
		}
	}
}

// jpegDot is (r·kr + g·kg) + b·kb, rounded after every operation.
func jpegDot(r, g, b, kr, kg, kb float32) float32 {
	return float32(float32(r*kr)+float32(g*kg)) + float32(b*kb)
}

// jpegLumaGo is the pure Go luma kernel.
func jpegLumaGo(p []byte, stride int, y *[64]float32) {
	for j := range 8 {
		row := (*[32]byte)(p[j*stride:])
		for i := range 8 {
			b, g, r := float32(row[i*4]), float32(row[i*4+1]), float32(row[i*4+2])
			y[j*8+i] = jpegDot(r, g, b, jyR, jyG, jyB) - 128
		}
	}
}

// jpegChromaGo is the pure Go chroma kernel.
func jpegChromaGo(p []byte, step, down int, cb, cr *[64]float32) {
	for j := range 8 {
		a := (*[64]byte)(p[j*step:])
		c := (*[64]byte)(p[j*step+down:])
		for i := range 8 {
			sb := int32(a[i*8]) + int32(a[i*8+4]) + int32(c[i*8]) + int32(c[i*8+4])
			sg := int32(a[i*8+1]) + int32(a[i*8+5]) + int32(c[i*8+1]) + int32(c[i*8+5])
			sr := int32(a[i*8+2]) + int32(a[i*8+6]) + int32(c[i*8+2]) + int32(c[i*8+6])
			r, g, b := float32(sr), float32(sg), float32(sb)
			cb[j*8+i] = jpegDot(r, g, b, jbR/4, jbG/4, jbB/4)
			cr[j*8+i] = jpegDot(r, g, b, jrR/4, jrG/4, jrB/4)
		}
	}
}

// AAN DCT factors.
const (
	jpegC4   float32 = 0.707106781
	jpegC6   float32 = 0.382683433
	jpegC2C6 float32 = 0.541196100
	jpegC2p6 float32 = 1.306562965
)

// jpegFDCTGo is the pure Go fdct kernel: the AAN forward DCT in floating
// point (as libjpeg's jfdctflt.c), columns first and then rows; outputs
// are scaled by 8 × the AAN factors, which recip divides out.
func jpegFDCTGo(d, recip *[64]float32, coef *[64]int16) uint64 {
	for i := range 8 {
		jpegButterfly(d, i, 8)
	}
	for i := 0; i < 64; i += 8 {
		jpegButterfly(d, i, 1)
	}
	var mask uint64
	for n := range 64 {
		v := int16(int32(float32(d[n]*recip[n])+16384.5) - 16384)
		coef[n] = v
		if v != 0 {
			mask |= 1 << n
		}
	}
	return mask
}

// jpegButterfly is the one-dimensional AAN DCT of the 8 values of d at
// o, o+s, …, o+7s.
func jpegButterfly(d *[64]float32, o, s int) {
	p0, p1, p2, p3 := d[o], d[o+s], d[o+2*s], d[o+3*s]
	p4, p5, p6, p7 := d[o+4*s], d[o+5*s], d[o+6*s], d[o+7*s]
	t0, t7 := p0+p7, p0-p7
	t1, t6 := p1+p6, p1-p6
	t2, t5 := p2+p5, p2-p5
	t3, t4 := p3+p4, p3-p4
	t10, t13 := t0+t3, t0-t3
	t11, t12 := t1+t2, t1-t2
	d[o] = t10 + t11
	d[o+4*s] = t10 - t11
	z1 := float32((t12 + t13) * jpegC4)
	d[o+2*s] = t13 + z1
	d[o+6*s] = t13 - z1
	t10, t11, t12 = t4+t5, t5+t6, t6+t7
	z5 := float32((t10 - t12) * jpegC6)
	z2 := float32(t10*jpegC2C6) + z5
	z4 := float32(t12*jpegC2p6) + z5
	z3 := float32(t11 * jpegC4)
	z11, z13 := t7+z3, t7-z3
	d[o+5*s] = z13 + z2
	d[o+3*s] = z13 - z2
	d[o+s] = z11 + z4
	d[o+7*s] = z11 - z4
}
