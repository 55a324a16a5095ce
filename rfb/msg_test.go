package rfb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// clientMessageCases holds one value of every client message type.
var clientMessageCases = []ClientMessage{
	&SetPixelFormat{Format: NativeFormat},
	&SetPixelFormat{Format: PixelFormat{BPP: 16, Depth: 15, BigEndian: true, TrueColour: true, RedMax: 31, GreenMax: 31, BlueMax: 31, RedShift: 11, GreenShift: 6, BlueShift: 1}},
	&SetEncodings{Encodings: []Encoding{EncCopyRect, EncRaw, EncCursor, EncExtendedDesktopSize, Encoding(-0x3f5e1a32), EncQualityLevel0 + 7}},
	&SetEncodings{Encodings: []Encoding{}},
	&FramebufferUpdateRequest{Incremental: true, Rect: image.Rect(3, 4, 103, 54)},
	&FramebufferUpdateRequest{Rect: image.Rect(0, 0, 65535, 65535)},
	&KeyEvent{Down: true, Keysym: 0xffe1},
	&KeyEvent{Keysym: 0x20ac},
	&PointerEvent{Buttons: 0x81, X: 65535, Y: 7},
	&ClientCutText{Text: []byte("caf\xe9\nzwei")},
	&EnableContinuousUpdates{Enable: true, Rect: image.Rect(1, 2, 3, 4)},
	&EnableContinuousUpdates{Rect: image.Rect(0, 0, 640, 480)},
	&ClientFence{Flags: FenceRequest | FenceBlockBefore | FenceSyncNext, Payload: []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")},
	&ClientFence{Flags: FenceBlockAfter},
	&SetDesktopSize{Width: 1920, Height: 1080, Screens: []Screen{
		{ID: 1, Rect: image.Rect(0, 0, 1280, 1080), Flags: 0},
		{ID: 0xdeadbeef, Rect: image.Rect(1280, 0, 1920, 1080), Flags: 7},
	}},
	&SetDesktopSize{Width: 1, Height: 1, Screens: []Screen{}},
	&QEMUExtendedKeyEvent{Down: true, Keysym: 0, Keycode: 0xcd},
	&ignoredMessage{Type: 10, body: []byte{0, 1, 2, 3, 4}},
}

// TestClientMessageRoundTrip checks that every message a client sends
// parses back, on the server, to the same value: whole and fed one byte at
// a time, alone and back to back.
func TestClientMessageRoundTrip(t *testing.T) {
	var all []byte
	for _, m := range clientMessageCases {
		all = m.appendTo(all)
	}
	for _, chunked := range []bool{false, true} {
		for _, m := range clientMessageCases {
			b := m.appendTo(nil)
			got := parseClientStream(t, b, chunked)
			if len(got) != 1 || !reflect.DeepEqual(got[0], m) {
				t.Errorf("chunked=%v: %T %+v parsed as %+v", chunked, m, m, got)
			}
		}
		got := parseClientStream(t, all, chunked)
		if !reflect.DeepEqual(got, clientMessageCases) {
			t.Errorf("chunked=%v: concatenated stream parsed as %+v", chunked, got)
		}
	}
}

// parseClientStream parses client messages until a clean EOF.
func parseClientStream(t *testing.T, b []byte, chunked bool) []ClientMessage {
	t.Helper()
	var src io.Reader = bytes.NewReader(b)
	if chunked {
		src = iotest.OneByteReader(src)
	}
	r := newWireReader(src)
	l := DefaultLimits.withDefaults()
	var out []ClientMessage
	for {
		m, err := readClientMessage(r, &l)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("after %d messages: %v", len(out), err)
		}
		out = append(out, m)
	}
}

// TestClientMessageTruncated checks that every proper prefix of every
// message is an error, never a message.
func TestClientMessageTruncated(t *testing.T) {
	l := DefaultLimits.withDefaults()
	for _, m := range clientMessageCases {
		b := m.appendTo(nil)
		for n := 1; n < len(b); n++ {
			if got, err := readClientMessage(newWireReader(bytes.NewReader(b[:n])), &l); err == nil {
				t.Errorf("%d of %d bytes of %T parsed as %+v", n, len(b), m, got)
			}
		}
	}
}

