#!/bin/bash
# The policy's audit mode and its unscanned answers: audit lets a failing
# image through and records the would-be refusal; unscanned: deny answers
# 403 while the scan runs past manifest_wait, unscanned: allow lets the
# image through unscanned, and both leave the real verdict for later.
. "$(dirname "$0")/lib.sh"
e2e_init

ensure_image vuln
layout=$IMAGE_DIR
manifest=$(oci_manifest_digest "$layout")
top=$(jq -r '.layers[-1].digest' "$layout/blobs/sha256/${manifest#sha256:}")
start_faultserver "$layout"
F=$FAULT_URL
"$PORTCULLIS_BIN" db import --out "$E2E_WORK/vulndb" "$E2E_ROOT/tests/data/osv/debian" >/dev/null
OCI='Accept: application/vnd.oci.image.manifest.v1+json'

# run NAME POLICY_SED: starts portcullis NAME with the strict policy edited by POLICY_SED.
run() {
	sed "$2" "$E2E_HERE/data/policy-strict.yaml" >"$E2E_WORK/$1.yaml"
	start_portcullis "$1" --upstream "docker.io=$F" --policy "$E2E_WORK/$1.yaml" \
		--db "$E2E_WORK/vulndb"
}
stall() {
	curl -sSf -X POST --data "{\"paths\": {\"/v2/library/app/blobs/$top\": {\"stall_after\": 100000, \"stall_seconds\": $1}}}" \
		"$F/_mode" >/dev/null
}

echo "audit mode"
run audit 's/^mode: enforce$/mode: audit/'
skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$audit_PORT/library/app:latest" \
	"oci:$E2E_WORK/out:x" || fail "audit mode refused the image"
grep -q 'event=audit_deny' "$E2E_WORK/audit.log" || fail "audit mode did not log the would-be refusal"
grep -q 'verdict=audit' "$E2E_WORK/audit.log" || fail "the access log lacks verdict=audit"
[ "$(curl -sSf "http://127.0.0.1:$audit_ADMIN/stats" | jq '.gate.audit_denies')" = 1 ] ||
	fail "the would-be refusal was not counted"

echo "unscanned: deny"
stall 3
run deny 's/^unscanned: hold$/unscanned: deny\nmanifest_wait: 1/'
code=$(curl -sS -H "$OCI" -o "$E2E_WORK/e.json" -w '%{http_code}' \
	"http://127.0.0.1:$deny_PORT/v2/library/app/manifests/latest")
[ "$code" = 403 ] || fail "unscanned: deny answered $code while scanning"
jq -r '.errors[0].message' "$E2E_WORK/e.json" | grep -q "scan in progress" || fail "no scan-in-progress message"
for _ in $(seq 100); do grep -q 'event=verdict' "$E2E_WORK/deny.log" && break; sleep 0.1; done
code=$(curl -sS -H "$OCI" -o "$E2E_WORK/e.json" -w '%{http_code}' \
	"http://127.0.0.1:$deny_PORT/v2/library/app/manifests/latest")
[ "$code" = 403 ] && jq -r '.errors[0].message' "$E2E_WORK/e.json" | grep -q "denied by policy" ||
	fail "the verdict after the scan was not served ($code)"

echo "unscanned: allow"
stall 3
run allow 's/^unscanned: hold$/unscanned: allow\nmanifest_wait: 1/'
code=$(curl -sS -H "$OCI" -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$allow_PORT/v2/library/app/manifests/latest")
[ "$code" = 200 ] || fail "unscanned: allow answered $code"
grep -q 'verdict=unscanned' "$E2E_WORK/allow.log" || fail "the access log lacks verdict=unscanned"
echo "gate modes: ok"
