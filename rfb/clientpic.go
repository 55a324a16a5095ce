package rfb

import (
	"image"
	"sync"
)

// clientPicture is what one connection's client shows, kept as its
// difference from the framebuffer: the compareTile blocks that changed in
// the framebuffer since the client got them, as the client has them. Every
// other pixel the client has is the framebuffer's (or is pending as
// forced damage, which is sent without comparing).
//
// A full copy of the client's picture per connection (a second screen in
// memory, 8 MiB at 1920x1080) was what this replaced: the blocks are kept
// only from a change until the connection's next update, so an idle or
// up-to-date connection holds none.
//
// The framebuffer saves a block before it changes any pixel in it (save),
// a CopyRect sent moves the client's pixels (copy), and an update settles
// the area it covered (settle). A capture in bands (UpdateBands) compares
// a band's blocks at once and lets them go where no row may have scrolled,
// the pixels that differ becoming forced damage: a new photo keeps one
// band of blocks at a time rather than all of its area.
type clientPicture struct {
	cols  int      // blocks a row of the framebuffer
	tiles []*Image // by block index (row*cols + column), nil where not kept
	n     int      // blocks kept
}

// tilePool recycles the blocks: a scroll saves and settles the same area
// at every update. (Letting settled blocks go to the collector instead
// took a photo's megabytes of blocks out of the busy heap, but a drag
// then took 45% more CPU: issue 17, docs/BENCHMARKS.md.)
var tilePool = sync.Pool{New: func() any { return NewImage(compareTile, compareTile) }}

// reset forgets everything, for a framebuffer w×h.
func (c *clientPicture) reset(w, h int) {
	for _, t := range c.tiles {
		if t != nil {
			tilePool.Put(t)
		}
	}
	c.cols = (w + compareTile - 1) / compareTile
	c.tiles, c.n = nil, 0
	if n := c.cols * ((h + compareTile - 1) / compareTile); n > 0 {
		c.tiles = make([]*Image, n)
	}
}

// tile returns block i, or nil if it is not kept.
func (c *clientPicture) tile(i int) *Image {
	if c.n == 0 {
		return nil
	}
	return c.tiles[i]
}

// put keeps m as block i, recycling the block it replaces.
func (c *clientPicture) put(i int, m *Image) {
	if old := c.tiles[i]; old != nil {
		tilePool.Put(old)
	} else {
		c.n++
	}
	c.tiles[i] = m
}

// tileRect is block i's rectangle (not clipped to the framebuffer).
func (c *clientPicture) tileRect(i int) image.Rectangle {
	x, y := i%c.cols*compareTile, i/c.cols*compareTile
	return image.Rect(x, y, x+compareTile, y+compareTile)
}

// eachTile calls f for the index and rectangle of every block that r
// touches.
func (c *clientPicture) eachTile(r image.Rectangle, f func(i int, t image.Rectangle)) {
	if r.Empty() {
		return
	}
	for ty := r.Min.Y / compareTile; ty <= (r.Max.Y-1)/compareTile; ty++ {
		for tx := r.Min.X / compareTile; tx <= (r.Max.X-1)/compareTile; tx++ {
			i := ty*c.cols + tx
			f(i, c.tileRect(i))
		}
	}
}

// save keeps the pixels img has in the blocks r touches, unless they are
// kept already: img is about to change inside r.
func (c *clientPicture) save(img *Image, r image.Rectangle) {
	r = r.Intersect(img.Bounds())
	c.eachTile(r, func(i int, t image.Rectangle) {
		if c.tiles[i] != nil {
			return
		}
		m := tilePool.Get().(*Image)
		m.copyFrom(image.Point{}, img, t)
		c.put(i, m)
	})
}

// keptIn reports whether a block of row y between x0 and x1 is kept.
func (c *clientPicture) keptIn(y, x0, x1 int) bool {
	if c.n == 0 {
		return false
	}
	ty := y / compareTile
	for tx := x0 / compareTile; tx <= (x1-1)/compareTile; tx++ {
		if c.tiles[ty*c.cols+tx] != nil {
			return true
		}
	}
	return false
}

