// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl's commands run in-process, under ASan and UBSan, against the
 * golden files of tests/selftests/006-ctl-output.host
 * (tests/golden/006-ctl-output/; there is no second copy of the expected
 * output: UPDATE_GOLDEN=1 on 006 rewrites what both tests compare with).
 *
 * A golden file is a sequence of blocks, each what 006's run() prints:
 *
 *	$ shadowctl ARGS...		(each argument through printf %q)
 *	stdout
 *	--- stderr
 *	stderr
 *	--- exit N
 *
 * Each block whose command main() dispatches to a cmd_* function runs here
 * the way main() runs it (a leading --socket PATH through
 * ctl_sd_set_socket(), the command found by ctl_command_find(), optind 1),
 * with 006's environment (LC_ALL=C, TZ=UTC, COLUMNS=80, SHADOWD_SOCKET,
 * LANG and LANGUAGE unset, stdin /dev/null; all restored afterwards), and
 * its stdout, stderr (file descriptors 1 and 2 on temporary files) and
 * exit status are compared byte for byte.  Blocks main() answers itself
 * are skipped: "shadowctl --help", "--version", an unknown command
 * ("nosuchcommand", "--bogus"; 006 also greps the command list out of
 * those two).
 *
 * 006 filters one file: help-first-lines keeps the first two lines of each
 * run (the "$" line and the first line of stdout, or "--- stderr" when
 * stdout is empty); for it the first two lines of the in-process run text
 * are compared.  Every other file is compared whole.
 *
 * One CUnit test a golden file; a mismatch names the file, the block's
 * line and command, what differs (stdout, stderr or exit) and the first
 * differing line, expected and actual.  "files" checks that every golden
 * file of 006 has a test here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shadowctl.h"
#include "unit.h"

#define GOLDEN_DIR	"tests/golden/006-ctl-output"

/* How 006 filters a file's runs before comparing them. */
enum golden_filter {
	WHOLE,		/* nothing: stdout, stderr and exit status */
	FIRST_2_LINES,	/* sed -n 1,2p */
};

static const struct golden {
	const char *name;
	enum golden_filter filter;
} goldens[] = {
	{ "simulate-table", WHOLE },
	{ "simulate-json", WHOLE },
	{ "simulate-cols", WHOLE },
	{ "simulate-raw", WHOLE },
	{ "simulate-monthly", WHOLE },
	{ "help-first-lines", FIRST_2_LINES },
	{ "bad-args", WHOLE },
	{ "no-shadowd", WHOLE },
};

#define N_GOLDENS (sizeof(goldens) / sizeof(goldens[0]))

/* ------------------------------------------------------------ buffers */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...)
{
	char *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	buf_add(b, s, (size_t)n);
	free(s);
}

/* The whole of @fd from its start; NUL-terminated. */
static void buf_read_fd(struct buf *b, int fd)
{
	char chunk[4096];
	ssize_t r;

	buf_add(b, "", 0);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return;
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf_add(b, chunk, (size_t)r);
	}
}

/* ------------------------------------------------- printf %q, reversed */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * One escape of $'...' at @s (just past the backslash) into @w: the
 * rest of the string, or NULL when it is not one bash writes.
 */
static const char *ansi_c_escape(const char *s, struct buf *w)
{
	static const char esc[] = "a\ab\be\033E\033f\fn\nr\rt\tv\v"
				  "\\\\''\"\"??";
	const char *m;
	int v = 0, k;
	char c;

	if (*s >= '0' && *s <= '7') {
		for (k = 0; k < 3 && *s >= '0' && *s <= '7'; k++)
			v = v * 8 + (*s++ - '0');
		c = (char)v;
		buf_add(w, &c, 1);
		return s;
	}
	if (*s == 'x') {
		for (k = 0, s++; k < 2 && hexval(*s) >= 0; k++)
			v = v * 16 + hexval(*s++);
		if (!k)
			return NULL;
		c = (char)v;
		buf_add(w, &c, 1);
		return s;
	}
	for (m = esc; *m; m += 2) {
		if (*m == *s) {
			buf_add(w, m + 1, 1);
			return s + 1;
		}
	}
	return NULL;
}

