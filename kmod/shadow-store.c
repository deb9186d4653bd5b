// SPDX-License-Identifier: GPL-2.0
/*
 * dm-shadow store: superblocks, journal, checkpoint, record index and
 * chunk allocator.
 *
 * Index: one 16-byte struct shadow_rec per store data chunk.  A record
 * says "origin chunk c, content valid for epochs (lo, hi], held in store
 * chunk s" where s is the record's index and lo is the @hi of the
 * previous record of c (records of one chunk are disjoint intervals).
 * Records of a chunk are found through a hash of chained u32 indices;
 * records with the same @hi are chained per snapshot, so that deleting a
 * snapshot touches only the records it may free.
 *
 * Invariant: the @hi of every shared record is a live snapshot.  Deleting
 * snapshot e frees each record of e that covers no other live snapshot and
 * re-keys the others to the previous live snapshot p (the epochs in
 * between are all dead, so the lookup result of every live snapshot is
 * unchanged).
 */

#include <linux/crc32c.h>
#include <linux/dm-io.h>
#include <linux/device-mapper.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "shadow-compat.h"
#include "shadow-store.h"

#define DM_MSG_PREFIX "shadow store"

#define STAGE_BLOCKS	16
#define IO_BLOCKS	64

/*
 * --------------------------------------------------------------
 * Block I/O helpers
 * --------------------------------------------------------------
 */

static int store_io(struct shadow_store *store, blk_opf_t opf, void *buf,
		    u64 block, unsigned int nr_blocks)
{
	unsigned long error_bits = 0;
	struct dm_io_region where = {
		.bdev = store->bdev,
		.sector = block * SHADOW_BLOCK_SECTORS,
		.count = (sector_t)nr_blocks * SHADOW_BLOCK_SECTORS,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = is_vmalloc_addr(buf) ? DM_IO_VMA : DM_IO_KMEM,
		.mem.ptr.addr = buf,
		.notify.fn = NULL,
		.client = store->io_client,
	};
	int r;

	if (opf & REQ_PREFLUSH && !nr_blocks)
		where.count = 0;

	r = shadow_dm_io(&req, 1, &where, &error_bits);
	if (!r && error_bits)
		r = -EIO;
	return r;
}

static int store_flush(struct shadow_store *store)
{
	return blkdev_issue_flush(store->bdev);
}

static u32 block_csum(const void *block, u32 xor)
{
	return crc32c(~0U, block + sizeof(__le32),
		      SHADOW_BLOCK_SIZE - sizeof(__le32)) ^ xor;
}

/*
 * --------------------------------------------------------------
 * Superblock
 * --------------------------------------------------------------
 */

static const char *sb_check(struct shadow_disk_sb *sb)
{
	u32 version;

	if (le32_to_cpu(sb->magic) != SHADOW_SB_MAGIC)
		return "Store has a bad superblock magic";
	if (le32_to_cpu(sb->csum) != block_csum(sb, SHADOW_SB_CSUM_XOR))
		return "Store superblock checksum mismatch";
	version = le32_to_cpu(sb->version);
	if (version < SHADOW_FORMAT_VERSION_MIN ||
	    version > SHADOW_FORMAT_VERSION_MAX)
		return "Store format version is not supported";
	return NULL;
}

static int sb_write(struct shadow_store *store, u64 cur_epoch)
{
	struct shadow_disk_sb *sb;
	u64 gen = store->sb_generation + 1;
	int r;

	sb = kzalloc(SHADOW_BLOCK_SIZE, GFP_NOIO);
	if (!sb)
		return -ENOMEM;
	sb->magic = cpu_to_le32(SHADOW_SB_MAGIC);
	sb->version = cpu_to_le32(SHADOW_FORMAT_VERSION);
	if (READ_ONCE(store->failed))
		sb->flags = cpu_to_le32(SHADOW_SB_FAILED);
	sb->generation = cpu_to_le64(gen);
	sb->nonce = cpu_to_le64(store->nonce);
	sb->chunk_sectors = cpu_to_le32(store->chunk_sectors);
	sb->region_blocks = cpu_to_le32(store->region_blocks);
	sb->region_start[0] = cpu_to_le64(store->region_start[0]);
	sb->region_start[1] = cpu_to_le64(store->region_start[1]);
	sb->data_start = cpu_to_le64(store->data_start);
	sb->nr_data_chunks = cpu_to_le64(store->nr_data_chunks);
	sb->store_sectors = cpu_to_le64(bdev_nr_sectors(store->bdev));
	sb->active_region = cpu_to_le32(store->active_region);
	sb->cp_gen = cpu_to_le64(store->cp_gen);
	sb->cur_epoch = cpu_to_le64(cur_epoch);
	sb->csum = cpu_to_le32(block_csum(sb, SHADOW_SB_CSUM_XOR));

	/* generation g lives in slot g % 2: the older copy is overwritten */
	r = store_io(store, REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_SYNC,
		     sb, gen & 1, 1);
	if (!r)
		store->sb_generation = gen;
	kfree(sb);
	return r;
}

/*
 * Records the Fail state in both superblock copies, so that a reload
 * does not trust snapshots whose chunks were overwritten unpreserved.
 * Tried when the store fails and again when it is closed (the device
 * may work again by then); a store that never takes the write cannot be
 * loaded either.
 */
static void store_persist_fail(struct shadow_store *store)
{
	if (!store->writable || !READ_ONCE(store->failed) ||
	    store->fail_persisted)
		return;
	if (!sb_write(store, store->cur_epoch) &&
	    !sb_write(store, store->cur_epoch)) {
		store->fail_persisted = true;
		DMWARN("store failure recorded in the superblock");
	}
}

/*
 * --------------------------------------------------------------
 * Index
 * --------------------------------------------------------------
 */

static inline u32 *hash_slot(struct shadow_store *store, u32 chunk)
{
	return &store->hash[hash_32(chunk, 32) & store->hash_mask];
}

/*
 * The filter: one bit for each hash of a group of FILTER_CHUNKS origin
 * chunks, set when a record of a chunk of the group is linked.  A clear
 * bit means that no chunk of the group has a record, so lookups in runs
 * of chunks that were never preserved skip the hash chains.  Bits are not
 * cleared while the store is open: a stale one costs a lookup, nothing
 * more.
 */
#define FILTER_SHIFT	6
#define FILTER_CHUNKS	(1U << FILTER_SHIFT)

static inline u32 filter_bit(struct shadow_store *store, u32 chunk)
{
	return hash_32(chunk >> FILTER_SHIFT, 32) & store->filter_mask;
}

static inline bool filter_maybe(struct shadow_store *store, u32 chunk)
{
	return test_bit(filter_bit(store, chunk), store->filter);
}

static bool rec_is_private(struct shadow_rec *r)
{
	return r->hi & SHADOW_REC_PRIVATE;
}

