//go:build windows

package win

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The customer's window (PanelWindow) and the pointing arrow (Overlay) on
// Windows: each is a window of its own thread, which runs its message
// loop; the methods run their calls on that thread (uiThread.do), as
// user32 wants for the windows a thread owns. The picture is the agent's
// own (winvnc/panel), blitted with SetDIBitsToDevice; the arrow is a
// layered window updated with UpdateLayeredWindow, topmost and
// transparent to the mouse.
var (
	procTranslateMessage         = user32.NewProc("TranslateMessage")
	procShowWindow               = user32.NewProc("ShowWindow")
	procSetWindowPos             = user32.NewProc("SetWindowPos")
	procSetWindowTextW           = user32.NewProc("SetWindowTextW")
	procInvalidateRect           = user32.NewProc("InvalidateRect")
	procBeginPaint               = user32.NewProc("BeginPaint")
	procEndPaint                 = user32.NewProc("EndPaint")
	procAdjustWindowRectEx       = user32.NewProc("AdjustWindowRectEx")
	procLoadCursorW              = user32.NewProc("LoadCursorW")
	procSetForegroundWindow      = user32.NewProc("SetForegroundWindow")
	procUpdateLayeredWindow      = user32.NewProc("UpdateLayeredWindow")
	procGetDpiForSystem          = user32.NewProc("GetDpiForSystem")
	procSetDIBitsToDevice        = gdi32.NewProc("SetDIBitsToDevice")
	procGetDeviceCaps            = gdi32.NewProc("GetDeviceCaps")
	procGetUserDefaultLocaleName = kernel32.NewProc("GetUserDefaultLocaleName")
)

// Window messages, styles and flags (winuser.h).
const (
	wmDestroy       = 0x0002
	wmPaint         = 0x000f
	wmClose         = 0x0010
	wmEraseBkgnd    = 0x0014
	wmMouseActivate = 0x0021
	wmNCHitTest     = 0x0084
	wmLButtonDown   = 0x0201
	wmLButtonUp     = 0x0202
	wmRunFuncs      = wmApp + 7 // a uiThread's queued calls
	wmThreadQuit    = wmApp + 8

	wsPopup       = 0x80000000
	wsCaption     = 0x00c00000
	wsSysMenu     = 0x00080000
	wsMinimizeBox = 0x00020000

	wsExTopmost     = 0x00000008
	wsExTransparent = 0x00000020
	wsExLayered     = 0x00080000

	swHide           = 0
	swShowNoActivate = 4

	swpNoSize     = 0x0001
	swpNoMove     = 0x0002
	swpNoActivate = 0x0010

	hwndTopmost   = ^uintptr(0) // (HWND)-1
	htTransparent = ^uintptr(0) // -1
	maNoActivate  = 3
	ulwAlpha      = 2
	acSrcAlpha    = 1
	idcArrow      = 32512
	logPixelsX    = 88

	vkShiftKey = 0x10 // VK_SHIFT (keymap.go has the others)
)

// paintStruct is PAINTSTRUCT.
type paintStruct struct {
	hdc       uintptr
	erase     int32
	rcPaint   rect
	restore   int32
	incUpdate int32
	reserved  [32]byte
}

// blendFunction is BLENDFUNCTION.
type blendFunction struct{ op, flags, alpha, format byte }

type size struct{ cx, cy int32 }

// uiThread is an OS thread with a message loop that runs the calls given
// to do.
type uiThread struct {
	tid   uint32
	funcs chan func()
	done  chan struct{}
}

