package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers "sqlite"
)

// SQLiteFile is the database's name in the data directory.
const SQLiteFile = "desk.db"

// Dialect is the SQL flavour of the database behind a DB.
type Dialect uint8

// Dialects.
const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// DB is the desk's database.
type DB struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
}

// OpenSQLite opens (creating it if needed) the SQLite database at path,
// with the write-ahead log and a busy timeout, and migrates it.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	// _pragma parameters are applied by modernc.org/sqlite on every new
	// connection of the pool.
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One writer at a time is SQLite's model; a small pool keeps readers
	// concurrent while writers queue on the busy timeout.
	sdb.SetMaxOpenConns(4)
	db := &DB{db: sdb, dialect: SQLite, now: time.Now}
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

// Wrap uses an open database/sql handle of the given dialect (for
// PostgreSQL: a pgx stdlib handle) and migrates it.
func Wrap(ctx context.Context, sdb *sql.DB, d Dialect) (*DB, error) {
	db := &DB{db: sdb, dialect: d, now: time.Now}
	if err := db.migrate(ctx); err != nil {
		return nil, err
	}
	return db, nil
}

// SetClock replaces time.Now, for tests.
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// Reachable tells whether the database answers now: a ping bounded by
// pingTimeout. A PostgreSQL that is down or unreachable fails it; the
// handle reconnects by itself once it is back.
func (db *DB) Reachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	return db.db.PingContext(ctx)
}

// pingTimeout bounds Reachable.
const pingTimeout = 2 * time.Second

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// Dialect is the database's SQL flavour.
func (db *DB) Dialect() Dialect { return db.dialect }

// rebind turns the "?" placeholders of a portable query into the
// dialect's own ($1, $2, ... for PostgreSQL). Queries never hold a
// literal "?".
func (db *DB) rebind(q string) string {
	if db.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.db.ExecContext(ctx, db.rebind(q), args...)
}

func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.db.QueryContext(ctx, db.rebind(q), args...)
}

func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.db.QueryRowContext(ctx, db.rebind(q), args...)
}

// nanos is a time as stored: Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isUnique reports whether err is a unique-constraint violation, in
// either dialect's words.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "duplicate key value")
}
