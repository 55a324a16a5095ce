//go:build linux

package x11

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"sync/atomic"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb"
)

// Defaults for the Capturer's pacing.
const (
	DefaultBatch = 5 * time.Millisecond   // coalesce damage this long before capturing
	DefaultPoll  = 100 * time.Millisecond // tile-compare period without DAMAGE

	// Without DAMAGE an unchanged screen is polled ever more slowly, up to
	// this many times Poll; a change brings the period back to Poll.
	maxPollFactor = 5

	// After a quiet spell the first change is captured sooner: a lone
	// change (a key echoed, a click) should reach the viewer at once,
	// while sustained drawing is coalesced at Batch.
	firstBatch = time.Millisecond
	quietGap   = 50 * time.Millisecond
)

// maxDamageRects bounds the rectangles captured per cycle. DAMAGE reports
// are hints (x11vnc treats them so too): each rectangle costs a request
// and a copy, so beyond this many they are merged onto the tile grid.
const maxDamageRects = 32

// Capturer copies the screen into a Framebuffer as it changes.
//
// Pacing: the capture goroutine blocks on the X event queue. DAMAGE is
// created with ReportNonEmpty, so the server sends one notification when
// the damage goes from empty to not empty. That starts a batch timer:
// Batch while the screen keeps changing, 1 ms for the first change after
// 50 ms of quiet. When it fires, the accumulated damage is taken from the
// server in one round trip (DamageSubtract into an XFIXES region, FetchRegion),
// bounded and merged (mergeRects), read with MIT-SHM GetImage (all
// rectangles pipelined into one segment) and handed to fb.Update with
// exactly those rectangles. Damage that arrives during a capture raises a
// new notification, so nothing is lost. With no screen change there are no
// events and no timers: the goroutine sleeps and uses no CPU.
//
// Without DAMAGE (or with NoDamage set) it polls: every Poll it captures
// the whole screen and compares it with the previous capture in 64×64
// tiles, sending the tiles that differ. While nothing changes the period
// grows to 5×Poll, which keeps an idle 1080p screen under 1% of a core.
//
// The cursor image (XFIXES) is fetched only when the server reports a new
// cursor serial; a RandR screen change resizes fb and recaptures it all.
//
// Set the exported fields before Run.
type Capturer struct {
	Batch    time.Duration // damage coalescing delay; 0 means DefaultBatch
	Poll     time.Duration // fallback poll period; 0 means DefaultPoll
	NoDamage bool          // use the tile-compare fallback even with DAMAGE
	NoShm    bool          // read pixels over the socket even with MIT-SHM

	d  *Display
	fb *rfb.Framebuffer

	format  pixelFormat
	w, h    int
	seg     *segment
	conv    *rfb.Image // native scratch for non-native formats
	prev    *rfb.Image // last full capture, for the fallback
	poll    bool       // tile-compare fallback in use
	grabbed bool       // the capture runs with the server grabbed (withLayout)
	movedAt time.Time  // the last capture with moves

	events   chan xgb.Event
	overflow atomic.Bool // events were dropped: ask the server for the state

	// Top-level windows, for moves as CopyRect (moves_linux.go).
	wins        map[xproto.Window]*topWindow
	winEvents   chan xgb.Event
	winOverflow atomic.Bool
	cursor      uint32    // serial of the cursor image in fb
	last        time.Time // end of the last damage capture

	frames  atomic.Int64
	refresh chan struct{} // Refresh's request, buffered 1
	active  atomic.Bool   // a viewer wants the screen
	wake    chan struct{} // SetActive(true)'s signal, buffered 1

	onCursor func(image.Image, image.Point) // test hook, called after SetCursor

	// Hook, if set, fits the framebuffer's filter to the window layout of
	// each frame (see FrameHook).
	Hook FrameHook
}

