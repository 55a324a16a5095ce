package rfb

import "encoding/binary"

// QEMU client message (type 255): U8 subtype. Subtype 0 is the extended key
// event: U16 down-flag, U32 keysym (may be 0), U32 XT keycode. A client
// sends it only after the server sent a QEMUExtendedKeyEvent pseudo-rect.
type QEMUExtendedKeyEvent struct {
	Down            bool
	Keysym, Keycode uint32
}

const qemuExtendedKey = 0

func (m *QEMUExtendedKeyEvent) appendTo(b []byte) []byte {
	b = append(b, byte(MsgQEMU), qemuExtendedKey, 0, boolByte(m.Down))
	b = binary.BigEndian.AppendUint32(b, m.Keysym)
	return binary.BigEndian.AppendUint32(b, m.Keycode)
}

func parseQEMU(r *wireReader, _ *Limits) (ClientMessage, error) {
	sub, err := r.u8()
	if err != nil {
		return nil, err
	}
	if sub != qemuExtendedKey {
		return nil, protoErrorf("unknown QEMU message subtype %d", sub)
	}
	b, err := r.full(10)
	if err != nil {
		return nil, err
	}
	return &QEMUExtendedKeyEvent{
		Down:    binary.BigEndian.Uint16(b) != 0,
		Keysym:  binary.BigEndian.Uint32(b[2:]),
		Keycode: binary.BigEndian.Uint32(b[6:]),
	}, nil
}
