#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/yamltree.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const top_keys[] = {"threshold", "mode", "unscanned",
    "manifest_wait", "rules", "exceptions", "overrides"};
static const char *const exception_keys[] = {"id", "rule", "package",
    "repository", "path", "reason", "expires"};
static const char *const override_keys[] = {"repository", "threshold",
    "rules"};

/* Returns true when v is a number from 0 to 100; else records why not. */
static bool
check_threshold(const json_t *v, const char *pointer, struct problems *pr)
{
	double d = json_number_value(v);

	if (!json_is_number(v) || !isfinite(d) || d < 0 || d > 100) {
		problem_add(pr, pointer, "threshold: expected a number from 0 "
		    "to 100");
		return false;
	}
	return true;
}

/* Stores the position of v's string in words; false when absent. */
static bool
find_word(const json_t *v, const char *const *words, size_t n, int *index)
{
	const char *s = json_string_value(v);

	for (size_t i = 0; s != NULL && i < n; i++) {
		if (strcmp(s, words[i]) == 0) {
			*index = (int)i;
			return true;
		}
	}
	return false;
}

static json_t *
load_rules(const json_t *rules, struct problems *pr)
{
	json_t *out = json_object();
	const char *names[16];
	const char *name;
	json_t *settings;
	char at[POLICY_MAX_STRING + 32];

	for (size_t i = 0; i < policy_rule_count && i < NELEM(names); i++)
		names[i] = policy_rules[i].name;
	if (rules == NULL || json_is_null(rules))
		return out;
	if (!json_is_object(rules)) {
		problem_add(pr, "/rules", "rules: expected a mapping of rule "
		    "names to settings");
		return out;
	}
	json_object_foreach((json_t *)rules, name, settings) {
		const struct rule_def *def = rule_find(name);
		json_t *normalized;

		pointer_join(at, sizeof(at), "/rules", name);
		if (def == NULL) {
			problem_unknown_key(pr, at, "rule", name, names, policy_rule_count);
			continue;
		}
		if (rule_settings_normalize(def, settings, false, at, pr,
		    &normalized) == PC_OK)
			/* set_new releases the value on failure */
			json_object_set_new(out, name, normalized);
	}
	return out;
}

/* Copies a string key of an exception after checking it. */
static void
exception_string(json_t *out, const json_t *in, const char *key,
    const char *pointer, struct problems *pr)
{
	const json_t *v = json_object_get(in, key);
	const char *s = json_string_value(v);
	char at[POLICY_MAX_STRING + 64];

	if (v == NULL)
		return;
	pointer_join(at, sizeof(at), pointer, key);
	if (s == NULL || s[0] == '\0') {
		problem_add(pr, at, "%s: expected a non-empty string", key);
		return;
	}
	if (strlen(s) > POLICY_MAX_STRING) {
		problem_add(pr, at, "%s: longer than %d bytes", key,
		    POLICY_MAX_STRING);
		return;
	}
	json_object_set_new(out, key, json_string(s));
}

static json_t *
load_exception(const json_t *in, const char *pointer, struct problems *pr)
{
	json_t *out;
	const char *key;
	json_t *value;
	char at[POLICY_MAX_STRING + 64];
	time_t expires;

	if (!json_is_object(in)) {
		problem_add(pr, pointer, "exception: expected a mapping with id "
		    "(or rule), reason and optional package, repository, "
		    "expires");
		return NULL;
	}
	json_object_foreach((json_t *)in, key, value) {
		bool known = false;

		for (size_t i = 0; i < NELEM(exception_keys); i++)
			known |= strcmp(key, exception_keys[i]) == 0;
		if (!known)
			problem_unknown_key(pr, pointer_join(at, sizeof(at), pointer, key),
			    "key", key, exception_keys, NELEM(exception_keys));
	}
	out = json_object();
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < NELEM(exception_keys); i++)
		exception_string(out, in, exception_keys[i], pointer, pr);

	if ((json_object_get(in, "id") != NULL) ==
	    (json_object_get(in, "rule") != NULL))
		problem_add(pr, pointer, "exception: needs exactly one of 'id' "
		    "(a vulnerability id or alias) or 'rule' (a secret rule id)");
	if (json_object_get(in, "reason") == NULL)
		problem_add(pr, pointer, "exception: missing required 'reason'");
	if (json_object_get(in, "rule") != NULL &&
	    json_object_get(in, "package") != NULL)
		problem_add(pr, pointer_join(at, sizeof(at), pointer, "package"),
		    "package: applies to vulnerability exceptions (id) only");
	if (json_object_get(in, "id") != NULL &&
	    json_object_get(in, "path") != NULL)
		problem_add(pr, pointer_join(at, sizeof(at), pointer, "path"),
		    "path: applies to secret exceptions (rule) only");
	if (json_object_get(out, "expires") != NULL &&
	    policy_parse_expiry(json_string_value(json_object_get(out,
	    "expires")), &expires) != PC_OK)
		problem_add(pr, pointer_join(at, sizeof(at), pointer, "expires"),
		    "expires: expected a date YYYY-MM-DD or an RFC 3339 time, "
		    "got '%s'", json_string_value(json_object_get(out, "expires")));
	return out;
}

