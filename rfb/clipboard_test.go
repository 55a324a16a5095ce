package rfb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/zlib"
)

var clipboardCases = []*ExtendedClipboard{
	{Flags: ClipCaps | ClipText | ClipHTML | ClipRequest | ClipNotify | ClipProvide, Sizes: []uint32{0, 2 << 20}},
	{Flags: ClipNotify | ClipText},
	{Flags: ClipNotify},
	{Flags: ClipRequest | ClipText},
	{Flags: ClipPeek},
	{Flags: ClipProvide | ClipText, Text: "Grüße, 世界\nzweite Zeile\n", HasText: true},
	{Flags: ClipProvide | ClipText, Text: "", HasText: true},
	{Flags: ClipProvide},
}

// TestExtendedClipboardRoundTrip: every message parses back as it was
// written, whole and a byte at a time, in a ClientCutText and in a
// ServerCutText.
func TestExtendedClipboardRoundTrip(t *testing.T) {
	l := DefaultLimits.withDefaults()
	for _, m := range clipboardCases {
		for _, chunked := range []bool{false, true} {
			got := parseClientStream(t, m.appendTo(nil), chunked)
			if len(got) != 1 || !reflect.DeepEqual(got[0], m) {
				t.Errorf("chunked=%v: %+v parsed as %+v", chunked, m, got)
			}
		}
		b := m.appendTo(nil)
		for n := 1; n < len(b); n++ {
			if got, err := readClientMessage(newWireReader(bytes.NewReader(b[:n])), &l); err == nil {
				t.Errorf("%d of %d bytes of %+v parsed as %+v", n, len(b), m, got)
			}
		}
		// The server's form: type 3, read by a client that asked for it.
		c, _ := parsingClient(t, 8, 8, NativeFormat, []Encoding{EncRaw, EncExtendedClipboard},
			bytes.NewReader(m.appendAs(nil, byte(msgServerCutText))), ClientLimits{})
		got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		if m.HasText {
			if s, ok := got.(*ServerCutText); !ok || s.Text != m.Text {
				t.Errorf("provide %q read as %+v", m.Text, got)
			}
		} else if !reflect.DeepEqual(got, m) {
			t.Errorf("%+v read as %+v", m, got)
		}
	}
}

// TestExtendedClipboardWireText: CRLF and a terminating NUL on the wire,
// LF and no NUL in the API; a NUL inside the text would end it early and
// is dropped.
func TestExtendedClipboardWireText(t *testing.T) {
	for _, c := range []struct{ in, wire, back string }{
		{"a\nb", "a\r\nb\x00", "a\nb"},
		{"a\r\nb\n", "a\r\nb\r\n\x00", "a\nb\n"},
		{"x\x00y", "xy\x00", "xy"},
		{"", "\x00", ""},
	} {
		if w := string(clipboardWireText(c.in)); w != c.wire {
			t.Errorf("wire(%q) = %q, want %q", c.in, w, c.wire)
		}
		if b := clipboardText([]byte(c.wire)); b != c.back {
			t.Errorf("text(%q) = %q, want %q", c.wire, b, c.back)
		}
	}
	if s := clipboardText([]byte("ok\xffok\x00garbage")); s != "ok\uFFFDok" {
		t.Errorf("invalid UTF-8 read as %q", s)
	}
}

// provideBytes builds a ClientCutText provide by hand: a zlib stream of
// the given size field and data, finished or only flushed.
func provideBytes(size uint32, data []byte, finish bool) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	binary.Write(zw, binary.BigEndian, size)
	zw.Write(data)
	if finish {
		zw.Close()
	} else {
		zw.Flush()
	}
	b := []byte{byte(MsgClientCutText), 0, 0, 0}
	b = binary.BigEndian.AppendUint32(b, uint32(-int32(4+z.Len())))
	b = binary.BigEndian.AppendUint32(b, uint32(ClipProvide|ClipText))
	return append(b, z.Bytes()...)
}

