#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/match.h"
#include "scanner/osv.h"
#include "scanner/vulndb.h"

struct ecosystem_scheme {
	const char *name;
	enum version_scheme scheme;
};

static const struct ecosystem_scheme ecosystem_schemes[] = {
	{"Debian", VERSION_DEB},
	{"Ubuntu", VERSION_DEB},
	{"Alpine", VERSION_APK},
	{"Red Hat", VERSION_RPM},
	{"Rocky Linux", VERSION_RPM},
	{"AlmaLinux", VERSION_RPM},
	{"Fedora", VERSION_RPM},
	{"SUSE", VERSION_RPM},
	{"openSUSE", VERSION_RPM},
	{"npm", VERSION_SEMVER},
	{"crates.io", VERSION_SEMVER},
	{"Go", VERSION_GO},
	{"PyPI", VERSION_PEP440},
	{"Maven", VERSION_MAVEN},
};

int
match_scheme(const char *ecosystem, enum version_scheme *scheme)
{
	size_t len = strcspn(ecosystem, ":");

	for (size_t i = 0;
	    i < sizeof(ecosystem_schemes) / sizeof(ecosystem_schemes[0]); i++) {
		if (strlen(ecosystem_schemes[i].name) == len &&
		    strncmp(ecosystem, ecosystem_schemes[i].name, len) == 0) {
			*scheme = ecosystem_schemes[i].scheme;
			return PC_OK;
		}
	}
	return PC_ERR_UNSUPPORTED;
}

/* True for "1" or "1.2" (optionally with a leading "v"). */
static bool
is_short_semver(const char *v)
{
	int dots = 0;

	if (*v == 'v')
		v++;
	if (!isdigit((unsigned char)*v))
		return false;
	for (; *v != '\0'; v++) {
		if (*v == '.') {
			if (++dots > 1 || !isdigit((unsigned char)v[1]))
				return false;
		} else if (!isdigit((unsigned char)*v)) {
			return false;
		}
	}
	return dots < 2;
}

/*
 * Rewrites v into out (VERSION_MAX_LEN + 8 bytes) where the scheme needs it:
 * Go versions get their mandatory "v", short SemVer versions their missing
 * ".0" parts. Returns the string to compare.
 */
static const char *
normalize_version(enum version_scheme scheme, const char *v, char *out,
    size_t outlen)
{
	if (scheme == VERSION_GO && v[0] != 'v') {
		snprintf(out, outlen, "v%s", v);
		return out;
	}
	if (scheme == VERSION_SEMVER && is_short_semver(v)) {
		snprintf(out, outlen, "%s%s", v,
		    strchr(v, '.') != NULL ? ".0" : ".0.0");
		return out;
	}
	return v;
}

#define NORM_LEN (VERSION_MAX_LEN + 8)

static int
compare_versions(enum version_scheme scheme, const char *a, const char *b,
    int *result)
{
	char abuf[NORM_LEN], bbuf[NORM_LEN];

	a = normalize_version(scheme, a, abuf, sizeof(abuf));
	b = normalize_version(scheme, b, bbuf, sizeof(bbuf));
	return version_compare(scheme, a, b, result);
}

/*
 * Compares the installed version v with an event version. memo (NULL or
 * an object from event version to result) keeps the results for one
 * installed version, because advisories of one package repeat the same
 * bounds ("introduced": "3.2" in many Django records) and parsing
 * dominates the cost.
 */
static int
compare_event(enum version_scheme scheme, const char *v, const char *event,
    json_t *memo, int *result)
{
	json_t *known = json_object_get(memo, event);
	int err;

	if (known != NULL) {
		*result = (int)json_integer_value(known);
		return PC_OK;
	}
	err = compare_versions(scheme, v, event, result);
	/* Out of memory here only loses the shortcut. */
	if (err == PC_OK && memo != NULL)
		json_object_set_new(memo, event, json_integer(*result));
	return err;
}

static int
validate_version(enum version_scheme scheme, const char *v)
{
	char buf[NORM_LEN];

	return version_validate(scheme, normalize_version(scheme, v, buf,
	    sizeof(buf)));
}

enum event_kind {
	EVENT_INTRODUCED,
	EVENT_FIXED,
	EVENT_LAST_AFFECTED,
	EVENT_LIMIT,
};

struct event {
	enum event_kind kind;
	const char *version;
	bool zero; /* introduced "0": before every version */
	bool star; /* limit "*": after every version */
};

/* OSV event names, indexed by enum event_kind. */
static const char *const event_names[] = {
	"introduced", "fixed", "last_affected", "limit",
};

