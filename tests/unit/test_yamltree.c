#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/yamltree.h"
#include "tests/unit/tmpdir_fixture.h"

static char errbuf[512];

static int
load(const char *text, struct yamltree *tree)
{
	return yamltree_load_string("test.yaml", text, strlen(text), tree, errbuf,
	    sizeof(errbuf));
}

/* Loads text, which must parse, and returns the tree's root. */
static json_t *
load_ok(const char *text, struct yamltree *tree)
{
	int err = load(text, tree);

	if (err != PC_OK)
		fail_msg("load failed (%d): %s", err, errbuf);
	assert_non_null(tree->root);
	return tree->root;
}

static void
assert_error_prefix(const char *prefix)
{
	if (strncmp(errbuf, prefix, strlen(prefix)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", errbuf, prefix);
}

static void
test_yaml_nulls(void **state)
{
	struct yamltree tree;
	json_t *root = load_ok("a: ~\nb: null\nc: Null\nd: NULL\ne:\n", &tree);

	assert_true(json_is_null(json_object_get(root, "a")));
	assert_true(json_is_null(json_object_get(root, "b")));
	assert_true(json_is_null(json_object_get(root, "c")));
	assert_true(json_is_null(json_object_get(root, "d")));
	assert_true(json_is_null(json_object_get(root, "e")));
	yamltree_free(&tree);
}

static void
test_yaml_booleans(void **state)
{
	struct yamltree tree;
	json_t *root = load_ok("a: true\nb: True\nc: TRUE\nd: false\ne: False\n"
	    "f: FALSE\ng: yes\nh: no\ni: on\nj: off\nk: tRUE\n", &tree);

	assert_true(json_is_true(json_object_get(root, "a")));
	assert_true(json_is_true(json_object_get(root, "b")));
	assert_true(json_is_true(json_object_get(root, "c")));
	assert_true(json_is_false(json_object_get(root, "d")));
	assert_true(json_is_false(json_object_get(root, "e")));
	assert_true(json_is_false(json_object_get(root, "f")));
	/* YAML 1.1 booleans are plain strings in the 1.2 core schema. */
	assert_string_equal(json_string_value(json_object_get(root, "g")), "yes");
	assert_string_equal(json_string_value(json_object_get(root, "h")), "no");
	assert_string_equal(json_string_value(json_object_get(root, "i")), "on");
	assert_string_equal(json_string_value(json_object_get(root, "j")), "off");
	assert_string_equal(json_string_value(json_object_get(root, "k")), "tRUE");
	yamltree_free(&tree);
}

static void
test_yaml_integers(void **state)
{
	struct yamltree tree;
	json_t *root = load_ok("a: 42\nb: -7\nc: +3\nd: 0\ne: 007\n"
	    "f: 9223372036854775807\ng: -9223372036854775808\n", &tree);

	assert_true(json_is_integer(json_object_get(root, "a")));
	assert_int_equal(json_integer_value(json_object_get(root, "a")), 42);
	assert_int_equal(json_integer_value(json_object_get(root, "b")), -7);
	assert_int_equal(json_integer_value(json_object_get(root, "c")), 3);
	assert_int_equal(json_integer_value(json_object_get(root, "d")), 0);
	assert_int_equal(json_integer_value(json_object_get(root, "e")), 7);
	assert_true(json_integer_value(json_object_get(root, "f")) == INT64_MAX);
	assert_true(json_integer_value(json_object_get(root, "g")) == INT64_MIN);
	yamltree_free(&tree);
}

static void
test_yaml_floats(void **state)
{
	struct yamltree tree;
	json_t *root = load_ok("a: 1.5\nb: -0.25\nc: 1e3\nd: 2.5E-1\ne: 3.\n", &tree);

	assert_true(json_is_real(json_object_get(root, "a")));
	assert_true(json_real_value(json_object_get(root, "a")) == 1.5);
	assert_true(json_real_value(json_object_get(root, "b")) == -0.25);
	assert_true(json_real_value(json_object_get(root, "c")) == 1000.0);
	assert_true(json_real_value(json_object_get(root, "d")) == 0.25);
	assert_true(json_real_value(json_object_get(root, "e")) == 3.0);
	yamltree_free(&tree);
}

static void
test_yaml_plain_strings(void **state)
{
	struct yamltree tree;
	json_t *root = load_ok("a: hello world\nb: 1.2.3\nc: 5m\nd: 20GiB\n"
	    "e: 1e\nf: -x\ng: 12abc\nh: 1e999\n", &tree);

	assert_string_equal(json_string_value(json_object_get(root, "a")), "hello world");
	assert_string_equal(json_string_value(json_object_get(root, "b")), "1.2.3");
	assert_string_equal(json_string_value(json_object_get(root, "c")), "5m");
	assert_string_equal(json_string_value(json_object_get(root, "d")), "20GiB");
	assert_string_equal(json_string_value(json_object_get(root, "e")), "1e");
	assert_string_equal(json_string_value(json_object_get(root, "f")), "-x");
	assert_string_equal(json_string_value(json_object_get(root, "g")), "12abc");
	/* Out of the double range: kept as text, never infinity. */
	assert_string_equal(json_string_value(json_object_get(root, "h")), "1e999");
	yamltree_free(&tree);
}

static void
test_yaml_quoted_stay_strings(void **state)
{
	struct yamltree tree;
	json_t *root = load_ok("a: \"42\"\nb: '1.5'\nc: \"true\"\nd: 'null'\n"
	    "e: \"~\"\nf: ''\ng: !!str 7\nh: ! 8\ni: |\n  9\n", &tree);

	assert_string_equal(json_string_value(json_object_get(root, "a")), "42");
	assert_string_equal(json_string_value(json_object_get(root, "b")), "1.5");
	assert_string_equal(json_string_value(json_object_get(root, "c")), "true");
	assert_string_equal(json_string_value(json_object_get(root, "d")), "null");
	assert_string_equal(json_string_value(json_object_get(root, "e")), "~");
	assert_string_equal(json_string_value(json_object_get(root, "f")), "");
	assert_string_equal(json_string_value(json_object_get(root, "g")), "7");
	assert_string_equal(json_string_value(json_object_get(root, "h")), "8");
	assert_string_equal(json_string_value(json_object_get(root, "i")), "9\n");
	yamltree_free(&tree);
}

static void
test_yaml_nested_structures(void **state)
{
	struct yamltree tree;
	json_t *root = load_ok("listen:\n"
	    "  - address: 127.0.0.1:5000\n"
	    "  - address: \"[::1]:5000\"\n"
	    "cache: {dir: /tmp/x, max_bytes: 1024}\n"
	    "hosts: [a, b]\n", &tree);
	json_t *listen = json_object_get(root, "listen");

	assert_true(json_is_array(listen));
	assert_int_equal(json_array_size(listen), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(listen, 1),
	    "address")), "[::1]:5000");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(root,
	    "cache"), "max_bytes")), 1024);
	assert_string_equal(json_string_value(json_array_get(json_object_get(root,
	    "hosts"), 1)), "b");
	yamltree_free(&tree);
}

