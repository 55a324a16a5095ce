package broker

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"lifebuoy/rfb"
)

func TestCodesRangeAndUniqueness(t *testing.T) {
	c := NewCodes(6, time.Hour, nil)
	seen := map[string]bool{}
	for range 5000 {
		code, _, err := c.Issue(&agentConn{})
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(code)
		if err != nil || n < 100000 || n > 999999 || len(code) != 6 {
			t.Fatalf("code %q out of range", code)
		}
		if seen[code] {
			t.Fatalf("code %s issued twice while live", code)
		}
		seen[code] = true
	}
	if c.Len() != 5000 {
		t.Fatalf("Len = %d, want 5000", c.Len())
	}
}

func TestCodesSpace(t *testing.T) {
	c := NewCodes(4, time.Hour, nil) // 9000 codes; at most half are handed out
	var err error
	for i := 0; err == nil && i < 10000; i++ {
		_, _, err = c.Issue(nil)
	}
	if !errors.Is(err, ErrCodeSpace) {
		t.Fatalf("err = %v, want ErrCodeSpace", err)
	}
}

func TestCodesExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewCodes(6, 10*time.Minute, nil)
		code, exp, err := c.Issue(&agentConn{})
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Until(exp); got != 10*time.Minute {
			t.Fatalf("expires in %v, want 10m", got)
		}
		time.Sleep(10*time.Minute - time.Second)
		if st, ok := c.Lookup(code); !ok || st != StateWaiting {
			t.Fatalf("before expiry: %v %v", st, ok)
		}
		if c.Expire(code) {
			t.Fatal("Expire voided a code before its time")
		}
		time.Sleep(time.Second)
		if !c.Expire(code) {
			t.Fatal("Expire did not void an expired code")
		}
		if _, _, err := c.Spend(code); !errors.Is(err, ErrNoCode) {
			t.Fatalf("Spend after expiry: %v", err)
		}
		// An expired code is not found by VNC authentication either.
		code2, _, _ := c.Issue(&agentConn{})
		time.Sleep(11 * time.Minute)
		ch := make([]byte, 16)
		if _, _, _, err := c.SpendVNCAuth(ch, rfb.VNCAuthResponse(ch, code2)); !errors.Is(err, ErrNoCode) {
			t.Fatalf("SpendVNCAuth after expiry: %v", err)
		}
		if c.Len() != 0 {
			t.Fatalf("Len = %d after expiry", c.Len())
		}
	})
}

func TestCodesSingleUseAndVoid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewCodes(6, 10*time.Minute, nil)
		a := &agentConn{}
		code, _, _ := c.Issue(a)
		ch := []byte("0123456789abcdef")
		if _, _, _, err := c.SpendVNCAuth(ch, rfb.VNCAuthResponse(ch, "000000")); !errors.Is(err, ErrNoCode) {
			t.Fatalf("wrong code: %v", err)
		}
		got, ga, w, err := c.SpendVNCAuth(ch, rfb.VNCAuthResponse(ch, code))
		if err != nil || got != code || ga != a || w != nil {
			t.Fatalf("SpendVNCAuth = %q %p %v", got, ga, err)
		}
		if st, _ := c.Lookup(code); st != StateAsking {
			t.Fatalf("state %v, want paired", st)
		}
		if _, _, err := c.Spend(code); !errors.Is(err, ErrNoCode) {
			t.Fatalf("second use: %v", err)
		}
		// A paired code does not expire under its session.
		time.Sleep(time.Hour)
		if st, ok := c.Lookup(code); !ok || st != StateAsking {
			t.Fatalf("paired code after an hour: %v %v", st, ok)
		}
		c.StartRelay(code)
		c.End(code)
		if _, ok := c.Lookup(code); ok {
			t.Fatal("code still live after its session ended")
		}
	})
}

func TestCodesSupporterFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewCodes(6, 10*time.Minute, nil)
		code, _, _ := c.Issue(nil)
		if st, _ := c.Lookup(code); st != StateIssued {
			t.Fatalf("state %v, want issued", st)
		}
		time.Sleep(5 * time.Minute)
		a := &agentConn{}
		exp, w, err := c.Attach(GroupCode(code), a)
		if err != nil || w != nil {
			t.Fatal(err, w)
		}
		if time.Until(exp) != 10*time.Minute {
			t.Fatalf("attach did not renew the time to live: %v", time.Until(exp))
		}
		if _, _, err := c.Attach(code, &agentConn{}); !errors.Is(err, ErrCodeInUse) {
			t.Fatalf("second agent: %v", err)
		}
		if ga, w, err := c.Spend(code); err != nil || ga != a || w != nil {
			t.Fatalf("Spend: %p %v %v", ga, w, err)
		}
		// An issued code nobody presents expires.
		code2, _, _ := c.Issue(nil)
		time.Sleep(10 * time.Minute)
		if _, _, err := c.Attach(code2, a); !errors.Is(err, ErrNoCode) {
			t.Fatalf("attach after expiry: %v", err)
		}
	})
}

// TestCodesViewerFirst: a viewer with an issued code waits for its agent;
// a newer viewer takes the wait over; the agent is handed to the waiting
// viewer; a wait that times out voids the code.
func TestCodesViewerFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewCodes(6, 10*time.Minute, nil)
		code, exp, _ := c.Issue(nil)
		ga, w1, err := c.Spend(code)
		if err != nil || ga != nil || w1 == nil || !w1.expires.Equal(exp) {
			t.Fatalf("viewer first: %p %v %v", ga, w1, err)
		}
		if st, _ := c.Lookup(code); st != StateViewerWaiting {
			t.Fatalf("state %v, want viewer-waiting", st)
		}
		ch := []byte("0123456789abcdef")
		_, _, w2, err := c.SpendVNCAuth(ch, rfb.VNCAuthResponse(ch, code))
		if err != nil || w2 == nil || w2 == w1 {
			t.Fatalf("second viewer: %v %v", w2, err)
		}
		select {
		case <-w1.superseded:
		default:
			t.Fatal("the first viewer's wait was not superseded")
		}
		if c.WaitTimedOut(code, w1) {
			t.Fatal("a superseded wait saw an agent coming")
		}
		a := &agentConn{}
		_, w, err := c.Attach(code, a)
		if err != nil || w != w2 {
			t.Fatalf("Attach: %v %v", w, err)
		}
		if st, _ := c.Lookup(code); st != StateAsking {
			t.Fatalf("state %v, want paired", st)
		}
		if !c.WaitTimedOut(code, w2) {
			t.Fatal("a wait ending as its agent came did not see it coming")
		}
		if _, _, err := c.Spend(code); !errors.Is(err, ErrNoCode) {
			t.Fatalf("a third viewer got the paired code: %v", err)
		}

		// A viewer that leaves gives the code back; one that times out
		// voids it.
		code3, _, _ := c.Issue(nil)
		_, w3, _ := c.Spend(code3)
		if c.ViewerLeft(code3, w3) {
			t.Fatal("no agent came")
		}
		if st, ok := c.Lookup(code3); !ok || st != StateIssued {
			t.Fatalf("code after its viewer left: %v %v, want issued", st, ok)
		}
		_, w3, _ = c.Spend(code3)
		time.Sleep(5 * time.Minute)
		if c.WaitTimedOut(code3, w3) {
			t.Fatal("no agent came")
		}
		if _, ok := c.Lookup(code3); ok {
			t.Fatal("an abandoned code is still live")
		}
	})
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateIssued: "issued", StateViewerWaiting: "viewer-waiting", StateWaiting: "waiting", StateAsking: "asking",
		StateRelaying: "relaying", StateEnded: "ended", 9: "State(9)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", s, s.String(), want)
		}
	}
}

