package broker

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// CodeResponse is the admin API's answer to POST /admin/codes.
type CodeResponse struct {
	Code      string    `json:"code"`
	Grouped   string    `json:"grouped"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AdminTokenFile holds the admin API's token in the data directory (0600):
// only who can read the broker's data may issue codes through it.
const AdminTokenFile = "admin-token"

// Issuing codes is bounded per caller: a token bucket of mintRate codes
// a minute, with that many at once.
const mintRate = 30

// loadOrCreateAdminToken reads the admin token, or makes one.
func loadOrCreateAdminToken(dir string) (string, error) {
	p := filepath.Join(dir, AdminTokenFile)
	b, err := os.ReadFile(p)
	if err == nil {
		if tok := strings.TrimSpace(string(b)); len(tok) >= 32 {
			return tok, nil
		}
		return "", fmt.Errorf("admin token %s is too short", p)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("admin token: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	tok := hex.EncodeToString(raw)
	if err := writeFile0600(p, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}

// minter bounds how many codes each caller issues.
type minter struct {
	mu      sync.Mutex
	buckets map[string]*mintBucket
}

type mintBucket struct {
	have float64
	at   time.Time
}

// take spends one code for caller, or says how long to wait.
func (m *minter) take(caller string, now time.Time) (wait time.Duration, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buckets == nil {
		m.buckets = map[string]*mintBucket{}
	}
	if len(m.buckets) > 4096 {
		for k, b := range m.buckets { // full ones are forgotten
			if b.have+now.Sub(b.at).Minutes()*mintRate >= mintRate {
				delete(m.buckets, k)
			}
		}
	}
	b := m.buckets[caller]
	if b == nil {
		b = &mintBucket{have: mintRate, at: now}
		m.buckets[caller] = b
	}
	b.have = math.Min(b.have+now.Sub(b.at).Minutes()*mintRate, mintRate)
	b.at = now
	if b.have < 1 {
		return time.Duration((1 - b.have) / mintRate * float64(time.Minute)), false
	}
	b.have--
	return 0, true
}

// ErrTooManyCodes is IssueCode's refusal of a caller who issued mintRate
// codes in the last minute.
type ErrTooManyCodes struct{ Wait time.Duration }

func (e *ErrTooManyCodes) Error() string {
	return fmt.Sprintf("too many codes issued in the last minute; try again in %d s", int(math.Ceil(e.Wait.Seconds())))
}

// Handler serves the operator port (5515):
//
//	GET  /healthz       "ok"
//	GET  /metrics       Prometheus text format
//	POST /admin/codes   issue a supporter-first code; needs
//	                    "Authorization: Bearer <the data directory's admin-token>"
//
// Every request must name a loopback host (Host: 127.0.0.1:5515 or
// localhost:5515) and come from no web page (no Origin header): a page
// open in a browser on the broker's machine cannot reach it, even by DNS
// rebinding.
func (b *Broker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if b.cluster != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := b.cluster.dir.Ping(ctx); err != nil {
				// Running sessions go on; new codes are refused.
				http.Error(w, "database unreachable: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		b.metrics.writeProm(w, b.codes.Counts(), b.throttle.GlobalFailures())
		if b.cluster != nil {
			b.cluster.writeProm(w)
		}
		b.writeDeskProm(w)
		writeRuntimeProm(w)
	})
	mux.HandleFunc("POST /admin/codes", func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			http.Error(w, "the admin API answers only on loopback", http.StatusForbidden)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(b.adminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "the admin API needs the token in the broker's data directory ("+AdminTokenFile+")", http.StatusUnauthorized)
			return
		}
		code, exp, err := b.issue(Supporter{}, "admin API")
		var tooMany *ErrTooManyCodes
		switch {
		case errors.As(err, &tooMany):
			w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(tooMany.Wait.Seconds()))))
			http.Error(w, err.Error(), http.StatusTooManyRequests)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(CodeResponse{Code: code, Grouped: GroupCode(code), ExpiresAt: exp})
	})
	return localOnly(mux)
}

// localOnly refuses requests that name a non-loopback host or come from
// a web page.
func localOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if !(strings.EqualFold(host, "localhost") || err == nil && a.Unmap().IsLoopback()) {
			http.Error(w, "the operator port answers to loopback names only (127.0.0.1, ::1, localhost)", http.StatusForbidden)
			return
		}
		if r.Header.Get("Origin") != "" {
			http.Error(w, "web pages may not use the operator port", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
