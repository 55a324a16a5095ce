package rfb

import (
	"image"
	"math"
	"time"
)

// Automatic lossless refresh.
//
// A client that allows JPEG gets photo-like areas lossy. Each connection
// remembers which areas its client last got lossy (lossy). Once such an
// area has not changed for a while, it is sent again losslessly, when the
// client has asked for an update and nothing else is waiting: a still
// screen ends up exact at any quality level, with no viewer setting.
//
// Timing, as TigerVNC does it: every losslessRefreshDelay while lossy
// areas remain, the lossy areas that were not sent again since the last
// tick (recent) become due. So an area is refreshed between one and two
// delays after it last changed.
//
// The delay is 150 ms (an area is refreshed 150-300 ms after its last
// change). Shorter would refresh the frames of a moving picture: video
// plays at 24-60 frames a second and a dragged window or a panned photo
// changes every 16-50 ms, and the agent batches damage for 5 ms, so
// anything still for 150 ms has stopped moving; wheel scrolling comes in
// notches 50-150 ms apart, and a refresh between notches would be
// thrown away by the next one. Longer would keep the soft picture on
// screen after it stopped, for the moment a supporter starts reading it
// (a glance takes 200-300 ms), and TurboVNC's own viewer presets range
// from 0.1 s upwards. Text and UI are never lossy (enc_tight_plan.go),
// so typing elsewhere does not delay the refresh of a picture.
//
// The delay adapts to the screen: a refresh that the next lossy update
// of the same area throws away (a slide show, a video paused now and
// then, photos changing every half second) was wasted bytes, so the
// connection's delay grows, up to maxRefreshDelay: to just over the time
// the picture stayed before it changed (from the lossy update before the
// refresh to the one after it), at least twice the delay; a refresh that
// stays on screen for maxRefreshDelay halves it again, down to 150 ms. A
// picture that changes every 500 ms is then sent as JPEG only while it
// changes, after one wasted refresh, and losslessly once it stops.
//
// A refresh update covers at most what the client reads in
// refreshWindow, estimated from the writes so far, so that a change made
// meanwhile is not stuck behind a long lossless update on a slow link.
const (
	losslessRefreshDelay = 150 * time.Millisecond
	maxRefreshDelay      = 1200 * time.Millisecond
	refreshWindow        = 100 * time.Millisecond
	refreshMinPixels     = 64 * 1024
	refreshMaxPixels     = 4 << 20
	// refreshBytesPerPixel is a pessimistic guess of a lossless photo's
	// size.
	refreshBytesPerPixel = 2
)

// sent records an update's effect on the lossy areas: the copy moves
// lossy pixels along, every rectangle sent replaces what the client had
// there, and the rectangles sent lossy become lossy.
func (c *serverConn) sent(cp *pendingCopy, dirty, lossy []image.Rectangle) {
	if cp != nil {
		var moved []image.Rectangle
		src := cp.dst.Sub(cp.delta)
		for _, r := range c.lossy.rects {
			if i := r.Intersect(src); !i.Empty() {
				moved = append(moved, i.Add(cp.delta))
			}
		}
		c.lossy.subtract(cp.dst)
		c.due.subtract(cp.dst)
		for _, r := range moved {
			c.lossy.add(r)
		}
		if len(moved) > 0 {
			c.recent.add(cp.dst)
		}
	}
	for _, r := range dirty {
		if !c.lossy.empty() {
			c.lossy.subtract(r)
			c.due.subtract(r)
		}
	}
	now := time.Now()
	for _, r := range lossy {
		c.lossy.add(r)
		c.recent.add(r)
		if c.refreshed.overlaps(r) {
			// The last refresh was thrown away: wait longer next time,
			// longer than the picture stayed.
			d := 2 * c.delay()
			if !c.refreshedSince.IsZero() {
				stayed := now.Sub(c.refreshedSince)
				d = max(d, stayed+stayed/8)
			}
			c.refreshDelay = min(d, maxRefreshDelay)
			c.refreshed.clear()
		}
	}
	if len(lossy) > 0 {
		c.lossyAt = now
	}
	if !c.lossy.empty() && c.refreshTick == nil {
		c.armRefresh()
	}
}

