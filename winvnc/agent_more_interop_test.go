//go:build interop && linux

package winvnc

import (
	"fmt"
	"image"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// TigerVNC's vncviewer, full screen in an Xvfb of its own, attaches
// through the broker with the code as its VNC password. A capture of the
// viewer's display must equal a capture of the customer's, first and
// again after a window moves on the customer's screen.
func TestInteropTigerVNCThroughBrokerToAgent(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "xsetroot", "xdotool", "xterm")
	const w, h = 640, 400
	customer := rfbtest.StartXvfb(t, w, h, 24)
	xrun(t, customer, "xsetroot", "-solid", "#336699")
	startXterm(t, customer, "moved", "30x6+20+30", filepath.Join(t.TempDir(), "out"))

	tb := startBroker(t)
	a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", Display: customer.Display})
	code := a.expect(`^code (\d{6})$`)[1]
	go func() {
		a.expect(`^prompt `)
		a.send("y")
	}()

	pw := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(pw, rfbtest.VNCPasswdFile(code), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(tb.viewerAddr)
	viewerX := rfbtest.StartXvfb(t, w, h, 24)
	viewer := rfbtest.Start(t, viewerX.Env(), "vncviewer", "-FullScreen", "-AutoSelect=0", "-NoJPEG=1",
		"-SecurityTypes=VncAuth", "-passwd", pw, "127.0.0.1::"+port)

	// The displays agree when captures of both are equal; the customer's
	// screen is the reference of each round.
	same := func(stage string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		var last string
		for time.Now().Before(deadline) {
			want, err := customer.Capture()
			if err != nil {
				t.Fatal(err)
			}
			got, err := viewerX.Capture()
			if err != nil {
				t.Fatal(err)
			}
			n, first, detail := rfbtest.Diff(got, want)
			if n == 0 {
				return
			}
			last = fmt.Sprintf("%d pixels differ, first at %v: %s", n, first, detail)
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: the viewer's display never matched the customer's: %s\nviewer output:\n%s", stage, last, viewer.Output())
	}
	same("initial")
	xrun(t, customer, "xdotool", "search", "--name", "moved", "windowmove", "300", "200")
	same("after the window moved")
}

// A resolution change on the customer's display (xrandr) reaches the
// viewer as a new framebuffer size, and the pixels follow.
func TestInteropResolutionChangeReachesViewer(t *testing.T) {
	rfbtest.LookPath(t, "xrandr", "xsetroot")
	customer := rfbtest.StartXvfb(t, 640, 480, 24)
	xrun(t, customer, "xsetroot", "-solid", "#669933")
	pwFile := writePassword(t, "482913")
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: pwFile, Display: customer.Display})
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	ch := dialViewer(t, addr, "482913")
	a.expect(`^prompt `)
	a.send("y")
	v := mustViewer(t, ch)
	if err := v.c.SetEncodings(rfb.EncRaw, rfb.EncCopyRect, rfb.EncExtendedDesktopSize, rfb.EncDesktopSize); err != nil {
		t.Fatal(err)
	}
	v.syncTo("initial", sameAsScreen(t, customer))

	xrun(t, customer, "xrandr", "--newmode", "400x300", "10", "400", "401", "402", "403", "300", "301", "302", "303")
	xrun(t, customer, "xrandr", "--addmode", "screen", "400x300")
	xrun(t, customer, "xrandr", "--output", "screen", "--mode", "400x300")
	v.syncTo("after xrandr 400x300", func(fb *rfb.Image) (bool, string) {
		if fb.W != 400 || fb.H != 300 {
			return false, "viewer size " + strconv.Itoa(fb.W) + "x" + strconv.Itoa(fb.H)
		}
		return sameAsScreen(t, customer)(fb)
	})
}

// A window dragged over the shared one never shows a pixel to the viewer,
// in any frame: the mask is fitted to the window layout of each frame
// before it is encoded, not polled.
func TestInteropMaskHoldsWhileDragging(t *testing.T) {
	rfbtest.LookPath(t, "xterm", "xdotool", "xsetroot")
	x := rfbtest.StartXvfb(t, 640, 400, 24)
	xrun(t, x, "xsetroot", "-solid", "#224466")
	startXterm(t, x, "chosen", "40x12+200+100", filepath.Join(t.TempDir(), "a"))
	env := append(x.Env(), "LC_ALL=C.UTF-8")
	rfbtest.Start(t, env, "xterm", "-T", "mover", "-geometry", "20x6+10+300", "-bg", "#ff00ff", "-bw", "0", "-e", "cat")
	waitFor(t, "the mover", func() bool {
		out, err := rfbtest.Run(t, t.Context(), x.Env(), "xdotool", "search", "--onlyvisible", "--name", "^mover$")
		return err == nil && strings.TrimSpace(out) != ""
	})
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, "pw"), Display: x.Display})
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
	v.syncTo("no magenta", func(fb *rfb.Image) (bool, string) {
		msg := magenta(fb)
		return msg == "", msg
	})

	stop := watchUpdates(v, magenta)
	for i := range 30 {
		xrun(t, x, "xdotool", "search", "--name", "^mover$", "windowmove", strconv.Itoa(10+i*15), strconv.Itoa(300-i*8))
	}
	time.Sleep(300 * time.Millisecond)
	frames, bad := stop()
	t.Logf("%d updates while dragging", frames)
	if bad != "" {
		t.Errorf("the dragged window showed through the mask: %s", bad)
	}
}

// magenta complains about a magenta pixel in fb.
func magenta(fb *rfb.Image) string {
	for y := range fb.H {
		for x := range fb.W {
			if fb.RGB(x, y) == 0xff00ff {
				return fmt.Sprintf("pixel (%d,%d) is magenta", x, y)
			}
		}
	}
	return ""
}

