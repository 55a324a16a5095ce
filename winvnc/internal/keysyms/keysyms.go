// Package keysyms knows which X keysyms stand for characters, for both of
// the agent's input layers: Windows types a keysym's character, and X11
// binds to spare keycodes only keysyms that type one (a keysym with an XKB
// action, such as Terminate_Server, would do that action instead).
//
//	r, ok := keysyms.Rune(0x20ac) // '€', true: the classic EuroSign
package keysyms

import (
	"cmp"
	"slices"
)

//go:generate go run gen.go

// Rune returns the character a keysym types: Latin-1 keysyms are their
// code point, 0x01000000|cp is the Unicode character cp, and the classic
// keysyms of other scripts and symbols (Latin-2 0x1a1 Ą, Greek 0x7d9 Ω,
// the euro sign 0x20ac …) are looked up in classicKeysyms: noVNC and
// TigerVNC send those where X has them. Control characters, surrogates
// and non-characters are no characters.
func Rune(ks uint32) (rune, bool) {
	var r rune
	switch {
	case ks >= 0x20 && ks <= 0x7e, ks >= 0xa0 && ks <= 0xff:
		return rune(ks), true
	case ks&0xff000000 == 0x01000000:
		r = rune(ks & 0x00ffffff)
	case ks < 0xff00:
		i, ok := slices.BinarySearchFunc(classicKeysyms[:], ks, func(e struct{ keysym, char uint16 }, ks uint32) int {
			return cmp.Compare(uint32(e.keysym), ks)
		})
		if !ok {
			return 0, false
		}
		r = rune(classicKeysyms[i].char)
	default:
		return 0, false
	}
	switch {
	case r < 0x20, r >= 0x7f && r < 0xa0, r > 0x10ffff,
		r >= 0xd800 && r <= 0xdfff, r&0xfffe == 0xfffe:
		return 0, false
	}
	return r, true
}
