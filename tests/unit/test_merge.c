#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/analyzers.h"
#include "scanner/layer_scan.h"
#include "scanner/merge.h"

/*
 * Layers are real tar.gz blobs written with libarchive. The tar walker
 * scans them with the OS, dpkg, apk, files and secrets analyzers, and the
 * merge runs on the layer results.
 */

static const struct analyzer *const test_analyzers[] = {
	&analyzer_os, &analyzer_dpkg, &analyzer_apk, &analyzer_files,
	&analyzer_secrets, NULL,
};

struct entry {
	const char *path;
	char type;          /* 'f' file, 'd' directory, 'l' symlink */
	const char *data;   /* content, or the symlink target */
	mode_t mode;        /* permission bits; 0 means 0644 or 0755 */
};

#define END {NULL, 0, NULL, 0}

static const char debian_os_release[] =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
    "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"
    "VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

static const char status_three[] =
    "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n"
    "Source: glibc\nVersion: 2.36-9+deb12u4\n\n"
    "Package: curl\nStatus: install ok installed\nArchitecture: amd64\n"
    "Version: 7.88.1-10+deb12u5\n\n"
    "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\n"
    "Version: 3.0.11-1~deb12u2\n";

/* The same database after "apt-get purge curl". */
static const char status_purged[] =
    "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n"
    "Source: glibc\nVersion: 2.36-9+deb12u4\n\n"
    "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\n"
    "Version: 3.0.11-1~deb12u2\n";

static const char secret_a[] = "TOKEN=ghp_Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2\n";
static const char secret_b[] = "TOKEN=ghp_Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8\n";

/*
 * Writes entries as a tar.gz layer into a temporary file, scans it and
 * returns the layer result root with "digest" set to digest.
 */
static json_t *
layer_build(const char *digest, const struct entry *entries)
{
	char path[] = "/tmp/portcullis-merge-XXXXXX";
	int fd = mkstemp(path);
	struct archive *a = archive_write_new();
	struct scan_source *src;
	struct layer_result res;
	json_t *root;

	assert_true(fd >= 0);
	assert_non_null(a);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	for (const struct entry *e = entries; e->path != NULL; e++) {
		struct archive_entry *ae = archive_entry_new();
		size_t len = e->type == 'f' ? strlen(e->data) : 0;

		archive_entry_set_pathname(ae, e->path);
		if (e->type == 'd') {
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0755);
		} else if (e->type == 'l') {
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_perm(ae, 0777);
			archive_entry_set_symlink(ae, e->data);
		} else {
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0644);
			archive_entry_set_size(ae, (la_int64_t)len);
		}
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (len > 0)
			assert_int_equal(archive_write_data(a, e->data, len),
			    (la_ssize_t)len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);

	src = scan_source_fd_new(fd);
	assert_non_null(src);
	assert_int_equal(layer_result_init(&res, digest), PC_OK);
	assert_int_equal(layer_scan_run_with(src, NULL, NULL, NULL, &res,
	    test_analyzers), PC_OK);
	scan_source_free(src);
	close(fd);
	unlink(path);

	root = res.root;
	res.root = NULL;
	return root;
}

static json_t *
merge(json_t **layers, size_t n)
{
	json_t *view = NULL;

	assert_int_equal(image_merge(layers, n, &view), PC_OK);
	assert_non_null(view);
	for (size_t i = 0; i < n; i++)
		json_decref(layers[i]);
	return view;
}

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Returns the package of the view named name, or NULL. */
static json_t *
package(const json_t *view, const char *name)
{
	size_t i;
	json_t *pkg;

	json_array_foreach(json_object_get(view, "packages"), i, pkg) {
		if (strcmp(str(pkg, "name"), name) == 0)
			return pkg;
	}
	return NULL;
}

static size_t
count(const json_t *view, const char *key)
{
	return json_array_size(json_object_get(view, key));
}

