package x11

import "lifebuoy/winvnc/internal/keysyms"

// Keysyms this package treats specially.
const (
	xkTab        = 0xff09
	xkISOLeftTab = 0xfe20
	xkShiftL     = 0xffe1
	xkShiftR     = 0xffe2
	xkNumLock    = 0xff7f
	xkCapsLock   = 0xffe5
	xkF11        = 0xffc8
	xkF12        = 0xffc9
)

// keymap is a copy of the core keyboard mapping: per keycode from min on,
// per keysyms ("columns"). Column 0 is the plain symbol, column 1 the one
// with Shift.
type keymap struct {
	min  byte
	per  int
	syms []uint32
}

func newKeymap(min byte, per int, syms []uint32) *keymap {
	if per < 1 {
		per = 1
	}
	return &keymap{min: min, per: per, syms: syms}
}

// hotkey reports whether keycode kc carries F11 or F12 in any column: the
// customer's hotkeys are grabbed by keycode, so pressing kc for any other
// of its symbols would fire them.
func (m *keymap) hotkey(kc byte) bool {
	for _, s := range m.row(kc) {
		if s == xkF11 || s == xkF12 {
			return true
		}
	}
	return false
}

// count returns how many keycodes the map covers.
func (m *keymap) count() int { return len(m.syms) / m.per }

// row returns the keysyms of keycode kc, or nil outside the map.
func (m *keymap) row(kc byte) []uint32 {
	i := int(kc) - int(m.min)
	if i < 0 || i >= m.count() {
		return nil
	}
	return m.syms[i*m.per : (i+1)*m.per]
}

// column returns the keysym of kc in column col, applying the core
// protocol's rule for a row with only column 0: the shifted symbol of a
// letter is its upper case, and of anything else the symbol itself.
func (m *keymap) column(kc byte, col int) uint32 {
	r := m.row(kc)
	if r == nil {
		return 0
	}
	s0 := r[0]
	if col == 0 {
		return s0
	}
	if len(r) > 1 && r[1] != 0 {
		return r[1]
	}
	if u := upper(s0); u != s0 {
		return u
	}
	return s0
}

// lookup finds the keycode producing ks with Shift up (column 0) or down
// (column 1), preferring the column that matches shifted, then the lowest
// keycode.
func (m *keymap) lookup(ks uint32, shifted bool) (kc byte, col int, ok bool) {
	if ks == 0 {
		return 0, 0, false
	}
	want := 0
	if shifted {
		want = 1
	}
	for _, c := range [2]int{want, 1 - want} {
		for i := range m.count() {
			k := byte(int(m.min) + i)
			if m.column(k, c) == ks {
				return k, c, true
			}
		}
	}
	return 0, 0, false
}

// spares returns the keycodes whose rows are empty, highest first: the ones
// free to bind keysyms the layout lacks.
func (m *keymap) spares() []byte {
	var out []byte
	for i := m.count() - 1; i >= 0; i-- {
		empty := true
		for _, s := range m.syms[i*m.per : (i+1)*m.per] {
			if s != 0 {
				empty = false
				break
			}
		}
		if empty {
			out = append(out, byte(int(m.min)+i))
		}
	}
	return out
}

// set replaces the row of kc.
func (m *keymap) set(kc byte, row []uint32) {
	r := m.row(kc)
	for i := range r {
		r[i] = 0
		if i < len(row) {
			r[i] = row[i]
		}
	}
}

// upper returns the upper case of a Latin-1 letter keysym, or ks.
func upper(ks uint32) uint32 {
	switch {
	case ks >= 'a' && ks <= 'z':
		return ks - 0x20
	case ks >= 0xe0 && ks <= 0xfe && ks != 0xf7:
		return ks - 0x20
	}
	return ks
}

