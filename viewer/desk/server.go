package desk

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/store"
	"lifebuoy/viewer/web"
)

// Config is what a desk is made of.
type Config struct {
	Auth   *auth.Service
	OIDC   *auth.OIDC // nil: no sign-in through a provider
	Broker Broker
	Log    *slog.Logger // operational log (nil discards)
	// Audit gets the desk's own audit records (sign-ins, account changes);
	// nil discards. The broker's audit sink is the usual choice.
	Audit *slog.Logger
	// DataDir is the broker's data directory; the agents offered for
	// download are DataDir/agents/winvnc and winvnc.exe.
	DataDir string
	// Fingerprint is the broker's certificate fingerprint, shown for
	// "lifebuoy login -fingerprint".
	Fingerprint string
	// AnonymousViewers says whether viewers with no account may redeem
	// codes (shown to admins).
	AnonymousViewers bool
	Now              func() time.Time
}

// Server is the desk. It implements broker.Desk.
type Server struct {
	cfg     Config
	log     *slog.Logger
	audit   *slog.Logger
	db      *store.DB
	auth    *auth.Service
	now     func() time.Time
	pages   map[lang]pageSet
	handler http.Handler
	cli     *cliGrants
	novnc   bool // the browser viewer was built in (make web)
	refused refusals
}

// New makes the desk.
func New(cfg Config) (*Server, error) {
	if cfg.Auth == nil || cfg.Broker == nil {
		return nil, errors.New("desk: Auth and Broker are needed")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Audit == nil {
		cfg.Audit = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log, audit: cfg.Audit, db: cfg.Auth.DB(), auth: cfg.Auth, now: cfg.Now,
		pages: pages, cli: newCLIGrants(cfg.Now), novnc: web.NoVNCBuilt()}
	s.handler = s.routes()
	if !s.novnc {
		s.log.Warn("desk: the browser viewer was not built (make web); the console says so")
	}
	return s, nil
}

// Handler serves the console, the REST API, noVNC and the agent
// downloads: everything on the HTTPS front but /rfb and /agent.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Pages.
	mux.HandleFunc("GET /{$}", s.page(s.home))
	mux.HandleFunc("GET /signin", s.signinPage)
	mux.HandleFunc("POST /signin", s.signin)
	mux.HandleFunc("POST /signin/totp", s.signinTOTP)
	mux.HandleFunc("GET /signin/oidc", s.oidcStart)
	mux.HandleFunc("GET /signin/oidc/callback", s.oidcCallback)
	mux.HandleFunc("POST /signout", s.page(s.signout))
	mux.HandleFunc("GET /lang/{lang}", s.setLang)
	mux.HandleFunc("POST /codes", s.page(s.newCode))
	mux.HandleFunc("POST /connect", s.page(s.connect))
	mux.HandleFunc("GET /session/{code}", s.page(s.sessionPage))
	mux.HandleFunc("POST /session/{code}/end", s.page(s.endSessionForm))
	mux.HandleFunc("GET /sessions/list", s.page(s.sessionList))
	mux.HandleFunc("GET /events", s.page(s.events))
	mux.HandleFunc("GET /account", s.page(s.accountPage))
	mux.HandleFunc("POST /account/password", s.page(s.accountPassword))
	mux.HandleFunc("POST /account/totp", s.page(s.accountTOTPBegin))
	mux.HandleFunc("POST /account/totp/confirm", s.page(s.accountTOTPConfirm))
	mux.HandleFunc("POST /account/totp/off", s.page(s.accountTOTPOff))
	mux.HandleFunc("POST /account/tokens", s.page(s.accountTokenNew))
	mux.HandleFunc("POST /account/tokens/{id}/revoke", s.page(s.accountTokenRevoke))
	mux.HandleFunc("POST /account/signout-everywhere", s.page(s.accountSignoutAll))
	mux.HandleFunc("GET /cli/authorize", s.page(s.cliAuthorizePage))
	mux.HandleFunc("POST /cli/authorize", s.page(s.cliAuthorize))
	mux.HandleFunc("GET /admin", s.admin(s.adminSessions))
	mux.HandleFunc("POST /admin/sessions/{code}/end", s.admin(s.adminEnd))
	mux.HandleFunc("GET /admin/accounts", s.admin(s.adminAccounts))
	mux.HandleFunc("POST /admin/accounts", s.admin(s.adminAccountAdd))
	mux.HandleFunc("POST /admin/accounts/{name}", s.admin(s.adminAccountChange))
	mux.HandleFunc("GET /admin/audit", s.admin(s.adminAudit))
	// REST API (docs/API.md).
	s.apiRoutes(mux)
	s.filesRoutes(mux) // files.go
	// Files.
	mux.HandleFunc("GET /download/{file}", s.download)
	mux.Handle("GET /novnc/", http.StripPrefix("/novnc/", staticFiles(web.NoVNC())))
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(web.Static())))
	mux.HandleFunc("GET /third-party", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, web.Static(), "third-party.txt")
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.audit.Warn("desk: cross-origin request refused", "remote", r.RemoteAddr, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	return securityHeaders(cop.Handler(mux))
}

