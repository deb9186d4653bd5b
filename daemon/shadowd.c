// SPDX-License-Identifier: GPL-2.0
/*
 * shadowd: the dm-shadow control daemon.  Command line, configuration
 * file, logging, readiness notification; the event loop and the control
 * socket are in server.c, the volumes in backend.c, the FSRVP state
 * machine in lib/fsrvp.c.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fsrvp.h"
#include "retention.h"
#include "shadowd.h"

/* ------------------------------------------------------------ logging */

static bool log_stderr;
static bool log_journal;	/* stderr is the journal: "<N>" prefixes */
static int log_level = LOG_INFO;

void shadowd_log_init(bool foreground, int level)
{
	log_stderr = foreground;
	log_journal = foreground && getenv("JOURNAL_STREAM");
	log_level = level;
	if (!foreground)
		openlog("shadowd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void shadowd_log_set_level(int level)
{
	log_level = level;
}

void shadowd_log(int prio, const char *fmt, ...)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "error", "warning", "notice",
		"info", "debug",
	};
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	if (!log_stderr) {
		vsyslog(prio, fmt, ap);
	} else {
		if (log_journal)
			fprintf(stderr, "<%d>", prio);
		else
			fprintf(stderr, "shadowd: %s: ", names[prio & 7]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

/* ------------------------------------------------------------- notify */

int shadowd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	size_t n;
	int fd, r = 0;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, len) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* ------------------------------------------------------------- config */

void shadowd_config_defaults(struct shadowd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "%s", SHADOWD_SOCKET);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", SHADOWD_STATE_DIR);
	snprintf(c->mount_dir, sizeof(c->mount_dir), "%s", SHADOWD_MOUNT_DIR);
	c->log_level = LOG_INFO;
	c->sequence_timeout = FSRVP_TIMEOUT_SPEC;
	c->client_timeout_ms = 5000;
	c->idle_timeout_ms = 60000;
	c->max_request = 65536;
	c->max_clients = 64;
	snprintf(c->snapdir, sizeof(c->snapdir), ".snapshots");
	snprintf(c->previous_versions, sizeof(c->previous_versions), "none");
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_uint(const char *v, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	*out = strtoul(v, &end, 10);
	if (errno || *end || *out < min || *out > max)
		return -1;
	return 0;
}

static int parse_groups(struct shadowd_config *c, int cls, char *v)
{
	char *save = NULL, *g;

	c->ngroups[cls] = 0;
	for (g = strtok_r(v, ", \t", &save); g; g = strtok_r(NULL, ", \t", &save)) {
		if (c->ngroups[cls] >= SHADOWD_GROUPS_MAX || strlen(g) >= 64)
			return -1;
		snprintf(c->groups[cls][c->ngroups[cls]++], 64, "%s", g);
	}
	return 0;
}

static const char *const level_names[] = {
	[LOG_ERR] = "error", [LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static int set_key(struct shadowd_config *c, const char *k, char *v)
{
	unsigned long n;
	int i;

	if (!strcmp(k, "socket")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->socket))
			return -1;
		snprintf(c->socket, sizeof(c->socket), "%s", v);
	} else if (!strcmp(k, "state_dir")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->state_dir))
			return -1;
		snprintf(c->state_dir, sizeof(c->state_dir), "%s", v);
	} else if (!strcmp(k, "mount_dir")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->mount_dir) - 200)
			return -1;
		snprintf(c->mount_dir, sizeof(c->mount_dir), "%s", v);
	} else if (!strcmp(k, "expose_command")) {
		if ((v[0] && v[0] != '/') ||
		    strlen(v) >= sizeof(c->expose_command))
			return -1;
		snprintf(c->expose_command, sizeof(c->expose_command), "%s", v);
	} else if (!strcmp(k, "log_level")) {
		for (i = LOG_ERR; i <= LOG_DEBUG; i++)
			if (level_names[i] && !strcmp(v, level_names[i]))
				break;
		if (i > LOG_DEBUG)
			return -1;
		c->log_level = i;
	} else if (!strcmp(k, "sequence_timeout")) {
		if (!strcmp(v, "spec")) {
			c->sequence_timeout = FSRVP_TIMEOUT_SPEC;
		} else {
			if (parse_uint(v, 0, 86400, &n))
				return -1;
			c->sequence_timeout = (int)n;
		}
	} else if (!strcmp(k, "client_timeout_ms")) {
		if (parse_uint(v, 100, 600000, &n))
			return -1;
		c->client_timeout_ms = (unsigned int)n;
	} else if (!strcmp(k, "idle_timeout_ms")) {
		if (parse_uint(v, 100, 86400000, &n))
			return -1;
		c->idle_timeout_ms = (unsigned int)n;
	} else if (!strcmp(k, "max_request_bytes")) {
		if (parse_uint(v, 1024, 16 << 20, &n))
			return -1;
		c->max_request = n;
	} else if (!strcmp(k, "max_clients")) {
		if (parse_uint(v, 1, 4096, &n))
			return -1;
		c->max_clients = (unsigned int)n;
	} else if (!strcmp(k, "query_groups")) {
		return parse_groups(c, 0, v);
	} else if (!strcmp(k, "snapshot_groups")) {
		return parse_groups(c, 1, v);
	} else if (!strcmp(k, "admin_groups")) {
		return parse_groups(c, 2, v);
	} else if (!strcmp(k, "owner_name")) {
		if (strlen(v) >= sizeof(c->owner_name))
			return -1;
		snprintf(c->owner_name, sizeof(c->owner_name), "%s", v);
	} else if (!strncmp(k, "policy.", 7) && k[7]) {
		struct shadowd_policy_cfg *pc;
		struct shadow_ret_policy p;
		char err[SHADOW_RET_ERRLEN];

		if (c->npolicies >= SHADOWD_POLICIES_MAX ||
		    strlen(k + 7) >= sizeof(pc->volume) ||
		    strlen(v) >= sizeof(pc->text))
			return -1;
		shadow_ret_policy_init(&p);
		if (shadow_ret_policy_parse(&p, v, err, sizeof(err))) {
			log_err("policy.%s: %s", k + 7, err);
			return -1;
		}
		pc = &c->policies[c->npolicies++];
		snprintf(pc->volume, sizeof(pc->volume), "%s", k + 7);
		snprintf(pc->text, sizeof(pc->text), "%s", v);
	} else if (!strcmp(k, "snapdir")) {
		if (shadowd_pv_check_snapdir(v) || strlen(v) >= 2048)
			return -1;
		snprintf(c->snapdir, sizeof(c->snapdir), "%s", v);
	} else if (!strcmp(k, "previous_versions")) {
		if (shadowd_pv_check_volumes(v) ||
		    strlen(v) >= sizeof(c->previous_versions))
			return -1;
		snprintf(c->previous_versions, sizeof(c->previous_versions),
			 "%s", v);
	} else if (!strncmp(k, "share.", 6) && k[6]) {
		struct shadowd_share *sh;

		if (c->nshares >= SHADOWD_SHARES_MAX || v[0] != '/' ||
		    strlen(k + 6) >= sizeof(sh->name) ||
		    strlen(v) >= sizeof(sh->path))
			return -1;
		sh = &c->shares[c->nshares++];
		snprintf(sh->name, sizeof(sh->name), "%s", k + 6);
		snprintf(sh->path, sizeof(sh->path), "%s", v);
	} else {
		return -2;
	}
	return 0;
}

