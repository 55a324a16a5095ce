//go:build interop && linux

package desk_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
	"lifebuoy/viewer/web"
)

const waitTimeout = 30 * time.Second

// customer is an X screen with an xterm that writes what is typed into
// it to a file, and the real agent (cmd/winvnc) driven through its
// terminal UI, as the customer would answer its questions.
type customer struct {
	t     *testing.T
	x     *rfbtest.Xvfb
	typed string // the xterm's output file
}

func newCustomer(t *testing.T) *customer {
	t.Helper()
	rfbtest.LookPath(t, "xsetroot", "xterm", "xdotool")
	x := rfbtest.StartXvfb(t, 480, 300, 24)
	c := &customer{t: t, x: x, typed: filepath.Join(t.TempDir(), "typed.txt")}
	c.run("xsetroot", "-solid", "#336699")
	// The xterm sits under where the test clicks; without a window
	// manager, keys go to the window under the pointer.
	rfbtest.Start(t, append(x.Env(), "LC_ALL=C.UTF-8"), "xterm", "-T", "notes", "-geometry", "40x8+40+40", "-bw", "0",
		"-fa", "", "-e", "cat > "+c.typed)
	deadline := time.Now().Add(waitTimeout)
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

func (c *customer) run(name string, args ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := rfbtest.Run(c.t, ctx, c.x.Env(), name, args...); err != nil {
		c.t.Fatal(err)
	}
}

// agent starts cmd/winvnc for env's broker; code "" is customer first.
func (c *customer) agent(env *desktest.Env, code string) *rfbtest.Terminal {
	c.t.Helper()
	bin := rfbtest.BuildGo(c.t, "./cmd/winvnc")
	args := []string{"-broker", env.AgentAddr, "-fingerprint", env.Broker.Fingerprint(), "-proxy", "direct",
		"-display", c.x.Display, "-ui", "terminal", "-name", "eve@customer-pc"}
	if code != "" {
		args = append(args, "-code", code)
	}
	return rfbtest.StartTerminal(c.t, append(c.x.Env(), "HOME="+c.t.TempDir()), bin, args...)
}

// screenMatches waits until the page's noVNC canvas equals the X screen.
func (c *customer) screenMatches(p *rfbtest.Page) {
	c.t.Helper()
	detail := ""
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, err := p.CanvasImage("#screen canvas")
		if err != nil {
			detail = err.Error()
			continue
		}
		want, err := c.x.Capture()
		if err != nil {
			c.t.Fatal(err)
		}
		var n int
		n, _, detail = rfbtest.Diff(got, want)
		if n == 0 && got.Bounds().Size() == want.Bounds().Size() {
			return
		}
	}
	c.t.Fatalf("the canvas never matched the customer's screen: %s", detail)
}

// typedText is what reached the xterm.
func (c *customer) typedText() string {
	b, _ := os.ReadFile(c.typed)
	return string(b)
}

func logsOnFailure(t *testing.T, p *rfbtest.Page) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("page console:\n%s", strings.Join(p.Logs(), "\n"))
		}
	})
}

