package broker

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestThrottleDistributedAttack plays a distributed guesser against the
// throttle on a simulated clock: A addresses retry every 10 s for an hour,
// every admitted handshake fails. The global budget must bound the
// guesses by GlobalRate a minute plus one free guess per address, however
// many addresses there are (docs/BRUTEFORCE.md), while a clean address
// is still admitted during the attack.
func TestThrottleDistributedAttack(t *testing.T) {
	const (
		addrs = 1000
		step  = 10 * time.Second
		span  = time.Hour
	)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(time.Second, time.Minute, 8, func() time.Time { return clock })
	guesses := 0
	// Each address's open handshakes and when each one's delay ends.
	type open struct {
		until time.Time
		leave func()
	}
	held := make([][]open, addrs)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}) }
	for end := clock.Add(span); clock.Before(end); clock = clock.Add(step) {
		for i := range addrs {
			// Finish the handshakes whose failure delay is over.
			keep := held[i][:0]
			for _, h := range held[i] {
				if clock.Before(h.until) {
					keep = append(keep, h)
				} else {
					h.leave()
				}
			}
			held[i] = keep
			// Open as many as the throttle admits.
			for range 8 {
				leave, refused := th.Enter(addr(i))
				if refused != nil {
					break
				}
				guesses++
				d := th.Failure(addr(i))
				held[i] = append(held[i], open{clock.Add(d), leave})
			}
		}
		if clock.Sub(end.Add(-span)) == 30*time.Minute {
			// Mid-attack, a supporter on a clean address gets in.
			leave, refused := th.Enter(netip.MustParseAddr("192.0.2.7"))
			if refused != nil {
				t.Fatal("a clean address was refused during the attack")
			}
			th.Success(netip.MustParseAddr("192.0.2.7"))
			leave()
			// A suspect one does not.
			if _, refused := th.Enter(addr(0)); refused == nil || (!refused.Busy && refused.RetryAfter <= 0) {
				t.Fatal("a suspect address was admitted with the budget empty, or not told when to retry")
			}
		}
	}
	bound := int(th.GlobalRate*span.Minutes() + 2*th.GlobalRate + addrs)
	t.Logf("%d addresses, %v: %d guesses (bound %d; per-address delays alone would allow ~%d)",
		addrs, span, guesses, bound, addrs*8*int(span/time.Minute))
	if guesses > bound {
		t.Fatalf("%d guesses in %v from %d addresses, want at most %d", guesses, span, addrs, bound)
	}
	if guesses < int(th.GlobalRate*span.Minutes())/2 {
		t.Fatalf("%d guesses: the budget was not used, the simulation is wrong", guesses)
	}
	if len(th.addrs) > 4*addrs {
		t.Fatalf("%d tracked addresses", len(th.addrs))
	}
}

// TestThrottleLegitimateRetry: a supporter's handshakes on a quiet broker
// are never refused, even after a typo.
func TestThrottleLegitimateRetry(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(time.Second, time.Minute, 8, func() time.Time { return clock })
	a := netip.MustParseAddr("198.51.100.4")
	for i := range 5 {
		leave, refused := th.Enter(a)
		if refused != nil {
			t.Fatalf("attempt %d refused", i)
		}
		th.Failure(a)
		leave()
		clock = clock.Add(time.Minute)
	}
	leave, refused := th.Enter(a)
	if refused != nil {
		t.Fatal("refused after typos on a quiet broker")
	}
	th.Success(a)
	leave()
	if len(th.addrs) != 0 {
		t.Fatalf("state kept after success: %d", len(th.addrs))
	}
}

// Handshakes that check no wrong code cost the budget nothing, however
// many there are, so connecting alone cannot lock others out.
func TestThrottleNotDrainedWithoutGuessing(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(time.Second, time.Minute, 8, func() time.Time { return clock })
	a := netip.MustParseAddr("198.51.100.9")
	th.Failure(a) // suspect: every entry needs the budget
	for i := range 10 * int(th.GlobalRate) {
		leave, refused := th.Enter(a)
		if refused != nil {
			t.Fatalf("entry %d without a guess refused: %s", i, refused.Reason())
		}
		leave()
	}
}

// After a burst of failures from many addresses, the debt is floored:
// an address that failed once is admitted again within about two
// minutes, not (N-30)/30 minutes, and is told when.
func TestThrottleDebtFloor(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(time.Second, time.Minute, 8, func() time.Time { return clock })
	for i := range 3000 {
		a := netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)})
		leave, refused := th.Enter(a)
		if refused == nil {
			th.Failure(a)
			leave()
		}
	}
	suspect := netip.AddrFrom4([4]byte{10, 2, 0, 0})
	_, refused := th.Enter(suspect)
	if refused == nil {
		t.Fatal("a suspect address was admitted right after the burst")
	}
	if refused.RetryAfter > 2*time.Minute+time.Second {
		t.Fatalf("told to retry in %v after the burst, want at most about two minutes", refused.RetryAfter)
	}
	if !strings.Contains(refused.Reason(), "try again in ") {
		t.Fatalf("reason %q", refused.Reason())
	}
	clock = clock.Add(refused.RetryAfter + time.Second)
	if _, refused := th.Enter(suspect); refused != nil {
		t.Fatalf("still refused after the time it was told: %s", refused.Reason())
	}
}
