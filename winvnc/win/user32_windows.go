//go:build windows

package win

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// user32 functions that golang.org/x/sys/windows lacks. Each wrapper
// returns an error when the function reports failure; where the API sets
// the thread's last error, the error wraps it (a syscall.Errno).
//
// The procedures are resolved on first use. Functions a supported Windows
// version may lack (SetProcessDpiAwarenessContext before Windows 10 1703)
// are probed with Find first: calling a missing procedure panics.
var (
	user32 = windows.NewLazySystemDLL("user32.dll")

	procGetDC                         = user32.NewProc("GetDC")
	procReleaseDC                     = user32.NewProc("ReleaseDC")
	procGetSystemMetrics              = user32.NewProc("GetSystemMetrics")
	procSetProcessDpiAwarenessContext = user32.NewProc("SetProcessDpiAwarenessContext")
	procSetProcessDPIAware            = user32.NewProc("SetProcessDPIAware")
	procGetCursorInfo                 = user32.NewProc("GetCursorInfo")
	procGetIconInfo                   = user32.NewProc("GetIconInfo")
	procSendInput                     = user32.NewProc("SendInput")
	procMapVirtualKeyW                = user32.NewProc("MapVirtualKeyW")
	procVkKeyScanW                    = user32.NewProc("VkKeyScanW")
	procRegisterHotKey                = user32.NewProc("RegisterHotKey")
	procUnregisterHotKey              = user32.NewProc("UnregisterHotKey")
	procGetMessageW                   = user32.NewProc("GetMessageW")
	procPeekMessageW                  = user32.NewProc("PeekMessageW")
	procPostThreadMessageW            = user32.NewProc("PostThreadMessageW")
	procGetWindowTextW                = user32.NewProc("GetWindowTextW")
	procGetWindowTextLengthW          = user32.NewProc("GetWindowTextLengthW")
	procGetWindowRect                 = user32.NewProc("GetWindowRect")
	procIsIconic                      = user32.NewProc("IsIconic")
	procOpenInputDesktop              = user32.NewProc("OpenInputDesktop")
	procSetThreadDesktop              = user32.NewProc("SetThreadDesktop")
	procCloseDesktop                  = user32.NewProc("CloseDesktop")
	procGetClassNameW                 = user32.NewProc("GetClassNameW")
	procGetKeyState                   = user32.NewProc("GetKeyState")
	procGetForegroundWindow           = user32.NewProc("GetForegroundWindow")
	procGetAncestor                   = user32.NewProc("GetAncestor")
	procGetWindowLongPtrW             = user32.NewProc("GetWindowLongPtrW")
	procGetWindow                     = user32.NewProc("GetWindow")
	procSetWindowsHookExW             = user32.NewProc("SetWindowsHookExW")
	procUnhookWindowsHookEx           = user32.NewProc("UnhookWindowsHookEx")
	procCallNextHookEx                = user32.NewProc("CallNextHookEx")

	kernel32             = windows.NewLazySystemDLL("kernel32.dll")
	procGetModuleHandleW = kernel32.NewProc("GetModuleHandleW")
)

// user32 constants (winuser.h).
const (
	smXVirtualScreen  = 76
	smYVirtualScreen  = 77
	smCXVirtualScreen = 78
	smCYVirtualScreen = 79

	cursorShowing = 0x1

	mapvkVKToVSC   = 0
	mapvkVSCToVKEx = 3

	modNoRepeat = 0x4000

	wmHotkey     = 0x0312
	wmKeyDown    = 0x0100
	wmSysKeyDown = 0x0104

	gwlExStyle = -20
	gaRoot     = 2
	gwOwner    = 4

	whKeyboardLL  = 13
	hcAction      = 0
	llkhfInjected = 0x10
	wmUser        = 0x0400
	wmApp         = 0x8000

	pmNoRemove = 0x0

	genericAll = 0x10000000
)

// dpiAwarenessContextPerMonitorAwareV2 is
// DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2, the handle value -4.
const dpiAwarenessContextPerMonitorAwareV2 = ^uintptr(3)

// errFailed is returned when a function fails without setting the last
// error.
var errFailed = errors.New("failed")

// lastError returns the error for a failed call to name: the last error
// the call set, or errFailed when it set none.
func lastError(name string, err error) error {
	var e syscall.Errno
	if errors.As(err, &e) && e != 0 {
		return fmt.Errorf("win: %s: %w", name, e)
	}
	return fmt.Errorf("win: %s: %w", name, errFailed)
}

// hdc is a device context; hgdiobj a GDI object (here a bitmap).
type (
	hdc     uintptr
	hgdiobj uintptr
)

