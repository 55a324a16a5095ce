package rfb

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestGradientErrorMatches: the platform's gradientError (SSE2 on amd64)
// sums the same as the Go form, for every row length up to 40 pixels,
// over random pixels and the extremes 0 and 255.
func TestGradientErrorMatches(t *testing.T) {
	img := randomImage(41, 3, 7)
	flat := NewImage(41, 2)
	for i := range flat.Pix {
		if i/4%3 == 1 {
			flat.Pix[i] = 0xff
		}
	}
	for _, m := range []*Image{img, flat} {
		for w := 0; w <= 40; w++ {
			for x0 := range 2 {
				row := m.Pix[m.Stride+x0*4:][: w*4 : w*4]
				up := m.Pix[x0*4:][: w*4 : w*4]
				if g, a := gradientErrorGo(row, up), gradientError(row, up); g != a {
					t.Fatalf("%d pixels from %d: Go %d, platform %d", w, x0, g, a)
				}
				if g, a := gradientErrorGo(up, row), gradientError(up, row); g != a {
					t.Fatalf("%d pixels from %d, upside down: Go %d, platform %d", w, x0, g, a)
				}
			}
		}
	}
}

// TestRepeatsMatches: the platform's countRepeats (SSE2 on amd64) counts the
// same as the Go form, for every row length up to 40 pixels, over pixels
// that repeat at random and differ at random in one component or only in
// the padding byte.
func TestRepeatsMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	row := make([]byte, 41*4)
	for round := range 200 {
		repeatingRow(rng, row)
		for w := 0; w <= 40; w++ {
			for x0 := range 2 {
				r := row[x0*4:][: w*4 : w*4]
				if g, a := countRepeatsGo(r), countRepeats(r); g != a {
					t.Fatalf("round %d, %d pixels from %d: Go %d, platform %d", round, w, x0, g, a)
				}
			}
		}
	}
}

// repeatingRow fills row (4 bytes a pixel) with pixels that repeat
// their left neighbour at random and differ at random in one component
// or only in the padding byte.
func repeatingRow(rng *rand.Rand, row []byte) {
	for x := 4; x < len(row); x += 4 {
		copy(row[x:x+4], row[x-4:x])
		switch rng.IntN(4) {
		case 0:
			row[x+rng.IntN(3)] ^= byte(1 + rng.IntN(255))
		case 1:
			row[x+3] = byte(rng.Uint32())
		}
	}
}

// TestGradientRow24Matches: the platform's gradientRow24 (SSE2 on amd64)
// filters to the same bytes as the Go form, for every row length up to
// 40 pixels, below zeros (a rectangle's first row) or another row, over
// random pixels, the extremes 0 and 255 (where the prediction clamps),
// and touches no byte of out past the row's.
func TestGradientRow24Matches(t *testing.T) {
	img := randomImage(41, 3, 9)
	flat := NewImage(41, 3)
	for i := range flat.Pix {
		if i/4%3 != 1 && i/img.Stride != 1 {
			flat.Pix[i] = 0xff
		}
	}
	zero := make([]byte, 41*4)
	want, got := make([]byte, 41*3+8), make([]byte, 41*3+8)
	for _, m := range []*Image{img, flat} {
		for w := 0; w <= 40; w++ {
			for x0 := range 2 {
				row := m.Pix[m.Stride+x0*4:][: w*4 : w*4]
				for _, up := range [][]byte{zero[:w*4], m.Pix[x0*4:][: w*4 : w*4], m.Pix[2*m.Stride+x0*4:][: w*4 : w*4]} {
					for i := range want {
						want[i], got[i] = 0xa5, 0xa5
					}
					gradientRow24Go(want[:w*3], row, up)
					gradientRow24(got[:w*3], row, up)
					if !bytes.Equal(got, want) {
						t.Fatalf("%d pixels from %d:\n got  %x\n want %x", w, x0, got, want)
					}
				}
			}
		}
	}
}
