// SPDX-License-Identifier: GPL-2.0
/*
 * Declared volumes (Documentation/shadowd.rst, "Volumes"): an origin
 * block device, a store (a block device, or a regular file shadowd
 * attaches to a loop device), a chunk size and the overflow policy,
 * kept in <state_dir>/volumes.json and activated through libdevmapper
 * as the dm device NAME with one shadow-origin target.
 *
 *   volume.create      declare (and by default activate) a volume
 *   volume.activate    load the shadow-origin table
 *   volume.deactivate  remove it, refused while it is open; the loop
 *                      device of a file store goes with it
 *   volume.remove      forget an inactive volume
 *   volume.list        declared volumes and active undeclared origins
 *   volume.status      one volume in detail
 *
 * Each volume records its desired state: activate sets it, deactivate
 * clears it.  At start, the volumes that are "auto" and whose desired
 * state is active are activated (before the FSRVP sets are reconciled,
 * so that their copies are found again).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/loop.h>

#include <json-c/json.h>
#include <libdevmapper.h>

#include "proto.h"
#include "shadow-nl.h"
#include "shadowd.h"

#define VOLUME_VERSION	1
#define LOOP_MAJOR_NR	7

struct shadowd_volume {
	char name[128];
	char origin[PATH_MAX];
	dev_t origin_dev;
	char store[PATH_MAX];
	bool store_file;
	dev_t store_dev;		/* a block store's device number */
	uint32_t chunk_kib;
	bool invalidate;		/* overflow policy */
	uint32_t low_water, high_water;
	bool autostart;
	bool want_active;		/* the desired state */
};

/* ------------------------------------------------------------ helpers */

/* snprintf() that may truncate, on purpose. */
__attribute__((format(printf, 3, 4)))
static void sfmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void fmt_dev(dev_t d, char *buf, size_t len)
{
	snprintf(buf, len, "%u:%u", major(d), minor(d));
}

static int parse_dev(const char *s, dev_t *d)
{
	unsigned int ma, mi;
	char c;

	if (!s || sscanf(s, "%u:%u%c", &ma, &mi, &c) != 2)
		return -1;
	*d = makedev(ma, mi);
	return 0;
}

static struct shadowd_volume *vol_find(struct shadowd_backend *b,
				       const char *name)
{
	size_t i;

	for (i = 0; i < b->nvols; i++)
		if (!strcmp(b->vols[i].name, name))
			return &b->vols[i];
	return NULL;
}

/* A dm name shadowd may use: [A-Za-z0-9._+-], not "shadow-..." (the
 * daemon's own devices), not "." or "..". */
static bool name_ok(const char *n)
{
	size_t i, len = strlen(n);

	if (!len || len >= 128 || !strcmp(n, ".") || !strcmp(n, "..") ||
	    !strncmp(n, "shadow-", 7))
		return false;
	for (i = 0; i < len; i++) {
		char c = n[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '+' || c == '-'))
			return false;
	}
	return true;
}

/* The dm device's info; false when there is no such device. */
static bool dm_info_of(const char *name, struct dm_info *info)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	bool ok = false;

	memset(info, 0, sizeof(*info));
	if (!dmt)
		return false;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt) &&
	    dm_task_get_info(dmt, info) && info->exists)
		ok = true;
	dm_task_destroy(dmt);
	return ok;
}

/* The store device of an active shadow-origin table; 0 when unknown. */
static dev_t table_store_dev(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	uint64_t start, length;
	char *type = NULL, *params = NULL, o[32], s[32];
	dev_t d = 0;

	if (!dmt)
		return 0;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt)) {
		dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
		if (type && !strcmp(type, "shadow-origin") && params &&
		    sscanf(params, "%31s %31s", o, s) == 2 && parse_dev(s, &d))
			d = 0;
	}
	dm_task_destroy(dmt);
	return d;
}

/* The name of block device @d in /sys/dev/block ("loop3"), or -1. */
static int blk_name(dev_t d, char *buf, size_t len)
{
	char link[64], target[PATH_MAX], *slash;
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(d),
		 minor(d));
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return -1;
	target[n] = '\0';
	slash = strrchr(target, '/');
	sfmt(buf, len, "%s", slash ? slash + 1 : target);
	return 0;
}

/* The backing file of loop device @d, "" when none. */
static void loop_backing(dev_t d, char *buf, size_t len)
{
	char name[64], path[128];
	FILE *f;

	buf[0] = '\0';
	if (major(d) != LOOP_MAJOR_NR || blk_name(d, name, sizeof(name)))
		return;
	snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", name);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	else
		buf[0] = '\0';
	fclose(f);
}

