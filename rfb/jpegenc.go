package rfb

import (
	"encoding/binary"
	"image"
	"math/bits"
	"slices"
	"sync"
)

// FastJPEG is this package's own baseline JPEG encoder, without cgo, and
// the default JPEGEncoder. Unlike image/jpeg it makes every chroma
// subsampling Tight's quality levels ask for: 4:4:4, 4:2:2, 4:2:0 and
// greyscale. It reads the B, G, R, X pixels of an Image directly and works
// one MCU at a time, with a floating-point colour conversion and AAN DCT
// (as libjpeg's jfdctflt) whose scale factors are folded into the
// quantisation; these kernels are AVX2 or SSE2 assembly on amd64 (AVX2
// where the CPU has it) and Go elsewhere (or with the purego build tag),
// bit-identical (jpegenc_kernels.go). Then
// the standard Huffman tables of the JPEG specification's Annex K, zero
// runs found from a bit mask of non-zero coefficients, a symbol's code and
// length in one look-up, and a bit writer that writes 64 bits at a time
// (writeBlock). Quality q scales the Annex K quantisation tables as libjpeg's
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
	e.k = &jpegFast
	return e.encode(dst, img, r, quality, sub), nil
}

var errJPEGEmpty = protoErrorf("JPEG of an empty rectangle")

var jpegPool = sync.Pool{New: func() any { return new(jpegEncoder) }}

// jpegEncoder is the state of one encoding: quantisation factors, the
// blocks of one MCU and the bit writer.
type jpegEncoder struct {
	k       *jpegKernels
	recip   [2][64]float32    // 1/(quantiser × AAN scale × 8), natural order
	recipT  [2][64]float32    // recip transposed, for the kernels that want it
	qt      [2][64]uint8      // quantisers, zig-zag order, for DQT
	blk     [6][64]float32    // an MCU: up to 4 Y blocks, Cb, Cr
	coef    [6][64]int16      // the MCU's quantised blocks, in the kernels' order
	nz      [6]uint64         // their non-zero coefficients, in zig-zag order
	edge    [16 * 16 * 4]byte // an MCU past r's edge, its last column and row repeated
	prevDC  [3]int32
	out     []byte
	acc     uint64 // pending bits, the last 64-free of acc
	free    int
	hsample int // luma blocks across (1 or 2) and down (1 or 2) per MCU
	vsample int
	grey    bool
}

