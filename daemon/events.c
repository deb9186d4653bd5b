// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's events and what shadowd does about them (see
 * Documentation/shadowd.rst, "Kernel events"):
 *
 *   LOW_WATER, HIGH_WATER   the origin's thresholds are checked; at or
 *                           above the high one, snapshots are pruned
 *                           (prune.c) until use is below the low one;
 *                           on a member of a consistency group with a
 *                           policy, by that policy and whole cuts at a
 *                           time (group.c)
 *   SNAP_DROP, SNAP_INVALID FSRVP copies whose snapshot went are
 *                           unexposed and marked gone (persisted)
 *   STORE_FAIL              logged at error level
 *   ORIGIN_ADD              the new origin's thresholds are checked
 *   a gap in the sequence   resync: copies reconciled, every origin's
 *                           thresholds checked
 *
 * And the per-volume retention policies: "policy.VOLUME = ..." in the
 * configuration, and <state_dir>/policies.json written by policy.set
 * (temporary file, fsync, rename, fsync of the directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fsrvp.h"
#include "group.h"
#include "prune.h"
#include "retention.h"
#include "retain.h"
#include "shadow-nl.h"
#include "shadowd.h"

#define POLICY_VERSION 1

/* ------------------------------------------------------------ policies */

static struct shadowd_policy *policy_slot(struct shadowd_backend *b,
					  const char *volume)
{
	struct shadowd_policy *v;
	size_t i;

	for (i = 0; i < b->npol; i++)
		if (!strcmp(b->pol[i].volume, volume))
			return &b->pol[i];
	v = realloc(b->pol, (b->npol + 1) * sizeof(*v));
	if (!v)
		return NULL;
	b->pol = v;
	v = &b->pol[b->npol];
	memset(v, 0, sizeof(*v));
	v->p = calloc(1, sizeof(*v->p));
	if (!v->p)
		return NULL;
	snprintf(v->volume, sizeof(v->volume), "%s", volume);
	b->npol++;
	return v;
}

static void policy_remove(struct shadowd_backend *b, size_t i)
{
	free(b->pol[i].p);
	b->pol[i] = b->pol[--b->npol];
}

void shadowd_policies_free(struct shadowd_backend *b)
{
	while (b->npol)
		policy_remove(b, b->npol - 1);
	free(b->pol);
	b->pol = NULL;
	free(b->gone);
	b->gone = NULL;
	b->ngone = 0;
}

/* The key of a volume: "MAJ:MIN" as given, a dm name as given, a path
 * turned into its dm name. */
static int policy_key(const char *volume, char *key, size_t len,
		      char *err, size_t errlen)
{
	struct shadow_nl_err e = { 0 };
	struct shadow_dev d;

	switch (shadow_spec_classify(volume, &d)) {
	case SHADOW_SPEC_DEVNO:
		shadow_format_dev(d, key, len);
		return 0;
	case SHADOW_SPEC_NAME:
		if (strlen(volume) >= len)
			break;
		snprintf(key, len, "%s", volume);
		return 0;
	case SHADOW_SPEC_PATH:
		if (shadow_resolve_origin(volume, &d, &e) ||
		    shadow_dm_name(d, key, len)) {
			snprintf(err, errlen, "%s: %s", volume, e.code ?
				 e.msg : "not a device-mapper device");
			return -ENODEV;
		}
		return 0;
	default:
		break;
	}
	snprintf(err, errlen, "%s: not a volume name", volume);
	return -EINVAL;
}

/* <state_dir>/policies.json: the policies set over the socket. */
static int policies_save(struct shadowd_backend *b)
{
	json_object *root = json_object_new_object();
	json_object *a = json_object_new_array();
	char text[1024];
	size_t i;

	json_object_object_add(root, "version",
			       json_object_new_int(POLICY_VERSION));
	for (i = 0; i < b->npol; i++) {
		json_object *o;

		if (!b->pol[i].from_state)
			continue;
		o = json_object_new_object();
		shadow_ret_policy_format(b->pol[i].p, text, sizeof(text));
		json_object_object_add(o, "volume",
				json_object_new_string(b->pol[i].volume));
		json_object_object_add(o, "policy",
				       json_object_new_string(text));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "policies", a);
	return shadowd_write_json(b->cfg->state_dir, SHADOWD_POLICY_FILE, root,
				  "policies");
}

int shadowd_policies_load(struct shadowd_backend *b)
{
	char path[PATH_MAX + 64], err[SHADOW_RET_ERRLEN], key[128];
	json_object *root, *a;
	unsigned int i;
	size_t j;

	for (i = 0; i < b->cfg->npolicies; i++) {
		const struct shadowd_policy_cfg *pc = &b->cfg->policies[i];
		struct shadowd_policy *sp;

		if (policy_key(pc->volume, key, sizeof(key), err, sizeof(err)))
			snprintf(key, sizeof(key), "%s", pc->volume);
		sp = policy_slot(b, key);
		if (!sp)
			return -1;
		shadow_ret_policy_init(sp->p);
		if (shadow_ret_policy_parse(sp->p, pc->text, err, sizeof(err))) {
			log_err("policy.%s: %s", pc->volume, err);
			return -1;
		}
	}

	snprintf(path, sizeof(path), "%s/%s", b->cfg->state_dir,
		 SHADOWD_POLICY_FILE);
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	root = json_object_from_file(path);
	if (!root || !json_object_object_get_ex(root, "policies", &a) ||
	    !json_object_is_type(a, json_type_array)) {
		log_err("policies: %s: unreadable; move it away to start "
			"without it", path);
		json_object_put(root);
		return -1;
	}
	for (j = 0; j < json_object_array_length(a); j++) {
		json_object *o = json_object_array_get_idx(a, j), *v, *t;
		struct shadow_ret_policy p;
		struct shadowd_policy *sp;

		shadow_ret_policy_init(&p);
		if (!json_object_object_get_ex(o, "volume", &v) ||
		    !json_object_object_get_ex(o, "policy", &t) ||
		    !json_object_is_type(v, json_type_string) ||
		    !json_object_is_type(t, json_type_string) ||
		    shadow_ret_policy_parse(&p, json_object_get_string(t),
					    err, sizeof(err))) {
			log_err("policies: %s: entry %zu is bad, skipped",
				path, j);
			continue;
		}
		sp = policy_slot(b, json_object_get_string(v));
		if (!sp) {
			json_object_put(root);
			return -1;
		}
		*sp->p = p;
		sp->from_state = true;
	}
	json_object_put(root);
	if (b->npol)
		log_info("%zu retention polic%s", b->npol,
			 b->npol == 1 ? "y" : "ies");
	return 0;
}

int shadowd_policy_set(struct shadowd_backend *b, const char *volume,
		       const char *text, char *err, size_t errlen)
{
	struct shadow_ret_policy p;
	struct shadowd_policy *sp;
	char key[128], e[SHADOW_RET_ERRLEN];
	size_t i;
	int r;

	r = policy_key(volume, key, sizeof(key), err, errlen);
	if (r)
		return r;
	if (!text[0]) {
		for (i = 0; i < b->npol; i++)
			if (!strcmp(b->pol[i].volume, key) &&
			    b->pol[i].from_state)
				break;
		if (i == b->npol) {
			snprintf(err, errlen, "%s: no policy was set", key);
			return -ENOENT;
		}
		policy_remove(b, i);
		/* the configuration's, if any, applies again */
		for (i = 0; i < b->cfg->npolicies; i++) {
			char k2[128], e2[SHADOW_RET_ERRLEN];

			if (policy_key(b->cfg->policies[i].volume, k2,
				       sizeof(k2), e2, sizeof(e2)) ||
			    strcmp(k2, key))
				continue;
			sp = policy_slot(b, key);
			if (sp) {
				shadow_ret_policy_init(sp->p);
				shadow_ret_policy_parse(sp->p,
					b->cfg->policies[i].text, e2,
					sizeof(e2));
			}
		}
		return policies_save(b) ? -EIO : 0;
	}
	shadow_ret_policy_init(&p);
	if (shadow_ret_policy_parse(&p, text, e, sizeof(e))) {
		snprintf(err, errlen, "%s", e);
		return -EINVAL;
	}
	sp = policy_slot(b, key);
	if (!sp) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*sp->p = p;
	sp->from_state = true;
	return policies_save(b) ? -EIO : 0;
}

const struct shadowd_policy *shadowd_policy_find(struct shadowd_backend *b,
						 uint32_t major, uint32_t minor)
{
	struct shadow_dev d = { major, minor };
	char key[SHADOW_NL_NAMELEN];
	size_t i;

	shadow_format_dev(d, key, sizeof(key));
	for (i = 0; i < b->npol; i++)
		if (!strcmp(b->pol[i].volume, key))
			return &b->pol[i];
	if (shadow_dm_name(d, key, sizeof(key)))
		return NULL;
	for (i = 0; i < b->npol; i++)
		if (!strcmp(b->pol[i].volume, key))
			return &b->pol[i];
	return NULL;
}

/* -------------------------------------------------------- FSRVP copies */

const char *shadowd_copy_gone(const struct shadowd_backend *b,
			      const uuid_t copy)
{
	size_t i;

	for (i = 0; i < b->ngone; i++)
		if (!uuid_compare(b->gone[i].copy, copy))
			return b->gone[i].reason;
	return NULL;
}

/*
 * A gone copy keeps its place in its set with no snapshot and is not
 * exposed (fsrvp_copy_lost()); it is dropped at the next start.
 */
static void copy_gone(struct shadowd_backend *b, const struct fsrvp_set *s,
		      const struct fsrvp_copy *c, const char *why)
{
	struct shadowd_gone *g;
	char guid[UUID_STR_LEN];
	bool was = c->exposed;

	uuid_unparse_lower(s->id, guid);
	if (shadowd_unexpose_copy(b, s, c))
		log_err("set %s: %s snapshot %u: %s; cannot unexpose it",
			guid, c->volume, c->snap_id, why);
	else
		log_warn("set %s: %s snapshot %u: %s; copy %s%s", guid,
			 c->volume, c->snap_id, why,
			 was ? "unmounted, its device removed, " : "",
			 "marked gone");
	g = realloc(b->gone, (b->ngone + 1) * sizeof(*g));
	if (g) {
		b->gone = g;
		uuid_copy(g[b->ngone].copy, c->id);
		snprintf(g[b->ngone].reason, sizeof(g->reason), "%s", why);
		b->ngone++;
	}
	fsrvp_copy_lost(b->f, s->id, c->id);
}

/*
 * Copies on origin @d (every origin when @d is NULL) whose snapshot is
 * gone: @dropped (0: none), not listed any more, or invalid.  Returns the
 * number marked gone.
 */
static size_t copies_check(struct shadowd_backend *b,
			   const struct shadow_dev *d, uint32_t dropped,
			   const char *why)
{
	struct shadow_nl *nl = shadowd_nl(b);
	size_t i, j, k, n, changed = 0;

	if (!nl || !b->f)
		return 0;
	for (i = 0; i < fsrvp_set_count(b->f); i++) {
		const struct fsrvp_set *s = fsrvp_set_at(b->f, i);

		for (j = 0; j < s->n; j++) {
			const struct fsrvp_copy *c = &s->copies[j];
			struct shadow_nl_err err = { 0 };
			struct shadow_snap *v = NULL;
			struct shadow_dev cd;
			const char *reason = NULL;
			bool found = false;
			int r;

			if (!c->snap_id ||
			    shadow_spec_classify(c->volume, &cd) !=
			    SHADOW_SPEC_DEVNO ||
			    (d && (cd.major != d->major ||
				   cd.minor != d->minor)))
				continue;
			if (d && dropped && c->snap_id == dropped) {
				reason = why;
			} else {
				r = shadow_nl_snap_list(nl, cd, &v, &n, &err);
				if (r == -ENODEV || r == -ENOENT) {
					reason = "the volume is no longer an origin";
				} else if (r) {
					log_warn("%s: %s", c->volume, err.msg);
					continue;
				} else {
					for (k = 0; k < n; k++)
						if (v[k].id == c->snap_id) {
							found = true;
							if (v[k].invalid)
								reason = "the snapshot is invalid";
						}
					if (!found)
						reason = why;
				}
				free(v);
			}
			if (reason) {
				copy_gone(b, s, c, reason);
				changed++;
			}
		}
	}
	if (changed)
		shadowd_state_save(b);
	return changed;
}

/* ------------------------------------------------------------- pruning */

static int op_origin_get(void *ctx, struct shadow_dev d,
			 struct shadow_origin *o)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(ctx);

	if (!nl)
		return -ENOTCONN;
	if (shadow_nl_origin_get(nl, d, o, &err)) {
		log_warn("prune %u:%u: %s", d.major, d.minor, err.msg);
		return err.code;
	}
	return 0;
}

