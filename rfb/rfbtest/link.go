package rfbtest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Link is a slow network path emulated in user space: a TCP proxy on
// loopback between a client and a server whose server-to-client direction
// carries Rate bytes a second, and whose both directions delay every byte
// by Delay (so a round trip takes 2×Delay plus the time to send). It
// stands in for `tc qdisc … netem rate … delay …`, which needs the
// sch_netem kernel module that a container or CI machine may not have.
//
// The bottleneck has a queue of Queue bytes, like a router's buffer; the
// proxy reads from the server only while that queue has room, so beyond
// it the server's own socket buffers fill, as on a real slow path. A
// server that sends more than the link carries builds a backlog that a
// viewer sees as lag.
type Link struct {
	Addr string // where clients connect

	rate  float64 // bytes a second downstream
	delay time.Duration
	queue int
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// StartLink listens on 127.0.0.1 and relays every connection to upstream
// (host:port) over an emulated path of bitsPerSecond downstream (0: no
// limit) and oneWay delay in each direction, with a bottleneck queue of
// queueBytes (0: 64 KiB). It stops when the test ends.
func StartLink(t testing.TB, upstream string, bitsPerSecond float64, oneWay time.Duration, queueBytes int) *Link {
	t.Helper()
	if queueBytes <= 0 {
		queueBytes = 64 << 10
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rfbtest: link: %v", err)
	}
	k := &Link{Addr: l.Addr().String(), rate: bitsPerSecond / 8, delay: oneWay, queue: queueBytes, l: l}
	k.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			k.wg.Go(func() { k.relay(c, upstream) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		k.mu.Lock()
		for _, c := range k.conns {
			c.Close()
		}
		k.mu.Unlock()
		k.wg.Wait()
	})
	return k
}

func (k *Link) track(c net.Conn) {
	k.mu.Lock()
	k.conns = append(k.conns, c)
	k.mu.Unlock()
}

func (k *Link) relay(client net.Conn, upstream string) {
	k.track(client)
	defer client.Close()
	server, err := net.DialTimeout("tcp", upstream, 10*time.Second)
	if err != nil {
		return
	}
	k.track(server)
	defer server.Close()
	if tc, ok := server.(*net.TCPConn); ok {
		// Without this the kernel would buffer megabytes ahead of the
		// bottleneck: a sender on a real path has about a window in
		// flight, not the receiver's whole autotuned buffer.
		tc.SetReadBuffer(k.queue)
	}
	var wg sync.WaitGroup
	wg.Go(func() { k.pipe(client, server, 0, k.queue) })      // upstream: delay only
	wg.Go(func() { k.pipe(server, client, k.rate, k.queue) }) // downstream: the bottleneck
	wg.Wait()
}

// chunk is a piece of the stream on its way: it leaves the link at due.
type chunk struct {
	b   []byte
	due time.Time
}

// pipe carries src's bytes to dst. A reader takes them in while the
// bottleneck's backlog is under queue bytes; each chunk is serialised at
// rate behind the ones before it, and a writer hands it to dst delay
// after it was sent. Without a rate there is no bottleneck, only delay.
func (k *Link) pipe(src, dst net.Conn, rate float64, queue int) {
	defer dst.Close()
	defer src.Close()
	var (
		mu     sync.Mutex
		cond   = sync.NewCond(&mu)
		q      []chunk
		closed bool
		free   = time.Now() // when the bottleneck has sent what it holds
	)
	go func() {
		defer func() {
			mu.Lock()
			closed = true
			cond.Broadcast()
			mu.Unlock()
		}()
		full := time.Duration(float64(queue) / max(rate, 1) * float64(time.Second))
		b := make([]byte, 16<<10)
		for {
			if rate > 0 {
				mu.Lock()
				wait := time.Until(free) - full
				mu.Unlock()
				if wait > 0 {
					time.Sleep(wait)
				}
			}
			n, err := src.Read(b)
			if n > 0 {
				now := time.Now()
				mu.Lock()
				sent := now
				if free.After(now) {
					sent = free
				}
				if rate > 0 {
					sent = sent.Add(time.Duration(float64(n) / rate * float64(time.Second)))
				}
				free = sent
				q = append(q, chunk{b: append([]byte(nil), b[:n]...), due: sent.Add(k.delay)})
				cond.Broadcast()
				mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		mu.Lock()
		for len(q) == 0 && !closed {
			cond.Wait()
		}
		if len(q) == 0 {
			mu.Unlock()
			return
		}
		c := q[0]
		q = q[1:]
		mu.Unlock()
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
}
