/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fsrvp: the MS-FSRVP (File Server Remote VSS Protocol) shadow copy set
 * state machine of the server side, as MS-FSRVP v16.0 section 3.1
 * specifies it, as a library: no RPC, no I/O of its own.  What touches
 * volumes (resolving a share, flushing, the consistency-group cut,
 * exposing, sealing, deleting) goes through a backend of function
 * pointers; time comes from an injectable clock; persistence is a
 * callback after every change.  shadowd plugs in the real backend
 * (libmount, libdevmapper, the dm_shadow netlink family); the unit tests
 * a fake one (tests/unit/test_fsrvp.c).
 *
 * Every operation returns the protocol's own result: 0 (ZERO) or an
 * HRESULT / FSRVP error code (FSRVP_E_*), never an errno.  A GUID whose
 * bytes are all zero is the protocol's NULL GUID.
 *
 * Where the specification leaves a choice, or where this implementation
 * departs from what Samba's server does, the comment on the operation
 * says so; Documentation/shadowd.rst has the whole list.
 */
#ifndef SHADOW_FSRVP_H
#define SHADOW_FSRVP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uuid/uuid.h>

/* --------------------------------------------------------- error codes */

#define FSRVP_OK				0x00000000U
#define FSRVP_E_BAD_STATE			0x80042301U
#define FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS	0x80042316U
#define FSRVP_E_NOT_SUPPORTED			0x8004230CU
#define FSRVP_E_WAIT_TIMEOUT			0x00000102U
#define FSRVP_E_WAIT_FAILED			0xFFFFFFFFU
#define FSRVP_E_OBJECT_ALREADY_EXISTS		0x8004230DU
#define FSRVP_E_OBJECT_NOT_FOUND		0x80042308U
#define FSRVP_E_UNSUPPORTED_CONTEXT		0x8004231BU
#define FSRVP_E_SHADOWCOPYSET_ID_MISMATCH	0x80042501U
/* Commit's table only (not in MS-FSRVP 2.2.4). */
#define FSSAGENT_E_TIMEOUT			0x80042500U
/* Generic HRESULTs (MS-ERREF 2.1). */
#define FSRVP_E_ACCESSDENIED			0x80070005U
#define FSRVP_E_INVALIDARG			0x80070057U
#define FSRVP_E_OUTOFMEMORY			0x8007000EU
#define FSRVP_E_FAIL				0x80004005U

/* "FSRVP_E_BAD_STATE", "E_ACCESSDENIED", ...; "ZERO" for 0; NULL if unknown. */
const char *fsrvp_strerror(uint32_t hr);

/* ------------------------------------------------ attributes, contexts */

#define FSRVP_ATTR_PERSISTENT		0x00000001U
#define FSRVP_ATTR_NO_AUTO_RECOVERY	0x00000002U
#define FSRVP_ATTR_NO_AUTO_RELEASE	0x00000008U
#define FSRVP_ATTR_NO_WRITERS		0x00000010U
#define FSRVP_ATTR_AUTO_RECOVERY	0x00400000U

#define FSRVP_CTX_BACKUP		0x00000000U
#define FSRVP_CTX_FILE_SHARE_BACKUP	0x00000010U
#define FSRVP_CTX_NAS_ROLLBACK		0x00000019U
#define FSRVP_CTX_APP_ROLLBACK		0x00000009U

#define FSRVP_DISABLE_DEFRAG		0x00000001U
#define FSRVP_DISABLE_CONTENTINDEX	0x00000002U

#define FSRVP_RPC_VERSION_1		1U

/*
 * A valid context: one of the four CTX_* values, optionally with one of
 * ATTR_AUTO_RECOVERY or ATTR_NO_AUTO_RECOVERY (not both).
 */
bool fsrvp_context_valid(uint32_t ctx);
/* "backup", "file_share_backup", "nas_rollback", "app_rollback"; NULL. */
const char *fsrvp_context_name(uint32_t ctx);
/* The reverse (case-insensitive), also accepting a number; -1 if none. */
int64_t fsrvp_context_parse(const char *s);

/* ---------------------------------------------------------------- timer */

#define FSRVP_TIMEOUT_SHORT	180	/* seconds, MS-FSRVP 3.1.4 */
#define FSRVP_TIMEOUT_LONG	1800
#define FSRVP_TIMEOUT_SPEC	(-1)	/* no override */

/* SetContext retries from the same client before IN_PROGRESS (<5>). */
#define FSRVP_RETRY_MAX		5

