// SPDX-License-Identifier: GPL-2.0
/*
 * lib/shadow-nl.c without a kernel: origin specs, sequence-gap tracking,
 * extent coalescing, formatting, names, labels, numbers, JSON strings and
 * the extended-ack parser (on hand-built NLMSG_ERROR and NLMSG_DONE
 * messages answering requests built with libnl).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "shadow-nl.h"
#include "unit.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------- origin specs */

static void test_spec_devno(void)
{
	struct shadow_dev d = { 0, 0 };

	CU_ASSERT_EQUAL(shadow_spec_classify("253:3", &d), SHADOW_SPEC_DEVNO);
	CU_ASSERT_EQUAL(d.major, 253);
	CU_ASSERT_EQUAL(d.minor, 3);
	CU_ASSERT_EQUAL(shadow_spec_classify("0:0", &d), SHADOW_SPEC_DEVNO);
	CU_ASSERT_EQUAL(d.major, 0);
	CU_ASSERT_EQUAL(d.minor, 0);
	CU_ASSERT_EQUAL(shadow_spec_classify("4095:1048575", &d),
			SHADOW_SPEC_DEVNO);
	CU_ASSERT_EQUAL(d.major, 4095);
	CU_ASSERT_EQUAL(d.minor, 1048575);
	/* out of the kernel's 12:20 bit ranges */
	CU_ASSERT_EQUAL(shadow_spec_classify("4096:0", NULL), SHADOW_SPEC_INVALID);
	CU_ASSERT_EQUAL(shadow_spec_classify("1:1048576", NULL),
			SHADOW_SPEC_INVALID);
	CU_ASSERT_EQUAL(shadow_spec_classify("99999999999999999999:1", NULL),
			SHADOW_SPEC_INVALID);
	CU_ASSERT_EQUAL(shadow_spec_classify(":5", NULL), SHADOW_SPEC_INVALID);
	CU_ASSERT_EQUAL(shadow_spec_classify("5:", NULL), SHADOW_SPEC_INVALID);
}

static void test_spec_name_path(void)
{
	char longname[SHADOW_NL_NAMELEN + 1];
	struct shadow_dev d = { 7, 7 };

	CU_ASSERT_EQUAL(shadow_spec_classify("vol", &d), SHADOW_SPEC_NAME);
	CU_ASSERT_EQUAL(d.major, 7);	/* untouched */
	/* dm names may hold colons: only digits:digits is a device number */
	CU_ASSERT_EQUAL(shadow_spec_classify("1:x", NULL), SHADOW_SPEC_NAME);
	CU_ASSERT_EQUAL(shadow_spec_classify("1:2:3", NULL), SHADOW_SPEC_NAME);
	CU_ASSERT_EQUAL(shadow_spec_classify("vg-lv_1", NULL), SHADOW_SPEC_NAME);
	CU_ASSERT_EQUAL(shadow_spec_classify("/dev/mapper/vol", NULL),
			SHADOW_SPEC_PATH);
	CU_ASSERT_EQUAL(shadow_spec_classify("/dev/dm-3", NULL), SHADOW_SPEC_PATH);
	CU_ASSERT_EQUAL(shadow_spec_classify("./vol", NULL), SHADOW_SPEC_PATH);
	CU_ASSERT_EQUAL(shadow_spec_classify("", NULL), SHADOW_SPEC_INVALID);
	CU_ASSERT_EQUAL(shadow_spec_classify(NULL, NULL), SHADOW_SPEC_INVALID);
	CU_ASSERT_EQUAL(shadow_spec_classify(".", NULL), SHADOW_SPEC_INVALID);
	CU_ASSERT_EQUAL(shadow_spec_classify("..", NULL), SHADOW_SPEC_INVALID);

	memset(longname, 'a', sizeof(longname));
	longname[SHADOW_NL_NAMELEN - 1] = '\0';	/* 127 bytes: the longest */
	CU_ASSERT_EQUAL(shadow_spec_classify(longname, NULL), SHADOW_SPEC_NAME);
	longname[SHADOW_NL_NAMELEN - 1] = 'a';
	longname[SHADOW_NL_NAMELEN] = '\0';
	CU_ASSERT_EQUAL(shadow_spec_classify(longname, NULL), SHADOW_SPEC_INVALID);
}

