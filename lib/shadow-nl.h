/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadow-nl: the dm_shadow generic netlink family from userspace, over
 * libnl-genl-3.  Used by shadowctl and shadowd.
 *
 * Every call returns 0 or a negative errno and, when @err is not NULL,
 * fills it: the errno and a message, the kernel's extended-ack message
 * when it sent one (NETLINK_EXT_ACK is enabled on every socket), else the
 * errno's text.  An origin is named by the device number of its mapped
 * device (struct shadow_dev).  Snapshot ids start at 1; SHADOW_NL_LIVE
 * (0) stands for the live origin where a diff takes a snapshot id.
 *
 * The parts that need no kernel (origin specs, sequence-gap tracking,
 * extent coalescing, formatting) are plain functions, tested by
 * tests/unit/test_shadow_nl.c.
 */
#ifndef SHADOW_NL_H
#define SHADOW_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dm-shadow-netlink.h"

#define SHADOW_NL_ERRLEN	256
#define SHADOW_NL_NAMELEN	128	/* DM_NAME_LEN */
#define SHADOW_NL_LIVE		0U	/* "snapshot id" of the live origin */

/**
 * struct shadow_nl_err - what went wrong.
 * @code: negative errno, 0 when nothing failed.
 * @msg:  one line, no trailing newline, never empty when @code is set.
 */
struct shadow_nl_err {
	int code;
	char msg[SHADOW_NL_ERRLEN];
};

