package panel

import (
	"fmt"
	"image"
	"image/color"
	"slices"
	"strings"
	"time"
)

// Phase is where the agent's session is, as the window tells it.
type Phase int

// The phases, in order (the agent's states).
const (
	Connecting Phase = iota
	Waiting
	Asking
	Sharing
	Ended
	numPhases
)

// Options are what a window is built with.
type Options struct {
	Brand string           // the help desk's name, in the title bar and the header
	Color color.RGBA       // the help desk's colour: header, switches, focus
	Lang  Lang             // English or German
	Scale float64          // 1 at 96 DPI; 0 means 1
	Now   func() time.Time // the clock; nil means time.Now
	// SendFiles shows a "Send files…" button (the agent has the
	// desktop's file chooser to carry out SendFiles).
	SendFiles bool
}

// Msg is what Step takes: the agent's news and the customer's hand. It
// is a closed set.
type Msg interface{ msg() }

// The agent's messages.
type (
	// Code is the session code and when it expires (zero: never).
	Code struct {
		Code    string
		Expires time.Time
	}
	// State is the session's phase; Who names the supporter (asking,
	// sharing); Detail is the agent's own sentence, shown when the
	// session ended.
	State struct {
		Phase       Phase
		Who, Detail string
	}
	// Question asks the customer; Control is true for a request to
	// control, false for the request to see the screen.
	Question struct {
		Who     string
		Control bool
	}
	// NoQuestion closes the question.
	NoQuestion struct{}
	// Rights are the grants as the agent enforces them.
	Rights struct{ Control, Files bool }
	// Arrow says whether the pointing arrow is on.
	Arrow struct{ On bool }
	// Hotkeys names the keys that take control back and switch files
	// ("F12", "Pause"; "" where none).
	Hotkeys struct{ Control, Files string }
	// Transfer is one file transfer's progress; its line stays after it
	// ended until newer ones push it out.
	Transfer struct {
		ID      int
		Name    string
		Sending bool // to the supporter
		Percent int
		State   TransferState
		Detail  string // why it stopped
	}
	// Scale changes the scale (the window moved to a screen with another
	// DPI).
	Scale struct{ Scale float64 }
	// SendFailed says the file chooser could not be opened: the window
	// says so until the customer tries again.
	SendFailed struct{}
)

// The customer's hand.
type (
	// Press is a mouse button pressed at X, Y (window pixels).
	Press struct{ X, Y int }
	// Release is the button released: a click when on the control that
	// the press was on.
	Release struct{ X, Y int }
	// Key is a key pressed while the window has the focus.
	Key struct{ Key KeyName }
	// Tick is the clock; it expires the code.
	Tick struct{}
)

// TransferState is where a file transfer is.
type TransferState int

// The transfer states.
const (
	Running TransferState = iota
	Done
	Aborted
	Offered // the customer offered it; the supporter may fetch it
)

// KeyName is a key the window understands.
type KeyName int

// The keys.
const (
	KeyTab KeyName = iota + 1
	KeyBackTab
	KeySpace
	KeyEnter
	KeyEscape
)

func (Code) msg()       {}
func (State) msg()      {}
func (Question) msg()   {}
func (NoQuestion) msg() {}
func (Rights) msg()     {}
func (Arrow) msg()      {}
func (Hotkeys) msg()    {}
func (Transfer) msg()   {}
func (Scale) msg()      {}
func (SendFailed) msg() {}
func (Press) msg()      {}
func (Release) msg()    {}
func (Key) msg()        {}
func (Tick) msg()       {}

// Action is what the customer asked for; the agent carries it out and
// reports back (Rights, Arrow, ...): the window never shows a grant the
// agent does not enforce. It is a closed set.
type Action interface{ action() }

// The actions.
type (
	Answer         struct{ Yes bool } // the question's answer
	SetControl     struct{ On bool }
	SetFiles       struct{ On bool }
	SetArrow       struct{ On bool }
	SetHidden      struct{ On bool } // keep the window out of the supporter's picture
	CancelTransfer struct{}
	// SendFiles asks for the file chooser, titled Title (in the
	// window's language), and the chosen files offered.
	SendFiles struct{ Title string }
	End       struct{} // end the session (and, once ended, close)
)

func (Answer) action()         {}
func (SetControl) action()     {}
func (SetFiles) action()       {}
func (SetArrow) action()       {}
func (SetHidden) action()      {}
func (CancelTransfer) action() {}
func (SendFiles) action()      {}
func (End) action()            {}

// Control is a thing on the window one can click or focus.
type Control int

// The controls, in tab order.
const (
	None Control = iota
	CtlAllow
	CtlDeny
	CtlControl
	CtlFiles
	CtlArrow
	CtlHide
	CtlSend
	CtlCancel
	CtlEnd
)

var controlNames = [...]string{"none", "allow", "deny", "control", "files", "arrow", "hide", "send", "cancel", "end"}

