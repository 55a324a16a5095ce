package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Role is what an account may do.
type Role string

// Roles.
const (
	RoleSupporter Role = "supporter" // issues and redeems codes, sees and ends its own sessions
	RoleAdmin     Role = "admin"     // also every session, the accounts and the audit log
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleSupporter || r == RoleAdmin }

// Account is a supporter's account.
type Account struct {
	Name        string // the login name, unique, never changes
	DisplayName string // "Anna Berger"
	Team        string // "Acme Support"
	Role        Role
	Disabled    bool

	PasswordHash string // PHC string (Argon2id); "" when the account signs in only through OIDC
	TOTPSecret   string // base32; "" when no second factor is set up
	TOTPLastStep int64  // the last time step accepted, so a code is never used twice

	OIDCIssuer, OIDCSubject string // the provider's identity, when linked

	Created, Updated time.Time
}

const accountCols = `name, display_name, team, role, password_hash, totp_secret, totp_last_step, disabled,
	COALESCE(oidc_issuer, ''), COALESCE(oidc_subject, ''), created_at, updated_at`

func scanAccount(sc interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var disabled int
	var created, updated int64
	err := sc.Scan(&a.Name, &a.DisplayName, &a.Team, &a.Role, &a.PasswordHash, &a.TOTPSecret, &a.TOTPLastStep,
		&disabled, &a.OIDCIssuer, &a.OIDCSubject, &created, &updated)
	a.Disabled = disabled != 0
	a.Created, a.Updated = fromNanos(created), fromNanos(updated)
	return a, err
}

// CreateAccount adds an account; ErrExists if the name is taken.
func (db *DB) CreateAccount(ctx context.Context, a Account) error {
	if a.Name == "" || !a.Role.Valid() {
		return fmt.Errorf("account %q: a name and a role (supporter or admin) are needed", a.Name)
	}
	now := nanos(db.now())
	var iss, sub any
	if a.OIDCIssuer != "" {
		iss, sub = a.OIDCIssuer, a.OIDCSubject
	}
	_, err := db.exec(ctx, `INSERT INTO accounts (name, display_name, team, role, password_hash, totp_secret, disabled,
		oidc_issuer, oidc_subject, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Name, a.DisplayName, a.Team, string(a.Role), a.PasswordHash, a.TOTPSecret, boolInt(a.Disabled), iss, sub, now, now)
	if isUnique(err) {
		return fmt.Errorf("account %q: %w", a.Name, ErrExists)
	}
	return err
}

// Account returns the account called name; ErrNotFound if there is none.
func (db *DB) Account(ctx context.Context, name string) (Account, error) {
	a, err := scanAccount(db.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	return a, err
}

// AccountByOIDC returns the account linked to an OIDC identity.
func (db *DB) AccountByOIDC(ctx context.Context, issuer, subject string) (Account, error) {
	a, err := scanAccount(db.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE oidc_issuer = ? AND oidc_subject = ?`, issuer, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// Accounts lists every account by name.
func (db *DB) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := db.query(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// CountAdmins is the number of enabled admin accounts.
func (db *DB) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE role = ? AND disabled = 0`, string(RoleAdmin)).Scan(&n)
	return n, err
}

// update runs one UPDATE of an account's row and reports ErrNotFound when
// no row matched.
func (db *DB) update(ctx context.Context, name, set string, args ...any) error {
	args = append(append(args, nanos(db.now())), name)
	res, err := db.exec(ctx, `UPDATE accounts SET `+set+`, updated_at = ? WHERE name = ?`, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	return nil
}

// SetPassword replaces an account's password hash.
func (db *DB) SetPassword(ctx context.Context, name, hash string) error {
	return db.update(ctx, name, `password_hash = ?`, hash)
}

// SetRole changes an account's role.
func (db *DB) SetRole(ctx context.Context, name string, r Role) error {
	if !r.Valid() {
		return fmt.Errorf("role %q: want supporter or admin", r)
	}
	return db.update(ctx, name, `role = ?`, string(r))
}

// SetProfile changes an account's display name and team.
func (db *DB) SetProfile(ctx context.Context, name, displayName, team string) error {
	return db.update(ctx, name, `display_name = ?, team = ?`, displayName, team)
}

// SetDisabled disables or enables an account. Disabling also deletes its
// console sessions and API tokens, so nothing signed in stays signed in.
func (db *DB) SetDisabled(ctx context.Context, name string, disabled bool) error {
	if err := db.update(ctx, name, `disabled = ?`, boolInt(disabled)); err != nil {
		return err
	}
	if !disabled {
		return nil
	}
	if _, err := db.exec(ctx, `DELETE FROM web_sessions WHERE account = ?`, name); err != nil {
		return err
	}
	_, err := db.exec(ctx, `DELETE FROM api_tokens WHERE account = ?`, name)
	return err
}

// SetTOTP sets (or with "" removes) an account's TOTP secret, and replaces
// its recovery codes with the given hashes.
func (db *DB) SetTOTP(ctx context.Context, name, secret string, recoveryHashes []string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, db.rebind(`UPDATE accounts SET totp_secret = ?, totp_last_step = 0, updated_at = ? WHERE name = ?`),
		secret, nanos(db.now()), name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM recovery_codes WHERE account = ?`), name); err != nil {
		return err
	}
	for _, h := range recoveryHashes {
		if _, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO recovery_codes (account, hash) VALUES (?, ?)`), name, h); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// UseTOTPStep records that a TOTP code of time step step was accepted. It
// returns false, and records nothing, if that step or a later one was
// already used: a code is good once.
func (db *DB) UseTOTPStep(ctx context.Context, name string, step int64) (bool, error) {
	res, err := db.exec(ctx, `UPDATE accounts SET totp_last_step = ? WHERE name = ? AND totp_last_step < ?`, step, name, step)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// UseRecoveryCode spends the unused recovery code with the given hash;
// false if there is none.
func (db *DB) UseRecoveryCode(ctx context.Context, name, hash string) (bool, error) {
	res, err := db.exec(ctx, `UPDATE recovery_codes SET used_at = ? WHERE account = ? AND hash = ? AND used_at = 0`,
		nanos(db.now()), name, hash)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RecoveryCodesLeft counts an account's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, name string) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE account = ? AND used_at = 0`, name).Scan(&n)
	return n, err
}

// LinkOIDC links an account to an OIDC identity.
func (db *DB) LinkOIDC(ctx context.Context, name, issuer, subject string) error {
	err := db.update(ctx, name, `oidc_issuer = ?, oidc_subject = ?`, issuer, subject)
	if isUnique(err) {
		return fmt.Errorf("that identity is linked to another account: %w", ErrExists)
	}
	return err
}
