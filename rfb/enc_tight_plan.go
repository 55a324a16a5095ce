package rfb

import (
	"encoding/binary"
	"image"
	"math/bits"
	"slices"
)

// Where JPEG pays: the plan of a Tight update for a client that allows
// lossy compression.
//
// TigerVNC's and TurboVNC's servers decide per subrectangle of up to
// 65,536 pixels: one colour is a Fill, up to 24 or 96 colours a palette,
// anything with more colours is JPEG-coded whole. A band of a desktop
// that holds a line of anti-aliased text next to a picture has more than
// 96 colours, so its text goes through JPEG too, and only their lossless
// refresh (JPEG at quality 100, 4:4:4) makes it sharp later. Here the
// decision is finer: after the Fill search, each remaining rectangle is
// cut into 16x16 tiles on the screen's grid, and a tile is photo-like
// when
//
//   - it has more than tightPhotoColours colours (text, icons and UI
//     have fewer per tile, even anti-aliased),
//   - fewer than a quarter of its pixels repeat their left neighbour
//     (flat backgrounds, text and UI repeat a lot; photos hardly ever,
//     but for their smooth parts: a tile that repeats is photo-like
//     only when it is smooth, see below),
//   - and the gradient predictor's mean error is below tightNoiseError
//     (above it the content is noise, where JPEG is no smaller than
//     zlib and much worse).
//
// Below tightSmoothError the content is smooth: a drawn gradient, which
// the gradient filter makes far smaller than JPEG does, and exact, or
// the soft parts of a photograph (sky, a blurred background), which the
// filter makes two to five times larger than JPEG does (0.5 against
// 0.1-0.2 bytes a pixel for the lomiri wallpapers' skies). The tiles
// cannot tell them apart, so smooth tiles are planned as JPEG too, and
// a smooth JPEG job is compared with its lossless encoding, as a large
// JPEG is (analyseJPEG).
//
// A soft tile joins a photo it touches: one with few colours but no
// sharp edges, no two neighbouring pixels (across or down) more than
// tightSoftStep apart in any channel. Those are a photo's smooth parts
// scaled or dithered down to a few colours a tile (Fossa's wallpaper
// has half its tiles so, at most 4 levels between neighbours): lossless
// they take the palette at 0.5-0.6 bytes a pixel at any JPEG quality,
// which no pacing can make smaller, where JPEG takes 0.04-0.1. Text and
// UI have sharp edges (a glyph's, a border's: tens of levels), so they
// never join, and stay exact. Joining goes on from tile to tile, so a
// photo takes its whole soft area, but not through uniform tiles: one of
// those joins only when two of its sides touch the photo (a flat patch
// in a sky), so a flat margin along a photo's edge stays lossless and
// does not cut the photo's rectangles. What JPEG does not make smaller
// stays lossless all the same (a drawn gradient: analyseJPEG compares
// smooth jobs).
//
// Single non-photo tiles between photo tiles join the photo. The photo
// tiles are merged into rectangles (runs of tiles, joined downwards when
// a run repeats); those of at least tightJPEGMinArea pixels are JPEG
// jobs, everything else stays lossless: palette up to 256 colours, else
// the gradient or copy filter. A JPEG that comes out larger than
// tightTrialBytesPerPixel is compared with the lossless encoding of the
// same pixels, which is taken when it is at most 5/4 of the JPEG's size
// (the lossless refresh that would follow the JPEG costs more than the
// difference). A smooth job (mean error below tightSmoothError) is
// compared likewise whatever its JPEG's size, when the client decodes
// the gradient filter.

const (
	tightTile          = 16
	tightPhotoColours  = 24 // per 256-pixel tile
	tightNoiseError    = 40 // mean |residual| per channel
	tightSmoothError   = 2  // likewise
	tightTrialBytesPer = 1  // JPEG bytes per pixel above which lossless is tried
	tightSoftStep      = 8  // most levels between neighbours in a soft tile
)

