// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl monitor: print the events of the dm_shadow multicast group,
 * one line each; on a gap in the sequence numbers, list the origins again
 * (a resync) and go on.  One poll() loop over the netlink socket and a
 * signalfd: SIGINT and SIGTERM end it with status 0.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "shadow-nl.h"
#include "shadowctl.h"
#include "units.h"

#define CMD "monitor"

struct mon {
	struct shadow_nl_events *ev;
	struct shadow_nl *nl;		/* for resyncs, opened on the first */
	int json;
	uint32_t count;			/* 0: no limit */
	uint32_t seen;
};

struct resync_ctx {
	size_t n;
	uint64_t seq;
};

static int resync_origin(const struct shadow_origin *o, void *arg)
{
	struct resync_ctx *rc = arg;

	rc->n++;
	if (o->event_seq > rc->seq)
		rc->seq = o->event_seq;
	return 0;
}

/* List the origins again; what the listing covers is no gap any more. */
static void resync(struct mon *m)
{
	struct shadow_nl_err err = { 0 };
	struct resync_ctx rc = { 0 };

	if (!m->nl)
		m->nl = shadow_nl_open(&err);
	if (!m->nl || shadow_nl_origin_dump(m->nl, resync_origin, &rc, &err)) {
		ctl_nl_fail(CMD ": resync", &err);
		return;
	}
	if (rc.seq)
		shadow_nl_events_resynced(m->ev, rc.seq);
	if (m->json)
		printf("{\"resync\":%zu}\n", rc.n);
	else
		printf("resync %zu\n", rc.n);
}

static int on_event(const struct shadow_event *e, void *arg)
{
	struct mon *m = arg;
	const char *type = shadow_event_name(e->type);
	char tbuf[24], dbuf[24];

	if (!type) {
		snprintf(tbuf, sizeof(tbuf), "event-%u", e->type);
		type = tbuf;
	}
	shadow_format_dev(e->dev, dbuf, sizeof(dbuf));
	if (e->gap) {
		if (m->json)
			printf("{\"gap\":{\"expected\":%llu,\"got\":%llu}}\n",
			       (unsigned long long)e->expected,
			       (unsigned long long)e->seq);
		else
			printf("gap %llu %llu\n", (unsigned long long)e->expected,
			       (unsigned long long)e->seq);
		fflush(stdout);
		resync(m);
	}
	if (m->json) {
		printf("{\"seq\":%llu,\"type\":\"%s\",\"origin\":\"%s\"",
		       (unsigned long long)e->seq, type, dbuf);
		if (e->has_snap)
			printf(",\"snap\":%u", e->snap_id);
		printf("}\n");
	} else {
		printf("%llu %s %s", (unsigned long long)e->seq, type, dbuf);
		if (e->has_snap)
			printf(" %u", e->snap_id);
		putchar('\n');
	}
	if (fflush(stdout))
		return -EIO;
	m->seen++;
	return m->count && m->seen >= m->count ? 1 : 0;
}

int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "buffer-size", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'J' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct shadow_nl_err err = { 0 };
	struct mon m = { 0 };
	struct pollfd pfd[2];
	int c, r, sfd, verbose = 0, ret = EXIT_FAILURE;
	uint64_t bufsize = 0;
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "c:b:Jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (shadow_parse_u32(optarg, 1, UINT32_MAX, &m.count)) {
				ctl_err(CMD ": count '%s' is not a positive number",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			if (shadow_parse_size(optarg, &bufsize) || !bufsize ||
			    bufsize > INT_MAX) {
				ctl_err(CMD ": '%s' is not a buffer size", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'J':
			m.json = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			printf("Usage: shadowctl monitor [--count N] [--buffer-size BYTES] [--json] [--verbose]\n\n"
			       "Print dm-shadow events as they happen, one line each:\n"
			       "\"<seq> <type> <origin maj:min> [<snapshot id>]\".  When events\n"
			       "were lost, print \"gap <expected> <got>\", list the origins again\n"
			       "and print \"resync <origins>\".  SIGINT and SIGTERM end it.\n\n"
			       "Options:\n"
			       "  -c, --count N             exit after N events\n"
			       "  -b, --buffer-size BYTES   socket receive buffer (default 1M)\n"
			       "  -J, --json                one JSON object per line\n"
			       "  -v, --verbose             say on stderr when listening\n"
			       "  -h, --help                this help\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		ctl_err(CMD ": unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		ctl_err(CMD ": signalfd: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	m.ev = shadow_nl_events_open(&err);
	if (!m.ev) {
		ctl_nl_fail(CMD, &err);
		goto out;
	}
	if (bufsize && shadow_nl_events_set_buffer(m.ev, (size_t)bufsize, &err)) {
		ctl_nl_fail(CMD, &err);
		goto out;
	}
	if (verbose)
		fprintf(stderr, "listening\n");

	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = shadow_nl_events_fd(m.ev);
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ctl_err(CMD ": poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[0].revents) {
			ret = 0;	/* SIGINT, SIGTERM */
			goto out;
		}
		if (!pfd[1].revents)
			continue;
		r = shadow_nl_events_recv(m.ev, on_event, &m, &err);
		if (r > 0) {
			ret = 0;	/* --count reached */
			goto out;
		}
		if (r < 0) {
			ctl_nl_fail(CMD, &err);
			goto out;
		}
	}
out:
	shadow_nl_events_close(m.ev);
	shadow_nl_close(m.nl);
	close(sfd);
	return ret;
}
