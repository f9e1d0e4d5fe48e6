#include "common/yamltree.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"

struct yaml_loader {
	yaml_parser_t parser;
	struct yamltree *tree;
	const char *name;
	char *errbuf;
	size_t errlen;
	size_t nodes;
};

static int load_node(struct yaml_loader *ld, yaml_event_t *ev,
    const char *pointer, int depth, json_t **out);

static int loader_error(struct yaml_loader *ld, int err, size_t line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
loader_error(struct yaml_loader *ld, int err, size_t line, const char *fmt,
    ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(ld->errbuf, ld->errlen, "%s:%zu: %s", ld->name, line, reason);
	return err;
}

static int
next_event(struct yaml_loader *ld, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ld->parser, ev)) {
		return loader_error(ld, PC_ERR_INVALID,
		    ld->parser.problem_mark.line + 1, "invalid YAML: %s",
		    ld->parser.problem ? ld->parser.problem : "syntax error");
	}
	return PC_OK;
}

static int
is_one_of(const char *s, const char *const *words)
{
	for (; *words != NULL; words++) {
		if (strcmp(s, *words) == 0)
			return 1;
	}
	return 0;
}

/* Applies the YAML 1.2 core schema to a plain scalar. */
static json_t *
plain_scalar(const char *s)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	char *end;

	if (is_one_of(s, nulls))
		return json_null();
	if (is_one_of(s, trues))
		return json_true();
	if (is_one_of(s, falses))
		return json_false();

	if ((s[0] >= '0' && s[0] <= '9') ||
	    ((s[0] == '-' || s[0] == '+') && s[1] >= '0' && s[1] <= '9')) {
		long long v;
		double d;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (*end == '\0' && errno == 0)
			return json_integer(v);
		errno = 0;
		d = strtod(s, &end);
		if (*end == '\0' && errno == 0 && isfinite(d) &&
		    strpbrk(s, "xXpP") == NULL)
			return json_real(d);
	}
	return json_string(s);
}

static int
record_line(struct yaml_loader *ld, const char *pointer, size_t line)
{
	json_t *v = json_integer((json_int_t)line + 1);

	if (v == NULL || json_object_set_new(ld->tree->lines, pointer, v) != 0)
		return PC_ERR_NOMEM;
	return PC_OK;
}

/* Appends a JSON pointer token, escaping '~' and '/' (RFC 6901). */
static int
pointer_join(struct buf *b, const char *base, const char *token)
{
	int err = buf_append_str(b, base);

	if (err == PC_OK)
		err = buf_append(b, "/", 1);
	for (const char *p = token; err == PC_OK && *p != '\0'; p++) {
		if (*p == '~')
			err = buf_append(b, "~0", 2);
		else if (*p == '/')
			err = buf_append(b, "~1", 2);
		else
			err = buf_append(b, p, 1);
	}
	return err;
}

static int
load_mapping(struct yaml_loader *ld, const char *pointer, int depth,
    json_t *obj)
{
	yaml_event_t key_ev;
	yaml_event_t val_ev;
	struct buf child;
	json_t *value;
	int err;

	buf_init(&child, 64 * 1024);
	for (;;) {
		err = next_event(ld, &key_ev);
		if (err != PC_OK)
			break;
		if (key_ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&key_ev);
			break;
		}
		if (key_ev.type != YAML_SCALAR_EVENT) {
			err = loader_error(ld, PC_ERR_INVALID,
			    key_ev.start_mark.line + 1,
			    "mapping keys must be plain strings");
			yaml_event_delete(&key_ev);
			break;
		}

		const char *key = (const char *)key_ev.data.scalar.value;

		if (json_object_get(obj, key) != NULL) {
			err = loader_error(ld, PC_ERR_INVALID,
			    key_ev.start_mark.line + 1, "duplicate key \"%s\"", key);
			yaml_event_delete(&key_ev);
			break;
		}
		buf_reset(&child);
		err = pointer_join(&child, pointer, key);
		if (err == PC_OK)
			err = record_line(ld, child.data, key_ev.start_mark.line);
		if (err == PC_OK)
			err = next_event(ld, &val_ev);
		if (err != PC_OK) {
			yaml_event_delete(&key_ev);
			break;
		}
		value = NULL;
		err = load_node(ld, &val_ev, child.data, depth + 1, &value);
		yaml_event_delete(&val_ev);
		if (err == PC_OK && json_object_set_new(obj, key, value) != 0)
			err = PC_ERR_NOMEM;
		yaml_event_delete(&key_ev);
		if (err != PC_OK)
			break;
	}
	buf_free(&child);
	return err;
}

