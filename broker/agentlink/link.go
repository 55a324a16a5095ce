package agentlink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/rfb"
)

// Config configures an agent's link to the broker.
type Config struct {
	// Broker is the broker's agent address, host:port.
	Broker string
	// HTTPSPorts are the broker's HTTPS front ports, tried over WebSocket
	// when the agent port cannot be reached (nil: 5512 alone).
	HTTPSPorts []string
	// Fingerprint is the hex SHA-256 of the broker certificate's DER, as
	// the broker prints it: a self-signed broker is trusted by it.
	// Whether it is set or not, a certificate valid for the broker's name
	// under Roots is trusted too (an ACME or company certificate).
	Fingerprint string
	// Roots are the CAs trusted for the broker's name; nil: the system's.
	Roots *x509.CertPool
	// Paths replaces the search order of paths.go with these ways to the
	// broker (a test's or benchmark's choice of one way).
	Paths []Path
	// AttemptTimeout bounds each way to the broker tried (default 3 s);
	// Stagger is how long one attempt runs alone before the next starts
	// beside it (default 1 s). See paths.go.
	AttemptTimeout, Stagger time.Duration
	// Code presents a code that a supporter got (supporter first). Empty
	// asks the broker for a new code (customer first).
	Code string
	// Resume, with Code, is the token of an earlier link's Welcome
	// (Link.Resume): the agent lost that link while it waited and asks
	// a broker of the cluster to let it keep Code.
	Resume string
	// Name names this agent for the broker's log.
	Name string
	// Files announces that the agent serves files connections: the
	// broker may then send OpenFiles (FilesRequests).
	Files bool

	// Proxy is an HTTP proxy URL to CONNECT through ("http://host:port",
	// user info for Basic authentication). Empty takes HTTPS_PROXY from
	// the environment, as net/http does (NO_PROXY honoured); "direct"
	// dials directly.
	Proxy string
	// Dial replaces the TCP dial (and the proxy), for tests and embedding.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// KeepAlive is how long the link may be quiet before it sends a Ping
	// (default 20 s); Timeout is how long it waits to hear anything before
	// it gives up (default 60 s).
	KeepAlive, Timeout time.Duration

	Logger *slog.Logger

	sessions      tls.ClientSessionCache // the link's, for its data connections
	outerSessions tls.ClientSessionCache // the WebSocket's outer TLS, resumed likewise
}

// Errors a caller branches on.
var (
	// ErrFingerprint: the broker's certificate is not the pinned one.
	ErrFingerprint = errors.New("agentlink: broker certificate does not match the pinned fingerprint")
	// ErrClosed: the link is closed (by Close, the broker, or a dead peer).
	ErrClosed = errors.New("agentlink: link closed")
)

// EndedError is the broker's End: the session was ended (from the
// supporter's console, say). It wraps ErrClosed.
type EndedError struct{ Reason string }

func (e *EndedError) Error() string { return "agentlink: session ended: " + e.Reason }
func (e *EndedError) Unwrap() error { return ErrClosed }

// ErrRedirects: brokers sent the agent on more often than it follows.
var ErrRedirects = errors.New("agentlink: too many redirects between brokers")

// maxRedirects bounds the Redirects Dial follows: a code's home sends an
// agent nowhere else, so one is enough and two allow for a code that
// moved meanwhile.
const maxRedirects = 2

// RefusedError is the broker's Error message: the user should see Reason.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "agentlink: broker refused: " + e.Reason }

// Link is an agent's control connection to the broker.
type Link struct {
	cfg       Config
	log       *slog.Logger
	conn      *tls.Conn
	path      Path
	code      string
	expiresAt time.Time
	resume    string

	out *Sender // after the Welcome

	incoming chan *Incoming
	requests chan *Request
	files    chan *FilesRequest // files.go
	done     chan struct{}

	muxMu     sync.Mutex
	mux       *Mux        // the session's data connection, once open: control goes there
	spliced   atomic.Bool // the broker spliced the session; the control connection is done
	closeOnce sync.Once
	errMu     sync.Mutex
	err       error
}

