//go:build interop && linux

package winvnc

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb/rfbtest"
	"lifebuoy/winvnc/panel"
)

var acmeGreen = color.RGBA{0x00, 0x7a, 0x5e, 0xff}

// windowAgent runs the agent with its window through the broker on a
// customer's Xvfb, and a TigerVNC viewer, full screen on an Xvfb of its
// own, that dials the broker with the code as its password.
type windowAgent struct {
	t        *testing.T
	customer *rfbtest.Xvfb
	viewerX  *rfbtest.Xvfb
	viewer   *rfbtest.Proc
	a        *testAgent
	code     string
	expires  string // 15:04
	id       string // the window's id, for xdotool
}

const winW, winH = 1024, 720

func startWindowAgent(t *testing.T) *windowAgent {
	rfbtest.LookPath(t, "vncviewer", "xsetroot", "xdotool")
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "en_US.UTF-8")
	w := &windowAgent{t: t, customer: rfbtest.StartXvfb(t, winW, winH, 24)}
	xrun(t, w.customer, "xsetroot", "-solid", "#336699")
	tb := startBroker(t)
	w.a = startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", Display: w.customer.Display,
		Window: WindowOn, Brand: "Acme Support", BrandColor: acmeGreen})
	w.code = w.a.expect(`^code (\d{6})$`)[1]
	w.expires = w.a.expect(`^say Your session code is .* it expires at (\d\d:\d\d)\.$`)[1]
	w.a.expect(`^state waiting `)
	w.id = xrun(t, w.customer, "xdotool", "search", "--sync", "--name", "^Acme Support")

	pw := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(pw, rfbtest.VNCPasswdFile(w.code), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(tb.viewerAddr)
	w.viewerX = rfbtest.StartXvfb(t, winW, winH, 24)
	w.viewer = rfbtest.Start(t, w.viewerX.Env(), "vncviewer", "-FullScreen", "-AutoSelect=0", "-NoJPEG=1",
		"-SecurityTypes=VncAuth", "-passwd", pw, "127.0.0.1::"+port)
	return w
}

// rect is where the window is on the customer's screen.
func (w *windowAgent) rect() image.Rectangle {
	out := xrun(w.t, w.customer, "xdotool", "getwindowgeometry", "--shell", w.id)
	v := map[string]int{}
	for _, f := range strings.Fields(out) {
		k, s, _ := strings.Cut(f, "=")
		v[k], _ = strconv.Atoi(s)
	}
	return image.Rect(v["X"], v["Y"], v["X"]+v["WIDTH"], v["Y"]+v["HEIGHT"])
}

// supporterMoves moves the viewer's pointer to p (full screen: the
// customer's coordinates). TigerVNC takes its motion from XInput 2,
// where xdotool's absolute move (a warp) shows only once: the relative
// moves after it are real motion.
func (w *windowAgent) supporterMoves(p image.Point) {
	xrun(w.t, w.viewerX, "xdotool", "mousemove", strconv.Itoa(p.X-1), strconv.Itoa(p.Y),
		"mousemove_relative", "--", "2", "0", "mousemove_relative", "--", "-1", "0")
}

// title is the window's WM_NAME.
func (w *windowAgent) title() string {
	return xrun(w.t, w.customer, "xdotool", "getwindowname", w.id)
}

