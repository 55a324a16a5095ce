package broker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/broker/wsconn"
)

// BenchmarkRelay moves one session's stream, agent to viewer, through the
// broker's relay and, in the same run, through socat relaying the same
// stream between the same kind of sockets:
//
//	source ─TCP─▶ relay ─TCP─▶ sink
//
// "plain" has TCP on both sides of the relay, "agent-tls" has the agent
// side in TLS 1.3 and framed (agentlink.Mux), as on the agent port. On the
// HTTPS front, "rfb-wss" has the viewer's stream in WebSocket frames in
// TLS (noVNC on /rfb) and the agent on TLS, "agent-wss" the agent's TLS
// in WebSocket frames in TLS (/agent, an agent behind a firewall) and the
// viewer on TCP, and "both-wss" both. socat runs
// as "socat TCP-LISTEN:p,reuseaddr,fork TCP:127.0.0.1:q", with its default
// 8 KiB block and with -b 32768, the relay's own buffer size.
//
// Each TLS path runs twice: as the broker runs it (its TLS over
// sockConn, which gathers records and writes them whole) and, with
// "-nobatch", over the bare socket, as before sockConn. Source and sink
// run in this process, their TLS and WebSocket work on the same cores as
// the relay's; "cpu-ms/MB" is this whole process's CPU time per MB moved.
// BenchmarkRelayProcess measures the relay alone.
func BenchmarkRelay(b *testing.B) {
	runRelayPaths(b, benchRelay, false)
}

// runRelayPaths runs bench for plain TCP and each of relayPaths, with
// and without batching, then socat's rows (measuring socat's process
// when process is set).
func runRelayPaths(b *testing.B, bench func(b *testing.B, chunk int, sides relaySides), process bool) {
	const chunk = 1 << 20
	b.Run("broker-plain", func(b *testing.B) { bench(b, chunk, relaySides{}) })
	for _, p := range relayPaths {
		b.Run("broker-"+p.name, func(b *testing.B) { bench(b, chunk, p.sides) })
		old := p.sides
		old.nobatch = true
		b.Run("broker-"+p.name+"-nobatch", func(b *testing.B) { bench(b, chunk, old) })
	}
	b.Run("socat", func(b *testing.B) { benchSocat(b, chunk, process) })
	b.Run("socat-b32k", func(b *testing.B) { benchSocat(b, chunk, process, "-b", "32768") })
}

// relayPaths are the benchmarked kinds of session other than plain TCP.
var relayPaths = []struct {
	name  string
	sides relaySides
}{
	{"agent-tls", relaySides{agentTLS: true}},
	{"rfb-wss", relaySides{agentTLS: true, viewerWS: true}},
	{"agent-wss", relaySides{agentTLS: true, agentWS: true}},
	{"both-wss", relaySides{agentTLS: true, agentWS: true, viewerWS: true}},
}

// BenchmarkRelayProcess is BenchmarkRelay with the relay in a process of
// its own (this test binary again, as TestRelayChild), so that its CPU
// time is the relay's alone: "relay-cpu-ms/MB" is what the relay process
// spent per MB moved, and "relay-MB/cpu-s" the rate one core of its own
// would give. socat's rows measure socat's process likewise. The
// source and sink still share the machine's cores with the relay.
func BenchmarkRelayProcess(b *testing.B) {
	runRelayPaths(b, benchRelayProcess, true)
}

// tcpPair returns both ends of a loopback TCP connection, closed at the
// end of the test.
func tcpPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// pump writes n chunks into src and waits until sink has read them all.
// cpu, if not nil, reads the relay process's CPU time, before and after.
func pump(b *testing.B, src io.WriteCloser, sink net.Conn, chunk int, cpu func() time.Duration) {
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	want := int64(b.N) * int64(chunk)
	got := make(chan int64, 1)
	go func() {
		rb := make([]byte, 64<<10)
		var n int64
		for n < want {
			m, err := sink.Read(rb)
			n += int64(m)
			if err != nil {
				break
			}
		}
		got <- n
	}()
	b.SetBytes(int64(chunk))
	self0 := processCPU()
	var cpu0 time.Duration
	if cpu != nil {
		cpu0 = cpu()
	}
	b.ResetTimer()
	for range b.N {
		if _, err := src.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if n := <-got; n != want {
		b.Fatalf("sink read %d of %d bytes", n, want)
	}
	b.StopTimer()
	mb := float64(want) / 1e6
	b.ReportMetric(float64(processCPU()-self0)/1e6/mb, "cpu-ms/MB")
	if cpu != nil {
		d := cpu() - cpu0
		b.ReportMetric(float64(d)/1e6/mb, "relay-cpu-ms/MB")
		if d > 0 {
			b.ReportMetric(mb/d.Seconds(), "relay-MB/cpu-s")
		}
	}
}

// childCPU reads a process's CPU time, user and system, from /proc (in
// clock ticks of 10 ms), and that of its children that are running
// (socat serves each connection in a child of its own).
func childCPU(pid int) time.Duration {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's name, which ends at the last ')'.
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	d := time.Duration(ut+stt) * 10 * time.Millisecond
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, k := range strings.Fields(string(kids)) {
		if kp, err := strconv.Atoi(k); err == nil {
			d += childCPU(kp)
		}
	}
	return d
}

