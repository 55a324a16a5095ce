#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each.
# Usage: .ci/fuzz.sh FUZZTIME    (for example 10s or 5m)
set -euo pipefail

fuzztime=${1:?usage: .ci/fuzz.sh FUZZTIME}
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# "dir name" for each `func FuzzXxx(` at the start of a line in a *_test.go
# file, skipping the directories the go tool skips (.*, _*, testdata).
targets=$(find . \( -name '.?*' -o -name '_*' -o -name testdata \) -prune -o \
	-type f -name '*_test.go' -exec grep -HoE '^func Fuzz[A-Za-z0-9_]*\(' {} + |
	sed -E 's|^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($|\1 \2|' |
	sort -u) || true

if [[ -z $targets ]]; then
	echo "fuzz: no fuzz targets found"
	exit 0
fi

n=$(wc -l <<<"$targets")
i=0
while read -r dir name; do
	i=$((i + 1))
	echo "fuzz [$i/$n]: $name in $dir for $fuzztime"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir"
done <<<"$targets"
echo "fuzz: $n target(s) passed"