static json_t *
load_list(const json_t *list, const char *key, size_t max,
    json_t *(*load_one)(const json_t *, const char *, struct problems *),
    struct problems *pr)
{
	json_t *out = json_array();
	char pointer[64], at[96];
	json_t *item;
	size_t i;

	snprintf(pointer, sizeof(pointer), "/%s", key);
	if (list == NULL || json_is_null(list))
		return out;
	if (!json_is_array(list)) {
		problem_add(pr, pointer, "%s: expected a list", key);
		return out;
	}
	if (json_array_size(list) > max) {
		problem_add(pr, pointer, "%s: more than %zu entries", key, max);
		return out;
	}
	json_array_foreach(list, i, item) {
		json_t *one;

		snprintf(at, sizeof(at), "%s/%zu", pointer, i);
		one = load_one(item, at, pr);
		if (one != NULL && out != NULL)
			json_array_append_new(out, one);
		else
			json_decref(one);
	}
	return out;
}

/* Validates the partial rule settings of one override. */
static json_t *
load_override_rules(const json_t *rules, const char *pointer,
    struct problems *pr)
{
	json_t *out = json_object();
	const char *names[16];
	const char *name;
	json_t *settings;
	char at[POLICY_MAX_STRING + 96];

	for (size_t i = 0; i < policy_rule_count && i < NELEM(names); i++)
		names[i] = policy_rules[i].name;
	if (!json_is_object(rules)) {
		problem_add(pr, pointer, "rules: expected a mapping of rule "
		    "names to settings");
		return out;
	}
	json_object_foreach((json_t *)rules, name, settings) {
		const struct rule_def *def = rule_find(name);
		json_t *partial;

		pointer_join(at, sizeof(at), pointer, name);
		if (def == NULL) {
			problem_unknown_key(pr, at, "rule", name, names, policy_rule_count);
			continue;
		}
		if (rule_settings_normalize(def, settings, true, at, pr,
		    &partial) == PC_OK)
			/* set_new releases the value on failure */
			json_object_set_new(out, name, partial);
	}
	return out;
}

static json_t *
load_override(const json_t *in, const char *pointer, struct problems *pr)
{
	json_t *out, *value;
	const char *key;
	char at[POLICY_MAX_STRING + 64];

	if (!json_is_object(in)) {
		problem_add(pr, pointer, "override: expected a mapping with "
		    "repository and threshold or rules");
		return NULL;
	}
	out = json_object();
	if (out == NULL)
		return NULL;
	json_object_foreach((json_t *)in, key, value) {
		pointer_join(at, sizeof(at), pointer, key);
		if (strcmp(key, "repository") == 0) {
			const char *s = json_string_value(value);

			if (s == NULL || s[0] == '\0' ||
			    strlen(s) > POLICY_MAX_STRING)
				problem_add(pr, at, "repository: expected a "
				    "non-empty glob such as 'myorg/*'");
			else
				json_object_set_new(out, key, json_string(s));
		} else if (strcmp(key, "threshold") == 0) {
			if (check_threshold(value, at, pr))
				json_object_set_new(out, key,
				    json_real(json_number_value(value)));
		} else if (strcmp(key, "rules") == 0) {
			json_object_set_new(out, key,
			    load_override_rules(value, at, pr));
		} else {
			problem_unknown_key(pr, at, "key", key, override_keys,
			    NELEM(override_keys));
		}
	}
	if (json_object_get(in, "repository") == NULL)
		problem_add(pr, pointer, "override: missing required "
		    "'repository'");
	return out;
}

