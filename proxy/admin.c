#include "proxy/admin.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/route.h"

/* Largest admin token file accepted, in bytes. */
#define ADMIN_TOKEN_MAX 4096
/* Most verdicts one /verdicts request lists. */
#define ADMIN_VERDICTS_MAX 1000
/* Largest /metrics body, in bytes. */
#define ADMIN_METRICS_MAX (4u << 20)

struct admin {
	struct admin_source src;
	char *token;
};

int
admin_new(const struct admin_source *src, struct admin **out)
{
	struct admin *a = pc_calloc(1, sizeof(*a));

	if (a == NULL)
		return PC_ERR_NOMEM;
	a->src = *src;
	*out = a;
	return PC_OK;
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	if (a->token != NULL)
		OPENSSL_cleanse(a->token, strlen(a->token));
	pc_free(a->token);
	pc_free(a);
}

int
admin_set_token_file(struct admin *a, const char *path)
{
	char buf[ADMIN_TOKEN_MAX + 1];
	FILE *f;
	size_t n;

	if (a->token != NULL) {
		OPENSSL_cleanse(a->token, strlen(a->token));
		pc_free(a->token);
		a->token = NULL;
	}
	if (path == NULL)
		return PC_OK;
	f = fopen(path, "r");
	if (f == NULL)
		return PC_ERR_IO;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n > ADMIN_TOKEN_MAX)
		return PC_ERR_LIMIT;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (n == 0)
		return PC_ERR_INVALID;
	a->token = pc_strndup(buf, n);
	OPENSSL_cleanse(buf, sizeof(buf));
	return a->token != NULL ? PC_OK : PC_ERR_NOMEM;
}

static bool
admin_authorized(const struct admin *a, const struct http_request *req)
{
	const char *auth = http_request_header(req, "authorization");
	size_t tlen;

	if (a->token == NULL)
		return true;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	tlen = strlen(a->token);
	return strlen(auth) == tlen && CRYPTO_memcmp(auth, a->token, tlen) == 0;
}

static void
respond_json(struct http_exchange *x, int status, json_t *doc)
{
	/* Ten significant digits: scores read 72.7, not 72.700000000000003. */
	char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS |
	    JSON_REAL_PRECISION(10)) : NULL;

	if (text == NULL) {
		http_respond_bytes(x, 500, "application/json",
		    "{\"error\":\"out of memory\"}", 25);
		return;
	}
	http_respond_bytes(x, status, "application/json", text, strlen(text));
	pc_free(text);
}

static void
respond_error(struct http_exchange *x, int status, const char *message)
{
	json_t *doc = json_pack("{s:s}", "error", message);

	respond_json(x, status, doc);
	json_decref(doc);
}