int shadowd_config_load(struct shadowd_config *c, const char *path,
			bool must_exist)
{
	char line[8192];
	unsigned int lineno = 0;
	FILE *f = fopen(path, "re");
	int bad = 0;

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *k, *v;
		int r;

		lineno++;
		s = line;
		if (strchr(s, '#'))
			*strchr(s, '#') = '\0';
		s = trim(s);
		if (!*s)
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			log_err("%s:%u: expected KEY = VALUE", path, lineno);
			bad = 1;
			continue;
		}
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		r = set_key(c, k, v);
		if (r == -2)
			log_err("%s:%u: unknown key '%s'", path, lineno, k);
		else if (r)
			log_err("%s:%u: bad value '%s' for %s", path, lineno,
				v, k);
		if (r)
			bad = 1;
	}
	fclose(f);
	return bad ? -1 : 0;
}

/* ---------------------------------------------------------------- reload */

/* The running configuration, and where it came from (for SIGHUP). */
static struct shadowd_config cfg;
static const char *config_path = SHADOWD_CONFIG;
static bool config_given;
static const char *socket_arg;

/* A setting that cannot change while shadowd runs: the running value is
 * kept, with a warning, when the file now says otherwise. */
static void keep_running(char *new_v, const char *run_v, size_t len,
			 const char *key)
{
	if (!strcmp(new_v, run_v))
		return;
	log_warn("reload: %s changed to %s; it takes effect when shadowd "
		 "restarts", key, new_v);
	snprintf(new_v, len, "%s", run_v);
}

