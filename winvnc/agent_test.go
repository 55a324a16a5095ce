package winvnc

import (
	"context"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebuoy/rfb"
)

// fakePlatform is a still picture with a recording injector, hotkeys the
// test presses and a fixed list of windows.
type fakePlatform struct {
	fb      *rfb.Framebuffer
	src     *rfb.Image
	ready   chan struct{}
	hotkeys chan uint32
	keys    hotkeyKeys
	windows []Window
	focus   []uint32
	refresh chan struct{}

	mu     sync.Mutex
	in     recorder
	closed bool
	active []bool // SetActive's calls
	frames int64
}

func newFakePlatform(w, h int) *fakePlatform {
	src := rfb.NewImage(w, h)
	for y := range h {
		for x := range w {
			src.Pix[y*src.Stride+x*4] = byte(x)
			src.Pix[y*src.Stride+x*4+1] = byte(y)
			src.Pix[y*src.Stride+x*4+2] = byte(x + y)
		}
	}
	return &fakePlatform{fb: rfb.NewFramebuffer(1, 1), src: src, ready: make(chan struct{}),
		hotkeys: make(chan uint32, 1), refresh: make(chan struct{}, 1), keys: hotkeyKeys{KeysymF12, KeysymF11}}
}

func (p *fakePlatform) Framebuffer() *rfb.Framebuffer { return p.fb }
func (p *fakePlatform) Ready() <-chan struct{}        { return p.ready }
func (p *fakePlatform) Hotkeys() <-chan uint32        { return p.hotkeys }
func (p *fakePlatform) HotkeyKeys() hotkeyKeys        { return p.keys }
func (p *fakePlatform) SetFrameHook(frameHook)        {}

func (p *fakePlatform) SetActive(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active = append(p.active, on)
	if on {
		p.frames++
	}
}

func (p *fakePlatform) Frames() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frames
}
func (p *fakePlatform) Injector() Injector         { return p }
func (p *fakePlatform) Windows() ([]Window, error) { return p.windows, nil }
func (p *fakePlatform) Focus() ([]uint32, error)   { return p.focus, nil }

func (p *fakePlatform) Refresh() {
	select {
	case p.refresh <- struct{}{}:
	default:
	}
}

// Capture shows the picture, and again on each Refresh.
func (p *fakePlatform) Capture(ctx context.Context) error {
	p.fb.SetImage(p.src)
	close(p.ready)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.refresh:
			p.fb.Update(func(img *rfb.Image) []image.Rectangle {
				img.DrawImage(image.Point{}, p.src, p.src.Bounds())
				return []image.Rectangle{img.Bounds()}
			})
		}
	}
}

func (p *fakePlatform) Key(ev rfb.KeyEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.in.Key(ev)
}

func (p *fakePlatform) Pointer(ev rfb.PointerEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.in.Pointer(ev)
}

func (p *fakePlatform) ReleaseAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.in.ReleaseAll()
}

func (p *fakePlatform) keyCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.in.keys)
}

func (p *fakePlatform) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

func withFake(p *fakePlatform) func(string, *slog.Logger) (platform, error) {
	return func(string, *slog.Logger) (platform, error) { return p, nil }
}

// The agent's loop through a real broker, without X: consent, view-only,
// control, F12, the application mask, and end.
func TestAgentThroughBroker(t *testing.T) {
	p := newFakePlatform(64, 48)
	p.windows = []Window{
		{ID: 1, Title: "under", Rect: image.Rect(0, 0, 40, 30), Stack: 0, Visible: true, App: true},
		{ID: 2, Title: "over", Rect: image.Rect(30, 20, 60, 40), Stack: 1, Visible: true, App: true},
		{ID: 3, Title: "", Rect: image.Rect(0, 44, 64, 48), Stack: 2, Visible: true}, // a taskbar
	}
	tb := startBroker(t)
	a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", openPlatform: withFake(p)})
	code := a.expect(`^code (\d{6})$`)[1]

	ch := dialViewer(t, tb.viewerAddr, code)
	a.expect(`^prompt Allow an unidentified viewer at 127\.0\.0\.1:\d+ to see your screen\? \[y/n\]$`)
	a.send("y")
	v := mustViewer(t, ch)
	v.syncTo("the picture", same(p.src))

	v.c.KeyEvent(true, 'a')
	v.c.KeyEvent(false, 'a')
	waitFor(t, "two dropped key events", func() bool {
		a.send("status")
		return a.expect(`^rights .*$`)[0] == "rights control=off files=off dropped=2"
	})

	a.send("control on")
	a.expect(`^rights control=on `)
	v.c.KeyEvent(true, 'b')
	v.c.KeyEvent(false, 'b')
	v.c.KeyEvent(true, KeysymF12) // never passes
	waitFor(t, "the keys", func() bool { return p.keyCount() == 2 })
	p.hotkeys <- KeysymF12
	a.expect(`^rights control=off `)

	// Share window 2 (listed first: topmost first) and window 1's
	// uncovered part is masked too.
	a.send("windows")
	a.expect(`^window 1 "over" 30x20\+30\+20$`)
	a.expect(`^window 2 "under" 40x30\+0\+0$`)
	a.send("share 1")
	a.expect(`^say Sharing only "over"`)
	v.syncTo("the mask", func(fb *rfb.Image) (bool, string) {
		for y := range fb.H {
			for x := range fb.W {
				want := MaskColor(x, y)
				if image.Pt(x, y).In(image.Rect(30, 20, 60, 40)) {
					want = p.src.RGB(x, y)
				}
				if got := fb.RGB(x, y); got != want {
					return false, fmt.Sprintf("pixel (%d,%d) is %06x, want %06x", x, y, got, want)
				}
			}
		}
		return true, ""
	})
	a.send("share all")
	v.syncTo("the picture again", same(p.src))

	a.send("end")
	a.expect(`^state ended You ended the session`)
	if err := a.wait(); err != nil {
		t.Fatal(err)
	}
	if !p.closed {
		t.Error("the platform was not closed")
	}
}

