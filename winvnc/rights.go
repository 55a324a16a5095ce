package winvnc

import (
	"fmt"
	"sync"

	"lifebuoy/rfb"
)

// Keysyms the customer's hotkeys use. A viewer may never send them: the
// X server cannot tell injected keys from the customer's, so an injected
// F12 would fire the customer's hotkey, and an injected F11 would grant
// file transfer.
const (
	KeysymF11 = 0xffc8 // toggles file transfer
	KeysymF12 = 0xffc9 // revokes control
)

// The hotkeys' XT scancodes, as QEMU extended key events carry them
// (0x80 marks the 0xE0 prefix). A viewer may not send them either, with
// whatever keysym: Windows injects a scancode as the key it is.
const (
	scancodeF11 = 0x57
	scancodeF12 = 0x58
)

// isHotkey reports whether ev is, or could be taken for, one of the
// customer's hotkeys.
func isHotkey(ev rfb.KeyEvent) bool {
	switch ev.Keycode &^ 0x80 {
	case scancodeF11, scancodeF12:
		return true
	}
	return ev.Keysym == KeysymF11 || ev.Keysym == KeysymF12
}

// Injector is where allowed input goes: the platform's fake input.
type Injector interface {
	Key(rfb.KeyEvent)
	Pointer(rfb.PointerEvent)
	// ReleaseAll releases every key and button the injector holds down.
	ReleaseAll()
}

// Rights are the customer's grants to the supporter, and the gate that
// remote input passes. The zero value is not usable; see NewRights.
//
// Control starts off (view-only). While it is off every input event is
// dropped and counted. Input is injected with the lock held, so once
// SetControl(false) returns no event of the old grant can still arrive at
// the injector: revoking releases every key and button under the same
// lock, and nothing stays pressed.
type Rights struct {
	mu      sync.Mutex
	in      Injector
	control bool
	files   bool
	dropped uint64 // input events dropped since the start
	summary uint64 // dropped at the last summary

	confine  Confiner               // nil: input may go anywhere
	filesOff func()                 // called under mu when Files goes off
	point    func(rfb.PointerEvent) // the pointing arrow; nil: none
	buttons  uint8                  // buttons passed down and not yet released
	at       [2]uint16              // where the last pointer event that passed went
	placed   bool                   // at holds a position
}

// Confiner keeps a supporter's input inside the windows the customer
// shares (application selection): masked windows get neither keys nor
// clicks.
type Confiner interface {
	// KeyAllowed reports whether a key press may go to the window that
	// has the focus now.
	KeyAllowed() bool
	// PointerAllowed reports whether the point shows a shared window.
	PointerAllowed(x, y int) bool
}

// SetConfiner installs c (nil: none).
func (r *Rights) SetConfiner(c Confiner) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.confine = c
}

// SetPointing makes pointer events that are dropped for want of control
// go to point (the pointing arrow); nil stops that. point is called with
// the rights' lock held: it must not block, nor call back.
func (r *Rights) SetPointing(point func(rfb.PointerEvent)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.point = point
}

// Point counts a pointer event of a viewer without control and shows it
// as the pointing arrow while nobody has control; it never injects.
func (r *Rights) Point(ev rfb.PointerEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped++
	if !r.control && r.point != nil {
		r.point(ev)
	}
}

// NewRights returns view-only rights in front of in.
func NewRights(in Injector) *Rights { return &Rights{in: in} }

// SetControl grants or revokes remote control and reports whether that
// changed anything. Revoking releases whatever the supporter held down.
func (r *Rights) SetControl(on bool) (changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.control == on {
		return false
	}
	r.control = on
	if !on && r.in != nil {
		r.in.ReleaseAll()
		r.buttons = 0
	}
	return true
}

// SetFiles allows or forbids file transfer and reports whether that
// changed anything.
func (r *Rights) SetFiles(on bool) (changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed = r.files != on
	r.setFiles(on)
	return changed
}

