/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The retention engine: which snapshots a policy keeps and which it prunes,
 * and why.  Shared by shadowd (space pressure, scheduled pruning) and
 * shadowctl (policy, prune --dry-run, simulate).  Pure computation: no I/O
 * except reading the time zone database, no global state except the
 * process's TZ variable while a named zone is in use (see
 * Documentation/retention.rst, "Time zones and threads").
 *
 * Every structure here is plain data, meant to be printed as a table or as
 * JSON by the caller; field names are the JSON names with '_' for '-'.
 */
#ifndef SHADOW_RETENTION_H
#define SHADOW_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A count meaning "every period" (restic's -1, borg's negative N). */
#define SHADOW_RET_UNLIMITED (-1)

/* Largest count accepted by the parser. */
#define SHADOW_RET_MAX_COUNT 1000000

/* Largest policy error message, terminating NUL included. */
#define SHADOW_RET_ERRLEN 160

/* Longest time zone name, terminating NUL included. */
#define SHADOW_RET_ZONELEN 64

/**
 * enum shadow_ret_period - calendar periods, finest first.
 * @SHADOW_RET_HOURLY:  a local clock hour (a repeated hour at the end of
 *                      daylight saving time is two periods).
 * @SHADOW_RET_DAILY:   a local calendar day (23, 24 or 25 hours long).
 * @SHADOW_RET_WEEKLY:  an ISO 8601 week, Monday to Sunday, numbered in its
 *                      ISO week-year.
 * @SHADOW_RET_MONTHLY: a calendar month.
 * @SHADOW_RET_YEARLY:  a calendar year.
 * @SHADOW_RET_NPERIODS: number of periods.
 */
enum shadow_ret_period {
	SHADOW_RET_HOURLY,
	SHADOW_RET_DAILY,
	SHADOW_RET_WEEKLY,
	SHADOW_RET_MONTHLY,
	SHADOW_RET_YEARLY,
	SHADOW_RET_NPERIODS
};

/**
 * struct shadow_duration - a calendar duration such as "1y6m" or "36h".
 * @years:   calendar years.
 * @months:  calendar months ("m"; minutes are "min").
 * @weeks:   weeks of 7 calendar days.
 * @days:    calendar days.
 * @hours:   hours of 3600 s.
 * @minutes: minutes of 60 s.
 *
 * Years, months, weeks and days move the local calendar date and keep the
 * wall-clock time (so "1d" across a daylight-saving change is 23 or 25
 * hours); hours and minutes are elapsed time.  All zero means "not set".
 */
struct shadow_duration {
	unsigned int years;
	unsigned int months;
	unsigned int weeks;
	unsigned int days;
	unsigned int hours;
	unsigned int minutes;
};

/**
 * enum shadow_ret_pick - which snapshot represents a calendar period.
 * @SHADOW_RET_PICK_NEWEST: the newest of the period (restic, borg).
 * @SHADOW_RET_PICK_OLDEST: the oldest of the period (snapper).
 */
enum shadow_ret_pick {
	SHADOW_RET_PICK_NEWEST,
	SHADOW_RET_PICK_OLDEST,
};

/**
 * struct shadow_ret_policy - a retention policy.
 * @keep_last:     keep the N newest snapshots; 0 off,
 *                 %SHADOW_RET_UNLIMITED all.
 * @keep:          keep-hourly ... keep-yearly counts, indexed by
 *                 &enum shadow_ret_period; 0 off, %SHADOW_RET_UNLIMITED
 *                 every period.
 * @keep_within:   keep every snapshot younger than this.
 * @keep_within_period: keep-within-hourly ... keep-within-yearly: one
 *                 snapshot per period, for periods younger than this.
 * @min_age:       no rule removes a snapshot younger than this.
 * @max_count:     hard cap on the number kept, applied after the rules
 *                 (pinned snapshots count but are never removed); 0 none.
 * @store_high:    percent of the store; above it, space pressure prunes;
 *                 0 off.
 * @store_low:     percent of the store space pressure prunes down to.
 * @pick:          which snapshot represents a period.
 * @zone:          time zone of the calendar periods: "" for the system's
 *                 zone (what localtime() uses), "UTC", or an IANA name
 *                 such as "Europe/Berlin".
 *
 * A policy with no keep rule at all (no keep-last, keep-<period>,
 * keep-within or keep-within-<period>) keeps every snapshot, so that
 * "max-count 64" alone behaves like VSS.
 */
