//go:build interop && linux

package rfb_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// hzSource is a picture with every kind of Hextile and ZRLE tile: the
// test pattern's gradients and glyphs, flat areas, two-colour stripes
// and a few-colour checkerboard.
func hzSource(w, h int) *rfb.Image {
	m := rfb.ImageFrom(rfbtest.Pattern(w, h, 0))
	m.Fill(image.Rect(w/8, h/8, w/3, h/3), 0x2060a0)
	for y := h / 2; y < h*3/4; y += 3 {
		m.Fill(image.Rect(0, y, w/4, y+1), 0xf0f0f0)
	}
	for y := h * 3 / 4; y < h; y += 4 {
		for x := 0; x < w/3; x += 4 {
			m.Fill(image.Rect(x, y, x+4, y+4), uint32((x/4+y/4)%5)*0x332211)
		}
	}
	return m
}

// lockedLog keeps the server's log so the test can see which encoding
// the server chose.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
	t  *testing.T
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TigerVNC's vncviewer, told to prefer Hextile or ZRLE (it then lists
// that encoding first), shows exactly our source at 32 bpp, and the
// quantized source in its 256-colour 8 bpp format.
func TestInteropTigerVNCHextileZRLE(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "Xvfb", "xwd")
	tiger := []string{"-FullScreen", "-AutoSelect=0", "-NoJPEG=1", "-Shared=1", "-SecurityTypes=None"}
	for _, enc := range []rfb.Encoding{rfb.EncHextile, rfb.EncZRLE} {
		for _, tc := range []struct {
			name             string
			args             []string
			rmax, gmax, bmax int
		}{
			{"32bpp", []string{"-FullColor=1"}, 255, 255, 255},
			{"8bpp", []string{"-FullColor=0", "-LowColorLevel=2"}, 7, 7, 3},
		} {
			t.Run(enc.String()+"/"+tc.name, func(t *testing.T) {
				const w, h = 640, 400
				src := hzSource(w, h)
				fb := rfb.NewFramebufferFromImage(src)
				log := &lockedLog{t: t}
				port := serve(t, fb, rfb.Options{Name: "hz test",
					Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				x := rfbtest.StartXvfb(t, w, h, 24)
				args := append(slices.Concat(tiger, tc.args), "-PreferredEncoding="+strings.ToLower(enc.String()), fmt.Sprintf("127.0.0.1::%d", port))
				viewer := rfbtest.Start(t, x.Env(), "vncviewer", args...)

				cmp := exact
				if tc.rmax != 255 {
					cmp = quantized(tc.rmax, tc.gmax, tc.bmax)
				}
				want := src.Clone()
				check := func(stage string) {
					t.Helper()
					waitViewerShows(t, stage, x, viewer, want, cmp)
				}
				check("initial")
				if !strings.Contains(log.String(), "using="+enc.String()) {
					t.Fatalf("the server did not choose %v for the viewer", enc)
				}

				// Changes in several updates: the ZRLE stream goes on.
				for i := range 4 {
					fb.Update(func(img *rfb.Image) []image.Rectangle {
						r := image.Rect(37+i*61, 23+i*47, 250+i*70, 190+i*40)
						img.DrawImage(r.Min, rfbtest.Pattern(r.Dx(), r.Dy(), uint8(40*i+9)), image.Rect(0, 0, r.Dx(), r.Dy()))
						r2 := image.Rect(500-i*20, 300, 620, 380-i*10)
						img.Fill(r2, 0x102030*uint32(i+1))
						return []image.Rectangle{r, r2}
					})
					want = fb.Snapshot()
					check(fmt.Sprintf("change %d", i))
				}
			})
		}
	}
}

// startXvfbShowing runs an Xvfb whose root window shows img.
func startXvfbShowing(t *testing.T, w, h int, img image.Image) *rfbtest.Xvfb {
	t.Helper()
	x := rfbtest.StartXvfb(t, w, h, 24)
	showOnRoot(t, x, img)
	return x
}

// showOnRoot sets the root window's background to img.
func showOnRoot(t *testing.T, x *rfbtest.Xvfb, img image.Image) {
	t.Helper()
	png := filepath.Join(t.TempDir(), "root.png")
	if err := rfbtest.SavePNG(png, img); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// display exits 1 on Xvfb after setting the background (see
	// startX11VNC); the capture below is what counts.
	rfbtest.Run(t, ctx, x.Env(), "display", "-window", "root", png)
	b := img.Bounds()
	if _, err := rfbtest.WaitForImage(ctx, x.Capture, img, exact); err != nil {
		t.Fatalf("the root window does not show the picture: %v (%dx%d)", err, b.Dx(), b.Dy())
	}
}

// startX0Tiger runs TigerVNC's scraping server on x's display. The
// server draws the X pointer into the pixels it sends whatever the
// client asks, and xwd does not capture it, so the pointer is made
// invisible first.
func startX0Tiger(t *testing.T, x *rfbtest.Xvfb) int {
	t.Helper()
	blank := filepath.Join(t.TempDir(), "blank.xbm")
	xbm := "#define blank_width 8\n#define blank_height 1\n#define blank_x_hot 0\n#define blank_y_hot 0\nstatic char blank_bits[] = {\n   0x00};\n"
	if err := os.WriteFile(blank, []byte(xbm), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := rfbtest.Run(t, ctx, x.Env(), "xsetroot", "-cursor", blank, blank); err != nil {
		t.Fatalf("xsetroot -cursor: %v\n%s", err, out)
	}
	port := rfbtest.FreePort(t)
	rfbtest.Start(t, x.Env(), "X0tigervnc", "-display", x.Display, "-rfbport", fmt.Sprint(port), "-localhost=1",
		"-SecurityTypes=None", "-AlwaysShared=1", "-UseSHM=0", "-PollingCycle=20")
	if err := rfbtest.WaitListening(ctx, port); err != nil {
		t.Fatalf("X0tigervnc did not listen: %v", err)
	}
	return port
}

// Our client decodes x11vnc's (libvncserver's) and TigerVNC's own
// Hextile and ZRLE, at 32 bpp and 16 bpp, into the picture an xwd
// capture of the same Xvfb shows, before and after the screen changes.
func TestInteropClientHextileZRLE(t *testing.T) {
	rfbtest.LookPath(t, "x11vnc", "X0tigervnc", "Xvfb", "xwd", "display", "xsetroot")
	const w, h = 640, 400
	servers := []struct {
		name  string
		start func(t *testing.T) (*rfbtest.Xvfb, int)
	}{
		{"x11vnc", func(t *testing.T) (*rfbtest.Xvfb, int) { return startX11VNC(t, w, h, "-nopw") }},
		{"x0tigervnc", func(t *testing.T) (*rfbtest.Xvfb, int) {
			x := startXvfbShowing(t, w, h, rfbtest.Pattern(w, h, 3))
			return x, startX0Tiger(t, x)
		}},
	}
	for _, srv := range servers {
		for _, enc := range []rfb.Encoding{rfb.EncHextile, rfb.EncZRLE} {
			for _, pf := range []*rfb.PixelFormat{nil, &rfb.FormatRGB565} {
				name := srv.name + "/" + enc.String() + "/32bpp"
				if pf != nil {
					name = srv.name + "/" + enc.String() + "/rgb565"
				}
				t.Run(name, func(t *testing.T) {
					x, port := srv.start(t)
					conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close()
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{})
					if err != nil {
						t.Fatalf("handshake: %v", err)
					}
					cmp := exact
					if pf != nil {
						if err := c.SetPixelFormat(*pf); err != nil {
							t.Fatal(err)
						}
						cmp = within(255/int(pf.RedMax)+1, 255/int(pf.GreenMax)+1, 255/int(pf.BlueMax)+1)
					}
					// With Cursor, TigerVNC sends the pointer apart instead
					// of drawing it into the pixels.
					if err := c.SetEncodings(enc, rfb.EncCursor); err != nil {
						t.Fatal(err)
					}
					if err := c.RequestFull(); err != nil {
						t.Fatal(err)
					}
					seen := map[rfb.Encoding]int{}
					stage := func(name string) {
						t.Helper()
						want, err := x.Capture()
						if err != nil {
							t.Fatal(err)
						}
						readCounting(t, name, c, conn, want, cmp, seen)
					}
					stage("initial")
					if out, err := rfbtest.Run(t, ctx, x.Env(), "xsetroot", "-solid", "#2060a0"); err != nil {
						t.Fatalf("xsetroot: %v\n%s", err, out)
					}
					if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
						t.Fatal(err)
					}
					stage("solid")
					showOnRoot(t, x, hzSource(w, h))
					if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
						t.Fatal(err)
					}
					stage("mixed")
					if seen[enc] == 0 {
						t.Errorf("the server sent %v, none in %v", seen, enc)
					}
					t.Logf("rectangles by encoding: %v", seen)
				})
			}
		}
	}
}

// readCounting is readUntil, counting the rectangles of each encoding.
func readCounting(t *testing.T, stage string, c *rfb.Client, conn net.Conn, want image.Image, cmp func(got, want image.Image) bool, seen map[rfb.Encoding]int) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		m, err := c.ReadMessage()
		if err != nil {
			n, first, detail := rfbtest.Diff(c.Framebuffer(), want)
			t.Fatalf("%s: reading: %v; framebuffer differs in %d pixels, first at %v: %s", stage, err, n, first, detail)
		}
		u, ok := m.(*rfb.FramebufferUpdate)
		if !ok {
			continue
		}
		for _, r := range u.Rects {
			if !r.Encoding.IsPseudo() {
				seen[r.Encoding]++
			}
		}
		if cmp(c.Framebuffer(), want) {
			return
		}
		if err := c.RequestUpdate(true, image.Rect(0, 0, c.Framebuffer().W, c.Framebuffer().H)); err != nil {
			t.Fatal(err)
		}
	}
}
