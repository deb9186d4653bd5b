// SPDX-License-Identifier: GPL-2.0
/*
 * Previous versions: snapshots mounted read-only where Samba's
 * vfs_shadow_copy2 looks for them, and the requests Samba's
 * vfs_shell_snap needs (Documentation/shadowd.rst, "Previous versions
 * and Samba").
 *
 *   a pv mount    snapshot ID of origin VOL (dm name) activated as the
 *                 read-only "shadow" device shadow-pv-VOL-ID and mounted
 *                 (ro, nosuid, nodev; xfs nouuid,norecovery; ext4 noload
 *                 when its journal needs a replay) on
 *                 SNAPDIR/@GMT-YYYY.MM.DD-HH.MM.SS, the snapshot's
 *                 creation time in UTC.  SNAPDIR is the "snapdir" key,
 *                 relative to the live filesystem's mount point or
 *                 absolute.
 *   which ones    every valid snapshot of the volumes "previous_versions"
 *                 names (or all), and on every volume the snapshots
 *                 labelled "samba" (made by samba.create).  Of two in the
 *                 same second the older is mounted.
 *   sync          the devices and mounts of a volume made to match its
 *                 snapshots: at start, on the kernel's events, on resync,
 *                 on pv.sync.  Nothing is kept in memory or in state_dir:
 *                 the devices (by name and table), the mount table and
 *                 the kernel's labels are the state.
 *   release       before shadowd deletes a snapshot, its pv mount goes
 *                 (an open snapshot cannot be deleted).
 *
 * samba.check, samba.create, samba.delete: vfs_shell_snap's check, create
 * and delete commands through "shadowctl samba".  A share path maps to
 * SNAPDIR/@GMT-.../<the path relative to the filesystem's root>.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libdevmapper.h>
#include <libmount.h>

#include "proto.h"
#include "shadow-nl.h"
#include "shadowd.h"

#define GMT_LEN		32	/* "@GMT-YYYY.MM.DD-HH.MM.SS" */
#define NS		1000000000ULL

/* ------------------------------------------------------ configuration */

int shadowd_pv_check_snapdir(const char *v)
{
	const char *p = v;
	int n = 0;

	while (*p) {
		size_t len;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (!len)
			break;
		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && !strncmp(p, "..", 2)) ||
		    !strncmp(p, "@GMT-", 5))
			return -1;
		n++;
		p += len;
	}
	return n ? 0 : -1;
}

int shadowd_pv_check_volumes(const char *v)
{
	char buf[4096], *save = NULL, *t;
	struct shadow_dev d;
	int n = 0;

	if (!strcmp(v, "none") || !strcmp(v, "all"))
		return 0;
	if (strlen(v) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", v);
	for (t = strtok_r(buf, ", \t", &save); t;
	     t = strtok_r(NULL, ", \t", &save)) {
		enum shadow_spec_kind k = shadow_spec_classify(t, &d);

		if ((k != SHADOW_SPEC_NAME && k != SHADOW_SPEC_DEVNO) ||
		    !strcmp(t, "none") || !strcmp(t, "all"))
			return -1;
		n++;
	}
	return n ? 0 : -1;
}

/* Does "previous_versions" name this volume? */
static bool pv_covers(const struct shadowd_config *cfg, const char *name,
		      struct shadow_dev d)
{
	char buf[4096], dev[32], *save = NULL, *t;

	if (!strcmp(cfg->previous_versions, "all"))
		return true;
	if (!strcmp(cfg->previous_versions, "none"))
		return false;
	shadow_format_dev(d, dev, sizeof(dev));
	snprintf(buf, sizeof(buf), "%s", cfg->previous_versions);
	for (t = strtok_r(buf, ", \t", &save); t;
	     t = strtok_r(NULL, ", \t", &save))
		if (!strcmp(t, name) || !strcmp(t, dev))
			return true;
	return false;
}

/* ------------------------------------------------------------ volumes */

struct pv_vol {
	struct shadow_dev d;
	char name[SHADOW_NL_NAMELEN];	/* dm name, else MAJ:MIN */
	char live[PATH_MAX];		/* "" when not mounted */
	char snapdir[PATH_MAX];		/* "" when there is none */
	bool all;			/* previous_versions covers it */
};

/* The mount point of the whole filesystem on @dev (the first mount of
 * its root); "" when none. */
static void live_mount(dev_t dev, char *buf, size_t len)
{
	struct libmnt_table *tb = mnt_new_table();
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;

	buf[0] = '\0';
	if (!tb || !it || mnt_table_parse_mtab(tb, NULL))
		goto out;
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *root = mnt_fs_get_root(fs);

		if (mnt_fs_get_devno(fs) == dev &&
		    (!root || !strcmp(root, "/"))) {
			snprintf(buf, len, "%s", mnt_fs_get_target(fs));
			break;
		}
	}
out:
	mnt_free_iter(it);
	mnt_unref_table(tb);
}

