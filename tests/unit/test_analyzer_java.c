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
#include "common/buf.h"
#include "common/error.h"
#include "scanner/analyzers.h"
#include "scanner/layer_scan.h"
#include "tests/unit/lang_fixture.h"

#define FIXTURES "tests/data/fixtures/java/"

/* A zip archive being written into memory with libarchive. */
struct zip {
	struct archive *a;
	unsigned char *data;
	size_t cap;
	size_t used;
};

static void
zip_begin(struct zip *z, size_t cap)
{
	z->data = malloc(cap);
	assert_non_null(z->data);
	z->cap = cap;
	z->used = 0;
	z->a = archive_write_new();
	assert_non_null(z->a);
	assert_int_equal(archive_write_set_format_zip(z->a), ARCHIVE_OK);
	assert_int_equal(archive_write_zip_set_compression_deflate(z->a),
	    ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(z->a, z->data, z->cap,
	    &z->used), ARCHIVE_OK);
}

static void
zip_header(struct zip *z, const char *name, size_t size)
{
	struct archive_entry *e = archive_entry_new();

	assert_non_null(e);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	assert_int_equal(archive_write_header(z->a, e), ARCHIVE_OK);
	archive_entry_free(e);
}

static void
zip_add(struct zip *z, const char *name, const void *data, size_t len)
{
	zip_header(z, name, len);
	if (len > 0)
		assert_int_equal(archive_write_data(z->a, data, len),
		    (la_ssize_t)len);
}

static void
zip_add_text(struct zip *z, const char *name, const char *text)
{
	zip_add(z, name, text, strlen(text));
}

/* Adds an entry of n bytes of c: it deflates to almost nothing. */
static void
zip_add_filled(struct zip *z, const char *name, int c, size_t n)
{
	static unsigned char block[1 << 20];

	memset(block, c, sizeof(block));
	zip_header(z, name, n);
	while (n > 0) {
		size_t k = n < sizeof(block) ? n : sizeof(block);

		assert_int_equal(archive_write_data(z->a, block, k),
		    (la_ssize_t)k);
		n -= k;
	}
}

/* Closes the archive; the caller owns z->data (z->used bytes). */
static void
zip_end(struct zip *z)
{
	assert_int_equal(archive_write_close(z->a), ARCHIVE_OK);
	archive_write_free(z->a);
	z->a = NULL;
}

static void
zip_add_zip(struct zip *z, const char *name, struct zip *inner)
{
	zip_add(z, name, inner->data, inner->used);
	free(inner->data);
}

static void
add_pom(struct zip *z, const char *group, const char *artifact,
    const char *version)
{
	char name[512], text[512];

	snprintf(name, sizeof(name), "META-INF/maven/%s/%s/pom.properties",
	    group, artifact);
	snprintf(text, sizeof(text), "#Created by Apache Maven 3.9.6\n"
	    "groupId=%s\nartifactId=%s\nversion=%s\n", group, artifact,
	    version);
	zip_add_text(z, name, text);
}

/* A library jar with its pom.properties and a class file. */
static void
library_jar(struct zip *z, const char *group, const char *artifact,
    const char *version)
{
	zip_begin(z, 1 << 20);
	zip_add_text(z, "META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n"
	    "Created-By: Maven JAR Plugin 3.3.0\r\n\r\n");
	add_pom(z, group, artifact, version);
	zip_add(z, "x/Y.class", "\xca\xfe\xba\xbe\0\0\0\x3d", 8);
	zip_end(z);
}

static void
run_java(struct layer_result *res, const char *path, const void *data,
    size_t len)
{
	struct scan_file f = lang_regular_file(path);
	size_t max = 0;

	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	assert_int_equal(analyzer_java.wants(&f, &max), ANALYZER_CONTENT);
	assert_int_equal(analyzer_java.analyze(&f, data, len < max ? len : max,
	    len > max, res), PC_OK);
}

