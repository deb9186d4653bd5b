// SPDX-License-Identifier: GPL-2.0
/*
 * shadowd: consistency groups and their retention (see group.h).
 *
 *   group.set        {name, volumes}: declare or redefine a group; every
 *                    volume an active origin (kept by dm name), in no
 *                    other group
 *   group.list       {name?}: the groups, their members, policy, cuts
 *   group.remove     {name}: forget a group, its policy and its cuts (the
 *                    snapshots stay)
 *   snapshot.create  {group, label?, freeze?, timeout_ms?}: one cut of
 *                    every member, recorded
 *   policy.set       {group, policy}: the group's policy ("" removes it)
 *   policy.show      {group}
 *   prune            {group, dry_run?}: the group's policy over whole
 *                    cuts (lib/cuts.h)
 *
 * Every create through shadowd that cuts all members of a group at once
 * (snapshot.create with the group, or with volumes that include all its
 * members) is recorded as a cut: its members' volume, id and ctime_ns,
 * so that an id the kernel reuses later is not taken for a member.  The
 * groups live in <state_dir>/groups.json, written whole (temporary file,
 * fsync, rename) after every change:
 *
 *   {"version": 1, "groups": [{"name": "db", "volumes": ["data", "logs"],
 *     "policy": "keep-last=7\n", "next_cut": 3,
 *     "cuts": [{"cut": 2, "members": [{"volume": "data", "id": 7,
 *               "ctime_ns": 1700000000123456789}, ...]}]}]}
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cuts.h"
#include "group.h"
#include "proto.h"
#include "retain.h"
#include "retention.h"
#include "shadow-nl.h"
#include "shadowd.h"

#define GROUP_VERSION 1

struct member {
	char volume[SHADOW_NL_NAMELEN];
	uint32_t id;
	uint64_t ctime_ns;
};

struct gcut {
	uint64_t seq;
	struct member *m;
	size_t n;
};

struct group {
	char name[SHADOWD_GROUP_NAMELEN];
	char (*vols)[SHADOW_NL_NAMELEN];
	size_t nvols;
	bool has_policy;
	struct shadow_ret_policy policy;
	uint64_t next_cut;
	struct gcut *cuts;
	size_t ncuts;
};

/* One daemon, one state directory: loaded once, on first use. */
static struct group *groups;
static size_t ngroups;
static bool loaded;
static bool broken;		/* groups.json unreadable: never overwritten */

/* ---------------------------------------------------------------- state */

static void cut_free(struct gcut *c)
{
	free(c->m);
	c->m = NULL;
	c->n = 0;
}

static void group_free(struct group *g)
{
	size_t i;

	for (i = 0; i < g->ncuts; i++)
		cut_free(&g->cuts[i]);
	free(g->cuts);
	free(g->vols);
	memset(g, 0, sizeof(*g));
}

static bool name_valid(const char *s)
{
	size_t i;

	if (!s || !*s || strlen(s) >= SHADOWD_GROUP_NAMELEN ||
	    !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.+-", s[i]))
			return false;
	return true;
}

static struct group *group_find(const char *name)
{
	size_t i;

	for (i = 0; i < ngroups; i++)
		if (!strcmp(groups[i].name, name))
			return &groups[i];
	return NULL;
}

static long vol_index(const struct group *g, const char *vol)
{
	size_t i;

	for (i = 0; i < g->nvols; i++)
		if (!strcmp(g->vols[i], vol))
			return (long)i;
	return -1;
}

/* The group volume @vol (a dm name) is in, or NULL. */
static struct group *group_of_volume(const char *vol)
{
	size_t i;

	for (i = 0; i < ngroups; i++)
		if (vol_index(&groups[i], vol) >= 0)
			return &groups[i];
	return NULL;
}

static int64_t jint(json_object *o, const char *k, bool *ok)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_int)) {
		*ok = false;
		return 0;
	}
	return json_object_get_int64(v);
}

