/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Calendar arithmetic in a chosen time zone, for lib/ only (the retention
 * engine and shadowctl simulate).  UTC needs no global state (gmtime_r,
 * timegm).  The system zone is what localtime_r uses.  A named zone is
 * selected by setting TZ and calling tzset() between shadow_tz_enter() and
 * shadow_tz_leave(), under a lock, and the previous TZ is restored after:
 * callers are safe against each other, not against other threads of the
 * process reading the time zone at the same moment (see
 * Documentation/retention.rst, "Time zones and threads").
 */
#ifndef SHADOW_TZ_H
#define SHADOW_TZ_H

#include <stdbool.h>
#include <time.h>

/**
 * enum shadow_tz_kind - how calendar fields are computed.
 * @SHADOW_TZ_LOCAL: the system's zone (localtime_r(), mktime()).
 * @SHADOW_TZ_UTC:   UTC (gmtime_r(), timegm()); no global state.
 * @SHADOW_TZ_NAMED: a named zone, selected through TZ.
 */
enum shadow_tz_kind { SHADOW_TZ_LOCAL, SHADOW_TZ_UTC, SHADOW_TZ_NAMED };

/**
 * struct shadow_tz - a time zone in use, from shadow_tz_enter().
 * @kind:     see &enum shadow_tz_kind.
 * @had_tz:   whether TZ was set before a named zone replaced it.
 * @saved_tz: the value of TZ before, to restore; NULL if none.
 */
struct shadow_tz {
	enum shadow_tz_kind kind;
	bool had_tz;
	char *saved_tz;
};

/**
 * shadow_tz_name_valid() - whether a name is a zone of the database.
 * @name: "" (the system's zone), "UTC", "Etc/UTC" or an IANA name, looked
 *        up under $TZDIR or /usr/share/zoneinfo; names with ".." or a
 *        leading "/", or of %SHADOW_RET_ZONELEN characters or more, are
 *        refused.
 *
 * Return: true if @name can be given to shadow_tz_enter().
 */
bool shadow_tz_name_valid(const char *name);

/**
 * shadow_tz_enter() - select a time zone.
 * @name: as for shadow_tz_name_valid().
 * @z:    the zone in use; give it to shadow_tz_leave().
 *
 * "UTC" and "Etc/UTC" take no lock and touch no global state.  Otherwise
 * the zone lock is held until shadow_tz_leave(); a named zone sets TZ and
 * calls tzset(), the system's zone only calls tzset().  The lock is
 * recursive: a thread holding a zone may enter another, which it leaves
 * first (entering "" inside a named zone keeps the named one).
 *
 * Return: 0, -EINVAL (unknown zone) or -ENOMEM; on error nothing is held.
 */
int shadow_tz_enter(const char *name, struct shadow_tz *z);

/**
 * shadow_tz_leave() - stop using a time zone.
 * @z: from shadow_tz_enter(), which returned 0.
 *
 * Restores TZ as it was (and calls tzset()) after a named zone, and
 * releases the zone lock.
 */
void shadow_tz_leave(struct shadow_tz *z);

/**
 * shadow_tz_tm() - calendar fields of a time in a zone.
 * @z:  a zone in use.
 * @t:  the time.
 * @tm: the result.
 */
void shadow_tz_tm(const struct shadow_tz *z, time_t t, struct tm *tm);

/**
 * shadow_tz_mktime() - the time of calendar fields in a zone.
 * @z:  a zone in use.
 * @tm: the fields, normalised as mktime() does.
 *
 * Return: the time, or (time_t)-1 as mktime() and timegm() return it.
 */
time_t shadow_tz_mktime(const struct shadow_tz *z, struct tm *tm);

/**
 * shadow_days_in_month() - length of a month of the Gregorian calendar.
 * @year: the year (2024, not 124).
 * @mon:  the month, 0 for January to 11.
 *
 * Return: 28 to 31.
 */
int shadow_days_in_month(int year, int mon);

#endif
