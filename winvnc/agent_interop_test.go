//go:build interop && linux

package winvnc

import (
	"context"
	"image"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// The whole customer-first flow through an in-process broker: the code
// on its own line, the consent prompt naming the viewer, the screen's
// pixels as xwd reads them, view-only input dropped, control granted on
// the terminal, text (shifted and non-ASCII too) typed into an xterm, F12
// on the customer's display taking control back, and "end" leaving
// nothing behind.
func TestInteropBrokerSessionRights(t *testing.T) {
	rfbtest.LookPath(t, "xterm", "xdotool", "xsetroot")
	x := rfbtest.StartXvfb(t, 480, 320, 24)
	xrun(t, x, "xsetroot", "-solid", "#336699")
	typed := filepath.Join(t.TempDir(), "typed.txt")
	startXterm(t, x, "typing", "40x8+10+10", typed)
	tb := startBroker(t)

	a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct",
		Name: "test customer", Display: x.Display})
	code := a.expect(`^code (\d{6})$`)[1]
	a.expect(`^say Your session code is \d{3} \d{3}\.`)
	a.expect(`^state waiting `)

	ch := dialViewer(t, tb.viewerAddr, code)
	q := a.expect(`^prompt Allow (.+) to see your screen\? \[y/n\]$`)
	if !strings.Contains(q[1], "127.0.0.1") {
		t.Errorf("the prompt does not name the viewer's address: %q", q[0])
	}
	select {
	case r := <-ch:
		t.Fatalf("the viewer got in before consent: %v", r)
	case <-time.After(300 * time.Millisecond):
	}
	a.send("y")
	v := mustViewer(t, ch)
	a.expect(`^state sharing `)
	v.syncTo("the screen", sameAsScreen(t, x))

	// View-only: nothing moves, nothing is typed.
	xrun(t, x, "xdotool", "mousemove", "5", "300")
	start := mouse(t, x)
	v.c.PointerEvent(0, 200, 100)
	for _, ks := range []uint32{'n', 'o', 0xff0d} {
		v.c.KeyEvent(true, ks)
		v.c.KeyEvent(false, ks)
	}
	time.Sleep(500 * time.Millisecond)
	if p := mouse(t, x); p != start {
		t.Errorf("view-only: the pointer moved from %v to %v", start, p)
	}

	// Control on: the pointer follows and text arrives.
	a.send("control on")
	a.expect(`^rights control=on `)
	v.c.PointerEvent(0, 200, 100)
	waitFor(t, "the pointer to move", func() bool { return mouse(t, x) == image.Pt(200, 100) })
	xrun(t, x, "xdotool", "search", "--name", "^typing$", "windowfocus", "--sync")
	text := "Hi There! ~ä€"
	for _, r := range text {
		ks := uint32(r)
		if r > 0xff {
			ks = 0x01000000 | uint32(r) // Unicode keysym
		}
		v.c.KeyEvent(true, ks)
		v.c.KeyEvent(false, ks)
	}
	v.c.KeyEvent(true, 0xff0d)
	v.c.KeyEvent(false, 0xff0d)
	waitFor(t, "the typed text", func() bool {
		b, _ := os.ReadFile(typed)
		return strings.Contains(string(b), text)
	})
	if b, _ := os.ReadFile(typed); strings.Contains(string(b), "no") {
		t.Errorf("view-only keys were typed: %q", b)
	}

	// F12 on the customer's keyboard takes control back at once.
	xrun(t, x, "xdotool", "key", "F12")
	a.expect(`^rights control=off `)
	v.c.PointerEvent(0, 50, 60)
	time.Sleep(500 * time.Millisecond)
	if p := mouse(t, x); p != image.Pt(200, 100) {
		t.Errorf("after F12 the pointer moved to %v", p)
	}
	// F11 toggles file transfer; the viewer cannot send either key.
	xrun(t, x, "xdotool", "key", "F11")
	a.expect(`^rights control=off files=on `)
	a.send("status")
	m := a.expect(`^rights control=off files=on dropped=(\d+)$`)
	if n, _ := strconv.Atoi(m[1]); n < 7 {
		t.Errorf("dropped = %d, want at least 7", n)
	}

	// End: Run returns, the viewer is cut off, nothing is left.
	a.send("end")
	a.expect(`^state ended `)
	if err := a.wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	v.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		if _, err := v.c.ReadMessage(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the viewer is still connected after end")
			}
			break
		}
	}
	if n := shmSegmentsOf(t, os.Getpid()); n != 0 {
		t.Errorf("%d shared-memory segments left", n)
	}
}