static void pv_vol_get(const struct shadowd_backend *b, struct shadow_dev d,
		       struct pv_vol *v)
{
	const char *sd = b->cfg->snapdir;

	memset(v, 0, sizeof(*v));
	v->d = d;
	if (shadow_dm_name(d, v->name, sizeof(v->name)))
		shadow_format_dev(d, v->name, sizeof(v->name));
	live_mount(makedev(d.major, d.minor), v->live, sizeof(v->live));
	if (sd[0] == '/')
		snprintf(v->snapdir, sizeof(v->snapdir), "%s", sd);
	else if (v->live[0] &&
		 snprintf(v->snapdir, sizeof(v->snapdir), "%s/%s",
			  strcmp(v->live, "/") ? v->live : "", sd) >=
		 (int)sizeof(v->snapdir))
		v->snapdir[0] = '\0';	/* too long: none */
	v->all = pv_covers(b->cfg, v->name, d);
}

static void gmt_name(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NS);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "@GMT-%Y.%m.%d-%H.%M.%S", &tm);
}

/* Is snapshot @s one of those a volume shows?  Not an FSRVP set's until
 * it is read-only (RecoveryComplete): a writable exposed copy may still
 * change under a read-only mount. */
static bool pv_wanted(const struct pv_vol *v, const struct shadow_snap *s)
{
	if (!strncmp(s->label, "fsrvp-", 6) && !s->readonly)
		return false;
	return !s->invalid && s->ctime_ns && v->snapdir[0] &&
	       (v->all || !strcmp(s->label, SHADOWD_SAMBA_LABEL));
}

static int snap_cmp(const void *a, const void *b)
{
	const struct shadow_snap *x = a, *y = b;

	if (x->ctime_ns != y->ctime_ns)
		return x->ctime_ns < y->ctime_ns ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* ------------------------------------------------------------ devices */

struct pv_dev {
	char name[SHADOW_NL_NAMELEN];
	dev_t devno;
	struct shadow_dev origin;
	uint32_t id;
};

bool shadowd_pv_source(const char *src)
{
	const char *base = src ? strrchr(src, '/') : NULL;

	base = base ? base + 1 : src;
	return base && !strncmp(base, SHADOWD_PV_PREFIX,
				strlen(SHADOWD_PV_PREFIX));
}

/* The origin and snapshot of a "shadow" device; 0 or -1. */
static int dev_table(const char *name, struct shadow_dev *origin,
		     uint32_t *id)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	uint64_t start, length;
	char *type = NULL, *params = NULL;
	int r = -1;

	if (!dmt)
		return -1;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt)) {
		dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
		if (type && params && !strcmp(type, "shadow") &&
		    sscanf(params, "%u:%u %u", &origin->major, &origin->minor,
			   id) == 3)
			r = 0;
	}
	dm_task_destroy(dmt);
	return r;
}

int shadowd_snapdev_table(const char *name, uint32_t *major,
			  uint32_t *minor, uint32_t *id)
{
	struct shadow_dev o;

	if (dev_table(name, &o, id))
		return -1;
	*major = o.major;
	*minor = o.minor;
	return 0;
}

/* Every "shadow" device whose name starts with @prefix (shadow-pv-,
 * shadow-mnt-), into a malloc()ed array; 0 or -1. */
static int prefix_devices(const char *prefix, struct pv_dev **out, size_t *n)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	struct pv_dev *v = NULL, *nv;
	struct dm_names *names;
	unsigned int next = 0;
	size_t len = strlen(prefix);

	*out = NULL;
	*n = 0;
	if (!dmt)
		return -1;
	if (!dm_task_run(dmt)) {
		dm_task_destroy(dmt);
		return -1;
	}
	names = dm_task_get_names(dmt);
	if (names && names->dev) {
		do {
			struct pv_dev p = { 0 };

			names = (struct dm_names *)((char *)names + next);
			next = names->next;
			if (strncmp(names->name, prefix, len) ||
			    strlen(names->name) >= sizeof(p.name))
				continue;
			snprintf(p.name, sizeof(p.name), "%s", names->name);
			if (!dm_exists(p.name, &p.devno) ||
			    dev_table(p.name, &p.origin, &p.id))
				continue;
			nv = realloc(v, (*n + 1) * sizeof(*v));
			if (!nv)
				break;
			v = nv;
			v[(*n)++] = p;
		} while (next);
	}
	dm_task_destroy(dmt);
	*out = v;
	return 0;
}

