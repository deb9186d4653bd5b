/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SHADOWCTL_H
#define SHADOWCTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ctl_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* The program's name in messages ("shadowctl: ..."). */
#define CTL_PROG	"shadowctl"

/* Exit codes (Documentation/man/shadowctl.8, EXIT STATUS). */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_NODAEMON	3	/* shadowd cannot be reached */
#define EXIT_DENIED	4	/* shadowd refused: not authorised */
#define EXIT_NOTFOUND	5	/* no such volume, snapshot, set or copy */

struct shadow_dev;
struct shadow_nl;
struct shadow_nl_err;

int cmd_store(int argc, char **argv);
int cmd_origin(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_samba(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_volume(int argc, char **argv);
int cmd_group(int argc, char **argv);

/* ctl/commands.c: the commands main() dispatches to, and what they share */

/* The top-level commands, in the order --help lists them. */
extern const struct ctl_command ctl_commands[];
extern const size_t ctl_n_commands;
/* The top-level command called @name, or NULL. */
const struct ctl_command *ctl_command_find(const char *name);
/* Keep libdevmapper from printing on its own. */
void ctl_dm_log_quiet(void);
/* "shadowctl: " and the message on stderr, with a newline. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ctl/nl.c: what the netlink commands share */

/* "shadowctl: CMD: MESSAGE"; returns EXIT_FAILURE. */
int ctl_nl_fail(const char *cmd, const struct shadow_nl_err *err);
/* The family, or NULL after printing why. */
struct shadow_nl *ctl_nl_open(const char *cmd);
/* An origin spec's form; 0, or EXIT_USAGE after printing why. */
int ctl_origin_syntax(const char *cmd, const char *spec);
/* Resolve an origin spec; 0, or EXIT_FAILURE after printing why. */
int ctl_origin_arg(const char *cmd, const char *spec, struct shadow_dev *dev);
/*
 * Check an origin spec, open the family and resolve the spec: the family,
 * or NULL with *ret set to EXIT_USAGE or EXIT_FAILURE after printing why.
 */
struct shadow_nl *ctl_nl_origin(const char *cmd, const char *spec,
				struct shadow_dev *dev, int *ret);
/* A column of a libsmartcols table. */
struct ctl_col {
	const char *name;
	double whint;
	int flags;
	int json;	/* SCOLS_JSON_*; -1: a size, a number only with --bytes */
};

/* The output options of the listing commands. */
struct ctl_out {
	int json;
	int noheadings;
	int raw;
	int bytes;
};

struct libscols_table;
/* A table named @name with the first @ncols of @cols; NULL: no memory. */
struct libscols_table *ctl_new_table(const char *name,
				     const struct ctl_col *cols, int ncols,
				     const struct ctl_out *out);
/* A snapshot id argument; 0, or EXIT_USAGE after printing why. */
int ctl_snap_id_arg(const char *cmd, const char *s, uint32_t *id);
/* Display name of an origin: @hint, its dm name, or MAJ:MIN. */
const char *ctl_origin_name(struct shadow_dev dev, const char *hint,
			    char *buf, size_t len);
/* A size in bytes: raw digits or human units. */
char *ctl_size(uint64_t bytes, int raw, char *buf, size_t len);
/* Dispatch "GROUP CMD ARGS..." through @tab; help when CMD is missing. */
int ctl_subcommand(const char *group, const struct ctl_command *tab, size_t n,
		   int argc, char **argv);

/*
 * ctl/file.c: write @path whole or not at all, through a temporary file
 * in its directory that @fill writes (0, or a negative errno to give up):
 * 0, or -1 after printing "shadowctl: CMD: PATH: why".
 */
int ctl_write_file(const char *cmd, const char *path, unsigned int mode,
		   int (*fill)(FILE *f, void *arg), void *arg);

/* ctl/group.c: consistency groups, "@NAME" on the command line */

/* The group name of a "@NAME" argument, NULL when it is not one. */
const char *ctl_group_name(const char *spec);
/* A group name's form; 0, or EXIT_USAGE after printing why. */
int ctl_group_syntax(const char *cmd, const char *name);

/* ctl/sd.c: requests to shadowd's control socket */

struct json_object;
/* --socket; NULL: $SHADOWD_SOCKET or the default. */
void ctl_sd_set_socket(const char *path);
const char *ctl_sd_socket(void);
/* A new request object {"op": @op}; exits when out of memory. */
struct json_object *ctl_sd_request(const char *op);
/*
 * Send @req (consumed) and read the reply into *@reply (NULL when none
 * arrived; the caller puts it).  Returns 0 when the reply says ok;
 * otherwise prints "shadowctl: CMD: why" and returns EXIT_NODAEMON,
 * EXIT_DENIED, EXIT_NOTFOUND or EXIT_FAILURE.
 */
int ctl_sd_call(const char *cmd, struct json_object *req,
		struct json_object **reply);
/* The reply's "error" name, or NULL. */
const char *ctl_sd_error(struct json_object *reply);
/* The exit code for a failed reply. */
int ctl_sd_exit_code(struct json_object *reply);

#endif
