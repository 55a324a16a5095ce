package winvnc

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/rfb"
)

// Config configures the agent. Either Broker (the normal case) or Listen
// (direct mode) must be set.
type Config struct {
	// Broker is the broker's agent address, HOST or HOST:PORT (port 5510
	// by default). Fingerprint pins its certificate (hex SHA-256).
	Broker, Fingerprint string
	// Code is a code the supporter got first; empty asks the broker for
	// a new one.
	Code string
	// Name names this agent in the broker's log (the host name, say).
	Name string
	// Proxy overrides HTTPS_PROXY for the broker link ("direct": none).
	Proxy string
	// HTTPSPorts are the broker's HTTPS front ports, tried over
	// WebSocket when its agent port cannot be reached (nil: 5512).
	HTTPSPorts []string

	// Listen serves RFB on this address with no broker (direct mode);
	// PasswordFile's first line is the VNC password.
	Listen, PasswordFile string

	// Display is the X display; empty means $DISPLAY.
	Display string

	Logger *slog.Logger
	// UI shows the state and takes the customer's commands; nil means a
	// terminal UI on standard input and output.
	UI UI
	// Window shows the customer's window beside UI (window.go), with
	// the help desk's name and colour.
	Window     WindowMode
	Brand      string
	BrandColor color.RGBA
	// PickFiles asks the customer for files with the desktop's own file
	// chooser, for the window's "Send files…" (the files it returns are
	// offered as "send FILE" does; none: cancelled). Nil: the window
	// has no such button.
	PickFiles func(ctx context.Context, title string) ([]string, error)

	// openPlatform replaces the operating system, for tests.
	openPlatform func(display string, log *slog.Logger) (platform, error)
}

// Timing of the agent's loop.
const (
	dropSummary    = 10 * time.Second // log line about dropped input
	consentTimeout = 2 * time.Minute  // direct mode; the broker has its own
	maxVNCPassword = 8                // bytes VNC Authentication uses
)

