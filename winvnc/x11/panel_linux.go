//go:build linux

package x11

import (
	"encoding/binary"
	"fmt"
	"image"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/shape"
	"github.com/jezek/xgb/xproto"
)

// PanelWindow is a top-level window whose picture the agent draws itself
// (the customer's window, winvnc/panel): always on top, of a fixed size,
// on the agent's own connection. Its input comes on Events.
type PanelWindow struct {
	d      *Display
	id     xproto.Window
	gc     xproto.Gcontext
	pf     pixelFormat
	events chan PanelEvent
	remove func()

	mu     sync.Mutex
	size   image.Point
	at     image.Point // top-left on the root, as last configured
	closed bool
}

// PanelEvent is the customer's hand on a PanelWindow. It is a closed
// set.
type PanelEvent interface{ panelEvent() }

// The events.
type (
	// PanelPress and PanelRelease are the first mouse button.
	PanelPress   struct{ X, Y int }
	PanelRelease struct{ X, Y int }
	// PanelKey is a key press: its keysym in the first column (the
	// unshifted one) and whether Shift was held.
	PanelKey struct {
		Keysym uint32
		Shift  bool
	}
	// PanelExpose asks for the picture again.
	PanelExpose struct{}
	// PanelClose is the window manager's close button.
	PanelClose struct{}
)

func (PanelPress) panelEvent()   {}
func (PanelRelease) panelEvent() {}
func (PanelKey) panelEvent()     {}
func (PanelExpose) panelEvent()  {}
func (PanelClose) panelEvent()   {}

// Keysyms a PanelWindow's user presses.
const (
	KeysymTab         = 0xff09
	KeysymISOLeftTab  = 0xfe20
	KeysymReturn      = 0xff0d
	KeysymKPEnter     = 0xff8d
	KeysymEscape      = 0xff1b
	KeysymSpace       = 0x20
	panelEventBacklog = 64
)