/* Every pv device. */
static int pv_devices(struct pv_dev **out, size_t *n)
{
	return prefix_devices(SHADOWD_PV_PREFIX, out, n);
}

/* Where device @dev is mounted (the last mount); false when nowhere. */
static bool dev_mount(dev_t dev, char *buf, size_t len)
{
	struct libmnt_table *tb = mnt_new_table();
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_BACKWARD);
	struct libmnt_fs *fs;
	bool found = false;

	if (!tb || !it || mnt_table_parse_mtab(tb, NULL))
		goto out;
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		if (mnt_fs_get_devno(fs) == dev) {
			snprintf(buf, len, "%s", mnt_fs_get_target(fs));
			found = true;
			break;
		}
	}
out:
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return found;
}

bool shadowd_dev_mount(dev_t dev, char *buf, size_t len)
{
	return dev_mount(dev, buf, len);
}

/* Unmount every mount of a pv device, remove its @GMT directories and
 * the device; 0 or -1. */
static int pv_dev_release(const struct pv_dev *p, const char *why)
{
	char mnt[PATH_MAX], *base;
	int i;

	for (i = 0; i < 16 && dev_mount(p->devno, mnt, sizeof(mnt)); i++) {
		if (umount_all(mnt))
			return -1;
		base = strrchr(mnt, '/');
		if (base && !strncmp(base + 1, "@GMT-", 5) && rmdir(mnt))
			log_debug("rmdir %s: %s", mnt, strerror(errno));
	}
	if (dm_remove_dev(p->name))
		return -1;
	log_info("%u:%u snapshot %u unmounted, %s removed (%s)",
		 p->origin.major, p->origin.minor, p->id, p->name, why);
	return 0;
}

int shadowd_snapdev_release(const char *prefix, uint32_t major,
			    uint32_t minor, uint32_t id, const char *why)
{
	struct pv_dev *v;
	size_t n, i;
	int r = 0;

	if (prefix_devices(prefix, &v, &n))
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i].origin.major != major || v[i].origin.minor != minor ||
		    v[i].id != id)
			continue;
		if (pv_dev_release(&v[i], why))
			r = -1;
		else if (r >= 0)
			r++;
	}
	free(v);
	return r;
}

int shadowd_pv_release(struct shadowd_backend *b, uint32_t major,
		       uint32_t minor, uint32_t id)
{
	int r = shadowd_snapdev_release(SHADOWD_PV_PREFIX, major, minor, id,
					"snapshot deleted");
	int m = shadowd_snapdev_release(SHADOWD_MNT_PREFIX, major, minor, id,
					"snapshot deleted");

	return r < 0 || m < 0 ? -1 : 0;
}

/*
 * Mount of a snapshot device (read-only unless @rw); 0 or -1 after
 * logging.  @frozen: the snapshot was cut with its filesystem frozen, so
 * an ext4 journal is empty and a plain mount works; one that still needs
 * a replay then fails loudly instead of being mounted with noload.
 */
