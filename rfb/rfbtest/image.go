package rfbtest

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"time"
)

// rgbAt returns the 8-bit red, green and blue of the pixel at (x, y),
// ignoring alpha. *image.RGBA and *image.NRGBA are read as stored, because
// captures are opaque and some tools leave alpha at 0; other images go
// through color.NRGBAModel.
func rgbAt(img image.Image, x, y int) (r, g, b uint8) {
	switch m := img.(type) {
	case *image.RGBA:
		i := m.PixOffset(x, y)
		return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
	case *image.NRGBA:
		i := m.PixOffset(x, y)
		return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
	}
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	return c.R, c.G, c.B
}

// opaque copies img into a new opaque *image.RGBA with the same bounds,
// keeping each pixel's RGB as rgbAt reads it.
func opaque(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl := rgbAt(img, x, y)
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = r, g, bl, 0xff
		}
	}
	return out
}

// Diff compares the 8-bit RGB of a (got) and b (want) pixel by pixel, each
// taken relative to its own Bounds().Min, and ignores alpha. It returns the
// number of differing pixels, the first one in row order (relative to Min),
// and a one-line description for a failure message; n is 0 and detail empty
// when the images match. When the sizes differ, every pixel outside the
// common area counts as different.
func Diff(a, b image.Image) (n int, first image.Point, detail string) {
	ab, bb := a.Bounds(), b.Bounds()
	w, h := min(ab.Dx(), bb.Dx()), min(ab.Dy(), bb.Dy())
	first = image.Point{-1, -1}
	var maxDelta int
	var firstGot, firstWant [3]uint8
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r1, g1, b1 := rgbAt(a, ab.Min.X+x, ab.Min.Y+y)
			r2, g2, b2 := rgbAt(b, bb.Min.X+x, bb.Min.Y+y)
			if r1 == r2 && g1 == g2 && b1 == b2 {
				continue
			}
			if n == 0 {
				first = image.Point{x, y}
				firstGot, firstWant = [3]uint8{r1, g1, b1}, [3]uint8{r2, g2, b2}
			}
			n++
			maxDelta = max(maxDelta, absDiff(r1, r2), absDiff(g1, g2), absDiff(b1, b2))
		}
	}
	sizeNote := ""
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		n += ab.Dx()*ab.Dy() + bb.Dx()*bb.Dy() - 2*w*h
		sizeNote = fmt.Sprintf("size %dx%d, want %dx%d; ", ab.Dx(), ab.Dy(), bb.Dx(), bb.Dy())
		if first.X < 0 {
			// Everything in common matches: the first difference is where
			// the larger image goes on.
			if w < max(ab.Dx(), bb.Dx()) {
				first = image.Point{w, 0}
			} else {
				first = image.Point{0, h}
			}
		}
	}
	if n == 0 {
		return 0, image.Point{}, ""
	}
	if maxDelta == 0 {
		return n, first, fmt.Sprintf("%sthe common %dx%d area matches", sizeNote, w, h)
	}
	return n, first, fmt.Sprintf("%s%d of %d pixels differ; first at (%d,%d): got #%02x%02x%02x, want #%02x%02x%02x; max channel delta %d",
		sizeNote, n, max(ab.Dx()*ab.Dy(), bb.Dx()*bb.Dy()), first.X, first.Y,
		firstGot[0], firstGot[1], firstGot[2], firstWant[0], firstWant[1], firstWant[2], maxDelta)
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// PSNR returns the peak signal-to-noise ratio in dB between a and b over the
// 8-bit R, G and B channels (alpha ignored): +Inf for identical images, 0
// when the sizes differ. Lossy encodings (Tight JPEG) are judged by it.
func PSNR(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		return 0
	}
	var sum float64
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1 := rgbAt(a, ab.Min.X+x, ab.Min.Y+y)
			r2, g2, b2 := rgbAt(b, bb.Min.X+x, bb.Min.Y+y)
			for _, d := range [3]int{int(r1) - int(r2), int(g1) - int(g2), int(b1) - int(b2)} {
				sum += float64(d * d)
			}
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	mse := sum / float64(3*ab.Dx()*ab.Dy())
	return 10 * math.Log10(255*255/mse)
}

// Quantize returns an opaque copy of img with each channel reduced to
// 0..max and expanded back to 0..255, both steps rounded to nearest:
// v = round(c*max/255), c' = round(v*255/max). Compare a low-colour viewer or
// display (max 31, 63, 31 for RGB565; 7, 7, 3 for BGR233) with
// Quantize(want, …). Each max must be in 1..255.
func Quantize(img image.Image, rmax, gmax, bmax int) *image.RGBA {
	var tables [3][256]uint8
	for i, m := range [3]int{rmax, gmax, bmax} {
		if m < 1 || m > 255 {
			panic(fmt.Sprintf("rfbtest.Quantize: channel max %d out of range 1..255", m))
		}
		for c := range 256 {
			v := (c*m + 127) / 255
			tables[i][c] = uint8((v*255 + m/2) / m)
		}
	}
	out := opaque(img)
	for i := 0; i < len(out.Pix); i += 4 {
		out.Pix[i] = tables[0][out.Pix[i]]
		out.Pix[i+1] = tables[1][out.Pix[i+1]]
		out.Pix[i+2] = tables[2][out.Pix[i+2]]
	}
	return out
}

// pollInterval is how often WaitForImage captures.
const pollInterval = 100 * time.Millisecond

// WaitForImage captures every 100 ms until compare(got, want) holds or ctx
// is done. A nil compare means an exact RGB match (Diff reports 0). On
// success it returns the matching capture; otherwise the last successful
// capture (nil if there was none) and an error with Diff's description of
// it and, if the very last capture failed, that error.
func WaitForImage(ctx context.Context, capture func() (*image.RGBA, error), want image.Image, compare func(got, want image.Image) bool) (*image.RGBA, error) {
	if compare == nil {
		compare = func(got, want image.Image) bool {
			n, _, _ := Diff(got, want)
			return n == 0
		}
	}
	var last *image.RGBA
	var lastErr error
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		got, err := capture()
		if err == nil && compare(got, want) {
			return got, nil
		}
		if err == nil {
			last = got
		}
		lastErr = err
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("rfbtest: image never matched (%v)", ctx.Err())
			if last != nil {
				_, _, detail := Diff(last, want)
				if detail == "" {
					detail = "RGB identical, but compare rejected it"
				}
				msg += ": " + detail
			}
			if lastErr != nil {
				return last, fmt.Errorf("%s; last capture failed: %w", msg, lastErr)
			}
			return last, fmt.Errorf("%s: %w", msg, ctx.Err())
		case <-tick.C:
		}
	}
}
