//go:build interop && linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
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
