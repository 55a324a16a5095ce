package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Bucket is a token bucket: a bandwidth cap in bytes per second with one
// second of burst. A nil *Bucket has no cap.
type Bucket struct {
	rate float64
	mu   sync.Mutex
	have float64
	last time.Time
}

// NewBucket returns a cap of rate bytes a second, or nil for rate 0.
func NewBucket(rate int64) *Bucket {
	if rate <= 0 {
		return nil
	}
	return &Bucket{rate: float64(rate), have: float64(rate), last: time.Now()}
}

// wait takes n bytes' worth of tokens, sleeping while there are too few.
func (b *Bucket) wait(ctx context.Context, n int) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	now := time.Now()
	b.have = min(b.have+now.Sub(b.last).Seconds()*b.rate, b.rate)
	b.last = now
	b.have -= float64(n)
	var d time.Duration
	if b.have < 0 {
		d = time.Duration(-b.have / b.rate * float64(time.Second))
	}
	b.mu.Unlock()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// relayBuf is the copy buffer per direction while bytes flow: large
// enough for a frame update's worth of TLS records (four full records,
// which sockConn gathers and writes in one system call each way). A direction that has
// just gone quiet holds only a small buffer, giving the large one back to
// a pool after bufRelease without a byte, and after parkAfter it parks:
// its goroutine ends and the parker starts a new one when the next byte
// arrives. An idle session therefore holds no goroutine and no buffer.
const (
	relayBuf   = 64 << 10
	smallBuf   = 2 << 10
	bufRelease = 250 * time.Millisecond
	parkAfter  = 2 * time.Second
)

var (
	relayBufs = sync.Pool{New: func() any { b := make([]byte, relayBuf); return &b }}
	smallBufs = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
)

// relay copies bytes both ways between a viewer and an agent until either
// side closes, the session sits idle for idle, or end is called. Each
// copy holds at most one buffer, so a slow reader stalls its writer
// (back-pressure) and nothing queues without bound. A side that closes
// its sending half is passed on as a half-close, and then both
// connections are closed: in RFB neither side has anything to say alone.
type relay struct {
	viewer, agent     net.Conn
	idle              time.Duration
	stall             time.Duration // a write that makes no headway this long ends the session (0: idle)
	caps              []*Bucket
	toViewer, toAgent []*atomic.Int64
	park              *parker
	parkAfter         time.Duration // quiet before a direction parks; 0: parkAfter
	onEnd             func(reason string)
	last              atomic.Int64 // UnixNano of the last byte either way
	idleTimer         *time.Timer
	stopCtx           func() bool
	mu                sync.Mutex
	ended             bool
	reason            string          // why it ended, for the audit: the first end's
	running           int             // copy goroutines alive
	unpark            [2]func() bool  // a parked direction's withdrawal
	ctx               context.Context // for the caps' waits
	cancel            context.CancelFunc
}

// startRelay starts r's copies; r.onEnd runs once, after the session has
// ended and no copy goroutine is left. ctx ending ends the session.
func startRelay(ctx context.Context, r *relay) {
	r.ctx, r.cancel = ctx, func() {}
	if slices.ContainsFunc(r.caps, func(b *Bucket) bool { return b != nil }) {
		// A cap's wait ends with the session. Without caps the session
		// keeps no context of its own: a little less to hold while idle.
		r.ctx, r.cancel = context.WithCancel(ctx)
	}
	r.last.Store(time.Now().UnixNano())
	r.mu.Lock()
	r.running = 3 // the two copies and the session itself (dropped by end)
	r.mu.Unlock()
	r.idleTimer = time.AfterFunc(r.idle, r.checkIdle)
	r.stopCtx = context.AfterFunc(ctx, func() { r.endWith("the broker stopped") })
	go r.copy(toViewerDir)
	go r.copy(toAgentDir)
}

const (
	toViewerDir = 0 // agent → viewer
	toAgentDir  = 1 // viewer → agent
)

// checkIdle ends the session once neither side has sent a byte for idle.
func (r *relay) checkIdle() {
	quiet := time.Since(time.Unix(0, r.last.Load()))
	if quiet >= r.idle {
		r.endWith(fmt.Sprintf("no bytes either way for %v", r.idle))
		return
	}
	r.idleTimer.Reset(r.idle - quiet)
}

// endWith ends the session: it withdraws parked directions and closes
// both connections, which ends the copies still running. The first
// reason given is the one the audit records.
func (r *relay) endWith(reason string) {
	r.mu.Lock()
	if r.reason == "" {
		r.reason = reason
	}
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.ended = true
	refs := 1 // the session's own
	for d, u := range r.unpark {
		// A withdrawn direction's callback will not run, so its
		// reference is dropped here; one that fired already drops its
		// own in resume.
		if u != nil && u() {
			refs++
		}
		r.unpark[d] = nil
	}
	r.mu.Unlock()
	r.cancel()
	r.idleTimer.Stop()
	hardClose(r.viewer)
	hardClose(r.agent)
	for range refs {
		r.release()
	}
}

