package rfb

import (
	"bytes"
	"image"
	"image/draw"
	"sync"
)

// Framebuffer is the screen a Server shows: pixels, the changes made to
// them, the cursor image and the size. The embedding program owns it and
// writes to it from its capture loop; any number of servers and
// connections read it. Writers never wait for a client's network: each
// connection holds a read lock while it takes and encodes an update (not
// while the update is written), and changes accumulate per connection
// until it can take them. A connection keeps no copy of the screen, only
// the blocks of its client's picture that changed since its last update
// (clientPicture), which writers save before they change them.
type Framebuffer struct {
	mu     sync.RWMutex
	img    *Image
	cursor *cursorImage
	filter func(img *Image, r image.Rectangle)
	subs   map[*subscriber]struct{}
	// moved counts down the updates after a move or a copy hint in
	// which UpdateBands lets no copy of a band go (moveQuiet).
	moved int
}

// moveQuiet is how many updates after a move or a copy hint UpdateBands
// keeps every band: while a window is dragged, a capture without a hint
// (the window's own redraw) comes between those with one, and forced
// damage at its place would travel with the next hint (addHint) and be
// sent whole rather than copied.
const moveQuiet = 8

// SetFilter installs f, which may repaint every changed rectangle before
// any client can see it: the agent paints everything outside the windows
// the customer chose to share. f runs with the framebuffer locked and must
// only touch r. Nil removes the filter. Areas whose filtering changes must
// be captured again by the caller.
func (fb *Framebuffer) SetFilter(f func(img *Image, r image.Rectangle)) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.filter = f
}

// applyFilter runs the filter over r. The caller holds the write lock.
func (fb *Framebuffer) applyFilter(r image.Rectangle) {
	if fb.filter == nil {
		return
	}
	if r = r.Intersect(fb.img.Bounds()); !r.Empty() {
		fb.filter(fb.img, r)
	}
}

// Cursor returns a copy of the current cursor image (not premultiplied,
// alpha 0 for transparent pixels) and its hot spot, or nil if none was
// set.
func (fb *Framebuffer) Cursor() (image.Image, image.Point) {
	fb.mu.RLock()
	defer fb.mu.RUnlock()
	c := fb.cursor
	if c == nil {
		return nil, image.Point{}
	}
	m := image.NewNRGBA(c.img.Bounds())
	for y := range c.img.H {
		for x := range c.img.W {
			a := c.alpha[y*c.img.W+x]
			if a == 0 {
				continue
			}
			i, o := y*c.img.Stride+x*4, y*m.Stride+x*4
			m.Pix[o], m.Pix[o+1], m.Pix[o+2], m.Pix[o+3] = c.img.Pix[i+2], c.img.Pix[i+1], c.img.Pix[i], a
		}
	}
	return m, c.hotspot
}

// NewFramebuffer returns a black w×h framebuffer.
func NewFramebuffer(w, h int) *Framebuffer {
	return &Framebuffer{img: NewImage(w, h), subs: map[*subscriber]struct{}{}}
}

// NewFramebufferFromImage returns a framebuffer holding a copy of img.
func NewFramebufferFromImage(img image.Image) *Framebuffer {
	return &Framebuffer{img: ImageFrom(img), subs: map[*subscriber]struct{}{}}
}

// Size returns the framebuffer's width and height.
func (fb *Framebuffer) Size() (w, h int) {
	fb.mu.RLock()
	defer fb.mu.RUnlock()
	return fb.img.W, fb.img.H
}

// Update lets draw change the pixels, with exclusive access. draw returns
// the rectangles it changed; only those are sent to clients. draw must not
// keep img. Update does not know beforehand where draw paints, so it
// keeps what each client had of the whole picture first: a capturer,
// which knows, calls UpdateIn.
func (fb *Framebuffer) Update(draw func(img *Image) (changed []image.Rectangle)) {
	fb.UpdateIn(nil, nil, draw)
}