/* The loop device shadowd attached for an active file store, or NULL. */
static const char *vol_loop(const struct shadowd_volume *v, dev_t store,
			    char *buf, size_t len)
{
	char back[PATH_MAX], name[64];

	if (!v || !v->store_file || !store)
		return NULL;
	loop_backing(store, back, sizeof(back));
	if (!back[0] || blk_name(store, name, sizeof(name)))
		return NULL;
	sfmt(buf, len, "/dev/%s", name);
	return buf;
}

/*
 * Attach @path to a free loop device, autoclear on: it goes away when
 * the last opener (the dm table) closes it.  The open loop device in
 * *@fd, its number in *@dev; 0 or -errno.
 */
static int loop_attach(const char *path, int *fd, dev_t *dev, char *err,
		       size_t errlen)
{
	struct loop_config cfg;
	struct stat st;
	int ctl, ffd, lfd = -1, n, tries, e = 0;
	char lpath[64];

	ffd = open(path, O_RDWR | O_CLOEXEC);
	if (ffd < 0) {
		e = errno;
		sfmt(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		e = errno;
		sfmt(err, errlen, "/dev/loop-control: %s", strerror(e));
		close(ffd);
		return -e;
	}
	for (tries = 0; tries < 10; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			e = errno;
			break;
		}
		snprintf(lpath, sizeof(lpath), "/dev/loop%d", n);
		lfd = open(lpath, O_RDWR | O_CLOEXEC);
		if (lfd < 0 && errno == ENOENT) {
			/* no devtmpfs node yet */
			mknod(lpath, S_IFBLK | 0660, makedev(LOOP_MAJOR_NR, n));
			lfd = open(lpath, O_RDWR | O_CLOEXEC);
		}
		if (lfd < 0) {
			e = errno;
			break;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (unsigned int)ffd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		sfmt((char *)cfg.info.lo_file_name,
		     sizeof(cfg.info.lo_file_name), "%s", path);
		if (!ioctl(lfd, LOOP_CONFIGURE, &cfg))
			break;
		e = errno;
		close(lfd);
		lfd = -1;
		if (e != EBUSY)		/* EBUSY: taken meanwhile */
			break;
	}
	close(ctl);
	close(ffd);
	if (lfd < 0) {
		sfmt(err, errlen, "cannot attach %s to a loop device: %s",
			 path, strerror(e ? e : EBUSY));
		return -(e ? e : EBUSY);
	}
	if (fstat(lfd, &st)) {
		e = errno;
		close(lfd);
		sfmt(err, errlen, "loop device: %s", strerror(e));
		return -e;
	}
	*fd = lfd;
	*dev = st.st_rdev;
	return 0;
}

/* Detach loop device @d when it still serves @path (autoclear normally
 * did it already when the dm table closed it); waits up to 2 s. */
static void loop_detach(dev_t d, const char *path)
{
	char back[PATH_MAX], name[64], lpath[80];
	int fd, i;

	loop_backing(d, back, sizeof(back));
	if (!back[0] || strcmp(back, path) || blk_name(d, name, sizeof(name)))
		return;
	snprintf(lpath, sizeof(lpath), "/dev/%s", name);
	fd = open(lpath, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (ioctl(fd, LOOP_CLR_FD, 0) && errno != ENXIO)
			log_warn("%s: LOOP_CLR_FD: %s", lpath, strerror(errno));
		close(fd);
	}
	for (i = 0; i < 20; i++) {
		loop_backing(d, back, sizeof(back));
		if (!back[0])
			return;
		usleep(100000);
	}
	log_warn("%s still serves %s", lpath, path);
}

/* ---------------------------------------------------------- kernel log */

/* /dev/kmsg, positioned at its end: what the kernel logs from now on. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The last "shadow-origin: REASON" the kernel logged since kmsg_open():
 * the constructor's ti->error, as device-mapper logs it. */
static bool kmsg_reason(int fd, char *buf, size_t len)
{
	char rec[2048], *msg, *p;
	bool found = false;
	ssize_t n;

	if (fd < 0)
		return false;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg[strcspn(msg, "\n")] = '\0';
		p = strstr(msg, "shadow-origin: ");
		if (!p)
			continue;
		snprintf(buf, len, "%s", p + 15);
		found = true;
	}
	return found;
}

/* ------------------------------------------------------------ devices */

/* Create the dm device @name with one shadow-origin target. */
static int dm_create_origin(const char *name, uint64_t sectors,
			    const char *params)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	int ok;

	if (!dmt)
		return -1;
	ok = dm_task_set_name(dmt, name) &&
	     dm_task_set_add_node(dmt, DM_ADD_NODE_ON_CREATE) &&
	     dm_task_add_target(dmt, 0, sectors, "shadow-origin", params) &&
	     dm_task_run(dmt);
	dm_task_destroy(dmt);
	dm_task_update_nodes();
	return ok ? 0 : -1;
}

/* One DM_DEVICE_REMOVE, no retry: the kernel refuses (EBUSY) an open
 * device as a whole, so it is either gone or untouched. */