/* Prometheus names: portcullis_<section>_<key>, non-alphanumerics as '_'. */
static void
metric_name(char *out, size_t outlen, const char *prefix, const char *key)
{
	size_t o = (size_t)snprintf(out, outlen, "%s_", prefix);

	for (const char *p = key; *p != '\0' && o + 1 < outlen; p++) {
		char c = *p;

		out[o++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')) ? c : '_';
	}
	out[o] = '\0';
}

/* Writes s as a Prometheus label value: \\, \" and \n escaped. */
static void
label_escape(char *out, size_t outlen, const char *s)
{
	size_t o = 0;

	for (; *s != '\0' && o + 3 < outlen; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

static int
metrics_walk(struct buf *b, const char *prefix, const json_t *node,
    const char *labels)
{
	const char *key;
	json_t *value;
	char name[256];
	int err = PC_OK;

	json_object_foreach((json_t *)node, key, value) {
		metric_name(name, sizeof(name), prefix, key);
		if (json_is_number(value)) {
			err = buf_printf(b, "%s%s %.17g\n", name, labels,
			    json_number_value(value));
		} else if (json_is_boolean(value)) {
			err = buf_printf(b, "%s%s %d\n", name, labels,
			    json_is_true(value) ? 1 : 0);
		} else if (json_is_object(value)) {
			err = metrics_walk(b, name, value, labels);
		} else if (json_is_array(value)) {
			/* Arrays of objects with a "name": one label set each. */
			size_t i;
			json_t *item;

			json_array_foreach(value, i, item) {
				const char *item_name = json_string_value(json_object_get(item, "name"));
				char escaped[256];
				char item_labels[300];

				if (!json_is_object(item) || item_name == NULL)
					continue;
				label_escape(escaped, sizeof(escaped), item_name);
				snprintf(item_labels, sizeof(item_labels), "{name=\"%s\"}", escaped);
				err = metrics_walk(b, name, item, item_labels);
				if (err != PC_OK)
					break;
			}
		}
		if (err != PC_OK)
			break;
	}
	return err;
}

char *
admin_metrics_text(const json_t *stats)
{
	struct buf b;

	buf_init(&b, ADMIN_METRICS_MAX);
	/* Over the limit the text stops after the last whole line. */
	if (metrics_walk(&b, "portcullis", stats, "") == PC_ERR_NOMEM) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static void
handle_metrics(struct admin *a, struct http_exchange *x)
{
	json_t *stats = a->src.stats(a->src.arg);
	char *text = stats != NULL ? admin_metrics_text(stats) : NULL;

	json_decref(stats);
	if (text == NULL) {
		respond_error(x, 500, "out of memory");
		return;
	}
	http_respond_bytes(x, 200, "text/plain; version=0.0.4", text, strlen(text));
	pc_free(text);
}

static void
handle_verdicts(struct admin *a, struct http_exchange *x, const char *query)
{
	char decision[32] = "";
	char repo[256] = "";
	char limit_text[16] = "";
	uint64_t limit = 100;
	json_t *list;

	if (a->src.verdicts == NULL) {
		respond_error(x, 404, "no policy is configured, so there are no verdicts");
		return;
	}
	route_query_param(query, "decision", decision, sizeof(decision));
	if (decision[0] != '\0' && strcmp(decision, "allow") != 0 &&
	    strcmp(decision, "deny") != 0) {
		respond_error(x, 400, "decision must be allow or deny");
		return;
	}
	route_query_param(query, "repository", repo, sizeof(repo));
	if (route_query_param(query, "limit", limit_text, sizeof(limit_text)) &&
	    (http_parse_u64(limit_text, strlen(limit_text), &limit) != PC_OK ||
	    limit == 0 || limit > ADMIN_VERDICTS_MAX)) {
		respond_error(x, 400, "limit must be between 1 and 1000");
		return;
	}
	list = a->src.verdicts(a->src.arg, decision[0] ? decision : NULL,
	    repo[0] ? repo : NULL, (size_t)limit);
	respond_json(x, 200, list);
	json_decref(list);
}

static void
handle_report(struct admin *a, struct http_exchange *x, const char *digest)
{
	json_t *report;

	if (a->src.report == NULL) {
		respond_error(x, 404, "no policy is configured, so there are no reports");
		return;
	}
	report = a->src.report(a->src.arg, digest);
	if (report == NULL) {
		respond_error(x, 404, "no report for this digest");
		return;
	}
	respond_json(x, 200, report);
	json_decref(report);
}

void
admin_handle(struct http_exchange *x, void *arg)
{
	struct admin *a = arg;
	const struct http_request *req = http_exchange_request(x);
	const char *path = req->path;
	const char *why = NULL;

	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		http_add_header(x, "Allow", "GET, HEAD");
		respond_error(x, 405, "the admin endpoints are read-only");
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		http_respond_bytes(x, 200, "text/plain", "ok\n", 3);
		return;
	}
	if (!admin_authorized(a, req)) {
		log_warn("event=admin_unauthorized peer=%s path=%s", req->peer, path);
		http_add_header(x, "WWW-Authenticate", "Bearer realm=\"portcullis-admin\"");
		respond_error(x, 401, "a valid bearer token is required");
		return;
	}
	if (strcmp(path, "/readyz") == 0) {
		if (a->src.ready(a->src.arg, &why))
			http_respond_bytes(x, 200, "text/plain", "ready\n", 6);
		else {
			char line[256];
			int n = snprintf(line, sizeof(line), "degraded: %s\n", why ? why : "");

			http_respond_bytes(x, 503, "text/plain", line, (size_t)n);
		}
		return;
	}
	if (strcmp(path, "/stats") == 0) {
		json_t *stats = a->src.stats(a->src.arg);

		respond_json(x, 200, stats);
		json_decref(stats);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		handle_metrics(a, x);
		return;
	}
	if (strcmp(path, "/verdicts") == 0) {
		handle_verdicts(a, x, req->query);
		return;
	}
	if (strncmp(path, "/reports/", 9) == 0) {
		handle_report(a, x, path + 9);
		return;
	}
	respond_error(x, 404, "unknown admin endpoint");
}
