#ifndef PORTCULLIS_PROXY_WWW_AUTH_H
#define PORTCULLIS_PROXY_WWW_AUTH_H

#include <stddef.h>

/*
 * A parser for WWW-Authenticate header values (RFC 7235 section 4.1 and
 * the challenge grammar of section 2.1):
 *
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io"
 *
 * One value may contain several challenges separated by commas. Scheme and
 * parameter names are case-insensitive. Values are tokens or quoted
 * strings with backslash escapes, and commas inside quotes belong to the
 * value. A challenge carries either auth-params or one token68.
 */

/* Maximum length of one header value, in bytes. */
#define WWW_AUTH_MAX_HEADER 8192
/* Maximum number of challenges in one struct www_auth, over all values. */
#define WWW_AUTH_MAX_CHALLENGES 16
/* Maximum number of auth-params in one challenge. */
#define WWW_AUTH_MAX_PARAMS 32

struct www_auth_param {
	char *name;   /* lower-cased */
	char *value;  /* unquoted and unescaped */
};

struct www_auth_challenge {
	char *scheme;   /* lower-cased, e.g. "bearer" */
	char *token68;  /* NULL unless the challenge carries a token68 */
	struct www_auth_param *params;
	size_t n_params;
};

/* Parsed challenges. Zero-initialise before the first parse. */
struct www_auth {
	struct www_auth_challenge *challenges;
	size_t n_challenges;
};

/*
 * Parses one header value of len bytes and appends its challenges to a,
 * so several WWW-Authenticate lines can go into one struct. On error a
 * keeps the challenges it had before the call. Returns PC_OK,
 * PC_ERR_INVALID for a syntax error or a repeated parameter name,
 * PC_ERR_LIMIT past WWW_AUTH_MAX_HEADER, WWW_AUTH_MAX_CHALLENGES or
 * WWW_AUTH_MAX_PARAMS, or PC_ERR_NOMEM.
 */
int www_auth_parse(struct www_auth *a, const char *value, size_t len);

/* Frees the challenges of a and zeroes it. */
void www_auth_free(struct www_auth *a);

/* Returns the first challenge whose scheme matches (case-insensitive), or NULL. */
const struct www_auth_challenge *www_auth_find(const struct www_auth *a,
    const char *scheme);

/* Returns the value of parameter name (case-insensitive) in c, or NULL. */
const char *www_auth_param(const struct www_auth_challenge *c, const char *name);

/* The parameters of a Bearer challenge that token auth uses (RFC 6750). */
struct www_auth_bearer {
	const char *realm;    /* token endpoint URL */
	const char *service;
	const char *scope;
	const char *error;    /* "invalid_token", "insufficient_scope", ... */
};

/*
 * Fills out from the first Bearer challenge of a; the strings point into
 * a. Missing parameters are NULL. Returns PC_OK, PC_ERR_NOTFOUND when a
 * has no Bearer challenge, or PC_ERR_INVALID when it has no realm.
 */
int www_auth_bearer(const struct www_auth *a, struct www_auth_bearer *out);

/*
 * Sets *realm to the realm of the first Basic challenge of a (NULL when it
 * has none). Returns PC_OK, or PC_ERR_NOTFOUND with no Basic challenge.
 */
int www_auth_basic(const struct www_auth *a, const char **realm);

#endif
