// SPDX-License-Identifier: GPL-2.0
/*
 * lib/simulate.c: "shadowctl simulate" — the arguments (durations, ISO
 * 8601 times, zones, bounds) and runs whose outcome is worked out by hand
 * in the comments.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "simulate.h"
#include "unit.h"

#define H 3600
#define D 86400
/* 2024-01-01T00:00:00Z */
#define JAN1 1704067200

static int setup(struct shadow_sim_args *a, const char *policy,
		 const char *every, const char *span, const char *start,
		 const char *tz)
{
	char err[SHADOW_RET_ERRLEN + 64];

	return shadow_sim_setup(a, policy, every, span, start, tz, JAN1 + 1234,
				err, sizeof(err));
}

static void test_parse_time(void)
{
	time_t t;

	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01T00:00:00Z", "", &t), 0);
	CU_ASSERT_EQUAL(t, JAN1);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01", "UTC", &t), 0);
	CU_ASSERT_EQUAL(t, JAN1);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01 01:30", "UTC", &t), 0);
	CU_ASSERT_EQUAL(t, JAN1 + H + 1800);
	/* an offset wins over the zone */
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01T01:00:00+01:00",
					      "America/New_York", &t), 0);
	CU_ASSERT_EQUAL(t, JAN1);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2023-12-31T19:00:00-0500", "",
					      &t), 0);
	CU_ASSERT_EQUAL(t, JAN1);
	/* without one, the zone: midnight in Berlin is 23:00 UTC in winter,
	 * 22:00 in summer */
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01T00:00:00",
					      "Europe/Berlin", &t), 0);
	CU_ASSERT_EQUAL(t, JAN1 - H);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-07-01", "Europe/Berlin",
					      &t), 0);
	CU_ASSERT_EQUAL(t, JAN1 + 182 * D - 2 * H);
	/* 29 February only in a leap year */
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-02-29", "UTC", &t), 0);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2023-02-29", "UTC", &t), -EINVAL);

	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-13-01", "UTC", &t), -EINVAL);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01T24:00", "UTC", &t),
			-EINVAL);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01T00:60", "UTC", &t),
			-EINVAL);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-1-01", "UTC", &t), -EINVAL);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01T00", "UTC", &t),
			-EINVAL);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01Z junk", "UTC", &t),
			-EINVAL);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("", "UTC", &t), -EINVAL);
	CU_ASSERT_EQUAL(shadow_sim_parse_time("2024-01-01", "Mars/Olympus",
					      &t), -EINVAL);
}

