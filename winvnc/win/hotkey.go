package win

// hookKeys is what the agent's low-level keyboard hook (WH_KEYBOARD_LL,
// see Hotkeys) does with each key event of the hotkeys' keys. Windows
// marks input that a program made (SendInput) with LLKHF_INJECTED, and
// the hook drops such presses of F11 and F12 before any window or
// registered hotkey sees them: a supporter's input, however it got
// through, never fires the customer's hotkeys. For the keys it watches
// the hook is the hotkey: it reports the customer's presses, once per
// press and with any modifiers, and keeps them from other programs and
// the focused window.
type hookKeys struct {
	watched map[uint16]uint32 // virtual key → keysym, where the hook is the hotkey
	down    map[uint16]bool   // watched keys held down
}

func newHookKeys() *hookKeys {
	return &hookKeys{watched: map[uint16]uint32{}, down: map[uint16]bool{}}
}

// key decides for one key event of virtual key vk: report is the keysym
// of a watched hotkey just pressed (0 for none), and swallow says the
// event goes no further.
func (h *hookKeys) key(vk uint16, down, injected bool) (report uint32, swallow bool) {
	if !hotkeyVK(vk) {
		return 0, false
	}
	if injected {
		return 0, true
	}
	ks, watched := h.watched[vk]
	if !watched {
		return 0, false // RegisterHotKey has it
	}
	if down && !h.down[vk] {
		report = ks
	}
	h.down[vk] = down
	return report, true
}
