// SPDX-License-Identifier: GPL-2.0
/*
 * lib/fsrvp.c: the MS-FSRVP shadow copy set state machine against a fake
 * backend and a fake clock: every transition, every error code of the
 * spec's tables (3.1.4.1 to 3.1.4.13), the message sequence timer (3.1.5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsrvp.h"
#include "unit.h"

/* ------------------------------------------------------------ the fakes */

struct fake {
	uint64_t now_ms;
	int64_t real_ns;
	enum fsrvp_op deny;		/* FSRVP_NR_OPS: allow everything */
	uint32_t prepare_hr, commit_hr, expose_hr, recover_hr, delete_hr;
	unsigned int prepares, commits, exposes, recovers, deletes, changes;
	uint32_t last_timeout;
	enum fsrvp_status status_in_commit;
	uint32_t next_snap;
	unsigned int live_snaps;	/* snapshots the backend holds */
	char deleted[8][FSRVP_VOLUME_MAX];
	/* re-entrant call from inside commit */
	struct fsrvp *f;
	bool reenter;
	uint32_t reenter_hr;
};

static struct fake fk;
static const struct fsrvp_caller alice = { "10.0.0.1", NULL };
static const struct fsrvp_caller bob = { "10.0.0.2", NULL };

static bool fake_permitted(void *ctx, const struct fsrvp_caller *c,
			   enum fsrvp_op op)
{
	return op != ((struct fake *)ctx)->deny;
}

/* \\srv\a and \\srv\a2 share vol-a; \\srv\vN is vol-N. */
static uint32_t fake_path(void *ctx, const char *share, char *vol,
			  size_t len)
{
	char comp[FSRVP_SHARE_MAX];

	if (fsrvp_share_component(share, comp, sizeof(comp)))
		return FSRVP_E_OBJECT_NOT_FOUND;
	if (!strcmp(comp, "nope"))
		return FSRVP_E_OBJECT_NOT_FOUND;
	if (!strcmp(comp, "fat"))
		return FSRVP_E_NOT_SUPPORTED;
	if (!strcmp(comp, "a2"))
		snprintf(vol, len, "vol-a");
	else
		snprintf(vol, len, "vol-%s", comp);
	return 0;
}

static const char *fake_owner(void *ctx, const char *share)
{
	return "fileserver1";
}

static uint32_t fake_prepare(void *ctx, struct fsrvp_set *s, uint32_t to)
{
	fk.prepares++;
	fk.last_timeout = to;
	return fk.prepare_hr;
}

static uint32_t fake_commit(void *ctx, struct fsrvp_set *s, uint32_t to)
{
	size_t i;

	fk.commits++;
	fk.last_timeout = to;
	fk.status_in_commit = s->status;
	if (fk.reenter)
		fk.reenter_hr = fsrvp_abort_set(fk.f, &alice, s->id);
	if (fk.commit_hr)
		return fk.commit_hr;
	for (i = 0; i < s->n; i++) {
		s->copies[i].snap_id = ++fk.next_snap;
		fk.live_snaps++;
	}
	return 0;
}

static uint32_t fake_expose(void *ctx, struct fsrvp_set *s, uint32_t to)
{
	size_t i;

	fk.exposes++;
	fk.last_timeout = to;
	if (fk.expose_hr)
		return fk.expose_hr;
	for (i = 0; i < s->n; i++)
		s->copies[i].writable =
			!!(s->context & FSRVP_ATTR_AUTO_RECOVERY);
	return 0;
}

static uint32_t fake_recover(void *ctx, struct fsrvp_set *s)
{
	fk.recovers++;
	return fk.recover_hr;
}

static uint32_t fake_delete(void *ctx, struct fsrvp_set *s,
			    struct fsrvp_copy *c)
{
	if (fk.delete_hr)
		return fk.delete_hr;
	if (fk.deletes < 8)
		snprintf(fk.deleted[fk.deletes], FSRVP_VOLUME_MAX, "%s",
			 c->volume);
	fk.deletes++;
	if (c->snap_id)
		fk.live_snaps--;
	return 0;
}

static void fake_changed(void *ctx)
{
	fk.changes++;
}

static uint64_t fake_mono(void *arg)
{
	return fk.now_ms;
}

static int64_t fake_real(void *arg)
{
	return fk.real_ns;
}

static struct fsrvp *server(void)
{
	static const struct fsrvp_backend be = {
		.permitted = fake_permitted,
		.path_support = fake_path,
		.owner_name = fake_owner,
		.prepare = fake_prepare,
		.commit = fake_commit,
		.expose = fake_expose,
		.recovery_complete = fake_recover,
		.delete_copy = fake_delete,
		.changed = fake_changed,
		.ctx = &fk,
	};
	static const struct fsrvp_clock clk = {
		.mono_ms = fake_mono,
		.real_ns = fake_real,
	};
	struct fsrvp *f;

	memset(&fk, 0, sizeof(fk));
	fk.deny = FSRVP_NR_OPS;
	fk.now_ms = 1000000;
	fk.real_ns = 1700000000LL * 1000000000LL;
	f = fsrvp_new(&be, &clk);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fk.f = f;
	return f;
}

static void advance(unsigned int seconds)
{
	fk.now_ms += (uint64_t)seconds * 1000;
}

static const uuid_t client_set = { 0x12, 0x34, 0x56 };
static const uuid_t zero_id;

static enum fsrvp_status status_of(struct fsrvp *f, const uuid_t id)
{
	const struct fsrvp_set *s = fsrvp_set_find(f, id);

	return s ? s->status : 0;
}

/* SetContext + Start: a set in Started. */
static void started(struct fsrvp *f, uint32_t ctx, uuid_t set)
{
	CU_ASSERT_EQUAL_FATAL(fsrvp_set_context(f, &alice, ctx), 0);
	CU_ASSERT_EQUAL_FATAL(fsrvp_start_set(f, &alice, client_set, set), 0);
}

/* ... + Add of each share: Added. */
static void added(struct fsrvp *f, uint32_t ctx, uuid_t set,
		  const char *const *shares, uuid_t *copies)
{
	started(f, ctx, set);
	for (; *shares; shares++, copies++)
		CU_ASSERT_EQUAL_FATAL(fsrvp_add_to_set(f, &alice, zero_id, set,
						       *shares, *copies), 0);
}