static void test_setup_args(void)
{
	struct shadow_sim_args a;

	CU_ASSERT_EQUAL(setup(&a, "keep-last=3", "1h", "1d",
			      "2024-01-01T00:00:00Z", "UTC"), 0);
	CU_ASSERT_EQUAL(a.start, JAN1);
	CU_ASSERT_EQUAL(a.every.hours, 1);
	CU_ASSERT_EQUAL(a.span.days, 1);
	CU_ASSERT_EQUAL(a.policy.keep_last, 3);
	CU_ASSERT_STRING_EQUAL(a.policy.zone, "UTC");

	/* --tz replaces the policy's zone */
	CU_ASSERT_EQUAL(setup(&a, "keep-daily=7 timezone=UTC", "1d", "1y",
			      NULL, "Europe/Berlin"), 0);
	CU_ASSERT_STRING_EQUAL(a.policy.zone, "Europe/Berlin");
	/* no --start: the current hour */
	CU_ASSERT_EQUAL(a.start, JAN1);
	/* several words are one policy */
	CU_ASSERT_EQUAL(setup(&a, "keep-daily=7 keep-weekly=4", "1h", "1y",
			      NULL, NULL), 0);
	CU_ASSERT_EQUAL(a.policy.keep[SHADOW_RET_DAILY], 7);
	CU_ASSERT_EQUAL(a.policy.keep[SHADOW_RET_WEEKLY], 4);

	CU_ASSERT_EQUAL(setup(&a, "keep-daily=x", "1h", "1d", NULL, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(setup(&a, "keep-last=3", "0", "1d", NULL, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(setup(&a, "keep-last=3", "1x", "1d", NULL, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(setup(&a, "keep-last=3", "1h", "", NULL, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(setup(&a, "keep-last=3", "1h", "1d", "yesterday",
			      NULL), -EINVAL);
	CU_ASSERT_EQUAL(setup(&a, "keep-last=3", "1h", "1d", NULL,
			      "Mars/Olympus"), -EINVAL);
	/* a year of minutes fits; ten years do not */
	CU_ASSERT_EQUAL(setup(&a, "keep-last=3", "1min", "1y", NULL, "UTC"), 0);
	CU_ASSERT_EQUAL(setup(&a, "keep-last=3", "1min", "10y", NULL, "UTC"),
			-E2BIG);
}

static void test_keep_last(void)
{
	struct shadow_sim_report r;
	struct shadow_sim_args a;

	/*
	 * keep-last=3, hourly for a day: 24 taken; after the 4th (03:00)
	 * four are present until the prune drops the oldest: peak 4, 3
	 * kept after each prune; left: 21:00, 22:00, 23:00 (ids 22-24).
	 */
	CU_ASSERT_EQUAL_FATAL(setup(&a, "keep-last=3", "1h", "1d",
				    "2024-01-01T00:00:00Z", "UTC"), 0);
	CU_ASSERT_EQUAL_FATAL(shadow_sim_run(&a, &r), 0);
	CU_ASSERT_EQUAL(r.taken, 24);
	CU_ASSERT_EQUAL(r.removed, 21);
	CU_ASSERT_EQUAL(r.peak, 4);
	CU_ASSERT_EQUAL(r.peak_at, JAN1 + 3 * H);
	CU_ASSERT_EQUAL(r.peak_kept, 3);
	CU_ASSERT_EQUAL(r.start, JAN1);
	CU_ASSERT_EQUAL(r.end, JAN1 + 23 * H);
	CU_ASSERT_EQUAL_FATAL(r.n_left, 3);
	CU_ASSERT_EQUAL(r.left[0].id, 24);
	CU_ASSERT_EQUAL(r.left[1].id, 23);
	CU_ASSERT_EQUAL(r.left[2].id, 22);
	CU_ASSERT_EQUAL(r.left[2].ctime, JAN1 + 21 * H);
	CU_ASSERT_EQUAL(r.left[0].reasons, SHADOW_RET_R_LAST);
	shadow_sim_report_free(&r);
	CU_ASSERT_PTR_NULL(r.left);
}

static void test_keep_daily(void)
{
	struct shadow_sim_report r;
	struct shadow_sim_args a;
	size_t i;

	/*
	 * keep-daily=7, hourly for 30 days from Jan 1: left are the newest
	 * of each of the last 7 days, 23:00 of Jan 24..30 (ids 24 * day).
	 * While fewer than 7 days exist the rule is not filled and the
	 * oldest snapshot (Jan 1 00:00) is kept too: on day d after its
	 * first hour, d dailies + the oldest are kept, d + 2 present before
	 * a prune.  Day 6, 01:00 is the first with 8 present; from day 7 on
	 * the rule is filled: 7 kept, 8 present.
	 */
	CU_ASSERT_EQUAL_FATAL(setup(&a, "keep-daily=7", "1h", "30d",
				    "2024-01-01T00:00:00Z", "UTC"), 0);
	CU_ASSERT_EQUAL_FATAL(shadow_sim_run(&a, &r), 0);
	CU_ASSERT_EQUAL(r.taken, 720);
	CU_ASSERT_EQUAL(r.removed, 713);
	CU_ASSERT_EQUAL(r.peak, 8);
	CU_ASSERT_EQUAL(r.peak_at, JAN1 + 5 * D + H);
	CU_ASSERT_EQUAL(r.peak_kept, 7);
	CU_ASSERT_EQUAL_FATAL(r.n_left, 7);
	for (i = 0; i < 7; i++) {
		CU_ASSERT_EQUAL(r.left[i].id, 24 * (30 - i));
		CU_ASSERT_EQUAL(r.left[i].ctime,
				JAN1 + (time_t)(29 - i) * D + 23 * H);
		CU_ASSERT_EQUAL(r.left[i].reasons,
				SHADOW_RET_R_PERIOD << SHADOW_RET_DAILY);
	}
	shadow_sim_report_free(&r);

	/*
	 * keep-last=3 on top: 23:00 of day 30 is both; 21:00 and 22:00 of
	 * day 30 are kept by keep-last only: 9 left.
	 */
	CU_ASSERT_EQUAL_FATAL(setup(&a, "keep-last=3 keep-daily=7", "1h",
				    "30d", "2024-01-01T00:00:00Z", "UTC"), 0);
	CU_ASSERT_EQUAL_FATAL(shadow_sim_run(&a, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.n_left, 9);
	CU_ASSERT_EQUAL(r.left[0].id, 720);
	CU_ASSERT_EQUAL(r.left[0].reasons, SHADOW_RET_R_LAST |
			(SHADOW_RET_R_PERIOD << SHADOW_RET_DAILY));
	CU_ASSERT_EQUAL(r.left[1].id, 719);
	CU_ASSERT_EQUAL(r.left[1].reasons, SHADOW_RET_R_LAST);
	CU_ASSERT_EQUAL(r.left[2].id, 718);
	CU_ASSERT_EQUAL(r.left[3].id, 696);
	CU_ASSERT_EQUAL(r.left[8].id, 576);
	CU_ASSERT_EQUAL(r.taken - r.removed, 9);
	shadow_sim_report_free(&r);
}

static void test_year_and_dst(void)
{
	const char *tz0 = getenv("TZ");
	char *saved = tz0 ? strdup(tz0) : NULL;
	struct shadow_sim_report r;
	struct shadow_sim_args a;

	/*
	 * Hourly for a year (2024 is a leap year: 8784 hours) with
	 * keep-hourly=24 keep-daily=7 keep-monthly=12: at the end the 24
	 * hours of Dec 31 (the newest is also the daily and the monthly),
	 * 6 more dailies (Dec 25..30) and 11 more monthlies (the last hour
	 * of Jan..Nov): 41.
	 */
	CU_ASSERT_EQUAL_FATAL(setup(&a, "keep-hourly=24 keep-daily=7 "
				    "keep-monthly=12", "1h", "1y",
				    "2024-01-01T00:00:00Z", "UTC"), 0);
	CU_ASSERT_EQUAL_FATAL(shadow_sim_run(&a, &r), 0);
	CU_ASSERT_EQUAL(r.taken, 8784);
	CU_ASSERT_EQUAL(r.n_left, 41);
	CU_ASSERT_EQUAL(r.removed, 8784 - 41);
	CU_ASSERT_EQUAL(r.end, JAN1 + 366 * D - H);
	shadow_sim_report_free(&r);

	/*
	 * Daily at 12:00 in Berlin across the change to summer time on
	 * 2024-03-31: 11:00 UTC, then 10:00 UTC; keep-last=unlimited keeps
	 * all three.
	 */
	CU_ASSERT_EQUAL_FATAL(setup(&a, "keep-last=unlimited", "1d", "3d",
				    "2024-03-30T12:00:00", "Europe/Berlin"), 0);
	CU_ASSERT_EQUAL(a.start, JAN1 + 89 * D + 11 * H);
	CU_ASSERT_EQUAL_FATAL(shadow_sim_run(&a, &r), 0);
	CU_ASSERT_EQUAL(r.taken, 3);
	CU_ASSERT_EQUAL_FATAL(r.n_left, 3);
	CU_ASSERT_EQUAL(r.left[1].ctime, JAN1 + 90 * D + 10 * H);
	CU_ASSERT_EQUAL(r.left[0].ctime, JAN1 + 91 * D + 10 * H);
	CU_ASSERT_EQUAL(r.peak, 3);
	shadow_sim_report_free(&r);
	/* and TZ is as it was */
	if (saved) {
		CU_ASSERT_STRING_EQUAL(getenv("TZ") ?: "", saved);
	} else {
		CU_ASSERT_PTR_NULL(getenv("TZ"));
	}
	free(saved);
}

static CU_TestInfo simulate_tests[] = {
	{ "parse_time", test_parse_time },
	{ "setup_args", test_setup_args },
	{ "keep_last", test_keep_last },
	{ "keep_daily", test_keep_daily },
	{ "year_and_dst", test_year_and_dst },
	CU_TEST_INFO_NULL,
};

const struct unit_suite simulate_suite = {
	.name = "simulate",
	.tests = simulate_tests,
};
