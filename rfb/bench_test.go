package rfb

import (
	"image"
	"math/rand/v2"
	"testing"
	"time"
)

const benchW, benchH = 1920, 1080

// benchImage is a 1080p frame of pseudo-random pixels: the worst case for
// table lookups' caches is no better than real screens.
func benchImage() *Image {
	m := NewImage(benchW, benchH)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range m.Pix {
		m.Pix[i] = byte(r.Uint32())
	}
	return m
}

// BenchmarkCopy1080p is the floor Raw is measured against: one copy of a
// frame's bytes.
func BenchmarkCopy1080p(b *testing.B) {
	src := benchImage()
	dst := make([]byte, len(src.Pix))
	b.SetBytes(int64(len(src.Pix)))
	for b.Loop() {
		copy(dst, src.Pix)
	}
}

// BenchmarkRaw1080p encodes a whole frame as Raw for a client in the
// server's own format.
func BenchmarkRaw1080p(b *testing.B) {
	benchEncode(b, rawEncoder{}, NativeFormat)
}

// BenchmarkRaw1080pRGBX is Raw for noVNC's format (red in the low byte).
func BenchmarkRaw1080pRGBX(b *testing.B) {
	benchEncode(b, rawEncoder{}, PixelFormat{BPP: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, GreenShift: 8, BlueShift: 16})
}

func benchEncode(b *testing.B, e encoder, pf PixelFormat) {
	src := benchImage()
	u := updateWriter{conv: newConverter(pf), quality: -1, compress: -1}
	var buf []byte
	b.SetBytes(int64(len(src.Pix)))
	start := time.Now()
	for b.Loop() {
		u.begin(buf[:0])
		if err := e.encode(&u, src, src.Bounds()); err != nil {
			b.Fatal(err)
		}
		buf, _ = u.finish(false)
	}
	b.ReportMetric(float64(benchW*benchH)*float64(b.N)/time.Since(start).Seconds()/1e6, "Mpx/s")
}

// BenchmarkConvert measures pixel-format conversion of a 1080p frame.
func BenchmarkConvert(b *testing.B) {
	for _, tc := range []struct {
		name string
		pf   PixelFormat
	}{
		{"16bpp-565", FormatRGB565},
		{"16bpp-565-BE", func() PixelFormat { f := FormatRGB565; f.BigEndian = true; return f }()},
		{"8bpp-332", FormatRGB332},
		{"32bpp-BE", func() PixelFormat { f := NativeFormat; f.BigEndian = true; return f }()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src := benchImage()
			c := newConverter(tc.pf)
			dst := make([]byte, 0, benchW*benchH*4)
			start := time.Now()
			for b.Loop() {
				dst = c.appendRect(dst[:0], src, src.Bounds())
			}
			b.ReportMetric(float64(benchW*benchH)*float64(b.N)/time.Since(start).Seconds()/1e6, "Mpx/s")
		})
	}
}

// BenchmarkUpdatePipeline1080p takes a full-frame change through the
// framebuffer into a Raw update, as a connection does: take and encode
// under the read lock.
func BenchmarkUpdatePipeline1080p(b *testing.B) {
	fb := NewFramebufferFromImage(benchImage())
	s := fb.subscribe()
	u := updateWriter{conv: newConverter(NativeFormat), quality: -1, compress: -1}
	var buf []byte
	full := image.Rect(0, 0, benchW, benchH)
	b.SetBytes(benchW * benchH * 4)
	for b.Loop() {
		fb.refresh(s, full)
		fb.readLocked(func(img *Image) {
			f := fb.take(s, full, false)
			u.begin(buf[:0])
			for _, r := range f.dirty.rects {
				rawEncoder{}.encode(&u, img, r)
			}
			buf, _ = u.finish(false)
		})
	}
}
