package x11

import (
	"image"
	"testing"
)

func TestConvertRows(t *testing.T) {
	// RGB565, little-endian: pure red, green, blue, white, and 0x0841 (1,2,1).
	f := pixelFormat{bpp: 16, pad: 32, rmask: 0xf800, gmask: 0x07e0, bmask: 0x001f}
	if f.native() || f.check() != nil {
		t.Fatal("565 format misjudged")
	}
	src := []byte{0x00, 0xf8, 0xe0, 0x07, 0x1f, 0x00, 0xff, 0xff, 0x41, 0x08, 0, 0}
	if s := f.stride(5); s != 12 {
		t.Fatalf("stride(5) = %d, want 12 (padded to 32 bits)", s)
	}
	dst := make([]byte, 5*4)
	f.convertRows(dst, 20, src, 12, 5, 1)
	want := []byte{
		0, 0, 255, 0,
		0, 255, 0, 0,
		255, 0, 0, 0,
		255, 255, 255, 0,
		8, 8, 8, 0, // 1/31 → 8, 2/63 → 8
	}
	if string(dst) != string(want) {
		t.Errorf("565 → %v, want %v", dst, want)
	}

	// Native: rows are copied, padding in the destination kept.
	n := pixelFormat{bpp: 32, pad: 32, rmask: 0xff0000, gmask: 0xff00, bmask: 0xff}
	if !n.native() {
		t.Fatal("native format misjudged")
	}
	src = []byte{1, 2, 3, 4, 5, 6, 7, 8}
	dst = make([]byte, 16) // 2 rows of 2 pixels, of which 1 is written
	n.convertRows(dst, 8, src, 4, 1, 2)
	if want := []byte{1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0}; string(dst) != string(want) {
		t.Errorf("native rows = %v, want %v", dst, want)
	}

	// 32 bpp big-endian (a MSBFirst server): bytes X R G B.
	be := pixelFormat{bpp: 32, pad: 32, bigEndian: true, rmask: 0xff0000, gmask: 0xff00, bmask: 0xff}
	if be.native() {
		t.Fatal("big-endian counted as native")
	}
	dst = make([]byte, 4)
	be.convertRows(dst, 4, []byte{0, 0x11, 0x22, 0x33}, 4, 1, 1)
	if string(dst) != "\x33\x22\x11\x00" {
		t.Errorf("big-endian → %v", dst)
	}
	if (pixelFormat{bpp: 24, rmask: 1, gmask: 2, bmask: 4}).check() == nil {
		t.Error("24 bpp accepted")
	}
	if (pixelFormat{bpp: 32}).check() == nil {
		t.Error("a visual without masks accepted")
	}
}

func TestCursorImage(t *testing.T) {
	// Opaque red, half-transparent premultiplied white (0x80808080), clear.
	img, hot := cursorImage([]uint32{0xffff0000, 0x80808080, 0}, 3, 1, 2, 0)
	if hot != image.Pt(2, 0) {
		t.Errorf("hotspot %v", hot)
	}
	want := []byte{255, 0, 0, 255, 255, 255, 255, 128, 0, 0, 0, 0}
	if string(img.Pix) != string(want) {
		t.Errorf("pixels %v, want %v", img.Pix, want)
	}
	// Short data does not panic.
	cursorImage([]uint32{1}, 4, 4, 0, 0)
}
