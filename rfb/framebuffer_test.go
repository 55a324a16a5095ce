package rfb

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// The filter repaints changed areas before a client can take them, in
// Update, Move and Resize alike.
func TestFramebufferFilter(t *testing.T) {
	fb := NewFramebuffer(64, 32)
	shared := image.Rect(0, 0, 32, 32)
	fb.SetFilter(func(img *Image, r image.Rectangle) {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if !image.Pt(x, y).In(shared) {
					img.Set(x, y, color.RGBA{0x80, 0x80, 0x80, 0xff})
				}
			}
		}
	})
	s := fb.subscribe()
	fb.Update(func(img *Image) []image.Rectangle {
		img.Fill(img.Bounds(), 0xff0000)
		return []image.Rectangle{img.Bounds()}
	})
	var shown *Image
	fb.readLocked(func(img *Image) {
		fb.take(s, img.Bounds(), false)
		shown = img.Clone()
	})
	if got := shown.RGB(10, 10); got != 0xff0000 {
		t.Fatalf("shared pixel %06x", got)
	}
	if got := shown.RGB(40, 10); got != 0x808080 {
		t.Fatalf("masked pixel %06x, want the filter's grey", got)
	}
	fb.Move(image.Rect(32, 0, 64, 32), image.Pt(0, 0))
	if got := fb.Snapshot().RGB(40, 10); got != 0x808080 {
		t.Fatalf("moved into the masked area: %06x", got)
	}
	fb.Resize(80, 40, func(img *Image) { img.Fill(img.Bounds(), 0x00ff00) })
	if got := fb.Snapshot().RGB(70, 30); got != 0x808080 {
		t.Fatalf("after resize: %06x", got)
	}
	fb.SetFilter(nil)
	fb.SetCursor(nil, image.Point{})
	if c, _ := fb.Cursor(); c == nil || c.Bounds().Dx() != 1 {
		t.Fatalf("cursor %v", c)
	}
}

// TestOnlyChangedPixelsAreSent: damage that covers more than what changed
// (as toolkits report it) costs only the changed pixels; a full request
// still gets everything, and an unchanged damaged area nothing.
func TestOnlyChangedPixelsAreSent(t *testing.T) {
	fb := NewFramebufferFromImage(testPattern(300, 200))
	c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
	if err := c.SetEncodings(EncRaw); err != nil {
		t.Fatal(err)
	}
	if u := fullUpdate(t, c); len(u.Rects) == 0 {
		t.Fatal("no first picture")
	}
	fb.Update(func(img *Image) []image.Rectangle {
		img.Fill(image.Rect(130, 70, 132, 89), 0xff0000) // a caret
		return []image.Rectangle{image.Rect(0, 0, 300, 200)}
	})
	if err := c.RequestUpdate(true, image.Rect(0, 0, 300, 200)); err != nil {
		t.Fatal(err)
	}
	u := nextUpdate(t, c)
	if len(u.Rects) != 1 || u.Rects[0].Rect != image.Rect(130, 70, 132, 89) {
		t.Errorf("the caret arrived as %+v", u.Rects)
	}
	checkImage(t, c, fb.Snapshot())

	// Unchanged damage: no update at all until something changes.
	fb.Update(func(img *Image) []image.Rectangle { return []image.Rectangle{image.Rect(0, 0, 300, 200)} })
	if err := c.RequestUpdate(true, image.Rect(0, 0, 300, 200)); err != nil {
		t.Fatal(err)
	}
	fb.Update(func(img *Image) []image.Rectangle {
		img.Fill(image.Rect(5, 5, 6, 6), 0x00ff00)
		return []image.Rectangle{image.Rect(0, 0, 100, 100)}
	})
	if u := nextUpdate(t, c); len(u.Rects) != 1 || u.Rects[0].Rect != image.Rect(5, 5, 6, 6) {
		t.Errorf("after unchanged damage: %+v", u.Rects)
	}
	// A full request resends all of it.
	if u := fullUpdate(t, c); len(u.Rects) == 0 || u.Rects[0].Rect.Dx()*u.Rects[0].Rect.Dy() < 300*200 {
		t.Errorf("full request answered with %+v", u.Rects)
	}
	checkImage(t, c, fb.Snapshot())
}

