#include "scanner/analyzers.h"

#include <stddef.h>

/*
 * The analyzers that the tar walker runs, in order. Each analyzer_*.c file
 * defines one `const struct analyzer analyzer_<name>` and adds it here.
 */
const struct analyzer *const scanner_analyzers[] = {
	&analyzer_os,
	&analyzer_dpkg,
	&analyzer_apk,
	&analyzer_rpm,
	&analyzer_files,
	&analyzer_secrets,
	&analyzer_python,
	&analyzer_npm,
	&analyzer_go,
	&analyzer_java,
	NULL,
};
