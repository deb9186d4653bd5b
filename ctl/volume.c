// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl volume: declared volumes in shadowd (volume.* requests,
 * Documentation/shadowd.rst, "Volumes"): create, list, status, activate,
 * deactivate, remove.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libsmartcols.h>

#include "ctlout.h"
#include "shadow-nl.h"
#include "units.h"

#define VOL_EXIT_HELP \
	"Exit status: 0 ok, 1 refused (the reason on stderr), 2 usage,\n" \
	"3 shadowd unreachable, 4 not authorised, 5 no such volume or device.\n"

static const char *vstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static int64_t vint(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v))
		return json_object_get_int64(v);
	return 0;
}

static bool vbool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	       json_object_get_boolean(v);
}

/* An absolute form of @path (not resolved: the path given is kept). */
static int abs_path(const char *cmd, const char *path, char *buf, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/') {
		if (strlen(path) >= len)
			goto long_path;
		strcpy(buf, path);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		ctl_err("%s: getcwd: %s", cmd, strerror(errno));
		return EXIT_FAILURE;
	}
	if ((size_t)snprintf(buf, len, "%s/%s", cwd, path) >= len)
		goto long_path;
	return 0;
long_path:
	ctl_err("%s: path too long: %s", cmd, path);
	return EXIT_USAGE;
}

/* -------------------------------------------------------------- create */