static void test_resolve(void)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_dev d = { 0, 0 };

	CU_ASSERT_EQUAL(shadow_resolve_origin("8:16", &d, &err), 0);
	CU_ASSERT_EQUAL(d.major, 8);
	CU_ASSERT_EQUAL(d.minor, 16);
	CU_ASSERT_EQUAL(err.code, 0);

	CU_ASSERT_EQUAL(shadow_resolve_origin("/dev/null", &d, &err), -ENOTBLK);
	CU_ASSERT_EQUAL(err.code, -ENOTBLK);
	CU_ASSERT_STRING_EQUAL(err.msg, "/dev/null: not a block device");

	CU_ASSERT_EQUAL(shadow_resolve_origin("/nonexistent/vol", &d, &err),
			-ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/vol"));

	CU_ASSERT_EQUAL(shadow_resolve_origin("..", &d, &err), -EINVAL);
	CU_ASSERT_EQUAL(shadow_resolve_origin("4096:1", &d, &err), -EINVAL);
}

/* ------------------------------------------------------------ sequence */

static void test_seq_in_order(void)
{
	struct shadow_seq t = { 0 };
	uint64_t exp = 0;

	/* the first number seen is taken as it is, whatever it is */
	CU_ASSERT_FALSE(shadow_seq_check(&t, 41, &exp));
	CU_ASSERT_FALSE(shadow_seq_check(&t, 42, &exp));
	CU_ASSERT_FALSE(shadow_seq_check(&t, 43, &exp));
	CU_ASSERT_EQUAL(t.last, 43);
	CU_ASSERT_EQUAL(exp, 0);	/* untouched without a gap */
}

static void test_seq_gap(void)
{
	struct shadow_seq t = { 0 };
	uint64_t exp = 0;

	CU_ASSERT_FALSE(shadow_seq_check(&t, 1, &exp));
	CU_ASSERT_FALSE(shadow_seq_check(&t, 2, &exp));
	CU_ASSERT_TRUE(shadow_seq_check(&t, 5, &exp));
	CU_ASSERT_EQUAL(exp, 3);
	CU_ASSERT_EQUAL(t.last, 5);
	/* going on from the number that showed the gap */
	CU_ASSERT_FALSE(shadow_seq_check(&t, 6, &exp));
	CU_ASSERT_TRUE(shadow_seq_check(&t, 100, &exp));
	CU_ASSERT_EQUAL(exp, 7);
}

static void test_seq_old_and_sync(void)
{
	struct shadow_seq t = { 0 };
	uint64_t exp = 0;

	CU_ASSERT_FALSE(shadow_seq_check(&t, 10, &exp));
	CU_ASSERT_TRUE(shadow_seq_check(&t, 20, &exp));
	CU_ASSERT_EQUAL(exp, 11);
	/* a resync listing says events up to 25 are accounted for */
	shadow_seq_sync(&t, 25);
	CU_ASSERT_EQUAL(t.last, 25);
	/* queued events the listing covered: no gap, no step back */
	CU_ASSERT_FALSE(shadow_seq_check(&t, 21, &exp));
	CU_ASSERT_FALSE(shadow_seq_check(&t, 25, &exp));
	CU_ASSERT_EQUAL(t.last, 25);
	CU_ASSERT_FALSE(shadow_seq_check(&t, 26, &exp));
	/* a sync never moves the tracker back */
	shadow_seq_sync(&t, 3);
	CU_ASSERT_EQUAL(t.last, 26);
	/* a sync before any event starts the tracker */
	memset(&t, 0, sizeof(t));
	shadow_seq_sync(&t, 7);
	CU_ASSERT_TRUE(shadow_seq_check(&t, 9, &exp));
	CU_ASSERT_EQUAL(exp, 8);
}

