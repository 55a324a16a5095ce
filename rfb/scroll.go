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

// scrollPool holds the row findScroll assembles one of the client's rows in.
var scrollPool = sync.Pool{New: func() any { return new([]byte) }}

// findScroll returns a vertical copy from what the client has that gives
// most of r's changed rows their pixels in img, or nil.
func findScroll(img *Image, client *clientPicture, r image.Rectangle) *pendingCopy {
	if r.Dy() < scrollMinRows || r.Dx()*r.Dy() < scrollMinArea {
		return nil
	}
	// The client's rows are read where they are, in the blocks it kept
	// and in the framebuffer; only changedIn, which wants whole rows,
	// gets them assembled, one at a time.
	rw := r.Dx() * 4
	bp := scrollPool.Get().(*[]byte)
	defer scrollPool.Put(bp)
	if cap(*bp) < rw {
		*bp = make([]byte, rw)
	}
	scratch := (*bp)[:rw]
	oldRow := func(y int) []byte {
		if !client.keptIn(y, r.Min.X, r.Max.X) {
			return img.Pix[y*img.Stride+r.Min.X*4:][:rw:rw]
		}
		client.readRow(scratch, img, y, r.Min.X, r.Max.X)
		return scratch
	}
	c := changedIn(r, img.rows(r), oldRow)
	if c.Dy() < scrollMinRows {
		return nil
	}
	x0, n := c.Min.X*4, c.Dx()*4
	row := func(m *Image, y int) []byte { return m.Pix[y*m.Stride+x0:][:n:n] }
	var hasher maphash.Hash
	hasher.SetSeed(scrollSeed)
	hashPart := func(p []byte) { hasher.Write(p) }
	// want is the rest of the row clientEqual compares with, eq whether
	// it matched so far.
	var want []byte
	eq := true
	equalPart := func(p []byte) {
		eq = eq && bytes.Equal(p, want[:len(p)])
		want = want[len(p):]
	}
	// clientHash hashes the client's row y from c.Min.X to c.Max.X as
	// maphash.Bytes would hash it in one piece.
	clientHash := func(y int) uint64 {
		if !client.keptIn(y, c.Min.X, c.Max.X) {
			return maphash.Bytes(scrollSeed, row(img, y))
		}
		hasher.Reset()
		client.eachRowPart(img, y, c.Min.X, c.Max.X, hashPart)
		return hasher.Sum64()
	}
	// clientEqual reports whether the client's row y from c.Min.X to
	// c.Max.X is b.
	clientEqual := func(y int, b []byte) bool {
		want, eq = b, true
		client.eachRowPart(img, y, c.Min.X, c.Max.X, equalPart)
		return eq
	}
	// The client's rows of r: a hash seen once maps to its row, a hash
	// seen more often (blank lines) is ambiguous.
	old := make(map[uint64]int, r.Dy())
	oldHash := make([]uint64, r.Dy())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		h := clientHash(y)
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
		if !clientEqual(y-dy, row(img, y)) {
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
