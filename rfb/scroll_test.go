package rfb

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"
)

// textScreen is a w×h picture of "text": 13-pixel lines of random dark
// glyph pixels on white, with blank rows between, as a terminal shows.
func textScreen(w, h int, seed uint64) *Image {
	m := NewImage(w, h)
	m.Fill(m.Bounds(), 0xffffff)
	writeLines(m, image.Rect(0, 0, w, h), 0, h/13, seed)
	return m
}

// writeLines draws lines first..last-1 of a deterministic text into r.
func writeLines(m *Image, r image.Rectangle, first, last int, seed uint64) {
	for l := first; l < last; l++ {
		rng := rand.New(rand.NewPCG(seed, uint64(l)))
		y0 := r.Min.Y + (l-first)*13
		for y := y0 + 2; y < y0+11 && y < r.Max.Y; y++ {
			for x := r.Min.X + 4; x < r.Max.X-4; x++ {
				if rng.IntN(3) == 0 {
					m.Fill(image.Rect(x, y, x+1, y+1), 0x101010)
				}
			}
		}
	}
}

// scrollTerm scrolls the terminal area of m up by k lines and writes
// the k new lines at the bottom, returning the area changed.
func scrollTerm(m *Image, term image.Rectangle, top, k int, seed uint64) image.Rectangle {
	rows := term.Dy() / 13
	m.move(image.Rect(term.Min.X, term.Min.Y, term.Max.X, term.Min.Y+(rows-k)*13), image.Pt(term.Min.X, term.Min.Y+k*13))
	bottom := image.Rect(term.Min.X, term.Min.Y+(rows-k)*13, term.Max.X, term.Max.Y)
	m.Fill(bottom, 0xffffff)
	writeLines(m, bottom, top+rows, top+rows+k, seed)
	return term
}

// TestScrollAsCopyRect checks that a scrolled terminal reaches the client
// as one CopyRect and the new lines only, exactly, with the damage
// reported as the whole terminal; and that a client without CopyRect gets
// the same picture.
func TestScrollAsCopyRect(t *testing.T) {
	for _, bands := range []bool{false, true} {
		testScrollAsCopyRect(t, bands)
	}
}

// testScrollAsCopyRect is TestScrollAsCopyRect with the terminal's scroll
// drawn at once (Update) or in bands (UpdateBands, as the X11 capture
// draws).
func testScrollAsCopyRect(t *testing.T, bands bool) {
	for _, copyRect := range []bool{true, false} {
		fb := NewFramebufferFromImage(textScreen(640, 480, 5))
		term := image.Rect(40, 20, 600, 20+30*13)
		fb.Update(func(img *Image) []image.Rectangle {
			img.Fill(term, 0xffffff)
			writeLines(img, term, 0, 30, 9)
			return []image.Rectangle{term}
		})
		c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
		encs := []Encoding{EncRaw}
		if copyRect {
			encs = []Encoding{EncCopyRect, EncRaw}
		}
		if err := c.SetEncodings(encs...); err != nil {
			t.Fatal(err)
		}
		fullUpdate(t, c)
		top := 0
		for _, k := range []int{1, 3, 1, 7} {
			if bands {
				next := fb.Snapshot()
				updateBands(fb, []image.Rectangle{scrollTerm(next, term, top, k, 9)}, next)
			} else {
				fb.Update(func(img *Image) []image.Rectangle {
					r := scrollTerm(img, term, top, k, 9)
					return []image.Rectangle{r}
				})
			}
			top += k
			if err := c.RequestUpdate(true, fb.Snapshot().Bounds()); err != nil {
				t.Fatal(err)
			}
			u := nextUpdate(t, c)
			checkImage(t, c, fb.Snapshot())
			pixels := 0
			var copies int
			for _, r := range u.Rects {
				if r.Encoding == EncCopyRect {
					copies++
					if r.Src.Sub(r.Rect.Min) != image.Pt(0, k*13) {
						t.Errorf("scroll by %d lines copied from %v to %v", k, r.Src, r.Rect)
					}
				} else {
					pixels += r.Rect.Dx() * r.Rect.Dy()
				}
			}
			if !copyRect {
				if copies != 0 {
					t.Errorf("CopyRect to a client without it: %+v", u.Rects)
				}
				continue
			}
			if copies != 1 || pixels > (k+1)*13*term.Dx() {
				t.Errorf("scroll by %d lines: %d copies, %d pixels (new lines: %d) %v", k, copies, pixels, k*13*term.Dx(), u.Rects)
			}
		}
	}
}

