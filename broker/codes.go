package broker

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
)

// State is where a code's session is in its life.
//
//	issued ──agent presents it──▶ waiting ──viewer pairs──▶ paired ──data──▶ relaying ──▶ closed
//	(supporter first)             (customer first starts here)    ▲
//	  │                                                            │
//	  └─viewer first──▶ viewer-waiting ──agent presents it──────────┘
//
// A code that is never paired expires; one that paired is spent, and void
// when its session ends. A viewer that comes with an issued code before
// its agent waits for the agent until the code expires; a newer viewer
// with the same code takes the wait over.
type State uint8

// Session states.
const (
	StateIssued        State = iota // supporter first: issued, no agent yet
	StateViewerWaiting              // issued, and a viewer waits for the agent
	StateWaiting                    // an agent holds it and waits for a viewer
	StatePaired                     // a viewer matched; the agent is opening its data connection
	StateRelaying                   // bytes flow
	StateClosed                     // ended; the code is void
)

func (s State) String() string {
	switch s {
	case StateIssued:
		return "issued"
	case StateViewerWaiting:
		return "viewer-waiting"
	case StateWaiting:
		return "waiting"
	case StatePaired:
		return "paired"
	case StateRelaying:
		return "relaying"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

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
	live     map[string]*codeEntry
	onChange func() // called after a change, under mu; must not block
}

type codeEntry struct {
	key     *rfb.VNCAuthKey // the code as a VNC password, for SpendVNCAuth
	state   State
	expires time.Time
	agent   *agentConn
	wait    *viewerWait // in StateViewerWaiting, and Paired from it
	desk    deskInfo
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
	return &Codes{digits: digits, ttl: ttl, now: now, live: map[string]*codeEntry{}}
}

// Issue makes a new code, unique among the live ones. With a nil agent it
// is a supporter-first code (issued, waiting for an agent to present it);
// else the agent holds it and waits for a viewer.
func (c *Codes) Issue(a *agentConn) (code string, expires time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked()
	lo := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.digits-1)), nil)
	span := new(big.Int).Sub(new(big.Int).Mul(lo, big.NewInt(10)), lo)
	if int64(len(c.live))*2 > span.Int64() {
		return "", time.Time{}, ErrCodeSpace
	}
	for {
		n, err := rand.Int(rand.Reader, span)
		if err != nil {
			return "", time.Time{}, err
		}
		code = n.Add(n, lo).String()
		if _, taken := c.live[code]; !taken {
			break
		}
	}
	e := &codeEntry{key: rfb.NewVNCAuthKey(code), state: StateWaiting, expires: c.now().Add(c.ttl), agent: a}
	if a == nil {
		e.state = StateIssued
	}
	c.live[code] = e
	c.changedLocked()
	return code, e.expires, nil
}

// changedLocked tells the watcher that the list of codes changed.
func (c *Codes) changedLocked() {
	if c.onChange != nil {
		c.onChange()
	}
}

// update changes a live code's entry under the lock.
func (c *Codes) update(code string, f func(*codeEntry)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.live[code]; e != nil {
		f(e)
		c.changedLocked()
	}
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
	switch e.state {
	case StateIssued:
		e.state, e.agent, e.expires = StateWaiting, a, c.now().Add(c.ttl)
		c.changedLocked()
		return e.expires, nil, nil
	case StateViewerWaiting:
		e.state, e.agent, e.expires = StatePaired, a, c.now().Add(c.ttl)
		c.changedLocked()
		return e.expires, e.wait, nil
	}
	return time.Time{}, nil, ErrCodeInUse
}

// Lookup reports a live code's state.
func (c *Codes) Lookup(code string) (State, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookupLocked(NormalizeCode(code))
	if e == nil {
		return StateClosed, false
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
	return c.spendLocked(e)
}

func (c *Codes) spendLocked(e *codeEntry) (*agentConn, *viewerWait, error) {
	defer c.changedLocked()
	switch e.state {
	case StateWaiting:
		e.state = StatePaired
		return e.agent, nil, nil
	case StateIssued, StateViewerWaiting:
		if e.wait != nil {
			close(e.wait.superseded)
		}
		e.state, e.wait = StateViewerWaiting, newViewerWait(e.expires)
		return nil, e.wait, nil
	}
	return nil, nil, ErrNoCode
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
	var found *codeEntry
	for k, e := range c.live {
		if e.state > StateWaiting || !now.Before(e.expires) {
			continue
		}
		if e.key.Matches(challenge, response) && found == nil {
			code, found = k, e
		}
	}
	if found == nil {
		return "", nil, nil, ErrNoCode
	}
	a, w, err := c.spendLocked(found)
	return code, a, w, err
}

// Abandon ends viewer wait w for code when it times out or its viewer
// goes. It reports whether the agent came after all (w.agent will get
// it). Else, if w still holds the code, the code is void, or with keep
// (the viewer left before its agent came: the supporter may try again)
// issued again.
func (c *Codes) Abandon(code string, w *viewerWait, keep bool) (agentComing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.live[code]
	if e == nil || e.wait != w {
		return false
	}
	if e.state == StatePaired {
		return true
	}
	defer c.changedLocked()
	if keep {
		e.state, e.wait = StateIssued, nil
		return false
	}
	delete(c.live, code)
	return false
}

// SetState moves a live code's session on (to relaying). A relaying
// session has no use for its agent's control link or its code's key, so
// the entry lets go of them, and of their memory.
func (c *Codes) SetState(code string, s State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.live[code]; e != nil {
		e.state = s
		if s >= StateRelaying {
			e.key = nil // a spent code is never tried again
		}
		c.changedLocked()
	}
}

// End voids a code: its session ended, or its agent left.
func (c *Codes) End(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.live[code]; ok {
		delete(c.live, code)
		c.changedLocked()
	}
}

// endTarget finds what EndSession must end: a running session (end, and
// mux to tell its agent), an agent that waits or asks (a), or else a code
// without an agent, whose waiting viewer, if any, is sent away with
// reason. st is StateClosed for no live code.
func (c *Codes) endTarget(code, reason string) (st State, a *agentConn, mux *agentlink.Mux, end func(string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookupLocked(NormalizeCode(code))
	if e == nil {
		return StateClosed, nil, nil, nil
	}
	if e.agent == nil && e.wait != nil {
		e.wait.ended = reason
		close(e.wait.superseded)
		e.wait = nil
	}
	return e.state, e.agent, e.desk.mux, e.desk.end
}

// requestTarget finds the data connection and session of a running
// session.
func (c *Codes) requestTarget(code string) (State, *agentlink.Mux, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookupLocked(NormalizeCode(code))
	if e == nil {
		return StateClosed, nil, ""
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
		if e.state <= StateWaiting {
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
	if s == StatePaired {
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
	if e == nil || e.state > StateWaiting || c.now().Before(e.expires) {
		return false
	}
	delete(c.live, code)
	c.changedLocked()
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

func (c *Codes) lookupLocked(code string) *codeEntry {
	e := c.live[code]
	if e == nil {
		return nil
	}
	if e.state <= StateWaiting && !c.now().Before(e.expires) {
		delete(c.live, code)
		c.changedLocked()
		return nil
	}
	return e
}

func (c *Codes) sweepLocked() {
	now := c.now()
	for k, e := range c.live {
		if e.state <= StateWaiting && !now.Before(e.expires) {
			delete(c.live, k)
			c.changedLocked()
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
