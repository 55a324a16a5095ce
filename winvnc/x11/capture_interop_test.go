//go:build interop && linux

package x11

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

func TestCaptureDamage(t *testing.T)   { testCapture(t, 640, 480, 24, false, false) }
func TestCaptureFallback(t *testing.T) { testCapture(t, 640, 480, 24, true, false) }
func TestCaptureDepth16(t *testing.T)  { testCapture(t, 640, 480, 16, false, false) }

// TestCaptureStrips captures screens several times the segment's size (and
// over the socket, whose reads are cut the same way) in strips of rows.
func TestCaptureStrips(t *testing.T) {
	for _, depth := range []int{16, 24} {
		for _, noShm := range []bool{false, true} {
			t.Run(fmt.Sprintf("depth=%d/shm=%v", depth, !noShm), func(t *testing.T) {
				c := testCapture(t, 1280, 1024, depth, false, noShm)
				if seg := c.segmentSize(); seg > maxSegment {
					t.Errorf("segment of %d bytes, want at most %d", seg, maxSegment)
				}
			})
		}
	}
}

func testCapture(t *testing.T, w, h, depth int, noDamage, noShm bool) *Capturer {
	x := rfbtest.StartXvfb(t, w, h, depth)
	d := openDisplay(t, x)
	for _, e := range []Extension{ExtShm, ExtDamage, ExtXFixes, ExtXTest, ExtRandR} {
		if !d.Has(e) {
			t.Errorf("Xvfb lacks %v", e)
		}
	}
	c, fb := startCapture(t, d, func(c *Capturer) {
		c.NoDamage = noDamage
		c.NoShm = noShm
		c.Poll = 50 * time.Millisecond
	})
	waitSame(t, x, fb, "start")

	run(t, x, "xsetroot", "-solid", "#336699")
	waitSame(t, x, fb, "xsetroot -solid")

	rfbtest.LookPath(t, "xterm", "xdotool")
	rfbtest.Start(t, x.Env(), "xterm", "-T", "captest", "-geometry", "30x8+40+30",
		"-bg", "#ffee00", "-fg", "#000080", "-e", "sh", "-c", "echo hello lifebuoy; sleep 60")
	id := strings.TrimSpace(run(t, x, "xdotool", "search", "--sync", "--name", "captest"))
	waitSame(t, x, fb, "xterm mapped")

	run(t, x, "xdotool", "windowmove", "--sync", id, "300", "200")
	waitSame(t, x, fb, "xterm moved")
	return c
}

// TestCaptureFlood draws thousands of small rectangles in many colours at
// once, so the damage region has far more rectangles than maxDamageRects
// and is merged onto the tile grid; the result must still be exact.
func TestCaptureFlood(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	d := openDisplay(t, x)
	_, fb := startCapture(t, d, nil)
	c, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root := xproto.Setup(c).DefaultScreen(c).Root
	gc, _ := xproto.NewGcontextId(c)
	xproto.CreateGC(c, gc, xproto.Drawable(root), xproto.GcSubwindowMode, []uint32{xproto.SubwindowModeIncludeInferiors})
	for i := range 3000 {
		xproto.ChangeGC(c, gc, xproto.GcForeground, []uint32{uint32(i*2654435761) & 0xffffff})
		xproto.PolyFillRectangle(c, xproto.Drawable(root), gc, []xproto.Rectangle{{
			X: int16(i * 7919 % 630), Y: int16(i * 104729 % 470), Width: uint16(1 + i%9), Height: uint16(1 + i%5)}})
	}
	if _, err := xproto.GetInputFocus(c).Reply(); err != nil {
		t.Fatal(err)
	}
	waitSame(t, x, fb, "flood of small rectangles")
}

// TestCaptureOverflow floods the capturer's event queue while the screen
// changes, so that the DAMAGE notification may be dropped. NonEmpty sends
// no second notification until the damage is taken, so the overflow path
// must take it.
func TestCaptureOverflow(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	d := openDisplay(t, x)
	c, fb := startCapture(t, d, nil)
	waitSame(t, x, fb, "start")
	for _, color := range []string{"#102030", "#405060", "#708090"} {
		stop := make(chan struct{})
		flooded := make(chan struct{})
		go func() {
			defer close(flooded)
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A fake root ConfigureNotify costs the capturer a round trip.
				c.filter(xproto.ConfigureNotifyEvent{Window: d.root})
			}
		}()
		time.Sleep(20 * time.Millisecond)
		run(t, x, "xsetroot", "-solid", color)
		time.Sleep(50 * time.Millisecond)
		close(stop)
		<-flooded
		waitSame(t, x, fb, "xsetroot during an event flood")
	}
}

// shmSegments returns the SysV segments this process created, with their
// modes, from /proc/sysvipc/shm.
func shmSegments(t *testing.T) map[int]uint32 {
	t.Helper()
	f, err := os.Open("/proc/sysvipc/shm")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	segs := map[int]uint32{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header: key shmid perms size cpid lpid nattch …
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 {
			continue
		}
		id, _ := strconv.Atoi(fs[1])
		perms, _ := strconv.ParseUint(fs[2], 8, 32)
		cpid, _ := strconv.Atoi(fs[4])
		if cpid == os.Getpid() {
			segs[id] = uint32(perms)
		}
	}
	return segs
}

