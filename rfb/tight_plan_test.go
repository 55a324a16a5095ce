package rfb

import (
	"encoding/binary"
	"image"
	"math/rand/v2"
	"testing"

	"lifebuoy/rfb/internal/workload"
)

// coloursOver is the colour count photoLike had before manyColours, kept
// as the reference: a 64-slot hash set, a pixel at a time.
func coloursOver(img *Image, t image.Rectangle, limit int) bool {
	var keys [64]uint32
	var used [64]bool
	w, colours := t.Dx(), 0
	for y := t.Min.Y; y < t.Max.Y && colours <= limit; y++ {
		row := img.Pix[y*img.Stride+t.Min.X*4:][: w*4 : w*4]
		for x := 0; x < len(row) && colours <= limit; x += 4 {
			c := binary.LittleEndian.Uint32(row[x:]) & 0xffffff
			k := (c * 0x9E3779B1) >> 26
			for used[k] && keys[k] != c {
				k = (k + 1) & 63
			}
			if !used[k] {
				used[k], keys[k] = true, c
				colours++
			}
		}
	}
	return colours > limit
}

// planTestImages are pictures of every kind the tile judge meets: text,
// UI, palettes, noise, a desktop, the workloads' frames, and tiles of a
// few colours dithered, smooth or soft.
func planTestImages(t *testing.T) map[string]*Image {
	imgs := map[string]*Image{
		"text":    synthText(160, 96, 1),
		"palette": synthPalette(160, 96, 2),
		"noise":   synthNoise(160, 96, 3),
		"desktop": synthDesktop(320, 200, 4),
		"random":  randomImage(160, 96, 5),
	}
	for _, name := range workload.Names {
		w, err := workload.New(name, 320, 200)
		if err != nil {
			t.Fatal(err)
		}
		w.Next()
		m := NewImage(320, 200)
		copy(m.Pix, w.Frame.Pix)
		imgs["workload "+name] = m
	}
	// Tiles of 1 to 40 colours: scattered, in runs, and as soft steps
	// of 0 to 9 levels, with random padding bytes throughout.
	rng := rand.New(rand.NewPCG(6, 7))
	for _, kind := range []string{"scattered", "runs", "steps"} {
		m := NewImage(40*16, 32)
		for tx := range 40 {
			pal := make([]uint32, tx+1)
			for i := range pal {
				pal[i] = rng.Uint32()
			}
			for y := range 32 {
				for x := range 16 {
					var c uint32
					switch kind {
					case "scattered":
						c = pal[rng.IntN(len(pal))]
					case "runs":
						c = pal[(x/3+y/2*5)%len(pal)]
					case "steps":
						d := uint32(rng.IntN(10)) * uint32(x%2+y%3)
						c = pal[0] + d | d<<8 | (d>>1)<<16
					}
					binary.LittleEndian.PutUint32(m.Pix[y*m.Stride+(tx*16+x)*4:], c&0xffffff|rng.Uint32()<<24)
				}
			}
		}
		imgs["tiles "+kind] = m
	}
	return imgs
}

// eachTile calls f for each 16x16 tile of img on the grid from off, cut
// to the image, and for some tiles of odd sizes at odd places.
func eachTile(img *Image, off image.Point, rng *rand.Rand, f func(r image.Rectangle)) {
	for y := -off.Y; y < img.H; y += tightTile {
		for x := -off.X; x < img.W; x += tightTile {
			f(image.Rect(x, y, x+tightTile, y+tightTile).Intersect(img.Bounds()))
			x0, y0 := rng.IntN(img.W), rng.IntN(img.H)
			f(image.Rect(x0, y0, x0+1+rng.IntN(tightTile), y0+1+rng.IntN(tightTile)).Intersect(img.Bounds()))
		}
	}
}

// TestManyColoursMatches: manyColours decides as the former hash set
// did, at every limit photoLike uses, on every kind of picture.
func TestManyColoursMatches(t *testing.T) {
	var s tightTileScratch
	rng := rand.New(rand.NewPCG(8, 9))
	for name, img := range planTestImages(t) {
		for _, off := range []image.Point{{}, {5, 3}} {
			eachTile(img, off, rng, func(r image.Rectangle) {
				for _, limit := range []int{3, 12, 24} {
					if r.Empty() {
						continue
					}
					if want, got := coloursOver(img, r, limit), s.manyColours(img, r, limit); got != want {
						t.Fatalf("%s, tile %v, limit %d: more colours %v, want %v", name, r, limit, got, want)
					}
				}
			})
		}
	}
}

// TestNewPixelsMatches: the platform's newPixels (SSE2 on amd64) marks
// the same pixels as the Go form, for every row length up to 32 pixels,
// with and without a row above, over pixels that repeat at random and
// differ at random in one component or only in the padding byte.
func TestNewPixelsMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	row, up := make([]byte, 33*4), make([]byte, 33*4)
	for round := range 300 {
		repeatingRow(rng, row)
		for x := 0; x < len(up); x += 4 {
			copy(up[x:x+4], row[x:x+4])
			switch rng.IntN(3) {
			case 0:
				up[x+rng.IntN(3)] ^= byte(1 + rng.IntN(255))
			case 1:
				up[x+3] ^= byte(1 + rng.IntN(255))
			}
		}
		for w := 0; w <= 32; w++ {
			for x0 := range 2 {
				r, u := row[x0*4:][:w*4:w*4], up[x0*4:][:w*4:w*4]
				if g, a := newPixelsGo(r, u), newPixels(r, u); g != a {
					t.Fatalf("round %d, %d pixels from %d: Go %b, platform %b", round, w, x0, g, a)
				}
				if g, a := newPixelsGo(r, nil), newPixels(r, nil); g != a {
					t.Fatalf("round %d, %d pixels from %d, first row: Go %b, platform %b", round, w, x0, g, a)
				}
			}
		}
	}
}

