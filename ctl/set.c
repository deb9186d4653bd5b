// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl set: the FSRVP operations one at a time, over shadowd's
 * fsrvp.* requests (Documentation/shadowd.rst, "Protocol"), for scripts
 * and tests.  A set is what vssadmin calls a shadow copy set: start, add
 * shares, prepare, commit, expose, recovery-complete; abort or
 * delete-mapping end it.
 *
 * SetContext is kept by shadowd per client address, which defaults to
 * "uid:N": one-shot invocations by one user share it.  --client ADDR
 * speaks for another address.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libsmartcols.h>
#include <uuid/uuid.h>

#include "fsrvp.h"
#include "shadow-nl.h"
#include "ctlout.h"

enum set_arg { A_NONE, A_CONTEXT, A_SET, A_SET_SHARE, A_SET_COPY_SHARE };

struct set_cmd {
	const char *name;
	const char *op;		/* after "fsrvp." */
	enum set_arg args;
	bool timeout;
	const char *help;
};

static const struct set_cmd set_cmds[] = {
	{ "context", "set_context", A_CONTEXT, false,
	  "SetContext: the context of the next set this client starts:\n"
	  "backup, file_share_backup, nas_rollback, app_rollback, or a\n"
	  "number with attribute bits (0x...)." },
	{ "start", "start", A_NONE, false,
	  "StartShadowCopySet: begin a set; prints its id." },
	{ "add", "add", A_SET_SHARE, false,
	  "AddToShadowCopySet: add SHARE (\\\\host\\share or a path) to the\n"
	  "set; prints the shadow copy id." },
	{ "prepare", "prepare", A_SET, true,
	  "PrepareShadowCopySet: check that the set can be committed." },
	{ "commit", "commit", A_SET, true,
	  "CommitShadowCopySet: cut the snapshots of every share of the set\n"
	  "at one instant (filesystems frozen around the cut)." },
	{ "expose", "expose", A_SET, true,
	  "ExposeShadowCopySet: make the snapshots visible as shares\n"
	  "(devices and mounts under shadowd's mount_dir)." },
	{ "recovery-complete", "recovery_complete", A_SET, false,
	  "RecoveryCompleteShadowCopySet: the requester is done; writable\n"
	  "copies become read-only." },
	{ "abort", "abort", A_SET, false,
	  "AbortShadowCopySet: drop a set that is not yet exposed." },
	{ "delete-mapping", "delete_share_mapping", A_SET_COPY_SHARE, false,
	  "DeleteShareMapping: remove one exposed copy: its mount, device\n"
	  "and snapshot." },
	{ "mapping", "get_share_mapping", A_SET_COPY_SHARE, false,
	  "GetShareMapping: print the exposed name, the mount point and the\n"
	  "creation time of a copy." },
};

#define N_SET_CMDS (sizeof(set_cmds) / sizeof(set_cmds[0]))

/* A GUID, with or without braces; 0, or EXIT_USAGE after printing why. */
static int guid_arg(const char *cmd, const char *what, const char *s)
{
	char buf[UUID_STR_LEN + 2];
	size_t n = strlen(s);
	uuid_t u;

	if (n == 38 && s[0] == '{' && s[37] == '}') {
		memcpy(buf, s + 1, 36);
		buf[36] = '\0';
	} else if (n == 36) {
		memcpy(buf, s, 37);
	} else {
		buf[0] = '\0';
	}
	if (!buf[0] || uuid_parse(buf, u)) {
		ctl_err("%s: %s '%s' is not a GUID", cmd, what, s);
		return EXIT_USAGE;
	}
	return 0;
}

