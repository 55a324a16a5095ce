package rfb

import (
	"encoding/binary"
	"image"
)

// A converter turns NativeFormat pixels into a client's pixel format.
//
// Each channel is scaled once into a 256-entry table that already holds
// the channel's value shifted into place, so a pixel costs three loads and
// two ORs whatever the format.
type converter struct {
	pf       PixelFormat
	bpp      int // bytes per pixel
	identity bool
	r, g, b  [256]uint32
}

func newConverter(pf PixelFormat) *converter {
	c := &converter{pf: pf, bpp: pf.BytesPerPixel(), identity: pf.IsNative()}
	for v := range 256 {
		c.r[v] = scaleDown(v, pf.RedMax) << pf.RedShift
		c.g[v] = scaleDown(v, pf.GreenMax) << pf.GreenShift
		c.b[v] = scaleDown(v, pf.BlueMax) << pf.BlueShift
	}
	return c
}

// scaleDown maps an 8-bit channel to 0..max with rounding.
func scaleDown(v int, max uint16) uint32 {
	return uint32((v*int(max) + 127) / 255)
}

// appendRect appends the pixels of r (which must lie inside m) row by row.
func (c *converter) appendRect(dst []byte, m *Image, r image.Rectangle) []byte {
	n := r.Dx() * r.Dy() * c.bpp
	dst = grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	rowOut := r.Dx() * c.bpp
	for y := r.Min.Y; y < r.Max.Y; y++ {
		src := m.Pix[y*m.Stride+r.Min.X*4 : y*m.Stride+r.Max.X*4]
		c.convertRow(out[:rowOut], src)
		out = out[rowOut:]
	}
	return dst[:len(dst)+n]
}

// convertRow converts len(src)/4 native pixels into dst.
func (c *converter) convertRow(dst, src []byte) {
	if c.identity {
		copy(dst, src)
		return
	}
	switch {
	case c.bpp == 4 && !c.pf.BigEndian:
		for i, o := 0, 0; i+4 <= len(src) && o+4 <= len(dst); i, o = i+4, o+4 {
			v := c.r[src[i+2]] | c.g[src[i+1]] | c.b[src[i]]
			binary.LittleEndian.PutUint32(dst[o:], v)
		}
	case c.bpp == 4:
		for i, o := 0, 0; i+4 <= len(src) && o+4 <= len(dst); i, o = i+4, o+4 {
			v := c.r[src[i+2]] | c.g[src[i+1]] | c.b[src[i]]
			binary.BigEndian.PutUint32(dst[o:], v)
		}
	case c.bpp == 2 && !c.pf.BigEndian:
		for i, o := 0, 0; i+4 <= len(src) && o+2 <= len(dst); i, o = i+4, o+2 {
			v := c.r[src[i+2]] | c.g[src[i+1]] | c.b[src[i]]
			dst[o], dst[o+1] = byte(v), byte(v>>8)
		}
	case c.bpp == 2:
		for i, o := 0, 0; i+4 <= len(src) && o+2 <= len(dst); i, o = i+4, o+2 {
			v := c.r[src[i+2]] | c.g[src[i+1]] | c.b[src[i]]
			dst[o], dst[o+1] = byte(v>>8), byte(v)
		}
	default:
		for i, o := 0, 0; i+4 <= len(src) && o < len(dst); i, o = i+4, o+1 {
			dst[o] = byte(c.r[src[i+2]] | c.g[src[i+1]] | c.b[src[i]])
		}
	}
}

// grow makes room for n more bytes after len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), 2*cap(b)+n)
	copy(nb, b)
	return nb
}

// A reverter turns a client's pixel values back into NativeFormat; the RFB
// client uses it to keep its framebuffer in one layout whatever it asked for.
type reverter struct {
	pf  PixelFormat
	bpp int
	// Lookup tables from channel value to 8 bits, for maxima up to 255;
	// larger maxima are scaled arithmetically.
	r, g, b []byte
}

func newReverter(pf PixelFormat) *reverter {
	return &reverter{pf: pf, bpp: pf.BytesPerPixel(),
		r: scaleTable(pf.RedMax), g: scaleTable(pf.GreenMax), b: scaleTable(pf.BlueMax)}
}

func scaleTable(max uint16) []byte {
	if max == 0 || max > 4095 {
		return nil
	}
	t := make([]byte, int(max)+1)
	for v := range t {
		t[v] = byte((v*255 + int(max)/2) / int(max))
	}
	return t
}

func scaleUp(v uint32, max uint16, t []byte) byte {
	if t != nil {
		return t[v]
	}
	if max == 0 {
		return 0
	}
	return byte((uint64(v)*255 + uint64(max)/2) / uint64(max))
}

// value reads one wire pixel from p.
func (r *reverter) value(p []byte) uint32 {
	switch r.bpp {
	case 1:
		return uint32(p[0])
	case 2:
		if r.pf.BigEndian {
			return uint32(binary.BigEndian.Uint16(p))
		}
		return uint32(binary.LittleEndian.Uint16(p))
	default:
		if r.pf.BigEndian {
			return binary.BigEndian.Uint32(p)
		}
		return binary.LittleEndian.Uint32(p)
	}
}

// rgb converts a pixel value to 0x00RRGGBB.
func (r *reverter) rgb(v uint32) uint32 {
	f := &r.pf
	rr := scaleUp(v>>f.RedShift&uint32(f.RedMax), f.RedMax, r.r)
	gg := scaleUp(v>>f.GreenShift&uint32(f.GreenMax), f.GreenMax, r.g)
	bb := scaleUp(v>>f.BlueShift&uint32(f.BlueMax), f.BlueMax, r.b)
	return uint32(rr)<<16 | uint32(gg)<<8 | uint32(bb)
}

// putRow converts wire pixels src into native pixels dst.
func (r *reverter) putRow(dst, src []byte) {
	if r.pf.IsNative() {
		copy(dst, src)
		return
	}
	for o, i := 0, 0; o+4 <= len(dst) && i+r.bpp <= len(src); o, i = o+4, i+r.bpp {
		c := r.rgb(r.value(src[i:]))
		dst[o], dst[o+1], dst[o+2], dst[o+3] = byte(c), byte(c>>8), byte(c>>16), 0
	}
}
