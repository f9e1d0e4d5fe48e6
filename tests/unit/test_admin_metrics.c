#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "proxy/admin.h"

static json_t *
load_json(const char *text)
{
	json_error_t error;
	json_t *doc = json_loads(text, 0, &error);

	if (doc == NULL)
		fail_msg("test JSON does not parse: %s", error.text);
	return doc;
}

static char *
render(const char *stats_json)
{
	json_t *stats = load_json(stats_json);
	char *text = admin_metrics_text(stats);

	json_decref(stats);
	assert_non_null(text);
	return text;
}

/* True when text contains line as a whole line. */
static bool
has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return true;
	}
	return false;
}

/* Fails unless text contains line as a whole line. */
static void
assert_has_line(const char *text, const char *line)
{
	if (!has_line(text, line))
		fail_msg("line \"%s\" missing from metrics:\n%s", line, text);
}

static size_t
count_lines(const char *text)
{
	size_t n = 0;

	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\n')
			n++;
	}
	return n;
}

static void
test_metrics_prefix_and_sections(void **state)
{
	char *text = render("{\"requests\": {\"total\": 12, \"denied\": 3},"
	    " \"uptime_seconds\": 42}");

	assert_has_line(text, "portcullis_requests_total 12");
	assert_has_line(text, "portcullis_requests_denied 3");
	assert_has_line(text, "portcullis_uptime_seconds 42");
	assert_int_equal(count_lines(text), 3);
	pc_free(text);
}

static void
test_metrics_every_line_prefixed(void **state)
{
	char *text = render("{\"a\": 1, \"b\": {\"c\": 2, \"d\": {\"e\": 3}}}");
	const char *line = text;

	assert_int_equal(count_lines(text), 3);
	while (*line != '\0') {
		assert_int_equal(strncmp(line, "portcullis_", 11), 0);
		line = strchr(line, '\n');
		assert_non_null(line);
		line++;
	}
	pc_free(text);
}

static void
test_metrics_nested_sections_joined(void **state)
{
	char *text = render("{\"cache\": {\"blobs\": {\"bytes\": 1048576,"
	    " \"evictions\": {\"lru\": 7}}}}");

	assert_has_line(text, "portcullis_cache_blobs_bytes 1048576");
	assert_has_line(text, "portcullis_cache_blobs_evictions_lru 7");
	pc_free(text);
}

static void
test_metrics_named_array_labels(void **state)
{
	char *text = render("{\"upstreams\": ["
	    "{\"name\": \"docker.io\", \"up\": true, \"probes\": 10, \"failures\": 1},"
	    "{\"name\": \"quay\", \"up\": false, \"probes\": 9, \"failures\": 9}]}");

	assert_has_line(text, "portcullis_upstreams_up{name=\"docker.io\"} 1");
	assert_has_line(text, "portcullis_upstreams_probes{name=\"docker.io\"} 10");
	assert_has_line(text, "portcullis_upstreams_failures{name=\"docker.io\"} 1");
	assert_has_line(text, "portcullis_upstreams_up{name=\"quay\"} 0");
	assert_has_line(text, "portcullis_upstreams_probes{name=\"quay\"} 9");
	assert_has_line(text, "portcullis_upstreams_failures{name=\"quay\"} 9");
	/* The name itself is a label, never a sample. */
	assert_null(strstr(text, "portcullis_upstreams_name"));
	assert_int_equal(count_lines(text), 6);
	pc_free(text);
}

static void
test_metrics_labels_reach_nested_objects(void **state)
{
	char *text = render("{\"upstreams\": [{\"name\": \"hub\","
	    " \"latency\": {\"p50\": 0.25, \"p99\": 1.5}}]}");

	assert_has_line(text, "portcullis_upstreams_latency_p50{name=\"hub\"} 0.25");
	assert_has_line(text, "portcullis_upstreams_latency_p99{name=\"hub\"} 1.5");
	pc_free(text);
}

static void
test_metrics_label_value_escaped(void **state)
{
	static const char expected[] =
	    "portcullis_upstreams_up{name=\"a\\\"b\\\\c\\nd\"} 1";
	/*
	 * The Prometheus text format requires \\, \" and \n inside label
	 * values, so an upstream name cannot end the label or the line.
	 */
	char *text = render("{\"upstreams\": [{\"name\": \"a\\\"b\\\\c\\nd\","
	    " \"up\": true}]}");
	bool found = has_line(text, expected);
	size_t lines = count_lines(text);

	if (!found)
		print_message("line \"%s\" missing from metrics:\n%s", expected, text);
	pc_free(text);
	assert_true(found);
	assert_int_equal(lines, 1);
}

static void
test_metrics_array_items_without_name_skipped(void **state)
{
	char *text = render("{\"upstreams\": [{\"up\": true}, {\"name\": 5, \"up\": true},"
	    " 7, \"x\", null, [1, 2], {\"name\": \"ok\", \"up\": true}],"
	    " \"sizes\": [1, 2, 3]}");

	assert_has_line(text, "portcullis_upstreams_up{name=\"ok\"} 1");
	assert_int_equal(count_lines(text), 1);
	pc_free(text);
}

