#!/bin/bash
# Checks every table in tests/data/vercmp against `portcullis vercmp` and,
# where Debian ships one, against the reference implementation:
#
#   deb     dpkg --compare-versions
#   rpm     rpm.labelCompare from python3-rpm
#   pep440  packaging.version.Version from python3-packaging
#   semver  semver.compare from node-semver 7, installed with npm into
#           ${PORTCULLIS_TEST_CACHE:-/var/cache/portcullis-tests}/npm-semver
#
# Every line where the table, portcullis and the reference tool do not all
# agree is printed and fails the test. apk, go and maven have no reference
# tool in Debian and are checked against their tables only. The semver
# check alone is skipped, with a message, when npm cannot install semver.
# The script also checks that vercmp exits 2 on invalid versions, on an
# unknown scheme and on a wrong argument count.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tables="$root/tests/data/vercmp"
bin=${PORTCULLIS_BIN:?set PORTCULLIS_BIN to the portcullis binary}
cache=${PORTCULLIS_TEST_CACHE:-/var/cache/portcullis-tests}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# Debian's python3-rpm and python3-packaging live in the system Python,
# which may not be the first python3 on PATH.
if [ -x /usr/bin/python3 ]; then
	python=/usr/bin/python3
else
	python=python3
fi

# Writes the "A<TAB>OP<TAB>B" lines of table $1, without comments, to $2.
table_cases() {
	grep -v -e '^#' -e '^$' "$tables/$1.tsv" >"$2"
}

# Writes portcullis's result for each case of $2 (one per line) to $3:
# "<", "=", ">" or "exit N".
portcullis_results() {
	local scheme=$1 cases=$2 out=$3 a op b result rc
	: >"$out"
	while IFS=$'\t' read -r a op b; do
		result=$("$bin" vercmp "$scheme" "$a" "$b" 2>/dev/null)
		rc=$?
		[ "$rc" -eq 0 ] || result="exit $rc"
		printf '%s\n' "$result" >>"$out"
	done <"$cases"
}

# Prints every case where table, portcullis and reference differ.
# Arguments: scheme, cases file, portcullis results, reference results,
# reference name.
compare_results() {
	local scheme=$1 cases=$2 ours=$3 theirs=$4 name=$5 bad
	bad=$(paste "$cases" "$ours" "$theirs" | awk -F'\t' -v s="$scheme" \
	    -v n="$name" '$2 != $4 || $2 != $5 {
		printf "%s: %s %s %s: portcullis %s, %s %s\n",
		    s, $1, $2, $3, $4, n, $5; count++ }
	    END { exit count > 0 }')
	if [ $? -ne 0 ]; then
		echo "$bad"
		fail "$scheme: $(echo "$bad" | wc -l) disagreements with $name"
	fi
}

# Checks portcullis against the table alone.
check_table_only() {
	local scheme=$1
	table_cases "$scheme" "$work/$scheme.cases"
	portcullis_results "$scheme" "$work/$scheme.cases" "$work/$scheme.ours"
	cut -f2 "$work/$scheme.cases" >"$work/$scheme.expected"
	compare_results "$scheme" "$work/$scheme.cases" "$work/$scheme.ours" \
	    "$work/$scheme.expected" "table"
	echo "$scheme: $(wc -l <"$work/$scheme.cases") cases checked (no reference tool)"
}

