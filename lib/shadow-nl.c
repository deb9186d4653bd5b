// SPDX-License-Identifier: GPL-2.0
/*
 * shadow-nl: the dm_shadow generic netlink family over libnl-genl-3.
 *
 * One request at a time per handle: build the message, send it with
 * NLM_F_ACK (libnl's auto-ack), read until the ack, the error or the end
 * of the dump.  libnl 3.7 neither enables nor reads extended acks, so the
 * socket gets NETLINK_EXT_ACK here and the error and finish handlers read
 * the NLMSGERR_ATTR_* TLVs themselves.
 */
#include "shadow-nl.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <libdevmapper.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NO_FAMILY_MSG "dm-shadow netlink family not found (is dm-shadow loaded?)"

struct shadow_nl {
	struct nl_sock *sk;
	int family;
};

struct shadow_nl_events {
	struct nl_sock *sk;
	struct shadow_seq seq;
};

/* ============================================================== errors */

int shadow_nl_seterr(struct shadow_nl_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (!err->msg[0] && code)
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(-code));
	return code;
}

/* libnl's own error codes back to errno, for what its calls report. */
static int nlerr_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_MSG_TRUNC:
	case NLE_MSG_TOOSHORT:
	case NLE_SEQ_MISMATCH:
	case NLE_PARSE_ERR:
		return -EPROTO;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

static int nl_fail(struct shadow_nl_err *err, int nlerr, const char *what)
{
	return shadow_nl_seterr(err, nlerr_errno(nlerr), "%s: %s", what,
				nl_geterror(nlerr));
}

/* ======================================================== names, format */

static const char *const attr_names[SHADOW_A_MAX + 1] = {
	[SHADOW_A_ORIGIN] = "origin",
	[SHADOW_A_ORIGINS] = "origins",
	[SHADOW_A_SNAP] = "snap",
	[SHADOW_A_SNAP_ID] = "snap_id",
	[SHADOW_A_SNAP_ID_TO] = "snap_id_to",
	[SHADOW_A_FLAGS] = "flags",
	[SHADOW_A_TIMEOUT_MS] = "timeout_ms",
	[SHADOW_A_LABEL] = "label",
	[SHADOW_A_PAUSE_US] = "pause_us",
	[SHADOW_A_LOW_WATER] = "low_water",
	[SHADOW_A_HIGH_WATER] = "high_water",
	[SHADOW_A_EXTENT] = "extent",
	[SHADOW_A_EVENT_SEQ] = "event_seq",
	[SHADOW_A_EVENT_TYPE] = "event_type",
	[SHADOW_A_PAD] = "pad",
};

static const char *const origin_attr_names[SHADOW_ORIGIN_A_MAX + 1] = {
	[SHADOW_ORIGIN_A_MAJOR] = "major",
	[SHADOW_ORIGIN_A_MINOR] = "minor",
	[SHADOW_ORIGIN_A_NAME] = "name",
	[SHADOW_ORIGIN_A_DEV_MAJOR] = "dev_major",
	[SHADOW_ORIGIN_A_DEV_MINOR] = "dev_minor",
	[SHADOW_ORIGIN_A_STORE_MAJOR] = "store_major",
	[SHADOW_ORIGIN_A_STORE_MINOR] = "store_minor",
	[SHADOW_ORIGIN_A_SECTORS] = "sectors",
	[SHADOW_ORIGIN_A_CHUNK_SECTORS] = "chunk_sectors",
	[SHADOW_ORIGIN_A_STORE_USED] = "store_used",
	[SHADOW_ORIGIN_A_STORE_TOTAL] = "store_total",
	[SHADOW_ORIGIN_A_META_USED] = "meta_used",
	[SHADOW_ORIGIN_A_META_TOTAL] = "meta_total",
	[SHADOW_ORIGIN_A_NR_SNAPS] = "nr_snaps",
	[SHADOW_ORIGIN_A_EPOCH] = "epoch",
	[SHADOW_ORIGIN_A_STATE] = "state",
	[SHADOW_ORIGIN_A_FAIL_REASON] = "fail_reason",
	[SHADOW_ORIGIN_A_OVERFLOW] = "overflow",
	[SHADOW_ORIGIN_A_LOW_WATER] = "low_water",
	[SHADOW_ORIGIN_A_HIGH_WATER] = "high_water",
	[SHADOW_ORIGIN_A_SNAP_ID] = "snap_id",
	[SHADOW_ORIGIN_A_PAD] = "pad",
};

static const char *const event_names[SHADOW_EVENT_MAX + 1] = {
	[SHADOW_EVENT_ORIGIN_ADD] = "origin-add",
	[SHADOW_EVENT_ORIGIN_REMOVE] = "origin-remove",
	[SHADOW_EVENT_SNAP_CREATE] = "snap-create",
	[SHADOW_EVENT_SNAP_DELETE] = "snap-delete",
	[SHADOW_EVENT_SNAP_DROP] = "snap-drop",
	[SHADOW_EVENT_SNAP_SET_RO] = "snap-set-ro",
	[SHADOW_EVENT_SNAP_INVALID] = "snap-invalid",
	[SHADOW_EVENT_LOW_WATER] = "low-water",
	[SHADOW_EVENT_HIGH_WATER] = "high-water",
	[SHADOW_EVENT_STORE_FAIL] = "store-fail",
};

const char *shadow_attr_name(unsigned int type)
{
	return type <= SHADOW_A_MAX ? attr_names[type] : NULL;
}

const char *shadow_origin_attr_name(unsigned int type)
{
	return type <= SHADOW_ORIGIN_A_MAX ? origin_attr_names[type] : NULL;
}

const char *shadow_event_name(uint32_t type)
{
	return type <= SHADOW_EVENT_MAX ? event_names[type] : NULL;
}

const char *shadow_state_name(uint32_t state)
{
	switch (state) {
	case SHADOW_STATE_RW:
		return "rw";
	case SHADOW_STATE_RO:
		return "ro";
	case SHADOW_STATE_FAIL:
		return "Fail";
	}
	return NULL;
}

const char *shadow_overflow_name(uint32_t policy)
{
	switch (policy) {
	case SHADOW_OVERFLOW_POLICY_DROP_OLDEST:
		return "drop_oldest";
	case SHADOW_OVERFLOW_POLICY_INVALIDATE:
		return "invalidate";
	}
	return NULL;
}

char *shadow_format_dev(struct shadow_dev dev, char *buf, size_t len)
{
	snprintf(buf, len, "%u:%u", dev.major, dev.minor);
	return buf;
}

char *shadow_format_ctime(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	char date[24];
	struct tm tm;
	long off;

	if (!ns || !localtime_r(&t, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "-");
		return buf;
	}
	off = tm.tm_gmtoff / 60;
	snprintf(buf, len, "%s%c%02ld:%02ld", date, off < 0 ? '-' : '+',
		 labs(off) / 60, labs(off) % 60);
	return buf;
}

char *shadow_format_pause(uint64_t us, char *buf, size_t len)
{
	if (us < 1000)
		snprintf(buf, len, "%lluus", (unsigned long long)us);
	else if (us < 1000000)
		snprintf(buf, len, "%llu.%llums", (unsigned long long)(us / 1000),
			 (unsigned long long)(us % 1000 / 100));
	else
		snprintf(buf, len, "%llu.%02llus",
			 (unsigned long long)(us / 1000000),
			 (unsigned long long)(us % 1000000 / 10000));
	return buf;
}