// getDC returns the device context of hwnd's client area; 0 is the whole
// screen (the virtual screen, in a DPI-aware process).
func getDC(hwnd windows.HWND) (hdc, error) {
	r, _, err := procGetDC.Call(uintptr(hwnd))
	if r == 0 {
		return 0, lastError("GetDC", err)
	}
	return hdc(r), nil
}

func releaseDC(hwnd windows.HWND, dc hdc) error {
	r, _, err := procReleaseDC.Call(uintptr(hwnd), uintptr(dc))
	if r == 0 {
		return lastError("ReleaseDC", err)
	}
	return nil
}

// getSystemMetrics returns metric i, or 0 (it sets no last error).
func getSystemMetrics(i int) int {
	r, _, _ := procGetSystemMetrics.Call(uintptr(i))
	return int(int32(r))
}

// setDPIAware makes the process per-monitor DPI aware (v2), or, before
// Windows 10 1703, system DPI aware. Without it Windows scales the
// screen and the coordinates for a process it thinks expects 96 DPI.
// It fails with ERROR_ACCESS_DENIED when the awareness was already set
// (by a manifest or an earlier call), which is harmless.
func setDPIAware() error {
	if procSetProcessDpiAwarenessContext.Find() == nil {
		r, _, err := procSetProcessDpiAwarenessContext.Call(dpiAwarenessContextPerMonitorAwareV2)
		if r != 0 {
			return nil
		}
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return nil
		}
		// An older Windows 10 without v2: fall through.
	}
	r, _, err := procSetProcessDPIAware.Call()
	if r == 0 {
		return lastError("SetProcessDPIAware", err)
	}
	return nil
}

func getCursorInfo(ci *cursorInfo) error {
	ci.size = uint32(unsafe.Sizeof(*ci))
	r, _, err := procGetCursorInfo.Call(uintptr(unsafe.Pointer(ci)))
	if r == 0 {
		return lastError("GetCursorInfo", err)
	}
	return nil
}

// getIconInfo fills ii for cursor; the caller deletes ii.mask and ii.color.
func getIconInfo(cursor uintptr, ii *iconInfo) error {
	r, _, err := procGetIconInfo.Call(cursor, uintptr(unsafe.Pointer(ii)))
	if r == 0 {
		return lastError("GetIconInfo", err)
	}
	return nil
}

// sendInput injects events, all of one kind. SendInput returns how many
// it inserted; fewer than asked means another thread blocked input. Input
// that UIPI drops (to a window of higher integrity) is not reported.
func sendInput[T mouseINPUT | keybdINPUT](in []T) error {
	if len(in) == 0 {
		return nil
	}
	r, _, err := procSendInput.Call(uintptr(len(in)), uintptr(unsafe.Pointer(&in[0])), unsafe.Sizeof(in[0]))
	if int(r) != len(in) {
		return lastError(fmt.Sprintf("SendInput (%d of %d inserted)", r, len(in)), err)
	}
	return nil
}

// mapVirtualKey translates with MapVirtualKeyW; 0 means no translation.
func mapVirtualKey(code, typ uint32) uint32 {
	r, _, _ := procMapVirtualKeyW.Call(uintptr(code), uintptr(typ))
	return uint32(r)
}

// vkKeyScan returns VkKeyScanW's result for the UTF-16 unit c: the
// virtual key in the low byte, the shift state in the high byte, 0xffff
// when the current layout has no key for c.
func vkKeyScan(c uint16) uint16 {
	r, _, _ := procVkKeyScanW.Call(uintptr(c))
	return uint16(r)
}

func registerHotKey(hwnd windows.HWND, id int32, mods, vk uint32) error {
	r, _, err := procRegisterHotKey.Call(uintptr(hwnd), uintptr(id), uintptr(mods), uintptr(vk))
	if r == 0 {
		return lastError("RegisterHotKey", err)
	}
	return nil
}

func unregisterHotKey(hwnd windows.HWND, id int32) error {
	r, _, err := procUnregisterHotKey.Call(uintptr(hwnd), uintptr(id))
	if r == 0 {
		return lastError("UnregisterHotKey", err)
	}
	return nil
}

// getMessage waits for a message for the calling thread. It returns false
// for WM_QUIT.
func getMessage(m *msg) (bool, error) {
	r, _, err := procGetMessageW.Call(uintptr(unsafe.Pointer(m)), 0, 0, 0)
	switch int32(r) {
	case -1:
		return false, lastError("GetMessageW", err)
	case 0:
		return false, nil
	}
	return true, nil
}

// peekMessage looks at the thread's queue without removing anything. A
// thread has no message queue until it calls a function like this one,
// and PostThreadMessageW to it fails until then.
func peekMessage(m *msg, min, max uint32) bool {
	r, _, _ := procPeekMessageW.Call(uintptr(unsafe.Pointer(m)), 0, uintptr(min), uintptr(max), pmNoRemove)
	return r != 0
}

