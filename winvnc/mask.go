package winvnc

import (
	"image"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/rfb"
)

// Window is a top-level window the customer may choose to share.
type Window struct {
	ID      uint32
	Title   string
	Rect    image.Rectangle // on the screen
	Stack   int             // 0 is the bottom; higher is above
	Visible bool            // mapped and viewable
	// App says whether a person would call it an application; only those
	// are offered for sharing. Every window still counts for what covers
	// a shared one.
	App bool
}

// VisibleRegion returns the parts of the screen that show the chosen
// windows: each chosen window's rectangle minus whatever non-chosen
// windows stacked above it cover, clipped to screen. The rectangles may
// overlap (where one chosen window covers another). Windows that are not
// visible show nothing and cover nothing.
func VisibleRegion(ws []Window, chosen map[uint32]bool, screen image.Rectangle) []image.Rectangle {
	var region []image.Rectangle
	for _, w := range ws {
		if !chosen[w.ID] || !w.Visible {
			continue
		}
		parts := []image.Rectangle{w.Rect.Intersect(screen)}
		for _, above := range ws {
			if above.Stack <= w.Stack || chosen[above.ID] || !above.Visible {
				continue
			}
			parts = subtractAll(parts, above.Rect)
		}
		for _, p := range parts {
			if !p.Empty() {
				region = append(region, p)
			}
		}
	}
	return region
}

// subtractAll removes cut from every rectangle of rs.
func subtractAll(rs []image.Rectangle, cut image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	for _, r := range rs {
		out = appendSubtract(out, r, cut)
	}
	return out
}

// appendSubtract appends r minus cut, as at most four rectangles: the
// bands above and below cut, and the pieces left and right of it.
func appendSubtract(out []image.Rectangle, r, cut image.Rectangle) []image.Rectangle {
	in := r.Intersect(cut)
	if in.Empty() {
		if !r.Empty() {
			out = append(out, r)
		}
		return out
	}
	for _, p := range [...]image.Rectangle{
		image.Rect(r.Min.X, r.Min.Y, r.Max.X, in.Min.Y),   // above
		image.Rect(r.Min.X, in.Max.Y, r.Max.X, r.Max.Y),   // below
		image.Rect(r.Min.X, in.Min.Y, in.Min.X, in.Max.Y), // left
		image.Rect(in.Max.X, in.Min.Y, r.Max.X, in.Max.Y), // right
	} {
		if !p.Empty() {
			out = append(out, p)
		}
	}
	return out
}

// Mask colours: a grey checker of 8×8 squares, aligned to the screen so
// that it looks the same however the changed areas are cut.
const (
	maskLight  = 0x9a9a9a
	maskDark   = 0x7a7a7a
	maskSquare = 8
)

// MaskColor is the mask's colour at screen position (x, y), as 0x00RRGGBB.
func MaskColor(x, y int) uint32 {
	if (x/maskSquare+y/maskSquare)%2 == 0 {
		return maskLight
	}
	return maskDark
}

// paintMask paints r with the checker except where region shows a chosen
// window.
func paintMask(img *rfb.Image, r image.Rectangle, region []image.Rectangle) {
	hidden := []image.Rectangle{r}
	for _, v := range region {
		hidden = subtractAll(hidden, v)
		if len(hidden) == 0 {
			return
		}
	}
	for _, h := range hidden {
		paintChecker(img, h)
	}
}

// paintChecker fills r with the checker, one square-aligned run at a time.
func paintChecker(img *rfb.Image, r image.Rectangle) {
	for y0 := r.Min.Y; y0 < r.Max.Y; {
		y1 := min((y0/maskSquare+1)*maskSquare, r.Max.Y)
		for x0 := r.Min.X; x0 < r.Max.X; {
			x1 := min((x0/maskSquare+1)*maskSquare, r.Max.X)
			img.Fill(image.Rect(x0, y0, x1, y1), MaskColor(x0, y0))
			x0 = x1
		}
		y0 = y1
	}
}

// mask is the application selection as the framebuffer's filter sees it.
// The agent's loop replaces the region; the filter reads it on the
// capture's goroutine.
type mask struct {
	region atomic.Pointer[[]image.Rectangle] // nil: share everything
}

// set installs region (nil shares everything) and reports whether it
// differs from the one in place.
func (m *mask) set(region []image.Rectangle, all bool) bool {
	old := m.region.Load()
	if all {
		m.region.Store(nil)
		return old != nil
	}
	if region == nil {
		region = []image.Rectangle{} // nothing visible: mask everything
	}
	if old != nil && slices.Equal(*old, region) {
		return false
	}
	m.region.Store(&region)
	return true
}

