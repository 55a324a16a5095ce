// Package pgtest starts a private PostgreSQL server for tests: Debian's
// initdb and pg_ctl into a temporary folder, trust authentication on a
// loopback port, run as the postgres user when the test runs as root
// (initdb refuses root). Only the interop tests use it.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running (or stopped) private PostgreSQL.
type Server struct {
	Addr  string // 127.0.0.1:port
	dir   string
	data  string
	pgctl string
	opts  string
	n     atomic.Int64
}

// bin finds a PostgreSQL program: on PATH, or in Debian's versioned folder.
func bin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(m) == 0 {
		return "", fmt.Errorf("%s not found: install Debian's postgresql (bash .ci/deps.sh)", name)
	}
	return m[len(m)-1], nil
}

func asPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

// Start makes and starts a server. Stop it with Remove.
func Start() (*Server, error) {
	initdb, err := bin("initdb")
	if err != nil {
		return nil, err
	}
	pgctl, err := bin("pg_ctl")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lifebuoy-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, data: filepath.Join(dir, "data"), pgctl: pgctl}
	if err := os.Mkdir(s.data, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chmod(dir, 0o755)
		if err := os.Chown(s.data, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := asPostgres(initdb, "-D", s.data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.opts = fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off -c max_connections=200", port, s.data)
	if err := s.Restart(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Restart starts the server again after Stop (or the first time).
func (s *Server) Restart() error {
	if out, err := asPostgres(s.pgctl, "-D", s.data, "-o", s.opts, "-w", "-t", "30", "-l", filepath.Join(s.data, "log"), "start").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return nil
}

// Stop stops the server at once (existing connections break).
func (s *Server) Stop() error {
	if out, err := asPostgres(s.pgctl, "-D", s.data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Remove stops the server and deletes its files.
func (s *Server) Remove() {
	s.Stop()
	os.RemoveAll(s.dir)
}

// NewDatabase makes a fresh database and returns its DSN.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, "postgres://postgres@"+s.Addr+"/postgres?sslmode=disable")
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.n.Add(1))
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return "postgres://postgres@" + s.Addr + "/" + name + "?sslmode=disable", nil
}
