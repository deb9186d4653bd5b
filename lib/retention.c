// SPDX-License-Identifier: GPL-2.0
/*
 * The retention engine.  See retention.h for the interface and
 * Documentation/retention.rst for what each rule means.
 *
 * Layout: durations, time zones, the policy (parsing, checking, printing),
 * reasons, the evaluation core, then its three users: evaluate, space
 * pressure and simulate.
 */
#include "retention.h"
#include "tz.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NP SHADOW_RET_NPERIODS

/* Largest number in one duration field. */
#define DURATION_FIELD_MAX 100000u

/* Earlier than any snapshot: a window that reaches before every time. */
#define TIME_FAR_PAST ((time_t)INT64_MIN / 2)

static const char *const period_names[NP] = {
	"hourly", "daily", "weekly", "monthly", "yearly",
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ durations */

bool shadow_duration_is_zero(const struct shadow_duration *d)
{
	return !d->years && !d->months && !d->weeks && !d->days && !d->hours &&
	       !d->minutes;
}

int shadow_duration_parse(const char *s, struct shadow_duration *d)
{
	struct shadow_duration r = { 0 };
	/* Units from the largest; each may appear once, in this order. */
	static const struct {
		const char *name;
		size_t off;
	} units[] = {
		{ "y", offsetof(struct shadow_duration, years) },
		{ "min", offsetof(struct shadow_duration, minutes) },
		{ "m", offsetof(struct shadow_duration, months) },
		{ "w", offsetof(struct shadow_duration, weeks) },
		{ "d", offsetof(struct shadow_duration, days) },
		{ "h", offsetof(struct shadow_duration, hours) },
	};
	/* Rank of each entry of units[] from the largest to the smallest. */
	static const int rank[] = { 0, 5, 1, 2, 3, 4 };
	int last_rank = -1;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "0")) {
		*d = r;
		return 0;
	}

	while (*p) {
		unsigned long v = 0;
		size_t i, ulen = 0;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (unsigned long)(*p - '0');
			if (v > DURATION_FIELD_MAX)
				return -ERANGE;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			ulen = strlen(units[i].name);
			if (!strncmp(p, units[i].name, ulen))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		if (rank[i] <= last_rank)
			return -EINVAL;
		last_rank = rank[i];
		*(unsigned int *)((char *)&r + units[i].off) = (unsigned int)v;
		p += ulen;
	}
	*d = r;
	return 0;
}

char *shadow_duration_format(const struct shadow_duration *d, char *buf,
			     size_t len)
{
	const unsigned int v[] = { d->years, d->months, d->weeks,
				   d->days,  d->hours,	d->minutes };
	static const char *const u[] = { "y", "m", "w", "d", "h", "min" };
	size_t i, off = 0;

	if (!len)
		return buf;
	buf[0] = 0;
	for (i = 0; i < 6; i++) {
		int w;

		if (!v[i])
			continue;
		w = snprintf(buf + off, len - off, "%u%s", v[i], u[i]);
		if (w < 0 || (size_t)w >= len - off)
			return buf;
		off += (size_t)w;
	}
	if (!off)
		snprintf(buf, len, "0");
	return buf;
}

/* ------------------------------------------------------------ time zones */

/*
 * Calendar fields in the policy's zone, through lib/tz.h: a named zone is
 * selected (TZ, tzset()) for the duration of one evaluation, under the
 * zone lock, and the previous TZ is restored after: retention calls are
 * safe against each other, not against other threads of the process
 * reading the time zone at the same moment.
 */

/*
 * @t moved by @k times @d: calendar fields first (keeping the wall-clock
 * time), then elapsed hours and minutes.  @k is +1/-1 for one step, or a
 * step number.
 */
static time_t duration_move(const struct shadow_tz *z, time_t t,
			    const struct shadow_duration *d, long k)
{
	long long r;

	if (d->years || d->months || d->weeks || d->days) {
		long long y = (long long)d->years * k,
			  mo = (long long)d->months * k,
			  dd = ((long long)d->weeks * 7 + d->days) * k;
		struct tm tm;
		time_t c;

		long long mon;
		int mdays;

		shadow_tz_tm(z, t, &tm);
		if (llabs(y) > 1000000 || llabs(mo) > 12000000 ||
		    llabs(dd) > 365000000)
			return k < 0 ? TIME_FAR_PAST : -TIME_FAR_PAST;
		/*
		 * Years and months first, the day clamped to the length of
		 * the month reached (Mar 31 - 1m = Feb 28, not Mar 3 as in
		 * restic), then days.
		 */
		mon = (long long)tm.tm_year * 12 + tm.tm_mon + y * 12 + mo;
		tm.tm_year = (int)(mon >= 0 ? mon / 12 : (mon - 11) / 12);
		tm.tm_mon = (int)(mon - (long long)tm.tm_year * 12);
		mdays = shadow_days_in_month(tm.tm_year + 1900, tm.tm_mon);
		if (tm.tm_mday > mdays)
			tm.tm_mday = mdays;
		tm.tm_mday += (int)dd;
		tm.tm_isdst = -1;
		errno = 0;
		c = shadow_tz_mktime(z, &tm);
		if (c == (time_t)-1 && errno)
			return k < 0 ? TIME_FAR_PAST : -TIME_FAR_PAST;
		t = c;
	}
	r = ((long long)d->hours * 3600 + (long long)d->minutes * 60) * k;
	return t + r;
}

