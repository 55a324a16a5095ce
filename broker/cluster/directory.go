package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"lifebuoy/rfb"
)

// Config is how a node joins the cluster.
type Config struct {
	DSN      string // postgres://…
	Node     string // this node's name, unique in the cluster
	PeerAddr string // host:port where the other nodes reach this node's peer port
	// AgentAddr is the host:port where agents reach this node's agent
	// port: where an agent that presents a code homed here is redirected
	// (SetAgentAddr sets it once the node listens).
	AgentAddr string

	Heartbeat time.Duration // how often the node says it lives (default 2 s)
	DeadAfter time.Duration // a node silent this long is dead (default 5 heartbeats)
	Resync    time.Duration // how often the replica is read whole (default 1 min)
}

func (c *Config) defaults() {
	if c.Heartbeat <= 0 {
		c.Heartbeat = 2 * time.Second
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = 5 * c.Heartbeat
	}
	if c.Resync <= 0 {
		c.Resync = time.Minute
	}
}

// ErrDatabase wraps a failure to reach the cluster's database: new codes
// are refused with it, and the caller tells the user to try again later.
var ErrDatabase = errors.New("the cluster's database cannot be reached; try again in a minute")

// Directory is a node's view of the cluster: the live nodes and a replica
// of every live code, with the code's home node.
type Directory struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool

	mu      sync.RWMutex
	codes   map[string]entry // replica of the live codes of all nodes
	nodes   map[string]Node  // by name
	changed chan struct{}    // closed (and replaced) when codes changes
	listed  chan struct{}    // gets a value (coalesced) when codes changes: Changes

	agentAddr atomic.Pointer[string] // Config.AgentAddr, or SetAgentAddr's

	up          atomic.Bool  // the last database operation succeeded
	claimErrors atomic.Int64 // claims refused for an unreachable database
	notifies    atomic.Int64 // notifications applied to the replica
	resyncs     atomic.Int64
}

// entry is a replicated code.
type entry struct {
	node       string
	expires    time.Time
	wantsAgent bool            // a supporter's code whose agent has not come yet
	key        *rfb.VNCAuthKey // derived here from the code; never stored
	info       Info
}

// Info is what the supporter's console lists of a code: its kind, who
// issued it, whose agent holds it. The node that holds the code writes
// it; every replica has it, so a console on any node lists every node's
// waiting customers, and a node that takes a code over keeps its kind.
type Info struct {
	Flow             string    `json:"f,omitempty"` // "customer-first" or "supporter-first"
	Since            time.Time `json:"t,omitzero"`
	SupporterAccount string    `json:"sa,omitempty"`
	SupporterName    string    `json:"sn,omitempty"`
	SupporterTeam    string    `json:"st,omitempty"`
	Customer         string    `json:"c,omitempty"` // the agent's name (user@host)
	CustomerAddr     string    `json:"ca,omitempty"`
}

// maxInfoField bounds each text of an Info as stored and sent: a
// notification's payload must stay under PostgreSQL's 8000 bytes.
const maxInfoField = 200

