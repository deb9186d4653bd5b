/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dm-shadow generic netlink interface.
 *
 * One generic netlink family, SHADOW_GENL_NAME, drives every dm-shadow
 * origin of the system: listing origins and snapshots, cutting snapshots
 * of one origin or of a consistency group of origins (optionally with the
 * filesystems frozen by the kernel around the cut), deleting them, making
 * them read-only, reporting the chunks that changed between two points,
 * and setting usage thresholds.  Changes are announced on the
 * SHADOW_GENL_MCGRP_EVENTS multicast group.
 *
 * Every command, and joining the events group, needs CAP_NET_ADMIN
 * (GENL_ADMIN_PERM, GENL_MCAST_CAP_NET_ADMIN).  Every command validates its
 * attributes strictly: unknown attributes, wrong lengths and trailing
 * data are refused.  A refusal carries an extended-ack message naming
 * the problem and, where it applies, the offending attribute.
 *
 * An origin is named by the device number of its shadow-origin mapped
 * device (SHADOW_ORIGIN_A_MAJOR and SHADOW_ORIGIN_A_MINOR in a
 * SHADOW_A_ORIGIN nest).  A snapshot is named by its origin and its id
 * (the epoch returned when it was created).
 *
 * This header is part of the userspace ABI.  It compiles as C90.
 */
#ifndef DM_SHADOW_NETLINK_H
#define DM_SHADOW_NETLINK_H

#define SHADOW_GENL_NAME		"dm_shadow"
#define SHADOW_GENL_VERSION		1
#define SHADOW_GENL_MCGRP_EVENTS	"events"

/* Longest snapshot label, not counting the terminating NUL. */
#define SHADOW_NL_LABEL_MAX		24

/* Longest consistency group (SHADOW_A_ORIGINS entries). */
#define SHADOW_NL_GROUP_MAX		64

/* Default and largest freeze time bound, milliseconds. */
#define SHADOW_NL_TIMEOUT_DEFAULT_MS	10000
#define SHADOW_NL_TIMEOUT_MAX_MS	600000

/**
 * enum shadow_nl_cmd - commands of the dm_shadow family.
 *
 * @SHADOW_CMD_UNSPEC: unused.
 * @SHADOW_CMD_ORIGIN_GET: with %SHADOW_A_ORIGIN, reply with that origin;
 *	as a dump, one message per active origin.  Each reply carries a
 *	%SHADOW_A_ORIGIN nest with every SHADOW_ORIGIN_A_* status attribute,
 *	and %SHADOW_A_EVENT_SEQ, the sequence number of the last event sent
 *	before the reply was built.
 * @SHADOW_CMD_SNAP_CREATE: cut one snapshot on each origin of
 *	%SHADOW_A_ORIGINS (one or more %SHADOW_A_ORIGIN nests) at one
 *	instant: writes to every origin are held and drained, each store
 *	commits its snapshot, then writes resume.  With %SHADOW_F_FREEZE in
 *	%SHADOW_A_FLAGS the filesystems on those origins are frozen first and
 *	thawed after the cut; if freezing and cutting take longer than
 *	%SHADOW_A_TIMEOUT_MS, the kernel thaws what it froze, deletes the
 *	snapshots it cut and fails with -ETIMEDOUT.  Any failure undoes the
 *	whole group.  Optional %SHADOW_A_LABEL labels every new snapshot.
 *	The reply carries %SHADOW_A_ORIGINS, each nest with the origin's
 *	device and SHADOW_ORIGIN_A_SNAP_ID, and %SHADOW_A_PAUSE_US.
 * @SHADOW_CMD_SNAP_DELETE: delete snapshot %SHADOW_A_SNAP_ID of
 *	%SHADOW_A_ORIGIN.  -EBUSY while a snapshot device has it open.
 * @SHADOW_CMD_SNAP_GET: dump the live snapshots of %SHADOW_A_ORIGIN,
 *	oldest first, one %SHADOW_A_SNAP nest per message; with
 *	%SHADOW_A_SNAP_ID as a request (not a dump), that one snapshot.
 * @SHADOW_CMD_SNAP_SET_RO: make snapshot %SHADOW_A_SNAP_ID of
 *	%SHADOW_A_ORIGIN read-only for good.
 * @SHADOW_CMD_DIFF_GET: dump the extents of %SHADOW_A_ORIGIN whose
 *	content differs between snapshot %SHADOW_A_SNAP_ID and snapshot
 *	%SHADOW_A_SNAP_ID_TO (a later one), or the live origin when
 *	%SHADOW_A_SNAP_ID_TO is absent.  Each message carries one or more
 *	%SHADOW_A_EXTENT nests, ascending, in 512-byte sectors, chunk
 *	granular.  Chunks written through a writable snapshot count as
 *	changed for that snapshot.
 * @SHADOW_CMD_SET_WATER: set the usage thresholds of %SHADOW_A_ORIGIN
 *	from %SHADOW_A_LOW_WATER and %SHADOW_A_HIGH_WATER (percent, 0 turns
 *	a threshold off; an absent attribute leaves it as it is).  Not kept
 *	across table loads: the table line's values apply again then.
 * @SHADOW_CMD_EVENT: notification on %SHADOW_GENL_MCGRP_EVENTS, with
 *	%SHADOW_A_EVENT_SEQ, %SHADOW_A_EVENT_TYPE, %SHADOW_A_ORIGIN (device
 *	only) and, for snapshot events, %SHADOW_A_SNAP_ID.
 */
