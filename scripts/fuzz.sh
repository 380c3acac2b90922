#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 5s).
# Usage: scripts/fuzz.sh [FUZZTIME]
set -euo pipefail
fuzztime=${1:-${FUZZTIME:-5s}}
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
	dir=$(dirname "$file")
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		echo "fuzz ./$dir $target for $fuzztime"
		if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "./$dir"; then
			status=1
		fi
	done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | sed 's|^\./||' | sort)
exit $status
