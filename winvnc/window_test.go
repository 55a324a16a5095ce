package winvnc

import (
	"context"
	"errors"
	"image"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"lifebuoy/winvnc/panel"
)

// fakeWindow is a nativeWindow that takes input from the test and
// tells it the size of each picture drawn.
type fakeWindow struct {
	in    chan windowInput
	drawn chan image.Point
}

func (w fakeWindow) Draw(img *image.RGBA) error {
	select {
	case w.drawn <- img.Rect.Size():
	default:
	}
	return nil
}

func (fakeWindow) SetTitle(string)             {}
func (fakeWindow) Show() error                 { return nil }
func (fakeWindow) Raise()                      {}
func (fakeWindow) Focus()                      {}
func (fakeWindow) Rect() image.Rectangle       { return image.Rect(0, 0, 340, 600) }
func (fakeWindow) ID() uint32                  { return 1 }
func (w fakeWindow) Input() <-chan windowInput { return w.in }
func (fakeWindow) Close() error                { return nil }

// TestWindowSendFiles: the window's "Send files…" opens the chooser with
// the window's title for it, once however often it is clicked while
// open, and asks the agent to offer each chosen file; a cancelled
// chooser offers nothing, and a failed one is told in the window (the
// window grows by the sentence) and offers nothing. The agent's offer
// gets a line in the window.
func TestWindowSendFiles(t *testing.T) {
	type answer struct {
		paths []string
		err   error
	}
	titles := make(chan string, 4)
	answers := make(chan answer)
	pick := func(ctx context.Context, title string) ([]string, error) {
		titles <- title
		select {
		case a := <-answers:
			return a.paths, a.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	w := fakeWindow{in: make(chan windowInput), drawn: make(chan image.Point, 64)}
	p := panel.New(panel.Options{Scale: 1, SendFiles: true})
	u := &windowUI{w: w, p: p, log: slog.New(slog.NewTextHandler(io.Discard, nil)), evs: make(chan Event, 64),
		done: make(chan struct{}), pick: pick, picked: make(chan picked, 1)}
	ref := panel.New(panel.Options{Scale: 1, SendFiles: true}) // as the window is: connecting

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmds := make(chan Command)
	ran := make(chan error, 1)
	go func() { ran <- u.Run(ctx, cmds) }()
	input := func(m panel.Msg) {
		select {
		case w.in <- windowInput{msg: m}:
		case <-time.After(10 * time.Second):
			t.Fatal("the window takes no input")
		}
	}
	clickSend := func() {
		r := ref.ControlRect(panel.CtlSend)
		mid := r.Min.Add(r.Size().Div(2))
		input(panel.Press{X: mid.X, Y: mid.Y})
		input(panel.Release{X: mid.X, Y: mid.Y})
	}
	// openChooser clicks Send files until the chooser opens: a click that
	// comes before the window has taken the previous chooser's answer is
	// one made while that chooser is open, and opens none.
	openChooser := func() {
		t.Helper()
		for range 50 {
			clickSend()
			select {
			case got := <-titles:
				if got != "Send files to the supporter" {
					t.Errorf("the chooser's title %q", got)
				}
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		t.Fatal("Send files opened no chooser")
	}
	openChooser()
	clickSend() // while it is open: no second chooser
	answers <- answer{paths: []string{"/home/eve/a.txt", "/home/eve/b c.pdf"}}
	var got []Command
	for range 2 {
		select {
		case c := <-cmds:
			got = append(got, c)
		case <-time.After(10 * time.Second):
			t.Fatalf("the agent was asked for %v only", got)
		}
	}
	if want := []Command{CmdSend{Path: "/home/eve/a.txt"}, CmdSend{Path: "/home/eve/b c.pdf"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("commands %v, want %v", got, want)
	}
	select {
	case title := <-titles:
		t.Fatalf("a second chooser (%q) while the first was open", title)
	default:
	}
	// The agent's offer gets a line.
	u.Show(EvOffer{ID: 1, Name: "a.txt"})
	grown := func(than int) int {
		t.Helper()
		for {
			select {
			case size := <-w.drawn:
				if size.Y > than {
					return size.Y
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the window never grew beyond %d pixels", than)
			}
		}
	}
	offered := grown(ref.Size().Y)
	ref.Step(panel.Transfer{ID: 1, Name: "a.txt", Sending: true, State: panel.Offered}) // Send files moved down

	// Cancelled, then failed.
	openChooser()
	answers <- answer{}
	openChooser()
	answers <- answer{err: errors.New("org.freedesktop.DBus.Error.ServiceUnknown")}
	grown(offered) // the sentence that the chooser failed
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-cmds:
		t.Errorf("the agent was asked for %v after no file was chosen", c)
	default:
	}
}
