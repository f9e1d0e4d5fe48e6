#include "cache/names.h"

#include <stddef.h>
#include <string.h>

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * Matches one path component, [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, starting
 * at s. Returns the number of bytes matched, or 0 when s does not start
 * with a valid component or a separator is not followed by [a-z0-9].
 */
static size_t
match_component(const char *s)
{
	size_t i = 0;

	for (;;) {
		size_t run = 0;

		while (is_lower_alnum(s[i])) {
			i++;
			run++;
		}
		if (run == 0)
			return 0;

		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i += s[i + 1] == '_' ? 2 : 1;
		} else if (s[i] == '-') {
			while (s[i] == '-')
				i++;
		} else {
			return i;
		}
		/* A separator must be followed by another alphanumeric run. */
		if (!is_lower_alnum(s[i]))
			return 0;
	}
}

bool
repo_name_is_valid(const char *name)
{
	size_t pos = 0;

	if (name == NULL || strnlen(name, REPO_NAME_MAX_LEN + 1) > REPO_NAME_MAX_LEN)
		return false;

	for (;;) {
		size_t len = match_component(name + pos);

		if (len == 0)
			return false;
		pos += len;
		if (name[pos] == '\0')
			return true;
		if (name[pos] != '/')
			return false;
		pos++;
	}
}

static bool
is_tag_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool
tag_is_valid(const char *tag)
{
	size_t len;

	if (tag == NULL)
		return false;
	len = strnlen(tag, TAG_MAX_LEN + 1);
	if (len == 0 || len > TAG_MAX_LEN)
		return false;
	if (tag[0] == '.' || tag[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_tag_char(tag[i]))
			return false;
	}
	return true;
}
