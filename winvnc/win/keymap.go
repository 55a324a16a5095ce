package win

import (
	"unicode/utf16"

	"lifebuoy/winvnc/internal/keysyms"
)

// Virtual-key codes (winuser.h) that the tables and the hotkeys use.
const (
	vkCancel   = 0x03
	vkBack     = 0x08
	vkTab      = 0x09
	vkClear    = 0x0c
	vkReturn   = 0x0d
	vkPause    = 0x13
	vkCapital  = 0x14
	vkEscape   = 0x1b
	vkSpace    = 0x20
	vkPrior    = 0x21
	vkNext     = 0x22
	vkEnd      = 0x23
	vkHome     = 0x24
	vkLeft     = 0x25
	vkUp       = 0x26
	vkRight    = 0x27
	vkDown     = 0x28
	vkSelect   = 0x29
	vkExecute  = 0x2b
	vkSnapshot = 0x2c
	vkInsert   = 0x2d
	vkDelete   = 0x2e
	vkHelp     = 0x2f
	vkLWin     = 0x5b
	vkRWin     = 0x5c
	vkApps     = 0x5d
	vkNumpad0  = 0x60
	vkMultiply = 0x6a
	vkAdd      = 0x6b
	vkSep      = 0x6c
	vkSubtract = 0x6d
	vkDecimal  = 0x6e
	vkDivide   = 0x6f
	vkF1       = 0x70 // VK_F1 … VK_F24 are 0x70 … 0x87
	vkF11      = 0x7a
	vkF12      = 0x7b
	vkNumLock  = 0x90
	vkScroll   = 0x91
	vkLShift   = 0xa0
	vkRShift   = 0xa1
	vkLControl = 0xa2
	vkRControl = 0xa3
	vkLMenu    = 0xa4 // left Alt
	vkRMenu    = 0xa5 // right Alt (AltGr)

	vkVolumeMute     = 0xad
	vkVolumeDown     = 0xae
	vkVolumeUp       = 0xaf
	vkMediaNextTrack = 0xb0
	vkMediaPrevTrack = 0xb1
	vkMediaStop      = 0xb2
	vkMediaPlayPause = 0xb3
)

// vkey is a virtual key and whether its scan code has the 0xE0 prefix
// (KEYEVENTF_EXTENDEDKEY): the navigation block, the right-hand Ctrl and
// Alt, the Windows keys, keypad Enter and Divide, Num Lock, Print Screen.
// Without the flag Windows takes, for example, Home for keypad 7.
type vkey struct {
	vk  uint16
	ext bool
}

// X keysyms of the keys that do not type a character. Names follow
// X11/keysymdef.h.
const (
	xkBackSpace  = 0xff08
	xkTab        = 0xff09
	xkClear      = 0xff0b
	xkReturn     = 0xff0d
	xkPause      = 0xff13
	xkScrollLk   = 0xff14
	xkEscape     = 0xff1b
	xkHome       = 0xff50
	xkLeft       = 0xff51
	xkUp         = 0xff52
	xkRight      = 0xff53
	xkDown       = 0xff54
	xkPrior      = 0xff55
	xkNext       = 0xff56
	xkEnd        = 0xff57
	xkSelect     = 0xff60
	xkPrint      = 0xff61
	xkExecute    = 0xff62
	xkInsert     = 0xff63
	xkMenu       = 0xff67
	xkCancel     = 0xff69
	xkHelp       = 0xff6a
	xkBreak      = 0xff6b
	xkNumLock    = 0xff7f
	xkKPTab      = 0xff89
	xkKPEnter    = 0xff8d
	xkKPHome     = 0xff95
	xkKPLeft     = 0xff96
	xkKPUp       = 0xff97
	xkKPRight    = 0xff98
	xkKPDown     = 0xff99
	xkKPPrior    = 0xff9a
	xkKPNext     = 0xff9b
	xkKPEnd      = 0xff9c
	xkKPBegin    = 0xff9d
	xkKPInsert   = 0xff9e
	xkKPDelete   = 0xff9f
	xkKPMul      = 0xffaa
	xkKPAdd      = 0xffab
	xkKPSep      = 0xffac
	xkKPSub      = 0xffad
	xkKPDecimal  = 0xffae
	xkKPDivide   = 0xffaf
	xkKP0        = 0xffb0 // … xkKP0+9 is KP_9
	xkF1         = 0xffbe // … xkF1+23 is F24
	xkF11        = 0xffc8
	xkF12        = 0xffc9
	xkShiftL     = 0xffe1
	xkShiftR     = 0xffe2
	xkControlL   = 0xffe3
	xkControlR   = 0xffe4
	xkCapsLock   = 0xffe5
	xkAltL       = 0xffe9
	xkAltR       = 0xffea
	xkSuperL     = 0xffeb
	xkSuperR     = 0xffec
	xkDelete     = 0xffff
	xkVoidSymbol = 0xffffff
	xkLevel3     = 0xfe03 // ISO_Level3_Shift, AltGr on X
	xkLeftTab    = 0xfe20 // ISO_Left_Tab, Shift+Tab on X
	xkSpace      = 0x0020

	xkAudioLowerVolume = 0x1008ff11
	xkAudioMute        = 0x1008ff12
	xkAudioRaiseVolume = 0x1008ff13
	xkAudioPlay        = 0x1008ff14
	xkAudioStop        = 0x1008ff15
	xkAudioPrev        = 0x1008ff16
	xkAudioNext        = 0x1008ff17
)