/* Shadow copies per set (VSS's and NetApp's limit; one group cut). */
#define FSRVP_COPIES_MAX	64

#define FSRVP_SHARE_MAX		1024	/* bytes of a share name, NUL included */
#define FSRVP_VOLUME_MAX	128
#define FSRVP_ADDR_MAX		128

/* ---------------------------------------------------------------- model */

/**
 * enum fsrvp_status - ShadowCopySet.Status (MS-FSRVP 3.1.1.2).
 *
 * There is no "aborted" state: Abort and the timer delete the set.
 */
enum fsrvp_status {
	FSRVP_STARTED = 1,
	FSRVP_ADDED,
	FSRVP_CREATION_IN_PROGRESS,
	FSRVP_COMMITTED,
	FSRVP_EXPOSED,
	FSRVP_RECOVERED,
};

/* "Started", ... "Recovered" (the spec's spelling); NULL if unknown. */
const char *fsrvp_status_name(enum fsrvp_status s);
/* The reverse (case-insensitive); 0 if none. */
enum fsrvp_status fsrvp_status_parse(const char *s);

/**
 * struct fsrvp_copy - a ShadowCopy and its one MappedShare.
 * @id:           ShadowCopyId, made by the server.
 * @volume:       VolumeName: the backend's name of the file store
 *                ("253:3" for the dm-shadow backend).
 * @ctime_ns:     CreationTimeStamp, wall clock, ns since 1970.
 * @share:        MappedShare.ShareName, as the client gave it.
 * @exposed_name: MappedShare.ShadowCopyShareName ("" until exposed).
 * @exposed:      MappedShare.IsExposed.
 * @snap_id:      the backend's snapshot, 0 when none (before commit).
 * @writable:     the backend exposed the snapshot read-write
 *                (ATTR_AUTO_RECOVERY) and it is not sealed yet.
 *
 * Add refuses a second share on the same volume, so a copy always has
 * exactly one mapping; deleting it deletes the copy (3.1.4.12).
 */
struct fsrvp_copy {
	uuid_t id;
	char volume[FSRVP_VOLUME_MAX];
	int64_t ctime_ns;
	char share[FSRVP_SHARE_MAX];
	char exposed_name[FSRVP_SHARE_MAX + 48];
	bool exposed;
	uint32_t snap_id;
	bool writable;
};

/**
 * struct fsrvp_set - a ShadowCopySet.
 * @id:       ShadowCopySetId, made by the server.
 * @client_id: the ClientShadowCopySetId the client gave (kept for logs).
 * @status:   ShadowCopySet.Status.
 * @context:  ShadowCopySet.Context.
 * @copies:   ShadowCopyList, @n of them.
 * @busy:     a backend call on this set is running (re-entrant calls on
 *            the set fail with FSRVP_E_BAD_STATE).
 */
struct fsrvp_set {
	uuid_t id;
	uuid_t client_id;
	enum fsrvp_status status;
	uint32_t context;
	struct fsrvp_copy *copies;
	size_t n;
	bool busy;
};

/**
 * struct fsrvp_share_mapping - FSSAGENT_SHARE_MAPPING_1.
 * @creation_ts: 100 ns intervals since 1601-01-01 UTC.
 * @exposed_name: "" stands for the spec's NULL (not exposed).
 */
struct fsrvp_share_mapping {
	uuid_t set_id;
	uuid_t copy_id;
	char share[FSRVP_SHARE_MAX];
	char exposed_name[FSRVP_SHARE_MAX + 48];
	uint64_t creation_ts;
};

/* ------------------------------------------------------------- backend */

/* The operations, for the backend's access check. */
enum fsrvp_op {
	FSRVP_OP_GET_SUPPORTED_VERSION,
	FSRVP_OP_SET_CONTEXT,
	FSRVP_OP_START,
	FSRVP_OP_ADD,
	FSRVP_OP_COMMIT,
	FSRVP_OP_EXPOSE,
	FSRVP_OP_RECOVERY_COMPLETE,
	FSRVP_OP_ABORT,
	FSRVP_OP_IS_PATH_SUPPORTED,
	FSRVP_OP_IS_PATH_SHADOW_COPIED,
	FSRVP_OP_GET_SHARE_MAPPING,
	FSRVP_OP_DELETE_SHARE_MAPPING,
	FSRVP_OP_PREPARE,
	FSRVP_NR_OPS
};

/* "GetSupportedVersion", ... (the spec's method names). */
const char *fsrvp_op_name(enum fsrvp_op op);

