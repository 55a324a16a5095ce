//go:build windows

package winvnc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/winvnc/win"
)

// winPlatform is the agent's Windows platform: GDI capture of the virtual
// screen, SendInput and RegisterHotKey (winvnc/win).
type winPlatform struct {
	d       *win.Display
	fb      *rfb.Framebuffer
	cap     *win.Capturer
	in      *win.Injector
	hotkeys *win.Hotkeys // nil if no hotkey could be registered
	ready   chan struct{}
	keys    hotkeyKeys // the keys the hotkeys are
}

// openPlatform opens the desktop; display is ignored on Windows.
func openPlatform(display string, log *slog.Logger) (platform, error) {
	d, err := win.Open(log)
	if err != nil {
		return nil, fmt.Errorf("cannot open the desktop: %w", err)
	}
	p := &winPlatform{d: d, fb: rfb.NewFramebuffer(1, 1), ready: make(chan struct{})}
	p.cap = win.NewCapturer(d, p.fb)
	if p.in, err = win.NewInjector(d); err != nil {
		log.Warn("winvnc: no input injection; the supporter can only watch", "err", err)
		p.in = nil
	}
	if h, err := win.NewHotkeys(d); err != nil {
		log.Warn("winvnc: no global hotkeys", "err", err)
	} else if p.keys = grabHotkeys(h, log); p.keys != (hotkeyKeys{}) {
		p.hotkeys = h
	}
	return p, nil
}

func (p *winPlatform) Framebuffer() *rfb.Framebuffer { return p.fb }
func (p *winPlatform) Ready() <-chan struct{}        { return p.ready }
func (p *winPlatform) Refresh()                      { p.cap.Refresh() }

// Capture runs the capturer, and closes ready after its first frame.
func (p *winPlatform) Capture(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go closeWhenCaptured(ctx, p.cap.Frames, p.ready)
	return p.cap.Run(ctx)
}

func (p *winPlatform) Injector() Injector {
	if p.in == nil {
		return nil // not a typed nil in the interface
	}
	return p.in
}

func (p *winPlatform) Hotkeys() <-chan uint32 {
	if p.hotkeys == nil {
		return nil
	}
	return p.hotkeys.C
}

func (p *winPlatform) SetFrameHook(h frameHook) { p.cap.Hook = h }
func (p *winPlatform) SetActive(on bool)        { p.cap.SetActive(on) }
func (p *winPlatform) Frames() int64            { return p.cap.Frames() }

func (p *winPlatform) HotkeyKeys() hotkeyKeys { return p.keys }

func (p *winPlatform) Windows() ([]Window, error) {
	ws, err := p.d.Windows()
	if err != nil {
		return nil, err
	}
	out := make([]Window, len(ws))
	for i, w := range ws {
		out[i] = Window{ID: w.ID, Title: w.Title, Rect: w.Rect, Stack: w.Stack, Visible: w.Visible, App: w.App}
	}
	return out, nil
}

func (p *winPlatform) Focus() ([]uint32, error) { return p.d.Focus() }

func (p *winPlatform) Close() error {
	var errs []error
	if p.in != nil {
		errs = append(errs, p.in.Close()) // releases every key and button
	}
	if p.hotkeys != nil {
		errs = append(errs, p.hotkeys.Close())
	}
	errs = append(errs, p.d.Close())
	return errors.Join(errs...)
}

var _ platform = (*winPlatform)(nil)

// maskSettle: the screen Windows (and Wine) lets BitBlt read may lag behind
// the window positions, by a composed frame or, with Wine on a loaded
// machine, by hundreds of milliseconds: the places a moved window was seen
// at stay masked this long after it moved (see selection).
const maskSettle = 1500 * time.Millisecond
