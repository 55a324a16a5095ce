package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// The audit log: one JSON object a line in audit.jsonl in the data
// directory, and the same records to the desk's store (SetAuditSink).
//
// Anyone who reaches a port can make the broker write a line (a wrong
// code, a refused agent), so what a peer can make it write is bounded:
//
//   - every string is cut to maxAuditString bytes, and control and
//     bidirectional-formatting characters are escaped (\u202e), so a name
//     cannot reorder or hide what a person reading the log sees;
//   - lines that name a peer by its "remote" address, the lines a peer
//     without a code causes, are limited per address (auditPerAddr a
//     minute) and in all (auditBytesPerMinute); what is dropped is counted
//     and summed up in one "audit lines suppressed" line a minute;
//   - the file is rotated by size and age and old files are removed, so
//     the log's disk use is bounded (AuditMaxBytes × AuditKeep);
//   - a write that fails (a full disk) is counted (lifebuoy_audit_write_
//     errors_total) and never stops the broker: sessions run on.
//
// Lines of paired sessions name no "remote" and are never dropped: they
// are bounded by the codes that pair.
const (
	maxAuditString      = 256
	auditPerAddr        = 60
	auditBytesPerMinute = 2 << 20
	auditWindow         = time.Minute
	auditMaxKinds       = 20 // messages listed in a suppression summary
)

// auditHandler is the broker's audit log (see above).
type auditHandler struct {
	mu      sync.Mutex
	file    *rotatingFile
	json    slog.Handler
	sink    atomic.Pointer[slog.Handler]
	now     func() time.Time
	errs    *atomic.Int64 // write errors, for the metrics
	dropped *atomic.Int64 // lines suppressed, for the metrics

	windowAt   time.Time
	perAddr    map[netip.Addr]int
	bytes      int
	suppressed map[string]int // message → lines dropped this window
}

func newAuditHandler(f *rotatingFile, m *Metrics) *auditHandler {
	h := &auditHandler{file: f, now: time.Now, errs: &m.AuditWriteErrors, dropped: &m.AuditSuppressed,
		perAddr: map[netip.Addr]int{}, suppressed: map[string]int{}}
	h.json = slog.NewJSONHandler(f, nil)
	return h
}

func (h *auditHandler) Enabled(context.Context, slog.Level) bool { return true }

// The broker logs audit records with their attributes inline only.
func (h *auditHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *auditHandler) WithGroup(string) slog.Handler      { return h }

func (h *auditHandler) Handle(ctx context.Context, r slog.Record) error {
	clean, remote, size := sanitizeRecord(r)
	h.mu.Lock()
	summary, ok := h.admitLocked(clean, remote, size)
	h.mu.Unlock()
	if summary != nil {
		h.write(ctx, *summary)
	}
	if ok {
		h.write(ctx, clean)
	}
	return nil
}

func (h *auditHandler) write(ctx context.Context, r slog.Record) {
	if err := h.json.Handle(ctx, r); err != nil {
		h.errs.Add(1)
	}
	if s := h.sink.Load(); s != nil {
		(*s).Handle(ctx, r.Clone())
	}
}

// admitLocked applies the limits to a line that names a remote peer, and
// returns the previous window's summary when a new window begins.
func (h *auditHandler) admitLocked(r slog.Record, remote netip.Addr, size int) (*slog.Record, bool) {
	now := h.now()
	var summary *slog.Record
	if now.Sub(h.windowAt) >= auditWindow {
		summary = h.summaryLocked(now)
		h.windowAt, h.bytes = now, 0
		clear(h.perAddr)
	}
	if !remote.IsValid() {
		return summary, true
	}
	k := throttleKey(remote)
	if h.perAddr[k] >= auditPerAddr || h.bytes+size > auditBytesPerMinute || len(h.perAddr) >= 1<<16 && h.perAddr[k] == 0 {
		if _, ok := h.suppressed[r.Message]; ok || len(h.suppressed) < auditMaxKinds {
			h.suppressed[r.Message]++
		} else {
			h.suppressed["other"]++
		}
		h.dropped.Add(1)
		return summary, false
	}
	h.perAddr[k]++
	h.bytes += size
	return summary, true
}

// summaryLocked is the "audit lines suppressed" line for the window that
// ends, or nil if nothing was dropped.
func (h *auditHandler) summaryLocked(now time.Time) *slog.Record {
	if len(h.suppressed) == 0 {
		return nil
	}
	total := 0
	kinds := make([]string, 0, len(h.suppressed))
	for msg, n := range h.suppressed {
		total += n
		kinds = append(kinds, msg)
	}
	slices.Sort(kinds)
	r := slog.NewRecord(now, slog.LevelWarn, "audit lines suppressed", 0)
	r.AddAttrs(slog.Int("lines", total), slog.String("since", h.windowAt.UTC().Format(time.RFC3339)))
	for _, k := range kinds {
		r.AddAttrs(slog.Int("lines_"+strings.ReplaceAll(k, " ", "_"), h.suppressed[k]))
	}
	clear(h.suppressed)
	return &r
}

