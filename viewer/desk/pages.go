package desk

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"lifebuoy/broker"
	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/store"
)

// sessionCookie holds a console session's token. The __Host- prefix
// makes the browser insist on Secure, Path=/ and no Domain.
const sessionCookie = "__Host-lb_session"

// oidcCookie binds an OIDC sign-in to the browser that started it.
const oidcCookie = "__Host-lb_oidc"

func (s *Server) setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.auth.SessionMax.Seconds())})
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// signedIn is a request's console session.
type signedIn struct {
	store.Account
	method string
	token  string
}

// page wraps a handler that needs a signed-in supporter: others are sent
// to the sign-in page (or get 401, for the scripts' requests).
func (s *Server) page(fn func(http.ResponseWriter, *http.Request, *signedIn)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.signedIn(r)
		if err != nil {
			if s.unavailable(r.Context(), err) {
				s.refuseUnavailable(w, r, nil, "Sign in")
				return
			}
			// A person's navigation (a link, a form) goes to the sign-in
			// page; the pages' own scripts get 401.
			if navigation(r) {
				next := r.URL.RequestURI()
				if r.Method != http.MethodGet {
					next = "/"
				}
				q := url.Values{"next": {next}}
				if errors.Is(err, auth.ErrNoSession) && hasCookie(r, sessionCookie) {
					q.Set("expired", "1")
				}
				http.Redirect(w, r, "/signin?"+q.Encode(), http.StatusSeeOther)
				return
			}
			http.Error(w, translate(pickLang(r), "Your session expired. Please sign in again."), http.StatusUnauthorized)
			return
		}
		fn(w, r, u)
	}
}

// admin wraps a handler for admins only.
func (s *Server) admin(fn func(http.ResponseWriter, *http.Request, *signedIn)) http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request, u *signedIn) {
		if u.Role != store.RoleAdmin {
			s.message(w, r, &u.Account, http.StatusForbidden, "Admin", "Not allowed: admins only.")
			return
		}
		fn(w, r, u)
	})
}

// navigation tells a person's navigation (a link, a form) from the
// pages' own scripts' requests.
func navigation(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Mode") == "navigate" ||
		(r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Dest") != "empty" && r.Header.Get("Accept") != "text/event-stream")
}

func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

func (s *Server) signedIn(r *http.Request) (*signedIn, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, auth.ErrNoSession
	}
	a, ws, err := s.auth.WebSession(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	return &signedIn{Account: a, method: ws.Method, token: c.Value}, nil
}

// safeNext keeps a post-sign-in redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}

// signinData is the sign-in page's.
type signinData struct {
	Next, User, Pending string
	OIDC                bool
}

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	v := view{Title: "Sign in", Data: signinData{Next: safeNext(r.URL.Query().Get("next")), OIDC: s.cfg.OIDC != nil}}
	if r.URL.Query().Get("expired") != "" {
		v.Notice = translate(pickLang(r), "Your session expired. Please sign in again.")
	}
	s.render(w, r, http.StatusOK, "signin", v)
}

// signinError words a sign-in failure for the user.
func signinError(l lang, err error) (string, int) {
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		key := "Too many failed sign-ins for this account. Try again at %s (in %s)."
		if te.Scope == auth.ScopeAddress {
			key = "Too many failed sign-ins from your address. Try again at %s (in %s)."
		}
		return tf(l, key, formatClock(te.Until), formatDuration(l, te.Wait())), http.StatusTooManyRequests
	case errors.Is(err, auth.ErrBadCredentials):
		return translate(l, "Wrong user name or password."), http.StatusUnauthorized
	case errors.Is(err, auth.ErrBadSecondFactor):
		return translate(l, "Wrong or already used one-time code."), http.StatusUnauthorized
	case errors.Is(err, auth.ErrDisabled):
		return translate(l, "This account is disabled."), http.StatusForbidden
	case errors.Is(err, auth.ErrOIDCState):
		return translate(l, "The sign-in through your company's provider expired or was not started in this browser. Please start again."), http.StatusBadRequest
	case errors.Is(err, auth.ErrOIDCNoAccount):
		return translate(l, "Your company's provider signed you in, but there is no desk account for you. Ask an admin."), http.StatusForbidden
	}
	return translate(l, "Something went wrong on the server. Please try again."), http.StatusInternalServerError
}

