package store

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openers make an empty, migrated database of each dialect the tests
// run against: SQLite always, PostgreSQL in the interop tests
// (postgres_interop_test.go).
var openers = []struct {
	name string
	open func(t *testing.T) *DB
}{{"sqlite", openSQLite}}

func openSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// eachDialect runs test once per database dialect.
func eachDialect(t *testing.T, test func(t *testing.T, db *DB)) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) { test(t, o.open(t)) })
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), SQLiteFile)
	db, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.Version(ctx); err != nil || v != SchemaVersion() {
		t.Fatalf("version %d, %v; want %d", v, err, SchemaVersion())
	}
	db.Close()
	// Opening again applies nothing and keeps the data.
	db, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccount(ctx, Account{Name: "anna", DisplayName: "Anna", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	// A database from a newer build is refused, not misread.
	if _, err := db.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenSQLite(ctx, path); err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestRebind(t *testing.T) {
	db := &DB{dialect: Postgres}
	if got := db.rebind(`SELECT a FROM t WHERE b = ? AND c < ?`); got != `SELECT a FROM t WHERE b = $1 AND c < $2` {
		t.Fatal(got)
	}
	db.dialect = SQLite
	if got := db.rebind(`x = ?`); got != `x = ?` {
		t.Fatal(got)
	}
}

func TestAccounts(t *testing.T) { eachDialect(t, testAccounts) }

func testAccounts(t *testing.T, db *DB) {
	ctx := context.Background()
	a := Account{Name: "anna", DisplayName: "Anna Berger", Team: "Acme Support", Role: RoleSupporter, PasswordHash: "h"}
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccount(ctx, a); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := db.CreateAccount(ctx, Account{Name: "x", Role: "root"}); err == nil {
		t.Fatal("bad role accepted")
	}
	got, err := db.Account(ctx, "anna")
	if err != nil || got.DisplayName != "Anna Berger" || got.Team != "Acme Support" || got.Role != RoleSupporter || got.Created.IsZero() {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := db.Account(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if err := db.SetRole(ctx, "anna", RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountAdmins(ctx); n != 1 {
		t.Fatalf("admins %d", n)
	}
	if err := db.SetRole(ctx, "nobody", RoleAdmin); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if err := db.SetPassword(ctx, "anna", "h2"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetProfile(ctx, "anna", "Anna B.", "Team 2"); err != nil {
		t.Fatal(err)
	}
	if err := db.LinkOIDC(ctx, "anna", "https://idp", "sub-1"); err != nil {
		t.Fatal(err)
	}
	byOIDC, err := db.AccountByOIDC(ctx, "https://idp", "sub-1")
	if err != nil || byOIDC.Name != "anna" || byOIDC.PasswordHash != "h2" || byOIDC.DisplayName != "Anna B." {
		t.Fatalf("%+v %v", byOIDC, err)
	}
	db.CreateAccount(ctx, Account{Name: "bert", DisplayName: "Bert", Role: RoleSupporter})
	if err := db.LinkOIDC(ctx, "bert", "https://idp", "sub-1"); !errors.Is(err, ErrExists) {
		t.Fatalf("second link of one identity: %v", err)
	}
	all, err := db.Accounts(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "anna" || all[1].Name != "bert" {
		t.Fatalf("%+v %v", all, err)
	}
}

func TestSecondFactor(t *testing.T) { eachDialect(t, testSecondFactor) }

func testSecondFactor(t *testing.T, db *DB) {
	ctx := context.Background()
	db.CreateAccount(ctx, Account{Name: "anna", DisplayName: "Anna", Role: RoleSupporter})
	if err := db.SetTOTP(ctx, "anna", "SECRET", []string{"r1", "r2"}); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		step int64
		ok   bool
	}{{100, true}, {100, false}, {99, false}, {101, true}} {
		ok, err := db.UseTOTPStep(ctx, "anna", tc.step)
		if err != nil || ok != tc.ok {
			t.Fatalf("%d: step %d: %v %v", i, tc.step, ok, err)
		}
	}
	if ok, _ := db.UseRecoveryCode(ctx, "anna", "r1"); !ok {
		t.Fatal("r1 refused")
	}
	if ok, _ := db.UseRecoveryCode(ctx, "anna", "r1"); ok {
		t.Fatal("r1 used twice")
	}
	if ok, _ := db.UseRecoveryCode(ctx, "anna", "zz"); ok {
		t.Fatal("unknown code accepted")
	}
	if n, _ := db.RecoveryCodesLeft(ctx, "anna"); n != 1 {
		t.Fatalf("left %d", n)
	}
	// Setting TOTP again replaces the codes and resets the step.
	db.SetTOTP(ctx, "anna", "NEW", []string{"r3"})
	if ok, _ := db.UseRecoveryCode(ctx, "anna", "r2"); ok {
		t.Fatal("old recovery code survived")
	}
	if ok, _ := db.UseTOTPStep(ctx, "anna", 1); !ok {
		t.Fatal("step not reset")
	}
}

func TestWebSessionsAndTokens(t *testing.T) { eachDialect(t, testWebSessionsAndTokens) }

func testWebSessionsAndTokens(t *testing.T, db *DB) {
	ctx := context.Background()
	db.CreateAccount(ctx, Account{Name: "anna", DisplayName: "Anna", Role: RoleSupporter})
	now := time.Unix(1_800_000_000, 0)
	s := WebSession{Hash: "h1", Account: "anna", Created: now, LastSeen: now, Expires: now.Add(time.Hour), Addr: "192.0.2.1", Method: "password"}
	if err := db.CreateWebSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := db.WebSession(ctx, "h1")
	if err != nil || got.Account != "anna" || !got.Expires.Equal(s.Expires) || got.Method != "password" {
		t.Fatalf("%+v %v", got, err)
	}
	db.CreateWebSession(ctx, WebSession{Hash: "h2", Account: "anna", Created: now, LastSeen: now.Add(-time.Hour), Expires: now.Add(time.Hour)})
	n, err := db.ExpireWebSessions(ctx, now, now.Add(-30*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("expired %d %v", n, err)
	}
	if _, err := db.WebSession(ctx, "h2"); !errors.Is(err, ErrNotFound) {
		t.Fatal("idle session kept")
	}
	tok := APIToken{Hash: "th", ID: "tid", Account: "anna", Label: "laptop", Created: now}
	if err := db.CreateAPIToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got, err := db.APITokenByHash(ctx, "th"); err != nil || got.ID != "tid" || got.Label != "laptop" {
		t.Fatalf("%+v %v", got, err)
	}
	db.TouchAPIToken(ctx, "th", now.Add(time.Minute))
	list, _ := db.APITokens(ctx, "anna")
	if len(list) != 1 || !list[0].LastUsed.Equal(now.Add(time.Minute)) {
		t.Fatalf("%+v", list)
	}
	// Disabling an account signs it out everywhere.
	if err := db.SetDisabled(ctx, "anna", true); err != nil {
		t.Fatal(err)
	}
	if _, err := db.WebSession(ctx, "h1"); !errors.Is(err, ErrNotFound) {
		t.Fatal("session survived disabling")
	}
	if _, err := db.APITokenByHash(ctx, "th"); !errors.Is(err, ErrNotFound) {
		t.Fatal("token survived disabling")
	}
	if err := db.DeleteAPIToken(ctx, "anna", "tid"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestAuditSinkAndQuery(t *testing.T) { eachDialect(t, testAuditSinkAndQuery) }

func testAuditSinkAndQuery(t *testing.T, db *DB) {
	ctx := context.Background()
	sink := NewAuditSink(db, nil)
	log := slog.New(sink)
	base := time.Unix(1_800_000_000, 0)
	type sup struct{ Account, Name, Team string }
	rec := func(at time.Time, msg string, args ...any) {
		r := slog.NewRecord(at, slog.LevelInfo, msg, 0)
		r.Add(args...)
		if err := sink.Handle(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rec(base, "code issued", "code", "482913", "supporter", sup{"anna", "Anna Berger", "Acme"})
	rec(base.Add(time.Second), "paired", "code", "482913", "viewer", "203.0.113.7:43542", "agent", "198.51.100.2:5000",
		slog.Group("supporter", "account", "anna", "name", "Anna Berger"))
	rec(base.Add(2*time.Second), "wrong code", "remote", "203.0.113.99:1", "delay", time.Second)
	rec(base.Add(3*time.Second), "session end", "session", "s1", "code", "111111", "supporter", "bert", "bytes", 1234, "reason", "100% <done>")
	log.With("node", "n1").WithGroup("g").Info("grouped", "code", "222222")
	sink.Close()
	sink.Close() // twice is fine
	log.Info("after close")
	if sink.Dropped() != 1 {
		t.Fatalf("dropped %d, want the one after Close", sink.Dropped())
	}

	for _, tc := range []struct {
		name string
		q    AuditQuery
		want []string
	}{
		{"all", AuditQuery{}, []string{"grouped", "session end", "wrong code", "paired", "code issued"}},
		{"supporter", AuditQuery{Supporter: "anna"}, []string{"paired", "code issued"}},
		{"code", AuditQuery{Code: "482913"}, []string{"paired", "code issued"}},
		{"addr", AuditQuery{Addr: "203.0.113.7"}, []string{"paired"}},
		{"addr prefix", AuditQuery{Addr: "203.0.113."}, []string{"wrong code", "paired"}},
		{"time", AuditQuery{Since: base.Add(time.Second), Until: base.Add(3 * time.Second)}, []string{"wrong code", "paired"}},
		{"text with LIKE characters", AuditQuery{Text: "100%"}, []string{"session end"}},
		{"percent is literal", AuditQuery{Text: "1%4"}, nil},
		{"limit", AuditQuery{Limit: 2}, []string{"grouped", "session end"}},
	} {
		got, err := db.Audit(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var msgs []string
		for _, r := range got {
			msgs = append(msgs, r.Msg)
		}
		if strings.Join(msgs, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: got %q, want %q", tc.name, msgs, tc.want)
		}
	}
	all, _ := db.Audit(ctx, AuditQuery{Code: "482913"})
	paired := all[0]
	if len(paired.Addrs) != 2 || paired.Supporter != "anna" || !strings.Contains(paired.Attrs, `"name":"Anna Berger"`) {
		t.Fatalf("%+v", paired)
	}
	g, _ := db.Audit(ctx, AuditQuery{Code: "222222"})
	if len(g) != 1 || g[0].Attrs != `{"g":{"code":"222222"},"node":"n1"}` {
		t.Fatalf("grouped: %+v", g)
	}
	// Paging backwards by ID.
	older, _ := db.Audit(ctx, AuditQuery{Before: paired.ID})
	if len(older) != 1 || older[0].Msg != "code issued" {
		t.Fatalf("before: %+v", older)
	}
}
