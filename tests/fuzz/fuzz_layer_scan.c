/*
 * libFuzzer target for layer blobs: layer_scan_run() with every analyzer
 * on a memfd containing the input, as the gate scans a downloaded blob.
 * The media type (tar, tar+gzip, tar+zstd) only matters for inputs too
 * short to carry a magic number, so the input size modulo 3 picks it and
 * seed files keep their format. Built and run by tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "common/error.h"
#include "scanner/layer_result.h"
#include "scanner/layer_scan.h"
#include "tests/fuzz/fuzz_util.h"

/*
 * Uncompressed bytes per input, far below the 32 GiB default: with the
 * defaults a small zstd input can expand to SCAN_DEFAULT_RATIO_MIN_BYTES
 * (256 MiB) before the ratio check stops it, which slows the run.
 */
#define FUZZ_MAX_LAYER_BYTES (64ULL << 20)
/* Low enough that the ratio check runs below FUZZ_MAX_LAYER_BYTES. */
#define FUZZ_RATIO_MIN_BYTES (1ULL << 20)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const media_types[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
	};
	struct scan_limits limits;
	struct layer_result res;
	struct scan_source *src;
	int fd = fuzz_memfd("layer", data, size);

	if (fd < 0)
		return 0;
	scan_limits_default(&limits);
	limits.max_layer_bytes = FUZZ_MAX_LAYER_BYTES;
	limits.ratio_min_bytes = FUZZ_RATIO_MIN_BYTES;
	src = scan_source_fd_new(fd);
	if (src != NULL && layer_result_init(&res, NULL) == PC_OK) {
		layer_scan_run(src, media_types[size % 3], NULL, &limits, &res);
		layer_result_free(&res);
	}
	scan_source_free(src);
	close(fd);
	return 0;
}
