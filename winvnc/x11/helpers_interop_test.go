//go:build interop && linux

package x11

import (
	"context"
	"image"
	"log/slog"
	"os"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// waitTimeout bounds every wait for the X server or the capturer.
const waitTimeout = 10 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("X11_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func openDisplay(t testing.TB, x *rfbtest.Xvfb) *Display {
	t.Helper()
	d, err := Open(x.Display, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// startCapture runs a capturer until the test ends and waits for its
// first frame.
func startCapture(t testing.TB, d *Display, setup func(c *Capturer)) (*Capturer, *rfb.Framebuffer) {
	t.Helper()
	fb := rfb.NewFramebuffer(1, 1)
	c := NewCapturer(d, fb)
	if setup != nil {
		setup(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	deadline := time.Now().Add(waitTimeout)
	for c.Frames() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no first frame")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return c, fb
}

// waitSame waits until fb shows exactly what xwd reads from the display.
func waitSame(t testing.TB, x *rfbtest.Xvfb, fb *rfb.Framebuffer, what string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		want, err := x.Capture()
		if err != nil {
			t.Fatal(err)
		}
		got := fb.Snapshot()
		n, first, detail := -1, image.Point{}, "size differs"
		if got.Bounds() == want.Bounds() {
			n, first, detail = rfbtest.Diff(got, want)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: framebuffer %v differs from xwd %v in %d pixels, first at %v: %s",
				what, got.Bounds(), want.Bounds(), n, first, detail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(t testing.TB, x *rfbtest.Xvfb, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, err := rfbtest.Run(t, ctx, x.Env(), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
