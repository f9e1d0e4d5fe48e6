#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/error.h"
#include "policy/policy.h"

/* 2026-12-04T12:00:00Z, the evaluation time of every test. */
#define NOW ((time_t)1796385600)
#define DAY 86400

/*
 * An image report in the layout the scanner builds: two vulnerabilities
 * (one found through its source package, with aliases), a secret, a
 * setuid file, a setgid file, packages, a root user and no scan errors.
 */
static const char report_text[] =
"{"
"  \"image\": {\"repository\": \"library/debian\", \"reference\": \"bookworm\","
"            \"digest\": \"sha256:aaaa\", \"size\": 52428800,"
"            \"created\": \"2026-11-30T10:00:00Z\", \"platform\": \"linux/amd64\"},"
"  \"os\": {\"family\": \"debian\", \"version\": \"12.8\", \"ecosystem\": \"Debian:12\"},"
"  \"packages\": ["
"    {\"type\": \"deb\", \"name\": \"libssl3\", \"version\": \"3.0.17-1~deb12u2\","
"     \"source_name\": \"openssl\", \"ecosystem\": \"Debian:12\", \"layer\": \"sha256:l1\","
"     \"path\": \"var/lib/dpkg/status\"},"
"    {\"type\": \"deb\", \"name\": \"telnetd\", \"version\": \"0.17-44\","
"     \"ecosystem\": \"Debian:12\", \"layer\": \"sha256:l1\", \"path\": \"var/lib/dpkg/status\"},"
"    {\"type\": \"npm\", \"name\": \"event-stream\", \"version\": \"3.3.6\","
"     \"ecosystem\": \"npm\", \"layer\": \"sha256:l2\", \"path\": \"app/node_modules/event-stream/package.json\"}"
"  ],"
"  \"vulnerabilities\": ["
"    {\"id\": \"DSA-6015-1\", \"aliases\": [\"CVE-2025-9230\", \"CVE-2025-9231\"],"
"     \"package\": \"libssl3\", \"version\": \"3.0.17-1~deb12u2\", \"source_name\": \"openssl\","
"     \"ecosystem\": \"Debian:12\", \"type\": \"deb\", \"fixed\": \"3.0.17-1~deb12u3\","
"     \"severity\": \"critical\", \"cvss_score\": 9.8, \"summary\": \"openssl security update\"},"
"    {\"id\": \"GHSA-xxxx-yyyy-zzzz\", \"aliases\": [\"CVE-2018-1000620\"],"
"     \"package\": \"event-stream\", \"version\": \"3.3.6\", \"ecosystem\": \"npm\","
"     \"type\": \"npm\", \"fixed\": null, \"severity\": \"high\", \"cvss_score\": null,"
"     \"summary\": \"malicious dependency\"},"
"    {\"id\": \"CVE-2026-0001\", \"aliases\": [], \"package\": \"telnetd\", \"version\": \"0.17-44\","
"     \"ecosystem\": \"Debian:12\", \"type\": \"deb\", \"fixed\": null, \"severity\": \"unknown\","
"     \"cvss_score\": null, \"summary\": \"no severity given\"}"
"  ],"
"  \"secrets\": [{\"rule\": \"aws-access-key-id\", \"title\": \"AWS access key\","
"                \"severity\": \"critical\", \"path\": \"app/.env\", \"line\": 3,"
"                \"redacted\": \"AKIA************MPLE\", \"layer\": \"sha256:l2\"}],"
"  \"files\": ["
"    {\"path\": \"usr/bin/passwd\", \"mode\": \"4755\", \"setuid\": true, \"setgid\": false,"
"     \"world_writable\": false, \"layer\": \"sha256:l1\"},"
"    {\"path\": \"opt/tool/helper\", \"mode\": \"4755\", \"setuid\": true, \"setgid\": false,"
"     \"world_writable\": false, \"layer\": \"sha256:l2\"},"
"    {\"path\": \"usr/bin/wall\", \"mode\": \"2755\", \"setuid\": false, \"setgid\": true,"
"     \"world_writable\": false, \"layer\": \"sha256:l1\"}"
"  ],"
"  \"config\": {\"user\": \"\", \"exposed_ports\": [\"22/tcp\"], \"findings\": []},"
"  \"errors\": [],"
"  \"layers\": [{\"digest\": \"sha256:l1\", \"size\": 1000, \"media_type\": \"x\"}],"
"  \"scanner_version\": \"1\", \"db_version\": \"sha256:dbdb\""
"}";

static json_t *
load_report(void)
{
	json_error_t error;
	json_t *report = json_loads(report_text, 0, &error);

	if (report == NULL)
		fail_msg("test report: %s at line %d", error.text, error.line);
	return report;
}

static struct policy *
load_policy(const char *yaml)
{
	struct policy *p = NULL;
	char errbuf[512] = "";
	int err;

	err = policy_load_string("test.yaml", yaml, strlen(yaml), &p, errbuf,
	    sizeof(errbuf));
	if (err != PC_OK)
		fail_msg("policy rejected: %s", errbuf);
	return p;
}

/* Evaluates yaml against report for repository at NOW. */
static json_t *
evaluate(const char *yaml, const json_t *report, const char *repository)
{
	struct policy *p = load_policy(yaml);
	json_t *verdict = NULL;

	assert_int_equal(policy_evaluate(p, report, repository, NOW, &verdict),
	    PC_OK);
	policy_free(p);
	return verdict;
}

static json_t *
rule_entry(const json_t *verdict, const char *name)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(verdict, "rules"), i, r)
		if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
			return r;
	fail_msg("rule %s not in verdict", name);
	return NULL;
}

