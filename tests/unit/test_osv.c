/*
 * OSV record validation (osv_parse) against valid, malformed and hostile
 * records, and the walk over .json files, folders and .zip archives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include <jansson.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "scanner/osv.h"

#define AFFECTED_OK \
	"\"affected\": [{\"package\": {\"ecosystem\": \"npm\", \"name\": \"x\"}," \
	" \"ranges\": [{\"type\": \"SEMVER\", \"events\": [{\"introduced\": \"0\"}," \
	" {\"fixed\": \"1.0.0\"}]}]}]"

#define HEAD "\"id\": \"GHSA-test\", \"modified\": \"2026-01-01T00:00:00Z\", "

static char reason[512];

static int
parse(const char *text, json_t **out)
{
	reason[0] = '\0';
	return osv_parse(text, strlen(text), out, reason, sizeof(reason));
}

/* Expects text to be rejected with err and a reason containing needle. */
static void
expect_reject(const char *text, int err, const char *needle)
{
	json_t *rec = (json_t *)1;

	assert_int_equal(parse(text, &rec), err);
	assert_null(rec);
	if (strstr(reason, needle) == NULL)
		fail_msg("reason \"%s\" does not contain \"%s\"", reason, needle);
}

static void
test_valid_record_normalised(void **state)
{
	json_t *rec, *aff;

	assert_int_equal(parse("{" HEAD "\"summary\": \"s\", \"details\": \"d\","
	    " \"aliases\": [\"CVE-1\", \"CVE-2\"], \"upstream\": [\"CVE-1\","
	    " \"GHSA-test\", \"CVE-3\"],"
	    " \"severity\": [{\"type\": \"CVSS_V3\", \"score\": \"CVSS:3.1/x\"}],"
	    " \"database_specific\": {\"severity\": \"HIGH\"},"
	    " \"affected\": [{\"package\": {\"ecosystem\": \"npm\", \"name\": \"x\","
	    " \"purl\": \"pkg:npm/x\"}, \"ranges\": ["
	    "{\"type\": \"GIT\", \"repo\": \"r\", \"events\": [{\"introduced\": \"0\"}]},"
	    "{\"type\": \"SEMVER\", \"events\": [{\"introduced\": \"0\"},"
	    " {\"fixed\": \"1.0.0\"}]}], \"versions\": [\"0.1.0\"],"
	    " \"ecosystem_specific\": {\"a\": 1}},"
	    "{\"ranges\": [{\"type\": \"GIT\", \"events\": [{\"introduced\": \"0\"}]}]}"
	    "]}", &rec), PC_OK);

	assert_string_equal(json_string_value(json_object_get(rec, "id")),
	    "GHSA-test");
	assert_int_equal(json_array_size(json_object_get(rec, "aliases")), 3);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(rec, "aliases"), 2)), "CVE-3");
	assert_null(json_object_get(rec, "details"));
	assert_string_equal(json_string_value(json_object_get(rec,
	    "database_severity")), "HIGH");
	assert_int_equal(json_array_size(json_object_get(rec, "affected")), 1);
	aff = json_array_get(json_object_get(rec, "affected"), 0);
	assert_string_equal(json_string_value(json_object_get(aff, "ecosystem")),
	    "npm");
	assert_int_equal(json_array_size(json_object_get(aff, "ranges")), 1);
	assert_int_equal(json_array_size(json_object_get(aff, "versions")), 1);
	assert_null(json_object_get(aff, "ecosystem_specific"));
	json_decref(rec);
}

