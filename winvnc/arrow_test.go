package winvnc

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"lifebuoy/rfb"
)

// arrowLog records what the pointer asks of its window.
type arrowLog struct {
	mu    sync.Mutex
	calls []string
	imgs  map[*image.RGBA]int // pictures numbered as they first came
}

func (l *arrowLog) Show(img *image.RGBA, at image.Point) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.imgs == nil {
		l.imgs = map[*image.RGBA]int{}
	}
	if _, ok := l.imgs[img]; !ok {
		l.imgs[img] = len(l.imgs) + 1
	}
	l.calls = append(l.calls, fmt.Sprintf("show %d,%d img%d", at.X, at.Y, l.imgs[img]))
	return nil
}

func (l *arrowLog) Hide() error  { l.add("hide"); return nil }
func (l *arrowLog) Close() error { l.add("close"); return nil }

func (l *arrowLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

// take returns the calls since the last take.
func (l *arrowLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.calls, "; ")
	l.calls = nil
	return s
}

// TestPointingArrow follows the arrow through the rights: it follows
// the pointer without control, pulses on a click, hides after a while
// without a move, hides with control and comes back after it, and stays
// away when the customer switches it off.
func TestPointingArrow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &arrowLog{}
		rights := NewRights(nil)
		pt := newPointer(log, 1, image.Pt(0, 0), rights.Control, func() string { return "Anna" }, slog.New(slog.DiscardHandler))
		rights.SetPointing(pt.event)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { pt.run(ctx); close(done) }()
		step := func(d time.Duration) { time.Sleep(d); synctest.Wait() }
		expect := func(stage, want string) {
			t.Helper()
			if got := log.take(); got != want {
				t.Errorf("%s: %q, want %q", stage, got, want)
			}
		}

		rights.Pointer(rfb.PointerEvent{X: 100, Y: 50})
		step(0)
		expect("a move", "show 82,32 img1") // the tip is at the point
		rights.Pointer(rfb.PointerEvent{X: 100, Y: 50, Buttons: 1})
		step(0)
		expect("a click", "show 82,32 img2") // the pulse
		rights.Pointer(rfb.PointerEvent{X: 100, Y: 50})
		step(arrowPulse)
		expect("the pulse's end", "show 82,32 img2; show 82,32 img1")
		step(arrowIdle)
		expect("idle", "hide")
		if rights.Dropped() != 3 {
			t.Errorf("dropped %d, want 3", rights.Dropped())
		}

		rights.Pointer(rfb.PointerEvent{X: 10, Y: 10})
		step(0)
		log.take()
		rights.SetControl(true)
		pt.poke() // as the agent does when it shows the rights
		step(0)
		expect("control", "hide")
		rights.SetControl(false)
		rights.Pointer(rfb.PointerEvent{X: 20, Y: 10})
		step(0)
		expect("after F12", "show 2,-8 img1")

		pt.setOn(false)
		step(0)
		rights.Pointer(rfb.PointerEvent{X: 30, Y: 10})
		step(0)
		expect("switched off", "hide")
		cancel()
		<-done
		expect("the end", "close")
	})
}

func TestParseArrow(t *testing.T) {
	for line, want := range map[string]Command{"arrow on": CmdArrow{On: true}, "Arrow  OFF": CmdArrow{On: false}} {
		if got, err := ParseCommand(line); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", line, got, err, want)
		}
	}
	if _, err := ParseCommand("arrow"); err == nil {
		t.Error(`"arrow": no error`)
	}
}
