//go:build interop && linux

package x11

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

func TestPointer(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	d := openDisplay(t, x)
	in, err := NewInjector(d)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for _, p := range []rfb.PointerEvent{{X: 123, Y: 456 - 100}, {X: 5, Y: 6}, {X: 639, Y: 479}} {
		in.Pointer(p)
		if err := d.sync(); err != nil {
			t.Fatal(err)
		}
		out := run(t, x, "xdotool", "getmouselocation")
		want := fmt.Sprintf("x:%d y:%d ", p.X, p.Y)
		if !strings.HasPrefix(out, want) {
			t.Errorf("after %+v: xdotool getmouselocation = %q, want prefix %q", p, out, want)
		}
	}
}

// A supporter's click lands where the supporter points even after the
// customer moved the mouse away, with the supporter's position unchanged
// since its last event.
func TestPointerClickAfterCustomerMoved(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	d := openDisplay(t, x)
	in, err := NewInjector(d)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	at := func() string {
		if err := d.sync(); err != nil {
			t.Fatal(err)
		}
		return run(t, x, "xdotool", "getmouselocation")
	}
	in.Pointer(rfb.PointerEvent{X: 300, Y: 200})
	for _, buttons := range []uint8{1, 0, 4, 0, 8, 0} {
		run(t, x, "xdotool", "mousemove", "20", "30") // the customer
		in.Pointer(rfb.PointerEvent{Buttons: buttons, X: 300, Y: 200})
		if got := at(); !strings.HasPrefix(got, "x:300 y:200 ") {
			t.Errorf("buttons %#x pressed at %q, want x:300 y:200", buttons, got)
		}
	}
}

// Keysyms with XKB actions are never bound or pressed for a viewer:
// Terminate_Server bound to a spare keycode killed the customer's X
// server. After a viewer "presses" each of them the server lives, its
// pointer is where it was, and no keycode carries any of them.
func TestActionKeysymsNeverPressed(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	d := openDisplay(t, x)
	in, err := NewInjector(d)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	run(t, x, "xdotool", "mousemove", "100", "100")
	before, err := d.keyboard()
	if err != nil {
		t.Fatal(err)
	}
	actions := []uint32{0xfed5, 0x1008fe01, 0x1008fe07, 0x1008fe20, 0x1008fe21, 0x1008fe22, 0x1008fe24,
		0xfee0, 0xfee3, 0xfee9, 0xfef9, 0xfe70, 0xfe76}
	for _, ks := range actions {
		in.Key(rfb.KeyEvent{Down: true, Keysym: ks})
		in.Key(rfb.KeyEvent{Down: false, Keysym: ks})
	}
	if err := d.sync(); err != nil {
		t.Fatalf("the X connection died: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if x.Proc.Exited() {
		t.Fatalf("the X server is gone:\n%s", x.Proc.Output())
	}
	if got := run(t, x, "xdotool", "getmouselocation"); !strings.HasPrefix(got, "x:100 y:100 ") {
		t.Errorf("the pointer moved: %s", got)
	}
	after, err := d.keyboard()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before.syms, after.syms) {
		t.Error("the keyboard mapping changed: a keysym was bound to a spare keycode")
	}
}