// Run runs the agent until its session ends, the customer ends it, or
// ctx ends. It returns nil on a normal end, and an error the customer
// should see otherwise. It leaves nothing behind: no files, no open
// port, no key held down, the keyboard mapping as it was.
func Run(ctx context.Context, cfg Config) error {
	if (cfg.Broker == "") == (cfg.Listen == "") {
		return errors.New("winvnc: give either a broker or a listen address")
	}
	var password string
	if cfg.Listen != "" {
		if cfg.PasswordFile == "" {
			return errors.New("winvnc: direct mode needs a password file")
		}
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return fmt.Errorf("winvnc: %w", err)
		}
		password, _, _ = strings.Cut(string(b), "\n")
		password = strings.TrimRight(password, "\r")
		if password == "" {
			return fmt.Errorf("winvnc: %s: the first line (the password) is empty", cfg.PasswordFile)
		}
		if len(password) > maxVNCPassword {
			// VNC Authentication keys DES with the first 8 bytes; the rest
			// would be ignored without a word.
			return fmt.Errorf("winvnc: %s: the password is %d bytes long, but VNC Authentication uses only the first %d; use at most %d",
				cfg.PasswordFile, len(password), maxVNCPassword, maxVNCPassword)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UI == nil {
		cfg.UI = NewTerminal(os.Stdin, os.Stdout)
	}
	open := cfg.openPlatform
	if open == nil {
		open = openPlatform
	}
	p, err := open(cfg.Display, cfg.Logger)
	if err != nil {
		return err
	}
	defer p.Close()
	a := &agent{
		cfg:       cfg,
		log:       cfg.Logger,
		ui:        cfg.UI,
		p:         p,
		password:  password,
		rights:    NewRights(p.Injector()),
		events:    make(chan Event, 16),
		prompts:   make(chan *prompt),
		withdrawn: make(chan *prompt),
		enders:    map[*int]func(string){},

		rightsChanged: make(chan struct{}, 1),
	}
	a.sel = &selection{mask: &a.mask, windows: p.Windows, focus: p.Focus, size: p.Framebuffer().Size, log: cfg.Logger,
		settle: maskSettle, now: time.Now}
	a.rights.SetConfiner(a.sel)
	p.Framebuffer().SetFilter(a.filter) // window.go
	p.SetFrameHook(a.sel)
	if err := a.openWindow(); err != nil {
		return err
	}
	name := cfg.Name
	if name == "" {
		name = "lifebuoy"
	}
	a.srvOpts = rfb.Options{
		Name:         name,
		AlwaysShared: true,
		OnKey:        a.rights.Key,
		OnPointer:    a.rights.Pointer,
		OnCutText:    a.pasteFromSupporter, // clipboard.go
		Limits:       rfb.Limits{MaxCutText: clipboardMax},
		Logger:       cfg.Logger,
	}
	a.srv = rfb.NewServer(p.Framebuffer(), a.srvOpts)
	a.rights.OnFilesOff(a.filesOff) // files.go
	return a.run(ctx)
}

// viewerServer returns an RFB server of the screen for one viewer in
// direct mode, where several may be connected: its input (and pastes)
// pass only while that viewer holds the grant (controlOwner), so that
// control granted to one viewer is not every later viewer's. It shares
// the customer's clipboard until done is called.
func (a *agent) viewerServer(id int64) (srv *rfb.Server, done func()) {
	opts := a.srvOpts
	opts.OnKey = func(ev rfb.KeyEvent) {
		if a.controlOwner.Load() != id {
			a.rights.Drop()
			return
		}
		a.rights.Key(ev)
	}
	opts.OnPointer = func(ev rfb.PointerEvent) {
		if a.controlOwner.Load() != id {
			a.rights.Point(ev) // the arrow, while nobody has control
			return
		}
		a.rights.Pointer(ev)
	}
	opts.OnCutText = func(text string) {
		if a.controlOwner.Load() != id {
			a.log.Info("winvnc: clipboard of a viewer without control dropped", "bytes", len(text))
			return
		}
		a.pasteFromSupporter(text)
	}
	srv = rfb.NewServer(a.p.Framebuffer(), opts)
	return srv, a.addClipboardServer(srv) // clipboard.go
}

// agent is one run. Its loop (run) owns the UI and the selection; the
// session goroutines talk to it through events and prompts.
type agent struct {
	cfg      Config
	log      *slog.Logger
	ui       UI
	p        platform
	password string
	rights   *Rights
	srv      *rfb.Server
	mask     mask
	sel      *selection

	events    chan Event   // to show, from other goroutines
	prompts   chan *prompt // questions for the customer
	withdrawn chan *prompt // questions whose asker gave up

	endMu  sync.Mutex
	enders map[*int]func(reason string) // live sessions' End

	rightsChanged chan struct{}  // buffered 1: the rights shown changed (for the broker)
	clip          agentClipboard // clipboard.go
	xfer          transfers      // files.go
	window        *windowUI      // window.go; nil: none
	windowOffset  image.Point    // the framebuffer's origin on the screen
	arrow         *pointer       // arrow.go; nil: none

	viewersMu  sync.Mutex
	viewers    map[int64]string // sessions being served, by id: their names; capture runs while there is one
	lastViewer int64            // the id given to the last viewer

	// controlOwner is the direct-mode viewer that remote control was
	// granted to (0: none); the others only see.
	controlOwner atomic.Int64
	srvOpts      rfb.Options

	// Owned by run.
	queue  []*prompt       // open questions, oldest first
	state  EvState         // last state shown
	code   EvCode          // the code, once known
	listed []Window        // the last "windows" list
	chosen map[uint32]bool // shared windows; nil: the whole screen
}

// prompt is a yes-or-no question and where its answer goes.
type prompt struct {
	ev     EvPrompt
	answer chan bool // buffered 1
}

// event hands ev to the loop for the UI. It never blocks the caller for
// long: the loop always drains events.
func (a *agent) event(ctx context.Context, ev Event) {
	select {
	case a.events <- ev:
	case <-ctx.Done():
	}
}

// ask puts a question to the customer and waits for the answer; false if
// ctx ends or timeout passes first.
func (a *agent) ask(ctx context.Context, question EvPrompt, timeout time.Duration) bool {
	p := &prompt{ev: question, answer: make(chan bool, 1)}
	select {
	case a.prompts <- p:
	case <-ctx.Done():
		return false
	}
	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	select {
	case yes := <-p.answer:
		return yes
	case <-expire:
		a.withdrawPrompt(ctx, p)
		a.event(ctx, EvMessage{"No answer; the request to see your screen was declined."})
		return false
	case <-ctx.Done():
		a.withdrawPrompt(ctx, p)
		return false
	}
}

// withdrawPrompt takes back a question nobody waits for any more.
func (a *agent) withdrawPrompt(ctx context.Context, p *prompt) {
	select {
	case a.withdrawn <- p:
	case <-ctx.Done():
	}
}

// Capture resumes for a viewer once the framebuffer holds a fresh frame,
// or after this long.
const resumeWait = 2 * time.Second

// serveViewer serves one viewer with serve, capturing the screen while
// any viewer is served: with none the agent captures nothing.
func (a *agent) serveViewer(ctx context.Context, name string, serve func(id int64) error) error {
	a.viewersMu.Lock()
	if a.viewers == nil {
		a.viewers = map[int64]string{}
	}
	a.lastViewer++
	id := a.lastViewer
	a.viewers[id] = name
	if len(a.viewers) == 1 {
		before := a.p.Frames()
		a.p.SetActive(true)
		// The viewer's first update is the screen as it is, not as it was
		// when the last viewer left.
		deadline := time.Now().Add(resumeWait)
		for a.p.Frames() == before && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	} else if owner, ok := a.viewers[a.controlOwner.Load()]; ok && a.rights.Control() {
		a.event(ctx, EvMessage{fmt.Sprintf("%s sees your screen too, without control: remote control stays with %s.", name, owner)})
	}
	a.viewersMu.Unlock()
	defer func() {
		a.viewersMu.Lock()
		defer a.viewersMu.Unlock()
		delete(a.viewers, id)
		if len(a.viewers) == 0 {
			a.p.SetActive(false)
		}
		if a.controlOwner.CompareAndSwap(id, 0) && a.rights.SetControl(false) {
			a.event(ctx, EvMessage{name + " left; remote control ended."})
			a.event(ctx, a.rights.Event())
		}
	}()
	return serve(id)
}

// newestViewer returns the viewer that came last of those connected, and
// how many are.
func (a *agent) newestViewer() (id int64, name string, n int) {
	a.viewersMu.Lock()
	defer a.viewersMu.Unlock()
	for i, v := range a.viewers {
		if i > id {
			id, name = i, v
		}
	}
	return id, name, len(a.viewers)
}

// addEnder registers a live session's way to tell the other side it
// ends; the returned func unregisters it.
func (a *agent) addEnder(end func(reason string)) (remove func()) {
	key := new(int)
	a.endMu.Lock()
	a.enders[key] = end
	a.endMu.Unlock()
	return func() {
		a.endMu.Lock()
		delete(a.enders, key)
		a.endMu.Unlock()
	}
}

func (a *agent) endAll(reason string) {
	a.endMu.Lock()
	defer a.endMu.Unlock()
	for _, end := range a.enders {
		end(reason)
	}
}

func (a *agent) show(ev Event) {
	switch ev := ev.(type) {
	case EvState:
		a.state = ev
	case EvCode:
		a.code = ev
	case EvRights:
		if a.arrow != nil {
			a.arrow.poke() // control hides the arrow
		}
		select {
		case a.rightsChanged <- struct{}{}:
		default:
		}
	}
	a.ui.Show(ev)
}

func (a *agent) showRights() { a.show(a.rights.Event()) }

// run is the agent's loop.
func (a *agent) run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		a.rights.SetControl(false)
	}()

	if cb := a.openClipboard(); cb != nil {
		wg.Go(func() { a.followClipboard(ctx, cb) })
	}
	captured := make(chan error, 1)
	wg.Go(func() { captured <- a.p.Capture(ctx) })
	tuneGC()
	limitMemory(ctx)
	wg.Go(func() { trimWhenIdle(ctx) })
	if a.arrow != nil {
		wg.Go(func() { a.arrow.run(ctx) })
	}
	cmds := make(chan Command)
	wg.Go(func() {
		if err := a.ui.Run(ctx, cmds); err != nil {
			a.log.Warn("winvnc: reading commands", "err", err)
		}
	})
	served := make(chan error, 1)
	wg.Go(func() {
		select {
		case <-a.p.Ready():
		case <-ctx.Done():
			served <- nil
			return
		}
		a.p.SetActive(false) // until a viewer comes
		if a.cfg.Listen != "" {
			served <- a.serveDirect(ctx)
		} else {
			served <- a.serveBroker(ctx)
		}
	})

	a.showRights()
	a.tellHotkeys()
	summary := time.NewTicker(dropSummary)
	defer summary.Stop()

	for {
		select {
		case <-parent.Done():
			a.endAll("the customer's agent stopped")
			a.show(EvState{StateEnded, "The agent was stopped."})
			return nil
		case err := <-captured:
			if err == nil {
				err = errors.New("screen capture stopped")
			}
			a.endAll("the customer's screen is no longer available")
			a.show(EvState{StateEnded, "The screen can no longer be captured."})
			return fmt.Errorf("winvnc: %w", err)
		case err := <-served:
			a.drainEvents()
			if err != nil {
				a.show(EvState{StateEnded, err.Error()})
				return err
			}
			if a.state.State != StateEnded {
				a.show(EvState{StateEnded, "The session ended."})
			}
			return nil
		case ev := <-a.events:
			a.show(ev)
		case p := <-a.prompts:
			a.queue = append(a.queue, p)
			if len(a.queue) == 1 {
				a.show(p.ev)
			}
		case p := <-a.withdrawn:
			if i := slices.Index(a.queue, p); i >= 0 {
				a.queue = slices.Delete(a.queue, i, i+1)
				if i == 0 {
					a.showPromptHead()
				}
			}
		case ks := <-a.p.Hotkeys():
			switch keys := a.p.HotkeyKeys(); ks {
			case keys.Revoke:
				if a.rights.SetControl(false) {
					a.show(EvMessage{keyName(ks) + ": remote control taken back."})
				}
				a.showRights()
			case keys.Files:
				on := a.rights.ToggleFiles()
				a.show(EvMessage{fmt.Sprintf("%s: file transfer %s.", keyName(ks), map[bool]string{true: "allowed", false: "forbidden"}[on])})
				a.showRights()
			}
		case <-summary.C:
			if n := a.rights.DroppedSinceSummary(); n > 0 {
				a.log.Info("winvnc: dropped remote input (no control granted)", "events", n, "total", a.rights.Dropped())
			}
		case c := <-cmds:
			if _, ok := c.(CmdEnd); ok {
				a.endAll("the customer ended the session")
				a.show(EvState{StateEnded, "You ended the session."})
				return nil
			}
			a.command(c)
		}
	}
}

