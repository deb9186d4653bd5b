// SPDX-License-Identifier: GPL-2.0
/*
 * Retention over consistency-group cuts (lib/cuts.c): matching recorded
 * cuts to live snapshots by (volume, id, ctime_ns), one verdict per cut
 * for all its members, pins across volumes, snapshots in no cut judged by
 * their volume's policy or kept.  The clock is a fixed "now".
 */
#include <errno.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "cuts.h"
#include "unit.h"

#define NOW ((time_t)1700000000)
#define NS(s) ((uint64_t)(s) * 1000000000ULL)

static struct shadow_ret_policy policy(const char *text)
{
	struct shadow_ret_policy p;
	char err[SHADOW_RET_ERRLEN];

	shadow_ret_policy_init(&p);
	CU_ASSERT_EQUAL_FATAL(shadow_ret_policy_parse(&p, text, err,
						      sizeof(err)), 0);
	return p;
}

static struct shadow_cut_snap snap(unsigned int vol, uint32_t id,
				   uint64_t ctime_ns)
{
	struct shadow_cut_snap s;

	memset(&s, 0, sizeof(s));
	s.vol = vol;
	s.id = id;
	s.ctime_ns = ctime_ns;
	s.held_bytes = 1;
	return s;
}

/*
 * Four cuts of two volumes, an hour apart; the members of a cut differ
 * by microseconds (each store stamps its own time) and have different
 * ids on each volume.
 */
static struct shadow_cut_ref refs[4][2];
static struct shadow_cut cuts[4];
static struct shadow_cut_snap snaps[8];

static void four_cuts(void)
{
	size_t c;

	for (c = 0; c < 4; c++) {
		uint64_t t = NS(NOW - 3600 * (4 - (long)c));

		refs[c][0] = (struct shadow_cut_ref){ 0, (uint32_t)(c + 1),
						      t + 1000 };
		refs[c][1] = (struct shadow_cut_ref){ 1, (uint32_t)(c + 11),
						      t + 1234567 };
		cuts[c] = (struct shadow_cut){ c + 1, refs[c], 2 };
		snaps[2 * c] = snap(0, refs[c][0].id, refs[c][0].ctime_ns);
		snaps[2 * c + 1] = snap(1, refs[c][1].id,
					refs[c][1].ctime_ns);
	}
}

static void test_match(void)
{
	struct shadow_cut_snap s[9];
	long cut_of[9];
	size_t live[4];

	four_cuts();
	memcpy(s, snaps, sizeof(snaps));
	/* id 2 of volume 0 deleted and reused: another ctime, no cut */
	s[2].ctime_ns += 5;
	/* a snapshot made outside any cut */
	s[8] = snap(1, 99, NS(NOW));
	shadow_cut_match(cuts, 4, s, 9, cut_of, live);
	CU_ASSERT_EQUAL(cut_of[0], 0);
	CU_ASSERT_EQUAL(cut_of[1], 0);
	CU_ASSERT_EQUAL(cut_of[2], -1);
	CU_ASSERT_EQUAL(cut_of[3], 1);
	CU_ASSERT_EQUAL(cut_of[7], 3);
	CU_ASSERT_EQUAL(cut_of[8], -1);
	CU_ASSERT_EQUAL(live[0], 2);
	CU_ASSERT_EQUAL(live[1], 1);
	CU_ASSERT_EQUAL(live[3], 2);
	/* same id on the other volume is not the member */
	s[0].vol = 1;
	shadow_cut_match(cuts, 4, s, 9, cut_of, NULL);
	CU_ASSERT_EQUAL(cut_of[0], -1);
	/* the time of a cut: its earliest live member */
	shadow_cut_match(cuts, 4, snaps, 8, cut_of, live);
	CU_ASSERT_EQUAL(shadow_cut_time(snaps, 8, cut_of, 2),
			refs[2][0].ctime_ns);
	CU_ASSERT_EQUAL(shadow_cut_time(snaps, 8, cut_of, -7), 0);
}

