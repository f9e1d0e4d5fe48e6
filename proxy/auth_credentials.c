#include "proxy/auth_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/error.h"

/* Decoded Basic credentials never exceed 3/4 of the header value. */
#define BASIC_DECODED_MAX (AUTH_MAX_AUTHORIZATION_BYTES / 4 * 3 + 3)

/* Strict standard base64: length a multiple of 4, '=' only at the end. */

static int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
auth_base64_decode(const char *in, size_t len, unsigned char *out,
    size_t outcap, size_t *outlen)
{
	size_t pad = 0;
	size_t o = 0;

	*outlen = 0;
	if (len == 0 || len % 4 != 0)
		return PC_ERR_INVALID;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > outcap)
		return PC_ERR_LIMIT;

	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		bool last = i + 4 == len;

		for (int k = 0; k < 4; k++) {
			bool padding = last && k >= 4 - (int)pad;

			v[k] = padding ? 0 : base64_value((unsigned char)in[i + k]);
			if (v[k] < 0)
				return PC_ERR_INVALID;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (!last || pad < 2)
			out[o++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (!last || pad < 1)
			out[o++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	*outlen = o;
	return PC_OK;
}

static void
fail(struct auth_credentials *cred, enum auth_failure reason)
{
	cred->err = PC_ERR_DENIED;
	cred->reason = reason;
}

static bool
has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	}
	return false;
}

/* Verifies a password of the htpasswd file, through the cache. */
static int
verify_password(struct auth *a, const char *user, const char *password,
    uint64_t now_ns)
{
	unsigned char key[AUTH_SHA256_BYTES];
	bool have_key = a->cache != NULL &&
	    auth_cache_key(a->cache, user, password, key) == PC_OK;
	bool cached = false;
	int err;

	if (have_key) {
		pthread_mutex_lock(&a->lock);
		cached = auth_cache_lookup(a->cache, key, now_ns);
		if (cached)
			a->counters.cache_hits++;
		else
			a->counters.cache_misses++;
		pthread_mutex_unlock(&a->lock);
	}
	if (cached) {
		OPENSSL_cleanse(key, sizeof(key));
		return PC_OK;
	}

	/* bcrypt runs unlocked: it is the slow part and needs no shared state. */
	err = htpasswd_verify(a->htpasswd, user, password);
	if (err == PC_OK && have_key) {
		pthread_mutex_lock(&a->lock);
		auth_cache_insert(a->cache, key, now_ns);
		pthread_mutex_unlock(&a->lock);
	}
	OPENSSL_cleanse(key, sizeof(key));
	return err;
}

/* Checks user and password, both NUL-terminated and free of NUL bytes. */
static void
check_user_password(struct auth *a, const char *user, const char *password,
    struct auth_result *res, uint64_t now_ns, struct auth_credentials *cred)
{
	const char *token_name;
	int err;

	snprintf(res->user, sizeof(res->user), "%s", user);
	if (a->htpasswd != NULL && htpasswd_has_user(a->htpasswd, user)) {
		err = verify_password(a, user, password, now_ns);
		if (err == PC_OK)
			res->identity = AUTH_ID_PASSWORD;
		else if (err == PC_ERR_NOMEM)
			cred->err = PC_ERR_NOMEM;
		else
			fail(cred, AUTH_FAIL_BAD_PASSWORD);
		return;
	}

	token_name = a->tokens != NULL ?
	    tokens_find(a->tokens, user, password, strlen(password)) : NULL;
	if (token_name != NULL) {
		res->identity = AUTH_ID_TOKEN;
		return;
	}
	if (a->htpasswd == NULL) {
		fail(cred, AUTH_FAIL_BAD_TOKEN);
		return;
	}
	/* Against the dummy hash, so an unknown user costs one bcrypt too. */
	err = htpasswd_verify(a->htpasswd, user, password);
	if (err == PC_ERR_NOMEM)
		cred->err = PC_ERR_NOMEM;
	else
		fail(cred, AUTH_FAIL_UNKNOWN_USER);
}

static void
check_basic(struct auth *a, const char *b64, size_t len,
    struct auth_result *res, uint64_t now_ns, struct auth_credentials *cred)
{
	unsigned char decoded[BASIC_DECODED_MAX + 1];
	size_t n = 0;
	char *text = (char *)decoded;
	char *colon;
	size_t user_len;

