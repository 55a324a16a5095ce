//go:build windows

package win

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/windows"
)

// Hotkeys registers global hotkeys (RegisterHotKey, with MOD_NOREPEAT and
// no other modifier) so that their presses reach the agent whichever
// window has the focus: F12 (revoke control) and F11 (toggle file
// transfer). Each press is sent on C as its keysym; presses are dropped
// when C is full.
//
// A hotkey registered without a window belongs to the thread that
// registered it and arrives as WM_HOTKEY in that thread's queue, so
// Hotkeys runs a goroutine locked to its own OS thread with a message
// loop. GrabKey hands the registration to that thread (a request plus a
// posted wake-up message) and waits for the result; Close posts a quit
// message, and the thread unregisters everything and ends.
//
// The same thread runs a low-level keyboard hook (WH_KEYBOARD_LL, see
// hookKeys), which is the hotkey where it can be installed: it sees the
// customer's F11 and F12 whatever modifiers are held or locked (a
// supporter with control could hold Shift so that a plain registered
// F12 no longer matches) and whoever else registered them (another
// program; Windows also documents F12 as reserved for debuggers), and it
// drops injected presses (LLKHF_INJECTED), for which Windows would fire a
// registered hotkey too. Without the hook, the keys are registered with
// RegisterHotKey with every combination of modifiers, and GrabKey fails
// if another program holds them.
type Hotkeys struct {
	C <-chan uint32 // keysyms of registered hotkeys as they are pressed

	d    *Display
	c    chan uint32
	reqs chan hotkeyReq
	tid  uint32        // the message loop's thread
	done chan struct{} // closed when the loop has ended

	hook *hookKeys // owned by the loop's thread; nil without a hook

	mu     sync.Mutex
	closed bool
}

type hotkeyReq struct {
	keysym uint32
	vk     uint16
	reply  chan error
}

// wmHotkeysQuit asks the hotkey thread to end. (WM_QUIT posted to a
// thread works too, but Windows documents PostQuitMessage from the thread
// itself as the way to post it.)
const wmHotkeysQuit = wmApp + 1

// errHotkeysClosed is returned by GrabKey after Close.
var errHotkeysClosed = errors.New("win: hotkeys closed")

