package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"image"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// testBroker is a broker on loopback ports chosen by the kernel.
type testBroker struct {
	*broker.Broker
	dir                                        string
	agentAddr, viewerAddr, repeaterAddr, admin string
	httpsAddr                                  string
	cancel                                     context.CancelFunc
	done                                       chan error
}

func testConfig(t testing.TB) broker.Config {
	cfg := broker.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.FailureDelay = broker.Duration(time.Millisecond)
	cfg.MaxFailureDelay = broker.Duration(10 * time.Millisecond)
	cfg.HandshakeTimeout = broker.Duration(2 * time.Second)
	cfg.ConsentTimeout = broker.Duration(5 * time.Second)
	return cfg
}

func startBroker(t *testing.T, cfg broker.Config) *testBroker {
	t.Helper()
	return startBrokerLog(t, cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// startBrokerLog starts a broker that logs to log.
func startBrokerLog(t *testing.T, cfg broker.Config, log *slog.Logger) *testBroker {
	t.Helper()
	return startBrokerAt(t, cfg, log, "127.0.0.1")
}

// startBrokerAt starts a broker listening on host's ports.
func startBrokerAt(t testing.TB, cfg broker.Config, log *slog.Logger, host string) *testBroker {
	t.Helper()
	b, err := broker.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ls := broker.Listeners{Agent: listen(), Viewer: listen(), Repeater: listen(), Admin: listen(), HTTPS: listen()}
	ctx, cancel := context.WithCancel(context.Background())
	tb := &testBroker{Broker: b, dir: cfg.DataDir, agentAddr: ls.Agent.Addr().String(), viewerAddr: ls.Viewer.Addr().String(),
		repeaterAddr: ls.Repeater.Addr().String(), admin: ls.Admin.Addr().String(), httpsAddr: ls.HTTPS.Addr().String(),
		cancel: cancel, done: make(chan error, 1)}
	go func() { tb.done <- b.Serve(ctx, ls) }()
	t.Cleanup(tb.stop)
	return tb
}

// testWriter sends the broker's log to the test's.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (tb *testBroker) stop() {
	if tb.cancel == nil {
		return
	}
	tb.cancel()
	tb.cancel = nil
	<-tb.done
	tb.Close()
}

func (tb *testBroker) linkConfig(code string) agentlink.Config {
	return agentlink.Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Code: code, Name: "test agent", Proxy: "direct"}
}

// testAgent serves img through the broker, as the customer's agent will.
type testAgent struct {
	link  *agentlink.Link
	done  chan error
	conns chan net.Conn // data connections, for the fault tests
}

// startAgent dials the broker and serves the first incoming viewer;
// decline, if set, refuses it with that reason.
func startAgent(t *testing.T, tb *testBroker, code string, img image.Image, decline string) *testAgent {
	t.Helper()
	return startAgentConfig(t, tb.linkConfig(code), img, decline)
}

// startAgentConfig is startAgent with the link configured by cfg.
func startAgentConfig(t *testing.T, cfg agentlink.Config, img image.Image, decline string) *testAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	link, err := agentlink.Dial(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	a := &testAgent{link: link, done: make(chan error, 1), conns: make(chan net.Conn, 1)}
	srv := rfb.NewServer(rfb.NewFramebufferFromImage(img), rfb.Options{})
	go func() {
		a.done <- func() error {
			in, err := link.Accept(ctx)
			if err != nil {
				return err
			}
			if decline != "" {
				return in.Decline(decline)
			}
			conn, err := in.Open(ctx)
			if err != nil {
				return err
			}
			a.conns <- conn
			if in.Mode == agentlink.ModeAuthenticated {
				return srv.ServeAuthenticated(ctx, conn, in.Version)
			}
			return srv.ServeConn(ctx, conn)
		}()
	}()
	t.Cleanup(func() {
		cancel()
		link.Close()
		<-a.done
	})
	return a
}

// rfbOver runs RFB end to end over conn (a repeater connection after
// its header) and waits until the client shows want.
func rfbOver(t *testing.T, conn net.Conn, want image.Image) *rfb.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	syncTo(t, c, want)
	return c
}

// syncTo reads updates until the client's framebuffer is want.
func syncTo(t *testing.T, c *rfb.Client, want image.Image) {
	t.Helper()
	if err := c.RequestFull(); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("ReadMessage: %v", err)
		}
		if _, ok := m.(*rfb.FramebufferUpdate); !ok {
			continue
		}
		if n, _, _ := rfbtest.Diff(c.Framebuffer(), want); n == 0 {
			return
		}
		w, h := c.Size()
		c.RequestUpdate(true, image.Rect(0, 0, w, h))
	}
	_, _, d := rfbtest.Diff(c.Framebuffer(), want)
	t.Fatalf("viewer's framebuffer differs: %s", d)
}

