//go:build interop && linux

package desk_test

import (
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
	"lifebuoy/viewer/web"
)

// noVNC's Extended Clipboard in Chromium with the real agent: the page's
// clipboardPasteFrom reaches the customer's X clipboard (xclip -o) only
// with Control, the customer's copy reaches the page (noVNC's clipboard
// event) only with Files, non-ASCII text intact; and the round trip's
// time is logged for docs/BENCHMARKS.md.
func TestConsoleClipboard(t *testing.T) {
	if !web.NoVNCBuilt() {
		t.Fatal("the browser viewer was not built: run make web")
	}
	rfbtest.LookPath(t, "xclip")
	env := desktest.Start(t, desktest.Options{})
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	cust := desktest.NewCustomer(t, 320, 200)
	b := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{TrustSPKI: []string{env.SPKIHash()}})
	p := signIn(t, b, env, "anna")
	logsOnFailure(t, p)
	must(t, p.Click("button", "New session code"))
	var code string
	must(t, p.WaitFunction(`() => document.body.dataset.code`, nil, &code, waitTimeout))
	agent := cust.Agent(env, code)
	agent.Expect(`^prompt Allow Anna Berger`, waitTimeout)
	agent.Send("y")
	must(t, p.WaitText("Connected", waitTimeout))
	must(t, p.Eval(`() => { window.clipEvents = []; window.lifebuoyRFB.addEventListener('clipboard', (e) => window.clipEvents.push([performance.now(), e.detail.text])); }`, nil, nil))
	paste := func(text string) {
		t.Helper()
		must(t, p.Eval(`(text) => window.lifebuoyRFB.clipboardPasteFrom(text)`, text, nil))
	}
	pageGot := func() []string {
		var evs [][2]any
		must(t, p.Eval(`() => window.clipEvents`, nil, &evs))
		var texts []string
		for _, e := range evs {
			texts = append(texts, e[1].(string))
		}
		return texts
	}

	// Rights off: nothing crosses.
	paste("no control yet")
	cust.X.Copy(t, "customer's secret")
	if rfbtest.Eventually(2*time.Second, func() bool { return cust.X.Clipboard(t) == "no control yet" }) {
		t.Error("the page's paste reached the customer without Control")
	}
	if got := pageGot(); len(got) > 0 {
		t.Errorf("the customer's clipboard reached the page without Files: %q", got)
	}

	// Control on: the page's text is on the customer's clipboard.
	agent.Send("control on")
	agent.Expect(`control=on`, waitTimeout)
	const toCustomer = "Grüße vom Support ✓ — 日本語"
	start := time.Now()
	paste(toCustomer)
	if !rfbtest.Eventually(waitTimeout, func() bool { return cust.X.Clipboard(t) == toCustomer }) {
		t.Fatalf("the customer's clipboard holds %q", cust.X.Clipboard(t))
	}
	t.Logf("clipboard page → customer's X clipboard: %v (xclip polled every 100 ms)", time.Since(start).Round(time.Millisecond))

	// Files on: the customer's copy arrives in the page.
	agent.Send("files on")
	agent.Expect(`files=on`, waitTimeout)
	const toSupporter = "Kundennummer: 4711 – äöü ß €"
	var t0 float64
	must(t, p.Eval(`() => performance.now()`, nil, &t0))
	cust.X.Copy(t, toSupporter)
	var at float64
	must(t, p.WaitFunction(`(want) => { const e = window.clipEvents.find((e) => e[1] === want); return e ? e[0] : false; }`, toSupporter, &at, waitTimeout))
	t.Logf("clipboard customer's copy (xclip) → page's clipboard event: %.0f ms", at-t0)
	var shown string
	must(t, p.Eval(`() => document.getElementById('clipboard').value`, nil, &shown))
	if shown != toSupporter {
		t.Errorf("the page's clipboard box shows %q", shown)
	}
	if got := pageGot(); len(got) != 1 {
		t.Errorf("the page got %q; the copy made before Files was on must not go out", got)
	}
}
