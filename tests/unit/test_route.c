#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/route.h"

#define DIGEST "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Docker Hub is neither first nor named after a Hub host. */
static const struct route_upstream ups[] = {
	{"quay", false},
	{"hub", true},
	{"ghcr.io", false},
};
#define N_UPS (sizeof(ups) / sizeof(ups[0]))
#define QUAY 0
#define HUB 1
#define GHCR 2

/* Docker Hub first, so it is the default upstream. */
static const struct route_upstream hub_first[] = {
	{"docker.io", true},
	{"quay", false},
};
#define N_HUB_FIRST (sizeof(hub_first) / sizeof(hub_first[0]))

static void
parse(const char *path, const char *query, struct route *r)
{
	route_parse(path, query, ups, N_UPS, r);
}

static void
assert_route_error(const struct route *r, int status, const char *code)
{
	assert_int_equal(r->kind, ROUTE_ERROR);
	assert_int_equal(r->error_status, status);
	assert_non_null(r->error_code);
	assert_string_equal(r->error_code, code);
	assert_true(r->error_message[0] != '\0');
}

static void
test_route_ping(void **state)
{
	struct route r;

	parse("/v2/", NULL, &r);
	assert_int_equal(r.kind, ROUTE_PING);
	parse("/v2", NULL, &r);
	assert_int_equal(r.kind, ROUTE_PING);
	parse("/v2/", "ns=quay", &r);
	assert_int_equal(r.kind, ROUTE_PING);
}

static void
test_route_not_registry_path(void **state)
{
	struct route r;

	parse("/", NULL, &r);
	assert_route_error(&r, 404, "NOT_FOUND");
	parse("/v1/alpine/manifests/latest", NULL, &r);
	assert_route_error(&r, 404, "NOT_FOUND");
	parse("/v2x/alpine/manifests/latest", NULL, &r);
	assert_route_error(&r, 404, "NOT_FOUND");
	parse("/v2/alpine", NULL, &r);
	assert_route_error(&r, 404, "NOT_FOUND");
	parse("/v2/alpine/manifests/latest/extra", NULL, &r);
	assert_route_error(&r, 404, "NOT_FOUND");
	parse("/v2/alpine/tags", NULL, &r);
	assert_route_error(&r, 404, "NOT_FOUND");
}

