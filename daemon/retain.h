/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadowd: the prune request and snapshot pins (daemon/retain.c).  See
 * Documentation/shadowd.rst, "Protocol" and "Pins".
 */
#ifndef SHADOWD_RETAIN_H
#define SHADOWD_RETAIN_H

#include <stdbool.h>

#include <json-c/json.h>

#include "shadow-nl.h"

#define SHADOWD_PIN_FILE	"pins.json"

struct shadowd_backend;

/*
 * The requests "prune", "snapshot.pin" and "snapshot.unpin", for a caller
 * with @classes (enum shadowd_class bits) and @uid (for the log).
 */
json_object *shadowd_retain_request(struct shadowd_backend *b,
				    unsigned int classes, unsigned int uid,
				    const char *op, json_object *req);

/* Pinned with snapshot.pin (pins.json): never pruned. */
bool shadowd_pin_check(struct shadowd_backend *b, struct shadow_dev d,
		       const struct shadow_snap *s);

/*
 * Never pruned, for any reason: pinned, or held by an FSRVP set
 * (daemon/events.c, the pruning ops' pinned callback).
 */
bool shadowd_snap_pinned(struct shadowd_backend *b, struct shadow_dev d,
			 const struct shadow_snap *s);

#endif
