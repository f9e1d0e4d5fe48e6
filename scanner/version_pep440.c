/*
 * Python package versions, ordered as PEP 440 and pypa/packaging 23
 * (packaging.version.Version) order them:
 *
 *   [v][N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]
 *
 * Parsing accepts the spellings that PEP 440 normalises. Letters may be
 * in any case. "alpha", "beta", "c", "pre" and "preview" name pre-release
 * kinds, and "rev" and "r" mean post. Each part may start with "-", "_"
 * or ".", a missing number means 0, "-N" is a post-release, and numbers
 * may have leading zeros. Surrounding whitespace, which packaging
 * strips, is rejected here.
 *
 * Order: epoch, then the release with trailing zeros ignored, then
 * dev-only releases < pre-releases < the final release < post-releases,
 * then the dev number, then the local label. A local version sorts above
 * the same public version, and local segments compare numbers
 * numerically, above any string segment.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "scanner/version.h"
#include "scanner/version_schemes.h"

/* Release segments fit in VERSION_MAX_LEN bytes as "N.N.N...". */
#define PEP440_MAX_RELEASE (VERSION_MAX_LEN / 2 + 1)

enum pep440_pre {
	PEP440_PRE_NONE,
	PEP440_PRE_A,
	PEP440_PRE_B,
	PEP440_PRE_RC,
};

/* A digit run inside the parsed string. An empty run is the number 0. */
struct pep440_number {
	const char *digits;
	size_t len;
};

struct pep440_version {
	struct pep440_number epoch;
	struct pep440_number release[PEP440_MAX_RELEASE];
	size_t release_count;
	enum pep440_pre pre;
	struct pep440_number pre_number;
	bool has_post;
	struct pep440_number post_number;
	bool has_dev;
	struct pep440_number dev_number;
	const char *local;   /* after '+', or NULL when absent */
};

struct pep440_label {
	const char *spelling;
	int value;
};

/* In the order that the PEP 440 reference regular expression tries them. */
static const struct pep440_label pre_labels[] = {
	{"alpha", PEP440_PRE_A}, {"a", PEP440_PRE_A},
	{"beta", PEP440_PRE_B},  {"b", PEP440_PRE_B},
	{"preview", PEP440_PRE_RC}, {"pre", PEP440_PRE_RC},
	{"c", PEP440_PRE_RC},    {"rc", PEP440_PRE_RC},
	{NULL, 0},
};

static const struct pep440_label post_labels[] = {
	{"post", 1}, {"rev", 1}, {"r", 1}, {NULL, 0},
};

static const struct pep440_label dev_labels[] = {
	{"dev", 1}, {NULL, 0},
};

static bool
is_separator(int c)
{
	return c == '-' || c == '_' || c == '.';
}

static size_t
count_digits(const char *s)
{
	size_t n = 0;

	while (version_is_digit(s[n]))
		n++;
	return n;
}

/* Matches one label of table at s, ignoring case, and returns its length. */
static size_t
match_label(const char *s, const struct pep440_label *table, int *value)
{
	for (size_t i = 0; table[i].spelling != NULL; i++) {
		size_t n = strlen(table[i].spelling);

		if (strncasecmp(s, table[i].spelling, n) == 0) {
			*value = table[i].value;
			return n;
		}
	}
	return 0;
}

/*
 * Parses "[sep]label[sep][N]" at *pos. On a match it advances *pos and
 * stores the label's value and the number (empty when implicit).
 */
static bool
parse_labelled(const char *s, size_t *pos, const struct pep440_label *table,
    int *value, struct pep440_number *number)
{
	size_t p = *pos;
	size_t n;
	size_t digits;

	if (is_separator(s[p]))
		p++;
	n = match_label(s + p, table, value);
	if (n == 0)
		return false;
	p += n;
	if (is_separator(s[p]))
		p++;
	digits = count_digits(s + p);
	number->digits = s + p;
	number->len = digits;
	*pos = p + digits;
	return true;
}

static int
parse_release(const char *s, size_t *pos, struct pep440_version *out)
{
	size_t p = *pos;

	out->release_count = 0;
	for (;;) {
		size_t n = count_digits(s + p);

		if (n == 0 || out->release_count == PEP440_MAX_RELEASE)
			return PC_ERR_INVALID;
		out->release[out->release_count].digits = s + p;
		out->release[out->release_count].len = n;
		out->release_count++;
		p += n;
		if (s[p] != '.' || !version_is_digit(s[p + 1]))
			break;
		p++;
	}
	*pos = p;
	return PC_OK;
}

static void
parse_post(const char *s, size_t *pos, struct pep440_version *out)
{
	int ignored;

	out->has_post = false;
	if (s[*pos] == '-' && version_is_digit(s[*pos + 1])) {
		out->has_post = true;
		out->post_number.digits = s + *pos + 1;
		out->post_number.len = count_digits(s + *pos + 1);
		*pos += 1 + out->post_number.len;
		return;
	}
	out->has_post = parse_labelled(s, pos, post_labels, &ignored,
	    &out->post_number);
}

/* Checks "+seg([-_.]seg)*" with segments of ASCII letters and digits. */
static int
parse_local(const char *s, size_t *pos, struct pep440_version *out)
{
	size_t p = *pos;
	size_t segment = 0;

	out->local = NULL;
	if (s[p] != '+')
		return PC_OK;
	p++;
	out->local = s + p;
	for (;; p++) {
		if (version_is_alnum(s[p])) {
			segment++;
			continue;
		}
		if (segment == 0)
			return PC_ERR_INVALID;
		if (!is_separator(s[p]))
			break;
		segment = 0;
	}
	*pos = p;
	return PC_OK;
}

