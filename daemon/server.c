// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket and the event loop.
 *
 * One poll() loop over: the listening socket, the clients (non-blocking),
 * the kernel's event group, a signalfd.  A request is one line of JSON
 * (an object ending in '\n'), the reply one line of JSON.  A client that
 * sends more than max_request_bytes without a newline, or takes longer
 * than client_timeout_ms to finish a request it started, or stays idle
 * for idle_timeout_ms, is dropped; a client that does not read its
 * replies is dropped when its reply has waited client_timeout_ms.  The
 * caller's credentials come from SO_PEERCRED, taken at accept().
 *
 * Requests run one at a time; a commit holds the loop for at most its
 * time bound (the kernel thaws on its own when that runs out).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fsrvp.h"
#include "retention.h"
#include "shadow-nl.h"
#include "group.h"
#include "proto.h"
#include "retain.h"
#include "shadowd.h"

struct peer {
	int fd;
	struct ucred cred;
	unsigned int classes;		/* enum shadowd_class bits allowed */
	char addr[64];			/* "uid:N", SetContext's default */
	char *in;
	size_t insize;			/* max_request when it connected */
	size_t inlen;
	char *out;
	size_t outlen, outoff;
	uint64_t deadline;		/* ms, monotonic */
};

struct shadowd_server {
	const struct shadowd_config *cfg;
	struct fsrvp *f;
	struct shadowd_backend *be;
	int lfd, sfd;
	struct shadow_nl_events *ev;
	uint64_t ev_retry;
	bool resync;			/* events were lost */
	struct peer **peers;
	size_t npeers;
	bool stop;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------ authorisation */

static bool in_group(const struct ucred *cr, const char *name)
{
	struct group *gr = getgrnam(name);
	struct passwd *pw;
	gid_t groups[256];
	int n = 256, i;

	if (!gr)
		return false;
	if (cr->gid == gr->gr_gid)
		return true;
	pw = getpwuid(cr->uid);
	if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == gr->gr_gid)
			return true;
	return false;
}

/* The classes a peer may use: root all; others by configured groups.
 * Admin implies snapshot implies query. */
static unsigned int peer_classes(const struct shadowd_config *cfg,
				 const struct ucred *cr)
{
	unsigned int cls = 0, i;
	int c;

	if (cr->uid == 0)
		return SHADOWD_QUERY | SHADOWD_SNAPSHOT | SHADOWD_ADMIN;
	for (c = 0; c < 3; c++)
		for (i = 0; i < cfg->ngroups[c]; i++)
			if (in_group(cr, cfg->groups[c][i]))
				cls |= 1U << c;
	if (cls & SHADOWD_ADMIN)
		cls |= SHADOWD_SNAPSHOT;
	if (cls & SHADOWD_SNAPSHOT)
		cls |= SHADOWD_QUERY;
	return cls;
}

enum shadowd_class shadowd_fsrvp_class(enum fsrvp_op op)
{
	switch (op) {
	case FSRVP_OP_GET_SUPPORTED_VERSION:
	case FSRVP_OP_IS_PATH_SUPPORTED:
	case FSRVP_OP_IS_PATH_SHADOW_COPIED:
	case FSRVP_OP_GET_SHARE_MAPPING:
		return SHADOWD_QUERY;
	default:
		return SHADOWD_SNAPSHOT;
	}
}

bool shadowd_permitted(void *ctx, const struct fsrvp_caller *c,
		       enum fsrvp_op op)
{
	const struct peer *p = c->cred;

	return p && (p->classes & shadowd_fsrvp_class(op));
}

/* ------------------------------------------------------------ replies */


/* ------------------------------------------------------ FSRVP requests */

