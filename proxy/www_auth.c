#include "proxy/www_auth.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"

/* A cursor over one header value. */
struct cursor {
	const char *p;
	const char *end;
};

/* tchar from RFC 9110 section 5.6.2. */
static bool
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* token68 characters from RFC 7235 section 2.1, without the trailing '='. */
static bool
is_token68_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-._~+/", c) != NULL;
}

static void
skip_ows(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* Skips whitespace and empty list elements (",,"). Returns true if a comma was seen. */
static bool
skip_separators(struct cursor *c)
{
	bool comma = false;

	for (;;) {
		skip_ows(c);
		if (c->p < c->end && *c->p == ',') {
			comma = true;
			c->p++;
			continue;
		}
		return comma;
	}
}

static size_t
token_length(const struct cursor *c)
{
	const char *q = c->p;

	while (q < c->end && is_tchar((unsigned char)*q))
		q++;
	return (size_t)(q - c->p);
}

static int
copy_lower(const char *s, size_t len, char **out)
{
	char *copy = pc_strndup(s, len);

	if (copy == NULL)
		return PC_ERR_NOMEM;
	for (size_t i = 0; i < len; i++) {
		if (copy[i] >= 'A' && copy[i] <= 'Z')
			copy[i] = (char)(copy[i] - 'A' + 'a');
	}
	*out = copy;
	return PC_OK;
}

/*
 * Returns true if the cursor is at "token BWS =" but not "token==" style
 * token68 padding, which means an auth-param starts here.
 */
static bool
at_auth_param(const struct cursor *c)
{
	size_t n = token_length(c);
	const char *q = c->p + n;

	if (n == 0)
		return false;
	while (q < c->end && (*q == ' ' || *q == '\t'))
		q++;
	if (q >= c->end || *q != '=')
		return false;
	/* "abc==" or "abc=" followed by the end or a comma is token68 padding. */
	if (q == c->p + n) {
		const char *r = q;

		while (r < c->end && *r == '=')
			r++;
		while (r < c->end && (*r == ' ' || *r == '\t'))
			r++;
		if (r - q > 1 || r >= c->end || *r == ',')
			return false;
	}
	return true;
}

/* Parses a quoted-string at the cursor (which is at the opening quote) into out. */
static int
parse_quoted(struct cursor *c, char **out)
{
	struct buf value;
	int err;

	buf_init(&value, WWW_AUTH_MAX_HEADER);
	c->p++;
	for (;;) {
		unsigned char ch;

		if (c->p >= c->end) {
			err = PC_ERR_INVALID;
			goto out;
		}
		ch = (unsigned char)*c->p++;
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (c->p >= c->end) {
				err = PC_ERR_INVALID;
				goto out;
			}
			ch = (unsigned char)*c->p++;
		}
		/* qdtext and quoted-pair allow HTAB, SP, VCHAR and obs-text only. */
		if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
			err = PC_ERR_INVALID;
			goto out;
		}
		err = buf_append(&value, &ch, 1);
		if (err != PC_OK)
			goto out;
	}
	if (value.data == NULL) {
		*out = pc_strdup("");
		err = *out == NULL ? PC_ERR_NOMEM : PC_OK;
		goto out;
	}
	*out = buf_steal(&value);
	err = PC_OK;
out:
	buf_free(&value);
	return err;
}

static void
challenge_free(struct www_auth_challenge *ch)
{
	for (size_t i = 0; i < ch->n_params; i++) {
		pc_free(ch->params[i].name);
		pc_free(ch->params[i].value);
	}
	pc_free(ch->params);
	pc_free(ch->scheme);
	pc_free(ch->token68);
	memset(ch, 0, sizeof(*ch));
}

