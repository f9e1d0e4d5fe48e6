#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "scanner/analyzers.h"
#include "tests/unit/lang_fixture.h"

/*
 * The rpm databases here are built as rpm >= 4.16 writes them: an SQLite
 * file whose Packages table has one header blob per package. A blob is
 * the header without lead and magic: big-endian index count and data
 * size, 16-byte index entries (tag, type, offset, count), then the data.
 * rpm puts the immutable region tag (63) first, pointing at a 16-byte
 * trailer at the end of the data.
 */

#define RPM_BIN 7U
#define RPM_INT32 4U
#define RPM_STRING 6U

struct tag_value {
	uint32_t tag;
	uint32_t type;
	const char *string;   /* RPM_STRING */
	uint32_t number;      /* RPM_INT32 */
};

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Builds a header blob of the tags given, with the region tag first. */
static void
header_build(const struct tag_value *tags, size_t n, struct buf *out)
{
	unsigned char index[64 * 16];
	unsigned char data[4096];
	size_t dl = 0;
	uint32_t il = (uint32_t)n + 1;
	unsigned char head[8];

	assert_true(n < 63);
	for (size_t i = 0; i < n; i++) {
		unsigned char *e = index + (i + 1) * 16;

		if (tags[i].type == RPM_INT32) {
			while (dl % 4 != 0)
				data[dl++] = 0;
			put_be32(e + 8, (uint32_t)dl);
			put_be32(data + dl, tags[i].number);
			dl += 4;
		} else {
			size_t len = strlen(tags[i].string) + 1;

			put_be32(e + 8, (uint32_t)dl);
			memcpy(data + dl, tags[i].string, len);
			dl += len;
		}
		put_be32(e, tags[i].tag);
		put_be32(e + 4, tags[i].type);
		put_be32(e + 12, 1);
	}
	/* Region tag and its trailer. */
	put_be32(index, 63);
	put_be32(index + 4, RPM_BIN);
	put_be32(index + 8, (uint32_t)dl);
	put_be32(index + 12, 16);
	put_be32(data + dl, 63);
	put_be32(data + dl + 4, RPM_BIN);
	put_be32(data + dl + 8, (uint32_t)(-(int32_t)(il * 16)));
	put_be32(data + dl + 12, 16);
	dl += 16;

	put_be32(head, il);
	put_be32(head + 4, (uint32_t)dl);
	buf_reset(out);
	assert_int_equal(buf_append(out, head, 8), PC_OK);
	assert_int_equal(buf_append(out, index, il * 16), PC_OK);
	assert_int_equal(buf_append(out, data, dl), PC_OK);
}

static void
db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("sqlite: %s", msg);
}

static sqlite3 *
db_create(const char *path)
{
	sqlite3 *db;

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	db_exec(db, "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY "
	    "AUTOINCREMENT,blob BLOB NOT NULL)");
	db_exec(db, "CREATE TABLE 'Name' (key TEXT NOT NULL, hnum INTEGER "
	    "NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES "
	    "'Packages'(hnum))");
	return db;
}

