package desk

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"lifebuoy/viewer/api"
	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/store"
)

// fakeBroker stands in for the broker's session table in handler tests;
// the interop tests run the real broker.
type fakeBroker struct {
	mu       sync.Mutex
	n        int
	sessions map[string]*SessionInfo
	ended    []string // "code by reason"
	asked    []string
	subs     map[chan struct{}]bool
}

func newFakeBroker() *fakeBroker {
	return &fakeBroker{sessions: map[string]*SessionInfo{}, subs: map[chan struct{}]bool{}}
}

func (b *fakeBroker) notify() {
	for c := range b.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

func (b *fakeBroker) IssueCode(by Supporter) (string, time.Time, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	code := fmt.Sprintf("%d", 482912+b.n)
	exp := time.Now().Add(10 * time.Minute)
	b.sessions[code] = &SessionInfo{Code: code, State: "issued", Flow: "supporter-first", Supporter: by, Since: time.Now(), Expires: exp}
	b.notify()
	return code, exp, nil
}

// add puts a session in as the broker would have it.
func (b *fakeBroker) add(si SessionInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions[si.Code] = &si
	b.notify()
}

func (b *fakeBroker) Sessions() []SessionInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []SessionInfo
	for _, s := range b.sessions {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.Code, b.Code) })
	return out
}

func (b *fakeBroker) EndSession(code string, by Supporter, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions[code] == nil {
		return errors.New("no such session")
	}
	delete(b.sessions, code)
	b.ended = append(b.ended, code+" "+by.Account+" "+reason)
	b.notify()
	return nil
}

func (b *fakeBroker) RequestControl(code string, by Supporter) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked = append(b.asked, code+" "+by.Account)
	return nil
}

func (b *fakeBroker) Subscribe() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	b.mu.Lock()
	b.subs[c] = true
	b.mu.Unlock()
	return c, func() { b.mu.Lock(); delete(b.subs, c); b.mu.Unlock() }
}

func (b *fakeBroker) endedList() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.ended)
}

// testDesk is a desk on an httptest TLS server with two supporters and an
// admin.
type testDesk struct {
	t      *testing.T
	srv    *httptest.Server
	desk   *Server
	broker *fakeBroker
	svc    *auth.Service
	audit  *store.AuditSink
}

const pw = "correct horse battery"