/* One group of the file; false when it is malformed. */
static bool group_parse(json_object *o, struct group *g)
{
	json_object *a, *cuts;
	char err[SHADOW_RET_ERRLEN];
	const char *name = arg_str(o, "name"), *pol = arg_str(o, "policy");
	bool ok = true;
	size_t i, j;

	memset(g, 0, sizeof(*g));
	if (!name_valid(name) ||
	    !json_object_object_get_ex(o, "volumes", &a) ||
	    !json_object_is_type(a, json_type_array) ||
	    !json_object_array_length(a))
		return false;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->vols = calloc(json_object_array_length(a), sizeof(*g->vols));
	if (!g->vols)
		return false;
	for (i = 0; i < json_object_array_length(a); i++) {
		json_object *v = json_object_array_get_idx(a, i);

		if (!json_object_is_type(v, json_type_string) ||
		    strlen(json_object_get_string(v)) >= SHADOW_NL_NAMELEN)
			goto bad;
		snprintf(g->vols[g->nvols++], SHADOW_NL_NAMELEN, "%s",
			 json_object_get_string(v));
	}
	shadow_ret_policy_init(&g->policy);
	if (pol) {
		if (shadow_ret_policy_parse(&g->policy, pol, err, sizeof(err)))
			goto bad;
		g->has_policy = true;
	}
	g->next_cut = (uint64_t)jint(o, "next_cut", &ok);
	if (!ok || !json_object_object_get_ex(o, "cuts", &cuts) ||
	    !json_object_is_type(cuts, json_type_array))
		goto bad;
	g->cuts = calloc(json_object_array_length(cuts) + 1,
			 sizeof(*g->cuts));
	if (!g->cuts)
		goto bad;
	for (i = 0; i < json_object_array_length(cuts); i++) {
		json_object *c = json_object_array_get_idx(cuts, i), *ms;
		struct gcut *gc = &g->cuts[g->ncuts];

		gc->seq = (uint64_t)jint(c, "cut", &ok);
		if (!ok || !json_object_object_get_ex(c, "members", &ms) ||
		    !json_object_is_type(ms, json_type_array))
			goto bad;
		gc->m = calloc(json_object_array_length(ms) + 1,
			       sizeof(*gc->m));
		if (!gc->m)
			goto bad;
		g->ncuts++;
		for (j = 0; j < json_object_array_length(ms); j++) {
			json_object *x = json_object_array_get_idx(ms, j);
			const char *vol = arg_str(x, "volume");
			struct member *m = &gc->m[gc->n];

			m->id = (uint32_t)jint(x, "id", &ok);
			m->ctime_ns = (uint64_t)jint(x, "ctime_ns", &ok);
			if (!ok || !vol || strlen(vol) >= SHADOW_NL_NAMELEN)
				goto bad;
			snprintf(m->volume, sizeof(m->volume), "%s", vol);
			gc->n++;
		}
	}
	return true;
bad:
	group_free(g);
	return false;
}

static void groups_load(struct shadowd_backend *b)
{
	char path[PATH_MAX + 64];
	json_object *root, *a;
	size_t i;

	if (loaded)
		return;
	loaded = true;
	snprintf(path, sizeof(path), "%s/%s", b->cfg->state_dir,
		 SHADOWD_GROUP_FILE);
	if (access(path, F_OK) && errno == ENOENT)
		return;
	root = json_object_from_file(path);
	if (!root || !json_object_object_get_ex(root, "groups", &a) ||
	    !json_object_is_type(a, json_type_array)) {
		log_err("groups: %s: unreadable; no group is known, and none "
			"may be changed until it is moved away", path);
		json_object_put(root);
		broken = true;
		return;
	}
	groups = calloc(json_object_array_length(a) + 1, sizeof(*groups));
	if (!groups) {
		json_object_put(root);
		broken = true;
		return;
	}
	for (i = 0; i < json_object_array_length(a); i++) {
		struct group *g = &groups[ngroups];

		if (!group_parse(json_object_array_get_idx(a, i), g)) {
			log_warn("groups: %s: entry %zu is bad, skipped", path,
				 i);
			continue;
		}
		ngroups++;
	}
	json_object_put(root);
	log_info("groups: %zu consistency group(s)", ngroups);
}

static json_object *member_json(const struct member *m)
{
	json_object *o = json_object_new_object();

	add_str(o, "volume", m->volume);
	add_u64(o, "id", m->id);
	json_object_object_add(o, "ctime_ns",
			       json_object_new_int64((int64_t)m->ctime_ns));
	return o;
}

static int groups_save(struct shadowd_backend *b)
{
	json_object *root = json_object_new_object();
	json_object *a = json_object_new_array();
	char text[1024];
	size_t i, j, k;

	json_object_object_add(root, "version",
			       json_object_new_int(GROUP_VERSION));
	for (i = 0; i < ngroups; i++) {
		const struct group *g = &groups[i];
		json_object *o = json_object_new_object();
		json_object *v = json_object_new_array();
		json_object *cs = json_object_new_array();

		add_str(o, "name", g->name);
		for (j = 0; j < g->nvols; j++)
			json_object_array_add(v,
					json_object_new_string(g->vols[j]));
		json_object_object_add(o, "volumes", v);
		if (g->has_policy) {
			shadow_ret_policy_format(&g->policy, text,
						 sizeof(text));
			add_str(o, "policy", text);
		}
		json_object_object_add(o, "next_cut",
				json_object_new_int64((int64_t)g->next_cut));
		for (j = 0; j < g->ncuts; j++) {
			json_object *c = json_object_new_object();
			json_object *ms = json_object_new_array();

			json_object_object_add(c, "cut",
				json_object_new_int64((int64_t)g->cuts[j].seq));
			for (k = 0; k < g->cuts[j].n; k++)
				json_object_array_add(ms,
					member_json(&g->cuts[j].m[k]));
			json_object_object_add(c, "members", ms);
			json_object_array_add(cs, c);
		}
		json_object_object_add(o, "cuts", cs);
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "groups", a);
	return shadowd_write_json(b->cfg->state_dir, SHADOWD_GROUP_FILE, root,
				  "groups");
}

/* Changes refused while groups.json is unreadable. */
static json_object *broken_reply(const struct shadowd_backend *b)
{
	return reply_err("io", "%s/%s is unreadable; move it away to start "
			 "without groups", b->cfg->state_dir,
			 SHADOWD_GROUP_FILE);
}

/* ------------------------------------------------------------- volumes */

static json_object *not_found_or_nl(const struct shadow_nl_err *err)
{
	if (err->code == -ENOENT || err->code == -ENODEV)
		return reply_err("not_found", "%s", err->msg[0] ? err->msg :
				 strerror(-err->code));
	return reply_nl(err);
}

