#!/bin/bash
# portcullis scan end to end. A two-layer image is built with umoci from a
# root folder made here. It is scanned as oci:, as docker-archive: (made
# by skopeo), from docker-registry on loopback (by tag and by digest), and
# through a loopback proxy that demands an anonymous Bearer token. The
# checks cover the JSON report and the table, a vulnerability match
# against a database imported from an OSV record written here, policy
# verdicts and exit codes, platform selection from an image index, and
# the errors for a corrupted layer and an unknown tag. KEEP_WORK=1 keeps
# the work folder for debugging.
set -euo pipefail

: "${PORTCULLIS_BIN:?PORTCULLIS_BIN must point to the portcullis binary}"
for tool in umoci skopeo docker-registry jq python3 curl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "skip: $tool is not installed"
		exit 77
	fi
done

work=$(mktemp -d /tmp/test_scan_cli.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_jq FILE FILTER: the jq filter must print true for the report.
expect_jq() {
	local got
	got=$(jq -r "$2" "$1") || fail "jq '$2' failed on $1"
	[ "$got" = "true" ] || fail "$1: expected '$2' to be true, got '$got'"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_http() {
	for _ in $(seq 1 100); do
		if curl -s -o /dev/null "$1"; then
			return 0
		fi
		sleep 0.1
	done
	fail "nothing answers at $1"
}

# --- the image: layer 1 adds files, layer 2 deletes one (a whiteout) ---
root=$work/rootfs
mkdir -p "$root/etc" "$root/usr/lib" "$root/var/lib/dpkg" "$root/usr/bin"
cat >"$root/usr/lib/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
EOF
ln -s ../usr/lib/os-release "$root/etc/os-release"
echo 12.8 >"$root/etc/debian_version"
cat >"$root/var/lib/dpkg/status" <<'EOF'
Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u1
Description: Secure Sockets Layer toolkit

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u1
Description: Secure Sockets Layer toolkit, shared libraries

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
Description: GNU Bourne Again SHell
EOF
printf '#!/bin/sh\n' >"$root/usr/bin/tool"
chmod 4755 "$root/usr/bin/tool"
echo 'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE' >"$root/etc/app.env"
echo 'AWS_ACCESS_KEY_ID=AKIAI44QH8DHBEXAMPLE' >"$root/etc/old.env"

layout=$work/layout
umoci init --layout "$layout"
umoci new --image "$layout:base"
umoci unpack --image "$layout:base" "$work/bundle" >/dev/null
cp -a "$root/." "$work/bundle/rootfs/"
umoci repack --image "$layout:stage1" "$work/bundle"
umoci unpack --image "$layout:stage1" "$work/bundle2" >/dev/null
rm "$work/bundle2/rootfs/etc/old.env"
umoci repack --image "$layout:v1" "$work/bundle2"
umoci config --image "$layout:v1" --config.exposedports 22/tcp \
	--config.env SECRET_TOKEN=abc123
umoci gc --layout "$layout"

check_report() {
	local r=$1
	expect_jq "$r" '.os.family == "debian" and .os.ecosystem == "Debian:12"'
	expect_jq "$r" '[.packages[] | select(.type == "deb")] | length == 3'
	expect_jq "$r" '[.packages[].name] | sort == ["bash", "libssl3", "openssl"]'
	expect_jq "$r" '.packages[] | select(.name == "libssl3") | .source_name == "openssl"'
	expect_jq "$r" '.layers | length == 2'
	expect_jq "$r" '[.layers[].digest | test("^sha256:[0-9a-f]{64}$")] | all'
	expect_jq "$r" '[.secrets[].path] == ["etc/app.env"]'
	expect_jq "$r" '.secrets[0].redacted | test("^AKIA\\*+$")'
	expect_jq "$r" '[.files[] | select(.setuid) | .path] == ["usr/bin/tool"]'
	expect_jq "$r" '.config.exposed_ports == ["22/tcp"]'
	expect_jq "$r" '[.config.findings[].id] | index("ssh_port") != null'
	expect_jq "$r" '[.config.findings[].id] | index("env_secret") != null'
	expect_jq "$r" '.errors == [] and .scanner_version == "1"'
	expect_jq "$r" '.image.platform == "linux/amd64" and .image.size > 0'
	# Secrets never appear in the clear, in the report or the table.
	if grep -q 'AKIAIOSFODNN7EXAMPLE\|abc123' "$r"; then
		fail "$r contains a secret in the clear"
	fi
}

# --- oci: ---
"$PORTCULLIS_BIN" scan --format json "oci:$layout:v1" >"$work/oci.json"
check_report "$work/oci.json"
expect_jq "$work/oci.json" '.image.reference == "v1" and .db_version == null'
expect_jq "$work/oci.json" '.image.media_type == "application/vnd.oci.image.manifest.v1+json"'
expect_jq "$work/oci.json" '.vulnerabilities == []'
digest=$(jq -r .image.digest "$work/oci.json")

"$PORTCULLIS_BIN" scan "oci:$layout:v1" >"$work/oci.txt"
grep -q '^OS  *debian 12 (Debian:12)' "$work/oci.txt" || fail "table lacks the OS line"
grep -q 'usr/bin/tool' "$work/oci.txt" || fail "table lacks the setuid file"
if grep -q 'AKIAIOSFODNN7EXAMPLE' "$work/oci.txt"; then
	fail "the table shows a secret in the clear"
fi

# --- docker-archive: ---
skopeo copy -q "oci:$layout:v1" "docker-archive:$work/image.tar:test/app:v1"
"$PORTCULLIS_BIN" scan --format json "docker-archive:$work/image.tar" >"$work/da.json"
check_report "$work/da.json"
expect_jq "$work/da.json" '.image.repository == "docker.io/test/app" and .image.reference == "v1"'

# --- a vulnerability database with one advisory for openssl ---
mkdir "$work/osv"
cat >"$work/osv/DSA-0001-1.json" <<'EOF'
{"id": "DSA-0001-1", "modified": "2026-01-01T00:00:00Z",
 "aliases": ["CVE-2099-0001"], "summary": "openssl: test advisory",
 "severity": [{"type": "CVSS_V3",
   "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
 "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},
     {"fixed": "3.0.13-1~deb12u1"}]}]}]}
