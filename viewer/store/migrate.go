package store

import (
	"context"
	"fmt"
	"strings"
)

// migration is one numbered step of the schema. Its SQL is portable but
// for the word AUTOID, which becomes the dialect's auto-numbered primary
// key. Statements are separated by ";\n".
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are applied in order; never edit one that has shipped, add
// the next.
var migrations = []migration{
	{1, "accounts, second factors, console sessions, API tokens, audit", `
CREATE TABLE accounts (
	name                TEXT PRIMARY KEY,
	display_name        TEXT NOT NULL,
	team                TEXT NOT NULL DEFAULT '',
	role                TEXT NOT NULL,
	password_hash       TEXT NOT NULL DEFAULT '',
	totp_secret         TEXT NOT NULL DEFAULT '',
	totp_last_step      BIGINT NOT NULL DEFAULT 0,
	disabled            INTEGER NOT NULL DEFAULT 0,
	oidc_issuer         TEXT,
	oidc_subject        TEXT,
	created_at          BIGINT NOT NULL,
	updated_at          BIGINT NOT NULL,
	UNIQUE (oidc_issuer, oidc_subject)
);
CREATE TABLE recovery_codes (
	account  TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
	hash     TEXT NOT NULL,
	used_at  BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (account, hash)
);
CREATE TABLE web_sessions (
	hash        TEXT PRIMARY KEY,
	account     TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
	created_at  BIGINT NOT NULL,
	last_seen   BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL,
	addr        TEXT NOT NULL DEFAULT '',
	user_agent  TEXT NOT NULL DEFAULT '',
	method      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_account ON web_sessions (account);
CREATE TABLE api_tokens (
	hash        TEXT PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	account     TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
	label       TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL,
	last_used   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_account ON api_tokens (account);
CREATE TABLE audit (
	id         AUTOID,
	at         BIGINT NOT NULL,
	level      TEXT NOT NULL,
	msg        TEXT NOT NULL,
	supporter  TEXT NOT NULL DEFAULT '',
	code       TEXT NOT NULL DEFAULT '',
	session    TEXT NOT NULL DEFAULT '',
	addrs      TEXT NOT NULL DEFAULT '',
	attrs      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_supporter ON audit (supporter, at);
CREATE INDEX audit_code ON audit (code, at)`},
}

func (db *DB) autoID() string {
	if db.dialect == Postgres {
		return "BIGSERIAL PRIMARY KEY"
	}
	return "INTEGER PRIMARY KEY AUTOINCREMENT"
}

// SchemaVersion is the version of the newest migration this build knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// migrateLock is the PostgreSQL advisory lock under which a broker
// migrates: the brokers of a cluster share the database and start
// together.
const migrateLock = 7465737

// migrate applies the migrations the database lacks. On PostgreSQL it
// holds an advisory lock meanwhile, on a connection of its own, so that
// brokers starting together migrate one after another.
func (db *DB) migrate(ctx context.Context) error {
	if db.dialect == Postgres {
		c, err := db.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		defer c.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)
	}
	if _, err := db.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version     INTEGER PRIMARY KEY,
		name        TEXT NOT NULL,
		applied_at  BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	have, err := db.Version(ctx)
	if err != nil {
		return err
	}
	if have > SchemaVersion() {
		return fmt.Errorf("the database has schema version %d, newer than this build's %d: run a newer broker", have, SchemaVersion())
	}
	for _, m := range migrations {
		if m.version <= have {
			continue
		}
		if err := db.apply(ctx, m); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func (db *DB) apply(ctx context.Context, m migration) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range strings.Split(m.sql, ";\n") {
		stmt = strings.ReplaceAll(stmt, "AUTOID", db.autoID())
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w\n%s", err, stmt)
		}
	}
	if _, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.version, m.name, nanos(db.now())); err != nil {
		return err
	}
	return tx.Commit()
}

// Version is the newest migration applied to the database (0: none).
func (db *DB) Version(ctx context.Context) (int, error) {
	var v int
	err := db.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
