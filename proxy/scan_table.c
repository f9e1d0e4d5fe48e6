#include "proxy/scan_table.h"

#include <string.h>

/* Prints s padded or cut to width (0: as is), control bytes as '?'. */
static void
cell(FILE *out, const char *s, int width)
{
	int n = 0;

	if (s == NULL)
		s = "-";
	for (; *s != '\0' && (width == 0 || n < width); s++, n++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
	for (; n < width; n++)
		fputc(' ', out);
}

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* One column of a table row: the string member key, padded to width. */
struct column {
	const char *key;
	int width;
};

/* Prints two spaces and the columns of obj, one space apart, no newline. */
static void
row(FILE *out, const json_t *obj, const struct column *cols, size_t n)
{
	fputs("  ", out);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc(' ', out);
		cell(out, str(obj, cols[i].key), cols[i].width);
	}
}

static void
print_image(FILE *out, const json_t *report)
{
	const json_t *image = json_object_get(report, "image");
	const json_t *os = json_object_get(report, "os");
	const char *ref = str(image, "reference");

	fputs("Image     ", out);
	cell(out, str(image, "repository"), 0);
	if (ref != NULL) {
		fputc(ref[0] == 's' && strchr(ref, ':') != NULL ? '@' : ':', out);
		cell(out, ref, 0);
	}
	fputs("\nDigest    ", out);
	cell(out, str(image, "digest"), 0);
	fprintf(out, "\nPlatform  ");
	cell(out, str(image, "platform"), 0);
	fprintf(out, "   size %.1f kB   layers %zu\n",
	    (double)json_integer_value(json_object_get(image, "size")) / 1e3,
	    json_array_size(json_object_get(report, "layers")));
	fputs("OS        ", out);
	if (json_is_object(os)) {
		cell(out, str(os, "family"), 0);
		fputc(' ', out);
		cell(out, str(os, "version"), 0);
		fputs(" (", out);
		cell(out, str(os, "ecosystem"), 0);
		fputs(")\n", out);
	} else {
		fputs("unknown\n", out);
	}
}

static void
print_packages(FILE *out, const json_t *report)
{
	static const char *const types[] = {"deb", "apk", "rpm", "pypi", "npm",
	    "go", "maven"};
	const json_t *packages = json_object_get(report, "packages");
	size_t counts[sizeof(types) / sizeof(types[0]) + 1] = {0};
	size_t i;
	json_t *p;

	json_array_foreach(packages, i, p) {
		const char *t = str(p, "type");
		size_t k = 0;

		while (k < sizeof(types) / sizeof(types[0]) &&
		    (t == NULL || strcmp(t, types[k]) != 0))
			k++;
		counts[k]++;
	}
	fprintf(out, "\nPackages: %zu\n", json_array_size(packages));
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		if (counts[k] > 0)
			fprintf(out, "  %-6s %zu\n", types[k], counts[k]);
	}
	if (counts[sizeof(types) / sizeof(types[0])] > 0)
		fprintf(out, "  %-6s %zu\n", "other",
		    counts[sizeof(types) / sizeof(types[0])]);
}

static void
print_vulnerabilities(FILE *out, const json_t *report, bool matched)
{
	static const char *const words[] = {"critical", "high", "medium", "low",
	    "unknown"};
	const json_t *vulns = json_object_get(report, "vulnerabilities");
	size_t counts[5] = {0};
	size_t i;
	json_t *v;

	if (!matched) {
		fputs("\nVulnerabilities: not matched (no --db given)\n", out);
		return;
	}
	json_array_foreach(vulns, i, v) {
		const char *s = str(v, "severity");
		size_t k = 0;

		while (k < 4 && (s == NULL || strcmp(s, words[k]) != 0))
			k++;
		counts[k]++;
	}
	fprintf(out, "\nVulnerabilities: %zu (critical %zu, high %zu, medium %zu, "
	    "low %zu, unknown %zu)\n", json_array_size(vulns), counts[0],
	    counts[1], counts[2], counts[3], counts[4]);
	if (json_array_size(vulns) == 0)
		return;
	fprintf(out, "  %-9s %-20s %-24s %-22s %-22s %s\n", "SEVERITY", "ID",
	    "PACKAGE", "VERSION", "FIXED", "CVSS");
	json_array_foreach(vulns, i, v) {
		static const struct column cols[] = {{"severity", 9}, {"id", 20},
		    {"package", 24}, {"version", 22}};
		const json_t *score = json_object_get(v, "cvss_score");

		row(out, v, cols, 4);
		fputc(' ', out);
		cell(out, str(v, "fixed") != NULL ? str(v, "fixed") : "(none)", 22);
		if (json_is_number(score))
			fprintf(out, " %.1f", json_number_value(score));
		fputc('\n', out);
	}
}

