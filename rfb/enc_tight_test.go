package rfb

import (
	"bytes"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
)

// Tight test content, self-contained (the shared workload generator is
// separate).

func tightSolid(w, h int, _ uint64) *Image {
	m := NewImage(w, h)
	m.Fill(m.Bounds(), 0x3060a0)
	return m
}

// tightText draws 2-colour "glyphs": dark strokes on a light background.
func tightText(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := NewImage(w, h)
	m.Fill(m.Bounds(), 0xf8f8f0)
	for y := 2; y+10 < h; y += 14 {
		for x := 4; x+7 < w; x += 8 {
			if rng.IntN(6) == 0 {
				continue // a space
			}
			for gy := range 10 {
				bits := rng.Uint32()
				for gx := range 6 {
					if bits&(1<<gx) != 0 {
						m.Fill(image.Rect(x+gx, y+gy, x+gx+1, y+gy+1), 0x202020)
					}
				}
			}
		}
	}
	return m
}

// tightPaletteImg uses 13 colours in blocks and stripes.
func tightPaletteImg(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 2))
	cols := make([]uint32, 13)
	for i := range cols {
		cols[i] = rng.Uint32() & 0xffffff
	}
	m := NewImage(w, h)
	for y := range h {
		for x := range w {
			m.Fill(image.Rect(x, y, x+1, y+1), cols[(x/3+y/5+(x*y)%7)%len(cols)])
		}
	}
	return m
}

// tightGradient is a smooth two-axis gradient (gradient filter content).
func tightGradient(w, h int, _ uint64) *Image {
	m := NewImage(w, h)
	for y := range h {
		for x := range w {
			r := uint32(x * 255 / max(1, w-1))
			g := uint32(y * 255 / max(1, h-1))
			b := uint32((x + y) * 255 / max(1, w+h-2))
			m.Fill(image.Rect(x, y, x+1, y+1), r<<16|g<<8|b)
		}
	}
	return m
}

func tightNoise(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := NewImage(w, h)
	for i := 0; i < len(m.Pix); i += 4 {
		v := rng.Uint32()
		m.Pix[i], m.Pix[i+1], m.Pix[i+2] = byte(v), byte(v>>8), byte(v>>16)
	}
	return m
}

// tightPhoto is photo-like: smooth shapes with fine texture and grain.
func tightPhoto(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 4))
	m := NewImage(w, h)
	fx, fy := 0.01+rng.Float64()*0.02, 0.01+rng.Float64()*0.02
	for y := range h {
		for x := range w {
			X, Y := float64(x), float64(y)
			r := 128 + 90*math.Sin(X*fx+Y*0.004) + 20*math.Sin(X*0.21+Y*0.17)
			g := 128 + 80*math.Cos(Y*fy-X*0.006) + 15*math.Sin(X*0.13-Y*0.23)
			b := 110 + 70*math.Sin((X+Y)*0.008) + 10*math.Cos(X*0.31)
			n := rng.Float64()*6 - 3
			m.Fill(image.Rect(x, y, x+1, y+1), clamp8(r+n)<<16|clamp8(g+n)<<8|clamp8(b+n))
		}
	}
	return m
}

func clamp8(v float64) uint32 { return uint32(min(max(v, 0), 255)) }

// tightDesktop is a desktop-like frame: background, windows of text, a
// toolbar, a gradient and a photo.
func tightDesktop(w, h int, seed uint64) *Image {
	m := NewImage(w, h)
	m.Fill(m.Bounds(), 0x2d4f7c)
	put := func(r image.Rectangle, src *Image) {
		m.copyFrom(r.Min, src, image.Rect(0, 0, r.Dx(), r.Dy()))
	}
	m.Fill(image.Rect(0, h-40, w, h), 0xdddddd)
	put(image.Rect(w/20, h/12, w/20+w*9/20, h/12+h*7/10), tightText(w*9/20, h*7/10, seed))
	m.Fill(image.Rect(w/20, h/12-24, w/20+w*9/20, h/12), 0x4060a0)
	put(image.Rect(w*11/20, h/10, w*11/20+w*2/5, h/10+h/3), tightPhoto(w*2/5, h/3, seed))
	put(image.Rect(w*11/20, h/2, w*11/20+w*2/5, h/2+h/4), tightGradient(w*2/5, h/4, seed))
	put(image.Rect(w*11/20, h*4/5, w*11/20+w/5, h*4/5+h/12), tightPaletteImg(w/5, h/12, seed))
	return m
}

var tightKinds = []struct {
	name string
	make func(w, h int, seed uint64) *Image
}{
	{"solid", tightSolid},
	{"text", tightText},
	{"palette", tightPaletteImg},
	{"gradient", tightGradient},
	{"noise", tightNoise},
	{"desktop", tightDesktop},
}

