//go:build interop && linux

package desk_test

import (
	"image"
	"image/color"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
	"lifebuoy/viewer/web"
)

// desktopPicture is a desktop-like picture with few colours: windows, a
// title bar and glyph-like strokes. The Tight encoder sends such areas as
// Fill and palette rectangles, which are lossless, so the canvas must
// match exactly although noVNC always asks for JPEG quality.
func desktopPicture(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	bg, win, bar, ink := color.RGBA{0x2e, 0x5e, 0x8e, 0xff}, color.RGBA{0xf4, 0xf4, 0xf0, 0xff}, color.RGBA{0x30, 0x30, 0x38, 0xff}, color.RGBA{0x10, 0x10, 0x10, 0xff}
	for y := range h {
		for x := range w {
			c := bg
			if x >= w/8 && x < w*3/4 && y >= h/6 && y < h*5/6 {
				c = win
				if y < h/6+14 {
					c = bar
				} else if (x/6+y/9)%5 != 0 && (x%6) < 4 && (y%9) > 2 && (y%9) < 8 && (x*7+y*3)%11 < 6 {
					c = ink
				}
			}
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

// signIn opens the console in a new page and signs in.
func signIn(t *testing.T, b *rfbtest.Browser, env *desktest.Env, user string) *rfbtest.Page {
	t.Helper()
	p, err := b.NewPage(rfbtest.PageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if status, err := p.Goto(env.URL + "/"); err != nil || status != 200 {
		t.Fatalf("console: %d %v", status, err)
	}
	must(t, p.Fill("User name", user))
	must(t, p.Fill("Password", desktest.Password))
	must(t, p.Click("button", "Sign in"))
	must(t, p.WaitText("New session code", 30*time.Second))
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The browser viewer with a picture-serving agent: sign in, "New session
// code", the agent presents it, the customer is told who it is, and the
// canvas shows the agent's picture exactly. Anonymous viewers are off:
// the console's cookie on the WebSocket is what lets the page in.
func TestBrowserViewerPicture(t *testing.T) {
	if !web.NoVNCBuilt() {
		t.Fatal("the browser viewer was not built: run make web")
	}
	env := desktest.Start(t, desktest.Options{Config: func(c *broker.Config) { c.AnonymousViewers = false }})
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	b := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{TrustSPKI: []string{env.SPKIHash()}})
	p := signIn(t, b, env, "anna")
	must(t, p.Click("button", "New session code"))
	var code string
	must(t, p.WaitFunction(`() => document.body.dataset.code`, nil, &code, 30*time.Second))
	must(t, p.WaitText("Waiting for the customer…", 30*time.Second))

	img := desktopPicture(320, 200)
	agent := env.StartAgent(t, code, img)
	select {
	case in := <-agent.Incoming:
		if got := in.Who(); got != "Anna Berger (Acme Support)" {
			t.Fatalf("the customer is told %q", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no viewer reached the agent; page logs: %q", p.Logs())
	}
	must(t, p.WaitText("Connected", 20*time.Second))
	deadline := time.Now().Add(20 * time.Second)
	for {
		shot, err := p.CanvasImage("#screen canvas")
		if err == nil && shot.Bounds().Dx() == 320 {
			if n, _, d := rfbtest.Diff(shot, img); n == 0 {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("canvas differs: %s", d)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("canvas: %v (logs %q)", err, p.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := env.WaitSession(t, code, 10*time.Second, func(s broker.SessionInfo) bool { return s.State == "relaying" })
	if s.Supporter.Account != "anna" || s.Path != "wss" {
		t.Fatalf("session %+v", s)
	}
	for _, l := range p.Logs() {
		if strings.Contains(l, "Content Security Policy") || strings.Contains(l, "Refused") {
			t.Errorf("browser: %s", l)
		}
	}
}
