#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proxy/registry.h"

/* Blob size used by most cases: bytes 0..999. */
#define SIZE 1000

static int
parse(const char *value, uint64_t size, uint64_t *start, uint64_t *end)
{
	*start = UINT64_MAX;
	*end = UINT64_MAX;
	return registry_parse_range(value, size, start, end);
}

static void
test_range_absent(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse(NULL, SIZE, &start, &end), 200);
	assert_int_equal(parse("", SIZE, &start, &end), 200);
}

static void
test_range_closed(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("bytes=0-99", SIZE, &start, &end), 206);
	assert_int_equal(start, 0);
	assert_int_equal(end, 99);

	assert_int_equal(parse("bytes=500-500", SIZE, &start, &end), 206);
	assert_int_equal(start, 500);
	assert_int_equal(end, 500);

	assert_int_equal(parse("bytes=0-999", SIZE, &start, &end), 206);
	assert_int_equal(start, 0);
	assert_int_equal(end, 999);

	assert_int_equal(parse("bytes=999-999", SIZE, &start, &end), 206);
	assert_int_equal(start, 999);
	assert_int_equal(end, 999);
}

static void
test_range_open_end(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("bytes=100-", SIZE, &start, &end), 206);
	assert_int_equal(start, 100);
	assert_int_equal(end, 999);

	assert_int_equal(parse("bytes=0-", SIZE, &start, &end), 206);
	assert_int_equal(start, 0);
	assert_int_equal(end, 999);

	assert_int_equal(parse("bytes=999-", SIZE, &start, &end), 206);
	assert_int_equal(start, 999);
	assert_int_equal(end, 999);
}

static void
test_range_suffix(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("bytes=-100", SIZE, &start, &end), 206);
	assert_int_equal(start, 900);
	assert_int_equal(end, 999);

	assert_int_equal(parse("bytes=-1", SIZE, &start, &end), 206);
	assert_int_equal(start, 999);
	assert_int_equal(end, 999);

	assert_int_equal(parse("bytes=-1000", SIZE, &start, &end), 206);
	assert_int_equal(start, 0);
	assert_int_equal(end, 999);
}

static void
test_range_suffix_larger_than_size(void **state)
{
	uint64_t start;
	uint64_t end;

	/* A suffix longer than the blob selects all of it. */
	assert_int_equal(parse("bytes=-5000", SIZE, &start, &end), 206);
	assert_int_equal(start, 0);
	assert_int_equal(end, 999);

	assert_int_equal(parse("bytes=-18446744073709551615", SIZE, &start, &end),
	    206);
	assert_int_equal(start, 0);
	assert_int_equal(end, 999);
}

static void
test_range_suffix_zero(void **state)
{
	uint64_t start;
	uint64_t end;

	/* The last zero bytes are no bytes at all. */
	assert_int_equal(parse("bytes=-0", SIZE, &start, &end), 416);
}

static void
test_range_start_beyond_size(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("bytes=1000-", SIZE, &start, &end), 416);
	assert_int_equal(parse("bytes=1000-1100", SIZE, &start, &end), 416);
	assert_int_equal(parse("bytes=5000-6000", SIZE, &start, &end), 416);
	assert_int_equal(parse("bytes=18446744073709551615-", SIZE, &start, &end),
	    416);
}

static void
test_range_end_clamped(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("bytes=900-5000", SIZE, &start, &end), 206);
	assert_int_equal(start, 900);
	assert_int_equal(end, 999);

	assert_int_equal(parse("bytes=0-18446744073709551615", SIZE, &start, &end),
	    206);
	assert_int_equal(start, 0);
	assert_int_equal(end, 999);
}

static void
test_range_end_before_start(void **state)
{
	uint64_t start;
	uint64_t end;

	/* An invalid range-spec makes the whole header ignorable. */
	assert_int_equal(parse("bytes=100-50", SIZE, &start, &end), 200);
	assert_int_equal(parse("bytes=1-0", SIZE, &start, &end), 200);
}

static void
test_range_several(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("bytes=0-10,20-30", SIZE, &start, &end), 200);
	assert_int_equal(parse("bytes=0-10, 20-30", SIZE, &start, &end), 200);
	assert_int_equal(parse("bytes=-5,0-", SIZE, &start, &end), 200);
	assert_int_equal(parse("bytes=,", SIZE, &start, &end), 200);
}