// tellHotkeys tells the customer where the hotkeys are not F12 and F11
// (another program holds them), so that nobody relies on a key that does
// nothing.
func (a *agent) tellHotkeys() {
	keys := a.p.HotkeyKeys()
	switch keys.Revoke {
	case KeysymF12:
	case 0:
		a.show(EvMessage{`F12 cannot take control back on this computer (another program holds the key). Type "control off" to take control back.`})
	default:
		a.show(EvMessage{fmt.Sprintf(`F12 is held by another program on this computer: press %s (or type "control off") to take control back.`, keyName(keys.Revoke))})
	}
	if keys.Files != KeysymF11 {
		a.show(EvMessage{`F11 cannot switch file transfer on this computer (another program holds the key). Type "files on" or "files off".`})
	}
}

// drainEvents shows the events still queued, so that the last word the
// customer reads is the latest.
func (a *agent) drainEvents() {
	for {
		select {
		case ev := <-a.events:
			a.show(ev)
		default:
			return
		}
	}
}

// command carries out one of the customer's commands (not CmdEnd).
func (a *agent) command(c Command) {
	switch c := c.(type) {
	case CmdControl:
		if c.On && a.p.Injector() == nil {
			a.show(EvMessage{"Remote control is not possible on this system."})
			return
		}
		if c.On && a.cfg.Listen != "" {
			// Direct mode: the grant is the newest viewer's alone.
			id, name, n := a.newestViewer()
			if n == 0 {
				a.show(EvMessage{"Nobody is connected; remote control can be allowed once a viewer is."})
				return
			}
			if old := a.controlOwner.Swap(id); old != id {
				a.rights.SetControl(false) // from the viewer who had it
				a.show(EvMessage{name + " gets remote control; other viewers only see."})
			}
		}
		if a.rights.SetControl(c.On) {
			if c.On {
				back := `Type "control off" to take control back.`
				if ks := a.p.HotkeyKeys().Revoke; ks != 0 {
					back = "Press " + keyName(ks) + " to take control back."
				}
				a.show(EvMessage{"The supporter may now control your computer. " + back})
			} else {
				a.show(EvMessage{"Remote control taken back."})
			}
		}
		a.showRights()
	case CmdFiles:
		a.rights.SetFiles(c.On)
		a.showRights()
	case CmdWindows:
		a.listWindows()
	case CmdShareAll:
		a.chosen = nil
		a.choose(nil)
		a.show(EvMessage{"Sharing the whole screen."})
	case CmdShare:
		if a.listed == nil && !a.listWindows() {
			return
		}
		chosen := map[uint32]bool{}
		var titles []string
		for _, n := range c.Numbers {
			if n > len(a.listed) {
				a.show(EvMessage{fmt.Sprintf("There is no window %d; type \"windows\" for the list.", n)})
				return
			}
			w := a.listed[n-1]
			chosen[w.ID] = true
			titles = append(titles, fmt.Sprintf("%q", w.Title))
		}
		a.chosen = chosen
		a.choose(chosen)
		a.show(EvMessage{"Sharing only " + strings.Join(titles, ", ") + "."})
	case CmdStatus:
		if a.code.Code != "" {
			a.ui.Show(a.code)
		}
		a.ui.Show(a.state)
		a.showRights()
		if a.chosen == nil {
			a.show(EvMessage{"Sharing the whole screen."})
		} else {
			a.show(EvMessage{fmt.Sprintf("Sharing %d chosen window(s).", len(a.chosen))})
		}
	case CmdSend, CmdCancel:
		a.fileCommand(c) // files.go
	case CmdArrow:
		if a.arrow == nil {
			a.show(EvMessage{"There is no pointing arrow on this system."})
			return
		}
		a.arrow.setOn(c.On)
		a.show(EvArrow(c))
		if c.On {
			a.show(EvMessage{"The supporter's pointer shows as an arrow while they have no control."})
		} else {
			a.show(EvMessage{"The supporter's pointer no longer shows."})
		}
	case CmdAnswer:
		if len(a.queue) == 0 {
			a.show(EvMessage{"There is no question to answer."})
			return
		}
		p := a.queue[0]
		a.queue = a.queue[1:]
		p.answer <- c.Yes
		a.showPromptHead()
	}
}

