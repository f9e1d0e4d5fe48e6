#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "scanner/cvss.h"
#include "scanner/cvss_v4.h"

/* Maximum number of metrics in one version: CVSS 4.0 defines 32. */
#define CVSS_MAX_METRICS 32

/*
 * One metric of a version: its abbreviation, its allowed values as a
 * space-separated list, and whether the base score requires it.
 */
struct cvss_metric {
	const char *name;
	const char *values;
	bool mandatory;
};

struct cvss_version {
	const char *prefix;            /* "CVSS:3.1/" */
	const struct cvss_metric *metrics;
	size_t nmetrics;
	bool ordered;                  /* metrics must follow table order */
};

/* CVSS 3.x metrics: base, then temporal, then environmental. */
static const struct cvss_metric cvss3_metrics[] = {
	{"AV", "N A L P", true},
	{"AC", "L H", true},
	{"PR", "N L H", true},
	{"UI", "N R", true},
	{"S", "U C", true},
	{"C", "H L N", true},
	{"I", "H L N", true},
	{"A", "H L N", true},
	{"E", "X U P F H", false},
	{"RL", "X O T W U", false},
	{"RC", "X U R C", false},
	{"CR", "X L M H", false},
	{"IR", "X L M H", false},
	{"AR", "X L M H", false},
	{"MAV", "X N A L P", false},
	{"MAC", "X L H", false},
	{"MPR", "X N L H", false},
	{"MUI", "X N R", false},
	{"MS", "X U C", false},
	{"MC", "X N L H", false},
	{"MI", "X N L H", false},
	{"MA", "X N L H", false},
};

/* CVSS 4.0 metrics: base, threat, environmental, supplemental. */
static const struct cvss_metric cvss4_metrics[] = {
	{"AV", "N A L P", true},
	{"AC", "L H", true},
	{"AT", "N P", true},
	{"PR", "N L H", true},
	{"UI", "N P A", true},
	{"VC", "H L N", true},
	{"VI", "H L N", true},
	{"VA", "H L N", true},
	{"SC", "H L N", true},
	{"SI", "H L N", true},
	{"SA", "H L N", true},
	{"E", "X A P U", false},
	{"CR", "X H M L", false},
	{"IR", "X H M L", false},
	{"AR", "X H M L", false},
	{"MAV", "X N A L P", false},
	{"MAC", "X L H", false},
	{"MAT", "X N P", false},
	{"MPR", "X N L H", false},
	{"MUI", "X N P A", false},
	{"MVC", "X H L N", false},
	{"MVI", "X H L N", false},
	{"MVA", "X H L N", false},
	{"MSC", "X H L N", false},
	{"MSI", "X S H L N", false},
	{"MSA", "X S H L N", false},
	{"S", "X N P", false},
	{"AU", "X N Y", false},
	{"R", "X A U I", false},
	{"V", "X D C", false},
	{"RE", "X L M H", false},
	{"U", "X Clear Green Amber Red", false},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Version 3.x readers accept the metrics in any order. Version 4.0
 * vectors must keep the order of the metric table above, which the FIRST
 * CVSS v4.0 calculator also enforces.
 */
static const struct cvss_version cvss_versions[] = {
	{"CVSS:3.0/", cvss3_metrics, NELEM(cvss3_metrics), false},
	{"CVSS:3.1/", cvss3_metrics, NELEM(cvss3_metrics), false},
	{"CVSS:4.0/", cvss4_metrics, NELEM(cvss4_metrics), true},
};

static void
set_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Finds value (len bytes) in the space-separated list values and returns
 * its position, or -1.
 */
static int
value_index(const char *values, const char *value, size_t len)
{
	int index = 0;
	const char *p = values;

	while (*p != '\0') {
		size_t tlen = strcspn(p, " ");

		if (tlen == len && memcmp(p, value, len) == 0)
			return index;
		p += tlen;
		if (*p == ' ')
			p++;
		index++;
	}
	return -1;
}

static int
metric_index(const struct cvss_version *version, const char *name,
    size_t len)
{
	for (size_t i = 0; i < version->nmetrics; i++) {
		const char *m = version->metrics[i].name;

		if (strlen(m) == len && memcmp(m, name, len) == 0)
			return (int)i;
	}
	return -1;
}

/*
 * Parses one "NAME:VALUE" part of length len into values[]. last is the
 * table position of the previous metric, for the order check.
 */
static int
parse_part(const struct cvss_version *version, const char *part, size_t len,
    int *values, int *last, char *errbuf, size_t errlen)
{
	const char *colon = memchr(part, ':', len);
	size_t nlen, vlen;
	int m, v;

	if (len == 0) {
		set_error(errbuf, errlen, "empty metric (doubled or trailing '/')");
		return PC_ERR_INVALID;
	}
	if (colon == NULL) {
		set_error(errbuf, errlen, "metric '%.*s' has no ':'", (int)len,
		    part);
		return PC_ERR_INVALID;
	}
	nlen = (size_t)(colon - part);
	vlen = len - nlen - 1;
	m = metric_index(version, part, nlen);
	if (m < 0) {
		set_error(errbuf, errlen, "unknown metric '%.*s'", (int)nlen, part);
		return PC_ERR_INVALID;
	}
	if (values[m] >= 0) {
		set_error(errbuf, errlen, "metric '%.*s' appears more than once",
		    (int)nlen, part);
		return PC_ERR_INVALID;
	}
	if (version->ordered && m < *last) {
		set_error(errbuf, errlen, "metric '%.*s' is out of order",
		    (int)nlen, part);
		return PC_ERR_INVALID;
	}
	v = value_index(version->metrics[m].values, colon + 1, vlen);
	if (v < 0) {
		set_error(errbuf, errlen, "invalid value '%.*s' for metric %s "
		    "(expected one of: %s)", (int)vlen, colon + 1,
		    version->metrics[m].name, version->metrics[m].values);
		return PC_ERR_INVALID;
	}
	values[m] = v;
	*last = m;
	return PC_OK;
}

/*
 * Splits the metrics after the prefix and checks that every mandatory
 * metric is present. values[i] receives the value position of metric i,
 * or -1 when absent.
 */
static int
parse_metrics(const struct cvss_version *version, const char *s,
    int *values, char *errbuf, size_t errlen)
{
	int last = -1;
	int err;

	for (size_t i = 0; i < version->nmetrics; i++)
		values[i] = -1;
	for (;;) {
		size_t len = strcspn(s, "/");

		err = parse_part(version, s, len, values, &last, errbuf, errlen);
		if (err != PC_OK)
			return err;
		if (s[len] == '\0')
			break;
		s += len + 1;
	}
	for (size_t i = 0; i < version->nmetrics; i++) {
		if (version->metrics[i].mandatory && values[i] < 0) {
			set_error(errbuf, errlen, "missing base metric %s",
			    version->metrics[i].name);
			return PC_ERR_INVALID;
		}
	}
	return PC_OK;
}

/*
 * Roundup of CVSS v3.1: works on the input scaled to an
 * integer, so that 4.000000000000001 rounds to 4.0 and not to 4.1.
 */
static double
roundup_v31(double x)
{
	long long scaled = llround(x * 100000.0);

	if (scaled % 10000 == 0)
		return (double)scaled / 100000.0;
	return (double)(scaled / 10000 + 1) / 10.0;
}

/* Roundup of CVSS v3.0: ceil to one decimal, in floating point. */
static double
roundup_v30(double x)
{
	return ceil(x * 10.0) / 10.0;
}

/* Value positions follow cvss3_metrics: AV N A L P, AC L H, ... */
static double
cvss3_base(const int *v, bool v31)
{
	static const double av[] = {0.85, 0.62, 0.55, 0.2};
	static const double ac[] = {0.77, 0.44};
	static const double pr_unchanged[] = {0.85, 0.62, 0.27};
	static const double pr_changed[] = {0.85, 0.68, 0.5};
	static const double ui[] = {0.85, 0.62};
	static const double cia[] = {0.56, 0.22, 0.0};
	bool changed = v[4] == 1;
	double iss, impact, exploitability, base;

	iss = 1.0 - (1.0 - cia[v[5]]) * (1.0 - cia[v[6]]) * (1.0 - cia[v[7]]);
	if (changed)
		impact = 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15);
	else
		impact = 6.42 * iss;
	exploitability = 8.22 * av[v[0]] * ac[v[1]] *
	    (changed ? pr_changed[v[2]] : pr_unchanged[v[2]]) * ui[v[3]];
	if (impact <= 0.0)
		return 0.0;
	base = impact + exploitability;
	if (changed)
		base *= 1.08;
	if (base > 10.0)
		base = 10.0;
	return v31 ? roundup_v31(base) : roundup_v30(base);
}