var tightFormats = []struct {
	name string
	pf   PixelFormat
}{
	{"native", NativeFormat},
	{"32-be-bgr", PixelFormat{BPP: 32, Depth: 24, BigEndian: true, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 0, GreenShift: 8, BlueShift: 16}},
	{"32-rgbx-shift", PixelFormat{BPP: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 24, GreenShift: 16, BlueShift: 8}},
	{"32-depth30", PixelFormat{BPP: 32, Depth: 30, TrueColour: true, RedMax: 1023, GreenMax: 1023, BlueMax: 1023, RedShift: 20, GreenShift: 10, BlueShift: 0}},
	{"565", FormatRGB565},
	{"565-be", PixelFormat{BPP: 16, Depth: 16, BigEndian: true, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5}},
	{"332", FormatRGB332},
}

// tightUpdate encodes rects of img as one FramebufferUpdate.
func tightUpdate(t testing.TB, enc encoder, pf PixelFormat, quality, compress int, img *Image, rects ...image.Rectangle) []byte {
	t.Helper()
	u := updateWriter{conv: newConverter(pf), quality: quality, compress: compress}
	u.begin(nil)
	for _, r := range rects {
		if err := enc.encode(&u, img, r); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := u.finish(true)
	return b
}

type tightStep struct {
	img      *Image
	rects    []image.Rectangle // nil: the whole frame
	compress int
}

// checkTightRoundTrip sends the steps over one encoder and one client and
// checks the client's framebuffer after each, and the rectangle limits.
func checkTightRoundTrip(t *testing.T, e Encoding, pf PixelFormat, steps []tightStep) {
	t.Helper()
	enc := newTightEncoder(e == EncTightPNG)
	var stream []byte
	for _, s := range steps {
		rs := s.rects
		if rs == nil {
			rs = []image.Rectangle{s.img.Bounds()}
		}
		stream = append(stream, tightUpdate(t, enc, pf, -1, s.compress, s.img, rs...)...)
	}
	w, h := steps[0].img.W, steps[0].img.H
	c, _ := parsingClient(t, w, h, pf, []Encoding{e, EncLastRect}, bytes.NewReader(stream), ClientLimits{})
	want := NewImage(w, h)
	for i, s := range steps {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for _, r := range m.(*FramebufferUpdate).Rects {
			if r.Encoding == EncLastRect {
				continue
			}
			if r.Encoding != e || r.Rect.Dx() > tightMaxWidth {
				t.Fatalf("step %d: %v rectangle %v", i, r.Encoding, r.Rect)
			}
		}
		rs := s.rects
		if rs == nil {
			rs = []image.Rectangle{s.img.Bounds()}
		}
		q := quantizedImage(s.img, pf)
		if e == EncTightPNG {
			q = s.img
		}
		for _, r := range rs {
			want.copyFrom(r.Min, q, r)
		}
		if d := imageDiff(c.Framebuffer(), want); d != "" {
			t.Fatalf("step %d: %s", i, d)
		}
	}
}

// TestTightRoundTrip is the golden round trip: every lossless mode, every
// kind of content, odd sizes, several updates per connection with
// sub-rectangles and a compress-level change (which restarts the streams
// and sets the reset bits).
func TestTightRoundTrip(t *testing.T) {
	sizes := []image.Point{{1, 1}, {5, 3}, {17, 33}, {333, 177}}
	for _, f := range tightFormats {
		for _, k := range tightKinds {
			for _, sz := range sizes {
				t.Run(fmt.Sprintf("%s/%s/%dx%d", f.name, k.name, sz.X, sz.Y), func(t *testing.T) {
					a := k.make(sz.X, sz.Y, 1)
					b := tightDesktop(sz.X, sz.Y, 2)
					c := k.make(sz.X, sz.Y, 3)
					half := image.Rect(0, 0, sz.X, (sz.Y+1)/2)
					sub := image.Rect(sz.X/3, sz.Y/4, sz.X*2/3+1, sz.Y*3/4+1).Intersect(a.Bounds())
					checkTightRoundTrip(t, EncTight, f.pf, []tightStep{
						{img: a, compress: -1},
						{img: b, rects: []image.Rectangle{half, sub}, compress: -1},
						{img: c, compress: 6}, // new level: streams restart
						{img: a, rects: []image.Rectangle{sub}, compress: 6},
						{img: b, compress: 9},
					})
				})
			}
		}
	}
}

// TestTightWide checks that a 3000-pixel-wide frame is split into
// rectangles at most 2048 wide (checked by checkTightRoundTrip) and
// decodes exactly, for Fill and for the other kinds. The frames are big
// enough for the parallel paths.
func TestTightWide(t *testing.T) {
	for _, k := range tightKinds {
		for _, f := range tightFormats[:5] {
			t.Run(k.name+"/"+f.name, func(t *testing.T) {
				checkTightRoundTrip(t, EncTight, f.pf, []tightStep{
					{img: k.make(3000, 90, 7), compress: -1},
					{img: tightDesktop(3000, 90, 8), compress: -1},
					{img: tightDesktop(3000, 90, 9), compress: 5}, // streams restart, in parallel
					{img: k.make(3000, 90, 10), rects: []image.Rectangle{image.Rect(100, 10, 2900, 80)}, compress: 5},
				})
			})
		}
	}
}

// TestTightBatches: a large area goes through in batches of jobs, which
// sends the same bytes as one batch, and the encoder keeps no job data or
// stream output between updates.
func TestTightBatches(t *testing.T) {
	frames := []*Image{tightDesktop(1920, 1080, 1), tightPhoto(1280, 800, 2), tightText(1920, 1080, 3), tightDesktop(1920, 1080, 4)}
	for _, quality := range []int{-1, 8} {
		small, whole := newTightEncoder(false), newTightEncoder(false)
		small.batch, whole.batch = tightMaxArea, 1<<30
		for i, m := range frames {
			a := tightUpdate(t, small, NativeFormat, quality, 2, m, m.Bounds())
			b := tightUpdate(t, whole, NativeFormat, quality, 2, m, m.Bounds())
			if !bytes.Equal(a, b) || len(a) < 1000 {
				t.Fatalf("quality %d, frame %d: %d bytes in batches, %d in one", quality, i, len(a), len(b))
			}
			for _, e := range []*tightEncoder{small, whole} {
				for _, j := range e.jobs {
					if j.data != nil || j.z != nil {
						t.Fatalf("quality %d, frame %d: a job keeps %d bytes of data", quality, i, cap(j.data))
					}
				}
				for s, st := range e.streams {
					if st.sink.b != nil {
						t.Fatalf("quality %d, frame %d: stream %d keeps its output", quality, i, s)
					}
				}
			}
		}
	}
}

// TestTightStreamIdle: a stream unused for tightStreamIdle encode calls drops
// its compressor, and when used again continues its deflate stream with
// a new one; the client decodes it exactly, matches into the rectangles
// before the pause included.
func TestTightStreamIdle(t *testing.T) {
	const w, h = 320, 200
	text, noise := tightText(w, h, 1), tightNoise(w, h, 2)
	steps := []tightStep{{img: text, compress: -1}}
	for range tightStreamIdle + 1 {
		steps = append(steps, tightStep{img: noise, compress: -1})
	}
	steps = append(steps, tightStep{img: text, compress: -1}, tightStep{img: tightText(w, h, 3), compress: -1})
	enc := newTightEncoder(false)
	var stream []byte
	var dropped, back [4]bool
	for i, s := range steps {
		stream = append(stream, tightUpdate(t, enc, NativeFormat, -1, s.compress, s.img, s.img.Bounds())...)
		for k, st := range enc.streams {
			switch {
			case i == tightStreamIdle && st.started && st.fw == nil:
				dropped[k] = true
			case i == len(steps)-1 && dropped[k] && st.fw != nil:
				back[k] = true
			}
		}
	}
	if dropped == [4]bool{} || back == [4]bool{} {
		t.Fatalf("streams dropped after %d updates without use: %v; used again: %v", tightStreamIdle, dropped, back)
	}
	c, _ := parsingClient(t, w, h, NativeFormat, []Encoding{EncTight, EncLastRect}, bytes.NewReader(stream), ClientLimits{})
	for i, s := range steps {
		if _, err := c.ReadMessage(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if d := imageDiff(c.Framebuffer(), s.img); d != "" {
			t.Fatalf("step %d: %s", i, d)
		}
	}
}

// TestTightFlatePool: a compressor taken back from tightFlatePool, after
// it compressed other data, makes the same bytes as a new one with the
// same dictionary.
func TestTightFlatePool(t *testing.T) {
	dict := tightText(64, 64, 1).Pix
	data := tightText(200, 100, 2).Pix
	for _, level := range []int{1, 2, 7, 9} {
		compress := func(fw *flate.Writer, out *bytes.Buffer) []byte {
			if _, err := fw.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := fw.Flush(); err != nil {
				t.Fatal(err)
			}
			return out.Bytes()
		}
		var fresh, reused, other bytes.Buffer
		fw, err := flate.NewWriterDict(&fresh, level, dict)
		if err != nil {
			t.Fatal(err)
		}
		want := compress(fw, &fresh)
		used, _ := flate.NewWriterDict(&other, level, nil)
		compress(used, &other)
		tightFlatePool[level].Put(used)
		fw, err = newTightFlate(&reused, level, dict)
		if err != nil {
			t.Fatal(err)
		}
		if got := compress(fw, &reused); !bytes.Equal(got, want) {
			t.Fatalf("level %d: %d bytes from a pooled compressor, %d from a new one", level, len(got), len(want))
		}
	}
}

// TestTightPNGRoundTrip: TightPNG without a quality level is lossless.
func TestTightPNGRoundTrip(t *testing.T) {
	for _, k := range tightKinds {
		t.Run(k.name, func(t *testing.T) {
			checkTightRoundTrip(t, EncTightPNG, NativeFormat, []tightStep{
				{img: k.make(300, 200, 1), compress: -1},
				{img: tightDesktop(300, 200, 2), rects: []image.Rectangle{image.Rect(10, 10, 200, 150)}, compress: -1},
			})
		})
	}
}

// TestTightChoice checks the subencoding picked per kind of content.
func TestTightChoice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		img     *Image
		quality int
		want    tightKind
	}{
		{"solid", tightSolid(64, 64, 0), -1, tightKindFill},
		{"mono", tightText(64, 64, 1), -1, tightKindMono},
		{"palette", tightPaletteImg(64, 64, 1), -1, tightKindPalette},
		{"gradient", tightGradient(256, 64, 1), -1, tightKindGradient},
		{"noise", tightNoise(64, 64, 1), -1, tightKindCopy},
		{"photo-jpeg", tightPhoto(64, 64, 1), 8, tightKindJPEG},
		{"text-with-jpeg", tightText(64, 64, 1), 8, tightKindMono},
	} {
		e := newTightEncoder(false)
		u := updateWriter{conv: newConverter(NativeFormat), quality: tc.quality, compress: -1}
		u.begin(nil)
		if err := e.encode(&u, tc.img, tc.img.Bounds()); err != nil {
			t.Fatal(err)
		}
		if len(e.jobs) != 1 || e.jobs[0].kind != tc.want {
			t.Errorf("%s: %d jobs, first kind %d, want %d", tc.name, len(e.jobs), e.jobs[0].kind, tc.want)
		}
	}
}

