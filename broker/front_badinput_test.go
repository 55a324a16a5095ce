package broker_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/broker/wsconn"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// A peer that stops at each layer of the front is closed after the
// handshake timeout, and leaves no goroutine and no descriptor: in the
// TLS handshake, in the HTTP upgrade request, and in the RFB handshake
// inside the WebSocket.
func TestFrontSlowloris(t *testing.T) {
	cfg := testConfig(t)
	cfg.HandshakeTimeout = broker.Duration(300 * time.Millisecond)
	tb := startBroker(t, cfg)
	tb.warmFront(t)
	leaks := leakBaseline(t)
	tlsDial := func(t *testing.T) *tls.Conn {
		c, err := tls.Dial("tcp", tb.httpsAddr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		open func(t *testing.T) net.Conn
	}{
		{"tls handshake", func(t *testing.T) net.Conn {
			c, err := net.Dial("tcp", tb.httpsAddr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // a ClientHello's first bytes
			return c
		}},
		{"upgrade request", func(t *testing.T) net.Conn {
			c := tlsDial(t)
			io.WriteString(c, "GET /rfb HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n") // and no end
			return c
		}},
		{"rfb inside the websocket", func(t *testing.T) net.Conn {
			c := tlsDial(t)
			io.WriteString(c, "GET /rfb HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
			return c // the broker greets; the viewer never answers
		}},
		{"agent inside the websocket", func(t *testing.T) net.Conn {
			c := tlsDial(t)
			io.WriteString(c, "GET /agent HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
			return c // no inner TLS handshake follows
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.open(t)
			defer c.Close()
			start := time.Now()
			expectClose(t, c, 5*time.Second)
			if d := time.Since(start); d < 250*time.Millisecond {
				t.Fatalf("closed after %v, before the handshake timeout", d)
			}
		})
	}
	leaks()
}

// A WebSocket frame over the limit is answered with close status 1009
// and the connection closed, on /rfb and on /agent.
func TestFrontOversizedFrame(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	for _, path := range []string{"/rfb", "/agent"} {
		c, err := tls.Dial("tcp", tb.httpsAddr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		c.SetDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufioReader(c), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("%s: upgrade: %v %v", path, resp, err)
		}
		// A masked binary frame claiming 64 MiB.
		hdr := []byte{0x82, 0x80 | 127}
		hdr = binary.BigEndian.AppendUint64(hdr, 64<<20)
		c.Write(append(hdr, 1, 2, 3, 4))
		got, _ := io.ReadAll(c)
		// Whatever RFB the broker said first, the last frame is the close
		// with 1009.
		i := strings.LastIndex(string(got), "\x88")
		if i < 0 || len(got) < i+4 || binary.BigEndian.Uint16(got[i+2:]) != 1009 {
			t.Fatalf("%s: no close 1009 in %q", path, got)
		}
		c.Close()
	}
}

// TestFrontFlood: 10,000 connections to the HTTPS front from 10,000
// loopback addresses (TLS and gone, a plain GET of /agent, an upgrade
// then garbage, an upgrade then a wrong code), while legitimate pairs
// through /agent and /rfb keep getting exact pixels. Memory stays
// bounded and nothing is left behind.
func TestFrontFlood(t *testing.T) {
	const (
		total   = 10000
		workers = 32
		limit   = 4 * time.Minute
	)
	raiseFileLimit(t, 4*workers+1024)
	cfg := testConfig(t)
	// The race detector and the flood share two cores: the legitimate
	// pairs' handshakes may wait longer than the tests' usual 2 s.
	cfg.HandshakeTimeout = broker.Duration(15 * time.Second)
	// And the agent's data connection, a full handshake through the same
	// flooded port, may take longer than the tests' usual 5 s of consent.
	cfg.ConsentTimeout = broker.Duration(30 * time.Second)
	tb := startBrokerLog(t, cfg, slog.New(slog.DiscardHandler))
	tb.warmFront(t)
	leaks := leakBaseline(t)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	// The flood's TLS skips the certificate check and resumes nothing:
	// every connection costs the broker a full handshake.
	clientTLS := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	upgrade := func(path string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	}
	var next, done, dialErrs atomic.Int64
	var peak atomic.Uint64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				d := net.Dialer{LocalAddr: floodAddr(i), Timeout: 5 * time.Second}
				raw, err := d.DialContext(ctx, "tcp", tb.httpsAddr)
				if err != nil {
					dialErrs.Add(1)
					continue
				}
				raw.SetDeadline(time.Now().Add(10 * time.Second))
				c := tls.Client(raw, clientTLS)
				if err := c.Handshake(); err == nil {
					switch i % 4 {
					case 0: // TLS and gone
					case 1:
						io.WriteString(c, "GET /agent HTTP/1.1\r\nHost: x\r\n\r\n")
						io.Copy(io.Discard, io.LimitReader(c, 4096))
					case 2:
						io.WriteString(c, upgrade("/agent"))
						c.Write([]byte("\x82\x85garbagegarbage"))
					case 3:
						io.WriteString(c, upgrade("/rfb"))
						c.Write([]byte("\x82\x8c\x00\x00\x00\x00RFB 003.008\n"))
					}
				}
				c.Close()
				if n := done.Add(1); n%1000 == 0 {
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
				}
			}
		})
	}
	flooding := make(chan struct{})
	go func() { wg.Wait(); close(flooding) }()

	pairs := 0
	for running := true; running && pairs < 1000; {
		select {
		case <-flooding:
			running = false
		default:
		}
		img := rfbtest.Pattern(24, 16, uint8(pairs))
		cfg := tb.linkConfig("")
		// Under the flood, on two cores with the race detector, a
		// handshake may take longer than the product's 3 s per way.
		cfg.AttemptTimeout = 20 * time.Second
		cfg.Paths = []agentlink.Path{{Kind: agentlink.PathTLS, Addr: tb.httpsAddr}} // ALPN on the front's port
		if pairs%2 == 1 {
			cfg.Paths = []agentlink.Path{{Kind: agentlink.PathWebSocket, Addr: tb.httpsAddr}}
		}
		a := startAgentConfig(t, cfg, img, "")
		c, err := dialWebViewer(t, tb, rfb.ClientConfig{Password: a.link.Code()}, nil)
		if err != nil {
			t.Fatalf("legitimate pair %d during the flood (%d flood connections done): %v", pairs, done.Load(), err)
		}
		syncTo(t, c, img)
		c.Close()
		pairs++
	}
	m := tb.Metrics()
	t.Logf("front flood: %d connections from %d addresses (%d dial errors); %d legitimate pairs meanwhile; "+
		"broker: %d refused, %d handshake errors; test process heap peak %d MiB (%d MiB before)",
		done.Load(), min(next.Load(), total), dialErrs.Load(), pairs, m.RefusedConns.Load(), m.HandshakeErrors.Load(),
		peak.Load()>>20, before.HeapInuse>>20)
	if ctx.Err() != nil {
		t.Fatalf("flood not done within %v: %d connections", limit, done.Load())
	}
	if done.Load() < total*9/10 {
		t.Fatalf("only %d of %d flood connections went through", done.Load(), total)
	}
	if pairs < 2 {
		t.Fatalf("%d legitimate pairs during the flood", pairs)
	}
	// Bounded: the heap is back near where it was once the flood is gone.
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.HeapInuse > before.HeapInuse+64<<20 {
		t.Fatalf("heap %d MiB after the flood, %d MiB before", after.HeapInuse>>20, before.HeapInuse>>20)
	}
	tb.stop()
	leaks()
}

