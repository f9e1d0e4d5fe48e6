#!/bin/bash
# portcullis scan on the real test images: the package lists and the OS of
# the report are compared with the output of dpkg-query and with the
# unpacked node_modules trees. Covers the one-layer debootstrap image, a
# layer that purges a package (the dpkg status file rewritten in a later
# layer), the zstd twins of both, and the npm packages of the node image
# plus a derived image with scoped packages copied from the host's npm
# installation.
# E2E_KEEP=1 keeps the work folder.
. "$(dirname "$0")/lib.sh"
e2e_init
. "$E2E_HERE/data/scan_images_lib.sh"
scan_require_tools umoci skopeo dpkg-query jq npm tar diff

W=$E2E_WORK

echo "base: dpkg packages equal dpkg-query on the debootstrap root, OS Debian:12"
scan_json base "$W/base.json"
admindir="$E2E_CACHE/rootfs/bookworm-minbase/var/lib/dpkg"
[ -f "$admindir/status" ] || fail "$admindir/status is missing: rebuild the images with images.sh"
dpkg_packages "$admindir" >"$W/base.expected"
report_deb_packages "$W/base.json" >"$W/base.actual"
[ "$(wc -l <"$W/base.expected")" -gt 50 ] ||
	fail "dpkg-query lists only $(wc -l <"$W/base.expected") packages in $admindir"
same_lists "base: deb packages" "$W/base.expected" "$W/base.actual"
expect_jq "base: OS ecosystem" "$W/base.json" '.os.ecosystem == "Debian:12"'
expect_jq "base: OS family and version" "$W/base.json" \
	'.os.family == "debian" and .os.version == "12"'
expect_jq "base: every deb package in Debian:12" "$W/base.json" \
	'[.packages[] | select(.type == "deb") | .ecosystem] | unique == ["Debian:12"]'
expect_jq "base: no scan errors" "$W/base.json" '.errors == []'

echo "purged: dpkg packages equal dpkg-query on the unpacked image, e2fsprogs gone"
scan_json purged "$W/purged.json"
unpack_rootfs purged
dpkg_packages "$ROOTFS/var/lib/dpkg" >"$W/purged.expected"
report_deb_packages "$W/purged.json" >"$W/purged.actual"
same_lists "purged: deb packages" "$W/purged.expected" "$W/purged.actual"
grep -q '^e2fsprogs ' "$W/base.expected" ||
	fail "e2fsprogs is not in the base image, so its purge proves nothing"
if grep -q '^e2fsprogs ' "$W/purged.expected"; then
	fail "dpkg-query still lists e2fsprogs in the purged image"
fi
expect_jq "purged: e2fsprogs absent" "$W/purged.json" \
	'[.packages[]? | select(.name == "e2fsprogs")] == []'
expect_jq "purged: e2fsprogs present in base" "$W/base.json" \
	'[.packages[] | select(.name == "e2fsprogs")] | length == 1'
expect_jq "purged: OS ecosystem" "$W/purged.json" '.os.ecosystem == "Debian:12"'
expect_jq "purged: two layers" "$W/purged.json" '(.layers | length) == 2'

echo "zstd twins: same packages and OS as the gzip images"
for name in base purged; do
	scan_json "$name-zstd" "$W/$name-zstd.json"
	expect_jq "$name-zstd: every layer is zstd" "$W/$name-zstd.json" \
		'(.layers | length) > 0 and all(.layers[]; .media_type | endswith("+zstd"))'
	expect_jq "$name: every layer is gzip" "$W/$name.json" \
		'all(.layers[]; .media_type | endswith("+gzip"))'
	# Layer digests differ between the twins, but every other package
	# field must be equal.
	for f in "$name" "$name-zstd"; do
		jq -S '[.packages[]? | del(.layer)] | sort_by(.type, .name, .version, .path)' \
			"$W/$f.json" >"$W/$f.pkgs"
		jq -S '.os' "$W/$f.json" >"$W/$f.os"
	done
	same_lists "$name-zstd: packages" "$W/$name.pkgs" "$W/$name-zstd.pkgs"
	same_lists "$name-zstd: OS" "$W/$name.os" "$W/$name-zstd.os"
	expect_jq "$name-zstd: no scan errors" "$W/$name-zstd.json" '.errors == []'
