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

// recordingJPEG remembers the settings of its last call.
type recordingJPEG struct {
	q   atomic.Int64
	sub atomic.Int64
	FastJPEG
}

func (c *recordingJPEG) AppendJPEG(dst []byte, img *Image, r image.Rectangle, q int, s Subsampling) ([]byte, error) {
	c.q.Store(int64(q))
	c.sub.Store(int64(s))
	return c.FastJPEG.AppendJPEG(dst, img, r, q, s)
}

// TestJPEGSettings: the quality levels map as TigerVNC's table, and
// TurboVNC's fine quality and subsampling pseudo-encodings override them.
func TestJPEGSettings(t *testing.T) {
	img := tightPhoto(128, 96, 7)
	for _, tc := range []struct {
		name    string
		encs    []Encoding
		quality int
		sub     Subsampling
	}{
		{"TigerVNC q8", []Encoding{EncQualityLevel0 + 8}, 92, Subsample444},
		{"noVNC q6", []Encoding{EncQualityLevel0 + 6}, 79, Subsample444},
		{"gtk-vnc q5", []Encoding{EncQualityLevel0 + 5}, 77, Subsample422},
		{"q1", []Encoding{EncQualityLevel0 + 1}, 29, Subsample420},
		{"TurboVNC fine 95 2X", []Encoding{EncQualityLevel0 + 8, EncFineQualityLevel0 + 95, EncSubsamp1X + 2}, 95, Subsample422},
		{"fine only", []Encoding{EncFineQualityLevel0 + 40}, 40, Subsample420},
		{"grey", []Encoding{EncQualityLevel0 + 6, EncSubsamp1X + 3}, 79, SubsampleGray},
		{"16X", []Encoding{EncSubsamp1X + 5}, 75, Subsample420},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingJPEG{}
			c := mustConnect(t, NewServer(NewFramebufferFromImage(img), Options{JPEG: rec}), ClientConfig{})
			if err := c.SetEncodings(append([]Encoding{EncTight}, tc.encs...)...); err != nil {
				t.Fatal(err)
			}
			fullUpdate(t, c)
			if q, s := int(rec.q.Load()), Subsampling(rec.sub.Load()); q != tc.quality || s != tc.sub {
				t.Errorf("JPEG quality %d subsampling %d, want %d %d", q, s, tc.quality, tc.sub)
			}
		})
	}
}
