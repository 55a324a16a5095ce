package winvnc

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/winvnc/panel"
)

// WindowMode says whether the agent shows the customer's window.
type WindowMode int

// The modes.
const (
	WindowOff  WindowMode = iota // terminal (and tray) only
	WindowAuto                   // the window where the system can show one
	WindowOn                     // the window, or fail
)

// windowPlatform is a platform that can show the customer's window and
// the pointing arrow (window_linux.go, window_windows.go).
type windowPlatform interface {
	openWindow(title string, size image.Point) (nativeWindow, error)
	openArrow() (nativeArrow, error)
	// scale is the desktop's scaling (1 at 96 DPI), lang its language.
	scale() float64
	lang() panel.Lang
	// screenOffset is where the framebuffer's origin is on the screen
	// (Windows' virtual screen may start left of the primary monitor).
	screenOffset() image.Point
}

// nativeWindow is the platform's window that shows a panel's picture.
type nativeWindow interface {
	Draw(img *image.RGBA) error
	SetTitle(title string)
	Show() error
	Raise()
	Focus()
	// Rect is where the window is on the screen; ID is its window id as
	// Platform.Focus reports it.
	Rect() image.Rectangle
	ID() uint32
	Input() <-chan windowInput
	Close() error
}

// windowInput is the customer's hand on the window.
type windowInput struct {
	msg    panel.Msg // a click or a key; nil for the others
	close  bool      // the title bar's close button
	redraw bool      // the picture was lost (exposed)
}

// eventWindow is a platform's window that reports its own events E.
type eventWindow[E any] interface {
	Draw(img *image.RGBA) error
	SetTitle(title string)
	Show() error
	Raise()
	Focus()
	Rect() image.Rectangle
	ID() uint32
	Events() <-chan E
	Close() error
}

// inputWindow is a nativeWindow made of a platform's window: a goroutine
// turns its events into windowInput with the platform's convert (false:
// not one for the panel) until Close. The events are converted apart
// from the platform's event reader because converting a key may ask the
// platform (X11's keyboard mapping), which that reader cannot wait for.
type inputWindow[E any] struct {
	eventWindow[E]
	convert  func(E) (windowInput, bool)
	in       chan windowInput
	stop     chan struct{}
	stopOnce sync.Once
}

func newInputWindow[E any](w eventWindow[E], convert func(E) (windowInput, bool)) *inputWindow[E] {
	iw := &inputWindow[E]{eventWindow: w, convert: convert, in: make(chan windowInput, 16), stop: make(chan struct{})}
	go iw.translate()
	return iw
}

func (w *inputWindow[E]) Input() <-chan windowInput { return w.in }

func (w *inputWindow[E]) Close() error {
	w.stopOnce.Do(func() { close(w.stop) })
	return w.eventWindow.Close()
}

func (w *inputWindow[E]) translate() {
	for {
		var ev E
		select {
		case ev = <-w.Events():
		case <-w.stop:
			return
		}
		in, ok := w.convert(ev)
		if !ok {
			continue
		}
		select {
		case w.in <- in:
		case <-w.stop:
			return
		}
	}
}

// nativeArrow is the platform's click-through arrow window.
type nativeArrow interface {
	Show(img *image.RGBA, at image.Point) error
	Hide() error
	Close() error
}

// windowUI is the customer's window as a UI: it turns the agent's events
// into the panel's messages and the panel's actions into commands. Its
// Run owns the panel.
type windowUI struct {
	w      nativeWindow
	p      *panel.Panel
	log    *slog.Logger
	evs    chan Event
	done   chan struct{} // closed when Run returns
	hidden atomic.Bool   // the customer keeps the window out of the picture
	onHide func()        // repaints the framebuffer after hidden changed

	who        string // the supporter who asked to see the screen
	sessionRan bool   // the window no longer takes the focus

	pick    func(ctx context.Context, title string) ([]string, error) // nil: no "Send files…"
	picking bool                                                      // the chooser is open
	picked  chan picked                                               // its answer
}

// picked is the file chooser's answer.
type picked struct {
	paths []string
	err   error
}

// newWindowUI opens the window.
func newWindowUI(wp windowPlatform, brand string, col color.RGBA, keys hotkeyKeys,
	pick func(context.Context, string) ([]string, error), log *slog.Logger) (*windowUI, error) {
	p := panel.New(panel.Options{Brand: brand, Color: col, Lang: wp.lang(), Scale: wp.scale(), SendFiles: pick != nil})
	name := func(ks uint32) string {
		if ks == 0 {
			return ""
		}
		return keyName(ks)
	}
	p.Step(panel.Hotkeys{Control: name(keys.Revoke), Files: name(keys.Files)})
	w, err := wp.openWindow(p.Title(), p.Size())
	if err != nil {
		return nil, err
	}
	return &windowUI{w: w, p: p, log: log, evs: make(chan Event, 64), done: make(chan struct{}),
		pick: pick, picked: make(chan picked, 1)}, nil
}