// FrameHook fits the framebuffer's filter (the agent's application mask)
// to the window layout of exactly the frame being captured. While Active,
// the capturer grabs the X server for each capture, calls Prepare, reads
// the pixels and releases the server: no window moves between the layout
// Prepare reads and the pixels, so no pixel of a window that moved over a
// shared one can escape the mask, not even for one frame.
type FrameHook interface {
	// Active reports whether the next capture needs Prepare.
	Active() bool
	// Prepare reads the window layout (on the capture goroutine, with the
	// server grabbed) and installs the filter for it; it reports whether
	// the filter changed, and then the whole screen is captured.
	Prepare() (changed bool)
}

// withLayout runs capture, with the server grabbed and the hook prepared
// when a hook is active. full tells capture to take the whole screen.
func (c *Capturer) withLayout(capture func(full bool) error) error {
	if c.Hook == nil || !c.Hook.Active() {
		return capture(false)
	}
	if err := guard(func() error { return xproto.GrabServerChecked(c.d.conn).Check() }); err != nil {
		return fmt.Errorf("x11: grab server: %w", err)
	}
	defer guard(func() error { return xproto.UngrabServerChecked(c.d.conn).Check() })
	c.grabbed = true
	defer func() { c.grabbed = false }()
	return capture(c.Hook.Prepare())
}

