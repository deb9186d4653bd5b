/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-shadow store: the snapshot list, the record index, chunk allocation
 * and the metadata journal.  Only shadow-store.c knows the on-disk format.
 */
#ifndef DM_SHADOW_STORE_H
#define DM_SHADOW_STORE_H

#include <linux/blkdev.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "dm-shadow-format.h"

#define SHADOW_NIL		U32_MAX
#define SHADOW_REC_PRIVATE	0x80000000U

/* shadow_snap.flags */
#define SHADOW_SNAP_RO		(1U << 0)
#define SHADOW_SNAP_INVALID	(1U << 1)	/* reads fail: dropped or lost data */
#define SHADOW_SNAP_DEAD	(1U << 2)	/* deleted, kept while still open */

/**
 * struct shadow_rec - one in-core record, 16 bytes, indexed by store chunk.
 * @chunk: origin chunk whose content the store chunk holds.
 * @hi: upper epoch of the interval the content is valid for, or the owner
 *	epoch with SHADOW_REC_PRIVATE set; 0 when the store chunk holds no
 *	record.
 * @hash_next: next record in the chunk hash chain.
 * @list_next: next record with the same @hi (per-snapshot list), or next
 *	on the list of records freed by an uncommitted delete.
 */
struct shadow_rec {
	u32 chunk;
	u32 hi;
	u32 hash_next;
	u32 list_next;
};

/**
 * struct shadow_snap - one snapshot (an epoch).
 * @list: entry in the store's list of live snapshots, ascending epochs.
 * @epoch: the snapshot id.
 * @flags: SHADOW_SNAP_* bits.
 * @shared_head: first shared record whose upper epoch is @epoch.
 * @private_head: first private record of this snapshot.
 * @nr_shared: length of the @shared_head list.
 * @nr_private: length of the @private_head list.
 * @open_count: snapshot devices using it (store->lock).
 * @ctime: creation time, ns since the Unix epoch (0: unknown).
 * @label: user label, NUL terminated.
 */
struct shadow_snap {
	struct list_head list;
	u32 epoch;
	u32 flags;
	u32 shared_head;
	u32 private_head;
	u32 nr_shared;
	u32 nr_private;
	unsigned int open_count;
	u64 ctime;
	char label[SHADOW_LABEL_LEN + 1];
};

struct dm_io_client;

/*
 * struct shadow_store - in-core state of one store device.
 *
 * @lock protects the index, the allocator and the snapshot list; it is
 * taken from map functions, never held across I/O.  @commit_lock
 * serialises every change of the persistent state with the journal, so
 * that the journal order is the order the changes were applied in memory.
 */
struct shadow_store {
	struct block_device *bdev;
	struct dm_io_client *io_client;
	spinlock_t lock;
	struct mutex commit_lock;

	/* geometry (read-only after open) */
	u32 chunk_sectors;
	unsigned int chunk_shift;
	u32 region_blocks;
	u64 region_start[2];
	sector_t data_start;
	u32 nr_data_chunks;
	u64 nonce;

	/* journal state (commit_lock) */
	u64 sb_generation;
	u64 cp_gen;
	u32 active_region;
	u32 jpos;
	void *jbuf;
	unsigned int nr_staged;
	u32 free_list;
	bool writable;

	/* index (lock) */
	struct shadow_rec *rec;
	u32 *hash;
	u32 hash_mask;
	unsigned long *filter;
	u32 filter_mask;
	unsigned long *used;
	u32 nr_used;
	u32 nr_records;
	u32 alloc_cursor;

	/* snapshots (lock) */
	struct list_head snaps;
	struct xarray snap_xa;
	u32 nr_live;
	u32 cur_epoch;
	u32 newest;

	/* failure (lock); fail_persisted under commit_lock */
	bool failed;
	bool fail_persisted;
	const char *fail_reason;
};

int shadow_store_open(struct block_device *bdev, u32 chunk_sectors,
		      bool chunk_given, bool writable,
		      struct shadow_store **result, char **error);
void shadow_store_close(struct shadow_store *store);

/* Index queries: caller holds store->lock. */
u32 shadow_store_lookup(struct shadow_store *store, u32 chunk, u32 epoch);
u32 shadow_store_origin_run(struct shadow_store *store, u32 chunk, u32 nr,
			    u32 epoch);
bool shadow_store_needs_copy(struct shadow_store *store, u32 chunk);
u32 shadow_store_last_hi(struct shadow_store *store, u32 chunk);

int shadow_store_alloc(struct shadow_store *store, u32 *s);
void shadow_store_release_unused(struct shadow_store *store, u32 s);

/* Metadata changes: caller holds store->commit_lock. */
int shadow_store_add_shared(struct shadow_store *store, u32 chunk, u32 s);
int shadow_store_add_private(struct shadow_store *store, u32 chunk, u32 s,
			     struct shadow_snap *snap);
int shadow_store_create_snap(struct shadow_store *store, const char *label,
			     u32 *epoch);
int shadow_store_delete_snap(struct shadow_store *store, u32 epoch,
			     bool dropped);
int shadow_store_set_readonly(struct shadow_store *store, u32 epoch);
int shadow_store_invalidate(struct shadow_store *store, u32 lo, u32 hi);
int shadow_store_commit(struct shadow_store *store);
void shadow_store_fail(struct shadow_store *store, const char *reason);

struct shadow_snap *shadow_store_get_snap(struct shadow_store *store,
					  u32 epoch, bool writable,
					  char **error);
void shadow_store_put_snap(struct shadow_store *store,
			   struct shadow_snap *snap);
u32 shadow_store_oldest(struct shadow_store *store);

/* Queries for the control interface; caller holds store->lock. */
struct shadow_snap *shadow_store_find_snap(struct shadow_store *store,
					   u32 epoch);
u64 shadow_store_exclusive(struct shadow_store *store,
			   struct shadow_snap *snap);
void shadow_store_diff(struct shadow_store *store, struct shadow_snap *from,
		       struct shadow_snap *to, unsigned long *changed,
		       u32 nr_chunks);

/* Status; caller holds store->lock. */
static inline u32 shadow_store_meta_used(struct shadow_store *store)
{
	return 2 + store->region_blocks + store->jpos;
}

static inline u32 shadow_store_meta_total(struct shadow_store *store)
{
	return 2 + 2 * store->region_blocks;
}

static inline sector_t shadow_store_chunk_sector(struct shadow_store *store,
						 u32 s)
{
	return store->data_start + ((sector_t)s << store->chunk_shift);
}

#endif /* DM_SHADOW_STORE_H */