// NewPanelWindow creates (unmapped) a size-sized window at the top right
// of the screen, above the others, titled title, with WM_CLASS class.
func (d *Display) NewPanelWindow(title, class string, size image.Point) (w *PanelWindow, err error) {
	pf, err := d.pixelFormat()
	if err != nil {
		return nil, err
	}
	if pf.bpp != 32 {
		return nil, fmt.Errorf("x11: the window needs a 32-bit pixel format, the screen has %d", pf.bpp)
	}
	w = &PanelWindow{d: d, pf: pf, size: size, events: make(chan PanelEvent, panelEventBacklog)}
	err = guard(func() error {
		c := d.conn
		id, err := xproto.NewWindowId(c)
		if err != nil {
			return err
		}
		w.id = id
		sw := int(d.screen.WidthInPixels)
		w.at = image.Pt(max(0, sw-size.X-16), 16)
		mask := uint32(xproto.CwBackPixel | xproto.CwEventMask)
		vals := []uint32{d.screen.WhitePixel,
			xproto.EventMaskExposure | xproto.EventMaskButtonPress | xproto.EventMaskButtonRelease |
				xproto.EventMaskKeyPress | xproto.EventMaskStructureNotify}
		if err := xproto.CreateWindowChecked(c, d.screen.RootDepth, id, d.root, int16(w.at.X), int16(w.at.Y),
			uint16(size.X), uint16(size.Y), 0, xproto.WindowClassInputOutput, d.screen.RootVisual, mask, vals).Check(); err != nil {
			return err
		}
		gc, err := xproto.NewGcontextId(c)
		if err != nil {
			return err
		}
		w.gc = gc
		if err := xproto.CreateGCChecked(c, gc, xproto.Drawable(id), 0, nil).Check(); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("x11: create the window: %w", err)
	}
	w.setProperties(title, class)
	w.remove = d.handle(w.filter)
	return w, nil
}

// setProperties tells the window manager what the window is: its title,
// class, that it stays on top and at its size, that it may take the
// focus, and that its close button asks first.
func (w *PanelWindow) setProperties(title, class string) {
	c, id := w.d.conn, w.id
	w.SetTitle(title)
	cls := class + "\x00" + class + "\x00"
	xproto.ChangeProperty(c, xproto.PropModeReplace, id, xproto.AtomWmClass, xproto.AtomString, 8, uint32(len(cls)), []byte(cls))
	atoms := func(prop string, names ...string) {
		p, err := w.d.atom(prop)
		if err != nil {
			return
		}
		var buf []byte
		for _, n := range names {
			a, err := w.d.atom(n)
			if err != nil {
				return
			}
			buf = binary.LittleEndian.AppendUint32(buf, uint32(a))
		}
		xproto.ChangeProperty(c, xproto.PropModeReplace, id, p, xproto.AtomAtom, 32, uint32(len(names)), buf)
	}
	atoms("_NET_WM_STATE", "_NET_WM_STATE_ABOVE", "_NET_WM_STATE_STICKY")
	atoms("_NET_WM_WINDOW_TYPE", "_NET_WM_WINDOW_TYPE_DIALOG")
	atoms("WM_PROTOCOLS", "WM_DELETE_WINDOW")
	if a, err := w.d.atom("_NET_WM_PID"); err == nil {
		xproto.ChangeProperty(c, xproto.PropModeReplace, id, a, xproto.AtomCardinal, 32, 1, binary.LittleEndian.AppendUint32(nil, uint32(os.Getpid())))
	}
	// WM_HINTS: input true, so that a click gives the keyboard to the
	// window; the window never takes it by itself (see Focus).
	hints := make([]byte, 0, 36)
	for _, v := range []uint32{1, 1, 1, 0, 0, 0, 0, 0, 0} {
		hints = binary.LittleEndian.AppendUint32(hints, v)
	}
	xproto.ChangeProperty(c, xproto.PropModeReplace, id, xproto.AtomWmHints, xproto.AtomWmHints, 32, 9, hints)
	w.setNormalHints()
}

// setNormalHints fixes the size and asks for the position it was given.
func (w *PanelWindow) setNormalHints() {
	const pPosition, pMinSize, pMaxSize = 1 << 2, 1 << 4, 1 << 5
	v := [18]uint32{pPosition | pMinSize | pMaxSize, uint32(w.at.X), uint32(w.at.Y), 0, 0,
		uint32(w.size.X), uint32(w.size.Y), uint32(w.size.X), uint32(w.size.Y)}
	buf := make([]byte, 0, 72)
	for _, x := range v {
		buf = binary.LittleEndian.AppendUint32(buf, x)
	}
	xproto.ChangeProperty(w.d.conn, xproto.PropModeReplace, w.id, xproto.AtomWmNormalHints, xproto.AtomWmSizeHints, 32, 18, buf)
}

// ID is the window's id.
func (w *PanelWindow) ID() uint32 { return uint32(w.id) }

// Events delivers the customer's clicks and keys, and exposures. Events
// are dropped when nobody reads them.
func (w *PanelWindow) Events() <-chan PanelEvent { return w.events }

// filter runs on the display's reader: it must not block.
func (w *PanelWindow) filter(ev xgb.Event) {
	var pe PanelEvent
	switch ev := ev.(type) {
	case xproto.ExposeEvent:
		if ev.Window == w.id && ev.Count == 0 {
			pe = PanelExpose{}
		}
	case xproto.ButtonPressEvent:
		if ev.Event == w.id && ev.Detail == 1 {
			pe = PanelPress{int(ev.EventX), int(ev.EventY)}
		}
	case xproto.ButtonReleaseEvent:
		if ev.Event == w.id && ev.Detail == 1 {
			pe = PanelRelease{int(ev.EventX), int(ev.EventY)}
		}
	case xproto.KeyPressEvent:
		if ev.Event == w.id {
			pe = PanelKey{Keysym: uint32(ev.Detail), Shift: ev.State&xproto.ModMaskShift != 0} // keycode; resolved in Key
		}
	case xproto.ConfigureNotifyEvent:
		if ev.Window == w.id {
			// Under a reparenting window manager the event's place is in
			// the frame: ask the server where that is on the screen (not
			// here: the reader may not wait for a reply).
			go w.updatePlace()
		}
	case xproto.ClientMessageEvent:
		if ev.Window == w.id && ev.Format == 32 {
			if del, err := w.d.atom("WM_DELETE_WINDOW"); err == nil && xproto.Atom(ev.Data.Data32[0]) == del {
				pe = PanelClose{}
			}
		}
	}
	if pe == nil {
		return
	}
	select {
	case w.events <- pe:
	default:
	}
}

// updatePlace reads where the window is on the root window.
func (w *PanelWindow) updatePlace() {
	guard(func() error {
		r, err := xproto.TranslateCoordinates(w.d.conn, w.id, w.d.root, 0, 0).Reply()
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.at = image.Pt(int(r.DstX), int(r.DstY))
		w.mu.Unlock()
		return nil
	})
}

// Keysym turns the keycode a PanelKey carries into its keysym.
func (w *PanelWindow) Keysym(k PanelKey) uint32 {
	m, err := w.d.keyboard()
	if err != nil || k.Keysym > 0xff {
		return 0
	}
	return m.column(byte(k.Keysym), 0)
}

// Show maps the window and puts it above the others.
func (w *PanelWindow) Show() error {
	return guard(func() error {
		xproto.MapWindow(w.d.conn, w.id)
		xproto.ConfigureWindow(w.d.conn, w.id, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
		if err := w.d.sync(); err != nil {
			return err
		}
		w.updatePlace()
		return nil
	})
}

// Raise puts the window above the others again (with no window manager
// a newer window would cover it), without taking the focus.
func (w *PanelWindow) Raise() {
	guard(func() error {
		xproto.ConfigureWindow(w.d.conn, w.id, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
		return nil
	})
}

// Focus gives the window the keyboard focus: only for the question before
// anyone sees the screen, never during a session.
func (w *PanelWindow) Focus() {
	guard(func() error {
		return xproto.SetInputFocusChecked(w.d.conn, xproto.InputFocusPointerRoot, w.id, xproto.TimeCurrentTime).Check()
	})
}

// SetTitle sets WM_NAME and _NET_WM_NAME.
func (w *PanelWindow) SetTitle(title string) {
	c := w.d.conn
	guard(func() error {
		// WM_NAME is Latin-1 (STRING); _NET_WM_NAME is UTF-8.
		latin := strings.Map(func(r rune) rune {
			if r > 0xff {
				return '?'
			}
			return r
		}, title)
		lb := make([]byte, 0, len(latin))
		for _, r := range latin {
			lb = append(lb, byte(r))
		}
		xproto.ChangeProperty(c, xproto.PropModeReplace, w.id, xproto.AtomWmName, xproto.AtomString, 8, uint32(len(lb)), lb)
		if name, err := w.d.atom("_NET_WM_NAME"); err == nil {
			if utf8, err := w.d.atom("UTF8_STRING"); err == nil {
				xproto.ChangeProperty(c, xproto.PropModeReplace, w.id, name, utf8, 8, uint32(len(title)), []byte(title))
			}
		}
		return nil
	})
}

// Rect is where the window is on the screen.
func (w *PanelWindow) Rect() image.Rectangle {
	w.mu.Lock()
	defer w.mu.Unlock()
	return image.Rectangle{Min: w.at, Max: w.at.Add(w.size)}
}

// Draw shows img, resizing the window to its size.
func (w *PanelWindow) Draw(img *image.RGBA) error {
	size := img.Rect.Size()
	w.mu.Lock()
	resize := size != w.size
	w.size = size
	w.mu.Unlock()
	return guard(func() error {
		if resize {
			w.setNormalHints()
			xproto.ConfigureWindow(w.d.conn, w.id, xproto.ConfigWindowWidth|xproto.ConfigWindowHeight, []uint32{uint32(size.X), uint32(size.Y)})
		}
		return putImage(w.d, xproto.Drawable(w.id), w.gc, w.pf, img, image.Point{})
	})
}

// Close destroys the window.
func (w *PanelWindow) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	w.remove()
	return guard(func() error {
		xproto.FreeGC(w.d.conn, w.gc)
		xproto.DestroyWindow(w.d.conn, w.id)
		return w.d.sync()
	})
}

// maxPutImageBytes keeps a PutImage request under the core protocol's
// 256 KiB limit (no BIG-REQUESTS).
const maxPutImageBytes = 200 << 10

// putImage sends img to d at its origin plus at, in strips of rows, in
// the screen's 32-bit format.
func putImage(d *Display, dst xproto.Drawable, gc xproto.Gcontext, pf pixelFormat, img *image.RGBA, at image.Point) error {
	b := img.Rect
	rowBytes := b.Dx() * 4
	if rowBytes == 0 || b.Dy() == 0 {
		return nil
	}
	rows := max(1, maxPutImageBytes/rowBytes)
	shift := func(m uint32) uint {
		s := uint(0)
		for m != 0 && m&1 == 0 {
			m >>= 1
			s++
		}
		return s
	}
	rs, gs, bs := shift(pf.rmask), shift(pf.gmask), shift(pf.bmask)
	buf := make([]byte, rows*rowBytes)
	for y0 := b.Min.Y; y0 < b.Max.Y; y0 += rows {
		n := min(rows, b.Max.Y-y0)
		out := buf[:n*rowBytes]
		for y := range n {
			src := img.Pix[img.PixOffset(b.Min.X, y0+y):]
			for x := range b.Dx() {
				p := src[x*4:]
				v := uint32(p[0])<<rs | uint32(p[1])<<gs | uint32(p[2])<<bs
				if pf.bigEndian {
					binary.BigEndian.PutUint32(out[y*rowBytes+x*4:], v)
				} else {
					binary.LittleEndian.PutUint32(out[y*rowBytes+x*4:], v)
				}
			}
		}
		xproto.PutImage(d.conn, xproto.ImageFormatZPixmap, dst, gc, uint16(b.Dx()), uint16(n),
			int16(at.X), int16(at.Y+y0-b.Min.Y), 0, d.screen.RootDepth, out)
	}
	return d.sync()
}

// ScreenDPI is the desktop's DPI: Xft.dpi from the root window's
// RESOURCE_MANAGER (what desktops set for scaling), else 96.
func (d *Display) ScreenDPI() float64 {
	var dpi float64 = 96
	guard(func() error {
		r, err := xproto.GetProperty(d.conn, false, d.root, xproto.AtomResourceManager, xproto.AtomString, 0, 1<<16).Reply()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(r.Value), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.TrimSpace(k) == "Xft.dpi" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 48 && f <= 480 {
					dpi = f
				}
			}
		}
		return nil
	})
	return dpi
}

