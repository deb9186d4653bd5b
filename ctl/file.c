// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl: files written whole or not at all (a metrics file that
 * node_exporter reads at any moment, a diff bitmap a backup tool picks up).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shadowctl.h"

/*
 * A temporary file in the same directory, filled, fsync()ed and renamed
 * over @path, then the directory fsync()ed.  0, or -1 after printing why
 * (the temporary file is removed).
 */
int ctl_write_file(const char *cmd, const char *path, unsigned int mode,
		   int (*fill)(FILE *f, void *arg), void *arg)
{
	char *dcopy = strdup(path), *bcopy = strdup(path), *tmp = NULL;
	const char *dir, *base;
	int fd = -1, dfd, r, ret = -1;
	FILE *f = NULL;

	if (!dcopy || !bcopy)
		goto out;
	dir = dirname(dcopy);
	base = basename(bcopy);
	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, base) < 0) {
		tmp = NULL;
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		ctl_err("%s: %s: %s", cmd, tmp, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f)
		goto fail;
	fd = -1;
	if (fchmod(fileno(f), mode))
		goto fail;
	r = fill(f, arg);
	if (r) {
		errno = r < 0 ? -r : EIO;
		goto fail;
	}
	if (fflush(f) || ferror(f) || fsync(fileno(f)))
		goto fail;
	if (fclose(f)) {
		f = NULL;
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path))
		goto fail;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	ret = 0;
	goto out;
fail:
	ctl_err("%s: %s: %s", cmd, path, strerror(errno));
	unlink(tmp);
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(dcopy);
	free(bcopy);
	return ret;
}
