/*
 * libFuzzer target for the YAML loaders. Every input goes through
 * yamltree_load_string(), then policy_load_string() (a policy that
 * loads also evaluates a fixed image report), then config_load_file()
 * and config_validate() on a memfd read back as /proc/self/fd/N, as the
 * server reads its configuration file. Built and run by tests/fuzz/run.sh.
 */
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/error.h"
#include "common/yamltree.h"
#include "policy/policy.h"
#include "proxy/config.h"
#include "tests/fuzz/fuzz_util.h"

/*
 * An image report with one finding for each policy rule: a vulnerability
 * with and without a fix, a banned-looking package, a secret, setuid and
 * setgid files, a root user with port 22 and a scan error.
 */
static const char report_text[] =
    "{\"image\": {\"repository\": \"library/debian\", \"reference\": \"12\","
    " \"digest\": \"sha256:aa\", \"size\": 1000,"
    " \"created\": \"2026-01-01T00:00:00Z\", \"platform\": \"linux/amd64\"},"
    " \"os\": {\"family\": \"debian\", \"version\": \"12.8\","
    " \"ecosystem\": \"Debian:12\"},"
    " \"packages\": [{\"type\": \"deb\", \"name\": \"telnetd\","
    " \"version\": \"0.17-44\", \"ecosystem\": \"Debian:12\","
    " \"layer\": \"sha256:l1\", \"path\": \"var/lib/dpkg/status\"},"
    " {\"type\": \"maven\", \"name\": \"org.apache.logging.log4j:log4j-core\","
    " \"version\": \"2.14.1\", \"ecosystem\": \"Maven\","
    " \"layer\": \"sha256:l2\", \"path\": \"app/lib/a.jar\"}],"
    " \"vulnerabilities\": [{\"id\": \"CVE-2021-44228\","
    " \"aliases\": [\"GHSA-jfh8-c2jp-5v3q\"], \"package\": \"log4j-core\","
    " \"version\": \"2.14.1\", \"ecosystem\": \"Maven\", \"type\": \"maven\","
    " \"fixed\": \"2.15.0\", \"severity\": \"critical\", \"cvss_score\": 10.0,"
    " \"summary\": \"remote code execution\"},"
    " {\"id\": \"CVE-2026-0001\", \"aliases\": [], \"package\": \"telnetd\","
    " \"version\": \"0.17-44\", \"ecosystem\": \"Debian:12\", \"type\": \"deb\","
    " \"fixed\": null, \"severity\": \"unknown\", \"cvss_score\": null,"
    " \"summary\": \"no severity\"}],"
    " \"secrets\": [{\"rule\": \"aws-access-key-id\", \"title\": \"AWS key\","
    " \"severity\": \"critical\", \"path\": \"app/.env\", \"line\": 3,"
    " \"redacted\": \"AKIA****\", \"layer\": \"sha256:l2\"}],"
    " \"files\": [{\"path\": \"usr/bin/passwd\", \"mode\": \"4755\","
    " \"setuid\": true, \"setgid\": false, \"world_writable\": false,"
    " \"layer\": \"sha256:l1\"}, {\"path\": \"tmp/x\", \"mode\": \"2777\","
    " \"setuid\": false, \"setgid\": true, \"world_writable\": true,"
    " \"layer\": \"sha256:l2\"}],"
    " \"config\": {\"user\": \"\", \"exposed_ports\": [\"22/tcp\"],"
    " \"findings\": [{\"id\": \"root_user\", \"severity\": \"high\","
    " \"message\": \"runs as root\"}]},"
    " \"errors\": [{\"kind\": \"scan_error\", \"message\": \"truncated\","
    " \"layer\": \"sha256:l2\"}],"
    " \"layers\": [{\"digest\": \"sha256:l1\", \"size\": 500,"
    " \"media_type\": \"x\"}],"
    " \"scanner_version\": \"1\", \"db_version\": \"sha256:db\"}";

/* Evaluation time: 2026-12-01T00:00:00Z, so exception dates fall on both sides. */
#define FUZZ_NOW ((time_t)1796083200)

static json_t *report;
static FILE *dev_null;

static void
fuzz_policy(const char *text, size_t len)
{
	/* NULL takes the repository from the report. */
	static const char *const repositories[] = {NULL, "quay/team/app"};
	struct policy *p = NULL;
	char errbuf[512];

	if (policy_load_string("policy.yaml", text, len, &p, errbuf,
	    sizeof(errbuf)) != PC_OK)
		return;
	for (size_t i = 0; report != NULL && i < 2; i++) {
		json_t *verdict = NULL;

		if (policy_evaluate(p, report, repositories[i], FUZZ_NOW,
		    &verdict) == PC_OK)
			json_decref(verdict);
	}
	policy_free(p);
}

static void
fuzz_config(const uint8_t *data, size_t size)
{
	struct config cfg;
	char path[64];
	int problems = 0;
	int fd = fuzz_memfd("portcullis.yaml", data, size);

	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_init(&cfg) == PC_OK) {
		if (config_load_file(&cfg, path, dev_null, &problems) == PC_OK)
			config_validate(&cfg, dev_null, &problems);
		config_free(&cfg);
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yamltree tree;
	char errbuf[512];

	if (dev_null == NULL) {
		dev_null = fopen("/dev/null", "w");
		report = json_loads(report_text, 0, NULL);
		if (dev_null == NULL || report == NULL)
			return 0;
	}
	if (yamltree_load_string("fuzz.yaml", (const char *)data, size, &tree,
	    errbuf, sizeof(errbuf)) == PC_OK)
		yamltree_free(&tree);
	fuzz_policy((const char *)data, size);
	fuzz_config(data, size);
	return 0;
}