// keysymVK maps the keysyms of keys that do not type a character to
// virtual keys. Keypad navigation keysyms (KP_Home …, sent with Num Lock
// off) map to the plain navigation VKs without the extended flag, which
// is what the keypad itself produces. Meta_L/R are left out: viewers
// disagree on what they mean.
var keysymVK = func() map[uint32]vkey {
	m := map[uint32]vkey{
		xkBackSpace: {vkBack, false},
		xkTab:       {vkTab, false},
		xkLeftTab:   {vkTab, false},
		xkClear:     {vkClear, false},
		xkReturn:    {vkReturn, false},
		xkPause:     {vkPause, false},
		xkScrollLk:  {vkScroll, false},
		xkEscape:    {vkEscape, false},
		xkSpace:     {vkSpace, false},
		xkHome:      {vkHome, true},
		xkLeft:      {vkLeft, true},
		xkUp:        {vkUp, true},
		xkRight:     {vkRight, true},
		xkDown:      {vkDown, true},
		xkPrior:     {vkPrior, true},
		xkNext:      {vkNext, true},
		xkEnd:       {vkEnd, true},
		xkSelect:    {vkSelect, false},
		xkPrint:     {vkSnapshot, true},
		xkExecute:   {vkExecute, false},
		xkInsert:    {vkInsert, true},
		xkDelete:    {vkDelete, true},
		xkMenu:      {vkApps, true},
		xkCancel:    {vkCancel, true},
		xkBreak:     {vkCancel, true},
		xkHelp:      {vkHelp, false},
		xkNumLock:   {vkNumLock, true},
		xkCapsLock:  {vkCapital, false},

		xkKPTab:     {vkTab, false},
		xkKPEnter:   {vkReturn, true},
		xkKPHome:    {vkHome, false},
		xkKPLeft:    {vkLeft, false},
		xkKPUp:      {vkUp, false},
		xkKPRight:   {vkRight, false},
		xkKPDown:    {vkDown, false},
		xkKPPrior:   {vkPrior, false},
		xkKPNext:    {vkNext, false},
		xkKPEnd:     {vkEnd, false},
		xkKPBegin:   {vkClear, false},
		xkKPInsert:  {vkInsert, false},
		xkKPDelete:  {vkDelete, false},
		xkKPMul:     {vkMultiply, false},
		xkKPAdd:     {vkAdd, false},
		xkKPSep:     {vkSep, false},
		xkKPSub:     {vkSubtract, false},
		xkKPDecimal: {vkDecimal, false},
		xkKPDivide:  {vkDivide, true},

		xkShiftL:   {vkLShift, false},
		xkShiftR:   {vkRShift, false}, // scan code 0x36, no prefix
		xkControlL: {vkLControl, false},
		xkControlR: {vkRControl, true},
		xkAltL:     {vkLMenu, false},
		xkAltR:     {vkRMenu, true},
		xkLevel3:   {vkRMenu, true},
		xkSuperL:   {vkLWin, true},
		xkSuperR:   {vkRWin, true},

		xkAudioLowerVolume: {vkVolumeDown, true},
		xkAudioMute:        {vkVolumeMute, true},
		xkAudioRaiseVolume: {vkVolumeUp, true},
		xkAudioPlay:        {vkMediaPlayPause, true},
		xkAudioStop:        {vkMediaStop, true},
		xkAudioPrev:        {vkMediaPrevTrack, true},
		xkAudioNext:        {vkMediaNextTrack, true},
	}
	for i := range uint32(10) {
		m[xkKP0+i] = vkey{uint16(vkNumpad0 + i), false}
	}
	for i := range uint32(24) {
		m[xkF1+i] = vkey{uint16(vkF1 + i), false}
	}
	return m
}()

