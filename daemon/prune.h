/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadowd: pruning under space pressure, the decisions only.  The kernel
 * calls are behind struct shadowd_prune_ops, so that the unit tests
 * (tests/unit/test_prune.c) drive it with a fake store.  No logging, no
 * json: the caller's ops->deleted() reports each deletion and its reason.
 */
#ifndef SHADOWD_PRUNE_H
#define SHADOWD_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "retention.h"
#include "shadow-nl.h"

/* Most deletions one prune makes (a bound, not a policy). */
#define SHADOWD_PRUNE_MAX 4096

/* Most members of one cut besides the snapshot picked. */
#define SHADOWD_PRUNE_CUT_MAX 64

/* One snapshot of another volume, removed with the one picked. */
struct shadowd_prune_member {
	struct shadow_dev dev;
	uint32_t id;
};

struct shadowd_prune_ops {
	/* 0 or a negative errno. */
	int (*origin_get)(void *ctx, struct shadow_dev d,
			  struct shadow_origin *o);
	/* The live snapshots, malloc()ed (free() it). */
	int (*snap_list)(void *ctx, struct shadow_dev d,
			 struct shadow_snap **v, size_t *n);
	int (*snap_delete)(void *ctx, struct shadow_dev d, uint32_t id);
	/* Never deleted (FSRVP sets); NULL: nothing is pinned. */
	bool (*pinned)(void *ctx, struct shadow_dev d,
		       const struct shadow_snap *s);
	/* One snapshot was deleted, and why (may be NULL). */
	void (*deleted)(void *ctx, struct shadow_dev d, uint32_t id,
			const char *reason);
	/* A deletion failed (may be NULL); the snapshot is skipped. */
	void (*failed)(void *ctx, struct shadow_dev d, uint32_t id, int err);
	/*
	 * Consistency-group cuts (NULL: none): the live members on other
	 * volumes of the cut @s belongs to, at most @max in @m, and in
	 * @what a name for the log ("cut 3 of group db").  Returns their
	 * number (0: @s is in no cut and goes alone), or -1 when a member
	 * is pinned (the whole cut is kept).  A picked snapshot goes with
	 * these members: the cut is removed whole.
	 */
	int (*cut_members)(void *ctx, struct shadow_dev d,
			   const struct shadow_snap *s,
			   struct shadowd_prune_member *m, size_t max,
			   char *what, size_t wlen);
	void *ctx;
};

struct shadowd_prune_result {
	bool triggered;		/* use was at or above the high threshold */
	bool reached;		/* use ended below the low threshold */
	unsigned int high, low;	/* the thresholds used, percent */
	size_t deleted;		/* snapshots, cut members included */
	uint64_t used_before, used_after, total;	/* data chunks */
};

/*
 * The thresholds for an origin: the policy's store-high/store-low when
 * it sets them, else the origin's high_water/low_water (a low of 0 is
 * the high).  false when there is no high threshold.
 */
bool shadowd_prune_limits(const struct shadow_ret_policy *p,
			  const struct shadow_origin *o, unsigned int *high,
			  unsigned int *low);

/*
 * The no-policy choice: the oldest snapshot (creation time, then id)
 * whose @skip entry is false.  -1 when there is none.
 */
long shadowd_prune_oldest(const struct shadow_snap *v, size_t n,
			  const bool *skip);

/*
 * Prune origin @d: when its store use is at or above the high threshold,
 * delete one snapshot at a time, re-reading the use after each, until it
 * is below the low threshold or nothing is left to delete.  With a
 * policy (@p not NULL), shadow_ret_space() picks; without, the oldest
 * snapshot that is not pinned.  A snapshot whose deletion fails is
 * skipped.  With ops->cut_members, a snapshot in a cut with a pinned
 * member counts as pinned, and a picked one is removed with the other
 * members of its cut (after it; a member that fails is reported through
 * ops->failed and left).
 *
 * Return: 0, or a negative errno when the origin cannot be read.
 */
int shadowd_prune(const struct shadowd_prune_ops *ops, struct shadow_dev d,
		  const struct shadow_ret_policy *p,
		  struct shadowd_prune_result *res);

#endif
