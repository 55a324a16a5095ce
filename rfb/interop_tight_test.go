//go:build interop && linux

package rfb_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// tightScene is a desktop-like picture that exercises every Tight
// subencoding: a solid background and task bar (Fill), a window of
// 2-colour text (mono palette), a 12-colour area (palette), a gradient
// and a photo-like panel (gradient filter or JPEG) and, unless photoOnly,
// a noise patch (copy filter).
func tightScene(w, h int, photoOnly bool) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	fill := func(r image.Rectangle, c color.RGBA) {
		for y := r.Min.Y; y < r.Max.Y && y < h; y++ {
			for x := r.Min.X; x < r.Max.X && x < w; x++ {
				m.SetRGBA(x, y, c)
			}
		}
	}
	fill(m.Rect, color.RGBA{0x2d, 0x4f, 0x7c, 0xff})
	fill(image.Rect(0, h-30, w, h), color.RGBA{0xdd, 0xdd, 0xdd, 0xff})
	rng := rand.New(rand.NewPCG(1, 2))
	// Text window.
	tw := image.Rect(w/30, h/12, w/30+w*2/5, h*3/4)
	fill(tw, color.RGBA{0xf8, 0xf8, 0xf0, 0xff})
	for y := tw.Min.Y + 4; y+10 < tw.Max.Y; y += 14 {
		for x := tw.Min.X + 4; x+7 < tw.Max.X; x += 8 {
			for gy := range 10 {
				bits := rng.Uint32()
				for gx := range 6 {
					if bits&(1<<gx) != 0 && rng.IntN(3) > 0 {
						m.SetRGBA(x+gx, y+gy, color.RGBA{0x20, 0x20, 0x20, 0xff})
					}
				}
			}
		}
	}
	// Palette area.
	pal := make([]color.RGBA, 12)
	for i := range pal {
		v := rng.Uint32()
		pal[i] = color.RGBA{byte(v), byte(v >> 8), byte(v >> 16), 0xff}
	}
	pa := image.Rect(w/30, h*3/4+10, w/30+w/4, h-40)
	for y := pa.Min.Y; y < pa.Max.Y; y++ {
		for x := pa.Min.X; x < pa.Max.X; x++ {
			m.SetRGBA(x, y, pal[(x/5+y/3)%len(pal)])
		}
	}
	// Photo-like panel and gradient.
	ph := image.Rect(w/2, h/12, w-w/30, h/2)
	for y := ph.Min.Y; y < ph.Max.Y; y++ {
		for x := ph.Min.X; x < ph.Max.X; x++ {
			X, Y := float64(x), float64(y)
			n := rng.Float64()*6 - 3
			r := 128 + 90*math.Sin(X*0.017+Y*0.004) + 20*math.Sin(X*0.21+Y*0.17) + n
			g := 128 + 80*math.Cos(Y*0.013-X*0.006) + 15*math.Sin(X*0.13-Y*0.23) + n
			b := 110 + 70*math.Sin((X+Y)*0.008) + 10*math.Cos(X*0.31) + n
			m.SetRGBA(x, y, color.RGBA{clamp(r), clamp(g), clamp(b), 0xff})
		}
	}
	gr := image.Rect(w/2, h/2+10, w-w/30, h*3/4)
	for y := gr.Min.Y; y < gr.Max.Y; y++ {
		for x := gr.Min.X; x < gr.Max.X; x++ {
			m.SetRGBA(x, y, color.RGBA{byte((x - gr.Min.X) * 255 / gr.Dx()), byte((y - gr.Min.Y) * 255 / gr.Dy()), 0x80, 0xff})
		}
	}
	if !photoOnly {
		nz := image.Rect(w/2, h*3/4+10, w/2+w/5, h-40)
		for y := nz.Min.Y; y < nz.Max.Y; y++ {
			for x := nz.Min.X; x < nz.Max.X; x++ {
				v := rng.Uint32()
				m.SetRGBA(x, y, color.RGBA{byte(v), byte(v >> 8), byte(v >> 16), 0xff})
			}
		}
	}
	return m
}

func clamp(v float64) uint8 { return uint8(min(max(v, 0), 255)) }

