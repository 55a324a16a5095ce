package panel

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// The window's measures at scale 1 (96 DPI), in pixels.
const (
	width      = 340
	margin     = 16
	headerH    = 44
	buttonH    = 34
	rowH       = 38
	switchW    = 40
	switchH    = 22
	endH       = 38
	lineGap    = 5
	sectionGap = 14
)

// Colours that are not the brand's.
var (
	colBackground = color.RGBA{0xfb, 0xfb, 0xfc, 0xff}
	colText       = color.RGBA{0x1d, 0x1f, 0x24, 0xff}
	colMuted      = color.RGBA{0x5f, 0x66, 0x70, 0xff}
	colLine       = color.RGBA{0xdd, 0xe0, 0xe5, 0xff}
	colQuestion   = color.RGBA{0xff, 0xf4, 0xd6, 0xff}
	colQuestionBd = color.RGBA{0xe8, 0xb9, 0x3c, 0xff}
	colOff        = color.RGBA{0xb8, 0xbe, 0xc7, 0xff}
	colWhite      = color.RGBA{0xff, 0xff, 0xff, 0xff}
	colEnd        = color.RGBA{0xc6, 0x28, 0x28, 0xff}
)

// renderer holds the faces of one scale.
type renderer struct {
	scale                  float64
	brand, label, body     font.Face
	bold, code, small, btn font.Face
}

// goFonts parses the bundled fonts once: they are constant data.
var goFonts = sync.OnceValues(func() (reg, bold *opentype.Font) {
	reg, err := opentype.Parse(goregular.TTF)
	if err != nil {
		panic(err) // the bundled font is fixed: a failure is a build defect
	}
	bold, err = opentype.Parse(gobold.TTF)
	if err != nil {
		panic(err)
	}
	return reg, bold
})

// newRenderer makes the faces of one scale.
func newRenderer(scale float64) *renderer {
	reg, bld := goFonts()
	face := func(f *opentype.Font, px float64) font.Face {
		fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px * scale, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			panic(err)
		}
		return fc
	}
	return &renderer{
		scale: scale,
		brand: face(bld, 17), label: face(reg, 13), body: face(reg, 14),
		bold: face(bld, 14), code: face(bld, 40), small: face(reg, 12), btn: face(bld, 14),
	}
}

// px scales a measure.
func (r *renderer) px(v int) int { return int(math.Round(float64(v) * r.scale)) }

// layout is the window laid out: what to draw and where the controls are.
type layout struct {
	size    image.Point
	ops     []func(dst *image.RGBA)
	widgets []widget
	order   []Control // tab order of the controls shown
}

type widget struct {
	ctl Control
	r   image.Rectangle
}

func (p *Panel) layout() *layout {
	if p.lay == nil {
		p.lay = p.r.layout(p)
	}
	return p.lay
}