static const char *
event_name(enum event_kind kind)
{
	return event_names[kind];
}

/* Reads an event object; osv_parse checked it has exactly one member. */
static bool
event_read(const json_t *obj, struct event *ev)
{
	const char *const *names = event_names;
	void *it = json_object_iter((json_t *)obj);
	const char *key;
	json_t *value;

	if (it == NULL)
		return false;
	key = json_object_iter_key(it);
	value = json_object_iter_value(it);
	for (size_t k = 0; k < sizeof(event_names) / sizeof(event_names[0]);
	    k++) {
		if (strcmp(key, names[k]) != 0 || !json_is_string(value))
			continue;
		ev->kind = (enum event_kind)k;
		ev->version = json_string_value(value);
		ev->zero = ev->kind == EVENT_INTRODUCED &&
		    strcmp(ev->version, "0") == 0;
		ev->star = ev->kind == EVENT_LIMIT && strcmp(ev->version, "*") == 0;
		return true;
	}
	return false;
}

/* Returns -1 for introduced "0", 1 for limit "*", else 0. */
static int
event_rank(const struct event *ev)
{
	if (ev->zero)
		return -1;
	if (ev->star)
		return 1;
	return 0;
}

/* Orders two events by version, with "0" first and "*" last. */
static int
event_order(enum version_scheme scheme, const struct event *a,
    const struct event *b, int *cmp)
{
	int rank_a = event_rank(a), rank_b = event_rank(b);

	if (rank_a != 0 || rank_b != 0) {
		*cmp = rank_a - rank_b;
		return PC_OK;
	}
	return compare_versions(scheme, a->version, b->version, cmp);
}

/* Names the event version that does not parse, of the two compared. */
static const char *
bad_of(enum version_scheme scheme, const struct event *a,
    const struct event *b)
{
	return validate_version(scheme, a->version) != PC_OK ? a->version :
	    b->version;
}

/*
 * Stable insertion sort by version; events are usually in order already,
 * which costs one comparison per event. On an event version that does not
 * parse, stores it in *bad and returns PC_ERR_INVALID.
 */
static int
events_sort(enum version_scheme scheme, struct event *evs, size_t n,
    const char **bad)
{
	for (size_t i = 1; i < n; i++) {
		struct event cur = evs[i];
		size_t j = i;

		while (j > 0) {
			int cmp;

			if (event_order(scheme, &cur, &evs[j - 1], &cmp) != PC_OK) {
				*bad = bad_of(scheme, &cur, &evs[j - 1]);
				return PC_ERR_INVALID;
			}
			if (cmp >= 0)
				break;
			evs[j] = evs[j - 1];
			j--;
		}
		evs[j] = cur;
	}
	return PC_OK;
}

static size_t
events_load(const json_t *events, struct event *evs, size_t max)
{
	size_t n = 0, i;
	json_t *obj;

	json_array_foreach(events, i, obj) {
		if (n < max && event_read(obj, &evs[n]))
			n++;
	}
	return n;
}

/*
 * Walks the sorted events of one range for version v. Stores whether v is
 * inside and the lowest fixed event above v. The walk stops at the first
 * event above v, because every later event is above v as well: only their
 * limits and their first fixed event still count. Returns PC_ERR_INVALID
 * with *bad set when an event version does not parse.
 */
static int
range_walk(enum version_scheme scheme, const struct event *evs, size_t n,
    const char *v, json_t *memo, bool *inside, const char **fixed,
    const char **bad)
{
	bool affected = false, limited = false, below_limit = false;
	size_t i;
	int cmp = 0;

	*fixed = NULL;
	for (i = 0; i < n; i++) {
		const struct event *ev = &evs[i];

		if (ev->zero) {
			affected = true;
			continue;
		}
		if (ev->star)
			break;
		if (compare_event(scheme, v, ev->version, memo, &cmp) != PC_OK) {
			*bad = ev->version;
			return PC_ERR_INVALID;
		}
		if (cmp < 0)
			break;
		if (ev->kind == EVENT_INTRODUCED)
			affected = true;
		else if (ev->kind == EVENT_FIXED)
			affected = false;
		else if (ev->kind == EVENT_LAST_AFFECTED && cmp > 0)
			affected = false;
		else if (ev->kind == EVENT_LIMIT)
			limited = true;
	}
	for (; i < n; i++) {
		if (evs[i].kind == EVENT_LIMIT)
			limited = below_limit = true;
		else if (evs[i].kind == EVENT_FIXED && *fixed == NULL)
			*fixed = evs[i].version;
	}
	*inside = affected && (!limited || below_limit);
	if (!*inside)
		*fixed = NULL;
	return PC_OK;
}

