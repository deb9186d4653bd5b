// SPDX-License-Identifier: GPL-2.0
/*
 * shadowd: the retention policy applied on request, and pins.
 *
 *   prune            {volume, dry_run}: every live snapshot of the volume
 *                    judged by its policy (lib/retention.h: every keep
 *                    rule, min-age and max-count, not only space); unless
 *                    dry_run, those to remove are deleted, oldest first.
 *                    Pinned snapshots and those of FSRVP sets are kept
 *                    with reason "pinned".  A member of a consistency
 *                    group with a policy is refused ("in_group"): its
 *                    cuts go whole, with prune {group} (group.c).
 *   snapshot.pin     {volume, id}: the snapshot is never pruned, by this
 *   snapshot.unpin   request or by space pressure (events.c).
 *
 * Pins are kept in <state_dir>/pins.json, keyed by the volume's dm name,
 * the snapshot id and its creation time, so that a snapshot that later
 * reuses a deleted one's id is not pinned by mistake:
 *
 *   {"version": 1, "pins": [{"volume": "data", "id": 7,
 *                            "ctime_ns": 1700000000123456789}, ...]}
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "group.h"
#include "proto.h"
#include "retain.h"
#include "retention.h"
#include "shadow-nl.h"
#include "shadowd.h"

#define PIN_VERSION 1

struct pin {
	char volume[SHADOW_NL_NAMELEN];
	uint32_t id;
	uint64_t ctime_ns;
};

/* One daemon, one state directory: the pins are loaded once. */
static struct pin *pins;
static size_t npins;
static bool pins_loaded;

/* The key of a volume: its dm name, else "MAJ:MIN". */
static void volume_key(struct shadow_dev d, char *buf, size_t len)
{
	if (shadow_dm_name(d, buf, len))
		shadow_format_dev(d, buf, len);
}

static void pins_load(struct shadowd_backend *b)
{
	char path[PATH_MAX + 64];
	json_object *root, *a;
	size_t i;

	if (pins_loaded)
		return;
	pins_loaded = true;
	snprintf(path, sizeof(path), "%s/%s", b->cfg->state_dir,
		 SHADOWD_PIN_FILE);
	if (access(path, F_OK) && errno == ENOENT)
		return;
	root = json_object_from_file(path);
	if (!root || !json_object_object_get_ex(root, "pins", &a) ||
	    !json_object_is_type(a, json_type_array)) {
		log_err("pins: %s: unreadable; no snapshot is pinned", path);
		json_object_put(root);
		return;
	}
	pins = calloc(json_object_array_length(a) + 1, sizeof(*pins));
	if (!pins) {
		json_object_put(root);
		return;
	}
	for (i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *v, *id, *t;
		struct pin *p = &pins[npins];

		if (!json_object_object_get_ex(o, "volume", &v) ||
		    !json_object_object_get_ex(o, "id", &id) ||
		    !json_object_object_get_ex(o, "ctime_ns", &t) ||
		    !json_object_is_type(v, json_type_string) ||
		    !json_object_is_type(id, json_type_int) ||
		    !json_object_is_type(t, json_type_int)) {
			log_warn("pins: %s: entry %zu is bad, skipped", path, i);
			continue;
		}
		snprintf(p->volume, sizeof(p->volume), "%s",
			 json_object_get_string(v));
		p->id = (uint32_t)json_object_get_int64(id);
		p->ctime_ns = json_object_get_uint64(t);
		npins++;
	}
	json_object_put(root);
	log_info("pins: %zu snapshot(s) pinned", npins);
}

static int pins_save(struct shadowd_backend *b)
{
	json_object *root = json_object_new_object();
	json_object *a = json_object_new_array();
	size_t i;

	json_object_object_add(root, "version",
			       json_object_new_int(PIN_VERSION));
	for (i = 0; i < npins; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "volume",
				json_object_new_string(pins[i].volume));
		json_object_object_add(o, "id",
				       json_object_new_int64(pins[i].id));
		json_object_object_add(o, "ctime_ns",
				json_object_new_uint64(pins[i].ctime_ns));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "pins", a);
	return shadowd_write_json(b->cfg->state_dir, SHADOWD_PIN_FILE, root,
				  "pins");
}

static long pin_find(const char *vol, uint32_t id, uint64_t ctime_ns)
{
	size_t i;

	for (i = 0; i < npins; i++)
		if (pins[i].id == id && pins[i].ctime_ns == ctime_ns &&
		    !strcmp(pins[i].volume, vol))
			return (long)i;
	return -1;
}

