#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "scanner/analyzers.h"
#include "scanner/secrets.h"
#include "tests/unit/lang_fixture.h"

#define FIXTURES "tests/data/fixtures/secrets/"

static unsigned char *
read_fixture(const char *name, size_t *len)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", FIXTURES, name);
	return lang_fixture_read(path, len);
}

/*
 * Streams data through the secrets analyzer in chunks of chunk bytes and
 * returns the findings stored for path (NULL when none). res is left
 * initialised for the caller to free.
 */
static json_t *
stream_text(struct layer_result *res, const char *path,
    const unsigned char *data, size_t len, size_t chunk, bool complete)
{
	struct scan_file f;
	struct analyzer_stream *st;
	size_t max = 0;

	memset(&f, 0, sizeof(f));
	f.path = path;
	f.mode = S_IFREG | 0644;
	f.size = (int64_t)len;
	assert_int_equal(analyzer_secrets.wants(&f, &max), ANALYZER_STREAM);
	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	st = analyzer_secrets.stream_open(&f);
	assert_non_null(st);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		assert_int_equal(analyzer_secrets.stream_data(st, data + off, n),
		    PC_OK);
	}
	assert_int_equal(analyzer_secrets.stream_close(st, complete, res), PC_OK);
	return json_object_get(json_object_get(json_object_get(res->root,
	    "files"), path), "secrets");
}

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Returns the one finding of rule, failing when there are none or two. */
static json_t *
finding_of(json_t *findings, const char *rule)
{
	json_t *found = NULL;
	size_t i;
	json_t *item;

	json_array_foreach(findings, i, item) {
		if (strcmp(str(item, "rule"), rule) != 0)
			continue;
		if (found != NULL)
			fail_msg("rule %s reported twice", rule);
		found = item;
	}
	if (found == NULL)
		fail_msg("rule %s not reported", rule);
	return found;
}

/* Fails when the dump of root contains secret. */
static void
assert_not_leaked(const json_t *root, const char *secret)
{
	char *dump = json_dumps(root, 0);

	assert_non_null(dump);
	if (strstr(dump, secret) != NULL)
		fail_msg("secret %.8s... appears unredacted", secret);
	free(dump);
}

/* Returns the value after "NAME=" on the line of text, unquoted. */
static void
value_of(const char *text, const char *name, char *out, size_t outlen)
{
	const char *p = strstr(text, name);
	size_t n;

	assert_non_null(p);
	p += strlen(name) + 1;
	if (*p == '"')
		p++;
	n = strcspn(p, "\"\n");
	assert_true(n < outlen);
	memcpy(out, p, n);
	out[n] = '\0';
}

struct env_case {
	const char *rule;
	const char *variable;
	long line;
	const char *severity;
};

static const struct env_case env_cases[] = {
	{"aws-access-key-id", "AWS_ACCESS_KEY_ID", 2, "critical"},
	{"aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", 3, "critical"},
	{"github-token", "GITHUB_TOKEN", 4, "critical"},
	{"github-fine-grained-pat", "GH_DEPLOY", 5, "critical"},
	{"gitlab-pat", "GITLAB_TOKEN", 6, "critical"},
	{"slack-token", "SLACK_BOT_TOKEN", 7, "high"},
	{"npm-token", "NPM_TOKEN", 8, "critical"},
	{"pypi-token", "PYPI_TOKEN", 9, "critical"},
	{"google-api-key", "MAPS_KEY", 10, "high"},
	{"stripe-live-key", "STRIPE_SECRET", 11, "critical"},
};

static void
test_secrets_token_rules(void **state)
{
	size_t len;
	unsigned char *data = read_fixture("app.env", &len);
	struct layer_result res;
	json_t *findings = stream_text(&res, "app/.env", data, len, 65536,
	    true);

	assert_int_equal(json_array_size(findings),
	    sizeof(env_cases) / sizeof(env_cases[0]));
	for (size_t i = 0; i < sizeof(env_cases) / sizeof(env_cases[0]); i++) {
		const struct env_case *c = &env_cases[i];
		json_t *finding = finding_of(findings, c->rule);
		char secret[512];
		const char *redacted = str(finding, "redacted");
		size_t stars = strspn(redacted + 4, "*");

		value_of((const char *)data, c->variable, secret, sizeof(secret));
		print_message("rule %s\n", c->rule);
		assert_int_equal(json_integer_value(json_object_get(finding,
		    "line")), c->line);
		assert_string_equal(str(finding, "severity"), c->severity);
		assert_non_null(str(finding, "title"));
		/* First four characters kept, the rest starred. */
		assert_memory_equal(redacted, secret, 4);
		assert_int_equal(stars, strlen(redacted) - 4);
		assert_true(strlen(redacted) <= SECRETS_REDACTED_MAX);
		assert_not_leaked(res.root, secret);
	}
	layer_result_free(&res);
	free(data);
}