// layout places everything from the top down.
func (r *renderer) layout(p *Panel) *layout {
	l := &layout{}
	t := p.t
	W := r.px(width)
	m := r.px(margin)
	brand := p.opts.Color
	y := 0

	// The brand's header.
	hh := r.px(headerH)
	l.ops = append(l.ops, fill(image.Rect(0, 0, W, hh), brand))
	l.text(r.brand, colWhite, m, centreBaseline(r.brand, 0, hh), p.opts.Brand)
	y = hh + r.px(sectionGap)

	// The code, while it means something.
	if p.phase <= Asking {
		y = l.text(r.label, colMuted, m, y+ascent(r.label), t.codeLabel) + r.px(lineGap)
		code, col := GroupCode(p.code), colText
		if p.code == "" {
			code, col = "… …", colMuted
		}
		if p.expired {
			col = colMuted
		}
		y = l.text(r.code, col, m, y+ascent(r.code), code) + r.px(lineGap)
		if !p.expires.IsZero() {
			y = l.text(r.small, colMuted, m, y+ascent(r.small), fmt.Sprintf(t.expires, p.expires.Format("15:04"))) + r.px(lineGap)
		}
		y += r.px(sectionGap) - r.px(lineGap)
	}

	// The state in a sentence.
	face := r.body
	if p.phase >= Sharing {
		face = r.bold
	}
	if p.question == nil || p.question.Control || p.phase != Asking {
		// (While the question is open it says the same.)
		y = l.para(face, colText, m, y, W-2*m, p.sentence()) + r.px(sectionGap)
	}

	// The question, with its buttons.
	if q := p.questionText(); q != "" {
		pad := r.px(12)
		top := y
		inner := l.para(r.bold, colText, m+pad, y+pad, W-2*m-2*pad, q) + r.px(10)
		bw := (W - 2*m - 2*pad - r.px(10)) / 2
		allow := image.Rect(m+pad, inner, m+pad+bw, inner+r.px(buttonH))
		deny := image.Rect(allow.Max.X+r.px(10), inner, W-m-pad, inner+r.px(buttonH))
		bottom := allow.Max.Y + pad
		box := image.Rect(m, top, W-m, bottom)
		// The box goes under the question's text, added before it.
		l.under(roundRect(box, r.px(6), colQuestionBd), roundRect(box.Inset(max(1, r.px(1))), r.px(5), colQuestion))
		l.button(r, allow, CtlAllow, t.allow, brand, colWhite, p.focus)
		l.button(r, deny, CtlDeny, t.deny, colWhite, colText, p.focus)
		y = bottom + r.px(sectionGap)
	}

	// The rights and the arrow as switches.
	l.ops = append(l.ops, fill(image.Rect(m, y, W-m, y+max(1, r.px(1))), colLine))
	y += r.px(4)
	keyOr := func(k string) string {
		if k == "" {
			return t.noKey
		}
		return k
	}
	rows := []struct {
		ctl       Control
		label, hk string
		on        bool
	}{
		{CtlControl, t.control, keyOr(p.keys.Control), p.control},
		{CtlFiles, t.files, keyOr(p.keys.Files), p.files},
		{CtlArrow, t.arrow, "", p.arrow},
		{CtlHide, t.hide, "", p.hidden},
	}
	for _, row := range rows {
		rr := image.Rect(m, y, W-m, y+r.px(rowH))
		base := centreBaseline(r.body, rr.Min.Y, rr.Max.Y)
		l.text(r.body, colText, m, base, row.label)
		if row.hk != "" {
			l.textRight(r.small, colMuted, W-m-r.px(switchW)-r.px(10), base, row.hk)
		}
		sw := image.Rect(W-m-r.px(switchW), 0, W-m, r.px(switchH)).Add(image.Pt(0, rr.Min.Y+(rr.Dy()-r.px(switchH))/2))
		l.ops = append(l.ops, toggle(sw, row.on, brand))
		l.control(row.ctl, rr, p.focus, brand)
		y = rr.Max.Y
	}
	l.ops = append(l.ops, fill(image.Rect(m, y, W-m, y+max(1, r.px(1))), colLine))
	y += r.px(sectionGap)

	// File transfers: their lines, why no file could be chosen, "Send
	// files…" and "Cancel transfers".
	if len(p.transfers) > 0 || p.sendShown() {
		y = l.text(r.label, colMuted, m, y+ascent(r.label), t.transfers) + r.px(lineGap)
		active := false
		for _, tr := range p.transfers {
			y = l.para(r.small, colText, m, y, W-2*m, p.transferLine(tr)) + r.px(2)
			active = active || tr.State == Running
		}
		if p.sendError && p.sendShown() {
			y = l.para(r.small, colEnd, m, y, W-2*m, t.sendFailed) + r.px(2)
		}
		for _, b := range []struct {
			ctl   Control
			label string
			shown bool
		}{{CtlSend, t.send, p.sendShown()}, {CtlCancel, t.cancel, active}} {
			if b.shown {
				y += r.px(4)
				br := image.Rect(m, y, W-m, y+r.px(28))
				l.button(r, br, b.ctl, b.label, colWhite, colText, p.focus)
				y = br.Max.Y
			}
		}
		y += r.px(sectionGap)
	}

	// End.
	label := t.end
	if p.phase == Ended {
		label = t.close
	}
	end := image.Rect(m, y, W-m, y+r.px(endH))
	l.button(r, end, CtlEnd, label, colEnd, colWhite, p.focus)
	y = end.Max.Y + m
	l.size = image.Pt(W, y)
	return l
}

