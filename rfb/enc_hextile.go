package rfb

import (
	"encoding/binary"
	"image"
)

// Hextile (encoding 5) cuts a rectangle into 16x16 tiles, left to right,
// top to bottom; the last column and row may be smaller. Each tile is:
//
//	U8 subencoding mask
//	  1  Raw: w*h PIXELs follow, the other bits are ignored
//	  2  BackgroundSpecified: PIXEL
//	  4  ForegroundSpecified: PIXEL
//	  8  AnySubrects: U8 count, then count subrects
//	  16 SubrectsColoured: each subrect starts with its PIXEL
//	subrect: [PIXEL] U8 x<<4|y, U8 (w-1)<<4|(h-1)
//
// A tile without BackgroundSpecified reuses the previous tile's
// background, and a mono-subrect tile without ForegroundSpecified its
// foreground. Neither survives a Raw tile, the foreground does not
// survive a SubrectsColoured tile, and the first non-raw tile of every
// rectangle must name its background.

const (
	hextileRaw      = 1
	hextileBg       = 2
	hextileFg       = 4
	hextileSubrects = 8
	hextileColoured = 16
)

// hextileEncoder sends Hextile. Rectangles are independent, so a large
// one is cut into bands of whole tiles that are encoded in parallel.
type hextileEncoder struct{}

func (hextileEncoder) encode(u *updateWriter, img *Image, r image.Rectangle) error {
	return encodeBands(u, r, 16, func(bw *updateWriter, band image.Rectangle) error {
		var t hextileTiler
		t.conv = bw.conv
		bw.rect(band, EncHextile)
		bw.buf = t.appendRect(bw.buf, img, band)
		return nil
	})
}

// hextileTiler holds one rectangle's tile state and scratch space.
type hextileTiler struct {
	conv         *converter
	bg, fg       uint32
	bgOK, fgOK   bool
	px           [256]uint32 // the tile in client pixel values
	sub          [255 * 6]byte
	count        colourCounter
	subLen, nsub int
}

func (t *hextileTiler) appendRect(dst []byte, img *Image, r image.Rectangle) []byte {
	t.bgOK, t.fgOK = false, false
	for y := r.Min.Y; y < r.Max.Y; y += 16 {
		for x := r.Min.X; x < r.Max.X; x += 16 {
			dst = t.appendTile(dst, img, image.Rect(x, y, min(x+16, r.Max.X), min(y+16, r.Max.Y)))
		}
	}
	return dst
}

func (t *hextileTiler) appendTile(dst []byte, img *Image, tr image.Rectangle) []byte {
	c := t.conv
	w, h := tr.Dx(), tr.Dy()
	n := w * h
	px := t.px[:n]
	loadTileValues(c, px, img, tr)

	// Up to two colours with their counts; more makes the tile "multi".
	c0, c1 := px[0], px[0]
	n0, n1 := 0, 0
	multi := false
	for _, v := range px {
		switch {
		case v == c0:
			n0++
		case n1 == 0 || v == c1:
			c1 = v
			n1++
		default:
			multi = true
		}
		if multi {
			break
		}
	}
	if n1 == 0 {
		// Solid: one byte when the background is unchanged.
		if t.bgOK && t.bg == c0 {
			return append(dst, 0)
		}
		t.bg, t.bgOK = c0, true
		return c.appendPixel(append(dst, hextileBg), c0)
	}

	bpp := c.bpp
	rawSize := 1 + n*bpp
	var bg, fg uint32
	if !multi {
		bg, fg = c0, c1
		if n1 > n0 || n1 == n0 && t.bgOK && t.bg == c1 {
			bg, fg = c1, c0
		}
	} else {
		var distinct int
		bg, distinct = t.count.mostCommon(px)
		// Every other colour needs at least one coloured subrect.
		if 3+bpp+(distinct-1)*(bpp+2) >= rawSize {
			return t.appendRaw(dst, img, tr)
		}
	}

	head := 2
	mask := byte(hextileSubrects)
	if !t.bgOK || t.bg != bg {
		mask |= hextileBg
		head += bpp
	}
	if multi {
		mask |= hextileColoured
	} else if !t.fgOK || t.fg != fg {
		mask |= hextileFg
		head += bpp
	}
	if !t.subrects(px, w, h, bg, multi, rawSize-head) {
		return t.appendRaw(dst, img, tr)
	}
	dst = append(dst, mask)
	if mask&hextileBg != 0 {
		dst = c.appendPixel(dst, bg)
	}
	if mask&hextileFg != 0 {
		dst = c.appendPixel(dst, fg)
	}
	dst = append(dst, byte(t.nsub))
	dst = append(dst, t.sub[:t.subLen]...)
	t.bg, t.bgOK = bg, true
	if multi {
		t.fgOK = false
	} else {
		t.fg, t.fgOK = fg, true
	}
	return dst
}

