package rfb

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"image"
	"io"
	"testing"
)

func TestZRLERoundTrip(t *testing.T) {
	testHZRoundTrips(t, func() encoder { return new(zrleEncoder) }, EncZRLE)
}

func TestZRLEEndToEnd(t *testing.T) { testHZEndToEnd(t, EncZRLE) }

func TestCPixelLayout(t *testing.T) {
	for _, tc := range []struct {
		pf    PixelFormat
		size  int
		three bool
		high  bool
	}{
		{pf: NativeFormat, size: 3, three: true},
		{pf: hzFormats[1].pf, size: 3, three: true},             // BE xrgb: the low bytes, last on the wire
		{pf: hzFormats[2].pf, size: 3, three: true, high: true}, // BE rgbx: the high bytes, first on the wire
		{pf: hzFormats[4].pf, size: 4},                          // depth 30
		{pf: FormatRGB565, size: 2},
		{pf: FormatRGB332, size: 1},
	} {
		l := newCPixelLayout(tc.pf)
		if l.size != tc.size || l.three != tc.three || l.high != tc.high {
			t.Errorf("%v: %+v", tc.pf, l)
		}
	}
	// The CPIXEL is the PIXEL's wire bytes without the unused one.
	for _, f := range hzFormats[:4] {
		conv := newConverter(f.pf)
		tl := zrleTiler{conv: conv, cp: newCPixelLayout(f.pf)}
		v := conv.pixelRGB(0x123456)
		pixel := conv.appendPixel(nil, v)
		cpixel := tl.appendCPixel(nil, v)
		if !bytes.Contains(pixel, cpixel) || bytes.Count(pixel, []byte{0}) != 1 {
			t.Errorf("%s: PIXEL % x, CPIXEL % x", f.name, pixel, cpixel)
		}
	}
}

// zrleTiles inflates the rectangles of a ZRLE update (stream from the
// start) and returns the subencoding of each tile of the first rect.
func zrleSubencodings(t *testing.T, pf PixelFormat, img *Image) []byte {
	t.Helper()
	msg := hzEncodeUpdate(t, new(zrleEncoder), pf, img, img.Bounds())
	n := binary.BigEndian.Uint32(msg[16:])
	zr, err := zlib.NewReader(bytes.NewReader(msg[20 : 20+n]))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(zr) // ends unexpectedly: the stream is not closed
	var subs []byte
	c, _ := parsingClient(t, img.W, img.H, pf, []Encoding{EncZRLE}, bytes.NewReader(msg), ClientLimits{})
	if _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 {
		subs = append(subs, data[0])
	}
	return subs
}

// TestZRLETileChoice checks that each kind of tile picks the expected
// subencoding.
func TestZRLETileChoice(t *testing.T) {
	for _, tc := range []struct {
		name string
		img  *Image
		want func(byte) bool
	}{
		{"solid", synthKinds[0].make(64, 64, 1), func(s byte) bool { return s == 1 }},
		{"two colours", synthText(64, 64, 1), func(s byte) bool { return s == 2 || s == 130 }},
		{"16 colours", synthPalette(64, 64, 1), func(s byte) bool { return s >= 2 && s <= 16 || s >= 130 }},
		{"noise", synthNoise(64, 64, 1), func(s byte) bool { return s == 0 }},
		{"stripes", func() *Image {
			m := NewImage(64, 64)
			for y := 0; y < 64; y += 8 {
				m.Fill(image.Rect(0, y, 64, y+4), uint32(y)*0x030507)
			}
			for x := 0; x < 64; x += 16 {
				m.Fill(image.Rect(x, 0, x+1, 64), uint32(x)*0x0a0b0c+7)
			}
			return m
		}(), func(s byte) bool { return s >= 130 }},
	} {
		subs := zrleSubencodings(t, NativeFormat, tc.img)
		if len(subs) != 1 || !tc.want(subs[0]) {
			t.Errorf("%s: subencoding %v", tc.name, subs)
		}
	}
}

func BenchmarkZRLE(b *testing.B) { benchHZEncode(b, func() encoder { return new(zrleEncoder) }) }

func BenchmarkZRLEDecode(b *testing.B) {
	benchHZDecode(b, func() encoder { return new(zrleEncoder) }, EncZRLE)
}

// BenchmarkZRLELevel compares zlib levels, the choice of zrleDefaultLevel.
func BenchmarkZRLELevel(b *testing.B) {
	img := synthDesktop(1920, 1080, 1)
	for _, level := range []int{1, 2, 3, 6} {
		b.Run(string(rune('0'+level)), func(b *testing.B) {
			enc := new(zrleEncoder)
			u := updateWriter{conv: newConverter(NativeFormat), quality: -1, compress: level}
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
			b.ReportMetric(px*4/float64(n), "ratio")
		})
	}
}
