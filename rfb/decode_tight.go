package rfb

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/klauspost/compress/flate"
)

// tightDecoder reads Tight (7) and TightPNG (-260) rectangles; the wire
// format is described in enc_tight.go. It keeps the four zlib streams for
// the connection's lifetime, resetting them when the control byte says.
//
// Limits: compact lengths are at most 2^22-1 by construction, inflated
// sizes follow from the rectangle (which the client has checked against
// the framebuffer), JPEG and PNG images must have the rectangle's size
// before they are decoded, and unread zlib input carried between
// rectangles is bounded.
type tightDecoder struct {
	png     bool
	streams [4]tightInflater
	buf     []byte
	row, up []uint32
}

// tightMaxCarry bounds zlib input left unread after a rectangle. A server
// sync-flushes each rectangle, so only the few bytes of the flush marker
// should remain.
const tightMaxCarry = 1 << 16

// tightInflater is one persistent zlib stream. The compressed bytes of
// each rectangle are appended to pending; the flate reader reads pending
// through src, and bytes it has not consumed carry over.
type tightInflater struct {
	pending []byte
	src     bytes.Reader
	fr      io.ReadCloser
	err     error
}

func (s *tightInflater) reset() {
	s.pending = s.pending[:0]
	s.src.Reset(nil)
	s.err = nil
	if s.fr != nil {
		s.fr.Close()
		s.fr = nil
	}
}

// inflate feeds chunk to the stream and reads exactly len(dst) bytes.
func (s *tightInflater) inflate(dst, chunk []byte) error {
	if s.err != nil {
		return s.err
	}
	left := s.src.Len()
	if left > tightMaxCarry {
		s.err = protoErrorf("Tight: %d bytes of zlib data left unread", left)
		return s.err
	}
	copy(s.pending, s.pending[len(s.pending)-left:])
	s.pending = append(s.pending[:left], chunk...)
	s.src.Reset(s.pending)
	if s.fr == nil {
		cmf, err1 := s.src.ReadByte()
		flg, err2 := s.src.ReadByte()
		if err1 != nil || err2 != nil || cmf&0x0f != 8 || cmf>>4 > 7 || (uint16(cmf)<<8|uint16(flg))%31 != 0 || flg&0x20 != 0 {
			s.err = protoErrorf("Tight: bad zlib stream header")
			return s.err
		}
		s.fr = flate.NewReader(&s.src)
	}
	if _, err := io.ReadFull(s.fr, dst); err != nil {
		s.err = protoErrorf("Tight: zlib: %v", err)
		return s.err
	}
	return nil
}

func (d *tightDecoder) decode(c *Client, u *UpdateRect) error {
	ctl, err := c.r.u8()
	if err != nil {
		return err
	}
	for i := range 4 {
		if ctl&(1<<i) != 0 {
			d.streams[i].reset()
		}
	}
	r := u.Rect
	switch ctl >> 4 {
	case 0x8:
		rgb, err := d.readTPixel(c)
		if err != nil {
			return err
		}
		c.fb.Fill(r, rgb)
		return nil
	case 0x9:
		if c.cur.bpp == 1 {
			return protoErrorf("Tight: JPEG at 8 bits per pixel")
		}
		return d.readImage(c, r, false)
	case 0xA:
		if !d.png {
			return protoErrorf("Tight: PNG in a Tight (not TightPNG) rectangle")
		}
		return d.readImage(c, r, true)
	}
	if ctl&0x80 != 0 {
		return protoErrorf("Tight: unknown compression control 0x%02x", ctl)
	}
	return d.readBasic(c, r, int(ctl>>4)&3, ctl&tightCtlFilter != 0)
}

// tpixel3 reports whether TPIXELs are 3 bytes in the update's format.
func isTPixel3(pf *PixelFormat) bool {
	return pf.TrueColour && pf.BPP == 32 && pf.Depth == 24 &&
		pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255
}

