// SPDX-License-Identifier: GPL-2.0
/*
 * shadowd: the pieces every request handler uses to read a request's
 * arguments and build its reply (Documentation/shadowd.rst, "Protocol").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <uuid/uuid.h>

#include "fsrvp.h"
#include "proto.h"
#include "retention.h"
#include "shadow-nl.h"

json_object *reply_ok(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

json_object *reply_err(const char *error, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "message", json_object_new_string(msg));
	return o;
}

/* An FSRVP result: {"ok": bool, "hresult": "0x...", "error": NAME}. */
json_object *reply_hr(uint32_t hr)
{
	json_object *o = json_object_new_object();
	const char *name = fsrvp_strerror(hr);
	char hex[16];

	snprintf(hex, sizeof(hex), "0x%08X", hr);
	json_object_object_add(o, "ok", json_object_new_boolean(hr == 0));
	json_object_object_add(o, "hresult", json_object_new_string(hex));
	if (hr)
		json_object_object_add(o, "error",
				       json_object_new_string(name ? name : hex));
	return o;
}

void add_guid(json_object *o, const char *key, const uuid_t id)
{
	char s[UUID_STR_LEN];

	uuid_unparse_lower(id, s);
	json_object_object_add(o, key, json_object_new_string(s));
}

void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

void add_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

/* ------------------------------------------------------- arguments */

const char *arg_str(json_object *req, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(req, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A GUID argument; a missing one is the NULL GUID. -1 when malformed. */
int arg_guid(json_object *req, const char *key, uuid_t id)
{
	const char *s = arg_str(req, key);
	char buf[UUID_STR_LEN];
	size_t n;

	uuid_clear(id);
	if (!s)
		return json_object_object_get_ex(req, key, NULL) ? -1 : 0;
	n = strlen(s);
	if (n == 38 && s[0] == '{' && s[37] == '}') {	/* {GUID} */
		memcpy(buf, s + 1, 36);
		buf[36] = '\0';
		s = buf;
	}
	return uuid_parse(s, id) ? -1 : 0;
}

/* An unsigned 64-bit argument, @def when missing; -1 when malformed. */
int arg_u64(json_object *req, const char *key, uint64_t def, uint64_t *out)
{
	json_object *v;
	int64_t n;

	*out = def;
	if (!json_object_object_get_ex(req, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	if (n < 0)
		return -1;
	*out = (uint64_t)n;
	return 0;
}

/* An unsigned 32-bit argument, @def when missing; -1 when malformed. */
int arg_u32(json_object *req, const char *key, uint32_t def, uint32_t *out)
{
	uint64_t n;

	*out = def;
	if (arg_u64(req, key, def, &n) || n > UINT32_MAX)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

/* A boolean argument, @def when missing; -1 when not a boolean. */
int arg_bool(json_object *req, const char *key, bool def, bool *out)
{
	json_object *v;

	*out = def;
	if (!json_object_object_get_ex(req, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -1;
	*out = json_object_get_boolean(v);
	return 0;
}

json_object *reply_nl(const struct shadow_nl_err *err)
{
	return reply_err("netlink", "%s", err->msg[0] ? err->msg
				: strerror(-err->code));
}

int arg_volume(json_object *req, const char *key, struct shadow_dev *d,
	       struct shadow_nl_err *err)
{
	const char *s = arg_str(req, key);

	if (!s)
		return shadow_nl_seterr(err, -EINVAL, "bad or missing \"%s\"", key);
	return shadow_resolve_origin(s, d, err);
}

json_object *arg_create(json_object *req, const char **label,
			uint32_t *flags, uint32_t *timeout_ms)
{
	bool freeze;

	*label = arg_str(req, "label");
	if (arg_bool(req, "freeze", true, &freeze))
		return BAD_ARG("freeze");
	*flags = freeze ? SHADOW_F_FREEZE : 0;
	if (*label && shadow_label_check(*label))
		return BAD_ARG("label");
	if (arg_u32(req, "timeout_ms", 0, timeout_ms) ||
	    *timeout_ms > SHADOW_NL_TIMEOUT_MAX_MS)
		return BAD_ARG("timeout_ms");
	return NULL;
}

json_object *reasons_json(uint32_t mask)
{
	json_object *a = json_object_new_array();
	unsigned int bit;

	for (bit = 0; bit < SHADOW_RET_R_NBITS; bit++) {
		const char *k;

		if (!(mask & (1u << bit)))
			continue;
		k = shadow_ret_reason_key(1u << bit);
		if (k)
			json_object_array_add(a, json_object_new_string(k));
	}
	return a;
}