// SetImage replaces the whole picture, resizing if img's size differs.
func (fb *Framebuffer) SetImage(img image.Image) {
	b := img.Bounds()
	fb.Resize(b.Dx(), b.Dy(), func(m *Image) { m.DrawImage(image.Point{}, img, b) })
}

// Move copies the pixels at src to the rectangle dst, as when a window is
// dragged or text scrolls. Clients that support CopyRect are told to copy
// the pixels themselves instead of receiving them again. Both rectangles
// are clipped to the framebuffer.
func (fb *Framebuffer) Move(dst image.Rectangle, src image.Point) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	b := fb.img.Bounds()
	delta := dst.Min.Sub(src)
	dst = dst.Intersect(b).Intersect(b.Add(delta))
	if dst.Empty() || delta == (image.Point{}) {
		return
	}
	fb.moved = moveQuiet
	for s := range fb.subs {
		s.mu.Lock()
		s.client.save(fb.img, dst)
		s.mu.Unlock()
	}
	fb.img.move(dst, dst.Min.Sub(delta))
	fb.applyFilter(dst)
	for s := range fb.subs {
		s.mu.Lock()
		s.addMove(dst, delta)
		s.mu.Unlock()
		s.poke()
	}
}

// Copy is a hint to UpdateCopied: the pixels now at Dst were at Src (its
// top-left corner) before the change, as when a window was moved.
type Copy struct {
	Dst image.Rectangle
	Src image.Point
}

// UpdateCopied is Update with hints of where changed pixels came from: a
// source that knows a window moved (X11's ConfigureNotify, Windows' location
// events) says so, and clients that support CopyRect copy the pixels they
// already have, then get only what differs from the real picture draw
// made. The hints change no pixel and need not be right: every
// destination is compared with the framebuffer after the copy, so a wrong
// or stale hint costs bytes, never a wrong picture. Of several copies at
// once, the largest is used.
func (fb *Framebuffer) UpdateCopied(copies []Copy, draw func(img *Image) (changed []image.Rectangle)) {
	fb.UpdateIn(nil, copies, draw)
}

// UpdateIn is UpdateCopied for a draw that changes pixels only inside
// within (nil: anywhere). Before draw runs, each connection keeps what its
// client has there that it may compare the new pixels with (clientPicture),
// so the smaller within, the less is copied.
func (fb *Framebuffer) UpdateIn(within []image.Rectangle, copies []Copy, draw func(img *Image) (changed []image.Rectangle)) {
	fb.update(within, copies, 0, func(img *Image, _ image.Rectangle) []image.Rectangle { return draw(img) })
}

// UpdateBands is UpdateIn for a draw that can paint in bands of rows:
// draw is called for each band of the screen that within touches, from
// top to bottom, and changes pixels only inside within and the band.
// Bands are rows high, rounded down to the comparison's blocks (at least
// one), so that a capturer that reads rows rows at a time reads a band at
// once. A
// connection then keeps what its client had of a band only while its
// pixels may have moved (a scroll, which the connection looks for):
// where they did not, it compares the band at once and lets its copy go,
// so that a new picture over a large area (a photo) costs the copy of a
// band rather than of the whole area.
func (fb *Framebuffer) UpdateBands(within []image.Rectangle, copies []Copy, rows int, draw func(img *Image, band image.Rectangle) (changed []image.Rectangle)) {
	fb.update(within, copies, max(1, rows/compareTile)*compareTile, draw)
}

