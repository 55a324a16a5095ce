package broker

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
)

// Errors of Codes, which callers report to the user.
var (
	ErrNoCode      = errors.New("no such code, or it expired")
	ErrCodeInUse   = errors.New("the code is already in use")
	ErrCodeSpace   = errors.New("no free codes")
	ErrBadCodeForm = errors.New("a code is made of digits")
)

// Codes holds the live session codes. It is safe for concurrent use.
type Codes struct {
	digits int
	ttl    time.Duration
	now    func() time.Time

	mu       sync.Mutex
	live     map[string]*session
	connIDs  map[string]string // session or files ID → code, for the connections sessions wait for (session.conns)
	onChange func()            // called after a change, under mu; must not block

	// In a cluster (cluster.go): claim makes a new code this node's in
	// the cluster's directory (errClaimTaken when another node holds
	// it), called without mu; unclaim gives a code up once it paired or
	// ended, called under mu, so it must not block.
	claim   func(code string, expires time.Time, a *agentConn) error
	unclaim func(code string)
}

// deskInfo is what the supporter's console lists of a code beyond its
// state. It changes under Codes.mu.
type deskInfo struct {
	issuedBy  Supporter // supporter first: who asked for the code
	supporter Supporter // who redeemed it
	flow      string
	since     time.Time // issued, registered, or the session's start
	viewer    string
	front     string
	sessionID string

	rightsKnown, control, files bool

	// While relaying: the session's byte counts, its end, its data
	// connection (for the control messages it carries), and the agent as
	// the console shows it (its link is closed by then).
	toViewer, toAgent *atomic.Int64
	end               func(reason string)
	mux               *agentlink.Mux

	customer, customerAddr, agentPath string
	agentFiles                        bool // the agent serves files connections (files.go)
}

// viewerWait is a viewer's wait for the agent of an issued code.
type viewerWait struct {
	agent      chan *agentConn // gets the agent once it has its Welcome
	superseded chan struct{}   // closed when a newer viewer takes over, or the code is ended
	ended      string          // why, when the code was ended (set before superseded closes)
	expires    time.Time       // the code's expiry: the wait's end
}

func newViewerWait(expires time.Time) *viewerWait {
	return &viewerWait{agent: make(chan *agentConn, 1), superseded: make(chan struct{}), expires: expires}
}

// NewCodes returns a set of codes with digits digits (no leading zero)
// that expire after ttl unless paired. now is the clock (time.Now if nil).
func NewCodes(digits int, ttl time.Duration, now func() time.Time) *Codes {
	if now == nil {
		now = time.Now
	}
	return &Codes{digits: digits, ttl: ttl, now: now, live: map[string]*session{}, connIDs: map[string]string{}}
}

// Issue makes a new code, unique among the live ones. With a nil agent it
// is a supporter-first code (issued, waiting for an agent to present it);
// else the agent holds it and waits for a viewer.
func (c *Codes) Issue(a *agentConn) (code string, expires time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range maxClaims {
		if code, err = c.pickLocked(); err != nil {
			return "", time.Time{}, err
		}
		expires = c.now().Add(c.ttl)
		if c.claim != nil {
			// In a cluster the code must be free on every node: the
			// claim goes to the database, without the table's lock.
			c.mu.Unlock()
			err = c.claim(code, expires, a)
			c.mu.Lock()
			if errors.Is(err, errClaimTaken) {
				continue
			}
			if err != nil {
				return "", time.Time{}, err
			}
			if _, taken := c.live[code]; taken {
				continue
			}
		}
		e := &session{key: rfb.NewVNCAuthKey(code), state: StateWaiting, expires: expires, agent: a}
		if a == nil {
			e.state = StateIssued
		}
		c.live[code] = e
		c.changedLocked()
		return code, e.expires, nil
	}
	return "", time.Time{}, ErrCodeSpace
}

// maxClaims bounds the codes Issue tries in a cluster whose other nodes
// hold the ones it picked.
const maxClaims = 64

// errClaimTaken: another node holds the code (Codes.claim).
var errClaimTaken = errors.New("the code is held by another node")

