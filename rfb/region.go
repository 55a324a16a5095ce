package rfb

import (
	"image"
	"slices"
)

// region is a set of pixels kept as non-overlapping rectangles. When the
// list grows past maxRegionRects it is coarsened to a grid of
// regionTile-sized cells, which bounds memory and the number of
// rectangles an update carries, whatever a source reports.
type region struct {
	rects []image.Rectangle
}

const (
	maxRegionRects = 128
	regionTile     = 64
)

func (g *region) empty() bool { return len(g.rects) == 0 }

func (g *region) clear() { g.rects = g.rects[:0] }

// add adds r to the region.
func (g *region) add(r image.Rectangle) {
	if r.Empty() {
		return
	}
	pieces := []image.Rectangle{r}
	for _, e := range g.rects {
		if !e.Overlaps(r) {
			continue
		}
		var next []image.Rectangle
		for _, p := range pieces {
			next = appendSubtract(next, p, e)
		}
		pieces = next
		if len(pieces) == 0 {
			return
		}
	}
	g.rects = append(g.rects, pieces...)
	if len(g.rects) > maxRegionRects {
		g.coarsen()
	}
}

// subtract removes r from the region.
func (g *region) subtract(r image.Rectangle) {
	if r.Empty() {
		return
	}
	out := g.rects[:0:0]
	for _, e := range g.rects {
		out = appendSubtract(out, e, r)
	}
	g.rects = out
}

// take removes and returns the part of the region inside r.
func (g *region) take(r image.Rectangle) region {
	var in region
	var out []image.Rectangle
	for _, e := range g.rects {
		i := e.Intersect(r)
		if i.Empty() {
			out = append(out, e)
			continue
		}
		in.rects = append(in.rects, i)
		out = appendSubtract(out, e, i)
	}
	g.rects = out
	return in
}

// sorted returns the rectangles top to bottom, left to right, so the one
// holding the bottom-right corner comes last (gvnccapture saves the image
// when that rectangle arrives).
func (g *region) sorted() []image.Rectangle {
	s := slices.Clone(g.rects)
	slices.SortFunc(s, func(a, b image.Rectangle) int {
		if a.Max.Y != b.Max.Y {
			return a.Max.Y - b.Max.Y
		}
		return a.Max.X - b.Max.X
	})
	return s
}

// coarsen replaces the rectangles by the grid cells they touch, merged into
// horizontal runs and then vertically where runs line up.
func (g *region) coarsen() {
	var bounds image.Rectangle
	for _, r := range g.rects {
		bounds = bounds.Union(r)
	}
	x0, y0 := bounds.Min.X/regionTile, bounds.Min.Y/regionTile
	cols := (bounds.Max.X+regionTile-1)/regionTile - x0
	rows := (bounds.Max.Y+regionTile-1)/regionTile - y0
	cells := make([]bool, cols*rows)
	for _, r := range g.rects {
		for ty := r.Min.Y/regionTile - y0; ty <= (r.Max.Y-1)/regionTile-y0; ty++ {
			for tx := r.Min.X/regionTile - x0; tx <= (r.Max.X-1)/regionTile-x0; tx++ {
				cells[ty*cols+tx] = true
			}
		}
	}
	var out []image.Rectangle
	open := map[[2]int]int{} // run [x0,x1) -> index in out of a rect ending at the previous row
	for ty := range rows {
		next := map[[2]int]int{}
		for tx := 0; tx < cols; {
			if !cells[ty*cols+tx] {
				tx++
				continue
			}
			start := tx
			for tx < cols && cells[ty*cols+tx] {
				tx++
			}
			key := [2]int{start, tx}
			if i, ok := open[key]; ok {
				out[i].Max.Y += regionTile
				next[key] = i
				continue
			}
			out = append(out, image.Rect((x0+start)*regionTile, (y0+ty)*regionTile, (x0+tx)*regionTile, (y0+ty+1)*regionTile))
			next[key] = len(out) - 1
		}
		open = next
	}
	// Grid cells may reach past the original bounds; stay inside them.
	for i := range out {
		out[i] = out[i].Intersect(bounds)
	}
	g.rects = out
}

// appendSubtract appends the pieces of a not covered by b (at most four).
func appendSubtract(out []image.Rectangle, a, b image.Rectangle) []image.Rectangle {
	i := a.Intersect(b)
	if i.Empty() {
		return append(out, a)
	}
	if i.Min.Y > a.Min.Y { // above
		out = append(out, image.Rect(a.Min.X, a.Min.Y, a.Max.X, i.Min.Y))
	}
	if i.Max.Y < a.Max.Y { // below
		out = append(out, image.Rect(a.Min.X, i.Max.Y, a.Max.X, a.Max.Y))
	}
	if i.Min.X > a.Min.X { // left
		out = append(out, image.Rect(a.Min.X, i.Min.Y, i.Min.X, i.Max.Y))
	}
	if i.Max.X < a.Max.X { // right
		out = append(out, image.Rect(i.Max.X, i.Min.Y, a.Max.X, i.Max.Y))
	}
	return out
}

// clone returns a copy of the region.
func (g *region) clone() region {
	return region{rects: slices.Clone(g.rects)}
}

// overlaps reports whether r shares a pixel with the region.
func (g *region) overlaps(r image.Rectangle) bool {
	for _, e := range g.rects {
		if e.Overlaps(r) {
			return true
		}
	}
	return false
}