// relaySides says what carries each side of a benchmarked relay.
type relaySides struct {
	agentTLS, agentWS, viewerWS bool
	nobatch                     bool // TLS on the bare socket, without sockConn
}

// String is the sides as TestRelayChild reads them.
func (s relaySides) String() string {
	return fmt.Sprintf("%t,%t,%t,%t", s.agentTLS, s.agentWS, s.viewerWS, s.nobatch)
}

func parseSides(v string) (relaySides, error) {
	var s relaySides
	_, err := fmt.Sscanf(strings.ReplaceAll(v, ",", " "), "%t %t %t %t", &s.agentTLS, &s.agentWS, &s.viewerWS, &s.nobatch)
	return s, err
}

// socket wraps a server's socket as the broker does, unless nobatch.
func (s relaySides) socket(c net.Conn) net.Conn {
	if s.nobatch {
		return c
	}
	return wrapSocket(c)
}

// benchCert is one certificate for every benchmark's TLS.
var benchCert = sync.OnceValues(func() (tls.Certificate, error) {
	dir, err := os.MkdirTemp("", "relaybench")
	if err != nil {
		return tls.Certificate{}, err
	}
	defer os.RemoveAll(dir)
	cert, _, err := loadOrCreateCert(dir)
	return cert, err
})

// agentServer is the relay's agent side from its accepted connection
// (its socket wrapped already, as the broker does): TLS 1.3 and the Mux
// framing, as on the agent port.
func (s relaySides) agentServer(c net.Conn) (net.Conn, error) {
	if !s.agentTLS {
		return c, nil
	}
	cert, err := benchCert()
	if err != nil {
		return nil, err
	}
	ts := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	if err := ts.Handshake(); err != nil {
		return nil, err
	}
	return agentlink.NewMux(ts, nil), nil
}

// agentClient is the agent's side: TLS 1.3 and the Mux framing.
// connectAgent runs the agent's handshakes between src (the agent's end)
// and agentSide (the broker's), and returns what the agent writes to and
// the broker's end of the agent's stream.
func (s relaySides) connectAgent(tb testing.TB, src, agentSide net.Conn) (io.WriteCloser, net.Conn) {
	tb.Helper()
	errc := make(chan error, 1)
	var agent net.Conn
	go func() {
		var err error
		agent, err = s.agentServer(agentSide)
		errc <- err
	}()
	w, err := s.agentClient(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
	return w, agent
}

func (s relaySides) agentClient(c net.Conn) (io.WriteCloser, error) {
	if !s.agentTLS {
		return c, nil
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	return agentlink.NewMux(tc, nil), nil
}

func benchRelay(b *testing.B, chunk int, sides relaySides) {
	var src, agentSide, viewerSide, sink net.Conn
	if sides.agentWS {
		src, agentSide = wsPair(b, sides)
	} else {
		src, agentSide = tcpPair(b)
	}
	if sides.viewerWS {
		viewerSide, sink = wsPair(b, sides)
	} else {
		viewerSide, sink = tcpPair(b)
	}
	defer src.Close()
	defer sink.Close()
	if !sides.agentWS {
		agentSide = sides.socket(agentSide)
	}
	w, agent := sides.connectAgent(b, src, agentSide)
	done := runBenchRelay(b, viewerSide, agent)
	pump(b, w, sink, chunk, nil)
	src.Close()
	<-done
}

// runBenchRelay starts a relay between viewer and agent and returns what
// is closed when it has ended.
func runBenchRelay(tb testing.TB, viewer, agent net.Conn) <-chan struct{} {
	var toViewer, toAgent atomic.Int64
	park, err := newParker()
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	startRelay(context.Background(), &relay{viewer: viewer, agent: agent, idle: time.Minute, park: park,
		toViewer: []*atomic.Int64{&toViewer}, toAgent: []*atomic.Int64{&toAgent},
		onEnd: func(string) { park.close(); close(done) }})
	return done
}

// relayChildEnv makes the test binary the relay process of
// BenchmarkRelayProcess (TestRelayChild), with the sides it names.
const relayChildEnv = "LIFEBUOY_BENCH_RELAY_CHILD"

// TestRelayChild is the relay process of BenchmarkRelayProcess: it
// listens for the agent's side and the viewer's, prints both addresses,
// relays one session and exits. Without relayChildEnv it does nothing.
func TestRelayChild(t *testing.T) {
	v := os.Getenv(relayChildEnv)
	if v == "" {
		t.Skip("the relay process of BenchmarkRelayProcess; run by it")
	}
	sides, err := parseSides(v)
	if err != nil {
		t.Fatal(err)
	}
	listen := func(ws bool) (string, <-chan net.Conn) {
		if ws {
			return wsServe(t, sides)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		got := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				got <- nil
				return
			}
			got <- c
		}()
		return l.Addr().String(), got
	}
	agentAddr, agents := listen(sides.agentWS)
	viewerAddr, viewers := listen(sides.viewerWS)
	fmt.Printf("relay %s %s\n", agentAddr, viewerAddr)
	accept := func(ch <-chan net.Conn) net.Conn {
		select {
		case c := <-ch:
			if c == nil {
				t.Fatal("accept failed")
			}
			return c
		case <-time.After(30 * time.Second):
			t.Fatal("nobody came")
		}
		return nil
	}
	agentSide := accept(agents)
	if !sides.agentWS {
		agentSide = sides.socket(agentSide)
	}
	agent, err := sides.agentServer(agentSide)
	if err != nil {
		t.Fatal(err)
	}
	viewer := accept(viewers)
	select {
	case <-runBenchRelay(t, viewer, agent):
	case <-time.After(10 * time.Minute):
		t.Fatal("the benchmark did not end the session")
	}
}

func benchRelayProcess(b *testing.B, chunk int, sides relaySides) {
	args := []string{"-test.run", "^TestRelayChild$", "-test.count", "1"}
	if f := os.Getenv("LIFEBUOY_BENCH_RELAY_CPUPROFILE"); f != "" {
		// The relay process's CPU profile, of its last session.
		args = append(args, "-test.cpuprofile", f)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), relayChildEnv+"="+sides.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(out)
	var agentAddr, viewerAddr string
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "relay %s %s", &agentAddr, &viewerAddr); err == nil {
			break
		}
	}
	if viewerAddr == "" {
		b.Fatal("the relay process did not start")
	}
	go io.Copy(io.Discard, out)
	dial := func(ws bool, addr string) net.Conn {
		var c net.Conn
		var err error
		if ws {
			c, err = wsDial(addr)
		} else {
			c, err = net.Dial("tcp", addr)
		}
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	src := dial(sides.agentWS, agentAddr)
	defer src.Close()
	w, err := sides.agentClient(src)
	if err != nil {
		b.Fatal(err)
	}
	sink := dial(sides.viewerWS, viewerAddr)
	defer sink.Close()
	pump(b, w, sink, chunk, func() time.Duration { return childCPU(cmd.Process.Pid) })
	src.Close()
	cmd.Wait() // the relay ends with the session (and writes its profile)
}