static json_object *set_json(const struct shadowd_backend *b,
			     const struct fsrvp_set *s)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t i;

	add_guid(o, "set_id", s->id);
	add_str(o, "status", fsrvp_status_name(s->status));
	add_u64(o, "context", s->context);
	for (i = 0; i < s->n; i++) {
		const struct fsrvp_copy *c = &s->copies[i];
		json_object *x = json_object_new_object();

		add_guid(x, "copy_id", c->id);
		add_str(x, "share", c->share);
		add_str(x, "volume", c->volume);
		add_u64(x, "snapshot", c->snap_id);
		add_u64(x, "creation_ts", fsrvp_filetime(c->ctime_ns));
		if (shadowd_copy_gone(b, c->id)) {
			json_object_object_add(x, "gone",
					       json_object_new_boolean(1));
			add_str(x, "gone_reason", shadowd_copy_gone(b, c->id));
		}
		if (c->exposed) {
			char dm[128], mnt[4096 + 512];

			shadowd_copy_names(b, s, c, dm, sizeof(dm), mnt,
					   sizeof(mnt));
			add_str(x, "exposed_name", c->exposed_name);
			add_str(x, "device", dm);
			add_str(x, "mount_point", mnt);
			json_object_object_add(x, "writable",
					json_object_new_boolean(c->writable));
		}
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "copies", a);
	return o;
}

static json_object *do_fsrvp(struct shadowd_server *srv, struct peer *p,
			     const char *op, json_object *req)
{
	struct fsrvp_caller who = { p->addr, p };
	struct fsrvp *f = srv->f;
	const char *share = arg_str(req, "share"), *client;
	uuid_t set_id, copy_id, client_id, out_id;
	uint32_t hr, timeout, v1, v2;
	json_object *o;

	client = arg_str(req, "client");
	if (client)
		who.address = client;
	if (arg_guid(req, "set_id", set_id))
		return BAD_ARG("set_id");
	if (arg_guid(req, "copy_id", copy_id))
		return BAD_ARG("copy_id");
	if (arg_u32(req, "timeout_ms", 0, &timeout))
		return BAD_ARG("timeout_ms");

	if (!strcmp(op, "get_supported_version")) {
		hr = fsrvp_get_supported_version(f, &who, &v1, &v2);
		o = reply_hr(hr);
		if (!hr) {
			add_u64(o, "min_version", v1);
			add_u64(o, "max_version", v2);
		}
		return o;
	}
	if (!strcmp(op, "set_context")) {
		const char *cs = arg_str(req, "context");
		int64_t ctx = cs ? fsrvp_context_parse(cs) : -1;
		json_object *v;

		if (!cs && json_object_object_get_ex(req, "context", &v) &&
		    json_object_is_type(v, json_type_int))
			ctx = json_object_get_int64(v);
		if (ctx < 0 || ctx > UINT32_MAX)
			return BAD_ARG("context");
		return reply_hr(fsrvp_set_context(f, &who, (uint32_t)ctx));
	}
	if (!strcmp(op, "start")) {
		if (arg_guid(req, "client_set_id", client_id))
			return BAD_ARG("client_set_id");
		if (!json_object_object_get_ex(req, "client_set_id", NULL))
			uuid_generate(client_id);
		hr = fsrvp_start_set(f, &who, client_id, out_id);
		o = reply_hr(hr);
		if (!hr)
			add_guid(o, "set_id", out_id);
		return o;
	}
	if (!strcmp(op, "add")) {
		if (arg_guid(req, "client_copy_id", client_id))
			return BAD_ARG("client_copy_id");
		hr = fsrvp_add_to_set(f, &who, client_id, set_id, share,
				      out_id);
		o = reply_hr(hr);
		if (!hr)
			add_guid(o, "copy_id", out_id);
		return o;
	}
	if (!strcmp(op, "prepare"))
		return reply_hr(fsrvp_prepare_set(f, &who, set_id, timeout));
	if (!strcmp(op, "commit"))
		return reply_hr(fsrvp_commit_set(f, &who, set_id, timeout));
	if (!strcmp(op, "expose"))
		return reply_hr(fsrvp_expose_set(f, &who, set_id, timeout));
	if (!strcmp(op, "recovery_complete"))
		return reply_hr(fsrvp_recovery_complete(f, &who, set_id));
	if (!strcmp(op, "abort"))
		return reply_hr(fsrvp_abort_set(f, &who, set_id));
	if (!strcmp(op, "is_path_supported")) {
		char owner[256];
		bool sup = false;

		hr = fsrvp_is_path_supported(f, &who, share, &sup, owner,
					     sizeof(owner));
		o = reply_hr(hr);
		if (!hr) {
			json_object_object_add(o, "supported",
					       json_object_new_boolean(sup));
			add_str(o, "owner_machine_name", owner);
		}
		return o;
	}
	if (!strcmp(op, "is_path_shadow_copied")) {
		bool present = false;
		int32_t compat = 0;

		hr = fsrvp_is_path_shadow_copied(f, &who, share, &present,
						 &compat);
		o = reply_hr(hr);
		if (!hr) {
			json_object_object_add(o, "present",
					       json_object_new_boolean(present));
			add_u64(o, "compatibility", (uint32_t)compat);
		}
		return o;
	}
	if (!strcmp(op, "get_share_mapping")) {
		struct fsrvp_share_mapping m;

		if (arg_u32(req, "level", 1, &v1))
			return BAD_ARG("level");
		hr = fsrvp_get_share_mapping(f, &who, copy_id, set_id, share,
					     v1, &m);
		o = reply_hr(hr);
		if (!hr) {
			add_guid(o, "set_id", m.set_id);
			add_guid(o, "copy_id", m.copy_id);
			add_str(o, "share", m.share);
			if (m.exposed_name[0])
				add_str(o, "exposed_name", m.exposed_name);
			add_u64(o, "creation_ts", m.creation_ts);
		}
		return o;
	}
	if (!strcmp(op, "delete_share_mapping"))
		return reply_hr(fsrvp_delete_share_mapping(f, &who, set_id,
							   copy_id, share));
	if (!strcmp(op, "list")) {
		json_object *a = json_object_new_array();
		size_t i;

		if (!(p->classes & SHADOWD_QUERY))
			return reply_hr(FSRVP_E_ACCESSDENIED);
		for (i = 0; i < fsrvp_set_count(f); i++)
			json_object_array_add(a, set_json(srv->be, fsrvp_set_at(f, i)));
		o = reply_ok();
		json_object_object_add(o, "sets", a);
		return o;
	}
	return reply_err("E_INVALIDARG", "unknown request \"fsrvp.%s\"", op);
}

