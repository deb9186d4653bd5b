// SPDX-License-Identifier: GPL-2.0
/*
 * dm-shadow generic netlink family: the control plane for shadowd and
 * shadowctl.  The ABI is described in include/dm-shadow-netlink.h and in
 * Documentation/admin-guide/dm-shadow.rst.
 */

#include <linux/ctype.h>
#include <linux/device-mapper.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <net/genetlink.h>

#include "shadow.h"

#define DM_MSG_PREFIX "shadow"

/* Extents per diff message at most; the rest goes in the next one. */
#define SHADOW_NL_EXTENTS_PER_MSG	256

static struct genl_family shadow_genl_family;

/* Event sequence numbers and the order events leave in. */
static DEFINE_SPINLOCK(shadow_event_lock);
static u64 shadow_event_seq;

enum {
	SHADOW_MCGRP_EVENTS,
};

static const struct genl_multicast_group shadow_mcgrps[] = {
	[SHADOW_MCGRP_EVENTS] = {
		.name = SHADOW_GENL_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

/*
 * --------------------------------------------------------------
 * Policies
 * --------------------------------------------------------------
 */

/* An origin named in a request: only its device number. */
static const struct nla_policy shadow_origin_req_policy[SHADOW_ORIGIN_A_MAX + 1] = {
	[SHADOW_ORIGIN_A_MAJOR] = { .type = NLA_U32 },
	[SHADOW_ORIGIN_A_MINOR] = { .type = NLA_U32 },
};

/* A consistency group: a list of origins. */
static const struct nla_policy shadow_group_policy[SHADOW_A_ORIGIN + 1] = {
	[SHADOW_A_ORIGIN] = NLA_POLICY_NESTED(shadow_origin_req_policy),
};

static struct netlink_range_validation shadow_timeout_range = {
	.min = 1,
	.max = SHADOW_NL_TIMEOUT_MAX_MS,
};

static const struct nla_policy shadow_policy[SHADOW_A_MAX + 1] = {
	[SHADOW_A_ORIGIN] = NLA_POLICY_NESTED(shadow_origin_req_policy),
	[SHADOW_A_ORIGINS] = NLA_POLICY_NESTED(shadow_group_policy),
	[SHADOW_A_SNAP_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[SHADOW_A_SNAP_ID_TO] = NLA_POLICY_MIN(NLA_U32, 1),
	[SHADOW_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, SHADOW_F_ALL),
	[SHADOW_A_TIMEOUT_MS] = NLA_POLICY_FULL_RANGE(NLA_U32,
						      &shadow_timeout_range),
	[SHADOW_A_LABEL] = { .type = NLA_NUL_STRING,
			     .len = SHADOW_NL_LABEL_MAX },
	[SHADOW_A_LOW_WATER] = NLA_POLICY_MAX(NLA_U32, 100),
	[SHADOW_A_HIGH_WATER] = NLA_POLICY_MAX(NLA_U32, 100),
};

/*
 * --------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------
 */

/**
 * nl_origin() - the active origin a SHADOW_A_ORIGIN nest names
 * @nest: the nest, already validated against shadow_origin_req_policy
 * @extack: for the refusal message
 * @md: set to the origin's mapped device, held
 *
 * Return: the origin with a reference (drop it with shadow_origin_put()),
 * or an ERR_PTR.
 */
static struct shadow_origin *nl_origin(struct nlattr *nest,
				       struct netlink_ext_ack *extack,
				       struct mapped_device **md)
{
	struct nlattr *tb[SHADOW_ORIGIN_A_MAX + 1];
	struct shadow_origin *o;
	u32 major, minor;
	int r;

	if (!nest) {
		NL_SET_ERR_MSG(extack, "Missing origin (SHADOW_A_ORIGIN)");
		return ERR_PTR(-EINVAL);
	}
	r = nla_parse_nested(tb, SHADOW_ORIGIN_A_MAX, nest,
			     shadow_origin_req_policy, extack);
	if (r)
		return ERR_PTR(r);
	if (!tb[SHADOW_ORIGIN_A_MAJOR] || !tb[SHADOW_ORIGIN_A_MINOR]) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "Origin needs a major and a minor number");
		return ERR_PTR(-EINVAL);
	}
	major = nla_get_u32(tb[SHADOW_ORIGIN_A_MAJOR]);
	minor = nla_get_u32(tb[SHADOW_ORIGIN_A_MINOR]);
	if (major >= (1U << (32 - MINORBITS)) || minor > MINORMASK) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "Invalid device number");
		return ERR_PTR(-EINVAL);
	}
	o = shadow_origin_get(MKDEV(major, minor), md);
	if (!o) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "No active shadow-origin device with this number");
		return ERR_PTR(-ENODEV);
	}
	return o;
}

