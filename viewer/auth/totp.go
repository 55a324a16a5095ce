package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP follows RFC 6238 as authenticator apps expect it: SHA-1, 6
// digits, 30-second steps. A code of the step before or after is
// accepted (clock skew), and no step is accepted twice.
const (
	totpPeriod = 30
	totpSkew   = 1
)

// TOTPKey is a new TOTP secret for an account, with what an authenticator
// app needs to take it.
type TOTPKey struct {
	Secret string // base32, what the database keeps
	URL    string // otpauth://totp/...
	QRPNG  []byte // the URL as a QR code
}

// NewTOTPKey makes a secret for account, labelled with issuer in the app.
func NewTOTPKey(issuer, account string) (TOTPKey, error) {
	return totpKey(issuer, account, nil)
}

// TOTPKeyFromSecret is the key for a secret made earlier (to show the
// same QR code again after a mistyped confirmation).
func TOTPKeyFromSecret(issuer, account, secret string) (TOTPKey, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil || len(raw) < 10 {
		return TOTPKey{}, errors.New("not a TOTP secret")
	}
	return totpKey(issuer, account, raw)
}

func totpKey(issuer, account string, secret []byte) (TOTPKey, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Secret: secret})
	if err != nil {
		return TOTPKey{}, err
	}
	img, err := k.Image(240, 240)
	if err != nil {
		return TOTPKey{}, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPKey{}, err
	}
	return TOTPKey{Secret: k.Secret(), URL: k.URL(), QRPNG: buf.Bytes()}, nil
}

// TOTPCode is the code for secret at t (what the app shows), for tests
// and for the CLI's own checks.
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// matchTOTP returns the time step whose code is code, within the skew
// around now; ok is false if none matches.
func matchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != 6 {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// RecoveryCodeCount is how many recovery codes an account gets with TOTP.
const RecoveryCodeCount = 10

// NewRecoveryCodes makes single-use recovery codes ("3f9a-07c2-b18e-d455",
// 64 bits each) and the hashes the database keeps.
func NewRecoveryCodes() (codes, hashes []string) {
	for range RecoveryCodeCount {
		b := make([]byte, 8)
		rand.Read(b)
		s := hex.EncodeToString(b)
		c := s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
		codes = append(codes, c)
		hashes = append(hashes, hashRecoveryCode(c))
	}
	return codes, hashes
}

// hashRecoveryCode hashes a code as typed: case, spaces and dashes do not
// matter. The codes are random and long, so a plain SHA-256 suffices.
func hashRecoveryCode(c string) string {
	c = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(c))
	sum := sha256.Sum256([]byte("lifebuoy-recovery:" + c))
	return hex.EncodeToString(sum[:])
}
