#!/bin/bash
# Pull benchmark on 127.0.0.1. The image is tests/e2e/images.sh large: a
# Debian base layer plus a layer of ~320 MB of random data, seeded into an
# upstream docker-registry (CNCF Distribution). It is pulled straight from
# that upstream, cold and warm through portcullis, and cold and warm through
# a second docker-registry in proxy mode in front of the same upstream.
#
#   bench/pull.sh [BUILD_DIR]     (default build; needs BUILD_DIR/portcullis)
#
# Environment: BENCH_RUNS rounds (default 3), BENCH_CLIENTS (default
# "skopeo curl null"), PORTCULLIS_TEST_CACHE (where images.sh keeps the
# image).
#
# portcullis runs as deployed: the shipped conf/policy.yaml switched to
# audit mode (scored and recorded, never rejected), a vulnerability database
# imported from tests/data/osv, and its own Redis. The output shows whether
# the binary scanned (its /stats has a "gate" section) or let the image
# through unscanned.
#
# Each round restarts both proxies with an empty cache, then pulls direct,
# cold through each proxy and warm through each proxy, alternating which
# proxy goes first, so that load from other processes spreads over all
# columns. Tables show the median of the rounds. A pull starts with an
# empty destination and a `sync`, so writeback of the previous pull does
# not land in the next one. Every pull is checked: the manifest digest and
# every blob's SHA-256 against its name.
#
# Three clients, with the same options for every server:
#   skopeo   skopeo copy docker://... dir:DEST (no decompression)
#   curl     one curl for the manifest, then one curl --parallel for the
#            config and every layer into files, as many transfers at once
#            as there are blobs (at most CURL_PARALLEL_MAX)
#   null     the same curl commands writing the blobs to /dev/null, which
#            leaves out the cost of writing files on the client. These
#            pulls are checked by the manifest digest and the blob sizes.
# The client CPU column (user + system of the client processes) shows how
# much of the wall time the client itself costs. The server CPU column is
# the CPU time of the server the client talks to (the proxy, or the
# upstream for direct pulls), read from /proc/PID/stat.
#
# Targets: warm portcullis / direct <= 1.1, warm portcullis / warm
# Distribution <= 1.0, cold portcullis / direct <= 1.5.
set -euo pipefail

build=${1:-build}
if [ ! -x "$build/portcullis" ]; then
	echo "bench/pull.sh: $build/portcullis is missing: run make BUILD=$build $build/portcullis" >&2
	exit 2
fi
PORTCULLIS_BIN="$(cd "$build" && pwd)/portcullis"
export PORTCULLIS_BIN
for tool in skopeo docker-registry redis-server curl jq sha256sum; do
	command -v "$tool" >/dev/null ||
		{ echo "bench/pull.sh: $tool is not installed" >&2; exit 2; }
done

. "$(dirname "$0")/../tests/e2e/lib.sh"
e2e_init

runs=${BENCH_RUNS:-3}
clients=${BENCH_CLIENTS:-skopeo curl null}
# Upper bound on concurrent curl transfers for images with many blobs.
CURL_PARALLEL_MAX=6
REPO=bench/large
TAG=latest
CLOCK_TICKS=$(getconf CLK_TCK)
RESULTS=$E2E_WORK/results.txt
: >"$RESULTS"

# stop_server NAME: stops the server started as NAME and removes its pid
# from E2E_PIDS, so that the exit trap never signals a reused pid.
stop_server() {
	local name=$1 pid keep=() p
	eval "pid=\${${name}_PID:-}"
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in "${E2E_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	E2E_PIDS=("${keep[@]}")
	eval "${name}_PID="
}

# Portcullis with an empty cache folder, a new process and a new Redis, so
# that neither blobs nor verdicts survive from the previous round.
fresh_portcullis() {
	stop_server px
	stop_server rd
	rm -rf "$E2E_WORK/px-cache"
	start_redis rd
	start_portcullis px --upstream "http://127.0.0.1:$up_PORT" \
		--policy "$E2E_WORK/policy.yaml" --db "$E2E_WORK/osv.db" \
		--redis "redis://127.0.0.1:$rd_PORT"
}

# Distribution in proxy mode with empty storage and a new process.
fresh_distribution() {
	stop_server dp
	rm -rf "$E2E_WORK/dp-storage"
	start_registry dp "proxy:
  remoteurl: http://127.0.0.1:$up_PORT"
}

