//go:build windows

// Command winhelper is a Windows program the agent's Wine tests run beside
// it: a window of one colour that reports clicks and moves when told, and
// a holder of a global hotkey. It is built and run by the interop tests
// (winvnc/wine_interop_test.go), never shipped.
//
//	winhelper -title T -color ff00ff -rect 10,10,200,100   # a window
//	winhelper -hotkey f12                                 # holds F12, no window
//	winhelper -bigcursor 320 ...                          # a cursor too big to read over the window
//
// It prints one line per event on standard output: "ready", "click
// BUTTON X Y" (screen coordinates of a button press in the window),
// "hotkey ok" or "hotkey failed ERR", "moved X Y". It reads commands from
// standard input: "move X Y" moves the window's top left corner to the
// screen point X, Y; "quit" ends it (as does the end of the input).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32 = windows.NewLazySystemDLL("user32.dll")
	gdi32  = windows.NewLazySystemDLL("gdi32.dll")

	procRegisterClassExW   = user32.NewProc("RegisterClassExW")
	procCreateWindowExW    = user32.NewProc("CreateWindowExW")
	procDefWindowProcW     = user32.NewProc("DefWindowProcW")
	procGetMessageW        = user32.NewProc("GetMessageW")
	procTranslateMessage   = user32.NewProc("TranslateMessage")
	procDispatchMessageW   = user32.NewProc("DispatchMessageW")
	procPostMessageW       = user32.NewProc("PostMessageW")
	procPostQuitMessage    = user32.NewProc("PostQuitMessage")
	procSetWindowPos       = user32.NewProc("SetWindowPos")
	procShowWindow         = user32.NewProc("ShowWindow")
	procUpdateWindow       = user32.NewProc("UpdateWindow")
	procRegisterHotKey     = user32.NewProc("RegisterHotKey")
	procClientToScreen     = user32.NewProc("ClientToScreen")
	procPostThreadMessageW = user32.NewProc("PostThreadMessageW")
	procCreateSolidBrush   = gdi32.NewProc("CreateSolidBrush")
	procCreateCursor       = user32.NewProc("CreateCursor")
	procSetCursor          = user32.NewProc("SetCursor")
)

// bigCursor, if not 0, is the cursor over the window (-bigcursor).
var bigCursor uintptr

const (
	wsOverlappedWindow = 0x00CF0000
	wsVisible          = 0x10000000
	swShow             = 5
	swpNoSize          = 0x0001
	swpNoZOrder        = 0x0004
	swpNoActivate      = 0x0010
	wmDestroy          = 0x0002
	wmSetCursor        = 0x0020
	wmLButtonDown      = 0x0201
	wmRButtonDown      = 0x0204
	wmMButtonDown      = 0x0207
	wmHotkey           = 0x0312
	wmApp              = 0x8000
	wmAppMove          = wmApp + 1
	wmAppQuit          = wmApp + 2
	modNoRepeat        = 0x4000
	vkF11, vkF12       = 0x7A, 0x7B
)

type wndClassEx struct {
	size       uint32
	style      uint32
	wndProc    uintptr
	clsExtra   int32
	wndExtra   int32
	instance   windows.Handle
	icon       windows.Handle
	cursor     windows.Handle
	background windows.Handle
	menuName   *uint16
	className  *uint16
	iconSm     windows.Handle
}

type point struct{ x, y int32 }

type msg struct {
	hwnd    windows.HWND
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      point
}

var out = bufio.NewWriter(os.Stdout)

func say(format string, args ...any) {
	fmt.Fprintf(out, format+"\n", args...)
	out.Flush()
}