static void
assert_maven(json_t *packages, const char *name, const char *version,
    const char *jar_path)
{
	json_t *pkg = lang_package_find(packages, name, version);

	if (pkg == NULL)
		fail_msg("package %s %s not found", name, version);
	assert_string_equal(json_string_value(json_object_get(pkg, "type")),
	    "maven");
	assert_string_equal(json_string_value(json_object_get(pkg,
	    "ecosystem")), "Maven");
	assert_string_equal(json_string_value(json_object_get(pkg,
	    "jar_path")), jar_path);
}

static void
test_wants_archives(void **state)
{
	static const char *const claimed[] = {
		"opt/app/app.jar", "srv/app.war", "srv/app.ear", "x/y.par",
		"opt/APP.JAR",
	};
	static const char *const skipped[] = {
		"opt/app/app.jar.sha1", "opt/app/jar", "opt/app/app.zip",
		"opt/app/app.java",
	};
	struct scan_file f;
	size_t max;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(claimed) / sizeof(claimed[0]); i++) {
		f = lang_regular_file(claimed[i]);
		max = 0;
		assert_int_equal(analyzer_java.wants(&f, &max),
		    ANALYZER_CONTENT);
		assert_int_equal(max, 32 * 1024 * 1024);
	}
	for (i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
		f = lang_regular_file(skipped[i]);
		assert_int_equal(analyzer_java.wants(&f, &max), ANALYZER_SKIP);
	}
	f = lang_regular_file("opt/app/app.jar");
	f.mode = S_IFLNK | 0777;
	assert_int_equal(analyzer_java.wants(&f, &max), ANALYZER_SKIP);
	f.mode = S_IFDIR | 0755;
	assert_int_equal(analyzer_java.wants(&f, &max), ANALYZER_SKIP);
}

static void
test_real_jar_pom_properties(void **state)
{
	struct layer_result res;
	unsigned char *data;
	json_t *packages;
	size_t len;

	(void)state;
	data = lang_fixture_read(FIXTURES "commons-cli-1.5.0.jar", &len);
	run_java(&res, "usr/share/java/commons-cli.jar", data, len);
	packages = lang_packages(&res, "usr/share/java/commons-cli.jar",
	    "java");
	assert_int_equal(json_array_size(packages), 1);
	assert_maven(packages, "commons-cli:commons-cli", "1.5.0",
	    "usr/share/java/commons-cli.jar");
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
	free(data);
}

static void
test_real_jar_manifest_only(void **state)
{
	struct layer_result res;
	unsigned char *data;
	json_t *packages;
	size_t len;

	(void)state;
	data = lang_fixture_read(FIXTURES "atinject-jsr330-api-1.0.jar", &len);
	run_java(&res, "usr/share/java/atinject-jsr330-api-1.0.jar", data,
	    len);
	packages = lang_packages(&res,
	    "usr/share/java/atinject-jsr330-api-1.0.jar", "java");
	/*
	 * No title is a valid artifact id, so the artifact comes from the
	 * file name, the group from Bundle-SymbolicName "javax.inject" and
	 * the version from Bundle-Version.
	 */
	assert_int_equal(json_array_size(packages), 1);
	assert_maven(packages, "javax:atinject-jsr330-api", "1.0.0",
	    "usr/share/java/atinject-jsr330-api-1.0.jar");
	layer_result_free(&res);
	free(data);
}

