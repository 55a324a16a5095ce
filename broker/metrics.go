package broker

import (
	"fmt"
	"io"
	"sync/atomic"
)

// Metrics are the broker's counters, exposed on /metrics.
type Metrics struct {
	Sessions         atomic.Int64 // relaying now
	SessionsTotal    atomic.Int64
	Agents           atomic.Int64 // control links now
	BytesToViewer    atomic.Int64
	BytesToAgent     atomic.Int64
	FailedGuesses    atomic.Int64
	Pairings         atomic.Int64
	Declined         atomic.Int64
	RefusedConns     atomic.Int64 // over the per-address cap, or bad input
	HandshakeErrors  atomic.Int64
	AuditWriteErrors atomic.Int64 // audit lines that could not be written (a full disk)
	AuditSuppressed  atomic.Int64 // audit lines over a peer's limits, summed up instead
}

// writeProm writes the Prometheus text exposition of m and the code
// counts.
func (m *Metrics) writeProm(w io.Writer, codes map[State]int, globalFailures float64) {
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	fmt.Fprintf(w, "# HELP lifebuoy_codes Live session codes by state.\n# TYPE lifebuoy_codes gauge\n")
	for _, s := range []State{StateIssued, StateViewerWaiting, StateWaiting, StateAsking, StateRelaying} {
		fmt.Fprintf(w, "lifebuoy_codes{state=%q} %d\n", s.String(), codes[s])
	}
	gauge("lifebuoy_sessions", "Sessions relaying now.", m.Sessions.Load())
	counter("lifebuoy_sessions_total", "Sessions that started relaying.", m.SessionsTotal.Load())
	gauge("lifebuoy_agents", "Agent control links now.", m.Agents.Load())
	fmt.Fprintf(w, "# HELP lifebuoy_relayed_bytes_total Bytes relayed.\n# TYPE lifebuoy_relayed_bytes_total counter\n")
	fmt.Fprintf(w, "lifebuoy_relayed_bytes_total{direction=\"to_viewer\"} %d\n", m.BytesToViewer.Load())
	fmt.Fprintf(w, "lifebuoy_relayed_bytes_total{direction=\"to_agent\"} %d\n", m.BytesToAgent.Load())
	counter("lifebuoy_failed_guesses_total", "Wrong or unknown codes presented.", m.FailedGuesses.Load())
	counter("lifebuoy_pairings_total", "Viewers paired with a code.", m.Pairings.Load())
	counter("lifebuoy_declined_total", "Sessions the customer declined or never opened.", m.Declined.Load())
	counter("lifebuoy_refused_connections_total", "Connections refused by the per-address cap.", m.RefusedConns.Load())
	counter("lifebuoy_handshake_errors_total", "Handshakes that failed on bad input or timeouts.", m.HandshakeErrors.Load())
	counter("lifebuoy_audit_write_errors_total", "Audit lines that could not be written (a full disk).", m.AuditWriteErrors.Load())
	counter("lifebuoy_audit_suppressed_total", "Audit lines over a peer's limits, summed up instead.", m.AuditSuppressed.Load())
	fmt.Fprintf(w, "# HELP lifebuoy_global_failure_level Decayed count of recent failures from all addresses.\n# TYPE lifebuoy_global_failure_level gauge\nlifebuoy_global_failure_level %g\n", globalFailures)
}