/* ---------------------------------------------- volumes and snapshots */

static json_object *do_snapshot(struct shadowd_server *srv, struct peer *p,
				const char *op, json_object *req)
{
	struct shadow_nl_err err = { 0 };
	struct shadow_nl *nl;
	struct shadow_dev d;
	json_object *o, *a;
	uint32_t id;
	size_t i;

	if (strcmp(op, "list") && strcmp(op, "create") && strcmp(op, "delete"))
		return reply_err("E_INVALIDARG", "unknown request \"snapshot.%s\"", op);
	if (!strcmp(op, "list") ? !(p->classes & SHADOWD_QUERY) :
	    !strcmp(op, "create") ? !(p->classes & SHADOWD_SNAPSHOT) :
	    !(p->classes & SHADOWD_ADMIN))
		return reply_err("E_ACCESSDENIED", "not permitted");
	nl = shadowd_nl(srv->be);
	if (!nl)
		return reply_err("netlink", "dm-shadow netlink family not available");

	if (!strcmp(op, "list")) {
		struct shadow_snap *v = NULL;
		size_t n = 0;

		if (arg_volume(req, "volume", &d, &err) ||
		    shadow_nl_snap_list(nl, d, &v, &n, &err))
			return reply_nl(&err);
		a = json_object_new_array();
		for (i = 0; i < n; i++) {
			json_object *x = json_object_new_object();

			add_u64(x, "id", v[i].id);
			add_u64(x, "ctime_ns", v[i].ctime_ns);
			json_object_object_add(x, "readonly",
					json_object_new_boolean(v[i].readonly));
			json_object_object_add(x, "invalid",
					json_object_new_boolean(v[i].invalid));
			add_str(x, "label", v[i].label);
			add_u64(x, "exclusive", v[i].exclusive);
			json_object_array_add(a, x);
		}
		free(v);
		o = reply_ok();
		json_object_object_add(o, "snapshots", a);
		return o;
	}
	if (!strcmp(op, "delete")) {
		if (arg_volume(req, "volume", &d, &err))
			return reply_nl(&err);
		if (arg_u32(req, "id", 0, &id) || !id)
			return BAD_ARG("id");
		/* a mounted previous version holds the snapshot open */
		shadowd_pv_release(srv->be, d.major, d.minor, id);
		if (shadow_nl_snap_delete(nl, d, id, &err)) {
			shadowd_pv_sync(srv->be, d.major, d.minor,
					"deletion failed");
			return reply_nl(&err);
		}
		log_info("snapshot %u:%u/%u deleted by uid %u", d.major,
			 d.minor, id, p->cred.uid);
		return reply_ok();
	}

	/* create: {"volumes": [..], "label"?, "freeze"?, "timeout_ms"?} */
	{
		struct shadow_dev devs[SHADOW_NL_GROUP_MAX];
		struct shadow_created out[SHADOW_NL_GROUP_MAX];
		const char *label;
		json_object *vols, *bad;
		uint32_t flags, timeout;
		uint64_t pause = 0;
		size_t n;
		char dev[32];

		if (!json_object_object_get_ex(req, "volumes", &vols) ||
		    !json_object_is_type(vols, json_type_array))
			return BAD_ARG("volumes");
		n = json_object_array_length(vols);
		if (n == 0 || n > SHADOW_NL_GROUP_MAX)
			return BAD_ARG("volumes");
		for (i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(vols, i);

			if (!json_object_is_type(e, json_type_string) ||
			    shadow_resolve_origin(json_object_get_string(e),
						  &devs[i], &err))
				return err.code ? reply_nl(&err) : BAD_ARG("volumes");
		}
		bad = arg_create(req, &label, &flags, &timeout);
		if (bad)
			return bad;
		if (shadow_nl_snap_create(nl, devs, n, flags, timeout, label,
					  out, &pause, &err))
			return reply_nl(&err);
		/* all the members of a group at once: a cut of the group */
		shadowd_group_record(srv->be, out, n);
		a = json_object_new_array();
		for (i = 0; i < n; i++) {
			json_object *x = json_object_new_object();

			add_str(x, "volume", shadow_format_dev(out[i].dev, dev,
							       sizeof(dev)));
			add_u64(x, "id", out[i].id);
			json_object_array_add(a, x);
		}
		o = reply_ok();
		json_object_object_add(o, "snapshots", a);
		add_u64(o, "pause_us", pause);
		log_info("%zu snapshot(s) created by uid %u", n, p->cred.uid);
		return o;
	}
}

