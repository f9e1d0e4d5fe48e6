#!/bin/bash
# Builds the real test images from Debian and npm packages, once, and keeps
# them under ${PORTCULLIS_TEST_CACHE:-/var/cache/portcullis-tests}/oci/NAME
# as OCI layouts tagged "latest". Later runs reuse them, so the tests stay
# fast. Usage: images.sh NAME...   (names below; "all" builds every one)
#
#   base     debootstrap --variant=minbase bookworm, one layer
#   vuln     base + openssl, libssl3 and openssh-client at the versions of
#            bookworm-updates that Debian security advisories cover
#   purged   base + a layer that purges a package with dpkg
#   node     base + /app with real npm packages at old, vulnerable versions
#   secrets  base + a layer with a private key and a cloud access key,
#            running as root with port 22 exposed
#   large    base + one layer of four 80 MB files of incompressible data
#            (~336 MB compressed), for the pull benchmark
#   base-zstd, purged-zstd: the same images with zstd layers
set -euo pipefail

CACHE=${PORTCULLIS_TEST_CACHE:-/var/cache/portcullis-tests}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
mkdir -p "$CACHE/oci" "$CACHE/rootfs"

log() {
	echo "images: $*" >&2
}

# The debootstrap root filesystem, built once.
ensure_rootfs() {
	local dir="$CACHE/rootfs/bookworm-minbase"
	if [ -f "$dir/.complete" ]; then
		return
	fi
	log "debootstrap --variant=minbase bookworm (a few minutes, once)"
	rm -rf "$dir" "$dir.tmp"
	debootstrap --variant=minbase bookworm "$dir.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
	cat >"$dir.tmp/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
SRC
	rm -rf "$dir.tmp/var/cache/apt/archives/"*.deb "$dir.tmp/var/lib/apt/lists/"*
	touch "$dir.tmp/.complete"
	mv "$dir.tmp" "$dir"
}

# new_layout NAME: an empty OCI layout with one empty image tagged latest.
new_layout() {
	local out="$CACHE/oci/$1.tmp"
	rm -rf "$out"
	umoci init --layout "$out"
	umoci new --image "$out:latest"
	echo "$out"
}

# layer_from_dir LAYOUT ROOT: replaces the rootfs of LAYOUT:latest with ROOT
# (copied) and commits it as one new layer.
layer_from_dir() {
	local layout=$1 root=$2 bundle
	bundle=$(mktemp -d "$CACHE/bundle.XXXXXX")
	rmdir "$bundle"
	umoci unpack --image "$layout:latest" "$bundle" >/dev/null
	rm -rf "$bundle/rootfs"
	cp -a "$root" "$bundle/rootfs"
	rm -f "$bundle/rootfs/.complete"
	umoci repack --image "$layout:latest" "$bundle"
	rm -rf "$bundle"
}

# derive NAME FROM SCRIPT: NAME = FROM + one layer made by running SCRIPT
# with the unpacked root filesystem as $1 (and with /proc mounted for chroot).
derive() {
	local name=$1 from=$2 script=$3 out bundle
	out="$CACHE/oci/$name.tmp"
	rm -rf "$out"
	cp -a "$CACHE/oci/$from" "$out"
	bundle=$(mktemp -d "$CACHE/bundle.XXXXXX")
	rmdir "$bundle"
	umoci unpack --image "$out:latest" "$bundle" >/dev/null
	"$script" "$bundle/rootfs"
	umoci repack --image "$out:latest" "$bundle"
	rm -rf "$bundle"
	umoci gc --layout "$out"
	echo "$out"
}

finish() {
	local name=$1 out="$CACHE/oci/$1.tmp"
	rm -rf "$CACHE/oci/$name"
	mv "$out" "$CACHE/oci/$name"
	log "built $name"
}

chroot_run() {
	local root=$1
	shift
	mount -t proc proc "$root/proc"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	local rc=0
	chroot "$root" env DEBIAN_FRONTEND=noninteractive "$@" || rc=$?
	umount "$root/proc"
	return $rc
}

