#!/usr/bin/env python3
"""A registry upstream for tests that misbehaves on request.

It serves the read side of the OCI distribution API from an OCI image
layout folder (--root) and from files named on the command line, for any
repository name, over plain HTTP/1.1 on 127.0.0.1 only:

  GET|HEAD /v2/                          200
  GET|HEAD /v2/<name>/manifests/<ref>    tag from index.json or --manifest, or digest
  GET|HEAD /v2/<name>/blobs/<digest>     Range "bytes=N-" and "bytes=N-M" give 206

With --tls-cert and --tls-key the registry port speaks HTTPS (ALPN
http/1.1 only); the redirect port stays plain HTTP.

It listens on two ports, both printed on stdout before anything else:

  PORT <n>            the registry
  REDIRECT_PORT <m>   the "CDN" that redirected blob GETs go to; it returns
                      400 to any request that carries an Authorization header

The mode is a JSON object; --mode sets it at start and POST /_mode replaces
it at run time. Keys, all optional (the same keys inside "paths": {"<path>":
{...}} apply to one exact request path and override the global ones):

  cut_after: N          send the full Content-Length, then N body bytes, then close
  stall_after: N        send N body bytes, then wait stall_seconds before the rest
  stall_seconds: S      (default 10)
  delay_headers: S      sleep S seconds before sending the status line
  status: C             respond with status C (429, 503, ...) and an OCI error body
  retry_after: V        Retry-After value sent with status
  redirect: true        answer blob GETs with 307 to REDIRECT_PORT
  redirect_to: URL      answer with 307 and this Location, sent as given (may be relative)
  corrupt: true         flip the first body byte (digest mismatch)
  chunked: true         send the body with chunked encoding and no Content-Length
  extra_headers: N      add N filler header lines to manifest and blob responses
  auth: "bearer"        require a token from GET /token (the realm)
  auth: "basic"         require Basic credentials basic_user/basic_password
  realm: URL            realm to announce instead of http://127.0.0.1:<n>/token
  token_user, token_password: Basic credentials the token endpoint requires
  expires_in: S         expires_in of issued tokens (omitted when unset)
  issued_ago: S         issued_at of issued tokens lies S seconds in the past
  revoke_tokens: true   tokens issued so far become invalid (applied once)
  reject_tokens: true   every token is answered with error="invalid_token"
  insufficient_scope: true  every token is answered with error="insufficient_scope"

GET /_stats returns {"paths": {path: count}, "token_requests": n,
"token_scopes": [...], "redirect_rejected": n, "authorization": {path:
last Authorization value or null}}; POST /_reset zeroes the counters.
"""

import argparse
import base64
import hashlib
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {
    "mode": {},
    "paths": {},
    "token_requests": 0,
    "token_scopes": [],
    "redirect_rejected": 0,
    "authorization": {},
    "valid_tokens": set(),
    "token_serial": 0,
}
BLOBS = {}      # digest -> path
MANIFESTS = {}  # tag or digest -> (path, media type)
PORTS = {}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def load_layout(root):
    """Registers every blob of an OCI layout and the tags of its index.json."""
    blob_dir = os.path.join(root, "blobs", "sha256")
    if os.path.isdir(blob_dir):
        for name in os.listdir(blob_dir):
            BLOBS["sha256:" + name] = os.path.join(blob_dir, name)
    index_path = os.path.join(root, "index.json")
    if not os.path.exists(index_path):
        return
    with open(index_path, encoding="utf-8") as f:
        index = json.load(f)
    for desc in index.get("manifests", []):
        digest = desc["digest"]
        media_type = desc.get("mediaType", "application/vnd.oci.image.manifest.v1+json")
        path = BLOBS.get(digest)
        if path is None:
            continue
        MANIFESTS[digest] = (path, media_type)
        tag = desc.get("annotations", {}).get("org.opencontainers.image.ref.name")
        if tag:
            MANIFESTS[tag] = (path, media_type)


def add_manifest(spec):
    """Registers --manifest TAG=FILE; the media type comes from the file's mediaType."""
    tag, _, path = spec.partition("=")
    with open(path, "rb") as f:
        media_type = json.loads(f.read()).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
    digest = sha256_file(path)
    MANIFESTS[tag] = (path, media_type)
    MANIFESTS[digest] = (path, media_type)
    BLOBS[digest] = path


