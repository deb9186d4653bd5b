/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadowctl simulate: a retention policy run forward over a synthetic
 * schedule ("hourly for a year"), pruning after each new snapshot, to show
 * what remains at the end and the most snapshots present at once.  Pure
 * computation over lib/retention.h; no daemon, no kernel.
 */
#ifndef SHADOW_SIMULATE_H
#define SHADOW_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "retention.h"

/* Most snapshots one simulation takes (a year of minutes fits). */
#define SHADOW_SIM_MAX_STEPS 1000000

/**
 * struct shadow_sim_args - a simulation, parsed and checked.
 * @policy: the policy, its zone replaced by --tz when given.
 * @every:  interval between snapshots (not zero).
 * @span:   how long the schedule runs (--for, not zero): snapshots are
 *          taken at start, start + every, ... while before start + span.
 * @start:  time of the first snapshot.
 */
struct shadow_sim_args {
	struct shadow_ret_policy policy;
	struct shadow_duration every;
	struct shadow_duration span;
	time_t start;
};

/**
 * shadow_sim_setup() - parse the arguments of a simulation.
 * @a:      the result.
 * @policy: the policy as text ("keep-daily=7 keep-last=3").
 * @every:  the interval ("1h", "30min", "1d").
 * @span:   the duration ("1y", "30d").
 * @start:  ISO 8601 time of the first snapshot, or NULL for the current
 *          hour (see shadow_sim_parse_time()).
 * @tz:     time zone replacing the policy's (NULL: the policy's).
 * @now:    the current time (for a NULL @start).
 * @err:    where a message goes; %SHADOW_RET_ERRLEN suffices.
 * @errlen: size of @err.
 *
 * Return: 0, or -EINVAL with a message; -E2BIG when the schedule has more
 * than %SHADOW_SIM_MAX_STEPS snapshots.
 */
int shadow_sim_setup(struct shadow_sim_args *a, const char *policy,
		     const char *every, const char *span, const char *start,
		     const char *tz, time_t now, char *err, size_t errlen);

/**
 * shadow_sim_parse_time() - an ISO 8601 time.
 * @s:    "YYYY-MM-DD", "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS" ("T" or
 *        a blank), then optionally "Z", "+HH:MM", "-HH:MM" or "+HHMM".
 * @zone: the zone of a time without an offset: "" the system's, "UTC",
 *        or an IANA name.
 * @t:    the result.
 *
 * Return: 0, or -EINVAL (malformed, out of range, unknown zone).
 */
int shadow_sim_parse_time(const char *s, const char *zone, time_t *t);

/**
 * struct shadow_sim_report - the outcome of shadow_sim_run().
 * @taken:     snapshots taken.
 * @removed:   snapshots pruned along the way.
 * @peak:      most snapshots present at once: just after one is taken,
 *             before the prune that follows.
 * @peak_at:   when @peak was first reached.
 * @peak_kept: most snapshots kept after a prune.
 * @start:     time of the first snapshot.
 * @end:       time of the last snapshot (the final "now").
 * @n_left:    snapshots left at the end.
 * @left:      their verdicts at the last prune, newest first; ids count
 *             from 1 in order of creation.
 */
struct shadow_sim_report {
	size_t taken;
	size_t removed;
	size_t peak;
	time_t peak_at;
	size_t peak_kept;
	time_t start;
	time_t end;
	size_t n_left;
	struct shadow_ret_verdict *left;
};

/**
 * shadow_sim_run() - run a simulation.
 * @a: the arguments (shadow_sim_setup()).
 * @r: the report; release it with shadow_sim_report_free().
 *
 * A named zone is selected (TZ) for the whole run, under the zone lock of
 * lib/tz.h, and restored after: safe against retention calls, not for a
 * process whose other threads read the time zone meanwhile.
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int shadow_sim_run(const struct shadow_sim_args *a,
		   struct shadow_sim_report *r);

void shadow_sim_report_free(struct shadow_sim_report *r);

#endif