// tightTileScratch counts the colours of a tile (manyColours).
type tightTileScratch struct {
	first  [1 << tightColourBits]uint32
	others [tightTile * tightTile]uint32
	// seen marks the tiles of a plan's grid that were judged soft or
	// not; queue holds the photo's tiles whose neighbours are next, flat
	// the uniform tiles that touch it.
	seen  []bool
	queue []int
	flat  []int
}

// photoLike judges one tile (at most 16x16 pixels) of img.
func (s *tightTileScratch) photoLike(img *Image, t image.Rectangle) bool {
	w, h := t.Dx(), t.Dy()
	n := w * h
	limit := max(3, n*tightPhotoColours/(tightTile*tightTile))
	// Repeats first: one compare a pixel, and text, UI and backgrounds
	// (most tiles) stop at the smoothness test that follows.
	if w < 2 || h < 2 {
		return false
	}
	// left: the pixels not yet compared; a photo stops when even all of
	// them could not make a quarter.
	equal, enough, left := 0, (n+3)/4, (w-1)*h
	for y := t.Min.Y; y < t.Max.Y && equal < enough && equal+left >= enough; y++ {
		equal += countRepeats(img.Pix[y*img.Stride+t.Min.X*4:][: w*4 : w*4])
		left -= w - 1
	}
	repeats := equal >= enough
	if repeats && !tightTileSmooth(img, t) {
		// Text, UI: sharp edges.
		return false
	}
	if !s.manyColours(img, t, limit) {
		return false
	}
	if repeats {
		// Smooth with many colours: a dark sky or a soft background,
		// compared with its lossless encoding by analyseJPEG.
		return true
	}
	// The error on every other row tells noise from a photo as well.
	resid, rows := 0, 0
	for y := t.Min.Y + 1; y < t.Max.Y; y += 2 {
		resid += gradientError(img.Pix[y*img.Stride+t.Min.X*4:][:w*4:w*4], img.Pix[(y-1)*img.Stride+t.Min.X*4:][:w*4:w*4])
		rows++
	}
	n = 3 * (w - 1) * rows
	return resid < tightNoiseError*n
}

// tightColourBits is the size of manyColours's hash: 1024 buckets, so
// that a photo's tile rarely puts two of its first 25 colours in one.
const tightColourBits = 10

// manyColours reports whether tile t (at most 16x16 pixels) has more
// than limit colours. A bitmap of hashed colours says which are new
// without a probe: a clear bit is a new colour, a set bit is the colour
// first seen in its bucket (first) or another in the same bucket, looked
// up in the short list others. A photo's tile sets a new bit at nearly
// every pixel and a few-colour tile finds its bit set, so the branches
// are predictable either way.
func (s *tightTileScratch) manyColours(img *Image, t image.Rectangle, limit int) bool {
	w := t.Dx()
	var seen [1 << tightColourBits / 64]uint64
	colours, others := 0, 0
	var up []byte
	for y := t.Min.Y; y < t.Max.Y; y++ {
		row := img.Pix[y*img.Stride+t.Min.X*4:][: w*4 : w*4]
		// A pixel equal to its left or upper neighbour has a colour
		// counted already.
		for m := newPixels(row, up); m != 0; m &= m - 1 {
			x := bits.TrailingZeros32(m) * 4
			c := binary.LittleEndian.Uint32(row[x:]) & 0xffffff
			h := (c * 0x9E3779B1) >> (32 - tightColourBits)
			bit := uint64(1) << (h & 63)
			switch {
			case seen[h/64]&bit == 0:
				seen[h/64] |= bit
				s.first[h] = c
			case s.first[h] == c:
				continue
			default:
				if slices.Contains(s.others[:others], c) {
					continue
				}
				s.others[others] = c
				others++
			}
			if colours++; colours > limit {
				return true
			}
		}
		up = row
	}
	return false
}