/* ------------------------------------------------------------ policies */

static json_object *policy_json(const struct shadowd_policy *sp)
{
	json_object *x = json_object_new_object();
	char text[1024];

	shadow_ret_policy_format(sp->p, text, sizeof(text));
	add_str(x, "volume", sp->volume);
	add_str(x, "policy", text);
	add_str(x, "source", sp->from_state ? "state" : "config");
	add_u64(x, "store_high", sp->p->store_high);
	add_u64(x, "store_low", sp->p->store_low);
	return x;
}

static json_object *do_policy(struct shadowd_server *srv, struct peer *p,
			      const char *op, json_object *req)
{
	const char *vol = arg_str(req, "volume");
	struct shadowd_backend *b = srv->be;
	json_object *o, *a;
	size_t i;

	if (!strcmp(op, "show")) {
		struct shadow_nl_err err = { 0 };
		const struct shadowd_policy *sp;
		struct shadow_dev d;

		if (!(p->classes & SHADOWD_QUERY))
			return reply_err("E_ACCESSDENIED", "not permitted");
		o = reply_ok();
		if (!vol) {
			a = json_object_new_array();
			for (i = 0; i < b->npol; i++)
				json_object_array_add(a, policy_json(&b->pol[i]));
			shadowd_group_policies_json(b, a);
			json_object_object_add(o, "policies", a);
			return o;
		}
		if (shadow_resolve_origin(vol, &d, &err)) {
			json_object_put(o);
			return reply_nl(&err);
		}
		sp = shadowd_policy_find(b, d.major, d.minor);
		if (sp) {
			json_object_object_add(o, "policy", policy_json(sp));
		} else {
			json_object_object_add(o, "policy", NULL);
		}
		return o;
	}
	if (!strcmp(op, "set")) {
		const char *text = arg_str(req, "policy");
		char err[256];
		int r;

		if (!(p->classes & SHADOWD_ADMIN))
			return reply_err("E_ACCESSDENIED", "not permitted");
		if (!vol)
			return BAD_ARG("volume");
		if (!text)
			return BAD_ARG("policy");
		r = shadowd_policy_set(b, vol, text, err, sizeof(err));
		if (r == -EIO)
			return reply_err("io", "the policy file cannot be written");
		if (r)
			return reply_err(r == -ENOENT ? "not_found" :
					 "E_INVALIDARG", "%s", err);
		log_info("policy of %s %s by uid %u", vol,
			 text[0] ? "set" : "removed", p->cred.uid);
		return reply_ok();
	}
	return reply_err("E_INVALIDARG", "unknown request \"policy.%s\"", op);
}

