//go:build interop && linux

package broker_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// customerNet is a customer's computer in a network namespace of its
// own, with the agent's display, and a broker on the test's side of the
// link.
type customerNet struct {
	ns    *rfbtest.NetNS
	tb    *testBroker
	x     *rfbtest.Xvfb
	agent string // the winvnc binary
}

func startCustomerNet(t testing.TB, edit ...func(*broker.Config)) *customerNet {
	t.Helper()
	rfbtest.LookPath(t, "ip", "nft", "xsetroot")
	ns := rfbtest.StartNetNS(t)
	cfg := testConfig(t)
	for _, f := range edit {
		f(&cfg)
	}
	cfg.PlainVNCAuthNetworks = []string{ns.HostIP.String() + "/32"}
	tb := startBrokerAt(t, cfg, nil, ns.HostIP.String())
	x := rfbtest.StartXvfb(t, 160, 100, 24)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rfbtest.Run(t, ctx, x.Env(), "xsetroot", "-solid", "#208040"); err != nil {
		t.Fatal(err)
	}
	return &customerNet{ns: ns, tb: tb, x: x, agent: rfbtest.BuildGo(t, "./cmd/winvnc")}
}

// runAgent starts the agent inside the namespace, customer first, with
// extra environment, and returns its terminal once it has its code.
func (c *customerNet) runAgent(t *testing.T, env []string, args ...string) (*rfbtest.Terminal, string) {
	t.Helper()
	base := []string{"-broker", c.tb.agentAddr, "-https-ports", strconv.Itoa(port(c.tb.httpsAddr)),
		"-fingerprint", c.tb.Fingerprint(), "-display", c.x.Display, "-ui", "terminal"}
	name, argv := c.ns.Command(c.agent, append(base, args...)...)
	term := rfbtest.StartTerminal(t, append(c.x.Env(), env...), name, argv...)
	code := term.Expect(`^code (\d{6})$`, 20*time.Second)[1]
	return term, code
}