enum shadow_nl_cmd {
	SHADOW_CMD_UNSPEC,
	SHADOW_CMD_ORIGIN_GET,
	SHADOW_CMD_SNAP_CREATE,
	SHADOW_CMD_SNAP_DELETE,
	SHADOW_CMD_SNAP_GET,
	SHADOW_CMD_SNAP_SET_RO,
	SHADOW_CMD_DIFF_GET,
	SHADOW_CMD_SET_WATER,
	SHADOW_CMD_EVENT,

	__SHADOW_CMD_MAX
};
#define SHADOW_CMD_MAX (__SHADOW_CMD_MAX - 1)

/**
 * enum shadow_nl_attr - top-level attributes.
 *
 * @SHADOW_A_UNSPEC: unused.
 * @SHADOW_A_ORIGIN: nest, enum shadow_nl_origin_attr: names an origin in
 *	requests; carries its status in replies.
 * @SHADOW_A_ORIGINS: nest of %SHADOW_A_ORIGIN nests: a consistency group.
 * @SHADOW_A_SNAP: nest, enum shadow_nl_snap_attr: one snapshot (replies).
 * @SHADOW_A_SNAP_ID: u32, a snapshot id.
 * @SHADOW_A_SNAP_ID_TO: u32, the later snapshot of a diff.
 * @SHADOW_A_FLAGS: u32, SHADOW_F_* bits for %SHADOW_CMD_SNAP_CREATE.
 * @SHADOW_A_TIMEOUT_MS: u32, freeze-and-cut time bound, 1 to
 *	%SHADOW_NL_TIMEOUT_MAX_MS (default %SHADOW_NL_TIMEOUT_DEFAULT_MS).
 * @SHADOW_A_LABEL: string, at most %SHADOW_NL_LABEL_MAX bytes, no blanks.
 * @SHADOW_A_PAUSE_US: u64, microseconds from the start of the freeze (or
 *	of the write hold, without %SHADOW_F_FREEZE) to the thaw.
 * @SHADOW_A_LOW_WATER: u32, percent, 0 to 100.
 * @SHADOW_A_HIGH_WATER: u32, percent, 0 to 100.
 * @SHADOW_A_EXTENT: nest, enum shadow_nl_extent_attr.
 * @SHADOW_A_EVENT_SEQ: u64, event sequence number: 1 for the first event
 *	after the module loads, then one more per event.  A listener that
 *	sees a gap has missed events and should list again.
 * @SHADOW_A_EVENT_TYPE: u32, enum shadow_nl_event.
 * @SHADOW_A_PAD: padding for 64-bit attributes.
 */
enum shadow_nl_attr {
	SHADOW_A_UNSPEC,
	SHADOW_A_ORIGIN,
	SHADOW_A_ORIGINS,
	SHADOW_A_SNAP,
	SHADOW_A_SNAP_ID,
	SHADOW_A_SNAP_ID_TO,
	SHADOW_A_FLAGS,
	SHADOW_A_TIMEOUT_MS,
	SHADOW_A_LABEL,
	SHADOW_A_PAUSE_US,
	SHADOW_A_LOW_WATER,
	SHADOW_A_HIGH_WATER,
	SHADOW_A_EXTENT,
	SHADOW_A_EVENT_SEQ,
	SHADOW_A_EVENT_TYPE,
	SHADOW_A_PAD,

	__SHADOW_A_MAX
};
#define SHADOW_A_MAX (__SHADOW_A_MAX - 1)

/* SHADOW_A_FLAGS bits */
#define SHADOW_F_FREEZE		(1U << 0)	/* freeze filesystems around the cut */
#define SHADOW_F_ALL		SHADOW_F_FREEZE