// text draws s with its baseline at y from x and returns the y under it.
func (l *layout) text(f font.Face, c color.RGBA, x, y int, s string) int {
	l.ops = append(l.ops, func(dst *image.RGBA) {
		d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: f, Dot: fixed.P(x, y)}
		d.DrawString(s)
	})
	return y + f.Metrics().Descent.Ceil()
}

// textRight draws s ending at x.
func (l *layout) textRight(f font.Face, c color.RGBA, x, y int, s string) {
	w := font.MeasureString(f, s).Ceil()
	l.text(f, c, x-w, y, s)
}

// para draws s wrapped at width w from the top y and returns the y under
// it.
func (l *layout) para(f font.Face, c color.RGBA, x, y, w int, s string) int {
	lh := f.Metrics().Height.Ceil()
	for _, line := range wrap(f, s, w) {
		l.text(f, c, x, y+ascent(f), line)
		y += lh
	}
	return y
}

// under puts ops beneath everything drawn so far.
func (l *layout) under(ops ...func(*image.RGBA)) {
	l.ops = append(ops, l.ops...)
}

// button draws a button that is control c.
func (l *layout) button(r *renderer, b image.Rectangle, c Control, label string, bg, fg color.RGBA, focus Control) {
	if bg == colWhite {
		l.ops = append(l.ops, roundRect(b, r.px(5), colOff), roundRect(b.Inset(max(1, r.px(1))), r.px(4), colWhite))
	} else {
		l.ops = append(l.ops, roundRect(b, r.px(5), bg))
	}
	w := font.MeasureString(r.btn, label).Ceil()
	l.text(r.btn, fg, b.Min.X+(b.Dx()-w)/2, centreBaseline(r.btn, b.Min.Y, b.Max.Y), label)
	l.control(c, b, focus, colText)
}

// control makes b clickable as c, with a focus ring when c has the focus.
func (l *layout) control(c Control, b image.Rectangle, focus Control, ring color.RGBA) {
	l.widgets = append(l.widgets, widget{c, b})
	l.order = append(l.order, c)
	if c == focus {
		l.ops = append(l.ops, outline(b.Inset(-2), 2, ring))
	}
}

func ascent(f font.Face) int { return f.Metrics().Ascent.Ceil() }

// centreBaseline is the baseline that centres f's capitals between top
// and bottom.
func centreBaseline(f font.Face, top, bottom int) int {
	capH := f.Metrics().CapHeight.Ceil()
	if capH == 0 {
		capH = ascent(f) * 7 / 10
	}
	return top + (bottom-top+capH)/2
}

// wrap breaks s into lines no wider than w, at spaces; a word wider than
// w gets a line of its own.
func wrap(f font.Face, s string, w int) []string {
	var lines []string
	var cur string
	for _, word := range strings.Fields(s) {
		try := word
		if cur != "" {
			try = cur + " " + word
		}
		if cur != "" && font.MeasureString(f, try).Ceil() > w {
			lines = append(lines, cur)
			cur = word
			continue
		}
		cur = try
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

func fill(r image.Rectangle, c color.RGBA) func(*image.RGBA) {
	return func(dst *image.RGBA) { draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Src) }
}

// roundRect fills r with corners of radius rad, the corners' edge pixels
// blended by coverage.
func roundRect(r image.Rectangle, rad int, c color.RGBA) func(*image.RGBA) {
	return func(dst *image.RGBA) {
		rad := min(rad, r.Dx()/2, r.Dy()/2)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				a := cornerCover(x-r.Min.X, y-r.Min.Y, r.Dx(), r.Dy(), rad)
				if a > 0 {
					blend(dst, x, y, c, a)
				}
			}
		}
	}
}

