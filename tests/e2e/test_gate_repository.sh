#!/bin/bash
# One image under two repository names: rules that name repositories
# judge each name on its own, so a verdict made for one repository is
# never reused for another.
. "$(dirname "$0")/lib.sh"
e2e_init

start_registry up
seed_image base up allowed/app:1
seed_image base up blocked/app:1
cat >"$E2E_WORK/policy.yaml" <<'YAML'
threshold: 70
rules:
  allowed_repositories:
    weight: 0
    block: true
    repositories: ["allowed/*"]
YAML
start_portcullis px --upstream "http://127.0.0.1:$up_PORT" --policy "$E2E_WORK/policy.yaml"
P=127.0.0.1:$px_PORT
skopeo copy -q --src-tls-verify=false "docker://$P/allowed/app:1" "oci:$E2E_WORK/a:x" ||
	fail "the allowed repository was refused"
if skopeo copy -q --src-tls-verify=false "docker://$P/blocked/app:1" "oci:$E2E_WORK/b:x" \
	2>"$E2E_WORK/b.err"; then
	fail "the same image was pulled from a repository the policy does not allow"
fi
grep -q "not in allowed_repositories" "$E2E_WORK/b.err" || fail "refusal: $(cat "$E2E_WORK/b.err")"
# Asking in the other order gives the same answers.
skopeo copy -q --src-tls-verify=false "docker://$P/allowed/app:1" "oci:$E2E_WORK/c:x" ||
	fail "the allowed repository was refused after the refusal"
echo "verdicts per repository: ok"
