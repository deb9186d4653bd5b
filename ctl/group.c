// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl group set|list|remove: consistency groups in shadowd
 * (group.set, group.list, group.remove; Documentation/shadowd.rst,
 * "Consistency groups").  A group is named "@NAME" where a command takes
 * a volume or a group (snapshot create, policy, prune).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libsmartcols.h>

#include "ctlout.h"
#include "shadow-nl.h"
#include "shadowctl.h"

/* As shadowd's daemon/group.h. */
#define CTL_GROUP_NAMELEN 64

const char *ctl_group_name(const char *spec)
{
	return spec && spec[0] == '@' ? spec + 1 : NULL;
}

int ctl_group_syntax(const char *cmd, const char *name)
{
	size_t i;

	if (!*name || strlen(name) >= CTL_GROUP_NAMELEN ||
	    !(isalnum((unsigned char)name[0]) || name[0] == '_'))
		goto bad;
	for (i = 0; name[i]; i++)
		if (!isalnum((unsigned char)name[i]) &&
		    !strchr("_.+-", name[i]))
			goto bad;
	return 0;
bad:
	ctl_err("%s: '%s' is not a group name (1 to %d letters, digits and "
		"_.+-, starting with a letter, a digit or _)", cmd, name,
		CTL_GROUP_NAMELEN - 1);
	return EXIT_USAGE;
}

/* --------------------------------------------------------------- set */

static int group_set(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "group set";
	struct json_object *req, *reply = NULL, *a;
	int c, i, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		printf("Usage: shadowctl group set NAME VOLUME...\n\n"
		       "Declare the consistency group NAME in shadowd, or give it new\n"
		       "members: each VOLUME an active origin (a dm name, a path or\n"
		       "MAJ:MIN; kept by its dm name), in no other group; at most %d.\n"
		       "The group is then @NAME for snapshot create (one cut of every\n"
		       "member, recorded), policy set|show and prune (the policy\n"
		       "judges whole cuts).  Cuts already recorded keep their members\n"
		       "on the volumes that stay.  Needs shadowd's admin class.\n",
		       SHADOW_NL_GROUP_MAX);
		return 0;
	}
	if (argc - optind < 2) {
		ctl_err("%s: expected NAME and one or more VOLUME", cmd);
		return EXIT_USAGE;
	}
	if (argc - optind - 1 > SHADOW_NL_GROUP_MAX) {
		ctl_err("%s: at most %d volumes in one group", cmd,
			SHADOW_NL_GROUP_MAX);
		return EXIT_USAGE;
	}
	ret = ctl_group_syntax(cmd, argv[optind]);
	for (i = optind + 1; !ret && i < argc; i++) {
		if (ctl_group_name(argv[i])) {
			ctl_err("%s: '%s': a group is not a volume", cmd,
				argv[i]);
			return EXIT_USAGE;
		}
		ret = ctl_origin_syntax(cmd, argv[i]);
	}
	if (ret)
		return ret;
	req = ctl_sd_request("group.set");
	json_object_object_add(req, "name",
			       json_object_new_string(argv[optind]));
	a = json_object_new_array();
	for (i = optind + 1; i < argc; i++)
		json_object_array_add(a, json_object_new_string(argv[i]));
	json_object_object_add(req, "volumes", a);
	ret = ctl_sd_call(cmd, req, &reply);
	json_object_put(reply);
	return ret;
}

/* ------------------------------------------------------------ remove */

static int group_remove(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "group remove";
	struct json_object *req, *reply = NULL;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		printf("Usage: shadowctl group remove NAME\n\n"
		       "Forget the consistency group NAME in shadowd: its policy and\n"
		       "its recorded cuts go, its volumes and snapshots stay (each\n"
		       "volume's own policy applies to them again).  Needs shadowd's\n"
		       "admin class.\n");
		return 0;
	}
	if (argc - optind != 1) {
		ctl_err("%s: expected one NAME", cmd);
		return EXIT_USAGE;
	}
	ret = ctl_group_syntax(cmd, argv[optind]);
	if (ret)
		return ret;
	req = ctl_sd_request("group.remove");
	json_object_object_add(req, "name",
			       json_object_new_string(argv[optind]));
	ret = ctl_sd_call(cmd, req, &reply);
	json_object_put(reply);
	return ret;
}

/* -------------------------------------------------------------- list */

enum { GC_NAME, GC_VOLUMES, GC_CUTS, GC_POLICY, NR_GCOLS };

