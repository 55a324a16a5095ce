package rfb

import (
	"image"
	"image/color"
	"image/draw"
)

// Image is a framebuffer in NativeFormat: 4 bytes per pixel, B, G, R, X.
// It is the layout of X11 ZPixmap depth-24 images and Windows DIB sections,
// so captured screens are copied into it without conversion.
type Image struct {
	Pix    []byte
	Stride int
	W, H   int
}

// NewImage returns a black w×h image.
func NewImage(w, h int) *Image {
	return &Image{Pix: make([]byte, w*h*4), Stride: w * 4, W: w, H: h}
}

// ImageFrom converts any image into a new Image whose origin is (0, 0).
func ImageFrom(src image.Image) *Image {
	b := src.Bounds()
	m := NewImage(b.Dx(), b.Dy())
	m.DrawImage(image.Point{}, src, b)
	return m
}

// Bounds implements image.Image.
func (m *Image) Bounds() image.Rectangle { return image.Rect(0, 0, m.W, m.H) }

// ColorModel implements image.Image.
func (m *Image) ColorModel() color.Model { return color.RGBAModel }

// At implements image.Image.
func (m *Image) At(x, y int) color.Color {
	if x < 0 || y < 0 || x >= m.W || y >= m.H {
		return color.RGBA{}
	}
	i := y*m.Stride + x*4
	return color.RGBA{m.Pix[i+2], m.Pix[i+1], m.Pix[i], 0xff}
}

// Set implements draw.Image.
func (m *Image) Set(x, y int, c color.Color) {
	if x < 0 || y < 0 || x >= m.W || y >= m.H {
		return
	}
	r, g, b, _ := c.RGBA()
	i := y*m.Stride + x*4
	m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = byte(b>>8), byte(g>>8), byte(r>>8), 0
}

// RGB returns the colour at (x, y) as 0x00RRGGBB.
func (m *Image) RGB(x, y int) uint32 {
	i := y*m.Stride + x*4
	return uint32(m.Pix[i+2])<<16 | uint32(m.Pix[i+1])<<8 | uint32(m.Pix[i])
}

// Fill paints r (clipped to the image) with 0x00RRGGBB.
func (m *Image) Fill(r image.Rectangle, rgb uint32) {
	r = r.Intersect(m.Bounds())
	if r.Empty() {
		return
	}
	row := m.Pix[r.Min.Y*m.Stride+r.Min.X*4 : r.Min.Y*m.Stride+r.Max.X*4]
	for i := 0; i < len(row); i += 4 {
		row[i], row[i+1], row[i+2], row[i+3] = byte(rgb), byte(rgb>>8), byte(rgb>>16), 0
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		copy(m.Pix[y*m.Stride+r.Min.X*4:], row)
	}
}

// DrawImage copies src's rectangle sr to dst in m, converting colours.
func (m *Image) DrawImage(dst image.Point, src image.Image, sr image.Rectangle) {
	if s, ok := src.(*Image); ok {
		m.copyFrom(dst, s, sr)
		return
	}
	draw.Draw(m, image.Rectangle{dst, dst.Add(sr.Size())}, src, sr.Min, draw.Src)
}

// copyFrom copies rows of s (rectangle sr) into m at dst, clipping both.
func (m *Image) copyFrom(dst image.Point, s *Image, sr image.Rectangle) {
	sr = sr.Intersect(s.Bounds())
	dr := image.Rectangle{dst, dst.Add(sr.Size())}.Intersect(m.Bounds())
	sr.Min = sr.Min.Add(dr.Min.Sub(dst))
	if dr.Empty() {
		return
	}
	n := dr.Dx() * 4
	for y := 0; y < dr.Dy(); y++ {
		copy(m.Pix[(dr.Min.Y+y)*m.Stride+dr.Min.X*4:][:n], s.Pix[(sr.Min.Y+y)*s.Stride+sr.Min.X*4:][:n])
	}
}

// move copies the pixels of src (inside m) so that they land at dst,
// handling overlap as memmove does.
func (m *Image) move(dst image.Rectangle, src image.Point) {
	n := dst.Dx() * 4
	if src.Y >= dst.Min.Y {
		for y := 0; y < dst.Dy(); y++ {
			copy(m.Pix[(dst.Min.Y+y)*m.Stride+dst.Min.X*4:][:n], m.Pix[(src.Y+y)*m.Stride+src.X*4:][:n])
		}
		return
	}
	for y := dst.Dy() - 1; y >= 0; y-- {
		copy(m.Pix[(dst.Min.Y+y)*m.Stride+dst.Min.X*4:][:n], m.Pix[(src.Y+y)*m.Stride+src.X*4:][:n])
	}
}

// Clone returns a deep copy of m.
func (m *Image) Clone() *Image {
	c := NewImage(m.W, m.H)
	c.copyFrom(image.Point{}, m, m.Bounds())
	return c
}

var _ draw.Image = (*Image)(nil)
