#!/bin/sh
# Runs each unit test program given after the build folder and prints one
# summary line in the form "N passed, N failed".
set -u
build=$1
shift
passed=0
failed=0
failed_names=""
for t in "$@"; do
	name=$(basename "$t")
	if "$t" >"$build/tests/$name.log" 2>&1; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		failed_names="$failed_names $name"
		echo "FAIL $name"
		sed 's/^/    /' "$build/tests/$name.log" | tail -40
	fi
done
[ -n "$failed_names" ] && echo "unit: failed:$failed_names"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
