package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's Password Storage Cheat Sheet's first
// choice (m = 19 MiB, t = 2, p = 1). They are stored with every hash
// (PHC string format), so they can be raised later; a hash made with
// weaker ones is redone at the next sign-in.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32

	// Bounds on what a stored hash may ask for, so a damaged row cannot
	// make a sign-in allocate gigabytes.
	maxArgonMemory = 1 << 20 // KiB (1 GiB)
	maxArgonTime   = 16
)

// Password rules: long enough to resist guessing, and nothing else
// (NIST SP 800-63B: no composition rules).
const (
	MinPasswordLen = 10   // characters
	MaxPasswordLen = 1024 // bytes
)

// Errors of password handling.
var (
	ErrPasswordTooShort = fmt.Errorf("a password needs at least %d characters", MinPasswordLen)
	ErrPasswordTooLong  = fmt.Errorf("a password may have at most %d bytes", MaxPasswordLen)
	errBadHash          = errors.New("the stored password hash is not an Argon2id PHC string")
)

// CheckPasswordRules reports why pw is not an acceptable new password.
func CheckPasswordRules(pw string) error {
	if len(pw) > MaxPasswordLen {
		return ErrPasswordTooLong
	}
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return ErrPasswordTooShort
	}
	return nil
}

// argonSlots bounds the hashes computed at once: each takes 19 MiB and a
// core for about 30 ms, and a burst of sign-ins must not exhaust memory.
var argonSlots = make(chan struct{}, 2)

func argonKey(pw, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	argonSlots <- struct{}{}
	defer func() { <-argonSlots }()
	return argon2.IDKey(pw, salt, t, m, p, n)
}

// HashPassword hashes pw with Argon2id and a random salt into a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded base64).
func HashPassword(pw string) (string, error) {
	if len(pw) > MaxPasswordLen {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argonKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

type phc struct {
	m, t      uint32
	p         uint8
	salt, key []byte
}

func parsePHC(s string) (phc, error) {
	var h phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return h, errBadHash
	}
	var p uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.m, &h.t, &p); err != nil {
		return h, errBadHash
	}
	if h.m == 0 || h.m > maxArgonMemory || h.t == 0 || h.t > maxArgonTime || p == 0 || p > 255 {
		return h, errBadHash
	}
	h.p = uint8(p)
	var err1, err2 error
	h.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	h.key, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(h.salt) < 8 || len(h.key) < 16 || len(h.key) > 64 {
		return h, errBadHash
	}
	return h, nil
}

// VerifyPassword reports whether pw matches the PHC hash, and whether the
// hash should be redone with today's parameters.
func VerifyPassword(hash, pw string) (ok, rehash bool, err error) {
	h, err := parsePHC(hash)
	if err != nil {
		return false, false, err
	}
	if len(pw) > MaxPasswordLen {
		return false, false, nil
	}
	key := argonKey([]byte(pw), h.salt, h.t, h.m, h.p, uint32(len(h.key)))
	ok = subtle.ConstantTimeCompare(key, h.key) == 1
	rehash = h.m < argonMemory || h.t < argonTime || len(h.key) < argonKeyLen
	return ok, rehash, nil
}

// dummyHash is verified against when an account does not exist or has no
// password, so that the answer takes as long as for a real one.
var dummyHash = func() string {
	h, _ := HashPassword("lifebuoy-no-such-account")
	return h
}()
