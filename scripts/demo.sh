#!/bin/bash
# The portcullis demo: real images pulled through the gate on loopback.
#
#   scripts/demo.sh [BUILD_DIR]      (make demo passes $(BUILD), default build)
#
# It builds or reuses the test images of tests/e2e/images.sh and imports
# the OSV records of demo/osv and tests/data/osv into a vulnerability
# database. Then it starts redis-server, a docker-registry upstream holding
# the images and portcullis with conf/demo-policy.yaml, all on free
# 127.0.0.1 ports. Last, it pulls every image through portcullis with
# skopeo, prints each decision and its reason, and sums up /stats.
#
# Exit status: 0 when every step worked and every decision is the expected
# one, 1 otherwise. Every process it starts is stopped on exit. Logs and the
# image reports stay in the /tmp/portcullis-demo.* folder it prints.
#
# Environment: PORTCULLIS_TEST_CACHE (image cache folder, default
# /var/cache/portcullis-tests), DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR
# (used only to build missing images).
set -euo pipefail

BUILD_DIR=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD_DIR in
/*) ;;
*) BUILD_DIR=$ROOT/$BUILD_DIR ;;
esac
export PORTCULLIS_BIN=$BUILD_DIR/portcullis
POLICY=$ROOT/conf/demo-policy.yaml

# lib.sh provides pick_port, wait_port, start_bg, start_registry,
# start_redis and start_portcullis; they write NAME.log into $E2E_WORK.
# shellcheck source=../tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"

# name|image of images.sh|repository:tag|expected decision|description
IMAGES=(
	"base|base|demo/base:1.0|allow|Debian 12 minbase, runs as user 1000"
	"vuln|vuln|demo/vuln:1.0|deny|base + openssl 3.0.17-1~deb12u2, openssh-client 1:9.2p1-2+deb12u7"
	"secrets|secrets|demo/secrets:1.0|deny|base + SSH private key and AWS key pair, runs as root, port 22"
	"node|node|demo/node:1.0|deny|base + /app with old npm packages (lodash 4.17.4, minimist 1.2.0, ...)"
)
# The reason reason_ok checks for each image, as printed when it fails.
declare -A EXPECTED_REASON=(
	[base]="ALLOWED"
	[vuln]="DENIED with a score below the threshold, from Debian advisories (DSA)"
	[secrets]="DENIED, blocked by the secrets rule"
	[node]="DENIED with a score below the threshold, from GitHub advisories (GHSA)"
)
WIDTH=100
START_TIME=$(date +%s)
FAILED=0
# Set once a failure has been explained, so the exit trap does not repeat it.
ANNOUNCED=0

# Prints a step heading like "  images      ...".
step() {
	printf '  %-12s %s\n' "$1" "$2"
}

die() {
	echo "demo: $*" >&2
	ANNOUNCED=1
	exit 1
}

demo_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "${#E2E_PIDS[@]}" -gt 0 ]; then
		kill "${E2E_PIDS[@]}" 2>/dev/null || true
		wait "${E2E_PIDS[@]}" 2>/dev/null || true
	fi
	# Keep the logs and reports, drop the bulky copies of the images.
	if [ -n "${E2E_WORK:-}" ]; then
		rm -rf "$E2E_WORK"/upstream-storage "$E2E_WORK"/portcullis-cache \
			"$E2E_WORK"/pulled "$E2E_WORK"/vulndb
		echo
		echo "Logs and reports: $E2E_WORK"
	fi
	if [ "$rc" -eq 130 ]; then
		echo "demo: interrupted" >&2
	elif [ "$rc" -ne 0 ] && [ "$ANNOUNCED" -eq 0 ]; then
		echo "demo: FAILED (exit $rc); see the logs in ${E2E_WORK:-the folder above}" >&2
	fi
	exit "$rc"
}

check_tools() {
	local missing="" tool
	[ -x "$PORTCULLIS_BIN" ] ||
		die "$PORTCULLIS_BIN not found: build it with 'make BUILD=$(basename "$BUILD_DIR")'"
	for tool in docker-registry redis-server skopeo jq curl python3; do
		command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
	done
	[ -z "$missing" ] || die "missing tools:$missing; install them with 'make deps'"
}

# Builds the images that are not cached yet. Building needs root
# (debootstrap, chroot); reusing cached images does not.
prepare_images() {
	local entry image missing=() started tool absent=""
	for entry in "${IMAGES[@]}"; do
		IFS='|' read -r _ image _ _ _ <<<"$entry"
		[ -f "$E2E_CACHE/oci/$image/index.json" ] || missing+=("$image")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		# umoci writes index.json readable by its owner only.
		for entry in "${IMAGES[@]}"; do
			IFS='|' read -r _ image _ _ _ <<<"$entry"
			[ -r "$E2E_CACHE/oci/$image/index.json" ] ||
				die "the cached image $E2E_CACHE/oci/$image is not readable: run the demo as root, or 'sudo chmod -R a+rX $E2E_CACHE/oci'"
		done
		step images "cached in $E2E_CACHE/oci"
		return
	fi
	[ "$(id -u)" -eq 0 ] ||
		die "building the images ${missing[*]} needs root (debootstrap, chroot): run 'sudo make demo'"
	for tool in debootstrap umoci npm ssh-keygen flock; do
		command -v "$tool" >/dev/null 2>&1 || absent="$absent $tool"
	done
	[ -z "$absent" ] || die "building the images needs:$absent (Debian packages debootstrap, umoci, npm, openssh-client, util-linux)"
	step images "building ${missing[*]} (the first build takes a few minutes; log: $E2E_WORK/images.log)"
	started=$(date +%s)
	"$ROOT/tests/e2e/images.sh" "${missing[@]}" >"$E2E_WORK/images.log" 2>&1 ||
		die "the image build failed; see $E2E_WORK/images.log"
	step "" "built in $(($(date +%s) - started)) s, cached in $E2E_CACHE/oci"
}

import_db() {
	"$PORTCULLIS_BIN" db import --out "$E2E_WORK/vulndb" "$ROOT/demo/osv/debian-12-all" \
		"$ROOT/tests/data/osv/npm" "$ROOT/tests/data/osv/pypi" >"$E2E_WORK/db-import.log" 2>&1 ||
		die "portcullis db import failed; see $E2E_WORK/db-import.log"
	"$PORTCULLIS_BIN" db info --json "$E2E_WORK/vulndb" >"$E2E_WORK/db-info.json"
	step "vuln data" "$(jq -r '"\(.records) OSV records: \(.ecosystems["Debian:12"] // 0) Debian 12 advisories, \(.ecosystems.npm // 0) npm, \(.ecosystems.PyPI // 0) PyPI"' \
		"$E2E_WORK/db-info.json")"
}

start_servers() {
	local entry image ref
	start_registry upstream
	for entry in "${IMAGES[@]}"; do
		IFS='|' read -r _ image ref _ _ <<<"$entry"
		skopeo copy -q --dest-tls-verify=false "oci:$E2E_CACHE/oci/$image:latest" \
			"docker://127.0.0.1:$upstream_PORT/$ref" >>"$E2E_WORK/seed.log" 2>&1 ||
			die "failed to push $ref to the upstream registry; see $E2E_WORK/seed.log"
	done
	step upstream "docker-registry on 127.0.0.1:$upstream_PORT with ${#IMAGES[@]} images"

	start_redis redis
	step redis "redis-server on 127.0.0.1:$redis_PORT"

	start_portcullis portcullis --upstream "http://127.0.0.1:$upstream_PORT" \
		--redis "redis://127.0.0.1:$redis_PORT" --policy "$POLICY" --db "$E2E_WORK/vulndb"
	PROXY=127.0.0.1:$portcullis_PORT
	ADMIN=http://127.0.0.1:$portcullis_ADMIN
	step portcullis "registry on $PROXY, admin on $ADMIN"
	step policy "conf/demo-policy.yaml: an image is denied when its score is below $(sed -n 's/^threshold: *//p' "$POLICY")"
	step "" "or when a blocking rule fails"
}

