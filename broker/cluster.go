package broker

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"lifebuoy/broker/cluster"
)

// clusterName is the name every node's cluster certificate carries, and
// what a node checks of the peer it dials or that dials it.
const clusterName = "lifebuoy-cluster"

// maxPeerDialers bounds the per-peer dialling configs a node keeps
// (clusterNode.peerTLS); past it they are dropped and made again.
const maxPeerDialers = 256

// replicaWait is how long a node waits for its replica to learn of a code
// a viewer presents that it does not know (cluster.Directory.Await): the
// notification of a code claimed a moment ago may be on its way.
const replicaWait = 50 * time.Millisecond

// clusterNode is the broker's membership in a cluster (Config.Cluster):
// its directory, the mutual TLS of its peer port, and its counters.
type clusterNode struct {
	dir      *cluster.Directory
	serveTLS *tls.Config // the peer port: a client certificate from the cluster's CA is required
	dialTLS  *tls.Config // to another node's peer port
	releases chan string // codes to give up in the directory (Codes.unclaim)
	rate     float64     // the whole cluster's global guessing budget (Config.GlobalFailureRate)
	peerAdv  string      // the peer address the node advertises
	agentAdv string      // where agents reach this node (advertiseAgents); set before Serve accepts

	forwarded      atomic.Int64 // viewers this node splices to another node now
	forwardedTotal atomic.Int64
	peerSessions   atomic.Int64 // sessions other nodes forwarded here, running now
	releaseDrops   atomic.Int64 // releases dropped on a full queue (the code then expires)
	readyUsed      atomic.Int64 // forwards that took a ready peer connection
	redirects      atomic.Int64 // agents sent to their code's node
	takeovers      atomic.Int64 // codes taken over for their agents (resume tokens)

	mu      sync.Mutex
	dialers map[string]*tls.Config // dialTLS with a session cache per peer address
	ready   map[string][]readyPeer // connections to a peer's port, handshake done, for the next forwards
	filling map[string]bool        // a goroutine fills ready[addr]
	spliced map[string]SessionInfo // by code: viewers this node splices to the code's node, as the console lists them
	rights  map[string]*rightsPush // by code: rights of sessions forwarded here still to tell their forwarding node

	// life ends when the broker stops serving (runCluster), so that
	// requests to other nodes and their retries do not hold its shutdown.
	life context.Context
	end  context.CancelFunc
}

// readyPeer is a peer connection made ahead of need.
type readyPeer struct {
	conn  *tls.Conn
	since time.Time
}

// Peer connections kept ready: a forwarded viewer takes one whose TLS
// handshake is done instead of dialling, and a goroutine dials its
// replacement. A ready connection is used within readyPeerMax (the home
// node waits peerHelloWait for its hello) or dropped.
const (
	readyPeers    = 2
	readyPeerMax  = 30 * time.Second
	peerHelloWait = time.Minute
	maxReadyAddrs = 64 // peers with ready connections; past it, none are kept for new ones
)

// takeReady returns a ready connection to addr that is still open, or
// nil. Its socket is looked at without waiting (peekSocket): one the
// peer closed (it restarted, or died) has its end of stream there, an
// open one nothing, as the peer says nothing before the hello. Where
// something is there (a session ticket, or an alert) or the socket cannot
// be looked at, a read of at most a millisecond tells.
func (cn *clusterNode) takeReady(addr string) *tls.Conn {
	for {
		cn.mu.Lock()
		q := cn.ready[addr]
		if len(q) == 0 {
			cn.mu.Unlock()
			return nil
		}
		r := q[0]
		cn.ready[addr] = q[1:]
		cn.mu.Unlock()
		if time.Since(r.since) > readyPeerMax {
			r.conn.Close()
			continue
		}
		pending, closed, ok := peekSocket(r.conn)
		if ok && !pending && !closed {
			cn.readyUsed.Add(1)
			return r.conn
		}
		if closed {
			r.conn.Close()
			continue
		}
		r.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := r.conn.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			r.conn.SetReadDeadline(time.Time{})
			cn.readyUsed.Add(1)
			return r.conn
		}
		r.conn.Close()
	}
}

