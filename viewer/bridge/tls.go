package bridge

import (
	"crypto/tls"
	"crypto/x509"
)

// x509VerifyOptions verifies a chain against the system's roots for the
// name the connection was made to.
func x509VerifyOptions(cs tls.ConnectionState) x509.VerifyOptions {
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	return x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: inter}
}