// TestTightSolidArea: a large uniform area inside a busy rectangle is cut
// out as Fill rectangles, so it costs a few bytes.
func TestTightSolidArea(t *testing.T) {
	img := tightNoise(640, 480, 1)
	img.Fill(image.Rect(100, 50, 600, 400), 0x123456)
	e := newTightEncoder(false)
	u := updateWriter{conv: newConverter(NativeFormat), quality: -1, compress: -1}
	u.begin(nil)
	if err := e.encode(&u, img, img.Bounds()); err != nil {
		t.Fatal(err)
	}
	fill := 0
	for _, j := range e.jobs {
		if j.kind == tightKindFill {
			fill += j.r.Dx() * j.r.Dy()
		}
	}
	if fill != 500*350 {
		t.Errorf("Fill covers %d pixels, want %d", fill, 500*350)
	}
	raw := 640*480*3 - 500*350*3
	if len(u.buf) > raw+raw/50 {
		t.Errorf("%d bytes for %d bytes of noise", len(u.buf), raw)
	}
}

// TestTightJPEG: quality 8 on photo-like content meets 35 dB.
func TestTightJPEG(t *testing.T) {
	for _, f := range []struct {
		name string
		pf   PixelFormat
	}{{"native", NativeFormat}, {"565", FormatRGB565}} {
		img := tightPhoto(640, 480, 5)
		enc := newTightEncoder(false)
		msg := tightUpdate(t, enc, f.pf, 8, -1, img, img.Bounds())
		c, _ := parsingClient(t, img.W, img.H, f.pf, []Encoding{EncTight, EncQualityLevel0 + 8}, bytes.NewReader(msg), ClientLimits{})
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		jpegs := 0
		for _, j := range enc.jobs {
			if j.kind == tightKindJPEG {
				jpegs++
			}
		}
		if jpegs == 0 {
			t.Errorf("%s: no JPEG rectangle", f.name)
		}
		ref := img
		if f.name == "565" {
			ref = quantizedImage(img, f.pf)
		}
		p := tightPSNR(c.Framebuffer(), ref)
		t.Logf("%s: PSNR %.1f dB, %d bytes (%.1f:1), %d rects", f.name, p, len(msg), float64(img.W*img.H*4)/float64(len(msg)), len(m.(*FramebufferUpdate).Rects))
		if p < 35 {
			t.Errorf("%s: PSNR %.1f dB < 35", f.name, p)
		}
	}
}

