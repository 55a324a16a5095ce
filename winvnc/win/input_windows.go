//go:build windows

package win

import (
	"errors"
	"fmt"
	"image"
	"sync"

	"lifebuoy/rfb"
)

// Injector turns RFB key and pointer events into SendInput calls.
//
// Keys: see planKey. Each press remembers what it sent, so the release
// sends the matching events, and ReleaseAll can release everything held.
// A repeated press (a viewer's auto-repeat) sends the same press again.
//
// Pointer: the position is absolute over the virtual screen
// (MOUSEEVENTF_ABSOLUTE|MOUSEEVENTF_VIRTUALDESK, 0..65535); buttons
// follow the changes of the RFB mask (see buttonFlags).
//
// Limits: Windows drops injected input aimed at a window of higher
// integrity (an elevated program) without telling SendInput (UIPI), and
// the secure desktop takes no injected input from a user process. Both
// need the agent to run as SYSTEM in the user's session.
type Injector struct {
	d *Display

	mu     sync.Mutex
	keys   *keyboard
	ptr    pointer
	closed bool

	// The customer's lock toggles (Caps, Num, Scroll Lock) before the
	// supporter's first key; ReleaseAll puts them back (lockRestore).
	locksSaved bool
	locks      uint8
}

// lockState returns the toggle state of lockVKs now.
func lockState() uint8 {
	var s uint8
	for i, vk := range lockVKs {
		if getKeyState(vk)&1 != 0 {
			s |= 1 << i
		}
	}
	return s
}

// NewInjector prepares input injection. It fails if user32 lacks SendInput.
func NewInjector(d *Display) (*Injector, error) {
	if err := procSendInput.Find(); err != nil {
		return nil, fmt.Errorf("win: %w", err)
	}
	keys := newKeyboard(layoutKey, func(vk uint16) uint16 { return uint16(mapVirtualKey(uint32(vk), mapvkVKToVSC)) })
	keys.vkOfScan = func(sc uint16) uint16 { return uint16(mapVirtualKey(uint32(sc), mapvkVSCToVKEx)) }
	return &Injector{d: d, keys: keys}, nil
}

// Key presses or releases the key for ev.Keysym. Errors are logged: an
// RFB client cannot do anything about them.
func (in *Injector) Key(ev rfb.KeyEvent) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return
	}
	if !in.locksSaved {
		in.locks, in.locksSaved = lockState(), true
	}
	events, ok := in.keys.event(ev.Keysym, ev.Keycode, ev.Down)
	err := sendInput(events)
	if !ok {
		err = fmt.Errorf("no key for this keysym")
	}
	if err != nil {
		in.d.log.Warn("win: key", "keysym", fmt.Sprintf("%#x", ev.Keysym), "down", ev.Down, "err", err)
	}
}

// layoutKey returns the virtual key that types r on the customer's
// current layout, if one does with no modifier or with Shift only.
func layoutKey(r rune) (uint16, bool) {
	if r > 0xffff {
		return 0, false
	}
	vk, shift, ok := parseVkKeyScan(vkKeyScan(uint16(r)))
	if !ok || shift&^1 != 0 {
		return 0, false
	}
	return vk, true
}

// Pointer moves the pointer to (X, Y) of the framebuffer, which is the
// virtual screen, and presses or releases buttons as the mask changes.
func (in *Injector) Pointer(ev rfb.PointerEvent) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return
	}
	err := sendInput(in.ptr.event(ev.Buttons, image.Pt(int(ev.X), int(ev.Y)), virtualScreen()))
	if err != nil {
		in.d.log.Warn("win: pointer", "err", err)
	}
}

// ReleaseAll releases every key and button this injector holds down. The
// agent calls it when a client disconnects or loses control, so that no
// key stays pressed.
func (in *Injector) ReleaseAll() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.releaseAll(); err != nil {
		in.d.log.Warn("win: release all", "err", err)
	}
}

// releaseAll sends the key releases as one SendInput call, which Windows
// does not interleave with other input, then the button releases, then
// switches back the locks the supporter switched.
func (in *Injector) releaseAll() error {
	err := errors.Join(sendInput(in.keys.releaseAll()), sendInput(in.ptr.releaseAll()))
	if in.locksSaved {
		in.locksSaved = false
		err = errors.Join(err, sendInput(lockRestore(in.locks, lockState())))
	}
	return err
}

// Close releases everything and stops injecting.
func (in *Injector) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil
	}
	in.closed = true
	return in.releaseAll()
}