/* One word at @s into @w: the rest of the line, or NULL when unterminated. */
static const char *unquote_word(const char *s, struct buf *w)
{
	const char *e;

	buf_add(w, "", 0);
	while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
		if (*s == '\\') {
			if (!s[1])
				return NULL;
			buf_add(w, s + 1, 1);
			s += 2;
		} else if (*s == '\'') {
			e = strchr(s + 1, '\'');
			if (!e)
				return NULL;
			buf_add(w, s + 1, (size_t)(e - s - 1));
			s = e + 1;
		} else if (s[0] == '$' && s[1] == '\'') {
			for (s += 2; *s != '\'';) {
				if (!*s)
					return NULL;
				if (*s == '\\') {
					s = ansi_c_escape(s + 1, w);
					if (!s)
						return NULL;
				} else {
					buf_add(w, s++, 1);
				}
			}
			s++;
		} else if (*s == '"') {
			for (s++; *s != '"'; s++) {
				if (!*s)
					return NULL;
				if (*s == '\\' && s[1] && strchr("$`\"\\", s[1]))
					s++;
				buf_add(w, s, 1);
			}
			s++;
		} else {
			buf_add(w, s++, 1);
		}
	}
	return s;
}

static void free_words(char **argv)
{
	char **a;

	for (a = argv; a && *a; a++)
		free(*a);
	free(argv);
}

/*
 * The words of a line as bash's printf %q writes them, separated by
 * blanks: backslash escapes ("a\ b", "NAME\,BOGUS"), '' and '...',
 * $'...' with C escapes (what %q writes for control characters) and, for
 * good measure, "...".  A NULL-terminated array of new strings, or NULL
 * when the quoting is unterminated.
 */
static char **unquote_words(const char *s, int *argc)
{
	char **argv = calloc(1, sizeof(*argv));
	int n = 0;

	if (!argv)
		abort();
	for (;;) {
		struct buf w = { 0 };

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '\n')
			break;
		s = unquote_word(s, &w);
		if (!s) {
			free(w.p);
			free_words(argv);
			return NULL;
		}
		argv = realloc(argv, sizeof(*argv) * (size_t)(n + 2));
		if (!argv)
			abort();
		argv[n++] = w.p;
		argv[n] = NULL;
	}
	*argc = n;
	return argv;
}

static void test_unquote(void)
{
	static const struct {
		const char *line;
		int argc;
		const char *words[4];
	} cases[] = {
		{ "shadowctl origin list", 3, { "shadowctl", "origin", "list" } },
		{ "a\\ b NAME\\,BOGUS", 2, { "a b", "NAME,BOGUS" } },
		{ "'' x", 2, { "", "x" } },
		{ "$'a\\nb\\tc' $'\\x41\\101\\''", 2, { "a\nb\tc", "AA'" } },
		{ "\\~ \"q\\\"r\" 'it'\\''s'", 3, { "~", "q\"r", "it's" } },
		{ "  ", 0, { NULL } },
	};
	size_t i;
	int argc, k;
	char **argv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		argv = unquote_words(cases[i].line, &argc);
		CU_ASSERT_PTR_NOT_NULL_FATAL(argv);
		CU_ASSERT_EQUAL(argc, cases[i].argc);
		for (k = 0; k < argc && k < cases[i].argc; k++)
			CU_ASSERT_STRING_EQUAL(argv[k], cases[i].words[k]);
		CU_ASSERT_PTR_NULL(argv[argc]);
		free_words(argv);
	}
	CU_ASSERT_PTR_NULL(unquote_words("'open", &argc));
	CU_ASSERT_PTR_NULL(unquote_words("$'\\q'", &argc));
	CU_ASSERT_PTR_NULL(unquote_words("x\\", &argc));
}

/* ------------------------------------------------------ the golden files */

/* The golden file @name, found like test_retention.c's testdata. */
static FILE *open_golden(const char *name, char *path, size_t len)
{
	const char *top = getenv("SHADOW_TOP");
	char exe[PATH_MAX];
	ssize_t n;
	FILE *f;

	if (top) {
		snprintf(path, len, "%s/" GOLDEN_DIR "/%s", top, name);
		f = fopen(path, "r");
		if (f)
			return f;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, len, "%s/../" GOLDEN_DIR "/%s", exe, name);
			f = fopen(path, "r");
			if (f)
				return f;
		}
	}
	snprintf(path, len, GOLDEN_DIR "/%s", name);
	return fopen(path, "r");
}

