package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"lifebuoy/broker/agentlink"
)

// Supporter names whoever issues or redeems a code: Account (the desk's
// login name, "" for an unidentified viewer), Name ("Anna Berger") and
// Team ("Acme Support").
type Supporter = agentlink.Supporter

// Desk is the supporter's desk (package viewer) as the broker sees it.
type Desk interface {
	// Handler serves everything on the HTTPS front but /rfb and /agent:
	// the console, the REST API, agent downloads. Unknown paths: 404.
	Handler() http.Handler
	// Identify names the supporter behind a request to /rfb (the
	// console's session cookie, or "Authorization: Bearer <API token>"
	// from the bridge); ok is false for an anonymous viewer.
	Identify(r *http.Request) (s Supporter, ok bool)
}

// DeskMetrics is a desk that adds its counters to /metrics.
type DeskMetrics interface {
	WriteMetrics(w io.Writer)
}

// writeDeskProm writes the desk's counters, if it has any.
func (b *Broker) writeDeskProm(w io.Writer) {
	if d := b.desk.Load(); d != nil {
		if m, ok := (*d).(DeskMetrics); ok {
			m.WriteMetrics(w)
		}
	}
}

// SetDesk mounts the supporter's desk on the HTTPS front. Call it before
// Serve.
func (b *Broker) SetDesk(d Desk) { b.desk.Store(&d) }

// SetAuditSink sends every audit record to h as well as to the audit
// log file (the desk stores them to search them).
func (b *Broker) SetAuditSink(h slog.Handler) { b.auditTo.sink.Store(&h) }

// SessionInfo is one live code as the supporter's console lists it: a
// code waiting for its customer or supporter, or a running session.
type SessionInfo struct {
	Code  string
	State string // "issued", "viewer-waiting", "waiting", "asking", "relaying"
	Flow  string // "customer-first" or "supporter-first"
	// Supporter redeemed the code (or, before that, issued it).
	Supporter    Supporter
	Customer     string // the agent's name (user@host)
	CustomerAddr string
	Viewer       string // the viewer's address
	Path         string // how the viewer came: "5511", "5514", "wss"
	AgentPath    string // how the agent came: "tls", "wss", "alpn"
	Since        time.Time
	Expires      time.Time // for a code not yet paired
	// The customer's rights, as the agent reports them (RightsKnown).
	RightsKnown, Control, Files bool
	BytesToViewer, BytesToAgent int64
	// Node is the cluster node that holds a code waiting there ("" for
	// this node's): the console lists every node's waiting customers,
	// and a viewer for one is forwarded to its node.
	Node string
}

// Errors of the desk API, for the console to show.
var (
	ErrNoSession   = errors.New("no such code or session")
	ErrNotRelaying = errors.New("the session has not started")
	ErrNoLink      = errors.New("the customer's agent cannot be reached for requests")
	// ErrNodeUnreachable: the cluster node that holds the code or session
	// could not be asked.
	ErrNodeUnreachable = errors.New("the session's broker node cannot be reached")
)

// IssueCode makes a supporter-first code for by. A supporter may issue
// mintRate codes a minute (ErrTooManyCodes).
func (b *Broker) IssueCode(by Supporter) (string, time.Time, error) {
	return b.issue(by, "account "+by.Account)
}

// issue makes a supporter-first code, bounded per caller.
func (b *Broker) issue(by Supporter, caller string) (string, time.Time, error) {
	if wait, ok := b.mint.take(caller, time.Now()); !ok {
		return "", time.Time{}, &ErrTooManyCodes{Wait: wait}
	}
	code, exp, err := b.codes.Issue(nil)
	if err != nil {
		return "", time.Time{}, err
	}
	b.codes.update(code, func(e *session) {
		e.desk.issuedBy, e.desk.flow, e.desk.since = by, flowSupporterFirst, time.Now()
	})
	b.audit.Info("code issued", "code", code, "flow", flowSupporterFirst, "supporter", by.Account, "by", caller, "expires", exp)
	if b.cluster != nil {
		// The other nodes' consoles list it with its supporter; the
		// code works without.
		if err := b.describe(context.Background(), code, nil); err != nil {
			b.log.Warn("cluster: describe", "code", code, "err", err)
		}
	}
	return code, exp, nil
}

