package rfb

import (
	"bytes"
	"encoding/binary"
	"image"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zlib"
)

// ZRLE (encoding 16) sends each rectangle as
//
//	U32 length
//	length bytes of zlib data
//
// from one zlib stream that lives as long as the connection and is
// sync-flushed after every rectangle. Inflated, the data is the
// rectangle's 64x64 tiles, left to right, top to bottom, each:
//
//	U8 subencoding
//	  0        raw: w*h CPIXELs
//	  1        solid: one CPIXEL
//	  2..16    packed palette: n CPIXELs, then rows of 1, 2 or 4 bit
//	           indices (2, 3-4, 5-16 colours), MSB first, each row padded
//	           to a byte
//	  128      plain RLE: runs of CPIXEL + run length
//	  130..255 palette RLE: n-128 CPIXELs, then runs of U8 index, with
//	           the top bit set when a run length follows (else length 1)
//	run length: 1 + the sum of bytes up to and including the first that
//	is not 255; runs may continue onto the next row.
//
// A CPIXEL is a PIXEL, except in a true-colour 32-bit format of depth 24
// or less whose colour bits all lie in the three low (or else the three
// high) bytes of the value: then it is just those three bytes, in the
// format's byte order.

const (
	zrleTile         = 64
	zrleDefaultLevel = 1 // measured: see BenchmarkZRLELevel
)

// zrleEncoder sends ZRLE. Tiles are independent until deflate, so rows
// of tiles are encoded in parallel into plain ZRLE bytes while this
// goroutine feeds finished rows, in order, to the one zlib stream.
type zrleEncoder struct {
	zbuf   bytes.Buffer
	zw     *zlib.Writer
	rows   [][]byte
	tilers []*zrleTiler
}

// zrleLevel maps the client's CompressLevel (-1 when it sent none) to a
// zlib level. The level is fixed when the stream starts: the client's
// inflater cannot follow a fresh stream.
func zrleLevel(compress int) int {
	switch {
	case compress < 0:
		return zrleDefaultLevel
	case compress == 0:
		return 1
	default:
		return min(compress, 9)
	}
}

// zrleParallelPixels is the rectangle size from which tile rows are
// encoded on other goroutines.
const zrleParallelPixels = 256 * 64

func (e *zrleEncoder) encode(u *updateWriter, img *Image, r image.Rectangle) error {
	if r.Empty() {
		return nil // noVNC-style decoders may not read a length for no pixels
	}
	if e.zw == nil {
		zw, err := zlib.NewWriterLevel(&e.zbuf, zrleLevel(u.compress))
		if err != nil {
			return err
		}
		e.zw = zw
	}
	e.zbuf.Reset()
	cp := newCPixelLayout(u.conv.pf)
	nrows := (r.Dy() + zrleTile - 1) / zrleTile
	row := func(i int) image.Rectangle {
		y := r.Min.Y + i*zrleTile
		return image.Rect(r.Min.X, y, r.Max.X, min(y+zrleTile, r.Max.Y))
	}
	for len(e.rows) < nrows {
		e.rows = append(e.rows, nil)
	}
	workers := min(runtime.GOMAXPROCS(0), nrows)
	if r.Dx()*r.Dy() < zrleParallelPixels {
		workers = 1
	}
	for len(e.tilers) < workers {
		e.tilers = append(e.tilers, new(zrleTiler))
	}
	for _, t := range e.tilers[:workers] {
		t.conv, t.cp = u.conv, cp
	}
	if workers == 1 {
		t := e.tilers[0]
		for i := range nrows {
			e.rows[0] = t.appendRow(e.rows[0][:0], img, row(i))
			if _, err := e.zw.Write(e.rows[0]); err != nil {
				return err
			}
		}
	} else if err := e.encodeRows(img, nrows, workers, row); err != nil {
		return err
	}
	if err := e.zw.Flush(); err != nil {
		return err
	}
	u.rect(r, EncZRLE)
	u.buf = binary.BigEndian.AppendUint32(u.buf, uint32(e.zbuf.Len()))
	u.buf = append(u.buf, e.zbuf.Bytes()...)
	return nil
}

