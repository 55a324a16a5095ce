package rfb

import (
	"context"
	"image"
	"image/color"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

type countingJPEG struct {
	n atomic.Int64
	StdJPEG
}

func (c *countingJPEG) AppendJPEG(dst []byte, img *Image, r image.Rectangle, q int, s Subsampling) ([]byte, error) {
	c.n.Add(1)
	return c.StdJPEG.AppendJPEG(dst, img, r, q, s)
}

// Options.JPEG replaces image/jpeg for Tight's photo-like areas.
func TestOptionsJPEGIsUsed(t *testing.T) {
	const w, h = 256, 128
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			src.Set(x, y, color.RGBA{uint8(x), uint8(y * 2), uint8((x * y) >> 5), 0xff})
		}
	}
	jpeg := &countingJPEG{}
	srv := NewServer(NewFramebufferFromImage(src), Options{JPEG: jpeg})
	client, server := net.Pipe()
	defer client.Close()
	go srv.ServeConn(context.Background(), server)
	client.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := NewClient(context.Background(), client, ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetEncodings(EncTight, EncQualityLevel0+8); err != nil {
		t.Fatal(err)
	}
	if err := c.RequestFull(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*FramebufferUpdate); ok {
			break
		}
	}
	if jpeg.n.Load() == 0 {
		t.Fatal("the JPEG encoder from Options was not used")
	}
}