static void
test_shaded_jar_reports_each(void **state)
{
	struct layer_result res;
	json_t *packages;
	struct zip z;

	(void)state;
	zip_begin(&z, 1 << 20);
	zip_add_text(&z, "META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"
	    "Implementation-Title: wagon-http\n"
	    "Implementation-Version: 3.5.3\n\n");
	add_pom(&z, "org.apache.maven.wagon", "wagon-http", "3.5.3");
	add_pom(&z, "org.apache.httpcomponents", "httpclient", "4.5.14");
	add_pom(&z, "org.apache.httpcomponents", "httpcore", "4.4.16");
	add_pom(&z, "commons-codec", "commons-codec", "1.15");
	zip_add(&z, "org/apache/http/X.class", "\xca\xfe\xba\xbe", 4);
	zip_end(&z);

	run_java(&res, "opt/wagon-http-3.5.3-shaded.jar", z.data, z.used);
	packages = lang_packages(&res, "opt/wagon-http-3.5.3-shaded.jar",
	    "java");
	assert_int_equal(json_array_size(packages), 4);
	assert_maven(packages, "org.apache.maven.wagon:wagon-http", "3.5.3",
	    "opt/wagon-http-3.5.3-shaded.jar");
	assert_maven(packages, "org.apache.httpcomponents:httpclient",
	    "4.5.14", "opt/wagon-http-3.5.3-shaded.jar");
	assert_maven(packages, "org.apache.httpcomponents:httpcore", "4.4.16",
	    "opt/wagon-http-3.5.3-shaded.jar");
	assert_maven(packages, "commons-codec:commons-codec", "1.15",
	    "opt/wagon-http-3.5.3-shaded.jar");
	assert_null(lang_package_find(packages,
	    "org.apache.httpcomponents:httpclient", "3.5.3"));
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
	free(z.data);
}