// Overlay is a window that shows a picture above everything and lets
// every click through: override-redirect (no window manager frame, never
// focused), shaped to the picture's opaque pixels with the SHAPE
// extension, and with an empty input region. The pointing arrow.
type Overlay struct {
	d      *Display
	id     xproto.Window
	gc     xproto.Gcontext
	pf     pixelFormat
	mu     sync.Mutex
	img    *image.RGBA // the picture shown (shape and pixels)
	mapped bool
	remove func()
}

// NewOverlay creates a hidden overlay; it needs SHAPE 1.1 (input shapes).
func (d *Display) NewOverlay() (*Overlay, error) {
	pf, err := d.pixelFormat()
	if err != nil {
		return nil, err
	}
	if pf.bpp != 32 {
		return nil, fmt.Errorf("x11: the overlay needs a 32-bit pixel format, the screen has %d", pf.bpp)
	}
	o := &Overlay{d: d, pf: pf}
	err = guard(func() error {
		c := d.conn
		if err := shape.Init(c); err != nil {
			return fmt.Errorf("%w: SHAPE", ErrNoExtension)
		}
		v, err := shape.QueryVersion(c).Reply()
		if err != nil {
			return err
		}
		if v.MajorVersion < 1 || v.MajorVersion == 1 && v.MinorVersion < 1 {
			return fmt.Errorf("%w: SHAPE %d.%d has no input shapes", ErrNoExtension, v.MajorVersion, v.MinorVersion)
		}
		id, err := xproto.NewWindowId(c)
		if err != nil {
			return err
		}
		o.id = id
		if err := xproto.CreateWindowChecked(c, d.screen.RootDepth, id, d.root, 0, 0, 1, 1, 0,
			xproto.WindowClassInputOutput, d.screen.RootVisual,
			xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask, []uint32{d.screen.BlackPixel, 1, xproto.EventMaskExposure}).Check(); err != nil {
			return err
		}
		// No input region: clicks go to whatever is below.
		if err := shape.RectanglesChecked(c, shape.SoSet, shape.SkInput, xproto.ClipOrderingUnsorted, id, 0, 0, nil).Check(); err != nil {
			return err
		}
		gc, err := xproto.NewGcontextId(c)
		if err != nil {
			return err
		}
		o.gc = gc
		return xproto.CreateGCChecked(c, gc, xproto.Drawable(id), 0, nil).Check()
	})
	if err != nil {
		return nil, fmt.Errorf("x11: overlay: %w", err)
	}
	xproto.ChangeProperty(d.conn, xproto.PropModeReplace, o.id, xproto.AtomWmName, xproto.AtomString, 8, 14, []byte("pointing arrow"))
	o.remove = d.handle(o.exposed)
	return o, nil
}

