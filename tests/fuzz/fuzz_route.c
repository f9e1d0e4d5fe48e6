/*
 * libFuzzer target for request routing: the input is split at its first
 * NUL byte into a path and a query string. route_parse() gets both (and
 * the path alone) against two upstream lists, route_query_param() reads
 * the ns= parameter, and registry_parse_range() reads the path part as a
 * Range header value against blobs of several sizes. Built and run by
 * tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proxy/registry.h"
#include "proxy/route.h"
#include "tests/fuzz/fuzz_util.h"

static const struct route_upstream hub_first[] = {
	{"docker.io", true}, {"quay", false}, {"ghcr.io", false},
};
static const struct route_upstream quay_only[] = {{"quay", false}};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t blob_sizes[] = {0, 1, 1000, UINT64_MAX};
	struct route r;
	char ns[ROUTE_NAME_MAX];
	char *path, *query;
	uint64_t start, end;

	if (fuzz_split_nul(data, size, &path, &query) != 0)
		return 0;
	route_parse(path, query, hub_first, 3, &r);
	route_parse(path, NULL, hub_first, 3, &r);
	route_parse(path, query, quay_only, 1, &r);
	route_parse(path, query, NULL, 0, &r);
	route_query_param(query, "ns", ns, sizeof(ns));
	for (size_t i = 0; i < sizeof(blob_sizes) / sizeof(blob_sizes[0]); i++)
		registry_parse_range(path, blob_sizes[i], &start, &end);
	free(path);
	free(query);
	return 0;
}
