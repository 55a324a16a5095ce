package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/broker/cluster"
	"lifebuoy/broker/wsconn"
)

// agentConn is one agent's control link. No goroutine waits on it: the
// broker's parker starts one when the agent has sent something (see
// onReadable), and the Sender's timer keeps it alive, so a link costs its
// connection and this struct while it waits for a supporter and while its
// session runs. Writes from any goroutine go through out.
type agentConn struct {
	b      *Broker
	conn   net.Conn
	fr     *agentlink.FrameReader
	remote string
	name   string
	code   string
	path   string // how the agent came: "tls" (5510), "alpn" (the front's port), "wss"
	files  bool   // it serves files connections (files.go)
	resume string // in a cluster: the token that lets the agent keep its code on another node (Welcome)

	out *agentlink.Sender // after the Welcome

	ready   chan struct{} // closed once the Welcome is out and the link set up
	done    chan struct{} // closed when the link is gone
	closed  atomic.Bool
	onClose []func() // run by close, after done is closed; under mu

	mu       sync.Mutex
	refs     int         // the registered link's, and a wait's or reader's
	blocking bool        // read in a goroutine, not parked
	unpark   func() bool // while parked
}

// ServeAgent serves one connection on the agent port (or an agent's
// WebSocket on the HTTPS front): a control link (Hello) or a session's
// data connection (DataHello), inside TLS 1.3. It returns once the link
// is registered; the link lives on without this goroutine. It closes c,
// except a data connection, which it hands to the waiting session, and a
// registered link, which closes itself.
func (b *Broker) ServeAgent(ctx context.Context, c net.Conn) {
	tc := tls.Server(wrapSocket(c), b.agentTLS)
	stop := context.AfterFunc(ctx, func() { hardClose(c) })
	tc.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	err := tc.HandshakeContext(ctx)
	stop()
	if err != nil {
		b.metrics.HandshakeErrors.Add(1)
		b.log.Debug("broker: agent TLS handshake", "remote", c.RemoteAddr().String(), "err", err)
		hardClose(tc)
		return
	}
	path := "tls"
	if _, ok := c.(*wsconn.Conn); ok {
		path = "wss"
	}
	b.serveAgentTLS(ctx, tc, path)
}

// serveAgentTLS serves an agent connection whose TLS handshake is done:
// from ServeAgent, or from the HTTPS front for ALPN lifebuoy-agent/1.
func (b *Broker) serveAgentTLS(ctx context.Context, tc *tls.Conn, path string) {
	handoff := false
	defer func() {
		if !handoff {
			hardClose(tc)
		}
	}()
	stop := context.AfterFunc(ctx, func() { hardClose(tc) })
	defer stop()
	tc.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	m, err := agentlink.ReadMessage(tc)
	if err != nil {
		b.metrics.HandshakeErrors.Add(1)
		b.log.Info("broker: agent first message", "remote", tc.RemoteAddr().String(), "err", err)
		return
	}
	switch m := m.(type) {
	case *agentlink.DataHello:
		handoff = b.dataConn(tc, m)
	case *agentlink.Hello:
		handoff = b.controlLink(ctx, tc, m, path)
	default:
		b.metrics.HandshakeErrors.Add(1)
		agentlink.WriteMessage(tc, &agentlink.Error{Reason: "expected Hello or DataHello"})
	}
}

// dataConn hands a data connection to its pending session.
func (b *Broker) dataConn(c *tls.Conn, m *agentlink.DataHello) bool {
	// Handed over under the code table's lock: the waiter, once
	// forgetConn has removed its wait under the same lock, finds the
	// connection in its channel or none coming.
	c.SetDeadline(time.Time{})
	if !b.codes.deliverConn(m.SessionID, m.Token, c) {
		b.metrics.HandshakeErrors.Add(1)
		b.audit.Warn("data connection refused", "remote", c.RemoteAddr().String(), "session", m.SessionID)
		return false
	}
	return true
}