/**
 * struct fsrvp_caller - who is calling.
 * @address: ShadowCopyClientAddress material: the client's address
 *           (SetContext compares it); NULL or "" is one anonymous client.
 * @cred:    opaque, for the backend's access check.
 */
struct fsrvp_caller {
	const char *address;
	const void *cred;
};

/**
 * struct fsrvp_backend - what the state machine asks of the volumes.
 *
 * Every member may be NULL except @path_support; a NULL hook succeeds
 * without doing anything.  Hooks returning uint32_t return 0 or an error
 * code, which the operation returns as it is (FSRVP_E_WAIT_TIMEOUT and
 * FSRVP_E_WAIT_FAILED included: they are the spec's "wait timed out"
 * and "wait failed").
 *
 * @permitted:     may @caller run @op?  false gives E_ACCESSDENIED.
 * @path_support:  resolve @share to its file store: write the volume
 *                 name to @volume; 0, FSRVP_E_OBJECT_NOT_FOUND (no such
 *                 share) or FSRVP_E_NOT_SUPPORTED (not on a supported
 *                 store, or mount points below the share root).
 * @owner_name:    OwnerMachineName for IsPathSupported (NULL hook or
 *                 NULL result: gethostname()).
 * @prepare:       flush every volume of the set, within @timeout_ms.
 * @commit:        one consistency-group cut of every volume of the set
 *                 with the filesystems frozen, bounded by @timeout_ms;
 *                 on success sets snap_id of every copy; on failure
 *                 leaves nothing behind (no snapshot, nothing frozen)
 *                 and sets none.  FSRVP_E_WAIT_TIMEOUT or
 *                 FSSAGENT_E_TIMEOUT when the bound ran out.
 * @expose:        make every copy visible under its exposed_name (filled
 *                 in before the call), writable when the set's context
 *                 has ATTR_AUTO_RECOVERY (set copy->writable then); all or
 *                 nothing.
 * @recovery_complete: make every copy of the set read-only.
 * @delete_copy:   remove what the backend made for @c: the exposure and
 *                 the snapshot.  Called only when @c has either.
 * @changed:       the state changed (the spec's "persist all state");
 *                 also called after a timer expiry deleted sets.
 * @ctx:           passed to every hook.
 */
struct fsrvp_backend {
	bool (*permitted)(void *ctx, const struct fsrvp_caller *caller,
			  enum fsrvp_op op);
	uint32_t (*path_support)(void *ctx, const char *share, char *volume,
				 size_t len);
	const char *(*owner_name)(void *ctx, const char *share);
	uint32_t (*prepare)(void *ctx, struct fsrvp_set *s,
			    uint32_t timeout_ms);
	uint32_t (*commit)(void *ctx, struct fsrvp_set *s, uint32_t timeout_ms);
	uint32_t (*expose)(void *ctx, struct fsrvp_set *s, uint32_t timeout_ms);
	uint32_t (*recovery_complete)(void *ctx, struct fsrvp_set *s);
	uint32_t (*delete_copy)(void *ctx, struct fsrvp_set *s,
				struct fsrvp_copy *c);
	void (*changed)(void *ctx);
	void *ctx;
};

/**
 * struct fsrvp_clock - time source.
 * @mono_ms: monotonic milliseconds (the message sequence timer).
 * @real_ns: wall clock, ns since 1970 (CreationTimeStamp).
 * A NULL clock or NULL member: clock_gettime().
 */
struct fsrvp_clock {
	uint64_t (*mono_ms)(void *arg);
	int64_t (*real_ns)(void *arg);
	void *arg;
};

/* ------------------------------------------------------------ the server */

struct fsrvp;

/* A server with no set; NULL when out of memory.  @clock may be NULL. */
struct fsrvp *fsrvp_new(const struct fsrvp_backend *be,
			const struct fsrvp_clock *clock);
/* Frees the sets in memory; deletes nothing in the backend. */
void fsrvp_free(struct fsrvp *f);

/*
 * The message sequence timer's value: FSRVP_TIMEOUT_SPEC (180 s or
 * 1800 s as each operation says), 0 (the timer never runs), or N > 0
 * seconds for every operation (Samba's "fss: sequence timeout").
 */
void fsrvp_set_timeout_override(struct fsrvp *f, int seconds);

/*
 * Milliseconds until the timer fires (0 if it is due), or -1 when it is
 * not running: what a poll() loop waits for.
 */
int64_t fsrvp_timer_remaining_ms(const struct fsrvp *f);
/* Seconds the running timer was started with, 0 when stopped. */
unsigned int fsrvp_timer_armed_s(const struct fsrvp *f);