# cpu_seconds PID: user + system CPU time the process has used so far.
cpu_seconds() {
	awk -v hz="$CLOCK_TICKS" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# verify_pull CLIENT LABEL DEST: checks that the manifest has the upstream
# digest and that every blob it names is present and hashes to its name.
# For the null client, which keeps no blobs, checks the sizes received.
verify_pull() {
	local client=$1 label="$1 $2" dest=$3 got d
	got=$(file_digest "$dest/manifest.json")
	[ "$got" = "$WANT_DIGEST" ] ||
		fail "$label: manifest digest $got, upstream has $WANT_DIGEST"
	if [ "$client" = null ]; then
		got=$(sort -n "$dest/sizes" | tr '\n' ' ')
		[ "$got" = "$BLOB_SIZES" ] ||
			fail "$label: received blob sizes $got, the manifest has $BLOB_SIZES"
		return
	fi
	for d in $BLOB_HEXES; do
		[ -f "$dest/$d" ] || fail "$label: blob sha256:$d is missing"
		[ "$(sha256sum "$dest/$d" | cut -d' ' -f1)" = "$d" ] ||
			fail "$label: blob sha256:$d does not match its digest"
	done
}

skopeo_pull() {
	skopeo copy -q --src-tls-verify=false \
		"docker://127.0.0.1:$1/$REPO:$TAG" "dir:$2" 2>"$E2E_WORK/client.err"
}

# curl_pull PORT DEST [null]: fetches the manifest into DEST, then every
# blob into DEST or, with "null", to /dev/null with the sizes in DEST/sizes.
curl_pull() {
	local port=$1 dest=$2 sink=${3:-} d args=()
	mkdir -p "$dest"
	curl -sSf -o "$dest/manifest.json" \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://127.0.0.1:$port/v2/$REPO/manifests/$TAG" 2>"$E2E_WORK/client.err"
	for d in $(jq -r '.config.digest, .layers[].digest' "$dest/manifest.json"); do
		if [ "$sink" = null ]; then
			args+=(-o /dev/null -w '%{size_download}\n')
		else
			args+=(-o "$dest/${d#sha256:}")
		fi
		args+=("http://127.0.0.1:$port/v2/$REPO/blobs/$d")
	done
	if [ "$sink" = null ]; then
		curl -sSf --no-progress-meter --parallel --parallel-immediate \
			--parallel-max "$CURL_PARALLEL" "${args[@]}" \
			>"$dest/sizes" 2>>"$E2E_WORK/client.err"
	else
		curl -sSf --no-progress-meter --parallel --parallel-immediate \
			--parallel-max "$CURL_PARALLEL" "${args[@]}" 2>>"$E2E_WORK/client.err"
	fi
}

null_pull() {
	curl_pull "$1" "$2" null
}

# measure CLIENT LABEL PORT SERVER_PID: runs one verified pull and appends
# "CLIENT LABEL wall client_cpu server_cpu" to $RESULTS.
measure() {
	local client=$1 label=$2 port=$3 pid=$4 dest=$E2E_WORK/dest
	local cpu0 cpu1 wall user sys TIMEFORMAT='%R %U %S'
	rm -rf "$dest"
	sync
	cpu0=$(cpu_seconds "$pid")
	if ! { time "${client}_pull" "$port" "$dest"; } 2>"$E2E_WORK/time.txt"; then
		fail "$client pull from $label failed: $(cat "$E2E_WORK/client.err")"
	fi
	cpu1=$(cpu_seconds "$pid")
	read -r wall user sys <"$E2E_WORK/time.txt"
	verify_pull "$client" "$label" "$dest"
	awk -v c="$client" -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" \
		-v a="$cpu0" -v b="$cpu1" \
		'BEGIN { printf "%s %s %.3f %.3f %.3f\n", c, l, w, u + s, b - a }' >>"$RESULTS"
	printf '  %-6s %-18s %6.2f s\n' "$client" "$label" "$wall" >&2
}

# median CLIENT LABEL FIELD: median over the rounds of one column
# (FIELD 3 wall, 4 client CPU, 5 server CPU).
median() {
	awk -v c="$1" -v l="$2" -v f="$3" '$1 == c && $2 == l { print $f }' "$RESULTS" |
		sort -g | awk '{ v[NR] = $1 }
			END {
				if (NR == 0) { print "nan"; exit }
				if (NR % 2) print v[(NR + 1) / 2]
				else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
			}'
}

# ratio_row NAME A B TARGET: prints the table row of A / B. TARGET is
# "<= X" or "-" for none.
ratio_row() {
	local name=$1 a=$2 b=$3 target=$4
	awk -v n="$name" -v a="$a" -v b="$b" -v t="$target" 'BEGIN {
		r = a / b
		verdict = "-"
		if (t != "-") {
			split(t, p, " ")
			verdict = (r <= p[2]) ? "met" : "missed"
		}
		printf "| %s | %.2f | %s | %s |\n", n, r, t, verdict
	}'
}

