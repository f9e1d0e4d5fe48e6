#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "proxy/commands.h"
#include "proxy/version.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{"serve", cmd_serve,
	    "serve -c FILE | --listen ADDR --upstream [NAME=]URL ..."},
	{"config", cmd_config, "config check -c FILE | config reference"},
	{"scan", cmd_scan, "scan [--format table|json] [--db PATH] [--policy FILE] [--plain-http] IMAGE"},
	{"vercmp", cmd_vercmp, "vercmp SCHEME A B   (SCHEME: deb apk rpm semver go pep440 maven)"},
	{"db", cmd_db, "db import --out PATH SOURCE... | db info PATH"},
	{"policy", cmd_policy, "policy check FILE"},
	{"cache", cmd_cache, "cache import [--as NAME:TAG] SOURCE | cache export NAME:TAG DIR"},
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: portcullis COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  portcullis %s\n", commands[i].usage);
	fprintf(out, "  portcullis version\n\n"
	    "Run 'portcullis COMMAND --help' for the options of one command.\n");
}

int
main(int argc, char **argv)
{
	pc_alloc_init();

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("portcullis %s\n", PORTCULLIS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "portcullis: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