// tightPSNR is the PSNR over the R, G, B channels.
func tightPSNR(a, b *Image) float64 {
	var se float64
	for y := range a.H {
		for x := range a.W {
			i := y*a.Stride + x*4
			j := y*b.Stride + x*4
			for c := range 3 {
				d := float64(a.Pix[i+c]) - float64(b.Pix[j+c])
				se += d * d
			}
		}
	}
	mse := se / float64(a.W*a.H*3)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

func TestCompactLength(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 10000, 16383, 16384, tightMaxLength} {
		b := appendCompactLength(nil, n)
		if n == 10000 && !bytes.Equal(b, []byte{0x90, 0x4e}) {
			t.Errorf("10000 → % x", b)
		}
		c, _ := parsingClient(t, 1, 1, NativeFormat, []Encoding{EncTight}, bytes.NewReader(b), ClientLimits{})
		got, err := readCompactLength(c)
		if err != nil || got != n {
			t.Errorf("%d → % x → %d, %v", n, b, got, err)
		}
	}
}

// Benchmarks on a self-contained 1080p desktop-like frame.

// benchTight encodes whole 1080p frames: the desktop-like frame (with a
// photo panel that dominates the bytes) and a page of text.
func benchTight(b *testing.B, quality int) {
	for _, k := range []struct {
		name string
		make func(w, h int, seed uint64) *Image
	}{{"desktop", tightDesktop}, {"text", tightText}} {
		b.Run(k.name, func(b *testing.B) {
			img := k.make(1920, 1080, 1)
			enc := newTightEncoder(false)
			u := updateWriter{conv: newConverter(NativeFormat), quality: quality, compress: -1}
			var out []byte
			b.SetBytes(int64(len(img.Pix)))
			start := time.Now()
			for b.Loop() {
				u.begin(out[:0])
				if err := enc.encode(&u, img, img.Bounds()); err != nil {
					b.Fatal(err)
				}
				out = u.buf
			}
			el := time.Since(start)
			b.ReportMetric(float64(b.N)*1920*1080/1e6/el.Seconds(), "Mpx/s")
			b.ReportMetric(float64(len(img.Pix))/float64(len(out)), "ratio")
		})
	}
}

