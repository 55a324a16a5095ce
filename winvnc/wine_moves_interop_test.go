//go:build interop && linux

package winvnc

import (
	"fmt"
	"image"
	"sync"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// moveCounter reads a viewer's updates (lossless: CopyRect and ZRLE),
// counting CopyRect rectangles and the pixels sent otherwise, and checks
// every update with check when set.
type moveCounter struct {
	mu     sync.Mutex
	check  func(fb *rfb.Image) string
	copies int
	pixels int
	frames int
	bad    string
	shown  *rfb.Image
}

func countMoves(t *testing.T, v *viewer) *moveCounter {
	t.Helper()
	if err := v.c.SetEncodings(rfb.EncCopyRect, rfb.EncZRLE); err != nil {
		t.Fatal(err)
	}
	m := &moveCounter{}
	first := make(chan struct{})
	go func() {
		w, h := v.c.Size()
		v.c.RequestUpdate(false, image.Rect(0, 0, w, h))
		for n := 0; ; n++ {
			msg, err := v.c.ReadMessage()
			if err != nil {
				return
			}
			u, ok := msg.(*rfb.FramebufferUpdate)
			if !ok {
				n--
				continue
			}
			m.mu.Lock()
			for _, r := range u.Rects {
				switch {
				case r.Encoding == rfb.EncCopyRect:
					m.copies++
				case n > 0 && r.Encoding >= 0:
					m.pixels += r.Rect.Dx() * r.Rect.Dy()
				}
			}
			m.frames++
			fb := v.c.Framebuffer()
			if m.check != nil && m.bad == "" {
				if msg := m.check(fb); msg != "" {
					m.bad = fmt.Sprintf("update %d: %s", m.frames, msg)
				}
			}
			m.shown = fb.Clone()
			m.mu.Unlock()
			if n == 0 {
				close(first)
			}
			w, h := v.c.Size()
			if v.c.RequestUpdate(true, image.Rect(0, 0, w, h)) != nil {
				return
			}
		}
	}()
	select {
	case <-first:
	case <-time.After(waitTimeout):
		t.Fatal("no first picture")
	}
	return m
}

// reset forgets the counts and the picture so far and sets the check.
func (m *moveCounter) reset(check func(fb *rfb.Image) string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.copies, m.pixels, m.bad, m.shown, m.check = 0, 0, "", nil, check
}

func (m *moveCounter) counts() (copies, pixels int, bad string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.copies, m.pixels, m.bad
}

// waitShown waits until the viewer's latest picture passes ok.
func (m *moveCounter) waitShown(t *testing.T, what string, ok func(fb *rfb.Image) (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(wineWait)
	detail := "no update"
	for time.Now().Before(deadline) {
		m.mu.Lock()
		shown := m.shown
		m.mu.Unlock()
		if shown != nil {
			var good bool
			if good, detail = ok(shown); good {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: the viewer never showed it: %s", what, detail)
}

// A window moved on Windows reaches a viewer with CopyRect as CopyRect
// from its old place, and the picture stays exact: on the whole screen,
// and with application selection, where a shared window is moved and a
// masked one dragged across it.
func TestWineMovesAsCopyRect(t *testing.T) {
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	w := rfbtest.StartWine(t, x)
	w.Start(t, "notepad")
	if _, err := rfbtest.WaitForWindow(t, t.Context(), x, "Untitled - Notepad"); err != nil {
		t.Fatal(err)
	}
	chosen := startWineHelper(t, w, "-title", "chosen", "-color", "33cc66", "-rect", "300,150,300,250")
	other := startWineHelper(t, w, "-title", "other", "-color", "ff00ff", "-rect", "20,420,200,120")
	a, v := directAgent(t, w, "pw")
	m := countMoves(t, v)
	m.waitShown(t, "the screen", sameAsWine(t, w))

	// 8 steps of the chosen window across the screen. Each repaints
	// only its frame's edges (Wine draws the caption again): without
	// hints every step would send the window's 300x250 pixels.
	m.reset(nil)
	for i := range 8 {
		px, py := 300-20*i, 150-10*i
		chosen.send(fmt.Sprintf("move %d %d", px, py))
		chosen.expect(fmt.Sprintf(`^moved %d %d$`, px, py))
		time.Sleep(80 * time.Millisecond)
	}
	m.waitShown(t, "after the moves", sameAsWine(t, w))
	copies, pixels, _ := m.counts()
	t.Logf("8 moves: %d CopyRects, %d pixels", copies, pixels)
	if copies == 0 || pixels > 8*300*250/2 {
		t.Errorf("8 moves of a 300x250 window: %d CopyRects and %d pixels sent", copies, pixels)
	}

	// Share only the chosen window (now at 160,80, clear of the other).
	a.send("windows")
	var id string
	var rect image.Rectangle
	for range 3 {
		mm := a.expect(`^window (\d+) "([^"]*)" (\d+)x(\d+)\+(-?\d+)\+(-?\d+)$`)
		if mm[2] == "chosen" {
			id = mm[1]
			var ww, hh, xx, yy int
			fmt.Sscan(mm[3]+" "+mm[4]+" "+mm[5]+" "+mm[6], &ww, &hh, &xx, &yy)
			rect = image.Rect(xx, yy, xx+ww, yy+hh)
		}
	}
	a.send("status")
	a.expect(`^rights `)
	if id == "" {
		t.Fatalf("chosen is not listed:\n%s", a.p.Output())
	}
	a.send("share " + id)
	a.expect(`^say Sharing only "chosen"`)
	var mu sync.Mutex
	masked := func(fb *rfb.Image) (bool, string) {
		mu.Lock()
		r := rect
		mu.Unlock()
		want, err := w.Capture()
		if err != nil {
			t.Error(err)
			return false, err.Error()
		}
		for y := range fb.H {
			for xx := range fb.W {
				c := MaskColor(xx, y)
				if image.Pt(xx, y).In(r) {
					cr, cg, cb, _ := want.At(xx, y).RGBA()
					c = cr>>8<<16 | cg>>8<<8 | cb>>8
				}
				if got := fb.RGB(xx, y); got != c {
					return false, fmt.Sprintf("pixel (%d,%d) is %06x, want %06x", xx, y, got, c)
				}
			}
		}
		return true, ""
	}
	m.waitShown(t, "the mask", masked)

	// Move the shared window and drag the masked one over it, in turns:
	// no update may show a magenta pixel, and the end is exact.
	m.reset(hasColor(0xff00ff))
	for i := range 8 {
		px, py := 160+25*i, 80+10*i
		chosen.send(fmt.Sprintf("move %d %d", px, py))
		chosen.expect(fmt.Sprintf(`^moved %d %d$`, px, py))
		mu.Lock()
		rect = rect.Add(image.Pt(px, py).Sub(rect.Min))
		mu.Unlock()
		ox, oy := 20+40*i, 420-30*i
		other.send(fmt.Sprintf("move %d %d", ox, oy))
		other.expect(fmt.Sprintf(`^moved %d %d$`, ox, oy))
		time.Sleep(80 * time.Millisecond)
	}
	other.send("move 20 450") // off the shared window, for the exact end
	other.expect(`^moved 20 450$`)
	m.waitShown(t, "the mask after the moves", masked)
	copies, pixels, bad := m.counts()
	t.Logf("masked: 8 moves of the shared window, %d CopyRects, %d pixels", copies, pixels)
	if bad != "" {
		t.Errorf("the masked window showed: %s", bad)
	}
	if copies == 0 {
		t.Errorf("8 moves of the shared window: no CopyRect (%d pixels sent)", pixels)
	}
}
