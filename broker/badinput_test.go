package broker_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// expectClose reads from c until the broker closes it, within limit.
func expectClose(t *testing.T, c net.Conn, limit time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	// A reset is a close too: the broker closed with our bytes unread.
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection not closed by the broker within %v: %v", limit, err)
	}
}

func TestGarbage(t *testing.T) {
	cfg := testConfig(t)
	tb := startBroker(t, cfg)
	garbage := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("\xff\x00junk", 100))
	for name, addr := range map[string]string{"agent": tb.agentAddr, "viewer": tb.viewerAddr, "repeater": tb.repeaterAddr} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(garbage)
			expectClose(t, c, 3*time.Second)
		})
	}
	t.Run("admin", func(t *testing.T) {
		c, err := net.Dial("tcp", tb.admin)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("\x16\x03\x01garbage\r\n\r\n"))
		expectClose(t, c, 3*time.Second)
	})
	// The broker still pairs after all that.
	img := rfbtest.Pattern(16, 16, 10)
	a := startAgent(t, tb, "", img, "")
	c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	syncTo(t, c, img)
}

// TestHalfHandshake holds handshakes open (slowloris); each is closed
// after the handshake timeout, and the per-address cap refuses more.
func TestHalfHandshake(t *testing.T) {
	cfg := testConfig(t)
	cfg.HandshakeTimeout = broker.Duration(300 * time.Millisecond)
	cfg.MaxHandshakesAddr = 2
	tb := startBroker(t, cfg)
	for name, addr := range map[string]string{"agent": tb.agentAddr, "viewer": tb.viewerAddr, "repeater": tb.repeaterAddr} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if name == "viewer" {
				c.Write([]byte("RFB 003.008\n")) // and then nothing
			} else {
				c.Write([]byte("ID:1")) // a part
			}
			start := time.Now()
			expectClose(t, c, 3*time.Second)
			if d := time.Since(start); d < 250*time.Millisecond {
				t.Fatalf("closed after %v, before the handshake timeout", d)
			}
		})
	}
	t.Run("cap", func(t *testing.T) {
		var held []net.Conn
		for range 2 {
			c, _ := net.Dial("tcp", tb.viewerAddr)
			io.ReadFull(c, make([]byte, 12))
			held = append(held, c)
		}
		// The third is refused at once, with the reason.
		c, _ := net.Dial("tcp", tb.viewerAddr)
		defer c.Close()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := rfb.NewClient(ctx, c, rfb.ClientConfig{Password: "x"})
		cancel()
		if !strings.Contains(fmt.Sprint(err), "many connections from your address") {
			t.Fatalf("third handshake: %v, want a refusal with the reason", err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("third handshake refused after %v, want at once", d)
		}
		for _, h := range held {
			h.Close()
		}
		if tb.Metrics().RefusedConns.Load() == 0 {
			t.Fatal("refused connection not counted")
		}
	})
}

