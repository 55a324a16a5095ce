//go:build interop && linux

package broker_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"image"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/broker/wsconn"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/rfb/rfbtest/pgtest"
	"lifebuoy/viewer/api"
)

// pki writes a CA and a certificate it signs (or a self-signed one with a
// nil CA) as PEM files, and returns the certificate, its key and the
// files.
type pki struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	certFile string
	keyFile  string
	tls      tls.Certificate
}

func newCert(t testing.TB, dir, name string, ca *pki, isCA bool, dns ...string) *pki {
	t.Helper()
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: dns,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        isCA, BasicConstraintsValid: true}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer))
	p := &pki{cert: must(x509.ParseCertificate(der)), key: key,
		certFile: filepath.Join(dir, name+".pem"), keyFile: filepath.Join(dir, name+"-key.pem")}
	kd := must(x509.MarshalECPrivateKey(key))
	os.WriteFile(p.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(p.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	p.tls = must(tls.LoadX509KeyPair(p.certFile, p.keyFile))
	return p
}

// testCluster is a private PostgreSQL and broker processes joined to it.
type testCluster struct {
	t           testing.TB
	dir, bin    string
	pg          *pgtest.Server
	dsn         string
	ca, node    *pki // the cluster's CA and the certificate the nodes share
	brokerCert  *pki // the brokers' own certificate (agents pin it)
	fingerprint string
	alone       bool // start brokers without -cluster (a benchmark's baseline)
	// peerVia, if set, gives the address a node advertises for its peer
	// port (a proxy in front of it) from the port's own address.
	peerVia func(name, peer string) string
}

type nodeProc struct {
	name  string
	cmd   *exec.Cmd
	addrs map[string]string // by port name: agent, viewer, repeater, admin, https, peer
	done  chan struct{}
}

var buildBroker struct {
	once sync.Once
	bin  string
	err  error
}

func startTestCluster(t testing.TB) *testCluster {
	t.Helper()
	rfbtest.LookPath(t, "runuser")
	dir := t.TempDir()
	buildBroker.once.Do(func() {
		d, err := os.MkdirTemp("", "lifebuoy-cluster-bin-")
		if err != nil {
			buildBroker.err = err
			return
		}
		buildBroker.bin = filepath.Join(d, "lifebuoy-broker")
		if out, err := exec.Command("go", "build", "-o", buildBroker.bin, "lifebuoy/cmd/lifebuoy-broker").CombinedOutput(); err != nil {
			buildBroker.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildBroker.err != nil {
		t.Fatal(buildBroker.err)
	}
	pg, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Remove)
	dsn, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{t: t, dir: dir, bin: buildBroker.bin, pg: pg, dsn: dsn}
	tc.ca = newCert(t, dir, "cluster-ca", nil, true)
	tc.node = newCert(t, dir, "cluster-node", tc.ca, false, "lifebuoy-cluster")
	tc.brokerCert = newCert(t, dir, "broker", nil, false, "localhost")
	tc.fingerprint = broker.Fingerprint(tc.brokerCert.tls)
	return tc
}

// start runs one node; its peer port is fixed up front, as the other
// nodes dial the address it advertises.
func (tc *testCluster) start(name string) *nodeProc {
	t := tc.t
	peer := fmt.Sprintf("127.0.0.1:%d", rfbtest.FreePort(t))
	args := []string{"-data", filepath.Join(tc.dir, name), "-agent-listen", "127.0.0.1:0",
		"-viewer-listen", "127.0.0.1:0", "-repeater-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0",
		"-https-listen", "127.0.0.1:0", "-cert", tc.brokerCert.certFile, "-key", tc.brokerCert.keyFile}
	listeners := 5
	if !tc.alone {
		if tc.peerVia != nil {
			args = append(args, "-peer-advertise", tc.peerVia(name, peer))
		}
		args = append(args, "-cluster", tc.dsn, "-cluster-node", name, "-peer-listen", peer,
			"-cluster-cert", tc.node.certFile, "-cluster-key", tc.node.keyFile, "-cluster-ca", tc.ca.certFile)
		listeners = 6
	}
	cmd := exec.Command(tc.bin, args...)
	stderr := must(cmd.StderrPipe())
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &nodeProc{name: name, cmd: cmd, addrs: map[string]string{}, done: make(chan struct{})}
	go func() { cmd.Wait(); close(n.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-n.done })
	found := make(chan [2]string, 16)
	var log strings.Builder
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			l := sc.Text()
			logMu.Lock()
			log.WriteString(l + "\n")
			logMu.Unlock()
			if os.Getenv("LIFEBUOY_CLUSTER_LOG") != "" {
				fmt.Fprintln(os.Stderr, name+":", l)
			}
			port, addr, ok := listeningOn(l)
			if !ok {
				continue
			}
			found <- [2]string{port, addr}
		}
	}()
	timeout := time.After(30 * time.Second)
	for len(n.addrs) < listeners {
		select {
		case a := <-found:
			n.addrs[a[0]] = a[1]
		case <-n.done:
			logMu.Lock()
			defer logMu.Unlock()
			t.Fatalf("node %s exited:\n%s", name, log.String())
		case <-timeout:
			t.Fatalf("node %s did not report its listeners (%v)", name, n.addrs)
		}
	}
	return n
}

func (n *nodeProc) kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// metric reads one value from the node's /metrics (-1 if absent).
func (n *nodeProc) metric(t testing.TB, name string) float64 {
	resp, err := http.Get("http://" + n.addrs["admin"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == name {
			return must(strconv.ParseFloat(v, 64))
		}
	}
	return -1
}

func (tc *testCluster) linkConfig(n *nodeProc, src int) agentlink.Config {
	return agentlink.Config{Broker: n.addrs["agent"], Fingerprint: tc.fingerprint, Proxy: "direct",
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(src/250)+10, byte(src%250)+1)}}
			return d.DialContext(ctx, network, addr)
		}}
}

