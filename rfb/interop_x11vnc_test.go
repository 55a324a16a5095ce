//go:build interop && linux

package rfb_test

import (
	"context"
	"fmt"
	"image"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// startX11VNC runs x11vnc on an Xvfb whose root window shows the test
// pattern, and returns the Xvfb and x11vnc's port.
func startX11VNC(t *testing.T, w, h int, extra ...string) (*rfbtest.Xvfb, int) {
	t.Helper()
	rfbtest.LookPath(t, "x11vnc", "Xvfb", "xwd", "display")
	x := rfbtest.StartXvfb(t, w, h, 24)
	png := filepath.Join(t.TempDir(), "pattern.png")
	if err := rfbtest.SavePNG(png, rfbtest.Pattern(w, h, 3)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// ImageMagick's display sets the root background and then exits 1 on
	// this Xvfb; what counts is that the screen shows the pattern.
	rfbtest.Run(t, ctx, x.Env(), "display", "-window", "root", png)
	if got, err := x.Capture(); err != nil {
		t.Fatal(err)
	} else if n, _, _ := rfbtest.Diff(got, rfbtest.Pattern(w, h, 3)); n != 0 {
		t.Fatalf("the root window does not show the pattern (%d pixels differ)", n)
	}
	port := rfbtest.FreePort(t)
	args := append([]string{"-display", x.Display, "-rfbport", fmt.Sprint(port), "-localhost", "-forever", "-shared",
		"-nocursor", "-noxdamage", "-noshm", "-quiet"}, extra...)
	rfbtest.Start(t, x.Env(), "x11vnc", args...)
	if err := rfbtest.WaitListening(ctx, port); err != nil {
		t.Fatalf("x11vnc did not listen: %v", err)
	}
	return x, port
}

// readUntil reads server messages until the client's framebuffer equals
// want under cmp, or the deadline passes.
func readUntil(t *testing.T, c *rfb.Client, conn net.Conn, want image.Image, cmp func(got, want image.Image) bool) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		m, err := c.ReadMessage()
		if err != nil {
			n, first, detail := rfbtest.Diff(c.Framebuffer(), want)
			t.Fatalf("reading from x11vnc: %v; framebuffer differs in %d pixels, first at %v: %s", err, n, first, detail)
		}
		if _, ok := m.(*rfb.FramebufferUpdate); !ok {
			continue
		}
		if cmp(c.Framebuffer(), want) {
			return
		}
		if err := c.RequestUpdate(true, image.Rect(0, 0, c.Framebuffer().W, c.Framebuffer().H)); err != nil {
			t.Fatal(err)
		}
	}
}

// The Go client against x11vnc, a server nobody here wrote: every
// protocol version, VNC Authentication, and our Raw and CopyRect decoders
// at 32 bpp and in a 16 bpp format. The decoded framebuffer must equal an
// xwd capture of the same Xvfb.
func TestInteropClientX11VNC(t *testing.T) {
	const w, h = 640, 400
	for _, tc := range []struct {
		name     string
		version  rfb.Version
		password string
		format   *rfb.PixelFormat
	}{
		{name: "3.8-none", version: rfb.Version38},
		{name: "3.7-none", version: rfb.Version37},
		{name: "3.3-none", version: rfb.Version33},
		{name: "3.8-vncauth", version: rfb.Version38, password: "482913"},
		{name: "3.3-vncauth", version: rfb.Version33, password: "482913"},
		{name: "3.8-rgb565", version: rfb.Version38, format: &rfb.FormatRGB565},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var extra []string
			if tc.password != "" {
				pw := filepath.Join(t.TempDir(), "passwd")
				if err := os.WriteFile(pw, rfbtest.VNCPasswdFile(tc.password), 0o600); err != nil {
					t.Fatal(err)
				}
				extra = []string{"-rfbauth", pw}
			} else {
				extra = []string{"-nopw"}
			}
			x, port := startX11VNC(t, w, h, extra...)
			want, err := x.Capture()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{MaxVersion: tc.version, Password: tc.password})
			if err != nil {
				t.Fatalf("handshake with x11vnc: %v", err)
			}
			if c.Version() != tc.version {
				t.Errorf("negotiated %v, want %v", c.Version(), tc.version)
			}
			if cw, ch := c.Size(); cw != w || ch != h {
				t.Fatalf("x11vnc framebuffer %dx%d, want %dx%d", cw, ch, w, h)
			}
			cmp := exact
			if tc.format != nil {
				if err := c.SetPixelFormat(*tc.format); err != nil {
					t.Fatal(err)
				}
				cmp = within(255/int(tc.format.RedMax)+1, 255/int(tc.format.GreenMax)+1, 255/int(tc.format.BlueMax)+1)
			}
			if err := c.SetEncodings(rfb.EncCopyRect, rfb.EncRaw); err != nil {
				t.Fatal(err)
			}
			if err := c.RequestFull(); err != nil {
				t.Fatal(err)
			}
			readUntil(t, c, conn, want, cmp)

			// A change on the X display reaches the client as well.
			if out, err := rfbtest.Run(t, ctx, x.Env(), "xsetroot", "-solid", "#2060a0"); err != nil {
				t.Fatalf("xsetroot: %v\n%s", err, out)
			}
			want, err = x.Capture()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
				t.Fatal(err)
			}
			readUntil(t, c, conn, want, cmp)
		})
	}
}

// within accepts per-channel differences below the given steps: x11vnc
// reduces to 16 bpp by truncation where our quantizer rounds.
func within(dr, dg, db int) func(got, want image.Image) bool {
	return func(got, want image.Image) bool {
		b := want.Bounds()
		if got.Bounds() != b {
			return false
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r1, g1, b1, _ := got.At(x, y).RGBA()
				r2, g2, b2, _ := want.At(x, y).RGBA()
				if absDiff(r1>>8, r2>>8) >= dr || absDiff(g1>>8, g2>>8) >= dg || absDiff(b1>>8, b2>>8) >= db {
					return false
				}
			}
		}
		return true
	}
}

func absDiff(a, b uint32) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
