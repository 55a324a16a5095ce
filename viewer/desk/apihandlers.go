package desk

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"lifebuoy/broker"
	"lifebuoy/viewer/api"
	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/store"
)

// The REST API (docs/API.md). A request is authenticated by
// "Authorization: Bearer <API token>" or, for the console's own scripts,
// by the session cookie (then http.CrossOriginProtection has already
// checked that it came from our own pages).
func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/login", s.apiLogin)
	mux.HandleFunc("POST /api/v1/cli/start", s.apiCLIStart)
	mux.HandleFunc("POST /api/v1/cli/token", s.apiCLIToken)
	mux.HandleFunc("POST /api/v1/logout", s.api(s.apiLogout))
	mux.HandleFunc("GET /api/v1/me", s.api(s.apiMe))
	mux.HandleFunc("POST /api/v1/codes", s.api(s.apiNewCode))
	mux.HandleFunc("GET /api/v1/sessions", s.api(s.apiSessions))
	mux.HandleFunc("GET /api/v1/sessions/{code}", s.api(s.apiSession))
	mux.HandleFunc("POST /api/v1/sessions/{code}/end", s.api(s.apiEnd))
	mux.HandleFunc("POST /api/v1/sessions/{code}/request-control", s.api(s.apiRequestControl))
	mux.HandleFunc("GET /api/v1/audit", s.api(s.apiAudit))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "not_found", "no such API endpoint")
	})
}

// apiCaller is an authenticated API request's account; token is set
// when it came with an API token.
type apiCaller struct {
	signedIn
	bearer string
}

func (s *Server) api(fn func(http.ResponseWriter, *http.Request, *apiCaller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := bearer(r); ok {
			a, err := s.auth.APIToken(r.Context(), tok)
			if s.unavailable(r.Context(), err) {
				apiUnavailable(w)
				return
			}
			if err != nil {
				apiError(w, http.StatusUnauthorized, "unauthorized", "unknown or revoked API token")
				return
			}
			fn(w, r, &apiCaller{signedIn: signedIn{Account: a, method: "token"}, bearer: tok})
			return
		}
		u, err := s.signedIn(r)
		if s.unavailable(r.Context(), err) {
			apiUnavailable(w)
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lifebuoy"`)
			apiError(w, http.StatusUnauthorized, "unauthorized", "sign in, or send Authorization: Bearer <API token>")
			return
		}
		fn(w, r, &apiCaller{signedIn: *u})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Error{Error: msg, Code: code})
}

// maxBody bounds a JSON request body.
const maxBody = 64 << 10

// readJSON decodes a request body; an empty body leaves v as it is.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "bad_request", "the request body is too large")
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	if err := json.Unmarshal(b, v); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", "the request body is not the expected JSON: "+err.Error())
		return false
	}
	return true
}

func apiAccount(a store.Account) api.Account {
	return api.Account{Name: a.Name, DisplayName: a.DisplayName, Team: a.Team, Role: string(a.Role)}
}

func apiSession(si SessionInfo) api.Session {
	return api.Session{Code: si.Code, Grouped: broker.GroupCode(si.Code), State: si.State, Flow: si.Flow,
		Supporter: api.Supporter(si.Supporter), Customer: si.Customer, CustomerAddr: si.CustomerAddr,
		Viewer: si.Viewer, Path: si.Path, AgentPath: si.AgentPath, Since: si.Since, Expires: si.Expires,
		RightsKnown: si.RightsKnown, Control: si.Control, Files: si.Files,
		BytesToViewer: si.BytesToViewer, BytesToAgent: si.BytesToAgent, Node: si.Node}
}

