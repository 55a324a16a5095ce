//go:build linux

package x11

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"lifebuoy/rfb"
)

// Injector turns RFB key and pointer events into XTEST fake input. Its
// methods are safe for concurrent use (rfb.Server calls them from each
// connection's reader).
//
// Keysyms are mapped to keycodes with the core keyboard mapping (refreshed
// after MappingNotify). A keysym in the Shift column is wrapped in a fake
// Shift press when the client does not hold Shift, and a plain one in a
// lifted Shift when it does. Keysyms the layout lacks are bound on the fly
// to spare (empty) keycodes, least recently used first, and the spares are
// emptied again by Close; only keysyms that type a character are bound
// (spareBindable), and keysyms with XKB actions are never pressed. Each press remembers its keycode, so the release
// goes to the same key even if the mapping changed in between.
type Injector struct {
	d *Display

	mu       sync.Mutex
	km       *keymap
	stale    atomic.Bool // a MappingNotify arrived
	shiftKC  []byte      // keycodes of the Shift modifier
	spares   *spareLRU
	pressed  map[uint32]byte   // keysym → keycode pressed for it
	down     map[byte]struct{} // keycodes held down
	buttons  uint8
	x, y     uint16
	moved    bool
	closed   bool
	unhandle func()

	// The customer's lock state (Caps Lock, Num Lock) before the
	// supporter's first key: ReleaseAll puts it back, so that a lock the
	// supporter switched does not outlive their control.
	locksSaved bool
	locks      uint16
}

// lockKeys are the lock keys whose state ReleaseAll restores.
var lockKeys = [...]uint32{xkCapsLock, xkNumLock}

// NewInjector prepares fake input on d. It fails if the server lacks XTEST.
func NewInjector(d *Display) (*Injector, error) {
	if !d.Has(ExtXTest) {
		return nil, fmt.Errorf("%w: XTEST", ErrNoExtension)
	}
	in := &Injector{d: d, pressed: map[uint32]byte{}, down: map[byte]struct{}{}}
	err := guard(func() error {
		if err := in.refresh(); err != nil {
			return err
		}
		in.spares = newSpareLRU(in.km.spares())
		return nil
	})
	if err != nil {
		return nil, err
	}
	in.unhandle = d.handle(func(ev xgb.Event) {
		if _, ok := ev.(xproto.MappingNotifyEvent); ok {
			in.stale.Store(true)
		}
	})
	return in, nil
}

// refresh reloads the keyboard and modifier mappings. Called with mu held.
func (in *Injector) refresh() error {
	km, err := in.d.keyboard()
	if err != nil {
		return err
	}
	mods, err := in.d.modifiers()
	if err != nil {
		return err
	}
	in.km = km
	in.shiftKC = mods[0]
	if len(in.shiftKC) == 0 {
		if kc, _, ok := km.lookup(xkShiftL, false); ok {
			in.shiftKC = []byte{kc}
		}
	}
	return nil
}

// Key presses or releases the key for ev.Keysym. Errors are logged: an
// RFB client cannot do anything about them.
func (in *Injector) Key(ev rfb.KeyEvent) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return
	}
	if err := guard(func() error { return in.key(ev) }); err != nil {
		in.d.log.Warn("x11: key", "keysym", fmt.Sprintf("%#x", ev.Keysym), "down", ev.Down, "err", err)
	}
}

