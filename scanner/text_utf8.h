#ifndef PORTCULLIS_SCANNER_TEXT_UTF8_H
#define PORTCULLIS_SCANNER_TEXT_UTF8_H

#include <stddef.h>

/*
 * UTF-8 repair for text taken from image files, and for messages that
 * snprintf() may have cut inside a multi-byte character: jansson accepts
 * only valid UTF-8 in strings and object keys.
 */

/*
 * Replaces each byte of the NUL-terminated s that starts no valid UTF-8
 * sequence (overlong forms, surrogates and code points above U+10FFFF
 * included) with '?'.
 */
void text_utf8_sanitize(char *s);

#endif
