// SPDX-License-Identifier: GPL-2.0
/*
 * shadowd's pruning decisions (daemon/prune.c, built here as it is) over
 * a fake store: which snapshots go, pinned ones stay, when it stops.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "unit.h"
#include "../../daemon/prune.c"

#define FAKE_MAX 32

/* A store of 100 chunks: @base used by nothing prunable, plus each
 * snapshot's exclusive chunks. */
struct fake {
	struct shadow_origin o;
	struct shadow_snap s[FAKE_MAX];
	bool pin[FAKE_MAX];
	size_t n;
	uint64_t base;
	uint32_t fail_id;		/* delete of this id fails (EBUSY) */
	uint32_t order[FAKE_MAX];	/* ids deleted, in order */
	size_t ndel, nfail, gets;
};

static void fake_init(struct fake *f, uint64_t base, unsigned int low,
		      unsigned int high)
{
	memset(f, 0, sizeof(*f));
	f->o.dev.major = 253;
	f->o.chunk_sectors = 8;
	f->o.store_total = 100;
	f->o.low_water = low;
	f->o.high_water = high;
	f->base = base;
}

static void fake_add(struct fake *f, uint32_t id, uint64_t ctime_s,
		     uint64_t excl, bool pin)
{
	struct shadow_snap *s = &f->s[f->n];

	memset(s, 0, sizeof(*s));
	s->id = id;
	s->ctime_ns = ctime_s * 1000000000ULL;
	s->exclusive = excl;
	f->pin[f->n++] = pin;
}

static int f_origin_get(void *ctx, struct shadow_dev d,
			struct shadow_origin *o)
{
	struct fake *f = ctx;
	size_t i;

	f->gets++;
	f->o.store_used = f->base;
	for (i = 0; i < f->n; i++)
		f->o.store_used += f->s[i].exclusive;
	f->o.nr_snaps = (uint32_t)f->n;
	*o = f->o;
	return 0;
}

static int f_snap_list(void *ctx, struct shadow_dev d, struct shadow_snap **v,
		       size_t *n)
{
	struct fake *f = ctx;

	*v = malloc((f->n ? f->n : 1) * sizeof(**v));
	if (!*v)
		return -ENOMEM;
	memcpy(*v, f->s, f->n * sizeof(**v));
	*n = f->n;
	return 0;
}

static int f_snap_delete(void *ctx, struct shadow_dev d, uint32_t id)
{
	struct fake *f = ctx;
	size_t i;

	if (id == f->fail_id) {
		f->nfail++;
		return -EBUSY;
	}
	for (i = 0; i < f->n; i++) {
		if (f->s[i].id != id)
			continue;
		CU_ASSERT_FALSE(f->pin[i]);
		memmove(&f->s[i], &f->s[i + 1], (f->n - i - 1) * sizeof(f->s[0]));
		memmove(&f->pin[i], &f->pin[i + 1], f->n - i - 1);
		f->n--;
		f->order[f->ndel++] = id;
		return 0;
	}
	return -ENOENT;
}

static bool f_pinned(void *ctx, struct shadow_dev d,
		     const struct shadow_snap *s)
{
	struct fake *f = ctx;
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->s[i].id == s->id)
			return f->pin[i];
	return false;
}

static char last_reason[1024];

static void f_deleted(void *ctx, struct shadow_dev d, uint32_t id,
		      const char *reason)
{
	snprintf(last_reason, sizeof(last_reason), "%s", reason);
}

static struct shadowd_prune_ops fake_ops(struct fake *f)
{
	struct shadowd_prune_ops ops = {
		.origin_get = f_origin_get,
		.snap_list = f_snap_list,
		.snap_delete = f_snap_delete,
		.pinned = f_pinned,
		.deleted = f_deleted,
		.ctx = f,
	};
	return ops;
}