static int
load_sequence(struct yaml_loader *ld, const char *pointer, int depth,
    json_t *arr)
{
	yaml_event_t ev;
	char index[32];
	struct buf child;
	json_t *value;
	int err;

	buf_init(&child, 64 * 1024);
	for (;;) {
		err = next_event(ld, &ev);
		if (err != PC_OK)
			break;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		snprintf(index, sizeof(index), "%zu", json_array_size(arr));
		buf_reset(&child);
		err = pointer_join(&child, pointer, index);
		if (err == PC_OK)
			err = record_line(ld, child.data, ev.start_mark.line);
		value = NULL;
		if (err == PC_OK)
			err = load_node(ld, &ev, child.data, depth + 1, &value);
		yaml_event_delete(&ev);
		if (err == PC_OK && json_array_append_new(arr, value) != 0)
			err = PC_ERR_NOMEM;
		if (err != PC_OK)
			break;
	}
	buf_free(&child);
	return err;
}

static int
check_tag(struct yaml_loader *ld, const yaml_char_t *tag, size_t line)
{
	static const char *const allowed[] = {
		"tag:yaml.org,2002:str", "tag:yaml.org,2002:map",
		"tag:yaml.org,2002:seq", "!", NULL,
	};

	if (tag == NULL || is_one_of((const char *)tag, allowed))
		return PC_OK;
	return loader_error(ld, PC_ERR_UNSUPPORTED, line,
	    "unsupported YAML tag %s", (const char *)tag);
}

