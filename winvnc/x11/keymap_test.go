package x11

import (
	"slices"
	"testing"
)

// testKeymap is a small layout: keycode 10 a/A, 11 1/!, 12 Return, 13
// Shift_L, 14 empty, 15 q (column 1 left to the letter rule), 16 Tab/
// ISO_Left_Tab, 17 empty.
func testKeymap() *keymap {
	return newKeymap(10, 2, []uint32{
		'a', 'A',
		'1', '!',
		0xff0d, 0,
		xkShiftL, 0,
		0, 0,
		'q', 0,
		xkTab, xkISOLeftTab,
		0, 0,
	})
}

func TestKeymapLookup(t *testing.T) {
	m := testKeymap()
	for _, c := range []struct {
		ks      uint32
		shifted bool
		kc      byte
		col     int
		ok      bool
	}{
		{'a', false, 10, 0, true},
		{'a', true, 10, 0, true},
		{'A', false, 10, 1, true},
		{'!', false, 11, 1, true},
		{'1', true, 11, 0, true},
		{0xff0d, false, 12, 0, true},
		{0xff0d, true, 12, 1, true}, // Return in the Shift column: the symbol itself
		{'Q', false, 15, 1, true},   // the letter rule for an empty column 1
		{xkISOLeftTab, false, 16, 1, true},
		{0x20ac, false, 0, 0, false},
		{0, false, 0, 0, false},
	} {
		kc, col, ok := m.lookup(c.ks, c.shifted)
		if kc != c.kc || col != c.col || ok != c.ok {
			t.Errorf("lookup(%#x, shift=%v) = %d, %d, %v; want %d, %d, %v", c.ks, c.shifted, kc, col, ok, c.kc, c.col, c.ok)
		}
	}
	if got := m.spares(); !slices.Equal(got, []byte{17, 14}) {
		t.Errorf("spares = %v, want [17 14]", got)
	}
	m.set(14, []uint32{0x20ac, 0x20ac})
	if kc, _, ok := m.lookup(0x20ac, false); !ok || kc != 14 {
		t.Errorf("after set, lookup(EuroSign) = %d, %v", kc, ok)
	}
	if m.row(9) != nil || m.row(18) != nil {
		t.Error("row outside the map is not nil")
	}
}

