// SPDX-License-Identifier: GPL-2.0
/* dm_io() with an I/O priority and no unsupported-operation bits. */
#include <linux/dm-io.h>
#include <linux/ioprio.h>

int probe(struct dm_io_request *req, struct dm_io_region *where);
int probe(struct dm_io_request *req, struct dm_io_region *where)
{
	unsigned long error_bits;

	return dm_io(req, 1, where, &error_bits, IOPRIO_DEFAULT);
}