func main() {
	title := flag.String("title", "winhelper", "window title")
	color := flag.String("color", "ff00ff", "client area colour RRGGBB")
	rect := flag.String("rect", "100,100,200,150", "window X,Y,W,H on the screen")
	hotkey := flag.String("hotkey", "", "hold this global hotkey (f11 or f12) instead of showing a window")
	cursor := flag.Int("bigcursor", 0, "over the window, a monochrome cursor this many pixels square")
	flag.Parse()
	if *cursor > 0 {
		n := *cursor
		and := make([]byte, (n+15)/16*2*n)
		xor := make([]byte, len(and))
		for i := range xor {
			xor[i] = 0xaa
		}
		bigCursor, _, _ = procCreateCursor.Call(0, 0, 0, uintptr(n), uintptr(n),
			uintptr(unsafe.Pointer(&and[0])), uintptr(unsafe.Pointer(&xor[0])))
		if bigCursor == 0 {
			fatal("CreateCursor %d×%d failed", n, n)
		}
	}
	runtime.LockOSThread()
	tid := windows.GetCurrentThreadId()

	var hwnd uintptr
	if *hotkey != "" {
		vk := map[string]uintptr{"f11": vkF11, "f12": vkF12}[strings.ToLower(*hotkey)]
		if vk == 0 {
			fatal("unknown hotkey %q", *hotkey)
		}
		if r, _, err := procRegisterHotKey.Call(0, 1, modNoRepeat, vk); r == 0 {
			say("hotkey failed %v", err)
		} else {
			say("hotkey ok")
		}
	} else {
		hwnd = makeWindow(*title, *color, *rect)
	}
	go readCommands(hwnd, tid)
	say("ready")
	var m msg
	for {
		r, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
		if int32(r) <= 0 {
			return
		}
		switch m.message {
		case wmHotkey:
			say("hotkey pressed")
			continue
		case wmAppQuit:
			return
		}
		procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
		procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
	}
}

// readCommands reads the commands on stdin and hands them to the window's
// thread.
func readCommands(hwnd uintptr, tid uint32) {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "move" && hwnd != 0:
			x, _ := strconv.Atoi(f[1])
			y, _ := strconv.Atoi(f[2])
			procPostMessageW.Call(hwnd, wmAppMove, uintptr(int32(x)), uintptr(int32(y)))
		case len(f) == 1 && f[0] == "quit":
			procPostThreadMessageW.Call(uintptr(tid), wmAppQuit, 0, 0)
			return
		}
	}
	procPostThreadMessageW.Call(uintptr(tid), wmAppQuit, 0, 0)
}

func makeWindow(title, color, rect string) uintptr {
	rgb, err := strconv.ParseUint(color, 16, 32)
	if err != nil {
		fatal("-color: %v", err)
	}
	var r [4]int
	parts := strings.Split(rect, ",")
	if len(parts) != 4 {
		fatal("-rect: want X,Y,W,H")
	}
	for i, p := range parts {
		if r[i], err = strconv.Atoi(p); err != nil {
			fatal("-rect: %v", err)
		}
	}
	// COLORREF is 0x00BBGGRR.
	bgr := (rgb&0xff)<<16 | rgb&0xff00 | rgb>>16&0xff
	brush, _, _ := procCreateSolidBrush.Call(uintptr(bgr))
	class, _ := windows.UTF16PtrFromString("lifebuoy-winhelper")
	wc := wndClassEx{
		wndProc:    windows.NewCallback(wndProc),
		background: windows.Handle(brush),
		className:  class,
	}
	wc.size = uint32(unsafe.Sizeof(wc))
	if a, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); a == 0 {
		fatal("RegisterClassExW: %v", err)
	}
	name, _ := windows.UTF16PtrFromString(title)
	hwnd, _, err := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(class)), uintptr(unsafe.Pointer(name)),
		wsOverlappedWindow|wsVisible, uintptr(r[0]), uintptr(r[1]), uintptr(r[2]), uintptr(r[3]), 0, 0, 0, 0)
	if hwnd == 0 {
		fatal("CreateWindowExW: %v", err)
	}
	procShowWindow.Call(hwnd, swShow)
	procUpdateWindow.Call(hwnd)
	return hwnd
}

func wndProc(hwnd, message, wParam, lParam uintptr) uintptr {
	switch message {
	case wmLButtonDown, wmRButtonDown, wmMButtonDown:
		p := point{int32(int16(lParam)), int32(int16(lParam >> 16))}
		procClientToScreen.Call(hwnd, uintptr(unsafe.Pointer(&p)))
		button := map[uintptr]string{wmLButtonDown: "left", wmRButtonDown: "right", wmMButtonDown: "middle"}[message]
		say("click %s %d %d", button, p.x, p.y)
		return 0
	case wmAppMove:
		x, y := int32(wParam), int32(lParam)
		procSetWindowPos.Call(hwnd, 0, uintptr(x), uintptr(y), 0, 0, swpNoSize|swpNoZOrder|swpNoActivate)
		say("moved %d %d", x, y)
		return 0
	case wmSetCursor:
		if bigCursor != 0 && lParam&0xffff == 1 { // HTCLIENT
			procSetCursor.Call(bigCursor)
			return 1
		}
	case wmDestroy:
		procPostQuitMessage.Call(0)
		return 0
	}
	r, _, _ := procDefWindowProcW.Call(hwnd, message, wParam, lParam)
	return r
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "winhelper: "+format+"\n", args...)
	syscall.Exit(2)
}