func dialViewer(t *testing.T, tb *testBroker, cfg rfb.ClientConfig) (*rfb.Client, error) {
	t.Helper()
	conn, err := net.Dial("tcp", tb.viewerAddr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return rfb.NewClient(ctx, conn, cfg)
}

func (tb *testBroker) brokerTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(tb.Certificate().Leaf)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

func TestCustomerFirstVNCAuth(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	img := rfbtest.Pattern(96, 64, 1)
	for _, v := range []rfb.Version{rfb.Version38, rfb.Version37, rfb.Version33} {
		t.Run(v.String(), func(t *testing.T) {
			a := startAgent(t, tb, "", img, "")
			code := a.link.Code()
			if len(code) != 6 {
				t.Fatalf("code %q", code)
			}
			c, err := dialViewer(t, tb, rfb.ClientConfig{Password: code, MaxVersion: v,
				Security: []rfb.SecurityType{rfb.SecVNCAuth}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Version() != v {
				t.Fatalf("version %v, want %v", c.Version(), v)
			}
			syncTo(t, c, img)
			// The code is spent: a second viewer is refused.
			if v == rfb.Version38 {
				_, err := dialViewer(t, tb, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
				var ae *rfb.AuthError
				if !errors.As(err, &ae) || !strings.Contains(err.Error(), "session code") {
					t.Fatalf("spent code: %v, want an AuthError with a reason", err)
				}
			}
		})
	}
}

func TestSupporterFirstVeNCrypt(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	code, _, err := tb.Codes().Issue(nil)
	if err != nil {
		t.Fatal(err)
	}
	img := rfbtest.Pattern(80, 50, 7)
	a := startAgent(t, tb, broker.GroupCode(code), img, "")
	if a.link.Code() != code {
		t.Fatalf("link code %q, want %q", a.link.Code(), code)
	}
	c, err := dialViewer(t, tb, rfb.ClientConfig{Password: code, TLSConfig: tb.brokerTLS(),
		Security: []rfb.SecurityType{rfb.SecVeNCrypt}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	syncTo(t, c, img)
}

func TestVeNCryptOnlyFromOutside(t *testing.T) {
	cfg := testConfig(t)
	cfg.PlainVNCAuthNetworks = nil // loopback counts as outside
	tb := startBroker(t, cfg)
	a := startAgent(t, tb, "", rfbtest.Pattern(16, 16, 2), "")
	_, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err == nil || !strings.Contains(err.Error(), "no common security type") {
		t.Fatalf("plain VNCAuth from a network not allowed: %v", err)
	}
	_, err = dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), MaxVersion: rfb.Version33})
	var re *rfb.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("3.3 from a network not allowed: %v, want a refusal with a reason", err)
	}
	c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), TLSConfig: tb.brokerTLS()})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestWrongAndExpiredCodes(t *testing.T) {
	cfg := testConfig(t)
	tb := startBroker(t, cfg)
	a := startAgent(t, tb, "", rfbtest.Pattern(16, 16, 3), "")
	wrong := "100000"
	if a.link.Code() == wrong {
		wrong = "100001"
	}
	_, err := dialViewer(t, tb, rfb.ClientConfig{Password: wrong, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	var ae *rfb.AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "wrong, expired or used session code") {
		t.Fatalf("wrong code: %v", err)
	}
	// The wrong guess did not use up the real code.
	c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := tb.Metrics().FailedGuesses.Load(); got != 1 {
		t.Fatalf("failed guesses %d, want 1", got)
	}
}

func TestExpiredCode(t *testing.T) {
	cfg := testConfig(t)
	cfg.CodeTTL = broker.Duration(300 * time.Millisecond)
	tb := startBroker(t, cfg)
	link, err := agentlink.Dial(context.Background(), tb.linkConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	// The broker ends the link when the code expires, with a reason.
	select {
	case <-link.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("link still open after the code expired")
	}
	var re *agentlink.RefusedError
	if err := link.Err(); !errors.As(err, &re) || !strings.Contains(re.Reason, "expired") {
		t.Fatalf("link error %v, want an expiry", err)
	}
	_, err = dialViewer(t, tb, rfb.ClientConfig{Password: link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err == nil || !strings.Contains(err.Error(), "session code") {
		t.Fatalf("expired code: %v", err)
	}
	// A supporter-first code that expired cannot be presented.
	code, _, _ := tb.Codes().Issue(nil)
	time.Sleep(400 * time.Millisecond)
	_, err = agentlink.Dial(context.Background(), tb.linkConfig(code))
	if !errors.As(err, &re) {
		t.Fatalf("expired supporter code: %v", err)
	}
}

func TestDecline(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	a := startAgent(t, tb, "", rfbtest.Pattern(16, 16, 4), "not now")
	_, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err == nil || !strings.Contains(err.Error(), "the customer declined: not now") {
		t.Fatalf("declined: %v", err)
	}
	if _, ok := tb.Codes().Lookup(a.link.Code()); ok {
		t.Fatal("a declined code is still live")
	}
}

func TestRepeater(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	img := rfbtest.Pattern(64, 48, 5)
	a := startAgent(t, tb, "", img, "")
	conn, err := net.Dial("tcp", tb.repeaterAddr)
	if err != nil {
		t.Fatal(err)
	}
	greet := make([]byte, 12)
	if _, err := io.ReadFull(conn, greet); err != nil || string(greet) != "RFB 000.000\n" {
		t.Fatalf("greeting %q %v", greet, err)
	}
	hdr := make([]byte, 250)
	copy(hdr, "ID:"+a.link.Code())
	if _, err := conn.Write(hdr); err != nil {
		t.Fatal(err)
	}
	defer rfbOver(t, conn, img).Close()

	// A spent ID, and a header that is not ID:<code> (Remmina's), are
	// refused as an RFB server refuses, with the reason.
	for _, tc := range []struct{ id, says string }{
		{"ID:" + a.link.Code(), "Wrong, expired or used session code"},
		{"ID:127.0.0.1:5900", "Remmina"},
		{"127.0.0.1:5900", "Remmina"},
	} {
		conn2, _ := net.Dial("tcp", tb.repeaterAddr)
		defer conn2.Close()
		io.ReadFull(conn2, greet)
		hdr = make([]byte, 250)
		copy(hdr, tc.id)
		conn2.Write(hdr)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := rfb.NewClient(ctx, conn2, rfb.ClientConfig{Password: "x"})
		cancel()
		var re *rfb.RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.says) {
			t.Fatalf("repeater header %q: %v, want a refusal saying %q", tc.id, err, tc.says)
		}
	}
}

func TestFingerprintMismatch(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	cfg := tb.linkConfig("")
	cfg.Fingerprint = strings.Repeat("ab", 32)
	_, err := agentlink.Dial(context.Background(), cfg)
	if !errors.Is(err, agentlink.ErrFingerprint) {
		t.Fatalf("Dial with a wrong pin: %v, want ErrFingerprint", err)
	}
}

// TestKillAgent: the agent's side goes away mid-session; the viewer
// learns within 2 s, and no goroutine or file descriptor is left behind.
func TestKillAgent(t *testing.T) {
	leaks := leakBaseline(t)
	func() {
		tb := startBroker(t, testConfig(t))
		defer tb.stop()
		img := rfbtest.Pattern(32, 32, 6)
		a := startAgent(t, tb, "", img, "")
		c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		syncTo(t, c, img)
		data := <-a.conns
		data.Close()
		a.link.Close()
		w, h := c.Size()
		c.RequestUpdate(true, image.Rect(0, 0, w, h))
		start := time.Now()
		errc := make(chan error, 1)
		go func() {
			for {
				if _, err := c.ReadMessage(); err != nil {
					errc <- err
					return
				}
			}
		}()
		select {
		case <-errc:
		case <-time.After(2 * time.Second):
			t.Fatal("viewer did not see the agent go within 2 s")
		}
		t.Logf("viewer saw the close after %v", time.Since(start))
	}()
	leaks()
}

// TestKillViewer: the viewer goes away; the agent's data connection
// closes and its link ends.
func TestKillViewer(t *testing.T) {
	leaks := leakBaseline(t)
	func() {
		tb := startBroker(t, testConfig(t))
		defer tb.stop()
		img := rfbtest.Pattern(32, 32, 8)
		a := startAgent(t, tb, "", img, "")
		c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
		if err != nil {
			t.Fatal(err)
		}
		syncTo(t, c, img)
		c.Close()
		select {
		case <-a.done: // ServeAuthenticated returned: its connection closed
		case <-time.After(2 * time.Second):
			t.Fatal("agent's server still running 2 s after the viewer left")
		}
		select {
		case <-a.link.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("agent's link still open 2 s after the session ended")
		}
		// The broker voids the code once its relay has wound down,
		// which may be just after the agent saw its connection close.
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, ok := tb.Codes().Lookup(a.link.Code()); !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Error("code live 2 s after the session ended")
				break
			}
		}
		a.done <- nil // for the cleanup
	}()
	leaks()
}

// TestStopBroker: stopping the broker closes both sides.
func TestStopBroker(t *testing.T) {
	leaks := leakBaseline(t)
	func() {
		tb := startBroker(t, testConfig(t))
		img := rfbtest.Pattern(32, 32, 9)
		a := startAgent(t, tb, "", img, "")
		c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		syncTo(t, c, img)
		stopped := make(chan struct{})
		go func() { tb.stop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			t.Fatal("broker took over 2 s to stop")
		}
		select {
		case <-a.link.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("agent's link open after the broker stopped")
		}
		if _, err := c.ReadMessage(); err == nil {
			t.Fatal("viewer still connected after the broker stopped")
		}
	}()
	leaks()
}

func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCertificateReused(t *testing.T) {
	cfg := testConfig(t)
	b1, err := broker.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b1.Close()
	b2, err := broker.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b2.Close()
	if !b1.CreatedCertificate() || b2.CreatedCertificate() || b1.Fingerprint() != b2.Fingerprint() {
		t.Fatalf("created %v %v, fingerprints %s %s", b1.CreatedCertificate(), b2.CreatedCertificate(), b1.Fingerprint(), b2.Fingerprint())
	}
}
