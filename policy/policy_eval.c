#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "policy/rule_checks.h"

/* Findings named in a verdict's summary. */
#define SUMMARY_FINDINGS 3
/* Maximum length of a summary line, in bytes. */
#define SUMMARY_MAX 1024
/* Rank added to the findings of a failing block rule, so they come first. */
#define BLOCK_RANK 1e12

static bool
exception_in_force(const struct rule_context *ctx,
    const struct policy_exception *x)
{
	return x->expires == NULL || ctx->now < x->expires_at;
}

static bool
exception_covers_repository(const struct rule_context *ctx,
    const struct policy_exception *x)
{
	return x->repository == NULL ||
	    (ctx->repository != NULL && glob_match(x->repository,
	    ctx->repository));
}

/* Returns true when id equals the vulnerability's id or one of its aliases. */
static bool
names_vulnerability(const char *id, const json_t *vulnerability)
{
	const char *own = json_string_value(json_object_get(vulnerability, "id"));
	json_t *alias;
	size_t i;

	if (own != NULL && strcmp(own, id) == 0)
		return true;
	json_array_foreach(json_object_get(vulnerability, "aliases"), i, alias) {
		const char *s = json_string_value(alias);

		if (s != NULL && strcmp(s, id) == 0)
			return true;
	}
	return false;
}

static bool
names_package(const char *pattern, const json_t *vulnerability)
{
	const char *name = json_string_value(json_object_get(vulnerability,
	    "package"));
	const char *source = json_string_value(json_object_get(vulnerability,
	    "source_name"));

	return (name != NULL && glob_match(pattern, name)) ||
	    (source != NULL && glob_match(pattern, source));
}

bool
exceptions_remove_vulnerability(struct rule_context *ctx,
    const json_t *vulnerability)
{
	const struct policy *p = ctx->policy;

	for (size_t i = 0; i < p->nexceptions; i++) {
		const struct policy_exception *x = &p->exceptions[i];

		if (x->id == NULL || !exception_in_force(ctx, x) ||
		    !exception_covers_repository(ctx, x))
			continue;
		if (!names_vulnerability(x->id, vulnerability))
			continue;
		if (x->package != NULL && !names_package(x->package,
		    vulnerability))
			continue;
		ctx->applied[i]++;
		return true;
	}
	return false;
}

bool
exceptions_remove_secret(struct rule_context *ctx, const json_t *secret)
{
	const struct policy *p = ctx->policy;
	const char *rule = json_string_value(json_object_get(secret, "rule"));
	const char *path = json_string_value(json_object_get(secret, "path"));

	for (size_t i = 0; rule != NULL && i < p->nexceptions; i++) {
		const struct policy_exception *x = &p->exceptions[i];
		const char *pattern = x->path;

		if (x->rule == NULL || strcmp(x->rule, rule) != 0 ||
		    !exception_in_force(ctx, x) ||
		    !exception_covers_repository(ctx, x))
			continue;
		if (pattern != NULL) {
			const char *p_path = path;

			if (p_path == NULL)
				continue;
			pattern += pattern[0] == '/';
			p_path += p_path[0] == '/';
			if (!glob_match(pattern, p_path))
				continue;
		}
		ctx->applied[i]++;
		return true;
	}
	return false;
}

/* Adds a rule's default settings (weight 1, not blocking) to a new object. */
static json_t *
rule_defaults(const struct rule_def *def)
{
	json_t *settings = json_pack("{s:f, s:b}", "weight", 1.0, "block", 0);

	if (settings != NULL && def->defaults != NULL &&
	    def->defaults(settings) != PC_OK) {
		json_decref(settings);
		return NULL;
	}
	return settings;
}

/*
 * Builds the rule settings and threshold that apply to repository: the
 * policy's, then each matching override in file order. An override may
 * add a rule the policy does not list, starting from its defaults.
 */