// filter is the rfb.Framebuffer filter.
func (m *mask) filter(img *rfb.Image, r image.Rectangle) {
	if p := m.region.Load(); p != nil {
		paintMask(img, r, *p)
	}
}

// intersectRegions returns the parts of the screen in both a and b.
func intersectRegions(a, b []image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	for _, r := range a {
		for _, q := range b {
			if i := r.Intersect(q); !i.Empty() {
				out = append(out, i)
			}
		}
	}
	return out
}

// selection is the application selection as the capture sees it: it
// recomputes the mask from the window layout before each frame is
// published (the platform's capturer calls it, see frameHook), so that
// the mask is right for every frame, not only after a poll. The agent's
// loop sets the chosen windows.
//
// Where the screen's pixels may lag behind the window positions (settle
// > 0: Windows' compositor, Wine's window surfaces, and more so on a
// loaded machine), the mask is fitted to every layout read within
// settle, not only the last: a window that moved covers the box around
// all the places it was seen at (so also those between two reads of a
// steady drag), a window that went away still covers its last place, and
// a shared window shows only where it was, and was visible, in all of them
// (so a change of the stacking order is masked too). When in doubt, mask
// more.
type selection struct {
	mask    *mask
	windows func() ([]Window, error)
	focus   func() ([]uint32, error) // the focused window and its ancestors
	size    func() (w, h int)
	log     *slog.Logger

	// mu orders the loop's choices and the capture's mask updates: a
	// Prepare that read the layout for windows no longer chosen must not
	// put their mask back after "share all".
	mu      sync.Mutex
	chosen  atomic.Pointer[map[uint32]bool] // nil: the whole screen
	before  []Window                        // the layout Prepare read
	history []layoutAt                      // layouts read within settle, oldest first

	// settle is how long a window's old places stay masked after it
	// moved. Zero where the pixels are read with the layout held still
	// (X11's grab).
	settle time.Duration
	now    func() time.Time
}

// layoutAt is the window layout read at one time.
type layoutAt struct {
	at      time.Time
	windows []Window
}

// Bounds on the settling: beyond them (more than maxHistory different
// layouts within settle, as in a drag captured at a fast rate) the mask
// hides everything until the windows are still again. A layout read again
// unchanged counts once, however often the capture reads it.
const (
	maxHistory      = 64
	maxRegionPieces = 512
)

// frameHook is what the platforms' capturers call (x11.FrameHook and
// win.FrameHook): Active and Prepare before the pixels are read, Confirm
// after them (Windows only).
type frameHook interface {
	Active() bool
	Prepare() (changed bool)
	Confirm() (moved bool)
}

// choose sets the shared windows (nil shares the whole screen) and
// installs the mask for them at once; it reports whether the mask
// changed.
func (s *selection) choose(chosen map[uint32]bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = nil
	if chosen == nil {
		s.chosen.Store(nil)
		return s.mask.set(nil, true)
	}
	s.chosen.Store(&chosen)
	return s.read()
}

// Active reports whether windows are chosen.
func (s *selection) Active() bool { return s.chosen.Load() != nil }

// read reads the layout, installs the mask for it (and the layouts read
// within settle) and reports whether the mask changed. Called with mu
// held and windows chosen. When the windows cannot be listed it shows
// nothing rather than too much.
func (s *selection) read() bool {
	ws, err := s.windows()
	if err != nil {
		s.log.Warn("winvnc: listing windows", "err", err)
		s.before = nil
		return s.mask.set([]image.Rectangle{}, false)
	}
	s.before = ws
	return s.mask.set(s.region(ws), false)
}