static void
test_wrong_types(void **state)
{
	expect_reject("[1, 2]", PC_ERR_INVALID, "not a JSON object");
	expect_reject("{\"id\": 7, \"modified\": \"x\", " AFFECTED_OK "}",
	    PC_ERR_INVALID, "id is not a string");
	expect_reject("{" HEAD "\"aliases\": \"CVE-1\", " AFFECTED_OK "}",
	    PC_ERR_INVALID, "aliases is not an array");
	expect_reject("{" HEAD "\"aliases\": [1], " AFFECTED_OK "}",
	    PC_ERR_INVALID, "aliases is not a string");
	expect_reject("{" HEAD "\"affected\": {}}", PC_ERR_INVALID,
	    "affected is not an array");
	expect_reject("{" HEAD "\"affected\": [7]}", PC_ERR_INVALID,
	    "affected entry is not an object");
	expect_reject("{" HEAD "\"affected\": [{\"package\": {\"ecosystem\": 1,"
	    " \"name\": \"x\"}, \"versions\": [\"1\"]}]}", PC_ERR_INVALID,
	    "package ecosystem is not a string");
	expect_reject("{" HEAD "\"affected\": [{\"package\": {\"ecosystem\": \"npm\","
	    " \"name\": \"x\"}, \"ranges\": [{\"type\": \"SEMVER\","
	    " \"events\": {}}]}]}", PC_ERR_INVALID, "events is not an array");
	expect_reject("{" HEAD "\"affected\": [{\"package\": {\"ecosystem\": \"npm\","
	    " \"name\": \"x\"}, \"versions\": [1]}]}", PC_ERR_INVALID,
	    "versions entry is not a string");
	expect_reject("{" HEAD "\"severity\": {}, " AFFECTED_OK "}",
	    PC_ERR_INVALID, "severity is not an array");
	expect_reject("{" HEAD "\"summary\": [], " AFFECTED_OK "}",
	    PC_ERR_INVALID, "summary is not a string");
}

static void
test_bad_events(void **state)
{
#define EVENTS(e) "{" HEAD "\"affected\": [{\"package\": {\"ecosystem\":" \
	" \"npm\", \"name\": \"x\"}, \"ranges\": [{\"type\": \"SEMVER\"," \
	" \"events\": [" e "]}]}]}"
	expect_reject(EVENTS("{\"introduced\": \"0\", \"fixed\": \"1\"}"),
	    PC_ERR_INVALID, "exactly one member");
	expect_reject(EVENTS("{\"introduced\": \"0\"}, {\"patched\": \"1\"}"),
	    PC_ERR_INVALID, "unknown event kind \"patched\"");
	expect_reject(EVENTS("{\"fixed\": \"1.0.0\"}"), PC_ERR_INVALID,
	    "no introduced event");
	expect_reject(EVENTS("{\"introduced\": \"\"}"), PC_ERR_INVALID,
	    "event version is empty");
	expect_reject(EVENTS("{\"introduced\": 0}"), PC_ERR_INVALID,
	    "event version is not a string");
#undef EVENTS
}

static void
test_missing_fields(void **state)
{
	expect_reject("{\"modified\": \"x\", " AFFECTED_OK "}", PC_ERR_INVALID,
	    "id is not a string");
	expect_reject("{\"id\": \"X-1\", " AFFECTED_OK "}", PC_ERR_INVALID,
	    "modified is not a string");
	expect_reject("{\"id\": \"\", \"modified\": \"x\", " AFFECTED_OK "}",
	    PC_ERR_INVALID, "id is empty");
	expect_reject("{" HEAD "\"summary\": \"s\"}", PC_ERR_UNSUPPORTED,
	    "no affected package");
	expect_reject("{" HEAD "\"affected\": [{\"package\": {\"ecosystem\":"
	    " \"npm\", \"name\": \"x\"}}]}", PC_ERR_UNSUPPORTED,
	    "no affected package");
	expect_reject("{" HEAD "\"withdrawn\": \"2026-02-01T00:00:00Z\", "
	    AFFECTED_OK "}", PC_ERR_UNSUPPORTED, "withdrawn");
}