static void set_help(const struct set_cmd *sc)
{
	static const char *const synopsis[] = {
		[A_NONE] = "",
		[A_CONTEXT] = " CONTEXT",
		[A_SET] = " SET",
		[A_SET_SHARE] = " SET SHARE",
		[A_SET_COPY_SHARE] = " SET COPY SHARE",
	};

	printf("Usage: shadowctl set %s [--client ADDR]%s [--json]%s\n\n%s\n\n"
	       "Options:\n"
	       "  -c, --client ADDR  the FSRVP client address (default: uid:N,\n"
	       "                     shared by every invocation of one user)\n",
	       sc->name, sc->timeout ? " [--timeout MS]" : "",
	       synopsis[sc->args], sc->help);
	if (sc->timeout)
		printf("  -t, --timeout MS   time bound of the operation (0: shadowd's)\n");
	printf("  -J, --json         print the reply's fields as JSON\n"
	       "  -h, --help         this help\n\n"
	       "Exit status: 0 ok, 1 FSRVP error (its name and HRESULT on stderr),\n"
	       "2 usage, 3 shadowd unreachable, 4 not authorised, 5 no such set\n"
	       "or copy.\n");
}

/* The reply's fields a script wants, typed. */
static int print_json(struct json_object *reply, const char *const *keys)
{
	struct json_object *o = json_object_new_object(), *v;

	for (; *keys; keys++)
		if (json_object_object_get_ex(reply, *keys, &v) && v)
			json_object_object_add(o, *keys, json_object_get(v));
	return ctl_json_print(o);
}

/* The mount point of copy @copy in an fsrvp.list reply, or NULL. */
static const char *mount_point(struct json_object *list, const char *set,
			       const char *copy)
{
	struct json_object *sets, *copies;
	size_t i, j;

	if (!json_object_object_get_ex(list, "sets", &sets))
		return NULL;
	for (i = 0; i < json_object_array_length(sets); i++) {
		struct json_object *s = json_object_array_get_idx(sets, i);

		if (!json_object_object_get_ex(s, "copies", &copies))
			continue;
		for (j = 0; j < json_object_array_length(copies); j++) {
			struct json_object *c =
				json_object_array_get_idx(copies, j);
			const char *id = ctl_json_str(c, "copy_id");

			if (id && ctl_json_str(s, "set_id") &&
			    strcasestr(set, ctl_json_str(s, "set_id")) &&
			    strcasestr(copy, id))
				return ctl_json_str(c, "mount_point");
		}
	}
	return NULL;
}

static int set_mapping_out(const char *cmd, const char *client,
			   struct json_object *reply, const char *set,
			   const char *copy, int json)
{
	struct json_object *req, *list = NULL, *v;
	const char *mnt = NULL, *name = ctl_json_str(reply, "exposed_name");
	int64_t created = 0;
	char tbuf[40];
	int ret = 0;

	if (json_object_object_get_ex(reply, "creation_ts", &v))
		created = ctl_filetime_unix((uint64_t)json_object_get_int64(v));
	/* The mount point is in the set's listing. */
	req = ctl_sd_request("fsrvp.list");
	if (client)
		json_object_object_add(req, "client",
				       json_object_new_string(client));
	if (!ctl_sd_call(cmd, req, &list))
		mnt = mount_point(list, set, copy);
	if (json) {
		static const char *const keys[] = { "set_id", "copy_id",
						    "share", NULL };
		struct json_object *o = json_object_new_object();
		const char *const *k;

		for (k = keys; *k; k++)
			json_object_object_add(o, *k, json_object_get(
				json_object_object_get(reply, *k)));
		json_object_object_add(o, "exposed_name",
			name ? json_object_new_string(name) : NULL);
		json_object_object_add(o, "mount_point",
			mnt ? json_object_new_string(mnt) : NULL);
		json_object_object_add(o, "creation_ts",
			json_object_get(json_object_object_get(reply,
							       "creation_ts")));
		json_object_object_add(o, "created",
				       json_object_new_int64(created));
		ret = ctl_json_print(o);
	} else {
		printf("exposed_name: %s\nmount_point: %s\ncreated: %s\n",
		       name ? name : "-", mnt ? mnt : "-",
		       ctl_time(created, tbuf, sizeof(tbuf)));
	}
	json_object_put(list);
	return ret;
}

