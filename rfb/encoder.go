package rfb

import (
	"encoding/binary"
	"image"
)

// An encoder turns rectangles of the framebuffer into one encoding's wire
// form for one connection. Each encoding lives in its own enc_*.go file; a
// connection makes an encoder the first time it needs one and keeps it,
// so encoders may hold state across updates (zlib streams).
type encoder interface {
	// encode appends one or more rectangles, headers included, that
	// together cover r of img.
	encode(u *updateWriter, img *Image, r image.Rectangle) error
}

// encoderFactories lists the data encodings this server can send.
var encoderFactories = map[Encoding]func() encoder{
	EncRaw:     func() encoder { return rawEncoder{} },
	EncHextile: func() encoder { return hextileEncoder{} },
	EncZRLE:    func() encoder { return new(zrleEncoder) },
	EncTight:   func() encoder { return newTightEncoder(false) }, EncTightPNG: func() encoder { return newTightEncoder(true) },
}

// updateWriter collects the rectangles of one FramebufferUpdate.
type updateWriter struct {
	buf   []byte
	start int // offset of the FramebufferUpdate header in buf
	n     int // rectangles so far
	conv  *converter
	// jpeg encodes photo-like areas; nil means the package's own encoder.
	jpeg JPEGEncoder
	// Client's TightVNC-style levels, -1 when it sent none.
	quality, compress int
	// TurboVNC's fine JPEG settings: fineQuality is 1..100 (0: none
	// sent), subsampling applies when subsamplingSet.
	fineQuality    int
	subsampling    Subsampling
	subsamplingSet bool
	// noGradient keeps Tight's gradient filter from a client that may
	// not decode it; lossless forbids JPEG (a lossless refresh).
	noGradient, lossless bool

	// lossy collects the rectangles sent with lossy compression.
	lossy []image.Rectangle
}

// settings returns a writer with u's settings and no content, for
// encoding a part of the update in parallel.
func (u *updateWriter) settings() updateWriter {
	return updateWriter{conv: u.conv, jpeg: u.jpeg, quality: u.quality, compress: u.compress,
		fineQuality: u.fineQuality, subsampling: u.subsampling, subsamplingSet: u.subsamplingSet,
		noGradient: u.noGradient, lossless: u.lossless}
}

func (u *updateWriter) begin(buf []byte) {
	u.lossy = u.lossy[:0]
	u.start = len(buf)
	u.buf = append(buf, byte(msgFramebufferUpdate), 0, 0, 0)
	u.n = 0
}

// rect appends a rectangle header; the caller appends the data.
func (u *updateWriter) rect(r image.Rectangle, e Encoding) {
	u.buf = appendRectHeader(u.buf, r, e)
	u.n++
}

// finish writes the rectangle count. Past 65534 rectangles the count is
// 65535 and a LastRect rectangle ends the update, if the client allows.
func (u *updateWriter) finish(lastRect bool) ([]byte, bool) {
	switch {
	case u.n == 0:
		return u.buf[:u.start], false
	case u.n < 0xffff:
		binary.BigEndian.PutUint16(u.buf[u.start+2:], uint16(u.n))
	case lastRect:
		u.rect(image.Rectangle{}, EncLastRect)
		binary.BigEndian.PutUint16(u.buf[u.start+2:], 0xffff)
	default:
		return u.buf[:u.start], false
	}
	return u.buf, true
}

// rawEncoder sends pixels as they are (encoding 0).
type rawEncoder struct{}

func (rawEncoder) encode(u *updateWriter, img *Image, r image.Rectangle) error {
	u.rect(r, EncRaw)
	u.buf = u.conv.appendRect(u.buf, img, r)
	return nil
}

var _ encoder = rawEncoder{}