/* The key of a volume: its dm name, else "MAJ:MIN". */
static void volume_key(struct shadow_dev d, char *buf, size_t len)
{
	if (shadow_dm_name(d, buf, len))
		shadow_format_dev(d, buf, len);
}

/* A member's origin, by its dm name; 0 or a negative errno in @err. */
static int member_dev(const char *vol, struct shadow_dev *d,
		      struct shadow_nl_err *err)
{
	return shadow_resolve_origin(vol, d, err);
}

/* The live snapshots of every member of @g, as lib/cuts.h sees them, in
 * *@sv (the kernel's records, which hold the labels, in *@kv) and the
 * members' origins in @devs; NULL, or an error reply. */
static json_object *group_snaps(struct shadowd_backend *b, struct shadow_nl *nl,
				const struct group *g, struct shadow_dev *devs,
				struct shadow_snap **kv,
				struct shadow_cut_snap **sv, size_t *n)
{
	struct shadow_snap *all = NULL;
	struct shadow_cut_snap *cs;
	unsigned int *volof = NULL;
	size_t total = 0, i;

	*kv = NULL;
	*sv = NULL;
	*n = 0;
	for (i = 0; i < g->nvols; i++) {
		struct shadow_nl_err err = { 0 };
		struct shadow_snap *v = NULL, *nv;
		unsigned int *nvo;
		size_t k = 0;

		if (member_dev(g->vols[i], &devs[i], &err) ||
		    shadow_nl_snap_list(nl, devs[i], &v, &k, &err)) {
			free(all);
			free(volof);
			if (err.code == -ENOENT || err.code == -ENODEV ||
			    err.code == -EINVAL)
				return reply_err("not_found", "group %s: "
						 "volume %s: %s", g->name,
						 g->vols[i], err.msg);
			return reply_nl(&err);
		}
		nv = realloc(all, (total + k + 1) * sizeof(*nv));
		if (nv)
			all = nv;
		nvo = realloc(volof, (total + k + 1) * sizeof(*nvo));
		if (nvo)
			volof = nvo;
		if (!nv || !nvo) {
			free(v);
			free(all);
			free(volof);
			return reply_err("nomem", "out of memory");
		}
		memcpy(all + total, v, k * sizeof(*v));
		for (; k; k--, total++)
			volof[total] = (unsigned int)i;
		free(v);
	}
	cs = calloc(total + 1, sizeof(*cs));
	if (!cs) {
		free(all);
		free(volof);
		return reply_err("nomem", "out of memory");
	}
	for (i = 0; i < total; i++) {
		unsigned int vol = volof[i];

		cs[i].vol = vol;
		cs[i].id = all[i].id;
		cs[i].ctime_ns = all[i].ctime_ns;
		cs[i].pinned = shadowd_snap_pinned(b, devs[vol], &all[i]);
		cs[i].label = all[i].label[0] ? all[i].label : NULL;
		cs[i].held_bytes = all[i].exclusive;
	}
	free(volof);
	*kv = all;
	*sv = cs;
	*n = total;
	return NULL;
}

/* The cuts of @g as lib/cuts.h sees them (members on volumes no longer in
 * the group left out); free(*refs) and free(*cuts) after. */
static int group_cuts(const struct group *g, struct shadow_cut **cuts,
		      struct shadow_cut_ref **refs)
{
	size_t total = 0, i, j, k = 0;

	for (i = 0; i < g->ncuts; i++)
		total += g->cuts[i].n;
	*cuts = calloc(g->ncuts + 1, sizeof(**cuts));
	*refs = calloc(total + 1, sizeof(**refs));
	if (!*cuts || !*refs) {
		free(*cuts);
		free(*refs);
		return -ENOMEM;
	}
	for (i = 0; i < g->ncuts; i++) {
		(*cuts)[i].seq = g->cuts[i].seq;
		(*cuts)[i].m = *refs + k;
		for (j = 0; j < g->cuts[i].n; j++) {
			long v = vol_index(g, g->cuts[i].m[j].volume);

			if (v < 0)
				continue;
			(*refs)[k].vol = (unsigned int)v;
			(*refs)[k].id = g->cuts[i].m[j].id;
			(*refs)[k].ctime_ns = g->cuts[i].m[j].ctime_ns;
			k++;
			(*cuts)[i].n++;
		}
	}
	return 0;
}

/*
 * Forget the members of @g's cuts that are not live in @sv (deleted,
 * dropped, or an id since reused) and the cuts left empty.  true when
 * something changed.
 */
static bool cuts_gc(struct group *g, const struct shadow_cut_snap *sv,
		    size_t n)
{
	bool changed = false;
	size_t i, j, k;

	for (i = 0; i < g->ncuts;) {
		struct gcut *c = &g->cuts[i];

		for (j = 0; j < c->n;) {
			long v = vol_index(g, c->m[j].volume);

			for (k = 0; v >= 0 && k < n; k++)
				if (sv[k].vol == (unsigned int)v &&
				    sv[k].id == c->m[j].id &&
				    sv[k].ctime_ns == c->m[j].ctime_ns)
					break;
			if (v >= 0 && k < n) {
				j++;
				continue;
			}
			c->m[j] = c->m[--c->n];
			changed = true;
		}
		if (c->n) {
			i++;
			continue;
		}
		cut_free(c);
		g->cuts[i] = g->cuts[--g->ncuts];
		changed = true;
	}
	return changed;
}

