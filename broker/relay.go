package broker

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
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
// enough for a frame update's worth of TLS records. An idle direction
// holds only a small buffer and gives the large one back to a pool after
// bufRelease without a byte, so that many idle sessions stay cheap.
const (
	relayBuf   = 32 << 10
	smallBuf   = 2 << 10
	bufRelease = 250 * time.Millisecond
)

var relayBufs = sync.Pool{New: func() any { b := make([]byte, relayBuf); return &b }}

// relay copies bytes both ways between viewer and agent until either side
// closes, the session sits idle for idle, or ctx ends. A side that closes
// its sending half is passed on as a half-close, and then both
// connections are closed: in RFB neither side has anything to say alone.
// Each copy holds at most one buffer, so a slow reader stalls its writer
// (back-pressure) and nothing queues without bound.
func relay(ctx context.Context, viewer, agent net.Conn, idle time.Duration, caps []*Bucket, toViewer, toAgent []*atomic.Int64) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		viewer.Close()
		agent.Close()
	})
	defer stop()
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	wg.Go(func() {
		pipe(ctx, viewer, agent, idle, &last, caps, toViewer)
		cancel()
	})
	pipe(ctx, agent, viewer, idle, &last, caps, toAgent)
	cancel()
	wg.Wait()
	viewer.Close()
	agent.Close()
}

// pipe copies src to dst. It returns on EOF, on an error, or when neither
// direction has moved a byte for idle.
func pipe(ctx context.Context, dst, src net.Conn, idle time.Duration, last *atomic.Int64, caps []*Bucket, counts []*atomic.Int64) {
	small := make([]byte, smallBuf)
	var big *[]byte // from relayBufs while bytes flow
	defer func() {
		if big != nil {
			relayBufs.Put(big)
		}
	}()
	for {
		buf, wait := small, idle
		if big != nil {
			buf, wait = *big, min(idle, bufRelease)
		}
		src.SetReadDeadline(time.Now().Add(wait))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			for _, c := range caps {
				if c.wait(ctx, n) != nil {
					return
				}
			}
			dst.SetWriteDeadline(time.Now().Add(idle))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			for _, c := range counts {
				c.Add(int64(n))
			}
			if big == nil && n == len(small) {
				big = relayBufs.Get().(*[]byte)
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if big != nil {
					relayBufs.Put(big)
					big = nil
				}
				// Quiet in this direction; the session is idle only if
				// the other direction is quiet too.
				if time.Since(time.Unix(0, last.Load())) < idle {
					continue
				}
				return
			}
			if err == io.EOF {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					cw.CloseWrite()
				}
			}
			return
		}
	}
}