// startUIThread starts the thread and runs setup on it first.
func startUIThread(setup func() error) (*uiThread, error) {
	u := &uiThread{funcs: make(chan func(), 16), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, and its
		// windows with it.
		runtime.LockOSThread()
		defer close(u.done)
		var m msg
		peekMessage(&m, wmUser, wmUser) // the thread's queue
		u.tid = windows.GetCurrentThreadId()
		if err := setup(); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for {
			ok, err := getMessage(&m)
			if err != nil || !ok {
				return
			}
			switch {
			case m.hwnd == 0 && m.message == wmRunFuncs:
				for more := true; more; {
					select {
					case f := <-u.funcs:
						f()
					default:
						more = false
					}
				}
			case m.hwnd == 0 && m.message == wmThreadQuit:
				return
			default:
				procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
				procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
			}
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return u, nil
}

// errThreadGone: the window's thread has ended.
var errThreadGone = errors.New("win: the window's thread has ended")

// do runs f on the thread and waits for it.
func (u *uiThread) do(f func()) error {
	ran := make(chan struct{})
	select {
	case u.funcs <- func() { f(); close(ran) }:
	case <-u.done:
		return errThreadGone
	}
	if err := postThreadMessage(u.tid, wmRunFuncs, 0, 0); err != nil {
		return err
	}
	select {
	case <-ran:
		return nil
	case <-u.done:
		return errThreadGone
	}
}

// quit ends the thread.
func (u *uiThread) quit() {
	postThreadMessage(u.tid, wmThreadQuit, 0, 0)
	<-u.done
}

// windowProcs routes messages to the Go value of their window. Window
// procedures are callbacks of the process, so this is one map for all.
var (
	windowProcsMu sync.Mutex
	windowProcs   = map[uintptr]func(hwnd uintptr, m uint32, w, l uintptr) (uintptr, bool){}
	creating      func(hwnd uintptr, m uint32, w, l uintptr) (uintptr, bool) // the window CreateWindowExW is making
	wndProcPtr    = sync.OnceValue(func() uintptr { return syscall.NewCallback(wndProc) })
	classes       sync.Map // class name → error of its registration
)

func wndProc(hwnd, m, w, l uintptr) uintptr {
	windowProcsMu.Lock()
	f, ok := windowProcs[hwnd]
	if !ok && creating != nil {
		f, ok = creating, true
		windowProcs[hwnd] = f
	}
	windowProcsMu.Unlock()
	if ok {
		if r, handled := f(hwnd, uint32(m), w, l); handled {
			return r
		}
	}
	r, _, _ := procDefWindowProcW.Call(hwnd, m, w, l)
	return r
}

// registerClass registers a window class with the package's window
// procedure, once.
func registerClass(name string) error {
	v, _ := classes.LoadOrStore(name, sync.OnceValue(func() error {
		inst, _, _ := procGetModuleHandleW.Call(0)
		cursor, _, _ := procLoadCursorW.Call(0, idcArrow)
		wc := wndClassExW{wndProc: wndProcPtr(), instance: inst, cursor: cursor, className: windows.StringToUTF16Ptr(name)}
		wc.size = uint32(unsafe.Sizeof(wc))
		if r, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
			return lastError("RegisterClassExW", err)
		}
		return nil
	}))
	return v.(func() error)()
}

// createWindow creates a window of class whose messages go to proc. It
// runs on the window's thread.
func createWindow(class, title string, exStyle, style uint32, r image.Rectangle, proc func(uintptr, uint32, uintptr, uintptr) (uintptr, bool)) (uintptr, error) {
	if err := registerClass(class); err != nil {
		return 0, err
	}
	inst, _, _ := procGetModuleHandleW.Call(0)
	windowProcsMu.Lock()
	creating = proc
	windowProcsMu.Unlock()
	hwnd, _, err := procCreateWindowExW.Call(uintptr(exStyle), uintptr(unsafe.Pointer(windows.StringToUTF16Ptr(class))),
		uintptr(unsafe.Pointer(windows.StringToUTF16Ptr(title))), uintptr(style),
		uintptr(r.Min.X), uintptr(r.Min.Y), uintptr(r.Dx()), uintptr(r.Dy()), 0, 0, inst, 0)
	windowProcsMu.Lock()
	creating = nil
	if hwnd != 0 {
		windowProcs[hwnd] = proc
	}
	windowProcsMu.Unlock()
	if hwnd == 0 {
		return 0, lastError("CreateWindowExW", err)
	}
	return hwnd, nil
}

func destroyWindow(hwnd uintptr) {
	procDestroyWindow.Call(hwnd)
	windowProcsMu.Lock()
	delete(windowProcs, hwnd)
	windowProcsMu.Unlock()
}

// PanelWindow is a top-level, topmost window of fixed size whose picture
// the agent draws (the customer's window).
type PanelWindow struct {
	u      *uiThread
	hwnd   uintptr
	events chan PanelEvent

	mu     sync.Mutex
	pix    []byte // the picture, B, G, R, X rows
	size   image.Point
	closed bool
}

// PanelEvent is the customer's hand on a PanelWindow: a closed set.
type PanelEvent interface{ panelEvent() }

// The events.
type (
	PanelPress   struct{ X, Y int }
	PanelRelease struct{ X, Y int }
	// PanelKey is a key pressed on the window: Tab, Return, Space or
	// Escape as their virtual keys, with Shift.
	PanelKey struct {
		VK    uint16
		Shift bool
	}
	PanelClose struct{}
)

func (PanelPress) panelEvent()   {}
func (PanelRelease) panelEvent() {}
func (PanelKey) panelEvent()     {}
func (PanelClose) panelEvent()   {}

// The virtual keys a PanelKey reports.
const (
	VKTab    = vkTab
	VKReturn = vkReturn
	VKEscape = vkEscape
	VKSpace  = vkSpace
)

const panelStyle = wsCaption | wsSysMenu | wsMinimizeBox

// NewPanelWindow creates the window, hidden, with a client area of size
// at the top right of the primary screen.
func NewPanelWindow(title string, sz image.Point) (*PanelWindow, error) {
	w := &PanelWindow{events: make(chan PanelEvent, 64), size: sz}
	u, err := startUIThread(func() error {
		outer := w.outer(sz)
		sw := getSystemMetrics(0) // SM_CXSCREEN
		at := image.Pt(max(0, sw-outer.X-16), 16)
		hwnd, err := createWindow("LifebuoyPanel", title, wsExTopmost, panelStyle, image.Rectangle{Min: at, Max: at.Add(outer)}, w.proc)
		w.hwnd = hwnd
		return err
	})
	if err != nil {
		return nil, err
	}
	w.u = u
	return w, nil
}

// outer is the window's size for a client area of sz.
func (w *PanelWindow) outer(sz image.Point) image.Point {
	r := rect{0, 0, int32(sz.X), int32(sz.Y)}
	procAdjustWindowRectEx.Call(uintptr(unsafe.Pointer(&r)), panelStyle, 0, wsExTopmost)
	return image.Pt(int(r.right-r.left), int(r.bottom-r.top))
}

// proc is the window's procedure, on its thread.
func (w *PanelWindow) proc(hwnd uintptr, m uint32, wp, lp uintptr) (uintptr, bool) {
	send := func(ev PanelEvent) {
		select {
		case w.events <- ev:
		default:
		}
	}
	xy := func() (int, int) { return int(int16(lp & 0xffff)), int(int16(lp >> 16 & 0xffff)) }
	switch m {
	case wmPaint:
		var ps paintStruct
		dc, _, _ := procBeginPaint.Call(hwnd, uintptr(unsafe.Pointer(&ps)))
		w.mu.Lock()
		if dc != 0 && len(w.pix) > 0 {
			bi := bitmapInfo{header: bitmapInfoHeader{width: int32(w.size.X), height: -int32(w.size.Y), planes: 1, bitCount: 32, compression: biRGB}}
			bi.header.size = uint32(unsafe.Sizeof(bi.header))
			procSetDIBitsToDevice.Call(dc, 0, 0, uintptr(w.size.X), uintptr(w.size.Y), 0, 0, 0, uintptr(w.size.Y),
				uintptr(unsafe.Pointer(&w.pix[0])), uintptr(unsafe.Pointer(&bi)), dibRGBColors)
		}
		w.mu.Unlock()
		procEndPaint.Call(hwnd, uintptr(unsafe.Pointer(&ps)))
		return 0, true
	case wmEraseBkgnd:
		return 1, true // the picture covers it all
	case wmLButtonDown:
		x, y := xy()
		send(PanelPress{x, y})
		return 0, true
	case wmLButtonUp:
		x, y := xy()
		send(PanelRelease{x, y})
		return 0, true
	case wmKeyDown:
		switch vk := uint16(wp); vk {
		case vkTab, vkReturn, vkEscape, vkSpace:
			send(PanelKey{VK: vk, Shift: getKeyState(vkShiftKey)&0x8000 != 0})
			return 0, true
		}
	case wmClose:
		send(PanelClose{}) // the agent decides
		return 0, true
	}
	return 0, false
}

// ID is the window's handle, as Display.Focus reports windows.
func (w *PanelWindow) ID() uint32 { return uint32(w.hwnd) }

// Events delivers clicks, keys and the close button.
func (w *PanelWindow) Events() <-chan PanelEvent { return w.events }

// Show shows the window on top without activating it.
func (w *PanelWindow) Show() error {
	return w.u.do(func() {
		procShowWindow.Call(w.hwnd, swShowNoActivate)
		procSetWindowPos.Call(w.hwnd, hwndTopmost, 0, 0, 0, 0, swpNoMove|swpNoSize|swpNoActivate)
	})
}

// Raise puts the window on top again, without activating it.
func (w *PanelWindow) Raise() {
	w.u.do(func() {
		procSetWindowPos.Call(w.hwnd, hwndTopmost, 0, 0, 0, 0, swpNoMove|swpNoSize|swpNoActivate)
	})
}

// Focus makes the window the foreground window (the question before the
// session; never during one).
func (w *PanelWindow) Focus() {
	w.u.do(func() { procSetForegroundWindow.Call(w.hwnd) })
}

// SetTitle sets the title bar's text.
func (w *PanelWindow) SetTitle(title string) {
	w.u.do(func() {
		procSetWindowTextW.Call(w.hwnd, uintptr(unsafe.Pointer(windows.StringToUTF16Ptr(title))))
	})
}

// Rect is the whole window (frame and title bar) on the screen.
func (w *PanelWindow) Rect() image.Rectangle {
	r, err := getWindowRect(windows.HWND(w.hwnd))
	if err != nil {
		return image.Rectangle{}
	}
	return image.Rect(int(r.left), int(r.top), int(r.right), int(r.bottom))
}

// Draw shows img (RGBA), resizing the client area to its size.
func (w *PanelWindow) Draw(img *image.RGBA) error {
	sz := img.Rect.Size()
	pix := make([]byte, sz.X*sz.Y*4)
	for y := range sz.Y {
		src := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):]
		dst := pix[y*sz.X*4:]
		for x := range sz.X {
			dst[x*4], dst[x*4+1], dst[x*4+2] = src[x*4+2], src[x*4+1], src[x*4]
		}
	}
	w.mu.Lock()
	resize := sz != w.size
	w.pix, w.size = pix, sz
	w.mu.Unlock()
	return w.u.do(func() {
		if resize {
			o := w.outer(sz)
			procSetWindowPos.Call(w.hwnd, 0, 0, 0, uintptr(o.X), uintptr(o.Y), swpNoMove|swpNoActivate|0x4 /* SWP_NOZORDER */)
		}
		procInvalidateRect.Call(w.hwnd, 0, 0)
	})
}