static void
load_scalars(const json_t *root, struct policy *p, json_t *doc,
    struct problems *pr)
{
	static const char *const modes[] = {"enforce", "audit"};
	static const char *const unscanned[] = {"hold", "deny", "allow"};
	const json_t *v;
	int index;

	p->threshold = POLICY_DEFAULT_THRESHOLD;
	if ((v = json_object_get(root, "threshold")) != NULL &&
	    check_threshold(v, "/threshold", pr))
		p->threshold = json_number_value(v);
	json_object_set_new(doc, "threshold", json_real(p->threshold));

	p->mode = POLICY_MODE_ENFORCE;
	if ((v = json_object_get(root, "mode")) != NULL) {
		if (find_word(v, modes, NELEM(modes), &index))
			p->mode = (enum policy_mode)index;
		else
			problem_add(pr, "/mode", "mode: expected enforce or audit");
	}
	json_object_set_new(doc, "mode", json_string(modes[p->mode]));

	p->unscanned = POLICY_UNSCANNED_HOLD;
	if ((v = json_object_get(root, "unscanned")) != NULL) {
		if (find_word(v, unscanned, NELEM(unscanned), &index))
			p->unscanned = (enum policy_unscanned)index;
		else
			problem_add(pr, "/unscanned", "unscanned: expected hold, "
			    "deny or allow");
	}
	json_object_set_new(doc, "unscanned",
	    json_string(unscanned[p->unscanned]));

	p->manifest_wait = POLICY_DEFAULT_MANIFEST_WAIT;
	if ((v = json_object_get(root, "manifest_wait")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > POLICY_MAX_MANIFEST_WAIT) {
			problem_add(pr, "/manifest_wait", "manifest_wait: "
			    "expected whole seconds from 0 to %d",
			    POLICY_MAX_MANIFEST_WAIT);
		} else {
			p->manifest_wait = (int)json_integer_value(v);
			p->manifest_wait_set = true;
			json_object_set_new(doc, "manifest_wait",
			    json_integer(p->manifest_wait));
		}
	}
}

/* Points each exception record at the strings of the canonical document. */
static int
index_exceptions(struct policy *p)
{
	json_t *list = json_object_get(p->doc, "exceptions");
	json_t *e;
	size_t i;

	p->nexceptions = json_array_size(list);
	if (p->nexceptions == 0)
		return PC_OK;
	p->exceptions = pc_calloc(p->nexceptions, sizeof(*p->exceptions));
	if (p->exceptions == NULL)
		return PC_ERR_NOMEM;
	json_array_foreach(list, i, e) {
		struct policy_exception *x = &p->exceptions[i];

		x->source = e;
		x->id = json_string_value(json_object_get(e, "id"));
		x->rule = json_string_value(json_object_get(e, "rule"));
		x->package = json_string_value(json_object_get(e, "package"));
		x->repository = json_string_value(json_object_get(e,
		    "repository"));
		x->path = json_string_value(json_object_get(e, "path"));
		x->reason = json_string_value(json_object_get(e, "reason"));
		x->expires = json_string_value(json_object_get(e, "expires"));
		if (x->expires != NULL &&
		    policy_parse_expiry(x->expires, &x->expires_at) != PC_OK)
			return PC_ERR_INVALID;
	}
	return PC_OK;
}

static int
compute_hash(struct policy *p)
{
	char *canonical = json_dumps(p->doc, JSON_SORT_KEYS | JSON_COMPACT);

	if (canonical == NULL)
		return PC_ERR_NOMEM;
	sha256_hex(canonical, strlen(canonical), p->hash);
	pc_free(canonical);
	return PC_OK;
}