void shadow_json_string(FILE *f, const char *s)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

int shadow_label_check(const char *label)
{
	const unsigned char *p;

	if (!label || !*label)
		return -EINVAL;
	if (strlen(label) > SHADOW_NL_LABEL_MAX)
		return -ENAMETOOLONG;
	for (p = (const unsigned char *)label; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return -EINVAL;
	return 0;
}

int shadow_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *v)
{
	unsigned long long x = 0;
	const char *p;

	if (!s || !*s)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		x = x * 10 + (unsigned int)(*p - '0');
		if (x > UINT32_MAX)
			return -ERANGE;
	}
	if (x < min || x > max)
		return -ERANGE;
	*v = (uint32_t)x;
	return 0;
}

/* ========================================================= origin specs */

#define DEV_MAJOR_MAX	4095U		/* 12 bits */
#define DEV_MINOR_MAX	1048575U	/* 20 bits */

enum shadow_spec_kind shadow_spec_classify(const char *spec,
					   struct shadow_dev *dev)
{
	const char *colon;
	uint32_t maj, min;
	char buf[16];

	if (!spec || !*spec || !strcmp(spec, ".") || !strcmp(spec, ".."))
		return SHADOW_SPEC_INVALID;
	if (strchr(spec, '/'))
		return SHADOW_SPEC_PATH;
	colon = strchr(spec, ':');
	if (colon && spec[strspn(spec, "0123456789:")] == '\0' &&
	    strchr(colon + 1, ':') == NULL) {
		size_t n = (size_t)(colon - spec);

		if (!n || n >= sizeof(buf))
			return SHADOW_SPEC_INVALID;
		memcpy(buf, spec, n);
		buf[n] = '\0';
		if (shadow_parse_u32(buf, 0, DEV_MAJOR_MAX, &maj) ||
		    shadow_parse_u32(colon + 1, 0, DEV_MINOR_MAX, &min))
			return SHADOW_SPEC_INVALID;
		if (dev) {
			dev->major = maj;
			dev->minor = min;
		}
		return SHADOW_SPEC_DEVNO;
	}
	if (strlen(spec) >= SHADOW_NL_NAMELEN)
		return SHADOW_SPEC_INVALID;
	return SHADOW_SPEC_NAME;
}

static int dm_info(struct dm_task *dmt, struct dm_info *info)
{
	if (!dm_task_run(dmt))
		return -ENXIO;
	if (!dm_task_get_info(dmt, info))
		return -EIO;
	return info->exists ? 0 : -ENODEV;
}

int shadow_resolve_origin(const char *spec, struct shadow_dev *dev,
			  struct shadow_nl_err *err)
{
	struct dm_task *dmt;
	struct dm_info info;
	struct stat st;
	int r;

	switch (shadow_spec_classify(spec, dev)) {
	case SHADOW_SPEC_DEVNO:
		return 0;
	case SHADOW_SPEC_PATH:
		if (stat(spec, &st) < 0)
			return shadow_nl_seterr(err, -errno, "%s: %s", spec,
						strerror(errno));
		if (!S_ISBLK(st.st_mode))
			return shadow_nl_seterr(err, -ENOTBLK,
						"%s: not a block device", spec);
		dev->major = major(st.st_rdev);
		dev->minor = minor(st.st_rdev);
		return 0;
	case SHADOW_SPEC_NAME:
		break;
	default:
		return shadow_nl_seterr(err, -EINVAL,
					"'%s': not a device-mapper name, a path or MAJ:MIN",
					spec ? spec : "");
	}

	dmt = dm_task_create(DM_DEVICE_INFO);
	if (!dmt)
		return shadow_nl_seterr(err, -ENXIO,
					"cannot reach device-mapper (is dm-mod loaded?)");
	if (!dm_task_set_name(dmt, spec)) {
		dm_task_destroy(dmt);
		return shadow_nl_seterr(err, -EINVAL, "'%s': invalid device-mapper name",
					spec);
	}
	r = dm_info(dmt, &info);
	dm_task_destroy(dmt);
	if (r == -ENXIO)
		return shadow_nl_seterr(err, r, "cannot reach device-mapper (is dm-mod loaded?)");
	if (r == -ENODEV)
		return shadow_nl_seterr(err, r, "%s: no such device-mapper device", spec);
	if (r)
		return shadow_nl_seterr(err, r, "%s: device-mapper info failed", spec);
	dev->major = (uint32_t)info.major;
	dev->minor = (uint32_t)info.minor;
	return 0;
}

int shadow_dm_name(struct shadow_dev dev, char *buf, size_t len)
{
	struct dm_task *dmt;
	struct dm_info info;
	const char *name;
	int r;

	dmt = dm_task_create(DM_DEVICE_INFO);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_major(dmt, (int)dev.major) ||
	    !dm_task_set_minor(dmt, (int)dev.minor)) {
		dm_task_destroy(dmt);
		return -EINVAL;
	}
	r = dm_info(dmt, &info);
	if (!r) {
		name = dm_task_get_name(dmt);
		if (name && *name)
			snprintf(buf, len, "%s", name);
		else
			r = -ENODEV;
	}
	dm_task_destroy(dmt);
	return r == -ENXIO ? -ENODEV : r;
}

/* =================================================== sequence, extents */

bool shadow_seq_check(struct shadow_seq *t, uint64_t seq, uint64_t *expected)
{
	uint64_t want = t->last + 1;

	if (!t->started) {
		t->started = true;
		t->last = seq;
		return false;
	}
	if (seq == want) {
		t->last = seq;
		return false;
	}
	/* The counter starts again at 1 when the module is reloaded. */
	if (seq > want || (seq == 1 && t->last > 1)) {
		if (expected)
			*expected = want;
		t->last = seq;
		return true;
	}
	return false;
}

void shadow_seq_sync(struct shadow_seq *t, uint64_t seq)
{
	if (!t->started || seq > t->last)
		t->last = seq;
	t->started = true;
}

int shadow_extent_merge_add(struct shadow_extent_merge *m,
			    const struct shadow_extent *e,
			    shadow_extent_cb cb, void *arg)
{
	uint64_t end;
	int r = 0;

	if (!e->len || e->start > UINT64_MAX - e->len)
		return -EPROTO;
	if (m->have) {
		end = m->cur.start + m->cur.len;
		if (e->start < end)
			return -EPROTO;
		if (e->start == end) {
			m->cur.len += e->len;
			m->nr_in++;
			m->sectors += e->len;
			return 0;
		}
		r = cb ? cb(&m->cur, arg) : 0;
		m->nr_out++;
	}
	m->cur = *e;
	m->have = true;
	m->nr_in++;
	m->sectors += e->len;
	return r;
}

int shadow_extent_merge_flush(struct shadow_extent_merge *m,
			      shadow_extent_cb cb, void *arg)
{
	int r;

	if (!m->have)
		return 0;
	m->have = false;
	m->nr_out++;
	r = cb ? cb(&m->cur, arg) : 0;
	return r;
}

int shadow_extent_list_add(struct shadow_extent_list *l,
			   const struct shadow_extent *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct shadow_extent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *e;
	return 0;
}