static int op_snap_list(void *ctx, struct shadow_dev d,
			struct shadow_snap **v, size_t *n)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(ctx);

	if (!nl)
		return -ENOTCONN;
	if (shadow_nl_snap_list(nl, d, v, n, &err)) {
		log_warn("prune %u:%u: %s", d.major, d.minor, err.msg);
		return err.code;
	}
	return 0;
}

static int op_snap_delete(void *ctx, struct shadow_dev d, uint32_t id)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(ctx);

	if (!nl)
		return -ENOTCONN;
	shadowd_pv_release(ctx, d.major, d.minor, id);	/* held open */
	return shadow_nl_snap_delete(nl, d, id, &err);
}

/* A snapshot of an FSRVP set (any status): a copy's, or labelled
 * "fsrvp-<guid8>" by a set that exists. */
static bool op_pinned(void *ctx, struct shadow_dev d,
		      const struct shadow_snap *sn)
{
	struct shadowd_backend *b = ctx;
	char vol[32], guid[UUID_STR_LEN], label[32];
	size_t i, j;

	if (shadowd_pin_check(b, d, sn))
		return true;
	if (!b->f)
		return false;
	shadow_format_dev(d, vol, sizeof(vol));
	for (i = 0; i < fsrvp_set_count(b->f); i++) {
		const struct fsrvp_set *s = fsrvp_set_at(b->f, i);

		uuid_unparse_lower(s->id, guid);
		snprintf(label, sizeof(label), "fsrvp-%.8s", guid);
		if (!strcmp(sn->label, label))
			return true;
		for (j = 0; j < s->n; j++)
			if (s->copies[j].snap_id == sn->id &&
			    !strcmp(s->copies[j].volume, vol))
				return true;
	}
	return false;
}