// encode is the Info as stored ("" for none), its texts cut to
// maxInfoField bytes.
func (in Info) encode() string {
	if in == (Info{}) {
		return ""
	}
	for _, f := range []*string{&in.Flow, &in.SupporterAccount, &in.SupporterName, &in.SupporterTeam, &in.Customer, &in.CustomerAddr} {
		*f = strings.ToValidUTF8(truncate(*f, maxInfoField), "")
	}
	b, _ := json.Marshal(in)
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// decodeInfo reads a stored Info; anything unreadable is none.
func decodeInfo(s string) Info {
	var in Info
	if s != "" && json.Unmarshal([]byte(s), &in) != nil {
		return Info{}
	}
	return in
}

// Listed is a live code of another live node, as the replica has it.
type Listed struct {
	Code, Node string
	Expires    time.Time
	WantsAgent bool // a supporter's code whose agent has not come yet
	Info       Info
}

// Node is a member of the cluster as the database last showed it.
type Node struct {
	Name, PeerAddr string
	AgentAddr      string // where its agents connect; "" until it listens
	Alive          bool   // heard from within DeadAfter
}

// Holder says who holds a code a node claims: an agent, with the hash
// of the resume token it was given (ResumeHash), or nobody yet
// (WantsAgent: a supporter's code that waits for its agent, whom a node
// that does not hold the code redirects).
type Holder struct {
	WantsAgent bool
	ResumeHash string // hex SHA-256 of the agent's resume token; "" for none
	Info       Info
}

// Open connects to the database, creates or updates the schema, registers
// the node (voiding any codes a previous run of it left) and reads the
// replica. Call Run to keep it current.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Directory, error) {
	cfg.defaults()
	if cfg.Node == "" || strings.ContainsAny(cfg.Node, " \t\n") {
		return nil, fmt.Errorf("cluster: a node name without spaces is needed, not %q", cfg.Node)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	pc.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	d := &Directory{cfg: cfg, log: log, pool: pool, codes: map[string]entry{}, nodes: map[string]Node{},
		changed: make(chan struct{}), listed: make(chan struct{}, 1)}
	d.agentAddr.Store(&cfg.AgentAddr)
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cluster: schema: %w", err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM lifebuoy_codes WHERE node = $1`, cfg.Node); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := d.heartbeat(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := d.resync(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return d, nil
}

// Close lets the database connections go. The node's codes stay until
// they expire or the node is dead.
func (d *Directory) Close() { d.pool.Close() }

// Node is this node's name.
func (d *Directory) Node() string { return d.cfg.Node }

// SetAgentAddr changes the agent address the node advertises, from its
// next heartbeat (Run beats once as it starts).
func (d *Directory) SetAgentAddr(addr string) { d.agentAddr.Store(&addr) }

// schema is the cluster's part of the database. The trigger feeds every
// node's replica: "add CODE NODE EXPIRES_MS", then "want CODE NODE" for
// a code that waits for its agent, "info CODE NODE JSON" for a code whose
// node described it (Info), and "del CODE NODE". (The "want" and "info"
// come apart so that a node of a previous version, which takes an "add"
// of four fields only and ignores what it does not know, keeps its
// replica current during a rolling upgrade.)
// The code's resume hash is never sent: only the node an agent reconnects
// to compares it, in the database (Reclaim).
const schema = `
CREATE TABLE IF NOT EXISTS lifebuoy_nodes (
	name      text PRIMARY KEY,
	peer_addr text NOT NULL,
	heartbeat timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS lifebuoy_codes (
	code    text PRIMARY KEY,
	node    text NOT NULL,
	expires timestamptz NOT NULL
);
ALTER TABLE lifebuoy_nodes ADD COLUMN IF NOT EXISTS agent_addr text NOT NULL DEFAULT '';
ALTER TABLE lifebuoy_codes ADD COLUMN IF NOT EXISTS wants_agent boolean NOT NULL DEFAULT false;
ALTER TABLE lifebuoy_codes ADD COLUMN IF NOT EXISTS resume text NOT NULL DEFAULT '';
ALTER TABLE lifebuoy_codes ADD COLUMN IF NOT EXISTS info text NOT NULL DEFAULT '';
CREATE OR REPLACE FUNCTION lifebuoy_codes_notify() RETURNS trigger AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM pg_notify('lifebuoy_codes', 'del ' || OLD.code || ' ' || OLD.node);
	ELSE
		PERFORM pg_notify('lifebuoy_codes', 'add ' || NEW.code || ' ' || NEW.node || ' ' ||
			(extract(epoch FROM NEW.expires) * 1000)::bigint);
		IF NEW.wants_agent THEN
			PERFORM pg_notify('lifebuoy_codes', 'want ' || NEW.code || ' ' || NEW.node);
		END IF;
		IF NEW.info <> '' THEN
			PERFORM pg_notify('lifebuoy_codes', 'info ' || NEW.code || ' ' || NEW.node || ' ' || NEW.info);
		END IF;
	END IF;
	RETURN NULL;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS lifebuoy_codes_notify ON lifebuoy_codes;
CREATE TRIGGER lifebuoy_codes_notify AFTER INSERT OR UPDATE OR DELETE ON lifebuoy_codes
	FOR EACH ROW EXECUTE FUNCTION lifebuoy_codes_notify();
`

// migrate creates the schema, one node at a time (nodes start together).
func (d *Directory) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7465736)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
}

