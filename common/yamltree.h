#ifndef PORTCULLIS_COMMON_YAMLTREE_H
#define PORTCULLIS_COMMON_YAMLTREE_H

#include <stddef.h>

#include <jansson.h>

/*
 * Loads a YAML document into a jansson tree, for the configuration and the
 * policy: one code path for both. Plain scalars follow the YAML core
 * schema (null, true/false, integers, floats, else strings); quoted
 * scalars are always strings. Anchors, aliases and tags other than the
 * core ones are rejected, so a document cannot expand beyond its size.
 *
 * Each node's line is kept in a lines object keyed by its JSON pointer
 * ("/rules/secrets/weight"), so a checker can report file:line.
 */

/* Largest YAML file accepted, in bytes. */
#define YAMLTREE_MAX_FILE_BYTES (4u << 20)
/* Deepest nesting of mappings and sequences accepted. */
#define YAMLTREE_MAX_DEPTH 64
/* Most nodes (scalars, mappings, sequences) in one document. */
#define YAMLTREE_MAX_NODES 200000

struct yamltree {
	json_t *root;   /* the document; an empty document is an empty object */
	json_t *lines;  /* JSON pointer -> line number (1-based) */
	char *path;     /* the file name, for messages */
};

/*
 * Parses path into tree. On failure returns PC_ERR_INVALID, PC_ERR_LIMIT,
 * PC_ERR_IO or PC_ERR_NOMEM and writes "file:line: reason" into errbuf.
 * The caller frees a loaded tree with yamltree_free().
 */
int yamltree_load_file(const char *path, struct yamltree *tree,
    char *errbuf, size_t errlen);

/* The same for a document in memory; name is used in messages. */
int yamltree_load_string(const char *name, const char *text, size_t len,
    struct yamltree *tree, char *errbuf, size_t errlen);

void yamltree_free(struct yamltree *tree);

/*
 * Returns the line of the node at pointer, or of its nearest ancestor
 * that has one; 0 if none is known.
 */
int yamltree_line(const struct yamltree *tree, const char *pointer);

#endif
