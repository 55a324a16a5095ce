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
const (
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
}

type paceFence struct {
	seq  uint32
	sent int64 // p.sent after the update it follows
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
	p.waiting = append(p.waiting, paceFence{seq: p.seq, sent: p.sent, at: time.Now()})
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
			p.rtt = time.Since(f.at)
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
