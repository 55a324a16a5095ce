package rfb

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"testing"
)

// decodeJPEG decodes with the standard library's decoder into an Image.
func decodeJPEG(t testing.TB, b []byte) (*Image, image.Image) {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("image/jpeg cannot decode it: %v", err)
	}
	return ImageFrom(m), m
}

// greyOf is the JFIF luma of img, as a grey picture.
func greyOf(img *Image) *Image {
	g := NewImage(img.W, img.H)
	for i := 0; i < len(img.Pix); i += 4 {
		y := byte((19595*int(img.Pix[i+2]) + 38470*int(img.Pix[i+1]) + 7471*int(img.Pix[i]) + 1<<15) >> 16)
		g.Pix[i], g.Pix[i+1], g.Pix[i+2] = y, y, y
	}
	return g
}

var jpegKinds = []struct {
	name string
	make func(w, h int, seed uint64) *Image
}{{"photo", tightPhoto}, {"text", tightText}, {"gradient", tightGradient}, {"noise", tightNoise}, {"desktop", tightDesktop}}

// TestFastJPEGRoundTrip decodes FastJPEG's output with image/jpeg for
// every subsampling, quality and odd size, and checks the picture.
func TestFastJPEGRoundTrip(t *testing.T) {
	subs := []struct {
		s     Subsampling
		ratio image.YCbCrSubsampleRatio
	}{{Subsample444, image.YCbCrSubsampleRatio444}, {Subsample422, image.YCbCrSubsampleRatio422}, {Subsample420, image.YCbCrSubsampleRatio420}, {SubsampleGray, 0}}
	for _, k := range jpegKinds {
		for _, sz := range []image.Point{{1, 1}, {7, 9}, {8, 8}, {16, 16}, {17, 33}, {100, 37}, {333, 177}} {
			src := k.make(sz.X+5, sz.Y+3, 1)
			r := image.Rect(3, 2, 3+sz.X, 2+sz.Y) // not at the origin
			want := subImage(src, r)
			for _, s := range subs {
				for _, q := range []int{1, 30, 75, 92, 100} {
					b, err := FastJPEG{}.AppendJPEG([]byte("prefix"), src, r, q, s.s)
					if err != nil {
						t.Fatal(err)
					}
					if string(b[:6]) != "prefix" {
						t.Fatal("AppendJPEG did not append")
					}
					got, m := decodeJPEG(t, b[6:])
					name := fmt.Sprintf("%s %v q%d sub %d", k.name, sz, q, s.s)
					if got.W != sz.X || got.H != sz.Y {
						t.Fatalf("%s: decoded %dx%d", name, got.W, got.H)
					}
					ref := want
					if s.s == SubsampleGray {
						if _, ok := m.(*image.Gray); !ok {
							t.Fatalf("%s: decoded as %T, want grey", name, m)
						}
						ref = greyOf(want)
					} else if ycc, ok := m.(*image.YCbCr); !ok || ycc.SubsampleRatio != s.ratio {
						t.Fatalf("%s: decoded as %T", name, m)
					}
					p := tightPSNR(got, ref)
					// Floors for pictures with detail at high quality.
					switch {
					case q == 100 && s.s == Subsample444 && k.name != "noise" && p < 45:
						t.Errorf("%s: PSNR %.1f dB < 45", name, p)
					case q >= 92 && k.name == "photo" && p < 35:
						t.Errorf("%s: PSNR %.1f dB < 35", name, p)
					}
				}
			}
		}
	}
}

