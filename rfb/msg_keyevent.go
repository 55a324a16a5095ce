package rfb

import "encoding/binary"

// KeyEvent (type 4): U8 down-flag, 2 padding bytes, U32 X11 keysym.
type KeyEvent struct {
	Down   bool
	Keysym uint32
	// Keycode is the XT scancode from a QEMU extended key event, or 0.
	// Scancodes with an 0xe0 prefix have the high bit set (Right = 0xcd).
	Keycode uint32
}

func (m *KeyEvent) appendTo(b []byte) []byte {
	b = append(b, byte(MsgKeyEvent), boolByte(m.Down), 0, 0)
	return binary.BigEndian.AppendUint32(b, m.Keysym)
}

func parseKeyEvent(r *wireReader, _ *Limits) (ClientMessage, error) {
	b, err := r.full(7)
	if err != nil {
		return nil, err
	}
	return &KeyEvent{Down: b[0] != 0, Keysym: binary.BigEndian.Uint32(b[3:])}, nil
}
