//go:build interop && linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"image"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/letsencrypt/challtestsrv"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"lifebuoy/rfb/rfbtest"
)

// testDomain is the broker's name in the ACME tests; /etc/hosts of the
// viewer's and the agent's mount namespaces maps it to loopback.
const testDomain = "broker.test"

// pebbleCA is a real ACME server (Let's Encrypt's Pebble) in the test's
// process, with challtestsrv answering its DNS: every name is 127.0.0.1,
// and the CA checks HTTP-01 on httpPort and TLS-ALPN-01 on tlsPort.
type pebbleCA struct {
	dir      string // the ACME directory URL
	root     string // PEM file of the CA's root, which clients trust
	apiCerts string // PEM file the broker trusts the ACME API's TLS by
}

func startPebble(t *testing.T, httpPort, tlsPort int) *pebbleCA {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	quiet := log.New(io.Discard, "", 0)
	dnsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(rfbtest.FreePort(t)))
	cs, err := challtestsrv.New(challtestsrv.Config{DNSAddrs: []string{dnsAddr}, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cs.SetDefaultDNSIPv4("127.0.0.1")
	cs.SetDefaultDNSIPv6("") // the broker listens on IPv4 loopback only
	go cs.Run()
	t.Cleanup(cs.Shutdown)
	store := db.NewMemoryStore()
	authority := ca.New(quiet, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	v := va.New(quiet, httpPort, tlsPort, false, dnsAddr, store)
	w := wfe.New(quiet, store, v, authority, []string{"pebble.letsencrypt.org"}, false, false, 1, 1)
	srv := httptest.NewTLSServer(w.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	p := &pebbleCA{dir: srv.URL + "/dir", root: filepath.Join(dir, "root.pem"), apiCerts: filepath.Join(dir, "api.pem")}
	if err := os.WriteFile(p.root, authority.GetRootCert(0).PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	api := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p.apiCerts, api, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitACME waits until the broker presents a certificate for testDomain
// that Pebble's root vouches for.
func waitACME(t *testing.T, addr string, p *pebbleCA) *x509.Certificate {
	t.Helper()
	roots := x509.NewCertPool()
	b, _ := os.ReadFile(p.root)
	roots.AppendCertsFromPEM(b)
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: testDomain, RootCAs: roots})
		if err != nil {
			last = err
			continue
		}
		leaf := c.ConnectionState().PeerCertificates[0]
		c.Close()
		return leaf
	}
	t.Fatalf("the broker never presented a certificate from the ACME CA: %v", last)
	return nil
}

// The broker gets its certificate from a real ACME server, by TLS-ALPN-01
// on its HTTPS port and, where that port is not the one the CA checks, by
// HTTP-01 on its plain HTTP port. Then, with no pinning anywhere, the
// agent connects trusting the CA's root, and TigerVNC's vncviewer with the
// CA's root as -X509CA shows the customer's screen through VeNCrypt.
func TestInteropACME(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "unshare", "xsetroot")
	bin := rfbtest.BuildGo(t, "./cmd/lifebuoy-broker")
	agent := rfbtest.BuildGo(t, "./cmd/winvnc")
	for _, tc := range []struct {
		name      string
		challenge string
	}{
		{"tls-alpn-01", "tls-alpn-01"},
		{"http-01", "http-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpsPort, httpPort := rfbtest.FreePort(t), rfbtest.FreePort(t)
			checkTLS := httpsPort
			if tc.challenge == "http-01" {
				checkTLS = rfbtest.FreePort(t) // nothing there: TLS-ALPN-01 fails, HTTP-01 follows
			}
			p := startPebble(t, httpPort, checkTLS)
			r := startBinary(t, bin, t.TempDir(), "SSL_CERT_FILE="+p.apiCerts,
				"-https-listen", fmt.Sprintf("127.0.0.1:%d", httpsPort),
				"-acme-http-listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
				"-acme-domain", testDomain, "-acme-email", "admin@"+testDomain, "-acme-directory", p.dir)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("broker's log:\n%s", r.stderr.String())
				}
			})
			leaf := waitACME(t, r.addrs["https"], p)
			if leaf.Issuer.CommonName == "" || leaf.VerifyHostname(testDomain) != nil {
				t.Fatalf("certificate %v for %v", leaf.Issuer, leaf.DNSNames)
			}
			// The same certificate on the agent port and in 5511's VeNCrypt.
			if got := waitACME(t, r.addrs["agent"], p); !got.Equal(leaf) {
				t.Fatal("the agent port presents another certificate")
			}

			hosts := map[string]string{testDomain: "127.0.0.1"}
			screen := rfbtest.StartXvfb(t, 160, 100, 24)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := rfbtest.Run(t, ctx, screen.Env(), "xsetroot", "-solid", "#a04020"); err != nil {
				t.Fatal(err)
			}
			name, args := rfbtest.WithHosts(t, hosts, agent, "-broker", fmt.Sprintf("%s:%d", testDomain, port(t, r.addrs["agent"])),
				"-display", screen.Display, "-ui", "terminal", "-proxy", "direct")
			term := rfbtest.StartTerminal(t, append(screen.Env(), "SSL_CERT_FILE="+p.root), name, args...)
			code := term.Expect(`^code (\d{6})$`, 20*time.Second)[1]

			pw := filepath.Join(t.TempDir(), "passwd")
			if err := os.WriteFile(pw, rfbtest.VNCPasswdFile(code), 0o600); err != nil {
				t.Fatal(err)
			}
			x := rfbtest.StartXvfb(t, 160, 100, 24)
			name, args = rfbtest.WithHosts(t, hosts, "vncviewer", "-FullScreen", "-AutoSelect=0", "-NoJPEG=1",
				"-SecurityTypes=X509Vnc", "-X509CA="+p.root, "-passwd", pw,
				fmt.Sprintf("%s::%d", testDomain, port(t, r.addrs["viewer"])))
			viewer := rfbtest.Start(t, x.Env(), name, args...)
			term.Expect(`^prompt Allow .* to see your screen\?`, 30*time.Second)
			term.Send("y")
			want, err := screen.Capture()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rfbtest.WaitForImage(ctx, x.Capture, want, func(a, b image.Image) bool {
				n, _, _ := rfbtest.Diff(a, b)
				return n == 0
			}); err != nil {
				t.Fatalf("vncviewer does not show the customer's screen: %v\n%s", err, viewer.Output())
			}
			term.Send("end")
			if err := term.Wait(20 * time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func port(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}
