//go:build interop && linux

package desk_test

import (
	"context"
	"image"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
	"lifebuoy/viewer/web"
)

const waitTimeout = desktest.WaitTimeout

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
	cust := desktest.NewCustomer(t, 480, 300)
	b := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{TrustSPKI: []string{env.SPKIHash()}})

	t.Run("supporter first", func(t *testing.T) {
		p := signIn(t, b, env, "anna")
		logsOnFailure(t, p)
		must(t, p.Click("button", "New session code"))
		var code string
		must(t, p.WaitFunction(`() => document.body.dataset.code`, nil, &code, waitTimeout))
		must(t, p.WaitText(code[:3]+" "+code[3:], waitTimeout))
		a := cust.Agent(env, code)
		a.Expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\?`, waitTimeout)
		a.Send("y")
		must(t, p.WaitText("Connected", waitTimeout))
		cust.ScreenMatches("the canvas", func() (*image.RGBA, error) { return p.CanvasImage("#screen canvas") })
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
		for !strings.Contains(cust.Typed(), "hello from the desk\n") {
			if time.Now().After(deadline) {
				t.Fatalf("the xterm got %q", cust.Typed())
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
		a := cust.Agent(env, "")
		code := a.Expect(`^code (\d{6})$`, waitTimeout)[1]
		p := signIn(t, b, env, "anna")
		logsOnFailure(t, p)
		must(t, p.Fill("Customer's code", code[:3]+" "+code[3:]))
		must(t, p.Click("button", "Connect"))
		a.Expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\?`, waitTimeout)
		a.Send("y")
		must(t, p.WaitText("Connected", waitTimeout))
		cust.ScreenMatches("the canvas", func() (*image.RGBA, error) { return p.CanvasImage("#screen canvas") })
		must(t, p.Click("button", "End session"))
		if err := a.Wait(waitTimeout); err != nil {
			t.Fatalf("the agent after End session: %v", err)
		}
	})

	t.Run("admin ends another supporter's session", func(t *testing.T) {
		a := cust.Agent(env, "")
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
