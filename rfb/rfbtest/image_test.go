package rfbtest

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"
	"testing"
	"time"
)

func uniform(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
	return img
}

func TestDiff(t *testing.T) {
	orange := color.RGBA{0xff, 0x80, 0x00, 0xff}
	base := uniform(4, 3, orange)

	twoOff := uniform(4, 3, orange)
	twoOff.Set(2, 1, color.RGBA{0xff, 0x81, 0x00, 0xff})
	twoOff.Set(0, 2, color.RGBA{0x00, 0x80, 0x00, 0xff})

	alphaOnly := uniform(4, 3, orange)
	for i := 3; i < len(alphaOnly.Pix); i += 4 {
		alphaOnly.Pix[i] = 0 // RGB as stored, alpha ignored
	}

	nrgba := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	draw.Draw(nrgba, nrgba.Bounds(), image.NewUniform(orange), image.Point{}, draw.Src)

	// Same pixels at a different origin.
	offset := image.NewRGBA(image.Rect(10, 20, 14, 23))
	draw.Draw(offset, offset.Bounds(), image.NewUniform(orange), image.Point{}, draw.Src)

	tests := []struct {
		name      string
		got, want image.Image
		n         int
		first     image.Point
		detail    string // substring
	}{
		{"equal", base, uniform(4, 3, orange), 0, image.Point{}, ""},
		{"alpha ignored", alphaOnly, base, 0, image.Point{}, ""},
		{"other image type", nrgba, base, 0, image.Point{}, ""},
		{"origin ignored", offset, base, 0, image.Point{}, ""},
		{"two pixels", twoOff, base, 2, image.Point{2, 1}, "2 of 12 pixels differ; first at (2,1): got #ff8100, want #ff8000; max channel delta 255"},
		{"wider", uniform(5, 3, orange), base, 3, image.Point{4, 0}, "size 5x3, want 4x3; the common 4x3 area matches"},
		{"taller", base, uniform(4, 4, orange), 4, image.Point{0, 3}, "size 4x3, want 4x4"},
		{"size and pixels", twoOff, uniform(4, 2, orange), 5, image.Point{2, 1}, "size 4x3, want 4x2; 5 of 12 pixels differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, first, detail := Diff(tt.got, tt.want)
			if n != tt.n || first != tt.first {
				t.Errorf("Diff = %d, %v, want %d, %v (%s)", n, first, tt.n, tt.first, detail)
			}
			if tt.detail == "" && detail != "" || !strings.Contains(detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", detail, tt.detail)
			}
		})
	}
}

func TestPSNR(t *testing.T) {
	a := uniform(8, 8, color.RGBA{100, 100, 100, 255})
	if got := PSNR(a, a); !math.IsInf(got, 1) {
		t.Errorf("PSNR of equal images = %v, want +Inf", got)
	}
	if got := PSNR(a, uniform(8, 7, color.Black)); got != 0 {
		t.Errorf("PSNR of different sizes = %v, want 0", got)
	}
	// Every channel off by 1: MSE 1, PSNR 20*log10(255).
	b := uniform(8, 8, color.RGBA{101, 99, 101, 255})
	want := 20 * math.Log10(255)
	if got := PSNR(a, b); math.Abs(got-want) > 1e-9 {
		t.Errorf("PSNR off by one = %v, want %v", got, want)
	}
	// One channel of one pixel off by 255: MSE 255²/(3·64).
	c := uniform(8, 8, color.RGBA{100, 100, 100, 255})
	c.Pix[0] = 100 + 155
	d := uniform(8, 8, color.RGBA{100, 100, 100, 255})
	d.Pix[0] = 0
	mse := 255.0 * 255 / (3 * 64)
	want = 10 * math.Log10(255*255/mse)
	if got := PSNR(c, d); math.Abs(got-want) > 1e-9 {
		t.Errorf("PSNR = %v, want %v", got, want)
	}
	// Alpha does not count.
	e := uniform(8, 8, color.RGBA{100, 100, 100, 255})
	e.Pix[3] = 0
	if got := PSNR(a, e); !math.IsInf(got, 1) {
		t.Errorf("PSNR with only alpha differing = %v, want +Inf", got)
	}
}

