//go:build interop && linux

package rfb_test

import (
	"context"
	"fmt"
	"image"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// BenchmarkWire is the whole-agent suite (issue 17): the agent
// (cmd/winvnc in direct mode), TigerVNC's x0tigervncserver and x11vnc
// serve one 1920x1080x24 Xvfb in turn, to the same Go viewer, while a
// workload changes the screen:
//
//   - scroll: an xterm (120x50) printing 600 lines of text at 100 lines a
//     second;
//   - drag: an xterm with a coloured listing moved across the screen 60
//     times a second, as a window manager moves a dragged window;
//   - photo: a 1280x800 window showing another photo every 500 ms;
//   - animation: a ball and a hand going round in a 240x240 window at 30
//     frames a second;
//   - clock: xclock with a second hand.
//
// Each workload runs 6 s. The viewer behaves as TigerVNC's vncviewer does
// at its defaults: Tight (or ZRLE) with CopyRect, compression level 2,
// JPEG quality level 8, continuous updates and fences where the server
// offers them, else one incremental request after each update. Over
// link=lan it talks to the server over loopback; over link=slow through
// rfbtest.Link, an emulated path of 10 Mbit/s with a 40 ms round trip
// and a 64 KiB bottleneck queue.
//
// Reported per run: MB the server sent from the start of the workload
// until the viewer shows its end (MB), the server's CPU time in that
// span (cpu-ms), updates a second (upd/s), lag-ms: the time from the
// last change on the screen (seen by a DAMAGE watcher of the benchmark's
// own) until the viewer shows the final screen (4x4-averaged luma within
// 24 levels in all but 16 cells, so JPEG's noise counts as shown),
// tail-ms: from the last change to the last update (a lossless refresh
// included), and the server's RSS when idle before the workload and at
// most during it (rss-idle-MiB, rss-busy-MiB), the idle one read
// wireSettle after the first picture went quiet, and the RSS wireSettle
// after the workload's end (rss-after-MiB). For the photo, also how many
// of the photos the workload put up the viewer showed whole (frames: a
// server that sends a photo in parts, or skips it, shows fewer) and the
// server's CPU time per frame shown (cpu-ms/frame).
//
// The server is the innermost level, so the three servers run one after
// the other on the same workload. -count repeats each sub-benchmark in
// place; to interleave the repetitions too, run the suite three times
// with -count 1 and compare medians:
//
//	go test -c -tags interop -o wire.test ./rfb/
//	for i in 1 2 3; do (cd rfb && ../wire.test -test.run '^$' -test.bench Wire -test.benchtime 1x -test.timeout 90m); done | tee wire.txt
func BenchmarkWire(b *testing.B) {
	rfbtest.LookPath(b, "Xvfb", "xterm", "xclock", "perl", "x11vnc", "X0tigervnc", "xsetroot")
	x := rfbtest.StartXvfb(b, 1920, 1080, 24)
	d := openWireDesk(b, x)
	links := []wireLink{{name: "lan"}, {name: "slow", bits: 10e6, oneWay: 20 * time.Millisecond}}
	for _, link := range links {
		for _, load := range wireLoads {
			for _, enc := range load.encs {
				for _, srv := range wireServers {
					name := fmt.Sprintf("link=%s/load=%s/enc=%s/server=%s", link.name, load.name, enc, srv.name)
					b.Run(name, func(b *testing.B) {
						r := runWire(b, d, srv, load, enc, link)
						r.report(b)
					})
				}
			}
		}
	}
}

// wireDuration is how long each workload changes the screen.
const wireDuration = 6 * time.Second

// wireSettle is how long a server is left idle before its idle RSS is
// read (the agent gives freed memory back a second or two after a burst).
const wireSettle = 3 * time.Second

type wireLink struct {
	name   string
	bits   float64
	oneWay time.Duration
}

// wireServer starts a server on the desk's display and returns its
// address, password and process id.
type wireServer struct {
	name  string
	start func(b *testing.B, x *rfbtest.Xvfb) (addr, password string, pid int)
}

var wireServers = []wireServer{
	{"agent", func(b *testing.B, x *rfbtest.Xvfb) (string, string, int) {
		port, pw, pid := startAgentPid(b, x)
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), pw, pid
	}},
	{"x0vncserver", func(b *testing.B, x *rfbtest.Xvfb) (string, string, int) {
		port := rfbtest.FreePort(b)
		// X0tigervnc is the server itself; x0vncserver is a Perl wrapper
		// around it, whose process would not show the server's CPU.
		p := rfbtest.Start(b, x.Env(), "X0tigervnc", "-display", x.Display, "-rfbport", strconv.Itoa(port),
			"-SecurityTypes", "None", "-localhost=1")
		b.Cleanup(func() { p.Stop(5 * time.Second) }) // its SHM segment goes with it
		waitPort(b, port)
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), "", p.Pid()
	}},
	{"x11vnc", func(b *testing.B, x *rfbtest.Xvfb) (string, string, int) {
		port := rfbtest.FreePort(b)
		p := rfbtest.Start(b, x.Env(), "x11vnc", "-display", x.Display, "-rfbport", strconv.Itoa(port),
			"-localhost", "-nopw", "-forever", "-shared", "-quiet")
		b.Cleanup(func() { p.Stop(5 * time.Second) }) // its 62 SHM segments go with it
		waitPort(b, port)
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), "", p.Pid()
	}},
}

