// SPDX-License-Identifier: GPL-2.0
/*
 * What the commands that talk to the dm_shadow netlink family share:
 * opening it, origin and id arguments, names, sizes, JSON strings.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libsmartcols.h>

#include "shadow-nl.h"
#include "shadowctl.h"
#include "units.h"

int ctl_nl_fail(const char *cmd, const struct shadow_nl_err *err)
{
	ctl_err("%s: %s", cmd, err->msg[0] ? err->msg : strerror(-err->code));
	return EXIT_FAILURE;
}

struct shadow_nl *ctl_nl_open(const char *cmd)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadow_nl_open(&err);

	if (!nl)
		ctl_nl_fail(cmd, &err);
	return nl;
}

int ctl_origin_syntax(const char *cmd, const char *spec)
{
	if (shadow_spec_classify(spec, NULL) != SHADOW_SPEC_INVALID)
		return 0;
	ctl_err("%s: '%s' is not a device-mapper name, a path or MAJ:MIN", cmd,
		spec);
	return EXIT_USAGE;
}

int ctl_origin_arg(const char *cmd, const char *spec, struct shadow_dev *dev)
{
	struct shadow_nl_err err = { 0 };

	if (shadow_resolve_origin(spec, dev, &err))
		return ctl_nl_fail(cmd, &err);
	return 0;
}

struct shadow_nl *ctl_nl_origin(const char *cmd, const char *spec,
				struct shadow_dev *dev, int *ret)
{
	struct shadow_nl *nl;

	*ret = ctl_origin_syntax(cmd, spec);
	if (*ret)
		return NULL;
	*ret = EXIT_FAILURE;
	nl = ctl_nl_open(cmd);
	if (!nl)
		return NULL;
	if (ctl_origin_arg(cmd, spec, dev)) {
		shadow_nl_close(nl);
		return NULL;
	}
	*ret = 0;
	return nl;
}

struct libscols_table *ctl_new_table(const char *name,
				     const struct ctl_col *cols, int ncols,
				     const struct ctl_out *out)
{
	struct libscols_table *tb = scols_new_table();
	int i;

	if (!tb)
		return NULL;
	scols_table_set_name(tb, name);
	scols_table_enable_json(tb, out->json);
	scols_table_enable_noheadings(tb, out->noheadings);
	scols_table_enable_raw(tb, out->raw);
	for (i = 0; i < ncols; i++) {
		struct libscols_column *cl;
		int json = cols[i].json;

		cl = scols_table_new_column(tb, cols[i].name, cols[i].whint,
					    cols[i].flags);
		if (!cl) {
			scols_unref_table(tb);
			return NULL;
		}
		if (json < 0)
			json = out->bytes ? SCOLS_JSON_NUMBER : SCOLS_JSON_STRING;
		scols_column_set_json_type(cl, json);
	}
	return tb;
}

int ctl_snap_id_arg(const char *cmd, const char *s, uint32_t *id)
{
	if (shadow_parse_u32(s, 1, UINT32_MAX, id)) {
		ctl_err("%s: '%s' is not a snapshot id", cmd, s);
		return EXIT_USAGE;
	}
	return 0;
}

const char *ctl_origin_name(struct shadow_dev dev, const char *hint,
			    char *buf, size_t len)
{
	if (hint && *hint)
		return hint;
	if (shadow_dm_name(dev, buf, len))
		shadow_format_dev(dev, buf, len);
	return buf;
}

char *ctl_size(uint64_t bytes, int raw, char *buf, size_t len)
{
	if (raw)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		shadow_format_size(bytes, buf, len);
	return buf;
}

int ctl_subcommand(const char *group, const struct ctl_command *tab, size_t n,
		   int argc, char **argv)
{
	size_t i;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		FILE *f = argc < 2 ? stderr : stdout;

		fprintf(f, "Usage: shadowctl %s <command> [<args>]\n\nCommands:\n",
			group);
		for (i = 0; i < n; i++)
			fprintf(f, "  %-14s %s\n", tab[i].name, tab[i].summary);
		fprintf(f, "\nRun 'shadowctl %s <command> --help' for its options.\n",
			group);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (i = 0; i < n; i++) {
		if (!strcmp(argv[1], tab[i].name)) {
			optind = 1;
			return tab[i].fn(argc - 1, argv + 1);
		}
	}
	ctl_err("%s: unknown command '%s'", group, argv[1]);
	return EXIT_USAGE;
}