static int put_dev(struct sk_buff *skb, int major_attr, dev_t dev)
{
	if (nla_put_u32(skb, major_attr, MAJOR(dev)) ||
	    nla_put_u32(skb, major_attr + 1, MINOR(dev)))
		return -EMSGSIZE;
	return 0;
}

/* The device-mapper name of @md, or its number while it is going away. */
static int put_md_name(struct sk_buff *skb, int attr, struct mapped_device *md)
{
	char name[DM_NAME_LEN];

	if (dm_copy_name_and_uuid(md, name, NULL))
		return nla_put_string(skb, attr, dm_device_name(md));
	return nla_put_string(skb, attr, name);
}

static u64 last_event_seq(void)
{
	u64 seq;

	spin_lock_irq(&shadow_event_lock);
	seq = shadow_event_seq;
	spin_unlock_irq(&shadow_event_lock);
	return seq;
}

/**
 * fill_origin() - a SHADOW_A_ORIGIN nest with the origin's status
 * @skb: the message
 * @o: the origin
 * @md: its mapped device
 *
 * Everything the target's status line reports, one attribute per field.
 *
 * Return: 0 or -EMSGSIZE.
 */
static int fill_origin(struct sk_buff *skb, struct shadow_origin *o,
		       struct mapped_device *md)
{
	struct shadow_store *store = o->store;
	u32 used, total, meta_used, meta_total, nr_live, epoch, state;
	const char *reason = NULL;
	struct nlattr *nest;

	spin_lock(&store->lock);
	used = store->nr_used;
	total = store->nr_data_chunks;
	meta_used = shadow_store_meta_used(store);
	meta_total = shadow_store_meta_total(store);
	nr_live = store->nr_live;
	epoch = store->cur_epoch;
	if (store->failed) {
		state = SHADOW_STATE_FAIL;
		reason = store->fail_reason;
	} else {
		state = store->writable ? SHADOW_STATE_RW : SHADOW_STATE_RO;
	}
	spin_unlock(&store->lock);