/* ------------------------------------------------------------ ISO weeks */

static int jan1_weekday_term(int y)
{
	return (y + y / 4 - y / 100 + y / 400) % 7;
}

static int iso_weeks_in_year(int y)
{
	return (jan1_weekday_term(y) == 4 || jan1_weekday_term(y - 1) == 3) ?
		       53 :
		       52;
}

int shadow_iso_week(const struct tm *tm, int *week)
{
	int year = tm->tm_year + 1900;
	int wday = (tm->tm_wday + 6) % 7; /* Monday 0 */
	int w = (tm->tm_yday - wday + 10) / 7;

	if (w < 1) {
		year--;
		w = iso_weeks_in_year(year);
	} else if (w > iso_weeks_in_year(year)) {
		year++;
		w = 1;
	}
	*week = w;
	return year;
}

/* ------------------------------------------------------------ the policy */

enum setting_kind { S_COUNT, S_DURATION, S_MAX_COUNT, S_PCT, S_PICK, S_ZONE };

#define POFF(field) offsetof(struct shadow_ret_policy, field)

static const struct setting {
	const char *name;
	enum setting_kind kind;
	size_t off;
} settings[] = {
	{ "keep-last", S_COUNT, POFF(keep_last) },
	{ "keep-hourly", S_COUNT, POFF(keep[SHADOW_RET_HOURLY]) },
	{ "keep-daily", S_COUNT, POFF(keep[SHADOW_RET_DAILY]) },
	{ "keep-weekly", S_COUNT, POFF(keep[SHADOW_RET_WEEKLY]) },
	{ "keep-monthly", S_COUNT, POFF(keep[SHADOW_RET_MONTHLY]) },
	{ "keep-yearly", S_COUNT, POFF(keep[SHADOW_RET_YEARLY]) },
	{ "keep-within", S_DURATION, POFF(keep_within) },
	{ "keep-within-hourly", S_DURATION,
	  POFF(keep_within_period[SHADOW_RET_HOURLY]) },
	{ "keep-within-daily", S_DURATION,
	  POFF(keep_within_period[SHADOW_RET_DAILY]) },
	{ "keep-within-weekly", S_DURATION,
	  POFF(keep_within_period[SHADOW_RET_WEEKLY]) },
	{ "keep-within-monthly", S_DURATION,
	  POFF(keep_within_period[SHADOW_RET_MONTHLY]) },
	{ "keep-within-yearly", S_DURATION,
	  POFF(keep_within_period[SHADOW_RET_YEARLY]) },
	{ "min-age", S_DURATION, POFF(min_age) },
	{ "max-count", S_MAX_COUNT, POFF(max_count) },
	{ "store-high", S_PCT, POFF(store_high) },
	{ "store-low", S_PCT, POFF(store_low) },
	{ "representative", S_PICK, POFF(pick) },
	{ "timezone", S_ZONE, POFF(zone) },
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

void shadow_ret_policy_init(struct shadow_ret_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->pick = SHADOW_RET_PICK_NEWEST;
}

/* A whole number without sign, at most @max; -EINVAL or -ERANGE. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = v;
	return 0;
}

static const struct setting *find_setting(const char *key)
{
	size_t i;

	for (i = 0; i < N_SETTINGS; i++)
		if (!strcmp(settings[i].name, key))
			return &settings[i];
	return NULL;
}

/* A count setting's value, with the setting's own wording on error. */
static int parse_count(const struct setting *s, const char *v,
		       const char *what, unsigned long *u, char *err,
		       size_t errlen)
{
	int r = parse_uint(v, SHADOW_RET_MAX_COUNT, u);

	if (r == -ERANGE)
		set_err(err, errlen, "%s: '%s' is too large (at most %d)",
			s->name, v, SHADOW_RET_MAX_COUNT);
	else if (r)
		set_err(err, errlen, "%s: '%s' is not a count (%s)", s->name,
			v, what);
	return r;
}

static int apply_setting(struct shadow_ret_policy *p, const struct setting *s,
			 const char *v, char *err, size_t errlen)
{
	char *field = (char *)p + s->off;
	unsigned long u;
	int r;

	switch (s->kind) {
	case S_COUNT:
		if (!strcmp(v, "unlimited") || !strcmp(v, "all") ||
		    !strcmp(v, "-1")) {
			*(int *)field = SHADOW_RET_UNLIMITED;
			return 0;
		}
		if (parse_count(s, v, "a whole number or 'unlimited'", &u, err,
				errlen))
			return -EINVAL;
		*(int *)field = (int)u;
		return 0;
	case S_MAX_COUNT:
		if (parse_count(s, v, "a whole number, 0 for no cap", &u, err,
				errlen))
			return -EINVAL;
		*(unsigned int *)field = (unsigned int)u;
		return 0;
	case S_DURATION:
		r = shadow_duration_parse(v, (struct shadow_duration *)field);
		if (r == -ERANGE) {
			set_err(err, errlen,
				"%s: '%s' is too large (at most %u per unit)",
				s->name, v, DURATION_FIELD_MAX);
			return -EINVAL;
		}
		if (r) {
			set_err(err, errlen,
				"%s: '%s' is not a duration (like 36h, 7d, 2w, 3m, 1y, 30min, 1y6m)",
				s->name, v);
			return -EINVAL;
		}
		return 0;
	case S_PCT: {
		char num[8];
		size_t len = strlen(v);

		if (len && v[len - 1] == '%')
			len--;
		if (len >= sizeof(num) || !len) {
			r = -EINVAL;
		} else {
			memcpy(num, v, len);
			num[len] = 0;
			r = parse_uint(num, 100, &u);
		}
		if (r) {
			set_err(err, errlen,
				"%s: '%s' is not a percentage (0 to 100)",
				s->name, v);
			return -EINVAL;
		}
		*(unsigned int *)field = (unsigned int)u;
		return 0;
	}
	case S_PICK:
		if (!strcmp(v, "newest")) {
			p->pick = SHADOW_RET_PICK_NEWEST;
		} else if (!strcmp(v, "oldest")) {
			p->pick = SHADOW_RET_PICK_OLDEST;
		} else {
			set_err(err, errlen,
				"%s: '%s' is neither 'newest' nor 'oldest'",
				s->name, v);
			return -EINVAL;
		}
		return 0;
	case S_ZONE:
		if (!strcmp(v, "local"))
			v = "";
		if (!shadow_tz_name_valid(v)) {
			set_err(err, errlen, "%s: unknown time zone '%s'",
				s->name, v);
			return -EINVAL;
		}
		snprintf(p->zone, sizeof(p->zone), "%s", v);
		return 0;
	}
	return -EINVAL;
}

int shadow_ret_policy_set(struct shadow_ret_policy *p, const char *key,
			  const char *value, char *err, size_t errlen)
{
	const struct setting *s = find_setting(key);
	struct shadow_ret_policy tmp = *p;
	int r;

	if (!s) {
		set_err(err, errlen, "unknown setting '%s'", key);
		return -EINVAL;
	}
	r = apply_setting(&tmp, s, value, err, errlen);
	if (!r)
		*p = tmp;
	return r;
}

int shadow_ret_policy_validate(const struct shadow_ret_policy *p, char *err,
			       size_t errlen)
{
	size_t i;

	if (p->keep_last < SHADOW_RET_UNLIMITED ||
	    p->keep_last > SHADOW_RET_MAX_COUNT) {
		set_err(err, errlen, "keep-last: out of range");
		return -EINVAL;
	}
	for (i = 0; i < NP; i++) {
		if (p->keep[i] < SHADOW_RET_UNLIMITED ||
		    p->keep[i] > SHADOW_RET_MAX_COUNT) {
			set_err(err, errlen, "keep-%s: out of range",
				period_names[i]);
			return -EINVAL;
		}
	}
	if (p->max_count > SHADOW_RET_MAX_COUNT) {
		set_err(err, errlen, "max-count: out of range");
		return -EINVAL;
	}
	if (p->store_high > 100 || p->store_low > 100) {
		set_err(err, errlen, "%s: more than 100%%",
			p->store_high > 100 ? "store-high" : "store-low");
		return -EINVAL;
	}
	if (p->store_high && !p->store_low) {
		set_err(err, errlen, "store-high is set but store-low is not");
		return -EINVAL;
	}
	if (p->store_low && !p->store_high) {
		set_err(err, errlen, "store-low is set but store-high is not");
		return -EINVAL;
	}
	if (p->store_high && p->store_low >= p->store_high) {
		set_err(err, errlen,
			"store-low (%u%%) must be below store-high (%u%%)",
			p->store_low, p->store_high);
		return -EINVAL;
	}
	if (p->pick != SHADOW_RET_PICK_NEWEST &&
	    p->pick != SHADOW_RET_PICK_OLDEST) {
		set_err(err, errlen, "representative: out of range");
		return -EINVAL;
	}
	if (!memchr(p->zone, 0, sizeof(p->zone)) ||
	    !shadow_tz_name_valid(p->zone)) {
		set_err(err, errlen, "timezone: unknown time zone");
		return -EINVAL;
	}
	return 0;
}

struct parse_state {
	struct shadow_ret_policy tmp;
	bool seen[N_SETTINGS];
};

static int parse_one(struct parse_state *ps, const char *key, const char *val,
		     char *err, size_t errlen)
{
	const struct setting *s = find_setting(key);

	if (!s) {
		set_err(err, errlen, "unknown setting '%s'", key);
		return -EINVAL;
	}
	if (ps->seen[s - settings]) {
		set_err(err, errlen, "%s: given twice", key);
		return -EINVAL;
	}
	ps->seen[s - settings] = true;
	if (!val || !*val) {
		set_err(err, errlen, "%s: missing value", key);
		return -EINVAL;
	}
	return apply_setting(&ps->tmp, s, val, err, errlen);
}

static int parse_finish(struct shadow_ret_policy *p, struct parse_state *ps,
			char *err, size_t errlen)
{
	int r = shadow_ret_policy_validate(&ps->tmp, err, errlen);

	if (!r)
		*p = ps->tmp;
	return r;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int shadow_ret_policy_parse(struct shadow_ret_policy *p, const char *text,
			    char *err, size_t errlen)
{
	struct parse_state ps = { .tmp = *p };
	char key[32], val[SHADOW_RET_ZONELEN + 16], msg[SHADOW_RET_ERRLEN];
	const char *c = text ? text : "";
	unsigned int line = 1;

	for (;;) {
		size_t kl = 0, vl = 0;
		int r;

		while (is_blank(*c) || *c == '\n' || *c == '#') {
			if (*c == '#')
				while (*c && *c != '\n')
					c++;
			if (*c == '\n')
				line++;
			if (*c)
				c++;
		}
		if (!*c)
			break;
		while (*c && !is_blank(*c) && *c != '\n' && *c != '=' &&
		       *c != '#') {
			if (kl + 1 < sizeof(key))
				key[kl] = *c;
			kl++;
			c++;
		}
		if (!kl) {
			set_err(err, errlen, "line %u: expected a setting name",
				line);
			return -EINVAL;
		}
		key[kl < sizeof(key) ? kl : sizeof(key) - 1] = 0;
		while (is_blank(*c))
			c++;
		if (*c == '=') {
			c++;
			while (is_blank(*c))
				c++;
		}
		while (*c && !is_blank(*c) && *c != '\n' && *c != '#') {
			if (vl + 1 < sizeof(val))
				val[vl] = *c;
			vl++;
			c++;
		}
		if (kl >= sizeof(key) || vl >= sizeof(val)) {
			set_err(err, errlen, "line %u: %s too long", line,
				kl >= sizeof(key) ? "setting name" : "value");
			return -EINVAL;
		}
		val[vl] = 0;
		r = parse_one(&ps, key, val, msg, sizeof(msg));
		if (r) {
			set_err(err, errlen, "line %u: %s", line, msg);
			return r;
		}
	}
	return parse_finish(p, &ps, err, errlen);
}

int shadow_ret_policy_parse_argv(struct shadow_ret_policy *p, int argc,
				 char *const argv[], char *err, size_t errlen)
{
	struct parse_state ps = { .tmp = *p };
	int i, r;

	for (i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (eq) {
			size_t kl = (size_t)(eq - argv[i]);
			char *key = strndup(argv[i], kl);

			if (!key)
				return -ENOMEM;
			r = parse_one(&ps, key, eq + 1, err, errlen);
			free(key);
		} else {
			r = parse_one(&ps, argv[i],
				      i + 1 < argc ? argv[i + 1] : NULL, err,
				      errlen);
			i++;
		}
		if (r)
			return r;
	}
	return parse_finish(p, &ps, err, errlen);
}

static int append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(*off < len ? buf + *off : NULL,
		      *off < len ? len - *off : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		*off += (size_t)w;
	return w;
}

int shadow_ret_policy_format(const struct shadow_ret_policy *p, char *buf,
			     size_t len)
{
	size_t i, off = 0;
	char d[64];

	if (len)
		buf[0] = 0;
	for (i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *field = (const char *)p + s->off;

		switch (s->kind) {
		case S_COUNT: {
			int v = *(const int *)field;

			if (v == SHADOW_RET_UNLIMITED)
				append(buf, len, &off, "%s=unlimited\n",
				       s->name);
			else if (v)
				append(buf, len, &off, "%s=%d\n", s->name, v);
			break;
		}
		case S_DURATION: {
			const struct shadow_duration *v =
				(const struct shadow_duration *)field;

			if (!shadow_duration_is_zero(v))
				append(buf, len, &off, "%s=%s\n", s->name,
				       shadow_duration_format(v, d, sizeof(d)));
			break;
		}
		case S_MAX_COUNT:
			if (p->max_count)
				append(buf, len, &off, "%s=%u\n", s->name,
				       p->max_count);
			break;
		case S_PCT: {
			unsigned int v = *(const unsigned int *)field;

			if (v)
				append(buf, len, &off, "%s=%u%%\n", s->name, v);
			break;
		}
		case S_PICK:
			if (p->pick == SHADOW_RET_PICK_OLDEST)
				append(buf, len, &off, "%s=oldest\n", s->name);
			break;
		case S_ZONE:
			if (p->zone[0])
				append(buf, len, &off, "%s=%s\n", s->name,
				       p->zone);
			break;
		}
	}
	return (int)off;
}

/* ------------------------------------------------------------ reasons */

static int bit_index(uint32_t bit)
{
	int i;

	if (!bit || (bit & (bit - 1)))
		return -1;
	for (i = 0; i < 32; i++)
		if (bit == 1u << i)
			return i;
	return -1;
}

const char *shadow_ret_reason_key(uint32_t bit)
{
	static const char *const keys[SHADOW_RET_R_NBITS] = {
		"pinned",
		"min-age",
		"no-policy",
		"within",
		"last",
		"hourly",
		"daily",
		"weekly",
		"monthly",
		"yearly",
		"oldest-hourly",
		"oldest-daily",
		"oldest-weekly",
		"oldest-monthly",
		"oldest-yearly",
		"within-hourly",
		"within-daily",
		"within-weekly",
		"within-monthly",
		"within-yearly",
		"oldest-within-hourly",
		"oldest-within-daily",
		"oldest-within-weekly",
		"oldest-within-monthly",
		"oldest-within-yearly",
		"no-rule",
		"max-count",
		"space",
	};
	int i = bit_index(bit);

	return i < 0 || i >= SHADOW_RET_R_NBITS ? NULL : keys[i];
}

char *shadow_ret_reason_text(uint32_t bit, const struct shadow_ret_policy *p,
			     char *buf, size_t len)
{
	int i = bit_index(bit);
	char d[64];

	if (!len)
		return buf;
	buf[0] = 0;
	if (i < 0 || i >= SHADOW_RET_R_NBITS)
		return buf;
	if (bit == SHADOW_RET_R_PINNED)
		snprintf(buf, len, "pinned");
	else if (bit == SHADOW_RET_R_MIN_AGE)
		snprintf(buf, len, "younger than min-age %s",
			 shadow_duration_format(&p->min_age, d, sizeof(d)));
	else if (bit == SHADOW_RET_R_NO_POLICY)
		snprintf(buf, len, "no keep rule set");
	else if (bit == SHADOW_RET_R_WITHIN)
		snprintf(buf, len, "within %s",
			 shadow_duration_format(&p->keep_within, d, sizeof(d)));
	else if (bit == SHADOW_RET_R_LAST)
		snprintf(buf, len, "last snapshot");
	else if (i < 10)
		snprintf(buf, len, "%s snapshot", period_names[i - 5]);
	else if (i < 15)
		snprintf(buf, len, "oldest %s snapshot", period_names[i - 10]);
	else if (i < 20)
		snprintf(buf, len, "%s within %s", period_names[i - 15],
			 shadow_duration_format(&p->keep_within_period[i - 15],
						d, sizeof(d)));
	else if (i < 25)
		snprintf(buf, len, "oldest %s within %s", period_names[i - 20],
			 shadow_duration_format(&p->keep_within_period[i - 20],
						d, sizeof(d)));
	else if (bit == SHADOW_RET_R_NO_RULE)
		snprintf(buf, len, "matches no rule");
	else if (bit == SHADOW_RET_R_MAX_COUNT)
		snprintf(buf, len, "over max-count %u", p->max_count);
	else
		snprintf(buf, len, "store above store-high %u%%",
			 p->store_high);
	return buf;
}

/*
 * Print order: as the bits, except that each "oldest <period>" stands
 * where "<period>" would, so that the text reads like restic's.
 */
static const uint8_t print_order[SHADOW_RET_R_NBITS] = {
	0,  1,	2,  3,	4,  5,	10, 6,	11, 7,	12, 8,	13, 9,
	14, 15, 20, 16, 21, 17, 22, 18, 23, 19, 24, 25, 26, 27,
};

char *shadow_ret_reasons_format(uint32_t reasons,
				const struct shadow_ret_policy *p, char *buf,
				size_t len)
{
	size_t i, off = 0;
	char t[64];

	if (len)
		buf[0] = 0;
	for (i = 0; i < SHADOW_RET_R_NBITS; i++) {
		uint32_t bit = 1u << print_order[i];

		if (!(reasons & bit))
			continue;
		append(buf, len, &off, "%s%s", off ? ", " : "",
		       shadow_ret_reason_text(bit, p, t, sizeof(t)));
	}
	return buf;
}

/* ------------------------------------------------------------ evaluation */

struct item {
	uint64_t id;
	time_t t;
	bool pinned;
	int64_t key[NP];
	struct shadow_ret_verdict *v;
};

/* Reference times of the duration rules, for one "now". */
struct cutoffs {
	time_t within;
	time_t within_period[NP];
	time_t min_age;
};

static bool has_keep_rule(const struct shadow_ret_policy *p)
{
	size_t i;

	if (p->keep_last || !shadow_duration_is_zero(&p->keep_within))
		return true;
	for (i = 0; i < NP; i++)
		if (p->keep[i] ||
		    !shadow_duration_is_zero(&p->keep_within_period[i]))
			return true;
	return false;
}

/* Period keys: equal keys, same period.  Hours by their start instant. */
static void item_keys(const struct shadow_tz *z, struct item *it)
{
	struct tm tm;
	int week, wyear;

	shadow_tz_tm(z, it->t, &tm);
	it->key[SHADOW_RET_HOURLY] =
		(int64_t)it->t - tm.tm_min * 60 - tm.tm_sec;
	it->key[SHADOW_RET_DAILY] = (int64_t)(tm.tm_year + 1900) * 10000 +
				    (tm.tm_mon + 1) * 100 + tm.tm_mday;
	wyear = shadow_iso_week(&tm, &week);
	it->key[SHADOW_RET_WEEKLY] = (int64_t)wyear * 100 + week;
	it->key[SHADOW_RET_MONTHLY] =
		(int64_t)(tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
	it->key[SHADOW_RET_YEARLY] = tm.tm_year + 1900;
}

static void compute_cutoffs(const struct shadow_ret_policy *p,
			    const struct shadow_tz *z, time_t now,
			    struct cutoffs *c)
{
	size_t i;

	c->within = duration_move(z, now, &p->keep_within, -1);
	c->min_age = duration_move(z, now, &p->min_age, -1);
	for (i = 0; i < NP; i++)
		c->within_period[i] =
			duration_move(z, now, &p->keep_within_period[i], -1);
}

/*
 * One representative per period over v[0..m), newest period first, while
 * @count lasts (negative: no limit).  When the periods run out before the
 * count, the oldest snapshot v[m-1] is kept too, with @oldest_bit, if
 * @oldest_ok.
 */
static void pick_periods(struct item **v, size_t m, int period, int count,
			 enum shadow_ret_pick pick, uint32_t bit,
			 uint32_t oldest_bit, bool oldest_ok, int rank_index)
{
	unsigned int used = 0;
	size_t i = 0;

	while (i < m && (count < 0 || used < (unsigned int)count)) {
		size_t j = i, rep;

		while (j + 1 < m && v[j + 1]->key[period] == v[i]->key[period])
			j++;
		rep = pick == SHADOW_RET_PICK_NEWEST ? i : j;
		v[rep]->v->reasons |= bit;
		used++;
		if (rank_index >= 0)
			v[rep]->v->rank[rank_index] = used;
		i = j + 1;
	}
	if (oldest_ok && m && (count < 0 || used < (unsigned int)count) &&
	    !(v[m - 1]->v->reasons & bit))
		v[m - 1]->v->reasons |= oldest_bit;
}

/* Number of leading items (newest first) strictly newer than @cutoff. */
static size_t count_newer(struct item **v, size_t n, time_t cutoff)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid]->t > cutoff)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The core: @v holds @n items sorted newest first, each pointing at its
 * verdict.  Returns the number kept.
 */
static size_t judge(const struct shadow_ret_policy *p, const struct cutoffs *c,
		    struct item **v, size_t n)
{
	bool no_policy = !has_keep_rule(p);
	size_t i, kept = 0;
	int k;

	for (i = 0; i < n; i++) {
		struct shadow_ret_verdict *vd = v[i]->v;

		memset(vd, 0, sizeof(*vd));
		vd->id = v[i]->id;
		vd->ctime = v[i]->t;
		if (v[i]->pinned)
			vd->reasons |= SHADOW_RET_R_PINNED;
		if (no_policy)
			vd->reasons |= SHADOW_RET_R_NO_POLICY;
		if (!shadow_duration_is_zero(&p->min_age) &&
		    v[i]->t > c->min_age)
			vd->reasons |= SHADOW_RET_R_MIN_AGE;
		if (!shadow_duration_is_zero(&p->keep_within) &&
		    v[i]->t > c->within)
			vd->reasons |= SHADOW_RET_R_WITHIN;
		if (p->keep_last == SHADOW_RET_UNLIMITED ||
		    i < (size_t)(p->keep_last > 0 ? p->keep_last : 0)) {
			vd->reasons |= SHADOW_RET_R_LAST;
			vd->rank[0] = (unsigned int)i + 1;
		}
	}

	for (k = 0; k < NP; k++) {
		if (p->keep[k])
			pick_periods(v, n, k, p->keep[k], p->pick,
				     SHADOW_RET_R_PERIOD << k,
				     SHADOW_RET_R_OLDEST << k, true, 1 + k);
		if (!shadow_duration_is_zero(&p->keep_within_period[k])) {
			size_t m = count_newer(v, n, c->within_period[k]);

			pick_periods(v, m, k, SHADOW_RET_UNLIMITED, p->pick,
				     SHADOW_RET_R_WITHIN_PERIOD << k,
				     SHADOW_RET_R_OLDEST_WITHIN << k, m == n,
				     -1);
		}
	}

	for (i = 0; i < n; i++) {
		struct shadow_ret_verdict *vd = v[i]->v;

		vd->keep = !!(vd->reasons & SHADOW_RET_R_KEEP_MASK);
		if (vd->keep)
			kept++;
		else
			vd->reasons |= SHADOW_RET_R_NO_RULE;
	}

	/* max-count: a hard cap, the oldest unpinned go first. */
	for (i = n; p->max_count && kept > p->max_count && i-- > 0;) {
		struct shadow_ret_verdict *vd = v[i]->v;

		if (!vd->keep || v[i]->pinned)
			continue;
		vd->keep = false;
		vd->reasons |= SHADOW_RET_R_MAX_COUNT;
		kept--;
	}
	return kept;
}

/* Newest first; between equal times, the higher id is the newer. */
static int cmp_newest_first(const void *a, const void *b)
{
	const struct item *x = *(const struct item *const *)a;
	const struct item *y = *(const struct item *const *)b;

	if (x->t != y->t)
		return x->t > y->t ? -1 : 1;
	if (x->id != y->id)
		return x->id > y->id ? -1 : 1;
	return 0;
}

int shadow_ret_evaluate(const struct shadow_ret_policy *p,
			const struct shadow_ret_snap *snaps, size_t n,
			time_t now, struct shadow_ret_verdict *out)
{
	struct item *items;
	struct item **v;
	struct cutoffs c;
	struct shadow_tz z;
	size_t i, kept;
	int r;

	items = calloc(n ? n : 1, sizeof(*items));
	v = calloc(n ? n : 1, sizeof(*v));
	if (!items || !v) {
		r = -ENOMEM;
		goto out_free;
	}
	r = shadow_tz_enter(p->zone, &z);
	if (r)
		goto out_free;
	for (i = 0; i < n; i++) {
		items[i].id = snaps[i].id;
		items[i].t = snaps[i].ctime;
		items[i].pinned = snaps[i].pinned;
		items[i].v = &out[i];
		item_keys(&z, &items[i]);
		v[i] = &items[i];
	}
	compute_cutoffs(p, &z, now, &c);
	shadow_tz_leave(&z);

	qsort(v, n, sizeof(*v), cmp_newest_first);
	kept = judge(p, &c, v, n);
	r = kept > INT_MAX ? INT_MAX : (int)kept;

out_free:
	free(v);
	free(items);
	return r;
}

/* ------------------------------------------------------------ space */

/* @pct percent of @cap, without overflow. */
static uint64_t percent_of(uint64_t cap, unsigned int pct)
{
	return cap / 100 * pct + cap % 100 * pct / 100;
}

static int cmp_oldest_first(const void *a, const void *b)
{
	return -cmp_newest_first(a, b);
}

int shadow_ret_space(const struct shadow_ret_policy *p,
		     const struct shadow_ret_snap *snaps, size_t n,
		     uint64_t used, uint64_t capacity,
		     struct shadow_ret_verdict *out,
		     struct shadow_ret_space_report *rep)
{
	struct shadow_ret_space_report r = { .used_before = used };
	struct item *items;
	struct item **v;
	uint64_t high;
	size_t i;

	if (!p->store_high || !capacity)
		return -EINVAL;
	items = calloc(n ? n : 1, sizeof(*items));
	v = calloc(n ? n : 1, sizeof(*v));
	if (!items || !v) {
		free(items);
		free(v);
		return -ENOMEM;
	}

	high = percent_of(capacity, p->store_high);
	r.target = percent_of(capacity, p->store_low);
	r.used_after = used;
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].id = snaps[i].id;
		out[i].ctime = snaps[i].ctime;
		out[i].keep = true;
		if (snaps[i].pinned)
			out[i].reasons = SHADOW_RET_R_PINNED;
		items[i].id = snaps[i].id;
		items[i].t = snaps[i].ctime;
		items[i].pinned = snaps[i].pinned;
		items[i].v = &out[i];
		v[i] = &items[i];
	}

	r.triggered = used > high;
	if (r.triggered) {
		qsort(v, n, sizeof(*v), cmp_oldest_first);
		for (i = 0; i < n && r.used_after >= r.target; i++) {
			uint64_t held = snaps[v[i]->v - out].held_bytes;

			if (v[i]->pinned)
				continue;
			v[i]->v->keep = false;
			v[i]->v->reasons |= SHADOW_RET_R_SPACE;
			r.used_after -= held < r.used_after ? held :
							      r.used_after;
			r.removed++;
		}
	}
	r.reached = r.used_after < r.target;
	if (rep)
		*rep = r;
	free(v);
	free(items);
	return r.removed > INT_MAX ? INT_MAX : (int)r.removed;
}