static double
rule_score(const json_t *verdict, const char *name)
{
	return json_number_value(json_object_get(rule_entry(verdict, name),
	    "score"));
}

static size_t
rule_findings(const json_t *verdict, const char *name)
{
	return json_array_size(json_object_get(rule_entry(verdict, name),
	    "findings"));
}

static double
verdict_score(const json_t *verdict)
{
	return json_number_value(json_object_get(verdict, "score"));
}

static const char *
decision(const json_t *verdict)
{
	return json_string_value(json_object_get(verdict, "decision"));
}

/* S = (2 * 41 + 1 * 0) / 3 with vulnerabilities 100 - 40 - 15 - 4 = 41. */
static void
score_weighted_mean(void **state)
{
	json_t *report = load_report();
	json_t *v = evaluate(
	    "threshold: 70\n"
	    "rules:\n"
	    "  vulnerabilities: {weight: 2}\n"
	    "  root_user: {weight: 1}\n", report, NULL);

	(void)state;
	assert_true(rule_score(v, "vulnerabilities") == 41.0);
	assert_true(rule_score(v, "root_user") == 0.0);
	assert_true(verdict_score(v) == 27.3);
	assert_string_equal(decision(v), "deny");
	assert_true(json_number_value(json_object_get(v, "threshold")) == 70.0);
	assert_int_equal(json_array_size(json_object_get(v, "rules")), 2);
	assert_int_equal(json_array_size(json_object_get(v, "blocked_by")), 0);
	assert_string_equal(json_string_value(json_object_get(v, "db_version")),
	    "sha256:dbdb");
	assert_string_equal(json_string_value(json_object_get(v,
	    "scanner_version")), "1");
	assert_string_equal(json_string_value(json_object_get(v,
	    "evaluated_at")), "2026-12-04T12:00:00Z");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(v, "image"), "repository")), "library/debian");
	json_decref(v);
	json_decref(report);
}

static void
score_without_weight_is_100(void **state)
{
	json_t *report = load_report();
	json_t *empty = evaluate("threshold: 70\n", report, NULL);
	json_t *zero = evaluate("rules:\n  root_user: {weight: 0}\n", report,
	    NULL);

	(void)state;
	assert_true(verdict_score(empty) == 100.0);
	assert_string_equal(decision(empty), "allow");
	assert_string_equal(json_string_value(json_object_get(empty,
	    "summary")), "score 100.0 >= threshold 70; no finding cost points");
	assert_true(verdict_score(zero) == 100.0);
	assert_true(rule_score(zero, "root_user") == 0.0);
	assert_int_equal(rule_findings(zero, "root_user"), 1);
	assert_string_equal(decision(zero), "allow");
	json_decref(empty);
	json_decref(zero);
	json_decref(report);
}

/* The threshold compares with the rounded score: 70.0 is not below 70. */
static void
score_at_threshold_allows(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	json_object_set_new(json_object_get(report, "config"), "user",
	    json_string("1000"));
	/* vulnerabilities 41 (w 1), root_user 100 (w 0.491525...) */
	v = evaluate("threshold: 60.5\n"
	    "rules:\n  vulnerabilities: {weight: 1}\n  root_user: {weight: 1}\n",
	    report, NULL);
	assert_true(verdict_score(v) == 70.5);
	assert_string_equal(decision(v), "allow");
	json_decref(v);
	v = evaluate("threshold: 70.5\n"
	    "rules:\n  vulnerabilities: {weight: 1}\n  root_user: {weight: 1}\n",
	    report, NULL);
	assert_string_equal(decision(v), "allow");
	json_decref(v);
	v = evaluate("threshold: 70.6\n"
	    "rules:\n  vulnerabilities: {weight: 1}\n  root_user: {weight: 1}\n",
	    report, NULL);
	assert_string_equal(decision(v), "deny");
	json_decref(v);
	json_decref(report);
}

static void
vulnerabilities_points_and_options(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate("rules:\n  vulnerabilities:\n"
	    "    points: {critical: 50, high: 20}\n", report, NULL);
	assert_true(rule_score(v, "vulnerabilities") == 26.0);  /* 50+20+4 */
	assert_int_equal(rule_findings(v, "vulnerabilities"), 3);
	json_decref(v);

	v = evaluate("rules:\n  vulnerabilities: {only_fixed: true}\n", report,
	    NULL);
	assert_true(rule_score(v, "vulnerabilities") == 60.0);
	assert_int_equal(rule_findings(v, "vulnerabilities"), 1);
	json_decref(v);

	v = evaluate("rules:\n  vulnerabilities: {unknown: critical}\n", report,
	    NULL);
	assert_true(rule_score(v, "vulnerabilities") == 5.0);  /* 40+15+40 */
	json_decref(v);

	v = evaluate("rules:\n  vulnerabilities: {unknown: 0}\n", report, NULL);
	assert_true(rule_score(v, "vulnerabilities") == 45.0);
	json_decref(v);

	v = evaluate("rules:\n  vulnerabilities:\n"
	    "    points: {critical: 1, high: 1, unknown: 1}\n"
	    "    max_severity: high\n", report, NULL);
	assert_true(rule_score(v, "vulnerabilities") == 0.0);
	json_decref(v);

	v = evaluate("rules:\n  vulnerabilities:\n"
	    "    points: {critical: 1, high: 1, unknown: 1}\n"
	    "    max_severity: critical\n", report, NULL);
	assert_true(rule_score(v, "vulnerabilities") == 97.0);
	json_decref(v);
	json_decref(report);
}