def effective_mode(path):
    with LOCK:
        mode = dict(STATE["mode"])
    overrides = mode.pop("paths", {}).get(path, {})
    mode.update(overrides)
    return mode


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultserver/1"

    def handle(self):
        # A client that hangs up mid-body is a test case here, not a server error.
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, fmt, *args):
        if os.environ.get("FAULTSERVER_VERBOSE"):
            sys.stderr.write("faultserver: " + (fmt % args) + "\n")

    def path_only(self):
        return urllib.parse.urlsplit(self.path).path

    def count(self):
        path = self.path_only()
        with LOCK:
            STATE["paths"][path] = STATE["paths"].get(path, 0) + 1
            STATE["authorization"][path] = self.headers.get("Authorization")

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_json(self, status, code, message, extra=None):
        self.send_json(status, {"errors": [{"code": code, "message": message}]}, extra)

    def do_HEAD(self):
        self.handle_registry()

    def do_GET(self):
        path = self.path_only()
        if path == "/_stats":
            with LOCK:
                stats = {key: STATE[key] for key in
                         ("paths", "token_requests", "token_scopes", "redirect_rejected",
                          "authorization")}
                self.send_json(200, stats)
            return
        if path == "/token":
            self.handle_token()
            return
        self.handle_registry()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        path = self.path_only()
        if path == "/_mode":
            mode = json.loads(body or b"{}")
            with LOCK:
                if mode.pop("revoke_tokens", False):
                    STATE["valid_tokens"].clear()
                STATE["mode"] = mode
            self.send_json(200, mode)
        elif path == "/_reset":
            with LOCK:
                STATE["paths"] = {}
                STATE["token_requests"] = 0
                STATE["token_scopes"] = []
                STATE["redirect_rejected"] = 0
                STATE["authorization"] = {}
            self.send_json(200, {})
        else:
            self.send_error_json(405, "UNSUPPORTED", "method not allowed")

    def handle_token(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        mode = effective_mode("/token")
        with LOCK:
            STATE["token_requests"] += 1
            STATE["token_scopes"].extend(query.get("scope", []))
        user = mode.get("token_user")
        if user is not None and not self.basic_matches(user, mode.get("token_password", "")):
            self.send_error_json(401, "UNAUTHORIZED", "token endpoint credentials invalid",
                                 {"WWW-Authenticate": 'Basic realm="token"'})
            return
        with LOCK:
            STATE["token_serial"] += 1
            token = "tok-%d-%s" % (STATE["token_serial"], ",".join(query.get("scope", [])))
            STATE["valid_tokens"].add(token)
        issued = time.gmtime(time.time() - float(mode.get("issued_ago", 0)))
        reply = {"token": token, "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", issued)}
        if "expires_in" in mode:
            reply["expires_in"] = mode["expires_in"]
        self.send_json(200, reply)

    def basic_matches(self, user, password):
        expected = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        return self.headers.get("Authorization") == expected

    def check_auth(self, mode):
        """Returns True when the request may go on; otherwise sends the 401."""
        auth = mode.get("auth")
        if auth == "basic":
            if self.basic_matches(mode.get("basic_user", ""), mode.get("basic_password", "")):
                return True
            self.send_error_json(401, "UNAUTHORIZED", "authentication required",
                                 {"WWW-Authenticate": 'Basic realm="faultserver"'})
            return False
        if auth != "bearer":
            return True
        header = self.headers.get("Authorization", "")
        realm = mode.get("realm", "http://127.0.0.1:%d/token" % PORTS["main"])
        challenge = 'Bearer realm="%s",service="faultserver"' % realm
        parts = self.path_only().split("/")
        if len(parts) > 4 and parts[-2] in ("manifests", "blobs"):
            name = "/".join(parts[2:-2])
            challenge += ',scope="repository:%s:pull"' % name
        if header.startswith("Bearer "):
            with LOCK:
                valid = header[7:] in STATE["valid_tokens"] and not mode.get("reject_tokens")
            if valid and not mode.get("insufficient_scope"):
                return True
            challenge += ',error="%s"' % ("insufficient_scope" if valid else "invalid_token")
        self.send_error_json(401, "UNAUTHORIZED", "authentication required",
                             {"WWW-Authenticate": challenge})
        return False

    def handle_registry(self):
        self.count()
        path = self.path_only()
        mode = effective_mode(path)
        if "delay_headers" in mode:
            time.sleep(float(mode["delay_headers"]))
        if not path.startswith("/v2/"):
            self.send_error_json(404, "NOT_FOUND", "not found")
            return
        if not self.check_auth(mode):
            return

        if "redirect_to" in mode:
            self.send_response(307)
            self.send_header("Location", mode["redirect_to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "status" in mode:
            extra = {}
            if "retry_after" in mode:
                extra["Retry-After"] = str(mode["retry_after"])
            code = {429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}.get(mode["status"], "UNKNOWN")
            self.send_error_json(int(mode["status"]), code, "fault injected", extra)
            return
        if path == "/v2/":
            self.send_json(200, {}, {"Docker-Distribution-API-Version": "registry/2.0"})
            return

        parts = path.split("/")
        if len(parts) < 5 or parts[-2] not in ("manifests", "blobs"):
            self.send_error_json(404, "NAME_UNKNOWN", "unknown path")
            return
        ref = parts[-1]
        if parts[-2] == "manifests":
            entry = MANIFESTS.get(ref)
            if entry is None:
                self.send_error_json(404, "MANIFEST_UNKNOWN", "manifest unknown")
                return
            self.send_file(entry[0], entry[1], mode)
            return

        blob = BLOBS.get(ref)
        if blob is None:
            self.send_error_json(404, "BLOB_UNKNOWN", "blob unknown")
            return
        if mode.get("redirect") and self.command == "GET":
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:%d/_redirected/%s"
                             % (PORTS["redirect"], ref))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_file(blob, "application/octet-stream", mode)

    def send_file(self, path, content_type, mode):
        with open(path, "rb") as f:
            data = f.read()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if mode.get("corrupt") and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]

        status = 200
        headers = {}
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first)
            end = int(last) if last else len(data) - 1
            if start >= len(data):
                self.send_error_json(416, "RANGE_INVALID", "range not satisfiable",
                                     {"Content-Range": "bytes */%d" % len(data)})
                return
            end = min(end, len(data) - 1)
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, len(data))
            data = data[start:end + 1]
            status = 206

        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Docker-Content-Digest", digest)
        for name, value in headers.items():
            self.send_header(name, value)
        for i in range(int(mode.get("extra_headers", 0))):
            self.send_header("X-Filler-%d" % i, "x" * 40)
        chunked = mode.get("chunked") and self.command == "GET"
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        self.write_body(data, mode, chunked)

    def write_body(self, data, mode, chunked):
        def write(piece):
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
            self.wfile.flush()

        if "cut_after" in mode:
            write(data[:int(mode["cut_after"])])
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if "stall_after" in mode:
            split = int(mode["stall_after"])
            write(data[:split])
            time.sleep(float(mode.get("stall_seconds", 10)))
            data = data[split:]
        for off in range(0, len(data), 65536):
            write(data[off:off + 65536])
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


