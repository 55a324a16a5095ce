package broker

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the broker's configuration. DefaultConfig gives the built-in
// defaults; a JSON file and flags override them, in that order.
type Config struct {
	// DataDir holds the certificate, its key and the audit log.
	DataDir string `json:"data_dir"`

	AgentAddr    string `json:"agent_addr"`    // agents, TLS 1.3 (5510)
	ViewerAddr   string `json:"viewer_addr"`   // stock viewers, RFB (5511)
	RepeaterAddr string `json:"repeater_addr"` // UltraVNC repeater mode II (5514)
	AdminAddr    string `json:"admin_addr"`    // health, metrics, admin API (5515)
	HTTPSAddr    string `json:"https_addr"`    // the HTTPS front: console, RFB and agents over WebSocket (5512 or 443)

	// CertFile and KeyFile replace the self-signed certificate of the
	// data directory with the administrator's (reloaded on SIGHUP).
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// ACME: a certificate for ACMEDomain from an ACME CA (Let's Encrypt by
	// default, ACMEDirectory for another). The CA checks the domain on
	// port 443 (TLS-ALPN-01, when HTTPSAddr is on 443) or port 80
	// (HTTP-01, served on ACMEHTTPAddr), never on 5512.
	ACMEDomain    string `json:"acme_domain"`
	ACMEEmail     string `json:"acme_email"`
	ACMEDirectory string `json:"acme_directory"`
	ACMEHTTPAddr  string `json:"acme_http_addr"`

	CodeTTL    Duration `json:"code_ttl"`
	CodeDigits int      `json:"code_digits"`

	// AnonymousViewers lets viewers without a desk account redeem codes
	// (stock viewers on 5511 and 5514, noVNC without the console). When
	// false, only supporters the desk names (the console's viewer, the
	// bridge) can: guessing a code then needs a stolen account.
	AnonymousViewers bool `json:"anonymous_viewers"`

	// PlainVNCAuthNetworks may use VNC Authentication without TLS, and
	// the repeater port (5514), which is cleartext end to end; the code
	// then crosses the network in a form that can be brute-forced
	// offline, so the default is loopback only.
	PlainVNCAuthNetworks []string `json:"plain_vnc_auth_networks"`

	HandshakeTimeout Duration `json:"handshake_timeout"` // a viewer's or agent's handshake
	ConsentTimeout   Duration `json:"consent_timeout"`   // agent's answer to a paired viewer
	IdleTimeout      Duration `json:"idle_timeout"`      // a session with no bytes either way
	// WriteStall ends a session whose viewer (or agent) takes no bytes
	// for this long while the relay has some for it: a peer that stopped
	// reading, or whose other side has gone behind it.
	WriteStall Duration `json:"write_stall"`
	KeepAlive  Duration `json:"keep_alive"` // Ping after this much quiet
	// WebSocketPing pings a quiet WebSocket on the HTTPS front after this
	// long, below the 60 s after which many proxies cut a quiet
	// connection.
	WebSocketPing Duration `json:"websocket_ping"`
	LinkTimeout   Duration `json:"link_timeout"` // a link silent this long is dead

	// The audit log is rotated at AuditMaxBytes or AuditMaxAge, and the
	// AuditKeep newest rotated files are kept.
	AuditMaxBytes int64    `json:"audit_max_bytes"`
	AuditMaxAge   Duration `json:"audit_max_age"`
	AuditKeep     int      `json:"audit_keep"`

	// Bandwidth caps in bytes per second; 0 means none.
	SessionBandwidth int64 `json:"session_bandwidth"`
	TotalBandwidth   int64 `json:"total_bandwidth"`

	// Guessing defence.
	FailureDelay      Duration `json:"failure_delay"`     // first wrong code from an address
	MaxFailureDelay   Duration `json:"max_failure_delay"` // the cap of the doubling
	MaxHandshakesAddr int      `json:"max_handshakes_per_addr"`
	// MaxAgentsAddr bounds the agents waiting on one address (an IPv6
	// /64); MaxAgents all of them (0: half of the descriptors the process
	// may open, less a reserve, so that viewers and running sessions
	// always find descriptors).
	MaxAgentsAddr     int      `json:"max_agents_per_addr"`
	MaxAgents         int      `json:"max_agents"`
	GlobalFailureRate float64  `json:"global_failure_rate"` // the global budget, failures a minute (0: none)
	FailureMemory     Duration `json:"failure_memory"`      // an address stays suspect this long after a failure (0: 24 h)

	// Cluster (docs/CLUSTER.md): with Cluster, a postgres:// URL, the
	// broker is one node of several that share their live codes there.
	// The nodes reach each other on the peer port (PeerAddr, advertised
	// as PeerAdvertise) with mutual TLS: ClusterCert and ClusterKey are
	// this node's, signed by ClusterCA, for the name "lifebuoy-cluster".
	Cluster       string `json:"cluster"`
	ClusterNode   string `json:"cluster_node"` // this node's name (default: the host name)
	PeerAddr      string `json:"peer_addr"`
	PeerAdvertise string `json:"peer_advertise"`
	// AgentAdvertise is the host:port where agents reach this node's
	// agent port, where other nodes redirect an agent that presents a
	// code homed here (default: PeerAdvertise's host, AgentAddr's port).
	AgentAdvertise string `json:"agent_advertise"`
	ClusterCert    string `json:"cluster_cert"`
	ClusterKey     string `json:"cluster_key"`
	ClusterCA      string `json:"cluster_ca"`
}

