package auth

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Throttle slows down password and second-factor guessing. Failures are
// counted per account and per address (IPv6 per /64); past a free
// allowance each further failure locks the account, or the address, for
// a doubling time. A success clears the account's count but not the
// address's, so one good account does not buy an address more guesses
// at others.
//
// It lives in memory: a restart forgets it, and in a cluster each broker
// counts for itself (the bound then grows with the number of brokers).
type Throttle struct {
	Account Policy
	Addr    Policy

	now func() time.Time

	mu       sync.Mutex
	accounts map[string]*failures
	addrs    map[netip.Prefix]*failures
}

// Policy is how one kind of key is throttled.
type Policy struct {
	Free  int           // failures allowed before the first lock
	First time.Duration // the first lock; each further failure doubles it
	Max   time.Duration // the longest lock
	Reset time.Duration // a key with no failure for this long starts afresh
}

// DefaultThrottle: an account locks for 30 s after 5 failures, doubling
// to 15 minutes; an address for a minute after 20, doubling to an hour.
func DefaultThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{
		Account:  Policy{Free: 5, First: 30 * time.Second, Max: 15 * time.Minute, Reset: time.Hour},
		Addr:     Policy{Free: 20, First: time.Minute, Max: time.Hour, Reset: 24 * time.Hour},
		now:      now,
		accounts: map[string]*failures{},
		addrs:    map[netip.Prefix]*failures{},
	}
}

type failures struct {
	n     int
	last  time.Time
	until time.Time
}

// maxTracked bounds each map; past it, entries whose lock ran out and
// whose reset time passed are dropped, and then the oldest.
const maxTracked = 1 << 16

// Scope says what a ThrottledError locked.
type Scope string

// Scopes.
const (
	ScopeAccount Scope = "account"
	ScopeAddress Scope = "address"
)

// ThrottledError refuses a sign-in until a time. The console words it in
// the user's language from Scope and Until.
type ThrottledError struct {
	Scope Scope
	Until time.Time
	Now   time.Time
}

func (e *ThrottledError) Error() string {
	what := "this account"
	if e.Scope == ScopeAddress {
		what = "your address"
	}
	return fmt.Sprintf("too many failed sign-ins for %s: try again at %s (in %s)",
		what, e.Until.UTC().Format("15:04:05 MST"), e.Wait())
}

// Wait is the time left, rounded up to the second.
func (e *ThrottledError) Wait() time.Duration {
	d := e.Until.Sub(e.Now)
	return (d + time.Second - 1).Truncate(time.Second)
}

func addrKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// Check refuses while the account or the address is locked.
func (t *Throttle) Check(account string, addr netip.Addr) error {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.accounts[account]; account != "" && f != nil && now.Before(f.until) {
		return &ThrottledError{Scope: ScopeAccount, Until: f.until, Now: now}
	}
	if f := t.addrs[addrKey(addr)]; addr.IsValid() && f != nil && now.Before(f.until) {
		return &ThrottledError{Scope: ScopeAddress, Until: f.until, Now: now}
	}
	return nil
}

// Fail counts a failure against the account and the address.
func (t *Throttle) Fail(account string, addr netip.Addr) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if account != "" {
		fail(t.accounts, account, t.Account, now)
	}
	if addr.IsValid() {
		fail(t.addrs, addrKey(addr), t.Addr, now)
	}
}

// Succeed clears the account's failures.
func (t *Throttle) Succeed(account string) {
	t.mu.Lock()
	delete(t.accounts, account)
	t.mu.Unlock()
}

func fail[K comparable](m map[K]*failures, k K, p Policy, now time.Time) {
	f := m[k]
	if f == nil || now.Sub(f.last) > p.Reset {
		if f == nil && len(m) >= maxTracked {
			prune(m, p, now)
		}
		f = &failures{}
		m[k] = f
	}
	f.n++
	f.last = now
	if over := f.n - p.Free; over > 0 {
		d := p.First
		for i := 1; i < over && d < p.Max; i++ {
			d *= 2
		}
		f.until = now.Add(min(d, p.Max))
	}
}

func prune[K comparable](m map[K]*failures, p Policy, now time.Time) {
	var oldest K
	var oldestAt time.Time
	for k, f := range m {
		if now.After(f.until) && now.Sub(f.last) > p.Reset {
			delete(m, k)
			continue
		}
		if oldestAt.IsZero() || f.last.Before(oldestAt) {
			oldest, oldestAt = k, f.last
		}
	}
	if len(m) >= maxTracked {
		delete(m, oldest)
	}
}
