// SPDX-License-Identifier: GPL-2.0
/*
 * dm-shadow: copy-on-write snapshots of a live device, all snapshots of an
 * origin sharing one store, one copy per chunk whatever their number.
 *
 * This file is the device-mapper face: the shadow-origin and shadow
 * targets, table parsing, status and messages.
 */

#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

#include "shadow.h"

#define DM_MSG_PREFIX "shadow"

/*
 * --------------------------------------------------------------
 * Registry of origins, keyed by store device and by mapped device
 * --------------------------------------------------------------
 */

static DEFINE_MUTEX(shadow_registry_lock);
static LIST_HEAD(shadow_registry);

static struct shadow_origin *find_by_store(dev_t dev)
{
	struct shadow_origin *o;

	list_for_each_entry(o, &shadow_registry, list)
		if (o->store_dev == dev)
			return o;
	return NULL;
}

static struct shadow_origin *find_by_md(dev_t dev)
{
	struct shadow_origin *o;

	list_for_each_entry(o, &shadow_registry, list)
		if (o->md_dev == dev)
			return o;
	return NULL;
}

/* Drops a reference; the last one tears the origin down. */
static void origin_put(struct shadow_origin *o)
{
	mutex_lock(&shadow_registry_lock);
	if (--o->refs) {
		mutex_unlock(&shadow_registry_lock);
		return;
	}
	list_del(&o->list);
	shadow_nl_notify(o, SHADOW_EVENT_ORIGIN_REMOVE, 0);
	mutex_unlock(&shadow_registry_lock);

	shadow_cow_exit(o);
	shadow_store_close(o->store);
	kfree(o);
}

/*
 * An origin is active while a shadow-origin table of it exists: a
 * snapshot device may keep the shared state alive after the origin's
 * table was replaced by another target, and nothing must be cut then.
 */
static struct mapped_device *origin_active_md(struct shadow_origin *o)
{
	struct mapped_device *md = NULL;

	mutex_lock(&o->event_lock);
	if (o->event_ti)
		md = dm_table_get_md(o->event_ti->table);
	mutex_unlock(&o->event_lock);
	return md;
}

/**
 * shadow_origin_get() - find an active origin by its mapped device
 * @md_dev: device number of the origin's mapped device
 * @mdp: set to the mapped device, held
 *
 * Holding the mapped device keeps its table, and so the devices the
 * origin uses, until shadow_origin_put(): device-mapper waits for holders
 * before it destroys a device.
 *
 * Return: the origin with a reference, or NULL.
 */
struct shadow_origin *shadow_origin_get(dev_t md_dev,
					struct mapped_device **mdp)
{
	struct mapped_device *md = dm_get_md(md_dev);
	struct shadow_origin *o;

	if (!md)
		return NULL;
	mutex_lock(&shadow_registry_lock);
	o = find_by_md(md_dev);
	if (o && origin_active_md(o) == md)
		o->refs++;
	else
		o = NULL;
	mutex_unlock(&shadow_registry_lock);
	if (!o) {
		dm_put(md);
		return NULL;
	}
	*mdp = md;
	return o;
}

void shadow_origin_put(struct shadow_origin *o, struct mapped_device *md)
{
	origin_put(o);
	dm_put(md);
}

/**
 * shadow_origin_fill_each() - call @fn on every active origin
 * @fn: callback; a non-zero return stops the walk
 * @skip: origins to pass over first (a dump's position)
 * @data: passed to @fn
 *
 * @fn runs under the registry lock and must not sleep for long; neither
 * the origin nor its mapped device can go away meanwhile.
 *
 * Return: the position after the last origin @fn accepted.
 */
int shadow_origin_fill_each(int (*fn)(struct shadow_origin *o,
				      struct mapped_device *md, void *data),
			    unsigned long skip, void *data)
{
	struct shadow_origin *o;
	struct mapped_device *md;
	unsigned long pos = 0;

	mutex_lock(&shadow_registry_lock);
	list_for_each_entry(o, &shadow_registry, list) {
		/*
		 * @md stays: its table's destructor waits for the registry
		 * lock in origin_put().
		 */
		md = origin_active_md(o);
		if (!md)
			continue;
		if (pos >= skip && fn(o, md, data))
			break;
		pos++;
	}
	mutex_unlock(&shadow_registry_lock);
	return pos;
}

