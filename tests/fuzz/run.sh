#!/usr/bin/env bash
# Builds every libFuzzer target in tests/fuzz/ with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer, then runs each one for a bounded time on
# a seed corpus made from tests/data, tests/data/fixtures, conf/ and the
# hand-written seeds in tests/fuzz/corpus/.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS is the run time of each target (default 10). TARGET names such
# as fuzz_cvss limit the run to those targets (default: all of them).
# FUZZ_BUILD sets the build folder (default build-fuzz), which contains the
# instrumented library, the target programs, the corpora the runs grow
# and the crash artifacts. The script stops at the first target that
# crashes, leaks, times out or runs out of memory, prints the reproducer
# path and the command that replays it, and exits 1.
set -euo pipefail

cd "$(dirname "$0")/../.."

SECONDS_EACH=${1:-10}
shift || true
BUILD=${FUZZ_BUILD:-build-fuzz}
# Largest seed file copied into a corpus, in bytes.
SEED_MAX_BYTES=65536
# Largest input libFuzzer generates, in bytes.
MAX_LEN=65536
# Seconds one input may run before libFuzzer reports a timeout.
UNIT_TIMEOUT=25
# Memory limit of a target process, in MiB.
RSS_LIMIT_MB=2048

if ! [[ $SECONDS_EACH =~ ^[1-9][0-9]*$ ]]; then
	echo "run.sh: invalid run time '$SECONDS_EACH': give whole seconds, e.g. 10" >&2
	exit 2
fi
if ! command -v clang >/dev/null; then
	echo "run.sh: clang not found: run scripts/install-deps.sh" >&2
	exit 2
fi

SANITIZE_LIB="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
SANITIZE_BIN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
WARNINGS="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter"

mkdir -p "$BUILD/fuzz"
echo "== building $BUILD/libportcullis.a with clang"
make --no-print-directory BUILD="$BUILD" CC=clang OPT="-O1 -g" \
	SANITIZE="$SANITIZE_LIB" "$BUILD/libportcullis.a" >"$BUILD/fuzz/library.log" 2>&1 || {
	tail -n 30 "$BUILD/fuzz/library.log" >&2
	echo "run.sh: building the library failed, see $BUILD/fuzz/library.log" >&2
	exit 1
}

# Prints the value of the Makefile variable $1, so the targets compile
# and link with the same libraries as the project.
make_variable() {
	make --no-print-directory -s BUILD="$BUILD" \
		--eval="fuzz-print-variable: ; @echo \$($1)" fuzz-print-variable
}
CFLAGS_PKG=$(make_variable PKG_CFLAGS)
LIBS_ALL=$(make_variable LIBS_ALL)

# Compiles tests/fuzz/NAME.c into $BUILD/fuzz/NAME.
build_target() {
	local name=$1
	# shellcheck disable=SC2086
	clang -std=c11 -D_GNU_SOURCE -I. -g -O1 $WARNINGS $SANITIZE_BIN $CFLAGS_PKG \
		"tests/fuzz/$name.c" tests/fuzz/fuzz_util.c "$BUILD/libportcullis.a" \
		$LIBS_ALL -o "$BUILD/fuzz/$name"
}

# Copies the regular files under each path (file or folder) that are at
# most SEED_MAX_BYTES long into the folder $1, prefixed with the bytes of
# the printf format $2 (empty for none).
add_seeds() {
	local dest=$1 prefix=$2
	shift 2
	local f
	mkdir -p "$dest"
	while IFS= read -r -d '' f; do
		# shellcheck disable=SC2059
		{ printf "$prefix"; cat "$f"; } >"$dest/$(printf '%s' "$prefix$f" | sha1sum | cut -c1-16)"
	done < <(find "$@" -type f -size -$((SEED_MAX_BYTES + 1))c -print0 2>/dev/null)
}

