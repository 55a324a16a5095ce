package rfbtest

import (
	"image"
	"image/color"
)

// Pattern returns a deterministic test picture: colour gradients that
// exercise every channel bit, hard edges, one-pixel lines and a grid of
// small glyph-like blocks, so a viewer that drops, shifts or swaps
// anything shows a difference.
func Pattern(w, h int, seed uint8) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(x*255/max(w-1, 1)) ^ seed, uint8(y * 255 / max(h-1, 1)), uint8((x + y) * 3), 0xff}
			switch {
			case x%97 == 0 || y%89 == 0:
				c = color.RGBA{0xff, 0xff, 0xff, 0xff}
			case (x/8+y/12)%7 == 0 && (x%8)*(y%12)%5 == 1:
				c = color.RGBA{0, 0, 0, 0xff}
			case x > w/2 && y > h/2 && (x^y)&16 == 0:
				c = color.RGBA{0x12, 0x34 ^ seed, 0xfe, 0xff}
			}
			m.SetRGBA(x, y, c)
		}
	}
	return m
}
