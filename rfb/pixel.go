package rfb

import "encoding/binary"

// Single-pixel conversion, for encoders that pick colours (solid tiles,
// palettes, subrectangles) rather than copying rows.

// pixel returns the client pixel value of the native pixel at p[0:4].
func (c *converter) pixel(p []byte) uint32 {
	return c.r[p[2]] | c.g[p[1]] | c.b[p[0]]
}

// pixelRGB returns the client pixel value of 0x00RRGGBB.
func (c *converter) pixelRGB(rgb uint32) uint32 {
	return c.r[byte(rgb>>16)] | c.g[byte(rgb>>8)] | c.b[byte(rgb)]
}

// appendPixel appends one client pixel value in wire byte order.
func (c *converter) appendPixel(dst []byte, v uint32) []byte {
	switch c.bpp {
	case 1:
		return append(dst, byte(v))
	case 2:
		if c.pf.BigEndian {
			return binary.BigEndian.AppendUint16(dst, uint16(v))
		}
		return binary.LittleEndian.AppendUint16(dst, uint16(v))
	default:
		if c.pf.BigEndian {
			return binary.BigEndian.AppendUint32(dst, v)
		}
		return binary.LittleEndian.AppendUint32(dst, v)
	}
}