// readTPixel reads one TPIXEL as 0x00RRGGBB.
func (d *tightDecoder) readTPixel(c *Client) (uint32, error) {
	if isTPixel3(&c.cur.pf) {
		b, err := c.r.full(3)
		if err != nil {
			return 0, err
		}
		return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]), nil
	}
	b, err := c.r.full(c.cur.bpp)
	if err != nil {
		return 0, err
	}
	return c.cur.rev.rgb(c.cur.rev.value(b)), nil
}

func readCompactLength(c *Client) (int, error) {
	n := 0
	for i := range 3 {
		b, err := c.r.u8()
		if err != nil {
			return 0, err
		}
		if i == 2 {
			return n | int(b)<<14, nil
		}
		n |= int(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			break
		}
	}
	return n, nil
}

// readImage reads a JPEG or PNG rectangle.
func (d *tightDecoder) readImage(c *Client, r image.Rectangle, isPNG bool) error {
	n, err := readCompactLength(c)
	if err != nil {
		return err
	}
	data, err := c.r.full(n)
	if err != nil {
		return err
	}
	var cfg image.Config
	if isPNG {
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	} else {
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	}
	if err != nil {
		return protoErrorf("Tight: image header: %v", err)
	}
	if cfg.Width != r.Dx() || cfg.Height != r.Dy() {
		return protoErrorf("Tight: %dx%d image in a %dx%d rectangle", cfg.Width, cfg.Height, r.Dx(), r.Dy())
	}
	var m image.Image
	if isPNG {
		m, err = png.Decode(bytes.NewReader(data))
	} else {
		m, err = jpeg.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return protoErrorf("Tight: image: %v", err)
	}
	if m.Bounds().Size() != r.Size() {
		return protoErrorf("Tight: %v image in a %v rectangle", m.Bounds().Size(), r.Size())
	}
	if ycc, ok := m.(*image.YCbCr); ok {
		drawYCbCr(c.fb, r.Min, ycc)
		return nil
	}
	c.fb.DrawImage(r.Min, m, m.Bounds())
	return nil
}

// drawYCbCr converts m into dst at p, without per-pixel interfaces.
func drawYCbCr(dst *Image, p image.Point, m *image.YCbCr) {
	b := m.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		out := dst.Pix[(p.Y+y-b.Min.Y)*dst.Stride+p.X*4:][: b.Dx()*4 : b.Dx()*4]
		for x := b.Min.X; x < b.Max.X; x++ {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			rr, gg, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			o := (x - b.Min.X) * 4
			out[o], out[o+1], out[o+2], out[o+3] = bb, gg, rr, 0
		}
	}
}

// readBasic reads a BasicCompression rectangle.
func (d *tightDecoder) readBasic(c *Client, r image.Rectangle, stream int, explicit bool) error {
	filter := byte(0)
	if explicit {
		f, err := c.r.u8()
		if err != nil {
			return err
		}
		filter = f
	}
	w, h := r.Dx(), r.Dy()
	pf := &c.cur.pf
	tp3 := isTPixel3(pf)
	tpBytes := c.cur.bpp
	if tp3 {
		tpBytes = 3
	}
	var palette [256]uint32
	npal := 0
	size := w * h * tpBytes
	switch filter {
	case tightFilterPal:
		b, err := c.r.u8()
		if err != nil {
			return err
		}
		npal = int(b) + 1
		for i := range npal {
			if palette[i], err = d.readTPixel(c); err != nil {
				return err
			}
		}
		if npal == 2 {
			size = (w + 7) / 8 * h
		} else {
			size = w * h
		}
	case tightFilterGrad:
		if c.cur.bpp == 1 {
			return protoErrorf("Tight: gradient filter at 8 bits per pixel")
		}
	case 0:
	default:
		return protoErrorf("Tight: unknown filter %d", filter)
	}
	if size == 0 {
		return nil
	}
	if cap(d.buf) < size {
		d.buf = make([]byte, size)
	}
	data := d.buf[:size]
	if size < tightMinToZlib {
		b, err := c.r.full(size)
		if err != nil {
			return err
		}
		copy(data, b)
	} else {
		n, err := readCompactLength(c)
		if err != nil {
			return err
		}
		chunk, err := c.r.full(n)
		if err != nil {
			return err
		}
		if err := d.streams[stream].inflate(data, chunk); err != nil {
			return err
		}
	}
	fb := c.fb
	switch filter {
	case tightFilterPal:
		return d.putPalette(fb, r, data, palette[:npal])
	case tightFilterGrad:
		d.putGradient(c, r, data, tp3)
		return nil
	}
	rowIn := w * tpBytes
	for y := range h {
		src := data[y*rowIn : (y+1)*rowIn]
		dst := fb.Pix[(r.Min.Y+y)*fb.Stride+r.Min.X*4:][: w*4 : w*4]
		if tp3 {
			for x := range w {
				dst[x*4], dst[x*4+1], dst[x*4+2], dst[x*4+3] = src[x*3+2], src[x*3+1], src[x*3], 0
			}
		} else {
			c.cur.rev.putRow(dst, src)
		}
	}
	return nil
}

