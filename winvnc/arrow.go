package winvnc

import (
	"context"
	"image"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/winvnc/panel"
)

// Timing of the pointing arrow.
const (
	arrowIdle  = 3 * time.Second        // hidden after this long without a move
	arrowPulse = 600 * time.Millisecond // the ring after a click
)

// pointer is the pointing arrow: while the supporter has no control,
// their pointer events move an arrow drawn on the customer's screen
// (Netviewer's "Zeigen mit einem Pfeil"). It never clicks: the arrow's
// window lets every click through and never takes the focus.
type pointer struct {
	ar      nativeArrow
	scale   float64
	offset  image.Point
	control func() bool
	name    func() string
	log     *slog.Logger

	on   atomic.Bool
	kick chan struct{} // buffered 1

	mu      sync.Mutex
	at      image.Point // where the supporter points, on the screen
	buttons uint8
	moved   bool // an event since the last look
	clicked bool // a button went down since the last look
}

func newPointer(ar nativeArrow, scale float64, offset image.Point, control func() bool, name func() string, log *slog.Logger) *pointer {
	pt := &pointer{ar: ar, scale: scale, offset: offset, control: control, name: name, log: log, kick: make(chan struct{}, 1)}
	pt.on.Store(true)
	return pt
}

// event takes a pointer event dropped for want of control. It runs with
// the rights' lock held, on a viewer's goroutine: it only records.
func (pt *pointer) event(ev rfb.PointerEvent) {
	pt.mu.Lock()
	pt.at = image.Pt(int(ev.X), int(ev.Y)).Add(pt.offset)
	if ev.Buttons&^pt.buttons != 0 {
		pt.clicked = true
	}
	pt.buttons = ev.Buttons
	pt.moved = true
	pt.mu.Unlock()
	pt.poke()
}

// poke makes run look again (after a change of control or of on).
func (pt *pointer) poke() {
	select {
	case pt.kick <- struct{}{}:
	default:
	}
}

// setOn switches the arrow on or off.
func (pt *pointer) setOn(on bool) {
	pt.on.Store(on)
	pt.poke()
}

// run shows and hides the arrow until ctx ends, and then closes it.
func (pt *pointer) run(ctx context.Context) {
	defer pt.ar.Close()
	type key struct {
		name  string
		pulse bool
	}
	images := map[key]*image.RGBA{}
	var hot image.Point
	picture := func(k key) *image.RGBA {
		if img, ok := images[k]; ok {
			return img
		}
		if len(images) > 8 {
			clear(images)
		}
		img, h := panel.ArrowImage(k.name, pt.scale, k.pulse)
		images[k], hot = img, h
		return img
	}
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	pulse := time.NewTimer(time.Hour)
	pulse.Stop()
	defer idle.Stop()
	defer pulse.Stop()
	shown, pulsing := false, false
	hide := func() {
		if shown {
			if err := pt.ar.Hide(); err != nil {
				pt.log.Debug("winvnc: hiding the arrow", "err", err)
			}
			shown = false
		}
	}
	show := func() {
		pt.mu.Lock()
		at := pt.at
		pt.mu.Unlock()
		img := picture(key{pt.name(), pulsing})
		if err := pt.ar.Show(img, at.Sub(hot)); err != nil {
			pt.log.Debug("winvnc: showing the arrow", "err", err)
			return
		}
		shown = true
	}
	for {
		select {
		case <-ctx.Done():
			hide()
			return
		case <-pt.kick:
			pt.mu.Lock()
			moved, clicked := pt.moved, pt.clicked
			pt.moved, pt.clicked = false, false
			pt.mu.Unlock()
			if !pt.on.Load() || pt.control() {
				hide()
				continue
			}
			if !moved {
				continue
			}
			if clicked {
				pulsing = true
				pulse.Reset(arrowPulse)
			}
			show()
			idle.Reset(arrowIdle)
		case <-pulse.C:
			pulsing = false
			if shown {
				show()
			}
		case <-idle.C:
			hide()
		}
	}
}
