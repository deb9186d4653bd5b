// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl's client of shadowd's control socket: one JSON request on one
 * line, one JSON reply on one line (Documentation/shadowd.rst, "Protocol").
 *
 * The socket is --socket, else $SHADOWD_SOCKET, else shadowd's default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "shadowctl.h"

#define CTL_SD_DEFAULT_SOCKET	"/run/dm-shadow/shadowd.sock"
/* A reply longer than this is not shadowd's. */
#define CTL_SD_MAX_REPLY	(64u << 20)

static const char *sd_socket;

void ctl_sd_set_socket(const char *path)
{
	sd_socket = path;
}

const char *ctl_sd_socket(void)
{
	const char *env = getenv("SHADOWD_SOCKET");

	if (sd_socket)
		return sd_socket;
	return env && *env ? env : CTL_SD_DEFAULT_SOCKET;
}

static int sd_connect(const char *cmd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = ctl_sd_socket();
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		ctl_err("%s: socket path too long: %s", cmd, path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ctl_err("%s: socket: %s", cmd, strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ctl_err("%s: cannot reach shadowd at %s: %s%s", cmd, path,
			strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED ?
			" (is shadowd running?)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* One line from @fd, without its '\n'; NULL with errno set. */
static char *read_line(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return NULL;
	for (;;) {
		ssize_t r;
		char *nl;

		if (len + 1 >= cap) {
			char *n;

			if (cap >= CTL_SD_MAX_REPLY) {
				free(buf);
				errno = EMSGSIZE;
				return NULL;
			}
			n = realloc(buf, cap * 2);
			if (!n) {
				free(buf);
				return NULL;
			}
			buf = n;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			if (r == 0)
				errno = ECONNRESET;
			return NULL;
		}
		nl = memchr(buf + len, '\n', (size_t)r);
		len += (size_t)r;
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
}

const char *ctl_sd_error(struct json_object *reply)
{
	struct json_object *e;

	if (reply && json_object_object_get_ex(reply, "error", &e))
		return json_object_get_string(e);
	return NULL;
}

int ctl_sd_exit_code(struct json_object *reply)
{
	const char *e = ctl_sd_error(reply);

	if (!e)
		return EXIT_FAILURE;
	if (!strcmp(e, "E_ACCESSDENIED") || !strcmp(e, "denied"))
		return EXIT_DENIED;
	if (!strcmp(e, "not_found") ||
	    !strcmp(e, "FSRVP_E_OBJECT_NOT_FOUND") ||
	    !strcmp(e, "FSRVP_E_SHADOWCOPYSET_ID_MISMATCH"))
		return EXIT_NOTFOUND;
	return EXIT_FAILURE;
}

int ctl_sd_call(const char *cmd, struct json_object *req,
		struct json_object **reply)
{
	struct json_object *r, *ok;
	const char *text;
	char *line;
	int fd, ret;

	*reply = NULL;
	fd = sd_connect(cmd);
	if (fd < 0) {
		json_object_put(req);
		return EXIT_NODAEMON;
	}
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1)) {
		ctl_err("%s: sending to shadowd: %s", cmd, strerror(errno));
		json_object_put(req);
		close(fd);
		return EXIT_NODAEMON;
	}
	json_object_put(req);
	line = read_line(fd);
	close(fd);
	if (!line) {
		ctl_err("%s: no reply from shadowd: %s", cmd, strerror(errno));
		return EXIT_NODAEMON;
	}
	r = json_tokener_parse(line);
	free(line);
	if (!r || !json_object_is_type(r, json_type_object) ||
	    !json_object_object_get_ex(r, "ok", &ok)) {
		ctl_err("%s: shadowd sent a reply that is not JSON", cmd);
		json_object_put(r);
		return EXIT_FAILURE;
	}
	*reply = r;
	if (json_object_get_boolean(ok))
		return 0;

	ret = ctl_sd_exit_code(r);
	{
		struct json_object *m, *h;
		const char *msg = NULL, *hr = NULL;

		if (json_object_object_get_ex(r, "message", &m))
			msg = json_object_get_string(m);
		if (json_object_object_get_ex(r, "hresult", &h))
			hr = json_object_get_string(h);
		if (msg && *msg)
			ctl_err("%s: %s (%s)", cmd, msg, ctl_sd_error(r) ?: "?");
		else if (hr)
			ctl_err("%s: %s (%s)", cmd, ctl_sd_error(r) ?: "failed",
				hr);
		else
			ctl_err("%s: %s", cmd, ctl_sd_error(r) ?: "failed");
	}
	return ret;
}

struct json_object *ctl_sd_request(const char *op)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		ctl_err("out of memory");
		exit(EXIT_FAILURE);
	}
	json_object_object_add(o, "op", json_object_new_string(op));
	return o;
}