/*
 * An override may add a rule that the policy does not list; the rule then
 * starts from its defaults, so the override must set its required
 * settings itself.
 */
static void
check_override_additions(const json_t *doc, struct problems *pr)
{
	const json_t *rules = json_object_get(doc, "rules");
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(doc, "overrides"), i, o) {
		const char *name;
		json_t *partial;

		json_object_foreach(json_object_get(o, "rules"), name, partial) {
			const struct rule_def *def = rule_find(name);
			char at[128];

			if (json_object_get(rules, name) != NULL)
				continue;
			snprintf(at, sizeof(at), "/overrides/%zu/rules/%s", i, name);
			for (size_t k = 0; k < def->nsettings; k++)
				if (def->settings[k].required &&
				    json_object_get(partial,
				    def->settings[k].key) == NULL)
					problem_add(pr, at, "rule %s is not in "
					    "the policy's rules, so this override "
					    "must set '%s'", name,
					    def->settings[k].key);
		}
	}
}

/*
 * Validates tree into a new policy. Problems go to pr; the policy is
 * returned only when there are none.
 */
static int
policy_build(const struct yamltree *tree, struct problems *pr,
    struct policy **out)
{
	const json_t *root = tree->root;
	struct policy *p = NULL;
	const char *key;
	json_t *value;
	char at[POLICY_MAX_STRING + 8];
	int err;