check_deb() {
	local a op b
	if ! command -v dpkg >/dev/null 2>&1; then
		fail "deb: dpkg not found; run scripts/install-deps.sh"
		return
	fi
	table_cases deb "$work/deb.cases"
	portcullis_results deb "$work/deb.cases" "$work/deb.ours"
	: >"$work/deb.dpkg"
	while IFS=$'\t' read -r a op b; do
		if dpkg --compare-versions -- "$a" lt "$b"; then
			echo "<"
		elif dpkg --compare-versions -- "$a" eq "$b"; then
			echo "="
		else
			echo ">"
		fi
	done <"$work/deb.cases" >"$work/deb.dpkg"
	compare_results deb "$work/deb.cases" "$work/deb.ours" \
	    "$work/deb.dpkg" "dpkg"

	# dpkg reports every rejected string as bad syntax, as a warning or
	# an error.
	while IFS= read -r v; do
		if ! dpkg --compare-versions -- "$v" eq "$v" 2>&1 |
		    grep -q "bad syntax"; then
			fail "deb: dpkg accepts '$v', which portcullis rejects"
		fi
	done < <(grep -v -e '^#' -e '^$' "$tables/deb-invalid.txt")
	echo "deb: $(wc -l <"$work/deb.cases") cases checked against $(dpkg --version | head -1)"
}

check_python() {
	local scheme=$1 module=$2
	if ! "$python" -c "import $module" 2>/dev/null; then
		fail "$scheme: Python module $module not found in $python;" \
		    "run scripts/install-deps.sh"
		return
	fi
	table_cases "$scheme" "$work/$scheme.cases"
	portcullis_results "$scheme" "$work/$scheme.cases" "$work/$scheme.ours"
	if ! "$python" - "$scheme" "$work/$scheme.cases" \
	    "$tables/$scheme-invalid.txt" >"$work/$scheme.ref" \
	    2>"$work/$scheme.err" <<'PY'; then
import sys

scheme, cases, invalid = sys.argv[1:4]


def sign(x):
    return "<" if x < 0 else ">" if x > 0 else "="


if scheme == "rpm":
    import rpm

    def evr(s):
        epoch = None
        if ":" in s:
            epoch, s = s.split(":", 1)
        release = None
        if "-" in s:
            s, release = s.rsplit("-", 1)
        return (epoch, s, release)

    def compare(a, b):
        return sign(rpm.labelCompare(evr(a), evr(b)))

    def accepts(v):
        return None
else:
    from packaging.version import InvalidVersion, Version

    def compare(a, b):
        va, vb = Version(a), Version(b)
        return sign((va > vb) - (va < vb))

    def accepts(v):
        try:
            Version(v)
            return True
        except InvalidVersion:
            return False

with open(cases, encoding="utf-8") as f:
    for line in f:
        a, _, b = line.rstrip("\n").split("\t")
        try:
            print(compare(a, b))
        except Exception as e:
            print("error " + type(e).__name__)

with open(invalid, encoding="utf-8") as f:
    for line in f:
        v = line.rstrip("\n")
        if v and not v.startswith("#") and accepts(v):
            print("%s: accepts %r, which portcullis rejects" % (scheme, v),
                  file=sys.stderr)
PY
		fail "$scheme: the $module reference script failed:"
		cat "$work/$scheme.err"
		return
	fi
	if [ -s "$work/$scheme.err" ]; then
		cat "$work/$scheme.err"
		fail "$scheme: $module accepts strings that portcullis rejects"
	fi
	compare_results "$scheme" "$work/$scheme.cases" "$work/$scheme.ours" \
	    "$work/$scheme.ref" "$module"
	echo "$scheme: $(wc -l <"$work/$scheme.cases") cases checked against" \
	    "$module $("$python" -c "import $module; print($module.__version__)")"
}

# Installs node-semver into the cache folder unless it is there already.
install_semver() {
	local dir="$cache/npm-semver"
	if [ -f "$dir/node_modules/semver/package.json" ]; then
		return 0
	fi
	command -v npm >/dev/null 2>&1 || return 1
	command -v node >/dev/null 2>&1 || return 1
	mkdir -p "$dir" || return 1
	npm install --prefix "$dir" --no-audit --no-fund --silent semver@7 \
	    >"$work/npm.log" 2>&1
}