// NewCapturer returns a capturer of d's default screen into fb. fb is
// resized to the screen when Run starts.
func NewCapturer(d *Display, fb *rfb.Framebuffer) *Capturer {
	c := &Capturer{d: d, fb: fb, refresh: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	c.active.Store(true)
	return c
}

// SetActive starts (on) or pauses capture: the agent captures only while
// a viewer wants the screen. While paused, damage piles up on the server
// (one notification, then none) and nothing is read; resuming captures
// the whole screen. Run always makes its first capture, which sizes the
// framebuffer. Safe for concurrent use.
func (c *Capturer) SetActive(on bool) {
	if c.active.Swap(on) == on || !on {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Refresh makes the running capturer capture the whole screen once more,
// soon, as if all of it had changed: the agent calls it when the
// framebuffer's filter (the application mask) changes. Requests made
// before the capture coalesce. It never blocks and is safe for concurrent
// use.
func (c *Capturer) Refresh() {
	select {
	case c.refresh <- struct{}{}:
	default:
	}
}

// Frames returns how many captures have updated the framebuffer.
func (c *Capturer) Frames() int64 { return c.frames.Load() }

// Run captures until ctx ends or the connection fails. It returns nil on
// ctx's end. It leaves nothing on the server or in the kernel behind.
func (c *Capturer) Run(ctx context.Context) error {
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	format, err := c.d.pixelFormat()
	if err != nil {
		return err
	}
	c.format = format
	c.events = make(chan xgb.Event, 256)
	c.winEvents = make(chan xgb.Event, 1024)
	remove := c.d.handle(c.filter)
	defer remove()
	defer c.freeBuffers()

	useDamage := !c.NoDamage && c.d.Has(ExtDamage) && c.d.Has(ExtXFixes)
	c.poll = !useDamage
	var dmg damage.Damage
	var region xfixes.Region
	if err := guard(func() error { return c.selectEvents(useDamage, &dmg, &region) }); err != nil {
		return err
	}
	defer c.unselect(dmg, region)
	if err := c.trackWindows(); err != nil {
		c.d.log.Debug("x11: window moves not followed", "err", err)
		c.wins = nil
	}
	if err := c.resize(); err != nil {
		return err
	}
	c.updateCursor(0)

	var batch <-chan time.Time // armed while damage waits
	var poll <-chan time.Time
	var pollTimer *time.Timer
	pollDelay := c.Poll
	if !useDamage {
		c.d.log.Info("x11: capture without DAMAGE, polling", "period", c.Poll)
		pollTimer = time.NewTimer(pollDelay)
		defer pollTimer.Stop()
		poll = pollTimer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.d.Done():
			return errors.New("x11: display connection closed")
		case <-c.wake:
			if !c.active.Load() {
				break
			}
			c.d.log.Debug("x11: capture resumed")
			capture := func(bool) error { return c.captureRects(c.all()) }
			if useDamage {
				capture = func(bool) error { return c.captureDamage(dmg, region, true) }
			}
			if err := c.withLayout(capture); err != nil {
				return err
			}
			c.last = time.Now()
			if pollTimer != nil {
				pollDelay = c.Poll
				pollTimer.Reset(pollDelay)
			}
		case <-batch:
			batch = nil
			if !c.active.Load() {
				c.d.log.Debug("x11: capture paused (no viewer)")
				break // the damage stays on the server until resumed
			}
			if err := c.withLayout(func(full bool) error { return c.captureDamage(dmg, region, full) }); err != nil {
				return err
			}
			c.last = time.Now()
		case <-c.refresh:
			if err := c.withLayout(func(bool) error { return c.captureRects(c.all()) }); err != nil {
				return err
			}
		case <-poll:
			if !c.active.Load() {
				break // the timer stays stopped until resumed
			}
			var changed bool
			err := c.withLayout(func(full bool) (err error) {
				changed, err = c.captureTiles(full)
				return err
			})
			if err != nil {
				return err
			}
			if changed {
				pollDelay = c.Poll
			} else {
				pollDelay = min(pollDelay+c.Poll, maxPollFactor*c.Poll)
			}
			pollTimer.Reset(pollDelay)
		case ev := <-c.winEvents:
			c.windowEvent(ev)
		case ev := <-c.events:
			switch ev := ev.(type) {
			case damage.NotifyEvent:
				if batch == nil {
					delay := c.Batch
					if time.Since(c.last) > quietGap {
						delay = min(delay, firstBatch)
					}
					batch = time.After(delay)
				}
			case xfixes.CursorNotifyEvent:
				c.updateCursor(ev.CursorSerial)
			case randr.ScreenChangeNotifyEvent, xproto.ConfigureNotifyEvent:
				if err := c.withLayout(func(bool) error { return c.resize() }); err != nil {
					return err
				}
			}
		}
		if c.winOverflow.Swap(false) && c.wins != nil {
			if err := c.trackWindows(); err != nil {
				c.wins = nil
			}
		}
		if c.overflow.Swap(false) {
			// Events were dropped. The server still holds the damage (and
			// NonEmpty sends no new event until it is taken), the size and
			// the cursor: ask for all three.
			c.d.log.Debug("x11: event overflow")
			if err := c.withLayout(func(bool) error { return c.resize() }); err != nil {
				return err
			}
			c.updateCursor(0)
			if useDamage {
				if err := c.withLayout(func(full bool) error { return c.captureDamage(dmg, region, full) }); err != nil {
					return err
				}
				c.last = time.Now()
			}
		}
	}
}

// filter runs on the display's reader goroutine.
func (c *Capturer) filter(ev xgb.Event) {
	if c.isWindowEvent(ev) {
		select {
		case c.winEvents <- ev:
		default:
			c.winOverflow.Store(true)
		}
		return
	}
	switch ev := ev.(type) {
	case damage.NotifyEvent, xfixes.CursorNotifyEvent, randr.ScreenChangeNotifyEvent:
	case xproto.ConfigureNotifyEvent:
		if ev.Window != c.d.root {
			return
		}
	default:
		return
	}
	select {
	case c.events <- ev:
	default:
		c.overflow.Store(true)
	}
}

func (c *Capturer) selectEvents(useDamage bool, dmg *damage.Damage, region *xfixes.Region) error {
	d := c.d
	if err := xproto.ChangeWindowAttributesChecked(d.conn, d.root, xproto.CwEventMask,
		[]uint32{xproto.EventMaskStructureNotify | xproto.EventMaskSubstructureNotify}).Check(); err != nil {
		return fmt.Errorf("x11: select root events: %w", err)
	}
	if d.Has(ExtRandR) {
		if err := randr.SelectInputChecked(d.conn, d.root, randr.NotifyMaskScreenChange).Check(); err != nil {
			return fmt.Errorf("x11: RandR select input: %w", err)
		}
	}
	if d.Has(ExtXFixes) {
		if err := xfixes.SelectCursorInputChecked(d.conn, d.root, xfixes.CursorNotifyMaskDisplayCursor).Check(); err != nil {
			return fmt.Errorf("x11: XFIXES cursor input: %w", err)
		}
	}
	if !useDamage {
		return nil
	}
	r, err := xfixes.NewRegionId(d.conn)
	if err != nil {
		return err
	}
	if err := xfixes.CreateRegionChecked(d.conn, r, nil).Check(); err != nil {
		return fmt.Errorf("x11: create region: %w", err)
	}
	*region = r
	id, err := damage.NewDamageId(d.conn)
	if err != nil {
		return err
	}
	// NonEmpty: one event when the damage goes from empty to not empty.
	// The rectangles are fetched per capture, so a flood of drawing costs
	// one event per cycle, not one per request.
	if err := damage.CreateChecked(d.conn, id, xproto.Drawable(d.root), damage.ReportLevelNonEmpty).Check(); err != nil {
		return fmt.Errorf("x11: create damage: %w", err)
	}
	*dmg = id
	return nil
}

func (c *Capturer) unselect(dmg damage.Damage, region xfixes.Region) {
	_ = guard(func() error {
		d := c.d
		xproto.ChangeWindowAttributes(d.conn, d.root, xproto.CwEventMask, []uint32{0})
		if d.Has(ExtRandR) {
			randr.SelectInput(d.conn, d.root, 0)
		}
		if d.Has(ExtXFixes) {
			xfixes.SelectCursorInput(d.conn, d.root, 0)
		}
		if dmg != 0 {
			damage.Destroy(c.d.conn, dmg)
		}
		if region != 0 {
			xfixes.DestroyRegion(c.d.conn, region)
		}
		return c.d.sync()
	})
}

// resize (re)reads the screen size, sizes the buffers and fb, and captures
// everything.
func (c *Capturer) resize() error {
	var w, h int
	err := guard(func() error {
		g, err := xproto.GetGeometry(c.d.conn, xproto.Drawable(c.d.root)).Reply()
		if err != nil {
			return fmt.Errorf("x11: root geometry: %w", err)
		}
		w, h = int(g.Width), int(g.Height)
		return nil
	})
	if err != nil {
		return err
	}
	if w == c.w && h == c.h {
		return nil
	}
	c.freeBuffers()
	c.w, c.h = w, h
	if c.d.Has(ExtShm) && !c.NoShm {
		seg, err := newSegment(c.d, c.segmentSize())
		if err != nil {
			c.d.log.Warn("x11: MIT-SHM unusable, reading over the socket", "err", err)
		} else {
			c.seg = seg
		}
	}
	full := image.Rect(0, 0, w, h)
	var readErr error
	if c.poll {
		c.prev = rfb.NewImage(w, h)
		if _, err := c.readInto(c.prev, c.all()); err != nil {
			return err
		}
		c.fb.Resize(w, h, func(dst *rfb.Image) { dst.DrawImage(image.Point{}, c.prev, full) })
	} else {
		c.fb.Resize(w, h, func(dst *rfb.Image) { _, readErr = c.readInto(dst, c.all()) })
	}
	if readErr != nil {
		return readErr
	}
	c.frames.Add(1)
	c.d.log.Info("x11: capturing", "width", w, "height", h, "bpp", c.format.bpp, "shm", c.seg != nil,
		"segment", c.segmentSize())
	return nil
}

// maxSegment bounds the MIT-SHM segment with DAMAGE: larger captures are
// read in strips of rows, one after the other into the same segment, so
// the capturer does not hold a second copy of the screen (8 MiB at
// 1920x1080) beside the framebuffer. The polling fallback compares whole
// captures and keeps a whole screen.
const maxSegment = 1 << 20

// segmentSize is the size of the segment for the current screen: the
// whole screen while polling, else at most maxSegment, and at least one
// row.
func (c *Capturer) segmentSize() int {
	size := c.format.stride(c.w) * c.h
	if c.poll {
		return size
	}
	return min(size, max(maxSegment, c.format.stride(c.w)))
}

func (c *Capturer) freeBuffers() {
	if c.seg != nil {
		c.seg.close()
		c.seg = nil
	}
	c.conv, c.prev = nil, nil
	c.w, c.h = 0, 0
}

// all is the whole screen as one rectangle.
func (c *Capturer) all() []image.Rectangle { return []image.Rectangle{image.Rect(0, 0, c.w, c.h)} }

// captureDamage takes the damage accumulated on the server and captures
// it, or the whole screen if full.
func (c *Capturer) captureDamage(dmg damage.Damage, region xfixes.Region, full bool) error {
	var rects []image.Rectangle
	err := guard(func() error {
		damage.Subtract(c.d.conn, dmg, xfixes.Region(0), region)
		r, err := xfixes.FetchRegion(c.d.conn, region).Reply()
		if err != nil {
			return fmt.Errorf("x11: fetch damage: %w", err)
		}
		for _, x := range r.Rectangles {
			rects = append(rects, image.Rect(int(x.X), int(x.Y), int(x.X)+int(x.Width), int(x.Y)+int(x.Height)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.drainWindowEvents() // the moves whose damage was just taken
	c.queryMoved()
	rects = mergeRects(rects, image.Rect(0, 0, c.w, c.h), maxDamageRects)
	if full {
		rects = c.all()
	}
	if len(rects) == 0 {
		return nil
	}
	return c.captureRects(rects)
}

// bandAfterMove is how long after a capture with moves captures are not
// read in bands: while a window is dragged, the captures between moves
// (its redraws) stay as before, in one read without grabbing the server.
const bandAfterMove = 250 * time.Millisecond

// captureRects reads rects (inside the screen, not overlapping) and puts
// them into fb, in one Update. The reads happen inside the Update (with the
// framebuffer locked), straight from the segment or the socket into the
// framebuffer, so no copy of a large capture waits in between. Away from
// moves they are read in bands of rows as tall as a strip (UpdateBands),
// so that a viewer's connection keeps the pixels its client had of a band
// only while they may have scrolled, rather than of a whole new photo.
func (c *Capturer) captureRects(rects []image.Rectangle) error {
	moves := c.takeMoves(rects)
	if len(moves) > 0 {
		c.movedAt = time.Now()
	}
	var err error
	if len(moves) > 0 || time.Since(c.movedAt) < bandAfterMove {
		c.fb.UpdateIn(rects, moves, func(dst *rfb.Image) []image.Rectangle {
			var done []image.Rectangle
			done, err = c.readInto(dst, rects)
			return done
		})
	} else {
		// A band no taller than the rectangles' strips (strips) is one
		// read of the segment.
		var box image.Rectangle
		for _, r := range rects {
			box = box.Union(r)
		}
		rows := max(1, c.segmentSize()/c.format.stride(box.Dx()))
		grab := false
		defer func() {
			if grab {
				_ = guard(func() error { xproto.UngrabServer(c.d.conn); return nil })
			}
		}()
		c.fb.UpdateBands(rects, nil, rows, func(dst *rfb.Image, band image.Rectangle) []image.Rectangle {
			if err != nil {
				return nil
			}
			if !grab && !c.grabbed && band.Max.Y < box.Max.Y {
				// More bands follow: the server is grabbed until the
				// last is read, so that no client draws between the
				// reads (a scrolling terminal would be torn, its scroll
				// found for a part only).
				grab = true
				_ = guard(func() error { xproto.GrabServer(c.d.conn); return nil })
			}
			var in, done []image.Rectangle
			for _, r := range rects {
				if p := r.Intersect(band); !p.Empty() {
					in = append(in, p)
				}
			}
			done, err = c.readInto(dst, in)
			return done
		})
	}
	c.frames.Add(1)
	return err
}

// readInto reads rects (inside the screen) into dst at their places and
// returns the parts it read (all of rects unless it fails). Each rectangle
// is read in strips of rows that fit the segment; with MIT-SHM the reads
// of the strips that fit together are pipelined at consecutive offsets.
func (c *Capturer) readInto(dst *rfb.Image, rects []image.Rectangle) ([]image.Rectangle, error) {
	strips := c.strips(rects)
	var done []image.Rectangle
	if c.seg == nil {
		for _, r := range strips {
			img, err := c.socketGetImage(r)
			if err != nil {
				return done, err
			}
			dst.DrawImage(r.Min, img, img.Bounds())
			done = append(done, r)
		}
		return done, nil
	}
	for len(strips) > 0 {
		n := c.fitSegment(strips)
		batch := strips[:n]
		strips = strips[n:]
		cookies := make([]shm.GetImageCookie, len(batch))
		off := 0
		for i, r := range batch {
			cookies[i] = c.shmGetImage(r, off)
			off += c.segBytes(r)
		}
		off = 0
		var first error
		for i, r := range batch {
			img, err := c.shmWait(cookies[i], r, off) // every reply is taken
			off += c.segBytes(r)
			if err != nil || first != nil {
				first = cmp.Or(first, err)
				continue
			}
			dst.DrawImage(r.Min, img, img.Bounds())
			done = append(done, r)
		}
		if first != nil {
			return done, first
		}
	}
	return done, nil
}

// strips cuts rects into pieces of rows that fit the segment alone (over
// the socket, pieces of at most maxSegment bytes, so that no reply holds a
// whole screen either).
func (c *Capturer) strips(rects []image.Rectangle) []image.Rectangle {
	room := maxSegment
	if c.seg != nil {
		room = len(c.seg.data)
	}
	out := make([]image.Rectangle, 0, len(rects))
	for _, r := range rects {
		rows := max(1, room/c.format.stride(r.Dx()))
		for y := r.Min.Y; y < r.Max.Y; y += rows {
			out = append(out, image.Rect(r.Min.X, y, r.Max.X, min(y+rows, r.Max.Y)))
		}
	}
	return out
}

// fitSegment returns how many of rects fit in the segment together (at
// least one: strips fit alone).
func (c *Capturer) fitSegment(rects []image.Rectangle) int {
	off := 0
	for i, r := range rects {
		off += c.segBytes(r)
		if off > len(c.seg.data) && i > 0 {
			return i
		}
	}
	return len(rects)
}

// segBytes is the room r takes in the segment, kept 4-byte aligned.
func (c *Capturer) segBytes(r image.Rectangle) int {
	return (c.format.stride(r.Dx())*r.Dy() + 3) &^ 3
}

// captureTiles is the fallback: capture all, send the tiles that changed
// (all of them if all), and report whether any did.
func (c *Capturer) captureTiles(all bool) (bool, error) {
	full := image.Rect(0, 0, c.w, c.h)
	img, err := c.grab(full, 0)
	if err != nil {
		return false, err
	}
	changed := diffTiles(img.Pix, c.prev.Pix, img.Stride, c.w, c.h)
	if all {
		changed = c.all()
	}
	if len(changed) == 0 {
		return false, nil
	}
	for _, r := range changed {
		c.prev.DrawImage(r.Min, img, r)
	}
	prev := c.prev
	c.fb.UpdateIn(changed, c.takeMoves(changed), func(dst *rfb.Image) []image.Rectangle {
		for _, r := range changed {
			dst.DrawImage(r.Min, prev, r)
		}
		return changed
	})
	c.frames.Add(1)
	return true, nil
}

// grab reads one rectangle and returns it as a native image that stays
// valid until the next read.
func (c *Capturer) grab(r image.Rectangle, off int) (*rfb.Image, error) {
	if c.seg != nil {
		return c.shmWait(c.shmGetImage(r, off), r, off)
	}
	return c.socketGetImage(r)
}

func (c *Capturer) shmGetImage(r image.Rectangle, off int) (cookie shm.GetImageCookie) {
	_ = guard(func() error {
		cookie = shm.GetImage(c.d.conn, xproto.Drawable(c.d.root), int16(r.Min.X), int16(r.Min.Y),
			uint16(r.Dx()), uint16(r.Dy()), 0xffffffff, xproto.ImageFormatZPixmap, c.seg.seg, uint32(off))
		return nil
	})
	return cookie
}

func (c *Capturer) shmWait(cookie shm.GetImageCookie, r image.Rectangle, off int) (*rfb.Image, error) {
	err := guard(func() error {
		if cookie.Cookie == nil {
			return errors.New("x11: MIT-SHM GetImage not sent")
		}
		_, err := cookie.Reply()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("x11: MIT-SHM GetImage %v: %w", r, err)
	}
	stride := c.format.stride(r.Dx())
	return c.native(c.seg.data[off:off+stride*r.Dy()], stride, r), nil
}

func (c *Capturer) socketGetImage(r image.Rectangle) (*rfb.Image, error) {
	var data []byte
	err := guard(func() error {
		rep, err := xproto.GetImage(c.d.conn, xproto.ImageFormatZPixmap, xproto.Drawable(c.d.root),
			int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), 0xffffffff).Reply()
		if err != nil {
			return err
		}
		data = rep.Data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("x11: GetImage %v: %w", r, err)
	}
	stride := c.format.stride(r.Dx())
	if len(data) < stride*r.Dy() {
		return nil, fmt.Errorf("x11: GetImage %v: %d bytes, want %d", r, len(data), stride*r.Dy())
	}
	return c.native(data, stride, r), nil
}

// native views or converts server pixels as an rfb.Image of r's size.
func (c *Capturer) native(data []byte, stride int, r image.Rectangle) *rfb.Image {
	if c.format.native() {
		return &rfb.Image{Pix: data, Stride: stride, W: r.Dx(), H: r.Dy()}
	}
	if n := r.Dx() * 4 * r.Dy(); c.conv == nil || len(c.conv.Pix) < n {
		c.conv = &rfb.Image{Pix: make([]byte, n)} // the scratch grows to the largest strip
	}
	img := &rfb.Image{Pix: c.conv.Pix, Stride: r.Dx() * 4, W: r.Dx(), H: r.Dy()}
	c.format.convertRows(img.Pix, img.Stride, data, stride, r.Dx(), r.Dy())
	return img
}

// updateCursor fetches the cursor image unless fb already has serial.
func (c *Capturer) updateCursor(serial uint32) {
	if !c.d.Has(ExtXFixes) || (serial != 0 && serial == c.cursor) {
		return
	}
	var rep *xfixes.GetCursorImageReply
	err := guard(func() error {
		var err error
		rep, err = xfixes.GetCursorImage(c.d.conn).Reply()
		return err
	})
	if err != nil {
		c.d.log.Debug("x11: cursor image", "err", err, "serial", serial)
		return
	}
	c.cursor = rep.CursorSerial
	img, hot := cursorImage(rep.CursorImage, int(rep.Width), int(rep.Height), int(rep.Xhot), int(rep.Yhot))
	c.fb.SetCursor(img, hot)
	if c.onCursor != nil {
		c.onCursor(img, hot)
	}
}
