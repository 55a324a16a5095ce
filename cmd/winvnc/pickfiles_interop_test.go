//go:build interop && linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// The tray's "Send files…" with the desktop's own file chooser: the XDG
// desktop portal with its GTK backend (activated on a private session
// bus) shows a real GTK dialog on Xvfb, where the customer types a path
// and presses Enter; pickFiles gets that path.
func TestInteropPickFiles(t *testing.T) {
	rfbtest.LookPath(t, "xdotool", "/usr/libexec/xdg-desktop-portal", "/usr/libexec/xdg-desktop-portal-gtk")
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	t.Setenv("DISPLAY", x.Display) // the bus passes it to the portal it starts
	startBus(t)
	file := filepath.Join(t.TempDir(), "report 1.txt") // typed by xdotool: ASCII
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		paths []string
		err   error
	}
	pick := func() <-chan result {
		ch := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p, err := pickFiles(ctx, "Send files to the supporter")
			ch <- result{p, err}
		}()
		return ch
	}
	got := pick()
	chooseFile(t, x, "Send files to the supporter", file)
	r := <-got
	if r.err != nil || !reflect.DeepEqual(r.paths, []string{file}) {
		t.Fatalf("picked %q, %v; want %q", r.paths, r.err, file)
	}
}

// chooseFile waits for the portal's GTK file chooser titled title on x
// and chooses file in it as the customer would: Ctrl+L, the path typed
// (ASCII), Enter.
func chooseFile(t *testing.T, x *rfbtest.Xvfb, title, file string) {
	t.Helper()
	var w string
	for deadline := time.Now().Add(30 * time.Second); w == ""; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := rfbtest.Run(t, ctx, x.Env(), "xdotool", "search", "--onlyvisible", "--name", "^"+regexp.QuoteMeta(title)+"$")
		cancel()
		if f := strings.Fields(out); err == nil && len(f) > 0 {
			w = f[0]
		} else if time.Now().After(deadline) {
			t.Fatalf("the file chooser %q never showed", title)
		}
	}
	xdo(t, x, "windowfocus", "--sync", w)
	xdo(t, x, "key", "--window", w, "ctrl+l")
	time.Sleep(time.Second) // the location field appears
	xdo(t, x, "type", "--window", w, "--delay", "30", file)
	time.Sleep(time.Second) // GTK completes the path as it is typed
	xdo(t, x, "key", "--window", w, "Return")
}

// xdo runs xdotool on x and returns its output, trimmed.
func xdo(t *testing.T, x *rfbtest.Xvfb, args ...string) string {
	t.Helper()
	return xrun(t, x, "xdotool", args...)
}

// xrun runs name on x and returns its output, trimmed.
func xrun(t *testing.T, x *rfbtest.Xvfb, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := rfbtest.Run(t, ctx, x.Env(), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}
