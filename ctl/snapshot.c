// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl snapshot create|delete|list|set-readonly and shadowctl diff,
 * through the dm_shadow netlink family; snapshot pin|unpin|mount|unmount
 * through shadowd.
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
#include "shadowctl.h"
#include "units.h"

static int snap_pin_call(const char *cmd, const char *volume, uint32_t id,
			 bool pin);
static int group_create(const char *cmd, const char *group, uint32_t flags,
			uint32_t timeout, const char *label, int pin, int json,
			int verbose);

/* ------------------------------------------------------------- create */

static void create_help(void)
{
	printf("Usage: shadowctl snapshot create [--freeze] [--timeout MS] [--label LABEL]\n"
	       "                                 [--pin] [--json] [--verbose] ORIGIN...|@GROUP\n\n"
	       "Cut one snapshot of each ORIGIN at one instant (a consistency\n"
	       "group of up to %d origins).  Prints one line per origin:\n"
	       "\"<origin name> <snapshot id>\".  On any failure nothing is kept.\n"
	       "ORIGIN is a device-mapper name, a device path or MAJ:MIN.\n"
	       "@GROUP (group set) cuts every member of the group through\n"
	       "shadowd, which records the cut for the group's retention\n"
	       "policy (exit 5: no such group).\n\n"
	       "Options:\n"
	       "  -f, --freeze         freeze the filesystems on the origins around the cut\n"
	       "  -t, --timeout MS     time bound of freeze and cut (1 to %d, default %d)\n"
	       "  -l, --label LABEL    label every new snapshot (at most %d bytes, no blanks)\n"
	       "  -p, --pin            pin the new snapshots in shadowd (never pruned);\n"
	       "                       when that fails, exit 1 with the snapshots made\n"
	       "  -J, --json           JSON output\n"
	       "  -v, --verbose        print how long writes were held, on stderr\n"
	       "  -h, --help           this help\n",
	       SHADOW_NL_GROUP_MAX, SHADOW_NL_TIMEOUT_MAX_MS,
	       SHADOW_NL_TIMEOUT_DEFAULT_MS, SHADOW_NL_LABEL_MAX);
}

