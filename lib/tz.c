// SPDX-License-Identifier: GPL-2.0
/*
 * Calendar arithmetic in a chosen time zone; see tz.h.
 */
#include "tz.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "retention.h"

/*
 * Held from shadow_tz_enter() to shadow_tz_leave() for the system's zone
 * and named zones.  Recursive, so that a caller holding a zone for a whole
 * run (shadowctl simulate) may call the retention engine, which enters the
 * zone again for each evaluation.
 */
static pthread_mutex_t zone_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static bool zone_is_utc(const char *name)
{
	return !strcmp(name, "UTC") || !strcmp(name, "Etc/UTC");
}

bool shadow_tz_name_valid(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[PATH_MAX];
	struct stat st;
	const char *c;

	if (!*name || zone_is_utc(name))
		return true;
	if (strlen(name) >= SHADOW_RET_ZONELEN || name[0] == '/' ||
	    strstr(name, ".."))
		return false;
	for (c = name; *c; c++) {
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || strchr("/_+-", *c)))
			return false;
	}
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return false;
	return !stat(path, &st) && S_ISREG(st.st_mode);
}

int shadow_tz_enter(const char *name, struct shadow_tz *z)
{
	char tz[SHADOW_RET_ZONELEN + 1];
	const char *old;

	memset(z, 0, sizeof(*z));
	if (zone_is_utc(name)) {
		z->kind = SHADOW_TZ_UTC;
		return 0;
	}
	if (*name && !shadow_tz_name_valid(name))
		return -EINVAL;

	pthread_mutex_lock(&zone_lock);
	if (!*name) {
		z->kind = SHADOW_TZ_LOCAL;
		tzset();
		return 0;
	}
	z->kind = SHADOW_TZ_NAMED;
	old = getenv("TZ");
	if (old) {
		z->saved_tz = strdup(old);
		if (!z->saved_tz) {
			pthread_mutex_unlock(&zone_lock);
			return -ENOMEM;
		}
		z->had_tz = true;
	}
	snprintf(tz, sizeof(tz), ":%s", name);
	if (setenv("TZ", tz, 1)) {
		free(z->saved_tz);
		pthread_mutex_unlock(&zone_lock);
		return -ENOMEM;
	}
	tzset();
	return 0;
}

void shadow_tz_leave(struct shadow_tz *z)
{
	if (z->kind == SHADOW_TZ_UTC)
		return;
	if (z->kind == SHADOW_TZ_NAMED) {
		if (z->had_tz)
			setenv("TZ", z->saved_tz, 1);
		else
			unsetenv("TZ");
		tzset();
		free(z->saved_tz);
		z->saved_tz = NULL;
	}
	pthread_mutex_unlock(&zone_lock);
}

void shadow_tz_tm(const struct shadow_tz *z, time_t t, struct tm *tm)
{
	if (z->kind == SHADOW_TZ_UTC)
		gmtime_r(&t, tm);
	else
		localtime_r(&t, tm);
}

time_t shadow_tz_mktime(const struct shadow_tz *z, struct tm *tm)
{
	return z->kind == SHADOW_TZ_UTC ? timegm(tm) : mktime(tm);
}

int shadow_days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 1 && leap ? 29 : days[mon];
}
