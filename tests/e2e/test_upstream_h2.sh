#!/bin/bash
# The upstream client over TLS: a second portcullis with a TLS listener
# (certificate from a CA made here) is the upstream of the first, which
# verifies it with a per-upstream CA file and speaks HTTP/2 to it through
# ALPN. Without the CA file the certificate is rejected.
. "$(dirname "$0")/lib.sh"
e2e_init

start_registry up
seed_image base up library/debian:bookworm

cd "$E2E_WORK"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=upstream test CA" \
	-keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout tls.key -out tls.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
	-extfile san.ext -out tls.crt 2>/dev/null
cd - >/dev/null

inner=$(pick_port)
cat >"$E2E_WORK/inner.yaml" <<YAML
listen:
  - address: 127.0.0.1:$inner
    tls:
      cert: $E2E_WORK/tls.crt
      key: $E2E_WORK/tls.key
admin:
  address: 127.0.0.1:$(pick_port)
upstreams:
  - name: docker.io
    url: http://127.0.0.1:$up_PORT
cache:
  dir: $E2E_WORK/inner-cache
YAML
start_bg inner "$PORTCULLIS_BIN" serve -c "$E2E_WORK/inner.yaml"
wait_port "$inner"

outer=$(pick_port)
cat >"$E2E_WORK/outer.yaml" <<YAML
listen:
  - address: 127.0.0.1:$outer
admin:
  address: 127.0.0.1:$(pick_port)
upstreams:
  - name: docker.io
    url: https://localhost:$inner
    ca_file: $E2E_WORK/ca.crt
cache:
  dir: $E2E_WORK/outer-cache
YAML
start_bg outer "$PORTCULLIS_BIN" serve -c "$E2E_WORK/outer.yaml"
wait_port "$outer"

skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$outer/library/debian:bookworm" \
	"oci:$E2E_WORK/out:x" || fail "pull through two proxies failed"
want=$(oci_manifest_digest "$E2E_CACHE/oci/base")
[ "$(jq -r '.manifests[0].digest' "$E2E_WORK/out/index.json")" = "$want" ] ||
	fail "wrong manifest through two proxies"
grep 'method=GET name=library/debian ref=sha256:' "$E2E_WORK/inner.log" | grep -q 'proto=HTTP/2' ||
	fail "the upstream client did not speak HTTP/2 over TLS"

echo "without the CA file the upstream certificate is rejected"
port2=$(pick_port)
cat >"$E2E_WORK/outer2.yaml" <<YAML
listen:
  - address: 127.0.0.1:$port2
admin:
  address: 127.0.0.1:$(pick_port)
upstreams:
  - name: docker.io
    url: https://localhost:$inner
cache:
  dir: $E2E_WORK/outer2-cache
YAML
start_bg outer2 "$PORTCULLIS_BIN" serve -c "$E2E_WORK/outer2.yaml"
wait_port "$port2"
code=$(curl -sS -o "$E2E_WORK/e.json" -w '%{http_code}' \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://127.0.0.1:$port2/v2/library/debian/manifests/bookworm")
[ "$code" = 503 ] || fail "an unverifiable upstream gave $code"
jq -e '.errors[0].code == "UNAVAILABLE"' "$E2E_WORK/e.json" >/dev/null || fail "code for an unverifiable upstream"
grep -qi 'certificate' "$E2E_WORK/outer2.log" || fail "the TLS failure was not logged"
echo "upstream over TLS and HTTP/2: ok"