// release drops one reference: a copy's (running or parked) or, from
// end, the session's own. The last one runs onEnd.
func (r *relay) release() {
	r.mu.Lock()
	r.running--
	last := r.ended && r.running == 0
	reason := r.reason
	r.mu.Unlock()
	if last {
		r.stopCtx()
		r.onEnd(reason)
	}
}

// copy runs one direction until it ends (and with it the session) or
// parks.
func (r *relay) copy(d int) {
	dst, src, counts := r.viewer, r.agent, r.toViewer
	from, to := "the customer's agent", "the viewer"
	if d == toAgentDir {
		dst, src, counts = r.agent, r.viewer, r.toAgent
		from, to = to, from
	}
	for {
		if quiet, why := r.pipe(dst, src, counts); !quiet {
			switch why {
			case pipeEOF:
				r.endWith(from + " closed the session")
			case pipeReadFailed:
				r.endWith(from + "'s connection failed")
			default:
				r.endWith(to + "'s connection failed")
			}
			break
		}
		// Quiet: park, still counted in running; the parker's callback
		// continues this direction. A connection that cannot be parked
		// is read on.
		r.mu.Lock()
		if r.ended {
			r.mu.Unlock()
			break
		}
		if u, ok := r.park.park(src, func() { r.resume(d) }); ok {
			r.unpark[d] = u
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
	}
	r.release()
}

// resume continues a parked direction when its source has bytes.
func (r *relay) resume(d int) {
	r.mu.Lock()
	if r.ended {
		// end withdrew the others; this one fired first. Its reference
		// is still held: drop it.
		r.mu.Unlock()
		r.release()
		return
	}
	r.unpark[d] = nil
	r.mu.Unlock()
	r.copy(d)
}

// Why a pipe stopped.
const (
	pipeEOF         = iota // src closed its side
	pipeReadFailed         // reading src failed
	pipeWriteFailed        // writing dst failed, or the session was ended
)

// pipe copies src to dst until src has been quiet for parkAfter (true)
// or the copy fails or ends (false, and why).
func (r *relay) pipe(dst, src net.Conn, counts []*atomic.Int64) (bool, int) {
	small := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(small)
	var big *[]byte // from relayBufs while bytes flow
	defer func() {
		if big != nil {
			relayBufs.Put(big)
		}
	}()
	quietSince := time.Now()
	// Sources and destinations in TLS over a socket of ours: reads gather
	// what has arrived and writes go out whole (see sockConn).
	srcSock, dstSock := socketOf(src), socketOf(dst)
	for {
		quiet := cmp.Or(r.parkAfter, parkAfter)
		buf, wait := *small, quiet
		if big != nil {
			buf, wait = *big, bufRelease
		}
		src.SetReadDeadline(time.Now().Add(wait))
		n, err := src.Read(buf)
		if n > 0 && err == nil && big != nil && srcSock != nil {
			n, err = gather(src, srcSock, buf, n)
		}
		if n > 0 {
			now := time.Now()
			r.last.Store(now.UnixNano())
			quietSince = now
			for _, c := range r.caps {
				if c.wait(r.ctx, n) != nil {
					return false, pipeWriteFailed
				}
			}
			dst.SetWriteDeadline(time.Now().Add(cmp.Or(r.stall, r.idle)))
			if werr := writeWhole(dst, dstSock, buf[:n]); werr != nil {
				return false, pipeWriteFailed
			}
			for _, c := range counts {
				c.Add(int64(n))
			}
			if big == nil && n == len(buf) {
				big = relayBufs.Get().(*[]byte)
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if big != nil {
					relayBufs.Put(big)
					big = nil
				}
				if time.Since(quietSince) >= quiet {
					return true, 0
				}
				continue
			}
			if err == io.EOF {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					cw.CloseWrite()
				}
				return false, pipeEOF
			}
			return false, pipeReadFailed
		}
	}
}

// gather reads on from src, which has just given buf[:n], while more has
// already arrived, without waiting: one TLS record a read becomes a
// buffer's worth. It returns what buf then holds and a read's error
// other than "nothing more yet".
func gather(src net.Conn, sock *sockConn, buf []byte, n int) (int, error) {
	if !sock.startGather() {
		return n, nil
	}
	defer sock.stopGather()
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			if errors.Is(err, errWouldBlock) {
				err = nil
			}
			return n, err
		}
	}
	return n, nil
}

// corkOver is the size of a write that is worth corking: larger than one
// TLS record, so it would have gone out in several.
const corkOver = 16 << 10

// writeWhole writes p to dst, in one write to the socket where there is
// a socket of ours under dst.
func writeWhole(dst net.Conn, sock *sockConn, p []byte) error {
	if sock == nil || len(p) <= corkOver {
		_, err := dst.Write(p)
		return err
	}
	sock.corkOn()
	_, err := dst.Write(p)
	if ferr := sock.flush(); err == nil {
		err = ferr
	}
	return err
}

// hardClose closes c at once. A TLS connection's Close first sends
// close_notify, which waits for a write in progress (a stalled peer's,
// up to its deadline) and then up to 5 s more; closing the socket under
// it first ends both.
func hardClose(c net.Conn) {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		hardClose(nc.NetConn())
	}
	c.Close()
}
