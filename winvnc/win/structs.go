package win

// Win32 structures passed to user32 and gdi32, declared without build tags
// so that their layout is checked on every host (structs_test.go). Go lays
// out these field types as the Windows C compilers do: int32/uint32 as
// LONG/DWORD, uint16 as WORD, uintptr as handles, pointers and
// ULONG_PTR, each aligned to its size. Where C pads (for example before a
// ULONG_PTR after an odd number of DWORDs on 64-bit), Go pads the same
// way, so no field needs explicit padding except the unions.
//
// This file imports nothing: the test type-checks it with go/types for
// amd64, 386 and arm64 and compares sizes and offsets with the SDK's.

// mouseInput is MOUSEINPUT: 32 bytes on 64-bit, 24 on 32-bit.
type mouseInput struct {
	dx, dy    int32
	mouseData uint32
	flags     uint32
	time      uint32
	extraInfo uintptr
}

// keybdInput is KEYBDINPUT (24 bytes on 64-bit, 16 on 32-bit) followed by
// the 8 bytes that make it as long as MOUSEINPUT, the largest member of
// INPUT's union.
type keybdInput struct {
	vk        uint16
	scan      uint16
	flags     uint32
	time      uint32
	extraInfo uintptr
	_         [8]byte
}

// mouseINPUT and keybdINPUT are INPUT with type INPUT_MOUSE or
// INPUT_KEYBOARD: 40 bytes on 64-bit (the union starts at 8), 28 on 32-bit
// (it starts at 4). SendInput rejects any other cbSize.
type mouseINPUT struct {
	typ uint32
	mi  mouseInput
}

type keybdINPUT struct {
	typ uint32
	ki  keybdInput
}

// bitmapInfoHeader is BITMAPINFOHEADER (40 bytes everywhere).
type bitmapInfoHeader struct {
	size          uint32
	width         int32
	height        int32 // negative: top-down rows
	planes        uint16
	bitCount      uint16
	compression   uint32
	sizeImage     uint32
	xPelsPerMeter int32
	yPelsPerMeter int32
	clrUsed       uint32
	clrImportant  uint32
}

// bitmapInfo is BITMAPINFO with room for the two colours of a 1-bit DIB
// (GetDIBits writes the colour table after the header).
type bitmapInfo struct {
	header bitmapInfoHeader
	colors [2]uint32
}

// bitmap is BITMAP, as GetObjectW fills it for a bitmap handle.
type bitmap struct {
	typ        int32
	width      int32
	height     int32
	widthBytes int32
	planes     uint16
	bitsPixel  uint16
	bits       uintptr
}

// point is POINT; rect is RECT.
type point struct{ x, y int32 }

type rect struct{ left, top, right, bottom int32 }

// cursorInfo is CURSORINFO; size must be set before GetCursorInfo.
type cursorInfo struct {
	size   uint32
	flags  uint32
	cursor uintptr
	pos    point
}

// iconInfo is ICONINFO. GetIconInfo creates the two bitmaps; the caller
// deletes them.
type iconInfo struct {
	isIcon   int32
	xHotspot uint32
	yHotspot uint32
	mask     uintptr
	color    uintptr
}

// msg is MSG, as GetMessageW fills it (lPrivate exists only for _MAC).
type msg struct {
	hwnd    uintptr
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      point
}

// kbdLLHookStruct is KBDLLHOOKSTRUCT, what a low-level keyboard hook is
// handed for each key event: 24 bytes on 64-bit, 20 on 32-bit.
type kbdLLHookStruct struct {
	vkCode    uint32
	scanCode  uint32
	flags     uint32 // LLKHF_*
	time      uint32
	extraInfo uintptr
}

// sizeofBitmapInfoHeader is BITMAPINFOHEADER's biSize.
const sizeofBitmapInfoHeader = 40
