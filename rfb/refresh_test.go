package rfb

import (
	"image"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// refreshScene is text on a light background with a photo in it.
func refreshScene() *Image {
	img := tightText(320, 240, 3)
	img.copyFrom(image.Pt(96, 64), tightPhoto(160, 128, 4), image.Rect(0, 0, 160, 128))
	return img
}

// TestLosslessRefresh: with JPEG allowed, the photo arrives lossy and the
// text exact; once the screen has been still for the refresh delay, the
// photo is sent again losslessly, and then nothing more.
func TestLosslessRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := refreshScene()
		fb := NewFramebufferFromImage(src)
		c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
		if err := c.SetEncodings(EncTight, EncQualityLevel0+8, EncLastRect); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		u := fullUpdate(t, c)
		text := image.Rect(0, 0, 320, 48) // above the photo
		for _, r := range u.Rects {
			if r.Encoding != EncTight {
				t.Fatalf("%v rectangle", r.Encoding)
			}
		}
		if tightPSNR(c.Framebuffer(), src) == tightPSNR(src, src) {
			t.Fatal("the first picture is already exact: no JPEG was used")
		}
		if d := imageDiff(subImage(c.Framebuffer(), text), subImage(src, text)); d != "" {
			t.Errorf("text is not exact in the first picture: %s", d)
		}
		if err := c.RequestUpdate(true, src.Bounds()); err != nil {
			t.Fatal(err)
		}
		nextUpdate(t, c)
		if el := time.Since(start); el < losslessRefreshDelay || el > 2*losslessRefreshDelay {
			t.Errorf("refresh came after %v, want %v..%v", el, losslessRefreshDelay, 2*losslessRefreshDelay)
		}
		checkImage(t, c, src)

		// A still and exact screen: no more updates.
		if err := c.RequestUpdate(true, src.Bounds()); err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() { _, err := c.ReadMessage(); got <- err }()
		time.Sleep(5 * losslessRefreshDelay)
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("an update after the refresh (err %v)", err)
		default:
		}
		c.Close()
		<-got
	})
}

// TestLosslessRefreshWaitsForStill: a photo that keeps changing is not
// refreshed; the refresh comes after it stops.
func TestLosslessRefreshWaitsForStill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := refreshScene()
		fb := NewFramebufferFromImage(src)
		c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
		if err := c.SetEncodings(EncTight, EncQualityLevel0+6, EncLastRect); err != nil {
			t.Fatal(err)
		}
		fullUpdate(t, c)
		area := image.Rect(96, 64, 256, 192)
		for i := range 10 {
			time.Sleep(40 * time.Millisecond)
			frame := tightPhoto(160, 128, uint64(10+i))
			fb.Update(func(img *Image) []image.Rectangle {
				img.copyFrom(area.Min, frame, frame.Bounds())
				return []image.Rectangle{area}
			})
			if err := c.RequestUpdate(true, src.Bounds()); err != nil {
				t.Fatal(err)
			}
			u := nextUpdate(t, c)
			for _, r := range u.Rects {
				if !r.Rect.In(area) {
					t.Fatalf("frame %d: a rectangle %v outside the moving picture (a refresh?)", i, r.Rect)
				}
			}
			if tightPSNR(c.Framebuffer(), fb.Snapshot()) > 60 {
				t.Fatalf("frame %d arrived exact: no JPEG", i)
			}
		}
		stopped := time.Now()
		if err := c.RequestUpdate(true, src.Bounds()); err != nil {
			t.Fatal(err)
		}
		nextUpdate(t, c)
		if el := time.Since(stopped); el < losslessRefreshDelay {
			t.Errorf("refresh %v after the last change", el)
		}
		checkImage(t, c, fb.Snapshot())
	})
}

// TestLosslessRefreshFollowsCopy: lossy pixels moved by CopyRect stay
// lossy at their new place and are refreshed there.
func TestLosslessRefreshFollowsCopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := NewFramebufferFromImage(refreshScene())
		c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
		if err := c.SetEncodings(EncTight, EncCopyRect, EncQualityLevel0+8, EncLastRect); err != nil {
			t.Fatal(err)
		}
		fullUpdate(t, c)
		fb.Move(image.Rect(150, 100, 310, 228), image.Pt(96, 64))
		if err := c.RequestUpdate(true, image.Rect(0, 0, 320, 240)); err != nil {
			t.Fatal(err)
		}
		u := nextUpdate(t, c)
		if u.Rects[0].Encoding != EncCopyRect {
			t.Fatalf("the move came as %v", u.Rects[0].Encoding)
		}
		for range 3 {
			if err := c.RequestUpdate(true, image.Rect(0, 0, 320, 240)); err != nil {
				t.Fatal(err)
			}
			nextUpdate(t, c)
			if imageDiff(c.Framebuffer(), fb.Snapshot()) == "" {
				return
			}
		}
		checkImage(t, c, fb.Snapshot())
	})
}

func subImage(m *Image, r image.Rectangle) *Image {
	s := NewImage(r.Dx(), r.Dy())
	s.copyFrom(image.Point{}, m, r)
	return s
}

// TestLosslessRefreshAdapts: pictures that change every 500 ms (a slide
// show) get a lossless refresh between changes only until a refresh is
// seen to be thrown away (the first picture's); then only JPEG while they
// change, and the last one is still refreshed once it stays.
func TestLosslessRefreshAdapts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := refreshScene()
		fb := NewFramebufferFromImage(src)
		c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
		if err := c.SetEncodings(EncTight, EncQualityLevel0+6, EncLastRect); err != nil {
			t.Fatal(err)
		}
		fullUpdate(t, c)
		var mu sync.Mutex
		var times []time.Time
		go func() {
			for {
				if c.RequestUpdate(true, src.Bounds()) != nil {
					return
				}
				m, err := c.ReadMessage()
				if err != nil {
					return
				}
				if _, ok := m.(*FramebufferUpdate); ok {
					mu.Lock()
					times = append(times, time.Now())
					mu.Unlock()
				}
			}
		}()
		area := image.Rect(96, 64, 256, 192)
		var starts []time.Time
		for i := range 12 {
			frame := tightPhoto(160, 128, uint64(30+i))
			starts = append(starts, time.Now())
			fb.Update(func(img *Image) []image.Rectangle {
				img.copyFrom(area.Min, frame, frame.Bounds())
				return []image.Rectangle{area}
			})
			time.Sleep(500 * time.Millisecond)
		}
		starts = append(starts, time.Now())
		time.Sleep(3 * maxRefreshDelay)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		perFrame := make([]int, 12)
		for _, u := range times {
			for i := range perFrame {
				if !u.Before(starts[i]) && u.Before(starts[i+1]) {
					perFrame[i]++
				}
			}
		}
		for i, n := range perFrame[1:] {
			if n != 1 {
				t.Errorf("frame %d: %d updates (the JPEG and wasted refreshes); all: %v", 1+i, n, perFrame)
				break
			}
		}
		if last := times[len(times)-1]; !last.After(starts[12]) {
			t.Error("the last picture was not refreshed once it stayed")
		}
		if d := imageDiff(c.Framebuffer(), fb.Snapshot()); d != "" {
			t.Errorf("still screen not exact: %s", d)
		}
	})
}
