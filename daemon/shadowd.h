/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadowd: what the daemon's files share.  See Documentation/shadowd.rst.
 */
#ifndef SHADOWD_H
#define SHADOWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

#include "fsrvp.h"

#define SHADOWD_CONFIG		"/etc/dm-shadow/shadowd.conf"
#define SHADOWD_SOCKET		"/run/dm-shadow/shadowd.sock"
#define SHADOWD_STATE_DIR	"/var/lib/dm-shadow"
#define SHADOWD_MOUNT_DIR	"/run/dm-shadow/mnt"
#define SHADOWD_STATE_FILE	"fsrvp-sets.json"
#define SHADOWD_GROUPS_MAX	16
#define SHADOWD_SHARES_MAX	256
#define SHADOWD_POLICY_FILE	"policies.json"
#define SHADOWD_POLICIES_MAX	256

/* Classes of requests, for authorisation. */
enum shadowd_class {
	SHADOWD_QUERY = 1 << 0,
	SHADOWD_SNAPSHOT = 1 << 1,
	SHADOWD_ADMIN = 1 << 2,
};

struct shadowd_share {
	char name[256];
	char path[4096];
};

/* "policy.VOLUME = TEXT" of the configuration (checked when read). */
struct shadowd_policy_cfg {
	char volume[128];
	char text[1024];
};

/* The configuration file, after defaults. */
struct shadowd_config {
	char socket[108];
	char state_dir[4096];
	char mount_dir[4096];			/* exposed copies: DIR/SET/SHARE */
	char expose_command[4096];		/* hook, "" = none */
	int log_level;				/* LOG_ERR .. LOG_DEBUG */
	int sequence_timeout;			/* FSRVP_TIMEOUT_SPEC, 0, N */
	unsigned int client_timeout_ms;		/* to send one request */
	unsigned int idle_timeout_ms;		/* between requests */
	size_t max_request;			/* bytes of one request line */
	unsigned int max_clients;
	char groups[3][SHADOWD_GROUPS_MAX][64];	/* by class bit index */
	unsigned int ngroups[3];
	char owner_name[256];			/* OwnerMachineName, "" = host */
	struct shadowd_share shares[SHADOWD_SHARES_MAX];
	unsigned int nshares;
	struct shadowd_policy_cfg policies[SHADOWD_POLICIES_MAX];
	unsigned int npolicies;
	char snapdir[4096];			/* previous versions (pv.c) */
	char previous_versions[4096];		/* none, all, VOL,VOL... */
};

void shadowd_config_defaults(struct shadowd_config *c);
/* 0, or -1 after logging "FILE:LINE: what" (a missing file is fine
 * when @must_exist is false). */
int shadowd_config_load(struct shadowd_config *c, const char *path,
			bool must_exist);

/* Logging: syslog, or stderr in the foreground. */
void shadowd_log_init(bool foreground, int level);
void shadowd_log_set_level(int level);
void shadowd_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_err(...)	shadowd_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	shadowd_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	shadowd_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	shadowd_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	shadowd_log(LOG_DEBUG, __VA_ARGS__)

/* A volume's retention policy (events.c). */
struct shadow_ret_policy;
struct shadowd_policy {
	char volume[128];		/* dm name or "MAJ:MIN" */
	struct shadow_ret_policy *p;
	bool from_state;		/* policy.set, else the configuration */
};

/* An FSRVP copy whose snapshot the kernel dropped or invalidated. */
struct shadowd_gone {
	uuid_t copy;
	char reason[128];
};

/* daemon/backend.c: the real FSRVP backend. */
struct shadow_nl;
struct shadowd_backend {
	const struct shadowd_config *cfg;
	struct shadow_nl *nl;		/* opened on first use */
	struct fsrvp *f;		/* set by main(): what is persisted */
	bool loading;			/* no saving while the state loads */
	struct shadowd_policy *pol;	/* events.c */
	size_t npol;
	struct shadowd_gone *gone;	/* events.c, saved by state.c */
	size_t ngone;
	struct shadowd_volume *vols;	/* volume.c */
	size_t nvols;
};
void shadowd_backend_init(struct shadowd_backend *b,
			  const struct shadowd_config *cfg,
			  struct fsrvp_backend *ops);
