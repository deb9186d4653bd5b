// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-shadow: copy-on-write snapshots of an existing volume, with every
 * snapshot of an origin sharing one store.
 *
 * This is the module skeleton: it registers the "shadow-origin" and
 * "shadow" target types so that the tooling and the test harness can be
 * built around them.  Both constructors refuse every table until the
 * copy-on-write engine lands.
 */

#include <linux/device-mapper.h>
#include <linux/module.h>

#define DM_MSG_PREFIX "shadow"

static int shadow_origin_ctr(struct dm_target *ti, unsigned int argc,
			     char **argv)
{
	ti->error = "shadow-origin is not implemented yet";
	return -EOPNOTSUPP;
}

static void shadow_origin_dtr(struct dm_target *ti)
{
}

static int shadow_origin_map(struct dm_target *ti, struct bio *bio)
{
	return DM_MAPIO_KILL;
}

static int shadow_snap_ctr(struct dm_target *ti, unsigned int argc,
			   char **argv)
{
	ti->error = "shadow is not implemented yet";
	return -EOPNOTSUPP;
}

static void shadow_snap_dtr(struct dm_target *ti)
{
}

static int shadow_snap_map(struct dm_target *ti, struct bio *bio)
{
	return DM_MAPIO_KILL;
}

static struct target_type shadow_origin_target = {
	.name = "shadow-origin",
	.version = {0, 1, 0},
	.module = THIS_MODULE,
	.ctr = shadow_origin_ctr,
	.dtr = shadow_origin_dtr,
	.map = shadow_origin_map,
};

static struct target_type shadow_snap_target = {
	.name = "shadow",
	.version = {0, 1, 0},
	.module = THIS_MODULE,
	.ctr = shadow_snap_ctr,
	.dtr = shadow_snap_dtr,
	.map = shadow_snap_map,
};

static int __init dm_shadow_init(void)
{
	int r;

	r = dm_register_target(&shadow_origin_target);
	if (r < 0) {
		DMERR("register shadow-origin failed %d", r);
		return r;
	}

	r = dm_register_target(&shadow_snap_target);
	if (r < 0) {
		DMERR("register shadow failed %d", r);
		dm_unregister_target(&shadow_origin_target);
		return r;
	}

	DMINFO("version %s loaded", DM_SHADOW_VERSION);
	return 0;
}

static void __exit dm_shadow_exit(void)
{
	dm_unregister_target(&shadow_snap_target);
	dm_unregister_target(&shadow_origin_target);
}

module_init(dm_shadow_init);
module_exit(dm_shadow_exit);

MODULE_DESCRIPTION(DM_NAME " copy-on-write snapshots sharing one store");
MODULE_AUTHOR("dm-shadow developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(DM_SHADOW_VERSION);