// update is UpdateIn, in bands of rows rows (a multiple of compareTile)
// if rows is not 0.
func (fb *Framebuffer) update(within []image.Rectangle, copies []Copy, rows int, draw func(img *Image, band image.Rectangle) []image.Rectangle) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	b := fb.img.Bounds()
	if within == nil {
		within = []image.Rectangle{b}
	}
	var box image.Rectangle
	for _, r := range within {
		box = box.Union(r.Intersect(b))
	}
	// Each connection that may let its copy of a band go (bandDrop)
	// samples its client's rows first, while the framebuffer still has
	// them.
	var drops map[*subscriber]*bandDrop
	fb.moved = max(fb.moved-1, 0)
	if len(copies) > 0 {
		fb.moved = moveQuiet
	}
	if rows > 0 && fb.moved == 0 {
		for s := range fb.subs {
			s.mu.Lock()
			if d := newBandDrop(fb.img, s, within); d != nil {
				if drops == nil {
					drops = map[*subscriber]*bandDrop{}
				}
				drops[s] = d
			}
			s.mu.Unlock()
		}
	}
	all := []image.Rectangle{b}
	if rows > 0 {
		all = all[:0]
		for y := box.Min.Y / compareTile * compareTile; y < box.Max.Y; y += rows {
			all = append(all, image.Rect(b.Min.X, y, b.Max.X, y+rows).Intersect(b))
		}
	}
	var changed []image.Rectangle
	for _, band := range all {
		for s := range fb.subs {
			s.mu.Lock()
			for _, r := range within {
				s.client.save(fb.img, r.Intersect(band))
			}
			s.mu.Unlock()
		}
		ch := draw(fb.img, band)
		for _, r := range ch {
			fb.applyFilter(r)
		}
		changed = joinBands(changed, ch)
		for s, d := range drops {
			s.mu.Lock()
			d.band(fb.img, s, band)
			s.mu.Unlock()
		}
	}
	var best *pendingCopy
	for _, cp := range copies {
		delta := cp.Dst.Min.Sub(cp.Src)
		dst := cp.Dst.Intersect(b).Intersect(b.Add(delta))
		if dst.Empty() || delta == (image.Point{}) {
			continue
		}
		if best == nil || area(dst) > area(best.dst) {
			best = &pendingCopy{dst: dst, delta: delta}
		}
	}
	for s := range fb.subs {
		s.mu.Lock()
		if best != nil {
			s.addHint(best.dst, best.delta)
		}
		for _, r := range changed {
			s.dirty.add(r.Intersect(b))
		}
		s.mu.Unlock()
		s.poke()
	}
}

// bandDrop is what UpdateBands needs to let a connection's copy of a band
// go: for each of the large rectangles of within (those the scroll search
// would look at), samples of its client's rows before the draw.
type bandDrop struct {
	rects   []image.Rectangle
	samples []rowSampler
	old     []map[uint64]int
	was     [][]uint64 // the samples by row
	keep    []bool     // by block column, for the current band
}

// newBandDrop samples the client's rows of the large rectangles of
// within, or returns nil when s cannot let blocks go: a pending copy
// reads its client's pixels at its source (client.copy).
func newBandDrop(img *Image, s *subscriber, within []image.Rectangle) *bandDrop {
	if s.copy != nil || s.resized {
		return nil
	}
	d := &bandDrop{}
	for _, r := range within {
		r = r.Intersect(img.Bounds())
		if r.Dy() < scrollMinRows || area(r) < scrollMinArea {
			continue
		}
		sm := newRowSampler(r.Min.X, r.Max.X)
		d.rects = append(d.rects, r)
		d.samples = append(d.samples, sm)
		was := make([]uint64, r.Dy())
		d.old = append(d.old, sm.clientRows(img, &s.client, r, was))
		d.was = append(d.was, was)
	}
	if len(d.rects) == 0 {
		return nil
	}
	d.keep = make([]bool, s.client.cols)
	return d
}

// bandShifted is the share of a band's rows (one in bandShifted) that,
// looking like the client's rows at other heights (shiftedRows), keep
// the band's blocks for the scroll search. Scrolled text has many (the
// moved lines, and blank rows everywhere); a new photo has none, or
// only in rows of one colour.
const bandShifted = 8

