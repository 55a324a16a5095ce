//go:build linux

package winvnc

import (
	"image"
	"os"

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
	return newInputWindow(w, func(ev x11.PanelEvent) (windowInput, bool) { return x11Input(w, ev) }), nil
}

func (p *x11Platform) openArrow() (nativeArrow, error) { return p.d.NewOverlay() }
func (p *x11Platform) scale() float64                  { return p.d.ScreenDPI() / 96 }
func (p *x11Platform) lang() panel.Lang                { return panel.LangFromEnv(os.Getenv) }
func (p *x11Platform) screenOffset() image.Point       { return image.Point{} }

// x11Input is the panel's reading of an X event of the window w.
func x11Input(w *x11.PanelWindow, ev x11.PanelEvent) (windowInput, bool) {
	switch ev := ev.(type) {
	case x11.PanelPress:
		return windowInput{msg: panel.Press{X: ev.X, Y: ev.Y}}, true
	case x11.PanelRelease:
		return windowInput{msg: panel.Release{X: ev.X, Y: ev.Y}}, true
	case x11.PanelExpose:
		return windowInput{redraw: true}, true
	case x11.PanelClose:
		return windowInput{close: true}, true
	case x11.PanelKey:
		if k := panelKey(w.Keysym(ev), ev.Shift); k != 0 {
			return windowInput{msg: panel.Key{Key: k}}, true
		}
	}
	return windowInput{}, false
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
	_ nativeWindow   = (*inputWindow[x11.PanelEvent])(nil)
	_ nativeArrow    = (*x11.Overlay)(nil)
)