func BenchmarkTight(b *testing.B)     { benchTight(b, -1) }
func BenchmarkTightJPEG(b *testing.B) { benchTight(b, 8) }

func BenchmarkTightDecode(b *testing.B) {
	img := tightDesktop(1920, 1080, 1)
	msg := tightUpdate(b, newTightEncoder(false), NativeFormat, -1, -1, img, img.Bounds())
	r := &bytes.Reader{}
	c, _ := parsingClient(b, img.W, img.H, NativeFormat, []Encoding{EncTight}, r, ClientLimits{})
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		// A fresh decoder each time: the stream is replayed from its start.
		c.decoders = map[Encoding]decoder{}
		r.Reset(msg)
		if _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTightJPEGEncoder(b *testing.B) {
	img := tightDesktop(1920, 1080, 1)
	var out []byte
	for b.Loop() {
		var err error
		out, err = StdJPEG{}.AppendJPEG(out[:0], img, img.Bounds(), 92, Subsample420)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestTightLossyOnlyPhoto: with JPEG allowed, a desktop-like frame gets
// JPEG only inside its photo; text, palette, gradient and background
// arrive exact. At quality 8 (4:4:4) the photo is above 40 dB.
func TestTightLossyOnlyPhoto(t *testing.T) {
	const w, h = 800, 600
	img := tightDesktop(w, h, 3)
	photo := image.Rect(w*11/20, h/10, w*11/20+w*2/5, h/10+h/3)
	for _, q := range []int{5, 6, 8} {
		enc := newTightEncoder(false)
		u := updateWriter{conv: newConverter(NativeFormat), quality: q, compress: -1}
		u.begin(nil)
		if err := enc.encode(&u, img, img.Bounds()); err != nil {
			t.Fatal(err)
		}
		msg, _ := u.finish(true)
		lossy := 0
		for _, r := range u.lossy {
			if !r.In(photo) {
				t.Errorf("q%d: lossy rectangle %v outside the photo %v", q, r, photo)
			}
			lossy += r.Dx() * r.Dy()
		}
		if lossy < photo.Dx()*photo.Dy()*9/10 {
			t.Errorf("q%d: only %d of the photo's %d pixels went JPEG", q, lossy, photo.Dx()*photo.Dy())
		}
		c, _ := parsingClient(t, w, h, NativeFormat, []Encoding{EncTight, EncLastRect, EncQualityLevel0 + Encoding(q)}, bytes.NewReader(msg), ClientLimits{})
		if _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		got := c.Framebuffer()
		outside := img.Clone()
		outside.copyFrom(photo.Min, got, photo) // the photo from the client, the rest from the source
		if d := imageDiff(got, outside); d != "" {
			t.Errorf("q%d: outside the photo: %s", q, d)
		}
		p := tightPSNR(subImage(got, photo), subImage(img, photo))
		t.Logf("q%d: %d bytes, photo %.1f dB", q, len(msg), p)
		if q == 8 && p < 40 {
			t.Errorf("q8: photo at %.1f dB", p)
		}
	}
}

// TestTightNoiseStaysLossless: noise costs JPEG more than zlib, so the
// size comparison keeps it lossless even when JPEG is allowed.
func TestTightNoiseStaysLossless(t *testing.T) {
	img := tightNoise(256, 256, 9)
	enc := newTightEncoder(false)
	u := updateWriter{conv: newConverter(NativeFormat), quality: 9, compress: -1}
	u.begin(nil)
	if err := enc.encode(&u, img, img.Bounds()); err != nil {
		t.Fatal(err)
	}
	if len(u.lossy) != 0 {
		t.Errorf("noise went JPEG: %v", u.lossy)
	}
}

// tightSoftPhoto is the soft part of a photograph (a sky, a blurred
// background): slow shapes with one-level grain, so that the gradient
// predictor's mean error is below tightSmoothError.
func tightSoftPhoto(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 5))
	m := NewImage(w, h)
	for y := range h {
		for x := range w {
			X, Y := float64(x), float64(y)
			r := 120 + 60*math.Sin(X*0.011+Y*0.004) + float64(rng.IntN(2))
			g := 130 + 50*math.Cos(Y*0.013-X*0.006) + float64(rng.IntN(2))
			b := 140 + 40*math.Sin((X+Y)*0.009) + float64(rng.IntN(2))
			m.Fill(image.Rect(x, y, x+1, y+1), clamp8(r)<<16|clamp8(g)<<8|clamp8(b))
		}
	}
	return m
}

// TestTightSmoothChoice: smooth content is compared by size. The soft
// part of a photo goes JPEG, even where its pixels often repeat, which makes it several times smaller than
// the gradient filter does; a drawn gradient stays lossless, where the
// gradient filter leaves almost nothing to compress.
func TestTightSmoothChoice(t *testing.T) {
	for _, tc := range []struct {
		name  string
		img   *Image
		lossy bool
	}{
		{"soft photo", tightSoftPhoto(256, 256, 1), true},
		{"dark sky", tightDarkSky(256, 256, 1), true},
		{"drawn gradient", tightGradient(256, 256, 0), false},
	} {
		if e := tightMeanError(tc.img, tc.img.Bounds()); e >= tightSmoothError {
			t.Fatalf("%s: mean error %d, the test needs smooth content", tc.name, e)
		}
		size := func(q int) (int, int) {
			enc := newTightEncoder(false)
			u := updateWriter{conv: newConverter(NativeFormat), quality: q, compress: 2}
			u.begin(nil)
			if err := enc.encode(&u, tc.img, tc.img.Bounds()); err != nil {
				t.Fatal(err)
			}
			lossy := 0
			for _, r := range u.lossy {
				lossy += r.Dx() * r.Dy()
			}
			return len(u.buf), lossy
		}
		jpegBytes, lossy := size(8)
		losslessBytes, _ := size(-1)
		t.Logf("%s: %d bytes at quality 8 (%d pixels lossy), %d lossless", tc.name, jpegBytes, lossy, losslessBytes)
		if got := lossy > 0; got != tc.lossy {
			t.Errorf("%s: %d pixels lossy, want lossy %v", tc.name, lossy, tc.lossy)
		}
		if jpegBytes > losslessBytes {
			t.Errorf("%s: %d bytes with JPEG allowed, more than %d lossless", tc.name, jpegBytes, losslessBytes)
		}
	}
}

// tightDarkSky is a smooth dark picture whose pixels often repeat their
// left neighbour (as the night sky of a wallpaper): shapes that change
// slowly across and faster down, and a grain of one level on an eighth
// of the components.
func tightDarkSky(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 6))
	m := NewImage(w, h)
	grain := func() float64 {
		if rng.IntN(8) == 0 {
			return 1
		}
		return 0
	}
	for y := range h {
		for x := range w {
			X, Y := float64(x), float64(y)
			r := 20 + 14*math.Sin(X*0.01+Y*0.05) + grain()
			g := 30 + 16*math.Cos(Y*0.06-X*0.008) + grain()
			b := 50 + 20*math.Sin(X*0.012-Y*0.04) + grain()
			m.Fill(image.Rect(x, y, x+1, y+1), clamp8(r)<<16|clamp8(g)<<8|clamp8(b))
		}
	}
	return m
}