bool shadowd_pin_check(struct shadowd_backend *b, struct shadow_dev d,
		       const struct shadow_snap *s)
{
	char vol[SHADOW_NL_NAMELEN];

	pins_load(b);
	if (!npins)
		return false;
	volume_key(d, vol, sizeof(vol));
	return pin_find(vol, s->id, s->ctime_ns) >= 0;
}

/* Drop the pins of @vol whose snapshot is not in @v (deleted ones). */
static bool pins_gc(const char *vol, const struct shadow_snap *v, size_t n)
{
	bool changed = false;
	size_t i, j;

	for (i = 0; i < npins;) {
		if (strcmp(pins[i].volume, vol)) {
			i++;
			continue;
		}
		for (j = 0; j < n; j++)
			if (v[j].id == pins[i].id &&
			    v[j].ctime_ns == pins[i].ctime_ns)
				break;
		if (j < n) {
			i++;
			continue;
		}
		pins[i] = pins[--npins];
		changed = true;
	}
	return changed;
}

static json_object *not_found_or_nl(const struct shadow_nl_err *err)
{
	if (err->code == -ENOENT || err->code == -ENODEV)
		return reply_err("not_found", "%s", err->msg[0] ? err->msg :
				 strerror(-err->code));
	return reply_nl(err);
}

static json_object *do_pin(struct shadowd_backend *b, unsigned int uid,
			   bool pin, json_object *req)
{
	struct shadow_nl_err err = { 0 };
	char vol[SHADOW_NL_NAMELEN];
	struct shadow_snap *v = NULL;
	struct shadow_nl *nl;
	struct shadow_dev d;
	size_t n = 0, i;
	bool changed;
	uint32_t id;
	long k;

	if (arg_u32(req, "id", 0, &id) || !id)
		return BAD_ARG("id");
	nl = shadowd_nl(b);
	if (!nl)
		return reply_err("netlink",
				 "dm-shadow netlink family not available");
	if (arg_volume(req, "volume", &d, &err))
		return err.code == -EINVAL ? BAD_ARG("volume") :
			not_found_or_nl(&err);
	if (shadow_nl_snap_list(nl, d, &v, &n, &err))
		return not_found_or_nl(&err);
	for (i = 0; i < n; i++)
		if (v[i].id == id)
			break;
	if (i == n) {
		free(v);
		return reply_err("not_found", "no snapshot %u", id);
	}
	pins_load(b);
	volume_key(d, vol, sizeof(vol));
	changed = pins_gc(vol, v, n);
	k = pin_find(vol, id, v[i].ctime_ns);
	if (pin && k < 0) {
		struct pin *nv = realloc(pins, (npins + 1) * sizeof(*nv));

		if (!nv) {
			free(v);
			return reply_err("nomem", "out of memory");
		}
		pins = nv;
		memset(&pins[npins], 0, sizeof(pins[npins]));
		snprintf(pins[npins].volume, sizeof(pins[npins].volume), "%s",
			 vol);
		pins[npins].id = id;
		pins[npins].ctime_ns = v[i].ctime_ns;
		npins++;
		changed = true;
	} else if (!pin && k >= 0) {
		pins[k] = pins[--npins];
		changed = true;
	}
	free(v);
	if (changed && pins_save(b))
		return reply_err("io", "the pin file cannot be written");
	log_info("snapshot %s/%u %spinned by uid %u", vol, id, pin ? "" : "un",
		 uid);
	return reply_ok();
}

/* ---------------------------------------------------------------- prune */