// writeRecorder is a net.Conn that keeps what the client writes; reads
// come from elsewhere.
type writeRecorder struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *writeRecorder) Close() error { return nil }

func (w *writeRecorder) take() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := bytes.Clone(w.buf.Bytes())
	w.buf.Reset()
	return b
}

// parsingClient is a client past ServerInit (w×h, pf, encs) whose server
// stream is in; what it writes goes to the recorder.
func parsingClient(t testing.TB, w, h int, pf PixelFormat, encs []Encoding, in io.Reader, l ClientLimits) (*Client, *writeRecorder) {
	t.Helper()
	rec := &writeRecorder{}
	c := newClient(rec, newWireReader(in), l.withDefaults(), nil, Version38, w, h, NativeFormat, "test")
	if err := c.SetPixelFormat(pf); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEncodings(encs...); err != nil {
		t.Fatal(err)
	}
	rec.take()
	return c, rec
}

// Builders for server messages.

func updateBytes(n int, rects ...[]byte) []byte {
	b := []byte{byte(msgFramebufferUpdate), 0, byte(n >> 8), byte(n)}
	for _, r := range rects {
		b = append(b, r...)
	}
	return b
}

func rectBytes(x, y, w, h int, e Encoding, data ...byte) []byte {
	return append(appendRectHeader(nil, image.Rect(x, y, x+w, y+h), e), data...)
}

func pixelBytes(pf PixelFormat, img *Image, r image.Rectangle) []byte {
	return newConverter(pf).appendRect(nil, img, r)
}

// testPattern returns a w×h image where every pixel differs from its
// neighbours in every channel.
func testPattern(w, h int) *Image {
	m := NewImage(w, h)
	for y := range h {
		for x := range w {
			m.Fill(image.Rect(x, y, x+1, y+1), uint32(x*37+y*11)&0xff<<16|uint32(x*5+y*71+40)&0xff<<8|uint32(x*x+y*3+90)&0xff)
		}
	}
	return m
}

// quantizedImage is m as a client in pf sees it: each channel scaled to
// the channel's maximum and back, both with rounding.
func quantizedImage(m *Image, pf PixelFormat) *Image {
	q := func(c uint32, max uint16) uint32 {
		v := (uint64(c)*uint64(max)*2 + 255) / 510 // round(c*max/255)
		return uint32((v*255*2 + uint64(max)) / (2 * uint64(max)))
	}
	out := NewImage(m.W, m.H)
	for y := range m.H {
		for x := range m.W {
			rgb := m.RGB(x, y)
			out.Fill(image.Rect(x, y, x+1, y+1), q(rgb>>16&0xff, pf.RedMax)<<16|q(rgb>>8&0xff, pf.GreenMax)<<8|q(rgb&0xff, pf.BlueMax))
		}
	}
	return out
}

// imageDiff describes the first difference between two images, or "".
func imageDiff(got, want *Image) string {
	if got.W != want.W || got.H != want.H {
		return "size " + image.Pt(got.W, got.H).String() + ", want " + image.Pt(want.W, want.H).String()
	}
	for y := range want.H {
		for x := range want.W {
			if g, w := got.RGB(x, y), want.RGB(x, y); g != w {
				return image.Pt(x, y).String() + ": " + hex6(g) + ", want " + hex6(w)
			}
		}
	}
	return ""
}

func hex6(v uint32) string {
	const digits = "0123456789abcdef"
	b := []byte("#000000")
	for i := 6; i > 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b)
}

var allClientEncodings = []Encoding{EncRaw, EncCopyRect, EncCursor, EncCursorWithAlpha, EncVMwareCursor, EncDesktopSize,
	EncExtendedDesktopSize, EncLastRect, EncDesktopName, EncQEMUExtendedKey, EncFence, EncContinuousUpdates}