// newPixelsGo has a bit for each pixel (4 bytes, the padding byte
// ignored) of row, at most 32, that differs from its left neighbour and
// from the pixel above it in up (when up is not empty). newPixels is
// this, in SSE2 assembly on amd64.
func newPixelsGo(row, up []byte) uint32 {
	var m uint32
	for x := 0; x+4 <= len(row) && x < 32*4; x += 4 {
		c := binary.LittleEndian.Uint32(row[x:])
		if x > 0 && (c^binary.LittleEndian.Uint32(row[x-4:]))&0xffffff == 0 ||
			len(up) > 0 && (c^binary.LittleEndian.Uint32(up[x:]))&0xffffff == 0 {
			continue
		}
		m |= 1 << (x / 4)
	}
	return m
}

// gradientErrorGo is the sum of the gradient predictor's absolute errors
// over the red, green and blue of one row of pixels (4 bytes each) below
// the row up, from its second pixel on. gradientError is this, in SSE2
// assembly on amd64.
func gradientErrorGo(row, up []byte) int {
	resid := 0
	for x := 4; x < len(row); x += 4 {
		for c := range 3 {
			pred := int(row[x-4+c]) + int(up[x+c]) - int(up[x-4+c])
			resid += tightAbs(int(row[x+c]) - min(max(pred, 0), 255))
		}
	}
	return resid
}

// countRepeatsGo counts the pixels (4 bytes each, the padding byte ignored)
// of row that equal their left neighbour. countRepeats is this, in SSE2
// assembly on amd64.
func countRepeatsGo(row []byte) int {
	n := 0
	for x := 4; x+4 <= len(row); x += 4 {
		if (binary.LittleEndian.Uint32(row[x:])^binary.LittleEndian.Uint32(row[x-4:]))&0xffffff == 0 {
			n++
		}
	}
	return n
}

// tightTileSmooth reports whether the gradient predictor's mean error
// on tile t is below tightSmoothError; it stops at the first sharp edges.
func tightTileSmooth(img *Image, t image.Rectangle) bool {
	w, h := t.Dx(), t.Dy()
	budget := tightSmoothError * 3 * (w - 1) * (h - 1)
	resid := 0
	for y := t.Min.Y + 1; y < t.Max.Y; y++ {
		resid += gradientError(img.Pix[y*img.Stride+t.Min.X*4:][:w*4:w*4], img.Pix[(y-1)*img.Stride+t.Min.X*4:][:w*4:w*4])
		if resid >= budget {
			return false
		}
	}
	return true
}