// encodeRows encodes rows of tiles on workers goroutines, this one
// included, and deflates them in order. This goroutine works on rows
// until the next row to deflate is ready, so deflate and tile encoding
// overlap without more goroutines than CPUs.
func (e *zrleEncoder) encodeRows(img *Image, nrows, workers int, row func(int) image.Rectangle) error {
	done := make([]chan struct{}, nrows)
	for i := range done {
		done[i] = make(chan struct{})
	}
	var next atomic.Int32
	work := func(t *zrleTiler) bool {
		i := int(next.Add(1)) - 1
		if i >= nrows {
			return false
		}
		e.rows[i] = t.appendRow(e.rows[i][:0], img, row(i))
		close(done[i])
		return true
	}
	var wg sync.WaitGroup
	for _, t := range e.tilers[1:workers] {
		wg.Go(func() {
			for work(t) {
			}
		})
	}
	defer wg.Wait()
	var err error
	for i := range nrows {
	wait:
		for {
			select {
			case <-done[i]:
				break wait
			default:
				if !work(e.tilers[0]) {
					<-done[i]
					break wait
				}
			}
		}
		if err == nil {
			_, err = e.zw.Write(e.rows[i])
		}
	}
	return err
}

// cpixelLayout says how a pixel value becomes a CPIXEL.
type cpixelLayout struct {
	size      int  // bytes per CPIXEL
	three     bool // 3-byte CPIXEL of a 32-bit value
	high      bool // the three high bytes rather than the three low
	bigEndian bool
}

func newCPixelLayout(pf PixelFormat) cpixelLayout {
	l := cpixelLayout{size: pf.BytesPerPixel(), bigEndian: pf.BigEndian}
	if !pf.TrueColour || pf.BPP != 32 || pf.Depth > 24 || pf.RedShift > 31 || pf.GreenShift > 31 || pf.BlueShift > 31 {
		return l
	}
	mask := uint64(pf.RedMax)<<pf.RedShift | uint64(pf.GreenMax)<<pf.GreenShift | uint64(pf.BlueMax)<<pf.BlueShift
	switch {
	case mask < 1<<24:
		l.size, l.three = 3, true
	case mask < 1<<32 && mask&0xff == 0:
		l.size, l.three, l.high = 3, true, true
	}
	return l
}

// zrleTiler encodes tiles; each worker has its own.
type zrleTiler struct {
	conv *converter
	cp   cpixelLayout
	px   [zrleTile * zrleTile]uint32
	pal  palette
}

func (t *zrleTiler) appendRow(dst []byte, img *Image, r image.Rectangle) []byte {
	for x := r.Min.X; x < r.Max.X; x += zrleTile {
		dst = t.appendTile(dst, img, image.Rect(x, r.Min.Y, min(x+zrleTile, r.Max.X), r.Max.Y))
	}
	return dst
}

// runBytes is the length of a run length of n pixels on the wire.
func runBytes(n int) int { return (n-1)/255 + 1 }

