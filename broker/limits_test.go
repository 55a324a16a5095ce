package broker_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// rawSession pairs a repeater-mode viewer with an agent that hands back
// its raw data connection: the two ends of one session's relay.
func rawSession(t *testing.T, tb *testBroker) (viewer, agent net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link, err := agentlink.Dial(ctx, tb.linkConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close() })
	viewer, err = net.Dial("tcp", tb.repeaterAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viewer.Close() })
	io.ReadFull(viewer, make([]byte, 12))
	hdr := make([]byte, 250)
	copy(hdr, "ID:"+link.Code())
	viewer.Write(hdr)
	in, err := link.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agent, err = in.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	return viewer, agent
}

// TestBandwidthCaps: with a cap, a session that the agent floods reaches
// the viewer at roughly the cap. The assertion is a generous factor of
// the cap over a window that starts after the bucket's one-second burst
// is spent, not a wall-clock figure.
func TestBandwidthCaps(t *testing.T) {
	const capBytes = 256 << 10
	for _, which := range []string{"session", "total"} {
		t.Run(which, func(t *testing.T) {
			cfg := testConfig(t)
			if which == "session" {
				cfg.SessionBandwidth = capBytes
			} else {
				cfg.TotalBandwidth = capBytes
			}
			tb := startBrokerLog(t, cfg, slog.New(slog.DiscardHandler))
			viewer, agent := rawSession(t, tb)
			go func() {
				buf := make([]byte, 32<<10)
				for {
					if _, err := agent.Write(buf); err != nil {
						return
					}
				}
			}()
			buf := make([]byte, 64<<10)
			count := func(d time.Duration) int {
				n := 0
				viewer.SetReadDeadline(time.Now().Add(d))
				for {
					m, err := viewer.Read(buf)
					n += m
					if err != nil {
						return n
					}
				}
			}
			burst := count(500 * time.Millisecond)
			const window = 1500 * time.Millisecond
			start := time.Now()
			n := count(window)
			rate := float64(n) / time.Since(start).Seconds()
			t.Logf("cap %d B/s: %d B in the burst, then %.0f B/s (%.2f × cap)", capBytes, burst, rate, rate/capBytes)
			if rate > 2*capBytes {
				t.Fatalf("relayed %.0f B/s with a cap of %d", rate, capBytes)
			}
			if rate < capBytes/8 {
				t.Fatalf("relayed only %.0f B/s with a cap of %d", rate, capBytes)
			}
		})
	}
}

// TestIdleTimeout: a session with no bytes either way for IdleTimeout
// ends, and traffic in either direction keeps it alive. On a synthetic
// clock, with the broker served over in-memory pipes.
func TestIdleTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.IdleTimeout = broker.Duration(5 * time.Minute)
	cfg.CodeTTL = broker.Duration(time.Hour)
	idle := time.Duration(cfg.IdleTimeout)
	synctest.Test(t, func(t *testing.T) {
		b, err := broker.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		link, err := agentlink.Dial(ctx, agentlink.Config{Broker: "broker:5510", Fingerprint: b.Fingerprint(),
			Dial: func(context.Context, string, string) (net.Conn, error) {
				bc, ac := net.Pipe()
				go b.ServeAgent(ctx, bc)
				return ac, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer link.Close()
		viewer, bc := net.Pipe()
		defer viewer.Close()
		go b.ServeRepeater(ctx, bc)
		io.ReadFull(viewer, make([]byte, 12))
		hdr := make([]byte, 250)
		copy(hdr, "ID:"+link.Code())
		viewer.Write(hdr)
		in, err := link.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		agent, err := in.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer agent.Close()
		one := make([]byte, 1)
		// Bytes every 4 minutes, alternating directions, for 20 minutes.
		for i := range 5 {
			time.Sleep(idle - time.Minute)
			src, dst := agent, viewer
			if i%2 == 1 {
				src, dst = viewer, agent
			}
			if _, err := src.Write([]byte{byte(i)}); err != nil {
				t.Fatalf("session ended before its idle limit, at round %d: %v", i, err)
			}
			if _, err := io.ReadFull(dst, one); err != nil || one[0] != byte(i) {
				t.Fatalf("round %d: %v %v", i, one, err)
			}
		}
		// Then silence: the viewer sees the end after exactly the limit.
		start := time.Now()
		if _, err := viewer.Read(one); err == nil {
			t.Fatal("read data from an idle session")
		}
		if d := time.Since(start); d != idle {
			t.Fatalf("idle session ended after %v, want %v", d, idle)
		}
		// The agent's side ends too, and with it the link.
		if _, err := agent.Read(one); err == nil {
			t.Fatal("the agent read data from an ended session")
		}
		select {
		case <-link.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("agent's link open after the idle session ended")
		}
		cancel()
		synctest.Wait()
	})
}

// connectProxy is an HTTP CONNECT proxy on loopback that sends every
// tunnel to target, whatever host was asked for, and reports the hosts.
func connectProxy(t *testing.T, target string) (addr string, hosts <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	seen := make(chan string, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				select {
				case seen <- req.Host:
				default:
				}
				up, err := net.Dial("tcp", target)
				if err != nil {
					io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					return
				}
				defer up.Close()
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go func() { io.Copy(up, br); up.Close() }()
				io.Copy(c, up)
			}()
		}
	}()
	return l.Addr().String(), seen
}

