// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl samba check|create|delete|list: Samba's vfs_shell_snap
 * commands and the previous-versions mounts, through shadowd
 * (Documentation/shadowd.rst, "Previous versions and Samba").
 *
 * In smb.conf (with shadow:mountpoint and an absolute shadow:snapdir):
 *
 *   shell_snap:check path command = /usr/sbin/shadowctl samba check
 *   shell_snap:create command = /usr/sbin/shadowctl samba create
 *   shell_snap:delete command = /usr/sbin/shadowctl samba delete
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libsmartcols.h>

#include "shadow-nl.h"
#include "ctlout.h"

static long long reply_int(struct json_object *r, const char *key)
{
	struct json_object *v;

	if (r && json_object_object_get_ex(r, key, &v) &&
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return -1;
}

/* An absolute path argument; 0, or EXIT_USAGE after printing why. */
static int path_arg(const char *cmd, const char *what, const char *p)
{
	if (!p[0] || p[0] != '/') {
		ctl_err("%s: %s '%s' is not an absolute path", cmd, what, p);
		return EXIT_USAGE;
	}
	return 0;
}

/* Options of check, create, delete: --json, --verbose, --help. */
struct samba_opts {
	int json;
	int verbose;
	uint32_t timeout;
};

static int samba_getopt(int argc, char **argv, const char *cmd,
			void (*help)(void), bool timeout,
			struct samba_opts *o)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "Jvt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			o->json = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 't':
			if (!timeout ||
			    shadow_parse_u32(optarg, 1, SHADOW_NL_TIMEOUT_MAX_MS,
					     &o->timeout)) {
				ctl_err("%s: %s", cmd, timeout ?
					"bad --timeout (1 to 600000 ms)" :
					"no --timeout here");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			help();
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int print_json(struct json_object *r)
{
	printf("%s\n", json_object_to_json_string_ext(r,
		JSON_C_TO_STRING_PLAIN));
	return 0;
}

/* -------------------------------------------------------------- check */

static void check_help(void)
{
	printf("Usage: shadowctl samba check [--json] [--verbose] PATH\n\n"
	       "Exit 0 when the directory PATH (a share's path) is on a mounted\n"
	       "filesystem of a dm-shadow origin, so that \"samba create\" can\n"
	       "snapshot it; 1 when it is not.  Samba's vfs_shell_snap runs it\n"
	       "as its check path command.\n\n"
	       "Options:\n"
	       "  -J, --json     print shadowd's reply\n"
	       "  -v, --verbose  print the volume on stderr\n"
	       "  -h, --help     this help\n");
}

static int samba_check(int argc, char **argv)
{
	const char *cmd = "samba check";
	struct json_object *req, *r;
	struct samba_opts o;
	int ret;

	ret = samba_getopt(argc, argv, cmd, check_help, false, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (argc - optind != 1) {
		ctl_err("%s: expected one PATH", cmd);
		return EXIT_USAGE;
	}
	ret = path_arg(cmd, "PATH", argv[optind]);
	if (ret)
		return ret;
	req = ctl_sd_request("samba.check");
	json_object_object_add(req, "path",
			       json_object_new_string(argv[optind]));
	ret = ctl_sd_call(cmd, req, &r);
	if (!ret && o.json)
		print_json(r);
	if (!ret && o.verbose)
		fprintf(stderr, "%s: volume %s (%s)\n", argv[optind],
			ctl_json_str(r, "volume") ?: "?",
			ctl_json_str(r, "device") ?: "?");
	json_object_put(r);
	return ret;
}

/* ------------------------------------------------------------- create */

static void create_help(void)
{
	printf("Usage: shadowctl samba create [--timeout MS] [--json] [--verbose] PATH\n\n"
	       "Snapshot the volume of the share directory PATH with its filesystem\n"
	       "frozen (label \"samba\"), mount it read-only as a previous version,\n"
	       "and print the path of the share in the snapshot:\n"
	       "SNAPDIR/@GMT-YYYY.MM.DD-HH.MM.SS/<PATH from the filesystem's root>.\n"
	       "Samba's vfs_shell_snap runs it as its create command.\n\n"
	       "Options:\n"
	       "  -t, --timeout MS  bound of the freeze and cut (default %d)\n"
	       "  -J, --json        print shadowd's reply instead\n"
	       "  -v, --verbose     volume, snapshot id and time taken on stderr\n"
	       "  -h, --help        this help\n",
	       SHADOW_NL_TIMEOUT_DEFAULT_MS);
}

static int samba_create(int argc, char **argv)
{
	const char *cmd = "samba create", *path;
	struct json_object *req, *r;
	struct samba_opts o;
	int ret;

	ret = samba_getopt(argc, argv, cmd, create_help, true, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (argc - optind != 1) {
		ctl_err("%s: expected one PATH", cmd);
		return EXIT_USAGE;
	}
	ret = path_arg(cmd, "PATH", argv[optind]);
	if (ret)
		return ret;
	req = ctl_sd_request("samba.create");
	json_object_object_add(req, "path",
			       json_object_new_string(argv[optind]));
	if (o.timeout)
		json_object_object_add(req, "timeout_ms",
				       json_object_new_int64(o.timeout));
	ret = ctl_sd_call(cmd, req, &r);
	if (ret) {
		json_object_put(r);
		return ret;
	}
	path = ctl_json_str(r, "path");
	if (!path) {
		ctl_err("%s: shadowd's reply has no path", cmd);
		json_object_put(r);
		return EXIT_FAILURE;
	}
	if (o.json)
		print_json(r);
	else
		printf("%s\n", path);
	if (o.verbose)
		fprintf(stderr, "%s snapshot %lld %s in %lld ms\n",
			ctl_json_str(r, "volume") ?: "?", reply_int(r, "id"),
			ctl_json_str(r, "gmt") ?: "?", reply_int(r, "ms"));
	json_object_put(r);
	if (fflush(stdout)) {
		ctl_err("%s: write error", cmd);
		return EXIT_FAILURE;
	}
	return 0;
}

/* ------------------------------------------------------------- delete */

static void delete_help(void)
{
	printf("Usage: shadowctl samba delete [--json] BASE SNAPSHOT\n\n"
	       "Delete the snapshot whose share path \"samba create\" printed\n"
	       "(SNAPSHOT), taken of the share directory BASE: its mount, its\n"
	       "device and the snapshot itself.  Samba's vfs_shell_snap runs it\n"
	       "as its delete command.  A snapshot that samba create did not make\n"
	       "needs the admin class.\n\n"
	       "Options:\n"
	       "  -J, --json     print shadowd's reply\n"
	       "  -h, --help     this help\n");
}

static int samba_delete(int argc, char **argv)
{
	const char *cmd = "samba delete";
	struct json_object *req, *r;
	struct samba_opts o;
	int ret;

	ret = samba_getopt(argc, argv, cmd, delete_help, false, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (argc - optind != 2) {
		ctl_err("%s: expected BASE and SNAPSHOT", cmd);
		return EXIT_USAGE;
	}
	ret = path_arg(cmd, "BASE", argv[optind]);
	if (!ret)
		ret = path_arg(cmd, "SNAPSHOT", argv[optind + 1]);
	if (ret)
		return ret;
	req = ctl_sd_request("samba.delete");
	json_object_object_add(req, "base",
			       json_object_new_string(argv[optind]));
	json_object_object_add(req, "snapshot",
			       json_object_new_string(argv[optind + 1]));
	ret = ctl_sd_call(cmd, req, &r);
	if (!ret && o.json)
		print_json(r);
	if (!ret && o.verbose)
		fprintf(stderr, "%s snapshot %lld deleted\n",
			ctl_json_str(r, "volume") ?: "?", reply_int(r, "id"));
	json_object_put(r);
	return ret;
}

/* --------------------------------------------------------------- list */

enum { PC_VOLUME, PC_ID, PC_GMT, PC_ORIGIN, PC_MOUNT, PC_DEVICE, NR_PCOLS };

static const struct ctl_col pv_cols[NR_PCOLS] = {
	[PC_VOLUME] = { "VOLUME", 0.15, 0, SCOLS_JSON_STRING },
	[PC_ID] = { "ID", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[PC_GMT] = { "GMT", 24, 0, SCOLS_JSON_STRING },
	[PC_ORIGIN] = { "ORIGIN", 6, 0, SCOLS_JSON_STRING },
	[PC_MOUNT] = { "MOUNTPOINT", 0.4, 0, SCOLS_JSON_STRING },
	[PC_DEVICE] = { "DEVICE", 0.2, 0, SCOLS_JSON_STRING },
};

static void list_help(void)
{
	printf("Usage: shadowctl samba list [--json] [--noheadings] [--raw] [VOLUME]\n\n"
	       "List the previous-versions mounts shadowd made: VOLUME, snapshot\n"
	       "ID, GMT (the directory's name), ORIGIN (\"samba\": made by samba\n"
	       "create; \"policy\": shown because of previous_versions),\n"
	       "MOUNTPOINT and DEVICE (the dm device).  VOLUME limits it to one\n"
	       "origin.\n\n"
	       "Options:\n"
	       "  -J, --json        JSON output\n"
	       "  -n, --noheadings  no header line\n"
	       "  -r, --raw         raw output\n"
	       "  -h, --help        this help\n");
}

static int samba_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const keys[NR_PCOLS] = {
		"volume", "id", "gmt", "origin", "mount_point", "dm_name",
	};
	const char *cmd = "samba list";
	struct json_object *req, *r, *a;
	struct libscols_table *tb;
	struct ctl_out out = { 0 };
	size_t i, n;
	int c, ret, k;

	while ((c = getopt_long(argc, argv, "Jnrh", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			out.json = 1;
			break;
		case 'n':
			out.noheadings = 1;
			break;
		case 'r':
			out.raw = 1;
			break;
		case 'h':
			list_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		ctl_err("%s: expected at most one VOLUME", cmd);
		return EXIT_USAGE;
	}
	if (argc - optind == 1 && ctl_origin_syntax(cmd, argv[optind]))
		return EXIT_USAGE;
	req = ctl_sd_request("pv.list");
	if (argc - optind == 1)
		json_object_object_add(req, "volume",
				       json_object_new_string(argv[optind]));
	ret = ctl_sd_call(cmd, req, &r);
	if (ret) {
		json_object_put(r);
		return ret;
	}
	if (!json_object_object_get_ex(r, "mounts", &a) ||
	    !json_object_is_type(a, json_type_array)) {
		ctl_err("%s: shadowd's reply has no mounts", cmd);
		json_object_put(r);
		return EXIT_FAILURE;
	}
	tb = ctl_new_table("mounts", pv_cols, NR_PCOLS, &out);
	if (!tb) {
		ctl_err("%s: out of memory", cmd);
		json_object_put(r);
		return EXIT_FAILURE;
	}
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(a, i), *v;
		struct libscols_line *ln = scols_table_new_line(tb, NULL);

		for (k = 0; ln && k < NR_PCOLS; k++) {
			const char *s;

			if (!json_object_object_get_ex(x, keys[k], &v))
				continue;
			s = json_object_get_string(v);
			if (s && *s)
				scols_line_set_data(ln, (size_t)k, s);
		}
	}
	scols_print_table(tb);
	scols_unref_table(tb);
	json_object_put(r);
	return 0;
}

static const struct ctl_command samba_cmds[] = {
	{ "check", samba_check, "can a share path be snapshotted (exit 0)" },
	{ "create", samba_create, "snapshot a share, print its snapshot path" },
	{ "delete", samba_delete, "delete a snapshot made by create" },
	{ "list", samba_list, "list the previous-versions mounts" },
};

int cmd_samba(int argc, char **argv)
{
	return ctl_subcommand("samba", samba_cmds,
			      sizeof(samba_cmds) / sizeof(samba_cmds[0]),
			      argc, argv);
}
