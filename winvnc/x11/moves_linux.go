//go:build linux

package x11

import (
	"image"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb"
)

// Window moves as CopyRect.
//
// The capturer follows the top-level windows (children of the root) from
// SubstructureNotify: created, configured, mapped, unmapped, reparented,
// destroyed. A mapped window that kept its size but changed its place
// since the last capture is handed to the framebuffer as a copy hint
// (rfb.Framebuffer.UpdateCopied) together with the captured damage:
// viewers with CopyRect copy the window's pixels they already have and get
// only what differs, which is the uncovered area. Hints change no pixel,
// so a hint that is wrong (a window moved below another, its contents
// changed meanwhile) costs bytes, never a wrong picture, and the
// application mask applies to captured pixels as before.

// maxTracked bounds the windows followed; beyond it new ones are ignored.
const maxTracked = 4096

// topWindow is where a top-level window is and where it was at the last
// capture.
type topWindow struct {
	now, shown image.Rectangle
	mapped     bool
	moved      bool // configured since the last capture
}

// trackWindows reads the root's children, after SubstructureNotify was
// selected, so that no change is missed.
func (c *Capturer) trackWindows() error {
	c.wins = map[xproto.Window]*topWindow{}
	return guard(func() error {
		tree, err := xproto.QueryTree(c.d.conn, c.d.root).Reply()
		if err != nil {
			return err
		}
		kids := tree.Children[:min(len(tree.Children), maxTracked)]
		geo := make([]xproto.GetGeometryCookie, len(kids))
		attr := make([]xproto.GetWindowAttributesCookie, len(kids))
		for i, w := range kids {
			geo[i] = xproto.GetGeometry(c.d.conn, xproto.Drawable(w))
			attr[i] = xproto.GetWindowAttributes(c.d.conn, w)
		}
		for i, w := range kids {
			g, gerr := geo[i].Reply()
			a, aerr := attr[i].Reply()
			if gerr != nil || aerr != nil {
				continue // gone meanwhile
			}
			r := outer(g.X, g.Y, g.Width, g.Height, g.BorderWidth)
			c.wins[w] = &topWindow{now: r, shown: r, mapped: a.MapState == xproto.MapStateViewable}
		}
		return nil
	})
}

// isWindowEvent reports whether ev is about a child of the root.
func (c *Capturer) isWindowEvent(ev xgb.Event) bool {
	switch ev := ev.(type) {
	case xproto.ConfigureNotifyEvent:
		return ev.Event == c.d.root && ev.Window != c.d.root
	case xproto.CreateNotifyEvent:
		return ev.Parent == c.d.root
	case xproto.MapNotifyEvent:
		return ev.Event == c.d.root
	case xproto.UnmapNotifyEvent:
		return ev.Event == c.d.root
	case xproto.DestroyNotifyEvent:
		return ev.Event == c.d.root
	case xproto.ReparentNotifyEvent:
		return ev.Event == c.d.root
	}
	return false
}

// windowEvent follows one change of the top-level windows.
func (c *Capturer) windowEvent(ev xgb.Event) {
	if c.wins == nil {
		return
	}
	set := func(w xproto.Window, r image.Rectangle) {
		if t := c.wins[w]; t != nil {
			t.now = r
		} else if len(c.wins) < maxTracked {
			c.wins[w] = &topWindow{now: r, shown: r}
		}
	}
	switch ev := ev.(type) {
	case xproto.ConfigureNotifyEvent:
		set(ev.Window, outer(ev.X, ev.Y, ev.Width, ev.Height, ev.BorderWidth))
		if t := c.wins[ev.Window]; t != nil {
			t.moved = true
		}
	case xproto.CreateNotifyEvent:
		set(ev.Window, outer(ev.X, ev.Y, ev.Width, ev.Height, ev.BorderWidth))
	case xproto.MapNotifyEvent:
		if t := c.wins[ev.Window]; t != nil {
			t.mapped, t.shown = true, t.now
		}
	case xproto.UnmapNotifyEvent:
		if t := c.wins[ev.Window]; t != nil {
			t.mapped = false
		}
	case xproto.DestroyNotifyEvent:
		delete(c.wins, ev.Window)
	case xproto.ReparentNotifyEvent:
		if ev.Parent != c.d.root {
			delete(c.wins, ev.Window)
		}
		// Reparented to the root: its geometry comes with the next
		// ConfigureNotify; until then it is not followed.
	}
}

// drainWindowEvents follows the window changes queued so far: those
// that came before the damage just fetched.
func (c *Capturer) drainWindowEvents() {
	for range cap(c.winEvents) {
		select {
		case ev := <-c.winEvents:
			c.windowEvent(ev)
		default:
			return
		}
	}
}

// queryMoved asks the server where the windows configured since the
// last capture are now, just before their pixels are read. Events can
// trail the damage they go with (they pass the display's reader
// goroutine), and a hint must go from where the previous capture saw a
// window to where this one sees it, or the copies of a drag stop chaining
// and the window goes as pixels again.
func (c *Capturer) queryMoved() {
	var ids []xproto.Window
	for id, t := range c.wins {
		if t.moved && t.mapped {
			ids = append(ids, id)
		}
		t.moved = false
	}
	if len(ids) == 0 {
		return
	}
	_ = guard(func() error {
		cookies := make([]xproto.GetGeometryCookie, len(ids))
		for i, id := range ids {
			cookies[i] = xproto.GetGeometry(c.d.conn, xproto.Drawable(id))
		}
		for i, id := range ids {
			g, err := cookies[i].Reply()
			if err != nil {
				continue // gone meanwhile
			}
			if t := c.wins[id]; t != nil {
				t.now = outer(g.X, g.Y, g.Width, g.Height, g.BorderWidth)
			}
		}
		return nil
	})
}

// takeMoves returns the copy hints for the windows that moved since the
// last capture and whose new place is in the damage being captured
// (rects, at least half of it): a hint must come with the pixels of the
// move, not before them, or the client would copy the window to a place
// the framebuffer does not show it at yet. Those windows are marked as
// shown where they are now; the others wait for their damage.
func (c *Capturer) takeMoves(rects []image.Rectangle) []rfb.Copy {
	var moves []rfb.Copy
	for _, t := range c.wins {
		if t.now == t.shown {
			continue
		}
		covered := 0
		for _, r := range rects {
			covered += area(r.Intersect(t.now))
		}
		if 2*covered < area(t.now) {
			continue
		}
		if t.mapped && t.now.Size() == t.shown.Size() {
			moves = append(moves, rfb.Copy{Dst: t.now, Src: t.shown.Min})
		}
		t.shown = t.now
	}
	return moves
}

func area(r image.Rectangle) int { return r.Dx() * r.Dy() }

// outer is a window's rectangle on the root, its border included.
func outer(x, y int16, w, h, border uint16) image.Rectangle {
	b := 2 * int(border)
	return image.Rect(int(x), int(y), int(x)+int(w)+b, int(y)+int(h)+b)
}
