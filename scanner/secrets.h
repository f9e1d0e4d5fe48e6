#ifndef PORTCULLIS_SCANNER_SECRETS_H
#define PORTCULLIS_SCANNER_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * The secret matchers behind the secrets analyzer (key "secrets") and the
 * image config check. Rules: PEM private keys, AWS access key ids and
 * secret access keys, GitHub, GitLab, Slack, npm, PyPI, Google API and
 * Stripe live keys, and "auth" entries of Docker and Podman credential
 * files. Each rule runs only when one of its keywords occurs in the
 * lower-cased text.
 *
 * A finding is {"rule", "title", "severity", "line", "redacted"}. The
 * secret itself is never stored or logged: "redacted" keeps its first 4
 * characters (fewer for secrets under 8 characters) and replaces the rest
 * with '*', at most SECRETS_REDACTED_MAX characters in all.
 */

/* Files larger than this are not scanned for secrets. */
#define SECRETS_MAX_FILE_BYTES (10U << 20)
/* Files smaller than this are not scanned: no rule matches so few bytes. */
#define SECRETS_MIN_FILE_BYTES 10U
/* Findings kept per file; further matches are dropped. */
#define SECRETS_MAX_FINDINGS_PER_FILE 32U
/* Length of the redacted form, stars included. */
#define SECRETS_REDACTED_MAX 40U
/*
 * Bytes scanned at once, and the overlap kept between windows. The overlap
 * exceeds the longest text a rule matches, so a secret that crosses a
 * chunk boundary is found whole, exactly once.
 */
#define SECRETS_WINDOW_BYTES (64U * 1024U)
#define SECRETS_OVERLAP_BYTES 2048U

/*
 * Tells whether the secrets analyzer skips path by name: documentation,
 * headers, locales, package metadata, test folders of installed packages,
 * lockfiles, images and archives.
 */
bool secrets_path_skipped(const char *path);

/*
 * Scans len bytes of text and appends up to max_findings findings to the
 * array findings. path (may be NULL) enables path-scoped rules, such as
 * the "auth" entries of .docker/config.json. Returns PC_OK or
 * PC_ERR_NOMEM.
 */
int secrets_scan_buffer(const unsigned char *data, size_t len,
    const char *path, size_t max_findings, json_t *findings);

/*
 * Writes the redacted form of the len bytes at secret into out, which
 * needs SECRETS_REDACTED_MAX + 1 bytes.
 */
void secrets_redact(const char *secret, size_t len, char *out);

#endif
