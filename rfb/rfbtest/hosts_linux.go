package rfbtest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// WithHosts wraps a command so that it runs in a mount namespace of its
// own where /etc/hosts lists hosts (name → address) beside localhost:
// a viewer or agent can then dial a test's domain name, such as the name
// on a certificate, while the machine's own /etc/hosts stays as it is.
// It returns the command to run (for Start or StartTerminal). Needs root
// and util-linux's unshare.
func WithHosts(t testing.TB, hosts map[string]string, name string, args ...string) (string, []string) {
	t.Helper()
	LookPath(t, "unshare")
	var b strings.Builder
	b.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", hosts[n], n)
	}
	file := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return "unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$0" /etc/hosts && exec "$@"`, file, name}, args...)
}
