/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-shadow on-disk store format, shared by the kernel target and the
 * userspace store checker.
 *
 * Store layout (all offsets in 4 KiB metadata blocks unless noted):
 *
 *   block 0                      superblock copy A
 *   block 1                      superblock copy B
 *   region[0]                    journal region 0 (region_blocks blocks)
 *   region[1]                    journal region 1 (region_blocks blocks)
 *   data_start (sectors)         data chunks, chunk_sectors each
 *
 * A superblock is only written when a checkpoint switches the active
 * journal region; the copy with the older generation is overwritten.
 * Normal commits append journal blocks to the active region with
 * REQ_PREFLUSH | REQ_FUA.  Journal block n of a region carries seq == n,
 * the region's checkpoint generation and the store nonce; the first block
 * that fails any of these checks (or its checksum) ends the journal.
 *
 * A checkpoint writes the whole state (epoch, live snapshots, records)
 * compactly into the inactive region with a new checkpoint generation,
 * flushes, then writes the superblock that makes it the active region.
 */
#ifndef DM_SHADOW_FORMAT_H
#define DM_SHADOW_FORMAT_H

#include <linux/types.h>

#define SHADOW_SB_MAGIC			0x77644853U	/* "SHdw" */
#define SHADOW_JBLOCK_MAGIC		0x6c6a4853U	/* "SHjl" */
#define SHADOW_FORMAT_VERSION_MIN	1
#define SHADOW_FORMAT_VERSION_MAX	1
#define SHADOW_FORMAT_VERSION		1

#define SHADOW_BLOCK_SIZE		4096
#define SHADOW_BLOCK_SECTORS		(SHADOW_BLOCK_SIZE >> 9)
#define SHADOW_SB_CSUM_XOR		0x5bd1e995U
#define SHADOW_JBLOCK_CSUM_XOR		0x1b873593U

/* Chunk size limits, in 512-byte sectors (4 KiB .. 1 MiB). */
#define SHADOW_MIN_CHUNK_SECTORS	8
#define SHADOW_MAX_CHUNK_SECTORS	2048
#define SHADOW_DEFAULT_CHUNK_SECTORS	128

/* Most live snapshots one store can hold; sizes the journal regions. */
#define SHADOW_MAX_SNAPSHOTS		16384

/* Epochs are 31-bit: the top bit of an in-core record marks private chunks. */
#define SHADOW_MAX_EPOCH		0x7fffffffU

#define SHADOW_LABEL_LEN		24

/**
 * struct shadow_disk_sb - superblock, one 4 KiB block, stored twice.
 * @csum: crc32c of bytes 4..4095 xor SHADOW_SB_CSUM_XOR.
 * @magic: SHADOW_SB_MAGIC.
 * @version: format version.
 * @flags: SHADOW_SB_* bits; a loader refuses bits it does not know.
 * @generation: incremented on every superblock write; highest valid wins.
 * @nonce: random at format; every journal block carries it.
 * @chunk_sectors: data chunk size in sectors, fixed at format.
 * @region_blocks: size of each journal region in blocks.
 * @region_start: first block of each journal region.
 * @data_start: first sector of data chunk 0.
 * @nr_data_chunks: number of data chunks.
 * @store_sectors: size of the store device at format.
 * @active_region: 0 or 1, the region replayed at load.
 * @pad: zero.
 * @cp_gen: checkpoint generation the active region's blocks must carry.
 * @cur_epoch: highest epoch ever handed out, at the time of the checkpoint.
 */
struct shadow_disk_sb {
	__le32 csum;
	__le32 magic;
	__le32 version;
	__le32 flags;
	__le64 generation;
	__le64 nonce;
	__le32 chunk_sectors;
	__le32 region_blocks;
	__le64 region_start[2];
	__le64 data_start;
	__le64 nr_data_chunks;
	__le64 store_sectors;
	__le32 active_region;
	__le32 pad;
	__le64 cp_gen;
	__le64 cur_epoch;
};

/*
 * shadow_disk_sb.flags: the target failed the store (a metadata write
 * failed).  Origin writes stopped being preserved then, so every
 * snapshot is invalid for good; the store must be formatted again.
 */
