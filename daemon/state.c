// SPDX-License-Identifier: GPL-2.0
/*
 * The FSRVP sets across restarts (MS-FSRVP 3.1.3, 3.1.4: "persist all
 * state"): <state_dir>/fsrvp-sets.json, rewritten after every change
 * (temporary file, fsync, rename, fsync of the directory), so that it is
 * always either the old or the new state, whole.
 *
 * At start the sets are read back and reconciled with what really
 * exists, so that a daemon killed at any point (kill -9, power cut)
 * starts again into a consistent state:
 *
 *   Started, Added,      the set was being made: aborted.  Snapshots a
 *   CreationInProgress   commit in flight made (labelled
 *                        "fsrvp-<first 8 digits of the set GUID>") are
 *                        deleted; the set is forgotten.
 *   Committed            what a partial Expose left (mounts, devices,
 *                        directories) is removed; copies whose snapshot
 *                        is gone are dropped; the set is kept.
 *   Exposed, Recovered   copies whose snapshot is gone are unexposed and
 *                        dropped; the others are exposed again (device,
 *                        mount, hook: what exists is kept); a copy that
 *                        cannot be is unexposed and deleted.
 *
 * A set left without copies is forgotten.  Restored sets that are not
 * Recovered run the message sequence timer again (fsrvp_restore_set).
 * A set whose volume is not an active origin any more counts as gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fsrvp.h"
#include "proto.h"
#include "shadow-nl.h"
#include "shadowd.h"

#define STATE_VERSION 1

/* ---------------------------------------------------------------- save */

static json_object *guid_json(const uuid_t id)
{
	char s[UUID_STR_LEN];

	uuid_unparse_lower(id, s);
	return json_object_new_string(s);
}

/* The dm name of volume "MAJ:MIN"; -1 when it has none. */
static int volume_name(const char *volume, char *buf, size_t len)
{
	struct shadow_dev d;

	if (shadow_spec_classify(volume, &d) != SHADOW_SPEC_DEVNO)
		return -1;
	return shadow_dm_name(d, buf, len) ? -1 : 0;
}

static json_object *sets_json(const struct shadowd_backend *b,
			      const struct fsrvp *f)
{
	json_object *root = json_object_new_object();
	json_object *a = json_object_new_array();
	size_t i, j;

	json_object_object_add(root, "version",
			       json_object_new_int(STATE_VERSION));
	for (i = 0; i < fsrvp_set_count(f); i++) {
		const struct fsrvp_set *s = fsrvp_set_at(f, i);
		json_object *o = json_object_new_object();
		json_object *cs = json_object_new_array();
		char name[SHADOW_NL_NAMELEN];

		json_object_object_add(o, "id", guid_json(s->id));
		json_object_object_add(o, "client_id", guid_json(s->client_id));
		json_object_object_add(o, "status", json_object_new_string(
					       fsrvp_status_name(s->status)));
		json_object_object_add(o, "context",
				       json_object_new_int64(s->context));
		for (j = 0; j < s->n; j++) {
			const struct fsrvp_copy *c = &s->copies[j];
			json_object *x = json_object_new_object();

			json_object_object_add(x, "id", guid_json(c->id));
			json_object_object_add(x, "volume",
					       json_object_new_string(c->volume));
			if (!volume_name(c->volume, name, sizeof(name)))
				json_object_object_add(x, "volume_name",
					json_object_new_string(name));
			json_object_object_add(x, "ctime_ns",
					       json_object_new_int64(c->ctime_ns));
			json_object_object_add(x, "share",
					       json_object_new_string(c->share));
			json_object_object_add(x, "exposed_name",
				json_object_new_string(c->exposed_name));
			json_object_object_add(x, "exposed",
					       json_object_new_boolean(c->exposed));
			json_object_object_add(x, "snap_id",
					       json_object_new_int64(c->snap_id));
			json_object_object_add(x, "writable",
					       json_object_new_boolean(c->writable));
			if (shadowd_copy_gone(b, c->id)) {
				json_object_object_add(x, "gone",
					json_object_new_boolean(1));
				json_object_object_add(x, "gone_reason",
					json_object_new_string(
						shadowd_copy_gone(b, c->id)));
			}
			json_object_array_add(cs, x);
		}
		json_object_object_add(o, "copies", cs);
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "sets", a);
	return root;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/**
 * shadowd_write_file() - replace <dir>/<name> with @text, crash-safely
 * @dir: the state directory, created if missing
 * @name: the file name
 * @text: the new content; a newline is added
 * @what: for log messages
 *
 * Writes a temporary file, fsyncs it, renames it over the old one and
 * fsyncs the directory: after a crash the file is either the old or the
 * new one, whole.
 *
 * Return: 0, or -1 after logging why.
 */
int shadowd_write_file(const char *dir, const char *name, const char *text,
		       const char *what)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 64];
	int fd, dfd;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		log_err("%s: mkdir %s: %s", what, dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, text, strlen(text)) ||
	    write_all(fd, "\n", 1) || fsync(fd)) {
		log_err("%s: %s: %s", what, tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) || rename(tmp, path)) {
		log_err("%s: %s: %s", what, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd))
		log_warn("%s: fsync %s: %s", what, dir, strerror(errno));
	if (dfd >= 0)
		close(dfd);
	return 0;
}

