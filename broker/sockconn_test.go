package broker

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tlsOverSocket returns a TLS 1.3 client and a server whose socket is a
// sockConn, both handshaken.
func tlsOverSocket(t *testing.T) (client *tls.Conn, server *tls.Conn, sock *sockConn, raw net.Conn) {
	t.Helper()
	c, s := tcpPair(t)
	w := wrapSocket(s)
	sock, ok := w.(*sockConn)
	if !ok {
		t.Fatalf("wrapSocket(%T) = %T", s, w)
	}
	cert, err := benchCert()
	if err != nil {
		t.Fatal(err)
	}
	server = tls.Server(w, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	client = tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return client, server, sock, c
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

// A gathering read of an empty socket fails at once as a timeout, TLS
// keeps its place, and gather collects several records into one buffer.
func TestSockConnGather(t *testing.T) {
	client, server, sock, _ := tlsOverSocket(t)
	sock.startGather()
	buf := make([]byte, 64<<10)
	_, err := server.Read(buf)
	var ne net.Error
	if !errors.Is(err, errWouldBlock) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("gathering read of an empty socket: %v, want errWouldBlock as a timeout", err)
	}
	sock.stopGather()

	want := pattern(40000) // three TLS records
	if _, err := client.Write(want); err != nil {
		t.Fatal(err)
	}
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := server.Read(buf) // blocking: one record
	if err != nil {
		t.Fatal(err)
	}
	// The rest has arrived or is arriving: gather until all of it is in.
	for i := 0; n < len(want) && i < 1000; i++ {
		if n, err = gather(server, sock, buf, n); err != nil {
			t.Fatal(err)
		}
		if n < len(want) {
			time.Sleep(time.Millisecond)
		}
	}
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("gathered %d bytes, want the %d written, in order", n, len(want))
	}
	if sock.gather != nil {
		t.Fatal("gather left the socket in gathering mode")
	}
	// Nothing more: gather returns at once with what it had.
	if n2, err := gather(server, sock, buf, n); n2 != n || err != nil {
		t.Fatalf("gather on a quiet socket = %d, %v; want %d, nil", n2, err, n)
	}
	// The stream goes on after the would-block reads.
	client.Write([]byte("more"))
	n, err = server.Read(buf)
	if err != nil || string(buf[:n]) != "more" {
		t.Fatalf("read after gathering = %q, %v", buf[:n], err)
	}
	// A closed peer ends a gathering read with EOF.
	client.Close()
	sock.startGather()
	for i := 0; i < 1000; i++ {
		if _, err = server.Read(buf); !errors.Is(err, errWouldBlock) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	sock.stopGather()
	if err != io.EOF {
		t.Fatalf("gathering read after the peer closed: %v, want EOF", err)
	}
}

// A cork holds a write's TLS records until flush, which sends them in
// one write and gives the buffer back.
func TestSockConnCork(t *testing.T) {
	_, server, sock, raw := tlsOverSocket(t)
	want := pattern(40000)
	sock.corkOn()
	if _, err := server.Write(want); err != nil {
		t.Fatal(err)
	}
	raw.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := raw.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes while corked (%v); want nothing yet", n, err)
	}
	if err := sock.flush(); err != nil {
		t.Fatal(err)
	}
	if sock.cork != nil {
		t.Fatal("flush kept the cork's buffer")
	}
	readRecords(t, raw, len(want))
	// A write larger than the cork's buffer goes out as the buffer
	// fills, and its end at flush.
	sock.corkOn()
	big := pattern(3 * corkBuf)
	go func() {
		server.Write(big)
		sock.flush()
	}()
	readRecords(t, raw, len(big))
}

// readRecords reads TLS 1.3 records from raw until they have carried n
// bytes of plaintext (each has a 5-byte header, a content type byte and a
// 16-byte tag).
func readRecords(t *testing.T, raw net.Conn, n int) {
	t.Helper()
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	plain := 0
	for plain < n {
		var hdr [5]byte
		if _, err := io.ReadFull(raw, hdr[:]); err != nil {
			t.Fatalf("after %d bytes: %v", plain, err)
		}
		l := int(hdr[3])<<8 | int(hdr[4])
		if hdr[0] != 23 || l < 17 {
			t.Fatalf("record type %d of %d bytes", hdr[0], l)
		}
		if _, err := io.CopyN(io.Discard, raw, int64(l)); err != nil {
			t.Fatal(err)
		}
		plain += l - 17
	}
	if plain != n {
		t.Fatalf("records carried %d bytes, want %d", plain, n)
	}
}

// A session relays a long stream intact with both sides in TLS over
// sockConn, the agent's framed, the viewer's in WebSocket frames.
func TestRelayBatchedIntact(t *testing.T) {
	for _, p := range relayPaths {
		t.Run(p.name, func(t *testing.T) {
			sides := p.sides
			var src, agentSide, viewerSide, sink net.Conn
			if sides.agentWS {
				src, agentSide = wsPair(t, sides)
			} else {
				src, agentSide = tcpPair(t)
				agentSide = sides.socket(agentSide)
			}
			if sides.viewerWS {
				viewerSide, sink = wsPair(t, sides)
			} else {
				viewerSide, sink = tcpPair(t)
			}
			w, agent := sides.connectAgent(t, src, agentSide)
			done := runBenchRelay(t, viewerSide, agent)
			want := pattern(3<<20 + 12345)
			go func() {
				// Writes of uneven sizes, so that records and frames
				// fall anywhere.
				for b := want; len(b) > 0; {
					n := min(len(b), 1+len(b)%70001)
					if _, err := w.Write(b[:n]); err != nil {
						return
					}
					b = b[n:]
				}
			}()
			sink.SetReadDeadline(time.Now().Add(time.Minute))
			got := make([]byte, len(want))
			if _, err := io.ReadFull(sink, got); err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != sha256.Sum256(want) {
				t.Fatal("the stream arrived changed")
			}
			src.Close()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the relay did not end")
			}
		})
	}
}
