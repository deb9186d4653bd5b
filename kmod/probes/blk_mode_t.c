// SPDX-License-Identifier: GPL-2.0
/* Open modes of block devices and dm tables are blk_mode_t (BLK_OPEN_*). */
#include <linux/blkdev.h>
#include <linux/device-mapper.h>

int probe(struct dm_table *t);
int probe(struct dm_table *t)
{
	blk_mode_t mode = dm_table_get_mode(t);

	return !!(mode & BLK_OPEN_WRITE);
}