static const char *const two_shares[] = { "\\\\srv\\a\\", "\\\\srv\\b", NULL };

static void committed(struct fsrvp *f, uint32_t ctx, uuid_t set,
		      uuid_t *copies)
{
	added(f, ctx, set, two_shares, copies);
	CU_ASSERT_EQUAL_FATAL(fsrvp_commit_set(f, &alice, set, 60000), 0);
}

static void exposed(struct fsrvp *f, uint32_t ctx, uuid_t set,
		    uuid_t *copies)
{
	committed(f, ctx, set, copies);
	CU_ASSERT_EQUAL_FATAL(fsrvp_expose_set(f, &alice, set, 120000), 0);
}

/* -------------------------------------------------------------- names */

static void test_names(void)
{
	char buf[64];

	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x80042301U), "FSRVP_E_BAD_STATE");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x80042316U),
			       "FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x8004230CU), "FSRVP_E_NOT_SUPPORTED");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x102U), "FSRVP_E_WAIT_TIMEOUT");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0xFFFFFFFFU), "FSRVP_E_WAIT_FAILED");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x8004230DU),
			       "FSRVP_E_OBJECT_ALREADY_EXISTS");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x80042308U),
			       "FSRVP_E_OBJECT_NOT_FOUND");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x8004231BU),
			       "FSRVP_E_UNSUPPORTED_CONTEXT");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x80042501U),
			       "FSRVP_E_SHADOWCOPYSET_ID_MISMATCH");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x80042500U), "FSSAGENT_E_TIMEOUT");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x80070005U), "E_ACCESSDENIED");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0x80070057U), "E_INVALIDARG");
	CU_ASSERT_STRING_EQUAL(fsrvp_strerror(0), "ZERO");
	CU_ASSERT_PTR_NULL(fsrvp_strerror(0x1234));

	CU_ASSERT_STRING_EQUAL(fsrvp_status_name(FSRVP_CREATION_IN_PROGRESS),
			       "CreationInProgress");
	CU_ASSERT_EQUAL(fsrvp_status_parse("recovered"), FSRVP_RECOVERED);
	CU_ASSERT_EQUAL(fsrvp_status_parse("Aborted"), 0);
	CU_ASSERT_PTR_NULL(fsrvp_status_name(0));
	CU_ASSERT_STRING_EQUAL(fsrvp_op_name(FSRVP_OP_PREPARE),
			       "PrepareShadowCopySet");

	CU_ASSERT_EQUAL(fsrvp_context_parse("nas_rollback"), 0x19);
	CU_ASSERT_EQUAL(fsrvp_context_parse("0x400010"), 0x400010);
	CU_ASSERT_EQUAL(fsrvp_context_parse("-1"), -1);
	CU_ASSERT_EQUAL(fsrvp_context_parse("sometimes"), -1);
	CU_ASSERT_STRING_EQUAL(fsrvp_context_name(0x400009), "app_rollback");

	CU_ASSERT_EQUAL(fsrvp_share_component("\\\\host\\data\\", buf,
					      sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "data");
	CU_ASSERT_EQUAL(fsrvp_share_component("\\\\host\\data\\sub", buf,
					      sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "data");
	CU_ASSERT_EQUAL(fsrvp_share_component("/srv/data/", buf, sizeof(buf)),
			0);
	CU_ASSERT_STRING_EQUAL(buf, "/srv/data");
	CU_ASSERT_NOT_EQUAL(fsrvp_share_component("\\\\host\\", buf,
						  sizeof(buf)), 0);
	CU_ASSERT_NOT_EQUAL(fsrvp_share_component("", buf, sizeof(buf)), 0);
	CU_ASSERT_TRUE(fsrvp_share_equal("\\\\a\\Data\\", "\\\\b.example\\data"));
	CU_ASSERT_FALSE(fsrvp_share_equal("\\\\a\\data", "\\\\a\\data2"));

	/* 1970-01-01 is 11644473600 s after 1601-01-01 */
	CU_ASSERT_EQUAL(fsrvp_filetime(0), 116444736000000000ULL);
	CU_ASSERT_EQUAL(fsrvp_filetime(1000000000LL), 116444736010000000ULL);
}

static void test_contexts(void)
{
	static const uint32_t ok[] = { 0x0, 0x10, 0x19, 0x9, 0x400000,
				       0x400019, 0x2, 0x12 };
	static const uint32_t bad[] = { 0x1, 0x8, 0x11, 0x20, 0x402010,
					0x400002, 0x04000000 };
	struct fsrvp *f = server();
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CU_ASSERT_TRUE(fsrvp_context_valid(ok[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_FALSE(fsrvp_context_valid(bad[i]));
		CU_ASSERT_EQUAL(fsrvp_set_context(f, &alice, bad[i]),
				FSRVP_E_UNSUPPORTED_CONTEXT);
	}
	CU_ASSERT_FALSE(fsrvp_context_set(f, NULL));
	fsrvp_free(f);
}

/* ------------------------------------------------------- access denied */

static void test_access_denied(void)
{
	struct fsrvp_share_mapping m;
	uuid_t set, copies[2], out;
	uint32_t a, b;
	int32_t compat;
	bool yes;
	char owner[64];
	struct fsrvp *f = server();
	int op;

	exposed(f, 0, set, copies);
	for (op = 0; op < FSRVP_NR_OPS; op++) {
		uint32_t hr = 0;

		fk.deny = (enum fsrvp_op)op;
		switch (op) {
		case FSRVP_OP_GET_SUPPORTED_VERSION:
			hr = fsrvp_get_supported_version(f, &alice, &a, &b);
			break;
		case FSRVP_OP_SET_CONTEXT:
			hr = fsrvp_set_context(f, &alice, 0);
			break;
		case FSRVP_OP_START:
			hr = fsrvp_start_set(f, &alice, client_set, out);
			break;
		case FSRVP_OP_ADD:
			hr = fsrvp_add_to_set(f, &alice, zero_id, set,
					      "\\\\srv\\c", out);
			break;
		case FSRVP_OP_COMMIT:
			hr = fsrvp_commit_set(f, &alice, set, 1);
			break;
		case FSRVP_OP_EXPOSE:
			hr = fsrvp_expose_set(f, &alice, set, 1);
			break;
		case FSRVP_OP_RECOVERY_COMPLETE:
			hr = fsrvp_recovery_complete(f, &alice, set);
			break;
		case FSRVP_OP_ABORT:
			hr = fsrvp_abort_set(f, &alice, set);
			break;
		case FSRVP_OP_IS_PATH_SUPPORTED:
			hr = fsrvp_is_path_supported(f, &alice, "\\\\srv\\a",
						     &yes, owner, sizeof(owner));
			break;
		case FSRVP_OP_IS_PATH_SHADOW_COPIED:
			hr = fsrvp_is_path_shadow_copied(f, &alice, "\\\\srv\\a",
							 &yes, &compat);
			break;
		case FSRVP_OP_GET_SHARE_MAPPING:
			hr = fsrvp_get_share_mapping(f, &alice, copies[0], set,
						     "\\\\srv\\a", 1, &m);
			break;
		case FSRVP_OP_DELETE_SHARE_MAPPING:
			hr = fsrvp_delete_share_mapping(f, &alice, set,
							copies[0], "\\\\srv\\a");
			break;
		case FSRVP_OP_PREPARE:
			hr = fsrvp_prepare_set(f, &alice, set, 1);
			break;
		}
		CU_ASSERT_EQUAL(hr, FSRVP_E_ACCESSDENIED);
	}
	/* Nothing changed: the set is still Exposed with its two copies. */
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_EXPOSED);
	CU_ASSERT_EQUAL(fsrvp_set_find(f, set)->n, 2);
	CU_ASSERT_EQUAL(fk.deletes, 0);
	fsrvp_free(f);
}

/* ------------------------------------------------ one operation a test */

static void test_get_supported_version(void)
{
	struct fsrvp *f = server();
	uint32_t min = 7, max = 7;

	CU_ASSERT_EQUAL(fsrvp_get_supported_version(f, &alice, &min, &max), 0);
	CU_ASSERT_EQUAL(min, 1);
	CU_ASSERT_EQUAL(max, 1);
	CU_ASSERT_EQUAL(fsrvp_get_supported_version(f, &alice, NULL, &max),
			FSRVP_E_INVALIDARG);
	fsrvp_free(f);
}

static void test_set_context(void)
{
	struct fsrvp *f = server();
	uint32_t ctx = 0;

	CU_ASSERT_EQUAL(fsrvp_set_context(f, &alice, 0x400019), 0);
	CU_ASSERT_TRUE(fsrvp_context_set(f, &ctx));
	CU_ASSERT_EQUAL(ctx, 0x400019);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	/* another client while a context is set */
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &bob, 0),
			FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS);
	CU_ASSERT_TRUE(fsrvp_context_set(f, &ctx));
	CU_ASSERT_EQUAL(ctx, 0x400019);
	/* the same client again: a retry, the new context wins */
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &alice, 0x10), 0);
	CU_ASSERT_TRUE(fsrvp_context_set(f, &ctx));
	CU_ASSERT_EQUAL(ctx, 0x10);
	fsrvp_free(f);
}

