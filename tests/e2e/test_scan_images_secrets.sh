#!/bin/bash
# portcullis scan on the secrets test image, and the exit status of scan
# --policy with conf/policy.yaml. The secrets image has an SSH private key
# and an AWS key pair made when the image was built. The test reads the
# raw values from the unpacked image and checks that the report finds them
# and that no output (JSON, table, verdict, stderr) contains them. The
# policy runs cover oci: layouts and a docker-registry on loopback (where
# the image has a repository name that allowed_repositories matches).
# E2E_KEEP=1 keeps the work folder.
. "$(dirname "$0")/lib.sh"
e2e_init
. "$E2E_HERE/data/scan_images_lib.sh"
scan_require_tools umoci skopeo docker-registry jq python3 diff

W=$E2E_WORK
POLICY="$E2E_ROOT/conf/policy.yaml"

# scan_status OUT ARGS...: runs "portcullis scan ARGS" with stdout in OUT
# and stderr in OUT.err, and prints the exit status.
scan_status() {
	local out=$1 rc=0
	shift
	"$PORTCULLIS_BIN" scan "$@" >"$out" 2>"$out.err" || rc=$?
	echo "$rc"
}

# expect_status WHAT EXPECTED ACTUAL OUT: a failed check, with the end of
# the output, when the exit status is not the expected one.
expect_status() {
	if [ "$3" != "$2" ]; then
		check_failed "$1: expected exit $2, got $3"
		tail -n 5 "$4" "$4.err" >&2 || true
	fi
}

echo "secrets: the raw values of the unpacked image"
unpack_rootfs secrets
env_file="$ROOTFS/app/.env"
key_file="$ROOTFS/root/.ssh/id_ed25519"
[ -f "$env_file" ] || fail "$env_file is missing"
[ -f "$key_file" ] || fail "$key_file is missing"
aws_id=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$env_file")
aws_secret=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$env_file")
[[ "$aws_id" =~ ^AKIA[A-Z2-7]{16}$ ]] || fail "unexpected AWS access key id '$aws_id'"
[ "${#aws_secret}" -eq 40 ] || fail "the AWS secret key has ${#aws_secret} characters, not 40"
grep -q -- '-----BEGIN OPENSSH PRIVATE KEY-----' "$key_file" ||
	fail "$key_file is not an OpenSSH private key"
sed -n '/-----BEGIN/,/-----END/{/-----/d;p}' "$key_file" >"$W/key-body"
[ "$(wc -l <"$W/key-body")" -ge 3 ] || fail "the private key body has fewer than 3 lines"

echo "secrets: JSON report"
scan_json secrets "$W/secrets.json"
expect_jq "secrets: private key found" "$W/secrets.json" \
	'any(.secrets[]; .rule == "private-key" and .path == "root/.ssh/id_ed25519")'
expect_jq "secrets: AWS access key id found" "$W/secrets.json" \
	'any(.secrets[]; .rule == "aws-access-key-id" and .path == "app/.env" and .line == 1)'
expect_jq "secrets: AWS secret key found" "$W/secrets.json" \
	'any(.secrets[]; .rule == "aws-secret-access-key" and .path == "app/.env" and .line == 2)'
expect_jq "secrets: every secret redacted" "$W/secrets.json" \
	'(.secrets | length) > 0 and all(.secrets[]; (.redacted | type) == "string" and (.redacted | contains("*")))'
layer2=$(jq -r '.layers[1].digest // "none"' "$W/secrets.json")
expect_jq "secrets: found in the second layer" "$W/secrets.json" \
	"all(.secrets[]; .layer == \"$layer2\")"
expect_jq "secrets: config user root" "$W/secrets.json" '.config.user == "root"'
expect_jq "secrets: root_user config finding" "$W/secrets.json" \
	'any(.config.findings[]; .id == "root_user")'
expect_jq "secrets: ssh_port config finding" "$W/secrets.json" \
	'any(.config.findings[]; .id == "ssh_port")'
scan_json base "$W/base.json"
expect_jq "base: no secrets" "$W/base.json" '.secrets == []'
expect_jq "base: no root_user or ssh_port finding" "$W/base.json" \
	'[.config.findings[]? | select(.id == "root_user" or .id == "ssh_port")] == []'

echo "secrets: table and verdict outputs"
rc=$(scan_status "$W/secrets.txt" "oci:$E2E_CACHE/oci/secrets")
expect_status "secrets table without a policy" 0 "$rc" "$W/secrets.txt"
for rule in private-key aws-access-key-id aws-secret-access-key; do
	grep -q -- "$rule" "$W/secrets.txt" || check_failed "the table does not list $rule"
