package winvnc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
)

// serveBroker is the normal flow: dial the broker, show the code, ask the
// customer when a supporter pairs, and serve that one session. The code
// is spent once a session has run, so the agent's run ends with it.
func (a *agent) serveBroker(ctx context.Context) error {
	a.event(ctx, EvState{StateConnecting, "Connecting to " + BrokerAddr(a.cfg.Broker) + "."})
	link, err := agentlink.Dial(ctx, a.linkConfig(a.cfg.Code, ""))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return brokerError(err)
	}
	defer func() { link.Close() }()
	a.event(ctx, EvCode{link.Code(), link.ExpiresAt()})
	a.event(ctx, EvState{StateWaiting, "Connected (" + link.Path().String() + "). Waiting for the supporter."})
	declined := false
	for {
		in, err := link.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if declined && errors.Is(err, agentlink.ErrClosed) {
				// The broker spends a code on a declined session.
				a.event(ctx, EvState{StateEnded, "The code is used up. Start the agent again for a new one."})
				return nil
			}
			if l := a.rejoin(ctx, link, err); l != nil {
				link = l
				continue
			}
			return brokerError(err)
		}
		who := in.Who()
		a.event(ctx, EvState{StateAsking, capitalize(who) + " wants to see your screen."})
		if !a.ask(ctx, EvPrompt{Question: fmt.Sprintf("Allow %s to see your screen?", who), Who: who}, 0) {
			if ctx.Err() != nil {
				return nil
			}
			if err := in.Decline("the customer declined"); err != nil {
				return brokerError(err)
			}
			declined = true
			a.log.Info("winvnc: customer declined", "viewer", in.Viewer, "supporter", in.Supporter.Account, "session", in.SessionID)
			a.event(ctx, EvState{StateWaiting, "You declined. Waiting for the supporter."})
			continue
		}
		conn, err := in.Open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return brokerError(err)
		}
		a.log.Info("winvnc: session starts", "viewer", in.Viewer, "supporter", in.Supporter.Account, "session", in.SessionID)
		a.event(ctx, EvState{StateSharing, capitalize(who) + ` sees your screen. Type "control on" to let them control it, "end" to stop.`})
		remove := a.addEnder(func(reason string) { in.End(reason) })
		sctx, stop := context.WithCancel(ctx)
		var side sync.WaitGroup
		side.Go(func() { a.reportRights(sctx, link, in.SessionID) })
		side.Go(func() { a.answerRequests(sctx, link, who) })
		side.Go(func() { a.serveFiles(sctx, link) })
		side.Go(func() {
			// The broker's End (the supporter's console) ends the session.
			select {
			case <-link.Done():
				var ended *agentlink.EndedError
				if errors.As(link.Err(), &ended) {
					stop()
				}
			case <-sctx.Done():
			}
		})
		err = a.serveViewer(sctx, who, func(int64) error {
			if in.Mode == agentlink.ModeAuthenticated {
				return a.srv.ServeAuthenticated(sctx, conn, in.Version)
			}
			return a.srv.ServeConn(sctx, conn)
		})
		stop()
		conn.Close()
		side.Wait()
		remove()
		a.rights.ReleaseAll()
		a.log.Info("winvnc: session ended", "viewer", in.Viewer, "session", in.SessionID, "err", err)
		// The broker's End, if it said why, came on the data connection
		// before it closed, and was read with the rest.
		var ended *agentlink.EndedError
		if errors.As(link.Err(), &ended) && ended.Reason != "the session ended" {
			a.event(ctx, EvState{StateEnded, "The session was ended: " + ended.Reason + "."})
		} else {
			a.event(ctx, EvState{StateEnded, "The supporter's session ended."})
		}
		return nil
	}
}

// linkConfig is the link to the broker, presenting code (empty: ask for
// a new one), with the resume token of a link lost while it waited.
func (a *agent) linkConfig(code, resume string) agentlink.Config {
	return agentlink.Config{
		Broker:      BrokerAddr(a.cfg.Broker),
		HTTPSPorts:  a.cfg.HTTPSPorts,
		Fingerprint: a.cfg.Fingerprint,
		Code:        code,
		Resume:      resume,
		Name:        a.cfg.Name,
		Proxy:       a.cfg.Proxy,
		Logger:      a.log,
		Files:       true, // files.go serves them
	}
}

