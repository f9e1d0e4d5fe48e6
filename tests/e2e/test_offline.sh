#!/bin/bash
# An air-gapped proxy seeded with `portcullis cache import`: the real base
# image is imported from its OCI layout, served by `portcullis serve
# --offline` with its upstream not running, and pulled with skopeo by tag
# and by digest. Unknown images and blobs get 404 with a clear message. The
# image is exported to an OCI layout, imported into a second cache and
# served again with the same digests. A docker-archive import, a damaged
# layout, a locked cache, the verdict files of a policy and the gate of an
# offline proxy are checked too.
. "$(dirname "$0")/lib.sh"
e2e_init

ensure_image base
BASE_DIR=$IMAGE_DIR
ensure_image vuln
VULN_DIR=$IMAGE_DIR
want=$(oci_manifest_digest "$BASE_DIR")
want_config=$(jq -r '.config.digest' "$BASE_DIR/blobs/sha256/${want#sha256:}")

# The upstream is configured but nothing listens there: offline mode must
# never need it.
dead_port=$(pick_port)
UPSTREAM="docker.io=http://127.0.0.1:$dead_port"

# pull_check PORT REF DEST: skopeo copy, then every blob must hash to its name.
pull_check() {
	local port=$1 ref=$2 dest=$3 blob
	rm -rf "$dest"
	skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$port/$ref" \
		"oci:$dest:x" || fail "skopeo copy of $ref from 127.0.0.1:$port failed"
	for blob in "$dest"/blobs/sha256/*; do
		[ "sha256:$(basename "$blob")" = "$(file_digest "$blob")" ] ||
			fail "$ref: blob $blob does not match its digest"
	done
}

# blob_list LAYOUT: the sorted blob names of an OCI layout.
blob_list() {
	(cd "$1/blobs/sha256" && ls | LC_ALL=C sort)
}

# The Accept list containerd sends for manifests. The tag cache is keyed
# by the set of types a client accepts, so curl sends a real client's list.
CTD_ACCEPT="application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, */*"

# error_of URL: "STATUS CODE MESSAGE" of a registry error response.
error_of() {
	local body status
	body=$(curl -s -o - -w '\n%{http_code}' -H "Accept: $CTD_ACCEPT" "$1")
	status=$(tail -1 <<<"$body")
	echo "$status $(head -n -1 <<<"$body" | jq -r '.errors[0].code + " " + .errors[0].message')"
}

echo "import the base OCI layout"
C1=$E2E_WORK/px1-cache
"$PORTCULLIS_BIN" cache import --cache-dir "$C1" --as debian:bookworm \
	"oci:$BASE_DIR:latest" >"$E2E_WORK/import1.out" 2>"$E2E_WORK/import1.log" ||
	fail "import failed: $(cat "$E2E_WORK/import1.log")"
grep -q "^imported docker.io/library/debian:bookworm" "$E2E_WORK/import1.out" ||
	fail "unexpected import summary: $(cat "$E2E_WORK/import1.out")"
grep -q "manifest  $want" "$E2E_WORK/import1.out" ||
	fail "the import did not keep the manifest digest $want"
report="$C1/verdicts/$want.json"
[ -f "$report" ] || fail "no report file $report"
[ "$(jq -r '.image.digest' "$report")" = "$want" ] || fail "report names another digest"
[ "$(jq -r '.report.os.family' "$report")" = "debian" ] || fail "the scan found no Debian OS"
[ "$(jq '.report.packages | length' "$report")" -gt 50 ] ||
	fail "the scan found too few packages"
[ "$(jq -r '.verdict' "$report")" = "null" ] || fail "a verdict without a policy"

echo "importing the same image again copies nothing"
"$PORTCULLIS_BIN" cache import --cache-dir "$C1" --as debian:bookworm \
	"oci:$BASE_DIR:latest" >"$E2E_WORK/import1b.out" 2>/dev/null ||
	fail "second import failed"
grep -q "0 copied" "$E2E_WORK/import1b.out" ||
	fail "second import copied blobs: $(cat "$E2E_WORK/import1b.out")"

echo "serve offline and pull by tag and by digest"
start_portcullis px1 --offline --upstream "$UPSTREAM"
pull_check "$px1_PORT" library/debian:bookworm "$E2E_WORK/pull1"
got=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' \
	"docker://127.0.0.1:$px1_PORT/library/debian:bookworm")
[ "$got" = "$want" ] || fail "served digest $got, imported $want"
[ "$(blob_list "$E2E_WORK/pull1")" = "$(blob_list "$BASE_DIR")" ] ||
	fail "the pulled blobs differ from the layout's"
pull_check "$px1_PORT" "debian@$want" "$E2E_WORK/pull1-digest"
[ "$(jq -r '.manifests[0].digest' "$E2E_WORK/pull1-digest/index.json")" = "$want" ] ||
	fail "pull by digest wrote another manifest"
grep -q 'upstream_status=[1-9]' "$E2E_WORK/px1.log" &&
	fail "the offline proxy reported an upstream status"

echo "unknown images and blobs get 404 with a clear message"
P1=http://127.0.0.1:$px1_PORT
res=$(error_of "$P1/v2/library/missing/manifests/latest")
[[ "$res" == "404 MANIFEST_UNKNOWN "*"not imported"* ]] || fail "missing image: $res"
res=$(error_of "$P1/v2/library/debian/manifests/other")
[[ "$res" == "404 MANIFEST_UNKNOWN "*"not imported"* ]] || fail "missing tag: $res"
res=$(error_of "$P1/v2/library/debian/manifests/sha256:$(printf '0%.0s' {1..64})")
[[ "$res" == "404 MANIFEST_UNKNOWN "*"not imported"* ]] || fail "missing digest: $res"
res=$(error_of "$P1/v2/library/debian/blobs/sha256:$(printf '1%.0s' {1..64})")
[[ "$res" == "404 BLOB_UNKNOWN "*"not imported"* ]] || fail "missing blob: $res"
if skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$px1_PORT/library/missing:latest" \
	"oci:$E2E_WORK/missing:x" 2>"$E2E_WORK/missing.err"; then
	fail "skopeo pulled an image that was never imported"
fi
grep -q "not imported" "$E2E_WORK/missing.err" ||
	fail "skopeo did not show the 404 message: $(cat "$E2E_WORK/missing.err")"

echo "import into a cache in use is refused"
if "$PORTCULLIS_BIN" cache import --cache-dir "$C1" --as debian:again \
	"oci:$BASE_DIR:latest" >/dev/null 2>"$E2E_WORK/locked.err"; then
	fail "import into the cache of a running server succeeded"
fi
grep -q "locked by a running portcullis serve" "$E2E_WORK/locked.err" ||
	fail "no lock message: $(cat "$E2E_WORK/locked.err")"

echo "export, import the export elsewhere, serve it, pull again"
kill "$px1_PID"
wait "$px1_PID" 2>/dev/null || true
"$PORTCULLIS_BIN" cache export --cache-dir "$C1" debian:bookworm "$E2E_WORK/export" \
	>"$E2E_WORK/export.out" 2>"$E2E_WORK/export.log" ||
	fail "export failed: $(cat "$E2E_WORK/export.log")"
[ "$(jq -r '.manifests[0].digest' "$E2E_WORK/export/index.json")" = "$want" ] ||
	fail "the export has another manifest digest"
[ "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' \
	"$E2E_WORK/export/index.json")" = "bookworm" ] || fail "the export is not tagged bookworm"
[ "$(jq -r '.imageLayoutVersion' "$E2E_WORK/export/oci-layout")" = "1.0.0" ] ||
	fail "no oci-layout file"
[ "$(blob_list "$E2E_WORK/export")" = "$(blob_list "$BASE_DIR")" ] ||
	fail "the exported blobs differ from the layout's"
for blob in "$E2E_WORK/export"/blobs/sha256/*; do
	[ "sha256:$(basename "$blob")" = "$(file_digest "$blob")" ] ||
		fail "exported blob $blob does not match its digest"
done
if "$PORTCULLIS_BIN" cache export --cache-dir "$C1" debian:nothere "$E2E_WORK/export-none" \
	>/dev/null 2>"$E2E_WORK/export-none.err"; then
	fail "export of an unknown tag succeeded"
fi
grep -q "is not in the tag cache" "$E2E_WORK/export-none.err" ||
	fail "no message for an unknown tag: $(cat "$E2E_WORK/export-none.err")"

C2=$E2E_WORK/px2-cache
"$PORTCULLIS_BIN" cache import --cache-dir "$C2" --as library/debian \
	"oci:$E2E_WORK/export:bookworm" >"$E2E_WORK/import2.out" 2>"$E2E_WORK/import2.log" ||
	fail "import of the export failed: $(cat "$E2E_WORK/import2.log")"
start_portcullis px2 --offline --upstream "$UPSTREAM"
pull_check "$px2_PORT" library/debian:bookworm "$E2E_WORK/pull2"
got=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' \
	"docker://127.0.0.1:$px2_PORT/library/debian:bookworm")
[ "$got" = "$want" ] || fail "second proxy serves $got, want $want"
[ "$(blob_list "$E2E_WORK/pull2")" = "$(blob_list "$E2E_WORK/pull1")" ] ||
	fail "the second pull has other blobs than the first"

echo "import a docker-archive"
skopeo copy -q "oci:$BASE_DIR:latest" \
	"docker-archive:$E2E_WORK/base.tar:registry.example.com/team/base:v1"
C3=$E2E_WORK/px3-cache
"$PORTCULLIS_BIN" cache import --cache-dir "$C3" "docker-archive:$E2E_WORK/base.tar" \
	>"$E2E_WORK/import3.out" 2>"$E2E_WORK/import3.log" ||
	fail "docker-archive import failed: $(cat "$E2E_WORK/import3.log")"
grep -q "^imported docker.io/team/base:v1" "$E2E_WORK/import3.out" ||
	fail "the archive's RepoTags were not used: $(cat "$E2E_WORK/import3.out")"
start_portcullis px3 --offline --upstream "$UPSTREAM"
pull_check "$px3_PORT" team/base:v1 "$E2E_WORK/pull3"
# skopeo compresses uncompressed layers when it writes an OCI layout, so
# the manifest as served is read with curl.
man3=$E2E_WORK/manifest3.json
curl -sf -H "Accept: $CTD_ACCEPT" "http://127.0.0.1:$px3_PORT/v2/team/base/manifests/v1" >"$man3" ||
	fail "GET of the archive's manifest failed"
m3=$(file_digest "$man3")
grep -q "manifest  $m3" "$E2E_WORK/import3.out" ||
	fail "served manifest $m3 is not the one the import made"
[ "$(jq -r '.config.digest' "$man3")" = "$want_config" ] ||
	fail "the archive's config digest changed"
# The archive contains the layer uncompressed, so its digest is the diff_id.
diff_id=$(jq -r '.rootfs.diff_ids[0]' "$BASE_DIR/blobs/sha256/${want_config#sha256:}")
[ "$(jq -r '.layers[0].digest' "$man3")" = "$diff_id" ] ||
	fail "the archive layer digest is not the diff_id $diff_id"
[ "$(jq -r '.layers[0].mediaType' "$man3")" = "application/vnd.oci.image.layer.v1.tar" ] ||
	fail "the uncompressed layer has media type $(jq -r '.layers[0].mediaType' "$man3")"
[ "$(jq '.report.packages | length' "$C3/verdicts/$m3.json")" -gt 50 ] ||
	fail "the archive's scan found too few packages"

echo "a layout with a damaged layer is refused and not tagged"
kill "$px3_PID"
wait "$px3_PID" 2>/dev/null || true
cp -a "$BASE_DIR" "$E2E_WORK/damaged"
layer=$(jq -r '.layers[0].digest' "$BASE_DIR/blobs/sha256/${want#sha256:}")
layer_file="$E2E_WORK/damaged/blobs/sha256/${layer#sha256:}"
chmod u+w "$layer_file"
printf 'XXXX' | dd of="$layer_file" bs=1 seek=1000 conv=notrunc status=none
if "$PORTCULLIS_BIN" cache import --cache-dir "$C3" --as team/damaged:v1 \
	"oci:$E2E_WORK/damaged:latest" >/dev/null 2>"$E2E_WORK/damaged.err"; then
	fail "a damaged layer was imported"
fi
grep -q "failed verification" "$E2E_WORK/damaged.err" ||
	fail "no verification message: $(cat "$E2E_WORK/damaged.err")"
if "$PORTCULLIS_BIN" cache export --cache-dir "$C3" team/damaged:v1 \
	"$E2E_WORK/export-damaged" >/dev/null 2>&1; then
	fail "the damaged image was tagged"
fi

echo "with a policy and a database the verdict is written"
"$PORTCULLIS_BIN" db import --out "$E2E_WORK/vulndb" "$E2E_ROOT/tests/data/osv" >/dev/null
C4=$E2E_WORK/px4-cache
for image in base vuln; do
	dir=$BASE_DIR
	[ "$image" = vuln ] && dir=$VULN_DIR
	"$PORTCULLIS_BIN" cache import --cache-dir "$C4" --as "debian:$image" \
		--policy "$E2E_HERE/data/policy-strict.yaml" --db "$E2E_WORK/vulndb" \
		"oci:$dir:latest" >"$E2E_WORK/import-$image.out" 2>"$E2E_WORK/import-$image.log" ||
		fail "import of $image with a policy failed: $(cat "$E2E_WORK/import-$image.log")"
done
d_base=$(oci_manifest_digest "$BASE_DIR")
d_vuln=$(oci_manifest_digest "$VULN_DIR")
[ "$(jq -r '.verdict.decision' "$C4/verdicts/$d_base.json")" = "allow" ] ||
	fail "base: $(jq -c '.verdict.summary' "$C4/verdicts/$d_base.json")"
[ "$(jq -r '.verdict.decision' "$C4/verdicts/$d_vuln.json")" = "deny" ] ||
	fail "vuln: $(jq -c '.verdict.summary' "$C4/verdicts/$d_vuln.json")"
[ "$(jq '.report.vulnerabilities | length' "$C4/verdicts/$d_vuln.json")" -gt 0 ] ||
	fail "vuln: no vulnerabilities matched"
grep -q "verdict   deny" "$E2E_WORK/import-vuln.out" ||
	fail "the summary does not show the deny: $(cat "$E2E_WORK/import-vuln.out")"

echo "an offline proxy with the policy gates the imported images"
start_portcullis px4 --offline --upstream "$UPSTREAM" \
	--policy "$E2E_HERE/data/policy-strict.yaml" --db "$E2E_WORK/vulndb"
pull_check "$px4_PORT" library/debian:base "$E2E_WORK/pull4-base"
if skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$px4_PORT/library/debian:vuln" \
	"oci:$E2E_WORK/pull4-vuln:x" 2>"$E2E_WORK/pull4-vuln.err"; then
	fail "the offline proxy served the vulnerable image"
fi
grep -q "denied by policy" "$E2E_WORK/pull4-vuln.err" ||
	fail "no policy message: $(cat "$E2E_WORK/pull4-vuln.err")"
grep -q 'event=import_verdicts_loaded' "$E2E_WORK/px4.log" ||
	fail "the imported verdicts were not loaded at start"
grep 'ref=vuln' "$E2E_WORK/px4.log" | grep -q 'cache=hit.*verdict=deny' ||
	fail "the imported verdict was not used for the first pull"
grep -q 'event=scan_started' "$E2E_WORK/px4.log" &&
	fail "an image with an imported verdict was scanned again"

echo "an offline proxy with no upstream named serves what was imported"
kill "$px4_PID"
wait "$px4_PID" 2>/dev/null || true
start_portcullis px5 --offline --cache-dir "$E2E_WORK/px4-cache"
pull_check "$px5_PORT" library/debian:base "$E2E_WORK/pull5-base"
code=$(curl -sS -o /dev/null -w '%{http_code}' \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://127.0.0.1:$px5_PORT/v2/library/debian/manifests/base")
[ "$code" = 200 ] || fail "a client with another Accept list missed the imported tag ($code)"
echo "offline import, serve and export: ok ($want)"