#define SHADOW_SB_FAILED		(1U << 0)
#define SHADOW_SB_KNOWN_FLAGS		SHADOW_SB_FAILED

/* Journal entry types. */
enum shadow_jentry_type {
	SHADOW_JE_EPOCH = 1,		/* epoch: highest epoch handed out */
	SHADOW_JE_SNAP_CREATE = 2,	/* epoch: new snapshot; snap.label */
	SHADOW_JE_SNAP_DELETE = 3,	/* epoch: deleted; frees its records */
	SHADOW_JE_SNAP_SET_RO = 4,	/* epoch: snapshot made read-only */
	SHADOW_JE_RECORD = 5,		/* rec: preserved or private chunk */
	SHADOW_JE_INVALIDATE = 6,	/* snapshots in (rec.chunk, epoch] invalid */
	SHADOW_JE_SNAP_TIME = 7,	/* epoch: creation time; val.value */
};

/* jentry flags */
#define SHADOW_JEF_PRIVATE	(1U << 0)	/* RECORD: private to snapshot epoch */
#define SHADOW_JEF_READONLY	(1U << 1)	/* SNAP_CREATE: read-only snapshot */
#define SHADOW_JEF_DROPPED	(1U << 2)	/* SNAP_DELETE: dropped on overflow */
#define SHADOW_JEF_INVALID	(1U << 3)	/* SNAP_CREATE (checkpoint): invalid */

/**
 * struct shadow_disk_jentry - one journal entry, 32 bytes.
 * @type: enum shadow_jentry_type.
 * @flags: SHADOW_JEF_* bits.
 * @epoch: snapshot epoch; for a shared RECORD the upper bound of the
 *	interval (lo, hi] of epochs the preserved content is valid for (lo is
 *	implied by the previous record of the same chunk); for a private
 *	RECORD the owning snapshot.
 * @rec: RECORD and INVALIDATE payload.
 * @rec.chunk: origin chunk (INVALIDATE: exclusive lower epoch).
 * @rec.store: store data chunk holding the content.
 * @rec.reserved: zero.
 * @snap: SNAP_CREATE payload.
 * @snap.label: snapshot label, NUL padded, not necessarily terminated.
 * @val: EPOCH and SNAP_TIME payload.
 * @val.value: the epoch counter; for SNAP_TIME the creation time of
 *	snapshot @epoch in nanoseconds since the Unix epoch (it follows the
 *	SNAP_CREATE entry in the same commit; a snapshot without one has an
 *	unknown creation time).
 * @val.reserved: zero.
 */
struct shadow_disk_jentry {
	__le16 type;
	__le16 flags;
	__le32 epoch;
	union {
		struct {
			__le64 chunk;
			__le64 store;
			__le64 reserved;
		} rec;
		struct {
			__u8 label[SHADOW_LABEL_LEN];
		} snap;
		struct {
			__le64 value;
			__le64 reserved[2];
		} val;
	};
};

/**
 * struct shadow_disk_jblock - header of one 4 KiB journal block.
 * @csum: crc32c of bytes 4..4095 xor SHADOW_JBLOCK_CSUM_XOR.
 * @magic: SHADOW_JBLOCK_MAGIC.
 * @nonce: the superblock's nonce.
 * @cp_gen: the checkpoint generation of the region this block belongs to.
 * @seq: position of the block inside its region (0, 1, 2, ...).
 * @nr_entries: number of valid entries that follow.
 * @reserved: zero.
 * @entries: the entries.
 */
struct shadow_disk_jblock {
	__le32 csum;
	__le32 magic;
	__le64 nonce;
	__le64 cp_gen;
	__le32 seq;
	__le16 nr_entries;
	__le16 reserved;
	struct shadow_disk_jentry entries[];
};

/* All structures are naturally aligned: no padding, no packing needed. */
#define SHADOW_SB_SIZE			104
#define SHADOW_JENTRY_SIZE		32
#define SHADOW_JBLOCK_HEADER_SIZE	32

#define SHADOW_JENTRIES_PER_BLOCK \
	((SHADOW_BLOCK_SIZE - sizeof(struct shadow_disk_jblock)) / \
	 sizeof(struct shadow_disk_jentry))

#endif /* DM_SHADOW_FORMAT_H */
