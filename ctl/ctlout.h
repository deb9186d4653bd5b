/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadowctl: what the shadowd-backed commands (set, policy, prune,
 * simulate, status) share: -o LIST and -H on libsmartcols tables, and
 * json-c documents on stdout.
 */
#ifndef SHADOWCTL_OUT_H
#define SHADOWCTL_OUT_H

#include "shadowctl.h"

struct json_object;
struct libscols_table;

/*
 * Check -o LIST (comma-separated column names, any case) against the
 * first @n of @cols: 0, or EXIT_USAGE after printing the unknown name.
 * A NULL list is fine.
 */
int ctl_cols_check(const char *cmd, const struct ctl_col *cols, int n,
		   const char *list);

/*
 * Show only the columns of a checked -o LIST, in its order (NULL: all).
 * Call it after the lines are filled: cells are set by position.
 * 0 or -ENOMEM.
 */
int ctl_cols_select(struct libscols_table *tb, const char *list);

/* ctl_cols_select(), then print; 0 or a negative errno. */
int ctl_table_print(struct libscols_table *tb, const char *list);

/* Print @o (consumed) on stdout as one JSON document; 0 or EXIT_FAILURE. */
int ctl_json_print(struct json_object *o);

/* The string member @key of @o; NULL if absent or not a string. */
const char *ctl_json_str(struct json_object *o, const char *key);

/* A Unix time as ISO 8601 in local time ("-" for 0); 32 bytes suffice. */
char *ctl_time(int64_t t, char *buf, size_t len);

/* An FSRVP FILETIME (100 ns since 1601) as Unix seconds. */
int64_t ctl_filetime_unix(uint64_t ft);

#endif