// pickLocked picks a random code that is not live here.
func (c *Codes) pickLocked() (string, error) {
	c.sweepLocked()
	lo := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.digits-1)), nil)
	span := new(big.Int).Sub(new(big.Int).Mul(lo, big.NewInt(10)), lo)
	if int64(len(c.live))*2 > span.Int64() {
		return "", ErrCodeSpace
	}
	for {
		n, err := rand.Int(rand.Reader, span)
		if err != nil {
			return "", err
		}
		code := n.Add(n, lo).String()
		if _, taken := c.live[code]; !taken {
			return code, nil
		}
	}
}

// changedLocked tells the watcher that the list of codes changed.
func (c *Codes) changedLocked() {
	if c.onChange != nil {
		c.onChange()
	}
}

// update changes a live code's entry under the lock.
func (c *Codes) update(code string, f func(*session)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.live[code]; e != nil {
		f(e)
		c.changedLocked()
	}
}

// deskOf is what the console lists of a live code beyond its state.
func (c *Codes) deskOf(code string) (deskInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.live[code]
	if e == nil {
		return deskInfo{}, false
	}
	return deskInfo{issuedBy: e.desk.issuedBy, flow: e.desk.flow, since: e.desk.since, front: e.desk.front}, true
}

// Attach gives an issued code to the agent that presented it; the code
// then waits for a viewer, with a fresh time to live. If a viewer already
// waits for it, the code is paired at once and that viewer's wait is
// returned: the caller hands it the agent (w.agent <- a) once the agent
// has had its Welcome.
func (c *Codes) Attach(code string, a *agentConn) (expires time.Time, w *viewerWait, err error) {
	code = NormalizeCode(code)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookupLocked(code)
	if e == nil {
		return time.Time{}, nil, ErrNoCode
	}
	if c.stepLocked(code, e, evAgentPresented, "") == fxRefused {
		return time.Time{}, nil, ErrCodeInUse
	}
	e.agent = a
	return e.expires, e.wait, nil
}

// Adopt makes code, which agent a held on another node of the cluster
// (cluster.Directory.Reclaim), a code of this table: a holds it and
// waits for a viewer until expires.
func (c *Codes) Adopt(code string, expires time.Time, a *agentConn) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.lookupLocked(code); e != nil {
		return ErrCodeInUse
	}
	c.live[code] = &session{key: rfb.NewVNCAuthKey(code), state: StateWaiting, expires: expires, agent: a}
	c.changedLocked()
	return nil
}

// Lookup reports a live code's state (StateEnded and false for none). It
// changes nothing: a code past its time is reported ended, and left for
// Expire or the next change to the table to void.
func (c *Codes) Lookup(code string) (State, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.live[NormalizeCode(code)]
	if e == nil || e.expired(c.now()) {
		return StateEnded, false
	}
	return e.state, true
}

// Spend pairs a code with a viewer. A code whose agent waits is used up
// and its agent returned. An issued code whose agent has not come yet
// returns a wait instead (see viewerWait), which supersedes an older
// viewer's wait for the same code.
func (c *Codes) Spend(code string) (*agentConn, *viewerWait, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookupLocked(NormalizeCode(code))
	if e == nil {
		return nil, nil, ErrNoCode
	}
	return c.spendLocked(NormalizeCode(code), e)
}

func (c *Codes) spendLocked(code string, e *session) (*agentConn, *viewerWait, error) {
	fx := c.stepLocked(code, e, evViewerMatched, "")
	if fx == fxRefused {
		return nil, nil, ErrNoCode
	}
	if fx&fxNewWait != 0 {
		return nil, e.wait, nil
	}
	return e.agent, nil, nil
}

// SpendVNCAuth finds the code whose VNC Authentication response to
// challenge is response, and spends it as Spend does. Every live code is
// tried, so the time taken does not tell which one matched; each code
// keeps its DES key schedule, so a try is two block encryptions.
func (c *Codes) SpendVNCAuth(challenge, response []byte) (string, *agentConn, *viewerWait, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var code string
	var found *session
	for k, e := range c.live {
		if !e.state.unpaired() || e.expired(now) {
			continue
		}
		if e.key.Matches(challenge, response) && found == nil {
			code, found = k, e
		}
	}
	if found == nil {
		return "", nil, nil, ErrNoCode
	}
	a, w, err := c.spendLocked(code, found)
	return code, a, w, err
}

