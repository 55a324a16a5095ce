// Package tiles finds what changed on a screen in 64x64 tiles, for the
// agent's capture layers: comparing a new frame with the previous one,
// and snapping a flood of damage rectangles to the tile grid. Both answer
// with a bounded number of rectangles that cover every change.
package tiles

import (
	"bytes"
	"image"
)

// Size is the edge of a tile in pixels.
const Size = 64

// Diff compares two frames of w×h pixels, 4 bytes each, rows stride bytes
// apart, tile by tile, and returns the changed tiles joined into at most
// limit rectangles (see Join). Nil means nothing changed.
func Diff(cur, prev []byte, stride, w, h, limit int) []image.Rectangle {
	cols, rows := (w+Size-1)/Size, (h+Size-1)/Size
	var changed []bool
	for ty := range rows {
		y1 := min((ty+1)*Size, h)
		for tx := range cols {
			x0, x1 := tx*Size*4, min((tx+1)*Size, w)*4
			for y := ty * Size; y < y1; y++ {
				o := y * stride
				if !bytes.Equal(cur[o+x0:o+x1], prev[o+x0:o+x1]) {
					if changed == nil {
						changed = make([]bool, cols*rows)
					}
					changed[ty*cols+tx] = true
					break
				}
			}
		}
	}
	if changed == nil {
		return nil
	}
	return Join(changed, cols, rows, image.Rect(0, 0, w, h), limit)
}

// Snap clips rs to bounds and, when more than limit remain, snaps them to
// the tile grid and joins the touched tiles (see Join).
func Snap(rs []image.Rectangle, bounds image.Rectangle, limit int) []image.Rectangle {
	out := rs[:0:0]
	for _, r := range rs {
		if r = r.Intersect(bounds); !r.Empty() {
			out = append(out, r)
		}
	}
	if len(out) <= limit {
		return out
	}
	cols, rows := (bounds.Dx()+Size-1)/Size, (bounds.Dy()+Size-1)/Size
	touched := make([]bool, cols*rows)
	for _, r := range out {
		r = r.Sub(bounds.Min)
		for ty := r.Min.Y / Size; ty <= (r.Max.Y-1)/Size; ty++ {
			for tx := r.Min.X / Size; tx <= (r.Max.X-1)/Size; tx++ {
				touched[ty*cols+tx] = true
			}
		}
	}
	return Join(touched, cols, rows, bounds, limit)
}

// Join turns a grid of marked tiles into rectangles clipped to bounds:
// horizontal runs in each tile row, a run extended downwards while the
// next row has the same run. Beyond limit rectangles it falls back to one
// rectangle per tile row spanning its marked tiles, and beyond that to the
// bounding box of all of them, so the count never exceeds limit.
func Join(marked []bool, cols, rows int, bounds image.Rectangle, limit int) []image.Rectangle {
	tile := func(x0, x1, ty int) image.Rectangle {
		return image.Rect(x0*Size, ty*Size, x1*Size, (ty+1)*Size).Add(bounds.Min).Intersect(bounds)
	}
	var out []image.Rectangle
	open := map[[2]int]int{} // run [lo,hi) in the row above → index in out
	for ty := range rows {
		next := map[[2]int]int{}
		for tx := 0; tx < cols; {
			if !marked[ty*cols+tx] {
				tx++
				continue
			}
			lo := tx
			for tx < cols && marked[ty*cols+tx] {
				tx++
			}
			run := [2]int{lo, tx}
			if i, ok := open[run]; ok {
				out[i].Max.Y = tile(lo, tx, ty).Max.Y
				next[run] = i
				continue
			}
			next[run] = len(out)
			out = append(out, tile(lo, tx, ty))
		}
		open = next
	}
	if len(out) <= limit {
		return out
	}
	out = out[:0]
	var all image.Rectangle
	for ty := range rows {
		lo, hi := -1, -1
		for tx := range cols {
			if marked[ty*cols+tx] {
				if lo < 0 {
					lo = tx
				}
				hi = tx + 1
			}
		}
		if lo >= 0 {
			r := tile(lo, hi, ty)
			out = append(out, r)
			all = all.Union(r)
		}
	}
	if len(out) > limit {
		return []image.Rectangle{all}
	}
	return out
}
