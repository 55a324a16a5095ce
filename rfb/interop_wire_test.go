//go:build interop && linux

package rfb_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// TestInteropCopyRectExact: TigerVNC (lossless: Tight without JPEG) and
// noVNC (its defaults) watch the real agent while an xterm is dragged
// across the screen and then scrolls 400 lines, which the agent sends
// as CopyRect (window moves from ConfigureNotify, the scroll found by
// comparing rows); after each, both viewers show exactly the screen.
// Then only a second xterm is shared and the first is dragged under it:
// the viewers end on no pixel of the masked window and show the shared
// one exactly.
func TestInteropCopyRectExact(t *testing.T) {
	rfbtest.LookPath(t, "xterm", "xdotool", "xsetroot", "perl", "vncviewer")
	const w, h = 1024, 640
	x := rfbtest.StartXvfb(t, w, h, 24)
	xdo := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := rfbtest.Run(t, ctx, x.Env(), args[0], args[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	xdo("xsetroot", "-solid", "#3a6ea5")
	dir := t.TempDir()
	fifo, scrolled := filepath.Join(dir, "go"), filepath.Join(dir, "scrolled")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// The moving xterm: a coloured listing, then 400 lines at 200 a second.
	script := fmt.Sprintf(`ls -l --color=always /usr/bin | head -n 20; read go < %s; perl -e '
use Time::HiRes qw(sleep); $| = 1;
for (1..400) { printf "%%4d %%s\n", $_, join(" ", map { sprintf "%%08x", ($_ * 2654435761) %% 4294967296 } $_..$_+8); sleep(0.005) }'; touch %s; exec sleep 3600`, fifo, scrolled)
	rfbtest.Start(t, x.Env(), "xterm", "-T", "mover", "-geometry", "80x24+40+40", "-bg", "#ff00ff", "-fg", "#101010",
		"-bw", "0", "-e", "sh", "-c", script)
	mover := xdo("xdotool", "search", "--sync", "--onlyvisible", "--name", "^mover$")
	rfbtest.Start(t, x.Env(), "xterm", "-T", "chosen", "-geometry", "50x12+560+360", "-bw", "0",
		"-e", "sh", "-c", "echo shared window; exec sleep 3600")
	chosenID := xdo("xdotool", "search", "--sync", "--onlyvisible", "--name", "^chosen$")
	xdo("xdotool", "windowraise", chosenID) // the mover goes under it

	a := startAgentUI(t, x)
	tiger := startViewerProxy(t, a.port, a.password)
	tv := startTigerViewerArgs(t, tiger.port, w, h, "-AutoSelect=0", "-PreferredEncoding=Tight", "-NoJPEG")
	novnc := startViewerProxy(t, a.port, a.password)
	nv := startNoVNC(t, rfbtest.StartBrowser(t, rfbtest.BrowserOptions{}), "npm", novnc.port)
	viewers := []struct {
		name  string
		v     viewer
		proxy *viewerProxy
	}{{"TigerVNC", tv, tiger}, {"noVNC", nv, novnc}}
	// screen waits until the screen is still and returns it.
	screen := func() *image.RGBA {
		t.Helper()
		var last *image.RGBA
		for range 100 {
			m, err := rfbtest.CaptureRoot(x)
			if err != nil {
				t.Fatal(err)
			}
			if last != nil {
				if n, _, _ := rfbtest.Diff(m, last); n == 0 {
					return m
				}
			}
			last = m
			time.Sleep(300 * time.Millisecond)
		}
		t.Fatal("the screen never stood still")
		return nil
	}
	exactEverywhere := func(stage string) {
		t.Helper()
		want := screen()
		for _, v := range viewers {
			waitPicture(t, v.v, want)
			t.Logf("%s: %s exact, %d bytes so far", stage, v.name, v.proxy.sent.Load())
		}
	}
	exactEverywhere("start")

	for i := range 40 {
		xdo("xdotool", "windowmove", "--sync", mover, strconv.Itoa(40+i*10), strconv.Itoa(40+i*5))
	}
	exactEverywhere("drag")

	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("go\n")
	f.Close()
	for i := 0; ; i++ {
		if _, err := os.Stat(scrolled); err == nil {
			break
		}
		if i == 600 {
			t.Fatal("the 400 lines were never printed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	exactEverywhere("scroll")

	a.send("windows")
	n := a.expect(t, `^window (\d+) "chosen" `)[1]
	a.send("share " + n)
	a.expect(t, `^say Sharing only "chosen"`)
	for i := range 30 {
		xdo("xdotool", "windowmove", "--sync", mover, strconv.Itoa(440-i*4), strconv.Itoa(240+i*4))
	}
	want := screen()
	chosen := windowRect(t, chosenID, xdo)
	pink := color.RGBA{0xff, 0, 0xff, 0xff}
	for _, v := range viewers {
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := v.v.picture()
			if err == nil {
				magenta, off := 0, 0
				for y := range h {
					for x := range w {
						c := got.RGBAAt(x, y)
						if c == pink {
							magenta++
						}
						// The shared window, on top of the mover.
						if (image.Point{x, y}).In(chosen) && want.RGBAAt(x, y) != c {
							off++
						}
					}
				}
				if magenta == 0 && off == 0 {
					t.Logf("masked drag: %s shows no pixel of the masked window and the shared one exactly, %d bytes",
						v.name, v.proxy.sent.Load())
					break
				}
				if time.Now().After(deadline) {
					saveForDebug(t, "masked-"+v.name, got)
					saveForDebug(t, "masked-screen", want)
					t.Fatalf("masked drag: %s shows %d magenta pixels, %d pixels of the shared window wrong", v.name, magenta, off)
				}
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// windowRect is the rectangle of window id on the screen.
func windowRect(t *testing.T, id string, xdo func(args ...string) string) image.Rectangle {
	t.Helper()
	v := map[string]int{}
	for _, l := range strings.Split(xdo("xdotool", "getwindowgeometry", "--shell", id), "\n") {
		k, n, _ := strings.Cut(l, "=")
		v[k], _ = strconv.Atoi(n)
	}
	return image.Rect(v["X"], v["Y"], v["X"]+v["WIDTH"], v["Y"]+v["HEIGHT"])
}

// startTigerViewerArgs is startTigerViewer (view-only) with more options.
func startTigerViewerArgs(t testing.TB, port, w, h int, args ...string) *tigerViewer {
	t.Helper()
	rfbtest.LookPath(t, "vncviewer")
	x := rfbtest.StartXvfb(t, w, h, 24)
	args = append([]string{"-FullScreen", "-Shared=1", "-SecurityTypes=None", "-ViewOnly=1"}, args...)
	p := rfbtest.Start(t, x.Env(), "vncviewer", append(args, fmt.Sprintf("127.0.0.1::%d", port))...)
	return &tigerViewer{x: x, p: p}
}