// ID is the overlay's window id.
func (o *Overlay) ID() uint32 { return uint32(o.id) }

// Show shows img (transparent where its alpha is below 128) with its
// origin at, above every other window. A new picture reshapes the
// window; the same picture only moves it.
func (o *Overlay) Show(img *image.RGBA, at image.Point) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.d.conn
	return guard(func() error {
		size := img.Rect.Size()
		if img != o.img {
			xproto.ConfigureWindow(c, o.id, xproto.ConfigWindowX|xproto.ConfigWindowY|xproto.ConfigWindowWidth|xproto.ConfigWindowHeight,
				[]uint32{uint32(int32(at.X)), uint32(int32(at.Y)), uint32(size.X), uint32(size.Y)})
			shape.Rectangles(c, shape.SoSet, shape.SkBounding, xproto.ClipOrderingYXBanded, o.id, 0, 0, opaqueRuns(img))
		} else {
			xproto.ConfigureWindow(c, o.id, xproto.ConfigWindowX|xproto.ConfigWindowY, []uint32{uint32(int32(at.X)), uint32(int32(at.Y))})
		}
		xproto.ConfigureWindow(c, o.id, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
		if !o.mapped {
			xproto.MapWindow(c, o.id)
			o.mapped = true
		}
		if img != o.img {
			o.img = img
			return putImage(o.d, xproto.Drawable(o.id), o.gc, o.pf, img, image.Point{})
		}
		return o.d.sync()
	})
}

