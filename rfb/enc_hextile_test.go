package rfb

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"
)

// Content and formats shared by the Hextile and ZRLE tests.

// hzFormats are the client formats the golden round trips cover.
var hzFormats = []struct {
	name string
	pf   PixelFormat
}{
	{"32le native", NativeFormat},
	{"32be xrgb", PixelFormat{BPP: 32, Depth: 24, BigEndian: true, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8, BlueShift: 0}},
	{"32be top bytes", PixelFormat{BPP: 32, Depth: 24, BigEndian: true, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 24, GreenShift: 16, BlueShift: 8}},
	{"32le rgbx", PixelFormat{BPP: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 0, GreenShift: 8, BlueShift: 16}},
	{"32le rgb101010", PixelFormat{BPP: 32, Depth: 30, TrueColour: true, RedMax: 1023, GreenMax: 1023, BlueMax: 1023, RedShift: 20, GreenShift: 10}},
	{"16le 565", FormatRGB565},
	{"16be 565", PixelFormat{BPP: 16, Depth: 16, BigEndian: true, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5}},
	{"8 rgb332", FormatRGB332},
}

// synthKinds make deterministic w×h test images.
var synthKinds = []struct {
	name string
	make func(w, h int, seed uint64) *Image
}{
	{"solid", func(w, h int, seed uint64) *Image {
		m := NewImage(w, h)
		m.Fill(m.Bounds(), uint32(seed*0x3a5f17)&0xffffff)
		return m
	}},
	{"text", synthText},
	{"16colours", synthPalette},
	{"noise", synthNoise},
	{"desktop", synthDesktop},
}

// synthText is dark glyph-like strokes on a light background.
func synthText(w, h int, seed uint64) *Image {
	m := NewImage(w, h)
	m.Fill(m.Bounds(), 0xfafafa)
	rng := rand.New(rand.NewPCG(seed, 1))
	for y := 2; y+10 < h; y += 14 {
		for x := 1; x+6 < w; x += 7 {
			if rng.IntN(6) == 0 {
				continue // a space
			}
			for range 5 {
				gx, gy := x+rng.IntN(5), y+rng.IntN(9)
				if rng.IntN(2) == 0 {
					m.Fill(image.Rect(gx, gy, gx+1, gy+1+rng.IntN(6)), 0x202020)
				} else {
					m.Fill(image.Rect(gx, gy, gx+1+rng.IntN(4), gy+1), 0x202020)
				}
			}
		}
	}
	return m
}

// synthPalette is blocks and lines of 16 colours.
func synthPalette(w, h int, seed uint64) *Image {
	m := NewImage(w, h)
	rng := rand.New(rand.NewPCG(seed, 2))
	var pal [16]uint32
	for i := range pal {
		pal[i] = rng.Uint32() & 0xffffff
	}
	for range w * h / 20 {
		x, y := rng.IntN(w), rng.IntN(h)
		m.Fill(image.Rect(x, y, x+1+rng.IntN(9), y+1+rng.IntN(5)), pal[rng.IntN(16)])
	}
	return m
}

func synthNoise(w, h int, seed uint64) *Image {
	m := NewImage(w, h)
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := range m.Pix {
		m.Pix[i] = byte(rng.Uint32())
	}
	return m
}

