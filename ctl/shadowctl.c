// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl: the administrator's tool for dm-shadow.
 *
 * Subcommands live in a table; each has its own help.  Exit codes: 0 ok,
 * 1 failed, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdevmapper.h>

#include "shadowctl.h"

static const char *prog = "shadowctl";

void ctl_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* libdevmapper would print to stderr on its own; keep only real errors. */
static void dm_log_quiet(int level, const char *file, int line, int dm_errno,
			 const char *fmt, ...)
{
}

/*
 * The "shadow" targets the running kernel has registered, through the
 * DM_LIST_VERSIONS ioctl.  Returns the number found, or -1 when
 * device-mapper itself cannot be reached.
 */
static int print_kernel_targets(void)
{
	struct dm_task *dmt;
	struct dm_versions *v;
	unsigned int next;
	int found = 0;

	dmt = dm_task_create(DM_DEVICE_LIST_VERSIONS);
	if (!dmt)
		return -1;
	if (!dm_task_run(dmt)) {
		dm_task_destroy(dmt);
		return -1;
	}

	v = dm_task_get_versions(dmt);
	do {
		next = v->next;
		if (!strcmp(v->name, "shadow-origin") ||
		    !strcmp(v->name, "shadow")) {
			printf("target %-14s v%u.%u.%u\n", v->name,
			       v->version[0], v->version[1], v->version[2]);
			found++;
		}
		v = (struct dm_versions *)((char *)v + next);
	} while (next);

	dm_task_destroy(dmt);
	return found;
}

static int cmd_version(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, n;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: %s version\n\n"
			       "Print the version of shadowctl and of the dm-shadow\n"
			       "targets the running kernel has registered.\n",
			       prog);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		ctl_err("version: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}

	printf("shadowctl %s\n", SHADOW_VERSION);
	dm_log_with_errno_init(dm_log_quiet);
	n = print_kernel_targets();
	if (n < 0) {
		ctl_err("cannot reach device-mapper (is dm-mod loaded?)");
		return EXIT_FAILURE;
	}
	if (n == 0) {
		ctl_err("the dm-shadow module is not loaded");
		return EXIT_FAILURE;
	}
	return 0;
}

static const struct ctl_command commands[] = {
	{ "version", cmd_version, "show program and kernel target versions" },
	{ "store", cmd_store, "check or dump a store offline" },
	{ "origin", cmd_origin, "list and show origins, set water marks" },
	{ "snapshot", cmd_snapshot, "create, delete, list snapshots" },
	{ "diff", cmd_diff, "changed extents between two snapshots" },
	{ "monitor", cmd_monitor, "print dm-shadow events as they happen" },
	{ "samba", cmd_samba, "Samba vfs_shell_snap commands, previous versions" },
	{ "status", cmd_status, "one screen: every origin, its use and problems" },
	{ "set", cmd_set, "FSRVP shadow copy sets, one operation at a time" },
	{ "policy", cmd_policy, "show and set retention policies" },
	{ "prune", cmd_prune, "apply the retention policy of a volume or group" },
	{ "simulate", cmd_simulate, "run a policy over a synthetic schedule" },
	{ "volume", cmd_volume, "declare, activate, deactivate volumes (shadowd)" },
	{ "group", cmd_group, "consistency groups: set, list, remove (shadowd)" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s [--version] [--help] [--socket PATH] <command> [<args>]\n\n"
		"Commands:\n", prog);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun '%s <command> --help' for a command's options.\n",
		prog);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("shadowctl %s\n", SHADOW_VERSION);
		return 0;
	}

	if (!strcmp(argv[1], "--socket") || !strcmp(argv[1], "-S")) {
		if (argc < 4) {
			usage(stderr);
			return EXIT_USAGE;
		}
		ctl_sd_set_socket(argv[2]);
		argc -= 2;
		argv += 2;
	} else if (!strncmp(argv[1], "--socket=", 9)) {
		ctl_sd_set_socket(argv[1] + 9);
		argc--;
		argv++;
	}

	dm_log_with_errno_init(dm_log_quiet);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			optind = 1;
			return commands[i].fn(argc - 1, argv + 1);
		}
	}
	ctl_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