/* Pinned (retain.c) or held by an FSRVP set: what prune keeps too. */
bool shadowd_snap_pinned(struct shadowd_backend *b, struct shadow_dev d,
			 const struct shadow_snap *s)
{
	return op_pinned(b, d, s);
}

static void op_deleted(void *ctx, struct shadow_dev d, uint32_t id,
		       const char *reason)
{
	log_notice("prune: deleted %u:%u snapshot %u: %s", d.major, d.minor,
		   id, reason);
}

static void op_failed(void *ctx, struct shadow_dev d, uint32_t id, int err)
{
	log_warn("prune: cannot delete %u:%u snapshot %u: %s; skipped",
		 d.major, d.minor, id, strerror(-err));
}

static void prune_origin(struct shadowd_backend *b, struct shadow_dev d,
			 const char *why)
{
	const struct shadowd_policy *sp = shadowd_policy_find(b, d.major,
							       d.minor);
	const struct shadow_ret_policy *p;
	char group[SHADOWD_GROUP_NAMELEN], what[SHADOWD_GROUP_NAMELEN + 16];
	struct shadowd_prune_ops ops = {
		.origin_get = op_origin_get,
		.snap_list = op_snap_list,
		.snap_delete = op_snap_delete,
		.pinned = op_pinned,
		.deleted = op_deleted,
		.failed = op_failed,
		.ctx = b,
	};
	struct shadowd_prune_result r;

	/* a member of a group with a policy: whole cuts, by its policy */
	snprintf(what, sizeof(what), "%s", sp ? "policy" : "no policy");
	p = shadowd_group_policy(b, d, group, sizeof(group));
	if (p) {
		ops.cut_members = shadowd_group_cut_members;
		snprintf(what, sizeof(what), "policy of group %s", group);
	} else {
		p = sp ? sp->p : NULL;
	}
	if (shadowd_prune(&ops, d, p, &r) || !r.triggered)
		return;
	if (r.reached)
		log_info("prune %u:%u (%s, %s): %zu snapshot(s) deleted, store "
			 "%llu -> %llu of %llu chunks, under %u%%", d.major,
			 d.minor, why, what, r.deleted,
			 (unsigned long long)r.used_before,
			 (unsigned long long)r.used_after,
			 (unsigned long long)r.total, r.low);
	else
		log_warn("prune %u:%u (%s, %s): %zu snapshot(s) deleted, store "
			 "still %llu of %llu chunks, not under %u%%: nothing "
			 "more may be deleted (FSRVP sets hold the rest)",
			 d.major, d.minor, why, what,
			 r.deleted, (unsigned long long)r.used_after,
			 (unsigned long long)r.total, r.low);
}

