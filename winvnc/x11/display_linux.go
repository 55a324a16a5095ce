//go:build linux

package x11

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// ErrNoExtension is returned when a feature needs an X extension the server
// lacks.
var ErrNoExtension = errors.New("x11: extension not available")

// Extension names an X extension this package uses.
type Extension int

// The extensions Open initialises.
const (
	ExtShm Extension = iota
	ExtDamage
	ExtXFixes
	ExtXTest
	ExtRandR
	numExt
)

var extNames = [numExt]string{"MIT-SHM", "DAMAGE", "XFIXES", "XTEST", "RANDR"}

func (e Extension) String() string {
	if e >= 0 && e < numExt {
		return extNames[e]
	}
	return fmt.Sprintf("Extension(%d)", int(e))
}

// Display is one connection to an X server, shared by a Capturer, an
// Injector, Hotkeys and Windows. Its methods are safe for concurrent use.
type Display struct {
	conn   *xgb.Conn
	log    *slog.Logger
	root   xproto.Window
	screen *xproto.ScreenInfo
	setup  *xproto.SetupInfo
	ext    [numExt]bool

	hmu      sync.Mutex // handlers; held while they run
	handlers map[int]func(xgb.Event)
	nextID   int

	mu    sync.Mutex
	atoms map[string]xproto.Atom

	done      chan struct{} // closed when the event reader ends
	closeOnce sync.Once
}

// xgb.Logger is a package variable of xgb; it is pointed at the first
// Open's logger, once.
var setLoggerOnce sync.Once

// slogWriter turns xgb's log.Logger lines into slog records.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("xgb", "msg", string(bytes.TrimSpace(p)))
	return len(p), nil
}

// Open connects to display ("" means $DISPLAY) and initialises the
// extensions this package uses. A missing extension is not an error: the
// features that need it report ErrNoExtension or fall back.
func Open(display string, logger *slog.Logger) (d *Display, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	setLoggerOnce.Do(func() { xgb.Logger = log.New(slogWriter{logger}, "", 0) })
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("x11: connect to %q: %w", display, err)
	}
	d = &Display{
		conn:     conn,
		log:      logger,
		handlers: map[int]func(xgb.Event){},
		atoms:    map[string]xproto.Atom{},
		done:     make(chan struct{}),
	}
	err = guard(func() error {
		d.setup = xproto.Setup(conn)
		d.screen = d.setup.DefaultScreen(conn)
		d.root = d.screen.Root
		d.initExtensions()
		return nil
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	go d.readEvents()
	return d, nil
}

func (d *Display) initExtensions() {
	c := d.conn
	try := func(e Extension, init func(*xgb.Conn) error, version func() error) {
		if err := init(c); err != nil {
			d.log.Info("x11: extension missing", "ext", e.String())
			return
		}
		if err := guard(version); err != nil {
			d.log.Info("x11: extension unusable", "ext", e.String(), "err", err)
			return
		}
		d.ext[e] = true
	}
	try(ExtShm, shm.Init, func() error { _, err := shm.QueryVersion(c).Reply(); return err })
	// XFIXES before DAMAGE: damage regions are XFIXES regions.
	try(ExtXFixes, xfixes.Init, func() error { _, err := xfixes.QueryVersion(c, 5, 0).Reply(); return err })
	try(ExtDamage, damage.Init, func() error { _, err := damage.QueryVersion(c, 1, 1).Reply(); return err })
	try(ExtXTest, xtest.Init, func() error { _, err := xtest.GetVersion(c, 2, 2).Reply(); return err })
	try(ExtRandR, randr.Init, func() error { _, err := randr.QueryVersion(c, 1, 5).Reply(); return err })
}

// Has reports whether the server has extension e and it was initialised.
func (d *Display) Has(e Extension) bool { return e >= 0 && e < numExt && d.ext[e] }

// Root returns the root window's id.
func (d *Display) Root() uint32 { return uint32(d.root) }

// Close closes the connection. Capturers, Injectors and Hotkeys using it
// should be closed first, so that they can clean up on the server.
func (d *Display) Close() error {
	d.closeOnce.Do(func() { d.conn.Close() })
	<-d.done
	return nil
}

// Done is closed when the connection has ended.
func (d *Display) Done() <-chan struct{} { return d.done }

// guard runs fn and turns a panic (xgb panics on requests to extensions it
// has not initialised, and on malformed replies) into an error.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("x11: xgb panic: %v", r)
		}
	}()
	return fn()
}