// gvnccapture through the broker with the code shows the same pixels as
// xwd once the customer said yes.
func TestInteropGVNCCaptureThroughBroker(t *testing.T) {
	rfbtest.LookPath(t, "gvnccapture", "xsetroot")
	x := rfbtest.StartXvfb(t, 400, 300, 24)
	xrun(t, x, "xsetroot", "-solid", "#996633")
	startXterm(t, x, "shown", "30x6+20+30", filepath.Join(t.TempDir(), "out"))
	tb := startBroker(t)
	pem, err := os.ReadFile(filepath.Join(tb.dir, "broker-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	rfbtest.TrustForGTKVNC(t, pem)
	a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", Display: x.Display})
	code := a.expect(`^code (\d{6})$`)[1]
	go func() {
		a.expect(`^prompt `)
		a.send("y")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	_, port, _ := net.SplitHostPort(tb.viewerAddr)
	p, _ := strconv.Atoi(port)
	got, err := rfbtest.GVNCCaptureHost(t, ctx, "localhost", p, code)
	if err != nil {
		t.Fatal(err)
	}
	want, err := x.Capture()
	if err != nil {
		t.Fatal(err)
	}
	if n, first, detail := rfbtest.Diff(got, want); n != 0 {
		t.Fatalf("gvnccapture differs from xwd in %d pixels, first at %v: %s", n, first, detail)
	}
}

// "n" refuses the viewer with the reason, and the agent waits on.
func TestInteropBrokerDecline(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	tb := startBroker(t)
	a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", Display: x.Display})
	code := a.expect(`^code (\d{6})$`)[1]
	ch := dialViewer(t, tb.viewerAddr, code)
	a.expect(`^prompt `)
	a.send("n")
	select {
	case r := <-ch:
		err, ok := r.(error)
		if !ok {
			t.Fatal("the viewer got in although the customer said no")
		}
		if !strings.Contains(err.Error(), "the customer declined") {
			t.Errorf("viewer's error %q does not give the reason", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the viewer was not refused")
	}
	a.expect(`^state waiting You declined`)
}

// Direct mode: VNC Authentication with the password file's first line, a
// wrong password refused, consent naming the remote address, the
// screen's pixels, and no open port after "end".
func TestInteropDirectMode(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	xrun(t, x, "xsetroot", "-solid", "#225522")
	pw := writePassword(t, "s3cret")
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: pw, Display: x.Display})
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]

	if r := <-dialViewer(t, addr, "wrong"); r == nil {
		t.Fatal("nil")
	} else if _, ok := r.(error); !ok {
		t.Fatal("a wrong password was accepted")
	}
	a.expect(`gave a wrong password`)
	time.Sleep(1100 * time.Millisecond) // the guessing delay

	ch := dialViewer(t, addr, "s3cret")
	a.expect(`^prompt Allow 127\.0\.0\.1:\d+ to see your screen\?`)
	a.send("y")
	v := mustViewer(t, ch)
	v.syncTo("the screen", sameAsScreen(t, x))

	a.send("end")
	if err := a.wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the port is still open after end")
	}
}

// Application selection: after "share N" everything outside that
// window's visible part reaches the viewer as the mask pattern, and it
// follows the window when it moves.
func TestInteropApplicationSelection(t *testing.T) {
	rfbtest.LookPath(t, "xterm", "xdotool", "xsetroot")
	x := rfbtest.StartXvfb(t, 400, 300, 24)
	xrun(t, x, "xsetroot", "-solid", "#aa2222")
	startXterm(t, x, "secret", "20x5+200+150", filepath.Join(t.TempDir(), "a"))
	startXterm(t, x, "chosen", "30x6+10+10", filepath.Join(t.TempDir(), "b"))
	pw := writePassword(t, "pw")
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: pw, Display: x.Display})
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	ch := dialViewer(t, addr, "pw")
	a.expect(`^prompt `)
	a.send("y")
	v := mustViewer(t, ch)
	v.syncTo("the screen", sameAsScreen(t, x))

	a.send("windows")
	n := a.expect(`^window (\d+) "chosen" `)[1]
	a.send("share " + n)
	a.expect(`^say Sharing only "chosen"`)

	masked := func(fb *rfb.Image) (bool, string) {
		geo := windowRect(t, x, "chosen")
		want, err := x.Capture()
		if err != nil {
			t.Fatal(err)
		}
		for y := range fb.H {
			for xx := range fb.W {
				w := MaskColor(xx, y)
				if image.Pt(xx, y).In(geo) {
					r, g, b, _ := want.At(xx, y).RGBA()
					w = uint32(r>>8)<<16 | uint32(g>>8)<<8 | uint32(b>>8)
				}
				if got := fb.RGB(xx, y); got != w {
					return false, "pixel " + image.Pt(xx, y).String() + " is " + strconv.FormatUint(uint64(got), 16) + ", want " + strconv.FormatUint(uint64(w), 16)
				}
			}
		}
		return true, ""
	}
	v.syncTo("the mask", masked)

	// The mask follows the window.
	xrun(t, x, "xdotool", "search", "--name", "^chosen$", "windowmove", "--sync", "150", "120")
	v.syncTo("the mask after a move", masked)

	a.send("share all")
	v.syncTo("the whole screen again", sameAsScreen(t, x))
}

// windowRect is the named window's rectangle on the screen.
func windowRect(t *testing.T, x *rfbtest.Xvfb, name string) image.Rectangle {
	t.Helper()
	out := xrun(t, x, "xdotool", "search", "--name", "^"+name+"$", "getwindowgeometry", "--shell")
	vals := map[string]int{}
	for _, f := range strings.Fields(out) {
		k, v, _ := strings.Cut(f, "=")
		vals[k], _ = strconv.Atoi(v)
	}
	return image.Rect(vals["X"], vals["Y"], vals["X"]+vals["WIDTH"], vals["Y"]+vals["HEIGHT"])
}