static int
effective_rules(const struct policy *p, const char *repository,
    double *threshold, json_t **rules)
{
	json_t *out = json_deep_copy(json_object_get(p->doc, "rules"));
	json_t *o;
	size_t i;

	if (out == NULL)
		return PC_ERR_NOMEM;
	*threshold = p->threshold;
	json_array_foreach(json_object_get(p->doc, "overrides"), i, o) {
		const char *glob = json_string_value(json_object_get(o,
		    "repository"));
		const json_t *t = json_object_get(o, "threshold");
		const char *name;
		json_t *partial, *copy;

		if (repository == NULL || !glob_match(glob, repository))
			continue;
		if (t != NULL)
			*threshold = json_number_value(t);
		json_object_foreach(json_object_get(o, "rules"), name, partial) {
			json_t *current = json_object_get(out, name);

			if (current == NULL) {
				current = rule_defaults(rule_find(name));
				if (current == NULL ||
				    json_object_set_new(out, name, current) != 0)
					goto nomem;
			}
			/*
			 * A copy, because a later override may merge into
			 * nested objects, and the policy is shared between
			 * threads.
			 */
			copy = json_deep_copy(partial);
			if (copy == NULL ||
			    json_object_update_recursive(current, copy) != 0) {
				json_decref(copy);
				goto nomem;
			}
			json_decref(copy);
		}
	}
	*rules = out;
	return PC_OK;
nomem:
	json_decref(out);
	return PC_ERR_NOMEM;
}

double
policy_threshold(const struct policy *p, const char *repository)
{
	double threshold = p->threshold;
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(p->doc, "overrides"), i, o) {
		const json_t *t = json_object_get(o, "threshold");

		if (repository != NULL && t != NULL &&
		    glob_match(json_string_value(json_object_get(o,
		    "repository")), repository))
			threshold = json_number_value(t);
	}
	return threshold;
}

static double
round_tenth(double x)
{
	return floor(x * 10.0 + 0.5) / 10.0;
}

struct indexed_finding {
	json_t *finding;
	double points;
	size_t order;
};

