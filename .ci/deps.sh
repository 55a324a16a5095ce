#!/usr/bin/env bash
# Installs what `make test` needs and is missing: the real peers the interop
# tests drive (Debian packages), a C compiler for -race, and staticcheck.
# Idempotent: when everything is present it installs nothing.
# Runs as root, or through sudo when that is available; needs no stdin.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# Debian package and the command the tests run from it.
packages=(
	xvfb:Xvfb
	xdotool:xdotool
	xclip:xclip                  # the clipboard tests copy and paste on the customer's and the viewer's displays; reads back Wine's notepad
	xterm:xterm                  # the agent's input tests type into it
	tigervnc-viewer:xtigervncviewer
	xtightvncviewer:xtightvncviewer   # 16 bpp client (takes its display's format)
	gvncviewer:gvnccapture
	x11vnc:x11vnc
	x11-apps:xwd
	x11-xserver-utils:xsetroot
	imagemagick:display   # /usr/local/bin/convert on this image is a stand-in, so check display
	socat:socat
	tigervnc-scraping-server:x0tigervncserver
	netpbm:pnmtopng
	dbus-daemon:dbus-daemon   # the agent's tray test runs a private session bus
	xdg-desktop-portal:                # the tray's "Send files…" opens the desktop's file chooser through the portal
	xdg-desktop-portal-gtk:            # ... whose GTK dialog the test drives on Xvfb
	chromium:chromium   # noVNC and the console, driven by playwright-core
	novnc:              # Debian 12's noVNC 1.3 (no Tight gradient filter); files only
	websockify:websockify   # Debian's WebSocket bridge in front of noVNC and of the stock-viewer port
	abiword:abiword     # the quality benchmark's office document
	lomiri-wallpapers-16.04:   # its photo (/usr/share/backgrounds/Dragonfly_by_Bolly.jpg)
	tinyproxy:tinyproxy # a real HTTP proxy in front of the agent (CONNECT)
	postgresql:         # the desk store's interop tests run on a private PostgreSQL too
	haproxy:haproxy     # a TCP load balancer in front of the cluster's agent ports (round robin)
	iproute2:ip         # network namespaces: a customer's network that blocks ports
	nftables:nft        # the DROP rules of that network
	squid-openssl:squid # a proxy that inspects TLS (ssl-bump), with WebSocket upgrades
	openssl:openssl     # the inspecting proxy's CA
	wine64:/usr/lib/wine/wine64           # the Windows agent's interop tests run it under Wine
	gcc-mingw-w64-x86-64-win32:x86_64-w64-mingw32-gcc # builds Wine's ProcessPrng shim for Go programs
	osslsigncode:osslsigncode # signs and verifies winvnc.exe (make agent SIGN_CERT=...)
	gcc:gcc             # go test -race needs cgo
	libc6-dev:          # headers for cgo; no command of its own
)

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == 'install ok installed' ]]; }

missing=()
for entry in "${packages[@]}"; do
	pkg=${entry%%:*}
	cmd=${entry#*:}
	if installed "$pkg"; then
		continue
	fi
	if [[ -n $cmd ]] && command -v "$cmd" >/dev/null 2>&1; then
		continue
	fi
	missing+=("$pkg")
done

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo -n)
	else
		echo "deps.sh: need root (or sudo) to install: ${missing[*]}" >&2
		[[ ${#missing[@]} -eq 0 ]] || exit 1
	fi
fi

if [[ ${#missing[@]} -gt 0 ]]; then
	echo "deps.sh: installing Debian packages: ${missing[*]}"
	"${sudo[@]}" apt-get update </dev/null
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y "${missing[@]}" </dev/null
fi

staticcheck="$(go env GOPATH | cut -d: -f1)/bin/staticcheck"
if [[ ! -x $staticcheck ]]; then
	echo "deps.sh: installing staticcheck v0.8.2 into $staticcheck"
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

# The browser viewer (noVNC) and playwright-core, pinned by the lock file.
web="$(dirname "${BASH_SOURCE[0]}")/../viewer/web"
if [[ ! -f $web/node_modules/.package-lock.json ]] || ! cmp -s "$web/package-lock.json" "$web/node_modules/.lock-copy"; then
	echo "deps.sh: npm ci in viewer/web"
	(cd "$web" && npm ci --ignore-scripts --no-audit --no-fund && cp package-lock.json node_modules/.lock-copy)
fi

if [[ ${#missing[@]} -eq 0 && -x $staticcheck ]]; then
	echo "deps.sh: all test dependencies present"
fi
