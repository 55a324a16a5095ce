package panel

import (
	"image"
	"image/color"
	"image/draw"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// ArrowColor is the pointing arrow's colour: an orange no desktop theme
// uses for its own pointer, so that the customer tells it from theirs.
var ArrowColor = color.RGBA{0xff, 0x5a, 0x00, 0xff}

// arrowShape is the arrow's outline at scale 1, the tip at 0, 0: the
// shape of a pointer, half again as large as the usual one.
var arrowShape = [][2]float64{{0, 0}, {0, 25}, {6, 19.5}, {10.5, 29}, {14.5, 27}, {10.5, 18}, {18, 18}}

// arrowPad is room around the tip for the pulse's ring, at scale 1.
const arrowPad = 18

// ArrowImage draws the pointing arrow with name beside it, and with a
// ring around the tip when pulse is set (the supporter clicked: "here!").
// The image is transparent outside the arrow, with premultiplied alpha
// (image.RGBA); Hot is where the tip is in it. Every pixel is either
// fully transparent or opaque enough for a 1-bit shape: the X11 window is
// shaped by alpha ≥ 128.
func ArrowImage(name string, scale float64, pulse bool) (img *image.RGBA, hot image.Point) {
	if scale <= 0 {
		scale = 1
	}
	r := newLabelFace(scale)
	s := func(v float64) float64 { return v * scale }
	pad := int(math.Ceil(s(arrowPad)))
	hot = image.Pt(pad, pad)

	labelW, labelH := 0, 0
	if name != "" {
		labelW = font.MeasureString(r, name).Ceil() + int(s(12))
		labelH = r.Metrics().Height.Ceil() + int(s(6))
	}
	w := max(pad+int(s(20)), pad+int(s(16))+labelW) + pad/2
	h := max(pad+int(s(30)), pad+int(s(24))+labelH) + pad/2
	if pulse {
		w, h = max(w, 2*pad), max(h, 2*pad)
	}
	img = image.NewRGBA(image.Rect(0, 0, w, h))

	poly := func(grow float64, c color.RGBA) {
		z := vector.NewRasterizer(w, h)
		// Grow the outline from its centre for the white border.
		cx, cy := 7.0, 14.0
		for i, pt := range arrowShape {
			x := float64(hot.X) + s(pt[0]+(pt[0]-cx)*grow)
			y := float64(hot.Y) + s(pt[1]+(pt[1]-cy)*grow)
			if i == 0 {
				z.MoveTo(float32(x), float32(y))
			} else {
				z.LineTo(float32(x), float32(y))
			}
		}
		z.ClosePath()
		z.Draw(img, img.Rect, image.NewUniform(c), image.Point{})
	}
	if pulse {
		ring(img, hot, s(14), s(3), ArrowColor)
	}
	poly(0.18, colWhite)
	poly(0, ArrowColor)

	if name != "" {
		box := image.Rect(hot.X+int(s(16)), hot.Y+int(s(24)), hot.X+int(s(16))+labelW, hot.Y+int(s(24))+labelH)
		roundRect(box, int(s(4)), ArrowColor)(img)
		d := font.Drawer{Dst: img, Src: image.NewUniform(colWhite), Face: r,
			Dot: fixed.P(box.Min.X+int(s(6)), box.Min.Y+int(s(3))+r.Metrics().Ascent.Ceil())}
		d.DrawString(name)
	}
	// One bit of alpha: what is half covered is in, and opaque.
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] >= 128 {
			a := uint32(img.Pix[i])
			for k := i - 3; k < i; k++ {
				img.Pix[k] = uint8(min(255, uint32(img.Pix[k])*255/a))
			}
			img.Pix[i] = 0xff
		} else {
			copy(img.Pix[i-3:i+1], []byte{0, 0, 0, 0})
		}
	}
	return img, hot
}

// newLabelFace is the face of the arrow's name.
func newLabelFace(scale float64) font.Face { return newRenderer(scale).bold }

// ring draws a circle of radius rad and width w around c.
func ring(img *image.RGBA, c image.Point, rad, w float64, col color.RGBA) {
	b := image.Rect(c.X-int(rad+w), c.Y-int(rad+w), c.X+int(rad+w)+1, c.Y+int(rad+w)+1).Intersect(img.Rect)
	u := image.NewUniform(col)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			d := math.Hypot(float64(x-c.X)+0.5, float64(y-c.Y)+0.5)
			if math.Abs(d-rad) <= w/2 {
				draw.Draw(img, image.Rect(x, y, x+1, y+1), u, image.Point{}, draw.Src)
			}
		}
	}
}
