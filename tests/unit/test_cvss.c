#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "scanner/cvss.h"

struct scored_vector {
	const char *vector;
	double score;
	const char *rating;
	const char *source;
};

/*
 * CVSS 3.1 base scores. "FIRST" marks the worked examples of the FIRST
 * CVSS v3.1 Examples document; "NVD" marks scores shown on the NVD record
 * of that CVE; the other vectors are the most frequent ones in the OSV
 * records of the Go and npm ecosystems, with the score NVD shows for them.
 */
static const struct scored_vector v31_vectors[] = {
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "medium",
	    "FIRST CVE-2013-1937"},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, "medium",
	    "FIRST CVE-2013-0375"},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, "low",
	    "FIRST CVE-2014-3566"},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, "critical",
	    "FIRST CVE-2012-1516"},
	{"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2, "medium",
	    "FIRST CVE-2009-0783"},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8, "high",
	    "FIRST CVE-2012-0384"},
	{"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8, "high",
	    "FIRST CVE-2015-1098"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, "high",
	    "FIRST CVE-2014-0160"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical",
	    "FIRST CVE-2014-6271"},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8, "medium",
	    "FIRST CVE-2008-1447"},
	{"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8, "medium",
	    "FIRST CVE-2014-2005"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8, "medium",
	    "FIRST CVE-2010-0467"},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4, "medium",
	    "FIRST CVE-2014-9253"},
	{"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8, "high",
	    "FIRST CVE-2011-1265"},
	{"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", 4.6, "medium",
	    "FIRST CVE-2014-2019"},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N", 7.4, "high",
	    "FIRST CVE-2014-0224"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6, "critical",
	    "FIRST CVE-2012-5376"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "critical",
	    "NVD CVE-2021-44228"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, "high", "OSV"},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1, "high", "OSV"},
	{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H", 5.5, "medium", "OSV"},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", 5.9, "medium", "OSV"},
	{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "high", "OSV"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3, "medium", "OSV"},
	{"CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:N/I:N/A:H", 4.7, "medium", "OSV"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L", 7.3, "high", "OSV"},
	{"CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.0, "high", "OSV"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H", 9.1, "critical", "OSV"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:L/A:L", 5.4, "medium", "OSV"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:N/A:H", 8.6, "high", "OSV"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "none",
	    "no impact"},
};

/* CVSS 3.0 base scores from the NVD records of these vectors. */
static const struct scored_vector v30_vectors[] = {
	{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical", "NVD"},
	{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, "high", "NVD"},
	{"CVSS:3.0/AV:L/AC:L/PR:H/UI:N/S:U/C:N/I:H/A:H", 6.0, "medium", "NVD"},
	{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:N/A:N", 6.5, "medium", "NVD"},
	{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:N", 5.3, "medium", "NVD"},
};

/*
 * CVSS 4.0 base scores from the FIRST CVSS v4.0 Examples page (named by
 * CVE) and from the FIRST calculator (the others). Supplemental metrics
 * and E:A do not change a base score.
 */
static const struct scored_vector v40_vectors[] = {
	{"CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	    7.3, "high", "CVE-2022-41741"},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	    7.7, "high", "CVE-2020-3549"},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N",
	    8.3, "high", "CVE-2023-3089"},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
	    4.6, "medium", "CVE-2021-44714"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N",
	    5.1, "medium", "CVE-2022-21830"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N",
	    6.9, "medium", "CVE-2022-22186"},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:N/VI:N/VA:N/SC:H/SI:N/SA:N",
	    5.9, "medium", "CVE-2023-21989"},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
	    9.4, "critical", "CVE-2020-3947"},
	{"CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:H/SA:N/"
	    "S:P/V:D", 8.3, "high", "CVE-2023-30560"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N/E:A",
	    8.7, "high", "CVE-2014-0160"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A",
	    10.0, "critical", "CVE-2021-44228"},
	{"CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:H/SI:N/SA:H",
	    6.4, "medium", "CVE-2013-6014"},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/R:I",
	    9.3, "critical", "CVE-2016-5729"},
	{"CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
	    8.6, "high", "FIRST examples"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
	    7.1, "high", "FIRST examples"},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
	    8.2, "high", "FIRST examples"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:H/VA:N/SC:H/SI:H/SA:H",
	    9.3, "critical", "CVE-2023-48228"},
	{"CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	    7.0, "high", "macrovector 200200 at its maximum"},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	    7.7, "high", "FIRST examples"},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N",
	    8.3, "high", "FIRST examples"},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/S:P",
	    8.5, "high", "FIRST examples"},
	{"CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N/S:P",
	    8.6, "high", "FIRST examples"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	    9.3, "critical", "FIRST calculator"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:H/SA:H",
	    7.9, "high", "FIRST calculator"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N",
	    6.9, "medium", "FIRST calculator"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
	    0.0, "none", "no impact"},
};