/**
 * shadowd_write_json() - shadowd_write_file() of a JSON document
 * @dir: the state directory
 * @name: the file name
 * @root: the document, released here
 * @what: for log messages
 *
 * Return: 0, or -1 after logging why.
 */
int shadowd_write_json(const char *dir, const char *name, json_object *root,
		       const char *what)
{
	int r;

	r = shadowd_write_file(dir, name,
			       json_object_to_json_string_ext(root,
						JSON_C_TO_STRING_PRETTY),
			       what);
	json_object_put(root);
	return r;
}

int shadowd_state_save(struct shadowd_backend *b)
{
	return shadowd_write_json(b->cfg->state_dir, SHADOWD_STATE_FILE,
				  sets_json(b, b->f), "state");
}

/* ---------------------------------------------------------------- load */

static int jguid(json_object *o, const char *k, uuid_t id)
{
	const char *s = arg_str(o, k);

	return s && !uuid_parse(s, id) ? 0 : -1;
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ?
		json_object_get_int64(v) : 0;
}

static bool jbool(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

/*
 * The volume of a saved copy as it is now.  Device numbers are not stable
 * across reboots, so the dm name saved beside the number ("volume_name")
 * decides: the copy follows its volume to its new number, and when no
 * device has that name any more the volume is "" (not an origin: the
 * copy is gone), never the old number, which may now be another volume's.
 * A state file without names (older shadowd) keeps the number.
 */
static int volume_now(json_object *x, const char *saved, char *buf,
		      size_t len)
{
	const char *name = arg_str(x, "volume_name");
	dev_t dev;

	if (!name) {
		snprintf(buf, len, "%s", saved);
		return 0;
	}
	if (!*name || strlen(name) >= SHADOW_NL_NAMELEN)
		return -1;
	if (!dm_exists(name, &dev)) {
		log_warn("state: volume %s (was %s) is not active", name, saved);
		buf[0] = '\0';
		return 0;
	}
	snprintf(buf, len, "%u:%u", major(dev), minor(dev));
	if (strcmp(buf, saved))
		log_info("state: volume %s is %s now (was %s)", name, buf,
			 saved);
	return 0;
}

static int copy_from_json(json_object *x, struct fsrvp_copy *c)
{
	if (jbool(x, "gone")) {
		const char *why = arg_str(x, "gone_reason");

		log_info("state: copy of %s on %s was gone (%s): dropped",
			 arg_str(x, "share") ? arg_str(x, "share") : "?",
			 arg_str(x, "volume") ? arg_str(x, "volume") : "?",
			 why ? why : "?");
		return -1;
	}
	const char *vol = arg_str(x, "volume"), *share = arg_str(x, "share");
	const char *en = arg_str(x, "exposed_name");
	int64_t id = jint(x, "snap_id");

	memset(c, 0, sizeof(*c));
	if (jguid(x, "id", c->id) || !vol || !share ||
	    strlen(vol) >= sizeof(c->volume) ||
	    strlen(share) >= sizeof(c->share) ||
	    (en && strlen(en) >= sizeof(c->exposed_name)) ||
	    id < 0 || id > UINT32_MAX)
		return -1;
	if (volume_now(x, vol, c->volume, sizeof(c->volume)))
		return -1;
	snprintf(c->share, sizeof(c->share), "%s", share);
	snprintf(c->exposed_name, sizeof(c->exposed_name), "%s", en ? en : "");
	c->ctime_ns = jint(x, "ctime_ns");
	c->exposed = jbool(x, "exposed");
	c->snap_id = (uint32_t)id;
	c->writable = jbool(x, "writable");
	return 0;
}

/* The snapshots of @volume (netlink); -1 when it is not an origin. */
static int snaps_of(struct shadowd_backend *b, const char *volume,
		    struct shadow_snap **v, size_t *n)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_dev d;

	*v = NULL;
	*n = 0;
	if (!nl || shadow_spec_classify(volume, &d) != SHADOW_SPEC_DEVNO)
		return -1;
	if (shadow_nl_snap_list(nl, d, v, n, &err)) {
		log_warn("state: volume %s: %s", volume, err.msg);
		return -1;
	}
	return 0;
}

/* Snapshot @id of @volume is there, valid, and the one the set made
 * (its label): an id reused by another snapshot does not count. */
static bool snap_exists(struct shadowd_backend *b, const char *volume,
			uint32_t id, const char *label)
{
	struct shadow_snap *v;
	size_t n, i;
	bool found = false;

	if (!id || snaps_of(b, volume, &v, &n))
		return false;
	for (i = 0; i < n; i++)
		if (v[i].id == id && !v[i].invalid &&
		    !strcmp(v[i].label, label))
			found = true;
	free(v);
	return found;
}