EOF
"$PORTCULLIS_BIN" db import --out "$work/vuln.db" "$work/osv" >/dev/null
"$PORTCULLIS_BIN" scan --format json --db "$work/vuln.db" "oci:$layout:v1" >"$work/vuln.json"
expect_jq "$work/vuln.json" '.db_version | test("^sha256:")'
expect_jq "$work/vuln.json" '[.vulnerabilities[] | select(.id == "DSA-0001-1")] | length == 2'
expect_jq "$work/vuln.json" '[.vulnerabilities[].fixed] | unique == ["3.0.13-1~deb12u1"]'
expect_jq "$work/vuln.json" '[.vulnerabilities[].severity] | unique == ["critical"]'
"$PORTCULLIS_BIN" scan --db "$work/vuln.db" "oci:$layout:v1" >"$work/vuln.txt"
grep -q 'critical  DSA-0001-1' "$work/vuln.txt" || fail "table lacks the vulnerability"

# --- policies: a blocking secrets rule denies (exit 1), audit mode and a
# lenient policy allow (exit 0), and the verdict is in the JSON ---
cat >"$work/deny.yaml" <<'EOF'
threshold: 70
rules:
  secrets:
    weight: 1
    block: true
EOF
cat >"$work/audit.yaml" <<'EOF'
threshold: 70
mode: audit
rules:
  secrets:
    weight: 1
    block: true
EOF
cat >"$work/allow.yaml" <<'EOF'
threshold: 0
rules:
  root_user:
    weight: 1
EOF
rc=0
"$PORTCULLIS_BIN" scan --format json --policy "$work/deny.yaml" "oci:$layout:v1" >"$work/deny.json" || rc=$?
[ "$rc" -eq 1 ] || fail "deny policy: expected exit 1, got $rc"
expect_jq "$work/deny.json" '.verdict.decision == "deny"'
expect_jq "$work/deny.json" '.verdict.blocked_by == ["secrets"]'
rc=0
"$PORTCULLIS_BIN" scan --policy "$work/deny.yaml" "oci:$layout:v1" >"$work/deny.txt" || rc=$?
[ "$rc" -eq 1 ] || fail "deny policy, table: expected exit 1, got $rc"
grep -q '^Verdict: deny (enforce)' "$work/deny.txt" || fail "table lacks the verdict"
"$PORTCULLIS_BIN" scan --format json --policy "$work/audit.yaml" "oci:$layout:v1" >"$work/audit.json"
expect_jq "$work/audit.json" '.verdict.decision == "deny" and .verdict.mode == "audit"'
"$PORTCULLIS_BIN" scan --format json --policy "$work/allow.yaml" "oci:$layout:v1" >"$work/allow.json"
expect_jq "$work/allow.json" '.verdict.decision == "allow"'
rc=0
"$PORTCULLIS_BIN" scan --policy "$work/missing.yaml" "oci:$layout:v1" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "missing policy file: expected exit 2, got $rc"

# --- docker-registry on loopback ---
port=$(free_port)
mkdir "$work/registry"
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port/v2/"
skopeo copy -q --dest-tls-verify=false "oci:$layout:v1" \
	"docker://127.0.0.1:$port/test/app:v1"

"$PORTCULLIS_BIN" scan --plain-http --format json "127.0.0.1:$port/test/app:v1" >"$work/reg.json"
check_report "$work/reg.json"
expect_jq "$work/reg.json" ".image.repository == \"test/app\" and .image.digest == \"$digest\""
"$PORTCULLIS_BIN" scan --format json "http://127.0.0.1:$port/test/app@$digest" >"$work/reg_digest.json"
expect_jq "$work/reg_digest.json" ".image.reference == \"$digest\""

rc=0
"$PORTCULLIS_BIN" scan --plain-http "127.0.0.1:$port/test/app:nope" >/dev/null 2>"$work/nope.err" || rc=$?
[ "$rc" -eq 2 ] || fail "unknown tag: expected exit 2, got $rc"
grep -q 'MANIFEST_UNKNOWN' "$work/nope.err" || fail "unknown tag: no registry error in: $(cat "$work/nope.err")"