func waitPort(b *testing.B, port int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rfbtest.WaitListening(ctx, port); err != nil {
		b.Fatal(err)
	}
}

// wireResult is what one run measured.
type wireResult struct {
	bytes            int64
	updates          int
	cpu              time.Duration
	lag, tail        time.Duration
	rssIdle, rssBusy int64
	rssAfter         int64
	shownOK          bool
	// frames: how many of the workload's frames the viewer showed
	// whole; 0 when the workload does not name its frames.
	frames int
}

func (r wireResult) report(b *testing.B) {
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(r.bytes)/1e6, "MB")
	b.ReportMetric(float64(r.cpu.Milliseconds()), "cpu-ms")
	b.ReportMetric(float64(r.updates)/wireDuration.Seconds(), "upd/s")
	if r.shownOK {
		b.ReportMetric(float64(r.lag.Microseconds())/1000, "lag-ms")
	}
	b.ReportMetric(float64(r.tail.Microseconds())/1000, "tail-ms")
	b.ReportMetric(float64(r.rssIdle)/(1<<20), "rss-idle-MiB")
	b.ReportMetric(float64(r.rssBusy)/(1<<20), "rss-busy-MiB")
	b.ReportMetric(float64(r.rssAfter)/(1<<20), "rss-after-MiB")
	if r.frames > 0 {
		b.ReportMetric(float64(r.frames), "frames")
		b.ReportMetric(float64(r.cpu.Microseconds())/1000/float64(r.frames), "cpu-ms/frame")
	}
	b.Logf("%.2f MB, %d updates, %d frames shown, cpu %v, lag %v (shown %v), tail %v, rss %.1f/%.1f MiB",
		float64(r.bytes)/1e6, r.updates, r.frames, r.cpu, r.lag, r.shownOK, r.tail,
		float64(r.rssIdle)/(1<<20), float64(r.rssBusy)/(1<<20))
}

