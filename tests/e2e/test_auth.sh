#!/bin/bash
# Client authentication and authorisation on the registry listener: an
# htpasswd file with bcrypt entries and per-user repository rules, over
# TLS with a client certificate rule too. skopeo logs in with --creds and
# --cert-dir; a wrong password, an unknown user, a user without access
# and a client over its rate limit are refused the way registries do.
. "$(dirname "$0")/lib.sh"
e2e_init

start_registry up
seed_image base up library/debian:bookworm
seed_image base up team/app:v1

htpasswd -B -C 5 -b -c "$E2E_WORK/htpasswd" alice alice-secret 2>/dev/null
htpasswd -B -C 5 -b "$E2E_WORK/htpasswd" bob bob-secret 2>/dev/null

# A test CA, a server certificate and a client certificate.
cd "$E2E_WORK"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=portcullis test CA" \
	-keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
	-extfile san.ext -out server.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/O=Example/CN=build-7" -keyout client.key \
	-out client.csr 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
	-out client.crt 2>/dev/null
mkdir -p certs
cp client.crt certs/client.cert
cp client.key certs/client.key
cp ca.crt certs/ca.crt
cd - >/dev/null

plain=$(pick_port)
tls=$(pick_port)
admin=$(pick_port)
cat >"$E2E_WORK/portcullis.yaml" <<YAML
listen:
  - address: 127.0.0.1:$plain
  - address: 127.0.0.1:$tls
    tls:
      cert: $E2E_WORK/server.crt
      key: $E2E_WORK/server.key
      client_ca: $E2E_WORK/ca.crt
admin:
  address: 127.0.0.1:$admin
  token_file: $E2E_WORK/admin-token
upstreams:
  - name: docker.io
    url: http://127.0.0.1:$up_PORT
cache:
  dir: $E2E_WORK/cache
auth:
  htpasswd: $E2E_WORK/htpasswd
  rules:
    - users: [alice]
      repositories: ["library/*"]
    - users: [bob]
      repositories: ["team/*"]
    - subjects: ["CN=build-7,O=Example"]
      repositories: ["team/*"]
  rate:
    per_client_rps: 5
    per_client_burst: 40
YAML
echo "s3cr3t-admin-token-for-tests" >"$E2E_WORK/admin-token"
"$PORTCULLIS_BIN" config check -c "$E2E_WORK/portcullis.yaml"
sed 's/^  address: 127.0.0.1:'"$admin"'$/  address: 0.0.0.0:'"$admin"'/; /token_file/d' \
	"$E2E_WORK/portcullis.yaml" >"$E2E_WORK/open-admin.yaml"
if "$PORTCULLIS_BIN" config check -c "$E2E_WORK/open-admin.yaml" >"$E2E_WORK/open.out"; then
	fail "an admin listener beyond loopback without a token was accepted"
fi
grep -q "reachable beyond loopback" "$E2E_WORK/open.out" || fail "no admin token message"
start_bg px "$PORTCULLIS_BIN" serve -c "$E2E_WORK/portcullis.yaml"
wait_port "$plain"
wait_port "$tls"
P=127.0.0.1:$plain
T=127.0.0.1:$tls

echo "no credentials: 401 with a challenge"
code=$(curl -sS -D "$E2E_WORK/h" -o "$E2E_WORK/e.json" -w '%{http_code}' "http://$P/v2/")
[ "$code" = 401 ] || fail "/v2/ without credentials gives $code"
grep -qi '^www-authenticate: Basic realm=' "$E2E_WORK/h" || fail "no Basic challenge"
jq -e '.errors[0].code == "UNAUTHORIZED"' "$E2E_WORK/e.json" >/dev/null || fail "401 code"

echo "skopeo with --creds"
skopeo copy -q --src-tls-verify=false --src-creds alice:alice-secret \
	"docker://$P/library/debian:bookworm" "oci:$E2E_WORK/a:x" || fail "alice could not pull"
if skopeo copy -q --src-tls-verify=false --src-creds alice:wrong \
	"docker://$P/library/debian:bookworm" "oci:$E2E_WORK/b:x" 2>"$E2E_WORK/wrong.err"; then
	fail "a wrong password pulled"