// ToggleFiles flips the file-transfer permission (F11) and returns the new
// value.
func (r *Rights) ToggleFiles() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setFiles(!r.files)
	return r.files
}

// setFiles sets Files under mu; turning it off stops what it allowed
// before the lock is let go.
func (r *Rights) setFiles(on bool) {
	was := r.files
	r.files = on
	if was && !on && r.filesOff != nil {
		r.filesOff()
	}
}

// OnFilesOff installs f, called whenever Files goes from on to off
// with the rights' lock held: once SetFiles(false) or ToggleFiles
// returns, f has stopped what Files allowed (the customer's clipboard
// withdrawn, transfers aborted), and nothing that passed WithFiles under
// the old grant is still running. f must not block.
func (r *Rights) OnFilesOff(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.filesOff = f
}

// WithControl runs f if remote control is granted, with the grant held
// (SetControl(false) waits for f), and reports whether f ran. f must be
// short: the supporter's input and the customer's F12 wait for it.
func (r *Rights) WithControl(f func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.control {
		return false
	}
	f()
	return true
}

// WithFiles runs f if Files is on, with the grant held (turning Files
// off waits for f), and reports whether f ran. f must not block.
func (r *Rights) WithFiles(f func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.files {
		return false
	}
	f()
	return true
}

// Control reports whether remote control is granted.
func (r *Rights) Control() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.control
}

// Files reports whether file transfer is allowed.
func (r *Rights) Files() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files
}

// Dropped returns how many input events were dropped so far.
func (r *Rights) Dropped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// DroppedSinceSummary returns how many events were dropped since the last
// call, for the periodic log line.
func (r *Rights) DroppedSinceSummary() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.dropped - r.summary
	r.summary = r.dropped
	return n
}

// Key passes a viewer's key event to the injector if control is granted,
// and never passes the hotkeys F11 and F12, by keysym or by scancode.
func (r *Rights) Key(ev rfb.KeyEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.control || isHotkey(ev) || r.in == nil {
		r.dropped++
		return
	}
	// Releases always pass: a key that was not pressed is not released.
	if ev.Down && r.confine != nil && !r.confine.KeyAllowed() {
		r.dropped++
		return
	}
	r.in.Key(ev)
}

// Pointer passes a viewer's pointer event to the injector if control is
// granted.
func (r *Rights) Pointer(ev rfb.PointerEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.control || r.in == nil {
		r.dropped++
		if !r.control && r.point != nil {
			r.point(ev)
		}
		return
	}
	if r.confine != nil && !r.confine.PointerAllowed(int(ev.X), int(ev.Y)) {
		if ev.Buttons&^r.buttons != 0 || ev.Buttons == r.buttons || !r.placed {
			r.dropped++ // a press or a move outside the shared windows
			return
		}
		// A release outside (the end of a drag): it happens where the
		// pointer last was inside, not over a masked window.
		ev.X, ev.Y = r.at[0], r.at[1]
	}
	r.buttons, r.at, r.placed = ev.Buttons, [2]uint16{ev.X, ev.Y}, true
	r.in.Pointer(ev)
}

// Drop counts an input event that was dropped before it reached Key or
// Pointer (a viewer without the grant).
func (r *Rights) Drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped++
}

// ReleaseAll releases whatever the supporter holds down, as when a viewer
// disconnects, without changing the grants.
func (r *Rights) ReleaseAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.in != nil {
		r.in.ReleaseAll()
		r.buttons = 0
	}
}

// Event returns the grants as the UI shows them.
func (r *Rights) Event() EvRights {
	r.mu.Lock()
	defer r.mu.Unlock()
	return EvRights{Control: r.control, Files: r.files, Dropped: r.dropped}
}

// String is the state as the terminal UI shows it:
// "control=off files=off dropped=12".
func (r *Rights) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("control=%s files=%s dropped=%d", onOff(r.control), onOff(r.files), r.dropped)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
