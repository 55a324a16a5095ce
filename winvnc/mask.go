package winvnc

import (
	"image"
	"slices"
	"sync/atomic"

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
