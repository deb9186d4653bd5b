/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests: each test file defines one registration function and lists
 * it in suites[] in runner.c.
 */
#ifndef SHADOW_UNIT_H
#define SHADOW_UNIT_H

#include <CUnit/CUnit.h>

struct unit_suite {
	const char *name;
	CU_TestInfo *tests;
};

extern const struct unit_suite units_suite;
extern const struct unit_suite retention_suite;
extern const struct unit_suite shadow_nl_suite;
extern const struct unit_suite fsrvp_suite;
extern const struct unit_suite prune_suite;
extern const struct unit_suite simulate_suite;
extern const struct unit_suite cuts_suite;
extern const struct unit_suite ctl_suite;

#endif