// TestClientPictureRandom makes random changes (declared updates, moves,
// copy hints right and wrong) for two clients, one reading after every
// change and one after every fifth: each shows the framebuffer exactly
// when it has read, and once both are up to date no connection keeps any
// of its client's pixels (clientPicture).
func TestClientPictureRandom(t *testing.T) {
	const w, h = 300, 200
	fb := NewFramebufferFromImage(textScreen(w, h, 5))
	srv := NewServer(fb, Options{})
	fast := mustConnect(t, srv, ClientConfig{})
	slow := mustConnect(t, srv, ClientConfig{})
	for _, c := range []*Client{fast, slow} {
		if err := c.SetEncodings(EncCopyRect, EncRaw); err != nil {
			t.Fatal(err)
		}
		fullUpdate(t, c)
	}
	rng := rand.New(rand.NewPCG(3, 9))
	randRect := func() image.Rectangle {
		x, y := rng.IntN(w), rng.IntN(h)
		return image.Rect(x, y, x+1+rng.IntN(120), y+1+rng.IntN(90)).Intersect(image.Rect(0, 0, w, h))
	}
	// read asks for area (which holds a change) and checks it.
	read := func(c *Client, step int, area image.Rectangle) {
		t.Helper()
		if err := c.RequestUpdate(true, area); err != nil {
			t.Fatal(err)
		}
		nextUpdate(t, c)
		got, want := NewImage(w, h), NewImage(w, h)
		got.copyFrom(area.Min, c.Framebuffer(), area)
		want.copyFrom(area.Min, fb.Snapshot(), area)
		if d := imageDiff(got, want); d != "" {
			t.Fatalf("step %d, area %v: %s", step, area, d)
		}
	}
	full := image.Rect(0, 0, w, h)
	for step := range 150 {
		// A fresh colour somewhere, so that every step changes pixels.
		spot := randRect()
		colour := uint32(step*2654435761) & 0xffffff
		switch rng.IntN(4) {
		case 3:
			// A large area redrawn in bands: a new picture (noise) or the
			// old one shifted up or down, beside the spot.
			r := image.Rect(rng.IntN(100), rng.IntN(20), w, h).Intersect(image.Rect(0, 0, w, h))
			next := fb.Snapshot()
			if rng.IntN(2) == 0 {
				for y := r.Min.Y; y < r.Max.Y; y++ {
					for x := r.Min.X; x < r.Max.X; x++ {
						next.Fill(image.Rect(x, y, x+1, y+1), rng.Uint32()&0xffffff)
					}
				}
			} else {
				d := rng.IntN(41) - 20
				dst := r.Intersect(r.Add(image.Pt(0, d)))
				next.move(dst, dst.Min.Sub(image.Pt(0, d)))
			}
			next.Fill(spot, colour)
			if rng.IntN(2) == 0 {
				// As if the last move were long ago: bands may be let go
				// whatever moves are pending.
				fb.mu.Lock()
				fb.moved = 0
				fb.mu.Unlock()
			}
			fb.UpdateBands([]image.Rectangle{r, spot}, nil, 1+rng.IntN(100), func(img *Image, band image.Rectangle) []image.Rectangle {
				var done []image.Rectangle
				for _, p := range []image.Rectangle{r.Intersect(band), spot.Intersect(band)} {
					img.copyFrom(p.Min, next, p)
					done = append(done, p)
				}
				return done
			})
		case 0:
			fb.Move(randRect(), image.Pt(rng.IntN(w), rng.IntN(h)))
		case 1:
			src := randRect()
			d := image.Pt(rng.IntN(61)-30, rng.IntN(41)-20)
			hint := Copy{Dst: src.Add(d), Src: src.Min}
			if rng.IntN(2) == 0 {
				hint.Src = hint.Src.Add(image.Pt(rng.IntN(9)-4, 0)) // a wrong hint
			}
			fb.UpdateIn([]image.Rectangle{src.Add(d).Union(src), spot}, []Copy{hint}, func(img *Image) []image.Rectangle {
				dst := src.Add(d).Intersect(img.Bounds())
				img.move(dst.Intersect(img.Bounds().Add(d)), dst.Intersect(img.Bounds().Add(d)).Min.Sub(d))
				img.Fill(spot, colour)
				return []image.Rectangle{src.Add(d).Union(src).Intersect(img.Bounds()), spot}
			})
		default:
			r := randRect()
			fb.UpdateIn([]image.Rectangle{r, spot}, nil, func(img *Image) []image.Rectangle {
				for y := r.Min.Y; y < r.Max.Y; y += 1 + rng.IntN(4) {
					img.Fill(image.Rect(r.Min.X, y, r.Max.X, y+1), rng.Uint32()&0xffffff)
				}
				img.Fill(spot, colour)
				return []image.Rectangle{r, spot}
			})
		}
		fb.Update(func(img *Image) []image.Rectangle {
			img.Fill(spot, colour)
			return []image.Rectangle{spot}
		})
		if step%5 != 4 && rng.IntN(2) == 0 {
			read(fast, step, spot.Union(randRect())) // a part of the screen
		} else {
			read(fast, step, full)
		}
		if step%5 == 4 {
			read(slow, step, full)
			fb.mu.RLock()
			for s := range fb.subs {
				s.mu.Lock()
				n := s.client.kept()
				s.mu.Unlock()
				if n != 0 {
					t.Errorf("step %d: a connection keeps %d blocks after its client is up to date", step, n)
				}
			}
			fb.mu.RUnlock()
		}
	}
}