/* -------------------------------------------------------------- events */

bool shadowd_event(struct shadowd_backend *b, const struct shadow_event *e)
{
	const char *name = shadow_event_name(e->type);

	if (e->has_snap)
		log_info("event %llu: %s %u:%u snapshot %u",
			 (unsigned long long)e->seq, name ? name : "?",
			 e->dev.major, e->dev.minor, e->snap_id);
	else
		log_info("event %llu: %s %u:%u", (unsigned long long)e->seq,
			 name ? name : "?", e->dev.major, e->dev.minor);

	switch (e->type) {
	case SHADOW_EVENT_LOW_WATER:
		prune_origin(b, e->dev, "low-water event");
		break;
	case SHADOW_EVENT_HIGH_WATER:
		prune_origin(b, e->dev, "high-water event");
		break;
	case SHADOW_EVENT_ORIGIN_ADD:
		prune_origin(b, e->dev, "new origin");
		break;
	case SHADOW_EVENT_SNAP_DROP:
		copies_check(b, &e->dev, e->has_snap ? e->snap_id : 0,
			     "the kernel dropped the snapshot (store full)");
		break;
	case SHADOW_EVENT_SNAP_INVALID:
		copies_check(b, &e->dev, 0,
			     "the kernel invalidated the snapshot");
		break;
	case SHADOW_EVENT_STORE_FAIL:
		log_err("the store of origin %u:%u failed", e->dev.major,
			e->dev.minor);
		break;
	default:
		break;
	}
	switch (e->type) {	/* previous versions (pv.c) */
	case SHADOW_EVENT_SNAP_CREATE:
	case SHADOW_EVENT_SNAP_DELETE:
	case SHADOW_EVENT_SNAP_DROP:
	case SHADOW_EVENT_SNAP_INVALID:
	case SHADOW_EVENT_SNAP_SET_RO:
	case SHADOW_EVENT_ORIGIN_ADD:
	case SHADOW_EVENT_ORIGIN_REMOVE:
		shadowd_pv_sync(b, e->dev.major, e->dev.minor,
				name ? name : "event");
		break;
	default:
		break;
	}
	if (e->gap)
		log_warn("kernel events %llu..%llu were lost: resync",
			 (unsigned long long)e->expected,
			 (unsigned long long)e->seq - 1);
	return e->gap;
}

uint64_t shadowd_resync(struct shadowd_backend *b, const char *why)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadowd_nl(b);
	struct shadow_origin *v = NULL;
	uint64_t seq = 0;
	size_t n = 0, i;

	if (!nl)
		return 0;
	if (shadow_nl_origin_list(nl, &v, &n, &err)) {
		log_warn("resync (%s): %s", why, err.msg);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (v[i].event_seq > seq)
			seq = v[i].event_seq;
	log_info("resync (%s): %zu origin(s)", why, n);
	copies_check(b, NULL, 0, "the snapshot is gone");
	for (i = 0; i < n; i++)
		prune_origin(b, v[i].dev, why);
	shadowd_pv_sync_all(b, why);
	free(v);
	return seq;
}