static void test_seq_restart(void)
{
	struct shadow_seq t = { 0 };
	uint64_t exp = 0;

	CU_ASSERT_FALSE(shadow_seq_check(&t, 500, &exp));
	/* module reloaded: the counter starts at 1 again */
	CU_ASSERT_TRUE(shadow_seq_check(&t, 1, &exp));
	CU_ASSERT_EQUAL(exp, 501);
	CU_ASSERT_EQUAL(t.last, 1);
	CU_ASSERT_FALSE(shadow_seq_check(&t, 2, &exp));
}

/* ------------------------------------------------------------- extents */

struct ext_rec {
	struct shadow_extent v[16];
	size_t n;
	int stop_at;	/* return 1 on this call (1-based), 0: never */
};

static int ext_rec_cb(const struct shadow_extent *e, void *arg)
{
	struct ext_rec *r = arg;

	if (r->n < ARRAY_SIZE(r->v))
		r->v[r->n] = *e;
	r->n++;
	return r->stop_at && (int)r->n == r->stop_at ? 1 : 0;
}

static int add(struct shadow_extent_merge *m, struct ext_rec *r,
	       uint64_t start, uint64_t len)
{
	struct shadow_extent e = { start, len };

	return shadow_extent_merge_add(m, &e, ext_rec_cb, r);
}

