//go:build interop && linux

package x11

import (
	"image"
	"image/color"
	"image/draw"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb/rfbtest"
)

// TestOverlayPassesClicks shows a shaped overlay over a window of a
// second client: xwd reads its pixels where it is, the screen around
// its shape is untouched, and a click on it (XTEST, by xdotool) reaches
// the window below.
func TestOverlayPassesClicks(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	d := openDisplay(t, x)
	c, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	scr := xproto.Setup(c).DefaultScreen(c)
	below, _ := xproto.NewWindowId(c)
	if err := xproto.CreateWindowChecked(c, scr.RootDepth, below, scr.Root, 100, 100, 300, 200, 0,
		xproto.WindowClassInputOutput, scr.RootVisual, xproto.CwBackPixel|xproto.CwEventMask,
		[]uint32{0x00336699, xproto.EventMaskButtonPress}).Check(); err != nil {
		t.Fatal(err)
	}
	xproto.MapWindow(c, below)

	o, err := d.NewOverlay()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	// A plus sign: transparent corners.
	img := image.NewRGBA(image.Rect(0, 0, 30, 30))
	orange := color.RGBA{0xff, 0x5a, 0x00, 0xff}
	draw.Draw(img, image.Rect(10, 0, 20, 30), image.NewUniform(orange), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(0, 10, 30, 20), image.NewUniform(orange), image.Point{}, draw.Src)
	at := image.Pt(200, 150)
	if err := o.Show(img, at); err != nil {
		t.Fatal(err)
	}
	shot, err := x.Capture()
	if err != nil {
		t.Fatal(err)
	}
	if got := shot.RGBAAt(at.X+15, at.Y+15); got != orange {
		t.Errorf("overlay centre %v, want %v", got, orange)
	}
	if got := shot.RGBAAt(at.X+2, at.Y+2); got != (color.RGBA{0x33, 0x66, 0x99, 0xff}) {
		t.Errorf("overlay corner %v: the window below should show (shape)", got)
	}
	run(t, x, "xdotool", "mousemove", strconv.Itoa(at.X+15), strconv.Itoa(at.Y+15), "click", "1")
	deadline := time.After(waitTimeout)
	got := make(chan xproto.ButtonPressEvent, 1)
	go func() {
		for {
			ev, err := c.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			if bp, ok := ev.(xproto.ButtonPressEvent); ok {
				got <- bp
				return
			}
		}
	}()
	select {
	case bp := <-got:
		if bp.Event != below || int(bp.EventX) != at.X+15-100 {
			t.Errorf("press on %d at %d,%d, want the window below (%d) at %d", bp.Event, bp.EventX, bp.EventY, below, at.X+15-100)
		}
	case <-deadline:
		t.Fatal("the click on the overlay never reached the window below")
	}
	if err := o.Hide(); err != nil {
		t.Fatal(err)
	}
	shot, _ = x.Capture()
	if got := shot.RGBAAt(at.X+15, at.Y+15); got == orange {
		t.Error("overlay still shown after Hide")
	}
}

// TestPanelWindow maps a panel window: xdotool finds it by name, xwd shows
// its picture, a click and a key come back as events.
func TestPanelWindow(t *testing.T) {
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	d := openDisplay(t, x)
	img := image.NewRGBA(image.Rect(0, 0, 200, 120))
	green := color.RGBA{0x00, 0x7a, 0x5e, 0xff}
	draw.Draw(img, img.Rect, image.NewUniform(green), image.Point{}, draw.Src)
	w, err := d.NewPanelWindow("Acme Support · 482 913", "lifebuoy", img.Rect.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Show(); err != nil {
		t.Fatal(err)
	}
	if err := w.Draw(img); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(run(t, x, "xdotool", "search", "--name", "Acme Support"))
	if id != strconv.Itoa(int(w.ID())) {
		t.Errorf("xdotool found %q, want %d", id, w.ID())
	}
	r := w.Rect()
	if r != image.Rect(800-200-16, 16, 800-16, 16+120) {
		t.Errorf("at %v", r)
	}
	shot, _ := x.Capture()
	if got := shot.RGBAAt(r.Min.X+100, r.Min.Y+60); got != green {
		t.Errorf("window shows %v, want %v", got, green)
	}
	// Bigger picture: the window follows.
	big := image.NewRGBA(image.Rect(0, 0, 200, 160))
	draw.Draw(big, big.Rect, image.NewUniform(green), image.Point{}, draw.Src)
	if err := w.Draw(big); err != nil {
		t.Fatal(err)
	}
	if geo := strings.TrimSpace(run(t, x, "xdotool", "getwindowgeometry", id)); !strings.Contains(geo, "200x160") {
		t.Errorf("geometry %q", geo)
	}
	run(t, x, "xdotool", "mousemove", strconv.Itoa(r.Min.X+10), strconv.Itoa(r.Min.Y+20), "click", "1")
	w.Focus()
	run(t, x, "xdotool", "key", "Tab")
	want := []string{"press 10,20", "release 10,20", "key 0xff09"}
	var seen []string
	deadline := time.After(waitTimeout)
	for len(seen) < len(want) {
		select {
		case ev := <-w.Events():
			switch ev := ev.(type) {
			case PanelPress:
				seen = append(seen, "press "+strconv.Itoa(ev.X)+","+strconv.Itoa(ev.Y))
			case PanelRelease:
				seen = append(seen, "release "+strconv.Itoa(ev.X)+","+strconv.Itoa(ev.Y))
			case PanelKey:
				seen = append(seen, "key 0x"+strconv.FormatUint(uint64(w.Keysym(ev)), 16))
			}
		case <-deadline:
			t.Fatalf("events %q, want %q", seen, want)
		}
	}
	if strings.Join(seen, ";") != strings.Join(want, ";") {
		t.Errorf("events %q, want %q", seen, want)
	}
}
