//go:build windows

package win

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Clipboard follows the Windows clipboard's text and puts text there.
//
// A message-only window registered with AddClipboardFormatListener gets
// WM_CLIPBOARDUPDATE after every change, on a goroutine locked to its own
// OS thread that waits in GetMessage: nothing polls. A change made by
// another program is read as CF_UNICODETEXT and sent on Changes (CRLF
// turned into LF); SetText empties the clipboard and sets
// CF_UNICODETEXT (LF turned into CRLF), owned by the window, so its own
// change is not reported back. Close removes the listener and destroys
// the window.
type Clipboard struct {
	d    *Display
	max  int
	hwnd uintptr
	text chan string // latest change by others (buffered 1)
	done chan struct{}

	closeOnce sync.Once
}

var (
	procAddClipboardFormatListener    = user32.NewProc("AddClipboardFormatListener")
	procRemoveClipboardFormatListener = user32.NewProc("RemoveClipboardFormatListener")
	procOpenClipboard                 = user32.NewProc("OpenClipboard")
	procCloseClipboard                = user32.NewProc("CloseClipboard")
	procEmptyClipboard                = user32.NewProc("EmptyClipboard")
	procGetClipboardData              = user32.NewProc("GetClipboardData")
	procSetClipboardData              = user32.NewProc("SetClipboardData")
	procGetClipboardOwner             = user32.NewProc("GetClipboardOwner")
	procRegisterClassExW              = user32.NewProc("RegisterClassExW")
	procCreateWindowExW               = user32.NewProc("CreateWindowExW")
	procDestroyWindow                 = user32.NewProc("DestroyWindow")
	procDefWindowProcW                = user32.NewProc("DefWindowProcW")
	procDispatchMessageW              = user32.NewProc("DispatchMessageW")
	procPostMessageW                  = user32.NewProc("PostMessageW")
	procGlobalAlloc                   = kernel32.NewProc("GlobalAlloc")
	procGlobalFree                    = kernel32.NewProc("GlobalFree")
	procGlobalLock                    = kernel32.NewProc("GlobalLock")
	procGlobalUnlock                  = kernel32.NewProc("GlobalUnlock")
	procGlobalSize                    = kernel32.NewProc("GlobalSize")
)

const (
	wmClipboardUpdate = 0x031D
	wmClipboardQuit   = wmApp + 2
	cfUnicodeText     = 13
	gmemMoveable      = 0x0002
	hwndMessage       = ^uintptr(2) // HWND_MESSAGE, (HWND)-3

	clipboardOpenTries = 10
	clipboardOpenWait  = 10 * time.Millisecond
)

// wndClassExW is WNDCLASSEXW.
type wndClassExW struct {
	size       uint32
	style      uint32
	wndProc    uintptr
	clsExtra   int32
	wndExtra   int32
	instance   uintptr
	icon       uintptr
	cursor     uintptr
	background uintptr
	menuName   *uint16
	className  *uint16
	iconSm     uintptr
}

// The window class is registered once per process; its procedure finds
// the Clipboard by window handle.
var (
	clipClassOnce sync.Once
	clipClassErr  error
	clipClassName = windows.StringToUTF16Ptr("LifebuoyClipboard")
	clipWindows   sync.Map // hwnd → *Clipboard
)

func registerClipboardClass() error {
	clipClassOnce.Do(func() {
		wc := wndClassExW{wndProc: windows.NewCallback(clipboardWndProc), className: clipClassName}
		wc.size = uint32(unsafe.Sizeof(wc))
		if r, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
			clipClassErr = lastError("RegisterClassExW", err)
		}
	})
	return clipClassErr
}

func clipboardWndProc(hwnd, message, wParam, lParam uintptr) uintptr {
	if message == wmClipboardUpdate {
		if c, ok := clipWindows.Load(hwnd); ok {
			c.(*Clipboard).changed()
		}
		return 0
	}
	r, _, _ := procDefWindowProcW.Call(hwnd, message, wParam, lParam)
	return r
}

// NewClipboard starts following the clipboard. Texts longer than max
// bytes (in UTF-8) are neither read nor set.
func NewClipboard(d *Display, max int) (*Clipboard, error) {
	if err := registerClipboardClass(); err != nil {
		return nil, fmt.Errorf("win: clipboard: %w", err)
	}
	c := &Clipboard{d: d, max: max, text: make(chan string, 1), done: make(chan struct{})}
	ready := make(chan error, 1)
	go c.loop(ready)
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("win: clipboard: %w", err)
	}
	return c, nil
}

