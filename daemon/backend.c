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
 *   expose        per copy: a "shadow" table (libdevmapper, no udev:
 *                 the library makes the node, or we mknod it) named
 *                 shadow-<major>_<minor>-<id>, mounted on
 *                 <mount_dir>/<set guid>/<share> read-only (xfs:
 *                 nouuid,norecovery), or read-write with
 *                 ATTR_AUTO_RECOVERY (xfs: nouuid); then the
 *                 expose_command hook, if configured
 *   recovery      writable copies remounted read-only and their tables
 *                 reloaded read-only; SHADOW_CMD_SNAP_SET_RO of every
 *                 snapshot
 *   delete        hook, unmount, dm remove, SHADOW_CMD_SNAP_DELETE
 *   changed       the sets written to state_dir (state.c)
 *
 * The daemon never freezes a filesystem itself: the kernel does during
 * the commit, under its own time bound; a table reload suspends without
 * lockfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <signal.h>
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
bool is_shadow_origin(dev_t dev)
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
		    strcmp(t, target) &&
		    !shadowd_pv_source(mnt_fs_get_source(fs))) {
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

static void parse_volume_dev(const char *v, struct shadow_dev *d)
{
	if (parse_volume(v, d))
		memset(d, 0, sizeof(*d));
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

/* -------------------------------------------------------------- expose */

/* The origin's length in sectors (its one shadow-origin target). */
uint64_t origin_sectors(unsigned int maj, unsigned int mnr)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	uint64_t start = 0, length = 0, n = 0;
	char *type = NULL, *params = NULL;

	if (!dmt)
		return 0;
	if (dm_task_set_major(dmt, maj) && dm_task_set_minor(dmt, mnr) &&
	    dm_task_run(dmt)) {
		dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
		if (type && !strcmp(type, "shadow-origin"))
			n = start + length;	/* before type is freed */
	}
	dm_task_destroy(dmt);
	return n;
}

/* A directory name from a share: its share component, '/' and '\' as
 * '_', no leading '_' ("\\host\data" -> "data", "/srv/a" -> "srv_a"). */
static void share_dirname(const char *share, char *buf, size_t len)
{
	char comp[FSRVP_SHARE_MAX], *p = comp;
	size_t i;

	if (fsrvp_share_component(share, comp, sizeof(comp)))
		snprintf(comp, sizeof(comp), "share");
	while (*p == '/' || *p == '\\')
		p++;
	if (!*p || !strcmp(p, ".") || !strcmp(p, ".."))
		p = "share";
	if (strlen(p) >= len)
		p[len - 1] = '\0';
	memcpy(buf, p, strlen(p) + 1);
	for (i = 0; buf[i]; i++)
		if (buf[i] == '/' || buf[i] == '\\')
			buf[i] = '_';
}

void shadowd_copy_names(const struct shadowd_backend *b,
			const struct fsrvp_set *s, const struct fsrvp_copy *c,
			char *dm, size_t dlen, char *mnt, size_t mlen)
{
	struct shadow_dev d = { 0 };
	char guid[UUID_STR_LEN], dir[256];

	parse_volume_dev(c->volume, &d);
	if (dm)
		snprintf(dm, dlen, "shadow-%u_%u-%u", d.major, d.minor,
			 c->snap_id);
	if (mnt) {
		uuid_unparse_lower(s->id, guid);
		share_dirname(c->share, dir, sizeof(dir));
		snprintf(mnt, mlen, "%s/%s/%s", b->cfg->mount_dir, guid, dir);
	}
}

/* Does dm device @name exist?  Its device number in @dev. */
bool dm_exists(const char *name, dev_t *dev)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info info = { 0 };
	bool ok = false;

	if (!dmt)
		return false;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt) &&
	    dm_task_get_info(dmt, &info) && info.exists) {
		ok = true;
		if (dev)
			*dev = makedev(info.major, info.minor);
	}
	dm_task_destroy(dmt);
	return ok;
}

