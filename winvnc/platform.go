package winvnc

import (
	"context"
	"errors"
	"fmt"
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
	// HotkeyKeys says which keys the hotkeys are, for the customer to be
	// told where they are not F12 and F11.
	HotkeyKeys() hotkeyKeys
	// Windows lists the top-level windows, bottom first.
	Windows() ([]Window, error)
	// Focus returns the window that has the keyboard focus and the
	// windows it lies in, to be matched against Windows' IDs.
	Focus() ([]uint32, error)
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

// hotkeyKeys are the keys that work as the customer's hotkeys: Revoke
// takes control back (F12, or Pause where another program holds F12),
// Files toggles file transfer (F11); 0 where none could be had.
type hotkeyKeys struct{ Revoke, Files uint32 }

// KeysymPause is the key that takes control back when F12 cannot.
const KeysymPause = 0xff13

// grabHotkeys grabs F12 (or else Pause) and F11 and returns the keys it
// got; when it got none it closes h.
func grabHotkeys(h hotkeyGrabber, log *slog.Logger) (keys hotkeyKeys) {
	if err := h.GrabKey(KeysymF12); err == nil {
		keys.Revoke = KeysymF12
	} else if err2 := h.GrabKey(KeysymPause); err2 == nil {
		log.Warn("winvnc: F12 is held by another program; Pause takes control back", "err", err)
		keys.Revoke = KeysymPause
	} else {
		log.Warn("winvnc: no hotkey takes control back", "err", errors.Join(err, err2))
	}
	if err := h.GrabKey(KeysymF11); err == nil {
		keys.Files = KeysymF11
	} else {
		log.Warn("winvnc: F11 is not available as a hotkey", "err", err)
	}
	if keys == (hotkeyKeys{}) {
		h.Close()
	}
	return keys
}

// keyName names a hotkey's keysym for the customer.
func keyName(ks uint32) string {
	switch ks {
	case KeysymF12:
		return "F12"
	case KeysymF11:
		return "F11"
	case KeysymPause:
		return "Pause"
	}
	return fmt.Sprintf("key %#x", ks)
}
