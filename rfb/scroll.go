package rfb

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"image"
	"slices"
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
// only for areas of at least scrollMinArea pixels and scrollMinRows rows,
// and only when a quick test on a few pixels a row (scrollMayMatch) finds
// rows that could have moved: a new photo or page costs far less.

const (
	scrollMinArea = 32 * 1024
	scrollMinRows = 48
	scrollMinRun  = 16 // rows a copy must cover to be worth a rectangle
	scrollMaxVote = 64 // distinct shifts considered before giving up
)

var scrollSeed = maphash.MakeSeed()

// findScroll returns a vertical copy from what the client has that gives
// most of r's changed rows their pixels in img, or nil.
func findScroll(img *Image, client *clientPicture, r image.Rectangle) *pendingCopy {
	if r.Dy() < scrollMinRows || r.Dx()*r.Dy() < scrollMinArea {
		return nil
	}
	c := changedBlocks(img, client, r)
	if c.Dy() < scrollMinRows || !scrollMayMatch(img, client, r, c) {
		return nil
	}
	return scrollSearch(img, client, r, c)
}

// changedBlocks is changedIn for r against the client's picture,
// computed per compareTile block of the screen's grid (the bounding box
// of the blocks' changes is the area's), so that the client's rows are
// read where they are rather than assembled.
func changedBlocks(img *Image, client *clientPicture, r image.Rectangle) image.Rectangle {
	var c image.Rectangle
	for ty := r.Min.Y / compareTile * compareTile; ty < r.Max.Y; ty += compareTile {
		for tx := r.Min.X / compareTile * compareTile; tx < r.Max.X; tx += compareTile {
			t := image.Rect(tx, ty, tx+compareTile, ty+compareTile).Intersect(r)
			c = c.Union(changedIn(t, img.rows(t), client.tileRows(img, t)))
		}
	}
	return c
}

// scrollChunks runs of scrollChunk pixels spread across a row are what
// scrollMayMatch compares: a few cache lines a row.
const (
	scrollChunks = 4
	scrollChunk  = 4
)

// scrollMayMatch is scrollSearch's quick test: a copy needs a run of
// scrollMinRun rows of c that each equal one of the client's rows of r
// at another height, so rows that equal none of them in a few runs of
// pixels spread across c (a new photo, a page of other text) end the
// search after reading a few cache lines a row, rather than hashing
// whole rows.
func scrollMayMatch(img *Image, client *clientPicture, r, c image.Rectangle) bool {
	s := newRowSampler(c.Min.X, c.Max.X)
	return s.shiftedRun(img, s.clientRows(img, client, r, nil), c.Min.Y, c.Max.Y, scrollMinRun)
}

// rowSampler hashes a few runs of pixels spread across a row
// (scrollChunks runs of scrollChunk pixels): a few cache lines a row.
type rowSampler struct {
	xs [scrollChunks * scrollChunk]int
	k  int
}

// newRowSampler spreads the sampler's pixels across x0 to x1.
func newRowSampler(x0, x1 int) rowSampler {
	var s rowSampler
	cw := min(scrollChunk, x1-x0)
	for i := range scrollChunks {
		c0 := x0 + i*(x1-x0-cw)/(scrollChunks-1)
		for x := c0; x < c0+cw; x++ {
			if s.k == 0 || x > s.xs[s.k-1] {
				s.xs[s.k] = x
				s.k++
			}
		}
	}
	return s
}

// sample hashes the sampled pixels of row y: the client's when client
// is given, else img's.
func (s *rowSampler) sample(img *Image, client *clientPicture, y int) uint64 {
	h := uint64(14695981039346656037)
	ty := y / compareTile
	block, pix, base := -1, img.Pix, y*img.Stride
	for _, x := range s.xs[:s.k] {
		if client != nil && x/compareTile != block {
			block = x / compareTile
			pix, base = img.Pix, y*img.Stride
			if t := client.tile(ty*client.cols + block); t != nil {
				pix, base = t.Pix, (y-ty*compareTile)*t.Stride-block*compareTile*4
			}
		}
		h = (h ^ uint64(binary.LittleEndian.Uint32(pix[base+x*4:]))) * 1099511628211
	}
	return h
}

// clientRows maps the sample of each of the client's rows of r to its
// row, or to -1 when several rows have it. If was is not nil, it
// receives the samples by row (was[y - r.Min.Y]).
func (s *rowSampler) clientRows(img *Image, client *clientPicture, r image.Rectangle, was []uint64) map[uint64]int {
	old := make(map[uint64]int, r.Dy())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		h := s.sample(img, client, y)
		if was != nil {
			was[y-r.Min.Y] = h
		}
		if _, seen := old[h]; seen {
			old[h] = -1
		} else {
			old[h] = y
		}
	}
	return old
}

// shiftedRows reports whether at least n of img's rows y0 to y1 of r
// changed (their sample is not the client's at their height, was[y -
// r.Min.Y]) to look like one of the client's rows at another height, or
// several (old, from clientRows).
func (s *rowSampler) shiftedRows(img *Image, old map[uint64]int, was []uint64, r image.Rectangle, y0, y1, n int) bool {
	for y := y0; y < y1; y++ {
		h := s.sample(img, nil, y)
		if o, ok := old[h]; ok && o != y && h != was[y-r.Min.Y] {
			if n--; n <= 0 {
				return true
			}
		}
	}
	return false
}

// shiftedRun reports whether img's rows y0 to y1 hold a run of n rows
// whose samples each equal that of one of the client's rows (old, from
// clientRows) at another height, or of several.
func (s *rowSampler) shiftedRun(img *Image, old map[uint64]int, y0, y1, n int) bool {
	run := 0
	for y := y0; y < y1; y++ {
		if o, ok := old[s.sample(img, nil, y)]; ok && o != y {
			if run++; run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// scrollSearch finds the copy of findScroll in r, whose changed pixels are
// inside c.
func scrollSearch(img *Image, client *clientPicture, r, c image.Rectangle) *pendingCopy {
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

// freeRows returns the tallest band of r's rows (all of its width) that
// no rectangle of g overlaps.
func (g *region) freeRows(r image.Rectangle) image.Rectangle {
	var cuts [][2]int
	for _, e := range g.rects {
		if e = e.Intersect(r); !e.Empty() {
			cuts = append(cuts, [2]int{e.Min.Y, e.Max.Y})
		}
	}
	if len(cuts) == 0 {
		return r
	}
	slices.SortFunc(cuts, func(a, b [2]int) int { return a[0] - b[0] })
	best, y := image.Rectangle{}, r.Min.Y
	for _, c := range append(cuts, [2]int{r.Max.Y, r.Max.Y}) {
		if c[0]-y > best.Dy() {
			best = image.Rect(r.Min.X, y, r.Max.X, c[0])
		}
		y = max(y, c[1])
	}
	return best
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
