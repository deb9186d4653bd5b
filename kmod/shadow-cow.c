// SPDX-License-Identifier: GPL-2.0
/*
 * dm-shadow data path: chunk locks, the creation gate, copy-out of origin
 * chunks, group commit, snapshot reads and writes.
 *
 * The commit rule: an origin write to a chunk that the newest snapshot
 * still reads from the origin takes the chunk lock, copies the chunk to
 * the store, waits until the record of the copy is committed (one
 * REQ_PREFLUSH | REQ_FUA journal write per batch), then sets the chunk's
 * "preserved" bit, drops the chunk lock and only then goes to the origin.
 * A snapshot read that goes to the origin holds a read lock on its chunks
 * until it completes, so a copy never races a read of the same chunk.
 *
 * Neither target has dm core split its bios at chunk boundaries: reads of
 * the origin, writes to chunks already preserved (or with no snapshot)
 * and snapshot reads of a run of chunks that all read the origin go down
 * whole.  Only what needs one chunk at a time is cut, with
 * dm_accept_partial_bio(), in the map function: the cut must be made
 * before a bio is queued anywhere, so that every bio re-run from the
 * worker spans one chunk at most.
 */

#include <linux/dm-kcopyd.h>
#include <linux/slab.h>

#include "shadow.h"

#define DM_MSG_PREFIX "shadow"

/*
 * --------------------------------------------------------------
 * Chunk locks
 * --------------------------------------------------------------
 */

static struct hlist_head *cell_bucket(struct shadow_origin *o, u32 chunk)
{
	return &o->cells[hash_32(chunk, 32) % SHADOW_CELL_BUCKETS];
}

/* The bio holding the write lock of @chunk, or NULL.  Under cell_lock. */
static struct shadow_io *cell_find(struct shadow_origin *o, u32 chunk)
{
	struct shadow_io *holder;

	hlist_for_each_entry(holder, cell_bucket(o, chunk), cell_node)
		if (holder->chunk == chunk)
			return holder;
	return NULL;
}

/*
 * Cuts @io's bio after its first @nr chunks, if it goes further.  Only in
 * the map function (dm_accept_partial_bio() is valid there only); a bio
 * re-run from the worker never spans more than one chunk, so that the
 * call is never made there.
 */
static void trim_to_chunks(struct shadow_origin *o, struct shadow_io *io,
			   u32 nr)
{
	struct bio *bio = io->bio;
	sector_t end = (sector_t)(io->chunk + nr) << o->chunk_shift;

	if (bio_end_sector(bio) > end)
		dm_accept_partial_bio(bio, end - bio->bi_iter.bi_sector);
}

/*
 * Takes the write lock of io->chunk for @io, or queues @io behind the
 * bio that holds it or a snapshot read of the chunk from the origin.
 * Returns true when the lock was taken.  Never sleeps.
 */
static bool cell_acquire(struct shadow_origin *o, struct shadow_io *io)
{
	struct shadow_io *holder;
	unsigned long flags;

	spin_lock_irqsave(&o->cell_lock, flags);
	holder = cell_find(o, io->chunk);
	if (!holder) {
		hlist_for_each_entry(holder, &o->readers, cell_node)
			if (io->chunk - holder->chunk < holder->nr_chunks)
				break;
	}
	if (holder) {
		list_add_tail(&io->entry, &holder->waiters);
		spin_unlock_irqrestore(&o->cell_lock, flags);
		return false;
	}
	INIT_LIST_HEAD(&io->waiters);
	hlist_add_head(&io->cell_node, cell_bucket(o, io->chunk));
	o->nr_cells++;
	io->flags |= SHADOW_IO_HOLDS_CELL;
	spin_unlock_irqrestore(&o->cell_lock, flags);
	return true;
}

/**
 * read_acquire() - read-lock the chunks a snapshot read takes from the origin
 * @o: the origin
 * @io: the read, in the map function or (one chunk) re-run by the worker
 * @nr: chunks from io->chunk on; cut to those locked
 *
 * Snapshot reads do not exclude each other, only writes: a chunk whose
 * write lock is held, or on which a write waits for an earlier reader,
 * ends the run.  When the first chunk is such a chunk, @io is cut to that
 * chunk and queued behind the holder; a write waiting behind readers so
 * goes before the readers that come after it.
 *
 * Return: true when chunks io->chunk .. io->chunk + *@nr - 1 are locked.
 */
