// Package auth signs supporters in to the desk: passwords hashed with
// Argon2id, TOTP as the second factor with single-use recovery codes,
// OpenID Connect through the company's provider, server-side console
// sessions with idle and absolute expiry, per-account API tokens, and a
// throttle on failed sign-ins per account and per address.
//
// A console sign-in is two steps when the account has TOTP:
//
//	a, err := svc.CheckPassword(ctx, name, password, addr)   // *ThrottledError, ErrBadCredentials...
//	if a.TOTPSecret != "" {
//		method, err = svc.CheckSecondFactor(ctx, a.Name, code, addr)
//	}
//	token, err := svc.NewWebSession(ctx, a.Name, addr, userAgent, method)
//
// and every later request is svc.WebSession(ctx, token). The database
// keeps only hashes of session tokens, API tokens and recovery codes.
package auth
