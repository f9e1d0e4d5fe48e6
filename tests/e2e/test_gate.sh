#!/bin/bash
# The gate end to end with real redis-server and docker-registry. A clean
# image passes and a vulnerable one is refused, through skopeo and
# containerd. Verdicts live in Redis and are reused, and a second image on
# the same base scans only its new layer. A policy change flips a decision
# without upstream requests, pulls go on while Redis is down, and two
# replicas sharing one Redis scan a new image once.
. "$(dirname "$0")/lib.sh"
e2e_init

start_registry up
seed_image base up library/debian:bookworm
seed_image vuln up library/debian:vuln
seed_image secrets up library/debian:secrets
seed_image node up library/debian:node
start_redis rd
"$PORTCULLIS_BIN" db import --out "$E2E_WORK/vulndb" "$E2E_ROOT/tests/data/osv" >/dev/null
cp "$E2E_HERE/data/policy-strict.yaml" "$E2E_WORK/policy.yaml"
REDIS_URL="redis://127.0.0.1:$rd_PORT"
start_portcullis px --upstream "docker.io=http://127.0.0.1:$up_PORT" \
	--policy "$E2E_WORK/policy.yaml" --db "$E2E_WORK/vulndb" --redis "$REDIS_URL"
P=127.0.0.1:$px_PORT
A=http://127.0.0.1:$px_ADMIN
stat_of() { curl -sSf "$A/stats" | jq "$1"; }
pull() { # pull NAME:TAG DEST -> skopeo's exit status, output in $E2E_WORK/pull.out
	rm -rf "$E2E_WORK/$2"
	skopeo copy -q --src-tls-verify=false "docker://$P/library/debian:$1" \
		"oci:$E2E_WORK/$2:x" >"$E2E_WORK/pull.out" 2>&1
}
digest_of() { jq -r '.manifests[0].digest' "$E2E_CACHE/oci/$1/index.json"; }

echo "clean image passes, vulnerable image is refused (skopeo)"
pull bookworm clean || { cat "$E2E_WORK/pull.out"; fail "the clean image was refused"; }
if pull vuln bad; then
	fail "the vulnerable image was pulled"