func postThreadMessage(tid, message uint32, wParam, lParam uintptr) error {
	r, _, err := procPostThreadMessageW.Call(uintptr(tid), uintptr(message), wParam, lParam)
	if r == 0 {
		return lastError("PostThreadMessageW", err)
	}
	return nil
}

// getWindowText returns hwnd's title. It does not send WM_GETTEXT to
// another process's window, so a hung application cannot block it.
func getWindowText(hwnd windows.HWND) string {
	n, _, _ := procGetWindowTextLengthW.Call(uintptr(hwnd))
	if n == 0 {
		return ""
	}
	buf := make([]uint16, n+1)
	r, _, _ := procGetWindowTextW.Call(uintptr(hwnd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return windows.UTF16ToString(buf[:r])
}

func getWindowRect(hwnd windows.HWND) (rect, error) {
	var rc rect
	r, _, err := procGetWindowRect.Call(uintptr(hwnd), uintptr(unsafe.Pointer(&rc)))
	if r == 0 {
		return rect{}, lastError("GetWindowRect", err)
	}
	return rc, nil
}

func isIconic(hwnd windows.HWND) bool {
	r, _, _ := procIsIconic.Call(uintptr(hwnd))
	return r != 0
}

// openInputDesktop opens the desktop that receives input now: the user's
// "Default", or "Winlogon" while the secure desktop (UAC prompt, lock
// screen, Ctrl+Alt+Del) is up. Opening Winlogon needs SYSTEM.
func openInputDesktop() (windows.Handle, error) {
	r, _, err := procOpenInputDesktop.Call(0, 0, genericAll)
	if r == 0 {
		return 0, lastError("OpenInputDesktop", err)
	}
	return windows.Handle(r), nil
}

// setThreadDesktop moves the calling thread to desk. It fails if the
// thread owns windows or hooks; device contexts must be released first.
func setThreadDesktop(desk windows.Handle) error {
	r, _, err := procSetThreadDesktop.Call(uintptr(desk))
	if r == 0 {
		return lastError("SetThreadDesktop", err)
	}
	return nil
}

func closeDesktop(desk windows.Handle) error {
	r, _, err := procCloseDesktop.Call(uintptr(desk))
	if r == 0 {
		return lastError("CloseDesktop", err)
	}
	return nil
}

// setWindowsHookEx installs a global hook of kind id (here the low-level
// keyboard hook) whose procedure is in this module. It runs on the
// calling thread, which must pump messages.
func setWindowsHookEx(id int, proc uintptr) (uintptr, error) {
	mod, _, _ := procGetModuleHandleW.Call(0)
	r, _, err := procSetWindowsHookExW.Call(uintptr(id), proc, mod, 0)
	if r == 0 {
		return 0, lastError("SetWindowsHookExW", err)
	}
	return r, nil
}

// callNextHookEx passes a low-level keyboard event on.
func callNextHookEx(code int32, wParam uintptr, kb *kbdLLHookStruct) uintptr {
	r, _, _ := procCallNextHookEx.Call(0, uintptr(code), wParam, uintptr(unsafe.Pointer(kb)))
	return r
}

// getClassName returns hwnd's window class name, or "".
func getClassName(hwnd windows.HWND) string {
	var buf [256]uint16
	n, _, _ := procGetClassNameW.Call(uintptr(hwnd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return windows.UTF16ToString(buf[:n])
}

// getWindowExStyle returns hwnd's extended style (WS_EX_*).
func getWindowExStyle(hwnd windows.HWND) uint32 {
	i := gwlExStyle
	r, _, _ := procGetWindowLongPtrW.Call(uintptr(hwnd), uintptr(i))
	return uint32(r)
}

// getOwner returns the window that owns hwnd (a dialog's main window), or 0.
func getOwner(hwnd windows.HWND) windows.HWND {
	r, _, _ := procGetWindow.Call(uintptr(hwnd), gwOwner)
	return windows.HWND(r)
}

// getKeyState returns GetKeyState's result for vk: the high bit says the
// key is down, the low bit that a lock key is toggled on.
func getKeyState(vk uint16) uint16 {
	r, _, _ := procGetKeyState.Call(uintptr(vk))
	return uint16(r)
}

func getForegroundWindow() windows.HWND {
	r, _, _ := procGetForegroundWindow.Call()
	return windows.HWND(r)
}

func getAncestor(hwnd windows.HWND, flags uintptr) windows.HWND {
	r, _, _ := procGetAncestor.Call(uintptr(hwnd), flags)
	return windows.HWND(r)
}
