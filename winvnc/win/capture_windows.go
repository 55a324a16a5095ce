//go:build windows

package win

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/windows"

	"lifebuoy/rfb"
)

// Defaults for the Capturer's pacing.
const (
	DefaultPoll     = 33 * time.Millisecond  // period while the screen changes
	DefaultIdlePoll = 250 * time.Millisecond // period after IdleAfter without change
	DefaultIdle     = time.Second
)

// maxCursor bounds the cursor bitmaps read; Windows' largest are 256×256.
const maxCursor = 256

// Capturer copies the virtual screen (all monitors) into a Framebuffer
// with GDI.
//
// It keeps one screen DC, one memory DC and one 32-bit top-down DIB
// section selected into it, allocated once and again only when the
// virtual screen's size or origin changes (GetSystemMetrics, checked every
// poll), which also resizes fb. Each poll BitBlts the whole virtual
// screen into the DIB (SRCCOPY|CAPTUREBLT, so layered windows are
// included), compares it with the previous frame in 64×64 tiles and
// hands fb.Update only the changed tiles, joined into at most 64
// rectangles. The DIB's layout is rfb.Image's, so pixels are copied
// without conversion.
//
// Pacing: every Poll while the screen changes, every IdlePoll once it
// has not changed for Idle, where a blinking caret does not count as a
// change (see pacer). A 1080p BitBlt and compare take a few milliseconds,
// so the idle cost is about 4 of them a second; with no viewer (see
// SetActive) there is none.
//
// The cursor is not in the BitBlt; GetCursorInfo is read every poll and,
// when the cursor handle or its visibility changes, its image (GetIconInfo,
// GetDIBits) goes to fb.SetCursor.
//
// When BitBlt fails (the input desktop switched to the secure desktop:
// a UAC prompt, the lock screen), the capturer releases its DCs and tries
// to move its thread to the current input desktop (OpenInputDesktop,
// SetThreadDesktop). That succeeds only in a process running as SYSTEM in
// the user's session; otherwise it keeps retrying at IdlePoll until the
// user's desktop is back.
//
// Window moves: the places of the visible top-level windows are read
// just before and just after each BitBlt (EnumWindows and the DWM frame
// bounds; not timed on Windows here); a window that moved since the
// previous capture, kept its size and stood still during the BitBlt is
// handed to fb.UpdateIn as a copy hint, so viewers with CopyRect copy it
// themselves and get only what it uncovered (winvnc/win/moves.go). The
// places are read rather than followed with SetWinEventHook's
// EVENT_OBJECT_LOCATIONCHANGE: a hint needs the place at the moment the
// pixels are read, which an event reports only as having changed, and
// the capture polls anyway.
//
// DXGI Desktop Duplication (change rectangles and move rectangles from
// the compositor, no full compare) is a later step.
//
// Set the exported fields before Run.
type Capturer struct {
	Poll     time.Duration // 0 means DefaultPoll
	IdlePoll time.Duration // 0 means DefaultIdlePoll
	Idle     time.Duration // 0 means DefaultIdle

	d  *Display
	fb *rfb.Framebuffer

	screen   image.Rectangle // virtual screen the buffers were made for
	screenDC hdc
	memDC    hdc
	dib      hgdiobj
	oldBmp   hgdiobj // memDC's original bitmap, selected back before deleting
	pix      []byte  // the DIB section's pixels
	prev     []byte  // the previous frame
	desk     windows.Handle
	layout   placements // the top-level windows' places in prev, for move hints

	cursor cursorTracker

	frames  atomic.Int64
	refresh chan struct{}
	active  atomic.Bool   // a viewer wants the screen
	wake    chan struct{} // SetActive(true)'s signal, buffered 1

	// Hook, if set, fits the framebuffer's filter to the window layout of
	// each frame (see FrameHook).
	Hook FrameHook
}

// FrameHook fits the framebuffer's filter (the agent's application mask)
// to the window layout of the frame being captured. Windows has no way to
// hold the windows still while the screen is read, so while Active the
// capturer reads the layout before the BitBlt (Prepare) and again after
// it (Confirm): if a window moved in between, Confirm installs a filter
// that hides what either layout hides, and the capturer captures again at
// once. Between two reads of the same layout a window would have to move
// and come back within the BitBlt for a pixel to escape.
type FrameHook interface {
	// Active reports whether the next capture needs the hook.
	Active() bool
	// Prepare reads the layout and installs the filter for it; it reports
	// whether the filter changed (the whole screen is published then).
	Prepare() (changed bool)
	// Confirm reads the layout again after the pixels were read; if it
	// differs, it installs a filter that masks what either hides and
	// reports true.
	Confirm() (moved bool)
}