// updateBands puts next's pixels inside within into fb with UpdateBands,
// band by band.
func updateBands(fb *Framebuffer, within []image.Rectangle, next *Image) {
	fb.UpdateBands(within, nil, compareTile, func(img *Image, band image.Rectangle) []image.Rectangle {
		var done []image.Rectangle
		for _, r := range within {
			if p := r.Intersect(band); !p.Empty() {
				img.copyFrom(p.Min, next, p)
				done = append(done, p)
			}
		}
		return done
	})
}

// TestUpdateBandsPhoto checks that a new picture over a large area drawn
// in bands leaves the connection no copy of its client's pixels before
// the client asks for an update (each band was compared and let go),
// that the update then holds exactly the pixels that changed, and that
// the client shows the picture.
func TestUpdateBandsPhoto(t *testing.T) {
	fb := NewFramebufferFromImage(textScreen(640, 480, 5))
	c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
	if err := c.SetEncodings(EncCopyRect, EncRaw); err != nil {
		t.Fatal(err)
	}
	fullUpdate(t, c)
	photo := image.Rect(30, 50, 610, 470)
	changed := image.Rect(30, 60, 600, 470) // the rows and columns that differ
	next := fb.Snapshot()
	rng := rand.New(rand.NewPCG(1, 2))
	for y := changed.Min.Y; y < changed.Max.Y; y++ {
		for x := changed.Min.X; x < changed.Max.X; x++ {
			next.Fill(image.Rect(x, y, x+1, y+1), rng.Uint32()&0x7f7f7f)
		}
	}
	updateBands(fb, []image.Rectangle{photo}, next)
	fb.mu.RLock()
	for s := range fb.subs {
		s.mu.Lock()
		if n := s.client.kept(); n != 0 {
			t.Errorf("the connection keeps %d blocks after a photo in bands", n)
		}
		s.mu.Unlock()
	}
	fb.mu.RUnlock()
	if err := c.RequestUpdate(true, fb.Snapshot().Bounds()); err != nil {
		t.Fatal(err)
	}
	u := nextUpdate(t, c)
	checkImage(t, c, next)
	var sent image.Rectangle
	pixels := 0
	for _, r := range u.Rects {
		if r.Encoding == EncCopyRect {
			t.Errorf("CopyRect in a new photo: %v", r)
		}
		sent = sent.Union(r.Rect)
		pixels += r.Rect.Dx() * r.Rect.Dy()
	}
	if sent != changed || pixels != area(changed) {
		t.Errorf("sent %d pixels in %v, want the %d of %v", pixels, sent, area(changed), changed)
	}
}

// TestFindScrollGivesUp checks that findScroll finds nothing in noise,
// in a small area, or where the new rows match no shifted row.
func TestFindScrollGivesUp(t *testing.T) {
	a := benchImage()
	b := benchImage()
	r := rand.New(rand.NewPCG(3, 4))
	for i := range b.Pix {
		b.Pix[i] = byte(r.Uint32())
	}
	if cp := findScroll(b, pictureOf(a), a.Bounds()); cp != nil {
		t.Errorf("noise: %+v", cp)
	}
	s := textScreen(640, 480, 1)
	m := s.Clone()
	scrollTerm(m, m.Bounds(), 0, 2, 1)
	if cp := findScroll(m, pictureOf(s), image.Rect(0, 0, 640, 40)); cp != nil {
		t.Errorf("small area: %+v", cp)
	}
	if cp := findScroll(m, pictureOf(s), m.Bounds()); cp == nil || cp.delta != image.Pt(0, -26) {
		t.Errorf("scroll by 2 lines: %+v", cp)
	}
	if cp := findScroll(s, pictureOf(s), s.Bounds()); cp != nil {
		t.Errorf("unchanged: %+v", cp)
	}
}

