//go:build windows

package winvnc

import (
	"image"
	"sync"

	"lifebuoy/winvnc/panel"
	"lifebuoy/winvnc/win"
)

// The customer's window and the arrow on Windows (winvnc/win/panel_windows.go).

func (p *winPlatform) openWindow(title string, size image.Point) (nativeWindow, error) {
	w, err := win.NewPanelWindow(title, size)
	if err != nil {
		return nil, err
	}
	ww := &winWindow{PanelWindow: w, in: make(chan windowInput, 16), stop: make(chan struct{})}
	go ww.translate()
	return ww, nil
}

func (p *winPlatform) openArrow() (nativeArrow, error) { return win.NewOverlay() }
func (p *winPlatform) scale() float64                  { return win.SystemDPI() / 96 }
func (p *winPlatform) lang() panel.Lang                { return panel.LangFromLocale(win.UserLocale()) }
func (p *winPlatform) screenOffset() image.Point       { return win.VirtualScreen().Min }

// winWindow turns the window's events into the panel's messages.
type winWindow struct {
	*win.PanelWindow
	in       chan windowInput
	stop     chan struct{}
	stopOnce sync.Once
}

func (w *winWindow) Input() <-chan windowInput { return w.in }

func (w *winWindow) Close() error {
	w.stopOnce.Do(func() { close(w.stop) })
	return w.PanelWindow.Close()
}

func (w *winWindow) translate() {
	for {
		var ev win.PanelEvent
		select {
		case ev = <-w.Events():
		case <-w.stop:
			return
		}
		var in windowInput
		switch ev := ev.(type) {
		case win.PanelPress:
			in.msg = panel.Press{X: ev.X, Y: ev.Y}
		case win.PanelRelease:
			in.msg = panel.Release{X: ev.X, Y: ev.Y}
		case win.PanelClose:
			in.close = true
		case win.PanelKey:
			var k panel.KeyName
			switch ev.VK {
			case win.VKTab:
				k = panel.KeyTab
				if ev.Shift {
					k = panel.KeyBackTab
				}
			case win.VKReturn:
				k = panel.KeyEnter
			case win.VKSpace:
				k = panel.KeySpace
			case win.VKEscape:
				k = panel.KeyEscape
			}
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

var (
	_ windowPlatform = (*winPlatform)(nil)
	_ nativeWindow   = (*winWindow)(nil)
	_ nativeArrow    = (*win.Overlay)(nil)
)