// controlLink registers the agent's code and reports whether the link
// now lives on its own (else the caller closes c).
func (b *Broker) controlLink(ctx context.Context, c *tls.Conn, hello *agentlink.Hello, path string) bool {
	a := &agentConn{b: b, conn: c, fr: agentlink.NewFrameReader(c), remote: c.RemoteAddr().String(), name: hello.Name, path: path,
		files: slices.Contains(hello.Features, agentlink.FeatureFiles),
		ready: make(chan struct{}), done: make(chan struct{})}
	a.out = agentlink.NewSender(c, time.Duration(b.cfg.KeepAlive), time.Duration(b.cfg.LinkTimeout))
	// The Sender closes the connection of a silent agent or on a write
	// error; a parked link would not notice (a closed socket leaves the
	// epoll set without an event), so the Sender tells it.
	a.out.SetOnClose(func() { go a.close() })
	var expires time.Time
	var viewer *viewerWait // a viewer came first and waits
	if b.cluster != nil {
		a.resume = randomHex(16)
	}
	leaveSlot, err := b.agentSlot(remoteAddr(c))
	switch {
	case err != nil:
	case hello.Version != agentlink.ProtocolVersion:
		err = fmt.Errorf("agent protocol version %d is not supported (want %d)", hello.Version, agentlink.ProtocolVersion)
	case hello.WantCode && hello.JoinCode != "":
		err = errors.New("the Hello both asks for a new code and presents one")
	case hello.WantCode:
		a.code, expires, err = b.codes.Issue(a)
	default:
		a.code, expires, viewer, err = b.joinCode(ctx, c, hello, a)
	}
	var redirect *redirectError
	if errors.As(err, &redirect) {
		leaveSlot()
		b.audit.Info("agent redirected", "remote", a.remote, "name", a.name, "to", redirect.addr)
		a.out.SendAndClose(&agentlink.Redirect{Broker: redirect.addr})
		return false
	}
	if err != nil {
		if leaveSlot != nil {
			leaveSlot()
		}
		b.audit.Warn("agent refused", "remote", a.remote, "name", a.name, "err", err.Error())
		a.out.SendAndClose(&agentlink.Error{Reason: err.Error()})
		return false
	}
	a.whenClosed(leaveSlot)
	// From here the link is its own: close releases everything below.
	b.wg.Add(1)
	b.metrics.Agents.Add(1)
	a.refs = 1 // the link's own, dropped by close
	a.whenClosed(func() {
		b.codes.EndHeldBy(a.code, a) // once the session relays, its relay ends the code
		a.release()
	})
	flow := map[bool]string{true: flowCustomerFirst, false: flowSupporterFirst}[hello.WantCode]
	b.codes.update(a.code, func(e *session) {
		if e.desk.flow == "" {
			e.desk.flow, e.desk.since = flow, time.Now()
		}
		flow = e.desk.flow // a code taken over in a cluster keeps its kind
	})
	b.audit.Info("agent registered", "remote", a.remote, "name", a.name, "code", a.code, "path", path,
		"flow", flow, "expires", expires)
	c.SetDeadline(time.Time{})
	welcome := &agentlink.Welcome{Code: a.code, ExpiresAt: expires, Resume: a.resume}
	if b.cluster != nil {
		welcome.Broker = b.cluster.agentAdv
	}
	if err := a.send(welcome); err != nil {
		a.close()
	}
	// The code's expiry: if nobody paired by then, the link ends.
	expiry := time.AfterFunc(time.Until(expires)+time.Millisecond, func() {
		expired := b.codes.Expire(a.code)
		if _, live := b.codes.Lookup(a.code); expired || !live {
			b.audit.Info("code expired", "code", a.code, "remote", a.remote)
			a.finish(&agentlink.Error{Reason: "the code expired"})
		}
	})
	stop := context.AfterFunc(ctx, a.close)
	a.whenClosed(func() { expiry.Stop(); stop() })
	// Frames the agent sent right behind its Hello may sit decrypted in
	// the TLS connection already, where the parker, which watches the
	// socket, would never see them: read once before parking.
	a.readNow()
	// Viewers that matched the code wait for this before they use a
	// (openSession): the agent must have its Welcome before an OpenData.
	close(a.ready)
	if viewer != nil {
		// Paired already: the viewer's goroutine takes it from here
		// (and sees a.done if the Welcome failed).
		viewer.agent <- a
	}
	return true
}

