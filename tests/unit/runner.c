// SPDX-License-Identifier: GPL-2.0
/*
 * The unit-test runner.  Usage: unit-tests [-s SUITE] [-t TEST] [-l]
 *
 * Prints one line per test and a closing "unit: N passed, N failed" line.
 * The process exit status is the number of failed tests (capped at 125),
 * not CU_get_error(), which is zero when tests fail.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <CUnit/TestRun.h>

#include "unit.h"

static const struct unit_suite *const suites[] = {
	&units_suite,
	&retention_suite,
	&shadow_nl_suite,
	&fsrvp_suite,
	&prune_suite,
	&simulate_suite,
	&cuts_suite,
	&ctl_suite,
};

#define N_SUITES (sizeof(suites) / sizeof(suites[0]))

static void on_test_complete(const CU_pTest test, const CU_pSuite suite,
			     const CU_pFailureRecord failures)
{
	CU_pFailureRecord f;

	printf("%s %s/%s\n", failures ? "FAIL" : "ok  ", suite->pName,
	       test->pName);
	for (f = failures; f; f = f->pNext)
		printf("     %s:%u: %s\n", f->strFileName, f->uiLineNumber,
		       f->strCondition);
	/*
	 * Now: a sanitizer report goes to stderr unbuffered, and a leak
	 * report at exit ends the process without flushing stdout.
	 */
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *only_suite = NULL, *only_test = NULL;
	unsigned int run, failed;
	int c, list = 0;
	size_t i;

	while ((c = getopt(argc, argv, "s:t:lh")) != -1) {
		switch (c) {
		case 's':
			only_suite = optarg;
			break;
		case 't':
			only_test = optarg;
			break;
		case 'l':
			list = 1;
			break;
		default:
			fprintf(stderr,
				"Usage: %s [-s SUITE] [-t TEST] [-l]\n", argv[0]);
			return c == 'h' ? 0 : 126;
		}
	}

	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "unit: cannot initialise CUnit\n");
		return 126;
	}

	for (i = 0; i < N_SUITES; i++) {
		const struct unit_suite *s = suites[i];
		CU_pSuite cs;
		CU_TestInfo *t;

		if (only_suite && strcmp(only_suite, s->name))
			continue;
		cs = CU_add_suite(s->name, NULL, NULL);
		if (!cs)
			return 126;
		for (t = s->tests; t->pName; t++) {
			if (only_test && strcmp(only_test, t->pName))
				continue;
			if (list) {
				printf("%s/%s\n", s->name, t->pName);
				continue;
			}
			if (!CU_add_test(cs, t->pName, t->pTestFunc))
				return 126;
		}
	}
	if (list) {
		CU_cleanup_registry();
		return 0;
	}

	CU_set_test_complete_handler(on_test_complete);
	CU_run_all_tests();

	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	printf("unit: %u passed, %u failed\n", run - failed, failed);
	fflush(stdout);
	CU_cleanup_registry();

	if (run == 0) {
		fprintf(stderr, "unit: no test matched\n");
		return 126;
	}
	return failed > 125 ? 125 : (int)failed;
}
