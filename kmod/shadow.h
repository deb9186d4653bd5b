/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-shadow internal interfaces between the dm face (shadow-target.c) and
 * the data path (shadow-cow.c).
 */
#ifndef DM_SHADOW_H
#define DM_SHADOW_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-shadow-netlink.h"
#include "shadow-compat.h"
#include "shadow-store.h"

#define SHADOW_CELL_BUCKETS	256

/* shadow_origin.water_state bits */
#define SHADOW_WATER_LOW	0
#define SHADOW_WATER_HIGH	1
#define SHADOW_WATER_FAILED	2

enum shadow_overflow {
	SHADOW_OVERFLOW_DROP_OLDEST,
	SHADOW_OVERFLOW_INVALIDATE,
};

/**
 * struct shadow_origin - one origin and its store, shared by the origin
 * target (across table reloads) and the snapshot targets that read it.
 *
 * @list: entry in the global registry (shadow_registry_lock).
 * @refs: targets using this origin (shadow_registry_lock).
 * @md_dev: dev_t of the origin's mapped device.
 * @store_dev: dev_t of the store device (registry key).
 * @origin_bdev: the device under the origin.
 * @store_bdev: the store device.
 * @store: metadata and index.
 * @chunk_shift: log2 of the chunk size in sectors.
 * @origin_sectors: origin size when the origin target was built.
 * @nr_chunks: origin chunks covered by @preserved.
 * @preserved: bit per origin chunk: preserved since the newest snapshot.
 * @overflow: policy when the store is full.
 * @low_water: usage percentage raising the first event (0: off).
 * @high_water: usage percentage raising the second event (0: off).
 * @water_state: SHADOW_WATER_* conditions already signalled.
 * @event_lock: protects @event_ti (a mutex: dm_table_event() sleeps).
 * @event_ti: origin target that receives dm events.
 * @cell_lock: protects @cells, @nr_cells and @readers.
 * @cells: chunks write-locked, each by a struct shadow_io.
 * @nr_cells: how many are in @cells.
 * @readers: snapshot reads from the origin in flight, each holding a
 *	read lock on a run of chunks.
 * @gate_lock: protects @gate_closed and @gated.
 * @gate_closed: snapshot creations waiting for origin writes to drain.
 * @gated: origin writes held while the gate is closed.
 * @inflight: origin writes admitted and not yet completed.
 * @drain_wq: woken when @inflight drops to zero.
 * @list_lock: protects @retry, @cow and @copied.
 * @retry: bios to run again (chunk lock granted, gate opened).
 * @cow: chunk copies to start.
 * @copied: finished copies waiting for the next commit.
 * @wq: workqueue for @worker and @committer.
 * @worker: starts copies and re-runs held bios.
 * @committer: group-commits finished copies and releases their bios.
 * @kc: kcopyd client for chunk copies.
 */
struct shadow_origin {
	struct list_head list;
	unsigned int refs;
	dev_t md_dev;
	dev_t store_dev;
	struct block_device *origin_bdev;
	struct block_device *store_bdev;
	struct shadow_store *store;

	unsigned int chunk_shift;
	sector_t origin_sectors;
	u32 nr_chunks;
	unsigned long *preserved;

	enum shadow_overflow overflow;
	unsigned int low_water;
	unsigned int high_water;
	unsigned long water_state;
	struct mutex event_lock;
	struct dm_target *event_ti;

	spinlock_t cell_lock;
	struct hlist_head cells[SHADOW_CELL_BUCKETS];
	unsigned int nr_cells;
	struct hlist_head readers;

	spinlock_t gate_lock;
	unsigned int gate_closed;
	struct list_head gated;
	atomic_t inflight;
	wait_queue_head_t drain_wq;

	spinlock_t list_lock;
	struct list_head retry;
	struct list_head cow;
	struct list_head copied;
	struct workqueue_struct *wq;
	struct work_struct worker;
	struct work_struct committer;
	struct dm_kcopyd_client *kc;
};

/**
 * struct shadow_snapdev - a snapshot target instance.
 * @ti: the target.
 * @o: the origin it reads.
 * @snap: the snapshot.
 * @origin_md: the origin's mapped device, held open (not claimed: a
 *	filesystem mounted on the origin claims it) so that the origin
 *	cannot be removed while the snapshot is active.
 * @origin_dev: the device under the origin.
 * @store_dev: the store.
 * @writable: table asked for rw.
 */
