package broker

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Strings are cut and their control and bidirectional-formatting
// characters escaped, so the log shows what arrived.
func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                      "plain",
		"evil\u202egnp.exe":          `evil\u202egnp.exe`,
		"a\x00b\x1b[31m":             `a\u0000b\u001b[31m`,
		"zero\u200bwidth\u2066iso":   `zero\u200bwidth\u2066iso`,
		strings.Repeat("x", 300):     strings.Repeat("x", maxAuditString) + "…",
		"bad utf8 \xff":              `bad utf8 \ufffd`,
		"Anna Bérger (Acme Support)": "Anna Bérger (Acme Support)",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// The file is rotated at its size and kept to the newest few.
func TestAuditRotation(t *testing.T) {
	dir := t.TempDir()
	rf, err := openRotatingFile(dir, "audit.jsonl", 1000, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rf.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	line := strings.Repeat("y", 99) + "\n"
	for range 100 {
		if _, err := rf.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	rf.Close()
	old, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if len(old) != 2 {
		t.Fatalf("%d rotated files kept, want 2: %v", len(old), old)
	}
	for _, f := range append(old, filepath.Join(dir, "audit.jsonl")) {
		st, err := os.Stat(f)
		if err != nil || st.Size() > 1000 {
			t.Fatalf("%s: %v, %d bytes", f, err, st.Size())
		}
	}
	// By age too.
	rf, _ = openRotatingFile(dir, "audit.jsonl", 0, time.Hour, 5)
	rf.now = func() time.Time { clock = clock.Add(40 * time.Minute); return clock }
	rf.opened = clock
	for range 5 {
		rf.Write([]byte(line))
	}
	rf.Close()
	if old, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl")); len(old) < 3 {
		t.Fatalf("age rotation: %d files", len(old))
	}
}

// One address gets at most auditPerAddr lines a minute, the rest is
// summed up in one line; lines that name no remote peer always pass.
func TestAuditLimits(t *testing.T) {
	dir := t.TempDir()
	rf, _ := openRotatingFile(dir, "audit.jsonl", 0, 0, 0)
	var m Metrics
	h := newAuditHandler(rf, &m)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.now = func() time.Time { return clock }
	log := slog.New(h)
	for range 1000 {
		log.Warn("agent refused", "remote", "192.0.2.9:4444", "name", strings.Repeat("n", 60_000))
	}
	for range 100 {
		log.Info("paired", "code", "123456")
	}
	clock = clock.Add(time.Minute)
	h.flush()
	rf.Close()
	b, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var refused, paired, summary int
	for _, l := range lines {
		switch {
		case strings.Contains(l, `"msg":"agent refused"`):
			refused++
		case strings.Contains(l, `"msg":"paired"`):
			paired++
		case strings.Contains(l, `"msg":"audit lines suppressed"`) && strings.Contains(l, `"lines":940`):
			summary++
		}
	}
	if refused != auditPerAddr || paired != 100 || summary != 1 || len(b) > 64<<10 {
		t.Fatalf("%d refused, %d paired, %d summaries, %d bytes", refused, paired, summary, len(b))
	}
	if m.AuditSuppressed.Load() != 940 {
		t.Fatalf("suppressed %d", m.AuditSuppressed.Load())
	}
}
