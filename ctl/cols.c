// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl: -o LIST and -H for libsmartcols tables (as lvs -o and zfs
 * list -o), and JSON documents printed with json-c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <libsmartcols.h>

#include "shadow-nl.h"
#include "ctlout.h"

/* The next name of a comma-separated list into @buf; NULL at the end. */
static const char *next_name(const char *p, char *buf, size_t len)
{
	size_t n;

	if (!p || !*p)
		return NULL;
	n = strcspn(p, ",");
	snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p);
	return p[n] ? p + n + 1 : p + n;
}

int ctl_cols_check(const char *cmd, const struct ctl_col *cols, int n,
		   const char *list)
{
	const char *p = list;
	char name[64];
	int i;

	if (list && !*list) {
		ctl_err("%s: -o: empty column list", cmd);
		return EXIT_USAGE;
	}
	while ((p = next_name(p, name, sizeof(name)))) {
		for (i = 0; i < n; i++)
			if (!strcasecmp(name, cols[i].name))
				break;
		if (i == n) {
			ctl_err("%s: -o: unknown column '%s'; columns:", cmd,
				name);
			for (i = 0; i < n; i++)
				fprintf(stderr, "%s%s", i ? "," : "  ",
					cols[i].name);
			fputc('\n', stderr);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static struct libscols_column *find_col(struct libscols_table *tb,
					const char *name)
{
	size_t i, n = scols_table_get_ncols(tb);

	for (i = 0; i < n; i++) {
		struct libscols_column *cl = scols_table_get_column(tb, i);
		const char *h =
			scols_cell_get_data(scols_column_get_header(cl));

		if (h && !strcasecmp(h, name))
			return cl;
	}
	return NULL;
}

int ctl_cols_select(struct libscols_table *tb, const char *list)
{
	struct libscols_column *prev = NULL, *cl;
	const char *p = list;
	size_t i, n;
	char name[64];

	if (!list)
		return 0;
	n = scols_table_get_ncols(tb);
	for (i = 0; i < n; i++) {
		cl = scols_table_get_column(tb, i);
		scols_column_set_flags(cl, scols_column_get_flags(cl) |
				       SCOLS_FL_HIDDEN);
	}
	while ((p = next_name(p, name, sizeof(name)))) {
		cl = find_col(tb, name);
		if (!cl)
			continue;
		scols_column_set_flags(cl, scols_column_get_flags(cl) &
				       ~SCOLS_FL_HIDDEN);
		if (scols_table_move_column(tb, prev, cl))
			return -ENOMEM;
		prev = cl;
	}
	return 0;
}

int ctl_table_print(struct libscols_table *tb, const char *list)
{
	int r = ctl_cols_select(tb, list);

	return r ? r : scols_print_table(tb);
}

const char *ctl_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

int ctl_json_print(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		JSON_C_TO_STRING_NOSLASHESCAPE);
	int r = s ? 0 : EXIT_FAILURE;

	if (s)
		printf("%s\n", s);
	json_object_put(o);
	if (fflush(stdout) || ferror(stdout)) {
		ctl_err("write error on stdout");
		r = EXIT_FAILURE;
	}
	return r;
}

char *ctl_time(int64_t t, char *buf, size_t len)
{
	if (t <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	return shadow_format_ctime((uint64_t)t * 1000000000ULL, buf, len);
}

int64_t ctl_filetime_unix(uint64_t ft)
{
	/* 1601-01-01 to 1970-01-01 in 100 ns */
	if (ft < 116444736000000000ULL)
		return 0;
	return (int64_t)((ft - 116444736000000000ULL) / 10000000ULL);
}
