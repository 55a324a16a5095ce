package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// WebSession is a signed-in console session. The browser holds a random
// token; the database holds only its hash, so a copy of the database
// cannot be used to sign in.
type WebSession struct {
	Hash      string
	Account   string
	Created   time.Time
	LastSeen  time.Time
	Expires   time.Time // the absolute end, whatever the activity
	Addr      string
	UserAgent string
	Method    string // "password", "password+totp", "password+recovery", "oidc"
}

// CreateWebSession stores a new console session.
func (db *DB) CreateWebSession(ctx context.Context, s WebSession) error {
	_, err := db.exec(ctx, `INSERT INTO web_sessions (hash, account, created_at, last_seen, expires_at, addr, user_agent, method)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Hash, s.Account, nanos(s.Created), nanos(s.LastSeen), nanos(s.Expires), s.Addr, s.UserAgent, s.Method)
	return err
}

// WebSession returns the session with the given token hash.
func (db *DB) WebSession(ctx context.Context, hash string) (WebSession, error) {
	var s WebSession
	var c, l, e int64
	err := db.queryRow(ctx, `SELECT hash, account, created_at, last_seen, expires_at, addr, user_agent, method
		FROM web_sessions WHERE hash = ?`, hash).Scan(&s.Hash, &s.Account, &c, &l, &e, &s.Addr, &s.UserAgent, &s.Method)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	s.Created, s.LastSeen, s.Expires = fromNanos(c), fromNanos(l), fromNanos(e)
	return s, err
}

// TouchWebSession moves a session's last activity to t.
func (db *DB) TouchWebSession(ctx context.Context, hash string, t time.Time) error {
	_, err := db.exec(ctx, `UPDATE web_sessions SET last_seen = ? WHERE hash = ?`, nanos(t), hash)
	return err
}

// DeleteWebSession ends one session (signing out).
func (db *DB) DeleteWebSession(ctx context.Context, hash string) error {
	_, err := db.exec(ctx, `DELETE FROM web_sessions WHERE hash = ?`, hash)
	return err
}

// DeleteWebSessions ends every session of an account ("sign out
// everywhere", a password change, a disabled account).
func (db *DB) DeleteWebSessions(ctx context.Context, account string) error {
	_, err := db.exec(ctx, `DELETE FROM web_sessions WHERE account = ?`, account)
	return err
}

// ExpireWebSessions deletes sessions past their absolute end or idle
// since before idleSince.
func (db *DB) ExpireWebSessions(ctx context.Context, now, idleSince time.Time) (int64, error) {
	res, err := db.exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= ? OR last_seen < ?`, nanos(now), nanos(idleSince))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// APIToken is a per-account token for the REST API and the bridge. As
// with sessions, only the hash of the secret is stored; ID is a short
// public handle to list and revoke it by.
type APIToken struct {
	Hash     string
	ID       string
	Account  string
	Label    string
	Created  time.Time
	LastUsed time.Time
}

// CreateAPIToken stores a token.
func (db *DB) CreateAPIToken(ctx context.Context, t APIToken) error {
	_, err := db.exec(ctx, `INSERT INTO api_tokens (hash, id, account, label, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.Hash, t.ID, t.Account, t.Label, nanos(t.Created))
	return err
}

// APITokenByHash finds a token by the hash of its secret.
func (db *DB) APITokenByHash(ctx context.Context, hash string) (APIToken, error) {
	var t APIToken
	var c, l int64
	err := db.queryRow(ctx, `SELECT hash, id, account, label, created_at, last_used FROM api_tokens WHERE hash = ?`, hash).
		Scan(&t.Hash, &t.ID, &t.Account, &t.Label, &c, &l)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	t.Created, t.LastUsed = fromNanos(c), fromNanos(l)
	return t, err
}

// APITokens lists an account's tokens, newest first.
func (db *DB) APITokens(ctx context.Context, account string) ([]APIToken, error) {
	rows, err := db.query(ctx, `SELECT hash, id, account, label, created_at, last_used FROM api_tokens
		WHERE account = ? ORDER BY created_at DESC`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		var t APIToken
		var c, l int64
		if err := rows.Scan(&t.Hash, &t.ID, &t.Account, &t.Label, &c, &l); err != nil {
			return nil, err
		}
		t.Created, t.LastUsed = fromNanos(c), fromNanos(l)
		out = append(out, t)
	}
	return out, rows.Err()
}

// TouchAPIToken records a token's use.
func (db *DB) TouchAPIToken(ctx context.Context, hash string, t time.Time) error {
	_, err := db.exec(ctx, `UPDATE api_tokens SET last_used = ? WHERE hash = ?`, nanos(t), hash)
	return err
}

// DeleteAPIToken revokes an account's token by its public ID.
func (db *DB) DeleteAPIToken(ctx context.Context, account, id string) error {
	res, err := db.exec(ctx, `DELETE FROM api_tokens WHERE account = ? AND id = ?`, account, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