func (d *tightDecoder) putPalette(fb *Image, r image.Rectangle, data []byte, pal []uint32) error {
	w, h := r.Dx(), r.Dy()
	for y := range h {
		dst := fb.Pix[(r.Min.Y+y)*fb.Stride+r.Min.X*4:][: w*4 : w*4]
		for x := range w {
			var k int
			if len(pal) == 2 {
				k = int(data[y*((w+7)/8)+x/8]>>(7-uint(x%8))) & 1
			} else {
				k = int(data[y*w+x])
			}
			if k >= len(pal) {
				return protoErrorf("Tight: palette index %d of %d colours", k, len(pal))
			}
			binary.LittleEndian.PutUint32(dst[x*4:], pal[k])
		}
	}
	return nil
}

// putGradient undoes the gradient filter.
func (d *tightDecoder) putGradient(c *Client, r image.Rectangle, data []byte, tp3 bool) {
	w, h := r.Dx(), r.Dy()
	fb := c.fb
	if tp3 {
		for y := range h {
			dst := fb.Pix[(r.Min.Y+y)*fb.Stride+r.Min.X*4:][: w*4 : w*4]
			var up []byte
			if y > 0 {
				up = fb.Pix[(r.Min.Y+y-1)*fb.Stride+r.Min.X*4:][: w*4 : w*4]
			}
			src := data[y*w*3 : (y+1)*w*3]
			for ch := range 3 {
				nc := 2 - ch
				var a, dd int
				for x := range w {
					b := 0
					if up != nil {
						b = int(up[x*4+nc])
					}
					pred := min(max(a+b-dd, 0), 255)
					v := byte(int(src[x*3+ch]) + pred)
					dst[x*4+nc] = v
					a, dd = int(v), b
				}
			}
			for x := range w {
				dst[x*4+3] = 0
			}
		}
		return
	}
	pf := &c.cur.pf
	rev := c.cur.rev
	bpp := c.cur.bpp
	if cap(d.row) < w {
		d.row, d.up = make([]uint32, w), make([]uint32, w)
	}
	row, up := d.row[:w], d.up[:w]
	clear(up)
	maxes := [3]int{int(pf.RedMax), int(pf.GreenMax), int(pf.BlueMax)}
	shifts := [3]uint8{pf.RedShift, pf.GreenShift, pf.BlueShift}
	for y := range h {
		src := data[y*w*bpp : (y+1)*w*bpp]
		dst := fb.Pix[(r.Min.Y+y)*fb.Stride+r.Min.X*4:][: w*4 : w*4]
		var left, upLeft uint32
		for x := range w {
			res := rev.value(src[x*bpp:])
			var v uint32
			for ch := range 3 {
				m, sh := maxes[ch], shifts[ch]
				a, b, dd := int(left>>sh)&m, int(up[x]>>sh)&m, int(upLeft>>sh)&m
				pred := min(max(a+b-dd, 0), m)
				v |= uint32((int(res>>sh)&m+pred)&m) << sh
			}
			row[x] = v
			binary.LittleEndian.PutUint32(dst[x*4:], rev.rgb(v))
			left, upLeft = v, up[x]
		}
		row, up = up, row
	}
	d.row, d.up = row[:cap(row)], up[:cap(up)]
}

var _ decoder = (*tightDecoder)(nil)