/* The same client's retry deletes its unrecovered set; the sixth fails. */
static void test_set_context_retry(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2];
	int i;

	committed(f, 0, set, copies);
	CU_ASSERT_EQUAL(fk.live_snaps, 2);
	/* SetContext was 1; 5 retries are allowed */
	for (i = 1; i <= FSRVP_RETRY_MAX; i++)
		CU_ASSERT_EQUAL(fsrvp_set_context(f, &alice, 0), 0);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 0);
	CU_ASSERT_EQUAL(fk.live_snaps, 0);	/* the snapshots went too */
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &alice, 0),
			FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS);
	CU_ASSERT_FALSE(fsrvp_context_set(f, NULL));
	/* the context is clear now: the next call starts counting again */
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &bob, 0), 0);
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &bob, 0), 0);
	fsrvp_free(f);
}

static void test_start(void)
{
	struct fsrvp *f = server();
	uuid_t set, set2, copies[2];
	const struct fsrvp_set *s;

	CU_ASSERT_EQUAL(fsrvp_start_set(f, &alice, client_set, set),
			FSRVP_E_BAD_STATE);
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &alice, 0x19), 0);
	CU_ASSERT_EQUAL(fsrvp_start_set(f, &alice, zero_id, set),
			FSRVP_E_INVALIDARG);
	advance(100);
	CU_ASSERT_EQUAL(fsrvp_start_set(f, &alice, client_set, set), 0);
	CU_ASSERT_FALSE(uuid_is_null(set));
	CU_ASSERT_NOT_EQUAL(uuid_compare(set, client_set), 0);
	s = fsrvp_set_find(f, set);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->status, FSRVP_STARTED);
	CU_ASSERT_EQUAL(s->context, 0x19);
	CU_ASSERT_EQUAL(s->n, 0);
	CU_ASSERT_EQUAL(uuid_compare(s->client_id, client_set), 0);
	/* timer restarted at 180 s from now */
	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), 180000);
	/* one set in creation at a time, whatever its state until Recovered */
	CU_ASSERT_EQUAL(fsrvp_start_set(f, &alice, client_set, set2),
			FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS);
	fsrvp_free(f);

	f = server();
	exposed(f, 0, set, copies);
	CU_ASSERT_EQUAL(fsrvp_start_set(f, &alice, client_set, set2),
			FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS);
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set), 0);
	/* RecoveryComplete cleared the context */
	CU_ASSERT_EQUAL(fsrvp_start_set(f, &alice, client_set, set2),
			FSRVP_E_BAD_STATE);
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &bob, 0), 0);
	CU_ASSERT_EQUAL(fsrvp_start_set(f, &bob, client_set, set2), 0);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 2);
	fsrvp_free(f);
}