struct shadow_snapdev {
	struct dm_target *ti;
	struct shadow_origin *o;
	struct shadow_snap *snap;
	struct shadow_bdev_ref origin_md;
	struct dm_dev *origin_dev;
	struct dm_dev *store_dev;
	bool writable;
};

enum shadow_io_kind {
	SHADOW_IO_ORIGIN_WRITE,
	SHADOW_IO_SNAP_READ,
	SHADOW_IO_SNAP_WRITE,
};

#define SHADOW_IO_INFLIGHT	(1U << 0)	/* counted in o->inflight */
#define SHADOW_IO_HOLDS_CELL	(1U << 1)	/* release chunk lock at end_io */
#define SHADOW_IO_GATED		(1U << 2)	/* must pass the gate again */
#define SHADOW_IO_RECORD_AFTER	(1U << 3)	/* commit the record at end_io */
#define SHADOW_IO_WRITTEN	(1U << 4)	/* data written, record to commit */
#define SHADOW_IO_READ_LOCK	(1U << 5)	/* the chunk lock is a read lock */

/**
 * struct shadow_io - per-bio data of both targets.
 * @entry: on a work list or a chunk lock's wait list.
 * @cell_node: in o->cells while this bio holds a chunk's write lock, in
 *	o->readers while it holds the read lock of @nr_chunks chunks.
 * @waiters: bios waiting for the lock this bio holds.
 * @bio: the bio.
 * @o: the origin.
 * @sd: the snapshot device, NULL for origin bios.
 * @chunk: origin chunk the bio touches (the first, for a snapshot read).
 * @nr_chunks: chunks read-locked from @chunk on.
 * @store_chunk: store chunk reserved for a copy.
 * @kind: enum shadow_io_kind.
 * @flags: SHADOW_IO_* bits.
 * @copy_error: the chunk copy failed.
 */
struct shadow_io {
	struct list_head entry;
	struct hlist_node cell_node;
	struct list_head waiters;
	struct bio *bio;
	struct shadow_origin *o;
	struct shadow_snapdev *sd;
	u32 chunk;
	u32 store_chunk;
	u8 kind;
	u8 flags;
	bool copy_error;
	u32 nr_chunks;
};

int shadow_cow_init(struct shadow_origin *o, char **error);
void shadow_cow_exit(struct shadow_origin *o);

int shadow_origin_map(struct dm_target *ti, struct shadow_origin *o,
		      struct bio *bio);
int shadow_snap_map(struct shadow_snapdev *sd, struct bio *bio);
int shadow_end_io(struct bio *bio, blk_status_t *error);

void shadow_gate_close(struct shadow_origin *o);
bool shadow_gate_drain(struct shadow_origin *o, long *timeout);
void shadow_gate_open(struct shadow_origin *o);
int shadow_origin_cut(struct shadow_origin *o, const char *label, u32 *epoch);
int shadow_origin_uncut(struct shadow_origin *o, u32 epoch);
void shadow_origin_changed(struct shadow_origin *o);

int shadow_origin_create_snap(struct shadow_origin *o, const char *label,
			      u32 *epoch);
int shadow_origin_delete_snap(struct shadow_origin *o, u32 epoch);
int shadow_origin_set_readonly(struct shadow_origin *o, u32 epoch);
void shadow_origin_set_water(struct shadow_origin *o, unsigned int low,
			     unsigned int high);

/* Registry (shadow-target.c), for the control interface. */
struct shadow_origin *shadow_origin_get(dev_t md_dev,
					struct mapped_device **md);
void shadow_origin_put(struct shadow_origin *o, struct mapped_device *md);
int shadow_origin_fill_each(int (*fn)(struct shadow_origin *o,
				      struct mapped_device *md, void *data),
			    unsigned long skip, void *data);

/* Generic netlink family (shadow-netlink.c). */
int shadow_nl_init(void);
void shadow_nl_exit(void);
void shadow_nl_notify(struct shadow_origin *o, enum shadow_nl_event event,
		      u32 id);

/* Consistency-group cut (shadow-group.c). */
struct shadow_group_member {
	struct shadow_origin *o;
	struct mapped_device *md;
	u32 epoch;
};

int shadow_group_cut(struct shadow_group_member *m, unsigned int nr,
		     bool freeze, unsigned int timeout_ms, const char *label,
		     u64 *pause_us, const char **why);
int shadow_group_init(void);
void shadow_group_exit(void);

#endif /* DM_SHADOW_H */
