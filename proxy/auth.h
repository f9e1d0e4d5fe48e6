#ifndef PORTCULLIS_PROXY_AUTH_H
#define PORTCULLIS_PROXY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proxy/http.h"

/*
 * Access control for the registry API: who the client is (authentication),
 * which repositories it may pull (authorisation), and how fast it may ask
 * (rate and stream limits).
 *
 * Identities, tried in this order:
 *   - an Authorization header: "Basic" with a user of the htpasswd file
 *     (bcrypt only) or with a token name as user and the token as
 *     password, or "Bearer" with a token of the tokens file;
 *   - the subject of a client certificate that TLS verified, as the caller
 *     passes it;
 *   - anonymous, when no credentials file is configured or anonymous
 *     access is turned on.
 * A request whose Authorization header fails gets 401, even when TLS
 * verified a client certificate.
 *
 * Authorisation: rules are tried in order, and the first rule that matches
 * both the identity and the repository decides (allow, or deny when the
 * rule says so). With rules configured, a request that no rule matches is
 * denied. Without rules, every authenticated identity may pull every
 * repository. A denied request gets 403 DENIED with one fixed message, so
 * the answer is the same for a repository that exists and one that does
 * not. An anonymous client that is denied gets the 401 challenge instead
 * when credentials are configured, so that clients retry with their login.
 *
 * Rate limits are checked per client address before any password is
 * verified, then per identity after authentication.
 *
 * Thread-safe: auth_check(), the stream functions and auth_stats() may be
 * called from any thread at the same time. bcrypt runs on the calling
 * thread outside the internal lock. It took 2.3 ms at cost 5, the default
 * of htpasswd -B, and 95 ms at cost 10 (libxcrypt, one AMD EPYC core), so
 * successful verifications are cached for cache_ttl_s.
 */

/* Maximum size of an htpasswd or tokens file, in bytes. */
#define AUTH_MAX_FILE_BYTES (1u << 20)
/* Maximum number of entries in one htpasswd or tokens file. */
#define AUTH_MAX_ENTRIES 10000
/* Maximum length of a user or token name, in bytes. */
#define AUTH_MAX_NAME_BYTES 255
/* Minimum and maximum length of a token in the tokens file, in bytes. */
#define AUTH_MIN_TOKEN_BYTES 16
#define AUTH_MAX_TOKEN_BYTES 4096
/* Maximum bcrypt cost: each step doubles the time of one verification. */
#define AUTH_MAX_BCRYPT_COST 14
/* Maximum length of an Authorization header value, in bytes. */
#define AUTH_MAX_AUTHORIZATION_BYTES 8192
/* Maximum length of a client certificate subject, in bytes. */
#define AUTH_MAX_SUBJECT_BYTES 1023
/* Maximum length of the realm, in bytes. */
#define AUTH_MAX_REALM_BYTES 128
/* Maximum number of rules, and of globs in one list of a rule. */
#define AUTH_MAX_RULES 1024
#define AUTH_MAX_RULE_GLOBS 256
/* Maximum length of a glob, in bytes. */
#define AUTH_MAX_GLOB_BYTES 512
/* Defaults and upper bound of the verification cache. */
#define AUTH_DEFAULT_CACHE_TTL_S 60
#define AUTH_DEFAULT_CACHE_ENTRIES 256
#define AUTH_MAX_CACHE_ENTRIES 4096
/*
 * Maximum log lines about failures and rejections per second. Lines over
 * the limit are counted, and the count is logged before the next line.
 */
#define AUTH_LOG_LINES_PER_S 20
/* Retry-After, in seconds, when the stream limit rejects a blob request. */
#define AUTH_STREAM_RETRY_AFTER_S 2

#define AUTH_DEFAULT_REALM "portcullis"

enum auth_challenge_scheme {
	AUTH_SCHEME_AUTO,    /* Basic with an htpasswd file, else Bearer */
	AUTH_SCHEME_BASIC,
	AUTH_SCHEME_BEARER,
};

/*
 * One authorisation rule. An identity matches when it is a user or token
 * name matching one of users, a certificate subject matching one of
 * subjects, or anonymous with anonymous set. Globs use fnmatch(3) without
 * flags, so '*' also matches '/': "team*" covers "team/app/api".
 */
struct auth_rule {
	const char *const *users;
	size_t n_users;
	const char *const *subjects;   /* RFC 2253 form: "CN=ci,O=Example" */
	size_t n_subjects;
	const char *const *repositories;
	size_t n_repositories;
	bool anonymous;
	bool deny;                     /* reject instead of allow */
};

/* Limits; a zero rate or stream count turns that limit off. */
struct auth_rate_config {
	double per_client_rps;
	unsigned per_client_burst;
	double per_user_rps;
	unsigned per_user_burst;
	unsigned per_client_streams;   /* concurrent blob streams */
	unsigned per_user_streams;
	unsigned max_tracked;          /* clients, and users, tracked at once */
	unsigned idle_s;               /* forget a quiet client after this */
};

struct auth_config {
	const char *htpasswd_file;     /* NULL: no passwords */
	const char *tokens_file;       /* NULL: no tokens */
	const char *realm;             /* NULL: AUTH_DEFAULT_REALM */
	enum auth_challenge_scheme scheme;
	bool anonymous;                /* no credentials is fine, as "-" */
	const struct auth_rule *rules;
	size_t n_rules;
	struct auth_rate_config rate;
	unsigned cache_ttl_s;          /* 0 turns the cache off */
	unsigned cache_entries;
	/* Monotonic clock in ns; NULL: CLOCK_MONOTONIC. Tests inject one. */
	uint64_t (*clock_ns)(void *arg);
	void *clock_arg;
};

