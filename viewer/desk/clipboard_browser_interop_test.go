//go:build interop && linux

package desk_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
	"lifebuoy/viewer/web"
)

// xclipPaste is the CLIPBOARD of x as a pasting program gets it; "" if
// nobody holds it.
func xclipPaste(t *testing.T, x *rfbtest.Xvfb) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := rfbtest.Run(t, ctx, x.Env(), "xclip", "-o", "-selection", "clipboard", "-target", "UTF8_STRING")
	if err != nil {
		return ""
	}
	return out
}

// xclipCopy has xclip own x's CLIPBOARD with text until someone else
// copies.
func xclipCopy(t *testing.T, x *rfbtest.Xvfb, text string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "copy.txt")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p := rfbtest.Start(t, x.Env(), "xclip", "-quiet", "-selection", "clipboard", "-target", "UTF8_STRING", "-i", f)
	t.Cleanup(p.Kill)
}

// poll checks cond every 100 ms for up to d.
func poll(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

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
	xclipCopy(t, cust.X, "customer's secret")
	if poll(2*time.Second, func() bool { return xclipPaste(t, cust.X) == "no control yet" }) {
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
	if !poll(waitTimeout, func() bool { return xclipPaste(t, cust.X) == toCustomer }) {
		t.Fatalf("the customer's clipboard holds %q", xclipPaste(t, cust.X))
	}
	t.Logf("clipboard page → customer's X clipboard: %v (xclip polled every 100 ms)", time.Since(start).Round(time.Millisecond))

	// Files on: the customer's copy arrives in the page.
	agent.Send("files on")
	agent.Expect(`files=on`, waitTimeout)
	const toSupporter = "Kundennummer: 4711 – äöü ß €"
	var t0 float64
	must(t, p.Eval(`() => performance.now()`, nil, &t0))
	xclipCopy(t, cust.X, toSupporter)
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
