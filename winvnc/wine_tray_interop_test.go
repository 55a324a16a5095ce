//go:build interop && linux

package winvnc

import (
	"fmt"
	"image"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// The Windows tray under Wine's virtual desktop: the lifebuoy icon shows
// in the taskbar's notification area; its menu (opened with a right
// click) grants remote control with "Allow remote control" and ends
// the agent with "End session", beside the terminal UI.
func TestWineTray(t *testing.T) {
	const width, height = 800, 600
	x := rfbtest.StartXvfb(t, width, height, 24)
	w := rfbtest.StartWine(t, x)
	a, _ := directAgent(t, w, "pw", "-ui", "auto")
	a.expect(`^state sharing `)

	// capture retries xwd, which fails now and then while Wine maps or
	// unmaps a popup (BadMatch).
	capture := func() *image.RGBA {
		t.Helper()
		for i := 0; ; i++ {
			img, err := w.Capture()
			if err == nil {
				return img
			}
			if i == 5 {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// The icon: the ring's red (icon.go) in the bottom rows, the taskbar.
	var icon image.Rectangle
	var screen *image.RGBA
	deadline := time.Now().Add(wineWait)
	for icon.Empty() {
		if time.Now().After(deadline) {
			t.Fatal("no lifebuoy icon in the taskbar")
		}
		time.Sleep(300 * time.Millisecond)
		screen = capture()
		for y := height - 40; y < height; y++ {
			for xx := range width {
				if c := screen.RGBAAt(xx, y); c.R == 0xd8 && c.G == 0x1e && c.B == 0x1e {
					icon = icon.Union(image.Rect(xx, y, xx+1, y+1))
				}
			}
		}
	}
	t.Logf("the icon's red at %v", icon)

	// openMenu right-clicks the icon and returns where the screen changed:
	// the menu (and perhaps the icon's tooltip beside it).
	openMenu := func() image.Rectangle {
		t.Helper()
		before := capture()
		c := icon.Min.Add(icon.Size().Div(2))
		xdo(t, x, "mousemove", fmt.Sprint(c.X), fmt.Sprint(c.Y), "click", "3")
		deadline := time.Now().Add(wineWait)
		for {
			time.Sleep(300 * time.Millisecond)
			after := capture()
			var menu image.Rectangle
			for y := range height - 20 { // above the taskbar (20 rows)
				for xx := range width {
					if before.RGBAAt(xx, y) != after.RGBAAt(xx, y) {
						menu = menu.Union(image.Rect(xx, y, xx+1, y+1))
					}
				}
			}
			if menu.Dy() > 100 {
				return menu
			}
			if time.Now().After(deadline) {
				t.Fatalf("the tray menu did not open (changed: %v)", menu)
			}
		}
	}
	// The menu's last rows (see tray.go): "Allow remote control", "Allow
	// file transfer", "Share the whole screen", "Send files…", a
	// separator, "End session"; rows of 16 pixels, the separator 9.
	menu := openMenu()
	t.Logf("menu at %v", menu)
	endY := menu.Max.Y - 11
	controlY := endY - 25 - 3*16
	xdo(t, x, "mousemove", fmt.Sprint(menu.Min.X+40), fmt.Sprint(controlY), "click", "1")
	a.expect(`^rights control=on `)

	openMenu()
	xdo(t, x, "mousemove", fmt.Sprint(menu.Min.X+40), fmt.Sprint(endY), "click", "1")
	a.expect(`^state ended `)
	if err := a.p.Wait(wineWait); err != nil {
		t.Errorf("the agent did not exit cleanly after End session: %v", err)
	}
}