static void test_add(void)
{
	struct fsrvp *f = server();
	uuid_t set, c1, c2, other;
	const struct fsrvp_set *s;
	char share[32];
	int i;

	started(f, 0, set);
	uuid_generate(other);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set, "", c1),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set, NULL, c1),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, zero_id,
					 "\\\\srv\\a", c1), FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
					 "\\\\srv\\nope", c1),
			FSRVP_E_OBJECT_NOT_FOUND);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
					 "\\\\srv\\fat", c1),
			FSRVP_E_NOT_SUPPORTED);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, other,
					 "\\\\srv\\a", c1),
			FSRVP_E_SHADOWCOPYSET_ID_MISMATCH);
	/* the share is checked before the set (the spec's order) */
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, other,
					 "\\\\srv\\nope", c1),
			FSRVP_E_OBJECT_NOT_FOUND);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_STARTED);

	fk.real_ns = 1234567890LL * 1000000000LL;
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, client_set, set,
					 "\\\\srv\\a\\", c1), 0);
	s = fsrvp_set_find(f, set);
	CU_ASSERT_EQUAL(s->status, FSRVP_ADDED);
	CU_ASSERT_EQUAL(s->n, 1);
	CU_ASSERT_EQUAL(uuid_compare(s->copies[0].id, c1), 0);
	CU_ASSERT_NOT_EQUAL(uuid_compare(c1, client_set), 0);
	CU_ASSERT_STRING_EQUAL(s->copies[0].volume, "vol-a");
	CU_ASSERT_STRING_EQUAL(s->copies[0].share, "\\\\srv\\a\\");
	CU_ASSERT_EQUAL(s->copies[0].ctime_ns, 1234567890LL * 1000000000LL);
	CU_ASSERT_FALSE(s->copies[0].exposed);
	CU_ASSERT_EQUAL(s->copies[0].snap_id, 0);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 1800);

	/* another share on the same volume */
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
					 "\\\\srv\\a2", c2),
			FSRVP_E_OBJECT_ALREADY_EXISTS);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	CU_ASSERT_EQUAL(fsrvp_set_find(f, set)->n, 1);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
					 "\\\\srv\\b", c2), 0);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 1800);
	CU_ASSERT_NOT_EQUAL(uuid_compare(c1, c2), 0);

	/* up to 64 volumes */
	for (i = 0; i < FSRVP_COPIES_MAX - 2; i++) {
		snprintf(share, sizeof(share), "\\\\srv\\v%d", i);
		CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
						 share, c2), 0);
	}
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
					 "\\\\srv\\one-too-many", c2),
			FSRVP_E_NOT_SUPPORTED);
	CU_ASSERT_EQUAL(fsrvp_set_find(f, set)->n, FSRVP_COPIES_MAX);

	/* not in Started or Added */
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000), 0);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
					 "\\\\srv\\c", c2), FSRVP_E_BAD_STATE);
	fsrvp_free(f);
}

static void test_prepare(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2], other;

	uuid_generate(other);
	started(f, 0, set);
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, set, 1000),
			FSRVP_E_BAD_STATE);
	CU_ASSERT_EQUAL(fk.prepares, 0);
	fsrvp_free(f);

	f = server();
	added(f, 0, set, two_shares, copies);
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, other, 1000),
			FSRVP_E_SHADOWCOPYSET_ID_MISMATCH);
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, zero_id, 1000),
			FSRVP_E_INVALIDARG);

	fk.prepare_hr = FSRVP_E_WAIT_TIMEOUT;
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, set, 1000),
			FSRVP_E_WAIT_TIMEOUT);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	fk.prepare_hr = FSRVP_E_WAIT_FAILED;
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, set, 1000),
			FSRVP_E_WAIT_FAILED);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	fk.prepare_hr = FSRVP_E_FAIL;
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, set, 1000), FSRVP_E_FAIL);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_ADDED);

	fk.prepare_hr = 0;
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, set, 240000), 0);
	CU_ASSERT_EQUAL(fk.last_timeout, 240000);
	CU_ASSERT_EQUAL(fk.prepares, 4);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 1800);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_ADDED);
	CU_ASSERT_EQUAL(fk.commits, 0);		/* flushed, not cut */
	fsrvp_free(f);
}

static void test_commit(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2], other;
	const struct fsrvp_set *s;

	uuid_generate(other);
	started(f, 0, set);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000),
			FSRVP_E_BAD_STATE);
	fsrvp_free(f);

	f = server();
	added(f, 0, set, two_shares, copies);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, other, 1000),
			FSRVP_E_SHADOWCOPYSET_ID_MISMATCH);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, zero_id, 1000),
			FSRVP_E_INVALIDARG);

	/* wait failed: back to Added */
	fk.commit_hr = FSRVP_E_WAIT_FAILED;
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000),
			FSRVP_E_WAIT_FAILED);
	CU_ASSERT_EQUAL(fk.status_in_commit, FSRVP_CREATION_IN_PROGRESS);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_ADDED);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);

	/* the freeze bound ran out: FSSAGENT_E_TIMEOUT, Added, nothing left */
	fk.commit_hr = FSRVP_E_WAIT_TIMEOUT;
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000),
			FSSAGENT_E_TIMEOUT);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_ADDED);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	CU_ASSERT_EQUAL(fk.live_snaps, 0);

	/* another error: returned as is, CreationInProgress, retry allowed */
	fk.commit_hr = FSRVP_E_FAIL;
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000), FSRVP_E_FAIL);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_CREATION_IN_PROGRESS);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, set, 1),
			FSRVP_E_BAD_STATE);

	fk.commit_hr = 0;
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 60000), 0);
	CU_ASSERT_EQUAL(fk.last_timeout, 60000);
	CU_ASSERT_EQUAL(fk.commits, 4);
	s = fsrvp_set_find(f, set);
	CU_ASSERT_EQUAL(s->status, FSRVP_COMMITTED);
	CU_ASSERT_EQUAL(s->copies[0].snap_id, 1);
	CU_ASSERT_EQUAL(s->copies[1].snap_id, 2);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000),
			FSRVP_E_BAD_STATE);
	CU_ASSERT_EQUAL(fk.commits, 4);
	fsrvp_free(f);
}