// synthDesktop is a desktop-like frame: a gradient wallpaper, windows
// with title bars, text, a toolbar of small icons and a photo-like area.
func synthDesktop(w, h int, seed uint64) *Image {
	m := NewImage(w, h)
	rng := rand.New(rand.NewPCG(seed, 4))
	for y := range h {
		m.Fill(image.Rect(0, y, w, y+1), uint32(30+y*60/max(h, 1))<<16|uint32(60+y*90/max(h, 1))<<8|0x90)
	}
	for i := range 4 {
		x0, y0 := w*i/8, h*i/7
		win := image.Rect(x0, y0, x0+w/2, y0+h/2).Intersect(m.Bounds())
		m.Fill(win, 0xffffff)
		m.Fill(image.Rect(win.Min.X, win.Min.Y, win.Max.X, win.Min.Y+24), 0x3c6eb4)
		if win.Dx() > 20 && win.Dy() > 60 {
			text := synthText(win.Dx()-20, win.Dy()-60, seed+uint64(i))
			m.DrawImage(image.Pt(win.Min.X+10, win.Min.Y+50), text, text.Bounds())
		}
		for k := range 12 {
			ic := synthPalette(20, 20, seed+uint64(k))
			m.DrawImage(image.Pt(win.Min.X+10+k*24, win.Min.Y+26), ic, ic.Bounds())
		}
	}
	// A photo: smooth colour with a little noise.
	ph := image.Rect(w*5/8, h/10, w*5/8+w/4, h/10+h/3).Intersect(m.Bounds())
	for y := ph.Min.Y; y < ph.Max.Y; y++ {
		for x := ph.Min.X; x < ph.Max.X; x++ {
			n := uint32(rng.IntN(8))
			m.Fill(image.Rect(x, y, x+1, y+1), (uint32(x*3)&0xff+n)<<16|(uint32(y*2)&0xff)<<8|uint32(x+y)&0xff)
		}
	}
	return m
}