/* Findings come worst first, each with its message and points. */
static void
vulnerabilities_findings_sorted(void **state)
{
	json_t *report = load_report();
	json_t *v = evaluate("rules:\n  vulnerabilities: {}\n", report, NULL);
	json_t *findings = json_object_get(rule_entry(v, "vulnerabilities"),
	    "findings");
	json_t *first = json_array_get(findings, 0);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(first, "id")),
	    "DSA-6015-1");
	assert_string_equal(json_string_value(json_object_get(first,
	    "message")), "DSA-6015-1 libssl3 3.0.17-1~deb12u2 "
	    "(fixed 3.0.17-1~deb12u3)");
	assert_true(json_number_value(json_object_get(first, "points")) == 40.0);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(findings, 1), "id")), "GHSA-xxxx-yyyy-zzzz");
	json_decref(v);
	json_decref(report);
}

static void
secrets_rule(void **state)
{
	json_t *report = load_report();
	json_t *v = evaluate("rules:\n  secrets: {}\n", report, NULL);
	json_t *finding;
	char *dumped;

	(void)state;
	assert_true(rule_score(v, "secrets") == 0.0);
	finding = json_array_get(json_object_get(rule_entry(v, "secrets"),
	    "findings"), 0);
	assert_string_equal(json_string_value(json_object_get(finding,
	    "message")), "secret aws-access-key-id in app/.env");
	dumped = json_dumps(v, 0);
	assert_null(strstr(dumped, "AKIA"));
	free(dumped);
	json_decref(v);

	json_array_append_new(json_object_get(report, "secrets"), json_pack(
	    "{s:s, s:s, s:i}", "rule", "github-pat", "path", "root/.git-credentials",
	    "line", 1));
	v = evaluate("rules:\n  secrets: {points: 30}\n", report, NULL);
	assert_true(rule_score(v, "secrets") == 40.0);
	json_decref(v);

	json_array_clear(json_object_get(report, "secrets"));
	v = evaluate("rules:\n  secrets: {}\n", report, NULL);
	assert_true(rule_score(v, "secrets") == 100.0);
	assert_int_equal(rule_findings(v, "secrets"), 0);
	json_decref(v);
	json_decref(report);
}

static void
root_user_rule(void **state)
{
	static const struct {
		const char *user;
		double score;
	} cases[] = {
		{"", 0.0}, {"root", 0.0}, {"0", 0.0}, {"0:0", 0.0},
		{"root:root", 0.0}, {"0:1000", 0.0}, {"1000", 100.0},
		{"app", 100.0}, {"1000:0", 100.0}, {"nobody:nogroup", 100.0},
		{"rooted", 100.0}, {"00", 100.0},
	};
	json_t *report = load_report();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v;

		json_object_set_new(json_object_get(report, "config"), "user",
		    json_string(cases[i].user));
		v = evaluate("rules:\n  root_user: {}\n", report, NULL);
		if (rule_score(v, "root_user") != cases[i].score)
			fail_msg("user '%s': score %.1f, expected %.1f",
			    cases[i].user, rule_score(v, "root_user"),
			    cases[i].score);
		json_decref(v);
	}
	json_object_del(report, "config");
	{
		json_t *v = evaluate("rules:\n  root_user: {}\n", report, NULL);

		assert_true(rule_score(v, "root_user") == 0.0);
		json_decref(v);
	}
	json_decref(report);
}

static void
setuid_files_rule(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate("rules:\n  setuid_files: {}\n", report, NULL);
	assert_true(rule_score(v, "setuid_files") == 60.0);  /* 2 x 20 */
	json_decref(v);

	v = evaluate("rules:\n  setuid_files:\n    allow: [/usr/bin/*]\n"
	    "    points: 30\n", report, NULL);
	assert_true(rule_score(v, "setuid_files") == 70.0);
	assert_int_equal(rule_findings(v, "setuid_files"), 1);
	json_decref(v);

	v = evaluate("rules:\n  setuid_files:\n    allow: [usr/bin/passwd]\n"
	    "    setgid: true\n    points: 60\n", report, NULL);
	assert_true(rule_score(v, "setuid_files") == 0.0);  /* 100 - 120 */
	assert_int_equal(rule_findings(v, "setuid_files"), 2);
	json_decref(v);
	json_decref(report);
}

static void
banned_packages_rule(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate("rules:\n  banned_packages:\n    packages: [telnet*]\n",
	    report, NULL);
	assert_true(rule_score(v, "banned_packages") == 0.0);
	assert_int_equal(rule_findings(v, "banned_packages"), 1);
	json_decref(v);

	/* dpkg order: ~deb12u2 sorts before ~deb12u3 */
	v = evaluate("rules:\n  banned_packages:\n    packages:\n"
	    "      - {name: libssl3, versions: '< 3.0.17-1~deb12u3'}\n",
	    report, NULL);
	assert_true(rule_score(v, "banned_packages") == 0.0);
	json_decref(v);

	v = evaluate("rules:\n  banned_packages:\n    packages:\n"
	    "      - {name: libssl3, versions: '>= 3.0.17-1~deb12u3'}\n",
	    report, NULL);
	assert_true(rule_score(v, "banned_packages") == 100.0);
	json_decref(v);

	v = evaluate("rules:\n  banned_packages:\n    packages:\n"
	    "      - {name: event-stream, type: npm, "
	    "versions: '>= 3.3.6, < 4.0.0'}\n", report, NULL);
	assert_true(rule_score(v, "banned_packages") == 0.0);
	json_decref(v);

	v = evaluate("rules:\n  banned_packages:\n    packages:\n"
	    "      - {name: event-stream, type: deb}\n", report, NULL);
	assert_true(rule_score(v, "banned_packages") == 100.0);
	json_decref(v);
	json_decref(report);
}

