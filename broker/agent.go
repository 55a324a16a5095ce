package broker

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/broker/agentlink"
)

// agentConn is one agent's control link. Its reader runs in ServeAgent;
// writes from any goroutine go through send.
type agentConn struct {
	b      *Broker
	conn   net.Conn
	remote string
	name   string
	code   string

	out *agentlink.Sender // after the Welcome

	done      chan struct{} // closed when the link is gone
	closeOnce sync.Once

	mu       sync.Mutex
	declines map[string]chan string // session ID → decline reason
	ends     map[string]func()      // session ID → ends the relay
}

// ServeAgent serves one connection on the agent port: a control link
// (Hello) or a session's data connection (DataHello). It closes c, except
// a data connection, which it hands to the waiting session.
func (b *Broker) ServeAgent(ctx context.Context, c net.Conn) {
	tc := tls.Server(c, b.agentTLS)
	handoff := false
	defer func() {
		if !handoff {
			tc.Close()
		}
	}()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	tc.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	if err := tc.HandshakeContext(ctx); err != nil {
		b.metrics.HandshakeErrors.Add(1)
		b.log.Debug("broker: agent TLS handshake", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	m, err := agentlink.ReadMessage(tc)
	if err != nil {
		b.metrics.HandshakeErrors.Add(1)
		b.log.Info("broker: agent first message", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	switch m := m.(type) {
	case *agentlink.DataHello:
		handoff = b.dataConn(tc, m)
	case *agentlink.Hello:
		tc.SetDeadline(time.Time{})
		b.controlLink(ctx, tc, m)
	default:
		b.metrics.HandshakeErrors.Add(1)
		agentlink.WriteMessage(tc, &agentlink.Error{Reason: "expected Hello or DataHello"})
	}
}

// dataConn hands a data connection to its pending session.
func (b *Broker) dataConn(c *tls.Conn, m *agentlink.DataHello) bool {
	b.mu.Lock()
	p := b.pending[m.SessionID]
	ok := p != nil && subtle.ConstantTimeCompare([]byte(p.token), []byte(m.Token)) == 1
	if ok {
		delete(b.pending, m.SessionID)
	}
	b.mu.Unlock()
	if !ok {
		b.metrics.HandshakeErrors.Add(1)
		b.audit.Warn("data connection refused", "remote", c.RemoteAddr().String(), "session", m.SessionID)
		return false
	}
	c.SetDeadline(time.Time{})
	p.data <- c
	return true
}

func (b *Broker) controlLink(ctx context.Context, c *tls.Conn, hello *agentlink.Hello) {
	a := &agentConn{b: b, conn: c, remote: c.RemoteAddr().String(), name: hello.Name,
		done: make(chan struct{}), declines: map[string]chan string{}, ends: map[string]func(){}}
	defer a.close()
	a.out = agentlink.NewSender(c, time.Duration(b.cfg.KeepAlive), time.Duration(b.cfg.LinkTimeout))
	var expires time.Time
	var err error
	switch {
	case hello.Version != agentlink.ProtocolVersion:
		err = fmt.Errorf("agent protocol version %d is not supported (want %d)", hello.Version, agentlink.ProtocolVersion)
	case hello.WantCode && hello.JoinCode != "":
		err = errors.New("the Hello both asks for a new code and presents one")
	case hello.WantCode:
		a.code, expires, err = b.codes.Issue(a)
	default:
		a.code, expires, err = b.joinCode(ctx, c, hello.JoinCode, a)
	}
	if err != nil {
		b.audit.Warn("agent refused", "remote", a.remote, "name", a.name, "err", err.Error())
		a.out.SendAndClose(&agentlink.Error{Reason: err.Error()})
		closeSoon(a)
		return
	}
	defer b.codes.End(a.code)
	b.metrics.Agents.Add(1)
	defer b.metrics.Agents.Add(-1)
	b.audit.Info("agent registered", "remote", a.remote, "name", a.name, "code", a.code,
		"flow", map[bool]string{true: "customer-first", false: "supporter-first"}[hello.WantCode], "expires", expires)
	if err := a.send(&agentlink.Welcome{Code: a.code, ExpiresAt: expires}); err != nil {
		return
	}

	// The code's expiry: if nobody paired by then, the link ends.
	expiry := time.AfterFunc(time.Until(expires)+time.Millisecond, func() {
		if _, live := b.codes.Lookup(a.code); !live || b.codes.Expire(a.code) {
			b.audit.Info("code expired", "code", a.code, "remote", a.remote)
			a.out.SendAndClose(&agentlink.Error{Reason: "the code expired"})
		}
	})
	defer expiry.Stop()
	// A write error stops the Sender, which closes the connection; the
	// read in readLoop then fails and the link ends, so no goroutine
	// needs to watch the Sender.
	stop := context.AfterFunc(ctx, a.close)
	defer stop()
	a.readLoop()
}

// joinCode attaches a to the supporter's code it presents. A presented
// code is a guess like a viewer's, so it goes through the same throttle,
// and a code that is live but not waiting for an agent is refused with the
// same words as an unknown one: the agent port must not tell an attacker
// which codes are live.
func (b *Broker) joinCode(ctx context.Context, c net.Conn, presented string, a *agentConn) (string, time.Time, error) {
	addr := remoteAddr(c)
	leave, ok := b.throttle.Enter(addr)
	if !ok {
		b.metrics.RefusedConns.Add(1)
		return "", time.Time{}, errTooManyAttempts
	}
	defer leave()
	code := NormalizeCode(presented)
	var expires time.Time
	err := ErrNoCode
	if ValidCode(code, b.cfg.CodeDigits) {
		expires, err = b.codes.Attach(code, a)
	}
	if err != nil {
		b.guessFailed(ctx, c, addr, "agent", "")
		return "", time.Time{}, ErrNoCode
	}
	b.throttle.Success(addr)
	return code, expires, nil
}

var errTooManyAttempts = errors.New("too many attempts from this address; try again later")

func (a *agentConn) readLoop() {
	timeout := time.Duration(a.b.cfg.LinkTimeout)
	for {
		a.conn.SetReadDeadline(time.Now().Add(timeout))
		m, err := agentlink.ReadMessage(a.conn)
		if err != nil {
			a.b.log.Debug("broker: agent link ended", "remote", a.remote, "code", a.code, "err", err)
			return
		}
		switch m := m.(type) {
		case *agentlink.Ping:
			a.out.TrySend(&agentlink.Pong{})
		case *agentlink.Pong:
		case *agentlink.Decline:
			a.mu.Lock()
			ch := a.declines[m.SessionID]
			a.mu.Unlock()
			if ch != nil {
				select {
				case ch <- m.Reason:
				default:
				}
			}
		case *agentlink.End:
			a.mu.Lock()
			end := a.ends[m.SessionID]
			a.mu.Unlock()
			if end != nil {
				end()
			}
		default:
			a.out.SendAndClose(&agentlink.Error{Reason: fmt.Sprintf("unexpected %v", m.Type())})
			return
		}
	}
}

func (a *agentConn) send(m agentlink.Message) error { return a.out.Send(m) }

func (a *agentConn) close() {
	a.closeOnce.Do(func() {
		close(a.done)
		a.conn.Close()
		if a.out != nil {
			a.out.Close()
		}
		a.mu.Lock()
		for _, end := range a.ends {
			end()
		}
		a.mu.Unlock()
	})
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
	p := &pendingSession{token: m.Token, data: make(chan net.Conn, 1)}
	decline := make(chan string, 1)
	b.mu.Lock()
	b.pending[m.SessionID] = p
	b.mu.Unlock()
	a.mu.Lock()
	a.declines[m.SessionID] = decline
	a.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, m.SessionID)
		b.mu.Unlock()
		a.mu.Lock()
		delete(a.declines, m.SessionID)
		a.mu.Unlock()
		// A data connection that raced with the end of the wait.
		select {
		case c := <-p.data:
			c.Close()
		default:
		}
	}()
	if err := a.send(m); err != nil {
		return nil, errAgentGone
	}
	t := time.NewTimer(time.Duration(b.cfg.ConsentTimeout))
	defer t.Stop()
	select {
	case c := <-p.data:
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

// runSession relays between a paired viewer and the agent's data
// connection, then voids the code and ends the agent's link.
func (b *Broker) runSession(ctx context.Context, a *agentConn, sessionID string, viewer, data net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.mu.Lock()
	a.ends[sessionID] = cancel
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.ends, sessionID)
		a.mu.Unlock()
	}()
	// a.close ends every registered session; one registered after it
	// closed sees a.done here. (No watcher goroutine: idle sessions are
	// many, and each goroutine costs its stack.)
	select {
	case <-a.done:
		cancel()
	default:
	}
	b.codes.SetState(a.code, StateRelaying)
	b.metrics.Sessions.Add(1)
	b.metrics.SessionsTotal.Add(1)
	start := time.Now()
	var toViewer, toAgent atomic.Int64
	relay(ctx, viewer, data, time.Duration(b.cfg.IdleTimeout),
		[]*Bucket{NewBucket(b.cfg.SessionBandwidth), b.total},
		[]*atomic.Int64{&toViewer, &b.metrics.BytesToViewer}, []*atomic.Int64{&toAgent, &b.metrics.BytesToAgent})
	b.metrics.Sessions.Add(-1)
	b.codes.End(a.code)
	b.audit.Info("session end", "session", sessionID, "code", a.code, "viewer", viewer.RemoteAddr().String(),
		"agent", a.remote, "duration", time.Since(start).Round(time.Millisecond).String(),
		"bytes_to_viewer", toViewer.Load(), "bytes_to_agent", toAgent.Load())
	a.out.SendAndClose(&agentlink.End{SessionID: sessionID, Reason: "session ended"})
	closeSoon(a)
}

// closeSoon closes a's link once its last message is out, or after a
// second if the agent does not take it.
func closeSoon(a *agentConn) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-a.out.Done():
	case <-t.C:
	}
	a.close()
}