done

echo "node: every package root under /app/node_modules, with its version"
scan_json node "$W/node.json"
unpack_rootfs node
npm_roots "$ROOTFS" >"$W/node.expected"
report_npm_roots "$W/node.json" >"$W/node.actual"
[ "$(wc -l <"$W/node.expected")" -gt 40 ] ||
	fail "only $(wc -l <"$W/node.expected") package roots in the node image"
grep -q ' express 4.17.1$' "$W/node.expected" ||
	fail "express 4.17.1 is not installed in the node image"
same_lists "node: npm packages under app/node_modules" "$W/node.expected" "$W/node.actual"
expect_jq "node: npm packages in ecosystem npm" "$W/node.json" \
	'[.packages[] | select(.type == "npm") | .ecosystem] | unique == ["npm"]'
expect_jq "node: nested ms under send" "$W/node.json" \
	'any(.packages[]; .type == "npm" and .name == "ms" and
		.path == "app/node_modules/send/node_modules/ms/package.json")'
expect_jq "node: the app itself is no package" "$W/node.json" \
	'all(.packages[]; .name != "portcullis-test-app")'

echo "node-scoped: scoped packages keep their @scope/ name"
# A real scoped package from the host's npm installation, preferably one
# with helper package.json files below its root (dist/esm/package.json).
npm_root=$(npm root -g)
scoped=""
for dir in $(find "$npm_root" -maxdepth 4 -type d -path '*/node_modules/@*/*' | LC_ALL=C sort); do
	[ -f "$dir/package.json" ] || continue
	[ -n "$scoped" ] || scoped=$dir
	if [ -n "$(cd "$dir" && find . -mindepth 2 -name package.json -not -path '*/node_modules/*' -print -quit)" ]; then
		scoped=$dir
		break
	fi
done
[ -n "$scoped" ] || fail "no scoped npm package under $npm_root to copy into the image"
scope=$(basename "$(dirname "$scoped")")
pkg=$(basename "$scoped")
echo "copying $scope/$pkg from $scoped"
stage="$W/scoped-layer"
mkdir -p "$stage/app/node_modules/$scope" "$stage/app/node_modules/send/node_modules/$scope"
cp -a "$scoped" "$stage/app/node_modules/$scope/$pkg"
cp -a "$scoped" "$stage/app/node_modules/send/node_modules/$scope/$pkg"
rm -rf "$stage/app/node_modules/$scope/$pkg/node_modules" \
	"$stage/app/node_modules/send/node_modules/$scope/$pkg/node_modules"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -cf "$W/scoped-layer.tar" app
ensure_image node
cp -a "$IMAGE_DIR" "$W/node-scoped"
umoci raw add-layer --image "$W/node-scoped:latest" "$W/scoped-layer.tar" ||
	fail "umoci raw add-layer failed"
umoci unpack --image "$W/node-scoped:latest" "$W/bundle-node-scoped" >/dev/null ||
	fail "umoci unpack of node-scoped failed"
npm_roots "$W/bundle-node-scoped/rootfs" >"$W/node-scoped.expected"
"$PORTCULLIS_BIN" scan --format json "oci:$W/node-scoped" >"$W/node-scoped.json" ||
	fail "scan of node-scoped exited $?"
report_npm_roots "$W/node-scoped.json" >"$W/node-scoped.actual"
grep -q "^app/node_modules/$scope/$pkg/package.json $scope/$pkg " "$W/node-scoped.expected" ||
	fail "the derived image lacks $scope/$pkg"
same_lists "node-scoped: npm packages under app/node_modules" \
	"$W/node-scoped.expected" "$W/node-scoped.actual"
expect_jq "node-scoped: nested scoped package" "$W/node-scoped.json" \
	"any(.packages[]; .name == \"$scope/$pkg\" and
		.path == \"app/node_modules/send/node_modules/$scope/$pkg/package.json\")"

scan_checks_finish
