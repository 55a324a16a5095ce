package rfb

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"testing"
)

// The Hextile and ZRLE decoders read what servers we do not control
// send. Each fuzz input is used twice: as the data of one rectangle,
// which must decode or fail cleanly, and as pixels, which must survive
// encode and decode exactly.

// fuzzHZFormats are the client formats the fuzzers pick from.
var fuzzHZFormats = []PixelFormat{NativeFormat, hzFormats[2].pf, FormatRGB565, FormatRGB332, hzFormats[4].pf}

func fuzzHZSize(w, h uint8) (int, int) { return int(w%80) + 1, int(h%80) + 1 }

// fuzzDecodeRect feeds data as one rectangle of encoding e to a client.
func fuzzDecodeRect(t *testing.T, e Encoding, pf PixelFormat, w, h int, data []byte) {
	msg := updateBytes(1, rectBytes(0, 0, w, h, e, data...))
	c, _ := parsingClient(t, w, h, pf, []Encoding{e}, bytes.NewReader(msg), ClientLimits{})
	c.ReadMessage() // an error is fine; a panic or a hang is not
}

// fuzzEncodeDecode uses data as the pixels of a w×h image (repeated or
// cut to size) in a few colours or many, and checks the round trip.
func fuzzEncodeDecode(t *testing.T, enc encoder, e Encoding, pf PixelFormat, w, h int, data []byte) {
	if len(data) == 0 {
		return
	}
	img := NewImage(w, h)
	few := data[0]&1 == 0
	for i := 0; i < w*h; i++ {
		v := uint32(data[i%len(data)])
		if few {
			v = (v & 7) * 0x252525
		} else {
			v = v*0x010307 ^ uint32(data[(i*7)%len(data)])<<16
		}
		img.Pix[i*4], img.Pix[i*4+1], img.Pix[i*4+2] = byte(v), byte(v>>8), byte(v>>16)
	}
	msg := hzEncodeUpdate(t, enc, pf, img, img.Bounds())
	c, _ := parsingClient(t, w, h, pf, []Encoding{e}, bytes.NewReader(msg), ClientLimits{})
	if _, err := c.ReadMessage(); err != nil {
		t.Fatalf("decoding our own %v: %v", e, err)
	}
	if d := imageDiff(c.Framebuffer(), quantizedImage(img, pf)); d != "" {
		t.Fatalf("%v round trip: %s", e, d)
	}
}

// hzSeeds adds encoder output for a few images and formats, whole and
// truncated.
func hzSeeds(f *testing.F, enc func() encoder, wire func(msg []byte) []byte) {
	for i, k := range synthKinds {
		for j, pf := range fuzzHZFormats {
			w, h := 20+i*13, 17+j*11
			img := k.make(w, h, uint64(i))
			msg := hzEncodeUpdate(f, enc(), pf, img, img.Bounds())
			data := wire(msg[4+12:])
			f.Add(data, uint8(w-1), uint8(h-1), uint8(j))
			f.Add(data[:len(data)/2], uint8(w-1), uint8(h-1), uint8(j))
			f.Add(data[:len(data)-1], uint8(w-1), uint8(h-1), uint8(j))
		}
	}
}

func FuzzDecodeHextile(f *testing.F) {
	hzSeeds(f, func() encoder { return hextileEncoder{} }, func(b []byte) []byte { return b })
	f.Add([]byte{hextileSubrects | hextileColoured, 255}, uint8(15), uint8(15), uint8(0))
	f.Add([]byte{hextileBg | hextileSubrects, 1, 2, 3, 4, 1, 0xff, 0xff}, uint8(15), uint8(15), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, w8, h8, fi uint8) {
		w, h := fuzzHZSize(w8, h8)
		pf := fuzzHZFormats[int(fi)%len(fuzzHZFormats)]
		fuzzDecodeRect(t, EncHextile, pf, w, h, data)
		fuzzEncodeDecode(t, hextileEncoder{}, EncHextile, pf, w, h, data)
	})
}

