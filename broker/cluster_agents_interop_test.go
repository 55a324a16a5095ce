//go:build interop && linux

package broker_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/api"
	"lifebuoy/viewer/bridge"
	"lifebuoy/viewer/web"
)

// haproxy starts HAProxy as a TCP load balancer on loopback in front of
// the nodes' agent ports, round robin, passing a connection that a dead
// node refuses on to the next, and returns its address.
func haproxy(t *testing.T, nodes ...*nodeProc) string {
	t.Helper()
	p := rfbtest.FreePort(t)
	conf := fmt.Sprintf("global\n\tmaxconn 200\ndefaults\n\tmode tcp\n\ttimeout connect 1s\n\ttimeout client 1h\n"+
		"\ttimeout server 1h\n\tretries 3\n\toption redispatch 1\nfrontend agents\n\tbind 127.0.0.1:%d\n"+
		"\tdefault_backend nodes\nbackend nodes\n\tbalance roundrobin\n", p)
	for _, n := range nodes {
		conf += fmt.Sprintf("\tserver %s %s\n", n.name, n.addrs["agent"])
	}
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	rfbtest.Start(t, nil, "haproxy", "-db", "-f", file)
	addr := "127.0.0.1:" + strconv.Itoa(p)
	waitFor(t, "HAProxy listens", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// issueCode asks node n's admin API for a supporter-first code.
func issueCode(t *testing.T, tc *testCluster, n *nodeProc) string {
	t.Helper()
	tok := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(tc.dir, n.name, broker.AdminTokenFile)))))
	req := must(http.NewRequest("POST", "http://"+n.addrs["admin"]+"/admin/codes", nil))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp := must(http.DefaultClient.Do(req))
	defer resp.Body.Close()
	var cr broker.CodeResponse
	if err := json.NewDecoder(resp.Body).Decode(&cr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("issue a code on %s: %d %v", n.name, resp.StatusCode, err)
	}
	return cr.Code
}

