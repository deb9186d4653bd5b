// SPDX-License-Identifier: GPL-2.0
/*
 * shadowd: pruning under space pressure (see prune.h and
 * Documentation/shadowd.rst, "Kernel events").  Built into shadowd and,
 * included as it is, into the unit tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

bool shadowd_prune_limits(const struct shadow_ret_policy *p,
			  const struct shadow_origin *o, unsigned int *high,
			  unsigned int *low)
{
	if (p && p->store_high) {
		*high = p->store_high;
		*low = p->store_low ? p->store_low : p->store_high;
	} else {
		*high = o->high_water;
		*low = o->low_water && o->low_water < o->high_water ?
			o->low_water : o->high_water;
	}
	return *high > 0;
}

static bool older(const struct shadow_snap *a, const struct shadow_snap *b)
{
	if (a->ctime_ns != b->ctime_ns)
		return a->ctime_ns < b->ctime_ns;
	return a->id < b->id;
}

long shadowd_prune_oldest(const struct shadow_snap *v, size_t n,
			  const bool *skip)
{
	long best = -1;
	size_t i;

	for (i = 0; i < n; i++)
		if (!skip[i] && (best < 0 || older(&v[i], &v[best])))
			best = (long)i;
	return best;
}

/* use * 100 >= pct * total, without overflow for any sane store */
static bool at_or_above(uint64_t used, uint64_t total, unsigned int pct)
{
	return used * 100 >= (uint64_t)pct * total;
}

static unsigned int pct_of(uint64_t used, uint64_t total)
{
	return total ? (unsigned int)(used * 100 / total) : 0;
}

/* With a policy: the snapshot shadow_ret_space() picks first (its picks
 * are the oldest unpinned ones; we delete one and measure again). */
static long policy_pick(const struct shadow_ret_policy *p,
			const struct shadow_origin *o, unsigned int low,
			const struct shadow_snap *v, size_t n,
			const bool *skip, char *reason, size_t rlen)
{
	struct shadow_ret_policy work = *p;
	struct shadow_ret_snap *s = calloc(n ? n : 1, sizeof(*s));
	struct shadow_ret_verdict *out = calloc(n ? n : 1, sizeof(*out));
	uint64_t chunk = (uint64_t)o->chunk_sectors * 512;
	long best = -1;
	size_t i;
	char why[512];

	if (!s || !out)
		goto out;
	for (i = 0; i < n; i++) {
		s[i].id = v[i].id;
		s[i].ctime = (time_t)(v[i].ctime_ns / 1000000000ULL);
		s[i].pinned = skip[i];
		s[i].label = v[i].label[0] ? v[i].label : NULL;
		s[i].held_bytes = v[i].exclusive * chunk;
	}
	/* Pruning is under way (use reached the high threshold): go on
	 * while use is at or above the low one. */
	work.store_low = low;
	work.store_high = low > 1 ? low - 1 : 1;
	if (shadow_ret_space(&work, s, n, o->store_used * chunk,
			     o->store_total * chunk, out, NULL) <= 0)
		goto out;
	for (i = 0; i < n; i++)
		if (!out[i].keep &&
		    (best < 0 || older(&v[i], &v[best])))
			best = (long)i;
	if (best >= 0) {
		shadow_ret_reasons_format(out[best].reasons &
					  SHADOW_RET_R_REMOVE_MASK, p, why,
					  sizeof(why));
		snprintf(reason, rlen, "retention policy: %s (store %u%%, "
			 "pruning to under %u%%)", why,
			 pct_of(o->store_used, o->store_total), low);
	}
out:
	free(s);
	free(out);
	return best;
}

int shadowd_prune(const struct shadowd_prune_ops *ops, struct shadow_dev d,
		  const struct shadow_ret_policy *p,
		  struct shadowd_prune_result *res)
{
	struct shadow_origin o;
	uint32_t *failed = NULL;
	size_t nfailed = 0, k;
	unsigned int high, low;
	int r, iter;

