package rfb

import "image"

// FramebufferUpdateRequest (type 3): U8 incremental, U16 x, y, w, h.
// A non-incremental request means the client lost that area and needs it
// all again.
type FramebufferUpdateRequest struct {
	Incremental bool
	Rect        image.Rectangle
}

func (m *FramebufferUpdateRequest) appendTo(b []byte) []byte {
	return appendWireRect(append(b, byte(MsgFramebufferUpdateRequest), boolByte(m.Incremental)), m.Rect)
}

func parseFramebufferUpdateRequest(r *wireReader, _ *Limits) (ClientMessage, error) {
	b, err := r.full(9)
	if err != nil {
		return nil, err
	}
	return &FramebufferUpdateRequest{Incremental: b[0] != 0, Rect: wireRect(b[1:])}, nil
}