/*
 * --------------------------------------------------------------
 * shadow-origin target
 * --------------------------------------------------------------
 */

/**
 * struct origin_c - one shadow-origin target instance.
 * @ti: the target.
 * @origin_dev: the device under the origin.
 * @store_dev: the store.
 * @o: the shared origin state.
 * @chunk_sectors: chunk size asked for by the table (0: default).
 * @overflow: overflow policy from the table.
 * @low_water: low usage threshold from the table, percent.
 * @high_water: high usage threshold from the table, percent.
 */
struct origin_c {
	struct dm_target *ti;
	struct dm_dev *origin_dev;
	struct dm_dev *store_dev;
	struct shadow_origin *o;
	unsigned int chunk_sectors;
	enum shadow_overflow overflow;
	unsigned int low_water;
	unsigned int high_water;
};

static int parse_origin_dev(struct origin_c *oc, struct dm_arg_set *as,
			    char **error)
{
	int r;

	r = dm_get_device(oc->ti, dm_shift_arg(as),
			  dm_table_get_mode(oc->ti->table), &oc->origin_dev);
	if (r) {
		*error = "Error opening origin device";
		return r;
	}
	if (oc->ti->len > bdev_nr_sectors(oc->origin_dev->bdev)) {
		*error = "Origin device is smaller than the target";
		return -EINVAL;
	}
	return 0;
}

static int parse_store_dev(struct origin_c *oc, struct dm_arg_set *as,
			   char **error)
{
	int r;

	r = dm_get_device(oc->ti, dm_shift_arg(as),
			  dm_table_get_mode(oc->ti->table), &oc->store_dev);
	if (r) {
		*error = "Error opening store device";
		return r;
	}
	if (oc->store_dev->bdev == oc->origin_dev->bdev) {
		*error = "Store and origin must be different devices";
		return -EINVAL;
	}
	return 0;
}

static int parse_chunk_size(struct origin_c *oc, struct dm_arg_set *as,
			    char **error)
{
	struct dm_arg arg = {
		.min = SHADOW_MIN_CHUNK_SECTORS,
		.max = SHADOW_MAX_CHUNK_SECTORS,
		.error = "Invalid chunk size",
	};
	unsigned int lbs;
	int r;

	if (oc->chunk_sectors) {
		*error = "Duplicate chunk_size";
		return -EINVAL;
	}
	r = dm_read_arg(&arg, as, &oc->chunk_sectors, error);
	if (r)
		return r;
	if (!is_power_of_2(oc->chunk_sectors)) {
		*error = "Chunk size is not a power of 2";
		return -EINVAL;
	}
	lbs = max(bdev_logical_block_size(oc->origin_dev->bdev),
		  bdev_logical_block_size(oc->store_dev->bdev)) >> SECTOR_SHIFT;
	if (oc->chunk_sectors % lbs) {
		*error = "Chunk size is not a multiple of the logical block size";
		return -EINVAL;
	}
	return 0;
}

static int parse_overflow(struct origin_c *oc, struct dm_arg_set *as,
			  char **error)
{
	const char *arg = dm_shift_arg(as);

	if (!arg) {
		*error = "Missing overflow policy";
		return -EINVAL;
	}
	if (!strcasecmp(arg, "drop_oldest")) {
		oc->overflow = SHADOW_OVERFLOW_DROP_OLDEST;
	} else if (!strcasecmp(arg, "invalidate")) {
		oc->overflow = SHADOW_OVERFLOW_INVALIDATE;
	} else {
		*error = "Invalid overflow policy";
		return -EINVAL;
	}
	return 0;
}

static int parse_water(struct dm_arg_set *as, unsigned int *pct, char **error)
{
	struct dm_arg arg = {
		.min = 1,
		.max = 100,
		.error = "Invalid water mark percentage",
	};

	if (*pct) {
		*error = "Duplicate water mark";
		return -EINVAL;
	}
	return dm_read_arg(&arg, as, pct, error);
}