void shadowd_backend_fini(struct shadowd_backend *b);
/* The netlink handle, opened if need be; NULL after logging why. */
struct shadow_nl *shadowd_nl(struct shadowd_backend *b);
/* The dm device name and the mount point of an exposed copy. */
void shadowd_copy_names(const struct shadowd_backend *b,
			const struct fsrvp_set *s, const struct fsrvp_copy *c,
			char *dm, size_t dlen, char *mnt, size_t mlen);
/* Undo whatever an exposure of @c left (hook, mount, device, directory);
 * 0, or -1 when something is still there. */
int shadowd_unexpose_copy(struct shadowd_backend *b, const struct fsrvp_set *s,
			  const struct fsrvp_copy *c);
/* Expose one copy again after a restart (device, mount, hook); 0 or -1. */
int shadowd_reexpose_copy(struct shadowd_backend *b, const struct fsrvp_set *s,
			  struct fsrvp_copy *c);

/* daemon/state.c: the sets under state_dir. */
/* Write every set (temporary file, fsync, rename, fsync of the
 * directory); 0 or -1 after logging. */
int shadowd_state_save(struct shadowd_backend *b);
/* Replace <dir>/<name> with text: tmp, fsync, rename, fsync dir; 0/-1. */
int shadowd_write_file(const char *dir, const char *name, const char *text,
		       const char *what);
/* The same for a JSON document, which it releases. */
struct json_object;
int shadowd_write_json(const char *dir, const char *name,
		       struct json_object *root, const char *what);
/* Read the sets back, reconcile them with the kernel, devices and mounts
 * (see Documentation/shadowd.rst, "Persistence"), restore them into
 * b->f and save the result.  0, or -1 when the file is unreadable. */
int shadowd_state_load(struct shadowd_backend *b);

/* daemon/events.c: policies and the kernel's events. */
/* The policies of the configuration, then those of state_dir; 0, or -1
 * after logging (an unreadable policy file). */
int shadowd_policies_load(struct shadowd_backend *b);
void shadowd_policies_free(struct shadowd_backend *b);
/* Set (text not empty) or remove (text "") the policy of @volume (a dm
 * name, a path or MAJ:MIN), saved in state_dir.  0, or -EINVAL/-ENODEV
 * and a message in @err; -EIO when it cannot be saved. */
int shadowd_policy_set(struct shadowd_backend *b, const char *volume,
		       const char *text, char *err, size_t errlen);
/* The policy that applies to origin MAJ:MIN (by number, then dm name). */
const struct shadowd_policy *shadowd_policy_find(struct shadowd_backend *b,
						 uint32_t major, uint32_t minor);
/* Why a copy is gone, or NULL. */
const char *shadowd_copy_gone(const struct shadowd_backend *b,
			      const uuid_t copy);
struct shadow_event;
/* One kernel event; true when a resync is needed (a gap). */
bool shadowd_event(struct shadowd_backend *b, const struct shadow_event *e);
/* List origins and snapshots again: copies whose snapshot is gone are
 * dropped, every origin's thresholds checked.  Returns the highest event
 * sequence number the listing covers (0 when unknown). */
uint64_t shadowd_resync(struct shadowd_backend *b, const char *why);

/* daemon/backend.c: devices and mounts, for pv.c. */
bool is_shadow_origin(dev_t dev);
uint64_t origin_sectors(unsigned int maj, unsigned int mnr);
bool dm_exists(const char *name, dev_t *dev);
int ensure_node(const char *name, dev_t dev);
int dm_table(int type, const char *name, uint64_t sectors,
	     const char *params, bool ro);
int dm_remove_dev(const char *name);
bool is_mountpoint(const char *path);
int umount_all(const char *path);
int mkdirs(const char *path, mode_t mode);

/* daemon/pv.c: previous versions and Samba's vfs_shell_snap (see
 * Documentation/shadowd.rst, "Previous versions and Samba"). */
#define SHADOWD_PV_PREFIX	"shadow-pv-"
#define SHADOWD_SAMBA_LABEL	"samba"
/* Make the previous-versions mounts of origin MAJ:MIN match its
 * snapshots; the number of mounts made plus removed, or -1. */
