package broker

import (
	"fmt"
	"net"
	"time"

	"lifebuoy/rfb"
)

// A code's session and its lifecycle. Every change of a session's state
// goes through one function, step, under the code table's lock (Codes.mu):
// the fronts (5511, 5514, the HTTPS front's /rfb, the console) and the
// agent link only deliver events, from whatever goroutine they run on,
// and no goroutine waits on an idle session.
//
//	issued ──agent presents it──▶ waiting ──viewer matches──▶ asking ──data──▶ relaying ──▶ ended
//	(supporter first)             (customer first starts here)  ▲
//	  │  ▲                                                       │
//	  │  └─viewer left─┐                                         │
//	  └─viewer matches─▶ viewer-waiting ──agent presents it───────┘
//
// A code that is never paired expires (evDeadline, from the agent's
// expiry timer or from any look-up that finds it past its time); one that
// paired is spent, and void when its session ends. A viewer that comes
// with an issued code before its agent waits for the agent until the code
// expires; a newer viewer with the same code takes the wait over. An
// ended session leaves the table, so StateEnded is what a look-up of a
// void code reports.

// State is where a code's session is in its life.
type State uint8

// Session states.
const (
	StateIssued        State = iota // supporter first: issued, no agent yet
	StateViewerWaiting              // issued, and a viewer waits for the agent
	StateWaiting                    // an agent holds it and waits for a viewer
	StateAsking                     // a viewer matched; the customer is asked, the agent opens its data connection
	StateRelaying                   // bytes flow
	StateEnded                      // ended; the code is void
)

func (s State) String() string {
	switch s {
	case StateIssued:
		return "issued"
	case StateViewerWaiting:
		return "viewer-waiting"
	case StateWaiting:
		return "waiting"
	case StateAsking:
		return "asking"
	case StateRelaying:
		return "relaying"
	case StateEnded:
		return "ended"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// unpaired reports whether no viewer has been let in yet: the code can
// still be matched, and it expires.
func (s State) unpaired() bool {
	return s == StateIssued || s == StateViewerWaiting || s == StateWaiting
}

// event is one thing that happens to a code's session: the closed set
// that step takes.
type event uint8

const (
	evAgentPresented event = iota // an agent presents the issued code (supporter first)
	evViewerMatched               // a viewer matched the code (Spend, SpendVNCAuth)
	evViewerLeft                  // the viewer waiting for the agent left: the supporter may try again
	evWaitEnded                   // the viewer's wait for the agent ran out
	evRelayStarted                // the agent's data connection came: bytes flow
	evEnded                       // the session, its agent or an admin ended it
	evDeadline                    // the code's time to live is up (delivered only then)
	numEvents
)

func (e event) String() string {
	switch e {
	case evAgentPresented:
		return "agent-presented"
	case evViewerMatched:
		return "viewer-matched"
	case evViewerLeft:
		return "viewer-left"
	case evWaitEnded:
		return "wait-ended"
	case evRelayStarted:
		return "relay-started"
	case evEnded:
		return "ended"
	case evDeadline:
		return "deadline"
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// effect is what a transition asks the session to do beside changing its
// state; a set of flags.
type effect uint8

const (
	fxRefused     effect = 1 << iota // the event does not apply in this state: nothing changed
	fxFreshTTL                       // the code lives its full time to live from now
	fxNewWait                        // a viewer waits for the agent: a new wait, superseding an older one
	fxDropWait                       // the viewer's wait is over (its viewer has the agent or left)
	fxAgentComing                    // the waiting viewer gets the agent after all (its wait raced the agent)
	fxDropKey                        // a spent code is never tried again: let its key schedule go
)

// transition is the lifecycle as a pure function: the next state and the
// effects of ev in st. It is the table that step applies.
func transition(st State, ev event) (State, effect) {
	switch st {
	case StateIssued:
		switch ev {
		case evAgentPresented:
			return StateWaiting, fxFreshTTL
		case evViewerMatched:
			return StateViewerWaiting, fxNewWait
		case evEnded, evDeadline:
			return StateEnded, 0
		}
	case StateViewerWaiting:
		switch ev {
		case evAgentPresented:
			return StateAsking, fxFreshTTL
		case evViewerMatched:
			return StateViewerWaiting, fxNewWait
		case evViewerLeft:
			return StateIssued, fxDropWait
		case evWaitEnded, evEnded, evDeadline:
			return StateEnded, 0
		}
	case StateWaiting:
		switch ev {
		case evViewerMatched:
			return StateAsking, 0
		case evEnded, evDeadline:
			return StateEnded, 0
		}
	case StateAsking:
		switch ev {
		case evViewerLeft, evWaitEnded:
			// The agent came as the viewer's wait ended: the viewer
			// takes it.
			return StateAsking, fxAgentComing | fxDropWait
		case evRelayStarted:
			return StateRelaying, fxDropKey | fxDropWait
		case evEnded:
			return StateEnded, fxDropKey
		}
	case StateRelaying:
		if ev == evEnded {
			return StateEnded, 0
		}
	}
	return st, fxRefused
}

// session is one live code: its state, its expiry, the agent that holds
// it and the viewer that waits for one. Its fields change under Codes.mu,
// and state only in step.
type session struct {
	key     *rfb.VNCAuthKey // the code as a VNC password, for SpendVNCAuth
	state   State
	expires time.Time
	agent   *agentConn  // while it waits or asks; nil from relaying on (the relay holds the session)
	wait    *viewerWait // in StateViewerWaiting, and Asking from it
	decline chan string // while asking: the customer's refusal of desk.sessionID (Codes.declined)
	// The agent's connections the session waits for, by ID: its data
	// connection while asking, files connections while relaying
	// (Codes.expectConn). Dropped when the session ends.
	conns map[string]*connWait
	desk  deskInfo
}

// connWait is a wait for one connection from a session's agent, which
// must present token.
type connWait struct {
	token string
	conn  chan net.Conn // buffered 1
}

// step delivers ev to the session at now, with ttl the codes' time to
// live, and returns the effects it applied. It is the only writer of
// s.state. A wait that a newer one supersedes, or that the session's end
// takes away, is told (with why, for the end).
func (s *session) step(ev event, now time.Time, ttl time.Duration, why string) effect {
	next, fx := transition(s.state, ev)
	if fx&fxRefused != 0 {
		return fx
	}
	if fx&fxFreshTTL != 0 {
		s.expires = now.Add(ttl)
	}
	if fx&fxNewWait != 0 {
		if s.wait != nil {
			close(s.wait.superseded)
		}
		s.wait = newViewerWait(s.expires)
	}
	if next == StateEnded && s.wait != nil && s.agent == nil && ev != evWaitEnded {
		// Ended with a viewer waiting for an agent that never came:
		// it is told why.
		s.wait.ended = why
		close(s.wait.superseded)
	}
	if fx&fxDropWait != 0 || next == StateEnded {
		s.wait = nil
	}
	if fx&fxDropKey != 0 {
		s.key = nil
	}
	s.state = next
	return fx
}

// expired reports whether the session's time is up at now: it is
// unpaired and past its expiry.
func (s *session) expired(now time.Time) bool {
	return s.state.unpaired() && !now.Before(s.expires)
}
