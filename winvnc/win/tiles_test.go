package win

import (
	"image"
	"image/color"
	"math/rand/v2"
	"slices"
	"testing"

	"lifebuoy/rfb"
)

func frame(w, h int) ([]byte, int) { return make([]byte, w*h*4), w * 4 }

func poke(pix []byte, stride, x, y int) { pix[y*stride+x*4+1]++ }

func TestDiffTilesNone(t *testing.T) {
	a, stride := frame(200, 100)
	b := slices.Clone(a)
	if rs := diffTiles(a, b, stride, 200, 100, maxRects); rs != nil {
		t.Errorf("no change gave %v", rs)
	}
}

func TestDiffTiles(t *testing.T) {
	const w, h = 200, 150 // 4×3 tiles, the last column 8 wide, the last row 22 high
	for _, tc := range []struct {
		name   string
		pixels []image.Point
		want   []image.Rectangle
	}{
		{"one pixel", []image.Point{{70, 10}}, []image.Rectangle{image.Rect(64, 0, 128, 64)}},
		{"bottom right corner clipped", []image.Point{{199, 149}}, []image.Rectangle{image.Rect(192, 128, 200, 150)}},
		{"horizontal run", []image.Point{{0, 0}, {100, 5}}, []image.Rectangle{image.Rect(0, 0, 128, 64)}},
		{"vertical run", []image.Point{{130, 0}, {130, 100}, {130, 140}}, []image.Rectangle{image.Rect(128, 0, 192, 150)}},
		{"two apart", []image.Point{{0, 0}, {150, 0}}, []image.Rectangle{image.Rect(0, 0, 64, 64), image.Rect(128, 0, 192, 64)}},
	} {
		prev, stride := frame(w, h)
		cur := slices.Clone(prev)
		for _, p := range tc.pixels {
			poke(cur, stride, p.X, p.Y)
		}
		got := diffTiles(cur, prev, stride, w, h, maxRects)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDiffTilesBounded changes a checkerboard of tiles (the worst case for
// joining) and checks the count limit and that every change is covered.
func TestDiffTilesBounded(t *testing.T) {
	const w, h = 1920, 1080
	prev, stride := frame(w, h)
	cur := slices.Clone(prev)
	var changed []image.Point
	for ty := 0; ty*tileSize < h; ty++ {
		for tx := 0; tx*tileSize < w; tx++ {
			if (tx+ty)%2 == 0 {
				p := image.Pt(tx*tileSize+7, min(ty*tileSize+9, h-1))
				poke(cur, stride, p.X, p.Y)
				changed = append(changed, p)
			}
		}
	}
	for _, limit := range []int{1000, maxRects, 10, 1} {
		rs := diffTiles(cur, prev, stride, w, h, limit)
		if len(rs) == 0 || len(rs) > limit {
			t.Errorf("limit %d: %d rectangles", limit, len(rs))
		}
		for _, p := range changed {
			if !slices.ContainsFunc(rs, func(r image.Rectangle) bool { return p.In(r) }) {
				t.Errorf("limit %d: change at %v not covered", limit, p)
				break
			}
		}
		for _, r := range rs {
			if !r.In(image.Rect(0, 0, w, h)) {
				t.Errorf("limit %d: %v outside the screen", limit, r)
			}
		}
	}
	if rs := diffTiles(cur, prev, stride, w, h, 1000); len(rs) != 255 {
		t.Errorf("unbounded checkerboard: %d rectangles, want 255", len(rs))
	}
}

func TestDiffTilesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		w, h := 1+rng.IntN(300), 1+rng.IntN(300)
		prev, stride := frame(w, h)
		cur := slices.Clone(prev)
		var ps []image.Point
		for range rng.IntN(20) {
			p := image.Pt(rng.IntN(w), rng.IntN(h))
			poke(cur, stride, p.X, p.Y)
			ps = append(ps, p)
		}
		rs := diffTiles(cur, prev, stride, w, h, 4)
		if len(rs) > 4 || (len(ps) == 0) != (rs == nil) {
			t.Fatalf("%dx%d: %v for %v", w, h, rs, ps)
		}
		for _, p := range ps {
			if !slices.ContainsFunc(rs, func(r image.Rectangle) bool { return p.In(r) }) {
				t.Fatalf("%dx%d: %v not covered by %v", w, h, p, rs)
			}
		}
		// After copying the changes the frames are equal.
		img := rfb.NewImage(w, h)
		copyFrame(img, prev, cur, stride, rs)
		if !slices.Equal(prev, cur) {
			t.Fatalf("%dx%d: previous frame not updated", w, h)
		}
	}
}

// TestCopyRect copies part of a B, G, R, X DIB into an rfb.Image and reads
// the colours back through image.Image.
func TestCopyRect(t *testing.T) {
	const w, h = 10, 6
	dib, stride := frame(w, h)
	for y := range h {
		for x := range w {
			i := y*stride + x*4
			dib[i], dib[i+1], dib[i+2] = byte(x), byte(y), 0xc0 // B, G, R
		}
	}
	img := rfb.NewImage(w, h)
	r := image.Rect(2, 1, 7, 4)
	copyRect(img.Pix, img.Stride, dib, stride, r)
	for y := range h {
		for x := range w {
			want := color.RGBA{0, 0, 0, 0xff}
			if image.Pt(x, y).In(r) {
				want = color.RGBA{0xc0, byte(y), byte(x), 0xff}
			}
			if got := img.At(x, y); got != want {
				t.Fatalf("(%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

func TestCursorMonochrome(t *testing.T) {
	const w, h = 32, 2
	stride := (w + 31) / 32 * 4
	mask := make([]byte, stride*2*h) // AND rows 0-1, XOR rows 2-3
	set := func(row, x int) { mask[row*stride+x/8] |= 0x80 >> (x % 8) }
	// Row 0: x0 AND0 XOR0 black; x1 AND0 XOR1 white; x2 AND1 XOR0 clear; x3 AND1 XOR1 invert.
	set(2, 1)
	set(0, 2)
	set(0, 3)
	set(2, 3)
	for x := 4; x < w; x++ {
		set(0, x) // the rest transparent
		set(1, x)
	}
	set(1, 0)
	set(1, 1)
	set(1, 2)
	set(1, 3)
	img := cursorImage(nil, mask, w, h)
	for _, tc := range []struct {
		x, y int
		want color.NRGBA
	}{
		{0, 0, color.NRGBA{0, 0, 0, 0xff}},
		{1, 0, color.NRGBA{0xff, 0xff, 0xff, 0xff}},
		{2, 0, color.NRGBA{}},
		{3, 0, color.NRGBA{0, 0, 0, 0xff}},
		{10, 0, color.NRGBA{}},
		{0, 1, color.NRGBA{}},
	} {
		if got := img.NRGBAAt(tc.x, tc.y); got != tc.want {
			t.Errorf("(%d,%d) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}

func TestCursorColor(t *testing.T) {
	const w, h = 2, 1
	mask := []byte{0x40, 0, 0, 0} // AND: pixel 1 transparent
	bgra := []byte{0x10, 0x20, 0x30, 0, 0x40, 0x50, 0x60, 0}
	img := cursorImage(bgra, mask, w, h)
	if got := img.NRGBAAt(0, 0); got != (color.NRGBA{0x30, 0x20, 0x10, 0xff}) {
		t.Errorf("no alpha, AND 0: %v", got)
	}
	if got := img.NRGBAAt(1, 0); got.A != 0 {
		t.Errorf("no alpha, AND 1: %v", got)
	}
	// With alpha the alpha channel wins over the mask.
	bgra[3], bgra[7] = 0x80, 0xff
	img = cursorImage(bgra, mask, w, h)
	if got := img.NRGBAAt(0, 0); got != (color.NRGBA{0x30, 0x20, 0x10, 0x80}) {
		t.Errorf("alpha: %v", got)
	}
	if got := img.NRGBAAt(1, 0); got != (color.NRGBA{0x60, 0x50, 0x40, 0xff}) {
		t.Errorf("alpha over AND 1: %v", got)
	}
}

func TestIsAppWindow(t *testing.T) {
	for _, tc := range []struct {
		title, class string
		ex           uint32
		owned        bool
		want         bool
	}{
		{"Untitled - Notepad", "Notepad", 0, false, true},
		{"", "Shell_TrayWnd", 0, false, false},
		{"Program Manager", "Progman", 0, false, false},
		{"", "WorkerW", 0, false, false},
		{"", "SomeApp", 0, false, false},
		{"Palette", "Tool", wsExToolWindow, false, false},
		{"Toast", "Note", wsExNoActivate, false, false},
		{"Find", "#32770", 0, true, false},
		{"Owned with a button", "App", wsExAppWindow, true, true},
		{"Tool with a button", "App", wsExToolWindow | wsExAppWindow, false, true},
	} {
		if got := isAppWindow(tc.title, tc.class, tc.ex, tc.owned); got != tc.want {
			t.Errorf("isAppWindow(%q, %q, %#x, %v) = %v", tc.title, tc.class, tc.ex, tc.owned, got)
		}
	}
}

// A cursor is read once per change, and one whose image cannot be read is
// not read again at every poll.
func TestCursorTracker(t *testing.T) {
	var tr cursorTracker
	for i, tc := range []struct {
		handle     uintptr
		shown      bool
		read, hide bool
	}{
		{0x10, true, true, false},  // first: read
		{0x10, true, false, false}, // unchanged (also when its read failed)
		{0x10, true, false, false},
		{0x20, true, true, false},  // another cursor
		{0x20, false, false, true}, // hidden
		{0x20, false, false, false},
		{0, true, false, false},   // "shown" with no handle: still hidden
		{0x20, true, true, false}, // back
	} {
		read, hide := tr.observe(tc.handle, tc.shown)
		if read != tc.read || hide != tc.hide {
			t.Errorf("step %d (%#x, %v): read %v hide %v; want %v %v", i, tc.handle, tc.shown, read, hide, tc.read, tc.hide)
		}
	}
}
