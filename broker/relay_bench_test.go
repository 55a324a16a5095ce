package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
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
func BenchmarkRelay(b *testing.B) {
	const chunk = 1 << 20
	b.Run("broker-plain", func(b *testing.B) { benchRelay(b, chunk, relaySides{}) })
	b.Run("broker-agent-tls", func(b *testing.B) { benchRelay(b, chunk, relaySides{agentTLS: true}) })
	b.Run("broker-rfb-wss", func(b *testing.B) { benchRelay(b, chunk, relaySides{agentTLS: true, viewerWS: true}) })
	b.Run("broker-agent-wss", func(b *testing.B) { benchRelay(b, chunk, relaySides{agentTLS: true, agentWS: true}) })
	b.Run("broker-both-wss", func(b *testing.B) {
		benchRelay(b, chunk, relaySides{agentTLS: true, agentWS: true, viewerWS: true})
	})
	b.Run("socat", func(b *testing.B) { benchSocat(b, chunk) })
	b.Run("socat-b32k", func(b *testing.B) { benchSocat(b, chunk, "-b", "32768") })
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
func pump(b *testing.B, src io.WriteCloser, sink net.Conn, chunk int) {
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
}

// relaySides says what carries each side of a benchmarked relay.
type relaySides struct {
	agentTLS, agentWS, viewerWS bool
}

func benchRelay(b *testing.B, chunk int, sides relaySides) {
	var src, agentSide, viewerSide, sink net.Conn
	if sides.agentWS {
		src, agentSide = wsPair(b)
	} else {
		src, agentSide = tcpPair(b)
	}
	if sides.viewerWS {
		viewerSide, sink = wsPair(b)
	} else {
		viewerSide, sink = tcpPair(b)
	}
	defer src.Close()
	defer sink.Close()
	var w io.WriteCloser = src
	var agent net.Conn = agentSide
	if sides.agentTLS {
		cert, _, err := loadOrCreateCert(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		ts := tls.Server(agentSide, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
		tc := tls.Client(src, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
		errc := make(chan error, 1)
		go func() { errc <- ts.Handshake() }()
		if err := tc.Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		w, agent = tc, ts
	}
	if sides.agentTLS {
		// An agent's data connection is framed (agentlink.Mux): its RFB
		// goes through the framing both ways.
		w, agent = agentlink.NewMux(w.(net.Conn), nil), agentlink.NewMux(agent, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var toViewer, toAgent atomic.Int64
	park, err := newParker()
	if err != nil {
		b.Fatal(err)
	}
	defer park.close()
	done := make(chan struct{})
	startRelay(ctx, &relay{viewer: viewerSide, agent: agent, idle: time.Minute, park: park,
		toViewer: []*atomic.Int64{&toViewer}, toAgent: []*atomic.Int64{&toAgent},
		onEnd: func(string) { close(done) }})
	pump(b, w, sink, chunk)
	cancel()
	<-done
}

// wsPair returns both ends of a WebSocket connection in TLS over
// loopback TCP, upgraded by an HTTP server as on the HTTPS front.
func wsPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	cert, _, err := loadOrCreateCert(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
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
	client, err = wsconn.Dial(context.Background(), "wss://"+l.Addr().String()+"/", wsconn.DialOptions{
		TLS: &tls.Config{InsecureSkipVerify: true}})
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

func benchSocat(b *testing.B, chunk int, opts ...string) {
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
	pump(b, src, sink, chunk)
}
