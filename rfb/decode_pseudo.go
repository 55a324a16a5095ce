package rfb

import (
	"image"
)

// Pseudo-encodings: rectangles that carry state rather than pixels. The
// server's side is in enc_pseudo.go. LastRect (-224) has no data and only
// ends an update; readFramebufferUpdate handles it.

// cursorDecoder reads Cursor (-239): x, y = hot spot, w, h = size; data =
// w×h pixels in the client's format, then a 1-bit mask of ((w+7)/8)×h
// bytes, most significant bit leftmost. A 0×0 cursor hides the pointer.
type cursorDecoder struct{}

func (cursorDecoder) decode(c *Client, u *UpdateRect) error {
	w, h := u.Rect.Dx(), u.Rect.Dy()
	if w > c.limits.MaxCursor || h > c.limits.MaxCursor {
		return protoErrorf("cursor of %dx%d exceeds limit %d", w, h, c.limits.MaxCursor)
	}
	// A new image each time: Cursor hands it out and never changes it.
	img := NewImage(w, h)
	if err := c.readPixels(img, img.Bounds()); err != nil {
		return err
	}
	b, err := c.r.full((w + 7) / 8 * h)
	if err != nil {
		return err
	}
	c.setCursor(img, append([]byte{}, b...), nil, u.Rect.Min)
	return nil
}

// setCursor records a new cursor. alpha (w×h opacities) is nil for a
// cursor with a 1-bit mask.
func (c *Client) setCursor(img *Image, mask, alpha []byte, hot image.Point) {
	k := clientCursor{img: img, mask: mask, alpha: alpha, hotspot: hot, ok: true}
	c.mu.Lock()
	c.cursor = k
	c.mu.Unlock()
}

// alphaCursorDecoder reads CursorWithAlpha (-314): x, y = hot spot, w, h =
// size; data = S32 encoding, then w×h pixels in that encoding, in the
// pixel format R, G, B, A (8 bits each, colours premultiplied). Servers
// send Raw (TigerVNC's does); other encodings are refused.
type alphaCursorDecoder struct{}

func (alphaCursorDecoder) decode(c *Client, u *UpdateRect) error {
	w, h := u.Rect.Dx(), u.Rect.Dy()
	if w > c.limits.MaxCursor || h > c.limits.MaxCursor {
		return protoErrorf("cursor of %dx%d exceeds limit %d", w, h, c.limits.MaxCursor)
	}
	e, err := c.r.u32()
	if err != nil {
		return err
	}
	if Encoding(e) != EncRaw {
		return protoErrorf("cursor with alpha in %v, which this client does not decode there", Encoding(e))
	}
	b, err := c.r.full(w * h * 4)
	if err != nil {
		return err
	}
	img, mask, alpha := cursorFromRGBA(b, w, h, true)
	c.setCursor(img, mask, alpha, u.Rect.Min)
	return nil
}

// vmwareCursorDecoder reads VMware's cursor (0x574D5664): x, y = hot
// spot, w, h = size; data = U8 type, U8 padding, then for type 0 an AND
// and an XOR mask of w×h pixels each in the client's format, for type 1
// w×h pixels R, G, B, A (not premultiplied).
type vmwareCursorDecoder struct{}

func (vmwareCursorDecoder) decode(c *Client, u *UpdateRect) error {
	w, h := u.Rect.Dx(), u.Rect.Dy()
	if w > c.limits.MaxCursor || h > c.limits.MaxCursor {
		return protoErrorf("cursor of %dx%d exceeds limit %d", w, h, c.limits.MaxCursor)
	}
	hd, err := c.r.full(2)
	if err != nil {
		return err
	}
	switch hd[0] {
	case 0:
		and, xor := NewImage(w, h), NewImage(w, h)
		if err := c.readPixels(and, and.Bounds()); err != nil {
			return err
		}
		if err := c.readPixels(xor, xor.Bounds()); err != nil {
			return err
		}
		// A pixel shows the XOR colour where the AND mask clears the
		// screen; where it keeps the screen, only a non-zero XOR
		// (inverting) shows, drawn as its colour.
		mask := make([]byte, (w+7)/8*h)
		for y := range h {
			for x := range w {
				i := y*and.Stride + x*4
				if and.Pix[i]|and.Pix[i+1]|and.Pix[i+2] == 0 || xor.Pix[i]|xor.Pix[i+1]|xor.Pix[i+2] != 0 {
					mask[y*((w+7)/8)+x/8] |= 0x80 >> (x % 8)
				}
			}
		}
		c.setCursor(xor, mask, nil, u.Rect.Min)
	case 1:
		b, err := c.r.full(w * h * 4)
		if err != nil {
			return err
		}
		img, mask, alpha := cursorFromRGBA(b, w, h, false)
		c.setCursor(img, mask, alpha, u.Rect.Min)
	default:
		return protoErrorf("VMware cursor of unknown type %d", hd[0])
	}
	return nil
}