	if (a->htpasswd == NULL && a->tokens == NULL) {
		fail(cred, AUTH_FAIL_SCHEME);
		return;
	}
	if (auth_base64_decode(b64, len, decoded, BASIC_DECODED_MAX, &n) != PC_OK ||
	    memchr(decoded, '\0', n) != NULL) {
		fail(cred, AUTH_FAIL_MALFORMED);
		goto out;
	}
	decoded[n] = '\0';
	colon = strchr(text, ':');
	if (colon == NULL) {
		fail(cred, AUTH_FAIL_MALFORMED);
		goto out;
	}
	*colon = '\0';
	user_len = (size_t)(colon - text);
	if (has_control(text, user_len)) {
		fail(cred, AUTH_FAIL_MALFORMED);
		goto out;
	}
	if (user_len == 0 || user_len > AUTH_MAX_NAME_BYTES) {
		fail(cred, AUTH_FAIL_UNKNOWN_USER);
		goto out;
	}
	check_user_password(a, text, colon + 1, res, now_ns, cred);
out:
	OPENSSL_cleanse(decoded, sizeof(decoded));
}

static void
check_bearer(struct auth *a, const char *token, size_t len,
    struct auth_result *res, struct auth_credentials *cred)
{
	const char *name;

	if (a->tokens == NULL) {
		fail(cred, AUTH_FAIL_SCHEME);
		return;
	}
	name = tokens_find(a->tokens, NULL, token, len);
	if (name == NULL) {
		fail(cred, AUTH_FAIL_BAD_TOKEN);
		cred->bearer_rejected = true;
		return;
	}
	res->identity = AUTH_ID_TOKEN;
	snprintf(res->user, sizeof(res->user), "%s", name);
}

/* Splits "<scheme> <credentials>" and checks the credentials. */
static void
check_authorization(struct auth *a, const char *value,
    struct auth_result *res, uint64_t now_ns, struct auth_credentials *cred)
{
	size_t len = strnlen(value, AUTH_MAX_AUTHORIZATION_BYTES + 1);
	const char *space;
	const char *creds;
	size_t scheme_len;
	size_t creds_len;

	if (len > AUTH_MAX_AUTHORIZATION_BYTES) {
		fail(cred, AUTH_FAIL_MALFORMED);
		return;
	}
	space = memchr(value, ' ', len);
	if (space == NULL) {
		fail(cred, AUTH_FAIL_MALFORMED);
		return;
	}
	scheme_len = (size_t)(space - value);
	creds = space;
	while (*creds == ' ')
		creds++;
	creds_len = len - (size_t)(creds - value);
	while (creds_len > 0 && (creds[creds_len - 1] == ' ' ||
	    creds[creds_len - 1] == '\t'))
		creds_len--;
	if (creds_len == 0 || has_control(creds, creds_len)) {
		fail(cred, AUTH_FAIL_MALFORMED);
		return;
	}

	if (scheme_len == 5 && strncasecmp(value, "Basic", 5) == 0)
		check_basic(a, creds, creds_len, res, now_ns, cred);
	else if (scheme_len == 6 && strncasecmp(value, "Bearer", 6) == 0)
		check_bearer(a, creds, creds_len, res, cred);
	else
		fail(cred, AUTH_FAIL_SCHEME);
}

void
auth_authenticate(struct auth *a, const struct http_request *req,
    const char *client_subject, struct auth_result *res, uint64_t now_ns,
    struct auth_credentials *cred)
{
	const char *values[2];
	size_t n = http_request_headers(req, "authorization", values, 2);

	memset(cred, 0, sizeof(*cred));
	if (n > 1) {
		/* Two credentials: neither is trusted over the other. */
		fail(cred, AUTH_FAIL_MALFORMED);
		return;
	}
	if (n == 1) {
		check_authorization(a, values[0], res, now_ns, cred);
		return;
	}

	if (client_subject != NULL) {
		size_t len = strnlen(client_subject, AUTH_MAX_SUBJECT_BYTES + 1);

		if (len == 0 || len > AUTH_MAX_SUBJECT_BYTES ||
		    has_control(client_subject, len)) {
			fail(cred, AUTH_FAIL_MALFORMED);
			return;
		}
		res->identity = AUTH_ID_CERTIFICATE;
		snprintf(res->user, sizeof(res->user), "%s", client_subject);
		return;
	}
	if (auth_requires_credentials(a) && !a->anonymous)
		fail(cred, AUTH_FAIL_MISSING);
}