// handle registers fn for every event; fn runs on the reader goroutine and
// must not block. It returns the function that unregisters it.
func (d *Display) handle(fn func(xgb.Event)) (remove func()) {
	d.hmu.Lock()
	defer d.hmu.Unlock()
	id := d.nextID
	d.nextID++
	d.handlers[id] = fn
	return func() {
		d.hmu.Lock()
		defer d.hmu.Unlock()
		delete(d.handlers, id)
	}
}

// readEvents is the one reader of the connection's event queue. It blocks
// in WaitForEvent, so an idle display costs nothing.
func (d *Display) readEvents() {
	defer close(d.done)
	for {
		ev, xerr := d.conn.WaitForEvent()
		if ev == nil && xerr == nil {
			return // connection closed
		}
		if xerr != nil {
			// Errors of unchecked requests (a window that vanished, …).
			d.log.Debug("x11: error", "err", xerr.Error())
			continue
		}
		d.hmu.Lock()
		for _, fn := range d.handlers {
			fn(ev)
		}
		d.hmu.Unlock()
	}
}

// atom returns the atom named name, interning it once.
func (d *Display) atom(name string) (xproto.Atom, error) {
	d.mu.Lock()
	a, ok := d.atoms[name]
	d.mu.Unlock()
	if ok {
		return a, nil
	}
	r, err := xproto.InternAtom(d.conn, false, uint16(len(name)), name).Reply()
	if err != nil {
		return 0, fmt.Errorf("x11: intern %s: %w", name, err)
	}
	d.mu.Lock()
	d.atoms[name] = r.Atom
	d.mu.Unlock()
	return r.Atom, nil
}

// sync waits until the server has processed every request sent so far.
func (d *Display) sync() error {
	_, err := xproto.GetInputFocus(d.conn).Reply()
	return err
}

// keyboard fetches the core keyboard mapping.
func (d *Display) keyboard() (*keymap, error) {
	min, max := d.setup.MinKeycode, d.setup.MaxKeycode
	r, err := xproto.GetKeyboardMapping(d.conn, min, byte(int(max)-int(min)+1)).Reply()
	if err != nil {
		return nil, fmt.Errorf("x11: keyboard mapping: %w", err)
	}
	syms := make([]uint32, len(r.Keysyms))
	for i, s := range r.Keysyms {
		syms[i] = uint32(s)
	}
	return newKeymap(byte(min), int(r.KeysymsPerKeycode), syms), nil
}

// modifiers fetches the modifier mapping: for each of the 8 modifiers
// (Shift, Lock, Control, Mod1…Mod5) its keycodes.
func (d *Display) modifiers() ([8][]byte, error) {
	var mods [8][]byte
	r, err := xproto.GetModifierMapping(d.conn).Reply()
	if err != nil {
		return mods, fmt.Errorf("x11: modifier mapping: %w", err)
	}
	n := int(r.KeycodesPerModifier)
	for m := range 8 {
		for _, kc := range r.Keycodes[m*n : (m+1)*n] {
			if kc != 0 {
				mods[m] = append(mods[m], byte(kc))
			}
		}
	}
	return mods, nil
}

// pixelFormat returns the ZPixmap format of the root window's depth.
func (d *Display) pixelFormat() (pixelFormat, error) {
	f := pixelFormat{bigEndian: d.setup.ImageByteOrder == xproto.ImageOrderMSBFirst}
	found := false
	for _, pf := range d.setup.PixmapFormats {
		if pf.Depth == d.screen.RootDepth {
			f.bpp, f.pad, found = int(pf.BitsPerPixel), int(pf.ScanlinePad), true
		}
	}
	if !found {
		return f, fmt.Errorf("x11: no pixmap format for depth %d", d.screen.RootDepth)
	}
	for _, dep := range d.screen.AllowedDepths {
		for _, v := range dep.Visuals {
			if v.VisualId == d.screen.RootVisual {
				f.rmask, f.gmask, f.bmask = v.RedMask, v.GreenMask, v.BlueMask
			}
		}
	}
	return f, f.check()
}