static void
check_vectors(const struct scored_vector *table, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double score = -1.0;
		const char *rating = NULL;
		char errbuf[256] = "";
		int err;

		err = cvss_score_ex(table[i].vector, &score, &rating, errbuf,
		    sizeof(errbuf));
		if (err != PC_OK)
			fail_msg("%s (%s): %s", table[i].vector, table[i].source,
			    errbuf);
		if ((long)(score * 10.0 + 0.5) != (long)(table[i].score * 10.0 + 0.5))
			fail_msg("%s (%s): score %.1f, expected %.1f",
			    table[i].vector, table[i].source, score,
			    table[i].score);
		assert_string_equal(rating, table[i].rating);
	}
}

static void
cvss31_published_scores(void **state)
{
	(void)state;
	check_vectors(v31_vectors, sizeof(v31_vectors) / sizeof(v31_vectors[0]));
}

static void
cvss30_published_scores(void **state)
{
	(void)state;
	check_vectors(v30_vectors, sizeof(v30_vectors) / sizeof(v30_vectors[0]));
}

static void
cvss40_published_scores(void **state)
{
	(void)state;
	check_vectors(v40_vectors, sizeof(v40_vectors) / sizeof(v40_vectors[0]));
}

/* Version 3 readers must accept the metrics in any order. */
static void
cvss3_any_metric_order(void **state)
{
	double score;

	(void)state;
	assert_int_equal(cvss_score("CVSS:3.1/C:H/I:H/A:H/AV:N/AC:L/PR:N/UI:N/S:U",
	    &score, NULL), PC_OK);
	assert_true(score == 9.8);
}

/* Temporal and environmental metrics are validated, the base score kept. */
static void
cvss3_temporal_parsed_not_applied(void **state)
{
	double score;

	(void)state;
	assert_int_equal(cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/"
	    "A:H/E:U/RL:O/RC:R/CR:L/MAV:P/MS:C", &score, NULL), PC_OK);
	assert_true(score == 9.8);
	assert_int_equal(cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/"
	    "A:H/E:Z", &score, NULL), PC_ERR_INVALID);
}

/* Threat metrics parse, and the base score ignores them (CVSS-B). */
static void
cvss4_threat_parsed_not_applied(void **state)
{
	double score;

	(void)state;
	assert_int_equal(cvss_score("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/"
	    "VI:H/VA:H/SC:N/SI:N/SA:N/E:U", &score, NULL), PC_OK);
	assert_true(score == 7.7);
	assert_int_equal(cvss_score("CVSS:4.0/AV:L/AC:H/AT:N/PR:N/UI:A/VC:N/"
	    "VI:N/VA:L/SC:H/SI:H/SA:H/CR:H/IR:H/AR:M/MAV:N/MAC:L/MAT:P/MPR:L/"
	    "MUI:A/MVC:N/MVI:H/MVA:L/MSC:L/MSI:S/MSA:H", &score, NULL), PC_OK);
	assert_int_equal(cvss_score("CVSS:4.0/AV:P/AC:H/AT:P/PR:L/UI:P/VC:H/"
	    "VI:H/VA:H/SC:L/SI:L/SA:L/E:A/S:P/AU:Y/R:A/V:D/RE:L/U:Red", &score,
	    NULL), PC_OK);
}

static void
cvss_rating_bands(void **state)
{
	(void)state;
	assert_string_equal(cvss_rating(0.0), "none");
	assert_string_equal(cvss_rating(0.1), "low");
	assert_string_equal(cvss_rating(3.9), "low");
	assert_string_equal(cvss_rating(4.0), "medium");
	assert_string_equal(cvss_rating(6.9), "medium");
	assert_string_equal(cvss_rating(7.0), "high");
	assert_string_equal(cvss_rating(8.9), "high");
	assert_string_equal(cvss_rating(9.0), "critical");
	assert_string_equal(cvss_rating(10.0), "critical");
}

struct invalid_vector {
	const char *vector;
	const char *reason;  /* a fragment of the expected message */
};