// viewAndEnd pairs a viewer with code, checks the screen's pixels, and
// ends the session from the agent.
func (c *customerNet) viewAndEnd(t *testing.T, term *rfbtest.Terminal, code string) {
	t.Helper()
	done := make(chan *rfb.Client, 1)
	go func() {
		cl, err := dialViewer(t, c.tb, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
		if err != nil {
			t.Error(err)
		}
		done <- cl
	}()
	term.Expect(`^prompt Allow .* to see your screen\?`, 20*time.Second)
	term.Send("y")
	cl := <-done
	if cl == nil {
		t.FailNow()
	}
	defer cl.Close()
	want, err := c.x.Capture()
	if err != nil {
		t.Fatal(err)
	}
	syncTo(t, cl, want)
	term.Send("end")
	if err := term.Wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// tinyproxy starts Debian's tinyproxy on the test's side, letting
// CONNECT through to connectPorts only, and returns its URL.
func (c *customerNet) tinyproxy(t *testing.T, connectPorts ...int) (string, int) {
	return c.tinyproxyIdle(t, 60, connectPorts...)
}

// tinyproxyIdle is tinyproxy that cuts a connection quiet for idle
// seconds.
func (c *customerNet) tinyproxyIdle(t *testing.T, idle int, connectPorts ...int) (string, int) {
	t.Helper()
	rfbtest.LookPath(t, "tinyproxy")
	l, err := net.Listen("tcp", net.JoinHostPort(c.ns.HostIP.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	p := port(l.Addr().String())
	l.Close()
	conf := fmt.Sprintf("User nobody\nGroup nogroup\nPort %d\nListen %s\nTimeout %d\nMaxClients 50\n"+
		"Allow %s\nLogLevel Info\nDisableViaHeader Yes\n", p, c.ns.HostIP, idle, c.ns.NSIP)
	for _, cp := range connectPorts {
		conf += fmt.Sprintf("ConnectPort %d\n", cp)
	}
	file := filepath.Join(t.TempDir(), "tinyproxy.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	rfbtest.Start(t, nil, "tinyproxy", "-d", "-c", file)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if conn, err := net.Dial("tcp", net.JoinHostPort(c.ns.HostIP.String(), strconv.Itoa(p))); err == nil {
			conn.Close()
			break
		}
		if ctx.Err() != nil {
			t.Fatal("tinyproxy did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Sprintf("http://%s:%d", c.ns.HostIP, p), p
}

// The agent finds its way out of networks that block it, as a customer's
// would: the agent port dropped without an answer (it takes the HTTPS
// port, by ALPN), then only a real HTTP proxy (Debian's tinyproxy) open,
// first letting CONNECT through to the agent port and then, like squid's
// default, to the HTTPS port only. Each time the state line names the
// path, and a viewer sees the screen. (A proxy that inspects TLS, which
// makes the agent take the WebSocket: TestInteropAgentThroughInspectingProxy.)
func TestInteropAgentFindsItsWay(t *testing.T) {
	c := startCustomerNet(t)
	agentPort, frontPort := port(c.tb.agentAddr), port(c.tb.httpsAddr)

	t.Run("agent port dropped", func(t *testing.T) {
		c.ns.Drop(agentPort)
		start := time.Now()
		term, code := c.runAgent(t, nil, "-proxy", "direct")
		t.Logf("reached the broker in %v", time.Since(start).Round(time.Millisecond))
		term.Expect(`^state waiting Connected \(TLS to `+c.ns.HostIP.String()+`:`+strconv.Itoa(frontPort)+`\)`, 5*time.Second)
		c.viewAndEnd(t, term, code)
	})

	t.Run("only a proxy", func(t *testing.T) {
		proxy, proxyPort := c.tinyproxy(t, agentPort, frontPort)
		c.ns.AllowOnly(proxyPort)
		term, code := c.runAgent(t, []string{"HTTPS_PROXY=" + proxy})
		term.Expect(`^state waiting Connected \(TLS to `+c.tb.agentAddr+` through the proxy `, 5*time.Second)
		c.viewAndEnd(t, term, code)
	})

	t.Run("a proxy for HTTPS only", func(t *testing.T) {
		proxy, proxyPort := c.tinyproxy(t, frontPort)
		c.ns.AllowOnly(proxyPort)
		term, code := c.runAgent(t, []string{"HTTPS_PROXY=" + proxy})
		term.Expect(`^state waiting Connected \(WebSocket wss://.*:`+strconv.Itoa(frontPort)+`/agent through the proxy `, 5*time.Second)
		c.viewAndEnd(t, term, code)
	})
}

// An idle session through a proxy that cuts connections quiet for 3 s
// (tinyproxy's Timeout) lives on, because the broker pings the agent's
// WebSocket; without the pings the proxy cuts it, which shows the test
// measures what it means to.
func TestInteropIdleThroughCuttingProxy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ping     time.Duration
		survives bool
	}{{"pinged", time.Second, true}, {"not pinged", time.Hour, false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCustomerNet(t, func(cfg *broker.Config) { cfg.WebSocketPing = broker.Duration(tc.ping) })
			proxy, proxyPort := c.tinyproxyIdle(t, 3, port(c.tb.httpsAddr))
			c.ns.AllowOnly(proxyPort)
			term, code := c.runAgent(t, []string{"HTTPS_PROXY=" + proxy})
			term.Expect(`^state waiting Connected \(WebSocket .* through the proxy `, 5*time.Second)
			done := make(chan *rfb.Client, 1)
			go func() {
				cl, err := dialViewer(t, c.tb, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
				if err != nil {
					t.Error(err)
				}
				done <- cl
			}()
			term.Expect(`^prompt Allow .* to see your screen\?`, 20*time.Second)
			term.Send("y")
			cl := <-done
			if cl == nil {
				t.FailNow()
			}
			defer cl.Close()
			want, _ := c.x.Capture()
			syncTo(t, cl, want)
			time.Sleep(8 * time.Second) // quiet, well past the proxy's 3 s
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := rfbtest.Run(t, ctx, c.x.Env(), "xsetroot", "-solid", "#4060a0"); err != nil {
				t.Fatal(err)
			}
			want, _ = c.x.Capture()
			if !tc.survives {
				_, err := term.Await(`^state ended `, 10*time.Second)
				if err != nil {
					t.Fatalf("the session went on through a proxy that cuts quiet connections: the test proves nothing")
				}
				return
			}
			syncTo(t, cl, want)
			term.Send("end")
			if err := term.Wait(20 * time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// BenchmarkAgentReachesDroppedPort is the time from the agent's start to
// its code, with the agent port silently dropped by the customer's
// network (nftables in a network namespace), so that it must find the
// HTTPS front. Each iteration is a new agent process; run it with
// -benchtime 20x for the median and worst of 20. The agent's start on
// an open network is measured beside it (open-port) for the difference.
func BenchmarkAgentReachesDroppedPort(b *testing.B) {
	for _, dropped := range []bool{false, true} {
		name := "open-port"
		if dropped {
			name = "agent-port-dropped"
		}
		b.Run(name, func(b *testing.B) {
			c := startCustomerNet(b)
			if dropped {
				c.ns.Drop(port(c.tb.agentAddr))
			}
			var times []time.Duration
			for range b.N {
				start := time.Now()
				base := []string{"-broker", c.tb.agentAddr, "-https-ports", strconv.Itoa(port(c.tb.httpsAddr)),
					"-fingerprint", c.tb.Fingerprint(), "-display", c.x.Display, "-ui", "terminal", "-proxy", "direct"}
				name, argv := c.ns.Command(c.agent, base...)
				term := rfbtest.StartTerminal(b, c.x.Env(), name, argv...)
				term.Expect(`^code (\d{6})$`, 20*time.Second)
				times = append(times, time.Since(start))
				term.Send("end")
				term.Wait(10 * time.Second)
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Milliseconds()), "median-ms")
			b.ReportMetric(float64(times[len(times)-1].Milliseconds()), "worst-ms")
		})
	}
}

// squidBump starts Debian's squid as a proxy that inspects TLS (ssl-bump
// with its own CA, as corporate proxies do) and lets WebSocket upgrades
// through, and returns its URL and port.
func (c *customerNet) squidBump(t testing.TB) (string, int) {
	t.Helper()
	rfbtest.LookPath(t, "squid", "openssl")
	// squid drops to the proxy user, which must reach its folder: not
	// t.TempDir, whose parent only root may enter.
	dir, err := os.MkdirTemp("", "lifebuoy-squid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"access.log", "cache.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("squid's %s:\n%s", f, b)
			}
		}
		os.RemoveAll(dir)
	})
	os.Chmod(dir, 0o755)
	run := func(name string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := rfbtest.Run(t, ctx, nil, name, args...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	run("openssl", "req", "-new", "-newkey", "rsa:2048", "-sha256", "-days", "2", "-nodes", "-x509",
		"-subj", "/CN=Test Inspecting Proxy CA", "-keyout", filepath.Join(dir, "ca.key"), "-out", filepath.Join(dir, "ca.pem"))
	run("/usr/lib/squid/security_file_certgen", "-c", "-s", filepath.Join(dir, "ssl_db"), "-M", "4MB")
	l, err := net.Listen("tcp", net.JoinHostPort(c.ns.HostIP.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	p := port(l.Addr().String())
	l.Close()
	conf := fmt.Sprintf(`http_port %s:%d ssl-bump cert=%[3]s/ca.pem key=%[3]s/ca.key generate-host-certificates=on dynamic_cert_mem_cache_size=4MB
sslcrtd_program /usr/lib/squid/security_file_certgen -s %[3]s/ssl_db -M 4MB
sslcrtd_children 2
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
sslproxy_cert_error allow all
tls_outgoing_options flags=DONT_VERIFY_PEER
http_upgrade_request_protocols WebSocket allow all
http_upgrade_request_protocols websocket allow all
http_access allow all
cache deny all
pid_filename %[3]s/squid.pid
access_log stdio:%[3]s/access.log
cache_log %[3]s/cache.log
coredump_dir %[3]s
cache_effective_user proxy
shutdown_lifetime 1 seconds
`, c.ns.HostIP, p, dir)
	if err := os.WriteFile(filepath.Join(dir, "squid.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	run("chown", "-R", "proxy:proxy", dir)
	rfbtest.Start(t, nil, "squid", "-N", "-f", filepath.Join(dir, "squid.conf"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if conn, err := net.Dial("tcp", net.JoinHostPort(c.ns.HostIP.String(), strconv.Itoa(p))); err == nil {
			conn.Close()
			break
		}
		if ctx.Err() != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
			t.Fatalf("squid did not start:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("http://%s:%d", c.ns.HostIP, p), p
}

// Behind a proxy that inspects TLS (squid with ssl-bump and its own CA)
// the agent's plain TLS to the HTTPS port meets the proxy's certificate
// and is passed over; over the WebSocket, which the proxy decrypts and
// re-encrypts, the agent's own TLS inside stays pinned and whole, and a
// viewer sees the screen.
func TestInteropAgentThroughInspectingProxy(t *testing.T) {
	c := startCustomerNet(t)
	proxy, proxyPort := c.squidBump(t)
	c.ns.AllowOnly(proxyPort)
	term, code := c.runAgent(t, []string{"HTTPS_PROXY=" + proxy}, "-v")
	term.Expect(`^state waiting Connected \(WebSocket wss://.*/agent through the proxy `, 5*time.Second)
	c.viewAndEnd(t, term, code)
}