static int snap_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "freeze", no_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'l' },
		{ "pin", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'J' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "snapshot create", *label = NULL;
	struct shadow_nl_err err = { 0 };
	struct shadow_created *out = NULL;
	struct shadow_dev *devs = NULL;
	uint32_t flags = 0, timeout = 0;
	int c, r, json = 0, verbose = 0, pin = 0, ret = EXIT_FAILURE;
	struct shadow_nl *nl = NULL;
	uint64_t pause_us = 0;
	char pbuf[16];
	size_t i, n;

	while ((c = getopt_long(argc, argv, "ft:l:pJvh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			flags |= SHADOW_F_FREEZE;
			break;
		case 't':
			if (shadow_parse_u32(optarg, 1, SHADOW_NL_TIMEOUT_MAX_MS,
					     &timeout)) {
				ctl_err("%s: timeout '%s' is not 1 to %d milliseconds",
					cmd, optarg, SHADOW_NL_TIMEOUT_MAX_MS);
				return EXIT_USAGE;
			}
			break;
		case 'l':
			r = shadow_label_check(optarg);
			if (r) {
				ctl_err("%s: label '%s' %s", cmd, optarg,
					r == -ENAMETOOLONG ?
					"is longer than 24 bytes" :
					"is empty or has blanks or control characters");
				return EXIT_USAGE;
			}
			label = optarg;
			break;
		case 'p':
			pin = 1;
			break;
		case 'J':
			json = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			create_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	n = (size_t)(argc - optind);
	if (!n) {
		ctl_err("%s: expected one or more ORIGIN", cmd);
		return EXIT_USAGE;
	}
	for (i = 0; i < n; i++) {
		const char *g = ctl_group_name(argv[optind + (int)i]);

		if (!g)
			continue;
		if (n > 1) {
			ctl_err("%s: a @GROUP is cut alone, without other "
				"origins", cmd);
			return EXIT_USAGE;
		}
		if (ctl_group_syntax(cmd, g))
			return EXIT_USAGE;
		return group_create(cmd, g, flags, timeout, label, pin, json,
				    verbose);
	}
	if (n > SHADOW_NL_GROUP_MAX) {
		ctl_err("%s: at most %d origins in one group", cmd,
			SHADOW_NL_GROUP_MAX);
		return EXIT_USAGE;
	}
	devs = calloc(n, sizeof(*devs));
	out = calloc(n, sizeof(*out));
	if (!devs || !out) {
		ctl_err("%s: out of memory", cmd);
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (ctl_origin_syntax(cmd, argv[optind + (int)i])) {
			ret = EXIT_USAGE;
			goto done;
		}
	}
	nl = ctl_nl_open(cmd);
	if (!nl)
		goto done;
	for (i = 0; i < n; i++)
		if (ctl_origin_arg(cmd, argv[optind + (int)i], &devs[i]))
			goto done;
	r = shadow_nl_snap_create(nl, devs, n, flags, timeout, label, out,
				  &pause_us, &err);
	if (r) {
		ctl_nl_fail(cmd, &err);
		goto done;
	}

	if (json)
		printf("{\"snapshots\":[");
	for (i = 0; i < n; i++) {
		char nbuf[SHADOW_NL_NAMELEN], dbuf[24];
		const char *name = ctl_origin_name(out[i].dev, out[i].name,
						   nbuf, sizeof(nbuf));

		if (!json) {
			printf("%s %u\n", name, out[i].id);
			continue;
		}
		printf("%s{\"origin\":", i ? "," : "");
		shadow_json_string(stdout, name);
		printf(",\"dev\":\"%s\",\"id\":%u}",
		       shadow_format_dev(out[i].dev, dbuf, sizeof(dbuf)),
		       out[i].id);
	}
	if (json)
		printf("],\"pause_us\":%llu}\n", (unsigned long long)pause_us);
	if (verbose)
		fprintf(stderr, "pause: %llu us (%s)\n",
			(unsigned long long)pause_us,
			shadow_format_pause(pause_us, pbuf, sizeof(pbuf)));
	ret = 0;
	/* the snapshots are made and reported; a pin that fails is exit 1 */
	for (i = 0; pin && i < n; i++) {
		char dbuf[24], what[64];
		uint32_t id = out[i].id;

		shadow_format_dev(out[i].dev, dbuf, sizeof(dbuf));
		snprintf(what, sizeof(what), "%s: pin %s/%u", cmd, dbuf, id);
		if (snap_pin_call(what, dbuf, id, true))
			ret = EXIT_FAILURE;
	}
done:
	shadow_nl_close(nl);
	free(devs);
	free(out);
	return ret;
}

/* snapshot create @GROUP: snapshot.create {group} in shadowd. */
static int group_create(const char *cmd, const char *group, uint32_t flags,
			uint32_t timeout, const char *label, int pin, int json,
			int verbose)
{
	struct json_object *req, *reply = NULL, *a, *v;
	uint64_t pause_us = 0;
	char pbuf[16];
	size_t i, n = 0;
	int ret;

	req = ctl_sd_request("snapshot.create");
	json_object_object_add(req, "group", json_object_new_string(group));
	json_object_object_add(req, "freeze", json_object_new_boolean(
			       (flags & SHADOW_F_FREEZE) != 0));
	if (timeout)
		json_object_object_add(req, "timeout_ms",
				       json_object_new_int64(timeout));
	if (label)
		json_object_object_add(req, "label",
				       json_object_new_string(label));
	ret = ctl_sd_call(cmd, req, &reply);
	if (ret)
		goto out;
	if (json_object_object_get_ex(reply, "pause_us", &v))
		pause_us = (uint64_t)json_object_get_int64(v);
	if (!json_object_object_get_ex(reply, "snapshots", &a) ||
	    !json_object_is_type(a, json_type_array)) {
		ctl_err("%s: shadowd's reply has no snapshots", cmd);
		ret = EXIT_FAILURE;
		goto out;
	}
	n = json_object_array_length(a);
	if (json) {
		struct json_object *o = json_object_new_object();
		struct json_object *arr = json_object_new_array();

		for (i = 0; i < n; i++) {
			struct json_object *x = json_object_array_get_idx(a, i);
			struct json_object *y = json_object_new_object();

			json_object_object_add(y, "origin", json_object_new_string(
				ctl_json_str(x, "name") ?: ""));
			json_object_object_add(y, "dev", json_object_new_string(
				ctl_json_str(x, "volume") ?: ""));
			if (json_object_object_get_ex(x, "id", &v))
				json_object_object_add(y, "id",
						       json_object_get(v));
			json_object_array_add(arr, y);
		}
		json_object_object_add(o, "snapshots", arr);
		json_object_object_add(o, "pause_us",
				       json_object_new_int64((int64_t)pause_us));
		json_object_object_add(o, "group", json_object_new_string(group));
		json_object_object_add(o, "cut",
			json_object_object_get_ex(reply, "cut", &v) && v ?
			json_object_get(v) : NULL);
		ret = ctl_json_print(o);
	} else {
		for (i = 0; i < n; i++) {
			struct json_object *x = json_object_array_get_idx(a, i);

			printf("%s %lld\n", ctl_json_str(x, "name") ?:
			       ctl_json_str(x, "volume") ?: "?",
			       json_object_object_get_ex(x, "id", &v) ?
			       (long long)json_object_get_int64(v) : 0LL);
		}
	}
	if (verbose)
		fprintf(stderr, "pause: %llu us (%s)\n",
			(unsigned long long)pause_us,
			shadow_format_pause(pause_us, pbuf, sizeof(pbuf)));
	if (!json_object_object_get_ex(reply, "cut", &v) || !v) {
		ctl_err("%s: the cut of @%s was made but shadowd could not "
			"record it (see its log)", cmd, group);
		ret = EXIT_FAILURE;
	}
	/* the snapshots are made and reported; a pin that fails is exit 1 */
	for (i = 0; pin && i < n; i++) {
		struct json_object *x = json_object_array_get_idx(a, i);
		const char *dev = ctl_json_str(x, "volume") ?: "?";
		uint32_t id = json_object_object_get_ex(x, "id", &v) ?
			(uint32_t)json_object_get_int64(v) : 0;
		char what[96];

		snprintf(what, sizeof(what), "%s: pin %s/%u", cmd, dev, id);
		if (snap_pin_call(what, dev, id, true))
			ret = EXIT_FAILURE;
	}
out:
	json_object_put(reply);
	return ret;
}

/* ----------------------------------------------------------- pin, unpin */

/* snapshot.pin or snapshot.unpin in shadowd; 0 or an exit code. */
static int snap_pin_call(const char *cmd, const char *volume, uint32_t id,
			 bool pin)
{
	struct json_object *req, *reply = NULL;
	int r;

	req = ctl_sd_request(pin ? "snapshot.pin" : "snapshot.unpin");
	json_object_object_add(req, "volume", json_object_new_string(volume));
	json_object_object_add(req, "id", json_object_new_int64(id));
	r = ctl_sd_call(cmd, req, &reply);
	json_object_put(reply);
	return r;
}

static int snap_pin_cmd(int argc, char **argv, bool pin)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = pin ? "snapshot pin" : "snapshot unpin";
	uint32_t id;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		if (pin)
			printf("Usage: shadowctl snapshot pin ORIGIN ID\n\n"
			       "Pin a snapshot in shadowd: no retention rule, prune or\n"
			       "space pressure removes it until it is unpinned (an\n"
			       "explicit snapshot delete still does).  Pins are kept in\n"
			       "shadowd's state directory, for that snapshot only (an id\n"
			       "reused later is not pinned).  Needs shadowd's snapshot\n"
			       "class.\n");
		else
			printf("Usage: shadowctl snapshot unpin ORIGIN ID\n\n"
			       "Remove the pin of a snapshot: the retention policy\n"
			       "applies to it again.  Needs shadowd's admin class.\n");
		return 0;
	}
	if (argc - optind != 2) {
		ctl_err("%s: expected ORIGIN and one ID", cmd);
		return EXIT_USAGE;
	}
	r = ctl_origin_syntax(cmd, argv[optind]);
	if (!r)
		r = ctl_snap_id_arg(cmd, argv[optind + 1], &id);
	if (r)
		return r;
	return snap_pin_call(cmd, argv[optind], id, pin);
}

static int snap_pin(int argc, char **argv)
{
	return snap_pin_cmd(argc, argv, true);
}

static int snap_unpin(int argc, char **argv)
{
	return snap_pin_cmd(argc, argv, false);
}

/* ------------------------------------------------- delete, set-readonly */

/* ORIGIN ID... for delete (several ids) and set-readonly (one). */
static int snap_ids_cmd(int argc, char **argv, const char *cmd, bool many)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct shadow_dev dev;
	struct shadow_nl *nl;
	uint32_t *ids;
	int c, i, n, ret = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		if (many)
			printf("Usage: shadowctl snapshot delete ORIGIN ID...\n\n"
			       "Delete snapshots of ORIGIN, in the order given.  A snapshot\n"
			       "that a snapshot device has open cannot be deleted.  The\n"
			       "others are still deleted when one fails.\n");
		else
			printf("Usage: shadowctl snapshot set-readonly ORIGIN ID\n\n"
			       "Make a snapshot read-only for good: no snapshot device can\n"
			       "write to it any more.\n");
		return 0;
	}
	n = argc - optind - 1;
	if (n < 1 || (!many && n != 1)) {
		ctl_err("%s: expected ORIGIN and %s", cmd,
			many ? "one or more IDs" : "one ID");
		return EXIT_USAGE;
	}
	ids = calloc((size_t)n, sizeof(*ids));
	if (!ids) {
		ctl_err("%s: out of memory", cmd);
		return EXIT_FAILURE;
	}
	for (i = 0; i < n; i++) {
		ret = ctl_snap_id_arg(cmd, argv[optind + 1 + i], &ids[i]);
		if (ret)
			goto out;
	}
	nl = ctl_nl_origin(cmd, argv[optind], &dev, &ret);
	if (!nl)
		goto out;
	for (i = 0; i < n; i++) {
		struct shadow_nl_err err = { 0 };
		int r;

		if (many)
			r = shadow_nl_snap_delete(nl, dev, ids[i], &err);
		else
			r = shadow_nl_snap_set_ro(nl, dev, ids[i], &err);
		if (r) {
			ctl_err("%s: snapshot %u: %s", cmd, ids[i], err.msg);
			ret = EXIT_FAILURE;
		}
	}
	shadow_nl_close(nl);
