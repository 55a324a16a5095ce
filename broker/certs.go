package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// certSource is the certificate every TLS port presents (5510, 5511's
// VeNCrypt, the HTTPS front): the broker's own, which agents pin by its
// fingerprint, and with ACME a certificate for the ACME domain that
// browsers and viewers trust without pinning. Agents accept either.
//
// The broker's own certificate is self-signed in the data directory
// (made on the first start) or the administrator's files (-cert, -key);
// Reload reads them again without touching running sessions. The ACME
// certificate is obtained in the background at start; until it arrives,
// and if it cannot be had, clients asking for the domain get the
// broker's own.
type certSource struct {
	own      atomic.Pointer[tls.Certificate]
	created  bool
	dataDir  string
	certFile string
	keyFile  string

	acme      *autocert.Manager // nil without ACME
	domain    string
	acmeReady atomic.Bool
	log       *slog.Logger
}

func newCertSource(cfg *Config, log *slog.Logger) (*certSource, error) {
	s := &certSource{dataDir: cfg.DataDir, certFile: cfg.CertFile, keyFile: cfg.KeyFile, log: log}
	if err := s.loadOrCreate(); err != nil {
		return nil, err
	}
	if cfg.ACMEDomain != "" {
		s.domain = strings.TrimSuffix(strings.ToLower(cfg.ACMEDomain), ".")
		s.acme = &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(filepath.Join(cfg.DataDir, "acme")),
			HostPolicy: s.hostPolicy,
			Email:      cfg.ACMEEmail,
		}
		if cfg.ACMEDirectory != "" {
			s.acme.Client = &acme.Client{DirectoryURL: cfg.ACMEDirectory}
		}
	}
	return s, nil
}

// hostPolicy lets autocert answer for the ACME domain only. The CA's
// HTTP-01 request names the host with its port when the check runs on a
// port other than 80 (a test CA's), so the port is not part of the name.
func (s *certSource) hostPolicy(_ context.Context, host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !strings.EqualFold(strings.TrimSuffix(host, "."), s.domain) {
		return fmt.Errorf("acme: %q is not this broker's domain", host)
	}
	return nil
}

// loadOrCreate reads the broker's own certificate at start: the
// administrator's files, or the data directory's, made on the first start.
func (s *certSource) loadOrCreate() error {
	if s.certFile != "" {
		return s.Reload()
	}
	cert, created, err := loadOrCreateCert(s.dataDir)
	if err != nil {
		return err
	}
	s.created = created
	s.own.Store(&cert)
	return nil
}

// Reload reads the broker's own certificate again (after the
// administrator renewed the files). Handshakes from now on use it;
// running sessions are not touched. It never makes a new one: agents pin
// the certificate, so files that are gone are an error to fix.
func (s *certSource) Reload() error {
	certPath, keyPath := s.certFile, s.keyFile
	if certPath == "" {
		certPath, keyPath = filepath.Join(s.dataDir, certFile), filepath.Join(s.dataDir, keyFile)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if errors.Is(err, fs.ErrNotExist) && s.certFile == "" {
		return fmt.Errorf("broker certificate: the files in the data directory are gone (%w)", err)
	}
	if err != nil {
		return fmt.Errorf("broker certificate: %w", err)
	}
	s.own.Store(&cert)
	return nil
}

// Own is the broker's own certificate, the one agents pin.
func (s *certSource) Own() tls.Certificate { return *s.own.Load() }

// obtain gets the ACME certificate, retrying with a growing pause until
// it has one or ctx ends; autocert renews it later by itself. An order in
// progress is not stopped by ctx (autocert bounds it to 5 minutes), so
// the caller runs obtain in a goroutine of its own.
func (s *certSource) obtain(ctx context.Context) {
	if s.acme == nil {
		return
	}
	pause := 10 * time.Second
	for {
		hello := &tls.ClientHelloInfo{ServerName: s.domain,
			SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
			CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
		_, err := s.acme.GetCertificate(hello)
		if err == nil {
			s.acmeReady.Store(true)
			s.log.Info("broker: ACME certificate ready", "domain", s.domain)
			return
		}
		s.log.Warn("broker: no ACME certificate yet; presenting the broker's own", "domain", s.domain, "err", err, "retry_in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 10*time.Minute)
	}
}

// GetCertificate picks the certificate for a handshake.
func (s *certSource) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if s.acme != nil {
		if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto {
			// The CA validating the domain (TLS-ALPN-01).
			return s.acme.GetCertificate(hello)
		}
		if s.acmeReady.Load() && strings.EqualFold(strings.TrimSuffix(hello.ServerName, "."), s.domain) {
			if c, err := s.acme.GetCertificate(hello); err == nil {
				return c, nil
			}
		}
	}
	return s.own.Load(), nil
}

// acmeHTTPHandler answers the CA's HTTP-01 requests and sends everything
// else to the HTTPS front at httpsPort.
func (s *certSource) acmeHTTPHandler(httpsPort string) httpHandler {
	return s.acme.HTTPHandler(redirectHTTPS(httpsPort))
}
