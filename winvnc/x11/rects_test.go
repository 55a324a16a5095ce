package x11

import (
	"image"
	"math/rand/v2"
	"testing"
)

// covers reports whether every point of every r in rs lies in some m of ms.
func covers(ms, rs []image.Rectangle) bool {
	for _, r := range rs {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				p := image.Pt(x, y)
				in := false
				for _, m := range ms {
					if p.In(m) {
						in = true
						break
					}
				}
				if !in {
					return false
				}
			}
		}
	}
	return true
}

func TestMergeRects(t *testing.T) {
	b := image.Rect(0, 0, 300, 200)
	few := []image.Rectangle{image.Rect(1, 1, 5, 5), image.Rect(-10, -10, 3, 3), image.Rect(400, 0, 500, 10), image.Rect(290, 190, 320, 220)}
	got := mergeRects(few, b, 8)
	want := []image.Rectangle{image.Rect(1, 1, 5, 5), image.Rect(0, 0, 3, 3), image.Rect(290, 190, 300, 200)}
	if len(got) != len(want) {
		t.Fatalf("few: got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("few: got %v, want %v", got, want)
		}
	}

	// A flood of 1-pixel rectangles on a diagonal and in one tile.
	var flood []image.Rectangle
	for i := range 200 {
		flood = append(flood, image.Rect(i, i, i+1, i+1), image.Rect(250+i%10, 5, 251+i%10, 6))
	}
	got = mergeRects(flood, b, 8)
	if len(got) > 8 {
		t.Errorf("flood: %d rects, want at most 8: %v", len(got), got)
	}
	if !covers(got, flood) {
		t.Errorf("flood: %v does not cover the damage", got)
	}
	for _, r := range got {
		if !r.In(b) {
			t.Errorf("flood: %v outside %v", r, b)
		}
	}

	// Random floods: always bounded, always covering, never overlapping.
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 50 {
		var rs []image.Rectangle
		for range 10 + n*10 {
			x, y := rng.IntN(300), rng.IntN(200)
			rs = append(rs, image.Rect(x, y, x+1+rng.IntN(40), y+1+rng.IntN(40)))
		}
		max := 1 + rng.IntN(40)
		got := mergeRects(rs, b, max)
		rows := (b.Dy() + tileSize - 1) / tileSize
		if len(got) > max && len(got) > rows {
			t.Fatalf("random %d: %d rects for max %d", n, len(got), max)
		}
		clipped := make([]image.Rectangle, len(rs))
		for i, r := range rs {
			clipped[i] = r.Intersect(b)
		}
		if !covers(got, clipped) {
			t.Fatalf("random %d: not covered", n)
		}
		if len(rs) > max {
			for i := range got {
				for j := range i {
					if got[i].Overlaps(got[j]) {
						t.Fatalf("random %d: %v overlaps %v", n, got[i], got[j])
					}
				}
			}
		}
	}
}

func TestRunsMergeVertically(t *testing.T) {
	// Tiles (0,0) (1,0) (0,1) (1,1) (3,1) marked in a 4x2 grid.
	marked := []bool{true, true, false, false, true, true, false, true}
	got := runs(marked, 4, 2, image.Rect(0, 0, 250, 100))
	want := []image.Rectangle{image.Rect(0, 0, 128, 100), image.Rect(192, 64, 250, 100)}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("runs = %v, want %v", got, want)
	}
}

func TestDiffTiles(t *testing.T) {
	const w, h = 200, 130
	prev := make([]byte, w*h*4)
	cur := make([]byte, w*h*4)
	if got := diffTiles(cur, prev, w*4, w, h); got != nil {
		t.Fatalf("equal images: %v", got)
	}
	cur[(70*w+199)*4] = 1 // tile (3,1), the partial right column
	cur[(129*w+0)*4+2] = 9
	got := diffTiles(cur, prev, w*4, w, h)
	want := []image.Rectangle{image.Rect(192, 64, 200, 128), image.Rect(0, 128, 64, 130)}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("diffTiles = %v, want %v", got, want)
	}
}

func BenchmarkDiffTiles1080p(b *testing.B) {
	const w, h = 1920, 1080
	prev := make([]byte, w*h*4)
	cur := make([]byte, w*h*4)
	b.SetBytes(w * h * 4)
	for b.Loop() {
		diffTiles(cur, prev, w*4, w, h)
	}
}

func TestIsApp(t *testing.T) {
	for _, tc := range []struct {
		title    string
		override bool
		types    []string
		states   []string
		want     bool
	}{
		{"xterm", false, nil, nil, true},
		{"Save as", false, []string{"_NET_WM_WINDOW_TYPE_DIALOG"}, nil, true},
		{"Editor", false, []string{"_NET_WM_WINDOW_TYPE_NORMAL"}, []string{"_NET_WM_STATE_MAXIMIZED_VERT"}, true},
		{"", false, nil, nil, false},
		{"tooltip", true, nil, nil, false},
		{"panel", false, []string{"_NET_WM_WINDOW_TYPE_DOCK"}, nil, false},
		{"Desktop", false, []string{"_NET_WM_WINDOW_TYPE_DESKTOP"}, nil, false},
		{"tool", false, []string{"_NET_WM_WINDOW_TYPE_UTILITY"}, nil, false},
		{"osd", false, nil, []string{"_NET_WM_STATE_SKIP_TASKBAR"}, false},
	} {
		if got := isApp(tc.title, tc.override, tc.types, tc.states); got != tc.want {
			t.Errorf("isApp(%q, %v, %v, %v) = %v", tc.title, tc.override, tc.types, tc.states, got)
		}
	}
}