static int
load_node(struct yaml_loader *ld, yaml_event_t *ev, const char *pointer,
    int depth, json_t **out)
{
	size_t line = ev->start_mark.line + 1;
	int err;

	if (depth > YAMLTREE_MAX_DEPTH)
		return loader_error(ld, PC_ERR_LIMIT, line,
		    "nesting deeper than the limit of 64 levels");
	if (++ld->nodes > YAMLTREE_MAX_NODES)
		return loader_error(ld, PC_ERR_LIMIT, line,
		    "more nodes than the limit of 200000");

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return loader_error(ld, PC_ERR_UNSUPPORTED, line,
		    "YAML aliases are not supported");
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor != NULL)
			return loader_error(ld, PC_ERR_UNSUPPORTED, line,
			    "YAML anchors are not supported");
		err = check_tag(ld, ev->data.scalar.tag, line);
		if (err != PC_OK)
			return err;
		if (ev->data.scalar.plain_implicit && ev->data.scalar.tag == NULL)
			*out = plain_scalar((const char *)ev->data.scalar.value);
		else
			*out = json_stringn((const char *)ev->data.scalar.value,
			    ev->data.scalar.length);
		/* libyaml has checked the UTF-8 already: NULL means no memory. */
		if (*out == NULL)
			return PC_ERR_NOMEM;
		return PC_OK;
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor != NULL)
			return loader_error(ld, PC_ERR_UNSUPPORTED, line,
			    "YAML anchors are not supported");
		*out = json_object();
		if (*out == NULL)
			return PC_ERR_NOMEM;
		err = load_mapping(ld, pointer, depth, *out);
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor != NULL)
			return loader_error(ld, PC_ERR_UNSUPPORTED, line,
			    "YAML anchors are not supported");
		*out = json_array();
		if (*out == NULL)
			return PC_ERR_NOMEM;
		err = load_sequence(ld, pointer, depth, *out);
		break;
	default:
		return loader_error(ld, PC_ERR_INVALID, line,
		    "unexpected YAML event");
	}
	if (err != PC_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

static int
load_document(struct yaml_loader *ld)
{
	yaml_event_t ev;
	json_t *root = NULL;
	int err;

	/* Stream start, then document start or stream end. */
	for (;;) {
		err = next_event(ld, &ev);
		if (err != PC_OK)
			return err;
		if (ev.type == YAML_STREAM_START_EVENT ||
		    ev.type == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			root = json_object();
			if (root == NULL)
				return PC_ERR_NOMEM;
			ld->tree->root = root;
			return PC_OK;
		}
		break;
	}

	err = record_line(ld, "", ev.start_mark.line);
	if (err == PC_OK)
		err = load_node(ld, &ev, "", 0, &root);
	yaml_event_delete(&ev);
	if (err != PC_OK)
		return err;
	if (json_is_null(root)) {
		json_decref(root);
		root = json_object();
		if (root == NULL)
			return PC_ERR_NOMEM;
	}
	ld->tree->root = root;

	err = next_event(ld, &ev);
	if (err != PC_OK)
		return err;
	if (ev.type == YAML_DOCUMENT_END_EVENT) {
		yaml_event_delete(&ev);
		err = next_event(ld, &ev);
		if (err != PC_OK)
			return err;
	}
	if (ev.type != YAML_STREAM_END_EVENT) {
		err = loader_error(ld, PC_ERR_UNSUPPORTED, ev.start_mark.line + 1,
		    "more than one YAML document in one file");
	}
	yaml_event_delete(&ev);
	return err;
}

int
yamltree_load_string(const char *name, const char *text, size_t len,
    struct yamltree *tree, char *errbuf, size_t errlen)
{
	struct yaml_loader ld;
	int err;

	memset(tree, 0, sizeof(*tree));
	memset(&ld, 0, sizeof(ld));
	ld.tree = tree;
	ld.name = name;
	ld.errbuf = errbuf;
	ld.errlen = errlen;
	if (errlen > 0)
		errbuf[0] = '\0';

	if (len > YAMLTREE_MAX_FILE_BYTES)
		return loader_error(&ld, PC_ERR_LIMIT, 0,
		    "file larger than the limit of 4 MiB");

	tree->path = pc_strdup(name);
	tree->lines = json_object();
	if (tree->path == NULL || tree->lines == NULL) {
		yamltree_free(tree);
		return PC_ERR_NOMEM;
	}
	if (!yaml_parser_initialize(&ld.parser)) {
		yamltree_free(tree);
		return PC_ERR_NOMEM;
	}
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)text, len);
	err = load_document(&ld);
	yaml_parser_delete(&ld.parser);
	if (err == PC_ERR_NOMEM && errlen > 0 && errbuf[0] == '\0')
		snprintf(errbuf, errlen, "%s: out of memory", name);
	if (err != PC_OK)
		yamltree_free(tree);
	return err;
}

int
yamltree_load_file(const char *path, struct yamltree *tree, char *errbuf,
    size_t errlen)
{
	struct buf text;
	char chunk[16384];
	FILE *f;
	size_t n;
	int err = PC_OK;

	memset(tree, 0, sizeof(*tree));
	f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(errbuf, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return PC_ERR_IO;
	}
	buf_init(&text, YAMLTREE_MAX_FILE_BYTES);
	while (err == PC_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		err = buf_append(&text, chunk, n);
	if (err == PC_OK && ferror(f))
		err = PC_ERR_IO;
	fclose(f);

	if (err == PC_ERR_LIMIT)
		snprintf(errbuf, errlen, "%s: file larger than the limit of 4 MiB",
		    path);
	else if (err != PC_OK)
		snprintf(errbuf, errlen, "%s: cannot read: %s", path,
		    pc_strerror(err));
	else
		err = yamltree_load_string(path, text.data ? text.data : "",
		    text.len, tree, errbuf, errlen);
	buf_free(&text);
	return err;
}

void
yamltree_free(struct yamltree *tree)
{
	json_decref(tree->root);
	json_decref(tree->lines);
	pc_free(tree->path);
	memset(tree, 0, sizeof(*tree));
}

int
yamltree_line(const struct yamltree *tree, const char *pointer)
{
	char *p = pc_strdup(pointer);
	int line = 0;

	if (p == NULL || tree->lines == NULL) {
		pc_free(p);
		return 0;
	}
	for (;;) {
		json_t *v = json_object_get(tree->lines, p);
		char *slash;

		if (v != NULL) {
			line = (int)json_integer_value(v);
			break;
		}
		slash = strrchr(p, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
	}
	pc_free(p);
	return line;
}
