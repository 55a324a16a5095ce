package rfbtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"math/bits"
)

// XWD is the X Window Dump format that `xwd` writes (X11's XWDFile.h,
// version 7). All header fields are big-endian CARD32:
//
//	offset  field                offset  field
//	 0      header_size           52     visual_class
//	 4      file_version (7)      56     red_mask
//	 8      pixmap_format         60     green_mask
//	12      pixmap_depth          64     blue_mask
//	16      pixmap_width          68     bits_per_rgb
//	20      pixmap_height         72     colormap_entries
//	24      xoffset               76     ncolors
//	28      byte_order            80     window_width
//	32      bitmap_unit           84     window_height
//	36      bitmap_bit_order      88     window_x
//	40      bitmap_pad            92     window_y
//	44      bits_per_pixel        96     window_bdrwidth
//	48      bytes_per_line
//
// The window name, NUL-terminated, fills the header up to header_size. Then
// come ncolors colormap entries of 12 bytes (pixel CARD32, red, green, blue
// CARD16, flags, pad) and then height rows of bytes_per_line bytes, each
// pixel a bits_per_pixel unit in byte_order.
const (
	xwdHeaderLen   = 100
	xwdVersion     = 7
	xwdZPixmap     = 2
	xwdLSBFirst    = 0
	xwdMSBFirst    = 1
	xwdTrueColor   = 4
	xwdColorLen    = 12
	xwdMaxName     = 1 << 16
	xwdMaxColors   = 1 << 16
	xwdMaxSide     = 1 << 15 // X11 coordinates are 16-bit signed
	xwdMaxPixels   = 1 << 25 // 8K UHD fits
	xwdMaxLineSlop = 64      // bytes_per_line beyond width*bpp/8
)

// DecodeXWD decodes an XWD image as written by `xwd` from a TrueColor
// visual: ZPixmap with 16, 24 or 32 bits per pixel in either byte order.
// Each channel is scaled from its mask's range to 8 bits with rounding
// (v*255/max), so a 565 screen decodes to the values Quantize(…, 31, 63, 31)
// gives. The result is opaque.
func DecodeXWD(r io.Reader) (*image.RGBA, error) {
	var raw [xwdHeaderLen]byte
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		return nil, fmt.Errorf("xwd: header: %w", noEOF(err))
	}
	var h [xwdHeaderLen / 4]uint32
	for i := range h {
		h[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	var (
		headerSize   = h[0]
		version      = h[1]
		format       = h[2]
		width        = h[4]
		height       = h[5]
		xoffset      = h[6]
		byteOrder    = h[7]
		bpp          = h[11]
		bytesPerLine = h[12]
		visualClass  = h[13]
		masks        = [3]uint32{h[14], h[15], h[16]}
		ncolors      = h[19]
	)
	switch {
	case version != xwdVersion:
		return nil, fmt.Errorf("xwd: file version %d, want %d", version, xwdVersion)
	case headerSize < xwdHeaderLen || headerSize > xwdHeaderLen+xwdMaxName:
		return nil, fmt.Errorf("xwd: header size %d out of range", headerSize)
	case format != xwdZPixmap:
		return nil, fmt.Errorf("xwd: pixmap format %d, only ZPixmap (%d) is supported", format, xwdZPixmap)
	case visualClass != xwdTrueColor:
		return nil, fmt.Errorf("xwd: visual class %d, only TrueColor (%d) is supported", visualClass, xwdTrueColor)
	case bpp != 16 && bpp != 24 && bpp != 32:
		return nil, fmt.Errorf("xwd: %d bits per pixel, want 16, 24 or 32", bpp)
	case byteOrder != xwdLSBFirst && byteOrder != xwdMSBFirst:
		return nil, fmt.Errorf("xwd: byte order %d", byteOrder)
	case xoffset != 0:
		return nil, fmt.Errorf("xwd: x offset %d, want 0", xoffset)
	case width == 0 || height == 0 || width > xwdMaxSide || height > xwdMaxSide || width*height > xwdMaxPixels:
		return nil, fmt.Errorf("xwd: size %dx%d out of range", width, height)
	case bytesPerLine < width*bpp/8 || bytesPerLine > width*bpp/8+xwdMaxLineSlop:
		return nil, fmt.Errorf("xwd: %d bytes per line for %d pixels of %d bits", bytesPerLine, width, bpp)
	case ncolors > xwdMaxColors:
		return nil, fmt.Errorf("xwd: %d colormap entries", ncolors)
	}

	var chans [3]struct {
		shift uint32
		max   uint64
	}
	for i, m := range masks {
		shift := uint32(bits.TrailingZeros32(m))
		if m == 0 || bits.Len32(m) > int(bpp) || (m>>shift)&(m>>shift+1) != 0 {
			return nil, fmt.Errorf("xwd: channel mask %#x is empty, not contiguous or wider than a pixel", m)
		}
		chans[i].shift, chans[i].max = shift, uint64(m>>shift)
	}

	// Window name and colormap: TrueColor needs neither.
	skip := int64(headerSize-xwdHeaderLen) + int64(ncolors)*xwdColorLen
	if n, err := io.CopyN(io.Discard, r, skip); err != nil {
		return nil, fmt.Errorf("xwd: window name and colormap: read %d of %d bytes: %w", n, skip, noEOF(err))
	}

	// Read through a LimitReader so that a lying header on a short input
	// cannot make us allocate the whole claimed size up front.
	need := int64(bytesPerLine) * int64(height)
	data, err := io.ReadAll(io.LimitReader(r, need))
	if err != nil {
		return nil, fmt.Errorf("xwd: pixels: %w", err)
	}
	if int64(len(data)) < need {
		return nil, fmt.Errorf("xwd: pixels: read %d of %d bytes: %w", len(data), need, io.ErrUnexpectedEOF)
	}

	img := image.NewRGBA(image.Rect(0, 0, int(width), int(height)))
	unit := int(bpp / 8)
	for y := 0; y < int(height); y++ {
		row := data[y*int(bytesPerLine):]
		out := img.Pix[y*img.Stride:]
		for x := 0; x < int(width); x++ {
			p := row[x*unit : x*unit+unit]
			var v uint32
			if byteOrder == xwdMSBFirst {
				for _, b := range p {
					v = v<<8 | uint32(b)
				}
			} else {
				for i := len(p) - 1; i >= 0; i-- {
					v = v<<8 | uint32(p[i])
				}
			}
			for i, c := range chans {
				cv := uint64(v>>c.shift) & c.max
				out[4*x+i] = uint8((cv*255 + c.max/2) / c.max)
			}
			out[4*x+3] = 0xff
		}
	}
	return img, nil
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: every read here is of data
// the header promised.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