/* ------------------------------------------------------------ recording */

/* Record a cut of @g from the created snapshots @out (every member of @g
 * among them); the cut's number, 0 when it could not be recorded. */
static uint64_t record_cut(struct shadowd_backend *b, struct shadow_nl *nl,
			   struct group *g, const struct shadow_created *out,
			   size_t n)
{
	struct gcut *nc, c = { 0 };
	size_t i, j;

	c.m = calloc(g->nvols, sizeof(*c.m));
	if (!c.m)
		return 0;
	for (i = 0; i < g->nvols; i++) {
		for (j = 0; j < n; j++) {
			char name[SHADOW_NL_NAMELEN];

			volume_key(out[j].dev, name, sizeof(name));
			if (!strcmp(name, g->vols[i]))
				break;
		}
		if (j == n)
			goto fail;
		{
			struct shadow_nl_err err = { 0 };
			struct shadow_snap s;

			if (shadow_nl_snap_get(nl, out[j].dev, out[j].id, &s,
					       &err)) {
				log_warn("group %s: snapshot %s/%u: %s; the cut "
					 "is not recorded", g->name, g->vols[i],
					 out[j].id, err.msg);
				goto fail;
			}
			snprintf(c.m[c.n].volume, sizeof(c.m[c.n].volume), "%s",
				 g->vols[i]);
			c.m[c.n].id = s.id;
			c.m[c.n].ctime_ns = s.ctime_ns;
			c.n++;
		}
	}
	nc = realloc(g->cuts, (g->ncuts + 1) * sizeof(*nc));
	if (!nc)
		goto fail;
	g->cuts = nc;
	c.seq = ++g->next_cut;
	g->cuts[g->ncuts++] = c;
	if (groups_save(b))
		log_err("group %s: cut %llu made but not saved", g->name,
			(unsigned long long)c.seq);
	else
		log_info("group %s: cut %llu recorded (%zu snapshot(s))",
			 g->name, (unsigned long long)c.seq, c.n);
	return c.seq;
fail:
	free(c.m);
	return 0;
}

void shadowd_group_record(struct shadowd_backend *b,
			  const struct shadow_created *out, size_t n)
{
	struct shadow_nl *nl;
	size_t i, j, k;

	groups_load(b);
	if (!ngroups || broken)
		return;
	nl = shadowd_nl(b);
	if (!nl)
		return;
	for (i = 0; i < ngroups; i++) {
		struct group *g = &groups[i];

		for (j = 0; j < g->nvols; j++) {
			for (k = 0; k < n; k++) {
				char name[SHADOW_NL_NAMELEN];

				volume_key(out[k].dev, name, sizeof(name));
				if (!strcmp(name, g->vols[j]))
					break;
			}
			if (k == n)
				break;
		}
		if (j == g->nvols)
			record_cut(b, nl, g, out, n);
	}
}

/* ------------------------------------------------------------- requests */

static json_object *group_json(const struct group *g)
{
	json_object *o = json_object_new_object();
	json_object *v = json_object_new_array();
	char text[1024];
	size_t i;

	add_str(o, "name", g->name);
	for (i = 0; i < g->nvols; i++)
		json_object_array_add(v, json_object_new_string(g->vols[i]));
	json_object_object_add(o, "volumes", v);
	if (g->has_policy) {
		shadow_ret_policy_format(&g->policy, text, sizeof(text));
		add_str(o, "policy", text);
	} else {
		json_object_object_add(o, "policy", NULL);
	}
	add_u64(o, "cuts", g->ncuts);
	return o;
}

