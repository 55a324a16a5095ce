//go:build interop && linux

package desk_test

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
)

// pageWeight sums what the page's document and resources took on the
// wire (Resource Timing's transferSize, headers included) and counts the
// requests.
const pageWeight = `() => {
	const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
	return { Bytes: all.reduce((n, e) => n + e.transferSize, 0), Body: all.reduce((n, e) => n + e.decodedBodySize, 0), Requests: all.length };
}`

type weight struct{ Bytes, Body, Requests int }

// BenchmarkConsolePageWeight loads the console's home page and the
// session page (which brings noVNC) in Chromium with an empty cache and
// reports what each took on the wire. Run with -benchtime 1x.
func BenchmarkConsolePageWeight(b *testing.B) {
	env := desktest.Start(b, desktest.Options{Log: slog.New(slog.DiscardHandler)})
	env.AddAccount(b, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	br := rfbtest.StartBrowser(b, rfbtest.BrowserOptions{TrustSPKI: []string{env.SPKIHash()}})
	var home, session, signin weight
	for i := 0; i < b.N; i++ {
		p, err := br.NewPage(rfbtest.PageOptions{}) // a new context: an empty cache
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Goto(env.URL + "/signin"); err != nil {
			b.Fatal(err)
		}
		if err := p.Eval(pageWeight, nil, &signin); err != nil {
			b.Fatal(err)
		}
		p.Fill("User name", "anna")
		p.Fill("Password", desktest.Password)
		if err := p.Click("button", "Sign in"); err != nil {
			b.Fatal(err)
		}
		if err := p.WaitText("New session code", 30*time.Second); err != nil {
			b.Fatal(err)
		}
		if err := p.Eval(pageWeight, nil, &home); err != nil {
			b.Fatal(err)
		}
		if err := p.Click("button", "New session code"); err != nil {
			b.Fatal(err)
		}
		if err := p.WaitFunction(`() => window.lifebuoyRFB`, nil, nil, 30*time.Second); err != nil {
			b.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // the modules' imports settle
		if err := p.Eval(pageWeight, nil, &session); err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
	kib := func(n int) float64 { return float64(n) / 1024 }
	// Body: every file the page uses, cached or not; wire: what this
	// load fetched (the style sheet comes from the cache after sign-in).
	b.ReportMetric(kib(signin.Body), "signin-KiB")
	b.ReportMetric(kib(home.Body), "home-KiB")
	b.ReportMetric(kib(home.Bytes), "home-wire-KiB")
	b.ReportMetric(float64(home.Requests), "home-requests")
	b.ReportMetric(kib(session.Body), "session-KiB")
	b.ReportMetric(kib(session.Bytes), "session-wire-KiB")
	b.ReportMetric(float64(session.Requests), "session-requests")
}

// BenchmarkTimeToFirstPixel measures, for b.N sessions in turn, the time
// from the navigation to the session page (the customer's agent is
// waiting with its code; it consents at once) until the customer's
// screen is on noVNC's canvas, as the page's own clock sees it (polled
// each animation frame), with the medians of two steps on the way: the
// page's DOMContentLoaded and noVNC's "connect" (the broker's
// SecurityResult, after the agent's consent). The browser's cache is warm after the first
// session, as at a supporter's desk. Run with -benchtime 20x.
func BenchmarkTimeToFirstPixel(b *testing.B) {
	env := desktest.Start(b, desktest.Options{Log: slog.New(slog.DiscardHandler)})
	env.AddAccount(b, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	br := rfbtest.StartBrowser(b, rfbtest.BrowserOptions{TrustSPKI: []string{env.SPKIHash()}})
	p, err := br.NewPage(rfbtest.PageOptions{})
	if err != nil {
		b.Fatal(err)
	}
	p.Goto(env.URL + "/signin")
	p.Fill("User name", "anna")
	p.Fill("Password", desktest.Password)
	p.Click("button", "Sign in")
	if err := p.WaitText("New session code", 30*time.Second); err != nil {
		b.Fatal(err)
	}
	img := desktopPicture(320, 200)
	probe := img.RGBAAt(160, 100)
	var ms, ready, connect []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := env.StartAgent(b, "", img)
		if _, err := p.Goto(env.URL + "/session/" + a.Link.Code()); err != nil {
			b.Fatal(err)
		}
		var at float64
		err := p.WaitFunction(`(w) => {
			const c = document.querySelector('#screen canvas');
			if (!c || c.width !== 320) return false;
			const d = c.getContext('2d').getImageData(160, 100, 1, 1).data;
			return d[0] === w.R && d[1] === w.G && d[2] === w.B && performance.now();
		}`, map[string]uint8{"R": probe.R, "G": probe.G, "B": probe.B}, &at, 20*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		ms = append(ms, at)
		var steps struct{ Ready, Connect float64 }
		p.Eval(`() => ({ Ready: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd, Connect: window.lifebuoyTimes.connect })`, nil, &steps)
		ready = append(ready, steps.Ready)
		connect = append(connect, steps.Connect)
	}
	b.StopTimer()
	slices.Sort(ms)
	slices.Sort(ready)
	slices.Sort(connect)
	b.ReportMetric(ms[len(ms)/2], "median-ms")
	b.ReportMetric(ready[len(ready)/2], "page-ready-median-ms")
	b.ReportMetric(connect[len(connect)/2], "rfb-connect-median-ms")
	b.ReportMetric(ms[int(float64(len(ms)-1)*0.9)], "p90-ms")
	b.ReportMetric(ms[0], "min-ms")
}
