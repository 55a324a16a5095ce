package rfb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer runs a Server on a loopback listener for one test and
// collects its log lines.
type testServer struct {
	srv  *Server
	fb   *Framebuffer
	addr string
	logs *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startTestServer(t testing.TB, fb *Framebuffer, opts Options) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{fb: fb, addr: l.Addr().String(), logs: &syncBuffer{}, done: make(chan error, 1)}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ts.srv = NewServer(fb, opts)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { ts.done <- ts.srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ts.done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return ts
}

func (ts *testServer) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// rawHandshake does a 3.8 None handshake by hand and reads ServerInit.
func rawHandshake(t testing.TB, c net.Conn) (w, h int) {
	t.Helper()
	buf := make([]byte, 12)
	mustRead(t, c, buf)
	mustWrite(t, c, []byte("RFB 003.008\n"))
	n := mustRead(t, c, make([]byte, 1))
	types := mustRead(t, c, make([]byte, n[0]))
	if !bytes.Contains(types, []byte{byte(SecNone)}) {
		t.Fatalf("server offers %v, want None", types)
	}
	mustWrite(t, c, []byte{byte(SecNone)})
	if r := mustRead(t, c, make([]byte, 4)); binary.BigEndian.Uint32(r) != 0 {
		t.Fatalf("SecurityResult %x", r)
	}
	mustWrite(t, c, []byte{1})
	si := mustRead(t, c, make([]byte, 24))
	mustRead(t, c, make([]byte, binary.BigEndian.Uint32(si[20:])))
	return int(binary.BigEndian.Uint16(si)), int(binary.BigEndian.Uint16(si[2:]))
}

func mustRead(t testing.TB, c net.Conn, b []byte) []byte {
	t.Helper()
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func mustWrite(t testing.TB, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// waitClosed reads until the server closes c and returns what it sent.
func waitClosed(t testing.TB, c net.Conn, within time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server did not close the connection within %v", within)
	}
	return b
}

func waitLog(t testing.TB, ts *testServer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ts.logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log does not mention %q; log:\n%s", want, ts.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func clientMsgBytes(msgs ...ClientMessage) []byte {
	var b []byte
	for _, m := range msgs {
		b = m.appendTo(b)
	}
	return b
}

// TestBadInput drives the server with hostile or broken clients. Each case
// states the outcome: what the server sends, and that it closes.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		// handshake: send these bytes right after the greeting instead
		// of a proper handshake. post: handshake first, then send these.
		handshake, post []byte
		// wantReply is a substring of what the server sends back
		// (after the greeting) before it closes.
		wantReply string
		wantLog   string
	}{
		{name: "truncated handshake", handshake: []byte("RFB 003.0")},
		{name: "wrong version string", handshake: []byte("SSH-2.0-xx\r\n")},
		{name: "version 4.0 refused", handshake: []byte("RFB 004.000\n")},
		{name: "unoffered security type", handshake: append([]byte("RFB 003.008\n"), 99),
			wantReply: "security type 99 was not offered"},
		{name: "absurd ClientCutText length", post: []byte{6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff},
			wantLog: "ClientCutText of 2147483647 bytes exceeds limit"},
		{name: "extended ClientCutText of 1 byte", post: []byte{6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
			wantLog: "extended clipboard message of 1 bytes"},
		{name: "absurd extended ClientCutText", post: []byte{6, 0, 0, 0, 0x80, 0, 0, 0, 0x10, 0, 0, 1},
			wantLog: "extended clipboard provide of 2147483644 bytes exceeds limit"},
		{name: "65535 encodings", post: append([]byte{2, 0, 0xff, 0xff}, make([]byte, 4*65535)...),
			wantLog: "SetEncodings lists 65535 encodings, limit is 1024"},
		{name: "unknown message type", post: []byte{77, 1, 2, 3},
			wantLog: "unknown client message type 77"},
		{name: "pixel format with bpp 7", post: clientMsgBytes(&SetPixelFormat{Format: PixelFormat{BPP: 7, Depth: 7, TrueColour: true, RedMax: 1, GreenMax: 1, BlueMax: 1}}),
			wantLog: "bits-per-pixel must be 8, 16 or 32"},
		{name: "colour-map pixel format", post: clientMsgBytes(&SetPixelFormat{Format: PixelFormat{BPP: 8, Depth: 8}}),
			wantLog: "colour-map pixel formats are not supported"},
		{name: "channel max not 2^n-1", post: clientMsgBytes(&SetPixelFormat{Format: PixelFormat{BPP: 16, Depth: 16, TrueColour: true, RedMax: 30, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5}}),
			wantLog: "colour maximum must be 2^n-1"},
		{name: "channel beyond pixel", post: clientMsgBytes(&SetPixelFormat{Format: PixelFormat{BPP: 8, Depth: 8, TrueColour: true, RedMax: 255, GreenMax: 7, BlueMax: 3, RedShift: 5}}),
			wantLog: "colour channel does not fit"},
		{name: "fence payload too long", post: []byte{248, 0, 0, 0, 0x80, 0, 0, 0, 65},
			wantLog: "fence payload of 65 bytes exceeds 64"},
		{name: "continuous updates unasked", post: clientMsgBytes(&EnableContinuousUpdates{Enable: true, Rect: image.Rect(0, 0, 10, 10)}),
			wantLog: "EnableContinuousUpdates before the server offered it"},
		{name: "unknown QEMU subtype", post: []byte{255, 9},
			wantLog: "unknown QEMU message subtype 9"},
		{name: "message cut short", post: []byte{3, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := NewFramebuffer(64, 48)
			ts := startTestServer(t, fb, Options{Limits: Limits{HandshakeTimeout: time.Second}})
			c := ts.dial(t)
			if tt.post == nil {
				mustRead(t, c, make([]byte, 12))
				mustWrite(t, c, tt.handshake)
			} else {
				rawHandshake(t, c)
				mustWrite(t, c, tt.post)
				if tt.name == "message cut short" {
					c.(*net.TCPConn).CloseWrite()
				}
			}
			got := waitClosed(t, c, 5*time.Second)
			if tt.wantReply != "" && !strings.Contains(string(got), tt.wantReply) {
				t.Errorf("reply %q does not contain %q", got, tt.wantReply)
			}
			if tt.wantLog != "" {
				waitLog(t, ts, tt.wantLog)
			}
			if ts.srv.NumClients() > 1 {
				t.Errorf("clients still registered: %d", ts.srv.NumClients())
			}
		})
	}
}

// A client that connects and never finishes the handshake is dropped at
// the handshake timeout, and the server keeps serving others meanwhile.
func TestSlowloris(t *testing.T) {
	fb := NewFramebuffer(32, 32)
	ts := startTestServer(t, fb, Options{Limits: Limits{HandshakeTimeout: 300 * time.Millisecond}})
	var slow []net.Conn
	for range 20 {
		c := ts.dial(t)
		mustRead(t, c, make([]byte, 12))
		mustWrite(t, c, []byte("RFB 003.0")) // and nothing more
		slow = append(slow, c)
	}
	good := ts.dial(t)
	if w, h := rawHandshake(t, good); w != 32 || h != 32 {
		t.Fatalf("ServerInit size %dx%d", w, h)
	}
	for _, c := range slow {
		waitClosed(t, c, 3*time.Second)
	}
}

// Every length is checked before it is read: a SetEncodings count at the
// limit is accepted, one above is refused.
func TestSetEncodingsLimit(t *testing.T) {
	fb := NewFramebuffer(16, 16)
	ts := startTestServer(t, fb, Options{Limits: Limits{MaxEncodings: 8}})
	c := ts.dial(t)
	rawHandshake(t, c)
	mustWrite(t, c, clientMsgBytes(&SetEncodings{Encodings: make([]Encoding, 8)},
		&FramebufferUpdateRequest{Rect: image.Rect(0, 0, 16, 16)}))
	hdr := mustRead(t, c, make([]byte, 4))
	if hdr[0] != 0 || binary.BigEndian.Uint16(hdr[2:]) != 1 {
		t.Fatalf("update header %x", hdr)
	}
	mustRead(t, c, make([]byte, 12+16*16*4))
	mustWrite(t, c, clientMsgBytes(&SetEncodings{Encodings: make([]Encoding, 9)}))
	waitClosed(t, c, 5*time.Second)
	waitLog(t, ts, "SetEncodings lists 9 encodings, limit is 8")
}

// Clipboard text over MaxCutText is read and dropped without closing;
// text within the limit arrives converted from Latin-1.
func TestCutTextLimits(t *testing.T) {
	fb := NewFramebuffer(16, 16)
	got := make(chan string, 4)
	ts := startTestServer(t, fb, Options{Limits: Limits{MaxCutText: 100}, OnCutText: func(s string) { got <- s }})
	c := ts.dial(t)
	rawHandshake(t, c)
	mustWrite(t, c, clientMsgBytes(&ClientCutText{Text: bytes.Repeat([]byte("x"), 1000)}, &ClientCutText{Text: []byte("gr\xfc\xdf")}))
	select {
	case s := <-got:
		if s != "grüß" {
			t.Fatalf("cut text %q, want %q", s, "grüß")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no cut text")
	}
	waitLog(t, ts, "clipboard text too long, dropped")
}

// A client that stops reading cannot make the server hold more than a
// bounded amount of memory, does not slow the framebuffer's writer or
// other clients, and is dropped at the write timeout.
func TestClientStopsReading(t *testing.T) {
	const w, h = 800, 600
	fb := NewFramebuffer(w, h)
	ts := startTestServer(t, fb, Options{Limits: Limits{WriteTimeout: time.Second}})

	stuck := ts.dial(t)
	rawHandshake(t, stuck)
	stuck.(*net.TCPConn).SetReadBuffer(4096)
	// Ask for continuous updates of everything and fences, then never read.
	mustWrite(t, stuck, clientMsgBytes(&SetEncodings{Encodings: []Encoding{EncRaw, EncContinuousUpdates}},
		&FramebufferUpdateRequest{Rect: image.Rect(0, 0, w, h)}))

	good := ts.dial(t)
	rawHandshake(t, good)
	mustWrite(t, good, clientMsgBytes(&FramebufferUpdateRequest{Rect: image.Rect(0, 0, w, h)}))
	readUpdate(t, good)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 300 {
		fb.Update(func(img *Image) []image.Rectangle {
			r := image.Rect(0, (i*7)%h, w, (i*7)%h+7)
			// Never black: the server sends only pixels that changed.
			img.Fill(r, uint32(i*0x010203+0x102030))
			return []image.Rectangle{r}
		})
		// The stuck client keeps asking and never reads.
		mustWrite(t, stuck, clientMsgBytes(&FramebufferUpdateRequest{Incremental: true, Rect: image.Rect(0, 0, w, h)}))
		if i%30 == 0 {
			// The reading client still gets every change it asks for.
			mustWrite(t, good, clientMsgBytes(&FramebufferUpdateRequest{Incremental: true, Rect: image.Rect(0, 0, w, h)}))
			readUpdate(t, good)
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	// One frame is 1.9 MB; the stuck client may hold an update buffer and
	// the blocks of its client's picture (at most a frame), nothing that grows
	// with the number of changes.
	if growth > 12<<20 {
		t.Errorf("heap grew by %d bytes while a client was not reading", growth)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ts.srv.NumClients() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stuck client not dropped; %d clients", ts.srv.NumClients())
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitLog(t, ts, "writing to client")
}

// readUpdate reads one FramebufferUpdate of Raw rectangles in the native
// format and returns the rectangles.
func readUpdate(t testing.TB, c net.Conn) []image.Rectangle {
	t.Helper()
	hdr := mustRead(t, c, make([]byte, 4))
	if hdr[0] != 0 {
		t.Fatalf("message type %d, want FramebufferUpdate", hdr[0])
	}
	var rects []image.Rectangle
	for range binary.BigEndian.Uint16(hdr[2:]) {
		rh := mustRead(t, c, make([]byte, 12))
		r := wireRect(rh)
		if e := Encoding(binary.BigEndian.Uint32(rh[8:])); e != EncRaw {
			t.Fatalf("encoding %v", e)
		}
		mustRead(t, c, make([]byte, r.Dx()*r.Dy()*4))
		rects = append(rects, r)
	}
	return rects
}