func (t *zrleTiler) appendTile(dst []byte, img *Image, tr image.Rectangle) []byte {
	c := t.conv
	w, h := tr.Dx(), tr.Dy()
	n := w * h
	px := t.px[:n]
	loadTileValues(c, px, img, tr)

	// One pass counts runs and colours, and sums what plain and palette
	// RLE would cost; the palette stops growing past 127 colours.
	cpb := t.cp.size
	t.pal.reset()
	plainRLE, palRLE := 0, 0
	palOK := true
	for i := 0; i < n; {
		v := px[i]
		j := i + 1
		for j < n && px[j] == v {
			j++
		}
		l := j - i
		rb := runBytes(l)
		plainRLE += cpb + rb
		palRLE++
		if l > 1 {
			palRLE += rb
		}
		if palOK && t.pal.index(v) < 0 {
			if t.pal.n == 127 {
				palOK = false
			} else {
				t.pal.add(v)
			}
		}
		i = j
	}
	if palOK && t.pal.n == 1 {
		return t.appendCPixel(append(dst, 1), px[0])
	}

	const (
		raw = iota
		plain
		packed
		palRun
	)
	best, bestSize := raw, n*cpb
	if plainRLE < bestSize {
		best, bestSize = plain, plainRLE
	}
	if palOK {
		np := t.pal.n
		if s := np*cpb + palRLE; s < bestSize {
			best, bestSize = palRun, s
		}
		if np <= 16 {
			if s := np*cpb + h*((w*paletteBits(np)+7)/8); s <= bestSize {
				best = packed
			}
		}
	}
	switch best {
	case raw:
		dst = append(dst, 0)
		if cpb == c.bpp {
			return c.appendRect(dst, img, tr)
		}
		dst = grow(dst, n*3)
		for _, v := range px {
			dst = t.appendCPixel(dst, v)
		}
	case plain:
		dst = append(dst, 128)
		for i := 0; i < n; {
			v := px[i]
			j := i + 1
			for j < n && px[j] == v {
				j++
			}
			dst = appendRunLength(t.appendCPixel(dst, v), j-i)
			i = j
		}
	case packed:
		np := t.pal.n
		dst = append(dst, byte(np))
		for _, v := range t.pal.colours[:np] {
			dst = t.appendCPixel(dst, v)
		}
		bits := paletteBits(np)
		last, lastIdx := px[0], t.pal.index(px[0])
		for y := range h {
			var acc byte
			nb := 0
			for _, v := range px[y*w : y*w+w] {
				if v != last {
					last, lastIdx = v, t.pal.index(v)
				}
				acc = acc<<bits | byte(lastIdx)
				nb += bits
				if nb == 8 {
					dst = append(dst, acc)
					acc, nb = 0, 0
				}
			}
			if nb > 0 {
				dst = append(dst, acc<<(8-nb))
			}
		}
	case palRun:
		np := t.pal.n
		dst = append(dst, byte(128+np))
		for _, v := range t.pal.colours[:np] {
			dst = t.appendCPixel(dst, v)
		}
		for i := 0; i < n; {
			v := px[i]
			j := i + 1
			for j < n && px[j] == v {
				j++
			}
			idx := byte(t.pal.index(v))
			if j-i == 1 {
				dst = append(dst, idx)
			} else {
				dst = appendRunLength(append(dst, idx|0x80), j-i)
			}
			i = j
		}
	}
	return dst
}

func paletteBits(n int) int {
	switch {
	case n <= 2:
		return 1
	case n <= 4:
		return 2
	default:
		return 4
	}
}

func appendRunLength(dst []byte, n int) []byte {
	n--
	for n >= 255 {
		dst = append(dst, 255)
		n -= 255
	}
	return append(dst, byte(n))
}

func (t *zrleTiler) appendCPixel(dst []byte, v uint32) []byte {
	l := &t.cp
	if !l.three {
		return t.conv.appendPixel(dst, v)
	}
	if l.high {
		v >>= 8
	}
	if l.bigEndian {
		return append(dst, byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, byte(v), byte(v>>8), byte(v>>16))
}

// palette maps up to 127 colours to their indices with a small
// open-addressing table; a generation stamp saves clearing it.
type palette struct {
	n       int
	colours [127]uint32
	gen     uint32
	stamp   [256]uint32
	key     [256]uint32
	idx     [256]uint8
}

func (p *palette) reset() {
	p.n = 0
	p.gen++
	if p.gen == 0 {
		p.stamp = [256]uint32{}
		p.gen = 1
	}
}

func paletteSlot(v uint32) uint32 { return (v * 0x9e3779b1) >> 24 }

// index returns v's index, or -1.
func (p *palette) index(v uint32) int {
	for i := paletteSlot(v); ; i = (i + 1) & 255 {
		if p.stamp[i] != p.gen {
			return -1
		}
		if p.key[i] == v {
			return int(p.idx[i])
		}
	}
}

// add appends v, which must not be in p, while p.n < 127.
func (p *palette) add(v uint32) {
	i := paletteSlot(v)
	for p.stamp[i] == p.gen {
		i = (i + 1) & 255
	}
	p.stamp[i], p.key[i], p.idx[i] = p.gen, v, uint8(p.n)
	p.colours[p.n] = v
	p.n++
}

var _ encoder = (*zrleEncoder)(nil)