/**
 * enum shadow_nl_origin_attr - attributes of a %SHADOW_A_ORIGIN nest.
 *
 * @SHADOW_ORIGIN_A_UNSPEC: unused.
 * @SHADOW_ORIGIN_A_MAJOR: u32, major number of the origin mapped device.
 * @SHADOW_ORIGIN_A_MINOR: u32, minor number of the origin mapped device.
 * @SHADOW_ORIGIN_A_NAME: string, device-mapper name of the origin.
 * @SHADOW_ORIGIN_A_DEV_MAJOR: u32, major of the device under the origin.
 * @SHADOW_ORIGIN_A_DEV_MINOR: u32, minor of the device under the origin.
 * @SHADOW_ORIGIN_A_STORE_MAJOR: u32, major of the store device.
 * @SHADOW_ORIGIN_A_STORE_MINOR: u32, minor of the store device.
 * @SHADOW_ORIGIN_A_SECTORS: u64, origin size in 512-byte sectors.
 * @SHADOW_ORIGIN_A_CHUNK_SECTORS: u32, chunk size in sectors.
 * @SHADOW_ORIGIN_A_STORE_USED: u64, data chunks in use.
 * @SHADOW_ORIGIN_A_STORE_TOTAL: u64, data chunks of the store.
 * @SHADOW_ORIGIN_A_META_USED: u64, metadata blocks in use.
 * @SHADOW_ORIGIN_A_META_TOTAL: u64, metadata blocks of the store.
 * @SHADOW_ORIGIN_A_NR_SNAPS: u32, live snapshots.
 * @SHADOW_ORIGIN_A_EPOCH: u32, highest snapshot id handed out.
 * @SHADOW_ORIGIN_A_STATE: u32, enum shadow_nl_state.
 * @SHADOW_ORIGIN_A_FAIL_REASON: string, why the store failed (Fail only).
 * @SHADOW_ORIGIN_A_OVERFLOW: u32, enum shadow_nl_overflow.
 * @SHADOW_ORIGIN_A_LOW_WATER: u32, percent, 0 when off.
 * @SHADOW_ORIGIN_A_HIGH_WATER: u32, percent, 0 when off.
 * @SHADOW_ORIGIN_A_SNAP_ID: u32, in a %SHADOW_CMD_SNAP_CREATE reply: the
 *	snapshot cut on this origin.
 * @SHADOW_ORIGIN_A_PAD: padding for 64-bit attributes.
 */
enum shadow_nl_origin_attr {
	SHADOW_ORIGIN_A_UNSPEC,
	SHADOW_ORIGIN_A_MAJOR,
	SHADOW_ORIGIN_A_MINOR,
	SHADOW_ORIGIN_A_NAME,
	SHADOW_ORIGIN_A_DEV_MAJOR,
	SHADOW_ORIGIN_A_DEV_MINOR,
	SHADOW_ORIGIN_A_STORE_MAJOR,
	SHADOW_ORIGIN_A_STORE_MINOR,
	SHADOW_ORIGIN_A_SECTORS,
	SHADOW_ORIGIN_A_CHUNK_SECTORS,
	SHADOW_ORIGIN_A_STORE_USED,
	SHADOW_ORIGIN_A_STORE_TOTAL,
	SHADOW_ORIGIN_A_META_USED,
	SHADOW_ORIGIN_A_META_TOTAL,
	SHADOW_ORIGIN_A_NR_SNAPS,
	SHADOW_ORIGIN_A_EPOCH,
	SHADOW_ORIGIN_A_STATE,
	SHADOW_ORIGIN_A_FAIL_REASON,
	SHADOW_ORIGIN_A_OVERFLOW,
	SHADOW_ORIGIN_A_LOW_WATER,
	SHADOW_ORIGIN_A_HIGH_WATER,
	SHADOW_ORIGIN_A_SNAP_ID,
	SHADOW_ORIGIN_A_PAD,

	__SHADOW_ORIGIN_A_MAX
};
#define SHADOW_ORIGIN_A_MAX (__SHADOW_ORIGIN_A_MAX - 1)

/**
 * enum shadow_nl_state - SHADOW_ORIGIN_A_STATE values.
 * @SHADOW_STATE_RW: snapshots can be taken.
 * @SHADOW_STATE_RO: the table is read-only; nothing is written to the store.
 * @SHADOW_STATE_FAIL: the store failed; every snapshot is invalid.
 */
enum shadow_nl_state {
	SHADOW_STATE_RW,
	SHADOW_STATE_RO,
	SHADOW_STATE_FAIL
};

/**
 * enum shadow_nl_overflow - SHADOW_ORIGIN_A_OVERFLOW values.
 * @SHADOW_OVERFLOW_POLICY_DROP_OLDEST: drop the oldest snapshots.
 * @SHADOW_OVERFLOW_POLICY_INVALIDATE: invalidate every snapshot.
 */
enum shadow_nl_overflow {
	SHADOW_OVERFLOW_POLICY_DROP_OLDEST,
	SHADOW_OVERFLOW_POLICY_INVALIDATE
};

