package winvnc

import (
	"context"
	"errors"
	"log/slog"
	"time"

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
	// SetActive starts (on) or pauses capture: it runs only while a viewer
	// is connected. Frames counts the captures that changed the
	// framebuffer.
	SetActive(on bool)
	Frames() int64
	// Injector fakes input; nil if the system has none.
	Injector() Injector
	// Hotkeys delivers the keysyms of the customer's global hotkeys (F11,
	// F12) as they are pressed; nil if none could be grabbed.
	Hotkeys() <-chan uint32
	// MissingHotkeys lists the keysyms of the hotkeys that could not be
	// set up (another program holds them), for the customer to be told.
	MissingHotkeys() []uint32
	// Windows lists the top-level windows, bottom first.
	Windows() ([]Window, error)
	// SetFrameHook makes the capture call h around every frame (the
	// application selection); call it before Capture.
	SetFrameHook(h frameHook)
	// Close releases input and restores the keyboard, ungrabs the
	// hotkeys and closes the display. Capture must have returned.
	Close() error
}

// closeWhenCaptured closes ready once frames reports the first capture,
// or gives up when ctx ends.
func closeWhenCaptured(ctx context.Context, frames func() int64, ready chan struct{}) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for frames() == 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
	close(ready)
}

// hotkeyGrabber is a platform's global hotkeys.
type hotkeyGrabber interface {
	GrabKey(keysym uint32) error
	Close() error
}

// grabHotkeys grabs F12 and F11 and returns the keysyms of those it could
// not; when it could grab neither it closes h.
func grabHotkeys(h hotkeyGrabber, log *slog.Logger) (missing []uint32) {
	var errs []error
	for _, ks := range []uint32{KeysymF12, KeysymF11} {
		if err := h.GrabKey(ks); err != nil {
			errs = append(errs, err)
			missing = append(missing, ks)
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		log.Warn("winvnc: hotkey not available", "err", errs[0])
		return missing
	}
	log.Warn("winvnc: F11 and F12 are not available as hotkeys", "err", errors.Join(errs...))
	h.Close()
	return missing
}