// warmFront makes one request to the front, so that its server's
// goroutines have started before a test takes its baseline.
func (tb *testBroker) warmFront(t *testing.T) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: tb.brokerTLS()}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + tb.httpsAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 256) }

// An address that may not try another code now is greeted and told why
// and when to come back, on every viewer port, instead of a bare close.
func TestRefusalsSayWhyAndWhen(t *testing.T) {
	cfg := testConfig(t)
	cfg.GlobalFailureRate = 1 // one wrong code a minute from everyone
	tb := startBroker(t, cfg)
	from := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 77)}
	dial := func(addr string) net.Conn {
		d := net.Dialer{LocalAddr: from}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// One wrong code spends the minute's budget and makes the address
	// suspect.
	if _, err := rfb.NewClient(ctx, dial(tb.viewerAddr), rfb.ClientConfig{Password: "100001",
		Security: []rfb.SecurityType{rfb.SecVNCAuth}}); err == nil {
		t.Fatal("a wrong code was accepted")
	}
	const says = "wrong codes were tried recently; try again in "
	if _, err := rfb.NewClient(ctx, dial(tb.viewerAddr), rfb.ClientConfig{Password: "x"}); !strings.Contains(fmt.Sprint(err), says) {
		t.Fatalf("5511: %v, want a refusal saying %q", err, says)
	}
	rc := dial(tb.repeaterAddr)
	io.ReadFull(rc, make([]byte, 12))
	rc.Write(append([]byte("ID:100002"), make([]byte, 241)...))
	if _, err := rfb.NewClient(ctx, rc, rfb.ClientConfig{Password: "x"}); !strings.Contains(fmt.Sprint(err), says) {
		t.Fatalf("5514: %v, want a refusal saying %q", err, says)
	}
	ws, err := wsconn.Dial(ctx, "wss://"+tb.httpsAddr+"/rfb", wsconn.DialOptions{TLS: tb.brokerTLS(),
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) { return dial(addr), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rfb.NewClient(ctx, ws, rfb.ClientConfig{Password: "x"}); !strings.Contains(fmt.Sprint(err), says) {
		t.Fatalf("wss: %v, want a refusal saying %q", err, says)
	}
}

// The repeater port is cleartext end to end, so it is open to the
// plain-auth networks only; a viewer from elsewhere is told where to go.
func TestRepeaterNetworkPolicy(t *testing.T) {
	cfg := testConfig(t)
	cfg.PlainVNCAuthNetworks = nil // loopback counts as outside
	tb := startBroker(t, cfg)
	a := startAgent(t, tb, "", rfbtest.Pattern(16, 16, 3), "")
	c, err := net.Dial("tcp", tb.repeaterAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.ReadFull(c, make([]byte, 12))
	c.Write(append([]byte("ID:"+a.link.Code()), make([]byte, 241)...))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = rfb.NewClient(ctx, c, rfb.ClientConfig{Password: "x"})
	if !strings.Contains(fmt.Sprint(err), "unencrypted") || !strings.Contains(fmt.Sprint(err), "5511") {
		t.Fatalf("repeater from outside: %v", err)
	}
	if st, _ := tb.Codes().Lookup(a.link.Code()); st != broker.StateWaiting {
		t.Fatalf("the code was touched: %v", st)
	}
}
