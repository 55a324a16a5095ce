package x11

import (
	"encoding/binary"
	"fmt"
	"image"
	"math/bits"
)

// pixelFormat describes the server's ZPixmap layout for the root depth.
type pixelFormat struct {
	bpp       int  // bits per pixel: 16 or 32 are supported
	pad       int  // scanline pad in bits
	bigEndian bool // image byte order MSBFirst
	rmask     uint32
	gmask     uint32
	bmask     uint32
}

// native reports whether rows can be copied into an rfb.Image as they are:
// 32 bpp, little-endian, 8 bits per channel at B, G, R.
func (f pixelFormat) native() bool {
	return f.bpp == 32 && !f.bigEndian && f.rmask == 0xff0000 && f.gmask == 0xff00 && f.bmask == 0xff
}

func (f pixelFormat) check() error {
	if f.bpp != 16 && f.bpp != 32 {
		return fmt.Errorf("x11: %d bits per pixel is not supported (16 and 32 are)", f.bpp)
	}
	if f.rmask == 0 || f.gmask == 0 || f.bmask == 0 {
		return fmt.Errorf("x11: not a TrueColor visual (masks %#x %#x %#x)", f.rmask, f.gmask, f.bmask)
	}
	return nil
}

// stride returns the bytes per row of a w-pixel-wide ZPixmap.
func (f pixelFormat) stride(w int) int {
	pad := f.pad
	if pad < 8 {
		pad = 8
	}
	return (w*f.bpp + pad - 1) / pad * pad / 8
}

// convertRows converts h rows of w pixels from the server's format (src,
// srcStride) to native B, G, R, X (dst, dstStride).
func (f pixelFormat) convertRows(dst []byte, dstStride int, src []byte, srcStride, w, h int) {
	if f.native() {
		for y := range h {
			copy(dst[y*dstStride:y*dstStride+w*4], src[y*srcStride:y*srcStride+w*4])
		}
		return
	}
	r, g, b := channel(f.rmask), channel(f.gmask), channel(f.bmask)
	var order binary.ByteOrder = binary.LittleEndian
	if f.bigEndian {
		order = binary.BigEndian
	}
	for y := range h {
		s := src[y*srcStride:]
		d := dst[y*dstStride : y*dstStride+w*4]
		for x := range w {
			var p uint32
			if f.bpp == 16 {
				p = uint32(order.Uint16(s[x*2:]))
			} else {
				p = order.Uint32(s[x*4:])
			}
			d[x*4], d[x*4+1], d[x*4+2], d[x*4+3] = b.get(p), g.get(p), r.get(p), 0
		}
	}
}

// chan8 extracts one colour channel and scales it to 8 bits.
type chan8 struct {
	shift, bits int
	mask        uint32
}

func channel(mask uint32) chan8 {
	s := bits.TrailingZeros32(mask)
	return chan8{shift: s, bits: bits.OnesCount32(mask), mask: mask}
}

func (c chan8) get(p uint32) byte {
	v := (p & c.mask) >> c.shift
	switch {
	case c.bits >= 8:
		return byte(v >> (c.bits - 8))
	case c.bits == 0:
		return 0
	}
	// Replicate the high bits into the low ones: 5-bit 31 → 255.
	v <<= 8 - c.bits
	for s := c.bits; s < 8; s *= 2 {
		v |= v >> s
	}
	return byte(v)
}

// cursorImage converts XFIXES' premultiplied ARGB cursor pixels into an
// image with straight alpha.
func cursorImage(argb []uint32, w, h, hotX, hotY int) (*image.NRGBA, image.Point) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h && i < len(argb); i++ {
		p := argb[i]
		a := p >> 24
		r, g, b := p>>16&0xff, p>>8&0xff, p&0xff
		if a != 0 && a != 0xff {
			r, g, b = min(r*0xff/a, 0xff), min(g*0xff/a, 0xff), min(b*0xff/a, 0xff)
		}
		img.Pix[i*4], img.Pix[i*4+1], img.Pix[i*4+2], img.Pix[i*4+3] = byte(r), byte(g), byte(b), byte(a)
	}
	return img, image.Pt(hotX, hotY)
}
