package broker

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
)

// The stock-viewer front (5511). The broker is the RFB server up to the
// SecurityResult, and the VNC password is the session code:
//
//	B: "RFB 003.008\n" (at once)
//	V: ProtocolVersion (3.8+ → 3.8, 3.7 → 3.7, other 3.x → 3.3)
//	3.7+: B: U8 n, types: VeNCrypt (19) to everyone, VNCAuth (2) to the
//	      networks allowed plain VNC Authentication      V: U8 type
//	3.3:  B: U32 2 (VNCAuth) where allowed, else U32 0 + reason
//	VeNCrypt: B: 0 2   V: 0 2   B: 0 (ok), U8 1, U32 261 (X509Vnc)
//	          V: U32 261   B: U8 1; TLS with the broker's certificate;
//	          the rest inside TLS
//	B: 16-byte challenge   V: 16-byte response
//	the broker tries the response against every waiting code; on a match
//	the code is spent and the agent asked for a data connection
//	B: U32 SecurityResult: 0 once the agent's data connection is there;
//	   1 (3.8: + reason) on a wrong code, a refusal or a timeout
//	from here on, bytes are spliced: the viewer's ClientInit goes to the
//	agent's RFB server (rfb.Server.ServeAuthenticated)

type viewerHandshake struct {
	b     *Broker
	conn  net.Conn // becomes the TLS connection inside VeNCrypt
	addr  netip.Addr
	h     *rfb.Handshake
	front viewerFront
	// In a cluster: the code matched is another node's, at this peer
	// address (peer.go).
	forwardTo string
}

// deskPath names the front for the console's list.
func (f viewerFront) deskPath() string {
	switch f.port {
	case "viewer":
		return "5511"
	case "repeater":
		return "5514"
	}
	return f.port
}

// viewerFront says how a viewer reached the broker.
type viewerFront struct {
	port      string    // for the audit: "viewer" (5511) or "wss" (the HTTPS front's /rfb)
	tls       bool      // the transport is TLS already: VNC Authentication alone is safe
	security  string    // how the viewer authenticated, for the audit ("X509Vnc", "VncAuth", ...)
	supporter Supporter // who the desk says this is; zero for an unidentified viewer
	// refuse turns the viewer away with a reason its protocol can carry.
	refuse func(c net.Conn, reason string)
}

// refuseRFB refuses an RFB viewer at its security step, with the reason.
func refuseRFB(c net.Conn, reason string) { rfb.RefuseConnection(c, reason) }

// maxRefusals bounds the refusals being told at once: telling costs a
// goroutine for up to refusalTime, and beyond the bound a refused
// connection is just closed, so refusing stays cheap under a flood.
const (
	maxRefusals = 64
	refusalTime = 2 * time.Second
)

// refuseWithReason tells a refused viewer why, if few are being told now,
// and closes it.
func (b *Broker) refuseWithReason(c net.Conn, front viewerFront, reason string) {
	defer c.Close()
	if front.refuse == nil {
		return
	}
	select {
	case b.refusals <- struct{}{}:
		defer func() { <-b.refusals }()
	default:
		return
	}
	c.SetDeadline(time.Now().Add(refusalTime))
	front.refuse(c, reason)
}

// admit takes a handshake slot in the throttle for c's address (refusing
// c with the reason when the address has too many or the guessing budget
// is spent), closes c when ctx ends, and starts the handshake deadline.
// The caller defers g.done(), which closes c unless g.keep() handed it to
// a session.
func (b *Broker) admit(ctx context.Context, c net.Conn, front viewerFront) (netip.Addr, *admission, bool) {
	addr := remoteAddr(c)
	leave, refused := b.throttle.Enter(addr)
	if refused != nil {
		b.metrics.RefusedConns.Add(1)
		b.audit.Info("refused", "remote", c.RemoteAddr().String(), "port", front.port, "reason", refused.Reason())
		b.refuseWithReason(c, front, capitalize(refused.Reason())+".")
		return addr, nil, false
	}
	c.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	return addr, &admission{conn: c, leave: leave, stop: context.AfterFunc(ctx, func() { c.Close() })}, true
}

// admission is a connection let in by admit.
type admission struct {
	conn  net.Conn
	leave func()
	stop  func() bool
	kept  bool
}

// keep hands the connection over to a session: done leaves it open.
func (g *admission) keep() { g.kept = true }

// release gives the handshake slot back early: waiting for the customer's
// consent does not count as a handshake held open.
func (g *admission) release() {
	if g.leave != nil {
		g.leave()
		g.leave = nil
	}
}

func (g *admission) done() {
	g.release()
	g.stop()
	if !g.kept {
		g.conn.Close()
	}
}