// TestServerMessageParse feeds hand-built server messages to a client,
// whole and one byte at a time, and checks what it returns, what it
// applies and what it answers.
func TestServerMessageParse(t *testing.T) {
	src := testPattern(8, 6)
	rgb565be := FormatRGB565
	rgb565be.BigEndian = true
	type check func(t *testing.T, c *Client, m ServerMessage, sent []byte)
	cases := []struct {
		name  string
		pf    PixelFormat
		encs  []Encoding
		in    []byte
		check check
		err   string // substring of the expected error
	}{
		{name: "bell", in: []byte{2}, check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
			if _, ok := m.(*Bell); !ok {
				t.Errorf("got %T", m)
			}
		}},
		{name: "cut text latin-1", in: append([]byte{3, 0, 0, 0, 0, 0, 0, 8}, "caf\xe9 \xbd\n!"...), check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
			if m, ok := m.(*ServerCutText); !ok || m.Text != "café ½\n!" || m.Dropped != 0 {
				t.Errorf("got %#v", m)
			}
		}},
		{name: "cut text empty", in: []byte{3, 0, 0, 0, 0, 0, 0, 0}, check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
			if m, ok := m.(*ServerCutText); !ok || m.Text != "" {
				t.Errorf("got %#v", m)
			}
		}},
		{name: "cut text over limit dropped", in: append([]byte{3, 0, 0, 0, 0, 0, 0, 65}, bytes.Repeat([]byte{'x'}, 65)...), check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
			if m, ok := m.(*ServerCutText); !ok || m.Text != "" || m.Dropped != 65 {
				t.Errorf("got %#v", m)
			}
		}},
		{name: "cut text extended clipboard not asked for", in: []byte{3, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0}, err: "did not ask for"},
		{name: "colour map", in: []byte{1, 0, 0, 5, 0, 2, 0, 1, 0, 2, 0, 3, 0xff, 0xff, 0, 0, 0x80, 0}, check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
			want := &SetColourMapEntries{First: 5, Colours: []Colour{{1, 2, 3}, {0xffff, 0, 0x8000}}}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("got %#v", m)
			}
		}},
		{name: "end of continuous updates", encs: []Encoding{EncContinuousUpdates}, in: []byte{150}, check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
			if _, ok := m.(*EndOfContinuousUpdates); !ok || !c.ServerSupports(EncContinuousUpdates) {
				t.Errorf("got %T, supported %v", m, c.ServerSupports(EncContinuousUpdates))
			}
		}},
		{name: "end of continuous updates unasked", in: []byte{150}, err: "did not ask for ContinuousUpdates"},
		{name: "fence request answered", encs: []Encoding{EncFence}, in: appendFence(nil, 248, FenceRequest|FenceBlockBefore|1<<9, []byte("xyz")),
			check: func(t *testing.T, c *Client, m ServerMessage, sent []byte) {
				if !reflect.DeepEqual(m, &ServerFence{Flags: FenceRequest | FenceBlockBefore | 1<<9, Payload: []byte("xyz")}) {
					t.Errorf("got %#v", m)
				}
				if want := appendFence(nil, byte(MsgClientFence), FenceBlockBefore, []byte("xyz")); !bytes.Equal(sent, want) {
					t.Errorf("client answered %x, want %x", sent, want)
				}
			}},
		{name: "fence reply not answered", encs: []Encoding{EncFence}, in: appendFence(nil, 248, FenceSyncNext, nil),
			check: func(t *testing.T, c *Client, m ServerMessage, sent []byte) {
				if len(sent) != 0 {
					t.Errorf("client answered a fence response: %x", sent)
				}
			}},
		{name: "fence payload too long", encs: []Encoding{EncFence}, in: append([]byte{248, 0, 0, 0, 0, 0, 0, 0, 65}, make([]byte, 65)...), err: "fence payload"},
		{name: "fence unasked", in: appendFence(nil, 248, FenceRequest, nil), err: "did not ask for Fence"},
		{name: "unknown type", in: []byte{77}, err: "unknown server message type 77"},
		{name: "xvp unasked", in: []byte{250, 0, 1, 1}, err: "unknown server message type 250"},
		{name: "raw native", in: updateBytes(1, rectBytes(0, 0, 8, 6, EncRaw, pixelBytes(NativeFormat, src, src.Bounds())...)),
			check: wantImage(src, image.Rect(0, 0, 8, 6))},
		{name: "raw rgb565 big-endian part", pf: rgb565be, in: updateBytes(1, rectBytes(2, 1, 5, 4, EncRaw, pixelBytes(rgb565be, src, image.Rect(2, 1, 7, 5))...)),
			check: wantImage(quantizedImage(src, rgb565be), image.Rect(2, 1, 7, 5))},
		{name: "raw rgb332", pf: FormatRGB332, in: updateBytes(1, rectBytes(0, 0, 8, 6, EncRaw, pixelBytes(FormatRGB332, src, src.Bounds())...)),
			check: wantImage(quantizedImage(src, FormatRGB332), src.Bounds())},
		{name: "raw empty rectangle", in: updateBytes(1, rectBytes(8, 6, 0, 0, EncRaw)), check: wantRects(UpdateRect{Rect: image.Rect(8, 6, 8, 6)})},
		{name: "zero rectangles", in: updateBytes(0), check: wantRects()},
		{name: "raw outside framebuffer", in: updateBytes(1, rectBytes(4, 4, 5, 2, EncRaw)), err: "outside the 8x6 framebuffer"},
		{name: "raw truncated", in: updateBytes(1, rectBytes(0, 0, 8, 6, EncRaw, 1, 2, 3)), err: io.ErrUnexpectedEOF.Error()},
		{name: "copyrect", encs: []Encoding{EncCopyRect},
			in: updateBytes(2, rectBytes(0, 0, 8, 6, EncRaw, pixelBytes(NativeFormat, src, src.Bounds())...), rectBytes(1, 1, 4, 3, EncCopyRect, 0, 3, 0, 2)),
			check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
				want := src.Clone()
				want.move(image.Rect(1, 1, 5, 4), image.Pt(3, 2))
				wantImage(want, want.Bounds())(t, c, m, nil)
				wantRects(UpdateRect{Rect: src.Bounds()}, UpdateRect{Rect: image.Rect(1, 1, 5, 4), Encoding: EncCopyRect, Src: image.Pt(3, 2)})(t, c, m, nil)
			}},
		{name: "copyrect source outside", encs: []Encoding{EncCopyRect}, in: updateBytes(1, rectBytes(0, 0, 4, 3, EncCopyRect, 0, 5, 0, 0)), err: "CopyRect source"},
		{name: "copyrect unasked", in: updateBytes(1, rectBytes(0, 0, 4, 3, EncCopyRect, 0, 1, 0, 0)), err: "did not ask for"},
		{name: "cursor", encs: []Encoding{EncCursor}, in: updateBytes(1, rectBytes(2, 1, 3, 2, EncCursor, append(pixelBytes(NativeFormat, src, image.Rect(0, 0, 3, 2)), 0xa0, 0x40)...)),
			check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
				img, mask, hot, ok := c.Cursor()
				if !ok || hot != image.Pt(2, 1) || !bytes.Equal(mask, []byte{0xa0, 0x40}) {
					t.Errorf("cursor ok=%v hotspot %v mask %x", ok, hot, mask)
				}
				want := NewImage(3, 2)
				want.copyFrom(image.Point{}, src, src.Bounds())
				if d := imageDiff(img, want); d != "" {
					t.Errorf("cursor image: %s", d)
				}
			}},
		{name: "cursor hidden", encs: []Encoding{EncCursor}, in: updateBytes(1, rectBytes(0, 0, 0, 0, EncCursor)),
			check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
				img, mask, _, ok := c.Cursor()
				if !ok || img.W != 0 || img.H != 0 || len(mask) != 0 {
					t.Errorf("cursor ok=%v %dx%d mask %x", ok, img.W, img.H, mask)
				}
			}},
		{name: "cursor too large", encs: []Encoding{EncCursor}, in: updateBytes(1, rectBytes(0, 0, 1025, 1, EncCursor)), err: "cursor of 1025x1"},
		{name: "desktop size", encs: []Encoding{EncDesktopSize}, in: updateBytes(1, rectBytes(0, 0, 20, 30, EncDesktopSize)),
			check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
				if w, h := c.Size(); w != 20 || h != 30 || c.Framebuffer().RGB(19, 29) != 0 {
					t.Errorf("size %dx%d", w, h)
				}
				wantRects(UpdateRect{Rect: image.Rect(0, 0, 20, 30), Encoding: EncDesktopSize})(t, c, m, nil)
			}},
		{name: "desktop size too large", encs: []Encoding{EncDesktopSize}, in: updateBytes(1, rectBytes(0, 0, 16385, 1, EncDesktopSize)), err: "exceeds the client's limits"},
		{name: "desktop size too many pixels", encs: []Encoding{EncDesktopSize}, in: updateBytes(1, rectBytes(0, 0, 16384, 4097, EncDesktopSize)), err: "exceeds the client's limits"},
		{name: "extended desktop size", encs: []Encoding{EncExtendedDesktopSize},
			in: updateBytes(1, appendScreens(rectBytes(2, 0, 30, 10, EncExtendedDesktopSize), []Screen{{ID: 9, Rect: image.Rect(0, 0, 30, 10), Flags: 1}})),
			check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
				if w, h := c.Size(); w != 30 || h != 10 || !c.ServerSupports(EncExtendedDesktopSize) {
					t.Errorf("size %dx%d", w, h)
				}
				wantRects(UpdateRect{Rect: image.Rect(0, 0, 30, 10), Encoding: EncExtendedDesktopSize, Reason: DesktopSizeByOther,
					Screens: []Screen{{ID: 9, Rect: image.Rect(0, 0, 30, 10), Flags: 1}}})(t, c, m, nil)
			}},
		{name: "extended desktop size refused", encs: []Encoding{EncExtendedDesktopSize},
			in: updateBytes(1, appendScreens(rectBytes(1, 3, 30, 10, EncExtendedDesktopSize), nil)),
			check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
				if w, h := c.Size(); w != 8 || h != 6 {
					t.Errorf("size %dx%d after a refused request", w, h)
				}
				wantRects(UpdateRect{Rect: image.Rect(0, 0, 30, 10), Encoding: EncExtendedDesktopSize, Reason: DesktopSizeByClient,
					Status: DesktopSizeInvalid, Screens: []Screen{}})(t, c, m, nil)
			}},
		{name: "extended desktop size same size keeps pixels", encs: []Encoding{EncExtendedDesktopSize},
			in: updateBytes(2, rectBytes(0, 0, 8, 6, EncRaw, pixelBytes(NativeFormat, src, src.Bounds())...),
				appendScreens(rectBytes(0, 0, 8, 6, EncExtendedDesktopSize), []Screen{{Rect: image.Rect(0, 0, 8, 6)}})),
			check: wantImage(src, src.Bounds())},
		{name: "desktop name utf-8", encs: []Encoding{EncDesktopName}, in: updateBytes(1, appendString(rectBytes(0, 0, 0, 0, EncDesktopName), "Büro ☕")),
			check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
				if c.Name() != "Büro ☕" {
					t.Errorf("name %q", c.Name())
				}
			}},
		{name: "desktop name latin-1", encs: []Encoding{EncDesktopName}, in: updateBytes(1, appendString(rectBytes(0, 0, 0, 0, EncDesktopName), "B\xfcro")),
			check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
				if c.Name() != "Büro" {
					t.Errorf("name %q", c.Name())
				}
			}},
		{name: "desktop name too long", encs: []Encoding{EncDesktopName}, in: updateBytes(1, rectBytes(0, 0, 0, 0, EncDesktopName, 0, 1, 0, 1)), err: "desktop name of 65537 bytes"},
		{name: "qemu extended key", encs: []Encoding{EncQEMUExtendedKey}, in: updateBytes(1, rectBytes(0, 0, 0, 0, EncQEMUExtendedKey)),
			check: func(t *testing.T, c *Client, m ServerMessage, _ []byte) {
				if !c.ServerSupports(EncQEMUExtendedKey) {
					t.Error("QEMU extended key events not recorded")
				}
			}},
		{name: "last rect", encs: []Encoding{EncLastRect},
			in:    updateBytes(0xffff, rectBytes(0, 0, 1, 1, EncRaw, 1, 2, 3, 0), rectBytes(1, 0, 1, 1, EncRaw, 4, 5, 6, 0), rectBytes(0, 0, 0, 0, EncLastRect)),
			check: wantRects(UpdateRect{Rect: image.Rect(0, 0, 1, 1)}, UpdateRect{Rect: image.Rect(1, 0, 2, 1)})},
		{name: "last rect unasked", in: updateBytes(1, rectBytes(0, 0, 0, 0, EncLastRect)), err: "LastRect rectangle"},
		{name: "pseudo-encoding without data", encs: []Encoding{EncFence}, in: updateBytes(1, rectBytes(0, 0, 0, 0, EncFence)), err: "nothing the client can decode"},
		{name: "unasked pseudo-encoding", in: updateBytes(1, rectBytes(0, 0, 0, 0, EncDesktopSize)), err: "did not ask for"},
	}
	for _, tc := range cases {
		for _, chunked := range []bool{false, true} {
			name := tc.name
			if chunked {
				name += "/chunked"
			}
			t.Run(name, func(t *testing.T) {
				var in io.Reader = bytes.NewReader(tc.in)
				if chunked {
					in = iotest.OneByteReader(in)
				}
				pf := tc.pf
				if pf == (PixelFormat{}) {
					pf = NativeFormat
				}
				c, rec := parsingClient(t, 8, 6, pf, tc.encs, in, ClientLimits{MaxCutText: 64})
				m, err := c.ReadMessage()
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("got %T, %v; want error containing %q", m, err, tc.err)
					}
					if _, err2 := c.ReadMessage(); err2 != err {
						t.Errorf("second ReadMessage after an error: %v", err2)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c, m, rec.take())
				if m, err := c.ReadMessage(); err != io.EOF {
					t.Errorf("after the message: %T, %v; want io.EOF", m, err)
				}
			})
		}
	}
}