// band lets s's copy of the blocks of band go where the large rectangles
// touch them and hardly a row of theirs may have moved (bandShifted):
// what differs in such a block from what the client has becomes forced
// damage, sent whole. The blocks of a large rectangle whose rows may
// have moved are kept for the comparison and the scroll search.
func (d *bandDrop) band(img *Image, s *subscriber, band image.Rectangle) {
	c := &s.client
	if c.kept() == 0 {
		return
	}
	clear(d.keep)
	var drop region
	for i, r := range d.rects {
		p := r.Intersect(band)
		if p.Empty() {
			continue
		}
		if d.samples[i].shiftedRows(img, d.old[i], d.was[i], r, p.Min.Y, p.Max.Y, max(1, p.Dy()/bandShifted)) {
			keepCols(d.keep, p)
		} else {
			drop.add(p)
		}
	}
	if drop.empty() {
		return
	}
	// A block let go is compared whole with what the client had, so
	// whatever else of within touches it is accounted for.
	var run image.Rectangle
	flush := func() {
		s.dirty.add(run)
		s.forced.add(run)
		run = image.Rectangle{}
	}
	c.eachTile(band, func(i int, t image.Rectangle) {
		t = t.Intersect(img.Bounds())
		if d.keep[i%c.cols] || c.tiles[i] == nil || !drop.overlaps(t) {
			return
		}
		m := c.tiles[i]
		diff := changedIn(t, img.rows(t), c.tileRows(img, t))
		c.tiles[i] = nil
		c.n--
		tilePool.Put(m)
		switch {
		case diff.Empty():
		case run.Empty():
			run = diff
		case diff.Min.X == run.Max.X && diff.Min.Y == run.Min.Y && diff.Max.Y == run.Max.Y:
			run.Max.X = diff.Max.X
		default:
			flush()
			run = diff
		}
	})
	if !run.Empty() {
		flush()
	}
}

func area(r image.Rectangle) int { return r.Dx() * r.Dy() }

// joinBands appends rs to changed, joining each to a rectangle of changed
// that it continues downwards (the same columns, from the row where it
// ends): the damage of a rectangle drawn in bands stays one rectangle,
// as the scroll search's area (region.largestIn) wants.
func joinBands(changed, rs []image.Rectangle) []image.Rectangle {
	for _, r := range rs {
		joined := false
		for i, c := range changed {
			if c.Min.X == r.Min.X && c.Max.X == r.Max.X && c.Max.Y == r.Min.Y {
				changed[i].Max.Y, joined = r.Max.Y, true
				break
			}
		}
		if !joined {
			changed = append(changed, r)
		}
	}
	return changed
}

// keepCols marks the block columns r touches.
func keepCols(keep []bool, r image.Rectangle) {
	for tx := r.Min.X / compareTile; tx <= (r.Max.X-1)/compareTile; tx++ {
		keep[tx] = true
	}
}

// Resize changes the framebuffer's size. init, if not nil, paints the new
// picture (which starts black). Clients that support DesktopSize or
// ExtendedDesktopSize follow; others are disconnected.
func (fb *Framebuffer) Resize(w, h int, init func(img *Image)) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	resized := w != fb.img.W || h != fb.img.H
	if resized {
		fb.img = NewImage(w, h)
	}
	for s := range fb.subs {
		s.mu.Lock()
		if resized {
			s.client.reset(w, h)
		} else {
			s.client.save(fb.img, fb.img.Bounds())
		}
		s.mu.Unlock()
	}
	if init != nil {
		init(fb.img)
	}
	fb.applyFilter(fb.img.Bounds())
	for s := range fb.subs {
		s.mu.Lock()
		if resized {
			s.resized = true
			s.copy = nil
			s.dirty.clear()
			s.forced.clear()
			s.forced.add(fb.img.Bounds())
		}
		s.dirty.add(fb.img.Bounds())
		s.mu.Unlock()
		s.poke()
	}
}

// SetCursor sets the pointer's image and hot spot. Pixels with alpha below
// half are transparent. A nil img hides the cursor. Clients that support
// the Cursor pseudo-encoding draw it locally.
func (fb *Framebuffer) SetCursor(img image.Image, hotspot image.Point) {
	c := newCursorImage(img, hotspot)
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.cursor = c
	for s := range fb.subs {
		s.mu.Lock()
		s.cursorChanged = true
		s.mu.Unlock()
		s.poke()
	}
}