// A supporter with control cannot defeat the customer's F12 by holding or
// locking a modifier: the hotkey fires with Shift, Mod5 (ISO_Level3_Shift)
// or Control held, and with Caps Lock or Num Lock locked, by the
// supporter; and a lock the supporter switched is switched back when
// control ends (ReleaseAll), so it does not outlive it.
func TestHotkeyDespiteSupportersModifiers(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	d := openDisplay(t, x)
	h, err := NewHotkeys(d)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	const f12 = 0xffc9
	if err := h.GrabKey(f12); err != nil {
		t.Fatal(err)
	}
	in, err := NewInjector(d)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	locks := func() string {
		out := run(t, x, "xset", "q")
		caps := strings.Contains(out, "Caps Lock:   on")
		num := strings.Contains(out, "Num Lock:    on")
		return fmt.Sprintf("caps=%v num=%v", caps, num)
	}
	if got := locks(); got != "caps=false num=false" {
		t.Fatalf("locks at the start: %s", got)
	}
	for _, c := range []struct {
		name string
		held uint32 // the supporter holds this key down
		lock uint32 // or presses it once (a lock)
	}{
		{"Shift held", 0xffe1, 0},
		{"Mod5 held", 0xfe03, 0},
		{"Control held", 0xffe3, 0},
		{"Caps Lock locked", 0, 0xffe5},
		{"Num Lock locked", 0, 0xff7f},
	} {
		if c.held != 0 {
			in.Key(rfb.KeyEvent{Down: true, Keysym: c.held})
		}
		if c.lock != 0 {
			in.Key(rfb.KeyEvent{Down: true, Keysym: c.lock})
			in.Key(rfb.KeyEvent{Down: false, Keysym: c.lock})
		}
		if err := d.sync(); err != nil {
			t.Fatal(err)
		}
		run(t, x, "xdotool", "key", "F12") // the customer
		select {
		case <-h.C:
		case <-time.After(waitTimeout):
			t.Errorf("%s: the customer's F12 did not fire", c.name)
		}
		if c.lock != 0 {
			if got := locks(); got == "caps=false num=false" {
				t.Errorf("%s: the lock is not on (the case tests nothing)", c.name)
			}
		}
		in.ReleaseAll() // control ends
		if got := locks(); got != "caps=false num=false" {
			t.Errorf("%s: after control ended the locks are %s", c.name, got)
		}
	}
}

