package auth

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"lifebuoy/viewer/store"
)

// Errors a sign-in reports to the user (besides *ThrottledError).
var (
	ErrBadCredentials  = errors.New("wrong user name or password")
	ErrBadSecondFactor = errors.New("wrong or already used one-time code")
	ErrDisabled        = errors.New("this account is disabled")
	ErrNoSession       = errors.New("not signed in, or the session expired")
	ErrBadToken        = errors.New("unknown or revoked API token")
	ErrBadName         = errors.New("a user name is 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit")
	ErrLastAdmin       = errors.New("this is the last enabled admin account")
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ValidName reports whether name may be a login name.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Service signs supporters in and keeps their sessions and tokens.
type Service struct {
	db       *store.DB
	now      func() time.Time
	throttle *Throttle

	// SessionIdle ends a console session unused this long; SessionMax
	// ends any session this long after sign-in.
	SessionIdle, SessionMax time.Duration
	// Issuer labels TOTP secrets in authenticator apps.
	Issuer string

	mu      sync.Mutex
	pending map[string]*pendingSignIn // second-factor steps, by token hash

	aead cipher.AEAD // seals TOTP secrets (SetSecretKey); nil keeps them as they are
}

// pendingSignIn is a password that was right, waiting for its second factor.
type pendingSignIn struct {
	account string
	until   time.Time
	tries   int
}

// Limits of the second-factor step.
const (
	pendingTTL   = 5 * time.Minute
	pendingTries = 5
)

// NewService makes a service on db. now is the clock (time.Now if nil).
func NewService(db *store.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, now: now, throttle: DefaultThrottle(now),
		SessionIdle: 2 * time.Hour, SessionMax: 12 * time.Hour, Issuer: "Lifebuoy",
		pending: map[string]*pendingSignIn{}}
}

// DB is the service's database.
func (s *Service) DB() *store.DB { return s.db }

// Throttle is the service's sign-in throttle (its policies may be tuned
// before use).
func (s *Service) Throttle() *Throttle { return s.throttle }

