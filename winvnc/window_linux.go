//go:build linux

package winvnc

import (
	"image"
	"os"
	"sync"

	"lifebuoy/winvnc/panel"
	"lifebuoy/winvnc/x11"
)

// The customer's window and the arrow on X11, on the agent's own X
// connection (winvnc/x11/panel_linux.go).

func (p *x11Platform) openWindow(title string, size image.Point) (nativeWindow, error) {
	w, err := p.d.NewPanelWindow(title, "lifebuoy", size)
	if err != nil {
		return nil, err
	}
	xw := &x11Window{PanelWindow: w, in: make(chan windowInput, 16), stop: make(chan struct{})}
	go xw.translate()
	return xw, nil
}

func (p *x11Platform) openArrow() (nativeArrow, error) { return p.d.NewOverlay() }
func (p *x11Platform) scale() float64                  { return p.d.ScreenDPI() / 96 }
func (p *x11Platform) lang() panel.Lang                { return panel.LangFromEnv(os.Getenv) }
func (p *x11Platform) screenOffset() image.Point       { return image.Point{} }

// x11Window turns the X window's events into the panel's messages.
type x11Window struct {
	*x11.PanelWindow
	in       chan windowInput
	stop     chan struct{}
	stopOnce sync.Once
}

func (w *x11Window) Input() <-chan windowInput { return w.in }

func (w *x11Window) Close() error {
	w.stopOnce.Do(func() { close(w.stop) })
	return w.PanelWindow.Close()
}

// translate runs until Close: keycodes need the keyboard mapping, which
// the display's event reader may not wait for.
func (w *x11Window) translate() {
	for {
		var ev x11.PanelEvent
		select {
		case ev = <-w.Events():
		case <-w.stop:
			return
		}
		var in windowInput
		switch ev := ev.(type) {
		case x11.PanelPress:
			in.msg = panel.Press{X: ev.X, Y: ev.Y}
		case x11.PanelRelease:
			in.msg = panel.Release{X: ev.X, Y: ev.Y}
		case x11.PanelExpose:
			in.redraw = true
		case x11.PanelClose:
			in.close = true
		case x11.PanelKey:
			k := panelKey(w.Keysym(ev), ev.Shift)
			if k == 0 {
				continue
			}
			in.msg = panel.Key{Key: k}
		}
		select {
		case w.in <- in:
		case <-w.stop:
			return
		}
	}
}

// panelKey is the panel's name of an X keysym, 0 for the others.
func panelKey(ks uint32, shift bool) panel.KeyName {
	switch ks {
	case x11.KeysymTab:
		if shift {
			return panel.KeyBackTab
		}
		return panel.KeyTab
	case x11.KeysymISOLeftTab:
		return panel.KeyBackTab
	case x11.KeysymReturn, x11.KeysymKPEnter:
		return panel.KeyEnter
	case x11.KeysymSpace:
		return panel.KeySpace
	case x11.KeysymEscape:
		return panel.KeyEscape
	}
	return 0
}

var (
	_ windowPlatform = (*x11Platform)(nil)
	_ nativeWindow   = (*x11Window)(nil)
	_ nativeArrow    = (*x11.Overlay)(nil)
)
