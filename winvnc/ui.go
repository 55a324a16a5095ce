package winvnc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// UI is the customer's side of the agent: it shows what happens and
// brings back the customer's commands. The terminal UI is the fallback
// and the interface of tests and scripts; a tray icon is another.
type UI interface {
	// Run reads the customer's commands and sends them on cmds until ctx
	// ends. It returns when ctx ends or when the input is gone; the agent
	// keeps running without input.
	Run(ctx context.Context, cmds chan<- Command) error
	// Show shows one event. The agent calls it from one goroutine.
	Show(Event)
}

// Event is something the customer is shown. It is a closed set.
type Event interface{ event() }

// The events.
type (
	// EvCode is the session code to read to the supporter.
	EvCode struct {
		Code    string
		Expires time.Time
	}
	// EvState is the connection's state, with a sentence for people.
	EvState struct {
		State  State
		Detail string
	}
	// EvRights is the customer's grants after a change, and how many
	// input events were dropped so far.
	EvRights struct {
		Control, Files bool
		Dropped        uint64
	}
	// EvPrompt asks a yes-or-no question; the answer is a CmdAnswer.
	// Who asks, and for control or (Control false) to see the screen,
	// for the window to say in the customer's language.
	EvPrompt struct {
		Question string
		Who      string
		Control  bool
	}
	// EvArrow says whether the supporter's pointer shows as an arrow.
	EvArrow struct{ On bool }
	// EvPromptClosed says no question is open any more.
	EvPromptClosed struct{}
	// EvWindows lists the windows, numbered from 1, for CmdShare.
	EvWindows struct {
		Windows []Window
		Shared  map[uint32]bool // nil: the whole screen is shared
	}
	// EvMessage is anything else worth a line.
	EvMessage struct{ Text string }
)

func (EvCode) event()         {}
func (EvState) event()        {}
func (EvRights) event()       {}
func (EvPrompt) event()       {}
func (EvPromptClosed) event() {}
func (EvWindows) event()      {}
func (EvMessage) event()      {}
func (EvArrow) event()        {}

// State is where the agent is in its one session.
type State int

// The states, in order.
const (
	StateConnecting State = iota // dialling the broker, or opening the port
	StateWaiting                 // waiting for the supporter
	StateAsking                  // a supporter waits for the customer's consent
	StateSharing                 // the supporter sees the screen
	StateEnded                   // the session is over
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateWaiting:
		return "waiting"
	case StateAsking:
		return "asking"
	case StateSharing:
		return "sharing"
	case StateEnded:
		return "ended"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Terminal is the text UI: commands are words on its input, one per line,
// and every event is printed as a line that starts with a keyword, so a
// script can follow it:
//
//	code 482913
//	say Your session code is 482 913. Read it to your supporter; it expires at 21:14.
//	state waiting Waiting for the supporter.
//	prompt Allow 203.0.113.7:51012 to see your screen? [y/n]
//	rights control=off files=off dropped=0
//	window 1 xterm (0,0)-(484,316)
//	error unknown command "foo" (try "help")
type Terminal struct {
	in  io.Reader
	mu  sync.Mutex
	out io.Writer
}

// NewTerminal returns a terminal UI reading in and writing out.
func NewTerminal(in io.Reader, out io.Writer) *Terminal {
	return &Terminal{in: in, out: out}
}

// Run implements UI.
func (t *Terminal) Run(ctx context.Context, cmds chan<- Command) error {
	lines := make(chan string)
	errc := make(chan error, 1)
	go func() {
		// A blocked Read cannot be interrupted; this goroutine ends with
		// the input (the process's stdin ends with the process).
		sc := bufio.NewScanner(t.in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		errc <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case line := <-lines:
			c, err := ParseCommand(line)
			if err == errEmpty {
				continue
			}
			if err != nil {
				t.printf("error %v\n", err)
				continue
			}
			if _, ok := c.(CmdHelp); ok {
				t.printf("%s\n", Help)
				continue
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// Show implements UI.
func (t *Terminal) Show(ev Event) {
	switch ev := ev.(type) {
	case EvCode:
		t.printf("code %s\n", ev.Code)
		t.printf("say Your session code is %s. Read it to your supporter; it expires at %s.\n",
			GroupCode(ev.Code), ev.Expires.Local().Format("15:04"))
	case EvState:
		t.printf("state %s %s\n", ev.State, ev.Detail)
	case EvRights:
		t.printf("rights control=%s files=%s dropped=%d\n", onOff(ev.Control), onOff(ev.Files), ev.Dropped)
	case EvPrompt:
		t.printf("prompt %s [y/n]\n", ev.Question)
	case EvWindows:
		if len(ev.Windows) == 0 {
			t.printf("say No windows to choose from.\n")
		}
		for i, w := range ev.Windows {
			mark := ""
			if ev.Shared != nil && ev.Shared[w.ID] {
				mark = " (shared)"
			}
			r := w.Rect
			t.printf("window %d %q %dx%d+%d+%d%s\n", i+1, w.Title, r.Dx(), r.Dy(), r.Min.X, r.Min.Y, mark)
		}
	case EvMessage:
		t.printf("say %s\n", strings.ReplaceAll(ev.Text, "\n", " "))
	case EvTransfer:
		t.printf("%s\n", ev.Line())
	}
}

func (t *Terminal) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.out, format, args...)
}

// MultiUI shows every event on all of uis and takes commands from any of
// them: the tray and the terminal together.
func MultiUI(uis ...UI) UI { return multiUI(uis) }

type multiUI []UI

func (m multiUI) Run(ctx context.Context, cmds chan<- Command) error {
	errs := make(chan error, len(m))
	for _, u := range m {
		go func() { errs <- u.Run(ctx, cmds) }()
	}
	var first error
	for range m {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (m multiUI) Show(ev Event) {
	for _, u := range m {
		u.Show(ev)
	}
}

var (
	_ UI = (*Terminal)(nil)
	_ UI = multiUI(nil)
)