// Dial connects to the broker, says Hello and waits for the Welcome. A
// broker of a cluster that does not hold the code presented may send the
// agent to the one that does (Redirect): Dial follows, and the link is
// with that broker.
func Dial(ctx context.Context, cfg Config) (*Link, error) {
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 20 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// The control link's session ticket lets the data connections resume
	// it: their handshakes skip the certificate and its signature. Only
	// the pinned broker holds the ticket's secret, so the pin holds.
	cfg.sessions = tls.NewLRUClientSessionCache(1)
	cfg.outerSessions = tls.NewLRUClientSessionCache(1)
	var conn *tls.Conn
	var path Path
	var w *Welcome
	for redirects := 0; ; redirects++ {
		var to string
		var err error
		conn, path, w, to, err = hello(ctx, &cfg)
		if err != nil {
			return nil, err
		}
		if w != nil {
			break
		}
		if redirects == maxRedirects {
			return nil, ErrRedirects
		}
		cfg.Logger.Info("agentlink: redirected", "from", path.String(), "to", to)
		cfg.redirect(to)
	}
	if w.Broker != "" && w.Broker != cfg.Broker {
		// Its data connections go to this broker of the cluster itself.
		if _, _, err := net.SplitHostPort(w.Broker); err != nil {
			conn.Close()
			return nil, &ProtocolError{fmt.Sprintf("welcome names the broker %q: %v", w.Broker, err)}
		}
		path = retarget(path, cfg.Broker, w.Broker)
		cfg.redirect(w.Broker)
	}
	l := &Link{cfg: cfg, log: cfg.Logger, conn: conn, path: path, code: w.Code, expiresAt: w.ExpiresAt, resume: w.Resume,
		incoming: make(chan *Incoming, 4), requests: make(chan *Request, 4), done: make(chan struct{}),
		files: make(chan *FilesRequest, maxPendingFiles)}
	conn.SetDeadline(time.Time{})
	l.out = NewSender(conn, cfg.KeepAlive, cfg.Timeout)
	go l.readLoop()
	go func() {
		// A write error stops the Sender; that ends the link too, unless
		// the session runs on its data connection by now.
		<-l.out.Done()
		if !l.spliced.Load() {
			l.fail(ErrClosed)
		}
	}()
	return l, nil
}