// The whole supporter's-desk story in Chromium with the real agent on
// Xvfb: supporter first with "New session code", the consent prompt
// naming the supporter, the customer's screen exactly on the canvas,
// "Request control" granted by the customer, typing that reaches the
// customer's xterm, "End session" ending the agent; then customer first
// with "Customer's code" and "Connect"; and an admin ending another
// supporter's session.
func TestConsoleWithAgent(t *testing.T) {
	if !web.NoVNCBuilt() {
		t.Fatal("the browser viewer was not built: run make web")
	}
	env := desktest.Start(t, desktest.Options{})
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	env.AddAccount(t, "rita", "Rita Admin", "Acme IT", store.RoleAdmin)
	cust := newCustomer(t)
	b := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{TrustSPKI: []string{env.SPKIHash()}})

	t.Run("supporter first", func(t *testing.T) {
		p := signIn(t, b, env, "anna")
		logsOnFailure(t, p)
		must(t, p.Click("button", "New session code"))
		var code string
		must(t, p.WaitFunction(`() => document.body.dataset.code`, nil, &code, waitTimeout))
		must(t, p.WaitText(code[:3]+" "+code[3:], waitTimeout))
		a := cust.agent(env, code)
		a.Expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\?`, waitTimeout)
		a.Send("y")
		must(t, p.WaitText("Connected", waitTimeout))
		cust.screenMatches(p)
		must(t, p.WaitText("eve@customer-pc", waitTimeout))

		// Control: asked for in the page, granted by the customer.
		must(t, p.Click("button", "Request control"))
		a.Expect(`^prompt Anna Berger \(Acme Support\) asks to control your mouse and keyboard`, waitTimeout)
		a.Send("y")
		a.Expect(`^rights control=on`, waitTimeout)
		must(t, p.WaitFunction(`() => document.body.dataset.controlGranted === 'true'`, nil, nil, waitTimeout))
		// Click into the xterm on the canvas (the page scales the screen
		// to its box), then type.
		var at struct{ X, Y float64 }
		must(t, p.Eval(`() => { const r = document.querySelector('#screen canvas').getBoundingClientRect();
			const s = r.width / 480; return { X: r.left + 120 * s, Y: r.top + 70 * s }; }`, nil, &at))
		must(t, p.Mouse("click", at.X, at.Y))
		time.Sleep(300 * time.Millisecond)
		must(t, p.Type("hello from the desk"))
		must(t, p.Press("Enter"))
		deadline := time.Now().Add(waitTimeout)
		for !strings.Contains(cust.typedText(), "hello from the desk\n") {
			if time.Now().After(deadline) {
				t.Fatalf("the xterm got %q", cust.typedText())
			}
			time.Sleep(100 * time.Millisecond)
		}

		must(t, p.Click("button", "End session"))
		if err := a.Wait(waitTimeout); err != nil {
			t.Fatalf("the agent after End session: %v", err)
		}
		must(t, p.WaitText("New session code", waitTimeout))
	})

	t.Run("customer first", func(t *testing.T) {
		a := cust.agent(env, "")
		code := a.Expect(`^code (\d{6})$`, waitTimeout)[1]
		p := signIn(t, b, env, "anna")
		logsOnFailure(t, p)
		must(t, p.Fill("Customer's code", code[:3]+" "+code[3:]))
		must(t, p.Click("button", "Connect"))
		a.Expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\?`, waitTimeout)
		a.Send("y")
		must(t, p.WaitText("Connected", waitTimeout))
		cust.screenMatches(p)
		must(t, p.Click("button", "End session"))
		if err := a.Wait(waitTimeout); err != nil {
			t.Fatalf("the agent after End session: %v", err)
		}
	})

	t.Run("admin ends another supporter's session", func(t *testing.T) {
		a := cust.agent(env, "")
		code := a.Expect(`^code (\d{6})$`, waitTimeout)[1]
		p := signIn(t, b, env, "anna")
		logsOnFailure(t, p)
		must(t, p.Fill("Customer's code", code))
		must(t, p.Click("button", "Connect"))
		a.Expect(`^prompt Allow Anna Berger`, waitTimeout)
		a.Send("y")
		must(t, p.WaitText("Connected", waitTimeout))
		env.WaitSession(t, code, waitTimeout, func(s broker.SessionInfo) bool { return s.State == "relaying" })

		admin := signIn(t, b, env, "rita")
		logsOnFailure(t, admin)
		if _, err := admin.Goto(env.URL + "/admin"); err != nil {
			t.Fatal(err)
		}
		must(t, admin.WaitText("Anna Berger (Acme Support)", waitTimeout))
		must(t, admin.Click("button", "End "+code))
		if err := a.Wait(waitTimeout); err != nil {
			t.Fatalf("the agent after the admin's End: %v", err)
		}
		must(t, p.WaitText("The session ended.", waitTimeout))
		recs, err := env.DB.Audit(context.Background(), store.AuditQuery{Code: code})
		if err != nil {
			t.Fatal(err)
		}
		var ended bool
		for _, r := range recs {
			ended = ended || (r.Msg == "session ended by supporter" && r.Supporter == "rita" && strings.Contains(r.Attrs, "ended by an admin (rita)"))
		}
		if !ended {
			t.Fatalf("the audit has no end by rita: %+v", recs)
		}
	})
}

