#ifndef PORTCULLIS_POLICY_POLICY_H
#define PORTCULLIS_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

/*
 * The security policy: weighted rules that turn an image report into a
 * verdict (allow or deny), loaded from a YAML file (docs/policy.md
 * describes every key).
 *
 * Each rule i listed in the policy yields a score s_i in [0, 100] and has
 * a weight w_i >= 0. The image score is S = sum(w_i * s_i) / sum(w_i),
 * or 100 when the weights sum to 0. The image is denied when S, rounded
 * to one decimal, is below the threshold, or when a rule with
 * "block: true" fails (s_i < 100). Exceptions remove vulnerability (or
 * secret) findings before scoring; overrides change the threshold and the
 * rules for repositories that match a glob.
 *
 * A loaded policy is immutable, so one policy may be evaluated from
 * several threads at once.
 */

struct policy;

enum policy_mode {
	POLICY_MODE_ENFORCE,  /* a deny verdict rejects the pull */
	POLICY_MODE_AUDIT,    /* verdicts are recorded; every pull goes through */
};

/* Action of the gate on a pull whose image has no verdict yet. */
enum policy_unscanned {
	POLICY_UNSCANNED_HOLD,   /* wait up to manifest_wait for the verdict */
	POLICY_UNSCANNED_DENY,   /* reject until a verdict exists */
	POLICY_UNSCANNED_ALLOW,  /* let it through and scan in the background */
};

#define POLICY_DEFAULT_THRESHOLD 70.0
#define POLICY_DEFAULT_MANIFEST_WAIT 20      /* seconds */
#define POLICY_MAX_MANIFEST_WAIT 3600        /* seconds */
/* Maximum number of entries in exceptions, in overrides, and in any list
 * setting of a rule (allow, packages, repositories). */
#define POLICY_MAX_EXCEPTIONS 10000
#define POLICY_MAX_OVERRIDES 1000
#define POLICY_MAX_LIST_ENTRIES 10000
/* Maximum number of findings one rule lists in a verdict; the rest are
 * counted in the rule's "findings_omitted". */
#define POLICY_MAX_FINDINGS 1000
/* Maximum length of a policy string value (glob, id, reason), in bytes. */
#define POLICY_MAX_STRING 1024

/*
 * Loads and validates the policy file at path. On success stores a new
 * policy in *out, which the caller frees with policy_free(). On failure
 * returns PC_ERR_INVALID (the file breaks the schema), PC_ERR_IO,
 * PC_ERR_LIMIT or PC_ERR_NOMEM, leaves *out untouched and writes the first
 * problem as "file:line: message" into errbuf (with the count of further
 * problems when there are more).
 */
int policy_load(const char *path, struct policy **out, char *errbuf,
    size_t errlen);

/* The same for a policy in memory; name is the file name in messages. */
int policy_load_string(const char *name, const char *text, size_t len,
    struct policy **out, char *errbuf, size_t errlen);

/*
 * Validates the policy file at path and writes every problem to out, one
 * "file:line: message" per line, ordered by line. An unknown key names
 * the nearest valid key ("did you mean 'threshold'?"). Stores the number
 * of problems in *problems (0 for a valid file). Returns PC_OK when the
 * check ran, whatever it found, or PC_ERR_NOMEM.
 */
int policy_check(const char *path, FILE *out, int *problems);

/*
 * Returns "sha256:<hex>" of the policy's canonical JSON (defaults filled
 * in, numbers as reals, keys sorted), so key order, comments and
 * spelled-out defaults do not change it. manifest_wait is the exception:
 * its absence defers to the server configuration, so "manifest_wait: 20"
 * hashes differently from no manifest_wait. The string belongs to p.
 */
const char *policy_hash(const struct policy *p);

/*
 * Evaluates the image report (the JSON object the scanner builds) for
 * repository (NULL: report.image.repository) at time now, which decides
 * whether exceptions have expired and how old the image is. Stores a new
 * verdict object in *verdict (the caller owns the reference):
 *
 *   {"decision": "allow"|"deny", "mode": "enforce"|"audit",
 *    "score": 41.5, "threshold": 70.0, "blocked_by": [rule names],
 *    "rules": [{"name", "weight", "score", "block", "findings": [...],
 *               "findings_omitted"?}],
 *    "exceptions": [{"id" | "rule", "package"?, "repository"?, "path"?,
 *                    "reason", "expires", "expired", "applied"}],
 *    "policy_hash", "db_version", "scanner_version", "image",
 *    "summary": "score 41.5 < threshold 70; ...", "evaluated_at"}
 *
 * "decision" is the policy's outcome in either mode; the gate lets a
 * "deny" through when mode is "audit". Every finding has a "message".
 * Returns PC_OK, PC_ERR_INVALID when report is not an object, or
 * PC_ERR_NOMEM (*verdict untouched on failure).
 */
int policy_evaluate(const struct policy *p, const json_t *report,
    const char *repository, time_t now, json_t **verdict);

enum policy_mode policy_mode(const struct policy *p);
enum policy_unscanned policy_unscanned(const struct policy *p);

/*
 * Returns the manifest_wait of the policy in seconds, and stores in
 * *is_set (when not NULL) whether the file sets it; when it does not,
 * the server configuration decides and the value returned is the default.
 */
int policy_manifest_wait(const struct policy *p, bool *is_set);

/* Returns the policy's threshold for repository, after overrides. */
double policy_threshold(const struct policy *p, const char *repository);

void policy_free(struct policy *p);

#endif
