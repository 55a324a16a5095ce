package rfb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Options configure a Server. The zero value serves with no
// authentication.
type Options struct {
	// Name is the desktop name sent in ServerInit.
	Name string

	// Security lists the security types offered, most preferred first.
	// Empty means VNCAuth if Password is set, else None; VeNCrypt is
	// added in front when TLSConfig is set.
	Security []SecurityType
	// Password is the VNC Authentication password (8 bytes are used).
	Password string
	// TLSConfig holds the certificate for VeNCrypt's X509 subtypes.
	TLSConfig *tls.Config
	// VeNCryptSubtypes lists what is offered inside VeNCrypt. Empty means
	// X509Vnc if Password is set, X509Plain if PlainAuth is set, and
	// X509None if neither is.
	VeNCryptSubtypes []VeNCryptSubtype
	// PlainAuth checks VeNCrypt Plain credentials.
	PlainAuth func(user, password string) bool

	// AlwaysShared keeps other clients connected when a client asks for
	// exclusive access (ClientInit shared-flag 0).
	AlwaysShared bool

	// Input sinks. They are called from each connection's reader
	// goroutine, so they must be safe for concurrent use; a slow sink
	// holds up that connection's input only.
	OnKey     func(KeyEvent)
	OnPointer func(PointerEvent)
	// OnCutText receives clipboard text in UTF-8 with LF line ends:
	// ClientCutText converted from Latin-1, or Extended Clipboard text,
	// which the server fetches when a client announces it only if
	// OnCutText is set (clipboard.go).
	OnCutText func(text string)
	// OnDesktopSize handles a client's SetDesktopSize. Nil refuses
	// every request as prohibited.
	OnDesktopSize func(w, h int, screens []Screen) DesktopSizeStatus

	// Encodings, if set, limits the data encodings the server uses to
	// these (Raw is always allowed): an administrator can turn off Tight,
	// for example. Empty means every encoding this package has.
	Encodings []Encoding

	// JPEG encodes the photo-like areas of Tight updates for clients that
	// allow lossy compression. Nil uses FastJPEG, the package's own.
	JPEG JPEGEncoder

	Limits Limits
	Logger *slog.Logger
}

// DesktopSizeStatus is the status of an ExtendedDesktopSize reply.
type DesktopSizeStatus uint16

// ExtendedDesktopSize status codes.
const (
	DesktopSizeOK            DesktopSizeStatus = 0
	DesktopSizeProhibited    DesktopSizeStatus = 1
	DesktopSizeOutOfResource DesktopSizeStatus = 2
	DesktopSizeInvalid       DesktopSizeStatus = 3
)

// Server serves one Framebuffer over RFB to any number of clients. It has
// no global state; several servers may share a Framebuffer.
type Server struct {
	fb     *Framebuffer
	opts   Options
	limits Limits
	log    *slog.Logger

	mu    sync.Mutex
	name  string
	conns map[*serverConn]struct{}
	clip  serverClipboard // clipboard.go
}

// NewServer returns a server for fb.
func NewServer(fb *Framebuffer, opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := opts.Name
	if name == "" {
		name = "lifebuoy"
	}
	return &Server{fb: fb, opts: opts, limits: opts.Limits.withDefaults(), log: log,
		name: name, conns: map[*serverConn]struct{}{}}
}

func (s *Server) securityTypes() []SecurityType {
	if len(s.opts.Security) > 0 {
		return s.opts.Security
	}
	var t []SecurityType
	if s.opts.TLSConfig != nil {
		t = append(t, SecVeNCrypt)
	}
	if s.opts.Password != "" {
		return append(t, SecVNCAuth)
	}
	if s.opts.PlainAuth != nil && s.opts.TLSConfig != nil {
		return t
	}
	return append(t, SecNone)
}

func (s *Server) veNCryptSubtypes() []VeNCryptSubtype {
	if len(s.opts.VeNCryptSubtypes) > 0 {
		return s.opts.VeNCryptSubtypes
	}
	var st []VeNCryptSubtype
	if s.opts.Password != "" {
		st = append(st, VeNCryptX509Vnc)
	}
	if s.opts.PlainAuth != nil {
		st = append(st, VeNCryptX509Plain)
	}
	if len(st) == 0 {
		st = append(st, VeNCryptX509None)
	}
	return st
}

