/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SHADOWCTL_H
#define SHADOWCTL_H

#include <stdio.h>

struct ctl_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

int cmd_store(int argc, char **argv);

void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
