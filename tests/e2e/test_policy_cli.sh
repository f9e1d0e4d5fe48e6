#!/bin/bash
# 'portcullis policy check' on valid and invalid policy files: exit status,
# one "file:line: message" per problem, and key suggestions.
set -u

bin=${PORTCULLIS_BIN:?PORTCULLIS_BIN must point at the portcullis binary}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# Runs the check on $1 and stores stdout in $out and the status in $rc.
check() {
	out=$("$bin" policy check "$1" 2>"$work/stderr")
	rc=$?
}

expect_line() {
	if ! grep -qxF -- "$1" <<<"$out"; then
		fail "missing line: $1"
		echo "output was:"
		echo "$out"
	fi
}

# The documented example policy is valid.
check "$here/../../conf/policy.yaml"
[ "$rc" -eq 0 ] || fail "conf/policy.yaml: exit $rc, expected 0: $out"
grep -q ': ok (sha256:[0-9a-f]\{64\})$' <<<"$out" ||
	fail "conf/policy.yaml: no ok line: $out"

cat >"$work/good.yaml" <<'YAML'
threshold: 80
rules:
  vulnerabilities: {weight: 2, only_fixed: true}
  secrets: {block: true}
exceptions:
  - {id: CVE-2024-0001, reason: "vendor patched", expires: 2030-01-01}
YAML
check "$work/good.yaml"
[ "$rc" -eq 0 ] || fail "good.yaml: exit $rc, expected 0: $out"

# The same policy with its keys in another order hashes the same.
cat >"$work/reordered.yaml" <<'YAML'
rules:
  secrets: {block: true, weight: 1}
  vulnerabilities: {only_fixed: true, weight: 2.0}
exceptions:
  - {reason: "vendor patched", expires: 2030-01-01, id: CVE-2024-0001}
threshold: 80.0
YAML
good_out=$("$bin" policy check "$work/good.yaml" | sed 's/.*(//')
reordered_out=$("$bin" policy check "$work/reordered.yaml" | sed 's/.*(//')
[ "$good_out" = "$reordered_out" ] ||
	fail "hash differs across key order: $good_out vs $reordered_out"

cat >"$work/bad.yaml" <<'YAML'
treshold: 70
mode: strict
rules:
  vulnerabilties: {weight: 1}
  secrets:
    wieght: 2
  max_image_age: {days: soon}
exceptions:
  - id: CVE-2024-0001
    expires: 2024-02-30
YAML
check "$work/bad.yaml"
[ "$rc" -eq 2 ] || fail "bad.yaml: exit $rc, expected 2"
f="$work/bad.yaml"
expect_line "$f:1: unknown key 'treshold'; did you mean 'threshold'?"
expect_line "$f:2: mode: expected enforce or audit"
expect_line "$f:4: unknown rule 'vulnerabilties'; did you mean 'vulnerabilities'?"
expect_line "$f:6: unknown setting 'wieght'; did you mean 'weight'?"
expect_line "$f:7: days: expected a whole number of days from 0 to 100000"
expect_line "$f:9: exception: missing required 'reason'"
expect_line "$f:10: expires: expected a date YYYY-MM-DD or an RFC 3339 time, got '2024-02-30'"
expect_line "$f: 7 problems"

# YAML syntax errors are problems with a line too.
printf 'rules:\n  secrets: {block: true\n' >"$work/syntax.yaml"
check "$work/syntax.yaml"
[ "$rc" -eq 2 ] || fail "syntax.yaml: exit $rc, expected 2"
grep -q "^$work/syntax.yaml:[0-9]*: " <<<"$out" ||
	fail "syntax.yaml: no file:line problem: $out"

check "$work/missing.yaml"
[ "$rc" -eq 2 ] || fail "missing file: exit $rc, expected 2"

"$bin" policy >/dev/null 2>&1
[ $? -eq 2 ] || fail "no arguments: expected exit 2"
"$bin" policy check >/dev/null 2>&1
[ $? -eq 2 ] || fail "check without FILE: expected exit 2"

if [ "$failures" -gt 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "policy check: all cases passed"
