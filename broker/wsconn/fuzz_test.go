package wsconn

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// byteConn reads from a fixed input and discards writes.
type byteConn struct {
	r *bytes.Reader
}

func (b *byteConn) Read(p []byte) (int, error)       { return b.r.Read(p) }
func (b *byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (b *byteConn) Close() error                     { return nil }
func (b *byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (b *byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (b *byteConn) SetDeadline(time.Time) error      { return nil }
func (b *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (b *byteConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzRead feeds arbitrary bytes to both sides' frame readers: they
// return data or an error, never panic, and never hand out more bytes
// than arrived.
func FuzzRead(f *testing.F) {
	f.Add(frame(true, opBinary, true, []byte("hello")), false)
	f.Add(append(frame(true, opPing, true, []byte("x")), frame(false, opBinary, true, []byte("ab"))...), false)
	f.Add(frame(true, opBinary, false, bytes.Repeat([]byte{7}, 300)), true)
	f.Add(frame(true, opClose, false, []byte{0x03, 0xe9, 'b', 'y', 'e'}), true)
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 1, 0}, true)
	f.Fuzz(func(t *testing.T, in []byte, client bool) {
		c := newConn(&byteConn{bytes.NewReader(in)}, client, nil, 1<<12)
		buf := make([]byte, 7)
		total := 0
		for range len(in) + 2 {
			n, err := c.Read(buf)
			total += n
			if err != nil {
				break
			}
		}
		if total > len(in) {
			t.Fatalf("read %d bytes from %d", total, len(in))
		}
		if _, err := c.Read(buf); err == nil {
			t.Fatal("reading past the end succeeded")
		}
		_ = io.EOF
	})
}