/* One "$ shadowctl ..." block of a golden file and what follows it. */
struct block {
	unsigned int line;	/* of the "$" line, from 1 */
	char *cmd;		/* the "$" line without "$ " and newline */
	char *text;		/* the whole block, "$" line included */
	size_t len;
};

static void free_blocks(struct block *b, int n);

/*
 * The blocks of golden file @f: their number, or -1 on a read error or
 * when text comes before the first "$" line.
 */
static int read_blocks(FILE *f, struct block **blocks)
{
	struct block *b = NULL;
	struct buf text = { 0 };
	unsigned int lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int n = 0, bad = 0;

	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (!strncmp(line, "$ ", 2)) {
			if (n) {
				b[n - 1].text = text.p;
				b[n - 1].len = text.len;
				memset(&text, 0, sizeof(text));
			}
			b = realloc(b, sizeof(*b) * (size_t)(n + 1));
			if (!b)
				abort();
			b[n].line = lineno;
			b[n].cmd = strndup(line + 2, (size_t)len - 2 -
					   (line[len - 1] == '\n'));
			if (!b[n].cmd)
				abort();
			b[n].text = NULL;
			b[n].len = 0;
			n++;
		} else if (!n) {
			bad = 1;
			break;
		}
		buf_add(&text, line, (size_t)len);
	}
	free(line);
	if (n) {
		b[n - 1].text = text.p;
		b[n - 1].len = text.len;
	} else {
		free(text.p);
	}
	if (bad || ferror(f)) {
		free_blocks(b, n);
		b = NULL;
		n = -1;
	}
	*blocks = b;
	return n;
}

static void free_blocks(struct block *b, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(b[i].cmd);
		free(b[i].text);
	}
	free(b);
}

/* --------------------------------------------------- running a command */

/* Sanitizer reports must not land in the captured stderr. */
extern void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

static void sanitizer_to_real_stderr(void)
{
	static int done;
	int fd;

	if (done || !__sanitizer_set_report_fd)
		return;
	fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
	if (fd >= 0)
		__sanitizer_set_report_fd((void *)(intptr_t)fd);
	done = 1;	/* the duplicate stays open for LeakSanitizer at exit */
}

static const char *const env_names[] = {
	"LC_ALL", "TZ", "COLUMNS", "SHADOWD_SOCKET", "LANG", "LANGUAGE",
};
#define N_ENV (sizeof(env_names) / sizeof(env_names[0]))

/* 006's environment; the previous values saved in @saved. */
static void env_enter(char *saved[N_ENV])
{
	size_t i;

	for (i = 0; i < N_ENV; i++) {
		const char *v = getenv(env_names[i]);

		saved[i] = v ? strdup(v) : NULL;
	}
	setenv("LC_ALL", "C", 1);
	setenv("TZ", "UTC", 1);
	setenv("COLUMNS", "80", 1);
	unsetenv("SHADOWD_SOCKET");
	unsetenv("LANG");
	unsetenv("LANGUAGE");
	tzset();
}

static void env_leave(char *saved[N_ENV])
{
	size_t i;

	for (i = 0; i < N_ENV; i++) {
		if (saved[i])
			setenv(env_names[i], saved[i], 1);
		else
			unsetenv(env_names[i]);
		free(saved[i]);
	}
	tzset();
}

/*
 * A fresh getopt: optind 0 makes glibc initialise itself again at the
 * next call (a previous run may have stopped in the middle of "-abc",
 * leaving a pointer into its freed arguments).  The commands that
 * dispatch subcommands set optind to 1 before their getopt_long(), which
 * alone would not reinitialise, so the reset is done here with one call.
 */
static void getopt_reset(void)
{
	char arg0[] = "x";
	char *argv[] = { arg0, NULL };

	optind = 0;
	opterr = 0;
	while (getopt(1, argv, "") != -1)
		;
	opterr = 1;
	optind = 1;
}

