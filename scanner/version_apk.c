/*
 * Alpine package versions, ordered as apk-tools 3 orders them:
 *
 *   digits{.digits}[letter]{_suffix[digits]}[~hash][-rdigits]
 *
 * The letter is one lower-case letter, a suffix is one of alpha, beta,
 * pre, rc (which sort before the bare version) or cvs, svn, git, hg, p
 * (which sort after it), and the hash is a run of hex digits. The string
 * is read as a sequence of tokens of increasing kind, and two versions
 * are compared token by token.
 *
 * Numbers compare numerically with no size limit, except a digit group
 * after the first that starts with '0' on either side: the two groups
 * then compare as strings, so 1.01 < 1.1 and 1.0 < 1.00. apk-tools keeps
 * numbers in 64 bits, so groups beyond that range may order differently
 * there.
 *
 * Invalid strings: version_apk_validate() rejects them, but, as in
 * apk-tools, version_apk_compare() still orders them. Tokens are compared
 * up to the first one that does not fit the grammar. That token ranks
 * below every valid continuation, the end included, but above a
 * pre-release suffix. So "1.0@" < "1.0" < "1.0.1" and "1.0@" equals "1.0#".
 */
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "scanner/version_schemes.h"

/* Token kinds in the order in which they may follow each other. */
enum apk_token_kind {
	APK_TOKEN_INITIAL_DIGIT,
	APK_TOKEN_DIGIT,
	APK_TOKEN_LETTER,
	APK_TOKEN_SUFFIX,
	APK_TOKEN_SUFFIX_NUMBER,
	APK_TOKEN_HASH,
	APK_TOKEN_REVISION,
	APK_TOKEN_END,
	APK_TOKEN_INVALID,
};

/* Suffix ranks: below APK_SUFFIX_NONE means a pre-release. */
enum apk_suffix {
	APK_SUFFIX_ALPHA = 1,
	APK_SUFFIX_BETA,
	APK_SUFFIX_PRE,
	APK_SUFFIX_RC,
	APK_SUFFIX_NONE,
	APK_SUFFIX_CVS,
	APK_SUFFIX_SVN,
	APK_SUFFIX_GIT,
	APK_SUFFIX_HG,
	APK_SUFFIX_P,
};

static const char *const suffix_names[] = {
	[APK_SUFFIX_ALPHA] = "alpha", [APK_SUFFIX_BETA] = "beta",
	[APK_SUFFIX_PRE] = "pre",     [APK_SUFFIX_RC] = "rc",
	[APK_SUFFIX_CVS] = "cvs",     [APK_SUFFIX_SVN] = "svn",
	[APK_SUFFIX_GIT] = "git",     [APK_SUFFIX_HG] = "hg",
	[APK_SUFFIX_P] = "p",
};

struct apk_token {
	enum apk_token_kind kind;
	const char *value;   /* the digits, letter, suffix name or hash */
	size_t len;
	int suffix;          /* enum apk_suffix for APK_TOKEN_SUFFIX */
};

/* A position in a version string while it is being read. */
struct apk_reader {
	const char *s;
	size_t pos;
	size_t len;
};

static int
is_hex(int c)
{
	return version_is_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static int
suffix_rank(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(suffix_names) / sizeof(suffix_names[0]);
	    i++) {
		if (suffix_names[i] != NULL && strlen(suffix_names[i]) == len &&
		    memcmp(suffix_names[i], name, len) == 0)
			return (int)i;
	}
	return 0;
}

/* Reads a run of characters accepted by is_class into t->value. */
static void
read_run(struct apk_reader *r, struct apk_token *t, int (*is_class)(int))
{
	t->value = r->s + r->pos;
	t->len = 0;
	while (r->pos < r->len && is_class(r->s[r->pos])) {
		r->pos++;
		t->len++;
	}
}

static int
is_digit_class(int c)
{
	return version_is_digit(c);
}

static int
is_lower_class(int c)
{
	return version_is_lower(c);
}

static void
read_digits(struct apk_reader *r, struct apk_token *t,
    enum apk_token_kind kind)
{
	read_run(r, t, is_digit_class);
	t->kind = t->len > 0 ? kind : APK_TOKEN_INVALID;
}

static void
token_first(struct apk_reader *r, struct apk_token *t)
{
	read_digits(r, t, APK_TOKEN_INITIAL_DIGIT);
}

/*
 * Reads the token after t into t. Each kind may only follow the kinds
 * before it in enum apk_token_kind, with the exceptions that digits and
 * suffixes may repeat.
 */
