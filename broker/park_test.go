//go:build linux

package broker

import (
	"context"
	"io"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func fired(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// TestParker: a parked connection wakes on a byte and on its peer's
// close, not before, and exactly once; a withdrawn one never; closing the
// parker hands the rest back; what is not a socket cannot be parked.
func TestParker(t *testing.T) {
	p, err := newParker()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()

	// Many at once, woken by a byte each.
	const n = 200
	var peers [n]net.Conn
	wake := make(chan int, n)
	for i := range n {
		c, peer := tcpPair(t)
		peers[i] = peer
		if _, ok := p.park(c, func() { wake <- i }); !ok {
			t.Fatal("a TCP connection could not be parked")
		}
	}
	select {
	case i := <-wake:
		t.Fatalf("connection %d woke with nothing to read", i)
	case <-time.After(100 * time.Millisecond):
	}
	for i := range n {
		peers[i].Write([]byte{1})
	}
	seen := map[int]bool{}
	for range n {
		select {
		case i := <-wake:
			if seen[i] {
				t.Fatalf("connection %d woke twice", i)
			}
			seen[i] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d woke", len(seen), n)
		}
	}

	// The peer's close wakes it.
	c, peer := tcpPair(t)
	ch := make(chan struct{}, 1)
	p.park(c, func() { ch <- struct{}{} })
	peer.Close()
	if !fired(ch, 5*time.Second) {
		t.Fatal("the peer's close did not wake the connection")
	}

	// A withdrawn wait does not fire, and its connection can be parked
	// again.
	c, peer = tcpPair(t)
	ch = make(chan struct{}, 1)
	unpark, _ := p.park(c, func() { ch <- struct{}{} })
	if !unpark() {
		t.Fatal("unpark of a waiting connection reported it fired")
	}
	if unpark() {
		t.Fatal("a second unpark succeeded")
	}
	peer.Write([]byte{1})
	if fired(ch, 200*time.Millisecond) {
		t.Fatal("a withdrawn wait fired")
	}
	if _, ok := p.park(c, func() { ch <- struct{}{} }); !ok {
		t.Fatal("could not park again after unpark")
	}
	if !fired(ch, 5*time.Second) {
		t.Fatal("parked again, the waiting byte did not wake it")
	}

	// Closing the parker runs what is left.
	c, _ = tcpPair(t)
	ch = make(chan struct{}, 1)
	q, err := newParker()
	if err != nil {
		t.Fatal(err)
	}
	q.park(c, func() { ch <- struct{}{} })
	q.close()
	if !fired(ch, 5*time.Second) {
		t.Fatal("close did not hand back a parked connection")
	}
	if _, ok := q.park(c, func() {}); ok {
		t.Fatal("a closed parker parked a connection")
	}

	// Not sockets.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, ok := p.park(a, func() {}); ok {
		t.Fatal("a pipe was parked")
	}
	var nilParker *parker
	if _, ok := nilParker.park(c, func() {}); ok {
		t.Fatal("a nil parker parked")
	}
}

// TestRelayParks: a quiet session's copies park (no goroutine left), wake
// for the next bytes in either direction, and the idle limit still ends
// a parked session.
func TestRelayParks(t *testing.T) {
	p, err := newParker()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	viewer, vb := tcpPair(t) // viewer ↔ broker
	agent, ab := tcpPair(t)  // agent ↔ broker
	base := runtime.NumGoroutine()
	ended := make(chan struct{})
	var toViewer, toAgent atomic.Int64
	r := &relay{viewer: vb, agent: ab, idle: parkAfter + 3*time.Second, park: p,
		toViewer: []*atomic.Int64{&toViewer}, toAgent: []*atomic.Int64{&toAgent},
		onEnd: func(string) { close(ended) }}
	startRelay(context.Background(), r)
	one := make([]byte, 1)
	roundTrip := func(i byte) {
		t.Helper()
		src, dst := agent, viewer
		if i%2 == 1 {
			src, dst = viewer, agent
		}
		src.Write([]byte{i})
		dst.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(dst, one); err != nil || one[0] != i {
			t.Fatalf("byte %d: %v %v", i, one, err)
		}
	}
	roundTrip(0)
	for i := range byte(2) {
		// Quiet past parkAfter: both copies park.
		deadline := time.Now().Add(parkAfter + 3*time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines in a quiet session, %d before it", runtime.NumGoroutine(), base)
			}
			time.Sleep(50 * time.Millisecond)
		}
		roundTrip(i + 1)
	}
	// A copy counts its bytes just after it has written them.
	for deadline := time.Now().Add(2 * time.Second); toViewer.Load() != 2 || toAgent.Load() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("counted %d to the viewer, %d to the agent", toViewer.Load(), toAgent.Load())
		}
	}
	// Then silence: the idle limit ends the parked session.
	start := time.Now()
	if !fired(ended, r.idle+5*time.Second) {
		t.Fatal("a parked idle session did not end")
	}
	if d := time.Since(start); d < r.idle-time.Second {
		t.Fatalf("ended after %v of silence, before its idle limit %v", d, r.idle)
	}
	viewer.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := viewer.Read(one); err == nil {
		t.Fatal("viewer still connected after the end")
	}
}

// BenchmarkRelayWake is the time from a byte written at the agent's end
// to its arrival at the viewer's, through a relay, after 30 ms of quiet:
// "parked" parks each direction after 10 ms, so every byte wakes a parked
// copy through the parker; "hot" never parks. Medians in the metrics.
func BenchmarkRelayWake(b *testing.B) {
	for _, tc := range []struct {
		name  string
		quiet time.Duration
	}{{"parked", 10 * time.Millisecond}, {"hot", time.Hour}} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := newParker()
			if err != nil {
				b.Fatal(err)
			}
			defer p.close()
			viewer, vb := tcpPair(b)
			agent, ab := tcpPair(b)
			ended := make(chan struct{})
			startRelay(context.Background(), &relay{viewer: vb, agent: ab, idle: time.Hour, park: p,
				parkAfter: tc.quiet, onEnd: func(string) { close(ended) }})
			one := make([]byte, 1)
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				b.StopTimer()
				time.Sleep(30 * time.Millisecond)
				b.StartTimer()
				start := time.Now()
				agent.Write(one)
				if _, err := io.ReadFull(viewer, one); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "median-µs")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds()), "p95-µs")
			viewer.Close()
			<-ended
		})
	}
}