// psnrAtLeast compares by PSNR, for JPEG.
func psnrAtLeast(db float64) func(got, want image.Image) bool {
	return func(got, want image.Image) bool { return rfbtest.PSNR(got, want) >= db }
}

// TigerVNC's vncviewer forced to Tight: lossless at 32 and 8 bpp (it
// never asks for 16 bpp without AutoSelect; 16 bpp Tight is checked
// through x11vnc and the golden tests),
// with JPEG at quality 8, and on a 2560-wide screen (rectangles must be
// split to 2048). After the first picture an update and a move go
// through the same connection (persistent zlib streams).
func TestInteropTightTigerVNC(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "Xvfb", "xwd")
	tiger := []string{"-FullScreen", "-AutoSelect=0", "-PreferredEncoding=Tight", "-Shared=1", "-SecurityTypes=None"}
	for _, tc := range []struct {
		name             string
		w, h, depth      int
		args             []string
		rmax, gmax, bmax int
		jpeg             bool
	}{
		{"lossless-32bpp", 800, 500, 24, []string{"-NoJPEG=1", "-FullColor=1"}, 255, 255, 255, false},
		{"lossless-32bpp-cl9", 800, 500, 24, []string{"-NoJPEG=1", "-FullColor=1", "-CustomCompressLevel=1", "-CompressLevel=9"}, 255, 255, 255, false},
		{"lossless-8bpp", 800, 500, 24, []string{"-NoJPEG=1", "-FullColor=0", "-LowColorLevel=2"}, 7, 7, 3, false},
		{"jpeg-q8", 800, 500, 24, []string{"-NoJPEG=0", "-QualityLevel=8", "-FullColor=1"}, 255, 255, 255, true},
		{"wide-2560", 2560, 400, 24, []string{"-NoJPEG=1", "-FullColor=1"}, 255, 255, 255, false},
		{"wide-2560-jpeg", 2560, 400, 24, []string{"-NoJPEG=0", "-QualityLevel=8", "-FullColor=1"}, 255, 255, 255, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tightScene(tc.w, tc.h, tc.jpeg)
			fb := rfb.NewFramebufferFromImage(src)
			port := serve(t, fb, rfb.Options{Name: "tight test"})
			x := rfbtest.StartXvfb(t, tc.w, tc.h, tc.depth)
			args := append(slices.Clone(tiger), tc.args...)
			viewer := rfbtest.Start(t, x.Env(), "vncviewer", append(args, fmt.Sprintf("127.0.0.1::%d", port))...)

			cmp := exact
			switch {
			case tc.jpeg:
				cmp = psnrAtLeast(35)
			case tc.rmax != 255 || tc.depth != 24:
				cmp = quantized(tc.rmax, tc.gmax, tc.bmax)
			}
			want := rfb.ImageFrom(src)
			check := func(stage string) {
				t.Helper()
				got := waitViewerShows(t, stage, x, viewer, want, cmp)
				if tc.jpeg {
					t.Logf("%s: PSNR %.1f dB", stage, rfbtest.PSNR(got, want))
				}
			}
			check("initial")

			r := image.Rect(tc.w/3, tc.h/3, tc.w/3+200, tc.h/3+70)
			fb.Update(func(img *rfb.Image) []image.Rectangle {
				img.Fill(r, 0xc03020)
				return []image.Rectangle{r}
			})
			want.Fill(r, 0xc03020)
			check("after fill")

			fb.Move(image.Rect(20, 200, 220, 330), image.Pt(tc.w/2, 100))
			want = fb.Snapshot()
			check("after move")
		})
	}
}