/* Highest shared epoch of @chunk below @below (0 if none). */
static u32 last_hi_below(struct shadow_store *store, u32 chunk, u32 below)
{
	u32 x, best = 0;

	if (!filter_maybe(store, chunk))
		return 0;
	for (x = *hash_slot(store, chunk); x != SHADOW_NIL;
	     x = store->rec[x].hash_next) {
		struct shadow_rec *r = store->rec + x;

		if (r->chunk != chunk || rec_is_private(r))
			continue;
		if (r->hi < below && r->hi > best)
			best = r->hi;
	}
	return best;
}

/* Where snapshot @epoch reads @chunk from, by the hash chain alone. */
static u32 lookup_chain(struct shadow_store *store, u32 chunk, u32 epoch)
{
	u32 x, best = SHADOW_NIL, best_hi = U32_MAX;

	for (x = *hash_slot(store, chunk); x != SHADOW_NIL;
	     x = store->rec[x].hash_next) {
		struct shadow_rec *r = store->rec + x;

		if (r->chunk != chunk)
			continue;
		if (rec_is_private(r)) {
			if ((r->hi & ~SHADOW_REC_PRIVATE) == epoch)
				return x;
			continue;
		}
		if (r->hi >= epoch && r->hi < best_hi) {
			best = x;
			best_hi = r->hi;
		}
	}
	return best;
}

/**
 * shadow_store_lookup() - where snapshot @epoch reads @chunk from
 * @store: the store
 * @chunk: origin chunk
 * @epoch: snapshot epoch
 *
 * Caller holds store->lock.
 *
 * Return: the store chunk holding the content, or SHADOW_NIL when the
 * snapshot reads the origin.
 */
u32 shadow_store_lookup(struct shadow_store *store, u32 chunk, u32 epoch)
{
	if (!filter_maybe(store, chunk))
		return SHADOW_NIL;
	return lookup_chain(store, chunk, epoch);
}

/**
 * shadow_store_origin_run() - how far snapshot @epoch reads the origin
 * @store: the store
 * @chunk: first origin chunk
 * @nr: number of chunks to look at
 * @epoch: snapshot epoch
 *
 * Groups of chunks that the filter shows without a record are passed over
 * whole.  Caller holds store->lock.
 *
 * Return: n <= @nr such that snapshot @epoch reads chunks @chunk to
 * @chunk + n - 1 from the origin, and chunk @chunk + n (if n < @nr) from
 * the store.
 */
u32 shadow_store_origin_run(struct shadow_store *store, u32 chunk, u32 nr,
			    u32 epoch)
{
	u32 i = 0;

	while (i < nr) {
		u32 c = chunk + i;

		if (!filter_maybe(store, c)) {
			i += FILTER_CHUNKS - (c & (FILTER_CHUNKS - 1));
			continue;
		}
		if (lookup_chain(store, c, epoch) != SHADOW_NIL)
			return i;
		i++;
	}
	return nr;
}

/**
 * shadow_store_last_hi() - newest epoch that reads @chunk from the store
 * @store: the store
 * @chunk: origin chunk
 *
 * Snapshots up to the returned epoch read @chunk from store records; the
 * later ones read it from the origin.  Caller holds store->lock.
 *
 * Return: the largest upper epoch of the shared records of @chunk, 0 if
 * none.
 */
u32 shadow_store_last_hi(struct shadow_store *store, u32 chunk)
{
	return last_hi_below(store, chunk, U32_MAX);
}

/**
 * shadow_store_needs_copy() - must an origin write to @chunk copy it first?
 * @store: the store
 * @chunk: origin chunk
 *
 * True when the newest live snapshot still reads @chunk from the origin.
 * Caller holds store->lock.
 */
bool shadow_store_needs_copy(struct shadow_store *store, u32 chunk)
{
	if (!store->newest || store->failed)
		return false;
	return last_hi_below(store, chunk, U32_MAX) < store->newest;
}

static void rec_link(struct shadow_store *store, u32 x, u32 chunk, u32 hi,
		     u32 *list_head)
{
	struct shadow_rec *r = store->rec + x;
	u32 *slot = hash_slot(store, chunk);

	r->chunk = chunk;
	r->hi = hi;
	r->hash_next = *slot;
	*slot = x;
	__set_bit(filter_bit(store, chunk), store->filter);
	r->list_next = *list_head;
	*list_head = x;
	store->nr_records++;
}

static void rec_unlink(struct shadow_store *store, u32 x)
{
	u32 *p = hash_slot(store, store->rec[x].chunk);

	while (*p != x)
		p = &store->rec[*p].hash_next;
	*p = store->rec[x].hash_next;
	store->rec[x].hi = 0;
	store->nr_records--;
}

static void chunk_free(struct shadow_store *store, u32 x)
{
	if (!WARN_ON_ONCE(!test_bit(x, store->used))) {
		__clear_bit(x, store->used);
		store->nr_used--;
	}
}

/*
 * Drops every record of @snap: the shared ones that cover no other live
 * snapshot and all private ones.  Dropped records are unlinked at once and
 * their chunks queued on store->free_list when @defer (they become
 * allocatable after the commit that persists the delete), else freed.
 */
static void snap_release_records(struct shadow_store *store,
				 struct shadow_snap *snap, bool defer)
{
	struct shadow_snap *prev = NULL;
	u32 x, next;

	if (!list_is_first(&snap->list, &store->snaps))
		prev = list_prev_entry(snap, list);

	for (x = snap->shared_head; x != SHADOW_NIL; x = next) {
		struct shadow_rec *r = store->rec + x;
		u32 below;

		next = r->list_next;
		below = prev ? last_hi_below(store, r->chunk, snap->epoch) : 0;
		if (prev && below < prev->epoch) {
			/* still needed by prev: re-key */
			r->hi = prev->epoch;
			r->list_next = prev->shared_head;
			prev->shared_head = x;
			prev->nr_shared++;
			continue;
		}
		rec_unlink(store, x);
		if (defer) {
			r->list_next = store->free_list;
			store->free_list = x;
		} else {
			chunk_free(store, x);
		}
	}
	for (x = snap->private_head; x != SHADOW_NIL; x = next) {
		next = store->rec[x].list_next;
		rec_unlink(store, x);
		if (defer) {
			store->rec[x].list_next = store->free_list;
			store->free_list = x;
		} else {
			chunk_free(store, x);
		}
	}
	snap->shared_head = SHADOW_NIL;
	snap->private_head = SHADOW_NIL;
	snap->nr_shared = 0;
	snap->nr_private = 0;
}

static void update_newest(struct shadow_store *store)
{
	store->newest = list_empty(&store->snaps) ? 0 :
		list_last_entry(&store->snaps, struct shadow_snap, list)->epoch;
}