	nest = nla_nest_start(skb, SHADOW_A_ORIGIN);
	if (!nest)
		return -EMSGSIZE;
	if (put_dev(skb, SHADOW_ORIGIN_A_MAJOR, o->md_dev) ||
	    put_md_name(skb, SHADOW_ORIGIN_A_NAME, md) ||
	    put_dev(skb, SHADOW_ORIGIN_A_DEV_MAJOR, o->origin_bdev->bd_dev) ||
	    put_dev(skb, SHADOW_ORIGIN_A_STORE_MAJOR, o->store_dev) ||
	    nla_put_u64_64bit(skb, SHADOW_ORIGIN_A_SECTORS, o->origin_sectors,
			      SHADOW_ORIGIN_A_PAD) ||
	    nla_put_u32(skb, SHADOW_ORIGIN_A_CHUNK_SECTORS,
			store->chunk_sectors) ||
	    nla_put_u64_64bit(skb, SHADOW_ORIGIN_A_STORE_USED, used,
			      SHADOW_ORIGIN_A_PAD) ||
	    nla_put_u64_64bit(skb, SHADOW_ORIGIN_A_STORE_TOTAL, total,
			      SHADOW_ORIGIN_A_PAD) ||
	    nla_put_u64_64bit(skb, SHADOW_ORIGIN_A_META_USED, meta_used,
			      SHADOW_ORIGIN_A_PAD) ||
	    nla_put_u64_64bit(skb, SHADOW_ORIGIN_A_META_TOTAL, meta_total,
			      SHADOW_ORIGIN_A_PAD) ||
	    nla_put_u32(skb, SHADOW_ORIGIN_A_NR_SNAPS, nr_live) ||
	    nla_put_u32(skb, SHADOW_ORIGIN_A_EPOCH, epoch) ||
	    nla_put_u32(skb, SHADOW_ORIGIN_A_STATE, state) ||
	    (reason && nla_put_string(skb, SHADOW_ORIGIN_A_FAIL_REASON,
				      reason)) ||
	    nla_put_u32(skb, SHADOW_ORIGIN_A_OVERFLOW,
			o->overflow == SHADOW_OVERFLOW_INVALIDATE ?
			SHADOW_OVERFLOW_POLICY_INVALIDATE :
			SHADOW_OVERFLOW_POLICY_DROP_OLDEST) ||
	    nla_put_u32(skb, SHADOW_ORIGIN_A_LOW_WATER,
			READ_ONCE(o->low_water)) ||
	    nla_put_u32(skb, SHADOW_ORIGIN_A_HIGH_WATER,
			READ_ONCE(o->high_water))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* One ORIGIN_GET reply message; returns 0 or -EMSGSIZE. */
static int origin_msg(struct sk_buff *skb, u32 portid, u32 seq, int flags,
		      struct shadow_origin *o, struct mapped_device *md)
{
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &shadow_genl_family, flags,
			  SHADOW_CMD_ORIGIN_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, SHADOW_A_EVENT_SEQ, last_event_seq(),
			      SHADOW_A_PAD) ||
	    fill_origin(skb, o, md)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* Error number of a snapshot operation to a refusal message. */
static void snap_errmsg(struct netlink_ext_ack *extack, int r)
{
	switch (r) {
	case -ENOENT:
		NL_SET_ERR_MSG(extack, "No live snapshot with this id");
		break;
	case -EBUSY:
		NL_SET_ERR_MSG(extack, "Snapshot is open by a snapshot device");
		break;
	case -EROFS:
		NL_SET_ERR_MSG(extack, "Origin table is read-only");
		break;
	case -EIO:
		NL_SET_ERR_MSG(extack, "Store has failed or cannot be written");
		break;
	case -ENOSPC:
		NL_SET_ERR_MSG(extack, "No snapshot id or snapshot slot left");
		break;
	case -ENOMEM:
		NL_SET_ERR_MSG(extack, "Out of memory");
		break;
	}
}

/*
 * --------------------------------------------------------------
 * SHADOW_CMD_ORIGIN_GET
 * --------------------------------------------------------------
 */

static int nl_origin_get(struct sk_buff *skb, struct genl_info *info)
{
	struct mapped_device *md;
	struct shadow_origin *o;
	struct sk_buff *msg;
	int r;

	o = nl_origin(info->attrs[SHADOW_A_ORIGIN], info->extack, &md);
	if (IS_ERR(o))
		return PTR_ERR(o);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		r = -ENOMEM;
		goto out;
	}
	r = origin_msg(msg, info->snd_portid, info->snd_seq, 0, o, md);
	if (r) {
		nlmsg_free(msg);
		goto out;
	}
	r = genlmsg_reply(msg, info);
out:
	shadow_origin_put(o, md);
	return r;
}

struct origin_dump {
	struct sk_buff *skb;
	struct netlink_callback *cb;
};

static int origin_dump_one(struct shadow_origin *o, struct mapped_device *md,
			   void *data)
{
	struct origin_dump *d = data;

	return origin_msg(d->skb, NETLINK_CB(d->cb->skb).portid,
			  d->cb->nlh->nlmsg_seq, NLM_F_MULTI, o, md);
}

static int nl_origin_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct origin_dump d = { .skb = skb, .cb = cb };

	cb->args[0] = shadow_origin_fill_each(origin_dump_one, cb->args[0],
					      &d);
	return skb->len;
}

/*
 * --------------------------------------------------------------
 * SHADOW_CMD_SNAP_CREATE
 * --------------------------------------------------------------
 */

static int member_cmp(const void *a, const void *b)
{
	const struct shadow_group_member *x = a, *y = b;

	if (x->o->md_dev == y->o->md_dev)
		return 0;
	return x->o->md_dev < y->o->md_dev ? -1 : 1;
}

static int fill_create_reply(struct sk_buff *msg, struct genl_info *info,
			     struct shadow_group_member *m, unsigned int nr,
			     u64 pause_us)
{
	struct nlattr *list, *nest;
	unsigned int i;
	void *hdr;

	hdr = genlmsg_put_reply(msg, info, &shadow_genl_family, 0,
				SHADOW_CMD_SNAP_CREATE);
	if (!hdr)
		return -EMSGSIZE;
	list = nla_nest_start(msg, SHADOW_A_ORIGINS);
	if (!list)
		return -EMSGSIZE;
	for (i = 0; i < nr; i++) {
		nest = nla_nest_start(msg, SHADOW_A_ORIGIN);
		if (!nest ||
		    put_dev(msg, SHADOW_ORIGIN_A_MAJOR, m[i].o->md_dev) ||
		    put_md_name(msg, SHADOW_ORIGIN_A_NAME, m[i].md) ||
		    nla_put_u32(msg, SHADOW_ORIGIN_A_SNAP_ID, m[i].epoch))
			return -EMSGSIZE;
		nla_nest_end(msg, nest);
	}
	nla_nest_end(msg, list);
	if (nla_put_u64_64bit(msg, SHADOW_A_PAUSE_US, pause_us, SHADOW_A_PAD))
		return -EMSGSIZE;
	genlmsg_end(msg, hdr);
	return 0;
}