static void
test_secrets_private_keys(void **state)
{
	static const char *const keys[] = {
		"rsa-pkcs8.pem", "ec-traditional.pem", "rsa-encrypted-pkcs8.pem",
		"rsa-traditional-encrypted.pem", "openssh.key",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t len;
		unsigned char *data = read_fixture(keys[i], &len);
		struct layer_result res;
		json_t *findings = stream_text(&res, "etc/ssl/private/server.key",
		    data, len, 100, true);
		json_t *finding;
		const char *body;
		char first_line[128];

		print_message("key %s\n", keys[i]);
		assert_int_equal(json_array_size(findings), 1);
		finding = finding_of(findings, "private-key");
		assert_int_equal(json_integer_value(json_object_get(finding,
		    "line")), 1);
		assert_string_equal(str(finding, "severity"), "high");

		/* The redacted part is the start of the base64 body. */
		body = strstr((const char *)data, "\n\n");
		body = body != NULL ? body + 2 : strchr((const char *)data,
		    '\n') + 1;
		snprintf(first_line, sizeof(first_line), "%.*s",
		    (int)strcspn(body, "\n"), body);
		assert_memory_equal(str(finding, "redacted"), first_line, 4);
		assert_not_leaked(res.root, first_line);
		layer_result_free(&res);
		free(data);
	}
}

static void
test_secrets_lookalikes_ignored(void **state)
{
	size_t len;
	unsigned char *data = read_fixture("lookalikes.txt", &len);
	struct layer_result res;
	json_t *findings = stream_text(&res, "app/notes.txt", data, len, 4096,
	    true);

	assert_null(findings);
	layer_result_free(&res);
	free(data);
}

static void
test_secrets_registry_auth_by_path(void **state)
{
	size_t len;
	unsigned char *data = read_fixture("docker-config.json", &len);
	struct layer_result res;
	json_t *findings = stream_text(&res, "root/.docker/config.json", data,
	    len, 4096, true);
	json_t *finding = finding_of(findings, "registry-auth");

	assert_int_equal(json_integer_value(json_object_get(finding, "line")),
	    4);
	assert_string_equal(str(finding, "redacted"),
	    "dXNl************************");
	assert_not_leaked(res.root, "dXNlcjpzM2NyZXQtcGFzc3dvcmQ=");
	layer_result_free(&res);

	/* The same JSON elsewhere is an ordinary file. */
	findings = stream_text(&res, "app/config.json", data, len, 4096, true);
	assert_null(findings);
	layer_result_free(&res);
	free(data);
}

/*
 * Builds filler text with secrets placed at the given offsets and checks
 * that every chunk size finds each secret exactly once on its line.
 */
static void
test_secrets_across_chunk_boundaries(void **state)
{
	static const char token[] = "ghp_Zq8Vn3Lr5Tx7Wb9Yd2Fh4Jk6Mp1Qs0Uc3Ee5";
	static const char aws[] =
	    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	/* The first window ends after SECRETS_BUFFER_BYTES, later ones every
	 * SECRETS_WINDOW_BYTES, whatever the chunk size. */
	const size_t end1 = SECRETS_WINDOW_BYTES + SECRETS_OVERLAP_BYTES + 1;
	const size_t end2 = end1 + SECRETS_WINDOW_BYTES;
	const size_t end3 = end2 + SECRETS_WINDOW_BYTES;
	/* Before the overlap, at its first byte, inside it, across the end. */
	const size_t offsets[] = {
		end1 - SECRETS_OVERLAP_BYTES - 200, end1 - SECRETS_OVERLAP_BYTES - 1,
		end1 - 1000, end1 - 20,
		end2 - 1, end2 + 5000, end3 - 64, end3 + 30,
	};
	const size_t chunks[] = {1, 7, 4096, 65536, 100000, 1U << 20};
	size_t n_offsets = sizeof(offsets) / sizeof(offsets[0]);
	struct buf text;
	long lines[8];

	buf_init(&text, 1U << 20);
	for (size_t i = 0; i < n_offsets; i++) {
		const char *secret = i % 2 == 0 ? token : aws;

		while (text.len + 26 <= offsets[i])
			assert_int_equal(buf_append_str(&text,
			    "plain configuration text\n"), PC_OK);
		while (text.len < offsets[i])
			assert_int_equal(buf_append_str(&text, " "), PC_OK);
		assert_int_equal(text.len, offsets[i]);
		lines[i] = 1;
		for (size_t j = 0; j < text.len; j++)
			lines[i] += text.data[j] == '\n';
		assert_int_equal(buf_append_str(&text, secret), PC_OK);
		assert_int_equal(buf_append_str(&text, "\n"), PC_OK);
	}
	assert_int_equal(buf_append_str(&text, "end\n"), PC_OK);

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct layer_result res;
		json_t *findings = stream_text(&res, "etc/app.conf",
		    (const unsigned char *)text.data, text.len, chunks[c], true);

		print_message("chunk %zu\n", chunks[c]);
		assert_int_equal(json_array_size(findings), n_offsets);
		for (size_t i = 0; i < n_offsets; i++) {
			bool seen = false;
			size_t k;
			json_t *item;

			json_array_foreach(findings, k, item) {
				if (json_integer_value(json_object_get(item,
				    "line")) == lines[i])
					seen = true;
			}
			assert_true(seen);
		}
		assert_not_leaked(res.root, token);
		assert_not_leaked(res.root, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
		layer_result_free(&res);
	}
	buf_free(&text);
}