static int dm_remove_once(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_REMOVE);
	char path[PATH_MAX];
	int ok;

	if (!dmt)
		return -1;
	ok = dm_task_set_name(dmt, name) && dm_task_run(dmt);
	dm_task_destroy(dmt);
	dm_task_update_nodes();
	if (!ok && dm_exists(name, NULL))
		return -1;
	if (dm_exists(name, NULL))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dm_dir(), name);
	unlink(path);
	return 0;
}

enum vstate { VS_ACTIVE, VS_INACTIVE, VS_MISSING, VS_CONFLICT };

static const char *const vstate_names[] = {
	[VS_ACTIVE] = "active", [VS_INACTIVE] = "inactive",
	[VS_MISSING] = "missing", [VS_CONFLICT] = "conflict",
};

static bool is_blk(const char *path, dev_t *d)
{
	struct stat st;

	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return false;
	if (d)
		*d = st.st_rdev;
	return true;
}

static bool store_present(const struct shadowd_volume *v)
{
	struct stat st;

	if (stat(v->store, &st))
		return false;
	return v->store_file ? S_ISREG(st.st_mode) : S_ISBLK(st.st_mode);
}

static enum vstate vol_state(const struct shadowd_volume *v, dev_t *dev)
{
	dev_t d = 0;

	if (dm_exists(v->name, &d)) {
		if (dev)
			*dev = d;
		return is_shadow_origin(d) ? VS_ACTIVE : VS_CONFLICT;
	}
	if (!is_blk(v->origin, NULL) || !store_present(v))
		return VS_MISSING;
	return VS_INACTIVE;
}

/*
 * Load the table of @v.  0, or a reply_err() error name with a message
 * in @err.
 */
static const char *vol_activate(struct shadowd_volume *v, char *err,
				size_t errlen)
{
	char params[256], reason[512], od[32], sd[32];
	uint64_t bytes = 0;
	int ofd, lfd = -1, kfd, n, r;
	dev_t odev, sdev = 0, d;
	struct stat st;

	if (dm_exists(v->name, &d)) {
		if (is_shadow_origin(d))
			return NULL;
		sfmt(err, errlen, "a device-mapper device %s exists and "
			 "is not a shadow-origin", v->name);
		return "exists";
	}
	if (!is_blk(v->origin, &odev)) {
		sfmt(err, errlen, "origin %s: %s", v->origin,
			 access(v->origin, F_OK) ? strerror(errno) :
			 "not a block device");
		return "not_found";
	}
	if (odev != v->origin_dev) {
		fmt_dev(v->origin_dev, od, sizeof(od));
		fmt_dev(odev, sd, sizeof(sd));
		log_warn("volume %s: origin %s is now %s, was %s", v->name,
			 v->origin, sd, od);
		v->origin_dev = odev;
	}
	if (stat(v->store, &st) ||
	    (v->store_file ? !S_ISREG(st.st_mode) : !S_ISBLK(st.st_mode))) {
		sfmt(err, errlen, "store %s: %s", v->store,
			 access(v->store, F_OK) ? strerror(errno) :
			 v->store_file ? "not a regular file" :
			 "not a block device");
		return "not_found";
	}
	if (v->store_file) {
		r = loop_attach(v->store, &lfd, &sdev, err, errlen);
		if (r)
			return "loop";
	} else {
		sdev = st.st_rdev;
	}
	if (sdev == odev) {
		sfmt(err, errlen, "the store is the origin");
		if (lfd >= 0)
			close(lfd);
		return "E_INVALIDARG";
	}
	ofd = open(v->origin, O_RDONLY | O_CLOEXEC);
	if (ofd < 0 || ioctl(ofd, BLKGETSIZE64, &bytes) || bytes < 512) {
		sfmt(err, errlen, "origin %s: cannot read its size: %s",
			 v->origin, strerror(errno));
		if (ofd >= 0)
			close(ofd);
		if (lfd >= 0)
			close(lfd);
		return "io";
	}
	close(ofd);

	fmt_dev(odev, od, sizeof(od));
	fmt_dev(sdev, sd, sizeof(sd));
	n = 4 + (v->low_water ? 2 : 0) + (v->high_water ? 2 : 0);
	r = snprintf(params, sizeof(params), "%s %s %d chunk_size %u overflow %s",
		     od, sd, n, v->chunk_kib * 2,
		     v->invalidate ? "invalidate" : "drop_oldest");
	if (v->low_water)
		r += snprintf(params + r, sizeof(params) - (size_t)r,
			      " low_water %u", v->low_water);
	if (v->high_water)
		snprintf(params + r, sizeof(params) - (size_t)r,
			 " high_water %u", v->high_water);

	kfd = kmsg_open();
	if (dm_create_origin(v->name, bytes / 512, params) ||
	    !dm_exists(v->name, &d)) {
		if (kmsg_reason(kfd, reason, sizeof(reason)))
			sfmt(err, errlen, "the kernel refused the table: %s",
				 reason);
		else
			sfmt(err, errlen, "the kernel refused the table: "
				 "see dmesg");
		log_err("volume %s: %s (table: 0 %llu shadow-origin %s)",
			v->name, err, (unsigned long long)(bytes / 512), params);
		if (kfd >= 0)
			close(kfd);
		if (lfd >= 0)
			close(lfd);	/* autoclear: the loop device goes */
		return "kernel";
	}
	if (kfd >= 0)
		close(kfd);
	if (lfd >= 0)
		close(lfd);		/* the table holds it now */
	ensure_node(v->name, d);
	log_info("volume %s activated: origin %s (%s), store %s (%s)",
		 v->name, v->origin, od, v->store, sd);
	return NULL;
}

