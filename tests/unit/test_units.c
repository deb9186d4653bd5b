// SPDX-License-Identifier: GPL-2.0
/* lib/units.c: parsing and printing sizes. */
#include <errno.h>
#include <locale.h>
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "units.h"

static void parse_ok(const char *s, uint64_t want)
{
	uint64_t got = 0;

	CU_ASSERT_EQUAL(shadow_parse_size(s, &got), 0);
	CU_ASSERT_EQUAL(got, want);
}

static void parse_bad(const char *s, int err)
{
	uint64_t got = 12345;

	CU_ASSERT_EQUAL(shadow_parse_size(s, &got), err);
	CU_ASSERT_EQUAL(got, 12345); /* untouched on error */
}

static void test_parse_plain(void)
{
	parse_ok("0", 0);
	parse_ok("4096", 4096);
	parse_ok("512B", 512);
	parse_ok("512b", 512);
	parse_ok("18446744073709551615", UINT64_MAX);
}

static void test_parse_suffixes(void)
{
	parse_ok("64k", 64ULL << 10);
	parse_ok("64K", 64ULL << 10);
	parse_ok("64KB", 64ULL << 10);
	parse_ok("64KiB", 64ULL << 10);
	parse_ok("1m", 1ULL << 20);
	parse_ok("1MiB", 1ULL << 20);
	parse_ok("3G", 3ULL << 30);
	parse_ok("2T", 2ULL << 40);
	parse_ok("1P", 1ULL << 50);
	parse_ok("15E", 15ULL << 60);
}

static void test_parse_rejects(void)
{
	parse_bad("", -EINVAL);
	parse_bad(NULL, -EINVAL);
	parse_bad("-1", -EINVAL);
	parse_bad(" 1", -EINVAL);
	parse_bad("1 ", -EINVAL);
	parse_bad("k", -EINVAL);
	parse_bad("1.5G", -EINVAL);
	parse_bad("1X", -EINVAL);
	parse_bad("1KiBB", -EINVAL);
	parse_bad("1Ki", -EINVAL);
	parse_bad("1Bk", -EINVAL);
	parse_bad("0x10", -EINVAL);
}

static void test_parse_overflow(void)
{
	parse_bad("18446744073709551616", -ERANGE);
	parse_bad("99999999999999999999999", -ERANGE);
	parse_bad("16E", -ERANGE);
	parse_bad("17179869184G", -ERANGE);
}

static void format_is(uint64_t v, const char *want)
{
	char buf[16];

	CU_ASSERT_STRING_EQUAL(shadow_format_size(v, buf, sizeof(buf)), want);
}

static void test_format(void)
{
	format_is(0, "0B");
	format_is(1023, "1023B");
	format_is(1024, "1K");
	format_is(1536, "1.5K");
	format_is(64ULL << 10, "64K");
	format_is((1ULL << 30) + (1ULL << 29), "1.5G");
	format_is((1ULL << 20) - 1, "1023.9K");
	format_is(UINT64_MAX, "15.9E");
}

/* Numbers never take the locale's decimal comma. */
static void test_format_locale(void)
{
	char buf[16];

	if (!setlocale(LC_ALL, "de_DE.UTF-8") && !setlocale(LC_ALL, "C.UTF-8"))
		return;
	CU_ASSERT_STRING_EQUAL(shadow_format_size(1536, buf, sizeof(buf)),
			       "1.5K");
	setlocale(LC_ALL, "C");
}

static void test_roundtrip(void)
{
	static const char *const in[] = { "4K", "64K", "1M", "256M", "7G" };
	char buf[16];
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(shadow_parse_size(in[i], &v), 0);
		CU_ASSERT_STRING_EQUAL(shadow_format_size(v, buf, sizeof(buf)),
				       in[i]);
	}
}

static CU_TestInfo tests[] = {
	{ "parse_plain", test_parse_plain },
	{ "parse_suffixes", test_parse_suffixes },
	{ "parse_rejects", test_parse_rejects },
	{ "parse_overflow", test_parse_overflow },
	{ "format", test_format },
	{ "format_locale", test_format_locale },
	{ "roundtrip", test_roundtrip },
	CU_TEST_INFO_NULL,
};

const struct unit_suite units_suite = { "units", tests };