static bool read_acquire(struct shadow_origin *o, struct shadow_io *io,
			 u32 *nr)
{
	struct shadow_io *holder = NULL, *r;
	unsigned long flags;
	u32 i, end;

	spin_lock_irqsave(&o->cell_lock, flags);
	i = *nr;
	if (o->nr_cells) {
		for (i = 0; i < *nr; i++) {
			holder = cell_find(o, io->chunk + i);
			if (holder)
				break;
		}
	}
	end = io->chunk + i;
	hlist_for_each_entry(r, &o->readers, cell_node) {
		if (list_empty(&r->waiters) || r->chunk >= end ||
		    r->chunk + r->nr_chunks <= io->chunk)
			continue;
		holder = r;
		end = max(r->chunk, io->chunk);
	}
	i = end - io->chunk;
	if (!i) {
		trim_to_chunks(o, io, 1);
		list_add_tail(&io->entry, &holder->waiters);
		spin_unlock_irqrestore(&o->cell_lock, flags);
		return false;
	}
	*nr = i;
	io->nr_chunks = i;
	INIT_LIST_HEAD(&io->waiters);
	hlist_add_head(&io->cell_node, &o->readers);
	io->flags |= SHADOW_IO_HOLDS_CELL | SHADOW_IO_READ_LOCK;
	spin_unlock_irqrestore(&o->cell_lock, flags);
	return true;
}

/*
 * Releases the write lock or the read lock held by @io; waiters are re-run
 * by the worker.
 */
static void cell_release(struct shadow_origin *o, struct shadow_io *io)
{
	unsigned long flags;
	LIST_HEAD(waiters);

	spin_lock_irqsave(&o->cell_lock, flags);
	hlist_del(&io->cell_node);
	if (!(io->flags & SHADOW_IO_READ_LOCK))
		o->nr_cells--;
	list_splice_init(&io->waiters, &waiters);
	io->flags &= ~(SHADOW_IO_HOLDS_CELL | SHADOW_IO_READ_LOCK);
	spin_unlock_irqrestore(&o->cell_lock, flags);

	if (!list_empty(&waiters)) {
		spin_lock_irqsave(&o->list_lock, flags);
		list_splice_tail(&waiters, &o->retry);
		spin_unlock_irqrestore(&o->list_lock, flags);
		queue_work(o->wq, &o->worker);
	}
}

/*
 * --------------------------------------------------------------
 * Creation gate
 * --------------------------------------------------------------
 */

/* Admits an origin write, or holds it while a snapshot is being cut. */
static bool gate_enter(struct shadow_origin *o, struct shadow_io *io)
{
	spin_lock(&o->gate_lock);
	if (o->gate_closed) {
		if (bio_op(io->bio) == REQ_OP_WRITE)
			trim_to_chunks(o, io, 1);
		io->flags |= SHADOW_IO_GATED;
		list_add_tail(&io->entry, &o->gated);
		spin_unlock(&o->gate_lock);
		return false;
	}
	io->flags &= ~SHADOW_IO_GATED;
	io->flags |= SHADOW_IO_INFLIGHT;
	atomic_inc(&o->inflight);
	spin_unlock(&o->gate_lock);
	return true;
}

/**
 * shadow_gate_close() - hold new origin writes
 * @o: the origin
 *
 * Writes that arrive from now on wait until shadow_gate_open().  Writes
 * already admitted go on; shadow_gate_drain() waits for them.  Gates
 * nest: each close needs one open.
 */
void shadow_gate_close(struct shadow_origin *o)
{
	spin_lock(&o->gate_lock);
	o->gate_closed++;
	spin_unlock(&o->gate_lock);
}

/**
 * shadow_gate_drain() - wait for the admitted origin writes to complete
 * @o: the origin, gate closed
 * @timeout: jiffies left; updated, MAX_SCHEDULE_TIMEOUT for no bound
 *
 * Return: true when drained, false when @timeout ran out first.
 */
bool shadow_gate_drain(struct shadow_origin *o, long *timeout)
{
	long left;

	left = wait_event_timeout(o->drain_wq, !atomic_read(&o->inflight),
				  *timeout);
	if (!left)
		return false;
	if (*timeout != MAX_SCHEDULE_TIMEOUT)
		*timeout = left;
	return true;
}

static void gate_close_and_drain(struct shadow_origin *o)
{
	long forever = MAX_SCHEDULE_TIMEOUT;

	shadow_gate_close(o);
	shadow_gate_drain(o, &forever);
}

/**
 * shadow_gate_open() - let held origin writes go
 * @o: the origin
 */
void shadow_gate_open(struct shadow_origin *o)
{
	LIST_HEAD(held);

	spin_lock(&o->gate_lock);
	if (!--o->gate_closed)
		list_splice_init(&o->gated, &held);
	spin_unlock(&o->gate_lock);

	if (!list_empty(&held)) {
		spin_lock_irq(&o->list_lock);
		list_splice_tail(&held, &o->retry);
		spin_unlock_irq(&o->list_lock);
		queue_work(o->wq, &o->worker);
	}
}

/*
 * --------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------
 */

static void queue_io(struct shadow_origin *o, struct shadow_io *io,
		     struct list_head *list, struct work_struct *work)
{
	unsigned long flags;