// showPromptHead shows the oldest open question, or that none is open.
func (a *agent) showPromptHead() {
	if len(a.queue) > 0 {
		a.show(a.queue[0].ev)
	} else {
		a.show(EvPromptClosed{})
	}
}

// listWindows shows the visible application windows (not the taskbar or
// the desktop), topmost first, and remembers the numbering for "share".
func (a *agent) listWindows() bool {
	ws, err := a.p.Windows()
	if err != nil {
		a.show(EvMessage{"Cannot list the windows: " + err.Error()})
		return false
	}
	var visible []Window
	for _, w := range slices.Backward(ws) {
		if w.Visible && w.App && !w.Rect.Empty() {
			visible = append(visible, w)
		}
	}
	a.listed = visible
	a.show(EvWindows{Windows: visible, Shared: a.chosen})
	return true
}

// choose shares only the chosen windows (nil: the whole screen). The
// framebuffer is masked at once (hiding what must be hidden before any
// viewer can take it) and then captured again to fill in what became
// visible; from then on the capture fits the mask to every frame (see
// selection).
func (a *agent) choose(chosen map[uint32]bool) {
	if !a.sel.choose(chosen) {
		return
	}
	fb := a.p.Framebuffer()
	fb.Update(func(img *rfb.Image) []image.Rectangle { return []image.Rectangle{img.Bounds()} })
	a.p.Refresh()
}
