package rfb

import (
	"encoding/binary"
	"image"
)

// Pseudo-rectangles: they carry state rather than pixels.

// appendCopyRect: the client copies its own pixels at src to r.
// Data: U16 src-x, U16 src-y.
func (u *updateWriter) appendCopyRect(r image.Rectangle, src image.Point) {
	u.rect(r, EncCopyRect)
	u.buf = binary.BigEndian.AppendUint16(u.buf, uint16(src.X))
	u.buf = binary.BigEndian.AppendUint16(u.buf, uint16(src.Y))
}

// appendCursor sends the cursor in the pseudo-encoding kind, hot spot
// as x, y and its size as w, h:
//
//	Cursor (-239)           w×h pixels in the client's format, then a
//	                        1-bit mask, rows padded to bytes, MSB first
//	CursorWithAlpha (-314)  S32 encoding (Raw), then w×h pixels R, G, B, A
//	                        with the colours premultiplied by alpha
//	VMwareCursor            U8 type 1 (alpha), U8 padding, then w×h
//	  (0x574D5664)          pixels R, G, B, A, not premultiplied
//
// Which one a viewer reads right decides the choice (clientEncodings):
// noVNC and gtk-vnc take the Cursor pixels in the wrong byte order, so
// they get the VMware and alpha cursors they also ask for.
func (u *updateWriter) appendCursor(c *cursorImage, kind Encoding) {
	u.rect(image.Rect(c.hotspot.X, c.hotspot.Y, c.hotspot.X+c.img.W, c.hotspot.Y+c.img.H), kind)
	switch kind {
	case EncCursorWithAlpha:
		u.buf = binary.BigEndian.AppendUint32(u.buf, uint32(EncRaw))
		u.buf = c.appendRGBA(u.buf, true)
	case EncVMwareCursor:
		u.buf = append(u.buf, 1, 0)
		u.buf = c.appendRGBA(u.buf, false)
	default:
		u.buf = u.conv.appendRect(u.buf, c.img, c.img.Bounds())
		u.buf = append(u.buf, c.mask...)
	}
}

// appendRGBA appends the cursor's pixels as R, G, B, A bytes.
func (c *cursorImage) appendRGBA(b []byte, premultiply bool) []byte {
	for y := range c.img.H {
		row := c.img.Pix[y*c.img.Stride:]
		for x := range c.img.W {
			a := uint32(c.alpha[y*c.img.W+x])
			r, g, bl := uint32(row[x*4+2]), uint32(row[x*4+1]), uint32(row[x*4])
			if premultiply {
				r, g, bl = (r*a+127)/255, (g*a+127)/255, (bl*a+127)/255
			}
			b = append(b, byte(r), byte(g), byte(bl), byte(a))
		}
	}
	return b
}

// appendDesktopSize (-223): w, h = the new size; no data.
func (u *updateWriter) appendDesktopSize(w, h int) {
	u.rect(image.Rect(0, 0, w, h), EncDesktopSize)
}

// ExtendedDesktopSize reasons (the rectangle's x).
const (
	extDSServer = 0 // changed by the server
	extDSClient = 1 // this client's request
	extDSOther  = 2 // another client's request
)

// appendExtendedDesktopSize (-308): x = reason, y = status, w, h = size;
// data = U8 n-screens, 3 pad, screens. The layout is one screen covering
// the framebuffer, which is what TigerVNC's validation requires.
func (u *updateWriter) appendExtendedDesktopSize(reason int, status DesktopSizeStatus, w, h int) {
	u.rect(image.Rect(reason, int(status), reason+w, int(status)+h), EncExtendedDesktopSize)
	u.buf = appendScreens(u.buf, []Screen{{ID: 0, Rect: image.Rect(0, 0, w, h)}})
}

// appendDesktopName (-307): an empty rectangle, then U32 length + UTF-8 name.
func (u *updateWriter) appendDesktopName(name string) {
	u.rect(image.Rectangle{}, EncDesktopName)
	u.buf = appendString(u.buf, name)
}

// appendQEMUKeyAck (-258): an empty rectangle telling the client it may
// send QEMU extended key events.
func (u *updateWriter) appendQEMUKeyAck() {
	u.rect(image.Rectangle{}, EncQEMUExtendedKey)
}
