#include "scanner/analyzers.h"
#include "scanner/secrets.h"

#include <ctype.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/error.h"

/*
 * Secret detection with hand-written matchers: each rule has literal
 * prefixes or a structure that a short scan recognises, so no regular
 * expression engine (and no lock inside one) is involved.
 */

/* Character classes of token bodies. */
#define CC_UPPER 0x01U
#define CC_LOWER 0x02U
#define CC_DIGIT 0x04U
#define CC_UNDERSCORE 0x08U
#define CC_DASH 0x10U
#define CC_SLASH_PLUS 0x20U
#define CC_EQUALS 0x40U
#define CC_ALNUM (CC_UPPER | CC_LOWER | CC_DIGIT)
#define CC_BASE64 (CC_ALNUM | CC_SLASH_PLUS | CC_EQUALS)

/* Maximum span of PEM armour headers read between BEGIN and the body. */
#define PEM_MAX_HEADER_BYTES 1024U
/* Body characters that make a PEM block a key rather than a mention. */
#define PEM_MIN_BODY 16U
/* Maximum length of the key name before the "=" of an AWS secret. */
#define AWS_MAX_NAME 48U

static bool
in_class(unsigned char c, unsigned classes)
{
	if (isupper(c))
		return (classes & CC_UPPER) != 0;
	if (islower(c))
		return (classes & CC_LOWER) != 0;
	if (isdigit(c))
		return (classes & CC_DIGIT) != 0;
	if (c == '_')
		return (classes & CC_UNDERSCORE) != 0;
	if (c == '-')
		return (classes & CC_DASH) != 0;
	if (c == '/' || c == '+')
		return (classes & CC_SLASH_PLUS) != 0;
	if (c == '=')
		return (classes & CC_EQUALS) != 0;
	return false;
}

/* One match: where it starts, and the bytes that are the secret. */
struct secret_hit {
	size_t start;
	size_t secret;
	size_t secret_len;
};

/* The text of one scan window, as the matchers see it. */
struct secret_text {
	const unsigned char *data;
	const unsigned char *lower;  /* data lower-cased, for keywords */
	size_t len;
	const char *path;
};

struct secret_rule;

/* Finds the first hit that starts at or after pos; false when none. */
typedef bool (*secret_find_fn)(const struct secret_rule *rule,
    const struct secret_text *text, size_t pos, struct secret_hit *hit);

struct secret_rule {
	const char *id;
	const char *title;
	const char *severity;
	secret_find_fn find;
	/* Lower-cased keywords; the rule runs when any one occurs. */
	const char *keywords[6];
	/* Token rules: literal prefixes, body class and body length. */
	const char *prefixes[6];
	unsigned body_class;
	size_t body_min;
	size_t body_max;
};

static const unsigned char *
find_bytes(const unsigned char *hay, size_t hay_len, size_t pos,
    const char *needle)
{
	if (pos >= hay_len)
		return NULL;
	return memmem(hay + pos, hay_len - pos, needle, strlen(needle));
}

/*
 * Token rules: a literal prefix not preceded by a letter or digit, then
 * body_min..body_max characters of body_class, then a character outside
 * the class (or the end of the text).
 */
static bool
find_token(const struct secret_rule *rule, const struct secret_text *text,
    size_t pos, struct secret_hit *hit)
{
	bool found = false;

	for (size_t i = 0; i < 6 && rule->prefixes[i] != NULL; i++) {
		const char *prefix = rule->prefixes[i];
		size_t plen = strlen(prefix);
		size_t at = pos;
		const unsigned char *p;

		while ((p = find_bytes(text->data, text->len, at, prefix)) !=
		    NULL) {
			size_t start = (size_t)(p - text->data);
			size_t body = start + plen;
			size_t run = 0;

			at = start + 1;
			if (found && start >= hit->start)
				break;
			if (start > 0 && in_class(text->data[start - 1],
			    CC_ALNUM | rule->body_class))
				continue;
			while (body + run < text->len && run <= rule->body_max &&
			    in_class(text->data[body + run], rule->body_class))
				run++;
			if (run < rule->body_min || run > rule->body_max)
				continue;
			hit->start = start;
			hit->secret = start;
			hit->secret_len = plen + run;
			found = true;
			break;
		}
	}
	return found;
}

