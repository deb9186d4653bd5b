// SPDX-License-Identifier: GPL-2.0
/* blkdev_get_by_dev(dev, fmode_t, holder) and blkdev_put(bdev, fmode_t). */
#include <linux/blkdev.h>

dev_t probe(dev_t dev);
dev_t probe(dev_t dev)
{
	fmode_t mode = FMODE_READ;
	struct block_device *bdev = blkdev_get_by_dev(dev, mode, NULL);

	blkdev_put(bdev, mode);
	return bdev->bd_dev;
}
