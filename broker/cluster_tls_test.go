package broker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testPKI writes a certificate for dns, signed by ca (self-signed CA for
// nil), and returns it with its key and files.
type testPKI struct {
	cert              *x509.Certificate
	key               *ecdsa.PrivateKey
	certFile, keyFile string
}

func newTestCert(t *testing.T, name string, ca *testPKI, dns ...string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: dns,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        ca == nil, BasicConstraintsValid: true}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &testPKI{key: key, certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if p.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// peerListener is a loopback listener for a node's peer port, the node's
// certificate (signed by the cluster's ca) and its TLS configurations.
func peerListener(t *testing.T, ca *testPKI) (node *testPKI, serve, dial *tls.Config, ln net.Listener) {
	t.Helper()
	node = newTestCert(t, "node", ca, clusterName)
	serve, dial, err := clusterTLS(node.certFile, node.keyFile, writeCAFile(t, ca))
	if err != nil {
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return node, serve, dial, ln
}

// TestPeerTLSResumes: a node's second connection to a peer resumes the
// first one's TLS session, the peer still sees the node's certificate on
// the resumed connection, and certificates that are not the cluster's are
// refused, with or without a session to resume.
func TestPeerTLSResumes(t *testing.T) {
	ca := newTestCert(t, "ca", nil)
	node, serve, dial, ln := peerListener(t, ca)
	type result struct {
		state tls.ConnectionState
		err   error
	}
	served := make(chan result, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, serve)
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			err = tc.Handshake()
			if err == nil {
				// The ticket goes out with the first write; the
				// client picks it up when it reads this byte.
				_, err = tc.Write([]byte{1})
			}
			served <- result{tc.ConnectionState(), err}
			tc.Close()
		}
	}()
	connect := func(cfg *tls.Config) (client tls.ConnectionState, server result, err error) {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), cfg)
		if err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var b [1]byte
			_, err = c.Read(b[:])
			client = c.ConnectionState()
			c.Close()
		}
		select {
		case server = <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("the peer listener did not finish a handshake in 10 s")
		}
		return client, server, err
	}
	for i := range 3 {
		client, server, err := connect(dial)
		if err != nil || server.err != nil {
			t.Fatalf("connection %d: client %v, server %v", i, err, server.err)
		}
		if client.DidResume != (i > 0) || server.state.DidResume != (i > 0) {
			t.Fatalf("connection %d: resumed %v (server %v)", i, client.DidResume, server.state.DidResume)
		}
		if len(server.state.PeerCertificates) == 0 || !server.state.PeerCertificates[0].Equal(node.cert) {
			t.Fatalf("connection %d: the peer listener does not see the node's certificate", i)
		}
	}
	// Foreign certificates: another CA's with the cluster's name, and the
	// cluster CA's for another name, each with a session cache of its own
	// (a ticket is a secret of the node it was issued to: a connection
	// that resumes one is that node, whatever certificate it holds). A
	// refused handshake earns no ticket, so the second try is refused too.
	rogueCA := newTestCert(t, "rogue-ca", nil)
	for name, cert := range map[string]*testPKI{
		"rogue CA":   newTestCert(t, "rogue", rogueCA, clusterName),
		"other name": newTestCert(t, "other", ca, "not-the-cluster"),
	} {
		pair, err := tls.LoadX509KeyPair(cert.certFile, cert.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg := dial.Clone()
		cfg.Certificates = []tls.Certificate{pair}
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		for i := range 2 {
			_, server, err := connect(cfg)
			if err == nil || server.err == nil {
				t.Fatalf("%s, try %d: the peer listener took it (client %v, server %v, resumed %v)", name, i, err, server.err, server.state.DidResume)
			}
		}
	}
}

func writeCAFile(t *testing.T, ca *testPKI) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// Ready peer connections: fillReady makes readyPeers of them; takeReady
// hands out one that is open, passing over one the peer closed (it
// restarted or died) and one kept too long, and then none.
func TestReadyPeerConnections(t *testing.T) {
	ca := newTestCert(t, "ca", nil)
	_, serve, dial, ln := peerListener(t, ca)
	accepted := make(chan *tls.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, serve)
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if tc.Handshake() == nil {
				accepted <- tc
			}
		}
	}()
	addr := ln.Addr().String()
	cn := &clusterNode{dialTLS: dial}
	dialPeer := func(ctx context.Context) (*tls.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cn.peerTLS(addr))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait(); cn.closeReady() }()
	cn.fillReady(ctx, &wg, addr, dialPeer)
	cn.fillReady(ctx, &wg, addr, dialPeer) // one fill at a time: no more than readyPeers
	wg.Wait()
	if n := len(cn.ready[addr]); n != readyPeers {
		t.Fatalf("%d ready connections, want %d", n, readyPeers)
	}
	servers := []*tls.Conn{<-accepted, <-accepted}
	// The first one's peer goes away (killed: no TLS alert, the end of
	// the stream alone); the second is still open.
	first := cn.ready[addr][0].conn.LocalAddr().String()
	for _, s := range servers {
		if s.RemoteAddr().String() == first {
			s.NetConn().Close()
		}
	}
	time.Sleep(50 * time.Millisecond)
	c := cn.takeReady(addr)
	if c == nil || c.LocalAddr().String() == first {
		t.Fatalf("took %v, not the open connection", c)
	}
	// It works: what the node writes, its peer reads.
	c.Write([]byte("hello"))
	var got *tls.Conn
	for _, s := range servers {
		if s.RemoteAddr().String() == c.LocalAddr().String() {
			got = s
		}
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(got, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q %v", buf, err)
	}
	c.Close()
	if c := cn.takeReady(addr); c != nil {
		t.Fatal("a third connection")
	}
	// One kept past readyPeerMax is not handed out.
	cn.fillReady(ctx, &wg, addr, dialPeer)
	wg.Wait()
	cn.mu.Lock()
	for i := range cn.ready[addr] {
		cn.ready[addr][i].since = time.Now().Add(-readyPeerMax - time.Second)
	}
	cn.mu.Unlock()
	if c := cn.takeReady(addr); c != nil {
		t.Fatal("a stale connection was handed out")
	}
	if cn.readyUsed.Load() != 1 {
		t.Fatalf("%d ready connections used", cn.readyUsed.Load())
	}
	// With ready connections kept for as many peers as allowed, a new
	// peer gets some once the stale ones are dropped.
	cn.mu.Lock()
	for i := range maxReadyAddrs {
		cn.ready[fmt.Sprintf("gone-%d:5516", i)] = []readyPeer{{conn: tls.Client(nilConn{}, dial), since: time.Now().Add(-time.Hour)}}
	}
	delete(cn.ready, addr)
	cn.mu.Unlock()
	cn.fillReady(ctx, &wg, addr, dialPeer)
	wg.Wait()
	if n := len(cn.ready); n != 1 || len(cn.ready[addr]) != readyPeers {
		t.Fatalf("%d peers with ready connections, %d for the live one", n, len(cn.ready[addr]))
	}
}

// nilConn is a connection that was never made, for a stale entry.
type nilConn struct{ net.Conn }

func (nilConn) Close() error { return nil }