print_table() {
	local client=$1 label
	local dw pcw pww dcw dww
	echo
	case $client in
	skopeo) echo "### skopeo copy to dir:, median of $runs rounds" ;;
	curl) echo "### curl --parallel into files, median of $runs rounds" ;;
	null) echo "### curl --parallel to /dev/null, median of $runs rounds" ;;
	esac
	echo
	echo "| pull | wall s | client CPU s | server CPU s |"
	echo "|---|---:|---:|---:|"
	for label in direct portcullis-cold portcullis-warm distribution-cold distribution-warm; do
		printf '| %s | %.2f | %.2f | %.2f |\n' "$label" \
			"$(median "$client" "$label" 3)" "$(median "$client" "$label" 4)" \
			"$(median "$client" "$label" 5)"
	done
	dw=$(median "$client" direct 3)
	pcw=$(median "$client" portcullis-cold 3)
	pww=$(median "$client" portcullis-warm 3)
	dcw=$(median "$client" distribution-cold 3)
	dww=$(median "$client" distribution-warm 3)
	echo
	echo "| ratio | value | target | |"
	echo "|---|---:|---|---|"
	ratio_row "warm portcullis / direct" "$pww" "$dw" "<= 1.1"
	ratio_row "warm portcullis / warm Distribution" "$pww" "$dww" "<= 1.0"
	ratio_row "cold portcullis / direct" "$pcw" "$dw" "<= 1.5"
	ratio_row "cold portcullis / cold Distribution" "$pcw" "$dcw" "-"
	ratio_row "client CPU / wall, direct" "$(median "$client" direct 4)" "$dw" "-"
}

# One round for one client: fresh proxies, then direct, cold and warm pulls.
run_round() {
	local client=$1 round=$2 first second p state
	fresh_portcullis
	fresh_distribution
	if [ $((round % 2)) -eq 1 ]; then
		first=portcullis second=distribution
	else
		first=distribution second=portcullis
	fi
	echo "$client round $round/$runs" >&2
	measure "$client" direct "$up_PORT" "$up_PID"
	for state in cold warm; do
		for p in $first $second; do
			case $p in
			portcullis) measure "$client" "portcullis-$state" "$px_PORT" "$px_PID" ;;
			distribution) measure "$client" "distribution-$state" "$dp_PORT" "$dp_PID" ;;
			esac
		done
		if [ "$state" = cold ]; then
			curl -sf "http://127.0.0.1:$px_ADMIN/stats" |
				jq -c '.gate | if . == null then null else
					{scans, layers_scanned, audit_denies, db_records: .db.records} end' \
				>"$E2E_WORK/gate-$client-$round.json"
		fi
	done
}

# The shipped policy in audit mode: every layer is scanned and the image
# scored as in production, but a low score never rejects the pull.
sed 's/^mode: enforce$/mode: audit/' "$E2E_ROOT/conf/policy.yaml" >"$E2E_WORK/policy.yaml"
grep -q '^mode: audit$' "$E2E_WORK/policy.yaml" ||
	fail "conf/policy.yaml has no 'mode: enforce' line to switch to audit"
"$PORTCULLIS_BIN" db import --out "$E2E_WORK/osv.db" "$E2E_ROOT/tests/data/osv" \
	>"$E2E_WORK/db-import.log" 2>&1 || fail "db import of tests/data/osv failed"

# The image, seeded into the upstream.
start_registry up
seed_image large up "$REPO:$TAG"
WANT_DIGEST=$(oci_manifest_digest "$IMAGE_DIR")
manifest_file="$IMAGE_DIR/blobs/sha256/${WANT_DIGEST#sha256:}"
BLOB_HEXES=$(jq -r '.config.digest, .layers[].digest' "$manifest_file" | sed 's/^sha256://')
BLOB_SIZES=$(jq -r '.config.size, .layers[].size' "$manifest_file" | sort -n | tr '\n' ' ')
blob_count=$(wc -w <<<"$BLOB_HEXES")
CURL_PARALLEL=$((blob_count < CURL_PARALLEL_MAX ? blob_count : CURL_PARALLEL_MAX))
layer_count=$(jq '.layers | length' "$manifest_file")
image_bytes=$(jq '[.config.size, .layers[].size] | add' "$manifest_file")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

for client in $clients; do
	for round in $(seq 1 "$runs"); do
		run_round "$client" "$round"
	done
done

stop_server px
stop_server dp
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## pull"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
	"load average $load_before before, $load_after after"
echo "- image: $REPO:$TAG, $layer_count layers, $image_bytes bytes of blobs, $WANT_DIGEST"
echo "- upstream and proxy: $(docker-registry --version | awk '{ print $2, $3 }');" \
	"client: $(skopeo --version), $(curl --version | head -1 | cut -d' ' -f1-2)"
echo "- curl: $CURL_PARALLEL transfers at once"
echo "- portcullis: $PORTCULLIS_BIN, built $(date -u -r "$PORTCULLIS_BIN" '+%Y-%m-%d %H:%M UTC');" \
	"$E2E_ROOT at commit $(git -C "$E2E_ROOT" rev-parse --short HEAD) during the run"
first_client=${clients%% *}
gate=$(cat "$E2E_WORK/gate-$first_client-1.json")
if [ "$gate" = null ]; then
	echo "- scan: none; this binary has no gate (its /stats has no \"gate\" section), so cold pulls are not scanned"
else
	echo "- scan: on; gate stats after the first cold pull of round 1: \`$gate\`"
fi
for client in $clients; do
	print_table "$client"
done