static int
compare_findings(const void *a, const void *b)
{
	const struct indexed_finding *x = a, *y = b;

	if (x->points != y->points)
		return x->points > y->points ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Orders findings by points, largest first (ties keep report order), and
 * keeps the first POLICY_MAX_FINDINGS. Returns the number dropped, or
 * (size_t)-1 when out of memory.
 */
static size_t
sort_and_cap(json_t *findings)
{
	size_t n = json_array_size(findings), kept, i;
	struct indexed_finding *all;
	json_t *f;

	if (n < 2)
		return 0;
	all = pc_calloc(n, sizeof(*all));
	if (all == NULL)
		return (size_t)-1;
	json_array_foreach(findings, i, f) {
		all[i].finding = json_incref(f);
		all[i].points = json_number_value(json_object_get(f, "points"));
		all[i].order = i;
	}
	qsort(all, n, sizeof(*all), compare_findings);
	json_array_clear(findings);
	kept = n < POLICY_MAX_FINDINGS ? n : POLICY_MAX_FINDINGS;
	for (i = 0; i < n; i++) {
		if (i < kept)
			json_array_append(findings, all[i].finding);
		json_decref(all[i].finding);
	}
	pc_free(all);
	return n - kept;
}

/* The findings worst first: a failing block rule's, then by w_i * points. */
struct worst_findings {
	const char *message[SUMMARY_FINDINGS];
	double rank[SUMMARY_FINDINGS];
	size_t count;
};

static void
worst_offer(struct worst_findings *w, const char *message, double rank)
{
	size_t at = w->count;

	if (message == NULL)
		return;
	while (at > 0 && w->rank[at - 1] < rank)
		at--;
	if (at >= SUMMARY_FINDINGS)
		return;
	if (w->count < SUMMARY_FINDINGS)
		w->count++;
	memmove(&w->message[at + 1], &w->message[at],
	    (w->count - 1 - at) * sizeof(w->message[0]));
	memmove(&w->rank[at + 1], &w->rank[at],
	    (w->count - 1 - at) * sizeof(w->rank[0]));
	w->message[at] = message;
	w->rank[at] = rank;
}

struct scoring {
	double weight_sum;
	double weighted_sum;
	json_t *rules;       /* the verdict's "rules" array */
	json_t *blocked_by;  /* names of failing block rules */
	struct worst_findings worst;
};

static int
evaluate_rule(const struct rule_def *def, const json_t *settings,
    struct rule_context *ctx, struct scoring *sc)
{
	struct rule_result res = {0.0, json_array()};
	double weight = json_number_value(json_object_get(settings, "weight"));
	bool block = json_is_true(json_object_get(settings, "block"));
	bool failed;
	size_t omitted, i;
	json_t *entry, *f;
	int err;

	if (res.findings == NULL)
		return PC_ERR_NOMEM;
	err = def->evaluate(settings, ctx, &res);
	if (err == PC_OK && (omitted = sort_and_cap(res.findings)) == (size_t)-1)
		err = PC_ERR_NOMEM;
	if (err != PC_OK) {
		json_decref(res.findings);
		return err;
	}
	failed = res.score < 100.0;
	sc->weight_sum += weight;
	sc->weighted_sum += weight * res.score;
	if (block && failed &&
	    json_array_append_new(sc->blocked_by, json_string(def->name)) != 0)
		err = PC_ERR_NOMEM;
	json_array_foreach(res.findings, i, f) {
		double points = json_number_value(json_object_get(f, "points"));

		if (points > 0.0)
			worst_offer(&sc->worst, json_string_value(
			    json_object_get(f, "message")),
			    (block && failed ? BLOCK_RANK : 0.0) + weight * points);
	}
	entry = json_pack("{s:s, s:f, s:f, s:b, s:o}", "name", def->name,
	    "weight", weight, "score", round_tenth(res.score), "block", block,
	    "findings", res.findings);
	if (entry != NULL && omitted > 0)
		json_object_set_new(entry, "findings_omitted",
		    json_integer((json_int_t)omitted));
	if (entry == NULL || json_array_append_new(sc->rules, entry) != 0)
		err = PC_ERR_NOMEM;
	return err;
}

/* Builds the verdict entry of exception i, or NULL when out of memory. */
static json_t *
exception_entry(const struct policy_exception *x, size_t applied_count,
    bool expired)
{
	static const char *const keys[] = {"id", "rule", "package",
	    "repository", "path", "reason"};
	json_t *e = json_pack("{s:o, s:b, s:I}", "expires",
	    x->expires ? json_string(x->expires) : json_null(),
	    "expired", expired, "applied", (json_int_t)applied_count);

	for (size_t k = 0; e != NULL && k < sizeof(keys) / sizeof(keys[0]);
	    k++) {
		json_t *v = json_object_get(x->source, keys[k]);

		/* A copy: reference counts of the shared policy stay untouched. */
		if (v != NULL &&
		    json_object_set_new(e, keys[k], json_deep_copy(v)) != 0) {
			json_decref(e);
			e = NULL;
		}
	}
	return e;
}

static json_t *
exceptions_report(const struct policy *p, const struct rule_context *ctx)
{
	json_t *out = json_array();

	for (size_t i = 0; out != NULL && i < p->nexceptions; i++) {
		const struct policy_exception *x = &p->exceptions[i];

		if (json_array_append_new(out, exception_entry(x, ctx->applied[i],
		    !exception_in_force(ctx, x))) != 0) {
			json_decref(out);
			out = NULL;
		}
	}
	return out;
}

static json_t *
summary_line(const struct scoring *sc, double score, double threshold)
{
	struct buf b;
	json_t *out;
	size_t nblocked = json_array_size(sc->blocked_by);

	buf_init(&b, SUMMARY_MAX);
	if (nblocked > 0) {
		buf_append_str(&b, "blocked by ");
		for (size_t i = 0; i < nblocked; i++)
			buf_printf(&b, "%s%s", i > 0 ? ", " : "",
			    json_string_value(json_array_get(sc->blocked_by, i)));
		buf_append_str(&b, "; ");
	}
	buf_printf(&b, "score %.1f %s threshold %g", score,
	    score < threshold ? "<" : ">=", threshold);
	for (size_t i = 0; i < sc->worst.count; i++)
		buf_printf(&b, "%s%s", i == 0 ? "; " : ", ", sc->worst.message[i]);
	if (sc->worst.count == 0)
		buf_append_str(&b, "; no finding cost points");
	out = json_string(b.data != NULL ? b.data : "");
	buf_free(&b);
	return out;
}

static json_t *
time_string(time_t t)
{
	struct tm tm;
	char text[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(text);
}

/* A deep copy of report[key], or JSON null when absent. */
static json_t *
report_copy(const json_t *report, const char *key)
{
	json_t *v = json_object_get(report, key);

	return v != NULL ? json_deep_copy(v) : json_null();
}

static int
build_verdict(const struct policy *p, const struct rule_context *ctx,
    struct scoring *sc, double threshold, json_t **verdict)
{
	const json_t *report = ctx->report;
	double score = sc->weight_sum > 0.0 ?
	    round_tenth(sc->weighted_sum / sc->weight_sum) : 100.0;
	bool deny = score < threshold || json_array_size(sc->blocked_by) > 0;
	json_t *v;

	v = json_pack("{s:s, s:s, s:f, s:f, s:O, s:O, s:o, s:s, s:o, s:o, "
	    "s:o, s:o, s:o}",
	    "decision", deny ? "deny" : "allow",
	    "mode", p->mode == POLICY_MODE_AUDIT ? "audit" : "enforce",
	    "score", score, "threshold", threshold,
	    "blocked_by", sc->blocked_by, "rules", sc->rules,
	    "exceptions", exceptions_report(p, ctx),
	    "policy_hash", p->hash,
	    "db_version", report_copy(report, "db_version"),
	    "scanner_version", report_copy(report, "scanner_version"),
	    "image", report_copy(report, "image"),
	    "summary", summary_line(sc, score, threshold),
	    "evaluated_at", time_string(ctx->now));
	if (v == NULL)
		return PC_ERR_NOMEM;
	*verdict = v;
	return PC_OK;
}

int
policy_evaluate(const struct policy *p, const json_t *report,
    const char *repository, time_t now, json_t **verdict)
{
	struct rule_context ctx = {p, report, repository, now, NULL};
	struct scoring sc = {0.0, 0.0, json_array(), json_array(), {{0}, {0}, 0}};
	json_t *rules = NULL;
	double threshold;
	int err;

	if (!json_is_object(report)) {
		err = PC_ERR_INVALID;
		goto out;
	}
	if (ctx.repository == NULL)
		ctx.repository = json_string_value(json_object_get(
		    json_object_get(report, "image"), "repository"));
	ctx.applied = pc_calloc(p->nexceptions + 1, sizeof(*ctx.applied));
	if (ctx.applied == NULL || sc.rules == NULL || sc.blocked_by == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	err = effective_rules(p, ctx.repository, &threshold, &rules);
	for (size_t i = 0; err == PC_OK && i < policy_rule_count; i++) {
		const json_t *settings = json_object_get(rules,
		    policy_rules[i].name);

		if (settings != NULL)
			err = evaluate_rule(&policy_rules[i], settings, &ctx, &sc);
	}
	if (err == PC_OK)
		err = build_verdict(p, &ctx, &sc, threshold, verdict);
out:
	json_decref(rules);
	json_decref(sc.rules);
	json_decref(sc.blocked_by);
	pc_free(ctx.applied);
	return err;
}