static size_t
line_end(const struct secret_text *text, size_t pos)
{
	const unsigned char *nl = pos < text->len ?
	    memchr(text->data + pos, '\n', text->len - pos) : NULL;

	return nl != NULL ? (size_t)(nl - text->data) : text->len;
}

/*
 * Checks the label of "-----BEGIN <label>-----" at begin and returns the
 * offset after the closing dashes, or 0 when the label is no private key.
 */
static size_t
pem_private_label(const struct secret_text *text, size_t begin)
{
	size_t label = begin + strlen("-----BEGIN ");
	size_t end = line_end(text, label);
	const unsigned char *dashes;
	size_t label_len;

	if (end - label > 64)
		end = label + 64;
	dashes = memmem(text->data + label, end - label, "-----", 5);
	if (dashes == NULL)
		return 0;
	label_len = (size_t)(dashes - (text->data + label));
	if (label_len >= strlen("PRIVATE KEY") &&
	    memcmp(dashes - strlen("PRIVATE KEY"), "PRIVATE KEY",
	    strlen("PRIVATE KEY")) == 0)
		return (size_t)(dashes - text->data) + 5;
	if (label_len >= strlen("PRIVATE KEY BLOCK") &&
	    memcmp(dashes - strlen("PRIVATE KEY BLOCK"), "PRIVATE KEY BLOCK",
	    strlen("PRIVATE KEY BLOCK")) == 0)
		return (size_t)(dashes - text->data) + 5;
	return 0;
}

/*
 * PEM private keys: a BEGIN line whose label ends in PRIVATE KEY, armour
 * headers ("Proc-Type: ...") and blank lines, then at least PEM_MIN_BODY
 * base64 characters. The secret is the first body line.
 */
static bool
find_pem_key(const struct secret_rule *rule, const struct secret_text *text,
    size_t pos, struct secret_hit *hit)
{
	const unsigned char *p;

	for (; (p = find_bytes(text->data, text->len, pos, "-----BEGIN ")) !=
	    NULL; pos = (size_t)(p - text->data) + 1) {
		size_t begin = (size_t)(p - text->data);
		size_t cur = pem_private_label(text, begin);
		size_t limit = begin + PEM_MAX_HEADER_BYTES;
		size_t run = 0;

		if (cur == 0)
			continue;
		/* Skip to the body past armour headers and blank lines. */
		while (cur < text->len && cur < limit) {
			size_t end = line_end(text, cur);
			bool header = memchr(text->data + cur, ':', end - cur) !=
			    NULL;
			bool blank = true;

			for (size_t i = cur; i < end; i++) {
				if (!isspace(text->data[i]))
					blank = false;
			}
			if (!header && !blank && cur > begin + 11 &&
			    text->data[cur - 1] == '\n')
				break;
			cur = end + 1;
		}
		while (cur + run < text->len && run < 128 &&
		    in_class(text->data[cur + run], CC_BASE64))
			run++;
		if (run < PEM_MIN_BODY)
			continue;
		hit->start = begin;
		hit->secret = cur;
		hit->secret_len = run;
		return true;
	}
	return false;
}

static bool
name_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.' || c == ' ' ||
	    c == '"' || c == '\'';
}

/*
 * AWS secret access keys: a name that contains "aws" and "secret"
 * (AWS_SECRET_ACCESS_KEY, aws_secret_access_key, "awsSecretKey"), then
 * ":", "=" or "=>", then exactly 40 characters of [A-Za-z0-9/+], quoted or
 * not.
 */
