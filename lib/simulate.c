// SPDX-License-Identifier: GPL-2.0
/*
 * A retention policy run forward over a synthetic schedule; see
 * simulate.h.  The schedule steps as the policy's durations do: hours and
 * minutes are elapsed time, days and longer move the local calendar date
 * and keep the wall-clock time (the day clamped at a month's end).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "simulate.h"
#include "tz.h"

/* @t moved by @k times @d; -1 when out of range. */
static time_t move(const struct shadow_tz *z, time_t t,
		   const struct shadow_duration *d, long k)
{
	if (d->years || d->months || d->weeks || d->days) {
		long long mon;
		struct tm tm;
		int mdays;

		shadow_tz_tm(z, t, &tm);
		mon = (long long)tm.tm_year * 12 + tm.tm_mon +
		      ((long long)d->years * 12 + d->months) * k;
		if (mon < 0 || mon > 12LL * 100000)
			return -1;
		tm.tm_year = (int)(mon / 12);
		tm.tm_mon = (int)(mon % 12);
		mdays = shadow_days_in_month(tm.tm_year + 1900, tm.tm_mon);
		if (tm.tm_mday > mdays)
			tm.tm_mday = mdays;
		tm.tm_mday += (int)(((long long)d->weeks * 7 + d->days) * k);
		tm.tm_isdst = -1;
		t = shadow_tz_mktime(z, &tm);
		if (t == (time_t)-1)
			return -1;
	}
	return t + ((time_t)d->hours * 3600 + (time_t)d->minutes * 60) * k;
}

/* Digits at @p, exactly @n of them, into @v; the end, or NULL. */
static const char *digits(const char *p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return NULL;
		*v = *v * 10 + (p[i] - '0');
	}
	return p + n;
}

int shadow_sim_parse_time(const char *s, const char *zone, time_t *t)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
	const char *p = s;
	struct shadow_tz z;
	struct tm tm;
	time_t r;

	if (!(p = digits(p, 4, &y)) || *p++ != '-' ||
	    !(p = digits(p, 2, &mo)) || *p++ != '-' ||
	    !(p = digits(p, 2, &d)))
		return -EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!(p = digits(p, 2, &h)) || *p++ != ':' ||
		    !(p = digits(p, 2, &mi)))
			return -EINVAL;
		if (*p == ':' && !(p = digits(p + 1, 2, &sec)))
			return -EINVAL;
	}
	if (*p == 'Z' || *p == 'z') {
		sign = 1;
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (!(p = digits(p + 1, 2, &oh)))
			return -EINVAL;
		if (*p == ':')
			p++;
		if (!(p = digits(p, 2, &om)))
			return -EINVAL;
	}
	if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > shadow_days_in_month(y, mo - 1) || h > 23 || mi > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		return -EINVAL;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	if (sign) {
		*t = timegm(&tm) - sign * (oh * 3600 + om * 60);
		return 0;
	}
	if (!strcasecmp(zone, "UTC"))
		zone = "UTC";	/* "utc" too, which the database may lack */
	if (shadow_tz_enter(zone, &z))
		return -EINVAL;
	r = shadow_tz_mktime(&z, &tm);
	shadow_tz_leave(&z);
	if (r == (time_t)-1)
		return -EINVAL;
	*t = r;
	return 0;
}

