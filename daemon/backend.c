// SPDX-License-Identifier: GPL-2.0
/*
 * The real FSRVP backend: a share is a directory on a filesystem mounted
 * from a dm-shadow origin; its volume is the origin's device number.
 *
 *   path_support  share name -> path (configuration "share.NAME", or an
 *                 absolute path) -> mount (libmount) -> source device ->
 *                 a device-mapper device whose table is one
 *                 shadow-origin target (libdevmapper, DM_DEVICE_TABLE)
 *   prepare       syncfs() of every filesystem of the set
 *   commit        one SHADOW_CMD_SNAP_CREATE of every origin, with
 *                 SHADOW_F_FREEZE and the client's time bound
 *   recovery      SHADOW_CMD_SNAP_SET_RO of every snapshot
 *   delete        SHADOW_CMD_SNAP_DELETE
 *   expose        not written yet: FSRVP_E_NOT_SUPPORTED
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <libdevmapper.h>
#include <libmount.h>

#include "fsrvp.h"
#include "shadow-nl.h"
#include "shadowd.h"

struct shadow_nl *shadowd_nl(struct shadowd_backend *b)
{
	struct shadow_nl_err err = { 0 };

	if (!b->nl) {
		b->nl = shadow_nl_open(&err);
		if (!b->nl)
			log_err("netlink: %s", err.msg);
	}
	return b->nl;
}

/* The local path of a share: "share.NAME" of the configuration, else an
 * absolute path given as it is. */
static int share_path(const struct shadowd_config *cfg, const char *share,
		      char *path, size_t len)
{
	char comp[FSRVP_SHARE_MAX];
	unsigned int i;

	if (share[0] == '/') {
		if (!realpath(share, path) || strlen(path) >= len)
			return -1;
		return 0;
	}
	if (fsrvp_share_component(share, comp, sizeof(comp)))
		return -1;
	for (i = 0; i < cfg->nshares; i++) {
		if (!strcasecmp(cfg->shares[i].name, comp)) {
			char buf[PATH_MAX];

			if (!realpath(cfg->shares[i].path, buf) ||
			    strlen(buf) >= len)
				return -1;
			snprintf(path, len, "%s", buf);
			return 0;
		}
	}
	return -1;
}

/* Is @dev a dm device with exactly one shadow-origin target? */
static bool is_shadow_origin(dev_t dev)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	uint64_t start, length;
	char *type = NULL, *params = NULL;
	void *next;
	bool ok = false;

	if (!dmt)
		return false;
	if (!dm_task_set_major(dmt, major(dev)) ||
	    !dm_task_set_minor(dmt, minor(dev)) || !dm_task_run(dmt))
		goto out;
	next = dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
	ok = type && !strcmp(type, "shadow-origin") && !next;
out:
	dm_task_destroy(dmt);
	return ok;
}

/*
 * Resolve @share: its mount point and origin device.  0,
 * FSRVP_E_OBJECT_NOT_FOUND or FSRVP_E_NOT_SUPPORTED.
 */
static uint32_t resolve(const struct shadowd_config *cfg, const char *share,
			char *mnt, size_t mlen, dev_t *dev)
{
	char path[PATH_MAX];
	struct libmnt_table *tb;
	struct libmnt_iter *it;
	struct libmnt_fs *fs;
	const char *src, *target;
	struct stat st;
	size_t plen;
	uint32_t hr = 0;

	if (share_path(cfg, share, path, sizeof(path)) || stat(path, &st) ||
	    !S_ISDIR(st.st_mode))
		return FSRVP_E_OBJECT_NOT_FOUND;

	tb = mnt_new_table();
	it = mnt_new_iter(MNT_ITER_FORWARD);
	if (!tb || !it || mnt_table_parse_mtab(tb, NULL)) {
		hr = FSRVP_E_FAIL;
		goto out;
	}
	fs = mnt_table_find_mountpoint(tb, path, MNT_ITER_BACKWARD);
	src = fs ? mnt_fs_get_srcpath(fs) : NULL;
	target = fs ? mnt_fs_get_target(fs) : NULL;
	if (!src || !target || stat(src, &st) || !S_ISBLK(st.st_mode) ||
	    !is_shadow_origin(st.st_rdev)) {
		hr = FSRVP_E_NOT_SUPPORTED;
		goto out;
	}
	*dev = st.st_rdev;
	snprintf(mnt, mlen, "%s", target);

	/* No mount point below the share root (3.1.4.4). */
	plen = strlen(path);
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);

		if (t && !strncmp(t, path, plen) &&
		    (t[plen] == '/' || (plen == 1 && t[1])) &&
		    strcmp(t, target)) {
			hr = FSRVP_E_NOT_SUPPORTED;
			break;
		}
	}