/* ------------------------------------------------------------ dispatch */

static json_object *dispatch(struct shadowd_server *srv, struct peer *p,
			     const char *line)
{
	enum json_tokener_error jerr;
	json_object *req, *reply;
	const char *op;

	req = json_tokener_parse_verbose(line, &jerr);
	if (!req || !json_object_is_type(req, json_type_object)) {
		json_object_put(req);
		return reply_err("E_INVALIDARG", "not a JSON object: %s",
				 req ? "wrong type" : json_tokener_error_desc(jerr));
	}
	op = arg_str(req, "op");
	if (!op) {
		reply = BAD_ARG("op");
	} else if (shadowd_group_wants(op, req)) {
		reply = shadowd_group_request(srv->be, p->classes,
					      p->cred.uid, op, req);
	} else if (!strncmp(op, "fsrvp.", 6)) {
		reply = do_fsrvp(srv, p, op + 6, req);
	} else if (!strcmp(op, "prune") || !strcmp(op, "snapshot.pin") ||
		   !strcmp(op, "snapshot.unpin")) {
		reply = shadowd_retain_request(srv->be, p->classes,
					       p->cred.uid, op, req);
	} else if (!strcmp(op, "snapshot.mount") ||
		   !strcmp(op, "snapshot.unmount")) {
		reply = shadowd_mount_request(srv->be, p->classes,
					      p->cred.uid, op, req);
	} else if (!strncmp(op, "snapshot.", 9)) {
		reply = do_snapshot(srv, p, op + 9, req);
	} else if (!strncmp(op, "policy.", 7)) {
		reply = do_policy(srv, p, op + 7, req);
	} else if (!strncmp(op, "samba.", 6) || !strncmp(op, "pv.", 3)) {
		reply = shadowd_pv_request(srv->be, p->classes, p->cred.uid,
					   op, req);
	} else if (!strncmp(op, "volume.", 7)) {
		reply = shadowd_volume_request(srv->be, p->classes,
					       p->cred.uid, op + 7, req);
	} else if (!strcmp(op, "version")) {
		reply = reply_ok();
		add_str(reply, "version", SHADOW_VERSION);
	} else {
		reply = reply_err("E_INVALIDARG", "unknown request \"%s\"", op);
	}
	log_debug("uid %u: %s -> %s", p->cred.uid, op ? op : "?",
		  json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	return reply;
}

/* ------------------------------------------------------------- clients */

static void peer_close(struct shadowd_server *srv, size_t i)
{
	struct peer *p = srv->peers[i];

	close(p->fd);
	free(p->in);
	free(p->out);
	free(p);
	srv->peers[i] = srv->peers[--srv->npeers];
}

static void queue_reply(struct shadowd_server *srv, struct peer *p,
			json_object *reply)
{
	const char *s = json_object_to_json_string_ext(reply,
						       JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s);
	char *v = realloc(p->out, p->outlen + n + 1);

	if (v) {
		memcpy(v + p->outlen, s, n);
		v[p->outlen + n] = '\n';
		p->out = v;
		p->outlen += n + 1;
	}
	json_object_put(reply);
	p->deadline = now_ms() + srv->cfg->client_timeout_ms;
}

/* Returns false when the peer must go. */
static bool peer_read(struct shadowd_server *srv, struct peer *p)
{
	size_t max = p->insize;
	char *nl;
	ssize_t r;

	for (;;) {
		if (p->inlen >= max) {
			queue_reply(srv, p, reply_err("E_INVALIDARG",
				"request longer than %zu bytes", max));
			return false;
		}
		r = read(p->fd, p->in + p->inlen, max - p->inlen);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR;
		if (r == 0)
			return false;
		p->inlen += (size_t)r;
		if (p->inlen == (size_t)r)	/* a request begins */
			p->deadline = now_ms() + srv->cfg->client_timeout_ms;
		while ((nl = memchr(p->in, '\n', p->inlen))) {
			size_t len = (size_t)(nl - p->in);

			*nl = '\0';
			queue_reply(srv, p, dispatch(srv, p, p->in));
			memmove(p->in, nl + 1, p->inlen - len - 1);
			p->inlen -= len + 1;
			p->deadline = now_ms() + (p->inlen ?
				srv->cfg->client_timeout_ms :
				srv->cfg->idle_timeout_ms);
		}
	}
}

static bool peer_write(struct peer *p)
{
	while (p->outoff < p->outlen) {
		ssize_t r = write(p->fd, p->out + p->outoff,
				  p->outlen - p->outoff);

		if (r < 0)
			return errno == EAGAIN || errno == EINTR;
		p->outoff += (size_t)r;
	}
	p->outoff = p->outlen = 0;
	return true;
}

static void accept_peers(struct shadowd_server *srv)
{
	for (;;) {
		struct peer *p, **v;
		socklen_t len = sizeof(struct ucred);
		int fd = accept4(srv->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (srv->npeers >= srv->cfg->max_clients) {
			log_warn("too many clients, refusing one");
			close(fd);
			continue;
		}
		p = calloc(1, sizeof(*p));
		v = realloc(srv->peers, (srv->npeers + 1) * sizeof(*v));
		if (v)
			srv->peers = v;
		if (!p || !v || !(p->in = malloc(srv->cfg->max_request)) ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p->cred, &len)) {
			if (p)
				free(p->in);
			free(p);
			close(fd);
			continue;
		}
		p->fd = fd;
		p->insize = srv->cfg->max_request;
		p->classes = peer_classes(srv->cfg, &p->cred);
		snprintf(p->addr, sizeof(p->addr), "uid:%u", p->cred.uid);
		p->deadline = now_ms() + srv->cfg->idle_timeout_ms;
		srv->peers[srv->npeers++] = p;
		log_debug("client pid %d uid %u connected (classes %#x)",
			  p->cred.pid, p->cred.uid, p->classes);
	}
}

/* -------------------------------------------------------------- events */

static int on_event(const struct shadow_event *e, void *arg)
{
	struct shadowd_server *srv = arg;

	if (shadowd_event(srv->be, e))
		srv->resync = true;
	return 0;
}

static void events_open(struct shadowd_server *srv)
{
	struct shadow_nl_err err = { 0 };

	srv->ev = shadow_nl_events_open(&err);
	if (!srv->ev) {
		if (!srv->ev_retry)
			log_warn("kernel events: %s; retrying every 10 s",
				 err.msg);
		srv->ev_retry = now_ms() + 10000;
	} else {
		srv->ev_retry = 0;
		log_info("listening to dm-shadow kernel events");
	}
}

/* ------------------------------------------------------------- the loop */

static int listen_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST) {
			log_err("%s: %s", dir, strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Another shadowd answering there?  Then do not steal its socket. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		log_err("%s: another shadowd is running", path);
		close(fd);
		return -1;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0666) || listen(fd, 64)) {
		log_err("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct shadowd_server *shadowd_server_new(const struct shadowd_config *cfg,
					  struct fsrvp *f,
					  struct shadowd_backend *b)
{
	struct shadowd_server *srv = calloc(1, sizeof(*srv));
	sigset_t mask;

	if (!srv)
		return NULL;
	srv->cfg = cfg;
	srv->f = f;
	srv->be = b;
	srv->lfd = listen_socket(cfg->socket);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	srv->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (srv->lfd < 0 || srv->sfd < 0) {
		shadowd_server_free(srv);
		return NULL;
	}
	events_open(srv);
	return srv;
}

void shadowd_server_free(struct shadowd_server *srv)
{
	if (!srv)
		return;
	while (srv->npeers)
		peer_close(srv, srv->npeers - 1);
	free(srv->peers);
	if (srv->lfd >= 0) {
		close(srv->lfd);
		unlink(srv->cfg->socket);
	}
	if (srv->sfd >= 0)
		close(srv->sfd);
	if (srv->ev)
		shadow_nl_events_close(srv->ev);
	free(srv);
}

/*
 * SIGHUP: the configuration file is read again (shadowd_reload()); when
 * it is good, the new policies and previous-versions settings are applied
 * at once by a resync, as at start.  systemd is told (RELOADING=1, then
 * READY=1), so that `systemctl reload` waits for the end.
 */
static void reload_config(struct shadowd_server *srv)
{
	uint64_t seq;

	shadowd_notify("RELOADING=1\nSTATUS=reloading the configuration");
	if (!shadowd_reload(srv->be)) {
		seq = shadowd_resync(srv->be, "reload");
		if (seq && srv->ev)
			shadow_nl_events_resynced(srv->ev, seq);
	}
	shadowd_notify("READY=1\nSTATUS=listening");
}

int shadowd_server_run(struct shadowd_server *srv)
{
	struct pollfd *pfd = NULL;
	bool reload = false;

	while (!srv->stop) {
		size_t n = 0, i, base;
		uint64_t now = now_ms(), next = now + 60000;
		int64_t t = fsrvp_timer_remaining_ms(srv->f);
		struct pollfd *v;
		int r;

		v = realloc(pfd, (srv->npeers + 3) * sizeof(*pfd));
		if (!v)
			break;
		pfd = v;
		pfd[n++] = (struct pollfd){ .fd = srv->sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = srv->lfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){
			.fd = srv->ev ? shadow_nl_events_fd(srv->ev) : -1,
			.events = POLLIN };
		base = n;
		for (i = 0; i < srv->npeers; i++) {
			struct peer *p = srv->peers[i];

			pfd[n++] = (struct pollfd){ .fd = p->fd,
				.events = p->outlen ? POLLOUT : POLLIN };
			if (p->deadline < next)
				next = p->deadline;
		}
		if (t >= 0 && now + (uint64_t)t < next)
			next = now + (uint64_t)t;
		if (srv->ev_retry && srv->ev_retry < next)
			next = srv->ev_retry;

		r = poll(pfd, n, next > now ? (int)(next - now) : 0);
		if (r < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			break;
		}
		now = now_ms();

		if (r > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			while (read(srv->sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					reload = true;
				else
					srv->stop = true;
			}
		}
		if (reload && !srv->stop) {
			reload = false;
			reload_config(srv);
		}
		if (r > 0 && srv->ev && (pfd[2].revents & POLLIN)) {
			struct shadow_nl_err err = { 0 };

			if (shadow_nl_events_recv(srv->ev, on_event, srv, &err))
				log_warn("kernel events: %s", err.msg);
			if (err.code == -ENOBUFS)
				srv->resync = true;
		}
		if (srv->resync && srv->ev) {
			uint64_t seq;

			srv->resync = false;
			seq = shadowd_resync(srv->be, "events lost");
			if (seq)
				shadow_nl_events_resynced(srv->ev, seq);
		}
		if (srv->ev_retry && now >= srv->ev_retry)
			events_open(srv);

		/* Peers, backwards: peer_close() moves the last one. */
		for (i = srv->npeers; i-- > 0;) {
			struct peer *p = srv->peers[i];
			short re = r > 0 ? pfd[base + i].revents : 0;
			bool keep = true;

			if (re & (POLLERR | POLLNVAL))
				keep = false;
			else if (re & POLLOUT)
				keep = peer_write(p);
			else if (re & (POLLIN | POLLHUP))
				keep = peer_read(srv, p) || (peer_write(p), false);
			if (keep && p->outlen && peer_write(p) && !p->outlen)
				p->deadline = now + (p->inlen ?
					srv->cfg->client_timeout_ms :
					srv->cfg->idle_timeout_ms);
			if (keep && now >= p->deadline) {
				log_debug("client uid %u timed out", p->cred.uid);
				keep = false;
			}
			if (!keep)
				peer_close(srv, i);
		}
		/* New peers after the old ones: pfd[] indexes stay right. */
		if (r > 0 && (pfd[1].revents & POLLIN))
			accept_peers(srv);

		if (fsrvp_timer_run(srv->f) >= 0)
			log_info("FSRVP message sequence timer expired: "
				 "sets not Recovered were deleted");
	}
	free(pfd);
	return srv->stop ? 0 : -1;
}
