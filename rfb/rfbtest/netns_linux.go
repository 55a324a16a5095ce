package rfbtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// NetNS is a network namespace of the test's own, joined to the test's
// namespace by a veth pair: a second host on the machine, for what
// crosses a network (a blocked port, a proxy). Programs run inside with
// Command. It is removed when the test ends. Needs root and iproute2;
// Drop and AllowOnly need nftables.
type NetNS struct {
	Name   string
	HostIP netip.Addr // the test's side of the pair
	NSIP   netip.Addr // the namespace's side
	t      testing.TB
}

// StartNetNS makes the namespace and its link.
func StartNetNS(t testing.TB) *NetNS {
	t.Helper()
	LookPath(t, "ip")
	// A /30 in 10.231.0.0/16 that no interface uses yet.
	var n *NetNS
	for range 50 {
		b := byte(rand.IntN(256))
		c := byte(rand.IntN(64)) * 4
		host := netip.AddrFrom4([4]byte{10, 231, b, c + 1})
		if out, _ := exec.Command("ip", "-o", "addr", "show", "to", host.String()+"/30").Output(); len(out) > 0 {
			continue
		}
		n = &NetNS{Name: fmt.Sprintf("lbt%d", rand.IntN(1_000_000)), HostIP: host,
			NSIP: netip.AddrFrom4([4]byte{10, 231, b, c + 2}), t: t}
		break
	}
	if n == nil {
		t.Fatal("rfbtest: no free address block for a network namespace")
	}
	hostIf, nsIf := n.Name+"h", n.Name+"n"
	steps := [][]string{
		{"netns", "add", n.Name},
		{"link", "add", hostIf, "type", "veth", "peer", "name", nsIf},
		{"link", "set", nsIf, "netns", n.Name},
		{"addr", "add", n.HostIP.String() + "/30", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", n.Name, "addr", "add", n.NSIP.String() + "/30", "dev", nsIf},
		{"-n", n.Name, "link", "set", nsIf, "up"},
		{"-n", n.Name, "link", "set", "lo", "up"},
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", hostIf).Run()
		exec.Command("ip", "netns", "del", n.Name).Run()
	})
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("rfbtest: ip %s: %v: %s (network namespaces need root)", strings.Join(s, " "), err, out)
		}
	}
	return n
}

// Command runs name inside the namespace (as Start and Run take it:
// "ip netns exec NAME name args...").
func (n *NetNS) Command(name string, args ...string) (string, []string) {
	return "ip", append([]string{"netns", "exec", n.Name, name}, args...)
}

// nft runs nft inside the namespace.
func (n *NetNS) nft(rules string) {
	n.t.Helper()
	LookPath(n.t, "nft")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", n.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("rfbtest: nft in %s: %v: %s", n.Name, err, out)
	}
}

// resetRules replaces the rules of an earlier Drop or AllowOnly: the
// table is made (if absent) and deleted before it is made anew.
const resetRules = "table inet lbtest\ndelete table inet lbtest\n"

// Drop makes the namespace silently drop TCP to the test's side on
// ports, as a firewall that blocks them without an answer does.
func (n *NetNS) Drop(ports ...int) {
	n.t.Helper()
	var rules strings.Builder
	rules.WriteString(resetRules + "table inet lbtest {\n chain out {\n  type filter hook output priority 0; policy accept;\n")
	for _, p := range ports {
		fmt.Fprintf(&rules, "  ip daddr %s tcp dport %d drop\n", n.HostIP, p)
	}
	rules.WriteString(" }\n}\n")
	n.nft(rules.String())
}

// AllowOnly makes the namespace drop all TCP to the test's side but to
// ports: a network whose only way out is, say, its proxy.
func (n *NetNS) AllowOnly(ports ...int) {
	n.t.Helper()
	var list []string
	for _, p := range ports {
		list = append(list, fmt.Sprint(p))
	}
	n.nft(fmt.Sprintf(resetRules+"table inet lbtest {\n chain out {\n  type filter hook output priority 0; policy accept;\n"+
		"  ip daddr %s tcp dport != { %s } drop\n }\n}\n", n.HostIP, strings.Join(list, ", ")))
}
