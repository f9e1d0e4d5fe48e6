#!/bin/bash
# Cache behaviour against a fault-injecting upstream: a tag is revalidated
# with a HEAD once tag_ttl has passed and served stale (with a log line)
# when the upstream fails; a blob larger than the room left in the blob
# store streams through without being cached.
. "$(dirname "$0")/lib.sh"
e2e_init

ensure_image base
layout=$IMAGE_DIR
manifest=$(oci_manifest_digest "$layout")
layer=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${manifest#sha256:}")
start_faultserver "$layout"
F=$FAULT_URL
mode() { curl -sSf -X POST --data "$1" "$F/_mode" >/dev/null; }
hits() { curl -sSf "$F/_stats" | jq --arg p "$1" '.paths[$p] // 0'; }

port=$(pick_port)
admin=$(pick_port)
cat >"$E2E_WORK/portcullis.yaml" <<YAML
listen:
  - address: 127.0.0.1:$port
admin:
  address: 127.0.0.1:$admin
upstreams:
  - name: fault
    url: $F
cache:
  dir: $E2E_WORK/cache
  tag_ttl: 1
  max_bytes: 20MiB
YAML
start_bg px "$PORTCULLIS_BIN" serve -c "$E2E_WORK/portcullis.yaml"
wait_port "$port"
P=http://127.0.0.1:$port
OCI='Accept: application/vnd.oci.image.manifest.v1+json'
tag_path=/v2/test/img/manifests/latest

echo "tag revalidation after tag_ttl"
curl -sSf -H "$OCI" -o /dev/null "$P$tag_path"
curl -sSf -H "$OCI" -o /dev/null "$P$tag_path"
[ "$(hits "$tag_path")" = 1 ] || fail "a fresh tag was fetched again"
sleep 2
curl -sSf -H "$OCI" -o "$E2E_WORK/m" "$P$tag_path"
[ "$(hits "$tag_path")" = 2 ] || fail "a stale tag was not revalidated"
grep "ref=latest" "$E2E_WORK/px.log" | tail -1 | grep -q 'cache=hit upstream_status=200' ||
	fail "the revalidated tag was not served from the cache"
[ "$(file_digest "$E2E_WORK/m")" = "$manifest" ] || fail "revalidated manifest digest"

echo "stale tag served when the upstream fails"
mode "{\"paths\": {\"$tag_path\": {\"status\": 503}}}"
sleep 2
code=$(curl -sS -H "$OCI" -o "$E2E_WORK/m" -w '%{http_code}' "$P$tag_path")
[ "$code" = 200 ] || fail "a stale tag was not served while the upstream failed ($code)"
[ "$(file_digest "$E2E_WORK/m")" = "$manifest" ] || fail "stale manifest digest"
grep -q 'event=tag_served_stale' "$E2E_WORK/px.log" || fail "no log line for the stale tag"
grep "ref=latest" "$E2E_WORK/px.log" | tail -1 | grep -q 'cache=stale' || fail "access log lacks cache=stale"
mode "{\"paths\": {\"$tag_path\": {\"status\": 429, \"retry_after\": 30}}}"
sleep 2
code=$(curl -sS -H "$OCI" -o /dev/null -w '%{http_code}' "$P$tag_path")
[ "$code" = 200 ] || fail "a stale tag was not served while the upstream rate-limited ($code)"
mode '{}'

echo "a blob larger than the blob store streams through"
curl -sSf -o "$E2E_WORK/blob" "$P/v2/test/img/blobs/$layer"
[ "$(file_digest "$E2E_WORK/blob")" = "$layer" ] || fail "streamed-through blob digest"
stats=$(curl -sSf "http://127.0.0.1:$admin/stats")
[ "$(jq '.cache.passthrough_blobs' <<<"$stats")" -ge 1 ] || fail "the blob was not streamed through: $stats"
[ -e "$E2E_WORK/cache/blobs/sha256/${layer:7:2}/${layer#sha256:}" ] && fail "a blob over the limit was cached"
ls "$E2E_WORK/cache/tmp" | grep -q . && fail "temporary files left after a streamed-through blob"
echo "cache behaviour: ok"