static void delete_snap(struct shadowd_backend *b, const char *volume,
			uint32_t id)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_dev d;

	if (!nl || shadow_spec_classify(volume, &d) != SHADOW_SPEC_DEVNO)
		return;
	shadowd_pv_release(b, d.major, d.minor, id);
	if (shadow_nl_snap_delete(nl, d, id, &err) && err.code != -ENOENT)
		log_err("state: delete %s snapshot %u: %s", volume, id, err.msg);
	else
		log_info("state: deleted %s snapshot %u", volume, id);
}

/* A set that was being made: delete what its commit may have made. */
static void abort_set(struct shadowd_backend *b, struct fsrvp_set *s)
{
	char guid[UUID_STR_LEN], label[32];
	size_t i, j, n;
	struct shadow_snap *v;

	uuid_unparse_lower(s->id, guid);
	snprintf(label, sizeof(label), "fsrvp-%.8s", guid);
	for (i = 0; i < s->n; i++) {
		shadowd_unexpose_copy(b, s, &s->copies[i]);
		if (snaps_of(b, s->copies[i].volume, &v, &n))
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(v[j].label, label))
				delete_snap(b, s->copies[i].volume, v[j].id);
		free(v);
	}
	log_info("state: set %s was being made (%s) when shadowd stopped: "
		 "aborted", guid, fsrvp_status_name(s->status));
}

int shadowd_state_load(struct shadowd_backend *b)
{
	char path[PATH_MAX + 64], guid[UUID_STR_LEN], label[32];
	json_object *root, *sets, *o, *cs;
	size_t i, j, k, kept = 0, dropped = 0;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", b->cfg->state_dir,
		 SHADOWD_STATE_FILE);
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	root = json_object_from_file(path);
	if (!root || !json_object_object_get_ex(root, "sets", &sets) ||
	    !json_object_is_type(sets, json_type_array) ||
	    jint(root, "version") != STATE_VERSION) {
		log_err("state: %s: unreadable (%s); move it away to start "
			"without it", path, json_util_get_last_err() ?
			json_util_get_last_err() : "bad content");
		json_object_put(root);
		return -1;
	}
	b->loading = true;
	for (i = 0; i < json_object_array_length(sets); i++) {
		struct fsrvp_set s = { 0 };
		const char *st;

		o = json_object_array_get_idx(sets, i);
		st = arg_str(o, "status");
		if (jguid(o, "id", s.id) || !st ||
		    !(s.status = fsrvp_status_parse(st)) ||
		    !json_object_object_get_ex(o, "copies", &cs) ||
		    !json_object_is_type(cs, json_type_array) ||
		    json_object_array_length(cs) > FSRVP_COPIES_MAX) {
			log_err("state: set %zu: malformed, skipped", i);
			continue;
		}
		jguid(o, "client_id", s.client_id);
		s.context = (uint32_t)jint(o, "context");
		s.copies = calloc(FSRVP_COPIES_MAX, sizeof(*s.copies));
		if (!s.copies) {
			r = -1;
			break;
		}
		for (j = 0; j < json_object_array_length(cs); j++)
			if (!copy_from_json(json_object_array_get_idx(cs, j),
					    &s.copies[s.n]))
				s.n++;
		uuid_unparse_lower(s.id, guid);
		snprintf(label, sizeof(label), "fsrvp-%.8s", guid);

		if (s.status < FSRVP_COMMITTED) {
			abort_set(b, &s);
			free(s.copies);
			dropped++;
			continue;
		}
		for (j = 0, k = 0; j < s.n; j++) {
			struct fsrvp_copy *c = &s.copies[j];
			bool keep = snap_exists(b, c->volume, c->snap_id,
						label);

			if (!keep) {
				log_warn("state: set %s: snapshot %u of %s is "
					 "gone; copy dropped", guid,
					 c->snap_id, c->volume);
				shadowd_unexpose_copy(b, &s, c);
			} else if (s.status == FSRVP_COMMITTED) {
				/* what a partial Expose left */
				c->exposed = false;
				c->writable = false;
				c->exposed_name[0] = '\0';
				if (shadowd_unexpose_copy(b, &s, c))
					log_err("state: set %s: leftovers of "
						"an expose remain", guid);
			} else if (c->exposed &&
				   shadowd_reexpose_copy(b, &s, c)) {
				log_err("state: set %s: %s cannot be exposed "
					"again; copy deleted", guid,
					c->exposed_name);
				if (!shadowd_unexpose_copy(b, &s, c))
					delete_snap(b, c->volume, c->snap_id);
				keep = false;
			}
			if (keep)
				s.copies[k++] = *c;
		}
		s.n = k;
		if (!s.n) {
			log_warn("state: set %s has no copy left: forgotten",
				 guid);
			dropped++;
		} else if (fsrvp_restore_set(b->f, &s)) {
			log_err("state: set %s: cannot restore", guid);
			dropped++;
		} else {
			log_info("state: set %s restored (%s, %zu cop%s)",
				 guid, fsrvp_status_name(s.status), s.n,
				 s.n == 1 ? "y" : "ies");
			kept++;
		}
		free(s.copies);
	}
	json_object_put(root);
	b->loading = false;
	if (kept || dropped)
		log_info("state: %zu set(s) restored, %zu dropped", kept,
			 dropped);
	if (shadowd_state_save(b))
		r = -1;
	return r;
}