out:
	free(ids);
	return ret;
}

static int snap_delete(int argc, char **argv)
{
	return snap_ids_cmd(argc, argv, "snapshot delete", true);
}

static int snap_set_readonly(int argc, char **argv)
{
	return snap_ids_cmd(argc, argv, "snapshot set-readonly", false);
}

/* --------------------------------------------------------------- list */

enum { SC_ID, SC_CREATED, SC_MODE, SC_STATE, SC_OPEN, SC_EXCLUSIVE, SC_LABEL,
       NR_SCOLS };

static const struct ctl_col snap_cols[NR_SCOLS] = {
	[SC_ID] = { "ID", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[SC_CREATED] = { "CREATED", 25, 0, SCOLS_JSON_STRING },
	[SC_MODE] = { "MODE", 4, 0, SCOLS_JSON_STRING },
	[SC_STATE] = { "STATE", 7, 0, SCOLS_JSON_STRING },
	[SC_OPEN] = { "OPEN", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[SC_EXCLUSIVE] = { "EXCLUSIVE", 9, SCOLS_FL_RIGHT, -1 },
	[SC_LABEL] = { "LABEL", 0.2, 0, SCOLS_JSON_STRING },
};

struct list_ctx {
	struct libscols_table *tb;
	uint64_t chunk_bytes;
	struct ctl_out out;
};

static int snap_line(const struct shadow_snap *s, void *arg)
{
	struct list_ctx *lc = arg;
	struct libscols_line *ln = scols_table_new_line(lc->tb, NULL);
	char cell[NR_SCOLS][40];
	int i;

	if (!ln)
		return -ENOMEM;
	snprintf(cell[SC_ID], sizeof(cell[0]), "%u", s->id);
	shadow_format_ctime(s->ctime_ns, cell[SC_CREATED], sizeof(cell[0]));
	snprintf(cell[SC_MODE], sizeof(cell[0]), "%s", s->readonly ? "ro" : "rw");
	snprintf(cell[SC_STATE], sizeof(cell[0]), "%s",
		 s->invalid ? "invalid" : "valid");
	snprintf(cell[SC_OPEN], sizeof(cell[0]), "%u", s->open);
	ctl_size(s->exclusive * lc->chunk_bytes, lc->out.bytes, cell[SC_EXCLUSIVE],
		 sizeof(cell[0]));
	snprintf(cell[SC_LABEL], sizeof(cell[0]), "%s", s->label);
	for (i = 0; i < NR_SCOLS; i++) {
		if (i == SC_LABEL && !s->label[0])
			continue;	/* no data: JSON null */
		if (scols_line_set_data(ln, (size_t)i, cell[i]))
			return -ENOMEM;
	}
	return 0;
}

static int snap_list(int argc, char **argv)
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
	const char *cmd = "snapshot list", *list = NULL;
	struct shadow_nl_err err = { 0 };
	struct list_ctx lc = { 0 };
	int c, r;
	struct shadow_origin o;
	struct shadow_dev dev;
	struct shadow_nl *nl;

	while ((c = getopt_long(argc, argv, "JnHro:bph", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			lc.out.json = 1;
			break;
		case 'n':
		case 'H':
			lc.out.noheadings = 1;
			break;
		case 'o':
			list = optarg;
			break;
		case 'r':
			lc.out.raw = 1;
			break;
		case 'p':
		case 'b':
			lc.out.bytes = 1;
			break;
		case 'h':
			printf("Usage: shadowctl snapshot list [--json] [-H] [--raw] [-o LIST] [--bytes] ORIGIN\n\n"
			       "List the live snapshots of ORIGIN, oldest first: ID, CREATED\n"
			       "(ISO 8601, local time; - when unknown), MODE (ro, rw), STATE\n"
			       "(valid, invalid), OPEN (snapshot devices using it), EXCLUSIVE\n"
			       "(store space only it needs: what deleting it frees), LABEL.\n\n"
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
	if (argc - optind != 1) {
		ctl_err("%s: expected one ORIGIN", cmd);
		return EXIT_USAGE;
	}
	if (ctl_cols_check(cmd, snap_cols, NR_SCOLS, list))
		return EXIT_USAGE;
	nl = ctl_nl_origin(cmd, argv[optind], &dev, &r);
	if (!nl)
		return r;
	r = shadow_nl_origin_get(nl, dev, &o, &err);
	if (r) {
		shadow_nl_close(nl);
		return ctl_nl_fail(cmd, &err);
	}
	lc.chunk_bytes = (uint64_t)o.chunk_sectors * 512;

	lc.tb = ctl_new_table("snapshots", snap_cols, NR_SCOLS, &lc.out);
	if (!lc.tb) {
		shadow_nl_close(nl);
		ctl_err("%s: out of memory", cmd);
		return EXIT_FAILURE;
	}
	r = shadow_nl_snap_dump(nl, dev, snap_line, &lc, &err);
	shadow_nl_close(nl);
	if (r) {
		scols_unref_table(lc.tb);
		return ctl_nl_fail(cmd, &err);
	}
	r = ctl_table_print(lc.tb, list);
	scols_unref_table(lc.tb);
	if (r) {
		ctl_err("%s: cannot print: %s", cmd, strerror(r < 0 ? -r : r));
		return EXIT_FAILURE;
	}
	return 0;
}

/* -------------------------------------------------------- mount, unmount */

/* @dir as an absolute path (it may not exist yet); 0 or EXIT_USAGE. */
static int abs_dir(const char *cmd, const char *dir, char *buf, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (!*dir) {
		ctl_err("%s: empty DIR", cmd);
		return EXIT_USAGE;
	}
	if (realpath(dir, buf) && strlen(buf) < len)
		return 0;
	if (dir[0] == '/')
		n = snprintf(buf, len, "%s", dir);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(buf, len, "%s/%s", strcmp(cwd, "/") ? cwd : "",
			     dir);
	else
		n = -1;
	if (n < 0 || (size_t)n >= len) {
		ctl_err("%s: %s: cannot make it an absolute path", cmd, dir);
		return EXIT_USAGE;
	}
	return 0;
}

static int snap_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rw", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "snapshot mount";
	struct json_object *req, *reply = NULL;
	char dir[PATH_MAX];
	int c, r, rw = 0, json = 0;
	uint32_t id;

	while ((c = getopt_long(argc, argv, "wJh", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			rw = 1;
			break;
		case 'J':
			json = 1;
			break;
		case 'h':
			printf("Usage: shadowctl snapshot mount [--rw] [--json] ORIGIN ID DIR\n\n"
			       "Mount snapshot ID of ORIGIN on DIR through shadowd: it is\n"
			       "activated as the device shadow-mnt-ORIGIN-ID and mounted\n"
			       "nosuid,nodev, read-only unless --rw, with the options its\n"
			       "filesystem needs (xfs: nouuid).  DIR is made when missing;\n"
			       "a DIR that is not empty or is a mount point is refused.\n"
			       "Needs shadowd's snapshot class.  Undo with snapshot unmount;\n"
			       "deleting or pruning the snapshot unmounts it first.\n\n"
			       "Options:\n"
			       "  -w, --rw    mount it read-write (a writable snapshot only:\n"
			       "              the writes go to the snapshot, not the origin)\n"
			       "  -J, --json  print shadowd's reply as JSON\n"
			       "  -h, --help  this help\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 3) {
		ctl_err("%s: expected ORIGIN, ID and DIR", cmd);
		return EXIT_USAGE;
	}
	r = ctl_origin_syntax(cmd, argv[optind]);
	if (!r)
		r = ctl_snap_id_arg(cmd, argv[optind + 1], &id);
	if (!r)
		r = abs_dir(cmd, argv[optind + 2], dir, sizeof(dir));
	if (r)
		return r;
	req = ctl_sd_request("snapshot.mount");
	json_object_object_add(req, "volume",
			       json_object_new_string(argv[optind]));
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "path", json_object_new_string(dir));
	json_object_object_add(req, "writable", json_object_new_boolean(rw));
	r = ctl_sd_call(cmd, req, &reply);
	if (!r && json) {
		json_object_object_del(reply, "ok");
		return ctl_json_print(reply);
	}
	json_object_put(reply);
	return r;
}

static int snap_unmount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "snapshot unmount";
	struct json_object *req, *reply = NULL;
	char dir[PATH_MAX];
	int c, r;
	uint32_t id;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		printf("Usage: shadowctl snapshot unmount ORIGIN ID\n"
		       "       shadowctl snapshot unmount DIR\n\n"
		       "Unmount a snapshot that snapshot mount mounted and remove its\n"
		       "device (DIR itself stays).  Needs shadowd's snapshot class.\n");
		return 0;
	}
	req = ctl_sd_request("snapshot.unmount");
	if (argc - optind == 2) {
		r = ctl_origin_syntax(cmd, argv[optind]);
		if (!r)
			r = ctl_snap_id_arg(cmd, argv[optind + 1], &id);
		if (r) {
			json_object_put(req);
			return r;
		}
		json_object_object_add(req, "volume",
				       json_object_new_string(argv[optind]));
		json_object_object_add(req, "id", json_object_new_int64(id));
	} else if (argc - optind == 1) {
		r = abs_dir(cmd, argv[optind], dir, sizeof(dir));
		if (r) {
			json_object_put(req);
			return r;
		}
		json_object_object_add(req, "path",
				       json_object_new_string(dir));
	} else {
		json_object_put(req);
		ctl_err("%s: expected ORIGIN and ID, or DIR", cmd);
		return EXIT_USAGE;
	}
	r = ctl_sd_call(cmd, req, &reply);
	json_object_put(reply);
	return r;
}

static const struct ctl_command snap_cmds[] = {
	{ "create", snap_create, "cut snapshots of one or more origins" },
	{ "delete", snap_delete, "delete snapshots" },
	{ "list", snap_list, "list the snapshots of an origin" },
	{ "set-readonly", snap_set_readonly, "make a snapshot read-only" },
	{ "pin", snap_pin, "never prune a snapshot (shadowd)" },
	{ "unpin", snap_unpin, "let the policy prune it again (shadowd)" },
	{ "mount", snap_mount, "mount a snapshot on a directory (shadowd)" },
	{ "unmount", snap_unmount, "unmount it again (shadowd)" },
};

int cmd_snapshot(int argc, char **argv)
{
	return ctl_subcommand("snapshot", snap_cmds,
			      sizeof(snap_cmds) / sizeof(snap_cmds[0]),
			      argc, argv);
}

/* --------------------------------------------------------------- diff */

struct diff_out {
	int json;
	int bytes;
	uint64_t n;
	uint64_t sectors;
	/* --bitmap: one bit a chunk, or NULL to print the extents */
	uint8_t *bitmap;
	uint64_t nchunks;
	uint32_t chunk_sectors;
};

/* Mark the chunks of one extent (chunk granular, from the kernel). */
static int mark_extent(struct diff_out *d, const struct shadow_extent *e)
{
	uint64_t c = e->start / d->chunk_sectors;
	uint64_t end = (e->start + e->len + d->chunk_sectors - 1) /
		       d->chunk_sectors;

	if (end > d->nchunks)
		return -ERANGE;
	for (; c < end; c++)
		d->bitmap[c / 8] |= (uint8_t)(1u << (c % 8));
	return 0;
}

static int fill_bitmap(FILE *f, void *arg)
{
	const struct diff_out *d = arg;
	size_t len = (size_t)((d->nchunks + 7) / 8);

	return fwrite(d->bitmap, 1, len, f) == len ? 0 : -EIO;
}

static int print_extent(const struct shadow_extent *e, void *arg)
{
	struct diff_out *d = arg;
	unsigned int shift = d->bytes ? 9 : 0;
	unsigned long long start = e->start << shift, len = e->len << shift;

	if (d->bitmap) {
		d->n++;
		d->sectors += e->len;
		return mark_extent(d, e);
	}
	/* the opening waits for the first extent: an early error prints none */
	if (d->json)
		printf("%s{\"start\":%llu,\"length\":%llu}",
		       d->n ? "," : "{\"extents\":[", start, len);
	else
		printf("%llu %llu\n", start, len);
	d->n++;
	d->sectors += e->len;
	return ferror(stdout) ? -EIO : 0;
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "bitmap", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct shadow_nl_err err = { 0 };
	struct diff_out d = { 0 };
	uint32_t from, to = SHADOW_NL_LIVE;
	const char *bitmap = NULL;
	struct shadow_origin o;
	struct shadow_dev dev;
	struct shadow_nl *nl;
	int c, r, verbose = 0;
	char hbuf[16];

	while ((c = getopt_long(argc, argv, "Jbm:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			d.json = 1;
			break;
		case 'b':
			d.bytes = 1;
			break;
		case 'm':
			bitmap = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			printf("Usage: shadowctl diff [--json] [--bytes] [--bitmap FILE] [--verbose] ORIGIN FROM [TO]\n\n"
			       "Print the extents of ORIGIN whose content differs between\n"
			       "snapshot FROM and snapshot TO (a later one), or the live\n"
			       "origin when TO is left out or is \"live\": one line\n"
			       "\"<start> <length>\" per extent, ascending, in 512-byte\n"
			       "sectors, adjacent extents merged.  Extents are chunk granular.\n\n"
			       "Options:\n"
			       "  -J, --json     {\"extents\":[{\"start\":S,\"length\":L},...]}\n"
			       "  -b, --bytes    offsets and lengths in bytes\n"
			       "  -m, --bitmap FILE  write one bit a chunk to FILE instead\n"
			       "                 (bit c%%8 of byte c/8 set: chunk c changed;\n"
			       "                 ceil(chunks/8) bytes), atomically\n"
			       "  -v, --verbose  a summary on stderr\n"
			       "  -h, --help     this help\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 2 || argc - optind > 3) {
		ctl_err("diff: expected ORIGIN FROM [TO]");
		return EXIT_USAGE;
	}
	r = ctl_snap_id_arg("diff", argv[optind + 1], &from);
	if (r)
		return r;
	if (argc - optind == 3 && strcmp(argv[optind + 2], "live")) {
		r = ctl_snap_id_arg("diff", argv[optind + 2], &to);
		if (r)
			return r;
	}
	if (bitmap && (d.json || d.bytes)) {
		ctl_err("diff: --bitmap prints nothing: no --json or --bytes");
		return EXIT_USAGE;
	}
	if (bitmap && !*bitmap) {
		ctl_err("diff: --bitmap needs a file name");
		return EXIT_USAGE;
	}
	nl = ctl_nl_origin("diff", argv[optind], &dev, &r);
	if (!nl)
		return r;
	if (bitmap) {
		if (shadow_nl_origin_get(nl, dev, &o, &err)) {
			shadow_nl_close(nl);
			return ctl_nl_fail("diff", &err);
		}
		d.chunk_sectors = o.chunk_sectors ? o.chunk_sectors : 1;
		d.nchunks = (o.sectors + d.chunk_sectors - 1) / d.chunk_sectors;
		d.bitmap = calloc((size_t)((d.nchunks + 7) / 8) + 1, 1);
		if (!d.bitmap) {
			shadow_nl_close(nl);
			ctl_err("diff: out of memory");
			return EXIT_FAILURE;
		}
	}
	r = shadow_nl_diff_dump(nl, dev, from, to, print_extent, &d, &err);
	shadow_nl_close(nl);
	if (bitmap) {
		if (!r && ctl_write_file("diff", bitmap, 0644, fill_bitmap, &d))
			r = 1;
		free(d.bitmap);
		if (r > 0)
			return EXIT_FAILURE;
		if (r)
			return ctl_nl_fail("diff", &err);
		if (verbose)
			fprintf(stderr, "%llu extents, %llu of %llu chunks changed\n",
				(unsigned long long)d.n,
				(unsigned long long)(d.sectors / d.chunk_sectors),
				(unsigned long long)d.nchunks);
		return 0;
	}
	if (d.json && (d.n || !r))
		printf("%s]}\n", d.n ? "" : "{\"extents\":[");
	if (fflush(stdout) && !r) {
		ctl_err("diff: write error");
		return EXIT_FAILURE;
	}
	if (r)
		return ctl_nl_fail("diff", &err);
	if (verbose)
		fprintf(stderr, "%llu extents, %llu sectors (%s)\n",
			(unsigned long long)d.n, (unsigned long long)d.sectors,
			shadow_format_size(d.sectors * 512, hbuf, sizeof(hbuf)));
	return 0;
}