// newToken is a random token with a prefix naming its kind, and its hash.
func newToken(prefix string) (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// CheckPassword checks a user name and password, through the throttle.
// The returned account may still need its second factor (TOTPSecret set).
func (s *Service) CheckPassword(ctx context.Context, name, password string, addr netip.Addr) (store.Account, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if err := s.throttle.Check(name, addr); err != nil {
		return store.Account{}, err
	}
	a, err := s.db.Account(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Account{}, err
	}
	hash := a.PasswordHash
	if err != nil || hash == "" {
		hash = dummyHash
	}
	ok, rehash, verr := VerifyPassword(hash, password)
	if verr != nil || !ok || hash == dummyHash {
		s.throttle.Fail(name, addr)
		return store.Account{}, ErrBadCredentials
	}
	if a.Disabled {
		return store.Account{}, ErrDisabled
	}
	if rehash {
		if h, err := HashPassword(password); err == nil {
			s.db.SetPassword(ctx, a.Name, h)
		}
	}
	if a.TOTPSecret == "" {
		s.throttle.Succeed(a.Name)
	}
	return a, nil
}

// CheckSecondFactor checks a TOTP code, or one of the account's recovery
// codes, through the throttle. It returns how the sign-in was made:
// "password+totp" or "password+recovery".
func (s *Service) CheckSecondFactor(ctx context.Context, name, code string, addr netip.Addr) (string, error) {
	if err := s.throttle.Check(name, addr); err != nil {
		return "", err
	}
	a, err := s.db.Account(ctx, name)
	if err != nil {
		return "", err
	}
	if a.Disabled {
		return "", ErrDisabled
	}
	secret, err := s.open(a.Name, a.TOTPSecret)
	if err != nil {
		return "", err
	}
	if step, ok := matchTOTP(secret, code, s.now()); ok && secret != "" {
		if used, err := s.db.UseTOTPStep(ctx, name, step); err != nil {
			return "", err
		} else if used {
			s.throttle.Succeed(name)
			return "password+totp", nil
		}
	} else if len(strings.TrimSpace(code)) > 6 {
		if used, err := s.db.UseRecoveryCode(ctx, name, hashRecoveryCode(code)); err != nil {
			return "", err
		} else if used {
			s.throttle.Succeed(name)
			return "password+recovery", nil
		}
	}
	s.throttle.Fail(name, addr)
	return "", ErrBadSecondFactor
}

// BeginSecondFactor remembers that account's password was right and
// returns a token for the second step (good for five minutes and five
// tries).
func (s *Service) BeginSecondFactor(account string) string {
	tok, h := newToken("lbp_")
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, p := range s.pending {
		if now.After(p.until) {
			delete(s.pending, k)
		}
	}
	s.pending[h] = &pendingSignIn{account: account, until: now.Add(pendingTTL)}
	return tok
}

// PendingAccount is the account a second-factor token stands for; each
// call is a try, and the token is gone after the last one or once
// FinishSecondFactor is called.
func (s *Service) PendingAccount(token string) (string, bool) {
	h := hashToken(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[h]
	if p == nil || s.now().After(p.until) {
		delete(s.pending, h)
		return "", false
	}
	p.tries++
	if p.tries >= pendingTries {
		delete(s.pending, h)
	}
	return p.account, true
}

// FinishSecondFactor forgets a second-factor token.
func (s *Service) FinishSecondFactor(token string) {
	s.mu.Lock()
	delete(s.pending, hashToken(token))
	s.mu.Unlock()
}

// NewWebSession signs account in to the console and returns the cookie's
// token.
func (s *Service) NewWebSession(ctx context.Context, account string, addr netip.Addr, userAgent, method string) (string, error) {
	tok, h := newToken("lbs_")
	now := s.now()
	if len(userAgent) > 200 {
		userAgent = userAgent[:200]
	}
	a := ""
	if addr.IsValid() {
		a = addr.String()
	}
	err := s.db.CreateWebSession(ctx, store.WebSession{Hash: h, Account: account, Created: now, LastSeen: now,
		Expires: now.Add(s.SessionMax), Addr: a, UserAgent: userAgent, Method: method})
	return tok, err
}

// touchEvery bounds the writes that keep a session alive.
const touchEvery = time.Minute

// WebSession returns the account behind a console session token; it ends
// sessions idle or too old, and those of disabled accounts.
func (s *Service) WebSession(ctx context.Context, token string) (store.Account, store.WebSession, error) {
	if !strings.HasPrefix(token, "lbs_") {
		return store.Account{}, store.WebSession{}, ErrNoSession
	}
	h := hashToken(token)
	ws, err := s.db.WebSession(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, ws, ErrNoSession
	}
	if err != nil {
		return store.Account{}, ws, err
	}
	now := s.now()
	if !now.Before(ws.Expires) || now.Sub(ws.LastSeen) >= s.SessionIdle {
		s.db.DeleteWebSession(ctx, h)
		return store.Account{}, ws, ErrNoSession
	}
	a, err := s.db.Account(ctx, ws.Account)
	if err != nil || a.Disabled {
		s.db.DeleteWebSession(ctx, h)
		return store.Account{}, ws, ErrNoSession
	}
	if now.Sub(ws.LastSeen) >= touchEvery {
		s.db.TouchWebSession(ctx, h, now)
	}
	return a, ws, nil
}

// EndWebSession signs a console session out.
func (s *Service) EndWebSession(ctx context.Context, token string) error {
	return s.db.DeleteWebSession(ctx, hashToken(token))
}

// ExpireSessions deletes sessions that ran out; run it now and then.
func (s *Service) ExpireSessions(ctx context.Context) (int64, error) {
	now := s.now()
	return s.db.ExpireWebSessions(ctx, now, now.Add(-s.SessionIdle))
}

// NewAPIToken makes an API token for account. The token is shown once;
// id names it in lists.
func (s *Service) NewAPIToken(ctx context.Context, account, label string) (token, id string, err error) {
	tok, h := newToken("lbt_")
	idb := make([]byte, 4)
	rand.Read(idb)
	id = hex.EncodeToString(idb)
	if len(label) > 100 {
		label = label[:100]
	}
	err = s.db.CreateAPIToken(ctx, store.APIToken{Hash: h, ID: id, Account: account, Label: label, Created: s.now()})
	return tok, id, err
}

// APIToken returns the account behind an API token.
func (s *Service) APIToken(ctx context.Context, token string) (store.Account, error) {
	if !strings.HasPrefix(token, "lbt_") || len(token) > 100 {
		return store.Account{}, ErrBadToken
	}
	h := hashToken(token)
	t, err := s.db.APITokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, ErrBadToken
	}
	if err != nil {
		return store.Account{}, err
	}
	a, err := s.db.Account(ctx, t.Account)
	if err != nil || a.Disabled {
		return store.Account{}, ErrBadToken
	}
	if now := s.now(); now.Sub(t.LastUsed) >= touchEvery {
		s.db.TouchAPIToken(ctx, h, now)
	}
	return a, nil
}

// NewAccount is what CreateAccount needs.
type NewAccount struct {
	Name, DisplayName, Team string
	Role                    store.Role
	Password                string // "" for an account that signs in only through OIDC
}

// CreateAccount checks and adds an account.
func (s *Service) CreateAccount(ctx context.Context, n NewAccount) error {
	if !ValidName(n.Name) {
		return ErrBadName
	}
	if strings.TrimSpace(n.DisplayName) == "" {
		n.DisplayName = n.Name
	}
	if len(n.DisplayName) > 100 || len(n.Team) > 100 {
		return errors.New("a display name or team has at most 100 bytes")
	}
	var hash string
	if n.Password != "" {
		if err := CheckPasswordRules(n.Password); err != nil {
			return err
		}
		var err error
		if hash, err = HashPassword(n.Password); err != nil {
			return err
		}
	}
	return s.db.CreateAccount(ctx, store.Account{Name: n.Name, DisplayName: strings.TrimSpace(n.DisplayName),
		Team: strings.TrimSpace(n.Team), Role: n.Role, PasswordHash: hash})
}

// ChangePassword sets a new password and signs the account out of every
// console session.
func (s *Service) ChangePassword(ctx context.Context, name, password string) error {
	if err := CheckPasswordRules(password); err != nil {
		return err
	}
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	if err := s.db.SetPassword(ctx, name, h); err != nil {
		return err
	}
	return s.db.DeleteWebSessions(ctx, name)
}

// SetDisabled disables (signing out every session and revoking every
// token) or enables an account. The last enabled admin cannot be disabled.
func (s *Service) SetDisabled(ctx context.Context, name string, disabled bool) error {
	if disabled {
		if err := s.keepAnAdmin(ctx, name); err != nil {
			return err
		}
	}
	return s.db.SetDisabled(ctx, name, disabled)
}

// SetRole changes a role; the last enabled admin stays admin.
func (s *Service) SetRole(ctx context.Context, name string, r store.Role) error {
	if r != store.RoleAdmin {
		if err := s.keepAnAdmin(ctx, name); err != nil {
			return err
		}
	}
	return s.db.SetRole(ctx, name, r)
}

func (s *Service) keepAnAdmin(ctx context.Context, name string) error {
	a, err := s.db.Account(ctx, name)
	if err != nil {
		return err
	}
	if a.Role != store.RoleAdmin || a.Disabled {
		return nil
	}
	n, err := s.db.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}

// BeginTOTP makes a TOTP secret for account; nothing is stored until
// ConfirmTOTP sees a code from it.
func (s *Service) BeginTOTP(account string) (TOTPKey, error) {
	return NewTOTPKey(s.Issuer, account)
}

// ConfirmTOTP turns TOTP on for account once code proves the app has
// secret, and returns fresh recovery codes, shown once.
func (s *Service) ConfirmTOTP(ctx context.Context, account, secret, code string) ([]string, error) {
	step, ok := matchTOTP(secret, code, s.now())
	if !ok {
		return nil, ErrBadSecondFactor
	}
	codes, hashes := NewRecoveryCodes()
	if err := s.db.SetTOTP(ctx, account, s.seal(account, secret), hashes); err != nil {
		return nil, err
	}
	if _, err := s.db.UseTOTPStep(ctx, account, step); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP turns the second factor off (an admin's reset, or the
// account itself).
func (s *Service) DisableTOTP(ctx context.Context, account string) error {
	return s.db.SetTOTP(ctx, account, "", nil)
}
