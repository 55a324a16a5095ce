package rfb

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"net"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// tapConn records what the server sends to the client.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	got bytes.Buffer
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.got.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.got.Bytes())
}

// recordHandshake returns what the real server sends to a client during a
// handshake, successful or not.
func recordHandshake(t testing.TB, opts Options, cfg ClientConfig) []byte {
	t.Helper()
	var tap *tapConn
	c, err := connectPipe(t, NewServer(NewFramebufferFromImage(testPattern(24, 16)), opts), cfg,
		func(c net.Conn) net.Conn { tap = &tapConn{Conn: c}; return tap })
	if err == nil {
		c.Close()
	}
	return tap.bytes()
}

// fuzzFormats are the pixel formats FuzzClientReadMessage picks from.
var fuzzFormats = []PixelFormat{
	NativeFormat,
	{BPP: 16, Depth: 16, BigEndian: true, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5},
	FormatRGB332,
	{BPP: 32, Depth: 30, TrueColour: true, RedMax: 1023, GreenMax: 1023, BlueMax: 1023, RedShift: 20, GreenShift: 10},
}

// clientSession is the result of recordSession.
type clientSession struct {
	stream   []byte // everything the server sent after ServerInit
	fb       *Image // the client's framebuffer at the end
	name     string
	cursor   *Image
	mask     []byte
	hotspot  image.Point
	messages int
}

// recordSession runs a session with the real server that uses every
// feature the client supports, with the client in pf, and records the
// server's side. The framebuffer starts as testPattern(24, 16).
func recordSession(t testing.TB, pf PixelFormat) clientSession {
	t.Helper()
	src := testPattern(24, 16)
	fb := NewFramebufferFromImage(src)
	srv := NewServer(fb, Options{})
	var tap *tapConn
	c, err := connectPipe(t, srv, ClientConfig{}, func(c net.Conn) net.Conn { tap = &tapConn{Conn: c}; return tap })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := len(tap.bytes()) // the server says nothing more until asked
	var s clientSession
	read := func() ServerMessage {
		t.Helper()
		s.messages++
		return nextMessage(t, c)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	full := image.Rect(0, 0, 24, 16)
	must(c.SetPixelFormat(pf))
	must(c.SetEncodings(allClientEncodings...))
	read() // ServerFence request
	read() // EndOfContinuousUpdates
	must(c.RequestFull())
	syncTo(t, c, quantizedImage(src, pf))

	shape := image.NewNRGBA(image.Rect(0, 0, 9, 5))
	for i := range shape.Pix {
		shape.Pix[i] = byte(i * 29)
	}
	fb.SetCursor(shape, image.Pt(2, 1))
	must(c.RequestUpdate(true, full))
	read()
	srv.SetDesktopName("fuzz ☕")
	must(c.RequestUpdate(true, full))
	read()
	srv.SendCutText("clip ä")
	srv.Bell()
	read()
	read()

	fb.Move(image.Rect(2, 3, 20, 12), image.Pt(5, 4))
	fb.Update(func(img *Image) []image.Rectangle {
		img.Fill(image.Rect(0, 0, 3, 2), 0x123456)
		return []image.Rectangle{image.Rect(0, 0, 3, 2)}
	})
	must(c.RequestUpdate(true, full))
	syncTo(t, c, quantizedImage(fb.Snapshot(), pf))
	must(c.Send(&ClientFence{Flags: FenceRequest | FenceSyncNext, Payload: []byte("seed")}))
	read()

	must(c.Send(&EnableContinuousUpdates{Enable: true, Rect: full}))
	fb.Update(func(img *Image) []image.Rectangle {
		img.Fill(image.Rect(10, 10, 12, 16), 0xfedcba)
		return []image.Rectangle{image.Rect(10, 10, 12, 16)}
	})
	read()
	must(c.Send(&EnableContinuousUpdates{Enable: false}))
	read()

	bigger := NewImage(30, 20)
	bigger.copyFrom(image.Point{}, testPattern(40, 40), image.Rect(5, 5, 35, 25))
	fb.SetImage(bigger)
	must(c.RequestUpdate(true, full))
	read() // ExtendedDesktopSize
	must(c.RequestUpdate(true, image.Rect(0, 0, 30, 20)))
	syncTo(t, c, quantizedImage(bigger, pf))

	s.stream = tap.bytes()[start:]
	s.fb = c.Framebuffer().Clone()
	s.name = c.Name()
	s.cursor, s.mask, s.hotspot, _ = c.Cursor()
	return s
}

// TestClientReplaysSession replays a recorded session, one byte at a time,
// into a fresh client: it must end in the state the live client reached.
// This checks that parsing depends on nothing but the bytes and that
// chunked input is handled everywhere.
func TestClientReplaysSession(t *testing.T) {
	for _, pf := range fuzzFormats {
		t.Run(pf.String(), func(t *testing.T) {
			s := recordSession(t, pf)
			c, _ := parsingClient(t, 24, 16, pf, allClientEncodings, iotest.OneByteReader(bytes.NewReader(s.stream)), ClientLimits{})
			n := 0
			for {
				_, err := c.ReadMessage()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("message %d: %v", n, err)
				}
				n++
			}
			if n < s.messages {
				t.Errorf("replay read %d messages, the session %d", n, s.messages)
			}
			checkImage(t, c, s.fb)
			img, mask, hot, ok := c.Cursor()
			if c.Name() != s.name || !ok || imageDiff(img, s.cursor) != "" || !bytes.Equal(mask, s.mask) || hot != s.hotspot {
				t.Errorf("replay ends with name %q cursor %v, want %q %v", c.Name(), hot, s.name, s.hotspot)
			}
		})
	}
}