// Accept accepts the next connection on l, riding out failures that
// pass (a timeout, the process out of file descriptors) with a delay
// that doubles from 5 ms to 1 s, as a server's accept loop must: a
// failing Accept would otherwise end the loop or spin. It returns any
// other error, and ctx's error once ctx is done (the caller closes l
// then, which ends a waiting Accept).
func Accept(ctx context.Context, l net.Listener) (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles)) {
			return nil, err
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// Serve accepts connections on l and serves each until ctx is done. It
// closes l and every connection before it returns, and returns nil after a
// cancelled ctx.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := Accept(ctx, l)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Go(func() {
			if err := s.ServeConn(ctx, c); err != nil && !isClosedErr(err) {
				s.log.Info("rfb: connection ended", "remote", c.RemoteAddr().String(), "err", err)
			}
		})
	}
}

// ServeConn runs the whole RFB protocol on c, from the server's greeting
// on, and returns when the connection ends. It closes c.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) error {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(s.limits.HandshakeTimeout))
	hs, err := AcceptSecurity(c, SecurityConfig{
		Types:            s.securityTypes(),
		VeNCryptSubtypes: s.veNCryptSubtypes(),
		TLSConfig:        s.opts.TLSConfig,
	})
	if err != nil {
		return err
	}
	if !s.authenticated(hs) {
		s.log.Warn("rfb: authentication failed", "remote", c.RemoteAddr().String(), "security", hs.Security.String())
		hs.Refuse("authentication failed")
		return errAuthFailed
	}
	if err := hs.Accept(); err != nil {
		return err
	}
	return s.serve(ctx, hs.Conn, newWireReader(hs.Conn), hs.Version)
}

// errAuthFailed is returned when a client's credentials are wrong.
var errAuthFailed = errors.New("rfb: authentication failed")

// authenticated judges the credentials a handshake collected.
func (s *Server) authenticated(hs *Handshake) bool {
	switch {
	case hs.Security == SecVNCAuth || hs.Subtype == VeNCryptX509Vnc:
		return hs.CheckVNCAuth(s.opts.Password)
	case hs.Subtype == VeNCryptX509Plain:
		return s.opts.PlainAuth != nil && s.opts.PlainAuth(hs.Username, hs.Password)
	}
	return true // None, X509None
}

// ServeAuthenticated serves a connection whose ProtocolVersion and
// security steps were done by the caller (a broker that authenticated the
// viewer itself, for example). The next bytes from the client must be its
// ClientInit; v is the version that was negotiated. It closes c.
func (s *Server) ServeAuthenticated(ctx context.Context, c net.Conn, v Version) error {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	switch v {
	case Version33, Version37, Version38:
	default:
		return fmt.Errorf("rfb: ServeAuthenticated: bad version %d", v)
	}
	c.SetDeadline(time.Now().Add(s.limits.HandshakeTimeout))
	return s.serve(ctx, c, newWireReader(c), v)
}

// serve reads ClientInit, sends ServerInit and runs the connection.
func (s *Server) serve(ctx context.Context, c net.Conn, r *wireReader, v Version) error {
	shared, err := r.u8()
	if err != nil {
		return fmt.Errorf("rfb: reading ClientInit: %w", err)
	}
	// Register before ServerInit goes out, so no change of picture, name
	// or clipboard made after it is missed.
	sc := newServerConn(s, c, r, v)
	w, h := sc.clientW, sc.clientH
	s.mu.Lock()
	name := s.name
	s.conns[sc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
	}()
	init := make([]byte, 0, 24+len(name))
	init = append(init, byte(w>>8), byte(w), byte(h>>8), byte(h))
	init = NativeFormat.appendTo(init)
	init = appendString(init, name)
	if _, err := c.Write(init); err != nil {
		s.fb.unsubscribe(sc.sub)
		return err
	}
	c.SetDeadline(time.Time{})
	if shared == 0 && !s.opts.AlwaysShared {
		s.closeOthers(sc)
	}
	s.log.Debug("rfb: client connected", "remote", c.RemoteAddr().String(), "version", v.String())
	return sc.run(ctx)
}

func (s *Server) closeOthers(keep *serverConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c != keep {
			s.log.Info("rfb: closing client for an exclusive one", "remote", c.conn.RemoteAddr().String())
			c.conn.Close()
		}
	}
}

// SetDesktopName changes the desktop name; clients that support the
// DesktopName pseudo-encoding are told.
func (s *Server) SetDesktopName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.name = name
	for c := range s.conns {
		c.post(func(c *serverConn) { c.nameChanged = true })
	}
}

// Bell rings the bell on every client.
func (s *Server) Bell() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.post(func(c *serverConn) { c.control = append(c.control, byte(msgBell)) })
	}
}

// NumClients returns the number of connected clients past ServerInit.
func (s *Server) NumClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// latin1 converts UTF-8 to Latin-1 for ServerCutText.
func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return b
}

// fromLatin1 converts ClientCutText to UTF-8.
func fromLatin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// isClosedErr reports the errors of a connection that simply went away.
func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled)
}
