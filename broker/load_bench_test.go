package broker_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/broker/wsconn"
)

// brokerProcess is cmd/lifebuoy-broker running as its own process, so
// that its memory can be measured apart from the agents and viewers.
type brokerProcess struct {
	cmd                   *exec.Cmd
	fingerprint           string
	agentAddr, viewerAddr string
	adminAddr, httpsAddr  string
	next                  atomic.Int64 // source addresses handed out
}

func startBrokerProcess(b *testing.B) *brokerProcess {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "lifebuoy-broker")
	if out, err := exec.Command("go", "build", "-o", bin, "lifebuoy/cmd/lifebuoy-broker").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-data", filepath.Join(dir, "data"), "-agent-listen", "127.0.0.1:0",
		"-viewer-listen", "127.0.0.1:0", "-repeater-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0",
		"-https-listen", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &brokerProcess{cmd: cmd}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addrs := make(chan [2]string, 8)
	go func() {
		sc := bufio.NewScanner(stderr)
		verbose := os.Getenv("LIFEBUOY_BENCH_BROKER_LOG") != ""
		for sc.Scan() {
			l := sc.Text()
			if verbose {
				fmt.Fprintln(os.Stderr, "broker:", l)
			}
			port, addr, ok := listeningOn(l)
			if !ok {
				continue
			}
			addrs <- [2]string{port, addr}
		}
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "fingerprint sha256="); ok {
			p.fingerprint = v
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	timeout := time.After(10 * time.Second)
	for p.agentAddr == "" || p.viewerAddr == "" || p.adminAddr == "" || p.httpsAddr == "" {
		select {
		case a := <-addrs:
			switch a[0] {
			case "agent":
				p.agentAddr = a[1]
			case "viewer":
				p.viewerAddr = a[1]
			case "admin":
				p.adminAddr = a[1]
			case "https":
				p.httpsAddr = a[1]
			}
		case <-timeout:
			b.Fatal("broker process did not report its listeners")
		}
	}
	return p
}

// rssKiB is the process's resident set size.
func (p *brokerProcess) rssKiB(b *testing.B) int {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// runtimeGauges reads the broker's go_* gauges from /metrics.
func (p *brokerProcess) runtimeGauges(b *testing.B) map[string]float64 {
	resp, err := http.Get("http://" + p.adminAddr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(name, "go_") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// listeningOn reads a broker's log line "broker: listening" (its text
// form): the port's name and its address.
func listeningOn(line string) (port, addr string, ok bool) {
	if !strings.Contains(line, "broker: listening") {
		return "", "", false
	}
	for _, f := range strings.Fields(line) {
		if v, found := strings.CutPrefix(f, "port="); found {
			port = v
		}
		if v, found := strings.CutPrefix(f, "addr="); found {
			addr = v
		}
	}
	return port, addr, true
}

// cpuSeconds is the process's user and system CPU time so far.
func (p *brokerProcess) cpuSeconds(b *testing.B) float64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses:
	// utime and stime are the 12th and 13th, in clock ticks (100 Hz).
	_, rest, _ := strings.Cut(string(s), ") ")
	f := strings.Fields(rest)
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return float64(ut+st) / 100
}

// dialer dials from a fresh loopback source address each time, so that
// neither the throttle's per-address cap nor the ephemeral ports of one
// address limit the benchmark.
func (p *brokerProcess) dialer() *net.Dialer {
	i := int(p.next.Add(1))
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, byte(100+i/(250*250)), byte(i/250%250+1), byte(i%250+1))},
		Timeout: 10 * time.Second}
}

// benchSession is one paired, idle session's client ends.
type benchSession struct {
	link         *agentlink.Link
	viewer, data net.Conn
}

// finish takes the agent's data connection for the session (its request
// accepted under accept, the connection opened under open) and verr's
// outcome of the viewer's handshake; on any failure it closes what the
// session has.
func (s *benchSession) finish(accept, open context.Context, verr <-chan error) error {
	in, err := s.link.Accept(accept)
	if err == nil {
		s.data, err = in.Open(open)
	}
	if verr := <-verr; err == nil {
		err = verr
	}
	if err != nil {
		s.link.Close()
		if s.viewer != nil {
			s.viewer.Close()
		}
		if s.data != nil {
			s.data.Close()
		}
	}
	return err
}