/* No policy: oldest first, pinned skipped, stops once below low. */
static void test_fallback_oldest_until_low(void)
{
	struct fake f;
	struct shadowd_prune_ops ops = fake_ops(&f);
	struct shadowd_prune_result r;
	struct shadow_dev d = { 253, 0 };

	fake_init(&f, 10, 50, 80);
	/* ids in creation order 1..6, 15 chunks each: 10 + 90 = 100% */
	fake_add(&f, 1, 100, 15, false);
	fake_add(&f, 2, 200, 15, true);		/* pinned (FSRVP copy) */
	fake_add(&f, 3, 300, 15, false);
	fake_add(&f, 4, 400, 15, false);
	fake_add(&f, 5, 500, 15, false);
	fake_add(&f, 6, 600, 15, false);
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, NULL, &r), 0);
	CU_ASSERT_TRUE(r.triggered);
	CU_ASSERT_TRUE(r.reached);
	CU_ASSERT_EQUAL(r.high, 80);
	CU_ASSERT_EQUAL(r.low, 50);
	/* 100 -> 85 (1) -> 70 (3) -> 55 (4) -> 40 (5): under 50 */
	CU_ASSERT_EQUAL(r.deleted, 4);
	CU_ASSERT_EQUAL(f.ndel, 4);
	CU_ASSERT_EQUAL(f.order[0], 1);
	CU_ASSERT_EQUAL(f.order[1], 3);
	CU_ASSERT_EQUAL(f.order[2], 4);
	CU_ASSERT_EQUAL(f.order[3], 5);
	CU_ASSERT_EQUAL(r.used_before, 100);
	CU_ASSERT_EQUAL(r.used_after, 40);
	CU_ASSERT_EQUAL(f.n, 2);	/* 2 (pinned) and 6 remain */
	CU_ASSERT_EQUAL(f.s[0].id, 2);
	CU_ASSERT_EQUAL(f.s[1].id, 6);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_reason, "no retention policy"));
}

/* Below the high threshold nothing happens; exactly at it, pruning runs. */
static void test_fallback_threshold(void)
{
	struct fake f;
	struct shadowd_prune_ops ops = fake_ops(&f);
	struct shadowd_prune_result r;
	struct shadow_dev d = { 253, 0 };

	fake_init(&f, 0, 50, 80);
	fake_add(&f, 1, 100, 40, false);
	fake_add(&f, 2, 200, 39, false);	/* 79% */
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, NULL, &r), 0);
	CU_ASSERT_FALSE(r.triggered);
	CU_ASSERT_EQUAL(f.ndel, 0);

	fake_add(&f, 3, 300, 1, false);		/* 80%: at high */
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, NULL, &r), 0);
	CU_ASSERT_TRUE(r.triggered);
	CU_ASSERT_TRUE(r.reached);
	CU_ASSERT_EQUAL(f.ndel, 1);		/* 80 -> 40 */
	CU_ASSERT_EQUAL(f.order[0], 1);

	/* no water marks, no policy: nothing to do whatever the use */
	fake_init(&f, 99, 0, 0);
	fake_add(&f, 1, 100, 1, false);
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, NULL, &r), 0);
	CU_ASSERT_FALSE(r.triggered);
	CU_ASSERT_EQUAL(f.ndel, 0);
}

/* Pinned snapshots hold the store: prune deletes what it may and stops. */
static void test_fallback_all_pinned(void)
{
	struct fake f;
	struct shadowd_prune_ops ops = fake_ops(&f);
	struct shadowd_prune_result r;
	struct shadow_dev d = { 253, 0 };

	fake_init(&f, 0, 50, 80);
	fake_add(&f, 1, 100, 40, true);
	fake_add(&f, 2, 200, 10, false);
	fake_add(&f, 3, 300, 40, true);
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, NULL, &r), 0);
	CU_ASSERT_TRUE(r.triggered);
	CU_ASSERT_FALSE(r.reached);
	CU_ASSERT_EQUAL(r.deleted, 1);
	CU_ASSERT_EQUAL(f.order[0], 2);
	CU_ASSERT_EQUAL(r.used_after, 80);
	CU_ASSERT_EQUAL(f.n, 2);
}

/* A snapshot whose delete fails is skipped, the next one goes. */
static void test_fallback_delete_fails(void)
{
	struct fake f;
	struct shadowd_prune_ops ops = fake_ops(&f);
	struct shadowd_prune_result r;
	struct shadow_dev d = { 253, 0 };

	fake_init(&f, 0, 50, 80);
	fake_add(&f, 1, 100, 30, false);
	fake_add(&f, 2, 200, 30, false);
	fake_add(&f, 3, 300, 30, false);
	f.fail_id = 1;
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, NULL, &r), 0);
	CU_ASSERT_TRUE(r.reached);
	CU_ASSERT_EQUAL(f.nfail, 1);		/* tried once, not again */
	CU_ASSERT_EQUAL(f.ndel, 2);
	CU_ASSERT_EQUAL(f.order[0], 2);
	CU_ASSERT_EQUAL(f.order[1], 3);
}

