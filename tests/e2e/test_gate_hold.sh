#!/bin/bash
# An image whose scan takes longer than manifest_wait: with unscanned:
# hold the manifest is served, the blobs stream without their last byte,
# and the refusal that follows aborts them, so the client's pull fails
# and its retry gets the 403 DENIED.
. "$(dirname "$0")/lib.sh"
e2e_init

ensure_image vuln
layout=$IMAGE_DIR
manifest=$(oci_manifest_digest "$layout")
top=$(jq -r '.layers[-1].digest' "$layout/blobs/sha256/${manifest#sha256:}")

start_faultserver "$layout"
F=$FAULT_URL
# The top layer (OpenSSL) stalls for 4 s: longer than manifest_wait.
curl -sSf -X POST --data "{\"paths\": {\"/v2/library/app/blobs/$top\": {\"stall_after\": 100000, \"stall_seconds\": 4}}}" \
	"$F/_mode" >/dev/null

"$PORTCULLIS_BIN" db import --out "$E2E_WORK/vulndb" "$E2E_ROOT/tests/data/osv/debian" >/dev/null
sed 's/^unscanned: hold$/unscanned: hold\nmanifest_wait: 1/' "$E2E_HERE/data/policy-strict.yaml" \
	>"$E2E_WORK/policy.yaml"
grep -q '^manifest_wait: 1' "$E2E_WORK/policy.yaml" || fail "could not set manifest_wait"
start_portcullis px --upstream "docker.io=$F" --policy "$E2E_WORK/policy.yaml" \
	--db "$E2E_WORK/vulndb"
P=127.0.0.1:$px_PORT

start=$(date +%s)
if skopeo copy -q --src-tls-verify=false "docker://$P/library/app:latest" \
	"oci:$E2E_WORK/out:x" >"$E2E_WORK/pull.out" 2>&1; then
	fail "the held image was pulled completely"
fi
cat "$E2E_WORK/pull.out"
grep -q 'event=manifest_wait_expired.*unscanned=hold' "$E2E_WORK/px.log" ||
	fail "the manifest was not held past manifest_wait"
grep -q 'verdict=hold' "$E2E_WORK/px.log" || fail "the held manifest was not served"
grep -q 'event=blob_stream_aborted' "$E2E_WORK/px.log" || fail "no blob stream was aborted on deny"
grep -q 'event=verdict .*decision=deny' "$E2E_WORK/px.log" || fail "no deny verdict"

# The retry gets the clear refusal.
if skopeo copy -q --src-tls-verify=false "docker://$P/library/app:latest" \
	"oci:$E2E_WORK/out2:x" >"$E2E_WORK/pull2.out" 2>&1; then
	fail "the refused image was pulled on retry"
fi
grep -q "denied by policy" "$E2E_WORK/pull2.out" || fail "the retry did not get the policy message"
echo "held, then refused: ok ($(( $(date +%s) - start ))s)"