/* A call on the set while the backend works on it: BAD_STATE. */
static void test_commit_reentry(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2];

	added(f, 0, set, two_shares, copies);
	fk.reenter = true;
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000), 0);
	CU_ASSERT_EQUAL(fk.reenter_hr, FSRVP_E_BAD_STATE);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_COMMITTED);
	fsrvp_free(f);
}

static void test_expose(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2], other;
	const struct fsrvp_set *s;
	char guid[UUID_STR_LEN], want[128];

	uuid_generate(other);
	added(f, 0x400000, set, two_shares, copies);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1000),
			FSRVP_E_BAD_STATE);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000), 0);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, other, 1000),
			FSRVP_E_SHADOWCOPYSET_ID_MISMATCH);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, zero_id, 1000),
			FSRVP_E_INVALIDARG);

	fk.expose_hr = FSRVP_E_WAIT_TIMEOUT;
	advance(10);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1000),
			FSRVP_E_WAIT_TIMEOUT);
	s = fsrvp_set_find(f, set);
	CU_ASSERT_EQUAL(s->status, FSRVP_COMMITTED);
	CU_ASSERT_FALSE(s->copies[0].exposed);
	CU_ASSERT_STRING_EQUAL(s->copies[0].exposed_name, "");
	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), 180000);
	fk.expose_hr = FSRVP_E_WAIT_FAILED;
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1000),
			FSRVP_E_WAIT_FAILED);
	fk.expose_hr = FSRVP_E_FAIL;
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1000), FSRVP_E_FAIL);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_COMMITTED);

	fk.expose_hr = 0;
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 120000), 0);
	CU_ASSERT_EQUAL(fk.last_timeout, 120000);
	s = fsrvp_set_find(f, set);
	CU_ASSERT_EQUAL(s->status, FSRVP_EXPOSED);
	uuid_unparse_lower(copies[0], guid);
	snprintf(want, sizeof(want), "\\\\srv\\a@{%s}", guid);
	CU_ASSERT_STRING_EQUAL(s->copies[0].exposed_name, want);
	CU_ASSERT_TRUE(s->copies[0].exposed);
	CU_ASSERT_TRUE(s->copies[0].writable);	/* ATTR_AUTO_RECOVERY */
	uuid_unparse_lower(copies[1], guid);
	snprintf(want, sizeof(want), "\\\\srv\\b@{%s}", guid);
	CU_ASSERT_STRING_EQUAL(s->copies[1].exposed_name, want);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1000),
			FSRVP_E_BAD_STATE);
	fsrvp_free(f);
}

/* The kernel dropped a copy's snapshot: the copy stays, with nothing. */
static void test_copy_lost(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2], other;
	const struct fsrvp_set *s;
	unsigned int changes;

	uuid_generate(other);
	added(f, 0x400000, set, two_shares, copies);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000), 0);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1000), 0);
	s = fsrvp_set_find(f, set);
	CU_ASSERT_NOT_EQUAL(s->copies[1].snap_id, 0);
	changes = fk.changes;
	CU_ASSERT_EQUAL(fsrvp_copy_lost(f, set, copies[1]), 0);
	CU_ASSERT_EQUAL(fk.changes, changes + 1);
	CU_ASSERT_EQUAL(s->n, 2);
	CU_ASSERT_EQUAL(s->copies[1].snap_id, 0);
	CU_ASSERT_FALSE(s->copies[1].exposed);
	CU_ASSERT_FALSE(s->copies[1].writable);
	CU_ASSERT_TRUE(s->copies[0].exposed);
	CU_ASSERT_NOT_EQUAL(s->copies[0].snap_id, 0);
	CU_ASSERT_EQUAL(s->status, FSRVP_EXPOSED);
	CU_ASSERT_EQUAL(fsrvp_copy_lost(f, set, other), -ENOENT);
	CU_ASSERT_EQUAL(fsrvp_copy_lost(f, other, copies[0]), -ENOENT);
	CU_ASSERT_EQUAL(fsrvp_copy_lost(f, zero_id, copies[0]), -ENOENT);
	fsrvp_free(f);
}

static void test_expose_hidden_share(void)
{
	static const char *const hidden[] = { "\\\\srv\\backup$\\", NULL };
	struct fsrvp *f = server();
	uuid_t set, copy[1];
	char guid[UUID_STR_LEN], want[128];

	added(f, 0, set, hidden, copy);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1000), 0);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1000), 0);
	uuid_unparse_lower(copy[0], guid);
	snprintf(want, sizeof(want), "\\\\srv\\backup$@{%s}$", guid);
	CU_ASSERT_STRING_EQUAL(fsrvp_set_find(f, set)->copies[0].exposed_name,
			       want);
	fsrvp_free(f);
}

static void test_recovery_complete(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2], other;
	const struct fsrvp_set *s;

	uuid_generate(other);
	committed(f, 0x400000, set, copies);
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set),
			FSRVP_E_BAD_STATE);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1000), 0);
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, other),
			FSRVP_E_SHADOWCOPYSET_ID_MISMATCH);
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, zero_id),
			FSRVP_E_INVALIDARG);
	fk.recover_hr = FSRVP_E_FAIL;
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set), FSRVP_E_FAIL);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_EXPOSED);
	CU_ASSERT_TRUE(fsrvp_context_set(f, NULL));
	fk.recover_hr = 0;
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set), 0);
	CU_ASSERT_EQUAL(fk.recovers, 2);
	s = fsrvp_set_find(f, set);
	CU_ASSERT_EQUAL(s->status, FSRVP_RECOVERED);
	CU_ASSERT_FALSE(s->copies[0].writable);		/* sealed */
	CU_ASSERT_FALSE(fsrvp_context_set(f, NULL));
	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), -1);
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set),
			FSRVP_E_BAD_STATE);
	fsrvp_free(f);

	/* ATTR_NO_AUTO_RECOVERY: read-only from the start, nothing to seal */
	f = server();
	exposed(f, FSRVP_ATTR_NO_AUTO_RECOVERY, set, copies);
	CU_ASSERT_FALSE(fsrvp_set_find(f, set)->copies[0].writable);
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set), 0);
	CU_ASSERT_EQUAL(fk.recovers, 0);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_RECOVERED);
	fsrvp_free(f);
}