static void
test_manifest_attributes(void **state)
{
	static const struct {
		const char *manifest;
		const char *file;
		const char *name;
		const char *version;
	} cases[] = {
		/* Continuation lines, CRLF, vendor id as the group. */
		{ "Manifest-Version: 1.0\r\nImplementation-Title: jackson-d\r\n"
		  " atabind\r\nImplementation-Version: 2.15.\r\n 2\r\n"
		  "Implementation-Vendor-Id: com.fasterxml.jackson.core\r\n\r\n"
		  "Name: x/\r\nImplementation-Version: 9.9\r\n",
		  "lib/a.jar", "com.fasterxml.jackson.core:jackson-databind",
		  "2.15.2" },
		/* OSGi headers with parameters on the symbolic name. */
		{ "Bundle-SymbolicName: org.example.widgets;singleton:=true\n"
		  "Bundle-Version: 4.0.1\nBundle-Name: Example Widgets\n",
		  "lib/b.jar", "org.example:widgets", "4.0.1" },
		/* A title with spaces falls back to the file name. */
		{ "Implementation-Title: Apache Commons Lang\n"
		  "Implementation-Version: 3.12.0\n",
		  "lib/commons-lang3-3.12.0.jar", "commons-lang3", "3.12.0" },
		/* Specification attributes are the last resort. */
		{ "Specification-Title: servlet-api\n"
		  "Specification-Version: 4.0\n",
		  "lib/c.jar", "servlet-api", "4.0" },
		/* No manifest version: the file name gives it. */
		{ "Manifest-Version: 1.0\n", "lib/log4j-1.2-api-2.17.1.jar",
		  "log4j-1.2-api", "2.17.1" },
		/* Attribute names are case-insensitive. */
		{ "implementation-title: lower\nIMPLEMENTATION-VERSION: 1\n",
		  "lib/d.jar", "lower", "1" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct layer_result res;
		json_t *packages;
		struct zip z;

		zip_begin(&z, 1 << 20);
		zip_add_text(&z, "META-INF/MANIFEST.MF", cases[i].manifest);
		zip_end(&z);
		run_java(&res, cases[i].file, z.data, z.used);
		packages = lang_packages(&res, cases[i].file, "java");
		assert_int_equal(json_array_size(packages), 1);
		assert_maven(packages, cases[i].name, cases[i].version,
		    cases[i].file);
		layer_result_free(&res);
		free(z.data);
	}
}

static void
test_no_metadata_no_package(void **state)
{
	struct layer_result res;
	struct zip z;

	(void)state;
	zip_begin(&z, 1 << 20);
	zip_add(&z, "a/B.class", "\xca\xfe\xba\xbe", 4);
	zip_end(&z);
	run_java(&res, "lib/plain.jar", z.data, z.used);
	assert_null(lang_packages(&res, "lib/plain.jar", "java"));
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
	free(z.data);
}

static void
test_empty_entries(void **state)
{
	struct layer_result res;
	struct zip z;

	(void)state;
	zip_begin(&z, 1 << 20);
	zip_add(&z, "META-INF/MANIFEST.MF", "", 0);
	zip_add(&z, "META-INF/maven/g/a/pom.properties", "", 0);
	zip_add(&z, "lib/empty.jar", "", 0);
	zip_end(&z);
	run_java(&res, "lib/empties-1.0.jar", z.data, z.used);
	/* Only the file name names a package; the empty jar is no zip. */
	assert_maven(lang_packages(&res, "lib/empties-1.0.jar", "java"),
	    "empties", "1.0", "lib/empties-1.0.jar");
	assert_true(lang_error_contains(&res,
	    "lib/empties-1.0.jar!lib/empty.jar"));
	layer_result_free(&res);
	free(z.data);
}

static void
test_invalid_utf8_entry_name(void **state)
{
	struct layer_result res;
	json_t *packages;
	struct zip z, inner;

	(void)state;
	zip_begin(&z, 1 << 20);
	library_jar(&inner, "org.example", "odd", "1.0");
	zip_add_zip(&z, "lib/\xff\xfe\x01odd.jar", &inner);
	zip_add_text(&z, "lib/\xc3" "broken-2.0.jar", "not a zip");
	zip_end(&z);
	run_java(&res, "app.jar", z.data, z.used);
	packages = lang_packages(&res, "app.jar", "java");
	assert_int_equal(json_array_size(packages), 1);
	assert_maven(packages, "org.example:odd", "1.0",
	    "app.jar!lib/???odd.jar");
	assert_true(lang_error_contains(&res, "app.jar!lib/?broken-2.0.jar"));
	layer_result_free(&res);
	free(z.data);
}

static void
test_many_pom_properties(void **state)
{
	struct layer_result res;
	struct zip z;
	int i;

	(void)state;
	/* Each pom.properties twice: the copies are reported once. */
	zip_begin(&z, 16 << 20);
	for (i = 0; i < 40000; i++) {
		char version[32];

		snprintf(version, sizeof(version), "1.%d", i / 2);
		add_pom(&z, "g", "a", version);
	}
	zip_end(&z);
	run_java(&res, "fat.jar", z.data, z.used);
	assert_int_equal(json_array_size(lang_packages(&res, "fat.jar",
	    "java")), 20000);
	layer_result_free(&res);
	free(z.data);
}

static void
test_pom_properties_syntax(void **state)
{
	static const char text[] =
	    "! a comment\n"
	    "# another\n"
	    "   groupId : org.example\\\n"
	    "        .deep\r\n"
	    "artifactId\tthing\\u002dcore\n"
	    "version=1.0.0-SNAPSHOT   \n"
	    "version=2.0\n";
	struct layer_result res;
	json_t *packages;
	struct zip z;

	(void)state;
	zip_begin(&z, 1 << 20);
	zip_add_text(&z, "META-INF/maven/org.example.deep/thing-core/"
	    "pom.properties", text);
	/* Properties with an unexpanded variable are no package. */
	zip_add_text(&z, "META-INF/maven/g/a/pom.properties",
	    "groupId=g\nartifactId=a\nversion=${project.version}\n");
	/* A pom.properties elsewhere in the tree is not metadata. */
	zip_add_text(&z, "META-INF/maven/g/pom.properties",
	    "groupId=g\nartifactId=wrong\nversion=1\n");
	zip_end(&z);
	run_java(&res, "lib/t.jar", z.data, z.used);
	packages = lang_packages(&res, "lib/t.jar", "java");
	assert_int_equal(json_array_size(packages), 1);
	assert_maven(packages, "org.example.deep:thing-core", "2.0",
	    "lib/t.jar");
	layer_result_free(&res);
	free(z.data);
}

static void
test_war_with_nested_jars(void **state)
{
	struct layer_result res;
	json_t *packages;
	struct zip war, inner;

	(void)state;
	zip_begin(&war, 4 << 20);
	add_pom(&war, "com.example", "shop", "1.2.0");
	library_jar(&inner, "org.springframework", "spring-core", "5.3.20");
	zip_add_zip(&war, "WEB-INF/lib/spring-core-5.3.20.jar", &inner);
	/* A jar without metadata is named by its file name. */
	zip_begin(&inner, 1 << 20);
	zip_add(&inner, "a/B.class", "\xca\xfe\xba\xbe", 4);
	zip_end(&inner);
	zip_add_zip(&war, "WEB-INF/lib/tiny-lib-0.3.jar", &inner);
	zip_end(&war);

	run_java(&res, "srv/app.war", war.data, war.used);
	packages = lang_packages(&res, "srv/app.war", "java");
	assert_int_equal(json_array_size(packages), 3);
	assert_maven(packages, "com.example:shop", "1.2.0", "srv/app.war");
	assert_maven(packages, "org.springframework:spring-core", "5.3.20",
	    "srv/app.war!WEB-INF/lib/spring-core-5.3.20.jar");
	assert_maven(packages, "tiny-lib", "0.3",
	    "srv/app.war!WEB-INF/lib/tiny-lib-0.3.jar");
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
	free(war.data);
}

/*
 * Wraps a library jar in levels archives: level 1 is the library itself,
 * each further level a jar holding the one below at lib/inner.jar.
 */
static void
nested_chain(struct zip *out, unsigned levels)
{
	struct zip cur, next;
	unsigned i;
	char version[16];

	library_jar(&cur, "org.example", "level1", "1.0");
	for (i = 2; i <= levels; i++) {
		zip_begin(&next, 8 << 20);
		snprintf(version, sizeof(version), "%u.0", i);
		add_pom(&next, "org.example", i == levels ? "outer" : "mid",
		    version);
		zip_add_zip(&next, "lib/inner.jar", &cur);
		zip_end(&next);
		cur = next;
	}
	*out = cur;
}

static void
test_nesting_depth_limit(void **state)
{
	struct layer_result res;
	json_t *packages;
	struct zip z;

	(void)state;
	/* outer (level 0 in the image), then three nested levels: all read. */
	nested_chain(&z, 4);
	run_java(&res, "app/boot.jar", z.data, z.used);
	packages = lang_packages(&res, "app/boot.jar", "java");
	assert_int_equal(json_array_size(packages), 4);
	assert_maven(packages, "org.example:outer", "4.0", "app/boot.jar");
	assert_maven(packages, "org.example:level1", "1.0",
	    "app/boot.jar!lib/inner.jar!lib/inner.jar!lib/inner.jar");
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
	free(z.data);

	/* One level more: the innermost jar is not opened. */
	nested_chain(&z, 5);
	run_java(&res, "app/boot.jar", z.data, z.used);
	packages = lang_packages(&res, "app/boot.jar", "java");
	assert_int_equal(json_array_size(packages), 4);
	assert_null(lang_package_find(packages, "org.example:level1", "1.0"));
	assert_true(lang_error_contains(&res, "more than 3 levels deep"));
	layer_result_free(&res);
	free(z.data);
}

static void
test_corrupt_archives(void **state)
{
	static const char *const garbage[] = {
		"",
		"PK\x03\x04 this is not really a zip",
		"plain text that happens to end in .jar",
	};
	unsigned char random_bytes[8192];
	uint32_t x = 99;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		struct layer_result res;

		run_java(&res, "lib/bad-1.0.jar", garbage[i],
		    strlen(garbage[i]));
		assert_null(lang_packages(&res, "lib/bad-1.0.jar", "java"));
		assert_true(lang_error_count(&res) >= 1);
		assert_true(lang_error_contains(&res, "lib/bad-1.0.jar"));
		layer_result_free(&res);
	}
	for (i = 0; i < sizeof(random_bytes); i++) {
		x = x * 1664525u + 1013904223u;
		random_bytes[i] = (unsigned char)(x >> 24);
	}
	{
		struct layer_result res;

		run_java(&res, "lib/random.jar", random_bytes,
		    sizeof(random_bytes));
		assert_null(lang_packages(&res, "lib/random.jar", "java"));
		assert_true(lang_error_count(&res) >= 1);
		layer_result_free(&res);
	}
}