/* The oldest by creation time, ties broken by id; skip honoured. */
static void test_oldest_pick(void)
{
	struct shadow_snap v[4];
	bool skip[4] = { false, false, false, false };

	memset(v, 0, sizeof(v));
	v[0].id = 9;  v[0].ctime_ns = 300;
	v[1].id = 4;  v[1].ctime_ns = 100;
	v[2].id = 3;  v[2].ctime_ns = 100;
	v[3].id = 1;  v[3].ctime_ns = 200;
	CU_ASSERT_EQUAL(shadowd_prune_oldest(v, 4, skip), 2);
	skip[2] = true;
	CU_ASSERT_EQUAL(shadowd_prune_oldest(v, 4, skip), 1);
	skip[1] = true;
	CU_ASSERT_EQUAL(shadowd_prune_oldest(v, 4, skip), 3);
	skip[0] = skip[3] = true;
	CU_ASSERT_EQUAL(shadowd_prune_oldest(v, 4, skip), -1);
	CU_ASSERT_EQUAL(shadowd_prune_oldest(v, 0, skip), -1);
}

/* A policy's store-high/store-low win over the water marks, and the
 * space evaluation picks (oldest unpinned, held bytes). */
static void test_policy_space(void)
{
	struct fake f;
	struct shadowd_prune_ops ops = fake_ops(&f);
	struct shadowd_prune_result r;
	struct shadow_ret_policy p;
	struct shadow_dev d = { 253, 0 };
	char err[SHADOW_RET_ERRLEN];

	shadow_ret_policy_init(&p);
	CU_ASSERT_EQUAL(shadow_ret_policy_parse(&p, "keep-last=1 store-high=60 "
						"store-low=30", err,
						sizeof(err)), 0);
	fake_init(&f, 0, 80, 90);	/* marks at 80/90: not reached */
	fake_add(&f, 1, 100, 20, false);
	fake_add(&f, 2, 200, 20, true);
	fake_add(&f, 3, 300, 10, false);
	fake_add(&f, 4, 400, 10, false);	/* 60%: at store-high */
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, &p, &r), 0);
	CU_ASSERT_TRUE(r.triggered);
	CU_ASSERT_TRUE(r.reached);
	CU_ASSERT_EQUAL(r.high, 60);
	CU_ASSERT_EQUAL(r.low, 30);
	/* 60 -> 40 (1) -> 30 (3) -> 20 (4): keep-last does not protect */
	CU_ASSERT_EQUAL(f.ndel, 3);
	CU_ASSERT_EQUAL(f.order[0], 1);
	CU_ASSERT_EQUAL(f.order[1], 3);
	CU_ASSERT_EQUAL(f.order[2], 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_reason, "retention policy"));

	/* a policy without store-high: the origin's water marks */
	shadow_ret_policy_init(&p);
	CU_ASSERT_EQUAL(shadow_ret_policy_parse(&p, "keep-last=3", err,
						sizeof(err)), 0);
	fake_init(&f, 0, 50, 80);
	fake_add(&f, 1, 100, 45, false);
	fake_add(&f, 2, 200, 45, false);
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, &p, &r), 0);
	CU_ASSERT_TRUE(r.triggered);
	CU_ASSERT_EQUAL(r.high, 80);
	CU_ASSERT_EQUAL(f.ndel, 1);
	CU_ASSERT_EQUAL(f.order[0], 1);
	CU_ASSERT_EQUAL(r.used_after, 45);
}

static void test_limits(void)
{
	struct shadow_origin o;
	struct shadow_ret_policy p;
	unsigned int h, l;

	memset(&o, 0, sizeof(o));
	shadow_ret_policy_init(&p);
	CU_ASSERT_FALSE(shadowd_prune_limits(NULL, &o, &h, &l));
	o.high_water = 90;
	CU_ASSERT_TRUE(shadowd_prune_limits(NULL, &o, &h, &l));
	CU_ASSERT_EQUAL(h, 90);
	CU_ASSERT_EQUAL(l, 90);		/* no low mark: the high one */
	o.low_water = 70;
	CU_ASSERT_TRUE(shadowd_prune_limits(&p, &o, &h, &l));
	CU_ASSERT_EQUAL(l, 70);
	p.store_high = 50;
	p.store_low = 20;
	CU_ASSERT_TRUE(shadowd_prune_limits(&p, &o, &h, &l));
	CU_ASSERT_EQUAL(h, 50);
	CU_ASSERT_EQUAL(l, 20);
}

/* Group cuts: a picked snapshot goes with the members of its cut on the
 * other volume; a cut with a pinned member elsewhere is kept whole. */
static struct {
	uint32_t id, other;	/* snapshot here, its cut's member there */
	bool pinned;		/* the member there is pinned */
} cutmap[4];
static size_t ncutmap;
static uint32_t other_deleted[8];
static size_t nother;
static uint32_t other_fail;

