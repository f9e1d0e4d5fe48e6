/*
 * libFuzzer target for the rpm database analyzer. An input that starts
 * with the SQLite file header is the rpmdb.sqlite file itself. Any other
 * input is one rpm header blob: the target stores it as the only row of
 * a Packages table shaped as rpm >= 4.16 creates it, serialises that
 * database and hands the file to the analyzer, so the header parser gets
 * the input through analyze() as it gets it from an image. Built and run
 * by tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/error.h"
#include "scanner/analyzers.h"
#include "tests/fuzz/fuzz_util.h"

static const char sqlite_header[] = "SQLite format 3";

/* Builds a database with blob as its one Packages row and returns the
 * serialised file (free with sqlite3_free()), or NULL on failure. */
static unsigned char *
rpmdb_build(const uint8_t *blob, size_t len, sqlite3_int64 *db_len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	unsigned char *file = NULL;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		goto out;
	if (sqlite3_exec(db, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY "
	    "AUTOINCREMENT, blob BLOB NOT NULL)", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, "INSERT INTO Packages (blob) VALUES (?)", -1,
	    &stmt, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_bind_blob64(stmt, 1, blob, len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_DONE)
		goto out;
	file = sqlite3_serialize(db, "main", db_len, 0);
out:
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return file;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_file f = {0};
	struct layer_result res;
	unsigned char *built = NULL;
	const unsigned char *file = data;
	size_t file_len = size;
	size_t max = 0;

	if (size < sizeof(sqlite_header) ||
	    memcmp(data, sqlite_header, sizeof(sqlite_header)) != 0) {
		sqlite3_int64 built_len = 0;

		built = rpmdb_build(data, size, &built_len);
		if (built == NULL)
			return 0;
		file = built;
		file_len = (size_t)built_len;
	}
	f.path = "var/lib/rpm/rpmdb.sqlite";
	f.mode = S_IFREG | 0644;
	f.size = (int64_t)file_len;
	if (analyzer_rpm.wants(&f, &max) == ANALYZER_CONTENT &&
	    layer_result_init(&res, NULL) == PC_OK) {
		analyzer_rpm.analyze(&f, file, file_len < max ? file_len : max,
		    file_len > max, &res);
		layer_result_free(&res);
	}
	sqlite3_free(built);
	return 0;
}