// wantImage checks that the client's framebuffer equals want inside r.
func wantImage(want *Image, r image.Rectangle) func(*testing.T, *Client, ServerMessage, []byte) {
	return func(t *testing.T, c *Client, _ ServerMessage, _ []byte) {
		t.Helper()
		got := NewImage(r.Dx(), r.Dy())
		got.copyFrom(image.Point{}, c.Framebuffer(), r)
		w := NewImage(r.Dx(), r.Dy())
		w.copyFrom(image.Point{}, want, r)
		if d := imageDiff(got, w); d != "" {
			t.Errorf("framebuffer %v: %s", r, d)
		}
	}
}

// wantRects checks the rectangles of a FramebufferUpdate.
func wantRects(want ...UpdateRect) func(*testing.T, *Client, ServerMessage, []byte) {
	return func(t *testing.T, _ *Client, m ServerMessage, _ []byte) {
		t.Helper()
		u, ok := m.(*FramebufferUpdate)
		if !ok {
			t.Fatalf("got %T, want *FramebufferUpdate", m)
		}
		if len(want) == 0 && len(u.Rects) == 0 {
			return
		}
		if !reflect.DeepEqual(u.Rects, want) {
			t.Errorf("rects %+v\nwant  %+v", u.Rects, want)
		}
	}
}

