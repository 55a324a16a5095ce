package rfb

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
)

// zrleDecoder reads ZRLE rectangles (encoding 16); enc_zrle.go has the
// layout. The zlib stream spans the connection: each rectangle's
// compressed bytes are appended to in, and the inflater reads on from
// where the last rectangle left it. The inflater only ever reads what a
// tile needs, and a sync-flushed rectangle holds all its own data, so
// it never runs past the bytes received and never sees a premature end.
type zrleDecoder struct {
	in  zrleInput
	zr  io.ReadCloser
	br  *bufio.Reader // inflated bytes
	tmp []byte
	pal [127]uint32
	px  [zrleTile * zrleTile]uint32
}

// zrleInput is the compressed bytes received and not yet inflated.
type zrleInput struct {
	buf []byte
	off int
}

func (in *zrleInput) Read(p []byte) (int, error) {
	if in.off == len(in.buf) {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, in.buf[in.off:])
	in.off += n
	return n, nil
}

func (in *zrleInput) ReadByte() (byte, error) {
	if in.off == len(in.buf) {
		return 0, io.ErrUnexpectedEOF
	}
	b := in.buf[in.off]
	in.off++
	return b, nil
}

// zrleMaxLeftover bounds compressed bytes a rectangle may leave unread;
// a sync flush leaves a handful.
const zrleMaxLeftover = 64 << 10

// zrleMaxData bounds the length field for a w×h rectangle of cpb-byte
// CPIXELs: the largest honest tile stream (a full palette, then two
// bytes a pixel, or a CPIXEL and a byte a pixel) stored without
// compression, plus deflate's per-block overhead and slack.
func zrleMaxData(w, h, cpb int) int {
	tiles := ((w + zrleTile - 1) / zrleTile) * ((h + zrleTile - 1) / zrleTile)
	plain := tiles*(1+127*cpb) + w*h*(cpb+1)
	return plain + plain/1024*8 + 4096
}

var errZRLETile = errors.New("bad ZRLE tile")

func (d *zrleDecoder) decode(c *Client, u *UpdateRect) error {
	n, err := c.r.u32()
	if err != nil {
		return err
	}
	r := u.Rect
	cp := newCPixelLayout(c.cur.pf)
	if int64(n) > int64(zrleMaxData(r.Dx(), r.Dy(), cp.size)) {
		return protoErrorf("ZRLE data of %d bytes for a %dx%d rectangle", n, r.Dx(), r.Dy())
	}
	in := &d.in
	left := len(in.buf) - in.off
	if left > zrleMaxLeftover {
		return protoErrorf("ZRLE rectangle left %d compressed bytes unread", left)
	}
	if in.off > 0 {
		copy(in.buf, in.buf[in.off:])
		in.buf, in.off = in.buf[:left], 0
	}
	in.buf = grow(in.buf, int(n))
	in.buf = in.buf[:left+int(n)]
	if _, err := io.ReadFull(c.r.r, in.buf[left:]); err != nil {
		return noEOF(err)
	}
	if r.Empty() {
		return nil
	}
	if d.zr == nil {
		if d.zr, err = zlib.NewReader(in); err != nil {
			d.zr = nil
			return protoErrorf("ZRLE zlib stream: %v", err)
		}
		d.br = bufio.NewReaderSize(d.zr, 16<<10)
	}
	rev := c.cur.rev
	native := c.cur.pf.IsNative() && !c.cur.pf.BigEndian
	for ty := r.Min.Y; ty < r.Max.Y; ty += zrleTile {
		for tx := r.Min.X; tx < r.Max.X; tx += zrleTile {
			w, h := min(zrleTile, r.Max.X-tx), min(zrleTile, r.Max.Y-ty)
			if err := d.tile(w, h, cp, rev, native); err != nil {
				if err == errZRLETile {
					return protoErrorf("ZRLE tile at (%d,%d): bad subencoding or palette index", tx, ty)
				}
				return protoErrorf("ZRLE data: %v", noEOF(err))
			}
			px := d.px[:w*h]
			for y := range h {
				row := c.fb.Pix[(ty+y)*c.fb.Stride+tx*4:][: w*4 : w*4]
				for x, v := range px[y*w : y*w+w] {
					binary.LittleEndian.PutUint32(row[x*4:], v)
				}
			}
		}
	}
	// Inflated bytes past the tiles are padding; drop them.
	_, err = d.br.Discard(d.br.Buffered())
	return err
}

