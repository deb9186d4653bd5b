// SPDX-License-Identifier: GPL-2.0
/* WQ_PERCPU: a workqueue bound to CPUs says so (7.x warns when it does not). */
#include <linux/workqueue.h>

unsigned int probe(void);
unsigned int probe(void)
{
	return WQ_PERCPU;
}