static int vol_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "origin", required_argument, NULL, 'O' },
		{ "store", required_argument, NULL, 's' },
		{ "store-size", required_argument, NULL, 'S' },
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "overflow", required_argument, NULL, 'v' },
		{ "low-water", required_argument, NULL, 'l' },
		{ "high-water", required_argument, NULL, 'w' },
		{ "no-activate", no_argument, NULL, 'N' },
		{ "no-auto", no_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "volume create", *origin = NULL, *store = NULL;
	const char *overflow = NULL;
	char opath[PATH_MAX], spath[PATH_MAX];
	uint64_t store_size = 0, chunk = 0;
	uint32_t lw = 0, hw = 0;
	bool activate = true, autostart = true, json = false;
	struct json_object *req, *reply = NULL, *v;
	int c, ret;

	while ((c = getopt_long(argc, argv, "O:s:S:c:v:l:w:NAJh", opts,
				NULL)) != -1) {
		switch (c) {
		case 'O':
			origin = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'S':
			if (shadow_parse_size(optarg, &store_size) ||
			    !store_size) {
				ctl_err("%s: bad --store-size '%s'", cmd, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			if (shadow_parse_size(optarg, &chunk) || chunk % 1024 ||
			    chunk < 4096 || chunk > (1 << 20) ||
			    (chunk & (chunk - 1))) {
				ctl_err("%s: bad --chunk-size '%s': a power of "
					"two from 4K to 1M", cmd, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			if (strcmp(optarg, "drop_oldest") &&
			    strcmp(optarg, "invalidate")) {
				ctl_err("%s: --overflow: drop_oldest or "
					"invalidate", cmd);
				return EXIT_USAGE;
			}
			overflow = optarg;
			break;
		case 'l':
		case 'w':
			if (shadow_parse_u32(optarg, 1, 100, c == 'l' ? &lw : &hw)) {
				ctl_err("%s: bad water mark '%s': 1 to 100",
					cmd, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'N':
			activate = false;
			break;
		case 'A':
			autostart = false;
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			printf("Usage: shadowctl volume create NAME --origin DEV --store DEV|FILE\n"
			       "         [--store-size SIZE] [--chunk-size SIZE]\n"
			       "         [--overflow drop_oldest|invalidate]\n"
			       "         [--low-water PCT] [--high-water PCT]\n"
			       "         [--no-activate] [--no-auto] [--json]\n\n"
			       "Declare a volume in shadowd: the dm device NAME, a shadow-origin\n"
			       "over the block device DEV, with its store on a block device or\n"
			       "a regular file (attached to a loop device at activation).  A\n"
			       "store whose first 4 KiB are zero is formatted at the first\n"
			       "activation; another one must be a valid dm-shadow store.\n\n"
			       "Options:\n"
			       "  -O, --origin DEV       the origin block device\n"
			       "  -s, --store DEV|FILE   the store\n"
			       "  -S, --store-size SIZE  create FILE, sparse, of this size (K, M, G)\n"
			       "  -c, --chunk-size SIZE  4K to 1M, a power of two (default 64K)\n"
			       "  -v, --overflow POLICY  drop_oldest (default) or invalidate\n"
			       "  -l, --low-water PCT    store use that raises an event\n"
			       "  -w, --high-water PCT   a second threshold\n"
			       "  -N, --no-activate      declare only\n"
			       "  -A, --no-auto          not activated when shadowd starts\n"
			       "  -J, --json             print the new volume as JSON\n"
			       "  -h, --help             this help\n\n" VOL_EXIT_HELP);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ctl_err("%s: expected one NAME", cmd);
		return EXIT_USAGE;
	}
	if (!origin || !store) {
		ctl_err("%s: --origin and --store are required", cmd);
		return EXIT_USAGE;
	}
	if (lw && hw && lw > hw) {
		ctl_err("%s: --low-water is above --high-water", cmd);
		return EXIT_USAGE;
	}
	ret = abs_path(cmd, origin, opath, sizeof(opath));
	if (!ret)
		ret = abs_path(cmd, store, spath, sizeof(spath));
	if (ret)
		return ret;
	req = ctl_sd_request("volume.create");
	json_object_object_add(req, "name", json_object_new_string(argv[optind]));
	json_object_object_add(req, "origin", json_object_new_string(opath));
	json_object_object_add(req, "store", json_object_new_string(spath));
	if (store_size)
		json_object_object_add(req, "store_size",
				       json_object_new_int64((int64_t)store_size));
	if (chunk)
		json_object_object_add(req, "chunk_kib",
				       json_object_new_int64((int64_t)(chunk / 1024)));
	if (overflow)
		json_object_object_add(req, "overflow",
				       json_object_new_string(overflow));
	if (lw)
		json_object_object_add(req, "low_water", json_object_new_int(lw));
	if (hw)
		json_object_object_add(req, "high_water", json_object_new_int(hw));
	json_object_object_add(req, "activate", json_object_new_boolean(activate));
	json_object_object_add(req, "auto", json_object_new_boolean(autostart));
	ret = ctl_sd_call(cmd, req, &reply);
	if (!ret && json && json_object_object_get_ex(reply, "volume", &v))
		ret = ctl_json_print(json_object_get(v));
	json_object_put(reply);
	return ret;
}

/* ------------------------------------------------- activate and others */

static int vol_simple(const char *what, const char *help, int argc,
		      char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *req, *reply = NULL;
	char cmd[32], op[32];
	int c, ret;

	snprintf(cmd, sizeof(cmd), "volume %s", what);
	snprintf(op, sizeof(op), "volume.%s", what);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		printf("Usage: shadowctl volume %s NAME\n\n%s\n\nOptions:\n"
		       "  -h, --help  this help\n\n" VOL_EXIT_HELP, what, help);
		return 0;
	}
	if (argc - optind != 1) {
		ctl_err("%s: expected one NAME", cmd);
		return EXIT_USAGE;
	}
	req = ctl_sd_request(op);
	json_object_object_add(req, "name", json_object_new_string(argv[optind]));
	ret = ctl_sd_call(cmd, req, &reply);
	json_object_put(reply);
	return ret;
}

static int vol_activate(int argc, char **argv)
{
	return vol_simple("activate",
		"Load the shadow-origin table of a declared volume (its file\n"
		"store is attached to a loop device first).  The volume is then\n"
		"activated again when shadowd starts, if it is an auto volume.",
		argc, argv);
}

static int vol_deactivate(int argc, char **argv)
{
	return vol_simple("deactivate",
		"Remove the dm device of a volume, and the loop device of its\n"
		"file store.  Refused (error busy) while the device is open: a\n"
		"mounted filesystem, active snapshot devices.  The volume then\n"
		"stays inactive across restarts of shadowd until activated.",
		argc, argv);
}

static int vol_remove(int argc, char **argv)
{
	return vol_simple("remove",
		"Forget the declaration of an inactive volume.  Its devices and\n"
		"its store (file or device) are left as they are.",
		argc, argv);
}

/* ---------------------------------------------------------------- list */

enum { VC_NAME, VC_STATE, VC_DECLARED, VC_AUTO, VC_DEVICE, VC_ORIGIN,
       VC_STORE, VC_LOOP, VC_CHUNK, VC_SIZE, VC_USED, VC_USE, VC_SNAPS,
       NR_VCOLS };

static const struct ctl_col vol_cols[NR_VCOLS] = {
	[VC_NAME] = { "NAME", 0.1, 0, SCOLS_JSON_STRING },
	[VC_STATE] = { "STATE", 8, 0, SCOLS_JSON_STRING },
	[VC_DECLARED] = { "DECLARED", 3, 0, SCOLS_JSON_BOOLEAN },
	[VC_AUTO] = { "AUTO", 3, 0, SCOLS_JSON_BOOLEAN },
	[VC_DEVICE] = { "DEVICE", 6, 0, SCOLS_JSON_STRING },
	[VC_ORIGIN] = { "ORIGIN", 0.2, 0, SCOLS_JSON_STRING },
	[VC_STORE] = { "STORE", 0.2, 0, SCOLS_JSON_STRING },
	[VC_LOOP] = { "LOOP", 6, 0, SCOLS_JSON_STRING },
	[VC_CHUNK] = { "CHUNK", 5, SCOLS_FL_RIGHT, -1 },
	[VC_SIZE] = { "SIZE", 5, SCOLS_FL_RIGHT, -1 },
	[VC_USED] = { "USED", 5, SCOLS_FL_RIGHT, -1 },
	[VC_USE] = { "USE%", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[VC_SNAPS] = { "SNAPS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
};

static int vol_line(struct libscols_table *tb, struct json_object *x,
		    const struct ctl_out *out)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	bool active = !strcmp(vstr(x, "volume_state") ?: "", "active");
	uint64_t cs = (uint64_t)vint(x, "chunk_sectors") * 512;
	uint64_t total = (uint64_t)vint(x, "store_total") * cs;
	uint64_t used = (uint64_t)vint(x, "store_used") * cs;
	char chunk[32], size[32], usedb[32], pct[16], snaps[16];
	const char *opt[NR_VCOLS] = { 0 }, *yes, *no;
	int i;

	if (!ln)
		return -ENOMEM;
	ctl_size((uint64_t)vint(x, "chunk_kib") * 1024, out->bytes, chunk,
		 sizeof(chunk));
	opt[VC_NAME] = vstr(x, "name") ?: "";
	opt[VC_STATE] = vstr(x, "volume_state") ?: "?";
	/* libsmartcols' JSON booleans: "0" is false, any other text true */
	yes = out->json ? "1" : "true";
	no = out->json ? "0" : "false";
	opt[VC_DECLARED] = vbool(x, "declared") ? yes : no;
	if (vbool(x, "declared"))
		opt[VC_AUTO] = vbool(x, "auto") ? yes : no;
	opt[VC_DEVICE] = vstr(x, "device");
	opt[VC_ORIGIN] = vstr(x, "origin");
	opt[VC_STORE] = vstr(x, "store");
	opt[VC_LOOP] = vstr(x, "loop_device");
	opt[VC_CHUNK] = chunk;
	if (active && cs) {
		opt[VC_SIZE] = ctl_size(total, out->bytes, size, sizeof(size));
		opt[VC_USED] = ctl_size(used, out->bytes, usedb, sizeof(usedb));
		snprintf(pct, sizeof(pct), "%llu", total ?
			 (unsigned long long)(used * 100 / total) : 0ULL);
		opt[VC_USE] = pct;
		snprintf(snaps, sizeof(snaps), "%lld",
			 (long long)vint(x, "snapshots"));
		opt[VC_SNAPS] = snaps;
	}
	for (i = 0; i < NR_VCOLS; i++)
		if (opt[i] && scols_line_set_data(ln, i, opt[i]))
			return -ENOMEM;
	return 0;
}

static int vol_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "raw", no_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "bytes", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "volume list", *cols = NULL;
	struct json_object *req, *reply = NULL, *a;
	struct libscols_table *tb;
	struct ctl_out out = { 0 };
	size_t i;
	int c, ret;

	while ((c = getopt_long(argc, argv, "JnHro:pbh", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			out.json = 1;
			break;
		case 'n':
		case 'H':
			out.noheadings = 1;
			break;
		case 'r':
			out.raw = 1;
			break;
		case 'o':
			cols = optarg;
			break;
		case 'p':
		case 'b':
			out.bytes = 1;
			break;
		case 'h':
			printf("Usage: shadowctl volume list [--json] [-H] [-r] [-o COLS] [-p]\n\n"
			       "Every declared volume and every active shadow-origin that is not\n"
			       "declared (DECLARED false): NAME, STATE (active, inactive,\n"
			       "missing: its origin or store is not there, conflict: a dm device\n"
			       "of that name is not a shadow-origin), DECLARED, AUTO, DEVICE\n"
			       "(MAJ:MIN), ORIGIN, STORE, LOOP (the loop device of a file\n"
			       "store), CHUNK, and for an active volume the store's SIZE, USED,\n"
			       "USE%% and SNAPS.\n\n"
			       "Options:\n"
			       "  -J, --json            JSON output\n"
			       "  -H, -n, --noheadings  no header line\n"
			       "  -r, --raw             raw output\n"
			       "  -o, --output COLS     the columns to print, comma-separated\n"
			       "  -p, --bytes           sizes in bytes\n"
			       "  -h, --help            this help\n\n" VOL_EXIT_HELP);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		ctl_err("%s: unexpected argument '%s'", cmd, argv[optind]);
		return EXIT_USAGE;
	}
	if (ctl_cols_check(cmd, vol_cols, NR_VCOLS, cols))
		return EXIT_USAGE;
	req = ctl_sd_request("volume.list");
	ret = ctl_sd_call(cmd, req, &reply);
	if (ret)
		goto out;
	tb = ctl_new_table("volumes", vol_cols, NR_VCOLS, &out);
	if (!tb) {
		ctl_err("%s: out of memory", cmd);
		ret = EXIT_FAILURE;
		goto out;
	}
	if (json_object_object_get_ex(reply, "volumes", &a))
		for (i = 0; i < json_object_array_length(a); i++)
			if (vol_line(tb, json_object_array_get_idx(a, i), &out))
				ret = EXIT_FAILURE;
	if (ret)
		ctl_err("%s: out of memory", cmd);
	else if (ctl_table_print(tb, cols))
		ret = EXIT_FAILURE;
	scols_unref_table(tb);
out:
	json_object_put(reply);
	return ret;
}

/* -------------------------------------------------------------- status */

static int vol_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "volume status";
	struct json_object *req, *reply = NULL, *v;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "Jh", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = true;
			break;
		case 'h':
			printf("Usage: shadowctl volume status NAME [--json]\n\n"
			       "One volume in detail: its declaration, state, dm device, open\n"
			       "count, loop device, and the origin's status (store and\n"
			       "metadata use, snapshots, epoch, mode), one \"key: value\" a\n"
			       "line; --json prints shadowd's object as it is.\n\n"
			       "Options:\n"
			       "  -J, --json  JSON output\n"
			       "  -h, --help  this help\n\n" VOL_EXIT_HELP);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ctl_err("%s: expected one NAME", cmd);
		return EXIT_USAGE;
	}
	req = ctl_sd_request("volume.status");
	json_object_object_add(req, "name", json_object_new_string(argv[optind]));
	ret = ctl_sd_call(cmd, req, &reply);
	if (ret || !json_object_object_get_ex(reply, "volume", &v))
		goto out;
	if (json) {
		ret = ctl_json_print(json_object_get(v));
		goto out;
	}
	json_object_object_foreach(v, key, val) {
		printf("%s: %s\n", key, json_object_get_string(val));
	}
out:
	json_object_put(reply);
	return ret;
}

static const struct ctl_command volume_cmds[] = {
	{ "create", vol_create, "declare a volume (and activate it)" },
	{ "list", vol_list, "declared volumes and active origins" },
	{ "status", vol_status, "one volume in detail" },
	{ "activate", vol_activate, "load a volume's table" },
	{ "deactivate", vol_deactivate, "remove a volume's dm device" },
	{ "remove", vol_remove, "forget an inactive volume" },
};

int cmd_volume(int argc, char **argv)
{
	return ctl_subcommand("volume", volume_cmds,
			      sizeof(volume_cmds) / sizeof(volume_cmds[0]),
			      argc, argv);
}
