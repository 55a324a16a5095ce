//go:build interop && linux

package store

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
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
	once sync.Once
	addr string
	err  error
	n    int
	mu   sync.Mutex
}

// pgBin finds a PostgreSQL program: on PATH, or in Debian's versioned folder.
func pgBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(m) == 0 {
		return "", fmt.Errorf("%s not found: install Debian's postgresql (bash .ci/deps.sh)", name)
	}
	return m[len(m)-1], nil
}

// asPostgres runs a PostgreSQL program as the postgres user when the test
// runs as root (initdb refuses root).
func asPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func startPostgres() (string, error) {
	initdb, err := pgBin("initdb")
	if err != nil {
		return "", err
	}
	pgctl, err := pgBin("pg_ctl")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "lifebuoy-pg-")
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return "", err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", fmt.Errorf("no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chmod(dir, 0o755)
		if err := os.Chown(data, uid, gid); err != nil {
			return "", err
		}
	}
	if out, err := asPostgres(initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off", port, data)
	if out, err := asPostgres(pgctl, "-D", data, "-o", opts, "-w", "-t", "30", "-l", filepath.Join(data, "log"), "start").CombinedOutput(); err != nil {
		return "", fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	stopPG = func() {
		asPostgres(pgctl, "-D", data, "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}

var stopPG = func() {}

func TestMain(m *testing.M) {
	code := m.Run()
	stopPG()
	os.Exit(code)
}

func openPostgres(t *testing.T) *DB {
	t.Helper()
	pg.once.Do(func() { pg.addr, pg.err = startPostgres() })
	if pg.err != nil {
		t.Fatal(pg.err)
	}
	pg.mu.Lock()
	pg.n++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), pg.n)
	pg.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", "postgres://postgres@"+pg.addr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	sdb, err := sql.Open("pgx", "postgres://postgres@"+pg.addr+"/"+name+"?sslmode=disable")
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
