package rfbtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"io"
	"strings"
	"testing"
)

// xwdFile describes a synthetic XWD for encodeXWD.
type xwdFile struct {
	width, height int
	depth, bpp    int
	lsbFirst      bool
	masks         [3]uint32
	name          string
	ncolors       int
	linePad       int      // extra bytes at the end of each row
	pixels        []uint32 // raw pixel values, row by row
}

// encodeXWD writes f the way xwd does: big-endian header, window name,
// colormap, then rows of pixels in f's byte order.
func encodeXWD(f xwdFile) []byte {
	bpl := f.width*f.bpp/8 + f.linePad
	header := [25]uint32{
		0:  uint32(xwdHeaderLen + len(f.name) + 1),
		1:  xwdVersion,
		2:  xwdZPixmap,
		3:  uint32(f.depth),
		4:  uint32(f.width),
		5:  uint32(f.height),
		7:  xwdMSBFirst,
		8:  32,
		9:  xwdMSBFirst,
		10: 32,
		11: uint32(f.bpp),
		12: uint32(bpl),
		13: xwdTrueColor,
		14: f.masks[0],
		15: f.masks[1],
		16: f.masks[2],
		17: 8,
		18: uint32(f.ncolors),
		19: uint32(f.ncolors),
		20: uint32(f.width),
		21: uint32(f.height),
	}
	if f.lsbFirst {
		header[7] = xwdLSBFirst
	}
	var b bytes.Buffer
	for _, v := range header {
		binary.Write(&b, binary.BigEndian, v)
	}
	b.WriteString(f.name)
	b.WriteByte(0)
	for i := range f.ncolors {
		var c [xwdColorLen]byte
		binary.BigEndian.PutUint32(c[0:], uint32(i))
		binary.BigEndian.PutUint16(c[4:], uint16(i*257))
		b.Write(c[:])
	}
	order := binary.ByteOrder(binary.BigEndian)
	if f.lsbFirst {
		order = binary.LittleEndian
	}
	for y := range f.height {
		for x := range f.width {
			v := f.pixels[y*f.width+x]
			var p [4]byte
			switch f.bpp {
			case 32:
				order.PutUint32(p[:], v)
			case 16:
				order.PutUint16(p[:], uint16(v))
			case 24:
				if f.lsbFirst {
					p[0], p[1], p[2] = byte(v), byte(v>>8), byte(v>>16)
				} else {
					p[0], p[1], p[2] = byte(v>>16), byte(v>>8), byte(v)
				}
			}
			b.Write(p[:f.bpp/8])
		}
		b.Write(make([]byte, f.linePad))
	}
	return b.Bytes()
}

var (
	masks888 = [3]uint32{0xff0000, 0x00ff00, 0x0000ff}
	masks565 = [3]uint32{0xf800, 0x07e0, 0x001f}
)

func TestDecodeXWD(t *testing.T) {
	// 3x2 pixels: red, green, blue / white, black, orange-ish.
	pix888 := []uint32{0xff0000, 0x00ff00, 0x0000ff, 0xffffff, 0x000000, 0xff8000}
	want888 := []color.RGBA{
		{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255},
		{255, 255, 255, 255}, {0, 0, 0, 255}, {255, 128, 0, 255},
	}
	// RGB565: 0x8000 has red 16 → 16*255/31 = 131.6 → 132; 0x0400 has
	// green 32 → 129.5 → 130; 0x0001 has blue 1 → 8.2 → 8.
	pix565 := []uint32{0xf800, 0x07e0, 0x001f, 0xffff, 0x8000, 0x0401}
	want565 := []color.RGBA{
		{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255},
		{255, 255, 255, 255}, {132, 0, 0, 255}, {0, 130, 8, 255},
	}
	// BGR with 32 bpp, as some servers lay it out.
	pixBGR := []uint32{0x0000ff, 0x00ff00, 0xff0000, 0xffffff, 0x000000, 0x0080ff}
	tests := []struct {
		name string
		f    xwdFile
		want []color.RGBA
	}{
		{"32bpp LSB", xwdFile{bpp: 32, depth: 24, lsbFirst: true, masks: masks888, pixels: pix888, ncolors: 256, name: "xwdump"}, want888},
		{"32bpp MSB", xwdFile{bpp: 32, depth: 24, masks: masks888, pixels: pix888}, want888},
		{"32bpp BGR", xwdFile{bpp: 32, depth: 24, lsbFirst: true, masks: [3]uint32{0xff, 0xff00, 0xff0000}, pixels: pixBGR}, want888},
		{"24bpp LSB padded", xwdFile{bpp: 24, depth: 24, lsbFirst: true, masks: masks888, pixels: pix888, linePad: 3}, want888},
		{"24bpp MSB", xwdFile{bpp: 24, depth: 24, masks: masks888, pixels: pix888}, want888},
		{"16bpp LSB", xwdFile{bpp: 16, depth: 16, lsbFirst: true, masks: masks565, pixels: pix565, ncolors: 64, name: "xwdump"}, want565},
		{"16bpp MSB padded", xwdFile{bpp: 16, depth: 16, masks: masks565, pixels: pix565, linePad: 2}, want565},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.width, tt.f.height = 3, 2
			img, err := DecodeXWD(bytes.NewReader(encodeXWD(tt.f)))
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds() != image.Rect(0, 0, 3, 2) {
				t.Fatalf("bounds %v, want 3x2", img.Bounds())
			}
			for i, want := range tt.want {
				if got := img.RGBAAt(i%3, i/3); got != want {
					t.Errorf("pixel (%d,%d) = %v, want %v", i%3, i/3, got, want)
				}
			}
		})
	}
}