/* /dev/mapper/NAME, made by hand when the library did not (no udev). */
int ensure_node(const char *name, dev_t dev)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dm_dir(), name);
	if (!stat(path, &st) && S_ISBLK(st.st_mode) && st.st_rdev == dev)
		return 0;
	unlink(path);
	if (mknod(path, S_IFBLK | 0600, dev)) {
		log_err("mknod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int dm_simple(int type, const char *name, bool skip_lockfs)
{
	struct dm_task *dmt = dm_task_create(type);
	int ok;

	if (!dmt)
		return -1;
	ok = dm_task_set_name(dmt, name) &&
	     (!skip_lockfs || dm_task_skip_lockfs(dmt)) && dm_task_run(dmt);
	dm_task_destroy(dmt);
	if (type != DM_DEVICE_SUSPEND)
		dm_task_update_nodes();
	return ok ? 0 : -1;
}

/* Load a table: DM_DEVICE_CREATE or DM_DEVICE_RELOAD. */
int dm_table(int type, const char *name, uint64_t sectors,
	     const char *params, bool ro)
{
	struct dm_task *dmt = dm_task_create(type);
	int ok;

	if (!dmt)
		return -1;
	ok = dm_task_set_name(dmt, name) &&
	     (!ro || dm_task_set_ro(dmt)) &&
	     (type != DM_DEVICE_CREATE ||
	      dm_task_set_add_node(dmt, DM_ADD_NODE_ON_CREATE)) &&
	     dm_task_add_target(dmt, 0, sectors, "shadow", params) &&
	     dm_task_run(dmt);
	dm_task_destroy(dmt);
	dm_task_update_nodes();
	return ok ? 0 : -1;
}

/* Remove dm device @name, retrying while it is busy for a moment. */
int dm_remove_dev(const char *name)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < 25 && dm_exists(name, NULL); i++) {
		if (!dm_simple(DM_DEVICE_REMOVE, name, false))
			break;
		usleep(200000);
	}
	snprintf(path, sizeof(path), "%s/%s", dm_dir(), name);
	if (dm_exists(name, NULL)) {
		log_err("cannot remove device %s", name);
		return -1;
	}
	unlink(path);
	return 0;
}

/* Is something mounted on @path (a directory that exists)? */
bool is_mountpoint(const char *path)
{
	char parent[PATH_MAX];
	struct stat a, p;

	snprintf(parent, sizeof(parent), "%s/..", path);
	if (stat(path, &a) || stat(parent, &p))
		return false;
	return a.st_dev != p.st_dev || a.st_ino == p.st_ino;
}