static void test_extent_merge(void)
{
	struct shadow_extent_merge m = { 0 };
	struct ext_rec r = { 0 };

	CU_ASSERT_EQUAL(add(&m, &r, 0, 8), 0);
	CU_ASSERT_EQUAL(add(&m, &r, 8, 8), 0);		/* touches: merged */
	CU_ASSERT_EQUAL(add(&m, &r, 16, 8), 0);
	CU_ASSERT_EQUAL(r.n, 0);			/* still pending */
	CU_ASSERT_EQUAL(add(&m, &r, 64, 8), 0);		/* hole: 0+24 out */
	CU_ASSERT_EQUAL_FATAL(r.n, 1);
	CU_ASSERT_EQUAL(r.v[0].start, 0);
	CU_ASSERT_EQUAL(r.v[0].len, 24);
	CU_ASSERT_EQUAL(add(&m, &r, 72, 3), 0);		/* short last chunk */
	CU_ASSERT_EQUAL(shadow_extent_merge_flush(&m, ext_rec_cb, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.n, 2);
	CU_ASSERT_EQUAL(r.v[1].start, 64);
	CU_ASSERT_EQUAL(r.v[1].len, 11);
	CU_ASSERT_EQUAL(m.nr_in, 5);
	CU_ASSERT_EQUAL(m.nr_out, 2);
	CU_ASSERT_EQUAL(m.sectors, 35);
	/* flushing again hands over nothing */
	CU_ASSERT_EQUAL(shadow_extent_merge_flush(&m, ext_rec_cb, &r), 0);
	CU_ASSERT_EQUAL(r.n, 2);
}

static void test_extent_merge_empty(void)
{
	struct shadow_extent_merge m = { 0 };
	struct ext_rec r = { 0 };

	CU_ASSERT_EQUAL(shadow_extent_merge_flush(&m, ext_rec_cb, &r), 0);
	CU_ASSERT_EQUAL(r.n, 0);
	CU_ASSERT_EQUAL(m.nr_out, 0);
}

static void test_extent_merge_bad(void)
{
	struct shadow_extent_merge m = { 0 };
	struct ext_rec r = { 0 };

	CU_ASSERT_EQUAL(add(&m, &r, 0, 0), -EPROTO);		/* empty */
	CU_ASSERT_EQUAL(add(&m, &r, UINT64_MAX - 3, 8), -EPROTO); /* wraps */
	CU_ASSERT_EQUAL(add(&m, &r, 100, 8), 0);
	CU_ASSERT_EQUAL(add(&m, &r, 104, 8), -EPROTO);		/* overlaps */
	CU_ASSERT_EQUAL(add(&m, &r, 50, 8), -EPROTO);		/* descends */
	/* the pending extent survives the refusals */
	CU_ASSERT_EQUAL(shadow_extent_merge_flush(&m, ext_rec_cb, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.n, 1);
	CU_ASSERT_EQUAL(r.v[0].start, 100);
	CU_ASSERT_EQUAL(r.v[0].len, 8);
}

static void test_extent_merge_stop(void)
{
	struct shadow_extent_merge m = { 0 };
	struct ext_rec r = { .stop_at = 1 };

	CU_ASSERT_EQUAL(add(&m, &r, 0, 8), 0);
	/* handing over 0+8 returns what the callback said */
	CU_ASSERT_EQUAL(add(&m, &r, 16, 8), 1);
	CU_ASSERT_EQUAL(r.n, 1);
}

static void test_extent_list(void)
{
	struct shadow_extent_list l = { 0 };
	struct shadow_extent e;
	size_t i;

	for (i = 0; i < 1000; i++) {
		e.start = i * 16;
		e.len = 8;
		CU_ASSERT_EQUAL_FATAL(shadow_extent_list_add(&l, &e), 0);
	}
	CU_ASSERT_EQUAL(l.n, 1000);
	CU_ASSERT(l.cap >= 1000);
	CU_ASSERT_EQUAL(l.v[999].start, 999 * 16);
	shadow_extent_list_free(&l);
	CU_ASSERT_PTR_NULL(l.v);
	CU_ASSERT_EQUAL(l.n, 0);
}

/* ---------------------------------------------------------- formatting */

static void with_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void test_format_ctime(void)
{
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	char buf[32];

	with_tz("UTC0");
	CU_ASSERT_STRING_EQUAL(shadow_format_ctime(0, buf, sizeof(buf)), "-");
	CU_ASSERT_STRING_EQUAL(
		shadow_format_ctime(1700000000123456789ULL, buf, sizeof(buf)),
		"2023-11-14T22:13:20+00:00");
	/* POSIX TZ rules: no tzdata needed */
	with_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	CU_ASSERT_STRING_EQUAL(
		shadow_format_ctime(1700000000ULL * 1000000000ULL, buf,
				    sizeof(buf)),
		"2023-11-14T23:13:20+01:00");
	CU_ASSERT_STRING_EQUAL(		/* summer time */
		shadow_format_ctime(1690000000ULL * 1000000000ULL, buf,
				    sizeof(buf)),
		"2023-07-22T06:26:40+02:00");
	with_tz("IST-5:30");
	CU_ASSERT_STRING_EQUAL(
		shadow_format_ctime(1700000000ULL * 1000000000ULL, buf,
				    sizeof(buf)),
		"2023-11-15T03:43:20+05:30");
	with_tz("EST5");
	CU_ASSERT_STRING_EQUAL(
		shadow_format_ctime(1700000000ULL * 1000000000ULL, buf,
				    sizeof(buf)),
		"2023-11-14T17:13:20-05:00");

	if (saved) {
		with_tz(saved);
	} else {
		unsetenv("TZ");
		tzset();
	}
	free(saved);
}

static void pause_is(uint64_t us, const char *want)
{
	char buf[16];

	CU_ASSERT_STRING_EQUAL(shadow_format_pause(us, buf, sizeof(buf)), want);
}

static void test_format_pause(void)
{
	pause_is(0, "0us");
	pause_is(999, "999us");
	pause_is(1000, "1.0ms");
	pause_is(12345, "12.3ms");
	pause_is(999999, "999.9ms");
	pause_is(1000000, "1.00s");
	pause_is(1500000, "1.50s");
	pause_is(61234567, "61.23s");
}

static void test_format_dev(void)
{
	struct shadow_dev d = { 253, 17 };
	char buf[24];

	CU_ASSERT_STRING_EQUAL(shadow_format_dev(d, buf, sizeof(buf)), "253:17");
}

static void test_names(void)
{
	static const char *const want[] = {
		NULL, "origin-add", "origin-remove", "snap-create",
		"snap-delete", "snap-drop", "snap-set-ro", "snap-invalid",
		"low-water", "high-water", "store-fail",
	};
	uint32_t t;

	CU_ASSERT_EQUAL(ARRAY_SIZE(want), SHADOW_EVENT_MAX + 1);
	for (t = 0; t < ARRAY_SIZE(want); t++) {
		if (!want[t]) {
			CU_ASSERT_PTR_NULL(shadow_event_name(t));
		} else {
			CU_ASSERT_STRING_EQUAL(shadow_event_name(t), want[t]);
		}
	}
	CU_ASSERT_PTR_NULL(shadow_event_name(SHADOW_EVENT_MAX + 1));
	CU_ASSERT_PTR_NULL(shadow_event_name(UINT32_MAX));

	CU_ASSERT_STRING_EQUAL(shadow_state_name(SHADOW_STATE_RW), "rw");
	CU_ASSERT_STRING_EQUAL(shadow_state_name(SHADOW_STATE_RO), "ro");
	CU_ASSERT_STRING_EQUAL(shadow_state_name(SHADOW_STATE_FAIL), "Fail");
	CU_ASSERT_PTR_NULL(shadow_state_name(3));
	CU_ASSERT_STRING_EQUAL(
		shadow_overflow_name(SHADOW_OVERFLOW_POLICY_DROP_OLDEST),
		"drop_oldest");
	CU_ASSERT_STRING_EQUAL(
		shadow_overflow_name(SHADOW_OVERFLOW_POLICY_INVALIDATE),
		"invalidate");
	CU_ASSERT_PTR_NULL(shadow_overflow_name(2));

	CU_ASSERT_STRING_EQUAL(shadow_attr_name(SHADOW_A_LABEL), "label");
	CU_ASSERT_STRING_EQUAL(shadow_attr_name(SHADOW_A_ORIGINS), "origins");
	CU_ASSERT_PTR_NULL(shadow_attr_name(SHADOW_A_UNSPEC));
	CU_ASSERT_PTR_NULL(shadow_attr_name(SHADOW_A_MAX + 1));
	CU_ASSERT_STRING_EQUAL(shadow_origin_attr_name(SHADOW_ORIGIN_A_MINOR),
			       "minor");
	CU_ASSERT_PTR_NULL(shadow_origin_attr_name(SHADOW_ORIGIN_A_MAX + 1));
}

static void test_label_check(void)
{
	CU_ASSERT_EQUAL(shadow_label_check("daily"), 0);
	CU_ASSERT_EQUAL(shadow_label_check("@GMT-2026.11.03-14.05.09"), 0); /* 24 */
	CU_ASSERT_EQUAL(shadow_label_check("@GMT-2026.11.03-14.05.09x"),
			-ENAMETOOLONG);
	CU_ASSERT_EQUAL(shadow_label_check("caf\xc3\xa9"), 0);	/* UTF-8 */
	CU_ASSERT_EQUAL(shadow_label_check(""), -EINVAL);
	CU_ASSERT_EQUAL(shadow_label_check(NULL), -EINVAL);
	CU_ASSERT_EQUAL(shadow_label_check("a b"), -EINVAL);
	CU_ASSERT_EQUAL(shadow_label_check("a\tb"), -EINVAL);
	CU_ASSERT_EQUAL(shadow_label_check("a\nb"), -EINVAL);
	CU_ASSERT_EQUAL(shadow_label_check("a\x7f"), -EINVAL);
}

static void u32_ok(const char *s, uint32_t min, uint32_t max, uint32_t want)
{
	uint32_t v = 12345;

	CU_ASSERT_EQUAL(shadow_parse_u32(s, min, max, &v), 0);
	CU_ASSERT_EQUAL(v, want);
}

static void u32_bad(const char *s, uint32_t min, uint32_t max, int err)
{
	uint32_t v = 12345;

	CU_ASSERT_EQUAL(shadow_parse_u32(s, min, max, &v), err);
	CU_ASSERT_EQUAL(v, 12345);
}

static void test_parse_u32(void)
{
	u32_ok("0", 0, 10, 0);
	u32_ok("7", 1, 10, 7);
	u32_ok("007", 1, 10, 7);
	u32_ok("4294967295", 0, UINT32_MAX, UINT32_MAX);
	u32_bad("4294967296", 0, UINT32_MAX, -ERANGE);
	u32_bad("99999999999999999999999", 0, UINT32_MAX, -ERANGE);
	u32_bad("0", 1, 10, -ERANGE);
	u32_bad("11", 1, 10, -ERANGE);
	u32_bad("", 0, 10, -EINVAL);
	u32_bad(NULL, 0, 10, -EINVAL);
	u32_bad("-1", 0, 10, -EINVAL);
	u32_bad("+1", 0, 10, -EINVAL);
	u32_bad(" 1", 0, 10, -EINVAL);
	u32_bad("1 ", 0, 10, -EINVAL);
	u32_bad("0x10", 0, 100, -EINVAL);
	u32_bad("1e3", 0, 10000, -EINVAL);
}

static void json_is(const char *in, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	shadow_json_string(f, in);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, want);
	free(buf);
}

static void test_json_string(void)
{
	json_is("vol", "\"vol\"");
	json_is("", "\"\"");
	json_is("a\"b", "\"a\\\"b\"");
	json_is("a\\b", "\"a\\\\b\"");
	json_is("a\nb\tc", "\"a\\nb\\tc\"");
	json_is("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	json_is("caf\xc3\xa9", "\"caf\xc3\xa9\"");
}

/* ------------------------------------------------------------- ext ack */

struct buf {
	unsigned char b[1024];
	size_t len;
};

static void put(struct buf *b, const void *p, size_t n)
{
	CU_ASSERT_FATAL(b->len + NLMSG_ALIGN(n) <= sizeof(b->b));
	memcpy(b->b + b->len, p, n);
	memset(b->b + b->len + n, 0, NLMSG_ALIGN(n) - n);
	b->len += NLMSG_ALIGN(n);
}

static void put_tlv(struct buf *b, uint16_t type, const void *p, size_t n)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + n),
			    .nla_type = type };

	put(b, &a, NLA_HDRLEN);
	put(b, p, n);
}

