package rfb

import (
	"encoding/binary"
	"image"
	"math/bits"
	"sync"
)

// FastJPEG is this package's own baseline JPEG encoder, pure Go, and the
// default JPEGEncoder. Unlike image/jpeg it makes every chroma
// subsampling Tight's quality levels ask for: 4:4:4, 4:2:2, 4:2:0 and
// greyscale. It reads the B, G, R, X pixels of an Image directly and works
// one MCU at a time, with a floating-point AAN DCT (as libjpeg's
// jfdctflt) whose scale factors are folded into the quantisation, the
// standard Huffman tables of the JPEG specification's Annex K, zero runs
// found from a bit mask of non-zero coefficients, and a 64-bit bit
// writer. Quality q scales the Annex K quantisation tables as libjpeg's
// jpeg_quality_scaling does (and image/jpeg), so a quality means the same
// here, in image/jpeg and in TigerVNC.
type FastJPEG struct{}

// AppendJPEG implements JPEGEncoder.
func (FastJPEG) AppendJPEG(dst []byte, img *Image, r image.Rectangle, quality int, sub Subsampling) ([]byte, error) {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return dst, errJPEGEmpty
	}
	e := jpegPool.Get().(*jpegEncoder)
	defer jpegPool.Put(e)
	return e.encode(dst, img, r, quality, sub), nil
}

var errJPEGEmpty = protoErrorf("JPEG of an empty rectangle")

var jpegPool = sync.Pool{New: func() any { return new(jpegEncoder) }}

// jpegEncoder is the state of one encoding: quantisation factors, the
// blocks of one MCU and the bit writer.
type jpegEncoder struct {
	recipZ  [2][64]float32 // 1/(quantiser × AAN scale × 8), zig-zag order
	qt      [2][64]uint8   // quantisers, zig-zag order, for DQT
	blk     [6][64]float32 // an MCU: up to 4 Y blocks, Cb, Cr
	prevDC  [3]int32
	out     []byte
	acc     uint64 // pending bits, right-aligned
	nbits   uint
	hsample int // luma blocks across (1 or 2) and down (1 or 2) per MCU
	vsample int
	grey    bool
}

func (e *jpegEncoder) encode(dst []byte, img *Image, r image.Rectangle, quality int, sub Subsampling) []byte {
	e.setup(quality, sub)
	e.out = dst
	e.header(r.Dx(), r.Dy())
	e.acc, e.nbits = 0, 0
	e.prevDC = [3]int32{}
	mw, mh := 8*e.hsample, 8*e.vsample
	for y := r.Min.Y; y < r.Max.Y; y += mh {
		for x := r.Min.X; x < r.Max.X; x += mw {
			e.loadMCU(img, r, x, y)
			e.writeMCU()
		}
	}
	e.flushBits()
	e.out = append(e.out, 0xff, 0xd9) // EOI
	out := e.out
	e.out = nil
	return out
}

// setup computes the quantisation for quality (1..100) and the sampling.
func (e *jpegEncoder) setup(quality int, sub Subsampling) {
	quality = min(max(quality, 1), 100)
	scale := 200 - 2*quality
	if quality < 50 {
		scale = 5000 / quality
	}
	for t := range 2 {
		for z := range 64 {
			n := jpegZigzag[z]
			q := (int(jpegStdQuant[t][n])*scale + 50) / 100
			q = min(max(q, 1), 255)
			e.qt[t][z] = uint8(q)
			e.recipZ[t][z] = 1 / (float32(q) * jpegAANScale[n/8] * jpegAANScale[n%8] * 8)
		}
	}
	e.grey = sub == SubsampleGray
	switch sub {
	case Subsample422:
		e.hsample, e.vsample = 2, 1
	case Subsample420:
		e.hsample, e.vsample = 2, 2
	default:
		e.hsample, e.vsample = 1, 1
	}
}

