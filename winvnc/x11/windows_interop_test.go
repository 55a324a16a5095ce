//go:build interop && linux

package x11

import (
	"image"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb/rfbtest"
)

// TestWindows creates top-level windows from a second client (no window
// manager: the root's children are the list) and checks titles, geometry,
// stacking order and map state.
func TestWindows(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	d := openDisplay(t, x)
	c, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	scr := xproto.Setup(c).DefaultScreen(c)
	netName, err := d.atom("_NET_WM_NAME")
	if err != nil {
		t.Fatal(err)
	}
	utf8Str, err := d.atom("UTF8_STRING")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(r image.Rectangle, title string, utf8 bool, mapped bool) xproto.Window {
		id, err := xproto.NewWindowId(c)
		if err != nil {
			t.Fatal(err)
		}
		err = xproto.CreateWindowChecked(c, scr.RootDepth, id, scr.Root, int16(r.Min.X), int16(r.Min.Y),
			uint16(r.Dx()), uint16(r.Dy()), 2, xproto.WindowClassInputOutput, scr.RootVisual, 0, nil).Check()
		if err != nil {
			t.Fatal(err)
		}
		prop, typ := xproto.Atom(xproto.AtomWmName), xproto.Atom(xproto.AtomString)
		if utf8 {
			prop, typ = netName, utf8Str
		}
		xproto.ChangeProperty(c, xproto.PropModeReplace, id, prop, typ, 8, uint32(len(title)), []byte(title))
		if mapped {
			xproto.MapWindow(c, id)
		}
		return id
	}
	a := mk(image.Rect(10, 20, 110, 70), "caf\xe9", false, true) // Latin-1 WM_NAME
	b := mk(image.Rect(200, 100, 300, 400), "Ωmega", true, true)
	u := mk(image.Rect(0, 0, 50, 50), "hidden", false, false)
	bar := mk(image.Rect(0, 450, 640, 480), "", false, true) // an untitled taskbar
	dock := mk(image.Rect(600, 0, 640, 400), "panel", true, true)
	typ, err := d.atom("_NET_WM_WINDOW_TYPE")
	if err != nil {
		t.Fatal(err)
	}
	dockType, err := d.atom("_NET_WM_WINDOW_TYPE_DOCK")
	if err != nil {
		t.Fatal(err)
	}
	xproto.ChangeProperty(c, xproto.PropModeReplace, dock, typ, xproto.AtomAtom, 32, 1,
		[]byte{byte(dockType), byte(dockType >> 8), byte(dockType >> 16), byte(dockType >> 24)})
	if _, err := xproto.GetInputFocus(c).Reply(); err != nil {
		t.Fatal(err)
	}

	ws, err := d.Windows()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[uint32]Window{}
	for _, w := range ws {
		byID[w.ID] = w
	}
	for _, want := range []Window{
		{ID: uint32(a), Title: "café", Rect: image.Rect(12, 22, 112, 72), Map: Viewable, App: true},
		{ID: uint32(b), Title: "Ωmega", Rect: image.Rect(202, 102, 302, 402), Map: Viewable, App: true},
		{ID: uint32(u), Title: "hidden", Rect: image.Rect(2, 2, 52, 52), Map: Unmapped, App: true},
		{ID: uint32(bar), Title: "", Rect: image.Rect(2, 452, 642, 482), Map: Viewable},
		{ID: uint32(dock), Title: "panel", Rect: image.Rect(602, 2, 642, 402), Map: Viewable},
	} {
		got, ok := byID[want.ID]
		if !ok {
			t.Errorf("window %#x missing from %+v", want.ID, ws)
			continue
		}
		want.Stack = got.Stack
		if got != want {
			t.Errorf("window %#x = %+v, want %+v", want.ID, got, want)
		}
	}
	if !(byID[uint32(a)].Stack < byID[uint32(b)].Stack && byID[uint32(b)].Stack < byID[uint32(u)].Stack) {
		t.Errorf("stacking order a=%d b=%d u=%d, want increasing (creation order)",
			byID[uint32(a)].Stack, byID[uint32(b)].Stack, byID[uint32(u)].Stack)
	}

	xproto.ConfigureWindow(c, a, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
	if _, err := xproto.GetInputFocus(c).Reply(); err != nil {
		t.Fatal(err)
	}
	ws, err = d.Windows()
	if err != nil {
		t.Fatal(err)
	}
	if top := ws[len(ws)-1]; top.ID != uint32(a) {
		t.Errorf("after raising %#x the top window is %#x", a, top.ID)
	}
}