static void
test_yaml_line_numbers(void **state)
{
	struct yamltree tree;

	load_ok("# comment\n"
	    "cache:\n"
	    "  dir: /var/cache\n"
	    "\n"
	    "listen:\n"
	    "  - address: a\n"
	    "    tls:\n"
	    "      cert: c.pem\n"
	    "  - address: b\n", &tree);
	assert_int_equal(yamltree_line(&tree, "/cache"), 2);
	assert_int_equal(yamltree_line(&tree, "/cache/dir"), 3);
	assert_int_equal(yamltree_line(&tree, "/listen"), 5);
	assert_int_equal(yamltree_line(&tree, "/listen/0"), 6);
	assert_int_equal(yamltree_line(&tree, "/listen/0/address"), 6);
	assert_int_equal(yamltree_line(&tree, "/listen/0/tls/cert"), 8);
	assert_int_equal(yamltree_line(&tree, "/listen/1/address"), 9);
	/* An unknown pointer takes its nearest known ancestor's line. */
	assert_int_equal(yamltree_line(&tree, "/listen/0/tls/nothing"), 7);
	assert_int_equal(yamltree_line(&tree, "/cache/dir/deeper/still"), 3);
	assert_int_equal(yamltree_line(&tree, "/nothing"), 2);
	yamltree_free(&tree);
}

