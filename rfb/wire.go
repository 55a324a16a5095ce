package rfb

import (
	"bufio"
	"encoding/binary"
	"image"
	"io"
)

// wireReader reads fixed-size fields from a buffered stream. Slices it
// returns are valid until the next call.
type wireReader struct {
	r   *bufio.Reader
	buf []byte
}

func newWireReader(r io.Reader) *wireReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 32<<10)
	}
	return &wireReader{r: br}
}

// full reads exactly n bytes. Callers check n against a limit first.
func (r *wireReader) full(n int) ([]byte, error) {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, noEOF(err)
	}
	return b, nil
}

func (r *wireReader) u8() (byte, error) {
	b, err := r.r.ReadByte()
	return b, noEOF(err)
}

func (r *wireReader) u32() (uint32, error) {
	b, err := r.full(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// noEOF turns a clean EOF in the middle of a message into
// io.ErrUnexpectedEOF; callers only read once a message has started.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// wireRect is the x, y, w, h quadruple of U16s in many messages.
func wireRect(b []byte) image.Rectangle {
	x, y := int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
	w, h := int(binary.BigEndian.Uint16(b[4:])), int(binary.BigEndian.Uint16(b[6:]))
	return image.Rect(x, y, x+w, y+h)
}

func appendWireRect(b []byte, r image.Rectangle) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(r.Min.X))
	b = binary.BigEndian.AppendUint16(b, uint16(r.Min.Y))
	b = binary.BigEndian.AppendUint16(b, uint16(r.Dx()))
	return binary.BigEndian.AppendUint16(b, uint16(r.Dy()))
}

// appendRectHeader appends a FramebufferUpdate rectangle header.
func appendRectHeader(b []byte, r image.Rectangle, e Encoding) []byte {
	return binary.BigEndian.AppendUint32(appendWireRect(b, r), uint32(e))
}
