package broker_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
)

// TestKeepAlive: an idle link lives far beyond the link timeout because
// both sides ping, and a peer that stops answering is dropped after it.
func TestKeepAlive(t *testing.T) {
	cfg := testConfig(t)
	cfg.CodeTTL = broker.Duration(time.Hour)
	synctest.Test(t, func(t *testing.T) {
		b, err := broker.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		serve := func() net.Conn {
			bc, ac := net.Pipe()
			go b.ServeAgent(ctx, bc)
			return ac
		}
		link, err := agentlink.Dial(ctx, agentlink.Config{Broker: "broker:5510", Fingerprint: b.Fingerprint(),
			Dial: func(context.Context, string, string) (net.Conn, error) { return serve(), nil }})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Minute)
		select {
		case <-link.Done():
			t.Fatalf("idle link died: %v", link.Err())
		default:
		}
		if st, ok := b.Codes().Lookup(link.Code()); !ok || st != broker.StateWaiting {
			t.Fatalf("code %v %v after 30 idle minutes", st, ok)
		}
		link.Close()

		// A peer that never answers a Ping is dropped.
		raw := tls.Client(serve(), &tls.Config{InsecureSkipVerify: true})
		if err := agentlink.WriteMessage(raw, &agentlink.Hello{Version: agentlink.ProtocolVersion, WantCode: true}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		pings := 0
		for {
			m, err := agentlink.ReadMessage(raw)
			if err != nil {
				break
			}
			if _, ok := m.(*agentlink.Ping); ok {
				pings++
			}
		}
		if d := time.Since(start); d != time.Duration(cfg.LinkTimeout) || pings == 0 {
			t.Fatalf("silent peer dropped after %v with %d pings, want %v", d, pings, time.Duration(cfg.LinkTimeout))
		}
		raw.Close()
		cancel()
		synctest.Wait()
	})
}