// Snapshot returns a copy of the current picture.
func (fb *Framebuffer) Snapshot() *Image {
	fb.mu.RLock()
	defer fb.mu.RUnlock()
	return fb.img.Clone()
}

// refresh marks area as changed for s: its client lost those pixels.
func (fb *Framebuffer) refresh(s *subscriber, area image.Rectangle) {
	fb.mu.RLock()
	defer fb.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	area = area.Intersect(fb.img.Bounds())
	s.dirty.add(area)
	s.forced.add(area)
}

func (fb *Framebuffer) subscribe() *subscriber {
	s := &subscriber{notify: make(chan struct{}, 1)}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	s.client.reset(fb.img.W, fb.img.H)
	fb.subs[s] = struct{}{}
	s.dirty.add(fb.img.Bounds())
	s.forced.add(fb.img.Bounds())
	s.cursorChanged = fb.cursor != nil
	return s
}

func (fb *Framebuffer) unsubscribe(s *subscriber) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	delete(fb.subs, s)
	s.mu.Lock()
	s.client.reset(0, 0)
	s.mu.Unlock()
}

// take moves the pending changes of s inside area into a frame: the
// pixels to send are fb.img's inside the frame's rectangles. The caller
// holds fb.mu's read lock from take until it has encoded them, so that
// they do not change meanwhile (readLocked).
func (fb *Framebuffer) take(s *subscriber, area image.Rectangle, allowCopy bool) pendingFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f pendingFrame
	f.w, f.h = fb.img.W, fb.img.H
	if s.resized {
		// The new size goes out alone; the pixels follow in the next update.
		f.resized, s.resized = true, false
		return f
	}
	if s.cursorChanged {
		f.cursor, s.cursorChanged = fb.cursor, false
		f.cursorChanged = true
	}
	area = area.Intersect(fb.img.Bounds())
	if s.copy == nil && allowCopy {
		// A scroll: the largest damaged rectangle may hold the client's
		// own pixels shifted up or down, except where the client must
		// get everything (its picture there is not known).
		if cp := findScroll(fb.img, &s.client, s.forced.freeRows(s.dirty.largestIn(area))); cp != nil {
			s.copy = cp
		}
	}
	if s.copy != nil {
		if allowCopy && s.copy.dst.In(area) {
			f.copy = s.copy
			// The client copies its pixels.
			s.client.copy(fb.img, f.copy.dst, f.copy.delta)
		} else {
			s.dirty.add(s.copy.dst)
		}
		s.copy = nil
	}
	// Damage is what the source reported; only the pixels that differ
	// from what the client has are sent, except where the client must get
	// everything (forced: a new client or size, a request for pixels it
	// lost, a lossless refresh). X clients and toolkits report far more
	// than they change: a blinking caret in a GTK text view damages the
	// whole view.
	dirty := s.dirty.take(area)
	forced := s.forced.take(area)
	for _, r := range dirty.rects {
		rest := region{rects: []image.Rectangle{r}}
		for _, fr := range forced.rects {
			rest.subtract(fr)
		}
		for _, p := range rest.rects {
			f.dirty.rects = appendChanged(f.dirty.rects, fb.img, &s.client, p)
		}
	}
	f.dirty.rects = append(f.dirty.rects, forced.rects...)
	if len(f.dirty.rects) > maxRegionRects {
		f.dirty.coarsen()
	}
	// The client will have fb.img's pixels inside area: what differed is
	// in the frame.
	s.client.settle(fb.img, area, &s.dirty)
	return f
}

// readLocked runs f with the read lock held and the current picture.
func (fb *Framebuffer) readLocked(f func(img *Image)) {
	fb.mu.RLock()
	defer fb.mu.RUnlock()
	f(fb.img)
}

// compareTile is the block in which changes are looked for, as
// TigerVNC's comparing update tracker does; each changed block is then
// cropped to the changed pixels.
const compareTile = 64

