package rfb

// SetPixelFormat (type 0): 3 padding bytes, then a 16-byte PIXEL_FORMAT.
type SetPixelFormat struct {
	Format PixelFormat
}

func (m *SetPixelFormat) appendTo(b []byte) []byte {
	return m.Format.appendTo(append(b, byte(MsgSetPixelFormat), 0, 0, 0))
}

func parseSetPixelFormat(r *wireReader, _ *Limits) (ClientMessage, error) {
	b, err := r.full(3 + pixelFormatLen)
	if err != nil {
		return nil, err
	}
	return &SetPixelFormat{Format: parsePixelFormat(b[3:])}, nil
}
