package main

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
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifebuoy/broker/agentlink"
)

// writeCert writes a new self-signed certificate and its key (PEM) and
// returns the certificate's fingerprint.
func writeCert(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "admin's"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// presented is the fingerprint of the certificate a TLS port presents.
func presented(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].Raw)
	return hex.EncodeToString(sum[:])
}

// The administrator's certificate (-cert, -key) is presented on every TLS
// port; SIGHUP reads the renewed files while a session keeps relaying,
// and files that do not load keep the certificate in use.
func TestCertificateReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "lifebuoy-broker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile)
	r := startBinary(t, bin, filepath.Join(dir, "data"), "-cert", certFile, "-key", keyFile)
	if r.fingerprint != first {
		t.Fatalf("fingerprint %s, want the admin's certificate's %s", r.fingerprint, first)
	}
	for _, port := range []string{"agent", "https"} {
		if got := presented(t, r.addrs[port]); got != first {
			t.Fatalf("%s port presents %s", port, got)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link, err := agentlink.Dial(ctx, agentlink.Config{Broker: r.addrs["agent"], Fingerprint: first, Proxy: "direct"})
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	viewer, err := net.Dial("tcp", r.addrs["repeater"])
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
	relays := func(msg string) {
		t.Helper()
		data.Write([]byte(msg))
		got := make([]byte, len(msg))
		viewer.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(viewer, got); err != nil || string(got) != msg {
			t.Fatalf("relay: %q %v", got, err)
		}
	}
	relays("before")

	second := writeCert(t, certFile, keyFile)
	r.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(5 * time.Second); presented(t, r.addrs["agent"]) != second; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not bring in the new certificate\n%s", r.stderr)
		}
	}
	if got := presented(t, r.addrs["https"]); got != second {
		t.Fatalf("the HTTPS front presents %s after the reload", got)
	}
	relays("after the reload")

	os.WriteFile(certFile, []byte("not a certificate"), 0o644)
	r.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(r.stderr.String(), "certificate reload failed"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a broken certificate file was not reported\n%s", r.stderr)
		}
	}
	if got := presented(t, r.addrs["agent"]); got != second {
		t.Fatalf("a broken file replaced the certificate: %s", got)
	}
	relays("still")
}

// A broker killed with sessions running writes their end, with the
// reason, when it starts again, after its restart marker.
func TestCrashedSessionsEndAfterRestart(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "lifebuoy-broker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	r := startBinary(t, bin, data)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link, err := agentlink.Dial(ctx, agentlink.Config{Broker: r.addrs["agent"], Fingerprint: r.fingerprint, Proxy: "direct"})
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	viewer, err := net.Dial("tcp", r.addrs["repeater"])
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
	data1, err := in.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer data1.Close()
	data1.Write([]byte("hi"))
	viewer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(viewer, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	r.cmd.Process.Kill()
	<-r.done

	startBinary(t, bin, data)
	var audit string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(data, "audit.jsonl"))
		audit = string(b)
		if strings.Count(audit, `"msg":"broker started"`) == 2 && strings.Contains(audit, "killed or crashed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no end for the killed broker's session:\n%s", audit)
		}
	}
	second := strings.LastIndex(audit, `"msg":"broker started"`)
	if end := strings.Index(audit, "killed or crashed"); end < second || !strings.Contains(audit[second:], in.SessionID) {
		t.Fatalf("the crashed session's end is not after the restart marker, or names another session:\n%s", audit)
	}
}
