/*
 * Maven versions, ordered as ComparableVersion of maven-artifact 3.6 to
 * 3.8 orders them. Any string of printable ASCII without spaces is a
 * version. It is lower-cased and split into items:
 *
 *   - '.' ends an item, and an empty item is the number 0.
 *   - '-' ends an item and opens a sub-list for the rest of the string.
 *   - A change between digits and non-digits ends an item and also
 *     opens a sub-list.
 *
 * Items are numbers (any length) or qualifiers. Known qualifiers sort
 * alpha < beta < milestone < rc < snapshot < "" < sp, where "a", "b" and
 * "m" directly followed by a digit mean alpha, beta and milestone, "cr"
 * means rc, and "ga", "final" and "release" mean "". Unknown qualifiers
 * sort after sp in byte order. Trailing zeros and empty qualifiers of each
 * list are dropped, so 1.0 = 1 = 1-ga and 1.0-snapshot < 1.0.
 *
 * Comparing item by item: number > sub-list > qualifier. A missing item
 * compares as 0 with a number, as "" with a qualifier, and a sub-list
 * compares with a missing item by its first item.
 *
 * NOTE: this order is not transitive where a sub-list meets a qualifier:
 * 1.2.3-beta-2 < 1.2.3 < 1.2.3.sp1 < 1.2.3-beta-2, as in Maven itself.
 * Sorting such a mix gives an order that depends on the algorithm.
 *
 * NOTE: Maven 3.9 handles letter-digit combinations such as "x1" as one
 * item, so a few such versions order differently there.
 */
#include <stdbool.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/version.h"
#include "scanner/version_schemes.h"

/*
 * Every item ends at a separator or a digit transition, so there are at
 * most as many items as bytes, plus the sub-list item that each opens.
 */
#define MAVEN_MAX_ITEMS (2 * VERSION_MAX_LEN + 2)
#define MAVEN_MAX_LEVELS (VERSION_MAX_LEN + 2)

/* Qualifier ranks. MAVEN_QUALIFIER_RELEASE is the rank of "". */
enum maven_qualifier {
	MAVEN_QUALIFIER_ALPHA,
	MAVEN_QUALIFIER_BETA,
	MAVEN_QUALIFIER_MILESTONE,
	MAVEN_QUALIFIER_RC,
	MAVEN_QUALIFIER_SNAPSHOT,
	MAVEN_QUALIFIER_RELEASE,
	MAVEN_QUALIFIER_SP,
	MAVEN_QUALIFIER_UNKNOWN,
};

enum maven_kind {
	MAVEN_NUMBER,
	MAVEN_QUALIFIER,
	MAVEN_LIST,     /* the sub-list at the next level */
};

struct maven_item {
	enum maven_kind kind;
	const char *text;   /* number digits without leading zeros, or the
	                       qualifier text for MAVEN_QUALIFIER_UNKNOWN */
	size_t len;
	enum maven_qualifier qualifier;
};

/*
 * Each sub-list is the last item of its parent list, so the lists form a
 * chain: level k + 1 is the sub-list at the end of level k.
 */
struct maven_version {
	char lower[VERSION_MAX_LEN + 1];
	struct maven_item items[MAVEN_MAX_ITEMS];
	size_t level_start[MAVEN_MAX_LEVELS];
	size_t level_count[MAVEN_MAX_LEVELS];
	size_t levels;
	size_t used;    /* items taken from items[] */
};

struct maven_alias {
	const char *text;
	enum maven_qualifier qualifier;
};

static const struct maven_alias qualifier_names[] = {
	{"alpha", MAVEN_QUALIFIER_ALPHA},
	{"beta", MAVEN_QUALIFIER_BETA},
	{"milestone", MAVEN_QUALIFIER_MILESTONE},
	{"rc", MAVEN_QUALIFIER_RC},
	{"cr", MAVEN_QUALIFIER_RC},
	{"snapshot", MAVEN_QUALIFIER_SNAPSHOT},
	{"", MAVEN_QUALIFIER_RELEASE},
	{"ga", MAVEN_QUALIFIER_RELEASE},
	{"final", MAVEN_QUALIFIER_RELEASE},
	{"release", MAVEN_QUALIFIER_RELEASE},
	{"sp", MAVEN_QUALIFIER_SP},
};

