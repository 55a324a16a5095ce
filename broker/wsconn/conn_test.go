package wsconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// echoServer upgrades every request and echoes the stream back.
func echoServer(t *testing.T, o Options) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, o)
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func dialEcho(t *testing.T, srv *httptest.Server, o DialOptions) *Conn {
	t.Helper()
	o.TLS = srv.Client().Transport.(*http.Transport).TLSClientConfig
	c, err := Dial(context.Background(), "wss"+strings.TrimPrefix(srv.URL, "https")+"/x", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRoundTrip(t *testing.T) {
	for _, proto := range []string{"", Subprotocol} {
		srv := echoServer(t, Options{})
		c := dialEcho(t, srv, DialOptions{Subprotocol: proto})
		for _, n := range []int{1, 125, 126, 65535, 65536, 100_000, 3 * writeChunk} {
			want := bytes.Repeat([]byte{byte(n), 0xff, 0}, n/3+1)[:n]
			go c.Write(want)
			got := make([]byte, n)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("proto %q, %d bytes: %v", proto, n, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("proto %q, %d bytes: echo differs", proto, n)
			}
		}
	}
}

func TestUpgradeRefusals(t *testing.T) {
	srv := echoServer(t, Options{})
	client := srv.Client()
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
		says   string
	}{
		{"plain GET", nil, 400, "WebSocket connections only"},
		{"version 8", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
			"Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, 426, "version 13"},
		{"bad key", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
			"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "short"}, 400, "Sec-WebSocket-Key"},
		{"other site", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Origin": "https://evil.example",
			"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, 403, "another site"},
		{"base64 subprotocol", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
			"Sec-WebSocket-Protocol": "base64", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, 400, "binary"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/rfb", nil)
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.says) {
			t.Errorf("%s: got %d %q, want %d with %q", tc.name, resp.StatusCode, body, tc.status, tc.says)
		}
	}
}

// frame builds a frame as a client (masked) or server would send it.
func frame(fin bool, op byte, masked bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var b []byte
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		b = []byte{b0, m | byte(n)}
	case n <= 0xffff:
		b = []byte{b0, m | 126, byte(n >> 8), byte(n)}
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, m | 127}, uint64(n))
	}
	if masked {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		b = append(b, key[:]...)
		for i, c := range payload {
			b = append(b, c^key[i&3])
		}
		return b
	}
	return append(b, payload...)
}

// pipeConn is a server-side Conn over a pipe, and the client's raw end.
func pipeConn(t *testing.T) (*Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return newConn(a, false, nil, 1<<16), b
}

// A read that times out inside a frame header, and inside a payload,
// resumes where it stopped: deadlines poll, they do not break the stream.
func TestReadResumesAfterTimeout(t *testing.T) {
	c, raw := pipeConn(t)
	f := append(frame(true, opBinary, true, []byte("hello")), frame(true, opBinary, true, []byte(" world"))...)
	buf := make([]byte, 64)
	var got []byte
	for cut := 0; cut < len(f); {
		next := min(cut+3, len(f))
		go raw.Write(f[cut:next])
		cut = next
		for {
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("read: %v", err)
				}
				break
			}
		}
	}
	if string(got) != "hello world" {
		t.Fatalf("got %q", got)
	}
}

// readReply reads one frame the Conn wrote to the raw side.
func readReply(t *testing.T, raw net.Conn) (op byte, payload []byte) {
	t.Helper()
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(raw, h[:]); err != nil {
		t.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		io.ReadFull(raw, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(raw, payload); err != nil {
		t.Fatal(err)
	}
	return h[0] & 0x0f, payload
}

func TestControlFrames(t *testing.T) {
	c, raw := pipeConn(t)
	go raw.Write(append(frame(true, opPing, true, []byte("p1")), frame(true, opBinary, true, []byte("data"))...))
	done := make(chan []byte)
	go func() {
		buf := make([]byte, 16)
		n, _ := c.Read(buf)
		done <- buf[:n]
	}()
	if op, p := readReply(t, raw); op != opPong || string(p) != "p1" {
		t.Fatalf("reply to ping: op %#x %q", op, p)
	}
	if got := <-done; string(got) != "data" {
		t.Fatalf("data after ping: %q", got)
	}
	// The peer's close is answered, and the stream ends in io.EOF.
	go raw.Write(frame(true, opClose, true, []byte{0x03, 0xe8}))
	errc := make(chan error)
	go func() { _, err := c.Read(make([]byte, 4)); errc <- err }()
	if op, p := readReply(t, raw); op != opClose || binary.BigEndian.Uint16(p) != StatusNormal {
		t.Fatalf("reply to close: op %#x %x", op, p)
	}
	if err := <-errc; err != io.EOF {
		t.Fatalf("read after close: %v", err)
	}
}

// Bad frames get a close frame with the status that says why, and an
// error; nothing is buffered beyond a control frame's 125 bytes.
func TestBadFrames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frame  []byte
		status int
	}{
		{"unmasked", frame(true, opBinary, false, []byte("x")), StatusProtocol},
		{"text", frame(true, opText, true, []byte("x")), StatusUnsupported},
		{"unknown opcode", frame(true, 0x3, true, nil), StatusProtocol},
		{"reserved bit", append([]byte{0xc2, 0x80}, 0, 0, 0, 0), StatusProtocol},
		{"long ping", frame(true, opPing, true, make([]byte, 126)), StatusProtocol},
		{"fragmented ping", frame(false, opPing, true, nil), StatusProtocol},
		{"too big", frame(true, opBinary, true, make([]byte, 1<<16+1)), StatusTooBig},
		{"one-byte close", frame(true, opClose, true, []byte{1}), StatusProtocol},
		{"length top bit", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, StatusProtocol},
	} {
		c, raw := pipeConn(t)
		go raw.Write(tc.frame)
		errc := make(chan error, 1)
		go func() { _, err := c.Read(make([]byte, 8)); errc <- err }()
		op, p := readReply(t, raw)
		var pe *ProtocolError
		if err := <-errc; !errors.As(err, &pe) || pe.Status != tc.status {
			t.Errorf("%s: read error %v, want status %d", tc.name, err, tc.status)
		}
		if op != opClose || len(p) < 2 || int(binary.BigEndian.Uint16(p)) != tc.status {
			t.Errorf("%s: close frame op %#x %q", tc.name, op, p)
		}
	}
}

// The keep-alive pings a quiet connection without a goroutine of its own.
func TestKeepAlivePings(t *testing.T) {
	c, raw := pipeConn(t)
	c.KeepAlive(30 * time.Millisecond)
	defer c.Close()
	for range 2 {
		if op, _ := readReply(t, raw); op != opPing {
			t.Fatalf("got op %#x, want a ping", op)
		}
	}
}

var _ = tls.VersionTLS13

// maskBytes agrees with the byte-at-a-time definition at every offset
// and length.
func TestMaskBytes(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for pos := range 8 {
		for n := range 80 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 31)
			}
			want := append([]byte(nil), b...)
			for i := range want {
				want[i] ^= key[(pos+i)&3]
			}
			if got := maskBytes(key, pos, b); got != pos+n || !bytes.Equal(b, want) {
				t.Fatalf("pos %d, %d bytes: wrong mask", pos, n)
			}
		}
	}
}