	spin_lock_irqsave(&o->list_lock, flags);
	list_add_tail(&io->entry, list);
	spin_unlock_irqrestore(&o->list_lock, flags);
	queue_work(o->wq, work);
}

static sector_t chunk_len(struct shadow_origin *o, u32 chunk)
{
	sector_t start = (sector_t)chunk << o->chunk_shift;

	return min_t(sector_t, 1U << o->chunk_shift, o->origin_sectors - start);
}

static void remap_to_store(struct shadow_origin *o, struct bio *bio, u32 s)
{
	sector_t offset = bio->bi_iter.bi_sector & ((1U << o->chunk_shift) - 1);

	bio_set_dev(bio, o->store_bdev);
	bio->bi_iter.bi_sector = shadow_store_chunk_sector(o->store, s) +
				 offset;
}

static void shadow_event(struct shadow_origin *o)
{
	mutex_lock(&o->event_lock);
	if (o->event_ti)
		dm_table_event(o->event_ti->table);
	mutex_unlock(&o->event_lock);
}

/*
 * Signals the first failure of the store once: a dm event and a netlink
 * event.  Called after anything that may have failed the store.
 */
static void check_failed(struct shadow_origin *o)
{
	if (!READ_ONCE(o->store->failed) ||
	    test_and_set_bit(SHADOW_WATER_FAILED, &o->water_state))
		return;
	shadow_nl_notify(o, SHADOW_EVENT_STORE_FAIL, 0);
	shadow_event(o);
}

/* Raises an event when store usage crosses low_water or high_water. */
static void check_water(struct shadow_origin *o)
{
	struct shadow_store *store = o->store;
	unsigned int pct, low, high;

	spin_lock(&store->lock);
	pct = div_u64((u64)store->nr_used * 100, store->nr_data_chunks);
	spin_unlock(&store->lock);

	low = READ_ONCE(o->low_water);
	high = READ_ONCE(o->high_water);
	if (low && pct >= low) {
		if (!test_and_set_bit(SHADOW_WATER_LOW, &o->water_state)) {
			shadow_nl_notify(o, SHADOW_EVENT_LOW_WATER, 0);
			shadow_event(o);
		}
	} else {
		clear_bit(SHADOW_WATER_LOW, &o->water_state);
	}
	if (high && pct >= high) {
		if (!test_and_set_bit(SHADOW_WATER_HIGH, &o->water_state)) {
			shadow_nl_notify(o, SHADOW_EVENT_HIGH_WATER, 0);
			shadow_event(o);
		}
	} else {
		clear_bit(SHADOW_WATER_HIGH, &o->water_state);
	}
}

/*
 * The store is full: apply the overflow policy.  Returns 0 when space may
 * have been freed (the caller retries), -ENOSPC when nothing can be freed.
 */
static int handle_overflow(struct shadow_origin *o)
{
	struct shadow_store *store = o->store;
	u32 epoch;
	int r = 0;

	mutex_lock(&store->commit_lock);
	spin_lock(&store->lock);
	if (store->nr_used < store->nr_data_chunks) {
		spin_unlock(&store->lock);
		goto out;
	}
	epoch = shadow_store_oldest(store);
	spin_unlock(&store->lock);
	if (!epoch) {
		r = -ENOSPC;
		goto out;
	}

	do {
		DMWARN("store full: dropping snapshot %u", epoch);
		r = shadow_store_delete_snap(store, epoch, true);
		if (r)
			break;
		shadow_nl_notify(o, SHADOW_EVENT_SNAP_DROP, epoch);
		spin_lock(&store->lock);
		epoch = shadow_store_oldest(store);
		spin_unlock(&store->lock);
	} while (epoch && o->overflow == SHADOW_OVERFLOW_INVALIDATE);
out:
	mutex_unlock(&store->commit_lock);
	if (!r)
		shadow_event(o);
	check_failed(o);
	return r;
}

/* Reserves a store chunk, applying the overflow policy when full. */
static int alloc_chunk(struct shadow_origin *o, u32 *s)
{
	int r;

	for (;;) {
		r = shadow_store_alloc(o->store, s);
		if (r != -ENOSPC)
			return r;
		r = handle_overflow(o);
		if (r)
			return r;
	}
}

/*
 * --------------------------------------------------------------
 * Origin writes
 * --------------------------------------------------------------
 */

/*
 * Returns a DM_MAPIO_* code; the bio is remapped to the origin already.
 * A write admitted by the gate keeps the snapshot set as it is until it
 * completes, so that the preserved bits it reads only go from 0 to 1.
 */