// Rejoining a cluster of brokers after the link was lost while waiting.
const (
	maxRejoins  = 10
	rejoinPause = time.Second
)

// rejoin reconnects a link that was lost (err) while it waited for the
// supporter, when its broker is one of a cluster (the Welcome gave a
// resume token; a single broker voids the code as the link goes). The
// broker name may lead to any node (DNS round robin, a load balancer):
// the node reached takes the code over with the token, so the customer
// keeps the code the supporter has. If the code is gone (it expired, or
// its node lives and voided it), a customer-first agent asks for a new
// one. It shows the new link's state and returns it, or nil.
func (a *agent) rejoin(ctx context.Context, lost *agentlink.Link, err error) *agentlink.Link {
	var ended *agentlink.EndedError
	var refused *agentlink.RefusedError
	if lost.Resume() == "" || !errors.Is(err, agentlink.ErrClosed) || errors.As(err, &ended) || errors.As(err, &refused) {
		return nil
	}
	lost.Close()
	a.log.Info("winvnc: the link to the broker was lost; rejoining", "code", lost.Code(), "err", err)
	a.event(ctx, EvState{StateConnecting, "The connection to the broker was lost; reconnecting."})
	for range maxRejoins {
		if !time.Now().Before(lost.ExpiresAt()) {
			break
		}
		l, err := agentlink.Dial(ctx, a.linkConfig(lost.Code(), lost.Resume()))
		if err == nil {
			a.event(ctx, EvState{StateWaiting, "Connected again (" + l.Path().String() + "). Waiting for the supporter."})
			return l
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.As(err, &refused) {
			a.log.Info("winvnc: the code could not be kept", "reason", refused.Reason)
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(rejoinPause):
		}
	}
	if a.cfg.Code != "" {
		return nil // the supporter's code is gone: nothing to wait for
	}
	l, err := agentlink.Dial(ctx, a.linkConfig("", ""))
	if err != nil {
		return nil
	}
	a.event(ctx, EvCode{l.Code(), l.ExpiresAt()})
	a.event(ctx, EvState{StateWaiting, "Connected again (" + l.Path().String() + ") with a new code. Waiting for the supporter."})
	return l
}

// reportRights tells the broker the customer's rights now and after each
// change, for the supporter's console.
func (a *agent) reportRights(ctx context.Context, link *agentlink.Link, sessionID string) {
	for {
		ev := a.rights.Event()
		if err := link.SendRights(sessionID, ev.Control, ev.Files); err != nil {
			return
		}
		select {
		case <-a.rightsChanged:
		case <-ctx.Done():
			return
		}
	}
}

// answerRequests puts the supporter's requests for control to the
// customer; only a yes grants it.
func (a *agent) answerRequests(ctx context.Context, link *agentlink.Link, who string) {
	for {
		select {
		case r := <-link.Requests():
			if r.Right != agentlink.RightControl || a.rights.Control() {
				continue
			}
			asker := r.Supporter.Label(who)
			if !r.Supporter.Known() {
				asker = who
			}
			if a.ask(ctx, EvPrompt{Question: fmt.Sprintf("%s asks to control your mouse and keyboard. Allow? (F12 takes control back)", capitalize(asker)), Who: asker, Control: true}, consentTimeout) {
				if a.rights.SetControl(true) {
					a.event(ctx, a.rights.Event())
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// capitalize starts a sentence with an upper-case letter ("an
// unidentified viewer" → "An unidentified viewer").
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// brokerError says what went wrong with the broker in the customer's
// words, keeping the cause for the log.
func brokerError(err error) error {
	var refused *agentlink.RefusedError
	switch {
	case errors.As(err, &refused):
		return fmt.Errorf("the broker refused: %s", refused.Reason)
	case errors.Is(err, agentlink.ErrFingerprint):
		return fmt.Errorf("the broker is not the one this agent was made for (certificate mismatch): %w", err)
	case errors.Is(err, agentlink.ErrClosed):
		return errors.New("the connection to the broker was lost")
	}
	return fmt.Errorf("cannot reach the broker: %w", err)
}

// serveDirect serves RFB on the listen address as a plain VNC server
// does, with the password and the customer's consent for each viewer. It
// runs until ctx ends; viewers come and go.
func (a *agent) serveDirect(ctx context.Context) error {
	a.event(ctx, EvState{StateConnecting, "Opening " + a.cfg.Listen + "."})
	l, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen: %w", err)
	}
	defer l.Close()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	a.event(ctx, EvState{StateWaiting, "Listening on " + l.Addr().String() + "; a viewer needs the password."})
	var wg sync.WaitGroup
	defer wg.Wait()
	th := &throttle{}
	for {
		c, err := rfb.Accept(ctx, l)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("cannot accept viewers: %w", err)
		}
		wg.Go(func() { a.serveDirectConn(ctx, c, th) })
	}
}

// Direct mode's handshake limits.
const (
	directHandshake = 10 * time.Second
	failureDelay    = time.Second
	maxFailureDelay = time.Minute
)

// throttle slows down password guessing in direct mode: after a wrong
// password every viewer waits, twice as long after each failure.
type throttle struct {
	mu    sync.Mutex
	delay time.Duration
	until time.Time
}

func (t *throttle) wait(ctx context.Context) {
	t.mu.Lock()
	d := time.Until(t.until)
	t.mu.Unlock()
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

func (t *throttle) fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.delay = min(max(2*t.delay, failureDelay), maxFailureDelay)
	t.until = time.Now().Add(t.delay)
}

func (t *throttle) ok() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.delay = 0
}

// serveDirectConn checks one viewer's password, asks the customer, and
// serves it. Consent comes after authentication, so that a stranger
// without the password cannot make the customer's screen ask questions.
func (a *agent) serveDirectConn(ctx context.Context, c net.Conn, th *throttle) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	remote := c.RemoteAddr().String()
	c.SetDeadline(time.Now().Add(directHandshake))
	hs, err := rfb.AcceptSecurity(c, rfb.SecurityConfig{Types: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		a.log.Info("winvnc: viewer handshake failed", "remote", remote, "err", err)
		return
	}
	th.wait(ctx)
	if !hs.CheckVNCAuth(a.password) {
		th.fail()
		a.log.Warn("winvnc: wrong password", "remote", remote)
		a.event(ctx, EvMessage{"A viewer at " + remote + " gave a wrong password."})
		hs.Refuse("authentication failed")
		return
	}
	th.ok()
	c.SetDeadline(time.Time{})
	a.event(ctx, EvState{StateAsking, remote + " wants to see your screen."})
	if !a.ask(ctx, EvPrompt{Question: fmt.Sprintf("Allow %s to see your screen?", remote), Who: remote}, consentTimeout) {
		a.log.Info("winvnc: customer declined", "remote", remote)
		hs.Refuse("the customer declined")
		a.event(ctx, EvState{StateWaiting, "You declined " + remote + "."})
		return
	}
	if err := hs.Accept(); err != nil {
		return
	}
	a.log.Info("winvnc: session starts", "remote", remote)
	a.event(ctx, EvState{StateSharing, remote + ` sees your screen. Type "control on" to let them control it, "end" to stop.`})
	err = a.serveViewer(ctx, remote, func(id int64) error {
		srv, done := a.viewerServer(id)
		defer done()
		return srv.ServeAuthenticated(ctx, hs.Conn, hs.Version)
	})
	a.rights.ReleaseAll()
	a.log.Info("winvnc: session ended", "remote", remote, "err", err)
	if ctx.Err() == nil {
		if _, other, n := a.newestViewer(); n > 0 {
			a.event(ctx, EvState{StateSharing, fmt.Sprintf("%s disconnected; %s still sees your screen.", remote, other)})
		} else {
			a.event(ctx, EvState{StateWaiting, remote + " disconnected. Listening for viewers."})
		}
	}
}
