package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"lifebuoy/viewer/store"
)

// startOIDC runs a real OIDC provider (mockoidc) on loopback.
func startOIDC(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m
}

// throughProvider follows the browser's trip: to the provider, and the
// provider's redirect back; it returns the callback's state and code.
func throughProvider(t *testing.T, authURL string) (state, code string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("provider answered %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if loc.Path != "/signin/oidc/callback" {
		t.Fatalf("redirected to %s", loc)
	}
	return loc.Query().Get("state"), loc.Query().Get("code")
}

func TestOIDC(t *testing.T) {
	ctx := context.Background()
	m := startOIDC(t)
	s, _ := newService(t)
	db := s.DB()
	mc := m.Config()
	o, err := NewOIDC(ctx, OIDCConfig{Issuer: mc.Issuer, ClientID: mc.ClientID, ClientSecret: mc.ClientSecret,
		RedirectURL: "https://desk.test/signin/oidc/callback", Scopes: []string{"profile", "email", "groups"},
		AdminGroup: "helpdesk-admins", Team: "Acme Support", CreateAccounts: true}, time.Now)
	if err != nil {
		t.Fatal(err)
	}

	// First sign-in creates the account, a supporter.
	m.QueueUser(&mockoidc.MockUser{Subject: "s-anna", PreferredUsername: "Anna.Berger", Email: "anna@acme.test", Groups: []string{"staff"}})
	authURL, binding := o.Start("/home")
	state, code := throughProvider(t, authURL)
	id, next, err := o.Finish(ctx, state, code, binding)
	if err != nil || next != "/home" || id.Username != "anna.berger" || id.Subject != "s-anna" {
		t.Fatal(id, next, err)
	}
	a, err := o.Account(ctx, db, id)
	if err != nil || a.Name != "anna.berger" || a.Role != store.RoleSupporter || a.Team != "Acme Support" || a.PasswordHash != "" {
		t.Fatalf("%+v %v", a, err)
	}
	// The state is single use.
	if _, _, err := o.Finish(ctx, state, code, binding); !errors.Is(err, ErrOIDCState) {
		t.Fatal("state replayed:", err)
	}
	// A browser without the binding cookie (login CSRF) is refused.
	authURL, _ = o.Start("/")
	state, code = throughProvider(t, authURL)
	if _, _, err := o.Finish(ctx, state, code, "forged"); !errors.Is(err, ErrOIDCState) {
		t.Fatal("foreign browser:", err)
	}

	// The next sign-in finds the linked account; joining the admin group
	// makes it an admin.
	m.QueueUser(&mockoidc.MockUser{Subject: "s-anna", PreferredUsername: "renamed", Groups: []string{"helpdesk-admins"}})
	authURL, binding = o.Start("/")
	state, code = throughProvider(t, authURL)
	id, _, err = o.Finish(ctx, state, code, binding)
	if err != nil {
		t.Fatal(err)
	}
	a, err = o.Account(ctx, db, id)
	if err != nil || a.Name != "anna.berger" || a.Role != store.RoleAdmin {
		t.Fatalf("%+v %v", a, err)
	}

	// A local account of the same name is not taken over.
	db.CreateAccount(ctx, store.Account{Name: "bert", DisplayName: "Bert", Role: store.RoleAdmin, PasswordHash: "x"})
	m.QueueUser(&mockoidc.MockUser{Subject: "s-bert", PreferredUsername: "bert"})
	authURL, binding = o.Start("/")
	state, code = throughProvider(t, authURL)
	id, _, _ = o.Finish(ctx, state, code, binding)
	if _, err := o.Account(ctx, db, id); !errors.Is(err, ErrOIDCNoAccount) {
		t.Fatal("unlinked local account taken over:", err)
	}
	// A disabled linked account stays out.
	db.SetDisabled(ctx, "anna.berger", true)
	m.QueueUser(&mockoidc.MockUser{Subject: "s-anna", PreferredUsername: "anna.berger"})
	authURL, binding = o.Start("/")
	state, code = throughProvider(t, authURL)
	id, _, _ = o.Finish(ctx, state, code, binding)
	if _, err := o.Account(ctx, db, id); !errors.Is(err, ErrDisabled) {
		t.Fatal("disabled account signed in:", err)
	}
}
