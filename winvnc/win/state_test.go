package win

import (
	"image"
	"slices"
	"testing"
	"time"

	"lifebuoy/rfb"
)

// usLayout is a stand-in for VkKeyScanW on a US layout: letters only.
func usLayout(r rune) (uint16, bool) {
	switch {
	case r >= 'a' && r <= 'z':
		return uint16(r - 'a' + 'A'), true
	case r >= 'A' && r <= 'Z':
		return uint16(r), true
	}
	return 0, false
}

func fakeScan(vk uint16) uint16 { return vk + 0x100 }

func TestKeyboardShortcut(t *testing.T) {
	k := newKeyboard(usLayout, fakeScan)
	in, ok := k.event(xkControlL, 0, true)
	if !ok || len(in) != 1 || in[0].ki.vk != vkLControl || in[0].ki.scan != vkLControl+0x100 {
		t.Fatalf("Control_L down: %+v", in)
	}
	in, _ = k.event('c', 0, true)
	if len(in) != 1 || in[0].ki.vk != 'C' || in[0].ki.flags&keyeventfUnicode != 0 {
		t.Fatalf("c with Ctrl: %+v", in)
	}
	// The layout changes while c is held: the release still matches.
	k.layoutKey = nil
	in, _ = k.event('c', 0, false)
	if len(in) != 1 || in[0].ki.vk != 'C' || in[0].ki.flags != keyeventfKeyUp {
		t.Fatalf("c up: %+v", in)
	}
	k.event(xkControlL, 0, false)
	k.layoutKey = usLayout
	in, _ = k.event('c', 0, true)
	if len(in) != 1 || in[0].ki.flags != keyeventfUnicode || in[0].ki.scan != 'c' {
		t.Fatalf("c without Ctrl: %+v", in)
	}
}

func TestKeyboardRepeatAndStrayRelease(t *testing.T) {
	k := newKeyboard(nil, nil)
	a, _ := k.event(xkLeft, 0, true)
	b, _ := k.event(xkLeft, 0, true) // auto-repeat
	if !slices.Equal(a, b) || len(k.pressed) != 1 {
		t.Errorf("repeat: %+v vs %+v", a, b)
	}
	if in, ok := k.event(xkRight, 0, false); !ok || in != nil {
		t.Errorf("stray release sent %+v", in)
	}
	if _, ok := k.event(0x0, 0, true); ok {
		t.Error("keysym 0 accepted")
	}
	if len(k.pressed) != 1 {
		t.Errorf("pressed = %v", k.pressed)
	}
}

func TestKeyboardReleaseAll(t *testing.T) {
	k := newKeyboard(usLayout, nil)
	for _, ks := range []uint32{xkShiftL, xkControlR, 'a', 0x0101f600, xkF5} {
		k.event(ks, 0, true)
	}
	in := k.releaseAll()
	// a (VK), 😀 (two units), F5, then Shift_L and Control_R.
	if len(in) != 6 {
		t.Fatalf("%d events: %+v", len(in), in)
	}
	for i, e := range in {
		if e.ki.flags&keyeventfKeyUp == 0 {
			t.Errorf("event %d is not a release: %+v", i, e)
		}
		isMod := e.ki.vk == vkLShift || e.ki.vk == vkRControl
		if isMod != (i >= 4) {
			t.Errorf("event %d (%+v) out of order: modifiers go last", i, e.ki)
		}
	}
	if len(k.pressed) != 0 || k.releaseAll() != nil {
		t.Error("keys still held after releaseAll")
	}
	if in, _ := k.event('a', 0, false); in != nil {
		t.Errorf("release after releaseAll sent %+v", in)
	}
}

const xkF5 = xkF1 + 4

func TestPointerState(t *testing.T) {
	var p pointer
	screen := image.Rect(0, 0, 100, 100)
	in := p.event(0, image.Pt(10, 10), screen)
	if len(in) != 1 || in[0].mi.flags&mouseeventfMove == 0 {
		t.Fatalf("first event: %+v", in)
	}
	if in := p.event(0, image.Pt(10, 10), screen); len(in) != 0 {
		t.Errorf("same position moved again: %+v", in)
	}
	in = p.event(1|4|128, image.Pt(10, 10), screen)
	if len(in) != 3 || in[0].mi.flags&mouseeventfMove == 0 {
		t.Fatalf("three presses, the first with the move: %+v", in)
	}
	in = p.releaseAll()
	var flags uint32
	for _, e := range in {
		flags |= e.mi.flags
	}
	if len(in) != 3 || flags != mouseeventfLeftUp|mouseeventfRightUp|mouseeventfXUp {
		t.Errorf("releaseAll: %+v", in)
	}
	if in := p.releaseAll(); len(in) != 0 {
		t.Errorf("second releaseAll: %+v", in)
	}
}

