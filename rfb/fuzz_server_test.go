package rfb

import (
	"bytes"
	"context"
	"crypto/tls"
	"image"
	"io"
	"net"
	"testing"
	"time"
)

// fuzzServe runs one server connection over a pipe, writes in as the
// client, drains whatever the server sends, and waits for the server to
// give up. It fails if the server hangs.
func fuzzServe(t *testing.T, opts Options, in []byte) {
	fb := NewFramebuffer(24, 16)
	fb.Update(func(img *Image) []image.Rectangle {
		img.Fill(image.Rect(3, 3, 20, 9), 0x336699)
		return []image.Rectangle{img.Bounds()}
	})
	opts.Limits = Limits{HandshakeTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, MaxCutText: 256, MaxCutTextDiscard: 4096, MaxEncodings: 64}
	srv := NewServer(fb, opts)
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(context.Background(), server) }()
	go io.Copy(io.Discard, client)
	client.SetWriteDeadline(time.Now().Add(2 * time.Second))
	client.Write(in)
	client.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("server did not finish on input %q", in)
	}
}

// handshake38None is a complete client handshake for a None server.
var handshake38None = []byte("RFB 003.008\n\x01\x01")

func FuzzServerHandshake(f *testing.F) {
	for _, s := range [][]byte{
		handshake38None,
		[]byte("RFB 003.007\n\x01\x00"),
		[]byte("RFB 003.003\n\x01"),
		[]byte("RFB 003.005\n\x01"),
		[]byte("RFB 003.0"),
		[]byte("SSH-2.0-xx\r\n"),
		[]byte("RFB 004.000\n"),
		append([]byte("RFB 003.008\n"), 99),
		append([]byte("RFB 003.008\n\x02"), make([]byte, 16)...),
		append([]byte("RFB 003.008\n\x13\x00\x02"), 0, 0, 1, 4),
		[]byte("RFB 003.008\n\x13\x00\x03"),
	} {
		f.Add(s)
	}
	cert := testCertificate(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzServe(t, Options{
			Security:  []SecurityType{SecVeNCrypt, SecVNCAuth, SecNone},
			Password:  "123456",
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
			PlainAuth: func(u, p string) bool { return u == "u" && p == "p" },
		}, in)
	})
}

func FuzzClientMessages(f *testing.F) {
	full := clientMsgBytes(&FramebufferUpdateRequest{Rect: image.Rect(0, 0, 24, 16)})
	for _, s := range [][]byte{
		full,
		clientMsgBytes(&SetEncodings{Encodings: []Encoding{EncCopyRect, EncRaw, EncCursor, EncDesktopSize, EncExtendedDesktopSize,
			EncLastRect, EncDesktopName, EncFence, EncContinuousUpdates, EncQEMUExtendedKey, EncQualityLevel0 + 5, EncCompressLevel0 + 2}}),
		clientMsgBytes(&SetEncodings{Encodings: []Encoding{EncTight, EncCursorWithAlpha, EncVMwareCursor, EncCursor, EncXvp,
			EncFineQualityLevel0 + 95, EncSubsamp1X + 3, EncQualityLevel0 + 8}}, &FramebufferUpdateRequest{Rect: image.Rect(0, 0, 24, 16)},
			&FramebufferUpdateRequest{Incremental: true, Rect: image.Rect(0, 0, 24, 16)}),
		clientMsgBytes(&SetPixelFormat{Format: FormatRGB565}, &FramebufferUpdateRequest{Rect: image.Rect(0, 0, 24, 16)}),
		clientMsgBytes(&SetPixelFormat{Format: FormatRGB332}, &FramebufferUpdateRequest{Incremental: true, Rect: image.Rect(0, 0, 99, 99)}),
		clientMsgBytes(&KeyEvent{Down: true, Keysym: 0x61}, &PointerEvent{Buttons: 1, X: 500, Y: 500}),
		clientMsgBytes(&ClientCutText{Text: []byte("hello")}),
		clientMsgBytes(&SetEncodings{Encodings: []Encoding{EncContinuousUpdates, EncFence}},
			&EnableContinuousUpdates{Enable: true, Rect: image.Rect(0, 0, 24, 16)},
			&ClientFence{Flags: FenceRequest | FenceBlockBefore, Payload: []byte("abc")},
			&EnableContinuousUpdates{Enable: false}),
		clientMsgBytes(&SetEncodings{Encodings: []Encoding{EncExtendedDesktopSize}},
			&SetDesktopSize{Width: 100, Height: 50, Screens: []Screen{{ID: 1, Rect: image.Rect(0, 0, 100, 50)}}}),
		clientMsgBytes(&QEMUExtendedKeyEvent{Down: true, Keysym: 0x41, Keycode: 0x1e}),
		{6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
		append([]byte{2, 0, 0xff, 0xff}, make([]byte, 64)...),
		{77, 1, 2, 3},
		{0, 0, 0, 0, 7, 7, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0},
		{248, 0, 0, 0, 0x80, 0, 0, 0, 65},
		{8, 1, 0, 0, 13, 10, 0, 0, 0, 0, 0},
		// Extended Clipboard from the client: caps, notify, provide,
		// request and peek, after a SetEncodings that lists it.
		(&ExtendedClipboard{Flags: ClipPeek}).appendAs((&ExtendedClipboard{Flags: ClipRequest | ClipText}).appendAs(
			(&ExtendedClipboard{Flags: ClipProvide | ClipText, Text: "Grüße\n", HasText: true}).appendAs(
				(&ExtendedClipboard{Flags: ClipNotify | ClipText}).appendAs(
					(&ExtendedClipboard{Flags: ClipCaps | ClipText | ClipRequest | ClipNotify | ClipProvide, Sizes: []uint32{1024}}).appendAs(
						clientMsgBytes(&SetEncodings{Encodings: []Encoding{EncRaw, EncExtendedClipboard}}), 6), 6), 6), 6), 6),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzServe(t, Options{OnCutText: func(string) {}}, append(bytes.Clone(handshake38None), in...))
	})
}