// NewHotkeys starts the hotkey thread with nothing registered yet.
func NewHotkeys(d *Display) (*Hotkeys, error) {
	h := &Hotkeys{
		c:    make(chan uint32, 16),
		reqs: make(chan hotkeyReq, 1),
		done: make(chan struct{}),
	}
	h.C = h.c
	h.d = d
	ready := make(chan error, 1)
	go h.loop(d, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return h, nil
}

// loop is the hotkey thread. It never unlocks the OS thread: when the
// goroutine ends, the thread ends with it, and with it its queue.
func (h *Hotkeys) loop(d *Display, ready chan<- error) {
	runtime.LockOSThread()
	defer close(h.done)
	var m msg
	peekMessage(&m, wmUser, wmUser) // creates the thread's message queue
	h.tid = windows.GetCurrentThreadId()
	if hook, err := setKeyboardHook(h); err != nil {
		d.log.Warn("win: no low-level keyboard hook; injected F11/F12 are not filtered there", "err", err)
	} else {
		h.hook = newHookKeys()
		defer unhookWindowsHookEx(hook)
	}
	ready <- nil

	ids := map[int32]uint32{} // hotkey id → keysym
	byVK := map[uint16]bool{} // virtual keys registered
	defer func() {
		for id := range ids {
			if err := unregisterHotKey(0, id); err != nil {
				d.log.Debug("win: unregister hotkey", "err", err)
			}
		}
	}()
	for {
		ok, err := getMessage(&m)
		if err != nil {
			d.log.Warn("win: hotkey loop", "err", err)
			return
		}
		if !ok {
			return // WM_QUIT, posted by someone else
		}
		switch m.message {
		case wmHotkeysQuit:
			return
		case wmHotkey:
			if ks, ok := ids[int32(m.wParam)]; ok {
				select {
				case h.c <- ks:
				default:
				}
			}
		case wmApp:
			select {
			case r := <-h.reqs:
				if byVK[r.vk] {
					r.reply <- nil
					break
				}
				if h.hook != nil {
					// The hook is the hotkey: it sees the key whatever
					// modifiers are held and whoever else registered it.
					h.hook.watched[r.vk], byVK[r.vk] = r.keysym, true
					r.reply <- nil
					break
				}
				// Without the hook: the key with every combination of
				// modifiers, so that one the supporter holds cannot
				// defeat it.
				var err error
				for mods := range uint32(16) { // MOD_ALT, MOD_CONTROL, MOD_SHIFT, MOD_WIN
					id := int32(len(ids) + 1) // applications use 0x0000-0xBFFF
					if e := registerHotKey(0, id, modNoRepeat|mods, uint32(r.vk)); e != nil {
						if mods == 0 {
							err = e
						}
						continue
					}
					ids[id] = r.keysym
				}
				if err == nil {
					byVK[r.vk] = true
				}
				r.reply <- err
			default:
			}
		}
	}
}

// GrabKey registers the key for keysym, which must be one of the keys
// that type no character (F1-F24, …), as a hotkey without modifiers.
// It fails if another program holds it.
func (h *Hotkeys) GrabKey(keysym uint32) error {
	k, ok := keysymVK[keysym]
	if !ok {
		return fmt.Errorf("win: keysym %#x has no virtual key for a hotkey", keysym)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errHotkeysClosed
	}
	r := hotkeyReq{keysym: keysym, vk: k.vk, reply: make(chan error, 1)}
	h.reqs <- r // empty: requests are made one at a time, under mu
	if err := postThreadMessage(h.tid, wmApp, 0, 0); err != nil {
		select {
		case <-h.reqs:
		default:
		}
		return err
	}
	select {
	case err := <-r.reply:
		if err != nil {
			return fmt.Errorf("win: hotkey for keysym %#x: %w", keysym, err)
		}
		return nil
	case <-h.done:
		return errHotkeysClosed
	}
}

// Close unregisters every hotkey and ends the thread.
func (h *Hotkeys) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	select {
	case <-h.done:
		return nil // the loop ended on an error
	default:
	}
	if err := postThreadMessage(h.tid, wmHotkeysQuit, 0, 0); err != nil {
		return err
	}
	<-h.done
	return nil
}

// The low-level keyboard hook. A hook procedure is called on the thread
// that installed it, inside its message loop (GetMessageW), so it reaches
// that thread's Hotkeys without locks; hooked names the one Hotkeys whose
// thread holds the hook. windows.NewCallback makes callbacks that are
// never freed, so there is one, made once.
var hooked struct {
	sync.Mutex
	h *Hotkeys
}

var keyboardHookProc = sync.OnceValue(func() uintptr {
	return windows.NewCallback(func(code int32, wParam uintptr, kb *kbdLLHookStruct) uintptr {
		if code == hcAction && kb != nil {
			hooked.Lock()
			h := hooked.h
			hooked.Unlock()
			if h != nil && h.hook != nil {
				down := wParam == wmKeyDown || wParam == wmSysKeyDown
				report, swallow := h.hook.key(uint16(kb.vkCode), down, kb.flags&llkhfInjected != 0)
				if report != 0 {
					select {
					case h.c <- report:
					default:
					}
				}
				if swallow {
					return 1
				}
			}
		}
		return callNextHookEx(code, wParam, kb)
	})
})

// setKeyboardHook installs the low-level keyboard hook on the calling
// thread for h.
func setKeyboardHook(h *Hotkeys) (uintptr, error) {
	hooked.Lock()
	defer hooked.Unlock()
	if hooked.h != nil {
		return 0, errors.New("win: a keyboard hook is installed already")
	}
	hook, err := setWindowsHookEx(whKeyboardLL, keyboardHookProc())
	if err != nil {
		return 0, err
	}
	hooked.h = h
	return hook, nil
}

// unhookWindowsHookEx removes the hook; called on the thread that set it.
func unhookWindowsHookEx(hook uintptr) {
	hooked.Lock()
	hooked.h = nil
	hooked.Unlock()
	procUnhookWindowsHookEx.Call(hook)
}