static void
db_insert(sqlite3 *db, const void *blob, size_t len)
{
	sqlite3_stmt *stmt;

	assert_int_equal(sqlite3_prepare_v2(db,
	    "INSERT INTO Packages (blob) VALUES (?)", -1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_bind_blob(stmt, 1, blob, (int)len,
	    SQLITE_TRANSIENT), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
	sqlite3_finalize(stmt);
}

static void
db_insert_tags(sqlite3 *db, const struct tag_value *tags, size_t n)
{
	struct buf blob;

	buf_init(&blob, 1U << 20);
	header_build(tags, n, &blob);
	db_insert(db, blob.data, blob.len);
	buf_free(&blob);
}

/* A private folder for the databases and TMPDIR of one test. */
struct rpm_fixture {
	char dir[64];
	char db_path[128];
	char tmp_dir[128];
};

static int
fixture_setup(void **state)
{
	struct rpm_fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/portcullis-rpmtest-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->db_path, sizeof(fx->db_path), "%s/rpmdb.sqlite", fx->dir);
	snprintf(fx->tmp_dir, sizeof(fx->tmp_dir), "%s/tmp", fx->dir);
	assert_int_equal(mkdir(fx->tmp_dir, 0700), 0);
	setenv("TMPDIR", fx->tmp_dir, 1);
	*state = fx;
	return 0;
}

static int
fixture_teardown(void **state)
{
	struct rpm_fixture *fx = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	unsetenv("TMPDIR");
	free(fx);
	return 0;
}

static size_t
dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Runs the analyzer on the database file as the walker would. */
static void
analyze_db(struct rpm_fixture *fx, const char *path, struct layer_result *res)
{
	struct scan_file f;
	size_t max = 0;
	size_t len;
	unsigned char *data = lang_fixture_read(fx->db_path, &len);

	memset(&f, 0, sizeof(f));
	f.path = path;
	f.mode = S_IFREG | 0644;
	f.size = (int64_t)len;
	assert_int_equal(analyzer_rpm.wants(&f, &max), ANALYZER_CONTENT);
	assert_true(max >= len);
	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	assert_int_equal(analyzer_rpm.analyze(&f, data, len, false, res),
	    PC_OK);
	free(data);
	/* The private copy is gone. */
	assert_int_equal(dir_entries(fx->tmp_dir), 0);
}

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void
insert_el9_packages(sqlite3 *db)
{
	const struct tag_value bash[] = {
		{1000, RPM_STRING, "bash", 0},
		{1001, RPM_STRING, "5.1.8", 0},
		{1002, RPM_STRING, "6.el9_1", 0},
		{1022, RPM_STRING, "x86_64", 0},
		{1044, RPM_STRING, "bash-5.1.8-6.el9_1.src.rpm", 0},
	};
	const struct tag_value openssl_libs[] = {
		{1000, RPM_STRING, "openssl-libs", 0},
		{1001, RPM_STRING, "3.0.7", 0},
		{1002, RPM_STRING, "25.el9_3", 0},
		{1003, RPM_INT32, NULL, 1},
		{1022, RPM_STRING, "x86_64", 0},
		{1044, RPM_STRING, "openssl-3.0.7-25.el9_3.src.rpm", 0},
	};
	const struct tag_value tzdata[] = {
		{1000, RPM_STRING, "tzdata", 0},
		{1001, RPM_STRING, "2023c", 0},
		{1002, RPM_STRING, "1.el9", 0},
		{1003, RPM_INT32, NULL, 0},
		{1022, RPM_STRING, "noarch", 0},
	};
	const struct tag_value pubkey[] = {
		{1000, RPM_STRING, "gpg-pubkey", 0},
		{1001, RPM_STRING, "fd431d51", 0},
		{1002, RPM_STRING, "4ae0493b", 0},
	};

	db_insert_tags(db, bash, sizeof(bash) / sizeof(bash[0]));
	db_insert_tags(db, openssl_libs, 6);
	db_insert_tags(db, tzdata, 5);
	db_insert_tags(db, pubkey, 3);
}

static void
test_rpm_sqlite_database(void **state)
{
	struct rpm_fixture *fx = *state;
	sqlite3 *db = db_create(fx->db_path);
	struct layer_result res;
	json_t *packages;
	json_t *pkg;

	insert_el9_packages(db);
	sqlite3_close(db);
	analyze_db(fx, "var/lib/rpm/rpmdb.sqlite", &res);

	packages = lang_packages(&res, "var/lib/rpm/rpmdb.sqlite", "rpm");
	assert_int_equal(json_array_size(packages), 3);
	pkg = lang_package_find(packages, "bash", "5.1.8-6.el9_1");
	assert_non_null(pkg);
	assert_string_equal(str(pkg, "type"), "rpm");
	assert_string_equal(str(pkg, "arch"), "x86_64");
	assert_string_equal(str(pkg, "source_name"), "bash");
	assert_string_equal(str(pkg, "source_version"), "5.1.8-6.el9_1");

	/* A non-zero epoch leads both versions. */
	pkg = lang_package_find(packages, "openssl-libs", "1:3.0.7-25.el9_3");
	assert_non_null(pkg);
	assert_string_equal(str(pkg, "source_name"), "openssl");
	assert_string_equal(str(pkg, "source_version"), "1:3.0.7-25.el9_3");

	/* Epoch 0 is left out; no SOURCERPM makes the package its source. */
	pkg = lang_package_find(packages, "tzdata", "2023c-1.el9");
	assert_non_null(pkg);
	assert_string_equal(str(pkg, "source_name"), "tzdata");

	assert_null(lang_package_find(packages, "gpg-pubkey",
	    "fd431d51-4ae0493b"));
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
}

static void
test_rpm_sysimage_path(void **state)
{
	struct rpm_fixture *fx = *state;
	sqlite3 *db = db_create(fx->db_path);
	struct layer_result res;

	insert_el9_packages(db);
	sqlite3_close(db);
	analyze_db(fx, "usr/lib/sysimage/rpm/rpmdb.sqlite", &res);
	assert_int_equal(json_array_size(lang_packages(&res,
	    "usr/lib/sysimage/rpm/rpmdb.sqlite", "rpm")), 3);
	layer_result_free(&res);
}

/* Writes a header blob whose field at offset is overwritten with value. */
static void
insert_corrupted(sqlite3 *db, size_t offset, uint32_t value)
{
	const struct tag_value tags[] = {
		{1000, RPM_STRING, "victim", 0},
		{1001, RPM_STRING, "1.0", 0},
		{1002, RPM_STRING, "1", 0},
		{1003, RPM_INT32, NULL, 2},
	};
	struct buf blob;

	buf_init(&blob, 1U << 20);
	header_build(tags, 4, &blob);
	assert_true(offset + 4 <= blob.len);
	put_be32((unsigned char *)blob.data + offset, value);
	db_insert(db, blob.data, blob.len);
	buf_free(&blob);
}

static void
test_rpm_hostile_headers(void **state)
{
	struct rpm_fixture *fx = *state;
	sqlite3 *db = db_create(fx->db_path);
	struct layer_result res;
	static const unsigned char tiny[] = {0, 0, 0};
	json_t *packages;

	insert_el9_packages(db);
	/* Index count far past the blob. */
	insert_corrupted(db, 0, 0x00ffffffU);
	/* Data size past the blob. */
	insert_corrupted(db, 4, 0x7fffffffU);
	/* NAME offset (entry 1) past the data area. */
	insert_corrupted(db, 8 + 16 + 8, 0xfffffff0U);
	/* EPOCH offset (entry 4) at the last data byte: 4 bytes do not fit. */
	insert_corrupted(db, 8 + 4 * 16 + 8, 35);
	/* NAME type changed to INT32. */
	insert_corrupted(db, 8 + 16 + 4, RPM_INT32);
	/* Zero index entries. */
	insert_corrupted(db, 0, 0);
	db_insert(db, tiny, sizeof(tiny));
	sqlite3_close(db);

	analyze_db(fx, "var/lib/rpm/rpmdb.sqlite", &res);
	packages = lang_packages(&res, "var/lib/rpm/rpmdb.sqlite", "rpm");
	assert_int_equal(json_array_size(packages), 3);
	assert_null(lang_package_find(packages, "victim", "2:1.0-1"));
	assert_true(lang_error_contains(&res, "has 7 invalid package headers"));
	layer_result_free(&res);
}

static void
test_rpm_unterminated_string(void **state)
{
	struct rpm_fixture *fx = *state;
	sqlite3 *db = db_create(fx->db_path);
	const struct tag_value tags[] = {
		{1000, RPM_STRING, "x", 0},
		{1001, RPM_STRING, "1", 0},
	};
	struct buf blob;
	struct layer_result res;

	/* Cut the trailer and the NUL of the last string off the data. */
	buf_init(&blob, 1U << 20);
	header_build(tags, 2, &blob);
	put_be32((unsigned char *)blob.data + 4, 3);
	blob.len = 8 + 3 * 16 + 3;
	db_insert(db, blob.data, blob.len);
	buf_free(&blob);
	sqlite3_close(db);

	analyze_db(fx, "var/lib/rpm/rpmdb.sqlite", &res);
	assert_int_equal(json_array_size(lang_packages(&res,
	    "var/lib/rpm/rpmdb.sqlite", "rpm")), 0);
	assert_true(lang_error_contains(&res, "invalid package headers"));
	layer_result_free(&res);
}

static void
test_rpm_invalid_utf8_replaced(void **state)
{
	struct rpm_fixture *fx = *state;
	sqlite3 *db = db_create(fx->db_path);
	const struct tag_value tags[] = {
		{1000, RPM_STRING, "\xff" "bad", 0},
		{1001, RPM_STRING, "1.0", 0},
		{1002, RPM_STRING, "1\xc3", 0},
	};
	struct layer_result res;

	db_insert_tags(db, tags, 3);
	sqlite3_close(db);
	analyze_db(fx, "var/lib/rpm/rpmdb.sqlite", &res);
	assert_non_null(lang_package_find(lang_packages(&res,
	    "var/lib/rpm/rpmdb.sqlite", "rpm"), "?bad", "1.0-1?"));
	layer_result_free(&res);
}

static void
test_rpm_not_sqlite(void **state)
{
	struct rpm_fixture *fx = *state;
	FILE *fp = fopen(fx->db_path, "wb");
	struct layer_result res;

	assert_non_null(fp);
	for (int i = 0; i < 8192; i++)
		fputc((i * 7919) & 0xff, fp);
	fclose(fp);
	analyze_db(fx, "var/lib/rpm/rpmdb.sqlite", &res);
	assert_null(lang_packages(&res, "var/lib/rpm/rpmdb.sqlite", "rpm"));
	assert_true(lang_error_contains(&res,
	    "is not a readable SQLite rpm database"));
	layer_result_free(&res);
}

/* A view in place of the table must not run: it would never end. */
static void
test_rpm_packages_view_rejected(void **state)
{
	struct rpm_fixture *fx = *state;
	sqlite3 *db;
	struct layer_result res;

	unlink(fx->db_path);
	assert_int_equal(sqlite3_open(fx->db_path, &db), SQLITE_OK);
	db_exec(db, "CREATE VIEW Packages AS WITH RECURSIVE n(i) AS "
	    "(SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT zeroblob(8) AS "
	    "blob FROM n");
	sqlite3_close(db);

	analyze_db(fx, "var/lib/rpm/rpmdb.sqlite", &res);
	assert_null(lang_packages(&res, "var/lib/rpm/rpmdb.sqlite", "rpm"));
	assert_true(lang_error_contains(&res,
	    "is not a readable SQLite rpm database"));
	layer_result_free(&res);
}

static void
test_rpm_berkeleydb_unsupported(void **state)
{
	static const char *const paths[] = {
		"var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages",
		"var/lib/rpm/Packages.db",
	};

	for (size_t i = 0; i < 3; i++) {
		struct scan_file f;
		struct layer_result res;
		size_t max = 0;
		json_t *error;

		memset(&f, 0, sizeof(f));
		f.path = paths[i];
		f.mode = S_IFREG | 0644;
		assert_int_equal(analyzer_rpm.wants(&f, &max), ANALYZER_META);
		assert_int_equal(layer_result_init(&res, NULL), PC_OK);
		assert_int_equal(analyzer_rpm.analyze(&f, NULL, 0, false, &res),
		    PC_OK);
		error = json_array_get(json_object_get(res.root, "errors"), 0);
		assert_string_equal(str(error, "kind"), "unsupported");
		assert_true(lang_error_contains(&res, i < 2 ?
		    "unsupported rpm database format (BerkeleyDB): packages "
		    "not listed" : "unsupported rpm database format (NDB)"));
		layer_result_free(&res);
	}
}

static void
test_rpm_truncated_database(void **state)
{
	struct scan_file f;
	struct layer_result res;
	static const unsigned char part[] = "SQLite format 3";

	memset(&f, 0, sizeof(f));
	f.path = "var/lib/rpm/rpmdb.sqlite";
	f.mode = S_IFREG | 0644;
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	assert_int_equal(analyzer_rpm.analyze(&f, part, sizeof(part), true,
	    &res), PC_OK);
	assert_true(lang_error_contains(&res, "packages not listed"));
	layer_result_free(&res);
}

/* Returns whether program is an executable file in a PATH directory. */
static bool
in_path(const char *program)
{
	const char *path = getenv("PATH");
	char dir[512];
	char file[1024];

	while (path != NULL && *path != '\0') {
		size_t n = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
		snprintf(file, sizeof(file), "%s/%s", dir, program);
		if (access(file, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/*
 * Builds a package with rpmbuild and records it with rpm --justdb in an
 * SQLite database, as an EL9 image has it. Skipped where the rpm tools
 * are not installed (Debian's "rpm" package provides both).
 */
static void
test_rpm_database_written_by_rpm(void **state)
{
	static const char spec[] =
	    "Name: hello-portcullis\nVersion: 1.2.3\nRelease: 4.el9\n"
	    "Epoch: 2\nSummary: test package\nLicense: MIT\n"
	    "BuildArch: noarch\n%description\ntest\n%files\n";
	struct rpm_fixture *fx = *state;
	char cmd[2048];
	char spec_path[256];
	struct layer_result res;
	json_t *pkg;
	FILE *fp;

	if (!in_path("rpm") || !in_path("rpmbuild"))
		skip();
	snprintf(spec_path, sizeof(spec_path), "%s/hello.spec", fx->dir);
	fp = fopen(spec_path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(spec, fp) >= 0, 1);
	fclose(fp);

	/* TMPDIR is cleared so that the tools leave the private folder empty. */
	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && env -u TMPDIR rpmbuild --define '_topdir %s/top' "
	    "-bb hello.spec >build.log 2>&1 && "
	    "env -u TMPDIR rpm --dbpath '%s' --define '_db_backend sqlite' "
	    "--initdb && env -u TMPDIR rpm --dbpath '%s' "
	    "--define '_db_backend sqlite' -i --justdb --nodeps --noscripts "
	    "top/RPMS/noarch/hello-portcullis-1.2.3-4.el9.noarch.rpm "
	    ">>build.log 2>&1", fx->dir, fx->dir, fx->dir, fx->dir);
	assert_int_equal(system(cmd), 0);

	analyze_db(fx, "var/lib/rpm/rpmdb.sqlite", &res);
	pkg = lang_package_find(lang_packages(&res, "var/lib/rpm/rpmdb.sqlite",
	    "rpm"), "hello-portcullis", "2:1.2.3-4.el9");
	assert_non_null(pkg);
	assert_string_equal(str(pkg, "arch"), "noarch");
	assert_string_equal(str(pkg, "source_name"), "hello-portcullis");
	assert_string_equal(str(pkg, "source_version"), "2:1.2.3-4.el9");
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rpm_sqlite_database,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rpm_sysimage_path,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rpm_hostile_headers,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rpm_unterminated_string,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rpm_invalid_utf8_replaced,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rpm_not_sqlite,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rpm_database_written_by_rpm,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rpm_packages_view_rejected,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test(test_rpm_berkeleydb_unsupported),
		cmocka_unit_test(test_rpm_truncated_database),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