fi
cat "$E2E_WORK/pull.out"
grep -q "denied by policy" "$E2E_WORK/pull.out" || fail "skopeo did not show the policy message"
grep -q "DSA-6015-1" "$E2E_WORK/pull.out" || fail "the refusal does not name the worst advisory"
code=$(curl -sS -o "$E2E_WORK/e.json" -w '%{http_code}' \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$P/v2/library/debian/manifests/vuln")
[ "$code" = 403 ] || fail "refused manifest gives $code"
jq -e '.errors[0].code == "DENIED"' "$E2E_WORK/e.json" >/dev/null || fail "refusal code"
jq -r '.errors[0].message' "$E2E_WORK/e.json" | grep -q "score .* < threshold 80" ||
	fail "the refusal does not give the score and threshold"
code=$(curl -sS -o /dev/null -w '%{http_code}' -I \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$P/v2/library/debian/manifests/vuln")
[ "$code" = 403 ] || fail "HEAD of a refused manifest gives $code"

echo "verdicts in Redis, reused without a scan"
vd=$(digest_of vuln)
redis-cli -p "$rd_PORT" --scan --pattern "portcullis:verdict:$vd:*" | grep -q . ||
	fail "no verdict for $vd in Redis"
redis-cli -p "$rd_PORT" --scan --pattern "portcullis:layer:*" | grep -q . || fail "no layer results in Redis"
scans=$(stat_of '.gate.scans')
pull bookworm clean2 || fail "second pull of the clean image failed"
[ "$(stat_of '.gate.scans')" = "$scans" ] || fail "a cached verdict was scanned again"
curl -sSf "$A/reports/$vd" | jq -e '.verdict.decision == "deny" and (.report.vulnerabilities | length) > 0' \
	>/dev/null || fail "report of the refused image"
curl -sSf "$A/verdicts?decision=deny" | jq -e --arg d "$vd" 'map(.digest) | index($d) != null' \
	>/dev/null || fail "/verdicts does not list the refusal"
curl -sSf "$A/metrics" | grep -q '^portcullis_gate_scans ' || fail "/metrics lacks the scan counter"
[ "$(stat_of '.gate.db_age_seconds')" -ge 0 ] || fail "/stats lacks the age of the database"

echo "a second image on the same base scans only its new layer"
reused=$(stat_of '.gate.layers_reused')
scanned=$(stat_of '.gate.layers_scanned')
pull node nodeimg || true
[ "$(stat_of '.gate.layers_reused')" = "$((reused + 1))" ] || fail "the base layer was not reused"
[ "$(stat_of '.gate.layers_scanned')" = "$((scanned + 1))" ] || fail "more than the new layer was scanned"

echo "containerd through portcullis"
mkdir -p "$E2E_WORK/certs.d/docker.io"
cat >"$E2E_WORK/certs.d/docker.io/hosts.toml" <<TOML
server = "http://$P"

[host."http://$P"]
  capabilities = ["pull", "resolve"]
TOML
start_containerd
"${CTR[@]}" content fetch --hosts-dir "$E2E_WORK/certs.d" docker.io/library/debian:bookworm \
	>"$E2E_WORK/ctr.out" 2>&1 || { cat "$E2E_WORK/ctr.out"; fail "containerd could not pull the clean image"; }
if "${CTR[@]}" content fetch --hosts-dir "$E2E_WORK/certs.d" docker.io/library/debian:vuln \
	>"$E2E_WORK/ctr.out" 2>&1; then
	fail "containerd pulled the refused image"
fi
cat "$E2E_WORK/ctr.out"
grep -qi "403\|denied" "$E2E_WORK/ctr.out" || fail "containerd did not report the refusal"

echo "a policy change flips a decision without upstream requests"
before=$(grep -c '"portcullis/' "$E2E_WORK/up.log")
cp "$E2E_WORK/policy.yaml" "$E2E_WORK/policy-before.yaml"
cat >>"$E2E_WORK/policy.yaml" <<'YAML'
  banned_packages:
    weight: 1
    block: true
    packages:
      - bash
YAML
kill -HUP "$px_PID"
for _ in $(seq 50); do grep -q 'event=reevaluated' "$E2E_WORK/px.log" && break; sleep 0.1; done
stat_of '.gate.flipped' | jq -e --arg d "$(digest_of base)" 'map(.digest) | index($d) != null' >/dev/null ||
	fail "the re-evaluation did not list the flipped image"
if pull bookworm flipped; then
	fail "the clean image still passes under the new policy"
fi
grep -q "denied by policy" "$E2E_WORK/pull.out" || fail "no policy message after the flip"
after=$(grep -c '"portcullis/' "$E2E_WORK/up.log")
[ "$after" = "$before" ] || fail "the re-evaluation made $((after - before)) upstream requests"
cp "$E2E_WORK/policy-before.yaml" "$E2E_WORK/policy.yaml"
kill -HUP "$px_PID"
sleep 1

echo "Redis down: pulls go on, /readyz and /stats say degraded"
kill "$rd_PID"; wait "$rd_PID" 2>/dev/null || true
sleep 0.5
pull secrets sec || true
grep -q "denied by policy" "$E2E_WORK/pull.out" || fail "no verdict for a new image while Redis was down"
pull bookworm clean3 || fail "the clean image failed while Redis was down"
code=$(curl -sS -o "$E2E_WORK/ready" -w '%{http_code}' "$A/readyz")
[ "$code" = 503 ] && grep -q degraded "$E2E_WORK/ready" || fail "/readyz while Redis is down: $code"
[ "$(stat_of '.redis.degraded')" = true ] || fail "/stats does not say degraded"
start_bg rd redis-server --bind 127.0.0.1 --port "$rd_PORT" --save "" --appendonly no --dir "$E2E_WORK"
for _ in $(seq 100); do [ "$(stat_of '.redis.state')" = '"connected"' ] && break; sleep 0.1; done
[ "$(stat_of '.redis.state')" = '"connected"' ] || fail "no reconnect to Redis"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$A/readyz")" = 200 ] || fail "/readyz after reconnect"

echo "two replicas sharing one Redis scan a new image once"
start_portcullis r1 --upstream "docker.io=http://127.0.0.1:$up_PORT" \
	--policy "$E2E_WORK/policy.yaml" --db "$E2E_WORK/vulndb" --redis "$REDIS_URL"
start_portcullis r2 --upstream "docker.io=http://127.0.0.1:$up_PORT" \
	--policy "$E2E_WORK/policy.yaml" --db "$E2E_WORK/vulndb" --redis "$REDIS_URL"
redis-cli -p "$rd_PORT" FLUSHALL >/dev/null
pids=()
for r in r1 r2; do
	eval "port=\$${r}_PORT"
	curl -sS -o "$E2E_WORK/$r.json" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://127.0.0.1:$port/v2/library/debian/manifests/node" &
	pids+=($!)
done
wait "${pids[@]}"
started=$(grep -h "event=scan_started.*$(digest_of node)" "$E2E_WORK/r1.log" "$E2E_WORK/r2.log" | wc -l)
[ "$started" = 1 ] || fail "the new image was scanned $started times by two replicas"
grep -qh "event=scan_elsewhere" "$E2E_WORK/r1.log" "$E2E_WORK/r2.log" || fail "no replica waited for the other"
cmp <(jq -S . "$E2E_WORK/r1.json") <(jq -S . "$E2E_WORK/r2.json") || fail "the replicas answered differently"
echo "gate: ok"
