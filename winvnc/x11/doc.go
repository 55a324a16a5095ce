// Package x11 is the agent's Linux X11 layer: screen capture into an
// rfb.Framebuffer, input injection, global hotkeys and the list of
// top-level windows, all over one persistent connection to the X server
// (github.com/jezek/xgb, pure Go).
//
// Capture uses a private MIT-SHM segment (mode 0600, removed as soon as
// both sides have attached; at most 1 MiB with DAMAGE, larger areas are
// read in strips of rows straight into the framebuffer), DAMAGE for the
// changed areas, XFIXES for the
// cursor image and RandR for size changes. Input goes through XTEST.
//
// xgb panics on a request to an extension it has not initialised, so
// Display initialises every extension once, remembers which are present,
// guards every call, and turns any panic from xgb into an error.
//
// The smallest real use:
//
//	d, err := x11.Open("", logger) // "" means $DISPLAY
//	if err != nil { ... }
//	defer d.Close()
//	fb := rfb.NewFramebuffer(1, 1)
//	go x11.NewCapturer(d, fb).Run(ctx)
//	in, _ := x11.NewInjector(d)
//	defer in.Close() // releases every key and button, restores the keymap
//	srv := rfb.NewServer(fb, rfb.Options{OnKey: in.Key, OnPointer: in.Pointer})
//
// Everything but the pure logic (keysym tables, shift decisions, rectangle
// merging, pixel conversion) is built on Linux only.
package x11