// Close destroys the window and ends its thread.
func (w *PanelWindow) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	w.u.do(func() { destroyWindow(w.hwnd) })
	w.u.quit()
	return nil
}

// Overlay is a layered, topmost window that every click passes through
// and that never activates: the pointing arrow.
type Overlay struct {
	u    *uiThread
	hwnd uintptr
	mu   sync.Mutex
	img  *image.RGBA // the picture last given to UpdateLayeredWindow
}

// NewOverlay creates the overlay, hidden.
func NewOverlay() (*Overlay, error) {
	o := &Overlay{}
	u, err := startUIThread(func() error {
		hwnd, err := createWindow("LifebuoyArrow", "pointing arrow",
			wsExLayered|wsExTransparent|wsExTopmost|wsExToolWindow|wsExNoActivate, wsPopup, image.Rect(0, 0, 1, 1),
			func(hwnd uintptr, m uint32, wp, lp uintptr) (uintptr, bool) {
				switch m {
				case wmNCHitTest:
					return htTransparent, true
				case wmMouseActivate:
					return maNoActivate, true
				}
				return 0, false
			})
		o.hwnd = hwnd
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("win: overlay: %w", err)
	}
	o.u = u
	return o, nil
}

// Show shows img (premultiplied RGBA, as image.RGBA is) with its origin
// at, above every other window.
func (o *Overlay) Show(img *image.RGBA, at image.Point) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var err error
	derr := o.u.do(func() {
		screen, e := getDC(0)
		if e != nil {
			err = e
			return
		}
		defer releaseDC(0, screen)
		pt := point{int32(at.X), int32(at.Y)}
		sz := size{int32(img.Rect.Dx()), int32(img.Rect.Dy())}
		blend := blendFunction{alpha: 255, format: acSrcAlpha}
		if img == o.img {
			// Only a move.
			if r, _, e := procUpdateLayeredWindow.Call(o.hwnd, 0, uintptr(unsafe.Pointer(&pt)), 0, 0, 0, 0, uintptr(unsafe.Pointer(&blend)), ulwAlpha); r == 0 {
				err = lastError("UpdateLayeredWindow", e)
			}
		} else {
			mem, e := createCompatibleDC(screen)
			if e != nil {
				err = e
				return
			}
			defer deleteDC(mem)
			bm, pix, e := createDIBSection(screen, int(sz.cx), int(sz.cy))
			if e != nil {
				err = e
				return
			}
			defer deleteObject(bm)
			for y := range int(sz.cy) {
				src := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):]
				dst := pix[y*int(sz.cx)*4:]
				for x := range int(sz.cx) {
					dst[x*4], dst[x*4+1], dst[x*4+2], dst[x*4+3] = src[x*4+2], src[x*4+1], src[x*4], src[x*4+3]
				}
			}
			old, e := selectObject(mem, bm)
			if e != nil {
				err = e
				return
			}
			defer selectObject(mem, old)
			src := point{}
			if r, _, e := procUpdateLayeredWindow.Call(o.hwnd, uintptr(screen), uintptr(unsafe.Pointer(&pt)), uintptr(unsafe.Pointer(&sz)),
				uintptr(mem), uintptr(unsafe.Pointer(&src)), 0, uintptr(unsafe.Pointer(&blend)), ulwAlpha); r == 0 {
				err = lastError("UpdateLayeredWindow", e)
				return
			}
			o.img = img
		}
		procShowWindow.Call(o.hwnd, swShowNoActivate)
		procSetWindowPos.Call(o.hwnd, hwndTopmost, 0, 0, 0, 0, swpNoMove|swpNoSize|swpNoActivate)
	})
	if derr != nil {
		return derr
	}
	return err
}

