/* Host paths checked against the places the sandbox can write: a lookup is
 * only as trustworthy as every directory it passes through, so each one is
 * compared, by identity, with the sandbox-writable places and their
 * subtrees (walking up through ".." from the directory actually opened). */
#define _GNU_SOURCE
#include "util/pathsafe.h"

#include <errno.h>
#include <stdint.h>
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

static int mnt_id_of(int fd, uint64_t *id)
{
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0)
		return -errno;
	if (!(sx.stx_mask & STATX_MNT_ID))
		return -ENOSYS;
	*id = sx.stx_mnt_id;
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* The root (inside its file system) and mount point of mount id. */
static int mount_lookup(uint64_t id, char **root, char **mpoint)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *fld[5];
		int k;
		for (k = 0; k < 5; k++) {
			fld[k] = strtok_r(k ? NULL : line, " \n", &save);
			if (!fld[k])
				break;
		}
		if (k < 5 || strtoull(fld[0], NULL, 10) != id)
			continue;
		unescape(fld[3]);
		unescape(fld[4]);
		*root = strdup(fld[3]);
		*mpoint = strdup(fld[4]);
		if (!*root || !*mpoint) {
			free(*root);
			free(*mpoint);
			return -ENOMEM;
		}
		return 0;
	}
	return -ENOENT;
}

static bool path_within(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);
	if (!strcmp(prefix, "/"))
		return path[0] == '/';
	return strncmp(prefix, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int al_place_locate(struct al_place *place)
{
	_cleanup_free_ char *root = NULL, *mp = NULL;
	char proc[64], p[PATH_MAX];
	const char *rel;
	uint64_t id;
	ssize_t k;
	int r;

	place->fs_path = NULL;
	if (place->fd < 0)
		return -EBADF;
	r = mnt_id_of(place->fd, &id);
	if (r < 0)
		return r;
	r = mount_lookup(id, &root, &mp);
	if (r < 0)
		return r;
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", place->fd);
	k = readlink(proc, p, sizeof p - 1);
	if (k < 0)
		return -errno;
	p[k] = '\0';
	if (!path_within(mp, p))
		return -EXDEV;
	rel = strcmp(mp, "/") == 0 ? p : p + strlen(mp);
	if (asprintf(&place->fs_path, "%s%s", strcmp(root, "/") == 0 && rel[0] ? "" : root, rel) <
	    0) {
		place->fs_path = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* cur is the root of its mount: is that mount a bind of a directory inside
 * a place (same file system, its root at or beneath the place's fs_path)? */
static int mount_root_inside(int cur, const struct stat *st, const struct al_place *places,
                             size_t n)
{
	_cleanup_free_ char *root = NULL, *mp = NULL;
	uint64_t id;

	if (mnt_id_of(cur, &id) < 0 || mount_lookup(id, &root, &mp) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (places[i].fs_path && places[i].dev == st->st_dev &&
		    path_within(places[i].fs_path, root))
			return (int)i;
	return -1;
}

static bool shares_fs(const struct stat *st, const struct al_place *places, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (places[i].fs_path && places[i].dev == st->st_dev)
			return true;
	return false;
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
		bool top;
		if (i >= 0)
			return i;
		nfd = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (nfd < 0)
			return -errno;
		if (fstat(nfd, &up) < 0) {
			close(nfd);
			return -errno;
		}
		top = up.st_dev == st.st_dev &&
		      up.st_ino == st.st_ino; /* the root is its own parent */
		if (shares_fs(&st, places, n)) {
			uint64_t a = 0, b = 0;
			if (top || (mnt_id_of(cur, &a) == 0 && mnt_id_of(nfd, &b) == 0 && a != b)) {
				i = mount_root_inside(cur, &st, places, n);
				if (i >= 0) {
					close(nfd);
					return i;
				}
			}
		}
		close(cur);
		cur = nfd;
		if (top)
			return -1;
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
		return al_error_set(
		    err, EPERM, "paths",
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
		return al_error_errno(err, "paths", "%s %s: opening the start of the lookup", what,
		                      path);

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
				return al_error_errno(err, "paths", "%s %s: looking up %s", what,
				                      path, tmp);
			if (!(flags & AL_PATH_CREATE))
				return 0; /* the rest is created later, beneath a checked directory
				           */
			if (mkdirat(cur, tmp, 0755) < 0 && errno != EEXIST)
				return al_error_errno(err, "paths", "%s %s: creating %s", what,
				                      path, tmp);
			if (fstatat(cur, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return al_error_errno(err, "paths", "%s %s: looking up %s", what,
				                      path, tmp);
		}
		if (S_ISLNK(st.st_mode)) {
			char *target = tmp + len + 1;
			size_t cap = 2 * PATH_MAX - len - 1;
			ssize_t k;
			if (++links > MAX_LINKS)
				return al_error_set(err, ELOOP, "paths", "%s %s", what, path);
			k = readlinkat(cur, tmp, target, cap);
			if (k < 0)
				return al_error_errno(err, "paths", "%s %s: reading link %s", what,
				                      path, tmp);
			if ((size_t)k + strlen(pend + pos) + 2 > cap ||
			    (size_t)k + strlen(pend + pos) + 2 > 2 * PATH_MAX)
				return al_error_set(err, ENAMETOOLONG, "paths", "%s %s", what,
				                    path);
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
				return al_error_set(err, ENOTDIR, "paths",
				                    "%s %s: %s is not a directory", what, path,
				                    tmp);
			/* the path names an existing non-directory: it may be a
			 * writable place itself (a file volume) */
			int i = match(&st, places, n);
			if (i >= 0)
				return al_error_set(err, EPERM, "paths",
				                    "%s %s is %s, which the sandbox can write",
				                    what, path, places[i].what);
			return 0;
		}
		{
			int nfd = openat(cur, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0)
				return al_error_errno(err, "paths", "%s %s: opening %s", what, path,
				                      tmp);
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