/* Removes @snap from the live list; frees it unless a device has it open. */
static void snap_remove(struct shadow_store *store, struct shadow_snap *snap,
			bool defer)
{
	snap_release_records(store, snap, defer);
	list_del(&snap->list);
	xa_erase(&store->snap_xa, snap->epoch);
	store->nr_live--;
	update_newest(store);
	snap->flags |= SHADOW_SNAP_DEAD | SHADOW_SNAP_INVALID;
	if (!snap->open_count)
		kfree(snap);
}

static struct shadow_snap *snap_new(u32 epoch, u32 flags, const u8 *label)
{
	struct shadow_snap *snap = kzalloc(sizeof(*snap), GFP_KERNEL);

	if (!snap)
		return NULL;
	snap->epoch = epoch;
	snap->flags = flags;
	snap->shared_head = SHADOW_NIL;
	snap->private_head = SHADOW_NIL;
	if (label)
		memcpy(snap->label, label, SHADOW_LABEL_LEN);
	return snap;
}

/*
 * --------------------------------------------------------------
 * Journal
 * --------------------------------------------------------------
 */

static struct shadow_disk_jblock *jblock(void *buf, unsigned int i)
{
	return buf + (size_t)i * SHADOW_BLOCK_SIZE;
}

static void jblock_seal(struct shadow_store *store,
			struct shadow_disk_jblock *b, u64 cp_gen, u32 seq,
			unsigned int nr)
{
	b->magic = cpu_to_le32(SHADOW_JBLOCK_MAGIC);
	b->nonce = cpu_to_le64(store->nonce);
	b->cp_gen = cpu_to_le64(cp_gen);
	b->seq = cpu_to_le32(seq);
	b->nr_entries = cpu_to_le16(nr);
	b->reserved = 0;
	b->csum = cpu_to_le32(block_csum(b, SHADOW_JBLOCK_CSUM_XOR));
}

static struct shadow_disk_jentry *stage_slot(void *buf, unsigned int n)
{
	return &jblock(buf, n / SHADOW_JENTRIES_PER_BLOCK)->entries
		[n % SHADOW_JENTRIES_PER_BLOCK];
}

static int store_checkpoint(struct shadow_store *store);

/* Returns a zeroed entry in the stage; commits first when it is full. */
static int stage_entry(struct shadow_store *store,
		       struct shadow_disk_jentry **e)
{
	int r;

	if (store->nr_staged == STAGE_BLOCKS * SHADOW_JENTRIES_PER_BLOCK) {
		r = shadow_store_commit(store);
		if (r)
			return r;
	}
	if (!(store->nr_staged % SHADOW_JENTRIES_PER_BLOCK))
		memset(jblock(store->jbuf,
			      store->nr_staged / SHADOW_JENTRIES_PER_BLOCK),
		       0, SHADOW_BLOCK_SIZE);
	*e = stage_slot(store->jbuf, store->nr_staged++);
	return 0;
}

static void release_free_list(struct shadow_store *store)
{
	u32 x, next;

	spin_lock(&store->lock);
	for (x = store->free_list; x != SHADOW_NIL; x = next) {
		next = store->rec[x].list_next;
		chunk_free(store, x);
	}
	store->free_list = SHADOW_NIL;
	spin_unlock(&store->lock);
}

/**
 * shadow_store_commit() - make every staged change durable
 * @store: the store
 *
 * Writes the staged journal blocks with one REQ_PREFLUSH | REQ_FUA write
 * (the preflush also makes the data copies of the batch durable first),
 * or a checkpoint when the active region has no room left.  Chunks freed
 * by the committed changes become allocatable.  Caller holds
 * store->commit_lock.
 *
 * Return: 0 or a negative errno; on error the store is failed.
 */
int shadow_store_commit(struct shadow_store *store)
{
	unsigned int i, nr_blocks, nr;
	int r;

	lockdep_assert_held(&store->commit_lock);
	if (!store->nr_staged)
		goto out;
	if (store->failed || !store->writable) {
		r = -EIO;
		goto bad;
	}

	nr_blocks = DIV_ROUND_UP(store->nr_staged, SHADOW_JENTRIES_PER_BLOCK);
	if (store->jpos + nr_blocks > store->region_blocks) {
		r = store_checkpoint(store);
		if (r)
			goto bad;
		goto out;
	}

	for (i = 0; i < nr_blocks; i++) {
		nr = min_t(unsigned int, SHADOW_JENTRIES_PER_BLOCK,
			   store->nr_staged - i * SHADOW_JENTRIES_PER_BLOCK);
		jblock_seal(store, jblock(store->jbuf, i), store->cp_gen,
			    store->jpos + i, nr);
	}
	r = store_io(store, REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_SYNC,
		     store->jbuf,
		     store->region_start[store->active_region] + store->jpos,
		     nr_blocks);
	if (r)
		goto bad;
	store->jpos += nr_blocks;
out:
	store->nr_staged = 0;
	release_free_list(store);
	return 0;
bad:
	store->nr_staged = 0;
	shadow_store_fail(store, "metadata_write_error");
	store_persist_fail(store);
	return r;
}

struct cp_ctx {
	struct shadow_store *store;
	u64 base;
	u64 cp_gen;
	u32 seq;
	unsigned int n;
};

/* Seals and writes the @ctx->n staged checkpoint entries. */
static int cp_write(struct cp_ctx *ctx, bool last)
{
	struct shadow_store *store = ctx->store;
	unsigned int i, nr_blocks, nr;
	blk_opf_t opf = REQ_OP_WRITE | REQ_SYNC;

	nr_blocks = DIV_ROUND_UP(ctx->n, SHADOW_JENTRIES_PER_BLOCK);
	if (ctx->seq + nr_blocks > store->region_blocks) {
		DMERR("checkpoint does not fit in a journal region");
		return -ENOSPC;
	}
	for (i = 0; i < nr_blocks; i++) {
		nr = min_t(unsigned int, SHADOW_JENTRIES_PER_BLOCK,
			   ctx->n - i * SHADOW_JENTRIES_PER_BLOCK);
		jblock_seal(store, jblock(store->jbuf, i), ctx->cp_gen,
			    ctx->seq + i, nr);
	}
	if (last)
		opf |= REQ_PREFLUSH | REQ_FUA;
	if (nr_blocks) {
		int r = store_io(store, opf, store->jbuf,
				 ctx->base + ctx->seq, nr_blocks);

		if (r)
			return r;
	} else if (last) {
		int r = store_flush(store);

		if (r)
			return r;
	}
	ctx->seq += nr_blocks;
	ctx->n = 0;
	return 0;
}

static struct shadow_disk_jentry *cp_entry(struct cp_ctx *ctx)
{
	if (ctx->n == STAGE_BLOCKS * SHADOW_JENTRIES_PER_BLOCK) {
		int r = cp_write(ctx, false);

		if (r)
			return ERR_PTR(r);
	}
	if (!(ctx->n % SHADOW_JENTRIES_PER_BLOCK))
		memset(jblock(ctx->store->jbuf,
			      ctx->n / SHADOW_JENTRIES_PER_BLOCK),
		       0, SHADOW_BLOCK_SIZE);
	return stage_slot(ctx->store->jbuf, ctx->n++);
}

