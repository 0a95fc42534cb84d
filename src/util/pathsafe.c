/* Host paths checked against the places the sandbox can write: a lookup is
 * only as trustworthy as every directory it passes through, so each one is
 * compared, by identity, with the sandbox-writable places and their
 * subtrees (walking up through ".." from the directory actually opened). */
#define _GNU_SOURCE
#include "util/pathsafe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

#define MAX_UP 4096  /* parents walked before giving up (fail closed) */
#define MAX_LINKS 40 /* as the kernel's own limit */

static int match(const struct stat *st, const struct al_place *places, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (st->st_dev == places[i].dev && st->st_ino == places[i].ino)
			return (int)i;
	return -1;
}

int al_path_beneath(int dirfd, const struct al_place *places, size_t n)
{
	_cleanup_close_ int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	struct stat st, up;

	if (cur < 0)
		return -errno;
	if (fstat(cur, &st) < 0)
		return -errno;
	for (int depth = 0; depth < MAX_UP; depth++) {
		int i = match(&st, places, n), nfd;
		if (i >= 0)
			return i;
		nfd = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (nfd < 0)
			return -errno;
		if (fstat(nfd, &up) < 0) {
			close(nfd);
			return -errno;
		}
		close(cur);
		cur = nfd;
		if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
			return -1; /* the root is its own parent */
		st = up;
	}
	return -ELOOP;
}

int al_path_contains(int dirfd, const struct al_place *place)
{
	struct stat st;
	struct al_place me;
	int r;

	if (fstat(dirfd, &st) < 0)
		return -errno;
	me = (struct al_place){.dev = st.st_dev, .ino = st.st_ino, .fd = -1};
	if (place->dev == me.dev && place->ino == me.ino)
		return 1;
	if (place->fd < 0)
		return 0;
	r = al_path_beneath(place->fd, &me, 1);
	return r < -1 ? r : r == 0;
}

/* Check the directory a lookup is about to happen in. */
static int check_dir(int cur, const struct al_place *places, size_t n, const char *what,
		     const char *path, struct al_error *err)
{
	int i = al_path_beneath(cur, places, n);
	if (i < -1)
		return al_error_set(err, -i, "paths", "%s %s: checking where it lies", what, path);
	if (i >= 0)
		return al_error_set(err, EPERM, "paths",
				    "%s %s lies inside %s, which the sandbox can write: the workload could "
				    "redirect it; choose a path outside every rw volume and the workspace",
				    what, path, places[i].what);
	return 0;
}

int al_path_resolve_checked(const char *path, int flags, const struct al_place *places, size_t n,
			    const char *what, int *out, const char **base, struct al_error *err)
{
	_cleanup_free_ char *pend = NULL, *tmp = NULL;
	_cleanup_close_ int cur = -1;
	size_t pos = 0;
	int links = 0, r;

	*out = -1;
	if (base)
		*base = NULL;
	if (path == NULL || !path[0])
		return al_error_set(err, EINVAL, "paths", "%s: empty path", what);
	pend = malloc(2 * PATH_MAX);
	tmp = malloc(2 * PATH_MAX);
	if (!pend || !tmp)
		return al_error_set(err, ENOMEM, "paths", "%s %s", what, path);
	if (strlen(path) >= PATH_MAX)
		return al_error_set(err, ENAMETOOLONG, "paths", "%s %s", what, path);
	strcpy(pend, path);
	if (flags & AL_PATH_PARENT) {
		char *slash = strrchr(pend, '/');
		const char *b = slash ? slash + 1 : pend;
		if (!b[0] || !strcmp(b, ".") || !strcmp(b, ".."))
			return al_error_set(err, EINVAL, "paths",
					    "%s %s: the last component must be a name", what, path);
		if (base)
			*base = path + (b - pend);
		if (slash)
			slash[slash == pend ? 1 : 0] = '\0'; /* "/x" -> "/", "/a/x" -> "/a" */
		else
			strcpy(pend, ".");
	}
	cur = open(pend[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return al_error_errno(err, "paths", "%s %s: opening the start of the lookup", what, path);

	for (;;) {
		char *comp;
		size_t len;
		struct stat st;

		while (pend[pos] == '/')
			pos++;
		if (!pend[pos])
			break;
		comp = pend + pos;
		len = strcspn(comp, "/");
		pos += len;
		/* comp is NUL-terminated in tmp, the rest stays in pend */
		memcpy(tmp, comp, len);
		tmp[len] = '\0';
		r = check_dir(cur, places, n, what, path, err);
		if (r < 0)
			return r;
		if (!strcmp(tmp, "."))
			continue;
		if (fstatat(cur, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				return al_error_errno(err, "paths", "%s %s: looking up %s", what, path, tmp);
			if (!(flags & AL_PATH_CREATE))
				return 0; /* the rest is created later, beneath a checked directory */
			if (mkdirat(cur, tmp, 0755) < 0 && errno != EEXIST)
				return al_error_errno(err, "paths", "%s %s: creating %s", what, path, tmp);
			if (fstatat(cur, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return al_error_errno(err, "paths", "%s %s: looking up %s", what, path, tmp);
		}
		if (S_ISLNK(st.st_mode)) {
			char *target = tmp + len + 1;
			size_t cap = 2 * PATH_MAX - len - 1;
			ssize_t k;
			if (++links > MAX_LINKS)
				return al_error_set(err, ELOOP, "paths", "%s %s", what, path);
			k = readlinkat(cur, tmp, target, cap);
			if (k < 0)
				return al_error_errno(err, "paths", "%s %s: reading link %s", what, path, tmp);
			if ((size_t)k + strlen(pend + pos) + 2 > cap || (size_t)k + strlen(pend + pos) + 2 > 2 * PATH_MAX)
				return al_error_set(err, ENAMETOOLONG, "paths", "%s %s", what, path);
			target[k] = '\0';
			strcat(target, "/");
			strcat(target, pend + pos);
			memmove(pend, target, strlen(target) + 1);
			pos = 0;
			if (pend[0] == '/') {
				close(cur);
				cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (cur < 0)
					return al_error_errno(err, "paths", "%s %s", what, path);
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			size_t q = pos;
			while (pend[q] == '/')
				q++;
			if (pend[q])
				return al_error_set(err, ENOTDIR, "paths", "%s %s: %s is not a directory",
						    what, path, tmp);
			/* the path names an existing non-directory: it may be a
			 * writable place itself (a file volume) */
			int i = match(&st, places, n);
			if (i >= 0)
				return al_error_set(err, EPERM, "paths", "%s %s is %s, which the sandbox can write",
						    what, path, places[i].what);
			return 0;
		}
		{
			int nfd = openat(cur, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0)
				return al_error_errno(err, "paths", "%s %s: opening %s", what, path, tmp);
			close(cur);
			cur = nfd;
		}
	}
	r = check_dir(cur, places, n, what, path, err);
	if (r < 0)
		return r;
	*out = TAKE_FD(cur);
	return 0;
}