static int origin_write(struct shadow_origin *o, struct shadow_io *io)
{
	struct shadow_store *store = o->store;
	u32 last, first;
	bool need;

	if (!READ_ONCE(store->newest) || io->chunk >= o->nr_chunks)
		return DM_MAPIO_REMAPPED;

	/* the chunks already preserved at the start go down together */
	last = min_t(u32, (bio_end_sector(io->bio) - 1) >> o->chunk_shift,
		     o->nr_chunks - 1);
	first = find_next_zero_bit(o->preserved, last + 1, io->chunk);
	if (first > last)
		return DM_MAPIO_REMAPPED;
	if (first > io->chunk) {
		trim_to_chunks(o, io, first - io->chunk);
		return DM_MAPIO_REMAPPED;
	}
	trim_to_chunks(o, io, 1);

	if (!cell_acquire(o, io))
		return DM_MAPIO_SUBMITTED;

	/* under the chunk lock every record of the chunk is committed */
	spin_lock(&store->lock);
	need = shadow_store_needs_copy(store, io->chunk);
	spin_unlock(&store->lock);
	if (!need) {
		set_bit(io->chunk, o->preserved);
		cell_release(o, io);
		return DM_MAPIO_REMAPPED;
	}

	queue_io(o, io, &o->cow, &o->worker);
	return DM_MAPIO_SUBMITTED;
}

/**
 * shadow_origin_map() - map a bio sent to the origin
 * @ti: the origin target
 * @o: its origin
 * @bio: the bio
 *
 * Reads and flushes pass through.  Writes and discards are counted
 * against the creation gate; a write to a chunk the newest snapshot still
 * reads from the origin is held until the chunk is preserved.  Discards
 * are dropped while snapshots exist.
 *
 * Return: a DM_MAPIO_* code.
 */
int shadow_origin_map(struct dm_target *ti, struct shadow_origin *o,
		      struct bio *bio)
{
	struct shadow_io *io = dm_per_bio_data(bio, sizeof(struct shadow_io));

	io->flags = 0;
	io->o = o;
	io->sd = NULL;
	io->bio = bio;
	bio_set_dev(bio, o->origin_bdev);

	if (bio_data_dir(bio) == READ || !bio_sectors(bio)) {
		if (bio_sectors(bio))
			bio->bi_iter.bi_sector =
				dm_target_offset(ti, bio->bi_iter.bi_sector);
		return DM_MAPIO_REMAPPED;
	}

	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	io->kind = SHADOW_IO_ORIGIN_WRITE;
	io->chunk = bio->bi_iter.bi_sector >> o->chunk_shift;

	if (!gate_enter(o, io))
		return DM_MAPIO_SUBMITTED;

	if (bio_op(bio) == REQ_OP_DISCARD) {
		if (READ_ONCE(o->store->newest)) {
			bio_endio(bio);
			return DM_MAPIO_SUBMITTED;
		}
		return DM_MAPIO_REMAPPED;
	}
	return origin_write(o, io);
}

/* Starts the copy of an origin chunk (worker context). */
static void cow_start(struct shadow_origin *o, struct shadow_io *io);

/*
 * --------------------------------------------------------------
 * Snapshot reads and writes
 * --------------------------------------------------------------
 */

static bool snap_bad(struct shadow_snapdev *sd)
{
	return READ_ONCE(sd->snap->flags) & SHADOW_SNAP_INVALID;
}

/*
 * How many of the @nr chunks from io->chunk on the snapshot reads from the
 * origin, up to the first it reads from the store; 0 when that is the
 * first, whose store chunk is then in *@s.
 */
static u32 origin_run(struct shadow_origin *o, struct shadow_io *io, u32 nr,
		      u32 *s)
{
	struct shadow_store *store = o->store;
	u32 epoch = io->sd->snap->epoch;
	u32 i;

	spin_lock(&store->lock);
	*s = shadow_store_lookup(store, io->chunk, epoch);
	i = 0;
	if (*s == SHADOW_NIL)
		i = 1 + shadow_store_origin_run(store, io->chunk + 1, nr - 1,
						epoch);
	spin_unlock(&store->lock);
	return i;
}

/*
 * How many of the @nr chunks from io->chunk on the snapshot reads from the
 * store chunks @s, @s + 1, ... in turn (at least the first).
 */
static u32 store_run(struct shadow_origin *o, struct shadow_io *io, u32 nr,
		     u32 s)
{
	struct shadow_store *store = o->store;
	u32 epoch = io->sd->snap->epoch;
	u32 i;

	spin_lock(&store->lock);
	for (i = 1; i < nr; i++)
		if (shadow_store_lookup(store, io->chunk + i, epoch) != s + i)
			break;
	spin_unlock(&store->lock);
	return i;
}

/*
 * A snapshot read: a run of chunks that all read the origin goes there in
 * one bio, under a read lock until it completes; a run of chunks held in
 * consecutive store chunks goes to the store in one bio, without a lock.
 * The origin run is looked up under the read lock, so that a write that
 * preserved one of its chunks before is seen, and one that comes after
 * waits.
 */