func (s *benchSession) close() {
	s.viewer.Close()
	s.data.Close()
	s.link.Close()
}

// Transports a benchmark's sessions use.
const (
	overTLS       = "tls"       // the agent on 5510, the viewer on 5511
	overWebSocket = "wss"       // the agent on /agent, the viewer on /rfb (the HTTPS front)
	browserViewer = "rfb"       // the agent on 5510, the viewer on /rfb (noVNC, the console)
	agentOverWS   = "agent-wss" // the agent on /agent, the viewer on 5511
)

// pair makes a session: the agent's TLS link (customer first), a stock
// viewer's VNC Authentication with the code, and the agent's TLS data
// connection. The viewer is left after a successful SecurityResult.
// Over WebSocket, the agent's link and data connection are its TLS
// inside wss://…/agent, and the viewer is noVNC's wss://…/rfb.
func (p *brokerProcess) pair(ctx context.Context, transport string) (*benchSession, error) {
	cfg := agentlink.Config{Broker: p.agentAddr, Fingerprint: p.fingerprint, Proxy: "direct",
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return p.dialer().DialContext(ctx, network, addr)
		}}
	if transport == overWebSocket || transport == agentOverWS {
		cfg.Paths = []agentlink.Path{{Kind: agentlink.PathWebSocket, Addr: p.httpsAddr}}
	}
	link, err := agentlink.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &benchSession{link: link}
	verr := make(chan error, 1)
	go func() {
		var c net.Conn
		var err error
		if transport == overWebSocket || transport == browserViewer {
			c, err = wsconn.Dial(ctx, "wss://"+p.httpsAddr+"/rfb", wsconn.DialOptions{
				TLS: &tls.Config{InsecureSkipVerify: true}, NetDial: p.dialer().DialContext})
		} else {
			c, err = p.dialer().DialContext(ctx, "tcp", p.viewerAddr)
		}
		if err != nil {
			verr <- err
			return
		}
		s.viewer = c
		verr <- rawVNCAuth(c, link.Code())
	}()
	if err := s.finish(ctx, ctx, verr); err != nil {
		return nil, err
	}
	return s, nil
}