# Prints TEXT folded to $WIDTH columns, each line indented by INDENT spaces.
print_wrapped() {
	local indent=$1 text=$2
	fold -s -w $((WIDTH - indent)) <<<"$text" |
		sed -e 's/ *$//' -e "s/^/$(printf '%*s' "$indent" '')/"
}

# Checks that REPORT (the /reports JSON of NAME) shows the expected reason.
reason_ok() {
	local name=$1 report=$2
	case $name in
	base)
		jq -e '.verdict.decision == "allow"' "$report" >/dev/null
		;;
	vuln)
		jq -e '.verdict.decision == "deny" and .verdict.score < .verdict.threshold and
			([.verdict.rules[] | select(.name == "vulnerabilities") | .findings[].id |
			  select(startswith("DSA-"))] | length) > 0' "$report" >/dev/null
		;;
	secrets)
		jq -e '.verdict.decision == "deny" and (.verdict.blocked_by | index("secrets") != null)' \
			"$report" >/dev/null
		;;
	node)
		jq -e '.verdict.decision == "deny" and .verdict.score < .verdict.threshold and
			([.verdict.rules[] | select(.name == "vulnerabilities") | .findings[].id |
			  select(startswith("GHSA-"))] | length) > 0' "$report" >/dev/null
		;;
	esac
}