static int snap_read(struct shadow_origin *o, struct shadow_io *io)
{
	struct bio *bio = io->bio;
	u32 last = (bio_end_sector(bio) - 1) >> o->chunk_shift;
	u32 nr, s;

	if (snap_bad(io->sd))
		return DM_MAPIO_KILL;

	last = min(last, o->nr_chunks - 1);
	if (origin_run(o, io, 1, &s)) {
		nr = last - io->chunk + 1;
		if (!read_acquire(o, io, &nr))
			return DM_MAPIO_SUBMITTED;
		nr = origin_run(o, io, nr, &s);
		if (nr) {
			/* read lock held until the read completes */
			trim_to_chunks(o, io, nr);
			bio_set_dev(bio, o->origin_bdev);
			return DM_MAPIO_REMAPPED;
		}
		cell_release(o, io);
	}
	trim_to_chunks(o, io, store_run(o, io, last - io->chunk + 1, s));
	remap_to_store(o, bio, s);
	return DM_MAPIO_REMAPPED;
}

/* Snapshot write with the chunk lock held (worker context). */
static int snap_write(struct shadow_origin *o, struct shadow_io *io)
{
	struct shadow_store *store = o->store;
	u32 s;

	if (snap_bad(io->sd)) {
		cell_release(o, io);
		return DM_MAPIO_KILL;
	}
	spin_lock(&store->lock);
	s = shadow_store_lookup(store, io->chunk, io->sd->snap->epoch);
	if (s != SHADOW_NIL && !(store->rec[s].hi & SHADOW_REC_PRIVATE))
		s = SHADOW_NIL;
	spin_unlock(&store->lock);
	if (s != SHADOW_NIL) {
		/* private chunk exists and is committed: write in place */
		remap_to_store(o, io->bio, s);
		cell_release(o, io);
		return DM_MAPIO_REMAPPED;
	}
	cow_start(o, io);
	return DM_MAPIO_SUBMITTED;
}

/**
 * shadow_snap_map() - map a bio sent to a snapshot device
 * @sd: the snapshot device
 * @bio: the bio
 *
 * Return: a DM_MAPIO_* code.
 */
int shadow_snap_map(struct shadow_snapdev *sd, struct bio *bio)
{
	struct shadow_io *io = dm_per_bio_data(bio, sizeof(struct shadow_io));
	struct shadow_origin *o = sd->o;

	io->flags = 0;
	io->o = o;
	io->sd = sd;
	io->bio = bio;

	if (!bio_sectors(bio)) {
		bio_set_dev(bio, o->store_bdev);
		return DM_MAPIO_REMAPPED;
	}
	bio->bi_iter.bi_sector = dm_target_offset(sd->ti,
						  bio->bi_iter.bi_sector);
	io->chunk = bio->bi_iter.bi_sector >> o->chunk_shift;
	if (io->chunk >= o->nr_chunks)
		return DM_MAPIO_KILL;

	if (bio_data_dir(bio) == READ) {
		io->kind = SHADOW_IO_SNAP_READ;
		return snap_read(o, io);
	}
	if (!sd->writable || bio_op(bio) != REQ_OP_WRITE)
		return DM_MAPIO_KILL;
	io->kind = SHADOW_IO_SNAP_WRITE;
	if (snap_bad(sd))
		return DM_MAPIO_KILL;
	trim_to_chunks(o, io, 1);
	if (cell_acquire(o, io))
		queue_io(o, io, &o->cow, &o->worker);
	return DM_MAPIO_SUBMITTED;
}

/**
 * shadow_end_io() - end_io of both targets
 * @bio: the bio
 * @error: its status, may be changed
 *
 * Drops the chunk lock of a snapshot read from the origin, counts the end
 * of an origin write for the creation gate, and fails reads of a snapshot
 * that became invalid while they were in flight (its chunks may have been
 * reused).  A whole-chunk write to a writable snapshot lands in a new
 * store chunk before its record exists: it is held here until the
 * committer has made the record durable, and ended again then.
 *
 * Return: DM_ENDIO_DONE, or DM_ENDIO_INCOMPLETE for a held write.
 */
int shadow_end_io(struct bio *bio, blk_status_t *error)
{
	struct shadow_io *io = dm_per_bio_data(bio, sizeof(struct shadow_io));
	struct shadow_origin *o = io->o;

	if (io->flags & SHADOW_IO_RECORD_AFTER) {
		/* the committer ends the bio again once the record is durable */
		io->flags &= ~SHADOW_IO_RECORD_AFTER;
		io->flags |= SHADOW_IO_WRITTEN;
		io->copy_error = *error != BLK_STS_OK;
		queue_io(o, io, &o->copied, &o->committer);
		return DM_ENDIO_INCOMPLETE;
	}
	if (io->flags & SHADOW_IO_HOLDS_CELL)
		cell_release(o, io);
	if (io->flags & SHADOW_IO_INFLIGHT) {
		io->flags &= ~SHADOW_IO_INFLIGHT;
		if (atomic_dec_and_test(&o->inflight))
			wake_up(&o->drain_wq);
	}
	if (io->sd && !*error && snap_bad(io->sd) && bio_sectors(bio))
		*error = BLK_STS_IOERR;
	return DM_ENDIO_DONE;
}

