//go:build linux

package x11

import (
	"fmt"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// Hotkeys grabs keys on the root window, so that their presses reach the
// agent whichever window has the focus: F12 (revoke control) and F11
// (toggle file transfer). Each press is sent on C; presses are dropped
// when C is full.
//
// The X server cannot tell the customer's keyboard from XTEST, so a
// grabbed key injected by an Injector is reported on C too, and does not
// reach the applications.
type Hotkeys struct {
	C <-chan uint32 // keysyms of grabbed keys as they are pressed

	d      *Display
	c      chan uint32
	mu     sync.Mutex
	grabs  map[byte]uint32 // keycode → keysym
	mods   []uint16        // modifier combinations grabbed per key
	remove func()
	closed bool
}

// NewHotkeys returns a Hotkeys with nothing grabbed yet.
func NewHotkeys(d *Display) (*Hotkeys, error) {
	// Grab with any modifier held or locked: a supporter with control
	// could otherwise hold or lock one (Shift, Mod5, Caps Lock) so that
	// the customer's F12 no longer matches the grab.
	h := &Hotkeys{d: d, c: make(chan uint32, 16), grabs: map[byte]uint32{}, mods: []uint16{xproto.ModMaskAny}}
	h.C = h.c
	h.remove = d.handle(h.filter)
	return h, nil
}

func (h *Hotkeys) filter(ev xgb.Event) {
	kp, ok := ev.(xproto.KeyPressEvent)
	if !ok {
		return
	}
	h.mu.Lock()
	ks, ok := h.grabs[byte(kp.Detail)]
	h.mu.Unlock()
	if !ok {
		return
	}
	select {
	case h.c <- ks:
	default:
	}
}

// GrabKey grabs the key that produces keysym, whatever modifiers are
// held or locked.
func (h *Hotkeys) GrabKey(keysym uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return fmt.Errorf("x11: hotkeys closed")
	}
	return guard(func() error {
		km, err := h.d.keyboard()
		if err != nil {
			return err
		}
		kc, _, ok := km.lookup(keysym, false)
		if !ok {
			return fmt.Errorf("x11: keysym %#x is not on the keyboard", keysym)
		}
		for _, m := range h.mods {
			err := xproto.GrabKeyChecked(h.d.conn, true, h.d.root, m, xproto.Keycode(kc),
				xproto.GrabModeAsync, xproto.GrabModeAsync).Check()
			if err != nil {
				// BadAccess: another client (a desktop's shortcut daemon) holds it.
				return fmt.Errorf("x11: grab keysym %#x: %w", keysym, err)
			}
		}
		h.grabs[kc] = keysym
		return nil
	})
}

// Close ungrabs every key.
func (h *Hotkeys) Close() error {
	h.remove() // outside h.mu: the reader calls filter, which takes it
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	return guard(func() error {
		var first error
		for kc := range h.grabs {
			for _, m := range h.mods {
				if err := xproto.UngrabKeyChecked(h.d.conn, xproto.Keycode(kc), h.d.root, m).Check(); err != nil && first == nil {
					first = err
				}
			}
		}
		clear(h.grabs)
		return first
	})
}
