//go:build interop && linux

package broker_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifebuoy/broker/agentlink"
)

// clusterPair makes one session in a cluster: an agent on home, a stock
// viewer (VNC Authentication) on front, the agent's data connection. The
// source addresses come from next, so that no per-address cap binds.
func clusterPair(ctx context.Context, tc *testCluster, home, front *nodeProc, next *atomic.Int64) (*benchSession, error) {
	i := int(next.Add(1))
	link, err := agentlink.Dial(ctx, tc.linkConfig(home, i))
	if err != nil {
		return nil, err
	}
	s := &benchSession{link: link}
	verr := make(chan error, 1)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The front's replica may be a moment behind the claim (a
		// person reading the code out takes seconds; this client takes
		// microseconds): a refused viewer tries again, from a fresh
		// address, a few times.
		var err error
		for try := range 20 {
			if try > 0 {
				time.Sleep(10 * time.Millisecond)
			}
			j := int(next.Add(1))
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(j/250)+10, byte(j%250)+1)}, Timeout: 10 * time.Second}
			var c net.Conn
			if c, err = d.DialContext(ctx, "tcp", front.addrs["viewer"]); err != nil {
				break
			}
			if err = rawVNCAuth(c, link.Code()); err == nil {
				s.viewer = c
				break
			}
			c.Close()
		}
		if err != nil {
			cancel() // the agent's wait
		}
		verr <- err
	}()
	if err := s.finish(actx, ctx, verr); err != nil {
		return nil, err
	}
	return s, nil
}

// BenchmarkClusterPairings: pairings a second with one, two and three
// broker processes on one PostgreSQL, all on this machine, and one broker
// without -cluster (nodes=0) as the baseline. The agent is on node i mod
// N and the viewer on node i+1 mod N, so with two or three nodes every
// session is forwarded. 32 pairings in flight (as BenchmarkPairings);
// each is closed at once. The ratio between the node counts is the
// figure: the nodes, PostgreSQL and the clients share the same two cores.
// broker-CPU-ms/pairing sums the nodes' CPU.
func BenchmarkClusterPairings(b *testing.B) {
	for _, n := range []int{0, 1, 2, 3} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			tc := startTestCluster(b)
			if n == 0 {
				tc.alone, n = true, 1
			}
			var nodes []*nodeProc
			for i := range n {
				nodes = append(nodes, tc.start(string(rune('a'+i))))
			}
			var next atomic.Int64
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var fails atomic.Int64
			pairs := func(count int) {
				var wg sync.WaitGroup
				var k atomic.Int64
				for range 32 {
					wg.Go(func() {
						for {
							i := int(k.Add(1))
							if i > count {
								return
							}
							s, err := clusterPair(ctx, tc, nodes[i%n], nodes[(i+1)%n], &next)
							if err != nil {
								fails.Add(1)
								continue
							}
							s.close()
						}
					})
				}
				wg.Wait()
			}
			pairs(40) // warm up
			fails.Store(0)
			cpu := func() float64 {
				sum := 0.0
				for _, p := range nodes {
					sum += (&brokerProcess{cmd: p.cmd}).cpuSeconds(b)
				}
				return sum
			}
			cpu0 := cpu()
			b.ResetTimer()
			start := time.Now()
			pairs(b.N)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pairings/s")
			b.ReportMetric((cpu()-cpu0)*1000/float64(b.N), "broker-CPU-ms/pairing")
			b.ReportMetric(float64(fails.Load()), "failed")
		})
	}
}

// BenchmarkClusterPairingLatency: how long one pairing takes, one at a
// time, local to node a and forwarded from node b to a, interleaved: an
// agent link on a, a stock viewer's VNC Authentication on a or b, the
// agent's data connection. Reported: the medians and their difference,
// which is what forwarding adds to a pairing (with ready peer
// connections: no dial and no TLS handshake to the home node).
//
// LIFEBUOY_BENCH_PEER_RTT (say 2ms) puts a TCP proxy in front of a's peer
// port that holds each chunk for half that each way, as a network
// between the nodes would (loopback has no round trip to speak of).
func BenchmarkClusterPairingLatency(b *testing.B) {
	tc := startTestCluster(b)
	if rtt, err := time.ParseDuration(os.Getenv("LIFEBUOY_BENCH_PEER_RTT")); err == nil && rtt > 0 {
		tc.peerVia = func(name, peer string) string { return delayProxy(b, peer, rtt/2) }
	}
	a, bn := tc.start("a"), tc.start("b")
	var next atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pair := func(front *nodeProc) (time.Duration, error) {
		start := time.Now()
		s, err := clusterPair(ctx, tc, a, front, &next)
		d := time.Since(start)
		if err == nil {
			s.close()
		}
		return d, err
	}
	for range 20 { // warm up; b's replica may be a moment behind
		pair(a)
		pair(bn)
	}
	var local, forwarded []time.Duration
	b.ResetTimer()
	for range b.N {
		for _, front := range []*nodeProc{a, bn} {
			d, err := pair(front)
			if err != nil {
				b.Fatal(err)
			}
			if front == a {
				local = append(local, d)
			} else {
				forwarded = append(forwarded, d)
			}
		}
	}
	b.StopTimer()
	slices.Sort(local)
	slices.Sort(forwarded)
	ml, mf := local[len(local)/2], forwarded[len(forwarded)/2]
	b.ReportMetric(float64(ml.Microseconds())/1000, "local-ms")
	b.ReportMetric(float64(mf.Microseconds())/1000, "forwarded-ms")
	b.ReportMetric(float64((mf-ml).Microseconds())/1000, "added-ms")
}