// TestServerMessageLimits checks each ClientLimits field at its edge.
func TestServerMessageLimits(t *testing.T) {
	l := ClientLimits{MaxWidth: 40, MaxHeight: 30, MaxPixels: 1000, MaxCutText: 10, MaxDesktopName: 5, MaxCursor: 16, MaxUpdateRects: 3}
	empty := rectBytes(0, 0, 0, 0, EncRaw)
	for _, tc := range []struct {
		name string
		in   []byte
		err  bool
	}{
		{"width at limit", updateBytes(1, rectBytes(0, 0, 40, 25, EncDesktopSize)), false},
		{"width over limit", updateBytes(1, rectBytes(0, 0, 41, 1, EncDesktopSize)), true},
		{"height over limit", updateBytes(1, rectBytes(0, 0, 1, 31, EncDesktopSize)), true},
		{"pixels over limit", updateBytes(1, rectBytes(0, 0, 40, 26, EncDesktopSize)), true},
		{"cut text at limit", append([]byte{3, 0, 0, 0, 0, 0, 0, 10}, "0123456789"...), false},
		{"name at limit", updateBytes(1, appendString(rectBytes(0, 0, 0, 0, EncDesktopName), "12345")), false},
		{"name over limit", updateBytes(1, appendString(rectBytes(0, 0, 0, 0, EncDesktopName), "123456")), true},
		{"cursor at limit", updateBytes(1, rectBytes(0, 0, 16, 1, EncCursor, make([]byte, 16*4+2)...)), false},
		{"cursor over limit", updateBytes(1, rectBytes(0, 0, 1, 17, EncCursor, make([]byte, 17*4+17)...)), true},
		{"rects at limit", updateBytes(0xffff, empty, empty, empty, rectBytes(0, 0, 0, 0, EncLastRect)), false},
		{"rects over limit", updateBytes(0xffff, empty, empty, empty, empty, rectBytes(0, 0, 0, 0, EncLastRect)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := parsingClient(t, 8, 6, NativeFormat, allClientEncodings, bytes.NewReader(tc.in), l)
			_, err := c.ReadMessage()
			var pe *ProtocolError
			if tc.err != errors.As(err, &pe) || (!tc.err && err != nil) {
				t.Fatalf("err = %v, want protocol error: %v", err, tc.err)
			}
		})
	}
}