// planLossy cuts r (which has no big uniform areas left) into JPEG jobs
// for its photo-like parts and analyse jobs for the rest.
func (e *tightEncoder) planLossy(img *Image, r image.Rectangle) {
	if r.Dx()*r.Dy() < tightJPEGMinArea {
		e.addSplit(r)
		return
	}
	// The tile grid: columns and rows of the screen's 16-pixel grid that r
	// touches.
	tx0, ty0 := r.Min.X/tightTile, r.Min.Y/tightTile
	cols := (r.Max.X+tightTile-1)/tightTile - tx0
	rows := (r.Max.Y+tightTile-1)/tightTile - ty0
	if cap(e.grid) < cols*rows {
		e.grid = make([]bool, cols*rows)
	}
	grid := e.grid[:cols*rows]
	tile := func(tx, ty int) image.Rectangle {
		x, y := (tx0+tx)*tightTile, (ty0+ty)*tightTile
		return image.Rect(x, y, x+tightTile, y+tightTile).Intersect(r)
	}
	any := false
	for ty := range rows {
		for tx := range cols {
			p := e.tiles.photoLike(img, tile(tx, ty))
			grid[ty*cols+tx] = p
			any = any || p
		}
	}
	if !any {
		e.addSplit(r)
		return
	}
	e.joinSoft(img, grid, cols, rows, tile)
	// Close one-tile gaps, so that a flat patch inside a picture does not
	// cut it into pieces.
	for ty := range rows {
		for tx := range cols {
			i := ty*cols + tx
			if grid[i] {
				continue
			}
			if tx > 0 && tx+1 < cols && grid[i-1] && grid[i+1] ||
				ty > 0 && ty+1 < rows && grid[i-cols] && grid[i+cols] {
				grid[i] = true
			}
		}
	}
	// Runs of equal tiles per row, continued downwards while a run with
	// the same columns and kind follows.
	type open struct {
		x0, x1 int
		photo  bool
		y0     int
	}
	var cur, next []open
	emit := func(o open, y1 int) {
		pr := image.Rect((tx0+o.x0)*tightTile, (ty0+o.y0)*tightTile, (tx0+o.x1)*tightTile, (ty0+y1)*tightTile).Intersect(r)
		if pr.Empty() {
			return
		}
		if o.photo && pr.Dx()*pr.Dy() >= tightJPEGMinArea {
			e.addPhoto(img, pr)
		} else {
			e.addSplit(pr)
		}
	}
	for ty := 0; ty <= rows; ty++ {
		next = next[:0]
		if ty < rows {
			for tx := 0; tx < cols; {
				p := grid[ty*cols+tx]
				x := tx
				for tx < cols && grid[ty*cols+tx] == p {
					tx++
				}
				next = append(next, open{x0: x, x1: tx, photo: p, y0: ty})
			}
		}
		// Runs that continue keep their start row; the others end here.
		for i := range next {
			for _, o := range cur {
				if o.x0 == next[i].x0 && o.x1 == next[i].x1 && o.photo == next[i].photo {
					next[i].y0 = o.y0
					break
				}
			}
		}
		for _, o := range cur {
			kept := false
			for _, n := range next {
				if o.x0 == n.x0 && o.x1 == n.x1 && o.photo == n.photo {
					kept = true
					break
				}
			}
			if !kept {
				emit(o, ty)
			}
		}
		cur, next = next, cur
	}
}

// joinSoft marks on grid the soft tiles that touch the photo's, across
// or down, and the soft tiles that touch those; then the uniform ones
// that touch them on two sides (see above).
func (e *tightEncoder) joinSoft(img *Image, grid []bool, cols, rows int, tile func(tx, ty int) image.Rectangle) {
	s := &e.tiles
	if cap(s.seen) < len(grid) {
		s.seen = make([]bool, len(grid))
	}
	seen := s.seen[:len(grid)]
	copy(seen, grid)
	queue, flat := s.queue[:0], s.flat[:0]
	for i, p := range grid {
		if p {
			queue = append(queue, i)
		}
	}
	type side struct {
		ok bool
		i  int
	}
	sides := func(i int) [4]side {
		tx, ty := i%cols, i/cols
		return [4]side{{tx > 0, i - 1}, {tx+1 < cols, i + 1}, {ty > 0, i - cols}, {ty+1 < rows, i + cols}}
	}
	// Every tile goes into the queue at most once: when it is seen.
	for len(queue) > 0 {
		i := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, n := range sides(i) {
			if !n.ok || seen[n.i] {
				continue
			}
			seen[n.i] = true
			switch soft, uniform := tightTileSoft(img, tile(n.i%cols, n.i/cols)); {
			case uniform:
				flat = append(flat, n.i)
			case soft:
				grid[n.i] = true
				queue = append(queue, n.i)
			}
		}
	}
	// Counted before any is marked, so that the order does not matter.
	k := 0
	for _, i := range flat {
		joined := 0
		for _, n := range sides(i) {
			if n.ok && grid[n.i] {
				joined++
			}
		}
		if joined >= 2 {
			flat[k] = i
			k++
		}
	}
	for _, i := range flat[:k] {
		grid[i] = true
	}
	s.queue, s.flat = queue, flat
}