static void
test_secrets_binary_skipped(void **state)
{
	static const unsigned char elf[] =
	    "\x7f" "ELF\x02\x01\x01\0\0\0 ghp_Zq8Vn3Lr5Tx7Wb9Yd2Fh4Jk6Mp1Qs0Uc3Ee5\n";
	struct layer_result res;
	json_t *findings = stream_text(&res, "usr/bin/tool", elf,
	    sizeof(elf) - 1, 4096, true);

	assert_null(findings);
	layer_result_free(&res);
}

static void
test_secrets_findings_capped(void **state)
{
	struct buf text;
	struct layer_result res;
	json_t *findings;

	buf_init(&text, 1U << 20);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_printf(&text, "key%d=AKIAIOSFODNN7EXAMP%02d\n",
		    i, i), PC_OK);
	findings = stream_text(&res, "etc/keys", (const unsigned char *)text.data,
	    text.len, 65536, true);
	assert_int_equal(json_array_size(findings),
	    SECRETS_MAX_FINDINGS_PER_FILE);
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_secrets_incomplete_file_kept(void **state)
{
	static const char text[] = "token: ghp_Zq8Vn3Lr5Tx7Wb9Yd2Fh4Jk6Mp1Qs0Uc3Ee5\n";
	struct layer_result res;
	json_t *findings = stream_text(&res, "etc/app.yaml",
	    (const unsigned char *)text, sizeof(text) - 1, 16, false);

	assert_int_equal(json_array_size(findings), 1);
	layer_result_free(&res);
}

static void
test_secrets_skipped_paths(void **state)
{
	static const char *const skipped[] = {
		"usr/share/doc/openssl/demo.pem",
		"usr/share/man/man1/x.1",
		"usr/include/openssl/pem.h",
		"usr/share/locale/de/LC_MESSAGES/x.txt",
		"usr/lib/python3/dist-packages/foo-1.0.dist-info/RECORD",
		"app/node_modules/jws/test/keys/private.pem",
		"usr/lib/python3.11/site-packages/rsa/tests/key.pem",
		"usr/lib/python3.11/test/keycert.pem",
		"app/package-lock.json",
		"app/yarn.lock",
		"srv/logo.png",
		"srv/backup.tar.gz",
	};
	static const char *const scanned[] = {
		"etc/ssl/private/server.key",
		"app/.env",
		"root/.docker/config.json",
		"app/node_modules/pkg/index.js",
	};
	struct scan_file f;
	size_t max = 0;

	memset(&f, 0, sizeof(f));
	f.mode = S_IFREG | 0644;
	f.size = 1000;
	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
		f.path = skipped[i];
		print_message("skipped %s\n", f.path);
		assert_int_equal(analyzer_secrets.wants(&f, &max), ANALYZER_SKIP);
	}
	for (size_t i = 0; i < sizeof(scanned) / sizeof(scanned[0]); i++) {
		f.path = scanned[i];
		print_message("scanned %s\n", f.path);
		assert_int_equal(analyzer_secrets.wants(&f, &max),
		    ANALYZER_STREAM);
	}

	f.path = "app/.env";
	f.size = SECRETS_MIN_FILE_BYTES - 1;
	assert_int_equal(analyzer_secrets.wants(&f, &max), ANALYZER_SKIP);
	f.size = (int64_t)SECRETS_MAX_FILE_BYTES + 1;
	assert_int_equal(analyzer_secrets.wants(&f, &max), ANALYZER_SKIP);
	f.size = 1000;
	f.mode = S_IFLNK | 0777;
	assert_int_equal(analyzer_secrets.wants(&f, &max), ANALYZER_SKIP);
}