/*
 * --------------------------------------------------------------
 * Copies and commits
 * --------------------------------------------------------------
 */

static void copy_done(int read_err, unsigned long write_err, void *context)
{
	struct shadow_io *io = context;

	io->copy_error = read_err || write_err;
	queue_io(io->o, io, &io->o->copied, &io->o->committer);
}

/*
 * Worker context, chunk lock held: reserve a store chunk and copy the
 * chunk there from where the bio's reader sees it now.  An origin write
 * copies from the origin; a snapshot write copies what the snapshot reads
 * (nothing when the write covers the whole chunk).
 */
static void cow_start(struct shadow_origin *o, struct shadow_io *io)
{
	struct shadow_store *store = o->store;
	struct dm_io_region from, to;
	sector_t len = chunk_len(o, io->chunk);
	u32 src = SHADOW_NIL;
	int r;

	r = alloc_chunk(o, &io->store_chunk);
	if (r) {
		/* no snapshot left to preserve for, or store failed */
		io->store_chunk = SHADOW_NIL;
		io->copy_error = false;
		queue_io(o, io, &o->copied, &o->committer);
		return;
	}

	if (io->kind == SHADOW_IO_SNAP_WRITE) {
		spin_lock(&store->lock);
		src = shadow_store_lookup(store, io->chunk,
					  io->sd->snap->epoch);
		spin_unlock(&store->lock);
		if (bio_sectors(io->bio) == len) {
			/*
			 * Nothing to keep: write the data first and commit
			 * the record when it is written (shadow_end_io()),
			 * so that a crash never leaves a record pointing at
			 * a chunk that does not hold the data.
			 */
			io->flags |= SHADOW_IO_RECORD_AFTER;
			remap_to_store(o, io->bio, io->store_chunk);
			dm_submit_bio_remap(io->bio, NULL);
			return;
		}
	}

	if (src == SHADOW_NIL) {
		from.bdev = o->origin_bdev;
		from.sector = (sector_t)io->chunk << o->chunk_shift;
	} else {
		from.bdev = o->store_bdev;
		from.sector = shadow_store_chunk_sector(store, src);
	}
	from.count = len;
	to.bdev = o->store_bdev;
	to.sector = shadow_store_chunk_sector(store, io->store_chunk);
	to.count = len;
	dm_kcopyd_copy(o->kc, &from, 1, &to, 0, copy_done, io);
}

/* Stages the record of one finished copy.  Caller holds commit_lock. */
static void commit_one(struct shadow_origin *o, struct shadow_io *io)
{
	struct shadow_store *store = o->store;
	u32 lo, hi;
	int r;

	if (io->store_chunk == SHADOW_NIL) {
		/* nothing to record; a snapshot write fails without space */
		io->copy_error = io->kind == SHADOW_IO_SNAP_WRITE;
		return;
	}
	if (io->copy_error) {
		shadow_store_release_unused(store, io->store_chunk);
		if (io->kind == SHADOW_IO_SNAP_WRITE)
			return;
		/*
		 * The snapshots that read this chunk from the origin lose
		 * it; older ones have it in the store already.
		 */
		spin_lock(&store->lock);
		hi = store->newest;
		lo = shadow_store_last_hi(store, io->chunk);
		spin_unlock(&store->lock);
		DMERR("copy of chunk %u failed: invalidating snapshots %u to %u",
		      io->chunk, lo + 1, hi);
		shadow_store_invalidate(store, lo, hi);
		shadow_nl_notify(o, SHADOW_EVENT_SNAP_INVALID, hi);
		io->copy_error = false;
		return;
	}
	if (io->kind == SHADOW_IO_SNAP_WRITE)
		r = shadow_store_add_private(store, io->chunk,
					     io->store_chunk, io->sd->snap);
	else
		r = shadow_store_add_shared(store, io->chunk, io->store_chunk);
	if (r < 0 && io->kind == SHADOW_IO_SNAP_WRITE)
		io->copy_error = true;
}

/* Releases a bio whose copy is committed. */
static void finish_io(struct shadow_origin *o, struct shadow_io *io)
{
	struct bio *bio = io->bio;

	if (io->kind == SHADOW_IO_SNAP_WRITE) {
		cell_release(o, io);
		if (io->flags & SHADOW_IO_WRITTEN) {
			io->flags &= ~SHADOW_IO_WRITTEN;
			if (io->copy_error)
				bio->bi_status = BLK_STS_IOERR;
			bio_endio(bio);
			return;
		}
		if (io->copy_error) {
			bio_io_error(bio);
			return;
		}
		remap_to_store(o, bio, io->store_chunk);
	} else {
		set_bit(io->chunk, o->preserved);
		cell_release(o, io);
	}
	dm_submit_bio_remap(bio, NULL);
}