func (in *Injector) key(ev rfb.KeyEvent) error {
	ks := normalize(ev.Keysym)
	if !ev.Down {
		kc, ok := in.pressed[ks]
		if !ok {
			return nil // never pressed (or released by ReleaseAll)
		}
		delete(in.pressed, ks)
		in.fake(xproto.KeyRelease, kc)
		return nil
	}
	if in.stale.Swap(false) {
		if err := in.refresh(); err != nil {
			return err
		}
	}
	if !in.locksSaved {
		m, err := in.lockState()
		if err != nil {
			return err
		}
		in.locks, in.locksSaved = m, true
	}
	held := in.shiftHeld()
	kc, col, ok := in.km.lookup(ks, held)
	forceShift := false
	if !ok && ks == xkISOLeftTab {
		kc, col, ok = in.km.lookup(xkTab, false)
		forceShift = true
	}
	if ks == xkF11 || ks == xkF12 || ok && in.km.hotkey(kc) {
		// The customer's hotkeys: never pressed for a viewer.
		return fmt.Errorf("x11: keysym %#x is on a hotkey's key; not pressed", ks)
	}
	if actionKeysym(ks) {
		return fmt.Errorf("x11: keysym %#x has an XKB action; not pressed", ks)
	}
	if !ok && !spareBindable(ks) {
		return fmt.Errorf("x11: keysym %#x is not on the keyboard and types no character; not bound", ks)
	}
	if !ok {
		var err error
		if kc, err = in.bindSpare(ks); err != nil {
			return err
		}
		col = 0
	}
	plan := planShift(in.km, kc, col, held)
	if forceShift && !held {
		plan = shiftPress
	}
	if isModifier(ks) {
		plan = shiftAsIs
	}
	if old, ok := in.pressed[ks]; ok && old != kc {
		in.fake(xproto.KeyRelease, old) // a repeat that moved keys: keep one down
	}
	switch plan {
	case shiftPress:
		if len(in.shiftKC) == 0 {
			break
		}
		in.fake(xproto.KeyPress, in.shiftKC[0])
		in.fake(xproto.KeyPress, kc)
		in.fake(xproto.KeyRelease, in.shiftKC[0])
	case shiftRelease:
		var lifted []byte
		for _, s := range in.shiftKC {
			if in.isDown(s) {
				in.fakeRaw(xproto.KeyRelease, s)
				lifted = append(lifted, s)
			}
		}
		in.fake(xproto.KeyPress, kc)
		for _, s := range lifted {
			in.fakeRaw(xproto.KeyPress, s)
		}
	default:
		in.fake(xproto.KeyPress, kc)
	}
	in.pressed[ks] = kc
	return nil
}

func (in *Injector) isDown(kc byte) bool { _, ok := in.down[kc]; return ok }

// shiftHeld reports whether a Shift key is down through this injector.
func (in *Injector) shiftHeld() bool {
	for _, s := range in.shiftKC {
		if in.isDown(s) {
			return true
		}
	}
	return false
}

// bindSpare binds ks to a spare keycode and waits until the server has
// the new mapping, so the press that follows produces ks.
func (in *Injector) bindSpare(ks uint32) (byte, error) {
	kc, fresh, ok := in.spares.get(ks, func(kc byte) bool { return in.isDown(kc) })
	if !ok {
		return 0, fmt.Errorf("x11: no spare keycode for keysym %#x", ks)
	}
	if !fresh {
		return kc, nil
	}
	row := make([]uint32, in.km.per)
	// The same symbol in every column: Shift and the level keys cannot
	// change what the spare produces.
	for i := range row {
		row[i] = ks
	}
	if err := in.setRow(kc, row); err != nil {
		return 0, err
	}
	return kc, nil
}

func (in *Injector) setRow(kc byte, row []uint32) error {
	syms := make([]xproto.Keysym, len(row))
	for i, s := range row {
		syms[i] = xproto.Keysym(s)
	}
	err := xproto.ChangeKeyboardMappingChecked(in.d.conn, 1, xproto.Keycode(kc), byte(len(row)), syms).Check()
	if err != nil {
		return fmt.Errorf("x11: bind keycode %d: %w", kc, err)
	}
	in.km.set(kc, row)
	return nil
}

// fake sends a key event and tracks what is down.
func (in *Injector) fake(typ byte, kc byte) {
	// A key is up or down; a second press is an autorepeat.
	if typ == xproto.KeyPress {
		in.down[kc] = struct{}{}
	} else {
		delete(in.down, kc)
	}
	in.fakeRaw(typ, kc)
}

func (in *Injector) fakeRaw(typ byte, detail byte) {
	xtest.FakeInput(in.d.conn, typ, detail, 0, in.d.root, 0, 0, 0)
}