static void
test_secrets_scan_buffer_direct(void **state)
{
	static const char value[] = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
	json_t *findings = json_array();

	assert_int_equal(secrets_scan_buffer((const unsigned char *)value,
	    strlen(value), NULL, 4, findings), PC_OK);
	assert_int_equal(json_array_size(findings), 1);
	assert_string_equal(str(json_array_get(findings, 0), "redacted"),
	    "sk_l****************************");
	json_decref(findings);
}

/*
 * Random bytes full of rule prefixes, streamed in uneven chunks: every
 * finding stays redacted and within its size.
 */
static void
test_secrets_random_text(void **state)
{
	static const char *const pieces[] = {
		"AKIA", "ghp_", "-----BEGIN ", "PRIVATE KEY-----\n", "aws_secret=",
		"xoxb-", "pypi-AgEIcHlwaS5vcmc", "\"auth\": \"", "\n", "sk_live_",
	};
	const size_t len = 300000;
	unsigned char *data = malloc(len);
	uint32_t x = 88172645U;
	struct layer_result res;
	struct scan_file f;
	struct analyzer_stream *st;
	size_t off = 0;
	size_t i;
	json_t *finding;

	assert_non_null(data);
	for (size_t n = 0; n < len;) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if (x % 5 == 0) {
			const char *p = pieces[(x >> 8) % 10];
			size_t plen = strlen(p) < len - n ? strlen(p) : len - n;

			memcpy(data + n, p, plen);
			n += plen;
		} else {
			data[n++] = (unsigned char)(32 + (x >> 16) % 95);
		}
	}

	memset(&f, 0, sizeof(f));
	f.path = "root/.docker/config.json";
	f.mode = S_IFREG | 0644;
	f.size = (int64_t)len;
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	st = analyzer_secrets.stream_open(&f);
	assert_non_null(st);
	while (off < len) {
		size_t n = 1 + (off * 7919) % 9000;

		if (n > len - off)
			n = len - off;
		assert_int_equal(analyzer_secrets.stream_data(st, data + off, n),
		    PC_OK);
		off += n;
	}
	assert_int_equal(analyzer_secrets.stream_close(st, true, &res), PC_OK);
	json_array_foreach(json_object_get(json_object_get(json_object_get(
	    res.root, "files"), f.path), "secrets"), i, finding) {
		const char *redacted = str(finding, "redacted");

		assert_true(strlen(redacted) <= SECRETS_REDACTED_MAX);
		assert_true(strspn(redacted + 4, "*") == strlen(redacted) - 4);
		assert_true(json_integer_value(json_object_get(finding,
		    "line")) >= 1);
	}
	layer_result_free(&res);
	free(data);
}

static void
test_secrets_allocation_failures_unwind(void **state)
{
	size_t len;
	unsigned char *data = read_fixture("app.env", &len);
	struct scan_file f;

	memset(&f, 0, sizeof(f));
	f.path = "app/.env";
	f.mode = S_IFREG | 0644;
	f.size = (int64_t)len;
	for (long n = 0; n < 120; n++) {
		struct layer_result res;
		struct analyzer_stream *st;
		int err = PC_OK;

		assert_int_equal(layer_result_init(&res, NULL), PC_OK);
		pc_alloc_fail_after(n);
		st = analyzer_secrets.stream_open(&f);
		if (st != NULL) {
			err = analyzer_secrets.stream_data(st, data, len);
			if (err == PC_OK)
				err = analyzer_secrets.stream_close(st, true, &res);
			else
				analyzer_secrets.stream_close(st, false, &res);
		}
		pc_alloc_fail_after(-1);
		assert_true(err == PC_OK || err == PC_ERR_NOMEM);
		layer_result_free(&res);
	}
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets_token_rules),
		cmocka_unit_test(test_secrets_private_keys),
		cmocka_unit_test(test_secrets_lookalikes_ignored),
		cmocka_unit_test(test_secrets_registry_auth_by_path),
		cmocka_unit_test(test_secrets_across_chunk_boundaries),
		cmocka_unit_test(test_secrets_binary_skipped),
		cmocka_unit_test(test_secrets_findings_capped),
		cmocka_unit_test(test_secrets_incomplete_file_kept),
		cmocka_unit_test(test_secrets_skipped_paths),
		cmocka_unit_test(test_secrets_scan_buffer_direct),
		cmocka_unit_test(test_secrets_random_text),
		cmocka_unit_test(test_secrets_allocation_failures_unwind),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
