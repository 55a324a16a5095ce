package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Certificate files in the data directory.
const (
	certFile = "broker-cert.pem"
	keyFile  = "broker-key.pem"
)

// loadOrCreateCert reads the broker's certificate from dir, or makes a
// self-signed ECDSA one on the first start. created says which.
func loadOrCreateCert(dir string) (cert tls.Certificate, created bool, err error) {
	cp, kp := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	cert, err = tls.LoadX509KeyPair(cp, kp)
	if err == nil {
		return cert, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return cert, false, fmt.Errorf("broker certificate: %w", err)
	}
	if _, e1 := os.Stat(cp); e1 == nil {
		return cert, false, fmt.Errorf("broker certificate: %s exists but %s does not", cp, kp)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return cert, false, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return cert, false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return cert, false, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "lifebuoy broker " + host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost", host},
		// Loopback addresses let local viewers verify the certificate
		// by the address they dial; remote viewers use the host name.
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return cert, false, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return cert, false, err
	}
	// The key first: a certificate without its key is an error above.
	if err := writeFile0600(kp, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})); err != nil {
		return cert, false, err
	}
	if err := writeFile0600(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return cert, false, err
	}
	cert, err = tls.LoadX509KeyPair(cp, kp)
	return cert, true, err
}

func writeFile0600(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Fingerprint is the hex SHA-256 of a certificate's DER, what agents pin.
func Fingerprint(cert tls.Certificate) string {
	sum := sha256.Sum256(cert.Certificate[0])
	return hex.EncodeToString(sum[:])
}
