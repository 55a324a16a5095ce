package rfb

import (
	"context"
	"image"
	"math"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// connectTCP serves one connection of srv over loopback TCP, whose kernel
// buffers let a server queue updates that the client has not read.
func connectTCP(t *testing.T, srv *Server) *Client { return connectTCPVia(t, srv, nil) }

// connectTCPVia is connectTCP with the client's end wrapped.
func connectTCPVia(t *testing.T, srv *Server, wrap func(net.Conn) net.Conn) *Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc, err := l.Accept()
		l.Close()
		if err == nil {
			srv.ServeConn(ctx, sc)
		}
	}()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cc.Close(); <-done })
	cc.SetDeadline(time.Now().Add(20 * time.Second))
	var conn net.Conn = cc
	if wrap != nil {
		conn = wrap(cc)
	}
	c, err := NewClient(ctx, conn, ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// skipToUpdate reads the next FramebufferUpdate: with fences, the first
// one follows the fence that measures the latency.
func skipToUpdate(t *testing.T, c *Client) {
	t.Helper()
	for range 10 {
		if _, ok := nextMessage(t, c).(*FramebufferUpdate); ok {
			return
		}
	}
	t.Fatal("no update in 10 messages")
}

// TestPacingByFences checks that a client with continuous updates and
// fences that stops reading gets no backlog: 100 changes made meanwhile
// arrive as at most a few updates, the last one the newest picture. A
// client without fences gets them one by one (that is what fences are
// needed for).
func TestPacingByFences(t *testing.T) {
	for _, fence := range []bool{true, false} {
		fb := NewFramebufferFromImage(testPattern(200, 100))
		c := connectTCP(t, NewServer(fb, Options{}))
		encs := []Encoding{EncRaw, EncContinuousUpdates}
		if fence {
			encs = append(encs, EncFence)
		}
		if err := c.SetEncodings(encs...); err != nil {
			t.Fatal(err)
		}
		for {
			if _, ok := nextMessage(t, c).(*EndOfContinuousUpdates); ok {
				break
			}
		}
		if err := c.Send(&EnableContinuousUpdates{Enable: true, Rect: image.Rect(0, 0, 200, 100)}); err != nil {
			t.Fatal(err)
		}
		skipToUpdate(t, c)
		const changes = 100
		for i := range changes {
			r := image.Rect(i%20*10, i/20*10, i%20*10+10, i/20*10+10)
			fb.Update(func(img *Image) []image.Rectangle {
				img.Fill(r, uint32(i)*0x010203)
				return []image.Rectangle{r}
			})
			time.Sleep(time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		want := fb.Snapshot()
		updates := 0
		for range 2 * changes {
			if _, ok := nextMessage(t, c).(*FramebufferUpdate); ok {
				updates++
				if imageDiff(c.Framebuffer(), want) == "" {
					break
				}
			}
		}
		checkImage(t, c, want)
		t.Logf("fence %v: %d updates", fence, updates)
		if fence && updates > 3 {
			t.Errorf("with fences, %d changes the client did not read arrived as %d updates", changes, updates)
		}
		if !fence && updates < changes/2 {
			t.Errorf("without fences, %d changes arrived as %d updates: the test shows nothing", changes, updates)
		}
	}
}

// slowConn reads at most rate bytes a second, as a client behind a slow
// link does.
type slowConn struct {
	net.Conn
	rate float64
	n    *atomic.Int64 // bytes read
}

func (c slowConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p[:min(len(p), 4096)])
	c.n.Add(int64(n))
	time.Sleep(time.Duration(float64(n) / c.rate * float64(time.Second)))
	return n, err
}

// TestPacingLowersJPEGQuality: a photo changing five times a second for
// a client at JPEG quality level 8 behind a 10 Mbit/s link arrives at
// lower qualities once the updates are seen to take long.
func TestPacingLowersJPEGQuality(t *testing.T) {
	const w, h = 640, 480
	fb := NewFramebufferFromImage(tightPhoto(w, h, 69))
	var read atomic.Int64
	c := connectTCPVia(t, NewServer(fb, Options{}), func(c net.Conn) net.Conn { return slowConn{c, 10e6 / 8, &read} })
	if err := c.SetEncodings(EncTight, EncQualityLevel0+8, EncLastRect, EncContinuousUpdates, EncFence); err != nil {
		t.Fatal(err)
	}
	for {
		if _, ok := nextMessage(t, c).(*EndOfContinuousUpdates); ok {
			break
		}
	}
	area := image.Rect(0, 0, w, h)
	if err := c.Send(&EnableContinuousUpdates{Enable: true, Rect: area}); err != nil {
		t.Fatal(err)
	}
	skipToUpdate(t, c)
	var sizes []int
	for i := range 12 {
		frame := tightPhoto(w, h, uint64(70+i))
		fb.Update(func(img *Image) []image.Rectangle {
			img.copyFrom(area.Min, frame, frame.Bounds())
			return []image.Rectangle{area}
		})
		before := read.Load()
		for {
			if _, ok := nextMessage(t, c).(*FramebufferUpdate); ok {
				break
			}
		}
		sizes = append(sizes, int(read.Load()-before))
	}
	t.Logf("update sizes: %v", sizes)
	if last, first := sizes[len(sizes)-1], sizes[0]; last > first*2/3 {
		t.Errorf("updates on a slow link did not get smaller: %v", sizes)
	}
}

// TestPacerRate: the throughput comes from the round trips of large
// updates less the latency measured by a small one, and the refresh's
// budget follows it rather than the socket writes.
func TestPacerRate(t *testing.T) {
	var p pacer
	p.adapt(300*time.Millisecond, 200<<10) // before the latency is known
	if want := float64(200<<10) / 0.3; math.Abs(p.rate-want) > 1 {
		t.Errorf("rate %.0f, want %.0f", p.rate, want)
	}
	p = pacer{}
	p.adapt(40*time.Millisecond, 0)
	p.adapt(140*time.Millisecond, 125000)
	if math.Abs(p.rate-1.25e6) > 1 {
		t.Errorf("rate %.0f, want 1250000", p.rate)
	}
	p.adapt(40*time.Millisecond, 4<<10) // small: no rate
	if math.Abs(p.rate-1.25e6) > 1 {
		t.Errorf("a small update changed the rate to %.0f", p.rate)
	}
	c := &serverConn{cu: true, throughput: 2e9, pace: p}
	c.encs.fence = true
	if got := c.readRate(); got != p.rate {
		t.Errorf("readRate %.0f, want the fences' %.0f", got, p.rate)
	}
	c.encs.fence = false
	if got := c.readRate(); got != 2e9 {
		t.Errorf("readRate without fences %.0f, want the writes' 2e9", got)
	}
}

// TestPacerLatency: the latency is the least of the last round trips of
// lone fences and small updates, so a slow first answer does not stay
// for good, and lone fences do not count as fast updates.
func TestPacerLatency(t *testing.T) {
	var p pacer
	p.adapt(95*time.Millisecond, 0) // a client busy at the start
	if p.minRTT != 95*time.Millisecond {
		t.Fatalf("latency %v after one sample, want 95ms", p.minRTT)
	}
	p.drop = 3
	for range paceLatencySamples {
		p.adapt(45*time.Millisecond, 0)
	}
	if p.minRTT != 45*time.Millisecond {
		t.Errorf("latency %v, want the last samples' 45ms", p.minRTT)
	}
	if p.drop != 3 || p.fast != 0 || p.rtt != 0 {
		t.Errorf("lone fences changed the quality state: drop %d, fast %d, rtt %v", p.drop, p.fast, p.rtt)
	}
	p.adapt(40*time.Millisecond, 4<<10) // a small update is a sample too
	if p.minRTT != 40*time.Millisecond {
		t.Errorf("latency %v, want the small update's 40ms", p.minRTT)
	}
	p.adapt(30*time.Millisecond, 100<<10) // a large one is not
	if p.minRTT != 40*time.Millisecond {
		t.Errorf("latency %v after a large update, want 40ms", p.minRTT)
	}
	// With the latency right, the throughput is the link's: 125 KB in
	// 140 ms over 40 ms of latency is 1.25 MB/s.
	p.rate = 0
	p.adapt(140*time.Millisecond, 125000)
	if math.Abs(p.rate-1.25e6) > 1 {
		t.Errorf("rate %.0f, want 1250000", p.rate)
	}
}

// burstConn is a connection with continuous updates and fences over a
// framebuffer of w x h, whose first picture was taken, with one update
// over inFlight in flight, sent age ago, on a link of 40 ms latency. No
// socket: nextWrite is called directly.
func burstConn(t *testing.T, w, h int, inFlight image.Rectangle, age time.Duration) (*serverConn, *Framebuffer) {
	t.Helper()
	fb := NewFramebufferFromImage(tightPhoto(w, h, 5))
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := newServerConn(NewServer(fb, Options{}), a, nil, Version38)
	t.Cleanup(func() { fb.unsubscribe(c.sub); c.stopPaceTimer(); c.stopRefreshTimer() })
	c.setEncodings([]Encoding{EncTight, EncQualityLevel0 + 8, EncContinuousUpdates, EncFence})
	c.cu, c.cuArea = true, image.Rect(0, 0, w, h)
	c.control = c.control[:0]
	fb.take(c.sub, c.cuArea, false) // the first picture went
	c.pace.latency(40 * time.Millisecond)
	c.pace.rate = 1.25e6
	c.appendPaceFence(nil, paceWindow, []image.Rectangle{inFlight}, false)
	c.pace.waiting[0].at = time.Now().Add(-age)
	return c, fb
}

// change fills r in fb with a colour.
func change(fb *Framebuffer, r image.Rectangle, colour uint32) {
	fb.Update(func(img *Image) []image.Rectangle {
		img.Fill(r, colour)
		return []image.Rectangle{r}
	})
}

// TestPacingBurst: while the pacing window is full, the rest of a picture
// drawn in strips goes at once when it touches nothing in flight and the
// update in flight is fresh; a change over the area in flight, or after
// the update in flight has been out longer than the latency, waits for
// the answer; and a burst never starts a lossless refresh.
func TestPacingBurst(t *testing.T) {
	const w, h = 256, 128
	top, bottom := image.Rect(0, 0, w, 64), image.Rect(0, 64, w, h)
	for _, tc := range []struct {
		name    string
		change  image.Rectangle
		age     time.Duration
		refresh bool // the update in flight was a lossless refresh
		want    bool
	}{
		{"rest of the picture", bottom, 0, false, true},
		{"same area again", image.Rect(10, 10, 20, 70), 0, false, false},
		{"after the latency", bottom, time.Second, false, false},
		{"over a refresh slice", top, time.Second, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, fb := burstConn(t, w, h, top, tc.age)
			c.pace.waiting[0].refresh = tc.refresh
			if c.paceAllows() {
				t.Fatal("the window is not full: the test shows nothing")
			}
			change(fb, tc.change, 0x00ff00)
			out, err := c.nextWrite()
			if err != nil {
				t.Fatal(err)
			}
			if sent := len(out) > 0; sent != tc.want {
				t.Fatalf("update made: %v, want %v", sent, tc.want)
			}
			if !tc.want {
				return
			}
			last := c.pace.waiting[len(c.pace.waiting)-1]
			var got image.Rectangle
			for _, r := range last.rects {
				got = got.Union(r)
			}
			if got != tc.change || last.refresh {
				t.Errorf("the update's fence holds %v (refresh %v), want %v", last.rects, last.refresh, tc.change)
			}
			// Nothing else waits: no second update.
			if out, _ := c.nextWrite(); len(out) > 0 {
				t.Errorf("a second update of %d bytes with nothing changed", len(out))
			}
		})
	}

	// Lossy areas due for a refresh, the window full, nothing changed:
	// no refresh goes until the answer.
	c, _ := burstConn(t, w, h, top, 0)
	c.lossy.add(bottom)
	c.due.add(bottom)
	c.throughput = 1.25e6
	if out, _ := c.nextWrite(); len(out) > 0 {
		t.Errorf("a refresh of %d bytes went with the window full", len(out))
	}
	c.pace.waiting = c.pace.waiting[:0]
	c.pace.acked = c.pace.sent
	out, _ := c.nextWrite()
	if len(out) == 0 || len(c.pace.waiting) != 2 || !c.pace.waiting[1].refresh || c.pace.waiting[0].size != 0 {
		t.Errorf("after the answer: %d bytes, fences %+v; want a lone fence, then a refresh", len(out), c.pace.waiting)
	}
}

// TestJoinRuns: rectangles that abut along a whole side become one where
// the run covers joinMinArea; the pixels covered stay the same, and the
// rectangle holding the bottom-right corner comes last.
func TestJoinRuns(t *testing.T) {
	var band, small []image.Rectangle
	for x := 320; x < 1600; x += 64 {
		band = append(band, image.Rect(x, 140, x+64, 192))
	}
	for x := 0; x < 1024; x += 64 {
		small = append(small, image.Rect(x, 0, x+64, 32)) // a run of 32,768 pixels
	}
	for _, tc := range []struct {
		name string
		in   []image.Rectangle
		want []image.Rectangle
	}{
		{"a band in tiles", band, []image.Rectangle{image.Rect(320, 140, 1600, 192)}},
		{"a band in tiles and the rest below", append(slices.Clone(band), image.Rect(320, 192, 1600, 940)),
			[]image.Rectangle{image.Rect(320, 140, 1600, 940)}},
		{"a small run stays apart", small, small},
		{"an L stays two", []image.Rectangle{image.Rect(0, 0, 256, 256), image.Rect(256, 0, 512, 64), image.Rect(0, 256, 256, 512)},
			[]image.Rectangle{image.Rect(256, 0, 512, 64), image.Rect(0, 0, 256, 512)}},
		{"apart", []image.Rectangle{image.Rect(400, 0, 800, 200), image.Rect(0, 0, 399, 200)},
			[]image.Rectangle{image.Rect(0, 0, 399, 200), image.Rect(400, 0, 800, 200)}},
		{"one", []image.Rectangle{image.Rect(0, 0, 10, 10)}, []image.Rectangle{image.Rect(0, 0, 10, 10)}},
	} {
		if got := joinRuns(slices.Clone(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
