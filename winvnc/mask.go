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
	before  []image.Rectangle               // the layout's region Prepare read
	history []layoutAt                      // regions read within settle, oldest first

	// settle is how long a window's old place stays masked after it
	// moved: where the platform's screen pixels may lag behind its window
	// positions (a compositor, Wine's window surfaces), a frame can still
	// show a window where the layout says it was a moment ago. Zero where
	// the pixels are read with the layout held still (X11's grab).
	settle time.Duration
	now    func() time.Time
}

// layoutAt is the region the chosen windows showed at one time.
type layoutAt struct {
	at     time.Time
	region []image.Rectangle
}

// Bounds on the settling: beyond them the mask hides everything until
// the windows are still again.
const (
	maxHistory      = 32
	maxRegionPieces = 512
)

// settled returns what to show after reading region r now: the part of
// r shown in every layout read within settle. Called with mu held.
func (s *selection) settled(r []image.Rectangle) []image.Rectangle {
	if s.settle <= 0 {
		return r
	}
	now := s.now()
	keep := s.history[:0]
	for _, h := range s.history {
		if now.Sub(h.at) < s.settle {
			keep = append(keep, h)
		}
	}
	s.history = keep
	if n := len(s.history); n == 0 || !slices.Equal(s.history[n-1].region, r) {
		s.history = append(s.history, layoutAt{now, r})
	} else {
		s.history[n-1].at = now
	}
	if len(s.history) > maxHistory {
		return []image.Rectangle{}
	}
	out := r
	for _, h := range s.history {
		if out = intersectRegions(out, h.region); len(out) > maxRegionPieces {
			return []image.Rectangle{}
		}
	}
	if out == nil {
		out = []image.Rectangle{}
	}
	return out
}

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
	if chosen == nil {
		s.chosen.Store(nil)
		return s.mask.set(nil, true)
	}
	s.chosen.Store(&chosen)
	s.history = nil
	s.before = s.region()
	return s.mask.set(s.settled(s.before), false)
}

// Active reports whether windows are chosen.
func (s *selection) Active() bool { return s.chosen.Load() != nil }

// region computes the visible parts of the chosen windows now. When the
// windows cannot be listed it shows nothing rather than too much.
func (s *selection) region() []image.Rectangle {
	p := s.chosen.Load()
	if p == nil {
		return nil
	}
	ws, err := s.windows()
	if err != nil {
		s.log.Warn("winvnc: listing windows", "err", err)
		return []image.Rectangle{}
	}
	w, h := s.size()
	return VisibleRegion(ws, *p, image.Rect(0, 0, w, h))
}

// Prepare installs the mask for the layout now.
func (s *selection) Prepare() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.Active() {
		return false
	}
	s.before = s.region()
	return s.mask.set(s.settled(s.before), false)
}

// Confirm compares the layout with Prepare's; if a window moved, the
// mask hides what either layout hides.
func (s *selection) Confirm() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.Active() {
		return false
	}
	after := s.region()
	if slices.Equal(s.before, after) {
		return false
	}
	r := intersectRegions(s.before, after)
	if s.settle > 0 {
		r = s.settled(after) // within the history, which holds before too
	}
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