static void
allowed_repositories_rule(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate("rules:\n  allowed_repositories:\n"
	    "    repositories: ['library/*', 'myorg/*']\n", report, NULL);
	assert_true(rule_score(v, "allowed_repositories") == 100.0);
	json_decref(v);
	v = evaluate("rules:\n  allowed_repositories:\n"
	    "    repositories: ['myorg/*']\n", report, "evil/miner");
	assert_true(rule_score(v, "allowed_repositories") == 0.0);
	assert_int_equal(rule_findings(v, "allowed_repositories"), 1);
	json_decref(v);
	json_decref(report);
}

static void
max_image_age_rule(void **state)
{
	json_t *report = load_report();
	json_t *image = json_object_get(report, "image");
	json_t *v;

	(void)state;
	v = evaluate("rules:\n  max_image_age: {days: 5}\n", report, NULL);
	assert_true(rule_score(v, "max_image_age") == 100.0);
	json_decref(v);
	v = evaluate("rules:\n  max_image_age: {days: 3}\n", report, NULL);
	assert_true(rule_score(v, "max_image_age") == 0.0);
	json_decref(v);

	json_object_set_new(image, "created", json_null());
	v = evaluate("rules:\n  max_image_age: {days: 3}\n", report, NULL);
	assert_true(rule_score(v, "max_image_age") == 100.0);
	assert_int_equal(rule_findings(v, "max_image_age"), 1);
	json_decref(v);
	json_decref(report);
}

static void
max_image_size_rule(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate("rules:\n  max_image_size: {bytes: 50MiB}\n", report, NULL);
	assert_true(rule_score(v, "max_image_size") == 100.0);
	json_decref(v);
	v = evaluate("rules:\n  max_image_size: {bytes: 50MB}\n", report, NULL);
	assert_true(rule_score(v, "max_image_size") == 0.0);
	json_decref(v);
	v = evaluate("rules:\n  max_image_size: {bytes: 52428799}\n", report,
	    NULL);
	assert_true(rule_score(v, "max_image_size") == 0.0);
	json_decref(v);
	json_decref(report);
}

static void
scan_error_rule(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate("rules:\n  scan_error: {}\n", report, NULL);
	assert_true(rule_score(v, "scan_error") == 100.0);
	json_decref(v);
	json_array_append_new(json_object_get(report, "errors"), json_pack(
	    "{s:s, s:s}", "kind", "scan_error", "message", "gzip: truncated"));
	v = evaluate("rules:\n  scan_error: {}\n", report, NULL);
	assert_true(rule_score(v, "scan_error") == 0.0);
	assert_int_equal(rule_findings(v, "scan_error"), 1);
	json_decref(v);
	json_decref(report);
}

/* A failing block rule denies whatever the score, even with weight 0. */
static void
block_rule_denies(void **state)
{
	json_t *report = load_report();
	json_t *v = evaluate("threshold: 10\nrules:\n"
	    "  secrets: {weight: 0, block: true}\n"
	    "  max_image_size: {weight: 1, bytes: 1GiB}\n", report, NULL);
	const char *summary;

	(void)state;
	assert_true(verdict_score(v) == 100.0);
	assert_string_equal(decision(v), "deny");
	assert_int_equal(json_array_size(json_object_get(v, "blocked_by")), 1);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(v, "blocked_by"), 0)), "secrets");
	summary = json_string_value(json_object_get(v, "summary"));
	assert_string_equal(summary, "blocked by secrets; score 100.0 >= "
	    "threshold 10; secret aws-access-key-id in app/.env");
	json_decref(v);
	json_decref(report);
}

static const char exceptions_base[] =
    "rules:\n"
    "  vulnerabilities: {}\n"
    "  root_user: {block: true, weight: 0}\n"
    "exceptions:\n";

static json_t *
evaluate_exception(const json_t *report, const char *exception,
    const char *repository)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), "%s%s", exceptions_base, exception);
	return evaluate(yaml, report, repository);
}

static json_t *
first_exception(const json_t *verdict)
{
	return json_array_get(json_object_get(verdict, "exceptions"), 0);
}

static json_int_t
applied(const json_t *verdict)
{
	return json_integer_value(json_object_get(first_exception(verdict),
	    "applied"));
}

static void
exception_by_id_and_alias(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate_exception(report, "  - {id: DSA-6015-1, reason: patched}\n",
	    NULL);
	assert_true(rule_score(v, "vulnerabilities") == 81.0);
	assert_int_equal(applied(v), 1);
	assert_string_equal(json_string_value(json_object_get(
	    first_exception(v), "reason")), "patched");
	assert_true(json_is_false(json_object_get(first_exception(v),
	    "expired")));
	json_decref(v);

	v = evaluate_exception(report, "  - {id: CVE-2025-9231, reason: r}\n",
	    NULL);
	assert_true(rule_score(v, "vulnerabilities") == 81.0);
	json_decref(v);

	v = evaluate_exception(report, "  - {id: CVE-1999-0001, reason: r}\n",
	    NULL);
	assert_true(rule_score(v, "vulnerabilities") == 41.0);
	assert_int_equal(applied(v), 0);
	json_decref(v);
	json_decref(report);
}

static void
exception_by_package(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	/* the source package name matches as well as the binary one */
	v = evaluate_exception(report,
	    "  - {id: DSA-6015-1, package: openssl, reason: r}\n", NULL);
	assert_true(rule_score(v, "vulnerabilities") == 81.0);
	json_decref(v);
	v = evaluate_exception(report,
	    "  - {id: DSA-6015-1, package: 'libssl*', reason: r}\n", NULL);
	assert_true(rule_score(v, "vulnerabilities") == 81.0);
	json_decref(v);
	v = evaluate_exception(report,
	    "  - {id: DSA-6015-1, package: curl, reason: r}\n", NULL);
	assert_true(rule_score(v, "vulnerabilities") == 41.0);
	assert_int_equal(applied(v), 0);
	json_decref(v);
	json_decref(report);
}

