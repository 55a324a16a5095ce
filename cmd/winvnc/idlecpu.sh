#!/usr/bin/env bash
# idlecpu.sh: the agent's CPU while it waits with its window open, beside
# the same agent with the terminal UI only, interleaved, on Xvfb. It reads
# utime+stime from /proc over SECONDS (default 30) per run, ROUNDS rounds
# (default 3), and prints each run and the medians in % of one core.
#   bash cmd/winvnc/idlecpu.sh [SECONDS] [ROUNDS]
set -euo pipefail
secs=${1:-30}
rounds=${2:-3}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -o "$tmp/winvnc" ./cmd/winvnc
printf 'secret\n' >"$tmp/pw"
Xvfb -displayfd 3 -screen 0 1920x1080x24 -nolisten tcp 3>"$tmp/display" 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/display" ] && break; sleep 0.1; done
display=":$(cat "$tmp/display")"
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
run() { # ui → % of a core
	mkfifo "$tmp/in.$1"
	"$tmp/winvnc" -listen 127.0.0.1:0 -password-file "$tmp/pw" -display "$display" -ui "$1" <"$tmp/in.$1" >/dev/null 2>&1 &
	local pid=$!
	exec {fd}>"$tmp/in.$1"
	sleep 3 # started, window drawn
	local a b
	a=$(cpu "$pid")
	sleep "$secs"
	b=$(cpu "$pid")
	echo end >&"$fd"
	exec {fd}>&-
	wait "$pid" || true
	rm -f "$tmp/in.$1"
	awk -v d=$((b - a)) -v t="$tick" -v s="$secs" 'BEGIN{printf "%.3f\n", 100*d/t/s}'
}
declare -A all
for r in $(seq "$rounds"); do
	for ui in window terminal; do
		v=$(run "$ui")
		echo "round $r -ui $ui: $v % of a core"
		all[$ui]+="$v "
	done
done
for ui in window terminal; do
	echo "median -ui $ui: $(echo ${all[$ui]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}') % of a core"
done