static json_object *do_set(struct shadowd_backend *b, unsigned int uid,
			   json_object *req)
{
	const char *name = arg_str(req, "name");
	char (*vols)[SHADOW_NL_NAMELEN] = NULL;
	struct shadow_nl *nl;
	struct group *g;
	json_object *a;
	size_t n, i, j;

	if (!name_valid(name))
		return reply_err("E_INVALIDARG", "bad or missing \"name\" (1 "
				 "to %d letters, digits and _.+-, not "
				 "starting with . + or -)",
				 SHADOWD_GROUP_NAMELEN - 1);
	if (!json_object_object_get_ex(req, "volumes", &a) ||
	    !json_object_is_type(a, json_type_array))
		return BAD_ARG("volumes");
	n = json_object_array_length(a);
	if (!n || n > SHADOW_NL_GROUP_MAX)
		return reply_err("E_INVALIDARG", "a group has 1 to %d volumes",
				 SHADOW_NL_GROUP_MAX);
	if (broken)
		return broken_reply(b);
	nl = shadowd_nl(b);
	if (!nl)
		return reply_err("netlink",
				 "dm-shadow netlink family not available");
	vols = calloc(n, sizeof(*vols));
	if (!vols)
		return reply_err("nomem", "out of memory");
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i), *o;
		struct shadow_nl_err err = { 0 };
		struct shadow_origin orig;
		struct shadow_dev d;
		struct group *other;

		if (!json_object_is_type(e, json_type_string)) {
			free(vols);
			return BAD_ARG("volumes");
		}
		if (shadow_resolve_origin(json_object_get_string(e), &d,
					  &err) ||
		    shadow_nl_origin_get(nl, d, &orig, &err)) {
			free(vols);
			if (err.code == -EINVAL)
				return reply_err("E_INVALIDARG", "%s", err.msg);
			o = not_found_or_nl(&err);
			return o;
		}
		if (shadow_dm_name(d, vols[i], sizeof(vols[i]))) {
			free(vols);
			return reply_err("not_found", "%s: not a device-mapper "
					 "device", json_object_get_string(e));
		}
		for (j = 0; j < i; j++)
			if (!strcmp(vols[j], vols[i])) {
				free(vols);
				return reply_err("E_INVALIDARG", "%s: given "
						 "twice", vols[i]);
			}
		other = group_of_volume(vols[i]);
		if (other && strcmp(other->name, name)) {
			char msg[256];

			snprintf(msg, sizeof(msg), "%s is in group %s already "
				 "(a volume is in one group at most)", vols[i],
				 other->name);
			free(vols);
			return reply_err("in_use", "%s", msg);
		}
	}

	g = group_find(name);
	if (!g) {
		struct group *ng = realloc(groups, (ngroups + 1) *
					   sizeof(*ng));

		if (!ng) {
			free(vols);
			return reply_err("nomem", "out of memory");
		}
		groups = ng;
		g = &groups[ngroups++];
		memset(g, 0, sizeof(*g));
		snprintf(g->name, sizeof(g->name), "%s", name);
		shadow_ret_policy_init(&g->policy);
	}
	free(g->vols);
	g->vols = vols;
	g->nvols = n;
	/* cut members on volumes no longer in the group are forgotten */
	for (i = 0; i < g->ncuts;) {
		struct gcut *c = &g->cuts[i];

		for (j = 0; j < c->n;) {
			if (vol_index(g, c->m[j].volume) >= 0)
				j++;
			else
				c->m[j] = c->m[--c->n];
		}
		if (c->n) {
			i++;
			continue;
		}
		cut_free(c);
		g->cuts[i] = g->cuts[--g->ncuts];
	}
	if (groups_save(b))
		return reply_err("io", "the group file cannot be written");
	log_info("group %s set by uid %u: %zu volume(s)", name, uid, n);
	return reply_ok();
}

static json_object *do_list(struct shadowd_backend *b, json_object *req)
{
	const char *name = arg_str(req, "name");
	json_object *o, *a;
	size_t i;

	if (json_object_object_get_ex(req, "name", NULL) && !name)
		return BAD_ARG("name");
	o = reply_ok();
	a = json_object_new_array();
	for (i = 0; i < ngroups; i++)
		if (!name || !strcmp(groups[i].name, name))
			json_object_array_add(a, group_json(&groups[i]));
	if (name && !json_object_array_length(a)) {
		json_object_put(a);
		json_object_put(o);
		return reply_err("not_found", "no group %s", name);
	}
	json_object_object_add(o, "groups", a);
	return o;
}

static json_object *do_remove(struct shadowd_backend *b, unsigned int uid,
			      json_object *req)
{
	const char *name = arg_str(req, "name");
	struct group *g;

	if (!name)
		return BAD_ARG("name");
	if (broken)
		return broken_reply(b);
	g = group_find(name);
	if (!g)
		return reply_err("not_found", "no group %s", name);
	group_free(g);
	*g = groups[--ngroups];
	if (groups_save(b))
		return reply_err("io", "the group file cannot be written");
	log_info("group %s removed by uid %u", name, uid);
	return reply_ok();
}

/* The group a request names ("group"), or an error reply in *@err. */
static struct group *req_group(json_object *req, json_object **err)
{
	const char *name = arg_str(req, "group");
	struct group *g;

	*err = NULL;
	if (!name) {
		*err = BAD_ARG("group");
		return NULL;
	}
	g = group_find(name);
	if (!g)
		*err = reply_err("not_found", "no group %s", name);
	return g;
}

static json_object *group_policy_json(const struct group *g)
{
	json_object *x = json_object_new_object();
	char text[1024], vol[SHADOWD_GROUP_NAMELEN + 1];

	shadow_ret_policy_format(&g->policy, text, sizeof(text));
	snprintf(vol, sizeof(vol), "@%s", g->name);
	add_str(x, "volume", vol);
	add_str(x, "group", g->name);
	add_str(x, "policy", text);
	add_str(x, "source", "state");
	add_u64(x, "store_high", g->policy.store_high);
	add_u64(x, "store_low", g->policy.store_low);
	return x;
}

void shadowd_group_policies_json(struct shadowd_backend *b, json_object *a)
{
	size_t i;

	groups_load(b);
	for (i = 0; i < ngroups; i++)
		if (groups[i].has_policy)
			json_object_array_add(a, group_policy_json(&groups[i]));
}

