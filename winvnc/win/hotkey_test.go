package win

import "testing"

func TestHookKeys(t *testing.T) {
	h := newHookKeys()
	h.watched[vkF11] = xkF11 // F12 is registered; F11 is the hook's
	for _, tc := range []struct {
		name           string
		vk             uint16
		down, injected bool
		report         uint32
		swallow        bool
	}{
		{"a letter", 'A', true, false, 0, false},
		{"an injected letter", 'A', true, true, 0, false},
		{"injected F12", vkF12, true, true, 0, true},
		{"injected F12 up", vkF12, false, true, 0, true},
		{"the customer's F12 (registered)", vkF12, true, false, 0, false},
		{"injected F11", vkF11, true, true, 0, true},
		{"the customer's F11", vkF11, true, false, xkF11, true},
		{"F11 auto-repeat", vkF11, true, false, 0, true},
		{"F11 up", vkF11, false, false, 0, true},
		{"F11 again", vkF11, true, false, xkF11, true},
		{"F10", vkF1 + 9, true, false, 0, false},
	} {
		report, swallow := h.key(tc.vk, tc.down, tc.injected)
		if report != tc.report || swallow != tc.swallow {
			t.Errorf("%s: report %#x swallow %v; want %#x %v", tc.name, report, swallow, tc.report, tc.swallow)
		}
	}
}
