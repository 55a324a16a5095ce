//go:build windows

package win

import (
	"image"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	dwmapi                    = windows.NewLazySystemDLL("dwmapi.dll")
	procDwmGetWindowAttribute = dwmapi.NewProc("DwmGetWindowAttribute")
)

const (
	dwmwaExtendedFrameBounds = 9
	dwmwaCloaked             = 14
)

// Window is a visible top-level window, for choosing which applications
// to share.
type Window struct {
	ID      uint32 // the HWND; window handles have 32 significant bits
	PID     uint32 // the owning process
	Title   string
	Rect    image.Rectangle // in framebuffer coordinates (virtual screen origin at 0,0)
	Stack   int             // 0 is the bottom; higher is above
	Visible bool            // not minimised and not cloaked
	App     bool            // one a person would call an application (isAppWindow)
}

// Windows lists the top-level windows that have the WS_VISIBLE style,
// bottom first. EnumWindows yields them in Z order, top first. Rect is
// the frame as the compositor draws it (DWMWA_EXTENDED_FRAME_BOUNDS),
// without the invisible resize borders GetWindowRect includes. Cloaked
// windows (on another virtual desktop, suspended store apps) and
// minimised ones are listed with Visible false.
func (d *Display) Windows() ([]Window, error) {
	hwnds, err := topLevelWindows()
	if err != nil {
		return nil, err
	}
	origin := virtualScreen().Min
	var ws []Window
	for _, hwnd := range slices.Backward(hwnds) {
		if !windows.IsWindowVisible(hwnd) {
			continue
		}
		r, ok := windowBounds(hwnd, origin)
		if !ok {
			continue // gone meanwhile
		}
		var pid uint32
		windows.GetWindowThreadProcessId(hwnd, &pid)
		title := getWindowText(hwnd)
		ws = append(ws, Window{
			ID:      uint32(hwnd),
			PID:     pid,
			Title:   title,
			App:     isAppWindow(title, getClassName(hwnd), getWindowExStyle(hwnd), getOwner(hwnd) != 0),
			Rect:    r,
			Stack:   len(ws),
			Visible: !isIconic(hwnd) && !cloaked(hwnd),
		})
	}
	return ws, nil
}

// topLayout reads the place of every visible top-level window (not
// minimised, not cloaked), in framebuffer coordinates, as Windows lists
// them.
func topLayout() placements {
	hwnds, err := topLevelWindows()
	if err != nil {
		return nil
	}
	origin := virtualScreen().Min
	l := placements{}
	for _, hwnd := range hwnds {
		if !windows.IsWindowVisible(hwnd) || isIconic(hwnd) || cloaked(hwnd) {
			continue
		}
		if r, ok := windowBounds(hwnd, origin); ok {
			l[uint32(hwnd)] = r
		}
	}
	return l
}

// windowBounds is where window hwnd is drawn, in framebuffer coordinates
// (origin is the virtual screen's): its frame as the desktop composes it,
// else its window rectangle; false if it is gone.
func windowBounds(hwnd windows.HWND, origin image.Point) (image.Rectangle, bool) {
	rc, ok := frameBounds(hwnd)
	if !ok {
		var err error
		if rc, err = getWindowRect(hwnd); err != nil {
			return image.Rectangle{}, false
		}
	}
	return image.Rect(int(rc.left), int(rc.top), int(rc.right), int(rc.bottom)).Sub(origin), true
}

// enum collects EnumWindows' handles. windows.NewCallback makes callbacks
// that are never freed, and a process may make only about 2000, so there
// is one, made once, and calls take turns.
var enum struct {
	sync.Mutex
	hwnds []windows.HWND
}

var enumCallback = sync.OnceValue(func() uintptr {
	return windows.NewCallback(func(hwnd windows.HWND, _ uintptr) uintptr {
		enum.hwnds = append(enum.hwnds, hwnd)
		return 1
	})
})

// topLevelWindows returns every top-level window, top of the Z order first.
func topLevelWindows() ([]windows.HWND, error) {
	cb := enumCallback()
	enum.Lock()
	defer enum.Unlock()
	enum.hwnds = nil
	err := windows.EnumWindows(cb, nil)
	hwnds := enum.hwnds
	enum.hwnds = nil
	if err != nil {
		return nil, err
	}
	return hwnds, nil
}

func dwmAttribute(hwnd windows.HWND, attr uint32, p unsafe.Pointer, size uintptr) bool {
	if procDwmGetWindowAttribute.Find() != nil {
		return false
	}
	hr, _, _ := procDwmGetWindowAttribute.Call(uintptr(hwnd), uintptr(attr), uintptr(p), size)
	return hr == 0 // S_OK
}

func frameBounds(hwnd windows.HWND) (rect, bool) {
	var rc rect
	ok := dwmAttribute(hwnd, dwmwaExtendedFrameBounds, unsafe.Pointer(&rc), unsafe.Sizeof(rc))
	return rc, ok
}

func cloaked(hwnd windows.HWND) bool {
	var v uint32
	return dwmAttribute(hwnd, dwmwaCloaked, unsafe.Pointer(&v), unsafe.Sizeof(v)) && v != 0
}

// Focus returns the foreground window (the one with the keyboard focus's
// thread) and its top-level ancestor; empty when there is none (the
// secure desktop).
func (d *Display) Focus() ([]uint32, error) {
	fg := getForegroundWindow()
	if fg == 0 {
		return nil, nil
	}
	path := []uint32{uint32(fg)}
	if root := getAncestor(fg, gaRoot); root != 0 && root != fg {
		path = append(path, uint32(root))
	}
	return path, nil
}
