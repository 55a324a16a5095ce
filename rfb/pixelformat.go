package rfb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// PixelFormat describes how a pixel value is laid out on the wire.
//
// Wire layout (16 bytes):
//
//	U8  bits-per-pixel (8, 16 or 32)
//	U8  depth
//	U8  big-endian-flag
//	U8  true-colour-flag
//	U16 red-max, U16 green-max, U16 blue-max (big-endian)
//	U8  red-shift, U8 green-shift, U8 blue-shift
//	3   padding
type PixelFormat struct {
	BPP, Depth                      uint8
	BigEndian, TrueColour           bool
	RedMax, GreenMax, BlueMax       uint16
	RedShift, GreenShift, BlueShift uint8
}

// NativeFormat is the layout of Image pixels: 32 bits per pixel, little-endian
// 0x00RRGGBB, i.e. bytes B, G, R, X in memory. It is what the server
// announces in ServerInit, so clients that never send SetPixelFormat
// (gvnccapture, gtk-vnc at default depth) get pixels copied unconverted.
var NativeFormat = PixelFormat{
	BPP: 32, Depth: 24, TrueColour: true,
	RedMax: 255, GreenMax: 255, BlueMax: 255,
	RedShift: 16, GreenShift: 8, BlueShift: 0,
}

// Common formats that viewers ask for.
var (
	// FormatRGB565 is 16 bpp, the format of a 16-bit X display.
	FormatRGB565 = PixelFormat{BPP: 16, Depth: 16, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5}
	// FormatRGB332 is TigerVNC's 256-colour low-colour format.
	FormatRGB332 = PixelFormat{BPP: 8, Depth: 8, TrueColour: true, RedMax: 7, GreenMax: 7, BlueMax: 3, RedShift: 5, GreenShift: 2}
)

const pixelFormatLen = 16

var (
	errBPP        = errors.New("rfb: bits-per-pixel must be 8, 16 or 32")
	errColourMap  = errors.New("rfb: colour-map pixel formats are not supported")
	errChannelMax = errors.New("rfb: colour maximum must be 2^n-1 and non-zero")
	errShift      = errors.New("rfb: colour channel does not fit in the pixel")
)

// Validate reports whether the server can produce pixels in f.
func (f PixelFormat) Validate() error {
	switch f.BPP {
	case 8, 16, 32:
	default:
		return fmt.Errorf("%w (got %d)", errBPP, f.BPP)
	}
	if !f.TrueColour {
		return errColourMap
	}
	for _, c := range [3]struct {
		max   uint16
		shift uint8
	}{{f.RedMax, f.RedShift}, {f.GreenMax, f.GreenShift}, {f.BlueMax, f.BlueShift}} {
		if c.max == 0 || c.max&(c.max+1) != 0 {
			return errChannelMax
		}
		if int(c.shift)+bits.Len16(c.max) > int(f.BPP) {
			return errShift
		}
	}
	return nil
}

// BytesPerPixel is BPP/8.
func (f PixelFormat) BytesPerPixel() int { return int(f.BPP) / 8 }

// IsNative reports whether f has the same wire bytes as NativeFormat.
func (f PixelFormat) IsNative() bool {
	if f.BPP != 32 || !f.TrueColour || f.RedMax != 255 || f.GreenMax != 255 || f.BlueMax != 255 {
		return false
	}
	if !f.BigEndian {
		return f.RedShift == 16 && f.GreenShift == 8 && f.BlueShift == 0
	}
	// Big-endian 0x00RRGGBB is bytes X,R,G,B; the native layout B,G,R,X is
	// big-endian 0xBBGGRRXX.
	return f.RedShift == 8 && f.GreenShift == 16 && f.BlueShift == 24
}

func (f PixelFormat) String() string {
	end := "le"
	if f.BigEndian {
		end = "be"
	}
	if !f.TrueColour {
		return fmt.Sprintf("%dbpp/%d colour-map", f.BPP, f.Depth)
	}
	return fmt.Sprintf("%dbpp/%d %s r%d<<%d g%d<<%d b%d<<%d", f.BPP, f.Depth, end,
		f.RedMax, f.RedShift, f.GreenMax, f.GreenShift, f.BlueMax, f.BlueShift)
}

func (f PixelFormat) appendTo(b []byte) []byte {
	b = append(b, f.BPP, f.Depth, boolByte(f.BigEndian), boolByte(f.TrueColour))
	b = binary.BigEndian.AppendUint16(b, f.RedMax)
	b = binary.BigEndian.AppendUint16(b, f.GreenMax)
	b = binary.BigEndian.AppendUint16(b, f.BlueMax)
	return append(b, f.RedShift, f.GreenShift, f.BlueShift, 0, 0, 0)
}

func parsePixelFormat(b []byte) PixelFormat {
	_ = b[15]
	return PixelFormat{
		BPP: b[0], Depth: b[1], BigEndian: b[2] != 0, TrueColour: b[3] != 0,
		RedMax:   binary.BigEndian.Uint16(b[4:]),
		GreenMax: binary.BigEndian.Uint16(b[6:]),
		BlueMax:  binary.BigEndian.Uint16(b[8:]),
		RedShift: b[10], GreenShift: b[11], BlueShift: b[12],
	}
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
