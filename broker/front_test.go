package broker_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/broker/wsconn"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// frontPort is the test broker's HTTPS front port.
func (tb *testBroker) frontPort() string {
	_, p, _ := net.SplitHostPort(tb.httpsAddr)
	return p
}

// dialWebViewer opens RFB over wss://…/rfb as noVNC does. The bound is
// generous: under the flood tests, with the race detector on a loaded
// two-core machine, the agent's consent and data connection have taken
// over 10 s.
func dialWebViewer(t *testing.T, tb *testBroker, cfg rfb.ClientConfig, header http.Header) (*rfb.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	ws, err := wsconn.Dial(ctx, "wss://"+tb.httpsAddr+"/rfb", wsconn.DialOptions{TLS: tb.brokerTLS(), Header: header})
	if err != nil {
		t.Fatal(err)
	}
	return rfb.NewClient(ctx, ws, cfg)
}

// An agent on /agent (TLS inside the WebSocket) and a viewer on /rfb,
// in both flows: the viewer sees the agent's pixels.
func TestFrontWebSocketBothWays(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	img := rfbtest.Pattern(96, 64, 3)
	cfg := tb.linkConfig("")
	cfg.Paths = []agentlink.Path{{Kind: agentlink.PathWebSocket, Addr: tb.httpsAddr}}
	a := startAgentConfig(t, cfg, img, "")
	if p := a.link.Path(); p.Kind != agentlink.PathWebSocket {
		t.Fatalf("path %v, want the WebSocket", p)
	}
	c, err := dialWebViewer(t, tb, rfb.ClientConfig{Password: a.link.Code()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	syncTo(t, c, img)

	// Supporter first, the agent with ALPN on the front port itself.
	code, _, err := tb.Codes().Issue(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg = tb.linkConfig(code)
	cfg.Broker = tb.httpsAddr
	cfg.HTTPSPorts = []string{}
	a = startAgentConfig(t, cfg, img, "")
	if p := a.link.Path(); p.Kind != agentlink.PathTLS {
		t.Fatalf("path %v, want TLS with ALPN on the front", p)
	}
	c, err = dialWebViewer(t, tb, rfb.ClientConfig{Password: code}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	syncTo(t, c, img)
}

// A wrong code on /rfb is refused with the reason, as on 5511.
func TestFrontWrongCode(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	_, err := dialWebViewer(t, tb, rfb.ClientConfig{Password: "100001"}, nil)
	var ae *rfb.AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "session code") {
		t.Fatalf("wrong code: %v, want a refusal that names the session code", err)
	}
}

// With 5510 silently dropped (a listener that never answers), the agent
// reaches the broker over the front in about the stagger, not the
// attempt timeout.
func TestAgentFallsBackWhenAgentPortDrops(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	hole := rfbtest.Listen(t) // accepted by the kernel, never answered
	cfg := tb.linkConfig("")
	cfg.Broker = hole.Addr().String()
	cfg.HTTPSPorts = []string{tb.frontPort()}
	cfg.Stagger = 200 * time.Millisecond
	start := time.Now()
	link, err := agentlink.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	if p := link.Path(); p.Addr != tb.httpsAddr {
		t.Fatalf("path %v, want the HTTPS front", p)
	}
	t.Logf("reached the broker in %v over %v", time.Since(start), link.Path())
}

// Plain HTTP answers of the front: a line of text at /, 404 elsewhere,
// 400 for /agent and /rfb without an upgrade, and HTTP/2 where asked.
func TestFrontHTTP(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	tr := &http.Transport{TLSClientConfig: tb.brokerTLS(), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/", 200, "Lifebuoy broker"},
		{"/etc/passwd", 404, ""},
		{"/agent", 400, "WebSocket"},
		{"/rfb", 400, "WebSocket"},
	} {
		resp, err := client.Get("https://" + tb.httpsAddr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.says) {
			t.Errorf("%s: %d %q, want %d with %q", tc.path, resp.StatusCode, body, tc.status, tc.says)
		}
		if tc.path == "/" && resp.ProtoMajor != 2 {
			t.Errorf("%s over %s, want HTTP/2", tc.path, resp.Proto)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff header", tc.path)
		}
	}
	// TLS 1.1 is refused; 1.2 is enough for a browser.
	cfg := tb.brokerTLS()
	cfg.MaxVersion = tls.VersionTLS11
	cfg.MinVersion = tls.VersionTLS10
	if c, err := tls.Dial("tcp", tb.httpsAddr, cfg); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 accepted")
	}
}

// noVNC picks the first security type it knows in the server's order
// and knows VeNCrypt but none of its TLS subtypes: from a network where
// plain VNC Authentication is allowed it gets VNC Authentication inside
// VeNCrypt, while a viewer with TLS still gets X509Vnc first; elsewhere
// only TLS is offered.
func TestSecurityTypesForEveryViewer(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	novnc := rfb.ClientConfig{Security: []rfb.SecurityType{rfb.SecVeNCrypt},
		VeNCryptSubtypes: []rfb.VeNCryptSubtype{rfb.VeNCryptVNCAuth}}
	a := startAgent(t, tb, "", rfbtest.Pattern(32, 24, 4), "")
	novnc.Password = a.link.Code()
	c, err := dialViewer(t, tb, novnc)
	if err != nil {
		t.Fatalf("noVNC's choice from loopback: %v", err)
	}
	c.Close()

	cfg := testConfig(t)
	cfg.PlainVNCAuthNetworks = nil
	outside := startBroker(t, cfg)
	a = startAgent(t, outside, "", rfbtest.Pattern(32, 24, 4), "")
	novnc.Password = a.link.Code()
	if _, err := dialViewer(t, outside, novnc); err == nil || !strings.Contains(err.Error(), "no common VeNCrypt subtype") {
		t.Fatalf("noVNC's choice from outside: %v, want no common subtype", err)
	}
}

// A path that answers with another certificate (a proxy that inspects
// TLS) is passed over, and the WebSocket, which carries the pinned TLS
// inside, gets through; with no such path left the agent says the
// certificate is wrong.
func TestAgentPassesOverWrongCertificate(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	other, _ := rfbtest.Certificate(t)
	impostor := tls.NewListener(rfbtest.Listen(t), &tls.Config{Certificates: []tls.Certificate{other}})
	go func() {
		for {
			c, err := impostor.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	cfg := tb.linkConfig("")
	cfg.Paths = []agentlink.Path{{Kind: agentlink.PathTLS, Addr: impostor.Addr().String()},
		{Kind: agentlink.PathWebSocket, Addr: tb.httpsAddr}}
	link, err := agentlink.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	link.Close()
	if p := link.Path(); p.Kind != agentlink.PathWebSocket {
		t.Fatalf("path %v", p)
	}
	cfg.Paths = cfg.Paths[:1]
	if _, err := agentlink.Dial(context.Background(), cfg); !errors.Is(err, agentlink.ErrFingerprint) {
		t.Fatalf("only the impostor: %v, want ErrFingerprint", err)
	}
}
