// SPDX-License-Identifier: GPL-2.0
/*
 * dm-shadow consistency groups: one snapshot of each of several origins,
 * cut at one instant, optionally with the filesystems on them frozen by
 * the kernel around the cut.
 *
 * The filesystems are frozen in parallel, each by a work item, because a
 * filesystem freeze cannot be interrupted: when the time bound runs out the
 * request gives up on the freezes still running, and each of them thaws
 * its filesystem itself as soon as its freeze returns.  Nothing is left
 * frozen, whatever happens to the caller.
 */

#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "shadow.h"

#define DM_MSG_PREFIX "shadow"

static struct workqueue_struct *shadow_freeze_wq;

struct group_ctx;

/**
 * struct group_freeze - the freeze of one origin's filesystem.
 * @work: runs shadow_bdev_freeze().
 * @g: the group.
 * @md: the origin's mapped device, held until the group is freed.
 * @error: what shadow_bdev_freeze() returned.
 * @done: shadow_bdev_freeze() returned.
 * @frozen: frozen by us and to be thawed by the request.
 */
struct group_freeze {
	struct work_struct work;
	struct group_ctx *g;
	struct mapped_device *md;
	int error;
	bool done;
	bool frozen;
};

/**
 * struct group_ctx - freezes of one group cut.
 * @ref: the request and each freeze work.
 * @lock: protects @abandoned, @pending and the members' @done, @frozen.
 * @abandoned: the request no longer waits; late freezes thaw themselves.
 * @pending: freezes not yet returned.
 * @wq: woken when a freeze returns.
 * @nr: members.
 * @f: one per origin.
 */
struct group_ctx {
	refcount_t ref;
	spinlock_t lock;
	bool abandoned;
	unsigned int pending;
	wait_queue_head_t wq;
	unsigned int nr;
	struct group_freeze f[];
};

static void group_put(struct group_ctx *g)
{
	unsigned int i;

	if (!refcount_dec_and_test(&g->ref))
		return;
	for (i = 0; i < g->nr; i++)
		if (g->f[i].md)
			dm_put(g->f[i].md);
	kfree(g);
}

static struct block_device *md_bdev(struct mapped_device *md)
{
	return dm_disk(md)->part0;
}

static void freeze_work(struct work_struct *work)
{
	struct group_freeze *f = container_of(work, struct group_freeze, work);
	struct group_ctx *g = f->g;
	bool thaw = false;
	int r;

	r = shadow_bdev_freeze(md_bdev(f->md));
	spin_lock(&g->lock);
	f->error = r;
	f->done = true;
	if (g->abandoned)
		thaw = !r;
	else
		f->frozen = !r;
	g->pending--;
	spin_unlock(&g->lock);
	wake_up(&g->wq);
	if (thaw)
		shadow_bdev_thaw(md_bdev(f->md));
	group_put(g);
}

static bool group_settled(struct group_ctx *g)
{
	bool settled;

	spin_lock(&g->lock);
	settled = !g->pending;
	spin_unlock(&g->lock);
	return settled;
}

/* Starts the freezes; the caller waits for them with the time bound. */
static struct group_ctx *group_freeze(struct shadow_group_member *m,
				      unsigned int nr)
{
	struct group_ctx *g;
	unsigned int i;

	g = kzalloc(struct_size(g, f, nr), GFP_KERNEL);
	if (!g)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&g->lock);
	init_waitqueue_head(&g->wq);
	g->nr = nr;
	for (i = 0; i < nr; i++) {
		g->f[i].md = dm_get_md(m[i].o->md_dev);
		if (!g->f[i].md) {
			refcount_set(&g->ref, 1);
			group_put(g);
			return ERR_PTR(-ENODEV);
		}
	}
	refcount_set(&g->ref, nr + 1);
	g->pending = nr;
	for (i = 0; i < nr; i++) {
		g->f[i].g = g;
		INIT_WORK(&g->f[i].work, freeze_work);
		queue_work(shadow_freeze_wq, &g->f[i].work);
	}
	return g;
}

/*
 * Gives up waiting and thaws what the freezes finished so far; those
 * still running thaw their filesystem when they return.
 */