static int tmpfile_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/ctl-unit.XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/*
 * Whether main() would hand @argv (the words after "shadowctl") to a
 * command: the command, or NULL when main() answers itself (--help,
 * --version, an unknown command, --socket without a command).
 * *@socket: the --socket argument, or NULL.
 */
static const struct ctl_command *dispatched(int *argc, char ***argv,
					    const char **socket)
{
	*socket = NULL;
	if (*argc < 1)
		return NULL;
	if (!strcmp((*argv)[0], "--socket") || !strcmp((*argv)[0], "-S")) {
		if (*argc < 3)
			return NULL;
		*socket = (*argv)[1];
		*argc -= 2;
		*argv += 2;
	} else if (!strncmp((*argv)[0], "--socket=", 9)) {
		*socket = (*argv)[0] + 9;
		(*argc)--;
		(*argv)++;
	}
	return ctl_command_find((*argv)[0]);
}

struct run {
	struct buf out, err;
	int status;
};

/*
 * Run @cmd on @argc words @argv (@argv[0] the command's name) as main()
 * would, in 006's environment; its stdout, stderr and return value in
 * @r.  0, or -1 when the files could not be set up.
 */
static int run_command(const struct ctl_command *cmd, const char *socket,
		       int argc, char **argv, struct run *r)
{
	int out, err, null, save[3], i;
	char *env[N_ENV];

	memset(r, 0, sizeof(*r));
	sanitizer_to_real_stderr();
	out = tmpfile_fd();
	err = tmpfile_fd();
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (out < 0 || err < 0 || null < 0) {
		if (out >= 0)
			close(out);
		if (err >= 0)
			close(err);
		if (null >= 0)
			close(null);
		return -1;
	}

	env_enter(env);
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 3; i++)
		save[i] = fcntl(i, F_DUPFD_CLOEXEC, 10);
	dup2(null, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	clearerr(stdout);
	clearerr(stderr);

	getopt_reset();
	if (socket)
		ctl_sd_set_socket(socket);
	ctl_dm_log_quiet();
	r->status = cmd->fn(argc, argv);

	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 3; i++) {
		dup2(save[i], i);
		close(save[i]);
	}
	clearerr(stdout);
	clearerr(stderr);
	clearerr(stdin);
	ctl_sd_set_socket(NULL);
	getopt_reset();
	env_leave(env);

	buf_read_fd(&r->out, out);
	buf_read_fd(&r->err, err);
	close(out);
	close(err);
	close(null);
	return 0;
}

/* ------------------------------------------------------------ comparing */

/* Line @n (from 1) of @s, into @line (without its newline, "(end)" past
 * the last). */
static void nth_line(const char *s, size_t len, unsigned int n,
		     char *line, size_t size)
{
	const char *end = s + len, *e;

	while (--n && s < end) {
		e = memchr(s, '\n', (size_t)(end - s));
		s = e ? e + 1 : end;
	}
	if (s >= end) {
		snprintf(line, size, "(end)");
		return;
	}
	e = memchr(s, '\n', (size_t)(end - s));
	snprintf(line, size, "\"%.*s\"%s", (int)((e ? e : end) - s), s,
		 e ? "" : " (no newline)");
}

/*
 * Compare @what of a run: NULL when equal, else a new message with the
 * first differing line, expected and actual.  @base: the golden file's
 * line number of @exp's first line.
 */
static char *differs(const char *what, unsigned int base, const char *exp,
		     size_t elen, const char *act, size_t alen)
{
	unsigned int line = 1;
	size_t i;
	char e[160], a[160];
	struct buf m = { 0 };

	if (elen == alen && !memcmp(exp, act, elen))
		return NULL;
	for (i = 0; i < elen && i < alen && exp[i] == act[i]; i++)
		if (exp[i] == '\n')
			line++;
	nth_line(exp, elen, line, e, sizeof(e));
	nth_line(act, alen, line, a, sizeof(a));
	buf_printf(&m, "%s: line %u (golden file line %u) differs:\n"
		   "       - %s\n"
		   "       + %s", what, line, base + line - 1, e, a);
	return m.p;
}

