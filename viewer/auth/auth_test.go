package auth

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebuoy/viewer/store"
)

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T) (*Service, *clock) {
	t.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	db.SetClock(c.now)
	return NewService(db, c.now), c
}

var (
	addr1 = netip.MustParseAddr("192.0.2.1")
	addr2 = netip.MustParseAddr("2001:db8::1")
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("PHC string %q", h)
	}
	if ok, rehash, err := VerifyPassword(h, "correct horse battery"); !ok || rehash || err != nil {
		t.Fatalf("right password: %v %v %v", ok, rehash, err)
	}
	if ok, _, _ := VerifyPassword(h, "correct horse batterY"); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse battery")
	if h2 == h {
		t.Fatal("same salt twice")
	}
	// Weaker parameters verify, and ask for a rehash.
	weak := strings.Replace(h, "m=19456,t=2", "m=8192,t=1", 1)
	if _, rehash, err := VerifyPassword(weak, "x"); err != nil || !rehash {
		t.Fatalf("weak: %v %v", rehash, err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=2,p=1$!!$AA", "$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHQ$" + strings.Repeat("A", 43)} {
		if _, _, err := VerifyPassword(bad, "x"); err == nil {
			t.Errorf("bad hash %q accepted", bad)
		}
	}
	if err := CheckPasswordRules("short"); !errors.Is(err, ErrPasswordTooShort) {
		t.Fatal(err)
	}
	if err := CheckPasswordRules(strings.Repeat("ä", 10)); err != nil {
		t.Fatal("ten characters are enough whatever their bytes:", err)
	}
	if err := CheckPasswordRules(strings.Repeat("x", MaxPasswordLen+1)); !errors.Is(err, ErrPasswordTooLong) {
		t.Fatal(err)
	}
}

func FuzzVerifyPassword(f *testing.F) {
	h, _ := HashPassword("correct horse battery")
	f.Add(h, "x")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA", "pw")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		// Bound the work a fuzzed hash can ask for.
		if strings.Contains(hash, "m=") && !strings.Contains(hash, "m=8,") {
			return
		}
		VerifyPassword(hash, pw)
	})
}

