//go:build interop && linux

package rfbtest

import (
	"context"
	"image/color"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(WineMain(m)) }

// TestWine checks StartWine: a console program's output comes back, a
// window opens on the virtual desktop, and the desktop fills the display
// with its taskbar along the bottom edge.
func TestWine(t *testing.T) {
	x := StartXvfb(t, 640, 480, 24)
	w := StartWine(t, x)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := w.Run(t, ctx, "cmd", "/c", "echo", "hello from wine")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "hello from wine") {
		t.Errorf("cmd printed %q", out)
	}
	w.Start(t, "notepad")
	if _, err := WaitForWindow(t, ctx, x, "Untitled - Notepad"); err != nil {
		t.Fatal(err)
	}
	img, err := w.Capture()
	if err != nil {
		t.Fatal(err)
	}
	// The taskbar runs along the bottom edge, in another colour than the
	// desktop above it.
	if bar, desk := img.RGBAAt(600, 475), img.RGBAAt(600, 380); bar == desk || desk == (color.RGBA{0, 0, 0, 255}) {
		t.Errorf("no taskbar at the bottom: %v, desktop %v", bar, desk)
	}
}
