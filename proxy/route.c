#include "proxy/route.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cache/names.h"
#include "common/digest.h"

bool
route_is_docker_hub_host(const char *host)
{
	return strcasecmp(host, "docker.io") == 0 ||
	    strcasecmp(host, "index.docker.io") == 0 ||
	    strcasecmp(host, "registry-1.docker.io") == 0 ||
	    strcasecmp(host, "registry.hub.docker.com") == 0;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
route_query_param(const char *query, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);

	if (query == NULL || outlen == 0)
		return false;
	for (const char *p = query; *p != '\0';) {
		const char *end = strchr(p, '&');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t o = 0;

			for (size_t i = klen + 1; i < len && o + 1 < outlen; i++) {
				if (p[i] == '%' && i + 2 < len && hex_value(p[i + 1]) >= 0 &&
				    hex_value(p[i + 2]) >= 0) {
					char c = (char)(hex_value(p[i + 1]) * 16 + hex_value(p[i + 2]));

					if (c == '\0') {
						/* A NUL would cut the value short: match nothing. */
						out[0] = '\0';
						return true;
					}
					out[o++] = c;
					i += 2;
				} else if (p[i] == '+') {
					out[o++] = ' ';
				} else {
					out[o++] = p[i];
				}
			}
			out[o] = '\0';
			return true;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

static void
route_fail(struct route *r, int status, const char *code, const char *message)
{
	r->kind = ROUTE_ERROR;
	r->error_status = status;
	r->error_code = code;
	snprintf(r->error_message, sizeof(r->error_message), "%s", message);
}

static int
find_upstream(const struct route_upstream *ups, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(ups[i].name, name) == 0)
			return (int)i;
	}
	/* Any Docker Hub alias selects the Hub upstream. */
	if (route_is_docker_hub_host(name)) {
		for (size_t i = 0; i < n; i++) {
			if (ups[i].docker_hub)
				return (int)i;
		}
	}
	return -1;
}

/* Splits "/v2/<name>/<kind...>" into name, kind and reference. */
static bool
split_path(const char *rest, struct route *r, char *name, size_t name_len)
{
	static const struct {
		const char *marker;
		enum route_kind kind;
		bool has_reference;
	} kinds[] = {
		{"/manifests/", ROUTE_MANIFEST, true},
		{"/blobs/uploads/", ROUTE_UPLOAD, false},
		{"/blobs/", ROUTE_BLOB, true},
		{"/referrers/", ROUTE_REFERRERS, true},
	};
	size_t len = strlen(rest);

	if (len > 10 && strcmp(rest + len - 10, "/tags/list") == 0) {
		if (len - 10 >= name_len)
			return false;
		memcpy(name, rest, len - 10);
		name[len - 10] = '\0';
		r->kind = ROUTE_TAGS;
		return true;
	}
	if (len > 14 && strcmp(rest + len - 14, "/blobs/uploads") == 0) {
		r->kind = ROUTE_UPLOAD;
		return true;
	}

	/* The reference is the last component; the marker sits right before. */
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const char *found = NULL;

		for (const char *p = strstr(rest, kinds[k].marker); p != NULL;
		    p = strstr(p + 1, kinds[k].marker))
			found = p;
		if (found == NULL)
			continue;
		const char *ref = found + strlen(kinds[k].marker);

		if (kinds[k].kind == ROUTE_UPLOAD) {
			r->kind = ROUTE_UPLOAD;
			return true;
		}
		if (strchr(ref, '/') != NULL)
			continue;
		if ((size_t)(found - rest) >= name_len ||
		    strlen(ref) >= sizeof(r->reference))
			return false;
		memcpy(name, rest, (size_t)(found - rest));
		name[found - rest] = '\0';
		snprintf(r->reference, sizeof(r->reference), "%s", ref);
		r->kind = kinds[k].kind;
		return true;
	}
	return false;
}

static void
choose_upstream(struct route *r, const char *query,
    const struct route_upstream *ups, size_t n_ups, char *name)
{
	char ns[256];
	char *slash = strchr(name, '/');

	r->upstream = -1;
	if (route_query_param(query, "ns", ns, sizeof(ns))) {
		r->by_ns = true;
		r->upstream = find_upstream(ups, n_ups, ns);
		if (r->upstream < 0) {
			char msg[300];

			snprintf(msg, sizeof(msg), "registry \"%.200s\" is not configured "
			    "on this proxy", ns);
			route_fail(r, 404, "NAME_UNKNOWN", msg);
		}
		return;
	}

	if (slash != NULL) {
		*slash = '\0';
		r->upstream = find_upstream(ups, n_ups, name);
		if (r->upstream >= 0) {
			snprintf(r->prefix, sizeof(r->prefix), "%s/", name);
			memmove(name, slash + 1, strlen(slash + 1) + 1);
			return;
		}
		*slash = '/';
	}
	if (n_ups == 0) {
		route_fail(r, 404, "NAME_UNKNOWN", "no upstream registry is configured");
		return;
	}
	r->upstream = 0;
}

void
route_parse(const char *path, const char *query,
    const struct route_upstream *ups, size_t n_ups, struct route *out)
{
	char name[ROUTE_NAME_MAX * 2];

	memset(out, 0, sizeof(*out));
	out->upstream = -1;

	if (strcmp(path, "/v2") == 0 || strcmp(path, "/v2/") == 0) {
		out->kind = ROUTE_PING;
		return;
	}
	if (strncmp(path, "/v2/", 4) != 0) {
		route_fail(out, 404, "NOT_FOUND", "not a registry API path");
		return;
	}
	if (strcmp(path, "/v2/_catalog") == 0) {
		out->kind = ROUTE_CATALOG;
		return;
	}
	if (!split_path(path + 4, out, name, sizeof(name))) {
		route_fail(out, 404, "NOT_FOUND", "not a registry API path");
		return;
	}
	if (out->kind == ROUTE_UPLOAD)
		return;

	snprintf(out->client_name, sizeof(out->client_name), "%s", name);
	choose_upstream(out, query, ups, n_ups, name);
	if (out->kind == ROUTE_ERROR)
		return;

	if (ups[out->upstream].docker_hub && strchr(name, '/') == NULL) {
		char canonical[ROUTE_NAME_MAX * 2];

		snprintf(canonical, sizeof(canonical), "library/%s", name);
		snprintf(name, sizeof(name), "%s", canonical);
	}
	if (strlen(name) >= sizeof(out->name) || !repo_name_is_valid(name)) {
		route_fail(out, 400, "NAME_INVALID", "invalid repository name");
		return;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);

	if (out->kind == ROUTE_BLOB || out->kind == ROUTE_REFERRERS) {
		if (!digest_is_valid(out->reference)) {
			route_fail(out, 400, "DIGEST_INVALID", "invalid digest");
			return;
		}
		out->by_digest = true;
	} else if (out->kind == ROUTE_MANIFEST) {
		if (strchr(out->reference, ':') != NULL) {
			if (!digest_is_valid(out->reference)) {
				route_fail(out, 400, "DIGEST_INVALID", "invalid digest");
				return;
			}
			out->by_digest = true;
		} else if (!tag_is_valid(out->reference)) {
			route_fail(out, 400, "TAG_INVALID", "invalid tag");
			return;
		}
	}
}
