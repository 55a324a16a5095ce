package rfb

import (
	"image"
	"image/color"
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
	var shadow *Image
	fb.take(s, fb.img.Bounds(), false, &shadow)
	if got := shadow.RGB(10, 10); got != 0xff0000 {
		t.Fatalf("shared pixel %06x", got)
	}
	if got := shadow.RGB(40, 10); got != 0x808080 {
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
