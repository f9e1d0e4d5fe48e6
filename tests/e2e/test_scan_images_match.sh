#!/bin/bash
# portcullis scan --db on the real test images, with a database imported
# from tests/data/osv. Every finding list is compared twice: with the
# table of expected advisories in data/scan_expected_advisories.txt, looked
# up by the versions really installed in the unpacked image, and with
# data/scan_osv_reference.py, which evaluates the same OSV records with
# dpkg --compare-versions and node-semver. The vuln image must get the four
# OpenSSL advisories and the OpenSSH one, base no Debian advisory, and node
# the npm advisories of its installed packages (node_modules and
# package-lock.json). E2E_KEEP=1 keeps the work folder.
. "$(dirname "$0")/lib.sh"
e2e_init
. "$E2E_HERE/data/scan_images_lib.sh"
scan_require_tools umoci skopeo dpkg dpkg-query jq npm node python3 diff

W=$E2E_WORK
TABLE="$E2E_HERE/data/scan_expected_advisories.txt"
REFERENCE="$E2E_HERE/data/scan_osv_reference.py"
OSV="$E2E_ROOT/tests/data/osv"

"$PORTCULLIS_BIN" db import --out "$W/vulndb" "$OSV" >"$W/import.log" 2>&1 ||
	fail "db import of $OSV failed: $(tail -5 "$W/import.log")"

# node-semver for the reference matcher: npm bundles it, and
# test_vercmp_reference.sh may have installed a copy into the cache.
semver_dir=""
for dir in "$(npm root -g)/npm/node_modules/semver" "$E2E_CACHE/npm-semver/node_modules/semver"; do
	if [ -f "$dir/package.json" ]; then
		semver_dir=$dir
		break
	fi
done
[ -n "$semver_dir" ] || fail "node-semver not found: neither npm's bundled copy nor $E2E_CACHE/npm-semver"

# table_expect ECOSYSTEM < INSTALLED: looks up each installed line
# "PACKAGE VERSION MATCH_NAME MATCH_VERSION" in the table and prints
# "ID PACKAGE VERSION FIXED" for each expected advisory. A MATCH_NAME
# absent from the table expects none. A MATCH_NAME that the table lists
# at other versions only has no expectation: that is a failed check.
table_expect() {
	awk -v eco="$1" '
		FNR == NR {
			if ($0 ~ /^#/ || NF == 0 || $1 != eco)
				next
			key = $2 " " $3
			named[$2] = 1
			listed[key] = 1
			if ($4 != "-")
				rows[key] = rows[key] $4 " " $5 "\n"
			next
		}
		{
			key = $3 " " $4
			if (!($3 in named))
				next
			if (!(key in listed)) {
				print "no row for " eco " " key " in the table" > "/dev/stderr"
				missing = 1
				next
			}
			n = split(rows[key], lines, "\n")
			for (i = 1; i < n; i++) {
				split(lines[i], f, " ")
				print f[1], $1, $2, f[2]
			}
		}
		END { exit missing }' "$TABLE" - | LC_ALL=C sort
}

# reference_expect ECOSYSTEM RECORDS < INSTALLED: the same lookup done by
# evaluating the OSV records.
reference_expect() {
	python3 "$REFERENCE" "$1" "$2" "$semver_dir" | LC_ALL=C sort
}

# expect_findings WHAT ECOSYSTEM RECORDS INSTALLED ACTUAL: compares the
# "id package version fixed" lines of ACTUAL with both expectations
# computed from INSTALLED.
expect_findings() {
	local what=$1 eco=$2 records=$3 installed=$4 actual=$5
	local base="$W/$(echo "$what" | tr -c 'a-zA-Z0-9\n' _)"

	if ! table_expect "$eco" <"$installed" >"$base.table"; then
		check_failed "$what: the table has no row for some installed version"
	fi
	reference_expect "$eco" "$records" <"$installed" >"$base.reference" ||
		fail "$what: the reference matcher failed"
	same_lists "$what: findings against the table" "$base.table" "$actual"
	same_lists "$what: findings against the reference matcher" "$base.reference" "$actual"
}

# dpkg_installed ADMINDIR: "package version source source_version" lines.
dpkg_installed() {
	dpkg-query --admindir="$1" -W \
		-f '${Package} ${Version} ${source:Package} ${source:Version}\n' | LC_ALL=C sort
}

# report_debian_findings REPORT: "id package version fixed" of each
# Debian:12 finding, duplicates kept.
report_debian_findings() {
	jq -r '.vulnerabilities[]? | select(.ecosystem == "Debian:12")
		| "\(.id) \(.package) \(.version) \(.fixed // "-")"' "$1" | LC_ALL=C sort
}

echo "vuln: the OpenSSL and OpenSSH advisories with their fixed versions"
scan_json vuln "$W/vuln.json" --db "$W/vulndb"
unpack_rootfs vuln
dpkg_installed "$ROOTFS/var/lib/dpkg" >"$W/vuln.installed"
grep -q '^libssl3 3.0.17-1~deb12u2 openssl 3.0.17-1~deb12u2$' "$W/vuln.installed" ||
	fail "the vuln image does not contain libssl3 3.0.17-1~deb12u2"
report_debian_findings "$W/vuln.json" >"$W/vuln.actual"
expect_findings "vuln Debian" Debian:12 "$OSV/debian" "$W/vuln.installed" "$W/vuln.actual"
expect_jq "vuln: the five Debian advisories" "$W/vuln.json" \
	'[.vulnerabilities[] | select(.ecosystem == "Debian:12")
		| "\(.id) \(.source_name) \(.source_version) \(.fixed)"] | unique == [
		"DSA-6015-1 openssl 3.0.17-1~deb12u2 3.0.17-1~deb12u3",
		"DSA-6113-1 openssl 3.0.17-1~deb12u2 3.0.18-1~deb12u2",
		"DSA-6201-1 openssl 3.0.17-1~deb12u2 3.0.19-1~deb12u2",
		"DSA-6204-1 openssh 1:9.2p1-2+deb12u7 1:9.2p1-2+deb12u9",
		"DSA-6335-1 openssl 3.0.17-1~deb12u2 3.0.20-1~deb12u2"]'