static void put_u32tlv(struct buf *b, uint16_t type, uint32_t v)
{
	put_tlv(b, type, &v, sizeof(v));
}

/* A request: origins { origin { major, minor } }, label. */
static struct nl_msg *request(uint32_t *offs_major, uint32_t *offs_label,
			      uint32_t *offs_origin)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nlattr *group, *origin;
	struct nlmsghdr *nlh;

	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(genlmsg_put(msg, 0, 1, 0x20, 0, 0,
						 SHADOW_CMD_SNAP_CREATE, 1));
	nlh = nlmsg_hdr(msg);
	group = nla_nest_start(msg, SHADOW_A_ORIGINS | NLA_F_NESTED);
	origin = nla_nest_start(msg, SHADOW_A_ORIGIN | NLA_F_NESTED);
	*offs_origin = (uint32_t)((char *)origin - (char *)nlh);
	*offs_major = (uint32_t)((char *)nlmsg_tail(nlh) - (char *)nlh);
	nla_put_u32(msg, SHADOW_ORIGIN_A_MAJOR, 253);
	nla_put_u32(msg, SHADOW_ORIGIN_A_MINOR, 3);
	nla_nest_end(msg, origin);
	nla_nest_end(msg, group);
	*offs_label = (uint32_t)((char *)nlmsg_tail(nlh) - (char *)nlh);
	nla_put_string(msg, SHADOW_A_LABEL, "a-label-that-is-too-long-for-it");
	return msg;
}