static void test_abort(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2], other;

	uuid_generate(other);
	started(f, 0, set);
	CU_ASSERT_EQUAL(fsrvp_abort_set(f, &alice, zero_id),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_abort_set(f, &alice, other),
			FSRVP_E_SHADOWCOPYSET_ID_MISMATCH);
	CU_ASSERT_EQUAL(fsrvp_abort_set(f, &alice, set), 0);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 0);
	CU_ASSERT_FALSE(fsrvp_context_set(f, NULL));
	CU_ASSERT_EQUAL(fk.deletes, 0);		/* nothing was made */
	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), -1);
	/* the set is gone: Add fails (smbtorture sc_set_abort) */
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
					 "\\\\srv\\a", other),
			FSRVP_E_SHADOWCOPYSET_ID_MISMATCH);
	fsrvp_free(f);

	/* Abort of an exposed set deletes its snapshots (Samba keeps them) */
	f = server();
	exposed(f, 0, set, copies);
	CU_ASSERT_EQUAL(fk.live_snaps, 2);
	fk.delete_hr = FSRVP_E_FAIL;
	CU_ASSERT_EQUAL(fsrvp_abort_set(f, &alice, set), FSRVP_E_FAIL);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 1);
	CU_ASSERT_EQUAL(fk.live_snaps, 2);
	fk.delete_hr = 0;
	CU_ASSERT_EQUAL(fsrvp_abort_set(f, &alice, set), 0);
	CU_ASSERT_EQUAL(fk.live_snaps, 0);
	CU_ASSERT_EQUAL(fk.deletes, 2);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 0);
	fsrvp_free(f);

	/* Abort after a failed commit: nothing to delete, the set goes */
	f = server();
	added(f, 0, set, two_shares, copies);
	fk.commit_hr = FSRVP_E_FAIL;
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1), FSRVP_E_FAIL);
	CU_ASSERT_EQUAL(fsrvp_abort_set(f, &alice, set), 0);
	CU_ASSERT_EQUAL(fk.deletes, 0);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 0);
	fsrvp_free(f);
}

static void test_is_path_supported(void)
{
	struct fsrvp *f = server();
	char owner[64] = "";
	bool sup = false;

	CU_ASSERT_EQUAL(fsrvp_is_path_supported(f, &alice, "", &sup, owner,
						sizeof(owner)),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_is_path_supported(f, &alice, "\\\\srv\\nope",
						&sup, owner, sizeof(owner)),
			FSRVP_E_OBJECT_NOT_FOUND);
	CU_ASSERT_EQUAL(fsrvp_is_path_supported(f, &alice, "\\\\srv\\fat",
						&sup, owner, sizeof(owner)),
			FSRVP_E_NOT_SUPPORTED);
	CU_ASSERT_FALSE(sup);
	CU_ASSERT_EQUAL(fsrvp_is_path_supported(f, &alice, "\\\\srv\\a\\",
						&sup, owner, sizeof(owner)),
			0);
	CU_ASSERT_TRUE(sup);
	CU_ASSERT_STRING_EQUAL(owner, "fileserver1");
	fsrvp_free(f);
}

static void test_is_path_shadow_copied(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2];
	int32_t compat = 5;
	bool present = true;

	CU_ASSERT_EQUAL(fsrvp_is_path_shadow_copied(f, &alice, "", &present,
						    &compat),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_is_path_shadow_copied(f, &alice, "\\\\srv\\nope",
						    &present, &compat),
			FSRVP_E_OBJECT_NOT_FOUND);
	CU_ASSERT_EQUAL(fsrvp_is_path_shadow_copied(f, &alice, "\\\\srv\\fat",
						    &present, &compat), 0);
	CU_ASSERT_FALSE(present);

	added(f, 0, set, two_shares, copies);
	CU_ASSERT_EQUAL(fsrvp_is_path_shadow_copied(f, &alice, "\\\\srv\\a",
						    &present, &compat), 0);
	CU_ASSERT_FALSE(present);	/* Added does not count */
	CU_ASSERT_EQUAL(compat, 0);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1), 0);
	CU_ASSERT_EQUAL(fsrvp_is_path_shadow_copied(f, &alice, "\\\\srv\\a",
						    &present, &compat), 0);
	CU_ASSERT_TRUE(present);
	/* another share on the same volume has a copy too */
	CU_ASSERT_EQUAL(fsrvp_is_path_shadow_copied(f, &alice, "\\\\srv\\a2",
						    &present, &compat), 0);
	CU_ASSERT_TRUE(present);
	CU_ASSERT_EQUAL(fsrvp_is_path_shadow_copied(f, &alice, "\\\\srv\\c",
						    &present, &compat), 0);
	CU_ASSERT_FALSE(present);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1), 0);
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set), 0);
	CU_ASSERT_EQUAL(fsrvp_is_path_shadow_copied(f, &alice, "\\\\srv\\b",
						    &present, &compat), 0);
	CU_ASSERT_TRUE(present);
	fsrvp_free(f);
}

static void test_get_share_mapping(void)
{
	struct fsrvp *f = server();
	struct fsrvp_share_mapping m;
	uuid_t set, copies[2], other;
	char guid[UUID_STR_LEN], want[128];

	uuid_generate(other);
	fk.real_ns = 0;		/* CreationTimeStamp: 1970-01-01 */
	committed(f, 0, set, copies);
	CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, copies[0], set,
						"\\\\srv\\a", 1, &m),
			FSRVP_E_BAD_STATE);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1), 0);
	CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, copies[0], set,
						"\\\\srv\\a", 2, &m),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, copies[0], other,
						"\\\\srv\\a", 1, &m),
			FSRVP_E_SHADOWCOPYSET_ID_MISMATCH);
	CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, other, set,
						"\\\\srv\\a", 1, &m),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, copies[0], set,
						"\\\\srv\\b", 1, &m),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);	/* untouched */

	CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, copies[0], set,
						"\\\\SRV\\A", 1, &m), 0);
	CU_ASSERT_EQUAL(uuid_compare(m.set_id, set), 0);
	CU_ASSERT_EQUAL(uuid_compare(m.copy_id, copies[0]), 0);
	CU_ASSERT_STRING_EQUAL(m.share, "\\\\srv\\a\\");
	uuid_unparse_lower(copies[0], guid);
	snprintf(want, sizeof(want), "\\\\srv\\a@{%s}", guid);
	CU_ASSERT_STRING_EQUAL(m.exposed_name, want);
	CU_ASSERT_EQUAL(m.creation_ts, 116444736000000000ULL);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 1800);

	/* Recovered: BAD_STATE (the spec's SHOULD) */
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set), 0);
	CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, copies[0], set,
						"\\\\srv\\a", 1, &m),
			FSRVP_E_BAD_STATE);
	fsrvp_free(f);
}

