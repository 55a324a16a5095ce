//go:build interop && linux

package winvnc

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// The Windows agent's capture equals the X server's picture of the Wine
// desktop at two screen sizes, before and after typing into notepad and
// moving a window.
func TestWineCapture(t *testing.T) {
	for _, size := range [][2]int{{800, 600}, {1024, 768}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			x := rfbtest.StartXvfb(t, size[0], size[1], 24)
			w := rfbtest.StartWine(t, x)
			w.Start(t, "notepad")
			h := startWineHelper(t, w, "-title", "moved", "-color", "33cc66", "-rect", "300,200,200,150")
			_, v := directAgent(t, w, "pw")
			v.syncTo("the screen", sameAsWine(t, w))

			xdo(t, x, "mousemove", "200", "200", "click", "1") // into notepad
			xdo(t, x, "type", "--delay", "30", "Hello, Wine!")
			h.send("move 420 300")
			h.expect(`^moved 420 300$`)
			v.syncTo("after typing and a move", sameAsWine(t, w))
		})
	}
}

// TigerVNC's vncviewer shows the Windows agent's screen exactly, with each
// of Raw, ZRLE and Tight: a capture of the viewer's own display (full
// screen) equals a capture of the customer's.
func TestWineTigerVNCEncodings(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer")
	const width, height = 800, 600
	x := rfbtest.StartXvfb(t, width, height, 24)
	w := rfbtest.StartWine(t, x)
	w.Start(t, "notepad")
	startWineHelper(t, w, "-title", "colours", "-color", "cc3366", "-rect", "350,250,300,200")
	const pw = "tiger"
	a := startWineAgent(t, w, "-listen", "127.0.0.1:0", "-password-file", writePassword(t, pw))
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	_, port, _ := net.SplitHostPort(addr)
	passwd := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(passwd, rfbtest.VNCPasswdFile(pw), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"Raw", "ZRLE", "Tight"} {
		t.Run(enc, func(t *testing.T) {
			viewerX := rfbtest.StartXvfb(t, width, height, 24)
			viewer := rfbtest.Start(t, viewerX.Env(), "vncviewer", "-FullScreen", "-AutoSelect=0", "-NoJPEG=1",
				"-PreferredEncoding="+enc, "-SecurityTypes=VncAuth", "-passwd", passwd, "127.0.0.1::"+port)
			a.expect(`^prompt Allow .* to see your screen\? \[y/n\]$`)
			a.send("y")
			var last string
			deadline := time.Now().Add(wineWait)
			for {
				want, err := w.Capture()
				if err != nil {
					t.Fatal(err)
				}
				got, err := viewerX.Capture()
				if err != nil {
					t.Fatal(err)
				}
				n, first, detail := rfbtest.Diff(got, want)
				if n == 0 {
					break
				}
				last = fmt.Sprintf("%d pixels differ, first at %v: %s", n, first, detail)
				if time.Now().After(deadline) {
					t.Fatalf("%s: the viewer's display never matched the customer's: %s\nviewer output:\n%s", enc, last, viewer.Output())
				}
				time.Sleep(200 * time.Millisecond)
			}
			viewer.Kill()
			a.expect(`^state waiting .* disconnected`)
		})
	}
}

// Without a virtual desktop Windows programs see the X screen, and an
// xrandr resize of it reaches the viewer as a new size with the pixels
// that go with it.
func TestWineResize(t *testing.T) {
	rfbtest.LookPath(t, "xrandr")
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	w := rfbtest.StartWineRoot(t, x)
	startWineHelper(t, w, "-title", "resized", "-color", "3366cc", "-rect", "100,100,300,200")
	_, v := directAgent(t, w, "pw")
	if err := v.c.SetEncodings(rfb.EncRaw, rfb.EncCopyRect, rfb.EncExtendedDesktopSize, rfb.EncDesktopSize); err != nil {
		t.Fatal(err)
	}
	v.syncTo("800x600", sameAsWine(t, w))
	xrun(t, x, "xrandr", "--newmode", "640x480", "10", "640", "641", "642", "643", "480", "481", "482", "483")
	xrun(t, x, "xrandr", "--addmode", "screen", "640x480")
	xrun(t, x, "xrandr", "--output", "screen", "--mode", "640x480")
	v.syncTo("after xrandr 640x480", func(fb *rfb.Image) (bool, string) {
		if fb.W != 640 || fb.H != 480 {
			return false, fmt.Sprintf("viewer size %dx%d", fb.W, fb.H)
		}
		return sameAsWine(t, w)(fb)
	})
}