// tightTileSoftGo reports whether no two neighbouring pixels of tile t
// are more than tightSoftStep apart in any channel, and whether they
// are all the same. tightTileSoft is this, in SSE2 assembly on amd64.
func tightTileSoftGo(img *Image, t image.Rectangle) (soft, uniform bool) {
	w := t.Dx()
	if w < 1 || t.Dy() < 1 {
		return false, false
	}
	far := func(a, b byte) bool {
		return tightAbs(int(a)-int(b)) > tightSoftStep
	}
	uniform = true
	var up []byte
	for y := t.Min.Y; y < t.Max.Y; y++ {
		row := img.Pix[y*img.Stride+t.Min.X*4:][: w*4 : w*4]
		for x := 0; x < len(row); x += 4 {
			for c := range 3 {
				v := row[x+c]
				if x > 0 && v != row[x-4+c] {
					uniform = false
					if far(v, row[x-4+c]) {
						return false, false
					}
				}
				if up != nil && v != up[x+c] {
					uniform = false
					if far(v, up[x+c]) {
						return false, false
					}
				}
			}
		}
		up = row
	}
	return true, uniform
}

// addPhoto adds a photo-like area found on the tile grid. A picture
// rarely sits on the grid: the tiles at its edges hold some of what is
// around it, mostly flat background, which JPEG would blur and ring
// against the picture's edge. So uniform rows and columns at the edges
// are cut off and sent losslessly.
func (e *tightEncoder) addPhoto(img *Image, r image.Rectangle) {
	p := r
	row := func(y int) bool {
		return tightUniform(img, image.Rect(p.Min.X, y, p.Max.X, y+1), img.RGB(p.Min.X, y))
	}
	col := func(x int) bool {
		return tightUniform(img, image.Rect(x, p.Min.Y, x+1, p.Max.Y), img.RGB(x, p.Min.Y))
	}
	for p.Dy() > 0 && row(p.Min.Y) {
		p.Min.Y++
	}
	for p.Dy() > 0 && row(p.Max.Y-1) {
		p.Max.Y--
	}
	for p.Dx() > 0 && p.Dy() > 0 && col(p.Min.X) {
		p.Min.X++
	}
	for p.Dx() > 0 && p.Dy() > 0 && col(p.Max.X-1) {
		p.Max.X--
	}
	if p.Dx()*p.Dy() < tightJPEGMinArea {
		e.addSplit(r)
		return
	}
	for _, s := range []image.Rectangle{
		image.Rect(r.Min.X, r.Min.Y, r.Max.X, p.Min.Y), // above
		image.Rect(r.Min.X, p.Min.Y, p.Min.X, p.Max.Y), // left
	} {
		if !s.Empty() {
			e.addSplit(s)
		}
	}
	e.addJPEG(p)
	for _, s := range []image.Rectangle{
		image.Rect(p.Max.X, p.Min.Y, r.Max.X, p.Max.Y), // right
		image.Rect(r.Min.X, p.Max.Y, r.Max.X, r.Max.Y), // below
	} {
		if !s.Empty() {
			e.addSplit(s)
		}
	}
}

// addJPEG adds the photo-like area r as JPEG jobs of at most
// tightMaxArea, squares of about tightSquare where r is large: the
// lossless refresh goes by these rectangles, and the gradient filter
// does better on squares (addSplit).
func (e *tightEncoder) addJPEG(r image.Rectangle) {
	cols := (r.Dx() + tightMaxWidth - 1) / tightMaxWidth
	if r.Dx() > tightSquare && r.Dy() > tightSquare {
		cols = (r.Dx() + tightSquare - 1) / tightSquare
	}
	w := (r.Dx() + cols - 1) / cols
	rows := max(1, tightMaxArea/w)
	for y := r.Min.Y; y < r.Max.Y; y += rows {
		for x := r.Min.X; x < r.Max.X; x += w {
			e.addJob(image.Rect(x, y, min(x+w, r.Max.X), min(y+rows, r.Max.Y)), tightKindJPEG, 0)
		}
	}
}
