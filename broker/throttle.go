package broker

import (
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
// over. Failures from all addresses feed a counter that decays with a
// one-minute time constant; above GlobalRate failures a minute, every
// failure costs an extra delay that grows with the rate, so a flood from
// many addresses slows everyone's guesses. MaxPerAddr bounds the
// handshakes one address may have open at once.
//
// IPv6 addresses are throttled by /64, since one host usually has a
// whole /64.
type Throttle struct {
	Base, Max  time.Duration
	Quiet      time.Duration
	GlobalRate float64
	MaxPerAddr int
	now        func() time.Time

	mu       sync.Mutex
	addrs    map[netip.Addr]*addrState
	global   float64 // decayed failure count
	globalAt time.Time
}

type addrState struct {
	fails  int
	last   time.Time
	active int
}

const globalWindow = time.Minute

// NewThrottle returns a throttle with the given per-address delays.
func NewThrottle(base, max time.Duration, maxPerAddr int, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{Base: base, Max: max, Quiet: 10 * time.Minute, GlobalRate: 60,
		MaxPerAddr: maxPerAddr, now: now, addrs: map[netip.Addr]*addrState{}}
}

func throttleKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// Enter admits one handshake from addr, or refuses it when the address
// already has MaxPerAddr open. The caller calls leave when it is done.
func (t *Throttle) Enter(addr netip.Addr) (leave func(), ok bool) {
	k := throttleKey(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stateLocked(k)
	if t.MaxPerAddr > 0 && s.active >= t.MaxPerAddr {
		return nil, false
	}
	s.active++
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		s.active--
		t.pruneLocked(k, s)
	}, true
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
		if len(t.addrs) > 4096 {
			t.sweepLocked()
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
		if s.active == 0 && now.Sub(s.last) > t.Quiet {
			delete(t.addrs, k)
		}
	}
}