// agentSlot admits one more waiting agent from addr, within
// MaxAgentsAddr for the address (or its /64) and MaxAgents for the broker,
// and returns what gives the slot back. An address over its limit has
// the attempt counted as a failure, so it draws on the same budget as a
// wrong code (Throttle).
func (b *Broker) agentSlot(addr netip.Addr) (func(), error) {
	k := throttleKey(addr)
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := b.cfg.MaxAgentsAddr; n > 0 && b.agentsAddr[k] >= n {
		b.throttle.Failure(addr)
		b.metrics.RefusedConns.Add(1)
		return nil, fmt.Errorf("too many agents are connected from your address (%d); end some and try again", n)
	}
	if b.maxAgents > 0 && int(b.metrics.Agents.Load()) >= b.maxAgents {
		b.metrics.RefusedConns.Add(1)
		return nil, errors.New("the broker is full; try again in a minute")
	}
	b.agentsAddr[k]++
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.agentsAddr[k]--; b.agentsAddr[k] <= 0 {
				delete(b.agentsAddr, k)
			}
		})
	}, nil
}

// whenClosed has close run f, or runs it now if the link is closed.
func (a *agentConn) whenClosed(f func()) {
	a.mu.Lock()
	if !a.closed.Load() {
		a.onClose = append(a.onClose, f)
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	f()
}

// joinCode attaches a to the supporter's code it presents. A presented
// code is a guess like a viewer's, so it goes through the same throttle,
// and a code that is live but not waiting for an agent is refused with the
// same words as an unknown one: the agent port must not tell an attacker
// which codes are live.
//
// w is a viewer that came first and waits for this agent.
//
// In a cluster, a code this node does not hold may be the agent's own,
// which it held on another node and takes along with its resume token,
// or a supporter's code that waits on another node: the agent is sent
// there (a *redirectError).
func (b *Broker) joinCode(ctx context.Context, c net.Conn, hello *agentlink.Hello, a *agentConn) (string, time.Time, *viewerWait, error) {
	addr := remoteAddr(c)
	leave, refused := b.throttle.Enter(addr)
	if refused != nil {
		b.metrics.RefusedConns.Add(1)
		return "", time.Time{}, nil, errors.New(refused.Reason())
	}
	defer leave()
	code := NormalizeCode(hello.JoinCode)
	var expires time.Time
	var w *viewerWait
	err := ErrNoCode
	if ValidCode(code, b.cfg.CodeDigits) {
		expires, w, err = b.codes.Attach(code, a)
		switch {
		case err == nil && w == nil && b.cluster != nil:
			b.attached(ctx, code, expires, a)
		case errors.Is(err, ErrNoCode) && b.cluster != nil:
			expires, err = b.joinClusterCode(ctx, code, hello.Resume, a)
		}
	}
	var redirect *redirectError
	switch {
	case errors.As(err, &redirect):
		b.throttle.Success(addr)
		return "", time.Time{}, nil, err
	case errors.Is(err, cluster.ErrDatabase):
		return "", time.Time{}, nil, err
	}
	if err != nil {
		b.guessFailed(ctx, c, addr, "agent", "")
		return "", time.Time{}, nil, ErrNoCode
	}
	b.throttle.Success(addr)
	return code, expires, w, nil
}

// park waits, without a goroutine, for the agent's next message.
func (a *agentConn) park() {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.done:
		return
	default:
	}
	// The wait holds a reference to the link, which the reader it
	// starts drops when it ends (or close, withdrawing the wait).
	a.refs++
	u, ok := a.b.parker.park(a.conn, a.onReadable)
	if !ok {
		// Not a socket (a test's pipe) or the parker is gone: read in a
		// goroutine, as without a parker.
		a.blocking = true
		go a.onReadable()
		return
	}
	a.unpark = u
}

// readNow starts a reader at once, unless the link is closed: the
// reader holds a reference, which it drops when it ends or parks.
func (a *agentConn) readNow() {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.done:
		return
	default:
	}
	a.refs++
	go a.onReadable()
}

// release drops a reference to the registered link; the last one (the
// link closed, no reader running) lets the broker's Serve return.
func (a *agentConn) release() {
	a.mu.Lock()
	a.refs--
	last := a.refs == 0
	a.mu.Unlock()
	if last {
		a.b.metrics.Agents.Add(-1)
		a.b.wg.Done()
	}
}

