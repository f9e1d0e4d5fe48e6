#include "scanner/analyzer_error.h"

#include <stdarg.h>
#include <stdio.h>

int
analyzer_error(struct layer_result *res, const char *analyzer,
    const char *path, const char *fmt, ...)
{
	char reason[512];
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: %s: %s", analyzer, path, reason);
	return layer_result_add_error(res, "scan_error", msg);
}
