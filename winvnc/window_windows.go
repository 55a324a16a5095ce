//go:build windows

package winvnc

import (
	"image"

	"lifebuoy/winvnc/panel"
	"lifebuoy/winvnc/win"
)

// The customer's window and the arrow on Windows (winvnc/win/panel_windows.go).

func (p *winPlatform) openWindow(title string, size image.Point) (nativeWindow, error) {
	w, err := win.NewPanelWindow(title, size)
	if err != nil {
		return nil, err
	}
	return newInputWindow(w, winInput), nil
}

func (p *winPlatform) openArrow() (nativeArrow, error) { return win.NewOverlay() }
func (p *winPlatform) scale() float64                  { return win.SystemDPI() / 96 }
func (p *winPlatform) lang() panel.Lang                { return panel.LangFromLocale(win.UserLocale()) }
func (p *winPlatform) screenOffset() image.Point       { return win.VirtualScreen().Min }

// winInput is the panel's reading of a window message.
func winInput(ev win.PanelEvent) (windowInput, bool) {
	switch ev := ev.(type) {
	case win.PanelPress:
		return windowInput{msg: panel.Press{X: ev.X, Y: ev.Y}}, true
	case win.PanelRelease:
		return windowInput{msg: panel.Release{X: ev.X, Y: ev.Y}}, true
	case win.PanelClose:
		return windowInput{close: true}, true
	case win.PanelKey:
		if k := panelVK(ev.VK, ev.Shift); k != 0 {
			return windowInput{msg: panel.Key{Key: k}}, true
		}
	}
	return windowInput{}, false
}

// panelVK is the panel's name of a virtual key, 0 for the others.
func panelVK(vk uint16, shift bool) panel.KeyName {
	switch vk {
	case win.VKTab:
		if shift {
			return panel.KeyBackTab
		}
		return panel.KeyTab
	case win.VKReturn:
		return panel.KeyEnter
	case win.VKSpace:
		return panel.KeySpace
	case win.VKEscape:
		return panel.KeyEscape
	}
	return 0
}

var (
	_ windowPlatform = (*winPlatform)(nil)
	_ nativeWindow   = (*inputWindow[win.PanelEvent])(nil)
	_ nativeArrow    = (*win.Overlay)(nil)
)
