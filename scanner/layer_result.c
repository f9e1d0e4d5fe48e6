#include "scanner/layer_result.h"

#include "common/error.h"

int
layer_result_init(struct layer_result *res, const char *digest)
{
	res->root = json_pack("{s:s?, s:s, s:{}, s:[], s:[], s:[], s:{}}",
	    "digest", digest, "scanner_version", SCANNER_VERSION, "files",
	    "whiteouts", "opaque", "errors", "stats");
	return res->root != NULL ? PC_OK : PC_ERR_NOMEM;
}

void
layer_result_free(struct layer_result *res)
{
	json_decref(res->root);
	res->root = NULL;
}

static json_t *
file_entry(struct layer_result *res, const char *path)
{
	json_t *files = json_object_get(res->root, "files");
	json_t *entry = json_object_get(files, path);

	if (entry != NULL)
		return entry;
	entry = json_object();
	if (entry == NULL || json_object_set_new(files, path, entry) != 0)
		return NULL;
	return entry;
}

int
layer_result_set(struct layer_result *res, const char *path, const char *key,
    json_t *value)
{
	json_t *entry = file_entry(res, path);

	if (entry == NULL || value == NULL) {
		json_decref(value);
		return PC_ERR_NOMEM;
	}
	return json_object_set_new(entry, key, value) == 0 ? PC_OK : PC_ERR_NOMEM;
}

int
layer_result_append(struct layer_result *res, const char *path,
    const char *key, json_t *item)
{
	json_t *entry = file_entry(res, path);
	json_t *arr;

	if (entry == NULL || item == NULL) {
		json_decref(item);
		return PC_ERR_NOMEM;
	}
	arr = json_object_get(entry, key);
	if (!json_is_array(arr)) {
		arr = json_array();
		if (arr == NULL || json_object_set_new(entry, key, arr) != 0) {
			json_decref(item);
			return PC_ERR_NOMEM;
		}
	}
	return json_array_append_new(arr, item) == 0 ? PC_OK : PC_ERR_NOMEM;
}

static int
append_string(struct layer_result *res, const char *key, const char *s)
{
	json_t *arr = json_object_get(res->root, key);

	return json_array_append_new(arr, json_string(s)) == 0 ? PC_OK :
	    PC_ERR_NOMEM;
}

int
layer_result_add_whiteout(struct layer_result *res, const char *path)
{
	return append_string(res, "whiteouts", path);
}

int
layer_result_add_opaque(struct layer_result *res, const char *dir)
{
	return append_string(res, "opaque", dir);
}

int
layer_result_add_error(struct layer_result *res, const char *kind,
    const char *message)
{
	json_t *arr = json_object_get(res->root, "errors");
	json_t *item = json_pack("{s:s, s:s}", "kind", kind, "message", message);

	if (item == NULL)
		return PC_ERR_NOMEM;
	return json_array_append_new(arr, item) == 0 ? PC_OK : PC_ERR_NOMEM;
}