/**
 * shadowd_reload() - read the configuration file again (SIGHUP)
 * @b: the backend, whose policies are rebuilt
 *
 * A file with any error changes nothing: the whole running configuration
 * is kept and the errors are logged.  Otherwise every setting takes
 * effect at once except socket, state_dir and mount_dir, which keep their
 * running value until a restart (the socket is bound; the state and the
 * exposed copies live there).  Requests already being read keep the
 * max_request_bytes they connected with; peers keep their classes.
 *
 * Return: 0, or -1 when nothing was changed.
 */
int shadowd_reload(struct shadowd_backend *b)
{
	static struct shadowd_config n;

	shadowd_config_defaults(&n);
	if (shadowd_config_load(&n, config_path, config_given)) {
		log_err("reload: %s has errors; the running configuration is "
			"kept", config_path);
		return -1;
	}
	if (socket_arg)
		snprintf(n.socket, sizeof(n.socket), "%s", socket_arg);
	keep_running(n.socket, cfg.socket, sizeof(n.socket), "socket");
	keep_running(n.state_dir, cfg.state_dir, sizeof(n.state_dir),
		     "state_dir");
	keep_running(n.mount_dir, cfg.mount_dir, sizeof(n.mount_dir),
		     "mount_dir");
	cfg = n;
	shadowd_log_set_level(cfg.log_level);
	fsrvp_set_timeout_override(b->f, cfg.sequence_timeout);
	shadowd_policies_free(b);
	if (shadowd_policies_load(b)) {
		log_err("reload: the retention policies could not all be "
			"loaded");
		return -1;
	}
	log_info("reload: %s read", config_path);
	return 0;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: shadowd [options]\n"
		"\n"
		"The dm-shadow control daemon: FSRVP shadow copy sets, snapshots,\n"
		"kernel events, over a local socket.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"  -s, --socket PATH   control socket (default %s)\n"
		"  -f, --foreground    stay in the foreground, log to stderr\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n",
		SHADOWD_CONFIG, SHADOWD_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool foreground = false;
	struct fsrvp_backend ops;
	struct shadowd_backend be;
	struct shadowd_server *srv;
	struct fsrvp *f;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:s:fhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			config_given = true;
			break;
		case 's':
			socket_arg = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("shadowd %s\n", SHADOW_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "shadowd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	/* Configuration errors go to stderr whatever the mode. */
	shadowd_log_init(true, LOG_INFO);
	shadowd_config_defaults(&cfg);
	if (shadowd_config_load(&cfg, config_path, config_given))
		return 1;
	if (socket_arg) {
		if (socket_arg[0] != '/' ||
		    strlen(socket_arg) >= sizeof(cfg.socket)) {
			log_err("--socket: an absolute path under %zu bytes",
				sizeof(cfg.socket));
			return 2;
		}
		snprintf(cfg.socket, sizeof(cfg.socket), "%s", socket_arg);
	}

	if (!foreground && !getenv("NOTIFY_SOCKET")) {
		if (daemon(0, 0)) {
			log_err("daemon: %s", strerror(errno));
			return 1;
		}
	}
	shadowd_log_init(foreground, cfg.log_level);
	signal(SIGPIPE, SIG_IGN);

	shadowd_load_module();
	shadowd_backend_init(&be, &cfg, &ops);
	f = fsrvp_new(&ops, NULL);
	if (!f) {
		log_err("out of memory");
		return 1;
	}
	fsrvp_set_timeout_override(f, cfg.sequence_timeout);
	be.f = f;

	srv = shadowd_server_new(&cfg, f, &be);
	if (!srv) {
		fsrvp_free(f);
		shadowd_backend_fini(&be);
		return 1;
	}
	/* After the socket: a second shadowd stops there, before it could
	 * touch the first one's devices and mounts.  Volumes before the
	 * sets: copies on an auto volume are found again. */
	if (shadowd_policies_load(&be) || shadowd_volumes_load(&be) ||
	    shadowd_state_load(&be)) {
		shadowd_server_free(srv);
		fsrvp_free(f);
		shadowd_policies_free(&be);
		shadowd_volumes_free(&be);
		shadowd_backend_fini(&be);
		return 1;
	}
	/* Thresholds reached while shadowd was not running. */
	shadowd_resync(&be, "start");
	log_info("shadowd %s ready on %s", SHADOW_VERSION, cfg.socket);
	shadowd_notify("READY=1\nSTATUS=listening");
	r = shadowd_server_run(srv);
	shadowd_notify("STOPPING=1");
	log_info("stopping");
	shadowd_server_free(srv);
	fsrvp_free(f);
	shadowd_policies_free(&be);
	shadowd_volumes_free(&be);
	shadowd_backend_fini(&be);
	return r ? 1 : 0;
}