// TestFastJPEGMatchesStd: at the same quality and 4:2:0 (all image/jpeg
// can do), FastJPEG's picture is as good and no larger; at 4:4:4 it is
// better.
func TestFastJPEGMatchesStd(t *testing.T) {
	for _, k := range jpegKinds {
		img := k.make(640, 480, 2)
		for _, q := range []int{50, 79, 92} {
			fast, _ := FastJPEG{}.AppendJPEG(nil, img, img.Bounds(), q, Subsample420)
			std, _ := StdJPEG{}.AppendJPEG(nil, img, img.Bounds(), q, Subsample420)
			full, _ := FastJPEG{}.AppendJPEG(nil, img, img.Bounds(), q, Subsample444)
			fi, _ := decodeJPEG(t, fast)
			si, _ := decodeJPEG(t, std)
			ui, _ := decodeJPEG(t, full)
			pf, ps, pu := tightPSNR(fi, img), tightPSNR(si, img), tightPSNR(ui, img)
			t.Logf("%-8s q%d: fast 4:2:0 %.2f dB %d B, std 4:2:0 %.2f dB %d B, fast 4:4:4 %.2f dB %d B", k.name, q, pf, len(fast), ps, len(std), pu, len(full))
			if pf < ps-0.3 {
				t.Errorf("%s q%d: 4:2:0 PSNR %.2f dB, image/jpeg %.2f dB", k.name, q, pf, ps)
			}
			if len(fast) > len(std)*21/20 {
				t.Errorf("%s q%d: %d bytes, image/jpeg %d", k.name, q, len(fast), len(std))
			}
			// Chroma at full resolution keeps coloured detail; on grey or
			// smooth pictures the two are within a dB either way.
			if pu < pf-1 || k.name == "desktop" && pu < pf+2 {
				t.Errorf("%s q%d: 4:4:4 %.2f dB, 4:2:0 %.2f dB", k.name, q, pu, pf)
			}
		}
	}
}

// FuzzFastJPEG encodes arbitrary pixels at any size, quality and
// subsampling; image/jpeg must decode the result at the right size.
func FuzzFastJPEG(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint8(92), uint8(0), []byte{1, 2, 3, 4})
	f.Add(uint8(17), uint8(9), uint8(100), uint8(2), []byte{0xff, 0xff, 0xff, 0, 0, 0, 0, 0})
	f.Add(uint8(40), uint8(33), uint8(5), uint8(1), []byte("some pixels"))
	f.Add(uint8(3), uint8(20), uint8(75), uint8(3), []byte{})
	f.Fuzz(func(t *testing.T, w, h, q, sub uint8, data []byte) {
		if w == 0 || h == 0 || w > 64 || h > 64 {
			return
		}
		img := NewImage(int(w), int(h))
		for i := range img.Pix {
			if len(data) > 0 {
				img.Pix[i] = data[i%len(data)] + byte(i/len(data))
			}
		}
		b, err := FastJPEG{}.AppendJPEG(nil, img, img.Bounds(), int(q), Subsampling(sub%4))
		if err != nil {
			t.Fatal(err)
		}
		m, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%dx%d q%d sub %d: %v", w, h, q, sub%4, err)
		}
		if m.Bounds().Dx() != int(w) || m.Bounds().Dy() != int(h) {
			t.Fatalf("decoded %v, want %dx%d", m.Bounds(), w, h)
		}
		// The pure Go kernels and every other set make the same bytes, on
		// the whole picture and on a part of it away from the origin.
		r := image.Rect(int(w)/3, int(h)/4, int(w), int(h))
		part, _ := FastJPEG{}.AppendJPEG(nil, img, r, int(q), Subsampling(sub%4))
		for _, v := range append(jpegVariants(), jpegVariant{"go", &jpegGo}) {
			if g := jpegWith(v.k, img, img.Bounds(), int(q), Subsampling(sub%4)); !bytes.Equal(g, b) {
				t.Fatalf("%dx%d q%d sub %d: the %s kernels make other bytes", w, h, q, sub%4, v.name)
			}
			if g := jpegWith(v.k, img, r, int(q), Subsampling(sub%4)); !bytes.Equal(g, part) {
				t.Fatalf("%dx%d %v q%d sub %d: the %s kernels make other bytes", w, h, r, q, sub%4, v.name)
			}
		}
	})
}