static int
pep440_parse(const char *s, struct pep440_version *out)
{
	size_t p = 0;
	size_t n;
	int kind = PEP440_PRE_NONE;
	int ignored;

	memset(out, 0, sizeof(*out));
	if (s[p] == 'v' || s[p] == 'V')
		p++;

	n = count_digits(s + p);
	if (n > 0 && s[p + n] == '!') {
		out->epoch.digits = s + p;
		out->epoch.len = n;
		p += n + 1;
	}
	if (parse_release(s, &p, out) != PC_OK)
		return PC_ERR_INVALID;
	if (parse_labelled(s, &p, pre_labels, &kind, &out->pre_number))
		out->pre = (enum pep440_pre)kind;
	parse_post(s, &p, out);
	out->has_dev = parse_labelled(s, &p, dev_labels, &ignored,
	    &out->dev_number);
	if (parse_local(s, &p, out) != PC_OK)
		return PC_ERR_INVALID;
	return s[p] == '\0' ? PC_OK : PC_ERR_INVALID;
}

static int
number_compare(const struct pep440_number *a, const struct pep440_number *b)
{
	return version_digits_compare(a->digits, a->len, b->digits, b->len);
}

/* Compares release segments, treating missing trailing ones as 0. */
static int
release_compare(const struct pep440_version *a, const struct pep440_version *b)
{
	size_t n = a->release_count > b->release_count ? a->release_count :
	    b->release_count;
	static const struct pep440_number zero = {"", 0};

	for (size_t i = 0; i < n; i++) {
		const struct pep440_number *x = i < a->release_count ?
		    &a->release[i] : &zero;
		const struct pep440_number *y = i < b->release_count ?
		    &b->release[i] : &zero;
		int diff = number_compare(x, y);

		if (diff != 0)
			return diff;
	}
	return 0;
}

/*
 * Ranks the pre-release part: a dev release without pre or post sorts
 * below every pre-release, and a version without pre-release above them.
 */
static int
pre_rank(const struct pep440_version *v)
{
	if (v->pre == PEP440_PRE_NONE && !v->has_post && v->has_dev)
		return 0;
	if (v->pre == PEP440_PRE_NONE)
		return 2;
	return 1;
}

static int
pre_compare(const struct pep440_version *a, const struct pep440_version *b)
{
	int ra = pre_rank(a);
	int rb = pre_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (ra != 1)
		return 0;
	if (a->pre != b->pre)
		return a->pre < b->pre ? -1 : 1;
	return number_compare(&a->pre_number, &b->pre_number);
}

/* A missing post sorts first and a missing dev sorts last. */
static int
post_dev_compare(const struct pep440_version *a,
    const struct pep440_version *b)
{
	int diff;

	if (a->has_post != b->has_post)
		return a->has_post ? 1 : -1;
	if (a->has_post) {
		diff = number_compare(&a->post_number, &b->post_number);
		if (diff != 0)
			return diff;
	}
	if (a->has_dev != b->has_dev)
		return a->has_dev ? -1 : 1;
	if (a->has_dev)
		return number_compare(&a->dev_number, &b->dev_number);
	return 0;
}

static size_t
local_segment_length(const char *s)
{
	size_t n = 0;

	while (version_is_alnum(s[n]))
		n++;
	return n;
}

static bool
all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!version_is_digit(s[i]))
			return false;
	}
	return true;
}

/* Compares two strings of len bytes ignoring ASCII case. */
static int
caseless_compare(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;

	for (size_t i = 0; i < n; i++) {
		int ca = version_to_lower((unsigned char)a[i]);
		int cb = version_to_lower((unsigned char)b[i]);

		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return 0;
}

/*
 * Compares local labels segment by segment: numbers numerically and
 * above strings, strings without regard to case, and a label that is a
 * prefix of the other first.
 */
static int
local_compare(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		if (a == b)
			return 0;
		return a == NULL ? -1 : 1;
	}
	for (;;) {
		size_t an = local_segment_length(a);
		size_t bn = local_segment_length(b);
		bool a_num = all_digits(a, an);
		bool b_num = all_digits(b, bn);
		int diff;

		if (an == 0 || bn == 0)
			return (an != 0) - (bn != 0);
		if (a_num && b_num)
			diff = version_digits_compare(a, an, b, bn);
		else if (a_num != b_num)
			diff = a_num ? 1 : -1;
		else
			diff = caseless_compare(a, an, b, bn);
		if (diff != 0)
			return diff;
		a += an;
		b += bn;
		if (*a != '\0')
			a++;
		if (*b != '\0')
			b++;
	}
}

int
version_pep440_validate(const char *v)
{
	struct pep440_version parsed;

	return pep440_parse(v, &parsed);
}

int
version_pep440_compare(const char *a, const char *b, int *result)
{
	struct pep440_version va;
	struct pep440_version vb;
	int diff;

	if (pep440_parse(a, &va) != PC_OK || pep440_parse(b, &vb) != PC_OK)
		return PC_ERR_INVALID;

	diff = number_compare(&va.epoch, &vb.epoch);
	if (diff == 0)
		diff = release_compare(&va, &vb);
	if (diff == 0)
		diff = pre_compare(&va, &vb);
	if (diff == 0)
		diff = post_dev_compare(&va, &vb);
	if (diff == 0)
		diff = local_compare(va.local, vb.local);
	*result = diff;
	return PC_OK;
}