// appendChanged appends the parts of r in which img and what the client
// has differ: the changed compareTile blocks of the screen's grid, each
// cropped to its changed rows and columns.
func appendChanged(out []image.Rectangle, img *Image, client *clientPicture, r image.Rectangle) []image.Rectangle {
	for ty := r.Min.Y / compareTile * compareTile; ty < r.Max.Y; ty += compareTile {
		for tx := r.Min.X / compareTile * compareTile; tx < r.Max.X; tx += compareTile {
			t := image.Rect(tx, ty, tx+compareTile, ty+compareTile).Intersect(r)
			if c := changedIn(t, img.rows(t), client.tileRows(img, t)); !c.Empty() {
				out = append(out, c)
			}
		}
	}
	return out
}

// rows returns a function giving m's pixels of row y from t.Min.X to
// t.Max.X.
func (m *Image) rows(t image.Rectangle) func(y int) []byte {
	n := t.Dx() * 4
	return func(y int) []byte { return m.Pix[y*m.Stride+t.Min.X*4:][:n:n] }
}

// changedIn returns the smallest rectangle holding every pixel of t in
// which the rows of a and b differ (the padding byte ignored), or an empty
// one.
func changedIn(t image.Rectangle, a, b func(y int) []byte) image.Rectangle {
	row := func(y int) ([]byte, []byte) { return a(y), b(y) }
	differ := func(p, q []byte) bool {
		for i := 0; i < len(p); i += 4 {
			if p[i] != q[i] || p[i+1] != q[i+1] || p[i+2] != q[i+2] {
				return true
			}
		}
		return false
	}
	y0 := t.Min.Y
	for ; y0 < t.Max.Y; y0++ {
		if p, q := row(y0); !bytes.Equal(p, q) && differ(p, q) {
			break
		}
	}
	if y0 == t.Max.Y {
		return image.Rectangle{}
	}
	y1 := t.Max.Y
	for y1 > y0+1 {
		if p, q := row(y1 - 1); !bytes.Equal(p, q) && differ(p, q) {
			break
		}
		y1--
	}
	x0, x1 := t.Max.X, t.Min.X
	for y := y0; y < y1; y++ {
		p, q := row(y)
		for i := 0; i < len(p); i += 4 {
			if p[i] != q[i] || p[i+1] != q[i+1] || p[i+2] != q[i+2] {
				x0 = min(x0, t.Min.X+i/4)
				break
			}
		}
		for i := len(p) - 4; i >= 0; i -= 4 {
			if p[i] != q[i] || p[i+1] != q[i+1] || p[i+2] != q[i+2] {
				x1 = max(x1, t.Min.X+i/4+1)
				break
			}
		}
	}
	return image.Rect(x0, y0, x1, y1)
}

// pendingFrame is what one connection takes from the framebuffer for one
// update.
type pendingFrame struct {
	w, h          int
	resized       bool
	cursorChanged bool
	cursor        *cursorImage
	copy          *pendingCopy
	dirty         region
}

// subscriber accumulates, for one connection, what changed since it last
// took an update.
type subscriber struct {
	notify chan struct{}

	mu            sync.Mutex
	dirty         region
	forced        region // inside dirty: send without comparing
	copy          *pendingCopy
	resized       bool
	cursorChanged bool
	client        clientPicture // what the client has, where it differs from the framebuffer
}

// pendingCopy is a move the client can do itself: dst receives the pixels
// the client has at dst - delta.
type pendingCopy struct {
	dst   image.Rectangle
	delta image.Point
	hint  bool // from UpdateCopied: dst is damage, compared after the copy
}

func (s *subscriber) poke() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// pending reports whether anything waits inside area.
func (s *subscriber) pending(area image.Rectangle) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resized || s.cursorChanged || s.copy != nil {
		return true
	}
	for _, r := range s.dirty.rects {
		if r.Overlaps(area) {
			return true
		}
	}
	return false
}