// signinAPIError answers a failed API sign-in.
func (s *Server) signinAPIError(w http.ResponseWriter, r *http.Request, err error) {
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		secs := int(te.Wait().Seconds())
		w.Header().Set("Retry-After", itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, api.Error{Error: err.Error(), Code: "throttled", RetryAfter: secs})
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrBadSecondFactor):
		apiError(w, http.StatusUnauthorized, "unauthorized", err.Error())
	case errors.Is(err, auth.ErrDisabled):
		apiError(w, http.StatusForbidden, "forbidden", err.Error())
	default:
		s.apiServerError(w, r, err)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	var req api.LoginRequest
	if !readJSON(w, r, &req) {
		return
	}
	ctx := r.Context()
	addr := remoteAddr(r)
	a, err := s.auth.CheckPassword(ctx, req.User, req.Password, addr)
	if err != nil {
		s.audit.Warn("desk: API sign-in failed", "account", strings.ToLower(strings.TrimSpace(req.User)), "remote", r.RemoteAddr, "reason", err.Error())
		s.signinAPIError(w, r, err)
		return
	}
	method := "password"
	if a.TOTPSecret != "" {
		if req.OTP == "" {
			apiError(w, http.StatusUnauthorized, "otp_required", "this account needs its one-time code (otp)")
			return
		}
		if method, err = s.auth.CheckSecondFactor(ctx, a.Name, req.OTP, addr); err != nil {
			s.audit.Warn("desk: API sign-in failed", "account", a.Name, "remote", r.RemoteAddr, "reason", err.Error())
			s.signinAPIError(w, r, err)
			return
		}
	}
	label := req.Label
	if label == "" {
		label = "API login from " + addr.String()
	}
	tok, id, err := s.auth.NewAPIToken(ctx, a.Name, label)
	if err != nil {
		s.apiServerError(w, r, err)
		return
	}
	s.audit.Info("desk: API token issued", "account", a.Name, "token", id, "method", method, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, api.Token{Token: tok, ID: id, Account: apiAccount(a)})
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	if c.bearer == "" {
		apiError(w, http.StatusBadRequest, "bad_request", "logout revokes the API token the request carries")
		return
	}
	h := sha256.Sum256([]byte(c.bearer))
	t, err := s.db.APITokenByHash(r.Context(), hex.EncodeToString(h[:]))
	if err == nil {
		err = s.db.DeleteAPIToken(r.Context(), c.Name, t.ID)
	}
	if err != nil {
		apiError(w, http.StatusNotFound, "not_found", "no such token")
		return
	}
	s.audit.Info("desk: API token revoked", "account", c.Name, "token", t.ID, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	writeJSON(w, http.StatusOK, apiAccount(c.Account))
}

func (s *Server) apiNewCode(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	code, exp, err := s.cfg.Broker.IssueCode(supporterOf(c.Account))
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	out := api.Code{Code: code, Grouped: broker.GroupCode(code), ExpiresAt: exp}
	linux, windows := s.agentsAvailable()
	if linux || windows {
		out.Downloads = map[string]string{}
		if linux {
			out.Downloads["linux"] = "/download/winvnc-" + code
		}
		if windows {
			out.Downloads["windows"] = "/download/winvnc-" + code + ".exe"
		}
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) apiSessions(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	all := r.URL.Query().Get("all") != "" && c.Role == store.RoleAdmin
	out := []api.Session{}
	for _, si := range s.cfg.Broker.Sessions() {
		if all || si.Supporter.Account == c.Name {
			out = append(out, apiSession(si))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// apiSession shows one session to its supporter, an admin, or anyone
// signed in while nobody holds it yet (a customer's waiting code, which
// the viewer page is about to redeem).
func (s *Server) apiSession(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	si, ok := s.find(r.PathValue("code"))
	if !ok {
		apiError(w, http.StatusNotFound, "not_found", "no such session")
		return
	}
	if si.Supporter.Account != "" && si.Supporter.Account != c.Name && c.Role != store.RoleAdmin {
		apiError(w, http.StatusForbidden, "forbidden", "not your session")
		return
	}
	writeJSON(w, http.StatusOK, apiSession(si))
}

func (s *Server) apiActionError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errNotYours):
		apiError(w, http.StatusForbidden, "forbidden", "not your session")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, broker.ErrNoSession):
		apiError(w, http.StatusNotFound, "not_found", "no such session")
	case errors.Is(err, broker.ErrNodeUnreachable):
		apiError(w, http.StatusServiceUnavailable, "node_unreachable", err.Error())
	default:
		apiError(w, http.StatusConflict, "conflict", err.Error())
	}
}