// "n" declines with the reason; no screen is shown, and as the broker
// spends the code, the agent ends.
func TestAgentDecline(t *testing.T) {
	p := newFakePlatform(16, 16)
	tb := startBroker(t)
	a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", openPlatform: withFake(p)})
	code := a.expect(`^code (\d{6})$`)[1]
	ch := dialViewer(t, tb.viewerAddr, code)
	a.expect(`^prompt `)
	a.send("n")
	r := <-ch
	err, ok := r.(error)
	if !ok || !strings.Contains(err.Error(), "the customer declined") {
		t.Fatalf("viewer: %v, want a refusal with the reason", r)
	}
	a.expect(`^state waiting You declined`)
	a.expect(`^state ended The code is used up`)
	if err := a.wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// A wrong fingerprint is the customer's error to see.
func TestAgentWrongFingerprint(t *testing.T) {
	p := newFakePlatform(16, 16)
	tb := startBroker(t)
	a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: strings.Repeat("00", 32), Proxy: "direct", openPlatform: withFake(p)})
	err := a.wait()
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Run: %v, want a certificate mismatch", err)
	}
}

func same(want *rfb.Image) func(fb *rfb.Image) (bool, string) {
	return func(fb *rfb.Image) (bool, string) {
		if fb.W != want.W || fb.H != want.H {
			return false, fmt.Sprintf("size %dx%d", fb.W, fb.H)
		}
		for y := range fb.H {
			for x := range fb.W {
				if fb.RGB(x, y) != want.RGB(x, y) {
					return false, fmt.Sprintf("pixel (%d,%d) is %06x, want %06x", x, y, fb.RGB(x, y), want.RGB(x, y))
				}
			}
		}
		return true, ""
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Hotkeys that could not be set up (another program holds them) are not
// promised: the customer is told at the start which key works instead, if
// any, and granting control names it, or "control off"; the substitute
// takes control back.
func TestAgentMissingHotkeys(t *testing.T) {
	for _, tc := range []struct {
		keys hotkeyKeys
		told string
		back string
	}{
		{hotkeyKeys{KeysymF12, KeysymF11}, "", "Press F12 to take control back."},
		{hotkeyKeys{KeysymPause, KeysymF11}, "F12 is held by another program on this computer: press Pause", "Press Pause to take control back."},
		{hotkeyKeys{0, KeysymF11}, "F12 cannot take control back", `Type "control off" to take control back.`},
		{hotkeyKeys{}, "F11 cannot switch file transfer", `Type "control off" to take control back.`},
	} {
		p := newFakePlatform(16, 16)
		p.keys = tc.keys
		a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, "pw"), openPlatform: withFake(p)})
		if tc.told != "" {
			a.expect(`^say ` + regexp.QuoteMeta(tc.told))
		}
		addr := a.expect(`^state waiting Listening on (\S+);`)[1]
		ch := dialViewer(t, addr, "pw")
		a.expect(`^prompt `)
		a.send("y")
		mustViewer(t, ch)
		a.send("control on")
		m := a.expect(`^say The supporter may now control your computer\. (.*)$`)
		if m[1] != tc.back {
			t.Errorf("keys %x: %q, want %q", tc.keys, m[1], tc.back)
		}
		if tc.keys.Revoke != 0 {
			p.hotkeys <- tc.keys.Revoke
			a.expect(`^rights control=off `)
		}
		a.send("end")
		a.wait()
		if tc.told == "" && slices.ContainsFunc(a.out.all, func(l string) bool { return strings.Contains(l, "another program") }) {
			t.Errorf("keys %x: the customer was told a key is held", tc.keys)
		}
	}
}

