#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "policy/policy_internal.h"

/* Keys longer than this get no suggestion. */
#define SUGGEST_MAX_KEY 64

void
problem_add(struct problems *pr, const char *pointer, const char *fmt, ...)
{
	char message[512];
	json_t *item;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	item = json_pack("{s:i, s:s}", "line",
	    pr->tree != NULL ? yamltree_line(pr->tree, pointer) : 0,
	    "message", message);
	if (item == NULL || json_array_append_new(pr->list, item) != 0)
		pr->nomem = true;
}

/*
 * Levenshtein distance of a and b, both shorter than SUGGEST_MAX_KEY,
 * computed over two rows of the dynamic-programming table.
 */
static size_t
levenshtein(const char *a, const char *b)
{
	size_t previous[SUGGEST_MAX_KEY + 1], current[SUGGEST_MAX_KEY + 1];
	size_t alen = strlen(a), blen = strlen(b);

	for (size_t j = 0; j <= blen; j++)
		previous[j] = j;
	for (size_t i = 1; i <= alen; i++) {
		current[0] = i;
		for (size_t j = 1; j <= blen; j++) {
			size_t substitute = previous[j - 1] +
			    (a[i - 1] == b[j - 1] ? 0 : 1);
			size_t delete = previous[j] + 1;
			size_t insert = current[j - 1] + 1;
			size_t best = substitute;

			if (delete < best)
				best = delete;
			if (insert < best)
				best = insert;
			current[j] = best;
		}
		memcpy(previous, current, (blen + 1) * sizeof(previous[0]));
	}
	return previous[blen];
}

/*
 * A key is suggested when at most a third of its letters (and at least
 * two) differ, so "treshold" finds "threshold" but "foo" finds nothing.
 */
const char *
nearest_key(const char *key, const char *const *keys, size_t n)
{
	const char *best = NULL;
	size_t best_distance = SIZE_MAX;
	size_t len = strlen(key);
	size_t limit = len / 3 > 2 ? len / 3 : 2;

	if (len >= SUGGEST_MAX_KEY)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (strlen(keys[i]) >= SUGGEST_MAX_KEY)
			continue;
		d = levenshtein(key, keys[i]);
		if (d < best_distance) {
			best_distance = d;
			best = keys[i];
		}
	}
	return best_distance <= limit ? best : NULL;
}

void
problem_unknown_key(struct problems *pr, const char *pointer,
    const char *what, const char *key, const char *const *keys, size_t n)
{
	const char *near = nearest_key(key, keys, n);

	if (near != NULL)
		problem_add(pr, pointer, "unknown %s '%s'; did you mean '%s'?",
		    what, key, near);
	else
		problem_add(pr, pointer, "unknown %s '%s'", what, key);
}

const char *
pointer_join(char *out, size_t outlen, const char *pointer, const char *token)
{
	size_t n = (size_t)snprintf(out, outlen, "%s/", pointer);

	if (n >= outlen)
		return out;
	for (const char *c = token; *c != '\0' && n + 3 < outlen; c++) {
		if (*c == '~' || *c == '/') {
			out[n++] = '~';
			out[n++] = *c == '~' ? '0' : '1';
		} else {
			out[n++] = *c;
		}
	}
	out[n] = '\0';
	return out;
}

bool
glob_match(const char *pattern, const char *s)
{
	return fnmatch(pattern, s, 0) == 0;
}

/* Reads exactly n digits at *p into *out and advances *p. */
static bool
read_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Parses "YYYY-MM-DD" at *p into tm, checking the day exists. */
static bool
read_date(const char **p, struct tm *tm)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int year, month, day;

	if (!read_digits(p, 4, &year) || *(*p)++ != '-' ||
	    !read_digits(p, 2, &month) || *(*p)++ != '-' ||
	    !read_digits(p, 2, &day))
		return false;
	if (year < 1970 || month < 1 || month > 12 || day < 1)
		return false;
	if (day > days[month - 1] + (month == 2 && is_leap(year) ? 1 : 0))
		return false;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = year - 1900;
	tm->tm_mon = month - 1;
	tm->tm_mday = day;
	return true;
}

int
policy_parse_rfc3339(const char *s, time_t *out)
{
	const char *p = s;
	struct tm tm;
	int hour, minute, second, offset = 0;
	time_t t;

	if (!read_date(&p, &tm))
		return PC_ERR_INVALID;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return PC_ERR_INVALID;
	p++;
	if (!read_digits(&p, 2, &hour) || *p++ != ':' ||
	    !read_digits(&p, 2, &minute) || *p++ != ':' ||
	    !read_digits(&p, 2, &second))
		return PC_ERR_INVALID;
	if (hour > 23 || minute > 59 || second > 60)
		return PC_ERR_INVALID;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return PC_ERR_INVALID;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int oh, om;

		p++;
		if (!read_digits(&p, 2, &oh) || *p++ != ':' ||
		    !read_digits(&p, 2, &om) || oh > 23 || om > 59)
			return PC_ERR_INVALID;
		offset = sign * (oh * 3600 + om * 60);
	} else {
		return PC_ERR_INVALID;
	}
	if (*p != '\0')
		return PC_ERR_INVALID;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_sec = second;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return PC_ERR_INVALID;
	*out = t - offset;
	return PC_OK;
}

int
policy_parse_expiry(const char *s, time_t *out)
{
	const char *p = s;
	struct tm tm;
	time_t t;

	if (strlen(s) == 10) {
		if (!read_date(&p, &tm) || *p != '\0')
			return PC_ERR_INVALID;
		t = timegm(&tm);
		if (t == (time_t)-1)
			return PC_ERR_INVALID;
		*out = t + 24 * 3600;  /* valid through the whole day */
		return PC_OK;
	}
	if (policy_parse_rfc3339(s, &t) != PC_OK)
		return PC_ERR_INVALID;
	*out = t;
	return PC_OK;
}

int
policy_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t factor;
	} units[] = {
		{"", 1}, {"B", 1},
		{"KB", 1000ULL}, {"MB", 1000ULL * 1000}, {"GB", 1000ULL * 1000 * 1000},
		{"TB", 1000ULL * 1000 * 1000 * 1000},
		{"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30},
		{"TiB", 1ULL << 40},
	};
	unsigned long long value;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return PC_ERR_INVALID;
	errno = 0;
	value = strtoull(s, &end, 10);
	if (errno != 0)
		return PC_ERR_INVALID;
	if (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (value > UINT64_MAX / units[i].factor)
			return PC_ERR_INVALID;
		*out = value * units[i].factor;
		return PC_OK;
	}
	return PC_ERR_INVALID;
}

int
severity_rank(const char *word)
{
	static const char *const words[] = {
		"critical", "high", "medium", "low", "unknown",
	};

	if (word == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(word, words[i]) == 0)
			return (int)i;
	return -1;
}

int
rule_result_add(struct rule_result *res, json_t *finding)
{
	if (finding == NULL)
		return PC_ERR_NOMEM;
	if (json_array_append_new(res->findings, finding) != 0)
		return PC_ERR_NOMEM;
	return PC_OK;
}
