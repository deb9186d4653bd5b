// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl policy set|show, prune and simulate: retention policies
 * (Documentation/retention.rst).  policy and prune go through shadowd
 * (policy.set, policy.show, prune); simulate runs locally
 * (lib/simulate.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <libsmartcols.h>

#include "retention.h"
#include "shadow-nl.h"
#include "simulate.h"
#include "ctlout.h"

/* The common table options: -J, -H/-n, -r, -o LIST, -p/-b. */
struct tab_opts {
	struct ctl_out out;
	const char *cols;
};

#define TAB_SHORT "JnHro:pb"
#define TAB_LONG \
	{ "json", no_argument, NULL, 'J' }, \
	{ "noheadings", no_argument, NULL, 'n' }, \
	{ "raw", no_argument, NULL, 'r' }, \
	{ "output", required_argument, NULL, 'o' }, \
	{ "bytes", no_argument, NULL, 'p' }

#define TAB_HELP \
	"  -J, --json            JSON output\n" \
	"  -H, -n, --noheadings  no header line\n" \
	"  -r, --raw             raw output\n" \
	"  -o, --output COLS     the columns to print, comma-separated\n"

/* true when @c was a table option. */
static bool tab_opt(struct tab_opts *t, int c, const char *arg)
{
	switch (c) {
	case 'J':
		t->out.json = 1;
		return true;
	case 'n':
	case 'H':
		t->out.noheadings = 1;
		return true;
	case 'r':
		t->out.raw = 1;
		return true;
	case 'o':
		t->cols = arg;
		return true;
	case 'p':
	case 'b':
		t->out.bytes = 1;
		return true;
	}
	return false;
}

static int64_t rint64(struct json_object *r, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(r, key, &v))
		return json_object_get_int64(v);
	return 0;
}

/* Print the fields @keys of @reply as one JSON document. */
static int print_fields(struct json_object *reply, const char *const *keys)
{
	struct json_object *o = json_object_new_object(), *v;

	for (; *keys; keys++)
		if (json_object_object_get_ex(reply, *keys, &v))
			json_object_object_add(o, *keys, json_object_get(v));
	return ctl_json_print(o);
}

/* --------------------------------------------------------------- policy */

static int policy_set(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "policy set";
	char err[SHADOW_RET_ERRLEN];
	struct shadow_ret_policy p;
	struct json_object *req, *reply = NULL;
	size_t len = 1;
	char *text;
	int c, i, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		printf("Usage: shadowctl policy set VOLUME|@GROUP 'SETTING=VALUE ...'\n\n"
		       "Set the retention policy of VOLUME (a dm name, a path or\n"
		       "MAJ:MIN) or of the consistency group GROUP (group set) in\n"
		       "shadowd; it replaces the previous one and is kept in\n"
		       "shadowd's state directory.  A group's policy judges whole\n"
		       "cuts (shadowctl(8), CONSISTENCY GROUPS).  Settings (Documentation/\n"
		       "retention.rst): keep-last, keep-hourly, keep-daily,\n"
		       "keep-weekly, keep-monthly, keep-yearly (N or unlimited),\n"
		       "keep-within, keep-within-<period>, min-age (durations:\n"
		       "36h, 7d, 2w, 3m, 1y), max-count, store-high, store-low\n"
		       "(percent), pick (newest, oldest), timezone.  The settings\n"
		       "may be one argument or several.  An empty text ('')\n"
		       "removes the policy set over the socket.\n\n"
		       "Example: shadowctl policy set data 'keep-daily=7 keep-weekly=4'\n");
		return 0;
	}
	if (argc - optind < 2) {
		ctl_err("%s: expected VOLUME and the settings", cmd);
		return EXIT_USAGE;
	}
	for (i = optind + 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	text = calloc(1, len);
	if (!text) {
		ctl_err("%s: out of memory", cmd);
		return EXIT_FAILURE;
	}
	for (i = optind + 1; i < argc; i++) {
		if (i > optind + 1)
			strcat(text, " ");
		strcat(text, argv[i]);
	}
	/* Refuse a bad policy here, with the engine's message. */
	shadow_ret_policy_init(&p);
	if (text[strspn(text, " \t\n")] &&
	    shadow_ret_policy_parse(&p, text, err, sizeof(err))) {
		ctl_err("%s: %s", cmd, err);
		free(text);
		return EXIT_USAGE;
	}
	if (ctl_group_name(argv[optind]) ?
	    ctl_group_syntax(cmd, ctl_group_name(argv[optind])) :
	    ctl_origin_syntax(cmd, argv[optind])) {
		free(text);
		return EXIT_USAGE;
	}
	req = ctl_sd_request("policy.set");
	if (ctl_group_name(argv[optind]))
		json_object_object_add(req, "group", json_object_new_string(
				       ctl_group_name(argv[optind])));
	else
		json_object_object_add(req, "volume",
				       json_object_new_string(argv[optind]));
	json_object_object_add(req, "policy", json_object_new_string(
			       text[strspn(text, " \t\n")] ? text : ""));
	free(text);
	ret = ctl_sd_call(cmd, req, &reply);
	json_object_put(reply);
	return ret;
}