// Agents follow their codes across the cluster, with the real agent
// (winvnc) on an Xvfb screen:
//   - a supporter-first code issued on a (the admin API, as the console
//     does) and presented by the agent to c: c redirects the agent to a,
//     and TigerVNC's protocol from a viewer on b sees its screen;
//   - a customer-first agent that reached the cluster through a TCP load
//     balancer (HAProxy, round robin) and waits there keeps its code when
//     its node is killed: it reconnects through the balancer, the node it
//     reaches takes the code over, and a viewer on a third node with the
//     same code sees its screen. Its data connection goes to the node
//     that holds the code, not through the balancer (which would send it
//     elsewhere as often as not);
//   - the desk's accounts are in the cluster's PostgreSQL: an account
//     made once signs in on c, its token holds on every node, and the
//     console's viewer (the bridge of "lifebuoy connect") on c watches an
//     agent on a, whose customer is asked about the supporter by name;
//     and the web console in Chromium, signed in on c, shows that agent's
//     screen in noVNC's canvas pixel for pixel.
func TestInteropClusterAgentsFollowTheirCodes(t *testing.T) {
	rfbtest.LookPath(t, "haproxy", "Xvfb", "xsetroot")
	tc := startTestCluster(t)
	a, b, c := tc.start("a"), tc.start("b"), tc.start("c")
	nodes := []*nodeProc{a, b, c}
	waitFor(t, "every node sees three live nodes", func() bool {
		for _, n := range nodes {
			if n.metric(t, "lifebuoy_cluster_live_nodes") != 3 {
				return false
			}
		}
		return true
	})
	x := rfbtest.StartXvfb(t, 160, 100, 24)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rfbtest.Run(t, ctx, x.Env(), "xsetroot", "-solid", "#208040"); err != nil {
		t.Fatal(err)
	}
	agent := rfbtest.BuildGo(t, "./cmd/winvnc")
	closed := strconv.Itoa(rfbtest.FreePort(t)) // no HTTPS port: the agent port works
	runAgent := func(t *testing.T, brokerAddr string, args ...string) (*rfbtest.Terminal, string) {
		t.Helper()
		argv := append([]string{"-broker", brokerAddr, "-https-ports", closed, "-proxy", "direct",
			"-fingerprint", tc.fingerprint, "-display", x.Display, "-ui", "terminal"}, args...)
		term := rfbtest.StartTerminal(t, x.Env(), agent, argv...)
		return term, term.Expect(`^code (\d{6})$`, 20*time.Second)[1]
	}
	// view pairs a viewer on node n with code, the customer says yes, and
	// the viewer must see the screen's pixels.
	view := func(t *testing.T, n *nodeProc, term *rfbtest.Terminal, code string) {
		t.Helper()
		got := make(chan *rfb.Client, 1)
		go func() {
			cl, err := rfbViewer(t, n.addrs["viewer"], code)
			if err != nil {
				t.Error(err)
			}
			got <- cl
		}()
		term.Expect(`^prompt Allow .* to see your screen\?`, 20*time.Second)
		term.Send("y")
		cl := <-got
		if cl == nil {
			t.FailNow()
		}
		defer cl.Close()
		syncTo(t, cl, must(x.Capture()))
		term.Send("end")
		if err := term.Wait(20 * time.Second); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("supporter-first-code-redirected", func(t *testing.T) {
		code := issueCode(t, tc, a)
		waitFor(t, "c's replica has the code", func() bool { return c.metric(t, "lifebuoy_cluster_codes") >= 1 })
		term, got := runAgent(t, c.addrs["agent"], "-code", code)
		if got != code {
			t.Fatalf("the agent shows code %s, not %s", got, code)
		}
		term.Expect(`^state waiting Connected \(TLS to `+a.addrs["agent"]+`\)`, 10*time.Second)
		if n := a.metric(t, "lifebuoy_agents"); n != 1 {
			t.Fatalf("a holds %v agents", n)
		}
		if n := c.metric(t, "lifebuoy_cluster_agent_redirects_total"); n != 1 {
			t.Fatalf("c redirected %v agents", n)
		}
		start := time.Now()
		view(t, b, term, code)
		t.Logf("viewed in %v", time.Since(start))
	})

	t.Run("desk-on-the-cluster-database", func(t *testing.T) {
		// An account made once, in the cluster's PostgreSQL.
		users := exec.Command(tc.bin, "users", "-cluster", tc.dsn, "add", "anna", "-name", "Anna Berger", "-team", "Acme Support")
		users.Stdin = strings.NewReader("a good password\n")
		if out, err := users.CombinedOutput(); err != nil {
			t.Fatalf("users add: %v\n%s", err, out)
		}
		tlsCfg := must(bridge.PinnedTLS(tc.fingerprint))
		hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// Signed in on c; the token holds on a and b too.
		tok, err := api.NewClient("https://"+c.addrs["https"], "", hc).Login(ctx, api.LoginRequest{User: "anna", Password: "a good password"})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if me, err := api.NewClient("https://"+n.addrs["https"], tok.Token, hc).Me(ctx); err != nil || me.DisplayName != "Anna Berger" {
				t.Fatalf("anna on %s: %+v %v", n.name, me, err)
			}
		}
		// The console's viewer (lifebuoy connect's bridge) on c, for an
		// agent on a: the customer is asked about Anna by name.
		term, code := runAgent(t, a.addrs["agent"])
		br, err := bridge.Listen(bridge.Config{URL: "https://" + c.addrs["https"], Token: tok.Token, Code: code, TLS: tlsCfg})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- br.Serve(ctx) }()
		got := make(chan *rfb.Client, 1)
		go func() {
			conn, err := net.Dial("tcp", br.Addr().String())
			if err != nil {
				t.Error(err)
				got <- nil
				return
			}
			t.Cleanup(func() { conn.Close() })
			cl, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: br.Password(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
			if err != nil {
				t.Error(err)
			}
			got <- cl
		}()
		term.Expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\?`, 20*time.Second)
		term.Send("y")
		cl := <-got
		if cl == nil {
			t.FailNow()
		}
		syncTo(t, cl, must(x.Capture()))
		if n := c.metric(t, "lifebuoy_cluster_forwarded_sessions"); n != 1 {
			t.Fatalf("c forwards %v sessions", n)
		}
		term.Send("end")
		if err := term.Wait(20 * time.Second); err != nil {
			t.Fatal(err)
		}
		select {
		case <-served:
		case <-time.After(20 * time.Second):
			t.Fatal("the bridge did not end with the session")
		}
	})

	t.Run("web-console-on-c-agent-on-a", func(t *testing.T) {
		if !web.NoVNCBuilt() {
			t.Fatal("the browser viewer was not built: run make web")
		}
		// Chromium signs in to c's console (anna, made above in the
		// cluster's database) and connects with the code of an agent on
		// a: noVNC's WebSocket to c's /rfb, with the console's cookie, is
		// forwarded to a, and the canvas shows the agent's screen.
		sum := sha256.Sum256(tc.brokerCert.cert.RawSubjectPublicKeyInfo)
		br := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{TrustSPKI: []string{base64.StdEncoding.EncodeToString(sum[:])}})
		p, err := br.NewPage(rfbtest.PageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if status, err := p.Goto("https://" + c.addrs["https"] + "/"); err != nil || status != http.StatusOK {
			t.Fatalf("c's console: %d %v", status, err)
		}
		for _, step := range []error{p.Fill("User name", "anna"), p.Fill("Password", "a good password"),
			p.Click("button", "Sign in"), p.WaitText("New session code", 30*time.Second)} {
			if step != nil {
				t.Fatal(step)
			}
		}
		term, code := runAgent(t, a.addrs["agent"])
		for _, step := range []error{p.Fill("Customer's code", code), p.Click("button", "Connect")} {
			if step != nil {
				t.Fatal(step)
			}
		}
		term.Expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\?`, 20*time.Second)
		term.Send("y")
		if err := p.WaitText("Connected", 20*time.Second); err != nil {
			t.Fatalf("%v (page logs %q)", err, p.Logs())
		}
		want := must(x.Capture())
		deadline := time.Now().Add(20 * time.Second)
		for {
			shot, err := p.CanvasImage("#screen canvas")
			if err == nil && shot.Bounds().Dx() == want.Bounds().Dx() {
				if n, _, d := rfbtest.Diff(shot, want); n == 0 {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("canvas differs: %s", d)
				}
			} else if time.Now().After(deadline) {
				t.Fatalf("canvas: %v (page logs %q)", err, p.Logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n := c.metric(t, "lifebuoy_cluster_forwarded_sessions"); n != 1 {
			t.Fatalf("c forwards %v sessions", n)
		}
		// c's second forward to a took a connection made after the first.
		if n := c.metric(t, "lifebuoy_cluster_forwards_ready_total"); n < 1 {
			t.Fatalf("c took %v ready peer connections", n)
		}
		term.Send("end")
		if err := term.Wait(20 * time.Second); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("home-killed-agent-keeps-its-code", func(t *testing.T) {
		addAccount(t, tc, "root", "-role", "admin")
		actx, acancel := context.WithTimeout(context.Background(), time.Minute)
		defer acancel()
		root := must(deskAPI(a, "").Login(actx, api.LoginRequest{User: "root", Password: deskPassword}))
		lb := haproxy(t, a, b, c)
		term, code := runAgent(t, lb)
		// The link shows the node it holds the code on, where its data
		// connection goes.
		to := term.Expect(`^state waiting Connected \(TLS to (127\.0\.0\.1:\d+)\)`, 10*time.Second)[1]
		var home *nodeProc
		waitFor(t, "the agent's node counts it", func() bool {
			for _, n := range nodes {
				if n.metric(t, "lifebuoy_agents") == 1 {
					home = n
				}
			}
			return home != nil
		})
		if home.addrs["agent"] != to {
			t.Fatalf("the agent shows %s, its node %s is at %s", to, home.name, home.addrs["agent"])
		}
		killed := time.Now()
		home.kill()
		term.Expect(`^state connecting The connection to the broker was lost`, 10*time.Second)
		term.Expect(`^state waiting Connected again`, 30*time.Second)
		t.Logf("the agent waits again with its code %v after its node was killed", time.Since(killed).Round(time.Millisecond))
		var next, viewer *nodeProc
		for _, n := range nodes {
			switch {
			case n == home:
			case n.metric(t, "lifebuoy_agents") == 1:
				next = n
			default:
				viewer = n
			}
		}
		if next == nil || viewer == nil {
			t.Fatal("no other node took the agent")
		}
		t.Logf("the agent moved from %s to %s; the viewer comes to %s", home.name, next.name, viewer.name)
		if n := next.metric(t, "lifebuoy_cluster_code_takeovers_total"); n != 1 {
			t.Fatalf("%s took over %v codes", next.name, n)
		}
		// The code keeps its kind: the node that took it over lists it
		// as a customer's, and so does the third, with its new node; the
		// audit says so.
		listed := func(n *nodeProc) (api.Session, bool) {
			for _, s := range must(deskAPI(n, root.Token).Sessions(actx, true)) {
				if s.Code == code {
					return s, true
				}
			}
			return api.Session{}, false
		}
		if s, ok := listed(next); !ok || s.Flow != "customer-first" || s.Node != "" || s.State != "waiting" {
			t.Fatalf("%s lists the code taken over as %+v (%v)", next.name, s, ok)
		}
		waitFor(t, "the viewer's node lists the code on its new node", func() bool {
			s, ok := listed(viewer)
			return ok && s.Node == next.name && s.Flow == "customer-first"
		})
		waitFor(t, "the audit says the code was taken over, customer first", func() bool {
			rs, err := deskAPI(viewer, root.Token).Audit(actx, url.Values{"code": {code}})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Msg == "code taken over" && r.Attrs["flow"] == "customer-first" {
					return true
				}
			}
			return false
		})
		view(t, viewer, term, code)
		if n := viewer.metric(t, "lifebuoy_cluster_forwarded_sessions_total"); n < 1 {
			t.Fatalf("%s forwarded %v sessions", viewer.name, n)
		}
	})
}