// BenchmarkJPEG compares FastJPEG with image/jpeg on whole 1080p frames
// at equal settings (4:2:0, which is all image/jpeg makes), and FastJPEG
// at 4:4:4 and 4:2:2.
func BenchmarkJPEG(b *testing.B) {
	for _, k := range []struct {
		name string
		make func(w, h int, seed uint64) *Image
	}{{"photo", tightPhoto}, {"desktop", tightDesktop}} {
		img := k.make(1920, 1080, 1)
		for _, q := range []int{80, 92} {
			for _, enc := range []struct {
				name string
				e    JPEGEncoder
				s    Subsampling
			}{{"std-420", StdJPEG{}, Subsample420}, {"fast-420", FastJPEG{}, Subsample420}, {"fast-422", FastJPEG{}, Subsample422}, {"fast-444", FastJPEG{}, Subsample444}} {
				b.Run(fmt.Sprintf("%s/q%d/%s", k.name, q, enc.name), func(b *testing.B) {
					var out []byte
					for b.Loop() {
						var err error
						out, err = enc.e.AppendJPEG(out[:0], img, img.Bounds(), q, enc.s)
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N)*1920*1080/1e6/b.Elapsed().Seconds(), "Mpx/s")
					b.ReportMetric(float64(len(out)), "bytes")
				})
			}
		}
	}
}

// jpegWith encodes with the kernels k (jpegGo or jpegFast).
func jpegWith(k *jpegKernels, img *Image, r image.Rectangle, q int, sub Subsampling) []byte {
	e := &jpegEncoder{k: k}
	return e.encode(nil, img, r.Intersect(img.Bounds()), q, sub)
}

// randomImage is w×h pixels of noise from seed, with flat and saturated
// patches (the extremes of the colour conversion and the DCT).
func randomImage(w, h int, seed uint64) *Image {
	img := NewImage(w, h)
	s := seed*0x9e3779b97f4a7c15 + 1
	for i := range img.Pix {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		img.Pix[i] = byte(s)
	}
	for y := range h / 3 {
		for x := range w / 2 {
			v := byte(0)
			if (x/5+y/7)%2 == 0 {
				v = 0xff
			}
			copy(img.Pix[y*img.Stride+x*4:], []byte{v, v, v ^ 0xff, 0})
		}
	}
	return img
}

// jpegVariant is a set of kernels under test, by name.
type jpegVariant struct {
	name string
	k    *jpegKernels
}

// TestJPEGKernelsMatch: every platform kernel set (SSE2 and AVX2 on
// amd64) and the pure Go kernels make byte-identical JPEGs, for every
// subsampling, quality and odd size, over real-looking and random
// pictures.
func TestJPEGKernelsMatch(t *testing.T) {
	if jpegFast.fdct == nil {
		t.Fatal("no kernels")
	}
	kinds := append(jpegKinds[:len(jpegKinds):len(jpegKinds)], struct {
		name string
		make func(w, h int, seed uint64) *Image
	}{"random", randomImage})
	for _, v := range jpegVariants() {
		n := 0
		for _, k := range kinds {
			for _, sz := range []image.Point{{1, 1}, {7, 9}, {8, 8}, {16, 16}, {17, 33}, {100, 37}, {333, 177}, {640, 480}} {
				src := k.make(sz.X+5, sz.Y+3, uint64(sz.X))
				r := image.Rect(3, 2, 3+sz.X, 2+sz.Y)
				for _, sub := range []Subsampling{Subsample444, Subsample422, Subsample420, SubsampleGray} {
					for _, q := range []int{1, 30, 75, 80, 92, 100} {
						a := jpegWith(&jpegGo, src, r, q, sub)
						b := jpegWith(v.k, src, r, q, sub)
						if !bytes.Equal(a, b) {
							t.Fatalf("%s: %s %v sub %d q%d: the kernels differ (%d and %d bytes)", v.name, k.name, sz, sub, q, len(a), len(b))
						}
						n++
					}
				}
			}
		}
		t.Logf("%s: %d pictures alike", v.name, n)
	}
}