static void
test_route_manifest_by_tag(void **state)
{
	struct route r;

	parse("/v2/org/app/manifests/1.2.3", NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_int_equal(r.upstream, QUAY);
	assert_string_equal(r.name, "org/app");
	assert_string_equal(r.client_name, "org/app");
	assert_string_equal(r.reference, "1.2.3");
	assert_string_equal(r.prefix, "");
	assert_false(r.by_digest);
	assert_false(r.by_ns);
}

static void
test_route_manifest_by_digest(void **state)
{
	struct route r;

	parse("/v2/org/app/manifests/" DIGEST, NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_string_equal(r.name, "org/app");
	assert_string_equal(r.reference, DIGEST);
	assert_true(r.by_digest);
}

static void
test_route_blob(void **state)
{
	struct route r;

	parse("/v2/org/app/blobs/" DIGEST, NULL, &r);
	assert_int_equal(r.kind, ROUTE_BLOB);
	assert_int_equal(r.upstream, QUAY);
	assert_string_equal(r.name, "org/app");
	assert_string_equal(r.reference, DIGEST);
	assert_true(r.by_digest);
}

static void
test_route_tags_list(void **state)
{
	struct route r;

	parse("/v2/org/app/tags/list", "n=10&last=v1", &r);
	assert_int_equal(r.kind, ROUTE_TAGS);
	assert_int_equal(r.upstream, QUAY);
	assert_string_equal(r.name, "org/app");
	assert_string_equal(r.reference, "");
}

static void
test_route_referrers(void **state)
{
	struct route r;

	parse("/v2/org/app/referrers/" DIGEST, "artifactType=x", &r);
	assert_int_equal(r.kind, ROUTE_REFERRERS);
	assert_string_equal(r.name, "org/app");
	assert_string_equal(r.reference, DIGEST);
	assert_true(r.by_digest);

	parse("/v2/org/app/referrers/latest", NULL, &r);
	assert_route_error(&r, 400, "DIGEST_INVALID");
}

static void
test_route_catalog(void **state)
{
	struct route r;

	parse("/v2/_catalog", NULL, &r);
	assert_int_equal(r.kind, ROUTE_CATALOG);
	parse("/v2/_catalog", "n=100", &r);
	assert_int_equal(r.kind, ROUTE_CATALOG);
}

static void
test_route_uploads(void **state)
{
	struct route r;

	parse("/v2/org/app/blobs/uploads/", NULL, &r);
	assert_int_equal(r.kind, ROUTE_UPLOAD);
	parse("/v2/org/app/blobs/uploads", NULL, &r);
	assert_int_equal(r.kind, ROUTE_UPLOAD);
	parse("/v2/org/app/blobs/uploads/3f2b1c0e-uuid", "_state=abc", &r);
	assert_int_equal(r.kind, ROUTE_UPLOAD);
	parse("/v2/org/app/blobs/uploads/3f2b1c0e-uuid/more", NULL, &r);
	assert_int_equal(r.kind, ROUTE_UPLOAD);
}

static void
test_route_many_components(void **state)
{
	struct route r;

	parse("/v2/a/b/c/d/e/manifests/v1", NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_string_equal(r.name, "a/b/c/d/e");
	assert_string_equal(r.reference, "v1");
}

static void
test_route_component_named_manifests(void **state)
{
	struct route r;

	parse("/v2/manifests/manifests/latest", NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_string_equal(r.name, "manifests");
	assert_string_equal(r.reference, "latest");

	parse("/v2/org/manifests/app/manifests/v2", NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_string_equal(r.name, "org/manifests/app");
	assert_string_equal(r.reference, "v2");

	parse("/v2/org/manifests/blobs/" DIGEST, NULL, &r);
	assert_int_equal(r.kind, ROUTE_BLOB);
	assert_string_equal(r.name, "org/manifests");
}

static void
test_route_component_named_blobs(void **state)
{
	struct route r;

	parse("/v2/blobs/blobs/" DIGEST, NULL, &r);
	assert_int_equal(r.kind, ROUTE_BLOB);
	assert_string_equal(r.name, "blobs");

	parse("/v2/org/blobs/app/blobs/" DIGEST, NULL, &r);
	assert_int_equal(r.kind, ROUTE_BLOB);
	assert_string_equal(r.name, "org/blobs/app");

	parse("/v2/org/blobs/manifests/latest", NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_string_equal(r.name, "org/blobs");
	assert_string_equal(r.reference, "latest");

	parse("/v2/tags/list/tags/list", NULL, &r);
	assert_int_equal(r.kind, ROUTE_TAGS);
	assert_string_equal(r.name, "tags/list");
}

static void
test_route_ns_configured_name(void **state)
{
	struct route r;

	parse("/v2/org/app/manifests/latest", "ns=ghcr.io", &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_int_equal(r.upstream, GHCR);
	assert_true(r.by_ns);
	assert_string_equal(r.name, "org/app");
	assert_string_equal(r.prefix, "");

	parse("/v2/org/app/manifests/latest", "ns=hub", &r);
	assert_int_equal(r.upstream, HUB);
	assert_true(r.by_ns);
}

static void
test_route_ns_among_other_params(void **state)
{
	struct route r;

	parse("/v2/org/app/manifests/latest", "x=1&ns=ghcr.io&y=2", &r);
	assert_int_equal(r.upstream, GHCR);
	parse("/v2/org/app/manifests/latest", "nsx=quay&ns=ghcr.io", &r);
	assert_int_equal(r.upstream, GHCR);
	parse("/v2/org/app/manifests/latest", "xns=hub&ns=ghcr.io", &r);
	assert_int_equal(r.upstream, GHCR);
}

static void
test_route_ns_docker_hub_aliases(void **state)
{
	static const char *const aliases[] = {
		"ns=docker.io", "ns=index.docker.io", "ns=registry-1.docker.io",
		"ns=registry.hub.docker.com", "ns=DOCKER.IO",
	};
	struct route r;

	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		parse("/v2/alpine/manifests/latest", aliases[i], &r);
		if (r.kind != ROUTE_MANIFEST || r.upstream != HUB)
			fail_msg("%s did not select the Docker Hub upstream", aliases[i]);
		assert_string_equal(r.name, "library/alpine");
		assert_string_equal(r.client_name, "alpine");
	}
}

static void
test_route_ns_hub_alias_without_hub_upstream(void **state)
{
	static const struct route_upstream only_quay[] = {{"quay", false}};
	struct route r;

	route_parse("/v2/alpine/manifests/latest", "ns=docker.io", only_quay, 1, &r);
	assert_route_error(&r, 404, "NAME_UNKNOWN");
}

static void
test_route_ns_unknown(void **state)
{
	struct route r;

	parse("/v2/org/app/manifests/latest", "ns=evil.example.com", &r);
	assert_route_error(&r, 404, "NAME_UNKNOWN");
	assert_int_equal(r.upstream, -1);
	assert_non_null(strstr(r.error_message, "evil.example.com"));

	parse("/v2/org/app/manifests/latest", "ns=", &r);
	assert_route_error(&r, 404, "NAME_UNKNOWN");

	/* The ns names a configured upstream; it is never a host to dial. */
	parse("/v2/org/app/manifests/latest", "ns=127.0.0.1:5000", &r);
	assert_route_error(&r, 404, "NAME_UNKNOWN");
}

static void
test_route_ns_percent_encoded(void **state)
{
	struct route r;

	parse("/v2/org/app/manifests/latest", "ns=ghcr%2Eio", &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_int_equal(r.upstream, GHCR);

	parse("/v2/alpine/manifests/latest", "ns=docker%2eio", &r);
	assert_int_equal(r.upstream, HUB);

	parse("/v2/org/app/manifests/latest", "ns=%67%68%63%72%2e%69%6f", &r);
	assert_int_equal(r.upstream, GHCR);
}

static void
test_route_ns_with_nul_rejected(void **state)
{
	struct route r;

	/* A decoded NUL must not cut the value down to a configured name. */
	parse("/v2/org/app/manifests/latest", "ns=quay%00.evil.example.com", &r);
	assert_route_error(&r, 404, "NAME_UNKNOWN");
}

static void
test_route_ns_wins_over_prefix(void **state)
{
	struct route r;

	parse("/v2/quay/org/app/manifests/latest", "ns=ghcr.io", &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_int_equal(r.upstream, GHCR);
	assert_string_equal(r.name, "quay/org/app");
	assert_string_equal(r.prefix, "");
}

static void
test_route_path_prefix(void **state)
{
	struct route r;

	parse("/v2/ghcr.io/org/app/manifests/latest", NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_int_equal(r.upstream, GHCR);
	assert_false(r.by_ns);
	assert_string_equal(r.prefix, "ghcr.io/");
	assert_string_equal(r.name, "org/app");
	assert_string_equal(r.client_name, "ghcr.io/org/app");

	parse("/v2/quay/app/blobs/" DIGEST, NULL, &r);
	assert_int_equal(r.kind, ROUTE_BLOB);
	assert_int_equal(r.upstream, QUAY);
	assert_string_equal(r.prefix, "quay/");
	assert_string_equal(r.name, "app");
}

static void
test_route_path_prefix_hub_alias(void **state)
{
	struct route r;

	parse("/v2/docker.io/alpine/manifests/latest", NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_int_equal(r.upstream, HUB);
	assert_string_equal(r.prefix, "docker.io/");
	assert_string_equal(r.name, "library/alpine");

	parse("/v2/hub/bitnami/redis/manifests/7", NULL, &r);
	assert_int_equal(r.upstream, HUB);
	assert_string_equal(r.name, "bitnami/redis");
}

static void
test_route_one_component_not_a_prefix(void **state)
{
	struct route r;

	/* A name that is only an upstream's name selects nothing. */
	parse("/v2/quay/manifests/latest", NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_int_equal(r.upstream, QUAY);
	assert_string_equal(r.prefix, "");
	assert_string_equal(r.name, "quay");
}

static void
test_route_default_upstream(void **state)
{
	struct route r;

	parse("/v2/library/alpine/manifests/latest", NULL, &r);
	assert_int_equal(r.upstream, 0);
	assert_string_equal(r.name, "library/alpine");

	route_parse("/v2/alpine/manifests/latest", NULL, hub_first, N_HUB_FIRST, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_int_equal(r.upstream, 0);
	assert_string_equal(r.name, "library/alpine");
}

static void
test_route_no_upstream(void **state)
{
	struct route r;

	route_parse("/v2/org/app/manifests/latest", NULL, NULL, 0, &r);
	assert_route_error(&r, 404, "NAME_UNKNOWN");
	assert_int_equal(r.upstream, -1);
}

static void
test_route_library_only_for_hub(void **state)
{
	struct route r;

	parse("/v2/alpine/manifests/latest", "ns=quay", &r);
	assert_string_equal(r.name, "alpine");

	parse("/v2/alpine/manifests/latest", NULL, &r);
	assert_int_equal(r.upstream, QUAY);
	assert_string_equal(r.name, "alpine");
}

static void
test_route_library_only_for_one_component(void **state)
{
	struct route r;

	parse("/v2/alpine/blobs/" DIGEST, "ns=hub", &r);
	assert_int_equal(r.kind, ROUTE_BLOB);
	assert_string_equal(r.name, "library/alpine");

	parse("/v2/library/alpine/manifests/3", "ns=hub", &r);
	assert_string_equal(r.name, "library/alpine");

	parse("/v2/bitnami/redis/tags/list", "ns=hub", &r);
	assert_int_equal(r.kind, ROUTE_TAGS);
	assert_string_equal(r.name, "bitnami/redis");
	assert_string_equal(r.client_name, "bitnami/redis");
}

static void
test_route_invalid_names(void **state)
{
	static const char *const paths[] = {
		"/v2/Alpine/manifests/latest",
		"/v2/org/App/manifests/latest",
		"/v2/a..b/manifests/latest",
		"/v2/-a/manifests/latest",
		"/v2/a-/manifests/latest",
		"/v2/a___b/manifests/latest",
		"/v2/org//app/manifests/latest",
		"/v2/org/app%2Fx/manifests/latest",
		"/v2/org/../app/manifests/latest",
		"/v2//manifests/latest",
	};
	struct route r;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		parse(paths[i], "ns=quay", &r);
		if (r.kind != ROUTE_ERROR || r.error_status != 400 ||
		    strcmp(r.error_code, "NAME_INVALID") != 0)
			fail_msg("%s was not rejected as NAME_INVALID", paths[i]);
	}
}

static void
test_route_invalid_tags(void **state)
{
	char path[512];
	char tag[200];
	struct route r;

	parse("/v2/org/app/manifests/-latest", NULL, &r);
	assert_route_error(&r, 400, "TAG_INVALID");
	parse("/v2/org/app/manifests/.hidden", NULL, &r);
	assert_route_error(&r, 400, "TAG_INVALID");
	parse("/v2/org/app/manifests/a%20b", NULL, &r);
	assert_route_error(&r, 400, "TAG_INVALID");
	parse("/v2/org/app/manifests/", NULL, &r);
	assert_int_equal(r.kind, ROUTE_ERROR);

	/* 128 characters is the longest tag, 129 one too many. */
	memset(tag, 'a', 128);
	tag[128] = '\0';
	snprintf(path, sizeof(path), "/v2/org/app/manifests/%s", tag);
	parse(path, NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_string_equal(r.reference, tag);

	tag[128] = 'a';
	tag[129] = '\0';
	snprintf(path, sizeof(path), "/v2/org/app/manifests/%s", tag);
	parse(path, NULL, &r);
	assert_route_error(&r, 400, "TAG_INVALID");

	/* Longer than the reference buffer: rejected, never truncated. */
	memset(tag, 'a', 190);
	tag[190] = '\0';
	snprintf(path, sizeof(path), "/v2/org/app/manifests/%s", tag);
	parse(path, NULL, &r);
	assert_int_equal(r.kind, ROUTE_ERROR);
}

static void
test_route_invalid_digests(void **state)
{
	struct route r;

	parse("/v2/org/app/blobs/latest", NULL, &r);
	assert_route_error(&r, 400, "DIGEST_INVALID");
	parse("/v2/org/app/blobs/sha256:abc", NULL, &r);
	assert_route_error(&r, 400, "DIGEST_INVALID");
	parse("/v2/org/app/blobs/sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	    NULL, &r);
	assert_route_error(&r, 400, "DIGEST_INVALID");
	parse("/v2/org/app/blobs/" DIGEST "0", NULL, &r);
	assert_route_error(&r, 400, "DIGEST_INVALID");
	parse("/v2/org/app/manifests/sha256:xyz", NULL, &r);
	assert_route_error(&r, 400, "DIGEST_INVALID");
	parse("/v2/org/app/manifests/md5:d41d8cd98f00b204e9800998ecf8427e", NULL, &r);
	assert_route_error(&r, 400, "DIGEST_INVALID");
}

static void
test_route_name_length_limit(void **state)
{
	char name[400];
	char path[600];
	struct route r;

	/* 255 bytes is the longest repository name. */
	memset(name, 'a', 255);
	name[127] = '/';
	name[255] = '\0';
	snprintf(path, sizeof(path), "/v2/%s/manifests/latest", name);
	parse(path, NULL, &r);
	assert_int_equal(r.kind, ROUTE_MANIFEST);
	assert_string_equal(r.name, name);

	memset(name, 'a', 256);
	name[127] = '/';
	name[256] = '\0';
	snprintf(path, sizeof(path), "/v2/%s/manifests/latest", name);
	parse(path, NULL, &r);
	assert_route_error(&r, 400, "NAME_INVALID");

	/* library/ pushes a 250-byte Hub name past the limit. */
	memset(name, 'a', 250);
	name[250] = '\0';
	snprintf(path, sizeof(path), "/v2/%s/manifests/latest", name);
	parse(path, "ns=hub", &r);
	assert_route_error(&r, 400, "NAME_INVALID");
}

static void
test_route_very_long_paths(void **state)
{
	static const char *const suffixes[] = {
		"/manifests/latest", "/blobs/" DIGEST, "/tags/list",
		"/referrers/" DIGEST, "",
	};
	const size_t len = 64 * 1024;
	char *path = malloc(len + 200);
	struct route r;

	assert_non_null(path);
	for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++) {
		memcpy(path, "/v2/", 4);
		for (size_t i = 4; i < len; i++)
			path[i] = (i % 32 == 0) ? '/' : 'a';
		snprintf(path + len, 200, "%s", suffixes[k]);
		parse(path, NULL, &r);
		assert_int_equal(r.kind, ROUTE_ERROR);
		assert_true(r.error_status == 400 || r.error_status == 404);
		assert_true(strlen(r.name) < sizeof(r.name));
		assert_true(strlen(r.client_name) < sizeof(r.client_name));
	}

	/* A long ns value is cut at the buffer and still matches nothing. */
	memcpy(path, "ns=", 3);
	memset(path + 3, 'q', len);
	path[len + 3] = '\0';
	parse("/v2/org/app/manifests/latest", path, &r);
	assert_route_error(&r, 404, "NAME_UNKNOWN");
	free(path);
}

static void
test_query_param_values(void **state)
{
	char out[64];

	assert_false(route_query_param(NULL, "ns", out, sizeof(out)));
	assert_false(route_query_param("", "ns", out, sizeof(out)));
	assert_false(route_query_param("ns", "ns", out, sizeof(out)));
	assert_false(route_query_param("nsx=1", "ns", out, sizeof(out)));
	assert_false(route_query_param("x=ns=1", "ns", out, sizeof(out)));

	assert_true(route_query_param("ns=", "ns", out, sizeof(out)));
	assert_string_equal(out, "");

	assert_true(route_query_param("a=1&ns=docker.io&b=2", "ns", out, sizeof(out)));
	assert_string_equal(out, "docker.io");

	assert_true(route_query_param("ns=first&ns=second", "ns", out, sizeof(out)));
	assert_string_equal(out, "first");

	assert_true(route_query_param("n=10&last=v1", "last", out, sizeof(out)));
	assert_string_equal(out, "v1");
}

static void
test_query_param_decoding(void **state)
{
	char out[64];

	assert_true(route_query_param("q=a%2Fb%3a", "q", out, sizeof(out)));
	assert_string_equal(out, "a/b:");
	assert_true(route_query_param("q=a+b", "q", out, sizeof(out)));
	assert_string_equal(out, "a b");
	/* Malformed escapes stay as they are. */
	assert_true(route_query_param("q=100%", "q", out, sizeof(out)));
	assert_string_equal(out, "100%");
	assert_true(route_query_param("q=%zz", "q", out, sizeof(out)));
	assert_string_equal(out, "%zz");
	assert_true(route_query_param("q=%4&x=1", "q", out, sizeof(out)));
	assert_string_equal(out, "%4");
	assert_true(route_query_param("q=%4", "q", out, sizeof(out)));
	assert_string_equal(out, "%4");
}

static void
test_query_param_truncated_to_buffer(void **state)
{
	char out[4];

	assert_true(route_query_param("q=abcdefgh", "q", out, sizeof(out)));
	assert_string_equal(out, "abc");
	assert_false(route_query_param("q=abc", "q", out, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_ping),
		cmocka_unit_test(test_route_not_registry_path),
		cmocka_unit_test(test_route_manifest_by_tag),
		cmocka_unit_test(test_route_manifest_by_digest),
		cmocka_unit_test(test_route_blob),
		cmocka_unit_test(test_route_tags_list),
		cmocka_unit_test(test_route_referrers),
		cmocka_unit_test(test_route_catalog),
		cmocka_unit_test(test_route_uploads),
		cmocka_unit_test(test_route_many_components),
		cmocka_unit_test(test_route_component_named_manifests),
		cmocka_unit_test(test_route_component_named_blobs),
		cmocka_unit_test(test_route_ns_configured_name),
		cmocka_unit_test(test_route_ns_among_other_params),
		cmocka_unit_test(test_route_ns_docker_hub_aliases),
		cmocka_unit_test(test_route_ns_hub_alias_without_hub_upstream),
		cmocka_unit_test(test_route_ns_unknown),
		cmocka_unit_test(test_route_ns_percent_encoded),
		cmocka_unit_test(test_route_ns_with_nul_rejected),
		cmocka_unit_test(test_route_ns_wins_over_prefix),
		cmocka_unit_test(test_route_path_prefix),
		cmocka_unit_test(test_route_path_prefix_hub_alias),
		cmocka_unit_test(test_route_one_component_not_a_prefix),
		cmocka_unit_test(test_route_default_upstream),
		cmocka_unit_test(test_route_no_upstream),
		cmocka_unit_test(test_route_library_only_for_hub),
		cmocka_unit_test(test_route_library_only_for_one_component),
		cmocka_unit_test(test_route_invalid_names),
		cmocka_unit_test(test_route_invalid_tags),
		cmocka_unit_test(test_route_invalid_digests),
		cmocka_unit_test(test_route_name_length_limit),
		cmocka_unit_test(test_route_very_long_paths),
		cmocka_unit_test(test_query_param_values),
		cmocka_unit_test(test_query_param_decoding),
		cmocka_unit_test(test_query_param_truncated_to_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
