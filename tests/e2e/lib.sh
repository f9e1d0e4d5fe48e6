# Shared helpers for the end-to-end tests. Source it from a test script:
#
#   . "$(dirname "$0")/lib.sh"
#   e2e_init                  # work folder, cleanup trap
#   start_registry up         # docker-registry on 127.0.0.1:$up_PORT
#   ensure_image base         # cached OCI layout under $E2E_CACHE/oci/base
#   seed_image base up library/debian:bookworm
#
# Every server binds to 127.0.0.1 on a free port and is stopped on exit.

E2E_CACHE=${PORTCULLIS_TEST_CACHE:-/var/cache/portcullis-tests}
E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_ROOT=$(cd "$E2E_HERE/../.." && pwd)
PORTCULLIS_BIN=${PORTCULLIS_BIN:-$E2E_ROOT/build/portcullis}
E2E_PIDS=()

e2e_init() {
	set -euo pipefail
	E2E_WORK=$(mktemp -d /tmp/portcullis-e2e.XXXXXX)
	trap e2e_cleanup EXIT
}

e2e_cleanup() {
	local rc=$?
	local pid
	for pid in "${E2E_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${E2E_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ] && [ -n "${E2E_WORK:-}" ]; then
		for f in "$E2E_WORK"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 30 lines)"
			tail -30 "$f"
		done
	fi
	if [ -n "${E2E_WORK:-}" ] && [ -z "${E2E_KEEP:-}" ]; then
		rm -rf "$E2E_WORK"
	fi
	exit "$rc"
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "$*"
	exit 77
}

# Prints a TCP port that was free on 127.0.0.1 a moment ago.
pick_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT [SECONDS]: waits until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 limit=${2:-20} i=0
	while ! (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -ge $((limit * 10)) ] && fail "nothing listens on 127.0.0.1:$port after ${limit}s"
		sleep 0.1
	done
}

# start_bg NAME CMD...: runs CMD in the background, output in $E2E_WORK/NAME.log.
start_bg() {
	local name=$1
	shift
	"$@" >"$E2E_WORK/$name.log" 2>&1 &
	E2E_PIDS+=($!)
	eval "${name}_PID=$!"
}

# start_registry NAME [extra YAML]: a Distribution 2.8 registry on a free
# port with its own storage; sets NAME_PORT.
start_registry() {
	local name=$1 extra=${2:-}
	local port
	port=$(pick_port)
	mkdir -p "$E2E_WORK/$name-storage"
	cat >"$E2E_WORK/$name.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $E2E_WORK/$name-storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$extra
YAML
	start_bg "$name" docker-registry serve "$E2E_WORK/$name.yml"
	wait_port "$port"
	eval "${name}_PORT=$port"
}

# start_redis NAME: redis-server on a free port without persistence.
start_redis() {
	local name=$1 port
	port=$(pick_port)
	start_bg "$name" redis-server --bind 127.0.0.1 --port "$port" \
		--save "" --appendonly no --dir "$E2E_WORK"
	wait_port "$port"
	eval "${name}_PORT=$port"
}

# ensure_image NAME: builds (once, cached) the OCI layout $E2E_CACHE/oci/NAME.
ensure_image() {
	"$E2E_HERE/images.sh" "$1" >&2
	IMAGE_DIR="$E2E_CACHE/oci/$1"
}

# seed_image NAME REGISTRY_NAME REPO:TAG: copies a cached image into a registry.
seed_image() {
	local image=$1 reg=$2 ref=$3 port
	ensure_image "$image"
	eval "port=\$${reg}_PORT"
	skopeo copy -q --dest-tls-verify=false "oci:$IMAGE_DIR:latest" \
		"docker://127.0.0.1:$port/$ref" >&2
}

# start_portcullis NAME ARGS...: portcullis serve with ARGS; sets NAME_PORT
# (registry listener) and NAME_ADMIN (admin listener) unless ARGS set them.
start_portcullis() {
	local name=$1 port admin
	shift
	port=$(pick_port)
	admin=$(pick_port)
	mkdir -p "$E2E_WORK/$name-cache"
	start_bg "$name" "$PORTCULLIS_BIN" serve --listen "127.0.0.1:$port" \
		--admin "127.0.0.1:$admin" --cache-dir "$E2E_WORK/$name-cache" "$@"
	wait_port "$port"
	eval "${name}_PORT=$port; ${name}_ADMIN=$admin"
}

# manifest_digest LAYOUT: digest of the manifest tagged latest in an OCI layout.
oci_manifest_digest() {
	jq -r '.manifests[0].digest' "$1/index.json"
}

# sha256 of a file, as "sha256:<hex>".
file_digest() {
	echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

# start_faultserver LAYOUT: tests/e2e/faultserver.py serving the OCI layout
# LAYOUT on a free port; sets FAULT_URL (http://127.0.0.1:PORT).
start_faultserver() {
	python3 "$E2E_HERE/faultserver.py" --root "$1" >"$E2E_WORK/fault.out" \
		2>"$E2E_WORK/fault.log" &
	E2E_PIDS+=($!)
	local i
	for i in $(seq 50); do
		grep -q REDIRECT_PORT "$E2E_WORK/fault.out" 2>/dev/null && break
		sleep 0.1
	done
	FAULT_URL=http://127.0.0.1:$(awk '/^PORT/ {print $2}' "$E2E_WORK/fault.out")
}

# start_containerd: a containerd daemon with its own root, state and socket
# under $E2E_WORK/ctd (its CRI plugin off); sets CTR, the ctr command line.
start_containerd() {
	local ctd=$E2E_WORK/ctd i
	mkdir -p "$ctd"
	cat >"$ctd/config.toml" <<TOML
version = 2
root = "$ctd/root"
state = "$ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt"]
[grpc]
  address = "$ctd/containerd.sock"
[ttrpc]
  address = "$ctd/containerd-ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
TOML
	start_bg ctd containerd --config "$ctd/config.toml"
	for i in $(seq 100); do
		[ -S "$ctd/containerd.sock" ] && break
		sleep 0.1
	done
	[ -S "$ctd/containerd.sock" ] || fail "containerd did not start"
	CTR=(ctr --address "$ctd/containerd.sock" --namespace portcullis-test)
}