// loop owns the window: it creates it, registers the listener and
// dispatches its messages until Close.
func (c *Clipboard) loop(ready chan<- error) {
	runtime.LockOSThread() // the thread ends with the goroutine
	defer close(c.done)
	hwnd, _, err := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(clipClassName)), 0, 0, 0, 0, 0, 0,
		hwndMessage, 0, 0, 0)
	if hwnd == 0 {
		ready <- lastError("CreateWindowExW", err)
		return
	}
	c.hwnd = hwnd
	clipWindows.Store(hwnd, c)
	defer func() {
		clipWindows.Delete(hwnd)
		procDestroyWindow.Call(hwnd)
	}()
	if r, _, err := procAddClipboardFormatListener.Call(hwnd); r == 0 {
		ready <- lastError("AddClipboardFormatListener", err)
		return
	}
	defer procRemoveClipboardFormatListener.Call(hwnd)
	ready <- nil
	var m msg
	for {
		ok, err := getMessage(&m)
		if err != nil {
			c.d.log.Warn("win: clipboard loop", "err", err)
			return
		}
		if !ok || m.message == wmClipboardQuit {
			return
		}
		procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
	}
}

// Changes delivers the clipboard's text whenever another program puts
// text there (only the latest is kept for a slow reader).
func (c *Clipboard) Changes() <-chan string { return c.text }

// changed reads the clipboard after WM_CLIPBOARDUPDATE, unless the
// change was SetText's own.
func (c *Clipboard) changed() {
	if owner, _, _ := procGetClipboardOwner.Call(); owner == c.hwnd {
		return
	}
	text, err := c.read()
	if err != nil {
		c.d.log.Debug("win: clipboard read", "err", err)
		return
	}
	select {
	case <-c.text:
	default:
	}
	c.text <- text
}

// open opens the clipboard for the window; another program may hold it
// for a moment, so it tries a few times.
func (c *Clipboard) open() error {
	var err error
	for i := range clipboardOpenTries {
		r, _, e := procOpenClipboard.Call(c.hwnd)
		if r != 0 {
			return nil
		}
		err = lastError("OpenClipboard", e)
		if i+1 < clipboardOpenTries {
			time.Sleep(clipboardOpenWait)
		}
	}
	return err
}

var errNoText = errors.New("win: the clipboard holds no text")

// read returns the clipboard's CF_UNICODETEXT with LF line ends.
func (c *Clipboard) read() (string, error) {
	if err := c.open(); err != nil {
		return "", err
	}
	defer procCloseClipboard.Call()
	h, _, _ := procGetClipboardData.Call(cfUnicodeText)
	if h == 0 {
		return "", errNoText
	}
	size, _, _ := procGlobalSize.Call(h)
	if size/2 > uintptr(c.max) {
		return "", fmt.Errorf("win: clipboard text of %d bytes exceeds %d", size, c.max)
	}
	p, _, err := procGlobalLock.Call(h)
	if p == 0 {
		return "", lastError("GlobalLock", err)
	}
	defer procGlobalUnlock.Call(h)
	u := unsafe.Slice((*uint16)(globalPtr(p)), size/2)
	text := windows.UTF16ToString(u) // stops at the NUL
	if len(text) > c.max {
		return "", fmt.Errorf("win: clipboard text of %d bytes exceeds %d", len(text), c.max)
	}
	return strings.ReplaceAll(text, "\r\n", "\n"), nil
}

// SetText puts text on the clipboard as CF_UNICODETEXT, as if the
// customer had copied it.
func (c *Clipboard) SetText(text string) error {
	if len(text) > c.max {
		return fmt.Errorf("win: clipboard text of %d bytes exceeds %d", len(text), c.max)
	}
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
	u, err := windows.UTF16FromString(strings.ReplaceAll(text, "\x00", ""))
	if err != nil {
		return err
	}
	runtime.LockOSThread() // OpenClipboard to CloseClipboard on one thread
	defer runtime.UnlockOSThread()
	if err := c.open(); err != nil {
		return err
	}
	defer procCloseClipboard.Call()
	if r, _, err := procEmptyClipboard.Call(); r == 0 {
		return lastError("EmptyClipboard", err)
	}
	n := uintptr(len(u) * 2)
	h, _, err := procGlobalAlloc.Call(gmemMoveable, n)
	if h == 0 {
		return lastError("GlobalAlloc", err)
	}
	p, _, err := procGlobalLock.Call(h)
	if p == 0 {
		procGlobalFree.Call(h)
		return lastError("GlobalLock", err)
	}
	copy(unsafe.Slice((*uint16)(globalPtr(p)), len(u)), u)
	procGlobalUnlock.Call(h)
	if r, _, err := procSetClipboardData.Call(cfUnicodeText, h); r == 0 {
		procGlobalFree.Call(h) // still ours when SetClipboardData fails
		return lastError("SetClipboardData", err)
	}
	return nil
}

// Close stops following the clipboard.
func (c *Clipboard) Close() error {
	c.closeOnce.Do(func() {
		procPostMessageW.Call(c.hwnd, wmClipboardQuit, 0, 0)
	})
	<-c.done
	return nil
}

// globalPtr turns GlobalLock's result into a pointer. The memory is
// Windows', not Go's, so the garbage collector neither moves nor frees it.
func globalPtr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