static int parse_features(struct origin_c *oc, struct dm_arg_set *as,
			  char **error)
{
	struct dm_arg arg = {
		.min = 0,
		.max = 8,
		.error = "Invalid number of feature arguments",
	};
	bool overflow_seen = false;
	unsigned int argc;
	const char *name;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(&arg, as, &argc, error);
	if (r)
		return r;

	while (argc) {
		name = dm_shift_arg(as);
		argc--;
		if (argc < 1) {
			*error = "Feature argument needs a value";
			return -EINVAL;
		}
		argc--;
		if (!strcasecmp(name, "chunk_size")) {
			r = parse_chunk_size(oc, as, error);
		} else if (!strcasecmp(name, "overflow")) {
			if (overflow_seen) {
				*error = "Duplicate overflow policy";
				return -EINVAL;
			}
			overflow_seen = true;
			r = parse_overflow(oc, as, error);
		} else if (!strcasecmp(name, "low_water")) {
			r = parse_water(as, &oc->low_water, error);
		} else if (!strcasecmp(name, "high_water")) {
			r = parse_water(as, &oc->high_water, error);
		} else {
			*error = "Invalid feature argument";
			return -EINVAL;
		}
		if (r)
			return r;
	}
	if (oc->low_water && oc->high_water &&
	    oc->low_water > oc->high_water) {
		*error = "low_water is above high_water";
		return -EINVAL;
	}
	if (as->argc) {
		*error = "Too many arguments";
		return -EINVAL;
	}
	return 0;
}

static void apply_policy(struct shadow_origin *o, struct origin_c *oc)
{
	o->overflow = oc->overflow;
	o->low_water = oc->low_water;
	o->high_water = oc->high_water;
}

/* Creates the shared origin state; caller holds shadow_registry_lock. */
static int origin_create(struct origin_c *oc, dev_t md_dev, char **error)
{
	struct dm_target *ti = oc->ti;
	bool writable = dm_table_get_mode(ti->table) & SHADOW_MODE_WRITE;
	struct shadow_origin *o;
	sector_t nr_chunks;
	int r;

	o = kzalloc(sizeof(*o), GFP_KERNEL);
	if (!o) {
		*error = "Cannot allocate origin";
		return -ENOMEM;
	}
	o->md_dev = md_dev;
	o->store_dev = oc->store_dev->bdev->bd_dev;
	o->origin_bdev = oc->origin_dev->bdev;
	o->store_bdev = oc->store_dev->bdev;
	o->origin_sectors = ti->len;
	apply_policy(o, oc);

	r = shadow_store_open(o->store_bdev,
			      oc->chunk_sectors ?: SHADOW_DEFAULT_CHUNK_SECTORS,
			      oc->chunk_sectors, writable, &o->store, error);
	if (r)
		goto bad_store;

	o->chunk_shift = o->store->chunk_shift;
	nr_chunks = DIV_ROUND_UP_SECTOR_T(ti->len, 1U << o->chunk_shift);
	if (nr_chunks >= U32_MAX) {
		*error = "Origin is too large for this chunk size";
		r = -EINVAL;
		goto bad_cow;
	}
	o->nr_chunks = nr_chunks;
	r = shadow_cow_init(o, error);
	if (r)
		goto bad_cow;

	o->refs = 1;
	list_add_tail(&o->list, &shadow_registry);
	oc->o = o;
	shadow_nl_notify(o, SHADOW_EVENT_ORIGIN_ADD, 0);
	return 0;

bad_cow:
	shadow_store_close(o->store);
bad_store:
	kfree(o);
	return r;
}

