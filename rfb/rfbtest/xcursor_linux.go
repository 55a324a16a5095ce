package rfbtest

import (
	"fmt"
	"image"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/render"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
)

// SetRootCursor makes img (with alpha) the pointer image of x's root
// window, through a RENDER ARGB cursor, as a desktop's themed cursors are.
// The X connection that owns the cursor stays open until the test ends:
// a cursor freed by its client cannot be read back through XFIXES on
// this Xvfb.
func SetRootCursor(t testing.TB, x *Xvfb, img *image.NRGBA, hot image.Point) {
	t.Helper()
	c, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		t.Fatalf("rfbtest: connecting to %s: %v", x.Display, err)
	}
	t.Cleanup(c.Close)
	if err := render.Init(c); err != nil {
		t.Fatalf("rfbtest: RENDER on %s: %v", x.Display, err)
	}
	root := xproto.Setup(c).DefaultScreen(c).Root
	w, h := img.Rect.Dx(), img.Rect.Dy()
	formats, err := render.QueryPictFormats(c).Reply()
	if err != nil {
		t.Fatalf("rfbtest: RENDER formats: %v", err)
	}
	var argb render.Pictformat
	for _, f := range formats.Formats {
		d := f.Direct
		if f.Depth == 32 && f.Type == render.PictTypeDirect && d.AlphaShift == 24 && d.RedShift == 16 && d.GreenShift == 8 && d.BlueShift == 0 {
			argb = f.Id
		}
	}
	if argb == 0 {
		t.Fatal("rfbtest: no ARGB32 picture format")
	}
	pix, _ := xproto.NewPixmapId(c)
	gc, _ := xproto.NewGcontextId(c)
	pic, _ := render.NewPictureId(c)
	cur, _ := xproto.NewCursorId(c)
	if err := xproto.CreatePixmapChecked(c, 32, pix, xproto.Drawable(root), uint16(w), uint16(h)).Check(); err != nil {
		t.Fatalf("rfbtest: pixmap: %v", err)
	}
	if err := xproto.CreateGCChecked(c, gc, xproto.Drawable(pix), 0, nil).Check(); err != nil {
		t.Fatalf("rfbtest: GC: %v", err)
	}
	// ZPixmap at depth 32: B, G, R, A bytes, premultiplied as RENDER wants.
	data := make([]byte, 0, w*h*4)
	for y := range h {
		for x := range w {
			p := img.NRGBAAt(img.Rect.Min.X+x, img.Rect.Min.Y+y)
			a := uint32(p.A)
			pm := func(v uint8) byte { return byte((uint32(v)*a + 127) / 255) }
			data = append(data, pm(p.B), pm(p.G), pm(p.R), p.A)
		}
	}
	if err := xproto.PutImageChecked(c, xproto.ImageFormatZPixmap, xproto.Drawable(pix), gc, uint16(w), uint16(h), 0, 0, 0, 32, data).Check(); err != nil {
		t.Fatalf("rfbtest: PutImage: %v", err)
	}
	if err := render.CreatePictureChecked(c, pic, xproto.Drawable(pix), argb, 0, nil).Check(); err != nil {
		t.Fatalf("rfbtest: picture: %v", err)
	}
	if err := render.CreateCursorChecked(c, cur, pic, uint16(hot.X), uint16(hot.Y)).Check(); err != nil {
		t.Fatalf("rfbtest: cursor: %v", err)
	}
	if err := xproto.ChangeWindowAttributesChecked(c, root, xproto.CwCursor, []uint32{uint32(cur)}).Check(); err != nil {
		t.Fatalf("rfbtest: root cursor: %v", err)
	}
}