// fuzzClientLimits keep a fuzzed client small.
var fuzzClientLimits = ClientLimits{MaxWidth: 300, MaxHeight: 300, MaxPixels: 1 << 16, MaxCutText: 4096,
	MaxReason: 1024, MaxDesktopName: 1024, MaxCursor: 64, MaxUpdateRects: 4096}

// FuzzClientReadMessage feeds arbitrary server messages to a client past
// ServerInit (24×16, every encoding it supports, pixel format chosen by
// sel). It must return errors, never panic, and keep its state within
// the limits. (FuzzClientMessages, in fuzz_server_test.go, fuzzes the
// server's side.)
func FuzzClientReadMessage(f *testing.F) {
	for i, pf := range fuzzFormats {
		s := recordSession(f, pf)
		f.Add(uint8(i), s.stream)
		f.Add(uint8(i), s.stream[:len(s.stream)/2])
	}
	for _, in := range [][]byte{
		{},
		{2, 2, 2},
		{150, 248},
		updateBytes(0),
		updateBytes(0xffff, rectBytes(0, 0, 0, 0, EncRaw), rectBytes(0, 0, 0, 0, EncLastRect)),
		updateBytes(0xffff, rectBytes(0, 0, 1, 1, EncRaw, 1, 2, 3, 4)),
		updateBytes(1, rectBytes(0, 0, 24, 16, EncCopyRect, 0, 0, 0, 0)),
		updateBytes(1, rectBytes(1, 1, 23, 15, EncCopyRect, 0, 0, 0, 0)),
		updateBytes(1, rectBytes(0, 0, 0xffff, 0xffff, EncDesktopSize)),
		updateBytes(2, rectBytes(0, 0, 300, 218, EncDesktopSize), rectBytes(0, 0, 300, 218, EncRaw)),
		updateBytes(1, appendScreens(rectBytes(0, 0, 100, 100, EncExtendedDesktopSize), make([]Screen, 255))),
		updateBytes(1, rectBytes(3, 3, 64, 64, EncCursor)),
		updateBytes(1, rectBytes(1, 1, 2, 1, EncCursorWithAlpha, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8)),
		updateBytes(1, rectBytes(1, 1, 2, 1, EncCursorWithAlpha, 0, 0, 0, 7)),
		updateBytes(1, rectBytes(0, 0, 1, 1, EncVMwareCursor, 1, 0, 9, 8, 7, 6)),
		updateBytes(1, rectBytes(0, 0, 1, 1, EncVMwareCursor, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4)),
		updateBytes(1, rectBytes(0, 0, 1, 1, EncVMwareCursor, 2, 0)),
		updateBytes(1, rectBytes(0, 0, 0, 0, EncDesktopName, 0xff, 0xff, 0xff, 0xff)),
		updateBytes(1, rectBytes(0, 0, 0, 0, EncQEMUExtendedKey)),
		updateBytes(1, rectBytes(0, 0, 0, 0, EncFence)),
		{3, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff},
		{3, 0, 0, 0, 0, 0, 0x10, 1, 'a'},
		{1, 0, 0, 0, 0xff, 0xff},
		{248, 0, 0, 0, 0x80, 0, 0, 7, 64},
	} {
		f.Add(uint8(0), in)
	}
	f.Fuzz(func(t *testing.T, sel uint8, in []byte) {
		pf := fuzzFormats[int(sel)%len(fuzzFormats)]
		c, _ := parsingClient(t, 24, 16, pf, allClientEncodings, bytes.NewReader(in), fuzzClientLimits)
		for {
			m, err := c.ReadMessage()
			if err != nil {
				return
			}
			fb := c.Framebuffer()
			if fb.W > fuzzClientLimits.MaxWidth || fb.H > fuzzClientLimits.MaxHeight || len(fb.Pix) != fb.W*fb.H*4 {
				t.Fatalf("framebuffer %dx%d with %d bytes", fb.W, fb.H, len(fb.Pix))
			}
			if img, mask, _, ok := c.Cursor(); ok && len(mask) != (img.W+7)/8*img.H {
				t.Fatalf("cursor %dx%d with a %d-byte mask", img.W, img.H, len(mask))
			}
			if u, ok := m.(*FramebufferUpdate); ok {
				for _, r := range u.Rects {
					if !r.Encoding.IsPseudo() && !r.Rect.In(image.Rect(0, 0, fb.W, fb.H)) {
						t.Fatalf("%v rectangle %v outside %dx%d", r.Encoding, r.Rect, fb.W, fb.H)
					}
				}
			}
		}
	})
}