// addMove records a move of the pixels at dst-delta to dst. Only one move
// is kept: an earlier one becomes plain damage. Damage the client has not
// received inside the source area is stale at the destination, so it moves
// along with the pixels.
func (s *subscriber) addMove(dst image.Rectangle, delta image.Point) {
	if s.copy != nil {
		s.dirty.add(s.copy.dst)
		s.copy = nil
	}
	src := dst.Sub(delta)
	var stale, staleForced []image.Rectangle
	for _, r := range s.dirty.rects {
		if i := r.Intersect(src); !i.Empty() {
			stale = append(stale, i.Add(delta))
		}
	}
	for _, r := range s.forced.rects {
		if i := r.Intersect(src); !i.Empty() {
			staleForced = append(staleForced, i.Add(delta))
		}
	}
	s.dirty.subtract(dst)
	s.forced.subtract(dst)
	for _, r := range stale {
		s.dirty.add(r)
	}
	for _, r := range staleForced {
		s.forced.add(r)
	}
	s.copy = &pendingCopy{dst: dst, delta: delta}
}

// addHint records a copy hint (UpdateCopied): the client may copy the
// pixels it has at dst-delta to dst, after which all of dst is compared
// with the framebuffer, so dst becomes damage. Areas inside the source the
// client must get whole (forced) stay forced where they land. A hint that
// continues the pending copy (its source lies inside the pending copy's
// destination: a window dragged on) merges with it into one copy from the
// first source; otherwise the new hint replaces the pending copy, whose
// destination is damage already.
func (s *subscriber) addHint(dst image.Rectangle, delta image.Point) {
	if p := s.copy; p != nil {
		if p.hint && dst.Sub(delta).In(p.dst) {
			delta = delta.Add(p.delta)
		} else {
			s.dirty.add(p.dst)
		}
		s.copy = nil
	}
	src := dst.Sub(delta)
	var staleForced []image.Rectangle
	for _, r := range s.forced.rects {
		if i := r.Intersect(src); !i.Empty() {
			staleForced = append(staleForced, i.Add(delta))
		}
	}
	for _, r := range staleForced {
		s.forced.add(r)
		s.dirty.add(r)
	}
	s.dirty.add(dst)
	s.copy = &pendingCopy{dst: dst, delta: delta, hint: true}
}

// cursorImage is a cursor converted once for all connections.
type cursorImage struct {
	img     *Image // colours, not premultiplied
	alpha   []byte // w×h opacities
	mask    []byte // 1 bit per pixel (alpha ≥ 128), rows padded to bytes, MSB first
	hotspot image.Point
}

// maxCursor is TigerVNC's limit; larger cursors are cropped.
const maxCursor = 256

func newCursorImage(src image.Image, hot image.Point) *cursorImage {
	if src == nil || src.Bounds().Empty() {
		// A zero-size cursor crashes some clients; a transparent 1×1 one
		// hides the pointer everywhere.
		return &cursorImage{img: NewImage(1, 1), alpha: []byte{0}, mask: []byte{0}}
	}
	b := src.Bounds()
	w, h := min(b.Dx(), maxCursor), min(b.Dy(), maxCursor)
	c := &cursorImage{img: NewImage(w, h), alpha: make([]byte, w*h), mask: make([]byte, (w+7)/8*h), hotspot: hot}
	c.hotspot.X = min(max(hot.X, 0), w-1)
	c.hotspot.Y = min(max(hot.Y, 0), h-1)
	rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(rgba, rgba.Bounds(), src, b.Min, draw.Src)
	stride := (w + 7) / 8
	for y := range h {
		for x := range w {
			p := rgba.Pix[y*rgba.Stride+x*4:]
			i := y*c.img.Stride + x*4
			c.alpha[y*w+x] = p[3]
			c.img.Pix[i], c.img.Pix[i+1], c.img.Pix[i+2] = p[2], p[1], p[0]
			if p[3] >= 0x80 {
				c.mask[y*stride+x/8] |= 0x80 >> (x % 8)
			}
		}
	}
	return c
}