func TestQuantize(t *testing.T) {
	tests := []struct {
		in         color.RGBA
		rmax, gmax int
		bmax       int
		want       color.RGBA
	}{
		{color.RGBA{0, 0, 0, 255}, 31, 63, 31, color.RGBA{0, 0, 0, 255}},
		{color.RGBA{255, 255, 255, 255}, 31, 63, 31, color.RGBA{255, 255, 255, 255}},
		// 0x80: 128*31/255 = 15.56 → 16 → 16*255/31 = 131.6 → 132;
		// 128*63/255 = 31.62 → 32 → 32*255/63 = 129.5 → 130.
		{color.RGBA{0xff, 0x80, 0x80, 255}, 31, 63, 31, color.RGBA{255, 130, 132, 255}},
		// 4*31/255 = 0.49 → 0; 5*31/255 = 0.61 → 1 → 8.2 → 8.
		{color.RGBA{4, 5, 4, 255}, 31, 31, 31, color.RGBA{0, 8, 0, 255}},
		// BGR233-like: 100 → 2.75 → 3 → 109; 200 → 5.49 → 5 → 182; 100 → 1.18 → 1 → 85.
		{color.RGBA{100, 200, 100, 255}, 7, 7, 3, color.RGBA{109, 182, 85, 255}},
		{color.RGBA{1, 2, 3, 0}, 255, 255, 255, color.RGBA{1, 2, 3, 255}},
	}
	for _, tt := range tests {
		img := image.NewRGBA(image.Rect(5, 5, 7, 6))
		img.SetRGBA(5, 5, tt.in)
		img.SetRGBA(6, 5, tt.in)
		q := Quantize(img, tt.rmax, tt.gmax, tt.bmax)
		if q.Bounds() != img.Bounds() {
			t.Fatalf("bounds %v, want %v", q.Bounds(), img.Bounds())
		}
		if got := q.RGBAAt(6, 5); got != tt.want {
			t.Errorf("Quantize(%v, %d,%d,%d) = %v, want %v", tt.in, tt.rmax, tt.gmax, tt.bmax, got, tt.want)
		}
	}

	// Quantizing twice changes nothing.
	ramp := image.NewRGBA(image.Rect(0, 0, 256, 1))
	for x := range 256 {
		ramp.SetRGBA(x, 0, color.RGBA{uint8(x), uint8(x), uint8(255 - x), 255})
	}
	for _, m := range [][3]int{{31, 63, 31}, {7, 7, 3}, {1, 1, 1}, {255, 255, 255}} {
		once := Quantize(ramp, m[0], m[1], m[2])
		if n, _, d := Diff(Quantize(once, m[0], m[1], m[2]), once); n != 0 {
			t.Errorf("Quantize %v not idempotent: %s", m, d)
		}
	}
}

func TestWaitForImage(t *testing.T) {
	want := uniform(2, 2, color.White)
	frames := []*image.RGBA{uniform(2, 2, color.Black), nil, want}
	i := 0
	capture := func() (*image.RGBA, error) {
		f := frames[min(i, len(frames)-1)]
		i++
		if f == nil {
			return nil, errors.New("not yet")
		}
		return f, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := WaitForImage(ctx, capture, want, nil)
	if err != nil || got != want {
		t.Fatalf("WaitForImage = %p, %v; want the matching frame", got, err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	black := uniform(2, 2, color.Black)
	got, err = WaitForImage(ctx, func() (*image.RGBA, error) { return black, nil }, want, nil)
	if got != black || err == nil || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "4 of 4 pixels differ") {
		t.Fatalf("WaitForImage = %p, %v; want the last frame and a diff", got, err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	_, err = WaitForImage(ctx, func() (*image.RGBA, error) { return nil, errors.New("xwd broke") }, want, nil)
	if err == nil || !strings.Contains(err.Error(), "xwd broke") {
		t.Fatalf("WaitForImage error = %v, want the capture error", err)
	}

	// A custom compare is used as given.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	anything := func(got, want image.Image) bool { return true }
	if got, err := WaitForImage(ctx, func() (*image.RGBA, error) { return black, nil }, want, anything); err != nil || got != black {
		t.Fatalf("WaitForImage with compare = %p, %v", got, err)
	}
}