// Run keeps the directory current until ctx ends: the heartbeat, the
// notifications and the periodic resync, each coming back by itself
// after the database was away.
func (d *Directory) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { d.listen(ctx) })
	// At once: the agent address may have changed since Open.
	bctx, cancel := context.WithTimeout(ctx, d.cfg.Heartbeat)
	if err := d.heartbeat(bctx); err != nil && ctx.Err() == nil {
		d.log.Warn("cluster: heartbeat", "err", err)
	}
	cancel()
	t := time.NewTicker(d.cfg.Heartbeat)
	defer t.Stop()
	r := time.NewTicker(d.cfg.Resync)
	defer r.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			bctx, cancel := context.WithTimeout(ctx, d.cfg.Heartbeat)
			if err := d.heartbeat(bctx); err != nil && ctx.Err() == nil {
				d.log.Warn("cluster: heartbeat", "err", err)
			}
			cancel()
		case <-r.C:
			rctx, cancel := context.WithTimeout(ctx, d.cfg.Resync/2)
			if err := d.resync(rctx); err != nil && ctx.Err() == nil {
				d.log.Warn("cluster: resync", "err", err)
			}
			cancel()
		}
	}
}

// heartbeat says this node lives and reads which others do.
func (d *Directory) heartbeat(ctx context.Context) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO lifebuoy_nodes (name, peer_addr, agent_addr, heartbeat) VALUES ($1, $2, $3, now())
		ON CONFLICT (name) DO UPDATE SET peer_addr = EXCLUDED.peer_addr, agent_addr = EXCLUDED.agent_addr, heartbeat = now()`,
		d.cfg.Node, d.cfg.PeerAddr, *d.agentAddr.Load())
	if err != nil {
		d.down()
		return err
	}
	rows, err := d.pool.Query(ctx, `SELECT name, peer_addr, agent_addr, heartbeat > now() - $1 * interval '1 millisecond'
		FROM lifebuoy_nodes`, d.cfg.DeadAfter.Milliseconds())
	if err != nil {
		d.down()
		return err
	}
	nodes := map[string]Node{}
	var n Node
	_, err = pgx.ForEachRow(rows, []any{&n.Name, &n.PeerAddr, &n.AgentAddr, &n.Alive}, func() error {
		nodes[n.Name] = n
		return nil
	})
	if err != nil {
		d.down()
		return err
	}
	d.up.Store(true)
	d.mu.Lock()
	d.nodes = nodes
	d.mu.Unlock()
	return nil
}

// resync reads all live codes, replacing the replica (notifications may
// have been lost while the database or the listening connection was
// away), and drops rows long expired.
func (d *Directory) resync(ctx context.Context) error {
	d.resyncs.Add(1)
	if _, err := d.pool.Exec(ctx, `DELETE FROM lifebuoy_codes WHERE expires < now() - interval '1 minute'`); err != nil {
		d.down()
		return err
	}
	rows, err := d.pool.Query(ctx, `SELECT code, node, expires, wants_agent, info FROM lifebuoy_codes WHERE expires > now()`)
	if err != nil {
		d.down()
		return err
	}
	d.mu.RLock()
	old := d.codes
	d.mu.RUnlock()
	codes := map[string]entry{}
	var code, node, info string
	var exp time.Time
	var wants bool
	_, err = pgx.ForEachRow(rows, []any{&code, &node, &exp, &wants, &info}, func() error {
		e := entry{node: node, expires: exp, wantsAgent: wants, info: decodeInfo(info)}
		if o, ok := old[code]; ok && o.key != nil {
			e.key = o.key
		} else {
			e.key = rfb.NewVNCAuthKey(code)
		}
		codes[code] = e
		return nil
	})
	if err != nil {
		d.down()
		return err
	}
	d.up.Store(true)
	d.mu.Lock()
	d.codes = codes
	d.notifyChanged()
	d.mu.Unlock()
	return nil
}

// listen feeds the replica from the trigger's notifications on a
// connection of its own, reconnecting (and resyncing) after a failure.
func (d *Directory) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := d.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		d.down()
		d.log.Warn("cluster: notifications", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (d *Directory) listenOnce(ctx context.Context) error {
	c, err := d.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection is left in LISTEN: it does not go back to the pool.
	conn := c.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN lifebuoy_codes`); err != nil {
		return err
	}
	// What changed before LISTEN took effect.
	if err := d.resync(ctx); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		d.apply(n.Payload)
	}
}

