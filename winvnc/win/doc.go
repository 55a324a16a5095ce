// Package win is the agent's Windows layer: screen capture into an
// rfb.Framebuffer (GDI), input injection (SendInput), global hotkeys
// (RegisterHotKey) and the list of top-level windows (EnumWindows). Its
// API has the shape of the Linux layer, lifebuoy/winvnc/x11, so that the
// agent drives either through the same small interfaces.
//
// The user32, gdi32 and dwmapi functions that golang.org/x/sys/windows
// lacks are bound here, each with a typed wrapper that returns the
// thread's last error (user32_windows.go, gdi32_windows.go). Structures
// passed to them are declared in structs.go without build tags, and
// their sizes and offsets are checked against the SDK's on every host
// and for amd64, 386 and arm64.
//
// The smallest real use:
//
//	d, err := win.Open(logger) // makes the process DPI aware
//	if err != nil { ... }
//	fb := rfb.NewFramebuffer(1, 1)
//	go win.NewCapturer(d, fb).Run(ctx)
//	in, _ := win.NewInjector(d)
//	defer in.Close() // releases every key and button
//	hk, _ := win.NewHotkeys(d)
//	defer hk.Close()
//	hk.GrabKey(winvnc.KeysymF12) // presses arrive on hk.C
//	srv := rfb.NewServer(fb, rfb.Options{OnKey: in.Key, OnPointer: in.Pointer})
//
// Only the pure logic builds on other systems, where its tests run: the
// keysym tables and key plans (keymap.go), pointer events and coordinate
// scaling (input.go), tile comparison, pixel and cursor conversion
// (tiles.go) and the structure layouts (structs.go). The code that calls
// Windows is checked by cross-compiling and vetting only.
//
// The framebuffer is the virtual screen: all monitors, its (0, 0) at the
// top left of their bounding box, which is at a negative screen position
// when a monitor lies left of or above the primary one.
package win
