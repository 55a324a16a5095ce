package rfb

import (
	"image"
	"io"
)

// A decoder reads the data of one FramebufferUpdate rectangle in one
// encoding and applies it to the client: pixels into the framebuffer,
// pseudo-encodings into the client's state. Each encoding lives in its own
// decode_*.go file. A client makes a decoder the first time it meets the
// encoding and keeps it for the connection's lifetime, so decoders may
// hold state across rectangles (zlib streams).
//
// Before decode is called the client has checked that the client asked
// for the encoding and, for data encodings, that u.Rect lies inside the
// framebuffer. The pixel format of the update is in c.cur; c.readPixels
// reads pixels in it.
type decoder interface {
	decode(c *Client, u *UpdateRect) error
}

// decoderFactories lists the encodings this client can decode.
var decoderFactories = map[Encoding]func() decoder{
	EncRaw:                 func() decoder { return rawDecoder{} },
	EncCopyRect:            func() decoder { return copyRectDecoder{} },
	EncCursor:              func() decoder { return cursorDecoder{} },
	EncCursorWithAlpha:     func() decoder { return alphaCursorDecoder{} },
	EncVMwareCursor:        func() decoder { return vmwareCursorDecoder{} },
	EncDesktopSize:         func() decoder { return desktopSizeDecoder{} },
	EncExtendedDesktopSize: func() decoder { return extendedDesktopSizeDecoder{} },
	EncDesktopName:         func() decoder { return desktopNameDecoder{} },
	EncQEMUExtendedKey:     func() decoder { return qemuExtendedKeyDecoder{} },
	EncHextile:             func() decoder { return hextileDecoder{} },
	EncZRLE:                func() decoder { return new(zrleDecoder) },
	EncTight:               func() decoder { return new(tightDecoder) }, EncTightPNG: func() decoder { return &tightDecoder{png: true} },
}

// beginUpdate takes the pixel format and encodings for the next update.
// The protocol forbids changing the format while a request is
// outstanding, so one snapshot serves the whole update.
func (c *Client) beginUpdate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur.rev != c.rev {
		c.cur.pf, c.cur.rev = c.pf, c.rev
		c.cur.bpp = c.pf.BytesPerPixel()
		c.cur.native = c.pf.IsNative()
	}
	c.cur.allowed = c.allowed
}

// decodeRect checks one rectangle and hands it to its decoder.
func (c *Client) decodeRect(u *UpdateRect) error {
	e := u.Encoding
	if e != EncRaw && !c.cur.allowed[e] {
		return protoErrorf("%v rectangle, which the client did not ask for", e)
	}
	if !e.IsPseudo() && !u.Rect.In(c.fb.Bounds()) {
		return protoErrorf("%v rectangle %v outside the %dx%d framebuffer", e, u.Rect, c.fb.W, c.fb.H)
	}
	d, ok := c.decoders[e]
	if !ok {
		f := decoderFactories[e]
		if f == nil {
			return protoErrorf("%v rectangle, which carries nothing the client can decode", e)
		}
		d = f()
		c.decoders[e] = d
	}
	return d.decode(c, u)
}

// readPixels reads the pixels of r, row by row in the update's pixel
// format, into dst, which r must lie inside. NativeFormat rows are read
// straight into dst.
func (c *Client) readPixels(dst *Image, r image.Rectangle) error {
	if r.Empty() {
		return nil
	}
	x0, x1 := r.Min.X*4, r.Max.X*4
	if c.cur.native {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			if _, err := io.ReadFull(c.r.r, dst.Pix[y*dst.Stride+x0:y*dst.Stride+x1]); err != nil {
				return noEOF(err)
			}
		}
		return nil
	}
	n := r.Dx() * c.cur.bpp
	for y := r.Min.Y; y < r.Max.Y; y++ {
		b, err := c.r.full(n)
		if err != nil {
			return err
		}
		c.cur.rev.putRow(dst.Pix[y*dst.Stride+x0:y*dst.Stride+x1], b)
	}
	return nil
}

// resize gives the client a new, black w×h framebuffer, unless that is
// already its size: servers repeat the size (ExtendedDesktopSize answers
// every full request) and the pixels stay valid then.
func (c *Client) resize(w, h int) error {
	if err := c.limits.checkSize(w, h); err != nil {
		return err
	}
	if w == c.fb.W && h == c.fb.H {
		return nil
	}
	fb := NewImage(w, h)
	c.mu.Lock()
	c.fb = fb
	c.mu.Unlock()
	return nil
}