/* keep-last=2 over cuts: the two newest cuts whole, on both volumes. */
static void test_keep_last_whole_cuts(void)
{
	struct shadow_ret_policy p = policy("keep-last=2");
	struct shadow_cut_verdict out[8];
	size_t i;

	four_cuts();
	CU_ASSERT_EQUAL(shadow_cut_evaluate(&p, NULL, 2, cuts, 4, snaps, 8,
					    NOW, out), 4);
	for (i = 0; i < 8; i++) {
		bool newer = i >= 4;

		CU_ASSERT_EQUAL(out[i].cut, (long)(i / 2));
		CU_ASSERT_EQUAL(out[i].by, SHADOW_CUT_BY_GROUP);
		CU_ASSERT_EQUAL(out[i].v.keep, newer);
		CU_ASSERT_EQUAL(out[i].v.reasons, newer ? SHADOW_RET_R_LAST :
				SHADOW_RET_R_NO_RULE);
		CU_ASSERT_EQUAL(out[i].v.id, i / 2 + 1);	/* the cut */
	}
	/* the cut's rank and time are the same for both members */
	CU_ASSERT_EQUAL(out[6].v.rank[0], 1);
	CU_ASSERT_EQUAL(out[7].v.rank[0], 1);
	CU_ASSERT_EQUAL(out[4].v.rank[0], 2);
	CU_ASSERT_EQUAL(out[6].v.ctime, out[7].v.ctime);
	CU_ASSERT_STRING_EQUAL(shadow_cut_by_key(out[0].by), "group");
}

/* A pinned member on one volume keeps the whole cut on every volume. */
static void test_pin_keeps_cut(void)
{
	struct shadow_ret_policy p = policy("keep-last=1");
	struct shadow_cut_verdict out[8];

	four_cuts();
	snaps[3].pinned = true;		/* cut 2, volume 1 */
	CU_ASSERT_EQUAL(shadow_cut_evaluate(&p, NULL, 2, cuts, 4, snaps, 8,
					    NOW, out), 4);
	CU_ASSERT_FALSE(out[0].v.keep);
	CU_ASSERT_FALSE(out[1].v.keep);
	CU_ASSERT_TRUE(out[2].v.keep);		/* volume 0, not pinned */
	CU_ASSERT_TRUE(out[3].v.keep);
	CU_ASSERT_TRUE(out[2].v.reasons & SHADOW_RET_R_PINNED);
	CU_ASSERT_FALSE(out[4].v.keep);
	CU_ASSERT_TRUE(out[6].v.keep);
	CU_ASSERT_TRUE(out[7].v.keep);

	/* max-count counts cuts, not snapshots, and never drops the pin */
	p = policy("max-count=2");
	CU_ASSERT_EQUAL(shadow_cut_evaluate(&p, NULL, 2, cuts, 4, snaps, 8,
					    NOW, out), 4);
	CU_ASSERT_FALSE(out[0].v.keep);
	CU_ASSERT_TRUE(out[0].v.reasons & SHADOW_RET_R_MAX_COUNT);
	CU_ASSERT_TRUE(out[2].v.keep);
	CU_ASSERT_FALSE(out[4].v.keep);
	CU_ASSERT_FALSE(out[5].v.keep);
	CU_ASSERT_TRUE(out[6].v.keep);
}

/* Snapshots in no cut: the volume's own policy over those alone, or kept
 * when the volume has none. */
static void test_outside_cuts(void)
{
	struct shadow_ret_policy g = policy("keep-last=1");
	struct shadow_ret_policy v0 = policy("keep-last=1");
	const struct shadow_ret_policy *vp[2] = { &v0, NULL };
	struct shadow_cut_snap s[12];
	struct shadow_cut_verdict out[12];

	four_cuts();
	memcpy(s, snaps, sizeof(snaps));
	s[8] = snap(0, 50, NS(NOW - 100));
	s[9] = snap(0, 51, NS(NOW - 50));
	s[10] = snap(1, 60, NS(NOW - 100));
	s[11] = snap(1, 61, NS(NOW - 50));
	/* 1 cut kept (2 snapshots), 51 by volume 0's policy, 60 and 61 */
	CU_ASSERT_EQUAL(shadow_cut_evaluate(&g, vp, 2, cuts, 4, s, 12, NOW,
					    out), 5);
	CU_ASSERT_EQUAL(out[8].cut, -1);
	CU_ASSERT_EQUAL(out[8].by, SHADOW_CUT_BY_VOLUME);
	CU_ASSERT_FALSE(out[8].v.keep);
	CU_ASSERT_EQUAL(out[8].v.reasons, SHADOW_RET_R_NO_RULE);
	CU_ASSERT_EQUAL(out[8].v.id, 50);
	CU_ASSERT_EQUAL(out[9].by, SHADOW_CUT_BY_VOLUME);
	CU_ASSERT_TRUE(out[9].v.keep);
	CU_ASSERT_EQUAL(out[9].v.reasons, SHADOW_RET_R_LAST);
	CU_ASSERT_EQUAL(out[10].by, SHADOW_CUT_BY_NONE);
	CU_ASSERT_TRUE(out[10].v.keep);
	CU_ASSERT_EQUAL(out[10].v.reasons, 0);
	CU_ASSERT_EQUAL(out[11].by, SHADOW_CUT_BY_NONE);
	CU_ASSERT_STRING_EQUAL(shadow_cut_by_key(out[11].by), "none");
	/* the snapshots in no cut do not count for the group's keep-last */
	CU_ASSERT_TRUE(out[6].v.keep);
	CU_ASSERT_TRUE(out[7].v.keep);
	CU_ASSERT_FALSE(out[4].v.keep);
}

