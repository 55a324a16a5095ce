package store

import (
	"context"
	"strings"
	"time"
)

// AuditRecord is one line of the audit log, with the fields the console
// searches by pulled out of its attributes.
type AuditRecord struct {
	ID        int64
	At        time.Time
	Level     string
	Msg       string
	Supporter string // the account of the supporter involved, if any
	Code      string
	Session   string
	Addrs     []string // every network address the record names (viewer, agent, remote...)
	Attrs     string   // all attributes as a JSON object
}

// AddAudit appends a record.
func (db *DB) AddAudit(ctx context.Context, r AuditRecord) error {
	_, err := db.exec(ctx, `INSERT INTO audit (at, level, msg, supporter, code, session, addrs, attrs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		nanos(r.At), r.Level, r.Msg, r.Supporter, r.Code, r.Session, strings.Join(r.Addrs, " "), r.Attrs)
	return err
}

// AuditQuery selects audit records; zero fields do not filter.
type AuditQuery struct {
	Supporter string    // exact account
	Code      string    // exact code
	Addr      string    // part of an address: "203.0.113.7" finds "203.0.113.7:43542"
	Text      string    // part of the message or attributes
	Since     time.Time // inclusive
	Until     time.Time // exclusive
	Before    int64     // records with a smaller ID only (paging backwards)
	Limit     int       // at most this many, newest first (default 100, at most 1000)
}

// escapeLike makes s match itself in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// Audit returns the records q selects, newest first.
func (db *DB) Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if q.Supporter != "" {
		add(`supporter = ?`, q.Supporter)
	}
	if q.Code != "" {
		add(`code = ?`, q.Code)
	}
	if q.Addr != "" {
		add(`addrs LIKE ? ESCAPE '\'`, "%"+escapeLike(q.Addr)+"%")
	}
	if q.Text != "" {
		p := "%" + escapeLike(q.Text) + "%"
		add(`(msg LIKE ? ESCAPE '\' OR attrs LIKE ? ESCAPE '\')`, p, p)
	}
	if !q.Since.IsZero() {
		add(`at >= ?`, nanos(q.Since))
	}
	if !q.Until.IsZero() {
		add(`at < ?`, nanos(q.Until))
	}
	if q.Before > 0 {
		add(`id < ?`, q.Before)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	sqlq := `SELECT id, at, level, msg, supporter, code, session, addrs, attrs FROM audit`
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.query(ctx, sqlq, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var r AuditRecord
		var at int64
		var addrs string
		if err := rows.Scan(&r.ID, &at, &r.Level, &r.Msg, &r.Supporter, &r.Code, &r.Session, &addrs, &r.Attrs); err != nil {
			return nil, err
		}
		r.At = fromNanos(at)
		if addrs != "" {
			r.Addrs = strings.Fields(addrs)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