int umount_all(const char *path)
{
	int i;

	for (i = 0; i < 50 && is_mountpoint(path); i++) {
		if (umount2(path, 0) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			break;
		if (errno == EBUSY && i >= 25) {
			log_warn("umount %s: busy, detaching it", path);
			umount2(path, MNT_DETACH);
			continue;
		}
		usleep(200000);
	}
	if (is_mountpoint(path)) {
		log_err("cannot unmount %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* mkdir -p of @path (absolute). */
int mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) && errno != EEXIST ? -1 : 0;
}

/* The expose_command hook: CMD expose|unexpose SHARE NAME MOUNTPOINT. */
static int run_hook(const struct shadowd_backend *b, const char *what,
		    const struct fsrvp_copy *c, const char *mnt)
{
	const char *cmd = b->cfg->expose_command;
	char comp[FSRVP_SHARE_MAX];
	sigset_t none;
	pid_t pid;
	int st;

	if (!cmd[0])
		return 0;
	if (fsrvp_share_component(c->share, comp, sizeof(comp)))
		snprintf(comp, sizeof(comp), "%s", c->share);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execl(cmd, cmd, what, comp, c->exposed_name, mnt, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		log_err("%s %s %s: failed (status %#x)", cmd, what, comp, st);
		return -1;
	}
	return 0;
}

int shadowd_unexpose_copy(struct shadowd_backend *b, const struct fsrvp_set *s,
			  const struct fsrvp_copy *c)
{
	char dm[128], mnt[PATH_MAX], *slash;
	int r = 0;

	shadowd_copy_names(b, s, c, dm, sizeof(dm), mnt, sizeof(mnt));
	if (c->exposed && run_hook(b, "unexpose", c, mnt))
		log_warn("unexpose hook failed for %s; going on",
			 c->exposed_name);
	if (umount_all(mnt))
		return -1;
	rmdir(mnt);
	slash = strrchr(mnt, '/');
	if (slash) {
		*slash = '\0';
		rmdir(mnt);	/* the set's directory, once empty */
	}
	if (c->snap_id && dm_exists(dm, NULL))
		r = dm_remove_dev(dm);
	if (!r)
		log_debug("unexposed %s", dm);
	return r;
}

/* Device and mount of one copy; what exists already is kept. */
static int expose_copy(struct shadowd_backend *b, const struct fsrvp_set *s,
		       const struct fsrvp_copy *c, bool rw)
{
	char dm[128], mnt[PATH_MAX], params[96], path[PATH_MAX];
	struct shadow_dev d;
	struct stat st;
	uint64_t sectors;
	dev_t dev;

	if (parse_volume(c->volume, &d) || !c->snap_id)
		return -1;
	shadowd_copy_names(b, s, c, dm, sizeof(dm), mnt, sizeof(mnt));
	sectors = origin_sectors(d.major, d.minor);
	if (!sectors) {
		log_err("expose: %s is not an active shadow-origin", c->volume);
		return -1;
	}
	snprintf(params, sizeof(params), "%u:%u %u %s", d.major, d.minor,
		 c->snap_id, rw ? "rw" : "ro");
	if (!dm_exists(dm, &dev)) {
		if (dm_table(DM_DEVICE_CREATE, dm, sectors, params, !rw) ||
		    !dm_exists(dm, &dev)) {
			log_err("expose: cannot activate %s (%s)", dm, params);
			return -1;
		}
	}
	if (ensure_node(dm, dev))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dm_dir(), dm);
	if (mkdirs(mnt, 0755)) {
		log_err("mkdir %s: %s", mnt, strerror(errno));
		return -1;
	}
	if (!(stat(mnt, &st) == 0 && st.st_dev == dev) &&
	    shadowd_snap_fs_mount(path, mnt, rw, true))
		return -1;
	if (run_hook(b, "expose", c, mnt))
		return -1;
	log_info("exposed %s (%s) on %s%s", c->exposed_name, dm, mnt,
		 rw ? " read-write" : "");
	return 0;
}

static uint32_t be_expose(void *ctx, struct fsrvp_set *s, uint32_t timeout_ms)
{
	struct shadowd_backend *b = ctx;
	bool rw = s->context & FSRVP_ATTR_AUTO_RECOVERY;
	size_t i, j;

	for (i = 0; i < s->n; i++) {
		if (expose_copy(b, s, &s->copies[i], rw)) {
			/* all or nothing */
			for (j = 0; j <= i; j++)
				shadowd_unexpose_copy(b, s, &s->copies[j]);
			return FSRVP_E_FAIL;
		}
	}
	for (i = 0; i < s->n; i++)
		s->copies[i].writable = rw;
	return 0;
}

int shadowd_reexpose_copy(struct shadowd_backend *b, const struct fsrvp_set *s,
			  struct fsrvp_copy *c)
{
	return expose_copy(b, s, c, c->writable);
}

/* A writable copy becomes read-only: remount, table reloaded "ro"
 * (suspended without lockfs: nothing to flush, nothing frozen). */
static int seal_copy(struct shadowd_backend *b, const struct fsrvp_set *s,
		     const struct fsrvp_copy *c)
{
	char dm[128], mnt[PATH_MAX], params[96];
	struct shadow_dev d;
	uint64_t sectors;

	if (parse_volume(c->volume, &d))
		return -1;
	shadowd_copy_names(b, s, c, dm, sizeof(dm), mnt, sizeof(mnt));
	if (is_mountpoint(mnt) &&
	    mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID |
		  MS_NODEV, NULL)) {
		log_err("remount %s read-only: %s", mnt, strerror(errno));
		return -1;
	}
	if (!dm_exists(dm, NULL))
		return 0;
	sectors = origin_sectors(d.major, d.minor);
	snprintf(params, sizeof(params), "%u:%u %u ro", d.major, d.minor,
		 c->snap_id);
	if (!sectors || dm_table(DM_DEVICE_RELOAD, dm, sectors, params, true) ||
	    dm_simple(DM_DEVICE_SUSPEND, dm, true) ||
	    dm_simple(DM_DEVICE_RESUME, dm, false)) {
		log_err("reload %s read-only failed", dm);
		dm_simple(DM_DEVICE_RESUME, dm, false);
		return -1;
	}
	/* The published share follows: the hook sees a read-only mount. */
	if (c->exposed && run_hook(b, "expose", c, mnt))
		log_warn("recovery complete: the expose hook failed for %s; "
			 "its share may still be writable (the copy is not)",
			 c->exposed_name);
	return 0;
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
	for (i = 0; i < s->n; i++)
		if (s->copies[i].writable && seal_copy(b, s, &s->copies[i]))
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

	if (shadowd_unexpose_copy(b, s, c))
		return FSRVP_E_FAIL;
	if (!c->snap_id)
		return 0;
	if (parse_volume(c->volume, &d))
		return FSRVP_E_FAIL;
	nl = shadowd_nl(b);
	if (!nl)
		return FSRVP_E_FAIL;
	shadowd_pv_release(b, d.major, d.minor, c->snap_id);
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
	struct shadowd_backend *b = ctx;

	if (b->f && !b->loading)
		shadowd_state_save(b);
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
	/* No udev in a minimal system (nor in the test guest): never wait
	 * for it; the library makes and removes the nodes itself. */
	dm_udev_set_sync_support(0);
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