static bool
find_aws_secret(const struct secret_rule *rule,
    const struct secret_text *text, size_t pos, struct secret_hit *hit)
{
	const unsigned char *p;

	for (; (p = find_bytes(text->lower, text->len, pos, "aws")) != NULL;
	    pos = (size_t)(p - text->lower) + 1) {
		size_t start = (size_t)(p - text->lower);
		size_t cur = start;
		size_t run = 0;

		while (cur < text->len && cur - start < AWS_MAX_NAME &&
		    name_char(text->lower[cur]))
			cur++;
		if (cur >= text->len || (text->lower[cur] != ':' &&
		    text->lower[cur] != '='))
			continue;
		if (memmem(text->lower + start, cur - start, "secret", 6) == NULL)
			continue;
		cur++;
		while (cur < text->len && cur - start < AWS_MAX_NAME + 16 &&
		    (text->data[cur] == '>' ||
		    text->data[cur] == ' ' || text->data[cur] == '\t' ||
		    text->data[cur] == '"' || text->data[cur] == '\''))
			cur++;
		while (cur + run < text->len && run <= 40 &&
		    in_class(text->data[cur + run], CC_ALNUM | CC_SLASH_PLUS))
			run++;
		if (run != 40 || (cur + run < text->len &&
		    text->data[cur + run] == '='))
			continue;
		hit->start = start;
		hit->secret = cur;
		hit->secret_len = run;
		return true;
	}
	return false;
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t len = strlen(s);
	size_t slen = strlen(suffix);

	return len >= slen && strcmp(s + len - slen, suffix) == 0;
}

/*
 * "auth" entries of container registry credential files: base64 of
 * "user:password" in .docker/config.json and containers/auth.json.
 */
static bool
find_registry_auth(const struct secret_rule *rule,
    const struct secret_text *text, size_t pos, struct secret_hit *hit)
{
	const unsigned char *p;

	if (text->path == NULL || (!has_suffix(text->path, ".docker/config.json") &&
	    !has_suffix(text->path, "containers/auth.json")))
		return false;
	for (; (p = find_bytes(text->data, text->len, pos, "\"auth\"")) != NULL;
	    pos = (size_t)(p - text->data) + 1) {
		size_t start = (size_t)(p - text->data);
		size_t cur = start + 6;
		size_t run = 0;

		while (cur < text->len && cur - start < 22 &&
		    isspace(text->data[cur]))
			cur++;
		if (cur >= text->len || text->data[cur] != ':')
			continue;
		cur++;
		while (cur < text->len && cur - start < 40 &&
		    isspace(text->data[cur]))
			cur++;
		if (cur >= text->len || text->data[cur] != '"')
			continue;
		cur++;
		while (cur + run < text->len && run <= 1024 &&
		    in_class(text->data[cur + run], CC_BASE64))
			run++;
		if (run < 8 || run > 1024 || cur + run >= text->len ||
		    text->data[cur + run] != '"')
			continue;
		hit->start = start;
		hit->secret = cur;
		hit->secret_len = run;
		return true;
	}
	return false;
}

/*
 * The rules. Every match spans fewer than SECRETS_OVERLAP_BYTES bytes: the
 * longest are the PyPI token (~1000) and a PEM block's headers (~1100).
 */
