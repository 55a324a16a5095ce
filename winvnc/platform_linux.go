//go:build linux

package winvnc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"lifebuoy/rfb"
	"lifebuoy/winvnc/x11"
)

// x11Platform is the agent's Linux platform: one X connection for
// capture, input, hotkeys and windows.
type x11Platform struct {
	d       *x11.Display
	fb      *rfb.Framebuffer
	cap     *x11.Capturer
	in      *x11.Injector // nil without XTEST
	hotkeys *x11.Hotkeys  // nil if no hotkey could be grabbed
	ready   chan struct{}
	keys    hotkeyKeys // the keys the hotkeys are
}

func openPlatform(display string, log *slog.Logger) (platform, error) {
	d, err := x11.Open(display, log)
	if err != nil {
		return nil, fmt.Errorf("cannot open the X display: %w", err)
	}
	p := &x11Platform{d: d, fb: rfb.NewFramebuffer(1, 1), ready: make(chan struct{})}
	p.cap = x11.NewCapturer(d, p.fb)
	if p.in, err = x11.NewInjector(d); err != nil {
		// View-only works without XTEST; control cannot be granted.
		log.Warn("winvnc: no input injection; the supporter can only watch", "err", err)
		p.in = nil
	}
	if h, err := x11.NewHotkeys(d); err != nil {
		log.Warn("winvnc: no global hotkeys", "err", err)
	} else if p.keys = grabHotkeys(h, log); p.keys != (hotkeyKeys{}) {
		p.hotkeys = h
	}
	return p, nil
}

func (p *x11Platform) Framebuffer() *rfb.Framebuffer { return p.fb }
func (p *x11Platform) Ready() <-chan struct{}        { return p.ready }

// Capture runs the capturer, and closes ready after its first frame.
func (p *x11Platform) Capture(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go closeWhenCaptured(ctx, p.cap.Frames, p.ready)
	return p.cap.Run(ctx)
}
func (p *x11Platform) Refresh() { p.cap.Refresh() }

func (p *x11Platform) Injector() Injector {
	if p.in == nil {
		return nil // not a typed nil in the interface
	}
	return p.in
}

func (p *x11Platform) Hotkeys() <-chan uint32 {
	if p.hotkeys == nil {
		return nil
	}
	return p.hotkeys.C
}

func (p *x11Platform) SetFrameHook(h frameHook) { p.cap.Hook = h }
func (p *x11Platform) SetActive(on bool)        { p.cap.SetActive(on) }
func (p *x11Platform) Frames() int64            { return p.cap.Frames() }

func (p *x11Platform) HotkeyKeys() hotkeyKeys { return p.keys }

func (p *x11Platform) Windows() ([]Window, error) {
	xs, err := p.d.Windows()
	if err != nil {
		return nil, err
	}
	ws := make([]Window, len(xs))
	for i, x := range xs {
		ws[i] = Window{ID: x.ID, Title: x.Title, Rect: x.Rect, Stack: x.Stack, Visible: x.Map == x11.Viewable, App: x.App}
	}
	return ws, nil
}

func (p *x11Platform) Focus() ([]uint32, error) { return p.d.Focus() }

func (p *x11Platform) Close() error {
	var errs []error
	if p.in != nil {
		errs = append(errs, p.in.Close()) // releases keys, restores the keymap
	}
	if p.hotkeys != nil {
		errs = append(errs, p.hotkeys.Close())
	}
	errs = append(errs, p.d.Close())
	return errors.Join(errs...)
}

var _ platform = (*x11Platform)(nil)

// maskSettle: X11 reads pixels with the server grabbed (x11.FrameHook), so
// the layout and the pixels are of one moment.
const maskSettle = 0
