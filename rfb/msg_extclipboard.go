package rfb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"strings"

	"github.com/klauspost/compress/zlib"
)

// Extended Clipboard (pseudo-encoding 0xC0A1E5CE). A client that lists it
// in SetEncodings reads and writes ClientCutText (6) and ServerCutText (3)
// with a signed length; a negative one means the extended form:
//
//	U8  type (6 or 3), 3 padding
//	S32 -n, where n is the number of bytes that follow
//	U32 flags: bits 0-4 formats (text, rtf, html, dib, files), one action
//	    of bits 24-28 (caps, request, peek, notify, provide)
//	caps:    U32 max unsolicited size per format bit set, lowest bit first
//	provide: a zlib stream of U32 size + data per format bit set
//	request, peek, notify: nothing more
//
// Text is UTF-8 with CRLF line ends and a terminating NUL. The flow this
// package speaks, in both roles, is the one the protocol recommends:
//
//	server: caps{text: 0; request, peek, notify, provide}  (on every SetEncodings listing it)
//	client: caps{text: 0; ...}                              (optional)
//	either side, when its clipboard changes: notify{text}   (or notify{} when it is gone)
//	the other side, if it wants it: request{text}
//	the first side: provide{text} as a fresh zlib stream ended by a sync
//	flush (TigerVNC's way; it need not be finished)
//
// Sizes 0 in the caps make every change go through notify, so nothing is
// sent that the other side did not ask for.

// EncExtendedClipboard is the Extended Clipboard pseudo-encoding.
const EncExtendedClipboard Encoding = -1063131698 // 0xC0A1E5CE

// ClipboardFlags are an extended clipboard message's formats and action.
type ClipboardFlags uint32

// Formats and actions of ClipboardFlags.
const (
	ClipText  ClipboardFlags = 1 << 0
	ClipRTF   ClipboardFlags = 1 << 1
	ClipHTML  ClipboardFlags = 1 << 2
	ClipDIB   ClipboardFlags = 1 << 3
	ClipFiles ClipboardFlags = 1 << 4

	ClipCaps    ClipboardFlags = 1 << 24
	ClipRequest ClipboardFlags = 1 << 25
	ClipPeek    ClipboardFlags = 1 << 26
	ClipNotify  ClipboardFlags = 1 << 27
	ClipProvide ClipboardFlags = 1 << 28

	clipFormats ClipboardFlags = 0xffff
	clipActions ClipboardFlags = 0xff << 24
)

// Formats returns the format bits of f.
func (f ClipboardFlags) Formats() ClipboardFlags { return f & clipFormats }

// Action returns the action bits of f.
func (f ClipboardFlags) Action() ClipboardFlags { return f & clipActions }

func (f ClipboardFlags) String() string {
	var s []string
	for i, n := range []string{"text", "rtf", "html", "dib", "files"} {
		if f&(1<<i) != 0 {
			s = append(s, n)
		}
	}
	for i, n := range []string{"caps", "request", "peek", "notify", "provide"} {
		if f&(1<<(24+i)) != 0 {
			s = append(s, n)
		}
	}
	if rest := f &^ (0x1f | 0x1f<<24); rest != 0 {
		s = append(s, fmt.Sprintf("%#x", uint32(rest)))
	}
	return strings.Join(s, "|")
}

// ExtendedClipboard is a ClientCutText or ServerCutText in the extended
// form. A client sends it with Client.Send; ReadMessage returns a
// server's (except a provide with text, which it returns as a
// *ServerCutText).
type ExtendedClipboard struct {
	Flags ClipboardFlags
	// Sizes are a caps message's maximum unsolicited sizes, one per
	// format bit set, lowest bit first.
	Sizes []uint32
	// Text is a provide's text format, with LF line ends and without the
	// terminating NUL; HasText says whether the provide carried it.
	Text    string
	HasText bool
	// Dropped is the size of a provide whose text exceeded the limit
	// (decompressed) and was thrown away; HasText is then false.
	Dropped int
}

func (*ExtendedClipboard) serverMessage() {}

func (m *ExtendedClipboard) appendTo(b []byte) []byte {
	return m.appendAs(b, byte(MsgClientCutText))
}

// appendAs appends the message with message type t (6 or 3).
func (m *ExtendedClipboard) appendAs(b []byte, t byte) []byte {
	b = append(b, t, 0, 0, 0)
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	flags := m.Flags
	switch {
	case flags&ClipCaps != 0:
		b = binary.BigEndian.AppendUint32(b, uint32(flags))
		for i := range bits.OnesCount32(uint32(flags.Formats())) {
			var s uint32
			if i < len(m.Sizes) {
				s = m.Sizes[i]
			}
			b = binary.BigEndian.AppendUint32(b, s)
		}
	case flags&ClipProvide != 0:
		// Only text is carried; the other formats are not offered.
		flags = ClipProvide
		if m.HasText {
			flags |= ClipText
		}
		b = binary.BigEndian.AppendUint32(b, uint32(flags))
		if m.HasText {
			b = appendClipboardProvide(b, m.Text)
		}
	default:
		b = binary.BigEndian.AppendUint32(b, uint32(flags))
	}
	binary.BigEndian.PutUint32(b[at:], uint32(-int32(len(b)-at-4)))
	return b
}