func FuzzDecodeZRLE(f *testing.F) {
	// Seeds are inflated tile streams, which the target compresses; the
	// encoder's own first rectangle inflates to exactly that.
	hzSeeds(f, func() encoder { return new(zrleEncoder) }, func(b []byte) []byte {
		n := binary.BigEndian.Uint32(b)
		var out bytes.Buffer
		zr, err := zlib.NewReader(bytes.NewReader(b[4 : 4+n]))
		if err == nil {
			out.ReadFrom(zr)
		}
		return out.Bytes()
	})
	f.Add([]byte{2, 1, 2, 3, 4, 5, 6, 0xff}, uint8(63), uint8(0), uint8(0))
	f.Add([]byte{130, 1, 2, 3, 4, 5, 6, 0x81, 255, 255, 255}, uint8(63), uint8(63), uint8(0))
	f.Add([]byte{128, 1, 2, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 10}, uint8(63), uint8(63), uint8(0))
	f.Add([]byte{17}, uint8(3), uint8(3), uint8(1))
	// Deflaters are costly to make, so one of each serves every input,
	// restarted each time.
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	enc := new(zrleEncoder)
	f.Fuzz(func(t *testing.T, data []byte, w8, h8, fi uint8) {
		w, h := fuzzHZSize(w8, h8)
		pf := fuzzHZFormats[int(fi)%len(fuzzHZFormats)]
		z.Reset()
		zw.Reset(&z)
		zw.Write(data)
		zw.Flush()
		wire := binary.BigEndian.AppendUint32(nil, uint32(z.Len()))
		fuzzDecodeRect(t, EncZRLE, pf, w, h, append(wire, z.Bytes()...))
		// Raw bytes as the compressed data, length and all.
		fuzzDecodeRect(t, EncZRLE, pf, w, h, data)
		if enc.zw != nil {
			enc.zw.Reset(&enc.zbuf)
		}
		fuzzEncodeDecode(t, enc, EncZRLE, pf, w, h, data)
	})
}

// TestZRLEStreamAcrossRects checks that rectangles of one update and of
// later updates continue one zlib stream, and that a client joining
// mid-stream fails cleanly rather than misreading.
func TestZRLEStreamAcrossRects(t *testing.T) {
	img := synthDesktop(200, 150, 3)
	enc := new(zrleEncoder)
	rects := []image.Rectangle{image.Rect(0, 0, 100, 150), image.Rect(100, 0, 200, 70), image.Rect(100, 70, 200, 150)}
	first := hzEncodeUpdate(t, enc, NativeFormat, img, rects...)
	second := hzEncodeUpdate(t, enc, NativeFormat, img, img.Bounds())
	c, _ := parsingClient(t, 200, 150, NativeFormat, []Encoding{EncZRLE}, bytes.NewReader(append(first, second...)), ClientLimits{})
	for range 2 {
		if _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		checkImage(t, c, img)
	}
	late, _ := parsingClient(t, 200, 150, NativeFormat, []Encoding{EncZRLE}, bytes.NewReader(second), ClientLimits{})
	if _, err := late.ReadMessage(); err == nil {
		t.Error("a stream without its start decoded")
	}
}

// zrleRect is a ZRLE rectangle's data for inflated tile bytes, as the
// first rectangle of a stream.
func zrleRect(tiles []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(tiles)
	zw.Flush()
	return append(binary.BigEndian.AppendUint32(nil, uint32(z.Len())), z.Bytes()...)
}

// TestDecodeHZErrors checks that malformed rectangles are refused as
// protocol errors.
func TestDecodeHZErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Encoding
		w, h int
		data []byte
	}{
		{"hextile subrect outside tile", EncHextile, 8, 8, []byte{hextileBg | hextileSubrects, 1, 2, 3, 0, 1, 0x77, 0x10}},
		{"hextile truncated", EncHextile, 32, 8, []byte{hextileBg, 1, 2, 3, 0}},
		{"zrle length too big", EncZRLE, 8, 8, []byte{0, 0x10, 0, 0}},
		{"zrle not zlib", EncZRLE, 8, 8, []byte{0, 0, 0, 4, 1, 2, 3, 4}},
		{"zrle subencoding 17", EncZRLE, 8, 8, zrleRect([]byte{17})},
		{"zrle subencoding 129", EncZRLE, 8, 8, zrleRect([]byte{129})},
		{"zrle palette index", EncZRLE, 8, 1, zrleRect([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xff, 0xff})},
		{"zrle palette RLE index", EncZRLE, 8, 8, zrleRect([]byte{130, 1, 2, 3, 4, 5, 6, 5})},
		{"zrle run past tile", EncZRLE, 8, 8, zrleRect([]byte{128, 1, 2, 3, 64})},
		{"zrle tiles short", EncZRLE, 8, 8, zrleRect([]byte{0, 1, 2, 3})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := updateBytes(1, rectBytes(0, 0, tc.w, tc.h, tc.e, tc.data...))
			c, _ := parsingClient(t, tc.w, tc.h, NativeFormat, []Encoding{tc.e}, bytes.NewReader(msg), ClientLimits{})
			_, err := c.ReadMessage()
			var pe *ProtocolError
			if !errors.As(err, &pe) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("got %v, want a protocol error", err)
			}
		})
	}
}