// Hide hides the overlay.
func (o *Overlay) Hide() error {
	return o.u.do(func() { procShowWindow.Call(o.hwnd, swHide) })
}

// Close destroys the overlay and ends its thread.
func (o *Overlay) Close() error {
	o.u.do(func() { destroyWindow(o.hwnd) })
	o.u.quit()
	return nil
}

// SystemDPI is the desktop's DPI (96 at 100 %).
func SystemDPI() float64 {
	if procGetDpiForSystem.Find() == nil {
		if r, _, _ := procGetDpiForSystem.Call(); r >= 48 && r <= 960 {
			return float64(r)
		}
	}
	dc, err := getDC(0)
	if err != nil {
		return 96
	}
	defer releaseDC(0, dc)
	if r, _, _ := procGetDeviceCaps.Call(uintptr(dc), logPixelsX); r >= 48 && r <= 960 {
		return float64(r)
	}
	return 96
}

// UserLocale is the user's locale name ("de-DE"), "" if unknown.
func UserLocale() string {
	if procGetUserDefaultLocaleName.Find() != nil {
		return ""
	}
	buf := make([]uint16, 85) // LOCALE_NAME_MAX_LENGTH
	if r, _, _ := procGetUserDefaultLocaleName.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf))); r == 0 {
		return ""
	}
	return windows.UTF16ToString(buf)
}

// VirtualScreen is the virtual screen's place: the framebuffer's origin
// is its top-left corner.
func VirtualScreen() image.Rectangle { return virtualScreen() }