// normalize maps RFB's Unicode keysyms (0x01000000 | code point) for
// Latin-1 characters to the legacy keysyms layouts use, since the two are
// the same characters.
func normalize(ks uint32) uint32 {
	if ks&0xff000000 == 0x01000000 {
		u := ks & 0x00ffffff
		if (u >= 0x20 && u <= 0x7e) || (u >= 0xa0 && u <= 0xff) {
			return u
		}
	}
	return ks
}

// shiftPlan says what to do with Shift around one key press.
type shiftPlan int

const (
	shiftAsIs    shiftPlan = iota // the state already matches
	shiftPress                    // press Shift for this key, then release it
	shiftRelease                  // lift the held Shift for this key, then press it again
)

// planShift decides how to make keycode kc produce column col when the
// client holds Shift (held) or not. A key whose two columns are the same
// symbol (Return, F1, a spare keycode) does not care.
func planShift(m *keymap, kc byte, col int, held bool) shiftPlan {
	if m.column(kc, 0) == m.column(kc, 1) {
		return shiftAsIs
	}
	switch {
	case col == 1 && !held:
		return shiftPress
	case col == 0 && held:
		return shiftRelease
	}
	return shiftAsIs
}

// spareLRU hands out spare keycodes for keysyms that have none, reusing
// the least recently used spare that is not held down.
type spareLRU struct {
	order []byte            // least recently used first
	bound map[byte]uint32   // spare → keysym bound to it
	by    map[uint32]byte   // keysym → spare
	used  map[byte]struct{} // spares ever rebound (to restore at exit)
}

func newSpareLRU(spares []byte) *spareLRU {
	return &spareLRU{
		order: append([]byte(nil), spares...),
		bound: map[byte]uint32{},
		by:    map[uint32]byte{},
		used:  map[byte]struct{}{},
	}
}

// get returns the spare bound to ks; fresh is true when the caller must
// bind it on the server. held reports keycodes that must not be taken.
func (l *spareLRU) get(ks uint32, held func(byte) bool) (kc byte, fresh, ok bool) {
	if kc, ok := l.by[ks]; ok {
		l.touch(kc)
		return kc, false, true
	}
	for _, kc := range l.order {
		if held != nil && held(kc) {
			continue
		}
		if old, ok := l.bound[kc]; ok {
			delete(l.by, old)
		}
		l.bound[kc] = ks
		l.by[ks] = kc
		l.used[kc] = struct{}{}
		l.touch(kc)
		return kc, true, true
	}
	return 0, false, false
}

func (l *spareLRU) touch(kc byte) {
	for i, k := range l.order {
		if k == kc {
			copy(l.order[i:], l.order[i+1:])
			l.order[len(l.order)-1] = kc
			return
		}
	}
}

// actionKeysym reports whether ks is a keysym to which XKB gives an
// action other than typing: the server's own (Terminate_Server, the
// Switch_VT keys, grab breaking, video modes, logging), AccessX, the
// pointer keys. Pressed, they would kill the customer's X server, switch
// the console, or move the pointer behind the injector's back; they are
// never bound or pressed for a viewer.
func actionKeysym(ks uint32) bool {
	switch {
	case ks == 0xfed5: // Terminate_Server
		return true
	case ks >= 0xfe70 && ks <= 0xfe7a: // AccessX_Enable … AudibleBell_Enable
		return true
	case ks >= 0xfee0 && ks <= 0xfeff: // Pointer_Left … Pointer_Drag5
		return true
	case ks >= 0x1008fe01 && ks <= 0x1008fe0c: // XF86Switch_VT_1 … 12
		return true
	case ks >= 0x1008fe20 && ks <= 0x1008fe25: // XF86Ungrab, ClearGrab, Next/Prev_VMode, LogWindowTree, LogGrabInfo
		return true
	}
	return false
}

// spareBindable reports whether ks may be bound to a spare keycode: only
// a keysym that types a character. XKB gives a bound keysym the action
// its compat map has for it, so anything else (a lock, a modifier, an
// action keysym) would do more than type.
func spareBindable(ks uint32) bool {
	_, ok := keysyms.Rune(ks)
	return ok && !actionKeysym(ks)
}
