package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AuditSink is a slog.Handler that stores every record in the audit
// table, for the broker's SetAuditSink. Records are queued and written
// in batches by one goroutine, so the broker never waits for the disk;
// if the queue is full (the disk cannot keep up) a record is dropped and
// counted, and the broker's own audit file still has it.
type AuditSink struct {
	core   *sinkCore
	attrs  []slog.Attr // from WithAttrs
	groups []string    // from WithGroup, outermost first
}

// sinkCore is what an AuditSink and the handlers derived from it share.
type sinkCore struct {
	db      *DB
	log     *slog.Logger
	queue   chan AuditRecord
	done    chan struct{}
	dropped atomic.Int64

	mu     sync.RWMutex // held for reading while sending, for writing to close
	closed bool
}

// sinkQueue bounds the records waiting for the disk.
const sinkQueue = 4096

// NewAuditSink starts the sink's writer. Close it to flush and stop.
func NewAuditSink(db *DB, log *slog.Logger) *AuditSink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &sinkCore{db: db, log: log, queue: make(chan AuditRecord, sinkQueue), done: make(chan struct{})}
	go c.write()
	return &AuditSink{core: c}
}

// Dropped counts records lost to a full queue or handled after Close.
func (s *AuditSink) Dropped() int64 { return s.core.dropped.Load() }

// Close writes what is queued and stops the writer. Records handled after
// Close are dropped.
func (s *AuditSink) Close() {
	c := s.core
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	<-c.done
}

func (c *sinkCore) write() {
	defer close(c.done)
	batch := make([]AuditRecord, 0, 256)
	for r := range c.queue {
		batch = append(batch[:0], r)
	more:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-c.queue:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		if err := c.db.addAuditBatch(context.Background(), batch); err != nil {
			c.log.Error("audit: storing records", "n", len(batch), "err", err)
		}
	}
}

func (c *sinkCore) enqueue(r AuditRecord) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		c.dropped.Add(1)
		return
	}
	select {
	case c.queue <- r:
	default:
		c.dropped.Add(1)
	}
}

// Enabled takes every level: the audit keeps everything.
func (s *AuditSink) Enabled(context.Context, slog.Level) bool { return true }

// Handle queues the record.
func (s *AuditSink) Handle(_ context.Context, r slog.Record) error {
	rec := AuditRecord{At: r.Time, Level: r.Level.String(), Msg: r.Message}
	if rec.At.IsZero() {
		rec.At = time.Now()
	}
	obj := map[string]any{}
	// WithAttrs attributes go at the top level whatever groups were opened
	// before them: the broker opens none.
	for _, a := range s.attrs {
		collect(&rec, obj, a)
	}
	inner := obj
	for _, g := range s.groups {
		m := map[string]any{}
		inner[g] = m
		inner = m
	}
	r.Attrs(func(a slog.Attr) bool {
		collect(&rec, inner, a)
		return true
	})
	b, err := json.Marshal(obj)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	rec.Attrs = string(b)
	s.core.enqueue(rec)
	return nil
}

// WithAttrs returns a handler that adds attrs to every record.
func (s *AuditSink) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &AuditSink{core: s.core, attrs: slices.Concat(s.attrs, attrs), groups: s.groups}
}

// WithGroup returns a handler that nests the record's attributes in name.
func (s *AuditSink) WithGroup(name string) slog.Handler {
	if name == "" {
		return s
	}
	return &AuditSink{core: s.core, attrs: s.attrs, groups: append(slices.Clone(s.groups), name)}
}

// collect adds a to obj and pulls the searchable fields out of it.
func collect(rec *AuditRecord, obj map[string]any, a slog.Attr) {
	v := a.Value.Resolve()
	if a.Key == "" && v.Kind() != slog.KindGroup {
		return
	}
	switch v.Kind() {
	case slog.KindGroup:
		m := obj
		if a.Key != "" {
			m = map[string]any{}
			obj[a.Key] = m
		}
		for _, ga := range v.Group() {
			if a.Key == "supporter" && ga.Key == "account" && rec.Supporter == "" {
				rec.Supporter = ga.Value.Resolve().String()
			}
			collect(rec, m, ga)
		}
		return
	case slog.KindTime:
		obj[a.Key] = v.Time().UTC().Format(time.RFC3339Nano)
	case slog.KindDuration:
		obj[a.Key] = v.Duration().String()
	case slog.KindString:
		str := v.String()
		obj[a.Key] = str
		switch a.Key {
		case "supporter", "account":
			if rec.Supporter == "" {
				rec.Supporter = str
			}
		case "code":
			if rec.Code == "" {
				rec.Code = str
			}
		case "session":
			if rec.Session == "" {
				rec.Session = str
			}
		}
		if isAddr(str) && !slices.Contains(rec.Addrs, str) {
			rec.Addrs = append(rec.Addrs, str)
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			obj[a.Key] = x.Error()
		case json.Marshaler:
			obj[a.Key] = x
		case fmt.Stringer:
			obj[a.Key] = x.String()
		default:
			// A plain struct (a broker.Supporter, say) is kept as its JSON
			// object, and a supporter's account is found in it.
			b, err := json.Marshal(x)
			if err != nil {
				obj[a.Key] = fmt.Sprint(x)
				break
			}
			obj[a.Key] = json.RawMessage(b)
			if a.Key == "supporter" && rec.Supporter == "" {
				var sup struct{ Account string }
				if json.Unmarshal(b, &sup) == nil {
					rec.Supporter = sup.Account
				}
			}
		}
	default: // Int64, Uint64, Float64, Bool
		obj[a.Key] = v.Any()
	}
}

// isAddr reports whether s is an IP address, with or without a port.
func isAddr(s string) bool {
	if _, err := netip.ParseAddrPort(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// addAuditBatch stores records in one transaction.
func (db *DB) addAuditBatch(ctx context.Context, rs []AuditRecord) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, db.rebind(`INSERT INTO audit (at, level, msg, supporter, code, session, addrs, attrs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rs {
		if _, err := stmt.ExecContext(ctx, nanos(r.At), r.Level, r.Msg, r.Supporter, r.Code, r.Session, strings.Join(r.Addrs, " "), r.Attrs); err != nil {
			return err
		}
	}
	return tx.Commit()
}

var _ slog.Handler = (*AuditSink)(nil)
