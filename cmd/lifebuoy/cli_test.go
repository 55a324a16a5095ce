package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/api"
	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
)

type testCLI struct {
	t   *testing.T
	env *desktest.Env
	dir string
}

func (tc *testCLI) run(stdin string, args ...string) (int, string, string) {
	tc.t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, configDir: tc.dir}
	code := c.run(args)
	return code, out.String(), errb.String()
}

func newTestCLI(t *testing.T) *testCLI {
	env := desktest.Start(t, desktest.Options{})
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	env.AddAccount(t, "bert", "Bert Braun", "Acme Support", store.RoleSupporter)
	return &testCLI{t: t, env: env, dir: t.TempDir()}
}

func (tc *testCLI) login(user string) {
	tc.t.Helper()
	code, out, errs := tc.run(desktest.Password+"\n", "login", "-fingerprint", tc.env.Broker.Fingerprint(), "-user", user, tc.env.URL)
	if code != 0 || !strings.Contains(out, "signed in to "+tc.env.URL) {
		tc.t.Fatalf("login: %d %q %q", code, out, errs)
	}
}

func TestLoginAndCommands(t *testing.T) {
	tc := newTestCLI(t)
	// Not signed in: sessions says what to do.
	if code, _, errs := tc.run("", "sessions"); code != 1 || !strings.Contains(errs, "run lifebuoy login") {
		t.Fatalf("sessions signed out: %d %q", code, errs)
	}
	// A wrong password, and a broker whose certificate is not the pinned one.
	if code, _, errs := tc.run("wrong password\n", "login", "-fingerprint", tc.env.Broker.Fingerprint(), "-user", "anna", tc.env.URL); code != 1 || !strings.Contains(errs, "wrong user name or password") {
		t.Fatalf("wrong password: %d %q", code, errs)
	}
	if code, _, errs := tc.run(desktest.Password+"\n", "login", "-fingerprint", strings.Repeat("0", 64), "-user", "anna", tc.env.URL); code != 1 || !strings.Contains(errs, "pinned") {
		t.Fatalf("wrong pin: %d %q", code, errs)
	}
	if code, _, errs := tc.run(desktest.Password+"\n", "login", "-user", "anna", tc.env.URL); code != 1 || !strings.Contains(errs, "certificate") {
		t.Fatalf("self-signed broker without a pin: %d %q", code, errs)
	}
	tc.login("anna")
	p := filepath.Join(tc.dir, "lifebuoy", "credentials.json")
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials: %v %v", fi, err)
	}
	code, out, errs := tc.run("", "code", "new")
	m := regexp.MustCompile(`^(\d{3}) (\d{3})\ncode=(\d{6}) expires=\S+Z\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil || m[1]+m[2] != m[3] {
		t.Fatalf("code new: %d %q %q", code, out, errs)
	}
	issued := m[3]
	if s := tc.env.WaitSession(t, issued, time.Second, func(broker.SessionInfo) bool { return true }); s.Supporter.Name != "Anna Berger" {
		t.Fatalf("issued as %+v", s)
	}
	code, out, _ = tc.run("", "sessions")
	if code != 0 || !strings.Contains(out, m[1]+" "+m[2]) || !strings.Contains(out, "issued") || !strings.Contains(out, "Anna Berger") {
		t.Fatalf("sessions: %d %q", code, out)
	}
	code, out, _ = tc.run("", "sessions", "-json")
	var ss []api.Session
	if code != 0 || json.Unmarshal([]byte(out), &ss) != nil || len(ss) != 1 || ss[0].Code != issued {
		t.Fatalf("sessions -json: %d %q", code, out)
	}
	// Bert may not end Anna's code.
	bert := &testCLI{t: t, env: tc.env, dir: t.TempDir()}
	bert.login("bert")
	if code, _, errs := bert.run("", "end", issued); code != 1 || !strings.Contains(errs, "not your session") {
		t.Fatalf("bert ends anna's code: %d %q", code, errs)
	}
	if code, out, _ := tc.run("", "end", m[1]+" "+m[2], "-reason", "wrong customer"); code != 0 || !strings.Contains(out, "ended "+m[1]+" "+m[2]) {
		t.Fatalf("end: %d %q", code, out)
	}
	if code, out, _ := tc.run("", "sessions"); code != 0 || !strings.Contains(out, "no waiting codes") {
		t.Fatalf("sessions after end: %q", out)
	}
	// Logout revokes the token and forgets it.
	cr, _ := (&cli{configDir: tc.dir}).loadCredentials()
	if code, _, errs := tc.run("", "logout"); code != 0 {
		t.Fatalf("logout: %q", errs)
	}
	if _, err := tc.env.Auth.APIToken(context.Background(), cr.Token); err == nil {
		t.Fatal("the token lives after logout")
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("credentials kept after logout")
	}
	// Usage mistakes.
	for _, args := range [][]string{{"frob"}, {"code"}, {"end"}, {"connect"}, {"login"}, {"login", "http://plain"}} {
		if code, _, _ := tc.run("", args...); code != 2 {
			t.Errorf("%q: exit %d", args, code)
		}
	}
}

func TestLoginTOTP(t *testing.T) {
	tc := newTestCLI(t)
	ctx := context.Background()
	key, _ := tc.env.Auth.BeginTOTP("anna")
	otp, _ := auth.TOTPCode(key.Secret, time.Now().Add(-30*time.Second))
	if _, err := tc.env.Auth.ConfirmTOTP(ctx, "anna", key.Secret, otp); err != nil {
		t.Fatal(err)
	}
	otp, _ = auth.TOTPCode(key.Secret, time.Now())
	code, out, errs := tc.run(desktest.Password+"\n"+otp+"\n", "login", "-fingerprint", tc.env.Broker.Fingerprint(), "-user", "anna", tc.env.URL)
	if code != 0 || !strings.Contains(out, "as Anna Berger (anna)") {
		t.Fatalf("login with TOTP: %d %q %q", code, out, errs)
	}
}

func TestLoginBrowser(t *testing.T) {
	tc := newTestCLI(t)
	// The "browser": a signed-in console session that allows the request.
	opened := make(chan string, 1)
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, configDir: tc.dir,
		openBrowser: func(u string) error { opened <- u; return nil }}
	done := make(chan int, 1)
	go func() {
		done <- c.run([]string{"login", "-browser", "-fingerprint", tc.env.Broker.Fingerprint(), tc.env.URL})
	}()
	var page string
	select {
	case page = <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("no browser opened")
	}
	confirm := regexp.MustCompile(`The page shows ([0-9A-F]{6})`).FindStringSubmatch(errb.String())
	req := strings.TrimPrefix(page, tc.env.URL+"/cli/authorize?request=")
	if confirm == nil || req == page {
		t.Fatalf("page %q, terminal %q", page, errb.String())
	}
	allowInConsole(t, tc.env, "anna", req)
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "as Anna Berger (anna)") {
			t.Fatalf("login -browser: %d %q %q", code, out.String(), errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("login -browser did not finish")
	}
}

// TestConnect bridges an RFB client (standing in for the stock viewer;
// the interop tests run TigerVNC) to a session as the signed-in
// supporter.
func TestConnect(t *testing.T) {
	tc := newTestCLI(t)
	tc.login("anna")
	img := rfbtest.Pattern(96, 64, 9)
	agent := tc.env.StartAgent(t, "", img)
	code := agent.Link.Code()
	outR, outW, _ := os.Pipe()
	var errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: outW, stderr: &errb, configDir: tc.dir}
	done := make(chan int, 1)
	go func() { done <- c.run([]string{"connect", "-viewer", "none", code}); outW.Close() }()
	line := make([]byte, 200)
	n, _ := outR.Read(line)
	m := regexp.MustCompile(`^address=127\.0\.0\.1::(\d+) password=(\S{8})\n`).FindSubmatch(line[:n])
	if m == nil {
		t.Fatalf("connect printed %q (%q)", line[:n], errb.String())
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: string(m[2])})
	if err != nil {
		t.Fatal(err)
	}
	if in := <-agent.Incoming; in.Who() != "Anna Berger (Acme Support)" {
		t.Fatalf("customer told %q", in.Who())
	}
	cl.RequestUpdate(false, image.Rect(0, 0, 96, 64))
	for range 20 {
		if _, err := cl.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := rfbtest.Diff(cl.Framebuffer(), img); n == 0 {
			break
		}
	}
	if n, _, d := rfbtest.Diff(cl.Framebuffer(), img); n != 0 {
		t.Fatal(d)
	}
	cl.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("connect: %d %q", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("connect did not end with the viewer")
	}
}

// allowInConsole signs account in to the console over HTTP, as a browser
// would, and allows the command line's request.
func allowInConsole(t *testing.T, env *desktest.Env, account, request string) {
	t.Helper()
	hc := env.HTTPClient()
	jar, _ := cookiejar.New(nil)
	hc.Jar = jar
	post := func(path string, form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", env.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", env.URL)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	post("/signin", url.Values{"user": {account}, "password": {desktest.Password}})
	if resp := post("/cli/authorize", url.Values{"request": {request}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("allow: %s", resp.Status)
	}
}