/* NLMSG_ERROR answering @req; TLVs added by the caller. */
static void error_msg(struct buf *b, const struct nlmsghdr *req, bool capped)
{
	struct nlmsghdr h = {
		.nlmsg_type = NLMSG_ERROR,
		.nlmsg_flags = NLM_F_ACK_TLVS | (capped ? NLM_F_CAPPED : 0),
	};
	struct nlmsgerr e = { .error = -EINVAL, .msg = *req };

	b->len = 0;
	put(b, &h, sizeof(h));
	put(b, &e, sizeof(e));
	if (!capped)
		put(b, (const char *)req + NLMSG_HDRLEN,
		    req->nlmsg_len - NLMSG_HDRLEN);
}

static void finish(struct buf *b)
{
	((struct nlmsghdr *)b->b)->nlmsg_len = (uint32_t)b->len;
}

static void test_extack_msg_and_offset(void)
{
	uint32_t om, ol, oo;
	struct nl_msg *req = request(&om, &ol, &oo);
	const struct nlmsghdr *rh = nlmsg_hdr(req);
	static const char text[] = "Label too long";
	struct buf b;
	char out[128];

	/* message alone */
	error_msg(&b, rh, false);
	put_tlv(&b, NLMSGERR_ATTR_MSG, text, sizeof(text));
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, rh, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "Label too long");

	/* with the offending attribute: named from the request */
	error_msg(&b, rh, false);
	put_tlv(&b, NLMSGERR_ATTR_MSG, text, sizeof(text));
	put_u32tlv(&b, NLMSGERR_ATTR_OFFS, ol);
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, rh, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "Label too long (attribute label)");

	/* a capped ack (no request echoed) parses the same */
	error_msg(&b, rh, true);
	put_tlv(&b, NLMSGERR_ATTR_MSG, text, sizeof(text));
	put_u32tlv(&b, NLMSGERR_ATTR_OFFS, om);
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, rh, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out,
			       "Label too long (attribute origins.origin.major)");

	/* an offset but no text */
	error_msg(&b, rh, true);
	put_u32tlv(&b, NLMSGERR_ATTR_OFFS, oo);
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, rh, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "invalid attribute origins.origin");

	/* without the request the text stands alone */
	error_msg(&b, rh, true);
	put_tlv(&b, NLMSGERR_ATTR_MSG, text, sizeof(text));
	put_u32tlv(&b, NLMSGERR_ATTR_OFFS, ol);
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "Label too long");

	/* an offset pointing nowhere */
	error_msg(&b, rh, true);
	put_tlv(&b, NLMSGERR_ATTR_MSG, text, sizeof(text));
	put_u32tlv(&b, NLMSGERR_ATTR_OFFS, 100000);
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, rh, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "Label too long");
	nlmsg_free(req);
}

