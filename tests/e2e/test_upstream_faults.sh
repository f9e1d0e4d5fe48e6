#!/bin/bash
# Upstream faults, injected by tests/e2e/faultserver.py in front of a real
# image: a body cut mid-blob, a client that leaves mid-blob, 429 and 503,
# a 307 redirect to a host that rejects Authorization, bytes that do not
# match the digest, and 20 concurrent cold GETs of one blob.
. "$(dirname "$0")/lib.sh"
e2e_init

ensure_image base
layout=$IMAGE_DIR
manifest=$(oci_manifest_digest "$layout")
layer=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${manifest#sha256:}")
layer_file=$layout/blobs/sha256/${layer#sha256:}
size=$(stat -c %s "$layer_file")
blob_path=/v2/test/img/blobs/$layer

start_faultserver "$layout"
F=$FAULT_URL
mode() { curl -sSf -X POST --data "$1" "$F/_mode" >/dev/null; }
upstream_gets() {
	curl -sSf "$F/_stats" | jq --arg p "$1" '.paths[$p] // 0'
}

start_portcullis px --upstream "$F"
P=http://127.0.0.1:$px_PORT
cache=$E2E_WORK/px-cache
stored() { [ -e "$cache/blobs/sha256/${layer:7:2}/${layer#sha256:}" ]; }
stat_of() { curl -sSf "http://127.0.0.1:$px_ADMIN/stats" | jq "$1"; }

echo "upstream cut mid-blob"
mode "{\"paths\": {\"$blob_path\": {\"cut_after\": 1000000}}}"
if curl -sS -o "$E2E_WORK/cut" "$P$blob_path" 2>"$E2E_WORK/cut.err"; then
	fail "a cut upstream body reached the client as a complete response"
fi
got=$(stat -c %s "$E2E_WORK/cut" 2>/dev/null || echo 0)
[ "$got" -lt "$size" ] || fail "client received $got of $size bytes of a cut blob"
sleep 0.5
stored && fail "a cut blob was committed to the cache"
ls "$cache/tmp" | grep -q . && fail "temporary files left after a cut blob"
mode '{}'
curl -sSf -o "$E2E_WORK/full" "$P$blob_path"
[ "$(file_digest "$E2E_WORK/full")" = "$layer" ] || fail "the pull after a cut is wrong"
stored || fail "the blob was not cached after a good pull"

echo "client gone mid-blob"
config=$(jq -r '.config.digest' "$layout/blobs/sha256/${manifest#sha256:}")
other=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${manifest#sha256:}")
rm -rf "$cache/blobs"/*/*/"${layer#sha256:}" 2>/dev/null || true
# Restart with an empty cache, then slow the upstream down and leave early.
kill "$px_PID"; wait "$px_PID" 2>/dev/null || true
rm -rf "$cache"
start_portcullis px --upstream "$F"
P=http://127.0.0.1:$px_PORT
mode "{\"paths\": {\"$blob_path\": {\"stall_after\": 2000000, \"stall_seconds\": 2}}}"
curl -sS --max-time 1 -o /dev/null "$P$blob_path" 2>/dev/null && fail "the slow pull should have timed out"
for _ in $(seq 60); do stored && break; sleep 0.2; done
stored || fail "the blob was not cached after its client left"
curl -sSf -o "$E2E_WORK/full" "$P$blob_path"
[ "$(file_digest "$E2E_WORK/full")" = "$layer" ] || fail "the pull after a client left is wrong"
mode '{}'

echo "429 and 503"
mode "{\"paths\": {\"/v2/test/img/manifests/latest\": {\"status\": 429, \"retry_after\": 17}}}"
code=$(curl -sS -D "$E2E_WORK/h" -o "$E2E_WORK/e.json" -w '%{http_code}' "$P/v2/test/img/manifests/latest")
[ "$code" = 429 ] || fail "upstream 429 became $code"
jq -e '.errors[0].code == "TOOMANYREQUESTS"' "$E2E_WORK/e.json" >/dev/null || fail "429 code"
tr -d '\r' <"$E2E_WORK/h" | grep -qi '^retry-after: 17$' || fail "Retry-After not passed on"
mode "{\"paths\": {\"/v2/test/img/manifests/latest\": {\"status\": 503}}}"
code=$(curl -sS -o "$E2E_WORK/e.json" -w '%{http_code}' "$P/v2/test/img/manifests/latest")
[ "$code" = 503 ] || fail "upstream 503 became $code"
jq -e '.errors[0].code == "UNAVAILABLE"' "$E2E_WORK/e.json" >/dev/null || fail "503 code"
mode "{\"paths\": {\"/v2/test/img/blobs/$config\": {\"status\": 502}}}"
code=$(curl -sS -o "$E2E_WORK/e.json" -w '%{http_code}' "$P/v2/test/img/blobs/$config")
[ "$code" = 503 ] || fail "upstream 502 on a blob became $code"
mode '{}'

echo "redirect to a host that rejects Authorization"
kill "$px_PID"; wait "$px_PID" 2>/dev/null || true
rm -rf "$cache"
mode '{"auth": "bearer", "redirect": true}'
start_portcullis px --upstream "$F"
P=http://127.0.0.1:$px_PORT
curl -sSf -o "$E2E_WORK/full" "$P$blob_path" || fail "redirected blob pull failed"
[ "$(file_digest "$E2E_WORK/full")" = "$layer" ] || fail "redirected blob digest"
[ "$(curl -sSf "$F/_stats" | jq '.redirect_rejected')" = 0 ] ||
	fail "Authorization was sent to the redirect target"
[ "$(curl -sSf "$F/_stats" | jq '.token_requests')" -ge 1 ] || fail "no token was fetched"
stored || fail "the redirected blob was not cached by its digest"
mode '{}'

echo "digest mismatch"
mode "{\"paths\": {\"/v2/test/img/blobs/$config\": {\"corrupt\": true}}}"
if curl -sS -o "$E2E_WORK/bad" "$P/v2/test/img/blobs/$config" 2>/dev/null; then
	fail "a blob that does not match its digest was served as complete"
fi
[ "$(stat -c %s "$E2E_WORK/bad" 2>/dev/null || echo 0)" -lt "$(stat -c %s "$layout/blobs/sha256/${config#sha256:}")" ] ||
	fail "the client received every byte of a corrupt blob"
[ "$(stat_of '.cache.digest_mismatches')" -ge 1 ] || fail "mismatch not counted"
[ -e "$cache/blobs/sha256/${config:7:2}/${config#sha256:}" ] && fail "a corrupt blob was committed"
mode '{}'
curl -sSf -o "$E2E_WORK/cfg" "$P/v2/test/img/blobs/$config"
[ "$(file_digest "$E2E_WORK/cfg")" = "$config" ] || fail "the pull after a mismatch is wrong"

echo "20 concurrent cold GETs"
kill "$px_PID"; wait "$px_PID" 2>/dev/null || true
rm -rf "$cache"
start_portcullis px --upstream "$F"
P=http://127.0.0.1:$px_PORT
curl -sSf -X POST "$F/_reset" >/dev/null
mode "{\"paths\": {\"$blob_path\": {\"stall_after\": 4000000, \"stall_seconds\": 2}}}"
pids=()
for i in $(seq 20); do
	curl -sS -o "$E2E_WORK/c$i" "$P$blob_path" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent GET failed"; done
for i in $(seq 20); do
	[ "$(file_digest "$E2E_WORK/c$i")" = "$layer" ] || fail "concurrent body $i is wrong"
done
n=$(upstream_gets "$blob_path")
[ "$n" = 1 ] || fail "20 concurrent GETs made $n upstream GETs"
[ "$(stat_of '.cache.blob_coalesced')" -ge 1 ] || fail "no request joined the download"
echo "upstream faults: ok"
