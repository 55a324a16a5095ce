package bridge_test

import (
	"context"
	"errors"
	"image"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/bridge"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
)

func startEnv(t *testing.T, anonymous bool) *desktest.Env {
	env := desktest.Start(t, desktest.Options{Config: func(c *broker.Config) { c.AnonymousViewers = anonymous }})
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	return env
}

func newBridge(t *testing.T, env *desktest.Env, token, code string) *bridge.Bridge {
	t.Helper()
	tlsCfg, err := bridge.PinnedTLS(env.Broker.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	br, err := bridge.Listen(bridge.Config{URL: env.URL, Token: token, Code: code, TLS: tlsCfg, HandshakeTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

func serve(br *bridge.Bridge) chan error {
	done := make(chan error, 1)
	go func() { done <- br.Serve(context.Background()) }()
	return done
}

func viewer(t *testing.T, addr net.Addr, password string) (*rfb.Client, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: password})
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

func syncTo(t *testing.T, c *rfb.Client, want image.Image) {
	t.Helper()
	w, h := c.Size()
	if err := c.RequestUpdate(false, image.Rect(0, 0, w, h)); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("ReadMessage: %v", err)
		}
		if _, ok := m.(*rfb.FramebufferUpdate); !ok {
			continue
		}
		if n, _, _ := rfbtest.Diff(c.Framebuffer(), want); n == 0 {
			return
		}
		c.RequestUpdate(true, image.Rect(0, 0, w, h))
	}
	_, _, d := rfbtest.Diff(c.Framebuffer(), want)
	t.Fatalf("viewer's framebuffer differs: %s", d)
}

// A viewer through the bridge sees the customer's screen; the customer
// is told the supporter's name; the port takes one connection only.
func TestBridge(t *testing.T) {
	env := startEnv(t, false) // only named supporters may redeem codes
	img := rfbtest.Pattern(200, 120, 3)
	agent := env.StartAgent(t, "", img)
	code := agent.Link.Code()
	br := newBridge(t, env, env.Token(t, "anna"), code)
	if br.Addr().IP.String() != "127.0.0.1" || len(br.Password()) != 8 {
		t.Fatalf("listening on %v with password %q", br.Addr(), br.Password())
	}
	done := serve(br)
	c, err := viewer(t, br.Addr(), br.Password())
	if err != nil {
		t.Fatal(err)
	}
	in := <-agent.Incoming
	if got := in.Who(); got != "Anna Berger (Acme Support)" {
		t.Fatalf("the customer is told %q", got)
	}
	syncTo(t, c, img)
	s := env.WaitSession(t, code, 5*time.Second, func(s broker.SessionInfo) bool { return s.State == "relaying" })
	if s.Supporter.Account != "anna" || s.Path != "wss" {
		t.Fatalf("session %+v", s)
	}
	// A second local connection is refused: the port is closed.
	if c2, err := net.DialTimeout("tcp", br.Addr().String(), time.Second); err == nil {
		c2.Close()
		t.Fatal("a second connection to the bridge's port was accepted")
	}
	// The session ends from the desk; the bridge returns.
	if err := env.Broker.EndSession(code, broker.Supporter{Account: "anna"}, "done"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bridge: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the bridge stays after the session ended")
	}
}

// A local program that does not know the one-time password gets nothing,
// and the bridge closes without spending the code.
func TestBridgeWrongPassword(t *testing.T) {
	env := startEnv(t, true)
	agent := env.StartAgent(t, "", rfbtest.Pattern(64, 48, 1))
	code := agent.Link.Code()
	br := newBridge(t, env, env.Token(t, "anna"), code)
	done := serve(br)
	if _, err := viewer(t, br.Addr(), "guessed!"); err == nil {
		t.Fatal("a wrong password got in")
	}
	if err := <-done; !errors.Is(err, bridge.ErrWrongPassword) {
		t.Fatalf("bridge: %v", err)
	}
	if s := env.WaitSession(t, code, time.Second, func(broker.SessionInfo) bool { return true }); s.State != "waiting" {
		t.Fatalf("the code was touched: %+v", s)
	}
}

// The broker's refusal reaches the viewer with its reason.
func TestBridgeRefused(t *testing.T) {
	env := startEnv(t, false)
	for _, tc := range []struct {
		name, token, code, want string
	}{
		{"wrong code", "", "111111", "wrong, expired or used session code"},
		{"no account", "", "", "signed-in supporters only"},
		{"revoked token", "lbt_revoked", "", "signed-in supporters only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := tc.code
			if code == "" {
				code = env.StartAgent(t, "", rfbtest.Pattern(64, 48, 1)).Link.Code()
			}
			token := tc.token
			if token == "" && tc.name == "wrong code" {
				token = env.Token(t, "anna")
			}
			br := newBridge(t, env, token, code)
			done := serve(br)
			_, err := viewer(t, br.Addr(), br.Password())
			var ae *rfb.AuthError
			if !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("viewer: %v", err)
			}
			var bre *bridge.RefusedError
			if err := <-done; !errors.As(err, &bre) {
				t.Fatalf("bridge: %v", err)
			}
		})
	}
}

func TestBridgeConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  bridge.Config
		want string
	}{
		{bridge.Config{URL: "https://x", Listen: "0.0.0.0:0"}, "loopback"},
		{bridge.Config{URL: "https://x", Listen: "192.0.2.1:0"}, "loopback"},
		{bridge.Config{URL: "http://x"}, "want https"},
		{bridge.Config{URL: "https://"}, "no host"},
	} {
		if _, err := bridge.Listen(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc.cfg, err)
		}
	}
	if _, err := bridge.PinnedTLS("abc"); err == nil {
		t.Error("short fingerprint accepted")
	}
	// A pinned configuration refuses another certificate.
	env := startEnv(t, true)
	other := strings.Repeat("ab", 32)
	tlsCfg, _ := bridge.PinnedTLS(other)
	br, err := bridge.Listen(bridge.Config{URL: env.URL, Code: "123456", TLS: tlsCfg, HandshakeTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := serve(br)
	_, verr := viewer(t, br.Addr(), br.Password())
	if err := <-done; err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("bridge with the wrong pin: %v (viewer: %v)", err, verr)
	}
}

func TestVNCPasswdFile(t *testing.T) {
	// The file TigerVNC's vncpasswd writes for "password" (its bytes are
	// documented widely: DBD83CFD727A1458).
	got := bridge.VNCPasswdFile("password")
	if want := []byte{0xdb, 0xd8, 0x3c, 0xfd, 0x72, 0x7a, 0x14, 0x58}; string(got) != string(want) {
		t.Fatalf("%x", got)
	}
}

func TestViewerCommand(t *testing.T) {
	dir := t.TempDir()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5901}
	cmd, typed, err := bridge.Viewer{Kind: "tigervnc", Path: "/usr/bin/vncviewer"}.Command(addr, "s3cretPW", dir)
	if err != nil || typed != "" {
		t.Fatal(err, typed)
	}
	if strings.Contains(strings.Join(cmd.Args, " "), "s3cretPW") || cmd.Args[len(cmd.Args)-1] != "127.0.0.1::5901" {
		t.Fatalf("args %q", cmd.Args)
	}
	fi, err := os.Stat(filepath.Join(dir, "passwd"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", fi, err)
	}
	if _, typed, _ := (bridge.Viewer{Kind: "remmina", Path: "remmina"}).Command(addr, "s3cretPW", dir); !strings.Contains(typed, "s3cretPW") {
		t.Fatalf("remmina: %q", typed)
	}
}