// Pointer moves the pointer to (X, Y) and presses or releases buttons 1-8
// as bits 0-7 of the mask change. Wheel steps arrive as a press and a
// release of buttons 4-7.
func (in *Injector) Pointer(ev rfb.PointerEvent) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return
	}
	err := guard(func() error {
		// Before every button change too: the customer may have moved
		// the mouse since, and the click must land where the supporter
		// pointed.
		if !in.moved || ev.X != in.x || ev.Y != in.y || ev.Buttons != in.buttons {
			xtest.FakeInput(in.d.conn, xproto.MotionNotify, 0, 0, in.d.root, int16(ev.X), int16(ev.Y), 0)
			in.x, in.y, in.moved = ev.X, ev.Y, true
		}
		for _, b := range buttonChanges(in.buttons, ev.Buttons) {
			typ := byte(xproto.ButtonRelease)
			if b.down {
				typ = xproto.ButtonPress
			}
			in.fakeRaw(typ, b.button)
		}
		in.buttons = ev.Buttons
		return nil
	})
	if err != nil {
		in.d.log.Warn("x11: pointer", "err", err)
	}
}

// ReleaseAll releases every key and button this injector holds down. The
// agent calls it when a client disconnects or loses control, so that no
// key stays pressed.
func (in *Injector) ReleaseAll() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := guard(in.releaseAll); err != nil {
		in.d.log.Warn("x11: release all", "err", err)
	}
}

func (in *Injector) releaseAll() error {
	for kc := range in.down {
		in.fakeRaw(xproto.KeyRelease, kc)
	}
	clear(in.down)
	clear(in.pressed)
	for _, b := range buttonChanges(in.buttons, 0) {
		in.fakeRaw(xproto.ButtonRelease, b.button)
	}
	in.buttons = 0
	if err := in.d.sync(); err != nil {
		return err
	}
	return in.restoreLocks()
}

// lockMask returns the modifier bit of the lock key ks (Caps Lock's is
// Lock, Num Lock's depends on the layout), and its keycode.
func (in *Injector) lockMask(ks uint32) (mask uint16, kc byte, ok bool) {
	kc, _, ok = in.km.lookup(ks, false)
	if !ok {
		return 0, 0, false
	}
	mods, err := in.d.modifiers()
	if err != nil {
		return 0, 0, false
	}
	for m, kcs := range mods {
		for _, k := range kcs {
			if k == kc {
				return 1 << m, kc, true
			}
		}
	}
	return 0, 0, false
}

// lockState returns the modifier state of the lock keys now.
func (in *Injector) lockState() (uint16, error) {
	r, err := xproto.QueryPointer(in.d.conn, in.d.root).Reply()
	if err != nil {
		return 0, fmt.Errorf("x11: query the lock state: %w", err)
	}
	var all uint16
	for _, ks := range lockKeys {
		if m, _, ok := in.lockMask(ks); ok {
			all |= m
		}
	}
	return r.Mask & all, nil
}

// restoreLocks switches back every lock the supporter switched since the
// state was saved, by pressing its key once more.
func (in *Injector) restoreLocks() error {
	if !in.locksSaved {
		return nil
	}
	in.locksSaved = false
	now, err := in.lockState()
	if err != nil {
		return err
	}
	for _, ks := range lockKeys {
		if m, kc, ok := in.lockMask(ks); ok && now&m != in.locks&m {
			in.fakeRaw(xproto.KeyPress, kc)
			in.fakeRaw(xproto.KeyRelease, kc)
		}
	}
	return in.d.sync()
}

// Close releases everything, empties the spare keycodes it bound and stops
// injecting.
func (in *Injector) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil
	}
	in.closed = true
	in.unhandle()
	return guard(func() error {
		err := in.releaseAll()
		for kc := range in.spares.used {
			if e := in.setRow(kc, make([]uint32, in.km.per)); e != nil && err == nil {
				err = e
			}
		}
		return err
	})
}

// isModifier reports whether ks is a modifier key (Shift_L … Hyper_R, or
// an ISO level/group key): those are pressed as they are.
func isModifier(ks uint32) bool {
	return ks >= 0xffe1 && ks <= 0xffee || ks >= 0xfe01 && ks <= 0xfe0f
}
