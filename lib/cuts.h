/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Retention over consistency-group cuts: which recorded cut each live
 * snapshot belongs to, and the verdict of a group's policy over whole
 * cuts (Documentation/retention.rst, "Consistency groups").  Pure
 * computation on top of lib/retention.h, used by shadowd's prune request
 * (daemon/group.c) and tested in tests/unit/test_cuts.c.
 *
 * A cut is the set of snapshots one create made on the members of a
 * group (one group cut in the kernel).  Each store stamps its own
 * creation time, so the members of one cut differ by microseconds: they
 * are matched by the (volume, id, ctime_ns) recorded when the cut was
 * made, never by equal times.  An id the kernel later reuses has another
 * ctime_ns and so is in no cut.
 */
#ifndef SHADOW_CUTS_H
#define SHADOW_CUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "retention.h"

/**
 * struct shadow_cut_ref - one member of a recorded cut.
 * @vol:      index of its volume (the caller's numbering of the members).
 * @id:       the snapshot's id.
 * @ctime_ns: the creation time the kernel reported when the cut was made.
 */
struct shadow_cut_ref {
	unsigned int vol;
	uint32_t id;
	uint64_t ctime_ns;
};

/**
 * struct shadow_cut - a recorded cut.
 * @seq: its number in the group, counting up from 1: between two cuts of
 *       the same second the higher number is the newer.
 * @m:   its members, one per volume.
 * @n:   number of members.
 */
struct shadow_cut {
	uint64_t seq;
	const struct shadow_cut_ref *m;
	size_t n;
};

/**
 * struct shadow_cut_snap - a live snapshot of a member volume.
 * @vol:        index of its volume.
 * @id:         its id.
 * @ctime_ns:   its creation time.
 * @pinned:     pinned or held by an FSRVP set: pins its whole cut.
 * @label:      optional text (NULL for none).
 * @held_bytes: space it holds alone.
 */
struct shadow_cut_snap {
	unsigned int vol;
	uint32_t id;
	uint64_t ctime_ns;
	bool pinned;
	const char *label;
	uint64_t held_bytes;
};

/**
 * enum shadow_cut_by - what judged a snapshot.
 * @SHADOW_CUT_BY_GROUP:  the group's policy, over the cut it belongs to.
 * @SHADOW_CUT_BY_VOLUME: in no live cut: its volume's own policy, over
 *                        the snapshots of that volume in no cut.
 * @SHADOW_CUT_BY_NONE:   in no live cut and its volume has no policy:
 *                        kept.
 */
enum shadow_cut_by {
	SHADOW_CUT_BY_GROUP,
	SHADOW_CUT_BY_VOLUME,
	SHADOW_CUT_BY_NONE,
};

/**
 * struct shadow_cut_verdict - the decision for one live snapshot.
 * @cut: index in the cuts given of the cut it belongs to, -1 for none.
 * @by:  what judged it.
 * @v:   the verdict (for %SHADOW_CUT_BY_GROUP the cut's: @v.id is the
 *       cut's seq and @v.ctime the cut's time; otherwise the snapshot's
 *       own, with keep = true and no reason bit for %SHADOW_CUT_BY_NONE).
 */
struct shadow_cut_verdict {
	long cut;
	enum shadow_cut_by by;
	struct shadow_ret_verdict v;
};

/**
 * shadow_cut_match() - the cut of every live snapshot.
 * @cuts:   the recorded cuts.
 * @ncuts:  their number.
 * @snaps:  the live snapshots of the member volumes.
 * @n:      their number.
 * @cut_of: @n entries: index in @cuts of the cut of snaps[i], -1 for none.
 * @live:   @ncuts entries (may be NULL): how many members of each cut are
 *          live (0: the cut is gone and may be forgotten).
 *
 * A snapshot belongs to a cut when a member of the cut has its volume,
 * id and ctime_ns.  When two cuts claim the same snapshot (a state file
 * edited by hand), the first one has it.
 */
void shadow_cut_match(const struct shadow_cut *cuts, size_t ncuts,
		      const struct shadow_cut_snap *snaps, size_t n,
		      long *cut_of, size_t *live);

/**
 * shadow_cut_time() - the time of a cut: the earliest ctime_ns of its live
 * members.
 * @snaps:  the live snapshots.
 * @n:      their number.
 * @cut_of: shadow_cut_match()'s result.
 * @cut:    index of the cut.
 *
 * Return: the time in nanoseconds, 0 when no member is live.
 */
uint64_t shadow_cut_time(const struct shadow_cut_snap *snaps, size_t n,
			 const long *cut_of, long cut);

/**
 * shadow_cut_evaluate() - judge the snapshots of a group.
 * @group:   the group's policy (valid).
 * @volpol:  @nvols entries: each member volume's own policy, NULL when it
 *           has none (may be NULL: no volume has one).
 * @nvols:   number of member volumes (every @vol index is below it).
 * @cuts:    the recorded cuts of the group.
 * @ncuts:   their number.
 * @snaps:   the live snapshots of the member volumes, in any order.
 * @n:       their number.
 * @now:     the reference time of keep-within* and min-age.
 * @out:     @n verdicts; out[i] is for snaps[i].
 *
 * The group's policy judges the cuts with a live member as one snapshot
 * each (shadow_ret_evaluate()): its time is the earliest member's, it is
 * pinned when any member is, its held bytes are the members' sum.  Every
 * member gets its cut's verdict and reasons, so a cut is kept or removed
 * whole.  The snapshots in no cut are judged, volume by volume, by the
 * volume's own policy over those snapshots only, or kept when the volume
 * has none.
 *
 * Return: the number of snapshots kept, -EINVAL (a @vol out of range, a
 * bad time zone) or -ENOMEM.
 */
int shadow_cut_evaluate(const struct shadow_ret_policy *group,
			const struct shadow_ret_policy *const *volpol,
			size_t nvols, const struct shadow_cut *cuts,
			size_t ncuts, const struct shadow_cut_snap *snaps,
			size_t n, time_t now, struct shadow_cut_verdict *out);

/**
 * shadow_cut_by_key() - the JSON name of what judged a snapshot: "group",
 * "volume" or "none".
 * @by: the judge.
 *
 * Return: the name.
 */
const char *shadow_cut_by_key(enum shadow_cut_by by);

#endif
