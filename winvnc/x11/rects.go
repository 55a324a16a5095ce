package x11

import (
	"image"
	"math"

	"lifebuoy/winvnc/internal/tiles"
)

// tileSize is the grid that floods of damage rectangles snap to, and the
// unit of the tile-compare fallback.
const tileSize = tiles.Size

// mergeRects clips rs to bounds and, if there are more than max, snaps them
// to the tile grid and joins the touched tiles into at most max rectangles.
func mergeRects(rs []image.Rectangle, bounds image.Rectangle, max int) []image.Rectangle {
	return tiles.Snap(rs, bounds, max)
}

// runs turns a grid of marked tiles into rectangles, one per horizontal run
// in each tile row, merging a run with the one above when they span the
// same columns.
func runs(marked []bool, cols, rows int, bounds image.Rectangle) []image.Rectangle {
	return tiles.Join(marked, cols, rows, bounds, math.MaxInt)
}

// diffTiles compares two same-sized native images (4 bytes per pixel) tile
// by tile and returns the changed areas, merged into runs.
func diffTiles(cur, prev []byte, stride, w, h int) []image.Rectangle {
	return tiles.Diff(cur, prev, stride, w, h, math.MaxInt)
}