class RedirectHandler(Handler):
    """The redirect target: serves blobs by digest, rejects Authorization."""

    def do_GET(self):
        self.count()
        if self.headers.get("Authorization") is not None:
            with LOCK:
                STATE["redirect_rejected"] += 1
            self.send_error_json(400, "INVALID_ARGUMENT",
                                 "only one auth mechanism allowed; Authorization header present")
            return
        path = self.path_only()
        digest = path.rsplit("/", 1)[-1]
        blob = BLOBS.get(digest)
        if not path.startswith("/_redirected/") or blob is None:
            self.send_error_json(404, "BLOB_UNKNOWN", "blob unknown")
            return
        self.send_file(blob, "application/octet-stream", effective_mode(path))

    do_HEAD = do_GET


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="registry port on 127.0.0.1; 0 picks one")
    parser.add_argument("--root", help="OCI image layout folder to serve")
    parser.add_argument("--blob", action="append", default=[], help="file served as a blob by its sha256")
    parser.add_argument("--manifest", action="append", default=[],
                        help="TAG=FILE: serve FILE as manifest TAG (and by its digest)")
    parser.add_argument("--mode", default="{}", help="initial mode, a JSON object")
    parser.add_argument("--tls-cert", help="PEM certificate: serve the registry port over TLS")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    args = parser.parse_args()

    if args.root:
        load_layout(args.root)
    for path in args.blob:
        BLOBS[sha256_file(path)] = path
    for spec in args.manifest:
        add_manifest(spec)
    STATE["mode"] = json.loads(args.mode)

    main_server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    redirect_server = ThreadingHTTPServer(("127.0.0.1", 0), RedirectHandler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        context.set_alpn_protocols(["http/1.1"])
        main_server.socket = context.wrap_socket(main_server.socket, server_side=True)
    for server in (main_server, redirect_server):
        server.daemon_threads = True
    PORTS["main"] = main_server.server_address[1]
    PORTS["redirect"] = redirect_server.server_address[1]
    print("PORT %d" % PORTS["main"])
    print("REDIRECT_PORT %d" % PORTS["redirect"], flush=True)

    threading.Thread(target=redirect_server.serve_forever, daemon=True).start()
    try:
        main_server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
