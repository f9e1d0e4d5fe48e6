/*
 * libFuzzer target for the image JSON the gate builds a report from. The
 * input is split at NUL bytes into documents, each loaded with
 * json_loadb() as the gate loads the config blob. The first document is
 * the image config, given to image_config_analyze(); the others are
 * layer results (scanner/layer_result.h layout), bottom first, given to
 * image_merge(). Both outputs are serialised, as the report is before it
 * is stored. Built and run by tests/fuzz/run.sh.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/error.h"
#include "scanner/image_config.h"
#include "scanner/merge.h"
#include "tests/fuzz/fuzz_util.h"

/* Maximum layer results merged from one input. Later documents are ignored. */
#define FUZZ_MAX_LAYERS 16

static void
dump_and_free(json_t *value)
{
	char *text = json_dumps(value, JSON_COMPACT);

	free(text);
	json_decref(value);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *layers[FUZZ_MAX_LAYERS];
	json_t *config = NULL;
	json_t *out = NULL;
	size_t n_layers = 0;
	size_t off = 0;
	bool first = true;
	json_error_t jerr;

	while (off <= size && n_layers < FUZZ_MAX_LAYERS) {
		const uint8_t *nul = memchr(data + off, '\0', size - off);
		size_t len = nul != NULL ? (size_t)(nul - (data + off)) : size - off;
		json_t *doc = json_loadb((const char *)data + off, len, 0, &jerr);

		if (first)
			config = doc;
		else if (doc != NULL)
			layers[n_layers++] = doc;
		first = false;
		if (nul == NULL)
			break;
		off += len + 1;
	}

	if (config != NULL && image_config_analyze(config, &out) == PC_OK)
		dump_and_free(out);
	if (n_layers > 0 && image_merge(layers, n_layers, &out) == PC_OK)
		dump_and_free(out);

	json_decref(config);
	for (size_t i = 0; i < n_layers; i++)
		json_decref(layers[i]);
	return 0;
}