static void test_delete_share_mapping(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2], other;

	uuid_generate(other);
	committed(f, 0, set, copies);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, copies[0],
						   "\\\\srv\\a"),
			FSRVP_E_BAD_STATE);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 1), 0);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, zero_id,
						   copies[0], "\\\\srv\\a"),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, zero_id,
						   "\\\\srv\\a"),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, copies[0],
						   ""),
			FSRVP_E_INVALIDARG);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, other, copies[0],
						   "\\\\srv\\a"),
			FSRVP_E_OBJECT_NOT_FOUND);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, other,
						   "\\\\srv\\a"),
			FSRVP_E_OBJECT_NOT_FOUND);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, copies[0],
						   "\\\\srv\\b"),
			FSRVP_E_OBJECT_NOT_FOUND);
	fk.delete_hr = FSRVP_E_FAIL;
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, copies[0],
						   "\\\\srv\\a"),
			FSRVP_E_FAIL);
	CU_ASSERT_EQUAL(fsrvp_set_find(f, set)->n, 2);
	fk.delete_hr = 0;
	CU_ASSERT_EQUAL(fk.live_snaps, 2);

	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, copies[0],
						   "\\\\other-host\\A\\"), 0);
	CU_ASSERT_EQUAL(fk.live_snaps, 1);
	CU_ASSERT_STRING_EQUAL(fk.deleted[0], "vol-a");
	CU_ASSERT_EQUAL(fsrvp_set_find(f, set)->n, 1);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, copies[0],
						   "\\\\srv\\a"),
			FSRVP_E_OBJECT_NOT_FOUND);
	/* the last one takes the set with it, Recovered or not */
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set), 0);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, copies[1],
						   "\\\\srv\\b"), 0);
	CU_ASSERT_EQUAL(fk.live_snaps, 0);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 0);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &alice, set, copies[1],
						   "\\\\srv\\b"),
			FSRVP_E_OBJECT_NOT_FOUND);
	fsrvp_free(f);
}

/* ------------------------------------------------------------- the timer */

static void test_timer_after_set_context(void)
{
	struct fsrvp *f = server();
	uuid_t set;

	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), -1);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), -1);
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &alice, 0), 0);
	advance(179);
	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), 1000);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), -1);
	CU_ASSERT_TRUE(fsrvp_context_set(f, NULL));
	advance(1);
	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), 0);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), 0);
	CU_ASSERT_FALSE(fsrvp_context_set(f, NULL));
	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), -1);
	/* smbtorture seq_timeout: Start after the SetContext timeout */
	CU_ASSERT_EQUAL(fsrvp_start_set(f, &alice, client_set, set),
			FSRVP_E_BAD_STATE);
	/* another client may now set a context */
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &bob, 0), 0);
	fsrvp_free(f);
}

static void test_timer_after_add(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2];
	unsigned int changes;

	added(f, 0, set, two_shares, copies);
	advance(1799);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), -1);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_ADDED);
	advance(1);
	changes = fk.changes;
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), 1);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 0);
	CU_ASSERT_EQUAL(fk.changes, changes + 1);	/* persisted */
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1),
			FSRVP_E_SHADOWCOPYSET_ID_MISMATCH);
	fsrvp_free(f);
}

/* Committed and Exposed sets expire 180 s later, snapshots and all. */
static void test_timer_after_commit_and_expose(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2];

	committed(f, 0, set, copies);
	advance(180);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), 1);
	CU_ASSERT_EQUAL(fk.live_snaps, 0);
	CU_ASSERT_EQUAL(fk.deletes, 2);
	fsrvp_free(f);

	f = server();
	exposed(f, 0, set, copies);
	advance(179);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), -1);
	/* GetShareMapping restarts it at 1800 s */
	{
		struct fsrvp_share_mapping m;

		CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, copies[1],
							set, "\\\\srv\\b", 1,
							&m), 0);
	}
	advance(1799);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), -1);
	advance(1);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), 1);
	CU_ASSERT_EQUAL(fk.live_snaps, 0);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 0);
	fsrvp_free(f);
}

/* Recovered sets survive the timer (and a stopped timer never fires). */
static void test_timer_keeps_recovered(void)
{
	struct fsrvp *f = server();
	uuid_t set, set2, copies[2];

	exposed(f, 0, set, copies);
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set), 0);
	advance(100000);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), -1);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_RECOVERED);
	/* a second set is started, abandoned, and expires alone */
	started(f, 0, set2);
	advance(180);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), 1);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 1);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_RECOVERED);
	CU_ASSERT_EQUAL(fk.live_snaps, 2);
	fsrvp_free(f);
}

/* Failed Prepare, Commit and Expose restart the timer at 180 s. */
static void test_timer_after_failures(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2];

	added(f, 0, set, two_shares, copies);
	fk.prepare_hr = FSRVP_E_WAIT_TIMEOUT;
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, set, 1),
			FSRVP_E_WAIT_TIMEOUT);
	advance(180);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), 1);
	fsrvp_free(f);

	f = server();
	added(f, 0, set, two_shares, copies);
	fk.commit_hr = FSRVP_E_WAIT_TIMEOUT;
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1),
			FSSAGENT_E_TIMEOUT);
	advance(180);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), 1);
	CU_ASSERT_EQUAL(fk.live_snaps, 0);
	fsrvp_free(f);
}