// onReadable reads and handles what the agent sent, then parks the link
// again. Reads poll: the first waits up to pollWait for the rest of a
// message, later ones only take what has arrived.
func (a *agentConn) onReadable() {
	defer a.release()
	a.mu.Lock()
	a.unpark = nil
	a.mu.Unlock()
	wait := pollWait
	for {
		if a.blocking {
			wait = time.Duration(a.b.cfg.LinkTimeout)
		}
		a.conn.SetReadDeadline(time.Now().Add(wait))
		wait = 0
		m, err := a.fr.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) && !a.blocking {
			a.park()
			return
		}
		if err != nil {
			a.b.log.Debug("broker: agent link ended", "remote", a.remote, "code", a.code, "err", err)
			a.close()
			return
		}
		a.out.Heard()
		if a.handle(m) {
			return
		}
	}
}

// handle acts on a message from the agent on its control link; true
// means the link is done. (Once the session runs, its messages come on the
// data connection: sessionControl.)
func (a *agentConn) handle(m agentlink.Message) (done bool) {
	switch m := m.(type) {
	case *agentlink.Ping:
		a.out.TrySend(&agentlink.Pong{})
	case *agentlink.Pong:
	case *agentlink.Decline:
		a.b.codes.declined(a.code, m.SessionID, m.Reason)
	case *agentlink.Rights:
		current := false
		a.b.codes.update(a.code, func(e *session) {
			if e.desk.sessionID == m.SessionID {
				e.desk.rightsKnown, e.desk.control, e.desk.files = true, m.Control, m.Files
				current = true
			}
		})
		a.b.audit.Info("rights", "code", a.code, "session", m.SessionID, "agent", a.remote,
			"control", m.Control, "files", m.Files)
		if current {
			a.b.rightsChanged(a.code, m.Control, m.Files)
		}
	case *agentlink.End:
		// The agent gave up waiting before its session ran.
		a.b.log.Debug("broker: agent ended", "remote", a.remote, "code", a.code, "reason", m.Reason)
		a.close()
		return true
	default:
		a.finish(&agentlink.Error{Reason: fmt.Sprintf("unexpected %v", m.Type())})
		return true
	}
	return false
}

// pollWait is how long a woken link waits for the rest of a message.
const pollWait = 100 * time.Millisecond

func (a *agentConn) send(m agentlink.Message) error { return a.out.Send(m) }

// finish sends the agent its last message and closes the link.
func (a *agentConn) finish(m agentlink.Message) {
	a.out.SendAndClose(m)
	a.close()
}

// close ends the link. It may be called again from within, which
// returns at once.
func (a *agentConn) close() {
	if !a.closed.CompareAndSwap(false, true) {
		return
	}
	close(a.done)
	a.mu.Lock()
	if a.unpark != nil {
		if a.unpark() {
			a.refs-- // the withdrawn wait's; the link's own stays for onClose
		}
		a.unpark = nil
	}
	fs := a.onClose
	a.onClose = nil
	a.mu.Unlock()
	a.out.Close()
	for _, f := range fs {
		f()
	}
}

// Reasons a viewer is told when its session does not start.
var (
	errAgentGone    = errors.New("the customer's agent disconnected")
	errAgentTimeout = errors.New("the customer did not answer")
)

// DeclinedError is the customer's refusal.
type DeclinedError struct{ Reason string }

func (e *DeclinedError) Error() string {
	if e.Reason == "" {
		return "the customer declined"
	}
	return "the customer declined: " + e.Reason
}