/* Shares the origin of an earlier table of the same device (reload). */
static int origin_share(struct origin_c *oc, struct shadow_origin *o,
			dev_t md_dev, char **error)
{
	if (o->md_dev != md_dev ||
	    o->origin_bdev != oc->origin_dev->bdev) {
		*error = "Store is in use by another origin";
		return -EBUSY;
	}
	if (oc->chunk_sectors &&
	    oc->chunk_sectors != o->store->chunk_sectors) {
		*error = "Chunk size differs from the store's chunk size";
		return -EINVAL;
	}
	if (oc->ti->len != o->origin_sectors) {
		*error = "Origin size cannot change while the store is active";
		return -EINVAL;
	}
	apply_policy(o, oc);
	o->refs++;
	oc->o = o;
	return 0;
}

/*
 * Construct a shadow-origin target:
 *
 * shadow-origin <origin dev> <store dev> [<#feature args>
 *	[chunk_size <sectors>] [overflow drop_oldest|invalidate]
 *	[low_water <pct>] [high_water <pct>]]
 */
static int origin_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct shadow_origin *o;
	struct origin_c *oc;
	dev_t md_dev;
	int r;

	if (argc < 2) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}

	oc = kzalloc(sizeof(*oc), GFP_KERNEL);
	if (!oc) {
		ti->error = "Cannot allocate origin context";
		return -ENOMEM;
	}
	oc->ti = ti;
	oc->overflow = SHADOW_OVERFLOW_DROP_OLDEST;

	r = parse_origin_dev(oc, &as, &ti->error);
	if (r)
		goto out_free;
	r = parse_store_dev(oc, &as, &ti->error);
	if (r)
		goto out_origin;
	r = parse_features(oc, &as, &ti->error);
	if (r)
		goto out_store;

	md_dev = disk_devt(dm_disk(dm_table_get_md(ti->table)));
	mutex_lock(&shadow_registry_lock);
	o = find_by_store(oc->store_dev->bdev->bd_dev);
	if (o)
		r = origin_share(oc, o, md_dev, &ti->error);
	else
		r = origin_create(oc, md_dev, &ti->error);
	mutex_unlock(&shadow_registry_lock);
	if (r)
		goto out_store;

	mutex_lock(&oc->o->event_lock);
	if (!oc->o->event_ti)
		oc->o->event_ti = ti;
	mutex_unlock(&oc->o->event_lock);

	/* no split by dm core: shadow_origin_map() cuts what it must */
	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->per_io_data_size = sizeof(struct shadow_io);
	ti->private = oc;
	return 0;

out_store:
	dm_put_device(ti, oc->store_dev);
out_origin:
	dm_put_device(ti, oc->origin_dev);
out_free:
	kfree(oc);
	return r;
}

static void origin_dtr(struct dm_target *ti)
{
	struct origin_c *oc = ti->private;
	struct shadow_origin *o = oc->o;

	mutex_lock(&o->event_lock);
	if (o->event_ti == ti)
		o->event_ti = NULL;
	mutex_unlock(&o->event_lock);
	origin_put(o);
	dm_put_device(ti, oc->store_dev);
	dm_put_device(ti, oc->origin_dev);
	kfree(oc);
}

static int origin_map(struct dm_target *ti, struct bio *bio)
{
	struct origin_c *oc = ti->private;

	return shadow_origin_map(ti, oc->o, bio);
}

static int shadow_target_end_io(struct dm_target *ti, struct bio *bio,
				blk_status_t *error)
{
	return shadow_end_io(bio, error);
}

static void origin_resume(struct dm_target *ti)
{
	struct origin_c *oc = ti->private;

	mutex_lock(&oc->o->event_lock);
	oc->o->event_ti = ti;
	mutex_unlock(&oc->o->event_lock);
}

static const char *overflow_name(enum shadow_overflow p)
{
	return p == SHADOW_OVERFLOW_INVALIDATE ? "invalidate" : "drop_oldest";
}

/*
 * Status INFO:
 *   <store used>/<store total chunks> <metadata used>/<metadata total blocks>
 *   <live snapshots> <epoch> rw|ro|Fail [<reason>]
 */