static void
test_merge_purge_in_upper_layer(void **state)
{
	const struct entry base[] = {
		{"etc/os-release", 'l', "../usr/lib/os-release", 0},
		{"usr/lib/os-release", 'f', debian_os_release, 0},
		{"var/lib/dpkg/status", 'f', status_three, 0},
		END,
	};
	const struct entry upper[] = {
		{"var/lib/dpkg/status", 'f', status_purged, 0},
		END,
	};
	json_t *layers[2] = {
		layer_build("sha256:base", base), layer_build("sha256:upper", upper),
	};
	json_t *view = merge(layers, 2);
	json_t *os = json_object_get(view, "os");
	json_t *pkg;

	/* The symlinked os-release resolves to usr/lib/os-release. */
	assert_string_equal(str(os, "family"), "debian");
	assert_string_equal(str(os, "version"), "12");
	assert_string_equal(str(os, "ecosystem"), "Debian:12");

	assert_int_equal(count(view, "packages"), 2);
	assert_null(package(view, "curl"));
	pkg = package(view, "libc6");
	assert_non_null(pkg);
	assert_string_equal(str(pkg, "layer"), "sha256:upper");
	assert_string_equal(str(pkg, "path"), "var/lib/dpkg/status");
	assert_string_equal(str(pkg, "ecosystem"), "Debian:12");
	assert_string_equal(str(pkg, "source_name"), "glibc");
	json_decref(view);
}

static void
test_merge_whited_out_status(void **state)
{
	const struct entry base[] = {
		{"var/lib/dpkg/status", 'f', status_three, 0},
		END,
	};
	const struct entry upper[] = {
		{"var/lib/dpkg/.wh.status", 'f', "", 0},
		END,
	};
	json_t *layers[2] = {
		layer_build("sha256:base", base), layer_build("sha256:upper", upper),
	};
	json_t *view = merge(layers, 2);

	assert_int_equal(count(view, "packages"), 0);
	/* No OS file: OS packages would get a null ecosystem. */
	assert_true(json_is_null(json_object_get(view, "os")));
	json_decref(view);
}

static void
test_merge_opaque_directory(void **state)
{
	const struct entry base[] = {
		{"app/node_modules/left/config.js", 'f', secret_a, 0},
		{"app/node_modules/right/.env", 'f', secret_a, 0},
		{"app/node_modules.bak/old.env", 'f', secret_a, 0},
		END,
	};
	const struct entry upper[] = {
		{"app/node_modules/", 'd', NULL, 0},
		{"app/node_modules/.wh..wh..opq", 'f', "", 0},
		{"app/node_modules/fresh/.env", 'f', secret_b, 0},
		END,
	};
	json_t *layers[2] = {
		layer_build("sha256:base", base), layer_build("sha256:upper", upper),
	};
	json_t *view = merge(layers, 2);
	json_t *secrets = json_object_get(view, "secrets");
	json_t *first;
	json_t *second;

	/* A sibling whose name starts the same stays. */
	assert_int_equal(json_array_size(secrets), 2);
	first = json_array_get(secrets, 0);
	second = json_array_get(secrets, 1);
	assert_string_equal(str(first, "path"), "app/node_modules.bak/old.env");
	assert_string_equal(str(first, "layer"), "sha256:base");
	assert_string_equal(str(second, "path"), "app/node_modules/fresh/.env");
	assert_string_equal(str(second, "layer"), "sha256:upper");
	assert_string_equal(str(second, "redacted"),
	    "ghp_************************************");
	json_decref(view);
}

static void
test_merge_whiteout_and_readd(void **state)
{
	const struct entry base[] = {
		{"etc/app.env", 'f', secret_a, 0},
		{"etc/ssl/private/app.env", 'f', secret_a, 0},
		END,
	};
	/* The re-added file comes before its whiteout in the tar. */
	const struct entry upper[] = {
		{"etc/app.env", 'f', secret_b, 0},
		{"etc/.wh.app.env", 'f', "", 0},
		{"etc/.wh.ssl", 'f', "", 0},
		END,
	};
	json_t *layers[2] = {
		layer_build("sha256:base", base), layer_build("sha256:upper", upper),
	};
	json_t *view = merge(layers, 2);
	json_t *secret;

	assert_int_equal(count(view, "secrets"), 1);
	secret = json_array_get(json_object_get(view, "secrets"), 0);
	assert_string_equal(str(secret, "path"), "etc/app.env");
	assert_string_equal(str(secret, "layer"), "sha256:upper");
	assert_int_equal(json_integer_value(json_object_get(secret, "line")), 1);
	json_decref(view);
}

