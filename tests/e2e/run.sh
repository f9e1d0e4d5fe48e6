#!/bin/bash
# Runs every tests/e2e/test_*.sh against the portcullis binary in the build
# folder given as $1. A script passes with exit 0, is skipped with exit 77
# and fails otherwise. Prints one summary line "N passed, N failed".
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
export PORTCULLIS_BIN="$build/portcullis"
export PORTCULLIS_BUILD="$build"
logdir="$build/e2e-logs"
mkdir -p "$logdir"

passed=0
failed=0
skipped=0
failed_names=""
only=${E2E_ONLY:-}
for t in "$here"/test_*.sh; do
	name=$(basename "$t" .sh)
	if [ -n "$only" ] && [[ "$name" != *$only* ]]; then
		continue
	fi
	start=$(date +%s)
	bash "$t" >"$logdir/$name.log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $name (${took}s)"
	elif [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "skip $name: $(tail -1 "$logdir/$name.log")"
	else
		failed=$((failed + 1))
		failed_names="$failed_names $name"
		echo "FAIL $name (exit $rc, ${took}s)"
		tail -60 "$logdir/$name.log" | sed 's/^/    /'
	fi
done
[ -n "$failed_names" ] && echo "e2e: failed:$failed_names"
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