struct shadow_ret_policy {
	int keep_last;
	int keep[SHADOW_RET_NPERIODS];
	struct shadow_duration keep_within;
	struct shadow_duration keep_within_period[SHADOW_RET_NPERIODS];
	struct shadow_duration min_age;
	unsigned int max_count;
	unsigned int store_high;
	unsigned int store_low;
	enum shadow_ret_pick pick;
	char zone[SHADOW_RET_ZONELEN];
};

/**
 * struct shadow_ret_snap - one snapshot, as the engine sees it.
 * @id:         the snapshot's number; unique within the list.  Between two
 *              snapshots created in the same second, the higher id is the
 *              newer.
 * @ctime:      creation time.
 * @pinned:     never removed, by any rule or by space pressure.
 * @label:      optional text (NULL for none); carried, not interpreted.
 * @held_bytes: space held by this snapshot alone (freed by removing it).
 */
struct shadow_ret_snap {
	uint64_t id;
	time_t ctime;
	bool pinned;
	const char *label;
	uint64_t held_bytes;
};

/*
 * Reasons, as bits of &shadow_ret_verdict.reasons.  A kept snapshot has at
 * least one SHADOW_RET_R_* keep bit; a removed one has at least one removal
 * bit (and may keep the keep bits that max-count overrode).  The order of
 * the bits is the order in which they are printed.
 */
enum shadow_ret_reason {
	SHADOW_RET_R_PINNED = 1u << 0,
	SHADOW_RET_R_MIN_AGE = 1u << 1,
	SHADOW_RET_R_NO_POLICY = 1u << 2,
	SHADOW_RET_R_WITHIN = 1u << 3,
	SHADOW_RET_R_LAST = 1u << 4,
	/* keep-<period>: bit SHADOW_RET_R_PERIOD << period. */
	SHADOW_RET_R_PERIOD = 1u << 5, /* 5..9 */
	/* keep-<period> count not filled: the oldest snapshot kept for it. */
	SHADOW_RET_R_OLDEST = 1u << 10, /* 10..14 */
	/* keep-within-<period>. */
	SHADOW_RET_R_WITHIN_PERIOD = 1u << 15, /* 15..19 */
	/* keep-within-<period>: the oldest snapshot, inside the window. */
	SHADOW_RET_R_OLDEST_WITHIN = 1u << 20, /* 20..24 */
	/* Removal reasons. */
	SHADOW_RET_R_NO_RULE = 1u << 25,
	SHADOW_RET_R_MAX_COUNT = 1u << 26,
	SHADOW_RET_R_SPACE = 1u << 27,
};

#define SHADOW_RET_R_KEEP_MASK ((1u << 25) - 1)
#define SHADOW_RET_R_REMOVE_MASK (7u << 25)
#define SHADOW_RET_R_NBITS 28

/**
 * struct shadow_ret_verdict - what the engine decided for one snapshot.
 * @id:      the snapshot's id.
 * @ctime:   its creation time.
 * @keep:    true to keep, false to remove.
 * @reasons: &enum shadow_ret_reason bits.
 * @rank:    for keep-last (index 0) and keep-<period> (1 + period): the
 *           snapshot's place in that rule, 1 for the newest period ("daily
 *           #3"); 0 when that rule did not keep it.
 */
struct shadow_ret_verdict {
	uint64_t id;
	time_t ctime;
	bool keep;
	uint32_t reasons;
	unsigned int rank[1 + SHADOW_RET_NPERIODS];
};

/**
 * shadow_ret_policy_init() - the empty policy: no rule, newest
 * representative, the system's time zone.
 * @p: the policy.
 */
void shadow_ret_policy_init(struct shadow_ret_policy *p);

/**
 * shadow_ret_policy_set() - set one setting.
 * @p:      the policy.
 * @key:    the setting's name, such as "keep-daily".
 * @value:  its value, such as "7".
 * @err:    where to write a message on error (may be NULL).
 * @errlen: size of @err; %SHADOW_RET_ERRLEN suffices.
 *
 * The policy is not validated as a whole (see shadow_ret_policy_validate()).
 *
 * Return: 0, or -EINVAL with a message in @err; @p is unchanged on error.
 */
int shadow_ret_policy_set(struct shadow_ret_policy *p, const char *key,
			  const char *value, char *err, size_t errlen);

/**
 * shadow_ret_policy_parse() - apply settings written as text.
 * @p:      the policy to change (start from shadow_ret_policy_init() for a
 *          whole file, from the current policy for "policy set").
 * @text:   settings, "key=value" or "key value", separated by blanks or
 *          newlines; "#" starts a comment that runs to the end of the line.
 * @err:    where to write a message on error (may be NULL).
 * @errlen: size of @err.
 *
 * A setting may appear once per text.  The result is validated.
 *
 * Return: 0, or -EINVAL with a message ("line 3: keep-daily: '7x' is not a
 * count") in @err; @p is unchanged on error.
 */
