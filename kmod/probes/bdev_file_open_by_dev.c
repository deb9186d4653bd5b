// SPDX-License-Identifier: GPL-2.0
/* Block devices opened as files: bdev_file_open_by_dev(), file_bdev(). */
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>

dev_t probe(dev_t dev);
dev_t probe(dev_t dev)
{
	struct file *f = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	dev_t r = file_bdev(f)->bd_dev;

	fput(f);
	return r;
}
