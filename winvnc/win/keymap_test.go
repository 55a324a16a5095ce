package win

import (
	"slices"
	"testing"
)

func TestKeysymVK(t *testing.T) {
	for _, tc := range []struct {
		name string
		ks   uint32
		want vkey
	}{
		{"F1", 0xffbe, vkey{0x70, false}},
		{"F11", xkF11, vkey{vkF11, false}},
		{"F12", xkF12, vkey{0x7b, false}},
		{"F24", 0xffd5, vkey{0x87, false}},
		{"Left", 0xff51, vkey{0x25, true}},
		{"Up", 0xff52, vkey{0x26, true}},
		{"Right", 0xff53, vkey{0x27, true}},
		{"Down", 0xff54, vkey{0x28, true}},
		{"Home", 0xff50, vkey{0x24, true}},
		{"End", 0xff57, vkey{0x23, true}},
		{"Prior", 0xff55, vkey{0x21, true}},
		{"Next", 0xff56, vkey{0x22, true}},
		{"Insert", 0xff63, vkey{0x2d, true}},
		{"Delete", 0xffff, vkey{0x2e, true}},
		{"BackSpace", 0xff08, vkey{0x08, false}},
		{"Tab", 0xff09, vkey{0x09, false}},
		{"Return", 0xff0d, vkey{0x0d, false}},
		{"Escape", 0xff1b, vkey{0x1b, false}},
		{"Print", 0xff61, vkey{0x2c, true}},
		{"Pause", 0xff13, vkey{0x13, false}},
		{"Caps_Lock", 0xffe5, vkey{0x14, false}},
		{"Num_Lock", 0xff7f, vkey{0x90, true}},
		{"Scroll_Lock", 0xff14, vkey{0x91, false}},
		{"Menu", 0xff67, vkey{0x5d, true}},
		{"Shift_L", 0xffe1, vkey{0xa0, false}},
		{"Shift_R", 0xffe2, vkey{0xa1, false}},
		{"Control_L", 0xffe3, vkey{0xa2, false}},
		{"Control_R", 0xffe4, vkey{0xa3, true}},
		{"Alt_L", 0xffe9, vkey{0xa4, false}},
		{"Alt_R", 0xffea, vkey{0xa5, true}},
		{"ISO_Level3_Shift", 0xfe03, vkey{0xa5, true}},
		{"Super_L", 0xffeb, vkey{0x5b, true}},
		{"Super_R", 0xffec, vkey{0x5c, true}},
		{"KP_Enter", 0xff8d, vkey{0x0d, true}},
		{"KP_Divide", 0xffaf, vkey{0x6f, true}},
		{"KP_Multiply", 0xffaa, vkey{0x6a, false}},
		{"KP_Add", 0xffab, vkey{0x6b, false}},
		{"KP_Subtract", 0xffad, vkey{0x6d, false}},
		{"KP_Decimal", 0xffae, vkey{0x6e, false}},
		{"KP_0", 0xffb0, vkey{0x60, false}},
		{"KP_9", 0xffb9, vkey{0x69, false}},
		{"KP_Home", 0xff95, vkey{0x24, false}},
		{"KP_Delete", 0xff9f, vkey{0x2e, false}},
		{"KP_Begin", 0xff9d, vkey{0x0c, false}},
	} {
		got, ok := keysymVK[tc.ks]
		if !ok || got != tc.want {
			t.Errorf("%s (%#x) = %+v, %v; want %+v", tc.name, tc.ks, got, ok, tc.want)
		}
	}
	for ks, k := range keysymVK {
		if k.vk == 0 || k.vk > 0xfe {
			t.Errorf("keysym %#x maps to invalid VK %#x", ks, k.vk)
		}
		if _, ok := keysymRune(ks); ok && ks != xkSpace {
			t.Errorf("keysym %#x is in the VK table and printable", ks)
		}
	}
}

