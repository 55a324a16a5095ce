//go:build interop && linux

package winvnc

import (
	"context"
	"fmt"
	"image"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
// screen) equals a capture of the customer's. The password is 8 bytes, the
// most VNC Authentication uses; a 9-byte one is refused.
func TestWineTigerVNCEncodings(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer")
	const width, height = 800, 600
	x := rfbtest.StartXvfb(t, width, height, 24)
	w := rfbtest.StartWine(t, x)
	w.Start(t, "notepad")
	startWineHelper(t, w, "-title", "colours", "-color", "cc3366", "-rect", "350,250,300,200")
	// VNC Authentication uses 8 bytes of the password: the agent refuses a
	// longer one with a message (issue 12 item 15), and an 8-byte one
	// works with TigerVNC to the last byte.
	agentExe, _ := windowsBinaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), wineWait)
	out, err := w.Run(t, ctx, agentExe, "-ui", "terminal", "-listen", "127.0.0.1:0", "-password-file", writePassword(t, "tiger1234"))
	cancel()
	if err == nil || !strings.Contains(out, "the password is 9 bytes long, but VNC Authentication uses only the first 8") {
		t.Fatalf("a 9-byte password: %v\n%s", err, out)
	}
	const pw = "tiger123"
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

// notepadText reads what notepad holds, as the customer would copy it:
// Ctrl+A, Ctrl+C on the customer's keyboard, then the clipboard, which
// Wine shares with X, through xclip. It waits until the copy arrives.
func notepadText(t *testing.T, w *rfbtest.Wine, marker string) string {
	t.Helper()
	rfbtest.LookPath(t, "xclip")
	x := w.X
	deadline := time.Now().Add(wineWait)
	var last string
	for {
		// Select all only once the typing has reached the window: a key
		// that comes after Ctrl+A replaces the selection.
		waitStill(t, w)
		xdo(t, x, "key", "--clearmodifiers", "ctrl+a", "ctrl+c")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := rfbtest.Run(t, ctx, x.Env(), "xclip", "-o", "-selection", "clipboard", "-t", "UTF8_STRING")
		cancel()
		// Wine refuses UTF8_STRING while another program (the agent,
		// reading the change) has the clipboard open, and xclip then falls
		// back to STRING, Latin-1 with "?" for the rest: read again.
		if err == nil && utf8.ValidString(out) && strings.HasSuffix(out, marker) {
			return out
		}
		last = out
		if time.Now().After(deadline) {
			t.Fatalf("notepad's text never ended in %q; last read %q (%v)", marker, last, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// waitStill waits until the screen has not changed for a while, but for a
// blinking caret's few pixels.
func waitStill(t *testing.T, w *rfbtest.Wine) {
	t.Helper()
	const caretPixels = 64
	deadline := time.Now().Add(wineWait)
	prev, err := w.Capture()
	if err != nil {
		t.Fatal(err)
	}
	for still := 0; still < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the screen never stood still")
		}
		time.Sleep(600 * time.Millisecond)
		cur, err := w.Capture()
		if err != nil {
			t.Fatal(err)
		}
		if n, _, _ := rfbtest.Diff(prev, cur); n <= caretPixels {
			still++
		} else {
			still = 0
		}
		prev = cur
	}
}

// typeKeysyms presses and releases each keysym.
func typeKeysyms(v *viewer, keysyms ...uint32) {
	for _, ks := range keysyms {
		v.c.KeyEvent(true, ks)
		v.c.KeyEvent(false, ks)
	}
}

// latin1Keysyms are the keysyms of s's characters, all Latin-1, which
// are their code points.
func latin1Keysyms(s string) []uint32 {
	var ks []uint32
	for _, r := range s {
		ks = append(ks, uint32(r))
	}
	return ks
}

// unicodeKeysyms are the keysyms of s's characters in the Unicode form
// (0x01000000 | code point), which viewers use for characters that have
// no classic keysym.
func unicodeKeysyms(s string) []uint32 {
	var ks []uint32
	for _, r := range s {
		ks = append(ks, 0x01000000|uint32(r))
	}
	return ks
}

// View-only drops everything; with control the supporter's text arrives
// in notepad as typed: plain, shifted (Shift held as a viewer holds it),
// symbols, Latin-1, the euro sign and omega as classic keysyms and again
// as Unicode keysyms, and a character beyond the BMP; with QEMU extended
// key events the keysym, not the customer's layout, decides the character.
// Text is read back through the clipboard.
func TestWineTyping(t *testing.T) {
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	w := rfbtest.StartWine(t, x)
	w.Start(t, "notepad")
	if _, err := rfbtest.WaitForWindow(t, t.Context(), x, "Untitled - Notepad"); err != nil {
		t.Fatal(err)
	}
	xdo(t, x, "mousemove", "200", "200", "click", "1") // the customer clicks into notepad
	a, v := directAgent(t, w, "pw")
	if err := v.c.SetEncodings(rfb.EncRaw, rfb.EncQEMUExtendedKey); err != nil {
		t.Fatal(err)
	}
	v.syncTo("the screen", sameAsWine(t, w))

	typeKeysyms(v, 'n', 'o', 0xff0d)
	a.rights(`^rights control=off files=off dropped=6$`)

	a.send("control on")
	a.expect(`^rights control=on `)
	typeKeysyms(v, latin1Keysyms("Plain text 123")...)
	v.c.KeyEvent(true, 0xffe1) // Shift_L held, as a viewer sends "Shifted!"
	typeKeysyms(v, 'S')
	v.c.KeyEvent(false, 0xffe1)
	typeKeysyms(v, latin1Keysyms("hifted")...)
	v.c.KeyEvent(true, 0xffe1)
	typeKeysyms(v, '!')
	v.c.KeyEvent(false, 0xffe1)
	typeKeysyms(v, latin1Keysyms(` @#$%^&*()[]{}<>?/\|~"'`+"`")...)
	typeKeysyms(v, ' ', 0xe9, 0xfc, 0xdf, ' ', 0x20ac, ' ', 0x7d9, ' ') // éüß € Ω, classic
	typeKeysyms(v, unicodeKeysyms("é ü ß € Ω 😀 ")...)
	// QEMU extended key events from a German keyboard: the keysym decides,
	// not the customer's (US) layout, where scancode 0x15 is y and 0x2c z,
	// 0x12 e; a keysym that says nothing (VoidSymbol) lets the scancode
	// type what the layout has there (0x1e: a).
	for _, k := range []struct{ keysym, scancode uint32 }{{'z', 0x15}, {'y', 0x2c}, {0x20ac, 0x12}, {0xffffff, 0x1e}} {
		for _, down := range []bool{true, false} {
			if err := v.c.Send(&rfb.QEMUExtendedKeyEvent{Down: down, Keysym: k.keysym, Keycode: k.scancode}); err != nil {
				t.Fatal(err)
			}
		}
	}
	typeKeysyms(v, '.')
	want := `Plain text 123Shifted! @#$%^&*()[]{}<>?/\|~"'` + "`" + " éüß € Ω é ü ß € Ω 😀 zy€a."
	if got := notepadText(t, w, "."); got != want {
		t.Errorf("notepad holds %q, want %q", got, want)
	}

	// The supporter holds Shift; the customer's F12 takes control back and
	// releases it (issue 12 item 9): what the customer types next comes
	// out as typed, not shifted.
	v.c.KeyEvent(true, 0xffe1)
	time.Sleep(300 * time.Millisecond)
	xdo(t, x, "key", "F12")
	a.expect(`^rights control=off `)
	xdo(t, x, "key", "End")
	xdo(t, x, "type", "--delay", "50", "ab1;")
	// (Shifted, the marker would be a colon: notepadText would fail.)
	if got := notepadText(t, w, ";"); !strings.HasSuffix(got, "ab1;") {
		t.Errorf("after F12 the customer's typing ends notepad's text as %q, want ab1; (the supporter's Shift stayed?)", got[max(0, len(got)-8):])
	}
}

// With control, the supporter's pointer and buttons land where sent (a
// window of winhelper reports each click's screen position), also after
// the customer moved the mouse away; a QEMU extended key event with F11's
// scancode grants nothing; F12 on the customer's keyboard takes control
// back at once, also while the supporter holds Shift, and F11 toggles
// files; after F12 clicks land nowhere.
func TestWineControl(t *testing.T) {
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	w := rfbtest.StartWine(t, x)
	h := startWineHelper(t, w, "-title", "target", "-color", "3399ff", "-rect", "100,100,400,300")
	a, v := directAgent(t, w, "pw")
	if err := v.c.SetEncodings(rfb.EncRaw, rfb.EncQEMUExtendedKey); err != nil {
		t.Fatal(err)
	}
	v.syncTo("the screen", sameAsWine(t, w))

	v.c.PointerEvent(0, 300, 250)
	v.c.PointerEvent(1, 300, 250)
	v.c.PointerEvent(0, 300, 250)
	a.rights(`^rights control=off files=off dropped=3$`)
	if n := h.count(`^click `); n != 0 {
		t.Fatalf("view-only: %d clicks reached the window", n)
	}

	a.send("control on")
	a.expect(`^rights control=on `)
	click := func(buttons uint8, px, py int, name string) {
		t.Helper()
		v.c.PointerEvent(buttons, px, py)
		v.c.PointerEvent(0, px, py)
		h.expect(fmt.Sprintf(`^click %s %d %d$`, name, px, py))
	}
	v.c.PointerEvent(0, 300, 250)
	click(1, 300, 250, "left")
	click(4, 320, 260, "right")
	click(2, 200, 300, "middle")
	// The customer moves the mouse away; the supporter clicks again where
	// it pointed last.
	xdo(t, x, "mousemove", "700", "550")
	click(1, 200, 300, "left")

	// F11's scancode with a keysym that says nothing: Windows would type
	// it as F11, the customer's hotkey, and grant files.
	for _, down := range []bool{true, false} {
		if err := v.c.Send(&rfb.QEMUExtendedKeyEvent{Down: down, Keysym: 0xffffff, Keycode: 0x57}); err != nil {
			t.Fatal(err)
		}
	}
	a.rights(`^rights control=on files=off dropped=5$`)

	// The supporter holds Shift: the customer's F12 still takes control
	// back (a hotkey registered without modifiers would not fire).
	v.c.KeyEvent(true, 0xffe1)
	time.Sleep(300 * time.Millisecond)
	xdo(t, x, "key", "F12")
	a.expect(`^rights control=off `)
	xdo(t, x, "key", "F11")
	a.expect(`^rights control=off files=on `)
	v.c.PointerEvent(1, 300, 250)
	v.c.PointerEvent(0, 300, 250)
	a.rights(`^rights control=off files=on dropped=7$`)
	if n := h.count(`^click `); n != 4 {
		t.Errorf("%d clicks after F12, want the 4 from before", n)
	}
}

// Another program holds F12 (RegisterHotKey): the agent watches the key
// with its keyboard hook instead, promises nothing it cannot keep, and
// the customer's F12 still takes control back.
func TestWineF12HeldByAnotherProgram(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	w := rfbtest.StartWine(t, x)
	holder := startWineHelper(t, w, "-hotkey", "f12") // says "hotkey ok", then "ready"
	if holder.count(`^hotkey ok$`) != 1 {
		t.Fatalf("winhelper could not take F12:\n%s", holder.p.Output())
	}
	a, _ := directAgent(t, w, "pw")
	a.send("control on")
	a.expect(`^say The supporter may now control your computer\. Press F12 to take control back\.$`)
	xdo(t, x, "key", "F12")
	a.expect(`^rights control=off `)
	if n := a.count(`cannot`); n != 0 {
		t.Errorf("the agent says a hotkey is missing:\n%s", a.p.Output())
	}
}

// hasColor complains if any pixel of fb is c (0xRRGGBB).
func hasColor(c uint32) func(fb *rfb.Image) string {
	return func(fb *rfb.Image) string {
		for y := range fb.H {
			for x := range fb.W {
				if fb.RGB(x, y) == c {
					return fmt.Sprintf("pixel (%d,%d) is %06x", x, y, c)
				}
			}
		}
		return ""
	}
}

// "windows" lists the application windows and not the taskbar or the
// desktop; "share N" masks everything but that window; and a window
// dragged over the shared one, frame by frame, never shows a pixel to
// the viewer.
func TestWineWindowsShare(t *testing.T) {
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	w := rfbtest.StartWine(t, x)
	w.Start(t, "notepad")
	if _, err := rfbtest.WaitForWindow(t, t.Context(), x, "Untitled - Notepad"); err != nil {
		t.Fatal(err)
	}
	startWineHelper(t, w, "-title", "chosen", "-color", "33cc66", "-rect", "300,150,300,250")
	other := startWineHelper(t, w, "-title", "other", "-color", "ff00ff", "-rect", "20,420,200,120")
	a, v := directAgent(t, w, "pw")
	v.syncTo("the screen", sameAsWine(t, w))

	a.send("windows")
	listed := map[string]bool{}
	var chosen string
	var rect image.Rectangle
	for range 3 {
		m := a.expect(`^window (\d+) "([^"]*)" (\d+)x(\d+)\+(-?\d+)\+(-?\d+)$`)
		listed[m[2]] = true
		if m[2] == "chosen" {
			chosen = m[1]
			var ww, hh, xx, yy int
			fmt.Sscan(m[3]+" "+m[4]+" "+m[5]+" "+m[6], &ww, &hh, &xx, &yy)
			rect = image.Rect(xx, yy, xx+ww, yy+hh)
		}
	}
	a.send("status") // ends the list
	a.expect(`^rights `)
	if n := a.count(`^window `); n != 3 || !listed["chosen"] || !listed["other"] || !listed["Untitled - Notepad"] {
		t.Fatalf("the list is not the three applications:\n%s", a.p.Output())
	}

	a.send("share " + chosen)
	a.expect(`^say Sharing only "chosen"`)
	masked := func(fb *rfb.Image) (bool, string) {
		want, err := w.Capture()
		if err != nil {
			t.Fatal(err)
		}
		for y := range fb.H {
			for xx := range fb.W {
				c := MaskColor(xx, y)
				if image.Pt(xx, y).In(rect) {
					r, g, b, _ := want.At(xx, y).RGBA()
					c = uint32(r>>8)<<16 | uint32(g>>8)<<8 | uint32(b>>8)
				}
				if got := fb.RGB(xx, y); got != c {
					return false, fmt.Sprintf("pixel (%d,%d) is %06x, want %06x", xx, y, got, c)
				}
			}
		}
		return true, ""
	}
	v.syncTo("the mask", masked)

	// Drag "other" over "chosen" and off again in steps, as fast as a
	// hand drags; no update may show a magenta pixel.
	stop := watchUpdates(v, hasColor(0xff00ff))
	for i := range 30 {
		px, py := 20+i*20, 420-i*10
		other.send(fmt.Sprintf("move %d %d", px, py))
		other.expect(fmt.Sprintf(`^moved %d %d$`, px, py))
		time.Sleep(15 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	frames, bad := stop()
	t.Logf("%d updates while dragging", frames)
	if bad != "" {
		t.Errorf("the dragged window showed through the mask: %s", bad)
	}
	if frames < 5 {
		t.Errorf("only %d updates while dragging", frames)
	}
}

// The Windows agent captures only while a viewer is connected, and a
// blinking caret (notepad's, focused) does not keep it at the fast rate:
// once the screen is still but for the caret, the period is the idle one.
func TestWineCaptureOnlyForViewers(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	w := rfbtest.StartWine(t, x)
	w.Start(t, "notepad")
	if _, err := rfbtest.WaitForWindow(t, t.Context(), x, "Untitled - Notepad"); err != nil {
		t.Fatal(err)
	}
	xdo(t, x, "mousemove", "200", "200", "click", "1") // focus: the caret blinks
	a := startWineAgent(t, w, "-v", "-listen", "127.0.0.1:0", "-password-file", writePassword(t, "pw"))
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	a.expect(`msg="win: capture paused \(no viewer\)"`)
	ch := dialViewer(t, addr, "pw")
	a.expect(`^prompt `)
	a.send("y")
	v := mustViewer(t, ch)
	a.expect(`msg="win: capture resumed"`)
	v.syncTo("the screen", sameAsWine(t, w))
	// Watch for three seconds of caret blinks.
	stop := watchUpdates(v, func(*rfb.Image) string { return "" })
	time.Sleep(3 * time.Second)
	frames, bad := stop()
	if bad != "" {
		t.Fatal(bad)
	}
	periods := regexp.MustCompile(`msg="win: capture period" period=(\S+)`).FindAllStringSubmatch(a.p.Output(), -1)
	if len(periods) == 0 || periods[len(periods)-1][1] != "250ms" {
		t.Errorf("with a blinking caret the capture period is not the idle one: %v", periods)
	}
	t.Logf("%d updates (caret blinks) in 3 s, periods %v", frames, periods)
	a.expect(`^state waiting .* disconnected`)
	a.expect(`msg="win: capture paused \(no viewer\)"`)
}

// A cursor whose image cannot be read (larger than any Windows cursor) is
// not read again, nor logged again, at every poll.
func TestWineUnreadableCursor(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	w := rfbtest.StartWine(t, x)
	startWineHelper(t, w, "-title", "cursor", "-color", "3366cc", "-rect", "100,100,300,200", "-bigcursor", "320")
	a := startWineAgent(t, w, "-v", "-listen", "127.0.0.1:0", "-password-file", writePassword(t, "pw"))
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	ch := dialViewer(t, addr, "pw")
	a.expect(`^prompt `)
	a.send("y")
	v := mustViewer(t, ch)
	v.syncTo("the screen", sameAsWine(t, w))
	xdo(t, x, "mousemove", "250", "200") // over the window: its cursor
	a.expectWithin(`msg="win: cursor image"`, wineWait)
	xdo(t, x, "mousemove", "260", "210", "sleep", "0.2", "mousemove", "250", "220") // keep the screen busy: fast polls
	time.Sleep(3 * time.Second)
	if n := a.count(`msg="win: cursor image"`); n != 1 {
		t.Errorf("the unreadable cursor was logged %d times in 3 s, want once", n)
	}
}

// With application selection the Windows agent confines input too: keys
// typed while notepad (masked) has the focus never reach it, and a click
// on notepad lands nowhere; the shared window still gets clicks.
func TestWineMaskedWindowGetsNoInput(t *testing.T) {
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	w := rfbtest.StartWine(t, x)
	w.Start(t, "notepad")
	if _, err := rfbtest.WaitForWindow(t, t.Context(), x, "Untitled - Notepad"); err != nil {
		t.Fatal(err)
	}
	shared := startWineHelper(t, w, "-title", "shared", "-color", "33cc66", "-rect", "450,300,300,200")
	a, v := directAgent(t, w, "pw")
	a.send("windows")
	n := a.expect(`^window (\d+) "shared" `)[1]
	a.send("share " + n)
	a.expect(`^say Sharing only "shared"`)
	a.send("control on")
	a.expect(`^rights control=on `)

	xdo(t, x, "mousemove", "200", "200", "click", "1") // the customer focuses notepad
	xdo(t, x, "type", "--delay", "50", "mark.")        // and types
	// What of it arrived (on a loaded machine Wine may lose the key typed
	// right after the click), then the caret to the end again.
	before := notepadText(t, w, ".")
	xdo(t, x, "key", "End")
	waitStill(t, w)
	typeKeysyms(v, latin1Keysyms("leak")...)
	v.c.PointerEvent(0, 100, 150) // notepad, masked
	v.c.PointerEvent(1, 100, 150)
	v.c.PointerEvent(0, 100, 150)
	v.c.PointerEvent(0, 600, 400) // the shared window
	v.c.PointerEvent(1, 600, 400)
	v.c.PointerEvent(0, 600, 400)
	shared.expect(`^click left 600 400$`)
	xdo(t, x, "mousemove", "200", "200", "click", "1") // notepad again, to read it
	if got := notepadText(t, w, "."); got != before {
		t.Errorf("notepad (masked) holds %q, want only the customer's %q", got, before)
	}
	if n := shared.count(`^click `); n != 1 {
		t.Errorf("%d clicks reached the shared window, want 1", n)
	}
}