/* Fills cfg with the defaults: no credentials, no rules, no limits. */
void auth_config_init(struct auth_config *cfg);

enum auth_outcome {
	AUTH_OK,
	AUTH_CHALLENGE,      /* 401 UNAUTHORIZED with WWW-Authenticate */
	AUTH_DENIED,         /* 403 DENIED */
	AUTH_RATE_LIMITED,   /* 429 TOOMANYREQUESTS with Retry-After */
	AUTH_UNAVAILABLE,    /* 503 UNAVAILABLE: out of memory while checking */
};

enum auth_identity {
	AUTH_ID_ANONYMOUS,
	AUTH_ID_PASSWORD,     /* a user of the htpasswd file */
	AUTH_ID_TOKEN,        /* a token of the tokens file, by its name */
	AUTH_ID_CERTIFICATE,  /* a verified client certificate subject */
};

/* Reasons counted in the statistics as auth_failures. */
enum auth_failure {
	AUTH_FAIL_MISSING,       /* no credentials where they are required */
	AUTH_FAIL_MALFORMED,     /* bad base64, no ':', NUL bytes, too long */
	AUTH_FAIL_SCHEME,        /* neither Basic nor Bearer, or not configured */
	AUTH_FAIL_UNKNOWN_USER,
	AUTH_FAIL_BAD_PASSWORD,
	AUTH_FAIL_BAD_TOKEN,
	AUTH_FAIL_COUNT,
};

#define AUTH_USER_BUFSIZE (AUTH_MAX_SUBJECT_BYTES + 1)
#define AUTH_CLIENT_BUFSIZE 64
#define AUTH_MESSAGE_BUFSIZE 160
#define AUTH_HEADER_VALUE_BUFSIZE (AUTH_MAX_REALM_BYTES + 64)
#define AUTH_MAX_RESULT_HEADERS 2

struct auth_result_header {
	const char *name;     /* static: "WWW-Authenticate" or "Retry-After" */
	char value[AUTH_HEADER_VALUE_BUFSIZE];
};

/*
 * What auth_check() decided. Plain storage that the caller owns: copy it
 * into the request's state to release a stream later. For every outcome
 * but AUTH_OK, the caller sends status with the headers and an OCI error
 * body of code and message.
 */
struct auth_result {
	enum auth_outcome outcome;
	enum auth_identity identity;
	char user[AUTH_USER_BUFSIZE];     /* "-" when anonymous or unknown */
	char client[AUTH_CLIENT_BUFSIZE]; /* peer address without the port */
	int status;                        /* 200, 401, 403, 429 or 503 */
	const char *code;                  /* static; NULL for AUTH_OK */
	char message[AUTH_MESSAGE_BUFSIZE];
	struct auth_result_header headers[AUTH_MAX_RESULT_HEADERS];
	size_t n_headers;
	bool stream_held;                  /* set by auth_stream_acquire() */
};

struct auth;

/*
 * Loads the files of cfg and copies everything it needs, so cfg and its
 * strings may go away after the call. Returns PC_OK, or PC_ERR_INVALID,
 * PC_ERR_LIMIT, PC_ERR_IO or PC_ERR_NOMEM with a message naming the file
 * and line in errbuf. The caller frees *out with auth_free().
 */
int auth_new(const struct auth_config *cfg, struct auth **out, char *errbuf,
    size_t errlen);

void auth_free(struct auth *a);

/* True when a credentials file is configured, so clients must log in. */
bool auth_requires_credentials(const struct auth *a);

/*
 * Decides one request. repository is the name to authorise, or NULL for
 * the /v2/ ping, which needs authentication only. client_subject is the
 * subject of a client certificate that TLS verified, or NULL. Fills *res
 * and returns res->outcome. Logs every failure and refusal with the
 * client address and user, never a password or token.
 */
enum auth_outcome auth_check(struct auth *a, const struct http_request *req,
    const char *repository, const char *client_subject,
    struct auth_result *res);

/*
 * Opens a blob stream for the client and user of res (from an AUTH_OK
 * auth_check()). Returns AUTH_OK and sets res->stream_held, or
 * AUTH_RATE_LIMITED with res filled as a 429.
 */
enum auth_outcome auth_stream_acquire(struct auth *a, struct auth_result *res);

/* Closes the stream of res, if it has one open. Safe to call twice. */
void auth_stream_release(struct auth *a, struct auth_result *res);

/*
 * Returns a new JSON object with the counters: auth_failures by reason,
 * successes, denied, rate_limited by limit, the verification cache and
 * the tracked clients and streams. NULL when memory runs out.
 */
json_t *auth_stats(struct auth *a);

/*
 * Writes the subject of the client certificate that TLS verified on ssl
 * (an OpenSSL SSL) into out, in RFC 2253 form: the most specific name
 * first, "CN=build-7,O=Example" for a certificate issued to
 * "/O=Example/CN=build-7". Call it after the handshake. Returns PC_OK,
 * PC_ERR_NOTFOUND when the client sent no certificate, it failed
 * verification or its subject is empty, PC_ERR_LIMIT when the subject is
 * longer than AUTH_MAX_SUBJECT_BYTES or outlen - 1, or PC_ERR_NOMEM.
 */
struct ssl_st;
int auth_tls_client_subject(const struct ssl_st *ssl, char *out,
    size_t outlen);

/* Returns the static name of a failure reason, e.g. "bad_password". */
const char *auth_failure_name(enum auth_failure reason);

#endif
