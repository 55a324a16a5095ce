package broker_test

import (
	"crypto/tls"
	"net"
	"runtime"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
)

// rawAgent registers a code over a TLS connection it then drives by
// hand; rcvbuf, if not 0, shrinks its receive buffer first.
func rawAgent(t *testing.T, tb *testBroker, rcvbuf int) (*tls.Conn, string) {
	t.Helper()
	raw, err := net.Dial("tcp", tb.agentAddr)
	if err != nil {
		t.Fatal(err)
	}
	if rcvbuf > 0 {
		raw.(*net.TCPConn).SetReadBuffer(rcvbuf)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	t.Cleanup(func() { c.Close() })
	if err := agentlink.WriteMessage(c, &agentlink.Hello{Version: agentlink.ProtocolVersion, WantCode: true}); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := agentlink.ReadMessage(c)
	w, ok := m.(*agentlink.Welcome)
	if err != nil || !ok {
		t.Fatalf("Welcome: %v %v", m, err)
	}
	return c, w.Code
}

// TestSilentAgentDropped: an agent whose link is parked (no goroutine
// reads it) and which stops answering is dropped after the link timeout:
// its code is void and the broker's agent count back.
func TestSilentAgentDropped(t *testing.T) {
	cfg := testConfig(t)
	cfg.KeepAlive = broker.Duration(100 * time.Millisecond)
	cfg.LinkTimeout = broker.Duration(500 * time.Millisecond)
	tb := startBroker(t, cfg)
	_, code := rawAgent(t, tb, 0) // reads nothing, answers no Ping
	if _, ok := tb.Codes().Lookup(code); !ok {
		t.Fatal("code not live")
	}
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, live := tb.Codes().Lookup(code)
		if !live && tb.Metrics().Agents.Load() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("silent agent still registered 3 s on (code live %v, agents %d)", live, tb.Metrics().Agents.Load())
		}
	}
}

// TestPingFlood: an agent that floods Pings and reads nothing gets at
// most one Pong in flight; the broker's goroutines stay bounded.
func TestPingFlood(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	c, _ := rawAgent(t, tb, 4096)
	base := runtime.NumGoroutine()
	frame, _ := agentlink.AppendFrame(nil, &agentlink.Ping{})
	burst := make([]byte, 0, len(frame)*1000)
	for range 1000 {
		burst = append(burst, frame...)
	}
	peak := 0
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for range 50 {
		if _, err := c.Write(burst); err != nil {
			break // the broker stopped reading: fine
		}
		peak = max(peak, runtime.NumGoroutine())
	}
	time.Sleep(200 * time.Millisecond)
	peak = max(peak, runtime.NumGoroutine())
	if peak > base+20 {
		t.Fatalf("%d goroutines during a Ping flood, %d before", peak, base)
	}
}

// TestFrameBehindHello: a frame that arrives in the same TLS record as
// the Hello (here an End, which withdraws the code) is acted on, though
// no more bytes come to wake the parked link.
func TestFrameBehindHello(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	raw, err := net.Dial("tcp", tb.agentAddr)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	defer c.Close()
	b, _ := agentlink.AppendFrame(nil, &agentlink.Hello{Version: agentlink.ProtocolVersion, WantCode: true})
	b, _ = agentlink.AppendFrame(b, &agentlink.End{Reason: "changed my mind"})
	if _, err := c.Write(b); err != nil { // one write: one TLS record
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := agentlink.ReadMessage(c)
	w, ok := m.(*agentlink.Welcome)
	if err != nil || !ok {
		t.Fatalf("Welcome: %v %v", m, err)
	}
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, live := tb.Codes().Lookup(w.Code); !live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the End behind the Hello was never acted on: the code is live")
		}
	}
}