static const struct secret_rule secret_rules[] = {
	{"private-key", "Private key", "high", find_pem_key,
	    {"private key"}, {NULL}, 0, 0, 0},
	{"aws-access-key-id", "AWS access key ID", "critical", find_token,
	    {"akia", "asia"}, {"AKIA", "ASIA"}, CC_UPPER | CC_DIGIT, 16, 16},
	{"aws-secret-access-key", "AWS secret access key", "critical",
	    find_aws_secret, {"aws"}, {NULL}, 0, 0, 0},
	{"github-token", "GitHub token", "critical", find_token,
	    {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"},
	    {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, CC_ALNUM, 36, 36},
	{"github-fine-grained-pat", "GitHub fine-grained personal access token",
	    "critical", find_token, {"github_pat_"}, {"github_pat_"},
	    CC_ALNUM | CC_UNDERSCORE, 82, 82},
	{"gitlab-pat", "GitLab personal access token", "critical", find_token,
	    {"glpat-"}, {"glpat-"}, CC_ALNUM | CC_UNDERSCORE | CC_DASH, 20, 20},
	{"slack-token", "Slack token", "high", find_token,
	    {"xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"},
	    {"xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"}, CC_ALNUM | CC_DASH,
	    10, 250},
	{"npm-token", "npm access token", "critical", find_token, {"npm_"},
	    {"npm_"}, CC_ALNUM, 36, 36},
	{"pypi-token", "PyPI upload token", "critical", find_token,
	    {"pypi-ageichlwas5vcmc"}, {"pypi-AgEIcHlwaS5vcmc"},
	    CC_ALNUM | CC_UNDERSCORE | CC_DASH, 50, 1000},
	{"google-api-key", "Google API key", "high", find_token, {"aiza"},
	    {"AIza"}, CC_ALNUM | CC_UNDERSCORE | CC_DASH, 35, 35},
	{"stripe-live-key", "Stripe live secret key", "critical", find_token,
	    {"sk_live_"}, {"sk_live_"}, CC_ALNUM, 24, 99},
	{"registry-auth", "Container registry credentials", "high",
	    find_registry_auth, {"\"auth\""}, {NULL}, 0, 0, 0},
};

void
secrets_redact(const char *secret, size_t len, char *out)
{
	size_t keep = len >= 8 ? 4 : len / 2;
	size_t total = len < SECRETS_REDACTED_MAX ? len : SECRETS_REDACTED_MAX;

	memcpy(out, secret, keep);
	memset(out + keep, '*', total - keep);
	out[total] = '\0';
}

static bool
rule_keyword_present(const struct secret_rule *rule,
    const struct secret_text *text)
{
	for (size_t i = 0; i < 6 && rule->keywords[i] != NULL; i++) {
		if (memmem(text->lower, text->len, rule->keywords[i],
		    strlen(rule->keywords[i])) != NULL)
			return true;
	}
	return false;
}

static size_t
count_newlines(const unsigned char *data, size_t len)
{
	size_t n = 0;
	const unsigned char *p = data;
	const unsigned char *end = data + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/*
 * Scans one window and appends the hits that start in [begin, end) to
 * findings, up to max_findings in the array. lines_before is the number
 * of newlines in the file before the window.
 */
static int
secrets_scan_window(const struct secret_text *text, size_t begin, size_t end,
    size_t lines_before, size_t max_findings, json_t *findings)
{
	size_t nrules = sizeof(secret_rules) / sizeof(secret_rules[0]);

	for (size_t r = 0; r < nrules; r++) {
		const struct secret_rule *rule = &secret_rules[r];
		struct secret_hit hit;
		size_t pos = begin;

		if (!rule_keyword_present(rule, text))
			continue;
		while (json_array_size(findings) < max_findings &&
		    rule->find(rule, text, pos, &hit) && hit.start < end) {
			char redacted[SECRETS_REDACTED_MAX + 1];
			size_t line = lines_before + 1 +
			    count_newlines(text->data, hit.start);
			json_t *finding;

			secrets_redact((const char *)text->data + hit.secret,
			    hit.secret_len, redacted);
			finding = json_pack("{s:s, s:s, s:s, s:I, s:s}", "rule",
			    rule->id, "title", rule->title, "severity",
			    rule->severity, "line", (json_int_t)line, "redacted",
			    redacted);
			if (finding == NULL ||
			    json_array_append_new(findings, finding) != 0)
				return PC_ERR_NOMEM;
			pos = hit.secret + hit.secret_len;
			if (pos <= hit.start)
				pos = hit.start + 1;
		}
	}
	return PC_OK;
}

static void
lowercase_into(unsigned char *dst, const unsigned char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = (unsigned char)tolower(src[i]);
}

int
secrets_scan_buffer(const unsigned char *data, size_t len, const char *path,
    size_t max_findings, json_t *findings)
{
	struct secret_text text = {data, NULL, len, path};
	unsigned char *lower = pc_malloc(len + 1);
	int err;

	if (lower == NULL)
		return PC_ERR_NOMEM;
	lowercase_into(lower, data, len);
	text.lower = lower;
	err = secrets_scan_window(&text, 0, len, 0, max_findings, findings);
	pc_free(lower);
	return err;
}

/* Path components and suffixes whose files are not scanned. */
static const char *const skipped_prefixes[] = {
	"usr/share/doc/", "usr/share/man/", "usr/share/info/",
	"usr/share/locale/", "usr/share/i18n/", "usr/lib/locale/",
	"usr/include/", "usr/share/zoneinfo/", "proc/", "sys/",
};

static const char *const skipped_parts[] = {
	".dist-info/", ".egg-info/", "/locale/", "/.git/", "/__pycache__/",
};

static const char *const skipped_suffixes[] = {
	"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock",
	"Cargo.lock", "poetry.lock", "Pipfile.lock", "composer.lock",
	"Gemfile.lock", "go.sum", ".png", ".jpg", ".jpeg", ".gif", ".ico",
	".webp", ".bmp", ".tif", ".tiff", ".woff", ".woff2", ".ttf", ".otf",
	".pdf", ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z",
	".jar", ".war", ".whl", ".egg", ".deb", ".rpm", ".mo", ".pyc", ".so",
	".md5sums",
};

/* node_modules/<pkg>/test/... and python site-packages/<pkg>/tests/... */
static bool
in_package_tests(const char *path)
{
	static const char *const roots[] = {
		"node_modules/", "site-packages/", "dist-packages/",
	};
	static const char *const tests[] = {"/test/", "/tests/", "/__tests__/"};

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		const char *root = strstr(path, roots[i]);

		if (root == NULL)
			continue;
		for (size_t j = 0; j < sizeof(tests) / sizeof(tests[0]); j++) {
			if (strstr(root, tests[j]) != NULL)
				return true;
		}
	}
	return false;
}

bool
secrets_path_skipped(const char *path)
{
	size_t n;

	for (n = 0; n < sizeof(skipped_prefixes) / sizeof(skipped_prefixes[0]);
	    n++) {
		if (strncmp(path, skipped_prefixes[n],
		    strlen(skipped_prefixes[n])) == 0)
			return true;
	}
	for (n = 0; n < sizeof(skipped_parts) / sizeof(skipped_parts[0]); n++) {
		const char *part = skipped_parts[n];

		if (strstr(path, part) != NULL)
			return true;
		/* "/locale/" also matches "locale/" at the start of the path. */
		if (part[0] == '/' &&
		    strncmp(path, part + 1, strlen(part + 1)) == 0)
			return true;
	}
	for (n = 0; n < sizeof(skipped_suffixes) / sizeof(skipped_suffixes[0]);
	    n++) {
		if (has_suffix(path, skipped_suffixes[n]))
			return true;
	}
	if (strncmp(path, "usr/lib/python", 14) == 0 &&
	    strstr(path, "/test/") != NULL)
		return true;
	return in_package_tests(path);
}

static enum analyzer_want
secrets_wants(const struct scan_file *f, size_t *max_bytes)
{
	if (!S_ISREG(f->mode) || f->size < (int64_t)SECRETS_MIN_FILE_BYTES ||
	    f->size > (int64_t)SECRETS_MAX_FILE_BYTES)
		return ANALYZER_SKIP;
	return secrets_path_skipped(f->path) ? ANALYZER_SKIP : ANALYZER_STREAM;
}

/*
 * Per-file state. window contains the carry of the previous window followed
 * by new bytes; a window is scanned when full and at the end of the file.
 */
struct analyzer_stream {
	char *path;
	unsigned char *window;
	unsigned char *lower;
	size_t len;
	size_t lines_before;   /* newlines in the file before window[0] */
	bool first_window;
	bool seen_data;
	bool binary;
	json_t *findings;
};

/* Bytes carried into the next window: the overlap plus the byte before. */
#define SECRETS_CARRY_BYTES (SECRETS_OVERLAP_BYTES + 1U)
#define SECRETS_BUFFER_BYTES (SECRETS_WINDOW_BYTES + SECRETS_CARRY_BYTES)

static void
secrets_stream_free(struct analyzer_stream *st)
{
	if (st == NULL)
		return;
	json_decref(st->findings);
	pc_free(st->lower);
	pc_free(st->window);
	pc_free(st->path);
	pc_free(st);
}

static struct analyzer_stream *
secrets_stream_open(const struct scan_file *f)
{
	struct analyzer_stream *st = pc_calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->path = pc_strdup(f->path);
	st->window = pc_malloc(SECRETS_BUFFER_BYTES);
	st->lower = pc_malloc(SECRETS_BUFFER_BYTES);
	st->findings = json_array();
	st->first_window = true;
	if (st->path == NULL || st->window == NULL || st->lower == NULL ||
	    st->findings == NULL) {
		secrets_stream_free(st);
		return NULL;
	}
	return st;
}

/*
 * Scans the window. Unless final, hits that start in the carried tail are
 * left for the next window, which contains them whole; a window after the
 * first starts reporting at offset 1 because offset 0 only provides the
 * byte before the first new position.
 */
static int
secrets_stream_scan(struct analyzer_stream *st, bool final)
{
	struct secret_text text = {st->window, st->lower, st->len, st->path};
	size_t begin = st->first_window ? 0 : 1;
	size_t end = final ? st->len : st->len - SECRETS_OVERLAP_BYTES;
	size_t keep;
	int err;

	lowercase_into(st->lower, st->window, st->len);
	err = secrets_scan_window(&text, begin, end, st->lines_before,
	    SECRETS_MAX_FINDINGS_PER_FILE, st->findings);
	if (err != PC_OK || final)
		return err;

	keep = SECRETS_CARRY_BYTES;
	st->lines_before += count_newlines(st->window, st->len - keep);
	memmove(st->window, st->window + st->len - keep, keep);
	st->len = keep;
	st->first_window = false;
	return PC_OK;
}

static int
secrets_stream_data(struct analyzer_stream *st, const unsigned char *data,
    size_t len)
{
	if (!st->seen_data && len > 0) {
		st->seen_data = true;
		st->binary = memchr(data, '\0', len) != NULL;
	}
	if (st->binary ||
	    json_array_size(st->findings) >= SECRETS_MAX_FINDINGS_PER_FILE)
		return PC_OK;

	while (len > 0) {
		size_t room = SECRETS_BUFFER_BYTES - st->len;
		size_t n = len < room ? len : room;
		int err;

		memcpy(st->window + st->len, data, n);
		st->len += n;
		data += n;
		len -= n;
		if (st->len < SECRETS_BUFFER_BYTES)
			break;
		err = secrets_stream_scan(st, false);
		if (err != PC_OK)
			return err;
	}
	return PC_OK;
}

static int
secrets_stream_close(struct analyzer_stream *st, bool complete,
    struct layer_result *res)
{
	int err = PC_OK;
	size_t i;
	json_t *finding;

	if (st == NULL)
		return PC_OK;
	/* A file cut by a failed layer is still scanned as far as it came. */
	if (!st->binary && st->len > 0)
		err = secrets_stream_scan(st, true);
	json_array_foreach(st->findings, i, finding) {
		if (err != PC_OK)
			break;
		err = layer_result_append(res, st->path, "secrets",
		    json_incref(finding));
	}
	secrets_stream_free(st);
	return err;
}

const struct analyzer analyzer_secrets = {
	.name = "secrets",
	.wants = secrets_wants,
	.analyze = NULL,
	.stream_open = secrets_stream_open,
	.stream_data = secrets_stream_data,
	.stream_close = secrets_stream_close,
};
