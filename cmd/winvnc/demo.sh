#!/usr/bin/env bash
# make demo: a whole Lifebuoy session on one headless machine.
#
# Starts Xvfb on a free display with a small desktop (an xterm and a
# clock), a broker on loopback with a throw-away data directory, and the
# agent sharing that display. The agent runs in the foreground: its
# terminal UI takes commands (help, control on, end, ...). Ctrl-C or "end"
# stops everything and removes the temporary directory.
#
# Environment: DEMO_PORT (default 5510) is the broker's agent port; the
# viewer port is DEMO_PORT+1. DEMO_SIZE (default 1024x768) is the screen.
set -euo pipefail

cd "$(dirname "$0")/../.."
port=${DEMO_PORT:-5510}
size=${DEMO_SIZE:-1024x768}
viewer_port=$((port + 1))

for cmd in Xvfb xterm xclock go; do
	command -v "$cmd" >/dev/null || { echo "demo: $cmd is missing (make deps installs the X tools)" >&2; exit 1; }
done

tmp=$(mktemp -d -t lifebuoy-demo.XXXXXX)
pids=()
cleanup() {
	trap - EXIT INT TERM
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
	echo "demo: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: building the broker and the agent"
go build -o "$tmp/lifebuoy-broker" ./cmd/lifebuoy-broker
go build -o "$tmp/winvnc" ./cmd/winvnc

# Xvfb picks a free display itself and writes its number to fd 3.
Xvfb -displayfd 3 -screen 0 "${size}x24" -nolisten tcp -noreset 3>"$tmp/display" 2>"$tmp/xvfb.log" &
pids+=($!)
for _ in $(seq 100); do
	[[ -s $tmp/display ]] && break
	sleep 0.1
done
[[ -s $tmp/display ]] || { echo "demo: Xvfb did not start:" >&2; cat "$tmp/xvfb.log" >&2; exit 1; }
display=":$(tr -d '[:space:]' <"$tmp/display")"
echo "demo: desktop on DISPLAY=$display ($size)"

DISPLAY=$display xterm -geometry 80x24+40+40 -T "customer's terminal" >/dev/null 2>&1 &
pids+=($!)
DISPLAY=$display xclock -geometry 200x200+700+60 -update 1 >/dev/null 2>&1 &
pids+=($!)

"$tmp/lifebuoy-broker" -data "$tmp/broker" \
	-agent-listen "127.0.0.1:$port" -viewer-listen "127.0.0.1:$viewer_port" \
	-repeater-listen "127.0.0.1:$((port + 4))" -admin-listen "127.0.0.1:$((port + 5))" \
	>"$tmp/broker.out" 2>"$tmp/broker.log" &
pids+=($!)
fingerprint=
for _ in $(seq 100); do
	fingerprint=$(sed -n 's/^fingerprint sha256=//p' "$tmp/broker.out")
	[[ -n $fingerprint ]] && break
	kill -0 "${pids[-1]}" 2>/dev/null || break
	sleep 0.1
done
[[ -n $fingerprint ]] || { echo "demo: the broker did not start:" >&2; cat "$tmp/broker.log" >&2; exit 1; }
echo "demo: broker on 127.0.0.1:$port (agents) and 127.0.0.1:$viewer_port (viewers), fingerprint $fingerprint"
echo "demo: starting the agent; type \"help\" for its commands"

# The agent in the foreground, its output copied line by line so that the
# code can be turned into the viewer's command line.
"$tmp/winvnc" -display "$display" -broker "127.0.0.1:$port" -fingerprint "$fingerprint" -proxy direct |
	while IFS= read -r line; do
		printf '%s\n' "$line"
		if [[ -z ${code:-} && $line =~ ^code\ ([0-9]+)$ ]]; then
			code=${BASH_REMATCH[1]}
			cat <<MSG

  Attach a viewer with the code as the VNC password:

      vncviewer -SecurityTypes=VncAuth 127.0.0.1::$viewer_port

  and type $code at its password prompt. Or without a prompt:

      printf '%s\n' $code | vncpasswd -f > /tmp/code.passwd
      vncviewer -SecurityTypes=VncAuth -passwd /tmp/code.passwd 127.0.0.1::$viewer_port

  Then answer y here. "control on" lets the viewer type and click; F12 on
  the shared desktop (or "control off") takes control back. "end" quits.

MSG
		fi
	done