func runWire(b *testing.B, d *wireDesk, srv wireServer, load wireLoad, enc string, link wireLink) wireResult {
	run := load.setup(b, d)
	d.waitQuiet(b, 300*time.Millisecond, 10*time.Second)
	addr, pw, pid := srv.start(b, d.x)
	if link.bits > 0 {
		addr = rfbtest.StartLink(b, addr, link.bits, link.oneWay, 0).Addr
	}
	v := startWireViewer(b, addr, pw, enc)
	// The first picture, and quiet.
	if !v.waitIdle(time.Second, 60*time.Second) {
		b.Fatalf("the viewer never went quiet after the first picture")
	}
	var res wireResult
	time.Sleep(wireSettle)
	res.rssIdle = procRSS(pid)
	cpu0 := procCPU(pid)
	bytes0 := v.bytes.Load()
	updates0 := v.updates.Load()
	busy := sampleRSS(pid)

	v.record(true)
	run.start()
	time.Sleep(wireDuration)
	run.stop()
	if run.last != nil {
		b.Log(run.last())
	}
	// Wait until the screen and the viewer are still.
	d.waitQuiet(b, time.Second, 30*time.Second)
	v.waitIdle(2*time.Second, 90*time.Second)
	v.record(false)
	res.cpu = procCPU(pid) - cpu0
	res.rssBusy = max(busy(), res.rssIdle)
	res.bytes = v.bytes.Load() - bytes0
	res.updates = int(v.updates.Load() - updates0)
	time.Sleep(wireSettle)
	res.rssAfter = procRSS(pid)
	final := d.screen(b)
	last := d.lastChange()
	if run.frames != nil {
		res.frames = v.framesShown(run.frames())
	}
	shown, lastUpdate, ok := v.shown(final)
	res.shownOK = ok
	res.lag = shown.Sub(last)
	res.tail = lastUpdate.Sub(last)
	if !ok {
		b.Logf("the viewer never showed the final screen")
	}
	v.close()
	return res
}

// procCPU returns the user and system time of process pid.
func procCPU(pid int) time.Duration {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may contain spaces) in parentheses.
	_, rest, ok := strings.Cut(string(s), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// procRSS returns the resident set of process pid in bytes.
func procRSS(pid int) int64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(s), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}

// sampleRSS samples pid's RSS every 100 ms until the returned function
// is called, which returns the largest sample.
func sampleRSS(pid int) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if r := procRSS(pid); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() int64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// countingConn counts the bytes read.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// wireViewer is the Go client acting as TigerVNC's viewer.
type wireViewer struct {
	c       *rfb.Client
	bytes   atomic.Int64
	updates atomic.Int64
	last    atomic.Int64 // unix nanoseconds of the last update

	mu        sync.Mutex
	recording bool
	snaps     []wireSnap // while recording, the last maxSnaps
	done      chan struct{}
	err       error
}

// wireSnap is the viewer's picture after an update: its luma averaged
// over 4x4 blocks.
type wireSnap struct {
	t    time.Time
	luma []uint8
}

const maxSnaps = 600

func startWireViewer(b *testing.B, addr, password, enc string) *wireViewer {
	b.Helper()
	v := &wireViewer{done: make(chan struct{})}
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := rfb.NewClient(ctx, countingConn{Conn: conn, n: &v.bytes}, rfb.ClientConfig{Password: password})
	if err != nil {
		b.Fatal(err)
	}
	v.c = c
	data := []rfb.Encoding{rfb.EncTight, rfb.EncCopyRect, rfb.EncZRLE, rfb.EncHextile, rfb.EncRaw}
	if enc == "zrle" {
		data = []rfb.Encoding{rfb.EncZRLE, rfb.EncCopyRect, rfb.EncTight, rfb.EncHextile, rfb.EncRaw}
	}
	encs := append(data, rfb.EncCursorWithAlpha, rfb.EncCursor, rfb.EncDesktopSize, rfb.EncExtendedDesktopSize,
		rfb.EncLastRect, rfb.EncContinuousUpdates, rfb.EncFence, rfb.EncCompressLevel0+2, rfb.EncQualityLevel0+8)
	if err := c.SetEncodings(encs...); err != nil {
		b.Fatal(err)
	}
	if err := c.RequestFull(); err != nil {
		b.Fatal(err)
	}
	go v.read()
	b.Cleanup(v.close)
	return v
}