/*
 * Writes the whole state compactly into the inactive region, then a
 * superblock that makes it the active one.  Staged entries are dropped:
 * the in-core state already contains them.  Every writer of the index
 * holds commit_lock, so the state cannot change under us.
 */
static int store_checkpoint(struct shadow_store *store)
{
	struct cp_ctx ctx = {
		.store = store,
		.base = store->region_start[store->active_region ^ 1],
		.cp_gen = store->cp_gen + 1,
	};
	struct shadow_disk_jentry *e;
	struct shadow_snap *snap;
	u32 x;
	int r;

	store->nr_staged = 0;

	e = cp_entry(&ctx);
	if (IS_ERR(e))
		return PTR_ERR(e);
	e->type = cpu_to_le16(SHADOW_JE_EPOCH);
	e->val.value = cpu_to_le64(store->cur_epoch);

	list_for_each_entry(snap, &store->snaps, list) {
		u16 flags = 0;

		e = cp_entry(&ctx);
		if (IS_ERR(e))
			return PTR_ERR(e);
		if (snap->flags & SHADOW_SNAP_RO)
			flags |= SHADOW_JEF_READONLY;
		if (snap->flags & SHADOW_SNAP_INVALID)
			flags |= SHADOW_JEF_INVALID;
		e->type = cpu_to_le16(SHADOW_JE_SNAP_CREATE);
		e->flags = cpu_to_le16(flags);
		e->epoch = cpu_to_le32(snap->epoch);
		memcpy(e->snap.label, snap->label, SHADOW_LABEL_LEN);
		if (!snap->ctime)
			continue;
		e = cp_entry(&ctx);
		if (IS_ERR(e))
			return PTR_ERR(e);
		e->type = cpu_to_le16(SHADOW_JE_SNAP_TIME);
		e->epoch = cpu_to_le32(snap->epoch);
		e->val.value = cpu_to_le64(snap->ctime);
	}

	for (x = 0; x < store->nr_data_chunks; x++) {
		struct shadow_rec *rec = store->rec + x;

		if (!rec->hi)
			continue;
		e = cp_entry(&ctx);
		if (IS_ERR(e))
			return PTR_ERR(e);
		e->type = cpu_to_le16(SHADOW_JE_RECORD);
		if (rec_is_private(rec))
			e->flags = cpu_to_le16(SHADOW_JEF_PRIVATE);
		e->epoch = cpu_to_le32(rec->hi & ~SHADOW_REC_PRIVATE);
		e->rec.chunk = cpu_to_le64(rec->chunk);
		e->rec.store = cpu_to_le64(x);
	}

	r = cp_write(&ctx, true);
	if (r)
		return r;

	store->active_region ^= 1;
	store->cp_gen = ctx.cp_gen;
	r = sb_write(store, store->cur_epoch);
	if (r)
		return r;
	store->jpos = ctx.seq;
	return 0;
}

/*
 * --------------------------------------------------------------
 * Replay
 * --------------------------------------------------------------
 */

static struct shadow_snap *find_snap(struct shadow_store *store, u32 epoch)
{
	return xa_load(&store->snap_xa, epoch);
}

static int snap_insert(struct shadow_store *store, struct shadow_snap *snap)
{
	int r = xa_insert(&store->snap_xa, snap->epoch, snap, GFP_KERNEL);

	if (r)
		return r;
	spin_lock(&store->lock);
	list_add_tail(&snap->list, &store->snaps);
	store->nr_live++;
	store->newest = snap->epoch;
	if (snap->epoch > store->cur_epoch)
		store->cur_epoch = snap->epoch;
	spin_unlock(&store->lock);
	return 0;
}

static bool rec_exists(struct shadow_store *store, u32 chunk, u32 hi)
{
	u32 x;

	for (x = *hash_slot(store, chunk); x != SHADOW_NIL;
	     x = store->rec[x].hash_next)
		if (store->rec[x].chunk == chunk && store->rec[x].hi == hi)
			return true;
	return false;
}

static void invalidate_range(struct shadow_store *store, u32 lo, u32 hi)
{
	struct shadow_snap *snap;

	list_for_each_entry(snap, &store->snaps, list)
		if (snap->epoch > lo && snap->epoch <= hi)
			snap->flags |= SHADOW_SNAP_INVALID;
}

static int replay_entry(struct shadow_store *store,
			struct shadow_disk_jentry *e)
{
	u32 epoch = le32_to_cpu(e->epoch), flags = le16_to_cpu(e->flags);
	struct shadow_snap *snap;
	u64 chunk, s;

	switch (le16_to_cpu(e->type)) {
	case SHADOW_JE_EPOCH:
		if (le64_to_cpu(e->val.value) > SHADOW_MAX_EPOCH)
			return -EINVAL;
		store->cur_epoch = max_t(u32, store->cur_epoch,
					 le64_to_cpu(e->val.value));
		return 0;

	case SHADOW_JE_SNAP_CREATE:
		if (!epoch || epoch > SHADOW_MAX_EPOCH ||
		    epoch <= store->newest ||
		    store->nr_live >= SHADOW_MAX_SNAPSHOTS)
			return -EINVAL;
		snap = snap_new(epoch, 0, e->snap.label);
		if (!snap)
			return -ENOMEM;
		if (flags & SHADOW_JEF_READONLY)
			snap->flags |= SHADOW_SNAP_RO;
		if (flags & SHADOW_JEF_INVALID)
			snap->flags |= SHADOW_SNAP_INVALID;
		if (snap_insert(store, snap)) {
			kfree(snap);
			return -ENOMEM;
		}
		return 0;

	case SHADOW_JE_SNAP_DELETE:
		snap = find_snap(store, epoch);
		if (!snap)
			return -EINVAL;
		snap_remove(store, snap, false);
		return 0;

	case SHADOW_JE_SNAP_SET_RO:
		snap = find_snap(store, epoch);
		if (!snap)
			return -EINVAL;
		snap->flags |= SHADOW_SNAP_RO;
		return 0;

	case SHADOW_JE_SNAP_TIME:
		snap = find_snap(store, epoch);
		if (!snap)
			return -EINVAL;
		snap->ctime = le64_to_cpu(e->val.value);
		return 0;

	case SHADOW_JE_INVALIDATE:
		invalidate_range(store, le64_to_cpu(e->rec.chunk), epoch);
		return 0;

	case SHADOW_JE_RECORD:
		chunk = le64_to_cpu(e->rec.chunk);
		s = le64_to_cpu(e->rec.store);
		snap = find_snap(store, epoch);
		if (!snap || chunk >= U32_MAX || s >= store->nr_data_chunks ||
		    test_bit(s, store->used))
			return -EINVAL;
		__set_bit(s, store->used);
		store->nr_used++;
		if (flags & SHADOW_JEF_PRIVATE) {
			rec_link(store, s, chunk, epoch | SHADOW_REC_PRIVATE,
				 &snap->private_head);
			snap->nr_private++;
		} else {
			if (rec_exists(store, chunk, epoch))
				return -EINVAL;
			rec_link(store, s, chunk, epoch, &snap->shared_head);
			snap->nr_shared++;
		}
		return 0;
	}
	return -EINVAL;
}