static void
token_next(struct apk_reader *r, struct apk_token *t)
{
	enum apk_token_kind prev = t->kind;
	int c;

	if (r->pos >= r->len) {
		t->kind = APK_TOKEN_END;
		return;
	}
	c = r->s[r->pos];
	t->kind = APK_TOKEN_INVALID;

	if (version_is_lower(c)) {
		if (prev > APK_TOKEN_DIGIT)
			return;
		t->value = r->s + r->pos;
		t->len = 1;
		r->pos++;
		t->kind = APK_TOKEN_LETTER;
	} else if (c == '.') {
		if (prev > APK_TOKEN_DIGIT)
			return;
		r->pos++;
		read_digits(r, t, APK_TOKEN_DIGIT);
	} else if (version_is_digit(c)) {
		/* Only a suffix takes digits without a separator. */
		if (prev != APK_TOKEN_SUFFIX)
			return;
		read_digits(r, t, APK_TOKEN_SUFFIX_NUMBER);
	} else if (c == '_') {
		if (prev > APK_TOKEN_SUFFIX_NUMBER)
			return;
		r->pos++;
		read_run(r, t, is_lower_class);
		t->suffix = suffix_rank(t->value, t->len);
		if (t->suffix != 0)
			t->kind = APK_TOKEN_SUFFIX;
	} else if (c == '~') {
		if (prev >= APK_TOKEN_HASH)
			return;
		r->pos++;
		read_run(r, t, is_hex);
		if (t->len > 0)
			t->kind = APK_TOKEN_HASH;
	} else if (c == '-') {
		if (prev >= APK_TOKEN_REVISION || r->pos + 1 >= r->len ||
		    r->s[r->pos + 1] != 'r')
			return;
		r->pos += 2;
		read_digits(r, t, APK_TOKEN_REVISION);
	}
}

/* Compares the values of two tokens of the same kind. */
static int
token_compare(const struct apk_token *a, const struct apk_token *b)
{
	switch (a->kind) {
	case APK_TOKEN_DIGIT:
		if (a->value[0] == '0' || b->value[0] == '0')
			return version_bytes_compare(a->value, a->len, b->value,
			    b->len);
		return version_digits_compare(a->value, a->len, b->value,
		    b->len);
	case APK_TOKEN_INITIAL_DIGIT:
	case APK_TOKEN_SUFFIX_NUMBER:
	case APK_TOKEN_REVISION:
		return version_digits_compare(a->value, a->len, b->value,
		    b->len);
	case APK_TOKEN_SUFFIX:
		return (a->suffix > b->suffix) - (a->suffix < b->suffix);
	default:
		return version_bytes_compare(a->value, a->len, b->value,
		    b->len);
	}
}

static void
reader_init(struct apk_reader *r, const char *s)
{
	r->s = s;
	r->pos = 0;
	r->len = strlen(s);
}

int
version_apk_validate(const char *v)
{
	struct apk_reader r;
	struct apk_token t;

	reader_init(&r, v);
	for (token_first(&r, &t); t.kind < APK_TOKEN_END; token_next(&r, &t))
		;
	return t.kind == APK_TOKEN_END ? PC_OK : PC_ERR_INVALID;
}

int
version_apk_compare(const char *a, const char *b, int *result)
{
	struct apk_reader ra;
	struct apk_reader rb;
	struct apk_token ta;
	struct apk_token tb;

	reader_init(&ra, a);
	reader_init(&rb, b);
	token_first(&ra, &ta);
	token_first(&rb, &tb);
	while (ta.kind == tb.kind && ta.kind < APK_TOKEN_END) {
		int diff = token_compare(&ta, &tb);

		if (diff != 0) {
			*result = diff;
			return PC_OK;
		}
		token_next(&ra, &ta);
		token_next(&rb, &tb);
	}

	/*
	 * Equal so far. The longer version is greater, unless what it has
	 * next is a pre-release suffix. A later token kind, and so the end
	 * and an invalid token, makes a version smaller.
	 */
	if (ta.kind == tb.kind)
		*result = 0;
	else if (ta.kind == APK_TOKEN_SUFFIX && ta.suffix < APK_SUFFIX_NONE)
		*result = -1;
	else if (tb.kind == APK_TOKEN_SUFFIX && tb.suffix < APK_SUFFIX_NONE)
		*result = 1;
	else
		*result = ta.kind > tb.kind ? -1 : 1;
	return PC_OK;
}