// ServeViewer serves one stock viewer on the viewer port. It closes c
// unless a session took it.
func (b *Broker) ServeViewer(ctx context.Context, c net.Conn) {
	b.serveViewer(ctx, c, viewerFront{port: "viewer", refuse: refuseRFB})
}

// serveViewer admits a viewer from any front with 5511's handshake.
func (b *Broker) serveViewer(ctx context.Context, c net.Conn, front viewerFront) {
	addr, g, ok := b.admit(ctx, c, front)
	if !ok {
		return
	}
	defer g.done()
	hs := &viewerHandshake{b: b, conn: c, addr: addr, front: front}
	code, a, w, err := hs.authenticate(ctx)
	if err != nil {
		b.log.Debug("broker: viewer handshake", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	front.security = hs.h.Security.String()
	if hs.h.Security == rfb.SecVeNCrypt {
		front.security += "/" + hs.h.Subtype.String()
	}
	// The waits for the customer's agent and consent do not count as a
	// handshake held open.
	g.release()
	hs.conn.SetDeadline(time.Time{})
	if hs.forwardTo != "" {
		if b.forwardViewer(ctx, hs, code, front) {
			g.keep()
		}
		return
	}
	if w != nil {
		if a, err = b.awaitAgent(ctx, hs.conn, code, w); err != nil {
			hs.conn.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
			hs.fail(err.Error())
			return
		}
	}
	data, sessionID, err := b.pair(ctx, a, code, agentlink.ModeAuthenticated, hs.h.Version, c.RemoteAddr().String(), front)
	if err != nil {
		hs.conn.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
		hs.fail(err.Error())
		return
	}
	hs.conn.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	if err := hs.h.Accept(); err != nil {
		data.Close()
		b.codes.End(code)
		a.close()
		return
	}
	hs.conn.SetDeadline(time.Time{})
	b.runSession(ctx, a, sessionID, hs.conn, data, front.supporter)
	g.keep()
}

// pair spends nothing (the caller did) but asks the agent for the data
// connection and audits the outcome.
func (b *Broker) pair(ctx context.Context, a *agentConn, code string, mode agentlink.Mode, v rfb.Version, viewer string, front viewerFront) (net.Conn, string, error) {
	m := &agentlink.OpenData{Mode: mode, Viewer: viewer, Supporter: front.supporter}
	if mode == agentlink.ModeAuthenticated {
		m.Version = int(v)
	}
	b.metrics.Pairings.Add(1)
	b.codes.update(code, func(e *session) {
		e.desk.supporter, e.desk.viewer, e.desk.front = front.supporter, viewer, front.deskPath()
	})
	b.audit.Info("paired", "code", code, "viewer", viewer, "agent", a.remote, "mode", string(mode),
		"port", front.port, "security", front.security, "supporter", front.supporter.Account)
	data, err := b.openSession(ctx, a, m)
	if err != nil {
		b.metrics.Declined.Add(1)
		b.audit.Info("session refused", "code", code, "viewer", viewer, "agent", a.remote, "reason", err.Error())
		b.codes.End(code)
		a.finish(&agentlink.End{SessionID: m.SessionID, Reason: err.Error()})
		return nil, "", err
	}
	b.audit.Info("session start", "session", m.SessionID, "code", code, "viewer", viewer, "agent", a.remote,
		"supporter", front.supporter.Account)
	return data, m.SessionID, nil
}

// capitalize starts a sentence with an upper-case letter.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// errSignInFirst refuses a viewer without an account where anonymous
// viewers are switched off.
var errSignInFirst = errors.New("this help desk admits signed-in supporters only: " +
	"open the session from the web console, or use \"lifebuoy connect CODE\" for a VNC viewer")

// Reasons a viewer that came before the agent is told.
var (
	errNoAgent    = errors.New("the customer did not connect in time")
	errSuperseded = errors.New("another viewer with this code took over")
	errViewerGone = errors.New("the viewer left before the customer's agent came")
)

// awaitAgent waits for the agent of the issued code a viewer came with,
// until the code expires, a newer viewer with the code takes over, or the
// viewer leaves (the code is then issued again). Nothing can be sent to
// the viewer meanwhile (it waits for its SecurityResult); the operating
// system's TCP keep-alives hold the connection through NAT.
func (b *Broker) awaitAgent(ctx context.Context, conn net.Conn, code string, w *viewerWait) (*agentConn, error) {
	viewer := conn.RemoteAddr().String()
	b.audit.Info("viewer waits for the agent", "code", code, "viewer", viewer, "until", w.expires)
	t := time.NewTimer(time.Until(w.expires))
	defer t.Stop()
	// The viewer's side closing. Bytes it sends first (a pipelined
	// ClientInit, a TLS alert) stay unread for the session.
	gone := make(chan struct{})
	if unpark, ok := b.parker.parkHangup(conn, func() { close(gone) }); ok {
		defer unpark()
	}
	var err error
	abandon := b.codes.WaitTimedOut
	select {
	case <-gone:
		err, abandon = errViewerGone, b.codes.ViewerLeft
	case a := <-w.agent:
		return a, nil
	case <-w.superseded:
		if w.ended != "" {
			return nil, errors.New(w.ended)
		}
		b.audit.Info("viewer wait superseded", "code", code, "viewer", viewer)
		return nil, errSuperseded
	case <-t.C:
		err = errNoAgent
	case <-ctx.Done():
		err = ctx.Err()
	}
	if abandon(code, w) {
		// The agent came as the wait ended: it is on its way.
		return <-w.agent, nil
	}
	b.audit.Info("viewer gave up waiting", "code", code, "viewer", viewer, "reason", err.Error())
	return nil, err
}

// authenticate runs the handshake up to the VNC Authentication response
// and returns the code it matched, spent, with its agent, or a wait for
// the agent of an issued code. A failure is answered only after the
// throttle's delay.
func (hs *viewerHandshake) authenticate(ctx context.Context) (string, *agentConn, *viewerWait, error) {
	// VeNCrypt with TLS (X509Vnc) for everyone. Where plain VNC
	// Authentication is allowed it comes second, and VeNCrypt also
	// carries it (subtype 2) after X509Vnc: viewers take the first type
	// they know in the server's order (TigerVNC, libvncclient, noVNC), so
	// those with TLS choose X509Vnc, and noVNC, which knows VeNCrypt but
	// none of its TLS subtypes, gets VNC Authentication inside it.
	types := []rfb.SecurityType{rfb.SecVeNCrypt}
	subtypes := []rfb.VeNCryptSubtype{rfb.VeNCryptX509Vnc}
	switch {
	case hs.front.tls:
		// Inside TLS already (wss): noVNC and the bridge do VNC
		// Authentication, and VeNCrypt would only nest TLS.
		types = []rfb.SecurityType{rfb.SecVNCAuth}
	case hs.b.plainAllowed(hs.addr):
		types = append(types, rfb.SecVNCAuth)
		subtypes = append(subtypes, rfb.VeNCryptVNCAuth)
	}
	h, err := rfb.AcceptSecurity(hs.conn, rfb.SecurityConfig{
		Types:            types,
		VeNCryptSubtypes: subtypes,
		TLSConfig:        hs.b.viewerTLS,
	})
	hs.h = h
	if err != nil {
		hs.b.metrics.HandshakeErrors.Add(1)
		return "", nil, nil, err
	}
	hs.conn = h.Conn
	if !hs.b.cfg.AnonymousViewers && !hs.front.supporter.Known() {
		hs.b.audit.Info("anonymous viewer refused", "remote", hs.conn.RemoteAddr().String(), "port", hs.front.port)
		return "", nil, nil, hs.fail(errSignInFirst.Error())
	}
	code, a, w, err := hs.b.codes.SpendVNCAuth(h.Challenge, h.Response)
	if err != nil && hs.b.cluster != nil {
		// Another node's code: this node splices the viewer there.
		dir := hs.b.cluster.dir
		if dir.Await(ctx, replicaWait, func() (ok bool) {
			code, _, hs.forwardTo, ok = dir.MatchVNCAuth(h.Challenge, h.Response, time.Now())
			return ok
		}) {
			hs.b.throttle.Success(hs.addr)
			return code, nil, nil, nil
		}
	}
	if err != nil {
		hs.b.guessFailed(ctx, hs.conn, hs.addr, hs.front.port, "")
		return "", nil, nil, hs.fail("wrong, expired or used session code")
	}
	hs.b.throttle.Success(hs.addr)
	return code, a, w, nil
}

// guessFailed counts and audits a wrong code, then waits the throttle's
// delay, with the connection's deadline moved past it.
func (b *Broker) guessFailed(ctx context.Context, c net.Conn, addr netip.Addr, port, presented string) {
	b.metrics.FailedGuesses.Add(1)
	d := b.throttle.Failure(addr)
	args := []any{"remote", c.RemoteAddr().String(), "port", port, "delay", d.String()}
	if presented != "" {
		args = append(args, "presented", presented)
	}
	b.audit.Warn("wrong code", args...)
	c.SetDeadline(time.Now().Add(d + time.Duration(b.cfg.HandshakeTimeout)))
	sleepCtx(ctx, d)
}

// fail sends a failed SecurityResult (with the reason in 3.8).
func (hs *viewerHandshake) fail(reason string) error {
	hs.h.Refuse(reason)
	return errors.New(reason)
}