func (t *hextileTiler) appendRaw(dst []byte, img *Image, tr image.Rectangle) []byte {
	t.bgOK, t.fgOK = false, false
	return t.conv.appendRect(append(dst, hextileRaw), img, tr)
}

// subrects covers the pixels of px that are not bg with subrectangles,
// greedily taking at each uncovered pixel the larger of the rectangle
// grown rightwards then down and the one grown down then rightwards. It
// gives up (false) when the subrects would take budget bytes or more.
// px is overwritten with bg where covered.
func (t *hextileTiler) subrects(px []uint32, w, h int, bg uint32, coloured bool, budget int) bool {
	c := t.conv
	size := 2
	if coloured {
		size += c.bpp
	}
	t.nsub, t.subLen = 0, 0
	for y := range h {
		for x := 0; x < w; x++ {
			v := px[y*w+x]
			if v == bg {
				continue
			}
			if t.nsub == 255 || t.subLen+size >= budget {
				return false
			}
			// Rightwards, then down.
			x1 := x + 1
			for x1 < w && px[y*w+x1] == v {
				x1++
			}
			y1 := y + 1
		down:
			for ; y1 < h; y1++ {
				for _, p := range px[y1*w+x : y1*w+x1] {
					if p != v {
						break down
					}
				}
			}
			// Down, then rightwards.
			y2 := y + 1
			for y2 < h && px[y2*w+x] == v {
				y2++
			}
			x2 := x + 1
		right:
			for ; x2 < w; x2++ {
				for yy := y; yy < y2; yy++ {
					if px[yy*w+x2] != v {
						break right
					}
				}
			}
			if (x2-x)*(y2-y) > (x1-x)*(y1-y) {
				x1, y1 = x2, y2
			}
			for yy := y; yy < y1; yy++ {
				row := px[yy*w+x : yy*w+x1]
				for i := range row {
					row[i] = bg
				}
			}
			b := t.sub[t.subLen:]
			if coloured {
				b = c.appendPixel(b[:0], v)
				b = b[len(b):cap(b)]
			}
			b[0] = byte(x<<4 | y)
			b[1] = byte((x1-x-1)<<4 | (y1 - y - 1))
			t.subLen += size
			t.nsub++
			x = x1 - 1
		}
	}
	return true
}

// loadTileValues converts the pixels of r, at most a tile, to client
// pixel values in px, row after row.
func loadTileValues(c *converter, px []uint32, img *Image, r image.Rectangle) {
	w := r.Dx()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride+r.Min.X*4:][: w*4 : w*4]
		o := px[:w:w]
		px = px[w:]
		if c.identity && !c.pf.BigEndian {
			for x := range o {
				o[x] = binary.LittleEndian.Uint32(row[x*4:]) & 0xffffff
			}
			continue
		}
		for x := range o {
			p := row[x*4 : x*4+3 : x*4+3]
			o[x] = c.r[p[2]] | c.g[p[1]] | c.b[p[0]]
		}
	}
}

// colourCounter finds the most common colour of a tile with a small
// open-addressing table; a generation stamp saves clearing it.
type colourCounter struct {
	gen   uint32
	stamp [512]uint32
	key   [512]uint32
	n     [512]uint16
}

// mostCommon returns px's most common value and the number of distinct
// values (len(px) at most 256).
func (cc *colourCounter) mostCommon(px []uint32) (best uint32, distinct int) {
	cc.gen++
	if cc.gen == 0 {
		cc.stamp = [512]uint32{}
		cc.gen = 1
	}
	bestN := uint16(0)
	for _, v := range px {
		i := (v * 0x9e3779b1) >> 23
		for {
			if cc.stamp[i] != cc.gen {
				cc.stamp[i], cc.key[i], cc.n[i] = cc.gen, v, 0
				distinct++
				break
			}
			if cc.key[i] == v {
				break
			}
			i = (i + 1) & 511
		}
		cc.n[i]++
		if cc.n[i] > bestN {
			best, bestN = v, cc.n[i]
		}
	}
	return best, distinct
}

var _ encoder = hextileEncoder{}