func TestKeysymRune(t *testing.T) {
	for _, tc := range []struct {
		ks   uint32
		want rune
		ok   bool
	}{
		{'a', 'a', true},
		{'~', '~', true},
		{0xe9, 'é', true},
		{0xff, 'ÿ', true},
		{0xa0, 0xa0, true},
		{0x1f, 0, false},
		{0x7f, 0, false},
		{0x9f, 0, false},
		{0x010020ac, '€', true},
		{0x01000041, 'A', true},
		{0x0101f600, '😀', true},
		{0x0110ffff, 0, false},  // non-character
		{0x0100d800, 0, false},  // surrogate
		{0x01000009, 0, false},  // control
		{0x01110000, 0, false},  // beyond Unicode
		{0x1a1, 'Ą', true},      // classic Latin-2 Aogonek
		{0x20ac, '€', true},     // classic EuroSign, as TigerVNC and noVNC send it
		{0x7d9, 'Ω', true},      // classic Greek_OMEGA
		{0x6c1, 'а', true},      // classic Cyrillic_a
		{0xcf9, 'ש', true},      // classic hebrew_shin
		{0x4b1, 'ア', true},      // classic kana_A
		{0xaa2, '\u2002', true}, // classic enspace
		{0x7a0, 0, false},       // unassigned in the Greek block
		{0xfe50, 0, false},      // dead_grave: a dead key types nothing by itself
		{0xff51, 0, false},
	} {
		r, ok := keysymRune(tc.ks)
		if r != tc.want || ok != tc.ok {
			t.Errorf("keysymRune(%#x) = %q, %v; want %q, %v", tc.ks, r, ok, tc.want, tc.ok)
		}
	}
}

func TestPlanKeyVirtual(t *testing.T) {
	a, ok := planKey(xkF1+9, 0, false, nil) // F10
	if !ok || a.vk != vkF1+9 || a.ext || a.units != nil {
		t.Fatalf("F10: %+v %v", a, ok)
	}
	down := a.inputs(false)
	up := a.inputs(true)
	if len(down) != 1 || down[0].typ != inputKeyboard || down[0].ki.vk != vkF1+9 || down[0].ki.flags != 0 {
		t.Errorf("F10 down = %+v", down)
	}
	if len(up) != 1 || up[0].ki.flags != keyeventfKeyUp {
		t.Errorf("F10 up = %+v", up)
	}

	a, _ = planKey(xkControlR, 0, false, nil)
	a.scan = 0x1d
	if got := a.inputs(true)[0].ki; got.vk != vkRControl || got.scan != 0x1d || got.flags != keyeventfExtendedKey|keyeventfKeyUp {
		t.Errorf("Control_R up = %+v", got)
	}
	if !a.shortcut() || !a.modifier() {
		t.Error("Control_R is not a shortcut modifier")
	}
	a, _ = planKey(xkShiftL, 0, false, nil)
	if a.shortcut() || !a.modifier() {
		t.Error("Shift_L: want modifier, not shortcut")
	}
}

func TestPlanKeyUnicode(t *testing.T) {
	layout := func(r rune) (uint16, bool) {
		if r >= 'a' && r <= 'z' {
			return uint16(r - 'a' + 'A'), true
		}
		return 0, false
	}
	// Without a shortcut modifier a character is typed as Unicode.
	a, ok := planKey('c', 0, false, layout)
	if !ok || a.vk != 0 || !slices.Equal(a.units, []uint16{'c'}) {
		t.Fatalf("c: %+v", a)
	}
	in := a.inputs(false)
	if len(in) != 1 || in[0].ki.vk != 0 || in[0].ki.scan != 'c' || in[0].ki.flags != keyeventfUnicode {
		t.Errorf("c down = %+v", in)
	}
	if in := a.inputs(true); in[0].ki.flags != keyeventfUnicode|keyeventfKeyUp {
		t.Errorf("c up = %+v", in)
	}
	// With Ctrl held it is the layout's virtual key: Ctrl+C.
	a, _ = planKey('c', 0, true, layout)
	if a.vk != 'C' || a.units != nil {
		t.Errorf("Ctrl+c: %+v", a)
	}
	// A character the layout lacks stays Unicode even then.
	a, _ = planKey(0xe9, 0, true, layout)
	if !slices.Equal(a.units, []uint16{0xe9}) {
		t.Errorf("Ctrl+é: %+v", a)
	}
}