void shadow_extent_list_free(struct shadow_extent_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* ======================================================= extended ack */

/*
 * Name of the attribute at byte @offs of the request @req, as a dotted
 * path ("origins.origin.major").  Returns false when no attribute starts
 * there.
 */
static bool attr_path(const struct nlattr *head, int len, size_t base,
		      size_t offs, bool origin_nest, char *buf, size_t buflen)
{
	const struct nlattr *a;
	int rem;

	nla_for_each_attr(a, head, len, rem) {
		size_t at = base + (size_t)((const char *)a - (const char *)head);
		int type = nla_type(a);
		const char *name = origin_nest ? shadow_origin_attr_name(type)
					       : shadow_attr_name(type);
		size_t used = strlen(buf);
		char num[16];

		if (offs < at || offs >= at + (size_t)a->nla_len)
			continue;
		if (!name) {
			snprintf(num, sizeof(num), "%d", type);
			name = num;
		}
		snprintf(buf + used, buflen - used, "%s%s", used ? "." : "", name);
		if (offs == at)
			return true;
		/* inside: only the nests of this family are walked */
		if (!origin_nest && (type == SHADOW_A_ORIGIN ||
				     type == SHADOW_A_ORIGINS))
			return attr_path(nla_data(a), nla_len(a),
					 at + NLA_HDRLEN, offs,
					 type == SHADOW_A_ORIGIN, buf, buflen);
		return false;
	}
	return false;
}

static bool req_attr_path(const void *req, uint32_t offs, char *buf,
			  size_t buflen)
{
	const struct nlmsghdr *nlh = req;
	size_t start = NLMSG_HDRLEN + GENL_HDRLEN;

	buf[0] = '\0';
	if (!req || nlh->nlmsg_len < start || offs < start ||
	    offs >= nlh->nlmsg_len)
		return false;
	return attr_path((const struct nlattr *)((const char *)req + start),
			 (int)(nlh->nlmsg_len - start), start, offs, false,
			 buf, buflen);
}

/* Type of the attribute (a nest) starting at @offs of @req, or -1. */
static int req_attr_type(const void *req, uint32_t offs)
{
	const struct nlmsghdr *nlh = req;
	const struct nlattr *a;

	if (!req || offs < NLMSG_HDRLEN + GENL_HDRLEN ||
	    (size_t)offs + NLA_HDRLEN > nlh->nlmsg_len)
		return -1;
	a = (const struct nlattr *)((const char *)req + offs);
	return nla_type(a);
}

void shadow_nl_extack_msg(const void *msg, size_t len, const void *req,
			  char *buf, size_t buflen)
{
	const struct nlmsghdr *nlh = msg;
	const struct nlattr *a, *tlvs;
	const char *text = NULL;
	bool has_offs = false, has_miss = false, has_nest = false;
	uint32_t offs = 0, miss = 0, nest = 0;
	char path[96];
	size_t at, end;
	int rem;

	buf[0] = '\0';
	if (len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN)
		return;
	end = nlh->nlmsg_len < len ? nlh->nlmsg_len : len;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e;

		if (end < NLMSG_HDRLEN + sizeof(*e))
			return;
		e = (const struct nlmsgerr *)((const char *)msg + NLMSG_HDRLEN);
		at = NLMSG_HDRLEN + sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
			if (e->msg.nlmsg_len < NLMSG_HDRLEN)
				return;
			at += e->msg.nlmsg_len - NLMSG_HDRLEN;
		}
	} else if (nlh->nlmsg_type == NLMSG_DONE) {
		at = NLMSG_HDRLEN + sizeof(int);
	} else {
		return;
	}
	at = NLMSG_ALIGN(at);
	if (at >= end)
		return;

	tlvs = (const struct nlattr *)((const char *)msg + at);
	nla_for_each_attr(a, tlvs, (int)(end - at), rem) {
		switch (nla_type(a)) {
		case NLMSGERR_ATTR_MSG:
			if (nla_len(a) > 0 &&
			    memchr(nla_data(a), '\0', (size_t)nla_len(a)))
				text = nla_data(a);
			break;
		case NLMSGERR_ATTR_OFFS:
			if (nla_len(a) == 4) {
				offs = nla_get_u32((struct nlattr *)a);
				has_offs = true;
			}
			break;
		case NLMSGERR_ATTR_MISS_TYPE:
			if (nla_len(a) == 4) {
				miss = nla_get_u32((struct nlattr *)a);
				has_miss = true;
			}
			break;
		case NLMSGERR_ATTR_MISS_NEST:
			if (nla_len(a) == 4) {
				nest = nla_get_u32((struct nlattr *)a);
				has_nest = true;
			}
			break;
		}
	}

	if (text && *text) {
		if (has_offs && req_attr_path(req, offs, path, sizeof(path)))
			snprintf(buf, buflen, "%s (attribute %s)", text, path);
		else
			snprintf(buf, buflen, "%s", text);
	} else if (has_miss) {
		const char *name = NULL;

		if (has_nest && req_attr_type(req, nest) == SHADOW_A_ORIGIN)
			name = shadow_origin_attr_name(miss);
		else if (!has_nest)
			name = shadow_attr_name(miss);
		if (name)
			snprintf(buf, buflen, "missing attribute %s", name);
		else
			snprintf(buf, buflen, "missing attribute %u", miss);
	} else if (has_offs && req_attr_path(req, offs, path, sizeof(path))) {
		snprintf(buf, buflen, "invalid attribute %s", path);
	}
}

/* ========================================================= the socket */

static int enable_ext_ack(struct nl_sock *sk)
{
	int one = 1;

	return setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK,
			  &one, sizeof(one));
}

static struct nl_sock *connect_family(int *family, struct shadow_nl_err *err)
{
	struct nl_sock *sk;
	int r;

	sk = nl_socket_alloc();
	if (!sk) {
		shadow_nl_seterr(err, -ENOMEM, "cannot allocate a netlink socket");
		return NULL;
	}
	r = genl_connect(sk);
	if (r < 0) {
		nl_fail(err, r, "generic netlink");
		goto fail;
	}
	/* dump messages may be larger than libnl's one-page first read */
	nl_socket_enable_msg_peek(sk);
	if (enable_ext_ack(sk) < 0) {
		shadow_nl_seterr(err, -errno, "NETLINK_EXT_ACK: %s", strerror(errno));
		goto fail;
	}
	r = genl_ctrl_resolve(sk, SHADOW_GENL_NAME);
	if (r < 0) {
		if (r == -NLE_OBJ_NOTFOUND)
			shadow_nl_seterr(err, -ENOENT, NO_FAMILY_MSG);
		else
			nl_fail(err, r, "resolving " SHADOW_GENL_NAME);
		goto fail;
	}
	*family = r;
	return sk;
fail:
	nl_socket_free(sk);
	return NULL;
}

struct shadow_nl *shadow_nl_open(struct shadow_nl_err *err)
{
	struct shadow_nl *nl = calloc(1, sizeof(*nl));

	if (!nl) {
		shadow_nl_seterr(err, -ENOMEM, "out of memory");
		return NULL;
	}
	nl->sk = connect_family(&nl->family, err);
	if (!nl->sk) {
		free(nl);
		return NULL;
	}
	return nl;
}

