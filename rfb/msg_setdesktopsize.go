package rfb

import (
	"encoding/binary"
	"image"
)

// Screen is one entry of an ExtendedDesktopSize screen layout (16 bytes on
// the wire: U32 id, U16 x, y, w, h, U32 flags).
type Screen struct {
	ID    uint32
	Rect  image.Rectangle
	Flags uint32
}

func appendScreens(b []byte, screens []Screen) []byte {
	b = append(b, byte(len(screens)), 0, 0, 0)
	for _, s := range screens {
		b = binary.BigEndian.AppendUint32(b, s.ID)
		b = appendWireRect(b, s.Rect)
		b = binary.BigEndian.AppendUint32(b, s.Flags)
	}
	return b
}

func parseScreens(b []byte, n int) []Screen {
	s := make([]Screen, n)
	for i := range s {
		e := b[16*i:]
		s[i] = Screen{ID: binary.BigEndian.Uint32(e), Rect: wireRect(e[4:]), Flags: binary.BigEndian.Uint32(e[12:])}
	}
	return s
}

// SetDesktopSize (type 251): 1 padding byte, U16 width, U16 height,
// U8 number-of-screens, 1 padding byte, screens.
type SetDesktopSize struct {
	Width, Height uint16
	Screens       []Screen
}

func (m *SetDesktopSize) appendTo(b []byte) []byte {
	b = append(b, byte(MsgSetDesktopSize), 0)
	b = binary.BigEndian.AppendUint16(b, m.Width)
	b = binary.BigEndian.AppendUint16(b, m.Height)
	b = append(b, byte(len(m.Screens)), 0)
	for _, s := range m.Screens {
		b = binary.BigEndian.AppendUint32(b, s.ID)
		b = appendWireRect(b, s.Rect)
		b = binary.BigEndian.AppendUint32(b, s.Flags)
	}
	return b
}

func parseSetDesktopSize(r *wireReader, _ *Limits) (ClientMessage, error) {
	b, err := r.full(7)
	if err != nil {
		return nil, err
	}
	m := &SetDesktopSize{Width: binary.BigEndian.Uint16(b[1:]), Height: binary.BigEndian.Uint16(b[3:])}
	n := int(b[5])
	b, err = r.full(16 * n)
	if err != nil {
		return nil, err
	}
	m.Screens = parseScreens(b, n)
	return m, nil
}
