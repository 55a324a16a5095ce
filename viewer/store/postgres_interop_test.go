//go:build interop && linux

package store

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"lifebuoy/rfb/rfbtest/pgtest"
)

// The store's tests run against a real PostgreSQL too: a private server
// started for the test process (initdb into a temporary folder, trust
// authentication on a loopback port), one database per test.
func init() {
	openers = append(openers, struct {
		name string
		open func(t *testing.T) *DB
	}{"postgres", openPostgres})
}

var pg struct {
	once   sync.Once
	server *pgtest.Server
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pg.server != nil {
		pg.server.Remove()
	}
	os.Exit(code)
}

func openPostgres(t *testing.T) *DB {
	t.Helper()
	pg.once.Do(func() { pg.server, pg.err = pgtest.Start() })
	if pg.err != nil {
		t.Fatal(pg.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := pg.server.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sdb, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Wrap(ctx, sdb, Postgres)
	if err != nil {
		sdb.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The migrations run once on PostgreSQL, and a second Wrap applies none.
func TestPostgresMigrations(t *testing.T) {
	db := openPostgres(t)
	ctx := context.Background()
	if v, err := db.Version(ctx); err != nil || v != SchemaVersion() {
		t.Fatalf("version %d, %v", v, err)
	}
	if err := db.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Fatalf("%d migrations recorded: %v", n, err)
	}
	if !strings.Contains(db.rebind("a = ? AND b = ?"), "$2") {
		t.Fatal("no rebinding for PostgreSQL")
	}
}

// Brokers of a cluster start together on one fresh database: their
// migrations take turns (an advisory lock), so every one opens it and the
// migrations are recorded once.
func TestPostgresMigrateTogether(t *testing.T) {
	pg.once.Do(func() { pg.server, pg.err = pgtest.Start() })
	if pg.err != nil {
		t.Fatal(pg.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dsn, err := pg.server.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const brokers = 4
	dbs := make([]*DB, brokers)
	errs := make([]error, brokers)
	var wg sync.WaitGroup
	for i := range brokers {
		wg.Go(func() {
			sdb, err := sql.Open("pgx", dsn)
			if err != nil {
				errs[i] = err
				return
			}
			if dbs[i], errs[i] = Wrap(ctx, sdb, Postgres); errs[i] != nil {
				sdb.Close()
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("broker %d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	var n int
	if err := dbs[0].queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Fatalf("%d migrations recorded: %v", n, err)
	}
}