static void
exception_by_repository(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate_exception(report,
	    "  - {id: DSA-6015-1, repository: 'library/*', reason: r}\n", NULL);
	assert_true(rule_score(v, "vulnerabilities") == 81.0);
	json_decref(v);
	v = evaluate_exception(report,
	    "  - {id: DSA-6015-1, repository: 'library/*', reason: r}\n",
	    "myorg/app");
	assert_true(rule_score(v, "vulnerabilities") == 41.0);
	json_decref(v);
	json_decref(report);
}

static void
exception_expiry(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	/* a date is valid through its whole day (UTC) */
	v = evaluate_exception(report,
	    "  - {id: DSA-6015-1, reason: r, expires: 2026-12-04}\n", NULL);
	assert_true(rule_score(v, "vulnerabilities") == 81.0);
	assert_true(json_is_false(json_object_get(first_exception(v),
	    "expired")));
	json_decref(v);

	v = evaluate_exception(report,
	    "  - {id: DSA-6015-1, reason: r, expires: 2026-12-03}\n", NULL);
	assert_true(rule_score(v, "vulnerabilities") == 41.0);
	assert_true(json_is_true(json_object_get(first_exception(v),
	    "expired")));
	assert_int_equal(applied(v), 0);
	assert_string_equal(json_string_value(json_object_get(
	    first_exception(v), "expires")), "2026-12-03");
	json_decref(v);

	v = evaluate_exception(report, "  - {id: DSA-6015-1, reason: r, "
	    "expires: '2026-12-04T13:00:00+02:00'}\n", NULL);
	assert_true(json_is_true(json_object_get(first_exception(v),
	    "expired")));
	json_decref(v);

	v = evaluate_exception(report, "  - {id: DSA-6015-1, reason: r, "
	    "expires: '2026-12-04T12:00:01Z'}\n", NULL);
	assert_true(json_is_false(json_object_get(first_exception(v),
	    "expired")));
	json_decref(v);
	json_decref(report);
}

/* An exception removes vulnerability findings only: root_user still blocks. */
static void
exception_cannot_silence_block(void **state)
{
	json_t *report = load_report();
	json_t *v = evaluate_exception(report,
	    "  - {id: DSA-6015-1, reason: r}\n"
	    "  - {id: GHSA-xxxx-yyyy-zzzz, reason: r}\n"
	    "  - {id: CVE-2026-0001, reason: r}\n", NULL);

	(void)state;
	assert_true(rule_score(v, "vulnerabilities") == 100.0);
	assert_true(verdict_score(v) == 100.0);
	assert_string_equal(decision(v), "deny");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(v, "blocked_by"), 0)), "root_user");
	json_decref(v);
	json_decref(report);
}

static void
exception_for_secret_rule(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate("rules:\n  secrets: {block: true}\nexceptions:\n"
	    "  - {rule: aws-access-key-id, path: /app/.env, reason: test key}\n",
	    report, NULL);
	assert_true(rule_score(v, "secrets") == 100.0);
	assert_string_equal(decision(v), "allow");
	json_decref(v);
	v = evaluate("rules:\n  secrets: {block: true}\nexceptions:\n"
	    "  - {rule: aws-access-key-id, path: 'etc/*', reason: r}\n",
	    report, NULL);
	assert_string_equal(decision(v), "deny");
	json_decref(v);
	json_decref(report);
}

static const char overrides_policy[] =
    "threshold: 70\n"
    "rules:\n"
    "  vulnerabilities: {weight: 1}\n"
    "overrides:\n"
    "  - repository: 'myorg/*'\n"
    "    threshold: 90\n"
    "    rules:\n"
    "      vulnerabilities: {points: {critical: 100}}\n"
    "  - repository: 'myorg/legacy-*'\n"
    "    threshold: 20\n"
    "    rules:\n"
    "      root_user: {block: true}\n";

static void
overrides_apply_in_order(void **state)
{
	json_t *report = load_report();
	json_t *v;

	(void)state;
	v = evaluate(overrides_policy, report, "library/debian");
	assert_true(json_number_value(json_object_get(v, "threshold")) == 70.0);
	assert_true(rule_score(v, "vulnerabilities") == 41.0);
	json_decref(v);

	v = evaluate(overrides_policy, report, "myorg/app");
	assert_true(json_number_value(json_object_get(v, "threshold")) == 90.0);
	assert_true(rule_score(v, "vulnerabilities") == 0.0);  /* 100+15+4 */
	assert_int_equal(json_array_size(json_object_get(v, "rules")), 1);
	json_decref(v);

	v = evaluate(overrides_policy, report, "myorg/legacy-billing");
	assert_true(json_number_value(json_object_get(v, "threshold")) == 20.0);
	assert_int_equal(json_array_size(json_object_get(v, "rules")), 2);
	assert_string_equal(decision(v), "deny");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(v, "blocked_by"), 0)), "root_user");
	json_decref(v);
	json_decref(report);
}