static void
test_invalid_json(void **state)
{
	expect_reject("{\"id\": \"X-1\",", PC_ERR_INVALID, "invalid JSON at line 1");
	expect_reject("", PC_ERR_INVALID, "invalid JSON");
	expect_reject("{" HEAD "\"id\": \"X-2\", " AFFECTED_OK "}", PC_ERR_INVALID,
	    "duplicate");
	/* 0xC3 0x28 is not valid UTF-8. */
	expect_reject("{" HEAD "\"summary\": \"\xc3\x28\", " AFFECTED_OK "}",
	    PC_ERR_INVALID, "invalid JSON");
	expect_reject("{" HEAD "\"summary\": \"\xff\xfe\", " AFFECTED_OK "}",
	    PC_ERR_INVALID, "invalid JSON");
}

static void
test_control_characters(void **state)
{
	expect_reject("{\"id\": \"X\\u0000Y\", \"modified\": \"x\", " AFFECTED_OK
	    "}", PC_ERR_INVALID, "\\u0000 is not allowed");
	expect_reject("{\"id\": \"X\\u0007Y\", \"modified\": \"x\", " AFFECTED_OK
	    "}", PC_ERR_INVALID, "id contains a control character");
	expect_reject("{" HEAD "\"affected\": [{\"package\": {\"ecosystem\":"
	    " \"npm\", \"name\": \"a\\nb\"}, \"versions\": [\"1\"]}]}",
	    PC_ERR_INVALID, "package name contains a control character");
}

/* Builds "{HEAD key: [item, item, ...] AFFECTED_OK}" with n items. */
static char *
record_with_array(const char *key, const char *item, size_t n,
    const char *tail)
{
	struct buf b;

	buf_init(&b, 64u << 20);
	assert_int_equal(buf_printf(&b, "{" HEAD "\"%s\": [", key), PC_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf_printf(&b, "%s%s", i ? "," : "", item), PC_OK);
	assert_int_equal(buf_printf(&b, "]%s}", tail), PC_OK);
	return buf_steal(&b);
}

static void
test_huge_arrays(void **state)
{
	char *text;

	text = record_with_array("aliases", "\"CVE-1\"", OSV_MAX_ALIASES + 1,
	    ", " AFFECTED_OK);
	expect_reject(text, PC_ERR_LIMIT, "aliases has more than");
	pc_free(text);

	text = record_with_array("affected", "{\"package\": {\"ecosystem\":"
	    " \"npm\", \"name\": \"x\"}, \"versions\": [\"1\"]}",
	    OSV_MAX_AFFECTED + 1, "");
	expect_reject(text, PC_ERR_LIMIT, "affected has more than");
	pc_free(text);

	text = record_with_array("severity", "{\"type\": \"CVSS_V3\","
	    " \"score\": \"x\"}", OSV_MAX_SEVERITY + 1, ", " AFFECTED_OK);
	expect_reject(text, PC_ERR_LIMIT, "severity has more than");
	pc_free(text);
}

/* Builds a record whose one affected entry has n versions or events. */
static char *
affected_with(bool events, size_t n)
{
	struct buf b;

	buf_init(&b, 64u << 20);
	assert_int_equal(buf_printf(&b, "{" HEAD "\"affected\": [{\"package\":"
	    " {\"ecosystem\": \"npm\", \"name\": \"x\"}, %s",
	    events ? "\"ranges\": [{\"type\": \"SEMVER\", \"events\": [" :
	    "\"versions\": ["), PC_OK);
	for (size_t i = 0; i < n; i++) {
		if (events)
			assert_int_equal(buf_printf(&b, "%s{\"introduced\": \"%zu.0.0\"}",
			    i ? "," : "", i), PC_OK);
		else
			assert_int_equal(buf_printf(&b, "%s\"%zu.0.0\"", i ? "," : "",
			    i), PC_OK);
	}
	assert_int_equal(buf_append_str(&b, events ? "]}]}]}" : "]}]}"), PC_OK);
	return buf_steal(&b);
}