/* Remove the table of @v; "busy" while it is open. */
static const char *vol_deactivate(struct shadowd_volume *v, char *err,
				  size_t errlen)
{
	struct dm_info info;
	dev_t store;

	if (!dm_info_of(v->name, &info))
		return NULL;
	if (!is_shadow_origin(makedev(info.major, info.minor))) {
		sfmt(err, errlen, "%s is not a shadow-origin device",
			 v->name);
		return "conflict";
	}
	if (info.open_count > 0) {
		sfmt(err, errlen, "%s is open (%d opener%s: a mounted "
			 "filesystem or active snapshot devices)", v->name,
			 info.open_count, info.open_count == 1 ? "" : "s");
		return "busy";
	}
	store = table_store_dev(v->name);
	if (dm_remove_once(v->name)) {
		sfmt(err, errlen, "%s could not be removed (in use?); it "
			 "is still active", v->name);
		return "busy";
	}
	if (v->store_file && store)
		loop_detach(store, v->store);
	log_info("volume %s deactivated", v->name);
	return NULL;
}

/* --------------------------------------------------------- persistence */

static json_object *decl_json(const struct shadowd_volume *v,
			      json_object *o)
{
	char d[32];

	add_str(o, "name", v->name);
	add_str(o, "origin", v->origin);
	fmt_dev(v->origin_dev, d, sizeof(d));
	add_str(o, "origin_dev", d);
	add_str(o, "store", v->store);
	add_str(o, "store_type", v->store_file ? "file" : "block");
	if (!v->store_file) {
		fmt_dev(v->store_dev, d, sizeof(d));
		add_str(o, "store_dev", d);
	}
	add_u64(o, "chunk_kib", v->chunk_kib);
	add_str(o, "overflow", v->invalidate ? "invalidate" : "drop_oldest");
	add_u64(o, "low_water", v->low_water);
	add_u64(o, "high_water", v->high_water);
	json_object_object_add(o, "auto", json_object_new_boolean(v->autostart));
	json_object_object_add(o, "want_active",
			       json_object_new_boolean(v->want_active));
	return o;
}

static int volumes_save(struct shadowd_backend *b)
{
	json_object *root = json_object_new_object();
	json_object *a = json_object_new_array();
	size_t i;

	json_object_object_add(root, "version",
			       json_object_new_int(VOLUME_VERSION));
	for (i = 0; i < b->nvols; i++)
		json_object_array_add(a, decl_json(&b->vols[i],
						   json_object_new_object()));
	json_object_object_add(root, "volumes", a);
	return shadowd_write_json(b->cfg->state_dir, SHADOWD_VOLUME_FILE, root,
				  "volumes");
}

static bool jbool(json_object *o, const char *k, bool def)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return def;
	return json_object_get_boolean(v);
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

static int vol_from_json(json_object *o, struct shadowd_volume *v)
{
	const char *name = arg_str(o, "name"), *origin = arg_str(o, "origin");
	const char *store = arg_str(o, "store"), *type = arg_str(o, "store_type");
	const char *ov = arg_str(o, "overflow");
	int64_t chunk = jint(o, "chunk_kib"), lw = jint(o, "low_water");
	int64_t hw = jint(o, "high_water");

	memset(v, 0, sizeof(*v));
	if (!name || !name_ok(name) || !origin || origin[0] != '/' ||
	    strlen(origin) >= sizeof(v->origin) || !store || store[0] != '/' ||
	    strlen(store) >= sizeof(v->store) || !type ||
	    (strcmp(type, "file") && strcmp(type, "block")) ||
	    parse_dev(arg_str(o, "origin_dev"), &v->origin_dev) ||
	    chunk < 4 || chunk > 1024 || (chunk & (chunk - 1)) ||
	    lw < 0 || lw > 100 || hw < 0 || hw > 100 || !ov ||
	    (strcmp(ov, "drop_oldest") && strcmp(ov, "invalidate")))
		return -1;
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->origin, sizeof(v->origin), "%s", origin);
	snprintf(v->store, sizeof(v->store), "%s", store);
	v->store_file = !strcmp(type, "file");
	if (!v->store_file && parse_dev(arg_str(o, "store_dev"), &v->store_dev))
		return -1;
	v->chunk_kib = (uint32_t)chunk;
	v->invalidate = !strcmp(ov, "invalidate");
	v->low_water = (uint32_t)lw;
	v->high_water = (uint32_t)hw;
	v->autostart = jbool(o, "auto", true);
	v->want_active = jbool(o, "want_active", true);
	return 0;
}

