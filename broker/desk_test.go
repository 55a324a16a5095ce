package broker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// testDesk names the supporter from a header and serves one page; the
// real desk (package viewer) names them from its sessions and tokens.
type testDesk struct{}

func (testDesk) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/console" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "console")
	})
}

func (testDesk) Identify(r *http.Request) (broker.Supporter, bool) {
	if r.Header.Get("X-Test-Supporter") == "" {
		return broker.Supporter{}, false
	}
	return broker.Supporter{Account: "anna", Name: r.Header.Get("X-Test-Supporter"), Team: "Acme Support"}, true
}

// recordSink keeps the audit records the broker hands the desk.
type recordSink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *recordSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *recordSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	s.msgs = append(s.msgs, line)
	return nil
}
func (s *recordSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *recordSink) WithGroup(string) slog.Handler      { return s }
func (s *recordSink) has(substr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

// waitSession waits until code's entry in Sessions satisfies ok.
func waitSession(t *testing.T, tb *testBroker, code string, ok func(broker.SessionInfo) bool) broker.SessionInfo {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, s := range tb.Sessions() {
			if s.Code == code && ok(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("code %s never reached the wanted state: %+v", code, tb.Sessions())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The desk's supporter is named to the customer, listed with the
// customer's rights, can ask for control and end the session.
func TestDeskSession(t *testing.T) {
	cfg := testConfig(t)
	tb := startBroker(t, cfg)
	tb.SetDesk(testDesk{})
	sink := &recordSink{}
	tb.SetAuditSink(sink)
	changed, stop := tb.Subscribe()
	defer stop()

	anna := broker.Supporter{Account: "anna", Name: "Anna Berger", Team: "Acme Support"}
	code, _, err := tb.IssueCode(anna)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no change notice for a new code")
	}
	s := waitSession(t, tb, code, func(s broker.SessionInfo) bool { return s.State == "issued" })
	if s.Supporter != anna || s.Flow != "supporter-first" {
		t.Fatalf("issued code listed as %+v", s)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link, err := agentlink.Dial(ctx, tb.linkConfig(code))
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	img := rfbtest.Pattern(64, 48, 5)
	srv := rfb.NewServer(rfb.NewFramebufferFromImage(img), rfb.Options{})
	incoming := make(chan *agentlink.Incoming, 1)
	go func() {
		in, err := link.Accept(ctx)
		if err != nil {
			return
		}
		incoming <- in
		conn, err := in.Open(ctx)
		if err != nil {
			return
		}
		link.SendRights(in.SessionID, false, true)
		srv.ServeAuthenticated(ctx, conn, in.Version)
	}()

	c, err := dialWebViewer(t, tb, rfb.ClientConfig{Password: code}, http.Header{"X-Test-Supporter": {"Anna Berger"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := <-incoming
	if got := in.Who(); got != "Anna Berger (Acme Support)" {
		t.Fatalf("the customer is told %q", got)
	}
	syncTo(t, c, img)
	s = waitSession(t, tb, code, func(s broker.SessionInfo) bool { return s.State == "relaying" && s.RightsKnown })
	if s.Supporter != anna || s.Control || !s.Files || s.Path != "wss" || s.Customer != "test agent" || s.BytesToViewer == 0 {
		t.Fatalf("running session listed as %+v", s)
	}

	if err := tb.RequestControl(code, anna); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-link.Requests():
		if r.Right != agentlink.RightControl || r.Supporter != anna || r.SessionID != in.SessionID {
			t.Fatalf("request %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent got no request")
	}

	if err := tb.EndSession(code, anna, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-link.Done():
		if !strings.Contains(link.Err().Error(), "Anna Berger") {
			t.Fatalf("the agent was told %v", link.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent's link stays after the end")
	}
	if _, err := c.ReadMessage(); err == nil {
		t.Fatal("the viewer's session goes on after the end")
	}
	for _, want := range []string{"code issued", "supporter=anna", "rights", "control requested", "session ended by supporter"} {
		if !sink.has(want) {
			t.Errorf("audit sink has no %q", want)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); len(tb.Sessions()) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the ended session is still listed: %+v", tb.Sessions())
		}
	}
	if err := tb.EndSession(code, anna, ""); !errors.Is(err, broker.ErrNoSession) {
		t.Fatalf("ending an ended session: %v", err)
	}

	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tb.brokerTLS()}}).Get("https://" + tb.httpsAddr + "/console")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "console" {
		t.Fatalf("the desk's page: %q", body)
	}
}

// With anonymous viewers off, a stock viewer is refused with words that
// say what to do, and a named supporter gets in.
func TestAnonymousViewersOff(t *testing.T) {
	cfg := testConfig(t)
	cfg.AnonymousViewers = false
	tb := startBroker(t, cfg)
	tb.SetDesk(testDesk{})
	a := startAgent(t, tb, "", rfbtest.Pattern(32, 32, 1), "")
	_, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err == nil || !strings.Contains(err.Error(), "signed-in supporters") {
		t.Fatalf("anonymous viewer: %v", err)
	}
	_, err = dialWebViewer(t, tb, rfb.ClientConfig{Password: a.link.Code()}, nil)
	if err == nil || !strings.Contains(err.Error(), "signed-in supporters") {
		t.Fatalf("anonymous web viewer: %v", err)
	}
	c, err := dialWebViewer(t, tb, rfb.ClientConfig{Password: a.link.Code()}, http.Header{"X-Test-Supporter": {"Anna"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