func (e *jpegEncoder) encode(dst []byte, img *Image, r image.Rectangle, quality int, sub Subsampling) []byte {
	e.setup(quality, sub)
	e.out = dst
	e.header(r.Dx(), r.Dy())
	e.acc, e.free = 0, 64
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
			e.recip[t][n] = 1 / (float32(q) * jpegAANScale[n/8] * jpegAANScale[n%8] * 8)
			e.recipT[t][n%8*8+n/8] = e.recip[t][n]
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

// loadMCU converts the MCU at (x, y) into level-shifted blocks, repeating
// the last column and row of r past its edges.
func (e *jpegEncoder) loadMCU(img *Image, r image.Rectangle, x0, y0 int) {
	mw, mh := 8*e.hsample, 8*e.vsample
	p, stride := img.Pix, img.Stride
	if x0+mw <= r.Max.X && y0+mh <= r.Max.Y {
		p = p[y0*stride+x0*4 : (y0+mh-1)*stride+(x0+mw)*4]
	} else {
		// Copy the MCU with its edge repeated, then convert the copy.
		for j := range mh {
			row := img.Pix[min(y0+j, r.Max.Y-1)*stride:]
			for i := range mw {
				x := min(x0+i, r.Max.X-1)
				copy(e.edge[j*64+i*4:j*64+i*4+4], row[x*4:x*4+4])
			}
		}
		p, stride = e.edge[:], 64
	}
	k := e.k
	switch {
	case e.grey:
		k.luma(p, stride, &e.blk[0])
	case e.hsample == 1:
		k.ycc(p, stride, &e.blk[0], &e.blk[4], &e.blk[5])
	default:
		for by := range e.vsample {
			k.luma(p[by*8*stride:], stride, &e.blk[by*2])
			k.luma(p[by*8*stride+32:], stride, &e.blk[by*2+1])
		}
		if e.vsample == 2 {
			k.chroma(p, 2*stride, stride, &e.blk[4], &e.blk[5])
		} else {
			k.chroma(p, stride, 0, &e.blk[4], &e.blk[5])
		}
	}
}

// writeMCU transforms, quantises and Huffman-codes the MCU's blocks. It
// transforms them all first: their DCTs are independent, so the CPU
// overlaps them, where one DCT between two blocks' coding would wait on
// its own latency.
func (e *jpegEncoder) writeMCU() {
	n := e.hsample * e.vsample
	for i := range n {
		e.transform(i, 0)
	}
	if !e.grey {
		e.transform(4, 1)
		e.transform(5, 1)
	}
	for i := range n {
		e.writeBlock(i, 0, &jpegHuff[0], &jpegHuff[1])
	}
	if e.grey {
		return
	}
	e.writeBlock(4, 1, &jpegHuff[2], &jpegHuff[3])
	e.writeBlock(5, 2, &jpegHuff[2], &jpegHuff[3])
}

// transform makes coef[i] and nz[i] of block i with quantisation table
// t (0 luma, 1 chroma).
func (e *jpegEncoder) transform(i, t int) {
	recip, order := &e.recip[t], &jpegOrders[0]
	if e.k.transposed {
		recip, order = &e.recipT[t], &jpegOrders[1]
	}
	// Bit z set: zig-zag coefficient z (1..63) is not zero.
	e.nz[i] = order.zigzagMask(e.k.fdct(&e.blk[i], recip, &e.coef[i])) &^ 1
}

// jpegBlockMax bounds the bytes one block adds to out: its codes with
// their value bits take at most 64×27 bits (at most 27 a coefficient; a
// zero run of 16, 11 bits, stands for 16), 64 bits are pending before,
// and every byte may be stuffed.
const jpegBlockMax = 2 * (64*27/8 + 8 + 8)

// writeBlock codes block i, transformed, of component c (0 luma, 1 Cb,
// 2 Cr).
//
// The bit writer fills a 64-bit word from the right and writes it whole,
// with one test for 0xFF bytes, when the next code does not fit; free is
// the room left in it. Bits of a code that were written already stay
// above the pending ones until they shift out.
func (e *jpegEncoder) writeBlock(i, c int, dc, ac *jpegHuffCodes) {
	order := &jpegOrders[0]
	if e.k.transposed {
		order = &jpegOrders[1]
	}
	coef, mask := &e.coef[i], e.nz[i]
	dcv := int32(coef[0])

	// The bit writer's state lives in registers for the block, and out
	// has room for the block: writes need no append.
	acc, free := e.acc, e.free
	out := slices.Grow(e.out, jpegBlockMax)
	n := len(out)
	out = out[:cap(out)]
	put := func(code uint64, size int) {
		free -= size
		if free >= 0 {
			acc = acc<<(size&63) | code
			return
		}
		n = putStuffed(out, n, acc<<((size+free)&63)|code>>(-free&63))
		free += 64
		acc = code
	}
	// DC: the difference to the previous block of the component.
	v := dcv - e.prevDC[c]
	e.prevDC[c] = dcv
	s := v >> 31 // -1 when v < 0: its bits are then v-1's
	size := bits.Len32(uint32((v ^ s) - s))
	hc := dc.codes[size&15]
	put(uint64(hc>>5)|uint64(uint32(v+s))&(1<<size-1), int(hc&31))
	// AC: runs of zeros before each non-zero coefficient.
	last := 0
	for mask != 0 {
		k := bits.TrailingZeros64(mask)
		mask &= mask - 1
		run := k - last - 1
		last = k
		if run >= 16 {
			z := ac.zrl[run>>4&3]
			put(z>>8, int(z&0xff))
			run &= 15
		}
		v := int32(coef[order.zig[k&63]&63])
		s := v >> 31
		size := bits.Len32(uint32((v ^ s) - s))
		hc := ac.codes[uint8(run<<4|size)]
		put(uint64(hc>>5)|uint64(uint32(v+s))&(1<<size-1), int(hc&31))
	}
	if last != 63 {
		hc := ac.codes[0]
		put(uint64(hc>>5), int(hc&31))
	}
	e.acc, e.free, e.out = acc, free, out[:n]
}

// putStuffed writes w's eight bytes to out at n, with a 0 after every
// 0xFF, and returns the new n.
func putStuffed(out []byte, n int, w uint64) int {
	// Any 0xFF byte in w? (A zero byte in ^w.)
	v := ^w
	if (v-0x0101010101010101)&^v&0x8080808080808080 == 0 {
		binary.BigEndian.PutUint64(out[n:], w)
		return n + 8
	}
	return putStuffedSlow(out, n, w)
}

// putStuffedSlow is putStuffed byte by byte.
func putStuffedSlow(out []byte, n int, w uint64) int {
	for s := 56; s >= 0; s -= 8 {
		c := byte(w >> s)
		out[n] = c
		n++
		if c == 0xff {
			out[n] = 0
			n++
		}
	}
	return n
}

// flushBits writes the pending bits and pads the last byte with 1 bits.
func (e *jpegEncoder) flushBits() {
	nbits := 64 - e.free
	for nbits >= 8 {
		nbits -= 8
		c := byte(e.acc >> nbits)
		e.out = append(e.out, c)
		if c == 0xff {
			e.out = append(e.out, 0)
		}
	}
	if nbits > 0 {
		c := byte(e.acc<<(8-nbits)) | byte(1<<(8-nbits)-1)
		e.out = append(e.out, c)
		if c == 0xff {
			e.out = append(e.out, 0)
		}
	}
	e.acc, e.free = 0, 64
}

var _ JPEGEncoder = FastJPEG{}