/* Collects the origins of a create request into @m; returns the count. */
static int collect_members(struct genl_info *info,
			   struct shadow_group_member *m)
{
	struct nlattr *list = info->attrs[SHADOW_A_ORIGINS];
	struct nlattr *one = info->attrs[SHADOW_A_ORIGIN];
	struct netlink_ext_ack *extack = info->extack;
	struct shadow_origin *o;
	struct nlattr *pos;
	int nr = 0, rem, i;

	if (list && one) {
		NL_SET_ERR_MSG(extack,
			       "Give SHADOW_A_ORIGIN or SHADOW_A_ORIGINS, not both");
		return -EINVAL;
	}
	if (!list) {
		o = nl_origin(one, extack, &m[0].md);
		if (IS_ERR(o))
			return PTR_ERR(o);
		m[0].o = o;
		return 1;
	}

	nla_for_each_nested(pos, list, rem) {
		if (nr == SHADOW_NL_GROUP_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, list,
					    "Too many origins in the group");
			goto bad;
		}
		o = nl_origin(pos, extack, &m[nr].md);
		if (IS_ERR(o)) {
			while (nr--)
				shadow_origin_put(m[nr].o, m[nr].md);
			return PTR_ERR(o);
		}
		m[nr].o = o;
		for (i = 0; i < nr; i++) {
			if (m[i].o == o) {
				nr++;
				NL_SET_ERR_MSG_ATTR(extack, pos,
						    "Origin listed twice");
				goto bad;
			}
		}
		nr++;
	}
	if (!nr) {
		NL_SET_ERR_MSG_ATTR(extack, list, "Empty origin list");
		return -EINVAL;
	}
	return nr;
bad:
	while (nr--)
		shadow_origin_put(m[nr].o, m[nr].md);
	return -EINVAL;
}

static int nl_snap_create(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct shadow_group_member *m;
	unsigned int timeout = SHADOW_NL_TIMEOUT_DEFAULT_MS;
	const char *label = NULL, *why = NULL;
	struct sk_buff *msg = NULL;
	u64 pause_us = 0;
	u32 flags = 0;
	int nr, i, r;

	if (info->attrs[SHADOW_A_FLAGS])
		flags = nla_get_u32(info->attrs[SHADOW_A_FLAGS]);
	if (info->attrs[SHADOW_A_TIMEOUT_MS])
		timeout = nla_get_u32(info->attrs[SHADOW_A_TIMEOUT_MS]);
	if (info->attrs[SHADOW_A_LABEL]) {
		label = nla_data(info->attrs[SHADOW_A_LABEL]);
		for (i = 0; label[i]; i++) {
			if (!isgraph(label[i])) {
				NL_SET_ERR_MSG_ATTR(extack,
						    info->attrs[SHADOW_A_LABEL],
						    "Label must be one word of printable characters");
				return -EINVAL;
			}
		}
	}

	m = kcalloc(SHADOW_NL_GROUP_MAX, sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	nr = collect_members(info, m);
	if (nr < 0) {
		r = nr;
		goto out_free;
	}
	for (i = 0; i < nr; i++) {
		if (!m[i].o->store->writable) {
			NL_SET_ERR_MSG(extack, "Origin table is read-only");
			r = -EROFS;
			goto out_put;
		}
		if (READ_ONCE(m[i].o->store->failed)) {
			NL_SET_ERR_MSG(extack, "Store has failed");
			r = -EIO;
			goto out_put;
		}
	}
	sort(m, nr, sizeof(*m), member_cmp, NULL);

	/* allocated first: a cut that succeeded is always reported */
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		r = -ENOMEM;
		goto out_put;
	}
	r = shadow_group_cut(m, nr, flags & SHADOW_F_FREEZE, timeout, label,
			     &pause_us, &why);
	if (r) {
		/* @why is a static string, as NL_SET_ERR_MSG() requires */
		if (extack)
			extack->_msg = why;
		if (r == -EIO || r == -ENOSPC || r == -ENOMEM)
			snap_errmsg(extack, r);
		goto out_put;
	}
	r = fill_create_reply(msg, info, m, nr, pause_us);
	if (r) {
		DMERR("cannot build the reply of a group cut");
		goto out_put;
	}
	r = genlmsg_reply(msg, info);
	msg = NULL;
out_put:
	nlmsg_free(msg);
	for (i = 0; i < nr; i++)
		shadow_origin_put(m[i].o, m[i].md);
out_free:
	kfree(m);
	return r;
}