/* Record an error; returns @code so that callers can "return" it. */
int shadow_nl_seterr(struct shadow_nl_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct shadow_dev {
	uint32_t major;
	uint32_t minor;
};

/**
 * struct shadow_origin - one origin, from %SHADOW_CMD_ORIGIN_GET.
 *
 * Sizes are as the kernel sends them: chunks, sectors, metadata blocks.
 * @event_seq is %SHADOW_A_EVENT_SEQ of the reply: the last event sent
 * before it was built.  @has_* tell which optional attributes came.
 */
struct shadow_origin {
	struct shadow_dev dev;
	char name[SHADOW_NL_NAMELEN];
	struct shadow_dev data_dev;		/* the device under the origin */
	struct shadow_dev store_dev;
	uint64_t sectors;
	uint32_t chunk_sectors;
	uint64_t store_used, store_total;	/* data chunks */
	uint64_t meta_used, meta_total;		/* metadata blocks */
	uint32_t nr_snaps;
	uint32_t epoch;
	uint32_t state;				/* enum shadow_nl_state */
	char fail_reason[SHADOW_NL_NAMELEN];
	uint32_t overflow;			/* enum shadow_nl_overflow */
	uint32_t low_water, high_water;		/* percent, 0 = off */
	uint64_t event_seq;
};

/* struct shadow_snap - one snapshot, from %SHADOW_CMD_SNAP_GET. */
struct shadow_snap {
	uint32_t id;
	uint64_t ctime_ns;		/* 0 when unknown */
	bool readonly;
	bool invalid;
	char label[SHADOW_NL_LABEL_MAX + 1];	/* "" when none */
	uint64_t exclusive;		/* chunks only this snapshot needs */
	uint64_t shared;
	uint64_t private_chunks;
	uint32_t open;
};

/* struct shadow_extent - changed sectors [start, start + len). */
struct shadow_extent {
	uint64_t start;
	uint64_t len;
};

/* struct shadow_created - one snapshot of a %SHADOW_CMD_SNAP_CREATE reply. */
struct shadow_created {
	struct shadow_dev dev;
	uint32_t id;
	char name[SHADOW_NL_NAMELEN];	/* "" when the kernel sent none */
};

/**
 * struct shadow_event - one notification of the events group.
 * @seq:      %SHADOW_A_EVENT_SEQ.
 * @type:     enum shadow_nl_event.
 * @dev:      the origin.
 * @has_snap: @snap_id is set (snapshot events).
 * @gap:      events were lost before this one: @expected .. @seq - 1.
 */
struct shadow_event {
	uint64_t seq;
	uint32_t type;
	struct shadow_dev dev;
	bool has_snap;
	uint32_t snap_id;
	bool gap;
	uint64_t expected;
};

/* ------------------------------------------------------------ requests */

struct shadow_nl;

/*
 * Open a socket and resolve the family.  -ENOENT with "dm-shadow netlink
 * family not found (is dm-shadow loaded?)" when the module is not there.
 */
struct shadow_nl *shadow_nl_open(struct shadow_nl_err *err);
void shadow_nl_close(struct shadow_nl *nl);

/* Callbacks return 0 to go on, non-zero to stop being called (the rest
 * of the dump is read and dropped; the call then returns that value if
 * it is negative, 0 otherwise). */
typedef int (*shadow_origin_cb)(const struct shadow_origin *o, void *arg);
typedef int (*shadow_snap_cb)(const struct shadow_snap *s, void *arg);
typedef int (*shadow_extent_cb)(const struct shadow_extent *e, void *arg);

int shadow_nl_origin_get(struct shadow_nl *nl, struct shadow_dev dev,
			 struct shadow_origin *o, struct shadow_nl_err *err);
int shadow_nl_origin_dump(struct shadow_nl *nl, shadow_origin_cb cb,
			  void *arg, struct shadow_nl_err *err);
/* Every origin into a malloc()ed array (free() it); *n may be 0. */
int shadow_nl_origin_list(struct shadow_nl *nl, struct shadow_origin **out,
			  size_t *n, struct shadow_nl_err *err);

/**
 * shadow_nl_snap_create() - one snapshot per origin, at one instant.
 * @nl:         the handle.
 * @devs:       the origins (1 to %SHADOW_NL_GROUP_MAX).
 * @n:          how many.
 * @flags:      SHADOW_F_* bits.
 * @timeout_ms: time bound, 0 for the kernel's default.
 * @label:      label of every new snapshot, or NULL.
 * @out:        @n entries, filled in the order of @devs.
 * @pause_us:   the pause the writers saw, or NULL.
 * @err:        error report, or NULL.
 *
 * Return: 0, or a negative errno (nothing was created then).
 */
int shadow_nl_snap_create(struct shadow_nl *nl, const struct shadow_dev *devs,
			  size_t n, uint32_t flags, uint32_t timeout_ms,
			  const char *label, struct shadow_created *out,
			  uint64_t *pause_us, struct shadow_nl_err *err);
int shadow_nl_snap_delete(struct shadow_nl *nl, struct shadow_dev dev,
			  uint32_t id, struct shadow_nl_err *err);
int shadow_nl_snap_get(struct shadow_nl *nl, struct shadow_dev dev,
		       uint32_t id, struct shadow_snap *s,
		       struct shadow_nl_err *err);
/* Live snapshots of an origin, oldest first. */
int shadow_nl_snap_dump(struct shadow_nl *nl, struct shadow_dev dev,
			shadow_snap_cb cb, void *arg,
			struct shadow_nl_err *err);
int shadow_nl_snap_list(struct shadow_nl *nl, struct shadow_dev dev,
			struct shadow_snap **out, size_t *n,
			struct shadow_nl_err *err);
int shadow_nl_snap_set_ro(struct shadow_nl *nl, struct shadow_dev dev,
			  uint32_t id, struct shadow_nl_err *err);

/*
 * Extents that differ between snapshot @from and snapshot @to (or the
 * live origin when @to is SHADOW_NL_LIVE), ascending, in sectors, with
 * adjacent extents merged (the kernel sends chunk-granular pieces).
 */
int shadow_nl_diff_dump(struct shadow_nl *nl, struct shadow_dev dev,
			uint32_t from, uint32_t to, shadow_extent_cb cb,
			void *arg, struct shadow_nl_err *err);

struct shadow_extent_list {
	struct shadow_extent *v;
	size_t n, cap;
};
/* The same into a growable array; shadow_extent_list_free() it. */
int shadow_nl_diff_list(struct shadow_nl *nl, struct shadow_dev dev,
			uint32_t from, uint32_t to,
			struct shadow_extent_list *out,
			struct shadow_nl_err *err);
int shadow_extent_list_add(struct shadow_extent_list *l,
			   const struct shadow_extent *e);
void shadow_extent_list_free(struct shadow_extent_list *l);

/* Thresholds in percent (0 turns one off); -1 leaves one as it is. */
int shadow_nl_set_water(struct shadow_nl *nl, struct shadow_dev dev,
			int low, int high, struct shadow_nl_err *err);

/* -------------------------------------------------------------- events */

struct shadow_nl_events;

/* A socket joined to the events group, non-blocking. */
struct shadow_nl_events *shadow_nl_events_open(struct shadow_nl_err *err);
void shadow_nl_events_close(struct shadow_nl_events *ev);
/*
 * Receive buffer size in bytes (SO_RCVBUF; the kernel doubles it and
 * bounds it).  1 MiB after open.  What does not fit is lost, and shows
 * as a gap.
 */
int shadow_nl_events_set_buffer(struct shadow_nl_events *ev, size_t bytes,
				struct shadow_nl_err *err);
/* For poll(): readable when events are waiting. */
int shadow_nl_events_fd(const struct shadow_nl_events *ev);

typedef int (*shadow_event_cb)(const struct shadow_event *e, void *arg);

/*
 * Read the events waiting (none is fine: returns 0 at once) and call @cb
 * for each, with the gap fields set when sequence numbers were skipped.
 * A non-zero return of @cb stops the reading and is returned (events
 * not read yet stay queued).  A socket overrun (ENOBUFS) is not an
 * error: the next event reports the gap.
 */
int shadow_nl_events_recv(struct shadow_nl_events *ev, shadow_event_cb cb,
			  void *arg, struct shadow_nl_err *err);
/*
 * After a resync (a listing whose replies carried event_seq @seq), events
 * up to @seq are accounted for.
 */
void shadow_nl_events_resynced(struct shadow_nl_events *ev, uint64_t seq);

/* ------------------------------------------------------------ pure logic */

/**
 * struct shadow_seq - last event sequence number seen.
 *
 * Zero-initialised: nothing seen yet, the first number is taken as is.
 */
struct shadow_seq {
	uint64_t last;
	bool started;
};

/*
 * Account for event @seq.  Returns true (and sets *@expected) when one
 * or more numbers before @seq were never seen.  A number at or below the
 * last one (an event a resync already covered) is no gap and does not
 * move the tracker back.
 */
bool shadow_seq_check(struct shadow_seq *t, uint64_t seq, uint64_t *expected);
/* Everything up to @seq is known (a resync's listing). */
void shadow_seq_sync(struct shadow_seq *t, uint64_t seq);

/**
 * struct shadow_extent_merge - coalesce ascending extents.
 *
 * shadow_extent_merge_add() returns -EPROTO for an empty, overflowing,
 * overlapping or descending extent; otherwise it merges @e into the
 * pending one or, when they do not touch, calls @cb with the pending one
 * (returning what @cb returned) and keeps @e pending.
 * shadow_extent_merge_flush() hands over the pending extent, if any.
 */
struct shadow_extent_merge {
	struct shadow_extent cur;
	bool have;
	uint64_t nr_in, nr_out, sectors;
};
int shadow_extent_merge_add(struct shadow_extent_merge *m,
			    const struct shadow_extent *e,
			    shadow_extent_cb cb, void *arg);
int shadow_extent_merge_flush(struct shadow_extent_merge *m,
			      shadow_extent_cb cb, void *arg);

enum shadow_spec_kind {
	SHADOW_SPEC_INVALID,
	SHADOW_SPEC_DEVNO,	/* "253:3" */
	SHADOW_SPEC_PATH,	/* contains a '/' */
	SHADOW_SPEC_NAME,	/* a device-mapper name */
};

/*
 * What an origin spec is; for SHADOW_SPEC_DEVNO also its numbers.  Empty,
 * "." and "..", over-long names and "MAJ:MIN" out of range are invalid.
 */
enum shadow_spec_kind shadow_spec_classify(const char *spec,
					   struct shadow_dev *dev);

/*
 * Resolve a user's origin spec to a device number: a device-mapper name
 * (DM_DEVICE_INFO), a path to a block device (stat), or "MAJ:MIN".  Does
 * not check that it is a dm-shadow origin: the kernel does.
 */
int shadow_resolve_origin(const char *spec, struct shadow_dev *dev,
			  struct shadow_nl_err *err);
/* Device-mapper name of a device, for display; -ENODEV when none. */
int shadow_dm_name(struct shadow_dev dev, char *buf, size_t len);

/* "MAJ:MIN" */
char *shadow_format_dev(struct shadow_dev dev, char *buf, size_t len);

/*
 * Creation time, ISO 8601 in local time with the offset:
 * "2026-11-03T14:05:09+01:00"; "-" for 0.  32 bytes suffice.
 */
char *shadow_format_ctime(uint64_t ns, char *buf, size_t len);

/* A pause: "850us", "12.3ms", "1.50s".  16 bytes suffice. */
char *shadow_format_pause(uint64_t us, char *buf, size_t len);

/* Write @s to @f as a JSON string: quoted, with '"', '\\' and control
 * characters escaped (bytes >= 0x80 are passed as they are: UTF-8). */
void shadow_json_string(FILE *f, const char *s);

/* "origin-add", ... "store-fail"; NULL for an unknown type. */
const char *shadow_event_name(uint32_t type);
/* "rw", "ro", "Fail"; NULL when unknown. */
const char *shadow_state_name(uint32_t state);
/* "drop_oldest", "invalidate", as the table line says; NULL when unknown. */
const char *shadow_overflow_name(uint32_t policy);

/*
 * A snapshot label is 1 to SHADOW_NL_LABEL_MAX printable bytes without
 * blanks.  Returns 0 or -EINVAL, -ENAMETOOLONG.
 */
int shadow_label_check(const char *label);

/*
 * Parse a decimal number in [min, max] ("0x", signs, blanks and trailing
 * text refused).  0, -EINVAL or -ERANGE.
 */
int shadow_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *v);

/*
 * The error message of an extended ack.  @nlh is the NLMSG_ERROR or
 * NLMSG_DONE message, @len the bytes available from @nlh, @req the
 * request it answers (may be NULL), for naming a missing or offending
 * attribute.  Writes "" when the kernel sent no message.
 */
void shadow_nl_extack_msg(const void *nlh, size_t len, const void *req,
			  char *buf, size_t buflen);

/* Name of a top-level attribute ("origin", "label"), or NULL. */
const char *shadow_attr_name(unsigned int type);
/* Name of a SHADOW_ORIGIN_A_* attribute ("major"), or NULL. */
const char *shadow_origin_attr_name(unsigned int type);

#endif