// hzEncodeUpdate encodes rects of img as one FramebufferUpdate.
func hzEncodeUpdate(t testing.TB, enc encoder, pf PixelFormat, img *Image, rects ...image.Rectangle) []byte {
	t.Helper()
	u := updateWriter{conv: newConverter(pf), quality: -1, compress: -1}
	u.begin(nil)
	for _, r := range rects {
		if err := enc.encode(&u, img, r); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := u.finish(false)
	return b
}

// checkHZRoundTrip encodes a sequence of frames with one encoder, decodes
// them with one client, and checks the client's picture after each:
// frame i is sent as the rectangles rects[i] (the whole frame if nil).
func checkHZRoundTrip(t *testing.T, newEnc func() encoder, e Encoding, pf PixelFormat, frames []*Image, rects [][]image.Rectangle) {
	t.Helper()
	enc := newEnc()
	var stream []byte
	for i, f := range frames {
		rs := []image.Rectangle{f.Bounds()}
		if rects != nil && rects[i] != nil {
			rs = rects[i]
		}
		stream = append(stream, hzEncodeUpdate(t, enc, pf, f, rs...)...)
	}
	w, h := frames[0].W, frames[0].H
	c, _ := parsingClient(t, w, h, pf, []Encoding{e}, bytes.NewReader(stream), ClientLimits{})
	want := NewImage(w, h)
	for i, f := range frames {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		u := m.(*FramebufferUpdate)
		for _, r := range u.Rects {
			if r.Encoding != e {
				t.Fatalf("frame %d: %v rectangle", i, r.Encoding)
			}
		}
		rs := []image.Rectangle{f.Bounds()}
		if rects != nil && rects[i] != nil {
			rs = rects[i]
		}
		q := quantizedImage(f, pf)
		for _, r := range rs {
			want.copyFrom(r.Min, q, r)
		}
		if d := imageDiff(c.Framebuffer(), want); d != "" {
			t.Fatalf("frame %d: %s", i, d)
		}
	}
	if _, err := c.ReadMessage(); err == nil {
		t.Fatal("bytes left after the last update")
	}
}

var hzSizes = []image.Point{{1, 1}, {17, 33}, {16, 16}, {65, 64}, {130, 70}}

// testHZRoundTrips is the golden round trip of one encoding: every
// format, kind of content and size, each as several consecutive
// updates on one connection (whole frame, then changed parts).
func testHZRoundTrips(t *testing.T, newEnc func() encoder, e Encoding) {
	for _, f := range hzFormats {
		for _, k := range synthKinds {
			for _, sz := range hzSizes {
				t.Run(fmt.Sprintf("%s/%s/%dx%d", f.name, k.name, sz.X, sz.Y), func(t *testing.T) {
					a := k.make(sz.X, sz.Y, 1)
					b := a.Clone()
					part := image.Rect(sz.X/3, sz.Y/4, sz.X, max(sz.Y*3/4, sz.Y/4+1))
					other := k.make(sz.X, sz.Y, 2)
					b.copyFrom(part.Min, other, part)
					c := b.Clone()
					noise := synthNoise(sz.X, sz.Y, 3)
					c.copyFrom(image.Point{}, noise, image.Rect(0, 0, sz.X/2+1, sz.Y/2+1))
					frames := []*Image{a, b, c, a}
					rects := [][]image.Rectangle{nil, {part}, {image.Rect(0, 0, sz.X/2+1, sz.Y/2+1), part}, nil}
					checkHZRoundTrip(t, newEnc, e, f.pf, frames, rects)
				})
			}
		}
	}
}

func TestHextileRoundTrip(t *testing.T) {
	testHZRoundTrips(t, func() encoder { return hextileEncoder{} }, EncHextile)
}

// TestRoundTrip1080p sends big frames, which are encoded in parallel.
func TestRoundTrip1080p(t *testing.T) {
	for _, tc := range []struct {
		e   Encoding
		enc func() encoder
	}{
		{EncHextile, func() encoder { return hextileEncoder{} }},
		{EncZRLE, func() encoder { return new(zrleEncoder) }},
	} {
		for _, pf := range []PixelFormat{NativeFormat, FormatRGB565, FormatRGB332} {
			t.Run(tc.e.String()+"/"+pf.String(), func(t *testing.T) {
				a := synthDesktop(1920, 1080, 1)
				b := a.Clone()
				r := image.Rect(100, 90, 1500, 1000)
				b.copyFrom(r.Min, synthNoise(1920, 1080, 5), r)
				checkHZRoundTrip(t, tc.enc, tc.e, pf, []*Image{a, b}, [][]image.Rectangle{nil, {r}})
			})
		}
	}
}

// TestHextileTileChoice checks the bytes of the tile kinds the encoder
// must get exactly right.
func TestHextileTileChoice(t *testing.T) {
	enc := hextileEncoder{}
	body := func(img *Image, r image.Rectangle) []byte {
		return hzEncodeUpdate(t, enc, NativeFormat, img, r)[4+12:]
	}
	solid := NewImage(48, 16)
	solid.Fill(solid.Bounds(), 0x123456)
	// Background once, then one byte per tile.
	if got, want := body(solid, solid.Bounds()), []byte{hextileBg, 0x56, 0x34, 0x12, 0, 0x00, 0, 0, 0}[:7]; !bytes.Equal(got, want) {
		t.Errorf("solid tiles: % x, want % x", got, want)
	}
	// Two colours: mono subrects with a foreground.
	two := solid.Clone()
	two.Fill(image.Rect(2, 3, 5, 4), 0xffffff)
	if got, want := body(two, image.Rect(0, 0, 16, 16)), []byte{hextileBg | hextileFg | hextileSubrects, 0x56, 0x34, 0x12, 0, 0xff, 0xff, 0xff, 0, 1, 0x23, 0x20}; !bytes.Equal(got, want) {
		t.Errorf("two-colour tile: % x, want % x", got, want)
	}
	// Noise goes raw.
	noise := synthNoise(16, 16, 1)
	if got := body(noise, noise.Bounds()); got[0] != hextileRaw || len(got) != 1+16*16*4 {
		t.Errorf("noise tile: mask %#x, %d bytes", got[0], len(got))
	}
	// After a raw tile, a solid tile must name its background again.
	mixed := NewImage(32, 16)
	mixed.copyFrom(image.Point{}, noise, noise.Bounds())
	if got := body(mixed, mixed.Bounds()); got[1+16*16*4] != hextileBg {
		t.Errorf("tile after raw: mask %#x", got[1+16*16*4])
	}
	// Three colours: coloured subrects, then the foreground must be sent
	// again for a mono tile.
	three := NewImage(32, 16)
	three.Fill(image.Rect(1, 1, 3, 3), 0xff0000)
	three.Fill(image.Rect(5, 5, 7, 7), 0x00ff00)
	three.Fill(image.Rect(17, 1, 19, 3), 0xff0000)
	got := body(three, three.Bounds())
	if got[0] != hextileBg|hextileSubrects|hextileColoured {
		t.Fatalf("three-colour tile: mask %#x", got[0])
	}
	second := got[1+4+1+2*6:]
	if second[0] != hextileFg|hextileSubrects {
		t.Errorf("mono tile after coloured: mask %#x", second[0])
	}
}

// TestHextileEndToEnd drives the real client against the real server.
func TestHextileEndToEnd(t *testing.T) { testHZEndToEnd(t, EncHextile) }

func testHZEndToEnd(t *testing.T, e Encoding) {
	for _, pf := range []PixelFormat{NativeFormat, FormatRGB565, FormatRGB332} {
		t.Run(pf.String(), func(t *testing.T) {
			src := synthDesktop(300, 200, 7)
			fb := NewFramebufferFromImage(src)
			c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
			if err := c.SetPixelFormat(pf); err != nil {
				t.Fatal(err)
			}
			if err := c.SetEncodings(e, EncRaw); err != nil {
				t.Fatal(err)
			}
			u := fullUpdate(t, c)
			for _, r := range u.Rects {
				if r.Encoding != e {
					t.Errorf("rectangle in %v", r.Encoding)
				}
			}
			checkImage(t, c, quantizedImage(src, pf))
			for i := range 5 {
				fb.Update(func(img *Image) []image.Rectangle {
					r := image.Rect(10+i*30, 5+i*20, 90+i*35, 70+i*25)
					img.DrawImage(r.Min, synthNoise(100, 100, uint64(i)), image.Rect(0, 0, r.Dx(), r.Dy()))
					r2 := image.Rect(200, 150-i*10, 290, 190)
					img.Fill(r2, 0x010203*uint32(i+1))
					return []image.Rectangle{r, r2}
				})
				if err := c.RequestUpdate(true, image.Rect(0, 0, 300, 200)); err != nil {
					t.Fatal(err)
				}
				nextUpdate(t, c)
				checkImage(t, c, quantizedImage(fb.Snapshot(), pf))
			}
		})
	}
}

// benchHZEncode reports Mpx/s and the ratio of raw 32-bit bytes to encoded
// bytes for full 1080p desktop-like frames.
func benchHZEncode(b *testing.B, newEnc func() encoder) {
	img := synthDesktop(1920, 1080, 1)
	for _, pf := range []PixelFormat{NativeFormat, FormatRGB565} {
		b.Run(pf.String(), func(b *testing.B) {
			enc := newEnc()
			u := updateWriter{conv: newConverter(pf), quality: -1, compress: -1}
			var n int
			for b.Loop() {
				u.begin(u.buf[:0])
				if err := enc.encode(&u, img, img.Bounds()); err != nil {
					b.Fatal(err)
				}
				n = len(u.buf)
			}
			px := float64(img.W * img.H)
			b.ReportMetric(px*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpx/s")
			b.ReportMetric(px*float64(pf.BytesPerPixel())/float64(n), "ratio")
		})
	}
}

func BenchmarkHextile(b *testing.B) { benchHZEncode(b, func() encoder { return hextileEncoder{} }) }

func BenchmarkHextileDecode(b *testing.B) {
	benchHZDecode(b, func() encoder { return hextileEncoder{} }, EncHextile)
}

// benchHZDecode measures the client decoding one 1080p frame.
func benchHZDecode(b *testing.B, newEnc func() encoder, e Encoding) {
	img := synthDesktop(1920, 1080, 1)
	enc := newEnc()
	// ZRLE frames depend on the stream before them, so decode a long
	// stream of the same frame encoded over and over.
	var msgs [][]byte
	for range 200 {
		msgs = append(msgs, hzEncodeUpdate(b, enc, NativeFormat, img, img.Bounds()))
	}
	r := &hzMsgReader{msgs: msgs}
	c, _ := parsingClient(b, 1920, 1080, NativeFormat, []Encoding{e}, r, ClientLimits{})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i == len(msgs) {
			b.StopTimer()
			r.msgs, r.cur = msgs, nil
			c, _ = parsingClient(b, 1920, 1080, NativeFormat, []Encoding{e}, r, ClientLimits{})
			i = 0
			b.StartTimer()
		}
		if _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(img.W*img.H)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpx/s")
}

// hzMsgReader reads msgs one after another.
type hzMsgReader struct {
	msgs [][]byte
	cur  []byte
}

func (r *hzMsgReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if len(r.msgs) == 0 {
			return 0, fmt.Errorf("no more messages")
		}
		r.cur, r.msgs = r.msgs[0], r.msgs[1:]
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