/*
 * --------------------------------------------------------------
 * SHADOW_CMD_SNAP_DELETE, SHADOW_CMD_SNAP_SET_RO
 * --------------------------------------------------------------
 */

static int nl_snap_op(struct genl_info *info,
		      int (*op)(struct shadow_origin *o, u32 epoch))
{
	struct mapped_device *md;
	struct shadow_origin *o;
	int r;

	if (!info->attrs[SHADOW_A_SNAP_ID]) {
		GENL_SET_ERR_MSG(info, "Missing snapshot (SHADOW_A_SNAP_ID)");
		return -EINVAL;
	}
	o = nl_origin(info->attrs[SHADOW_A_ORIGIN], info->extack, &md);
	if (IS_ERR(o))
		return PTR_ERR(o);
	r = op(o, nla_get_u32(info->attrs[SHADOW_A_SNAP_ID]));
	if (r)
		snap_errmsg(info->extack, r);
	shadow_origin_put(o, md);
	return r;
}

static int nl_snap_delete(struct sk_buff *skb, struct genl_info *info)
{
	return nl_snap_op(info, shadow_origin_delete_snap);
}

static int nl_snap_set_ro(struct sk_buff *skb, struct genl_info *info)
{
	return nl_snap_op(info, shadow_origin_set_readonly);
}

/*
 * --------------------------------------------------------------
 * SHADOW_CMD_SNAP_GET
 * --------------------------------------------------------------
 */

struct snap_info {
	u32 id;
	u32 flags;
	u64 ctime;
	u64 exclusive;
	u64 shared;
	u64 private;
	u32 open;
	char label[SHADOW_LABEL_LEN + 1];
};

/* Caller holds store->lock. */
static void snap_info_get(struct shadow_store *store, struct shadow_snap *s,
			  struct snap_info *si)
{
	si->id = s->epoch;
	si->flags = s->flags;
	si->ctime = s->ctime;
	si->exclusive = shadow_store_exclusive(store, s);
	si->shared = s->nr_shared;
	si->private = s->nr_private;
	si->open = s->open_count;
	memcpy(si->label, s->label, sizeof(si->label));
}

static int snap_msg(struct sk_buff *skb, u32 portid, u32 seq, int flags,
		    const struct snap_info *si)
{
	struct nlattr *nest;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &shadow_genl_family, flags,
			  SHADOW_CMD_SNAP_GET);
	if (!hdr)
		return -EMSGSIZE;
	nest = nla_nest_start(skb, SHADOW_A_SNAP);
	if (!nest ||
	    nla_put_u32(skb, SHADOW_SNAP_A_ID, si->id) ||
	    nla_put_u64_64bit(skb, SHADOW_SNAP_A_CTIME, si->ctime,
			      SHADOW_SNAP_A_PAD) ||
	    ((si->flags & SHADOW_SNAP_RO) &&
	     nla_put_flag(skb, SHADOW_SNAP_A_READONLY)) ||
	    ((si->flags & SHADOW_SNAP_INVALID) &&
	     nla_put_flag(skb, SHADOW_SNAP_A_INVALID)) ||
	    (si->label[0] &&
	     nla_put_string(skb, SHADOW_SNAP_A_LABEL, si->label)) ||
	    nla_put_u64_64bit(skb, SHADOW_SNAP_A_EXCLUSIVE, si->exclusive,
			      SHADOW_SNAP_A_PAD) ||
	    nla_put_u64_64bit(skb, SHADOW_SNAP_A_SHARED, si->shared,
			      SHADOW_SNAP_A_PAD) ||
	    nla_put_u64_64bit(skb, SHADOW_SNAP_A_PRIVATE, si->private,
			      SHADOW_SNAP_A_PAD) ||
	    nla_put_u32(skb, SHADOW_SNAP_A_OPEN, si->open)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
}

static int nl_snap_get(struct sk_buff *skb, struct genl_info *info)
{
	struct mapped_device *md;
	struct shadow_origin *o;
	struct shadow_snap *s;
	struct snap_info si;
	struct sk_buff *msg;
	int r = 0;

	if (!info->attrs[SHADOW_A_SNAP_ID]) {
		GENL_SET_ERR_MSG(info,
				 "Missing snapshot (SHADOW_A_SNAP_ID); a dump lists all");
		return -EINVAL;
	}
	o = nl_origin(info->attrs[SHADOW_A_ORIGIN], info->extack, &md);
	if (IS_ERR(o))
		return PTR_ERR(o);

	spin_lock(&o->store->lock);
	s = shadow_store_find_snap(o->store,
				   nla_get_u32(info->attrs[SHADOW_A_SNAP_ID]));
	if (s)
		snap_info_get(o->store, s, &si);
	spin_unlock(&o->store->lock);
	if (!s) {
		r = -ENOENT;
		snap_errmsg(info->extack, r);
		goto out;
	}

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		r = -ENOMEM;
		goto out;
	}
	r = snap_msg(msg, info->snd_portid, info->snd_seq, 0, &si);
	if (r) {
		nlmsg_free(msg);
		goto out;
	}
	r = genlmsg_reply(msg, info);
