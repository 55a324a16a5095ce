//go:build interop && linux

package rfb_test

import (
	"fmt"
	"image"
	"image/color"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// TestInteropTigerVNCDefaults: TigerVNC's vncviewer with its own defaults
// (AutoSelect: Tight with JPEG at quality 8 on a fast link) against the
// real agent. The photo arrives as JPEG, the rest losslessly, and once
// the screen is still the photo is sent again losslessly: the picture
// ends up exact.
func TestInteropTigerVNCDefaults(t *testing.T) {
	const w, h = 1024, 640
	x := startScreen(t, tightScene(w, h, false), nil, image.Point{})
	want, err := rfbtest.CaptureRoot(x)
	if err != nil {
		t.Fatal(err)
	}
	port, pw := startAgent(t, x)
	proxy := startViewerProxy(t, port, pw)
	v := startTigerViewer(t, proxy.port, w, h, false)
	// TigerVNC shows "Press F8 …" over the picture for its first seconds.
	waitViewerShows(t, "still", v.x, v.p, want, exact)
	t.Logf("exact after %d bytes", proxy.sent.Load())
}

// TestInteropNoVNC: Debian 12's noVNC 1.3.0 (which has no Tight gradient
// filter) and npm's noVNC 1.7 in Chromium, each at its default settings
// (Tight, JPEG quality 6), through Debian's websockify, against the real
// agent: no disconnect, the still screen ends up exact (the photo's
// lossless refresh is where the gradient filter would have gone), and
// the cursor has the X cursor's colours.
func TestInteropNoVNC(t *testing.T) {
	const w, h = 800, 500
	shape, hot := testCursor()
	x := startScreen(t, tightScene(w, h, false), shape, hot)
	want, err := rfbtest.CaptureRoot(x)
	if err != nil {
		t.Fatal(err)
	}
	wantCursor, wantHot, err := rfbtest.XCursor(x)
	if err != nil {
		t.Fatal(err)
	}
	port, pw := startAgent(t, x)
	b := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{})
	for _, which := range []string{"debian", "npm"} {
		t.Run(which, func(t *testing.T) {
			proxy := startViewerProxy(t, port, pw)
			v := startNoVNC(t, b, which, proxy.port)
			waitPicture(t, v, want)
			waitCursor(t, v, wantCursor, wantHot, 2)
			if err := v.failed(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestInteropCursorColours: an ARGB X cursor whose red and blue differ
// everywhere, captured by the real agent, as TigerVNC, gtk-vnc and noVNC
// show it: the cursor their X display (or the browser) ends up with must
// be the X cursor's image. The agent sends each viewer the cursor
// pseudo-encoding it reads right (rfb/conn.go).
func TestInteropCursorColours(t *testing.T) {
	const w, h = 640, 400
	shape, hot := testCursor()
	bg := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range bg.Pix {
		bg.Pix[i] = []byte{0x50, 0x70, 0x90, 0xff}[i%4]
	}
	x := startScreen(t, bg, shape, hot)
	wantCursor, wantHot, err := rfbtest.XCursor(x)
	if err != nil {
		t.Fatal(err)
	}
	port, pw := startAgent(t, x)
	for _, name := range []string{"tigervnc", "gtk-vnc", "novnc"} {
		t.Run(name, func(t *testing.T) {
			proxy := startViewerProxy(t, port, pw)
			var v viewer
			switch name {
			case "tigervnc":
				v = startTigerViewer(t, proxy.port, w, h, false)
			case "gtk-vnc":
				g := startGTKViewer(t, proxy.port, w, h)
				time.Sleep(2 * time.Second)
				g.locate(bg)
				v = g
			case "novnc":
				v = startNoVNC(t, rfbtest.StartBrowser(t, rfbtest.BrowserOptions{}), "npm", proxy.port)
			}
			// Premultiplied alpha on the way (RENDER, CursorWithAlpha) costs
			// a little precision at low alpha; colours are compared where
			// the cursor is at least half opaque.
			waitCursor(t, v, wantCursor, wantHot, 3)
		})
	}
}

// testCursor is a 24x24 arrow-like cursor with distinct red and blue
// everywhere, opaque in the middle and fading at its edges.
func testCursor() (*image.NRGBA, image.Point) {
	m := image.NewNRGBA(image.Rect(0, 0, 24, 24))
	for y := range 24 {
		for x := range 24 {
			if x > y {
				continue
			}
			a := uint8(255)
			if x == y || y == 23 {
				a = 0x60
			}
			m.SetNRGBA(x, y, color.NRGBA{uint8(0xe0 - y*4), uint8(0x30 + x*5), uint8(0x10 + x*3), a})
		}
	}
	return m, image.Pt(1, 2)
}

// waitPicture waits until the viewer shows want exactly.
func waitPicture(t *testing.T, v viewer, want image.Image) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if err := v.failed(); err != nil {
			t.Fatalf("%v\n%s", err, v.output())
		}
		got, err := v.picture()
		if err == nil {
			n, _, d := rfbtest.Diff(got, want)
			if n == 0 {
				return
			}
			last = fmt.Sprintf("%s (PSNR %.1f dB)", d, rfbtest.PSNR(got, want))
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("the still screen never showed exactly: %s\n%s", last, v.output())
}

// waitCursor waits until the viewer's cursor is want (colours within tol
// where at least half opaque, alpha within 2·tol) with the hot spot.
func waitCursor(t *testing.T, v viewer, want *image.NRGBA, hot image.Point, tol int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		got, gotHot, err := v.cursor()
		if err == nil {
			n, d := rfbtest.CursorDiff(got, want, tol, 2*tol)
			if n == 0 && gotHot == hot {
				return
			}
			last = fmt.Sprintf("hot spot %v (want %v); %d pixels differ: %s", gotHot, hot, n, d)
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("the viewer's cursor is not the X cursor: %s\n%s", last, v.output())
}

// TestInteropNoVNCLevelChange: a noVNC user changes the compression
// level mid-session, so the server's zlib streams change level. noVNC's
// inflater (its copy of pako) forgets its window on a stream reset, so
// the server must continue its streams instead (rfb/enc_tight.go,
// tightStream); the lossless refresh changes the level as well.
func TestInteropNoVNCLevelChange(t *testing.T) {
	const w, h = 800, 500
	src := tightScene(w, h, false)
	fb := rfb.NewFramebufferFromImage(src)
	port := serve(t, fb, rfb.Options{})
	b := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{})
	for _, which := range []string{"debian", "npm"} {
		t.Run(which, func(t *testing.T) {
			fb.SetImage(src)
			v := startNoVNC(t, b, which, port)
			waitPicture(t, v, rfb.ImageFrom(src))
			for i, level := range []int{9, 0, 5} {
				if err := v.page.Eval(`(l) => { window.rfb.compressionLevel = l; return 1; }`, level, nil); err != nil {
					t.Fatal(err)
				}
				time.Sleep(500 * time.Millisecond)
				next := tightScene(w-i, h, i%2 == 0) // a different picture each time
				fb.Update(func(img *rfb.Image) []image.Rectangle {
					img.DrawImage(image.Point{}, next, next.Bounds())
					return []image.Rectangle{img.Bounds()}
				})
				waitPicture(t, v, fb.Snapshot())
			}
		})
	}
}