static int set_run(const struct set_cmd *sc, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const int nargs[] = { 0, 1, 1, 2, 3 };
	static const char *const start_keys[] = { "set_id", NULL };
	static const char *const add_keys[] = { "copy_id", NULL };
	static const char *const hr_keys[] = { "hresult", NULL };
	char cmd[48];
	const char *client = NULL;
	struct json_object *req, *reply = NULL;
	uint32_t timeout = 0;
	int c, json = 0, ret, i;
	char **a;

	snprintf(cmd, sizeof(cmd), "set %s", sc->name);
	while ((c = getopt_long(argc, argv, "c:t:Jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!*optarg) {
				ctl_err("%s: empty --client", cmd);
				return EXIT_USAGE;
			}
			client = optarg;
			break;
		case 't':
			if (!sc->timeout) {
				ctl_err("%s: no --timeout here", cmd);
				return EXIT_USAGE;
			}
			if (shadow_parse_u32(optarg, 0, 3600000, &timeout)) {
				ctl_err("%s: timeout '%s' is not 0 to 3600000 ms",
					cmd, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'J':
			json = 1;
			break;
		case 'h':
			set_help(sc);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != nargs[sc->args]) {
		static const char *const what[] = {
			"no argument", "one CONTEXT", "one SET", "SET SHARE",
			"SET COPY SHARE"
		};

		ctl_err("%s: expected %s", cmd, what[sc->args]);
		return EXIT_USAGE;
	}
	a = argv + optind;
	if (sc->args == A_CONTEXT && fsrvp_context_parse(a[0]) < 0) {
		ctl_err("%s: '%s' is not a context (backup, file_share_backup, "
			"nas_rollback, app_rollback or a number)", cmd, a[0]);
		return EXIT_USAGE;
	}
	if (sc->args >= A_SET && guid_arg(cmd, "set id", a[0]))
		return EXIT_USAGE;
	if (sc->args == A_SET_COPY_SHARE && guid_arg(cmd, "copy id", a[1]))
		return EXIT_USAGE;
	for (i = 0; i < nargs[sc->args]; i++)
		if (!*a[i]) {
			ctl_err("%s: empty argument", cmd);
			return EXIT_USAGE;
		}

	{
		char op[48];

		snprintf(op, sizeof(op), "fsrvp.%s", sc->op);
		req = ctl_sd_request(op);
	}
	if (client)
		json_object_object_add(req, "client",
				       json_object_new_string(client));
	switch (sc->args) {
	case A_CONTEXT:
		json_object_object_add(req, "context",
				       json_object_new_string(a[0]));
		break;
	case A_SET:
		json_object_object_add(req, "set_id",
				       json_object_new_string(a[0]));
		break;
	case A_SET_SHARE:
		json_object_object_add(req, "set_id",
				       json_object_new_string(a[0]));
		json_object_object_add(req, "share",
				       json_object_new_string(a[1]));
		break;
	case A_SET_COPY_SHARE:
		json_object_object_add(req, "set_id",
				       json_object_new_string(a[0]));
		json_object_object_add(req, "copy_id",
				       json_object_new_string(a[1]));
		json_object_object_add(req, "share",
				       json_object_new_string(a[2]));
		break;
	default:
		break;
	}
	if (sc->timeout)
		json_object_object_add(req, "timeout_ms",
				       json_object_new_int64(timeout));
	ret = ctl_sd_call(cmd, req, &reply);
	if (ret)
		goto out;

	if (!strcmp(sc->name, "start")) {
		if (json)
			ret = print_json(reply, start_keys);
		else
			printf("%s\n", ctl_json_str(reply, "set_id") ?: "");
	} else if (!strcmp(sc->name, "add")) {
		if (json)
			ret = print_json(reply, add_keys);
		else
			printf("%s\n", ctl_json_str(reply, "copy_id") ?: "");
	} else if (!strcmp(sc->name, "mapping")) {
		ret = set_mapping_out(cmd, client, reply, a[0], a[1], json);
	} else if (json) {
		ret = print_json(reply, hr_keys);
	}
out:
	json_object_put(reply);
	return ret;
}

/* ---------------------------------------------------------------- list */

enum { LC_SET, LC_STATUS, LC_CONTEXT, LC_COPY, LC_SHARE, LC_VOLUME,
       LC_SNAPSHOT, LC_CREATED, LC_EXPOSED, LC_MOUNT, LC_GONE, NR_LCOLS };

static const struct ctl_col list_cols[NR_LCOLS] = {
	[LC_SET] = { "SET", 36, 0, SCOLS_JSON_STRING },
	[LC_STATUS] = { "STATUS", 9, 0, SCOLS_JSON_STRING },
	[LC_CONTEXT] = { "CONTEXT", 8, 0, SCOLS_JSON_STRING },
	[LC_COPY] = { "COPY", 36, 0, SCOLS_JSON_STRING },
	[LC_SHARE] = { "SHARE", 0.2, 0, SCOLS_JSON_STRING },
	[LC_VOLUME] = { "VOLUME", 7, 0, SCOLS_JSON_STRING },
	[LC_SNAPSHOT] = { "SNAPSHOT", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[LC_CREATED] = { "CREATED", 25, 0, SCOLS_JSON_STRING },
	[LC_EXPOSED] = { "EXPOSED", 0.1, 0, SCOLS_JSON_STRING },
	[LC_MOUNT] = { "MOUNT", 0.2, 0, SCOLS_JSON_STRING },
	[LC_GONE] = { "GONE", 0.1, 0, SCOLS_JSON_STRING },
};

static int list_line(struct libscols_table *tb, struct json_object *s,
		     struct json_object *c)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	char cell[NR_LCOLS][64];
	const char *str[NR_LCOLS] = { 0 };
	struct json_object *v;
	int i;

	if (!ln)
		return -ENOMEM;
	str[LC_SET] = ctl_json_str(s, "set_id");
	str[LC_STATUS] = ctl_json_str(s, "status");
	if (json_object_object_get_ex(s, "context", &v)) {
		uint32_t ctx = (uint32_t)json_object_get_int64(v);
		const char *n = fsrvp_context_name(ctx);

		if (n)
			snprintf(cell[LC_CONTEXT], sizeof(cell[0]), "%s", n);
		else
			snprintf(cell[LC_CONTEXT], sizeof(cell[0]), "0x%08x",
				 ctx);
		str[LC_CONTEXT] = cell[LC_CONTEXT];
	}
	if (c) {
		str[LC_COPY] = ctl_json_str(c, "copy_id");
		str[LC_SHARE] = ctl_json_str(c, "share");
		str[LC_VOLUME] = ctl_json_str(c, "volume");
		if (json_object_object_get_ex(c, "snapshot", &v) &&
		    json_object_get_int64(v)) {
			snprintf(cell[LC_SNAPSHOT], sizeof(cell[0]), "%lld",
				 (long long)json_object_get_int64(v));
			str[LC_SNAPSHOT] = cell[LC_SNAPSHOT];
		}
		if (json_object_object_get_ex(c, "creation_ts", &v) &&
		    json_object_get_int64(v))
			str[LC_CREATED] = ctl_time(ctl_filetime_unix(
				(uint64_t)json_object_get_int64(v)),
				cell[LC_CREATED], sizeof(cell[0]));
		str[LC_EXPOSED] = ctl_json_str(c, "exposed_name");
		str[LC_MOUNT] = ctl_json_str(c, "mount_point");
		str[LC_GONE] = ctl_json_str(c, "gone_reason");
	}
	for (i = 0; i < NR_LCOLS; i++)
		if (str[i] && scols_line_set_data(ln, (size_t)i, str[i]))
			return -ENOMEM;
	return 0;
}

static int set_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'J' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "raw", no_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "set list", *client = NULL, *list = NULL;
	struct json_object *req, *reply = NULL, *sets, *copies;
	struct libscols_table *tb;
	struct ctl_out oo = { 0 };
	int c, r, ret;
	size_t i, j;

	while ((c = getopt_long(argc, argv, "c:JnHro:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			client = optarg;
			break;
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
		case 'h':
			printf("Usage: shadowctl set list [--json] [-H] [--raw] [-o COLUMNS]\n\n"
			       "List shadowd's FSRVP sets, one line per shadow copy (a set\n"
			       "without copies has one line): SET, STATUS, CONTEXT, COPY,\n"
			       "SHARE, VOLUME (MAJ:MIN), SNAPSHOT (id), CREATED, EXPOSED\n"
			       "(exposed name), MOUNT, GONE (why the snapshot went).\n\n"
			       "Options:\n"
			       "  -J, --json           JSON output ({\"sets\": [...]})\n"
			       "  -H, -n, --noheadings no header line\n"
			       "  -r, --raw            raw output\n"
			       "  -o, --output COLS    the columns to print, comma-separated\n"
			       "  -c, --client ADDR    the FSRVP client address\n"
			       "  -h, --help           this help\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		ctl_err("%s: unexpected argument '%s'", cmd, argv[optind]);
		return EXIT_USAGE;
	}
	if (ctl_cols_check(cmd, list_cols, NR_LCOLS, list))
		return EXIT_USAGE;
	req = ctl_sd_request("fsrvp.list");
	if (client)
		json_object_object_add(req, "client",
				       json_object_new_string(client));
	ret = ctl_sd_call(cmd, req, &reply);
	if (ret) {
		json_object_put(reply);
		return ret;
	}
	tb = ctl_new_table("sets", list_cols, NR_LCOLS, &oo);
	if (!tb) {
		ctl_err("%s: out of memory", cmd);
		goto fail;
	}
	if (json_object_object_get_ex(reply, "sets", &sets))
		for (i = 0; i < json_object_array_length(sets); i++) {
			struct json_object *s =
				json_object_array_get_idx(sets, i);
			size_t n = 0;

			if (json_object_object_get_ex(s, "copies", &copies))
				n = json_object_array_length(copies);
			r = n ? 0 : list_line(tb, s, NULL);
			for (j = 0; j < n && !r; j++)
				r = list_line(tb, s, json_object_array_get_idx(
						copies, j));
			if (r) {
				ctl_err("%s: out of memory", cmd);
				goto fail;
			}
		}
	ctl_table_print(tb, list);
	scols_unref_table(tb);
	json_object_put(reply);
	return 0;
fail:
	scols_unref_table(tb);
	json_object_put(reply);
	return EXIT_FAILURE;
}

int cmd_set(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		FILE *f = argc < 2 ? stderr : stdout;

		fprintf(f, "Usage: shadowctl set <command> [<args>]\n\n"
			"FSRVP shadow copy sets through shadowd, one operation at a time.\n\n"
			"Commands:\n");
		for (i = 0; i < N_SET_CMDS; i++)
			fprintf(f, "  %-18s %.*s\n", set_cmds[i].name,
				(int)strcspn(set_cmds[i].help, ":"),
				set_cmds[i].help);
		fprintf(f, "  %-18s %s\n", "list", "the sets and their copies");
		fprintf(f, "\nRun 'shadowctl set <command> --help' for its options.\n");
		return argc < 2 ? EXIT_USAGE : 0;
	}
	optind = 1;
	if (!strcmp(argv[1], "list"))
		return set_list(argc - 1, argv + 1);
	for (i = 0; i < N_SET_CMDS; i++)
		if (!strcmp(argv[1], set_cmds[i].name))
			return set_run(&set_cmds[i], argc - 1, argv + 1);
	ctl_err("set: unknown command '%s'", argv[1]);
	return EXIT_USAGE;
}
