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

// isApp decides whether a top-level window is one a person would call an
// application, from its title, override-redirect flag (menus, tooltips)
// and EWMH window types and states. Untitled windows are not: a taskbar
// or a desktop often has no title, and nobody could tell it in a list.
func isApp(title string, overrideRedirect bool, types, states []string) bool {
	if title == "" || overrideRedirect {
		return false
	}
	for _, t := range types {
		switch t {
		case "_NET_WM_WINDOW_TYPE_NORMAL", "_NET_WM_WINDOW_TYPE_DIALOG":
		default: // dock, desktop, toolbar, menus, splash, tooltip, notification, …
			return false
		}
	}
	for _, s := range states {
		if s == "_NET_WM_STATE_SKIP_TASKBAR" {
			return false
		}
	}
	return true
}