func (v *wireViewer) read() {
	defer close(v.done)
	w, h := v.c.Size()
	full := image.Rect(0, 0, w, h)
	cu := false
	for {
		m, err := v.c.ReadMessage()
		if err != nil {
			v.mu.Lock()
			v.err = err
			v.mu.Unlock()
			return
		}
		switch m.(type) {
		case *rfb.EndOfContinuousUpdates:
			if !cu && v.c.ServerSupports(rfb.EncFence) {
				cu = true
				err = v.c.Send(&rfb.EnableContinuousUpdates{Enable: true, Rect: full})
			}
		case *rfb.FramebufferUpdate:
			now := time.Now()
			v.updates.Add(1)
			v.last.Store(now.UnixNano())
			if !cu {
				err = v.c.RequestUpdate(true, full)
			}
			v.mu.Lock()
			if v.recording {
				v.snaps = append(v.snaps, wireSnap{t: now, luma: lumaBlocks(v.c.Framebuffer())})
				if len(v.snaps) > maxSnaps {
					v.snaps = slices.Delete(v.snaps, 0, len(v.snaps)-maxSnaps)
				}
			}
			v.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (v *wireViewer) record(on bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.recording = on
	if on {
		v.snaps = nil
	}
}

// waitIdle waits until no update has arrived for quiet, at most limit;
// it reports whether it got there.
func (v *wireViewer) waitIdle(quiet, limit time.Duration) bool {
	end := time.Now().Add(limit)
	start := time.Now()
	for time.Now().Before(end) {
		last := time.Unix(0, v.last.Load())
		if last.Before(start) {
			last = start
		}
		if time.Since(last) >= quiet {
			return true
		}
		select {
		case <-v.done:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// shown returns when the viewer first showed final for good (the update
// after the last recorded picture that did not), when the last update
// arrived, and whether it shows final at all.
func (v *wireViewer) shown(final *rfb.Image) (first, last time.Time, ok bool) {
	want := lumaBlocks(final)
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.snaps) == 0 {
		return time.Time{}, time.Time{}, false
	}
	last = v.snaps[len(v.snaps)-1].t
	i := len(v.snaps)
	for i > 0 && lumaClose(v.snaps[i-1].luma, want) {
		i--
	}
	if i == len(v.snaps) {
		return last, last, false
	}
	return v.snaps[i].t, last, true
}

// framesShown counts the frames the viewer showed whole in its recorded
// pictures: a frame counts each time a picture shows it after pictures
// that showed none or another frame. The first frame is on the screen
// when the recording starts (a lossless refresh of it does not count).
func (v *wireViewer) framesShown(fr wireFrames) int {
	want := make([][]uint8, len(fr.images))
	for i, m := range fr.images {
		want[i] = lumaBlocks(m)
	}
	bw, bx, by := v.c.Framebuffer().W/4, fr.at.X/4, fr.at.Y/4
	region := func(luma []uint8, w, h int) []uint8 {
		out := make([]uint8, 0, w*h)
		for y := range h {
			out = append(out, luma[(by+y)*bw+bx:][:w]...)
		}
		return out
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n, prev := 0, 0
	for _, s := range v.snaps {
		cur := -1
		for i, w := range want {
			if lumaClose(region(s.luma, fr.images[i].W/4, fr.images[i].H/4), w) {
				cur = i
				break
			}
		}
		if cur >= 0 && cur != prev {
			n++
		}
		prev = cur
	}
	return n
}

func (v *wireViewer) close() {
	v.c.Close()
	<-v.done
}

// lumaBlocks averages the luma of m over 4x4 blocks.
func lumaBlocks(m *rfb.Image) []uint8 {
	bw, bh := m.W/4, m.H/4
	out := make([]uint8, bw*bh)
	sums := make([]int, bw)
	for by := range bh {
		clear(sums)
		for y := by * 4; y < by*4+4; y++ {
			row := m.Pix[y*m.Stride:]
			for x := range bw * 4 {
				p := row[x*4 : x*4+3]
				// BT.601 luma, scaled by 256.
				sums[x/4] += 29*int(p[0]) + 150*int(p[1]) + 77*int(p[2])
			}
		}
		for bx := range bw {
			out[by*bw+bx] = uint8(sums[bx] / (16 * 256))
		}
	}
	return out
}

// lumaClose reports whether two block pictures differ by more than 24
// levels in at most 16 blocks.
func lumaClose(a, b []uint8) bool {
	if len(a) != len(b) {
		return false
	}
	n := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d > 24 || d < -24 {
			if n++; n > 16 {
				return false
			}
		}
	}
	return true
}