static const struct ctl_col group_cols[NR_GCOLS] = {
	[GC_NAME] = { "NAME", 0.1, 0, SCOLS_JSON_STRING },
	[GC_VOLUMES] = { "VOLUMES", 0.3, 0, SCOLS_JSON_STRING },
	[GC_CUTS] = { "CUTS", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[GC_POLICY] = { "POLICY", 0.5, 0, SCOLS_JSON_STRING },
};

static int group_line(struct libscols_table *tb, struct json_object *g)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	struct json_object *a, *v;
	char vols[4096] = "", cuts[24], *pol = NULL, *q;
	size_t i, len = 0;
	int r = -ENOMEM;

	if (!ln)
		return -ENOMEM;
	if (json_object_object_get_ex(g, "volumes", &a) &&
	    json_object_is_type(a, json_type_array))
		for (i = 0; i < json_object_array_length(a); i++) {
			const char *s = json_object_get_string(
				json_object_array_get_idx(a, i));

			len += (size_t)snprintf(vols + len, len < sizeof(vols) ?
						sizeof(vols) - len : 0,
						"%s%s", i ? "," : "", s);
		}
	snprintf(cuts, sizeof(cuts), "%lld",
		 json_object_object_get_ex(g, "cuts", &v) ?
		 (long long)json_object_get_int64(v) : 0LL);
	if (ctl_json_str(g, "policy")) {
		pol = strdup(ctl_json_str(g, "policy"));
		if (!pol)
			return -ENOMEM;
		for (q = pol; *q; q++)
			if (*q == '\n')
				*q = ' ';
		while (q > pol && q[-1] == ' ')
			*--q = '\0';
	}
	if (!scols_line_set_data(ln, GC_NAME, ctl_json_str(g, "name") ?: "") &&
	    !scols_line_set_data(ln, GC_VOLUMES, vols) &&
	    !scols_line_set_data(ln, GC_CUTS, cuts) &&
	    (!pol || !scols_line_set_data(ln, GC_POLICY, pol)))
		r = 0;
	free(pol);
	return r;
}

static int group_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "raw", no_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "group list", *cols = NULL;
	struct json_object *req, *reply = NULL, *a;
	struct libscols_table *tb;
	struct ctl_out out = { 0 };
	size_t i;
	int c, ret;

	while ((c = getopt_long(argc, argv, "JnHro:h", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			out.json = 1;
			continue;
		case 'n':
		case 'H':
			out.noheadings = 1;
			continue;
		case 'r':
			out.raw = 1;
			continue;
		case 'o':
			cols = optarg;
			continue;
		case 'h':
			break;
		default:
			return EXIT_USAGE;
		}
		printf("Usage: shadowctl group list [--json] [-H] [-r] [-o COLS] [NAME]\n\n"
		       "The consistency groups shadowd knows, one line each: NAME,\n"
		       "VOLUMES (comma-separated dm names), CUTS (the cuts recorded\n"
		       "with a live snapshot), POLICY (the group's retention policy).\n"
		       "An unknown NAME exits 5.\n\n"
		       "Options:\n"
		       "  -J, --json            JSON output: {\"groups\": [{\"name\",\n"
		       "                        \"volumes\": [...], \"policy\", \"cuts\"}]}\n"
		       "  -H, -n, --noheadings  no header line\n"
		       "  -r, --raw             raw output\n"
		       "  -o, --output COLS     the columns to print, comma-separated\n"
		       "  -h, --help            this help\n");
		return 0;
	}
	if (argc - optind > 1) {
		ctl_err("%s: expected at most one NAME", cmd);
		return EXIT_USAGE;
	}
	if (ctl_cols_check(cmd, group_cols, NR_GCOLS, cols))
		return EXIT_USAGE;
	if (optind < argc && ctl_group_syntax(cmd, argv[optind]))
		return EXIT_USAGE;
	req = ctl_sd_request("group.list");
	if (optind < argc)
		json_object_object_add(req, "name",
				       json_object_new_string(argv[optind]));
	ret = ctl_sd_call(cmd, req, &reply);
	if (ret)
		goto out;
	if (out.json) {
		struct json_object *o = json_object_new_object();

		if (json_object_object_get_ex(reply, "groups", &a))
			json_object_object_add(o, "groups",
					       json_object_get(a));
		ret = ctl_json_print(o);
		goto out;
	}
	tb = ctl_new_table("groups", group_cols, NR_GCOLS, &out);
	if (!tb) {
		ctl_err("%s: out of memory", cmd);
		ret = EXIT_FAILURE;
		goto out;
	}
	if (json_object_object_get_ex(reply, "groups", &a) &&
	    json_object_is_type(a, json_type_array))
		for (i = 0; i < json_object_array_length(a) && !ret; i++)
			if (group_line(tb, json_object_array_get_idx(a, i)))
				ret = EXIT_FAILURE;
	if (ret)
		ctl_err("%s: out of memory", cmd);
	else
		ctl_table_print(tb, cols);
	scols_unref_table(tb);
out:
	json_object_put(reply);
	return ret;
}

static const struct ctl_command group_cmds[] = {
	{ "set", group_set, "declare a group or give it new members" },
	{ "list", group_list, "list the groups" },
	{ "remove", group_remove, "forget a group (its snapshots stay)" },
};

int cmd_group(int argc, char **argv)
{
	return ctl_subcommand("group", group_cmds,
			      sizeof(group_cmds) / sizeof(group_cmds[0]),
			      argc, argv);
}
