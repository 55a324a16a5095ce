package bridge

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// sink is the bridge's side of a connection whose broker side is fixed
// bytes: writes vanish.
type sink struct{ net.Conn }

func (sink) Write(p []byte) (int, error)      { return len(p), nil }
func (sink) SetDeadline(time.Time) error      { return nil }
func (sink) SetReadDeadline(time.Time) error  { return nil }
func (sink) SetWriteDeadline(time.Time) error { return nil }

func brokerSays(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func reason(s string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(s))), s...)
}

// FuzzClientHandshake feeds the bridge's RFB client handshake whatever a
// broker (or something pretending to be one) might send: it must end
// with an answer, never a panic or a large allocation.
func FuzzClientHandshake(f *testing.F) {
	f.Add(brokerSays([]byte("RFB 003.008\n"), []byte{2, 19, 2}, make([]byte, 16), []byte{0, 0, 0, 0}))
	f.Add(brokerSays([]byte("RFB 003.008\n"), []byte{0}, reason("go away")))
	f.Add(brokerSays([]byte("RFB 003.008\n"), []byte{1, 2}, make([]byte, 16), []byte{0, 0, 0, 1}, reason("wrong code")))
	f.Add(brokerSays([]byte("RFB 003.008\n"), []byte{1, 2}, make([]byte, 16), []byte{0, 0, 0, 1}, []byte{0xff, 0xff, 0xff, 0xff}))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		err := clientHandshake(sink{}, bufio.NewReader(bytes.NewReader(in)), "482913")
		// Success needs the greeting, a type list with VNC Authentication,
		// a challenge and a zero SecurityResult: at least 34 bytes.
		if err == nil && (len(in) < 12+2+16+4 || !bytes.HasPrefix(in, []byte("RFB 003."))) {
			t.Fatalf("accepted %q", in)
		}
	})
}

func TestClientHandshake(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string // "" for success
	}{
		{"ok", brokerSays([]byte("RFB 003.008\n"), []byte{2, 19, 2}, make([]byte, 16), []byte{0, 0, 0, 0}), ""},
		{"refused early", brokerSays([]byte("RFB 003.008\n"), []byte{0}, reason("too many connections")), "too many connections"},
		{"wrong code", brokerSays([]byte("RFB 003.008\n"), []byte{1, 2}, make([]byte, 16), []byte{0, 0, 0, 1}, reason("wrong code")), "wrong code"},
		{"no VNC auth", brokerSays([]byte("RFB 003.008\n"), []byte{1, 19}), "no VNC Authentication"},
		{"not RFB", []byte("HTTP/1.1 400 Bad Request\r\n"), "not RFB"},
		{"huge reason", brokerSays([]byte("RFB 003.008\n"), []byte{0}, []byte{0x7f, 0, 0, 0}), "refusal of"},
		{"short", []byte("RFB 003.008\n\x01\x02abc"), "EOF"},
	} {
		err := clientHandshake(sink{}, bufio.NewReader(bytes.NewReader(tc.in)), "482913")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want))):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
