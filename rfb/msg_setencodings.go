package rfb

import "encoding/binary"

// SetEncodings (type 2): 1 padding byte, U16 count, count × S32 encodings in
// order of preference.
type SetEncodings struct {
	Encodings []Encoding
}

func (m *SetEncodings) appendTo(b []byte) []byte {
	b = append(b, byte(MsgSetEncodings), 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Encodings)))
	for _, e := range m.Encodings {
		b = binary.BigEndian.AppendUint32(b, uint32(e))
	}
	return b
}

func parseSetEncodings(r *wireReader, l *Limits) (ClientMessage, error) {
	b, err := r.full(3)
	if err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	if n > l.MaxEncodings {
		return nil, protoErrorf("SetEncodings lists %d encodings, limit is %d", n, l.MaxEncodings)
	}
	b, err = r.full(4 * n)
	if err != nil {
		return nil, err
	}
	m := &SetEncodings{Encodings: make([]Encoding, n)}
	for i := range m.Encodings {
		m.Encodings[i] = Encoding(binary.BigEndian.Uint32(b[4*i:]))
	}
	return m, nil
}
