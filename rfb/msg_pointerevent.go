package rfb

import "encoding/binary"

// PointerEvent (type 5): U8 button-mask, U16 x, U16 y. Bits 0-7 are
// buttons 1-8: left, middle, right, wheel up, wheel down, wheel left, wheel
// right, back.
type PointerEvent struct {
	Buttons uint8
	X, Y    uint16
}

func (m *PointerEvent) appendTo(b []byte) []byte {
	b = append(b, byte(MsgPointerEvent), m.Buttons)
	b = binary.BigEndian.AppendUint16(b, m.X)
	return binary.BigEndian.AppendUint16(b, m.Y)
}

func parsePointerEvent(r *wireReader, _ *Limits) (ClientMessage, error) {
	b, err := r.full(5)
	if err != nil {
		return nil, err
	}
	return &PointerEvent{Buttons: b[0], X: binary.BigEndian.Uint16(b[1:]), Y: binary.BigEndian.Uint16(b[3:])}, nil
}
