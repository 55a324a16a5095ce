package agentlink

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"lifebuoy/broker/wsconn"
)

// How an agent finds its way out. A customer's network may drop 5510
// silently, allow it only through an HTTP proxy, or pass only HTTPS,
// perhaps through a proxy that inspects TLS. The agent tries, in order:
//
//	1. TLS to the broker's agent port (5510) directly
//	2. the same through the HTTP proxy (HTTPS_PROXY, or Config.Proxy)
//	3. for each HTTPS port of the broker (5512, then 443 where the broker
//	   serves it): the same TLS with ALPN lifebuoy-agent/1 directly, then
//	   wss://HOST:PORT/agent directly and through the proxy. The plain TLS
//	   comes first because it is one TLS layer, not two; where a network
//	   inspects TLS it fails on the pinned certificate, and the WebSocket,
//	   whose outer TLS an inspecting proxy may replace, carries the pinned
//	   TLS inside. Through a proxy the HTTPS port is always used over
//	   WebSocket, whose pings keep a quiet session's tunnel open where
//	   proxies cut quiet connections.
//
// Each attempt is bounded by AttemptTimeout (3 s); the next starts when
// the previous failed or after Stagger (1 s), whichever is first, so a
// silently dropped 5510 costs about a second, and the first attempt to
// finish its handshake wins (the others are closed). The last way left
// gets LastAttemptTimeout (15 s): with nothing else to try, a slow proxy
// (one that inspects TLS makes certificates as it goes) is waited for.
// When every way has failed and some only for want of an answer in time
// (a slow link, a busy broker), those are tried once more, together, each
// with LastAttemptTimeout, before the agent gives up. Over WebSocket the
// agent runs the very TLS 1.3 of 5510 inside the WebSocket stream, so
// the pinned certificate holds end to end and a proxy sees ciphertext
// only; the outer TLS only carries it and is not what the agent trusts.
// The path that worked is kept for the session's data connections.

// errNoAnswer is an attempt that ran out of time (a silently dropped
// port, or a link or broker too slow for the bound).
var errNoAnswer = errors.New("no answer")

// Defaults of the search.
const (
	DefaultAttemptTimeout = 3 * time.Second
	LastAttemptTimeout    = 15 * time.Second
	DefaultStagger        = time.Second
	DefaultHTTPSPort      = "5512"
)

// PathKind is how a Path reaches the broker.
type PathKind uint8

const (
	PathTLS       PathKind = iota + 1 // TLS to the agent port (ALPN lifebuoy-agent/1)
	PathWebSocket                     // TLS inside wss://HOST:PORT/agent
)

// Path is one way to the broker.
type Path struct {
	Kind  PathKind
	Addr  string   // host:port dialled
	Proxy *url.URL // the HTTP proxy tunnelled through; nil: direct
}

func (p Path) String() string {
	var s string
	switch p.Kind {
	case PathTLS:
		s = "TLS to " + p.Addr
	case PathWebSocket:
		s = "WebSocket wss://" + p.Addr + "/agent"
	default:
		s = "no path"
	}
	if p.Proxy != nil {
		s += " through the proxy " + p.Proxy.Host
	}
	return s
}