// openSession asks a's agent for a data connection for a viewer and waits
// for it, the customer's refusal, the agent's departure or the consent
// timeout. sessionID is returned for the session's log lines.
func (b *Broker) openSession(ctx context.Context, a *agentConn, m *agentlink.OpenData) (net.Conn, error) {
	m.SessionID, m.Token = randomHex(16), randomHex(32)
	// Known before the agent hears of it: its Rights or its Decline for
	// this session may come at once.
	decline := make(chan string, 1)
	b.codes.asking(a.code, m.SessionID, decline)
	p, ok := b.codes.expectConn(a.code, m.SessionID, m.Token)
	if !ok {
		b.codes.asked(a.code, decline)
		return nil, errAgentGone
	}
	defer func() {
		b.codes.asked(a.code, decline)
		// Closes a data connection that raced with the end of the wait.
		b.codes.forgetConn(m.SessionID, p)
	}()
	select {
	case <-a.ready:
	case <-a.done:
		return nil, errAgentGone
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := a.send(m); err != nil {
		return nil, errAgentGone
	}
	t := time.NewTimer(time.Duration(b.cfg.ConsentTimeout))
	defer t.Stop()
	select {
	case c := <-p.conn:
		return c, nil
	case r := <-decline:
		return nil, &DeclinedError{r}
	case <-a.done:
		return nil, errAgentGone
	case <-t.C:
		return nil, errAgentTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runSession starts relaying between a paired viewer and the agent's
// data connection and returns. The data connection is framed
// (agentlink.Mux): it carries the RFB stream and, from here, the control
// messages (the customer's rights, the supporter's requests, End), so the
// control link has done its work: the agent is told so and the link
// closed, and the session lives on its two connections alone. When it
// ends, the code is void. The session is counted in b.wg until then.
func (b *Broker) runSession(ctx context.Context, a *agentConn, sessionID string, viewer, data net.Conn, supporter Supporter) {
	b.codes.StartRelay(a.code)
	b.metrics.Sessions.Add(1)
	b.metrics.SessionsTotal.Add(1)
	b.wg.Add(1)
	start := time.Now()
	code, agent := a.code, a.remote
	var toViewer, toAgent atomic.Int64
	sc := &sessionControl{b: b, code: code, session: sessionID, agent: agent}
	mux := agentlink.NewMux(data, sc.handle)
	r := &relay{viewer: viewer, agent: mux, idle: time.Duration(b.cfg.IdleTimeout), park: b.parker,
		stall:    time.Duration(b.cfg.WriteStall),
		caps:     []*Bucket{NewBucket(b.cfg.SessionBandwidth), b.total},
		toViewer: []*atomic.Int64{&toViewer, &b.metrics.BytesToViewer},
		toAgent:  []*atomic.Int64{&toAgent, &b.metrics.BytesToAgent}}
	viewerAddr := viewer.RemoteAddr().String()
	b.journal.start(journalEntry{Session: sessionID, Code: code, Viewer: viewerAddr, Agent: agent,
		Supporter: supporter.Account, Start: start})
	r.onEnd = func(reason string) {
		b.metrics.Sessions.Add(-1)
		b.codes.End(code)
		b.audit.Info("session end", "session", sessionID, "code", code, "viewer", viewerAddr,
			"agent", agent, "supporter", supporter.Account, "duration", time.Since(start).Round(time.Millisecond).String(),
			"bytes_to_viewer", toViewer.Load(), "bytes_to_agent", toAgent.Load(), "reason", reason)
		b.journal.end(sessionID)
		b.wg.Done()
	}
	sc.relay = r
	b.codes.update(code, func(e *session) {
		d := &e.desk
		d.since = start
		d.toViewer, d.toAgent, d.end, d.mux = &toViewer, &toAgent, r.endWith, mux
		// The link closes now: the entry keeps what the console shows of
		// the agent, and lets go of the link itself (and its memory).
		d.customer, d.customerAddr, d.agentPath = a.name, a.remote, a.path
		d.agentFiles = a.files // files.go
		e.agent = nil
	})
	startRelay(ctx, r)
	a.out.SendAndClose(&agentlink.Spliced{SessionID: sessionID})
	a.close()
}

// sessionControl takes what the agent says about its running session,
// on the data connection (agentlink.Mux).
type sessionControl struct {
	b                    *Broker
	code, session, agent string
	relay                *relay
}

func (sc *sessionControl) handle(m agentlink.Message) {
	switch m := m.(type) {
	case *agentlink.Rights:
		current := false
		sc.b.codes.update(sc.code, func(e *session) {
			if e.desk.sessionID == m.SessionID {
				e.desk.rightsKnown, e.desk.control, e.desk.files = true, m.Control, m.Files
				current = true
			}
		})
		sc.b.audit.Info("rights", "code", sc.code, "session", m.SessionID, "agent", sc.agent,
			"control", m.Control, "files", m.Files)
		if current {
			sc.b.rightsChanged(sc.code, m.Control, m.Files)
		}
	case *agentlink.End:
		sc.relay.endWith("the customer ended the session")
	}
}