static void
test_yaml_line_pointer_escapes(void **state)
{
	struct yamltree tree;

	load_ok("a:\n  b/c: 1\n  d~e: 2\n", &tree);
	assert_int_equal(yamltree_line(&tree, "/a/b~1c"), 2);
	assert_int_equal(yamltree_line(&tree, "/a/d~0e"), 3);
	/* The unescaped spelling names a different (absent) path. */
	assert_int_equal(yamltree_line(&tree, "/a/b/c"), 1);
	yamltree_free(&tree);
}

static void
test_yaml_duplicate_keys_rejected(void **state)
{
	struct yamltree tree;

	assert_int_equal(load("a: 1\nb: 2\na: 3\n", &tree), PC_ERR_INVALID);
	assert_error_prefix("test.yaml:3: ");
	assert_non_null(strstr(errbuf, "duplicate key \"a\""));
	assert_null(tree.root);

	assert_int_equal(load("x:\n  y: 1\n  y: 1\n", &tree), PC_ERR_INVALID);
	assert_error_prefix("test.yaml:3: ");

	assert_int_equal(load("{a: 1, a: 2}\n", &tree), PC_ERR_INVALID);
}

static void
test_yaml_anchors_aliases_rejected(void **state)
{
	struct yamltree tree;

	assert_int_equal(load("a: &x 1\nb: *x\n", &tree), PC_ERR_UNSUPPORTED);
	assert_error_prefix("test.yaml:1: ");
	assert_non_null(strstr(errbuf, "anchor"));
	assert_int_equal(load("a: &x {k: v}\n", &tree), PC_ERR_UNSUPPORTED);
	assert_int_equal(load("a: &x [1]\n", &tree), PC_ERR_UNSUPPORTED);
	assert_int_equal(load("a: *x\n", &tree), PC_ERR_UNSUPPORTED);
	assert_int_equal(load("base: &b {k: 1}\nother:\n  <<: *b\n", &tree),
	    PC_ERR_UNSUPPORTED);
	assert_null(tree.root);
}

static void
test_yaml_billion_laughs_rejected(void **state)
{
	static const char laughs[] =
	    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	struct yamltree tree;
	clock_t start = clock();

	assert_int_equal(load(laughs, &tree), PC_ERR_UNSUPPORTED);
	assert_null(tree.root);
	/* Rejected at the first anchor, long before any expansion. */
	assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 1.0);
}

static void
test_yaml_tags(void **state)
{
	struct yamltree tree;

	assert_int_equal(load("a: !!python/object:os.system x\n", &tree),
	    PC_ERR_UNSUPPORTED);
	assert_error_prefix("test.yaml:1: ");
	assert_int_equal(load("a: !custom x\n", &tree), PC_ERR_UNSUPPORTED);
	assert_int_equal(load("a: !!binary aGVsbG8=\n", &tree), PC_ERR_UNSUPPORTED);

	load_ok("a: !!map {b: 1}\nc: !!seq [1]\n", &tree);
	assert_true(json_is_object(json_object_get(tree.root, "a")));
	assert_true(json_is_array(json_object_get(tree.root, "c")));
	yamltree_free(&tree);
}

static void
test_yaml_complex_keys_rejected(void **state)
{
	struct yamltree tree;

	assert_int_equal(load("? [a, b]\n: 1\n", &tree), PC_ERR_INVALID);
	assert_error_prefix("test.yaml:1: ");
	assert_int_equal(load("{a: 1}: 2\n", &tree), PC_ERR_INVALID);
}

/* Builds n opening brackets, a scalar, then n closing brackets. */
static char *
nested_sequences(size_t n)
{
	char *text = malloc(2 * n + 2);

	assert_non_null(text);
	memset(text, '[', n);
	text[n] = '1';
	memset(text + n + 1, ']', n);
	text[2 * n + 1] = '\0';
	return text;
}

static void
test_yaml_depth_limit(void **state)
{
	struct yamltree tree;
	char *text;

	/* The scalar sits YAMLTREE_MAX_DEPTH levels below the root. */
	text = nested_sequences(YAMLTREE_MAX_DEPTH);
	load_ok(text, &tree);
	yamltree_free(&tree);
	free(text);

	text = nested_sequences(YAMLTREE_MAX_DEPTH + 1);
	assert_int_equal(load(text, &tree), PC_ERR_LIMIT);
	assert_error_prefix("test.yaml:1: ");
	assert_null(tree.root);
	free(text);

	/* Far deeper input is cut off at the limit, not by the stack. */
	text = nested_sequences(1000000);
	assert_int_equal(load(text, &tree), PC_ERR_LIMIT);
	free(text);
}