func TestPlanShift(t *testing.T) {
	m := testKeymap()
	for _, c := range []struct {
		kc   byte
		col  int
		held bool
		want shiftPlan
	}{
		{10, 0, false, shiftAsIs},   // a
		{10, 1, false, shiftPress},  // A without Shift held
		{10, 1, true, shiftAsIs},    // A with Shift held
		{10, 0, true, shiftRelease}, // a with Shift held
		{11, 1, false, shiftPress},  // ! plain
		{11, 0, true, shiftRelease}, // 1 while the client holds Shift
		{11, 1, true, shiftAsIs},    // ! with Shift held
		{12, 0, true, shiftAsIs},    // Return: Shift makes no difference
		{12, 1, false, shiftAsIs},
		{13, 0, true, shiftAsIs},    // Shift_L itself
		{14, 0, true, shiftAsIs},    // an empty spare
		{15, 1, false, shiftPress},  // Q by the letter rule
		{15, 0, true, shiftRelease}, // q with Shift held
		{16, 1, false, shiftPress},  // ISO_Left_Tab
		{16, 1, true, shiftAsIs},
		{99, 1, false, shiftAsIs}, // outside the map
	} {
		if got := planShift(m, c.kc, c.col, c.held); got != c.want {
			t.Errorf("planShift(kc %d, col %d, held %v) = %v, want %v", c.kc, c.col, c.held, got, c.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[uint32]uint32{
		'a':        'a',
		0x01000061: 'a',
		0x010000fc: 0xfc,
		0x0100001b: 0x0100001b, // control characters are not Latin-1 keysyms
		0x010003a9: 0x010003a9,
		0x20ac:     0x20ac,
		0xff0d:     0xff0d,
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%#x) = %#x, want %#x", in, got, want)
		}
	}
	for in, want := range map[uint32]uint32{'a': 'A', 'z': 'Z', 'A': 'A', '1': '1', 0xe9: 0xc9, 0xf7: 0xf7, 0xff: 0xff} {
		if got := upper(in); got != want {
			t.Errorf("upper(%#x) = %#x, want %#x", in, got, want)
		}
	}
}

func TestSpareLRU(t *testing.T) {
	l := newSpareLRU([]byte{200, 201, 202})
	get := func(ks uint32, held ...byte) (byte, bool) {
		kc, fresh, ok := l.get(ks, func(kc byte) bool { return slices.Contains(held, kc) })
		if !ok {
			t.Fatalf("no spare for %#x", ks)
		}
		return kc, fresh
	}
	if kc, fresh := get(1); kc != 200 || !fresh {
		t.Fatalf("first = %d %v", kc, fresh)
	}
	if kc, fresh := get(2); kc != 201 || !fresh {
		t.Fatalf("second = %d %v", kc, fresh)
	}
	if kc, fresh := get(1); kc != 200 || fresh {
		t.Fatalf("again = %d %v, want 200 reused", kc, fresh)
	}
	if kc, _ := get(3); kc != 202 {
		t.Fatalf("third = %d", kc)
	}
	// All bound; 201 (keysym 2) is least recently used, but held down.
	if kc, fresh := get(4, 201); kc != 200 || !fresh {
		t.Fatalf("fourth = %d %v, want 200 (201 is held)", kc, fresh)
	}
	if _, ok := l.by[1]; ok {
		t.Error("keysym 1 still bound after its spare was reused")
	}
	if _, _, ok := l.get(5, func(byte) bool { return true }); ok {
		t.Error("got a spare although all are held")
	}
	if len(l.used) != 3 {
		t.Errorf("used = %v", l.used)
	}
	if _, _, ok := newSpareLRU(nil).get(1, nil); ok {
		t.Error("spare from an empty set")
	}
}

func TestButtonChanges(t *testing.T) {
	got := buttonChanges(0b0000_0101, 0b1000_0110)
	want := []buttonChange{{1, false}, {2, true}, {8, true}}
	if !slices.Equal(got, want) {
		t.Errorf("buttonChanges = %v, want %v", got, want)
	}
	if got := buttonChanges(0x18, 0x18); got != nil {
		t.Errorf("no change gave %v", got)
	}
	// A wheel step: press then release of button 4.
	if got := append(buttonChanges(0, 8), buttonChanges(8, 0)...); !slices.Equal(got, []buttonChange{{4, true}, {4, false}}) {
		t.Errorf("wheel = %v", got)
	}
}

func TestKeymapHotkey(t *testing.T) {
	// 10 F11 with a VT switch on a higher level, 11 F12, 12 a/A.
	m := newKeymap(10, 3, []uint32{
		xkF11, xkF11, 0x1008fe0b, // XF86Switch_VT_11
		xkF12, 0, 0,
		'a', 'A', 0,
	})
	for kc, want := range map[byte]bool{10: true, 11: true, 12: false, 13: false} {
		if got := m.hotkey(kc); got != want {
			t.Errorf("hotkey(%d) = %v, want %v", kc, got, want)
		}
	}
}

// Keysyms with XKB actions are never bound to a spare keycode nor
// pressed; only keysyms that type a character are bound.
func TestSpareBindable(t *testing.T) {
	for _, tc := range []struct {
		name string
		ks   uint32
		want bool
	}{
		{"a", 'a', true},
		{"eacute", 0xe9, true},
		{"EuroSign", 0x20ac, true},
		{"Greek_OMEGA", 0x7d9, true},
		{"U+1F600", 0x0101f600, true},
		{"Terminate_Server", 0xfed5, false},
		{"XF86Switch_VT_1", 0x1008fe01, false},
		{"XF86Switch_VT_12", 0x1008fe0c, false},
		{"XF86Ungrab", 0x1008fe20, false},
		{"XF86ClearGrab", 0x1008fe21, false},
		{"XF86Next_VMode", 0x1008fe22, false},
		{"XF86LogGrabInfo", 0x1008fe25, false},
		{"Pointer_Left", 0xfee0, false},
		{"Pointer_Button1", 0xfee9, false},
		{"Pointer_EnableKeys", 0xfef9, false},
		{"AccessX_Enable", 0xfe70, false},
		{"MouseKeys_Enable", 0xfe76, false},
		{"ISO_Lock", 0xfe01, false},
		{"Caps_Lock", 0xffe5, false},
		{"Num_Lock", 0xff7f, false},
		{"Hyper_L", 0xffed, false},
		{"F13", 0xffca, false},
		{"VoidSymbol", 0xffffff, false},
	} {
		if got := spareBindable(tc.ks); got != tc.want {
			t.Errorf("%s (%#x): bindable %v, want %v", tc.name, tc.ks, got, tc.want)
		}
	}
	for _, ks := range []uint32{0xfed5, 0x1008fe01, 0x1008fe20, 0xfee0, 0xfe70} {
		if !actionKeysym(ks) {
			t.Errorf("%#x: not an action keysym", ks)
		}
	}
}