// header writes SOI, the quantisation and Huffman tables, SOF0 and SOS.
func (e *jpegEncoder) header(w, h int) {
	b := append(e.out, 0xff, 0xd8)
	ncomp := 3
	ntab := 2
	if e.grey {
		ncomp, ntab = 1, 1
	}
	// DQT: Pq/Tq byte and 64 quantisers per table.
	b = append(b, 0xff, 0xdb)
	b = binary.BigEndian.AppendUint16(b, uint16(2+65*ntab))
	for t := range ntab {
		b = append(b, byte(t))
		b = append(b, e.qt[t][:]...)
	}
	// SOF0: precision, height, width, components (id, sampling, table).
	b = append(b, 0xff, 0xc0)
	b = binary.BigEndian.AppendUint16(b, uint16(8+3*ncomp))
	b = append(b, 8)
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = append(b, byte(ncomp), 1, byte(e.hsample<<4|e.vsample), 0)
	if !e.grey {
		b = append(b, 2, 0x11, 1, 3, 0x11, 1)
	}
	// DHT: the Annex K tables, DC and AC for luma (and chroma).
	b = append(b, jpegDHTSeg[ntab-1]...)
	// SOS: components with their tables, spectral selection 0..63.
	b = append(b, 0xff, 0xda)
	b = binary.BigEndian.AppendUint16(b, uint16(6+2*ncomp))
	b = append(b, byte(ncomp), 1, 0x00)
	if !e.grey {
		b = append(b, 2, 0x11, 3, 0x11)
	}
	e.out = append(b, 0, 63, 0)
}

// JFIF colour conversion, in 16-bit fixed point; Cb and Cr are centred on
// zero (the level shift of the DCT input).
const (
	jyR, jyG, jyB = 19595, 38470, 7471
	jbR, jbG      = -11059, -21709 // Cb: R, G; B is 1/2
	jrG, jrB      = -27439, -5329  // Cr: G, B; R is 1/2
)

// loadMCU converts the MCU at (x, y) into level-shifted blocks, repeating
// the last column and row of r past its edges.
func (e *jpegEncoder) loadMCU(img *Image, r image.Rectangle, x0, y0 int) {
	mw, mh := 8*e.hsample, 8*e.vsample
	if x0+mw > r.Max.X || y0+mh > r.Max.Y {
		e.loadEdgeMCU(img, r, x0, y0)
		return
	}
	if e.hsample == 1 && e.vsample == 1 {
		yb, cb, cr := &e.blk[0], &e.blk[4], &e.blk[5]
		for j := range 8 {
			p := (*[32]byte)(img.Pix[(y0+j)*img.Stride+x0*4:])
			o := (*[8]float32)(yb[j*8:])
			ob := (*[8]float32)(cb[j*8:])
			or := (*[8]float32)(cr[j*8:])
			for i := range 8 {
				b, g, rr := int32(p[i*4]), int32(p[i*4+1]), int32(p[i*4+2])
				o[i] = float32((jyR*rr+jyG*g+jyB*b+1<<15)>>16 - 128)
				if !e.grey {
					ob[i] = float32((jbR*rr + jbG*g + b<<15 + 1<<15) >> 16)
					or[i] = float32((rr<<15 + jrG*g + jrB*b + 1<<15) >> 16)
				}
			}
		}
		return
	}
	for by := range e.vsample {
		for bx := range 2 {
			yb := &e.blk[by*2+bx]
			for j := range 8 {
				p := (*[32]byte)(img.Pix[(y0+by*8+j)*img.Stride+(x0+bx*8)*4:])
				o := (*[8]float32)(yb[j*8:])
				for i := range 8 {
					b, g, rr := int32(p[i*4]), int32(p[i*4+1]), int32(p[i*4+2])
					o[i] = float32((jyR*rr+jyG*g+jyB*b+1<<15)>>16 - 128)
				}
			}
		}
	}
	// Chroma: the mean R, G, B of each 2×1 or 2×2 group.
	cb, cr := &e.blk[4], &e.blk[5]
	for j := range 8 {
		p := (*[64]byte)(img.Pix[(y0+j*e.vsample)*img.Stride+x0*4:])
		q := p
		if e.vsample == 2 {
			q = (*[64]byte)(img.Pix[(y0+j*2+1)*img.Stride+x0*4:])
		}
		ob := (*[8]float32)(cb[j*8:])
		or := (*[8]float32)(cr[j*8:])
		for i := range 8 {
			a, c := (*[8]byte)(p[i*8:]), (*[8]byte)(q[i*8:])
			sb := int32(a[0]) + int32(a[4]) + int32(c[0]) + int32(c[4])
			sg := int32(a[1]) + int32(a[5]) + int32(c[1]) + int32(c[5])
			sr := int32(a[2]) + int32(a[6]) + int32(c[2]) + int32(c[6])
			// Four samples (two repeated for 4:2:2): the sums are 4×.
			rr, g, b := (sr+2)>>2, (sg+2)>>2, (sb+2)>>2
			ob[i] = float32((jbR*rr + jbG*g + b<<15 + 1<<15) >> 16)
			or[i] = float32((rr<<15 + jrG*g + jrB*b + 1<<15) >> 16)
		}
	}
}

