package rfb

import (
	"context"
	"image"
	"math"
	"net"
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
