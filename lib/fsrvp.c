// SPDX-License-Identifier: GPL-2.0
/*
 * fsrvp: the MS-FSRVP server's shadow copy set state machine (see fsrvp.h).
 *
 * Each operation follows its section of MS-FSRVP 3.1.4 step by step, in
 * the spec's order of checks, so that a request wrong in two ways gets
 * the error the spec names first.  The message sequence timer is one
 * deadline on the monotonic clock; the caller's event loop asks how long
 * to sleep (fsrvp_timer_remaining_ms) and runs it (fsrvp_timer_run).
 */
#include "fsrvp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct fsrvp {
	struct fsrvp_backend be;
	struct fsrvp_clock clock;

	/* Global (3.1.1.1) */
	bool context_set;
	uint32_t current_context;
	char client_addr[FSRVP_ADDR_MAX];
	bool have_client_addr;
	unsigned int retry_count;

	struct fsrvp_set **sets;
	size_t nsets, capsets;

	/* Message Sequence Timer (3.1.2) */
	int override;			/* FSRVP_TIMEOUT_SPEC, 0, or seconds */
	bool timer_on;
	unsigned int timer_s;
	uint64_t deadline_ms;
};

/* -------------------------------------------------------------- names */

static const struct {
	uint32_t hr;
	const char *name;
} hr_names[] = {
	{ FSRVP_OK, "ZERO" },
	{ FSRVP_E_BAD_STATE, "FSRVP_E_BAD_STATE" },
	{ FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS,
	  "FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS" },
	{ FSRVP_E_NOT_SUPPORTED, "FSRVP_E_NOT_SUPPORTED" },
	{ FSRVP_E_WAIT_TIMEOUT, "FSRVP_E_WAIT_TIMEOUT" },
	{ FSRVP_E_WAIT_FAILED, "FSRVP_E_WAIT_FAILED" },
	{ FSRVP_E_OBJECT_ALREADY_EXISTS, "FSRVP_E_OBJECT_ALREADY_EXISTS" },
	{ FSRVP_E_OBJECT_NOT_FOUND, "FSRVP_E_OBJECT_NOT_FOUND" },
	{ FSRVP_E_UNSUPPORTED_CONTEXT, "FSRVP_E_UNSUPPORTED_CONTEXT" },
	{ FSRVP_E_SHADOWCOPYSET_ID_MISMATCH,
	  "FSRVP_E_SHADOWCOPYSET_ID_MISMATCH" },
	{ FSSAGENT_E_TIMEOUT, "FSSAGENT_E_TIMEOUT" },
	{ FSRVP_E_ACCESSDENIED, "E_ACCESSDENIED" },
	{ FSRVP_E_INVALIDARG, "E_INVALIDARG" },
	{ FSRVP_E_OUTOFMEMORY, "E_OUTOFMEMORY" },
	{ FSRVP_E_FAIL, "E_FAIL" },
};

const char *fsrvp_strerror(uint32_t hr)
{
	size_t i;

	for (i = 0; i < sizeof(hr_names) / sizeof(hr_names[0]); i++)
		if (hr_names[i].hr == hr)
			return hr_names[i].name;
	return NULL;
}

static const struct {
	uint32_t ctx;
	const char *name;
} ctx_names[] = {
	{ FSRVP_CTX_BACKUP, "backup" },
	{ FSRVP_CTX_FILE_SHARE_BACKUP, "file_share_backup" },
	{ FSRVP_CTX_NAS_ROLLBACK, "nas_rollback" },
	{ FSRVP_CTX_APP_ROLLBACK, "app_rollback" },
};

#define RECOVERY_BITS (FSRVP_ATTR_AUTO_RECOVERY | FSRVP_ATTR_NO_AUTO_RECOVERY)

bool fsrvp_context_valid(uint32_t ctx)
{
	uint32_t base = ctx & ~RECOVERY_BITS;
	size_t i;

	if ((ctx & RECOVERY_BITS) == RECOVERY_BITS)
		return false;
	for (i = 0; i < sizeof(ctx_names) / sizeof(ctx_names[0]); i++)
		if (ctx_names[i].ctx == base)
			return true;
	return false;
}

const char *fsrvp_context_name(uint32_t ctx)
{
	size_t i;

	for (i = 0; i < sizeof(ctx_names) / sizeof(ctx_names[0]); i++)
		if (ctx_names[i].ctx == (ctx & ~RECOVERY_BITS))
			return ctx_names[i].name;
	return NULL;
}