int shadow_ret_policy_parse(struct shadow_ret_policy *p, const char *text,
			    char *err, size_t errlen);

/**
 * shadow_ret_policy_parse_argv() - shadow_ret_policy_parse() over words.
 * @p:      the policy to change.
 * @argc:   number of words.
 * @argv:   words such as "keep-daily=7" (or "keep-daily" "7").
 * @err:    where to write a message on error (may be NULL).
 * @errlen: size of @err.
 *
 * Return: 0, -EINVAL (message in @err) or -ENOMEM; @p unchanged on error.
 */
int shadow_ret_policy_parse_argv(struct shadow_ret_policy *p, int argc,
				 char *const argv[], char *err, size_t errlen);

/**
 * shadow_ret_policy_validate() - check a policy as a whole.
 * @p:      the policy.
 * @err:    where to write a message on error (may be NULL).
 * @errlen: size of @err.
 *
 * Checks store-low < store-high (both set or neither), percentages at most
 * 100, counts in range and the time zone.
 *
 * Return: 0 or -EINVAL.
 */
int shadow_ret_policy_validate(const struct shadow_ret_policy *p, char *err,
			       size_t errlen);

/**
 * shadow_ret_policy_format() - the policy as text that parses back.
 * @p:   the policy.
 * @buf: where to write: one "key=value" per line, set settings only.
 * @len: size of @buf; 1024 bytes always suffice.
 *
 * Return: the length written (as snprintf()).
 */
int shadow_ret_policy_format(const struct shadow_ret_policy *p, char *buf,
			     size_t len);

/**
 * shadow_duration_parse() - parse "36h", "7d", "2w", "3m", "1y", "30min",
 * or a combination from the largest unit to the smallest ("1y6m",
 * "1y5m7d2h"); "0" is the empty duration.
 * @s: the text.
 * @d: result.
 *
 * Return: 0, or -EINVAL for malformed text, -ERANGE when a number is too
 * large.  @d is untouched on error.
 */
int shadow_duration_parse(const char *s, struct shadow_duration *d);

/**
 * shadow_duration_format() - canonical text of a duration ("1y6m", "0").
 * @d:   the duration.
 * @buf: where to write.
 * @len: size of @buf; 64 bytes always suffice.
 *
 * Return: @buf.
 */
char *shadow_duration_format(const struct shadow_duration *d, char *buf,
			     size_t len);

/**
 * shadow_duration_is_zero() - whether a duration is unset.
 * @d: the duration.
 *
 * Return: true when every field is zero.
 */
bool shadow_duration_is_zero(const struct shadow_duration *d);

/**
 * shadow_iso_week() - ISO 8601 week of a broken-down date.
 * @tm:   the date (tm_year, tm_yday and tm_wday are used).
 * @week: result, 1 to 53.
 *
 * Return: the ISO week-year (2021-01-03 is in week 53 of 2020).
 */
int shadow_iso_week(const struct tm *tm, int *week);

/**
 * shadow_ret_evaluate() - apply a policy's rules and max-count.
 * @p:     the policy (valid; see shadow_ret_policy_validate()).
 * @snaps: the snapshots, in any order.
 * @n:     number of snapshots (0 is fine).
 * @now:   the reference time of keep-within* and min-age.
 * @out:   @n verdicts; out[i] is for snaps[i].
 *
 * Runs in O(n log n).  Space pressure is separate: shadow_ret_space().
 * With a named time zone, see the thread-safety note in
 * Documentation/retention.rst.
 *
 * Return: the number of snapshots kept, or -EINVAL (bad time zone) or
 * -ENOMEM.
 */
int shadow_ret_evaluate(const struct shadow_ret_policy *p,
			const struct shadow_ret_snap *snaps, size_t n,
			time_t now, struct shadow_ret_verdict *out);

/**
 * struct shadow_ret_space_report - what space pressure did.
 * @triggered:   use was above store-high.
 * @reached:     the estimated use after the removals is under store-low
 *               (false when pinned snapshots hold too much).
 * @removed:     number of snapshots picked for removal.
 * @used_before: store use given.
 * @used_after:  estimated use after removing the picked snapshots.
 * @target:      store-low in bytes.
 */
struct shadow_ret_space_report {
	bool triggered;
	bool reached;
	size_t removed;
	uint64_t used_before;
	uint64_t used_after;
	uint64_t target;
};