func (s *Server) apiEnd(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	var req api.EndRequest
	if !readJSON(w, r, &req) {
		return
	}
	code := r.PathValue("code")
	si, err := s.mayAct(&c.signedIn, code)
	if err != nil {
		if errors.Is(err, errNotYours) {
			s.audit.Warn("desk: refused to end another supporter's session", "account", c.Name, "code", code, "supporter", si.Supporter.Account)
		}
		s.apiActionError(w, err)
		return
	}
	reason := strings.TrimSpace(req.Reason)
	if len(reason) > 200 {
		reason = reason[:200]
	}
	switch {
	case reason != "":
	case si.Supporter.Account != c.Name:
		reason = "ended by an admin (" + c.Name + ")"
	default:
		reason = "ended by the supporter"
	}
	if err := s.cfg.Broker.EndSession(code, supporterOf(c.Account), reason); err != nil {
		s.apiActionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiRequestControl(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	code := r.PathValue("code")
	if _, err := s.mayAct(&c.signedIn, code); err != nil {
		s.apiActionError(w, err)
		return
	}
	if err := s.cfg.Broker.RequestControl(code, supporterOf(c.Account)); err != nil {
		s.apiActionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	if c.Role != store.RoleAdmin {
		apiError(w, http.StatusForbidden, "forbidden", "admins only")
		return
	}
	q, err := auditQuery(r.URL.Query())
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	rs, err := s.db.Audit(r.Context(), q)
	if s.unavailable(r.Context(), err) {
		apiUnavailable(w)
		return
	}
	if err != nil {
		apiError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	out := make([]api.AuditRecord, 0, len(rs))
	for _, rec := range rs {
		ar := api.AuditRecord{ID: rec.ID, At: rec.At.UTC(), Level: rec.Level, Msg: rec.Msg, Supporter: rec.Supporter,
			Code: rec.Code, Session: rec.Session, Addrs: rec.Addrs}
		json.Unmarshal([]byte(rec.Attrs), &ar.Attrs)
		out = append(out, ar)
	}
	writeJSON(w, http.StatusOK, out)
}

// The command line's browser sign-in, in the manner of OAuth's device
// flow: "lifebuoy login -browser" starts a request with the hash of a
// secret verifier, opens /cli/authorize?request=ID, and polls; once the
// signed-in supporter allows it, the poll with the verifier gets an API
// token. The confirmation words shown in both places let the supporter
// see that the page belongs to their terminal.
type cliGrants struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*cliGrant
}

type cliGrant struct {
	challenge string
	confirm   string
	until     time.Time
	account   string // set once allowed
	tries     int
}

const (
	cliGrantTTL  = 10 * time.Minute
	maxCLIGrants = 10000
	cliPollTries = 600
)

func newCLIGrants(now func() time.Time) *cliGrants {
	return &cliGrants{now: now, m: map[string]*cliGrant{}}
}

func (g *cliGrants) start(challenge string) (id, confirm string, until time.Time, ok bool) {
	b := make([]byte, 16)
	rand.Read(b)
	id = hex.EncodeToString(b)
	c := make([]byte, 3)
	rand.Read(c)
	confirm = strings.ToUpper(hex.EncodeToString(c))
	now := g.now()
	until = now.Add(cliGrantTTL)
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, v := range g.m {
		if now.After(v.until) {
			delete(g.m, k)
		}
	}
	if len(g.m) >= maxCLIGrants {
		return "", "", until, false
	}
	g.m[id] = &cliGrant{challenge: challenge, confirm: confirm, until: until}
	return id, confirm, until, true
}

// lookup returns a live request.
func (g *cliGrants) lookup(id string) (cliGrant, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.m[id]
	if v == nil || g.now().After(v.until) {
		return cliGrant{}, false
	}
	return *v, true
}

func (g *cliGrants) allow(id, account string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.m[id]
	if v == nil || g.now().After(v.until) || v.account != "" {
		return false
	}
	v.account = account
	return true
}

// take returns the allowed account for a request and forgets it, if the
// verifier matches; pending is true while nobody allowed it yet.
func (g *cliGrants) take(id, verifier string) (account string, pending bool, ok bool) {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.m[id]
	if v == nil || g.now().After(v.until) {
		return "", false, false
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(v.challenge)) != 1 {
		return "", false, false
	}
	v.tries++
	if v.tries > cliPollTries {
		delete(g.m, id)
		return "", false, false
	}
	if v.account == "" {
		return "", true, true
	}
	delete(g.m, id)
	return v.account, false, true
}

func (s *Server) apiCLIStart(w http.ResponseWriter, r *http.Request) {
	var req api.CLIStart
	if !readJSON(w, r, &req) {
		return
	}
	if len(req.Challenge) != 43 {
		apiError(w, http.StatusBadRequest, "bad_request", "challenge: want base64url(SHA-256(verifier)), 43 characters")
		return
	}
	id, confirm, until, ok := s.cli.start(req.Challenge)
	if !ok {
		apiError(w, http.StatusServiceUnavailable, "unavailable", "too many sign-ins under way; try again shortly")
		return
	}
	writeJSON(w, http.StatusCreated, api.CLIRequest{Request: id, URL: "/cli/authorize?request=" + id, Confirm: confirm, Expires: until})
}

func (s *Server) apiCLIToken(w http.ResponseWriter, r *http.Request) {
	var req api.CLIToken
	if !readJSON(w, r, &req) {
		return
	}
	account, pending, ok := s.cli.take(req.Request, req.Verifier)
	switch {
	case !ok:
		apiError(w, http.StatusGone, "expired", "no such sign-in request, or it expired: run lifebuoy login again")
		return
	case pending:
		apiError(w, http.StatusBadRequest, "pending", "waiting for the supporter to allow it in the browser")
		return
	}
	a, err := s.db.Account(r.Context(), account)
	if s.unavailable(r.Context(), err) {
		apiUnavailable(w)
		return
	}
	if err != nil || a.Disabled {
		apiError(w, http.StatusForbidden, "forbidden", "the account is disabled")
		return
	}
	tok, id, err := s.auth.NewAPIToken(r.Context(), account, "lifebuoy login (browser) from "+remoteAddr(r).String())
	if err != nil {
		s.apiServerError(w, r, err)
		return
	}
	s.audit.Info("desk: API token issued", "account", account, "token", id, "method", "browser", "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, api.Token{Token: tok, ID: id, Account: apiAccount(a)})
}

type cliPageData struct {
	Valid            bool
	Request, Confirm string
	Done             bool
}

func (s *Server) cliAuthorizePage(w http.ResponseWriter, r *http.Request, u *signedIn) {
	id := r.URL.Query().Get("request")
	g, ok := s.cli.lookup(id)
	s.render(w, r, http.StatusOK, "cli", view{Title: "Let the lifebuoy command line act as you?", User: &u.Account,
		Data: cliPageData{Valid: ok && g.account == "", Request: id, Confirm: g.confirm}})
}

func (s *Server) cliAuthorize(w http.ResponseWriter, r *http.Request, u *signedIn) {
	id := r.PostFormValue("request")
	ok := s.cli.allow(id, u.Name)
	if ok {
		s.audit.Info("desk: command line allowed", "account", u.Name, "remote", r.RemoteAddr)
	}
	s.render(w, r, http.StatusOK, "cli", view{Title: "Let the lifebuoy command line act as you?", User: &u.Account,
		Data: cliPageData{Valid: ok, Done: ok, Request: id}})
}

func statFile(path string) (os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		return nil, errors.New("not a file")
	}
	return fi, err
}