func TestPlanKeySurrogates(t *testing.T) {
	a, ok := planKey(0x0101f600, 0, false, nil) // 😀 U+1F600
	if !ok || !slices.Equal(a.units, []uint16{0xd83d, 0xde00}) {
		t.Fatalf("U+1F600: %+v %v", a, ok)
	}
	for _, up := range []bool{false, true} {
		in := a.inputs(up)
		want := uint32(keyeventfUnicode)
		if up {
			want |= keyeventfKeyUp
		}
		if len(in) != 2 || in[0].ki.scan != 0xd83d || in[1].ki.scan != 0xde00 {
			t.Errorf("up=%v: %+v", up, in)
		}
		for _, e := range in {
			if e.typ != inputKeyboard || e.ki.flags != want || e.ki.vk != 0 {
				t.Errorf("up=%v: event %+v", up, e)
			}
		}
	}
}

func TestPlanKeyScancodeFallback(t *testing.T) {
	// An unknown keysym with a QEMU XT scancode: Right Windows (0xe0 0x5c).
	a, ok := planKey(0x12345678, 0xdc, false, nil)
	if !ok || a.vk != 0 || a.scan != 0x5c || !a.ext {
		t.Fatalf("%+v %v", a, ok)
	}
	if f := a.inputs(false)[0].ki.flags; f != keyeventfScanCode|keyeventfExtendedKey {
		t.Errorf("flags %#x", f)
	}
	if _, ok := planKey(0x12345678, 0, false, nil); ok {
		t.Error("unknown keysym without scancode accepted")
	}
	// A keysym that says nothing (0, VoidSymbol) takes the scancode too.
	for _, ks := range []uint32{0, xkVoidSymbol} {
		if a, ok := planKey(ks, 0x1e, false, nil); !ok || a.scan != 0x1e || a.vk != 0 {
			t.Errorf("keysym %#x with scancode 0x1e: %+v %v", ks, a, ok)
		}
	}
	// A character's keysym decides, not the customer's layout: the
	// scancode of the key the supporter pressed is not used.
	for _, ks := range []uint32{'e', 0x20ac, 0x7d9, 0x010020ac} {
		if a, ok := planKey(ks, 0x12, false, nil); !ok || a.units == nil || a.scan != 0 {
			t.Errorf("keysym %#x with scancode 0x12 (E): %+v %v", ks, a, ok)
		}
	}
	// A dead key types nothing, and its scancode is not sent either.
	if a, ok := planKey(0xfe51, 0x0d, false, nil); ok {
		t.Errorf("dead_acute with scancode 0x0d: %+v", a)
	}
}

// The customer's hotkeys F11 and F12 are never pressed for a viewer, by
// keysym, by the scancode of a QEMU extended key event with any keysym,
// or as the layout's key for a character: a supporter who could press
// F11 would grant themselves file transfer.
func TestPlanKeyNeverHotkeys(t *testing.T) {
	azerty := func(r rune) (uint16, bool) { return vkF11, true } // a layout gone wrong
	for _, tc := range []struct {
		name     string
		ks, scan uint32
		shortcut bool
		layout   func(rune) (uint16, bool)
	}{
		{"F11 keysym", xkF11, 0, false, nil},
		{"F12 keysym", xkF12, 0, false, nil},
		{"F12 keysym with its scancode", xkF12, scanF12, false, nil},
		{"F11 scancode, no keysym", 0, scanF11, false, nil},
		{"F12 scancode, VoidSymbol", xkVoidSymbol, scanF12, false, nil},
		{"F11 scancode, vendor keysym", 0x1008ff1d, scanF11, false, nil},
		{"F12 scancode, unknown keysym", 0x12345678, scanF12, false, nil},
		{"F11 scancode with the 0xE0 prefix", 0, 0x80 | scanF11, false, nil},
		{"F12 scancode with the 0xE0 prefix", 0x12345678, 0x80 | scanF12, false, nil},
		{"shortcut to a layout key that is F11", 'x', 0, true, azerty},
	} {
		a, ok := planKey(tc.ks, tc.scan, tc.shortcut, tc.layout)
		if ok && (a.units == nil || hotkeyVK(a.vk) || hotkeyScan(uint32(a.scan))) {
			t.Errorf("%s: planned %+v", tc.name, a)
		}
	}
	// The injector's own check: a scan code the layout maps to F11.
	k := newKeyboard(nil, nil)
	k.vkOfScan = func(sc uint16) uint16 { return vkF11 }
	if in, ok := k.event(0, 0x1e, true); ok || len(in) != 0 {
		t.Errorf("a scan code the layout maps to F11 was sent: %+v", in)
	}
}