enum { PC_VOLUME, PC_SOURCE, PC_HIGH, PC_LOW, PC_POLICY, NR_PCOLS };

static const struct ctl_col policy_cols[NR_PCOLS] = {
	[PC_VOLUME] = { "VOLUME", 0.2, 0, SCOLS_JSON_STRING },
	[PC_SOURCE] = { "SOURCE", 6, 0, SCOLS_JSON_STRING },
	[PC_HIGH] = { "HIGH", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[PC_LOW] = { "LOW", 3, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[PC_POLICY] = { "POLICY", 0.5, 0, SCOLS_JSON_STRING },
};

static int policy_line(struct libscols_table *tb, struct json_object *pol)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	char high[16], low[16], *text, *q;
	const char *s = ctl_json_str(pol, "policy");
	int r = -ENOMEM;

	if (!ln)
		return -ENOMEM;
	text = strdup(s ? s : "");
	if (!text)
		return -ENOMEM;
	/* one line: settings separated by blanks */
	for (q = text; *q; q++)
		if (*q == '\n')
			*q = ' ';
	while (q > text && q[-1] == ' ')
		*--q = '\0';
	snprintf(high, sizeof(high), "%lld", (long long)rint64(pol, "store_high"));
	snprintf(low, sizeof(low), "%lld", (long long)rint64(pol, "store_low"));
	if (!scols_line_set_data(ln, PC_VOLUME,
				 ctl_json_str(pol, "volume") ?: "") &&
	    !scols_line_set_data(ln, PC_SOURCE,
				 ctl_json_str(pol, "source") ?: "") &&
	    !scols_line_set_data(ln, PC_HIGH, high) &&
	    !scols_line_set_data(ln, PC_LOW, low) &&
	    !scols_line_set_data(ln, PC_POLICY, text))
		r = 0;
	free(text);
	return r;
}

static int policy_show(int argc, char **argv)
{
	static const struct option opts[] = {
		TAB_LONG,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "policy show";
	struct json_object *req, *reply = NULL, *pol, *a;
	struct libscols_table *tb;
	struct tab_opts t = { 0 };
	size_t i;
	int c, ret;

	while ((c = getopt_long(argc, argv, TAB_SHORT "h", opts, NULL)) != -1) {
		if (tab_opt(&t, c, optarg))
			continue;
		if (c != 'h')
			return EXIT_USAGE;
		printf("Usage: shadowctl policy show [--json] [-H] [-r] [-o COLS] [VOLUME|@GROUP]\n\n"
		       "Show the retention policy of VOLUME or GROUP as \"key=value\"\n"
		       "lines, or with no argument every policy shadowd has, one line\n"
		       "each: VOLUME (@GROUP for a group's), SOURCE (config:\n"
		       "shadowd.conf, state: policy set),\n"
		       "HIGH and LOW (store-high/store-low percent, 0 when off),\n"
		       "POLICY.  A volume without a policy prints nothing (exit 0);\n"
		       "--json gives {\"policy\": null}.\n\n"
		       "Options:\n" TAB_HELP
		       "  -h, --help            this help\n");
		return 0;
	}
	if (argc - optind > 1) {
		ctl_err("%s: expected at most one VOLUME", cmd);
		return EXIT_USAGE;
	}
	if (ctl_cols_check(cmd, policy_cols, NR_PCOLS, t.cols))
		return EXIT_USAGE;
	if (optind < argc && (ctl_group_name(argv[optind]) ?
	    ctl_group_syntax(cmd, ctl_group_name(argv[optind])) :
	    ctl_origin_syntax(cmd, argv[optind])))
		return EXIT_USAGE;
	req = ctl_sd_request("policy.show");
	if (optind < argc && ctl_group_name(argv[optind]))
		json_object_object_add(req, "group", json_object_new_string(
				       ctl_group_name(argv[optind])));
	else if (optind < argc)
		json_object_object_add(req, "volume",
				       json_object_new_string(argv[optind]));
	ret = ctl_sd_call(cmd, req, &reply);
	if (ret)
		goto out;

	if (optind < argc && !t.cols) {
		static const char *const keys[] = { "policy", NULL };

		if (t.out.json) {
			ret = print_fields(reply, keys);
			goto out;
		}
		if (json_object_object_get_ex(reply, "policy", &pol) && pol)
			fputs(ctl_json_str(pol, "policy") ?: "", stdout);
		goto out;
	}
	tb = ctl_new_table("policies", policy_cols, NR_PCOLS, &t.out);
	if (!tb) {
		ctl_err("%s: out of memory", cmd);
		scols_unref_table(tb);
		ret = EXIT_FAILURE;
		goto out;
	}
	if (json_object_object_get_ex(reply, "policies", &a)) {
		for (i = 0; i < json_object_array_length(a); i++)
			if (policy_line(tb, json_object_array_get_idx(a, i)))
				ret = EXIT_FAILURE;
	} else if (json_object_object_get_ex(reply, "policy", &pol) && pol) {
		if (policy_line(tb, pol))
			ret = EXIT_FAILURE;
	}
	if (ret)
		ctl_err("%s: out of memory", cmd);
	else
		ctl_table_print(tb, t.cols);
	scols_unref_table(tb);
out:
	json_object_put(reply);
	return ret;
}

static const struct ctl_command policy_cmds[] = {
	{ "set", policy_set, "set the retention policy of a volume" },
	{ "show", policy_show, "show one policy or all" },
};

int cmd_policy(int argc, char **argv)
{
	return ctl_subcommand("policy", policy_cmds,
			      sizeof(policy_cmds) / sizeof(policy_cmds[0]),
			      argc, argv);
}

/* ---------------------------------------------------------------- prune */

enum { RC_ID, RC_CREATED, RC_ACTION, RC_REASONS, RC_LABEL, RC_RESULT,
       NR_RCOLS };

static const struct ctl_col prune_cols[NR_RCOLS] = {
	[RC_ID] = { "ID", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[RC_CREATED] = { "CREATED", 25, 0, SCOLS_JSON_STRING },
	[RC_ACTION] = { "ACTION", 6, 0, SCOLS_JSON_STRING },
	[RC_REASONS] = { "REASONS", 0.5, 0, SCOLS_JSON_STRING },
	[RC_LABEL] = { "LABEL", 0.1, 0, SCOLS_JSON_STRING },
	[RC_RESULT] = { "RESULT", 0.1, 0, SCOLS_JSON_STRING },
};

static int prune_line(struct libscols_table *tb, struct json_object *x,
		      bool dry_run)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	char id[16], created[40];
	const char *result = NULL;
	struct json_object *v;

	if (!ln)
		return -ENOMEM;
	snprintf(id, sizeof(id), "%lld", (long long)rint64(x, "id"));
	ctl_time(rint64(x, "created"), created, sizeof(created));
	if (!dry_run && json_object_object_get_ex(x, "deleted", &v))
		result = json_object_get_boolean(v) ? "deleted" :
			ctl_json_str(x, "error") ?: "failed";
	if (scols_line_set_data(ln, RC_ID, id) ||
	    scols_line_set_data(ln, RC_CREATED, created) ||
	    scols_line_set_data(ln, RC_ACTION, ctl_json_str(x, "action")) ||
	    scols_line_set_data(ln, RC_REASONS,
				ctl_json_str(x, "reason_text")) ||
	    (ctl_json_str(x, "label") &&
	     scols_line_set_data(ln, RC_LABEL, ctl_json_str(x, "label"))) ||
	    (result && scols_line_set_data(ln, RC_RESULT, result)))
		return -ENOMEM;
	return 0;
}

/* A group's prune: one line per cut (or snapshot in no cut). */
enum { GR_CUT, GR_CREATED, GR_ACTION, GR_REASONS, GR_MEMBERS, GR_RESULT,
       NR_GRCOLS };

static const struct ctl_col gprune_cols[NR_GRCOLS] = {
	[GR_CUT] = { "CUT", 4, SCOLS_FL_RIGHT, SCOLS_JSON_STRING },
	[GR_CREATED] = { "CREATED", 25, 0, SCOLS_JSON_STRING },
	[GR_ACTION] = { "ACTION", 6, 0, SCOLS_JSON_STRING },
	[GR_REASONS] = { "REASONS", 0.4, 0, SCOLS_JSON_STRING },
	[GR_MEMBERS] = { "MEMBERS", 0.3, 0, SCOLS_JSON_STRING },
	[GR_RESULT] = { "RESULT", 0.1, 0, SCOLS_JSON_STRING },
};

static int gprune_line(struct libscols_table *tb, struct json_object *x,
		       bool dry_run)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	char cut[24], created[40], members[4096] = "";
	const char *result = NULL;
	struct json_object *a, *v;
	size_t i, len = 0, ndel = 0, nm = 0;

	if (!ln)
		return -ENOMEM;
	if (json_object_object_get_ex(x, "cut", &v) && v)
		snprintf(cut, sizeof(cut), "%lld",
			 (long long)json_object_get_int64(v));
	else
		snprintf(cut, sizeof(cut), "-");
	ctl_time(rint64(x, "created"), created, sizeof(created));
	if (json_object_object_get_ex(x, "members", &a) &&
	    json_object_is_type(a, json_type_array)) {
		nm = json_object_array_length(a);
		for (i = 0; i < nm; i++) {
			struct json_object *m = json_object_array_get_idx(a, i);

			len += (size_t)snprintf(members + len,
					len < sizeof(members) ?
					sizeof(members) - len : 0, "%s%s/%lld",
					i ? " " : "",
					ctl_json_str(m, "volume") ?: "?",
					(long long)rint64(m, "id"));
			if (dry_run ||
			    !json_object_object_get_ex(m, "deleted", &v))
				continue;
			if (json_object_get_boolean(v))
				ndel++;
			else if (!result)
				result = ctl_json_str(m, "error") ?: "failed";
		}
	}
	if (!result && !dry_run && nm && ndel == nm)
		result = "deleted";
	if (scols_line_set_data(ln, GR_CUT, cut) ||
	    scols_line_set_data(ln, GR_CREATED, created) ||
	    scols_line_set_data(ln, GR_ACTION, ctl_json_str(x, "action")) ||
	    scols_line_set_data(ln, GR_REASONS,
				ctl_json_str(x, "reason_text")) ||
	    scols_line_set_data(ln, GR_MEMBERS, members) ||
	    (result && scols_line_set_data(ln, GR_RESULT, result)))
		return -ENOMEM;
	return 0;
}

int cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		TAB_LONG,
		{ "dry-run", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const keys[] = { "volume", "dry_run", "policy",
		"kept", "removed", "failed", "snapshots", NULL };
	static const char *const gkeys[] = { "group", "volumes", "dry_run",
		"policy", "kept", "removed", "failed", "cuts", NULL };
	const char *cmd = "prune", *group;
	struct json_object *req, *reply = NULL, *a;
	struct libscols_table *tb;
	struct tab_opts t = { 0 };
	bool dry_run = false, oom = false;
	size_t i;
	int c, ret;

	while ((c = getopt_long(argc, argv, TAB_SHORT "Nh", opts,
				NULL)) != -1) {
		if (c == 'N') {
			dry_run = true;
			continue;
		}
		if (tab_opt(&t, c, optarg))
			continue;
		if (c != 'h')
			return EXIT_USAGE;
		printf("Usage: shadowctl prune [--dry-run] [--json] [-H] [-r] [-o COLS] VOLUME|@GROUP\n\n"
		       "Apply the retention policy of VOLUME (policy set) to its live\n"
		       "snapshots: every keep rule, min-age and max-count.  Prints\n"
		       "one line per snapshot, oldest first: ID, CREATED, ACTION (keep,\n"
		       "remove), REASONS (the rules that keep it, or why it goes),\n"
		       "LABEL, RESULT (deleted, or the error; not with --dry-run).\n"
		       "Pinned snapshots (snapshot pin) and those of FSRVP sets are\n"
		       "always kept (\"pinned\").  Space pressure is shadowd's own.\n\n"
		       "Options:\n"
		       "  -N, --dry-run         decide and print, delete nothing\n"
		       TAB_HELP
		       "  -h, --help            this help\n\n"
		       "--json prints {\"volume\", \"dry_run\", \"policy\", \"kept\", \"removed\",\n"
		       "\"failed\", \"snapshots\": [{\"id\", \"created\" (Unix seconds),\n"
		       "\"ctime_ns\", \"label\", \"action\", \"reasons\": [...], \"reason_text\",\n"
		       "\"deleted\", \"error\"}]}.\n\n"
		       "With @GROUP, the group's policy judges whole cuts (one line\n"
		       "each: CUT, CREATED, ACTION, REASONS, MEMBERS as VOLUME/ID,\n"
		       "RESULT); a cut goes whole.  Snapshots in no cut are judged by\n"
		       "their volume's own policy, or kept (CUT \"-\").  --json prints\n"
		       "{\"group\", \"volumes\", \"dry_run\", \"policy\", \"kept\", \"removed\",\n"
		       "\"failed\" (snapshots), \"cuts\": [{\"cut\" (null: in no cut),\n"
		       "\"created\", \"ctime_ns\", \"action\", \"judged_by\" (group, volume,\n"
		       "none), \"reasons\", \"reason_text\", \"members\": [{\"volume\", \"id\",\n"
		       "\"ctime_ns\", \"label\", \"deleted\", \"error\"}]}]}.  A member of a\n"
		       "group with a policy is pruned with its group only.\n\n"
		       "Exit status: 0 ok, 1 a deletion failed or no policy, 2 usage,\n"
		       "3 shadowd unreachable, 4 not authorised, 5 no such volume or\n"
		       "group.\n");
		return 0;
	}
	if (argc - optind != 1) {
		ctl_err("%s: expected one VOLUME", cmd);
		return EXIT_USAGE;
	}
	group = ctl_group_name(argv[optind]);
	if (group ? ctl_cols_check(cmd, gprune_cols, NR_GRCOLS, t.cols) ||
		    ctl_group_syntax(cmd, group) :
		    ctl_cols_check(cmd, prune_cols, NR_RCOLS, t.cols) ||
		    ctl_origin_syntax(cmd, argv[optind]))
		return EXIT_USAGE;
	req = ctl_sd_request("prune");
	if (group)
		json_object_object_add(req, "group",
				       json_object_new_string(group));
	else
		json_object_object_add(req, "volume",
				       json_object_new_string(argv[optind]));
	json_object_object_add(req, "dry_run",
			       json_object_new_boolean(dry_run));
	ret = ctl_sd_call(cmd, req, &reply);
	if (ret)
		goto out;
	if (rint64(reply, "failed")) {
		ctl_err("%s: %lld snapshot(s) could not be deleted", cmd,
			(long long)rint64(reply, "failed"));
		ret = EXIT_FAILURE;
	}
	if (t.out.json) {
		int r = print_fields(reply, group ? gkeys : keys);

		ret = ret ? ret : r;
		goto out;
	}
	if (group) {
		tb = ctl_new_table("cuts", gprune_cols, NR_GRCOLS, &t.out);
		if (!tb) {
			ctl_err("%s: out of memory", cmd);
			ret = EXIT_FAILURE;
			goto out;
		}
		if (dry_run && !t.cols) {
			struct libscols_column *cl =
				scols_table_get_column(tb, GR_RESULT);

			scols_column_set_flags(cl, scols_column_get_flags(cl) |
					       SCOLS_FL_HIDDEN);
		}
		if (json_object_object_get_ex(reply, "cuts", &a) &&
		    json_object_is_type(a, json_type_array))
			for (i = 0; i < json_object_array_length(a) && !oom;
			     i++)
				oom = gprune_line(tb,
					json_object_array_get_idx(a, i),
					dry_run);
		goto print;
	}
	tb = ctl_new_table("snapshots", prune_cols, NR_RCOLS, &t.out);
	if (!tb) {
		scols_unref_table(tb);
		ctl_err("%s: out of memory", cmd);
		ret = EXIT_FAILURE;
		goto out;
	}
	if (dry_run && !t.cols) {
		struct libscols_column *cl =
			scols_table_get_column(tb, RC_RESULT);

		scols_column_set_flags(cl, scols_column_get_flags(cl) |
				       SCOLS_FL_HIDDEN);
	}
	if (json_object_object_get_ex(reply, "snapshots", &a) &&
	    json_object_is_type(a, json_type_array))
		for (i = 0; i < json_object_array_length(a) && !oom; i++)
			oom = prune_line(tb, json_object_array_get_idx(a, i),
					 dry_run);
print:
	if (oom) {
		ctl_err("%s: out of memory", cmd);
		ret = EXIT_FAILURE;
	} else
		ctl_table_print(tb, t.cols);
	scols_unref_table(tb);
out:
	json_object_put(reply);
	return ret;
}

/* ------------------------------------------------------------- simulate */

enum { MC_ID, MC_CREATED, MC_REASONS, NR_MCOLS };

static const struct ctl_col sim_cols[NR_MCOLS] = {
	[MC_ID] = { "ID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[MC_CREATED] = { "CREATED", 25, 0, SCOLS_JSON_STRING },
	[MC_REASONS] = { "REASONS", 0.5, 0, SCOLS_JSON_STRING },
};

/* A time as ISO 8601 in UTC or in the policy's zone. */
static char *sim_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
	return buf;
}

static int sim_json(const struct shadow_sim_args *a,
		    const struct shadow_sim_report *r)
{
	struct json_object *o = json_object_new_object(), *arr, *x, *rs;
	char buf[64], text[1024];
	unsigned int bit;
	size_t i;

	shadow_ret_policy_format(&a->policy, text, sizeof(text));
	json_object_object_add(o, "policy", json_object_new_string(text));
	json_object_object_add(o, "every", json_object_new_string(
		shadow_duration_format(&a->every, buf, sizeof(buf))));
	json_object_object_add(o, "for", json_object_new_string(
		shadow_duration_format(&a->span, buf, sizeof(buf))));
	json_object_object_add(o, "start", json_object_new_int64(r->start));
	json_object_object_add(o, "end", json_object_new_int64(r->end));
	json_object_object_add(o, "taken", json_object_new_int64((int64_t)r->taken));
	json_object_object_add(o, "removed",
			       json_object_new_int64((int64_t)r->removed));
	json_object_object_add(o, "peak", json_object_new_int64((int64_t)r->peak));
	json_object_object_add(o, "peak_at", json_object_new_int64(r->peak_at));
	json_object_object_add(o, "peak_kept",
			       json_object_new_int64((int64_t)r->peak_kept));
	json_object_object_add(o, "left", json_object_new_int64((int64_t)r->n_left));
	arr = json_object_new_array();
	for (i = 0; i < r->n_left; i++) {
		x = json_object_new_object();
		json_object_object_add(x, "id",
				json_object_new_int64((int64_t)r->left[i].id));
		json_object_object_add(x, "created",
				json_object_new_int64(r->left[i].ctime));
		rs = json_object_new_array();
		for (bit = 0; bit < SHADOW_RET_R_NBITS; bit++)
			if (r->left[i].reasons & (1u << bit))
				json_object_array_add(rs,
					json_object_new_string(
					shadow_ret_reason_key(1u << bit)));
		json_object_object_add(x, "reasons", rs);
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "snapshots", arr);
	return ctl_json_print(o);
}

static int sim_table(const struct shadow_sim_args *a,
		     const struct shadow_sim_report *r, struct tab_opts *t)
{
	struct libscols_table *tb;
	char id[24], created[40], reasons[512], b1[40], b2[40];
	size_t i;

	tb = ctl_new_table("snapshots", sim_cols, NR_MCOLS, &t->out);
	if (!tb) {
		scols_unref_table(tb);
		return -ENOMEM;
	}
	for (i = 0; i < r->n_left; i++) {
		struct libscols_line *ln = scols_table_new_line(tb, NULL);

		snprintf(id, sizeof(id), "%llu",
			 (unsigned long long)r->left[i].id);
		sim_time(r->left[i].ctime, created, sizeof(created));
		shadow_ret_reasons_format(r->left[i].reasons, &a->policy,
					  reasons, sizeof(reasons));
		if (!ln || scols_line_set_data(ln, MC_ID, id) ||
		    scols_line_set_data(ln, MC_CREATED, created) ||
		    scols_line_set_data(ln, MC_REASONS, reasons)) {
			scols_unref_table(tb);
			return -ENOMEM;
		}
	}
	if (!t->out.noheadings)
		printf("%zu snapshot(s) taken from %s to %s, %zu removed; "
		       "%zu left; peak %zu at %s (%zu after a prune)\n",
		       r->taken, sim_time(r->start, b1, sizeof(b1)),
		       sim_time(r->end, b2, sizeof(b2)), r->removed, r->n_left,
		       r->peak, sim_time(r->peak_at, created, sizeof(created)),
		       r->peak_kept);
	ctl_table_print(tb, t->cols);
	scols_unref_table(tb);
	return 0;
}

int cmd_simulate(int argc, char **argv)
{
	static const struct option opts[] = {
		TAB_LONG,
		{ "every", required_argument, NULL, 'e' },
		{ "for", required_argument, NULL, 'f' },
		{ "start", required_argument, NULL, 's' },
		{ "tz", required_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "simulate", *every = NULL, *span = NULL;
	const char *start = NULL, *tz = NULL;
	char err[SHADOW_RET_ERRLEN + 64];
	struct shadow_sim_report r;
	struct shadow_sim_args a;
	struct tab_opts t = { 0 };
	int c, ret;

	while ((c = getopt_long(argc, argv, TAB_SHORT "e:f:s:z:h", opts,
				NULL)) != -1) {
		switch (c) {
		case 'e':
			every = optarg;
			continue;
		case 'f':
			span = optarg;
			continue;
		case 's':
			start = optarg;
			continue;
		case 'z':
			tz = optarg;
			continue;
		}
		if (tab_opt(&t, c, optarg))
			continue;
		if (c != 'h')
			return EXIT_USAGE;
		printf("Usage: shadowctl simulate [options] --every DURATION --for DURATION\n"
		       "                          [--start ISO8601] [--tz ZONE] 'POLICY'\n\n"
		       "Run a retention policy forward over a synthetic schedule, here,\n"
		       "without shadowd: one snapshot every DURATION from --start (default:\n"
		       "the current hour) for --for, pruning after each.  Prints a summary\n"
		       "line (taken, removed, left, peak: the most snapshots present at\n"
		       "once, just before a prune) and the snapshots left at the end,\n"
		       "newest first: ID (1 = the first taken), CREATED (UTC), REASONS.\n"
		       "Durations: 30min, 1h, 1d, 2w, 3m, 1y (days and longer keep the\n"
		       "wall-clock time across daylight saving).\n\n"
		       "Options:\n"
		       "  -e, --every DURATION  interval between snapshots\n"
		       "  -f, --for DURATION    how long the schedule runs\n"
		       "  -s, --start TIME      first snapshot: 2024-01-01T00:00:00Z, or\n"
		       "                        without offset in the policy's zone\n"
		       "  -z, --tz ZONE         time zone of the calendar periods (UTC,\n"
		       "                        Europe/Berlin); overrides the policy's\n"
		       TAB_HELP
		       "  -h, --help            this help\n\n"
		       "Example: shadowctl simulate --every 1h --for 1y 'keep-hourly=24 keep-daily=7'\n");
		return 0;
	}
	if (argc - optind < 1) {
		ctl_err("%s: expected a POLICY", cmd);
		return EXIT_USAGE;
	}
	if (!every || !span) {
		ctl_err("%s: --every and --for are required", cmd);
		return EXIT_USAGE;
	}
	if (ctl_cols_check(cmd, sim_cols, NR_MCOLS, t.cols))
		return EXIT_USAGE;
	{
		char *text;
		size_t len = 1;
		int i;

		for (i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		text = calloc(1, len);
		if (!text) {
			ctl_err("%s: out of memory", cmd);
			return EXIT_FAILURE;
		}
		for (i = optind; i < argc; i++) {
			if (i > optind)
				strcat(text, " ");
			strcat(text, argv[i]);
		}
		ret = shadow_sim_setup(&a, text, every, span, start, tz,
				       time(NULL), err, sizeof(err));
		free(text);
	}
	if (ret) {
		ctl_err("%s: %s", cmd, err);
		return EXIT_USAGE;
	}
	ret = shadow_sim_run(&a, &r);
	if (ret) {
		ctl_err("%s: %s", cmd, strerror(-ret));
		return EXIT_FAILURE;
	}
	if (t.out.json)
		ret = sim_json(&a, &r);
	else if (sim_table(&a, &r, &t)) {
		ctl_err("%s: out of memory", cmd);
		ret = EXIT_FAILURE;
	}
	shadow_sim_report_free(&r);
	return ret;
}