static json_object *do_policy(struct shadowd_backend *b, unsigned int uid,
			      bool set, json_object *req)
{
	struct shadow_ret_policy p;
	char err[SHADOW_RET_ERRLEN];
	const char *text;
	json_object *e, *o;
	struct group *g = req_group(req, &e);

	if (!g)
		return e;
	if (!set) {
		o = reply_ok();
		json_object_object_add(o, "policy", g->has_policy ?
				       group_policy_json(g) : NULL);
		return o;
	}
	text = arg_str(req, "policy");
	if (!text)
		return BAD_ARG("policy");
	if (broken)
		return broken_reply(b);
	if (!text[strspn(text, " \t\n")]) {
		if (!g->has_policy)
			return reply_err("not_found", "@%s: no policy was set",
					 g->name);
		g->has_policy = false;
		shadow_ret_policy_init(&g->policy);
	} else {
		shadow_ret_policy_init(&p);
		if (shadow_ret_policy_parse(&p, text, err, sizeof(err)))
			return reply_err("E_INVALIDARG", "%s", err);
		g->policy = p;
		g->has_policy = true;
	}
	if (groups_save(b))
		return reply_err("io", "the group file cannot be written");
	log_info("policy of group %s %s by uid %u", g->name,
		 g->has_policy ? "set" : "removed", uid);
	return reply_ok();
}

/* ---------------------------------------------------------------- prune */

/* A unit of the reply: a cut, or one snapshot in no cut. */
struct unit {
	long cut;		/* index in the group's cuts, -1 */
	size_t first;		/* a snapshot of the unit (in no cut: it) */
	uint64_t t;		/* earliest member */
	uint64_t key;		/* cut seq or snapshot id, for ties */
};

static int unit_cmp(const void *x, const void *y)
{
	const struct unit *a = x, *b = y;

	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return 0;
}