static void origin_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct origin_c *oc = ti->private;
	struct shadow_store *store = oc->o->store;
	unsigned int nr_features;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock(&store->lock);
		DMEMIT("%u/%u %u/%u %u %u ", store->nr_used,
		       store->nr_data_chunks, shadow_store_meta_used(store),
		       shadow_store_meta_total(store), store->nr_live,
		       store->cur_epoch);
		if (store->failed)
			DMEMIT("Fail %s", store->fail_reason);
		else
			DMEMIT("%s", store->writable ? "rw" : "ro");
		spin_unlock(&store->lock);
		break;

	case STATUSTYPE_TABLE:
		nr_features = 4 + (oc->low_water ? 2 : 0) +
			      (oc->high_water ? 2 : 0);
		DMEMIT("%s %s %u chunk_size %u overflow %s",
		       oc->origin_dev->name, oc->store_dev->name, nr_features,
		       store->chunk_sectors, overflow_name(oc->overflow));
		if (oc->low_water)
			DMEMIT(" low_water %u", oc->low_water);
		if (oc->high_water)
			DMEMIT(" high_water %u", oc->high_water);
		break;

	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",store_failed=%c;", store->failed ? 'y' : 'n');
		break;
	}
}

static int parse_id(const char *arg, u32 *id)
{
	if (kstrtou32(arg, 10, id) || !*id)
		return -EINVAL;
	return 0;
}

static int origin_list(struct shadow_origin *o, char *result,
		       unsigned int maxlen)
{
	struct shadow_store *store = o->store;
	struct shadow_snap *snap;
	unsigned int sz = 0;

	spin_lock(&store->lock);
	list_for_each_entry(snap, &store->snaps, list) {
		DMEMIT("%u %s %s %u %u %s\n", snap->epoch,
		       snap->flags & SHADOW_SNAP_RO ? "ro" : "rw",
		       snap->flags & SHADOW_SNAP_INVALID ? "invalid" : "valid",
		       snap->nr_shared, snap->nr_private,
		       snap->label[0] ? snap->label : "-");
	}
	spin_unlock(&store->lock);
	return 1;
}

/*
 * Messages (a result is returned by returning 1, see dm-ioctl.c):
 *   create [<label>]	 take a snapshot; the result is its id
 *   delete <id>	 delete a snapshot that no device has open
 *   set_readonly <id>	 refuse writable activation from now on
 *   list		 one line per snapshot:
 *			 <id> ro|rw valid|invalid <shared> <private> <label>
 */
static int origin_message(struct dm_target *ti, unsigned int argc,
			  char **argv, char *result, unsigned int maxlen)
{
	struct origin_c *oc = ti->private;
	struct shadow_origin *o = oc->o;
	unsigned int sz = 0;
	u32 id;
	int r;

	if (!argc)
		return -EINVAL;

	if (!strcasecmp(argv[0], "create") && argc <= 2) {
		r = shadow_origin_create_snap(o, argc == 2 ? argv[1] : NULL,
					      &id);
		if (r) {
			DMERR("%s: create failed: %d",
			      dm_device_name(dm_table_get_md(ti->table)), r);
			return r;
		}
		DMEMIT("%u", id);
		return 1;
	}
	if (!strcasecmp(argv[0], "delete") && argc == 2) {
		if (parse_id(argv[1], &id))
			return -EINVAL;
		return shadow_origin_delete_snap(o, id);
	}
	if (!strcasecmp(argv[0], "set_readonly") && argc == 2) {
		if (parse_id(argv[1], &id))
			return -EINVAL;
		return shadow_origin_set_readonly(o, id);
	}
	if (!strcasecmp(argv[0], "list") && argc == 1)
		return origin_list(o, result, maxlen);

	DMWARN("unrecognised message received");
	return -EINVAL;
}

static int origin_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct origin_c *oc = ti->private;

	return fn(ti, oc->origin_dev, 0, ti->len, data);
}

static struct target_type origin_target = {
	.name = "shadow-origin",
	.version = {1, 0, 0},
	.features = DM_TARGET_SINGLETON,
	.module = THIS_MODULE,
	.ctr = origin_ctr,
	.dtr = origin_dtr,
	.map = origin_map,
	.end_io = shadow_target_end_io,
	.resume = origin_resume,
	.status = origin_status,
	.message = origin_message,
	.iterate_devices = origin_iterate_devices,
};

