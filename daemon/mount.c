// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot.mount and snapshot.unmount: a snapshot mounted where the
 * caller asks (Documentation/shadowd.rst, "Mounting a snapshot").
 *
 *   mount     snapshot ID of origin VOL activated as the "shadow" device
 *             shadow-mnt-VOL-ID (read-only unless "writable", which only
 *             a writable snapshot takes) and mounted nosuid,nodev on PATH
 *             with the options of its filesystem (pv.c's
 *             shadowd_snap_fs_mount()).  PATH is made when missing; one
 *             that is not an empty directory, or is a mount point, is
 *             refused.
 *   unmount   by VOL and ID or by PATH: every mount of the device goes,
 *             then the device.  PATH itself stays.
 *   state     none of its own: the device names and tables and the mount
 *             table are the state.  shadowd_pv_release() releases these
 *             devices too, so that snapshot.delete and pruning can delete
 *             a mounted snapshot.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libdevmapper.h>
#include <libmount.h>

#include "proto.h"
#include "shadow-nl.h"
#include "shadowd.h"

static json_object *not_found_or_nl(const struct shadow_nl_err *err)
{
	if (err->code == -ENOENT || err->code == -ENODEV)
		return reply_err("not_found", "%s", err->msg[0] ? err->msg :
				 strerror(-err->code));
	return reply_nl(err);
}

/* An origin argument: NULL, or the reply for a bad or unknown one. */
static json_object *volume_arg(json_object *req, struct shadow_dev *d)
{
	struct shadow_nl_err err = { 0 };

	if (arg_volume(req, "volume", d, &err))
		return err.code == -EINVAL ? BAD_ARG("volume") :
			not_found_or_nl(&err);
	return NULL;
}

/* An absolute path without "." or ".." components; 0 or -1. */
static int path_check(const char *p)
{
	const char *s = p;

	if (!p || p[0] != '/' || strlen(p) >= PATH_MAX - 1)
		return -1;
	while (*s) {
		size_t len;

		while (*s == '/')
			s++;
		len = strcspn(s, "/");
		if ((len == 1 && s[0] == '.') ||
		    (len == 2 && !strncmp(s, "..", 2)))
			return -1;
		s += len;
	}
	return 0;
}

/* Is @path the target of a mount (any mount, bind mounts too)? */
static bool mounted_on(const char *path)
{
	struct libmnt_table *tb = mnt_new_table();
	bool r = false;

	if (tb && !mnt_table_parse_mtab(tb, NULL))
		r = mnt_table_find_target(tb, path, MNT_ITER_BACKWARD) != NULL;
	mnt_unref_table(tb);
	return r || is_mountpoint(path);
}

/* 1 when directory @path is empty, 0 when not, -1 when unreadable. */
static int dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int r = 1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

static void mnt_dev_name(struct shadow_dev d, const char *vol, uint32_t id,
			 char *buf, size_t len)
{
	int n = snprintf(buf, len, SHADOWD_MNT_PREFIX "%s-%u", vol, id);

	if (n < 0 || (size_t)n >= len || strchr(vol, ':'))
		snprintf(buf, len, SHADOWD_MNT_PREFIX "%u_%u-%u", d.major,
			 d.minor, id);
}

static json_object *do_mount(struct shadowd_backend *b, uid_t uid,
			     json_object *req)
{
	const char *path = arg_str(req, "path");
	struct shadow_nl_err err = { 0 };
	char vol[SHADOW_NL_NAMELEN], dm[SHADOW_NL_NAMELEN], devpath[PATH_MAX];
	char params[96], cur[PATH_MAX], dev[32];
	struct shadow_snap s;
	struct shadow_dev d;
	struct shadow_nl *nl;
	json_object *o;
	bool rw = false, made = false;
	uint64_t sectors;
	struct stat st;
	uint32_t id;
	dev_t devno;

	o = volume_arg(req, &d);
	if (o)
		return o;
	if (arg_u32(req, "id", 0, &id) || !id)
		return BAD_ARG("id");
	if (path_check(path))
		return BAD_ARG("path");
	if (arg_bool(req, "writable", false, &rw))
		return BAD_ARG("writable");
	nl = shadowd_nl(b);
	if (!nl)
		return reply_err("netlink",
				 "dm-shadow netlink family not available");
	if (shadow_dm_name(d, vol, sizeof(vol)))
		shadow_format_dev(d, vol, sizeof(vol));
	if (shadow_nl_snap_get(nl, d, id, &s, &err))
		return not_found_or_nl(&err);
	if (s.invalid)
		return reply_err("invalid", "snapshot %u of %s is invalid", id,
				 vol);
	if (rw && s.readonly)
		return reply_err("readonly", "snapshot %u of %s is read-only: "
				 "it cannot be mounted writable", id, vol);
	mnt_dev_name(d, vol, id, dm, sizeof(dm));
	if (dm_exists(dm, &devno))
		return reply_err("busy", "snapshot %u of %s is mounted already "
				 "(%s on %s)", id, vol, dm,
				 shadowd_dev_mount(devno, cur, sizeof(cur)) ?
				 cur : "nothing");

	if (!stat(path, &st)) {
		if (!S_ISDIR(st.st_mode))
			return reply_err("not_dir", "%s is not a directory",
					 path);
		if (mounted_on(path))
			return reply_err("busy", "%s is a mount point", path);
		if (dir_empty(path) != 1)
			return reply_err("not_empty", "%s is not an empty "
					 "directory", path);
	} else if (errno != ENOENT || mkdirs(path, 0755)) {
		return reply_err("E_FAIL", "%s: %s", path, strerror(errno));
	} else {
		made = true;
	}

	sectors = origin_sectors(d.major, d.minor);
	if (!sectors) {
		o = reply_err("E_FAIL", "%s is not an active shadow-origin",
			      vol);
		goto fail_dir;
	}
	snprintf(params, sizeof(params), "%u:%u %u %s", d.major, d.minor, id,
		 rw ? "rw" : "ro");
	if (dm_table(DM_DEVICE_CREATE, dm, sectors, params, !rw) ||
	    !dm_exists(dm, &devno)) {
		log_err("snapshot.mount: cannot activate %s (%s)", dm, params);
		o = reply_err("E_FAIL", "cannot activate %s (see shadowd's "
			      "log)", dm);
		goto fail_dir;
	}
	snprintf(devpath, sizeof(devpath), "%s/%s", dm_dir(), dm);
	if (ensure_node(dm, devno)) {
		o = reply_err("E_FAIL", "cannot make %s", devpath);
		goto fail_dev;
	}
	if (shadowd_snap_fs_mount(devpath, path, rw, false)) {
		o = reply_err("E_FAIL", "cannot mount snapshot %u of %s on "
			      "%s: %s", id, vol, path, strerror(errno));
		goto fail_dev;
	}
	log_info("snapshot.mount by uid %u: %s snapshot %u (%s) mounted on "
		 "%s%s", uid, vol, id, dm, path, rw ? " read-write" : "");
	o = reply_ok();
	add_str(o, "volume", vol);
	add_str(o, "device", shadow_format_dev(d, dev, sizeof(dev)));
	add_u64(o, "id", id);
	add_str(o, "path", path);
	add_str(o, "dm_name", dm);
	json_object_object_add(o, "writable", json_object_new_boolean(rw));
	return o;

fail_dev:
	dm_remove_dev(dm);
fail_dir:
	if (made)
		rmdir(path);
	return o;
}

