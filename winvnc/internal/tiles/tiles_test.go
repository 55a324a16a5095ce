package tiles

import (
	"image"
	"math/rand/v2"
	"testing"
)

// Whatever the damage, Snap and Join cover all of it with at most limit
// rectangles inside the bounds.
func TestSnapCoversWithinLimit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := image.Rect(0, 0, 1000, 700)
	for range 200 {
		var rs []image.Rectangle
		for range r.IntN(400) {
			x, y := r.IntN(1000), r.IntN(700)
			rs = append(rs, image.Rect(x, y, x+1+r.IntN(90), y+1+r.IntN(90)))
		}
		limit := 1 + r.IntN(40)
		got := Snap(rs, b, limit)
		if len(got) > limit {
			t.Fatalf("%d rectangles, limit %d", len(got), limit)
		}
		for _, d := range rs {
			d = d.Intersect(b)
			for y := d.Min.Y; y < d.Max.Y; y += 7 {
				for x := d.Min.X; x < d.Max.X; x += 7 {
					if !covered(got, image.Pt(x, y)) {
						t.Fatalf("%v not covered by %v", image.Pt(x, y), got)
					}
				}
			}
		}
		for _, g := range got {
			if !g.In(b) {
				t.Fatalf("%v outside %v", g, b)
			}
		}
	}
}

func covered(rs []image.Rectangle, p image.Point) bool {
	for _, r := range rs {
		if p.In(r) {
			return true
		}
	}
	return false
}

// Diff finds exactly the tiles that differ, joined into runs.
func TestDiff(t *testing.T) {
	const w, h = 200, 130
	prev := make([]byte, w*h*4)
	cur := make([]byte, w*h*4)
	if got := Diff(cur, prev, w*4, w, h, 10); got != nil {
		t.Fatalf("no change gave %v", got)
	}
	cur[(70*w+130)*4] = 1 // tile (2, 1)
	cur[(5*w+5)*4] = 1    // tile (0, 0)
	got := Diff(cur, prev, w*4, w, h, 10)
	want := []image.Rectangle{image.Rect(0, 0, 64, 64), image.Rect(128, 64, 192, 128)}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Diff = %v, want %v", got, want)
	}
}
