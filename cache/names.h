#ifndef PORTCULLIS_CACHE_NAMES_H
#define PORTCULLIS_CACHE_NAMES_H

#include <stdbool.h>

/*
 * Validation of the names a client puts in /v2/ paths, following the OCI
 * distribution spec's grammar. The router checks every name and tag with
 * these before it touches a cache or the upstream.
 */

/* Maximum length of a repository name, all components and slashes. */
#define REPO_NAME_MAX_LEN 255

/* Maximum length of a tag. */
#define TAG_MAX_LEN 128

/*
 * Returns true when name matches
 *   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * and has at most REPO_NAME_MAX_LEN bytes. NULL is invalid.
 */
bool repo_name_is_valid(const char *name);

/*
 * Returns true when tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
 * NULL is invalid.
 */
bool tag_is_valid(const char *tag);

#endif