// startX0VNC runs TigerVNC's scraping server on an Xvfb whose root window
// shows the test pattern.
func startX0VNC(t *testing.T, w, h int) (*rfbtest.Xvfb, int) {
	t.Helper()
	rfbtest.LookPath(t, "x0vncserver", "Xvfb", "xwd", "display")
	x := rfbtest.StartXvfb(t, w, h, 24)
	png := filepath.Join(t.TempDir(), "scene.png")
	if err := rfbtest.SavePNG(png, tightScene(w, h, false)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rfbtest.Run(t, ctx, x.Env(), "display", "-window", "root", png)
	// x0vncserver paints the pointer into the picture, which xwd does not
	// see: make the root window's pointer invisible.
	xbm := filepath.Join(t.TempDir(), "blank.xbm")
	if err := os.WriteFile(xbm, []byte("#define b_width 8\n#define b_height 8\n#define b_x_hot 0\n#define b_y_hot 0\n"+
		"static unsigned char b_bits[] = {\n 0, 0, 0, 0, 0, 0, 0, 0 };\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := rfbtest.Run(t, ctx, x.Env(), "xsetroot", "-cursor", xbm, xbm); err != nil {
		t.Fatalf("xsetroot: %v\n%s", err, out)
	}
	port := rfbtest.FreePort(t)
	rfbtest.Start(t, x.Env(), "x0vncserver", "-display", x.Display, "-rfbport", fmt.Sprint(port),
		"-SecurityTypes", "None", "-localhost=1")
	if err := rfbtest.WaitListening(ctx, port); err != nil {
		t.Fatalf("x0vncserver did not listen: %v", err)
	}
	return x, port
}

// Our Go client decoding Tight from x11vnc (libvncserver's TurboVNC-derived
// encoder) and from TigerVNC's x0vncserver, lossless (no quality level
// sent), compared with an xwd capture of the same Xvfb; then with JPEG
// (quality 8), compared by PSNR.
func TestInteropClientTight(t *testing.T) {
	const w, h = 800, 500
	for _, tc := range []struct {
		name    string
		server  string
		quality bool
		format  *rfb.PixelFormat
	}{
		{name: "x11vnc", server: "x11vnc"},
		{name: "x11vnc-rgb565", server: "x11vnc", format: &rfb.FormatRGB565},
		{name: "x11vnc-jpeg", server: "x11vnc", quality: true},
		{name: "x0vncserver", server: "x0vncserver"},
		{name: "x0vncserver-rgb565", server: "x0vncserver", format: &rfb.FormatRGB565},
		{name: "x0vncserver-jpeg", server: "x0vncserver", quality: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var x *rfbtest.Xvfb
			var port int
			if tc.server == "x11vnc" {
				x, port = startX11VNC(t, w, h, "-nopw")
				// Put the busier Tight scene on the root window.
				png := filepath.Join(t.TempDir(), "scene.png")
				if err := rfbtest.SavePNG(png, tightScene(w, h, false)); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				rfbtest.Run(t, ctx, x.Env(), "display", "-window", "root", png)
				cancel()
			} else {
				x, port = startX0VNC(t, w, h)
			}
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
			c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{})
			if err != nil {
				t.Fatalf("handshake with %s: %v", tc.server, err)
			}
			cmp := exact
			if tc.format != nil {
				if err := c.SetPixelFormat(*tc.format); err != nil {
					t.Fatal(err)
				}
				cmp = within(255/int(tc.format.RedMax)+1, 255/int(tc.format.GreenMax)+1, 255/int(tc.format.BlueMax)+1)
			}
			encs := []rfb.Encoding{rfb.EncTight, rfb.EncRaw}
			if tc.quality {
				encs = append(encs, rfb.EncQualityLevel0+8)
				cmp = psnrAtLeast(30)
			}
			if err := c.SetEncodings(encs...); err != nil {
				t.Fatal(err)
			}
			if err := c.RequestFull(); err != nil {
				t.Fatal(err)
			}
			readUntil(t, c, conn, want, cmp)
			if tc.quality {
				t.Logf("%s with JPEG: PSNR %.1f dB", tc.server, rfbtest.PSNR(c.Framebuffer(), want))
			}

			// A change on the X display reaches the client as well.
			if out, err := rfbtest.Run(t, ctx, x.Env(), "xsetroot", "-solid", "#2060a0"); err != nil {
				t.Fatalf("xsetroot: %v\n%s", err, out)
			}
			if want, err = x.Capture(); err != nil {
				t.Fatal(err)
			}
			if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
				t.Fatal(err)
			}
			readUntil(t, c, conn, want, cmp)
		})
	}
}
