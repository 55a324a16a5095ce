package winvnc

import (
	"context"

	"lifebuoy/rfb"
)

// platform is the operating system under the agent: the screen, fake
// input, the customer's hotkeys and the list of windows. platform_linux.go
// has X11; other systems get a stub until their layer is wired.
type platform interface {
	// Framebuffer is the screen as the RFB server shows it.
	Framebuffer() *rfb.Framebuffer
	// Capture copies the screen into the framebuffer until ctx ends.
	Capture(ctx context.Context) error
	// Ready is closed once the framebuffer holds the first whole capture
	// at the screen's size; no viewer is served before.
	Ready() <-chan struct{}
	// Refresh captures the whole screen once more, soon.
	Refresh()
	// Injector fakes input; nil if the system has none.
	Injector() Injector
	// Hotkeys delivers the keysyms of the customer's global hotkeys (F11,
	// F12) as they are pressed; nil if none could be grabbed.
	Hotkeys() <-chan uint32
	// Windows lists the top-level windows, bottom first.
	Windows() ([]Window, error)
	// Close releases input and restores the keyboard, ungrabs the
	// hotkeys and closes the display. Capture must have returned.
	Close() error
}