static void
test_range_other_units(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("items=0-10", SIZE, &start, &end), 200);
	assert_int_equal(parse("none", SIZE, &start, &end), 200);
	assert_int_equal(parse("byte=0-10", SIZE, &start, &end), 200);
	assert_int_equal(parse("bytes 0-10", SIZE, &start, &end), 200);
	assert_int_equal(parse("bytesx=0-10", SIZE, &start, &end), 200);
}

static void
test_range_garbage(void **state)
{
	static const char *const values[] = {
		"bytes=",
		"bytes=-",
		"bytes=--5",
		"bytes=abc",
		"bytes=a-b",
		"bytes=1-b",
		"bytes=a-5",
		"bytes=1-2-3",
		"bytes=+1-5",
		"bytes=1-+5",
		"bytes=-+5",
		"bytes=--",
		"bytes=0x10-0x20",
		"bytes=1 -5",
		"bytes=1- 5",
		"bytes=1.5-2",
		"bytes=1-5;x",
		"bytes=5",
	};
	uint64_t start;
	uint64_t end;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		if (parse(values[i], SIZE, &start, &end) != 200)
			fail_msg("Range \"%s\" was not ignored", values[i]);
	}
}

static void
test_range_leading_spaces(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("bytes=  10-19", SIZE, &start, &end), 206);
	assert_int_equal(start, 10);
	assert_int_equal(end, 19);
}

static void
test_range_size_zero(void **state)
{
	uint64_t start;
	uint64_t end;

	/* An empty blob has no byte that any range could select. */
	assert_int_equal(parse("bytes=0-", 0, &start, &end), 416);
	assert_int_equal(parse("bytes=0-0", 0, &start, &end), 416);
	assert_int_equal(parse("bytes=-1", 0, &start, &end), 416);
	assert_int_equal(parse("bytes=-0", 0, &start, &end), 416);
	assert_int_equal(parse(NULL, 0, &start, &end), 200);
	assert_int_equal(parse("bytes=1-0", 0, &start, &end), 200);
}

static void
test_range_size_one(void **state)
{
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("bytes=0-0", 1, &start, &end), 206);
	assert_int_equal(start, 0);
	assert_int_equal(end, 0);
	assert_int_equal(parse("bytes=-1", 1, &start, &end), 206);
	assert_int_equal(start, 0);
	assert_int_equal(end, 0);
	assert_int_equal(parse("bytes=1-", 1, &start, &end), 416);
}

static void
test_range_overflowing_numbers(void **state)
{
	uint64_t start;
	uint64_t end;

	/* 2^64 and beyond do not fit: the header is ignored, never wrapped. */
	assert_int_equal(parse("bytes=18446744073709551616-", SIZE, &start, &end),
	    200);
	assert_int_equal(parse("bytes=0-18446744073709551616", SIZE, &start, &end),
	    200);
	assert_int_equal(parse("bytes=-18446744073709551616", SIZE, &start, &end),
	    200);
	assert_int_equal(parse("bytes=99999999999999999999999999-", SIZE, &start,
	    &end), 200);
}

static void
test_range_large_blob(void **state)
{
	const uint64_t size = UINT64_C(10) << 40;  /* 10 TiB */
	uint64_t start;
	uint64_t end;

	assert_int_equal(parse("bytes=10995116277759-", size, &start, &end), 206);
	assert_int_equal(start, UINT64_C(10995116277759));
	assert_int_equal(end, size - 1);

	assert_int_equal(parse("bytes=-1", size, &start, &end), 206);
	assert_int_equal(start, size - 1);
	assert_int_equal(end, size - 1);

	assert_int_equal(parse("bytes=0-", UINT64_MAX, &start, &end), 206);
	assert_int_equal(start, 0);
	assert_int_equal(end, UINT64_MAX - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_absent),
		cmocka_unit_test(test_range_closed),
		cmocka_unit_test(test_range_open_end),
		cmocka_unit_test(test_range_suffix),
		cmocka_unit_test(test_range_suffix_larger_than_size),
		cmocka_unit_test(test_range_suffix_zero),
		cmocka_unit_test(test_range_start_beyond_size),
		cmocka_unit_test(test_range_end_clamped),
		cmocka_unit_test(test_range_end_before_start),
		cmocka_unit_test(test_range_several),
		cmocka_unit_test(test_range_other_units),
		cmocka_unit_test(test_range_garbage),
		cmocka_unit_test(test_range_leading_spaces),
		cmocka_unit_test(test_range_size_zero),
		cmocka_unit_test(test_range_size_one),
		cmocka_unit_test(test_range_overflowing_numbers),
		cmocka_unit_test(test_range_large_blob),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
