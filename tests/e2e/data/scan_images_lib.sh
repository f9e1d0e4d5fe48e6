# Helpers shared by the test_scan_images*.sh scripts, sourced after lib.sh
# and e2e_init. Each check that fails prints "FAIL: ..." and is counted, so
# one run shows every broken check. scan_checks_finish exits 1 when any
# failed.

SCAN_FAILURES=0

# Exits 77 when a tool the scripts run directly is not installed.
scan_require_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || skip "skip: $tool is not installed"
	done
}

# check_failed MESSAGE: records one failed check and goes on.
check_failed() {
	echo "FAIL: $*" >&2
	SCAN_FAILURES=$((SCAN_FAILURES + 1))
}

scan_checks_finish() {
	if [ "$SCAN_FAILURES" -ne 0 ]; then
		echo "$SCAN_FAILURES check(s) failed" >&2
		exit 1
	fi
	echo "all checks passed"
}

# scan_json IMAGE OUT [ARGS...]: "portcullis scan --format json ARGS
# oci:<cached layout of IMAGE>" into OUT. The scan must exit 0: when it does
# not, the failure is counted and OUT contains an empty report so later checks
# still run (and fail on it).
scan_json() {
	local image=$1 out=$2 rc=0
	shift 2
	ensure_image "$image"
	"$PORTCULLIS_BIN" scan --format json "$@" "oci:$IMAGE_DIR" >"$out" \
		2>"$out.err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		check_failed "scan of $image exited $rc: $(head -c 600 "$out.err")"
		echo '{}' >"$out"
	fi
}

# unpack_rootfs IMAGE: unpacks the cached layout of IMAGE with umoci into
# the work folder (once) and sets ROOTFS to its root filesystem.
unpack_rootfs() {
	local bundle="$E2E_WORK/bundle-$1"
	ensure_image "$1"
	if [ ! -d "$bundle" ]; then
		umoci unpack --image "$IMAGE_DIR:latest" "$bundle" >/dev/null ||
			fail "umoci unpack of $1 failed"
	fi
	ROOTFS="$bundle/rootfs"
}

# dpkg_packages ADMINDIR: "name version" of every package dpkg lists as
# present in ADMINDIR, sorted bytewise.
dpkg_packages() {
	dpkg-query --admindir="$1" -W -f '${Package} ${Version}\n' | LC_ALL=C sort
}

# report_deb_packages REPORT: "name version" of the report's deb packages,
# sorted bytewise.
report_deb_packages() {
	jq -r '.packages[]? | select(.type == "deb") | "\(.name) \(.version)"' "$1" |
		LC_ALL=C sort
}

# same_lists WHAT EXPECTED_FILE ACTUAL_FILE: a failed check with the diff
# when the two files differ.
same_lists() {
	local what=$1 diff_out
	if ! diff_out=$(diff -u --label expected --label actual "$2" "$3"); then
		check_failed "$what: expected and actual differ:"
		echo "$diff_out" | head -60 >&2
	fi
}

# expect_jq WHAT REPORT FILTER: a failed check unless FILTER prints true.
expect_jq() {
	local what=$1 got
	got=$(jq -r "$3" "$2" 2>&1) || got="jq error: $got"
	[ "$got" = true ] || check_failed "$what: expected '$3' to be true, got '$got'"
}

# npm_roots ROOTFS: "path name version" of every package root under
# ROOTFS/app/node_modules: a package.json directly in node_modules/NAME or
# node_modules/@SCOPE/NAME. Helper files such as NAME/dist/esm/package.json
# are not roots. The name comes from the file, and it must match the
# folder it sits in.
npm_roots() {
	local rootfs=$1 rel name dir_name
	(cd "$rootfs" && find app/node_modules -name package.json -type f) |
		grep -E '^(.*/)?node_modules/(@[^/]+/)?[^/]+/package\.json$' |
		LC_ALL=C sort |
		while read -r rel; do
			name=$(jq -r '.name' "$rootfs/$rel")
			dir_name=${rel%/package.json}
			dir_name=${dir_name##*/node_modules/}
			[ "$name" = "$dir_name" ] ||
				fail "$rel names the package '$name', but it sits in '$dir_name'"
			jq -r --arg p "$rel" '"\($p) \(.name) \(.version)"' "$rootfs/$rel"
		done
}

# report_npm_roots REPORT: "path name version" of the report's npm packages
# found under app/node_modules.
report_npm_roots() {
	jq -r '.packages[]? | select(.type == "npm" and (.path | startswith("app/node_modules/")))
		| "\(.path) \(.name) \(.version)"' "$1" | LC_ALL=C sort
}
