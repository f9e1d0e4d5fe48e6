#!/bin/sh
# Install every Debian package that the build, the tests, the demo and the
# benchmarks need. Safe to run again: it only calls apt-get when a package
# is missing, and refreshes the package lists once in that case.
set -eu

PACKAGES="
build-essential pkg-config git ca-certificates curl jq python3
libevent-dev libnghttp2-dev libcurl4-openssl-dev libssl-dev openssl
libarchive-dev libarchive-tools libisal-dev isal libzstd-dev zstd
libsqlite3-dev sqlite3 libjansson-dev libyaml-dev liblmdb-dev lmdb-utils
libhiredis-dev libcmocka-dev libcrypt-dev
redis-server docker-registry skopeo umoci containerd podman
debootstrap nghttp2-client apache2-utils openssh-client
python3-packaging python3-rpm rpm dpkg-dev golang-go clang libclang-rt-14-dev
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

# Node.js and npm build the npm layers of the test images. Machines that
# already carry a Node.js build of their own keep it: Debian's npm package
# conflicts with those builds.
if ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
