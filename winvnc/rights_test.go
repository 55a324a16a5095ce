package winvnc

import (
	"testing"
	"time"

	"lifebuoy/rfb"
)

// recorder is an Injector that remembers what reached it.
type recorder struct {
	keys     []rfb.KeyEvent
	pointers []rfb.PointerEvent
	releases int
}

func (r *recorder) Key(ev rfb.KeyEvent)         { r.keys = append(r.keys, ev) }
func (r *recorder) Pointer(ev rfb.PointerEvent) { r.pointers = append(r.pointers, ev) }
func (r *recorder) ReleaseAll()                 { r.releases++ }

func TestRightsViewOnlyAtStart(t *testing.T) {
	in := &recorder{}
	r := NewRights(in)
	r.Key(rfb.KeyEvent{Down: true, Keysym: 'a'})
	r.Pointer(rfb.PointerEvent{X: 10, Y: 10})
	if len(in.keys)+len(in.pointers) != 0 {
		t.Fatalf("view-only passed input: %v %v", in.keys, in.pointers)
	}
	if got := r.Dropped(); got != 2 {
		t.Fatalf("dropped = %d, want 2", got)
	}
	if got, want := r.String(), "control=off files=off dropped=2"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestRightsControl(t *testing.T) {
	in := &recorder{}
	r := NewRights(in)
	if !r.SetControl(true) || r.SetControl(true) {
		t.Fatal("SetControl(true) should change once")
	}
	r.Key(rfb.KeyEvent{Down: true, Keysym: 'a'})
	r.Pointer(rfb.PointerEvent{Buttons: 1, X: 3, Y: 4})
	if len(in.keys) != 1 || len(in.pointers) != 1 {
		t.Fatalf("control on: keys %v pointers %v", in.keys, in.pointers)
	}
	// The hotkeys never pass, with control or without.
	for _, ks := range []uint32{KeysymF11, KeysymF12} {
		r.Key(rfb.KeyEvent{Down: true, Keysym: ks})
		r.Key(rfb.KeyEvent{Down: false, Keysym: ks})
	}
	if len(in.keys) != 1 || r.Dropped() != 4 {
		t.Fatalf("F11/F12 passed: keys %v dropped %d", in.keys, r.Dropped())
	}
	if !r.SetControl(false) || in.releases != 1 {
		t.Fatalf("revoke: releases = %d, want 1", in.releases)
	}
	if r.SetControl(false) || in.releases != 1 {
		t.Fatal("a second revoke changed something")
	}
	r.Key(rfb.KeyEvent{Down: true, Keysym: 'b'})
	if len(in.keys) != 1 {
		t.Fatal("input passed after revoke")
	}
	if n := r.DroppedSinceSummary(); n != 5 {
		t.Fatalf("DroppedSinceSummary = %d, want 5", n)
	}
	if n := r.DroppedSinceSummary(); n != 0 {
		t.Fatalf("second DroppedSinceSummary = %d, want 0", n)
	}
}

func TestRightsFiles(t *testing.T) {
	r := NewRights(nil)
	if r.Files() {
		t.Fatal("files allowed at start")
	}
	if !r.ToggleFiles() || !r.Files() || r.ToggleFiles() {
		t.Fatal("ToggleFiles does not toggle")
	}
	if !r.SetFiles(true) || r.SetFiles(true) || !r.Files() {
		t.Fatal("SetFiles")
	}
	// No injector: control can be set but input is still dropped.
	r.SetControl(true)
	r.Key(rfb.KeyEvent{Keysym: 'a'})
	if r.Dropped() != 1 {
		t.Fatal("input without injector not counted")
	}
}

// The customer's hotkeys never reach the injector, with control or
// without: not as keysyms, and not as the scancodes of QEMU extended key
// events with any keysym (Windows would inject the scancode as F11 and
// grant files to the supporter).
func TestRightsNeverHotkeys(t *testing.T) {
	for _, ev := range []rfb.KeyEvent{
		{Down: true, Keysym: KeysymF11},
		{Down: true, Keysym: KeysymF12},
		{Down: false, Keysym: KeysymF12},
		{Down: true, Keysym: KeysymF11, Keycode: scancodeF11},
		{Down: true, Keysym: 'a', Keycode: scancodeF11},
		{Down: true, Keysym: 0, Keycode: scancodeF12},
		{Down: true, Keysym: 0xffffff, Keycode: scancodeF11}, // VoidSymbol
		{Down: true, Keysym: 0x1008ff1d, Keycode: scancodeF12},
		{Down: true, Keysym: 0xff0d, Keycode: 0x80 | scancodeF11},
		{Down: false, Keysym: 'a', Keycode: scancodeF11},
	} {
		in := &recorder{}
		r := NewRights(in)
		r.SetControl(true)
		r.Key(ev)
		if len(in.keys) != 0 || r.Dropped() != 1 {
			t.Errorf("%+v passed (dropped %d)", ev, r.Dropped())
		}
	}
	// The scancodes of other keys pass with their keysyms.
	in := &recorder{}
	r := NewRights(in)
	r.SetControl(true)
	r.Key(rfb.KeyEvent{Down: true, Keysym: 'a', Keycode: 0x1e})
	r.Key(rfb.KeyEvent{Down: true, Keysym: 0xffbe + 9, Keycode: 0x44}) // F10
	if len(in.keys) != 2 {
		t.Errorf("ordinary keys were dropped: %+v", in.keys)
	}
}

// fakeConfiner shares the rectangle (10,10)-(50,50); the focus is shared
// when focusShared is set.
type fakeConfiner struct{ focusShared bool }

func (c *fakeConfiner) KeyAllowed() bool { return c.focusShared }
func (c *fakeConfiner) PointerAllowed(x, y int) bool {
	return x >= 10 && x < 50 && y >= 10 && y < 50
}

// With application selection, input goes only to the shared windows: a
// key press while a masked window has the focus is dropped (its release
// passes, as releases of keys never pressed do nothing), a click or a move
// outside the shared area is dropped, and a drag that leaves it is
// released where it last was inside.
func TestRightsConfined(t *testing.T) {
	in := &recorder{}
	c := &fakeConfiner{}
	r := NewRights(in)
	r.SetConfiner(c)
	r.SetControl(true)

	r.Key(rfb.KeyEvent{Down: true, Keysym: 'a'})
	r.Key(rfb.KeyEvent{Down: false, Keysym: 'a'})
	if len(in.keys) != 1 || in.keys[0].Down || r.Dropped() != 1 {
		t.Fatalf("key to a masked window: %+v, dropped %d", in.keys, r.Dropped())
	}
	c.focusShared = true
	r.Key(rfb.KeyEvent{Down: true, Keysym: 'b'})
	if len(in.keys) != 2 || !in.keys[1].Down {
		t.Fatalf("key to a shared window: %+v", in.keys)
	}

	r.Pointer(rfb.PointerEvent{X: 70, Y: 70})             // move outside
	r.Pointer(rfb.PointerEvent{Buttons: 1, X: 70, Y: 70}) // click outside
	if len(in.pointers) != 0 || r.Dropped() != 3 {
		t.Fatalf("pointer outside: %+v, dropped %d", in.pointers, r.Dropped())
	}
	r.Pointer(rfb.PointerEvent{X: 20, Y: 20})
	r.Pointer(rfb.PointerEvent{Buttons: 1, X: 20, Y: 20}) // press inside
	r.Pointer(rfb.PointerEvent{Buttons: 1, X: 90, Y: 90}) // dragged outside
	r.Pointer(rfb.PointerEvent{Buttons: 0, X: 95, Y: 95}) // released outside
	want := []rfb.PointerEvent{{X: 20, Y: 20}, {Buttons: 1, X: 20, Y: 20}, {Buttons: 0, X: 20, Y: 20}}
	if len(in.pointers) != len(want) {
		t.Fatalf("drag: %+v, want %+v", in.pointers, want)
	}
	for i, p := range in.pointers {
		if p != want[i] {
			t.Errorf("drag event %d: %+v, want %+v", i, p, want[i])
		}
	}
}

// What Files and Control allowed stops before the change returns:
// OnFilesOff runs under the lock as Files goes off (by SetFiles and by
// F11), WithFiles and WithControl run only under their grant, and a
// change waits for one that is running.
func TestRightsGates(t *testing.T) {
	r := NewRights(nil)
	offs := 0
	r.OnFilesOff(func() { offs++ })
	if r.WithFiles(func() { t.Error("ran without Files") }) || r.WithControl(func() { t.Error("ran without Control") }) {
		t.Fatal("a gate passed at start")
	}
	r.SetFiles(true)
	r.SetControl(true)
	if !r.WithFiles(func() {}) || !r.WithControl(func() {}) {
		t.Fatal("a gate refused under its grant")
	}
	if r.SetFiles(false); offs != 1 {
		t.Fatalf("SetFiles(false): OnFilesOff ran %d times, want 1", offs)
	}
	r.SetFiles(false)
	r.ToggleFiles()
	if r.ToggleFiles(); offs != 2 {
		t.Fatalf("F11 off: OnFilesOff ran %d times, want 2 in all", offs)
	}

	// F12 while a paste holds the grant: the revoke waits for it, and
	// nothing passes after it.
	inPaste, release := make(chan struct{}), make(chan struct{})
	go r.WithControl(func() { close(inPaste); <-release })
	<-inPaste
	revoked := make(chan struct{})
	go func() { r.SetControl(false); close(revoked) }()
	select {
	case <-revoked:
		t.Fatal("SetControl(false) returned while a paste held the grant")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-revoked
	if r.WithControl(func() {}) {
		t.Fatal("a paste passed after the revoke")
	}
}