out:
	shadow_origin_put(o, md);
	return r;
}

/*
 * Dumps check their request in the first dumpit call rather than in
 * .start: only dumpit has an extended ack to explain a refusal with
 * (it reaches the caller in the NLMSG_DONE message).
 *
 * Snapshot dump state in cb->args: [0] origin, [1] mapped device, [2] the
 * id of the last snapshot sent.
 */
static int nl_snap_dump_first(struct netlink_callback *cb)
{
	struct nlattr **attrs = shadow_dump_attrs(cb);
	struct mapped_device *md;
	struct shadow_origin *o;

	if (attrs[SHADOW_A_SNAP_ID]) {
		NL_SET_ERR_MSG(cb->extack,
			       "A dump lists every snapshot: drop SHADOW_A_SNAP_ID");
		return -EINVAL;
	}
	o = nl_origin(attrs[SHADOW_A_ORIGIN], cb->extack, &md);
	if (IS_ERR(o))
		return PTR_ERR(o);
	cb->args[0] = (long)o;
	cb->args[1] = (long)md;
	cb->args[2] = 0;
	return 0;
}

static int nl_snap_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct shadow_store *store;
	struct shadow_snap *s;
	struct snap_info si;
	bool found;
	int r;

	if (!cb->args[0]) {
		r = nl_snap_dump_first(cb);
		if (r)
			return r;
	}
	store = ((struct shadow_origin *)cb->args[0])->store;
	for (;;) {
		found = false;
		spin_lock(&store->lock);
		list_for_each_entry(s, &store->snaps, list) {
			if (s->epoch > cb->args[2]) {
				snap_info_get(store, s, &si);
				found = true;
				break;
			}
		}
		spin_unlock(&store->lock);
		if (!found)
			break;
		if (snap_msg(skb, NETLINK_CB(cb->skb).portid,
			     cb->nlh->nlmsg_seq, NLM_F_MULTI, &si))
			break;
		cb->args[2] = si.id;
	}
	return skb->len;
}

static int nl_snap_dump_done(struct netlink_callback *cb)
{
	if (cb->args[0])
		shadow_origin_put((struct shadow_origin *)cb->args[0],
				  (struct mapped_device *)cb->args[1]);
	return 0;
}

/*
 * --------------------------------------------------------------
 * SHADOW_CMD_DIFF_GET
 * --------------------------------------------------------------
 */

/**
 * struct diff_state - a diff dump in progress (cb->args[0]).
 * @o: the origin, referenced.
 * @md: its mapped device, held.
 * @changed: one bit per origin chunk that differs.
 * @nr_chunks: bits in @changed.
 * @next: first chunk not yet sent.
 */
struct diff_state {
	struct shadow_origin *o;
	struct mapped_device *md;
	unsigned long *changed;
	u32 nr_chunks;
	u32 next;
};

