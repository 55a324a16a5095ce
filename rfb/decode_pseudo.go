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
	k := clientCursor{img: img, mask: append([]byte{}, b...), hotspot: u.Rect.Min, ok: true}
	c.mu.Lock()
	c.cursor = k
	c.mu.Unlock()
	return nil
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
	_ decoder = desktopSizeDecoder{}
	_ decoder = extendedDesktopSizeDecoder{}
	_ decoder = desktopNameDecoder{}
	_ decoder = qemuExtendedKeyDecoder{}
)