static json_object *do_prune(struct shadowd_backend *b, unsigned int uid,
			     json_object *req)
{
	const struct shadow_ret_policy **volpol = NULL;
	struct shadow_cut_verdict *out = NULL;
	struct shadow_cut_snap *sv = NULL;
	struct shadow_cut_ref *refs = NULL;
	struct shadow_cut *cuts = NULL;
	struct shadow_snap *kv = NULL;
	struct shadow_dev *devs = NULL;
	struct unit *units = NULL;
	size_t n = 0, nunits = 0, i, j;
	size_t nkept = 0, nremoved = 0, nfailed = 0;
	char text[1024], rtext[512], vtext[600];
	long *cut_of = NULL;
	bool dry_run = false, *done = NULL;
	struct shadow_nl *nl;
	json_object *o, *a, *e, *vols;
	struct group *g = req_group(req, &e);
	int r;

	if (!g)
		return e;
	if (arg_bool(req, "dry_run", false, &dry_run))
		return BAD_ARG("dry_run");
	if (!g->has_policy)
		return reply_err("no_policy", "group %s has no retention "
				 "policy", g->name);
	nl = shadowd_nl(b);
	if (!nl)
		return reply_err("netlink",
				 "dm-shadow netlink family not available");
	devs = calloc(g->nvols, sizeof(*devs));
	volpol = calloc(g->nvols, sizeof(*volpol));
	if (!devs || !volpol) {
		o = reply_err("nomem", "out of memory");
		goto done;
	}
	o = group_snaps(b, nl, g, devs, &kv, &sv, &n);
	if (o)
		goto done;
	for (i = 0; i < g->nvols; i++) {
		const struct shadowd_policy *sp =
			shadowd_policy_find(b, devs[i].major, devs[i].minor);

		volpol[i] = sp ? sp->p : NULL;
	}
	if (cuts_gc(g, sv, n) && groups_save(b))
		log_warn("group %s: forgotten cuts not saved", g->name);
	out = calloc(n + 1, sizeof(*out));
	cut_of = calloc(n + 1, sizeof(*cut_of));
	units = calloc(n + 1, sizeof(*units));
	done = calloc(n + 1, sizeof(*done));
	if (!out || !cut_of || !units || !done ||
	    group_cuts(g, &cuts, &refs)) {
		o = reply_err("nomem", "out of memory");
		goto done;
	}
	r = shadow_cut_evaluate(&g->policy, volpol, g->nvols, cuts, g->ncuts,
				sv, n, time(NULL), out);
	if (r < 0) {
		o = reply_err(r == -ENOMEM ? "nomem" : "E_INVALIDARG",
			      "the policy of group %s cannot be evaluated: %s",
			      g->name, strerror(-r));
		goto done;
	}
	/* the units, oldest first */
	for (i = 0; i < n; i++) {
		cut_of[i] = out[i].cut;
		for (j = 0; cut_of[i] >= 0 && j < nunits; j++)
			if (units[j].cut == cut_of[i])
				break;
		if (cut_of[i] >= 0 && j < nunits) {
			if (sv[i].ctime_ns < units[j].t)
				units[j].t = sv[i].ctime_ns;
			continue;
		}
		units[nunits].cut = cut_of[i];
		units[nunits].first = i;
		units[nunits].t = sv[i].ctime_ns;
		units[nunits].key = cut_of[i] >= 0 ?
			g->cuts[cut_of[i]].seq : sv[i].id;
		nunits++;
	}
	qsort(units, nunits, sizeof(*units), unit_cmp);

	a = json_object_new_array();
	for (i = 0; i < nunits; i++) {
		const struct shadow_cut_verdict *v = &out[units[i].first];
		const struct shadow_ret_policy *jp = &g->policy;
		json_object *x = json_object_new_object();
		json_object *ms = json_object_new_array();
		bool keep = v->v.keep;

		if (units[i].cut >= 0)
			add_u64(x, "cut", g->cuts[units[i].cut].seq);
		else
			json_object_object_add(x, "cut", NULL);
		json_object_object_add(x, "created", json_object_new_int64(
			(int64_t)(units[i].t / 1000000000ULL)));
		json_object_object_add(x, "ctime_ns",
				json_object_new_int64((int64_t)units[i].t));
		add_str(x, "action", keep ? "keep" : "remove");
		add_str(x, "judged_by", shadow_cut_by_key(v->by));
		if (v->by == SHADOW_CUT_BY_NONE) {
			json_object *rs = json_object_new_array();

			json_object_array_add(rs,
					json_object_new_string("no-cut"));
			json_object_object_add(x, "reasons", rs);
			add_str(x, "reason_text",
				"in no cut, no volume policy");
			snprintf(rtext, sizeof(rtext), "in no cut, no volume "
				 "policy");
		} else {
			if (v->by == SHADOW_CUT_BY_VOLUME)
				jp = volpol[sv[units[i].first].vol];
			json_object_object_add(x, "reasons",
					       reasons_json(v->v.reasons));
			shadow_ret_reasons_format(v->v.reasons, jp, rtext,
						  sizeof(rtext));
			if (v->by == SHADOW_CUT_BY_VOLUME) {
				snprintf(vtext, sizeof(vtext),
					 "volume policy: %s", rtext);
				add_str(x, "reason_text", vtext);
			} else {
				add_str(x, "reason_text", rtext);
			}
		}
		/* the members, in the order of the group's volumes */
		for (j = 0; j < n; j++) {
			json_object *m;

			if (units[i].cut >= 0 ? cut_of[j] != units[i].cut :
			    j != units[i].first)
				continue;
			m = json_object_new_object();
			add_str(m, "volume", g->vols[sv[j].vol]);
			add_u64(m, "id", sv[j].id);
			json_object_object_add(m, "ctime_ns",
				json_object_new_int64((int64_t)sv[j].ctime_ns));
			json_object_object_add(m, "label", sv[j].label ?
				json_object_new_string(sv[j].label) : NULL);
			if (keep) {
				nkept++;
			} else if (!dry_run) {
				struct shadow_nl_err err = { 0 };
				struct shadow_dev d = devs[sv[j].vol];

				shadowd_pv_release(b, d.major, d.minor,
						   sv[j].id);
				if (shadow_nl_snap_delete(nl, d, sv[j].id,
							  &err)) {
					log_warn("prune @%s: cannot delete %s "
						 "snapshot %u: %s", g->name,
						 g->vols[sv[j].vol], sv[j].id,
						 err.msg);
					add_str(m, "error", err.msg[0] ?
						err.msg : strerror(-err.code));
					json_object_object_add(m, "deleted",
						json_object_new_boolean(0));
					nfailed++;
				} else {
					log_notice("prune @%s: deleted %s "
						   "snapshot %u (%s) at the "
						   "request of uid %u", g->name,
						   g->vols[sv[j].vol], sv[j].id,
						   rtext, uid);
					json_object_object_add(m, "deleted",
						json_object_new_boolean(1));
					done[j] = true;
					nremoved++;
				}
			} else {
				nremoved++;
			}
			json_object_array_add(ms, m);
		}
		json_object_object_add(x, "members", ms);
		json_object_array_add(a, x);
	}
	o = reply_ok();
	add_str(o, "group", g->name);
	vols = json_object_new_array();
	for (i = 0; i < g->nvols; i++)
		json_object_array_add(vols, json_object_new_string(g->vols[i]));
	json_object_object_add(o, "volumes", vols);
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
	shadow_ret_policy_format(&g->policy, text, sizeof(text));
	add_str(o, "policy", text);
	add_u64(o, "kept", nkept);
	add_u64(o, "removed", nremoved);
	add_u64(o, "failed", nfailed);
	json_object_object_add(o, "cuts", a);
	/* what was deleted leaves the cuts */
	for (i = 0; !dry_run && i < n; i++)
		if (done[i])
			sv[i].ctime_ns = 0;
	if (!dry_run && nremoved && cuts_gc(g, sv, n) && groups_save(b))
		log_warn("group %s: forgotten cuts not saved", g->name);
done:
	free(volpol);
	free(devs);
	free(kv);
	free(sv);
	free(out);
	free(cut_of);
	free(units);
	free(done);
	free(cuts);
	free(refs);
	return o;
}

/* ------------------------------------------------------ snapshot.create */

