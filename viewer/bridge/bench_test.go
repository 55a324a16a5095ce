package bridge_test

import (
	"context"
	"image"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/bridge"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
)

// roundTrip is one RFB round trip: a non-incremental update request for
// one pixel, answered at once with a one-pixel update.
func roundTrip(b *testing.B, c *rfb.Client) time.Duration {
	t0 := time.Now()
	if err := c.RequestUpdate(false, image.Rect(0, 0, 1, 1)); err != nil {
		b.Fatal(err)
	}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := m.(*rfb.FramebufferUpdate); ok {
			return time.Since(t0)
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// BenchmarkBridgeLatency compares a viewer's round trip through the
// bridge (loopback, then TLS and WebSocket to the broker's HTTPS front)
// with the same round trip on 5511 (plain VNC Authentication, allowed
// from loopback), side by side: the two sessions' round trips alternate,
// so both see the same machine load. Reported: the medians and 90th
// percentiles of each, and the median added by the bridge.
func BenchmarkBridgeLatency(b *testing.B) {
	env := desktest.Start(b, desktest.Options{Log: slog.New(slog.DiscardHandler)})
	env.AddAccount(b, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	img := rfbtest.Pattern(64, 48, 1)

	// 5511 directly.
	a1 := env.StartAgent(b, "", img)
	conn, err := net.Dial("tcp", env.ViewerAddr)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	direct, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: a1.Link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()

	// Through the bridge.
	a2 := env.StartAgent(b, "", img)
	tlsCfg, _ := bridge.PinnedTLS(env.Broker.Fingerprint())
	br, err := bridge.Listen(bridge.Config{URL: env.URL, Token: env.Token(b, "anna"), Code: a2.Link.Code(), TLS: tlsCfg})
	if err != nil {
		b.Fatal(err)
	}
	go br.Serve(context.Background())
	conn2, err := net.Dial("tcp", br.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	bridged, err := rfb.NewClient(ctx, conn2, rfb.ClientConfig{Password: br.Password()})
	if err != nil {
		b.Fatal(err)
	}
	defer bridged.Close()

	for range 50 { // warm up both paths
		roundTrip(b, direct)
		roundTrip(b, bridged)
	}
	var d5511, dBridge []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			d5511 = append(d5511, roundTrip(b, direct))
			dBridge = append(dBridge, roundTrip(b, bridged))
		} else {
			dBridge = append(dBridge, roundTrip(b, bridged))
			d5511 = append(d5511, roundTrip(b, direct))
		}
	}
	b.StopTimer()
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(median(d5511)), "5511-median-µs")
	b.ReportMetric(us(percentile(d5511, 0.9)), "5511-p90-µs")
	b.ReportMetric(us(median(dBridge)), "bridge-median-µs")
	b.ReportMetric(us(percentile(dBridge, 0.9)), "bridge-p90-µs")
	b.ReportMetric(us(median(dBridge)-median(d5511)), "added-median-µs")
}