// delayProxy listens on loopback and relays each connection to target,
// each chunk of bytes held for delay in either direction (in order: a
// chunk waits for the ones before it). It stops when the benchmark ends.
func delayProxy(b *testing.B, target string, delay time.Duration) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	relay := func(dst, src net.Conn) {
		type chunk struct {
			p  []byte
			at time.Time
		}
		q := make(chan chunk, 1024)
		go func() {
			defer dst.Close()
			for c := range q {
				time.Sleep(time.Until(c.at))
				if _, err := dst.Write(c.p); err != nil {
					return
				}
			}
		}()
		defer close(q)
		for {
			p := make([]byte, 32<<10)
			n, err := src.Read(p)
			if n > 0 {
				q <- chunk{p[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				t, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				go relay(t, c)
				relay(c, t)
			}()
		}
	}()
	return l.Addr().String()
}

// BenchmarkClusterForwardLatency: the round trip of one byte through a
// session, viewer → broker(s) → agent's data connection → back, for a
// session on one node and one forwarded from node b to node a,
// interleaved in one run. The agent side echoes. Reported: the median
// round trip of each and the difference, which is what forwarding adds.
func BenchmarkClusterForwardLatency(b *testing.B) {
	tc := startTestCluster(b)
	a, bn := tc.start("a"), tc.start("b")
	var next atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var local, forwarded *benchSession
	var err error
	for range 20 { // b's replica may be a moment behind
		if local == nil {
			local, _ = clusterPair(ctx, tc, a, a, &next)
		}
		if forwarded == nil {
			forwarded, err = clusterPair(ctx, tc, a, bn, &next)
		}
		if local != nil && forwarded != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if local == nil || forwarded == nil {
		b.Fatal("no sessions:", err)
	}
	defer local.close()
	defer forwarded.close()
	for _, s := range []*benchSession{local, forwarded} {
		go io.Copy(s.data, s.data) // the agent echoes
	}
	rtt := func(s *benchSession) time.Duration {
		var p [1]byte
		t0 := time.Now()
		if _, err := s.viewer.Write(p[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(s.viewer, p[:]); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	for range 100 { // warm up
		rtt(local)
		rtt(forwarded)
	}
	var l, f []time.Duration
	b.ResetTimer()
	for range b.N {
		l = append(l, rtt(local))
		f = append(f, rtt(forwarded))
	}
	b.StopTimer()
	slices.Sort(l)
	slices.Sort(f)
	ml, mf := l[len(l)/2], f[len(f)/2]
	b.ReportMetric(float64(ml.Microseconds()), "local-µs")
	b.ReportMetric(float64(mf.Microseconds()), "forwarded-µs")
	b.ReportMetric(float64((mf - ml).Microseconds()), "added-µs")
}

// BenchmarkClusterIdleSessions: the memory of idle sessions on a node with
// the cluster on: n sessions local to node a, then n forwarded from b to
// a; the RSS growth of each process per session, read after settle (as
// BenchmarkIdleSessions), and the goroutines each node holds per idle
// forwarded session. Run it with -benchtime 1x.
func BenchmarkClusterIdleSessions(b *testing.B) {
	const n = 1000
	tc := startTestCluster(b)
	a, bn := tc.start("a"), tc.start("b")
	var next atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	many := func(home, front *nodeProc, count int) []*benchSession {
		out := make([]*benchSession, count)
		var wg sync.WaitGroup
		var k atomic.Int64
		for range 8 {
			wg.Go(func() {
				for {
					i := int(k.Add(1)) - 1
					if i >= count {
						return
					}
					for range 5 {
						s, err := clusterPair(ctx, tc, home, front, &next)
						if err == nil {
							out[i] = s
							break
						}
					}
				}
			})
		}
		wg.Wait()
		if slices.Contains(out, nil) {
			b.Fatal("some sessions did not pair")
		}
		return out
	}
	rss := func(p *nodeProc) int { return (&brokerProcess{cmd: p.cmd}).rssKiB(b) }
	for _, s := range many(a, bn, 50) { // warm up both paths
		s.close()
	}
	for _, s := range many(a, a, 50) {
		s.close()
	}
	settle()
	b.ResetTimer()
	a0 := rss(a)
	local := many(a, a, n)
	settle()
	a1 := rss(a)
	b0 := rss(bn)
	ga, gb := a.metric(b, "go_goroutines"), bn.metric(b, "go_goroutines")
	fw := many(a, bn, n)
	settle()
	a2, b1 := rss(a), rss(bn)
	// An idle session parks on both nodes: no goroutine is left for it.
	b.ReportMetric((a.metric(b, "go_goroutines")-ga)/n, "home-goroutines/forwarded")
	b.ReportMetric((bn.metric(b, "go_goroutines")-gb)/n, "front-goroutines/forwarded")
	b.StopTimer()
	b.ReportMetric(float64(a1-a0)/n, "local-KiB/session")
	b.ReportMetric(float64(a2-a1)/n, "home-KiB/forwarded")
	b.ReportMetric(float64(b1-b0)/n, "front-KiB/forwarded")
	for _, s := range append(local, fw...) {
		s.close()
	}
}