int shadow_sim_setup(struct shadow_sim_args *a, const char *policy,
		     const char *every, const char *span, const char *start,
		     const char *tz, time_t now, char *err, size_t errlen)
{
	char e[SHADOW_RET_ERRLEN];
	time_t end, t;
	struct shadow_tz z;
	size_t k;
	int r;

	memset(a, 0, sizeof(*a));
	shadow_ret_policy_init(&a->policy);
	if (shadow_ret_policy_parse(&a->policy, policy, e, sizeof(e))) {
		snprintf(err, errlen, "policy: %s", e);
		return -EINVAL;
	}
	if (tz && shadow_ret_policy_set(&a->policy, "timezone", tz, e,
					sizeof(e))) {
		snprintf(err, errlen, "--tz: %s", e);
		return -EINVAL;
	}
	if (shadow_duration_parse(every, &a->every) ||
	    shadow_duration_is_zero(&a->every)) {
		snprintf(err, errlen, "--every: '%s' is not a duration such as "
			 "1h, 30min or 1d", every);
		return -EINVAL;
	}
	if (shadow_duration_parse(span, &a->span) ||
	    shadow_duration_is_zero(&a->span)) {
		snprintf(err, errlen, "--for: '%s' is not a duration such as "
			 "30d or 1y", span);
		return -EINVAL;
	}
	if (start) {
		if (shadow_sim_parse_time(start, a->policy.zone, &a->start)) {
			snprintf(err, errlen, "--start: '%s' is not an ISO 8601 "
				 "time (2024-01-01T00:00:00Z)", start);
			return -EINVAL;
		}
	} else {
		a->start = now - now % 3600;
	}

	/* the number of snapshots, bounded */
	r = shadow_tz_enter(a->policy.zone, &z);
	if (r) {
		snprintf(err, errlen, "unknown time zone '%s'", a->policy.zone);
		return r;
	}
	end = move(&z, a->start, &a->span, 1);
	for (k = 0, r = 0;; k++) {
		t = move(&z, a->start, &a->every, (long)k);
		if (t < 0 || end < 0) {
			snprintf(err, errlen, "the schedule leaves the calendar");
			r = -EINVAL;
			break;
		}
		if (t >= end)
			break;
		if (k >= SHADOW_SIM_MAX_STEPS) {
			snprintf(err, errlen, "more than %d snapshots: take a "
				 "longer --every or a shorter --for",
				 SHADOW_SIM_MAX_STEPS);
			r = -E2BIG;
			break;
		}
	}
	shadow_tz_leave(&z);
	return r;
}

int shadow_sim_run(const struct shadow_sim_args *a,
		   struct shadow_sim_report *res)
{
	struct shadow_ret_verdict *verd = NULL, *last = NULL;
	struct shadow_ret_snap *live = NULL;
	struct shadow_ret_policy p = a->policy;
	size_t n = 0, cap = 0, k, i, w;
	struct shadow_tz z;
	time_t end;
	int r;

	memset(res, 0, sizeof(*res));
	res->start = a->start;
	r = shadow_tz_enter(p.zone, &z);
	if (r)
		return r;
	/*
	 * The zone is selected here for the whole run: the engine works in
	 * "local" time, without selecting it again for each prune (it takes
	 * the zone lock again, which is recursive).
	 */
	if (z.kind == SHADOW_TZ_NAMED)
		p.zone[0] = '\0';
	end = move(&z, a->start, &a->span, 1);

	for (k = 0; k <= SHADOW_SIM_MAX_STEPS; k++) {
		time_t t = move(&z, a->start, &a->every, (long)k);
		int kept;

		if (t < 0 || t >= end)
			break;
		if (n && t <= live[n - 1].ctime)
			continue;	/* a calendar step that did not move */
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct shadow_ret_snap *nl;
			struct shadow_ret_verdict *nv, *nd;

			nl = realloc(live, nc * sizeof(*nl));
			if (nl)
				live = nl;
			nv = realloc(verd, nc * sizeof(*nv));
			if (nv)
				verd = nv;
			nd = realloc(last, nc * sizeof(*nd));
			if (nd)
				last = nd;
			if (!nl || !nv || !nd) {
				r = -ENOMEM;
				goto out;
			}
			cap = nc;
		}
		memset(&live[n], 0, sizeof(live[n]));
		live[n].id = k + 1;
		live[n].ctime = t;
		n++;
		res->taken++;
		if (n > res->peak) {
			res->peak = n;
			res->peak_at = t;
		}
		kept = shadow_ret_evaluate(&p, live, n, t, verd);
		if (kept < 0) {
			r = kept;
			goto out;
		}
		if ((size_t)kept > res->peak_kept)
			res->peak_kept = (size_t)kept;
		for (i = 0, w = 0; i < n; i++) {
			if (!verd[i].keep)
				continue;
			live[w] = live[i];
			last[w++] = verd[i];
		}
		res->removed += n - w;
		n = w;
		res->end = t;
	}
	res->left = calloc(n ? n : 1, sizeof(*res->left));
	if (!res->left) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		res->left[i] = last[n - 1 - i];
	res->n_left = n;
	r = 0;
out:
	shadow_tz_leave(&z);
	free(live);
	free(verd);
	free(last);
	if (r)
		shadow_sim_report_free(res);
	return r;
}

void shadow_sim_report_free(struct shadow_sim_report *r)
{
	free(r->left);
	r->left = NULL;
	r->n_left = 0;
}
