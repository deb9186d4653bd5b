// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl status: every origin on one screen (through netlink, as
 * origin list): store use, snapshots, oldest and newest, thresholds,
 * state and problems; --metrics FILE writes the same as a Prometheus
 * textfile-collector file, atomically.  Numbers are printed as integers
 * with C formatting: no locale changes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libsmartcols.h>

#include "shadow-nl.h"
#include "ctlout.h"

struct origin_status {
	struct shadow_origin o;
	char name[SHADOW_NL_NAMELEN];
	uint64_t chunk;			/* bytes */
	uint64_t used, size;		/* bytes of the data area */
	unsigned int use_pct;
	size_t nsnaps, ninvalid;
	int64_t oldest, newest;		/* Unix seconds, 0: none */
	bool listed;			/* the snapshots could be listed */
	char problems[256];
};

enum { SC_NAME, SC_DEV, SC_USED, SC_SIZE, SC_USE, SC_SNAPS, SC_OLDEST,
       SC_NEWEST, SC_LOW, SC_HIGH, SC_STATE, SC_PROBLEMS, NR_COLS };

static const struct ctl_col cols[NR_COLS] = {
	[SC_NAME] = { "NAME", 0.2, 0, SCOLS_JSON_STRING },
	[SC_DEV] = { "DEV", 7, 0, SCOLS_JSON_STRING },
	[SC_USED] = { "USED", 6, SCOLS_FL_RIGHT, -1 },
	[SC_SIZE] = { "SIZE", 6, SCOLS_FL_RIGHT, -1 },
	[SC_USE] = { "USE%", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[SC_SNAPS] = { "SNAPS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[SC_OLDEST] = { "OLDEST", 25, 0, SCOLS_JSON_STRING },
	[SC_NEWEST] = { "NEWEST", 25, 0, SCOLS_JSON_STRING },
	[SC_LOW] = { "LOW", 3, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[SC_HIGH] = { "HIGH", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[SC_STATE] = { "STATE", 5, 0, SCOLS_JSON_STRING },
	[SC_PROBLEMS] = { "PROBLEMS", 0.3, 0, SCOLS_JSON_STRING },
};

static void add_problem(struct origin_status *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_problem(struct origin_status *s, const char *fmt, ...)
{
	size_t n = strlen(s->problems);
	va_list ap;

	if (n && n + 2 < sizeof(s->problems)) {
		strcat(s->problems, ", ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(s->problems + n, sizeof(s->problems) - n, fmt, ap);
	va_end(ap);
}

static void gather(struct shadow_nl *nl, struct origin_status *s)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_snap *v = NULL;
	const struct shadow_origin *o = &s->o;
	const char *nm;
	size_t n = 0, i;

	nm = ctl_origin_name(o->dev, o->name, s->name, sizeof(s->name));
	if (nm != s->name)
		snprintf(s->name, sizeof(s->name), "%s", nm);
	s->chunk = (uint64_t)o->chunk_sectors * 512;
	s->used = o->store_used * s->chunk;
	s->size = o->store_total * s->chunk;
	s->use_pct = o->store_total ?
		(unsigned int)(o->store_used * 100 / o->store_total) : 0;
	s->nsnaps = o->nr_snaps;
	if (!shadow_nl_snap_list(nl, o->dev, &v, &n, &err)) {
		s->listed = true;
		s->nsnaps = n;
		for (i = 0; i < n; i++) {
			int64_t t = (int64_t)(v[i].ctime_ns / 1000000000ULL);

			if (v[i].invalid)
				s->ninvalid++;
			if (t && (!s->oldest || t < s->oldest))
				s->oldest = t;
			if (t > s->newest)
				s->newest = t;
		}
		free(v);
	} else {
		add_problem(s, "snapshots not listed: %s", err.msg);
	}
	if (o->state == SHADOW_STATE_FAIL)
		add_problem(s, "store failed%s%s", o->fail_reason[0] ? ": " : "",
			    o->fail_reason);
	else if (o->state == SHADOW_STATE_RO)
		add_problem(s, "read-only");
	else if (!shadow_state_name(o->state))
		add_problem(s, "unknown state %u", o->state);
	if (s->ninvalid)
		add_problem(s, "%zu invalid snapshot(s)", s->ninvalid);
	if (o->high_water && o->store_total &&
	    o->store_used * 100 >= (uint64_t)o->high_water * o->store_total)
		add_problem(s, "store above high water (%u%% >= %u%%)",
			    s->use_pct, o->high_water);
}

static int print_table(const struct origin_status *v, size_t n,
		       struct ctl_out *oo, const char *list)
{
	struct libscols_table *tb;
	char cell[NR_COLS][64];
	size_t k;
	int i;

	tb = ctl_new_table("origins", cols, NR_COLS, oo);
	if (!tb) {
		scols_unref_table(tb);
		return -ENOMEM;
	}
	for (k = 0; k < n; k++) {
		const struct origin_status *s = &v[k];
		struct libscols_line *ln = scols_table_new_line(tb, NULL);
		const char *st = shadow_state_name(s->o.state);

		if (!ln)
			goto nomem;
		shadow_format_dev(s->o.dev, cell[SC_DEV], sizeof(cell[0]));
		ctl_size(s->used, oo->bytes, cell[SC_USED], sizeof(cell[0]));
		ctl_size(s->size, oo->bytes, cell[SC_SIZE], sizeof(cell[0]));
		snprintf(cell[SC_USE], sizeof(cell[0]), "%u", s->use_pct);
		snprintf(cell[SC_SNAPS], sizeof(cell[0]), "%zu", s->nsnaps);
		ctl_time(s->oldest, cell[SC_OLDEST], sizeof(cell[0]));
		ctl_time(s->newest, cell[SC_NEWEST], sizeof(cell[0]));
		snprintf(cell[SC_LOW], sizeof(cell[0]), "%u", s->o.low_water);
		snprintf(cell[SC_HIGH], sizeof(cell[0]), "%u", s->o.high_water);
		snprintf(cell[SC_STATE], sizeof(cell[0]), "%s", st ? st : "?");
		for (i = 0; i < NR_COLS; i++) {
			const char *d = cell[i];

			if (i == SC_NAME)
				d = s->name;
			else if (i == SC_PROBLEMS)
				d = s->problems[0] ? s->problems :
					oo->json ? NULL : "-";
			else if ((i == SC_OLDEST && !s->oldest) ||
				 (i == SC_NEWEST && !s->newest))
				d = oo->json ? NULL : "-";
			if (d && scols_line_set_data(ln, (size_t)i, d))
				goto nomem;
		}
	}
	ctl_table_print(tb, list);
	scols_unref_table(tb);
	return 0;
nomem:
	scols_unref_table(tb);
	return -ENOMEM;
}

/* ---------------------------------------------------------------- metrics */

/* A label value: backslash, quote and newline escaped. */
static void label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void header(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void sample(FILE *f, const char *name, const struct origin_status *s,
		   unsigned long long v)
{
	fprintf(f, "%s{volume=", name);
	label(f, s->name);
	fprintf(f, "} %llu\n", v);
}

static void write_metrics(FILE *f, const struct origin_status *v, size_t n,
			  time_t now)
{
	static const uint32_t states[] = { SHADOW_STATE_RW, SHADOW_STATE_RO,
					   SHADOW_STATE_FAIL };
	size_t k, j;

	header(f, "dm_shadow_store_used_bytes",
	       "Bytes of the store's data area in use.");
	for (k = 0; k < n; k++)
		sample(f, "dm_shadow_store_used_bytes", &v[k], v[k].used);
	header(f, "dm_shadow_store_size_bytes",
	       "Bytes of the store's data area.");
	for (k = 0; k < n; k++)
		sample(f, "dm_shadow_store_size_bytes", &v[k], v[k].size);
	header(f, "dm_shadow_snapshots", "Live snapshots of the origin.");
	for (k = 0; k < n; k++)
		sample(f, "dm_shadow_snapshots", &v[k], v[k].nsnaps);
	header(f, "dm_shadow_invalid_snapshots",
	       "Snapshots the kernel invalidated.");
	for (k = 0; k < n; k++)
		sample(f, "dm_shadow_invalid_snapshots", &v[k], v[k].ninvalid);
	header(f, "dm_shadow_oldest_snapshot_timestamp_seconds",
	       "Creation time of the oldest snapshot (absent: none).");
	for (k = 0; k < n; k++)
		if (v[k].oldest)
			sample(f, "dm_shadow_oldest_snapshot_timestamp_seconds",
			       &v[k], (unsigned long long)v[k].oldest);
	header(f, "dm_shadow_newest_snapshot_timestamp_seconds",
	       "Creation time of the newest snapshot (absent: none).");
	for (k = 0; k < n; k++)
		if (v[k].newest)
			sample(f, "dm_shadow_newest_snapshot_timestamp_seconds",
			       &v[k], (unsigned long long)v[k].newest);
	header(f, "dm_shadow_low_water_percent",
	       "Low threshold of store use, percent (0: off).");
	for (k = 0; k < n; k++)
		sample(f, "dm_shadow_low_water_percent", &v[k],
		       v[k].o.low_water);
	header(f, "dm_shadow_high_water_percent",
	       "High threshold of store use, percent (0: off).");
	for (k = 0; k < n; k++)
		sample(f, "dm_shadow_high_water_percent", &v[k],
		       v[k].o.high_water);
	header(f, "dm_shadow_metadata_used_blocks",
	       "Metadata blocks of the store in use.");
	for (k = 0; k < n; k++)
		sample(f, "dm_shadow_metadata_used_blocks", &v[k],
		       v[k].o.meta_used);
	header(f, "dm_shadow_metadata_total_blocks",
	       "Metadata blocks of the store.");
	for (k = 0; k < n; k++)
		sample(f, "dm_shadow_metadata_total_blocks", &v[k],
		       v[k].o.meta_total);
	header(f, "dm_shadow_state",
	       "1 for the origin's state (rw, ro, Fail), 0 for the others.");
	for (k = 0; k < n; k++)
		for (j = 0; j < sizeof(states) / sizeof(states[0]); j++) {
			fputs("dm_shadow_state{volume=", f);
			label(f, v[k].name);
			fprintf(f, ",state=\"%s\"} %d\n",
				shadow_state_name(states[j]),
				v[k].o.state == states[j]);
		}
	header(f, "dm_shadow_status_timestamp_seconds",
	       "When shadowctl status wrote this file.");
	fprintf(f, "dm_shadow_status_timestamp_seconds %lld\n",
		(long long)now);
}

struct metrics_arg {
	const struct origin_status *v;
	size_t n;
};

static int fill_metrics(FILE *f, void *arg)
{
	const struct metrics_arg *m = arg;

	write_metrics(f, m->v, m->n, time(NULL));
	return 0;
}

static int metrics_file(const char *path, const struct origin_status *v,
			size_t n)
{
	struct metrics_arg m = { v, n };

	return ctl_write_file("status", path, 0644, fill_metrics, &m);
}

static int by_name(const void *a, const void *b)
{
	const struct origin_status *x = a, *y = b;

	return strcmp(x->name, y->name);
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "raw", no_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "bytes", no_argument, NULL, 'p' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "status", *list = NULL, *metrics = NULL;
	struct shadow_nl_err err = { 0 };
	struct origin_status *st = NULL;
	struct shadow_origin *v = NULL;
	struct ctl_out oo = { 0 };
	struct shadow_nl *nl;
	int c, r, quiet = 0, ret = 0;
	size_t n = 0, i;

	while ((c = getopt_long(argc, argv, "JnHro:pbm:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			oo.json = 1;
			break;
		case 'n':
		case 'H':
			oo.noheadings = 1;
			break;
		case 'r':
			oo.raw = 1;
			break;
		case 'o':
			list = optarg;
			break;
		case 'p':
		case 'b':
			oo.bytes = 1;
			break;
		case 'm':
			if (!*optarg) {
				ctl_err("%s: empty --metrics", cmd);
				return EXIT_USAGE;
			}
			metrics = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			printf("Usage: shadowctl status [--json] [-H] [-r] [-o COLS] [-p]\n"
			       "                        [--metrics FILE [--quiet]]\n\n"
			       "Every dm-shadow origin on one line: NAME, DEV, USED and SIZE\n"
			       "(store data area), USE%%, SNAPS, OLDEST and NEWEST (creation\n"
			       "times), LOW and HIGH (water marks, percent, 0 when off), STATE\n"
			       "(rw, ro, Fail) and PROBLEMS: store failed, read-only, invalid\n"
			       "snapshots, store above high water.  The kernel is asked\n"
			       "directly; shadowd is not needed.\n\n"
			       "Options:\n"
			       "  -J, --json            JSON output (sizes in bytes, numbers typed)\n"
			       "  -H, -n, --noheadings  no header line\n"
			       "  -r, --raw             raw output\n"
			       "  -o, --output COLS     the columns to print, comma-separated\n"
			       "  -p, -b, --bytes       sizes in bytes, not in human units\n"
			       "  -m, --metrics FILE    also write FILE for Prometheus' textfile\n"
			       "                        collector (replaced atomically)\n"
			       "  -q, --quiet           with --metrics: print nothing\n"
			       "  -h, --help            this help\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		ctl_err("%s: unexpected argument '%s'", cmd, argv[optind]);
		return EXIT_USAGE;
	}
	if (quiet && !metrics) {
		ctl_err("%s: --quiet goes with --metrics", cmd);
		return EXIT_USAGE;
	}
	if (ctl_cols_check(cmd, cols, NR_COLS, list))
		return EXIT_USAGE;
	if (oo.json)
		oo.bytes = 1;	/* typed: sizes are numbers */

	nl = ctl_nl_open(cmd);
	if (!nl)
		return EXIT_FAILURE;
	r = shadow_nl_origin_list(nl, &v, &n, &err);
	if (r) {
		shadow_nl_close(nl);
		return ctl_nl_fail(cmd, &err);
	}
	st = calloc(n ? n : 1, sizeof(*st));
	if (!st) {
		shadow_nl_close(nl);
		free(v);
		ctl_err("%s: out of memory", cmd);
		return EXIT_FAILURE;
	}
	for (i = 0; i < n; i++) {
		st[i].o = v[i];
		gather(nl, &st[i]);
	}
	shadow_nl_close(nl);
	free(v);
	qsort(st, n, sizeof(*st), by_name);

	if (metrics && metrics_file(metrics, st, n))
		ret = EXIT_FAILURE;
	if (!quiet && print_table(st, n, &oo, list)) {
		ctl_err("%s: out of memory", cmd);
		ret = EXIT_FAILURE;
	}
	free(st);
	return ret;
}