int shadowd_snap_fs_mount(const char *dev, const char *mnt, bool rw,
			  bool frozen)
{
	unsigned char sb[2048];
	const char *type, *data;
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	ssize_t r = -1;

	if (fd >= 0) {
		r = pread(fd, sb, sizeof(sb), 0);
		close(fd);
	}
	if (r != (ssize_t)sizeof(sb)) {
		log_err("%s: cannot read its superblock", dev);
		errno = EIO;
		return -1;
	}
	if (!memcmp(sb, "XFSB", 4)) {
		/* the origin's UUID; a log that a ro device cannot replay */
		type = "xfs";
		data = rw ? "nouuid" : "nouuid,norecovery";
	} else if (sb[1080] == 0x53 && sb[1081] == 0xEF) {
		/* cut without a freeze: the journal needs a replay that a
		 * read-only device cannot take (INCOMPAT_RECOVER) */
		type = "ext4";
		data = !rw && !frozen && sb[1024 + 0x60] & 0x4 ?
		       "noload" : "";
	} else {
		log_err("%s: not ext2/3/4 or xfs", dev);
		errno = EMEDIUMTYPE;
		return -1;
	}
	if (mount(dev, mnt, type, (rw ? 0 : MS_RDONLY) | MS_NOSUID | MS_NODEV,
		  data)) {
		int e = errno;

		log_err("mount %s on %s (%s%s%s): %s", dev, mnt,
			rw ? "rw" : "ro", data[0] ? "," : "", data,
			strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

static void pv_dev_name(const struct pv_vol *v, uint32_t id, char *buf,
			size_t len)
{
	int n = snprintf(buf, len, SHADOWD_PV_PREFIX "%s-%u", v->name, id);

	if (n < 0 || (size_t)n >= len || strchr(v->name, ':'))
		snprintf(buf, len, SHADOWD_PV_PREFIX "%u_%u-%u", v->d.major,
			 v->d.minor, id);
}

/* Activate snapshot @id and mount it on SNAPDIR/@gmt; 0 or -1. */
static int pv_mount_snap(const struct pv_vol *v, uint32_t id, const char *gmt)
{
	char dm[SHADOW_NL_NAMELEN], mnt[PATH_MAX + GMT_LEN], params[96];
	char path[PATH_MAX];
	struct stat st;
	uint64_t sectors;
	dev_t dev;

	pv_dev_name(v, id, dm, sizeof(dm));
	snprintf(mnt, sizeof(mnt), "%s/%s", v->snapdir, gmt);
	sectors = origin_sectors(v->d.major, v->d.minor);
	if (!sectors)
		return -1;
	snprintf(params, sizeof(params), "%u:%u %u ro", v->d.major,
		 v->d.minor, id);
	if (!dm_exists(dm, &dev) &&
	    (dm_table(DM_DEVICE_CREATE, dm, sectors, params, true) ||
	     !dm_exists(dm, &dev))) {
		log_err("previous versions: cannot activate %s (%s)", dm,
			params);
		return -1;
	}
	if (ensure_node(dm, dev))
		goto fail;
	snprintf(path, sizeof(path), "%s/%s", dm_dir(), dm);
	if (mkdirs(v->snapdir, 0755) ||
	    (mkdir(mnt, 0755) && errno != EEXIST)) {
		log_err("previous versions: mkdir %s: %s", mnt,
			strerror(errno));
		goto fail;
	}
	if (!stat(mnt, &st) && st.st_dev == dev)
		return 0;
	if (is_mountpoint(mnt)) {
		log_warn("previous versions: %s: something else is mounted "
			 "there; %s snapshot %u not mounted", mnt, v->name, id);
		goto fail;
	}
	if (shadowd_snap_fs_mount(path, mnt, false, false)) {
		rmdir(mnt);
		goto fail;
	}
	log_info("previous versions: %s snapshot %u mounted on %s", v->name,
		 id, mnt);
	return 0;
fail:
	dm_remove_dev(dm);
	return -1;
}

/* ---------------------------------------------------------------- sync */

int shadowd_pv_sync(struct shadowd_backend *b, uint32_t major,
		    uint32_t minor, const char *why)
{
	struct shadow_dev d = { major, minor };
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_snap *sv = NULL;
	struct pv_dev *pd = NULL;
	char (*gmt)[GMT_LEN] = NULL;
	bool *want = NULL, *done = NULL;
	size_t ns = 0, npd = 0, i, j;
	struct pv_vol v;
	int r, changes = 0;

	if (!nl)
		return -1;
	r = shadow_nl_snap_list(nl, d, &sv, &ns, &err);
	if (r && r != -ENODEV && r != -ENOENT) {
		log_warn("previous versions: %u:%u: %s", major, minor, err.msg);
		return -1;
	}
	if (r)
		ns = 0;	/* no longer an origin: every mount goes */
	if (pv_devices(&pd, &npd)) {
		free(sv);
		return -1;
	}
	pv_vol_get(b, d, &v);
	if (ns)
		qsort(sv, ns, sizeof(*sv), snap_cmp);
	gmt = calloc(ns + 1, sizeof(*gmt));
	want = calloc(ns + 1, sizeof(*want));
	done = calloc(ns + 1, sizeof(*done));
	if (!gmt || !want || !done) {
		changes = -1;
		goto out;
	}
	for (i = 0; i < ns; i++) {
		if (!pv_wanted(&v, &sv[i]))
			continue;
		gmt_name(sv[i].ctime_ns, gmt[i], GMT_LEN);
		want[i] = true;
		for (j = 0; j < i; j++) {
			if (want[j] && !strcmp(gmt[j], gmt[i])) {
				log_notice("previous versions: %s snapshot %u "
					   "has the second of snapshot %u (%s): "
					   "not mounted", v.name, sv[i].id,
					   sv[j].id, gmt[i]);
				want[i] = false;
				break;
			}
		}
	}
	/* what exists: kept when it is right, else removed */
	for (j = 0; j < npd; j++) {
		char mnt[PATH_MAX + GMT_LEN], cur[PATH_MAX];

		if (pd[j].origin.major != major || pd[j].origin.minor != minor)
			continue;
		for (i = 0; i < ns; i++)
			if (sv[i].id == pd[j].id)
				break;
		if (i < ns && want[i] && !done[i]) {
			snprintf(mnt, sizeof(mnt), "%s/%s", v.snapdir, gmt[i]);
			if (dev_mount(pd[j].devno, cur, sizeof(cur)) &&
			    !strcmp(cur, mnt)) {
				done[i] = true;
				continue;
			}
		}
		if (pv_dev_release(&pd[j], i == ns ? "snapshot gone" :
				   sv[i].invalid ? "snapshot invalid" : why))
			changes = -1;
		else if (changes >= 0)
			changes++;
	}
	for (i = 0; i < ns; i++) {
		if (!want[i] || done[i])
			continue;
		if (pv_mount_snap(&v, sv[i].id, gmt[i]))
			changes = -1;
		else if (changes >= 0)
			changes++;
	}
	if (changes)
		log_debug("previous versions: %s synced (%s)", v.name, why);
out:
	free(gmt);
	free(want);
	free(done);
	free(pd);
	free(sv);
	return changes;
}

void shadowd_pv_sync_all(struct shadowd_backend *b, const char *why)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_origin *o = NULL;
	struct pv_dev *pd = NULL;
	size_t n = 0, npd = 0, i, j;

	if (!nl || shadow_nl_origin_list(nl, &o, &n, &err))
		return;
	for (i = 0; i < n; i++)
		shadowd_pv_sync(b, o[i].dev.major, o[i].dev.minor, why);
	/* devices of origins that are gone */
	if (!pv_devices(&pd, &npd)) {
		for (j = 0; j < npd; j++) {
			for (i = 0; i < n; i++)
				if (o[i].dev.major == pd[j].origin.major &&
				    o[i].dev.minor == pd[j].origin.minor)
					break;
			if (i == n)
				pv_dev_release(&pd[j], "origin gone");
		}
	}
	free(pd);
	free(o);
}

/* ------------------------------------------------------------ requests */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A share path: an absolute directory on a filesystem mounted from a
 * dm-shadow origin.  @rel: the path from the filesystem's root ("" for
 * the root).  NULL, or an error reply.
 */
static json_object *samba_resolve(const char *path, const char *arg,
				  char *rel, size_t rlen, struct shadow_dev *d)
{
	struct libmnt_table *tb = NULL;
	struct libmnt_fs *fs;
	char real[PATH_MAX];
	const char *target, *root, *rest;
	json_object *o = NULL;
	struct stat st;
	dev_t dev;

	if (!path || path[0] != '/')
		return BAD_ARG(arg);
	if (!realpath(path, real) || stat(real, &st))
		return reply_err("not_found", "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return reply_err("not_found", "%s: not a directory", path);
	tb = mnt_new_table();
	if (!tb || mnt_table_parse_mtab(tb, NULL)) {
		o = reply_err("E_FAIL", "cannot read the mount table");
		goto out;
	}
	fs = mnt_table_find_mountpoint(tb, real, MNT_ITER_BACKWARD);
	dev = fs ? mnt_fs_get_devno(fs) : 0;
	if (!fs || !dev || !is_shadow_origin(dev)) {
		o = reply_err("not_supported", "%s is not on a filesystem of "
			      "a dm-shadow origin", path);
		goto out;
	}
	d->major = major(dev);
	d->minor = minor(dev);
	target = mnt_fs_get_target(fs);
	root = mnt_fs_get_root(fs);
	rest = real + (strcmp(target, "/") ? strlen(target) : 0);
	while (*rest == '/')
		rest++;
	while (root && *root == '/')
		root++;
	if (snprintf(rel, rlen, "%s%s%s", root ? root : "",
		     root && *root && *rest ? "/" : "", rest) >= (int)rlen)
		o = reply_err("E_INVALIDARG", "%s: path too long", path);
out:
	mnt_unref_table(tb);
	return o;
}

static json_object *samba_check(struct shadowd_backend *b, json_object *req)
{
	char rel[PATH_MAX], name[SHADOW_NL_NAMELEN], dev[32];
	struct shadow_dev d;
	json_object *o;

	o = samba_resolve(arg_str(req, "path"), "path", rel, sizeof(rel), &d);
	if (o)
		return o;
	if (shadow_dm_name(d, name, sizeof(name)))
		shadow_format_dev(d, name, sizeof(name));
	o = reply_ok();
	add_str(o, "volume", name);
	add_str(o, "device", shadow_format_dev(d, dev, sizeof(dev)));
	return o;
}

/* Sleep until the realtime clock is past second @sec. */
static void wait_past(uint64_t sec)
{
	struct timespec now, ts;

	clock_gettime(CLOCK_REALTIME, &now);
	if ((uint64_t)now.tv_sec > sec)
		return;
	ts.tv_sec = (time_t)(sec - (uint64_t)now.tv_sec);
	ts.tv_nsec = 1000000000L - now.tv_nsec;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	ts.tv_nsec += 1000000;	/* a millisecond into the next one */
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Does a snapshot older than @id (another one shown) have @id's second?
 * Then @id would not be mounted.
 */
static bool second_taken(const struct pv_vol *v, const struct shadow_snap *sv,
			 size_t n, uint32_t id)
{
	const struct shadow_snap *me = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (sv[i].id == id)
			me = &sv[i];
	if (!me)
		return false;
	for (i = 0; i < n; i++)
		if (sv[i].id != id && pv_wanted(v, &sv[i]) &&
		    sv[i].ctime_ns / NS == me->ctime_ns / NS &&
		    snap_cmp(&sv[i], me) < 0)
			return true;
	return false;
}

static void snap_drop(struct shadowd_backend *b, struct shadow_dev d,
		      uint32_t id)
{
	struct shadow_nl_err err = { 0 };

	shadowd_pv_release(b, d.major, d.minor, id);
	if (shadow_nl_snap_delete(shadowd_nl(b), d, id, &err))
		log_err("samba.create: cannot delete %u:%u snapshot %u: %s",
			d.major, d.minor, id, err.msg);
}

static json_object *samba_create(struct shadowd_backend *b, uid_t uid,
				 json_object *req)
{
	char rel[PATH_MAX], gmt[GMT_LEN], dev[32];
	char out[PATH_MAX * 2 + GMT_LEN];
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_created cr;
	struct shadow_snap *sv = NULL, me;
	uint64_t t0 = mono_ms(), newest, pause = 0;
	uint32_t timeout;
	struct shadow_dev d;
	struct stat st;
	struct pv_vol v;
	json_object *o;
	bool taken = false;
	size_t n, i;
	int tries;

	o = samba_resolve(arg_str(req, "path"), "path", rel, sizeof(rel), &d);
	if (o)
		return o;
	if (arg_u32(req, "timeout_ms", 0, &timeout) ||
	    timeout > SHADOW_NL_TIMEOUT_MAX_MS)
		return BAD_ARG("timeout_ms");
	if (!nl)
		return reply_err("netlink",
				 "dm-shadow netlink family not available");
	pv_vol_get(b, d, &v);
	if (!v.snapdir[0])
		return reply_err("not_supported", "%s: no snapshot directory "
				 "(the filesystem is not mounted whole)",
				 v.name);

	for (tries = 0;; tries++) {
		/* a second of its own: names never collide */
		if (shadow_nl_snap_list(nl, d, &sv, &n, &err))
			return reply_nl(&err);
		for (newest = 0, i = 0; i < n; i++)
			if (sv[i].ctime_ns / NS > newest)
				newest = sv[i].ctime_ns / NS;
		free(sv);
		sv = NULL;
		if (newest)
			wait_past(newest);
		/* the filesystem frozen by the kernel, under its bound */
		if (shadow_nl_snap_create(nl, &d, 1, SHADOW_F_FREEZE, timeout,
					  SHADOWD_SAMBA_LABEL, &cr, &pause,
					  &err))
			return reply_nl(&err);
		if (shadow_nl_snap_list(nl, d, &sv, &n, &err)) {
			snap_drop(b, d, cr.id);
			return reply_nl(&err);
		}
		memset(&me, 0, sizeof(me));
		for (i = 0; i < n; i++)
			if (sv[i].id == cr.id)
				me = sv[i];
		taken = second_taken(&v, sv, n, cr.id);
		if (!taken || tries >= 2)
			break;
		/* someone else cut one in that second: again */
		log_notice("samba.create: %s snapshot %u shares its second "
			   "with an older one; cutting another", v.name, cr.id);
		free(sv);
		sv = NULL;
		snap_drop(b, d, cr.id);
	}
	free(sv);
	if (!me.ctime_ns || taken) {
		snap_drop(b, d, cr.id);
		return reply_err("E_FAIL", "%s: no free second for a snapshot",
				 v.name);
	}
	gmt_name(me.ctime_ns, gmt, sizeof(gmt));
	shadowd_pv_sync(b, d.major, d.minor, "samba.create");
	snprintf(out, sizeof(out), "%s/%s%s%s", v.snapdir, gmt,
		 rel[0] ? "/" : "", rel);
	if (stat(out, &st) || !S_ISDIR(st.st_mode)) {
		log_err("samba.create: %s snapshot %u: %s is not there; "
			"snapshot deleted", v.name, cr.id, out);
		snap_drop(b, d, cr.id);
		return reply_err("E_FAIL", "the snapshot could not be mounted "
				 "(see shadowd's log)");
	}
	o = reply_ok();
	add_str(o, "volume", v.name);
	add_str(o, "device", shadow_format_dev(d, dev, sizeof(dev)));
	add_u64(o, "id", cr.id);
	add_str(o, "gmt", gmt);
	add_str(o, "path", out);
	add_u64(o, "pause_us", pause);
	add_u64(o, "ms", mono_ms() - t0);
	log_info("samba.create by uid %u: %s snapshot %u, %s (%llu ms)", uid,
		 v.name, cr.id, out, (unsigned long long)(mono_ms() - t0));
	return o;
}

/* The pv device that holds path @snap: by its mount, else by the
 * "@GMT-..." component under the snapshot directory of volume @v. */
static int find_pv(const struct pv_vol *v, const char *snap, struct pv_dev *out)
{
	struct libmnt_table *tb;
	struct libmnt_fs *fs;
	char real[PATH_MAX], want[PATH_MAX + GMT_LEN], cur[PATH_MAX];
	struct pv_dev *pd;
	dev_t dev = 0;
	size_t n, i, len;
	int r = -1;

	if (realpath(snap, real) && (tb = mnt_new_table())) {
		if (!mnt_table_parse_mtab(tb, NULL)) {
			fs = mnt_table_find_mountpoint(tb, real,
						       MNT_ITER_BACKWARD);
			if (fs)
				dev = mnt_fs_get_devno(fs);
		}
		mnt_unref_table(tb);
	}
	want[0] = '\0';
	len = strlen(v->snapdir);
	if (v->snapdir[0] && !strncmp(snap, v->snapdir, len) &&
	    !strncmp(snap + len, "/@GMT-", 6)) {
		snprintf(want, sizeof(want), "%s", snap);
		want[len + 1 + strcspn(snap + len + 1, "/")] = '\0';
	}
	if (pv_devices(&pd, &n))
		return -1;
	for (i = 0; i < n && r; i++) {
		if ((dev && pd[i].devno == dev) ||
		    (want[0] && dev_mount(pd[i].devno, cur, sizeof(cur)) &&
		     !strcmp(cur, want))) {
			*out = pd[i];
			r = 0;
		}
	}
	free(pd);
	return r;
}

static json_object *samba_delete(struct shadowd_backend *b,
				 unsigned int classes, uid_t uid,
				 json_object *req)
{
	const char *snap = arg_str(req, "snapshot");
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	char rel[PATH_MAX], dev[32];
	struct shadow_snap s;
	struct shadow_dev d;
	struct pv_dev p;
	struct pv_vol v;
	json_object *o;
	int r;

	if (!snap || snap[0] != '/')
		return BAD_ARG("snapshot");
	o = samba_resolve(arg_str(req, "base"), "base", rel, sizeof(rel), &d);
	if (o)
		return o;
	if (!nl)
		return reply_err("netlink",
				 "dm-shadow netlink family not available");
	pv_vol_get(b, d, &v);
	if (find_pv(&v, snap, &p))
		return reply_err("not_found", "%s: not a snapshot of %s", snap,
				 v.name);
	if (p.origin.major != d.major || p.origin.minor != d.minor)
		return reply_err("not_found", "%s is a snapshot of %u:%u, not "
				 "of %s", snap, p.origin.major, p.origin.minor,
				 v.name);
	r = shadow_nl_snap_get(nl, d, p.id, &s, &err);
	if (r && r != -ENOENT)
		return reply_nl(&err);
	if (!r && strcmp(s.label, SHADOWD_SAMBA_LABEL) &&
	    !(classes & SHADOWD_ADMIN))
		return reply_err("E_ACCESSDENIED", "snapshot %u of %s was not "
				 "made by samba.create: only admin may delete "
				 "it", p.id, v.name);
	if (pv_dev_release(&p, "samba.delete"))
		return reply_err("busy", "%s: cannot unmount or remove %s",
				 snap, p.name);
	r = shadow_nl_snap_delete(nl, d, p.id, &err);
	if (r && r != -ENOENT) {
		shadowd_pv_sync(b, d.major, d.minor, "deletion failed");
		return reply_nl(&err);
	}
	log_info("samba.delete by uid %u: %s snapshot %u deleted", uid,
		 v.name, p.id);
	o = reply_ok();
	add_str(o, "volume", v.name);
	add_str(o, "device", shadow_format_dev(d, dev, sizeof(dev)));
	add_u64(o, "id", p.id);
	return o;
}

static json_object *pv_list(struct shadowd_backend *b, json_object *req)
{
	const char *vol = arg_str(req, "volume");
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_dev only = { 0 };
	json_object *o, *a;
	struct pv_dev *pd;
	size_t n, i;

	if (vol && shadow_resolve_origin(vol, &only, &err))
		return reply_nl(&err);
	if (pv_devices(&pd, &n))
		return reply_err("E_FAIL", "cannot list device-mapper devices");
	a = json_object_new_array();
	for (i = 0; i < n; i++) {
		char name[SHADOW_NL_NAMELEN], mnt[PATH_MAX], dev[32];
		char gmt[GMT_LEN] = "";
		struct shadow_snap s;
		bool samba = false;
		json_object *x;

		if (vol && (pd[i].origin.major != only.major ||
			    pd[i].origin.minor != only.minor))
			continue;
		if (shadow_dm_name(pd[i].origin, name, sizeof(name)))
			shadow_format_dev(pd[i].origin, name, sizeof(name));
		if (nl && !shadow_nl_snap_get(nl, pd[i].origin, pd[i].id, &s,
					      &err)) {
			samba = !strcmp(s.label, SHADOWD_SAMBA_LABEL);
			if (s.ctime_ns)
				gmt_name(s.ctime_ns, gmt, sizeof(gmt));
		}
		x = json_object_new_object();
		add_str(x, "volume", name);
		add_str(x, "device", shadow_format_dev(pd[i].origin, dev,
						       sizeof(dev)));
		add_u64(x, "id", pd[i].id);
		add_str(x, "gmt", gmt);
		add_str(x, "mount_point", dev_mount(pd[i].devno, mnt,
						    sizeof(mnt)) ? mnt : "");
		add_str(x, "dm_name", pd[i].name);
		add_str(x, "origin", samba ? "samba" : "policy");
		json_object_array_add(a, x);
	}
	free(pd);
	o = reply_ok();
	json_object_object_add(o, "mounts", a);
	return o;
}

static json_object *pv_sync_req(struct shadowd_backend *b, json_object *req)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_dev d;
	json_object *o;
	int r;

	if (!arg_str(req, "volume")) {
		shadowd_pv_sync_all(b, "pv.sync");
		return reply_ok();
	}
	if (arg_volume(req, "volume", &d, &err))
		return reply_nl(&err);
	r = shadowd_pv_sync(b, d.major, d.minor, "pv.sync");
	if (r < 0)
		return reply_err("E_FAIL", "the sync failed (see shadowd's log)");
	o = reply_ok();
	add_u64(o, "changes", (uint64_t)r);
	return o;
}

json_object *shadowd_pv_request(struct shadowd_backend *b,
				unsigned int classes, uid_t uid,
				const char *op, json_object *req)
{
	static const struct {
		const char *op;
		unsigned int cls;
	} need[] = {
		{ "samba.check", SHADOWD_QUERY },
		{ "samba.create", SHADOWD_SNAPSHOT },
		{ "samba.delete", SHADOWD_SNAPSHOT },
		{ "pv.list", SHADOWD_QUERY },
		{ "pv.sync", SHADOWD_ADMIN },
	};
	size_t i;

	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!strcmp(op, need[i].op))
			break;
	if (i == sizeof(need) / sizeof(need[0]))
		return reply_err("E_INVALIDARG", "unknown request \"%s\"", op);
	if (!(classes & need[i].cls))
		return reply_err("E_ACCESSDENIED", "not permitted");
	switch (i) {
	case 0:
		return samba_check(b, req);
	case 1:
		return samba_create(b, uid, req);
	case 2:
		return samba_delete(b, classes, uid, req);
	case 3:
		return pv_list(b, req);
	default:
		return pv_sync_req(b, req);
	}
}