// TestCopyHints checks UpdateCopied: a window moved in steps reaches the
// client as one CopyRect from its first place, a wrong hint costs pixels
// but never a wrong picture, and hints change no framebuffer pixel.
func TestCopyHints(t *testing.T) {
	bg := testPattern(400, 300)
	win := textScreen(120, 80, 7)
	at := func(p image.Point) *Image {
		m := bg.Clone()
		m.copyFrom(p, win, win.Bounds())
		return m
	}
	pos := image.Pt(20, 30)
	fb := NewFramebufferFromImage(at(pos))
	c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
	if err := c.SetEncodings(EncCopyRect, EncRaw); err != nil {
		t.Fatal(err)
	}
	fullUpdate(t, c)
	move := func(to image.Point, hint Copy) {
		from := pos
		pos = to
		want := at(to)
		fb.UpdateCopied([]Copy{hint}, func(img *Image) []image.Rectangle {
			img.copyFrom(image.Point{}, want, want.Bounds())
			return []image.Rectangle{win.Bounds().Add(from), win.Bounds().Add(to)}
		})
	}
	// Three steps before the client asks: one copy from the first place.
	start := pos
	for _, p := range []image.Point{{30, 35}, {45, 50}, {60, 70}} {
		move(p, Copy{Dst: win.Bounds().Add(p), Src: pos})
	}
	if err := c.RequestUpdate(true, bg.Bounds()); err != nil {
		t.Fatal(err)
	}
	u := nextUpdate(t, c)
	checkImage(t, c, fb.Snapshot())
	if u.Rects[0].Encoding != EncCopyRect || u.Rects[0].Src != start || u.Rects[0].Rect != win.Bounds().Add(pos) {
		t.Errorf("three moves arrived as %+v", u.Rects)
	}
	inside := 0
	for _, r := range u.Rects[1:] {
		inside += area(r.Rect.Intersect(win.Bounds().Add(pos)))
	}
	if inside > area(win.Bounds())/10 {
		// Only the edges of the blocks that hold the uncovered area.
		t.Errorf("%d pixels sent inside the moved window: %+v", inside, u.Rects)
	}
	// A wrong hint: the picture stays exact.
	move(image.Pt(200, 150), Copy{Dst: win.Bounds().Add(image.Pt(200, 150)), Src: image.Pt(0, 0)})
	if err := c.RequestUpdate(true, bg.Bounds()); err != nil {
		t.Fatal(err)
	}
	nextUpdate(t, c)
	checkImage(t, c, fb.Snapshot())
	if got, want := fb.Snapshot(), at(pos); !bytes.Equal(got.Pix, want.Pix) {
		t.Error("a hint changed the framebuffer's pixels")
	}
}

// TestCopyHintsRandom moves a window under another in random steps, with
// hints as a capturer gives them (some stale, some merged), damage only
// where the screen changed, and the client asking at random moments:
// after every update the client shows the framebuffer exactly.
func TestCopyHintsRandom(t *testing.T) {
	const w, h = 320, 240
	bg := testPattern(w, h)
	win := textScreen(90, 60, 3)
	top := image.Rect(150, 100, 260, 190)
	compose := func(p image.Point) *Image {
		m := bg.Clone()
		m.copyFrom(p, win, win.Bounds())
		m.Fill(top, 0xeeeeee)
		return m
	}
	rng := rand.New(rand.NewPCG(7, 7))
	pos := image.Pt(10, 10)
	fb := NewFramebufferFromImage(compose(pos))
	c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
	if err := c.SetEncodings(EncCopyRect, EncRaw); err != nil {
		t.Fatal(err)
	}
	fullUpdate(t, c)
	shownAt := pos // where the "capturer" last reported the window
	for step := range 200 {
		next := image.Pt(min(max(pos.X+rng.IntN(41)-20, -30), w-40), min(max(pos.Y+rng.IntN(31)-15, -30), h-30))
		old := fb.Snapshot()
		want := compose(next)
		damage := appendChanged(nil, want, pictureOf(old), want.Bounds())
		var hints []Copy
		if rng.IntN(4) > 0 {
			hints = append(hints, Copy{Dst: win.Bounds().Add(next), Src: shownAt})
			shownAt = next
		}
		fb.UpdateCopied(hints, func(img *Image) []image.Rectangle {
			img.copyFrom(image.Point{}, want, want.Bounds())
			return damage
		})
		pos = next
		if rng.IntN(3) == 0 {
			continue // the client asks later
		}
		if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
			t.Fatal(err)
		}
		nextUpdate(t, c)
		if d := imageDiff(c.Framebuffer(), fb.Snapshot()); d != "" {
			t.Fatalf("step %d: %s", step, d)
		}
	}
}