// Sessions lists the live codes and running sessions, oldest first; in
// a cluster also the codes that wait on the other live nodes (their Node
// is set).
func (b *Broker) Sessions() []SessionInfo {
	local := b.codes.sessions()
	if b.cluster == nil {
		return local
	}
	return b.clusterSessions(local)
}

// EndSession ends a running session or voids a code that waits, on by's
// word; reason is told to the customer and the audit.
//
// In a cluster, a code or session of another node is ended there, as its
// own console would (endAtHome); ErrNodeUnreachable if that node cannot
// be asked.
func (b *Broker) EndSession(code string, by Supporter, reason string) error {
	if reason == "" {
		reason = "ended by " + by.Label("the broker")
	}
	err := b.endHere(code, by, reason, "")
	if err == ErrNoSession && b.cluster != nil {
		return b.endAtHome(code, by, reason)
	}
	return err
}

// endHere ends a code or session of this node for by; from is the node
// whose console asked ("" for this node's own).
func (b *Broker) endHere(code string, by Supporter, reason, from string) error {
	st, a, mux, end := b.codes.endTarget(code, reason)
	if st == StateEnded {
		return ErrNoSession
	}
	attrs := []any{"code", code, "supporter", by.Account, "state", st.String(), "reason", reason}
	if from != "" {
		attrs = append(attrs, "from", from)
	}
	b.audit.Info("session ended by supporter", attrs...)
	switch {
	case end != nil:
		if mux != nil {
			mux.WriteControl(&agentlink.End{Reason: reason}) // before the data connection closes
		}
		end(reason)
	case a != nil:
		a.finish(&agentlink.End{Reason: reason})
	default:
		b.codes.End(code)
	}
	return nil
}

// RequestControl asks the customer of a running session to grant by
// remote control; the customer decides in the agent. In a cluster, a
// session this node forwards is asked of its home node (requestAtHome).
func (b *Broker) RequestControl(code string, by Supporter) error {
	err := b.requestHere(code, by, "")
	if err == ErrNoSession && b.cluster != nil {
		return b.requestAtHome(code, by)
	}
	return err
}

// requestHere asks the customer of a running session of this node for
// control for by; from is the node whose console asked ("" for this
// node's own).
func (b *Broker) requestHere(code string, by Supporter, from string) error {
	st, mux, id := b.codes.requestTarget(code)
	switch {
	case st == StateEnded:
		return ErrNoSession
	case st != StateRelaying || mux == nil:
		return ErrNotRelaying
	}
	if err := mux.WriteControl(&agentlink.Request{SessionID: id, Right: agentlink.RightControl, Supporter: by}); err != nil {
		return ErrNoLink
	}
	attrs := []any{"code", code, "session", id, "supporter", by.Account}
	if from != "" {
		attrs = append(attrs, "from", from)
	}
	b.audit.Info("control requested", attrs...)
	return nil
}

// Subscribe returns a channel that gets a value (coalesced) whenever the
// list of Sessions may have changed, and the function that stops it.
func (b *Broker) Subscribe() (changed <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	b.watchers.add(ch)
	return ch, func() { b.watchers.remove(ch) }
}

// watchers is the set of Subscribe channels.
type watchers struct {
	mu  sync.Mutex
	chs map[chan struct{}]struct{}
}

func (w *watchers) add(ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.chs == nil {
		w.chs = map[chan struct{}]struct{}{}
	}
	w.chs[ch] = struct{}{}
}

func (w *watchers) remove(ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.chs, ch)
}

// notify tells every watcher, never blocking.
func (w *watchers) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.chs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

const (
	flowCustomerFirst  = "customer-first"
	flowSupporterFirst = "supporter-first"
)