// Show implements UI.
func (u *windowUI) Show(ev Event) {
	select {
	case u.evs <- ev:
	case <-u.done:
	}
}

// Run implements UI: it shows the window until ctx ends, and closes it.
func (u *windowUI) Run(ctx context.Context, cmds chan<- Command) error {
	defer close(u.done)
	defer u.w.Close()
	var last *image.RGBA
	draw := func(force bool) {
		if u.p.Dirty() || last == nil {
			last = u.p.Image()
			u.w.SetTitle(u.p.Title())
		} else if !force {
			return
		}
		if err := u.w.Draw(last); err != nil {
			u.log.Warn("winvnc: drawing the window", "err", err)
		}
	}
	draw(true)
	if err := u.w.Show(); err != nil {
		return fmt.Errorf("winvnc: showing the window: %w", err)
	}
	var pending []Command // to the agent's loop, which may be showing an event
	expiry := time.NewTimer(time.Hour)
	expiry.Stop()
	defer expiry.Stop()
	for {
		var out chan<- Command
		var next Command
		if len(pending) > 0 {
			out, next = cmds, pending[0]
		}
		select {
		case <-ctx.Done():
			return nil
		case out <- next:
			pending = pending[1:]
		case ev := <-u.evs:
			u.event(ev, expiry)
		case in := <-u.w.Input():
			switch {
			case in.close:
				pending = append(pending, CmdEnd{})
			case in.redraw:
				draw(true)
			case in.msg != nil:
				pending = append(pending, u.actions(ctx, u.p.Step(in.msg))...)
			}
		case r := <-u.picked:
			u.picking = false
			switch {
			case r.err != nil && ctx.Err() == nil:
				u.log.Warn("winvnc: the file chooser", "err", r.err)
				u.p.Step(panel.SendFailed{})
			case r.err == nil:
				for _, p := range r.paths {
					pending = append(pending, CmdSend{Path: p})
				}
			}
		case <-expiry.C:
			u.p.Step(panel.Tick{})
		}
		draw(false)
	}
}

// event passes one of the agent's events to the panel.
func (u *windowUI) event(ev Event, expiry *time.Timer) {
	switch ev := ev.(type) {
	case EvCode:
		u.p.Step(panel.Code{Code: ev.Code, Expires: ev.Expires.Local()})
		if !ev.Expires.IsZero() {
			expiry.Reset(time.Until(ev.Expires) + 100*time.Millisecond)
		}
	case EvState:
		phase := panel.Phase(ev.State)
		if ev.State == StateSharing {
			u.sessionRan = true
		}
		u.p.Step(panel.State{Phase: phase, Who: u.who, Detail: ev.Detail})
		u.w.Raise()
	case EvPrompt:
		if !ev.Control {
			u.who = ev.Who
		}
		u.p.Step(panel.Question{Who: ev.Who, Control: ev.Control})
		u.w.Raise()
		if !ev.Control && !u.sessionRan {
			// The question the customer waits for, before anyone sees
			// the screen: the keys go to it. Never during a session.
			u.w.Focus()
		}
	case EvPromptClosed:
		u.p.Step(panel.NoQuestion{})
	case EvRights:
		u.p.Step(panel.Rights{Control: ev.Control, Files: ev.Files})
	case EvArrow:
		u.p.Step(panel.Arrow{On: ev.On})
	case EvTransfer:
		pct := 100
		if ev.Size > 0 {
			pct = int(ev.Done * 100 / ev.Size)
		}
		u.p.Step(panel.Transfer{ID: ev.ID, Name: ev.Name, Sending: ev.Sending, Percent: pct,
			State: panel.TransferState(ev.State), Detail: ev.Detail})
	case EvOffer:
		u.p.Step(panel.Transfer{ID: ev.ID, Name: ev.Name, Sending: true, State: panel.Offered})
	}
}