fi
grep -qi "unauthorized\|401" "$E2E_WORK/wrong.err" || fail "wrong password: $(cat "$E2E_WORK/wrong.err")"
if skopeo copy -q --src-tls-verify=false --src-creds mallory:x \
	"docker://$P/library/debian:bookworm" "oci:$E2E_WORK/c:x" 2>/dev/null; then
	fail "an unknown user pulled"
fi

echo "a user without access to a repository"
code=$(curl -sS -u bob:bob-secret -o "$E2E_WORK/e1.json" -w '%{http_code}' \
	"http://$P/v2/library/debian/manifests/bookworm")
[ "$code" = 403 ] || fail "bob reading library/debian gives $code"
code=$(curl -sS -u bob:bob-secret -o "$E2E_WORK/e2.json" -w '%{http_code}' \
	"http://$P/v2/library/nothere/manifests/bookworm")
[ "$code" = 403 ] || fail "bob reading a missing repository gives $code"
cmp "$E2E_WORK/e1.json" "$E2E_WORK/e2.json" || fail "the refusal tells a missing repository apart"
jq -e '.errors[0].code == "DENIED"' "$E2E_WORK/e1.json" >/dev/null || fail "403 code"
skopeo copy -q --src-tls-verify=false --src-creds bob:bob-secret \
	"docker://$P/team/app:v1" "oci:$E2E_WORK/d:x" || fail "bob could not pull team/app"
grep -q 'user=bob' "$E2E_WORK/px.log" || fail "the access log lacks the user"
grep -q 'alice-secret\|bob-secret' "$E2E_WORK/px.log" && fail "a password reached the log"

echo "mTLS with skopeo --cert-dir"
skopeo copy -q --src-cert-dir "$E2E_WORK/certs" "docker://localhost:$tls/team/app:v1" \
	"oci:$E2E_WORK/e:x" || fail "the client certificate did not grant team/app"
if skopeo copy -q --src-cert-dir "$E2E_WORK/certs" "docker://localhost:$tls/library/debian:bookworm" \
	"oci:$E2E_WORK/f:x" 2>/dev/null; then
	fail "the client certificate granted library/debian"
fi

echo "TLS 1.2 and 1.3 only, certificates reloaded on SIGHUP"
fingerprint() {
	openssl s_client -connect "$T" -servername localhost -cert "$E2E_WORK/client.crt" \
		-key "$E2E_WORK/client.key" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256
}
if openssl s_client -connect "$T" -tls1_1 </dev/null >/dev/null 2>&1; then
	fail "TLS 1.1 was accepted"
fi
openssl s_client -connect "$T" -tls1_2 -cert "$E2E_WORK/client.crt" -key "$E2E_WORK/client.key" \
	</dev/null >/dev/null 2>&1 || fail "TLS 1.2 was refused"
before=$(fingerprint)
( cd "$E2E_WORK" &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server2.key \
		-out server2.csr 2>/dev/null &&
	openssl x509 -req -in server2.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-extfile san.ext -out server2.crt 2>/dev/null &&
	mv server2.key server.key && mv server2.crt server.crt )
kill -HUP "$px_PID"
for _ in $(seq 50); do grep -q 'event=tls_reloaded' "$E2E_WORK/px.log" && break; sleep 0.1; done
after=$(fingerprint)
[ -n "$before" ] && [ "$before" != "$after" ] || fail "the new certificate is not served after SIGHUP"
kill -0 "$px_PID" || fail "portcullis died on SIGHUP"

echo "a client over its rate limit"
codes=$(for i in $(seq 80); do curl -sS -u alice:alice-secret -o /dev/null -w '%{http_code}\n' "http://$P/v2/"; done | sort | uniq -c)
echo "$codes"
grep -q ' 429$' <<<"$codes" || fail "no request was rate-limited"
curl -sS -u alice:alice-secret -D "$E2E_WORK/h" -o /dev/null "http://$P/v2/" >/dev/null
[ "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/healthz")" = 200 ] ||
	fail "/healthz needs no token"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/stats")" = 401 ] ||
	fail "/stats without the admin token"
stats=$(curl -sSf -H "Authorization: Bearer s3cr3t-admin-token-for-tests" \
	"http://127.0.0.1:$admin/stats")
[ "$(jq '.auth.auth_failures.bad_password' <<<"$stats")" -ge 1 ] || fail "bad passwords not counted"
[ "$(jq '.auth.denied' <<<"$stats")" -ge 2 ] || fail "refusals not counted"
echo "auth: ok"