// hello dials the broker, says Hello and reads the answer: a Welcome
// (the connection is the link's), or a Redirect to the broker at
// redirect (the connection is closed).
func hello(ctx context.Context, cfg *Config) (conn *tls.Conn, path Path, w *Welcome, redirect string, err error) {
	paths, err := cfg.paths()
	if err != nil {
		return nil, Path{}, nil, "", err
	}
	conn, path, err = dialAny(ctx, cfg, paths, false)
	if err != nil {
		return nil, Path{}, nil, "", err
	}
	cfg.Logger.Info("agentlink: connected", "path", path.String())
	h := &Hello{Version: ProtocolVersion, Name: cfg.Name}
	if cfg.Code != "" {
		h.JoinCode = strings.ReplaceAll(cfg.Code, " ", "")
		h.Resume = cfg.Resume
	} else {
		h.WantCode = true
	}
	if cfg.Files {
		h.Features = []string{FeatureFiles}
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	conn.SetDeadline(time.Now().Add(cfg.Timeout))
	err = WriteMessage(conn, h)
	var m Message
	if err == nil {
		m, err = ReadMessage(conn)
	}
	if !stop() {
		conn.Close()
		return nil, Path{}, nil, "", context.Cause(ctx)
	}
	if err != nil {
		conn.Close()
		return nil, Path{}, nil, "", fmt.Errorf("agentlink: hello: %w", err)
	}
	switch m := m.(type) {
	case *Welcome:
		return conn, path, m, "", nil
	case *Redirect:
		conn.Close()
		if _, _, err := net.SplitHostPort(m.Broker); err != nil {
			return nil, Path{}, nil, "", &ProtocolError{fmt.Sprintf("redirect to %q: %v", m.Broker, err)}
		}
		return nil, path, nil, m.Broker, nil
	case *Error:
		conn.Close()
		return nil, Path{}, nil, "", &RefusedError{m.Reason}
	default:
		conn.Close()
		return nil, Path{}, nil, "", &ProtocolError{fmt.Sprintf("expected Welcome, got %v", m.Type())}
	}
}

// redirect points cfg at another broker of the cluster, whose agent port
// is at addr: the ways to it are the same as to the first (its HTTPS
// ports, the proxy), on its host. Paths a caller chose keep their ports
// and take the new host; the one to the old agent port takes addr.
func (cfg *Config) redirect(addr string) {
	cfg.Paths = slices.Clone(cfg.Paths) // the caller's stay as they were
	for i, p := range cfg.Paths {
		cfg.Paths[i] = retarget(p, cfg.Broker, addr)
	}
	cfg.Broker = addr
}

// retarget is path p to the broker whose agent port is at addr, where it
// led to the one at old.
func retarget(p Path, old, addr string) Path {
	if p.Addr == old {
		p.Addr = addr
		return p
	}
	host, _, _ := net.SplitHostPort(addr)
	if _, port, err := net.SplitHostPort(p.Addr); err == nil {
		p.Addr = net.JoinHostPort(host, port)
	}
	return p
}

var errNotResumed = errors.New("agentlink: the broker did not resume the session")

// Path is the way to the broker that the link uses, and its session's
// data connection.
func (l *Link) Path() Path { return l.path }

// Code is the session code: the broker's new one, or the one presented.
func (l *Link) Code() string { return l.code }

// Resume is the token that lets the agent keep its code on another
// broker of a cluster should this link break while it waits
// (Config.Resume); empty where the broker is not in a cluster.
func (l *Link) Resume() string { return l.resume }

// ExpiresAt is when the code expires if no viewer pairs with it.
func (l *Link) ExpiresAt() time.Time { return l.expiresAt }

// Done is closed when the link is closed.
func (l *Link) Done() <-chan struct{} { return l.done }

// Err tells why the link closed.
func (l *Link) Err() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

// Close closes the link and ends any session on it.
func (l *Link) Close() error {
	l.fail(ErrClosed)
	return nil
}

func (l *Link) fail(err error) {
	l.closeOnce.Do(func() {
		l.errMu.Lock()
		l.err = err
		l.errMu.Unlock()
		close(l.done)
		l.conn.Close()
		if l.out != nil {
			l.out.Close()
		}
	})
}

// send sends a control message: on the session's data connection once
// it is open (see Mux), else on the control connection.
func (l *Link) send(m Message) error {
	l.muxMu.Lock()
	mux := l.mux
	l.muxMu.Unlock()
	if mux != nil {
		return mux.WriteControl(m)
	}
	if l.spliced.Load() {
		return ErrClosed
	}
	return l.out.Send(m)
}

// readLoop owns the reading side of the control connection.
func (l *Link) readLoop() {
	for {
		l.conn.SetReadDeadline(time.Now().Add(l.cfg.Timeout))
		m, err := ReadMessage(l.conn)
		if err != nil {
			if l.spliced.Load() {
				return // the broker closed it: the session's data connection goes on
			}
			l.fail(fmt.Errorf("%w: %w", ErrClosed, err))
			return
		}
		l.out.Heard()
		if l.handle(m, true) {
			return
		}
	}
}

// handle acts on a message from the broker, from the control connection
// (onLink) or the session's data connection; true means reading ends.
func (l *Link) handle(m Message, onLink bool) (stop bool) {
	{
		switch m := m.(type) {
		case *Ping:
			l.out.TrySend(&Pong{})
		case *Pong:
		case *OpenData:
			in, err := l.newIncoming(m)
			if err != nil {
				l.out.TrySend(&Decline{SessionID: m.SessionID, Reason: err.Error()})
				return false
			}
			select {
			case l.incoming <- in:
			default:
				l.out.TrySend(&Decline{SessionID: m.SessionID, Reason: "the agent is busy"})
			}
		case *Spliced:
			// The control connection is done: the broker closes it, and
			// control goes on the data connection.
			l.log.Debug("agentlink: the session runs on its data connection", "session", m.SessionID)
			l.spliced.Store(true)
			l.out.Close()
			return true
		case *OpenFiles:
			l.openFiles(m) // files.go
		case *Request:
			select {
			case l.requests <- m:
			default: // the customer has questions enough open
			}
		case *End:
			l.log.Info("agentlink: session ended by the broker", "session", m.SessionID, "reason", m.Reason)
			l.fail(&EndedError{m.Reason})
			return true
		case *Error:
			l.fail(&RefusedError{m.Reason})
			return true
		default:
			where := "the control connection"
			if !onLink {
				where = "the data connection"
			}
			l.fail(&ProtocolError{fmt.Sprintf("unexpected %v on %s", m.Type(), where)})
			return true
		}
	}
	return false
}

func (l *Link) newIncoming(m *OpenData) (*Incoming, error) {
	in := &Incoming{link: l, SessionID: m.SessionID, token: m.Token, Mode: m.Mode, Viewer: m.Viewer, Supporter: m.Supporter}
	switch m.Mode {
	case ModeRaw:
	case ModeAuthenticated:
		switch v := rfb.Version(m.Version); v {
		case rfb.Version33, rfb.Version37, rfb.Version38:
			in.Version = v
		default:
			return nil, fmt.Errorf("unsupported RFB version %d", m.Version)
		}
	default:
		return nil, fmt.Errorf("unsupported mode %q", m.Mode)
	}
	return in, nil
}

// Requests delivers the supporter's requests for rights during the
// session; the customer decides (SendRights tells the outcome).
func (l *Link) Requests() <-chan *Request { return l.requests }

// SendRights tells the broker the customer's rights over the session, at
// its start and on every change, for the supporter's console.
func (l *Link) SendRights(sessionID string, control, files bool) error {
	return l.send(&Rights{SessionID: sessionID, Control: control, Files: files})
}

// Accept waits for a viewer to pair with the code.
func (l *Link) Accept(ctx context.Context) (*Incoming, error) {
	select {
	case in := <-l.incoming:
		return in, nil
	case <-l.done:
		return nil, l.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Incoming is a viewer that paired with the code. Ask the customer, then
// Open or Decline.
type Incoming struct {
	link      *Link
	SessionID string
	token     string
	// Mode says how to serve the connection Open returns: in
	// ModeAuthenticated with rfb.Server.ServeAuthenticated and Version, in
	// ModeRaw with rfb.Server.ServeConn.
	Mode    Mode
	Version rfb.Version
	// Viewer is the viewer's address.
	Viewer string
	// Supporter is who the broker's desk says the viewer is.
	Supporter Supporter
}

// Who names the viewer for the customer: "Anna Berger (Acme Support)"
// or "an unidentified viewer at ADDRESS".
func (in *Incoming) Who() string { return in.Supporter.Label(in.Viewer) }

// Open dials the session's data connection. The broker splices it with
// the viewer's connection; closing it ends the session. It is framed (a
// Mux): RFB goes through it as a net.Conn, and from here the link's
// control messages (SendRights, Requests, End) go through it too.
//
// The data connection resumes the control link's TLS session, and so
// needs no certificate and no post-quantum key exchange of its own: its
// keys come from the link's X25519MLKEM768 handshake (through the
// resumption secret) and a fresh X25519 exchange for forward secrecy.
// Should the broker not resume, it dials again with a full handshake.
func (in *Incoming) Open(ctx context.Context) (net.Conn, error) {
	c, err := in.link.dialData(ctx, in.SessionID, in.token) // files.go
	if err != nil {
		return nil, err
	}
	l := in.link
	mux := NewMux(c, func(m Message) { l.handle(m, false) })
	// The session over, the link is too (unless End said why first).
	mux.OnEnd(func(error) { l.fail(fmt.Errorf("%w: the session ended", ErrClosed)) })
	l.muxMu.Lock()
	l.mux = mux
	l.muxMu.Unlock()
	return mux, nil
}

// Decline refuses the session; the broker tells the viewer reason.
func (in *Incoming) Decline(reason string) error {
	return in.link.send(&Decline{SessionID: in.SessionID, Reason: reason})
}

// End ends the session from the agent's side. Once the data connection
// is open, closing it ends the session too.
func (in *Incoming) End(reason string) error {
	return in.link.send(&End{SessionID: in.SessionID, Reason: reason})
}