void shadow_nl_close(struct shadow_nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

/* ====================================================== request / reply */

struct req {
	struct shadow_nl *nl;
	struct nl_msg *msg;
	/* one reply message; returns 0 or a negative errno (a bad reply) */
	int (*parse)(struct req *rq, struct nlattr **tb,
		     const struct nlmsghdr *nlh);
	void *arg;
	int nr_replies;
	bool done;
	bool stopped;		/* the caller's callback said stop */
	int error;		/* from the kernel or a bad reply */
	int cb_ret;
	char text[SHADOW_NL_ERRLEN];
};

static struct nla_policy top_policy[SHADOW_A_MAX + 1] = {
	[SHADOW_A_ORIGIN] = { .type = NLA_NESTED },
	[SHADOW_A_ORIGINS] = { .type = NLA_NESTED },
	[SHADOW_A_SNAP] = { .type = NLA_NESTED },
	[SHADOW_A_SNAP_ID] = { .type = NLA_U32, .minlen = 4, .maxlen = 4 },
	[SHADOW_A_SNAP_ID_TO] = { .type = NLA_U32, .minlen = 4, .maxlen = 4 },
	[SHADOW_A_FLAGS] = { .type = NLA_U32, .minlen = 4, .maxlen = 4 },
	[SHADOW_A_TIMEOUT_MS] = { .type = NLA_U32, .minlen = 4, .maxlen = 4 },
	[SHADOW_A_LABEL] = { .type = NLA_STRING, .maxlen = SHADOW_NL_LABEL_MAX + 1 },
	[SHADOW_A_PAUSE_US] = { .type = NLA_U64, .minlen = 8, .maxlen = 8 },
	[SHADOW_A_LOW_WATER] = { .type = NLA_U32, .minlen = 4, .maxlen = 4 },
	[SHADOW_A_HIGH_WATER] = { .type = NLA_U32, .minlen = 4, .maxlen = 4 },
	[SHADOW_A_EXTENT] = { .type = NLA_NESTED },
	[SHADOW_A_EVENT_SEQ] = { .type = NLA_U64, .minlen = 8, .maxlen = 8 },
	[SHADOW_A_EVENT_TYPE] = { .type = NLA_U32, .minlen = 4, .maxlen = 4 },
};

#define U32_POL { .type = NLA_U32, .minlen = 4, .maxlen = 4 }
#define U64_POL { .type = NLA_U64, .minlen = 8, .maxlen = 8 }

static struct nla_policy origin_policy[SHADOW_ORIGIN_A_MAX + 1] = {
	[SHADOW_ORIGIN_A_MAJOR] = U32_POL,
	[SHADOW_ORIGIN_A_MINOR] = U32_POL,
	[SHADOW_ORIGIN_A_NAME] = { .type = NLA_STRING, .maxlen = SHADOW_NL_NAMELEN },
	[SHADOW_ORIGIN_A_DEV_MAJOR] = U32_POL,
	[SHADOW_ORIGIN_A_DEV_MINOR] = U32_POL,
	[SHADOW_ORIGIN_A_STORE_MAJOR] = U32_POL,
	[SHADOW_ORIGIN_A_STORE_MINOR] = U32_POL,
	[SHADOW_ORIGIN_A_SECTORS] = U64_POL,
	[SHADOW_ORIGIN_A_CHUNK_SECTORS] = U32_POL,
	[SHADOW_ORIGIN_A_STORE_USED] = U64_POL,
	[SHADOW_ORIGIN_A_STORE_TOTAL] = U64_POL,
	[SHADOW_ORIGIN_A_META_USED] = U64_POL,
	[SHADOW_ORIGIN_A_META_TOTAL] = U64_POL,
	[SHADOW_ORIGIN_A_NR_SNAPS] = U32_POL,
	[SHADOW_ORIGIN_A_EPOCH] = U32_POL,
	[SHADOW_ORIGIN_A_STATE] = U32_POL,
	[SHADOW_ORIGIN_A_FAIL_REASON] = { .type = NLA_STRING },
	[SHADOW_ORIGIN_A_OVERFLOW] = U32_POL,
	[SHADOW_ORIGIN_A_LOW_WATER] = U32_POL,
	[SHADOW_ORIGIN_A_HIGH_WATER] = U32_POL,
	[SHADOW_ORIGIN_A_SNAP_ID] = U32_POL,
};

static struct nla_policy snap_policy[SHADOW_SNAP_A_MAX + 1] = {
	[SHADOW_SNAP_A_ID] = U32_POL,
	[SHADOW_SNAP_A_CTIME] = U64_POL,
	[SHADOW_SNAP_A_READONLY] = { .type = NLA_FLAG },
	[SHADOW_SNAP_A_INVALID] = { .type = NLA_FLAG },
	[SHADOW_SNAP_A_LABEL] = { .type = NLA_STRING, .maxlen = SHADOW_NL_LABEL_MAX + 1 },
	[SHADOW_SNAP_A_EXCLUSIVE] = U64_POL,
	[SHADOW_SNAP_A_SHARED] = U64_POL,
	[SHADOW_SNAP_A_PRIVATE] = U64_POL,
	[SHADOW_SNAP_A_OPEN] = U32_POL,
};

static struct nla_policy extent_policy[SHADOW_EXTENT_A_MAX + 1] = {
	[SHADOW_EXTENT_A_START] = U64_POL,
	[SHADOW_EXTENT_A_LEN] = U64_POL,
};

static int bad_reply(struct req *rq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad_reply(struct req *rq, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(rq->text, sizeof(rq->text), "malformed reply from the kernel: ");
	va_start(ap, fmt);
	vsnprintf(rq->text + n, sizeof(rq->text) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct req *rq = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[SHADOW_A_MAX + 1];
	int r;

	rq->nr_replies++;
	if (rq->error || rq->stopped || !rq->parse)
		return NL_SKIP;
	r = genlmsg_parse(nlh, 0, tb, SHADOW_A_MAX, top_policy);
	if (r < 0) {
		rq->error = bad_reply(rq, "%s", nl_geterror(r));
		return NL_SKIP;
	}
	r = rq->parse(rq, tb, nlh);
	if (r < 0 && !rq->stopped)
		rq->error = r;
	return NL_SKIP;
}

static void take_extack(struct req *rq, const struct nlmsghdr *nlh)
{
	shadow_nl_extack_msg(nlh, nlh->nlmsg_len,
			     rq->msg ? nlmsg_hdr(rq->msg) : NULL, rq->text,
			     sizeof(rq->text));
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct req *rq = arg;
	const struct nlmsghdr *nlh =
		(const struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);

	rq->error = e->error;
	take_extack(rq, nlh);
	rq->done = true;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct req *rq = arg;

	rq->done = true;
	return NL_STOP;
}

/* NLMSG_DONE carries the dump's final status, and an extack with it. */
static int on_finish(struct nl_msg *msg, void *arg)
{
	struct req *rq = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int status;

	if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
		memcpy(&status, nlmsg_data(nlh), sizeof(status));
		if (status < 0) {
			rq->error = status;
			take_extack(rq, nlh);
		}
	}
	rq->done = true;
	return NL_STOP;
}

/* A request with the origin nest in it, or NULL. */
static struct nl_msg *new_req(struct shadow_nl *nl, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags,
			 cmd, SHADOW_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static int put_origin(struct nl_msg *msg, int type, struct shadow_dev dev)
{
	struct nlattr *nest = nla_nest_start(msg, type | NLA_F_NESTED);

	if (!nest || nla_put_u32(msg, SHADOW_ORIGIN_A_MAJOR, dev.major) ||
	    nla_put_u32(msg, SHADOW_ORIGIN_A_MINOR, dev.minor))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

/*
 * Send rq->msg (consumed) and read until the ack, error or end of dump.
 * Returns 0 or a negative errno, with @err filled.
 */
static int run_req(struct req *rq, struct shadow_nl_err *err)
{
	struct nl_sock *sk = rq->nl->sk;
	struct nl_cb *cb;
	int r;

	cb = nl_cb_alloc(NL_CB_CUSTOM);
	if (!cb) {
		nlmsg_free(rq->msg);
		rq->msg = NULL;
		return shadow_nl_seterr(err, -ENOMEM, "out of memory");
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, rq);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, rq);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, rq);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, rq);

	r = nl_send_auto(sk, rq->msg);
	if (r < 0) {
		r = nl_fail(err, r, "sending the request");
		goto out;
	}
	while (!rq->done) {
		r = nl_recvmsgs(sk, cb);
		if (r < 0 && !rq->done) {
			r = nl_fail(err, r, "reading the reply");
			goto out;
		}
	}
	r = 0;
	if (rq->error) {
		r = shadow_nl_seterr(err, rq->error, "%s", rq->text);
	} else if (rq->cb_ret < 0) {
		r = rq->cb_ret;
		if (err && !err->code)
			shadow_nl_seterr(err, r, "%s", "");
	}
out:
	nl_cb_put(cb);
	nlmsg_free(rq->msg);
	rq->msg = NULL;
	return r;
}

static void req_init(struct req *rq, struct shadow_nl *nl)
{
	memset(rq, 0, sizeof(*rq));
	rq->nl = nl;
}

#define BUILD_OR_FAIL(rq, cond, err)					\
	do {								\
		if (!(rq)->msg || (cond)) {				\
			nlmsg_free((rq)->msg);				\
			return shadow_nl_seterr(err, -ENOMEM,		\
						"cannot build the request"); \
		}							\
	} while (0)

/* ------------------------------------------------------------- origins */

static uint32_t get_u32(struct nlattr **tb, int t)
{
	return tb[t] ? nla_get_u32(tb[t]) : 0;
}

static uint64_t get_u64(struct nlattr **tb, int t)
{
	return tb[t] ? nla_get_u64(tb[t]) : 0;
}

static void get_str(struct nlattr **tb, int t, char *buf, size_t len)
{
	buf[0] = '\0';
	if (tb[t])
		snprintf(buf, len, "%s", nla_get_string(tb[t]));
}

/* The device of an origin nest; -EPROTO when major or minor is missing. */
static int parse_origin_nest(struct req *rq, struct nlattr *nest,
			     struct nlattr **otb)
{
	int r;

	r = nla_parse_nested(otb, SHADOW_ORIGIN_A_MAX, nest, origin_policy);
	if (r < 0)
		return bad_reply(rq, "origin: %s", nl_geterror(r));
	if (!otb[SHADOW_ORIGIN_A_MAJOR] || !otb[SHADOW_ORIGIN_A_MINOR])
		return bad_reply(rq, "origin without a device number");
	return 0;
}

static int parse_origin(struct req *rq, struct nlattr **tb,
			struct shadow_origin *o)
{
	struct nlattr *otb[SHADOW_ORIGIN_A_MAX + 1];
	int r;

	if (!tb[SHADOW_A_ORIGIN])
		return bad_reply(rq, "no origin attribute");
	r = parse_origin_nest(rq, tb[SHADOW_A_ORIGIN], otb);
	if (r)
		return r;
	if (!otb[SHADOW_ORIGIN_A_STATE] || !otb[SHADOW_ORIGIN_A_CHUNK_SECTORS])
		return bad_reply(rq, "origin without state or chunk size");

	memset(o, 0, sizeof(*o));
	o->dev.major = get_u32(otb, SHADOW_ORIGIN_A_MAJOR);
	o->dev.minor = get_u32(otb, SHADOW_ORIGIN_A_MINOR);
	get_str(otb, SHADOW_ORIGIN_A_NAME, o->name, sizeof(o->name));
	o->data_dev.major = get_u32(otb, SHADOW_ORIGIN_A_DEV_MAJOR);
	o->data_dev.minor = get_u32(otb, SHADOW_ORIGIN_A_DEV_MINOR);
	o->store_dev.major = get_u32(otb, SHADOW_ORIGIN_A_STORE_MAJOR);
	o->store_dev.minor = get_u32(otb, SHADOW_ORIGIN_A_STORE_MINOR);
	o->sectors = get_u64(otb, SHADOW_ORIGIN_A_SECTORS);
	o->chunk_sectors = get_u32(otb, SHADOW_ORIGIN_A_CHUNK_SECTORS);
	o->store_used = get_u64(otb, SHADOW_ORIGIN_A_STORE_USED);
	o->store_total = get_u64(otb, SHADOW_ORIGIN_A_STORE_TOTAL);
	o->meta_used = get_u64(otb, SHADOW_ORIGIN_A_META_USED);
	o->meta_total = get_u64(otb, SHADOW_ORIGIN_A_META_TOTAL);
	o->nr_snaps = get_u32(otb, SHADOW_ORIGIN_A_NR_SNAPS);
	o->epoch = get_u32(otb, SHADOW_ORIGIN_A_EPOCH);
	o->state = get_u32(otb, SHADOW_ORIGIN_A_STATE);
	get_str(otb, SHADOW_ORIGIN_A_FAIL_REASON, o->fail_reason,
		sizeof(o->fail_reason));
	o->overflow = get_u32(otb, SHADOW_ORIGIN_A_OVERFLOW);
	o->low_water = get_u32(otb, SHADOW_ORIGIN_A_LOW_WATER);
	o->high_water = get_u32(otb, SHADOW_ORIGIN_A_HIGH_WATER);
	o->event_seq = get_u64(tb, SHADOW_A_EVENT_SEQ);
	return 0;
}

struct origin_dump {
	shadow_origin_cb cb;
	void *arg;
	struct shadow_origin *one;
};

static int origin_reply(struct req *rq, struct nlattr **tb,
			const struct nlmsghdr *nlh)
{
	struct origin_dump *d = rq->arg;
	struct shadow_origin o;
	int r;

	r = parse_origin(rq, tb, &o);
	if (r)
		return r;
	if (d->one) {
		*d->one = o;
		return 0;
	}
	r = d->cb(&o, d->arg);
	if (r) {
		rq->stopped = true;
		rq->cb_ret = r;
	}
	return 0;
}

int shadow_nl_origin_get(struct shadow_nl *nl, struct shadow_dev dev,
			 struct shadow_origin *o, struct shadow_nl_err *err)
{
	struct origin_dump d = { .one = o };
	struct req rq;
	int r;

	req_init(&rq, nl);
	rq.parse = origin_reply;
	rq.arg = &d;
	rq.msg = new_req(nl, SHADOW_CMD_ORIGIN_GET, 0);
	BUILD_OR_FAIL(&rq, put_origin(rq.msg, SHADOW_A_ORIGIN, dev), err);
	r = run_req(&rq, err);
	if (!r && !rq.nr_replies)
		r = shadow_nl_seterr(err, -EPROTO, "no reply from the kernel");
	return r;
}

int shadow_nl_origin_dump(struct shadow_nl *nl, shadow_origin_cb cb,
			  void *arg, struct shadow_nl_err *err)
{
	struct origin_dump d = { .cb = cb, .arg = arg };
	struct req rq;

	req_init(&rq, nl);
	rq.parse = origin_reply;
	rq.arg = &d;
	rq.msg = new_req(nl, SHADOW_CMD_ORIGIN_GET, NLM_F_DUMP);
	BUILD_OR_FAIL(&rq, false, err);
	return run_req(&rq, err);
}

struct origin_vec {
	struct shadow_origin *v;
	size_t n, cap;
};

static int origin_vec_add(const struct shadow_origin *o, void *arg)
{
	struct origin_vec *vec = arg;

	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 8;
		struct shadow_origin *v = realloc(vec->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] = *o;
	return 0;
}

int shadow_nl_origin_list(struct shadow_nl *nl, struct shadow_origin **out,
			  size_t *n, struct shadow_nl_err *err)
{
	struct origin_vec vec = { 0 };
	int r;

	r = shadow_nl_origin_dump(nl, origin_vec_add, &vec, err);
	if (r) {
		free(vec.v);
		return r;
	}
	*out = vec.v;
	*n = vec.n;
	return 0;
}

/* ------------------------------------------------------------- create */

struct create_ctx {
	const struct shadow_dev *devs;
	size_t n;
	struct shadow_created *out;
	bool *seen;
	uint64_t pause_us;
	bool has_pause;
};

static int create_reply(struct req *rq, struct nlattr **tb,
			const struct nlmsghdr *nlh)
{
	struct create_ctx *c = rq->arg;
	struct nlattr *otb[SHADOW_ORIGIN_A_MAX + 1];
	struct nlattr *a;
	int rem, r;
	size_t i;

	if (!tb[SHADOW_A_ORIGINS])
		return bad_reply(rq, "no origins in the create reply");
	if (tb[SHADOW_A_PAUSE_US]) {
		c->pause_us = nla_get_u64(tb[SHADOW_A_PAUSE_US]);
		c->has_pause = true;
	}
	nla_for_each_nested(a, tb[SHADOW_A_ORIGINS], rem) {
		struct shadow_dev dev;

		if (nla_type(a) != SHADOW_A_ORIGIN)
			continue;
		r = parse_origin_nest(rq, a, otb);
		if (r)
			return r;
		if (!otb[SHADOW_ORIGIN_A_SNAP_ID])
			return bad_reply(rq, "origin without a snapshot id");
		dev.major = nla_get_u32(otb[SHADOW_ORIGIN_A_MAJOR]);
		dev.minor = nla_get_u32(otb[SHADOW_ORIGIN_A_MINOR]);
		for (i = 0; i < c->n; i++)
			if (!c->seen[i] && c->devs[i].major == dev.major &&
			    c->devs[i].minor == dev.minor)
				break;
		if (i == c->n)
			return bad_reply(rq, "snapshot of %u:%u, not requested",
					 dev.major, dev.minor);
		c->seen[i] = true;
		c->out[i].dev = dev;
		c->out[i].id = nla_get_u32(otb[SHADOW_ORIGIN_A_SNAP_ID]);
		get_str(otb, SHADOW_ORIGIN_A_NAME, c->out[i].name,
			sizeof(c->out[i].name));
	}
	return 0;
}

int shadow_nl_snap_create(struct shadow_nl *nl, const struct shadow_dev *devs,
			  size_t n, uint32_t flags, uint32_t timeout_ms,
			  const char *label, struct shadow_created *out,
			  uint64_t *pause_us, struct shadow_nl_err *err)
{
	struct create_ctx c = { .devs = devs, .n = n, .out = out };
	struct nlattr *group;
	struct req rq;
	bool bad = false;
	size_t i;
	int r;

	if (!n || n > SHADOW_NL_GROUP_MAX)
		return shadow_nl_seterr(err, -EINVAL,
					"a group has 1 to %d origins", SHADOW_NL_GROUP_MAX);
	c.seen = calloc(n, sizeof(*c.seen));
	if (!c.seen)
		return shadow_nl_seterr(err, -ENOMEM, "out of memory");
	memset(out, 0, n * sizeof(*out));

	req_init(&rq, nl);
	rq.parse = create_reply;
	rq.arg = &c;
	rq.msg = new_req(nl, SHADOW_CMD_SNAP_CREATE, 0);
	if (rq.msg) {
		group = nla_nest_start(rq.msg, SHADOW_A_ORIGINS | NLA_F_NESTED);
		bad = !group;
		for (i = 0; i < n && !bad; i++)
			bad = put_origin(rq.msg, SHADOW_A_ORIGIN, devs[i]) < 0;
		if (!bad)
			nla_nest_end(rq.msg, group);
		if (!bad && flags)
			bad = nla_put_u32(rq.msg, SHADOW_A_FLAGS, flags) < 0;
		if (!bad && timeout_ms)
			bad = nla_put_u32(rq.msg, SHADOW_A_TIMEOUT_MS, timeout_ms) < 0;
		if (!bad && label)
			bad = nla_put_string(rq.msg, SHADOW_A_LABEL, label) < 0;
	}
	if (!rq.msg || bad) {
		nlmsg_free(rq.msg);
		free(c.seen);
		return shadow_nl_seterr(err, -ENOMEM, "cannot build the request");
	}
	r = run_req(&rq, err);
	for (i = 0; !r && i < n; i++)
		if (!c.seen[i])
			r = shadow_nl_seterr(err, -EPROTO,
					     "malformed reply from the kernel: no snapshot for %u:%u",
					     devs[i].major, devs[i].minor);
	if (!r && !c.has_pause)
		r = shadow_nl_seterr(err, -EPROTO,
				     "malformed reply from the kernel: no pause time");
	if (!r && pause_us)
		*pause_us = c.pause_us;
	free(c.seen);
	return r;
}

/* ----------------------------------------------------------- snapshots */

static int simple_req(struct shadow_nl *nl, uint8_t cmd, struct shadow_dev dev,
		      uint32_t id, struct shadow_nl_err *err)
{
	struct req rq;

	req_init(&rq, nl);
	rq.msg = new_req(nl, cmd, 0);
	BUILD_OR_FAIL(&rq, put_origin(rq.msg, SHADOW_A_ORIGIN, dev) ||
			   nla_put_u32(rq.msg, SHADOW_A_SNAP_ID, id), err);
	return run_req(&rq, err);
}

int shadow_nl_snap_delete(struct shadow_nl *nl, struct shadow_dev dev,
			  uint32_t id, struct shadow_nl_err *err)
{
	return simple_req(nl, SHADOW_CMD_SNAP_DELETE, dev, id, err);
}

int shadow_nl_snap_set_ro(struct shadow_nl *nl, struct shadow_dev dev,
			  uint32_t id, struct shadow_nl_err *err)
{
	return simple_req(nl, SHADOW_CMD_SNAP_SET_RO, dev, id, err);
}

struct snap_dump {
	shadow_snap_cb cb;
	void *arg;
	struct shadow_snap *one;
};

static int snap_reply(struct req *rq, struct nlattr **tb,
		      const struct nlmsghdr *nlh)
{
	struct snap_dump *d = rq->arg;
	struct nlattr *stb[SHADOW_SNAP_A_MAX + 1];
	struct shadow_snap s;
	int r;

	if (!tb[SHADOW_A_SNAP])
		return bad_reply(rq, "no snapshot attribute");
	r = nla_parse_nested(stb, SHADOW_SNAP_A_MAX, tb[SHADOW_A_SNAP],
			     snap_policy);
	if (r < 0)
		return bad_reply(rq, "snapshot: %s", nl_geterror(r));
	if (!stb[SHADOW_SNAP_A_ID])
		return bad_reply(rq, "snapshot without an id");

	memset(&s, 0, sizeof(s));
	s.id = nla_get_u32(stb[SHADOW_SNAP_A_ID]);
	s.ctime_ns = get_u64(stb, SHADOW_SNAP_A_CTIME);
	s.readonly = stb[SHADOW_SNAP_A_READONLY] != NULL;
	s.invalid = stb[SHADOW_SNAP_A_INVALID] != NULL;
	get_str(stb, SHADOW_SNAP_A_LABEL, s.label, sizeof(s.label));
	s.exclusive = get_u64(stb, SHADOW_SNAP_A_EXCLUSIVE);
	s.shared = get_u64(stb, SHADOW_SNAP_A_SHARED);
	s.private_chunks = get_u64(stb, SHADOW_SNAP_A_PRIVATE);
	s.open = get_u32(stb, SHADOW_SNAP_A_OPEN);

	if (d->one) {
		*d->one = s;
		return 0;
	}
	r = d->cb(&s, d->arg);
	if (r) {
		rq->stopped = true;
		rq->cb_ret = r;
	}
	return 0;
}

int shadow_nl_snap_get(struct shadow_nl *nl, struct shadow_dev dev,
		       uint32_t id, struct shadow_snap *s,
		       struct shadow_nl_err *err)
{
	struct snap_dump d = { .one = s };
	struct req rq;
	int r;

	req_init(&rq, nl);
	rq.parse = snap_reply;
	rq.arg = &d;
	rq.msg = new_req(nl, SHADOW_CMD_SNAP_GET, 0);
	BUILD_OR_FAIL(&rq, put_origin(rq.msg, SHADOW_A_ORIGIN, dev) ||
			   nla_put_u32(rq.msg, SHADOW_A_SNAP_ID, id), err);
	r = run_req(&rq, err);
	if (!r && !rq.nr_replies)
		r = shadow_nl_seterr(err, -EPROTO, "no reply from the kernel");
	return r;
}

int shadow_nl_snap_dump(struct shadow_nl *nl, struct shadow_dev dev,
			shadow_snap_cb cb, void *arg,
			struct shadow_nl_err *err)
{
	struct snap_dump d = { .cb = cb, .arg = arg };
	struct req rq;

	req_init(&rq, nl);
	rq.parse = snap_reply;
	rq.arg = &d;
	rq.msg = new_req(nl, SHADOW_CMD_SNAP_GET, NLM_F_DUMP);
	BUILD_OR_FAIL(&rq, put_origin(rq.msg, SHADOW_A_ORIGIN, dev), err);
	return run_req(&rq, err);
}

struct snap_vec {
	struct shadow_snap *v;
	size_t n, cap;
};

static int snap_vec_add(const struct shadow_snap *s, void *arg)
{
	struct snap_vec *vec = arg;

	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 16;
		struct shadow_snap *v = realloc(vec->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] = *s;
	return 0;
}

int shadow_nl_snap_list(struct shadow_nl *nl, struct shadow_dev dev,
			struct shadow_snap **out, size_t *n,
			struct shadow_nl_err *err)
{
	struct snap_vec vec = { 0 };
	int r;

	r = shadow_nl_snap_dump(nl, dev, snap_vec_add, &vec, err);
	if (r) {
		free(vec.v);
		return r;
	}
	*out = vec.v;
	*n = vec.n;
	return 0;
}

/* ---------------------------------------------------------------- diff */

struct diff_ctx {
	struct shadow_extent_merge merge;
	shadow_extent_cb cb;
	void *arg;
};

static int diff_reply(struct req *rq, struct nlattr **tb,
		      const struct nlmsghdr *nlh)
{
	struct diff_ctx *d = rq->arg;
	struct nlattr *etb[SHADOW_EXTENT_A_MAX + 1];
	struct nlattr *a;
	int rem, r;

	/* SHADOW_A_EXTENT repeats: walk the message, not tb[] */
	nlmsg_for_each_attr(a, nlh, GENL_HDRLEN, rem) {
		struct shadow_extent e;

		if (nla_type(a) != SHADOW_A_EXTENT)
			continue;
		r = nla_parse_nested(etb, SHADOW_EXTENT_A_MAX, a, extent_policy);
		if (r < 0)
			return bad_reply(rq, "extent: %s", nl_geterror(r));
		if (!etb[SHADOW_EXTENT_A_START] || !etb[SHADOW_EXTENT_A_LEN])
			return bad_reply(rq, "extent without start or length");
		e.start = nla_get_u64(etb[SHADOW_EXTENT_A_START]);
		e.len = nla_get_u64(etb[SHADOW_EXTENT_A_LEN]);
		r = shadow_extent_merge_add(&d->merge, &e, d->cb, d->arg);
		if (r == -EPROTO && !rq->stopped)
			return bad_reply(rq,
					 "extent %llu+%llu empty, overlapping or out of order",
					 (unsigned long long)e.start,
					 (unsigned long long)e.len);
		if (r) {
			rq->stopped = true;
			rq->cb_ret = r;
			return 0;
		}
	}
	return 0;
}

int shadow_nl_diff_dump(struct shadow_nl *nl, struct shadow_dev dev,
			uint32_t from, uint32_t to, shadow_extent_cb cb,
			void *arg, struct shadow_nl_err *err)
{
	struct diff_ctx d = { .cb = cb, .arg = arg };
	struct req rq;
	int r;

	req_init(&rq, nl);
	rq.parse = diff_reply;
	rq.arg = &d;
	rq.msg = new_req(nl, SHADOW_CMD_DIFF_GET, NLM_F_DUMP);
	BUILD_OR_FAIL(&rq, put_origin(rq.msg, SHADOW_A_ORIGIN, dev) ||
			   nla_put_u32(rq.msg, SHADOW_A_SNAP_ID, from) ||
			   (to != SHADOW_NL_LIVE &&
			    nla_put_u32(rq.msg, SHADOW_A_SNAP_ID_TO, to)), err);
	r = run_req(&rq, err);
	if (r)
		return r;
	if (rq.stopped)
		return rq.cb_ret < 0 ? rq.cb_ret : 0;
	r = shadow_extent_merge_flush(&d.merge, cb, arg);
	if (r < 0)
		return shadow_nl_seterr(err, r, "%s", "");
	return 0;
}

static int extent_list_cb(const struct shadow_extent *e, void *arg)
{
	return shadow_extent_list_add(arg, e);
}

int shadow_nl_diff_list(struct shadow_nl *nl, struct shadow_dev dev,
			uint32_t from, uint32_t to,
			struct shadow_extent_list *out,
			struct shadow_nl_err *err)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = shadow_nl_diff_dump(nl, dev, from, to, extent_list_cb, out, err);
	if (r)
		shadow_extent_list_free(out);
	return r;
}

