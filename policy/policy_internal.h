#ifndef PORTCULLIS_POLICY_POLICY_INTERNAL_H
#define PORTCULLIS_POLICY_POLICY_INTERNAL_H

/*
 * Internal to policy/: the loaded policy, the rule table and the helpers
 * that loading and evaluation share. Callers outside policy/ use
 * policy/policy.h only.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "common/digest.h"
#include "common/yamltree.h"
#include "policy/policy.h"

/* Problems found while validating, each {"line": n, "message": "..."}. */
struct problems {
	json_t *list;
	const struct yamltree *tree;  /* maps JSON pointers to lines */
	bool nomem;                   /* an allocation failed while recording */
};

/* Records a problem at the YAML node of pointer (or its nearest parent). */
void problem_add(struct problems *pr, const char *pointer, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

struct policy_exception {
	const char *id;          /* advisory id or alias; NULL for a rule one */
	const char *rule;        /* secret rule id; NULL for an id one */
	const char *package;     /* glob on the package or source name */
	const char *repository;  /* glob on the repository */
	const char *path;        /* glob on the secret's path */
	const char *reason;
	const char *expires;     /* as written, or NULL */
	time_t expires_at;       /* first second it no longer applies */
	const json_t *source;    /* the normalized exception object */
};

struct policy {
	json_t *doc;  /* canonical form: defaults filled in, values normalized */
	char hash[DIGEST_SHA256_BUFSIZE];
	double threshold;
	enum policy_mode mode;
	enum policy_unscanned unscanned;
	int manifest_wait;
	bool manifest_wait_set;
	struct policy_exception *exceptions;
	size_t nexceptions;
};

/* Evaluation state that rules share: the report and exception counters. */
struct rule_context {
	const struct policy *policy;
	const json_t *report;
	const char *repository;
	time_t now;
	size_t *applied;  /* per exception: findings it removed */
};

/*
 * One rule's outcome: s_i in [0, 100] and findings (a new array of
 * objects, each with at least "message" and "points", the amount the
 * finding took off s_i before the floor at 0).
 */
struct rule_result {
	double score;
	json_t *findings;
};

enum setting_type {
	SETTING_NUMBER,       /* a number >= 0 */
	SETTING_BOOL,
	SETTING_POINTS,       /* {critical, high, medium, low, unknown: n} */
	SETTING_SEVERITY,     /* critical, high, medium or low */
	SETTING_UNKNOWN_AS,   /* a severity word or a number of points */
	SETTING_GLOBS,        /* a list of glob strings */
	SETTING_BANNED,       /* a list of {name, versions?, type?} */
	SETTING_DAYS,         /* a whole number of days */
	SETTING_SIZE,         /* bytes: a number or "500MiB", "2GB" */
};

struct setting_def {
	const char *key;
	enum setting_type type;
	bool required;
};

struct rule_def {
	const char *name;
	const struct setting_def *settings;
	size_t nsettings;
	/* Fills res from the rule's normalized settings; PC_OK or NOMEM. */
	int (*evaluate)(const json_t *settings, struct rule_context *ctx,
	    struct rule_result *res);
	/* Adds the rule's defaults to settings; PC_OK or PC_ERR_NOMEM. */
	int (*defaults)(json_t *settings);
};

extern const struct rule_def policy_rules[];
extern const size_t policy_rule_count;

/* Returns the rule named name, or NULL. */
const struct rule_def *rule_find(const char *name);

/*
 * Validates the settings of one rule (a mapping, or JSON null for none)
 * found at pointer, and stores their normalized form in *out (a new
 * object). partial: an override's settings, where required keys may be
 * missing and no defaults are added. Returns PC_OK, PC_ERR_INVALID after
 * recording problems in pr, or PC_ERR_NOMEM.
 */
int rule_settings_normalize(const struct rule_def *def, const json_t *in,
    bool partial, const char *pointer, struct problems *pr, json_t **out);

/*
 * Records "unknown WHAT 'key'", naming the key of keys[0..n) nearest to
 * it when one is close enough to be a typo.
 */
void problem_unknown_key(struct problems *pr, const char *pointer,
    const char *what, const char *key, const char *const *keys, size_t n);

/*
 * Writes pointer + "/" + token into out (size outlen), escaping '~' and
 * '/' in token as RFC 6901 requires. Returns out.
 */
const char *pointer_join(char *out, size_t outlen, const char *pointer,
    const char *token);

/* Returns the key of keys[0..n) closest to key by edit distance, or NULL. */
const char *nearest_key(const char *key, const char *const *keys, size_t n);

/* Matches a glob (fnmatch(3) syntax, '*' also crosses '/') against s. */
bool glob_match(const char *pattern, const char *s);

/*
 * Parses "YYYY-MM-DD" (the end of that day, UTC) or an RFC 3339 time into
 * the first second after it. Returns PC_OK or PC_ERR_INVALID.
 */
int policy_parse_expiry(const char *s, time_t *out);

/* Parses an RFC 3339 time ("2026-11-30T10:00:00Z"); PC_OK or INVALID. */
int policy_parse_rfc3339(const char *s, time_t *out);

/* Parses "500MiB", "2GB", "1024" into bytes; PC_OK or PC_ERR_INVALID. */
int policy_parse_size(const char *s, uint64_t *out);

/* Severity words in rank order, worst first; -1 for an unknown word. */
int severity_rank(const char *word);

/*
 * Appends finding (reference stolen, NULL counts as an allocation
 * failure) to res. The evaluator sorts and caps the list afterwards.
 */
int rule_result_add(struct rule_result *res, json_t *finding);

#endif