done
rc=$(scan_status "$W/secrets-policy.json" --format json --policy "$POLICY" "oci:$E2E_CACHE/oci/secrets")
expect_status "secrets JSON with conf/policy.yaml" 1 "$rc" "$W/secrets-policy.json"
rc=$(scan_status "$W/secrets-policy.txt" --policy "$POLICY" "oci:$E2E_CACHE/oci/secrets")
expect_status "secrets table with conf/policy.yaml" 1 "$rc" "$W/secrets-policy.txt"

echo "secrets: no raw value in any output"
outputs=("$W/secrets.json" "$W/secrets.json.err" "$W/secrets.txt" "$W/secrets.txt.err"
	"$W/secrets-policy.json" "$W/secrets-policy.json.err"
	"$W/secrets-policy.txt" "$W/secrets-policy.txt.err")
# absent WHAT VALUE: a failed check when any output contains VALUE.
absent() {
	local hits
	hits=$(grep -l -F -- "$2" "${outputs[@]}" || true)
	[ -z "$hits" ] || check_failed "$1 appears in: $hits"
}
absent "the AWS access key id" "$aws_id"
absent "the AWS secret key" "$aws_secret"
absent "the environment value of GITHUB_TOKEN" "unset-in-tests"
# Any 8 characters in a row of the random part of the key id or of the
# secret key count as a leak. The redacted form shows 4 at most.
random_id=${aws_id#AKIA}
for ((i = 0; i + 8 <= ${#random_id}; i++)); do
	absent "characters $((i + 5))-$((i + 12)) of the AWS access key id" "${random_id:i:8}"
done
for ((i = 0; i + 8 <= ${#aws_secret}; i++)); do
	absent "characters $((i + 1))-$((i + 8)) of the AWS secret key" "${aws_secret:i:8}"
done
n=0
while read -r line; do
	n=$((n + 1))
	absent "line $n of the private key body" "$line"
done <"$W/key-body"

echo "policy: exit status with conf/policy.yaml"
rc=$(scan_status "$W/base-policy.json" --format json --policy "$POLICY" "oci:$E2E_CACHE/oci/base")
expect_status "base oci: layout with conf/policy.yaml" 0 "$rc" "$W/base-policy.json"
expect_jq "base oci: layout allowed" "$W/base-policy.json" '.verdict.decision == "allow"'
expect_jq "secrets oci: layout blocked by the secrets rule" "$W/secrets-policy.json" \
	'.verdict.decision == "deny" and (.verdict.blocked_by | index("secrets") != null)'
expect_jq "secrets oci: layout secrets rule scores 0" "$W/secrets-policy.json" \
	'any(.verdict.rules[]; .name == "secrets" and .score == 0 and .block == true)'
rc=$(scan_status "$W/missing.txt" --policy "$POLICY" "oci:$W/no-such-layout")
expect_status "missing oci: layout with conf/policy.yaml" 2 "$rc" "$W/missing.txt"
grep -q 'no-such-layout' "$W/missing.txt.err" ||
	check_failed "the error for a missing layout does not name it: $(cat "$W/missing.txt.err")"

echo "policy: exit status through docker-registry on loopback"
start_registry up
seed_image base up library/debian:bookworm
seed_image secrets up library/debian:secrets
R=127.0.0.1:$up_PORT
rc=$(scan_status "$W/reg-base.json" --plain-http --format json --policy "$POLICY" "$R/library/debian:bookworm")
expect_status "base from the registry with conf/policy.yaml" 0 "$rc" "$W/reg-base.json"
expect_jq "base from the registry allowed" "$W/reg-base.json" \
	'.verdict.decision == "allow" and .verdict.blocked_by == []'
rc=$(scan_status "$W/reg-secrets.json" --plain-http --format json --policy "$POLICY" "$R/library/debian:secrets")
expect_status "secrets from the registry with conf/policy.yaml" 1 "$rc" "$W/reg-secrets.json"
expect_jq "secrets from the registry blocked by the secrets rule only" "$W/reg-secrets.json" \
	'.verdict.decision == "deny" and .verdict.blocked_by == ["secrets"]'
rc=$(scan_status "$W/reg-missing.txt" --plain-http --policy "$POLICY" "$R/library/debian:no-such-tag")
expect_status "missing tag in the registry with conf/policy.yaml" 2 "$rc" "$W/reg-missing.txt"
rc=$(scan_status "$W/reg-missing-repo.txt" --plain-http --policy "$POLICY" "$R/library/no-such-repo:latest")
expect_status "missing repository in the registry with conf/policy.yaml" 2 "$rc" "$W/reg-missing-repo.txt"

scan_checks_finish
