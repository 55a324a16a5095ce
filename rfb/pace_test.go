package rfb

import (
	"context"
	"image"
	"net"
	"testing"
	"time"
)

// connectTCP serves one connection of srv over loopback TCP, whose kernel
// buffers let a server queue updates that the client has not read.
func connectTCP(t *testing.T, srv *Server) *Client {
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
	c, err := NewClient(ctx, cc, ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return c
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
		nextUpdate(t, c)
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
