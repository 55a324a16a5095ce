package rfb

import (
	"bytes"
	"image"
	"image/jpeg"
	"sync"
)

// JPEGEncoder compresses a rectangle of a native Image into a baseline
// JFIF stream, as Tight's JPEG compression (and TightPNG's) carries it.
// Implementations must be safe for concurrent use: the Tight encoder
// compresses several rectangles at once.
//
// The default is FastJPEG, this package's own encoder, which makes every
// subsampling; StdJPEG wraps the standard library's image/jpeg (4:2:0
// only). Another encoder (libjpeg-turbo through cgo, say) can replace
// them without touching the Tight encoder.
type JPEGEncoder interface {
	// AppendJPEG appends the JPEG of r (inside img) to dst. quality is
	// 1..100; subsampling is the chroma subsampling the client asked for,
	// which an encoder may raise if it cannot produce it.
	AppendJPEG(dst []byte, img *Image, r image.Rectangle, quality int, subsampling Subsampling) ([]byte, error)
}

// Subsampling is a JPEG chroma subsampling factor.
type Subsampling uint8

const (
	Subsample444  Subsampling = iota // no chroma subsampling ("1x")
	Subsample422                     // "2x" in TurboVNC\'s terms
	Subsample420                     // "4x" (TurboVNC calls 4:2:0 "4x")
	SubsampleGray                    // no chroma at all: a greyscale JPEG
)

// defaultJPEG is the encoder used when Options.JPEG is nil.
var defaultJPEG JPEGEncoder = FastJPEG{}

// StdJPEG is the JPEGEncoder built on image/jpeg, kept for comparison
// (BenchmarkJPEG). image/jpeg only writes 4:2:0 colour, so every colour
// subsampling is served as 4:2:0, which costs colour detail at quality
// levels 6..9 where TigerVNC uses 4:4:4; greyscale it can do.
//
// The rectangle is first converted to an image.YCbCr (4:4:4, one pass
// over the pixels with integer arithmetic): image/jpeg's fast path reads
// *image.YCbCr directly, while *Image would go through At() and an
// interface allocation per pixel. The buffers are pooled.
type StdJPEG struct{}

type stdJPEGScratch struct {
	ycc image.YCbCr
	out bytes.Buffer
}

var stdJPEGPool = sync.Pool{New: func() any { return new(stdJPEGScratch) }}

// AppendJPEG implements JPEGEncoder.
func (StdJPEG) AppendJPEG(dst []byte, img *Image, r image.Rectangle, quality int, sub Subsampling) ([]byte, error) {
	s := stdJPEGPool.Get().(*stdJPEGScratch)
	defer stdJPEGPool.Put(s)
	toYCbCr444(&s.ycc, img, r)
	var m image.Image = &s.ycc
	if sub == SubsampleGray {
		m = &image.Gray{Pix: s.ycc.Y, Stride: s.ycc.YStride, Rect: s.ycc.Rect}
	}
	s.out.Reset()
	if err := jpeg.Encode(&s.out, m, &jpeg.Options{Quality: quality}); err != nil {
		return dst, err
	}
	return append(dst, s.out.Bytes()...), nil
}

// toYCbCr444 converts r of img into m (reusing its buffers), with the
// JFIF equations in the same fixed-point form as image/color.RGBToYCbCr.
func toYCbCr444(m *image.YCbCr, img *Image, r image.Rectangle) {
	w, h := r.Dx(), r.Dy()
	n := w * h
	if cap(m.Y) < n {
		m.Y, m.Cb, m.Cr = make([]byte, n), make([]byte, n), make([]byte, n)
	}
	m.Y, m.Cb, m.Cr = m.Y[:n], m.Cb[:n], m.Cr[:n]
	m.YStride, m.CStride = w, w
	m.SubsampleRatio = image.YCbCrSubsampleRatio444
	m.Rect = image.Rect(0, 0, w, h)
	for y := range h {
		src := img.Pix[(r.Min.Y+y)*img.Stride+r.Min.X*4:][: w*4 : w*4]
		yy, cb, cr := m.Y[y*w:][:w:w], m.Cb[y*w:][:w:w], m.Cr[y*w:][:w:w]
		for x := range w {
			p := src[x*4 : x*4+3 : x*4+3]
			b1, g1, r1 := int32(p[0]), int32(p[1]), int32(p[2])
			yy[x] = uint8((19595*r1 + 38470*g1 + 7471*b1 + 1<<15) >> 16)
			c := -11056*r1 - 21712*g1 + 32768*b1 + 257<<15
			if uint32(c)&0xff000000 == 0 {
				c >>= 16
			} else {
				c = ^(c >> 31)
			}
			cb[x] = uint8(c)
			c = 32768*r1 - 27440*g1 - 5328*b1 + 257<<15
			if uint32(c)&0xff000000 == 0 {
				c >>= 16
			} else {
				c = ^(c >> 31)
			}
			cr[x] = uint8(c)
		}
	}
}

var _ JPEGEncoder = StdJPEG{}
