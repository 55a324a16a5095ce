package agentlink

import (
	"net/url"
	"testing"
)

// A redirect (or a Welcome naming its own broker) points every way to the
// broker at the new one: the agent port's way takes its address, the
// HTTPS ports keep their ports on its host, a proxy stays; the caller's
// paths are left as they were.
func TestRedirectPaths(t *testing.T) {
	proxy := &url.URL{Scheme: "http", Host: "proxy:3128"}
	mine := []Path{{Kind: PathTLS, Addr: "lb.example:5510"}, {Kind: PathTLS, Addr: "lb.example:443"},
		{Kind: PathWebSocket, Addr: "lb.example:443", Proxy: proxy}}
	cfg := Config{Broker: "lb.example:5510", Paths: mine}
	cfg.redirect("10.0.0.2:6510")
	want := []Path{{Kind: PathTLS, Addr: "10.0.0.2:6510"}, {Kind: PathTLS, Addr: "10.0.0.2:443"},
		{Kind: PathWebSocket, Addr: "10.0.0.2:443", Proxy: proxy}}
	for i := range want {
		if cfg.Paths[i] != want[i] {
			t.Errorf("path %d: %v, want %v", i, cfg.Paths[i], want[i])
		}
	}
	if cfg.Broker != "10.0.0.2:6510" || mine[0].Addr != "lb.example:5510" {
		t.Fatalf("broker %s; the caller's first path became %s", cfg.Broker, mine[0].Addr)
	}
	// Without chosen paths, the search is made for the new broker.
	cfg = Config{Broker: "lb.example:5510", HTTPSPorts: []string{"443"}, Proxy: "direct"}
	cfg.redirect("[2001:db8::2]:5510")
	ps, err := cfg.paths()
	if err != nil || len(ps) != 3 || ps[0].Addr != "[2001:db8::2]:5510" || ps[2].Addr != "[2001:db8::2]:443" {
		t.Fatalf("paths after the redirect: %v %v", ps, err)
	}
}