// ViewerLeft ends viewer wait w for code when its viewer goes before the
// agent came: if w still holds the code, it is issued again (the
// supporter may try again). It reports whether the agent came after all
// (w.agent will get it).
func (c *Codes) ViewerLeft(code string, w *viewerWait) (agentComing bool) {
	return c.endWait(code, w, evViewerLeft)
}

// WaitTimedOut ends viewer wait w for code when it ran out (or its
// context ended): if w still holds the code, the code is void. It
// reports whether the agent came after all (w.agent will get it).
func (c *Codes) WaitTimedOut(code string, w *viewerWait) (agentComing bool) {
	return c.endWait(code, w, evWaitEnded)
}

func (c *Codes) endWait(code string, w *viewerWait, ev event) (agentComing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.live[code]
	if e == nil || e.wait != w {
		return false
	}
	fx := c.stepLocked(code, e, ev, "")
	return fx&fxAgentComing != 0
}

// StartRelay moves a code's session on to relaying: the agent's data
// connection came. A relaying session has no use for its code's key, so
// the entry lets go of it, and of its memory.
func (c *Codes) StartRelay(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.live[code]; e != nil {
		c.stepLocked(code, e, evRelayStarted, "")
	}
}

// End voids a code: its session ended, or its agent left.
func (c *Codes) End(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.live[code]; e != nil {
		c.stepLocked(code, e, evEnded, "")
	}
}

// EndHeldBy voids code when agent a's link ends while a holds it: the
// code waits for a viewer or its customer is asked. Once the session
// relays, its relay ends it.
func (c *Codes) EndHeldBy(code string, a *agentConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.live[code]; e != nil && e.agent == a && e.state != StateRelaying {
		c.stepLocked(code, e, evEnded, "")
	}
}

// asking notes that code's customer is asked about session sessionID: the
// agent's Decline for it goes to decline (declined), and its Rights are
// the session's (the desk's view).
func (c *Codes) asking(code, sessionID string, decline chan string) {
	c.update(code, func(e *session) { e.desk.sessionID, e.decline = sessionID, decline })
}

// asked ends asking's wait for a Decline on decline.
func (c *Codes) asked(code string, decline chan string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.live[code]; e != nil && e.decline == decline {
		e.decline = nil
	}
}

// declined delivers the customer's refusal of session sessionID of code
// to whoever waits for the answer (asking); one for another session, or
// when nobody waits, is dropped.
func (c *Codes) declined(code, sessionID, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.live[code]; e != nil && e.decline != nil && e.desk.sessionID == sessionID {
		select {
		case e.decline <- reason:
		default:
		}
	}
}

// stepLocked delivers ev to code's session e and keeps the table in step:
// an ended session leaves it, and watchers hear of any change.
func (c *Codes) stepLocked(code string, e *session, ev event, why string) effect {
	before := e.state
	fx := e.step(ev, c.now(), c.ttl, why)
	if fx == fxRefused {
		return fx
	}
	if c.unclaim != nil && before.unpaired() && !e.state.unpaired() {
		c.unclaim(code)
	}
	if e.state == StateEnded {
		delete(c.live, code)
		for id := range e.conns {
			delete(c.connIDs, id)
		}
		e.conns = nil
	}
	c.changedLocked()
	return fx
}

// expectConn makes code's session wait for one of its agent's
// connections, which will say id and token (a data connection's session
// ID, a files connection's ID). It reports false if the code has no live
// session. The waiter calls forgetConn when its wait is over.
func (c *Codes) expectConn(code, id, token string) (*connWait, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.live[code]
	if e == nil {
		return nil, false
	}
	w := &connWait{token: token, conn: make(chan net.Conn, 1)}
	if e.conns == nil {
		e.conns = map[string]*connWait{}
	}
	e.conns[id] = w
	c.connIDs[id] = code
	return w, true
}

// forgetConn ends expectConn's wait w for id, and closes a connection
// that came too late for the waiter to take.
func (c *Codes) forgetConn(id string, w *connWait) {
	c.mu.Lock()
	if code, ok := c.connIDs[id]; ok {
		if e := c.live[code]; e != nil && e.conns[id] == w {
			delete(e.conns, id)
		}
		delete(c.connIDs, id)
	}
	c.mu.Unlock()
	select {
	case conn := <-w.conn:
		conn.Close()
	default:
	}
}