// TestProxyFromEnvironment: an agent with no proxy configured takes
// HTTPS_PROXY from the environment, for the control link and the data
// connection. net/http reads the environment once per process, so the
// test runs itself in a child process with the variables set.
func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("LIFEBUOY_TEST_PROXY_CHILD") == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.v")
		cmd.Env = append(os.Environ(), "LIFEBUOY_TEST_PROXY_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestProxyFromEnvironment")) {
			t.Fatalf("child: %v\n%s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "limits_test.go") {
				t.Log(strings.TrimSpace(l))
			}
		}
		return
	}
	tb := startBrokerLog(t, testConfig(t), slog.New(slog.DiscardHandler))
	proxy, hosts := connectProxy(t, tb.agentAddr)
	t.Setenv("HTTPS_PROXY", "http://"+proxy)
	t.Setenv("https_proxy", "")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	// net/http never proxies loopback addresses, so the agent is given a
	// name that only the proxy resolves (to the test broker).
	_, port, _ := net.SplitHostPort(tb.agentAddr)
	name := net.JoinHostPort("lifebuoy-broker.test", port)
	cfg := tb.linkConfig("")
	cfg.Broker, cfg.Proxy = name, ""
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link, err := agentlink.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	if h := <-hosts; h != name {
		t.Fatalf("proxy asked for %q, want %q", h, name)
	}
	viewer, err := net.Dial("tcp", tb.repeaterAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	io.ReadFull(viewer, make([]byte, 12))
	hdr := make([]byte, 250)
	copy(hdr, "ID:"+link.Code())
	viewer.Write(hdr)
	in, err := link.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := in.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	if h := <-hosts; h != name {
		t.Fatalf("data connection: proxy asked for %q", h)
	}
	data.Write([]byte("through the proxy"))
	got := make([]byte, 17)
	viewer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(viewer, got); err != nil || string(got) != "through the proxy" {
		t.Fatalf("viewer read %q %v", got, err)
	}
	t.Logf("control link and data connection went through the CONNECT proxy from HTTPS_PROXY (%s)", proxy)
}

// TestAgentsPerAddress: one address cannot hold more than MaxAgentsAddr
// waiting agents (each would hold a descriptor), the refusal says why,
// and a customer elsewhere still pairs.
func TestAgentsPerAddress(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxAgentsAddr = 5
	tb := startBroker(t, cfg)
	from := func() agentlink.Config {
		c := tb.linkConfig("")
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 99)}}
			return d.DialContext(ctx, network, addr)
		}
		c.Paths = []agentlink.Path{{Kind: agentlink.PathTLS, Addr: tb.agentAddr}}
		return c
	}
	var held []*agentlink.Link
	refused := 0
	for range 50 {
		l, err := agentlink.Dial(context.Background(), from())
		var re *agentlink.RefusedError
		switch {
		case err == nil:
			held = append(held, l)
		case errors.As(err, &re) && strings.Contains(re.Reason, "too many agents are connected from your address"):
			refused++
		default:
			t.Fatalf("registration: %v", err)
		}
	}
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	if len(held) != 5 || refused != 45 {
		t.Fatalf("%d agents held, %d refused; want 5 and 45", len(held), refused)
	}
	img := rfbtest.Pattern(16, 16, 21)
	a := startAgent(t, tb, "", img, "")
	c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		t.Fatal(err)
	}
	syncTo(t, c, img)
	c.Close()
	// A slot comes back when an agent leaves.
	held[0].Close()
	held = held[1:]
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		l, err := agentlink.Dial(context.Background(), from())
		if err == nil {
			held = append(held, l)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after an agent left: %v", err)
		}
	}
}