// TestJPEGKernelsExact: every platform kernel set gives the pure Go
// kernels' float32 bits and coefficients, kernel by kernel, on random
// and saturated pixels.
func TestJPEGKernelsExact(t *testing.T) {
	img := randomImage(64, 48, 7)
	var e jpegEncoder
	e.setup(100, Subsample444)
	for _, v := range jpegVariants() {
		for _, off := range []int{0, 4, 13*img.Stride + 20, 30*img.Stride + 64} {
			p := img.Pix[off:]
			var want, got [3][64]float32
			jpegGo.ycc(p, img.Stride, &want[0], &want[1], &want[2])
			v.k.ycc(p, img.Stride, &got[0], &got[1], &got[2])
			if want != got {
				t.Fatalf("%s: ycc at %d: %v, want %v", v.name, off, got, want)
			}
			jpegGo.luma(p, img.Stride, &want[0])
			v.k.luma(p, img.Stride, &got[0])
			if want[0] != got[0] {
				t.Fatalf("%s: luma at %d: %v, want %v", v.name, off, got[0], want[0])
			}
			for _, down := range []int{0, img.Stride} {
				jpegGo.chroma(p, 2*img.Stride, down, &want[1], &want[2])
				v.k.chroma(p, 2*img.Stride, down, &got[1], &got[2])
				if want != got {
					t.Fatalf("%s: chroma at %d down %d: %v, want %v", v.name, off, down, got, want)
				}
			}
			// The transform of the Y block, whose layout is then the
			// kernels' own.
			for tab := range 2 {
				a, b := want[0], want[0]
				var ca, cb [64]int16
				ma := jpegGo.fdct(&a, &e.recip[tab], &ca)
				recip, zig := &e.recip[tab], &jpegOrders[0].zig
				if v.k.transposed {
					recip, zig = &e.recipT[tab], &jpegOrders[1].zig
				}
				mb := v.k.fdct(&b, recip, &cb)
				for z := range 64 {
					na, nb := jpegOrders[0].zig[z], zig[z]
					if ca[na] != cb[nb] || ma>>na&1 != mb>>nb&1 {
						t.Fatalf("%s: fdct at %d: coefficient %d is %d (mask %x), want %d (mask %x)", v.name, off, z, cb[nb], mb, ca[na], ma)
					}
				}
			}
		}
	}
}

// TestJPEGFDCTExtremes: the transform kernels agree on the extreme blocks
// (all 255, all 0, a checkerboard of both) at the finest quantisation.
func TestJPEGFDCTExtremes(t *testing.T) {
	var e jpegEncoder
	e.setup(100, Subsample444)
	for _, v := range jpegVariants() {
		for _, f := range []func(i int) float32{
			func(int) float32 { return 127 },
			func(int) float32 { return -128 },
			func(i int) float32 { return float32(255*((i/8+i)%2) - 128) },
			func(i int) float32 { return float32(i%8*32) - 128 },
		} {
			var a, b [64]float32
			for i := range a {
				a[i], b[i] = f(i), f(i)
			}
			recip, order := &e.recip[0], &jpegOrders[0]
			if v.k.transposed {
				recip, order = &e.recipT[0], &jpegOrders[1]
			}
			var za, zb [64]int16
			ma := jpegOrders[0].zigzagMask(jpegGo.fdct(&a, &e.recip[0], &za))
			mb := order.zigzagMask(v.k.fdct(&b, recip, &zb))
			if ma != mb {
				t.Fatalf("%s: block %v: masks %x and %x", v.name, a, ma, mb)
			}
			for z := range 64 {
				if za[jpegOrders[0].zig[z]] != zb[order.zig[z]] {
					t.Fatalf("%s: block %v: coefficient %d: Go %d, fast %d", v.name, a, z, za[jpegOrders[0].zig[z]], zb[order.zig[z]])
				}
			}
		}
	}
}

