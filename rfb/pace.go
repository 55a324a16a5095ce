package rfb

import (
	"encoding/binary"
	"image"
	"time"
)

// Pacing for the link.
//
// A client that reads updates slower than the screen changes (a slow link)
// must not get a backlog: with continuous updates the server would keep
// queueing updates in the socket, and the supporter would watch the screen
// of seconds ago. Clients that ask for each update pace themselves: one
// request, one update. For a client with continuous updates and fences
// (TigerVNC), every update is followed by a fence request (BlockBefore:
// answered after the update was processed), and a new update is only made
// while the bytes sent but not yet answered stay under paceWindow. Changes
// meanwhile accumulate in the framebuffer's damage and go out together as
// the newest picture once the client has caught up, so the queue holds
// about one update and one round trip of data, whatever the link.
//
// A client that never answers is not stalled: after paceTimeout the next
// update goes anyway.
//
// The link's latency is measured by a lone fence sent just before an
// update whenever nothing is in flight: the client answers it as soon as
// it arrives, before it reads the update, so its round trip holds no
// transfer time. The latency is the least of the last paceLatencySamples
// such round trips (and of small updates'), so one slow answer (a client
// busy at the start) does not stay for good: with a latency measured too
// long, the throughput below came out twice the link's on the slow link,
// and so did the lossless refresh's slices.
//
// A burst: a picture that the application draws in strips (an image
// viewer, a browser painting a page) reaches the framebuffer in parts a
// few milliseconds apart, and the first part is already on its way when
// the rest arrives. Waiting for the first part's answer would hold the
// rest back by the first part's transfer and a round trip, although
// nothing in flight shows that area: sending it at once queues no stale
// picture. So while the window is full, a change goes at once when it
// touches none of the areas of the updates in flight and the oldest of
// them left less than a latency ago (paceBurst). A change over an area in
// flight (a dragged window, a scrolled terminal, a ticking clock) waits
// as before, and a client that stopped reading gets at most one
// latency's worth of changes. The lossless refresh never holds a change
// back: its slices in flight count for neither the areas nor the age (a
// slice is about refreshWindow of the link, refresh.go), and a refresh
// itself only starts when nothing is in flight.
//
// The answers also tell how long an update takes to arrive. On a slow link
// a picture at the quality the client asked for can take half a second
// (a 1280x800 photo at JPEG quality 92 is about 600 KB: 0.5 s at 10 Mbit/s),
// so while updates arrive more than paceSlow after the fastest round trip
// of a small update (the link's own latency), JPEG goes one quality level
// lower per update, down to
// paceMinQuality; once paceRaise updates in a row arrived within paceFast it
// goes back up one level, never above the client's level. The lossless refresh makes the still screen
// exact whatever the quality was.
const (
	paceSlow       = 60 * time.Millisecond
	paceFast       = 30 * time.Millisecond
	paceMinQuality = 3        // JPEG 42 at 4:2:2 in TigerVNC's table
	paceSmall      = 8 << 10  // an update this small measures the latency
	paceRateMin    = 64 << 10 // an update this large measures the throughput
	paceRaise      = 4        // fast updates in a row before the quality goes up

	paceWindow  = 32 << 10
	paceTimeout = 2 * time.Second
	maxPaceAcks = 8 // fences outstanding at most

	paceLatencySamples = 8 // round trips the latency is the least of
)

// paceMagic starts the payload of the server's pacing fences.
var paceMagic = [4]byte{'l', 'b', 'p', 'c'}

// pacer is a connection's record of its fences in flight.
type pacer struct {
	seq     uint32
	sent    int64 // bytes of updates sent so far
	acked   int64 // sent when the last answered fence went out
	waiting []paceFence
	timer   *time.Timer
	tick    <-chan time.Time
	rtt     time.Duration // last round trip measured
	minRTT  time.Duration // the link's latency: the least of lat
	lat     [paceLatencySamples]time.Duration
	nlat    int // samples taken so far
	drop    int // JPEG quality levels below the client's
	fast    int // fast updates in a row
	// rate is the link's throughput in bytes a second measured from the
	// answers, 0 until known.
	rate float64
}

// quality is the JPEG quality level to use for a client that asked for
// level q (-1: none).
func (p *pacer) quality(q int) int {
	if q < 0 || p.drop == 0 {
		return q
	}
	return max(q-p.drop, min(q, paceMinQuality))
}

// adapt follows the link after an update of size bytes took rtt.
//
// A large update also measures the link's throughput: at most paceWindow
// bytes were in flight when it went out, so it took its round trip minus
// the link's latency (minRTT, when known) to pass the bottleneck. The writes
// themselves cannot tell: the kernel's socket buffers take megabytes at
// once (on loopback to an emulated link they measured 2 GB/s for a link
// of 1.25 MB/s).
func (p *pacer) adapt(rtt time.Duration, size int64) {
	if size <= paceSmall {
		p.latency(rtt)
	}
	if size == 0 {
		// A lone fence: latency only. It always comes back fast, so
		// it must not count as a fast update.
		return
	}
	p.rtt = rtt
	if size >= paceRateMin {
		// Before a small update measured the latency, the whole round
		// trip counts: an underestimate, which only makes refresh
		// slices smaller.
		bps := float64(size) / max(rtt-p.minRTT, time.Millisecond).Seconds()
		if p.rate == 0 {
			p.rate = bps
		} else {
			p.rate = 0.7*p.rate + 0.3*bps
		}
	}
	switch {
	case rtt > p.minRTT+paceSlow:
		p.drop = min(p.drop+1, 9)
		p.fast = 0
	case rtt < p.minRTT+paceFast:
		// Up again only after paceRaise fast updates in a row: small
		// updates (a part of a picture, a cursor) arrive fast on a link
		// that the next whole picture fills again.
		if p.fast++; p.fast >= paceRaise && p.drop > 0 {
			p.drop--
			p.fast = 0
		}
	default:
		p.fast = 0
	}
}