// fillReady dials ready connections to addr in a goroutine (counted in
// wg) until it has readyPeers, unless a fill for addr runs already or ctx
// ended.
func (cn *clusterNode) fillReady(ctx context.Context, wg *sync.WaitGroup, addr string, dial func(context.Context) (*tls.Conn, error)) {
	cn.mu.Lock()
	if cn.ready[addr] == nil && len(cn.ready) >= maxReadyAddrs {
		cn.dropStaleLocked()
	}
	if cn.filling[addr] || ctx.Err() != nil || (cn.ready[addr] == nil && len(cn.ready) >= maxReadyAddrs) {
		cn.mu.Unlock()
		return
	}
	if cn.ready == nil {
		cn.ready, cn.filling = map[string][]readyPeer{}, map[string]bool{}
	}
	cn.filling[addr] = true
	cn.mu.Unlock()
	wg.Go(func() {
		defer func() {
			cn.mu.Lock()
			delete(cn.filling, addr)
			cn.mu.Unlock()
		}()
		for {
			cn.mu.Lock()
			n := len(cn.ready[addr])
			cn.mu.Unlock()
			if n >= readyPeers || ctx.Err() != nil {
				return
			}
			c, err := dial(ctx)
			if err != nil {
				return
			}
			cn.mu.Lock()
			if ctx.Err() != nil {
				cn.mu.Unlock()
				c.Close()
				return
			}
			cn.ready[addr] = append(cn.ready[addr], readyPeer{conn: c, since: time.Now()})
			cn.mu.Unlock()
		}
	})
}

// dropStaleLocked forgets the peers whose ready connections are all past
// use (peers that went away, or that nobody forwards to any more); cn.mu
// is held.
func (cn *clusterNode) dropStaleLocked() {
	for addr, q := range cn.ready {
		if cn.filling[addr] || slices.ContainsFunc(q, func(r readyPeer) bool { return time.Since(r.since) <= readyPeerMax }) {
			continue
		}
		for _, r := range q {
			r.conn.Close()
		}
		delete(cn.ready, addr)
	}
}

// closeReady closes the ready connections (the broker stops).
func (cn *clusterNode) closeReady() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	for addr, q := range cn.ready {
		for _, r := range q {
			r.conn.Close()
		}
		delete(cn.ready, addr)
	}
}

// peerTLS is the dialling config for the peer at addr, with that peer's
// TLS session to resume.
func (cn *clusterNode) peerTLS(addr string) *tls.Config {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if c, ok := cn.dialers[addr]; ok {
		return c
	}
	if cn.dialers == nil || len(cn.dialers) >= maxPeerDialers {
		cn.dialers = map[string]*tls.Config{}
	}
	c := cn.dialTLS.Clone()
	c.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	cn.dialers[addr] = c
	return c
}

// joinCluster opens the cluster's directory and makes the code table
// claim its codes there.
func (b *Broker) joinCluster() error {
	cfg := b.cfg
	serveTLS, dialTLS, err := clusterTLS(cfg.ClusterCert, cfg.ClusterKey, cfg.ClusterCA)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	node := cfg.ClusterNode
	if node == "" {
		if node, err = os.Hostname(); err != nil {
			return fmt.Errorf("cluster: no -cluster-node and no host name: %w", err)
		}
	}
	adv := cfg.PeerAdvertise
	if adv == "" {
		adv = cfg.PeerAddr
		if host, port, err := net.SplitHostPort(adv); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
			h, _ := os.Hostname()
			adv = net.JoinHostPort(h, port)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := cluster.Open(ctx, cluster.Config{DSN: cfg.Cluster, Node: node, PeerAddr: adv}, b.log)
	if err != nil {
		return err
	}
	cn := &clusterNode{dir: dir, serveTLS: serveTLS, dialTLS: dialTLS, releases: make(chan string, 4096),
		rate: cfg.GlobalFailureRate, peerAdv: adv}
	cn.life, cn.end = context.WithCancel(context.Background())
	b.cluster = cn
	b.codes.claim = func(code string, expires time.Time, a *agentConn) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The code's description for the other nodes' consoles: a
		// customer's code has its agent; a supporter's is described
		// once IssueCode knows who asked (describe).
		h := cluster.Holder{WantsAgent: a == nil,
			Info: cluster.Info{Flow: flowSupporterFirst, Since: time.Now()}}
		if a != nil {
			h.ResumeHash = resumeHash(a.resume)
			h.Info.Flow, h.Info.Customer, h.Info.CustomerAddr = flowCustomerFirst, a.name, a.remote
		}
		ok, err := dir.Claim(ctx, code, expires, h)
		if err != nil {
			b.log.Warn("cluster: claim", "err", err)
			return cluster.ErrDatabase
		}
		if !ok {
			return errClaimTaken
		}
		return nil
	}
	b.codes.unclaim = func(code string) {
		select {
		case cn.releases <- code:
		default:
			cn.releaseDrops.Add(1)
		}
	}
	b.log.Info("broker: joined the cluster", "node", node, "peer", adv)
	return nil
}

