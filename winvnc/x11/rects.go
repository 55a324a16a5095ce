package x11

import (
	"bytes"
	"image"
)

// tileSize is the grid that floods of damage rectangles snap to, and the
// unit of the tile-compare fallback.
const tileSize = 64

// mergeRects clips rs to bounds and, if there are more than max, snaps them
// to the tile grid and joins horizontal runs of touched tiles, which bounds
// the count by the number of tile rows times the runs per row.
func mergeRects(rs []image.Rectangle, bounds image.Rectangle, max int) []image.Rectangle {
	out := rs[:0:0]
	for _, r := range rs {
		if r = r.Intersect(bounds); !r.Empty() {
			out = append(out, r)
		}
	}
	if len(out) <= max {
		return out
	}
	cols := (bounds.Dx() + tileSize - 1) / tileSize
	rows := (bounds.Dy() + tileSize - 1) / tileSize
	touched := make([]bool, cols*rows)
	for _, r := range out {
		r = r.Sub(bounds.Min)
		for ty := r.Min.Y / tileSize; ty <= (r.Max.Y-1)/tileSize; ty++ {
			for tx := r.Min.X / tileSize; tx <= (r.Max.X-1)/tileSize; tx++ {
				touched[ty*cols+tx] = true
			}
		}
	}
	merged := runs(touched, cols, rows, bounds)
	if len(merged) > max {
		// Still too many: one rectangle per touched tile row.
		merged = merged[:0]
		for ty := range rows {
			lo, hi := -1, -1
			for tx := range cols {
				if touched[ty*cols+tx] {
					if lo < 0 {
						lo = tx
					}
					hi = tx
				}
			}
			if lo >= 0 {
				merged = append(merged, tileRect(lo, hi+1, ty, bounds))
			}
		}
	}
	return merged
}

// runs turns a grid of marked tiles into rectangles, one per horizontal run
// in each tile row, merging a run with the one above when they span the
// same columns.
func runs(marked []bool, cols, rows int, bounds image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	prevRow := map[[2]int]int{} // [lo,hi) of a run in the previous row → index in out
	for ty := range rows {
		cur := map[[2]int]int{}
		for tx := 0; tx < cols; {
			if !marked[ty*cols+tx] {
				tx++
				continue
			}
			lo := tx
			for tx < cols && marked[ty*cols+tx] {
				tx++
			}
			r := tileRect(lo, tx, ty, bounds)
			if i, ok := prevRow[[2]int{lo, tx}]; ok {
				out[i].Max.Y = r.Max.Y
				cur[[2]int{lo, tx}] = i
				continue
			}
			cur[[2]int{lo, tx}] = len(out)
			out = append(out, r)
		}
		prevRow = cur
	}
	return out
}

func tileRect(lo, hi, ty int, bounds image.Rectangle) image.Rectangle {
	r := image.Rect(lo*tileSize, ty*tileSize, hi*tileSize, (ty+1)*tileSize).Add(bounds.Min)
	return r.Intersect(bounds)
}

// diffTiles compares two same-sized native images (4 bytes per pixel) tile
// by tile and returns the changed areas, merged into runs.
func diffTiles(cur, prev []byte, stride, w, h int) []image.Rectangle {
	cols := (w + tileSize - 1) / tileSize
	rows := (h + tileSize - 1) / tileSize
	changed := make([]bool, cols*rows)
	any := false
	for ty := range rows {
		y1 := min((ty+1)*tileSize, h)
		for tx := range cols {
			x0, x1 := tx*tileSize*4, min((tx+1)*tileSize, w)*4
			for y := ty * tileSize; y < y1; y++ {
				o := y * stride
				if !bytes.Equal(cur[o+x0:o+x1], prev[o+x0:o+x1]) {
					changed[ty*cols+tx] = true
					any = true
					break
				}
			}
		}
	}
	if !any {
		return nil
	}
	return runs(changed, cols, rows, image.Rect(0, 0, w, h))
}
