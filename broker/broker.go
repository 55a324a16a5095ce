package broker

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"

	"lifebuoy/rfb"
)

// AuditFile is the audit log's name in the data directory.
const AuditFile = "audit.jsonl"

// Broker pairs agents and viewers by session code and relays their bytes.
type Broker struct {
	cfg       Config
	log       *slog.Logger
	audit     *slog.Logger
	auditTo   *auditHandler
	auditFile *rotatingFile
	journal   *sessionJournal
	watchers  watchers // Subscribe
	certs     *certSource
	plainNets []netip.Prefix
	desk      atomic.Pointer[Desk]

	codes    *Codes
	throttle *Throttle
	cluster  *clusterNode // nil unless Config.Cluster (cluster.go)
	metrics  Metrics
	total    *Bucket

	agentTLS  *tls.Config
	viewerTLS *tls.Config
	frontTLS  *tls.Config

	mu sync.Mutex

	parker *parker // idle links and sessions wait here; set by Serve

	refusals chan struct{} // refusals being told now; see refuseWithReason

	adminToken string // the admin API's (AdminTokenFile)
	mint       minter // codes issued per caller

	maxAgents  int                // waiting agents at most (Config.MaxAgents or from the descriptor limit)
	agentsAddr map[netip.Addr]int // agents per address (throttleKey); under mu

	wg       sync.WaitGroup // every connection's goroutine
	accepted atomic.Int64   // connections accepted, for trimAfterBursts
}

// New makes a broker from cfg: it loads (or creates) the certificate in
// the data directory and opens the audit log there. log is the
// operational log (nil discards).
func New(cfg Config, log *slog.Logger) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	certs, err := newCertSource(&cfg, log)
	if err != nil {
		return nil, err
	}
	adminToken, err := loadOrCreateAdminToken(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	af, err := openRotatingFile(cfg.DataDir, AuditFile, cfg.AuditMaxBytes, time.Duration(cfg.AuditMaxAge), cfg.AuditKeep)
	if err != nil {
		return nil, err
	}
	journal, left, err := openJournal(cfg.DataDir)
	if err != nil {
		af.Close()
		return nil, fmt.Errorf("session journal: %w", err)
	}
	nets, _ := cfg.plainNets()
	b := &Broker{
		cfg: cfg, log: log, auditFile: af, journal: journal, adminToken: adminToken,
		certs: certs, plainNets: nets,
		codes:      NewCodes(cfg.CodeDigits, time.Duration(cfg.CodeTTL), nil),
		throttle:   NewThrottle(time.Duration(cfg.FailureDelay), time.Duration(cfg.MaxFailureDelay), cfg.MaxHandshakesAddr, nil),
		total:      NewBucket(cfg.TotalBandwidth),
		refusals:   make(chan struct{}, maxRefusals),
		agentsAddr: map[netip.Addr]int{},
		maxAgents:  cfg.MaxAgents,
	}
	if b.maxAgents == 0 {
		if lim := fdLimit(); lim > 0 {
			b.maxAgents = max((lim-max(256, lim/10))/2, 16)
		}
	}
	b.auditTo = newAuditHandler(af, &b.metrics)
	b.audit = slog.New(b.auditTo)
	b.audit.Info("broker started", "pid", os.Getpid(), "fingerprint", Fingerprint(certs.Own()))
	for _, e := range left {
		b.audit.Warn("session end", "session", e.Session, "code", e.Code, "viewer", e.Viewer, "agent", e.Agent,
			"supporter", e.Supporter, "started", e.Start, "reason", "the broker stopped without ending it (killed or crashed)")
	}
	b.codes.onChange = b.watchers.notify
	if cfg.Cluster != "" {
		if err := b.joinCluster(); err != nil {
			journal.close()
			af.Close()
			return nil, err
		}
	}
	b.throttle.GlobalRate = cfg.GlobalFailureRate
	if cfg.FailureMemory > 0 {
		b.throttle.Memory = time.Duration(cfg.FailureMemory)
	}
	// An agent's control link gets a session ticket, which its data
	// connection resumes (agentlink.Incoming.Open). Agents may ask for
	// the agent protocol by ALPN, as they must on the HTTPS front.
	b.agentTLS = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPNAgent}}
	b.viewerTLS = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
	b.frontTLS = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1", ALPNAgent}}
	if certs.acme != nil {
		b.frontTLS.NextProtos = append(b.frontTLS.NextProtos, acme.ALPNProto)
	}
	return b, nil
}

// Fingerprint is the hex SHA-256 of the broker's own certificate, which
// agents pin.
func (b *Broker) Fingerprint() string { return Fingerprint(b.certs.Own()) }

// Certificate is the broker's own certificate, which VeNCrypt viewers
// trust when there is no ACME certificate.
func (b *Broker) Certificate() tls.Certificate { return b.certs.Own() }

// CreatedCertificate reports whether New made the certificate (first start).
func (b *Broker) CreatedCertificate() bool { return b.certs.created }

// ReloadCertificate reads the broker's own certificate again (the
// administrator's renewed -cert and -key files, say). New handshakes
// present it; running sessions go on.
func (b *Broker) ReloadCertificate() error {
	if err := b.certs.Reload(); err != nil {
		return err
	}
	b.log.Info("broker: certificate reloaded", "fingerprint", b.Fingerprint())
	return nil
}

// Codes is the broker's live codes.
func (b *Broker) Codes() *Codes { return b.codes }

// Metrics is the broker's counters.
func (b *Broker) Metrics() *Metrics { return &b.metrics }