func writePassword(t *testing.T, pw string) string {
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// Capture runs only while a viewer is served: paused once the first frame
// is in, resumed for the viewer, paused again when it leaves.
func TestAgentCapturesOnlyForViewers(t *testing.T) {
	p := newFakePlatform(16, 16)
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, "pw"), openPlatform: withFake(p)})
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	calls := func() []bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Clone(p.active)
	}
	if got := calls(); !slices.Equal(got, []bool{false}) {
		t.Fatalf("before any viewer: SetActive calls %v, want [false]", got)
	}
	ch := dialViewer(t, addr, "pw")
	a.expect(`^prompt `)
	a.send("y")
	v := mustViewer(t, ch)
	v.syncTo("the picture", same(p.src))
	if got := calls(); !slices.Equal(got, []bool{false, true}) {
		t.Fatalf("with a viewer: SetActive calls %v, want [false true]", got)
	}
	v.c.Close()
	a.expect(`^state waiting .* disconnected`)
	if got := calls(); !slices.Equal(got, []bool{false, true, false}) {
		t.Fatalf("after the viewer left: SetActive calls %v, want [false true false]", got)
	}
}

// Direct mode refuses a password longer than VNC Authentication's 8
// bytes rather than use only its start without a word.
func TestDirectModeLongPassword(t *testing.T) {
	p := newFakePlatform(16, 16)
	for pw, ok := range map[string]bool{"12345678": true, "123456789": false, "pässwört": false} {
		cfg := Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, pw), openPlatform: withFake(p), UI: NewTerminal(strings.NewReader(""), io.Discard)}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := Run(ctx, cfg)
		cancel()
		if ok && err != nil || !ok && (err == nil || !strings.Contains(err.Error(), "only the first 8")) {
			t.Errorf("password %q: %v", pw, err)
		}
	}
}

// Direct mode: control belongs to the viewer it was granted to. A viewer
// who comes later only sees and is named; its input is dropped; when the
// viewer with control leaves, control ends, and the customer is told who
// still sees the screen; control granted again goes to that viewer.
func TestDirectModeControlPerViewer(t *testing.T) {
	p := newFakePlatform(16, 16)
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, "pw"), openPlatform: withFake(p)})
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	a.send("control on")
	a.expect(`^say Nobody is connected`)

	connect := func() (*viewer, string) {
		ch := dialViewer(t, addr, "pw")
		name := a.expect(`^prompt Allow (\S+) to see your screen\?`)[1]
		a.send("y")
		v := mustViewer(t, ch)
		v.syncTo("the picture", same(p.src))
		return v, name
	}
	first, firstName := connect()
	a.send("control on")
	a.expect(`^say ` + regexp.QuoteMeta(firstName) + ` gets remote control`)
	a.expect(`^rights control=on `)
	second, secondName := connect()
	a.expect(`^say ` + regexp.QuoteMeta(secondName) + ` sees your screen too, without control: remote control stays with ` + regexp.QuoteMeta(firstName))

	second.c.KeyEvent(true, 'x')
	second.c.KeyEvent(false, 'x')
	first.c.KeyEvent(true, 'a')
	first.c.KeyEvent(false, 'a')
	waitFor(t, "the first viewer's key", func() bool { return p.keyCount() == 2 })
	p.mu.Lock()
	for _, k := range p.in.keys {
		if k.Keysym != 'a' {
			t.Errorf("the second viewer's key %#x reached the injector", k.Keysym)
		}
	}
	p.mu.Unlock()

	first.c.Close()
	a.expect(`^say ` + regexp.QuoteMeta(firstName) + ` left; remote control ended\.`)
	a.expect(`^state sharing ` + regexp.QuoteMeta(firstName) + ` disconnected; ` + regexp.QuoteMeta(secondName) + ` still sees your screen\.`)
	a.send("status")
	a.expect(`^rights control=off `)
	a.send("control on")
	a.expect(`^say ` + regexp.QuoteMeta(secondName) + ` gets remote control`)
	a.expect(`^rights control=on `) // the grant comes after the message
	second.c.KeyEvent(true, 'b')
	second.c.KeyEvent(false, 'b')
	waitFor(t, "the second viewer's key", func() bool { return p.keyCount() == 4 })
}