// TestTightEntropySize checks the order-0 size on data whose entropy is
// known: one byte value (nothing), two values equally often (a bit a
// byte), every value equally often (a byte a byte), and none.
func TestTightEntropySize(t *testing.T) {
	two, all := make([]byte, 4099), make([]byte, 256*17)
	for i := range two {
		two[i] = byte(i%2) * 0x80
	}
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want int
	}{
		{"none", nil, 0},
		{"one value", bytes.Repeat([]byte{7}, 1000), 0},
		{"two values", two, 4099 / 8},
		{"all values", all, len(all)},
	} {
		if got := tightEntropySize(tc.b); got < tc.want-1 || got > tc.want {
			t.Errorf("%s: %d bytes, want %d", tc.name, got, tc.want)
		}
	}
}

// TestTightEstimateSize: the estimate analyseJPEG trusts instead of a
// zlib trial is at most level 1's size of a picture's gradient-filtered
// data, and close to it (a third or more) where zlib finds few matches:
// a soft photo, a dark sky and noise; a drawn gradient, which repeats,
// is far below JPEG either way.
func TestTightEstimateSize(t *testing.T) {
	p := (&tightEncoder{}).params(&updateWriter{conv: newConverter(NativeFormat), quality: 8, compress: 2})
	s := new(tightScratch)
	for _, tc := range []struct {
		name  string
		img   *Image
		close bool
	}{
		{"soft photo", tightSoftPhoto(256, 256, 1), true},
		{"dark sky", tightDarkSky(256, 256, 1), true},
		{"noise", tightNoise(256, 256, 1), true},
		{"drawn gradient", tightGradient(256, 256, 0), false},
		{"drawn gradient 300", tightGradient(300, 256, 0), false},
	} {
		for _, r := range []image.Rectangle{image.Rect(0, 96, 256, 160), image.Rect(0, 0, 256, 256)} {
			data := p.appendGradient(nil, tc.img, r, s)
			z, err := trialSize(data)
			if err != nil {
				t.Fatal(err)
			}
			est := tightEstimateSize(data)
			if est > z || tc.close && est*3 < z {
				t.Errorf("%s %v: estimate %d bytes, zlib %d", tc.name, r, est, z)
			}
		}
	}
}