// appendClipboardProvide appends the zlib stream of a provide with text:
// a fresh stream, ended by a sync flush and not finished, as TigerVNC
// writes it (every reader takes that; some do not take more).
func appendClipboardProvide(b []byte, text string) []byte {
	wire := clipboardWireText(text)
	buf := bytes.NewBuffer(b)
	zw, _ := zlib.NewWriterLevel(buf, zlib.DefaultCompression)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(wire)))
	zw.Write(n[:])
	zw.Write(wire)
	zw.Flush()
	return buf.Bytes()
}

// clipboardWireText is text as the Extended Clipboard carries it: CRLF
// line ends and a terminating NUL.
func clipboardWireText(text string) []byte {
	b := make([]byte, 0, len(text)+strings.Count(text, "\n")+1)
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '\r' && i+1 < len(text) && text[i+1] == '\n':
			// already CRLF
		case c == '\n':
			b = append(b, '\r', '\n')
		case c == 0:
			// A NUL would end the text early on the other side.
		default:
			b = append(b, c)
		}
	}
	return append(b, 0)
}

// clipboardText turns provided text into this package's form: up to the
// first NUL, LF line ends, valid UTF-8.
func clipboardText(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	return strings.ToValidUTF8(s, "\uFFFD")
}

// clipboardSlack is how much longer than the text limit a provide's
// compressed payload may be: zlib's framing and stored blocks.
const clipboardSlack = 1 << 10

// readExtendedClipboard reads the body of an extended cut text message of
// n bytes (after the length field). maxText bounds the text after
// decompression (and, with a little slack, the compressed payload);
// maxDiscard bounds what is read and dropped. Longer is a protocol error.
func readExtendedClipboard(r *wireReader, n int64, maxText, maxDiscard int) (*ExtendedClipboard, error) {
	if n < 4 {
		return nil, protoErrorf("extended clipboard message of %d bytes", n)
	}
	flags, err := r.u32()
	if err != nil {
		return nil, err
	}
	m := &ExtendedClipboard{Flags: ClipboardFlags(flags)}
	rest := n - 4
	f := m.Flags
	switch {
	case f&ClipCaps != 0:
		k := int64(bits.OnesCount32(uint32(f.Formats())))
		if rest < 4*k || rest > 4*16+64 {
			return nil, protoErrorf("extended clipboard caps of %d bytes for %d formats", rest, k)
		}
		b, err := r.full(int(rest))
		if err != nil {
			return nil, err
		}
		m.Sizes = make([]uint32, k)
		for i := range m.Sizes {
			m.Sizes[i] = binary.BigEndian.Uint32(b[4*i:])
		}
		return m, nil
	case f&ClipProvide != 0:
		if rest > int64(maxText)+clipboardSlack {
			if rest > int64(maxDiscard) {
				return nil, protoErrorf("extended clipboard provide of %d bytes exceeds limit %d", rest, maxDiscard)
			}
			if _, err := io.CopyN(io.Discard, r.r, rest); err != nil {
				return nil, noEOF(err)
			}
			m.Dropped = int(rest)
			return m, nil
		}
		b, err := r.full(int(rest))
		if err != nil {
			return nil, err
		}
		if f&ClipText == 0 {
			return m, nil // only formats this package does not take
		}
		text, size, err := inflateClipboardText(b, maxText)
		if err != nil {
			return nil, err
		}
		if size > maxText {
			m.Dropped = size
			return m, nil
		}
		m.Text, m.HasText = text, true
		return m, nil
	}
	// request, peek, notify: nothing should follow; tolerate and skip a
	// little, as peers pad.
	if rest > 64 {
		return nil, protoErrorf("extended clipboard %v with %d bytes of data", f, rest)
	}
	if _, err := r.full(int(rest)); err != nil {
		return nil, err
	}
	return m, nil
}

// inflateClipboardText reads the text format, the first in a provide's
// stream. It reads exactly the announced size and never asks for the
// stream's end, which a sync-flushed stream does not have. A size over
// maxText is returned without reading the text.
func inflateClipboardText(b []byte, maxText int) (string, int, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return "", 0, protoErrorf("extended clipboard provide: %v", err)
	}
	defer zr.Close()
	var h [4]byte
	if _, err := io.ReadFull(zr, h[:]); err != nil {
		return "", 0, protoErrorf("extended clipboard provide: %v", err)
	}
	size := int64(binary.BigEndian.Uint32(h[:]))
	if size > int64(maxText) {
		return "", int(min(size, 1<<31-1)), nil
	}
	var text bytes.Buffer
	if _, err := io.CopyN(&text, zr, size); err != nil {
		return "", 0, protoErrorf("extended clipboard provide: text of %d bytes: %v", size, noEOF(err))
	}
	return clipboardText(text.Bytes()), int(size), nil
}
