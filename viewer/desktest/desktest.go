// Package desktest starts a real broker with the supporter's desk on
// loopback for tests: accounts, the HTTPS front with the console, the
// audit in the desk's database, and agents that serve a picture.
//
//	env := desktest.Start(t, desktest.Options{})
//	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
//	b := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{TrustSPKI: []string{env.SPKIHash()}})
package desktest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"image"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
	"lifebuoy/viewer/api"
	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/desk"
	"lifebuoy/viewer/store"
)

// Password is every test account's password.
const Password = "correct horse battery"

// Options configures Start.
type Options struct {
	// Config changes the broker's configuration before it starts.
	Config func(*broker.Config)
	// Log gets the broker's operational log (default: the test's, at
	// Info).
	Log *slog.Logger
}

// Env is a running broker with its desk.
type Env struct {
	Broker *broker.Broker
	Desk   *desk.Server
	Auth   *auth.Service
	DB     *store.DB
	Config broker.Config

	AgentAddr, ViewerAddr, RepeaterAddr, HTTPSAddr string
	URL                                            string // https://127.0.0.1:PORT
}

// Start runs a broker and its desk until the test ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.FailureDelay = broker.Duration(time.Millisecond)
	cfg.MaxFailureDelay = broker.Duration(10 * time.Millisecond)
	cfg.ConsentTimeout = broker.Duration(20 * time.Second)
	if o.Config != nil {
		o.Config(&cfg)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	b, err := broker.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	db, err := store.OpenSQLite(ctx, filepath.Join(cfg.DataDir, store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	sink := store.NewAuditSink(db, log)
	b.SetAuditSink(sink)
	svc := auth.NewService(db, nil)
	key, err := auth.LoadOrCreateSecretKey(filepath.Join(cfg.DataDir, auth.SecretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetSecretKey(key); err != nil {
		t.Fatal(err)
	}
	d, err := desk.New(desk.Config{Auth: svc, Broker: b, Log: log, Audit: slog.New(sink), DataDir: cfg.DataDir,
		Fingerprint: b.Fingerprint(), AnonymousViewers: cfg.AnonymousViewers})
	if err != nil {
		t.Fatal(err)
	}
	b.SetDesk(d)
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ls := broker.Listeners{Agent: listen(), Viewer: listen(), Repeater: listen(), HTTPS: listen()}
	e := &Env{Broker: b, Desk: d, Auth: svc, DB: db, Config: cfg,
		AgentAddr: ls.Agent.Addr().String(), ViewerAddr: ls.Viewer.Addr().String(),
		RepeaterAddr: ls.Repeater.Addr().String(), HTTPSAddr: ls.HTTPS.Addr().String()}
	e.URL = "https://" + e.HTTPSAddr
	served := make(chan error, 1)
	go func() { served <- b.Serve(ctx, ls) }()
	deskDone := make(chan struct{})
	go func() { d.Run(ctx); close(deskDone) }()
	t.Cleanup(func() {
		cancel()
		<-served
		<-deskDone
		sink.Close()
		b.Close()
		db.Close()
	})
	return e
}

// testWriter sends a log to the test's.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// AddAccount adds an account with Password.
func (e *Env) AddAccount(t testing.TB, name, display, team string, role store.Role) {
	t.Helper()
	if err := e.Auth.CreateAccount(context.Background(), auth.NewAccount{Name: name, DisplayName: display, Team: team,
		Role: role, Password: Password}); err != nil {
		t.Fatal(err)
	}
}

// Token makes an API token for an account.
func (e *Env) Token(t testing.TB, account string) string {
	t.Helper()
	tok, _, err := e.Auth.NewAPIToken(context.Background(), account, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Certificate is the broker's (self-signed) certificate.
func (e *Env) Certificate() *x509.Certificate {
	c := e.Broker.Certificate()
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, _ := x509.ParseCertificate(c.Certificate[0])
	return leaf
}

// SPKIHash is the base64 SHA-256 of the broker certificate's public key,
// which Chromium's --ignore-certificate-errors-spki-list takes.
func (e *Env) SPKIHash() string {
	sum := sha256.Sum256(e.Certificate().RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// HTTPClient trusts the broker's certificate.
func (e *Env) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(e.Certificate())
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
}

// Client is an API client with account's token.
func (e *Env) Client(t testing.TB, account string) *api.Client {
	return api.NewClient(e.URL, e.Token(t, account), e.HTTPClient())
}

// WaitSession waits until code's entry in Sessions satisfies ok.
func (e *Env) WaitSession(t testing.TB, code string, timeout time.Duration, ok func(broker.SessionInfo) bool) broker.SessionInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, s := range e.Broker.Sessions() {
			if s.Code == code && ok(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("code %s never reached the wanted state: %+v", code, e.Broker.Sessions())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Agent is a customer's agent that serves a picture through the broker
// (agentlink and the rfb package; the interop tests that need the real
// agent run cmd/winvnc).
type Agent struct {
	Link     *agentlink.Link
	Incoming chan *agentlink.Incoming
	Done     chan error
}

// StartAgent dials the broker with code ("" for a customer-first code,
// read from Link.Code()) and serves img to the first viewer.
func (e *Env) StartAgent(t testing.TB, code string, img image.Image) *Agent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	link, err := agentlink.Dial(ctx, agentlink.Config{Broker: e.AgentAddr, Fingerprint: e.Broker.Fingerprint(), Code: code,
		Name: "eve@customer-pc", Proxy: "direct"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	a := &Agent{Link: link, Incoming: make(chan *agentlink.Incoming, 1), Done: make(chan error, 1)}
	srv := rfb.NewServer(rfb.NewFramebufferFromImage(img), rfb.Options{Name: "customer-pc"})
	go func() {
		a.Done <- func() error {
			in, err := link.Accept(ctx)
			if err != nil {
				return err
			}
			a.Incoming <- in
			conn, err := in.Open(ctx)
			if err != nil {
				return err
			}
			link.SendRights(in.SessionID, false, false)
			if in.Mode == agentlink.ModeAuthenticated {
				return srv.ServeAuthenticated(ctx, conn, in.Version)
			}
			return srv.ServeConn(ctx, conn)
		}()
	}()
	t.Cleanup(func() {
		cancel()
		link.Close()
		<-a.Done
	})
	return a
}
