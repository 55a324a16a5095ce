package win

import "image"

// SendInput constants (winuser.h).
const (
	inputMouse    = 0
	inputKeyboard = 1

	keyeventfExtendedKey = 0x0001
	keyeventfKeyUp       = 0x0002
	keyeventfUnicode     = 0x0004
	keyeventfScanCode    = 0x0008

	mouseeventfMove        = 0x0001
	mouseeventfLeftDown    = 0x0002
	mouseeventfLeftUp      = 0x0004
	mouseeventfRightDown   = 0x0008
	mouseeventfRightUp     = 0x0010
	mouseeventfMiddleDown  = 0x0020
	mouseeventfMiddleUp    = 0x0040
	mouseeventfXDown       = 0x0080
	mouseeventfXUp         = 0x0100
	mouseeventfWheel       = 0x0800
	mouseeventfHWheel      = 0x1000
	mouseeventfVirtualDesk = 0x4000
	mouseeventfAbsolute    = 0x8000

	wheelDelta = 120
	xbutton1   = 1
)

// buttonFlags are the MOUSEEVENTF flags for pressing and releasing RFB
// buttons 1-8 (bits 0-7 of the mask): 1 left, 2 middle, 3 right, 4/5
// wheel up/down, 6/7 wheel left/right, 8 back (XBUTTON1). Wheel "buttons"
// act on the press only, with wheel the signed mouseData. RFB's mask has
// no bit for XBUTTON2.
var buttonFlags = [8]struct {
	down, up uint32
	data     int32 // mouseData: XBUTTON number, or the wheel step
}{
	{mouseeventfLeftDown, mouseeventfLeftUp, 0},
	{mouseeventfMiddleDown, mouseeventfMiddleUp, 0},
	{mouseeventfRightDown, mouseeventfRightUp, 0},
	{mouseeventfWheel, 0, wheelDelta},   // away from the user
	{mouseeventfWheel, 0, -wheelDelta},  // towards the user
	{mouseeventfHWheel, 0, -wheelDelta}, // left
	{mouseeventfHWheel, 0, wheelDelta},  // right
	{mouseeventfXDown, mouseeventfXUp, xbutton1},
}

// absolute scales framebuffer coordinate x (0 ≤ x < size, clamped) to
// SendInput's normalised 0..65535 across the virtual screen. It takes the
// smallest value at or after the pixel's left edge, x·65536/size rounded
// up, which lands on pixel x whether Windows truncates when it
// denormalises (for any size below 65536) or rounds (below 32768).
func absolute(x, size int) int32 {
	if size <= 1 {
		return 0
	}
	x = max(0, min(x, size-1))
	return int32(min((x*65536+size-1)/size, 65535))
}

// pointerInputs returns the mouse events that move the pointer to
// framebuffer point p of a virtual screen of the given bounds (its origin
// may be negative; framebuffer (0,0) is its top left) and turn button mask
// from into to. move is false when the position is unchanged. The move
// rides on the first button change, one event that says where and what,
// so that no other input can come between the two; without a button
// change it is an event of its own.
func pointerInputs(from, to uint8, p image.Point, move bool, screen image.Rectangle) []mouseINPUT {
	var out []mouseINPUT
	for i, b := range buttonFlags {
		bit := uint8(1) << i
		if from&bit == to&bit {
			continue
		}
		f := b.down
		if to&bit == 0 {
			f = b.up
		}
		if f == 0 {
			continue // a wheel button's release
		}
		out = append(out, mouseINPUT{typ: inputMouse, mi: mouseInput{mouseData: uint32(b.data), flags: f}})
	}
	if move {
		at := mouseInput{
			dx:    absolute(p.X, screen.Dx()),
			dy:    absolute(p.Y, screen.Dy()),
			flags: mouseeventfMove | mouseeventfAbsolute | mouseeventfVirtualDesk,
		}
		if len(out) == 0 {
			return []mouseINPUT{{typ: inputMouse, mi: at}}
		}
		out[0].mi.dx, out[0].mi.dy = at.dx, at.dy
		out[0].mi.flags |= at.flags
	}
	return out
}

// pointer is an injector's pointer state: the buttons held and the last
// position sent.
type pointer struct {
	buttons uint8
	pos     image.Point
	moved   bool
}

// event returns the events for an RFB pointer event on a virtual screen
// of the given bounds. The position is sent when it changed, and before
// every button change: the customer may have moved the mouse since, and
// a supporter's click must land where the supporter pointed.
func (p *pointer) event(buttons uint8, pos image.Point, screen image.Rectangle) []mouseINPUT {
	move := !p.moved || pos != p.pos || buttons != p.buttons
	in := pointerInputs(p.buttons, buttons, pos, move, screen)
	p.buttons, p.pos, p.moved = buttons, pos, true
	return in
}

// releaseAll returns the releases of every held button.
func (p *pointer) releaseAll() []mouseINPUT {
	in := pointerInputs(p.buttons, 0, image.Point{}, false, image.Rectangle{})
	p.buttons = 0
	return in
}

// lockVKs are the lock keys whose toggle state an injector restores when
// the supporter's control ends (see Injector.ReleaseAll); bit i of a lock
// state is lockVKs[i]'s toggle.
var lockVKs = [...]uint16{vkCapital, vkNumLock, vkScroll}

// lockRestore returns the presses (each a press and a release) that turn
// lock state now back into saved.
func lockRestore(saved, now uint8) []keybdINPUT {
	var out []keybdINPUT
	for i, vk := range lockVKs {
		if (saved^now)&(1<<i) == 0 {
			continue
		}
		a := keyAction{vk: vk, ext: vk == vkNumLock}
		out = append(out, a.inputs(false)...)
		out = append(out, a.inputs(true)...)
	}
	return out
}