// apply changes the replica by one notification.
func (d *Directory) apply(payload string) {
	if rest, ok := strings.CutPrefix(payload, "info "); ok {
		d.applyInfo(rest)
		return
	}
	f := strings.Fields(payload)
	if len(f) < 3 {
		return
	}
	d.notifies.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch f[0] {
	case "add":
		if len(f) != 4 {
			return
		}
		ms, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return
		}
		e := entry{node: f[2], expires: time.UnixMilli(ms)}
		if o, ok := d.codes[f[1]]; ok && o.key != nil {
			e.key = o.key
		} else {
			e.key = rfb.NewVNCAuthKey(f[1])
		}
		d.codes[f[1]] = e
		d.notifyChanged()
	case "want":
		if e, ok := d.codes[f[1]]; ok && e.node == f[2] {
			e.wantsAgent = true
			d.codes[f[1]] = e
			d.notifyChanged()
		}
	case "del":
		if e, ok := d.codes[f[1]]; ok && e.node == f[2] {
			delete(d.codes, f[1])
			d.listChanged()
		}
	}
}

// applyInfo applies "info CODE NODE JSON" (without "info ").
func (d *Directory) applyInfo(rest string) {
	f := strings.SplitN(rest, " ", 3)
	if len(f) != 3 {
		return
	}
	d.notifies.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.codes[f[0]]; ok && e.node == f[1] {
		e.info = decodeInfo(f[2])
		d.codes[f[0]] = e
		d.listChanged()
	}
}

// listChanged tells Changes' reader, never blocking.
func (d *Directory) listChanged() {
	select {
	case d.listed <- struct{}{}:
	default:
	}
}

// Changes gets a value (coalesced) whenever the replica changed: a code
// added, described, taken over or gone. The console's live list follows
// it.
func (d *Directory) Changes() <-chan struct{} { return d.listed }

// Described finds a live code of another node in the replica, with its
// description. It changes nothing.
func (d *Directory) Described(code string) (Listed, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.codes[code]
	if !ok || e.node == d.cfg.Node {
		return Listed{}, false
	}
	return Listed{Code: code, Node: e.node, Expires: e.expires, WantsAgent: e.wantsAgent, Info: e.info}, true
}

// Listed lists the live codes of the other live nodes, for the console.
func (d *Directory) Listed(now time.Time) []Listed {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []Listed
	for code, e := range d.codes {
		if e.node == d.cfg.Node || !now.Before(e.expires) || !d.nodes[e.node].Alive {
			continue
		}
		out = append(out, Listed{Code: code, Node: e.node, Expires: e.expires, WantsAgent: e.wantsAgent, Info: e.info})
	}
	return out
}

// notifyChanged wakes those waiting in Await, and Changes' reader; d.mu
// is held for writing.
func (d *Directory) notifyChanged() {
	close(d.changed)
	d.changed = make(chan struct{})
	d.listChanged()
}

// maxRechecks bounds how often Await looks again within its wait.
const maxRechecks = 4