/**
 * shadow_ret_space() - pick snapshots to remove under space pressure.
 * @p:        the policy (store-high, store-low).
 * @snaps:    the snapshots present, in any order.
 * @n:        number of snapshots.
 * @used:     bytes of the store in use.
 * @capacity: size of the store in bytes.
 * @out:      @n verdicts; out[i] is for snaps[i].  Picked snapshots get
 *            keep = false and %SHADOW_RET_R_SPACE; the others keep = true.
 * @rep:      the report (may be NULL).
 *
 * When @used is above store-high percent of @capacity, picks the oldest
 * unpinned snapshots, subtracting each one's held_bytes, until the
 * estimate is under store-low.  Rules and min-age do not protect from it;
 * pins do.  held_bytes only grows for the survivors when a neighbour goes,
 * so the estimate can be optimistic: remove the picks in order and
 * re-measure (calling again) after each.
 *
 * Return: the number picked, or -EINVAL (no store-high set or zero
 * capacity) or -ENOMEM.
 */
int shadow_ret_space(const struct shadow_ret_policy *p,
		     const struct shadow_ret_snap *snaps, size_t n,
		     uint64_t used, uint64_t capacity,
		     struct shadow_ret_verdict *out,
		     struct shadow_ret_space_report *rep);

/**
 * struct shadow_ret_sim - a synthetic schedule.
 * @start: time of the first snapshot.
 * @every: interval between snapshots ("1h"; "1d" keeps the wall-clock time
 *         across daylight-saving changes).  Must not be zero.
 * @count: number of snapshots taken.
 */
struct shadow_ret_sim {
	time_t start;
	struct shadow_duration every;
	size_t count;
};

/**
 * struct shadow_ret_sim_result - the outcome of a simulation.
 * @taken:      snapshots taken.
 * @removed:    snapshots pruned along the way.
 * @peak:       most snapshots kept after a prune.
 * @peak_at:    time of the first snapshot at which @peak was reached.
 * @end:        time of the last snapshot (the final "now").
 * @n_left:     snapshots left at the end.
 * @left:       their verdicts at the final prune, newest first (ids count
 *              from 1 in order of creation); free with
 *              shadow_ret_sim_result_free().
 */
struct shadow_ret_sim_result {
	size_t taken;
	size_t removed;
	size_t peak;
	time_t peak_at;
	time_t end;
	size_t n_left;
	struct shadow_ret_verdict *left;
};

/**
 * shadow_ret_simulate() - run a policy forward over a schedule.
 * @p:   the policy (its rules and max-count; space is not simulated).
 * @sim: the schedule.
 * @res: the outcome.
 *
 * Takes one snapshot at each step and prunes right after it with "now" =
 * the new snapshot's time.  A year of hourly snapshots takes well under a
 * second.  Holds the policy's time zone for the whole run.
 *
 * Return: 0, -EINVAL (bad schedule or time zone) or -ENOMEM.
 */
int shadow_ret_simulate(const struct shadow_ret_policy *p,
			const struct shadow_ret_sim *sim,
			struct shadow_ret_sim_result *res);

/**
 * shadow_ret_sim_result_free() - release a simulation's result.
 * @res: the result; its fields are reset.
 */
void shadow_ret_sim_result_free(struct shadow_ret_sim_result *res);

/**
 * shadow_ret_reason_key() - stable machine name of one reason bit.
 * @bit: one &enum shadow_ret_reason bit.
 *
 * Names: "pinned", "min-age", "no-policy", "within", "last", "hourly" ...
 * "yearly", "oldest-hourly" ..., "within-hourly" ...,
 * "oldest-within-hourly" ..., "no-rule", "max-count", "space".
 *
 * Return: the name, or NULL for an unknown bit.
 */
const char *shadow_ret_reason_key(uint32_t bit);

/**
 * shadow_ret_reason_text() - human text of one reason bit.
 * @bit: one &enum shadow_ret_reason bit.
 * @p:   the policy (for durations and limits in the text).
 * @buf: where to write ("daily snapshot", "within 36h", "over max-count
 *       64"); the texts of the restic rules are restic's.
 * @len: size of @buf; 64 bytes always suffice.
 *
 * Return: @buf (empty for an unknown bit).
 */
char *shadow_ret_reason_text(uint32_t bit, const struct shadow_ret_policy *p,
			     char *buf, size_t len);

/**
 * shadow_ret_reasons_format() - every reason of a mask, ", "-separated.
 * @reasons: a mask of &enum shadow_ret_reason bits.
 * @p:       the policy.
 * @buf:     where to write.
 * @len:     size of @buf; 512 bytes always suffice.
 *
 * Return: @buf.
 */
char *shadow_ret_reasons_format(uint32_t reasons,
				const struct shadow_ret_policy *p, char *buf,
				size_t len);

#endif
