package desktest

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// WaitTimeout bounds each wait of the interop tests.
const WaitTimeout = 30 * time.Second

// Customer is the customer's side for interop tests: an X screen with an
// xterm that writes what is typed into it to a file, and the real agent
// (cmd/winvnc) driven through its terminal UI, as the customer answers
// its questions.
type Customer struct {
	t     testing.TB
	X     *rfbtest.Xvfb
	Home  string // the agent's HOME: files from the supporter land in Home/Downloads/Lifebuoy
	typed string // the xterm's output file
}

// NewCustomer starts an Xvfb of w×h with a solid background and an
// xterm at (40,40).
func NewCustomer(t testing.TB, w, h int) *Customer {
	t.Helper()
	rfbtest.LookPath(t, "xsetroot", "xterm", "xdotool")
	x := rfbtest.StartXvfb(t, w, h, 24)
	c := &Customer{t: t, X: x, Home: t.TempDir(), typed: filepath.Join(t.TempDir(), "typed.txt")}
	c.Run("xsetroot", "-solid", "#336699")
	// Without a window manager keys go to the window under the pointer.
	rfbtest.Start(t, append(x.Env(), "LC_ALL=C.UTF-8"), "xterm", "-T", "notes", "-geometry", "40x8+40+40", "-bw", "0",
		"-fa", "", "-e", "cat > "+c.typed)
	deadline := time.Now().Add(WaitTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := rfbtest.Run(t, ctx, x.Env(), "xdotool", "search", "--onlyvisible", "--name", "^notes$")
		cancel()
		if err == nil && strings.TrimSpace(out) != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the xterm never mapped")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // its first drawing
	return c
}

// Run runs a program on the customer's display.
func (c *Customer) Run(name string, args ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	if _, err := rfbtest.Run(c.t, ctx, c.X.Env(), name, args...); err != nil {
		c.t.Fatal(err)
	}
}

// Agent starts cmd/winvnc for env's broker; code "" is customer first.
func (c *Customer) Agent(env *Env, code string) *rfbtest.Terminal {
	c.t.Helper()
	bin := rfbtest.BuildGo(c.t, "./cmd/winvnc")
	args := []string{"-broker", env.AgentAddr, "-fingerprint", env.Broker.Fingerprint(), "-proxy", "direct",
		"-display", c.X.Display, "-ui", "terminal", "-name", "eve@customer-pc"}
	if code != "" {
		args = append(args, "-code", code)
	}
	return rfbtest.StartTerminal(c.t, append(c.X.Env(), "HOME="+c.Home), bin, args...)
}

// ScreenMatches waits until capture gives exactly the customer's screen.
func (c *Customer) ScreenMatches(what string, capture func() (*image.RGBA, error)) {
	c.t.Helper()
	detail := ""
	for deadline := time.Now().Add(WaitTimeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, err := capture()
		if err != nil {
			detail = err.Error()
			continue
		}
		want, err := c.X.Capture()
		if err != nil {
			c.t.Fatal(err)
		}
		var n int
		n, _, detail = rfbtest.Diff(got, want)
		if n == 0 && got.Bounds().Size() == want.Bounds().Size() {
			return
		}
	}
	c.t.Fatalf("%s never matched the customer's screen: %s", what, detail)
}

// Typed is what reached the xterm.
func (c *Customer) Typed() string {
	b, _ := os.ReadFile(c.typed)
	return string(b)
}
