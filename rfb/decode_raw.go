package rfb

// rawDecoder reads Raw rectangles (encoding 0): w×h pixels, left to right,
// top to bottom.
type rawDecoder struct{}

func (rawDecoder) decode(c *Client, u *UpdateRect) error {
	return c.readPixels(c.fb, u.Rect)
}

var _ decoder = rawDecoder{}
