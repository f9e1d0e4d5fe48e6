#!/bin/bash
# containerd (its own daemon, started here) fetches a real image with
# `ctr content fetch` through a hosts.toml whose server is portcullis;
# containerd then names the registry with ?ns=, which selects the upstream.
. "$(dirname "$0")/lib.sh"
e2e_init

command -v containerd >/dev/null || fail "containerd is not installed"
[ "$(id -u)" = 0 ] || skip "containerd needs root"

start_registry up
seed_image base up library/debian:bookworm
start_portcullis px --upstream "upstream.test:5000=http://127.0.0.1:$up_PORT"

mkdir -p "$E2E_WORK/certs.d/upstream.test:5000"
cat >"$E2E_WORK/certs.d/upstream.test:5000/hosts.toml" <<TOML
server = "http://127.0.0.1:$px_PORT"

[host."http://127.0.0.1:$px_PORT"]
  capabilities = ["pull", "resolve"]
TOML
start_containerd

"${CTR[@]}" content fetch --hosts-dir "$E2E_WORK/certs.d" \
	upstream.test:5000/library/debian:bookworm >"$E2E_WORK/fetch.out" 2>&1 ||
	{ cat "$E2E_WORK/fetch.out"; fail "ctr content fetch failed"; }

layout=$E2E_CACHE/oci/base
manifest=$(oci_manifest_digest "$layout")
"${CTR[@]}" content ls -q >"$E2E_WORK/content"
for d in "$manifest" $(jq -r '.config.digest, .layers[].digest' \
	"$layout/blobs/sha256/${manifest#sha256:}"); do
	grep -qx "$d" "$E2E_WORK/content" || fail "containerd lacks $d"
done
# containerd verifies digests itself; check it went through portcullis.
grep -q 'method=GET name=library/debian ref=sha256:' "$E2E_WORK/px.log" ||
	fail "no blob request reached portcullis"
grep -q 'method=HEAD name=library/debian ref=bookworm' "$E2E_WORK/px.log" ||
	fail "containerd did not resolve the tag through portcullis"
if grep '"GET /v2/library/debian' "$E2E_WORK/up.log" | grep -qv '"portcullis/'; then
	fail "containerd went around portcullis to the upstream"
fi
echo "ctr content fetch through portcullis: ok"