/* Parses "name BWS = BWS (token / quoted-string)" and appends it to ch. */
static int
parse_param(struct cursor *c, struct www_auth_challenge *ch)
{
	struct www_auth_param param = { 0 };
	struct www_auth_param *grown;
	size_t n = token_length(c);
	int err;

	if (ch->n_params >= WWW_AUTH_MAX_PARAMS)
		return PC_ERR_LIMIT;
	err = copy_lower(c->p, n, &param.name);
	if (err != PC_OK)
		return err;
	c->p += n;
	skip_ows(c);
	c->p++; /* at_auth_param() checked that '=' is here */
	skip_ows(c);

	if (c->p < c->end && *c->p == '"') {
		err = parse_quoted(c, &param.value);
	} else {
		n = token_length(c);
		if (n == 0) {
			err = PC_ERR_INVALID;
			goto out;
		}
		param.value = pc_strndup(c->p, n);
		err = param.value == NULL ? PC_ERR_NOMEM : PC_OK;
		c->p += n;
	}
	if (err != PC_OK)
		goto out;

	/* RFC 7235: each parameter name occurs only once per challenge. */
	if (www_auth_param(ch, param.name) != NULL) {
		err = PC_ERR_INVALID;
		goto out;
	}
	grown = pc_reallocarray(ch->params, ch->n_params + 1, sizeof(*grown));
	if (grown == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	ch->params = grown;
	ch->params[ch->n_params++] = param;
	return PC_OK;
out:
	pc_free(param.name);
	pc_free(param.value);
	return err;
}

/* Parses a token68 at the cursor into ch->token68. */
static int
parse_token68(struct cursor *c, struct www_auth_challenge *ch)
{
	const char *start = c->p;

	while (c->p < c->end && is_token68_char((unsigned char)*c->p))
		c->p++;
	if (c->p == start)
		return PC_ERR_INVALID;
	while (c->p < c->end && *c->p == '=')
		c->p++;
	ch->token68 = pc_strndup(start, (size_t)(c->p - start));
	return ch->token68 == NULL ? PC_ERR_NOMEM : PC_OK;
}

/*
 * Parses the part of a challenge after its scheme: nothing, one token68,
 * or a comma-separated list of auth-params. Stops before the next
 * challenge's scheme.
 */
static int
parse_challenge_body(struct cursor *c, struct www_auth_challenge *ch)
{
	bool had_space;
	int err;

	had_space = c->p < c->end && (*c->p == ' ' || *c->p == '\t');
	skip_ows(c);
	if (c->p >= c->end || *c->p == ',')
		return PC_OK;
	if (!had_space)
		return PC_ERR_INVALID;

	if (!at_auth_param(c)) {
		err = parse_token68(c, ch);
		if (err != PC_OK)
			return err;
		skip_ows(c);
		return c->p >= c->end || *c->p == ',' ? PC_OK : PC_ERR_INVALID;
	}

	for (;;) {
		err = parse_param(c, ch);
		if (err != PC_OK)
			return err;
		skip_ows(c);
		if (c->p >= c->end)
			return PC_OK;
		if (*c->p != ',')
			return PC_ERR_INVALID;
		skip_separators(c);
		if (c->p >= c->end)
			return PC_OK;
		/* A token that is not followed by '=' is the next challenge's scheme. */
		if (!at_auth_param(c))
			return PC_OK;
	}
}

static int
append_challenge(struct www_auth *a, struct www_auth_challenge *ch)
{
	struct www_auth_challenge *grown;

	if (a->n_challenges >= WWW_AUTH_MAX_CHALLENGES)
		return PC_ERR_LIMIT;
	grown = pc_reallocarray(a->challenges, a->n_challenges + 1, sizeof(*grown));
	if (grown == NULL)
		return PC_ERR_NOMEM;
	a->challenges = grown;
	a->challenges[a->n_challenges++] = *ch;
	memset(ch, 0, sizeof(*ch));
	return PC_OK;
}

int
www_auth_parse(struct www_auth *a, const char *value, size_t len)
{
	struct cursor c = { value, value + len };
	struct www_auth_challenge ch = { 0 };
	size_t n_before = a->n_challenges;
	int err = PC_OK;

	if (len > WWW_AUTH_MAX_HEADER)
		return PC_ERR_LIMIT;
	if (memchr(value, '\0', len) != NULL)
		return PC_ERR_INVALID;

	skip_separators(&c);
	if (c.p >= c.end)
		return PC_ERR_INVALID;
	while (c.p < c.end) {
		size_t n = token_length(&c);

		if (n == 0) {
			err = PC_ERR_INVALID;
			goto out;
		}
		err = copy_lower(c.p, n, &ch.scheme);
		if (err != PC_OK)
			goto out;
		c.p += n;
		err = parse_challenge_body(&c, &ch);
		if (err != PC_OK)
			goto out;
		err = append_challenge(a, &ch);
		if (err != PC_OK)
			goto out;
		skip_separators(&c);
	}
out:
	challenge_free(&ch);
	if (err != PC_OK) {
		while (a->n_challenges > n_before)
			challenge_free(&a->challenges[--a->n_challenges]);
		if (a->n_challenges == 0) {
			pc_free(a->challenges);
			a->challenges = NULL;
		}
	}
	return err;
}

void
www_auth_free(struct www_auth *a)
{
	for (size_t i = 0; i < a->n_challenges; i++)
		challenge_free(&a->challenges[i]);
	pc_free(a->challenges);
	a->challenges = NULL;
	a->n_challenges = 0;
}

const struct www_auth_challenge *
www_auth_find(const struct www_auth *a, const char *scheme)
{
	for (size_t i = 0; i < a->n_challenges; i++) {
		if (strcasecmp(a->challenges[i].scheme, scheme) == 0)
			return &a->challenges[i];
	}
	return NULL;
}

const char *
www_auth_param(const struct www_auth_challenge *c, const char *name)
{
	for (size_t i = 0; i < c->n_params; i++) {
		if (strcasecmp(c->params[i].name, name) == 0)
			return c->params[i].value;
	}
	return NULL;
}

int
www_auth_bearer(const struct www_auth *a, struct www_auth_bearer *out)
{
	const struct www_auth_challenge *c = www_auth_find(a, "bearer");

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return PC_ERR_NOTFOUND;
	out->realm = www_auth_param(c, "realm");
	out->service = www_auth_param(c, "service");
	out->scope = www_auth_param(c, "scope");
	out->error = www_auth_param(c, "error");
	return out->realm == NULL || out->realm[0] == '\0' ? PC_ERR_INVALID : PC_OK;
}

int
www_auth_basic(const struct www_auth *a, const char **realm)
{
	const struct www_auth_challenge *c = www_auth_find(a, "basic");

	*realm = NULL;
	if (c == NULL)
		return PC_ERR_NOTFOUND;
	*realm = www_auth_param(c, "realm");
	return PC_OK;
}
