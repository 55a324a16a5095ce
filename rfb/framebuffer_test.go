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
