//go:build interop && linux

package rfb_test

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/internal/workload"
	"lifebuoy/rfb/rfbtest"
)

// x11vnc's own decoders (libvncclient, in its -reflect mode) read our
// server's Hextile, ZRLE and Tight; our Go client then reads the picture
// x11vnc decoded, which must equal the source, before and after a change.
// The server is limited to one encoding per case with Options.Encodings,
// since libvncclient always lists Tight first.
func TestInteropX11VNCReflectsOurEncodings(t *testing.T) {
	rfbtest.LookPath(t, "x11vnc")
	const w, h = 640, 400
	pattern := rfbtest.Pattern(w, h, 5)
	office, photo := workloadFrame(t, "office", w, h), workloadFrame(t, "photo", w, h)
	psnr35 := func(got, want image.Image) bool { return rfbtest.PSNR(got, want) >= 35 }
	for _, tc := range []struct {
		name string
		enc  rfb.Encoding
		src  image.Image
		cmp  func(got, want image.Image) bool
	}{
		{"Hextile", rfb.EncHextile, pattern, exact},
		{"ZRLE", rfb.EncZRLE, pattern, exact},
		{"Raw", rfb.EncRaw, pattern, exact},
		// libvncclient asks for quality level 5, so Tight may use JPEG on
		// photo-like areas; text and flat colours stay lossless.
		{"Tight-office", rfb.EncTight, office, exact},
		{"Tight-photo", rfb.EncTight, photo, psnr35},
	} {
		enc, src, cmp := tc.enc, tc.src, tc.cmp
		t.Run(tc.name, func(t *testing.T) {
			fb := rfb.NewFramebufferFromImage(src)
			logs := &lockedLog{t: t}
			port := serve(t, fb, rfb.Options{
				Encodings: []rfb.Encoding{enc},
				Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			reflectPort := rfbtest.FreePort(t)
			x11vnc := rfbtest.Start(t, nil, "x11vnc", "-reflect", fmt.Sprintf("127.0.0.1:%d", port), // libvncclient reads N >= 100 as a port
				"-rfbport", fmt.Sprint(reflectPort), "-localhost", "-nopw", "-forever", "-shared", "-nocursor", "-quiet")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := rfbtest.WaitListening(ctx, reflectPort); err != nil {
				t.Fatalf("x11vnc -reflect did not listen: %v\n%s", err, x11vnc.Output())
			}
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", reflectPort))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{})
			if err != nil {
				t.Fatalf("handshake with x11vnc: %v", err)
			}
			if err := c.SetEncodings(rfb.EncRaw); err != nil {
				t.Fatal(err)
			}
			if err := c.RequestFull(); err != nil {
				t.Fatal(err)
			}
			readUntil(t, c, conn, src, cmp)
			if want := "using=" + enc.String(); !strings.Contains(logs.String(), want) {
				t.Fatalf("the server did not use %v; log:\n%s", enc, logs.String())
			}

			fb.Update(func(img *rfb.Image) []image.Rectangle {
				r := image.Rect(200, 100, 420, 260)
				img.Fill(r, 0x20a040)
				return []image.Rectangle{r}
			})
			if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
				t.Fatal(err)
			}
			readUntil(t, c, conn, fb.Snapshot(), cmp)
			if enc == rfb.EncTight {
				t.Logf("%s: PSNR through x11vnc's Tight decoder: %.1f dB", tc.name, rfbtest.PSNR(c.Framebuffer(), fb.Snapshot()))
			}
		})
	}
}

// workloadFrame returns the first frame of a benchmark workload as RGBA.
func workloadFrame(t *testing.T, name string, w, h int) *image.RGBA {
	t.Helper()
	wl, err := workload.New(name, w, h)
	if err != nil {
		t.Fatal(err)
	}
	m := image.NewRGBA(wl.Frame.Rect)
	for i := 0; i < len(m.Pix); i += 4 {
		p := wl.Frame.Pix[i:]
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = p[2], p[1], p[0], 0xff
	}
	return m
}