static const struct invalid_vector invalid_vectors[] = {
	{"", "does not start with"},
	{"AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "does not start with"},
	{"CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", "does not start with"},
	{"CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "does not start with"},
	{"cvss:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "does not start with"},
	{"CVSS:3.1/", "empty metric"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", "missing base metric A"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H", "missing base metric S"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/", "empty metric"},
	{"CVSS:3.1/AV:N//AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "empty metric"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:L", "more than once"},
	{"CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "invalid value 'X'"},
	{"CVSS:3.1/AV:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "invalid value 'n'"},
	{"CVSS:3.1/AV:NN/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "invalid value"},
	{"CVSS:3.1/AV:/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "invalid value"},
	{"CVSS:3.1/AV/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "has no ':'"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y", "unknown metric"},
	{"CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/S:U/C:H/I:H/A:H", "unknown metric"},
	{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/MSI:S", "unknown metric"},
	{"CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	    "missing base metric AT"},
	{"CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	    "out of order"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:R/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	    "invalid value 'R'"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N",
	    "invalid value 'S'"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/"
	    "U:red", "invalid value 'red'"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/"
	    "E:A/E:A", "more than once"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/"
	    "S:N/E:A", "out of order"},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/"
	    "S:U", "invalid value 'U'"},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H ", "invalid value"},
};

static void
cvss_invalid_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(invalid_vectors) / sizeof(invalid_vectors[0]);
	    i++) {
		char errbuf[256] = "";
		double score = -1.0;
		int err;

		err = cvss_score_ex(invalid_vectors[i].vector, &score, NULL,
		    errbuf, sizeof(errbuf));
		if (err != PC_ERR_INVALID)
			fail_msg("'%s' accepted", invalid_vectors[i].vector);
		if (strstr(errbuf, invalid_vectors[i].reason) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'",
			    invalid_vectors[i].vector, errbuf,
			    invalid_vectors[i].reason);
		assert_true(score == -1.0);
	}
}

static void
cvss_null_and_long_vectors(void **state)
{
	char longer[CVSS_MAX_VECTOR_LEN + 64];
	char errbuf[128];
	size_t len;

	(void)state;
	assert_int_equal(cvss_score(NULL, NULL, NULL), PC_ERR_INVALID);

	len = (size_t)snprintf(longer, sizeof(longer), "%s",
	    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
	while (len + 5 < sizeof(longer) - 1) {
		memcpy(longer + len, "/E:X", 4);
		len += 4;
	}
	longer[len] = '\0';
	assert_int_equal(cvss_score_ex(longer, NULL, NULL, errbuf,
	    sizeof(errbuf)), PC_ERR_INVALID);
	assert_non_null(strstr(errbuf, "longer than"));
}

/*
 * The 3.0 Roundup (ceil in floating point) and the 3.1 integer Roundup
 * differ only on raw scores a hair above a tenth. No base vector produces
 * such a raw score, so every one of the 2592 base vectors must score the
 * same under both versions.
 */
static void
cvss30_cvss31_agree_on_base(void **state)
{
	const char *av = "NALP", *ac = "LH", *pr = "NLH", *ui = "NR";
	const char *scope = "UC", *cia = "HLN";
	int n = 0;

	(void)state;
	for (int i = 0; i < 4 * 2 * 3 * 2 * 2 * 3 * 3 * 3; i++) {
		char v[64];
		double s30, s31;
		int k = i;

		snprintf(v, sizeof(v),
		    "CVSS:3.0/AV:%c/AC:%c/PR:%c/UI:%c/S:%c/C:%c/I:%c/A:%c",
		    av[k % 4], ac[k / 4 % 2], pr[k / 8 % 3], ui[k / 24 % 2],
		    scope[k / 48 % 2], cia[k / 96 % 3], cia[k / 288 % 3],
		    cia[k / 864 % 3]);
		assert_int_equal(cvss_score(v, &s30, NULL), PC_OK);
		v[7] = '1';
		assert_int_equal(cvss_score(v, &s31, NULL), PC_OK);
		if (s30 != s31)
			fail_msg("%s: 3.0 %.1f, 3.1 %.1f", v + 9, s30, s31);
		n++;
	}
	assert_int_equal(n, 2592);
}

/*
 * Vectors with characters replaced at pseudo-random places score in
 * [0, 10] or fail as invalid, never crash (the sanitizer build checks
 * memory use).
 */
static void
cvss_mutated_vectors(void **state)
{
	static const char *const seeds[] = {
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/MAV:L",
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/"
		    "E:A/CR:H/MSI:S/U:Red",
	};
	static const char alphabet[] = "/:NALPHUCRXSY0134.";
	unsigned long seed = 99;
	int valid = 0;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		const char *original = seeds[round % 2];
		size_t len = strlen(original);
		char v[128];
		double score = -1.0;
		const char *rating = NULL;

		memcpy(v, original, len + 1);
		for (int flips = 0; flips < 1 + round % 3; flips++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			v[(seed >> 33) % len] =
			    alphabet[(seed >> 17) % (sizeof(alphabet) - 1)];
		}
		if (cvss_score(v, &score, &rating) != PC_OK)
			continue;
		valid++;
		assert_true(score >= 0.0 && score <= 10.0);
		assert_non_null(rating);
	}
	assert_true(valid > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cvss31_published_scores),
		cmocka_unit_test(cvss30_published_scores),
		cmocka_unit_test(cvss40_published_scores),
		cmocka_unit_test(cvss3_any_metric_order),
		cmocka_unit_test(cvss3_temporal_parsed_not_applied),
		cmocka_unit_test(cvss4_threat_parsed_not_applied),
		cmocka_unit_test(cvss_rating_bands),
		cmocka_unit_test(cvss_invalid_vectors),
		cmocka_unit_test(cvss_null_and_long_vectors),
		cmocka_unit_test(cvss30_cvss31_agree_on_base),
		cmocka_unit_test(cvss_mutated_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