static void
test_truncated_real_jar(void **state)
{
	struct layer_result res;
	unsigned char *data;
	size_t len;

	(void)state;
	data = lang_fixture_read(FIXTURES "commons-cli-1.5.0.jar", &len);
	/* Without its central directory the jar is read from local headers. */
	run_java(&res, "lib/cut.jar", data, len - 200);
	assert_maven(lang_packages(&res, "lib/cut.jar", "java"),
	    "commons-cli:commons-cli", "1.5.0", "lib/cut.jar");
	layer_result_free(&res);

	/* Cut inside the first entry: nothing to report, one error. */
	run_java(&res, "lib/cut.jar", data, 100);
	assert_null(lang_packages(&res, "lib/cut.jar", "java"));
	assert_true(lang_error_count(&res) >= 1);
	layer_result_free(&res);
	free(data);
}

static void
test_corrupt_nested_jar(void **state)
{
	struct layer_result res;
	json_t *packages;
	struct zip z;

	(void)state;
	zip_begin(&z, 1 << 20);
	add_pom(&z, "com.example", "app", "1.0");
	zip_add_text(&z, "BOOT-INF/lib/broken-1.0.jar", "PK\x03\x04garbage");
	zip_end(&z);
	run_java(&res, "app.jar", z.data, z.used);
	packages = lang_packages(&res, "app.jar", "java");
	assert_int_equal(json_array_size(packages), 1);
	assert_maven(packages, "com.example:app", "1.0", "app.jar");
	assert_true(lang_error_contains(&res,
	    "app.jar!BOOT-INF/lib/broken-1.0.jar"));
	layer_result_free(&res);
	free(z.data);
}