static struct shadowd_volume *vol_add(struct shadowd_backend *b)
{
	struct shadowd_volume *v = realloc(b->vols,
					   (b->nvols + 1) * sizeof(*v));

	if (!v)
		return NULL;
	b->vols = v;
	memset(&v[b->nvols], 0, sizeof(*v));
	return &v[b->nvols++];
}

static void vol_del(struct shadowd_backend *b, struct shadowd_volume *v)
{
	size_t i = (size_t)(v - b->vols);

	memmove(&b->vols[i], &b->vols[i + 1],
		(b->nvols - i - 1) * sizeof(*v));
	b->nvols--;
}

int shadowd_volumes_load(struct shadowd_backend *b)
{
	char path[PATH_MAX + 64], err[512];
	json_object *root, *a;
	bool dirty = false;
	const char *why;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", b->cfg->state_dir,
		 SHADOWD_VOLUME_FILE);
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	root = json_object_from_file(path);
	if (!root || !json_object_object_get_ex(root, "volumes", &a) ||
	    !json_object_is_type(a, json_type_array)) {
		log_err("volumes: %s: unreadable; move it away to start "
			"without it", path);
		json_object_put(root);
		return -1;
	}
	for (i = 0; i < json_object_array_length(a); i++) {
		struct shadowd_volume v, *nv;

		if (vol_from_json(json_object_array_get_idx(a, i), &v) ||
		    vol_find(b, v.name)) {
			log_err("volumes: %s: entry %zu is bad, skipped",
				path, i);
			continue;
		}
		nv = vol_add(b);
		if (!nv) {
			json_object_put(root);
			log_err("volumes: out of memory");
			return -1;
		}
		*nv = v;
	}
	json_object_put(root);
	log_info("volumes: %zu declared", b->nvols);

	for (i = 0; i < b->nvols; i++) {
		struct shadowd_volume *v = &b->vols[i];
		dev_t was = v->origin_dev;

		if (!v->autostart || !v->want_active ||
		    vol_state(v, NULL) == VS_ACTIVE)
			continue;
		why = vol_activate(v, err, sizeof(err));
		if (why)
			log_err("volume %s: not activated at start: %s",
				v->name, err);
		if (v->origin_dev != was)
			dirty = true;
	}
	if (dirty)
		volumes_save(b);
	return 0;
}

void shadowd_volumes_free(struct shadowd_backend *b)
{
	free(b->vols);
	b->vols = NULL;
	b->nvols = 0;
}

/* ----------------------------------------------------------- requests */

/* The kernel's view of active origin @d into @o. */
static void origin_json(struct shadowd_backend *b, dev_t d, json_object *o,
			dev_t *store)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_dev sd = { major(d), minor(d) };
	struct shadow_origin og;
	const char *s;
	char buf[32];

	if (!nl || shadow_nl_origin_get(nl, sd, &og, &err)) {
		add_str(o, "origin_error", nl ? err.msg :
			"dm-shadow netlink family not available");
		return;
	}
	add_u64(o, "sectors", og.sectors);
	add_u64(o, "chunk_sectors", og.chunk_sectors);
	add_u64(o, "store_used", og.store_used);
	add_u64(o, "store_total", og.store_total);
	add_u64(o, "meta_used", og.meta_used);
	add_u64(o, "meta_total", og.meta_total);
	add_u64(o, "snapshots", og.nr_snaps);
	add_u64(o, "epoch", og.epoch);
	s = shadow_state_name(og.state);
	add_str(o, "state", s ? s : "?");
	if (og.fail_reason[0])
		add_str(o, "fail_reason", og.fail_reason);
	s = shadow_overflow_name(og.overflow);
	add_str(o, "origin_overflow", s ? s : "?");
	add_u64(o, "origin_low_water", og.low_water);
	add_u64(o, "origin_high_water", og.high_water);
	add_str(o, "data_device", shadow_format_dev(og.data_dev, buf,
						    sizeof(buf)));
	add_str(o, "store_device", shadow_format_dev(og.store_dev, buf,
						     sizeof(buf)));
	if (store)
		*store = makedev(og.store_dev.major, og.store_dev.minor);
}