// latency takes a round trip that holds (almost) no transfer time.
func (p *pacer) latency(rtt time.Duration) {
	p.lat[p.nlat%paceLatencySamples] = rtt
	p.nlat++
	p.minRTT = rtt
	for _, d := range p.lat[:min(p.nlat, paceLatencySamples)] {
		p.minRTT = min(p.minRTT, d)
	}
}

type paceFence struct {
	seq  uint32
	sent int64 // p.sent after the update it follows
	size int64 // the update's size, 0 for a lone fence
	at   time.Time
	// What the update changed on the client's screen: nil for none or
	// unknown, with refresh set for a lossless refresh.
	rects   []image.Rectangle
	refresh bool
}

// pacing reports whether the connection paces by fences.
func (c *serverConn) pacing() bool { return c.cu && c.encs.fence }

// paceAllows reports whether a new update may be made now; if not, it arms
// the timer that ends the wait for a client that does not answer.
func (c *serverConn) paceAllows() bool {
	p := &c.pace
	if !c.pacing() || len(p.waiting) == 0 {
		return true
	}
	oldest := p.waiting[0]
	if wait := paceTimeout - time.Since(oldest.at); wait <= 0 {
		p.waiting = p.waiting[:0]
		p.acked = p.sent
		return true
	} else if p.tick == nil {
		if p.timer == nil {
			p.timer = time.NewTimer(wait)
		} else {
			p.timer.Reset(wait)
		}
		p.tick = p.timer.C
	}
	return len(p.waiting) < maxPaceAcks && p.sent-p.acked < paceWindow
}

// paceBurst reports whether a change may go although paceAllows says
// no: the rest of a picture that is still arriving (see above).
func (c *serverConn) paceBurst() bool {
	p := &c.pace
	if !c.pacing() || len(p.waiting) == 0 || len(p.waiting) >= maxPaceAcks || p.minRTT == 0 {
		return false
	}
	var oldest time.Time
	var busy []image.Rectangle
	for _, f := range p.waiting {
		if f.size == 0 || f.refresh {
			continue
		}
		if f.rects == nil {
			return false // an update whose area is not known
		}
		if oldest.IsZero() {
			oldest = f.at
		}
		busy = append(busy, f.rects...)
	}
	if !oldest.IsZero() && time.Since(oldest) > p.minRTT {
		return false
	}
	return c.sub.pendingApart(c.area(), busy)
}

// pendingApart reports whether changes wait inside area, none of them
// over busy, and no move, resize or cursor change waits.
func (s *subscriber) pendingApart(area image.Rectangle, busy []image.Rectangle) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resized || s.cursorChanged || s.copy != nil {
		return false
	}
	found := false
	for _, r := range s.dirty.rects {
		if !r.Overlaps(area) {
			continue
		}
		for _, b := range busy {
			if r.Overlaps(b) {
				return false
			}
		}
		found = true
	}
	return found
}

// appendPaceProbe appends a lone fence that measures the latency, when
// nothing is in flight; it returns out unchanged otherwise.
func (c *serverConn) appendPaceProbe(out []byte) []byte {
	if !c.pacing() || len(c.pace.waiting) > 0 {
		return out
	}
	return c.appendPaceFence(out, 0, nil, false)
}

// dropPaceProbe takes back a probe appended at out[n:] when no update
// followed it.
func (c *serverConn) dropPaceProbe(out []byte, n int) []byte {
	p := &c.pace
	if len(out) > n && len(p.waiting) > 0 && p.waiting[len(p.waiting)-1].size == 0 {
		p.waiting = p.waiting[:len(p.waiting)-1]
		if len(p.waiting) == 0 {
			c.stopPaceTimer()
		}
		return out[:n]
	}
	return out
}

// appendPaceFence follows an update of n bytes that changed rects (a
// lossless refresh if refresh) with a fence request.
func (c *serverConn) appendPaceFence(out []byte, n int, rects []image.Rectangle, refresh bool) []byte {
	p := &c.pace
	p.sent += int64(n)
	p.seq++
	p.waiting = append(p.waiting, paceFence{seq: p.seq, sent: p.sent, size: int64(n), at: time.Now(),
		rects: rects, refresh: refresh})
	var payload [8]byte
	copy(payload[:], paceMagic[:])
	binary.BigEndian.PutUint32(payload[4:], p.seq)
	return appendFence(out, byte(msgServerFence), FenceRequest|FenceBlockBefore, payload[:])
}

// paceAnswer takes a client's fence answer; it reports whether it was one
// of the pacing fences.
func (c *serverConn) paceAnswer(m *ClientFence) bool {
	if len(m.Payload) != 8 || [4]byte(m.Payload[:4]) != paceMagic {
		return false
	}
	p := &c.pace
	seq := binary.BigEndian.Uint32(m.Payload[4:])
	for i, f := range p.waiting {
		if f.seq == seq {
			p.adapt(time.Since(f.at), f.size)
			p.acked = f.sent
			p.waiting = append(p.waiting[:0], p.waiting[i+1:]...)
			break
		}
	}
	if len(p.waiting) == 0 {
		c.stopPaceTimer()
	}
	return true
}

func (c *serverConn) stopPaceTimer() {
	p := &c.pace
	if p.timer != nil {
		p.timer.Stop()
	}
	p.tick = nil
}