// keysymRune returns the character a printable keysym types (see
// keysyms.Rune).
func keysymRune(ks uint32) (rune, bool) { return keysyms.Rune(ks) }

// keyAction is what a key press sent, kept so that its release sends the
// matching events even if the layout changed in between.
type keyAction struct {
	vk    uint16   // virtual key, or 0
	scan  uint16   // hardware scan code: informational with vk, alone KEYEVENTF_SCANCODE
	ext   bool     // KEYEVENTF_EXTENDEDKEY
	units []uint16 // UTF-16 code units for KEYEVENTF_UNICODE; then vk and scan are 0

	// scanVK is, for a key sent by scan code alone (vk 0), the virtual
	// key the customer's layout has there. Windows ignores wVk with
	// KEYEVENTF_SCANCODE; Wine 8 does not map the scan code and types
	// nothing without it.
	scanVK uint16
}

// shortcut reports whether the action is a virtual key that, held, turns
// typed characters into shortcuts: Ctrl, Alt and the Windows keys.
func (a keyAction) shortcut() bool {
	switch a.vk {
	case vkLControl, vkRControl, vkLMenu, vkRMenu, vkLWin, vkRWin:
		return true
	}
	return false
}

// modifier reports whether the action is a modifier key: Shift or a
// shortcut modifier.
func (a keyAction) modifier() bool {
	return a.shortcut() || a.vk == vkLShift || a.vk == vkRShift
}

// inputs returns the keyboard events for pressing (up false) or releasing
// the key. A character beyond the BMP is its two surrogates in order, so
// that the application receives them as consecutive WM_CHARs.
func (a keyAction) inputs(up bool) []keybdINPUT {
	var f uint32
	if up {
		f |= keyeventfKeyUp
	}
	if a.units != nil {
		out := make([]keybdINPUT, len(a.units))
		for i, u := range a.units {
			out[i] = keybdINPUT{typ: inputKeyboard, ki: keybdInput{scan: u, flags: f | keyeventfUnicode}}
		}
		return out
	}
	if a.ext {
		f |= keyeventfExtendedKey
	}
	vk := a.vk
	if a.vk == 0 {
		f |= keyeventfScanCode
		vk = a.scanVK
	}
	return []keybdINPUT{{typ: inputKeyboard, ki: keybdInput{vk: vk, scan: a.scan, flags: f}}}
}

// The customer's hotkeys, F11 and F12, as XT scan codes (QEMU extended
// key events carry these).
const (
	scanF11 = 0x57
	scanF12 = 0x58
)

// planKey decides how to press keysym ks. Keys that type no character
// come from keysymVK. A character is sent as a virtual key when a
// shortcut modifier is held and the customer's layout has a key for it
// (vkScan, VkKeyScanW), because applications only see Ctrl+C as a
// virtual key; otherwise as KEYEVENTF_UNICODE, which types any character
// whatever the layout and whatever Shift state the viewer sent. The
// viewer's XT scancode (QEMU extended key event, 0 if none) is sent as a
// scan code only for a keysym that says nothing (0, VoidSymbol) or is a
// vendor's (0x10000000 and up): for anything else the keysym decides, not
// the customer's layout. Dead keys type nothing. ok is false when nothing
// fits.
//
// F11 and F12 are the customer's hotkeys (see Hotkeys): planKey never
// presses them, from a keysym, a virtual key or a scan code, so that a
// supporter cannot fire them.
func planKey(ks, xtScancode uint32, shortcutHeld bool, vkScan func(rune) (vk uint16, ok bool)) (a keyAction, ok bool) {
	if k, ok := keysymVK[ks]; ok {
		if hotkeyVK(k.vk) {
			return keyAction{}, false
		}
		return keyAction{vk: k.vk, ext: k.ext}, true
	}
	if r, ok := keysymRune(ks); ok {
		if shortcutHeld && vkScan != nil {
			if vk, ok := vkScan(r); ok && !hotkeyVK(vk) {
				return keyAction{vk: vk}, true
			}
		}
		return keyAction{units: utf16.Encode([]rune{r})}, true
	}
	silent := ks == 0 || ks == xkVoidSymbol || ks >= 0x10000000
	if xtScancode != 0 && silent && !hotkeyScan(xtScancode) {
		return keyAction{scan: uint16(xtScancode & 0x7f), ext: xtScancode&0x80 != 0}, true
	}
	return keyAction{}, false
}