// tightDitheredSky is a dark sky as a wallpaper scaled down shows it:
// a slow gradient dithered to a few colours a tile (at most
// tightPhotoColours), no two neighbours more than a few levels apart.
func tightDitheredSky(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := NewImage(w, h)
	for y := range h {
		for x := range w {
			X, Y := float64(x), float64(y)
			d := rng.Float64() // the same dither for the three channels
			r := 24 + 10*math.Sin(X*0.006+Y*0.004) + d
			g := 16 + 6*math.Cos(Y*0.005-X*0.003) + d
			b := 48 + 12*math.Sin((X+Y)*0.004) + d
			m.Fill(image.Rect(x, y, x+1, y+1), clamp8(r)<<16|clamp8(g)<<8|clamp8(b))
		}
	}
	return m
}

// tightTerminal is a terminal's text: light glyphs on a dark background.
func tightTerminal(w, h int, seed uint64) *Image {
	m := tightText(w, h, seed)
	for i := 0; i < len(m.Pix); i += 4 {
		if m.Pix[i] == 0x20 {
			m.Pix[i], m.Pix[i+1], m.Pix[i+2] = 0xd0, 0xd0, 0xd0
		} else {
			m.Pix[i], m.Pix[i+1], m.Pix[i+2] = 0x18, 0x10, 0x30
		}
	}
	return m
}