static void
test_merge_dot_slash_names(void **state)
{
	const struct entry base[] = {
		{"./etc/alpine-release", 'f', "3.19.1\n", 0},
		{"./lib/apk/db/installed", 'f',
		    "P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\n"
		    "P:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n\n", 0},
		{"./usr/bin/su-exec", 'f', "#!/bin/sh\n", 04755},
		END,
	};
	const struct entry upper[] = {
		{"./usr/bin/.wh.su-exec", 'f', "", 0},
		{"./srv/drop", 'd', NULL, 0777},
		END,
	};
	json_t *layers[2] = {
		layer_build("sha256:base", base), layer_build("sha256:upper", upper),
	};
	json_t *view = merge(layers, 2);
	json_t *pkg;
	json_t *file;

	assert_string_equal(str(json_object_get(view, "os"), "ecosystem"),
	    "Alpine:v3.19");
	pkg = package(view, "libcrypto3");
	assert_non_null(pkg);
	assert_string_equal(str(pkg, "path"), "lib/apk/db/installed");
	assert_string_equal(str(pkg, "source_name"), "openssl");
	assert_string_equal(str(pkg, "ecosystem"), "Alpine:v3.19");

	/* The setuid file is whited out; the world-writable dir remains. */
	assert_int_equal(count(view, "files"), 1);
	file = json_array_get(json_object_get(view, "files"), 0);
	assert_string_equal(str(file, "path"), "srv/drop");
	assert_string_equal(str(file, "mode"), "0777");
	assert_string_equal(str(file, "layer"), "sha256:upper");
	json_decref(view);
}

static void
test_merge_status_d_per_file(void **state)
{
	const struct entry base[] = {
		{"var/lib/dpkg/status.d/libc6", 'f',
		    "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\n"
		    "Source: glibc\n", 0},
		{"var/lib/dpkg/status.d/base-files", 'f',
		    "Package: base-files\nVersion: 12.4+deb12u5\n"
		    "Architecture: amd64\n", 0},
		{"var/lib/dpkg/status.d/base-files.md5sums", 'f',
		    "0123456789abcdef0123456789abcdef  etc/debian_version\n", 0},
		{"etc/debian_version", 'f', "12.5\n", 0},
		END,
	};
	const struct entry upper[] = {
		{"var/lib/dpkg/status.d/libssl3", 'f',
		    "Package: libssl3\nVersion: 3.0.11-1~deb12u2\n"
		    "Architecture: amd64\nSource: openssl\n", 0},
		END,
	};
	json_t *layers[2] = {
		layer_build("sha256:base", base), layer_build("sha256:upper", upper),
	};
	json_t *view = merge(layers, 2);

	assert_int_equal(count(view, "packages"), 3);
	assert_string_equal(str(package(view, "libc6"), "layer"), "sha256:base");
	assert_string_equal(str(package(view, "libssl3"), "layer"),
	    "sha256:upper");
	assert_string_equal(str(package(view, "base-files"), "ecosystem"),
	    "Debian:12");
	assert_string_equal(str(json_object_get(view, "os"), "from"),
	    "debian_version");
	json_decref(view);
}

static void
test_merge_debian_testing_version(void **state)
{
	const struct entry base[] = {
		{"usr/lib/os-release", 'f',
		    "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n"
		    "NAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\n"
		    "ID=debian\n", 0},
		{"etc/os-release", 'l', "../usr/lib/os-release", 0},
		{"etc/debian_version", 'f', "trixie/sid\n", 0},
		END,
	};
	json_t *layers[1] = {layer_build("sha256:base", base)};
	json_t *view = merge(layers, 1);
	json_t *os = json_object_get(view, "os");

	assert_string_equal(str(os, "family"), "debian");
	assert_string_equal(str(os, "version"), "trixie/sid");
	assert_string_equal(str(os, "ecosystem"), "Debian:13");
	assert_string_equal(str(os, "from"), "os-release");
	json_decref(view);
}