check_semver() {
	local dir="$cache/npm-semver"
	if ! install_semver; then
		echo "skip semver: npm could not install semver into $dir:"
		tail -5 "$work/npm.log" 2>/dev/null
		return
	fi
	table_cases semver "$work/semver.cases"
	portcullis_results semver "$work/semver.cases" "$work/semver.ours"
	if ! node - "$dir/node_modules/semver" "$work/semver.cases" \
	    "$tables/semver-invalid.txt" >"$work/semver.ref" \
	    2>"$work/semver.err" <<'JS'; then
const [semverPath, cases, invalid] = process.argv.slice(2);
const semver = require(semverPath);
const fs = require('fs');

// portcullis accepts a leading '=', which node-semver strips only in
// loose mode and in semver.clean().
const strip = (v) => (v.startsWith('=') ? v.slice(1) : v);
const lines = (file) => fs.readFileSync(file, 'utf8').split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'));

for (const line of lines(cases)) {
  const [a, , b] = line.split('\t');
  let out;
  try {
    out = ['<', '=', '>'][semver.compare(strip(a), strip(b)) + 1];
  } catch (e) {
    out = 'error ' + e.name;
  }
  console.log(out);
}
for (const v of lines(invalid)) {
  if (semver.valid(strip(v)) !== null)
    console.error(`semver: accepts ${JSON.stringify(v)}, which portcullis rejects`);
}
JS
		fail "semver: the node-semver reference script failed:"
		cat "$work/semver.err"
		return
	fi
	if [ -s "$work/semver.err" ]; then
		cat "$work/semver.err"
		fail "semver: node-semver accepts strings that portcullis rejects"
	fi
	compare_results semver "$work/semver.cases" "$work/semver.ours" \
	    "$work/semver.ref" "node-semver"
	echo "semver: $(wc -l <"$work/semver.cases") cases checked against node-semver $(node -p "require('$dir/node_modules/semver/package.json').version")"
}

# vercmp exits 2 and names the value and scheme for every invalid string.
check_invalid() {
	local scheme valid v err rc
	for scheme in deb apk rpm semver go pep440 maven; do
		case $scheme in
		go) valid=v1.0.0 ;;
		semver) valid=1.0.0 ;;
		*) valid=1.0 ;;
		esac
		while IFS= read -r v; do
			err=$("$bin" vercmp "$scheme" "$v" "$valid" 2>&1 >/dev/null)
			rc=$?
			if [ "$rc" -ne 2 ]; then
				fail "$scheme: vercmp '$v' $valid exited $rc, expected 2"
			elif [[ "$err" != *"invalid $scheme version"* ]]; then
				fail "$scheme: no clear error for '$v': $err"
			fi
		done < <(grep -a -v -e '^#' -e '^$' "$tables/$scheme-invalid.txt")
	done
}

check_usage() {
	local rc out
	"$bin" vercmp npm 1.0.0 1.0.1 >/dev/null 2>"$work/usage.err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "vercmp with an unknown scheme exited $rc, expected 2"
	grep -q "unknown version scheme 'npm'" "$work/usage.err" ||
	    fail "vercmp with an unknown scheme: $(cat "$work/usage.err")"

	"$bin" vercmp deb 1.0 >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq 2 ] || fail "vercmp with two arguments exited $rc, expected 2"

	"$bin" vercmp >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq 2 ] || fail "vercmp without arguments exited $rc, expected 2"

	out=$("$bin" vercmp deb 1.0 "$(printf '1%.0s' $(seq 300))" 2>&1)
	rc=$?
	[ "$rc" -eq 2 ] || fail "vercmp with a 300-byte version exited $rc, expected 2"
	[[ "$out" == *"longer than 256 bytes"* ]] ||
	    fail "vercmp with a 300-byte version: $out"
}

check_deb
check_python rpm rpm
check_python pep440 packaging
check_semver
check_table_only apk
check_table_only go
check_table_only maven
check_invalid
check_usage

if [ "$failures" -ne 0 ]; then
	echo "test_vercmp_reference: $failures failures"
	exit 1
fi
echo "test_vercmp_reference: all checks passed"
