//go:build interop && linux

package desk_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
)

// Bad input in a real browser: wrong password and wrong one-time code
// (throttled, with the time to retry), an expired console session, a
// forged cross-site form, another supporter's session, markup in a
// display name and in the customer's name, and an account disabled
// while its session runs (the session ends). Nothing runs that the page
// did not bring, and the console keeps working.
func TestConsoleBadInput(t *testing.T) {
	env := desktest.Start(t, desktest.Options{})
	const evil = `<img src=x onerror="window.pwned=1">`
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	env.AddAccount(t, "mallory", "Mallory "+evil, "Acme "+evil, store.RoleSupporter)
	env.AddAccount(t, "rita", "Rita Admin", "Acme IT", store.RoleAdmin)
	// A page on another origin of the same site (same host, another
	// port, also HTTPS): the browser sends the console's SameSite=Lax
	// cookie with its form, so only the cross-origin check stands between.
	evilSite := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form method=post action="%s/codes"><button>Win a prize</button></form>`, env.URL)
	}))
	defer evilSite.Close()
	evilSum := sha256.Sum256(evilSite.Certificate().RawSubjectPublicKeyInfo)
	b := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{TrustSPKI: []string{env.SPKIHash(), base64.StdEncoding.EncodeToString(evilSum[:])}})
	ctx := context.Background()

	noScript := func(p *rfbtest.Page) {
		t.Helper()
		var pwned bool
		must(t, p.Eval(`() => window.pwned === 1`, nil, &pwned))
		if pwned {
			t.Fatal("markup from a name ran in the page")
		}
	}

	t.Run("wrong password, throttled", func(t *testing.T) {
		p, err := b.NewPage(rfbtest.PageOptions{})
		must(t, err)
		logsOnFailure(t, p)
		_, err = p.Goto(env.URL + "/signin")
		must(t, err)
		for i := range 6 {
			must(t, p.Fill("User name", "anna"))
			must(t, p.Fill("Password", fmt.Sprintf("wrong password %d", i)))
			must(t, p.Click("button", "Sign in"))
			must(t, p.WaitText("Wrong user name or password.", waitTimeout))
		}
		must(t, p.Fill("User name", "anna"))
		must(t, p.Fill("Password", desktest.Password))
		must(t, p.Click("button", "Sign in"))
		must(t, p.WaitText("Too many failed sign-ins for this account. Try again at", waitTimeout))
		env.Auth.Throttle().Succeed("anna")
	})

	t.Run("wrong one-time code, in German", func(t *testing.T) {
		key, _ := env.Auth.BeginTOTP("rita")
		otp, _ := auth.TOTPCode(key.Secret, time.Now().Add(-30*time.Second))
		if _, err := env.Auth.ConfirmTOTP(ctx, "rita", key.Secret, otp); err != nil {
			t.Fatal(err)
		}
		p, err := b.NewPage(rfbtest.PageOptions{Locale: "de-DE"})
		must(t, err)
		logsOnFailure(t, p)
		_, err = p.Goto(env.URL + "/signin")
		must(t, err)
		must(t, p.Fill("Benutzername", "rita"))
		must(t, p.Fill("Passwort", desktest.Password))
		must(t, p.Click("button", "Anmelden"))
		must(t, p.Fill("Einmalcode", "000000"))
		must(t, p.Click("button", "Bestätigen"))
		must(t, p.WaitText("Der Einmalcode ist falsch oder wurde schon benutzt.", waitTimeout))
		otp, _ = auth.TOTPCode(key.Secret, time.Now())
		must(t, p.Fill("Einmalcode", otp))
		must(t, p.Click("button", "Bestätigen"))
		must(t, p.WaitText("Neuer Sitzungscode", waitTimeout))
		env.Auth.DisableTOTP(ctx, "rita")
	})

	t.Run("expired session", func(t *testing.T) {
		p := signIn(t, b, env, "anna")
		logsOnFailure(t, p)
		// The server forgets every console session of the account, as at
		// its idle or absolute end.
		must(t, env.DB.DeleteWebSessions(ctx, "anna"))
		must(t, p.Click("button", "New session code"))
		must(t, p.WaitText("Your session expired. Please sign in again.", waitTimeout))
		if n := len(env.Broker.Sessions()); n != 0 {
			t.Fatalf("an expired session issued a code (%d sessions)", n)
		}
	})

	t.Run("forged cross-site form", func(t *testing.T) {
		p := signIn(t, b, env, "anna")
		logsOnFailure(t, p)
		_, err := p.Goto(evilSite.URL)
		must(t, err)
		must(t, p.Click("button", "Win a prize"))
		must(t, p.WaitText("cross-origin request refused", waitTimeout))
		if n := len(env.Broker.Sessions()); n != 0 {
			t.Fatalf("a forged form issued a code (%d sessions)", n)
		}
		// Nor may that page open the RFB WebSocket with the supporter's
		// cookie (cross-site WebSocket hijacking): the Origin is checked.
		_, err = p.Goto(evilSite.URL)
		must(t, err)
		var outcome string
		must(t, p.Eval(`(url) => new Promise((done) => {
			const ws = new WebSocket(url);
			ws.onopen = () => done('open');
			ws.onerror = () => done('refused');
			setTimeout(() => done('timeout'), 10000);
		})`, strings.Replace(env.URL, "https://", "wss://", 1)+"/rfb", &outcome))
		if outcome != "refused" {
			t.Fatalf("a foreign page's WebSocket to /rfb: %s", outcome)
		}
	})

	t.Run("names with markup", func(t *testing.T) {
		cust := desktest.NewCustomer(t, 320, 200)
		bin := rfbtest.BuildGo(t, "./cmd/winvnc")
		a := rfbtest.StartTerminal(t, append(cust.X.Env(), "HOME="+t.TempDir()), bin, "-broker", env.AgentAddr,
			"-fingerprint", env.Broker.Fingerprint(), "-proxy", "direct", "-display", cust.X.Display, "-ui", "terminal",
			"-name", "eve "+evil)
		code := a.Expect(`^code (\d{6})$`, waitTimeout)[1]
		p := signIn(t, b, env, "mallory")
		logsOnFailure(t, p)
		must(t, p.WaitText("Mallory "+evil, waitTimeout))
		must(t, p.Fill("Customer's code", code))
		must(t, p.Click("button", "Connect"))
		a.Expect(`^prompt Allow Mallory <img`, waitTimeout)
		a.Send("y")
		must(t, p.WaitText("Connected", waitTimeout))
		must(t, p.WaitText("eve "+evil, waitTimeout))
		noScript(p)
		admin := signIn(t, b, env, "rita")
		logsOnFailure(t, admin)
		_, err := admin.Goto(env.URL + "/admin")
		must(t, err)
		must(t, admin.WaitText("eve "+evil, waitTimeout))
		must(t, admin.WaitText("Mallory "+evil, waitTimeout))
		noScript(admin)

		// Anna may not end Mallory's session, even by calling the API.
		anna := signIn(t, b, env, "anna")
		var status int
		must(t, anna.Eval(`(code) => fetch('/api/v1/sessions/' + code + '/end', {method: 'POST'}).then(r => r.status)`, code, &status))
		if status != http.StatusForbidden {
			t.Fatalf("anna ending mallory's session: %d", status)
		}

		// Mallory's account is disabled while the session runs: it ends.
		_, err = admin.Goto(env.URL + "/admin/accounts")
		must(t, err)
		must(t, admin.Click("button", "Disable mallory"))
		must(t, admin.WaitText("Done.", waitTimeout))
		if err := a.Wait(waitTimeout); err != nil {
			t.Fatalf("the agent of a disabled supporter's session: %v", err)
		}
		must(t, p.WaitText("The session ended.", waitTimeout))
		for _, s := range env.Broker.Sessions() {
			if s.Supporter.Account == "mallory" {
				t.Fatalf("mallory's session lives: %+v", s)
			}
		}
		_, err = p.Goto(env.URL + "/")
		must(t, err)
		must(t, p.WaitText("Sign in", waitTimeout))
		if strings.Contains(strings.Join(p.Logs(), "\n"), "Content Security Policy") {
			t.Errorf("CSP reports: %q", p.Logs())
		}
	})
}
