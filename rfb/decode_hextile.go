package rfb

import (
	"encoding/binary"
	"image"
)

// hextileDecoder reads Hextile rectangles (encoding 5); enc_hextile.go
// has the layout. A tile that relies on a background or foreground no
// tile has named yet gets black, as TigerVNC does, rather than an error.
type hextileDecoder struct{}

func (hextileDecoder) decode(c *Client, u *UpdateRect) error {
	r := u.Rect
	bpp := c.cur.bpp
	var bg, fg uint32 // native 0x00RRGGBB
	for ty := r.Min.Y; ty < r.Max.Y; ty += 16 {
		for tx := r.Min.X; tx < r.Max.X; tx += 16 {
			t := image.Rect(tx, ty, min(tx+16, r.Max.X), min(ty+16, r.Max.Y))
			mask, err := c.r.u8()
			if err != nil {
				return err
			}
			if mask&hextileRaw != 0 {
				if err := c.readPixels(c.fb, t); err != nil {
					return err
				}
				continue
			}
			if mask&hextileBg != 0 {
				if bg, err = c.readNativePixel(); err != nil {
					return err
				}
			}
			if mask&hextileFg != 0 {
				if fg, err = c.readNativePixel(); err != nil {
					return err
				}
			}
			fillNative(c.fb, t, bg)
			if mask&hextileSubrects == 0 {
				continue
			}
			n, err := c.r.u8()
			if err != nil {
				return err
			}
			size := 2
			coloured := mask&hextileColoured != 0
			if coloured {
				size += bpp
			}
			b, err := c.r.full(int(n) * size)
			if err != nil {
				return err
			}
			w, h := t.Dx(), t.Dy()
			col := fg
			for ; len(b) >= size; b = b[size:] {
				if coloured {
					col = c.cur.rev.nativeOf(b)
				}
				xy, wh := b[size-2], b[size-1]
				x, y := int(xy>>4), int(xy&15)
				sw, sh := int(wh>>4)+1, int(wh&15)+1
				if x+sw > w || y+sh > h {
					return protoErrorf("Hextile subrect %dx%d at (%d,%d) outside its %dx%d tile", sw, sh, x, y, w, h)
				}
				fillNative(c.fb, image.Rect(tx+x, ty+y, tx+x+sw, ty+y+sh), col)
			}
		}
	}
	return nil
}

// readNativePixel reads one pixel in the update's format as 0x00RRGGBB.
func (c *Client) readNativePixel() (uint32, error) {
	b, err := c.r.full(c.cur.bpp)
	if err != nil {
		return 0, err
	}
	return c.cur.rev.nativeOf(b), nil
}

// nativeOf converts the wire pixel at p to 0x00RRGGBB.
func (r *reverter) nativeOf(p []byte) uint32 {
	if r.bpp == 4 && !r.pf.BigEndian && r.pf.IsNative() {
		return binary.LittleEndian.Uint32(p) & 0xffffff
	}
	return r.rgb(r.value(p))
}

// fillNative paints r, which must lie inside m, with 0x00RRGGBB.
func fillNative(m *Image, r image.Rectangle, rgb uint32) {
	w := r.Dx() * 4
	row := m.Pix[r.Min.Y*m.Stride+r.Min.X*4:][:w:w]
	for i := 0; i < w; i += 4 {
		binary.LittleEndian.PutUint32(row[i:], rgb)
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		copy(m.Pix[y*m.Stride+r.Min.X*4:][:w], row)
	}
}

var _ decoder = hextileDecoder{}
