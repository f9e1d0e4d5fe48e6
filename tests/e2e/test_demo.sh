#!/bin/bash
# make demo end to end: scripts/demo.sh with the built binary exits 0,
# prints the expected decision for each image and leaves no server
# running. Also checks the shipped configuration files: conf/portcullis.yaml
# passes 'config check', conf/demo-policy.yaml passes 'policy check', and
# the table of docs/configuration.md is the current 'config reference'.
. "$(dirname "$0")/lib.sh"
e2e_init

echo "shipped configuration files are valid"
"$PORTCULLIS_BIN" config check -c "$E2E_ROOT/conf/portcullis.yaml" ||
	fail "conf/portcullis.yaml does not pass config check"
"$PORTCULLIS_BIN" policy check "$E2E_ROOT/conf/demo-policy.yaml" ||
	fail "conf/demo-policy.yaml does not pass policy check"
"$PORTCULLIS_BIN" policy check "$E2E_ROOT/conf/policy.yaml" ||
	fail "conf/policy.yaml does not pass policy check"

echo "docs/configuration.md holds the current config reference"
"$PORTCULLIS_BIN" config reference >"$E2E_WORK/reference.md"
sed -n '/<!-- config reference: begin -->/,/<!-- config reference: end -->/p' \
	"$E2E_ROOT/docs/configuration.md" | sed '1d;$d' >"$E2E_WORK/documented.md"
[ -s "$E2E_WORK/documented.md" ] || fail "docs/configuration.md has no config reference markers"
diff -u "$E2E_WORK/documented.md" "$E2E_WORK/reference.md" ||
	fail "docs/configuration.md differs from 'portcullis config reference'"

echo "every option of config reference appears in conf/portcullis.yaml"
while read -r key; do
	leaf=${key##*/}
	grep -Eq "^[ #-]*$leaf:" "$E2E_ROOT/conf/portcullis.yaml" ||
		fail "conf/portcullis.yaml does not mention $key"
done < <(sed -n 's/^| `\([^`]*\)`.*/\1/p' "$E2E_WORK/reference.md")

echo "scripts/demo.sh"
rc=0
"$E2E_ROOT/scripts/demo.sh" "$(dirname "$PORTCULLIS_BIN")" >"$E2E_WORK/demo.out" 2>&1 || rc=$?
cat "$E2E_WORK/demo.out"
[ "$rc" = 0 ] || fail "scripts/demo.sh exited with $rc"

expect_line() { # expect_line DECISION NAME
	grep -Eq "^  $1 +$2 +score " "$E2E_WORK/demo.out" ||
		fail "the demo output has no '$1 $2' line"
}
expect_line ALLOWED demo/base:1.0
expect_line DENIED demo/vuln:1.0
expect_line DENIED demo/secrets:1.0
expect_line DENIED demo/node:1.0
grep -q "second pull: cached verdict" "$E2E_WORK/demo.out" ||
	fail "the demo output does not show the cached second pull"
grep -q "DSA-6015-1" "$E2E_WORK/demo.out" || fail "the OpenSSL refusal does not name DSA-6015-1"
grep -q "secret aws-access-key-id" "$E2E_WORK/demo.out" || fail "the secrets refusal does not name the AWS key"
grep -q "GHSA-" "$E2E_WORK/demo.out" || fail "the npm refusal names no GitHub advisory"
grep -q "verdicts     1 allow, 3 deny" "$E2E_WORK/demo.out" || fail "the /stats summary has other verdict counts"
grep -q "^demo: ok" "$E2E_WORK/demo.out" || fail "the demo did not print its success line"

echo "the demo stopped every server it started"
work=$(sed -n 's/^Logs and reports: //p' "$E2E_WORK/demo.out")
[ -n "$work" ] && [ -d "$work" ] || fail "the demo did not print an existing log folder"
[ -f "$work/reports/vuln.json" ] || fail "the demo did not keep the report of the vulnerable image"
ports=$(grep -o '127\.0\.0\.1:[0-9]*' "$E2E_WORK/demo.out" | cut -d: -f2 | sort -u)
[ "$(wc -w <<<"$ports")" -ge 4 ] || fail "the demo output names fewer than 4 server ports: $ports"
for port in $ports; do
	if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
		fail "something still listens on 127.0.0.1:$port after the demo"
	fi
done
if pgrep -f "$work" >/dev/null; then
	pgrep -af "$work"
	fail "processes of the demo are still running"
fi
rm -rf "$work"
echo "demo: ok"
