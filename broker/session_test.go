package broker

import (
	"testing"
	"time"

	"lifebuoy/rfb"
)

// The lifecycle as a table: every state × event, with the next state and
// the effects. A pair not listed is refused and changes nothing.
func TestTransitionTable(t *testing.T) {
	type key struct {
		st State
		ev event
	}
	type want struct {
		next State
		fx   effect
	}
	table := map[key]want{
		{StateIssued, evAgentPresented}: {StateWaiting, fxFreshTTL},
		{StateIssued, evViewerMatched}:  {StateViewerWaiting, fxNewWait},
		{StateIssued, evEnded}:          {StateEnded, 0},
		{StateIssued, evDeadline}:       {StateEnded, 0},

		{StateViewerWaiting, evAgentPresented}: {StateAsking, fxFreshTTL},
		{StateViewerWaiting, evViewerMatched}:  {StateViewerWaiting, fxNewWait},
		{StateViewerWaiting, evViewerLeft}:     {StateIssued, fxDropWait},
		{StateViewerWaiting, evWaitEnded}:      {StateEnded, 0},
		{StateViewerWaiting, evEnded}:          {StateEnded, 0},
		{StateViewerWaiting, evDeadline}:       {StateEnded, 0},

		{StateWaiting, evViewerMatched}: {StateAsking, 0},
		{StateWaiting, evEnded}:         {StateEnded, 0},
		{StateWaiting, evDeadline}:      {StateEnded, 0},

		{StateAsking, evViewerLeft}:   {StateAsking, fxAgentComing | fxDropWait},
		{StateAsking, evWaitEnded}:    {StateAsking, fxAgentComing | fxDropWait},
		{StateAsking, evRelayStarted}: {StateRelaying, fxDropKey | fxDropWait},
		{StateAsking, evEnded}:        {StateEnded, fxDropKey},

		{StateRelaying, evEnded}: {StateEnded, 0},
	}
	for st := StateIssued; st <= StateEnded; st++ {
		for ev := range numEvents {
			w, ok := table[key{st, ev}]
			if !ok {
				w = want{st, fxRefused}
			}
			next, fx := transition(st, ev)
			if next != w.next || fx != w.fx {
				t.Errorf("%v × %v = %v %b, want %v %b", st, ev, next, fx, w.next, w.fx)
			}
		}
	}
}

// step applies the table to a session: its expiry, its viewer's waits
// (each told once, with why when the code ended under it) and its key.
func TestStepEffects(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	ttl := 10 * time.Minute
	s := &session{key: rfb.NewVNCAuthKey("123456"), state: StateIssued, expires: t0.Add(ttl)}
	s.step(evViewerMatched, t0, ttl, "")
	first := s.wait
	if s.state != StateViewerWaiting || first == nil || !first.expires.Equal(t0.Add(ttl)) {
		t.Fatalf("after a viewer: %v %+v", s.state, first)
	}
	s.step(evViewerMatched, t0, ttl, "")
	select {
	case <-first.superseded:
	default:
		t.Fatal("the older wait was not told it was superseded")
	}
	second := s.wait
	s.step(evEnded, t0, ttl, "ended by anna")
	if s.state != StateEnded || s.wait != nil || second.ended != "ended by anna" {
		t.Fatalf("ended: %v %v %q", s.state, s.wait, second.ended)
	}
	if fx := s.step(evViewerMatched, t0, ttl, ""); fx != fxRefused {
		t.Fatal("an ended session took a viewer")
	}

	// Viewer first, then the agent: fresh time to live, the wait kept
	// for the viewer, which then gets the agent even if its wait ends.
	s = &session{key: rfb.NewVNCAuthKey("123456"), state: StateIssued, expires: t0.Add(ttl)}
	s.step(evViewerMatched, t0, ttl, "")
	w := s.wait
	s.agent = &agentConn{}
	s.step(evAgentPresented, t0.Add(time.Minute), ttl, "")
	if s.state != StateAsking || s.wait != w || !s.expires.Equal(t0.Add(time.Minute+ttl)) {
		t.Fatalf("agent came: %v %v %v", s.state, s.wait == w, s.expires)
	}
	if fx := s.step(evWaitEnded, t0, ttl, ""); fx&fxAgentComing == 0 || s.wait != nil {
		t.Fatalf("a wait ending after its agent came: %b", fx)
	}
	s.step(evRelayStarted, t0, ttl, "")
	if s.state != StateRelaying || s.key != nil {
		t.Fatalf("relaying: %v, key kept %v", s.state, s.key != nil)
	}
	if s.expired(t0.Add(24 * time.Hour)) {
		t.Fatal("a relaying session expired")
	}
}

// Random event orders: step never panics (a wait is closed at most once),
// ended is final, relaying comes only from asking, a waiting viewer has
// its wait, a superseded wait is told, and a spent code's key is gone.
func FuzzStep(f *testing.F) {
	f.Add(false, []byte{1, 0, 4, 5})
	f.Add(true, []byte{1, 4, 5})
	f.Add(false, []byte{1, 1, 2, 1, 3})
	f.Add(false, []byte{1, 0, 3, 2, 4, 6, 5})
	f.Fuzz(func(t *testing.T, customerFirst bool, evs []byte) {
		if len(evs) > 256 {
			evs = evs[:256]
		}
		t0 := time.Unix(1_000_000, 0)
		s := &session{key: rfb.NewVNCAuthKey("123456"), state: StateIssued, expires: t0.Add(time.Minute)}
		if customerFirst {
			s.state, s.agent = StateWaiting, &agentConn{}
		}
		for i, b := range evs {
			ev := event(b % uint8(numEvents))
			before, prev := s.state, s.wait
			if ev == evAgentPresented && s.agent == nil {
				s.agent = &agentConn{} // what Attach does on success
			}
			fx := s.step(ev, t0.Add(time.Duration(i)*time.Second), time.Minute, "why")
			if fx&fxNewWait != 0 && prev != nil {
				select {
				case <-prev.superseded:
				default:
					t.Fatal("a superseded wait was not told")
				}
			}
			switch {
			case before == StateEnded && fx != fxRefused:
				t.Fatalf("ended session took %v", ev)
			case s.state == StateRelaying && before != StateRelaying && before != StateAsking:
				t.Fatalf("%v → relaying", before)
			case s.state == StateViewerWaiting && s.wait == nil:
				t.Fatal("viewer-waiting without a wait")
			case s.wait != nil && s.state != StateViewerWaiting && s.state != StateAsking:
				t.Fatalf("a wait kept in %v", s.state)
			case (s.state == StateRelaying || before == StateAsking && s.state == StateEnded) && s.key != nil:
				t.Fatalf("key kept in %v", s.state)
			}
		}
	})
}