/* One declared volume, with its state and, when active, the kernel's. */
static json_object *vol_json(struct shadowd_backend *b,
			     const struct shadowd_volume *v, bool detail)
{
	json_object *o = json_object_new_object();
	enum vstate st;
	dev_t d = 0, store = 0;
	char buf[PATH_MAX];

	st = vol_state(v, &d);
	decl_json(v, o);
	json_object_object_add(o, "declared", json_object_new_boolean(1));
	add_str(o, "volume_state", vstate_names[st]);
	if (st != VS_ACTIVE && st != VS_CONFLICT)
		return o;
	fmt_dev(d, buf, sizeof(buf));
	add_str(o, "device", buf);
	if (st == VS_CONFLICT)
		return o;
	snprintf(buf, sizeof(buf), "%s/%s", dm_dir(), v->name);
	add_str(o, "dm_path", buf);
	origin_json(b, d, o, &store);
	if (vol_loop(v, store, buf, sizeof(buf)))
		add_str(o, "loop_device", buf);
	if (detail) {
		struct dm_info info;

		if (dm_info_of(v->name, &info))
			add_u64(o, "open_count", (uint64_t)info.open_count);
	}
	return o;
}

/* An active origin that is not declared, from the kernel's listing. */
static json_object *undeclared_json(const struct shadow_origin *og)
{
	json_object *x = json_object_new_object();
	const char *s;
	char dev[32];

	add_str(x, "device", shadow_format_dev(og->dev, dev, sizeof(dev)));
	add_str(x, "name", og->name);
	add_u64(x, "sectors", og->sectors);
	add_u64(x, "chunk_sectors", og->chunk_sectors);
	add_u64(x, "store_used", og->store_used);
	add_u64(x, "store_total", og->store_total);
	add_u64(x, "snapshots", og->nr_snaps);
	s = shadow_state_name(og->state);
	add_str(x, "state", s ? s : "?");
	json_object_object_add(x, "declared", json_object_new_boolean(0));
	add_str(x, "volume_state", "active");
	add_str(x, "origin", shadow_format_dev(og->data_dev, dev, sizeof(dev)));
	add_str(x, "store", shadow_format_dev(og->store_dev, dev, sizeof(dev)));
	add_u64(x, "chunk_kib", og->chunk_sectors / 2);
	s = shadow_overflow_name(og->overflow);
	add_str(x, "overflow", s ? s : "?");
	add_u64(x, "low_water", og->low_water);
	add_u64(x, "high_water", og->high_water);
	return x;
}

static json_object *do_list(struct shadowd_backend *b)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_origin *og = NULL;
	json_object *o, *a;
	size_t n = 0, i, j;

	if (!nl)
		return reply_err("netlink", "dm-shadow netlink family not available");
	if (shadow_nl_origin_list(nl, &og, &n, &err))
		return reply_nl(&err);
	a = json_object_new_array();
	for (i = 0; i < b->nvols; i++)
		json_object_array_add(a, vol_json(b, &b->vols[i], false));
	for (j = 0; j < n; j++) {
		bool declared = false;

		for (i = 0; i < b->nvols; i++) {
			dev_t d;

			if (dm_exists(b->vols[i].name, &d) &&
			    major(d) == og[j].dev.major &&
			    minor(d) == og[j].dev.minor)
				declared = true;
		}
		if (!declared)
			json_object_array_add(a, undeclared_json(&og[j]));
	}
	free(og);
	o = reply_ok();
	json_object_object_add(o, "volumes", a);
	return o;
}

static json_object *do_status(struct shadowd_backend *b, json_object *req)
{
	const char *name = arg_str(req, "name");
	struct shadowd_volume *v;
	json_object *o, *x;
	struct dm_info info;
	struct shadow_origin og;
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl;
	struct shadow_dev sd;

	if (!name)
		return BAD_ARG("name");
	v = vol_find(b, name);
	o = reply_ok();
	if (v) {
		json_object_object_add(o, "volume", vol_json(b, v, true));
		return o;
	}
	/* an active origin that is not declared */
	nl = shadowd_nl(b);
	if (!dm_info_of(name, &info) ||
	    !is_shadow_origin(makedev(info.major, info.minor)) || !nl) {
		json_object_put(o);
		return reply_err("not_found", "no volume %s", name);
	}
	sd.major = info.major;
	sd.minor = info.minor;
	if (shadow_nl_origin_get(nl, sd, &og, &err)) {
		json_object_put(o);
		return reply_nl(&err);
	}
	x = undeclared_json(&og);
	add_u64(x, "open_count", (uint64_t)info.open_count);
	json_object_object_add(o, "volume", x);
	return o;
}

/* Is @path (a regular file) the store file of @w? */
static bool same_file(const struct shadowd_volume *w, const struct stat *st)
{
	struct stat ws;

	return w->store_file && !stat(w->store, &ws) &&
	       ws.st_dev == st->st_dev && ws.st_ino == st->st_ino;
}

