package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"lifebuoy/viewer/store"
)

// OIDCConfig is the company's OpenID Connect provider, for sign-in
// through it (authorization code flow with PKCE).
type OIDCConfig struct {
	Issuer       string   // https://login.example.com/realms/acme
	ClientID     string   //
	ClientSecret string   // "" for a public client
	RedirectURL  string   // https://help.example.com/signin/oidc/callback
	Scopes       []string // besides "openid"; default profile, email
	// AdminGroup: members of this group (the "groups" claim) are admins;
	// everyone else the provider signs in is a supporter.
	AdminGroup string
	// Team is the team of accounts created at their first sign-in.
	Team string
	// CreateAccounts makes an account at a person's first sign-in;
	// without it an admin must create and link the account first.
	CreateAccounts bool
	// HTTPClient reaches the provider (default http.DefaultClient).
	HTTPClient *http.Client
}

// OIDC signs supporters in through an OpenID Connect provider.
type OIDC struct {
	cfg      OIDCConfig
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	now      func() time.Time

	mu     sync.Mutex
	flows  map[string]*oidcFlow // by state
	issuer string
}

// oidcFlow is one sign-in on its way through the provider.
type oidcFlow struct {
	binding  string // also in a cookie of the browser that started it
	nonce    string
	verifier string
	next     string
	until    time.Time
}

// oidcFlowTTL is how long a person has at the provider.
const oidcFlowTTL = 10 * time.Minute

// maxOIDCFlows bounds the sign-ins under way.
const maxOIDCFlows = 10000

// Errors of the OIDC sign-in.
var (
	ErrOIDCState     = errors.New("the sign-in through your company's provider expired or was not started in this browser; please start again")
	ErrOIDCNoAccount = errors.New("your company's provider signed you in, but there is no desk account for you: ask an admin")
)

// NewOIDC discovers the provider. ctx bounds the discovery only.
func NewOIDC(ctx context.Context, cfg OIDCConfig, now func() time.Time) (*OIDC, error) {
	if now == nil {
		now = time.Now
	}
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC provider %s: %w", cfg.Issuer, err)
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{"profile", "email"}
	}
	o := &OIDC{
		cfg: cfg,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: cfg.RedirectURL, Scopes: append([]string{oidc.ScopeOpenID}, scopes...)},
		verifier: p.VerifierContext(context.WithoutCancel(ctx), &oidc.Config{ClientID: cfg.ClientID, Now: now}),
		now:      now,
		flows:    map[string]*oidcFlow{},
		issuer:   cfg.Issuer,
	}
	return o, nil
}

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Start begins a sign-in: it returns the provider's URL to redirect the
// browser to, and a binding the caller puts in a cookie; Finish checks
// that the browser that comes back holds it (against login CSRF). next
// is where to go after signing in.
func (o *OIDC) Start(next string) (authURL, binding string) {
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	binding = randomString()
	now := o.now()
	o.mu.Lock()
	for k, f := range o.flows {
		if now.After(f.until) {
			delete(o.flows, k)
		}
	}
	if len(o.flows) >= maxOIDCFlows {
		for k := range o.flows { // drop one at random
			delete(o.flows, k)
			break
		}
	}
	o.flows[state] = &oidcFlow{binding: binding, nonce: nonce, verifier: verifier, next: next, until: now.Add(oidcFlowTTL)}
	o.mu.Unlock()
	return o.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), binding
}

// Identity is who the provider says signed in.
type Identity struct {
	Issuer, Subject string
	Username        string // preferred_username, else the email's local part
	Name            string // the "name" claim, else Username
	Email           string
	Groups          []string
}

// Finish takes the provider's answer (state and code from the callback's
// query) and the binding from the browser's cookie, and returns the
// verified identity and where to go next.
func (o *OIDC) Finish(ctx context.Context, state, code, binding string) (Identity, string, error) {
	o.mu.Lock()
	f := o.flows[state]
	delete(o.flows, state)
	o.mu.Unlock()
	if f == nil || o.now().After(f.until) || binding == "" || f.binding != binding {
		return Identity{}, "", ErrOIDCState
	}
	if o.cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	}
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return Identity{}, "", fmt.Errorf("OIDC code exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return Identity{}, "", errors.New("the OIDC provider sent no ID token")
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, "", fmt.Errorf("OIDC ID token: %w", err)
	}
	if idt.Nonce != f.nonce {
		return Identity{}, "", errors.New("OIDC ID token: wrong nonce")
	}
	var claims struct {
		PreferredUsername string   `json:"preferred_username"`
		Name              string   `json:"name"`
		Email             string   `json:"email"`
		Groups            []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, "", fmt.Errorf("OIDC claims: %w", err)
	}
	id := Identity{Issuer: idt.Issuer, Subject: idt.Subject, Username: claims.PreferredUsername, Name: claims.Name,
		Email: claims.Email, Groups: claims.Groups}
	if id.Username == "" {
		id.Username, _, _ = strings.Cut(claims.Email, "@")
	}
	id.Username = strings.ToLower(id.Username)
	if id.Name == "" {
		id.Name = id.Username
	}
	return id, f.next, nil
}

// Account finds the account linked to id, creating it at the first
// sign-in when the configuration allows; the role follows AdminGroup at
// every sign-in.
func (o *OIDC) Account(ctx context.Context, db *store.DB, id Identity) (store.Account, error) {
	role := store.RoleSupporter
	if o.cfg.AdminGroup != "" && slices.Contains(id.Groups, o.cfg.AdminGroup) {
		role = store.RoleAdmin
	}
	a, err := db.AccountByOIDC(ctx, id.Issuer, id.Subject)
	switch {
	case err == nil:
		if a.Disabled {
			return a, ErrDisabled
		}
		if o.cfg.AdminGroup != "" && a.Role != role {
			if err := db.SetRole(ctx, a.Name, role); err != nil {
				return a, err
			}
			a.Role = role
		}
		return a, nil
	case !errors.Is(err, store.ErrNotFound):
		return a, err
	case !o.cfg.CreateAccounts || !ValidName(id.Username):
		return a, ErrOIDCNoAccount
	}
	a = store.Account{Name: id.Username, DisplayName: id.Name, Team: o.cfg.Team, Role: role,
		OIDCIssuer: id.Issuer, OIDCSubject: id.Subject}
	if err := db.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, store.ErrExists) {
			// A local account of that name exists and is not linked: only
			// an admin may decide it is the same person.
			return a, ErrOIDCNoAccount
		}
		return a, err
	}
	return db.Account(ctx, a.Name)
}
