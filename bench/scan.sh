#!/bin/bash
# Layer scan benchmark: on the same gzip layers, built once from this
# machine's /usr into ${PORTCULLIS_TEST_CACHE:-/var/cache/portcullis-tests}/bench,
# times `igzip -dc` alone, libarchive reading with its own gzip filter
# (bench/scan libarchive) and the portcullis scanner with every analyzer
# (bench/scan portcullis). Each is run BENCH_RUNS times (default 3) and
# the fastest run counts. Prints throughputs (MB of compressed input per
# second), the ratios and peak memory.
#
#   bench/scan.sh [BUILD_DIR]     (default build; needs BUILD_DIR/bench/scan)
#
# Wall time and CPU time (user + sys) are both reported: on a shared
# machine the CPU time ratio is the steadier of the two.
# Targets: portcullis >= 0.7x igzip, >= 1.5x libarchive, peak RSS < 64 MiB.
set -euo pipefail

build=${1:-build}
bin=$build/bench/scan
runs=${BENCH_RUNS:-3}
cache=${PORTCULLIS_TEST_CACHE:-/var/cache/portcullis-tests}/bench

if [ ! -x "$bin" ]; then
	echo "bench/scan.sh: $bin is missing: run make BUILD=$build bench" >&2
	exit 2
fi
for tool in igzip /usr/bin/time bc; do
	command -v "$tool" >/dev/null || { echo "bench/scan.sh: $tool is not installed" >&2; exit 2; }
done

# The layers: tar sorted by name with fixed owners and times, gzip -6.
mkdir -p "$cache"
exec 9>"$cache/.lock-scan-layers"
flock 9
make_layer() {
	local out=$cache/$1
	shift
	if [ ! -s "$out" ]; then
		echo "building $out from $* (once)" >&2
		tar -C / --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
			-cf - "$@" 2>/dev/null | gzip -6 >"$out.tmp"
		mv "$out.tmp" "$out"
	fi
}
make_layer usr-include.tar.gz usr/include
make_layer usr-bin.tar.gz usr/bin
flock -u 9
layers=("$cache/usr-include.tar.gz" "$cache/usr-bin.tar.gz")
compressed=$(stat -c %s "${layers[@]}" | awk '{s += $1} END {print s}')

# measure NAME CMD...: runs CMD once under /usr/bin/time and appends
# "NAME wall cpu maxrss_kib" to $samples (cpu = user + sys seconds).
samples=$(mktemp)
trap 'rm -f "$samples"' EXIT
measure() {
	local name=$1 out
	shift
	out=$( { /usr/bin/time -f "%e %U %S %M" "$@" >/dev/null; } 2>&1 | tail -1)
	awk -v n="$name" '{printf "%s %s %.3f %s\n", n, $1, $2 + $3, $4}' <<<"$out" >>"$samples"
}

# The three readers take turns, so load from other processes spreads
# over all of them; the fastest run of each counts.
for _ in $(seq 1 "$runs"); do
	measure igzip bash -c 'for l; do igzip -dc "$l"; done' igzip "${layers[@]}"
	measure libarchive "$bin" libarchive "${layers[@]}"
	measure portcullis "$bin" portcullis "${layers[@]}"
done

# best NAME COLUMN: the smallest value of COLUMN (2 wall, 3 cpu, 4 rss).
best() {
	awk -v n="$1" -v c="$2" '$1 == n && (b == "" || $c < b) {b = $c} END {print b}' "$samples"
}

mb=$(echo "$compressed / 1000000" | bc -l)
printf 'layers: %s (%.1f MB compressed), best of %s runs, %s cores, load %s\n' \
	"${#layers[@]}" "$mb" "$runs" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %9s %10s %9s %10s %11s\n' "reader" "wall s" "MB/s" "cpu s" \
	"MB/cpu-s" "peak RSS"
for name in igzip libarchive portcullis; do
	case $name in
	igzip) label="igzip -dc" ;;
	libarchive) label="libarchive gzip, list" ;;
	portcullis) label="portcullis scan, analyzers" ;;
	esac
	wall=$(best "$name" 2)
	cpu=$(best "$name" 3)
	printf '%-28s %9.3f %10.1f %9.3f %10.1f %7s KiB\n' "$label" "$wall" \
		"$(echo "$mb / $wall" | bc -l)" "$cpu" "$(echo "$mb / $cpu" | bc -l)" \
		"$(best "$name" 4)"
done
for peer in igzip libarchive; do
	printf 'ratio portcullis / %-10s wall %.2f, cpu %.2f (target >= %s)\n' "$peer" \
		"$(echo "$(best "$peer" 2) / $(best portcullis 2)" | bc -l)" \
		"$(echo "$(best "$peer" 3) / $(best portcullis 3)" | bc -l)" \
		"$([ "$peer" = igzip ] && echo 0.70 || echo 1.50)"
done