# Writes seed tar layers (plain, gzip, zstd) of a small image tree into $1.
make_layer_seeds() {
	local dest=$1 tree
	tree=$(mktemp -d)
	mkdir -p "$tree/etc" "$tree/var/lib/dpkg/status.d" "$tree/lib/apk/db" \
		"$tree/app/node_modules/ms" "$tree/usr/bin" "$tree/opt/cache" \
		"$tree/usr/lib/python3/site-packages/flask-3.1.3.dist-info"
	cp tests/data/fixtures/os/debian-12.os-release "$tree/etc/os-release"
	cp tests/data/fixtures/os/debian-12.debian_version "$tree/etc/debian_version"
	cp tests/data/fixtures/dpkg/status "$tree/var/lib/dpkg/status"
	cp tests/data/fixtures/apk/installed "$tree/lib/apk/db/installed"
	cp tests/data/fixtures/secrets/app.env "$tree/app/.env"
	cp tests/data/fixtures/npm/app/node_modules/ms/package.json \
		"$tree/app/node_modules/ms/package.json"
	cp tests/data/fixtures/python/flask-3.1.3.dist-info/METADATA \
		"$tree/usr/lib/python3/site-packages/flask-3.1.3.dist-info/METADATA"
	printf '#!/bin/sh\n' >"$tree/usr/bin/helper"
	chmod 4755 "$tree/usr/bin/helper"
	ln -s ../etc/os-release "$tree/usr/os-release-link"
	: >"$tree/app/.wh.removed"
	: >"$tree/opt/cache/.wh..wh..opq"
	tar -C "$tree" --owner=0 --group=0 -cf "$dest/layer.tar" .
	gzip -9 -c "$dest/layer.tar" >"$dest/layer.tar.gz"
	zstd -q -19 -c "$dest/layer.tar" >"$dest/layer.tar.zst"
	rm -rf "$tree"
}

