//go:build interop && linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
	"lifebuoy/winvnc/panel"
)

// TestInteropAutoShowsWindow runs the agent as a customer does, with no
// -ui: on a display without a tray it shows its window beside the
// terminal UI, which still takes commands; "end" closes both and the
// agent exits 0 with no window left.
func TestInteropAutoShowsWindow(t *testing.T) {
	rfbtest.LookPath(t, "xdotool")
	x := rfbtest.StartXvfb(t, 1024, 768, 24)
	bin := rfbtest.BuildGo(t, "./cmd/winvnc")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(x.Env(), "DBUS_SESSION_BUS_ADDRESS=", "LANG=C.UTF-8", "LC_ALL=")
	term := rfbtest.StartTerminal(t, env, bin, "-listen", "127.0.0.1:0", "-password-file", pw, "-display", x.Display)
	term.Expect(`^state waiting `, 20*time.Second)
	search := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, _ := rfbtest.Run(t, ctx, x.Env(), "xdotool", "search", "--name", "^Lifebuoy · waiting")
		return strings.TrimSpace(out)
	}
	for deadline := time.Now().Add(20 * time.Second); search() == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no window titled \"Lifebuoy · waiting …\"")
		}
	}
	term.Send("files on")
	term.Expect(`^rights control=off files=on`, 20*time.Second)
	term.Send("end")
	if err := term.Wait(20 * time.Second); err != nil {
		t.Fatalf("the agent: %v", err)
	}
	if id := search(); id != "" {
		t.Errorf("window %s left after the agent ended", id)
	}
}

// TestInteropWindowSendFiles: the customer clicks the window's "Send
// files…" (where the panel lays it out), chooses a file in the desktop's
// own chooser (the XDG portal's GTK dialog, started by a private session
// bus), and the agent offers it to the supporter.
func TestInteropWindowSendFiles(t *testing.T) {
	rfbtest.LookPath(t, "xdotool", "/usr/libexec/xdg-desktop-portal", "/usr/libexec/xdg-desktop-portal-gtk")
	x := rfbtest.StartXvfb(t, 1024, 768, 24)
	t.Setenv("DISPLAY", x.Display) // the bus passes it to the portal it starts
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	startBus(t) // no tray on it: the window shows
	bin := rfbtest.BuildGo(t, "./cmd/winvnc")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "report 1.txt") // typed by xdotool: ASCII
	if err := os.WriteFile(file, []byte("quarterly figures\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	term := rfbtest.StartTerminal(t, x.Env(), bin, "-listen", "127.0.0.1:0", "-password-file", pw, "-display", x.Display)
	term.Expect(`^state waiting `, 20*time.Second)
	// The window as the panel lays it out: waiting, no code (direct
	// mode), a file chooser.
	id := strings.Fields(xdo(t, x, "search", "--sync", "--name", "^Lifebuoy · waiting · remote control off · file transfer off$"))[0]
	ref := panel.New(panel.Options{Lang: panel.English, Scale: 1, SendFiles: true})
	for _, m := range []panel.Msg{panel.Hotkeys{Control: "F12", Files: "F11"}, panel.Rights{}, panel.State{Phase: panel.Waiting}} {
		ref.Step(m)
	}
	send := ref.ControlRect(panel.CtlSend)
	if send.Empty() {
		t.Fatal("the reference shows no Send files")
	}
	at := send.Min.Add(send.Size().Div(2))
	xdo(t, x, "mousemove", "--window", id, strconv.Itoa(at.X), strconv.Itoa(at.Y), "click", "1")
	chooseFile(t, x, "Send files to the supporter", file)
	term.Expect(`^say Offered "report 1.txt" \(18 bytes\) to the supporter as file 1\.`, 30*time.Second)
	// The window shows the offer, pixel for pixel as the panel draws it.
	ref.Step(panel.Press{X: at.X, Y: at.Y}) // the focus ring the click left
	ref.Step(panel.Release{X: at.X, Y: at.Y})
	ref.Step(panel.Transfer{ID: 1, Name: "report 1.txt", Sending: true, State: panel.Offered})
	want, shot, last := ref.Image(), filepath.Join(dir, "window.xwd"), ""
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		xrun(t, x, "xwd", "-id", id, "-silent", "-out", shot)
		f, err := os.Open(shot)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rfbtest.DecodeXWD(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		n, first, detail := rfbtest.Diff(got, want)
		if n == 0 && got.Rect.Size() == want.Rect.Size() {
			break
		}
		last = fmt.Sprintf("%v against %v: %d pixels differ, first at %v: %s", got.Rect.Size(), want.Rect.Size(), n, first, detail)
		if time.Now().After(deadline) {
			t.Fatalf("the window never showed the offer: %s", last)
		}
	}
	term.Send("end")
	if err := term.Wait(20 * time.Second); err != nil {
		t.Fatalf("the agent: %v", err)
	}
}