// waitTitle waits until the window's title contains s.
func (w *windowAgent) waitTitle(s string) {
	w.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(w.title(), s) {
		if time.Now().After(deadline) {
			w.t.Fatalf("the window's title %q never said %q", w.title(), s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// click clicks, with XTEST on the customer's display, control c as the
// reference panel ref lays it out.
func (w *windowAgent) click(ref *panel.Panel, c panel.Control) {
	w.t.Helper()
	cr := ref.ControlRect(c)
	if cr.Empty() {
		w.t.Fatalf("the reference shows no %v", c)
	}
	at := w.rect().Min.Add(cr.Min).Add(cr.Size().Div(2))
	w.t.Logf("click %v at %v", c, at)
	xrun(w.t, w.customer, "xdotool", "mousemove", strconv.Itoa(at.X), strconv.Itoa(at.Y), "click", "1")
}

// reference is the window as the panel draws it after the agent's
// first events and a question from who.
func (w *windowAgent) reference(who string) *panel.Panel {
	p := panel.New(panel.Options{Brand: "Acme Support", Color: acmeGreen, Lang: panel.English, Scale: 1})
	hm, _ := time.ParseInLocation("15:04", w.expires, time.Local)
	now := time.Now()
	exp := time.Date(now.Year(), now.Month(), now.Day(), hm.Hour(), hm.Minute(), 0, 0, time.Local)
	for _, m := range []panel.Msg{panel.Hotkeys{Control: "F12", Files: "F11"}, panel.Rights{}, panel.Code{Code: w.code, Expires: exp},
		panel.State{Phase: panel.Waiting}, panel.State{Phase: panel.Asking}, panel.Question{Who: who}} {
		p.Step(m)
	}
	return p
}

// sameAsReference waits until xwd shows the window as ref draws it.
func (w *windowAgent) sameAsReference(ref *panel.Panel) {
	w.t.Helper()
	want := ref.Image()
	var last string
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		shot, err := w.customer.Capture()
		if err != nil {
			w.t.Fatal(err)
		}
		r := w.rect()
		if r.Size() != want.Rect.Size() {
			last = fmt.Sprintf("window %v, reference %v", r.Size(), want.Rect.Size())
			continue
		}
		got := shot.SubImage(r)
		n, first, detail := rfbtest.Diff(got, want)
		if n == 0 {
			return
		}
		last = fmt.Sprintf("%d pixels differ, first at %v: %s", n, first, detail)
		dir := w.t.TempDir()
		savePNG(w.t, filepath.Join(dir, "got.png"), got)
		savePNG(w.t, filepath.Join(dir, "want.png"), want)
		last += " (images in " + dir + ")"
	}
	w.t.Fatalf("the window never showed the reference picture: %s", last)
}

func savePNG(t *testing.T, path string, img image.Image) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	png.Encode(f, img)
}

// TestWindowAllowRightsArrowEnd: the customer's window on Xvfb. It shows
// the code and the question as the panel draws them (xwd against the
// reference picture); a click on Allow admits TigerVNC's viewer; the
// viewer's pointer moves an arrow on the customer's screen while the
// customer's own pointer stays where it was; a click at the arrow
// reaches the window below; the switches change the rights the agent
// enforces; the arrow hides with control and comes back after F12; End
// ends the session and the window is gone.
func TestWindowAllowRightsArrowEnd(t *testing.T) {
	w := startWindowAgent(t)
	who := w.a.expect(`^prompt Allow (.*) to see your screen\? \[y/n\]$`)[1]
	w.waitTitle("?")
	ref := w.reference(who)
	w.sameAsReference(ref)
	if got, want := w.title(), "Acme Support · "+panel.GroupCode(w.code)+" · asking"; !strings.HasPrefix(got, want) {
		t.Errorf("title %q, want prefix %q", got, want)
	}

	w.click(ref, panel.CtlAllow)
	w.a.expect(`^state sharing `)
	w.waitTitle("sharing · remote control off · file transfer off")
	ref.Step(panel.NoQuestion{})
	ref.Step(panel.State{Phase: panel.Sharing, Who: who})
	w.sameAsReference(ref)

	// A window below the arrow, of another client, that reports clicks.
	c, err := xgb.NewConnDisplay(w.customer.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	scr := xproto.Setup(c).DefaultScreen(c)
	below, _ := xproto.NewWindowId(c)
	if err := xproto.CreateWindowChecked(c, scr.RootDepth, below, scr.Root, 100, 100, 400, 300, 0,
		xproto.WindowClassInputOutput, scr.RootVisual, xproto.CwBackPixel|xproto.CwEventMask,
		[]uint32{0x00c0c0c0, xproto.EventMaskButtonPress}).Check(); err != nil {
		t.Fatal(err)
	}
	xproto.MapWindow(c, below)
	presses := make(chan xproto.ButtonPressEvent, 4)
	go func() {
		for {
			ev, err := c.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			if bp, ok := ev.(xproto.ButtonPressEvent); ok {
				presses <- bp
			}
		}
	}()

	// The supporter points: the viewer's pointer, full screen, is at the
	// customer's coordinates.
	mine := mouse(t, w.customer)
	focus := xrun(t, w.customer, "xdotool", "getwindowfocus")
	point := image.Pt(300, 250)
	arrowAt := func(want bool, stage string) {
		t.Helper()
		tip := point.Add(image.Pt(2, 8)) // inside the arrow, below its tip
		for deadline := time.Now().Add(waitTimeout); ; time.Sleep(50 * time.Millisecond) {
			// Keep moving, so that the arrow does not time out.
			w.supporterMoves(point)
			shot, err := w.customer.Capture()
			if err != nil {
				t.Fatal(err)
			}
			if got := shot.RGBAAt(tip.X, tip.Y) == panel.ArrowColor; got == want {
				return
			}
			if time.Now().After(deadline) {
				where := image.Point{-1, -1}
				for y := 0; y < winH && where.X < 0; y++ {
					for x := 0; x < winW; x++ {
						if shot.RGBAAt(x, y) == panel.ArrowColor {
							where = image.Pt(x, y)
							break
						}
					}
				}
				t.Fatalf("%s: arrow shown %v at %v, want %v (pixel %v; first arrow pixel at %v; viewer's pointer %v)", stage, !want, tip, want, shot.RGBAAt(tip.X, tip.Y), where, mouse(t, w.viewerX))
			}
		}
	}
	arrowAt(true, "pointing")
	if got := mouse(t, w.customer); got != mine {
		t.Errorf("the customer's pointer moved from %v to %v", mine, got)
	}
	if got := xrun(t, w.customer, "xdotool", "getwindowfocus"); got != focus {
		t.Errorf("the arrow took the focus: %s, before %s", got, focus)
	}
	// The supporter sees the arrow too: it is on the screen.
	deadline := time.Now().Add(waitTimeout)
	for {
		vs, err := w.viewerX.Capture()
		if err != nil {
			t.Fatal(err)
		}
		if vs.RGBAAt(point.X+2, point.Y+8) == panel.ArrowColor {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the viewer never showed the arrow: %v", vs.RGBAAt(point.X+2, point.Y+8))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A click of the customer's at the arrow goes to the window below.
	xrun(t, w.customer, "xdotool", "mousemove", strconv.Itoa(point.X+2), strconv.Itoa(point.Y+8), "click", "1")
	select {
	case bp := <-presses:
		if bp.Event != below {
			t.Errorf("the click went to window %d, not the one below the arrow (%d)", bp.Event, below)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the click at the arrow never reached the window below")
	}

	// Control by the switch: the arrow goes, the supporter's pointer is
	// the customer's.
	w.click(ref, panel.CtlControl)
	w.a.expect(`^rights control=on files=off`)
	w.waitTitle("remote control on")
	arrowAt(false, "with control")
	deadline = time.Now().Add(waitTimeout)
	for mouse(t, w.customer) != point {
		if time.Now().After(deadline) {
			t.Fatalf("with control, the customer's pointer is at %v, not the supporter's %v", mouse(t, w.customer), point)
		}
		w.supporterMoves(point)
		time.Sleep(50 * time.Millisecond)
	}
	// The supporter, with control, cannot use the customer's window: a
	// click on its Files switch (the viewer is full screen: the same
	// place) is dropped.
	fr := ref.ControlRect(panel.CtlFiles).Add(w.rect().Min)
	fc := fr.Min.Add(fr.Size().Div(2))
	xrun(t, w.viewerX, "xdotool", "mousemove", strconv.Itoa(fc.X), strconv.Itoa(fc.Y), "click", "1")
	time.Sleep(500 * time.Millisecond) // a click that arrives would be seen by now
	w.a.send("status")
	w.a.expect(`^rights control=on files=off`)

	// F12 on the customer's keyboard takes control back; the arrow is
	// back with the next move.
	xrun(t, w.customer, "xdotool", "key", "F12")
	w.a.expect(`^rights control=off files=off`)
	w.waitTitle("remote control off")
	arrowAt(true, "after F12")

	// Files by the switch.
	w.click(ref, panel.CtlFiles)
	w.a.expect(`^rights control=off files=on`)
	w.waitTitle("file transfer on")

	// The customer hides the window from the supporter: the viewer
	// shows the mask where it is, the customer still sees it.
	w.click(ref, panel.CtlHide)
	wr := w.rect()
	probe := wr.Min.Add(image.Pt(3, 3)) // in the brand's header, left of its name
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(100 * time.Millisecond) {
		vs, err := w.viewerX.Capture()
		if err != nil {
			t.Fatal(err)
		}
		got := vs.RGBAAt(probe.X, probe.Y)
		m := MaskColor(probe.X, probe.Y)
		if got == (color.RGBA{uint8(m >> 16), uint8(m >> 8), uint8(m), 0xff}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hidden: the viewer shows %v in the window, not the mask", got)
		}
	}
	if shot, _ := w.customer.Capture(); shot.RGBAAt(probe.X, probe.Y) != acmeGreen {
		t.Errorf("hidden: the customer sees %v, not the window", shot.RGBAAt(probe.X, probe.Y))
	}
	w.click(ref, panel.CtlHide)

	// The customer switches the arrow off.
	w.click(ref, panel.CtlArrow)
	w.a.expect(`^say The supporter's pointer no longer shows\.`)
	arrowAt(false, "arrow switched off")

	// End: the session ends, the agent returns, the window is gone.
	w.click(ref, panel.CtlEnd)
	w.a.expect(`^state ended You ended the session\.`)
	if err := w.a.wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	out, _ := xrunErr(w.customer, "xdotool", "search", "--name", "^Acme Support")
	if out != "" {
		t.Errorf("windows left after the end: %q", out)
	}
	w.viewer.Wait(waitTimeout)
	if !w.viewer.Exited() {
		t.Error("the viewer still runs after the customer ended the session")
	}
}

// TestWindowDeny: a click on Deny refuses TigerVNC's viewer; the broker
// spends the code, and the agent ends.
func TestWindowDeny(t *testing.T) {
	w := startWindowAgent(t)
	who := w.a.expect(`^prompt Allow (.*) to see your screen\? \[y/n\]$`)[1]
	w.waitTitle("?")
	w.click(w.reference(who), panel.CtlDeny)
	w.a.expect(`^state (waiting You declined|ended The code is used up)`)
	// TigerVNC says why in a dialog that waits for OK.
	for deadline := time.Now().Add(waitTimeout); !strings.Contains(w.viewer.Output(), "Authentication failure: the customer declined"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the viewer was not refused:\n%s", w.viewer.Output())
		}
	}
	if err := w.a.wait(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// xrunErr runs an X client that may fail.
func xrunErr(x *rfbtest.Xvfb, name string, args ...string) (string, error) {
	out, err := execOutput(x.Env(), name, args...)
	return strings.TrimSpace(out), err
}

func execOutput(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out, err := cmd.Output()
	return string(out), err
}

// TestWindowKeyboard: the question before the session takes the keyboard
// focus, and Tab then Enter (Deny has the focus then) refuses the viewer:
// the window works with the keyboard alone.
func TestWindowKeyboard(t *testing.T) {
	w := startWindowAgent(t)
	w.a.expect(`^prompt Allow (.*) to see your screen\? \[y/n\]$`)
	w.waitTitle("?")
	for deadline := time.Now().Add(waitTimeout); xrun(t, w.customer, "xdotool", "getwindowfocus") != w.id; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the question never took the focus (it is on %s)", xrun(t, w.customer, "xdotool", "getwindowfocus"))
		}
	}
	xrun(t, w.customer, "xdotool", "key", "Tab", "Return")
	w.a.expect(`^state (waiting You declined|ended The code is used up)`)
	for deadline := time.Now().Add(waitTimeout); !strings.Contains(w.viewer.Output(), "Authentication failure: the customer declined"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the viewer was not refused:\n%s", w.viewer.Output())
		}
	}
}

// TestWindowGermanScaled: with a German locale and the desktop at 200 %
// (Xft.dpi 192), the window speaks German and is drawn at twice the
// size, pixel for pixel as the panel draws it, "Dateien senden…"
// included; a click on it opens the file chooser with a German title, and
// when the chooser fails the window says so in German.
func TestWindowGermanScaled(t *testing.T) {
	rfbtest.LookPath(t, "xrdb", "xdotool")
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "de_DE.UTF-8")
	x := rfbtest.StartXvfb(t, 1280, 1400, 24) // the window with the chooser's failure is 1046 pixels high
	res := filepath.Join(t.TempDir(), "Xresources")
	if err := os.WriteFile(res, []byte("Xft.dpi: 192\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	xrun(t, x, "xrdb", "-nocpp", "-merge", res)
	titles := make(chan string, 1)
	chooser := func(_ context.Context, title string) ([]string, error) {
		titles <- title
		return nil, errors.New("org.freedesktop.DBus.Error.ServiceUnknown: no portal on this bus")
	}
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, "pw"), Display: x.Display,
		Window: WindowOn, Brand: "Acme Support", BrandColor: acmeGreen, PickFiles: chooser})
	a.expect(`^state waiting `)
	w := &windowAgent{t: t, customer: x, a: a}
	w.id = xrun(t, x, "xdotool", "search", "--sync", "--name", "^Acme Support")
	w.waitTitle("wartet · fernsteuerung aus · dateiübertragung aus")
	ref := panel.New(panel.Options{Brand: "Acme Support", Color: acmeGreen, Lang: panel.German, Scale: 2, SendFiles: true})
	for _, m := range []panel.Msg{panel.Hotkeys{Control: "F12", Files: "F11"}, panel.Rights{}, panel.State{Phase: panel.Waiting}} {
		ref.Step(m)
	}
	if got := w.rect().Dx(); got != 680 {
		t.Errorf("window %d pixels wide at 200 %%, want 680", got)
	}
	w.sameAsReference(ref)

	w.click(ref, panel.CtlSend)
	select {
	case title := <-titles:
		if title != "Dateien an den Berater senden" {
			t.Errorf("the chooser's title %q", title)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Dateien senden… opened no chooser")
	}
	r := ref.ControlRect(panel.CtlSend)
	mid := r.Min.Add(r.Size().Div(2))
	ref.Step(panel.Press{X: mid.X, Y: mid.Y}) // the focus ring, as on the window
	ref.Step(panel.Release{X: mid.X, Y: mid.Y})
	ref.Step(panel.SendFailed{})
	w.sameAsReference(ref)
}
