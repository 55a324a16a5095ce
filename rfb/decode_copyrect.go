package rfb

import (
	"encoding/binary"
	"image"
)

// copyRectDecoder reads CopyRect rectangles (encoding 1): U16 src-x, U16
// src-y. The client copies its own pixels from there, so the source must
// lie inside the framebuffer too. Source and destination may overlap.
type copyRectDecoder struct{}

func (copyRectDecoder) decode(c *Client, u *UpdateRect) error {
	b, err := c.r.full(4)
	if err != nil {
		return err
	}
	u.Src = image.Pt(int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:])))
	if u.Rect.Empty() {
		return nil
	}
	if src := u.Rect.Sub(u.Rect.Min).Add(u.Src); !src.In(c.fb.Bounds()) {
		return protoErrorf("CopyRect source %v outside the %dx%d framebuffer", src, c.fb.W, c.fb.H)
	}
	c.fb.move(u.Rect, u.Src)
	return nil
}

var _ decoder = copyRectDecoder{}