build_base() {
	local out
	ensure_rootfs
	out=$(new_layout base)
	layer_from_dir "$out" "$CACHE/rootfs/bookworm-minbase"
	umoci config --image "$out:latest" --config.user 1000 \
		--config.cmd /bin/bash --author portcullis-tests \
		--created "2026-11-30T12:00:00Z" --history.created "2026-11-30T12:00:00Z" \
		--history.created_by "debootstrap --variant=minbase bookworm"
	umoci gc --layout "$out"
	finish base
}

vuln_layer() {
	chroot_run "$1" sh -c 'apt-get update -q >/dev/null &&
		apt-get install -y -q --no-install-recommends \
			openssl=3.0.17-1~deb12u2 libssl3=3.0.17-1~deb12u2 \
			openssh-client=1:9.2p1-2+deb12u7 >/dev/null &&
		apt-get clean && rm -rf /var/lib/apt/lists/*'
}

purge_layer() {
	# bsdutils-free: "less"-like leaf packages are not in minbase; hostname
	# and e2fsprogs are required but nothing in minbase depends on them.
	chroot_run "$1" dpkg --purge e2fsprogs
}

node_layer() {
	local root=$1 app
	app=$(mktemp -d)
	cat >"$app/package.json" <<'JSON'
{
  "name": "portcullis-test-app",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "lodash": "4.17.4",
    "minimist": "1.2.0",
    "express": "4.17.1",
    "axios": "0.21.0",
    "node-fetch": "2.6.0",
    "ws": "7.4.0",
    "semver": "5.7.1"
  }
}
JSON
	(cd "$app" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
	mkdir -p "$root/app"
	cp -a "$app/." "$root/app/"
	rm -rf "$app"
}

secrets_layer() {
	local root=$1
	mkdir -p "$root/root/.ssh" "$root/app"
	ssh-keygen -q -t ed25519 -N '' -C deploy@example -f "$root/root/.ssh/id_ed25519"
	# A well-formed AWS key pair that belongs to no account: the id is
	# AKIA followed by 16 random characters of the key alphabet.
	local id secret
	id="AKIA$(tr -dc 'A-Z2-7' </dev/urandom | head -c 16)"
	secret=$(tr -dc 'A-Za-z0-9/+' </dev/urandom | head -c 40)
	cat >"$root/app/.env" <<ENV
AWS_ACCESS_KEY_ID=$id
AWS_SECRET_ACCESS_KEY=$secret
ENV
}

large_layer() {
	local root=$1 i
	mkdir -p "$root/data"
	for i in 1 2 3 4; do
		head -c 80M /dev/urandom >"$root/data/blob$i.bin"
	done
}

build_derived() {
	local name=$1 from=$2 fn=$3 out
	"$0" "$from"
	out=$(derive "$name" "$from" "$fn")
	case $name in
	secrets)
		umoci config --image "$out:latest" --config.user root \
			--config.exposedports 22/tcp \
			--config.env GITHUB_TOKEN=unset-in-tests
		umoci gc --layout "$out"
		;;
	esac
	finish "$name"
}

build_zstd() {
	local name=$1 from=${1%-zstd}
	"$0" "$from"
	rm -rf "$CACHE/oci/$name.tmp"
	skopeo copy -q --dest-compress-format zstd --dest-compress \
		"oci:$CACHE/oci/$from:latest" "oci:$CACHE/oci/$name.tmp:latest"
	finish "$name"
}

build() {
	case $1 in
	base) build_base ;;
	vuln) build_derived vuln base vuln_layer ;;
	purged) build_derived purged base purge_layer ;;
	node) build_derived node base node_layer ;;
	secrets) build_derived secrets base secrets_layer ;;
	large) build_derived large base large_layer ;;
	*-zstd) build_zstd "$1" ;;
	*) echo "images.sh: unknown image '$1'" >&2; exit 2 ;;
	esac
}

names=("$@")
if [ "${names[0]:-all}" = all ]; then
	names=(base vuln purged node secrets base-zstd purged-zstd)
fi
# One lock per image: a parent image is built by a recursive call that
# takes its own lock, and two test runs never build the same image at once.
for n in "${names[@]}"; do
	exec 9>"$CACHE/.lock-$n"
	flock 9
	if [ ! -f "$CACHE/oci/$n/index.json" ]; then
		build "$n"
	fi
	flock -u 9
	exec 9>&-
done