func TestPublishFrame(t *testing.T) {
	const w, h = 130, 70
	fb := rfb.NewFramebuffer(1, 1)
	pix, stride := frame(w, h)
	for i := range pix {
		pix[i] = byte(i * 7)
	}
	prev := make([]byte, len(pix))
	if changed, stale := publishFrame(fb, pix, prev, w, h, false, true, nil); changed != w*h || stale {
		t.Fatalf("resize: %v %v", changed, stale)
	}
	same := func() {
		t.Helper()
		img := fb.Snapshot()
		if img.W != w || img.H != h {
			t.Fatalf("fb is %dx%d", img.W, img.H)
		}
		for y := range h {
			if !slices.Equal(img.Pix[y*img.Stride:y*img.Stride+w*4], pix[y*stride:y*stride+w*4]) {
				t.Fatalf("row %d differs", y)
			}
		}
		if !slices.Equal(prev, pix) {
			t.Fatal("prev is not the frame")
		}
	}
	same()
	if changed, _ := publishFrame(fb, pix, prev, w, h, false, false, nil); changed != 0 {
		t.Error("unchanged frame reported as changed")
	}
	poke(pix, stride, 129, 69)
	if changed, _ := publishFrame(fb, pix, prev, w, h, false, false, nil); changed != 2*6 { // the last tile: 2×6
		t.Errorf("change of one pixel: %d pixels sent, want its tile's 12", changed)
	}
	same()
	if changed, _ := publishFrame(fb, pix, prev, w, h, true, false, nil); changed != w*h {
		t.Error("full refresh not sent")
	}
	fb.Resize(5, 5, nil)
	poke(pix, stride, 0, 0)
	if changed, stale := publishFrame(fb, pix, prev, w, h, false, false, nil); changed != 0 || !stale {
		t.Errorf("after a foreign resize: changed %v stale %v", changed, stale)
	}
}

// The pacer polls fast while the screen is busy and slowly once it is
// quiet, and a blinking caret (a small change every half second) does
// not keep it busy; typing (small changes in quick succession) and large
// changes do.
func TestPacer(t *testing.T) {
	const fast, slow, idle = 33 * time.Millisecond, 250 * time.Millisecond, time.Second
	p := pacer{fast: fast, slow: slow, idle: idle}
	now := time.Unix(1000, 0)
	step := func(d time.Duration, area int) time.Duration {
		now = now.Add(d)
		return p.next(now, area, false)
	}
	if got := step(0, 800*600); got != fast {
		t.Fatalf("after a large change: %v", got)
	}
	if got := step(999*time.Millisecond, 0); got != fast {
		t.Fatalf("within idle of it: %v", got)
	}
	if got := step(time.Millisecond, 0); got != slow {
		t.Fatalf("idle: %v", got)
	}
	// A caret blinking for ten seconds, a toggle every 530 ms, caught by
	// polls every 250 ms: the changes are seen 250 to 750 ms apart.
	fastPolls := 0
	for i := range 19 {
		gap := []time.Duration{250, 750, 500, 500}[i%4] * time.Millisecond
		if step(gap, tileSize*tileSize) == fast {
			fastPolls++
		}
	}
	if fastPolls != 0 {
		t.Errorf("a blinking caret made %d fast polls", fastPolls)
	}
	// Typing: a tile every 150 ms.
	for range 3 {
		step(150*time.Millisecond, tileSize*tileSize)
	}
	if got := step(150*time.Millisecond, tileSize*tileSize); got != fast {
		t.Errorf("typing: %v", got)
	}
	if got := p.next(now, 0, true); got != slow {
		t.Errorf("failing: %v", got)
	}
	if area([]image.Rectangle{image.Rect(0, 0, 10, 10), image.Rect(5, 5, 7, 8)}) != 106 {
		t.Error("area")
	}
}