/*
 * --------------------------------------------------------------
 * shadow target (snapshot device)
 * --------------------------------------------------------------
 */

/*
 * The origin's mapped device, as "major:minor" or a path.  It is only
 * looked up here: dm_get_device() would claim it, and a filesystem mounted
 * on the origin already has.
 */
static int parse_dev(const char *arg, dev_t *dev)
{
	unsigned int major, minor;
	char dummy;

	if (sscanf(arg, "%u:%u%c", &major, &minor, &dummy) == 2) {
		*dev = MKDEV(major, minor);
		if (MAJOR(*dev) != major || MINOR(*dev) != minor)
			return -EOVERFLOW;
		return 0;
	}
	return lookup_bdev(arg, dev);
}

static int snap_get_dev(struct dm_target *ti, dev_t dev, shadow_mode_t mode,
			struct dm_dev **result)
{
	char name[24];

	snprintf(name, sizeof(name), "%u:%u", MAJOR(dev), MINOR(dev));
	return dm_get_device(ti, name, mode, result);
}

/*
 * Construct a shadow target:
 *
 * shadow <origin dev> <snapshot id> [ro|rw]
 *
 * <origin dev> is the mapped device of an active shadow-origin table.
 */
static int snap_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	bool table_rw = dm_table_get_mode(ti->table) & SHADOW_MODE_WRITE;
	struct shadow_snapdev *sd;
	struct shadow_origin *o;
	dev_t md_dev;
	u32 id;
	int r;

	if (argc < 2 || argc > 3) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}
	sd = kzalloc(sizeof(*sd), GFP_KERNEL);
	if (!sd) {
		ti->error = "Cannot allocate snapshot context";
		return -ENOMEM;
	}
	sd->ti = ti;

	if (parse_id(argv[1], &id)) {
		ti->error = "Invalid snapshot id";
		r = -EINVAL;
		goto out_free;
	}
	if (argc == 3) {
		if (!strcasecmp(argv[2], "rw")) {
			sd->writable = true;
		} else if (strcasecmp(argv[2], "ro")) {
			ti->error = "Invalid snapshot mode";
			r = -EINVAL;
			goto out_free;
		}
	}
	if (sd->writable && !table_rw) {
		ti->error = "Writable snapshot needs a read-write table";
		r = -EINVAL;
		goto out_free;
	}

	r = parse_dev(argv[0], &md_dev);
	if (r) {
		ti->error = "Invalid origin device";
		goto out_free;
	}
	r = shadow_bdev_open_read(md_dev, &sd->origin_md);
	if (r) {
		ti->error = "Error opening origin device";
		goto out_free;
	}

	mutex_lock(&shadow_registry_lock);
	o = find_by_md(md_dev);
	if (o)
		o->refs++;
	mutex_unlock(&shadow_registry_lock);
	if (!o) {
		ti->error = "Device is not an active shadow-origin";
		r = -EINVAL;
		goto out_md;
	}
	sd->o = o;

	if (sd->writable && !o->store->writable) {
		ti->error = "Writable snapshot of a read-only origin";
		r = -EROFS;
		goto out_origin;
	}
	if (ti->len > o->origin_sectors) {
		ti->error = "Snapshot is larger than the origin";
		r = -EINVAL;
		goto out_origin;
	}
	r = snap_get_dev(ti, o->origin_bdev->bd_dev, SHADOW_MODE_READ,
			 &sd->origin_dev);
	if (r) {
		ti->error = "Error opening device under the origin";
		goto out_origin;
	}
	r = snap_get_dev(ti, o->store_dev,
			 sd->writable ? SHADOW_MODE_READ | SHADOW_MODE_WRITE :
					 SHADOW_MODE_READ,
			 &sd->store_dev);
	if (r) {
		ti->error = "Error opening store device";
		goto out_origin_dev;
	}

	sd->snap = shadow_store_get_snap(o->store, id, sd->writable,
					 &ti->error);
	if (!sd->snap) {
		r = -EINVAL;
		goto out_store_dev;
	}

	/* no split by dm core: shadow_snap_map() cuts what it must */
	ti->num_flush_bios = 1;
	ti->per_io_data_size = sizeof(struct shadow_io);
	ti->private = sd;
	return 0;

