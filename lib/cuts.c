// SPDX-License-Identifier: GPL-2.0
/*
 * Retention over consistency-group cuts (see cuts.h and
 * Documentation/retention.rst, "Consistency groups").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cuts.h"

void shadow_cut_match(const struct shadow_cut *cuts, size_t ncuts,
		      const struct shadow_cut_snap *snaps, size_t n,
		      long *cut_of, size_t *live)
{
	size_t i, c, k;

	for (i = 0; i < n; i++)
		cut_of[i] = -1;
	if (live)
		for (c = 0; c < ncuts; c++)
			live[c] = 0;
	/* n * members: groups are small (at most 64 volumes a cut) and the
	 * snapshots of a volume a few thousand at most */
	for (c = 0; c < ncuts; c++)
		for (k = 0; k < cuts[c].n; k++) {
			const struct shadow_cut_ref *r = &cuts[c].m[k];

			for (i = 0; i < n; i++) {
				if (cut_of[i] >= 0 || snaps[i].vol != r->vol ||
				    snaps[i].id != r->id ||
				    snaps[i].ctime_ns != r->ctime_ns)
					continue;
				cut_of[i] = (long)c;
				if (live)
					live[c]++;
				break;
			}
		}
}

uint64_t shadow_cut_time(const struct shadow_cut_snap *snaps, size_t n,
			 const long *cut_of, long cut)
{
	uint64_t t = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (cut_of[i] == cut && (!t || snaps[i].ctime_ns < t))
			t = snaps[i].ctime_ns;
	return t;
}

const char *shadow_cut_by_key(enum shadow_cut_by by)
{
	switch (by) {
	case SHADOW_CUT_BY_GROUP:
		return "group";
	case SHADOW_CUT_BY_VOLUME:
		return "volume";
	default:
		return "none";
	}
}

static void to_ret(const struct shadow_cut_snap *s, struct shadow_ret_snap *r)
{
	memset(r, 0, sizeof(*r));
	r->id = s->id;
	r->ctime = (time_t)(s->ctime_ns / 1000000000ULL);
	r->pinned = s->pinned;
	r->label = s->label;
	r->held_bytes = s->held_bytes;
}

/* The snapshots of volume @vol in no cut, by the volume's policy. */
static int judge_volume(const struct shadow_ret_policy *p, unsigned int vol,
			const struct shadow_cut_snap *snaps, size_t n,
			const long *cut_of, time_t now,
			struct shadow_cut_verdict *out)
{
	struct shadow_ret_snap *rs;
	struct shadow_ret_verdict *rv;
	size_t *idx, m = 0, i;
	int r = 0;

	rs = calloc(n ? n : 1, sizeof(*rs));
	rv = calloc(n ? n : 1, sizeof(*rv));
	idx = calloc(n ? n : 1, sizeof(*idx));
	if (!rs || !rv || !idx) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (cut_of[i] >= 0 || snaps[i].vol != vol)
			continue;
		to_ret(&snaps[i], &rs[m]);
		idx[m++] = i;
	}
	if (!m)
		goto out;
	r = shadow_ret_evaluate(p, rs, m, now, rv);
	if (r < 0)
		goto out;
	for (i = 0; i < m; i++) {
		out[idx[i]].by = SHADOW_CUT_BY_VOLUME;
		out[idx[i]].v = rv[i];
	}
	r = 0;
out:
	free(rs);
	free(rv);
	free(idx);
	return r;
}

int shadow_cut_evaluate(const struct shadow_ret_policy *group,
			const struct shadow_ret_policy *const *volpol,
			size_t nvols, const struct shadow_cut *cuts,
			size_t ncuts, const struct shadow_cut_snap *snaps,
			size_t n, time_t now, struct shadow_cut_verdict *out)
{
	struct shadow_ret_snap *rs = NULL;
	struct shadow_ret_verdict *rv = NULL;
	size_t *live = NULL, *slot = NULL, m = 0, i, c;
	long *cut_of = NULL;
	int r, kept = 0;

	for (i = 0; i < n; i++)
		if (snaps[i].vol >= nvols)
			return -EINVAL;
	cut_of = calloc(n ? n : 1, sizeof(*cut_of));
	live = calloc(ncuts ? ncuts : 1, sizeof(*live));
	slot = calloc(ncuts ? ncuts : 1, sizeof(*slot));
	rs = calloc(ncuts ? ncuts : 1, sizeof(*rs));
	rv = calloc(ncuts ? ncuts : 1, sizeof(*rv));
	if (!cut_of || !live || !slot || !rs || !rv) {
		r = -ENOMEM;
		goto out;
	}
	shadow_cut_match(cuts, ncuts, snaps, n, cut_of, live);

	/* one engine snapshot per cut with a live member */
	for (c = 0; c < ncuts; c++) {
		if (!live[c])
			continue;
		slot[c] = m;
		rs[m].id = cuts[c].seq;
		rs[m].ctime = (time_t)(shadow_cut_time(snaps, n, cut_of,
						       (long)c) / 1000000000ULL);
		m++;
	}
	for (i = 0; i < n; i++) {
		struct shadow_ret_snap *x;

		if (cut_of[i] < 0)
			continue;
		x = &rs[slot[cut_of[i]]];
		x->pinned = x->pinned || snaps[i].pinned;
		x->held_bytes += snaps[i].held_bytes;
		if (!x->label)
			x->label = snaps[i].label;
	}
	if (m) {
		r = shadow_ret_evaluate(group, rs, m, now, rv);
		if (r < 0)
			goto out;
	}

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].cut = cut_of[i];
		if (cut_of[i] >= 0) {
			out[i].by = SHADOW_CUT_BY_GROUP;
			out[i].v = rv[slot[cut_of[i]]];
		} else {
			out[i].by = SHADOW_CUT_BY_NONE;
			out[i].v.id = snaps[i].id;
			out[i].v.ctime = (time_t)(snaps[i].ctime_ns /
						  1000000000ULL);
			out[i].v.keep = true;
		}
	}
	for (c = 0; volpol && c < nvols; c++) {
		if (!volpol[c])
			continue;
		r = judge_volume(volpol[c], (unsigned int)c, snaps, n, cut_of,
				 now, out);
		if (r < 0)
			goto out;
	}
	for (i = 0; i < n; i++)
		kept += out[i].v.keep;
	r = kept;
out:
	free(cut_of);
	free(live);
	free(slot);
	free(rs);
	free(rv);
	return r;
}
