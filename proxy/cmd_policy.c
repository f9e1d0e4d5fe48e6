/*
 * portcullis policy check FILE: validates a policy file and prints every
 * problem as "file:line: message". Exits 0 when the file is valid and 2
 * when it has problems or cannot be read, or on a usage error.
 */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "policy/policy.h"
#include "proxy/commands.h"

static void
policy_usage(FILE *out)
{
	fprintf(out, "usage: portcullis policy check FILE\n\n"
	    "Validates the policy file FILE and prints each problem as\n"
	    "file:line: message. Exit status: 0 valid, 2 problems found.\n");
}

/* Prints "FILE: ok (policy hash)" for a valid file. */
static int
print_valid(const char *file)
{
	struct policy *p = NULL;
	char errbuf[1024];
	int err;

	err = policy_load(file, &p, errbuf, sizeof(errbuf));
	if (err != PC_OK) {
		fprintf(stderr, "portcullis policy: %s\n", errbuf);
		return 2;
	}
	printf("%s: ok (%s)\n", file, policy_hash(p));
	policy_free(p);
	return 0;
}

int
cmd_policy(int argc, char **argv)
{
	int problems = 0;
	int err;

	if (argc >= 2 && (strcmp(argv[argc - 1], "--help") == 0 ||
	    strcmp(argv[argc - 1], "-h") == 0)) {
		policy_usage(stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "check") != 0) {
		policy_usage(stderr);
		return 2;
	}
	err = policy_check(argv[2], stdout, &problems);
	if (err != PC_OK) {
		fprintf(stderr, "portcullis policy: checking %s failed: %s\n",
		    argv[2], pc_strerror(err));
		return 2;
	}
	if (problems > 0) {
		printf("%s: %d problem%s\n", argv[2], problems,
		    problems == 1 ? "" : "s");
		return 2;
	}
	return print_valid(argv[2]);
}
