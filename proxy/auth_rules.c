#include "proxy/auth_internal.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

struct glob_list {
	char **globs;
	size_t n;
};

struct rule {
	struct glob_list users;
	struct glob_list subjects;
	struct glob_list repositories;
	bool anonymous;
	bool deny;
};

struct auth_rules {
	struct rule *rules;
	size_t n;
};

static void
glob_list_free(struct glob_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		pc_free(l->globs[i]);
	pc_free(l->globs);
	l->globs = NULL;
	l->n = 0;
}

static int
glob_list_copy(struct glob_list *l, const char *const *globs, size_t n,
    size_t rule_index, const char *field, char *errbuf, size_t errlen)
{
	if (n > AUTH_MAX_RULE_GLOBS) {
		snprintf(errbuf, errlen, "auth rule %zu: more than %d %s", rule_index,
		    AUTH_MAX_RULE_GLOBS, field);
		return PC_ERR_LIMIT;
	}
	if (n == 0)
		return PC_OK;
	l->globs = pc_calloc(n, sizeof(*l->globs));
	if (l->globs == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		size_t len = globs[i] != NULL ? strlen(globs[i]) : 0;

		if (len == 0 || len > AUTH_MAX_GLOB_BYTES) {
			snprintf(errbuf, errlen, "auth rule %zu: %s entry %zu is empty or "
			    "longer than %d bytes", rule_index, field, i + 1,
			    AUTH_MAX_GLOB_BYTES);
			return PC_ERR_INVALID;
		}
		l->globs[i] = pc_strdup(globs[i]);
		if (l->globs[i] == NULL)
			goto nomem;
		l->n = i + 1;
	}
	return PC_OK;
nomem:
	snprintf(errbuf, errlen, "auth rule %zu: out of memory", rule_index);
	return PC_ERR_NOMEM;
}

static int
rule_copy(struct rule *dst, const struct auth_rule *src, size_t index,
    char *errbuf, size_t errlen)
{
	int err;

	dst->anonymous = src->anonymous;
	dst->deny = src->deny;
	if (src->n_users == 0 && src->n_subjects == 0 && !src->anonymous) {
		snprintf(errbuf, errlen, "auth rule %zu: names no users, subjects or "
		    "anonymous, so it matches no client", index);
		return PC_ERR_INVALID;
	}
	if (src->n_repositories == 0) {
		snprintf(errbuf, errlen, "auth rule %zu: names no repositories; use "
		    "\"*\" for all", index);
		return PC_ERR_INVALID;
	}
	err = glob_list_copy(&dst->users, src->users, src->n_users, index,
	    "users", errbuf, errlen);
	if (err == PC_OK)
		err = glob_list_copy(&dst->subjects, src->subjects, src->n_subjects,
		    index, "subjects", errbuf, errlen);
	if (err == PC_OK)
		err = glob_list_copy(&dst->repositories, src->repositories,
		    src->n_repositories, index, "repositories", errbuf, errlen);
	return err;
}

int
auth_rules_new(const struct auth_rule *rules, size_t n,
    struct auth_rules **out, char *errbuf, size_t errlen)
{
	struct auth_rules *r;
	int err = PC_OK;

	*out = NULL;
	if (n > AUTH_MAX_RULES) {
		snprintf(errbuf, errlen, "more than %d auth rules", AUTH_MAX_RULES);
		return PC_ERR_LIMIT;
	}
	r = pc_calloc(1, sizeof(*r));
	if (r == NULL || (n > 0 && (r->rules = pc_calloc(n, sizeof(*r->rules))) == NULL)) {
		pc_free(r);
		snprintf(errbuf, errlen, "auth rules: out of memory");
		return PC_ERR_NOMEM;
	}
	r->n = n;
	for (size_t i = 0; i < n && err == PC_OK; i++)
		err = rule_copy(&r->rules[i], &rules[i], i + 1, errbuf, errlen);
	if (err != PC_OK) {
		auth_rules_free(r);
		return err;
	}
	*out = r;
	return PC_OK;
}

void
auth_rules_free(struct auth_rules *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		glob_list_free(&r->rules[i].users);
		glob_list_free(&r->rules[i].subjects);
		glob_list_free(&r->rules[i].repositories);
	}
	pc_free(r->rules);
	pc_free(r);
}

size_t
auth_rules_count(const struct auth_rules *r)
{
	return r != NULL ? r->n : 0;
}

static bool
glob_list_match(const struct glob_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++) {
		if (fnmatch(l->globs[i], s, 0) == 0)
			return true;
	}
	return false;
}

static bool
rule_matches_identity(const struct rule *rule, enum auth_identity kind,
    const char *name)
{
	switch (kind) {
	case AUTH_ID_ANONYMOUS:
		return rule->anonymous;
	case AUTH_ID_PASSWORD:
	case AUTH_ID_TOKEN:
		return glob_list_match(&rule->users, name);
	case AUTH_ID_CERTIFICATE:
		return glob_list_match(&rule->subjects, name);
	}
	return false;
}

bool
auth_rules_allow(const struct auth_rules *r, enum auth_identity kind,
    const char *name, const char *repository)
{
	if (r == NULL || r->n == 0)
		return true;
	for (size_t i = 0; i < r->n; i++) {
		const struct rule *rule = &r->rules[i];

		if (rule_matches_identity(rule, kind, name) &&
		    glob_list_match(&rule->repositories, repository))
			return !rule->deny;
	}
	return false;
}