// Await looks for a code in the replica with found (Home or MatchVNCAuth
// in a closure), and on a miss looks again each time a code is added,
// for at most wait and maxRechecks looks, or until ctx ends. It reports
// whether found did. A viewer can present a code microseconds after its
// home node claimed it, before the notification reached this replica:
// Await gives it a moment before the miss counts as a wrong guess. It
// starts no goroutine.
func (d *Directory) Await(ctx context.Context, wait time.Duration, found func() bool) bool {
	d.mu.RLock()
	ch := d.changed
	d.mu.RUnlock()
	if found() {
		return true
	}
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for range maxRechecks {
		select {
		case <-ch:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
		d.mu.RLock()
		ch = d.changed
		d.mu.RUnlock()
		if found() {
			return true
		}
	}
	return false
}

// Claim makes code this node's until expires, held by h, if no live
// node holds it: it is free, expired, or its node is dead. It reports
// whether the claim took; a database failure is an ErrDatabase.
func (d *Directory) Claim(ctx context.Context, code string, expires time.Time, h Holder) (bool, error) {
	tag, err := d.claim(ctx, code, expires, h)
	if err != nil && ctx.Err() == nil {
		// The database may be back, and the pool's connections from
		// before it went away broken: once more on fresh ones.
		d.pool.Reset()
		tag, err = d.claim(ctx, code, expires, h)
	}
	if err != nil {
		d.down()
		d.claimErrors.Add(1)
		return false, fmt.Errorf("%w (%v)", ErrDatabase, err)
	}
	d.up.Store(true)
	return tag.RowsAffected() == 1, nil
}

func (d *Directory) claim(ctx context.Context, code string, expires time.Time, h Holder) (pgconn.CommandTag, error) {
	return d.pool.Exec(ctx, `INSERT INTO lifebuoy_codes (code, node, expires, wants_agent, resume, info) VALUES ($1, $2, $3, $5, $6, $7)
		ON CONFLICT (code) DO UPDATE SET node = EXCLUDED.node, expires = EXCLUDED.expires,
			wants_agent = EXCLUDED.wants_agent, resume = EXCLUDED.resume, info = EXCLUDED.info
		WHERE lifebuoy_codes.expires < now() OR NOT EXISTS (SELECT 1 FROM lifebuoy_nodes n
			WHERE n.name = lifebuoy_codes.node AND n.heartbeat > now() - $4 * interval '1 millisecond')`,
		code, d.cfg.Node, expires, d.cfg.DeadAfter.Milliseconds(), h.WantsAgent, h.ResumeHash, h.Info.encode())
}

// Attached records that an agent came for this node's code: it no
// longer waits for one, holds it until expires, may take it to another
// node with the resume token whose hash is resumeHash, and is described
// by info now.
func (d *Directory) Attached(ctx context.Context, code string, expires time.Time, resumeHash string, info Info) error {
	_, err := d.pool.Exec(ctx, `UPDATE lifebuoy_codes SET wants_agent = false, expires = $3, resume = $4, info = $5
		WHERE code = $1 AND node = $2`, code, d.cfg.Node, expires, resumeHash, info.encode())
	if err != nil {
		d.down()
	}
	return err
}

// Reclaim makes a live code this node's for the agent that held it on
// another node and presents its resume token (hashed: resumeHash): its
// node died, or its link broke. It reports the code's expiry, what its
// old node said of it (its kind, who issued it), and whether the code
// was taken; a database failure is an ErrDatabase.
func (d *Directory) Reclaim(ctx context.Context, code, resumeHash string) (time.Time, Info, bool, error) {
	var exp time.Time
	var info string
	err := d.pool.QueryRow(ctx, `UPDATE lifebuoy_codes SET node = $2
		WHERE code = $1 AND node <> $2 AND resume = $3 AND resume <> '' AND expires > now()
		RETURNING expires, info`, code, d.cfg.Node, resumeHash).Scan(&exp, &info)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		d.up.Store(true)
		return time.Time{}, Info{}, false, nil
	case err != nil:
		d.down()
		return time.Time{}, Info{}, false, fmt.Errorf("%w (%v)", ErrDatabase, err)
	}
	d.up.Store(true)
	return exp, decodeInfo(info), true, nil
}

