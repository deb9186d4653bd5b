// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl origin list|show|set-water: the origins the kernel drives,
 * through the dm_shadow netlink family.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libsmartcols.h>

#include "shadow-nl.h"
#include "ctlout.h"
#include "shadowctl.h"

enum {
	COL_NAME,
	COL_DEV,
	COL_STORE,
	COL_CHUNK,
	COL_USED,
	COL_TOTAL,
	COL_META,
	COL_SNAPS,
	COL_EPOCH,
	COL_STATE,
	COL_OVERFLOW,
	COL_LOW,
	COL_HIGH,
	NR_LIST_COLS,
	/* "origin show" only */
	COL_SIZE = NR_LIST_COLS,
	COL_DEVICE,
	NR_COLS
};

#define CELL_LEN (SHADOW_NL_NAMELEN + 16)

static const struct ctl_col cols[NR_COLS] = {
	[COL_NAME] = { "NAME", 0.2, 0, SCOLS_JSON_STRING },
	[COL_DEV] = { "DEV", 7, 0, SCOLS_JSON_STRING },
	[COL_STORE] = { "STORE", 7, 0, SCOLS_JSON_STRING },
	[COL_CHUNK] = { "CHUNK", 5, SCOLS_FL_RIGHT, -1 },
	[COL_USED] = { "USED", 6, SCOLS_FL_RIGHT, -1 },
	[COL_TOTAL] = { "TOTAL", 6, SCOLS_FL_RIGHT, -1 },
	[COL_META] = { "META", 9, SCOLS_FL_RIGHT, SCOLS_JSON_STRING },
	[COL_SNAPS] = { "SNAPS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[COL_EPOCH] = { "EPOCH", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[COL_STATE] = { "STATE", 5, 0, SCOLS_JSON_STRING },
	[COL_OVERFLOW] = { "OVERFLOW", 11, 0, SCOLS_JSON_STRING },
	[COL_LOW] = { "LOW", 3, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[COL_HIGH] = { "HIGH", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[COL_SIZE] = { "SIZE", 6, SCOLS_FL_RIGHT, -1 },
	[COL_DEVICE] = { "DEVICE", 7, 0, SCOLS_JSON_STRING },
};


static void origin_cells(const struct shadow_origin *o, int bytes,
			 char cell[NR_COLS][CELL_LEN])
{
	uint64_t chunk = (uint64_t)o->chunk_sectors * 512;
	const char *s;

	s = ctl_origin_name(o->dev, o->name, cell[COL_NAME], CELL_LEN);
	if (s != cell[COL_NAME])
		snprintf(cell[COL_NAME], CELL_LEN, "%s", s);
	shadow_format_dev(o->dev, cell[COL_DEV], CELL_LEN);
	shadow_format_dev(o->store_dev, cell[COL_STORE], CELL_LEN);
	ctl_size(chunk, bytes, cell[COL_CHUNK], CELL_LEN);
	ctl_size(o->store_used * chunk, bytes, cell[COL_USED], CELL_LEN);
	ctl_size(o->store_total * chunk, bytes, cell[COL_TOTAL], CELL_LEN);
	snprintf(cell[COL_META], CELL_LEN, "%llu/%llu",
		 (unsigned long long)o->meta_used,
		 (unsigned long long)o->meta_total);
	snprintf(cell[COL_SNAPS], CELL_LEN, "%u", o->nr_snaps);
	snprintf(cell[COL_EPOCH], CELL_LEN, "%u", o->epoch);
	s = shadow_state_name(o->state);
	if (!s)
		snprintf(cell[COL_STATE], CELL_LEN, "state-%u", o->state);
	else if (o->state == SHADOW_STATE_FAIL && o->fail_reason[0])
		snprintf(cell[COL_STATE], CELL_LEN, "%s:%s", s, o->fail_reason);
	else
		snprintf(cell[COL_STATE], CELL_LEN, "%s", s);
	s = shadow_overflow_name(o->overflow);
	if (s)
		snprintf(cell[COL_OVERFLOW], CELL_LEN, "%s", s);
	else
		snprintf(cell[COL_OVERFLOW], CELL_LEN, "policy-%u", o->overflow);
	snprintf(cell[COL_LOW], CELL_LEN, "%u", o->low_water);
	snprintf(cell[COL_HIGH], CELL_LEN, "%u", o->high_water);
	ctl_size(o->sectors * 512, bytes, cell[COL_SIZE], CELL_LEN);
	shadow_format_dev(o->data_dev, cell[COL_DEVICE], CELL_LEN);
}

static int print_table(const struct shadow_origin *v, size_t n, int ncols,
		       const struct ctl_out *oo, const char *list)
{
	char cell[NR_COLS][CELL_LEN];
	struct libscols_table *tb;
	int i, r = 0;
	size_t k;

	tb = ctl_new_table("origins", cols, ncols, oo);
	if (!tb)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		struct libscols_line *ln = scols_table_new_line(tb, NULL);

		if (!ln) {
			r = -ENOMEM;
			goto out;
		}
		origin_cells(&v[k], oo->bytes, cell);
		for (i = 0; i < ncols; i++)
			if (scols_line_set_data(ln, (size_t)i, cell[i])) {
				r = -ENOMEM;
				goto out;
			}
	}
	r = ctl_table_print(tb, list);
out:
	scols_unref_table(tb);
	return r;
}

static int by_name(const void *a, const void *b)
{
	const struct shadow_origin *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->dev.major != y->dev.major)
		return x->dev.major < y->dev.major ? -1 : 1;
	return x->dev.minor < y->dev.minor ? -1 : x->dev.minor > y->dev.minor;
}

static int origin_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "raw", no_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "parsable", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct shadow_nl_err err = { 0 };
	struct ctl_out oo = { 0 };
	struct shadow_origin *v = NULL;
	const char *list = NULL;
	struct shadow_nl *nl;
	size_t n = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "JnHro:bph", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			oo.json = 1;
			break;
		case 'n':
		case 'H':
			oo.noheadings = 1;
			break;
		case 'o':
			list = optarg;
			break;
		case 'r':
			oo.raw = 1;
			break;
		case 'p':
		case 'b':
			oo.bytes = 1;
			break;
		case 'h':
			printf("Usage: shadowctl origin list [--json] [-H] [--raw] [-o LIST] [--bytes]\n\n"
			       "List the dm-shadow origins, one per line: NAME, DEV (maj:min\n"
			       "of the origin device), STORE (maj:min), CHUNK, USED and TOTAL\n"
			       "(store data area), META (metadata blocks used/total), SNAPS,\n"
			       "EPOCH, STATE (rw, ro, Fail[:reason]), OVERFLOW, LOW and HIGH\n"
			       "(water marks, percent, 0 when off).\n\n"
			       "Options:\n"
			       "  -J, --json            JSON output\n"
			       "  -H, -n, --noheadings  no header line\n"
			       "  -r, --raw             raw output\n"
			       "  -o, --output LIST     these columns, in this order (comma-separated)\n"
			       "  -b, -p, --bytes       sizes in bytes, not in human units\n"
			       "  -h, --help            this help\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		ctl_err("origin list: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (ctl_cols_check("origin list", cols, NR_LIST_COLS, list))
		return EXIT_USAGE;

	nl = ctl_nl_open("origin list");
	if (!nl)
		return EXIT_FAILURE;
	r = shadow_nl_origin_list(nl, &v, &n, &err);
	shadow_nl_close(nl);
	if (r)
		return ctl_nl_fail("origin list", &err);
	qsort(v, n, sizeof(*v), by_name);
	r = print_table(v, n, NR_LIST_COLS, &oo, list);
	free(v);
	if (r) {
		ctl_err("origin list: cannot print: %s", strerror(-r));
		return EXIT_FAILURE;
	}
	return 0;
}

static int origin_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "parsable", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char cell[NR_COLS][CELL_LEN];
	struct shadow_nl_err err = { 0 };
	struct ctl_out oo = { 0 };
	struct shadow_origin o;
	struct shadow_dev dev;
	struct shadow_nl *nl;
	int c, i, r;

	while ((c = getopt_long(argc, argv, "Jbph", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			oo.json = 1;
			break;
		case 'p':
		case 'b':
			oo.bytes = 1;
			break;
		case 'h':
			printf("Usage: shadowctl origin show [--json] [--bytes] ORIGIN\n\n"
			       "Show one origin as \"key: value\" lines: the columns of\n"
			       "'origin list', the origin's size and the device under it.\n"
			       "ORIGIN is a device-mapper name, a device path or MAJ:MIN.\n\n"
			       "Options:\n"
			       "  -J, --json   JSON output, as 'origin list --json'\n"
			       "  -b, -p, --bytes  sizes in bytes, not in human units\n"
			       "  -h, --help   this help\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ctl_err("origin show: expected one ORIGIN");
		return EXIT_USAGE;
	}
	nl = ctl_nl_origin("origin show", argv[optind], &dev, &r);
	if (!nl)
		return r;
	r = shadow_nl_origin_get(nl, dev, &o, &err);
	shadow_nl_close(nl);
	if (r)
		return ctl_nl_fail("origin show", &err);

	if (oo.json) {
		if (print_table(&o, 1, NR_COLS, &oo, NULL)) {
			ctl_err("origin show: cannot print");
			return EXIT_FAILURE;
		}
		return 0;
	}
	origin_cells(&o, oo.bytes, cell);
	for (i = 0; i < NR_COLS; i++) {
		const char *p;

		for (p = cols[i].name; *p; p++)
			putchar(*p - 'A' + 'a');
		printf(": %s\n", cell[i]);
	}
	return 0;
}

/* "80" or "80%", 0 to 100. */
static int parse_pct(const char *s, int *v)
{
	char buf[8];
	size_t n = strlen(s);
	uint32_t x;

	if (n && s[n - 1] == '%')
		n--;
	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (shadow_parse_u32(buf, 0, 100, &x))
		return -EINVAL;
	*v = (int)x;
	return 0;
}

static int origin_set_water(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "low", required_argument, NULL, 'l' },
		{ "high", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct shadow_nl_err err = { 0 };
	int c, r, low = -1, high = -1;
	struct shadow_dev dev;
	struct shadow_nl *nl;

	while ((c = getopt_long(argc, argv, "l:H:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
		case 'H':
			if (parse_pct(optarg, c == 'l' ? &low : &high)) {
				ctl_err("origin set-water: '%s' is not a percentage (0 to 100)",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("Usage: shadowctl origin set-water [--low PCT] [--high PCT] ORIGIN\n\n"
			       "Set the store usage thresholds of an origin, in percent of\n"
			       "the data area; 0 turns one off, an option left out leaves\n"
			       "that threshold as it is.  The table line's values apply\n"
			       "again when the table is reloaded.\n\n"
			       "Options:\n"
			       "  -l, --low PCT    low water mark\n"
			       "  -H, --high PCT   high water mark\n"
			       "  -h, --help       this help\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ctl_err("origin set-water: expected one ORIGIN");
		return EXIT_USAGE;
	}
	if (low < 0 && high < 0) {
		ctl_err("origin set-water: nothing to set (--low, --high)");
		return EXIT_USAGE;
	}
	nl = ctl_nl_origin("origin set-water", argv[optind], &dev, &r);
	if (!nl)
		return r;
	r = shadow_nl_set_water(nl, dev, low, high, &err);
	shadow_nl_close(nl);
	if (r)
		return ctl_nl_fail("origin set-water", &err);
	return 0;
}

static const struct ctl_command origin_cmds[] = {
	{ "list", origin_list, "list the origins" },
	{ "show", origin_show, "show one origin" },
	{ "set-water", origin_set_water, "set the usage thresholds" },
};

int cmd_origin(int argc, char **argv)
{
	return ctl_subcommand("origin", origin_cmds,
			      sizeof(origin_cmds) / sizeof(origin_cmds[0]),
			      argc, argv);
}