// loadEdgeMCU is loadMCU for an MCU that reaches past r.
func (e *jpegEncoder) loadEdgeMCU(img *Image, r image.Rectangle, x0, y0 int) {
	px := func(x, y int) (int32, int32, int32) {
		p := img.Pix[min(y, r.Max.Y-1)*img.Stride+min(x, r.Max.X-1)*4:]
		return int32(p[2]), int32(p[1]), int32(p[0])
	}
	for by := range e.vsample {
		for bx := range e.hsample {
			yb := &e.blk[by*e.hsample+bx]
			for j := range 8 {
				for i := range 8 {
					rr, g, b := px(x0+bx*8+i, y0+by*8+j)
					yb[j*8+i] = float32((jyR*rr+jyG*g+jyB*b+1<<15)>>16 - 128)
				}
			}
		}
	}
	if e.grey {
		return
	}
	cb, cr := &e.blk[4], &e.blk[5]
	n := int32(e.hsample * e.vsample)
	for j := range 8 {
		for i := range 8 {
			var sr, sg, sb int32
			for dy := range e.vsample {
				for dx := range e.hsample {
					rr, g, b := px(x0+i*e.hsample+dx, y0+j*e.vsample+dy)
					sr, sg, sb = sr+rr, sg+g, sb+b
				}
			}
			rr, g, b := (sr+n/2)/n, (sg+n/2)/n, (sb+n/2)/n
			cb[j*8+i] = float32((jbR*rr + jbG*g + b<<15 + 1<<15) >> 16)
			cr[j*8+i] = float32((rr<<15 + jrG*g + jrB*b + 1<<15) >> 16)
		}
	}
}

// writeMCU transforms, quantises and Huffman-codes the MCU's blocks.
func (e *jpegEncoder) writeMCU() {
	n := e.hsample * e.vsample
	for i := range n {
		e.writeBlock(&e.blk[i], 0, &jpegHuff[0], &jpegHuff[1])
	}
	if e.grey {
		return
	}
	e.writeBlock(&e.blk[4], 1, &jpegHuff[2], &jpegHuff[3])
	e.writeBlock(&e.blk[5], 2, &jpegHuff[2], &jpegHuff[3])
}

// writeBlock codes one block of component c (0 luma, 1 Cb, 2 Cr).
func (e *jpegEncoder) writeBlock(b *[64]float32, c int, dc, ac *jpegHuffCodes) {
	jpegFDCT(b)
	t := 0
	if c > 0 {
		t = 1
	}
	recip := &e.recipZ[t]
	var zz [64]int32
	var mask uint64 // bit z set: zig-zag coefficient z (1..63) is not zero
	for z := 1; z < 64; z++ {
		v := int32(b[jpegZigzag[z]&63]*recip[z]+16384.5) - 16384
		zz[z] = v
		mask |= uint64((uint32(v)|uint32(-v))>>31) << z
	}
	dcv := int32(b[0]*recip[0]+16384.5) - 16384

	// The bit writer's state lives in registers for the block.
	acc, nbits, out := e.acc, e.nbits, e.out
	emit := func(code uint64, n uint) {
		acc = acc<<n | code
		nbits += n
		if nbits >= 32 {
			nbits -= 32
			out = appendStuffed(out, uint32(acc>>nbits))
		}
	}
	value := func(h *jpegHuffCodes, sym int, v int32) {
		a := v
		if a < 0 {
			a = -a
			v--
		}
		size := uint(bits.Len32(uint32(a)))
		hc := h.codes[sym|int(size)]
		emit(uint64(hc>>8)<<size|uint64(uint32(v)&(1<<size-1)), uint(hc&0xff)+size)
	}
	// DC: the difference to the previous block of the component.
	value(dc, 0, dcv-e.prevDC[c])
	e.prevDC[c] = dcv
	// AC: runs of zeros before each non-zero coefficient.
	last := 0
	for mask != 0 {
		k := bits.TrailingZeros64(mask)
		mask &= mask - 1
		run := k - last - 1
		for run >= 16 {
			hc := ac.codes[0xf0]
			emit(uint64(hc>>8), uint(hc&0xff))
			run -= 16
		}
		value(ac, run<<4, zz[k&63])
		last = k
	}
	if last != 63 {
		hc := ac.codes[0]
		emit(uint64(hc>>8), uint(hc&0xff))
	}
	e.acc, e.nbits, e.out = acc, nbits, out
}