static bool jblock_valid(struct shadow_store *store,
			 struct shadow_disk_jblock *b, u32 seq)
{
	return le32_to_cpu(b->magic) == SHADOW_JBLOCK_MAGIC &&
	       le64_to_cpu(b->nonce) == store->nonce &&
	       le64_to_cpu(b->cp_gen) == store->cp_gen &&
	       le32_to_cpu(b->seq) == seq &&
	       le16_to_cpu(b->nr_entries) <= SHADOW_JENTRIES_PER_BLOCK &&
	       le32_to_cpu(b->csum) == block_csum(b, SHADOW_JBLOCK_CSUM_XOR);
}

static int store_replay(struct shadow_store *store, char **error)
{
	u64 base = store->region_start[store->active_region];
	unsigned int nr, i, j;
	void *buf;
	u32 seq = 0;
	int r = 0;

	buf = vmalloc(IO_BLOCKS * SHADOW_BLOCK_SIZE);
	if (!buf) {
		*error = "Cannot allocate replay buffer";
		return -ENOMEM;
	}

	while (seq < store->region_blocks) {
		nr = min_t(u32, IO_BLOCKS, store->region_blocks - seq);
		r = store_io(store, REQ_OP_READ, buf, base + seq, nr);
		if (r) {
			*error = "Cannot read store journal";
			goto out;
		}
		for (i = 0; i < nr; i++, seq++) {
			struct shadow_disk_jblock *b = jblock(buf, i);

			if (!jblock_valid(store, b, seq))
				goto done;
			for (j = 0; j < le16_to_cpu(b->nr_entries); j++) {
				r = replay_entry(store, &b->entries[j]);
				if (r) {
					DMERR("bad journal entry %u of block %u",
					      j, seq);
					*error = "Store journal is corrupt";
					goto out;
				}
			}
		}
	}
done:
	store->jpos = seq;
out:
	vfree(buf);
	return r;
}

/*
 * --------------------------------------------------------------
 * Open, format, close
 * --------------------------------------------------------------
 */

static int store_alloc_index(struct shadow_store *store, char **error)
{
	u32 n = store->nr_data_chunks, nr_hash;
	u32 i;

	nr_hash = max_t(u32, 256, rounddown_pow_of_two(max_t(u32, n / 4, 1)));
	store->hash_mask = nr_hash - 1;
	store->rec = kvcalloc(n, sizeof(*store->rec), GFP_KERNEL);
	store->hash = kvmalloc_array(nr_hash, sizeof(u32), GFP_KERNEL);
	store->used = kvcalloc(BITS_TO_LONGS(n), sizeof(long), GFP_KERNEL);
	/* as many filter bits as hash slots: 1/32 byte per data chunk */
	store->filter_mask = nr_hash - 1;
	store->filter = kvcalloc(BITS_TO_LONGS(nr_hash), sizeof(long),
				 GFP_KERNEL);
	store->jbuf = vmalloc(STAGE_BLOCKS * SHADOW_BLOCK_SIZE);
	if (!store->rec || !store->hash || !store->used || !store->filter ||
	    !store->jbuf) {
		*error = "Cannot allocate store index";
		return -ENOMEM;
	}
	for (i = 0; i < nr_hash; i++)
		store->hash[i] = SHADOW_NIL;
	return 0;
}

/* Journal region size able to hold two checkpoints of a full store. */
static u32 region_blocks_for(u64 nr_chunks)
{
	u64 entries = 1 + SHADOW_MAX_SNAPSHOTS + nr_chunks;

	return 2 * DIV_ROUND_UP_ULL(entries, SHADOW_JENTRIES_PER_BLOCK) + 64;
}

static int store_format(struct shadow_store *store, u32 chunk_sectors,
			char **error)
{
	sector_t size = bdev_nr_sectors(store->bdev);
	u64 nr_chunks = size >> ilog2(chunk_sectors), regions;
	void *zero;
	int r;

	store->chunk_sectors = chunk_sectors;
	store->chunk_shift = ilog2(chunk_sectors);
	store->region_blocks = region_blocks_for(nr_chunks);
	store->region_start[0] = 2;
	store->region_start[1] = 2 + store->region_blocks;
	regions = 2 + 2 * (u64)store->region_blocks;
	store->data_start = round_up(regions * SHADOW_BLOCK_SECTORS,
				     chunk_sectors);
	if (store->data_start + chunk_sectors > size) {
		*error = "Store device is too small";
		return -EINVAL;
	}
	nr_chunks = (size - store->data_start) >> store->chunk_shift;
	if (nr_chunks >= U32_MAX) {
		*error = "Store device is too large for this chunk size";
		return -EINVAL;
	}
	store->nr_data_chunks = nr_chunks;
	store->nonce = get_random_u64();
	store->active_region = 0;
	store->cp_gen = 1;
	store->sb_generation = 0;

	zero = kzalloc(SHADOW_BLOCK_SIZE, GFP_KERNEL);
	if (!zero)
		return -ENOMEM;
	r = store_io(store, REQ_OP_WRITE, zero, store->region_start[0], 1);
	if (!r)
		r = store_io(store, REQ_OP_WRITE, zero,
			     store->region_start[1], 1);
	kfree(zero);
	/* generation 1 in slot 1, then generation 2 in slot 0 */
	if (!r)
		r = sb_write(store, 0);
	if (!r)
		r = sb_write(store, 0);
	if (r)
		*error = "Cannot write store superblock";
	return r;
}