// Close closes the audit log. Call it after Serve or Run returned.
func (b *Broker) Close() error {
	b.auditTo.flush()
	b.audit.Info("broker stopped")
	b.journal.close()
	if b.cluster != nil {
		b.cluster.dir.Close()
	}
	return b.auditFile.Close()
}

// Audit is the audit log, for the desk's own records (sign-ins, account
// changes): they get the same file, limits and sink.
func (b *Broker) Audit() *slog.Logger { return b.audit }

// Listeners are the broker's listeners; a nil one is not served.
type Listeners struct {
	Agent, Viewer, Repeater, Admin net.Listener
	Peer                           net.Listener // the cluster's peer port (peer.go)
	HTTPS                          net.Listener // the HTTPS front
	ACMEHTTP                       net.Listener // plain HTTP for ACME's HTTP-01 check
}

// Listen opens the configured addresses.
func (b *Broker) Listen() (Listeners, error) {
	var ls Listeners
	var err error
	open := func(addr string) net.Listener {
		if err != nil || addr == "" {
			return nil
		}
		var l net.Listener
		l, err = net.Listen("tcp", addr)
		return l
	}
	ls.Agent = open(b.cfg.AgentAddr)
	ls.Viewer = open(b.cfg.ViewerAddr)
	ls.Repeater = open(b.cfg.RepeaterAddr)
	ls.Admin = open(b.cfg.AdminAddr)
	ls.HTTPS = open(b.cfg.HTTPSAddr)
	ls.ACMEHTTP = open(b.cfg.ACMEHTTPAddr)
	if b.cluster != nil {
		ls.Peer = open(b.cfg.PeerAddr)
	}
	if err != nil {
		ls.close()
	}
	return ls, err
}

func (ls Listeners) close() {
	for _, l := range []net.Listener{ls.Agent, ls.Viewer, ls.Repeater, ls.Admin, ls.HTTPS, ls.ACMEHTTP, ls.Peer} {
		if l != nil {
			l.Close()
		}
	}
}

// Run listens on the configured addresses and serves until ctx is done.
func (b *Broker) Run(ctx context.Context) error {
	ls, err := b.Listen()
	if err != nil {
		return err
	}
	return b.Serve(ctx, ls)
}

// Serve serves the listeners until ctx is done, then closes them and
// every connection, waits for all goroutines and returns nil.
func (b *Broker) Serve(ctx context.Context, ls Listeners) error {
	p, err := newParker()
	if err != nil {
		ls.close()
		return err
	}
	b.parker = p
	defer p.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer b.wg.Wait()
	defer ls.close()
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	accept := func(l net.Listener, name string, serve func(context.Context, net.Conn)) {
		if l == nil {
			return
		}
		b.log.Info("broker: listening", "port", name, "addr", l.Addr().String())
		wg.Go(func() { errc <- b.acceptLoop(ctx, l, serve) })
	}
	wg.Go(func() { b.trimAfterBursts(ctx) })
	wg.Go(func() {
		// Sums up what the audit log suppressed in the last minute.
		t := time.NewTicker(auditWindow)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.auditTo.flush()
			case <-ctx.Done():
				return
			}
		}
	})
	if b.cluster != nil && ls.Agent != nil {
		b.cluster.advertiseAgents(b.cfg, ls.Agent.Addr()) // before any agent's Welcome names it
	}
	accept(ls.Agent, "agent", b.ServeAgent)
	accept(ls.Viewer, "viewer", b.ServeViewer)
	accept(ls.Repeater, "repeater", b.ServeRepeater)
	if b.cluster != nil {
		accept(ls.Peer, "peer", b.ServePeer)
		b.runCluster(ctx, &wg)
	}
	if ls.HTTPS != nil {
		b.log.Info("broker: listening", "port", "https", "addr", ls.HTTPS.Addr().String())
		wg.Go(func() { errc <- b.serveFront(ctx, ls.HTTPS) })
	}
	serveHTTP := func(l net.Listener, name string, h http.Handler) {
		if l == nil {
			return
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10,
			BaseContext: func(net.Listener) context.Context { return ctx }}
		b.log.Info("broker: listening", "port", name, "addr", l.Addr().String())
		wg.Go(func() {
			err := srv.Serve(l)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		})
		context.AfterFunc(ctx, func() {
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			srv.Shutdown(sctx)
		})
	}
	serveHTTP(ls.Admin, "admin", b.Handler())
	if ls.ACMEHTTP != nil && b.certs.acme != nil {
		serveHTTP(ls.ACMEHTTP, "acme-http", b.certs.acmeHTTPHandler(portOf(ls.HTTPS)))
	}
	go b.certs.obtain(ctx)
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	cancel()
	ls.close()
	wg.Wait()
	return first
}

func (b *Broker) acceptLoop(ctx context.Context, l net.Listener, serve func(context.Context, net.Conn)) error {
	context.AfterFunc(ctx, func() { l.Close() })
	for {
		c, err := rfb.Accept(ctx, l)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		b.accepted.Add(1)
		b.wg.Go(func() { serve(ctx, c) })
	}
}

// remoteAddr is c's peer address (the zero Addr for a non-IP peer).
func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// plainAllowed reports whether a may use VNC Authentication without TLS
// (and the cleartext repeater port). A peer that is not on a network (an
// in-process pipe: an embedding program, a test) is local.
func (b *Broker) plainAllowed(a netip.Addr) bool {
	if !a.IsValid() {
		return true
	}
	for _, p := range b.plainNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// portOf is a listener's port ("" for none).
func portOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func randomHex(n int) string {
	p := make([]byte, n)
	rand.Read(p)
	return hex.EncodeToString(p)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