static void
add_item(struct maven_version *v, struct maven_item item)
{
	size_t level = v->levels - 1;

	v->items[v->level_start[level] + v->level_count[level]] = item;
	v->level_count[level]++;
	v->used++;
}

/* Appends a sub-list item to the current list and makes it current. */
static void
open_list(struct maven_version *v)
{
	struct maven_item list = {MAVEN_LIST, NULL, 0, MAVEN_QUALIFIER_RELEASE};

	add_item(v, list);
	v->level_start[v->levels] = v->used;
	v->level_count[v->levels] = 0;
	v->levels++;
}

static struct maven_item
make_number(const char *s, size_t len)
{
	struct maven_item item = {MAVEN_NUMBER, s, len,
	    MAVEN_QUALIFIER_RELEASE};

	while (item.len > 0 && item.text[0] == '0') {
		item.text++;
		item.len--;
	}
	return item;
}

static struct maven_item
make_qualifier(const char *s, size_t len, bool followed_by_digit)
{
	struct maven_item item = {MAVEN_QUALIFIER, s, len,
	    MAVEN_QUALIFIER_UNKNOWN};

	if (followed_by_digit && len == 1) {
		if (s[0] == 'a')
			item.qualifier = MAVEN_QUALIFIER_ALPHA;
		else if (s[0] == 'b')
			item.qualifier = MAVEN_QUALIFIER_BETA;
		else if (s[0] == 'm')
			item.qualifier = MAVEN_QUALIFIER_MILESTONE;
		if (item.qualifier != MAVEN_QUALIFIER_UNKNOWN)
			return item;
	}
	for (size_t i = 0; i < sizeof(qualifier_names) /
	    sizeof(qualifier_names[0]); i++) {
		if (strlen(qualifier_names[i].text) == len &&
		    memcmp(qualifier_names[i].text, s, len) == 0) {
			item.qualifier = qualifier_names[i].qualifier;
			break;
		}
	}
	return item;
}

static struct maven_item
make_item(const char *s, size_t len, bool digits)
{
	return digits ? make_number(s, len) : make_qualifier(s, len, false);
}

static bool
item_is_null(const struct maven_version *v, size_t level,
    const struct maven_item *item)
{
	switch (item->kind) {
	case MAVEN_NUMBER:
		return item->len == 0;
	case MAVEN_QUALIFIER:
		return item->qualifier == MAVEN_QUALIFIER_RELEASE;
	default:
		return level + 1 < v->levels && v->level_count[level + 1] == 0;
	}
}

/*
 * Drops null items (0, "", empty sub-list) from the end of each list,
 * also those before a non-empty sub-list, innermost list first.
 */
static void
normalize(struct maven_version *v)
{
	for (size_t level = v->levels; level-- > 0;) {
		struct maven_item *items = v->items + v->level_start[level];

		for (size_t i = v->level_count[level]; i-- > 0;) {
			if (item_is_null(v, level, &items[i])) {
				memmove(&items[i], &items[i + 1],
				    (v->level_count[level] - i - 1) *
				    sizeof(items[0]));
				v->level_count[level]--;
			} else if (items[i].kind != MAVEN_LIST) {
				break;
			}
		}
	}
}

static int
maven_check(const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e)
			return PC_ERR_INVALID;
	}
	return PC_OK;
}

static int
maven_parse(const char *s, struct maven_version *v)
{
	size_t len = strlen(s);
	size_t start = 0;
	bool digits = false;
	const char *t = v->lower;

	if (maven_check(s) != PC_OK)
		return PC_ERR_INVALID;
	for (size_t i = 0; i <= len; i++)
		v->lower[i] = (char)version_to_lower(s[i]);
	v->levels = 1;
	v->level_start[0] = 0;
	v->level_count[0] = 0;
	v->used = 0;

	for (size_t i = 0; i < len; i++) {
		char c = t[i];

		if (c == '.' || c == '-') {
			if (i == start)
				add_item(v, make_number("", 0));
			else
				add_item(v, make_item(t + start, i - start,
				    digits));
			start = i + 1;
			if (c == '-')
				open_list(v);
		} else if (version_is_digit(c)) {
			if (!digits && i > start) {
				add_item(v, make_qualifier(t + start,
				    i - start, true));
				start = i;
				open_list(v);
			}
			digits = true;
		} else {
			if (digits && i > start) {
				add_item(v, make_number(t + start, i - start));
				start = i;
				open_list(v);
			}
			digits = false;
		}
	}
	if (len > start)
		add_item(v, make_item(t + start, len - start, digits));
	normalize(v);
	return PC_OK;
}

