package rfb

import "image"

// EnableContinuousUpdates (type 150): U8 enable, U16 x, y, w, h. A client
// sends it only after the server sent EndOfContinuousUpdates.
type EnableContinuousUpdates struct {
	Enable bool
	Rect   image.Rectangle
}

func (m *EnableContinuousUpdates) appendTo(b []byte) []byte {
	return appendWireRect(append(b, byte(MsgEnableContinuousUpdates), boolByte(m.Enable)), m.Rect)
}

func parseEnableContinuousUpdates(r *wireReader, _ *Limits) (ClientMessage, error) {
	b, err := r.full(9)
	if err != nil {
		return nil, err
	}
	return &EnableContinuousUpdates{Enable: b[0] != 0, Rect: wireRect(b[1:])}, nil
}