static void group_thaw(struct group_ctx *g)
{
	unsigned int i;

	spin_lock(&g->lock);
	g->abandoned = true;
	spin_unlock(&g->lock);
	/* @frozen cannot change once @abandoned is set */
	for (i = 0; i < g->nr; i++)
		if (g->f[i].frozen)
			shadow_bdev_thaw(md_bdev(g->f[i].md));
	group_put(g);
}

static long left_until(unsigned long deadline)
{
	return time_before(jiffies, deadline) ? deadline - jiffies : 0;
}

/**
 * shadow_group_cut() - cut one snapshot of each origin at one instant
 * @m: the origins, each referenced by the caller, in a stable order
 *	(ascending device number); @m[i].epoch receives the new snapshot
 * @nr: number of origins, at least 1
 * @freeze: freeze the filesystems on the origins around the cut
 * @timeout_ms: time bound for freezing, draining and cutting
 * @label: optional label of every new snapshot
 * @pause_us: set to the time from the start of the freeze (or of the
 *	write hold) to the thaw (or the release of the writes)
 * @why: set to a reason for the caller's error report on failure
 *
 * Holds new writes on every origin, waits for the admitted ones to
 * complete on all of them, then commits a snapshot on each: no write
 * acknowledged before the cut is missing from any snapshot, and no write
 * issued after it is in any.  On any failure, including the time bound,
 * the snapshots already cut are deleted again and everything is thawed.
 *
 * A filesystem that is already frozen (by FIFREEZE) is cut as it is and
 * left frozen.
 *
 * Return: 0 or a negative errno (-ETIMEDOUT when the bound ran out).
 */
int shadow_group_cut(struct shadow_group_member *m, unsigned int nr,
		     bool freeze, unsigned int timeout_ms, const char *label,
		     u64 *pause_us, const char **why)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);
	struct group_ctx *g = NULL;
	ktime_t start = ktime_get();
	unsigned int i, cut = 0;
	long left;
	int r = 0;

	if (freeze) {
		g = group_freeze(m, nr);
		if (IS_ERR(g)) {
			*why = "Origin is going away";
			return PTR_ERR(g);
		}
		if (!wait_event_timeout(g->wq, group_settled(g),
					left_until(deadline))) {
			*why = "Filesystems did not freeze in time";
			r = -ETIMEDOUT;
			goto thaw;
		}
		for (i = 0; i < nr; i++) {
			/* -EBUSY: frozen already, by someone else */
			if (g->f[i].error && g->f[i].error != -EBUSY) {
				*why = "Cannot freeze the filesystem";
				r = g->f[i].error;
				goto thaw;
			}
		}
	}

	for (i = 0; i < nr; i++)
		shadow_gate_close(m[i].o);
	for (i = 0; i < nr; i++) {
		left = left_until(deadline);
		if (!left || !shadow_gate_drain(m[i].o, &left)) {
			*why = "Origin writes did not complete in time";
			r = -ETIMEDOUT;
			goto open;
		}
	}
	for (cut = 0; cut < nr; cut++) {
		r = shadow_origin_cut(m[cut].o, label, &m[cut].epoch);
		if (r) {
			*why = "Snapshot commit failed";
			goto uncut;
		}
	}
	if (!left_until(deadline)) {
		*why = "Snapshot commit did not complete in time";
		r = -ETIMEDOUT;
		goto uncut;
	}
	goto open;

uncut:
	while (cut--)
		if (shadow_origin_uncut(m[cut].o, m[cut].epoch))
			DMERR("cannot delete snapshot %u of a failed group cut",
			      m[cut].epoch);
open:
	for (i = 0; i < nr; i++)
		shadow_gate_open(m[i].o);
thaw:
	if (g)
		group_thaw(g);
	*pause_us = ktime_us_delta(ktime_get(), start);
	if (r)
		return r;
	for (i = 0; i < nr; i++) {
		shadow_nl_notify(m[i].o, SHADOW_EVENT_SNAP_CREATE,
				 m[i].epoch);
		shadow_origin_changed(m[i].o);
	}
	return 0;
}

int __init shadow_group_init(void)
{
	shadow_freeze_wq = alloc_workqueue("dm-shadow-freeze", WQ_UNBOUND, 0);
	return shadow_freeze_wq ? 0 : -ENOMEM;
}

void shadow_group_exit(void)
{
	destroy_workqueue(shadow_freeze_wq);
}