static void do_commit(struct work_struct *work)
{
	struct shadow_origin *o = container_of(work, struct shadow_origin,
					       committer);
	struct shadow_store *store = o->store;
	struct shadow_io *io, *tmp;
	LIST_HEAD(batch);

	spin_lock_irq(&o->list_lock);
	list_splice_init(&o->copied, &batch);
	spin_unlock_irq(&o->list_lock);
	if (list_empty(&batch))
		return;

	mutex_lock(&store->commit_lock);
	list_for_each_entry(io, &batch, entry)
		commit_one(o, io);
	if (shadow_store_commit(store)) {
		/* records lost: snapshot writes fail, origin goes on */
		list_for_each_entry(io, &batch, entry)
			if (io->kind == SHADOW_IO_SNAP_WRITE)
				io->copy_error = true;
	}
	mutex_unlock(&store->commit_lock);

	list_for_each_entry_safe(io, tmp, &batch, entry) {
		list_del(&io->entry);
		finish_io(o, io);
	}
	check_failed(o);
	check_water(o);
}

/* Re-runs held bios and starts copies. */
static void do_worker(struct work_struct *work)
{
	struct shadow_origin *o = container_of(work, struct shadow_origin,
					       worker);
	struct shadow_io *io, *tmp;
	LIST_HEAD(retry);
	LIST_HEAD(cow);
	int r;

	spin_lock_irq(&o->list_lock);
	list_splice_init(&o->retry, &retry);
	list_splice_init(&o->cow, &cow);
	spin_unlock_irq(&o->list_lock);

	list_for_each_entry_safe(io, tmp, &retry, entry) {
		list_del(&io->entry);
		switch (io->kind) {
		case SHADOW_IO_ORIGIN_WRITE:
			if ((io->flags & SHADOW_IO_GATED) && !gate_enter(o, io))
				continue;
			if (bio_op(io->bio) == REQ_OP_DISCARD &&
			    READ_ONCE(o->store->newest)) {
				bio_endio(io->bio);
				continue;
			}
			r = origin_write(o, io);
			break;
		case SHADOW_IO_SNAP_READ:
			r = snap_read(o, io);
			break;
		default:
			/* snapshot write: try the chunk lock again */
			if (cell_acquire(o, io))
				queue_io(o, io, &o->cow, &o->worker);
			continue;
		}
		if (r == DM_MAPIO_REMAPPED)
			dm_submit_bio_remap(io->bio, NULL);
		else if (r == DM_MAPIO_KILL)
			bio_io_error(io->bio);
	}

	list_for_each_entry_safe(io, tmp, &cow, entry) {
		list_del(&io->entry);
		if (io->kind == SHADOW_IO_SNAP_WRITE) {
			r = snap_write(o, io);
			if (r == DM_MAPIO_REMAPPED)
				dm_submit_bio_remap(io->bio, NULL);
			else if (r == DM_MAPIO_KILL)
				bio_io_error(io->bio);
		} else {
			cow_start(o, io);
		}
	}
}

/*
 * --------------------------------------------------------------
 * Snapshot management
 * --------------------------------------------------------------
 */

/**
 * shadow_origin_cut() - commit a new snapshot of a drained origin
 * @o: the origin; its gate is closed and drained
 * @label: optional label
 * @epoch: the new snapshot's id
 *
 * Commits the new epoch and clears the preserved bits.  No data is
 * copied.  The snapshot is announced when the gate opens, by the caller.
 *
 * Return: 0 or a negative errno.
 */
int shadow_origin_cut(struct shadow_origin *o, const char *label, u32 *epoch)
{
	struct shadow_store *store = o->store;
	int r;

	if (!store->writable)
		return -EROFS;
	mutex_lock(&store->commit_lock);
	r = shadow_store_create_snap(store, label, epoch);
	if (!r)
		bitmap_zero(o->preserved, o->nr_chunks);
	mutex_unlock(&store->commit_lock);
	check_failed(o);
	return r;
}

/**
 * shadow_origin_uncut() - take back a snapshot cut under the same gate
 * @o: the origin; its gate is still closed
 * @epoch: the snapshot shadow_origin_cut() returned
 *
 * No origin write has run since the cut, so the snapshot holds nothing
 * and the newest snapshot before it reads the same as before.  The
 * preserved bits were cleared by the cut; they only make the next write
 * to each chunk check the index again.
 *
 * Return: 0 or a negative errno.
 */
int shadow_origin_uncut(struct shadow_origin *o, u32 epoch)
{
	struct shadow_store *store = o->store;
	int r;

	mutex_lock(&store->commit_lock);
	r = shadow_store_delete_snap(store, epoch, false);
	mutex_unlock(&store->commit_lock);
	check_failed(o);
	return r;
}