// tile reads one w×h tile into d.px as 0x00RRGGBB values.
func (d *zrleDecoder) tile(w, h int, cp cpixelLayout, rev *reverter, native bool) error {
	br := d.br
	px := d.px[:w*h]
	sub, err := br.ReadByte()
	if err != nil {
		return err
	}
	switch {
	case sub == 0:
		b, err := d.read(len(px) * cp.size)
		if err != nil {
			return err
		}
		for i := range px {
			px[i] = cpixelNative(b[i*cp.size:], cp, rev, native)
		}
	case sub == 1:
		b, err := d.read(cp.size)
		if err != nil {
			return err
		}
		v := cpixelNative(b, cp, rev, native)
		for i := range px {
			px[i] = v
		}
	case sub <= 16:
		np := int(sub)
		pal, err := d.palette(np, cp, rev, native)
		if err != nil {
			return err
		}
		bits := paletteBits(np)
		rowBytes := (w*bits + 7) / 8
		b, err := d.read(h * rowBytes)
		if err != nil {
			return err
		}
		m := byte(1)<<bits - 1
		for y := range h {
			row := b[y*rowBytes:]
			out := px[y*w : y*w+w]
			for x := range out {
				bit := x * bits
				i := int(row[bit/8]>>(8-bits-bit%8)) & int(m)
				if i >= np {
					return errZRLETile
				}
				out[x] = pal[i]
			}
		}
	case sub == 128:
		for i := 0; i < len(px); {
			b, err := d.read(cp.size)
			if err != nil {
				return err
			}
			v := cpixelNative(b, cp, rev, native)
			l, err := d.runLength(len(px) - i)
			if err != nil {
				return err
			}
			fillWords(px[i:i+l], v)
			i += l
		}
	case sub >= 130:
		np := int(sub) - 128
		pal, err := d.palette(np, cp, rev, native)
		if err != nil {
			return err
		}
		for i := 0; i < len(px); {
			idx, err := br.ReadByte()
			if err != nil {
				return err
			}
			if int(idx&0x7f) >= np {
				return errZRLETile
			}
			v := pal[idx&0x7f]
			if idx&0x80 == 0 {
				px[i] = v
				i++
				continue
			}
			l, err := d.runLength(len(px) - i)
			if err != nil {
				return err
			}
			fillWords(px[i:i+l], v)
			i += l
		}
	default:
		return errZRLETile
	}
	return nil
}

// read returns the next n inflated bytes, valid until the next read.
func (d *zrleDecoder) read(n int) ([]byte, error) {
	if b, err := d.br.Peek(n); err == nil {
		d.br.Discard(n)
		return b, nil
	}
	if cap(d.tmp) < n {
		d.tmp = make([]byte, n)
	}
	b := d.tmp[:n]
	_, err := io.ReadFull(d.br, b)
	return b, err
}

func (d *zrleDecoder) palette(n int, cp cpixelLayout, rev *reverter, native bool) ([]uint32, error) {
	b, err := d.read(n * cp.size)
	if err != nil {
		return nil, err
	}
	pal := d.pal[:n]
	for i := range pal {
		pal[i] = cpixelNative(b[i*cp.size:], cp, rev, native)
	}
	return pal, nil
}

// runLength reads a run length of at most max pixels.
func (d *zrleDecoder) runLength(max int) (int, error) {
	l := 1
	for {
		b, err := d.br.ReadByte()
		if err != nil {
			return 0, err
		}
		l += int(b)
		if l > max {
			return 0, errZRLETile
		}
		if b != 255 {
			return l, nil
		}
	}
}

// cpixelNative converts the CPIXEL at p to 0x00RRGGBB.
func cpixelNative(p []byte, cp cpixelLayout, rev *reverter, native bool) uint32 {
	if !cp.three {
		return rev.nativeOf(p)
	}
	var v uint32
	if cp.bigEndian {
		v = uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
	} else {
		v = uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
	}
	if native {
		return v
	}
	if cp.high {
		v <<= 8
	}
	return rev.rgb(v)
}

func fillWords(s []uint32, v uint32) {
	for i := range s {
		s[i] = v
	}
}

var _ decoder = (*zrleDecoder)(nil)
