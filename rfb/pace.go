package rfb

import (
	"encoding/binary"
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
	minRTT  time.Duration // the fastest round trip of a small update
	drop    int           // JPEG quality levels below the client's
	fast    int           // fast updates in a row
	// rate is the link's throughput in bytes a second measured from the
	// answers, 0 until known.
	rate float64
	// probed: the fence that measures the latency went out.
	probed bool
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
	p.rtt = rtt
	if size <= paceSmall && (p.minRTT == 0 || rtt < p.minRTT) {
		p.minRTT = rtt
	}
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

type paceFence struct {
	seq  uint32
	sent int64 // p.sent after the update it follows
	size int64 // the update's size
	at   time.Time
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

// appendPaceFence follows an update of n bytes with a fence request.
func (c *serverConn) appendPaceFence(out []byte, n int) []byte {
	p := &c.pace
	p.sent += int64(n)
	p.seq++
	p.waiting = append(p.waiting, paceFence{seq: p.seq, sent: p.sent, size: int64(n), at: time.Now()})
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
