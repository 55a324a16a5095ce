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

// appendCursor (-239): x, y = hot spot, w, h = size; data = w×h pixels in
// the client's format, then a 1-bit mask with rows padded to bytes.
func (u *updateWriter) appendCursor(c *cursorImage) {
	u.rect(image.Rect(c.hotspot.X, c.hotspot.Y, c.hotspot.X+c.img.W, c.hotspot.Y+c.img.H), EncCursor)
	u.buf = u.conv.appendRect(u.buf, c.img, c.img.Bounds())
	u.buf = append(u.buf, c.mask...)
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
