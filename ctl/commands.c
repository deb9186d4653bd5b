// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl: the table of commands, their lookup, ctl_err() and the
 * version command.  Everything main() needs but main() itself, so that the
 * unit tests (tests/unit/test_ctl.c) can link the commands and run them
 * in-process.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdevmapper.h>

#include "shadowctl.h"

void ctl_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", CTL_PROG);
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

void ctl_dm_log_quiet(void)
{
	dm_log_with_errno_init(dm_log_quiet);
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
			       CTL_PROG);
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
	ctl_dm_log_quiet();
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

const struct ctl_command ctl_commands[] = {
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

const size_t ctl_n_commands = sizeof(ctl_commands) / sizeof(ctl_commands[0]);

const struct ctl_command *ctl_command_find(const char *name)
{
	size_t i;

	for (i = 0; i < ctl_n_commands; i++)
		if (!strcmp(name, ctl_commands[i].name))
			return &ctl_commands[i];
	return NULL;
}