static int nl_diff_first(struct netlink_callback *cb)
{
	struct nlattr **attrs = shadow_dump_attrs(cb);
	struct netlink_ext_ack *extack = cb->extack;
	struct shadow_snap *from, *to = NULL;
	struct shadow_store *store;
	struct diff_state *d;
	u32 from_id, to_id = 0;
	int r;

	if (!attrs[SHADOW_A_SNAP_ID]) {
		NL_SET_ERR_MSG(extack, "Missing snapshot (SHADOW_A_SNAP_ID)");
		return -EINVAL;
	}
	from_id = nla_get_u32(attrs[SHADOW_A_SNAP_ID]);
	if (attrs[SHADOW_A_SNAP_ID_TO]) {
		to_id = nla_get_u32(attrs[SHADOW_A_SNAP_ID_TO]);
		if (to_id <= from_id) {
			NL_SET_ERR_MSG_ATTR(extack,
					    attrs[SHADOW_A_SNAP_ID_TO],
					    "The second snapshot must be later than the first");
			return -EINVAL;
		}
	}

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->o = nl_origin(attrs[SHADOW_A_ORIGIN], extack, &d->md);
	if (IS_ERR(d->o)) {
		r = PTR_ERR(d->o);
		goto bad_origin;
	}
	store = d->o->store;
	d->nr_chunks = d->o->nr_chunks;
	d->changed = kvcalloc(BITS_TO_LONGS(d->nr_chunks), sizeof(long),
			      GFP_KERNEL);
	if (!d->changed) {
		r = -ENOMEM;
		goto bad_bitmap;
	}

	r = 0;
	spin_lock(&store->lock);
	from = shadow_store_find_snap(store, from_id);
	if (to_id)
		to = shadow_store_find_snap(store, to_id);
	if (!from || (to_id && !to)) {
		NL_SET_ERR_MSG(extack, "No live snapshot with this id");
		r = -ENOENT;
	} else if ((from->flags & SHADOW_SNAP_INVALID) ||
		   (to && (to->flags & SHADOW_SNAP_INVALID))) {
		NL_SET_ERR_MSG(extack, "Snapshot is invalid");
		r = -ESTALE;
	} else {
		shadow_store_diff(store, from, to, d->changed, d->nr_chunks);
	}
	spin_unlock(&store->lock);
	if (r)
		goto bad_diff;
	cb->args[0] = (long)d;
	return 0;

bad_diff:
	kvfree(d->changed);
bad_bitmap:
	shadow_origin_put(d->o, d->md);
bad_origin:
	kfree(d);
	return r;
}

static int nl_diff_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct diff_state *d;
	sector_t chunk_sectors;
	struct nlattr *nest;
	unsigned int n = 0;
	u32 start, end;
	sector_t first, last;
	void *hdr;
	int r;

	if (!cb->args[0]) {
		r = nl_diff_first(cb);
		if (r)
			return r;
	}
	d = (struct diff_state *)cb->args[0];
	chunk_sectors = 1U << d->o->chunk_shift;
	start = find_next_bit(d->changed, d->nr_chunks, d->next);
	if (start >= d->nr_chunks)
		return 0;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &shadow_genl_family, NLM_F_MULTI,
			  SHADOW_CMD_DIFF_GET);
	if (!hdr)
		return -EMSGSIZE;
	while (start < d->nr_chunks && n < SHADOW_NL_EXTENTS_PER_MSG) {
		end = find_next_zero_bit(d->changed, d->nr_chunks, start);
		first = (sector_t)start * chunk_sectors;
		last = min_t(sector_t, (sector_t)end * chunk_sectors,
			     d->o->origin_sectors);
		nest = nla_nest_start(skb, SHADOW_A_EXTENT);
		if (!nest ||
		    nla_put_u64_64bit(skb, SHADOW_EXTENT_A_START, first,
				      SHADOW_EXTENT_A_PAD) ||
		    nla_put_u64_64bit(skb, SHADOW_EXTENT_A_LEN, last - first,
				      SHADOW_EXTENT_A_PAD)) {
			if (nest)
				nla_nest_cancel(skb, nest);
			break;
		}
		nla_nest_end(skb, nest);
		n++;
		d->next = end;
		start = find_next_bit(d->changed, d->nr_chunks, end);
	}
	if (!n) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return skb->len;
}

static int nl_diff_done(struct netlink_callback *cb)
{
	struct diff_state *d = (struct diff_state *)cb->args[0];

	if (d) {
		kvfree(d->changed);
		shadow_origin_put(d->o, d->md);
		kfree(d);
	}
	return 0;
}

/*
 * --------------------------------------------------------------
 * SHADOW_CMD_SET_WATER
 * --------------------------------------------------------------
 */

static int nl_set_water(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *low_a = info->attrs[SHADOW_A_LOW_WATER];
	struct nlattr *high_a = info->attrs[SHADOW_A_HIGH_WATER];
	struct mapped_device *md;
	struct shadow_origin *o;
	unsigned int low, high;
	int r = 0;

	if (!low_a && !high_a) {
		GENL_SET_ERR_MSG(info,
				 "Give SHADOW_A_LOW_WATER, SHADOW_A_HIGH_WATER or both");
		return -EINVAL;
	}
	o = nl_origin(info->attrs[SHADOW_A_ORIGIN], info->extack, &md);
	if (IS_ERR(o))
		return PTR_ERR(o);
	low = low_a ? nla_get_u32(low_a) : READ_ONCE(o->low_water);
	high = high_a ? nla_get_u32(high_a) : READ_ONCE(o->high_water);
	if (low && high && low > high) {
		GENL_SET_ERR_MSG(info, "Low threshold is above high threshold");
		r = -EINVAL;
	} else {
		shadow_origin_set_water(o, low, high);
	}
	shadow_origin_put(o, md);
	return r;
}

