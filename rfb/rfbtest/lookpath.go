package rfbtest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// debianPackage names the package that ships each peer, for the failure hint.
var debianPackage = map[string]string{
	"Xvfb":             "xvfb",
	"xwd":              "x11-apps",
	"xsetroot":         "x11-xserver-utils",
	"xdotool":          "xdotool",
	"xtigervncviewer":  "tigervnc-viewer",
	"vncviewer":        "tigervnc-viewer",
	"gvnccapture":      "gvncviewer",
	"gvncviewer":       "gvncviewer",
	"x11vnc":           "x11vnc",
	"xterm":            "xterm",
	"xrandr":           "x11-xserver-utils",
	"x0tigervncserver": "tigervnc-scraping-server",
	"socat":            "socat",
	"xclip":            "xclip",
	"convert":          "imagemagick",
	"pnmtopng":         "netpbm",
	"node":             "nodejs",
	"chromium":         "chromium",
}

// LookPath fails the test unless every named program is on PATH. Interop
// tests must not skip silently when a peer is missing, so this is fatal and
// says how to install the peers.
func LookPath(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if pkg, ok := debianPackage[name]; ok {
				name = fmt.Sprintf("%s (Debian package %s)", name, pkg)
			}
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("rfbtest: required peer not installed: %s; run `make test` or `bash .ci/deps.sh` to install the test peers",
			strings.Join(missing, ", "))
	}
}