// TestDecodeXWD565MatchesQuantize checks the promise in DecodeXWD's doc: a
// colour drawn on a 565 screen decodes to Quantize(colour, 31, 63, 31),
// given that the X server rounds the colour to 565 the same way.
func TestDecodeXWD565MatchesQuantize(t *testing.T) {
	var pixels []uint32
	src := image.NewRGBA(image.Rect(0, 0, 256, 1))
	for c := range 256 {
		r, g, b := uint32(c), uint32(255-c), uint32(c/2)
		src.SetRGBA(c, 0, color.RGBA{uint8(r), uint8(g), uint8(b), 255})
		q := func(v, m uint32) uint32 { return (v*m + 127) / 255 }
		pixels = append(pixels, q(r, 31)<<11|q(g, 63)<<5|q(b, 31))
	}
	f := xwdFile{width: 256, height: 1, bpp: 16, depth: 16, lsbFirst: true, masks: masks565, pixels: pixels}
	img, err := DecodeXWD(bytes.NewReader(encodeXWD(f)))
	if err != nil {
		t.Fatal(err)
	}
	if n, _, d := Diff(img, Quantize(src, 31, 63, 31)); n != 0 {
		t.Error(d)
	}
}

func TestDecodeXWDErrors(t *testing.T) {
	good := xwdFile{width: 2, height: 2, bpp: 32, depth: 24, lsbFirst: true, masks: masks888, pixels: make([]uint32, 4), name: "w", ncolors: 2}
	valid := encodeXWD(good)
	if _, err := DecodeXWD(bytes.NewReader(valid)); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	setField := func(i int, v uint32) []byte {
		b := bytes.Clone(valid)
		binary.BigEndian.PutUint32(b[4*i:], v)
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty", nil, "header"},
		{"short header", valid[:50], "header"},
		{"version", setField(1, 6), "file version 6"},
		{"header size", setField(0, 99), "header size"},
		{"XYPixmap", setField(2, 1), "only ZPixmap"},
		{"PseudoColor", setField(13, 3), "only TrueColor"},
		{"8 bpp", setField(11, 8), "8 bits per pixel"},
		{"byte order", setField(7, 2), "byte order 2"},
		{"xoffset", setField(6, 1), "x offset"},
		{"zero width", setField(4, 0), "size 0x2"},
		{"huge", setField(4, 1<<20), "out of range"},
		{"bytes per line", setField(12, 4), "bytes per line"},
		{"too many colors", setField(19, 1<<20), "colormap entries"},
		{"empty mask", setField(14, 0), "mask 0x0"},
		{"gappy mask", setField(15, 0xf0f0), "not contiguous"},
		{"truncated colormap", valid[:xwdHeaderLen+2+10], "colormap"},
		{"truncated pixels", valid[:len(valid)-1], "pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeXWD(bytes.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(tt.name, "short") || strings.Contains(tt.name, "truncated") || tt.name == "empty" {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("error %v does not wrap io.ErrUnexpectedEOF", err)
				}
			}
		})
	}
}

func FuzzDecodeXWD(f *testing.F) {
	f.Add(encodeXWD(xwdFile{width: 3, height: 2, bpp: 32, depth: 24, lsbFirst: true, masks: masks888, pixels: make([]uint32, 6), name: "xwdump", ncolors: 4}))
	f.Add(encodeXWD(xwdFile{width: 2, height: 2, bpp: 16, depth: 16, masks: masks565, pixels: []uint32{1, 2, 3, 0xffff}, linePad: 2}))
	f.Add(encodeXWD(xwdFile{width: 1, height: 1, bpp: 24, depth: 24, masks: masks888, pixels: []uint32{0x123456}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeXWD(bytes.NewReader(data))
		if err != nil {
			return
		}
		b := img.Bounds()
		if b.Dx() <= 0 || b.Dy() <= 0 || b.Dx()*b.Dy() > xwdMaxPixels {
			t.Fatalf("decoded bounds %v", b)
		}
		for i := 3; i < len(img.Pix); i += 4 {
			if img.Pix[i] != 0xff {
				t.Fatalf("pixel %d not opaque", i/4)
			}
		}
	})
}
