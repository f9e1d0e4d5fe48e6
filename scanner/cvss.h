#ifndef PORTCULLIS_SCANNER_CVSS_H
#define PORTCULLIS_SCANNER_CVSS_H

#include <stddef.h>

/*
 * CVSS base scores from vector strings, for advisories that carry a vector
 * but no number (OSV "severity" entries of type CVSS_V3 and CVSS_V4).
 *
 * Supported versions:
 *   CVSS:3.0 and CVSS:3.1 base score, each with its own Roundup: 3.0
 *     rounds ceil(x * 10) / 10 in floating point, and 3.1 uses the
 *     integer Roundup that the 3.1 specification defines.
 *   CVSS:4.0 base score (CVSS-B): macrovector equivalence classes, the
 *     FIRST lookup table of macrovector scores and the severity-distance
 *     interpolation of the FIRST CVSS v4.0 specification.
 *
 * Validation is strict: the prefix, every mandatory base metric exactly
 * once, known metric names and values, no empty parts, no duplicates.
 * Version 3 vectors may list metrics in any order; version 4 vectors must
 * follow the order of the specification's metric table. Temporal and
 * environmental (v3) or threat, environmental and supplemental (v4)
 * metrics are validated but not applied: the score is always the base
 * score.
 */

/* Maximum length of a vector string, in bytes. */
#define CVSS_MAX_VECTOR_LEN 512

/*
 * Computes the base score of vector into *score (0.0 to 10.0, one decimal)
 * and points *rating at a static severity word: "critical", "high",
 * "medium", "low" or "none". Either output may be NULL.
 * Returns PC_OK, or PC_ERR_INVALID when the vector is malformed (outputs
 * unset).
 */
int cvss_score(const char *vector, double *score, const char **rating);

/*
 * The same as cvss_score(), and on PC_ERR_INVALID writes a one-line reason
 * naming the offending part into errbuf (size errlen; errbuf may be NULL).
 */
int cvss_score_ex(const char *vector, double *score, const char **rating,
    char *errbuf, size_t errlen);

/*
 * Returns the qualitative severity word of a base score on the v3/v4
 * scale: 0.0 "none", 0.1-3.9 "low", 4.0-6.9 "medium", 7.0-8.9 "high",
 * 9.0-10.0 "critical".
 */
const char *cvss_rating(double score);

#endif