static void
test_merge_os_release_beats_release_files(void **state)
{
	const struct entry base[] = {
		{"etc/debian_version", 'f', "bookworm/sid\n", 0},
		{"etc/os-release", 'f',
		    "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\n", 0},
		END,
	};
	const struct entry rocky[] = {
		{"etc/redhat-release", 'l', "rocky-release", 0},
		{"etc/rocky-release", 'f', "Rocky Linux release 9.3 (Blue Onyx)\n",
		    0},
		END,
	};
	json_t *layers[1] = {layer_build("sha256:ubuntu", base)};
	json_t *view = merge(layers, 1);

	assert_string_equal(str(json_object_get(view, "os"), "ecosystem"),
	    "Ubuntu:22.04:LTS");
	json_decref(view);

	layers[0] = layer_build("sha256:rocky", rocky);
	view = merge(layers, 1);
	assert_string_equal(str(json_object_get(view, "os"), "ecosystem"),
	    "Rocky Linux:9");
	json_decref(view);
}

/*
 * Layer results as JSON: language packages keep their ecosystem, a marker
 * does not hide its own layer's files, duplicates collapse, errors of
 * every layer are kept, and "./" or "/" prefixes are normalised.
 */
static void
test_merge_layer_json_rules(void **state)
{
	const char *lower_text =
	    "{\"digest\": \"sha256:one\", \"files\": {"
	    "\"/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA\":"
	    " {\"python\": {\"packages\": [{\"type\": \"pypi\", \"name\": \"six\","
	    " \"version\": \"1.16.0\", \"ecosystem\": \"PyPI\"}]}},"
	    "\"var/lib/dpkg/status\": {\"dpkg\": {\"packages\": ["
	    " {\"type\": \"deb\", \"name\": \"a\", \"version\": \"1\"},"
	    " {\"type\": \"deb\", \"name\": \"a\", \"version\": \"1\"}]}}},"
	    "\"whiteouts\": [], \"opaque\": [],"
	    "\"errors\": [{\"kind\": \"scan_error\", \"message\": \"low\"}]}";
	const char *upper_text =
	    "{\"digest\": \"sha256:two\", \"files\": {"
	    "\"./app/.env\": {\"secrets\": [{\"rule\": \"npm-token\","
	    " \"title\": \"npm access token\", \"severity\": \"critical\","
	    " \"line\": 3, \"redacted\": \"npm_****\"}]}},"
	    "\"whiteouts\": [\"./usr/lib/python3/dist-packages/six-1.16.0.dist-info\"],"
	    " \"opaque\": [\"app/\"],"
	    "\"errors\": [{\"kind\": \"limit\", \"message\": \"high\"}]}";
	json_error_t error;
	json_t *layers[2];
	json_t *view;
	json_t *errors;

	layers[0] = json_loads(lower_text, 0, &error);
	layers[1] = json_loads(upper_text, 0, &error);
	assert_non_null(layers[0]);
	assert_non_null(layers[1]);
	view = merge(layers, 2);

	/* The dist-info directory is whited out, the duplicate collapses. */
	assert_int_equal(count(view, "packages"), 1);
	assert_true(json_is_null(json_object_get(package(view, "a"),
	    "ecosystem")));
	/* The opaque app/ of the upper layer keeps its own app/.env. */
	assert_int_equal(count(view, "secrets"), 1);
	assert_string_equal(str(json_array_get(json_object_get(view, "secrets"),
	    0), "path"), "app/.env");

	errors = json_object_get(view, "errors");
	assert_int_equal(json_array_size(errors), 2);
	assert_string_equal(str(json_array_get(errors, 0), "layer"),
	    "sha256:one");
	assert_string_equal(str(json_array_get(errors, 1), "kind"), "limit");
	assert_string_equal(str(json_array_get(errors, 1), "layer"),
	    "sha256:two");
	json_decref(view);

	/* Without the whiteout the PyPI package keeps its own ecosystem. */
	layers[0] = json_loads(lower_text, 0, &error);
	view = merge(layers, 1);
	assert_string_equal(str(package(view, "six"), "ecosystem"), "PyPI");
	assert_string_equal(str(package(view, "six"), "path"),
	    "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA");
	json_decref(view);
}