static int by_age(const void *x, const void *y)
{
	const struct shadow_snap *a = x, *b = y;

	if (a->ctime_ns != b->ctime_ns)
		return a->ctime_ns < b->ctime_ns ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static json_object *do_prune(struct shadowd_backend *b, unsigned int uid,
			     json_object *req)
{
	struct shadow_nl_err err = { 0 };
	const struct shadowd_policy *sp;
	struct shadow_ret_verdict *out = NULL;
	struct shadow_ret_snap *rs = NULL;
	struct shadow_snap *v = NULL;
	char vol[SHADOW_NL_NAMELEN], text[1024], rtext[512];
	char group[SHADOWD_GROUP_NAMELEN];
	size_t n = 0, i, nkept = 0, nremoved = 0, nfailed = 0;
	bool dry_run = false;
	json_object *o, *a;
	struct shadow_nl *nl;
	struct shadow_dev d;
	int r;

	if (arg_bool(req, "dry_run", false, &dry_run))
		return BAD_ARG("dry_run");
	nl = shadowd_nl(b);
	if (!nl)
		return reply_err("netlink",
				 "dm-shadow netlink family not available");
	if (arg_volume(req, "volume", &d, &err))
		return err.code == -EINVAL ? BAD_ARG("volume") :
			not_found_or_nl(&err);
	volume_key(d, vol, sizeof(vol));
	/* its snapshots in cuts go whole, with the group's policy */
	if (shadowd_group_policy(b, d, group, sizeof(group)))
		return reply_err("in_group", "%s is in consistency group %s, "
				 "which has a retention policy: prune @%s",
				 vol, group, group);
	sp = shadowd_policy_find(b, d.major, d.minor);
	if (!sp)
		return reply_err("no_policy", "%s has no retention policy", vol);
	if (shadow_nl_snap_list(nl, d, &v, &n, &err))
		return not_found_or_nl(&err);
	qsort(v, n, sizeof(*v), by_age);
	rs = calloc(n + 1, sizeof(*rs));
	out = calloc(n + 1, sizeof(*out));
	if (!rs || !out) {
		o = reply_err("nomem", "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		rs[i].id = v[i].id;
		rs[i].ctime = (time_t)(v[i].ctime_ns / 1000000000ULL);
		rs[i].pinned = shadowd_snap_pinned(b, d, &v[i]);
		rs[i].label = v[i].label[0] ? v[i].label : NULL;
		rs[i].held_bytes = v[i].exclusive;
	}
	r = shadow_ret_evaluate(sp->p, rs, n, time(NULL), out);
	if (r < 0) {
		o = reply_err(r == -ENOMEM ? "nomem" : "E_INVALIDARG",
			      "the policy of %s cannot be evaluated: %s", vol,
			      strerror(-r));
		goto done;
	}

	a = json_object_new_array();
	for (i = 0; i < n; i++) {
		json_object *x = json_object_new_object();

		add_u64(x, "id", v[i].id);
		json_object_object_add(x, "created",
				       json_object_new_int64(rs[i].ctime));
		add_u64(x, "ctime_ns", v[i].ctime_ns);
		json_object_object_add(x, "label", v[i].label[0] ?
				       json_object_new_string(v[i].label) :
				       NULL);
		add_str(x, "action", out[i].keep ? "keep" : "remove");
		json_object_object_add(x, "reasons",
				       reasons_json(out[i].reasons));
		add_str(x, "reason_text",
			shadow_ret_reasons_format(out[i].reasons, sp->p, rtext,
						  sizeof(rtext)));
		if (out[i].keep) {
			nkept++;
		} else if (!dry_run) {
			struct shadow_nl_err e = { 0 };

			/* a previous-versions mount holds the device open */
			shadowd_pv_release(b, d.major, d.minor, v[i].id);
			if (shadow_nl_snap_delete(nl, d, v[i].id, &e)) {
				log_warn("prune %s: cannot delete snapshot %u: %s",
					 vol, v[i].id, e.msg);
				add_str(x, "error", e.msg[0] ? e.msg :
					strerror(-e.code));
				json_object_object_add(x, "deleted",
					json_object_new_boolean(0));
				nfailed++;
			} else {
				log_notice("prune %s: deleted snapshot %u (%s) "
					   "at the request of uid %u", vol,
					   v[i].id, rtext, uid);
				json_object_object_add(x, "deleted",
					json_object_new_boolean(1));
				nremoved++;
			}
		} else {
			nremoved++;
		}
		json_object_array_add(a, x);
	}
	o = reply_ok();
	add_str(o, "volume", vol);
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
	shadow_ret_policy_format(sp->p, text, sizeof(text));
	add_str(o, "policy", text);
	add_u64(o, "kept", nkept);
	add_u64(o, "removed", nremoved);
	add_u64(o, "failed", nfailed);
	json_object_object_add(o, "snapshots", a);
done:
	free(v);
	free(rs);
	free(out);
	return o;
}

json_object *shadowd_retain_request(struct shadowd_backend *b,
				    unsigned int classes, unsigned int uid,
				    const char *op, json_object *req)
{
	if (!strcmp(op, "prune")) {
		if (!(classes & SHADOWD_ADMIN))
			return reply_err("E_ACCESSDENIED", "not permitted");
		return do_prune(b, uid, req);
	}
	if (!strcmp(op, "snapshot.pin")) {
		if (!(classes & SHADOWD_SNAPSHOT))
			return reply_err("E_ACCESSDENIED", "not permitted");
		return do_pin(b, uid, true, req);
	}
	if (!strcmp(op, "snapshot.unpin")) {
		if (!(classes & SHADOWD_ADMIN))
			return reply_err("E_ACCESSDENIED", "not permitted");
		return do_pin(b, uid, false, req);
	}
	return reply_err("E_INVALIDARG", "unknown request \"%s\"", op);
}
