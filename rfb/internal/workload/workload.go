// Package workload generates deterministic 1920x1080 screen sessions for
// the encoder benchmarks: each workload is a first frame and then a
// sequence of changes, the way a capture loop would report them.
//
// The five workloads are the ones the encoding issue names:
//
//	terminal  scrolling text in a terminal (moves plus a new line)
//	office    a document or web page of text and flat colours being edited
//	photo     a photograph being panned
//	video     a video-like area of changing noise on a desktop
//	drag      a window being dragged across a desktop
//
// Frames are in the rfb native layout (B, G, R, X bytes per pixel), so a
// benchmark can wrap them without conversion. The same name and size give
// the same pixels on every machine.
package workload

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Names lists the workloads in a fixed order.
var Names = []string{"terminal", "office", "photo", "video", "drag"}

// Move is a copy of pixels from Src to Dst, reported by the source.
type Move struct {
	Dst image.Rectangle
	Src image.Point
}

// Step is one change: the pixels after it, what moved, and what else
// changed.
type Step struct {
	Moves  []Move
	Damage []image.Rectangle
}

// Workload is a running session.
type Workload struct {
	Name string
	// Frame holds the current picture; its Pix is B, G, R, X per pixel.
	Frame *image.RGBA
	next  func(w *Workload) Step
	rng   *rand.Rand
	tick  int
	state any
}

// New returns the named workload at its first frame.
func New(name string, w, h int) (*Workload, error) {
	wl := &Workload{Name: name, Frame: image.NewRGBA(image.Rect(0, 0, w, h)), rng: rand.New(rand.NewPCG(uint64(len(name)), 42))}
	switch name {
	case "terminal":
		wl.initTerminal()
	case "office":
		wl.initOffice()
	case "photo":
		wl.initPhoto()
	case "video":
		wl.initVideo()
	case "drag":
		wl.initDrag()
	default:
		return nil, fmt.Errorf("workload: unknown workload %q", name)
	}
	return wl, nil
}

// Next advances the session by one change.
func (w *Workload) Next() Step {
	w.tick++
	return w.next(w)
}

// set writes an RGB colour in the native byte order.
func (w *Workload) fill(r image.Rectangle, c color.RGBA) {
	draw.Draw(w.Frame, r, image.NewUniform(native(c)), image.Point{}, draw.Src)
}

// native swaps red and blue so that image.RGBA's R,G,B,A byte order
// holds B,G,R,X.
func native(c color.RGBA) color.RGBA { return color.RGBA{c.B, c.G, c.R, 0} }

var words = []string{"the", "session", "code", "support", "customer", "screen", "window", "broker",
	"viewer", "encoding", "rectangle", "pixel", "update", "network", "agent", "control", "file",
	"transfer", "printer", "driver", "settings", "error", "message", "install", "restart", "click",
	"button", "menu", "help", "desk", "ticket", "password", "account", "invoice", "report", "2026",
	"of", "and", "to", "in", "is", "a", "for", "with", "on", "by", "#4711", "OK", "Cancel", "/etc/hosts"}

func (w *Workload) sentence(n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += " "
		}
		s += words[w.rng.IntN(len(words))]
	}
	return s
}

var face = basicfont.Face7x13

const lineH = 15

