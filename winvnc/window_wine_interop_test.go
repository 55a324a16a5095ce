//go:build interop && linux

package winvnc

import (
	"fmt"
	"image"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/winvnc/panel"
)

// findPanel finds the window's picture on the screen by its top-left
// corner: the first pixel of the brand's colour, scanning rows.
func findPanel(img *image.RGBA) (image.Point, bool) {
	b := img.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.RGBAAt(x, y) == acmeGreen && img.RGBAAt(x+1, y) == acmeGreen && img.RGBAAt(x, y+1) == acmeGreen {
				return image.Pt(x, y), true
			}
		}
	}
	return image.Point{}, false
}

// TestWineWindowAndArrow runs winvnc.exe with its window under Wine: the
// window (user32 and gdi32) shows the panel's picture, pixel for pixel;
// a click on Allow admits a viewer, one on the Control switch grants
// control; without control the viewer's pointer moves the layered arrow,
// which xwd sees and the viewer's picture shows; End ends the agent.
func TestWineWindowAndArrow(t *testing.T) {
	const width, height = 1024, 720
	x := rfbtest.StartXvfb(t, width, height, 24)
	w := rfbtest.StartWine(t, x)
	agent, _ := windowsBinaries(t)
	const pw = "panel"
	a := startWineProc(t, w, agent, "-ui", "window", "-brand-color", "#007a5e",
		"-listen", "127.0.0.1:0", "-password-file", writePassword(t, pw))
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]

	// The Windows agent always has its Open dialog: "Send files…" shows.
	ref := panel.New(panel.Options{Brand: "Lifebuoy", Color: acmeGreen, Lang: panel.English, Scale: 1, SendFiles: true})
	for _, m := range []panel.Msg{panel.Hotkeys{Control: "F12", Files: "F11"}, panel.Rights{}, panel.State{Phase: panel.Waiting}} {
		ref.Step(m)
	}
	// The window's client area, found on the screen, equals the panel.
	var at image.Point
	same := func(stage string) {
		t.Helper()
		want := ref.Image()
		last := ""
		for deadline := time.Now().Add(wineWait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			shot, err := w.Capture()
			if err != nil {
				last = err.Error() // xwd fails now and then while Wine maps windows
				continue
			}
			p, ok := findPanel(shot)
			if !ok {
				last = "no window of the brand's colour on the screen"
				continue
			}
			at = p
			got := shot.SubImage(image.Rectangle{Min: p, Max: p.Add(want.Rect.Size())})
			n, first, detail := rfbtest.Diff(got, want)
			if n == 0 {
				return
			}
			last = fmt.Sprintf("at %v: %d pixels differ, first at %v: %s", p, n, first, detail)
			dir := t.TempDir()
			savePNG(t, filepath.Join(dir, "got.png"), got)
			savePNG(t, filepath.Join(dir, "want.png"), want)
			last += " (images in " + dir + ")"
		}
		t.Fatalf("%s: the window never showed the panel: %s", stage, last)
	}
	click := func(c panel.Control) {
		t.Helper()
		r := ref.ControlRect(c)
		p := at.Add(r.Min).Add(r.Size().Div(2))
		t.Logf("click %v at %v", c, p)
		xdo(t, x, "mousemove", strconv.Itoa(p.X), strconv.Itoa(p.Y), "click", "1")
	}
	same("waiting")

	ch := dialViewer(t, addr, pw)
	who := a.expect(`^prompt Allow (.*) to see your screen\? \[y/n\]$`)[1]
	ref.Step(panel.State{Phase: panel.Asking})
	ref.Step(panel.Question{Who: who})
	same("asked")
	click(panel.CtlAllow)
	v := mustViewer(t, ch)
	a.expect(`^state sharing `)
	ref.Step(panel.NoQuestion{})
	ref.Step(panel.State{Phase: panel.Sharing, Who: who})
	same("sharing")

	// The arrow: the viewer points at 300, 250 without control.
	point := image.Pt(300, 250)
	tip := point.Add(image.Pt(2, 8))
	deadline := time.Now().Add(wineWait)
	for {
		v.c.PointerEvent(0, point.X+1, point.Y)
		v.c.PointerEvent(0, point.X, point.Y)
		// xwd fails now and then while Wine maps and unmaps windows.
		shot, err := w.Capture()
		if err == nil && shot.RGBAAt(tip.X, tip.Y) == panel.ArrowColor {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no arrow at %v: %v", tip, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.syncTo("the arrow in the viewer's picture", func(fb *rfb.Image) (bool, string) {
		c := fb.At(tip.X, tip.Y)
		r, g, b, _ := c.RGBA()
		ok := uint8(r>>8) == panel.ArrowColor.R && uint8(g>>8) == panel.ArrowColor.G && uint8(b>>8) == panel.ArrowColor.B
		return ok, fmt.Sprintf("pixel %v", c)
	})

	// Control by the switch.
	click(panel.CtlControl)
	a.rights(`control=on`)
	// End.
	ref.Step(panel.Rights{Control: true})
	click(panel.CtlEnd)
	a.expect(`^state ended You ended the session\.`)
	if err := a.p.Wait(wineWait); err != nil {
		t.Errorf("the agent: %v", err)
	}
}

// TestWineWindowKeyboard: under Wine the question takes the keyboard
// focus, and Escape on the customer's keyboard denies the viewer.
func TestWineWindowKeyboard(t *testing.T) {
	x := rfbtest.StartXvfb(t, 1024, 720, 24)
	w := rfbtest.StartWine(t, x)
	agent, _ := windowsBinaries(t)
	const pw = "panel"
	a := startWineProc(t, w, agent, "-ui", "window", "-listen", "127.0.0.1:0", "-password-file", writePassword(t, pw))
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	ch := dialViewer(t, addr, pw)
	a.expect(`^prompt Allow .* to see your screen\? \[y/n\]$`)
	// The window has the focus once Wine has shown it: Escape until
	// the agent declined (Escape with no question does nothing).
	for deadline := time.Now().Add(wineWait); a.count(`^state waiting You declined`) == 0; time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Escape never declined")
		}
		xdo(t, x, "key", "Escape")
	}
	select {
	case r := <-ch:
		if _, ok := r.(error); !ok {
			t.Error("the viewer was admitted")
		}
	case <-time.After(wineWait):
		t.Fatal("the viewer got no answer")
	}
	a.send("end")
	if err := a.p.Wait(wineWait); err != nil {
		t.Errorf("the agent: %v", err)
	}
}