	memset(res, 0, sizeof(*res));
	r = ops->origin_get(ops->ctx, d, &o);
	if (r)
		return r;
	res->used_before = res->used_after = o.store_used;
	res->total = o.store_total;
	if (!shadowd_prune_limits(p, &o, &high, &low) || !o.store_total)
		return 0;
	res->high = high;
	res->low = low;
	if (!at_or_above(o.store_used, o.store_total, high))
		return 0;
	res->triggered = true;

	for (iter = 0; iter < SHADOWD_PRUNE_MAX; iter++) {
		struct shadow_snap *v = NULL;
		bool *skip;
		size_t n = 0, i;
		char reason[640];
		long pick;

		if (!at_or_above(o.store_used, o.store_total, low)) {
			res->reached = true;
			break;
		}
		if (ops->snap_list(ops->ctx, d, &v, &n))
			break;
		skip = calloc(n ? n : 1, sizeof(*skip));
		if (!skip) {
			free(v);
			break;
		}
		for (i = 0; i < n; i++) {
			skip[i] = ops->pinned && ops->pinned(ops->ctx, d, &v[i]);
			for (k = 0; k < nfailed; k++)
				if (failed[k] == v[i].id)
					skip[i] = true;
			if (!skip[i] && ops->cut_members &&
			    ops->cut_members(ops->ctx, d, &v[i], NULL, 0, NULL,
					     0) < 0)
				skip[i] = true;
		}
		reason[0] = '\0';
		if (p) {
			pick = policy_pick(p, &o, low, v, n, skip, reason,
					   sizeof(reason));
		} else {
			pick = shadowd_prune_oldest(v, n, skip);
			snprintf(reason, sizeof(reason), "no retention policy: "
				 "oldest snapshot not pinned (store %u%%, at "
				 "or above %u%%, pruning to under %u%%)",
				 pct_of(o.store_used, o.store_total), high,
				 low);
		}
		if (pick < 0) {
			free(v);
			free(skip);
			break;		/* nothing left to remove */
		}
		{
			struct shadowd_prune_member m[SHADOWD_PRUNE_CUT_MAX];
			uint32_t id = v[pick].id;
			char what[128];
			int nm = 0;

			what[0] = '\0';
			if (ops->cut_members)
				nm = ops->cut_members(ops->ctx, d, &v[pick], m,
						      SHADOWD_PRUNE_CUT_MAX,
						      what, sizeof(what));
			if (nm < 0)
				nm = 0;	/* pinned meanwhile: cannot happen */
			if (nm || what[0]) {
				size_t l = strlen(reason);

				snprintf(reason + l, sizeof(reason) - l,
					 "; %s, removed whole", what[0] ?
					 what : "its cut");
			}
			free(v);
			free(skip);
			r = ops->snap_delete(ops->ctx, d, id);
			if (r && r != -ENOENT) {
				uint32_t *f = realloc(failed, (nfailed + 1) *
						      sizeof(*f));

				if (ops->failed)
					ops->failed(ops->ctx, d, id, r);
				if (!f)
					break;
				failed = f;
				failed[nfailed++] = id;
				continue;
			}
			if (!r) {
				res->deleted++;
				if (ops->deleted)
					ops->deleted(ops->ctx, d, id, reason);
			}
			for (k = 0; k < (size_t)nm; k++) {
				int e = ops->snap_delete(ops->ctx, m[k].dev,
							 m[k].id);

				if (!e) {
					res->deleted++;
					if (ops->deleted)
						ops->deleted(ops->ctx, m[k].dev,
							     m[k].id, reason);
				} else if (e != -ENOENT && ops->failed) {
					ops->failed(ops->ctx, m[k].dev,
						    m[k].id, e);
				}
			}
		}
		r = ops->origin_get(ops->ctx, d, &o);
		if (r)
			break;
		res->used_after = o.store_used;
	}
	res->used_after = o.store_used;
	free(failed);
	return 0;
}
