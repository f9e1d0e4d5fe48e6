#include "scanner/analyzers.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"

/*
 * Risky file modes, from tar metadata alone: setuid or setgid regular
 * files anywhere, and world-writable regular files and directories
 * outside the temporary directories. A world-writable directory with the
 * sticky bit set is not reported, because only owners can remove or
 * rename entries in it.
 */

/* Directories meant to be world-writable; their entries are exempt too. */
static const char *const tmp_dirs[] = {
	"tmp",
	"var/tmp",
	"dev/shm",
	"run/lock",
	"var/lock",
};

static bool
in_tmp_dir(const char *path)
{
	for (size_t i = 0; i < sizeof(tmp_dirs) / sizeof(tmp_dirs[0]); i++) {
		size_t len = strlen(tmp_dirs[i]);

		if (strncmp(path, tmp_dirs[i], len) == 0 &&
		    (path[len] == '\0' || path[len] == '/'))
			return true;
	}
	return false;
}

static bool
world_writable_risky(const struct scan_file *f)
{
	if ((f->mode & S_IWOTH) == 0 || in_tmp_dir(f->path))
		return false;
	if (S_ISDIR(f->mode))
		return (f->mode & S_ISVTX) == 0;
	return S_ISREG(f->mode);
}

static bool
setid_file(const struct scan_file *f)
{
	return S_ISREG(f->mode) && (f->mode & (S_ISUID | S_ISGID)) != 0;
}

static enum analyzer_want
files_wants(const struct scan_file *f, size_t *max_bytes)
{
	if (setid_file(f) || world_writable_risky(f))
		return ANALYZER_META;
	return ANALYZER_SKIP;
}

static int
files_analyze(const struct scan_file *f, const unsigned char *data,
    size_t len, bool truncated, struct layer_result *res)
{
	char mode[16];
	json_t *entry;
	bool setid = setid_file(f);

	if (!setid && !world_writable_risky(f))
		return PC_OK;
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(f->mode & 07777));
	entry = json_pack("{s:s, s:b, s:b, s:b, s:I}", "mode", mode,
	    "setuid", setid && (f->mode & S_ISUID) != 0,
	    "setgid", setid && (f->mode & S_ISGID) != 0,
	    "world_writable", world_writable_risky(f),
	    "uid", (json_int_t)f->uid);
	if (entry == NULL)
		return PC_ERR_NOMEM;
	return layer_result_set(res, f->path, "file", entry);
}

const struct analyzer analyzer_files = {
	.name = "files",
	.wants = files_wants,
	.analyze = files_analyze,
};
