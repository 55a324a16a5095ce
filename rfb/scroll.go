package rfb

import (
	"bytes"
	"hash/maphash"
	"image"
	"sync"
)

// Scroll detection.
//
// A terminal, a browser or an editor that scrolls redraws a large area
// whose pixels the client mostly has already, a few rows higher or lower.
// Before a connection compares its damage with what its client has
// (clientPicture), the largest damaged area is searched for such a shift,
// as x11vnc's scroll detection does: every row of the area is hashed in
// the new picture and in the client's, each changed new row that equals
// exactly one of the client's rows votes for the shift between them, and the longest run of
// rows that agree with the winning shift is sent as CopyRect. The rest is
// compared as usual, so only the new lines go as pixels. The copy is
// verified byte for byte, so a wrong guess costs nothing but the search.
//
// Cost: two hashes of the area's rows (about 1 ms for a whole 1080p screen),
// only for areas of at least scrollMinArea pixels and scrollMinRows rows.

const (
	scrollMinArea = 32 * 1024
	scrollMinRows = 48
	scrollMinRun  = 16 // rows a copy must cover to be worth a rectangle
	scrollMaxVote = 64 // distinct shifts considered before giving up
)

var scrollSeed = maphash.MakeSeed()

// scrollPool holds the buffers findScroll assembles the client's rows in.
var scrollPool = sync.Pool{New: func() any { return new([]byte) }}

// findScroll returns a vertical copy from what the client has that gives
// most of r's changed rows their pixels in img, or nil.
func findScroll(img *Image, client *clientPicture, r image.Rectangle) *pendingCopy {
	if r.Dy() < scrollMinRows || r.Dx()*r.Dy() < scrollMinArea {
		return nil
	}
	// The client's rows of r, each assembled once where it has blocks
	// the framebuffer no longer shows.
	rw := r.Dx() * 4
	bp := scrollPool.Get().(*[]byte)
	defer scrollPool.Put(bp)
	if cap(*bp) < rw*r.Dy() {
		*bp = make([]byte, rw*r.Dy())
	}
	buf := (*bp)[:rw*r.Dy()]
	filled := make([]bool, r.Dy())
	oldRow := func(y int) []byte {
		if !client.keptIn(y, r.Min.X, r.Max.X) {
			return img.Pix[y*img.Stride+r.Min.X*4:][:rw:rw]
		}
		i := y - r.Min.Y
		row := buf[i*rw:][:rw:rw]
		if !filled[i] {
			client.readRow(row, img, y, r.Min.X, r.Max.X)
			filled[i] = true
		}
		return row
	}
	c := changedIn(r, img.rows(r), oldRow)
	if c.Dy() < scrollMinRows {
		return nil
	}
	x0, n := c.Min.X*4, c.Dx()*4
	row := func(m *Image, y int) []byte { return m.Pix[y*m.Stride+x0:][:n:n] }
	clientRow := func(y int) []byte { return oldRow(y)[x0-r.Min.X*4:][:n:n] }
	// The client's rows of r: a hash seen once maps to its row, a hash
	// seen more often (blank lines) is ambiguous.
	old := make(map[uint64]int, r.Dy())
	oldHash := make([]uint64, r.Dy())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		h := maphash.Bytes(scrollSeed, clientRow(y))
		oldHash[y-r.Min.Y] = h
		if _, seen := old[h]; seen {
			old[h] = -1
		} else {
			old[h] = y
		}
	}
	newHash := make([]uint64, c.Dy())
	votes := map[int]int{}
	for y := c.Min.Y; y < c.Max.Y; y++ {
		h := maphash.Bytes(scrollSeed, row(img, y))
		newHash[y-c.Min.Y] = h
		if h == oldHash[y-r.Min.Y] {
			continue // unchanged row
		}
		if y0, ok := old[h]; ok && y0 >= 0 {
			if _, ok := votes[y-y0]; ok || len(votes) < scrollMaxVote {
				votes[y-y0]++
			}
		}
	}
	dy, best := 0, 0
	for d, v := range votes {
		if v > best || (v == best && d < dy) {
			dy, best = d, v
		}
	}
	if best < scrollMinRun/2 {
		return nil
	}
	// The longest run of rows whose new pixels are the client's dy rows
	// away.
	runStart, bestStart, bestEnd := -1, 0, 0
	for y := c.Min.Y; y <= c.Max.Y; y++ {
		ok := y < c.Max.Y && y-dy >= r.Min.Y && y-dy < r.Max.Y && newHash[y-c.Min.Y] == oldHash[y-dy-r.Min.Y]
		switch {
		case ok && runStart < 0:
			runStart = y
		case !ok && runStart >= 0:
			if y-runStart > bestEnd-bestStart {
				bestStart, bestEnd = runStart, y
			}
			runStart = -1
		}
	}
	if bestEnd-bestStart < scrollMinRun {
		return nil
	}
	for y := bestStart; y < bestEnd; y++ {
		if !bytes.Equal(row(img, y), clientRow(y-dy)) {
			return nil // a hash collision
		}
	}
	return &pendingCopy{dst: image.Rect(c.Min.X, bestStart, c.Max.X, bestEnd), delta: image.Pt(0, dy)}
}

// largestIn returns the bounding box of the largest of g's rectangles
// inside area together with the rectangles touching it: a damaged area
// that other damage cut into pieces.
func (g *region) largestIn(in image.Rectangle) image.Rectangle {
	var box image.Rectangle
	for _, r := range g.rects {
		if r = r.Intersect(in); area(r) > area(box) {
			box = r
		}
	}
	if box.Empty() {
		return box
	}
	for range 4 {
		grown := box
		for _, r := range g.rects {
			if r = r.Intersect(in); !r.Empty() && r.Overlaps(box.Inset(-1)) {
				grown = grown.Union(r)
			}
		}
		if grown == box {
			break
		}
		box = grown
	}
	return box
}