// hotkeyVK reports whether vk is one of the customer's hotkeys.
func hotkeyVK(vk uint16) bool { return vk == vkF11 || vk == vkF12 }

// hotkeyScan reports whether an XT scancode (with 0x80 for the 0xE0
// prefix) is F11's or F12's, prefixed or not.
func hotkeyScan(sc uint32) bool { return sc&0x7f == scanF11 || sc&0x7f == scanF12 }

// parseVkKeyScan splits VkKeyScanW's result: the virtual key in the low
// byte and the shift state in the high byte, both 0xff (-1) when the
// layout has no key for the character.
func parseVkKeyScan(v uint16) (vk uint16, shift uint8, ok bool) {
	if v == 0xffff || v&0xff == 0xff {
		return 0, 0, false
	}
	return v & 0xff, uint8(v >> 8), true
}

// keyboard is an injector's key state: what each held keysym's press
// sent. The Windows side only passes the events it returns to SendInput.
type keyboard struct {
	pressed map[uint32]keyAction

	// layoutKey returns the virtual key that types a character on the
	// customer's layout (VkKeyScanW); scanCode a virtual key's scan code,
	// and vkOfScan a scan code's virtual key (MapVirtualKeyW). Any may be
	// nil.
	layoutKey func(rune) (uint16, bool)
	scanCode  func(vk uint16) uint16
	vkOfScan  func(scan uint16) uint16
}

func newKeyboard(layoutKey func(rune) (uint16, bool), scanCode func(uint16) uint16) *keyboard {
	return &keyboard{pressed: map[uint32]keyAction{}, layoutKey: layoutKey, scanCode: scanCode}
}

// event returns the events for a key press or release. A release of a
// keysym not held (never pressed, or released by releaseAll) sends
// nothing; a press of one held (a viewer's auto-repeat) sends the same
// press again. ok is false for a keysym no key fits.
func (k *keyboard) event(ks, xtScancode uint32, down bool) (in []keybdINPUT, ok bool) {
	a, held := k.pressed[ks]
	if !down {
		if !held {
			return nil, true
		}
		delete(k.pressed, ks)
		return a.inputs(true), true
	}
	if !held {
		if a, ok = planKey(ks, xtScancode, k.shortcutHeld(), k.layoutKey); !ok {
			return nil, false
		}
		if a.vk == 0 && a.units == nil && k.vkOfScan != nil {
			if a.scanVK = k.vkOfScan(a.scan | extScan(a.ext)); hotkeyVK(a.scanVK) {
				return nil, false // the customer's layout has F11 or F12 there
			}
		}
		if a.vk != 0 && a.scan == 0 && k.scanCode != nil {
			a.scan = k.scanCode(a.vk)
		}
		k.pressed[ks] = a
	}
	return a.inputs(false), true
}

// extScan is the prefix MapVirtualKeyW's MAPVK_VSC_TO_VK_EX wants on the
// scan code of an extended key (0xe0 in the high byte).
func extScan(ext bool) uint16 {
	if ext {
		return 0xe000
	}
	return 0
}

// shortcutHeld reports whether Ctrl, Alt or a Windows key is held.
func (k *keyboard) shortcutHeld() bool {
	for _, a := range k.pressed {
		if a.shortcut() {
			return true
		}
	}
	return false
}

// releaseAll returns the releases of every held key, ordinary keys
// before modifiers so that no release completes a shortcut, and forgets
// them.
func (k *keyboard) releaseAll() []keybdINPUT {
	var keys, mods []keybdINPUT
	for _, a := range k.pressed {
		if a.modifier() {
			mods = append(mods, a.inputs(true)...)
		} else {
			keys = append(keys, a.inputs(true)...)
		}
	}
	clear(k.pressed)
	return append(keys, mods...)
}
