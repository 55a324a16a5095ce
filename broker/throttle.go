package broker

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"
)

// Throttle slows down code guessing, per source address and globally.
//
// Each failed attempt from an address doubles that address's delay, from
// Base up to Max, and the broker waits that long before it answers the
// failure. An address that succeeds, or stays quiet for Quiet, starts
// over. MaxPerAddr bounds the handshakes one address may have open at
// once.
//
// Per-address delays alone do not stop an attacker with many addresses:
// with A addresses each holding MaxPerAddr guesses for Max, they get
// A·MaxPerAddr/Max guesses a second (see docs/BRUTEFORCE.md). So failures
// also draw on one global budget, a token bucket of GlobalRate failures a
// minute with a minute's burst:
//
//   - Every failure takes a token, and only a failure: a handshake that
//     ends without a wrong code costs nothing, so the budget cannot be
//     drained by connecting alone. The debt is floored at a minute's
//     worth, so that after any burst the budget is back within two
//     minutes.
//   - A clean address (no failure in the last Memory) with no other
//     handshake open always enters.
//   - Any other handshake (a suspect address, or a second one at once)
//     enters only while the budget has a token, and is otherwise refused
//     at once, with the time until it has one (Refusal).
//
// A distributed attacker thus gets about GlobalRate guesses a minute plus
// one per address per Memory, however many addresses they hold. A correct
// code from a clean address is always checked, so legitimate supporters
// still pair during a flood; an address that failed recently may be
// refused until the budget refills.
//
// A decayed count of recent failures (one-minute time constant) is kept
// for the metrics; above GlobalRate it also adds to the answer delay.
//
// IPv6 addresses are throttled by /64, since one host usually has a
// whole /64.
type Throttle struct {
	Base, Max  time.Duration
	Quiet      time.Duration
	Memory     time.Duration // how long an address stays suspect after a failure
	GlobalRate float64       // failures a minute from everyone; 0 disables the budget
	MaxPerAddr int
	MaxTracked int // addresses remembered before new ones lose their free entry
	now        func() time.Time

	mu       sync.Mutex
	addrs    map[netip.Addr]*addrState
	sweepAt  int     // sweep the map when it grows past this
	global   float64 // decayed failure count
	globalAt time.Time
	tokens   float64 // the global budget; negative is debt
	tokensAt time.Time
}

type addrState struct {
	fails  int
	last   time.Time // the last failure
	active int
}

// Refusal is why Enter turned a handshake away.
type Refusal struct {
	// Busy: the address has MaxPerAddr handshakes open already.
	Busy bool
	// RetryAfter is when the global budget has a token again.
	RetryAfter time.Duration
}

// Reason says it in words a supporter understands.
func (r *Refusal) Reason() string {
	if r.Busy {
		return "too many connections from your address at once; close the others and try again"
	}
	return fmt.Sprintf("too many wrong codes were tried recently; try again in %d s", int(math.Ceil(r.RetryAfter.Seconds())))
}

const globalWindow = time.Minute

// NewThrottle returns a throttle with the given per-address delays and
// the default global budget (30 failures a minute, 24 h memory).
func NewThrottle(base, max time.Duration, maxPerAddr int, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{Base: base, Max: max, Quiet: 10 * time.Minute, Memory: 24 * time.Hour, GlobalRate: 30,
		MaxPerAddr: maxPerAddr, MaxTracked: 1 << 20, now: now, addrs: map[netip.Addr]*addrState{}}
}

func throttleKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// Enter admits one code check from addr, or refuses it (see Throttle)
// and says why. The caller calls leave when the check is done.
func (t *Throttle) Enter(addr netip.Addr) (leave func(), refused *Refusal) {
	k := throttleKey(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.stateLocked(k)
	if t.MaxPerAddr > 0 && s.active >= t.MaxPerAddr {
		return nil, &Refusal{Busy: true}
	}
	// Past MaxTracked addresses (an attacker with many IPv6 /64s), new
	// ones need the budget too, so the map cannot grow without bound.
	free := s.active == 0 && !t.suspectLocked(s, now) && (t.MaxTracked <= 0 || len(t.addrs) <= t.MaxTracked)
	if !free && t.GlobalRate > 0 {
		if have := t.refillLocked(now); have < 1 {
			t.pruneLocked(k, s)
			return nil, &Refusal{RetryAfter: time.Duration((1 - have) / t.GlobalRate * float64(time.Minute))}
		}
	}
	return t.holdLocked(k, s), nil
}

// Hold counts a connection from addr against MaxPerAddr only, for a step
// that checks no code (the HTTPS front's TLS handshake); false when the
// address has MaxPerAddr open already.
func (t *Throttle) Hold(addr netip.Addr) (leave func(), ok bool) {
	k := throttleKey(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stateLocked(k)
	if t.MaxPerAddr > 0 && s.active >= t.MaxPerAddr {
		return nil, false
	}
	return t.holdLocked(k, s), true
}

func (t *Throttle) holdLocked(k netip.Addr, s *addrState) func() {
	s.active++
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		s.active--
		t.pruneLocked(k, s)
	}
}

func (t *Throttle) suspectLocked(s *addrState, now time.Time) bool {
	return s.fails > 0 && now.Sub(s.last) < t.Memory
}

// refillLocked brings the global budget up to now and returns it.
func (t *Throttle) refillLocked(now time.Time) float64 {
	burst := max(t.GlobalRate, 1)
	if t.tokensAt.IsZero() {
		t.tokens = burst
	} else {
		t.tokens = min(t.tokens+now.Sub(t.tokensAt).Minutes()*t.GlobalRate, burst)
	}
	t.tokensAt = now
	return t.tokens
}

// Failure records a failed attempt from addr and returns how long to wait
// before answering it.
func (t *Throttle) Failure(addr netip.Addr) time.Duration {
	k := throttleKey(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.stateLocked(k)
	if now.Sub(s.last) > t.Quiet {
		s.fails = 0
	}
	s.fails++
	s.last = now
	if t.GlobalRate > 0 {
		t.refillLocked(now)
		t.tokens = max(t.tokens-1, -max(t.GlobalRate, 1))
	}
	d := t.Base << min(s.fails-1, 30)
	if d > t.Max || d <= 0 {
		d = t.Max
	}
	g := t.decayLocked(now) + 1
	t.global = g
	if t.GlobalRate > 0 && g > t.GlobalRate {
		extra := time.Duration(float64(t.Base) * g / t.GlobalRate)
		d = min(d+extra, t.Max)
	}
	return d
}

// Success forgets addr's failures.
func (t *Throttle) Success(addr netip.Addr) {
	k := throttleKey(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.addrs[k]; s != nil {
		s.fails = 0
		t.pruneLocked(k, s)
	}
}

// GlobalFailures is the decayed count of recent failures from everyone.
func (t *Throttle) GlobalFailures() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.decayLocked(t.now())
}

func (t *Throttle) decayLocked(now time.Time) float64 {
	dt := now.Sub(t.globalAt)
	t.globalAt = now
	t.global *= math.Exp(-float64(dt) / float64(globalWindow))
	return t.global
}

func (t *Throttle) stateLocked(k netip.Addr) *addrState {
	s := t.addrs[k]
	if s == nil {
		s = &addrState{}
		t.addrs[k] = s
		if len(t.addrs) > max(t.sweepAt, 4096) {
			// Sweeping only when the map has doubled since the last
			// sweep keeps a flood from many addresses linear.
			t.sweepLocked()
			t.sweepAt = 2 * len(t.addrs)
		}
	}
	return s
}

func (t *Throttle) pruneLocked(k netip.Addr, s *addrState) {
	if s.active == 0 && s.fails == 0 {
		delete(t.addrs, k)
	}
}

// sweepLocked forgets addresses that have been quiet long enough.
func (t *Throttle) sweepLocked() {
	now := t.now()
	for k, s := range t.addrs {
		if s.active == 0 && now.Sub(s.last) > max(t.Quiet, t.Memory) {
			delete(t.addrs, k)
		}
	}
}
