/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadowd: consistency groups (daemon/group.c): named sets of volumes,
 * the cuts made on them through shadowd, and retention policies judged
 * over whole cuts.  See Documentation/shadowd.rst, "Consistency groups",
 * and Documentation/retention.rst, "Consistency groups".
 */
#ifndef SHADOWD_GROUP_H
#define SHADOWD_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "prune.h"
#include "shadow-nl.h"

#define SHADOWD_GROUP_FILE	"groups.json"
/* Longest group name, terminating NUL included. */
#define SHADOWD_GROUP_NAMELEN	64

struct shadowd_backend;
struct shadow_ret_policy;

/*
 * Whether a request is this file's: group.set, group.list, group.remove,
 * and policy.set, policy.show, prune and snapshot.create with a "group"
 * argument.
 */
bool shadowd_group_wants(const char *op, json_object *req);

/* Those requests, for a caller with @classes (enum shadowd_class bits). */
json_object *shadowd_group_request(struct shadowd_backend *b,
				   unsigned int classes, unsigned int uid,
				   const char *op, json_object *req);

/*
 * After a snapshot.create of volumes: a cut of every group whose members
 * are all among @out (the kernel made them at one instant) is recorded.
 */
void shadowd_group_record(struct shadowd_backend *b,
			  const struct shadow_created *out, size_t n);

/*
 * The policy of the group origin @d is a member of, and the group's name
 * in @name; NULL when @d is in no group or its group has no policy.
 */
const struct shadow_ret_policy *shadowd_group_policy(struct shadowd_backend *b,
						     struct shadow_dev d,
						     char *name, size_t len);

/* The prune ops' cut_members (prune.h) for origin @d; ctx is @b. */
int shadowd_group_cut_members(void *ctx, struct shadow_dev d,
			      const struct shadow_snap *s,
			      struct shadowd_prune_member *m, size_t max,
			      char *what, size_t wlen);

/* Add the groups' policies to the array of policy.show without volume. */
void shadowd_group_policies_json(struct shadowd_backend *b, json_object *a);

#endif