// Duration is a time.Duration written as "10m" in the config file.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"10m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultConfig is the built-in configuration.
func DefaultConfig() Config {
	dir := "lifebuoy-data"
	if s := os.Getenv("XDG_STATE_HOME"); s != "" {
		dir = filepath.Join(s, "lifebuoy")
	}
	return Config{
		DataDir:              dir,
		AgentAddr:            ":5510",
		ViewerAddr:           ":5511",
		RepeaterAddr:         ":5514",
		AdminAddr:            "127.0.0.1:5515",
		PeerAddr:             ":5516",
		HTTPSAddr:            ":5512",
		CodeTTL:              Duration(10 * time.Minute),
		CodeDigits:           6,
		PlainVNCAuthNetworks: []string{"127.0.0.0/8", "::1/128"},
		AnonymousViewers:     true,
		AuditMaxBytes:        64 << 20,
		AuditMaxAge:          Duration(24 * time.Hour),
		AuditKeep:            30,
		HandshakeTimeout:     Duration(10 * time.Second),
		ConsentTimeout:       Duration(2 * time.Minute),
		IdleTimeout:          Duration(30 * time.Minute),
		WriteStall:           Duration(2 * time.Minute),
		KeepAlive:            Duration(20 * time.Second),
		WebSocketPing:        Duration(25 * time.Second),
		LinkTimeout:          Duration(60 * time.Second),
		FailureDelay:         Duration(time.Second),
		MaxFailureDelay:      Duration(time.Minute),
		MaxHandshakesAddr:    8,
		MaxAgentsAddr:        32,
		GlobalFailureRate:    30,
		FailureMemory:        Duration(24 * time.Hour),
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.CodeDigits < 4 || c.CodeDigits > 12 {
		errs = append(errs, fmt.Errorf("code_digits %d is not in 4..12", c.CodeDigits))
	}
	if c.CodeTTL <= 0 {
		errs = append(errs, errors.New("code_ttl must be positive"))
	}
	if _, err := c.plainNets(); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []Duration{c.HandshakeTimeout, c.ConsentTimeout, c.IdleTimeout, c.KeepAlive, c.LinkTimeout, c.WebSocketPing} {
		if d <= 0 {
			errs = append(errs, errors.New("timeouts must be positive"))
			break
		}
	}
	if c.KeepAlive >= c.LinkTimeout {
		errs = append(errs, errors.New("keep_alive must be shorter than link_timeout"))
	}
	if c.GlobalFailureRate < 0 || c.FailureMemory < 0 {
		errs = append(errs, errors.New("global_failure_rate and failure_memory must not be negative"))
	}
	if c.SessionBandwidth < 0 || c.TotalBandwidth < 0 {
		errs = append(errs, errors.New("bandwidth caps must not be negative"))
	}
	if c.AuditMaxBytes < 0 || c.AuditMaxAge < 0 || c.AuditKeep < 0 {
		errs = append(errs, errors.New("audit_max_bytes, audit_max_age and audit_keep must not be negative"))
	}
	if c.Cluster != "" && (c.ClusterCert == "" || c.ClusterKey == "" || c.ClusterCA == "" || c.PeerAddr == "") {
		errs = append(errs, errors.New("a cluster needs peer_addr, cluster_cert, cluster_key and cluster_ca (docs/CLUSTER.md)"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("cert_file and key_file go together"))
	}
	if c.ACMEDomain != "" {
		if !strings.Contains(strings.Trim(c.ACMEDomain, "."), ".") {
			errs = append(errs, fmt.Errorf("acme_domain %q must be a full domain name (like help.example.com)", c.ACMEDomain))
		}
		if c.ACMEHTTPAddr == "" && addrPort(c.HTTPSAddr) != "443" {
			errs = append(errs, errors.New("ACME checks the domain on port 443 or 80 only: put https_addr on :443 "+
				"(-https-listen :443) or answer HTTP-01 on port 80 (-acme-http-listen :80)"))
		}
	} else if c.ACMEHTTPAddr != "" {
		errs = append(errs, errors.New("acme_http_addr needs acme_domain"))
	}
	return errors.Join(errs...)
}

// addrPort is the port of a listen address ("" if it has none).
func addrPort(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

func (c *Config) plainNets() ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, s := range c.PlainVNCAuthNetworks {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("plain_vnc_auth_networks: %w", err)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

// LoadConfigFile reads a JSON configuration over c. Fields the file does
// not name keep their values.
func LoadConfigFile(path string, c *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ConfigFromArgs builds the configuration from the built-in defaults, the
// file named by -config, and the other flags, in that order.
func ConfigFromArgs(name string, args []string, stderr io.Writer) (Config, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "JSON configuration `file`")
	// The flags write into a scratch copy; only those given are applied
	// after the file, so the file cannot undo a flag.
	f := c
	fs.StringVar(&f.DataDir, "data", c.DataDir, "data `dir`ectory: certificate, key, audit log")
	fs.StringVar(&f.AgentAddr, "agent-listen", c.AgentAddr, "agent channel (TLS) `address`")
	fs.StringVar(&f.ViewerAddr, "viewer-listen", c.ViewerAddr, "stock VNC viewer `address`")
	fs.StringVar(&f.RepeaterAddr, "repeater-listen", c.RepeaterAddr, "UltraVNC repeater mode II `address`")
	fs.StringVar(&f.AdminAddr, "admin-listen", c.AdminAddr, "health, metrics and admin API `address`")
	fs.StringVar(&f.HTTPSAddr, "https-listen", c.HTTPSAddr, "HTTPS front `address`: web console, RFB and agents over WebSocket (\"\": none)")
	fs.StringVar(&f.CertFile, "cert", "", "certificate `file` (PEM, with its chain) instead of the self-signed one; reloaded on SIGHUP")
	fs.StringVar(&f.KeyFile, "key", "", "private key `file` (PEM) of -cert")
	fs.StringVar(&f.ACMEDomain, "acme-domain", "", "get a certificate for this `domain` by ACME (needs port 443 or 80)")
	fs.StringVar(&f.ACMEEmail, "acme-email", "", "contact `address` for the ACME account")
	fs.StringVar(&f.ACMEDirectory, "acme-directory", "", "ACME directory `URL` of a private CA (default: Let's Encrypt)")
	fs.StringVar(&f.ACMEHTTPAddr, "acme-http-listen", "", "plain HTTP `address` (:80) for ACME's HTTP-01 check and redirects")
	fs.DurationVar((*time.Duration)(&f.CodeTTL), "code-ttl", time.Duration(c.CodeTTL), "how long an unpaired code lives")
	fs.IntVar(&f.CodeDigits, "code-digits", c.CodeDigits, "digits in a session code")
	fs.Func("plain-vnc-auth", "comma-separated `networks` allowed VNC Authentication without TLS, and the cleartext repeater port", func(s string) error {
		f.PlainVNCAuthNetworks = splitComma(s)
		return nil
	})
	fs.BoolVar(&f.AnonymousViewers, "anonymous-viewers", c.AnonymousViewers, "let viewers without an account redeem codes (stock viewers on 5511 and 5514)")
	fs.DurationVar((*time.Duration)(&f.IdleTimeout), "idle-timeout", time.Duration(c.IdleTimeout), "end a session idle this long")
	fs.Int64Var(&f.SessionBandwidth, "session-bandwidth", 0, "per-session cap in bytes/s (0: none)")
	fs.Int64Var(&f.TotalBandwidth, "total-bandwidth", 0, "total cap in bytes/s (0: none)")
	fs.StringVar(&f.Cluster, "cluster", "", "join a cluster whose directory is this PostgreSQL `URL` (postgres://…)")
	fs.StringVar(&f.ClusterNode, "cluster-node", "", "this node's `name` in the cluster (default: the host name)")
	fs.StringVar(&f.PeerAddr, "peer-listen", c.PeerAddr, "cluster peer port `address` (mutual TLS)")
	fs.StringVar(&f.PeerAdvertise, "peer-advertise", "", "`host:port` the other nodes dial for this node's peer port")
	fs.StringVar(&f.AgentAdvertise, "agent-advertise", "", "`host:port` where other nodes send agents for this node's codes (default: the peer address's host, the agent port)")
	fs.StringVar(&f.ClusterCert, "cluster-cert", "", "this node's cluster certificate `file` (PEM, for the name lifebuoy-cluster)")
	fs.StringVar(&f.ClusterKey, "cluster-key", "", "private key `file` of -cluster-cert")
	fs.StringVar(&f.ClusterCA, "cluster-ca", "", "the cluster's CA certificate `file` (PEM)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *configFile != "" {
		if err := LoadConfigFile(*configFile, &c); err != nil {
			return c, err
		}
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "data":
			c.DataDir = f.DataDir
		case "agent-listen":
			c.AgentAddr = f.AgentAddr
		case "viewer-listen":
			c.ViewerAddr = f.ViewerAddr
		case "repeater-listen":
			c.RepeaterAddr = f.RepeaterAddr
		case "admin-listen":
			c.AdminAddr = f.AdminAddr
		case "https-listen":
			c.HTTPSAddr = f.HTTPSAddr
		case "cert":
			c.CertFile = f.CertFile
		case "key":
			c.KeyFile = f.KeyFile
		case "acme-domain":
			c.ACMEDomain = f.ACMEDomain
		case "acme-email":
			c.ACMEEmail = f.ACMEEmail
		case "acme-directory":
			c.ACMEDirectory = f.ACMEDirectory
		case "acme-http-listen":
			c.ACMEHTTPAddr = f.ACMEHTTPAddr
		case "code-ttl":
			c.CodeTTL = f.CodeTTL
		case "code-digits":
			c.CodeDigits = f.CodeDigits
		case "plain-vnc-auth":
			c.PlainVNCAuthNetworks = f.PlainVNCAuthNetworks
		case "anonymous-viewers":
			c.AnonymousViewers = f.AnonymousViewers
		case "idle-timeout":
			c.IdleTimeout = f.IdleTimeout
		case "session-bandwidth":
			c.SessionBandwidth = f.SessionBandwidth
		case "total-bandwidth":
			c.TotalBandwidth = f.TotalBandwidth
		case "cluster":
			c.Cluster = f.Cluster
		case "cluster-node":
			c.ClusterNode = f.ClusterNode
		case "peer-listen":
			c.PeerAddr = f.PeerAddr
		case "peer-advertise":
			c.PeerAdvertise = f.PeerAdvertise
		case "agent-advertise":
			c.AgentAdvertise = f.AgentAdvertise
		case "cluster-cert":
			c.ClusterCert = f.ClusterCert
		case "cluster-key":
			c.ClusterKey = f.ClusterKey
		case "cluster-ca":
			c.ClusterCA = f.ClusterCA
		}
	})
	return c, c.Validate()
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