static void
audit_mode_reports_deny(void **state)
{
	json_t *report = load_report();
	struct policy *p = load_policy("mode: audit\nunscanned: allow\n"
	    "manifest_wait: 5\nrules:\n  root_user: {}\n");
	json_t *v = NULL;
	bool is_set = false;

	(void)state;
	assert_int_equal(policy_mode(p), POLICY_MODE_AUDIT);
	assert_int_equal(policy_unscanned(p), POLICY_UNSCANNED_ALLOW);
	assert_int_equal(policy_manifest_wait(p, &is_set), 5);
	assert_true(is_set);
	assert_int_equal(policy_evaluate(p, report, NULL, NOW, &v), PC_OK);
	assert_string_equal(decision(v), "deny");
	assert_string_equal(json_string_value(json_object_get(v, "mode")),
	    "audit");
	json_decref(v);
	policy_free(p);

	p = load_policy("rules: {}\n");
	assert_int_equal(policy_mode(p), POLICY_MODE_ENFORCE);
	assert_int_equal(policy_unscanned(p), POLICY_UNSCANNED_HOLD);
	assert_int_equal(policy_manifest_wait(p, &is_set),
	    POLICY_DEFAULT_MANIFEST_WAIT);
	assert_false(is_set);
	assert_true(policy_threshold(p, "any/thing") == 70.0);
	policy_free(p);
	json_decref(report);
}

static void
summary_names_worst_findings(void **state)
{
	json_t *report = load_report();
	json_t *v = evaluate("threshold: 70\nrules:\n"
	    "  vulnerabilities: {weight: 3}\n"
	    "  secrets: {weight: 1}\n"
	    "  root_user: {weight: 0.5}\n", report, NULL);

	(void)state;
	/*
	 * (3 * 41 + 0 + 0) / 4.5 = 27.33. Ranks are weight * points: the
	 * critical 120, the secret 100, root 50, the high 45.
	 */
	assert_string_equal(json_string_value(json_object_get(v, "summary")),
	    "score 27.3 < threshold 70; "
	    "DSA-6015-1 libssl3 3.0.17-1~deb12u2 (fixed 3.0.17-1~deb12u3), "
	    "secret aws-access-key-id in app/.env, "
	    "runs as root (no user set)");
	json_decref(v);
	json_decref(report);
}

/* Checks yaml and returns what policy_check printed. */
static char *
check_output(const char *yaml, int *problems)
{
	char path[] = "/tmp/test_policy_XXXXXX";
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	assert_int_equal(policy_check(path, out, problems), PC_OK);
	fclose(out);
	unlink(path);
	/* Drop the temporary directory part so expectations stay fixed. */
	{
		char *name = strstr(text, "test_policy_");

		while (name != NULL) {
			memcpy(name, "test_policy_XXXXXX", 18);
			name = strstr(name + 18, "test_policy_");
		}
	}
	return text;
}

static void
check_reports_lines_and_suggestions(void **state)
{
	int problems = -1;
	char *text = check_output(
	    "treshold: 70\n"                          /* 1 */
	    "mode: enforcing\n"                       /* 2 */
	    "rules:\n"                                /* 3 */
	    "  vulnerabilities:\n"                    /* 4 */
	    "    weigth: 2\n"                         /* 5 */
	    "    points: {critical: -1}\n"            /* 6 */
	    "  secret: {weight: 1}\n"                 /* 7 */
	    "  max_image_size: {bytes: 5 parsecs}\n"  /* 8 */
	    "  banned_packages: {}\n"                 /* 9 */
	    "exceptions:\n"                           /* 10 */
	    "  - id: CVE-2024-1\n"                    /* 11 */
	    "    expires: 2024-13-01\n"               /* 12 */
	    "overrides:\n"                            /* 13 */
	    "  - repository: 'a/*'\n"                 /* 14 */
	    "    threshold: 101\n",                   /* 15 */
	    &problems);
	const char *expected =
	    "/tmp/test_policy_XXXXXX:1: unknown key 'treshold'; did you mean "
	    "'threshold'?\n"
	    "/tmp/test_policy_XXXXXX:2: mode: expected enforce or audit\n"
	    "/tmp/test_policy_XXXXXX:5: unknown setting 'weigth'; did you mean "
	    "'weight'?\n"
	    "/tmp/test_policy_XXXXXX:6: critical: expected a number >= 0, got -1\n"
	    "/tmp/test_policy_XXXXXX:7: unknown rule 'secret'; did you mean "
	    "'secrets'?\n"
	    "/tmp/test_policy_XXXXXX:8: bytes: expected a size in bytes such as "
	    "524288000, \"500MiB\" or \"2GB\"\n"
	    "/tmp/test_policy_XXXXXX:9: rule banned_packages: missing required "
	    "setting 'packages'\n"
	    "/tmp/test_policy_XXXXXX:11: exception: missing required 'reason'\n"
	    "/tmp/test_policy_XXXXXX:12: expires: expected a date YYYY-MM-DD or "
	    "an RFC 3339 time, got '2024-13-01'\n"
	    "/tmp/test_policy_XXXXXX:15: threshold: expected a number from 0 to "
	    "100\n";

	(void)state;
	assert_string_equal(text, expected);
	assert_int_equal(problems, 10);
	free(text);
}

static void
check_valid_file_has_no_problems(void **state)
{
	int problems = -1;
	char *text = check_output("threshold: 70\nrules:\n  secrets: {}\n",
	    &problems);

	(void)state;
	assert_string_equal(text, "");
	assert_int_equal(problems, 0);
	free(text);
}

static void
check_yaml_syntax_error(void **state)
{
	int problems = -1;
	char *text = check_output("rules:\n  secrets: [\n", &problems);

	(void)state;
	assert_int_equal(problems, 1);
	assert_non_null(strstr(text, "test_policy_XXXXXX:"));
	free(text);
}

static void
load_error_names_first_problem(void **state)
{
	static const char yaml[] = "threshold: 70\nrules:\n  root_usr: {}\n"
	    "  secrets: {block: yes please}\n";
	struct policy *p = NULL;
	char errbuf[512];

	(void)state;
	assert_int_equal(policy_load_string("bad.yaml", yaml, strlen(yaml), &p,
	    errbuf, sizeof(errbuf)), PC_ERR_INVALID);
	assert_null(p);
	assert_string_equal(errbuf, "bad.yaml:3: unknown rule 'root_usr'; did "
	    "you mean 'root_user'? (and 1 more; run 'portcullis policy check' "
	    "to list them)");
}