expect_jq "vuln: OpenSSL advisories on libssl3 and openssl" "$W/vuln.json" \
	'[.vulnerabilities[] | select(.source_name == "openssl") | .package] | unique == ["libssl3", "openssl"]'
expect_jq "vuln: OpenSSH advisory on openssh-client" "$W/vuln.json" \
	'[.vulnerabilities[] | select(.id == "DSA-6204-1") | .package] == ["openssh-client"]'
expect_jq "vuln: database version in the report" "$W/vuln.json" '.db_version != null'

echo "base: no Debian advisory"
scan_json base "$W/base.json" --db "$W/vulndb"
dpkg_installed "$E2E_CACHE/rootfs/bookworm-minbase/var/lib/dpkg" >"$W/base.installed"
report_debian_findings "$W/base.json" >"$W/base.actual"
expect_findings "base Debian" Debian:12 "$OSV/debian" "$W/base.installed" "$W/base.actual"
expect_jq "base: no Debian findings" "$W/base.json" \
	'[.vulnerabilities[]? | select(.ecosystem == "Debian:12")] == []'

echo "node: npm advisories of the installed versions"
scan_json node "$W/node.json" --db "$W/vulndb"
unpack_rootfs node
npm_roots "$ROOTFS" | awk '{ print $1, $3, $2, $3 }' >"$W/node.installed"
echo "versions installed through express 4.17.1:"
grep -E ' (qs|body-parser|path-to-regexp|send|serve-static|cookie) ' "$W/node.installed" |
	awk '{ print "  " $3 " " $2 " (" $1 ")" }'
# Per installed copy: each node_modules package.json gets its own findings.
jq -r '.vulnerabilities[]? | select(.ecosystem == "npm" and (.path | startswith("app/node_modules/")))
	| "\(.id) \(.path) \(.version) \(.fixed // "-")"' "$W/node.json" | LC_ALL=C sort >"$W/node.actual"
# The table is keyed by name: compare ids, names and versions.
awk '{ print $3, $2, $3, $2 }' "$W/node.installed" | table_expect npm >"$W/node.table-by-name" ||
	check_failed "node: the table has no row for some installed npm version"
jq -r '.vulnerabilities[]? | select(.ecosystem == "npm") | "\(.id) \(.package) \(.version)"' \
	"$W/node.json" | LC_ALL=C sort -u >"$W/node.actual-by-name"
cut -d' ' -f1-3 "$W/node.table-by-name" | LC_ALL=C sort -u >"$W/node.table-by-name.cut"
same_lists "node: npm advisories by name against the table" \
	"$W/node.table-by-name.cut" "$W/node.actual-by-name"
reference_expect npm "$OSV/npm" <"$W/node.installed" >"$W/node.reference"
same_lists "node: npm findings per package.json against the reference matcher" \
	"$W/node.reference" "$W/node.actual"
[ -s "$W/node.reference" ] || check_failed "node: the reference matcher found no npm advisory"

echo "node: findings of app/package-lock.json"
jq -r '.packages | to_entries[] | select(.key != "" and (.value.link | not))
	| "\(.key | sub(".*node_modules/"; "")) \(.value.version) \(.key | sub(".*node_modules/"; "")) \(.value.version)"' \
	"$ROOTFS/app/package-lock.json" | LC_ALL=C sort -u >"$W/lock.installed"
[ -s "$W/lock.installed" ] || fail "app/package-lock.json lists no packages"
reference_expect npm "$OSV/npm" <"$W/lock.installed" >"$W/lock.reference"
# A lockfile entry of an installed package adds no finding of its own, so
# every lockfile finding of the reference must be among the image's npm
# findings, reported once.
jq -r '.vulnerabilities[]? | select(.ecosystem == "npm")
	| "\(.id) \(.package) \(.version) \(.fixed // "-")"' "$W/node.json" | LC_ALL=C sort -u >"$W/lock.actual"
LC_ALL=C sort -u "$W/lock.reference" >"$W/lock.reference.u"
missing=$(LC_ALL=C comm -23 "$W/lock.reference.u" "$W/lock.actual")
[ -z "$missing" ] || check_failed "node: lockfile findings missing from the report: $missing"
dups=$(jq -r '.vulnerabilities[]? | select(.ecosystem == "npm" and .path == "app/package-lock.json")
	| "\(.id) \(.package) \(.version)"' "$W/node.json" | LC_ALL=C sort |
	LC_ALL=C comm -12 - <(jq -r '.vulnerabilities[]? | select(.ecosystem == "npm" and
	(.path | startswith("app/node_modules/"))) | "\(.id) \(.package) \(.version)"' "$W/node.json" |
	LC_ALL=C sort -u))
[ -z "$dups" ] || check_failed "node: lockfile findings repeat installed packages: $dups"

scan_checks_finish
