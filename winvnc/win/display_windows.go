//go:build windows

package win

import (
	"fmt"
	"image"
	"log/slog"
)

// Display is the interactive desktop of the session the agent runs in.
// It holds no connection: it exists so that this package's API has the
// shape of the X11 layer's (x11.Open, NewCapturer(d, fb), NewInjector(d),
// NewHotkeys(d), d.Windows()).
type Display struct {
	log *slog.Logger
}

// Open loads user32 and gdi32 and makes the process DPI aware (per
// monitor, v2 where Windows has it), which must happen before any window
// or screen metric is used: otherwise Windows scales both the captured
// screen and the injected coordinates. The agent's manifest may declare
// the same; then the call is a no-op.
func Open(logger *slog.Logger) (*Display, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, dll := range []interface{ Load() error }{user32, gdi32} {
		if err := dll.Load(); err != nil {
			return nil, fmt.Errorf("win: %w", err)
		}
	}
	if err := setDPIAware(); err != nil {
		logger.Warn("win: not DPI aware; capture and pointer may be scaled", "err", err)
	}
	return &Display{log: logger}, nil
}

// Close does nothing; it is there for the shape of the API.
func (d *Display) Close() error { return nil }

// Screen returns the virtual screen (the bounding box of all monitors) in
// screen coordinates. Its origin is negative when a monitor lies left of
// or above the primary one. The framebuffer's (0, 0) is its top left.
func (d *Display) Screen() image.Rectangle { return virtualScreen() }

func virtualScreen() image.Rectangle {
	x, y := getSystemMetrics(smXVirtualScreen), getSystemMetrics(smYVirtualScreen)
	w, h := getSystemMetrics(smCXVirtualScreen), getSystemMetrics(smCYVirtualScreen)
	return image.Rect(x, y, x+w, y+h)
}
