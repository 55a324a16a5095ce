package rfbtest

import (
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"image"
	"image/png"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certificate makes a self-signed certificate for 127.0.0.1, ::1 and
// localhost, and writes it as PEM to a file that viewers take as their CA
// (TigerVNC's -X509CA).
func Certificate(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, caFile
}

// TLSConfig is a server configuration for cert.
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// ClientTLSConfig trusts exactly cert.
func ClientTLSConfig(cert tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// vncPasswdKey is the fixed key that vncpasswd files are obscured with.
var vncPasswdKey = [8]byte{23, 82, 107, 6, 35, 78, 88, 7}

// VNCPasswdFile returns the contents of a vncpasswd file for password, as
// TigerVNC's -passwd option reads it: the first 8 bytes of the password,
// DES-encrypted with a fixed key whose bytes are bit-reversed, as in VNC
// Authentication.
func VNCPasswdFile(password string) []byte {
	var key, pw [8]byte
	for i, b := range vncPasswdKey {
		key[i] = reverseBits(b)
	}
	copy(pw[:], password)
	block, err := des.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	out := make([]byte, 8)
	block.Encrypt(out, pw[:])
	return out
}

func reverseBits(b byte) byte {
	var r byte
	for i := range 8 {
		if b&(1<<i) != 0 {
			r |= 0x80 >> i
		}
	}
	return r
}

// SavePNG writes img to path, for looking at a failed comparison.
func SavePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