func TestGroupCode(t *testing.T) {
	for in, want := range map[string]string{"482913": "482 913", "1234": "1 234", "12345678": "12 345 678"} {
		if got := GroupCode(in); got != want {
			t.Errorf("GroupCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := NewThrottle(time.Second, time.Minute, 2, nil)
		a := netip.MustParseAddr("192.0.2.1")
		var got []time.Duration
		for range 8 {
			got = append(got, th.Failure(a))
		}
		want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
		for i := range want {
			if got[i] != want[i]*time.Second {
				t.Fatalf("delays %v, want %v s", got, want)
			}
		}
		// Another address starts at the base; success resets.
		b := netip.MustParseAddr("192.0.2.2")
		if d := th.Failure(b); d != time.Second {
			t.Fatalf("other address: %v", d)
		}
		th.Success(a)
		if d := th.Failure(a); d != time.Second {
			t.Fatalf("after success: %v", d)
		}
		// A quiet period resets as well.
		th.Failure(a)
		time.Sleep(11 * time.Minute)
		if d := th.Failure(a); d != time.Second {
			t.Fatalf("after quiet: %v", d)
		}
		// IPv6 addresses in one /64 share a state.
		v1, v2 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		th.Failure(v1)
		if d := th.Failure(v2); d != 2*time.Second {
			t.Fatalf("same /64: %v", d)
		}
		// Concurrent handshakes per address are capped.
		l1, r1 := th.Enter(a)
		_, r2 := th.Enter(a)
		_, r3 := th.Enter(a)
		if r1 != nil || r2 != nil || r3 == nil || !r3.Busy {
			t.Fatalf("Enter: %v %v %v, want two in and a busy refusal", r1, r2, r3)
		}
		l1()
		if _, r := th.Enter(a); r != nil {
			t.Fatal("Enter refused after a leave")
		}
	})
}

func TestThrottleGlobal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := NewThrottle(time.Second, time.Minute, 0, nil)
		th.GlobalRate = 10
		// A flood from many addresses: each address's first failure costs
		// more once the global level is above the rate.
		var last time.Duration
		for i := range 100 {
			last = th.Failure(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		}
		if last <= time.Second {
			t.Fatalf("first failure of a new address during a flood: %v, want more than the base", last)
		}
		time.Sleep(10 * time.Minute)
		if d := th.Failure(netip.MustParseAddr("10.1.0.1")); d != time.Second {
			t.Fatalf("after the flood decayed: %v", d)
		}
	})
}

// BenchmarkSpendVNCAuth is one wrong guess tried against 1,000 live
// codes, the work a viewer's VNC Authentication costs the broker.
func BenchmarkSpendVNCAuth(b *testing.B) {
	c := NewCodes(6, time.Hour, nil)
	for range 1000 {
		c.Issue(&agentConn{})
	}
	ch := []byte("0123456789abcdef")
	resp := rfb.VNCAuthResponse(ch, "000000")
	for b.Loop() {
		c.SpendVNCAuth(ch, resp)
	}
}

// A session's waits for its agent's connections: a connection with the
// wrong token or an unknown ID is refused; the right one is handed over
// once; a connection that raced the end of the wait is closed by
// forgetConn; the session's end drops its waits, and no wait is kept for
// a code without a session.
func TestCodesConnWaits(t *testing.T) {
	c := NewCodes(6, time.Hour, nil)
	code, _, err := c.Issue(&agentConn{})
	if err != nil {
		t.Fatal(err)
	}
	w, ok := c.expectConn(code, "s1", "token-1")
	if !ok {
		t.Fatal("no wait for a live code")
	}
	x, y := net.Pipe()
	defer y.Close()
	if c.deliverConn("s1", "token-2", x) || c.deliverConn("s2", "token-1", x) {
		t.Fatal("a connection with a wrong token or ID was taken")
	}
	if !c.deliverConn("s1", "token-1", x) {
		t.Fatal("the awaited connection was refused")
	}
	if got := <-w.conn; got != x {
		t.Fatal("another connection handed over")
	}
	if c.deliverConn("s1", "token-1", x) {
		t.Fatal("a second connection for one wait was taken")
	}
	c.forgetConn("s1", w)
	// Raced: delivered, then the waiter gives up without taking it.
	w2, _ := c.expectConn(code, "f1", "token-3")
	p, q := net.Pipe()
	if !c.deliverConn("f1", "token-3", p) {
		t.Fatal("refused")
	}
	c.forgetConn("f1", w2)
	if _, err := q.Write([]byte{1}); err == nil {
		t.Fatal("the raced connection was left open")
	}
	// The session's end drops its waits.
	w3, _ := c.expectConn(code, "f2", "token-4")
	c.End(code)
	if c.deliverConn("f2", "token-4", x) {
		t.Fatal("an ended session took a connection")
	}
	c.forgetConn("f2", w3)
	if _, ok := c.expectConn(code, "f3", "token-5"); ok {
		t.Fatal("a wait kept for an ended code")
	}
	if len(c.connIDs) != 0 {
		t.Fatalf("%d waits left", len(c.connIDs))
	}
}