// Describe sets what the console lists of this node's code.
func (d *Directory) Describe(ctx context.Context, code string, info Info) error {
	_, err := d.pool.Exec(ctx, `UPDATE lifebuoy_codes SET info = $3 WHERE code = $1 AND node = $2`,
		code, d.cfg.Node, info.encode())
	if err != nil {
		d.down()
	}
	return err
}

// Release gives up this node's claim on code: it paired or ended.
func (d *Directory) Release(ctx context.Context, code string) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM lifebuoy_codes WHERE code = $1 AND node = $2`, code, d.cfg.Node)
	if err != nil {
		d.down()
		return err
	}
	return nil
}

// Home finds a live code held by another live node, and that node's peer
// address.
func (d *Directory) Home(code string, now time.Time) (node, peerAddr string, ok bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.codes[code]
	if !ok || e.node == d.cfg.Node || !now.Before(e.expires) {
		return "", "", false
	}
	n := d.nodes[e.node]
	if !n.Alive {
		return "", "", false
	}
	return e.node, n.PeerAddr, true
}

// PeerOf finds a live node other than this one by name, and its peer
// address.
func (d *Directory) PeerOf(node string) (peerAddr string, ok bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n, ok := d.nodes[node]
	if !ok || !n.Alive || node == d.cfg.Node || n.PeerAddr == "" {
		return "", false
	}
	return n.PeerAddr, true
}

// AgentHome finds a live code of another live node that waits for its
// agent, and the address where that node takes agents.
func (d *Directory) AgentHome(code string, now time.Time) (agentAddr string, ok bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.codes[code]
	if !ok || !e.wantsAgent || e.node == d.cfg.Node || !now.Before(e.expires) {
		return "", false
	}
	n := d.nodes[e.node]
	if !n.Alive || n.AgentAddr == "" {
		return "", false
	}
	return n.AgentAddr, true
}

// MatchVNCAuth finds the live code of another live node whose VNC
// Authentication response to challenge is response. Every code is tried.
func (d *Directory) MatchVNCAuth(challenge, response []byte, now time.Time) (code, node, peerAddr string, ok bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for k, e := range d.codes {
		if e.node == d.cfg.Node || !now.Before(e.expires) {
			continue
		}
		if e.key.Matches(challenge, response) && !ok {
			if n := d.nodes[e.node]; n.Alive {
				code, node, peerAddr, ok = k, e.node, n.PeerAddr, true
			}
		}
	}
	return code, node, peerAddr, ok
}

// Stats is the directory's view for the operator's metrics.
type Stats struct {
	Up                             bool // the database answered last time
	Nodes, LiveNodes               int
	Codes                          int // live codes in the replica, all nodes
	ClaimErrors, Notifies, Resyncs int64
}

// Stats reports the directory's view now.
func (d *Directory) Stats(now time.Time) Stats {
	d.mu.RLock()
	defer d.mu.RUnlock()
	s := Stats{Up: d.up.Load(), Nodes: len(d.nodes), ClaimErrors: d.claimErrors.Load(),
		Notifies: d.notifies.Load(), Resyncs: d.resyncs.Load()}
	for _, n := range d.nodes {
		if n.Alive {
			s.LiveNodes++
		}
	}
	for _, e := range d.codes {
		if now.Before(e.expires) && d.nodes[e.node].Alive {
			s.Codes++
		}
	}
	return s
}

// down notes that the database did not answer, and drops the pool's
// connections, which may be broken for good: the next use dials afresh.
func (d *Directory) down() {
	if d.up.Swap(false) {
		d.pool.Reset()
	}
}

// Ping checks that the database answers.
func (d *Directory) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		d.down()
		return fmt.Errorf("%w (%v)", ErrDatabase, err)
	}
	d.up.Store(true)
	return nil
}