// watchUpdates reads the viewer's updates on a goroutine of its own until
// stop is called, and runs check on the framebuffer after each one; stop
// closes the viewer and returns how many updates came and the first
// complaint.
func watchUpdates(v *viewer, check func(fb *rfb.Image) string) (stop func() (frames int, bad string)) {
	type result struct {
		frames int
		bad    string
	}
	res := make(chan result, 1)
	stopped := make(chan struct{})
	go func() {
		var r result
		defer func() { res <- r }()
		w, h := v.c.Size()
		v.c.RequestUpdate(true, image.Rect(0, 0, w, h))
		for {
			m, err := v.c.ReadMessage()
			if err != nil {
				select {
				case <-stopped:
				default:
					r.bad = "ReadMessage: " + err.Error()
				}
				return
			}
			if _, ok := m.(*rfb.FramebufferUpdate); !ok {
				continue
			}
			r.frames++
			if msg := check(v.c.Framebuffer()); msg != "" && r.bad == "" {
				r.bad = fmt.Sprintf("update %d: %s", r.frames, msg)
			}
			w, h := v.c.Size()
			v.c.RequestUpdate(true, image.Rect(0, 0, w, h))
		}
	}()
	return func() (int, string) {
		close(stopped)
		v.c.Close()
		r := <-res
		return r.frames, r.bad
	}
}

// Another program holds F12: the agent tells the customer, offers Pause
// instead, and Pause takes control back; "control off" works as ever.
func TestInteropF12HeldByAnotherClient(t *testing.T) {
	rfbtest.LookPath(t, "xdotool")
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	other, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	setup := xproto.Setup(other)
	root := setup.DefaultScreen(other).Root
	km, err := xproto.GetKeyboardMapping(other, setup.MinKeycode, byte(setup.MaxKeycode-setup.MinKeycode+1)).Reply()
	if err != nil {
		t.Fatal(err)
	}
	var f12 xproto.Keycode
	for i, ks := range km.Keysyms {
		if ks == KeysymF12 {
			f12 = setup.MinKeycode + xproto.Keycode(i/int(km.KeysymsPerKeycode))
			break
		}
	}
	if err := xproto.GrabKeyChecked(other, true, root, xproto.ModMaskAny, f12, xproto.GrabModeAsync, xproto.GrabModeAsync).Check(); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, "pw"), Display: x.Display})
	a.expect(`^say F12 is held by another program on this computer: press Pause \(or type "control off"\) to take control back\.$`)
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	ch := dialViewer(t, addr, "pw")
	a.expect(`^prompt `)
	a.send("y")
	mustViewer(t, ch)
	a.send("control on")
	a.expect(`^say The supporter may now control your computer\. Press Pause to take control back\.$`)
	xrun(t, x, "xdotool", "key", "Pause")
	a.expect(`^say Pause: remote control taken back\.$`)
	a.expect(`^rights control=off `)
	a.send("control on")
	a.expect(`^rights control=on `)
	a.send("control off")
	a.expect(`^rights control=off `)
}

// With application selection, a masked window gets no input: keys typed
// while it has the focus never reach it, and a click on it neither lands
// nor moves the pointer there; the shared window still gets both.
func TestInteropMaskedWindowGetsNoInput(t *testing.T) {
	rfbtest.LookPath(t, "xterm", "xdotool")
	x := rfbtest.StartXvfb(t, 640, 400, 24)
	dir := t.TempDir()
	startXterm(t, x, "shared", "30x6+10+10", filepath.Join(dir, "shared.txt"))
	startXterm(t, x, "masked", "30x6+330+200", filepath.Join(dir, "masked.txt"))
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, "pw"), Display: x.Display})
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	ch := dialViewer(t, addr, "pw")
	a.expect(`^prompt `)
	a.send("y")
	v := mustViewer(t, ch)
	a.send("windows")
	n := a.expect(`^window (\d+) "shared" `)[1]
	a.send("share " + n)
	a.expect(`^say Sharing only "shared"`)
	a.send("control on")
	a.expect(`^rights control=on `)

	typeText := func(s string) {
		for _, r := range s {
			v.c.KeyEvent(true, uint32(r))
			v.c.KeyEvent(false, uint32(r))
		}
		v.c.KeyEvent(true, 0xff0d)
		v.c.KeyEvent(false, 0xff0d)
	}
	// The customer focuses the masked window; the supporter types.
	xrun(t, x, "xdotool", "search", "--name", "^masked$", "windowfocus", "--sync")
	typeText("leak")
	// A click on the masked window.
	masked := windowRect(t, x, "masked")
	mid := masked.Min.Add(masked.Size().Div(2))
	xrun(t, x, "xdotool", "mousemove", "5", "390")
	v.c.PointerEvent(0, mid.X, mid.Y)
	v.c.PointerEvent(1, mid.X, mid.Y)
	v.c.PointerEvent(0, mid.X, mid.Y)
	// Then the shared one, focused.
	xrun(t, x, "xdotool", "search", "--name", "^shared$", "windowfocus", "--sync")
	typeText("ok")
	waitFor(t, "the shared window's text", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "shared.txt"))
		return strings.Contains(string(b), "ok")
	})
	if b, _ := os.ReadFile(filepath.Join(dir, "masked.txt")); len(b) != 0 {
		t.Errorf("the masked window got %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "shared.txt")); strings.Contains(string(b), "leak") {
		t.Errorf("the shared window got the keys typed while the masked one had the focus: %q", b)
	}
	if p := mouse(t, x); p.In(masked) {
		t.Errorf("the pointer went onto the masked window: %v", p)
	}
}