	if (!json_is_object(root)) {
		problem_add(pr, "", "expected a mapping of policy keys at the "
		    "top level");
		return PC_ERR_INVALID;
	}
	json_object_foreach((json_t *)root, key, value) {
		bool known = false;

		for (size_t i = 0; i < NELEM(top_keys); i++)
			known |= strcmp(key, top_keys[i]) == 0;
		if (!known)
			problem_unknown_key(pr, pointer_join(at, sizeof(at), "", key),
			    "key", key, top_keys, NELEM(top_keys));
	}
	p = pc_calloc(1, sizeof(*p));
	if (p == NULL || (p->doc = json_object()) == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	load_scalars(root, p, p->doc, pr);
	json_object_set_new(p->doc, "rules",
	    load_rules(json_object_get(root, "rules"), pr));
	json_object_set_new(p->doc, "exceptions",
	    load_list(json_object_get(root, "exceptions"), "exceptions",
	    POLICY_MAX_EXCEPTIONS, load_exception, pr));
	json_object_set_new(p->doc, "overrides",
	    load_list(json_object_get(root, "overrides"), "overrides",
	    POLICY_MAX_OVERRIDES, load_override, pr));
	check_override_additions(p->doc, pr);
	if (pr->nomem) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	if (json_array_size(pr->list) > 0) {
		err = PC_ERR_INVALID;
		goto out;
	}
	err = index_exceptions(p);
	if (err == PC_OK)
		err = compute_hash(p);
	if (err == PC_OK) {
		*out = p;
		p = NULL;
	}
out:
	policy_free(p);
	return err;
}

struct numbered_problem {
	int line;
	size_t order;
	const char *message;
};

static int
compare_problems(const void *a, const void *b)
{
	const struct numbered_problem *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Calls emit for each problem ordered by line, as "name:line: message".
 * Returns PC_OK or PC_ERR_NOMEM.
 */
static int
problems_each(const struct problems *pr, const char *name,
    void (*emit)(void *arg, size_t index, const char *line), void *arg)
{
	size_t n = json_array_size(pr->list);
	struct numbered_problem *sorted;
	json_t *item;
	size_t i;

	if (n == 0)
		return PC_OK;
	sorted = pc_calloc(n, sizeof(*sorted));
	if (sorted == NULL)
		return PC_ERR_NOMEM;
	json_array_foreach(pr->list, i, item) {
		sorted[i].line = (int)json_integer_value(json_object_get(item,
		    "line"));
		sorted[i].order = i;
		sorted[i].message = json_string_value(json_object_get(item,
		    "message"));
	}
	qsort(sorted, n, sizeof(*sorted), compare_problems);
	for (i = 0; i < n; i++) {
		char line[768];

		snprintf(line, sizeof(line), "%s:%d: %s", name, sorted[i].line,
		    sorted[i].message);
		emit(arg, i, line);
	}
	pc_free(sorted);
	return PC_OK;
}

struct first_problem {
	char *errbuf;
	size_t errlen;
	size_t count;
};

static void
keep_first(void *arg, size_t index, const char *line)
{
	struct first_problem *first = arg;

	if (index == 0)
		snprintf(first->errbuf, first->errlen, "%s", line);
	else if (index == first->count - 1 && first->errlen > 0) {
		size_t used = strlen(first->errbuf);

		snprintf(first->errbuf + used, first->errlen - used,
		    " (and %zu more; run 'portcullis policy check' to list "
		    "them)", first->count - 1);
	}
}

static int
load_tree(struct yamltree *tree, struct policy **out, char *errbuf,
    size_t errlen)
{
	struct problems pr = {json_array(), tree, false};
	struct first_problem first = {errbuf, errlen, 0};
	int err;

	if (pr.list == NULL)
		return PC_ERR_NOMEM;
	err = policy_build(tree, &pr, out);
	if (err == PC_ERR_INVALID && errbuf != NULL && errlen > 0) {
		first.count = json_array_size(pr.list);
		if (problems_each(&pr, tree->path, keep_first, &first) != PC_OK)
			err = PC_ERR_NOMEM;
	} else if (err == PC_ERR_NOMEM && errbuf != NULL && errlen > 0) {
		snprintf(errbuf, errlen, "%s: out of memory", tree->path);
	}
	json_decref(pr.list);
	return err;
}

int
policy_load(const char *path, struct policy **out, char *errbuf,
    size_t errlen)
{
	struct yamltree tree;
	int err;

	err = yamltree_load_file(path, &tree, errbuf, errlen);
	if (err != PC_OK)
		return err;
	err = load_tree(&tree, out, errbuf, errlen);
	yamltree_free(&tree);
	return err;
}

int
policy_load_string(const char *name, const char *text, size_t len,
    struct policy **out, char *errbuf, size_t errlen)
{
	struct yamltree tree;
	int err;

	err = yamltree_load_string(name, text, len, &tree, errbuf, errlen);
	if (err != PC_OK)
		return err;
	err = load_tree(&tree, out, errbuf, errlen);
	yamltree_free(&tree);
	return err;
}

static void
print_problem(void *arg, size_t index, const char *line)
{
	(void)index;
	fprintf((FILE *)arg, "%s\n", line);
}

int
policy_check(const char *path, FILE *out, int *problems)
{
	struct yamltree tree;
	struct problems pr = {NULL, &tree, false};
	struct policy *p = NULL;
	char errbuf[1024];
	int err;

	*problems = 0;
	err = yamltree_load_file(path, &tree, errbuf, sizeof(errbuf));
	if (err == PC_ERR_NOMEM)
		return err;
	if (err != PC_OK) {
		fprintf(out, "%s\n", errbuf);
		*problems = 1;
		return PC_OK;
	}
	pr.list = json_array();
	if (pr.list == NULL) {
		yamltree_free(&tree);
		return PC_ERR_NOMEM;
	}
	err = policy_build(&tree, &pr, &p);
	policy_free(p);
	if (err == PC_OK || err == PC_ERR_INVALID) {
		*problems = (int)json_array_size(pr.list);
		err = problems_each(&pr, tree.path, print_problem, out);
	}
	json_decref(pr.list);
	yamltree_free(&tree);
	return err;
}

const char *
policy_hash(const struct policy *p)
{
	return p->hash;
}

enum policy_mode
policy_mode(const struct policy *p)
{
	return p->mode;
}

enum policy_unscanned
policy_unscanned(const struct policy *p)
{
	return p->unscanned;
}

int
policy_manifest_wait(const struct policy *p, bool *is_set)
{
	if (is_set != NULL)
		*is_set = p->manifest_wait_set;
	return p->manifest_wait;
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	json_decref(p->doc);
	pc_free(p->exceptions);
	pc_free(p);
}