static void
test_yaml_depth_limit_block_mappings(void **state)
{
	const size_t levels = YAMLTREE_MAX_DEPTH + 10;
	size_t cap = levels * (2 * levels + 8);
	char *text = malloc(cap);
	size_t len = 0;
	struct yamltree tree;

	assert_non_null(text);
	for (size_t i = 0; i < levels; i++) {
		memset(text + len, ' ', 2 * i);
		len += 2 * i;
		len += (size_t)snprintf(text + len, cap - len, "k%zu:\n", i);
	}
	text[len] = '\0';
	assert_int_equal(load(text, &tree), PC_ERR_LIMIT);
	free(text);
}

/* Builds a flow sequence of n scalars. */
static char *
flat_sequence(size_t n)
{
	char *text = malloc(2 * n + 2);

	assert_non_null(text);
	text[0] = '[';
	for (size_t i = 0; i < n; i++) {
		text[1 + 2 * i] = '1';
		text[2 + 2 * i] = i + 1 < n ? ',' : ']';
	}
	text[2 * n + 1] = '\0';
	return text;
}

static void
test_yaml_node_limit(void **state)
{
	struct yamltree tree;
	char *text;

	/* The sequence counts as one node, so this is exactly the limit. */
	text = flat_sequence(YAMLTREE_MAX_NODES - 1);
	load_ok(text, &tree);
	assert_int_equal(json_array_size(tree.root), YAMLTREE_MAX_NODES - 1);
	yamltree_free(&tree);
	free(text);

	text = flat_sequence(YAMLTREE_MAX_NODES);
	assert_int_equal(load(text, &tree), PC_ERR_LIMIT);
	assert_non_null(strstr(errbuf, "nodes"));
	assert_null(tree.root);
	free(text);
}

static void
test_yaml_multiple_documents_rejected(void **state)
{
	struct yamltree tree;

	assert_int_equal(load("a: 1\n---\nb: 2\n", &tree), PC_ERR_UNSUPPORTED);
	assert_error_prefix("test.yaml:2: ");
	assert_null(tree.root);
	assert_int_equal(load("a: 1\n...\n---\nb: 2\n", &tree), PC_ERR_UNSUPPORTED);
	assert_int_equal(load("a: 1\n---\n", &tree), PC_ERR_UNSUPPORTED);
}

static void
test_yaml_one_document_markers(void **state)
{
	struct yamltree tree;

	load_ok("---\na: 1\n...\n", &tree);
	assert_int_equal(json_integer_value(json_object_get(tree.root, "a")), 1);
	yamltree_free(&tree);
	load_ok("%YAML 1.2\n---\na: 1\n", &tree);
	yamltree_free(&tree);
}

static void
test_yaml_empty_documents(void **state)
{
	static const char *const texts[] = {
		"", "\n\n", "# only a comment\n", "---\n", "--- ~\n", "null\n", "   \n",
	};
	struct yamltree tree;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		if (load(texts[i], &tree) != PC_OK)
			fail_msg("\"%s\" failed: %s", texts[i], errbuf);
		assert_true(json_is_object(tree.root));
		assert_int_equal(json_object_size(tree.root), 0);
		yamltree_free(&tree);
	}
}

static void
test_yaml_scalar_and_list_roots(void **state)
{
	struct yamltree tree;

	load_ok("hello\n", &tree);
	assert_string_equal(json_string_value(tree.root), "hello");
	yamltree_free(&tree);
	load_ok("- 1\n- 2\n", &tree);
	assert_int_equal(json_array_size(tree.root), 2);
	assert_int_equal(yamltree_line(&tree, "/1"), 2);
	yamltree_free(&tree);
}