/* The origin and snapshot of the shadow-mnt- device mounted on @path;
 * NULL, or the reply for none. */
static json_object *path_snapshot(const char *path, struct shadow_dev *d,
				  uint32_t *id)
{
	struct libmnt_table *tb = mnt_new_table();
	struct libmnt_fs *fs = NULL;
	char real[PATH_MAX], dm[SHADOW_NL_NAMELEN];
	struct shadow_dev src = { 0 };
	dev_t devno = 0;

	if (!realpath(path, real)) {
		mnt_unref_table(tb);
		return reply_err("not_found", "%s: %s", path, strerror(errno));
	}
	if (tb && !mnt_table_parse_mtab(tb, NULL))
		fs = mnt_table_find_target(tb, real, MNT_ITER_BACKWARD);
	if (fs)
		devno = mnt_fs_get_devno(fs);
	mnt_unref_table(tb);
	src.major = major(devno);
	src.minor = minor(devno);
	if (!devno || shadow_dm_name(src, dm, sizeof(dm)) ||
	    strncmp(dm, SHADOWD_MNT_PREFIX, strlen(SHADOWD_MNT_PREFIX)) ||
	    shadowd_snapdev_table(dm, &d->major, &d->minor, id))
		return reply_err("not_found", "no snapshot is mounted on %s "
				 "by snapshot.mount", path);
	return NULL;
}

static json_object *do_unmount(struct shadowd_backend *b, uid_t uid,
			       json_object *req)
{
	const char *path = arg_str(req, "path");
	char vol[SHADOW_NL_NAMELEN], dev[32];
	struct shadow_dev d, pd;
	json_object *o;
	uint32_t id = 0, pid;
	int r;

	if (path && path_check(path))
		return BAD_ARG("path");
	if (arg_str(req, "volume")) {
		o = volume_arg(req, &d);
		if (o)
			return o;
		if (arg_u32(req, "id", 0, &id) || (!id && !path))
			return BAD_ARG("id");
	} else if (!path) {
		return BAD_ARG("volume");
	}
	if (path) {
		o = path_snapshot(path, &pd, &pid);
		if (o)
			return o;
		if (arg_str(req, "volume") &&
		    (pd.major != d.major || pd.minor != d.minor ||
		     (id && id != pid)))
			return reply_err("not_found", "%s shows snapshot %u of "
					 "%u:%u, not that one", path, pid,
					 pd.major, pd.minor);
		d = pd;
		id = pid;
	}
	if (shadow_dm_name(d, vol, sizeof(vol)))
		shadow_format_dev(d, vol, sizeof(vol));
	r = shadowd_snapdev_release(SHADOWD_MNT_PREFIX, d.major, d.minor, id,
				    "snapshot.unmount");
	if (r < 0)
		return reply_err("busy", "cannot unmount snapshot %u of %s or "
				 "remove its device (in use?)", id, vol);
	if (!r)
		return reply_err("not_found", "snapshot %u of %s is not mounted "
				 "by snapshot.mount", id, vol);
	log_info("snapshot.unmount by uid %u: %s snapshot %u", uid, vol, id);
	o = reply_ok();
	add_str(o, "volume", vol);
	add_str(o, "device", shadow_format_dev(d, dev, sizeof(dev)));
	add_u64(o, "id", id);
	return o;
}

json_object *shadowd_mount_request(struct shadowd_backend *b,
				   unsigned int classes, uid_t uid,
				   const char *op, json_object *req)
{
	/*
	 * Admin: shadowd mounts as root wherever the caller says (making the
	 * directory); that is not for every member of a snapshot group.
	 */
	if (!(classes & SHADOWD_ADMIN))
		return reply_err("E_ACCESSDENIED", "not permitted");
	if (!strcmp(op, "snapshot.mount"))
		return do_mount(b, uid, req);
	if (!strcmp(op, "snapshot.unmount"))
		return do_unmount(b, uid, req);
	return reply_err("E_INVALIDARG", "unknown request \"%s\"", op);
}