static json_object *do_create(struct shadowd_backend *b, unsigned int uid,
			      json_object *req)
{
	struct shadow_dev devs[SHADOW_NL_GROUP_MAX];
	struct shadow_created out[SHADOW_NL_GROUP_MAX];
	struct shadow_nl_err err = { 0 };
	const char *label;
	uint32_t flags, timeout;
	uint64_t pause = 0, seq;
	struct shadow_nl *nl;
	json_object *o, *a, *e;
	struct group *g = req_group(req, &e);
	size_t i;
	char dev[32];

	if (!g)
		return e;
	if (json_object_object_get_ex(req, "volumes", NULL))
		return reply_err("E_INVALIDARG",
				 "\"group\" and \"volumes\" together");
	e = arg_create(req, &label, &flags, &timeout);
	if (e)
		return e;
	nl = shadowd_nl(b);
	if (!nl)
		return reply_err("netlink",
				 "dm-shadow netlink family not available");
	for (i = 0; i < g->nvols; i++)
		if (member_dev(g->vols[i], &devs[i], &err))
			return not_found_or_nl(&err);
	if (shadow_nl_snap_create(nl, devs, g->nvols, flags, timeout, label,
				  out, &pause, &err))
		return not_found_or_nl(&err);
	seq = record_cut(b, nl, g, out, g->nvols);
	a = json_object_new_array();
	for (i = 0; i < g->nvols; i++) {
		json_object *x = json_object_new_object();
		char name[SHADOW_NL_NAMELEN];

		volume_key(out[i].dev, name, sizeof(name));
		add_str(x, "volume", shadow_format_dev(out[i].dev, dev,
						       sizeof(dev)));
		add_str(x, "name", name);
		add_u64(x, "id", out[i].id);
		json_object_array_add(a, x);
	}
	o = reply_ok();
	json_object_object_add(o, "snapshots", a);
	add_u64(o, "pause_us", pause);
	add_str(o, "group", g->name);
	if (seq)
		add_u64(o, "cut", seq);
	else
		json_object_object_add(o, "cut", NULL);
	log_info("group %s: %zu snapshot(s) created by uid %u", g->name,
		 g->nvols, uid);
	return o;
}

/* ------------------------------------------------------------- dispatch */

bool shadowd_group_wants(const char *op, json_object *req)
{
	if (!strncmp(op, "group.", 6))
		return true;
	if (strcmp(op, "policy.set") && strcmp(op, "policy.show") &&
	    strcmp(op, "prune") && strcmp(op, "snapshot.create"))
		return false;
	return json_object_object_get_ex(req, "group", NULL);
}

json_object *shadowd_group_request(struct shadowd_backend *b,
				   unsigned int classes, unsigned int uid,
				   const char *op, json_object *req)
{
	unsigned int need = SHADOWD_ADMIN;

	if (!strcmp(op, "group.list") || !strcmp(op, "policy.show"))
		need = SHADOWD_QUERY;
	else if (!strcmp(op, "snapshot.create"))
		need = SHADOWD_SNAPSHOT;
	if (!(classes & need))
		return reply_err("E_ACCESSDENIED", "not permitted");
	groups_load(b);
	if (!strcmp(op, "group.set"))
		return do_set(b, uid, req);
	if (!strcmp(op, "group.list"))
		return do_list(b, req);
	if (!strcmp(op, "group.remove"))
		return do_remove(b, uid, req);
	if (!strcmp(op, "policy.set") || !strcmp(op, "policy.show"))
		return do_policy(b, uid, !strcmp(op, "policy.set"), req);
	if (!strcmp(op, "prune"))
		return do_prune(b, uid, req);
	if (!strcmp(op, "snapshot.create"))
		return do_create(b, uid, req);
	return reply_err("E_INVALIDARG", "unknown request \"%s\"", op);
}

/* ------------------------------------------------------- space pressure */

const struct shadow_ret_policy *shadowd_group_policy(struct shadowd_backend *b,
						     struct shadow_dev d,
						     char *name, size_t len)
{
	char vol[SHADOW_NL_NAMELEN];
	struct group *g;

	groups_load(b);
	if (!ngroups || shadow_dm_name(d, vol, sizeof(vol)))
		return NULL;
	g = group_of_volume(vol);
	if (!g || !g->has_policy)
		return NULL;
	snprintf(name, len, "%s", g->name);
	return &g->policy;
}

int shadowd_group_cut_members(void *ctx, struct shadow_dev d,
			      const struct shadow_snap *s,
			      struct shadowd_prune_member *m, size_t max,
			      char *what, size_t wlen)
{
	struct shadowd_backend *b = ctx;
	char vol[SHADOW_NL_NAMELEN];
	struct shadow_nl *nl = shadowd_nl(b);
	const struct gcut *c = NULL;
	struct group *g;
	size_t i, j, k = 0;

	if (!nl || shadow_dm_name(d, vol, sizeof(vol)))
		return 0;
	g = group_of_volume(vol);
	if (!g)
		return 0;
	for (i = 0; i < g->ncuts && !c; i++)
		for (j = 0; j < g->cuts[i].n; j++)
			if (g->cuts[i].m[j].id == s->id &&
			    g->cuts[i].m[j].ctime_ns == s->ctime_ns &&
			    !strcmp(g->cuts[i].m[j].volume, vol)) {
				c = &g->cuts[i];
				break;
			}
	if (!c)
		return 0;
	if (what)
		snprintf(what, wlen, "cut %llu of group %s",
			 (unsigned long long)c->seq, g->name);
	for (j = 0; j < c->n; j++) {
		struct shadow_nl_err err = { 0 };
		struct shadow_snap x;
		struct shadow_dev md;

		if (!strcmp(c->m[j].volume, vol) ||
		    vol_index(g, c->m[j].volume) < 0 ||
		    member_dev(c->m[j].volume, &md, &err) ||
		    shadow_nl_snap_get(nl, md, c->m[j].id, &x, &err) ||
		    x.ctime_ns != c->m[j].ctime_ns)
			continue;	/* gone: nothing to keep or delete */
		if (shadowd_snap_pinned(b, md, &x))
			return -1;
		if (m && k < max) {
			m[k].dev = md;
			m[k].id = x.id;
		}
		k++;
	}
	return (int)(m && k > max ? max : k);
}
