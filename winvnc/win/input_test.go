package win

import (
	"image"
	"testing"
)

func TestPointerButtons(t *testing.T) {
	screen := image.Rect(0, 0, 1920, 1080)
	type ev struct {
		flags uint32
		data  int32
	}
	for _, tc := range []struct {
		name     string
		from, to uint8
		want     []ev
	}{
		{"left down", 0, 1, []ev{{mouseeventfLeftDown, 0}}},
		{"left up", 1, 0, []ev{{mouseeventfLeftUp, 0}}},
		{"middle down", 0, 2, []ev{{mouseeventfMiddleDown, 0}}},
		{"right down", 0, 4, []ev{{mouseeventfRightDown, 0}}},
		{"right up, left down", 4, 1, []ev{{mouseeventfLeftDown, 0}, {mouseeventfRightUp, 0}}},
		{"wheel up", 0, 8, []ev{{mouseeventfWheel, 120}}},
		{"wheel up release", 8, 0, nil},
		{"wheel down", 0, 16, []ev{{mouseeventfWheel, -120}}},
		{"wheel left", 0, 32, []ev{{mouseeventfHWheel, -120}}},
		{"wheel right", 0, 64, []ev{{mouseeventfHWheel, 120}}},
		{"back down", 0, 128, []ev{{mouseeventfXDown, xbutton1}}},
		{"back up", 128, 0, []ev{{mouseeventfXUp, xbutton1}}},
		{"drag with wheel", 1, 1 | 16, []ev{{mouseeventfWheel, -120}}},
		{"no change", 5, 5, nil},
	} {
		got := pointerInputs(tc.from, tc.to, image.Pt(0, 0), false, screen)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d events %+v, want %d", tc.name, len(got), got, len(tc.want))
			continue
		}
		for i, g := range got {
			if g.typ != inputMouse || g.mi.flags != tc.want[i].flags || int32(g.mi.mouseData) != tc.want[i].data {
				t.Errorf("%s: event %d = %+v, want %+v", tc.name, i, g, tc.want[i])
			}
		}
	}
}

func TestPointerMove(t *testing.T) {
	// Two monitors, the second left of the primary: origin (-1280, -200).
	screen := image.Rect(-1280, -200, 1920, 1080)
	got := pointerInputs(0, 1, image.Pt(1280, 200), true, screen) // the primary's (0, 0)
	if len(got) != 1 {
		t.Fatalf("%+v", got)
	}
	mv := got[0].mi
	if mv.flags != mouseeventfMove|mouseeventfAbsolute|mouseeventfVirtualDesk|mouseeventfLeftDown {
		t.Errorf("move and press in one event: flags %#x", mv.flags)
	}
	// Windows maps the normalised value back across the virtual screen.
	sx := screen.Min.X + int(mv.dx)*screen.Dx()/65536
	sy := screen.Min.Y + int(mv.dy)*screen.Dy()/65536
	if sx != 0 || sy != 0 {
		t.Errorf("move lands at screen (%d, %d), want (0, 0); dx %d dy %d", sx, sy, mv.dx, mv.dy)
	}
	if got := pointerInputs(0, 0, image.Pt(5, 5), true, screen); len(got) != 1 || got[0].mi.flags != mouseeventfMove|mouseeventfAbsolute|mouseeventfVirtualDesk {
		t.Errorf("a move alone: %+v", got)
	}
}

// TestAbsoluteRoundTrip checks that every pixel comes back as itself
// whether Windows truncates or rounds when it denormalises.
func TestAbsoluteRoundTrip(t *testing.T) {
	for _, size := range []int{1, 2, 3, 640, 1080, 1366, 1920, 3200, 5120, 7680, 16384, 32767} {
		for x := range size {
			n := int(absolute(x, size))
			if n < 0 || n > 65535 {
				t.Fatalf("size %d: absolute(%d) = %d out of range", size, x, n)
			}
			if size == 1 {
				continue
			}
			if floor := n * size / 65536; floor != x {
				t.Fatalf("size %d: x %d → %d → %d (floor)", size, x, n, floor)
			}
			if round := (n*size + 32768) / 65536; round != x {
				t.Fatalf("size %d: x %d → %d → %d (round)", size, x, n, round)
			}
		}
	}
	if got := absolute(-5, 100); got != absolute(0, 100) {
		t.Errorf("negative not clamped: %d", got)
	}
	if got := absolute(500, 100); got != absolute(99, 100) {
		t.Errorf("beyond the edge not clamped: %d", got)
	}
	if absolute(0, 1920) > 65535/1920 || absolute(1919, 1920) < 65535-65535/1920 {
		t.Errorf("ends: %d %d", absolute(0, 1920), absolute(1919, 1920))
	}
}

// A click lands where the supporter points even when the customer moved
// the mouse since the supporter's last event: every button change comes
// after a move to the supporter's position. A move to the same place
// with the same buttons sends nothing.
func TestPointerMovesBeforeButtons(t *testing.T) {
	screen := image.Rect(0, 0, 800, 600)
	var p pointer
	at := image.Pt(300, 250)
	if in := p.event(0, at, screen); len(in) != 1 || in[0].mi.flags&mouseeventfMove == 0 {
		t.Fatalf("first event: %+v", in)
	}
	if in := p.event(0, at, screen); len(in) != 0 {
		t.Fatalf("same place, same buttons: %+v", in)
	}
	for _, b := range []uint8{1, 0, 8, 0, 4, 0} { // left, wheel up, right
		in := p.event(b, at, screen)
		const moveTo = mouseeventfMove | mouseeventfAbsolute | mouseeventfVirtualDesk
		if len(in) == 0 || in[0].mi.flags&moveTo != moveTo {
			t.Fatalf("buttons %#x: the first event does not place the pointer: %+v", b, in)
		}
		if x, y := int(in[0].mi.dx)*800/65536, int(in[0].mi.dy)*600/65536; x != 300 || y != 250 {
			t.Errorf("buttons %#x: move to %d,%d", b, x, y)
		}
	}
}

// A lock the supporter switched is switched back when control ends; one
// they left alone is not touched.
func TestLockRestore(t *testing.T) {
	if in := lockRestore(0b101, 0b101); len(in) != 0 {
		t.Errorf("unchanged: %+v", in)
	}
	in := lockRestore(0b000, 0b011) // Caps and Num Lock switched on
	if len(in) != 4 || in[0].ki.vk != vkCapital || in[1].ki.vk != vkCapital || in[1].ki.flags&keyeventfKeyUp == 0 ||
		in[2].ki.vk != vkNumLock || in[2].ki.flags&keyeventfExtendedKey == 0 {
		t.Errorf("Caps and Num Lock back off: %+v", in)
	}
	if in := lockRestore(0b100, 0b000); len(in) != 2 || in[0].ki.vk != vkScroll {
		t.Errorf("Scroll Lock back on: %+v", in)
	}
}