/**
 * shadow_origin_create_snap() - cut a new snapshot of the origin
 * @o: the origin
 * @label: optional label
 * @epoch: the new snapshot's id
 *
 * Holds new origin writes, waits for admitted ones to complete, commits
 * the new epoch, then lets the writes go.  No data is copied.
 *
 * Return: 0 or a negative errno.
 */
int shadow_origin_create_snap(struct shadow_origin *o, const char *label,
			      u32 *epoch)
{
	int r;

	gate_close_and_drain(o);
	r = shadow_origin_cut(o, label, epoch);
	shadow_gate_open(o);
	if (!r) {
		shadow_nl_notify(o, SHADOW_EVENT_SNAP_CREATE, *epoch);
		check_water(o);
	}
	return r;
}

int shadow_origin_delete_snap(struct shadow_origin *o, u32 epoch)
{
	struct shadow_store *store = o->store;
	int r;

	if (!store->writable)
		return -EROFS;
	mutex_lock(&store->commit_lock);
	r = shadow_store_delete_snap(store, epoch, false);
	mutex_unlock(&store->commit_lock);
	if (!r)
		shadow_nl_notify(o, SHADOW_EVENT_SNAP_DELETE, epoch);
	check_failed(o);
	check_water(o);
	return r;
}

int shadow_origin_set_readonly(struct shadow_origin *o, u32 epoch)
{
	struct shadow_store *store = o->store;
	int r;

	if (!store->writable)
		return -EROFS;
	mutex_lock(&store->commit_lock);
	r = shadow_store_set_readonly(store, epoch);
	mutex_unlock(&store->commit_lock);
	if (!r)
		shadow_nl_notify(o, SHADOW_EVENT_SNAP_SET_RO, epoch);
	check_failed(o);
	return r;
}

/**
 * shadow_origin_set_water() - change the usage thresholds
 * @o: the origin
 * @low: low threshold, percent, 0 for off
 * @high: high threshold, percent, 0 for off
 *
 * A threshold already reached is signalled again when it is reached
 * after the change.
 */
void shadow_origin_set_water(struct shadow_origin *o, unsigned int low,
			     unsigned int high)
{
	WRITE_ONCE(o->low_water, low);
	WRITE_ONCE(o->high_water, high);
	clear_bit(SHADOW_WATER_LOW, &o->water_state);
	clear_bit(SHADOW_WATER_HIGH, &o->water_state);
	check_water(o);
}

/* Re-checks the thresholds after a batch of changes (group cut). */
void shadow_origin_changed(struct shadow_origin *o)
{
	check_water(o);
}

/*
 * --------------------------------------------------------------
 * Setup
 * --------------------------------------------------------------
 */

int shadow_cow_init(struct shadow_origin *o, char **error)
{
	unsigned int i;

	spin_lock_init(&o->cell_lock);
	for (i = 0; i < SHADOW_CELL_BUCKETS; i++)
		INIT_HLIST_HEAD(&o->cells[i]);
	o->nr_cells = 0;
	INIT_HLIST_HEAD(&o->readers);
	spin_lock_init(&o->gate_lock);
	INIT_LIST_HEAD(&o->gated);
	atomic_set(&o->inflight, 0);
	init_waitqueue_head(&o->drain_wq);
	spin_lock_init(&o->list_lock);
	INIT_LIST_HEAD(&o->retry);
	INIT_LIST_HEAD(&o->cow);
	INIT_LIST_HEAD(&o->copied);
	mutex_init(&o->event_lock);
	INIT_WORK(&o->worker, do_worker);
	INIT_WORK(&o->committer, do_commit);

	o->preserved = kvcalloc(BITS_TO_LONGS(o->nr_chunks), sizeof(long),
				GFP_KERNEL);
	if (!o->preserved) {
		*error = "Cannot allocate preserved bitmap";
		return -ENOMEM;
	}
	o->wq = alloc_workqueue("dm-" DM_MSG_PREFIX,
				WQ_MEM_RECLAIM | SHADOW_WQ_PERCPU, 0);
	if (!o->wq) {
		*error = "Cannot allocate workqueue";
		goto bad_wq;
	}
	o->kc = dm_kcopyd_client_create(NULL);
	if (IS_ERR(o->kc)) {
		*error = "Cannot create kcopyd client";
		goto bad_kc;
	}
	return 0;

bad_kc:
	destroy_workqueue(o->wq);
bad_wq:
	kvfree(o->preserved);
	return -ENOMEM;
}

void shadow_cow_exit(struct shadow_origin *o)
{
	flush_workqueue(o->wq);
	dm_kcopyd_client_destroy(o->kc);
	flush_workqueue(o->wq);
	destroy_workqueue(o->wq);
	kvfree(o->preserved);
}
