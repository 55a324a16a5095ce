//go:build interop && linux

package x11

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb/composite"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// TestGuard checks that a request to an extension xgb has not initialised
// (it panics) comes back as an error, and that a missing extension is
// refused before any request is made.
func TestGuard(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	d := openDisplay(t, x)
	err := guard(func() error {
		_, err := composite.QueryVersion(d.conn, 0, 4).Reply()
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("uninitialised extension: err = %v, want a recovered panic", err)
	}

	d.ext[ExtXTest] = false // as on a server without XTEST
	if _, err := NewInjector(d); !errors.Is(err, ErrNoExtension) {
		t.Fatalf("NewInjector without XTEST: err = %v, want ErrNoExtension", err)
	}
	d.ext[ExtXTest] = true

	// Without DAMAGE and XFIXES the capturer polls and still sees changes.
	d.ext[ExtDamage], d.ext[ExtXFixes] = false, false
	_, fb := startCapture(t, d, func(c *Capturer) { c.Poll = 20 * time.Millisecond })
	run(t, x, "xsetroot", "-solid", "#123456")
	waitSame(t, x, fb, "xsetroot without DAMAGE")
}

// TestClosedDisplay checks that using the pieces after the connection has
// gone neither hangs nor panics.
func TestClosedDisplay(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	d := openDisplay(t, x)
	in, err := NewInjector(d)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHotkeys(d)
	if err != nil {
		t.Fatal(err)
	}
	in.Key(rfb.KeyEvent{Down: true, Keysym: 'a'})
	d.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.Key(rfb.KeyEvent{Down: true, Keysym: 'b'})
		in.Pointer(rfb.PointerEvent{X: 1, Y: 1, Buttons: 1})
		in.ReleaseAll()
		_ = in.Close()
		_ = h.GrabKey(0xffc9)
		_ = h.Close()
		if _, err := d.Windows(); err == nil {
			t.Error("Windows on a closed display: no error")
		}
		c := NewCapturer(d, rfb.NewFramebuffer(1, 1))
		if err := c.Run(t.Context()); err == nil {
			t.Error("Run on a closed display: no error")
		}
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("calls on a closed display hang")
	}
}