/* ---------------------------------------------------------- set water */

int shadow_nl_set_water(struct shadow_nl *nl, struct shadow_dev dev,
			int low, int high, struct shadow_nl_err *err)
{
	struct req rq;

	if (low > 100 || high > 100)
		return shadow_nl_seterr(err, -EINVAL, "a threshold is 0 to 100 percent");
	req_init(&rq, nl);
	rq.msg = new_req(nl, SHADOW_CMD_SET_WATER, 0);
	BUILD_OR_FAIL(&rq, put_origin(rq.msg, SHADOW_A_ORIGIN, dev) ||
			   (low >= 0 &&
			    nla_put_u32(rq.msg, SHADOW_A_LOW_WATER, (uint32_t)low)) ||
			   (high >= 0 &&
			    nla_put_u32(rq.msg, SHADOW_A_HIGH_WATER, (uint32_t)high)),
		      err);
	return run_req(&rq, err);
}

/* ============================================================== events */

struct shadow_nl_events *shadow_nl_events_open(struct shadow_nl_err *err)
{
	struct shadow_nl_events *ev = calloc(1, sizeof(*ev));
	int family, grp, r;

	if (!ev) {
		shadow_nl_seterr(err, -ENOMEM, "out of memory");
		return NULL;
	}
	ev->sk = connect_family(&family, err);
	if (!ev->sk)
		goto fail;
	grp = genl_ctrl_resolve_grp(ev->sk, SHADOW_GENL_NAME,
				    SHADOW_GENL_MCGRP_EVENTS);
	if (grp < 0) {
		if (grp == -NLE_OBJ_NOTFOUND)
			shadow_nl_seterr(err, -ENOENT,
					 "dm-shadow has no '%s' multicast group",
					 SHADOW_GENL_MCGRP_EVENTS);
		else
			nl_fail(err, grp, "resolving the events group");
		goto fail;
	}
	r = nl_socket_add_membership(ev->sk, grp);
	if (r < 0) {
		nl_fail(err, r, "joining the events group");
		goto fail;
	}
	/* room for bursts (a group snapshot, an overflow dropping many) */
	nl_socket_set_buffer_size(ev->sk, 1 << 20, 0);
	r = nl_socket_set_nonblocking(ev->sk);
	if (r < 0) {
		nl_fail(err, r, "non-blocking socket");
		goto fail;
	}
	return ev;
fail:
	if (ev->sk)
		nl_socket_free(ev->sk);
	free(ev);
	return NULL;
}