// TestJPEGHuffmanReference: writeBlock codes any coefficients as a bit at
// a time coder straight from the Annex K tables does: every value size,
// DC differences of both signs, zero runs of 16 and more, full and empty
// blocks, and the 0xFF bytes that need stuffing.
func TestJPEGHuffmanReference(t *testing.T) {
	type code struct {
		bits uint32
		n    int
	}
	var codes [4]map[uint8]code
	for i, s := range jpegHuffSpecs {
		codes[i] = map[uint8]code{}
		c, k := uint32(0), 0
		for l := range 16 {
			for range s.count[l] {
				codes[i][s.values[k]] = code{c, l + 1}
				c++
				k++
			}
			c <<= 1
		}
	}
	var want []byte
	var cur byte
	nbits := 0
	putBit := func(b uint32) {
		cur = cur<<1 | byte(b&1)
		if nbits++; nbits == 8 {
			want = append(want, cur)
			if cur == 0xff {
				want = append(want, 0)
			}
			cur, nbits = 0, 0
		}
	}
	putBits := func(v uint32, n int) {
		for i := n - 1; i >= 0; i-- {
			putBit(v >> i)
		}
	}
	putValue := func(tab map[uint8]code, run int, v int32) {
		a := v
		if a < 0 {
			a = -a
		}
		size := 0
		for a>>size != 0 {
			size++
		}
		c, ok := tab[uint8(run<<4|size)]
		if !ok {
			t.Fatalf("no code for run %d size %d", run, size)
		}
		putBits(c.bits, c.n)
		if v < 0 {
			v += 1<<size - 1
		}
		putBits(uint32(v), size)
	}

	s := uint64(0x9e3779b97f4a7c15)
	rnd := func(n int) int {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		return int(s % uint64(n))
	}
	// Blocks in natural order, as the pure Go fdct makes them.
	var blocks [][64]int16
	for i := range 3000 {
		var b [64]int16
		density := []int{0, 1, 3, 10, 30, 64}[i%6]
		for n := range 64 {
			if rnd(64) < density || n == 0 {
				size := 1 + rnd(10)
				v := int16(1<<(size-1) + rnd(1<<(size-1)))
				if rnd(2) == 0 {
					v = -v
				}
				b[n] = v
			}
		}
		switch i % 7 {
		case 0: // only the last coefficient: three runs of 16 and one of 14
			b = [64]int16{0: b[0], 63: 1 + int16(rnd(1023))}
		case 1: // a run of 16 exactly, then 32, then the rest
			b = [64]int16{0: b[0]}
			b[jpegZigzag[17]], b[jpegZigzag[50]] = -5, 700
		}
		blocks = append(blocks, b)
	}
	next := 0
	k := jpegKernels{fdct: func(_, _ *[64]float32, coef *[64]int16) uint64 {
		*coef = blocks[next]
		next++
		var m uint64
		for n, v := range coef {
			if v != 0 {
				m |= 1 << n
			}
		}
		return m
	}}
	e := &jpegEncoder{k: &k, free: 64}
	var prev [3]int32
	for i, b := range blocks {
		c := i % 3
		dc, ac := 2*min(c, 1), 2*min(c, 1)+1
		e.transform(0, min(c, 1))
		e.writeBlock(0, c, &jpegHuff[dc], &jpegHuff[ac])

		putValue(codes[dc], 0, int32(b[0])-prev[c])
		prev[c] = int32(b[0])
		run := 0
		for z := 1; z < 64; z++ {
			v := b[jpegZigzag[z]]
			if v == 0 {
				run++
				continue
			}
			for ; run >= 16; run -= 16 {
				putBits(codes[ac][0xf0].bits, codes[ac][0xf0].n)
			}
			putValue(codes[ac], run, int32(v))
			run = 0
		}
		if run > 0 {
			putBits(codes[ac][0].bits, codes[ac][0].n)
		}
	}
	e.flushBits()
	for nbits != 0 {
		putBit(1)
	}
	if !bytes.Equal(e.out, want) {
		n := 0
		for n < min(len(e.out), len(want)) && e.out[n] == want[n] {
			n++
		}
		t.Fatalf("%d bytes, want %d; first difference at byte %d", len(e.out), len(want), n)
	}
	if ff := bytes.Count(want, []byte{0xff, 0}); ff == 0 {
		t.Fatal("no stuffed 0xFF in the test")
	} else {
		t.Logf("%d blocks, %d bytes, %d stuffed", len(blocks), len(want), ff)
	}
}
