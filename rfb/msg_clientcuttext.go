package rfb

import (
	"encoding/binary"
	"io"
)

// ClientCutText (type 6): 3 padding bytes, U32 length, Latin-1 text. A
// negative length (as S32) is the Extended Clipboard form, which is
// returned as *ExtendedClipboard (msg_extclipboard.go).
type ClientCutText struct {
	Text []byte
	// Dropped is the length of a text that exceeded Limits.MaxCutText and
	// was read and thrown away; Text is then empty.
	Dropped int
}

func (m *ClientCutText) appendTo(b []byte) []byte {
	b = append(b, byte(MsgClientCutText), 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Text)))
	return append(b, m.Text...)
}

func parseClientCutText(r *wireReader, l *Limits) (ClientMessage, error) {
	b, err := r.full(7)
	if err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(b[3:]))
	if n >= 1<<31 {
		return readExtendedClipboard(r, 1<<32-n, l.MaxCutText, l.MaxCutTextDiscard)
	}
	switch {
	case n <= int64(l.MaxCutText):
		b, err = r.full(int(n))
		if err != nil {
			return nil, err
		}
		return &ClientCutText{Text: append([]byte(nil), b...)}, nil
	case n <= int64(l.MaxCutTextDiscard):
		if _, err := io.CopyN(io.Discard, r.r, n); err != nil {
			return nil, noEOF(err)
		}
		return &ClientCutText{Dropped: int(n)}, nil
	}
	return nil, protoErrorf("ClientCutText of %d bytes exceeds limit %d", n, l.MaxCutTextDiscard)
}