// TestServerInitParse checks the client's reading of ServerInit through a
// scripted server.
func TestServerInitParse(t *testing.T) {
	si := func(w, h int, pf PixelFormat, name string) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(w))
		b = binary.BigEndian.AppendUint16(b, uint16(h))
		return appendString(pf.appendTo(b), name)
	}
	colourMap := FormatRGB332
	colourMap.TrueColour = false
	bpp24 := NativeFormat
	bpp24.BPP = 24
	for _, tc := range []struct {
		name     string
		init     []byte
		wantName string
		err      string
	}{
		{"native", si(640, 480, NativeFormat, "desk"), "desk", ""},
		{"rgb565", si(1, 1, FormatRGB565, "x"), "x", ""},
		{"utf-8 name", si(2, 2, NativeFormat, "Büro ☕"), "Büro ☕", ""},
		{"latin-1 name", si(2, 2, NativeFormat, "B\xfcro"), "Büro", ""},
		{"colour map", si(2, 2, colourMap, ""), "", "colour-map"},
		{"24 bpp", si(2, 2, bpp24, ""), "", "bits-per-pixel"},
		{"too wide", si(16385, 2, NativeFormat, ""), "", "exceeds the client's limits"},
		{"name too long", binary.BigEndian.AppendUint32(NativeFormat.appendTo([]byte{0, 1, 0, 1}), 1<<20), "", "desktop name of 1048576 bytes"},
		{"truncated", si(2, 2, NativeFormat, "name")[:25], "", "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := scriptedClient(t, ClientConfig{}, func(s *scriptPeer) {
				s.send("RFB 003.008\n")
				s.recv(12)
				s.send("\x01\x01")
				s.recv(1)
				s.send("\x00\x00\x00\x00")
				s.recv(1)
				s.send(string(tc.init))
			})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Name() != tc.wantName {
				t.Errorf("name %q, want %q", c.Name(), tc.wantName)
			}
			w, h := c.Size()
			if w != int(binary.BigEndian.Uint16(tc.init)) || h != int(binary.BigEndian.Uint16(tc.init[2:])) || c.PixelFormat() != parsePixelFormat(tc.init[4:]) {
				t.Errorf("size %dx%d, format %v", w, h, c.PixelFormat())
			}
		})
	}
}