static void
test_metrics_booleans_as_numbers(void **state)
{
	char *text = render("{\"offline\": false, \"redis\": {\"connected\": true}}");

	assert_has_line(text, "portcullis_offline 0");
	assert_has_line(text, "portcullis_redis_connected 1");
	pc_free(text);
}

static void
test_metrics_non_numbers_skipped(void **state)
{
	char *text = render("{\"version\": \"1.2.3\", \"note\": null,"
	    " \"requests\": {\"last_path\": \"/v2/\", \"total\": 1}}");

	assert_has_line(text, "portcullis_requests_total 1");
	assert_null(strstr(text, "version"));
	assert_null(strstr(text, "note"));
	assert_null(strstr(text, "last_path"));
	assert_int_equal(count_lines(text), 1);
	pc_free(text);
}

static void
test_metrics_reals_and_negatives(void **state)
{
	char *text = render("{\"ratio\": 0.5, \"delta\": -3, \"zero\": 0.0}");

	assert_has_line(text, "portcullis_ratio 0.5");
	assert_has_line(text, "portcullis_delta -3");
	assert_has_line(text, "portcullis_zero 0");
	pc_free(text);
}

static void
test_metrics_large_counter(void **state)
{
	/* Integers up to 2^53 convert to a double without loss. */
	char *text = render("{\"bytes\": 9007199254740992}");

	assert_has_line(text, "portcullis_bytes 9007199254740992");
	pc_free(text);
}

static void
test_metrics_name_characters_replaced(void **state)
{
	char *text = render("{\"cache-hits\": 1, \"a.b\": {\"c d\": 2},"
	    " \"\\u00e9t\\u00e9\": 3}");

	assert_has_line(text, "portcullis_cache_hits 1");
	assert_has_line(text, "portcullis_a_b_c_d 2");
	/* Each byte of a multi-byte UTF-8 character becomes one '_'. */
	assert_has_line(text, "portcullis___t__ 3");
	pc_free(text);
}

static void
test_metrics_empty_object(void **state)
{
	char *text = render("{}");

	assert_string_equal(text, "");
	pc_free(text);
}

static void
test_metrics_huge_stats_keeps_whole_lines(void **state)
{
	json_t *stats = json_object();
	json_t *section = json_object();
	char key[32];
	char *text;
	size_t len;

	/* About 8 MiB of output, twice the size /metrics sends at most. */
	for (int i = 0; i < 200000; i++) {
		snprintf(key, sizeof(key), "counter_%d", i);
		assert_int_equal(json_object_set_new(section, key,
		    json_integer(123456789)), 0);
	}
	assert_int_equal(json_object_set_new(stats, "section_with_a_long_name",
	    section), 0);
	text = admin_metrics_text(stats);
	json_decref(stats);

	assert_non_null(text);
	len = strlen(text);
	assert_true(len <= (4u << 20));
	assert_true(len > 0);
	assert_int_equal(text[len - 1], '\n');
	pc_free(text);
}

static void
test_metrics_allocation_failures(void **state)
{
	json_t *stats = load_json("{\"requests\": {\"total\": 12},"
	    " \"upstreams\": [{\"name\": \"hub\", \"up\": true}]}");
	char *full = admin_metrics_text(stats);
	int partial = 0;

	assert_non_null(full);
	for (long n = 0; n < 16; n++) {
		char *text;

		pc_alloc_fail_after(n);
		text = admin_metrics_text(stats);
		pc_alloc_fail_after(-1);
		/* Either the whole text or nothing: never a cut-off page. */
		if (text != NULL && strcmp(text, full) != 0) {
			print_message("allocation %ld failing gave:\n%s", n, text);
			partial++;
		}
		pc_free(text);
	}
	json_decref(stats);
	pc_free(full);
	assert_int_equal(partial, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_prefix_and_sections),
		cmocka_unit_test(test_metrics_every_line_prefixed),
		cmocka_unit_test(test_metrics_nested_sections_joined),
		cmocka_unit_test(test_metrics_named_array_labels),
		cmocka_unit_test(test_metrics_labels_reach_nested_objects),
		cmocka_unit_test(test_metrics_label_value_escaped),
		cmocka_unit_test(test_metrics_array_items_without_name_skipped),
		cmocka_unit_test(test_metrics_booleans_as_numbers),
		cmocka_unit_test(test_metrics_non_numbers_skipped),
		cmocka_unit_test(test_metrics_reals_and_negatives),
		cmocka_unit_test(test_metrics_large_counter),
		cmocka_unit_test(test_metrics_name_characters_replaced),
		cmocka_unit_test(test_metrics_empty_object),
		cmocka_unit_test(test_metrics_huge_stats_keeps_whole_lines),
		cmocka_unit_test(test_metrics_allocation_failures),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
