//go:build interop && linux

package winvnc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// testPKI is a throw-away code-signing PKI: a root, a code-signing
// certificate and a time-stamping certificate under it, as PEM files.
type testPKI struct {
	root, cert, key, tsaCert, tsaKey string
	leafSHA256                       string // hex SHA-256 of the code-signing certificate
}

func makeTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	rootKey := newKey()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Lifebuoy test root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	leaf := func(serial int64, cn string, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl.SerialNumber, tmpl.Subject = big.NewInt(serial), pkix.Name{CommonName: cn}
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, root, &k.PublicKey, rootKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	csDER, csKey := leaf(2, "Lifebuoy test code signing", &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
	// RFC 3161: a time-stamping certificate's extended key usage is
	// timeStamping alone, marked critical.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	tsaDER, tsaKey := leaf(3, "Lifebuoy test time stamps", &x509.Certificate{
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	})
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sum := sha256.Sum256(csDER)
	return testPKI{
		root:       write("root.pem", "CERTIFICATE", rootDER),
		cert:       write("codesign.pem", "CERTIFICATE", csDER),
		key:        write("codesign.key", "PRIVATE KEY", keyDER(csKey)),
		tsaCert:    write("tsa.pem", "CERTIFICATE", tsaDER),
		tsaKey:     write("tsa.key", "PRIVATE KEY", keyDER(tsaKey)),
		leafSHA256: hex.EncodeToString(sum[:]),
	}
}

// verifySigned runs osslsigncode verify against the test root, pinning
// the signer, and returns its output and whether it passed.
func verifySigned(t *testing.T, pki testPKI, exe string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "osslsigncode", "verify", "-CAfile", pki.root, "-TSA-CAfile", pki.root,
		"-require-leaf-hash", "sha256:"+pki.leafSHA256, "-in", exe).CombinedOutput()
	return string(out), err == nil
}

// `make agent` bakes in the broker and its fingerprint, signs winvnc.exe
// with Authenticode and a time stamp; the signature verifies, a changed
// byte or appended data breaks it, a code in the file name does not. Run
// under Wine with no arguments, the signed agent dials the broker over
// TLS with the pinned fingerprint, shows its code, asks the customer,
// shows the screen exactly, and after "end" no agent process is left.
func TestWineSignedAgentThroughBroker(t *testing.T) {
	rfbtest.LookPath(t, "osslsigncode", "make")
	pki := makeTestPKI(t)
	tb := startBroker(t)
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	mk := exec.CommandContext(ctx, "make", "-C", "..", "agent", "BIN="+bin,
		"BROKER="+tb.agentAddr, "FINGERPRINT="+tb.Fingerprint(), "BRAND=Example Support",
		"SIGN_CERT="+pki.cert, "SIGN_KEY="+pki.key, "SIGN_TSA_CERT="+pki.tsaCert, "SIGN_TSA_KEY="+pki.tsaKey,
		"SIGN_CAFILE="+pki.root, "SIGN_NAME=Lifebuoy test agent")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make agent: %v\n%s", err, out)
	}
	exe := filepath.Join(bin, "winvnc.exe")
	if out, ok := verifySigned(t, pki, exe); !ok || !strings.Contains(out, "Signature verification: ok") {
		t.Fatalf("the signed agent does not verify:\n%s", out)
	}

	signed, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(name string, change func([]byte) []byte) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "winvnc.exe")
		if err := os.WriteFile(p, change(bytes.Clone(signed)), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, ok := verifySigned(t, pki, p); ok {
			t.Errorf("%s: still verifies:\n%s", name, out)
		}
	}
	tamper("a byte of the baked-in broker changed", func(b []byte) []byte {
		i := bytes.Index(b, []byte(tb.agentAddr))
		if i < 0 {
			t.Fatal("the broker address is not in the file")
		}
		b[i] ^= 1
		return b
	})
	tamper("data appended", func(b []byte) []byte { return append(b, make([]byte, 64)...) })
	named := filepath.Join(t.TempDir(), "winvnc-482913.exe")
	if err := os.WriteFile(named, signed, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, ok := verifySigned(t, pki, named); !ok {
		t.Errorf("a code in the file name broke the signature:\n%s", out)
	}

	x := rfbtest.StartXvfb(t, 640, 480, 24)
	w := rfbtest.StartWine(t, x)
	startWineHelper(t, w, "-title", "customer", "-color", "996633", "-rect", "50,50,300,200")
	a := startWineProc(t, w, exe, "-ui", "terminal")
	code := a.expect(`^code (\d{6})$`)[1]
	a.expect(`^state waiting `)
	ch := dialViewer(t, tb.viewerAddr, code)
	a.expect(`^prompt Allow .*127\.0\.0\.1.* to see your screen\? \[y/n\]$`)
	a.send("y")
	v := mustViewer(t, ch)
	a.expect(`^state sharing `)
	v.syncTo("the screen through the broker", sameAsWine(t, w))

	a.send("end")
	a.expect(`^state ended `)
	if err := a.p.Wait(wineWait); err != nil {
		t.Errorf("the agent did not exit cleanly: %v\n%s", err, a.p.Output())
	}
	if pids := processesRunning(t, filepath.Base(filepath.Dir(bin))); len(pids) != 0 {
		t.Errorf("agent processes left after end: %v", pids)
	}

	// The code in a signed agent's file name is the one it presents.
	b := startWineProc(t, w, named, "-ui", "terminal")
	b.expect(`^state ended .*(refused|code)`)
}

// processesRunning lists the processes whose command line contains name
// (here the unique folder the test built the agent in).
func processesRunning(t *testing.T, name string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmd, []byte(name)) {
			pids = append(pids, e.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return pids
}