// actions turns what the customer clicked into the agent's commands.
func (u *windowUI) actions(ctx context.Context, acts []panel.Action) []Command {
	var cs []Command
	for _, a := range acts {
		switch a := a.(type) {
		case panel.Answer:
			cs = append(cs, CmdAnswer{Yes: a.Yes})
		case panel.SetControl:
			cs = append(cs, CmdControl{On: a.On})
		case panel.SetFiles:
			cs = append(cs, CmdFiles{On: a.On})
		case panel.SetArrow:
			cs = append(cs, CmdArrow{On: a.On})
		case panel.CancelTransfer:
			cs = append(cs, CmdCancel{})
		case panel.SendFiles:
			u.choose(ctx, a.Title)
		case panel.End:
			cs = append(cs, CmdEnd{})
		case panel.SetHidden:
			u.hidden.Store(a.On)
			if u.onHide != nil {
				u.onHide()
			}
		}
	}
	return cs
}

// choose opens the file chooser, unless it is open already; its answer
// comes to Run on u.picked. The chooser ends with ctx (Windows' dialog
// stays until the customer closes it, but nobody waits for it then).
func (u *windowUI) choose(ctx context.Context, title string) {
	if u.pick == nil || u.picking {
		return
	}
	u.picking = true
	go func() {
		paths, err := u.pick(ctx, title)
		u.picked <- picked{paths, err} // buffered: one chooser at a time
	}()
}

// hiddenRect is the window's place on the screen when the customer chose
// to keep it out of the supporter's picture, else empty.
func (u *windowUI) hiddenRect() image.Rectangle {
	if u == nil || !u.hidden.Load() {
		return image.Rectangle{}
	}
	return u.w.Rect()
}

// panelGuard keeps the supporter's input off the customer's window: with
// control the supporter could otherwise click its switches (grant
// themselves file transfer) or answer its questions.
type panelGuard struct {
	next   Confiner
	w      nativeWindow
	offset image.Point // the framebuffer's origin on the screen
	focus  func() ([]uint32, error)
}

func (g panelGuard) KeyAllowed() bool {
	path, err := g.focus()
	if err != nil {
		return false
	}
	for _, id := range path {
		if id == g.w.ID() {
			return false
		}
	}
	return g.next.KeyAllowed()
}

func (g panelGuard) PointerAllowed(x, y int) bool {
	if image.Pt(x, y).Add(g.offset).In(g.w.Rect()) {
		return false
	}
	return g.next.PointerAllowed(x, y)
}

// openWindow opens the customer's window and the pointing arrow where the
// platform has them and the configuration asks for them.
func (a *agent) openWindow() error {
	if a.cfg.Window == WindowOff {
		return nil
	}
	wp, ok := a.p.(windowPlatform)
	if !ok {
		if a.cfg.Window == WindowOn {
			return fmt.Errorf("winvnc: this system cannot show the agent's window")
		}
		return nil
	}
	brand := a.cfg.Brand
	if brand == "" {
		brand = "Lifebuoy"
	}
	u, err := newWindowUI(wp, brand, a.cfg.BrandColor, a.p.HotkeyKeys(), a.cfg.PickFiles, a.log)
	if err != nil {
		if a.cfg.Window == WindowOn {
			return fmt.Errorf("winvnc: the agent's window: %w", err)
		}
		a.log.Warn("winvnc: no window; the terminal shows the session", "err", err)
		return nil
	}
	u.onHide = a.repaintAll
	a.window = u
	a.windowOffset = wp.screenOffset()
	a.ui = MultiUI(u, a.ui)
	a.rights.SetConfiner(panelGuard{next: a.sel, w: u.w, offset: wp.screenOffset(), focus: a.p.Focus})
	if ar, err := wp.openArrow(); err != nil {
		a.log.Warn("winvnc: no pointing arrow", "err", err)
	} else {
		a.arrow = newPointer(ar, wp.scale(), wp.screenOffset(), a.rights.Control, a.supporterName, a.log)
		a.rights.SetPointing(a.arrow.event)
	}
	return nil
}

// supporterName is the newest viewer's name, for the arrow.
func (a *agent) supporterName() string {
	_, name, _ := a.newestViewer()
	return name
}

// repaintAll captures the whole screen again, as after a change of what
// is masked.
func (a *agent) repaintAll() {
	fb := a.p.Framebuffer()
	fb.Update(func(img *rfb.Image) []image.Rectangle { return []image.Rectangle{img.Bounds()} })
	a.p.Refresh()
}

// filter is the framebuffer's filter: the application selection, and
// the customer's window where the customer hides it from the supporter.
func (a *agent) filter(img *rfb.Image, r image.Rectangle) {
	a.mask.filter(img, r)
	if a.window == nil {
		return
	}
	if h := a.window.hiddenRect(); !h.Empty() {
		if a.windowOffset != (image.Point{}) {
			h = h.Sub(a.windowOffset)
		}
		if h = h.Intersect(r); !h.Empty() {
			paintChecker(img, h)
		}
	}
}