// NewCapturer returns a capturer of the virtual screen into fb. fb is
// resized to the screen when Run starts.
func NewCapturer(d *Display, fb *rfb.Framebuffer) *Capturer {
	c := &Capturer{d: d, fb: fb, refresh: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	c.active.Store(true)
	return c
}

// SetActive starts (on) or pauses capture: the agent captures only while
// a viewer wants the screen. Run always makes its first capture, which
// sizes the framebuffer; a capture resumed after a pause is of the whole
// screen. Safe for concurrent use.
func (c *Capturer) SetActive(on bool) {
	if c.active.Swap(on) == on || !on {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Refresh makes the running capturer send the whole screen once more,
// soon: the agent calls it when the framebuffer's filter (the
// application mask) changes. It never blocks and is safe for concurrent
// use.
func (c *Capturer) Refresh() {
	select {
	case c.refresh <- struct{}{}:
	default:
	}
}

// Frames returns how many captures have updated the framebuffer.
func (c *Capturer) Frames() int64 { return c.frames.Load() }

// Run captures until ctx ends, and returns nil then. It fails only if
// the first capture fails; later failures are logged and retried. It
// releases every GDI object before returning.
func (c *Capturer) Run(ctx context.Context) error {
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	if c.IdlePoll <= 0 {
		c.IdlePoll = DefaultIdlePoll
	}
	if c.Idle <= 0 {
		c.Idle = DefaultIdle
	}
	// GDI's DCs and the thread's desktop belong to one OS thread. The
	// capture runs on a goroutine that stays locked to its thread until
	// it ends, and Go then ends the thread too: a thread moved to another
	// desktop must not go back to the scheduler for other goroutines.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- c.run(ctx)
	}()
	return <-errc
}

func (c *Capturer) run(ctx context.Context) error {
	defer c.free()
	defer func() {
		if c.desk != 0 {
			closeDesktop(c.desk) // fails while the thread uses it; harmless
		}
	}()

	if _, err := c.capture(true); err != nil {
		return err
	}
	p := pacer{fast: c.Poll, slow: c.IdlePoll, idle: c.Idle, busy: time.Now()}
	failing := false
	period := c.Poll
	t := time.NewTimer(period)
	defer t.Stop()
	for {
		full := false
		if !c.active.Load() {
			c.d.log.Debug("win: capture paused (no viewer)")
			select {
			case <-ctx.Done():
				return nil
			case <-c.wake:
			}
			c.d.log.Debug("win: capture resumed")
			full = true
			p.busy = time.Now()
		} else {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			case <-c.refresh:
				full = true
			case <-c.wake:
				full = true
			}
		}
		area, err := c.capture(full)
		switch {
		case err != nil:
			if !failing {
				c.d.log.Warn("win: capture failed; following the input desktop", "err", err)
			}
			failing = true
			c.free()
			c.followInputDesktop()
		case failing:
			c.d.log.Info("win: capture works again")
			failing = false
		}
		if err == nil {
			c.updateCursor()
		}
		if full {
			area = 0 // asked for, not a change of the screen
		}
		next := p.next(time.Now(), area, failing)
		if next != period {
			c.d.log.Debug("win: capture period", "period", next)
			period = next
		}
		t.Reset(next)
	}
}

// capture grabs the screen and updates fb with what changed, or with all
// of it if full. It returns how many pixels of fb changed.
func (c *Capturer) capture(full bool) (int, error) {
	vs := virtualScreen()
	if vs.Empty() {
		return 0, fmt.Errorf("win: empty virtual screen %v", vs)
	}
	resized := false
	if vs != c.screen || c.memDC == 0 {
		c.free()
		if err := c.alloc(vs); err != nil {
			c.free()
			return 0, err
		}
		resized = true
	}
	w, h := vs.Dx(), vs.Dy()
	hooked := c.Hook != nil && c.Hook.Active()
	if hooked && c.Hook.Prepare() {
		full = true
	}
	before := topLayout()
	if err := bitBlt(c.memDC, 0, 0, w, h, c.screenDC, vs.Min.X, vs.Min.Y, srcCopy|captureBlt); err != nil {
		return 0, err
	}
	gdiFlush()
	after := topLayout()
	var moves []rfb.Copy
	if !resized {
		// Also when full (the mask changed because the shared window
		// moved): a hint is compared after the copy like any damage.
		moves = windowMoves(c.layout, before, after)
	}
	c.layout = settled(before, after)
	if hooked && c.Hook.Confirm() {
		full = true
		c.Refresh() // the next frame, at once, with the layout as it is now
	}
	changed, stale := publishFrame(c.fb, c.pix, c.prev, w, h, full, resized, moves)
	if stale {
		c.screen = image.Rectangle{} // fb resized behind our back: start over
	}
	if changed > 0 {
		c.frames.Add(1)
	}
	return changed, nil
}

// alloc creates the DCs and the DIB section for virtual screen vs.
func (c *Capturer) alloc(vs image.Rectangle) error {
	var err error
	if c.screenDC, err = getDC(0); err != nil {
		return err
	}
	if c.memDC, err = createCompatibleDC(c.screenDC); err != nil {
		return err
	}
	if c.dib, c.pix, err = createDIBSection(c.screenDC, vs.Dx(), vs.Dy()); err != nil {
		return err
	}
	if c.oldBmp, err = selectObject(c.memDC, c.dib); err != nil {
		return err
	}
	if len(c.prev) != len(c.pix) {
		c.prev = make([]byte, len(c.pix))
	}
	c.screen = vs
	return nil
}

// free releases the DCs and the DIB section, in the reverse order of
// alloc. The previous frame is kept.
func (c *Capturer) free() {
	if c.memDC != 0 {
		if c.oldBmp != 0 {
			selectObject(c.memDC, c.oldBmp)
		}
		deleteDC(c.memDC)
	}
	if c.dib != 0 {
		deleteObject(c.dib)
	}
	if c.screenDC != 0 {
		releaseDC(0, c.screenDC)
	}
	c.memDC, c.dib, c.oldBmp, c.screenDC, c.pix = 0, 0, 0, 0, nil
	c.screen = image.Rectangle{}
}

// followInputDesktop moves the capture thread to the desktop that has the
// input now. Called with the DCs released.
func (c *Capturer) followInputDesktop() {
	desk, err := openInputDesktop()
	if err != nil {
		c.d.log.Debug("win: input desktop", "err", err)
		return
	}
	if err := setThreadDesktop(desk); err != nil {
		c.d.log.Debug("win: input desktop", "err", err)
		closeDesktop(desk)
		return
	}
	if c.desk != 0 {
		closeDesktop(c.desk)
	}
	c.desk = desk
}

// updateCursor sends the cursor image to fb when the cursor changed. An
// image that cannot be read is logged once and not read again until the
// cursor changes (see cursorTracker); fb keeps the cursor it had.
func (c *Capturer) updateCursor() {
	var ci cursorInfo
	if err := getCursorInfo(&ci); err != nil {
		return
	}
	read, hide := c.cursor.observe(ci.cursor, ci.flags&cursorShowing != 0)
	switch {
	case hide:
		c.fb.SetCursor(nil, image.Point{})
	case read:
		img, hot, err := c.cursorImage(ci.cursor)
		if err != nil {
			c.d.log.Debug("win: cursor image", "cursor", fmt.Sprintf("%#x", ci.cursor), "err", err)
			return
		}
		c.fb.SetCursor(img, hot)
	}
}

// cursorImage reads cursor's bitmaps.
func (c *Capturer) cursorImage(cursor uintptr) (image.Image, image.Point, error) {
	var ii iconInfo
	if err := getIconInfo(cursor, &ii); err != nil {
		return nil, image.Point{}, err
	}
	if ii.mask != 0 {
		defer deleteObject(hgdiobj(ii.mask))
	}
	if ii.color != 0 {
		defer deleteObject(hgdiobj(ii.color))
	}
	mb, err := getObjectBitmap(hgdiobj(ii.mask))
	if err != nil {
		return nil, image.Point{}, err
	}
	w, mh := int(mb.width), int(mb.height)
	h := mh / 2 // monochrome: AND mask above XOR mask
	if ii.color != 0 {
		h = mh
	}
	if w <= 0 || h <= 0 || w > maxCursor || h > maxCursor {
		return nil, image.Point{}, fmt.Errorf("win: cursor of %d×%d", w, mh)
	}
	mask := make([]byte, (w+31)/32*4*mh)
	bi := bitmapInfo{header: bitmapInfoHeader{width: int32(w), height: -int32(mh), planes: 1, bitCount: 1}}
	bi.header.size = sizeofBitmapInfoHeader
	if err := getDIBits(c.screenDC, hgdiobj(ii.mask), mh, mask, &bi); err != nil {
		return nil, image.Point{}, err
	}
	var color []byte
	if ii.color != 0 {
		color = make([]byte, w*h*4)
		bi = bitmapInfo{header: bitmapInfoHeader{width: int32(w), height: -int32(h), planes: 1, bitCount: 32}}
		bi.header.size = sizeofBitmapInfoHeader
		if err := getDIBits(c.screenDC, hgdiobj(ii.color), h, color, &bi); err != nil {
			return nil, image.Point{}, err
		}
	}
	return cursorImage(color, mask, w, h), image.Pt(int(ii.xHotspot), int(ii.yHotspot)), nil
}
