// SPDX-License-Identifier: GPL-2.0
/* freeze_bdev() and thaw_bdev() (before 6.8). */
#include <linux/blkdev.h>

int probe(struct block_device *bdev);
int probe(struct block_device *bdev)
{
	return freeze_bdev(bdev) ?: thaw_bdev(bdev);
}