// exposed repaints the overlay where another window uncovered it (a menu
// that was briefly above it).
func (o *Overlay) exposed(ev xgb.Event) {
	if e, ok := ev.(xproto.ExposeEvent); ok && e.Window == o.id && e.Count == 0 {
		go func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.mapped && o.img != nil {
				guard(func() error { return putImage(o.d, xproto.Drawable(o.id), o.gc, o.pf, o.img, image.Point{}) })
			}
		}()
	}
}

// Hide unmaps the overlay.
func (o *Overlay) Hide() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.mapped {
		return nil
	}
	o.mapped = false
	o.img = nil // repaint when shown again
	return guard(func() error {
		xproto.UnmapWindow(o.d.conn, o.id)
		return o.d.sync()
	})
}

// Close destroys the overlay.
func (o *Overlay) Close() error {
	o.remove()
	o.mu.Lock()
	defer o.mu.Unlock()
	return guard(func() error {
		xproto.FreeGC(o.d.conn, o.gc)
		xproto.DestroyWindow(o.d.conn, o.id)
		return o.d.sync()
	})
}

// opaqueRuns covers img's pixels with alpha ≥ 128 with one rectangle per
// run of them in a row (YX-banded).
func opaqueRuns(img *image.RGBA) []xproto.Rectangle {
	var rs []xproto.Rectangle
	b := img.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):]
		start := -1
		for x := 0; x <= b.Dx(); x++ {
			in := x < b.Dx() && row[x*4+3] >= 128
			switch {
			case in && start < 0:
				start = x
			case !in && start >= 0:
				rs = append(rs, xproto.Rectangle{X: int16(start), Y: int16(y - b.Min.Y), Width: uint16(x - start), Height: 1})
				start = -1
			}
		}
	}
	return rs
}