static void test_extack_missing(void)
{
	uint32_t om, ol, oo;
	struct nl_msg *req = request(&om, &ol, &oo);
	const struct nlmsghdr *rh = nlmsg_hdr(req);
	struct buf b;
	char out[128];

	/* missing top-level attribute */
	error_msg(&b, rh, true);
	put_u32tlv(&b, NLMSGERR_ATTR_MISS_TYPE, SHADOW_A_SNAP_ID);
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, rh, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "missing attribute snap_id");

	/* missing inside an origin nest */
	error_msg(&b, rh, false);
	put_u32tlv(&b, NLMSGERR_ATTR_MISS_TYPE, SHADOW_ORIGIN_A_MINOR);
	put_u32tlv(&b, NLMSGERR_ATTR_MISS_NEST, oo);
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, rh, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "missing attribute minor");

	/* unknown number */
	error_msg(&b, rh, true);
	put_u32tlv(&b, NLMSGERR_ATTR_MISS_TYPE, 99);
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, rh, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "missing attribute 99");
	nlmsg_free(req);
}

static void test_extack_done_and_none(void)
{
	static const char text[] = "No such snapshot";
	struct nlmsghdr h = { .nlmsg_type = NLMSG_DONE,
			      .nlmsg_flags = NLM_F_MULTI | NLM_F_ACK_TLVS };
	int status = -ENOENT;
	uint32_t om, ol, oo;
	struct nl_msg *req = request(&om, &ol, &oo);
	struct buf b = { .len = 0 };
	char out[128];

	/* a dump's end with its status and a message */
	put(&b, &h, sizeof(h));
	put(&b, &status, sizeof(status));
	put_tlv(&b, NLMSGERR_ATTR_MSG, text, sizeof(text));
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "No such snapshot");

	/* no NLM_F_ACK_TLVS: nothing to read */
	((struct nlmsghdr *)b.b)->nlmsg_flags = NLM_F_MULTI;
	strcpy(out, "junk");
	shadow_nl_extack_msg(b.b, b.len, NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "");

	/* a message not NUL-terminated is not trusted */
	error_msg(&b, nlmsg_hdr(req), true);
	put_tlv(&b, NLMSGERR_ATTR_MSG, "abc", 3);
	finish(&b);
	shadow_nl_extack_msg(b.b, b.len, NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "");

	/* truncated buffers */
	shadow_nl_extack_msg(b.b, 8, NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "");
	nlmsg_free(req);
}