// delay is the connection's current refresh delay.
func (c *serverConn) delay() time.Duration {
	if c.refreshDelay == 0 {
		return losslessRefreshDelay
	}
	return c.refreshDelay
}

func (c *serverConn) armRefresh() {
	if c.refreshTimer == nil {
		c.refreshTimer = time.NewTimer(c.delay())
	} else {
		c.refreshTimer.Reset(c.delay())
	}
	c.refreshTick = c.refreshTimer.C
}

func (c *serverConn) stopRefreshTimer() {
	if c.refreshTimer != nil {
		c.refreshTimer.Stop()
	}
}

// refreshTicked makes the lossy areas that were not sent since the last
// tick due, and ticks again while other lossy areas wait.
func (c *serverConn) refreshTicked() {
	c.refreshTick = nil
	still := c.lossy.clone()
	for _, r := range c.recent.rects {
		still.subtract(r)
	}
	for _, r := range still.rects {
		c.due.add(r)
	}
	c.recent.clear()
	waiting := c.lossy.clone()
	for _, r := range c.due.rects {
		waiting.subtract(r)
	}
	if !waiting.empty() {
		c.armRefresh()
	}
}

// startRefresh marks due areas inside area as changed, up to the refresh
// budget, and makes the next update lossless. It reports whether there
// was anything to refresh.
func (c *serverConn) startRefresh(area image.Rectangle) bool {
	if c.due.empty() {
		return false
	}
	budget := refreshMinPixels
	if rate := c.readRate(); rate > 0 {
		budget = int(min(max(rate*refreshWindow.Seconds()/refreshBytesPerPixel, refreshMinPixels), refreshMaxPixels))
	}
	var take []image.Rectangle
	for _, r := range c.due.rects {
		r = r.Intersect(area)
		if r.Empty() {
			continue
		}
		if a := r.Dx() * r.Dy(); a > budget {
			// A square-ish piece from its corner: Tight's gradient
			// filter costs more on a piece's first row and column.
			side := max(16, int(math.Sqrt(float64(budget))))
			w := min(r.Dx(), max(side, budget/r.Dy()))
			r.Max.X = r.Min.X + w
			r.Max.Y = r.Min.Y + min(r.Dy(), max(1, budget/w))
		}
		take = append(take, r)
		budget -= r.Dx() * r.Dy()
		if budget <= 0 {
			break
		}
	}
	if len(take) == 0 {
		return false
	}
	if !c.refreshed.empty() && time.Since(c.refreshedAt) >= maxRefreshDelay {
		// The last refresh stayed: the screen is calmer now.
		c.refreshDelay = max(c.delay()/2, losslessRefreshDelay)
		c.refreshed.clear()
	}
	for _, r := range take {
		c.due.subtract(r)
		c.s.fb.refresh(c.sub, r)
		c.refreshed.add(r)
	}
	c.refreshedAt = time.Now()
	c.refreshedSince = c.lossyAt
	c.refreshing = true
	return true
}

// forgetLossy drops the lossy areas: after a resize the client has a new
// picture.
func (c *serverConn) forgetLossy() {
	c.lossy.clear()
	c.due.clear()
	c.recent.clear()
	c.refreshed.clear()
}

// readRate is how fast the client reads, in bytes a second, 0 if unknown:
// measured by the pacing fences when the client answers them, else from
// the writes.
func (c *serverConn) readRate() float64 {
	if c.pacing() && c.pace.rate > 0 {
		return c.pace.rate
	}
	return c.throughput
}

// measure updates the estimate of how fast the client reads, from writes
// long enough to have filled the socket's buffers.
func (c *serverConn) measure(w writeResult) {
	if w.n < 64<<10 || w.d <= 0 {
		return
	}
	bps := float64(w.n) / w.d.Seconds()
	if c.throughput == 0 {
		c.throughput = bps
		return
	}
	c.throughput = 0.7*c.throughput + 0.3*bps
}