static void
override_adding_rule_needs_settings(void **state)
{
	static const char yaml[] = "overrides:\n  - repository: 'x/*'\n"
	    "    rules:\n      max_image_age: {block: true}\n";
	struct policy *p = NULL;
	char errbuf[512];

	(void)state;
	assert_int_equal(policy_load_string("o.yaml", yaml, strlen(yaml), &p,
	    errbuf, sizeof(errbuf)), PC_ERR_INVALID);
	assert_string_equal(errbuf, "o.yaml:4: rule max_image_age is not in "
	    "the policy's rules, so this override must set 'days'");
}

static void
hash_stable_across_key_order(void **state)
{
	struct policy *a = load_policy("threshold: 70\nrules:\n"
	    "  secrets: {weight: 2, block: true}\n  root_user: {}\n");
	struct policy *b = load_policy("# same policy\nrules:\n  root_user: "
	    "{weight: 1.0}\n  secrets: {block: true, weight: 2}\n"
	    "threshold: 70.0\nmode: enforce\n");
	struct policy *c = load_policy("threshold: 70\nrules:\n"
	    "  secrets: {weight: 3, block: true}\n  root_user: {}\n");
	struct policy *d = load_policy("rules:\n  vulnerabilities: {unknown: 7}\n");
	struct policy *e = load_policy("rules:\n  vulnerabilities:\n"
	    "    points: {unknown: 7}\n");

	(void)state;
	assert_int_equal(strncmp(policy_hash(a), "sha256:", 7), 0);
	assert_int_equal(strlen(policy_hash(a)), 71);
	assert_string_equal(policy_hash(a), policy_hash(b));
	assert_string_not_equal(policy_hash(a), policy_hash(c));
	assert_string_equal(policy_hash(d), policy_hash(e));
	policy_free(a);
	policy_free(b);
	policy_free(c);
	policy_free(d);
	policy_free(e);
}

static void
evaluate_rejects_non_object(void **state)
{
	struct policy *p = load_policy("rules: {}\n");
	json_t *array = json_array();
	json_t *v = NULL;

	(void)state;
	assert_int_equal(policy_evaluate(p, array, NULL, NOW, &v),
	    PC_ERR_INVALID);
	assert_null(v);
	json_decref(array);
	policy_free(p);
}

/* A report with wrong types everywhere evaluates without a crash. */
static void
evaluate_hostile_report(void **state)
{
	static const char *const reports[] = {
		"{}",
		"{\"image\": 1, \"vulnerabilities\": {}, \"secrets\": \"x\","
		" \"files\": [1, null, {\"path\": 3, \"setuid\": true}],"
		" \"packages\": [{\"name\": null}, {\"name\": \"telnetd\","
		" \"type\": 7, \"version\": []}], \"config\": [],"
		" \"errors\": {\"a\": 1}}",
		"{\"vulnerabilities\": [{\"id\": 5, \"severity\": 9,"
		" \"aliases\": \"CVE-1\"}, {\"severity\": \"moderate\"}, 3],"
		" \"secrets\": [{\"rule\": null}, {}],"
		" \"image\": {\"created\": \"yesterday\", \"size\": -5,"
		" \"repository\": 12}}",
	};
	static const char yaml[] = "rules:\n"
	    "  vulnerabilities: {max_severity: low, unknown: high}\n"
	    "  secrets: {points: 10}\n  root_user: {}\n"
	    "  setuid_files: {setgid: true}\n"
	    "  banned_packages: {packages: [{name: '*', versions: '< 1'}]}\n"
	    "  allowed_repositories: {repositories: ['*']}\n"
	    "  max_image_age: {days: 1}\n  max_image_size: {bytes: 1}\n"
	    "  scan_error: {}\n"
	    "exceptions:\n  - {id: CVE-1, reason: r}\n"
	    "  - {rule: x, path: '*', reason: r}\n";
	struct policy *p = load_policy(yaml);

	(void)state;
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		json_t *report = json_loads(reports[i], 0, NULL);
		json_t *v = NULL;

		assert_non_null(report);
		assert_int_equal(policy_evaluate(p, report, NULL, NOW, &v), PC_OK);
		assert_non_null(json_object_get(v, "summary"));
		json_decref(v);
		json_decref(report);
	}
	policy_free(p);
}

/*
 * Policies with bytes flipped at pseudo-random places load or fail with
 * an error, never crash (the sanitizer build checks memory use).
 */
static void
load_mutated_policies(void **state)
{
	static const char base[] =
	    "threshold: 70\nmode: audit\nrules:\n"
	    "  vulnerabilities: {weight: 2, points: {critical: 50}}\n"
	    "  banned_packages:\n    packages: [{name: a, versions: '< 2'}]\n"
	    "  max_image_size: {bytes: 2GiB}\n"
	    "exceptions:\n  - {id: CVE-1, reason: r, expires: 2027-01-01}\n"
	    "overrides:\n  - repository: 'a/*'\n    threshold: 50\n"
	    "    rules: {secrets: {block: true}}\n";
	static const char alphabet[] = "{}[]:,-'\"\n #&*!|>%@`0aZ~/";
	unsigned long seed = 12345;
	int loaded = 0;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		char text[sizeof(base)];
		struct policy *p = NULL;
		char errbuf[256];
		int err;

		memcpy(text, base, sizeof(base));
		for (int flips = 0; flips < 1 + round % 4; flips++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			text[(seed >> 33) % (sizeof(base) - 1)] =
			    alphabet[(seed >> 17) % (sizeof(alphabet) - 1)];
		}
		err = policy_load_string("m.yaml", text, strlen(text), &p,
		    errbuf, sizeof(errbuf));
		assert_true(err == PC_OK || err == PC_ERR_INVALID ||
		    err == PC_ERR_UNSUPPORTED || err == PC_ERR_LIMIT);
		if (err == PC_OK)
			loaded++;
		else
			assert_non_null(strstr(errbuf, "m.yaml:"));
		policy_free(p);
	}
	assert_true(loaded > 0);
}

