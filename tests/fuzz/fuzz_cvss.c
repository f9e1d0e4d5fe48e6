/*
 * libFuzzer target for CVSS vectors: cvss_score_ex() on the input as a
 * NUL-terminated string (cut at its first NUL byte), which covers the
 * v3.0, v3.1 and v4.0 parsers, then cvss_rating() on the score. Built
 * and run by tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/error.h"
#include "scanner/cvss.h"
#include "tests/fuzz/fuzz_util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *vector = fuzz_strndup(data, size);
	const char *rating;
	char reason[256];
	double score;

	if (vector == NULL)
		return 0;
	if (cvss_score_ex(vector, &score, &rating, reason, sizeof(reason)) ==
	    PC_OK) {
		if (score < 0.0 || score > 10.0)
			abort();
		cvss_rating(score);
	}
	cvss_score(vector, NULL, NULL);
	free(vector);
	return 0;
}