func TestSignInAndSessions(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	if err := s.CreateAccount(ctx, NewAccount{Name: "anna", DisplayName: "Anna Berger", Team: "Acme Support",
		Role: store.RoleSupporter, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, NewAccount{Name: "Bad Name", Role: store.RoleSupporter}); !errors.Is(err, ErrBadName) {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, NewAccount{Name: "bert", Role: store.RoleSupporter, Password: "short"}); !errors.Is(err, ErrPasswordTooShort) {
		t.Fatal(err)
	}
	if _, err := s.CheckPassword(ctx, "anna", "wrong password!", addr1); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	if _, err := s.CheckPassword(ctx, "nobody", "correct horse battery", addr1); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	a, err := s.CheckPassword(ctx, " Anna ", "correct horse battery", addr1)
	if err != nil || a.Name != "anna" {
		t.Fatal(a, err)
	}
	tok, err := s.NewWebSession(ctx, a.Name, addr1, "test", "password")
	if err != nil {
		t.Fatal(err)
	}
	if got, ws, err := s.WebSession(ctx, tok); err != nil || got.DisplayName != "Anna Berger" || ws.Method != "password" {
		t.Fatal(got, err)
	}
	if _, _, err := s.WebSession(ctx, tok+"x"); !errors.Is(err, ErrNoSession) {
		t.Fatal("forged token:", err)
	}
	// Idle expiry: activity keeps it alive, silence ends it.
	c.add(s.SessionIdle - time.Minute)
	if _, _, err := s.WebSession(ctx, tok); err != nil {
		t.Fatal("active session ended:", err)
	}
	c.add(s.SessionIdle - time.Minute)
	if _, _, err := s.WebSession(ctx, tok); err != nil {
		t.Fatal("touched session ended:", err)
	}
	c.add(s.SessionIdle)
	if _, _, err := s.WebSession(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatal("idle session lives:", err)
	}
	// Absolute expiry, however active.
	tok, _ = s.NewWebSession(ctx, "anna", addr1, "", "password")
	for i := 0; i < 13; i++ {
		c.add(time.Hour)
		_, _, err = s.WebSession(ctx, tok)
	}
	if !errors.Is(err, ErrNoSession) {
		t.Fatal("session outlived SessionMax:", err)
	}
	// A password change signs out everywhere.
	tok, _ = s.NewWebSession(ctx, "anna", addr1, "", "password")
	if err := s.ChangePassword(ctx, "anna", "another good password"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.WebSession(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatal("session survived a password change")
	}
	// API tokens; disabling revokes them.
	apiTok, id, err := s.NewAPIToken(ctx, "anna", "laptop")
	if err != nil || id == "" || !strings.HasPrefix(apiTok, "lbt_") {
		t.Fatal(apiTok, id, err)
	}
	if got, err := s.APIToken(ctx, apiTok); err != nil || got.Name != "anna" {
		t.Fatal(got, err)
	}
	s.CreateAccount(ctx, NewAccount{Name: "root", Role: store.RoleAdmin, Password: "an admin password"})
	tok, _ = s.NewWebSession(ctx, "anna", addr1, "", "password")
	if err := s.SetDisabled(ctx, "anna", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.APIToken(ctx, apiTok); !errors.Is(err, ErrBadToken) {
		t.Fatal("token of a disabled account:", err)
	}
	if _, _, err := s.WebSession(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatal("session of a disabled account:", err)
	}
	if _, err := s.CheckPassword(ctx, "anna", "another good password", addr1); !errors.Is(err, ErrDisabled) {
		t.Fatal(err)
	}
	// The last admin stays.
	if err := s.SetDisabled(ctx, "root", true); !errors.Is(err, ErrLastAdmin) {
		t.Fatal(err)
	}
	if err := s.SetRole(ctx, "root", store.RoleSupporter); !errors.Is(err, ErrLastAdmin) {
		t.Fatal(err)
	}
}

func TestSecondFactor(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	s.CreateAccount(ctx, NewAccount{Name: "anna", Role: store.RoleSupporter, Password: "correct horse battery"})
	key, err := s.BeginTOTP("anna")
	if err != nil || len(key.QRPNG) < 100 || !strings.HasPrefix(key.URL, "otpauth://totp/Lifebuoy:anna?") {
		t.Fatal(key.URL, err)
	}
	if _, err := s.ConfirmTOTP(ctx, "anna", key.Secret, "000000"); !errors.Is(err, ErrBadSecondFactor) {
		// 000000 could be right once in a million runs.
		t.Log("confirm with a made-up code:", err)
	}
	code, _ := TOTPCode(key.Secret, c.now())
	recovery, err := s.ConfirmTOTP(ctx, "anna", key.Secret, code)
	if err != nil || len(recovery) != RecoveryCodeCount {
		t.Fatal(recovery, err)
	}
	// The code that confirmed the setup cannot sign in.
	if _, err := s.CheckSecondFactor(ctx, "anna", code, addr1); !errors.Is(err, ErrBadSecondFactor) {
		t.Fatal("replayed code:", err)
	}
	c.add(30 * time.Second)
	code, _ = TOTPCode(key.Secret, c.now())
	if m, err := s.CheckSecondFactor(ctx, "anna", code[:3]+" "+code[3:], addr1); err != nil || m != "password+totp" {
		t.Fatal(m, err)
	}
	if _, err := s.CheckSecondFactor(ctx, "anna", code, addr1); !errors.Is(err, ErrBadSecondFactor) {
		t.Fatal("code used twice:", err)
	}
	// Clock skew of one step either way.
	c.add(30 * time.Second)
	prev, _ := TOTPCode(key.Secret, c.now().Add(30*time.Second))
	if _, err := s.CheckSecondFactor(ctx, "anna", prev, addr1); err != nil {
		t.Fatal("next step's code:", err)
	}
	// Recovery codes, once each, however typed.
	if m, err := s.CheckSecondFactor(ctx, "anna", strings.ToUpper(recovery[0]), addr1); err != nil || m != "password+recovery" {
		t.Fatal(m, err)
	}
	if _, err := s.CheckSecondFactor(ctx, "anna", recovery[0], addr1); !errors.Is(err, ErrBadSecondFactor) {
		t.Fatal("recovery code used twice:", err)
	}
	// The pending step: five tries, then gone.
	p := s.BeginSecondFactor("anna")
	for i := 0; i < pendingTries; i++ {
		if name, ok := s.PendingAccount(p); !ok || name != "anna" {
			t.Fatalf("try %d: %q %v", i, name, ok)
		}
	}
	if _, ok := s.PendingAccount(p); ok {
		t.Fatal("a sixth try")
	}
	p = s.BeginSecondFactor("anna")
	c.add(pendingTTL + time.Second)
	if _, ok := s.PendingAccount(p); ok {
		t.Fatal("expired pending step")
	}
}

func TestThrottle(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	s.CreateAccount(ctx, NewAccount{Name: "anna", Role: store.RoleSupporter, Password: "correct horse battery"})
	// Five free failures, then the account locks for 30 s, then 60 s.
	for i := 0; i < 5; i++ {
		if _, err := s.CheckPassword(ctx, "anna", "wrong password", addr1); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := s.CheckPassword(ctx, "anna", "correct horse battery", addr1); err != nil {
		t.Fatal("locked before the allowance was used:", err)
	}
	for i := 0; i < 6; i++ {
		s.CheckPassword(ctx, "anna", "wrong password", addr2)
	}
	_, err := s.CheckPassword(ctx, "anna", "correct horse battery", addr1)
	var te *ThrottledError
	if !errors.As(err, &te) || te.Scope != ScopeAccount || te.Wait() != 30*time.Second {
		t.Fatalf("want a 30 s account lock, got %v", err)
	}
	if !strings.Contains(te.Error(), "try again at") {
		t.Fatal(te.Error())
	}
	c.add(31 * time.Second)
	s.CheckPassword(ctx, "anna", "wrong password", addr2)
	_, err = s.CheckPassword(ctx, "anna", "correct horse battery", addr1)
	if !errors.As(err, &te) || te.Wait() != time.Minute {
		t.Fatalf("want the lock doubled, got %v", err)
	}
	// An address that fails at many accounts is locked on its own.
	c.add(time.Hour)
	for i := 0; i < 20; i++ {
		s.CheckPassword(ctx, "user"+string(rune('a'+i)), "wrong password", addr2)
	}
	_, err = s.CheckPassword(ctx, "someone", "x", netip.MustParseAddr("2001:db8::ffff"))
	if !errors.As(err, &te) || te.Scope != ScopeAddress {
		t.Fatalf("want the /64 locked, got %v", err)
	}
	if _, err := s.CheckPassword(ctx, "anna", "correct horse battery", addr1); err != nil {
		t.Fatal("another address is locked too:", err)
	}
}

// BenchmarkHashPassword is the cost of one sign-in's Argon2id hash.
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		HashPassword("correct horse battery")
	}
}

// With a key, the database holds TOTP secrets only encrypted; another key
// cannot use them, and secrets stored before the key still work.
func TestSecretKey(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	s.CreateAccount(ctx, NewAccount{Name: "anna", Role: store.RoleSupporter, Password: "correct horse battery"})
	s.CreateAccount(ctx, NewAccount{Name: "bert", Role: store.RoleSupporter, Password: "correct horse battery"})
	// Bert's secret was stored before there was a key.
	kb, _ := s.BeginTOTP("bert")
	code, _ := TOTPCode(kb.Secret, c.now())
	if _, err := s.ConfirmTOTP(ctx, "bert", kb.Secret, code); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), SecretKeyFile)
	key, err := LoadOrCreateSecretKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := LoadOrCreateSecretKey(keyPath); string(again) != string(key) {
		t.Fatal("the key changed on the second load")
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	if err := s.SetSecretKey(key); err != nil {
		t.Fatal(err)
	}
	k, _ := s.BeginTOTP("anna")
	code, _ = TOTPCode(k.Secret, c.now())
	if _, err := s.ConfirmTOTP(ctx, "anna", k.Secret, code); err != nil {
		t.Fatal(err)
	}
	a, _ := s.DB().Account(ctx, "anna")
	if strings.Contains(a.TOTPSecret, k.Secret) || !strings.HasPrefix(a.TOTPSecret, sealedPrefix) {
		t.Fatalf("stored %q", a.TOTPSecret)
	}
	c.add(30 * time.Second)
	for _, name := range []string{"anna", "bert"} {
		secret := k.Secret
		if name == "bert" {
			secret = kb.Secret
		}
		code, _ := TOTPCode(secret, c.now())
		if _, err := s.CheckSecondFactor(ctx, name, code, addr1); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// Another broker with another key cannot open it, and says why.
	other := NewService(s.DB(), c.now)
	other.SetSecretKey(make([]byte, 32))
	c.add(30 * time.Second)
	code, _ = TOTPCode(k.Secret, c.now())
	if _, err := other.CheckSecondFactor(ctx, "anna", code, addr1); err == nil || !strings.Contains(err.Error(), SecretKeyFile) {
		t.Fatalf("wrong key: %v", err)
	}
	if err := s.SetSecretKey([]byte("short")); err == nil {
		t.Fatal("a short key was taken")
	}
}