out_store_dev:
	dm_put_device(ti, sd->store_dev);
out_origin_dev:
	dm_put_device(ti, sd->origin_dev);
out_origin:
	origin_put(o);
out_md:
	shadow_bdev_close(&sd->origin_md);
out_free:
	kfree(sd);
	return r;
}

static void snap_dtr(struct dm_target *ti)
{
	struct shadow_snapdev *sd = ti->private;

	shadow_store_put_snap(sd->o->store, sd->snap);
	dm_put_device(ti, sd->store_dev);
	dm_put_device(ti, sd->origin_dev);
	origin_put(sd->o);
	shadow_bdev_close(&sd->origin_md);
	kfree(sd);
}

static int snap_map(struct dm_target *ti, struct bio *bio)
{
	return shadow_snap_map(ti->private, bio);
}

/*
 * Status INFO: <snapshot id> valid|Invalid
 * Status TABLE: <origin dev> <snapshot id> ro|rw
 */
static void snap_status(struct dm_target *ti, status_type_t type,
			unsigned int status_flags, char *result,
			unsigned int maxlen)
{
	struct shadow_snapdev *sd = ti->private;
	unsigned int sz = 0;
	dev_t md_dev;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%u %s", sd->snap->epoch,
		       READ_ONCE(sd->snap->flags) & SHADOW_SNAP_INVALID ?
		       "Invalid" : "valid");
		break;
	case STATUSTYPE_TABLE:
		md_dev = shadow_bdev_ref_bdev(&sd->origin_md)->bd_dev;
		DMEMIT("%u:%u %u %s", MAJOR(md_dev), MINOR(md_dev),
		       sd->snap->epoch, sd->writable ? "rw" : "ro");
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",snapshot=%u;", sd->snap->epoch);
		break;
	}
}

static int snap_iterate_devices(struct dm_target *ti,
				iterate_devices_callout_fn fn, void *data)
{
	struct shadow_snapdev *sd = ti->private;

	return fn(ti, sd->origin_dev, 0, ti->len, data);
}

static struct target_type snap_target = {
	.name = "shadow",
	.version = {1, 0, 0},
	.features = DM_TARGET_SINGLETON,
	.module = THIS_MODULE,
	.ctr = snap_ctr,
	.dtr = snap_dtr,
	.map = snap_map,
	.end_io = shadow_target_end_io,
	.status = snap_status,
	.iterate_devices = snap_iterate_devices,
};

/*
 * --------------------------------------------------------------
 * Module
 * --------------------------------------------------------------
 */

static int __init dm_shadow_init(void)
{
	int r;

	r = shadow_group_init();
	if (r)
		return r;
	r = shadow_nl_init();
	if (r) {
		DMERR("register of the netlink family failed %d", r);
		goto bad_nl;
	}
	r = dm_register_target(&origin_target);
	if (r < 0) {
		DMERR("register of shadow-origin failed %d", r);
		goto bad_origin;
	}
	r = dm_register_target(&snap_target);
	if (r < 0) {
		DMERR("register of shadow failed %d", r);
		goto bad_snap;
	}
	DMINFO("version %s loaded", DM_SHADOW_VERSION);
	return 0;

bad_snap:
	dm_unregister_target(&origin_target);
bad_origin:
	shadow_nl_exit();
bad_nl:
	shadow_group_exit();
	return r;
}

static void __exit dm_shadow_exit(void)
{
	dm_unregister_target(&snap_target);
	dm_unregister_target(&origin_target);
	shadow_nl_exit();
	shadow_group_exit();
}

module_init(dm_shadow_init);
module_exit(dm_shadow_exit);

MODULE_DESCRIPTION(DM_NAME " copy-on-write snapshots sharing one store");
MODULE_AUTHOR("dm-shadow developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(DM_SHADOW_VERSION);
/* dm asks for "dm-<target name>": let "shadow-origin" load us too. */
MODULE_ALIAS("dm-shadow-origin");