// paths lists the ways to try, in order.
func (cfg *Config) paths() ([]Path, error) {
	if cfg.Paths != nil {
		return cfg.Paths, nil
	}
	host, _, err := net.SplitHostPort(cfg.Broker)
	if err != nil {
		return nil, fmt.Errorf("agentlink: broker address %q: %w", cfg.Broker, err)
	}
	var out []Path
	add := func(kind PathKind, addr string, direct, proxied bool) error {
		if direct {
			out = append(out, Path{Kind: kind, Addr: addr})
		}
		if cfg.Dial != nil || !proxied {
			return nil // a test's dialler stands for the network, proxies included
		}
		proxy, err := proxyFor(cfg.Proxy, addr)
		if err != nil {
			return err
		}
		if proxy != nil {
			out = append(out, Path{Kind: kind, Addr: addr, Proxy: proxy})
		}
		return nil
	}
	if err := add(PathTLS, cfg.Broker, true, true); err != nil {
		return nil, err
	}
	ports := cfg.HTTPSPorts
	if ports == nil {
		ports = []string{DefaultHTTPSPort}
	}
	for _, p := range ports {
		addr := net.JoinHostPort(host, p)
		if err := add(PathTLS, addr, true, false); err != nil {
			return nil, err
		}
		if err := add(PathWebSocket, addr, true, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dialAny tries paths as the package comment says and returns the first
// connection whose (inner) TLS handshake completed, and its path. The ways
// that only did not answer in time are tried again, each with the long
// bound, before it gives up.
func dialAny(ctx context.Context, cfg *Config, paths []Path, resume bool) (*tls.Conn, Path, error) {
	c, p, slow, err := dialRound(ctx, cfg, paths, resume, 0)
	if err == nil || len(slow) == 0 || ctx.Err() != nil {
		return c, p, err
	}
	cfg.Logger.Info("agentlink: no way answered in time; trying the slow ones again", "paths", len(slow))
	c, p, _, err2 := dialRound(ctx, cfg, slow, resume, LastAttemptTimeout)
	switch {
	case err2 == nil:
		return c, p, nil
	case errors.Is(err, ErrFingerprint), errors.Is(err, ErrUntrusted):
		return nil, Path{}, err // the wrong certificate is what to tell
	}
	return nil, Path{}, err2
}

// dialRound is one round of dialAny: every path tried once, staggered,
// each attempt bounded as the package comment says but never below
// atLeast. On failure it also returns the paths that failed for want of
// an answer.
func dialRound(ctx context.Context, cfg *Config, paths []Path, resume bool, atLeast time.Duration) (*tls.Conn, Path, []Path, error) {
	timeout := cfg.AttemptTimeout
	if timeout <= 0 {
		timeout = DefaultAttemptTimeout
	}
	stagger := cfg.Stagger
	if stagger <= 0 {
		stagger = DefaultStagger
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		conn *tls.Conn
		path Path
		err  error
	}
	results := make(chan result, len(paths))
	start := func(p Path, last bool) {
		limit := max(timeout, atLeast)
		if last {
			limit = max(limit, LastAttemptTimeout)
		}
		go func() {
			actx, acancel := context.WithTimeout(ctx, limit)
			defer acancel()
			c, err := dialPath(actx, cfg, p, resume)
			if err != nil && actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
				err = fmt.Errorf("%w within %v", errNoAnswer, limit)
			}
			results <- result{c, p, err}
		}()
	}
	var slow []Path
	next, running := 0, 0
	var errs []error
	var wrongCert error
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if next < len(paths) {
				start(paths[next], next == len(paths)-1)
				next++
				running++
				t.Reset(stagger)
			}
			continue
		case r := <-results:
			running--
			if r.err == nil {
				cancel()
				// Close the connections of attempts still under way.
				go func(n int) {
					for range n {
						if l := <-results; l.conn != nil {
							l.conn.Close()
						}
					}
				}(running)
				return r.conn, r.path, nil, nil
			}
			errs = append(errs, fmt.Errorf("%v: %w", r.path, r.err))
			if errors.Is(r.err, errNoAnswer) {
				slow = append(slow, r.path)
			}
			cfg.Logger.Debug("agentlink: path failed", "path", r.path.String(), "err", r.err)
			if errors.Is(r.err, ErrFingerprint) || errors.Is(r.err, ErrUntrusted) {
				// The wrong certificate on this path (a proxy that
				// inspects TLS, or an impostor): another path may carry
				// the pinned TLS through, and every path checks it.
				wrongCert = r.err
			}
			if next < len(paths) {
				start(paths[next], next == len(paths)-1)
				next++
				running++
				t.Reset(stagger)
				continue
			}
			if running == 0 {
				if wrongCert != nil {
					return nil, Path{}, slow, wrongCert
				}
				return nil, Path{}, slow, fmt.Errorf("agentlink: cannot reach the broker by any path: %w", errors.Join(errs...))
			}
		case <-ctx.Done():
			go func(n int) {
				for range n {
					if l := <-results; l.conn != nil {
						l.conn.Close()
					}
				}
			}(running)
			return nil, Path{}, nil, context.Cause(ctx)
		}
	}
}