static void
test_zip_bombs(void **state)
{
	struct layer_result res;
	json_t *packages;
	struct zip z;
	int i;

	(void)state;
	/* One nested jar that inflates past the nested archive cap. */
	zip_begin(&z, 8 << 20);
	add_pom(&z, "com.example", "bomb", "1.0");
	zip_add_filled(&z, "BOOT-INF/lib/huge.jar", 0, 200u << 20);
	zip_end(&z);
	assert_true(z.used < (1u << 20));
	run_java(&res, "bomb.jar", z.data, z.used);
	packages = lang_packages(&res, "bomb.jar", "java");
	assert_maven(packages, "com.example:bomb", "1.0", "bomb.jar");
	assert_true(lang_error_contains(&res, "is larger than"));
	layer_result_free(&res);
	free(z.data);

	/* Many nested jars, each under the cap, exhaust the file budget. */
	zip_begin(&z, 8 << 20);
	for (i = 0; i < 6; i++) {
		char name[64];

		snprintf(name, sizeof(name), "WEB-INF/lib/part%d.jar", i);
		zip_add_filled(&z, name, 'A', 30u << 20);
	}
	add_pom(&z, "com.example", "late", "1.0");
	zip_end(&z);
	run_java(&res, "many.war", z.data, z.used);
	assert_true(lang_error_contains(&res, "budget"));
	layer_result_free(&res);
	free(z.data);

	/* A huge manifest is read up to its cap only. */
	zip_begin(&z, 8 << 20);
	zip_add_text(&z, "META-INF/maven/g/big/pom.properties",
	    "groupId=g\nartifactId=big\nversion=7\n");
	zip_add_filled(&z, "META-INF/MANIFEST.MF", 'B', 100u << 20);
	zip_end(&z);
	run_java(&res, "big.jar", z.data, z.used);
	assert_maven(lang_packages(&res, "big.jar", "java"), "g:big", "7",
	    "big.jar");
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
	free(z.data);
}