# Writes one seed per version pair of tests/data/vercmp/*.tsv into $1:
# "A NUL B", as fuzz_version reads it.
make_version_seeds() {
	local dest=$1 a b n=0
	mkdir -p "$dest"
	while IFS=$'\t' read -r a _ b; do
		[[ -z $a || $a == \#* || -z ${b:-} ]] && continue
		n=$((n + 1))
		printf '%s\0%s' "$a" "$b" >"$dest/pair-$n"
	done < <(cat tests/data/vercmp/*.tsv)
}

# Writes every distinct CVSS vector found in tests/data/osv into $1.
make_cvss_seeds() {
	local dest=$1 v n=0
	mkdir -p "$dest"
	while IFS= read -r v; do
		n=$((n + 1))
		printf '%s' "$v" >"$dest/osv-$n"
	done < <(grep -rhoE 'CVSS:[0-9.]+/[A-Za-z0-9:/.]+' tests/data/osv | sort -u)
}

# Fills the seed folder $2 of target $1.
make_seeds() {
	local name=$1 seeds=$2
	local fx=tests/data/fixtures
	case $name in
	fuzz_osv)
		add_seeds "$seeds" "" tests/data/osv ;;
	fuzz_analyzer_lang)
		# The first byte picks the analyzer and file kind, the second the
		# Go chunk size.
		add_seeds "$seeds" '\000\100' "$fx/python"
		add_seeds "$seeds" '\001\100' "$fx/npm/app/node_modules"
		add_seeds "$seeds" '\002\100' "$fx/npm/lock-v1" "$fx/npm/lock-v2" \
			"$fx/npm/lock-v3"
		add_seeds "$seeds" '\004\100' "$fx/java" ;;
	fuzz_analyzer_os)
		# The first byte picks the analyzer and path (the cases[] index),
		# the second the secrets chunk size.
		add_seeds "$seeds" '\000\001' "$fx/dpkg/status" "$fx/dpkg/status-removed"
		add_seeds "$seeds" '\001\001' "$fx/dpkg/status.d"
		add_seeds "$seeds" '\002\001' "$fx/apk"
		add_seeds "$seeds" '\003\001' "$fx/os"/*.os-release
		add_seeds "$seeds" '\005\001' "$fx/os"/*.alpine-release
		add_seeds "$seeds" '\006\001' "$fx/os"/*.debian_version
		add_seeds "$seeds" '\007\001' "$fx/os"/*.redhat-release \
			"$fx/os"/*.centos-release "$fx/os"/*.rocky-release
		add_seeds "$seeds" '\010\001' "$fx/os"/*.system-release
		add_seeds "$seeds" '\012\003' "$fx/secrets" ;;
	fuzz_layer_scan)
		mkdir -p "$seeds"
		make_layer_seeds "$seeds" ;;
	fuzz_image_json)
		add_seeds "$seeds" "" "$fx/config" tests/data/bench/lang-packages.json \
			tests/fuzz/corpus/image_json ;;
	fuzz_yaml)
		add_seeds "$seeds" "" conf tests/fuzz/corpus/yaml ;;
	fuzz_version)
		make_version_seeds "$seeds"
		add_seeds "$seeds" "" tests/data/vercmp/*-invalid.txt ;;
	fuzz_cvss)
		make_cvss_seeds "$seeds"
		add_seeds "$seeds" "" tests/fuzz/corpus/cvss ;;
	*)
		# fuzz_http1_head, fuzz_www_auth, fuzz_route, fuzz_rpmdb
		add_seeds "$seeds" "" "tests/fuzz/corpus/${name#fuzz_}" ;;
	esac
}

# Runs target $1 for SECONDS_EACH seconds. On a failure it prints the
# reproducer and exits 1.
run_target() {
	local name=$1
	local dir="$BUILD/fuzz/$name.d"
	local log="$dir/log"
	local artifacts="$dir/artifacts/"
	rm -rf "$dir/seeds" "$artifacts"
	mkdir -p "$dir/corpus" "$artifacts"
	make_seeds "$name" "$dir/seeds"
	echo "== $name: ${SECONDS_EACH}s, $(find "$dir/seeds" -type f | wc -l) seeds"
	if "$BUILD/fuzz/$name" -max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" \
		-timeout="$UNIT_TIMEOUT" -rss_limit_mb="$RSS_LIMIT_MB" \
		-print_final_stats=1 -artifact_prefix="$artifacts" \
		"$dir/corpus" "$dir/seeds" >"$log" 2>&1; then
		grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$log" |
			sed 's/^stat::/   /'
		return 0
	fi
	local repro
	repro=$(find "$artifacts" -type f | head -n 1)
	grep -E '^(==[0-9]+==ERROR|SUMMARY|    #[0-9]+ )' "$log" | head -n 40 >&2 || true
	echo "run.sh: $name failed, see $log" >&2
	if [[ -n $repro ]]; then
		echo "run.sh: reproducer: $repro" >&2
		echo "run.sh: replay with: $BUILD/fuzz/$name $repro" >&2
		echo "run.sh: input as base64:" >&2
		base64 -w 76 "$repro" | head -n 50 >&2
	fi
	exit 1
}

if [[ $# -gt 0 ]]; then
	TARGETS=("$@")
else
	TARGETS=()
	for f in tests/fuzz/fuzz_*.c; do
		name=$(basename "$f" .c)
		[[ $name == fuzz_util ]] && continue
		TARGETS+=("$name")
	done
fi

for name in "${TARGETS[@]}"; do
	if [[ ! -f tests/fuzz/$name.c ]]; then
		echo "run.sh: no target tests/fuzz/$name.c" >&2
		exit 2
	fi
	echo "== building $BUILD/fuzz/$name"
	build_target "$name"
done
for name in "${TARGETS[@]}"; do
	run_target "$name"
done
echo "== all ${#TARGETS[@]} targets ran ${SECONDS_EACH}s each without a failure"
