#include "proxy/auth_internal.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"

/* "$2y$05$" and 53 characters of bcrypt's base64: salt and hash. */
#define BCRYPT_HASH_LEN 60
#define BCRYPT_PREFIX_LEN 7
#define BCRYPT_MIN_COST 4

struct htpasswd_entry {
	char *user;
	char hash[BCRYPT_HASH_LEN + 1];
};

struct htpasswd {
	struct htpasswd_entry *entries;  /* sorted by user */
	size_t n;
	size_t cap;
	/* Hashed against for unknown users, at the highest cost in the file. */
	char dummy[BCRYPT_HASH_LEN + 1];
};

static bool
is_bcrypt_char(char c)
{
	return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Names the kind of a hash that is not bcrypt, for the load error. */
static const char *
hash_kind(const char *hash)
{
	if (strncmp(hash, "$apr1$", 6) == 0)
		return "an MD5 (apr1)";
	if (strncmp(hash, "{SHA}", 5) == 0)
		return "a SHA-1";
	if (strncmp(hash, "$1$", 3) == 0)
		return "an MD5-crypt";
	if (strncmp(hash, "$5$", 3) == 0)
		return "a SHA-256-crypt";
	if (strncmp(hash, "$6$", 3) == 0)
		return "a SHA-512-crypt";
	if (strncmp(hash, "$2x$", 4) == 0)
		return "a legacy bcrypt ($2x$)";
	if (strncmp(hash, "$2y$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0 ||
	    strncmp(hash, "$2a$", 4) == 0)
		return "a malformed bcrypt";
	return "a plain-text or DES-crypt";
}

/* Returns the cost of a well-formed bcrypt hash, or -1. */
static int
bcrypt_cost(const char *hash, size_t len)
{
	int cost;

	if (len != BCRYPT_HASH_LEN || hash[0] != '$' || hash[1] != '2' ||
	    (hash[2] != 'y' && hash[2] != 'b' && hash[2] != 'a') ||
	    hash[3] != '$' || hash[6] != '$')
		return -1;
	if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9')
		return -1;
	cost = (hash[4] - '0') * 10 + (hash[5] - '0');
	for (size_t i = BCRYPT_PREFIX_LEN; i < len; i++) {
		if (!is_bcrypt_char(hash[i]))
			return -1;
	}
	return cost;
}

static bool
valid_user(const char *user, size_t len)
{
	if (len == 0 || len > AUTH_MAX_NAME_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* Parses one "user:hash" line into e; returns the bcrypt cost or -1. */
static int
parse_line(const char *path, int lineno, char *line, size_t len,
    struct htpasswd_entry *e, char *errbuf, size_t errlen)
{
	char *colon = memchr(line, ':', len);
	const char *hash;
	size_t ulen;
	size_t hlen;
	int cost;

	if (colon == NULL) {
		snprintf(errbuf, errlen, "%s:%d: invalid entry: expected user:hash",
		    path, lineno);
		return -1;
	}
	ulen = (size_t)(colon - line);
	hash = colon + 1;
	hlen = len - ulen - 1;
	if (!valid_user(line, ulen)) {
		snprintf(errbuf, errlen, "%s:%d: invalid user name: empty, longer "
		    "than %d bytes or with control characters", path, lineno,
		    AUTH_MAX_NAME_BYTES);
		return -1;
	}
	*colon = '\0';
	cost = bcrypt_cost(hash, hlen);
	if (cost < 0) {
		snprintf(errbuf, errlen, "%s:%d: user \"%s\" has %s hash, but only "
		    "bcrypt ($2y$, $2b$, $2a$) is accepted: recreate the entry with "
		    "htpasswd -B", path, lineno, line, hash_kind(hash));
		return -1;
	}
	if (cost < BCRYPT_MIN_COST || cost > AUTH_MAX_BCRYPT_COST) {
		snprintf(errbuf, errlen, "%s:%d: user \"%s\" has bcrypt cost %d, "
		    "outside %d..%d: recreate the entry with htpasswd -B -C 5",
		    path, lineno, line, cost, BCRYPT_MIN_COST, AUTH_MAX_BCRYPT_COST);
		return -1;
	}
	e->user = pc_strdup(line);
	if (e->user == NULL) {
		snprintf(errbuf, errlen, "%s: out of memory", path);
		return -1;
	}
	memcpy(e->hash, hash, BCRYPT_HASH_LEN);
	e->hash[BCRYPT_HASH_LEN] = '\0';
	return cost;
}

static int
entry_compare(const void *a, const void *b)
{
	return strcmp(((const struct htpasswd_entry *)a)->user,
	    ((const struct htpasswd_entry *)b)->user);
}

/* Hashes a fixed phrase at cost, for the timing of unknown users. */
static int
make_dummy(struct htpasswd *h, int cost)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *hashed;
	int err = PC_ERR_NOMEM;

	if (crypt_gensalt_rn("$2y$", (unsigned long)cost, NULL, 0, salt,
	    sizeof(salt)) == NULL)
		return PC_ERR_NOMEM;
	data = pc_calloc(1, sizeof(*data));
	if (data == NULL)
		return PC_ERR_NOMEM;
	hashed = crypt_rn("portcullis-unknown-user", salt, data, sizeof(*data));
	if (hashed != NULL && strlen(hashed) == BCRYPT_HASH_LEN) {
		memcpy(h->dummy, hashed, BCRYPT_HASH_LEN + 1);
		err = PC_OK;
	}
	pc_free(data);
	return err;
}

static int
grow_entries(struct htpasswd *h)
{
	size_t cap = h->cap != 0 ? h->cap * 2 : 16;
	struct htpasswd_entry *entries = pc_reallocarray(h->entries, cap,
	    sizeof(*entries));

	if (entries == NULL)
		return PC_ERR_NOMEM;
	memset(entries + h->cap, 0, (cap - h->cap) * sizeof(*entries));
	h->entries = entries;
	h->cap = cap;
	return PC_OK;
}

/* Splits data into lines and fills h; returns the highest cost or -1. */
static int
parse_entries(const char *path, char *data, size_t len, struct htpasswd *h,
    char *errbuf, size_t errlen)
{
	char *p = data;
	char *end = data + len;
	int lineno = 0;
	int max_cost = 0;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *next = nl != NULL ? nl + 1 : end;
		size_t llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		int cost;

		lineno++;
		if (memchr(p, '\0', llen) != NULL) {
			snprintf(errbuf, errlen, "%s:%d: NUL byte in line", path, lineno);
			return -1;
		}
		if (llen > 0 && p[llen - 1] == '\r')
			p[--llen] = '\0';
		if (llen > 0 && p[0] != '#') {
			if (h->n == AUTH_MAX_ENTRIES) {
				snprintf(errbuf, errlen, "%s:%d: more than %d entries", path,
				    lineno, AUTH_MAX_ENTRIES);
				return -1;
			}
			if (h->n == h->cap && grow_entries(h) != PC_OK) {
				snprintf(errbuf, errlen, "%s: out of memory", path);
				return -1;
			}
			cost = parse_line(path, lineno, p, llen, &h->entries[h->n],
			    errbuf, errlen);
			if (cost < 0)
				return -1;
			h->n++;
			if (cost > max_cost)
				max_cost = cost;
		}
		p = next;
	}
	return max_cost;
}

int
htpasswd_load(const char *path, struct htpasswd **out, char *errbuf,
    size_t errlen)
{
	struct htpasswd *h = NULL;
	char *data = NULL;
	size_t len = 0;
	int max_cost;
	int err;

	*out = NULL;
	err = auth_read_file(path, &data, &len, errbuf, errlen);
	if (err != PC_OK)
		return err;
	h = pc_calloc(1, sizeof(*h));
	if (h == NULL) {
		err = PC_ERR_NOMEM;
		snprintf(errbuf, errlen, "%s: out of memory", path);
		goto out;
	}

	max_cost = parse_entries(path, data, len, h, errbuf, errlen);
	if (max_cost < 0) {
		err = PC_ERR_INVALID;
		goto out;
	}
	if (h->n == 0) {
		snprintf(errbuf, errlen, "%s: no entries: add users with htpasswd -B",
		    path);
		err = PC_ERR_INVALID;
		goto out;
	}
	qsort(h->entries, h->n, sizeof(*h->entries), entry_compare);
	for (size_t i = 1; i < h->n; i++) {
		if (strcmp(h->entries[i - 1].user, h->entries[i].user) == 0) {
			snprintf(errbuf, errlen, "%s: user \"%s\" is listed twice", path,
			    h->entries[i].user);
			err = PC_ERR_INVALID;
			goto out;
		}
	}
	err = make_dummy(h, max_cost);
	if (err != PC_OK) {
		snprintf(errbuf, errlen, "%s: bcrypt failed: out of memory", path);
		goto out;
	}
	if (max_cost > 10)
		log_warn("event=htpasswd_slow_hash file=%s cost=%d note=\"each "
		    "uncached verification blocks for tens of milliseconds or more\"",
		    path, max_cost);
	*out = h;
	h = NULL;
out:
	auth_free_secret(data, len);
	htpasswd_free(h);
	return err;
}

void
htpasswd_free(struct htpasswd *h)
{
	if (h == NULL)
		return;
	if (h->entries != NULL) {
		for (size_t i = 0; i < h->n; i++)
			pc_free(h->entries[i].user);
		OPENSSL_cleanse(h->entries, h->cap * sizeof(*h->entries));
	}
	pc_free(h->entries);
	pc_free(h);
}

static const struct htpasswd_entry *
find_user(const struct htpasswd *h, const char *user)
{
	struct htpasswd_entry key = { .user = (char *)user };

	return bsearch(&key, h->entries, h->n, sizeof(*h->entries), entry_compare);
}

bool
htpasswd_has_user(const struct htpasswd *h, const char *user)
{
	return find_user(h, user) != NULL;
}

int
htpasswd_verify(const struct htpasswd *h, const char *user,
    const char *password)
{
	const struct htpasswd_entry *e = find_user(h, user);
	const char *expected = e != NULL ? e->hash : h->dummy;
	struct crypt_data *data = pc_calloc(1, sizeof(*data));
	const char *hashed;
	bool match;

	if (data == NULL)
		return PC_ERR_NOMEM;
	hashed = crypt_rn(password, expected, data, sizeof(*data));
	match = hashed != NULL && strlen(hashed) == BCRYPT_HASH_LEN &&
	    CRYPTO_memcmp(hashed, expected, BCRYPT_HASH_LEN) == 0;
	OPENSSL_cleanse(data, sizeof(*data));
	pc_free(data);
	if (e == NULL)
		return PC_ERR_NOTFOUND;
	return match ? PC_OK : PC_ERR_DENIED;
}