// csp allows our own scripts, styles and images (and data: images for
// the TOTP QR code), WebSockets and fetches to our own origin, and no
// framing, plugins, inline code or foreign form targets.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxRequestBody bounds every request body the desk reads.
const maxRequestBody = 1 << 20

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer") // codes appear in paths
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		// No form or API call of the desk is anywhere near this; a larger
		// body is refused rather than read.
		if r.Body != nil && !isUpload(r) { // files.go bounds its own
			r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		}
		h.ServeHTTP(w, r)
	})
}

// staticFiles serves embedded files with an hour's caching, scripts and
// style sheets gzipped for browsers that take it (noVNC's modules shrink
// to about a quarter); directories are not listed.
func staticFiles(fsys fs.FS) http.Handler {
	fileServer := http.FileServerFS(fsys)
	var gz sync.Map // path → []byte, compressed once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" || strings.HasSuffix(name, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		ctype := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[path.Ext(name)]
		if ctype == "" || !acceptsGzip(r) {
			fileServer.ServeHTTP(w, r)
			return
		}
		b, ok := gz.Load(name)
		if !ok {
			raw, err := fs.ReadFile(fsys, name)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(raw)
			zw.Close()
			b, _ = gz.LoadOrStore(name, buf.Bytes())
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Encoding", "gzip")
		h.Set("Vary", "Accept-Encoding")
		h.Set("Content-Length", strconv.Itoa(len(b.([]byte))))
		if r.Method != http.MethodHead {
			w.Write(b.([]byte))
		}
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// Run does the desk's housekeeping until ctx ends: it ends the live
// sessions of supporters whose account was disabled or deleted elsewhere
// (the users command, another broker) within sweepEvery, and deletes
// expired console sessions. A disable in the console ends them at once.
func (s *Server) Run(ctx context.Context) {
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	expire := time.NewTicker(10 * time.Minute)
	defer expire.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			s.endRevoked(ctx)
		case <-expire.C:
			if n, err := s.auth.ExpireSessions(ctx); err != nil {
				s.log.Error("desk: expiring console sessions", "err", err)
			} else if n > 0 {
				s.log.Debug("desk: console sessions expired", "n", n)
			}
		}
	}
}

// sweepEvery is how often Run looks for sessions of disabled accounts.
const sweepEvery = 2 * time.Second

// system is the desk itself, as the one who ends a session.
var system = Supporter{Name: "Lifebuoy"}

// endRevoked ends sessions whose supporter may no longer have them.
func (s *Server) endRevoked(ctx context.Context) {
	allowed := map[string]bool{} // by account, looked up once a sweep
	for _, si := range s.cfg.Broker.Sessions() {
		if si.Supporter.Account == "" {
			continue
		}
		ok, seen := allowed[si.Supporter.Account]
		if !seen {
			a, err := s.db.Account(ctx, si.Supporter.Account)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				continue // the database is unwell; try again later
			}
			ok = err == nil && !a.Disabled
			allowed[si.Supporter.Account] = ok
		}
		if ok {
			continue
		}
		reason := "the supporter's account was disabled"
		if err := s.cfg.Broker.EndSession(si.Code, system, reason); err == nil {
			s.audit.Info("desk: session ended", "code", si.Code, "supporter", si.Supporter.Account, "reason", reason)
		}
	}
}

// Identify names the supporter behind a request to /rfb: the console
// session's cookie (the browser viewer) or "Authorization: Bearer" with
// an API token (the bridge).
func (s *Server) Identify(r *http.Request) (Supporter, bool) {
	a, ok := s.identify(r)
	if !ok {
		return Supporter{}, false
	}
	return supporterOf(a), true
}

func supporterOf(a store.Account) Supporter {
	return Supporter{Account: a.Name, Name: a.DisplayName, Team: a.Team}
}

// identify finds the signed-in account of a request, by token or cookie.
func (s *Server) identify(r *http.Request) (store.Account, bool) {
	if tok, ok := bearer(r); ok {
		a, err := s.auth.APIToken(r.Context(), tok)
		return a, err == nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return store.Account{}, false
	}
	a, _, err := s.auth.WebSession(r.Context(), c.Value)
	return a, err == nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	return strings.TrimSpace(tok), ok
}

// remoteAddr is the request's peer address.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// agentFile is where an agent for download is kept.
func (s *Server) agentFile(windows bool) string {
	name := "winvnc"
	if windows {
		name += ".exe"
	}
	return filepath.Join(s.cfg.DataDir, "agents", name)
}

// agentsAvailable reports which agents the data directory holds.
func (s *Server) agentsAvailable() (linux, windows bool) {
	if s.cfg.DataDir == "" {
		return false, false
	}
	_, errL := os.Stat(s.agentFile(false))
	_, errW := os.Stat(s.agentFile(true))
	return errL == nil, errW == nil
}