func TestOversizedFrame(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	c, err := tls.Dial("tcp", tb.agentAddr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hdr := []byte{byte(agentlink.TypeHello)}
	hdr = binary.BigEndian.AppendUint32(hdr, 1<<30)
	c.Write(hdr)
	expectClose(t, c, 3*time.Second)

	// TLS 1.2 is refused on the agent port.
	_, err = tls.Dial("tcp", tb.agentAddr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err == nil {
		t.Fatal("TLS 1.2 accepted on the agent port")
	}
}

func TestBadDataHello(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	c, err := tls.Dial("tcp", tb.agentAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	agentlink.WriteMessage(c, &agentlink.DataHello{SessionID: "nope", Token: "nope"})
	expectClose(t, c, 3*time.Second)
}

// adminPost posts to the admin API with the data directory's token, a
// Host header and, when origin is set, an Origin header.
func adminPost(t *testing.T, tb *testBroker, host, origin string, withToken bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+tb.admin+"/admin/codes", nil)
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if withToken {
		tok, err := os.ReadFile(filepath.Join(tb.dir, broker.AdminTokenFile))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestAdminAndMetrics(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	// Without the token, with a name that is not loopback (DNS
	// rebinding), or from a web page: refused, each with the reason.
	for _, tc := range []struct {
		host, origin string
		token        bool
		status       int
	}{
		{"", "", false, http.StatusUnauthorized},
		{"evil.example:5515", "", true, http.StatusForbidden},
		{"", "http://evil.example", true, http.StatusForbidden},
	} {
		resp := adminPost(t, tb, tc.host, tc.origin, tc.token)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("admin API with host %q origin %q token %v: %s, want %d", tc.host, tc.origin, tc.token, resp.Status, tc.status)
		}
	}
	if fi, err := os.Stat(filepath.Join(tb.dir, broker.AdminTokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v", fi, err)
	}
	resp := adminPost(t, tb, "", "", true)
	var cr broker.CodeResponse
	json.NewDecoder(resp.Body).Decode(&cr)
	resp.Body.Close()
	if resp.StatusCode != 200 || !broker.ValidCode(cr.Code, 6) || cr.Grouped != broker.GroupCode(cr.Code) {
		t.Fatalf("POST /admin/codes: %s %+v", resp.Status, cr)
	}
	if st, ok := tb.Codes().Lookup(cr.Code); !ok || st != broker.StateIssued {
		t.Fatalf("issued code state %v %v", st, ok)
	}
	// Minting is bounded per caller: 30 a minute.
	limited := false
	for range 40 {
		r := adminPost(t, tb, "", "", true)
		r.Body.Close()
		if r.StatusCode == http.StatusTooManyRequests && r.Header.Get("Retry-After") != "" {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("40 codes in a row from one caller were all issued")
	}
	resp, err := http.Get("http://" + tb.admin + "/admin/codes")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /admin/codes: %s", resp.Status)
	}
	resp, err = http.Get("http://" + tb.admin + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + tb.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`lifebuoy_codes{state="issued"} 30`, "lifebuoy_sessions 0", "lifebuoy_failed_guesses_total 0",
		`lifebuoy_relayed_bytes_total{direction="to_viewer"} 0`, "lifebuoy_refused_connections_total 0"} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

func TestAuditLog(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	img := rfbtest.Pattern(16, 16, 11)
	a := startAgent(t, tb, "", img, "")
	if _, err := dialViewer(t, tb, rfb.ClientConfig{Password: "999999x", Security: []rfb.SecurityType{rfb.SecVNCAuth}}); err == nil {
		t.Fatal("wrong code accepted")
	}
	c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		t.Fatal(err)
	}
	syncTo(t, c, img)
	c.Close()
	<-a.link.Done()
	tb.stop()
	f, err := os.Open(filepath.Join(tb.dir, broker.AuditFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v", fi.Mode())
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct{ Msg string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		seen[rec.Msg] = true
	}
	for _, want := range []string{"agent registered", "wrong code", "paired", "session start", "session end"} {
		if !seen[want] {
			t.Errorf("audit log lacks %q (has %v)", want, seen)
		}
	}
	for _, name := range []string{"broker-key.pem", "broker-cert.pem"} {
		if fi, err := os.Stat(filepath.Join(tb.dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", name, fi.Mode(), err)
		}
	}
}

// TestProxyConnect dials the broker through an HTTP CONNECT proxy.
func TestProxyConnect(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	pl := rfbtest.Listen(t)
	var gotAuth string
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				gotAuth = req.Header.Get("Proxy-Authorization")
				// The broker's name resolves only here, at the proxy, as
				// in a network that allows nothing but the proxy.
				up, err := net.Dial("tcp", tb.agentAddr)
				if err != nil {
					io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					return
				}
				defer up.Close()
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go io.Copy(up, br)
				io.Copy(c, up)
			}()
		}
	}()
	cfg := tb.linkConfig("")
	cfg.Broker = "broker.invalid:5510"
	cfg.Proxy = "http://user:pw@" + pl.Addr().String()
	link, err := agentlink.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	if !broker.ValidCode(link.Code(), 6) || gotAuth != "Basic dXNlcjpwdw==" {
		t.Fatalf("code %q, proxy auth %q", link.Code(), gotAuth)
	}
	if p := link.Path(); p.Kind != agentlink.PathTLS || p.Proxy == nil {
		t.Fatalf("path %v, want TLS through the proxy", p)
	}
}

// TestAuditFlood: one address that completes TLS on the agent port over
// and over with a 60 KiB name (refused for its version) makes the broker
// write a bounded log: some lines, then one summary; the names are cut
// and their bidirectional overrides escaped; a legitimate pair meanwhile
// is logged whole.
func TestAuditFlood(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	name := "\u202eevil" + strings.Repeat("n", 60_000)
	start := time.Now()
	for i := 0; i < 400 && time.Since(start) < 20*time.Second; i++ {
		c, err := tls.Dial("tcp", tb.agentAddr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
		if err != nil {
			t.Fatal(err)
		}
		agentlink.WriteMessage(c, &agentlink.Hello{Version: 99, WantCode: true, Name: name})
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		agentlink.ReadMessage(c)
		c.Close()
	}
	img := rfbtest.Pattern(16, 16, 12)
	a := startAgent(t, tb, "", img, "")
	c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		t.Fatal(err)
	}
	syncTo(t, c, img)
	c.Close()
	<-a.link.Done()
	tb.stop()
	b, err := os.ReadFile(filepath.Join(tb.dir, broker.AuditFile))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if len(b) > 128<<10 {
		t.Fatalf("the audit log grew to %d bytes from one flooding address", len(b))
	}
	for _, want := range []string{`"msg":"audit lines suppressed"`, `\\u202eevil`, `"msg":"session end"`, `"msg":"broker started"`} {
		if !strings.Contains(text, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if strings.Contains(text, "\u202e") {
		t.Error("a bidirectional override reached the log raw")
	}
	t.Logf("400 refused agents with 60 KiB names: %d bytes of audit log", len(b))
}

// TestAuditDiskFull: with the audit log on a full disk (/dev/full), the
// broker still pairs and relays, and counts the lines it could not write.
func TestAuditDiskFull(t *testing.T) {
	cfg := testConfig(t)
	if err := os.Symlink("/dev/full", filepath.Join(cfg.DataDir, broker.AuditFile)); err != nil {
		t.Fatal(err)
	}
	tb := startBroker(t, cfg)
	img := rfbtest.Pattern(24, 16, 13)
	a := startAgent(t, tb, "", img, "")
	c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		t.Fatal(err)
	}
	syncTo(t, c, img)
	c.Close()
	if n := tb.Metrics().AuditWriteErrors.Load(); n == 0 {
		t.Fatal("no audit write errors counted on a full disk")
	}
}