int64_t fsrvp_context_parse(const char *s)
{
	unsigned long long v;
	char *end;
	size_t i;

	if (!s || !*s)
		return -1;
	for (i = 0; i < sizeof(ctx_names) / sizeof(ctx_names[0]); i++)
		if (!strcasecmp(s, ctx_names[i].name))
			return ctx_names[i].ctx;
	if (*s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	return (int64_t)v;
}

static const char *const status_names[] = {
	[FSRVP_STARTED] = "Started",
	[FSRVP_ADDED] = "Added",
	[FSRVP_CREATION_IN_PROGRESS] = "CreationInProgress",
	[FSRVP_COMMITTED] = "Committed",
	[FSRVP_EXPOSED] = "Exposed",
	[FSRVP_RECOVERED] = "Recovered",
};

const char *fsrvp_status_name(enum fsrvp_status s)
{
	if ((int)s < FSRVP_STARTED || s > FSRVP_RECOVERED)
		return NULL;
	return status_names[s];
}

enum fsrvp_status fsrvp_status_parse(const char *s)
{
	int i;

	for (i = FSRVP_STARTED; s && i <= FSRVP_RECOVERED; i++)
		if (!strcasecmp(s, status_names[i]))
			return (enum fsrvp_status)i;
	return 0;
}

static const char *const op_names[FSRVP_NR_OPS] = {
	[FSRVP_OP_GET_SUPPORTED_VERSION] = "GetSupportedVersion",
	[FSRVP_OP_SET_CONTEXT] = "SetContext",
	[FSRVP_OP_START] = "StartShadowCopySet",
	[FSRVP_OP_ADD] = "AddToShadowCopySet",
	[FSRVP_OP_COMMIT] = "CommitShadowCopySet",
	[FSRVP_OP_EXPOSE] = "ExposeShadowCopySet",
	[FSRVP_OP_RECOVERY_COMPLETE] = "RecoveryCompleteShadowCopySet",
	[FSRVP_OP_ABORT] = "AbortShadowCopySet",
	[FSRVP_OP_IS_PATH_SUPPORTED] = "IsPathSupported",
	[FSRVP_OP_IS_PATH_SHADOW_COPIED] = "IsPathShadowCopied",
	[FSRVP_OP_GET_SHARE_MAPPING] = "GetShareMapping",
	[FSRVP_OP_DELETE_SHARE_MAPPING] = "DeleteShareMapping",
	[FSRVP_OP_PREPARE] = "PrepareShadowCopySet",
};

const char *fsrvp_op_name(enum fsrvp_op op)
{
	return (unsigned int)op < FSRVP_NR_OPS ? op_names[op] : NULL;
}

/* ------------------------------------------------------------ helpers */

int fsrvp_share_component(const char *unc, char *buf, size_t len)
{
	const char *p = unc, *end;
	size_t n;

	if (!unc)
		return -EINVAL;
	if ((p[0] == '\\' && p[1] == '\\') || (p[0] == '/' && p[1] == '/')) {
		p += 2;
		p += strcspn(p, "\\/");		/* the host */
		while (*p == '\\' || *p == '/')
			p++;
		end = p + strcspn(p, "\\/");
	} else {
		end = p + strlen(p);
		while (end > p + 1 && (end[-1] == '\\' || end[-1] == '/'))
			end--;
	}
	n = (size_t)(end - p);
	if (n == 0)
		return -EINVAL;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

bool fsrvp_share_equal(const char *a, const char *b)
{
	char x[FSRVP_SHARE_MAX], y[FSRVP_SHARE_MAX];

	if (fsrvp_share_component(a, x, sizeof(x)) ||
	    fsrvp_share_component(b, y, sizeof(y)))
		return false;
	return !strcasecmp(x, y);
}

/* 1601-01-01 to 1970-01-01 in 100 ns units. */
#define FILETIME_UNIX_EPOCH 116444736000000000ULL

uint64_t fsrvp_filetime(int64_t unix_ns)
{
	int64_t t = unix_ns / 100;

	if (t < -(int64_t)FILETIME_UNIX_EPOCH)
		return 0;
	return (uint64_t)(t + (int64_t)FILETIME_UNIX_EPOCH);
}

static bool share_ok(const char *share)
{
	return share && *share && strlen(share) < FSRVP_SHARE_MAX;
}

/* -------------------------------------------------------------- clock */

static uint64_t now_ms(const struct fsrvp *f)
{
	struct timespec ts;

	if (f->clock.mono_ms)
		return f->clock.mono_ms(f->clock.arg);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t now_real_ns(const struct fsrvp *f)
{
	struct timespec ts;

	if (f->clock.real_ns)
		return f->clock.real_ns(f->clock.arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* -------------------------------------------------------------- timer */

static void timer_stop(struct fsrvp *f)
{
	f->timer_on = false;
	f->timer_s = 0;
}

static void timer_start(struct fsrvp *f, unsigned int seconds)
{
	if (f->override == 0) {
		timer_stop(f);
		return;
	}
	if (f->override > 0)
		seconds = (unsigned int)f->override;
	f->timer_on = true;
	f->timer_s = seconds;
	f->deadline_ms = now_ms(f) + (uint64_t)seconds * 1000;
}

void fsrvp_set_timeout_override(struct fsrvp *f, int seconds)
{
	f->override = seconds < 0 ? FSRVP_TIMEOUT_SPEC : seconds;
	if (seconds == 0)
		timer_stop(f);
}

int64_t fsrvp_timer_remaining_ms(const struct fsrvp *f)
{
	uint64_t now;

	if (!f->timer_on)
		return -1;
	now = now_ms(f);
	return now >= f->deadline_ms ? 0 : (int64_t)(f->deadline_ms - now);
}

unsigned int fsrvp_timer_armed_s(const struct fsrvp *f)
{
	return f->timer_on ? f->timer_s : 0;
}

/* ----------------------------------------------------------- the sets */

static bool guid_null(const unsigned char *id)
{
	return !id || uuid_is_null(id);
}

static struct fsrvp_set *find_set(const struct fsrvp *f,
				  const unsigned char *id)
{
	size_t i;

	for (i = 0; i < f->nsets; i++)
		if (!uuid_compare(f->sets[i]->id, id))
			return f->sets[i];
	return NULL;
}

static struct fsrvp_copy *find_copy(const struct fsrvp_set *s,
				    const unsigned char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!uuid_compare(s->copies[i].id, id))
			return &s->copies[i];
	return NULL;
}

static void free_set(struct fsrvp_set *s)
{
	if (s) {
		free(s->copies);
		free(s);
	}
}

/* Take @s out of the table (without freeing it). */
static void unlink_set(struct fsrvp *f, struct fsrvp_set *s)
{
	size_t i;

	for (i = 0; i < f->nsets; i++) {
		if (f->sets[i] == s) {
			memmove(&f->sets[i], &f->sets[i + 1],
				(f->nsets - i - 1) * sizeof(f->sets[0]));
			f->nsets--;
			return;
		}
	}
}

static int link_set(struct fsrvp *f, struct fsrvp_set *s)
{
	if (f->nsets == f->capsets) {
		size_t cap = f->capsets ? f->capsets * 2 : 4;
		struct fsrvp_set **v = realloc(f->sets, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->sets = v;
		f->capsets = cap;
	}
	f->sets[f->nsets++] = s;
	return 0;
}

static void remove_copy(struct fsrvp_set *s, struct fsrvp_copy *c)
{
	size_t i = (size_t)(c - s->copies);

	memmove(&s->copies[i], &s->copies[i + 1],
		(s->n - i - 1) * sizeof(s->copies[0]));
	s->n--;
}

static uint32_t delete_copy(struct fsrvp *f, struct fsrvp_set *s,
			    struct fsrvp_copy *c)
{
	uint32_t hr = 0;

	if ((c->snap_id || c->exposed) && f->be.delete_copy) {
		s->busy = true;
		hr = f->be.delete_copy(f->be.ctx, s, c);
		s->busy = false;
	}
	return hr;
}

/*
 * Delete everything @s made, newest copy first; stops at the first
 * backend error (the copies not deleted stay in @s).
 */
static uint32_t destroy_copies(struct fsrvp *f, struct fsrvp_set *s)
{
	uint32_t hr;

	while (s->n) {
		hr = delete_copy(f, s, &s->copies[s->n - 1]);
		if (hr)
			return hr;
		s->n--;
	}
	return 0;
}

static void changed(struct fsrvp *f)
{
	if (f->be.changed)
		f->be.changed(f->be.ctx);
}

/*
 * Delete every set that is not Recovered, with what it made (3.1.5, and
 * SetContext's retry).  A set whose backend deletion fails stays, so
 * that nothing is forgotten while it still exists.
 */
static int delete_unrecovered(struct fsrvp *f)
{
	size_t i = 0;
	int n = 0;

	while (i < f->nsets) {
		struct fsrvp_set *s = f->sets[i];

		if (s->status == FSRVP_RECOVERED || s->busy ||
		    destroy_copies(f, s)) {
			i++;
			continue;
		}
		unlink_set(f, s);
		free_set(s);
		n++;
	}
	return n;
}

static void clear_context(struct fsrvp *f)
{
	f->context_set = false;
	f->have_client_addr = false;
	f->client_addr[0] = '\0';
}

int fsrvp_timer_run(struct fsrvp *f)
{
	int n;

	if (!f->timer_on || now_ms(f) < f->deadline_ms)
		return -1;
	timer_stop(f);
	n = delete_unrecovered(f);
	clear_context(f);
	changed(f);
	return n;
}

/* ------------------------------------------------------------ the server */

struct fsrvp *fsrvp_new(const struct fsrvp_backend *be,
			const struct fsrvp_clock *clock)
{
	struct fsrvp *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	if (be)
		f->be = *be;
	if (clock)
		f->clock = *clock;
	f->override = FSRVP_TIMEOUT_SPEC;
	return f;
}

void fsrvp_free(struct fsrvp *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->nsets; i++)
		free_set(f->sets[i]);
	free(f->sets);
	free(f);
}

size_t fsrvp_set_count(const struct fsrvp *f)
{
	return f->nsets;
}

const struct fsrvp_set *fsrvp_set_at(const struct fsrvp *f, size_t i)
{
	return i < f->nsets ? f->sets[i] : NULL;
}

const struct fsrvp_set *fsrvp_set_find(const struct fsrvp *f,
				       const uuid_t id)
{
	return guid_null(id) ? NULL : find_set(f, id);
}

int fsrvp_copy_lost(struct fsrvp *f, const uuid_t set, const uuid_t copy)
{
	struct fsrvp_set *s = guid_null(set) ? NULL : find_set(f, set);
	size_t i;

	if (!s)
		return -ENOENT;
	for (i = 0; i < s->n; i++) {
		struct fsrvp_copy *c = &s->copies[i];

		if (uuid_compare(c->id, copy))
			continue;
		c->snap_id = 0;
		c->exposed = false;
		c->writable = false;
		changed(f);
		return 0;
	}
	return -ENOENT;
}

bool fsrvp_context_set(const struct fsrvp *f, uint32_t *ctx)
{
	if (ctx)
		*ctx = f->current_context;
	return f->context_set;
}

uint32_t fsrvp_restore_set(struct fsrvp *f, const struct fsrvp_set *in)
{
	struct fsrvp_set *s;

	if (guid_null(in->id) || !fsrvp_status_name(in->status) ||
	    in->n > FSRVP_COPIES_MAX || (in->n && !in->copies))
		return FSRVP_E_INVALIDARG;
	if (find_set(f, in->id))
		return FSRVP_E_OBJECT_ALREADY_EXISTS;
	s = calloc(1, sizeof(*s));
	if (!s)
		return FSRVP_E_OUTOFMEMORY;
	*s = *in;
	s->busy = false;
	s->copies = calloc(in->n ? in->n : 1, sizeof(*s->copies));
	if (!s->copies || link_set(f, s)) {
		free_set(s);
		return FSRVP_E_OUTOFMEMORY;
	}
	if (in->n)
		memcpy(s->copies, in->copies, in->n * sizeof(*s->copies));
	if (s->status == FSRVP_CREATION_IN_PROGRESS)
		s->status = FSRVP_ADDED;
	if (s->status != FSRVP_RECOVERED)
		timer_start(f, FSRVP_TIMEOUT_SHORT);
	return 0;
}

/* ------------------------------------------------------ the operations */

static bool permitted(struct fsrvp *f, const struct fsrvp_caller *c,
		      enum fsrvp_op op)
{
	static const struct fsrvp_caller nobody;

	if (!f->be.permitted)
		return true;
	return f->be.permitted(f->be.ctx, c ? c : &nobody, op);
}

/*
 * The set an operation names, or the error: E_INVALIDARG for a NULL id,
 * @missing for an unknown one, BAD_STATE while the backend works on it.
 */
static uint32_t lookup(struct fsrvp *f, const unsigned char *id,
		       uint32_t missing, struct fsrvp_set **out)
{
	struct fsrvp_set *s;

	if (guid_null(id))
		return FSRVP_E_INVALIDARG;
	s = find_set(f, id);
	if (!s)
		return missing;
	if (s->busy)
		return FSRVP_E_BAD_STATE;
	*out = s;
	return 0;
}

uint32_t fsrvp_get_supported_version(struct fsrvp *f,
				     const struct fsrvp_caller *c,
				     uint32_t *min, uint32_t *max)
{
	if (!permitted(f, c, FSRVP_OP_GET_SUPPORTED_VERSION))
		return FSRVP_E_ACCESSDENIED;
	if (!min || !max)
		return FSRVP_E_INVALIDARG;
	*min = FSRVP_RPC_VERSION_1;
	*max = FSRVP_RPC_VERSION_1;
	return 0;
}

uint32_t fsrvp_set_context(struct fsrvp *f, const struct fsrvp_caller *c,
			   uint32_t ctx)
{
	const char *addr = c && c->address ? c->address : "";

	if (!permitted(f, c, FSRVP_OP_SET_CONTEXT))
		return FSRVP_E_ACCESSDENIED;
	if (!fsrvp_context_valid(ctx))
		return FSRVP_E_UNSUPPORTED_CONTEXT;
	if (strlen(addr) >= sizeof(f->client_addr))
		return FSRVP_E_INVALIDARG;

	if (f->context_set) {
		if (!f->have_client_addr || strcmp(addr, f->client_addr))
			return FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS;
		/* The same client starts over. */
		delete_unrecovered(f);
		clear_context(f);
		timer_stop(f);
		f->retry_count++;
		if (f->retry_count > FSRVP_RETRY_MAX) {
			changed(f);
			return FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS;
		}
	} else {
		f->retry_count = 0;
	}

	snprintf(f->client_addr, sizeof(f->client_addr), "%s", addr);
	f->have_client_addr = true;
	f->current_context = ctx;
	f->context_set = true;
	timer_start(f, FSRVP_TIMEOUT_SHORT);
	changed(f);
	return 0;
}

uint32_t fsrvp_start_set(struct fsrvp *f, const struct fsrvp_caller *c,
			 const uuid_t client_set_id, uuid_t set_id)
{
	struct fsrvp_set *s;
	size_t i;

	if (!permitted(f, c, FSRVP_OP_START))
		return FSRVP_E_ACCESSDENIED;
	if (guid_null(client_set_id) || !set_id)
		return FSRVP_E_INVALIDARG;
	if (!f->context_set)
		return FSRVP_E_BAD_STATE;
	for (i = 0; i < f->nsets; i++)
		if (f->sets[i]->status != FSRVP_RECOVERED)
			return FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS;

	s = calloc(1, sizeof(*s));
	if (!s || link_set(f, s)) {
		free(s);
		return FSRVP_E_OUTOFMEMORY;
	}
	timer_stop(f);
	do
		uuid_generate(s->id);
	while (find_set(f, s->id) != s);
	uuid_copy(s->client_id, client_set_id);
	s->status = FSRVP_STARTED;
	s->context = f->current_context;
	uuid_copy(set_id, s->id);
	timer_start(f, FSRVP_TIMEOUT_SHORT);
	changed(f);
	return 0;
}

uint32_t fsrvp_add_to_set(struct fsrvp *f, const struct fsrvp_caller *c,
			  const uuid_t client_copy_id, const uuid_t set_id,
			  const char *share, uuid_t copy_id)
{
	char volume[FSRVP_VOLUME_MAX] = "";
	struct fsrvp_copy *v, *cp;
	struct fsrvp_set *s = NULL;
	uint32_t hr;
	size_t i;

	(void)client_copy_id;	/* ignored, as Windows servers do (<8>) */
	if (!permitted(f, c, FSRVP_OP_ADD))
		return FSRVP_E_ACCESSDENIED;
	if (!share_ok(share) || guid_null(set_id) || !copy_id)
		return FSRVP_E_INVALIDARG;

	hr = f->be.path_support(f->be.ctx, share, volume, sizeof(volume));
	if (hr)
		return hr;
	hr = lookup(f, set_id, FSRVP_E_SHADOWCOPYSET_ID_MISMATCH, &s);
	if (hr)
		return hr;
	if (s->status != FSRVP_STARTED && s->status != FSRVP_ADDED)
		return FSRVP_E_BAD_STATE;

	timer_stop(f);
	for (i = 0; i < s->n; i++) {
		if (!strcmp(s->copies[i].volume, volume)) {
			timer_start(f, FSRVP_TIMEOUT_SHORT);
			return FSRVP_E_OBJECT_ALREADY_EXISTS;
		}
	}
	if (s->n >= FSRVP_COPIES_MAX) {
		timer_start(f, FSRVP_TIMEOUT_SHORT);
		return FSRVP_E_NOT_SUPPORTED;
	}
	v = realloc(s->copies, (s->n + 1) * sizeof(*v));
	if (!v) {
		timer_start(f, FSRVP_TIMEOUT_SHORT);
		return FSRVP_E_OUTOFMEMORY;
	}
	s->copies = v;
	cp = &s->copies[s->n];
	memset(cp, 0, sizeof(*cp));
	do
		uuid_generate(cp->id);
	while (find_copy(s, cp->id));	/* cp is not counted yet */
	snprintf(cp->volume, sizeof(cp->volume), "%s", volume);
	snprintf(cp->share, sizeof(cp->share), "%s", share);
	cp->ctime_ns = now_real_ns(f);
	s->n++;
	s->status = FSRVP_ADDED;
	uuid_copy(copy_id, cp->id);
	timer_start(f, FSRVP_TIMEOUT_LONG);
	changed(f);
	return 0;
}

uint32_t fsrvp_prepare_set(struct fsrvp *f, const struct fsrvp_caller *c,
			   const uuid_t set_id, uint32_t timeout_ms)
{
	struct fsrvp_set *s = NULL;
	uint32_t hr;

	if (!permitted(f, c, FSRVP_OP_PREPARE))
		return FSRVP_E_ACCESSDENIED;
	hr = lookup(f, set_id, FSRVP_E_SHADOWCOPYSET_ID_MISMATCH, &s);
	if (hr)
		return hr;
	if (s->status != FSRVP_ADDED)
		return FSRVP_E_BAD_STATE;

	timer_stop(f);
	if (f->be.prepare) {
		s->busy = true;
		hr = f->be.prepare(f->be.ctx, s, timeout_ms);
		s->busy = false;
	}
	if (hr) {
		timer_start(f, FSRVP_TIMEOUT_SHORT);
		return hr;
	}
	timer_start(f, FSRVP_TIMEOUT_LONG);
	changed(f);
	return 0;
}

uint32_t fsrvp_commit_set(struct fsrvp *f, const struct fsrvp_caller *c,
			  const uuid_t set_id, uint32_t timeout_ms)
{
	struct fsrvp_set *s = NULL;
	uint32_t hr;
	size_t i;

	if (!permitted(f, c, FSRVP_OP_COMMIT))
		return FSRVP_E_ACCESSDENIED;
	hr = lookup(f, set_id, FSRVP_E_SHADOWCOPYSET_ID_MISMATCH, &s);
	if (hr)
		return hr;
	if (s->status != FSRVP_ADDED &&
	    s->status != FSRVP_CREATION_IN_PROGRESS)
		return FSRVP_E_BAD_STATE;

	timer_stop(f);
	s->status = FSRVP_CREATION_IN_PROGRESS;
	if (f->be.commit) {
		s->busy = true;
		hr = f->be.commit(f->be.ctx, s, timeout_ms);
		s->busy = false;
	}
	timer_start(f, FSRVP_TIMEOUT_SHORT);
	if (hr) {
		/* The backend left nothing behind: forget any id it set. */
		for (i = 0; i < s->n; i++)
			s->copies[i].snap_id = 0;
		if (hr == FSRVP_E_WAIT_FAILED) {
			s->status = FSRVP_ADDED;
		} else if (hr == FSRVP_E_WAIT_TIMEOUT ||
			   hr == FSSAGENT_E_TIMEOUT) {
			s->status = FSRVP_ADDED;
			hr = FSSAGENT_E_TIMEOUT;
		}
		changed(f);
		return hr;
	}
	s->status = FSRVP_COMMITTED;
	changed(f);
	return 0;
}

/* "\\host\share@{guid}" for a UNC share, "share@{guid}" otherwise. */
static void exposed_name(const struct fsrvp_copy *cp, char *buf, size_t len)
{
	char comp[FSRVP_SHARE_MAX], guid[UUID_STR_LEN], host[FSRVP_SHARE_MAX];
	const char *p = cp->share;
	const char *dollar;
	size_t hl;
	int r;

	if (fsrvp_share_component(cp->share, comp, sizeof(comp)))
		snprintf(comp, sizeof(comp), "%s", cp->share);
	uuid_unparse_lower(cp->id, guid);
	dollar = comp[strlen(comp) - 1] == '$' ? "$" : "";
	if ((p[0] == '\\' && p[1] == '\\') || (p[0] == '/' && p[1] == '/')) {
		hl = strcspn(p + 2, "\\/");
		r = snprintf(host, sizeof(host), "%.*s", (int)hl, p + 2);
		if (r >= 0)
			r = snprintf(buf, len, "\\\\%s\\%s@{%s}%s", host,
				     comp, guid, dollar);
	} else {
		r = snprintf(buf, len, "%s@{%s}%s", comp, guid, dollar);
	}
	if (r < 0 || (size_t)r >= len)	/* cannot happen: shares are short */
		buf[0] = '\0';
}

uint32_t fsrvp_expose_set(struct fsrvp *f, const struct fsrvp_caller *c,
			  const uuid_t set_id, uint32_t timeout_ms)
{
	struct fsrvp_set *s = NULL;
	uint32_t hr;
	size_t i;

	if (!permitted(f, c, FSRVP_OP_EXPOSE))
		return FSRVP_E_ACCESSDENIED;
	hr = lookup(f, set_id, FSRVP_E_SHADOWCOPYSET_ID_MISMATCH, &s);
	if (hr)
		return hr;
	if (s->status != FSRVP_COMMITTED)
		return FSRVP_E_BAD_STATE;

	timer_stop(f);
	for (i = 0; i < s->n; i++)
		exposed_name(&s->copies[i], s->copies[i].exposed_name,
			     sizeof(s->copies[i].exposed_name));
	if (f->be.expose) {
		s->busy = true;
		hr = f->be.expose(f->be.ctx, s, timeout_ms);
		s->busy = false;
	}
	timer_start(f, FSRVP_TIMEOUT_SHORT);
	if (hr) {
		for (i = 0; i < s->n; i++) {
			s->copies[i].exposed_name[0] = '\0';
			s->copies[i].exposed = false;
			s->copies[i].writable = false;
		}
		return hr;
	}
	for (i = 0; i < s->n; i++)
		s->copies[i].exposed = true;
	s->status = FSRVP_EXPOSED;
	changed(f);
	return 0;
}

uint32_t fsrvp_recovery_complete(struct fsrvp *f,
				 const struct fsrvp_caller *c,
				 const uuid_t set_id)
{
	struct fsrvp_set *s = NULL;
	uint32_t hr;
	size_t i;

	if (!permitted(f, c, FSRVP_OP_RECOVERY_COMPLETE))
		return FSRVP_E_ACCESSDENIED;
	hr = lookup(f, set_id, FSRVP_E_SHADOWCOPYSET_ID_MISMATCH, &s);
	if (hr)
		return hr;
	if (s->status != FSRVP_EXPOSED)
		return FSRVP_E_BAD_STATE;

	if (!(s->context & FSRVP_ATTR_NO_AUTO_RECOVERY) &&
	    f->be.recovery_complete) {
		s->busy = true;
		hr = f->be.recovery_complete(f->be.ctx, s);
		s->busy = false;
		if (hr)
			return hr;	/* the timer runs on as it was */
	}
	timer_stop(f);
	for (i = 0; i < s->n; i++)
		s->copies[i].writable = false;
	s->status = FSRVP_RECOVERED;
	clear_context(f);
	changed(f);
	return 0;
}

uint32_t fsrvp_abort_set(struct fsrvp *f, const struct fsrvp_caller *c,
			 const uuid_t set_id)
{
	struct fsrvp_set *s = NULL;
	uint32_t hr;

	if (!permitted(f, c, FSRVP_OP_ABORT))
		return FSRVP_E_ACCESSDENIED;
	hr = lookup(f, set_id, FSRVP_E_SHADOWCOPYSET_ID_MISMATCH, &s);
	if (hr)
		return hr;
	hr = destroy_copies(f, s);
	if (hr) {
		changed(f);
		return hr;
	}
	unlink_set(f, s);
	free_set(s);
	clear_context(f);
	timer_stop(f);
	changed(f);
	return 0;
}

uint32_t fsrvp_is_path_supported(struct fsrvp *f,
				 const struct fsrvp_caller *c,
				 const char *share, bool *supported,
				 char *owner, size_t owner_len)
{
	char volume[FSRVP_VOLUME_MAX];
	const char *name = NULL;
	char host[256];
	uint32_t hr;

	if (!permitted(f, c, FSRVP_OP_IS_PATH_SUPPORTED))
		return FSRVP_E_ACCESSDENIED;
	if (!share_ok(share) || !supported || !owner || !owner_len)
		return FSRVP_E_INVALIDARG;
	hr = f->be.path_support(f->be.ctx, share, volume, sizeof(volume));
	if (hr)
		return hr;
	if (f->be.owner_name)
		name = f->be.owner_name(f->be.ctx, share);
	if (!name) {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	snprintf(owner, owner_len, "%s", name);
	*supported = true;
	return 0;
}

uint32_t fsrvp_is_path_shadow_copied(struct fsrvp *f,
				     const struct fsrvp_caller *c,
				     const char *share, bool *present,
				     int32_t *compat)
{
	char volume[FSRVP_VOLUME_MAX] = "";
	uint32_t hr;
	size_t i, j;

	if (!permitted(f, c, FSRVP_OP_IS_PATH_SHADOW_COPIED))
		return FSRVP_E_ACCESSDENIED;
	if (!share_ok(share) || !present || !compat)
		return FSRVP_E_INVALIDARG;
	hr = f->be.path_support(f->be.ctx, share, volume, sizeof(volume));
	if (hr == FSRVP_E_OBJECT_NOT_FOUND)
		return hr;
	*present = false;
	*compat = 0;
	if (hr)		/* not a supported store: no copy can be of it */
		return 0;
	for (i = 0; i < f->nsets; i++) {
		const struct fsrvp_set *s = f->sets[i];

		if (s->status != FSRVP_COMMITTED &&
		    s->status != FSRVP_EXPOSED &&
		    s->status != FSRVP_RECOVERED)
			continue;
		for (j = 0; j < s->n; j++)
			if (!strcmp(s->copies[j].volume, volume))
				*present = true;
	}
	return 0;
}

uint32_t fsrvp_get_share_mapping(struct fsrvp *f,
				 const struct fsrvp_caller *c,
				 const uuid_t copy_id, const uuid_t set_id,
				 const char *share, uint32_t level,
				 struct fsrvp_share_mapping *out)
{
	struct fsrvp_set *s = NULL;
	struct fsrvp_copy *cp;
	uint32_t hr;

	if (!permitted(f, c, FSRVP_OP_GET_SHARE_MAPPING))
		return FSRVP_E_ACCESSDENIED;
	if (level != 1 || !out || !share_ok(share) || guid_null(copy_id))
		return FSRVP_E_INVALIDARG;
	hr = lookup(f, set_id, FSRVP_E_SHADOWCOPYSET_ID_MISMATCH, &s);
	if (hr)
		return hr;
	if (s->status != FSRVP_EXPOSED)
		return FSRVP_E_BAD_STATE;
	cp = find_copy(s, copy_id);
	if (!cp || !fsrvp_share_equal(cp->share, share))
		return FSRVP_E_INVALIDARG;

	timer_stop(f);
	memset(out, 0, sizeof(*out));
	uuid_copy(out->set_id, s->id);
	uuid_copy(out->copy_id, cp->id);
	snprintf(out->share, sizeof(out->share), "%s", cp->share);
	if (cp->exposed)
		snprintf(out->exposed_name, sizeof(out->exposed_name), "%s",
			 cp->exposed_name);
	out->creation_ts = fsrvp_filetime(cp->ctime_ns);
	timer_start(f, FSRVP_TIMEOUT_LONG);
	return 0;
}

uint32_t fsrvp_delete_share_mapping(struct fsrvp *f,
				    const struct fsrvp_caller *c,
				    const uuid_t set_id, const uuid_t copy_id,
				    const char *share)
{
	struct fsrvp_set *s = NULL;
	struct fsrvp_copy *cp;
	uint32_t hr;

	if (!permitted(f, c, FSRVP_OP_DELETE_SHARE_MAPPING))
		return FSRVP_E_ACCESSDENIED;
	if (guid_null(set_id) || guid_null(copy_id) || !share_ok(share))
		return FSRVP_E_INVALIDARG;
	hr = lookup(f, set_id, FSRVP_E_OBJECT_NOT_FOUND, &s);
	if (hr)
		return hr;
	if (s->status != FSRVP_EXPOSED && s->status != FSRVP_RECOVERED)
		return FSRVP_E_BAD_STATE;
	cp = find_copy(s, copy_id);
	if (!cp || !fsrvp_share_equal(cp->share, share))
		return FSRVP_E_OBJECT_NOT_FOUND;

	hr = delete_copy(f, s, cp);
	if (hr)
		return hr;
	remove_copy(s, cp);
	if (s->n == 0) {
		unlink_set(f, s);
		free_set(s);
	}
	changed(f);
	return 0;
}
