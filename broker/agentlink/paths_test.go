package agentlink

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"
)

// slowBroker answers TLS on a loopback port, each connection only after
// delay (a busy broker or a slow link), and returns its address and
// certificate fingerprint.
func slowBroker(t *testing.T, delay time.Duration) (addr, fingerprint string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS13}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				time.Sleep(delay)
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					_, _ = tc.Read(make([]byte, 1)) // hold it until the client closes
				}
			}()
		}
	}()
	return l.Addr().String(), hex.EncodeToString(sum[:])
}

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A broker that answers, but slower than an attempt's bound, is reached
// all the same: once every way has failed, the ways that only ran out of
// time are tried again with the long bound. A way that refuses is not.
func TestDialRetriesSlowWays(t *testing.T) {
	addr, fp := slowBroker(t, 600*time.Millisecond)
	slowWay, refused := Path{Kind: PathTLS, Addr: addr}, Path{Kind: PathTLS, Addr: closedPort(t)}
	cfg := &Config{Broker: addr, Fingerprint: fp, AttemptTimeout: 200 * time.Millisecond,
		Stagger: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// One round alone: the slow way runs out of time, the refused one
	// fails at once, and only the slow one is worth another try.
	_, _, slow, err := dialRound(ctx, cfg, []Path{slowWay, refused}, false, 0)
	if err == nil || len(slow) != 1 || slow[0] != slowWay {
		t.Fatalf("first round: err %v, slow ways %v; want an error and %v", err, slow, slowWay)
	}
	// The whole search gets through on the second round.
	c, p, err := dialAny(ctx, cfg, []Path{slowWay, refused}, false)
	if err != nil {
		t.Fatalf("dialAny: %v", err)
	}
	defer c.Close()
	if p != slowWay {
		t.Fatalf("reached by %v, want %v", p, slowWay)
	}
	// Nothing answers on any way: the error says so, after one retry.
	_, _, err = dialAny(ctx, cfg, []Path{refused}, false)
	if err == nil {
		t.Fatal("a refused way was reached")
	}
}