/*
 * Fire the timer if it is due (MS-FSRVP 3.1.5): delete every set whose
 * status is not Recovered, with everything the backend made for it
 * (unlike Samba, which keeps Exposed sets), and clear the context.
 * Returns the number of sets deleted, or -1 when the timer was not due.
 */
int fsrvp_timer_run(struct fsrvp *f);

/* The sets, in creation order; fsrvp_set_at() NULL past the end. */
size_t fsrvp_set_count(const struct fsrvp *f);
const struct fsrvp_set *fsrvp_set_at(const struct fsrvp *f, size_t i);
const struct fsrvp_set *fsrvp_set_find(const struct fsrvp *f,
				       const uuid_t id);
/*
 * The snapshot of a copy is gone (dropped or invalidated by the kernel):
 * the copy keeps its place in its set with no snapshot (snap_id 0, so that
 * nothing deletes a later snapshot that reuses the id) and is no longer
 * exposed; the caller has unexposed it.  0, or -ENOENT.
 */
int fsrvp_copy_lost(struct fsrvp *f, const uuid_t set, const uuid_t copy);
/* ContextSet and CurrentContext. */
bool fsrvp_context_set(const struct fsrvp *f, uint32_t *ctx);

/*
 * Put back a set read from the configuration store at start (3.1.3).
 * The copies are copied.  A set that is not Recovered starts the timer
 * at 180 s, so that a set its client abandoned across a restart goes
 * too.  A set loaded in CreationInProgress returns to Added: the
 * backend's commit leaves nothing behind when it does not complete.
 * FSRVP_E_OBJECT_ALREADY_EXISTS for a duplicate id, E_INVALIDARG for a
 * bad status or too many copies.
 */
uint32_t fsrvp_restore_set(struct fsrvp *f, const struct fsrvp_set *s);

/* -------------------------------------------------------- the operations */

/* Opnum 0.  *min = *max = 1. */
uint32_t fsrvp_get_supported_version(struct fsrvp *f,
				     const struct fsrvp_caller *c,
				     uint32_t *min, uint32_t *max);
/*
 * Opnum 1.  FSRVP_E_UNSUPPORTED_CONTEXT for an invalid @ctx.  With a
 * context already set: another client gets IN_PROGRESS; the same client
 * starts over (its sets that are not Recovered are deleted) and gets
 * IN_PROGRESS after FSRVP_RETRY_MAX such retries.  Timer 180 s.
 */
uint32_t fsrvp_set_context(struct fsrvp *f, const struct fsrvp_caller *c,
			   uint32_t ctx);
/*
 * Opnum 2.  E_INVALIDARG for a NULL @client_set_id; BAD_STATE without a
 * context; IN_PROGRESS while any set is not Recovered.  Timer 180 s.
 */
uint32_t fsrvp_start_set(struct fsrvp *f, const struct fsrvp_caller *c,
			 const uuid_t client_set_id, uuid_t set_id);
/*
 * Opnum 3.  E_INVALIDARG for an empty share or NULL set id; the
 * backend's OBJECT_NOT_FOUND / NOT_SUPPORTED; ID_MISMATCH; BAD_STATE
 * unless Started or Added; OBJECT_ALREADY_EXISTS (timer 180 s) for a
 * second share on a volume already in the set; FSRVP_E_NOT_SUPPORTED
 * past FSRVP_COPIES_MAX copies.  Success: Added, timer 1800 s.
 * @client_copy_id is ignored, as Windows servers do (<8>).
 */
uint32_t fsrvp_add_to_set(struct fsrvp *f, const struct fsrvp_caller *c,
			  const uuid_t client_copy_id, const uuid_t set_id,
			  const char *share, uuid_t copy_id);
/*
 * Opnum 12.  ID_MISMATCH; BAD_STATE unless Added.  The backend flushes
 * every volume.  Failure (WAIT_TIMEOUT, WAIT_FAILED, other): timer
 * 180 s.  Success: timer 1800 s.
 */
uint32_t fsrvp_prepare_set(struct fsrvp *f, const struct fsrvp_caller *c,
			   const uuid_t set_id, uint32_t timeout_ms);
/*
 * Opnum 4.  ID_MISMATCH; BAD_STATE unless Added or CreationInProgress.
 * CreationInProgress during the backend's group cut.  Success:
 * Committed, timer 180 s.  WAIT_FAILED: Added, timer 180 s.  Time bound
 * exceeded: FSSAGENT_E_TIMEOUT, Added (the backend thawed and removed
 * everything), timer 180 s.  Other error: that error, CreationInProgress
 * (Commit may be retried), timer 180 s.
 */
