package desk

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"lifebuoy/viewer/api"
)

// With its database gone, the desk refuses sign-ins, pages and API calls
// with 503 and words a supporter understands, and counts each refusal.
// (The interop test of the cluster stops and restarts a real PostgreSQL
// and signs in again after.)
func TestDatabaseUnreachable(t *testing.T) {
	td := newTestDesk(t)
	ctx := context.Background()
	b := td.browser()
	b.signin("anna")
	anon := api.NewClient(td.srv.URL, "", td.srv.Client())
	tok, err := anon.Login(ctx, api.LoginRequest{User: "anna", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	td.desk.db.Close()

	p := td.browser().post("/signin", url.Values{"user": {"anna"}, "password": {pw}, "next": {"/"}})
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "The support database cannot be reached; try again in a minute.") {
		t.Fatalf("sign-in: %d %s", p.status, p.body)
	}
	if p.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// A signed-in supporter's page, and the page's own script.
	p = b.do(http.MethodGet, "/", nil, "Sec-Fetch-Mode", "navigate")
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "The support database cannot be reached") {
		t.Fatalf("home: %d %s", p.status, p.body)
	}
	p = b.do(http.MethodGet, "/sessions/list", nil, "Sec-Fetch-Dest", "empty")
	if p.status != http.StatusServiceUnavailable {
		t.Fatalf("list: %d %s", p.status, p.body)
	}
	de := td.browser()
	de.lang = "de"
	if p = de.post("/signin", url.Values{"user": {"anna"}, "password": {pw}}); !strings.Contains(p.body, "Die Support-Datenbank ist nicht erreichbar") {
		t.Fatalf("German sign-in: %d %s", p.status, p.body)
	}
	// The API.
	if _, err := anon.Login(ctx, api.LoginRequest{User: "anna", Password: pw}); !api.IsCode(err, "unavailable") ||
		!strings.Contains(err.Error(), "support database cannot be reached") {
		t.Fatalf("API login: %v", err)
	}
	if _, err := api.NewClient(td.srv.URL, tok.Token, td.srv.Client()).Me(ctx); !api.IsCode(err, "unavailable") {
		t.Fatalf("API me: %v", err)
	}
	if n := td.desk.refused.n.Load(); n != 6 {
		t.Fatalf("%d refusals counted, want 6", n)
	}
	var m strings.Builder
	td.desk.WriteMetrics(&m)
	if !strings.Contains(m.String(), "\nlifebuoy_desk_database_unreachable_total 6\n") {
		t.Fatalf("metrics: %s", m.String())
	}
	// A wrong password is not the database's fault: no ping, no count.
	// (With the database gone it cannot be told, so this is checked on a
	// fresh desk.)
	td2 := newTestDesk(t)
	if p := td2.browser().post("/signin", url.Values{"user": {"anna"}, "password": {"wrong"}}); p.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", p.status)
	}
	if n := td2.desk.refused.n.Load(); n != 0 {
		t.Fatalf("a wrong password counted %d refusals", n)
	}
}