static void test_timer_override(void)
{
	struct fsrvp *f = server();
	uuid_t set, copies[2];

	fsrvp_set_timeout_override(f, 1);
	added(f, 0, set, two_shares, copies);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 1);
	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), 1000);
	advance(1);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), 1);
	fsrvp_free(f);

	/* 0: the timer never runs */
	f = server();
	fsrvp_set_timeout_override(f, 0);
	added(f, 0, set, two_shares, copies);
	CU_ASSERT_EQUAL(fsrvp_timer_remaining_ms(f), -1);
	advance(1000000);
	CU_ASSERT_EQUAL(fsrvp_timer_run(f), -1);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_ADDED);
	/* back to the spec's values */
	fsrvp_set_timeout_override(f, FSRVP_TIMEOUT_SPEC);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1), 0);
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(f), 180);
	fsrvp_free(f);
}

/* ------------------------------------------------------- restore, flow */

static void test_restore(void)
{
	struct fsrvp *f = server(), *g;
	uuid_t set, copies[2];
	struct fsrvp_set copy;
	const struct fsrvp_set *s;

	added(f, 0, set, two_shares, copies);
	fk.commit_hr = FSRVP_E_FAIL;
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 1), FSRVP_E_FAIL);
	copy = *fsrvp_set_find(f, set);

	g = fsrvp_new(NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_EQUAL(fsrvp_restore_set(g, &copy), 0);
	CU_ASSERT_EQUAL(fsrvp_restore_set(g, &copy),
			FSRVP_E_OBJECT_ALREADY_EXISTS);
	s = fsrvp_set_find(g, set);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->status, FSRVP_ADDED);	/* CIP -> Added */
	CU_ASSERT_EQUAL(s->n, 2);
	CU_ASSERT_STRING_EQUAL(s->copies[1].volume, "vol-b");
	CU_ASSERT_EQUAL(fsrvp_timer_armed_s(g), 180);
	CU_ASSERT_FALSE(fsrvp_context_set(g, NULL));
	copy.status = 0;
	uuid_generate(copy.id);
	CU_ASSERT_EQUAL(fsrvp_restore_set(g, &copy), FSRVP_E_INVALIDARG);
	fsrvp_free(g);
	fsrvp_free(f);
}

/* What rpcclient fss_create_expose then fss_delete do, with every call. */
static void test_full_flow(void)
{
	struct fsrvp *f = server();
	struct fsrvp_share_mapping m;
	uuid_t set, c1, c2;
	uint32_t min, max;
	char owner[64];
	bool sup;

	CU_ASSERT_EQUAL(fsrvp_is_path_supported(f, &alice, "\\\\srv\\a\\",
						&sup, owner, sizeof(owner)), 0);
	CU_ASSERT_EQUAL(fsrvp_get_supported_version(f, &alice, &min, &max), 0);
	CU_ASSERT_EQUAL(fsrvp_set_context(f, &alice, FSRVP_CTX_BACKUP), 0);
	CU_ASSERT_EQUAL(fsrvp_start_set(f, &alice, client_set, set), 0);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_STARTED);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
					 "\\\\srv\\a\\", c1), 0);
	CU_ASSERT_EQUAL(fsrvp_add_to_set(f, &alice, zero_id, set,
					 "\\\\srv\\b\\", c2), 0);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_ADDED);
	CU_ASSERT_EQUAL(fsrvp_prepare_set(f, &alice, set, 240000), 0);
	CU_ASSERT_EQUAL(fsrvp_commit_set(f, &alice, set, 180000), 0);
	CU_ASSERT_EQUAL(fk.commits, 1);		/* one group cut for both */
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_COMMITTED);
	CU_ASSERT_EQUAL(fsrvp_expose_set(f, &alice, set, 120000), 0);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_EXPOSED);
	CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, c1, set,
						"\\\\srv\\a\\", 1, &m), 0);
	CU_ASSERT_EQUAL(fsrvp_get_share_mapping(f, &alice, c2, set,
						"\\\\srv\\b\\", 1, &m), 0);
	CU_ASSERT_EQUAL(fsrvp_recovery_complete(f, &alice, set), 0);
	CU_ASSERT_EQUAL(status_of(f, set), FSRVP_RECOVERED);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &bob, set, c1,
						   "\\\\srv\\a\\"), 0);
	CU_ASSERT_EQUAL(fsrvp_delete_share_mapping(f, &bob, set, c2,
						   "\\\\srv\\b\\"), 0);
	CU_ASSERT_EQUAL(fsrvp_set_count(f), 0);
	CU_ASSERT_EQUAL(fk.live_snaps, 0);
	CU_ASSERT(fk.changes >= 10);
	fsrvp_free(f);
}

static CU_TestInfo tests[] = {
	{ "names", test_names },
	{ "contexts", test_contexts },
	{ "access_denied", test_access_denied },
	{ "get_supported_version", test_get_supported_version },
	{ "set_context", test_set_context },
	{ "set_context_retry", test_set_context_retry },
	{ "start", test_start },
	{ "add", test_add },
	{ "prepare", test_prepare },
	{ "commit", test_commit },
	{ "commit_reentry", test_commit_reentry },
	{ "expose", test_expose },
	{ "expose_hidden_share", test_expose_hidden_share },
	{ "copy_lost", test_copy_lost },
	{ "recovery_complete", test_recovery_complete },
	{ "abort", test_abort },
	{ "is_path_supported", test_is_path_supported },
	{ "is_path_shadow_copied", test_is_path_shadow_copied },
	{ "get_share_mapping", test_get_share_mapping },
	{ "delete_share_mapping", test_delete_share_mapping },
	{ "timer_after_set_context", test_timer_after_set_context },
	{ "timer_after_add", test_timer_after_add },
	{ "timer_after_commit_and_expose", test_timer_after_commit_and_expose },
	{ "timer_keeps_recovered", test_timer_keeps_recovered },
	{ "timer_after_failures", test_timer_after_failures },
	{ "timer_override", test_timer_override },
	{ "restore", test_restore },
	{ "full_flow", test_full_flow },
	CU_TEST_INFO_NULL,
};

const struct unit_suite fsrvp_suite = { "fsrvp", tests };
