package win

import (
	"image"
	"slices"

	"lifebuoy/rfb"
)

// placements is the place of each visible top-level window (by handle) on the
// framebuffer.
type placements map[uint32]image.Rectangle

// windowMoves returns copy hints for the windows that moved between two
// captures: a window at was[id] before and at now[id] (same size, another
// place) now, whose place did not change while the screen was read (now
// and after agree). The capturer hands them to fb.UpdateCopied with the
// frame, and viewers with CopyRect copy the window themselves. A hint
// need not be right (a window moved under another one, or repainted as it
// moved): the framebuffer compares every destination after the copy, so a
// wrong hint costs bytes, never a wrong picture. Largest first.
func windowMoves(was, now, after placements) []rfb.Copy {
	var moves []rfb.Copy
	for id, r := range now {
		p, ok := was[id]
		if !ok || p == r || p.Size() != r.Size() || r.Empty() || after[id] != r {
			continue
		}
		moves = append(moves, rfb.Copy{Dst: r, Src: p.Min})
	}
	slices.SortFunc(moves, func(a, b rfb.Copy) int {
		if d := b.Dst.Dx()*b.Dst.Dy() - a.Dst.Dx()*a.Dst.Dy(); d != 0 {
			return d
		}
		if d := a.Dst.Min.Y - b.Dst.Min.Y; d != 0 {
			return d
		}
		return a.Dst.Min.X - b.Dst.Min.X
	})
	return moves
}

// settled is now without the windows that moved while the screen was
// read (after differs): where the capture shows them is unknown, so they
// give no hint the next time either.
func settled(now, after placements) placements {
	for id, r := range now {
		if after[id] != r {
			delete(now, id)
		}
	}
	return now
}
