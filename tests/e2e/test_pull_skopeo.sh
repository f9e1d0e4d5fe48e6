#!/bin/bash
# skopeo pulls a real Debian image through portcullis, cold then warm; the
# copies match the upstream digests and the warm pull makes no upstream
# blob request.
. "$(dirname "$0")/lib.sh"
e2e_init

start_registry up
seed_image base up library/debian:bookworm
start_portcullis px --upstream "http://127.0.0.1:$up_PORT"

want=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' \
	"docker://127.0.0.1:$up_PORT/library/debian:bookworm")

for round in cold warm; do
	rm -rf "$E2E_WORK/out-$round"
	skopeo copy -q --src-tls-verify=false \
		"docker://127.0.0.1:$px_PORT/library/debian:bookworm" \
		"oci:$E2E_WORK/out-$round:bookworm"
	got=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' \
		"docker://127.0.0.1:$px_PORT/library/debian:bookworm")
	[ "$got" = "$want" ] || fail "$round: manifest digest $got, upstream has $want"
	# Every blob skopeo wrote must hash to its name.
	for blob in "$E2E_WORK/out-$round"/blobs/sha256/*; do
		[ "sha256:$(basename "$blob")" = "$(file_digest "$blob")" ] ||
			fail "$round: blob $blob does not match its digest"
	done
done

# The warm round came from the cache: the upstream saw each blob once.
for blob in "$E2E_WORK/out-warm"/blobs/sha256/*; do
	d="sha256:$(basename "$blob")"
	n=$(grep "GET /v2/library/debian/blobs/$d" "$E2E_WORK/up.log" |
		grep -c '"portcullis/' || true)
	if jq -e --arg d "$d" '.layers[]?.digest == $d or .config.digest == $d' \
		"$blob" >/dev/null 2>&1; then
		continue  # the manifest itself, fetched by tag
	fi
	[ "$n" -le 1 ] || fail "blob $d fetched $n times from the upstream"
done

stats=$(curl -sf "http://127.0.0.1:$px_ADMIN/stats")
hits=$(jq '.cache.blob_hits' <<<"$stats")
[ "$hits" -ge 2 ] || fail "expected blob cache hits on the warm pull, stats: $stats"
grep -q 'cache=hit' "$E2E_WORK/px.log" || fail "no cache=hit in the access log"
echo "pull cold and warm: ok ($want)"