static void
test_yaml_invalid_utf8(void **state)
{
	static const char *const texts[] = {
		"a: \xff\xfe\n",
		"a: caf\xc3\n",
		"a: \xc0\xaf\n",          /* overlong '/' */
		"a: \xed\xa0\x80\n",      /* UTF-16 surrogate */
		"a: \xf4\x90\x80\x80\n",  /* beyond U+10FFFF */
		"\x80: 1\n",
		"a: \"\xff\"\n",
	};
	struct yamltree tree;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		if (load(texts[i], &tree) != PC_ERR_INVALID)
			fail_msg("invalid UTF-8 case %zu was not rejected", i);
		assert_error_prefix("test.yaml:");
		assert_null(tree.root);
	}
}

static void
test_yaml_valid_utf8(void **state)
{
	struct yamltree tree;

	load_ok("name: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3\n", &tree);
	assert_string_equal(json_string_value(json_object_get(tree.root, "name")),
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3");
	yamltree_free(&tree);
}

static void
test_yaml_syntax_error_line(void **state)
{
	struct yamltree tree;

	assert_int_equal(load("a: 1\nb: [1, 2\nc: 3\n", &tree), PC_ERR_INVALID);
	assert_error_prefix("test.yaml:");
	assert_non_null(strstr(errbuf, "invalid YAML"));
	assert_int_equal(load("a: 1\n  b: 2\n", &tree), PC_ERR_INVALID);
	assert_error_prefix("test.yaml:2: ");
	assert_int_equal(load("a: \"unterminated\n", &tree), PC_ERR_INVALID);
	assert_int_equal(load("\ta: 1\n", &tree), PC_ERR_INVALID);
}

static void
test_yaml_string_too_large(void **state)
{
	const size_t len = (size_t)YAMLTREE_MAX_FILE_BYTES + 1;
	char *text = malloc(len);
	struct yamltree tree;

	assert_non_null(text);
	memset(text, '\n', len);
	text[0] = '#';
	assert_int_equal(yamltree_load_string("big.yaml", text, len, &tree, errbuf,
	    sizeof(errbuf)), PC_ERR_LIMIT);
	assert_error_prefix("big.yaml:");
	assert_null(tree.root);
	free(text);
}

/* Writes a file of exactly size bytes: comment lines, then "a: 1\n". */
static void
write_sized_file(const char *path, size_t size)
{
	FILE *f = fopen(path, "wb");
	char line[64];
	size_t written = 0;

	assert_non_null(f);
	memset(line, 'x', sizeof(line));
	line[0] = '#';
	line[sizeof(line) - 1] = '\n';
	while (written + sizeof(line) + 5 <= size) {
		assert_int_equal(fwrite(line, 1, sizeof(line), f), sizeof(line));
		written += sizeof(line);
	}
	while (written + 5 < size) {
		assert_int_equal(fputc('\n', f), '\n');
		written++;
	}
	assert_int_equal(fwrite("a: 1\n", 1, 5, f), 5);
	assert_int_equal(fclose(f), 0);
}

static void
test_yaml_file_size_limit(void **state)
{
	struct tmpdir *t = *state;
	struct yamltree tree;
	char path[128];

	snprintf(path, sizeof(path), "%s/limit.yaml", t->dir);
	write_sized_file(path, YAMLTREE_MAX_FILE_BYTES);
	if (yamltree_load_file(path, &tree, errbuf, sizeof(errbuf)) != PC_OK)
		fail_msg("a file of exactly the limit failed: %s", errbuf);
	assert_int_equal(json_integer_value(json_object_get(tree.root, "a")), 1);
	assert_int_equal(yamltree_line(&tree, "/a"),
	    (int)(YAMLTREE_MAX_FILE_BYTES - 5) / 64 + 1 +
	    (int)((YAMLTREE_MAX_FILE_BYTES - 5) % 64));
	yamltree_free(&tree);

	write_sized_file(path, YAMLTREE_MAX_FILE_BYTES + 1);
	assert_int_equal(yamltree_load_file(path, &tree, errbuf, sizeof(errbuf)),
	    PC_ERR_LIMIT);
	assert_error_prefix(path);
	assert_non_null(strstr(errbuf, "4 MiB"));
	assert_null(tree.root);

	write_sized_file(path, 3 * YAMLTREE_MAX_FILE_BYTES);
	assert_int_equal(yamltree_load_file(path, &tree, errbuf, sizeof(errbuf)),
	    PC_ERR_LIMIT);
}

static void
test_yaml_file_load(void **state)
{
	struct tmpdir *t = *state;
	struct yamltree tree;
	char path[128];

	snprintf(path, sizeof(path), "%s/ok.yaml", t->dir);
	tmpdir_write_file(path, "cache:\n  dir: /x\n");
	assert_int_equal(yamltree_load_file(path, &tree, errbuf, sizeof(errbuf)), PC_OK);
	assert_string_equal(tree.path, path);
	assert_int_equal(yamltree_line(&tree, "/cache/dir"), 2);
	yamltree_free(&tree);

	tmpdir_write_file(path, "a: 1\na: 2\n");
	assert_int_equal(yamltree_load_file(path, &tree, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	assert_error_prefix(path);
	assert_non_null(strstr(errbuf, ":2: "));

	tmpdir_write_file(path, "");
	assert_int_equal(yamltree_load_file(path, &tree, errbuf, sizeof(errbuf)), PC_OK);
	assert_int_equal(json_object_size(tree.root), 0);
	yamltree_free(&tree);
}

static void
test_yaml_file_missing(void **state)
{
	struct tmpdir *t = *state;
	struct yamltree tree;
	char path[128];

	snprintf(path, sizeof(path), "%s/absent.yaml", t->dir);
	assert_int_equal(yamltree_load_file(path, &tree, errbuf, sizeof(errbuf)),
	    PC_ERR_IO);
	assert_error_prefix(path);
	assert_null(tree.root);

	/* A folder opens but cannot be read. */
	assert_int_equal(yamltree_load_file(t->dir, &tree, errbuf, sizeof(errbuf)),
	    PC_ERR_IO);
}

static void
test_yaml_allocation_failures(void **state)
{
	static const char text[] = "listen:\n  - address: 127.0.0.1:5000\n"
	    "cache:\n  dir: /x\n  max_bytes: 20GiB\n  n: 5\n  f: 1.5\n  b: true\n";

	pc_alloc_init();
	for (long n = 0; n < 400; n++) {
		struct yamltree tree;
		int err;

		pc_alloc_fail_after(n);
		err = load(text, &tree);
		pc_alloc_fail_after(-1);
		if (err == PC_OK) {
			assert_int_equal(json_integer_value(json_object_get(
			    json_object_get(tree.root, "cache"), "n")), 5);
			yamltree_free(&tree);
			return;
		}
		/* Running out of memory is reported as such, not as bad input. */
		if (err != PC_ERR_NOMEM)
			fail_msg("allocation %ld failing gave %d: %s", n, err, errbuf);
		assert_null(tree.root);
	}
	fail_msg("load still failed after 400 allocations");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_nulls),
		cmocka_unit_test(test_yaml_booleans),
		cmocka_unit_test(test_yaml_integers),
		cmocka_unit_test(test_yaml_floats),
		cmocka_unit_test(test_yaml_plain_strings),
		cmocka_unit_test(test_yaml_quoted_stay_strings),
		cmocka_unit_test(test_yaml_nested_structures),
		cmocka_unit_test(test_yaml_line_numbers),
		cmocka_unit_test(test_yaml_line_pointer_escapes),
		cmocka_unit_test(test_yaml_duplicate_keys_rejected),
		cmocka_unit_test(test_yaml_anchors_aliases_rejected),
		cmocka_unit_test(test_yaml_billion_laughs_rejected),
		cmocka_unit_test(test_yaml_tags),
		cmocka_unit_test(test_yaml_complex_keys_rejected),
		cmocka_unit_test(test_yaml_depth_limit),
		cmocka_unit_test(test_yaml_depth_limit_block_mappings),
		cmocka_unit_test(test_yaml_node_limit),
		cmocka_unit_test(test_yaml_multiple_documents_rejected),
		cmocka_unit_test(test_yaml_one_document_markers),
		cmocka_unit_test(test_yaml_empty_documents),
		cmocka_unit_test(test_yaml_scalar_and_list_roots),
		cmocka_unit_test(test_yaml_invalid_utf8),
		cmocka_unit_test(test_yaml_valid_utf8),
		cmocka_unit_test(test_yaml_syntax_error_line),
		cmocka_unit_test(test_yaml_string_too_large),
		cmocka_unit_test_setup_teardown(test_yaml_file_size_limit,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_yaml_file_load,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_yaml_file_missing,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_yaml_allocation_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