// advertiseAgents tells the cluster where this node takes agents, once
// its agent port listens at l.
func (cn *clusterNode) advertiseAgents(cfg Config, l net.Addr) {
	addr := cfg.AgentAdvertise
	if addr == "" {
		host, _, _ := net.SplitHostPort(cn.peerAdv)
		_, port, _ := net.SplitHostPort(l.String())
		addr = net.JoinHostPort(host, port)
	}
	cn.agentAdv = addr
	cn.dir.SetAgentAddr(addr)
}

// resumeHash is what the directory keeps of an agent's resume token.
func resumeHash(token string) string {
	if token == "" {
		return ""
	}
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// redirectError: the code an agent presented waits for its agent on
// another node, which takes agents at addr.
type redirectError struct{ addr string }

func (e *redirectError) Error() string { return "the code is at the broker " + e.addr }

// joinClusterCode handles a code an agent presented that this node does
// not hold: with the agent's resume token, the node takes over the code
// the agent held on another node (dead, or its link broke); a code that
// waits for its agent on another live node sends the agent there (a
// *redirectError). Else ErrNoCode.
func (b *Broker) joinClusterCode(ctx context.Context, code, resume string, a *agentConn) (time.Time, error) {
	dir := b.cluster.dir
	if resume != "" {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		exp, info, ok, err := dir.Reclaim(rctx, code, resumeHash(resume))
		cancel()
		if err != nil {
			b.log.Warn("cluster: reclaim", "err", err)
			return time.Time{}, cluster.ErrDatabase
		}
		if ok {
			if err := b.codes.Adopt(code, exp, a); err != nil {
				return time.Time{}, err
			}
			// The code keeps its kind and who issued it (the agent's
			// Hello with a code says supporter first either way).
			b.codes.update(code, func(e *session) {
				e.desk.flow, e.desk.since = info.Flow, info.Since
				e.desk.issuedBy = Supporter{Account: info.SupporterAccount, Name: info.SupporterName, Team: info.SupporterTeam}
				if e.desk.flow == "" { // described by a node of an earlier version
					e.desk.flow = flowSupporterFirst
				}
				if e.desk.since.IsZero() {
					e.desk.since = time.Now()
				}
			})
			a.resume = resume // the directory keeps its hash
			b.cluster.takeovers.Add(1)
			b.audit.Info("code taken over", "code", code, "remote", a.remote, "name", a.name, "flow", info.Flow,
				"supporter", info.SupporterAccount, "expires", exp)
			return exp, nil
		}
	}
	var to string
	if dir.Await(ctx, replicaWait, func() bool {
		var ok bool
		to, ok = dir.AgentHome(code, time.Now())
		return ok
	}) {
		b.cluster.redirects.Add(1)
		return time.Time{}, &redirectError{to}
	}
	return time.Time{}, ErrNoCode
}

// attached tells the directory that a's agent came for this node's
// code, which it may now take elsewhere with its resume token.
func (b *Broker) attached(ctx context.Context, code string, expires time.Time, a *agentConn) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.cluster.dir.Attached(ctx, code, expires, resumeHash(a.resume), b.clusterInfo(code, a)); err != nil {
		// The code works here; it only cannot follow its agent.
		b.log.Warn("cluster: attach", "code", code, "err", err)
	}
}