// deliverConn hands an agent's connection that said id and token to the
// session that waits for it, and reports whether one did.
func (c *Codes) deliverConn(id, token string, conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.live[c.connIDs[id]]
	if e == nil {
		return false
	}
	w := e.conns[id]
	if w == nil || subtle.ConstantTimeCompare([]byte(w.token), []byte(token)) != 1 {
		return false
	}
	delete(e.conns, id)
	delete(c.connIDs, id)
	w.conn <- conn // buffered: the one connection for this wait
	return true
}

// endTarget finds what EndSession must end: a running session (end, and
// mux to tell its agent), an agent that waits or asks (a), or else a code
// without an agent, whose waiting viewer, if any, is sent away with
// reason. st is StateEnded for no live code.
func (c *Codes) endTarget(code, reason string) (st State, a *agentConn, mux *agentlink.Mux, end func(string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookupLocked(NormalizeCode(code))
	if e == nil {
		return StateEnded, nil, nil, nil
	}
	st, a, mux, end = e.state, e.agent, e.desk.mux, e.desk.end
	if a == nil && end == nil {
		// Nobody else to end it: a code without an agent, whose
		// waiting viewer, if any, is told why.
		c.stepLocked(NormalizeCode(code), e, evEnded, reason)
	}
	return st, a, mux, end
}

// requestTarget finds the data connection and session of a running
// session.
func (c *Codes) requestTarget(code string) (State, *agentlink.Mux, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookupLocked(NormalizeCode(code))
	if e == nil {
		return StateEnded, nil, ""
	}
	return e.state, e.desk.mux, e.desk.sessionID
}

// sessions lists the live codes for the desk, oldest first.
func (c *Codes) sessions() []SessionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked()
	out := make([]SessionInfo, 0, len(c.live))
	for code, e := range c.live {
		d := &e.desk
		si := SessionInfo{Code: code, State: e.state.deskName(), Flow: d.flow, Supporter: d.supporter,
			Viewer: d.viewer, Path: d.front, Since: d.since, RightsKnown: d.rightsKnown,
			Control: d.control, Files: d.files}
		if !si.Supporter.Known() {
			si.Supporter = d.issuedBy
		}
		if e.state.unpaired() {
			si.Expires = e.expires
		}
		si.Customer, si.CustomerAddr, si.AgentPath = d.customer, d.customerAddr, d.agentPath
		if a := e.agent; a != nil {
			si.Customer, si.CustomerAddr, si.AgentPath = a.name, a.remote, a.path
		}
		if d.toViewer != nil {
			si.BytesToViewer, si.BytesToAgent = d.toViewer.Load(), d.toAgent.Load()
		}
		out = append(out, si)
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return a.Since.Compare(b.Since) })
	return out
}

// deskName is the state as the console shows it.
func (s State) deskName() string {
	if s == StateAsking {
		return "asking"
	}
	return s.String()
}

// Expire voids code if it is still unpaired and its time is up, and
// reports whether it did.
func (c *Codes) Expire(code string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.live[code]
	if e == nil || !e.expired(c.now()) {
		return false
	}
	c.stepLocked(code, e, evDeadline, errNoAgent.Error())
	return true
}

// Len is the number of live codes (expired ones not counted).
func (c *Codes) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked()
	return len(c.live)
}

// Counts is the number of live codes in each state.
func (c *Codes) Counts() map[State]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked()
	m := map[State]int{}
	for _, e := range c.live {
		m[e.state]++
	}
	return m
}

func (c *Codes) lookupLocked(code string) *session {
	e := c.live[code]
	if e == nil {
		return nil
	}
	if e.expired(c.now()) {
		c.stepLocked(code, e, evDeadline, errNoAgent.Error())
		return nil
	}
	return e
}

// sweepLocked voids the codes whose time is up.
func (c *Codes) sweepLocked() {
	now := c.now()
	for k, e := range c.live {
		if e.expired(now) {
			c.stepLocked(k, e, evDeadline, errNoAgent.Error())
		}
	}
}

// NormalizeCode strips the spaces and dashes people type into a code.
func NormalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
}

// ValidCode reports whether s looks like a code of the given length.
func ValidCode(s string, digits int) bool {
	if len(s) != digits || s[0] == '0' {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// GroupCode shows a code in groups of three: "482 913".
func GroupCode(code string) string {
	var b strings.Builder
	for i := range len(code) {
		if i > 0 && (len(code)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(code[i])
	}
	return b.String()
}