// waitFor polls cond every 50 ms for up to 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// deskPassword is the password of the desk accounts the tests make.
const deskPassword = "a good password"

// addAccount makes a desk account in the cluster's database (more: the
// users command's options, such as -role admin).
func addAccount(t testing.TB, tc *testCluster, name string, more ...string) {
	t.Helper()
	args := append([]string{"users", "-cluster", tc.dsn, "add", name, "-name", "Anna Berger", "-team", "Acme Support"}, more...)
	users := exec.Command(tc.bin, args...)
	users.Stdin = strings.NewReader(deskPassword + "\n")
	if out, err := users.CombinedOutput(); err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
}

// deskAPI is a REST API client for a node's desk (loopback; the
// certificate is not checked).
func deskAPI(n *nodeProc, token string) *api.Client {
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	return api.NewClient("https://"+n.addrs["https"], token, hc)
}

// consoleSignin posts the console's sign-in form as anna to a node and
// returns the status and the page.
func consoleSignin(t testing.TB, n *nodeProc) (int, string) {
	t.Helper()
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.PostForm("https://"+n.addrs["https"]+"/signin", url.Values{"user": {"anna"}, "password": {deskPassword}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// repeaterViewer dials 5514 with ID:code and starts RFB over it.
func repeaterViewer(t *testing.T, addr, code string) (*rfb.Client, error) {
	t.Helper()
	c := must(net.Dial("tcp", addr))
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	greet := make([]byte, 12)
	if _, err := io.ReadFull(c, greet); err != nil {
		return nil, err
	}
	hdr := make([]byte, 250)
	copy(hdr, "ID:"+code)
	c.Write(hdr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := rfb.NewClient(ctx, c, rfb.ClientConfig{})
	c.SetDeadline(time.Time{})
	return cl, err
}

// retry tries a viewer until it gets in: the admitting node's replica
// may be a moment behind the code's claim.
func retry(t *testing.T, what string, f func() (*rfb.Client, error)) *rfb.Client {
	t.Helper()
	var err error
	for range 10 {
		var cl *rfb.Client
		if cl, err = f(); err == nil {
			return cl
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
	return nil
}

// rfbViewer is a VNC Authentication viewer on 5511 (plain, loopback).
func rfbViewer(t *testing.T, addr, code string) (*rfb.Client, error) {
	t.Helper()
	conn := must(net.Dial("tcp", addr))
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
}

// Three brokers on one PostgreSQL serve as one: codes are unique across
// them under concurrent issue; an agent on A is seen by TigerVNC on B
// (pixels exact), by a repeater viewer on C and by the browser path
// (/rfb) on C; bad input on the peer port gets nowhere; the database
// stopped and restarted leaves running sessions alone and refuses, then
// takes, new codes; a killed home node ends its forwarded sessions at
// once and voids its codes; a killed forwarding node ends the session on
// the home node.
func TestInteropClusterThreeNodes(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "Xvfb", "xwd")
	tc := startTestCluster(t)
	top := t // sessions that outlive a subtest close with the test
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

	t.Run("unique-codes", func(t *testing.T) {
		const per = 15
		codes := make(chan string, 3*per)
		var wg sync.WaitGroup
		for i, n := range nodes {
			for j := range per {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					l, err := agentlink.Dial(ctx, tc.linkConfig(n, 100+i*per+j))
					if err != nil {
						t.Error(err)
						return
					}
					codes <- l.Code()
					t.Cleanup(func() { l.Close() })
				})
			}
		}
		wg.Wait()
		close(codes)
		seen := map[string]bool{}
		for code := range codes {
			if seen[code] {
				t.Fatalf("code %s issued twice", code)
			}
			seen[code] = true
		}
		if len(seen) != 3*per {
			t.Fatalf("%d codes", len(seen))
		}
		waitFor(t, "every replica holds all 45 codes", func() bool {
			for _, n := range nodes {
				if n.metric(t, "lifebuoy_cluster_codes") < 3*per {
					return false
				}
			}
			return true
		})
	})

	const w, h = 320, 240
	src := rfbtest.Pattern(w, h, 21)
	t.Run("tigervnc-on-b-agent-on-a", func(t *testing.T) {
		ag := startAgentConfig(t, tc.linkConfig(a, 1), src, "")
		code := ag.link.Code()
		time.Sleep(200 * time.Millisecond) // b's replica: NOTIFY is quick, but not instant
		pw := filepath.Join(t.TempDir(), "passwd")
		os.WriteFile(pw, rfbtest.VNCPasswdFile(code), 0o600)
		x := rfbtest.StartXvfb(t, w, h, 24)
		viewer := rfbtest.Start(t, x.Env(), "vncviewer", "-FullScreen", "-AutoSelect=0", "-NoJPEG=1",
			"-SecurityTypes=VncAuth", "-passwd", pw, fmt.Sprintf("127.0.0.1::%d", port(b.addrs["viewer"])))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := rfbtest.WaitForImage(ctx, x.Capture, src, exact); err != nil {
			t.Fatalf("TigerVNC on b does not show a's agent: %v\n%s", err, viewer.Output())
		}
		if b.metric(t, "lifebuoy_cluster_forwarded_sessions") != 1 || a.metric(t, "lifebuoy_cluster_peer_sessions") != 1 {
			t.Fatal("the session is not counted as forwarded by b and served for a peer by a")
		}
	})

	var repeaterClient *rfb.Client
	t.Run("repeater-on-c-agent-on-a", func(t *testing.T) {
		ag := startAgentConfig(top, tc.linkConfig(a, 2), src, "")
		repeaterClient = retry(t, "repeater viewer on c", func() (*rfb.Client, error) {
			return repeaterViewer(top, c.addrs["repeater"], ag.link.Code())
		})
		syncTo(t, repeaterClient, src)
	})

	var browserClient *rfb.Client
	browserAgent := startAgentConfig(t, tc.linkConfig(b, 3), src, "")
	t.Run("browser-path-on-c-agent-on-b", func(t *testing.T) {
		code := browserAgent.link.Code()
		cl := retry(t, "/rfb viewer on c", func() (*rfb.Client, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			conn, err := wsconn.Dial(ctx, "wss://"+c.addrs["https"]+"/rfb", wsconn.DialOptions{
				TLS: &tls.Config{InsecureSkipVerify: true}})
			if err != nil {
				return nil, err
			}
			top.Cleanup(func() { conn.Close() })
			return rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
		})
		syncTo(t, cl, src)
		browserClient = cl
	})

	if browserClient == nil || repeaterClient == nil {
		t.Fatal("the sessions the rest needs did not start")
	}
	t.Run("peer-port-bad-input", func(t *testing.T) {
		dial := func(cert *tls.Certificate) (*tls.Conn, error) {
			cfg := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "lifebuoy-cluster"}
			cfg.RootCAs.AddCert(tc.ca.cert)
			if cert != nil {
				cfg.Certificates = []tls.Certificate{*cert}
			}
			cn, err := tls.Dial("tcp", b.addrs["peer"], cfg)
			if err != nil {
				return nil, err
			}
			cn.SetDeadline(time.Now().Add(10 * time.Second))
			// TLS 1.3: the server's verdict on the client's certificate
			// comes with the first read.
			return cn, nil
		}
		hello := func(cn *tls.Conn, code string) (string, error) {
			p := []byte(`{"code":"` + code + `","mode":"rfb-raw","viewer":"203.0.113.9:1","port":"repeater","from":"x"}`)
			cn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(p))), p...))
			return bufio.NewReader(cn).ReadString('\n')
		}
		// No certificate, and one from another CA, even with the
		// cluster's name: refused by the handshake.
		rogueCA := newCert(t, t.TempDir(), "rogue-ca", nil, true)
		rogue := newCert(t, t.TempDir(), "rogue", rogueCA, false, "lifebuoy-cluster")
		// Signed by the cluster's CA but for another name: refused too.
		other := newCert(t, t.TempDir(), "other", tc.ca, false, "not-the-cluster")
		for name, cert := range map[string]*tls.Certificate{"none": nil, "rogue CA": &rogue.tls, "other name": &other.tls} {
			cn, err := dial(cert)
			if err == nil {
				_, err = hello(cn, browserAgent.link.Code())
				cn.Close()
			}
			if err == nil {
				t.Fatalf("%s: the peer port took a hello", name)
			}
		}
		// A node's certificate, but a forged hello: the code of a session
		// that runs already (another agent's), one that is not live, a
		// mode that does not exist, a length past the bound.
		for _, code := range []string{browserAgent.link.Code(), "123456", "12345x"} {
			cn := must(dial(&tc.node.tls))
			reply, err := hello(cn, code)
			cn.Close()
			if err != nil || !strings.HasPrefix(reply, "NO ") {
				t.Fatalf("forged hello for %s: %q %v", code, reply, err)
			}
		}
		for _, bad := range [][]byte{{0xff, 0xff}, append([]byte{0, 12}, `{"mode":"x"}`...)} {
			cn := must(dial(&tc.node.tls))
			cn.Write(bad)
			if _, err := cn.Read(make([]byte, 1)); err == nil {
				t.Fatalf("a bad hello (%q) was answered", bad)
			}
			cn.Close()
		}
		syncTo(t, browserClient, src)
	})

	t.Run("database-stopped-and-restarted", func(t *testing.T) {
		addAccount(t, tc, "anna")
		tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer tcancel()
		tok, err := deskAPI(b, "").Login(tctx, api.LoginRequest{User: "anna", Password: deskPassword})
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.pg.Stop(); err != nil {
			t.Fatal(err)
		}
		restarted := false
		defer func() {
			if !restarted {
				tc.pg.Restart()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = agentlink.Dial(ctx, tc.linkConfig(b, 4))
		if err == nil || !strings.Contains(err.Error(), "database cannot be reached") {
			t.Fatalf("a new code with the database down: %v", err)
		}
		resp := must(http.Get("http://" + b.addrs["admin"] + "/healthz"))
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/healthz with the database down: %d", resp.StatusCode)
		}
		if b.metric(t, "lifebuoy_cluster_claim_errors_total") < 1 || b.metric(t, "lifebuoy_cluster_database_up") != 0 {
			t.Fatal("no metric shows the database down")
		}
		// Sign-ins are refused in words a supporter understands, on the
		// console's page and in the API, and counted.
		const down = "The support database cannot be reached; try again in a minute."
		if status, body := consoleSignin(t, b); status != http.StatusServiceUnavailable || !strings.Contains(body, down) {
			t.Fatalf("console sign-in with the database down: %d %s", status, body)
		}
		if _, err := deskAPI(b, "").Login(ctx, api.LoginRequest{User: "anna", Password: deskPassword}); !api.IsCode(err, "unavailable") ||
			!strings.Contains(err.Error(), "support database cannot be reached") {
			t.Fatalf("API sign-in with the database down: %v", err)
		}
		if _, err := deskAPI(b, tok.Token).Me(ctx); !api.IsCode(err, "unavailable") {
			t.Fatalf("a signed-in API call with the database down: %v", err)
		}
		if n := b.metric(t, "lifebuoy_desk_database_unreachable_total"); n != 3 {
			t.Fatalf("lifebuoy_desk_database_unreachable_total %v, want 3", n)
		}
		// The running sessions go on.
		syncTo(t, browserClient, src)
		syncTo(t, repeaterClient, src)
		if err := tc.pg.Restart(); err != nil {
			t.Fatal(err)
		}
		restarted = true
		waitFor(t, "new codes work again", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			l, err := agentlink.Dial(ctx, tc.linkConfig(b, 5))
			if err != nil {
				return false
			}
			l.Close()
			return true
		})
		resp = must(http.Get("http://" + b.addrs["admin"] + "/healthz"))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz after the database came back: %d", resp.StatusCode)
		}
		// Sign-ins work again, by themselves.
		waitFor(t, "sign-ins work again", func() bool {
			status, _ := consoleSignin(t, b)
			return status == http.StatusSeeOther
		})
		if _, err := deskAPI(b, "").Login(ctx, api.LoginRequest{User: "anna", Password: deskPassword}); err != nil {
			t.Fatalf("API sign-in after the database came back: %v", err)
		}
		// The other nodes' desks too, at the first try: their pools held
		// connections across the restart, which are pinged and replaced
		// as they are taken (a sign-in used to fail once with 500).
		for _, n := range []*nodeProc{a, c} {
			if _, err := deskAPI(n, "").Login(ctx, api.LoginRequest{User: "anna", Password: deskPassword}); err != nil {
				t.Fatalf("the first API sign-in on %s after the database came back: %v", n.name, err)
			}
		}
		if me, err := deskAPI(b, tok.Token).Me(ctx); err != nil || me.Name != "anna" {
			t.Fatalf("the token after the database came back: %+v %v", me, err)
		}
	})

	t.Run("console-lists-every-node", func(t *testing.T) {
		// The console on c lists the customers waiting on a (an admin's
		// list of all) and anna's code issued on a (her own list), and
		// drops them when they end.
		addAccount(t, tc, "root", "-role", "admin")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		root := must(deskAPI(c, "").Login(ctx, api.LoginRequest{User: "root", Password: deskPassword}))
		anna := must(deskAPI(a, "").Login(ctx, api.LoginRequest{User: "anna", Password: deskPassword}))
		cfg := tc.linkConfig(a, 8)
		cfg.Name = "carl@customer-pc"
		l, err := agentlink.Dial(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		issued := must(deskAPI(a, anna.Token).NewCode(ctx))
		find := func(ss []api.Session, code string) (api.Session, bool) {
			for _, s := range ss {
				if s.Code == code {
					return s, true
				}
			}
			return api.Session{}, false
		}
		var waiting, mine api.Session
		waitFor(t, "c lists a's waiting customer and anna's code", func() bool {
			var ok1, ok2 bool
			waiting, ok1 = find(must(deskAPI(c, root.Token).Sessions(ctx, true)), l.Code())
			mine, ok2 = find(must(deskAPI(c, anna.Token).Sessions(ctx, false)), issued.Code)
			return ok1 && ok2 && mine.Supporter.Account == "anna"
		})
		if waiting.Node != "a" || waiting.State != "waiting" || waiting.Flow != "customer-first" ||
			waiting.Customer != "carl@customer-pc" || waiting.Expires.IsZero() {
			t.Fatalf("c lists a's customer as %+v", waiting)
		}
		if mine.Node != "a" || mine.State != "issued" || mine.Flow != "supporter-first" || mine.Supporter.Name != "Anna Berger" {
			t.Fatalf("c lists anna's code as %+v", mine)
		}
		// A waiting customer who gives up leaves every list.
		l.Close()
		waitFor(t, "c no longer lists the customer who left", func() bool {
			_, ok := find(must(deskAPI(c, root.Token).Sessions(ctx, true)), l.Code())
			return !ok
		})
		// Another customer waiting on a, listed on c, and connected to
		// from c: the viewer is forwarded to a, and c lists the running
		// session it forwards, until it ends.
		cfg = tc.linkConfig(a, 9)
		cfg.Name = "dora@customer-pc"
		ag := startAgentConfig(t, cfg, src, "")
		waitFor(t, "c lists the second customer", func() bool {
			s, ok := find(must(deskAPI(c, root.Token).Sessions(ctx, true)), ag.link.Code())
			return ok && s.Customer == "dora@customer-pc" && s.Node == "a"
		})
		cl := retry(t, "a viewer on c for a's waiting customer", func() (*rfb.Client, error) {
			return repeaterViewer(t, c.addrs["repeater"], ag.link.Code())
		})
		syncTo(t, cl, src)
		waitFor(t, "c lists the session it forwards to a", func() bool {
			s, ok := find(must(deskAPI(c, root.Token).Sessions(ctx, true)), ag.link.Code())
			return ok && s.State == "relaying" && s.Node == "a" && s.Customer == "dora@customer-pc" && s.Path == "5514"
		})
		cl.Close()
		waitFor(t, "c no longer lists the session once it ended", func() bool {
			_, ok := find(must(deskAPI(c, root.Token).Sessions(ctx, true)), ag.link.Code())
			return !ok
		})
		if err := deskAPI(a, anna.Token).End(ctx, issued.Code, ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "c no longer lists anna's ended code", func() bool {
			_, ok := find(must(deskAPI(c, anna.Token).Sessions(ctx, false)), issued.Code)
			return !ok
		})
	})

	t.Run("console-ends-and-shows-rights-across-nodes", func(t *testing.T) {
		// Supporters on c end what waits or runs on a, and c's console
		// shows the rights of a session it forwards to a as they change.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		root := must(deskAPI(c, "").Login(ctx, api.LoginRequest{User: "root", Password: deskPassword}))
		anna := must(deskAPI(c, "").Login(ctx, api.LoginRequest{User: "anna", Password: deskPassword}))
		onC := deskAPI(c, root.Token)
		listed := func(code string) (api.Session, bool) {
			for _, s := range must(onC.Sessions(ctx, true)) {
				if s.Code == code {
					return s, true
				}
			}
			return api.Session{}, false
		}
		audited := func(code, msg string) (api.AuditRecord, bool) {
			for _, r := range must(onC.Audit(ctx, url.Values{"code": {code}})) {
				if r.Msg == msg {
					return r, true
				}
			}
			return api.AuditRecord{}, false
		}

		// A customer waiting on a, ended by an admin on c: the agent is
		// told, the code is void on every node, the audit names root and c.
		waiting, err := agentlink.Dial(ctx, tc.linkConfig(a, 10))
		if err != nil {
			t.Fatal(err)
		}
		defer waiting.Close()
		waitFor(t, "c lists a's waiting customer", func() bool { _, ok := listed(waiting.Code()); return ok })
		if err := onC.End(ctx, waiting.Code(), ""); err != nil {
			t.Fatalf("ending a's waiting code from c: %v", err)
		}
		select {
		case <-waiting.Done():
			if err := waiting.Err(); err == nil || !strings.Contains(err.Error(), "ended by an admin (root)") {
				t.Fatalf("the agent on a was told %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the agent on a did not see its code end")
		}
		waitFor(t, "c no longer lists the ended code", func() bool { _, ok := listed(waiting.Code()); return !ok })
		for _, n := range nodes {
			if _, err := rfbViewer(t, n.addrs["viewer"], waiting.Code()); err == nil {
				t.Fatalf("the ended code paired on %s", n.name)
			}
		}
		var rec api.AuditRecord
		waitFor(t, "a's audit records the end asked by c", func() bool {
			var ok bool
			rec, ok = audited(waiting.Code(), "session ended by supporter")
			return ok
		})
		if rec.Supporter != "root" || rec.Attrs["from"] != "c" || rec.Attrs["state"] != "waiting" {
			t.Fatalf("the end is audited as %+v", rec)
		}
		// Ended again, or a code no node holds: no such session.
		if err := onC.End(ctx, waiting.Code(), ""); !api.IsCode(err, "not_found") {
			t.Fatalf("ending the ended code again: %v", err)
		}

		// The same from the admin page on c, signed in as root: a's
		// waiting customer has an End button there, which ends it.
		jar := must(cookiejar.New(nil))
		page := &http.Client{Timeout: 20 * time.Second, Jar: jar,
			Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		base := "https://" + c.addrs["https"]
		resp := must(page.PostForm(base+"/signin", url.Values{"user": {"root"}, "password": {deskPassword}, "next": {"/"}}))
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("root's sign-in on c: %d", resp.StatusCode)
		}
		get := func(path string) string {
			resp := must(page.Get(base + path))
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", path, resp.StatusCode)
			}
			return string(body)
		}
		second, err := agentlink.Dial(ctx, tc.linkConfig(a, 12))
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		endForm := `action="/admin/sessions/` + second.Code() + `/end"`
		waitFor(t, "c's admin page has an End button for a's customer", func() bool { return strings.Contains(get("/admin"), endForm) })
		resp = must(page.PostForm(base+"/admin/sessions/"+second.Code()+"/end", nil))
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the End button on c's admin page: %d", resp.StatusCode)
		}
		select {
		case <-second.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the agent on a did not see its code end from c's page")
		}
		waitFor(t, "c's admin page no longer lists it", func() bool { return !strings.Contains(get("/admin"), endForm) })

		// A session forwarded from c to a: the rights the customer gives
		// on a show on c; the session ended on c's console ends on a.
		cfg := tc.linkConfig(a, 11)
		cfg.Name = "erik@customer-pc"
		link, err := agentlink.Dial(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer link.Close()
		incoming := make(chan *agentlink.Incoming, 1)
		served := make(chan error, 1)
		go func() {
			served <- func() error {
				in, err := link.Accept(ctx)
				if err != nil {
					return err
				}
				incoming <- in
				conn, err := in.Open(ctx)
				if err != nil {
					return err
				}
				link.SendRights(in.SessionID, false, false)
				return rfb.NewServer(rfb.NewFramebufferFromImage(src), rfb.Options{}).ServeConn(ctx, conn)
			}()
		}()
		waitFor(t, "c lists erik", func() bool { _, ok := listed(link.Code()); return ok })
		cl := retry(t, "a viewer on c for erik", func() (*rfb.Client, error) {
			return repeaterViewer(t, c.addrs["repeater"], link.Code())
		})
		defer cl.Close()
		syncTo(t, cl, src)
		in := <-incoming
		waitFor(t, "c shows erik's session as view only", func() bool {
			s, ok := listed(link.Code())
			return ok && s.State == "relaying" && s.Node == "a" && s.RightsKnown && !s.Control && !s.Files
		})
		if err := link.SendRights(in.SessionID, true, true); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "c shows the control and files erik granted", func() bool {
			s, ok := listed(link.Code())
			return ok && s.RightsKnown && s.Control && s.Files
		})
		// The session page on c shows them too.
		if body := get("/session/" + link.Code()); !strings.Contains(body, ">control, files</dd>") {
			t.Fatalf("c's session page does not show the rights:\n%s", body)
		}
		// root asks erik for control from c: the request reaches the
		// agent on a, and a's audit names the node that asked.
		if err := onC.RequestControl(ctx, link.Code()); err != nil {
			t.Fatalf("requesting control of the forwarded session from c: %v", err)
		}
		select {
		case r := <-link.Requests():
			if r.Right != agentlink.RightControl || r.Supporter.Account != "root" || r.SessionID != in.SessionID {
				t.Fatalf("the agent on a got the request %+v", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the agent on a got no request for control asked on c")
		}
		waitFor(t, "a's audit records the request asked by c", func() bool {
			r, ok := audited(link.Code(), "control requested")
			return ok && r.Supporter == "root" && r.Attrs["from"] == "c"
		})
		// anna did not redeem this session: root (an admin) ends it.
		if err := deskAPI(c, anna.Token).End(ctx, link.Code(), ""); !api.IsCode(err, "forbidden") {
			t.Fatalf("anna ended another's session from c: %v", err)
		}
		if err := onC.End(ctx, link.Code(), ""); err != nil {
			t.Fatalf("ending the forwarded session from c: %v", err)
		}
		ended := make(chan error, 1)
		go func() {
			for {
				if _, err := cl.ReadMessage(); err != nil {
					ended <- err
					return
				}
				cl.RequestUpdate(true, image.Rect(0, 0, w, h))
			}
		}()
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatal("the viewer on c did not see its session end")
		}
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("the agent on a did not see its session end")
		}
		waitFor(t, "c no longer lists erik's session", func() bool { _, ok := listed(link.Code()); return !ok })
		waitFor(t, "a's audit records the end asked by c", func() bool {
			var ok bool
			rec, ok = audited(link.Code(), "session ended by supporter")
			return ok
		})
		if rec.Supporter != "root" || rec.Attrs["from"] != "c" || rec.Attrs["state"] != "relaying" {
			t.Fatalf("the end is audited as %+v", rec)
		}
	})

	t.Run("home-node-killed", func(t *testing.T) {
		// A code that waits on a, and the repeater session from c to a.
		waiting := startAgentConfig(t, tc.linkConfig(a, 6), src, "")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		root := deskAPI(c, must(deskAPI(c, "").Login(ctx, api.LoginRequest{User: "root", Password: deskPassword})).Token)
		waitFor(t, "c lists a's waiting customer", func() bool {
			for _, s := range must(root.Sessions(ctx, true)) {
				if s.Code == waiting.link.Code() {
					return true
				}
			}
			return false
		})
		a.kill()
		// Until c counts a dead, c's console cannot end a's code, and
		// says why.
		if err := root.End(ctx, waiting.link.Code(), ""); !api.IsCode(err, "node_unreachable") {
			t.Fatalf("ending the code of a killed node from c: %v", err)
		}
		// The viewer on c sees the end promptly.
		ended := make(chan error, 1)
		go func() {
			for {
				if _, err := repeaterClient.ReadMessage(); err != nil {
					ended <- err
					return
				}
				repeaterClient.RequestUpdate(true, image.Rect(0, 0, w, h))
			}
		}()
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatal("the viewer on c did not see its session end")
		}
		// a's waiting code is void everywhere once a is dead.
		waitFor(t, "b and c count a dead", func() bool {
			return b.metric(t, "lifebuoy_cluster_live_nodes") == 2 && c.metric(t, "lifebuoy_cluster_live_nodes") == 2
		})
		if _, err := rfbViewer(t, b.addrs["viewer"], waiting.link.Code()); err == nil {
			t.Fatal("the dead node's code paired on b")
		}
		// A new session works through the others: agent on c, viewer on b.
		ag := startAgentConfig(t, tc.linkConfig(c, 7), src, "")
		var cl *rfb.Client
		waitFor(t, "a viewer on b reaches c's agent", func() bool {
			var err error
			cl, err = rfbViewer(t, b.addrs["viewer"], ag.link.Code())
			return err == nil
		})
		syncTo(t, cl, src)
	})

	t.Run("forwarding-node-killed", func(t *testing.T) {
		// The browser-path session: admitted by c, its agent on b.
		if got := b.metric(t, "lifebuoy_cluster_peer_sessions"); got < 1 {
			t.Fatalf("b serves %v peer sessions", got)
		}
		c.kill()
		select {
		case err := <-browserAgent.done:
			browserAgent.done <- err // for its cleanup
		case <-time.After(10 * time.Second):
			t.Fatal("the agent's session on b did not end when c died")
		}
		waitFor(t, "b has no session left", func() bool {
			return b.metric(t, "lifebuoy_sessions") == 0 && b.metric(t, "lifebuoy_cluster_peer_sessions") == 0
		})
	})
}