// TestTightSoftJoinsPhoto: a dark dithered sky beside a photo has few
// colours a tile, so its tiles are not photo-like, but it has no sharp
// edges: it joins the photo's JPEG. A terminal's text beside the same
// photo and sky stays exact, at the client's quality and at a quality
// the pacing lowered. Alone, without a photo, the sky stays lossless.
func TestTightSoftJoinsPhoto(t *testing.T) {
	const w, h = 512, 256
	img := NewImage(w, h)
	photo := image.Rect(0, 0, 256, 256)
	sky := image.Rect(256, 0, 512, 128)
	text := image.Rect(256, 128, 512, 256)
	img.copyFrom(photo.Min, tightPhoto(256, 256, 1), image.Rect(0, 0, 256, 256))
	img.copyFrom(sky.Min, tightDitheredSky(256, 128, 1), image.Rect(0, 0, 256, 128))
	img.copyFrom(text.Min, tightTerminal(256, 128, 1), image.Rect(0, 0, 256, 128))
	// The sky must be what the rule is for: tiles that are not photo-like
	// but soft.
	var s tightTileScratch
	for y := sky.Min.Y; y < sky.Max.Y; y += tightTile {
		for x := sky.Min.X; x < sky.Max.X; x += tightTile {
			tr := image.Rect(x, y, x+tightTile, y+tightTile)
			if s.photoLike(img, tr) {
				t.Fatalf("sky tile %v is photo-like already", tr)
			}
			if soft, _ := tightTileSoft(img, tr); !soft {
				t.Fatalf("sky tile %v is not soft", tr)
			}
		}
	}
	encode := func(img *Image, q int) *updateWriter {
		enc := newTightEncoder(false)
		u := &updateWriter{conv: newConverter(NativeFormat), quality: q, compress: 2}
		u.begin(nil)
		if err := enc.encode(u, img, img.Bounds()); err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, q := range []int{8, 3} {
		u := encode(img, q)
		skyLossy := 0
		for _, r := range u.lossy {
			if r.Overlaps(text) {
				t.Errorf("q%d: lossy rectangle %v over the text %v", q, r, text)
			}
			skyLossy += r.Intersect(sky).Dx() * r.Intersect(sky).Dy()
		}
		if skyLossy < sky.Dx()*sky.Dy()*9/10 {
			t.Errorf("q%d: only %d of the sky's %d pixels went JPEG", q, skyLossy, sky.Dx()*sky.Dy())
		}
		msg, _ := u.finish(true)
		c, _ := parsingClient(t, w, h, NativeFormat, []Encoding{EncTight, EncLastRect, EncQualityLevel0 + Encoding(q)}, bytes.NewReader(msg), ClientLimits{})
		if _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		got := c.Framebuffer()
		if d := imageDiff(subImage(got, text), subImage(img, text)); d != "" {
			t.Errorf("q%d: the text: %s", q, d)
		}
		t.Logf("q%d: %d bytes, sky %.1f dB", q, len(msg), tightPSNR(subImage(got, sky), subImage(img, sky)))
	}
	alone := tightDitheredSky(256, 128, 1)
	if u := encode(alone, 3); len(u.lossy) != 0 {
		t.Errorf("the sky alone went JPEG: %v", u.lossy)
	}
}

// TestTightRefreshStream: a lossless refresh in pieces, with other
// updates between them, keeps its full colour on tightRefreshStream at
// tightRefreshZlibLevel and the others' on stream 0 at the client's
// level, so no stream makes a new compressor for a piece; the client
// decodes every update exactly.
func TestTightRefreshStream(t *testing.T) {
	const w, h = 512, 256
	enc := newTightEncoder(false)
	want := NewImage(w, h)
	var stream []byte
	update := func(img *Image, r image.Rectangle, lossless bool) {
		u := updateWriter{conv: newConverter(NativeFormat), quality: -1, compress: 2, lossless: lossless}
		u.begin(nil)
		if err := enc.encode(&u, img, r); err != nil {
			t.Fatal(err)
		}
		b, _ := u.finish(true)
		stream = append(stream, b...)
		want.copyFrom(r.Min, img, r)
	}
	update(tightNoise(w, h, 1), image.Rect(0, 0, w, h), false)
	zero := enc.streams[0].fw
	var refresh *flate.Writer
	for i := range 4 {
		update(tightNoise(w, h, uint64(10+i)), image.Rect(i*128, 0, i*128+128, h), true)
		st := &enc.streams[tightRefreshStream]
		if i == 0 {
			refresh = st.fw
		}
		if st.fw == nil || st.fw != refresh || st.level != tightRefreshZlibLevel {
			t.Fatalf("piece %d: the refresh stream made a new compressor or is at level %d", i, st.level)
		}
		// A small change between the pieces, and a large one that would
		// take streams 0 and 3 in turn without a refresh.
		update(tightNoise(w, h, uint64(20+i)), image.Rect(0, 0, 64, 32), false)
		update(tightNoise(w, h, uint64(30+i)), image.Rect(0, 0, w, 128), false)
		if st := &enc.streams[0]; st.fw != zero || st.level != tightZlibLevel[2] {
			t.Fatalf("piece %d: stream 0 made a new compressor or is at level %d", i, st.level)
		}
	}
	c, _ := parsingClient(t, w, h, NativeFormat, []Encoding{EncTight, EncLastRect}, bytes.NewReader(stream), ClientLimits{})
	for range 1 + 4*3 {
		if _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	if d := imageDiff(c.Framebuffer(), want); d != "" {
		t.Fatal(d)
	}
}