static void
test_huge_ranges_and_versions(void **state)
{
	char *text;
	json_t *rec;

	text = affected_with(true, OSV_MAX_EVENTS + 1);
	expect_reject(text, PC_ERR_LIMIT, "events has more than");
	pc_free(text);

	text = affected_with(true, OSV_MAX_EVENTS);
	assert_int_equal(parse(text, &rec), PC_OK);
	json_decref(rec);
	pc_free(text);

	text = affected_with(false, OSV_MAX_VERSIONS + 1);
	expect_reject(text, PC_ERR_LIMIT, "versions has more than");
	pc_free(text);
}

static void
test_deep_nesting(void **state)
{
	struct buf b;
	json_t *rec;

	buf_init(&b, 1u << 20);
	assert_int_equal(buf_append_str(&b, "{" HEAD "\"database_specific\": "),
	    PC_OK);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_append_str(&b, "["), PC_OK);
	expect_reject(b.data, PC_ERR_LIMIT, "deeper than");

	/* Brackets inside strings do not count as nesting. */
	buf_reset(&b);
	assert_int_equal(buf_append_str(&b, "{" HEAD "\"summary\": \""), PC_OK);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_append_str(&b, "[{\\\"["), PC_OK);
	assert_int_equal(buf_append_str(&b, "\", " AFFECTED_OK "}"), PC_OK);
	assert_int_equal(parse(b.data, &rec), PC_OK);
	json_decref(rec);
	buf_free(&b);
}

static void
test_oversized_record(void **state)
{
	size_t len = OSV_MAX_RECORD_BYTES + 1;
	char *text = pc_malloc(len);
	json_t *rec;

	assert_non_null(text);
	memset(text, ' ', len);
	assert_int_equal(osv_parse(text, len, &rec, reason, sizeof(reason)),
	    PC_ERR_LIMIT);
	assert_null(rec);
	assert_non_null(strstr(reason, "larger than"));
	pc_free(text);
}

static void
test_long_strings(void **state)
{
	char *name = pc_malloc(OSV_MAX_NAME_BYTES + 2);
	char *text;
	struct buf b;

	memset(name, 'a', OSV_MAX_NAME_BYTES + 1);
	name[OSV_MAX_NAME_BYTES + 1] = '\0';
	buf_init(&b, 1u << 20);
	assert_int_equal(buf_printf(&b, "{" HEAD "\"affected\": [{\"package\":"
	    " {\"ecosystem\": \"npm\", \"name\": \"%s\"}, \"versions\": [\"1\"]}]}",
	    name), PC_OK);
	text = buf_steal(&b);
	expect_reject(text, PC_ERR_LIMIT, "package name is longer than");
	pc_free(text);
	pc_free(name);
}

/* Every failed allocation unwinds without a leak or a crash. */
static void
test_allocation_failures(void **state)
{
	const char *text = "{" HEAD "\"aliases\": [\"CVE-1\"], \"summary\": \"s\","
	    " \"severity\": [{\"type\": \"CVSS_V3\", \"score\": \"v\"}], "
	    AFFECTED_OK "}";
	json_t *rec = NULL;
	int err = PC_ERR_NOMEM;

	for (long n = 0; n < 10000 && err != PC_OK; n++) {
		pc_alloc_fail_after(n);
		err = osv_parse(text, strlen(text), &rec, reason, sizeof(reason));
		pc_alloc_fail_after(-1);
		/*
		 * jansson 2.14 reports some of its own allocation failures as
		 * syntax errors, so PC_ERR_INVALID is possible here too.
		 */
		if (err != PC_OK) {
			if (err != PC_ERR_NOMEM && err != PC_ERR_INVALID)
				fail_msg("allocation %ld: %s", n, reason);
			assert_null(rec);
		}
	}
	assert_int_equal(err, PC_OK);
	json_decref(rec);
}

struct walk_log {
	size_t records;
	size_t oversized;
	size_t invalid;
	char last[256];
};

static int
count_record(void *ctx, const char *origin, const char *data, size_t len)
{
	struct walk_log *log = ctx;
	json_t *rec;

	snprintf(log->last, sizeof(log->last), "%s", origin);
	if (data == NULL) {
		log->oversized++;
		return PC_OK;
	}
	if (osv_parse(data, len, &rec, reason, sizeof(reason)) == PC_OK)
		log->records++;
	else
		log->invalid++;
	json_decref(rec);
	return PC_OK;
}