/* Appends a fixture file to a tar being written under image_path. */
static void
tar_add_fixture(struct archive *a, const char *fixture, const char *image_path)
{
	struct archive_entry *e = archive_entry_new();
	unsigned char *data;
	size_t len;

	assert_non_null(e);
	data = lang_fixture_read(fixture, &len);
	archive_entry_set_pathname(e, image_path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
	free(data);
}

static void
assert_has_package(const struct layer_result *res, const char *path,
    const char *key, const char *name, const char *version)
{
	json_t *packages = lang_packages(res, path, key);

	if (lang_package_find(packages, name, version) == NULL)
		fail_msg("%s: no %s package %s %s", path, key, name, version);
}

/*
 * The registered analyzers, run by the real tar walker over one layer
 * with a file for each language analyzer that reads whole files.
 */
static void
test_language_files_in_layer(void **state)
{
	char tmp[] = "/tmp/portcullis-lang-layer-XXXXXX";
	struct scan_source *src;
	struct layer_result res;
	struct archive *a;
	int fd;

	(void)state;
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	a = archive_write_new();
	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a),
	    ARCHIVE_OK);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	tar_add_fixture(a, "tests/data/fixtures/python/PyJWT-2.6.0.egg-info/"
	    "PKG-INFO", "./usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/"
	    "PKG-INFO");
	tar_add_fixture(a, "tests/data/fixtures/npm/app/node_modules/debug/"
	    "package.json", "app/node_modules/debug/package.json");
	tar_add_fixture(a, "tests/data/fixtures/npm/lock-v3/package-lock.json",
	    "app/package-lock.json");
	tar_add_fixture(a, FIXTURES "commons-cli-1.5.0.jar",
	    "opt/lib/commons-cli-1.5.0.jar");
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);

	src = scan_source_fd_new(fd);
	assert_non_null(src);
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	assert_int_equal(layer_scan_run(src, NULL, NULL, NULL, &res), PC_OK);
	assert_has_package(&res,
	    "usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO",
	    "python", "pyjwt", "2.6.0");
	assert_has_package(&res, "app/node_modules/debug/package.json",
	    "npm", "debug", "4.3.4");
	assert_has_package(&res, "app/package-lock.json", "npm", "ms",
	    "2.1.2");
	assert_has_package(&res, "opt/lib/commons-cli-1.5.0.jar", "java",
	    "commons-cli:commons-cli", "1.5.0");
	layer_result_free(&res);
	scan_source_free(src);
	close(fd);
	unlink(tmp);
}

static void
test_allocation_failures(void **state)
{
	struct zip war, inner;

	(void)state;
	zip_begin(&war, 4 << 20);
	add_pom(&war, "com.example", "shop", "1.2.0");
	zip_add_text(&war, "META-INF/MANIFEST.MF",
	    "Implementation-Title: shop\nImplementation-Version: 1\n");
	library_jar(&inner, "org.example", "lib", "5.0");
	zip_add_zip(&war, "WEB-INF/lib/lib-5.0.jar", &inner);
	zip_end(&war);
	lang_alloc_failures(&analyzer_java, "srv/app.war", war.data, war.used,
	    80, 1);
	free(war.data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants_archives),
		cmocka_unit_test(test_real_jar_pom_properties),
		cmocka_unit_test(test_real_jar_manifest_only),
		cmocka_unit_test(test_shaded_jar_reports_each),
		cmocka_unit_test(test_manifest_attributes),
		cmocka_unit_test(test_no_metadata_no_package),
		cmocka_unit_test(test_empty_entries),
		cmocka_unit_test(test_invalid_utf8_entry_name),
		cmocka_unit_test(test_many_pom_properties),
		cmocka_unit_test(test_pom_properties_syntax),
		cmocka_unit_test(test_war_with_nested_jars),
		cmocka_unit_test(test_nesting_depth_limit),
		cmocka_unit_test(test_corrupt_archives),
		cmocka_unit_test(test_truncated_real_jar),
		cmocka_unit_test(test_corrupt_nested_jar),
		cmocka_unit_test(test_zip_bombs),
		cmocka_unit_test(test_language_files_in_layer),
		cmocka_unit_test(test_allocation_failures),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