/* Record a failure at line @line of golden file @path. */
static void block_fail(const char *path, const struct block *b,
		       const char *msg)
{
	struct buf m = { 0 };

	buf_printf(&m, "$ %s: %s", b->cmd, msg);
	CU_assertImplementation(CU_FALSE, b->line, m.p, path, "", CU_FALSE);
	free(m.p);
}

/* Where "--- stderr" and "--- exit N" split @b; 0, or -1 if malformed. */
static int split_block(const struct block *b, const char **out,
		       size_t *out_len, const char **err, size_t *err_len,
		       int *status)
{
	const char *body = memchr(b->text, '\n', b->len);
	const char *end = b->text + b->len, *sep, *ex, *nl;
	char *num_end;
	long v;

	if (!body)
		return -1;
	body++;
	/* the first "--- stderr" line: stdout never holds one here */
	for (sep = body; sep < end; sep = nl + 1) {
		if ((size_t)(end - sep) >= 11 &&
		    !memcmp(sep, "--- stderr\n", 11))
			break;
		nl = memchr(sep, '\n', (size_t)(end - sep));
		if (!nl)
			return -1;
	}
	if (sep >= end)
		return -1;
	/* the last line: "--- exit N" */
	if (end[-1] != '\n')
		return -1;
	for (ex = end - 1; ex > sep && ex[-1] != '\n'; ex--)
		;
	if (strncmp(ex, "--- exit ", 9) || ex < sep + 11)
		return -1;
	errno = 0;
	v = strtol(ex + 9, &num_end, 10);
	if (errno || num_end != end - 1 || num_end == ex + 9)
		return -1;
	*out = body;
	*out_len = (size_t)(sep - body);
	*err = sep + 11;
	*err_len = (size_t)(ex - *err);
	*status = (int)v;
	return 0;
}

/* The run text as 006's run() prints it, its "$" line @b's own. */
static void run_text(const struct block *b, const struct run *r,
		     struct buf *t)
{
	buf_printf(t, "$ %s\n", b->cmd);
	buf_add(t, r->out.p, r->out.len);
	buf_str(t, "--- stderr\n");
	buf_add(t, r->err.p, r->err.len);
	buf_printf(t, "--- exit %d\n", r->status);
}

/* The golden file's line number of @p, a position in @b's text. */
static unsigned int line_of(const struct block *b, const char *p)
{
	unsigned int line = b->line;
	const char *s;

	for (s = b->text; s < p; s++)
		if (*s == '\n')
			line++;
	return line;
}

/* The length of the first @n lines of @s. */
static size_t first_lines(const char *s, size_t len, int n)
{
	const char *p = s, *end = s + len, *e;

	while (n-- && p < end) {
		e = memchr(p, '\n', (size_t)(end - p));
		p = e ? e + 1 : end;
	}
	return (size_t)(p - s);
}

/* Check one block; 1 when it ran, 0 when main() answers it (skipped). */
static int check_block(const char *path, const struct block *b,
		       enum golden_filter filter)
{
	const struct ctl_command *cmd;
	const char *socket, *exp_out, *exp_err;
	size_t exp_out_len, exp_err_len;
	int words, argc, exp_status;
	char **word, **argv, *msg = NULL;
	struct run r;

	word = unquote_words(b->cmd, &words);
	if (!word || words < 1 || strcmp(word[0], "shadowctl")) {
		block_fail(path, b, "not \"shadowctl\" and printf %q words");
		free_words(word);
		return 1;
	}
	argc = words - 1;
	argv = word + 1;
	cmd = dispatched(&argc, &argv, &socket);
	if (!cmd) {
		free_words(word);
		return 0;
	}
	if (filter == WHOLE && split_block(b, &exp_out, &exp_out_len, &exp_err,
					   &exp_err_len, &exp_status)) {
		block_fail(path, b, "not stdout, \"--- stderr\", stderr, "
			   "\"--- exit N\"");
		free_words(word);
		return 1;
	}
	if (run_command(cmd, socket, argc, argv, &r)) {
		block_fail(path, b, "cannot set up the temporary files");
		free_words(word);
		return 1;
	}

