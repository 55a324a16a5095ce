package keysyms

import "testing"

func TestClassicKeysymsTable(t *testing.T) {
	if len(classicKeysyms) < 700 {
		t.Fatalf("only %d classic keysyms", len(classicKeysyms))
	}
	for i, e := range classicKeysyms {
		if i > 0 && classicKeysyms[i-1].keysym >= e.keysym {
			t.Fatalf("not sorted at %d: %#x after %#x", i, e.keysym, classicKeysyms[i-1].keysym)
		}
		if e.keysym < 0x100 || e.char < 0x20 || e.char >= 0xd800 && e.char <= 0xdfff {
			t.Errorf("entry %#x → %#x", e.keysym, e.char)
		}
		if e.keysym >= 0xff00 {
			t.Errorf("keysym %#x: a function key's", e.keysym)
		}
	}
}
