//go:build linux

package x11

import (
	"fmt"
	"image"
	"unicode/utf8"

	"github.com/jezek/xgb/xproto"
)

// MapState says whether a window is shown.
type MapState byte

// Map states, as X reports them.
const (
	Unmapped   MapState = xproto.MapStateUnmapped
	Unviewable MapState = xproto.MapStateUnviewable // mapped, but an ancestor is not
	Viewable   MapState = xproto.MapStateViewable
)

func (s MapState) String() string {
	switch s {
	case Unmapped:
		return "unmapped"
	case Unviewable:
		return "unviewable"
	case Viewable:
		return "viewable"
	}
	return fmt.Sprintf("MapState(%d)", byte(s))
}

// Window is a top-level window, for choosing which applications to share.
type Window struct {
	ID    uint32
	Title string
	Rect  image.Rectangle // in root coordinates, without the border
	Stack int             // 0 is the bottom; higher is above
	Map   MapState
	// App says whether a person would call the window an application:
	// titled, managed (not override-redirect), and neither a dock, a
	// desktop, a menu or another helper type, nor kept off the taskbar.
	App bool
}

// Windows lists the top-level windows, bottom first. With a window manager
// it reads _NET_CLIENT_LIST_STACKING (or _NET_CLIENT_LIST); without one it
// takes the root's children, which X keeps in stacking order.
func (d *Display) Windows() (ws []Window, err error) {
	err = guard(func() error {
		ids, err := d.clientList()
		if err != nil {
			return err
		}
		for _, id := range ids {
			w, ok := d.window(id)
			if !ok {
				continue // gone meanwhile
			}
			w.Stack = len(ws)
			ws = append(ws, w)
		}
		return nil
	})
	return ws, err
}

func (d *Display) clientList() ([]xproto.Window, error) {
	for _, name := range []string{"_NET_CLIENT_LIST_STACKING", "_NET_CLIENT_LIST"} {
		ids, err := d.windowListProperty(d.root, name)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			return ids, nil
		}
	}
	t, err := xproto.QueryTree(d.conn, d.root).Reply()
	if err != nil {
		return nil, fmt.Errorf("x11: query tree: %w", err)
	}
	return t.Children, nil
}

func (d *Display) windowListProperty(w xproto.Window, name string) ([]xproto.Window, error) {
	a, err := d.atom(name)
	if err != nil {
		return nil, err
	}
	r, err := xproto.GetProperty(d.conn, false, w, a, xproto.AtomWindow, 0, 1<<16).Reply()
	if err != nil {
		return nil, fmt.Errorf("x11: get %s: %w", name, err)
	}
	if r.Format != 32 {
		return nil, nil
	}
	ids := make([]xproto.Window, 0, r.ValueLen)
	for i := 0; i+4 <= len(r.Value); i += 4 {
		v := r.Value[i:]
		ids = append(ids, xproto.Window(uint32(v[0])|uint32(v[1])<<8|uint32(v[2])<<16|uint32(v[3])<<24))
	}
	return ids, nil
}

// window reads one window's title, geometry and map state; ok is false if
// the window no longer exists.
func (d *Display) window(id xproto.Window) (Window, bool) {
	attrC := xproto.GetWindowAttributes(d.conn, id)
	geoC := xproto.GetGeometry(d.conn, xproto.Drawable(id))
	posC := xproto.TranslateCoordinates(d.conn, id, d.root, 0, 0)
	attr, err1 := attrC.Reply()
	geo, err2 := geoC.Reply()
	pos, err3 := posC.Reply()
	if err1 != nil || err2 != nil || err3 != nil {
		return Window{}, false
	}
	w := Window{
		ID:    uint32(id),
		Title: d.title(id),
		Rect:  image.Rect(int(pos.DstX), int(pos.DstY), int(pos.DstX)+int(geo.Width), int(pos.DstY)+int(geo.Height)),
		Map:   MapState(attr.MapState),
	}
	w.App = isApp(w.Title, attr.OverrideRedirect, d.atomNames(id, "_NET_WM_WINDOW_TYPE"), d.atomNames(id, "_NET_WM_STATE"))
	return w, true
}

// atomNames reads a window's property of atoms and returns their names.
func (d *Display) atomNames(id xproto.Window, prop string) []string {
	a, err := d.atom(prop)
	if err != nil {
		return nil
	}
	r, err := xproto.GetProperty(d.conn, false, id, a, xproto.AtomAtom, 0, 64).Reply()
	if err != nil || r.Format != 32 {
		return nil
	}
	var names []string
	for i := 0; i+4 <= len(r.Value); i += 4 {
		v := r.Value[i:]
		atom := xproto.Atom(uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16 | uint32(v[3])<<24)
		if n, err := xproto.GetAtomName(d.conn, atom).Reply(); err == nil {
			names = append(names, n.Name)
		}
	}
	return names
}

// title returns _NET_WM_NAME (UTF-8) or else WM_NAME (taken as Latin-1).
func (d *Display) title(id xproto.Window) string {
	if name, err := d.atom("_NET_WM_NAME"); err == nil {
		if utf8Atom, err := d.atom("UTF8_STRING"); err == nil {
			r, err := xproto.GetProperty(d.conn, false, id, name, utf8Atom, 0, 1024).Reply()
			if err == nil && r.Format == 8 && len(r.Value) > 0 && utf8.Valid(r.Value) {
				return string(r.Value)
			}
		}
	}
	r, err := xproto.GetProperty(d.conn, false, id, xproto.AtomWmName, xproto.GetPropertyTypeAny, 0, 1024).Reply()
	if err != nil || r.Format != 8 {
		return ""
	}
	return latin1(r.Value)
}

func latin1(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}

// Focus returns the window that has the input focus and its ancestors
// up to (not including) the root, innermost first; empty when the focus
// is the root or follows the pointer (then no window has it for sure).
func (d *Display) Focus() (path []uint32, err error) {
	err = guard(func() error {
		f, err := xproto.GetInputFocus(d.conn).Reply()
		if err != nil {
			return fmt.Errorf("x11: input focus: %w", err)
		}
		w := f.Focus
		for range 64 { // a window tree is never this deep
			if w == xproto.WindowNone || w == 1 /* PointerRoot */ || w == d.root {
				return nil
			}
			path = append(path, uint32(w))
			t, err := xproto.QueryTree(d.conn, w).Reply()
			if err != nil {
				return fmt.Errorf("x11: query tree: %w", err)
			}
			w = t.Parent
		}
		return nil
	})
	return path, err
}
