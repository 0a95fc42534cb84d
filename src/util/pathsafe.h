/* Host paths the supervisor opens, creates or copies to, checked against
 * the places the sandbox can write (rw volumes, the workspace): nothing the
 * sandbox can change may lie on such a path (docs/isolation.md, "What the
 * host trusts"). Places are compared by identity (st_dev, st_ino), walking
 * up the real parents of what was opened, never by string prefix. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

struct al_place {
	dev_t dev;
	ino_t ino;
	int fd;           /* O_PATH handle on it (directories), or -1 */
	const char *what; /* "rw volume /srv/data", "the workspace /home/u/task" */
	char *fs_path;    /* its path inside its file system (al_place_locate), or NULL */
};

/* Fill place->fs_path: where the place lies inside its file system, from
 * the mount it was opened on (/proc/self/mountinfo). With it, a directory
 * reached through a bind mount of a *subdirectory* of the place is known to
 * lie inside it too. 0 or -errno; the caller frees fs_path. */
int al_place_locate(struct al_place *place);

/* Index of the place that the directory at dirfd is, or lies beneath (its
 * parents are followed through ".." up to the root; at each mount crossed,
 * the mount's root inside its file system is compared with the places'
 * fs_path); -1 for none; -errno. */
int al_path_beneath(int dirfd, const struct al_place *places, size_t n);

/* Does the directory at dirfd contain place (is place dirfd or beneath it)?
 * 1, 0 or -errno; a place without a directory handle is looked at by its
 * identity only. */
int al_path_contains(int dirfd, const struct al_place *place);

/* Resolve path (absolute, or relative to the cwd) the way the kernel would,
 * following the caller's own symlinks, but check every directory a lookup
 * passes through -- and the object found at the end -- against places: a
 * lookup in a directory the sandbox can change could be redirected by it.
 * `what` names the path in messages ("--export", "log.path").
 *
 * AL_PATH_PARENT: resolve only the parent of the last component; *out is
 *   the parent directory (O_PATH) and *base a pointer into path at the last
 *   component (trailing slashes must have been removed by the caller).
 * AL_PATH_CREATE: create missing directories (0755) on the way.
 * Without AL_PATH_CREATE a missing component ends the walk: what exists is
 * checked, *out is -1 (nothing more to check: what is created later is
 * created beneath a checked directory). */
enum {
	AL_PATH_PARENT = 1,
	AL_PATH_CREATE = 2,
};
int al_path_resolve_checked(const char *path, int flags, const struct al_place *places, size_t n,
                            const char *what, int *out, const char **base, struct al_error *err);
