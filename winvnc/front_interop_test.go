//go:build interop && linux

package winvnc

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb/rfbtest"
)

// novncDesk serves npm's noVNC and a page that opens
// wss://<this host>/rfb with the code in the query, as the console's
// viewer page will; the page keeps noVNC's events for the test.
type novncDesk struct{ modules string }

const novncPage = `<!doctype html><meta charset=utf-8><title>viewer</title>
<div id=screen></div>
<script type=module>
import RFB from '/novnc/core/rfb.js';
const q = new URLSearchParams(location.search);
const code = q.get('code');
const url = q.get('ws') || 'wss://' + location.host + '/rfb';
window.events = [];
const rfb = new RFB(document.getElementById('screen'), url, { credentials: { password: code } });
rfb.addEventListener('connect', () => events.push('connect'));
rfb.addEventListener('disconnect', (e) => events.push('disconnect'));
rfb.addEventListener('securityfailure', (e) => events.push('securityfailure: ' + e.detail.reason));
window.rfb = rfb;
</script>`

func (d novncDesk) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/novnc/", http.StripPrefix("/novnc/", http.FileServer(http.Dir(filepath.Join(d.modules, "@novnc", "novnc")))))
	mux.HandleFunc("/viewer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, novncPage)
	})
	return mux
}

func (novncDesk) Identify(*http.Request) (broker.Supporter, bool) { return broker.Supporter{}, false }

// spkiHash is the base64 SHA-256 of a certificate's public key, which
// Chromium's --ignore-certificate-errors-spki-list takes: the browser
// trusts the broker's self-signed certificate and nothing else unusual.
func spkiHash(t *testing.T, der []byte) string {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(h[:])
}

// noVNC 1.7 from npm in Chromium, through the broker's HTTPS front
// (wss://…/rfb), shows the agent's Xvfb screen pixel for pixel: customer
// first, supporter first (noVNC waits for the agent), and a wrong code
// refused with words a person understands.
func TestInteropNoVNCThroughFront(t *testing.T) {
	rfbtest.LookPath(t, "xsetroot", "xterm", "xdotool")
	x := rfbtest.StartXvfb(t, 400, 240, 24)
	xrun(t, x, "xsetroot", "-solid", "#336699")
	startXterm(t, x, "novnc", "30x6+20+20", filepath.Join(t.TempDir(), "out.txt"))
	tb := startBroker(t)
	tb.SetDesk(novncDesk{modules: rfbtest.NodeModules(t)})
	_, port, _ := net.SplitHostPort(tb.httpsAddr)
	origin := "https://localhost:" + port

	br := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{TrustSPKI: []string{spkiHash(t, tb.Certificate().Certificate[0])}})
	open := func(code string) *rfbtest.Page {
		t.Helper()
		p, err := br.NewPage(rfbtest.PageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("page console: %s", strings.Join(p.Logs(), "\n"))
			}
		})
		if status, err := p.Goto(origin + "/viewer?code=" + code); err != nil || status != 200 {
			t.Fatalf("viewer page: %d %v", status, err)
		}
		return p
	}
	// screenMatches waits until noVNC's canvas equals the X screen.
	screenMatches := func(p *rfbtest.Page) {
		t.Helper()
		detail := ""
		for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			got, err := p.CanvasImage("#screen canvas")
			if err != nil {
				detail = err.Error()
				continue
			}
			want, err := x.Capture()
			if err != nil {
				t.Fatal(err)
			}
			var n int
			n, _, detail = rfbtest.Diff(got, want)
			if n == 0 && got.Bounds().Size() == want.Bounds().Size() {
				return
			}
		}
		t.Fatalf("noVNC's canvas never matched the screen: %s", detail)
	}
	waitEvent := func(p *rfbtest.Page, prefix string) string {
		t.Helper()
		var ev string
		err := p.WaitFunction(`(prefix) => window.events && window.events.find((e) => e.startsWith(prefix))`, prefix, &ev, waitTimeout)
		if err != nil {
			var evs []string
			p.Eval(`() => window.events`, nil, &evs)
			t.Fatalf("no %q event from noVNC (events %q): %v", prefix, evs, err)
		}
		return ev
	}

	t.Run("customer first", func(t *testing.T) {
		a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", Display: x.Display})
		code := a.expect(`^code (\d{6})$`)[1]
		p := open(code)
		a.expect(`^prompt Allow an unidentified viewer at 127\.0\.0\.1:\d+ to see your screen\?`)
		a.send("y")
		waitEvent(p, "connect")
		screenMatches(p)
		a.send("end")
		if err := a.wait(); err != nil {
			t.Fatal(err)
		}
		waitEvent(p, "disconnect")
	})

	t.Run("supporter first", func(t *testing.T) {
		code, _, err := tb.IssueCode(broker.Supporter{})
		if err != nil {
			t.Fatal(err)
		}
		p := open(code)
		time.Sleep(time.Second) // noVNC waits for its SecurityResult meanwhile
		a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct",
			Code: code, Display: x.Display})
		a.expect(`^prompt Allow an unidentified viewer at 127\.0\.0\.1:\d+ to see your screen\?`)
		a.send("y")
		waitEvent(p, "connect")
		screenMatches(p)
		a.send("end")
		if err := a.wait(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("5511 through websockify", func(t *testing.T) {
		// Debian's websockify in front of the stock-viewer port: noVNC
		// takes VeNCrypt from the broker's list and VNC Authentication
		// inside it (loopback may use plain VNC Authentication).
		rfbtest.LookPath(t, "websockify")
		wsPort := rfbtest.FreePort(t)
		_, vport, _ := net.SplitHostPort(tb.viewerAddr)
		rfbtest.Start(t, nil, "websockify", fmt.Sprintf("127.0.0.1:%d", wsPort), "127.0.0.1:"+vport)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rfbtest.WaitListening(ctx, wsPort); err != nil {
			t.Fatal(err)
		}
		a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", Display: x.Display})
		code := a.expect(`^code (\d{6})$`)[1]
		p := open(code + fmt.Sprintf("&ws=ws://127.0.0.1:%d", wsPort))
		a.expect(`^prompt Allow an unidentified viewer at 127\.0\.0\.1:\d+ to see your screen\?`)
		a.send("y")
		waitEvent(p, "connect")
		screenMatches(p)
		a.send("end")
		if err := a.wait(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong code", func(t *testing.T) {
		p := open("100001")
		ev := waitEvent(p, "securityfailure")
		if !strings.Contains(ev, "wrong, expired or used session code") {
			t.Fatalf("noVNC was told %q", ev)
		}
	})
}
