//go:build interop && linux

package winvnc

import (
	"context"
	"fmt"
	"image"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// sameAsScreen accepts a framebuffer equal to what xwd reads now.
func sameAsScreen(t *testing.T, x *rfbtest.Xvfb) func(fb *rfb.Image) (bool, string) {
	return func(fb *rfb.Image) (bool, string) {
		want, err := x.Capture()
		if err != nil {
			t.Fatal(err)
		}
		n, first, detail := rfbtest.Diff(fb, want)
		return n == 0, fmt.Sprintf("%d pixels differ, first at %v: %s", n, first, detail)
	}
}

// xrun runs an X client on x and returns its trimmed output.
func xrun(t *testing.T, x *rfbtest.Xvfb, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, err := rfbtest.Run(t, ctx, x.Env(), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// mouse returns the X pointer's position.
func mouse(t *testing.T, x *rfbtest.Xvfb) image.Point {
	t.Helper()
	out := xrun(t, x, "xdotool", "getmouselocation", "--shell")
	var p image.Point
	for _, line := range strings.Fields(out) {
		k, v, _ := strings.Cut(line, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "X":
			p.X = n
		case "Y":
			p.Y = n
		}
	}
	return p
}

// startXterm starts `xterm -e cat > file` titled title at geometry and
// waits until it is mapped.
func startXterm(t *testing.T, x *rfbtest.Xvfb, title, geometry, file string) {
	t.Helper()
	env := append(x.Env(), "LC_ALL=C.UTF-8")
	rfbtest.Start(t, env, "xterm", "-T", title, "-geometry", geometry, "-bw", "0", "-fa", "", "-e", "cat > "+file)
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := rfbtest.Run(t, ctx, x.Env(), "xdotool", "search", "--onlyvisible", "--name", "^"+title+"$")
		cancel()
		if err == nil && strings.TrimSpace(out) != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("xterm %q never mapped", title)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Let it draw its first prompt-less screen.
	time.Sleep(300 * time.Millisecond)
}

// shmSegmentsOf counts the System V shared-memory segments pid created
// that still exist.
func shmSegmentsOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		t.Skipf("no /proc/sysvipc/shm: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == strconv.Itoa(pid) {
			n++
		}
	}
	return n
}