/* All real records of the test data parse, except the one withdrawn. */
static void
test_real_records_parse(void **state)
{
	struct walk_log log = {0};
	char why[256];

	assert_int_equal(osv_source_walk("tests/data/osv", count_record, &log,
	    why, sizeof(why)), PC_OK);
	assert_int_equal(log.records, 57 + 19 + 230 + 48 + 10 + 14);
	assert_int_equal(log.invalid, 1);
	assert_int_equal(log.oversized, 0);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Writes a zip of (name, content) pairs with libarchive. */
static void
write_zip(const char *path, const char *const (*entries)[2], size_t n,
    size_t big_entry_bytes)
{
	struct archive *ar = archive_write_new();
	struct archive_entry *e;

	assert_int_equal(archive_write_set_format_zip(ar), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(ar, path), ARCHIVE_OK);
	for (size_t i = 0; i < n + (big_entry_bytes > 0); i++) {
		bool big = i == n;
		size_t len = big ? big_entry_bytes : strlen(entries[i][1]);
		char *data = big ? pc_calloc(1, len) : NULL;

		e = archive_entry_new();
		archive_entry_set_pathname(e, big ? "big.json" : entries[i][0]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		assert_int_equal(archive_write_header(ar, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(ar, big ? data : entries[i][1],
		    len), (la_ssize_t)len);
		archive_entry_free(e);
		pc_free(data);
	}
	archive_write_close(ar);
	archive_write_free(ar);
}

static void
test_walk_folder_and_zip(void **state)
{
	static const char *const entries[][2] = {
		{"A-1.json", "{\"id\": \"A-1\", \"modified\": \"x\", " AFFECTED_OK "}"},
		{"README.md", "not a record"},
		{"B-1.json", "{\"id\": \"B-1\", \"modified\": \"x\"}"},
		{"sub/C-1.json", "{\"id\": \"C-1\", \"modified\": \"x\", "
		    AFFECTED_OK "}"},
	};
	char dir[] = "/tmp/test_osv.XXXXXX", path[128], cmd[160], why[256];
	struct walk_log log = {0};

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub/deeper", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub/deeper/A-1.json", dir);
	write_file(path, entries[0][1]);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	write_file(path, "ignored");
	snprintf(path, sizeof(path), "%s/all.zip", dir);
	write_zip(path, entries, 4, OSV_MAX_RECORD_BYTES + 10);

	assert_int_equal(osv_source_walk(dir, count_record, &log, why,
	    sizeof(why)), PC_OK);
	/* A-1 twice (folder and zip), C-1 in the zip; B-1 has no affected. */
	assert_int_equal(log.records, 3);
	assert_int_equal(log.invalid, 1);
	assert_int_equal(log.oversized, 1);

	/* A named file that is neither .json nor .zip is an error. */
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	assert_int_equal(osv_source_walk(path, count_record, &log, why,
	    sizeof(why)), PC_ERR_INVALID);
	assert_non_null(strstr(why, "notes.txt"));

	/* A broken zip is reported, not walked. */
	snprintf(path, sizeof(path), "%s/broken.zip", dir);
	write_file(path, "PK\003\004 this is not really a zip archive");
	assert_int_not_equal(osv_source_walk(path, count_record, &log, why,
	    sizeof(why)), PC_OK);
	assert_non_null(strstr(why, "broken.zip"));

	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(osv_source_walk(path, count_record, &log, why,
	    sizeof(why)), PC_ERR_IO);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_record_normalised),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_bad_events),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_huge_arrays),
		cmocka_unit_test(test_huge_ranges_and_versions),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_oversized_record),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_allocation_failures),
		cmocka_unit_test(test_real_records_parse),
		cmocka_unit_test(test_walk_folder_and_zip),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
