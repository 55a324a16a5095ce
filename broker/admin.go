package broker

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"time"
)

// CodeResponse is the admin API's answer to POST /admin/codes.
type CodeResponse struct {
	Code      string    `json:"code"`
	Grouped   string    `json:"grouped"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Handler serves the operator port (5515):
//
//	GET  /healthz       "ok"
//	GET  /metrics       Prometheus text format
//	POST /admin/codes   issue a supporter-first code (loopback only)
func (b *Broker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		b.metrics.writeProm(w, b.codes.Counts(), b.throttle.GlobalFailures())
		writeRuntimeProm(w)
	})
	mux.HandleFunc("POST /admin/codes", func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			http.Error(w, "the admin API answers only on loopback", http.StatusForbidden)
			return
		}
		code, exp, err := b.codes.Issue(nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		b.audit.Info("code issued", "code", code, "flow", "supporter-first", "by", r.RemoteAddr, "expires", exp)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(CodeResponse{Code: code, Grouped: GroupCode(code), ExpiresAt: exp})
	})
	return mux
}