# pull_one ENTRY: pulls one image through portcullis with skopeo and
# prints the decision, the score, the threshold and the reason.
pull_one() {
	local name image ref expected description rc digest report decision shown message
	IFS='|' read -r name image ref expected description <<<"$1"
	rc=0
	skopeo copy -q --src-tls-verify=false "docker://$PROXY/$ref" \
		"oci:$E2E_WORK/pulled/$name:latest" >"$E2E_WORK/pull-$name.log" 2>&1 || rc=$?
	digest=$(jq -r '.manifests[0].digest' "$E2E_CACHE/oci/$image/index.json")
	report=$E2E_WORK/reports/$name.json
	if ! curl -sSf "$ADMIN/reports/$digest" -o "$report" 2>>"$E2E_WORK/curl.log"; then
		printf '  %-8s %-18s no report for %s on the admin endpoint\n' ERROR "$ref" "$digest"
		FAILED=1
		return
	fi
	decision=$(jq -r '.verdict.decision' "$report")
	if [ "$rc" -eq 0 ]; then
		shown=ALLOWED
	elif grep -q 'denied by policy' "$E2E_WORK/pull-$name.log"; then
		shown=DENIED
	else
		shown=ERROR
	fi
	printf '  %-8s %-18s score %5.1f, threshold %s\n' "$shown" "$ref" \
		"$(jq '.verdict.score' "$report")" "$(jq '.verdict.threshold' "$report")"
	print_wrapped 11 "$description"

	if [ "$shown" = DENIED ]; then
		# skopeo's fatal line ends with: denied: denied by policy: REASON; report ...
		message=$(sed -n 's/.*denied: \(denied by policy: .*\); report sha256:.*/\1/p' \
			"$E2E_WORK/pull-$name.log" | head -1)
		print_wrapped 11 "skopeo: $message"
	elif [ "$shown" = ERROR ]; then
		print_wrapped 11 "skopeo failed (exit $rc): $(tail -1 "$E2E_WORK/pull-$name.log")"
	fi
	jq -r '.verdict.rules[] | select(.score < 100) |
		"rule \(.name): score \(.score) (weight \(.weight)\(if .block then ", blocks" else "" end)), " +
		"\(.findings | length) finding\(if (.findings | length) == 1 then "" else "s" end)" +
		(if .name == "vulnerabilities" then " (\([.findings[].id] | unique | length) advisories)" else "" end)' \
		"$report" | while read -r line; do print_wrapped 11 "$line"; done
	print_wrapped 11 "report: reports/$name.json"

	if [ "$decision" != "$expected" ] || [ "$shown" != "$(expected_shown "$expected")" ] ||
		! reason_ok "$name" "$report"; then
		print_wrapped 11 "UNEXPECTED: expected ${EXPECTED_REASON[$name]}"
		FAILED=1
	fi
	echo
}