// appendStuffed appends w's four bytes, with a 0 after every 0xFF.
func appendStuffed(out []byte, w uint32) []byte {
	// Any 0xFF byte in w? (A zero byte in ^w.)
	v := ^w
	if (v-0x01010101)&^v&0x80808080 == 0 {
		return binary.BigEndian.AppendUint32(out, w)
	}
	for s := 24; s >= 0; s -= 8 {
		c := byte(w >> s)
		out = append(out, c)
		if c == 0xff {
			out = append(out, 0)
		}
	}
	return out
}

// flushBits pads the last byte with 1 bits.
func (e *jpegEncoder) flushBits() {
	for e.nbits >= 8 {
		e.nbits -= 8
		c := byte(e.acc >> e.nbits)
		e.out = append(e.out, c)
		if c == 0xff {
			e.out = append(e.out, 0)
		}
	}
	if e.nbits > 0 {
		c := byte(e.acc<<(8-e.nbits)) | byte(1<<(8-e.nbits)-1)
		e.out = append(e.out, c)
		if c == 0xff {
			e.out = append(e.out, 0)
		}
	}
	e.acc, e.nbits = 0, 0
}

// jpegFDCT is the AAN forward DCT in floating point (as libjpeg's
// jfdctflt.c), in place; outputs are scaled by 8 × the AAN factors,
// which the quantisation divides out.
func jpegFDCT(d *[64]float32) {
	for i := 0; i < 64; i += 8 {
		p := (*[8]float32)(d[i : i+8])
		t0, t7 := p[0]+p[7], p[0]-p[7]
		t1, t6 := p[1]+p[6], p[1]-p[6]
		t2, t5 := p[2]+p[5], p[2]-p[5]
		t3, t4 := p[3]+p[4], p[3]-p[4]
		t10, t13 := t0+t3, t0-t3
		t11, t12 := t1+t2, t1-t2
		p[0] = t10 + t11
		p[4] = t10 - t11
		z1 := (t12 + t13) * 0.707106781
		p[2] = t13 + z1
		p[6] = t13 - z1
		t10, t11, t12 = t4+t5, t5+t6, t6+t7
		z5 := (t10 - t12) * 0.382683433
		z2 := 0.541196100*t10 + z5
		z4 := 1.306562965*t12 + z5
		z3 := t11 * 0.707106781
		z11, z13 := t7+z3, t7-z3
		p[5] = z13 + z2
		p[3] = z13 - z2
		p[1] = z11 + z4
		p[7] = z11 - z4
	}
	for i := range 8 {
		t0, t7 := d[i]+d[56+i], d[i]-d[56+i]
		t1, t6 := d[8+i]+d[48+i], d[8+i]-d[48+i]
		t2, t5 := d[16+i]+d[40+i], d[16+i]-d[40+i]
		t3, t4 := d[24+i]+d[32+i], d[24+i]-d[32+i]
		t10, t13 := t0+t3, t0-t3
		t11, t12 := t1+t2, t1-t2
		d[i] = t10 + t11
		d[32+i] = t10 - t11
		z1 := (t12 + t13) * 0.707106781
		d[16+i] = t13 + z1
		d[48+i] = t13 - z1
		t10, t11, t12 = t4+t5, t5+t6, t6+t7
		z5 := (t10 - t12) * 0.382683433
		z2 := 0.541196100*t10 + z5
		z4 := 1.306562965*t12 + z5
		z3 := t11 * 0.707106781
		z11, z13 := t7+z3, t7-z3
		d[40+i] = z13 + z2
		d[24+i] = z13 - z2
		d[8+i] = z11 + z4
		d[56+i] = z11 - z4
	}
}

var _ JPEGEncoder = FastJPEG{}