/* Ranges with more events than this get their event array from the heap. */
#define EVENTS_ON_STACK 16

/*
 * Evaluates one range. A SEMVER range switches a non-Go scheme to semver,
 * and then v must parse as SemVer too (PC_ERR_INVALID if not).
 */
static int
range_check(const json_t *range, enum version_scheme scheme, const char *v,
    json_t *memo, struct match_check *check)
{
	const json_t *events = json_object_get(range, "events");
	const char *type = json_string_value(json_object_get(range, "type"));
	struct event stack[EVENTS_ON_STACK], *evs = stack;
	const char *bad = NULL, *fixed;
	bool inside = false;
	size_t n, cap = json_array_size(events);
	int cmp, err;

	if (type != NULL && strcmp(type, "SEMVER") == 0 &&
	    scheme != VERSION_GO && scheme != VERSION_SEMVER) {
		scheme = VERSION_SEMVER;
		memo = NULL; /* its results are for the other scheme */
		if (validate_version(scheme, v) != PC_OK)
			return PC_ERR_INVALID;
	}
	if (cap > OSV_MAX_EVENTS)
		cap = OSV_MAX_EVENTS;
	if (cap > EVENTS_ON_STACK) {
		evs = pc_calloc(cap, sizeof(*evs));
		if (evs == NULL)
			return PC_ERR_NOMEM;
	}
	n = events_load(events, evs, cap);
	err = json_is_true(json_object_get(range, "sorted")) ? PC_OK :
	    events_sort(scheme, evs, n, &bad);
	if (err == PC_OK)
		err = range_walk(scheme, evs, n, v, memo, &inside, &fixed, &bad);
	if (evs != stack)
		pc_free(evs);
	if (err != PC_OK) {
		/* The range is skipped; the caller reports the event version. */
		if (check->bad_event == NULL)
			check->bad_event = bad;
		return PC_OK;
	}
	if (!inside)
		return PC_OK;
	check->affected = true;
	if (fixed != NULL && (check->fixed == NULL ||
	    (compare_versions(scheme, fixed, check->fixed, &cmp) == PC_OK &&
	    cmp < 0)))
		check->fixed = fixed;
	return PC_OK;
}