// A key sent by scan code alone carries the virtual key the customer's
// layout has there too (Windows ignores it, Wine 8 needs it), extended
// keys looked up with the 0xe0 prefix; the release is the same.
func TestScanCodeCarriesLayoutVK(t *testing.T) {
	k := newKeyboard(nil, nil)
	k.vkOfScan = func(sc uint16) uint16 {
		switch sc {
		case 0x1e:
			return 'A'
		case 0xe05c:
			return vkRWin
		}
		return 0
	}
	for _, tc := range []struct {
		ks, scan uint32
		vk, sc   uint16
		flags    uint32
	}{
		{xkVoidSymbol, 0x1e, 'A', 0x1e, keyeventfScanCode},
		{0x12345678, 0xdc, vkRWin, 0x5c, keyeventfScanCode | keyeventfExtendedKey},
	} {
		down, ok := k.event(tc.ks, tc.scan, true)
		up, _ := k.event(tc.ks, tc.scan, false)
		if !ok || len(down) != 1 || len(up) != 1 {
			t.Fatalf("%#x/%#x: %+v %+v %v", tc.ks, tc.scan, down, up, ok)
		}
		if ki := down[0].ki; ki.vk != tc.vk || ki.scan != tc.sc || ki.flags != tc.flags {
			t.Errorf("%#x/%#x press: %+v", tc.ks, tc.scan, ki)
		}
		if ki := up[0].ki; ki.vk != tc.vk || ki.flags != tc.flags|keyeventfKeyUp {
			t.Errorf("%#x/%#x release: %+v", tc.ks, tc.scan, ki)
		}
	}
}

func TestParseVkKeyScan(t *testing.T) {
	for _, tc := range []struct {
		v     uint16
		vk    uint16
		shift uint8
		ok    bool
	}{
		{0x0041, 0x41, 0, true},
		{0x0131, 0x31, 1, true}, // '!' on US: Shift+1
		{0x0651, 0x51, 6, true}, // '@' on German: Ctrl+Alt+Q
		{0xffff, 0, 0, false},
		{0x00ff, 0, 0, false},
	} {
		vk, shift, ok := parseVkKeyScan(tc.v)
		if vk != tc.vk || shift != tc.shift || ok != tc.ok {
			t.Errorf("parseVkKeyScan(%#x) = %#x, %d, %v", tc.v, vk, shift, ok)
		}
	}
}

// Keysyms that stand for an XKB action on X11 (Terminate_Server, the
// pointer keys, AccessX, ISO_Lock) type nothing on Windows either, not even
// through the scan code a QEMU event carries with them (issue 12 item 11).
func TestPlanKeyActionKeysyms(t *testing.T) {
	for _, ks := range []uint32{0xfed5, 0xfee0, 0xfee9, 0xfef9, 0xfe01, 0xfe70, 0xfe71} {
		for _, scan := range []uint32{0, 0x1e, 0x3b} {
			if a, ok := planKey(ks, scan, false, nil); ok {
				t.Errorf("keysym %#x with scan code %#x: %+v", ks, scan, a)
			}
		}
	}
}