uint32_t fsrvp_commit_set(struct fsrvp *f, const struct fsrvp_caller *c,
			  const uuid_t set_id, uint32_t timeout_ms);
/*
 * Opnum 5.  ID_MISMATCH; BAD_STATE unless Committed.  Exposed names are
 * "<share>@{<copy guid>}" ("$" appended when the share name ends in "$",
 * <9>).  Failure: the error, Committed, names cleared, timer 180 s.
 * Success: Exposed, timer 180 s.
 */
uint32_t fsrvp_expose_set(struct fsrvp *f, const struct fsrvp_caller *c,
			  const uuid_t set_id, uint32_t timeout_ms);
/*
 * Opnum 6.  ID_MISMATCH; BAD_STATE unless Exposed.  Unless the context
 * has ATTR_NO_AUTO_RECOVERY, the backend makes every copy read-only (a
 * backend error is returned and nothing changes).  Recovered, context
 * cleared, timer stopped.
 */
uint32_t fsrvp_recovery_complete(struct fsrvp *f,
				 const struct fsrvp_caller *c,
				 const uuid_t set_id);
/*
 * Opnum 7.  E_INVALIDARG for a NULL id; ID_MISMATCH; BAD_STATE while a
 * backend call runs on the set.  Deletes everything the set made, in
 * every state (Samba leaves committed snapshots behind); a backend
 * error stops there and is returned (the copies not deleted stay).  The
 * set goes, the context is cleared, the timer stops.
 */
uint32_t fsrvp_abort_set(struct fsrvp *f, const struct fsrvp_caller *c,
			 const uuid_t set_id);
/*
 * Opnum 8.  E_INVALIDARG for an empty share; the backend's
 * OBJECT_NOT_FOUND / NOT_SUPPORTED.  @owner gets OwnerMachineName.
 */
uint32_t fsrvp_is_path_supported(struct fsrvp *f,
				 const struct fsrvp_caller *c,
				 const char *share, bool *supported,
				 char *owner, size_t owner_len);
/*
 * Opnum 9.  E_INVALIDARG for an empty share; OBJECT_NOT_FOUND when the
 * share does not exist.  Present when a Committed, Exposed or Recovered
 * set holds a copy of the share's volume; *compat is 0 (dm-shadow
 * neither stops defragmentation nor indexing).
 */
uint32_t fsrvp_is_path_shadow_copied(struct fsrvp *f,
				     const struct fsrvp_caller *c,
				     const char *share, bool *present,
				     int32_t *compat);
/*
 * Opnum 10.  E_INVALIDARG for a level other than 1 or a NULL id;
 * ID_MISMATCH; BAD_STATE unless Exposed; E_INVALIDARG for an unknown
 * copy or share.  Success: timer 1800 s.  (A failed call leaves the
 * timer as it was, rather than stopped as a literal reading would.)
 */
uint32_t fsrvp_get_share_mapping(struct fsrvp *f,
				 const struct fsrvp_caller *c,
				 const uuid_t copy_id, const uuid_t set_id,
				 const char *share, uint32_t level,
				 struct fsrvp_share_mapping *out);
/*
 * Opnum 11.  E_INVALIDARG for NULL ids or an empty share;
 * OBJECT_NOT_FOUND for an unknown set; BAD_STATE unless Exposed or
 * Recovered; OBJECT_NOT_FOUND for an unknown copy or share.  Deletes the
 * exposure and the snapshot (a backend error is returned, nothing is
 * forgotten), then the copy, then the set when it is empty.
 */
uint32_t fsrvp_delete_share_mapping(struct fsrvp *f,
				    const struct fsrvp_caller *c,
				    const uuid_t set_id, const uuid_t copy_id,
				    const char *share);

/* ------------------------------------------------------------ helpers */

/*
 * The share name portion of a UNC name: "\\host\share\" -> "share";
 * a name that is not UNC is returned whole, trailing '\' or '/' removed.
 * 0, or -ENAMETOOLONG / -EINVAL (empty).
 */
int fsrvp_share_component(const char *unc, char *buf, size_t len);
/* Two share names name the same share (share components, no case). */
bool fsrvp_share_equal(const char *a, const char *b);
/* Unix ns -> FILETIME (100 ns since 1601); 0 for times before 1601. */
uint64_t fsrvp_filetime(int64_t unix_ns);

#endif