static int store_load_sb(struct shadow_store *store, u32 chunk_sectors,
			 bool chunk_given, bool *format, char **error)
{
	struct shadow_disk_sb *sb[2], *best = NULL;
	sector_t size = bdev_nr_sectors(store->bdev);
	const char *why = NULL;
	void *buf;
	int r, i;

	buf = kmalloc(2 * SHADOW_BLOCK_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	r = store_io(store, REQ_OP_READ, buf, 0, 2);
	if (r) {
		*error = "Cannot read store superblock";
		goto out;
	}
	sb[0] = buf;
	sb[1] = buf + SHADOW_BLOCK_SIZE;

	*format = !memchr_inv(sb[0], 0, SHADOW_BLOCK_SIZE);
	if (*format)
		goto out;

	for (i = 1; i >= 0; i--) {
		const char *w = sb_check(sb[i]);

		if (w) {
			why = w;
			continue;
		}
		if (!best || le64_to_cpu(sb[i]->generation) >
			     le64_to_cpu(best->generation))
			best = sb[i];
	}
	if (!best) {
		*error = (char *)why;
		r = -EINVAL;
		goto out;
	}

	store->chunk_sectors = le32_to_cpu(best->chunk_sectors);
	store->region_blocks = le32_to_cpu(best->region_blocks);
	store->region_start[0] = le64_to_cpu(best->region_start[0]);
	store->region_start[1] = le64_to_cpu(best->region_start[1]);
	store->data_start = le64_to_cpu(best->data_start);
	store->nr_data_chunks = le64_to_cpu(best->nr_data_chunks);
	store->active_region = le32_to_cpu(best->active_region);
	store->cp_gen = le64_to_cpu(best->cp_gen);
	store->nonce = le64_to_cpu(best->nonce);
	store->sb_generation = le64_to_cpu(best->generation);
	store->cur_epoch = min_t(u64, le64_to_cpu(best->cur_epoch),
				 SHADOW_MAX_EPOCH);
	if (le32_to_cpu(best->flags) & ~SHADOW_SB_KNOWN_FLAGS) {
		*error = "Store superblock has unknown flags";
		r = -EINVAL;
		goto out;
	}
	if (le32_to_cpu(best->flags) & SHADOW_SB_FAILED) {
		store->failed = true;
		store->fail_persisted = true;
		store->fail_reason = "failed_before_load";
	}

	r = -EINVAL;
	if (!is_power_of_2(store->chunk_sectors) ||
	    store->chunk_sectors < SHADOW_MIN_CHUNK_SECTORS ||
	    store->chunk_sectors > SHADOW_MAX_CHUNK_SECTORS ||
	    store->active_region > 1 || !store->region_blocks ||
	    le64_to_cpu(best->nr_data_chunks) >= U32_MAX ||
	    !store->nr_data_chunks) {
		*error = "Store superblock has invalid geometry";
		goto out;
	}
	store->chunk_shift = ilog2(store->chunk_sectors);
	if (store->region_start[1] + store->region_blocks >
	    store->data_start / SHADOW_BLOCK_SECTORS ||
	    store->data_start + ((sector_t)store->nr_data_chunks <<
				 store->chunk_shift) > size) {
		*error = "Store device is smaller than its superblock says";
		goto out;
	}
	if (chunk_given && chunk_sectors != store->chunk_sectors) {
		*error = "Chunk size differs from the store's chunk size";
		goto out;
	}
	r = 0;
out:
	kfree(buf);
	return r;
}

/**
 * shadow_store_open() - load or format a store
 * @bdev: store device
 * @chunk_sectors: chunk size for a new store
 * @chunk_given: the table named a chunk size that must match the store's
 * @writable: the store may be written (format, checkpoint, commits)
 * @result: the store
 * @error: set to a message for ti->error on failure
 *
 * A store whose first 4 KiB are zero is formatted.  Otherwise the newest
 * valid superblock is taken and its journal replayed into the in-core
 * index; a journal that is not empty is then checkpointed so that new
 * blocks are never appended after a possibly torn tail.
 *
 * Return: 0 or a negative errno.
 */
int shadow_store_open(struct block_device *bdev, u32 chunk_sectors,
		      bool chunk_given, bool writable,
		      struct shadow_store **result, char **error)
{
	struct shadow_store *store;
	bool format;
	u32 x;
	int r;

	BUILD_BUG_ON(sizeof(struct shadow_disk_sb) != SHADOW_SB_SIZE);
	BUILD_BUG_ON(sizeof(struct shadow_disk_jentry) != SHADOW_JENTRY_SIZE);
	BUILD_BUG_ON(sizeof(struct shadow_disk_jblock) !=
		     SHADOW_JBLOCK_HEADER_SIZE);

	store = kzalloc(sizeof(*store), GFP_KERNEL);
	if (!store) {
		*error = "Cannot allocate store";
		return -ENOMEM;
	}
	store->bdev = bdev;
	store->writable = writable;
	spin_lock_init(&store->lock);
	mutex_init(&store->commit_lock);
	INIT_LIST_HEAD(&store->snaps);
	xa_init(&store->snap_xa);
	store->free_list = SHADOW_NIL;

	store->io_client = dm_io_client_create();
	if (IS_ERR(store->io_client)) {
		r = PTR_ERR(store->io_client);
		store->io_client = NULL;
		*error = "Cannot create dm-io client";
		goto bad;
	}

	r = store_load_sb(store, chunk_sectors, chunk_given, &format, error);
	if (r)
		goto bad;
	if (format) {
		if (!writable) {
			*error = "Cannot format a read-only store";
			r = -EINVAL;
			goto bad;
		}
		r = store_format(store, chunk_sectors, error);
		if (r)
			goto bad;
	}

	r = store_alloc_index(store, error);
	if (r)
		goto bad;

	if (!format) {
		r = store_replay(store, error);
		if (r)
			goto bad;
		if (store->failed) {
			/* every snapshot stays listed, and invalid */
			DMWARN("store failed before this load: its snapshots are invalid");
			shadow_store_fail(store, store->fail_reason);
		} else if (store->jpos && writable) {
			mutex_lock(&store->commit_lock);
			r = store_checkpoint(store);
			mutex_unlock(&store->commit_lock);
			if (r) {
				*error = "Cannot checkpoint store";
				goto bad;
			}
		}
	}

	x = find_first_zero_bit(store->used, store->nr_data_chunks);
	store->alloc_cursor = x < store->nr_data_chunks ? x : 0;
	*result = store;
	return 0;

bad:
	shadow_store_close(store);
	return r;
}

void shadow_store_close(struct shadow_store *store)
{
	struct shadow_snap *snap, *tmp;

	if (store->io_client) {
		mutex_lock(&store->commit_lock);
		store_persist_fail(store);
		mutex_unlock(&store->commit_lock);
	}

	list_for_each_entry_safe(snap, tmp, &store->snaps, list) {
		WARN_ON(snap->open_count);
		kfree(snap);
	}
	xa_destroy(&store->snap_xa);
	vfree(store->jbuf);
	kvfree(store->used);
	kvfree(store->filter);
	kvfree(store->hash);
	kvfree(store->rec);
	if (store->io_client)
		dm_io_client_destroy(store->io_client);
	kfree(store);
}

/*
 * --------------------------------------------------------------
 * Allocation
 * --------------------------------------------------------------
 */

/**
 * shadow_store_alloc() - reserve a free store chunk
 * @store: the store
 * @s: the reserved chunk
 *
 * Return: 0, or -ENOSPC when the store is full.
 */
int shadow_store_alloc(struct shadow_store *store, u32 *s)
{
	u32 x;

	spin_lock(&store->lock);
	x = find_next_zero_bit(store->used, store->nr_data_chunks,
			       store->alloc_cursor);
	if (x >= store->nr_data_chunks)
		x = find_first_zero_bit(store->used, store->nr_data_chunks);
	if (x >= store->nr_data_chunks) {
		spin_unlock(&store->lock);
		return -ENOSPC;
	}
	__set_bit(x, store->used);
	store->nr_used++;
	store->alloc_cursor = x + 1;
	spin_unlock(&store->lock);
	*s = x;
	return 0;
}

/* Returns a chunk reserved by shadow_store_alloc() that got no record. */
void shadow_store_release_unused(struct shadow_store *store, u32 s)
{
	spin_lock(&store->lock);
	chunk_free(store, s);
	spin_unlock(&store->lock);
}

/*
 * --------------------------------------------------------------
 * Metadata changes
 * --------------------------------------------------------------
 */

/**
 * shadow_store_add_shared() - record preserved origin content
 * @store: the store
 * @chunk: origin chunk that was copied
 * @s: store chunk it was copied to
 *
 * The record's upper epoch is the newest live snapshot at this point; if
 * the content is no longer needed (snapshots deleted meanwhile) @s is
 * released instead.  Caller holds commit_lock and the chunk lock of @chunk.
 *
 * Return: 1 if a record was staged, 0 if not needed, negative errno.
 */
int shadow_store_add_shared(struct shadow_store *store, u32 chunk, u32 s)
{
	struct shadow_disk_jentry *e;
	struct shadow_snap *snap;
	int r;

	lockdep_assert_held(&store->commit_lock);
	r = stage_entry(store, &e);
	if (r) {
		shadow_store_release_unused(store, s);
		return r;
	}

	spin_lock(&store->lock);
	if (!shadow_store_needs_copy(store, chunk)) {
		chunk_free(store, s);
		spin_unlock(&store->lock);
		store->nr_staged--;
		return 0;
	}
	snap = list_last_entry(&store->snaps, struct shadow_snap, list);
	rec_link(store, s, chunk, snap->epoch, &snap->shared_head);
	snap->nr_shared++;
	spin_unlock(&store->lock);

	e->type = cpu_to_le16(SHADOW_JE_RECORD);
	e->epoch = cpu_to_le32(snap->epoch);
	e->rec.chunk = cpu_to_le64(chunk);
	e->rec.store = cpu_to_le64(s);
	return 1;
}

/**
 * shadow_store_add_private() - record a chunk private to a snapshot
 * @store: the store
 * @chunk: origin chunk
 * @s: store chunk holding the snapshot's own content of @chunk
 * @snap: the writable snapshot
 *
 * Caller holds commit_lock and the chunk lock of @chunk.
 *
 * Return: 0 or a negative errno (@s is released then).
 */
int shadow_store_add_private(struct shadow_store *store, u32 chunk, u32 s,
			     struct shadow_snap *snap)
{
	struct shadow_disk_jentry *e;
	int r;

	lockdep_assert_held(&store->commit_lock);
	r = stage_entry(store, &e);
	if (r)
		goto bad;
	spin_lock(&store->lock);
	if (snap->flags & SHADOW_SNAP_DEAD) {
		spin_unlock(&store->lock);
		store->nr_staged--;
		r = -EIO;
		goto bad;
	}
	rec_link(store, s, chunk, snap->epoch | SHADOW_REC_PRIVATE,
		 &snap->private_head);
	snap->nr_private++;
	spin_unlock(&store->lock);

	e->type = cpu_to_le16(SHADOW_JE_RECORD);
	e->flags = cpu_to_le16(SHADOW_JEF_PRIVATE);
	e->epoch = cpu_to_le32(snap->epoch);
	e->rec.chunk = cpu_to_le64(chunk);
	e->rec.store = cpu_to_le64(s);
	return 0;
bad:
	shadow_store_release_unused(store, s);
	return r;
}

/**
 * shadow_store_create_snap() - take a snapshot and commit it
 * @store: the store
 * @label: optional label (truncated to SHADOW_LABEL_LEN)
 * @epoch: the new snapshot's id
 *
 * The caller has drained origin writes.  Caller holds commit_lock.
 *
 * Return: 0 or a negative errno.
 */
int shadow_store_create_snap(struct shadow_store *store, const char *label,
			     u32 *epoch)
{
	struct shadow_disk_jentry *e;
	struct shadow_snap *snap;
	u8 lbl[SHADOW_LABEL_LEN] = { 0 };
	int r;

	lockdep_assert_held(&store->commit_lock);
	if (store->failed)
		return -EIO;
	if (store->nr_live >= SHADOW_MAX_SNAPSHOTS ||
	    store->cur_epoch >= SHADOW_MAX_EPOCH)
		return -ENOSPC;
	if (label)
		memcpy(lbl, label, strnlen(label, SHADOW_LABEL_LEN));

	snap = snap_new(store->cur_epoch + 1, 0, lbl);
	if (!snap)
		return -ENOMEM;
	r = stage_entry(store, &e);
	if (r)
		goto bad;
	r = snap_insert(store, snap);
	if (r) {
		store->nr_staged--;
		goto bad;
	}
	e->type = cpu_to_le16(SHADOW_JE_SNAP_CREATE);
	e->epoch = cpu_to_le32(snap->epoch);
	memcpy(e->snap.label, lbl, SHADOW_LABEL_LEN);

	/* a full stage is committed first: the time may land apart */
	r = stage_entry(store, &e);
	if (r)
		return r;
	snap->ctime = ktime_get_real_ns();
	e->type = cpu_to_le16(SHADOW_JE_SNAP_TIME);
	e->epoch = cpu_to_le32(snap->epoch);
	e->val.value = cpu_to_le64(snap->ctime);

	r = shadow_store_commit(store);
	if (r)
		return r;
	*epoch = snap->epoch;
	return 0;
bad:
	kfree(snap);
	return r;
}

/**
 * shadow_store_delete_snap() - delete a snapshot and commit
 * @store: the store
 * @epoch: snapshot id
 * @dropped: dropped by the overflow policy (an open snapshot may be
 *	dropped; it becomes invalid)
 *
 * Frees the records only this snapshot needed; the chunks become
 * allocatable once the delete is durable.  Caller holds commit_lock.
 *
 * Return: 0 or a negative errno.
 */
int shadow_store_delete_snap(struct shadow_store *store, u32 epoch,
			     bool dropped)
{
	struct shadow_disk_jentry *e;
	struct shadow_snap *snap;
	int r;

	lockdep_assert_held(&store->commit_lock);
	if (store->failed && !dropped)
		return -EIO;
	r = stage_entry(store, &e);
	if (r)
		return r;

	spin_lock(&store->lock);
	snap = find_snap(store, epoch);
	if (!snap || (snap->open_count && !dropped)) {
		spin_unlock(&store->lock);
		store->nr_staged--;
		return snap ? -EBUSY : -ENOENT;
	}
	snap_remove(store, snap, true);
	spin_unlock(&store->lock);

	e->type = cpu_to_le16(SHADOW_JE_SNAP_DELETE);
	e->epoch = cpu_to_le32(epoch);
	if (dropped)
		e->flags = cpu_to_le16(SHADOW_JEF_DROPPED);
	return shadow_store_commit(store);
}

int shadow_store_set_readonly(struct shadow_store *store, u32 epoch)
{
	struct shadow_disk_jentry *e;
	struct shadow_snap *snap;
	int r;

	lockdep_assert_held(&store->commit_lock);
	r = stage_entry(store, &e);
	if (r)
		return r;
	spin_lock(&store->lock);
	snap = find_snap(store, epoch);
	if (!snap) {
		spin_unlock(&store->lock);
		store->nr_staged--;
		return -ENOENT;
	}
	snap->flags |= SHADOW_SNAP_RO;
	spin_unlock(&store->lock);
	e->type = cpu_to_le16(SHADOW_JE_SNAP_SET_RO);
	e->epoch = cpu_to_le32(epoch);
	return shadow_store_commit(store);
}

/**
 * shadow_store_invalidate() - mark snapshots (lo, hi] invalid
 * @store: the store
 * @lo: exclusive lower epoch
 * @hi: inclusive upper epoch
 *
 * Used when preserved content could not be written: those snapshots
 * would read wrong data.  Caller holds commit_lock.
 *
 * Return: 0 or a negative errno.
 */
int shadow_store_invalidate(struct shadow_store *store, u32 lo, u32 hi)
{
	struct shadow_disk_jentry *e;
	int r;

	lockdep_assert_held(&store->commit_lock);
	spin_lock(&store->lock);
	invalidate_range(store, lo, hi);
	spin_unlock(&store->lock);
	r = stage_entry(store, &e);
	if (r)
		return r;
	e->type = cpu_to_le16(SHADOW_JE_INVALIDATE);
	e->epoch = cpu_to_le32(hi);
	e->rec.chunk = cpu_to_le64(lo);
	return shadow_store_commit(store);
}

/**
 * shadow_store_fail() - put the store in the Fail state
 * @store: the store
 * @reason: short reason shown in the status line
 *
 * Every snapshot becomes invalid; origin writes no longer copy.
 */
void shadow_store_fail(struct shadow_store *store, const char *reason)
{
	struct shadow_snap *snap;

	spin_lock(&store->lock);
	if (!store->failed) {
		DMERR("store failed: %s", reason);
		store->failed = true;
		store->fail_reason = reason;
	}
	list_for_each_entry(snap, &store->snaps, list)
		snap->flags |= SHADOW_SNAP_INVALID;
	spin_unlock(&store->lock);
}

/*
 * --------------------------------------------------------------
 * Snapshot handles
 * --------------------------------------------------------------
 */

struct shadow_snap *shadow_store_get_snap(struct shadow_store *store,
					  u32 epoch, bool writable,
					  char **error)
{
	struct shadow_snap *snap;

	spin_lock(&store->lock);
	snap = find_snap(store, epoch);
	if (!snap) {
		*error = "No such snapshot";
	} else if (snap->flags & SHADOW_SNAP_INVALID) {
		*error = "Snapshot is invalid";
		snap = NULL;
	} else if (writable && (snap->flags & SHADOW_SNAP_RO)) {
		*error = "Snapshot is read-only";
		snap = NULL;
	} else {
		snap->open_count++;
	}
	spin_unlock(&store->lock);
	return snap;
}

void shadow_store_put_snap(struct shadow_store *store,
			   struct shadow_snap *snap)
{
	bool free;

	spin_lock(&store->lock);
	free = !--snap->open_count && (snap->flags & SHADOW_SNAP_DEAD);
	spin_unlock(&store->lock);
	if (free)
		kfree(snap);
}

/* Epoch of the oldest live snapshot, 0 if none.  Caller holds lock. */
u32 shadow_store_oldest(struct shadow_store *store)
{
	return list_empty(&store->snaps) ? 0 :
		list_first_entry(&store->snaps, struct shadow_snap, list)->epoch;
}

/*
 * --------------------------------------------------------------
 * Queries for the control interface
 * --------------------------------------------------------------
 */

/* The live snapshot @epoch or NULL.  Caller holds store->lock. */
struct shadow_snap *shadow_store_find_snap(struct shadow_store *store,
					   u32 epoch)
{
	return find_snap(store, epoch);
}

/**
 * shadow_store_exclusive() - store chunks only @snap needs
 * @store: the store
 * @snap: a live snapshot
 *
 * What deleting @snap would free: its private chunks, and its shared
 * records whose interval holds no other live snapshot.  Costs one hash
 * chain walk per shared record of @snap.  Caller holds store->lock.
 *
 * Return: the number of store chunks.
 */
u64 shadow_store_exclusive(struct shadow_store *store,
			   struct shadow_snap *snap)
{
	struct shadow_snap *prev = NULL;
	u64 n = snap->nr_private;
	u32 x;

	if (!list_is_first(&snap->list, &store->snaps))
		prev = list_prev_entry(snap, list);
	for (x = snap->shared_head; x != SHADOW_NIL;
	     x = store->rec[x].list_next)
		if (!prev || last_hi_below(store, store->rec[x].chunk,
					   snap->epoch) >= prev->epoch)
			n++;
	return n;
}

static void mark_private(struct shadow_store *store, struct shadow_snap *snap,
			 unsigned long *changed, u32 nr_chunks)
{
	u32 x;

	for (x = snap->private_head; x != SHADOW_NIL;
	     x = store->rec[x].list_next)
		if (store->rec[x].chunk < nr_chunks)
			__set_bit(store->rec[x].chunk, changed);
}

/**
 * shadow_store_diff() - origin chunks that differ between two points
 * @store: the store
 * @from: the earlier snapshot
 * @to: a later snapshot, or NULL for the live origin
 * @changed: bitmap of @nr_chunks bits, set for every chunk that differs
 * @nr_chunks: origin chunks
 *
 * A shared record whose upper epoch e satisfies from <= e < to says that
 * the origin chunk was overwritten after snapshot e was taken, so between
 * the two points; records are keyed by live snapshots, so only the lists
 * of the live snapshots in [from, to) are walked.  Private chunks of
 * either snapshot differ too.  Caller holds store->lock.
 */
void shadow_store_diff(struct shadow_store *store, struct shadow_snap *from,
		       struct shadow_snap *to, unsigned long *changed,
		       u32 nr_chunks)
{
	struct shadow_snap *snap = from;
	u32 x;

	list_for_each_entry_from(snap, &store->snaps, list) {
		if (snap == to)
			break;
		for (x = snap->shared_head; x != SHADOW_NIL;
		     x = store->rec[x].list_next)
			if (store->rec[x].chunk < nr_chunks)
				__set_bit(store->rec[x].chunk, changed);
	}
	mark_private(store, from, changed, nr_chunks);
	if (to)
		mark_private(store, to, changed, nr_chunks);
}
