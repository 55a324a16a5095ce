package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"lifebuoy/broker"
	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/desk"
	"lifebuoy/viewer/store"
)

// deskConfig is the supporter's desk's part of the command line. The
// broker's flags are broker.ConfigFromArgs's; these are taken out of the
// arguments before it sees them.
type deskConfig struct {
	off bool

	oidcIssuer, oidcClientID, oidcSecretFile string
	oidcRedirect, oidcAdminGroup, oidcTeam   string
	oidcScopes                               string
	oidcCreate                               bool

	sessionIdle, sessionMax time.Duration
}

func deskFlags(c *deskConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("desk", flag.ContinueOnError)
	fs.BoolVar(&c.off, "no-desk", false, "serve no web console, REST API or browser viewer on the HTTPS front")
	fs.StringVar(&c.oidcIssuer, "oidc-issuer", "", "sign-in through this OpenID Connect provider `URL` (the company's)")
	fs.StringVar(&c.oidcClientID, "oidc-client-id", "", "the desk's OIDC client `id`")
	fs.StringVar(&c.oidcSecretFile, "oidc-client-secret-file", "", "`file` holding the OIDC client secret (none for a public client)")
	fs.StringVar(&c.oidcRedirect, "oidc-redirect-url", "", "the console's callback `URL` registered at the provider: https://HOST[:PORT]/signin/oidc/callback")
	fs.StringVar(&c.oidcAdminGroup, "oidc-admin-group", "", "members of this `group` (the groups claim) are admins")
	fs.StringVar(&c.oidcTeam, "oidc-team", "", "`team` of accounts made at their first OIDC sign-in")
	fs.StringVar(&c.oidcScopes, "oidc-scopes", "profile,email", "comma-separated `scopes` besides openid (add groups for -oidc-admin-group)")
	fs.BoolVar(&c.oidcCreate, "oidc-create-accounts", true, "make an account at a person's first OIDC sign-in")
	fs.DurationVar(&c.sessionIdle, "console-idle", 2*time.Hour, "sign a console session out after this much inactivity")
	fs.DurationVar(&c.sessionMax, "console-max", 12*time.Hour, "sign a console session out this long after sign-in")
	return fs
}

// splitDeskFlags takes the desk's flags (and their values) out of args.
func splitDeskFlags(args []string) (deskArgs, rest []string) {
	known := map[string]bool{}
	bools := map[string]bool{}
	deskFlags(&deskConfig{}).VisitAll(func(f *flag.Flag) {
		known[f.Name] = true
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			bools[f.Name] = true
		}
	})
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !known[name] {
			rest = append(rest, a)
			continue
		}
		deskArgs = append(deskArgs, a)
		if !hasValue && !bools[name] && i+1 < len(args) {
			i++
			deskArgs = append(deskArgs, args[i])
		}
	}
	return deskArgs, rest
}

func parseDeskFlags(args []string, stderr io.Writer) (deskConfig, error) {
	var c deskConfig
	fs := deskFlags(&c)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.oidcIssuer != "" && (c.oidcClientID == "" || c.oidcRedirect == "") {
		return c, errors.New("-oidc-issuer needs -oidc-client-id and -oidc-redirect-url")
	}
	return c, nil
}

// printDeskUsage adds the desk's flags to -h.
func printDeskUsage(w io.Writer) {
	fs := deskFlags(&deskConfig{})
	fs.SetOutput(w)
	fmt.Fprintln(w, "\nThe supporter's desk (web console, REST API, browser viewer on the HTTPS front):")
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nAccounts: lifebuoy-broker users -h")
}

// startDesk opens the desk's database in the data directory, sends the
// broker's audit records into it and mounts the console on the broker.
// The returned function stops it.
func startDesk(ctx context.Context, cfg broker.Config, dc deskConfig, b *broker.Broker, log *slog.Logger) (func(), error) {
	if dc.off {
		return func() {}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	db, err := openDeskDB(ctx, cfg.DataDir, cfg.Cluster)
	if err != nil {
		return nil, fmt.Errorf("desk database: %w", err)
	}
	sink := store.NewAuditSink(db, log)
	b.SetAuditSink(sink)
	// The desk's own records (sign-ins, account changes) go to the
	// broker's audit log, and with it to the database.
	audit := b.Audit()
	svc := auth.NewService(db, nil)
	svc.SessionIdle, svc.SessionMax = dc.sessionIdle, dc.sessionMax
	key, err := auth.LoadOrCreateSecretKey(filepath.Join(cfg.DataDir, auth.SecretKeyFile))
	if err == nil {
		err = svc.SetSecretKey(key)
	}
	if err != nil {
		sink.Close()
		db.Close()
		return nil, fmt.Errorf("the desk's key for second factors: %w", err)
	}
	var oidc *auth.OIDC
	if dc.oidcIssuer != "" {
		secret := ""
		if dc.oidcSecretFile != "" {
			s, err := os.ReadFile(dc.oidcSecretFile)
			if err != nil {
				return nil, fmt.Errorf("OIDC client secret: %w", err)
			}
			secret = strings.TrimSpace(string(s))
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		oidc, err = auth.NewOIDC(dctx, auth.OIDCConfig{Issuer: dc.oidcIssuer, ClientID: dc.oidcClientID, ClientSecret: secret,
			RedirectURL: dc.oidcRedirect, Scopes: splitList(dc.oidcScopes), AdminGroup: dc.oidcAdminGroup, Team: dc.oidcTeam,
			CreateAccounts: dc.oidcCreate}, nil)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	d, err := desk.New(desk.Config{Auth: svc, OIDC: oidc, Broker: b, Log: log, Audit: audit, DataDir: cfg.DataDir,
		Fingerprint: b.Fingerprint(), AnonymousViewers: cfg.AnonymousViewers})
	if err != nil {
		return nil, err
	}
	b.SetDesk(d)
	if n, err := db.CountAdmins(ctx); err == nil && n == 0 {
		log.Warn("desk: no admin account yet; add one with: lifebuoy-broker users add NAME -role admin")
	}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(dctx); close(done) }()
	return func() {
		cancel()
		<-done
		sink.Close()
		db.Close()
	}, nil
}

// openDeskDB opens the desk's database: the cluster's PostgreSQL when the
// broker is one of a cluster (cluster, a postgres:// URL), so that a
// supporter signs in on any node; else SQLite in the data directory.
func openDeskDB(ctx context.Context, dataDir, cluster string) (*store.DB, error) {
	if cluster == "" {
		return store.OpenSQLite(ctx, filepath.Join(dataDir, store.SQLiteFile))
	}
	cfg, err := pgx.ParseConfig(cluster)
	if err != nil {
		return nil, err
	}
	// Every connection is pinged as it is taken from the pool: one whose
	// server went away (the database restarted) is then dropped and the
	// request runs on a new one, instead of failing on the old one. The
	// desk's requests are few; a round trip each is cheap.
	sdb := stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return true }))
	sdb.SetMaxOpenConns(8)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := store.Wrap(ctx, sdb, store.Postgres)
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("the cluster's database: %w", err)
	}
	return db, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
