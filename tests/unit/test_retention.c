// SPDX-License-Identifier: GPL-2.0
/*
 * lib/retention.c: policy parsing, the rules, calendar periods (daylight
 * saving, ISO weeks), max-count, min-age, pins, space pressure, simulate,
 * and restic's published forget cases (testdata/retention/restic-policy.txt).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "retention.h"
#include "unit.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define HOUR 3600
#define DAY (24 * HOUR)

/* "YYYY-MM-DD HH:MM:SS" (or "YYYY-MM-DDTHH:MM:SSZ"), UTC. */
static time_t utc(const char *s)
{
	struct tm tm = { 0 };

	if (sscanf(s, "%d-%d-%d%*c%d:%d:%d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return (time_t)-1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void policy(struct shadow_ret_policy *p, const char *text)
{
	char err[SHADOW_RET_ERRLEN] = "";

	shadow_ret_policy_init(p);
	CU_ASSERT_EQUAL_FATAL(
		shadow_ret_policy_parse(p, text, err, sizeof(err)), 0);
	if (err[0])
		printf("     unexpected error: %s\n", err);
}

/* Snapshots at @times, ids 1.. in this order. */
static struct shadow_ret_snap *snaps_at(const time_t *times, size_t n)
{
	struct shadow_ret_snap *s = calloc(n ? n : 1, sizeof(*s));
	size_t i;

	for (i = 0; i < n; i++) {
		s[i].id = i + 1;
		s[i].ctime = times[i];
	}
	return s;
}

/* @n snapshots every @step seconds from @start. */
static struct shadow_ret_snap *series(time_t start, time_t step, size_t n)
{
	struct shadow_ret_snap *s = calloc(n, sizeof(*s));
	size_t i;

	for (i = 0; i < n; i++) {
		s[i].id = i + 1;
		s[i].ctime = start + (time_t)i * step;
	}
	return s;
}

static int eval(const char *text, const struct shadow_ret_snap *s, size_t n,
		time_t now, struct shadow_ret_verdict *v)
{
	struct shadow_ret_policy p;

	policy(&p, text);
	return shadow_ret_evaluate(&p, s, n, now, v);
}

/* Whether exactly the snapshots at @want (any order) are kept. */
static int kept_times_are(const struct shadow_ret_verdict *v, size_t n,
			  const time_t *want, size_t nwant)
{
	size_t i, j, kept = 0;

	for (i = 0; i < n; i++) {
		if (!v[i].keep)
			continue;
		kept++;
		for (j = 0; j < nwant; j++)
			if (want[j] == v[i].ctime)
				break;
		if (j == nwant) {
			printf("     unexpected keep %lld\n",
			       (long long)v[i].ctime);
			return 0;
		}
	}
	if (kept != nwant)
		printf("     kept %zu, want %zu\n", kept, nwant);
	return kept == nwant;
}

static size_t count_bit(const struct shadow_ret_verdict *v, size_t n,
			uint32_t bit)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += !!(v[i].reasons & bit);
	return c;
}

/* ------------------------------------------------------------ durations */

static void dur_ok(const char *s, unsigned int y, unsigned int mo,
		   unsigned int w, unsigned int d, unsigned int h,
		   unsigned int mi, const char *canon)
{
	struct shadow_duration r;
	char buf[64];

	CU_ASSERT_EQUAL_FATAL(shadow_duration_parse(s, &r), 0);
	CU_ASSERT_EQUAL(r.years, y);
	CU_ASSERT_EQUAL(r.months, mo);
	CU_ASSERT_EQUAL(r.weeks, w);
	CU_ASSERT_EQUAL(r.days, d);
	CU_ASSERT_EQUAL(r.hours, h);
	CU_ASSERT_EQUAL(r.minutes, mi);
	CU_ASSERT_STRING_EQUAL(shadow_duration_format(&r, buf, sizeof(buf)),
			       canon);
}

static void dur_bad(const char *s, int err)
{
	struct shadow_duration r = { .days = 42 };

	CU_ASSERT_EQUAL(shadow_duration_parse(s, &r), err);
	CU_ASSERT_EQUAL(r.days, 42);
}

static void test_duration_parse(void)
{
	dur_ok("36h", 0, 0, 0, 0, 36, 0, "36h");
	dur_ok("7d", 0, 0, 0, 7, 0, 0, "7d");
	dur_ok("2w", 0, 0, 2, 0, 0, 0, "2w");
	dur_ok("3m", 0, 3, 0, 0, 0, 0, "3m");
	dur_ok("1y", 1, 0, 0, 0, 0, 0, "1y");
	dur_ok("30min", 0, 0, 0, 0, 0, 30, "30min");
	dur_ok("1y6m", 1, 6, 0, 0, 0, 0, "1y6m");
	dur_ok("1y5m7d2h", 1, 5, 0, 7, 2, 0, "1y5m7d2h");
	dur_ok("1y2m3w4d5h6min", 1, 2, 3, 4, 5, 6, "1y2m3w4d5h6min");
	dur_ok("0", 0, 0, 0, 0, 0, 0, "0");
	dur_ok("0d", 0, 0, 0, 0, 0, 0, "0");
	dur_ok("100000h", 0, 0, 0, 0, 100000, 0, "100000h");

	dur_bad("", -EINVAL);
	dur_bad(NULL, -EINVAL);
	dur_bad("d", -EINVAL);
	dur_bad("7", -EINVAL);
	dur_bad("1.5d", -EINVAL);
	dur_bad("-1d", -EINVAL);
	dur_bad("1x", -EINVAL);
	dur_bad("7D", -EINVAL);
	dur_bad("1d1y", -EINVAL); /* largest unit first */
	dur_bad("1y1y", -EINVAL);
	dur_bad("1h30m", -EINVAL); /* m is months: out of order */
	dur_bad(" 1d", -EINVAL);
	dur_bad("1d ", -EINVAL);
	dur_bad("100001h", -ERANGE);
	dur_bad("99999999999999999999d", -ERANGE);
}

/* ------------------------------------------------------------ parsing */

static void test_policy_parse(void)
{
	struct shadow_ret_policy p, q;
	char err[SHADOW_RET_ERRLEN], buf[1024];
	char *const argv1[] = { "keep-daily=7", "keep-within=36h" };
	char *const argv2[] = { "keep-daily", "7", "max-count=64" };
	const char *text = "# /etc/dm-shadow/policy.d/share1\n"
			   "keep-daily = 7\n"
			   "keep-within 36h   # a comment\n"
			   "keep-weekly=4 keep-monthly=unlimited\n"
			   "\tkeep-within-daily=2w\n"
			   "min-age=30min\n"
			   "max-count=64\n"
			   "store-high=90%\n"
			   "store-low=70\n"
			   "representative=oldest\n"
			   "timezone=Europe/Berlin\n";

	shadow_ret_policy_init(&p);
	CU_ASSERT_EQUAL_FATAL(
		shadow_ret_policy_parse(&p, text, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.keep[SHADOW_RET_DAILY], 7);
	CU_ASSERT_EQUAL(p.keep[SHADOW_RET_WEEKLY], 4);
	CU_ASSERT_EQUAL(p.keep[SHADOW_RET_MONTHLY], SHADOW_RET_UNLIMITED);
	CU_ASSERT_EQUAL(p.keep_within.hours, 36);
	CU_ASSERT_EQUAL(p.keep_within_period[SHADOW_RET_DAILY].weeks, 2);
	CU_ASSERT_EQUAL(p.min_age.minutes, 30);
	CU_ASSERT_EQUAL(p.max_count, 64);
	CU_ASSERT_EQUAL(p.store_high, 90);
	CU_ASSERT_EQUAL(p.store_low, 70);
	CU_ASSERT_EQUAL(p.pick, SHADOW_RET_PICK_OLDEST);
	CU_ASSERT_STRING_EQUAL(p.zone, "Europe/Berlin");

	/* The canonical text parses back to the same policy. */
	shadow_ret_policy_format(&p, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "keep-daily=7\n"
				    "keep-weekly=4\n"
				    "keep-monthly=unlimited\n"
				    "keep-within=36h\n"
				    "keep-within-daily=2w\n"
				    "min-age=30min\n"
				    "max-count=64\n"
				    "store-high=90%\n"
				    "store-low=70%\n"
				    "representative=oldest\n"
				    "timezone=Europe/Berlin\n");
	shadow_ret_policy_init(&q);
	CU_ASSERT_EQUAL(shadow_ret_policy_parse(&q, buf, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(memcmp(&p, &q, sizeof(p)), 0);

	/* "policy set VOL keep-daily=7 keep-within=36h" on top of a policy. */
	CU_ASSERT_EQUAL(shadow_ret_policy_parse_argv(&q, 2, argv1, err,
						     sizeof(err)),
			0);
	CU_ASSERT_EQUAL(q.keep[SHADOW_RET_DAILY], 7);
	CU_ASSERT_EQUAL(q.keep[SHADOW_RET_WEEKLY], 4); /* untouched */
	shadow_ret_policy_init(&q);
	CU_ASSERT_EQUAL(shadow_ret_policy_parse_argv(&q, 3, argv2, err,
						     sizeof(err)),
			0);
	CU_ASSERT_EQUAL(q.keep[SHADOW_RET_DAILY], 7);
	CU_ASSERT_EQUAL(q.max_count, 64);

	/* Other spellings. */
	shadow_ret_policy_init(&q);
	CU_ASSERT_EQUAL(shadow_ret_policy_parse(&q,
						"keep-last=all keep-hourly -1 "
						"timezone=UTC",
						err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(q.keep_last, SHADOW_RET_UNLIMITED);
	CU_ASSERT_EQUAL(q.keep[SHADOW_RET_HOURLY], SHADOW_RET_UNLIMITED);
	CU_ASSERT_STRING_EQUAL(q.zone, "UTC");
	CU_ASSERT_EQUAL(shadow_ret_policy_set(&q, "timezone", "local", err,
					      sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(q.zone, "");
	CU_ASSERT_EQUAL(shadow_ret_policy_parse(&q, "", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(shadow_ret_policy_parse(&q, "  # nothing\n\n", err,
						sizeof(err)),
			0);
}

static void parse_err(const char *text, const char *msg)
{
	struct shadow_ret_policy p, before;
	char err[SHADOW_RET_ERRLEN] = "";

	shadow_ret_policy_init(&p);
	p.keep[SHADOW_RET_DAILY] = 3;
	before = p;
	CU_ASSERT_EQUAL(shadow_ret_policy_parse(&p, text, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(err, msg);
	if (strcmp(err, msg))
		printf("     got '%s'\n", err);
	CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);
}

static void test_policy_errors(void)
{
	struct shadow_ret_policy p;
	char err[SHADOW_RET_ERRLEN];
	char *const argv_missing[] = { "keep-daily" };

	parse_err("keep-dayly=7", "line 1: unknown setting 'keep-dayly'");
	parse_err(
		"keep-daily=7x",
		"line 1: keep-daily: '7x' is not a count (a whole number or 'unlimited')");
	parse_err(
		"keep-daily=-2",
		"line 1: keep-daily: '-2' is not a count (a whole number or 'unlimited')");
	parse_err(
		"keep-last=10000000",
		"line 1: keep-last: '10000000' is too large (at most 1000000)");
	parse_err(
		"# comment\nkeep-within=36x",
		"line 2: keep-within: '36x' is not a duration (like 36h, 7d, 2w, 3m, 1y, 30min, 1y6m)");
	parse_err(
		"min-age=1.5h",
		"line 1: min-age: '1.5h' is not a duration (like 36h, 7d, 2w, 3m, 1y, 30min, 1y6m)");
	parse_err(
		"keep-within=200000d",
		"line 1: keep-within: '200000d' is too large (at most 100000 per unit)");
	parse_err(
		"max-count=many",
		"line 1: max-count: 'many' is not a count (a whole number, 0 for no cap)");
	parse_err("store-high=80 store-low=90",
		  "store-low (90%) must be below store-high (80%)");
	parse_err("store-high=80 store-low=80",
		  "store-low (80%) must be below store-high (80%)");
	parse_err("store-high=80", "store-high is set but store-low is not");
	parse_err("store-low=10", "store-low is set but store-high is not");
	parse_err("store-high=120%",
		  "line 1: store-high: '120%' is not a percentage (0 to 100)");
	parse_err("store-high=%",
		  "line 1: store-high: '%' is not a percentage (0 to 100)");
	parse_err("keep-daily", "line 1: keep-daily: missing value");
	parse_err("keep-daily\n7", "line 1: keep-daily: missing value");
	parse_err("keep-daily =", "line 1: keep-daily: missing value");
	parse_err("keep-daily=1\nkeep-daily=2",
		  "line 2: keep-daily: given twice");
	parse_err("=7", "line 1: expected a setting name");
	parse_err(
		"timezone=America/Argentina/ComodRivadavia/and/then/some/more/"
		"and/more/and/more/and/more/and/more",
		"line 1: value too long");
	parse_err("timezone=Mars/Olympus",
		  "line 1: timezone: unknown time zone 'Mars/Olympus'");
	parse_err("timezone=../../etc/passwd",
		  "line 1: timezone: unknown time zone '../../etc/passwd'");
	parse_err("timezone=/etc/localtime",
		  "line 1: timezone: unknown time zone '/etc/localtime'");
	parse_err(
		"representative=middle",
		"line 1: representative: 'middle' is neither 'newest' nor 'oldest'");

	shadow_ret_policy_init(&p);
	CU_ASSERT_EQUAL(shadow_ret_policy_parse_argv(&p, 1, argv_missing, err,
						     sizeof(err)),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "keep-daily: missing value");
	CU_ASSERT_EQUAL(shadow_ret_policy_set(&p, "pin", "yes", err,
					      sizeof(err)),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "unknown setting 'pin'");
	/* A zone that is not in the database is refused at evaluation too. */
	shadow_ret_policy_init(&p);
	snprintf(p.zone, sizeof(p.zone), "Nowhere/Land");
	CU_ASSERT_EQUAL(shadow_ret_policy_validate(&p, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(shadow_ret_evaluate(&p, NULL, 0, 0, NULL), -EINVAL);
	/* A NULL error buffer is fine. */
	CU_ASSERT_EQUAL(shadow_ret_policy_parse(&p, "bogus=1", NULL, 0),
			-EINVAL);
}

/* ------------------------------------------------------------ the rules */

static void test_empty_input(void)
{
	struct shadow_ret_verdict v[1];

	CU_ASSERT_EQUAL(eval("keep-daily=7", NULL, 0, 0, v), 0);
	CU_ASSERT_EQUAL(eval("", NULL, 0, 0, v), 0);
}

static void test_keep_last(void)
{
	struct shadow_ret_snap *s = series(utc("2021-05-01 00:00:00"), HOUR, 6);
	struct shadow_ret_verdict v[6];
	size_t i;

	CU_ASSERT_EQUAL(eval("keep-last=3", s, 6, s[5].ctime, v), 3);
	for (i = 0; i < 6; i++) {
		CU_ASSERT_EQUAL(v[i].id, s[i].id);
		CU_ASSERT_EQUAL(v[i].ctime, s[i].ctime);
		CU_ASSERT_EQUAL(v[i].keep, i >= 3);
		CU_ASSERT_EQUAL(v[i].reasons, i >= 3 ? SHADOW_RET_R_LAST :
						       SHADOW_RET_R_NO_RULE);
		CU_ASSERT_EQUAL(v[i].rank[0], i >= 3 ? 6 - i : 0);
	}
	CU_ASSERT_EQUAL(eval("keep-last=unlimited", s, 6, s[5].ctime, v), 6);
	CU_ASSERT_EQUAL(eval("keep-last=10", s, 6, s[5].ctime, v), 6);
	free(s);
}

static void test_no_policy_keeps_all(void)
{
	struct shadow_ret_snap *s = series(utc("2021-05-01 00:00:00"), HOUR, 5);
	struct shadow_ret_verdict v[5];

	CU_ASSERT_EQUAL(eval("", s, 5, s[4].ctime, v), 5);
	CU_ASSERT_EQUAL(count_bit(v, 5, SHADOW_RET_R_NO_POLICY), 5);
	/* VSS: max-count alone drops the oldest. */
	CU_ASSERT_EQUAL(eval("max-count=3", s, 5, s[4].ctime, v), 3);
	CU_ASSERT_FALSE(v[0].keep);
	CU_ASSERT_FALSE(v[1].keep);
	CU_ASSERT_EQUAL(v[0].reasons,
			SHADOW_RET_R_NO_POLICY | SHADOW_RET_R_MAX_COUNT);
	CU_ASSERT_TRUE(v[2].keep && v[3].keep && v[4].keep);
	free(s);
}

static void test_keep_daily_and_oldest(void)
{
	/* Three days, four snapshots each. */
	time_t t0 = utc("2021-05-01 06:00:00");
	time_t times[12];
	struct shadow_ret_snap *s;
	struct shadow_ret_verdict v[12];
	size_t i;

	for (i = 0; i < 12; i++)
		times[i] = t0 + (time_t)(i / 4) * DAY + (time_t)(i % 4) * HOUR;
	s = snaps_at(times, 12);

	CU_ASSERT_EQUAL(eval("keep-daily=2 timezone=UTC", s, 12, times[11], v),
			2);
	CU_ASSERT_TRUE(v[11].keep && v[7].keep);
	CU_ASSERT_EQUAL(v[11].rank[1 + SHADOW_RET_DAILY], 1);
	CU_ASSERT_EQUAL(v[7].rank[1 + SHADOW_RET_DAILY], 2);

	/* Count not filled: the oldest snapshot is kept for the rule. */
	CU_ASSERT_EQUAL(eval("keep-daily=5 timezone=UTC", s, 12, times[11], v),
			4);
	CU_ASSERT_TRUE(v[11].keep && v[7].keep && v[3].keep && v[0].keep);
	CU_ASSERT_EQUAL(v[0].reasons, SHADOW_RET_R_OLDEST << SHADOW_RET_DAILY);
	CU_ASSERT_EQUAL(v[3].reasons, SHADOW_RET_R_PERIOD << SHADOW_RET_DAILY);

	/* Exactly filled: no oldest. */
	CU_ASSERT_EQUAL(eval("keep-daily=3 timezone=UTC", s, 12, times[11], v),
			3);
	CU_ASSERT_FALSE(v[0].keep);

	/* Representative oldest: the first of each day. */
	CU_ASSERT_EQUAL(eval("keep-daily=5 representative=oldest timezone=UTC",
			     s, 12, times[11], v),
			3);
	CU_ASSERT_TRUE(v[8].keep && v[4].keep && v[0].keep);
	CU_ASSERT_EQUAL(v[0].reasons, SHADOW_RET_R_PERIOD << SHADOW_RET_DAILY);
	CU_ASSERT_EQUAL(
		count_bit(v, 12, SHADOW_RET_R_OLDEST << SHADOW_RET_DAILY), 0);
	free(s);
}

static void test_rules_overlap(void)
{
	/* One snapshot a day for 40 days: the newest counts for every rule. */
	struct shadow_ret_snap *s = series(utc("2021-03-01 12:00:00"), DAY, 40);
	struct shadow_ret_policy p;
	struct shadow_ret_verdict v[40];
	char buf[512];
	uint32_t all = SHADOW_RET_R_LAST |
		       (SHADOW_RET_R_PERIOD << SHADOW_RET_DAILY) |
		       (SHADOW_RET_R_PERIOD << SHADOW_RET_WEEKLY) |
		       (SHADOW_RET_R_PERIOD << SHADOW_RET_MONTHLY) |
		       SHADOW_RET_R_WITHIN;

	policy(&p, "keep-last=1 keep-daily=3 keep-weekly=2 keep-monthly=2 "
		   "keep-within=2d timezone=UTC");
	/* 2021-04-09 is a Friday; days 04-07..09, week from 04-05. */
	CU_ASSERT_EQUAL(shadow_ret_evaluate(&p, s, 40, s[39].ctime, v), 5);
	CU_ASSERT_EQUAL(v[39].reasons, all);
	CU_ASSERT_EQUAL(v[38].reasons,
			(SHADOW_RET_R_PERIOD << SHADOW_RET_DAILY) |
				SHADOW_RET_R_WITHIN);
	CU_ASSERT_EQUAL(v[37].reasons, SHADOW_RET_R_PERIOD << SHADOW_RET_DAILY);
	CU_ASSERT_TRUE(v[34].keep); /* Sunday 04-04: weekly #2 */
	CU_ASSERT_EQUAL(v[34].rank[1 + SHADOW_RET_WEEKLY], 2);
	CU_ASSERT_TRUE(v[30].keep); /* 03-31: monthly #2 */
	CU_ASSERT_STRING_EQUAL(
		shadow_ret_reasons_format(v[39].reasons, &p, buf, sizeof(buf)),
		"within 2d, last snapshot, daily snapshot, weekly snapshot, "
		"monthly snapshot");
	free(s);
}

static void test_ties(void)
{
	/* Equal times: the higher id is the newer, whatever the order. */
	time_t t = utc("2021-06-01 10:00:00");
	struct shadow_ret_snap s[3] = {
		{ .id = 7, .ctime = t },
		{ .id = 9, .ctime = t },
		{ .id = 8, .ctime = t },
	};
	struct shadow_ret_verdict v[3];

	CU_ASSERT_EQUAL(eval("keep-last=1", s, 3, t, v), 1);
	CU_ASSERT_TRUE(v[1].keep);
	CU_ASSERT_EQUAL(eval("keep-daily=1 timezone=UTC", s, 3, t, v), 1);
	CU_ASSERT_TRUE(v[1].keep);
	CU_ASSERT_EQUAL(eval("keep-daily=1 representative=oldest timezone=UTC",
			     s, 3, t, v),
			1);
	CU_ASSERT_TRUE(v[0].keep);
	/* Not filled: the oldest (id 7) is kept besides the newest. */
	CU_ASSERT_EQUAL(eval("keep-daily=2 timezone=UTC", s, 3, t, v), 2);
	CU_ASSERT_TRUE(v[1].keep && v[0].keep && !v[2].keep);
	CU_ASSERT_EQUAL(eval("max-count=2", s, 3, t, v), 2);
	CU_ASSERT_FALSE(v[0].keep);
}

static void test_order_independent(void)
{
	struct shadow_ret_snap *s =
		series(utc("2021-01-01 00:00:00"), 7 * HOUR, 200);
	struct shadow_ret_snap r[200];
	struct shadow_ret_verdict a[200], b[200];
	size_t i;

	for (i = 0; i < 200; i++)
		r[i] = s[(i * 37) % 200]; /* a permutation: gcd(37, 200) = 1 */
	CU_ASSERT_EQUAL(eval("keep-daily=10 keep-weekly=5 keep-monthly=3 "
			     "timezone=UTC",
			     s, 200, s[199].ctime, a),
			eval("keep-daily=10 keep-weekly=5 keep-monthly=3 "
			     "timezone=UTC",
			     r, 200, s[199].ctime, b));
	for (i = 0; i < 200; i++) {
		const struct shadow_ret_verdict *x = &a[(i * 37) % 200];

		CU_ASSERT_EQUAL(b[i].id, x->id);
		CU_ASSERT_EQUAL(b[i].keep, x->keep);
		CU_ASSERT_EQUAL(b[i].reasons, x->reasons);
	}
	free(s);
}

static void test_pins(void)
{
	struct shadow_ret_snap *s = series(utc("2021-05-01 00:00:00"), HOUR, 5);
	struct shadow_ret_verdict v[5];
	size_t i;

	for (i = 0; i < 5; i++)
		s[i].pinned = true;
	/* All pinned: nothing goes, whatever the rules and the cap. */
	CU_ASSERT_EQUAL(eval("keep-last=1", s, 5, s[4].ctime, v), 5);
	CU_ASSERT_EQUAL(count_bit(v, 5, SHADOW_RET_R_PINNED), 5);
	CU_ASSERT_EQUAL(v[4].reasons, SHADOW_RET_R_PINNED | SHADOW_RET_R_LAST);
	CU_ASSERT_EQUAL(eval("keep-last=1 max-count=2", s, 5, s[4].ctime, v),
			5);
	CU_ASSERT_EQUAL(count_bit(v, 5, SHADOW_RET_R_MAX_COUNT), 0);

	/* max-count with pins: pins count, the oldest unpinned go. */
	for (i = 0; i < 5; i++)
		s[i].pinned = i == 0 || i == 3;
	CU_ASSERT_EQUAL(eval("keep-last=5 max-count=3", s, 5, s[4].ctime, v),
			3);
	CU_ASSERT_TRUE(v[0].keep);
	CU_ASSERT_FALSE(v[1].keep);
	CU_ASSERT_FALSE(v[2].keep);
	CU_ASSERT_TRUE(v[3].keep && v[4].keep);
	CU_ASSERT_EQUAL(v[1].reasons,
			SHADOW_RET_R_LAST | SHADOW_RET_R_MAX_COUNT);
	/* Pinned beyond the cap: every unpinned goes, the pins stay. */
	CU_ASSERT_EQUAL(eval("keep-last=5 max-count=1", s, 5, s[4].ctime, v),
			2);
	CU_ASSERT_TRUE(v[0].keep && v[3].keep);
	/* A pin is kept even when no rule matches it. */
	CU_ASSERT_EQUAL(eval("keep-last=1", s, 5, s[4].ctime, v), 3);
	CU_ASSERT_EQUAL(v[0].reasons, SHADOW_RET_R_PINNED);
	free(s);
}

static void test_min_age(void)
{
	struct shadow_ret_snap *s =
		series(utc("2021-05-01 00:00:00"), 15 * 60, 8);
	struct shadow_ret_verdict v[8];
	time_t now = s[7].ctime + 10 * 60;

	/* Ages 10, 25, 40, 55 ... min: the three younger than 45 min stay. */
	CU_ASSERT_EQUAL(eval("keep-last=1 min-age=45min", s, 8, now, v), 3);
	CU_ASSERT_EQUAL(v[7].reasons, SHADOW_RET_R_MIN_AGE | SHADOW_RET_R_LAST);
	CU_ASSERT_EQUAL(v[6].reasons, SHADOW_RET_R_MIN_AGE);
	CU_ASSERT_EQUAL(v[5].reasons, SHADOW_RET_R_MIN_AGE);
	CU_ASSERT_EQUAL(v[4].reasons, SHADOW_RET_R_NO_RULE);
	/* Exactly min-age old is not younger. */
	CU_ASSERT_EQUAL(eval("keep-last=1 min-age=40min", s, 8, now, v), 2);
	/* max-count is a hard cap: it overrides min-age. */
	CU_ASSERT_EQUAL(
		eval("keep-last=1 min-age=1d max-count=2", s, 8, now, v), 2);
	CU_ASSERT_TRUE(v[7].keep && v[6].keep);
	CU_ASSERT_EQUAL(v[5].reasons,
			SHADOW_RET_R_MIN_AGE | SHADOW_RET_R_MAX_COUNT);
	free(s);
}

static void test_keep_within(void)
{
	struct shadow_ret_snap *s =
		series(utc("2021-05-01 00:00:00"), HOUR, 72);
	struct shadow_ret_verdict v[72];
	time_t now = s[71].ctime;

	/* Younger than 36 h: strictly; the one exactly 36 h old goes. */
	CU_ASSERT_EQUAL(eval("keep-within=36h", s, 72, now, v), 36);
	CU_ASSERT_FALSE(v[35].keep);
	CU_ASSERT_TRUE(v[36].keep);
	CU_ASSERT_EQUAL(v[36].reasons, SHADOW_RET_R_WITHIN);
	CU_ASSERT_EQUAL(eval("keep-within=1d12h", s, 72, now, v), 36);
	/* Relative to now, not to the newest snapshot (restic). */
	CU_ASSERT_EQUAL(eval("keep-within=36h", s, 72, now + 10 * HOUR, v), 26);
	CU_ASSERT_EQUAL(eval("keep-within=1w", s, 72, now, v), 72);

	/* keep-within-daily: one per day, for days in the window. */
	CU_ASSERT_EQUAL(
		eval("keep-within-daily=2d timezone=UTC", s, 72, now, v), 2);
	CU_ASSERT_TRUE(v[71].keep && v[47].keep);
	CU_ASSERT_EQUAL(
		eval("keep-within-daily=2d1h timezone=UTC", s, 72, now, v), 3);
	CU_ASSERT_TRUE(v[71].keep && v[47].keep && v[23].keep);
	CU_ASSERT_EQUAL(v[47].reasons,
			SHADOW_RET_R_WITHIN_PERIOD << SHADOW_RET_DAILY);
	/* Window covering everything: the oldest is kept too, as restic. */
	CU_ASSERT_EQUAL(
		eval("keep-within-daily=1y timezone=UTC", s, 72, now, v), 4);
	CU_ASSERT_EQUAL(v[0].reasons,
			SHADOW_RET_R_OLDEST_WITHIN << SHADOW_RET_DAILY);
	CU_ASSERT_EQUAL(eval("keep-within-daily=1y representative=oldest "
			     "timezone=UTC",
			     s, 72, now, v),
			3);
	CU_ASSERT_TRUE(v[0].keep && v[24].keep && v[48].keep);
	free(s);
}

static void test_calendar_months(void)
{
	/* Months of different lengths, leap February. */
	time_t t[] = {
		utc("2020-01-31 12:00:00"), utc("2020-02-29 12:00:00"),
		utc("2020-03-01 12:00:00"), utc("2020-03-31 12:00:00"),
		utc("2020-04-30 12:00:00"),
	};
	struct shadow_ret_snap *s = snaps_at(t, 5);
	struct shadow_ret_verdict v[5];
	time_t w1[] = { t[4], t[3], t[1] };
	time_t w2[] = { t[4], t[2], t[1] };

	CU_ASSERT_EQUAL(eval("keep-monthly=3 timezone=UTC", s, 5, t[4], v), 3);
	CU_ASSERT_TRUE(kept_times_are(v, 5, w1, 3));
	CU_ASSERT_EQUAL(eval("keep-monthly=3 representative=oldest "
			     "timezone=UTC",
			     s, 5, t[4], v),
			3);
	CU_ASSERT_TRUE(kept_times_are(v, 5, w2, 3));
	free(s);
}

static void test_within_month_end(void)
{
	/* 1m before Mar 31 is Feb 28 (clamped), not Mar 3 (Go, restic). */
	time_t t[] = {
		utc("2021-02-27 12:00:00"),
		utc("2021-02-28 12:00:00"),
		utc("2021-02-28 12:00:01"),
		utc("2021-03-03 12:00:00"),
	};
	struct shadow_ret_snap *s = snaps_at(t, 4);
	struct shadow_ret_verdict v[4];
	time_t now = utc("2021-03-31 12:00:00");

	CU_ASSERT_EQUAL(eval("keep-within=1m timezone=UTC", s, 4, now, v), 2);
	CU_ASSERT_TRUE(v[2].keep && v[3].keep);
	/* 1y before 2020-02-29 is 2019-02-28. */
	s[0].ctime = utc("2019-02-28 11:59:59");
	s[1].ctime = utc("2019-02-28 12:00:01");
	CU_ASSERT_EQUAL(eval("keep-within=1y timezone=UTC", s, 2,
			     utc("2020-02-29 12:00:00"), v),
			1);
	CU_ASSERT_TRUE(v[1].keep);
	free(s);
}

static void test_iso_weeks(void)
{
	static const struct {
		const char *date;
		int year, week;
	} cases[] = {
		{ "2020-12-31 12:00:00", 2020, 53 },
		{ "2021-01-03 12:00:00", 2020, 53 },
		{ "2021-01-04 12:00:00", 2021, 1 },
		{ "2019-12-30 12:00:00", 2020, 1 },
		{ "2015-12-31 12:00:00", 2015, 53 },
		{ "2016-01-03 12:00:00", 2015, 53 },
		{ "2018-12-31 12:00:00", 2019, 1 },
		{ "2010-01-03 12:00:00", 2009, 53 },
		{ "2026-12-31 12:00:00", 2026, 53 },
		{ "2021-12-31 12:00:00", 2021, 52 },
		{ "2024-12-30 12:00:00", 2025, 1 },
		{ "2014-01-05 12:00:00", 2014, 1 },
		{ "2014-01-06 12:00:00", 2014, 2 },
	};
	time_t t[] = {
		utc("2020-12-27 12:00:00"), /* Sunday, 2020-W52 */
		utc("2020-12-28 12:00:00"), /* Monday, 2020-W53 */
		utc("2020-12-31 12:00:00"), utc("2021-01-03 12:00:00"),
		utc("2021-01-04 12:00:00"), /* Monday, 2021-W01 */
	};
	struct shadow_ret_snap *s = snaps_at(t, 5);
	struct shadow_ret_verdict v[5];
	time_t newest[] = { t[4], t[3], t[0] };
	time_t oldest[] = { t[4], t[1], t[0] };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		time_t x = utc(cases[i].date);
		struct tm tm;
		int week = 0;

		gmtime_r(&x, &tm);
		CU_ASSERT_EQUAL(shadow_iso_week(&tm, &week), cases[i].year);
		CU_ASSERT_EQUAL(week, cases[i].week);
	}

	CU_ASSERT_EQUAL(eval("keep-weekly=3 timezone=UTC", s, 5, t[4], v), 3);
	CU_ASSERT_TRUE(kept_times_are(v, 5, newest, 3));
	CU_ASSERT_EQUAL(eval("keep-weekly=3 representative=oldest timezone=UTC",
			     s, 5, t[4], v),
			3);
	CU_ASSERT_TRUE(kept_times_are(v, 5, oldest, 3));
	free(s);
}

static void test_year_end_zone(void)
{
	/* 23:30 and 00:30 in Berlin: two years there, one in UTC. */
	time_t t[] = { utc("2020-12-31 22:30:00"), utc("2020-12-31 23:30:00") };
	struct shadow_ret_snap *s = snaps_at(t, 2);
	struct shadow_ret_verdict v[2];

	CU_ASSERT_EQUAL(eval("keep-yearly=1 keep-monthly=1 timezone=UTC", s, 2,
			     t[1], v),
			1);
	CU_ASSERT_EQUAL(
		eval("keep-yearly=2 timezone=Europe/Berlin", s, 2, t[1], v), 2);
	CU_ASSERT_EQUAL(v[0].reasons, SHADOW_RET_R_PERIOD << SHADOW_RET_YEARLY);
	CU_ASSERT_EQUAL(eval("keep-yearly=2 timezone=UTC", s, 2, t[1], v), 2);
	CU_ASSERT_EQUAL(v[0].reasons, SHADOW_RET_R_OLDEST << SHADOW_RET_YEARLY);
	free(s);
}

/*
 * Hourly snapshots over three local days around a daylight-saving change:
 * every clock hour is its own period (@hours of them), each local day one.
 */
static void dst_case(const char *zone, const char *start, size_t hours,
		     const char *const last_of_day[3],
		     const char *const first_of_day[3])
{
	struct shadow_ret_snap *s = series(utc(start), HOUR, hours);
	struct shadow_ret_verdict *v = calloc(hours, sizeof(*v));
	time_t want[3];
	char text[128];
	size_t i;

	snprintf(text, sizeof(text), "keep-hourly=unlimited timezone=%s", zone);
	CU_ASSERT_EQUAL(eval(text, s, hours, s[hours - 1].ctime, v),
			(int)hours);
	CU_ASSERT_EQUAL(count_bit(v, hours,
				  SHADOW_RET_R_PERIOD << SHADOW_RET_HOURLY),
			hours);
	snprintf(text, sizeof(text), "keep-hourly=%zu timezone=%s", hours - 1,
		 zone);
	CU_ASSERT_EQUAL(eval(text, s, hours, s[hours - 1].ctime, v),
			(int)hours - 1);

	snprintf(text, sizeof(text), "keep-daily=5 timezone=%s", zone);
	for (i = 0; i < 3; i++)
		want[i] = utc(last_of_day[i]);
	/* Three days: three dailies plus the oldest for the unfilled count. */
	CU_ASSERT_EQUAL(eval(text, s, hours, s[hours - 1].ctime, v), 4);
	CU_ASSERT_EQUAL(count_bit(v, hours,
				  SHADOW_RET_R_PERIOD << SHADOW_RET_DAILY),
			3);
	snprintf(text, sizeof(text), "keep-daily=3 timezone=%s", zone);
	CU_ASSERT_EQUAL(eval(text, s, hours, s[hours - 1].ctime, v), 3);
	CU_ASSERT_TRUE(kept_times_are(v, hours, want, 3));

	snprintf(text, sizeof(text),
		 "keep-daily=3 representative=oldest timezone=%s", zone);
	for (i = 0; i < 3; i++)
		want[i] = utc(first_of_day[i]);
	CU_ASSERT_EQUAL(eval(text, s, hours, s[hours - 1].ctime, v), 3);
	CU_ASSERT_TRUE(kept_times_are(v, hours, want, 3));
	free(v);
	free(s);
}

static void test_dst_berlin(void)
{
	/* 2021-03-28 02:00 CET -> 03:00 CEST: a 23-hour day. */
	static const char *const spring_last[] = { "2021-03-27 22:00:00",
						   "2021-03-28 21:00:00",
						   "2021-03-29 21:00:00" };
	static const char *const spring_first[] = { "2021-03-26 23:00:00",
						    "2021-03-27 23:00:00",
						    "2021-03-28 22:00:00" };
	/* 2021-10-31 03:00 CEST -> 02:00 CET: a 25-hour day. */
	static const char *const fall_last[] = { "2021-10-30 21:00:00",
						 "2021-10-31 22:00:00",
						 "2021-11-01 22:00:00" };
	static const char *const fall_first[] = { "2021-10-29 22:00:00",
						  "2021-10-30 22:00:00",
						  "2021-10-31 23:00:00" };

	CU_ASSERT_EQUAL_FATAL(access("/usr/share/zoneinfo/Europe/Berlin", R_OK),
			      0);
	dst_case("Europe/Berlin", "2021-03-26 23:00:00", 24 + 23 + 24,
		 spring_last, spring_first);
	dst_case("Europe/Berlin", "2021-10-29 22:00:00", 24 + 25 + 24,
		 fall_last, fall_first);
}

static void test_dst_new_york(void)
{
	/* 2021-03-14 02:00 EST -> 03:00 EDT. */
	static const char *const spring_last[] = { "2021-03-14 04:00:00",
						   "2021-03-15 03:00:00",
						   "2021-03-16 03:00:00" };
	static const char *const spring_first[] = { "2021-03-13 05:00:00",
						    "2021-03-14 05:00:00",
						    "2021-03-15 04:00:00" };
	/* 2021-11-07 02:00 EDT -> 01:00 EST: 01:xx happens twice. */
	static const char *const fall_last[] = { "2021-11-07 03:00:00",
						 "2021-11-08 04:00:00",
						 "2021-11-09 04:00:00" };
	static const char *const fall_first[] = { "2021-11-06 04:00:00",
						  "2021-11-07 04:00:00",
						  "2021-11-08 05:00:00" };

	CU_ASSERT_EQUAL_FATAL(
		access("/usr/share/zoneinfo/America/New_York", R_OK), 0);
	dst_case("America/New_York", "2021-03-13 05:00:00", 24 + 23 + 24,
		 spring_last, spring_first);
	dst_case("America/New_York", "2021-11-06 04:00:00", 24 + 25 + 24,
		 fall_last, fall_first);
}

static void test_dst_repeated_hour(void)
{
	/* 01:30 EDT and 01:30 EST: the same clock reading, two hours. */
	time_t t[] = { utc("2021-11-07 05:30:00"), utc("2021-11-07 06:30:00") };
	struct shadow_ret_snap *s = snaps_at(t, 2);
	struct shadow_ret_verdict v[2];

	CU_ASSERT_EQUAL(eval("keep-hourly=2 timezone=America/New_York", s, 2,
			     t[1], v),
			2);
	CU_ASSERT_EQUAL(
		count_bit(v, 2, SHADOW_RET_R_PERIOD << SHADOW_RET_HOURLY), 2);
	/* keep-within=1d across the long day: 25 hours back, same clock. */
	s[0].ctime = utc("2021-11-06 05:30:00"); /* 11-06 01:30 EDT */
	CU_ASSERT_EQUAL(eval("keep-within=1d timezone=America/New_York", s, 2,
			     utc("2021-11-07 06:30:01"), v),
			1);
	s[0].ctime = utc("2021-11-06 05:30:02");
	CU_ASSERT_EQUAL(eval("keep-within=1d timezone=America/New_York", s, 2,
			     utc("2021-11-07 06:30:01"), v),
			2);
	free(s);
}

static void test_system_zone(void)
{
	/* zone "" follows TZ (here New York); a named zone leaves TZ alone. */
	time_t t[] = {
		utc("2021-05-31 12:00:00"), /* May 31 in both */
		utc("2021-06-01 03:00:00"), /* May 31 23:00 in New York */
		utc("2021-06-01 05:00:00"), /* Jun 1 in both */
	};
	struct shadow_ret_snap *s = snaps_at(t, 3);
	struct shadow_ret_verdict v[3];
	char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	time_t ny[] = { t[2], t[1] }, u[] = { t[2], t[0] };

	setenv("TZ", "America/New_York", 1);
	tzset();
	CU_ASSERT_EQUAL(eval("keep-daily=2", s, 3, t[2], v), 2);
	CU_ASSERT_TRUE(kept_times_are(v, 3, ny, 2));
	CU_ASSERT_EQUAL(eval("keep-daily=2 timezone=UTC", s, 3, t[2], v), 2);
	CU_ASSERT_TRUE(kept_times_are(v, 3, u, 2));
	CU_ASSERT_EQUAL(
		eval("keep-daily=2 timezone=Europe/Berlin", s, 3, t[2], v), 2);
	CU_ASSERT_TRUE(kept_times_are(v, 3, u, 2));
	CU_ASSERT_STRING_EQUAL(getenv("TZ"), "America/New_York");

	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	free(s);
}

/*
 * borg's docs/misc/prune-example.txt input: one snapshot at 12:00 every day
 * of 2015 but 12-19; keep-daily 14, keep-monthly 6, keep-yearly 1.  borg
 * keeps 21 (its rules do not share snapshots); restic's semantics keep 19
 * and snapper's first-of-period 21 (research/retention-ux.md, 2.4).
 */
static void test_borg_example(void)
{
	struct shadow_ret_snap s[364];
	struct shadow_ret_verdict v[364];
	time_t t = utc("2015-01-01 12:00:00");
	const char *text = "keep-daily=14 keep-monthly=6 keep-yearly=1 "
			   "timezone=UTC";
	char buf[256];
	size_t i, n = 0;

	for (i = 0; i < 365; i++, t += DAY) {
		if (t == utc("2015-12-19 12:00:00"))
			continue;
		s[n].id = n + 1;
		s[n].ctime = t;
		s[n].pinned = false;
		s[n].label = NULL;
		s[n].held_bytes = 0;
		n++;
	}
	CU_ASSERT_EQUAL_FATAL(n, 364);
	CU_ASSERT_EQUAL(eval(text, s, n, s[n - 1].ctime, v), 19);
	CU_ASSERT_TRUE(v[n - 1].keep); /* 12-31: daily, monthly, yearly */
	CU_ASSERT_FALSE(v[0].keep); /* yearly filled by 12-31 */
	for (i = 0; i < n; i++) {
		time_t x = s[i].ctime;

		if (x == utc("2015-07-31 12:00:00") ||
		    x == utc("2015-11-30 12:00:00") ||
		    x == utc("2015-12-17 12:00:00")) {
			CU_ASSERT_TRUE(v[i].keep);
		}
		if (x == utc("2015-06-30 12:00:00") ||
		    x == utc("2015-12-16 12:00:00")) {
			CU_ASSERT_FALSE(v[i].keep);
		}
	}

	snprintf(buf, sizeof(buf), "%s representative=oldest", text);
	CU_ASSERT_EQUAL(eval(buf, s, n, s[n - 1].ctime, v), 21);
	CU_ASSERT_TRUE(v[0].keep); /* 2015-01-01: yearly */
	for (i = 0; i < n; i++) {
		struct tm tm;

		gmtime_r(&s[i].ctime, &tm);
		if (tm.tm_mday == 1 && tm.tm_mon >= 6)
			CU_ASSERT_TRUE(v[i].keep);
	}
}

/* ------------------------------------------------------------ space */

static void test_space_pressure(void)
{
	struct shadow_ret_policy p;
	struct shadow_ret_snap s[5] = {
		{ .id = 1, .ctime = 100, .pinned = true, .held_bytes = 100 },
		{ .id = 2, .ctime = 200, .held_bytes = 200 },
		{ .id = 3, .ctime = 300, .held_bytes = 150 },
		{ .id = 4, .ctime = 400, .held_bytes = 50 },
		{ .id = 5, .ctime = 500, .held_bytes = 300 },
	};
	struct shadow_ret_verdict v[5];
	struct shadow_ret_space_report r;

	policy(&p, "store-high=80 store-low=60");
	/* At store-high exactly: nothing to do. */
	CU_ASSERT_EQUAL(shadow_ret_space(&p, s, 5, 800, 1000, v, &r), 0);
	CU_ASSERT_FALSE(r.triggered);
	CU_ASSERT_EQUAL(count_bit(v, 5, SHADOW_RET_R_SPACE), 0);
	CU_ASSERT_TRUE(v[0].keep && v[4].keep);

	/* 900 -> 700 -> 550 < 600: the two oldest unpinned. */
	CU_ASSERT_EQUAL(shadow_ret_space(&p, s, 5, 900, 1000, v, &r), 2);
	CU_ASSERT_TRUE(r.triggered && r.reached);
	CU_ASSERT_EQUAL(r.used_after, 550);
	CU_ASSERT_EQUAL(r.target, 600);
	CU_ASSERT_TRUE(v[0].keep);
	CU_ASSERT_EQUAL(v[0].reasons, SHADOW_RET_R_PINNED);
	CU_ASSERT_FALSE(v[1].keep);
	CU_ASSERT_FALSE(v[2].keep);
	CU_ASSERT_EQUAL(v[2].reasons, SHADOW_RET_R_SPACE);
	CU_ASSERT_TRUE(v[3].keep && v[4].keep);

	/* Pins hold too much: every unpinned goes, target not reached. */
	s[0].held_bytes = 800;
	s[1].held_bytes = s[2].held_bytes = s[3].held_bytes = 50;
	s[4].held_bytes = 50;
	CU_ASSERT_EQUAL(shadow_ret_space(&p, s, 5, 1000, 1000, v, &r), 4);
	CU_ASSERT_TRUE(r.triggered);
	CU_ASSERT_FALSE(r.reached);
	CU_ASSERT_EQUAL(r.used_after, 800);
	CU_ASSERT_TRUE(v[0].keep);

	/* Large stores do not overflow. */
	CU_ASSERT_EQUAL(
		shadow_ret_space(&p, s, 5, UINT64_MAX, UINT64_MAX, v, &r), 4);
	CU_ASSERT_TRUE(r.triggered);

	CU_ASSERT_EQUAL(shadow_ret_space(&p, NULL, 0, 900, 1000, v, &r), 0);
	CU_ASSERT_TRUE(r.triggered);
	CU_ASSERT_FALSE(r.reached);
	policy(&p, "keep-daily=1");
	CU_ASSERT_EQUAL(shadow_ret_space(&p, s, 5, 900, 1000, v, &r), -EINVAL);
}

/* ------------------------------------------------------------ simulate */

static void test_simulate_year_hourly(void)
{
	const char *text = "keep-hourly=24 keep-daily=7 keep-weekly=4 "
			   "keep-monthly=12 timezone=UTC";
	struct shadow_ret_sim sim = { .start = utc("2021-01-01 00:00:00"),
				      .every = { .hours = 1 },
				      .count = 8760 };
	struct shadow_ret_sim_result res;
	struct shadow_ret_policy p;
	struct shadow_ret_snap *all = series(sim.start, HOUR, 8760);
	struct shadow_ret_verdict *v = calloc(8760, sizeof(*v));
	size_t i, j, kept;

	policy(&p, text);
	CU_ASSERT_EQUAL_FATAL(shadow_ret_simulate(&p, &sim, &res), 0);

	/* 24 hours + 6 more days + 2 more weeks + 11 more months. */
	CU_ASSERT_EQUAL(res.taken, 8760);
	CU_ASSERT_EQUAL(res.n_left, 43);
	CU_ASSERT_EQUAL(res.removed, 8760 - 43);
	CU_ASSERT_EQUAL(res.end, utc("2021-12-31 23:00:00"));
	CU_ASSERT_TRUE(res.peak >= 43 && res.peak <= 24 + 7 + 4 + 12 + 1);
	CU_ASSERT_EQUAL(res.left[0].ctime, res.end);
	CU_ASSERT_EQUAL(res.left[0].id, 8760);
	for (i = 1; i < res.n_left; i++)
		CU_ASSERT_TRUE(res.left[i].ctime < res.left[i - 1].ctime);

	/* Pruning after each snapshot ends where one prune at the end does. */
	kept = (size_t)shadow_ret_evaluate(&p, all, 8760, res.end, v);
	CU_ASSERT_EQUAL(kept, res.n_left);
	for (i = 0, j = 0; i < 8760; i++) {
		if (!v[i].keep)
			continue;
		CU_ASSERT_EQUAL(v[i].ctime, res.left[res.n_left - 1 - j].ctime);
		CU_ASSERT_EQUAL(v[i].reasons,
				res.left[res.n_left - 1 - j].reasons);
		j++;
	}
	shadow_ret_sim_result_free(&res);
	CU_ASSERT_PTR_NULL(res.left);
	free(v);
	free(all);
}

static void test_simulate_small(void)
{
	struct shadow_ret_policy p;
	struct shadow_ret_sim sim = { .start = utc("2021-05-01 00:00:00"),
				      .every = { .minutes = 30 },
				      .count = 100 };
	struct shadow_ret_sim_result res;

	policy(&p, "keep-last=5");
	CU_ASSERT_EQUAL_FATAL(shadow_ret_simulate(&p, &sim, &res), 0);
	CU_ASSERT_EQUAL(res.peak, 5);
	CU_ASSERT_EQUAL(res.peak_at, sim.start + 4 * 1800);
	CU_ASSERT_EQUAL(res.n_left, 5);
	CU_ASSERT_EQUAL(res.removed, 95);
	CU_ASSERT_EQUAL(res.left[4].id, 96);
	shadow_ret_sim_result_free(&res);

	/* A daily schedule keeps its wall-clock time across DST (Berlin). */
	policy(&p, "keep-last=unlimited timezone=Europe/Berlin");
	sim.start = utc("2021-03-27 11:00:00"); /* 12:00 CET */
	sim.every = (struct shadow_duration){ .days = 1 };
	sim.count = 3;
	CU_ASSERT_EQUAL_FATAL(shadow_ret_simulate(&p, &sim, &res), 0);
	CU_ASSERT_EQUAL(res.n_left, 3);
	CU_ASSERT_EQUAL(res.left[1].ctime, utc("2021-03-28 10:00:00"));
	CU_ASSERT_EQUAL(res.left[0].ctime, utc("2021-03-29 10:00:00"));
	shadow_ret_sim_result_free(&res);

	/* Monthly from Jan 31: month ends. */
	policy(&p, "keep-monthly=unlimited timezone=UTC");
	sim.start = utc("2021-01-31 12:00:00");
	sim.every = (struct shadow_duration){ .months = 1 };
	sim.count = 4;
	CU_ASSERT_EQUAL_FATAL(shadow_ret_simulate(&p, &sim, &res), 0);
	CU_ASSERT_EQUAL(res.n_left, 4);
	CU_ASSERT_EQUAL(res.left[2].ctime, utc("2021-02-28 12:00:00"));
	CU_ASSERT_EQUAL(res.left[1].ctime, utc("2021-03-31 12:00:00"));
	CU_ASSERT_EQUAL(res.left[0].ctime, utc("2021-04-30 12:00:00"));
	shadow_ret_sim_result_free(&res);

	sim.every = (struct shadow_duration){ 0 };
	CU_ASSERT_EQUAL(shadow_ret_simulate(&p, &sim, &res), -EINVAL);
	sim.every.hours = 1;
	sim.count = 0;
	CU_ASSERT_EQUAL(shadow_ret_simulate(&p, &sim, &res), -EINVAL);
}

/* ------------------------------------------------------------ reasons */

static void test_reason_text(void)
{
	struct shadow_ret_policy p;
	char buf[512];
	uint32_t bit;
	int n = 0;

	policy(&p, "keep-within=36h keep-within-daily=7d min-age=30min "
		   "max-count=64 store-high=90 store-low=70");
	CU_ASSERT_STRING_EQUAL(shadow_ret_reason_text(SHADOW_RET_R_WITHIN, &p,
						      buf, sizeof(buf)),
			       "within 36h");
	CU_ASSERT_STRING_EQUAL(
		shadow_ret_reason_text(SHADOW_RET_R_WITHIN_PERIOD
					       << SHADOW_RET_DAILY,
				       &p, buf, sizeof(buf)),
		"daily within 7d");
	CU_ASSERT_STRING_EQUAL(
		shadow_ret_reason_text(SHADOW_RET_R_OLDEST_WITHIN
					       << SHADOW_RET_DAILY,
				       &p, buf, sizeof(buf)),
		"oldest daily within 7d");
	CU_ASSERT_STRING_EQUAL(shadow_ret_reason_text(SHADOW_RET_R_MIN_AGE, &p,
						      buf, sizeof(buf)),
			       "younger than min-age 30min");
	CU_ASSERT_STRING_EQUAL(shadow_ret_reason_text(SHADOW_RET_R_MAX_COUNT,
						      &p, buf, sizeof(buf)),
			       "over max-count 64");
	CU_ASSERT_STRING_EQUAL(shadow_ret_reason_text(SHADOW_RET_R_SPACE, &p,
						      buf, sizeof(buf)),
			       "store above store-high 90%");
	CU_ASSERT_STRING_EQUAL(shadow_ret_reason_text(SHADOW_RET_R_NO_RULE, &p,
						      buf, sizeof(buf)),
			       "matches no rule");
	CU_ASSERT_STRING_EQUAL(shadow_ret_reason_text(3, &p, buf, sizeof(buf)),
			       "");
	CU_ASSERT_STRING_EQUAL(
		shadow_ret_reasons_format(
			SHADOW_RET_R_PINNED |
				(SHADOW_RET_R_OLDEST << SHADOW_RET_MONTHLY) |
				(SHADOW_RET_R_PERIOD << SHADOW_RET_DAILY) |
				(SHADOW_RET_R_OLDEST << SHADOW_RET_YEARLY),
			&p, buf, sizeof(buf)),
		"pinned, daily snapshot, oldest monthly snapshot, "
		"oldest yearly snapshot");

	CU_ASSERT_STRING_EQUAL(shadow_ret_reason_key(SHADOW_RET_R_PINNED),
			       "pinned");
	CU_ASSERT_STRING_EQUAL(shadow_ret_reason_key(SHADOW_RET_R_OLDEST_WITHIN
						     << SHADOW_RET_YEARLY),
			       "oldest-within-yearly");
	CU_ASSERT_STRING_EQUAL(shadow_ret_reason_key(SHADOW_RET_R_SPACE),
			       "space");
	CU_ASSERT_PTR_NULL(shadow_ret_reason_key(0));
	CU_ASSERT_PTR_NULL(shadow_ret_reason_key(1u << 31));
	/* Every bit has a key and a text. */
	for (bit = 1; bit && n < SHADOW_RET_R_NBITS; bit <<= 1, n++) {
		CU_ASSERT_PTR_NOT_NULL(shadow_ret_reason_key(bit));
		CU_ASSERT_NOT_EQUAL(shadow_ret_reason_text(bit, &p, buf,
							   sizeof(buf))[0],
				    0);
	}
	CU_ASSERT_EQUAL(SHADOW_RET_R_KEEP_MASK & SHADOW_RET_R_REMOVE_MASK, 0);
}

/* ------------------------------------------------------------ restic */

#define RESTIC_MAX 128

struct restic_data {
	struct shadow_ret_snap snaps[RESTIC_MAX];
	char names[RESTIC_MAX][24]; /* "2014-08-13 10:20:30.1" */
	size_t n;
};

/* The test data directory: next to build/, found from the executable. */
static FILE *open_testdata(const char *name)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	const char *top = getenv("SHADOW_TOP");
	ssize_t len;
	FILE *f;

	if (top) {
		snprintf(path, sizeof(path),
			 "%s/tests/unit/testdata/retention/%s", top, name);
		f = fopen(path, "r");
		if (f)
			return f;
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		char *slash;

		exe[len] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, sizeof(path),
				 "%s/../tests/unit/testdata/retention/%s", exe,
				 name);
			f = fopen(path, "r");
			if (f)
				return f;
		}
	}
	snprintf(path, sizeof(path), "tests/unit/testdata/retention/%s", name);
	return fopen(path, "r");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void chomp(char *s)
{
	size_t l = strlen(s);

	while (l && (s[l - 1] == '\n' || s[l - 1] == ' '))
		s[--l] = 0;
}

/* Compare the expected "time | reasons" lines with what the engine says. */
static int restic_check(const struct restic_data *d, const char *policy_text,
			char **want, size_t nwant, int case_no)
{
	struct shadow_ret_policy p;
	struct shadow_ret_verdict v[RESTIC_MAX];
	char text[256], *got[RESTIC_MAX];
	size_t i, ngot = 0, ok = 1;
	time_t now = 0;

	snprintf(text, sizeof(text), "%s timezone=UTC", policy_text);
	policy(&p, text);
	for (i = 0; i < d->n; i++)
		if (d->snaps[i].ctime > now)
			now = d->snaps[i].ctime;
	if (shadow_ret_evaluate(&p, d->snaps, d->n, now, v) < 0)
		return 0;
	for (i = 0; i < d->n; i++) {
		char r[512];

		if (!v[i].keep)
			continue;
		shadow_ret_reasons_format(v[i].reasons, &p, r, sizeof(r));
		got[ngot] = malloc(strlen(d->names[i]) + strlen(r) + 4);
		sprintf(got[ngot++], "%s | %s", d->names[i], r);
	}
	qsort(got, ngot, sizeof(*got), cmp_str);
	qsort(want, nwant, sizeof(*want), cmp_str);
	if (ngot != nwant)
		ok = 0;
	for (i = 0; i < ngot || i < nwant; i++) {
		const char *g = i < ngot ? got[i] : "(none)";
		const char *w = i < nwant ? want[i] : "(none)";

		if (strcmp(g, w)) {
			printf("     restic case %d: got '%s', want '%s'\n",
			       case_no, g, w);
			ok = 0;
		}
	}
	for (i = 0; i < ngot; i++)
		free(got[i]);
	return (int)ok;
}

static void test_restic_cases(void)
{
	struct restic_data *d = calloc(1, sizeof(*d));
	FILE *f = open_testdata("restic-policy.txt");
	char line[512], policy_text[256] = "", *want[RESTIC_MAX];
	size_t nwant = 0, i;
	int case_no = -1, cases = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f)) {
		chomp(line);
		if (!strncmp(line, "snapshot ", 9)) {
			CU_ASSERT_FATAL(d->n < RESTIC_MAX);
			CU_ASSERT_FATAL(strlen(line + 9) <
					sizeof(d->names[d->n]));
			memcpy(d->names[d->n], line + 9, strlen(line + 9) + 1);
			d->snaps[d->n].id = d->n + 1;
			d->snaps[d->n].ctime = utc(line + 9);
			CU_ASSERT_NOT_EQUAL(d->snaps[d->n].ctime, (time_t)-1);
			d->n++;
		} else if (!strncmp(line, "case ", 5)) {
			char *sp;

			case_no = atoi(line + 5);
			sp = strchr(line + 5, ' ');
			snprintf(policy_text, sizeof(policy_text), "%s",
				 sp ? sp + 1 : "");
			nwant = 0;
		} else if (!strncmp(line, "keep ", 5)) {
			CU_ASSERT_FATAL(nwant < RESTIC_MAX);
			want[nwant++] = strdup(line + 5);
		} else if (!strcmp(line, "end")) {
			CU_ASSERT(restic_check(d, policy_text, want, nwant,
					       case_no));
			for (i = 0; i < nwant; i++)
				free(want[i]);
			nwant = 0;
			cases++;
		}
	}
	fclose(f);
	CU_ASSERT_EQUAL(d->n, 103);
	CU_ASSERT_EQUAL(cases, 11);
	free(d);
}

static CU_TestInfo retention_tests[] = {
	{ "duration_parse", test_duration_parse },
	{ "policy_parse", test_policy_parse },
	{ "policy_errors", test_policy_errors },
	{ "empty_input", test_empty_input },
	{ "keep_last", test_keep_last },
	{ "no_policy_keeps_all", test_no_policy_keeps_all },
	{ "keep_daily_and_oldest", test_keep_daily_and_oldest },
	{ "rules_overlap", test_rules_overlap },
	{ "ties", test_ties },
	{ "order_independent", test_order_independent },
	{ "pins", test_pins },
	{ "min_age", test_min_age },
	{ "keep_within", test_keep_within },
	{ "calendar_months", test_calendar_months },
	{ "within_month_end", test_within_month_end },
	{ "iso_weeks", test_iso_weeks },
	{ "year_end_zone", test_year_end_zone },
	{ "dst_berlin", test_dst_berlin },
	{ "dst_new_york", test_dst_new_york },
	{ "dst_repeated_hour", test_dst_repeated_hour },
	{ "system_zone", test_system_zone },
	{ "borg_example", test_borg_example },
	{ "space_pressure", test_space_pressure },
	{ "simulate_year_hourly", test_simulate_year_hourly },
	{ "simulate_small", test_simulate_small },
	{ "reason_text", test_reason_text },
	{ "restic_cases", test_restic_cases },
	CU_TEST_INFO_NULL,
};

const struct unit_suite retention_suite = {
	.name = "retention",
	.tests = retention_tests,
};