func TestShmSegment(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	d := openDisplay(t, x)
	before := shmSegments(t)
	fb := rfb.NewFramebuffer(1, 1)
	c := NewCapturer(d, fb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for c.Frames() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	var ours []int
	for id, mode := range shmSegments(t) {
		if _, ok := before[id]; ok {
			continue
		}
		ours = append(ours, id)
		if mode&0o777 != 0o600 {
			t.Errorf("segment %d has mode %o, want 600", id, mode&0o777)
		}
		const shmDest = 0o1000 // SHM_DEST: marked for removal (IPC_RMID)
		if mode&shmDest == 0 {
			t.Errorf("segment %d (mode %o) is not marked for removal while in use", id, mode)
		}
	}
	if len(ours) != 1 {
		t.Errorf("capturer made %d segments (%v), want 1", len(ours), ours)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	after := shmSegments(t)
	for _, id := range ours {
		if _, ok := after[id]; ok {
			t.Errorf("segment %d left behind after Run returned", id)
		}
	}
}

// TestCursor changes the root window's cursor from another client and
// waits for the new image. The client stays connected and keeps its cursor:
// this Xvfb (with the SECURITY extension) answers GetCursorImage with
// BadAccess for a cursor whose client has freed it, as `xsetroot
// -cursor_name` does before it exits; the capturer then keeps the previous
// image.
func TestCursor(t *testing.T) {
	x := rfbtest.StartXvfb(t, 320, 240, 24)
	d := openDisplay(t, x)
	cursors := make(chan image.Image, 64)
	startCapture(t, d, func(c *Capturer) {
		c.onCursor = func(img image.Image, hot image.Point) {
			select {
			case cursors <- img:
			default:
			}
		}
	})
	first := waitCursor(t, cursors)

	c, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root := xproto.Setup(c).DefaultScreen(c).Root
	font, err := xproto.NewFontId(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := xproto.OpenFontChecked(c, font, uint16(len("cursor")), "cursor").Check(); err != nil {
		t.Fatal(err)
	}
	cur, err := xproto.NewCursorId(c)
	if err != nil {
		t.Fatal(err)
	}
	const xcWatch = 150 // the watch glyph and its mask (151) in the cursor font
	err = xproto.CreateGlyphCursorChecked(c, cur, font, font, xcWatch, xcWatch+1,
		0, 0, 0, 0xffff, 0xffff, 0xffff).Check()
	if err != nil {
		t.Fatal(err)
	}
	if err := xproto.ChangeWindowAttributesChecked(c, root, xproto.CwCursor, []uint32{uint32(cur)}).Check(); err != nil {
		t.Fatal(err)
	}
	second := waitCursor(t, cursors)
	if same(first, second) {
		t.Fatal("cursor image did not change after the root cursor became the watch")
	}
	if second.Bounds().Empty() {
		t.Fatal("empty cursor image")
	}
}

func waitCursor(t *testing.T, c <-chan image.Image) image.Image {
	t.Helper()
	select {
	case img := <-c:
		return img
	case <-time.After(waitTimeout):
		t.Fatal("no cursor image")
		return nil
	}
}

func same(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	n, _, _ := rfbtest.Diff(a, b)
	return n == 0
}

func TestRandRResize(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	d := openDisplay(t, x)
	_, fb := startCapture(t, d, nil)
	run(t, x, "xsetroot", "-solid", "#884422")
	waitSame(t, x, fb, "start")
	rfbtest.LookPath(t, "xrandr")
	run(t, x, "xrandr", "--newmode", "400x300", "10", "400", "401", "402", "403", "300", "301", "302", "303")
	run(t, x, "xrandr", "--addmode", "screen", "400x300")
	run(t, x, "xrandr", "--output", "screen", "--mode", "400x300")
	waitSize(t, fb, 400, 300)
	waitSame(t, x, fb, "after xrandr 400x300")
	run(t, x, "xrandr", "--output", "screen", "--mode", "640x480")
	waitSize(t, fb, 640, 480)
	waitSame(t, x, fb, "after xrandr 640x480")
}

func waitSize(t *testing.T, fb *rfb.Framebuffer, w, h int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		gw, gh := fb.Size()
		if gw == w && gh == h {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("framebuffer is %dx%d, want %dx%d", gw, gh, w, h)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIdleCPU runs the capturer on an idle display and reports the CPU
// time the whole test process used. It is a figure, not a pass/fail.
// IDLE_CPU_SPAN=60s measures over a minute, as the issue asks; CI uses 3 s.
func TestIdleCPU(t *testing.T) {
	for _, noDamage := range []bool{false, true} {
		t.Run(fmt.Sprintf("noDamage=%v", noDamage), func(t *testing.T) {
			x := rfbtest.StartXvfb(t, 1920, 1080, 24)
			d := openDisplay(t, x)
			c, _ := startCapture(t, d, func(c *Capturer) { c.NoDamage = noDamage })
			time.Sleep(200 * time.Millisecond) // let the start settle
			frames := c.Frames()
			span := 3 * time.Second
			if v, err := time.ParseDuration(os.Getenv("IDLE_CPU_SPAN")); err == nil {
				span = v
			}
			before := cpuTime(t)
			time.Sleep(span)
			used := cpuTime(t) - before
			t.Logf("idle 1920x1080 (noDamage=%v): %v CPU in %v = %.2f%% of a core, %d frames",
				noDamage, used, span, 100*used.Seconds()/span.Seconds(), c.Frames()-frames)
		})
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCaptureFull is one full 1920x1080 capture into the framebuffer.
func BenchmarkCaptureFull(b *testing.B) {
	for _, noShm := range []bool{false, true} {
		b.Run(fmt.Sprintf("shm=%v", !noShm), func(b *testing.B) {
			x := rfbtest.StartXvfb(b, 1920, 1080, 24)
			d := openDisplay(b, x)
			c, _ := startCapture(b, d, func(c *Capturer) { c.NoShm = noShm; c.NoDamage = true; c.Poll = time.Hour })
			// Run owns c; a second capturer drives the benchmark on the same display.
			_ = c
			fb := rfb.NewFramebuffer(1, 1)
			bc := NewCapturer(d, fb)
			bc.NoShm = noShm
			f, err := d.pixelFormat()
			if err != nil {
				b.Fatal(err)
			}
			bc.format = f
			if err := bc.resize(); err != nil {
				b.Fatal(err)
			}
			defer bc.freeBuffers()
			b.SetBytes(1920 * 1080 * 4)
			b.ResetTimer()
			for b.Loop() {
				if err := bc.captureRects([]image.Rectangle{image.Rect(0, 0, 1920, 1080)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDamageLatency measures the time from a drawing request (a
// window filled by another client, synced) until the capturer has put the
// change into the framebuffer, for a lone change after a quiet spell (the
// 1 ms first batch) and for changes 5 ms apart (coalesced at Batch). It
// reports the median and p95 besides ns/op.
func BenchmarkDamageLatency(b *testing.B) {
	for _, gap := range []time.Duration{2 * quietGap, 5 * time.Millisecond} {
		b.Run("gap="+gap.String(), func(b *testing.B) {
			x := rfbtest.StartXvfb(b, 1920, 1080, 24)
			d := openDisplay(b, x)
			capt, _ := startCapture(b, d, nil)
			c, err := xgb.NewConnDisplay(x.Display)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			scr := xproto.Setup(c).DefaultScreen(c)
			win, _ := xproto.NewWindowId(c)
			xproto.CreateWindow(c, scr.RootDepth, win, scr.Root, 100, 100, 800, 600, 0,
				xproto.WindowClassInputOutput, scr.RootVisual, 0, nil)
			xproto.MapWindow(c, win)
			gc, _ := xproto.NewGcontextId(c)
			xproto.CreateGC(c, gc, xproto.Drawable(win), xproto.GcForeground, []uint32{0})
			if _, err := xproto.GetInputFocus(c).Reply(); err != nil {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				frames := capt.Frames()
				start := time.Now()
				xproto.ChangeGC(c, gc, xproto.GcForeground, []uint32{uint32(i*0x10101) & 0xffffff})
				xproto.PolyFillRectangle(c, xproto.Drawable(win), gc, []xproto.Rectangle{{X: 0, Y: 0, Width: 800, Height: 600}})
				if _, err := xproto.GetInputFocus(c).Reply(); err != nil {
					b.Fatal(err)
				}
				for capt.Frames() == frames {
					time.Sleep(50 * time.Microsecond)
				}
				lat = append(lat, time.Since(start))
				time.Sleep(gap)
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// Paused (no viewer), the capturer reads nothing however the screen
// changes; resumed, it catches up with the whole screen. With DAMAGE and
// with the polling fallback.
func TestCapturePaused(t *testing.T) {
	for _, noDamage := range []bool{false, true} {
		t.Run(fmt.Sprintf("noDamage=%v", noDamage), func(t *testing.T) {
			x := rfbtest.StartXvfb(t, 320, 240, 24)
			d := openDisplay(t, x)
			c, fb := startCapture(t, d, func(c *Capturer) { c.NoDamage = noDamage })
			waitSame(t, x, fb, "first frame")
			c.SetActive(false)
			time.Sleep(300 * time.Millisecond) // a capture under way ends
			before := c.Frames()
			for _, colour := range []string{"#102030", "#405060", "#708090"} {
				run(t, x, "xsetroot", "-solid", colour)
				time.Sleep(150 * time.Millisecond)
			}
			if n := c.Frames() - before; n != 0 {
				t.Errorf("%d captures while paused", n)
			}
			c.SetActive(true)
			waitSame(t, x, fb, "after resuming")
		})
	}
}
