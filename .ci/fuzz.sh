#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each.
# Usage: .ci/fuzz.sh FUZZTIME    (for example 10s or 5m)
set -euo pipefail
shopt -s nullglob

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

# Go 1.26's fuzz coordinator can end a duration-bound run with a bare
# "context deadline exceeded" and no failing input (golang/go#75804, fixed
# in Go 1.27): the deadline races a worker's last call. A run that fails so
# and wrote no new input under testdata/fuzz is run once more; any other
# failure, or the same one twice, fails.
inputs() {
	local files=("$1"/*)
	echo "${#files[@]}"
}

fuzz_one() {
	local dir=$1 name=$2 corpus="$1/testdata/fuzz/$2" log before attempt
	log=$(mktemp)
	for attempt in 1 2; do
		before=$(inputs "$corpus")
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir" 2>&1 | tee "$log"; then
			rm -f "$log"
			return 0
		fi
		if [[ $attempt == 1 && $(inputs "$corpus") == "$before" ]] &&
			grep -qx '    context deadline exceeded' "$log" &&
			! grep -q -e '^panic:' -e 'Failing input written' "$log"; then
			echo "fuzz: $name stopped on Go's fuzztime deadline race (golang/go#75804) with no failing input; running it once more"
			continue
		fi
		rm -f "$log"
		return 1
	done
	rm -f "$log"
	return 1
}

n=$(wc -l <<<"$targets")
i=0
while read -r dir name; do
	i=$((i + 1))
	echo "fuzz [$i/$n]: $name in $dir for $fuzztime"
	fuzz_one "$dir" "$name"
done <<<"$targets"
echo "fuzz: $n target(s) passed"
