//go:build interop && linux

package winvnc

import (
	"context"
	"fmt"
	"image"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// Screen-change-to-viewer latency (issue 5), on one 1920x1080x24 Xvfb,
// for our agent served directly, the same through an in-process broker,
// the Windows agent (winvnc.exe) under Wine on the same screen (issue 13),
// x11vnc and TigerVNC's x0vncserver, in one run.
//
// The screen change is a 400x300 override-redirect window filled with a
// new colour by an X client in this process (PolyFillRectangle, then a
// round trip so the server has drawn it). t0 is taken just before the
// drawing request is written. The viewer is our Go RFB client asking
// for Raw only; it keeps one incremental FramebufferUpdateRequest
// outstanding, sending the next one as soon as an update has been read
// and decoded. t1 is the time the first update after t0 has been read
// and decoded with the new colour at a probe pixel in the window. Each
// change waits for its arrival (at most changeTimeout); the next one
// starts pace after the previous one started, or at once if it took
// longer. The colours cycle so each change differs from the one before.
//
// Each sub-benchmark makes warmup+changes changes once, whatever b.N
// is (run it with -benchtime 1x), and reports the median and the p95 in
// milliseconds; ns/op is not meaningful and is not reported. Compare
// runs with benchstat or side by side: see docs/BENCHMARKS.md.
//
//	go test -tags interop -run '^$' -bench Latency -benchtime 1x -count 3 ./winvnc/
func BenchmarkLatency(b *testing.B) {
	rfbtest.LookPath(b, "Xvfb", "x11vnc", "x0vncserver")
	x := rfbtest.StartXvfb(b, 1920, 1080, 24)
	win := image.Rect(200, 150, 600, 450)
	probe := image.Pt(400, 300)
	p := newPainter(b, x.Display, win, latencyColours[0])

	servers := []struct {
		name  string
		start func(b *testing.B) (addr, password string)
	}{
		{"agent-direct", func(b *testing.B) (string, string) {
			pw := "latency"
			a := startBenchAgent(b, Config{Listen: "127.0.0.1:0", PasswordFile: writePasswordTB(b, pw), Display: x.Display})
			return a.wait(b, "the listen address"), pw
		}},
		{"agent-broker", func(b *testing.B) (string, string) {
			br, agentAddr, viewerAddr := startBenchBroker(b)
			a := startBenchAgent(b, Config{Broker: agentAddr, Fingerprint: br.Fingerprint(), Proxy: "direct",
				Name: "latency", Display: x.Display})
			return viewerAddr, a.wait(b, "the code")
		}},
		{"agent-wine", func(b *testing.B) (string, string) {
			// winvnc.exe under Wine without a virtual desktop: its screen is
			// this Xvfb's, painted by the same painter.
			w := rfbtest.StartWineRoot(b, x)
			return startWineAgentProc(b, w, writePasswordTB(b, "latency")).addr, "latency"
		}},
		{"x11vnc", func(b *testing.B) (string, string) {
			port := rfbtest.FreePort(b)
			rfbtest.Start(b, x.Env(), "x11vnc", "-display", x.Display, "-rfbport", strconv.Itoa(port),
				"-localhost", "-nopw", "-forever", "-shared", "-nocursor", "-quiet")
			return waitPeer(b, "x11vnc", port), ""
		}},
		{"x0vncserver", func(b *testing.B) (string, string) {
			port := rfbtest.FreePort(b)
			rfbtest.Start(b, x.Env(), "x0vncserver", "-display", x.Display, "-rfbport", strconv.Itoa(port),
				"-SecurityTypes", "None", "-localhost=1")
			return waitPeer(b, "x0vncserver", port), ""
		}},
	}
	for _, s := range servers {
		for _, pace := range latencyPaces {
			b.Run(fmt.Sprintf("server=%s/pace=%v", s.name, pace), func(b *testing.B) {
				addr, pw := s.start(b)
				v := startLatencyViewer(b, addr, pw, probe)
				measureLatency(b, p, v, pace)
			})
		}
	}
}

const (
	latencyChanges = 200
	latencyWarmup  = 10
	changeTimeout  = 2 * time.Second
)

// latencyPaces are the intervals between the starts of two changes.
// 25 ms is sustained drawing; 60 ms leaves the 50 ms of quiet after
// which the agent captures a lone change after 1 ms instead of its
// 5 ms batch.
var latencyPaces = []time.Duration{25 * time.Millisecond, 60 * time.Millisecond}

// latencyColours cycle; neighbours differ.
var latencyColours = []uint32{0x3050d0, 0xd03030, 0x30a030, 0xe0c020}

func measureLatency(b *testing.B, p *painter, v *latencyViewer, pace time.Duration) {
	// The window keeps the colour the last sub-benchmark left.
	cur := p.colour
	colour := slices.Index(latencyColours, cur)
	next := func() uint32 {
		colour = (colour + 1) % len(latencyColours)
		return latencyColours[colour]
	}
	// The first full update shows the window in its current colour.
	if _, ok := v.waitColour(cur, time.Time{}, waitTimeout); !ok {
		b.Fatalf("the viewer never showed the window's colour %06x", cur)
	}
	var lat []time.Duration
	missed := 0
	for i := range latencyWarmup + latencyChanges {
		rgb := next()
		t0 := time.Now()
		p.fill(b, rgb)
		t1, ok := v.waitColour(rgb, t0, changeTimeout)
		if !ok {
			if i >= latencyWarmup {
				missed++
			}
			// Resynchronise on the next change.
		} else if i >= latencyWarmup {
			lat = append(lat, t1.Sub(t0))
		}
		time.Sleep(time.Until(t0.Add(pace)))
	}
	if missed > latencyChanges/10 {
		b.Fatalf("%d of %d changes never reached the viewer within %v", missed, latencyChanges, changeTimeout)
	}
	med, p95 := quantiles(lat)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(med, "median-ms")
	b.ReportMetric(p95, "p95-ms")
	if missed > 0 {
		b.ReportMetric(float64(missed), "missed")
	}
	b.Logf("%d changes: median %s, p95 %s, %d missed", len(lat), fmtMs(med), fmtMs(p95), missed)
}

// waitPeer waits until a peer server listens on port and returns its
// address.
func waitPeer(b *testing.B, name string, port int) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := rfbtest.WaitListening(ctx, port); err != nil {
		b.Fatalf("%s did not listen: %v", name, err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
