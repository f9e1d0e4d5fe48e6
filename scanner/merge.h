#ifndef PORTCULLIS_SCANNER_MERGE_H
#define PORTCULLIS_SCANNER_MERGE_H

#include <stddef.h>

#include <jansson.h>

/*
 * The image view: the layer results of one image (scanner/layer_result.h
 * layout), merged as the container runtime stacks the layers.
 *
 * Layers are applied bottom first. Each layer first removes from the view
 * what its markers hide in the layers below it: everything strictly under
 * an opaque directory, and a whited-out path with everything under it.
 * Then it writes its own file results, each replacing the whole earlier
 * entry of the same path, so the last layer that writes
 * var/lib/dpkg/status decides the dpkg package list while files in
 * var/lib/dpkg/status.d/ merge one by one. A marker never hides a file of
 * its own layer.
 *
 * The view is
 *   {"os": OS | null,
 *    "packages": [PACKAGE + "ecosystem", "layer", "path"],
 *    "secrets": [SECRET + "path", "layer"],
 *    "files": [{"path", "mode", "setuid", "setgid", "world_writable",
 *               "uid", "layer"}],
 *    "errors": [{"kind", "message", "layer"}]}
 * "os" comes from etc/os-release, then usr/lib/os-release, then the most
 * specific release file, following a symlinked os-release to its target.
 * OS packages (deb, apk, rpm) get the OS ecosystem, or null when the OS is
 * unknown; language packages keep their own. Packages are deduplicated by
 * (type, name, version, arch, path), and listed by path, then in the
 * order of their file. "layer" is the digest of the layer that wrote the
 * path. Errors come from every layer, hidden or not.
 */

/* Symlinks followed from one os-release or release file to another. */
#define MERGE_MAX_LINK_HOPS 8U

/*
 * Merges n layer results (bottom first; not modified) into a new view
 * stored in *view. Returns PC_OK, PC_ERR_INVALID when a layer is not a
 * layer result object, or PC_ERR_NOMEM; *view is NULL on error.
 */
int image_merge(json_t *const *layers, size_t n, json_t **view);

#endif