static int
rank_compare(int a, int b)
{
	return (a > b) - (a < b);
}

static int
qualifier_compare(const struct maven_item *a, const struct maven_item *b)
{
	if (a->qualifier != b->qualifier)
		return rank_compare(a->qualifier, b->qualifier);
	if (a->qualifier != MAVEN_QUALIFIER_UNKNOWN)
		return 0;
	return version_bytes_compare(a->text, a->len, b->text, b->len);
}

static int list_compare(const struct maven_version *a, size_t alevel,
    const struct maven_version *b, size_t blevel);
static int item_compare_missing(const struct maven_version *v, size_t level,
    const struct maven_item *item);

/* Compares item a (of list level alevel) with item b (of blevel). */
static int
item_compare(const struct maven_version *a, size_t alevel,
    const struct maven_item *ia, const struct maven_version *b,
    size_t blevel, const struct maven_item *ib)
{
	if (ia->kind != ib->kind) {
		/* number > sub-list > qualifier */
		static const int weight[] = {
			[MAVEN_NUMBER] = 2, [MAVEN_LIST] = 1,
			[MAVEN_QUALIFIER] = 0,
		};

		return rank_compare(weight[ia->kind], weight[ib->kind]);
	}
	switch (ia->kind) {
	case MAVEN_NUMBER:
		return version_digits_compare(ia->text, ia->len, ib->text,
		    ib->len);
	case MAVEN_QUALIFIER:
		return qualifier_compare(ia, ib);
	default:
		return list_compare(a, alevel + 1, b, blevel + 1);
	}
}

/* Compares item with a missing item in the other version. */
static int
item_compare_missing(const struct maven_version *v, size_t level,
    const struct maven_item *item)
{
	switch (item->kind) {
	case MAVEN_NUMBER:
		return item->len == 0 ? 0 : 1;
	case MAVEN_QUALIFIER:
		return rank_compare(item->qualifier, MAVEN_QUALIFIER_RELEASE);
	default:
		if (v->level_count[level + 1] == 0)
			return 0;
		return item_compare_missing(v, level + 1,
		    &v->items[v->level_start[level + 1]]);
	}
}

static int
list_compare(const struct maven_version *a, size_t alevel,
    const struct maven_version *b, size_t blevel)
{
	size_t na = a->level_count[alevel];
	size_t nb = b->level_count[blevel];

	for (size_t i = 0; i < na || i < nb; i++) {
		const struct maven_item *ia = i < na ?
		    &a->items[a->level_start[alevel] + i] : NULL;
		const struct maven_item *ib = i < nb ?
		    &b->items[b->level_start[blevel] + i] : NULL;
		int diff;

		if (ib == NULL)
			diff = item_compare_missing(a, alevel, ia);
		else if (ia == NULL)
			diff = -item_compare_missing(b, blevel, ib);
		else
			diff = item_compare(a, alevel, ia, b, blevel, ib);
		if (diff != 0)
			return diff;
	}
	return 0;
}

int
version_maven_validate(const char *v)
{
	return maven_check(v);
}

int
version_maven_compare(const char *a, const char *b, int *result)
{
	/* About 20 KiB each, so they live on the heap rather than the stack. */
	struct maven_version *va = pc_malloc(sizeof(*va));
	struct maven_version *vb = pc_malloc(sizeof(*vb));
	int err = PC_OK;

	if (va == NULL || vb == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	if (maven_parse(a, va) != PC_OK || maven_parse(b, vb) != PC_OK) {
		err = PC_ERR_INVALID;
		goto out;
	}
	*result = list_compare(va, 0, vb, 0);
out:
	pc_free(va);
	pc_free(vb);
	return err;
}