static json_object *do_create(struct shadowd_backend *b, uid_t uid,
			      json_object *req)
{
	const char *name = arg_str(req, "name"), *origin = arg_str(req, "origin");
	const char *store = arg_str(req, "store"), *ov = arg_str(req, "overflow");
	char spath[PATH_MAX], dir[PATH_MAX], rp[PATH_MAX], err[512], *slash;
	struct shadowd_volume nv, *v;
	uint32_t chunk, lw, hw;
	uint64_t size;
	bool activate, autostart, created = false;
	struct stat ost, sst;
	const char *why;
	size_t i;
	int fd;

	if (!name || !name_ok(name))
		return reply_err("E_INVALIDARG", "bad or missing \"name\": a "
				 "device-mapper name of letters, digits and "
				 "._+-, not shadow-...");
	if (!origin || origin[0] != '/' || strlen(origin) >= PATH_MAX)
		return reply_err("E_INVALIDARG", "bad or missing \"origin\": "
				 "an absolute path");
	if (!store || store[0] != '/' || strlen(store) >= PATH_MAX)
		return reply_err("E_INVALIDARG", "bad or missing \"store\": "
				 "an absolute path");
	if (arg_u32(req, "chunk_kib", 64, &chunk) || chunk < 4 ||
	    chunk > 1024 || (chunk & (chunk - 1)))
		return reply_err("E_INVALIDARG", "\"chunk_kib\": a power of "
				 "two from 4 to 1024");
	if (ov && strcmp(ov, "drop_oldest") && strcmp(ov, "invalidate"))
		return reply_err("E_INVALIDARG", "\"overflow\": drop_oldest "
				 "or invalidate");
	if (arg_u32(req, "low_water", 0, &lw) || lw > 100)
		return BAD_ARG("low_water");
	if (arg_u32(req, "high_water", 0, &hw) || hw > 100)
		return BAD_ARG("high_water");
	if (lw && hw && lw > hw)
		return reply_err("E_INVALIDARG", "low_water is above high_water");
	if (arg_bool(req, "activate", true, &activate))
		return BAD_ARG("activate");
	if (arg_bool(req, "auto", true, &autostart))
		return BAD_ARG("auto");
	if (arg_u64(req, "store_size", 0, &size))
		return BAD_ARG("store_size");

	if (vol_find(b, name))
		return reply_err("exists", "volume %s is already declared", name);
	if (dm_exists(name, NULL))
		return reply_err("exists", "a device-mapper device %s exists",
				 name);

	if (stat(origin, &ost))
		return reply_err("not_found", "origin %s: %s", origin,
				 strerror(errno));
	if (!S_ISBLK(ost.st_mode))
		return reply_err("E_INVALIDARG", "origin %s is not a block "
				 "device", origin);

	memset(&nv, 0, sizeof(nv));
	if (stat(store, &sst)) {
		if (errno != ENOENT || !size)
			return reply_err("not_found", "store %s: %s%s", store,
					 strerror(errno), errno == ENOENT ?
					 " (give store_size to create it)" : "");
		/* a new file: the real path of its directory */
		snprintf(dir, sizeof(dir), "%s", store);
		slash = strrchr(dir, '/');
		*slash = '\0';
		if (!realpath(dir[0] ? dir : "/", rp))
			return reply_err("not_found", "%s: %s", dir,
					 strerror(errno));
		if (snprintf(spath, sizeof(spath), "%s/%s",
			     strcmp(rp, "/") ? rp : "", slash + 1) >=
		    (int)sizeof(spath))
			return BAD_ARG("store");
		if (size < 1 << 20 || size % 4096)
			return reply_err("E_INVALIDARG", "\"store_size\": a "
					 "multiple of 4 KiB, at least 1 MiB");
		nv.store_file = true;
	} else if (size) {
		return reply_err("exists", "store %s exists: store_size is "
				 "only for a new file", store);
	} else if (S_ISBLK(sst.st_mode)) {
		if (sst.st_rdev == ost.st_rdev)
			return reply_err("E_INVALIDARG", "the store is the "
					 "origin");
		nv.store_dev = sst.st_rdev;
		snprintf(spath, sizeof(spath), "%s", store);
	} else if (S_ISREG(sst.st_mode)) {
		if (!realpath(store, spath))
			return reply_err("not_found", "%s: %s", store,
					 strerror(errno));
		if (sst.st_dev == ost.st_rdev)
			return reply_err("E_INVALIDARG", "the store file is on "
					 "the origin");
		nv.store_file = true;
	} else {
		return reply_err("E_INVALIDARG", "store %s is neither a block "
				 "device nor a regular file", store);
	}
	for (i = 0; i < b->nvols; i++) {
		const struct shadowd_volume *w = &b->vols[i];

		if (w->origin_dev == ost.st_rdev ||
		    (!w->store_file && w->store_dev == ost.st_rdev))
			return reply_err("in_use", "origin %s is used by volume "
					 "%s", origin, w->name);
		if ((!nv.store_file && (nv.store_dev == w->origin_dev ||
					(!w->store_file &&
					 nv.store_dev == w->store_dev))) ||
		    (nv.store_file && (!strcmp(spath, w->store) ||
				       (!size && same_file(w, &sst)))))
			return reply_err("in_use", "store %s is used by volume "
					 "%s", store, w->name);
	}

	snprintf(nv.name, sizeof(nv.name), "%s", name);
	snprintf(nv.origin, sizeof(nv.origin), "%s", origin);
	snprintf(nv.store, sizeof(nv.store), "%s", spath);
	nv.origin_dev = ost.st_rdev;
	nv.chunk_kib = chunk;
	nv.invalidate = ov && !strcmp(ov, "invalidate");
	nv.low_water = lw;
	nv.high_water = hw;
	nv.autostart = autostart;
	nv.want_active = activate;

	if (size) {
		fd = open(spath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return reply_err("io", "%s: %s", spath, strerror(errno));
		if (ftruncate(fd, (off_t)size) || fsync(fd)) {
			int e = errno;

			close(fd);
			unlink(spath);
			return reply_err("io", "%s: %s", spath, strerror(e));
		}
		close(fd);
		created = true;
	}
	v = vol_add(b);
	if (!v) {
		if (created)
			unlink(spath);
		return reply_err("io", "out of memory");
	}
	*v = nv;
	if (activate) {
		why = vol_activate(v, err, sizeof(err));
		if (why) {
			vol_del(b, v);
			if (created)
				unlink(spath);
			return reply_err(why, "%s", err);
		}
	}
	if (volumes_save(b)) {
		v = vol_find(b, name);
		if (activate)
			vol_deactivate(v, err, sizeof(err));
		vol_del(b, v);
		if (created)
			unlink(spath);
		return reply_err("io", "the volume file cannot be written");
	}
	log_info("volume %s declared by uid %u: origin %s, store %s%s", name,
		 uid, origin, spath, created ? " (new file)" : "");
	v = vol_find(b, name);
	{
		json_object *o = reply_ok();

		json_object_object_add(o, "volume", vol_json(b, v, true));
		return o;
	}
}

static json_object *do_change(struct shadowd_backend *b, uid_t uid,
			      const char *op, json_object *req)
{
	const char *name = arg_str(req, "name"), *why = NULL;
	struct shadowd_volume *v;
	bool want;
	char err[512];
	dev_t was;

	if (!name)
		return BAD_ARG("name");
	v = vol_find(b, name);
	if (!v)
		return reply_err("not_found", "no declared volume %s", name);
	if (!strcmp(op, "remove")) {
		if (vol_state(v, NULL) == VS_ACTIVE)
			return reply_err("active", "volume %s is active: "
					 "deactivate it first", name);
		vol_del(b, v);
		if (volumes_save(b))
			log_err("volume %s: forgotten, but the volume file "
				"cannot be written", name);
		log_info("volume %s removed by uid %u", name, uid);
		return reply_ok();
	}
	was = v->origin_dev;
	if (!strcmp(op, "activate")) {
		why = vol_activate(v, err, sizeof(err));
		want = true;
	} else {
		why = vol_deactivate(v, err, sizeof(err));
		want = false;
	}
	if (why) {
		if (v->origin_dev != was)
			volumes_save(b);
		return reply_err(why, "%s", err);
	}
	if (v->want_active != want || v->origin_dev != was) {
		v->want_active = want;
		if (volumes_save(b))
			return reply_err("io", "volume %s %sd, but the volume "
					 "file cannot be written", name, op);
	}
	log_info("volume %s %sd by uid %u", name, op, uid);
	return reply_ok();
}

json_object *shadowd_volume_request(struct shadowd_backend *b,
				    unsigned int classes, uid_t uid,
				    const char *op, json_object *req)
{
	bool query = !strcmp(op, "list") || !strcmp(op, "status");

	if (!query && strcmp(op, "create") && strcmp(op, "activate") &&
	    strcmp(op, "deactivate") && strcmp(op, "remove"))
		return reply_err("E_INVALIDARG", "unknown request \"volume.%s\"",
				 op);
	if (!(classes & (query ? SHADOWD_QUERY : SHADOWD_ADMIN)))
		return reply_err("E_ACCESSDENIED", "not permitted");
	if (!strcmp(op, "list"))
		return do_list(b);
	if (!strcmp(op, "status"))
		return do_status(b, req);
	if (!strcmp(op, "create"))
		return do_create(b, uid, req);
	return do_change(b, uid, op, req);
}