const char *
cvss_rating(double score)
{
	/* Compare in tenths so 6.95-style float noise cannot cross a band. */
	long tenths = lround(score * 10.0);

	if (tenths >= 90)
		return "critical";
	if (tenths >= 70)
		return "high";
	if (tenths >= 40)
		return "medium";
	if (tenths >= 1)
		return "low";
	return "none";
}

int
cvss_score_ex(const char *vector, double *score, const char **rating,
    char *errbuf, size_t errlen)
{
	const struct cvss_version *version = NULL;
	int values[CVSS_MAX_METRICS];
	double base;
	int err;

	if (vector == NULL) {
		set_error(errbuf, errlen, "no vector");
		return PC_ERR_INVALID;
	}
	if (strlen(vector) > CVSS_MAX_VECTOR_LEN) {
		set_error(errbuf, errlen, "vector longer than %d bytes",
		    CVSS_MAX_VECTOR_LEN);
		return PC_ERR_INVALID;
	}
	for (size_t i = 0; i < NELEM(cvss_versions); i++) {
		const char *prefix = cvss_versions[i].prefix;

		if (strncmp(vector, prefix, strlen(prefix)) == 0)
			version = &cvss_versions[i];
	}
	if (version == NULL) {
		set_error(errbuf, errlen, "vector does not start with CVSS:3.0/, "
		    "CVSS:3.1/ or CVSS:4.0/");
		return PC_ERR_INVALID;
	}
	err = parse_metrics(version, vector + strlen(version->prefix), values,
	    errbuf, errlen);
	if (err != PC_OK)
		return err;

	if (version->metrics == cvss4_metrics)
		base = cvss4_base(values);
	else
		base = cvss3_base(values, version->prefix[7] == '1');
	if (score != NULL)
		*score = base;
	if (rating != NULL)
		*rating = cvss_rating(base);
	return PC_OK;
}

int
cvss_score(const char *vector, double *score, const char **rating)
{
	return cvss_score_ex(vector, score, rating, NULL, 0);
}