	if (filter == FIRST_2_LINES) {
		struct buf t = { 0 };

		run_text(b, &r, &t);
		msg = differs("the run's first two lines (006: sed -n 1,2p)",
			      b->line, b->text, b->len, t.p,
			      first_lines(t.p, t.len, 2));
		free(t.p);
	} else {
		msg = differs("stdout", line_of(b, exp_out), exp_out,
			      exp_out_len, r.out.p, r.out.len);
		if (!msg)
			msg = differs("stderr", line_of(b, exp_err), exp_err,
				      exp_err_len, r.err.p, r.err.len);
		if (!msg && r.status != exp_status) {
			struct buf m = { 0 };

			buf_printf(&m, "exit %d, expected %d", r.status,
				   exp_status);
			msg = m.p;
		}
	}
	if (msg)
		block_fail(path, b, msg);
	else
		CU_PASS("block");
	free(msg);
	free(r.out.p);
	free(r.err.p);
	free_words(word);
	return 1;
}

static void check_golden(const char *name)
{
	const struct golden *g = NULL;
	char path[PATH_MAX + 64];
	struct block *blocks;
	int n, i, ran = 0;
	size_t k;
	FILE *f;

	for (k = 0; k < N_GOLDENS; k++)
		if (!strcmp(goldens[k].name, name))
			g = &goldens[k];
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	f = open_golden(name, path, sizeof(path));
	if (!f) {
		CU_FAIL("cannot open the golden file (SHADOW_TOP?)");
		return;
	}
	n = read_blocks(f, &blocks);
	fclose(f);
	if (n <= 0) {
		CU_assertImplementation(CU_FALSE, 1,
					"no \"$ shadowctl\" blocks, or text "
					"before the first", path, "", CU_FALSE);
		return;
	}
	for (i = 0; i < n; i++)
		ran += check_block(path, &blocks[i], g->filter);
	/* a file with nothing dispatched to a command tests nothing */
	CU_ASSERT(ran > 0);
	free_blocks(blocks, n);
}

#define GOLDEN_TEST(fn, name) \
	static void fn(void) { check_golden(name); }

GOLDEN_TEST(test_simulate_table, "simulate-table")
GOLDEN_TEST(test_simulate_json, "simulate-json")
GOLDEN_TEST(test_simulate_cols, "simulate-cols")
GOLDEN_TEST(test_simulate_raw, "simulate-raw")
GOLDEN_TEST(test_simulate_monthly, "simulate-monthly")
GOLDEN_TEST(test_help_first_lines, "help-first-lines")
GOLDEN_TEST(test_bad_args, "bad-args")
GOLDEN_TEST(test_no_shadowd, "no-shadowd")

/* Every golden file of 006 has its test here (and in goldens[]). */
static void test_files(void)
{
	char path[PATH_MAX + 64], *slash;
	struct dirent *de;
	size_t k;
	DIR *d;
	FILE *f;
	int seen = 0;

	f = open_golden(goldens[0].name, path, sizeof(path));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fclose(f);
	slash = strrchr(path, '/');
	*slash = '\0';
	d = opendir(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		for (k = 0; k < N_GOLDENS; k++)
			if (!strcmp(goldens[k].name, de->d_name))
				break;
		if (k == N_GOLDENS) {
			char msg[NAME_MAX + 64];

			snprintf(msg, sizeof(msg),
				 "golden file '%s' has no test in test_ctl.c",
				 de->d_name);
			CU_assertImplementation(CU_FALSE, __LINE__, msg,
						__FILE__, "", CU_FALSE);
		}
		seen++;
	}
	closedir(d);
	CU_ASSERT_EQUAL(seen, (int)N_GOLDENS);
}

static CU_TestInfo tests[] = {
	{ "unquote", test_unquote },
	{ "files", test_files },
	{ "simulate-table", test_simulate_table },
	{ "simulate-json", test_simulate_json },
	{ "simulate-cols", test_simulate_cols },
	{ "simulate-raw", test_simulate_raw },
	{ "simulate-monthly", test_simulate_monthly },
	{ "help-first-lines", test_help_first_lines },
	{ "bad-args", test_bad_args },
	{ "no-shadowd", test_no_shadowd },
	CU_TEST_INFO_NULL,
};

const struct unit_suite ctl_suite = { "ctl", tests };