// TestExtendedClipboardLimits: the decompressed text is bounded before
// it is read (a small zlib bomb is dropped, not inflated), a provide that
// promises more than its stream holds is a protocol error, and so is a
// compressed payload beyond MaxCutTextDiscard.
func TestExtendedClipboardLimits(t *testing.T) {
	l := Limits{MaxCutText: 100000, MaxCutTextDiscard: 1 << 20}.withDefaults()
	read := func(b []byte) (ClientMessage, error) {
		return readClientMessage(newWireReader(bytes.NewReader(b)), &l)
	}
	// Within the limit, finished or flushed.
	for _, finish := range []bool{true, false} {
		m, err := read(provideBytes(4, []byte("abc\x00"), finish))
		if err != nil || !m.(*ExtendedClipboard).HasText || m.(*ExtendedClipboard).Text != "abc" {
			t.Errorf("finish=%v: %+v, %v", finish, m, err)
		}
	}
	// 64 MiB of zeros compress to about 64 KiB: dropped by its size field.
	bomb := provideBytes(64<<20, make([]byte, 64<<20), true)
	if len(bomb) > l.MaxCutTextDiscard {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	m, err := read(bomb)
	if err != nil {
		t.Fatal(err)
	}
	if e := m.(*ExtendedClipboard); e.HasText || e.Dropped != 64<<20 {
		t.Errorf("bomb read as %+v", e)
	}
	// A lying size: the stream ends early.
	if _, err := read(provideBytes(900, []byte("short"), false)); !isProtocolError(err) {
		t.Errorf("short stream: %v", err)
	}
	// Not zlib at all.
	b := []byte{6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf4, 0x10, 0, 0, 1, 'n', 'o', 't', 'z', 'l', 'i', 'b', '!'}
	if _, err := read(b); !isProtocolError(err) {
		t.Errorf("not zlib: %v", err)
	}
	// A compressed payload too long to keep is read and dropped; beyond
	// MaxCutTextDiscard it closes the connection.
	big := append([]byte{6, 0, 0, 0}, binary.BigEndian.AppendUint32(nil, negLen(300000))...)
	big = binary.BigEndian.AppendUint32(big, uint32(ClipProvide|ClipText))
	big = append(big, make([]byte, 300000-4)...)
	if m, err := read(big); err != nil || m.(*ExtendedClipboard).Dropped != 300000-4 {
		t.Errorf("long payload: %+v, %v", m, err)
	}
	huge := append([]byte{6, 0, 0, 0}, binary.BigEndian.AppendUint32(nil, negLen(1<<30))...)
	huge = binary.BigEndian.AppendUint32(huge, uint32(ClipProvide|ClipText))
	if _, err := read(huge); !isProtocolError(err) {
		t.Errorf("1 GiB payload: %v", err)
	}
	// Caps with a wrong number of sizes, and a notify with a body.
	for _, b := range [][]byte{
		{6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf8, 1, 0, 0, 7, 0, 0, 0, 0},
		append([]byte{6, 0, 0, 0, 0xff, 0xff, 0xfe, 0xfc, 8, 0, 0, 1}, make([]byte, 256)...),
		{6, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe, 0, 0},
	} {
		if _, err := read(b); !isProtocolError(err) {
			t.Errorf("% x: %v", b[:12], err)
		}
	}
}

// clipClient connects a client that speaks Extended Clipboard (or not)
// and reads past the server's first messages.
func clipClient(t *testing.T, srv *Server, ext bool) *Client {
	t.Helper()
	c := mustConnect(t, srv, ClientConfig{})
	encs := []Encoding{EncRaw}
	if ext {
		encs = append(encs, EncExtendedClipboard)
	}
	if err := c.SetEncodings(encs...); err != nil {
		t.Fatal(err)
	}
	if ext {
		m := nextMessage(t, c)
		if e, ok := m.(*ExtendedClipboard); !ok || e.Flags != serverClipboardCaps.Flags || !reflect.DeepEqual(e.Sizes, []uint32{0}) {
			t.Fatalf("first message %+v, want the server's caps", m)
		}
	}
	return c
}

// readCutText reads until clipboard text arrives, passing over the
// protocol's other clipboard messages.
func readCutText(t *testing.T, c *Client) *ServerCutText {
	t.Helper()
	for range 10 {
		switch m := nextMessage(t, c).(type) {
		case *ServerCutText:
			return m
		case *ExtendedClipboard:
		default:
			t.Fatalf("got %T %+v", m, m)
		}
	}
	t.Fatal("no clipboard text in 10 messages")
	return nil
}

// TestServerClipboardBothWays: text crosses in UTF-8 both ways with a
// client that speaks Extended Clipboard, through notify, request and
// provide, and in Latin-1 with one that does not.
func TestServerClipboardBothWays(t *testing.T) {
	got := make(chan string, 4)
	srv := NewServer(NewFramebuffer(8, 8), Options{OnCutText: func(s string) { got <- s }})
	ext := clipClient(t, srv, true)
	old := clipClient(t, srv, false)
	if !ext.ExtendedClipboard() {
		t.Fatal("the client did not take the server's caps")
	}

	const text = "Grüße aus Köln – 日本\nline two"
	srv.SendCutText(text)
	if m := readCutText(t, ext); m.Text != text {
		t.Errorf("extended client got %q", m.Text)
	}
	if m := readCutText(t, old); m.Text != "Grüße aus Köln ? ??\nline two" {
		t.Errorf("Latin-1 client got %q", m.Text)
	}

	// Client to server: notify, the server's request (answered inside
	// ReadMessage), provide.
	if err := ext.CutText("zurück ✓"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, err := ext.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case s := <-got:
		if s != "zurück ✓" {
			t.Errorf("server got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server never got the extended client's text")
	}
	if err := old.CutText("café"); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "café" {
		t.Errorf("server got %q from the Latin-1 client", s)
	}
}

// TestServerClipboardWithdrawn: after ClearCutText the extended client is
// told the clipboard is empty, and its request gets no text; a client
// that connects later hears nothing of the old text.
func TestServerClipboardWithdrawn(t *testing.T) {
	srv := NewServer(NewFramebuffer(8, 8), Options{})
	c := clipClient(t, srv, true)
	srv.SendCutText("secret")
	srv.ClearCutText()
	// The notify for "secret" may come first; the last word is an empty
	// notify.
	var last *ExtendedClipboard
	for last == nil || last.Flags != ClipNotify {
		m, ok := nextMessage(t, c).(*ExtendedClipboard)
		if !ok {
			t.Fatalf("got %T", m)
		}
		last = m
	}
	if err := c.Send(&ExtendedClipboard{Flags: ClipRequest | ClipText}); err != nil {
		t.Fatal(err)
	}
	m := nextMessage(t, c)
	if e, ok := m.(*ExtendedClipboard); !ok || e.Flags != ClipProvide || e.HasText {
		t.Errorf("request after ClearCutText answered with %+v", m)
	}
	// A newcomer gets the caps and nothing else.
	srv.SendCutText("fresh")
	n := clipClient(t, srv, true)
	if m := nextMessage(t, n); !reflect.DeepEqual(m, &ExtendedClipboard{Flags: ClipNotify | ClipText}) {
		t.Errorf("newcomer got %+v", m)
	}
	if m := readCutText(t, n); m.Text != "fresh" {
		t.Errorf("newcomer fetched %q", m.Text)
	}
}

// TestServerClipboardNoSinkNoRequest: a server without OnCutText does
// not fetch what a client announces.
func TestServerClipboardNoSinkNoRequest(t *testing.T) {
	srv := NewServer(NewFramebuffer(8, 8), Options{})
	c := clipClient(t, srv, true)
	if err := c.CutText("not wanted"); err != nil {
		t.Fatal(err)
	}
	srv.SendCutText("marker")
	// The next message is the notify for "marker", not a request.
	if m := nextMessage(t, c); !reflect.DeepEqual(m, &ExtendedClipboard{Flags: ClipNotify | ClipText}) {
		t.Errorf("got %+v", m)
	}
}

// TestClientClipboardAnswers: the client answers a server's caps once, a
// request with its text, and a peek with a notify.
func TestClientClipboardAnswers(t *testing.T) {
	var in bytes.Buffer
	in.Write(serverClipboardCaps.appendAs(nil, byte(msgServerCutText)))
	in.Write((&ExtendedClipboard{Flags: ClipRequest | ClipText}).appendAs(nil, byte(msgServerCutText)))
	in.Write((&ExtendedClipboard{Flags: ClipPeek}).appendAs(nil, byte(msgServerCutText)))
	c, rec := parsingClient(t, 8, 8, NativeFormat, []Encoding{EncRaw, EncExtendedClipboard}, iotest.OneByteReader(&in), ClientLimits{})
	if _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if err := c.CutText("mine"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ReadMessage(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the script: %v", err)
	}
	got := parseClientStream(t, rec.take(), false)
	want := []ClientMessage{clientClipboardCaps, &ExtendedClipboard{Flags: ClipNotify | ClipText},
		&ExtendedClipboard{Flags: ClipProvide | ClipText, Text: "mine", HasText: true}, &ExtendedClipboard{Flags: ClipNotify | ClipText}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("client wrote %+v\nwant %+v", got, want)
	}
}

// TestClientRefusesUnaskedExtended: an extended ServerCutText to a client
// that did not list the pseudo-encoding is a protocol error.
func TestClientRefusesUnaskedExtended(t *testing.T) {
	b := (&ExtendedClipboard{Flags: ClipNotify | ClipText}).appendAs(nil, byte(msgServerCutText))
	c, _ := parsingClient(t, 8, 8, NativeFormat, []Encoding{EncRaw}, bytes.NewReader(b), ClientLimits{})
	if _, err := c.ReadMessage(); !isProtocolError(err) || !strings.Contains(err.Error(), "did not ask") {
		t.Errorf("got %v", err)
	}
}

// FuzzExtendedClipboard feeds arbitrary bodies to the extended clipboard
// decoder in both roles. It must fail or parse, never panic, and a parsed
// message written again must parse to the same.
func FuzzExtendedClipboard(f *testing.F) {
	for _, m := range clipboardCases {
		f.Add(m.appendTo(nil))
	}
	f.Add(provideBytes(4, []byte("abc\x00"), false))
	f.Add(provideBytes(1<<30, []byte("abc"), false))
	f.Add(provideBytes(10, []byte("abc"), true))
	f.Add([]byte{6, 0, 0, 0, 0xff, 0xff, 0xff, 0xfc, 0x1f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		l := Limits{MaxCutText: 4096, MaxCutTextDiscard: 1 << 16}.withDefaults()
		m, err := readClientMessage(newWireReader(bytes.NewReader(in)), &l)
		if e, ok := m.(*ExtendedClipboard); err == nil && ok {
			if len(e.Text) > 4*4096 {
				t.Fatalf("text of %d bytes past a 4096-byte limit", len(e.Text))
			}
			back, err := readClientMessage(newWireReader(bytes.NewReader(e.appendTo(nil))), &l)
			if err != nil {
				t.Fatalf("%+v written and read again: %v", e, err)
			}
			b := back.(*ExtendedClipboard)
			switch {
			case e.Flags&ClipCaps == 0 && e.Flags&ClipProvide != 0:
				// A provide is written with text alone.
				if e.Dropped == 0 && (b.HasText != e.HasText || b.Text != e.Text) {
					t.Fatalf("%+v written and read again: %+v", e, b)
				}
			case !reflect.DeepEqual(b, e):
				t.Fatalf("%+v written and read again: %+v", e, b)
			}
		}
		if len(in) > 0 {
			in[0] = byte(msgServerCutText)
		}
		c, _ := parsingClient(t, 8, 8, NativeFormat, []Encoding{EncRaw, EncExtendedClipboard}, bytes.NewReader(in), fuzzClientLimits)
		for range 4 {
			if _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})
}

// negLen is an extended message's length field for n bytes.
func negLen(n int32) uint32 { return uint32(-n) }

// TestServerClipboardWithdrawnUnsent: text withdrawn before the
// connection wrote it never goes out, to a Latin-1 client (queued
// ServerCutText) or an extended one (a queued provide).
func TestServerClipboardWithdrawnUnsent(t *testing.T) {
	for _, ext := range []bool{false, true} {
		c := &serverConn{}
		c.clip.ext, c.clip.peer, c.clip.peerText = ext, defaultPeerCaps&^ClipNotify, defaultPeerText
		c.announceClipboard("secret", true)
		if len(c.cutText) == 0 {
			t.Fatalf("ext=%v: nothing queued for the text", ext)
		}
		c.announceClipboard("", false)
		if c.cutText != nil {
			t.Errorf("ext=%v: withdrawn text still queued: %q", ext, c.cutText)
		}
	}
}