/* ------------------------------------------------------------ simulate */

void shadow_ret_sim_result_free(struct shadow_ret_sim_result *res)
{
	free(res->left);
	memset(res, 0, sizeof(*res));
}

int shadow_ret_simulate(const struct shadow_ret_policy *p,
			const struct shadow_ret_sim *sim,
			struct shadow_ret_sim_result *res)
{
	struct item *live = NULL, **v = NULL;
	struct shadow_ret_verdict *verd = NULL;
	size_t nlive = 0, cap = 0, step, i;
	struct cutoffs c;
	struct shadow_tz z;
	int r;

	memset(res, 0, sizeof(*res));
	if (shadow_duration_is_zero(&sim->every) || !sim->count ||
	    sim->count > LONG_MAX)
		return -EINVAL;
	r = shadow_tz_enter(p->zone, &z);
	if (r)
		return r;

	for (step = 0; step < sim->count; step++) {
		time_t t =
			duration_move(&z, sim->start, &sim->every, (long)step);
		size_t kept, w;

		if (nlive == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct item *nl = realloc(live, ncap * sizeof(*nl));
			struct item **nv;
			struct shadow_ret_verdict *nd;

			if (!nl)
				goto nomem;
			live = nl;
			nv = realloc(v, ncap * sizeof(*nv));
			if (!nv)
				goto nomem;
			v = nv;
			nd = realloc(verd, ncap * sizeof(*nd));
			if (!nd)
				goto nomem;
			verd = nd;
			cap = ncap;
		}
		if (nlive && t <= live[nlive - 1].t)
			continue; /* a calendar step that did not advance */
		memset(&live[nlive], 0, sizeof(live[nlive]));
		live[nlive].id = step + 1;
		live[nlive].t = t;
		item_keys(&z, &live[nlive]);
		nlive++;
		res->taken++;

		compute_cutoffs(p, &z, t, &c);
		for (i = 0; i < nlive; i++) {
			live[i].v = &verd[i];
			v[nlive - 1 - i] = &live[i];
		}
		kept = judge(p, &c, v, nlive);

		if (step + 1 == sim->count) {
			res->left = calloc(kept ? kept : 1, sizeof(*res->left));
			if (!res->left)
				goto nomem;
			for (i = 0, w = 0; i < nlive; i++)
				if (v[i]->v->keep)
					res->left[w++] = *v[i]->v;
			res->n_left = w;
		}
		for (i = 0, w = 0; i < nlive; i++) {
			if (!verd[i].keep)
				continue;
			live[w] = live[i];
			verd[w++] = verd[i];
		}
		res->removed += nlive - w;
		nlive = w;
		if (kept > res->peak) {
			res->peak = kept;
			res->peak_at = t;
		}
		res->end = t;
	}
	/* The last step may have been skipped as not advancing. */
	if (!res->left) {
		res->left = calloc(nlive ? nlive : 1, sizeof(*res->left));
		if (!res->left)
			goto nomem;
		for (i = 0; i < nlive; i++)
			res->left[i] = verd[nlive - 1 - i];
		res->n_left = nlive;
	}
	shadow_tz_leave(&z);
	free(live);
	free(v);
	free(verd);
	return 0;

nomem:
	shadow_tz_leave(&z);
	free(live);
	free(v);
	free(verd);
	shadow_ret_sim_result_free(res);
	return -ENOMEM;
}