// flush writes the summary of a window that has ended with nothing after
// it (called once a minute by the broker, and at Close).
func (h *auditHandler) flush() {
	h.mu.Lock()
	s := h.summaryLocked(h.now())
	h.mu.Unlock()
	if s != nil {
		h.write(context.Background(), *s)
	}
}

// sanitizeRecord copies r with every string cut and escaped, and returns
// the "remote" peer's address (if any) and an estimate of the line's size.
func sanitizeRecord(r slog.Record) (slog.Record, netip.Addr, int) {
	out := slog.NewRecord(r.Time, r.Level, sanitize(r.Message), r.PC)
	var remote netip.Addr
	size := len(r.Message) + 64
	r.Attrs(func(a slog.Attr) bool {
		a = sanitizeAttr(a)
		if a.Key == "remote" && a.Value.Kind() == slog.KindString {
			if ap, err := netip.ParseAddrPort(a.Value.String()); err == nil {
				remote = ap.Addr().Unmap()
			} else if ad, err := netip.ParseAddr(a.Value.String()); err == nil {
				remote = ad.Unmap()
			}
		}
		size += len(a.Key) + len(a.Value.String()) + 6
		out.AddAttrs(a)
		return true
	})
	return out, remote, size
}

func sanitizeAttr(a slog.Attr) slog.Attr {
	a.Key = sanitize(a.Key)
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(sanitize(a.Value.String()))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			a.Value = slog.StringValue(sanitize(err.Error()))
		} else if s, ok := a.Value.Any().(fmt.Stringer); ok {
			a.Value = slog.StringValue(sanitize(s.String()))
		}
	case slog.KindGroup:
		g := a.Value.Group()
		out := make([]slog.Attr, len(g))
		for i, x := range g {
			out[i] = sanitizeAttr(x)
		}
		a.Value = slog.GroupValue(out...)
	}
	return a
}

// sanitize cuts s to maxAuditString bytes (on a rune boundary) and
// escapes control characters and invisible formatting characters (the
// bidirectional overrides among them) as \uXXXX, so that what the log
// shows is what was received.
func sanitize(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			clean = false
			break
		}
	}
	if clean && len(s) <= maxAuditString {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxAuditString {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// rotatingFile is the audit log file, moved aside to
// audit-<time>.jsonl when it reaches maxBytes or maxAge, keeping the keep
// newest old files. Writes are whole lines (one per call, from the JSON
// handler, which writes under its own lock).
type rotatingFile struct {
	dir, name string
	maxBytes  int64
	maxAge    time.Duration
	keep      int
	now       func() time.Time

	mu     sync.Mutex
	f      *os.File
	size   int64
	opened time.Time
}

func openRotatingFile(dir, name string, maxBytes int64, maxAge time.Duration, keep int) (*rotatingFile, error) {
	rf := &rotatingFile{dir: dir, name: name, maxBytes: maxBytes, maxAge: maxAge, keep: keep, now: time.Now}
	if err := rf.open(); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return rf, nil
}

func (rf *rotatingFile) open() error {
	f, err := os.OpenFile(filepath.Join(rf.dir, rf.name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	// The age counts from when this broker opened the file.
	rf.f, rf.size, rf.opened = f, st.Size(), rf.now()
	return nil
}

func (rf *rotatingFile) Write(p []byte) (int, error) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.f == nil {
		if err := rf.open(); err != nil {
			return 0, err
		}
	}
	if rf.size > 0 && (rf.maxBytes > 0 && rf.size+int64(len(p)) > rf.maxBytes || rf.maxAge > 0 && rf.now().Sub(rf.opened) >= rf.maxAge) {
		rf.rotateLocked()
	}
	n, err := rf.f.Write(p)
	rf.size += int64(n)
	return n, err
}

// rotateLocked moves the file aside and opens a new one; failures leave
// the current file in use.
func (rf *rotatingFile) rotateLocked() {
	base := strings.TrimSuffix(rf.name, filepath.Ext(rf.name))
	aside := filepath.Join(rf.dir, fmt.Sprintf("%s-%s%s", base, rf.now().UTC().Format("20060102T150405.000Z"), filepath.Ext(rf.name)))
	if err := os.Rename(filepath.Join(rf.dir, rf.name), aside); err != nil {
		return
	}
	old := rf.f
	if err := rf.open(); err != nil {
		rf.f = old // keep writing where we can
		return
	}
	old.Close()
	rf.pruneLocked(base)
}

// pruneLocked removes rotated files beyond the keep newest.
func (rf *rotatingFile) pruneLocked(base string) {
	if rf.keep <= 0 {
		return
	}
	old, _ := filepath.Glob(filepath.Join(rf.dir, base+"-*"+filepath.Ext(rf.name)))
	slices.Sort(old) // the time in the name sorts
	for len(old) > rf.keep {
		os.Remove(old[0])
		old = old[1:]
	}
}

func (rf *rotatingFile) Close() error {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.f == nil {
		return nil
	}
	err := rf.f.Close()
	rf.f = nil
	return err
}