// readRow copies the client's pixels of row y from x0 to x1 into out.
func (c *clientPicture) readRow(out []byte, img *Image, y, x0, x1 int) {
	ty := y / compareTile
	for tx := x0 / compareTile; tx <= (x1-1)/compareTile; tx++ {
		a, b := max(x0, tx*compareTile), min(x1, (tx+1)*compareTile)
		part := out[(a-x0)*4 : (b-x0)*4]
		if m := c.tile(ty*c.cols + tx); m != nil {
			copy(part, m.Pix[(y-ty*compareTile)*m.Stride+(a-tx*compareTile)*4:])
		} else {
			copy(part, img.Pix[y*img.Stride+a*4:])
		}
	}
}

// eachRowPart calls f with the client's pixels of row y from x0 to x1, in
// order, as slices of the blocks and of img: no copy is made.
func (c *clientPicture) eachRowPart(img *Image, y, x0, x1 int, f func(part []byte)) {
	ty := y / compareTile
	for tx := x0 / compareTile; tx <= (x1-1)/compareTile; tx++ {
		a, b := max(x0, tx*compareTile), min(x1, (tx+1)*compareTile)
		n := (b - a) * 4
		if m := c.tile(ty*c.cols + tx); m != nil {
			f(m.Pix[(y-ty*compareTile)*m.Stride+(a-tx*compareTile)*4:][:n:n])
		} else {
			f(img.Pix[y*img.Stride+a*4:][:n:n])
		}
	}
}

// tileRows returns a function giving the client's pixels of row y from
// t.Min.X to t.Max.X, t being inside one block: no copy is made.
func (c *clientPicture) tileRows(img *Image, t image.Rectangle) func(y int) []byte {
	n := t.Dx() * 4
	i := t.Min.Y/compareTile*c.cols + t.Min.X/compareTile
	if m := c.tile(i); m != nil {
		o := c.tileRect(i).Min
		return func(y int) []byte { return m.Pix[(y-o.Y)*m.Stride+(t.Min.X-o.X)*4:][:n:n] }
	}
	return func(y int) []byte { return img.Pix[y*img.Stride+t.Min.X*4:][:n:n] }
}

// copy records a CopyRect sent to the client: its pixels at dst become
// those it had at dst-delta. The blocks dst touches are kept, built from
// the picture as it was before the copy (source and destination may
// overlap).
func (c *clientPicture) copy(img *Image, dst image.Rectangle, delta image.Point) {
	dst = dst.Intersect(img.Bounds())
	if dst.Empty() {
		return
	}
	built := map[int]*Image{}
	c.eachTile(dst, func(i int, t image.Rectangle) {
		m := tilePool.Get().(*Image)
		part := t.Intersect(dst)
		if part != t {
			if old := c.tiles[i]; old != nil {
				copy(m.Pix, old.Pix)
			} else {
				m.copyFrom(image.Point{}, img, t)
			}
		}
		for y := part.Min.Y; y < part.Max.Y; y++ {
			o := (y-t.Min.Y)*m.Stride + (part.Min.X-t.Min.X)*4
			c.readRow(m.Pix[o:o+part.Dx()*4], img, y-delta.Y, part.Min.X-delta.X, part.Max.X-delta.X)
		}
		built[i] = m
	})
	for i, m := range built {
		c.put(i, m)
	}
}

// settle records that the client now has img's pixels everywhere inside
// area (an update covered it: what differed was sent). Blocks that no
// pending damage touches are dropped; the others take img's pixels for
// their part inside area.
func (c *clientPicture) settle(img *Image, area image.Rectangle, pending *region) {
	if c.n == 0 {
		return
	}
	for i, m := range c.tiles {
		if m == nil {
			continue
		}
		t := c.tileRect(i)
		in := t.Intersect(area)
		if in.Empty() {
			continue
		}
		touched := false
		for _, r := range pending.rects {
			if r.Overlaps(t) {
				touched = true
				break
			}
		}
		if !touched {
			c.tiles[i] = nil
			c.n--
			tilePool.Put(m)
			continue
		}
		m.copyFrom(in.Min.Sub(t.Min), img, in)
	}
}

// kept returns how many blocks are kept.
func (c *clientPicture) kept() int { return c.n }