// clusterInfo describes this node's code for the other nodes' consoles;
// a is its agent, nil while it has none.
func (b *Broker) clusterInfo(code string, a *agentConn) cluster.Info {
	d, _ := b.codes.deskOf(code)
	in := cluster.Info{Flow: d.flow, Since: d.since, SupporterAccount: d.issuedBy.Account,
		SupporterName: d.issuedBy.Name, SupporterTeam: d.issuedBy.Team}
	if a != nil {
		in.Customer, in.CustomerAddr = a.name, a.remote
	}
	return in
}

// describe writes clusterInfo for code to the directory.
func (b *Broker) describe(ctx context.Context, code string, a *agentConn) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return b.cluster.dir.Describe(ctx, code, b.clusterInfo(code, a))
}

// clusterSessions lists the codes that wait on the other live nodes (the
// replica has every node's unpaired codes), as the console lists them.
// Codes this node holds are in local already.
func (b *Broker) clusterSessions(local []SessionInfo) []SessionInfo {
	have := make(map[string]bool, len(local))
	for _, si := range local {
		have[si.Code] = true
	}
	out := local
	cn := b.cluster
	cn.mu.Lock()
	for code, si := range cn.spliced {
		if !have[code] {
			have[code] = true
			out = append(out, si)
		}
	}
	cn.mu.Unlock()
	for _, l := range b.cluster.dir.Listed(time.Now()) {
		if have[l.Code] {
			continue
		}
		in := l.Info
		si := SessionInfo{Code: l.Code, State: StateWaiting.String(), Flow: in.Flow, Node: l.Node,
			Supporter: Supporter{Account: in.SupporterAccount, Name: in.SupporterName, Team: in.SupporterTeam},
			Customer:  in.Customer, CustomerAddr: in.CustomerAddr, Since: in.Since, Expires: l.Expires}
		if l.WantsAgent {
			si.State = StateIssued.String()
		}
		if si.Since.IsZero() {
			si.Since = l.Expires // described by a node of an earlier version
		}
		out = append(out, si)
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return a.Since.Compare(b.Since) })
	return out
}

// forwardedInfo is how the console lists a viewer this node forwards
// for code, as the replica describes the code (looked up before the
// forward: the code leaves the directory once it pairs).
func (b *Broker) forwardedInfo(code, port, viewer string, by Supporter) SessionInfo {
	path := map[string]string{"viewer": "5511", "repeater": "5514", "wss": "wss"}[port]
	si := SessionInfo{Code: code, State: StateRelaying.String(), Supporter: by, Viewer: viewer, Path: path, Since: time.Now()}
	if l, ok := b.cluster.dir.Described(code); ok {
		in := l.Info
		si.Node, si.Flow, si.Customer, si.CustomerAddr = l.Node, in.Flow, in.Customer, in.CustomerAddr
		if !by.Known() {
			si.Supporter = Supporter{Account: in.SupporterAccount, Name: in.SupporterName, Team: in.SupporterTeam}
		}
	}
	return si
}

// spliceStarted and spliceEnded keep the console's list of the sessions
// this node forwards.
func (b *Broker) spliceStarted(si SessionInfo) {
	cn := b.cluster
	cn.mu.Lock()
	if cn.spliced == nil {
		cn.spliced = map[string]SessionInfo{}
	}
	cn.spliced[si.Code] = si
	cn.mu.Unlock()
	b.watchers.notify()
}

func (b *Broker) spliceEnded(code string) {
	cn := b.cluster
	cn.mu.Lock()
	delete(cn.spliced, code)
	cn.mu.Unlock()
	b.watchers.notify()
}