func newTestDesk(t *testing.T) *testDesk {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.OpenSQLite(ctx, filepath.Join(dir, store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := auth.NewService(db, nil)
	for _, a := range []auth.NewAccount{
		{Name: "anna", DisplayName: "Anna Berger", Team: "Acme Support", Role: store.RoleSupporter, Password: pw},
		{Name: "bert", DisplayName: "Bert <script>alert(1)</script>", Team: "Acme Support", Role: store.RoleSupporter, Password: pw},
		{Name: "root", DisplayName: "Rita Admin", Team: "Acme IT", Role: store.RoleAdmin, Password: pw},
	} {
		if err := svc.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	sink := store.NewAuditSink(db, nil)
	fb := newFakeBroker()
	d, err := New(Config{Auth: svc, Broker: fb, DataDir: dir, Audit: slog.New(sink), AnonymousViewers: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(d.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sink.Close)
	return &testDesk{t: t, srv: srv, desk: d, broker: fb, svc: svc, audit: sink}
}

// browser is a client with a cookie jar that does not follow redirects,
// and sends what a browser's same-origin form post sends.
type browser struct {
	td   *testDesk
	c    *http.Client
	lang string
}

func (td *testDesk) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *td.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{td: td, c: &c, lang: "en-US,en;q=0.9"}
}

type page struct {
	status int
	body   string
	header http.Header
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) page {
	b.td.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.td.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", b.lang)
	if method == http.MethodPost {
		req.Header.Set("Origin", b.td.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.td.t.Fatal(err)
	}
	defer resp.Body.Close()
	bs, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(bs), header: resp.Header}
}

func (b *browser) get(path string) page { return b.do(http.MethodGet, path, nil) }
func (b *browser) post(path string, form url.Values) page {
	if form == nil {
		form = url.Values{}
	}
	return b.do(http.MethodPost, path, form)
}

func (b *browser) signin(user string) {
	b.td.t.Helper()
	p := b.post("/signin", url.Values{"user": {user}, "password": {pw}, "next": {"/"}})
	if p.status != http.StatusSeeOther {
		b.td.t.Fatalf("sign-in of %s: %d %s", user, p.status, p.body)
	}
}

func TestGermanComplete(t *testing.T) {
	keys, err := templateKeys()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 50 {
		t.Fatalf("found only %d keys", len(keys))
	}
	for _, k := range keys {
		if _, ok := deText[k]; !ok {
			t.Errorf("no German for %q", k)
		}
	}
	// And the keys only handlers use.
	for _, k := range []string{"Wrong user name or password.", "Too many failed sign-ins for this account. Try again at %s (in %s).",
		"Your session expired. Please sign in again.", "Not allowed: this is not your session.", "No such session.",
		"The sign-in step expired. Please sign in again.", "That is not a session code: a code is %d digits.", "Done.",
		"The passwords differ.", "Signed out everywhere else.", "Two-factor sign-in is off.", "Not found.", "New session code",
		"No code could be issued: %s", "Live sessions", "Accounts", "Audit log", "Session", "Account", "Admin",
		"A password needs at least %d characters.", "A password may have at most %d bytes.", "This is the last enabled admin account.",
		"A user name is 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit.", "That user name is taken."} {
		if _, ok := deText[k]; !ok {
			t.Errorf("no German for %q", k)
		}
	}
}

func TestPickLang(t *testing.T) {
	for _, tc := range []struct {
		header, cookie string
		want           lang
	}{
		{"", "", english},
		{"de-DE,de;q=0.9,en;q=0.8", "", german},
		{"en-GB,de;q=0.5", "", english},
		{"fr-FR, de;q=0.3, en;q=0.2", "", german},
		{"de", "en", english},
		{"xx;q=abc", "", english},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", tc.header)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: langCookie, Value: tc.cookie})
		}
		if got := pickLang(r); got != tc.want {
			t.Errorf("%q cookie %q: %s, want %s", tc.header, tc.cookie, got, tc.want)
		}
	}
}

func TestSignIn(t *testing.T) {
	td := newTestDesk(t)
	b := td.browser()
	// Signed out: the home page sends to the sign-in page.
	p := b.get("/")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/signin?next=%2F" {
		t.Fatalf("home signed out: %d %q", p.status, p.header.Get("Location"))
	}
	p = b.get("/signin?next=/")
	for _, want := range []string{`<label for="user">User name</label>`, `<label for="password">Password</label>`, `>Sign in</button>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	// German from the browser's language.
	b.lang = "de-DE,de;q=0.9"
	if p = b.get("/signin"); !strings.Contains(p.body, ">Anmelden</button>") || !strings.Contains(p.body, `lang="de"`) {
		t.Error("no German sign-in page")
	}
	p = b.post("/signin", url.Values{"user": {"anna"}, "password": {"wrong password"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Benutzername oder Passwort ist falsch.") {
		t.Errorf("wrong password, German: %d", p.status)
	}
	b.lang = "en"
	// Throttled after five failures, with when to retry.
	for range 5 {
		b.post("/signin", url.Values{"user": {"anna"}, "password": {"wrong password"}})
	}
	p = b.post("/signin", url.Values{"user": {"anna"}, "password": {pw}})
	if p.status != http.StatusTooManyRequests || !regexp.MustCompile(`Too many failed sign-ins for this account\. Try again at \d\d:\d\d:\d\d UTC \(in 30 s\)`).MatchString(p.body) {
		t.Fatalf("throttled: %d %s", p.status, between(p.body, `role="alert">`, "</p>"))
	}
	// Another account signs in; its cookie is __Host-, Secure, HttpOnly, SameSite.
	req, _ := http.NewRequest("POST", td.srv.URL+"/signin", strings.NewReader("user=bert&password="+url.QueryEscape(pw)+"&next=%2Fadmin"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-lb_session=lbs_", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("cookie %q lacks %s", sc, want)
		}
	}
	if resp.Header.Get("Location") != "/admin" {
		t.Errorf("next: %q", resp.Header.Get("Location"))
	}
	// Bert's display name is escaped wherever it shows.
	p = b.get("/")
	if p.status != http.StatusOK || strings.Contains(p.body, "<script>alert") || !strings.Contains(p.body, "Bert &lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("display name not escaped: %s", between(p.body, `class="who">`, "</span>"))
	}
	// An open redirect through next is refused.
	b2 := td.browser()
	p = b2.post("/signin", url.Values{"user": {"root"}, "password": {pw}, "next": {"//evil.example/"}})
	if p.header.Get("Location") != "/" {
		t.Errorf("next //evil.example: %q", p.header.Get("Location"))
	}
	// Signing out ends the session on the server.
	cookies := b2.c.Jar.Cookies(mustURL(td.srv.URL))
	b2.post("/signout", nil)
	b3 := td.browser()
	b3.c.Jar.SetCookies(mustURL(td.srv.URL), cookies)
	if p = b3.get("/"); p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "expired=1") {
		t.Errorf("old cookie after sign-out: %d %q", p.status, p.header.Get("Location"))
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	out, _, _ := strings.Cut(rest, b)
	return out
}

func TestSignInTOTP(t *testing.T) {
	td := newTestDesk(t)
	ctx := context.Background()
	key, _ := td.svc.BeginTOTP("anna")
	now := time.Now()
	code, _ := auth.TOTPCode(key.Secret, now.Add(-30*time.Second))
	recovery, err := td.svc.ConfirmTOTP(ctx, "anna", key.Secret, code)
	if err != nil {
		t.Fatal(err)
	}
	b := td.browser()
	p := b.post("/signin", url.Values{"user": {"anna"}, "password": {pw}, "next": {"/account"}})
	pending := between(p.body, `name="pending" value="`, `"`)
	if p.status != http.StatusOK || pending == "" || !strings.Contains(p.body, `<label for="otp">One-time code</label>`) {
		t.Fatalf("second step: %d", p.status)
	}
	p = b.post("/signin/totp", url.Values{"pending": {pending}, "otp": {"000000"}, "next": {"/account"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong or already used one-time code.") {
		// 000000 is right once in a million runs.
		t.Logf("wrong code: %d", p.status)
	}
	good, _ := auth.TOTPCode(key.Secret, time.Now())
	p = b.post("/signin/totp", url.Values{"pending": {pending}, "otp": {good}, "next": {"/account"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/account" {
		t.Fatalf("right code: %d %s", p.status, between(p.body, `role="alert">`, "</p>"))
	}
	if p = b.get("/account"); !strings.Contains(p.body, "password&#43;totp") || !strings.Contains(p.body, "9 recovery codes left") && !strings.Contains(p.body, "10 recovery codes left") {
		t.Errorf("account page: %s", between(p.body, "<main>", "</main>"))
	}
	// A recovery code works once.
	b2 := td.browser()
	p = b2.post("/signin", url.Values{"user": {"anna"}, "password": {pw}})
	pending = between(p.body, `name="pending" value="`, `"`)
	if p = b2.post("/signin/totp", url.Values{"pending": {pending}, "otp": {recovery[3]}}); p.status != http.StatusSeeOther {
		t.Fatalf("recovery code: %d", p.status)
	}
	// A made-up pending token is an expired step.
	p = b2.post("/signin/totp", url.Values{"pending": {"lbp_forged"}, "otp": {good}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "The sign-in step expired.") {
		t.Errorf("forged pending: %d", p.status)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	td := newTestDesk(t)
	b := td.browser()
	b.signin("anna")
	// A forged form post from another site: the browser says so.
	p := b.do(http.MethodPost, "/codes", url.Values{}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if p.status != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", p.status)
	}
	// An old browser without Sec-Fetch-Site: the Origin decides.
	req, _ := http.NewRequest("POST", td.srv.URL+"/codes", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign Origin: %d", resp.StatusCode)
	}
	if n := len(td.broker.Sessions()); n != 0 {
		t.Fatalf("a forged request issued %d codes", n)
	}
	// Same-origin works.
	if p = b.post("/codes", nil); p.status != http.StatusSeeOther {
		t.Fatalf("same-origin POST: %d", p.status)
	}
}

func TestSessionsAndOwnership(t *testing.T) {
	td := newTestDesk(t)
	anna, bert, root := td.browser(), td.browser(), td.browser()
	anna.signin("anna")
	bert.signin("bert")
	root.signin("root")
	p := anna.post("/codes", nil)
	loc := p.header.Get("Location")
	code := strings.TrimPrefix(loc, "/session/")
	if p.status != http.StatusSeeOther || !codeRE.MatchString(code) {
		t.Fatalf("new code: %d %q", p.status, loc)
	}
	p = anna.get(loc)
	grouped := code[:3] + " " + code[3:]
	for _, want := range []string{`<p class="bigcode" aria-label="Code">` + grouped + `</p>`, `>Request control</button>`,
		`>End session</button>`, `>Ctrl-Alt-Del</button>`, `>Full screen</button>`, `<label for="clipboard">Clipboard</label>`,
		`data-code="` + code + `"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("session page lacks %s", want)
		}
	}
	if strings.Contains(p.body, "viewOnly") {
		t.Error("the page sets noVNC's view-only mode")
	}
	// The customer's agent attaches; its window title is hostile.
	td.broker.add(SessionInfo{Code: code, State: "relaying", Flow: "supporter-first", Supporter: supporterOf(mustAccount(t, td, "anna")),
		Customer: `eve@<img src=x onerror=alert(1)>`, CustomerAddr: "203.0.113.7:5000", Viewer: "198.51.100.9:4000", Path: "wss", Since: time.Now(), RightsKnown: true, Control: true})
	for _, b := range []*browser{anna, root} {
		path := "/sessions/list"
		if b == root {
			path = "/admin?fragment=1"
		}
		p = b.do(http.MethodGet, path, nil, "Sec-Fetch-Dest", "empty")
		if !strings.Contains(p.body, grouped) || strings.Contains(p.body, "<img") || !strings.Contains(p.body, "&lt;img src=x") {
			t.Errorf("%s: list %q", path, p.body)
		}
	}
	if p = anna.get("/"); !strings.Contains(p.body, "control") {
		t.Error("home list lacks the rights")
	}
	// Bert's list does not show Anna's session, and he cannot end it.
	if p = bert.do(http.MethodGet, "/sessions/list", nil, "Sec-Fetch-Dest", "empty"); strings.Contains(p.body, grouped) {
		t.Error("Bert sees Anna's session")
	}
	if p = bert.post("/session/"+code+"/end", nil); p.status != http.StatusForbidden || !strings.Contains(p.body, "Not allowed: this is not your session.") {
		t.Errorf("Bert ends Anna's session: %d", p.status)
	}
	if p = bert.get("/admin"); p.status != http.StatusForbidden {
		t.Errorf("Bert on the admin page: %d", p.status)
	}
	// Anna asks for control; Bert may not.
	if p = anna.do(http.MethodPost, "/api/v1/sessions/"+code+"/request-control", nil, "Origin", td.srv.URL, "Sec-Fetch-Site", "same-origin"); p.status != http.StatusNoContent {
		t.Errorf("request control: %d %s", p.status, p.body)
	}
	if p = bert.do(http.MethodPost, "/api/v1/sessions/"+code+"/request-control", nil, "Sec-Fetch-Site", "same-origin"); p.status != http.StatusForbidden {
		t.Errorf("Bert requests control: %d", p.status)
	}
	// The admin ends it.
	if p = root.post("/admin/sessions/"+code+"/end", nil); p.status != http.StatusSeeOther {
		t.Fatalf("admin end: %d %s", p.status, p.body)
	}
	if got := td.broker.endedList(); len(got) != 1 || got[0] != code+" root ended by an admin (root)" {
		t.Fatalf("ended: %q", got)
	}
	// A code that is not one.
	if p = anna.post("/connect", url.Values{"code": {"12ab"}}); p.status != http.StatusBadRequest {
		t.Errorf("bad code: %d", p.status)
	}
	if p = anna.post("/connect", url.Values{"code": {" 482 913 "}}); p.header.Get("Location") != "/session/482913" {
		t.Errorf("grouped code: %q", p.header.Get("Location"))
	}
}

func mustAccount(t *testing.T, td *testDesk, name string) store.Account {
	a, err := td.svc.DB().Account(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDisabledAccountSessionsEnd(t *testing.T) {
	td := newTestDesk(t)
	root := td.browser()
	root.signin("root")
	anna := td.browser()
	anna.signin("anna")
	td.broker.add(SessionInfo{Code: "777111", State: "relaying", Supporter: supporterOf(mustAccount(t, td, "anna")), Since: time.Now()})
	td.broker.add(SessionInfo{Code: "777222", State: "relaying", Supporter: supporterOf(mustAccount(t, td, "bert")), Since: time.Now()})
	root.lang = "de"
	if p := root.post("/admin/accounts", url.Values{"name": {"anna"}, "role": {"supporter"}, "password": {pw}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "Dieser Benutzername ist vergeben.") {
		t.Fatalf("a taken name: %d %s", p.status, between(p.body, `role="alert">`, "</p>"))
	}
	if p := root.post("/admin/accounts/root", url.Values{"action": {"supporter"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "letzte aktive Administratorkonto") {
		t.Fatalf("the last admin: %d", p.status)
	}
	root.lang = "en"
	if p := root.post("/admin/accounts/anna", url.Values{"action": {"disable"}}); p.status != http.StatusOK {
		t.Fatalf("disable: %d", p.status)
	}
	if got := td.broker.endedList(); len(got) != 1 || !strings.HasPrefix(got[0], "777111 ") || !strings.Contains(got[0], "disabled") {
		t.Fatalf("ended %q", got)
	}
	if p := anna.get("/"); p.status != http.StatusSeeOther {
		t.Fatalf("disabled account still signed in: %d", p.status)
	}
	// Disabled elsewhere (the users command): the housekeeping ends it.
	td.svc.DB().SetDisabled(context.Background(), "bert", true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { td.desk.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(td.broker.endedList()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if got := td.broker.endedList(); len(got) != 2 || !strings.HasPrefix(got[1], "777222 ") {
		t.Fatalf("ended %q", got)
	}
}

func TestIdentify(t *testing.T) {
	td := newTestDesk(t)
	b := td.browser()
	b.signin("anna")
	r := httptest.NewRequest("GET", "/rfb", nil)
	for _, c := range b.c.Jar.Cookies(mustURL(td.srv.URL)) {
		r.AddCookie(c)
	}
	if s, ok := td.desk.Identify(r); !ok || s != (Supporter{Account: "anna", Name: "Anna Berger", Team: "Acme Support"}) {
		t.Fatalf("cookie: %+v %v", s, ok)
	}
	tok, _, _ := td.svc.NewAPIToken(context.Background(), "root", "bridge")
	r = httptest.NewRequest("GET", "/rfb", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if s, ok := td.desk.Identify(r); !ok || s.Account != "root" || s.Name != "Rita Admin" {
		t.Fatalf("token: %+v %v", s, ok)
	}
	r.Header.Set("Authorization", "Bearer lbt_forged")
	if _, ok := td.desk.Identify(r); ok {
		t.Fatal("forged token identified")
	}
	if _, ok := td.desk.Identify(httptest.NewRequest("GET", "/rfb", nil)); ok {
		t.Fatal("anonymous identified")
	}
}

func TestAPI(t *testing.T) {
	td := newTestDesk(t)
	ctx := context.Background()
	hc := td.srv.Client()
	anon := api.NewClient(td.srv.URL, "", hc)
	if _, err := anon.Login(ctx, api.LoginRequest{User: "anna", Password: "wrong password"}); err == nil || !strings.Contains(err.Error(), "wrong user name or password") {
		t.Fatal(err)
	}
	tok, err := anon.Login(ctx, api.LoginRequest{User: "anna", Password: pw, Label: "test"})
	if err != nil || tok.Account.DisplayName != "Anna Berger" {
		t.Fatal(tok, err)
	}
	c := api.NewClient(td.srv.URL, tok.Token, hc)
	me, err := c.Me(ctx)
	if err != nil || me.Name != "anna" || me.Role != "supporter" {
		t.Fatal(me, err)
	}
	code, err := c.NewCode(ctx)
	if err != nil || code.Grouped != code.Code[:3]+" "+code.Code[3:] || time.Until(code.ExpiresAt) < 5*time.Minute {
		t.Fatal(code, err)
	}
	ss, err := c.Sessions(ctx, false)
	if err != nil || len(ss) != 1 || ss[0].Supporter.Name != "Anna Berger" || ss[0].State != "issued" {
		t.Fatal(ss, err)
	}
	// Another supporter may neither end nor see it.
	btok, _ := anon.Login(ctx, api.LoginRequest{User: "bert", Password: pw})
	bc := api.NewClient(td.srv.URL, btok.Token, hc)
	if err := bc.End(ctx, code.Code, ""); !api.IsCode(err, "forbidden") {
		t.Fatal("bert ends anna's code:", err)
	}
	if ss, _ := bc.Sessions(ctx, true); len(ss) != 0 {
		t.Fatal("bert lists all sessions")
	}
	if _, err := bc.Audit(ctx, nil); !api.IsCode(err, "forbidden") {
		t.Fatal("a supporter reads the audit:", err)
	}
	if err := c.End(ctx, code.Code, "customer called back"); err != nil {
		t.Fatal(err)
	}
	if err := c.End(ctx, code.Code, ""); !api.IsCode(err, "not_found") {
		t.Fatal("ended twice:", err)
	}
	// The audit, searchable by supporter and code.
	rtok, _ := anon.Login(ctx, api.LoginRequest{User: "root", Password: pw})
	rc := api.NewClient(td.srv.URL, rtok.Token, hc)
	td.audit.Close() // flush
	recs, err := rc.Audit(ctx, url.Values{"supporter": {"anna"}})
	if err != nil || len(recs) == 0 {
		t.Fatal(recs, err)
	}
	for _, r := range recs {
		if r.Supporter != "anna" {
			t.Fatalf("audit for anna has %+v", r)
		}
	}
	if _, err := rc.Audit(ctx, url.Values{"since": {"yesterday"}}); !api.IsCode(err, "bad_request") {
		t.Fatal(err)
	}
	// Logout revokes the token.
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Me(ctx); !api.IsCode(err, "unauthorized") {
		t.Fatal("revoked token works:", err)
	}
	// A second factor is asked for; throttling says when to retry.
	key, _ := td.svc.BeginTOTP("bert")
	otp, _ := auth.TOTPCode(key.Secret, time.Now().Add(-30*time.Second))
	td.svc.ConfirmTOTP(ctx, "bert", key.Secret, otp)
	if _, err := anon.Login(ctx, api.LoginRequest{User: "bert", Password: pw}); !api.IsCode(err, "otp_required") {
		t.Fatal(err)
	}
	otp, _ = auth.TOTPCode(key.Secret, time.Now())
	if _, err := anon.Login(ctx, api.LoginRequest{User: "bert", Password: pw, OTP: otp}); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		anon.Login(ctx, api.LoginRequest{User: "root", Password: "wrong password"})
	}
	_, err = anon.Login(ctx, api.LoginRequest{User: "root", Password: pw})
	var ae *api.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.Body.RetryAfter < 1 {
		t.Fatal("throttled:", err)
	}
	// Bad input.
	for _, body := range []string{"{", `{"user": 5}`, strings.Repeat("x", maxBody+1)} {
		resp, err := hc.Post(td.srv.URL+"/api/v1/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var e api.Error
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode/100 != 4 || e.Error == "" {
			t.Errorf("body %.20q: %d %+v", body, resp.StatusCode, e)
		}
	}
	// A sign-in form of 2 MiB is refused, not read.
	big := td.browser()
	if p := big.post("/signin", url.Values{"user": {"anna"}, "password": {strings.Repeat("x", 2<<20)}}); p.status/100 != 4 {
		t.Errorf("a 2 MiB form: %d", p.status)
	}
	if resp, _ := hc.Get(td.srv.URL + "/api/v1/nothing"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d", resp.StatusCode)
	}
}

func TestCLIBrowserLogin(t *testing.T) {
	td := newTestDesk(t)
	ctx := context.Background()
	anon := api.NewClient(td.srv.URL, "", td.srv.Client())
	verifier := "a-long-random-verifier-that-only-the-cli-knows"
	req, err := anon.CLIStart(ctx, challengeOf(verifier))
	if err != nil || len(req.Confirm) != 6 {
		t.Fatal(req, err)
	}
	if _, err := anon.CLIToken(ctx, req.Request, verifier); !api.IsCode(err, "pending") {
		t.Fatal("before allowing:", err)
	}
	b := td.browser()
	b.signin("anna")
	p := b.get(req.URL)
	if !strings.Contains(p.body, req.Confirm) || !strings.Contains(p.body, ">Allow</button>") {
		t.Fatalf("authorize page: %s", p.body)
	}
	if _, err := anon.CLIToken(ctx, req.Request, "wrong verifier"); !api.IsCode(err, "expired") {
		t.Fatal("wrong verifier:", err)
	}
	b.post("/cli/authorize", url.Values{"request": {req.Request}})
	tok, err := anon.CLIToken(ctx, req.Request, verifier)
	if err != nil || tok.Account.Name != "anna" {
		t.Fatal(tok, err)
	}
	if _, err := anon.CLIToken(ctx, req.Request, verifier); !api.IsCode(err, "expired") {
		t.Fatal("token taken twice:", err)
	}
}

func TestDownload(t *testing.T) {
	td := newTestDesk(t)
	b := td.browser()
	if p := b.get("/download/winvnc-482913.exe"); p.status != http.StatusNotFound || !strings.Contains(p.body, "was not built") {
		t.Fatalf("no agent: %d", p.status)
	}
	dir := filepath.Join(td.desk.cfg.DataDir, "agents")
	writeFile(t, filepath.Join(dir, "winvnc.exe"), "MZ windows agent")
	writeFile(t, filepath.Join(dir, "winvnc"), "\x7fELF linux agent")
	for _, tc := range []struct{ path, body, name string }{
		{"/download/winvnc-482913.exe", "MZ windows agent", "winvnc-482913.exe"},
		{"/download/winvnc-482913", "\x7fELF linux agent", "winvnc-482913"},
	} {
		p := b.get(tc.path)
		if p.status != http.StatusOK || p.body != tc.body || !strings.Contains(p.header.Get("Content-Disposition"), `filename="`+tc.name+`"`) {
			t.Errorf("%s: %d %q %q", tc.path, p.status, p.body, p.header.Get("Content-Disposition"))
		}
	}
	for _, bad := range []string{"/download/winvnc-012345.exe", "/download/winvnc-48291a", "/download/..%2fdesk.db", "/download/winvnc-482913.exe.bak"} {
		if p := b.get(bad); p.status != http.StatusNotFound {
			t.Errorf("%s: %d", bad, p.status)
		}
	}
	// The code page links them.
	b.signin("anna")
	p := b.post("/codes", nil)
	code := strings.TrimPrefix(p.header.Get("Location"), "/session/")
	p = b.get("/session/" + code)
	if !strings.Contains(p.body, `href="/download/winvnc-`+code+`.exe">winvnc-`+code+`.exe</a>`) {
		t.Errorf("no download link: %s", between(p.body, `id="codebox">`, "</div>"))
	}
}

func TestNoVNCAndStatic(t *testing.T) {
	td := newTestDesk(t)
	b := td.browser()
	for _, path := range []string{"/static/console.css", "/static/viewer.js", "/static/live.js", "/third-party"} {
		if p := b.get(path); p.status != http.StatusOK || p.header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d", path, p.status)
		}
	}
	// Scripts go gzipped to browsers that take it, as they are to others.
	plain := b.do(http.MethodGet, "/static/viewer.js", nil, "Accept-Encoding", "identity")
	zipped := b.do(http.MethodGet, "/static/viewer.js", nil, "Accept-Encoding", "gzip, deflate")
	if plain.header.Get("Content-Encoding") != "" || !strings.Contains(plain.body, "import RFB") {
		t.Errorf("identity: %q", plain.header)
	}
	if zipped.header.Get("Content-Encoding") != "gzip" || zipped.header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("gzip: %q", zipped.header)
	} else if zr, err := gzip.NewReader(strings.NewReader(zipped.body)); err != nil {
		t.Error(err)
	} else if got, _ := io.ReadAll(zr); string(got) != plain.body {
		t.Error("the gzipped script differs")
	}
	if p := b.get("/static/"); p.status != http.StatusNotFound {
		t.Errorf("directory listing: %d", p.status)
	}
	if p := b.get("/novnc/core/rfb.js"); p.status == http.StatusOK && !strings.HasPrefix(p.header.Get("Content-Type"), "text/javascript") {
		t.Errorf("rfb.js served as %q", p.header.Get("Content-Type"))
	}
	if p := b.get("/nothing-here"); p.status != http.StatusNotFound {
		t.Errorf("unknown path: %d", p.status)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Sign-in through the company's OIDC provider (a real one a test can
// start: mockoidc) from the console's button to a console session.
func TestSignInOIDC(t *testing.T) {
	td := newTestDesk(t)
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	mc := m.Config()
	o, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: mc.Issuer, ClientID: mc.ClientID, ClientSecret: mc.ClientSecret,
		RedirectURL: td.srv.URL + "/signin/oidc/callback", Scopes: []string{"profile", "email", "groups"},
		AdminGroup: "desk-admins", Team: "Acme Support", CreateAccounts: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	td.desk.cfg.OIDC = o
	b := td.browser()
	if p := b.get("/signin"); !strings.Contains(p.body, "Sign in with your company account") {
		t.Fatal("no OIDC button")
	}
	m.QueueUser(&mockoidc.MockUser{Subject: "s-carla", PreferredUsername: "carla", Email: "carla@acme.test", Groups: []string{"desk-admins"}})
	p := b.get("/signin/oidc?next=/admin")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), mc.Issuer) {
		t.Fatalf("to the provider: %d %q", p.status, p.header.Get("Location"))
	}
	// The provider (mockoidc signs the queued user in at once) sends the
	// browser back to the callback.
	resp, err := b.c.Get(p.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back := resp.Header.Get("Location")
	if !strings.HasPrefix(back, td.srv.URL+"/signin/oidc/callback?") {
		t.Fatalf("provider sent the browser to %q", back)
	}
	p = b.get(strings.TrimPrefix(back, td.srv.URL))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin" {
		t.Fatalf("callback: %d %q %s", p.status, p.header.Get("Location"), between(p.body, `role="alert">`, "</p>"))
	}
	if p = b.get("/admin"); p.status != http.StatusOK || !strings.Contains(p.body, "Signed in as carla (Acme Support)") {
		t.Fatalf("admin page after OIDC: %d %s", p.status, between(p.body, `class="who">`, "</span>"))
	}
	// A callback replayed in another browser is refused: its state was
	// spent, and the other browser lacks the binding cookie anyway.
	other := td.browser()
	if p = other.get(strings.TrimPrefix(back, td.srv.URL)); p.status != http.StatusBadRequest || !strings.Contains(p.body, "was not started in this browser") {
		t.Fatalf("replayed callback: %d", p.status)
	}
}

// A broker built without "make web" says so where the viewer would be.
func TestNoBrowserViewer(t *testing.T) {
	td := newTestDesk(t)
	td.desk.novnc = false
	b := td.browser()
	b.signin("anna")
	const says = "The browser viewer was not built into this broker (make web)"
	if p := b.get("/"); !strings.Contains(p.body, says) {
		t.Error("the home page does not say so")
	}
	p := b.get("/session/482913")
	if !strings.Contains(p.body, says) || strings.Contains(p.body, "viewer.js") {
		t.Error("the session page does not say so, or loads the viewer")
	}
	td.desk.novnc = true
	if p := b.get("/"); strings.Contains(p.body, says) {
		t.Error("the warning shows with the viewer built")
	}
}