// TestScrollRandom scrolls a terminal by random amounts, with other
// changes around it, for clients of every encoding that read at random
// moments: after every update the client shows the framebuffer exactly.
func TestScrollRandom(t *testing.T) {
	for _, enc := range []Encoding{EncRaw, EncTight, EncZRLE, EncHextile} {
		t.Run(enc.String(), func(t *testing.T) {
			const w, h = 480, 320
			fb := NewFramebufferFromImage(textScreen(w, h, 11))
			c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
			if err := c.SetEncodings(enc, EncCopyRect, EncRaw, EncCompressLevel0+2); err != nil {
				t.Fatal(err)
			}
			fullUpdate(t, c)
			rng := rand.New(rand.NewPCG(5, uint64(enc)))
			term := image.Rect(37, 21, 440, 21+20*13)
			top := 0
			for step := range 40 {
				k := 1 + rng.IntN(5)
				fb.Update(func(img *Image) []image.Rectangle {
					scrollTerm(img, term, top, k, 13)
					// A caret blinking elsewhere and a status line.
					img.Fill(image.Rect(10, 300, 10+rng.IntN(460), 310), uint32(rng.Uint32()))
					return []image.Rectangle{term, image.Rect(0, 295, w, 315)}
				})
				top += k
				if rng.IntN(3) == 0 {
					continue
				}
				if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
					t.Fatal(err)
				}
				nextUpdate(t, c)
				if d := imageDiff(c.Framebuffer(), fb.Snapshot()); d != "" {
					t.Fatalf("step %d: %s", step, d)
				}
			}
		})
	}
}

// TestScrollQuickTest checks findScroll's shortcuts against the search
// they skip: changedBlocks finds the changed area that changedIn finds on
// the client's whole rows, and scrollMayMatch never turns away an area in
// which scrollSearch finds a copy. The terminals scroll by random amounts
// inside random areas, with some of the client's blocks kept and others
// not, and half of the new pictures carry a band of noise.
func TestScrollQuickTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	found := 0
	for i := range 300 {
		const w, h = 320, 300
		old := textScreen(w, h, uint64(i))
		client := &clientPicture{}
		client.reset(w, h)
		cur := old.Clone()
		tx, ty := rng.IntN(120), rng.IntN(100)
		term := image.Rect(tx, ty, tx+150+rng.IntN(50), ty+12*13)
		// The client keeps the blocks the scroll changes, as save does.
		client.save(old, term.Inset(rng.IntN(40)))
		scrollTerm(cur, term, 0, rng.IntN(6), uint64(i)+1)
		if i%2 == 1 {
			y := rng.IntN(h - 20)
			for j := y * cur.Stride; j < (y+20)*cur.Stride; j++ {
				cur.Pix[j] = byte(rng.Uint32())
			}
		}
		r := image.Rect(rng.IntN(w/2), rng.IntN(h/2), w/2+rng.IntN(w/2+1), h/2+rng.IntN(h/2+1))
		rw := r.Dx() * 4
		scratch := make([]byte, rw)
		want := changedIn(r, cur.rows(r), func(y int) []byte {
			client.readRow(scratch, cur, y, r.Min.X, r.Max.X)
			return scratch
		})
		c := changedBlocks(cur, client, r)
		if c != want {
			t.Fatalf("case %d: changedBlocks %v, changedIn %v", i, c, want)
		}
		if c.Dy() < scrollMinRows {
			continue
		}
		if cp := scrollSearch(cur, client, r, c); cp != nil {
			found++
			if !scrollMayMatch(cur, client, r, c) {
				t.Fatalf("case %d: scrollMayMatch turned away the copy %+v", i, cp)
			}
		}
	}
	if found < 50 {
		t.Errorf("only %d of the cases scrolled", found)
	}
}