static void
print_secrets_and_files(FILE *out, const json_t *report)
{
	const json_t *secrets = json_object_get(report, "secrets");
	const json_t *files = json_object_get(report, "files");
	size_t i;
	json_t *v;

	fprintf(out, "\nSecrets: %zu\n", json_array_size(secrets));
	json_array_foreach(secrets, i, v) {
		static const struct column cols[] = {{"severity", 9}, {"rule", 28},
		    {"path", 0}};

		row(out, v, cols, 3);
		fprintf(out, ":%lld  ",
		    (long long)json_integer_value(json_object_get(v, "line")));
		cell(out, str(v, "redacted"), 0);
		fputc('\n', out);
	}

	fprintf(out, "\nRisky files: %zu\n", json_array_size(files));
	json_array_foreach(files, i, v) {
		fputs("  ", out);
		cell(out, str(v, "mode"), 5);
		fprintf(out, " %-8s ", json_is_true(json_object_get(v, "setuid")) ?
		    "setuid" : json_is_true(json_object_get(v, "setgid")) ? "setgid" :
		    "writable");
		cell(out, str(v, "path"), 0);
		fputc('\n', out);
	}
}

static void
print_config_and_errors(FILE *out, const json_t *report)
{
	const json_t *config = json_object_get(report, "config");
	const json_t *ports = json_object_get(config, "exposed_ports");
	const json_t *errors = json_object_get(report, "errors");
	const char *user = str(config, "user");
	size_t i;
	json_t *v;

	fputs("\nConfig: user ", out);
	cell(out, user != NULL && user[0] != '\0' ? user : "(unset: root)", 0);
	fputs(", exposed ports", out);
	if (json_array_size(ports) == 0)
		fputs(" none", out);
	json_array_foreach(ports, i, v) {
		fputc(' ', out);
		cell(out, json_string_value(v), 0);
	}
	fputc('\n', out);
	json_array_foreach(json_object_get(config, "findings"), i, v) {
		static const struct column cols[] = {{"severity", 9}, {"id", 12},
		    {"message", 0}};

		row(out, v, cols, 3);
		fputc('\n', out);
	}

	fprintf(out, "\nErrors: %zu\n", json_array_size(errors));
	json_array_foreach(errors, i, v) {
		static const struct column cols[] = {{"kind", 12}, {"layer", 19},
		    {"message", 0}};

		row(out, v, cols, 3);
		fputc('\n', out);
	}
}

static void
print_verdict(FILE *out, const json_t *report)
{
	const json_t *verdict = json_object_get(report, "verdict");

	if (verdict == NULL)
		return;
	fputs("\nVerdict: ", out);
	cell(out, str(verdict, "decision"), 0);
	fputs(" (", out);
	cell(out, str(verdict, "mode"), 0);
	fputs(")  ", out);
	cell(out, str(verdict, "summary"), 0);
	fputc('\n', out);
}

void
scan_table_print(FILE *out, const json_t *report, bool matched)
{
	print_image(out, report);
	print_packages(out, report);
	print_vulnerabilities(out, report, matched);
	print_secrets_and_files(out, report);
	print_config_and_errors(out, report);
	print_verdict(out, report);
}