/* ---------------------------------------------------------------- open */

/*
 * Without the module loaded, opening the family fails with the message
 * shadowctl prints; with it, the handle opens.
 */
static void test_open_no_family(void)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl = shadow_nl_open(&err);

	if (nl) {
		shadow_nl_close(nl);
		return;
	}
	CU_ASSERT_EQUAL(err.code, -ENOENT);
	CU_ASSERT_STRING_EQUAL(err.msg,
			       "dm-shadow netlink family not found (is dm-shadow loaded?)");
}

static void test_seterr(void)
{
	struct shadow_nl_err err = { 0 };

	CU_ASSERT_EQUAL(shadow_nl_seterr(&err, -EBUSY, "%s", ""), -EBUSY);
	CU_ASSERT_EQUAL(err.code, -EBUSY);
	CU_ASSERT_STRING_EQUAL(err.msg, strerror(EBUSY));
	CU_ASSERT_EQUAL(shadow_nl_seterr(&err, -EINVAL, "snapshot %u open", 4U),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(err.msg, "snapshot 4 open");
	CU_ASSERT_EQUAL(shadow_nl_seterr(NULL, -EIO, "x"), -EIO);
}

static CU_TestInfo tests[] = {
	{ "spec_devno", test_spec_devno },
	{ "spec_name_path", test_spec_name_path },
	{ "resolve", test_resolve },
	{ "seq_in_order", test_seq_in_order },
	{ "seq_gap", test_seq_gap },
	{ "seq_old_and_sync", test_seq_old_and_sync },
	{ "seq_restart", test_seq_restart },
	{ "extent_merge", test_extent_merge },
	{ "extent_merge_empty", test_extent_merge_empty },
	{ "extent_merge_bad", test_extent_merge_bad },
	{ "extent_merge_stop", test_extent_merge_stop },
	{ "extent_list", test_extent_list },
	{ "format_ctime", test_format_ctime },
	{ "format_pause", test_format_pause },
	{ "format_dev", test_format_dev },
	{ "names", test_names },
	{ "label_check", test_label_check },
	{ "parse_u32", test_parse_u32 },
	{ "json_string", test_json_string },
	{ "extack_msg_and_offset", test_extack_msg_and_offset },
	{ "extack_missing", test_extack_missing },
	{ "extack_done_and_none", test_extack_done_and_none },
	{ "open_no_family", test_open_no_family },
	{ "seterr", test_seterr },
	CU_TEST_INFO_NULL,
};

const struct unit_suite shadow_nl_suite = { "shadow-nl", tests };
