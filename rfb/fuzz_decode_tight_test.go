package rfb

import (
	"bytes"
	"image"
	"io"
	"testing"
)

// tightFuzzFormats are the pixel formats FuzzDecodeTight decodes in: the
// TPIXEL 3-byte case, a 32 bpp non-TPIXEL format, 16 and 8 bpp.
var tightFuzzFormats = []PixelFormat{NativeFormat, tightFormats[3].pf, FormatRGB565, FormatRGB332}

const tightFuzzW, tightFuzzH = 48, 32

// FuzzDecodeTight feeds the client byte streams of FramebufferUpdates in
// Tight or TightPNG. The first byte picks the pixel format (bits 0-1)
// and the encoding (bit 2). Seeds are real encoder output, several
// updates on one connection (so stream persistence and resets are in the
// corpus), lossless and JPEG.
func FuzzDecodeTight(f *testing.F) {
	for fi, pf := range tightFuzzFormats {
		for pi, e := range []Encoding{EncTight, EncTightPNG} {
			for _, q := range []int{-1, 8} {
				// Small inputs keep the fuzzer fast: one seed per kind
				// of content, and one stream of three updates.
				var stream []byte
				enc := newTightEncoder(e == EncTightPNG)
				for i, k := range tightKinds {
					img := k.make(tightFuzzW, tightFuzzH, uint64(i))
					if k.name == "noise" && q >= 0 {
						img = tightPhoto(tightFuzzW, tightFuzzH, 1)
					}
					msg := tightUpdate(f, newTightEncoder(e == EncTightPNG), pf, q, -1, img, img.Bounds())
					f.Add(append([]byte{byte(fi | pi<<2)}, msg...))
					if i < 3 {
						stream = append(stream, tightUpdate(f, enc, pf, q, i*3-1, img, image.Rect(i, 2*i, tightFuzzW-i, tightFuzzH))...)
					}
				}
				f.Add(append([]byte{byte(fi | pi<<2)}, stream...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		pf := tightFuzzFormats[data[0]&3]
		e := EncTight
		if data[0]&4 != 0 {
			e = EncTightPNG
		}
		c, _ := parsingClient(t, tightFuzzW, tightFuzzH, pf, []Encoding{e, EncLastRect, EncQualityLevel0 + 8}, bytes.NewReader(data[1:]), ClientLimits{})
		for range 64 {
			if _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})
}

// TestTightDecodeChunked decodes a real stream read a few bytes at a time.
func TestTightDecodeChunked(t *testing.T) {
	img := tightDesktop(300, 200, 1)
	msg := tightUpdate(t, newTightEncoder(false), NativeFormat, -1, -1, img, img.Bounds())
	c, _ := parsingClient(t, img.W, img.H, NativeFormat, []Encoding{EncTight}, &tightChunkReader{b: msg}, ClientLimits{})
	if _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if d := imageDiff(c.Framebuffer(), img); d != "" {
		t.Fatal(d)
	}
}

type tightChunkReader struct{ b []byte }

func (r *tightChunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 3)], r.b)
	r.b = r.b[n:]
	return n, nil
}
