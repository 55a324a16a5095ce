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
// the area it covered (settle).
type clientPicture struct {
	cols  int            // blocks a row of the framebuffer
	tiles map[int]*Image // by block index (row*cols + column)
}

// tilePool recycles the blocks: a scroll saves and settles the same area
// at every update.
var tilePool = sync.Pool{New: func() any { return NewImage(compareTile, compareTile) }}

// reset forgets everything, for a framebuffer w pixels wide.
func (c *clientPicture) reset(w int) {
	for _, t := range c.tiles {
		tilePool.Put(t)
	}
	c.tiles = nil
	c.cols = (w + compareTile - 1) / compareTile
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
		if _, ok := c.tiles[i]; ok {
			return
		}
		if c.tiles == nil {
			c.tiles = map[int]*Image{}
		}
		m := tilePool.Get().(*Image)
		m.copyFrom(image.Point{}, img, t)
		c.tiles[i] = m
	})
}

// row returns the client's pixels of row y from x0 to x1 (4 bytes each):
// a slice of img where no block of the row is kept, else assembled in
// *buf.
func (c *clientPicture) row(img *Image, y, x0, x1 int, buf *[]byte) []byte {
	n := (x1 - x0) * 4
	direct := img.Pix[y*img.Stride+x0*4:][:n:n]
	if len(c.tiles) == 0 {
		return direct
	}
	ty := y / compareTile
	out := direct
	copied := false
	for tx := x0 / compareTile; tx <= (x1-1)/compareTile; tx++ {
		m, ok := c.tiles[ty*c.cols+tx]
		if !ok {
			continue
		}
		if !copied {
			if cap(*buf) < n {
				*buf = make([]byte, n)
			}
			out = (*buf)[:n]
			copy(out, direct)
			copied = true
		}
		a, b := max(x0, tx*compareTile), min(x1, (tx+1)*compareTile)
		copy(out[(a-x0)*4:(b-x0)*4], m.Pix[(y-ty*compareTile)*m.Stride+(a-tx*compareTile)*4:])
	}
	return out
}

// tileRows returns a function giving the client's pixels of row y from
// t.Min.X to t.Max.X, t being inside one block: no copy is made.
func (c *clientPicture) tileRows(img *Image, t image.Rectangle) func(y int) []byte {
	n := t.Dx() * 4
	i := t.Min.Y/compareTile*c.cols + t.Min.X/compareTile
	if m, ok := c.tiles[i]; ok {
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
	var buf []byte
	c.eachTile(dst, func(i int, t image.Rectangle) {
		m := tilePool.Get().(*Image)
		if old, ok := c.tiles[i]; ok {
			copy(m.Pix, old.Pix)
		} else {
			m.copyFrom(image.Point{}, img, t)
		}
		part := t.Intersect(dst)
		for y := part.Min.Y; y < part.Max.Y; y++ {
			src := c.row(img, y-delta.Y, part.Min.X-delta.X, part.Max.X-delta.X, &buf)
			copy(m.Pix[(y-t.Min.Y)*m.Stride+(part.Min.X-t.Min.X)*4:], src)
		}
		built[i] = m
	})
	if c.tiles == nil {
		c.tiles = map[int]*Image{}
	}
	for i, m := range built {
		if old, ok := c.tiles[i]; ok {
			tilePool.Put(old)
		}
		c.tiles[i] = m
	}
}

// settle records that the client now has img's pixels everywhere inside
// area (an update covered it: what differed was sent). Blocks that no
// pending damage touches are dropped; the others take img's pixels for
// their part inside area.
func (c *clientPicture) settle(img *Image, area image.Rectangle, pending *region) {
	for i, m := range c.tiles {
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
			delete(c.tiles, i)
			tilePool.Put(m)
			continue
		}
		m.copyFrom(in.Min.Sub(t.Min), img, in)
	}
}

// kept returns how many blocks are kept.
func (c *clientPicture) kept() int { return len(c.tiles) }