// TestTypeIntoXterm types plain, shifted, symbol and non-ASCII keysyms
// (some absent from the keymap) into `xterm -e cat > FILE` and reads them
// back.
func TestTypeIntoXterm(t *testing.T) {
	rfbtest.LookPath(t, "xterm", "xdotool")
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	d := openDisplay(t, x)
	in, err := NewInjector(d)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "typed")
	env := append(x.Env(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	rfbtest.Start(t, env, "xterm", "-u8", "-T", "typetest", "-geometry", "40x5+0+0",
		"-e", "sh", "-c", "stty -echo; cat > "+out)
	run(t, x, "xdotool", "search", "--sync", "--onlyvisible", "--name", "typetest")
	// The focus follows the pointer (no window manager): put it on xterm.
	in.Pointer(rfb.PointerEvent{X: 50, Y: 30})
	time.Sleep(300 * time.Millisecond) // let cat start reading

	before, err := d.keyboard()
	if err != nil {
		t.Fatal(err)
	}
	tap := func(ks uint32) {
		in.Key(rfb.KeyEvent{Down: true, Keysym: ks})
		in.Key(rfb.KeyEvent{Down: false, Keysym: ks})
	}
	for _, r := range "aZ@~ x" {
		tap(uint32(r)) // Z, @ and ~ need a fake Shift
	}
	// The client holds Shift: 'Q' and '!' as they are, '1' with Shift lifted.
	in.Key(rfb.KeyEvent{Down: true, Keysym: xkShiftL})
	tap('Q')
	tap('!')
	tap('1')
	in.Key(rfb.KeyEvent{Down: false, Keysym: xkShiftL})
	tap(0x20ac)     // EuroSign: not in Xvfb's keymap
	tap(0xe9)       // eacute
	tap(0x010003a9) // U+03A9 Ω as a Unicode keysym
	tap(0x010000fc) // U+00FC ü, normalised to the Latin-1 keysym udiaeresis
	tap(xkISOLeftTab)
	tap(0xff0d)                     // Return
	want := "aZ@~ xQ!1€éΩü\x1b[Z\n" // xterm sends Shift+Tab as CSI Z

	deadline := time.Now().Add(waitTimeout)
	var got []byte
	for time.Now().Before(deadline) {
		got, _ = os.ReadFile(out)
		if string(got) == want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if string(got) != want {
		t.Fatalf("xterm received %q, want %q", got, want)
	}

	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := d.keyboard()
	if err != nil {
		t.Fatal(err)
	}
	if len(before.syms) != len(after.syms) {
		t.Fatal("keymap size changed")
	}
	for i := range before.syms {
		if before.syms[i] != after.syms[i] {
			t.Fatalf("keymap not restored at keycode %d", int(before.min)+i/before.per)
		}
	}
	assertNothingDown(t, d)
}

func TestReleaseAll(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	d := openDisplay(t, x)
	in, err := NewInjector(d)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	in.Key(rfb.KeyEvent{Down: true, Keysym: xkShiftL})
	in.Key(rfb.KeyEvent{Down: true, Keysym: 'a'})
	in.Key(rfb.KeyEvent{Down: true, Keysym: 0x20ac}) // on a spare keycode
	in.Key(rfb.KeyEvent{Down: true, Keysym: 0xffe3}) // Control_L
	in.Pointer(rfb.PointerEvent{X: 10, Y: 10, Buttons: 1 | 4})
	if err := d.sync(); err != nil {
		t.Fatal(err)
	}
	if n := keysDown(t, d); n != 4 {
		t.Errorf("%d keys down before ReleaseAll, want 4", n)
	}
	in.ReleaseAll()
	assertNothingDown(t, d)
	// A release arriving after ReleaseAll (the client's late key-up) is harmless.
	in.Key(rfb.KeyEvent{Down: false, Keysym: 'a'})
	assertNothingDown(t, d)
}

func keysDown(t *testing.T, d *Display) int {
	t.Helper()
	km, err := xproto.QueryKeymap(d.conn).Reply()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range km.Keys {
		for ; b != 0; b &= b - 1 {
			n++
		}
	}
	return n
}

func assertNothingDown(t *testing.T, d *Display) {
	t.Helper()
	if n := keysDown(t, d); n != 0 {
		t.Errorf("%d keys still down", n)
	}
	p, err := xproto.QueryPointer(d.conn, d.root).Reply()
	if err != nil {
		t.Fatal(err)
	}
	const buttons = xproto.KeyButMaskButton1 | xproto.KeyButMaskButton2 | xproto.KeyButMaskButton3 |
		xproto.KeyButMaskButton4 | xproto.KeyButMaskButton5
	if p.Mask&(buttons|xproto.KeyButMaskShift|xproto.KeyButMaskControl) != 0 {
		t.Errorf("pointer mask %#x: buttons or modifiers still down", p.Mask)
	}
}

func TestHotkeys(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	d := openDisplay(t, x)
	h, err := NewHotkeys(d)
	if err != nil {
		t.Fatal(err)
	}
	const f11, f12 = 0xffc8, 0xffc9
	for _, ks := range []uint32{f12, f11} {
		if err := h.GrabKey(ks); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		key  string
		want uint32
	}{{"F12", f12}, {"F11", f11}, {"Num_Lock F12", f12}, {"Caps_Lock F11", f11}} {
		run(t, x, "xdotool", append([]string{"key"}, strings.Fields(c.key)...)...)
		select {
		case got := <-h.C:
			if got != c.want {
				t.Errorf("xdotool key %s: hotkey %#x, want %#x", c.key, got, c.want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("xdotool key %s: no hotkey", c.key)
		}
	}
	// The server cannot tell XTEST from the keyboard, so the injector never
	// presses the hotkeys' keys: a viewer's F12 or F11 fires nothing.
	in, err := NewInjector(d)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for _, ks := range []uint32{f12, f11} {
		in.Key(rfb.KeyEvent{Down: true, Keysym: ks})
		in.Key(rfb.KeyEvent{Down: false, Keysym: ks})
	}
	select {
	case got := <-h.C:
		t.Errorf("injected key: hotkey %#x", got)
	case <-time.After(500 * time.Millisecond):
	}

	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	// Ungrabbed: another client may now grab F12.
	d2 := openDisplay(t, x)
	h2, err := NewHotkeys(d2)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if err := h2.GrabKey(f12); err != nil {
		t.Fatalf("F12 still grabbed after Close: %v", err)
	}
}