// text draws s with its baseline at (x, y) and returns the area it covered.
func (w *Workload) text(x, y int, s string, fg color.RGBA) image.Rectangle {
	d := font.Drawer{Dst: w.Frame, Src: image.NewUniform(native(fg)), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
	return image.Rect(x, y-11, d.Dot.X.Ceil(), y+4).Intersect(w.Frame.Rect)
}

// --- terminal: a full-screen terminal scrolling output ---

func (w *Workload) initTerminal() {
	b := w.Frame.Rect
	w.fill(b, color.RGBA{0x1e, 0x1e, 0x1e, 0xff})
	rows := b.Dy() / lineH
	for r := range rows {
		w.termLine(r)
	}
	w.next = func(w *Workload) Step {
		// Scroll everything up by one line, then print a new one.
		body := image.Rect(0, 0, b.Dx(), rows*lineH)
		dst := image.Rect(0, 0, b.Dx(), (rows-1)*lineH)
		draw.Draw(w.Frame, dst, w.Frame, image.Pt(0, lineH), draw.Src)
		last := image.Rect(0, (rows-1)*lineH, b.Dx(), body.Max.Y)
		w.fill(last, color.RGBA{0x1e, 0x1e, 0x1e, 0xff})
		w.termLine(rows - 1)
		return Step{Moves: []Move{{Dst: dst, Src: image.Pt(0, lineH)}}, Damage: []image.Rectangle{last}}
	}
}

func (w *Workload) termLine(row int) {
	y := row*lineH + 12
	prompt := w.rng.IntN(6) == 0
	x := 4
	if prompt {
		x = w.text(x, y, "user@desk:~$ ", color.RGBA{0x8a, 0xe2, 0x34, 0xff}).Max.X
	}
	col := color.RGBA{0xd0, 0xd0, 0xd0, 0xff}
	if w.rng.IntN(9) == 0 {
		col = color.RGBA{0xef, 0x29, 0x29, 0xff}
	}
	w.text(x, y, w.sentence(3+w.rng.IntN(30)), col)
}

// --- office: a word processor or web page being typed into ---

type officeState struct {
	x, y int
	area image.Rectangle
}

func (w *Workload) initOffice() {
	b := w.Frame.Rect
	w.fill(b, color.RGBA{0xe8, 0xe8, 0xe8, 0xff})                                   // desktop
	w.fill(image.Rect(0, 0, b.Dx(), 32), color.RGBA{0x2b, 0x57, 0x9a, 0xff})        // title bar
	w.text(12, 21, "Quarterly report - Writer", color.RGBA{0xff, 0xff, 0xff, 0xff}) //
	w.fill(image.Rect(0, 32, b.Dx(), 72), color.RGBA{0xf3, 0xf3, 0xf3, 0xff})       // toolbar
	for i := range 24 {
		w.fill(image.Rect(10+i*34, 38, 38+i*34, 66), color.RGBA{0xd6, 0xd6, 0xd6, 0xff})
	}
	page := image.Rect(b.Dx()/2-420, 90, b.Dx()/2+420, b.Dy()-10)
	w.fill(page, color.RGBA{0xff, 0xff, 0xff, 0xff})
	y := page.Min.Y + 60
	for y < page.Max.Y-40 {
		switch w.rng.IntN(8) {
		case 0: // heading
			w.text(page.Min.X+60, y, w.sentence(4), color.RGBA{0x2b, 0x57, 0x9a, 0xff})
			y += 2 * lineH
		case 1: // a coloured box, like a table header or a chart bar
			w.fill(image.Rect(page.Min.X+60, y-10, page.Min.X+60+w.rng.IntN(600)+80, y+20), color.RGBA{uint8(w.rng.IntN(256)), 0xc0, 0x60, 0xff})
			y += 2 * lineH
		default:
			w.text(page.Min.X+60, y, w.sentence(9+w.rng.IntN(4)), color.RGBA{0x20, 0x20, 0x20, 0xff})
			y += lineH
		}
	}
	w.state = &officeState{x: page.Min.X + 60, y: page.Max.Y - 30, area: page}
	w.next = func(w *Workload) Step {
		// Type a word at the end of the document, as someone writing.
		s := w.state.(*officeState)
		word := words[w.rng.IntN(len(words))] + " "
		r := w.text(s.x, s.y, word, color.RGBA{0x20, 0x20, 0x20, 0xff})
		s.x = r.Max.X
		if s.x > s.area.Max.X-120 {
			s.x = s.area.Min.X + 60
		}
		return Step{Damage: []image.Rectangle{r}}
	}
}

// --- photo: a photograph panned across the screen ---

func (w *Workload) initPhoto() {
	b := w.Frame.Rect
	// A photo-like picture: smooth shapes of several scales plus grain,
	// made wider than the screen so it can pan.
	pw := b.Dx() + 512
	photo := image.NewRGBA(image.Rect(0, 0, pw, b.Dy()))
	type blob struct{ x, y, r, cr, cg, cb float64 }
	var blobs []blob
	for range 60 {
		blobs = append(blobs, blob{w.rng.Float64() * float64(pw), w.rng.Float64() * float64(b.Dy()), 60 + w.rng.Float64()*400,
			w.rng.Float64(), w.rng.Float64(), w.rng.Float64()})
	}
	for y := range b.Dy() {
		for x := range pw {
			r, g, bl := 0.35+0.25*math.Sin(float64(x)/310), 0.45+0.2*math.Cos(float64(y)/170), 0.5
			for _, k := range blobs[:20] {
				dx, dy := float64(x)-k.x, float64(y)-k.y
				f := math.Exp(-(dx*dx + dy*dy) / (k.r * k.r))
				r, g, bl = r+f*(k.cr-0.5), g+f*(k.cg-0.5), bl+f*(k.cb-0.5)
			}
			n := (w.rng.Float64() - 0.5) * 0.06
			photo.SetRGBA(x, y, color.RGBA{clamp(r + n), clamp(g + n), clamp(bl + n), 0xff})
		}
	}
	show := func(off int) {
		for y := range b.Dy() {
			for x := range b.Dx() {
				c := photo.RGBAAt(x+off, y)
				w.Frame.SetRGBA(x, y, native(c))
			}
		}
	}
	show(0)
	w.next = func(w *Workload) Step {
		show((w.tick * 8) % 512)
		return Step{Damage: []image.Rectangle{b}}
	}
}

func clamp(v float64) uint8 {
	return uint8(max(0, min(255, v*255)))
}

// --- video: a player window whose picture area is changing noise ---

func (w *Workload) initVideo() {
	b := w.Frame.Rect
	w.desktop()
	win := image.Rect(320, 180, 320+1280, 180+40+720)
	w.window(win, "Video player")
	area := image.Rect(win.Min.X, win.Min.Y+40, win.Max.X, win.Max.Y)
	frame := func() {
		// Blocky noise with a moving gradient: like compressed video, it
		// changes everywhere and has many colours.
		for y := area.Min.Y; y < area.Max.Y; y += 4 {
			for x := area.Min.X; x < area.Max.X; x += 4 {
				v := w.rng.Uint32()
				c := color.RGBA{uint8(v)/2 + uint8(x+w.tick*5)/2, uint8(v>>8)/2 + uint8(y)/2, uint8(v >> 16), 0xff}
				draw.Draw(w.Frame, image.Rect(x, y, x+4, y+4).Intersect(area), image.NewUniform(native(c)), image.Point{}, draw.Src)
			}
		}
	}
	frame()
	_ = b
	w.next = func(w *Workload) Step {
		frame()
		return Step{Damage: []image.Rectangle{area}}
	}
}

// --- drag: a window dragged over the desktop ---

func (w *Workload) initDrag() {
	w.desktop()
	bg := image.NewRGBA(w.Frame.Rect)
	draw.Draw(bg, bg.Rect, w.Frame, image.Point{}, draw.Src)
	win := image.Rect(200, 150, 200+900, 150+600)
	w.window(win, "Document - Editor")
	w.next = func(w *Workload) Step {
		d := image.Pt(12, 5)
		if (w.tick/60)%2 == 1 {
			d = image.Pt(-12, -5)
		}
		nw := win.Add(d)
		draw.Draw(w.Frame, nw, w.Frame, win.Min, draw.Src)
		// Repaint what the window uncovered.
		var exposed []image.Rectangle
		for _, r := range subtract(win, nw) {
			draw.Draw(w.Frame, r, bg, r.Min, draw.Src)
			exposed = append(exposed, r)
		}
		old := win
		win = nw
		return Step{Moves: []Move{{Dst: nw, Src: old.Min}}, Damage: exposed}
	}
}

// desktop paints a wallpaper with a gradient and icons.
func (w *Workload) desktop() {
	b := w.Frame.Rect
	for y := range b.Dy() {
		c := color.RGBA{0x10, uint8(0x40 + y*0x60/b.Dy()), uint8(0x70 + y*0x50/b.Dy()), 0xff}
		w.fill(image.Rect(0, y, b.Dx(), y+1), c)
	}
	for i := range 8 {
		w.fill(image.Rect(24, 24+i*96, 72, 72+i*96), color.RGBA{0xf0, 0xc0, 0x40, 0xff})
		w.text(16, 90+i*96, w.sentence(1), color.RGBA{0xff, 0xff, 0xff, 0xff})
	}
	w.fill(image.Rect(0, b.Dy()-40, b.Dx(), b.Dy()), color.RGBA{0x20, 0x20, 0x28, 0xff})
}

// window paints a window with a title bar and text content.
func (w *Workload) window(r image.Rectangle, title string) {
	w.fill(r, color.RGBA{0xfa, 0xfa, 0xfa, 0xff})
	w.fill(image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+40), color.RGBA{0x3c, 0x3c, 0x46, 0xff})
	w.text(r.Min.X+14, r.Min.Y+25, title, color.RGBA{0xff, 0xff, 0xff, 0xff})
	for y := r.Min.Y + 64; y < r.Max.Y-10; y += lineH {
		w.text(r.Min.X+16, y, w.sentence(8+w.rng.IntN(8)), color.RGBA{0x30, 0x30, 0x30, 0xff})
	}
}

// subtract returns the parts of a not covered by b.
func subtract(a, b image.Rectangle) []image.Rectangle {
	i := a.Intersect(b)
	if i.Empty() {
		return []image.Rectangle{a}
	}
	var out []image.Rectangle
	if i.Min.Y > a.Min.Y {
		out = append(out, image.Rect(a.Min.X, a.Min.Y, a.Max.X, i.Min.Y))
	}
	if i.Max.Y < a.Max.Y {
		out = append(out, image.Rect(a.Min.X, i.Max.Y, a.Max.X, a.Max.Y))
	}
	if i.Min.X > a.Min.X {
		out = append(out, image.Rect(a.Min.X, i.Min.Y, i.Min.X, i.Max.Y))
	}
	if i.Max.X < a.Max.X {
		out = append(out, image.Rect(i.Max.X, i.Min.Y, a.Max.X, i.Max.Y))
	}
	return out
}