// pairMany makes n sessions with w workers.
func (p *brokerProcess) pairMany(b *testing.B, n, w int, transport string) []*benchSession {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := make([]*benchSession, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for range w {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				s, err := p.pair(ctx, transport)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				out[i] = s
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		for _, s := range out {
			if s != nil {
				s.close()
			}
		}
		b.Fatalf("pairing: %v", firstErr)
	}
	return out
}

// BenchmarkIdleSessions measures the broker process's RSS growth per
// idle paired session (the agent's data connection and control link in
// TLS, the viewer in plain RFB), at 1,000, 5,000 and 6,600 sessions; with
// a browser's viewer (rfb-N: the viewer on wss://…/rfb, the agent on
// 5510); and all over WebSocket (wss-N: the agent's TLS inside
// wss://…/agent, as behind a proxy that inspects TLS), at 1,000 and 5,000. A session costs three descriptors in
// the broker and three here; with the broker's dozen of its own, 6,600 is
// about the most that fits under this machine's hard limit of 20,000
// descriptors a process. Run it with -benchtime 1x. The RSS is read after
// LIFEBUOY_BENCH_SETTLE (25 s).
func BenchmarkIdleSessions(b *testing.B) {
	for _, tc := range []struct {
		n         int
		transport string
	}{{1000, overTLS}, {5000, overTLS}, {6600, overTLS}, {1000, browserViewer}, {5000, browserViewer},
		{1000, overWebSocket}, {5000, overWebSocket}} {
		name := strconv.Itoa(tc.n)
		if tc.transport != overTLS {
			name = tc.transport + "-" + name
		}
		b.Run(name, func(b *testing.B) {
			n := tc.n
			p := startBrokerProcess(b)
			// Warm up (TLS, the runtime's pools), then the baseline, once
			// the broker has trimmed what the warm-up freed (else the
			// baseline holds freed memory that later sessions reuse).
			for _, s := range p.pairMany(b, 50, 8, tc.transport) {
				s.close()
			}
			settle()
			before, rt0 := p.rssKiB(b), p.runtimeGauges(b)
			b.ResetTimer()
			var all [][]*benchSession
			for range b.N {
				all = append(all, p.pairMany(b, n, 8, tc.transport))
			}
			b.StopTimer()
			settle()
			after, rt1 := p.rssKiB(b), p.runtimeGauges(b)
			per := func(k string) float64 { return (rt1[k] - rt0[k]) / float64(n*b.N) }
			b.ReportMetric(float64(after-before)/float64(n*b.N), "KiB/session")
			b.ReportMetric(per("go_goroutines"), "goroutines/session")
			b.ReportMetric(per("go_stack_bytes")/1024, "stack-KiB/session")
			b.ReportMetric(per("go_heap_live_bytes")/1024, "live-heap-KiB/session")
			b.ReportMetric(float64(after), "broker-RSS-KiB")
			for _, ss := range all {
				for _, s := range ss {
					s.close()
				}
			}
		})
	}
}

// settle waits before the broker's memory is read. The broker trims its
// memory 10 to 20 s after a burst of connections (trimAfterBursts); the
// figure is its steady state after that. LIFEBUOY_BENCH_SETTLE=2s
// measures the burst's peak instead.
func settle() {
	d := 25 * time.Second
	if v, err := time.ParseDuration(os.Getenv("LIFEBUOY_BENCH_SETTLE")); err == nil {
		d = v
	}
	time.Sleep(d)
}

// BenchmarkIdleAgents measures the broker's RSS growth per agent that
// holds a code and waits for its supporter (customer first), the state a
// help desk's customers are in while they read the code over the phone.
// One TLS control link each, parked, with the keep-alive timer.
func BenchmarkIdleAgents(b *testing.B) {
	const n = 5000
	p := startBrokerProcess(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dial := func() (*agentlink.Link, error) {
		return agentlink.Dial(ctx, agentlink.Config{Broker: p.agentAddr, Fingerprint: p.fingerprint, Proxy: "direct",
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return p.dialer().DialContext(ctx, network, addr)
			}})
	}
	for range 50 {
		if l, err := dial(); err == nil {
			l.Close()
		}
	}
	time.Sleep(time.Second)
	before, rt0 := p.rssKiB(b), p.runtimeGauges(b)
	b.ResetTimer()
	links := make([]*agentlink.Link, 0, n*b.N)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(n*b.N) {
				l, err := dial()
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				links = append(links, l)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	settle()
	after, rt1 := p.rssKiB(b), p.runtimeGauges(b)
	b.ReportMetric(float64(after-before)/float64(len(links)), "KiB/agent")
	b.ReportMetric((rt1["go_goroutines"]-rt0["go_goroutines"])/float64(len(links)), "goroutines/agent")
	for _, l := range links {
		l.Close()
	}
}

// BenchmarkPairings is pairings a second with fresh TLS handshakes: each
// is a new agent link (TLS 1.3), a viewer's RFB handshake with VNC
// Authentication, and a new TLS data connection, then everything is
// closed; "tls" on 5510 and 5511; "agent-wss" with the agent's TLS
// inside wss://…/agent (two more TLS handshakes, of the front's, the
// second resumed) and the viewer on 5511; "wss" with the viewer on
// wss://…/rfb as well. Against the
// broker process, with 32 pairings in flight; the clients share the
// machine's two cores with it.
func BenchmarkPairings(b *testing.B) {
	for _, transport := range []string{overTLS, agentOverWS, overWebSocket} {
		b.Run(transport, func(b *testing.B) { benchPairings(b, transport) })
	}
}

func benchPairings(b *testing.B, transport string) {
	p := startBrokerProcess(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	inFlight := 32
	if v, err := strconv.Atoi(os.Getenv("LIFEBUOY_BENCH_INFLIGHT")); err == nil && v > 0 {
		inFlight = v
	}
	cpu0 := p.cpuSeconds(b)
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				s, err := p.pair(ctx, transport)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				s.close()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d pairings failed; the first: %v", f, b.N, firstErr.Load())
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pairings/s")
	// The agents and viewers here take about as much CPU as the broker;
	// the broker's own CPU time per pairing says what it could do alone.
	b.ReportMetric((p.cpuSeconds(b)-cpu0)*1000/float64(b.N), "broker-CPU-ms/pairing")
}
