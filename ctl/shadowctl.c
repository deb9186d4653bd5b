// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl: the administrator's tool for dm-shadow.
 *
 * Subcommands live in a table (ctl/commands.c); each has its own help.
 * Exit codes: 0 ok, 1 failed, 2 usage error.  Only main() is here: the
 * unit tests link every other ctl/ file and run the commands in-process.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "shadowctl.h"

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s [--version] [--help] [--socket PATH] <command> [<args>]\n\n"
		"Commands:\n", CTL_PROG);
	for (i = 0; i < ctl_n_commands; i++)
		fprintf(f, "  %-12s %s\n", ctl_commands[i].name,
			ctl_commands[i].summary);
	fprintf(f, "\nRun '%s <command> --help' for a command's options.\n",
		CTL_PROG);
}

int main(int argc, char **argv)
{
	const struct ctl_command *cmd;

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

	ctl_dm_log_quiet();
	cmd = ctl_command_find(argv[1]);
	if (cmd) {
		optind = 1;
		return cmd->fn(argc - 1, argv + 1);
	}
	ctl_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