static void
test_merge_invalid_and_empty(void **state)
{
	json_t *bad[1] = {json_array()};
	json_t *view = json_true();

	assert_int_equal(image_merge(bad, 1, &view), PC_ERR_INVALID);
	assert_null(view);
	json_decref(bad[0]);

	assert_int_equal(image_merge(NULL, 0, &view), PC_OK);
	assert_true(json_is_null(json_object_get(view, "os")));
	assert_int_equal(count(view, "packages"), 0);
	json_decref(view);
}

/* The dedupe key cuts a long name inside a two-byte character. */
static void
test_merge_long_utf8_package_name(void **state)
{
	char name[1300];
	size_t n = 0;
	json_t *layers[1];
	json_t *view;

	name[n++] = 'a';
	for (int i = 0; i < 600; i++) {
		name[n++] = (char)0xc3;
		name[n++] = (char)0xa9;
	}
	name[n] = '\0';
	layers[0] = json_pack("{s:s, s:{s:{s:{s:[{s:s, s:s, s:s}]}}}}",
	    "digest", "sha256:long", "files", "var/lib/dpkg/status", "dpkg",
	    "packages", "type", "deb", "name", name, "version", "1");
	assert_non_null(layers[0]);
	view = merge(layers, 1);
	assert_int_equal(count(view, "packages"), 1);
	json_decref(view);
}

static void
test_merge_symlink_loop(void **state)
{
	const char *text =
	    "{\"digest\": \"sha256:loop\", \"files\": {"
	    "\"etc/os-release\": {\"os\": {\"link\": \"usr/lib/os-release\","
	    " \"from\": \"os-release\"}},"
	    "\"usr/lib/os-release\": {\"os\": {\"link\": \"etc/os-release\","
	    " \"from\": \"os-release\"}},"
	    "\"etc/alpine-release\": {\"os\": {\"family\": \"alpine\","
	    " \"version\": \"3.20.0\", \"ecosystem\": \"Alpine:v3.20\","
	    " \"from\": \"alpine-release\"}}}}";
	json_error_t error;
	json_t *layers[1] = {json_loads(text, 0, &error)};
	json_t *view;

	assert_non_null(layers[0]);
	view = merge(layers, 1);
	assert_string_equal(str(json_object_get(view, "os"), "ecosystem"),
	    "Alpine:v3.20");
	json_decref(view);
}

static void
test_merge_allocation_failures_unwind(void **state)
{
	const struct entry base[] = {
		{"etc/os-release", 'f', debian_os_release, 0},
		{"var/lib/dpkg/status", 'f', status_three, 0},
		{"etc/app.env", 'f', secret_a, 0},
		{"usr/bin/passwd", 'f', "x", 04755},
		END,
	};
	json_t *layer = layer_build("sha256:base", base);

	for (long n = 0; n < 400; n++) {
		json_t *view = NULL;
		int err;

		pc_alloc_fail_after(n);
		err = image_merge(&layer, 1, &view);
		pc_alloc_fail_after(-1);
		assert_true(err == PC_OK || err == PC_ERR_NOMEM);
		assert_true((err == PC_OK) == (view != NULL));
		json_decref(view);
	}
	json_decref(layer);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_purge_in_upper_layer),
		cmocka_unit_test(test_merge_whited_out_status),
		cmocka_unit_test(test_merge_opaque_directory),
		cmocka_unit_test(test_merge_whiteout_and_readd),
		cmocka_unit_test(test_merge_dot_slash_names),
		cmocka_unit_test(test_merge_status_d_per_file),
		cmocka_unit_test(test_merge_debian_testing_version),
		cmocka_unit_test(test_merge_os_release_beats_release_files),
		cmocka_unit_test(test_merge_layer_json_rules),
		cmocka_unit_test(test_merge_invalid_and_empty),
		cmocka_unit_test(test_merge_long_utf8_package_name),
		cmocka_unit_test(test_merge_symlink_loop),
		cmocka_unit_test(test_merge_allocation_failures_unwind),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
