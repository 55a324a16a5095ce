//go:build interop && linux

package x11

import (
	"context"
	"image"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// TestCaptureMovesAsCopyRect moves an xterm in steps and checks that a
// client with CopyRect gets each move as a CopyRect from where the window
// was, with far fewer pixels than the window has, and ends up showing
// exactly the screen.
func TestCaptureMovesAsCopyRect(t *testing.T) {
	rfbtest.LookPath(t, "xterm", "xdotool")
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	d := openDisplay(t, x)
	run(t, x, "xsetroot", "-solid", "#336699")
	rfbtest.Start(t, x.Env(), "xterm", "-T", "movetest", "-geometry", "60x20+40+30",
		"-bg", "#fdf6e3", "-fg", "#073642", "-e", "sh", "-c", "ls -l /usr/bin | head -n 19; sleep 60")
	id := strings.TrimSpace(run(t, x, "xdotool", "search", "--sync", "--name", "movetest"))
	_, fb := startCapture(t, d, nil)
	waitSame(t, x, fb, "xterm mapped")

	srv := rfb.NewServer(fb, rfb.Options{})
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { srv.ServeConn(ctx, a); close(served) }()
	t.Cleanup(func() { cancel(); b.Close(); <-served })
	c, err := rfb.NewClient(ctx, b, rfb.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetEncodings(rfb.EncCopyRect, rfb.EncRaw); err != nil {
		t.Fatal(err)
	}
	if err := c.RequestFull(); err != nil {
		t.Fatal(err)
	}
	w, h := c.Size()
	full := image.Rect(0, 0, w, h)
	var copies, pixels atomic.Int64
	var shown atomic.Pointer[rfb.Image]
	counting := make(chan bool, 1)
	go func() {
		for first := true; ; first = false {
			m, err := c.ReadMessage()
			if err != nil {
				return
			}
			u, ok := m.(*rfb.FramebufferUpdate)
			if !ok {
				continue
			}
			for _, r := range u.Rects {
				if r.Encoding == rfb.EncCopyRect {
					copies.Add(1)
				} else if !first {
					pixels.Add(int64(r.Rect.Dx() * r.Rect.Dy()))
				}
			}
			shown.Store(c.Framebuffer().Clone())
			if first {
				counting <- true
			}
			if c.RequestUpdate(true, full) != nil {
				return
			}
		}
	}()
	select {
	case <-counting:
	case <-time.After(waitTimeout):
		t.Fatal("no first picture")
	}
	for i := range 8 {
		run(t, x, "xdotool", "windowmove", "--sync", id, strconv.Itoa(60+40*i), strconv.Itoa(50+25*i))
		time.Sleep(30 * time.Millisecond)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		want, err := x.Capture()
		if err != nil {
			t.Fatal(err)
		}
		if got := shown.Load(); got != nil {
			if n, _, _ := rfbtest.Diff(got, want); n == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the client never showed the screen after the moves")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The window is about 370x270 pixels: 8 moves as pixels would be
	// about 8×2×100,000.
	t.Logf("%d CopyRects, %d pixels", copies.Load(), pixels.Load())
	if copies.Load() == 0 || pixels.Load() > 8*100_000 {
		t.Errorf("8 moves: %d CopyRects and %d pixels", copies.Load(), pixels.Load())
	}
}