// cornerCover is how much of pixel x, y of a w×h rounded rectangle is
// inside (0..1), sampled 4×4.
func cornerCover(x, y, w, h, rad int) float64 {
	cx, cy := -1.0, -1.0
	switch {
	case x < rad && y < rad:
		cx, cy = float64(rad), float64(rad)
	case x >= w-rad && y < rad:
		cx, cy = float64(w-rad), float64(rad)
	case x < rad && y >= h-rad:
		cx, cy = float64(rad), float64(h-rad)
	case x >= w-rad && y >= h-rad:
		cx, cy = float64(w-rad), float64(h-rad)
	default:
		return 1
	}
	in := 0
	for sy := range 4 {
		for sx := range 4 {
			dx := float64(x) + (float64(sx)+0.5)/4 - cx
			dy := float64(y) + (float64(sy)+0.5)/4 - cy
			if dx*dx+dy*dy <= float64(rad*rad) {
				in++
			}
		}
	}
	return float64(in) / 16
}

func blend(dst *image.RGBA, x, y int, c color.RGBA, a float64) {
	if !(image.Point{x, y}.In(dst.Rect)) {
		return
	}
	i := dst.PixOffset(x, y)
	px := dst.Pix[i : i+4 : i+4]
	for k, v := range [3]uint8{c.R, c.G, c.B} {
		px[k] = uint8(math.Round(float64(px[k])*(1-a) + float64(v)*a))
	}
	px[3] = 0xff
}

// toggle draws a switch: a pill, the brand's colour with the knob right
// when on, grey with the knob left when off.
func toggle(r image.Rectangle, on bool, brand color.RGBA) func(*image.RGBA) {
	return func(dst *image.RGBA) {
		track := colOff
		if on {
			track = brand
		}
		roundRect(r, r.Dy()/2, track)(dst)
		k := r.Dy() - 2*max(2, r.Dy()/10)
		kx := r.Min.X + (r.Dy()-k)/2
		if on {
			kx = r.Max.X - (r.Dy()+k)/2
		}
		knob := image.Rect(kx, r.Min.Y+(r.Dy()-k)/2, kx+k, r.Min.Y+(r.Dy()-k)/2+k)
		roundRect(knob, k/2, colWhite)(dst)
	}
}

// outline draws a frame of width w inside r.
func outline(r image.Rectangle, w int, c color.RGBA) func(*image.RGBA) {
	return func(dst *image.RGBA) {
		u := image.NewUniform(c)
		draw.Draw(dst, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+w), u, image.Point{}, draw.Src)
		draw.Draw(dst, image.Rect(r.Min.X, r.Max.Y-w, r.Max.X, r.Max.Y), u, image.Point{}, draw.Src)
		draw.Draw(dst, image.Rect(r.Min.X, r.Min.Y, r.Min.X+w, r.Max.Y), u, image.Point{}, draw.Src)
		draw.Draw(dst, image.Rect(r.Max.X-w, r.Min.Y, r.Max.X, r.Max.Y), u, image.Point{}, draw.Src)
	}
}

// draw paints the layout.
func (r *renderer) draw(p *Panel, l *layout) *image.RGBA {
	img := image.NewRGBA(image.Rectangle{Max: l.size})
	draw.Draw(img, img.Rect, image.NewUniform(colBackground), image.Point{}, draw.Src)
	for _, op := range l.ops {
		op(img)
	}
	return img
}
