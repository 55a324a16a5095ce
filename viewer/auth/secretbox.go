package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TOTP secrets are kept encrypted (AES-256-GCM) under a key that lives
// beside the database, not in it (SecretKeyFile in the data directory),
// so that a copy of the database alone, a backup or a dump of a shared
// PostgreSQL, does not give away anyone's second factor. Brokers that
// share one database share the key file too.

// SecretKeyFile is the key's name in the data directory.
const SecretKeyFile = "desk.key"

// sealedPrefix marks an encrypted value; a value without it is a secret
// stored before encryption (or without a key) and is read as it is.
const sealedPrefix = "gcm1:"

// LoadOrCreateSecretKey reads the 32-byte key at path, or makes one
// (mode 0600) if there is none.
func LoadOrCreateSecretKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("%s: want 32 bytes, found %d", path, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	rand.Read(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	return b, f.Close()
}

// SetSecretKey makes the service keep TOTP secrets encrypted under key
// (32 bytes).
func (s *Service) SetSecretKey(key []byte) error {
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	if len(key) != 32 {
		return errors.New("the secret key must be 32 bytes")
	}
	s.aead, err = cipher.NewGCM(block)
	return err
}

// seal encrypts a secret for the database, bound to its account.
func (s *Service) seal(account, secret string) string {
	if s.aead == nil || secret == "" {
		return secret
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte(account))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out)
}

// open decrypts a secret from the database.
func (s *Service) open(account, stored string) (string, error) {
	b64, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, nil
	}
	if s.aead == nil {
		return "", errors.New("a TOTP secret is encrypted, and this broker has no key (" + SecretKeyFile + ")")
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", errors.New("a stored TOTP secret is damaged")
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(account))
	if err != nil {
		return "", errors.New("a stored TOTP secret does not open with this broker's key (" + SecretKeyFile + ")")
	}
	return string(plain), nil
}