// signinFailure is signinError, with 503 and msgUnavailable while the
// database cannot be reached.
func (s *Server) signinFailure(w http.ResponseWriter, r *http.Request, err error) (string, int) {
	if s.unavailable(r.Context(), err) {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		return translate(pickLang(r), msgUnavailable), http.StatusServiceUnavailable
	}
	return signinError(pickLang(r), err)
}

func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(strings.TrimSpace(r.PostFormValue("user")))
	next := safeNext(r.PostFormValue("next"))
	addr := remoteAddr(r)
	a, err := s.auth.CheckPassword(r.Context(), name, r.PostFormValue("password"), addr)
	if err != nil {
		msg, status := s.signinFailure(w, r, err)
		s.audit.Warn("desk: sign-in failed", "account", name, "remote", r.RemoteAddr, "reason", err.Error())
		if len(name) > 64 {
			name = ""
		}
		s.render(w, r, status, "signin", view{Title: "Sign in", Error: msg, Data: signinData{Next: next, User: name, OIDC: s.cfg.OIDC != nil}})
		return
	}
	if a.TOTPSecret != "" {
		p := s.auth.BeginSecondFactor(a.Name)
		s.render(w, r, http.StatusOK, "signin", view{Title: "Sign in", Data: signinData{Next: next, Pending: p}})
		return
	}
	s.startSession(w, r, a, "password", next)
}