/* A cut with a member gone is still one cut, timed by what is left; two
 * cuts in the same second are ordered by their number. */
static void test_partial_and_same_second(void)
{
	struct shadow_ret_policy p = policy("keep-last=1");
	struct shadow_cut_ref r[2][2];
	struct shadow_cut c[2];
	struct shadow_cut_snap s[3];
	struct shadow_cut_verdict out[8];

	/* cut 7 at NOW (+0.1 s, +0.2 s); cut 8 in the same second */
	r[0][0] = (struct shadow_cut_ref){ 0, 4, NS(NOW) + 100000000 };
	r[0][1] = (struct shadow_cut_ref){ 1, 9, NS(NOW) + 200000000 };
	r[1][0] = (struct shadow_cut_ref){ 0, 5, NS(NOW) + 300000000 };
	r[1][1] = (struct shadow_cut_ref){ 1, 10, NS(NOW) + 400000000 };
	c[0] = (struct shadow_cut){ 7, r[0], 2 };
	c[1] = (struct shadow_cut){ 8, r[1], 2 };
	s[0] = snap(0, 4, r[0][0].ctime_ns);
	s[1] = snap(1, 9, r[0][1].ctime_ns);
	s[2] = snap(1, 10, r[1][1].ctime_ns);	/* 5 on volume 0 is gone */
	CU_ASSERT_EQUAL(shadow_cut_evaluate(&p, NULL, 2, c, 2, s, 3, NOW,
					    out), 1);
	CU_ASSERT_FALSE(out[0].v.keep);
	CU_ASSERT_FALSE(out[1].v.keep);
	CU_ASSERT_TRUE(out[2].v.keep);
	CU_ASSERT_EQUAL(out[2].cut, 1);
	CU_ASSERT_EQUAL(out[2].v.id, 8);

	/* keep-within: the cut's time is its earliest member's */
	p = policy("keep-within=1h");
	four_cuts();
	/* cut 4: volume 0 at NOW-3600+1us (not within 1h), volume 1 a
	 * little later; the cut goes whole */
	CU_ASSERT_EQUAL(shadow_cut_evaluate(&p, NULL, 2, cuts, 4, snaps, 8,
					    NOW, out), 0);
}

static void test_errors(void)
{
	struct shadow_ret_policy p = policy("keep-last=1");
	struct shadow_cut_verdict out[8];

	four_cuts();
	CU_ASSERT_EQUAL(shadow_cut_evaluate(&p, NULL, 1, cuts, 4, snaps, 8,
					    NOW, out), -EINVAL);
	/* nothing at all */
	CU_ASSERT_EQUAL(shadow_cut_evaluate(&p, NULL, 0, NULL, 0, NULL, 0,
					    NOW, out), 0);
	/* cuts all gone: every snapshot in no cut, kept */
	CU_ASSERT_EQUAL(shadow_cut_evaluate(&p, NULL, 2, NULL, 0, snaps, 8,
					    NOW, out), 8);
	CU_ASSERT_EQUAL(out[0].by, SHADOW_CUT_BY_NONE);
}

static CU_TestInfo tests[] = {
	{ "match", test_match },
	{ "keep_last_whole_cuts", test_keep_last_whole_cuts },
	{ "pin_keeps_cut", test_pin_keeps_cut },
	{ "outside_cuts", test_outside_cuts },
	{ "partial_and_same_second", test_partial_and_same_second },
	{ "errors", test_errors },
	CU_TEST_INFO_NULL,
};

const struct unit_suite cuts_suite = { "cuts", tests };