// cursorFromRGBA converts R, G, B, A pixels into colours (not
// premultiplied), a 1-bit mask (alpha ≥ 128) and the opacities.
func cursorFromRGBA(b []byte, w, h int, premultiplied bool) (*Image, []byte, []byte) {
	img := NewImage(w, h)
	mask := make([]byte, (w+7)/8*h)
	alpha := make([]byte, w*h)
	for y := range h {
		for x := range w {
			p := b[(y*w+x)*4:][:4:4]
			r, g, bl, a := uint32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3])
			if premultiplied && a != 0 && a != 255 {
				r, g, bl = min(r*255/a, 255), min(g*255/a, 255), min(bl*255/a, 255)
			}
			i := y*img.Stride + x*4
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = byte(bl), byte(g), byte(r)
			alpha[y*w+x] = byte(a)
			if a >= 0x80 {
				mask[y*((w+7)/8)+x/8] |= 0x80 >> (x % 8)
			}
		}
	}
	return img, mask, alpha
}

// desktopSizeDecoder reads DesktopSize (-223): w, h = the new size; no
// data. The server sends the pixels afterwards.
type desktopSizeDecoder struct{}

func (desktopSizeDecoder) decode(c *Client, u *UpdateRect) error {
	u.Rect = image.Rect(0, 0, u.Rect.Dx(), u.Rect.Dy())
	return c.resize(u.Rect.Dx(), u.Rect.Dy())
}

// extendedDesktopSizeDecoder reads ExtendedDesktopSize (-308): x = reason,
// y = status, w, h = size; data = U8 number of screens, 3 padding bytes,
// and 16 bytes per screen (U32 id, U16 x, y, w, h, U32 flags). The size
// applies only when the status is 0 (a refused SetDesktopSize reports the
// size unchanged).
type extendedDesktopSizeDecoder struct{}

func (extendedDesktopSizeDecoder) decode(c *Client, u *UpdateRect) error {
	u.Reason = DesktopSizeReason(u.Rect.Min.X)
	u.Status = DesktopSizeStatus(u.Rect.Min.Y)
	u.Rect = image.Rect(0, 0, u.Rect.Dx(), u.Rect.Dy())
	b, err := c.r.full(4)
	if err != nil {
		return err
	}
	n := int(b[0]) // at most 255 × 16 bytes
	if b, err = c.r.full(16 * n); err != nil {
		return err
	}
	u.Screens = parseScreens(b, n)
	c.confirm(EncExtendedDesktopSize)
	if u.Status != DesktopSizeOK {
		return nil
	}
	return c.resize(u.Rect.Dx(), u.Rect.Dy())
}

// desktopNameDecoder reads DesktopName (-307): an empty rectangle, then
// U32 length and the name (UTF-8, or Latin-1 from older servers).
type desktopNameDecoder struct{}

func (desktopNameDecoder) decode(c *Client, u *UpdateRect) error {
	n, err := c.r.u32()
	if err != nil {
		return err
	}
	if int64(n) > int64(c.limits.MaxDesktopName) {
		return protoErrorf("desktop name of %d bytes exceeds limit %d", n, c.limits.MaxDesktopName)
	}
	b, err := c.r.full(int(n))
	if err != nil {
		return err
	}
	name := decodeText(b)
	c.mu.Lock()
	c.name = name
	c.mu.Unlock()
	return nil
}

// qemuExtendedKeyDecoder reads QEMU Extended Key Event (-258): an empty
// rectangle that allows QEMUExtendedKeyEvent messages.
type qemuExtendedKeyDecoder struct{}

func (qemuExtendedKeyDecoder) decode(c *Client, u *UpdateRect) error {
	c.confirm(EncQEMUExtendedKey)
	return nil
}

var (
	_ decoder = cursorDecoder{}
	_ decoder = alphaCursorDecoder{}
	_ decoder = vmwareCursorDecoder{}
	_ decoder = desktopSizeDecoder{}
	_ decoder = extendedDesktopSizeDecoder{}
	_ decoder = desktopNameDecoder{}
	_ decoder = qemuExtendedKeyDecoder{}
)