# --- the same registry behind a proxy that requires a Bearer token ---
auth_port=$(free_port)
cat >"$work/token_proxy.py" <<'EOF'
import http.server, sys, urllib.request, urllib.error
upstream, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cut = sys.argv[4] if len(sys.argv) > 4 else None  # blob digest to cut short
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/token?"):
            open(log, "a").write(self.path + "\n")
            body = b'{"token": "t0ken", "expires_in": 300}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.headers.get("Authorization") != "Bearer t0ken":
            self.send_response(401)
            self.send_header("WWW-Authenticate",
                'Bearer realm="http://127.0.0.1:%d/token",service="test",'
                'scope="repository:test/app:pull"' % port)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        req = urllib.request.Request(upstream + self.path,
            headers={"Accept": self.headers.get("Accept", "*/*")})
        try:
            r = urllib.request.urlopen(req)
            status, headers, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        self.send_response(status)
        for k in ("Content-Type", "Docker-Content-Digest"):
            if headers.get(k):
                self.send_header(k, headers.get(k))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut is not None and self.path.endswith("/blobs/" + cut):
            self.wfile.write(body[:len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
python3 "$work/token_proxy.py" "http://127.0.0.1:$port" "$auth_port" "$work/tokens.log" &
pids+=($!)
wait_http "http://127.0.0.1:$auth_port/v2/"
"$PORTCULLIS_BIN" scan --plain-http --format json "127.0.0.1:$auth_port/test/app:v1" >"$work/auth.json"
check_report "$work/auth.json"
grep -q 'scope=repository%3Atest%2Fapp%3Apull' "$work/tokens.log" || fail "no token request with the pull scope"

# A download cut in the middle of a layer fails the scan with exit 2.
cut_port=$(free_port)
cut_layer=$(jq -r '.layers[1].digest' "$work/oci.json")
python3 "$work/token_proxy.py" "http://127.0.0.1:$port" "$cut_port" "$work/tokens.log" "$cut_layer" &
pids+=($!)
wait_http "http://127.0.0.1:$cut_port/v2/"
rc=0
"$PORTCULLIS_BIN" scan --plain-http "127.0.0.1:$cut_port/test/app:v1" >/dev/null 2>"$work/cut.err" || rc=$?
[ "$rc" -eq 2 ] || fail "cut download: expected exit 2, got $rc"
grep -q "layer 2 ($cut_layer)" "$work/cut.err" || fail "cut download: $(cat "$work/cut.err")"

# --- an image index: the host's platform is picked, a missing one fails ---
manifest_size=$(stat -c %s "$layout/blobs/sha256/${digest#sha256:}")
cat >"$work/index.json" <<EOF
{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
 "manifests": [
  {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "$digest",
   "size": $manifest_size, "platform": {"os": "linux", "architecture": "arm64"}},
  {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "$digest",
   "size": $manifest_size, "platform": {"os": "linux", "architecture": "amd64"}}]}
EOF
index_digest=sha256:$(sha256sum "$work/index.json" | cut -d' ' -f1)
cp "$work/index.json" "$layout/blobs/sha256/${index_digest#sha256:}"
jq --arg d "$index_digest" --argjson s "$(stat -c %s "$work/index.json")" \
	'.manifests += [{"mediaType": "application/vnd.oci.image.index.v1+json",
	  "digest": $d, "size": $s,
	  "annotations": {"org.opencontainers.image.ref.name": "multi"}}]' \
	"$layout/index.json" >"$work/layout-index.json"
cp "$work/layout-index.json" "$layout/index.json"
"$PORTCULLIS_BIN" scan --format json --platform linux/amd64 "oci:$layout:multi" >"$work/multi.json"
expect_jq "$work/multi.json" ".image.digest == \"$digest\""
rc=0
"$PORTCULLIS_BIN" scan --platform linux/s390x "oci:$layout:multi" >/dev/null 2>"$work/multi.err" || rc=$?
[ "$rc" -eq 2 ] || fail "missing platform: expected exit 2, got $rc"
grep -q 'linux/arm64 linux/amd64' "$work/multi.err" || fail "missing platform: $(cat "$work/multi.err")"

# --- a corrupted layer blob fails with exit 2 and names the mismatch ---
layer=$(jq -r '.layers[1].digest' "$work/oci.json")
blob=$layout/blobs/sha256/${layer#sha256:}
chmod u+w "$blob"
printf 'x' | dd of="$blob" bs=1 seek=20 conv=notrunc status=none
rc=0
"$PORTCULLIS_BIN" scan --format json "oci:$layout:v1" >/dev/null 2>"$work/corrupt.err" || rc=$?
[ "$rc" -eq 2 ] || fail "corrupt layer: expected exit 2, got $rc"
grep -q "$layer" "$work/corrupt.err" || fail "corrupt layer: $(cat "$work/corrupt.err")"

echo "scan cli: all checks passed"