// FuzzClientHandshake plays a server that sends arbitrary bytes to
// NewClient (every security type enabled). The client must fail or
// succeed, never panic, and never wait for more than the server sends.
func FuzzClientHandshake(f *testing.F) {
	serverTLS, clientTLS := testTLS(f)
	cfg := ClientConfig{
		Security:  []SecurityType{SecVeNCrypt, SecVNCAuth, SecNone},
		Password:  "pw",
		Username:  "user",
		TLSConfig: clientTLS,
		Limits:    fuzzClientLimits,
	}
	for _, v := range []Version{Version33, Version37, Version38} {
		for _, seed := range []struct {
			opts Options
			cfg  ClientConfig
		}{
			{Options{Name: "none"}, ClientConfig{}},
			{Options{Password: "pw"}, ClientConfig{Password: "pw"}},
			{Options{Password: "pw"}, ClientConfig{Password: "wrong"}},
			{Options{Security: []SecurityType{SecVeNCrypt}, TLSConfig: serverTLS, Password: "pw"},
				ClientConfig{Security: []SecurityType{SecVeNCrypt}, TLSConfig: clientTLS, Password: "pw"}},
		} {
			c := seed.cfg
			c.MaxVersion = v
			f.Add(recordHandshake(f, seed.opts, c))
		}
	}
	si := func(w, h int, pf PixelFormat, name string) string {
		return string(appendString(pf.appendTo([]byte{byte(w >> 8), byte(w), byte(h >> 8), byte(h)}), name))
	}
	for _, s := range []string{
		"",
		"RFB 003.008\n",
		"RFB 003.008\n\x01\x01\x00\x00\x00\x00" + si(24, 16, NativeFormat, "x"),
		"RFB 003.003\n\x00\x00\x00\x01" + si(1, 1, FormatRGB332, ""),
		"RFB 003.007\n\x02\x01\x02" + si(0, 0, FormatRGB565, "latin \xe9"),
		"RFB 003.008\n\x01\x01\x00\x00\x00\x00" + si(0xffff, 0xffff, NativeFormat, ""),
		"RFB 003.008\n\x01\x01\x00\x00\x00\x00\x00\x01\x00\x01" + string(NativeFormat.appendTo(nil)) + "\xff\xff\xff\xff",
		"RFB 003.003\n\x00\x00\x00\x00\x00\x00\x00\x05hello",
		"RFB 003.003\n\x00\x00\x00\x00\xff\xff\xff\xff",
		"RFB 003.008\n\x00\x00\x00\x00\x03why",
		"RFB 003.008\n\x01\x02" + "0123456789abcdef" + "\x00\x00\x00\x01\x00\x00\x00\x04nope",
		"RFB 003.008\n\x01\x13\x00\x02\x00\x03\x00\x00\x01\x06\x00\x00\x01\x05\x00\x00\x01\x04\x01",
		"RFB 003.008\n\x01\x13\x00\x02\x00\x01\x00\x00\x01\x04\x01\x16\x03\x03\x00\x05hello",
		"RFB 003.889\n\x01\x01\x00\x00\x00\x00",
		"RFB 000.000\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cc, sc := net.Pipe()
		var wg sync.WaitGroup
		wg.Go(func() { io.Copy(io.Discard, sc) })
		wg.Go(func() {
			sc.Write(in)
			sc.Close()
		})
		defer wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := NewClient(ctx, cc, cfg)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("NewClient waited for more than the server sent: %v", err)
		}
		if err != nil {
			return
		}
		defer c.Close()
		if w, h := c.Size(); w > cfg.Limits.MaxWidth || h > cfg.Limits.MaxHeight || len(c.Name()) > cfg.Limits.MaxDesktopName {
			t.Fatalf("accepted a %dx%d framebuffer named %q", w, h, c.Name())
		}
		if err := c.PixelFormat().Validate(); err != nil {
			t.Fatalf("accepted pixel format %v: %v", c.PixelFormat(), err)
		}
	})
}