// wsPair returns both ends of a WebSocket connection in TLS over
// loopback TCP, upgraded by an HTTP server as on the HTTPS front.
func wsPair(tb testing.TB, sides relaySides) (client, server net.Conn) {
	tb.Helper()
	addr, got := wsServe(tb, sides)
	client, err := wsDial(addr)
	if err != nil {
		tb.Fatal(err)
	}
	server = <-got
	if server == nil {
		tb.Fatal("upgrade failed")
	}
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// wsServe listens for one WebSocket in TLS, as the HTTPS front does.
func wsServe(tb testing.TB, sides relaySides) (string, <-chan net.Conn) {
	cert, err := benchCert()
	if err != nil {
		tb.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	// The front's TLS runs over the socket wrapped as the front wraps it.
	l := &socketTLSListener{Listener: tl, sides: sides, cfg: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}}
	got := make(chan net.Conn, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Upgrade(w, r, wsconn.Options{})
		if err != nil {
			got <- nil
			return
		}
		got <- c
	})}
	go srv.Serve(l)
	tb.Cleanup(func() { l.Close() })
	return tl.Addr().String(), got
}

func wsDial(addr string) (net.Conn, error) {
	return wsconn.Dial(context.Background(), "wss://"+addr+"/", wsconn.DialOptions{
		TLS: &tls.Config{InsecureSkipVerify: true}})
}

// benchSocat relays through socat; withCPU reports socat's CPU time.
func benchSocat(b *testing.B, chunk int, withCPU bool, opts ...string) {
	path, err := exec.LookPath("socat")
	if err != nil {
		b.Skip("socat not installed")
	}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sl.Close()
	// A free port for socat to listen on.
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := pl.Addr().(*net.TCPAddr).Port
	pl.Close()
	args := append(opts, "TCP-LISTEN:"+strconv.Itoa(port)+",bind=127.0.0.1,reuseaddr,fork", "TCP:"+sl.Addr().String())
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var src net.Conn
	for i := 0; ; i++ {
		src, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			break
		}
		if i == 100 {
			b.Fatalf("socat did not listen: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer src.Close()
	sink, err := sl.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	var cpu func() time.Duration
	if withCPU {
		cpu = func() time.Duration { return childCPU(cmd.Process.Pid) }
	}
	pump(b, src, sink, chunk, cpu)
}

// socketTLSListener is tls.Listen with the socket wrapped as the front
// wraps it (wrapSocket).
type socketTLSListener struct {
	net.Listener
	sides relaySides
	cfg   *tls.Config
}

func (l *socketTLSListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(l.sides.socket(c), l.cfg), nil
}