// FuzzFindScroll: for any two pictures and area, findScroll either finds
// nothing or a copy inside the pictures that gives the new picture's
// rows exactly.
func FuzzFindScroll(f *testing.F) {
	f.Add([]byte("terminal"), uint8(3), uint16(0), uint16(0), uint16(200), uint16(200))
	f.Add([]byte{}, uint8(0), uint16(5), uint16(7), uint16(50), uint16(300))
	f.Fuzz(func(t *testing.T, seed []byte, lines uint8, x0, y0, x1, y1 uint16) {
		const w, h = 200, 260
		var s uint64
		for _, b := range seed {
			s = s*131 + uint64(b)
		}
		old := textScreen(w, h, s)
		cur := old.Clone()
		tx, ty := int(x0)%100, int(y0)%120
		scrollTerm(cur, image.Rect(tx, ty, tx+100, ty+10*13), 0, int(lines%8), s+1)
		r := image.Rect(int(x0)%w, int(y0)%h, int(x1)%(w+1), int(y1)%(h+1)).Canon()
		cp := findScroll(cur, pictureOf(old), r)
		if cp == nil {
			return
		}
		src := cp.dst.Sub(cp.delta)
		if !cp.dst.In(r) || !src.In(r) || cp.delta.X != 0 {
			t.Fatalf("copy %v from %v outside %v", cp.dst, src.Min, r)
		}
		for y := cp.dst.Min.Y; y < cp.dst.Max.Y; y++ {
			n := cp.dst.Dx() * 4
			a := cur.Pix[y*cur.Stride+cp.dst.Min.X*4:][:n]
			b := old.Pix[(y-cp.delta.Y)*old.Stride+cp.dst.Min.X*4:][:n]
			if !bytes.Equal(a, b) {
				t.Fatalf("row %d of the copy differs", y)
			}
		}
	})
}

// pictureOf is a client picture of old, for a framebuffer of old's size
// holding something else.
func pictureOf(old *Image) *clientPicture {
	c := &clientPicture{}
	c.reset(old.W, old.H)
	c.save(old, old.Bounds())
	return c
}

// BenchmarkScrollPipeline1080p scrolls a 730x650 terminal on a 1920x1080
// framebuffer by two lines per update, through a connection to a Tight
// client: capture's UpdateIn, the scroll search, the comparison and the
// encoding, as the agent does 60-70 times a second while text scrolls.
func BenchmarkScrollPipeline1080p(b *testing.B) {
	const w, h = 1920, 1080
	fb := NewFramebufferFromImage(textScreen(w, h, 11))
	c := mustConnect(b, NewServer(fb, Options{}), ClientConfig{})
	if err := c.SetEncodings(EncTight, EncCopyRect, EncRaw, EncCompressLevel0+2); err != nil {
		b.Fatal(err)
	}
	fullUpdate(b, c)
	term := image.Rect(60, 40, 60+730, 40+650)
	top := 0
	for b.Loop() {
		fb.UpdateIn([]image.Rectangle{term}, nil, func(img *Image) []image.Rectangle {
			scrollTerm(img, term, top, 2, 13)
			return []image.Rectangle{term}
		})
		top += 2
		if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
			b.Fatal(err)
		}
		nextUpdate(b, c)
	}
}
