#!/bin/bash
# Configuration checking with file:line errors, SIGHUP reload while a
# download is in flight, and SIGTERM draining requests in flight.
. "$(dirname "$0")/lib.sh"
e2e_init

echo "config check"
cat >"$E2E_WORK/bad.yaml" <<'YAML'
listen:
  - address: 127.0.0.1:5000
upstreams:
  - url: https://registry.example
cache:
  dir: /tmp/x
  max_byte: 10GiB
  tag_ttl: soon
scan:
  workers: 1000
log:
  level: loud
YAML
if "$PORTCULLIS_BIN" config check -c "$E2E_WORK/bad.yaml" >"$E2E_WORK/check.out"; then
	fail "config check accepted a bad file"
fi
cat "$E2E_WORK/check.out"
grep -q "bad.yaml:7: unknown key 'cache/max_byte'; did you mean 'max_bytes'?" "$E2E_WORK/check.out" ||
	fail "no suggestion for cache/max_byte"
grep -q "bad.yaml:8: cache/tag_ttl: invalid duration" "$E2E_WORK/check.out" || fail "bad duration not reported"
grep -q "bad.yaml:10: scan/workers: 1000 is out of range" "$E2E_WORK/check.out" || fail "bound not reported"
grep -q 'log level "loud"' "$E2E_WORK/check.out" || fail "bad log level not reported"
printf 'listen: [\n' >"$E2E_WORK/broken.yaml"
"$PORTCULLIS_BIN" config check -c "$E2E_WORK/broken.yaml" >"$E2E_WORK/check.out" && fail "broken YAML accepted"
grep -q "broken.yaml:[0-9]*: invalid YAML" "$E2E_WORK/check.out" || fail "YAML syntax error without line"
"$PORTCULLIS_BIN" serve -c "$E2E_WORK/bad.yaml" 2>"$E2E_WORK/serve.err" && fail "serve started with a bad file"
grep -q "max_bytes" "$E2E_WORK/serve.err" || fail "serve did not explain the bad file"

ensure_image base
layout=$IMAGE_DIR
manifest=$(oci_manifest_digest "$layout")
layer=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${manifest#sha256:}")
blob_path=/v2/test/img/blobs/$layer
start_faultserver "$layout"
F=$FAULT_URL
curl -sSf -X POST --data "{\"paths\": {\"$blob_path\": {\"stall_after\": 3000000, \"stall_seconds\": 3}}}" \
	"$F/_mode" >/dev/null

port=$(pick_port)
admin=$(pick_port)
cat >"$E2E_WORK/good.yaml" <<YAML
listen:
  - address: 127.0.0.1:$port
admin:
  address: 127.0.0.1:$admin
upstreams:
  - name: test
    url: $F
cache:
  dir: $E2E_WORK/cache
log:
  level: info
YAML
"$PORTCULLIS_BIN" config check -c "$E2E_WORK/good.yaml" | grep -q ': ok$' || fail "good file rejected"
start_bg px "$PORTCULLIS_BIN" serve -c "$E2E_WORK/good.yaml"
wait_port "$port"
P=http://127.0.0.1:$port

echo "SIGHUP during a download"
curl -sS -o "$E2E_WORK/during-hup" "$P$blob_path" &
dl=$!
sleep 1
sed -i 's/level: info/level: debug/' "$E2E_WORK/good.yaml"
kill -HUP "$px_PID"
wait "$dl" || fail "the download in flight failed across SIGHUP"
[ "$(file_digest "$E2E_WORK/during-hup")" = "$layer" ] || fail "download across SIGHUP is wrong"
[ "$(curl -sSf "http://127.0.0.1:$admin/stats" | jq '.config.reloads')" = 1 ] || fail "reload not counted"
grep -q 'event=reloaded' "$E2E_WORK/px.log" || fail "no reload log line"
kill -0 "$px_PID" || fail "portcullis died on SIGHUP"

echo "SIGTERM drains requests in flight"
rm -rf "$E2E_WORK/cache/blobs"
kill "$px_PID"; wait "$px_PID" || true
start_bg px "$PORTCULLIS_BIN" serve -c "$E2E_WORK/good.yaml"
wait_port "$port"
curl -sS -o "$E2E_WORK/during-term" "$P$blob_path" &
dl=$!
sleep 1
kill -TERM "$px_PID"
sleep 0.3
if curl -sS -o /dev/null --max-time 2 "$P/v2/" 2>/dev/null; then
	fail "a new request was served while draining"
fi
wait "$dl" || fail "the download in flight was cut by SIGTERM"
[ "$(file_digest "$E2E_WORK/during-term")" = "$layer" ] || fail "drained download is wrong"
wait "$px_PID"
rc=$?
[ "$rc" = 0 ] || fail "portcullis exited with $rc after SIGTERM"
grep -q 'event=stopped' "$E2E_WORK/px.log" || fail "no stop log line"
echo "serve lifecycle: ok"