func (s *Server) signinTOTP(w http.ResponseWriter, r *http.Request) {
	l := pickLang(r)
	next := safeNext(r.PostFormValue("next"))
	pending := r.PostFormValue("pending")
	name, ok := s.auth.PendingAccount(pending)
	if !ok {
		s.render(w, r, http.StatusUnauthorized, "signin", view{Title: "Sign in",
			Error: translate(l, "The sign-in step expired. Please sign in again."), Data: signinData{Next: next, OIDC: s.cfg.OIDC != nil}})
		return
	}
	method, err := s.auth.CheckSecondFactor(r.Context(), name, r.PostFormValue("otp"), remoteAddr(r))
	if err != nil {
		msg, status := s.signinFailure(w, r, err)
		s.audit.Warn("desk: sign-in failed", "account", name, "remote", r.RemoteAddr, "reason", err.Error())
		s.render(w, r, status, "signin", view{Title: "Sign in", Error: msg, Data: signinData{Next: next, Pending: pending}})
		return
	}
	s.auth.FinishSecondFactor(pending)
	a, err := s.db.Account(r.Context(), name)
	if err != nil {
		msg, status := s.signinFailure(w, r, err)
		s.render(w, r, status, "signin", view{Title: "Sign in", Error: msg, Data: signinData{Next: next}})
		return
	}
	s.startSession(w, r, a, method, next)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, a store.Account, method, next string) {
	tok, err := s.auth.NewWebSession(r.Context(), a.Name, remoteAddr(r), r.UserAgent(), method)
	if err != nil {
		if s.unavailable(r.Context(), err) {
			s.refuseUnavailable(w, r, nil, "Sign in")
			return
		}
		s.log.Error("desk: new console session", "err", err)
		s.message(w, r, nil, http.StatusInternalServerError, "Sign in", "Something went wrong on the server. Please try again.")
		return
	}
	s.audit.Info("desk: signed in", "account", a.Name, "remote", r.RemoteAddr, "method", method)
	s.setSessionCookie(w, tok)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) {
	if s.cfg.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	authURL, binding := s.cfg.OIDC.Start(safeNext(r.URL.Query().Get("next")))
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: binding, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: 600})
	http.Redirect(w, r, authURL, http.StatusSeeOther)
}

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	l := pickLang(r)
	if s.cfg.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	binding := ""
	if c, err := r.Cookie(oidcCookie); err == nil {
		binding = c.Value
	}
	clearCookie(w, oidcCookie)
	q := r.URL.Query()
	fail := func(err error) {
		msg, status := s.signinFailure(w, r, err)
		if status == http.StatusInternalServerError {
			msg = translate(l, "The sign-in through your company's provider failed.")
		}
		s.audit.Warn("desk: OIDC sign-in failed", "remote", r.RemoteAddr, "reason", err.Error())
		s.render(w, r, status, "signin", view{Title: "Sign in", Error: msg, Data: signinData{Next: "/", OIDC: true}})
	}
	if e := q.Get("error"); e != "" {
		fail(fmt.Errorf("the provider answered %q: %s", e, q.Get("error_description")))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	id, next, err := s.cfg.OIDC.Finish(ctx, q.Get("state"), q.Get("code"), binding)
	if err != nil {
		fail(err)
		return
	}
	a, err := s.cfg.OIDC.Account(ctx, s.db, id)
	if err != nil {
		fail(err)
		return
	}
	s.startSession(w, r, a, "oidc", safeNext(next))
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request, u *signedIn) {
	s.auth.EndWebSession(r.Context(), u.token)
	clearCookie(w, sessionCookie)
	s.audit.Info("desk: signed out", "account", u.Name, "remote", r.RemoteAddr)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	l := r.PathValue("lang")
	if l != string(english) && l != string(german) {
		http.NotFound(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", Secure: true, SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// mine lists the sessions a supporter issued or redeemed.
func (s *Server) mine(u *signedIn) []SessionInfo {
	var out []SessionInfo
	for _, si := range s.cfg.Broker.Sessions() {
		if si.Supporter.Account == u.Name {
			out = append(out, si)
		}
	}
	return out
}

func (s *Server) find(code string) (SessionInfo, bool) {
	for _, si := range s.cfg.Broker.Sessions() {
		if si.Code == code {
			return si, true
		}
	}
	return SessionInfo{}, false
}

type homeData struct{ Sessions []SessionInfo }

func (s *Server) home(w http.ResponseWriter, r *http.Request, u *signedIn) {
	s.render(w, r, http.StatusOK, "home", view{Title: "Home", User: &u.Account, Data: homeData{Sessions: s.mine(u)}})
}

func (s *Server) sessionList(w http.ResponseWriter, r *http.Request, u *signedIn) {
	s.renderFragment(w, r, "list", "list", s.mine(u))
}

// codeRE is what a session code looks like in a path: 4 to 12 digits,
// no leading zero (the broker's CodeDigits is one length among these).
var codeRE = regexp.MustCompile(`^[1-9][0-9]{3,11}$`)

func (s *Server) newCode(w http.ResponseWriter, r *http.Request, u *signedIn) {
	code, _, err := s.cfg.Broker.IssueCode(supporterOf(u.Account))
	if err != nil {
		s.message(w, r, &u.Account, http.StatusServiceUnavailable, "New session code", tf(pickLang(r), "No code could be issued: %s", err.Error()))
		return
	}
	http.Redirect(w, r, "/session/"+code, http.StatusSeeOther)
}

func (s *Server) connect(w http.ResponseWriter, r *http.Request, u *signedIn) {
	code := broker.NormalizeCode(strings.TrimSpace(r.PostFormValue("code")))
	if !codeRE.MatchString(code) {
		s.render(w, r, http.StatusBadRequest, "home", view{Title: "Home", User: &u.Account,
			Error: tf(pickLang(r), "That is not a session code: a code is %d digits.", 6), Data: homeData{Sessions: s.mine(u)}})
		return
	}
	http.Redirect(w, r, "/session/"+code, http.StatusSeeOther)
}

type sessionData struct {
	Code                 string
	Info                 *SessionInfo
	Issued               bool
	Expires              time.Time
	Mine                 bool
	Foreign              string
	LinuxURL, WindowsURL string
}

func (s *Server) sessionPage(w http.ResponseWriter, r *http.Request, u *signedIn) {
	code := r.PathValue("code")
	if !codeRE.MatchString(code) {
		s.message(w, r, &u.Account, http.StatusNotFound, "Session", "No such session.")
		return
	}
	d := sessionData{Code: code, Mine: true}
	if si, ok := s.find(code); ok {
		d.Info = &si
		d.Expires = si.Expires
		d.Issued = si.State == "issued" || si.State == "viewer-waiting"
		if si.Supporter.Account != "" && si.Supporter.Account != u.Name {
			d.Mine = false
			d.Foreign = si.Supporter.Name
		}
	}
	if d.Issued && d.Mine {
		linux, windows := s.agentsAvailable()
		if linux {
			d.LinuxURL = "/download/winvnc-" + code
		}
		if windows {
			d.WindowsURL = "/download/winvnc-" + code + ".exe"
		}
	}
	// Leave the viewer page's noVNC and fetches their own origin; the
	// page has nothing to frame or submit elsewhere.
	s.render(w, r, http.StatusOK, "session", view{Title: "Session", User: &u.Account, Data: d})
}

// errNotYours refuses an action on another supporter's session.
var errNotYours = errors.New("not your session")

// mayAct reports whether u may end or act on the session: an admin
// always; a supporter on the sessions they issued or redeemed.
func (s *Server) mayAct(u *signedIn, code string) (SessionInfo, error) {
	si, ok := s.find(code)
	if !ok {
		return si, store.ErrNotFound
	}
	if u.Role != store.RoleAdmin && si.Supporter.Account != u.Name {
		return si, errNotYours
	}
	return si, nil
}

func (s *Server) endSessionForm(w http.ResponseWriter, r *http.Request, u *signedIn) {
	code := r.PathValue("code")
	if err := s.endSession(u, code); err != nil {
		s.actionError(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) endSession(u *signedIn, code string) error {
	si, err := s.mayAct(u, code)
	if err != nil {
		if errors.Is(err, errNotYours) {
			s.audit.Warn("desk: refused to end another supporter's session", "account", u.Name, "code", code, "supporter", si.Supporter.Account)
		}
		return err
	}
	reason := "ended by the supporter"
	if si.Supporter.Account != u.Name {
		reason = "ended by an admin (" + u.Name + ")"
	}
	return s.cfg.Broker.EndSession(code, supporterOf(u.Account), reason)
}

func (s *Server) actionError(w http.ResponseWriter, r *http.Request, u *signedIn, err error) {
	switch {
	case errors.Is(err, errNotYours):
		s.message(w, r, &u.Account, http.StatusForbidden, "Session", "Not allowed: this is not your session.")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, broker.ErrNoSession):
		s.message(w, r, &u.Account, http.StatusNotFound, "Session", "No such session.")
	case errors.Is(err, broker.ErrNodeUnreachable):
		s.message(w, r, &u.Account, http.StatusServiceUnavailable, "Session", "The broker node that holds this session cannot be reached; try again.")
	default:
		s.message(w, r, &u.Account, http.StatusConflict, "Session", err.Error())
	}
}

// events is a Server-Sent Events stream: "changed" whenever the broker's
// sessions change, a comment every 25 s to keep proxies from cutting it.
// The pages then fetch what they show.
func (s *Server) events(w http.ResponseWriter, r *http.Request, u *signedIn) {
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n\n")
	if rc.Flush() != nil {
		return
	}
	changed, cancel := s.cfg.Broker.Subscribe()
	defer cancel()
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-changed:
			fmt.Fprint(w, "event: changed\ndata: {}\n\n")
		case <-ping.C:
			// A signed-out or disabled supporter's stream ends.
			if _, _, err := s.auth.WebSession(r.Context(), u.token); err != nil {
				return
			}
			fmt.Fprint(w, ": ping\n\n")
		}
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if rc.Flush() != nil {
			return
		}
	}
}

var downloadRE = regexp.MustCompile(`^winvnc-([1-9][0-9]{3,11})(\.exe)?$`)

// download serves the agent under a name that carries the code. Any
// well-formed code gets the file, live or not, so that the download is
// no oracle for guessing codes; the code is checked when the agent
// presents it.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	m := downloadRE.FindStringSubmatch(file)
	if m == nil || s.cfg.DataDir == "" {
		http.NotFound(w, r)
		return
	}
	path := s.agentFile(m[2] != "")
	w.Header().Set("Content-Disposition", "attachment; filename=\""+file+"\"")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := statFile(path); err != nil {
		w.Header().Del("Content-Disposition")
		s.message(w, r, nil, http.StatusNotFound, "Download the agent", "The agent for download was not built for this broker.")
		return
	}
	http.ServeFile(w, r, path)
}

// accountData is the account page's.
type accountData struct {
	Method       string
	Tokens       []store.APIToken
	RecoveryLeft int
	Enrol        *enrolData
	Recovery     []string
	NewToken     string
}

type enrolData struct {
	Secret, URL string
	QR          string // data: URL of a PNG
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, u *signedIn, status int, d accountData, errMsg, notice string) {
	d.Method = u.method
	d.Tokens, _ = s.db.APITokens(r.Context(), u.Name)
	d.RecoveryLeft, _ = s.db.RecoveryCodesLeft(r.Context(), u.Name)
	// Re-read the account: the page may just have changed it.
	if a, err := s.db.Account(r.Context(), u.Name); err == nil {
		u.Account = a
	}
	s.render(w, r, status, "account", view{Title: "Account", User: &u.Account, Data: d, Error: errMsg, Notice: notice})
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, u *signedIn) {
	s.renderAccount(w, r, u, http.StatusOK, accountData{}, "", "")
}

func (s *Server) accountPassword(w http.ResponseWriter, r *http.Request, u *signedIn) {
	l := pickLang(r)
	if _, err := s.auth.CheckPassword(r.Context(), u.Name, r.PostFormValue("old"), remoteAddr(r)); err != nil {
		msg, status := s.signinFailure(w, r, err)
		s.renderAccount(w, r, u, status, accountData{}, msg, "")
		return
	}
	if r.PostFormValue("new") != r.PostFormValue("new2") {
		s.renderAccount(w, r, u, http.StatusBadRequest, accountData{}, translate(l, "The passwords differ."), "")
		return
	}
	if err := s.auth.ChangePassword(r.Context(), u.Name, r.PostFormValue("new")); err != nil {
		s.renderAccount(w, r, u, http.StatusBadRequest, accountData{}, errorText(l, err), "")
		return
	}
	s.audit.Info("desk: password changed", "account", u.Name, "remote", r.RemoteAddr)
	// Every session was signed out; this browser gets a new one.
	tok, err := s.auth.NewWebSession(r.Context(), u.Name, remoteAddr(r), r.UserAgent(), u.method)
	if err == nil {
		s.setSessionCookie(w, tok)
		u.token = tok
	}
	s.renderAccount(w, r, u, http.StatusOK, accountData{}, "", translate(l, "The password was changed; other sessions were signed out."))
}

func (s *Server) accountTOTPBegin(w http.ResponseWriter, r *http.Request, u *signedIn) {
	k, err := s.auth.BeginTOTP(u.Name)
	if err != nil {
		status, msg := s.serverError(r, err)
		s.renderAccount(w, r, u, status, accountData{}, msg, "")
		return
	}
	e := &enrolData{Secret: k.Secret, URL: k.URL, QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(k.QRPNG)}
	s.renderAccount(w, r, u, http.StatusOK, accountData{Enrol: e}, "", "")
}

func (s *Server) accountTOTPConfirm(w http.ResponseWriter, r *http.Request, u *signedIn) {
	secret := r.PostFormValue("secret")
	codes, err := s.auth.ConfirmTOTP(r.Context(), u.Name, secret, r.PostFormValue("otp"))
	if err != nil {
		k := &enrolData{Secret: secret}
		if key, kerr := auth.TOTPKeyFromSecret(s.auth.Issuer, u.Name, secret); kerr == nil {
			k = &enrolData{Secret: key.Secret, URL: key.URL, QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(key.QRPNG)}
		}
		msg, status := s.signinFailure(w, r, err)
		s.renderAccount(w, r, u, status, accountData{Enrol: k}, msg, "")
		return
	}
	s.audit.Info("desk: second factor on", "account", u.Name, "remote", r.RemoteAddr)
	s.renderAccount(w, r, u, http.StatusOK, accountData{Recovery: codes}, "", "")
}

func (s *Server) accountTOTPOff(w http.ResponseWriter, r *http.Request, u *signedIn) {
	if err := s.auth.DisableTOTP(r.Context(), u.Name); err != nil {
		status, msg := s.serverError(r, err)
		s.renderAccount(w, r, u, status, accountData{}, msg, "")
		return
	}
	s.audit.Info("desk: second factor off", "account", u.Name, "remote", r.RemoteAddr)
	s.renderAccount(w, r, u, http.StatusOK, accountData{}, "", translate(pickLang(r), "Two-factor sign-in is off."))
}

func (s *Server) accountTokenNew(w http.ResponseWriter, r *http.Request, u *signedIn) {
	tok, id, err := s.auth.NewAPIToken(r.Context(), u.Name, strings.TrimSpace(r.PostFormValue("label")))
	if err != nil {
		status, msg := s.serverError(r, err)
		s.renderAccount(w, r, u, status, accountData{}, msg, "")
		return
	}
	s.audit.Info("desk: API token created", "account", u.Name, "token", id, "remote", r.RemoteAddr)
	s.renderAccount(w, r, u, http.StatusOK, accountData{NewToken: tok}, "", "")
}

func (s *Server) accountTokenRevoke(w http.ResponseWriter, r *http.Request, u *signedIn) {
	id := r.PathValue("id")
	if err := s.db.DeleteAPIToken(r.Context(), u.Name, id); err != nil {
		s.renderAccount(w, r, u, http.StatusNotFound, accountData{}, translate(pickLang(r), "Not found."), "")
		return
	}
	s.audit.Info("desk: API token revoked", "account", u.Name, "token", id, "remote", r.RemoteAddr)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (s *Server) accountSignoutAll(w http.ResponseWriter, r *http.Request, u *signedIn) {
	s.db.DeleteWebSessions(r.Context(), u.Name)
	tok, err := s.auth.NewWebSession(r.Context(), u.Name, remoteAddr(r), r.UserAgent(), u.method)
	if err == nil {
		s.setSessionCookie(w, tok)
		u.token = tok
	}
	s.audit.Info("desk: signed out everywhere", "account", u.Name, "remote", r.RemoteAddr)
	s.renderAccount(w, r, u, http.StatusOK, accountData{}, "", translate(pickLang(r), "Signed out everywhere else."))
}

type adminSessionsData struct {
	Sessions  []SessionInfo
	Anonymous bool
}

func (s *Server) adminSessions(w http.ResponseWriter, r *http.Request, u *signedIn) {
	all := s.cfg.Broker.Sessions()
	if r.URL.Query().Get("fragment") != "" {
		s.renderFragment(w, r, "admin_sessions", "adminrows", all)
		return
	}
	s.render(w, r, http.StatusOK, "admin_sessions", view{Title: "Live sessions", User: &u.Account,
		Data: adminSessionsData{Sessions: all, Anonymous: s.cfg.AnonymousViewers}})
}

func (s *Server) adminEnd(w http.ResponseWriter, r *http.Request, u *signedIn) {
	if err := s.endSession(u, r.PathValue("code")); err != nil {
		s.actionError(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (s *Server) renderAccounts(w http.ResponseWriter, r *http.Request, u *signedIn, status int, errMsg, notice string) {
	as, err := s.db.Accounts(r.Context())
	if err != nil {
		errMsg = err.Error()
	}
	s.render(w, r, status, "admin_accounts", view{Title: "Accounts", User: &u.Account, Error: errMsg, Notice: notice,
		Data: struct{ Accounts []store.Account }{as}})
}

func (s *Server) adminAccounts(w http.ResponseWriter, r *http.Request, u *signedIn) {
	s.renderAccounts(w, r, u, http.StatusOK, "", "")
}

func (s *Server) adminAccountAdd(w http.ResponseWriter, r *http.Request, u *signedIn) {
	n := auth.NewAccount{Name: strings.ToLower(strings.TrimSpace(r.PostFormValue("name"))), DisplayName: r.PostFormValue("display"),
		Team: r.PostFormValue("team"), Role: store.Role(r.PostFormValue("role")), Password: r.PostFormValue("password")}
	if err := s.auth.CreateAccount(r.Context(), n); err != nil {
		s.renderAccounts(w, r, u, http.StatusBadRequest, errorText(pickLang(r), err), "")
		return
	}
	s.audit.Info("desk: account added", "account", n.Name, "role", string(n.Role), "by", u.Name, "remote", r.RemoteAddr)
	s.renderAccounts(w, r, u, http.StatusOK, "", translate(pickLang(r), "Done."))
}

func (s *Server) adminAccountChange(w http.ResponseWriter, r *http.Request, u *signedIn) {
	ctx := r.Context()
	name := r.PathValue("name")
	action := r.PostFormValue("action")
	var err error
	switch action {
	case "disable", "enable":
		err = s.auth.SetDisabled(ctx, name, action == "disable")
		if err == nil && action == "disable" {
			s.endRevoked(ctx) // its live sessions end now, not at the next sweep
		}
	case "admin", "supporter":
		err = s.auth.SetRole(ctx, name, store.Role(action))
	case "totp-reset":
		if _, err = s.db.Account(ctx, name); err == nil {
			err = s.auth.DisableTOTP(ctx, name)
		}
	case "password":
		if _, err = s.db.Account(ctx, name); err == nil {
			err = s.auth.ChangePassword(ctx, name, r.PostFormValue("password"))
		}
	default:
		err = fmt.Errorf("unknown action %q", action)
	}
	if err != nil {
		s.renderAccounts(w, r, u, http.StatusBadRequest, errorText(pickLang(r), err), "")
		return
	}
	s.audit.Info("desk: account changed", "account", name, "change", action, "by", u.Name, "remote", r.RemoteAddr)
	s.renderAccounts(w, r, u, http.StatusOK, "", translate(pickLang(r), "Done."))
}

// parseWhen reads a time from a form: RFC 3339, or the datetime-local
// form (taken as UTC), or a date.
func parseWhen(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-01-02T15:04:05Z)", s)
}

// auditQuery reads an audit search from a query string.
func auditQuery(q url.Values) (store.AuditQuery, error) {
	aq := store.AuditQuery{Supporter: strings.TrimSpace(q.Get("supporter")), Code: broker.NormalizeCode(strings.TrimSpace(q.Get("code"))),
		Addr: strings.TrimSpace(q.Get("addr")), Text: strings.TrimSpace(q.Get("text"))}
	var err1, err2 error
	aq.Since, err1 = parseWhen(q.Get("since"))
	aq.Until, err2 = parseWhen(q.Get("until"))
	if v := q.Get("before"); v != "" {
		aq.Before, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := q.Get("limit"); v != "" {
		aq.Limit, _ = strconv.Atoi(v)
	}
	return aq, errors.Join(err1, err2)
}

func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request, u *signedIn) {
	q := r.URL.Query()
	aq, err := auditQuery(q)
	d := struct {
		Q            store.AuditQuery
		Since, Until string
		Records      []store.AuditRecord
		OlderURL     string
	}{Q: aq, Since: q.Get("since"), Until: q.Get("until")}
	status := http.StatusOK
	errMsg := ""
	if err != nil {
		status, errMsg = http.StatusBadRequest, err.Error()
	} else {
		aq.Limit = 200
		d.Records, err = s.db.Audit(r.Context(), aq)
		if err != nil {
			status, errMsg = s.serverError(r, err)
		}
		if n := len(d.Records); n == aq.Limit {
			q.Set("before", strconv.FormatInt(d.Records[n-1].ID, 10))
			d.OlderURL = "/admin/audit?" + q.Encode()
		}
	}
	s.render(w, r, status, "admin_audit", view{Title: "Audit log", User: &u.Account, Data: d, Error: errMsg})
}
