//go:build windows

package win

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// gdi32 functions, wrapped as in user32_windows.go.
var (
	gdi32 = windows.NewLazySystemDLL("gdi32.dll")

	procCreateCompatibleDC = gdi32.NewProc("CreateCompatibleDC")
	procCreateDIBSection   = gdi32.NewProc("CreateDIBSection")
	procSelectObject       = gdi32.NewProc("SelectObject")
	procBitBlt             = gdi32.NewProc("BitBlt")
	procDeleteObject       = gdi32.NewProc("DeleteObject")
	procDeleteDC           = gdi32.NewProc("DeleteDC")
	procGetDIBits          = gdi32.NewProc("GetDIBits")
	procGetObjectW         = gdi32.NewProc("GetObjectW")
	procGdiFlush           = gdi32.NewProc("GdiFlush")
)

// gdi32 constants (wingdi.h).
const (
	biRGB        = 0
	dibRGBColors = 0
	srcCopy      = 0x00cc0020
	captureBlt   = 0x40000000 // include layered (translucent) windows
	hgdiError    = 0xffffffff
)

func createCompatibleDC(dc hdc) (hdc, error) {
	r, _, err := procCreateCompatibleDC.Call(uintptr(dc))
	if r == 0 {
		return 0, lastError("CreateCompatibleDC", err)
	}
	return hdc(r), nil
}

// createDIBSection creates a w×h 32-bit top-down DIB section and returns
// it with its pixels: B, G, R, X rows of w*4 bytes, the layout of
// rfb.Image. The pixels belong to the section and vanish with
// deleteObject; GDI may still be drawing into them until gdiFlush.
func createDIBSection(dc hdc, w, h int) (hgdiobj, []byte, error) {
	bi := bitmapInfo{header: bitmapInfoHeader{
		width:    int32(w),
		height:   -int32(h),
		planes:   1,
		bitCount: 32,
	}}
	bi.header.size = sizeofBitmapInfoHeader
	var bits unsafe.Pointer
	r, _, err := procCreateDIBSection.Call(uintptr(dc), uintptr(unsafe.Pointer(&bi)), dibRGBColors,
		uintptr(unsafe.Pointer(&bits)), 0, 0)
	if r == 0 {
		return 0, nil, lastError("CreateDIBSection", err)
	}
	if bits == nil {
		deleteObject(hgdiobj(r))
		return 0, nil, lastError("CreateDIBSection (no pixels)", err)
	}
	return hgdiobj(r), unsafe.Slice((*byte)(bits), w*h*4), nil
}

// selectObject selects obj into dc and returns the object it replaced.
func selectObject(dc hdc, obj hgdiobj) (hgdiobj, error) {
	r, _, err := procSelectObject.Call(uintptr(dc), uintptr(obj))
	if r == 0 || r == hgdiError {
		return 0, lastError("SelectObject", err)
	}
	return hgdiobj(r), nil
}

func bitBlt(dst hdc, x, y, w, h int, src hdc, sx, sy int, rop uint32) error {
	r, _, err := procBitBlt.Call(uintptr(dst), uintptr(x), uintptr(y), uintptr(w), uintptr(h),
		uintptr(src), uintptr(sx), uintptr(sy), uintptr(rop))
	if r == 0 {
		return lastError("BitBlt", err)
	}
	return nil
}

func deleteObject(obj hgdiobj) error {
	r, _, err := procDeleteObject.Call(uintptr(obj))
	if r == 0 {
		return lastError("DeleteObject", err)
	}
	return nil
}

func deleteDC(dc hdc) error {
	r, _, err := procDeleteDC.Call(uintptr(dc))
	if r == 0 {
		return lastError("DeleteDC", err)
	}
	return nil
}

// getObjectBitmap describes bitmap bm.
func getObjectBitmap(bm hgdiobj) (bitmap, error) {
	var b bitmap
	r, _, err := procGetObjectW.Call(uintptr(bm), unsafe.Sizeof(b), uintptr(unsafe.Pointer(&b)))
	if r == 0 {
		return bitmap{}, lastError("GetObjectW", err)
	}
	return b, nil
}

// getDIBits copies bm's pixels, converted to the format bi describes, into
// bits, which must hold them all. bm must not be selected into a DC.
func getDIBits(dc hdc, bm hgdiobj, lines int, bits []byte, bi *bitmapInfo) error {
	r, _, err := procGetDIBits.Call(uintptr(dc), uintptr(bm), 0, uintptr(lines),
		uintptr(unsafe.Pointer(&bits[0])), uintptr(unsafe.Pointer(bi)), dibRGBColors)
	if r == 0 {
		return lastError("GetDIBits", err)
	}
	return nil
}

// gdiFlush waits until GDI has finished drawing: a DIB section's pixels
// may be read only after it.
func gdiFlush() {
	procGdiFlush.Call()
}