void shadow_nl_events_close(struct shadow_nl_events *ev)
{
	if (!ev)
		return;
	nl_socket_free(ev->sk);
	free(ev);
}

int shadow_nl_events_fd(const struct shadow_nl_events *ev)
{
	return nl_socket_get_fd(ev->sk);
}

int shadow_nl_events_set_buffer(struct shadow_nl_events *ev, size_t bytes,
				struct shadow_nl_err *err)
{
	int r;

	if (bytes > INT_MAX)
		return shadow_nl_seterr(err, -ERANGE, "buffer size too large");
	r = nl_socket_set_buffer_size(ev->sk, (int)bytes, 0);
	if (r < 0)
		return nl_fail(err, r, "setting the receive buffer");
	return 0;
}

void shadow_nl_events_resynced(struct shadow_nl_events *ev, uint64_t seq)
{
	shadow_seq_sync(&ev->seq, seq);
}

struct event_ctx {
	struct shadow_nl_events *ev;
	shadow_event_cb cb;
	void *arg;
	unsigned int nr_msgs;
	int ret;
	char text[SHADOW_NL_ERRLEN];
};

static int on_event(struct nl_msg *msg, void *arg)
{
	struct event_ctx *c = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[SHADOW_A_MAX + 1], *otb[SHADOW_ORIGIN_A_MAX + 1];
	struct genlmsghdr *gnlh;
	struct shadow_event e;
	int r;

	c->nr_msgs++;
	if (c->ret)
		return NL_SKIP;
	if (!genlmsg_valid_hdr(nlh, 0))
		return NL_SKIP;
	gnlh = nlmsg_data(nlh);
	if (gnlh->cmd != SHADOW_CMD_EVENT)
		return NL_SKIP;
	r = genlmsg_parse(nlh, 0, tb, SHADOW_A_MAX, top_policy);
	if (r == 0 && tb[SHADOW_A_ORIGIN])
		r = nla_parse_nested(otb, SHADOW_ORIGIN_A_MAX,
				     tb[SHADOW_A_ORIGIN], origin_policy);
	if (r < 0 || !tb[SHADOW_A_EVENT_SEQ] || !tb[SHADOW_A_EVENT_TYPE] ||
	    !tb[SHADOW_A_ORIGIN] || !otb[SHADOW_ORIGIN_A_MAJOR] ||
	    !otb[SHADOW_ORIGIN_A_MINOR]) {
		snprintf(c->text, sizeof(c->text),
			 "malformed event from the kernel%s%s",
			 r < 0 ? ": " : "", r < 0 ? nl_geterror(r) : "");
		c->ret = -EPROTO;
		return NL_STOP;
	}

	memset(&e, 0, sizeof(e));
	e.seq = nla_get_u64(tb[SHADOW_A_EVENT_SEQ]);
	e.type = nla_get_u32(tb[SHADOW_A_EVENT_TYPE]);
	e.dev.major = nla_get_u32(otb[SHADOW_ORIGIN_A_MAJOR]);
	e.dev.minor = nla_get_u32(otb[SHADOW_ORIGIN_A_MINOR]);
	if (tb[SHADOW_A_SNAP_ID]) {
		e.has_snap = true;
		e.snap_id = nla_get_u32(tb[SHADOW_A_SNAP_ID]);
	}
	e.gap = shadow_seq_check(&c->ev->seq, e.seq, &e.expected);
	r = c->cb(&e, c->arg);
	if (r) {
		c->ret = r;
		return NL_STOP;
	}
	return NL_OK;
}

