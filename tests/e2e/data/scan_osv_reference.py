#!/usr/bin/env python3
"""Match installed packages against OSV records with the ecosystem's own tools.

Usage: scan_osv_reference.py ECOSYSTEM RECORDS_DIR [SEMVER_MODULE_DIR] <installed

ECOSYSTEM is "Debian:12" (versions compared with `dpkg --compare-versions`)
or "npm" (versions compared with node-semver loaded from SEMVER_MODULE_DIR).
Each input line is "PACKAGE VERSION MATCH_NAME MATCH_VERSION": the record
must name MATCH_NAME (the source package for Debian), MATCH_VERSION is
compared, and PACKAGE VERSION are copied to the output. Each output line is
"ID PACKAGE VERSION FIXED", sorted, where FIXED is the lowest "fixed" event
above MATCH_VERSION in the ranges that contain it ("-" when there is none).

The evaluation follows the OSV schema: a version is affected when it is in
the "versions" list or inside an ECOSYSTEM or SEMVER range. A range is
walked in sorted event order: introduced opens it, fixed closes it at that
version, and last_affected closes it after that version. GIT ranges and
limit events are ignored. The script stops with a message when the reference
tool rejects a version.
"""

import functools
import json
import pathlib
import subprocess
import sys

# node-semver rejects short versions such as "1.0", which npm advisories do
# use in "introduced" events. coerce() fills in the missing parts.
SEMVER_HELPER = r"""
const semver = require(process.argv[1]);
const readline = require("readline");
function parse(v) {
	const p = semver.parse(v) || semver.coerce(v);
	if (p === null) {
		throw new Error("invalid semver version: " + v);
	}
	return p;
}
const rl = readline.createInterface({input: process.stdin});
rl.on("line", (line) => {
	const [a, b] = line.split(" ");
	process.stdout.write(semver.compare(parse(a), parse(b)) + "\n");
});
"""


class DpkgComparator:
    """Orders Debian versions with dpkg itself."""

    def compare(self, a, b):
        if a == b:
            return 0
        for op, result in (("lt", -1), ("gt", 1)):
            rc = subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode
            if rc == 0:
                return result
            if rc != 1:
                sys.exit(f"dpkg --compare-versions {a} {op} {b} failed with exit {rc}")
        return 0

    def close(self):
        pass


class SemverComparator:
    """Orders npm versions with node-semver's compare(), in one node process."""

    def __init__(self, module_dir):
        self.proc = subprocess.Popen(
            ["node", "-e", SEMVER_HELPER, module_dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def compare(self, a, b):
        self.proc.stdin.write(f"{a} {b}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"node-semver failed to compare {a} and {b}")
        return int(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def event_version(event):
    for kind in ("introduced", "fixed", "last_affected"):
        if kind in event:
            return kind, event[kind]
    return None, None


def range_match(cmp, version, events):
    """Returns (affected, fixed) for one range."""
    def key(event):
        return event_version(event)[1]

    def order(x, y):
        vx, vy = key(x), key(y)
        if vx == vy:
            return 0
        if vx == "0":
            return -1
        if vy == "0":
            return 1
        return cmp.compare(vx, vy)

    walk = [e for e in events if event_version(e)[0] is not None]
    walk.sort(key=functools.cmp_to_key(order))
    affected = False
    for event in walk:
        kind, at = event_version(event)
        if kind == "introduced":
            if at == "0" or cmp.compare(version, at) >= 0:
                affected = True
        elif kind == "fixed":
            if cmp.compare(version, at) >= 0:
                affected = False
        elif cmp.compare(version, at) > 0:
            affected = False
    if not affected:
        return False, None
    fixes = [event_version(e)[1] for e in walk if event_version(e)[0] == "fixed"
             and cmp.compare(event_version(e)[1], version) > 0]
    return True, fixes[0] if fixes else None


def record_match(cmp, record, ecosystem, name, version):
    """Returns (affected, fixed) of one record for one package version."""
    hit = False
    fixes = []
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != ecosystem or package.get("name") != name:
            continue
        if version in affected.get("versions", []):
            hit = True
        for rng in affected.get("ranges", []):
            if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue
            ok, fixed = range_match(cmp, version, rng.get("events", []))
            if ok:
                hit = True
                if fixed is not None:
                    fixes.append(fixed)
    if not hit:
        return False, None
    fixes.sort(key=functools.cmp_to_key(cmp.compare))
    return True, fixes[0] if fixes else "-"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ecosystem, records_dir = sys.argv[1], pathlib.Path(sys.argv[2])
    if ecosystem == "npm":
        if len(sys.argv) < 4:
            sys.exit("npm needs the node-semver module folder as the third argument")
        cmp = SemverComparator(sys.argv[3])
    elif ecosystem.startswith("Debian:"):
        cmp = DpkgComparator()
    else:
        sys.exit(f"unsupported ecosystem {ecosystem}")

    records = []
    for path in sorted(records_dir.rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("withdrawn"):
            continue
        records.append(record)

    out = set()
    for line in sys.stdin:
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            sys.exit(f"expected 'PACKAGE VERSION MATCH_NAME MATCH_VERSION', got {line!r}")
        package, version, match_name, match_version = fields
        for record in records:
            hit, fixed = record_match(cmp, record, ecosystem, match_name, match_version)
            if hit:
                out.add(f"{record['id']} {package} {version} {fixed}")
    cmp.close()
    for line in sorted(out):
        print(line)


if __name__ == "__main__":
    main()