/**
 * enum shadow_nl_snap_attr - attributes of a %SHADOW_A_SNAP nest.
 *
 * @SHADOW_SNAP_A_UNSPEC: unused.
 * @SHADOW_SNAP_A_ID: u32, the snapshot id (its epoch).
 * @SHADOW_SNAP_A_CTIME: u64, creation time, nanoseconds since the Unix
 *	epoch (0 when unknown).
 * @SHADOW_SNAP_A_READONLY: flag, the snapshot was made read-only.
 * @SHADOW_SNAP_A_INVALID: flag, the snapshot lost data and cannot be read.
 * @SHADOW_SNAP_A_LABEL: string, the label (absent when none).
 * @SHADOW_SNAP_A_EXCLUSIVE: u64, store chunks only this snapshot needs:
 *	what deleting it would free.
 * @SHADOW_SNAP_A_SHARED: u64, shared records whose interval ends at it.
 * @SHADOW_SNAP_A_PRIVATE: u64, chunks written through a writable device.
 * @SHADOW_SNAP_A_OPEN: u32, snapshot devices that have it open.
 * @SHADOW_SNAP_A_PAD: padding for 64-bit attributes.
 */
enum shadow_nl_snap_attr {
	SHADOW_SNAP_A_UNSPEC,
	SHADOW_SNAP_A_ID,
	SHADOW_SNAP_A_CTIME,
	SHADOW_SNAP_A_READONLY,
	SHADOW_SNAP_A_INVALID,
	SHADOW_SNAP_A_LABEL,
	SHADOW_SNAP_A_EXCLUSIVE,
	SHADOW_SNAP_A_SHARED,
	SHADOW_SNAP_A_PRIVATE,
	SHADOW_SNAP_A_OPEN,
	SHADOW_SNAP_A_PAD,

	__SHADOW_SNAP_A_MAX
};
#define SHADOW_SNAP_A_MAX (__SHADOW_SNAP_A_MAX - 1)

/**
 * enum shadow_nl_extent_attr - attributes of a %SHADOW_A_EXTENT nest.
 * @SHADOW_EXTENT_A_UNSPEC: unused.
 * @SHADOW_EXTENT_A_START: u64, first sector.
 * @SHADOW_EXTENT_A_LEN: u64, length in sectors (the last extent may end
 *	at the origin's end, inside a chunk).
 * @SHADOW_EXTENT_A_PAD: padding for 64-bit attributes.
 */
enum shadow_nl_extent_attr {
	SHADOW_EXTENT_A_UNSPEC,
	SHADOW_EXTENT_A_START,
	SHADOW_EXTENT_A_LEN,
	SHADOW_EXTENT_A_PAD,

	__SHADOW_EXTENT_A_MAX
};
#define SHADOW_EXTENT_A_MAX (__SHADOW_EXTENT_A_MAX - 1)

/**
 * enum shadow_nl_event - SHADOW_A_EVENT_TYPE values.
 * @SHADOW_EVENT_UNSPEC: unused.
 * @SHADOW_EVENT_ORIGIN_ADD: an origin became active.
 * @SHADOW_EVENT_ORIGIN_REMOVE: an origin went away.
 * @SHADOW_EVENT_SNAP_CREATE: a snapshot was created (any interface).
 * @SHADOW_EVENT_SNAP_DELETE: a snapshot was deleted on request.
 * @SHADOW_EVENT_SNAP_DROP: the overflow policy dropped a snapshot.
 * @SHADOW_EVENT_SNAP_SET_RO: a snapshot was made read-only.
 * @SHADOW_EVENT_SNAP_INVALID: a snapshot became invalid (store I/O
 *	error or overflow with the invalidate policy).
 * @SHADOW_EVENT_LOW_WATER: store usage reached the low threshold.
 * @SHADOW_EVENT_HIGH_WATER: store usage reached the high threshold.
 * @SHADOW_EVENT_STORE_FAIL: the store failed.
 */
enum shadow_nl_event {
	SHADOW_EVENT_UNSPEC,
	SHADOW_EVENT_ORIGIN_ADD,
	SHADOW_EVENT_ORIGIN_REMOVE,
	SHADOW_EVENT_SNAP_CREATE,
	SHADOW_EVENT_SNAP_DELETE,
	SHADOW_EVENT_SNAP_DROP,
	SHADOW_EVENT_SNAP_SET_RO,
	SHADOW_EVENT_SNAP_INVALID,
	SHADOW_EVENT_LOW_WATER,
	SHADOW_EVENT_HIGH_WATER,
	SHADOW_EVENT_STORE_FAIL,

	__SHADOW_EVENT_MAX
};
#define SHADOW_EVENT_MAX (__SHADOW_EVENT_MAX - 1)

#endif /* DM_SHADOW_NETLINK_H */