static int f_cut_members(void *ctx, struct shadow_dev d,
			 const struct shadow_snap *s,
			 struct shadowd_prune_member *m, size_t max,
			 char *what, size_t wlen)
{
	size_t i;

	for (i = 0; i < ncutmap; i++) {
		if (cutmap[i].id != s->id)
			continue;
		if (cutmap[i].pinned)
			return -1;
		if (what)
			snprintf(what, wlen, "cut %zu of group g", i + 1);
		if (!m || !max)
			return 1;
		m[0].dev.major = 253;
		m[0].dev.minor = 7;
		m[0].id = cutmap[i].other;
		return 1;
	}
	return 0;
}

static int f_cut_delete(void *ctx, struct shadow_dev d, uint32_t id)
{
	if (d.minor == 7) {
		if (id == other_fail)
			return -EBUSY;
		other_deleted[nother++] = id;
		return 0;
	}
	return f_snap_delete(ctx, d, id);
}

static uint32_t failed_there;

static void f_failed(void *ctx, struct shadow_dev d, uint32_t id, int err)
{
	if (d.minor == 7)
		failed_there = id;
}

static void test_group_cuts(void)
{
	struct fake f;
	struct shadowd_prune_ops ops = fake_ops(&f);
	struct shadowd_prune_result r;
	struct shadow_ret_policy p;
	struct shadow_dev d = { 253, 0 };
	char err[SHADOW_RET_ERRLEN];

	ops.cut_members = f_cut_members;
	ops.snap_delete = f_cut_delete;
	ops.failed = f_failed;
	ncutmap = 3;
	cutmap[0].id = 1; cutmap[0].other = 11; cutmap[0].pinned = false;
	cutmap[1].id = 2; cutmap[1].other = 12; cutmap[1].pinned = true;
	cutmap[2].id = 4; cutmap[2].other = 14; cutmap[2].pinned = false;
	nother = 0;
	other_fail = 0;
	failed_there = 0;

	/* no policy: oldest first; 2 is pinned by its member there */
	fake_init(&f, 0, 50, 80);
	fake_add(&f, 1, 100, 30, false);
	fake_add(&f, 2, 200, 30, false);
	fake_add(&f, 3, 300, 20, false);	/* in no cut */
	fake_add(&f, 4, 400, 10, false);	/* 90% */
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, NULL, &r), 0);
	CU_ASSERT_TRUE(r.reached);
	/* 90 -> 60 (1, with 11 there) -> 40 (3): under 50 */
	CU_ASSERT_EQUAL(f.ndel, 2);
	CU_ASSERT_EQUAL(f.order[0], 1);
	CU_ASSERT_EQUAL(f.order[1], 3);
	CU_ASSERT_EQUAL(nother, 1);
	CU_ASSERT_EQUAL(other_deleted[0], 11);
	CU_ASSERT_EQUAL(r.deleted, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_reason, "no retention policy"));

	/* the group's policy picks (store-high/low); a member there that
	 * cannot be deleted is reported, the cut's snapshot here goes */
	shadow_ret_policy_init(&p);
	CU_ASSERT_EQUAL(shadow_ret_policy_parse(&p, "keep-last=4 store-high=60 "
						"store-low=20", err,
						sizeof(err)), 0);
	nother = 0;
	other_fail = 14;
	fake_init(&f, 0, 80, 90);
	fake_add(&f, 1, 100, 30, false);
	fake_add(&f, 2, 200, 30, false);
	fake_add(&f, 4, 400, 10, false);	/* 70% */
	CU_ASSERT_EQUAL(shadowd_prune(&ops, d, &p, &r), 0);
	/* 70 -> 40 (1 and 11) -> 30 (4; 14 fails there); 2 stays */
	CU_ASSERT_FALSE(r.reached);
	CU_ASSERT_EQUAL(f.ndel, 2);
	CU_ASSERT_EQUAL(f.order[0], 1);
	CU_ASSERT_EQUAL(f.order[1], 4);
	CU_ASSERT_EQUAL(nother, 1);
	CU_ASSERT_EQUAL(failed_there, 14);
	CU_ASSERT_EQUAL(r.deleted, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_reason, "cut 3 of group g, removed whole"));
	ncutmap = 0;
}

static CU_TestInfo tests[] = {
	{ "fallback_oldest_until_low", test_fallback_oldest_until_low },
	{ "fallback_threshold", test_fallback_threshold },
	{ "fallback_all_pinned", test_fallback_all_pinned },
	{ "fallback_delete_fails", test_fallback_delete_fails },
	{ "oldest_pick", test_oldest_pick },
	{ "policy_space", test_policy_space },
	{ "limits", test_limits },
	{ "group_cuts", test_group_cuts },
	CU_TEST_INFO_NULL,
};

const struct unit_suite prune_suite = { "prune", tests };