func (c Control) String() string {
	if c >= 0 && int(c) < len(controlNames) {
		return controlNames[c]
	}
	return fmt.Sprintf("Control(%d)", int(c))
}

// maxTransferLines is how many file transfer lines the window keeps.
const maxTransferLines = 3

// Panel is the window's state. Its zero value is not usable; see New.
// It is not safe for concurrent use: one goroutine (the platform
// window's) owns it.
type Panel struct {
	opts Options
	t    *text
	r    *renderer

	code      string
	expires   time.Time
	expired   bool
	phase     Phase
	who       string
	detail    string
	question  *Question
	control   bool
	files     bool
	arrow     bool
	hidden    bool
	keys      Hotkeys
	transfers []Transfer
	sendError bool // the file chooser could not be opened

	focus   Control
	pressed Control

	lay   *layout // nil: to be laid out again
	dirty bool    // the picture changed since Image
}

// New returns a window in the connecting phase with every right off and
// the arrow on.
func New(opts Options) *Panel {
	if opts.Scale <= 0 {
		opts.Scale = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Brand == "" {
		opts.Brand = "Lifebuoy"
	}
	if opts.Color.A == 0 {
		opts.Color = color.RGBA{0x1f, 0x5f, 0xa8, 0xff}
	}
	p := &Panel{opts: opts, t: &texts[English], arrow: true, keys: Hotkeys{Control: "F12", Files: "F11"}, dirty: true}
	if opts.Lang == German {
		p.t = &texts[German]
	}
	p.r = newRenderer(opts.Scale)
	return p
}

// Step takes one message and returns what the customer asked for, if
// anything.
func (p *Panel) Step(m Msg) []Action {
	switch m := m.(type) {
	case Code:
		p.code, p.expires, p.expired = m.Code, m.Expires, false
	case State:
		p.phase, p.who, p.detail = m.Phase, m.Who, m.Detail
		if m.Phase == Ended {
			p.question = nil
			p.transfers = slices.DeleteFunc(p.transfers, func(t Transfer) bool { return t.State == Running })
		}
	case Question:
		q := m
		p.question = &q
		if !m.Control && p.phase != Sharing {
			// The first question: Enter allows, as the customer on the
			// phone is told. A request for control during the session
			// gets no focus: the window does not take keys then.
			p.focus = CtlAllow
		}
	case NoQuestion:
		p.question = nil
		if p.focus == CtlAllow || p.focus == CtlDeny {
			p.focus = None
		}
	case Rights:
		p.control, p.files = m.Control, m.Files
	case Arrow:
		p.arrow = m.On
	case Hotkeys:
		p.keys = m
	case Transfer:
		i := slices.IndexFunc(p.transfers, func(t Transfer) bool { return t.ID == m.ID })
		if i >= 0 {
			p.transfers[i] = m
		} else {
			p.transfers = append(p.transfers, m)
			if len(p.transfers) > maxTransferLines {
				p.transfers = p.transfers[len(p.transfers)-maxTransferLines:]
			}
		}
	case SendFailed:
		p.sendError = true
	case Scale:
		if m.Scale <= 0 || m.Scale == p.opts.Scale {
			return nil
		}
		p.opts.Scale = m.Scale
		p.r = newRenderer(m.Scale)
	case Tick:
		exp := !p.expires.IsZero() && p.phase <= Waiting && !p.opts.Now().Before(p.expires)
		if exp == p.expired {
			return nil
		}
		p.expired = exp
	case Press:
		p.pressed = p.hit(m.X, m.Y)
		return nil
	case Release:
		c := p.hit(m.X, m.Y)
		pressed := p.pressed
		p.pressed = None
		if c == None || c != pressed {
			return nil
		}
		p.focus = c
		p.changed()
		return p.activate(c)
	case Key:
		return p.key(m.Key)
	}
	p.changed()
	return nil
}

func (p *Panel) changed() { p.lay, p.dirty = nil, true }

// key handles the keyboard: Tab and Shift+Tab move the focus, Space and
// Enter press the focused control, Escape denies an open question.
func (p *Panel) key(k KeyName) []Action {
	switch k {
	case KeyTab, KeyBackTab:
		cs := p.layout().order
		if len(cs) == 0 {
			return nil
		}
		i := slices.Index(cs, p.focus)
		switch {
		case i < 0 && k == KeyTab:
			i = 0
		case i < 0:
			i = len(cs) - 1
		case k == KeyTab:
			i = (i + 1) % len(cs)
		default:
			i = (i + len(cs) - 1) % len(cs)
		}
		p.focus = cs[i]
		p.changed()
	case KeySpace, KeyEnter:
		if p.focus != None && slices.Contains(p.layout().order, p.focus) {
			return p.activate(p.focus)
		}
	case KeyEscape:
		if p.question != nil {
			return []Action{Answer{Yes: false}}
		}
	}
	return nil
}

// activate is what pressing c asks for.
func (p *Panel) activate(c Control) []Action {
	switch c {
	case CtlAllow:
		return []Action{Answer{Yes: true}}
	case CtlDeny:
		return []Action{Answer{Yes: false}}
	case CtlControl:
		return []Action{SetControl{On: !p.control}}
	case CtlFiles:
		return []Action{SetFiles{On: !p.files}}
	case CtlArrow:
		return []Action{SetArrow{On: !p.arrow}}
	case CtlHide:
		// The window's own choice: nothing in the agent reports it.
		p.hidden = !p.hidden
		p.changed()
		return []Action{SetHidden{On: p.hidden}}
	case CtlSend:
		if p.sendError {
			p.sendError = false
			p.changed()
		}
		return []Action{SendFiles{Title: p.t.sendTitle}}
	case CtlCancel:
		return []Action{CancelTransfer{}}
	case CtlEnd:
		return []Action{End{}}
	}
	return nil
}

// hit returns the control at x, y.
func (p *Panel) hit(x, y int) Control {
	pt := image.Pt(x, y)
	for _, w := range p.layout().widgets {
		if w.ctl != None && pt.In(w.r) {
			return w.ctl
		}
	}
	return None
}

// ControlRect returns where control c is in the window (empty if it is
// not shown), for tests and for the platforms' accessibility.
func (p *Panel) ControlRect(c Control) image.Rectangle {
	for _, w := range p.layout().widgets {
		if w.ctl == c {
			return w.r
		}
	}
	return image.Rectangle{}
}

// Focus returns the control that has the keyboard focus.
func (p *Panel) Focus() Control { return p.focus }

// Hidden reports whether the customer chose to keep the window out of
// the supporter's picture.
func (p *Panel) Hidden() bool { return p.hidden }

// Size returns the window's size in pixels.
func (p *Panel) Size() image.Point { return p.layout().size }

// Dirty reports whether the picture changed since the last Image.
func (p *Panel) Dirty() bool { return p.dirty }

// Image draws the window.
func (p *Panel) Image() *image.RGBA {
	p.dirty = false
	return p.r.draw(p, p.layout())
}

// Title is the window's title: the brand, the code, the phase and the
// rights, so that a look at the task bar (or a test, through WM_NAME)
// tells the state.
func (p *Panel) Title() string {
	parts := []string{p.opts.Brand}
	if p.code != "" && p.phase <= Asking {
		parts = append(parts, GroupCode(p.code))
	}
	parts = append(parts, p.t.phase[p.phase])
	onOff := func(b bool) string {
		if b {
			return p.t.on
		}
		return p.t.off
	}
	parts = append(parts, fmt.Sprintf("%s %s", strings.ToLower(p.t.control), onOff(p.control)),
		fmt.Sprintf("%s %s", strings.ToLower(p.t.files), onOff(p.files)))
	if p.question != nil {
		parts = append(parts, "?")
	}
	return strings.Join(parts, " · ")
}

// GroupCode writes a code in groups of three, as it is read on the
// phone: "482913" → "482 913" (as winvnc.GroupCode).
func GroupCode(code string) string {
	var b strings.Builder
	for i, r := range code {
		if i > 0 && (len(code)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sentence is the state told in one sentence.
func (p *Panel) sentence() string {
	who := p.who
	if who == "" {
		who = p.t.someone
	}
	switch p.phase {
	case Connecting:
		return p.t.connecting
	case Waiting:
		if p.expired {
			return p.t.expired
		}
		return p.t.waiting
	case Asking:
		return fmt.Sprintf(p.t.asking, who)
	case Sharing:
		return fmt.Sprintf(p.t.sharing, who)
	}
	if p.detail != "" && p.t == &texts[English] {
		return p.detail
	}
	return p.t.ended
}

// sendShown reports whether the window shows "Send files…": the agent
// has a chooser and the session has not ended.
func (p *Panel) sendShown() bool { return p.opts.SendFiles && p.phase != Ended }

// transferLine is a transfer told in a line.
func (p *Panel) transferLine(tr Transfer) string {
	switch tr.State {
	case Done:
		if tr.Sending {
			return fmt.Sprintf(p.t.sent, tr.Name)
		}
		return fmt.Sprintf(p.t.received, tr.Name)
	case Aborted:
		return fmt.Sprintf(p.t.aborted, tr.Name, tr.Detail)
	case Offered:
		return fmt.Sprintf(p.t.offered, tr.Name)
	}
	if tr.Sending {
		return fmt.Sprintf(p.t.sending, tr.Name, tr.Percent)
	}
	return fmt.Sprintf(p.t.receiving, tr.Name, tr.Percent)
}

// question text, "" if none.
func (p *Panel) questionText() string {
	if p.question == nil {
		return ""
	}
	who := p.question.Who
	if who == "" {
		who = p.t.someone
	}
	if p.question.Control {
		return fmt.Sprintf(p.t.askControl, who)
	}
	return fmt.Sprintf(p.t.askView, who)
}