out:
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return hr;
}

static uint32_t be_path_support(void *ctx, const char *share, char *volume,
				size_t len)
{
	struct shadowd_backend *b = ctx;
	char mnt[PATH_MAX];
	dev_t dev;
	uint32_t hr;

	hr = resolve(b->cfg, share, mnt, sizeof(mnt), &dev);
	if (hr)
		return hr;
	snprintf(volume, len, "%u:%u", major(dev), minor(dev));
	return 0;
}

static const char *be_owner_name(void *ctx, const char *share)
{
	struct shadowd_backend *b = ctx;

	return b->cfg->owner_name[0] ? b->cfg->owner_name : NULL;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t be_prepare(void *ctx, struct fsrvp_set *s, uint32_t timeout_ms)
{
	struct shadowd_backend *b = ctx;
	uint64_t t0 = mono_ms();
	char mnt[PATH_MAX];
	size_t i;
	dev_t dev;
	int fd;

	for (i = 0; i < s->n; i++) {
		uint32_t hr = resolve(b->cfg, s->copies[i].share, mnt,
				      sizeof(mnt), &dev);

		if (hr)
			return hr;
		fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd)) {
			log_err("prepare: %s: %s", mnt, strerror(errno));
			if (fd >= 0)
				close(fd);
			return FSRVP_E_WAIT_FAILED;
		}
		close(fd);
		if (timeout_ms && mono_ms() - t0 > timeout_ms) {
			log_warn("prepare: flushing took longer than %u ms",
				 timeout_ms);
			return FSRVP_E_WAIT_TIMEOUT;
		}
	}
	log_info("prepare: %zu filesystem(s) flushed in %llu ms", s->n,
		 (unsigned long long)(mono_ms() - t0));
	return 0;
}

static int parse_volume(const char *v, struct shadow_dev *d)
{
	return shadow_spec_classify(v, d) == SHADOW_SPEC_DEVNO ? 0 : -1;
}

static uint32_t be_commit(void *ctx, struct fsrvp_set *s, uint32_t timeout_ms)
{
	struct shadowd_backend *b = ctx;
	struct shadow_dev devs[FSRVP_COPIES_MAX];
	struct shadow_created out[FSRVP_COPIES_MAX];
	struct shadow_nl_err err = { 0 };
	char label[SHADOW_NL_LABEL_MAX + 1], guid[UUID_STR_LEN];
	struct shadow_nl *nl = shadowd_nl(b);
	uint64_t pause = 0;
	size_t i;
	int r;

	if (!nl)
		return FSRVP_E_FAIL;
	if (s->n == 0 || s->n > FSRVP_COPIES_MAX)
		return FSRVP_E_INVALIDARG;
	for (i = 0; i < s->n; i++)
		if (parse_volume(s->copies[i].volume, &devs[i]))
			return FSRVP_E_FAIL;
	if (timeout_ms == 0)
		timeout_ms = SHADOW_NL_TIMEOUT_DEFAULT_MS;
	if (timeout_ms > SHADOW_NL_TIMEOUT_MAX_MS)
		timeout_ms = SHADOW_NL_TIMEOUT_MAX_MS;
	uuid_unparse_lower(s->id, guid);
	snprintf(label, sizeof(label), "fsrvp-%.8s", guid);

	r = shadow_nl_snap_create(nl, devs, s->n, SHADOW_F_FREEZE, timeout_ms,
				  label, out, &pause, &err);
	if (r == -ETIMEDOUT) {
		log_warn("commit %s: the freeze exceeded %u ms: %s", guid,
			 timeout_ms, err.msg);
		return FSRVP_E_WAIT_TIMEOUT;
	}
	if (r) {
		log_err("commit %s: %s", guid, err.msg);
		return FSRVP_E_FAIL;
	}
	for (i = 0; i < s->n; i++)
		s->copies[i].snap_id = out[i].id;
	log_info("commit %s: %zu volume(s) cut together, writers paused %llu us",
		 guid, s->n, (unsigned long long)pause);
	return 0;
}