// region is what the chosen windows show after layout ws was read now.
// Called with mu held.
func (s *selection) region(ws []Window) []image.Rectangle {
	chosen := *s.chosen.Load()
	w, h := s.size()
	screen := image.Rect(0, 0, w, h)
	if s.settle <= 0 {
		return VisibleRegion(ws, chosen, screen)
	}
	now := s.now()
	keep := s.history[:0]
	for _, l := range s.history {
		if now.Sub(l.at) < s.settle {
			keep = append(keep, l)
		}
	}
	if n := len(keep); n > 0 && sameLayout(keep[n-1].windows, ws) {
		keep[n-1].at = now // seen again: the same layout, still now
		s.history = keep
	} else {
		s.history = append(keep, layoutAt{now, ws})
	}
	if len(s.history) > maxHistory {
		return []image.Rectangle{} // never still: show nothing
	}
	// Each window's places over the history: the box around them for a
	// window that covers, the part common to all for a shared one.
	type seen struct {
		w     Window
		box   image.Rectangle
		inAll image.Rectangle
		gone  bool
	}
	byID := map[uint32]*seen{}
	var order []uint32
	for i, l := range s.history {
		last := i == len(s.history)-1
		present := map[uint32]bool{}
		for _, win := range l.windows {
			if !win.Visible {
				continue
			}
			present[win.ID] = true
			if v, ok := byID[win.ID]; ok {
				v.box = v.box.Union(win.Rect)
				v.inAll = v.inAll.Intersect(win.Rect)
				if last {
					v.w, v.gone = win, false
				}
				continue
			}
			byID[win.ID] = &seen{w: win, box: win.Rect, inAll: win.Rect, gone: !last}
			order = append(order, win.ID)
		}
		for id, v := range byID {
			if !present[id] {
				v.inAll = image.Rectangle{} // a shared window that was away
			}
		}
	}
	// The layout as it must be masked: windows that covered, at their
	// boxes, with the ones no longer there on top; shared windows at the
	// part they were at in every layout.
	top := len(ws)
	var fitted []Window
	for _, id := range order {
		v := byID[id]
		w := v.w
		switch {
		case chosen[id]:
			w.Rect = v.inAll
		case v.gone:
			w.Rect, w.Stack = v.box, top
			top++
		default:
			w.Rect = v.box
		}
		w.Visible = true
		fitted = append(fitted, w)
	}
	out := VisibleRegion(fitted, chosen, screen)
	// And only where the shared windows showed in every layout read: a
	// change of the stacking order alone (a shared window raised over
	// another) moves no box, but the lagging pixels may still show the
	// other window on top.
	for _, l := range s.history {
		if len(out) == 0 || len(out) > maxRegionPieces {
			break
		}
		out = intersectRegions(out, VisibleRegion(l.windows, chosen, screen))
	}
	if out == nil || len(out) > maxRegionPieces {
		return []image.Rectangle{}
	}
	return out
}

// sameLayout reports whether two window lists place the same windows at
// the same places in the same order.
func sameLayout(a, b []Window) bool {
	return slices.EqualFunc(a, b, func(a, b Window) bool {
		return a.ID == b.ID && a.Rect == b.Rect && a.Stack == b.Stack && a.Visible == b.Visible
	})
}

// Prepare installs the mask for the layout now.
func (s *selection) Prepare() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.Active() {
		return false
	}
	return s.read()
}

// Confirm reads the layout again; if a window moved since Prepare, the
// mask hides what either layout hides.
func (s *selection) Confirm() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.Active() {
		return false
	}
	before := s.before
	ws, err := s.windows()
	if err != nil {
		s.mask.set([]image.Rectangle{}, false)
		return true
	}
	if sameLayout(before, ws) {
		return false
	}
	r := s.region(ws) // with settle, the history holds before too
	if s.settle <= 0 {
		r = intersectRegions(VisibleRegion(before, *s.chosen.Load(), image.Rect(0, 0, 1<<15, 1<<15)), r)
	}
	s.before = ws
	s.mask.set(r, false)
	return true
}

// KeyAllowed reports whether the focus is in a shared window, or nothing
// is chosen: with application selection, keys go only to shared windows.
// When the focus cannot be read, no key goes.
func (s *selection) KeyAllowed() bool {
	p := s.chosen.Load()
	if p == nil {
		return true
	}
	path, err := s.focus()
	if err != nil {
		s.log.Warn("winvnc: reading the focus", "err", err)
		return false
	}
	for _, id := range path {
		if (*p)[id] {
			return true
		}
	}
	return false
}

// PointerAllowed reports whether (x, y) shows a shared window, or nothing
// is chosen.
func (s *selection) PointerAllowed(x, y int) bool {
	if s.chosen.Load() == nil {
		return true
	}
	r := s.mask.region.Load()
	if r == nil {
		return true
	}
	for _, v := range *r {
		if image.Pt(x, y).In(v) {
			return true
		}
	}
	return false
}

var (
	_ frameHook = (*selection)(nil)
	_ Confiner  = (*selection)(nil)
)
