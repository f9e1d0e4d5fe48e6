#!/bin/bash
# portcullis db import and db info on the real OSV records of
# tests/data/osv: a folder, a .zip archive built here with bsdtar, a
# corrupt record that is reported and skipped, and the atomic replacement
# of an existing database.
. "$(dirname "$0")/lib.sh"
e2e_init

data="$E2E_ROOT/tests/data/osv"
db="$E2E_WORK/osv.db"
bin="$PORTCULLIS_BIN"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

expect_line() { # FILE PATTERN: the file must contain a line matching PATTERN
	grep -Eq -- "$2" "$1" || { cat "$1" >&2; fail "no line matching '$2' in $1"; }
}

info_field() { # DB FIELD: prints the value of "FIELD: value" from db info
	"$bin" db info "$1" | sed -n "s/^$2: //p"
}

# 1. Import of the folder: every record but the withdrawn PyPI one.
"$bin" db import --out "$db" "$data" >"$E2E_WORK/import.out" 2>"$E2E_WORK/import.err" ||
	fail "db import of $data failed"
expect_line "$E2E_WORK/import.out" "^imported 378 records from 379 files into $db: 0 invalid, 1 skipped, 0 repeated ids$"
expect_line "$E2E_WORK/import.err" "skipped record PYSEC-2022-43059 .*withdrawn"
mdb_stat -n "$db" >/dev/null 2>&1 || fail "$db is not an LMDB file"

"$bin" db info "$db" >"$E2E_WORK/info.out" || fail "db info failed"
expect_line "$E2E_WORK/info.out" "^version: sha256:[0-9a-f]{64}$"
expect_line "$E2E_WORK/info.out" "^imported: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"
expect_line "$E2E_WORK/info.out" "^records: 378$"
expect_line "$E2E_WORK/info.out" "^  Debian:12: 57$"
expect_line "$E2E_WORK/info.out" "^  npm: 19$"
expect_line "$E2E_WORK/info.out" "^  PyPI: 230$"
expect_line "$E2E_WORK/info.out" "^  Go: 48$"
"$bin" db info --json "$db" | jq -e '.records == 378 and .format == 1 and
	.ecosystems["crates.io"] == 10 and (.version | startswith("sha256:"))' \
	>/dev/null || fail "db info --json does not match the import"
folder_version=$(info_field "$db" version)

# 2. The same records from a .zip archive give the same version.
(cd "$data" && bsdtar -a -cf "$E2E_WORK/all.zip" .) || fail "bsdtar failed"
"$bin" db import --out "$E2E_WORK/zip.db" "$E2E_WORK/all.zip" >/dev/null 2>&1 ||
	fail "db import of the zip failed"
[ "$(info_field "$E2E_WORK/zip.db" version)" = "$folder_version" ] ||
	fail "the zip import has another version than the folder import"
[ "$(info_field "$E2E_WORK/zip.db" records)" = 378 ] || fail "zip record count"

# 3. Corrupt records are reported by id or file name, and skipped.
mkdir -p "$E2E_WORK/bad"
cp "$data"/npm/*.json "$E2E_WORK/bad/"
printf '{"id": "BAD-1", "modified": 5, "affected": []}' >"$E2E_WORK/bad/BAD-1.json"
head -c 300 "$data/npm/GHSA-c2qf-rxjj-qqgw.json" >"$E2E_WORK/bad/truncated.json"
printf '{"id": "BAD-2", "modified": "x", "summary": "\xff\xfe"}' >"$E2E_WORK/bad/BAD-2.json"
"$bin" db import --out "$E2E_WORK/bad.db" "$E2E_WORK/bad" >"$E2E_WORK/bad.out" 2>"$E2E_WORK/bad.err" ||
	fail "db import stopped at a corrupt record"
expect_line "$E2E_WORK/bad.err" "invalid record BAD-1 .*modified is not a string"
expect_line "$E2E_WORK/bad.err" "invalid record in .*truncated.json: invalid JSON"
expect_line "$E2E_WORK/bad.err" "invalid record in .*BAD-2.json: invalid JSON"
expect_line "$E2E_WORK/bad.out" "^imported 19 records from 22 files .*: 3 invalid, 0 skipped"
[ "$(info_field "$E2E_WORK/bad.db" records)" = 19 ] || fail "bad.db record count"

# 4. Atomic replacement: a new import renames a new file over the old one
# and leaves no temporary file; a failed import leaves the old one intact.
old_inode=$(stat -c %i "$db")
"$bin" db import --out "$db" "$data/npm" >/dev/null 2>&1 || fail "re-import failed"
[ "$(stat -c %i "$db")" != "$old_inode" ] || fail "the database was written in place"
[ "$(info_field "$db" records)" = 19 ] || fail "the replaced database is not the new one"
ls "$E2E_WORK" | grep -q 'tmp-' && fail "temporary files left: $(ls "$E2E_WORK")"
npm_version=$(info_field "$db" version)
[ "$npm_version" != "$folder_version" ] || fail "version did not change with content"

if "$bin" db import --out "$db" "$E2E_WORK/missing-folder" >/dev/null 2>"$E2E_WORK/missing.err"; then
	fail "db import of a missing folder succeeded"
fi
expect_line "$E2E_WORK/missing.err" "missing-folder"
[ "$(info_field "$db" version)" = "$npm_version" ] || fail "a failed import changed the database"
ls "$E2E_WORK" | grep -q 'tmp-' && fail "temporary files left after a failed import"

# 5. Usage errors exit 2 with a message.
set +e
"$bin" db import "$data" >/dev/null 2>"$E2E_WORK/usage.err"; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "db import without --out exited $rc"
expect_line "$E2E_WORK/usage.err" "missing --out PATH"
set +e
"$bin" db info "$E2E_WORK/none.db" >/dev/null 2>"$E2E_WORK/none.err"; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "db info of a missing file exited $rc"
expect_line "$E2E_WORK/none.err" "cannot open .*none.db"

echo "db import and db info: ok"