/* Multicast messages carry no request's sequence number. */
static int no_seq_check(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

int shadow_nl_events_recv(struct shadow_nl_events *ev, shadow_event_cb cb,
			  void *arg, struct shadow_nl_err *err)
{
	struct event_ctx c = { .ev = ev, .cb = cb, .arg = arg };
	struct nl_cb *ncb;
	unsigned int before;
	int r = 0;

	ncb = nl_cb_alloc(NL_CB_CUSTOM);
	if (!ncb)
		return shadow_nl_seterr(err, -ENOMEM, "out of memory");
	nl_cb_set(ncb, NL_CB_VALID, NL_CB_CUSTOM, on_event, &c);
	nl_cb_set(ncb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	do {
		before = c.nr_msgs;
		r = nl_recvmsgs(ev->sk, ncb);
		/* nothing more waiting */
		if (r == -NLE_AGAIN) {
			r = 0;
			break;
		}
		/* ENOBUFS (overrun) comes back as NLE_NOMEM: events were
		 * lost, and the next one shows the gap. */
		if (r == -NLE_NOMEM)
			r = 0;
		if (r < 0) {
			r = nl_fail(err, r, "reading events");
			break;
		}
	} while (!c.ret && c.nr_msgs != before);
	nl_cb_put(ncb);
	if (r)
		return r;
	if (c.ret == -EPROTO && c.text[0])
		return shadow_nl_seterr(err, c.ret, "%s", c.text);
	if (c.ret < 0 && err && !err->code)
		shadow_nl_seterr(err, c.ret, "%s", "");
	return c.ret;
}