static uint32_t be_expose(void *ctx, struct fsrvp_set *s, uint32_t timeout_ms)
{
	/* TODO (issue 5): activate a read-only (or, with
	 * ATTR_AUTO_RECOVERY, writable) "shadow" table per copy through
	 * libdevmapper, mount it (xfs: nouuid,norecovery) and define the
	 * share.  Until then Expose fails and the client aborts the set. */
	log_warn("expose: not implemented yet");
	return FSRVP_E_NOT_SUPPORTED;
}

static uint32_t be_recovery_complete(void *ctx, struct fsrvp_set *s)
{
	struct shadowd_backend *b = ctx;
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_dev d;
	size_t i;

	if (!nl)
		return FSRVP_E_FAIL;
	for (i = 0; i < s->n; i++) {
		if (!s->copies[i].snap_id ||
		    parse_volume(s->copies[i].volume, &d))
			continue;
		if (shadow_nl_snap_set_ro(nl, d, s->copies[i].snap_id, &err)) {
			log_err("recovery complete: %s snapshot %u: %s",
				s->copies[i].volume, s->copies[i].snap_id,
				err.msg);
			return FSRVP_E_FAIL;
		}
	}
	return 0;
}

static uint32_t be_delete_copy(void *ctx, struct fsrvp_set *s,
			       struct fsrvp_copy *c)
{
	struct shadowd_backend *b = ctx;
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl;
	struct shadow_dev d;
	int r;

	if (!c->snap_id)
		return 0;
	if (parse_volume(c->volume, &d))
		return FSRVP_E_FAIL;
	nl = shadowd_nl(b);
	if (!nl)
		return FSRVP_E_FAIL;
	r = shadow_nl_snap_delete(nl, d, c->snap_id, &err);
	if (r && r != -ENOENT && r != -ENODEV) {
		log_err("delete %s snapshot %u: %s", c->volume, c->snap_id,
			err.msg);
		return FSRVP_E_FAIL;
	}
	log_info("deleted %s snapshot %u", c->volume, c->snap_id);
	return 0;
}

static void be_changed(void *ctx)
{
	/* TODO (issue 5, step 3): persist the sets under state_dir
	 * (write a temporary file, fsync, rename) and reload them at
	 * start with fsrvp_restore_set(). */
}

/* libdevmapper's messages, into our log at debug level (the backend
 * probes devices that are not dm devices: those failures are normal). */
__attribute__((format(printf, 5, 6)))
static void dm_logger(int level, const char *file, int line, int dm_errno,
		      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("libdevmapper: %s", msg);
}

void shadowd_backend_init(struct shadowd_backend *b,
			  const struct shadowd_config *cfg,
			  struct fsrvp_backend *ops)
{
	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	dm_log_with_errno_init(dm_logger);
	memset(ops, 0, sizeof(*ops));
	ops->permitted = shadowd_permitted;
	ops->path_support = be_path_support;
	ops->owner_name = be_owner_name;
	ops->prepare = be_prepare;
	ops->commit = be_commit;
	ops->expose = be_expose;
	ops->recovery_complete = be_recovery_complete;
	ops->delete_copy = be_delete_copy;
	ops->changed = be_changed;
	ops->ctx = b;
}

void shadowd_backend_fini(struct shadowd_backend *b)
{
	if (b->nl)
		shadow_nl_close(b->nl);
	b->nl = NULL;
}
