//go:build interop && linux

package main

import (
	"fmt"
	"image"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"context"

	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
)

// supporterCLI is the lifebuoy binary signed in to env as anna, with its
// own config directory.
type supporterCLI struct {
	bin string
	env []string // XDG_CONFIG_HOME and the supporter's display
}

func loginBinary(t *testing.T, env *desktest.Env, display []string) *supporterCLI {
	t.Helper()
	s := &supporterCLI{bin: rfbtest.BuildGo(t, "./cmd/lifebuoy"), env: append(display, "XDG_CONFIG_HOME="+t.TempDir())}
	cmd := exec.Command(s.bin, "login", "-fingerprint", env.Broker.Fingerprint(), "-user", "anna", env.URL)
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(desktest.Password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "as Anna Berger (anna)") {
		t.Fatalf("lifebuoy login: %v\n%s", err, out)
	}
	return s
}

func setup(t *testing.T) (*desktest.Env, *desktest.Customer, *rfbtest.Terminal, string) {
	t.Helper()
	env := desktest.Start(t, desktest.Options{})
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	cust := desktest.NewCustomer(t, 480, 300)
	agent := cust.Agent(env, "")
	code := agent.Expect(`^code (\d{6})$`, desktest.WaitTimeout)[1]
	return env, cust, agent, code
}

// "lifebuoy connect" starts TigerVNC's vncviewer full screen on the
// supporter's own X screen, which then shows the customer's screen pixel
// for pixel; the customer was asked by the supporter's name; nothing
// else on the machine can connect to the bridge's port.
func TestConnectTigerVNC(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer")
	env, cust, agent, code := setup(t)
	desk := rfbtest.StartXvfb(t, 480, 300, 24)
	// The stock viewer, full screen and lossless, as a supporter would
	// configure it; the bridge adds the password file and the address.
	wrapper := filepath.Join(t.TempDir(), "vncviewer-fullscreen")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec vncviewer -FullScreen -AutoSelect=0 -NoJPEG=1 \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := loginBinary(t, env, desk.Env())
	conn := rfbtest.StartTerminal(t, s.env, s.bin, "connect", "-viewer", wrapper, code)
	m := conn.Expect(`^address=127\.0\.0\.1::(\d+) password=(\S{8})$`, desktest.WaitTimeout)
	agent.Expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\?`, desktest.WaitTimeout)
	agent.Send("y")
	cust.ScreenMatches("TigerVNC's full-screen window", desk.Capture)

	// The bridge's port took its one connection.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+m[1], time.Second); err == nil {
		c.Close()
		t.Fatal("a second local connection to the bridge was accepted")
	}
	agent.Send("end")
	if err := agent.Wait(desktest.WaitTimeout); err != nil {
		t.Fatal(err)
	}
	if err := conn.Wait(desktest.WaitTimeout); err != nil {
		t.Fatalf("lifebuoy connect after the end: %v", err)
	}
}

// gtk-vnc's gvnccapture through "lifebuoy connect -viewer none", with
// the printed one-time password.
func TestConnectGVNCCapture(t *testing.T) {
	env, cust, agent, code := setup(t)
	s := loginBinary(t, env, os.Environ())
	conn := rfbtest.StartTerminal(t, s.env, s.bin, "connect", "-viewer", "none", code)
	m := conn.Expect(`^address=127\.0\.0\.1::(\d+) password=(\S{8})$`, desktest.WaitTimeout)
	port, _ := strconv.Atoi(m[1])
	type shot struct {
		img *image.RGBA
		err error
	}
	got := make(chan shot, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*desktest.WaitTimeout)
		defer cancel()
		img, err := rfbtest.GVNCCapture(t, ctx, port, m[2])
		got <- shot{img, err}
	}()
	agent.Expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\?`, desktest.WaitTimeout)
	agent.Send("y")
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	want, err := cust.X.Capture()
	if err != nil {
		t.Fatal(err)
	}
	if n, _, d := rfbtest.Diff(r.img, want); n != 0 {
		t.Fatalf("gvnccapture: %s", d)
	}
	// gvnccapture left: the session ends, and so does the agent.
	if err := conn.Wait(desktest.WaitTimeout); err != nil {
		t.Fatalf("lifebuoy connect: %v", err)
	}
	if err := agent.Wait(desktest.WaitTimeout); err != nil {
		t.Fatal(fmt.Errorf("the agent after the viewer left: %w", err))
	}
}