// softTestImage is w×h pixels that are soft but for the odd step: each
// channel a step of 0 to tightSoftStep+1 from its left or upper
// neighbour, clamped at 0 and 255 (where most steps start), with random
// padding bytes; uniform patches too.
func softTestImage(w, h int, rng *rand.Rand) *Image {
	m := NewImage(w, h)
	for y := range h {
		for x := range w {
			i := y*m.Stride + x*4
			var from []byte
			switch {
			case x > 0 && (y == 0 || rng.IntN(2) == 0):
				from = m.Pix[i-4 : i]
			case y > 0:
				from = m.Pix[i-m.Stride : i-m.Stride+4]
			default:
				from = []byte{0, 255, byte(rng.IntN(256)), 0}
			}
			for c := range 3 {
				v := int(from[c])
				switch rng.IntN(12) {
				case 0:
					v += tightSoftStep + 1
				case 1:
					v -= tightSoftStep + 1
				case 2, 3:
					v += rng.IntN(2*tightSoftStep+1) - tightSoftStep
				case 4:
					v += tightSoftStep
				case 5:
					v -= tightSoftStep
				}
				m.Pix[i+c] = byte(min(max(v, 0), 255))
			}
			m.Pix[i+3] = byte(rng.Uint32())
		}
	}
	for range 6 {
		x, y := rng.IntN(w), rng.IntN(h)
		m.Fill(image.Rect(x, y, x+2+rng.IntN(20), y+2+rng.IntN(20)), rng.Uint32()&0xffffff)
	}
	return m
}

// TestTileSoftMatches: the platform's tightTileSoft (SSE2 on amd64)
// judges as the Go form on tiles of every width and height up to 16
// (and 17 to 33 wide), at odd places, of pictures that are soft but for
// steps of exactly tightSoftStep+1, on the planning pictures, and on
// tiles that are all 0 or 255 but for one pixel.
func TestTileSoftMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(name string, img *Image, r image.Rectangle) {
		t.Helper()
		gs, gu := tightTileSoftGo(img, r)
		if s, u := tightTileSoft(img, r); s != gs || u != gu {
			t.Fatalf("%s, tile %v: soft %v uniform %v, Go %v %v", name, r, s, u, gs, gu)
		}
	}
	soft := 0
	for round := range 40 {
		img := softTestImage(48, 40, rng)
		for w := 1; w <= 33; w++ {
			for h := 1; h <= tightTile; h++ {
				x, y := rng.IntN(img.W-w+1), rng.IntN(img.H-h+1)
				r := image.Rect(x, y, x+w, y+h)
				check("soft picture", img, r)
				if s, _ := tightTileSoftGo(img, r); s && w > 4 && h > 1 {
					soft++
				}
			}
		}
		for _, v := range []byte{0, 255} {
			flat := NewImage(16, 16)
			for i := range flat.Pix {
				flat.Pix[i] = v
			}
			i := rng.IntN(256) * 4
			flat.Pix[i+rng.IntN(4)] = v ^ byte(tightSoftStep+round%3)
			check("flat", flat, flat.Bounds())
			check("flat", flat, image.Rect(1, 0, 16, 16))
		}
	}
	if soft < 100 {
		t.Fatalf("only %d soft tiles wider than 4 pixels: the test pictures are too rough", soft)
	}
	for name, img := range planTestImages(t) {
		eachTile(img, image.Pt(3, 1), rng, func(r image.Rectangle) { check(name, img, r) })
	}
}

// FuzzTilePlan: the platform's tile judges agree with their Go forms on
// any tile: the fuzzer's bytes are the pixels, its numbers the tile.
func FuzzTilePlan(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 9, 9, 9, 0}, uint8(16), uint8(16), uint8(0))
	f.Add([]byte{255, 255, 255, 1, 247, 255, 255, 2, 246, 255, 255, 3}, uint8(7), uint8(5), uint8(1))
	f.Fuzz(func(t *testing.T, seed []byte, w, h, x0 uint8) {
		if len(seed) == 0 {
			return
		}
		img := NewImage(34, 18)
		for i := range img.Pix {
			img.Pix[i] = seed[i%len(seed)] + byte(i/len(seed))
		}
		r := image.Rect(int(x0%8), 0, int(x0%8)+1+int(w%33), 1+int(h%17)).Intersect(img.Bounds())
		gs, gu := tightTileSoftGo(img, r)
		if s, u := tightTileSoft(img, r); s != gs || u != gu {
			t.Fatalf("tile %v: soft %v uniform %v, Go %v %v", r, s, u, gs, gu)
		}
		row := img.Pix[img.Stride+r.Min.X*4:][: r.Dx()*4 : r.Dx()*4]
		up := img.Pix[r.Min.X*4:][: r.Dx()*4 : r.Dx()*4]
		if g, a := newPixelsGo(row, up), newPixels(row, up); g != a {
			t.Fatalf("row of %d: Go %b, platform %b", r.Dx(), g, a)
		}
		if r.Dx() <= tightTile && r.Dy() <= tightTile {
			var s tightTileScratch
			for _, limit := range []int{3, 24} {
				if want, got := coloursOver(img, r, limit), s.manyColours(img, r, limit); got != want {
					t.Fatalf("tile %v, limit %d: more colours %v, want %v", r, limit, got, want)
				}
			}
		}
	})
}
