package main

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/store"
)

func users(t *testing.T, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := runUsers(append([]string{"-data", dir}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsers(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		stdin  string
		args   []string
		code   int
		stdout string // a part of it
		stderr string
	}{
		{"", nil, 2, "", "usage"},
		{"a good password\n", []string{"add", "anna", "-name", "Anna Berger", "-team", "Acme Support", "-role", "admin"}, 0, "added anna (admin)", ""},
		{"a good password\n", []string{"add", "anna"}, 1, "", "already exists"},
		{"short\n", []string{"add", "bert"}, 1, "", "at least 10 characters"},
		{"", []string{"add", "bert"}, 1, "", "no password on stdin"},
		{"a good password\n", []string{"add", "Bad Name"}, 1, "", "a user name is"},
		{"a good password\n", []string{"add", "bert", "-role", "root"}, 2, "", "supporter or admin"},
		{"bert's password\n", []string{"add", "bert", "-name", "Bert <script>\x1b[2J"}, 0, "added bert (supporter)", ""},
		{"", []string{"add", "carla", "-oidc-only"}, 0, "added carla", ""},
		{"", []string{"list"}, 0, "Anna Berger        Acme Support  admin", ""},
		{"", []string{"role", "anna", "supporter"}, 1, "", "last enabled admin"},
		{"", []string{"role", "bert", "admin"}, 0, "bert is now admin", ""},
		{"", []string{"disable", "anna"}, 0, "anna disabled", ""},
		{"", []string{"disable", "nobody"}, 1, "", "not found"},
		{"", []string{"disable", "bert"}, 1, "", "last enabled admin"},
		{"", []string{"enable", "anna"}, 0, "anna enabled", ""},
		{"another password\n", []string{"passwd", "anna"}, 0, "password of anna changed", ""},
		{"another password\n", []string{"passwd", "nobody"}, 1, "", "not found"},
		{"", []string{"totp-reset", "anna"}, 0, "second factor of anna turned off", ""},
		{"", []string{"frobnicate"}, 2, "", "unknown command"},
	} {
		code, out, errs := users(t, dir, tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errs, tc.stderr) {
			t.Errorf("users %q: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, out, errs, tc.code, tc.stdout, tc.stderr)
		}
	}
	_, out, _ := users(t, dir, "", "list")
	if strings.Contains(out, "\x1b") {
		t.Errorf("a display name reached the terminal raw: %q", out)
	}
	if !strings.Contains(out, "Bert <script>?[2J") {
		t.Errorf("list: %q", out)
	}
	// What was written is what the desk reads.
	db, err := store.OpenSQLite(context.Background(), filepath.Join(dir, store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := auth.NewService(db, nil)
	a, err := svc.CheckPassword(context.Background(), "anna", "another password", netip.Addr{})
	if err != nil || a.DisplayName != "Anna Berger" || a.Team != "Acme Support" || a.Role != store.RoleAdmin {
		t.Fatalf("%+v %v", a, err)
	}
}