struct thread_job {
	const struct policy *policy;
	const json_t *report;
	char summary[1024];
	int failures;
};

static void *
evaluate_repeatedly(void *arg)
{
	struct thread_job *job = arg;

	for (int i = 0; i < 200; i++) {
		json_t *v = NULL;

		if (policy_evaluate(job->policy, job->report, "myorg/prod-api",
		    NOW, &v) != PC_OK) {
			job->failures++;
			continue;
		}
		snprintf(job->summary, sizeof(job->summary), "%s",
		    json_string_value(json_object_get(v, "summary")));
		json_decref(v);
	}
	return NULL;
}

/* One loaded policy evaluates from several threads at once. */
static void
evaluate_from_threads(void **state)
{
	struct policy *p = load_policy("rules:\n  vulnerabilities: {}\n"
	    "exceptions:\n  - {id: CVE-2026-0001, reason: r}\n"
	    "overrides:\n  - repository: 'myorg/*'\n"
	    "    rules: {vulnerabilities: {points: {high: 30}},"
	    " max_image_age: {days: 1}}\n");
	json_t *report = load_report();
	struct thread_job jobs[4];
	pthread_t threads[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct thread_job){p, report, "", 0};
		assert_int_equal(pthread_create(&threads[i], NULL,
		    evaluate_repeatedly, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(jobs[i].failures, 0);
		assert_string_equal(jobs[i].summary, jobs[0].summary);
	}
	assert_string_equal(jobs[0].summary, "score 15.0 < threshold 70; "
	    "image created 2026-11-30T10:00:00Z is 4 days old (maximum 1), "
	    "DSA-6015-1 libssl3 3.0.17-1~deb12u2 (fixed 3.0.17-1~deb12u3), "
	    "GHSA-xxxx-yyyy-zzzz event-stream 3.3.6 (no fix)");
	json_decref(report);
	policy_free(p);
}

/* Every allocation failure unwinds without a leak or a crash. */
static void
evaluate_survives_allocation_failures(void **state)
{
	static const char yaml[] = "rules:\n  vulnerabilities: {}\n"
	    "  secrets: {}\n  root_user: {}\nexceptions:\n"
	    "  - {id: DSA-6015-1, reason: r}\n";
	json_t *report = load_report();
	int successes = 0;

	(void)state;
	/* Fail the nth allocation for each n until a run needs fewer. */
	for (long n = 0; n < 20000 && successes == 0; n++) {
		struct policy *p = NULL;
		json_t *v = NULL;
		char errbuf[256];
		int err;

		pc_alloc_fail_after(n);
		err = policy_load_string("f.yaml", yaml, strlen(yaml), &p, errbuf,
		    sizeof(errbuf));
		if (err == PC_OK)
			err = policy_evaluate(p, report, NULL, NOW, &v);
		pc_alloc_fail_after(-1);
		assert_true(err == PC_OK || err == PC_ERR_NOMEM ||
		    err == PC_ERR_INVALID);
		if (err == PC_OK) {
			assert_non_null(v);
			successes++;
		}
		json_decref(v);
		policy_free(p);
	}
	assert_true(successes > 0);
	json_decref(report);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(score_weighted_mean),
		cmocka_unit_test(score_without_weight_is_100),
		cmocka_unit_test(score_at_threshold_allows),
		cmocka_unit_test(vulnerabilities_points_and_options),
		cmocka_unit_test(vulnerabilities_findings_sorted),
		cmocka_unit_test(secrets_rule),
		cmocka_unit_test(root_user_rule),
		cmocka_unit_test(setuid_files_rule),
		cmocka_unit_test(banned_packages_rule),
		cmocka_unit_test(allowed_repositories_rule),
		cmocka_unit_test(max_image_age_rule),
		cmocka_unit_test(max_image_size_rule),
		cmocka_unit_test(scan_error_rule),
		cmocka_unit_test(block_rule_denies),
		cmocka_unit_test(exception_by_id_and_alias),
		cmocka_unit_test(exception_by_package),
		cmocka_unit_test(exception_by_repository),
		cmocka_unit_test(exception_expiry),
		cmocka_unit_test(exception_cannot_silence_block),
		cmocka_unit_test(exception_for_secret_rule),
		cmocka_unit_test(overrides_apply_in_order),
		cmocka_unit_test(audit_mode_reports_deny),
		cmocka_unit_test(summary_names_worst_findings),
		cmocka_unit_test(check_reports_lines_and_suggestions),
		cmocka_unit_test(check_valid_file_has_no_problems),
		cmocka_unit_test(check_yaml_syntax_error),
		cmocka_unit_test(load_error_names_first_problem),
		cmocka_unit_test(override_adding_rule_needs_settings),
		cmocka_unit_test(hash_stable_across_key_order),
		cmocka_unit_test(evaluate_rejects_non_object),
		cmocka_unit_test(evaluate_hostile_report),
		cmocka_unit_test(evaluate_from_threads),
		cmocka_unit_test(load_mutated_policies),
		cmocka_unit_test(evaluate_survives_allocation_failures),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