int shadowd_pv_sync(struct shadowd_backend *b, uint32_t major,
		    uint32_t minor, const char *why);
/* Every origin, and devices whose origin is gone. */
void shadowd_pv_sync_all(struct shadowd_backend *b, const char *why);
/* Before a snapshot is deleted: unmount and remove its previous-versions
 * device and its snapshot.mount devices, if any (an open device makes
 * the deletion fail); 0 or -1. */
int shadowd_pv_release(struct shadowd_backend *b, uint32_t major,
		       uint32_t minor, uint32_t id);
/* Configuration values: 0, or -1 when malformed. */
int shadowd_pv_check_snapdir(const char *v);
int shadowd_pv_check_volumes(const char *v);
/* Is this mount source one of pv.c's devices? */
bool shadowd_pv_source(const char *src);
/* The samba.* and pv.* requests (@classes: enum shadowd_class bits). */
struct json_object *shadowd_pv_request(struct shadowd_backend *b,
				       unsigned int classes, uid_t uid,
				       const char *op,
				       struct json_object *req);
/* The "shadow" devices pv.c and mount.c make: unmount every mount of
 * those named @prefix... that show snapshot ID of origin MAJ:MIN, and
 * remove them; how many, or -1. */
int shadowd_snapdev_release(const char *prefix, uint32_t major,
			    uint32_t minor, uint32_t id, const char *why);
/* The origin and snapshot of "shadow" device @name; 0 or -1. */
int shadowd_snapdev_table(const char *name, uint32_t *major,
			  uint32_t *minor, uint32_t *id);
/* Where device @dev is mounted (the last mount); false when nowhere. */
bool shadowd_dev_mount(dev_t dev, char *buf, size_t len);
/* Mount a snapshot device, nosuid,nodev, read-only unless @rw, with the
 * options its filesystem needs (@frozen: cut frozen, no ext4 noload);
 * 0, or -1 with errno after logging. */
int shadowd_snap_fs_mount(const char *dev, const char *mnt, bool rw,
			  bool frozen);

/* daemon/mount.c: snapshot.mount and snapshot.unmount, devices
 * shadow-mnt-VOL-ID (shadowd_pv_release() releases them too). */
#define SHADOWD_MNT_PREFIX	"shadow-mnt-"
struct json_object *shadowd_mount_request(struct shadowd_backend *b,
					  unsigned int classes, uid_t uid,
					  const char *op,
					  struct json_object *req);

/* daemon/volume.c: declared volumes, <state_dir>/volumes.json (see
 * Documentation/shadowd.rst, "Volumes"). */
#define SHADOWD_VOLUME_FILE	"volumes.json"
struct shadowd_volume;
/* Read the declarations and activate the "auto" ones whose desired state
 * is active (failures are logged); 0, or -1 when the file is unreadable. */
int shadowd_volumes_load(struct shadowd_backend *b);
void shadowd_volumes_free(struct shadowd_backend *b);
/* The volume.* requests (@classes: enum shadowd_class bits). */
struct json_object *shadowd_volume_request(struct shadowd_backend *b,
					   unsigned int classes, uid_t uid,
					   const char *op,
					   struct json_object *req);

/* daemon/server.c: the control socket. */
struct shadowd_server;
struct shadowd_server *shadowd_server_new(const struct shadowd_config *cfg,
					  struct fsrvp *f,
					  struct shadowd_backend *b);
void shadowd_server_free(struct shadowd_server *s);
/* Runs until SIGTERM/SIGINT; 0 on a clean stop. */
int shadowd_server_run(struct shadowd_server *s);

/* The access check the FSRVP library calls (cred: a struct peer). */
bool shadowd_permitted(void *ctx, const struct fsrvp_caller *c,
		       enum fsrvp_op op);
enum shadowd_class shadowd_fsrvp_class(enum fsrvp_op op);

/* Load dm-shadow through libkmod unless it is there: 0, or -errno. */
int shadowd_load_module(void);

/* daemon/shadowd.c: SIGHUP.  0, or -1 (logged) when nothing changed. */
int shadowd_reload(struct shadowd_backend *b);

/* sd_notify(), without libsystemd: 0, or -errno. */
int shadowd_notify(const char *state);

#endif