// dialPath opens one path and runs the pinned TLS handshake on it.
func dialPath(ctx context.Context, cfg *Config, p Path, resume bool) (*tls.Conn, error) {
	raw, err := dialNet(ctx, cfg, p)
	if err != nil {
		return nil, err
	}
	inner := raw
	if p.Kind == PathWebSocket {
		ws, err := wsconn.Dial(ctx, "wss://"+p.Addr+"/agent", wsconn.DialOptions{
			// The outer TLS only carries the inner, pinned one; a proxy
			// that inspects TLS may present its own certificate here. Its
			// key exchange is X25519 alone: the inner TLS has the
			// post-quantum one, and the smaller hello costs the broker
			// less memory per connection.
			TLS: &tls.Config{InsecureSkipVerify: true, ServerName: hostOf(p.Addr),
				CurvePreferences: []tls.CurveID{tls.X25519}, ClientSessionCache: cfg.outerSessions},
			NetDial: func(context.Context, string, string) (net.Conn, error) { return raw, nil },
		})
		if err != nil {
			raw.Close()
			return nil, err
		}
		inner = ws
	}
	return handshakeTLS(ctx, cfg, inner, resume, p.Kind == PathTLS)
}

// dialNet opens the TCP connection of a path, or its proxy tunnel.
func dialNet(ctx context.Context, cfg *Config, p Path) (net.Conn, error) {
	if cfg.Dial != nil {
		return cfg.Dial(ctx, "tcp", p.Addr)
	}
	if p.Proxy != nil {
		return dialConnect(ctx, p.Proxy, p.Addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", p.Addr)
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// ErrUntrusted: the broker's certificate is neither the pinned one nor
// valid for its name under the trusted roots.
var ErrUntrusted = errors.New("agentlink: the broker's certificate is not trusted")

// handshakeTLS runs the agent's TLS 1.3 handshake on c. The broker is
// trusted when its certificate is the pinned one (Fingerprint) or, for
// a broker with a certificate from a public or configured CA, when the
// chain is valid for the broker's name (Roots, or the system's).
func handshakeTLS(ctx context.Context, cfg *Config, c net.Conn, resume, alpn bool) (*tls.Conn, error) {
	var want []byte
	if cfg.Fingerprint != "" {
		var err error
		want, err = hex.DecodeString(strings.ReplaceAll(cfg.Fingerprint, ":", ""))
		if err != nil || len(want) != sha256.Size {
			c.Close()
			return nil, fmt.Errorf("agentlink: fingerprint %q is not a hex SHA-256", cfg.Fingerprint)
		}
	}
	host := hostOf(cfg.Broker)
	var curves []tls.CurveID // the default: X25519MLKEM768 first
	if resume {
		curves = []tls.CurveID{tls.X25519}
	}
	var protos []string
	if alpn {
		protos = []string{"lifebuoy-agent/1"}
	}
	tc := tls.Client(c, &tls.Config{
		CurvePreferences:   curves,
		MinVersion:         tls.VersionTLS13,
		ClientSessionCache: cfg.sessions,
		ServerName:         host,
		NextProtos:         protos,
		// The usual chain check is replaced by VerifyConnection, which
		// also accepts the pinned self-signed certificate.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyBroker(cs, want, host, cfg.Roots)
		},
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		switch {
		case errors.Is(err, ErrFingerprint):
			return nil, ErrFingerprint
		case errors.Is(err, ErrUntrusted):
			return nil, err
		}
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	if resume && !tc.ConnectionState().DidResume {
		tc.Close()
		return nil, errNotResumed
	}
	return tc, nil
}

// verifyBroker accepts the pinned certificate or a valid chain for host.
func verifyBroker(cs tls.ConnectionState, pin []byte, host string, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return ErrUntrusted
	}
	leaf := cs.PeerCertificates[0]
	if pin != nil {
		got := sha256.Sum256(leaf.Raw)
		if subtle.ConstantTimeCompare(got[:], pin) == 1 {
			return nil
		}
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
	if err == nil {
		return nil
	}
	if pin != nil {
		return ErrFingerprint
	}
	return fmt.Errorf("%w: %w", ErrUntrusted, err)
}