expected_shown() {
	if [ "$1" = allow ]; then echo ALLOWED; else echo DENIED; fi
}

# Pulls the clean image again: the verdict comes from Redis and the blobs
# from the cache, so no new scan may start.
pull_again() {
	local scans_before scans_after ref
	IFS='|' read -r _ _ ref _ _ <<<"${IMAGES[0]}"
	scans_before=$(curl -sSf "$ADMIN/stats" | jq '.gate.scans')
	if skopeo copy -q --src-tls-verify=false "docker://$PROXY/$ref" \
		"oci:$E2E_WORK/pulled/again:latest" >"$E2E_WORK/pull-again.log" 2>&1; then
		scans_after=$(curl -sSf "$ADMIN/stats" | jq '.gate.scans')
		if [ "$scans_after" = "$scans_before" ]; then
			printf '  %-8s %-18s %s\n' ALLOWED "$ref" "second pull: cached verdict, blobs from the cache, no scan"
		else
			printf '  %-8s %-18s %s\n' ALLOWED "$ref" "second pull scanned the image again (UNEXPECTED)"
			FAILED=1
		fi
	else
		printf '  %-8s %-18s %s\n' ERROR "$ref" "second pull failed: $(tail -1 "$E2E_WORK/pull-again.log")"
		FAILED=1
	fi
}

mib() {
	awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'
}

print_stats() {
	local stats=$E2E_WORK/stats.json
	curl -sSf "$ADMIN/stats" -o "$stats" || die "GET $ADMIN/stats failed"
	echo "portcullis /stats (full JSON in stats.json):"
	jq -r 'def count(n; one; many): "\(n) \(if n == 1 then one else many end)";
		"  requests     \(.cache.requests) registry requests; manifests: " +
		"\(count(.cache.manifest_hits; "hit"; "hits")), \(count(.cache.manifest_misses; "miss"; "misses"))" +
		"; blobs: \(count(.cache.blob_hits; "hit"; "hits")), \(count(.cache.blob_misses; "miss"; "misses"))"' "$stats"
	printf '  bytes        %s fetched from the upstream, %s stored, %s served from the cache\n' \
		"$(mib "$(jq '[.upstreams[].bytes] | add' "$stats")")" \
		"$(mib "$(jq '.cache.bytes_stored' "$stats")")" \
		"$(mib "$(jq '.cache.bytes_from_cache' "$stats")")"
	jq -r '"  scans        \(.gate.scans) images, \(.gate.layers_scanned) layers scanned, \(.gate.layers_reused) layers reused from earlier scans"' "$stats"
	jq -r '"  verdicts     \(.gate.verdicts_allow) allow, \(.gate.verdicts_deny) deny"' "$stats"
	jq -r '"  redis        \(.redis.state), \(.redis.commands) commands, \(.redis.failures) failures"' "$stats"
}

main() {
	local entry
	check_tools
	E2E_WORK=$(mktemp -d /tmp/portcullis-demo.XXXXXX)
	mkdir -p "$E2E_WORK/reports" "$E2E_WORK/pulled"
	trap demo_cleanup EXIT
	trap 'exit 130' INT TERM

	echo "portcullis demo: pulling real images through the gate, all on 127.0.0.1"
	echo
	step logs "$E2E_WORK"
	prepare_images
	import_db
	start_servers
	echo
	echo "Pulling each image through portcullis with skopeo:"
	echo
	for entry in "${IMAGES[@]}"; do
		pull_one "$entry"
	done
	pull_again
	echo
	print_stats
	echo
	if [ "$FAILED" -ne 0 ]; then
		echo "demo: FAILED: a decision or step was not the expected one (see UNEXPECTED/ERROR above)"
		ANNOUNCED=1
		exit 1
	fi
	echo "demo: ok, every decision as expected ($(($(date +%s) - START_TIME)) s)"
}

main