int
match_range_sort(json_t *range, enum version_scheme scheme)
{
	json_t *events = json_object_get(range, "events"), *sorted;
	const char *type = json_string_value(json_object_get(range, "type"));
	struct event *evs;
	const char *bad;
	size_t n, cap = json_array_size(events);
	int err;

	if (type != NULL && strcmp(type, "SEMVER") == 0 && scheme != VERSION_GO)
		scheme = VERSION_SEMVER;
	if (cap == 0 || cap > OSV_MAX_EVENTS)
		return PC_ERR_INVALID;
	evs = pc_calloc(cap, sizeof(*evs));
	sorted = json_array();
	if (evs == NULL || sorted == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	n = events_load(events, evs, cap);
	err = n == cap ? events_sort(scheme, evs, n, &bad) : PC_ERR_INVALID;
	/* Every event must parse, so that the walk never meets a bad one. */
	for (size_t i = 0; i < n && err == PC_OK; i++) {
		if (!evs[i].zero && !evs[i].star &&
		    validate_version(scheme, evs[i].version) != PC_OK)
			err = PC_ERR_INVALID;
	}
	for (size_t i = 0; i < n && err == PC_OK; i++) {
		if (json_array_append_new(sorted, json_pack("{ss}",
		    event_name(evs[i].kind), evs[i].version)) != 0)
			err = PC_ERR_NOMEM;
	}
	if (err == PC_OK && (json_object_set(range, "events", sorted) != 0 ||
	    json_object_set_new(range, "sorted", json_true()) != 0))
		err = PC_ERR_NOMEM;
out:
	json_decref(sorted);
	pc_free(evs);
	return err;
}

/* True when v is in the versions list, by string or as an equal version. */
static bool
versions_contain(const json_t *versions, enum version_scheme scheme,
    const char *v)
{
	json_t *item;
	size_t i;
	int cmp;

	json_array_foreach(versions, i, item) {
		const char *s = json_string_value(item);

		if (s == NULL)
			continue;
		if (strcmp(s, v) == 0 ||
		    (compare_versions(scheme, s, v, &cmp) == PC_OK && cmp == 0))
			return true;
	}
	return false;
}

/* match_affected for a version already validated under scheme. */
static int
affected_eval(const json_t *affected, enum version_scheme scheme,
    const char *version, json_t *memo, struct match_check *check)
{
	const json_t *range;
	size_t i;
	int err;

	memset(check, 0, sizeof(*check));
	json_array_foreach(json_object_get(affected, "ranges"), i, range) {
		err = range_check(range, scheme, version, memo, check);
		if (err == PC_ERR_NOMEM)
			return err;
		/* A SEMVER range under another scheme can reject version. */
		if (err == PC_ERR_INVALID && check->bad_event == NULL)
			check->bad_event = version;
	}
	if (!check->affected &&
	    versions_contain(json_object_get(affected, "versions"), scheme,
	    version))
		check->affected = true;
	return PC_OK;
}

int
match_affected(const json_t *affected, enum version_scheme scheme,
    const char *version, struct match_check *check)
{
	int err;

	memset(check, 0, sizeof(*check));
	err = validate_version(scheme, version);
	if (err != PC_OK)
		return err == PC_ERR_UNSUPPORTED ? err : PC_ERR_INVALID;
	return affected_eval(affected, scheme, version, NULL, check);
}

/* State of one match_packages call. */
struct matcher {
	struct vulndb *db;
	json_t *findings;
	json_t *errors;
	size_t dropped_errors;
	char os_ecosystem[OSV_MAX_ID_BYTES + 1];
};

/* One matched advisory of the current package. */
struct hit {
	const json_t *entry;     /* the vulndb ENTRY */
	const json_t *severity;  /* object with the severity fields to use */
	const char *fixed;       /* NULL when the advisory has no fix */
	size_t group;            /* union-find parent, an index into hits */
};

/* The current package, with the name and version it is looked up by. */
struct package {
	const json_t *obj;
	const char *type;
	const char *name;
	const char *version;
	const char *ecosystem;
	const char *lookup_name;
	const char *lookup_version;
	enum version_scheme scheme;
	char version_buf[NORM_LEN];
	struct hit *hits;
	size_t nhits;
	size_t cap;
	json_t *memo; /* event version -> comparison with lookup_version */
};

static void
add_error(struct matcher *m, const json_t *pkg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
add_error(struct matcher *m, const json_t *pkg, const char *fmt, ...)
{
	char message[512];
	json_t *err, *layer = json_object_get(pkg, "layer");
	va_list ap;

	if (json_array_size(m->errors) >= MATCH_MAX_ERRORS) {
		m->dropped_errors++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	err = json_pack("{ssss}", "kind", "match_error", "message", message);
	if (err != NULL && json_is_string(layer))
		json_object_set(err, "layer", layer);
	/* Errors are best effort: out of memory here only loses the note. */
	json_array_append_new(m->errors, err);
}

/*
 * Derives the OSV ecosystem of the image OS: its "ecosystem" when set,
 * else "Debian:MAJOR", "Alpine:vMAJOR.MINOR" or "Ubuntu:VERSION" from
 * family and version. Stores an empty string when the OS is unknown.
 */
static void
os_ecosystem(const json_t *os, char *out, size_t outlen)
{
	const char *eco = json_string_value(json_object_get(os, "ecosystem"));
	const char *family = json_string_value(json_object_get(os, "family"));
	const char *version = json_string_value(json_object_get(os, "version"));
	int major_len, minor_len;

	out[0] = '\0';
	if (eco != NULL && eco[0] != '\0') {
		snprintf(out, outlen, "%s", eco);
		return;
	}
	if (family == NULL || version == NULL)
		return;
	major_len = (int)strcspn(version, ".");
	minor_len = version[major_len] == '.' ?
	    major_len + 1 + (int)strcspn(version + major_len + 1, ".") : major_len;
	if (strcmp(family, "debian") == 0)
		snprintf(out, outlen, "Debian:%.*s", major_len, version);
	else if (strcmp(family, "alpine") == 0)
		snprintf(out, outlen, "Alpine:v%.*s", minor_len, version);
	else if (strcmp(family, "ubuntu") == 0)
		/* NOTE: OSV names LTS releases "Ubuntu:22.04:LTS", which this
		 * derivation misses; an OS "ecosystem" set by the OS analyzer
		 * takes precedence. */
		snprintf(out, outlen, "Ubuntu:%s", version);
}

/*
 * Reads a Go toolchain version ("go1.22.3", "go1.22", "go1.22rc1") as the
 * SemVer the Go vulnerability database uses ("1.22.3", "1.22.0",
 * "1.22.0-rc.1"). Other strings are copied unchanged.
 */
static const char *
go_toolchain_version(const char *v, char *out, size_t outlen)
{
	const char *p, *pre;
	int dots = 0;
	size_t core_len;

	if (strncmp(v, "go", 2) != 0 || !isdigit((unsigned char)v[2]))
		return v;
	p = v + 2;
	core_len = strspn(p, "0123456789.");
	for (size_t i = 0; i < core_len; i++)
		dots += p[i] == '.';
	pre = p + core_len;
	snprintf(out, outlen, "%.*s%s", (int)core_len, p, dots < 2 ? ".0" : "");
	if (strncmp(pre, "rc", 2) == 0 || strncmp(pre, "beta", 4) == 0) {
		size_t used = strlen(out);
		size_t word = pre[0] == 'r' ? 2 : 4;

		snprintf(out + used, outlen - used, "-%.*s.%s", (int)word, pre,
		    pre + word);
	} else if (*pre != '\0') {
		return v;
	}
	return out;
}

static const char *
language_ecosystem(const char *type)
{
	static const char *const map[][2] = {
		{"pypi", "PyPI"}, {"npm", "npm"}, {"go", "Go"}, {"maven", "Maven"},
		{"cargo", "crates.io"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(type, map[i][0]) == 0)
			return map[i][1];
	}
	return NULL;
}

static bool
is_distro_type(const char *type)
{
	return strcmp(type, "deb") == 0 || strcmp(type, "apk") == 0 ||
	    strcmp(type, "rpm") == 0;
}

/* Fills the package fields; false (with an error added) when unusable. */
static bool
package_read(struct matcher *m, const json_t *obj, size_t index,
    struct package *p)
{
	const char *src_name, *src_version;

	p->obj = obj;
	p->type = json_string_value(json_object_get(obj, "type"));
	p->name = json_string_value(json_object_get(obj, "name"));
	p->version = json_string_value(json_object_get(obj, "version"));
	if (p->type == NULL || p->name == NULL || p->name[0] == '\0' ||
	    p->version == NULL || p->version[0] == '\0') {
		add_error(m, obj, "package %zu has no type, name or version", index);
		return false;
	}
	p->ecosystem = json_string_value(json_object_get(obj, "ecosystem"));
	p->lookup_name = p->name;
	p->lookup_version = p->version;
	if (is_distro_type(p->type)) {
		src_name = json_string_value(json_object_get(obj, "source_name"));
		src_version = json_string_value(
		    json_object_get(obj, "source_version"));
		if (src_name != NULL && src_name[0] != '\0')
			p->lookup_name = src_name;
		if (src_version != NULL && src_version[0] != '\0')
			p->lookup_version = src_version;
		if (p->ecosystem == NULL && m->os_ecosystem[0] != '\0')
			p->ecosystem = m->os_ecosystem;
	} else if (p->ecosystem == NULL) {
		p->ecosystem = language_ecosystem(p->type);
	}
	if (p->ecosystem == NULL) {
		add_error(m, obj, "package %s %s: no ecosystem (unknown OS or type "
		    "\"%s\")", p->name, p->version, p->type);
		return false;
	}
	if (strcmp(p->ecosystem, "Go") == 0 && (strcmp(p->name, "stdlib") == 0 ||
	    strcmp(p->name, "toolchain") == 0))
		p->lookup_version = go_toolchain_version(p->version, p->version_buf,
		    sizeof(p->version_buf));
	return true;
}

static int
hits_add(struct package *p, const json_t *entry, const json_t *severity,
    const char *fixed)
{
	struct hit *grown;

	for (size_t i = 0; i < p->nhits; i++) {
		if (p->hits[i].entry == entry)
			return PC_OK;
	}
	if (p->nhits == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		grown = pc_reallocarray(p->hits, p->cap, sizeof(*grown));
		if (grown == NULL)
			return PC_ERR_NOMEM;
		p->hits = grown;
	}
	p->hits[p->nhits] = (struct hit){
		.entry = entry, .severity = severity, .fixed = fixed,
		.group = p->nhits,
	};
	p->nhits++;
	return PC_OK;
}

/* Evaluates every affected entry of one advisory for the package. */
static int
entry_check(struct matcher *m, struct package *p, const json_t *entry)
{
	const json_t *affected, *sev = entry;
	const char *fixed = NULL;
	bool hit = false, open = false;
	size_t i;
	int err, cmp;

	json_array_foreach(json_object_get(entry, "affected"), i, affected) {
		struct match_check check;

		err = affected_eval(affected, p->scheme, p->lookup_version, p->memo,
		    &check);
		if (err != PC_OK)
			return err;
		if (check.bad_event != NULL)
			add_error(m, p->obj, "advisory %s: version \"%.64s\" does not "
			    "parse as %s; that range was skipped",
			    json_string_value(json_object_get(entry, "id")),
			    check.bad_event, version_scheme_name(p->scheme));
		if (!check.affected)
			continue;
		if (json_object_get(affected, "severity") != NULL)
			sev = affected;
		hit = true;
		if (check.fixed == NULL)
			open = true;
		else if (fixed == NULL || (compare_versions(p->scheme, check.fixed,
		    fixed, &cmp) == PC_OK && cmp < 0))
			fixed = check.fixed;
	}
	if (!hit)
		return PC_OK;
	return hits_add(p, entry, sev, open ? NULL : fixed);
}

/* Looks up one name and evaluates every advisory found; *kept owns them. */
static int
package_lookup(struct matcher *m, struct package *p, const char *name,
    json_t *kept)
{
	json_t *entries = NULL, *entry;
	size_t i;
	int err;

	err = vulndb_lookup(m->db, p->ecosystem, name, &entries);
	if (err != PC_OK || entries == NULL)
		return err;
	if (json_array_append_new(kept, entries) != 0)
		return PC_ERR_NOMEM;
	if (match_scheme(p->ecosystem, &p->scheme) != PC_OK) {
		add_error(m, p->obj, "package %s %s: no version ordering for "
		    "ecosystem %s", p->name, p->version, p->ecosystem);
		return PC_OK;
	}
	/* NULL only costs the shortcut of compare_event. */
	if (p->memo == NULL)
		p->memo = json_object();
	err = validate_version(p->scheme, p->lookup_version);
	if (err != PC_OK) {
		add_error(m, p->obj, "package %s: version \"%.64s\" %s %s",
		    p->name, p->lookup_version, err == PC_ERR_UNSUPPORTED ?
		    "cannot be compared yet as" : "is not a valid",
		    version_scheme_name(p->scheme));
		return PC_OK;
	}
	json_array_foreach(entries, i, entry) {
		err = entry_check(m, p, entry);
		if (err != PC_OK)
			return err;
	}
	return PC_OK;
}

static size_t
group_root(struct hit *hits, size_t i)
{
	while (hits[i].group != i) {
		hits[i].group = hits[hits[i].group].group;
		i = hits[i].group;
	}
	return i;
}

/* Joins the group of hit i with the group of the hit that first had id. */
static int
group_id(struct package *p, json_t *owners, const json_t *id, size_t i)
{
	const char *s = json_string_value(id);
	json_t *owner;

	if (s == NULL)
		return PC_OK;
	owner = json_object_get(owners, s);
	if (owner == NULL)
		return json_object_set_new(owners, s, json_integer((json_int_t)i)) ?
		    PC_ERR_NOMEM : PC_OK;
	size_t ri = group_root(p->hits, i);
	size_t ro = group_root(p->hits, (size_t)json_integer_value(owner));

	if (ri != ro)
		p->hits[ri].group = ro;
	return PC_OK;
}

/*
 * Groups the hits that share an id or alias, through a map from each id to
 * the first hit that names it, in time linear in the number of ids.
 */
static int
hits_group(struct package *p)
{
	json_t *owners, *alias;
	size_t j;
	int err;

	if (p->nhits < 2)
		return PC_OK;
	owners = json_object();
	err = owners != NULL ? PC_OK : PC_ERR_NOMEM;
	for (size_t i = 0; i < p->nhits && err == PC_OK; i++) {
		err = group_id(p, owners, json_object_get(p->hits[i].entry, "id"), i);
		json_array_foreach(json_object_get(p->hits[i].entry, "aliases"), j,
		    alias) {
			if (err == PC_OK)
				err = group_id(p, owners, alias, i);
		}
	}
	json_decref(owners);
	for (size_t i = 0; i < p->nhits; i++)
		p->hits[i].group = group_root(p->hits, i);
	return err;
}

/* CVE ids (and distro copies such as DEBIAN-CVE-...) rank after others. */
static int
id_rank(const char *id)
{
	return strncmp(id, "CVE-", 4) == 0 || strstr(id, "-CVE-") != NULL;
}

static int
id_order(const char *a, const char *b)
{
	int ra = id_rank(a), rb = id_rank(b);

	return ra != rb ? ra - rb : strcmp(a, b);
}

static int
severity_rank(const char *word)
{
	static const char *const order[] = {"low", "medium", "high", "critical"};

	for (int i = 0; i < 4; i++) {
		if (word != NULL && strcmp(word, order[i]) == 0)
			return i + 1;
	}
	return 0;
}

/* A growable list of id strings that point into vulndb entries. */
struct id_list {
	const char **ids;
	size_t n;
	size_t cap;
};

/* Adds id unless seen (an object used as a set, or NULL) has it. */
static int
ids_add(struct id_list *list, json_t *seen, const json_t *id)
{
	const char *text = json_string_value(id);
	const char **grown;

	if (text == NULL || json_object_get(seen, text) != NULL)
		return PC_OK;
	if (seen != NULL && json_object_set(seen, text, json_true()) != 0)
		return PC_ERR_NOMEM;
	if (list->n == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 16;
		grown = pc_reallocarray(list->ids, list->cap, sizeof(*grown));
		if (grown == NULL)
			return PC_ERR_NOMEM;
		list->ids = grown;
	}
	list->ids[list->n++] = text;
	return PC_OK;
}

static int
compare_id_strings(const void *a, const void *b)
{
	return id_order(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Collects every id and alias of group g, primary first, sorted, as new
 * strings: findings never share values with the lookup cache, which other
 * threads read at the same time.
 */
static json_t *
group_ids(const struct package *p, size_t g)
{
	struct id_list list = {0};
	json_t *seen = NULL, *sorted = NULL;
	const json_t *alias;
	size_t i, j, members = 0;
	int err = PC_OK;

	for (i = 0; i < p->nhits; i++)
		members += p->hits[i].group == g;
	/* One record's aliases are unique already (osv_parse): no set needed. */
	if (members > 1 && (seen = json_object()) == NULL)
		return NULL;
	for (i = 0; i < p->nhits && err == PC_OK; i++) {
		if (p->hits[i].group != g)
			continue;
		err = ids_add(&list, seen, json_object_get(p->hits[i].entry, "id"));
		json_array_foreach(json_object_get(p->hits[i].entry, "aliases"), j,
		    alias) {
			if (err == PC_OK)
				err = ids_add(&list, seen, alias);
		}
	}
	if (err == PC_OK)
		sorted = json_array();
	if (sorted != NULL && list.n > 0)
		qsort(list.ids, list.n, sizeof(*list.ids), compare_id_strings);
	for (i = 0; sorted != NULL && i < list.n; i++) {
		if (json_array_append_new(sorted, json_string(list.ids[i])) != 0) {
			json_decref(sorted);
			sorted = NULL;
		}
	}
	pc_free(list.ids);
	json_decref(seen);
	return sorted;
}

/*
 * Picks the group's primary advisory (the matched record whose id sorts
 * first), its worst severity source and its fixed version.
 */
static void
group_summary(const struct package *p, size_t g, const struct hit **primary,
    const json_t **severity, const char **fixed, bool *open)
{
	int cmp;

	*primary = NULL;
	*severity = NULL;
	*fixed = NULL;
	*open = false;
	for (size_t i = 0; i < p->nhits; i++) {
		const struct hit *h = &p->hits[i];
		const char *id = json_string_value(json_object_get(h->entry, "id"));

		if (h->group != g)
			continue;
		if (*primary == NULL || id_order(id, json_string_value(
		    json_object_get((*primary)->entry, "id"))) < 0)
			*primary = h;
		if (*severity == NULL ||
		    severity_rank(json_string_value(json_object_get(h->severity,
		    "severity"))) > severity_rank(json_string_value(
		    json_object_get(*severity, "severity"))))
			*severity = h->severity;
		if (h->fixed == NULL)
			*open = true;
		else if (*fixed == NULL || (compare_versions(p->scheme, h->fixed,
		    *fixed, &cmp) == PC_OK && cmp > 0))
			*fixed = h->fixed;
	}
}

static int
finding_copy(json_t *finding, const char *key, const json_t *from,
    const char *from_key)
{
	json_t *value = json_object_get(from, from_key);

	if (value == NULL)
		return PC_OK;
	/* A copy, so that the finding shares nothing with the lookup cache. */
	return json_object_set_new(finding, key, json_deep_copy(value)) == 0 ?
	    PC_OK : PC_ERR_NOMEM;
}

static int
finding_new(const struct package *p, size_t g, json_t **out)
{
	const struct hit *primary;
	const json_t *sev;
	const char *fixed, *severity;
	json_t *finding, *ids;
	bool open;
	int err = PC_OK;

	group_summary(p, g, &primary, &sev, &fixed, &open);
	ids = group_ids(p, g);
	if (ids == NULL)
		return PC_ERR_NOMEM;
	json_array_remove(ids, 0);
	severity = json_string_value(json_object_get(sev, "severity"));
	finding = json_pack("{sssosssssssssoss}",
	    "id", json_string_value(json_object_get(primary->entry, "id")),
	    "aliases", ids,
	    "package", p->name,
	    "version", p->version,
	    "ecosystem", p->ecosystem,
	    "type", p->type,
	    "fixed", open || fixed == NULL ? json_null() : json_string(fixed),
	    "severity", severity_rank(severity) > 0 ? severity : "unknown");
	if (finding == NULL)
		return PC_ERR_NOMEM;
	if (json_object_set_new(finding, "cvss_score",
	    json_is_number(json_object_get(sev, "cvss_score")) ?
	    json_deep_copy(json_object_get(sev, "cvss_score")) : json_null()))
		err = PC_ERR_NOMEM;
	if (err == PC_OK)
		err = finding_copy(finding, "cvss_vector", sev, "cvss_vector");
	if (err == PC_OK)
		err = json_object_set_new(finding, "summary", json_string(
		    json_string_value(json_object_get(primary->entry, "summary")) ?
		    json_string_value(json_object_get(primary->entry, "summary")) :
		    "")) == 0 ? PC_OK : PC_ERR_NOMEM;
	if (err == PC_OK)
		err = finding_copy(finding, "source_name", p->obj, "source_name");
	if (err == PC_OK)
		err = finding_copy(finding, "source_version", p->obj,
		    "source_version");
	if (err == PC_OK)
		err = finding_copy(finding, "layer", p->obj, "layer");
	if (err == PC_OK)
		err = finding_copy(finding, "path", p->obj, "path");
	if (err != PC_OK) {
		json_decref(finding);
		return err;
	}
	*out = finding;
	return PC_OK;
}

static int
compare_findings(const void *a, const void *b)
{
	return id_order(
	    json_string_value(json_object_get(*(json_t *const *)a, "id")),
	    json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

/* Appends one finding per group of the package, sorted by id. */
static int
package_emit(struct matcher *m, struct package *p)
{
	json_t **list;
	size_t n = 0;
	int err = PC_OK;

	err = hits_group(p);
	if (err != PC_OK)
		return err;
	list = pc_calloc(p->nhits + 1, sizeof(*list));
	if (list == NULL)
		return PC_ERR_NOMEM;
	for (size_t i = 0; i < p->nhits && err == PC_OK; i++) {
		if (p->hits[i].group == i)
			err = finding_new(p, i, &list[n++]);
	}
	if (err != PC_OK)
		n--;
	qsort(list, n, sizeof(*list), compare_findings);
	for (size_t i = 0; i < n; i++) {
		if (err == PC_OK && json_array_append(m->findings, list[i]) != 0)
			err = PC_ERR_NOMEM;
		json_decref(list[i]);
	}
	pc_free(list);
	return err;
}

static int
package_match(struct matcher *m, const json_t *obj, size_t index)
{
	struct package p = {0};
	json_t *kept = json_array();
	int err = PC_OK;

	if (kept == NULL)
		return PC_ERR_NOMEM;
	if (!package_read(m, obj, index, &p))
		goto out;
	err = package_lookup(m, &p, p.lookup_name, kept);
	/* Red Hat data names binary RPMs as well as source RPMs. */
	if (err == PC_OK && strcmp(p.type, "rpm") == 0 &&
	    strcmp(p.lookup_name, p.name) != 0)
		err = package_lookup(m, &p, p.name, kept);
	if (err == PC_OK && p.nhits > 0)
		err = package_emit(m, &p);
out:
	pc_free(p.hits);
	json_decref(p.memo);
	json_decref(kept);
	return err;
}

int
match_packages(struct vulndb *db, const json_t *os, const json_t *packages,
    json_t **findings, json_t **errors)
{
	struct matcher m = {.db = db};
	const json_t *pkg;
	size_t i;
	int err = PC_OK;

	*findings = NULL;
	*errors = NULL;
	if (!json_is_array(packages))
		return PC_ERR_INVALID;
	if (json_array_size(packages) > MATCH_MAX_PACKAGES)
		return PC_ERR_LIMIT;
	if (json_is_object(os))
		os_ecosystem(os, m.os_ecosystem, sizeof(m.os_ecosystem));
	m.findings = json_array();
	m.errors = json_array();
	if (m.findings == NULL || m.errors == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(packages, i, pkg) {
		err = package_match(&m, pkg, i);
		if (err != PC_OK)
			goto out;
	}
	if (m.dropped_errors > 0 &&
	    json_array_append_new(m.errors, json_pack("{ssss}", "kind",
	    "match_error", "message", "more match errors were left out")))
		err = PC_ERR_NOMEM;
out:
	if (err != PC_OK) {
		json_decref(m.findings);
		json_decref(m.errors);
		return err;
	}
	*findings = m.findings;
	*errors = m.errors;
	return PC_OK;
}
