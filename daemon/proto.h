/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadowd: reading a request's arguments and building replies.  A reply
 * is a json-c object the caller owns; every one has "ok", a failure has
 * "error" and "message" (FSRVP replies: "hresult").
 */
#ifndef SHADOWD_PROTO_H
#define SHADOWD_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <uuid/uuid.h>

struct shadow_dev;
struct shadow_nl_err;

/* {"ok": true} */
json_object *reply_ok(void);
/* {"ok": false, "error": @error, "message": printf(@fmt, ...)} */
json_object *reply_err(const char *error, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An FSRVP result: {"ok": bool, "hresult": "0x...", "error": NAME}. */
json_object *reply_hr(uint32_t hr);
/* A failed netlink call: error "netlink" with the kernel's message. */
json_object *reply_nl(const struct shadow_nl_err *err);

void add_guid(json_object *o, const char *key, const uuid_t id);
void add_str(json_object *o, const char *key, const char *v);
void add_u64(json_object *o, const char *key, uint64_t v);

/* A string argument, NULL when missing or not a string. */
const char *arg_str(json_object *req, const char *key);
/* A GUID argument; a missing one is the NULL GUID. -1 when malformed. */
int arg_guid(json_object *req, const char *key, uuid_t id);
/* An unsigned 32-bit argument, @def when missing; -1 when malformed. */
int arg_u32(json_object *req, const char *key, uint32_t def, uint32_t *out);
/* An unsigned 64-bit argument, @def when missing; -1 when malformed. */
int arg_u64(json_object *req, const char *key, uint64_t def, uint64_t *out);
/* A boolean argument, @def when missing; -1 when not a boolean. */
int arg_bool(json_object *req, const char *key, bool def, bool *out);
/* An origin argument (dm name, path or MAJ:MIN), resolved. */
int arg_volume(json_object *req, const char *key, struct shadow_dev *d,
	       struct shadow_nl_err *err);

/*
 * The options of a snapshot create, "label", "freeze" (default true) and
 * "timeout_ms": NULL with *@label, *@flags (SHADOW_F_FREEZE or 0) and
 * *@timeout_ms set, or the error reply.
 */
json_object *arg_create(json_object *req, const char **label,
			uint32_t *flags, uint32_t *timeout_ms);
/* The reason keys of a retention verdict's reason mask, as an array. */
json_object *reasons_json(uint32_t mask);

#define BAD_ARG(name) reply_err("E_INVALIDARG", "bad or missing \"%s\"", name)

#endif