/*
 * --------------------------------------------------------------
 * Events
 * --------------------------------------------------------------
 */

/**
 * shadow_nl_notify() - announce a change on the events group
 * @o: the origin
 * @event: what happened
 * @id: the snapshot, 0 for origin events
 *
 * Any context but hard interrupts.  Every event takes the next sequence
 * number, even when the message cannot be allocated, so that listeners
 * see the gap; events leave in sequence order.
 */
void shadow_nl_notify(struct shadow_origin *o, enum shadow_nl_event event,
		      u32 id)
{
	struct nlattr *seq_attr = NULL, *nest;
	struct sk_buff *skb;
	unsigned long flags;
	void *hdr;
	u64 seq;

	skb = genlmsg_new(NLMSG_GOODSIZE / 8, GFP_ATOMIC);
	if (skb) {
		hdr = genlmsg_put(skb, 0, 0, &shadow_genl_family, 0,
				  SHADOW_CMD_EVENT);
		if (!hdr)
			goto bad;
		seq_attr = nla_reserve_64bit(skb, SHADOW_A_EVENT_SEQ,
					     sizeof(u64), SHADOW_A_PAD);
		if (!seq_attr ||
		    nla_put_u32(skb, SHADOW_A_EVENT_TYPE, event))
			goto bad;
		nest = nla_nest_start(skb, SHADOW_A_ORIGIN);
		if (!nest || put_dev(skb, SHADOW_ORIGIN_A_MAJOR, o->md_dev))
			goto bad;
		nla_nest_end(skb, nest);
		if (id && nla_put_u32(skb, SHADOW_A_SNAP_ID, id))
			goto bad;
		genlmsg_end(skb, hdr);
	}
send:
	spin_lock_irqsave(&shadow_event_lock, flags);
	seq = ++shadow_event_seq;
	if (skb) {
		memcpy(nla_data(seq_attr), &seq, sizeof(seq));
		genlmsg_multicast(&shadow_genl_family, skb, 0,
				  SHADOW_MCGRP_EVENTS, GFP_ATOMIC);
	}
	spin_unlock_irqrestore(&shadow_event_lock, flags);
	return;
bad:
	nlmsg_free(skb);
	skb = NULL;
	goto send;
}

/*
 * --------------------------------------------------------------
 * Family
 * --------------------------------------------------------------
 */

static const struct genl_ops shadow_genl_ops[] = {
	{
		.cmd = SHADOW_CMD_ORIGIN_GET,
		.flags = GENL_ADMIN_PERM,
		.doit = nl_origin_get,
		.dumpit = nl_origin_dump,
	},
	{
		.cmd = SHADOW_CMD_SNAP_CREATE,
		.flags = GENL_ADMIN_PERM,
		.doit = nl_snap_create,
	},
	{
		.cmd = SHADOW_CMD_SNAP_DELETE,
		.flags = GENL_ADMIN_PERM,
		.doit = nl_snap_delete,
	},
	{
		.cmd = SHADOW_CMD_SNAP_GET,
		.flags = GENL_ADMIN_PERM,
		.doit = nl_snap_get,
		.dumpit = nl_snap_dump,
		.done = nl_snap_dump_done,
	},
	{
		.cmd = SHADOW_CMD_SNAP_SET_RO,
		.flags = GENL_ADMIN_PERM,
		.doit = nl_snap_set_ro,
	},
	{
		.cmd = SHADOW_CMD_DIFF_GET,
		.flags = GENL_ADMIN_PERM,
		.dumpit = nl_diff_dump,
		.done = nl_diff_done,
	},
	{
		.cmd = SHADOW_CMD_SET_WATER,
		.flags = GENL_ADMIN_PERM,
		.doit = nl_set_water,
	},
};

static struct genl_family shadow_genl_family __ro_after_init = {
	.name = SHADOW_GENL_NAME,
	.version = SHADOW_GENL_VERSION,
	.maxattr = SHADOW_A_MAX,
	.policy = shadow_policy,
	/* a freeze may take seconds: do not hold the genl mutex for it */
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = shadow_genl_ops,
	.n_ops = ARRAY_SIZE(shadow_genl_ops),
	.mcgrps = shadow_mcgrps,
	.n_mcgrps = ARRAY_SIZE(shadow_mcgrps),
};

int __init shadow_nl_init(void)
{
	return genl_register_family(&shadow_genl_family);
}

void shadow_nl_exit(void)
{
	genl_unregister_family(&shadow_genl_family);
}