// clusterTLS makes the peer port's mutual TLS from the node's certificate
// and the cluster's CA.
func clusterTLS(certFile, keyFile, caFile string) (serve, dial *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, err
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	// The client's certificate must name the cluster too: a certificate
	// the CA issued for something else does not make a node.
	verifyName := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no cluster certificate")
		}
		return cs.PeerCertificates[0].VerifyHostname(clusterName)
	}
	serve = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS13, VerifyConnection: verifyName}
	// A forwarded viewer is a new peer connection; it resumes an earlier
	// one's TLS session (a ticket from the peer listener, which issues them
	// by default) instead of a full handshake with certificates. The
	// ticket carries the client's certificate, and VerifyConnection runs
	// on a resumed connection too, so the name check still applies. The
	// cache keeps one session per server name, and every peer has the
	// same name: peerTLS gives each peer address a cache of its own.
	dial = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: clusterName,
		MinVersion: tls.VersionTLS13, ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	return serve, dial, nil
}

// runCluster keeps the directory current, gives up released codes and
// splits the global guessing budget by the live nodes, until ctx ends.
func (b *Broker) runCluster(ctx context.Context, wg *sync.WaitGroup) {
	cn := b.cluster
	wg.Go(func() { cn.dir.Run(ctx) })
	// The console's live list follows the other nodes' codes too.
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-cn.dir.Changes():
				b.watchers.notify()
			}
		}
	})
	context.AfterFunc(ctx, cn.end)
	wg.Go(func() {
		<-ctx.Done()
		cn.closeReady()
	})
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case code := <-cn.releases:
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if err := cn.dir.Release(rctx, code); err != nil && ctx.Err() == nil {
					b.log.Debug("cluster: release", "code", code, "err", err)
				}
				cancel()
			}
		}
	})
	wg.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			b.throttle.setGlobalRate(cn.rate / float64(max(1, cn.dir.Stats(time.Now()).LiveNodes)))
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// setGlobalRate changes the global budget (a cluster splits it by its
// live nodes).
func (t *Throttle) setGlobalRate(r float64) {
	t.mu.Lock()
	t.GlobalRate = r
	t.mu.Unlock()
}

// writeClusterProm writes the cluster's view for /metrics.
func (cn *clusterNode) writeProm(w io.Writer) {
	st := cn.dir.Stats(time.Now())
	up := 0
	if st.Up {
		up = 1
	}
	fmt.Fprintf(w, "# HELP lifebuoy_cluster_database_up Whether the cluster's database answered last time.\n"+
		"# TYPE lifebuoy_cluster_database_up gauge\nlifebuoy_cluster_database_up %d\n", up)
	g := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	c := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	g("lifebuoy_cluster_nodes", "Nodes the cluster's directory lists.", int64(st.Nodes))
	g("lifebuoy_cluster_live_nodes", "Nodes heard from recently.", int64(st.LiveNodes))
	g("lifebuoy_cluster_codes", "Live codes of live nodes, as this node's replica has them.", int64(st.Codes))
	g("lifebuoy_cluster_forwarded_sessions", "Viewers this node splices to another node now.", cn.forwarded.Load())
	c("lifebuoy_cluster_forwarded_sessions_total", "Viewers this node spliced to another node.", cn.forwardedTotal.Load())
	g("lifebuoy_cluster_peer_sessions", "Sessions running here for viewers other nodes admitted.", cn.peerSessions.Load())
	c("lifebuoy_cluster_agent_redirects_total", "Agents sent to the node of the code they presented.", cn.redirects.Load())
	c("lifebuoy_cluster_code_takeovers_total", "Codes this node took over for their agents, whose link or node was lost.", cn.takeovers.Load())
	c("lifebuoy_cluster_forwards_ready_total", "Forwards that took a peer connection made ahead.", cn.readyUsed.Load())
	c("lifebuoy_cluster_claim_errors_total", "New codes refused because the database was unreachable.", st.ClaimErrors)
	c("lifebuoy_cluster_release_drops_total", "Code releases dropped on a full queue (the code expires instead).", cn.releaseDrops.Load())
}
