#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 5s).
# Usage: scripts/fuzz.sh [FUZZTIME]
#
# When the fuzz time ends while a worker is still inside a slow input, go test can report
# "context deadline exceeded" without any failing input. Such a run is repeated up to twice;
# a failure with a failing input, or a third such failure, fails the script.
set -euo pipefail
fuzztime=${1:-${FUZZTIME:-5s}}
cd "$(dirname "$0")/.."
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_target() {
	go test -run='^$' -fuzz="^$2\$" -fuzztime="$fuzztime" "./$1" 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

while IFS= read -r file; do
	dir=$(dirname "$file")
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		echo "fuzz ./$dir $target for $fuzztime"
		if run_target "$dir" "$target"; then
			continue
		fi
		passed=false
		for retry in 1 2; do
			if ! grep -q 'context deadline exceeded' "$log" || grep -q 'Failing input' "$log"; then
				break
			fi
			echo "fuzz ./$dir $target stopped on the time limit without a failing input; retry $retry"
			if run_target "$dir" "$target"; then
				passed=true
				break
			fi
		done
		if [ "$passed" = true ]; then
			continue
		fi
		status=1
	done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | sed 's|^\./||' | sort)
exit $status
