/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-shadow: the kernel interfaces that moved between the kernels the
 * module supports, behind one name each.
 *
 * Which form a kernel has is found out at build time by the probes in
 * kmod/probes (see kmod/Kbuild), never from its version number.  A kernel
 * that has none of the forms the module knows stops the build at one
 * #error line naming what is missing.
 */
#ifndef DM_SHADOW_COMPAT_H
#define DM_SHADOW_COMPAT_H

#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ioprio.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>

#include "shadow-probes.h"

#if !IS_ENABLED(CONFIG_BLK_DEV_DM)
#error "dm-shadow needs a kernel built with device-mapper (CONFIG_BLK_DEV_DM)"
#endif

/*
 * A per-CPU workqueue: kernels that have WQ_PERCPU warn when a workqueue
 * names neither it nor WQ_UNBOUND; older ones are per-CPU by default.
 */
#if defined(HAVE_WQ_PERCPU)
#define SHADOW_WQ_PERCPU	WQ_PERCPU
#else
#define SHADOW_WQ_PERCPU	0
#endif

/* How a dm table or a block device is opened: fmode_t, then blk_mode_t. */
#if defined(HAVE_BLK_MODE_T)
#define shadow_mode_t		blk_mode_t
#define SHADOW_MODE_READ	BLK_OPEN_READ
#define SHADOW_MODE_WRITE	BLK_OPEN_WRITE
#else
#define shadow_mode_t		fmode_t
#define SHADOW_MODE_READ	FMODE_READ
#define SHADOW_MODE_WRITE	FMODE_WRITE
#endif

/* Freezing the filesystem on a block device. */
#if defined(HAVE_BDEV_FREEZE)
static inline int shadow_bdev_freeze(struct block_device *bdev)
{
	return bdev_freeze(bdev);
}

static inline void shadow_bdev_thaw(struct block_device *bdev)
{
	bdev_thaw(bdev);
}
#elif defined(HAVE_FREEZE_BDEV)
static inline int shadow_bdev_freeze(struct block_device *bdev)
{
	return freeze_bdev(bdev);
}

static inline void shadow_bdev_thaw(struct block_device *bdev)
{
	thaw_bdev(bdev);
}
#else
#error "dm-shadow needs bdev_freeze() or freeze_bdev(); this kernel has neither"
#endif

/**
 * struct shadow_bdev_ref - a block device held open for reading, unclaimed.
 * @file: the open device (kernels that open block devices as files).
 * @bdev: the open device (kernels with blkdev_get_by_dev()).
 */
struct shadow_bdev_ref {
#if defined(HAVE_BDEV_FILE_OPEN_BY_DEV)
	struct file *file;
#else
	struct block_device *bdev;
#endif
};

#if defined(HAVE_BDEV_FILE_OPEN_BY_DEV)
static inline int shadow_bdev_open_read(dev_t dev, struct shadow_bdev_ref *ref)
{
	ref->file = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	if (IS_ERR(ref->file))
		return PTR_ERR(ref->file);
	return 0;
}

static inline struct block_device *
shadow_bdev_ref_bdev(const struct shadow_bdev_ref *ref)
{
	return file_bdev(ref->file);
}

static inline void shadow_bdev_close(struct shadow_bdev_ref *ref)
{
	fput(ref->file);
}
#elif defined(HAVE_BLKDEV_GET_BY_DEV_FMODE)
static inline int shadow_bdev_open_read(dev_t dev, struct shadow_bdev_ref *ref)
{
	ref->bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);
	if (IS_ERR(ref->bdev))
		return PTR_ERR(ref->bdev);
	return 0;
}

static inline struct block_device *
shadow_bdev_ref_bdev(const struct shadow_bdev_ref *ref)
{
	return ref->bdev;
}

static inline void shadow_bdev_close(struct shadow_bdev_ref *ref)
{
	blkdev_put(ref->bdev, FMODE_READ);
}
#else
#error "dm-shadow needs bdev_file_open_by_dev() or blkdev_get_by_dev(dev, fmode_t, holder); this kernel has neither"
#endif

/* The attributes a generic netlink dump request was parsed into. */
#if defined(HAVE_GENL_DUMPIT_INFO_INFO)
static inline struct nlattr **shadow_dump_attrs(struct netlink_callback *cb)
{
	return genl_dumpit_info(cb)->info.attrs;
}
#elif defined(HAVE_GENL_DUMPIT_INFO_ATTRS)
static inline struct nlattr **shadow_dump_attrs(struct netlink_callback *cb)
{
	return genl_dumpit_info(cb)->attrs;
}
#else
#error "dm-shadow needs genl_dumpit_info() with info.attrs or attrs; this kernel has neither"
#endif

/* A synchronous dm_io() with the default priority. */
static inline int shadow_dm_io(struct dm_io_request *req,
			       unsigned int num_regions,
			       struct dm_io_region *where,
			       unsigned long *error_bits)
{
#if defined(HAVE_DM_IO_UNSUP_BITS)
	return dm_io(req, num_regions, where, error_bits, NULL, IOPRIO_DEFAULT);
#elif defined(HAVE_DM_IO_IOPRIO)
	return dm_io(req, num_regions, where, error_bits, IOPRIO_DEFAULT);
#else
#error "dm-shadow needs dm_io() with an I/O priority; this kernel's dm_io() has another form"
#endif
}

#endif /* DM_SHADOW_COMPAT_H */