// XCursor reads the pointer image that x shows now (XFIXES), with its
// alpha (not premultiplied) and hot spot: what a viewer running on x made
// of a server's cursor.
func XCursor(x *Xvfb) (*image.NRGBA, image.Point, error) {
	c, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		return nil, image.Point{}, err
	}
	defer c.Close()
	if err := xfixes.Init(c); err != nil {
		return nil, image.Point{}, fmt.Errorf("rfbtest: XFIXES on %s: %w", x.Display, err)
	}
	if _, err := xfixes.QueryVersion(c, 4, 0).Reply(); err != nil {
		return nil, image.Point{}, err
	}
	rep, err := xfixes.GetCursorImage(c).Reply()
	if err != nil {
		return nil, image.Point{}, err
	}
	w, h := int(rep.Width), int(rep.Height)
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h && i < len(rep.CursorImage); i++ {
		p := rep.CursorImage[i]
		a := p >> 24
		r, g, b := p>>16&0xff, p>>8&0xff, p&0xff
		if a != 0 && a != 0xff {
			r, g, b = min(r*0xff/a, 0xff), min(g*0xff/a, 0xff), min(b*0xff/a, 0xff)
		}
		m.Pix[i*4], m.Pix[i*4+1], m.Pix[i*4+2], m.Pix[i*4+3] = byte(r), byte(g), byte(b), byte(a)
	}
	return m, image.Pt(int(rep.Xhot), int(rep.Yhot)), nil
}

// CursorDiff compares two cursor images: colours only where both are
// opaque enough to show (alpha ≥ 128), within tol per channel; alpha
// within atol. It returns how many pixels differ and a description of the
// first.
func CursorDiff(got, want *image.NRGBA, tol, atol int) (int, string) {
	if got.Rect.Size() != want.Rect.Size() {
		return -1, fmt.Sprintf("size %v, want %v", got.Rect.Size(), want.Rect.Size())
	}
	n := 0
	detail := ""
	for y := range want.Rect.Dy() {
		for x := range want.Rect.Dx() {
			g := got.NRGBAAt(got.Rect.Min.X+x, got.Rect.Min.Y+y)
			w := want.NRGBAAt(want.Rect.Min.X+x, want.Rect.Min.Y+y)
			bad := absDiff(g.A, w.A) > atol
			if g.A >= 0x80 && w.A >= 0x80 {
				bad = bad || absDiff(g.R, w.R) > tol || absDiff(g.G, w.G) > tol || absDiff(g.B, w.B) > tol
			}
			if bad {
				if n == 0 {
					detail = fmt.Sprintf("(%d,%d): got %v, want %v", x, y, g, w)
				}
				n++
			}
		}
	}
	return n, detail
}

// CaptureRoot reads x's root window with GetImage over the X protocol,
// as the agent's capture does: the pixels as they are, whatever visual
// class xwd would report (a GTK program can make it DirectColor, which
// xwd's reader here refuses).
func CaptureRoot(x *Xvfb) (*image.RGBA, error) {
	c, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	screen := xproto.Setup(c).DefaultScreen(c)
	w, h := int(screen.WidthInPixels), int(screen.HeightInPixels)
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	// In bands: one reply is limited to the maximum request length.
	const band = 64
	for y := 0; y < h; y += band {
		bh := min(band, h-y)
		rep, err := xproto.GetImage(c, xproto.ImageFormatZPixmap, xproto.Drawable(screen.Root), 0, int16(y), uint16(w), uint16(bh), 0xffffffff).Reply()
		if err != nil {
			return nil, err
		}
		if rep.Depth != 24 || len(rep.Data) < w*bh*4 {
			return nil, fmt.Errorf("rfbtest: GetImage gave depth %d, %d bytes for %dx%d", rep.Depth, len(rep.Data), w, bh)
		}
		for i := 0; i < w*bh; i++ {
			p := rep.Data[i*4 : i*4+4]
			o := (y*w + i) * 4
			m.Pix[o], m.Pix[o+1], m.Pix[o+2], m.Pix[o+3] = p[2], p[1], p[0], 0xff
		}
	}
	return m, nil
}
