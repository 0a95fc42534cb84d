/* Idmapped mounts for rootful runs. The sandbox's ids map to an
 * unprivileged host range, so host files (owned by, say, the invoking user)
 * would appear as "nobody" inside and the workload could not work on its own
 * workspace. An idmapped bind mount shows the owner's files as owned by the
 * sandbox user, without changing anything on disk; what the sandbox creates
 * through it is the owner's on the host. Rootless runs need none: the
 * caller's own uid is the one mapped.
 *
 * The owner rule (docs/isolation.md): host uid 0 or gid 0 is never the
 * mapped owner of a volume unless the caller says owner=root. Otherwise a
 * read-write volume on a root-owned directory is refused (the sandbox would
 * write root's files on the host), and a read-only one is bound unmapped,
 * so root's files appear as nobody's: 0600 root files stay unreadable. */
#define _GNU_SOURCE
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fdutil.h"

/* A user namespace whose only mapping is owner -> the sandbox user's host id. */
static int make_idmap_userns(struct al_sandbox_plan *p, uid_t owner_uid, gid_t owner_gid,
			     struct al_error *err)
{
	struct clone_args args = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
	char path[64], map[64];
	int gate[2], fd, r = 0;
	long pid;

	if (pipe2(gate, O_CLOEXEC) < 0)
		return al_error_errno(err, "idmap", "pipe");
	pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0) {
		close(gate[0]);
		close(gate[1]);
		return al_error_errno(err, "idmap", "creating the id-mapping user namespace");
	}
	if (pid == 0) {
		char c;
		/* Hold the namespace open until the parent has taken a handle. */
		close(gate[1]);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(gate[0]);
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)owner_uid, p->host_uid + p->spec->uid);
	snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
	if (al_write_file_at(AT_FDCWD, path, map, strlen(map), 0, 0) < 0)
		r = al_error_errno(err, "idmap", "writing %s", path);
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)owner_gid, p->host_gid + p->spec->gid);
	snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
	if (r == 0 && al_write_file_at(AT_FDCWD, path, map, strlen(map), 0, 0) < 0)
		r = al_error_errno(err, "idmap", "writing %s", path);
	snprintf(path, sizeof path, "/proc/%ld/ns/user", pid);
	fd = r == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (r == 0 && fd < 0)
		r = al_error_errno(err, "idmap", "opening %s", path);
	close(gate[1]);
	waitpid((pid_t)pid, NULL, 0);
	if (r < 0)
		return r;
	p->idmap_userns_fd = fd;
	p->idmap_owner_uid = owner_uid;
	p->idmap_owner_gid = owner_gid;
	return 0;
}

int al_idmap_owner_rule(const char *host_path, uid_t uid, gid_t gid, bool rw, bool owner_root,
			struct al_error *err)
{
	if ((uid != 0 && gid != 0) || owner_root)
		return 1;
	if (!rw)
		return 0;
	return al_error_set(err, EPERM, "volumes",
			    "%s is owned by %s on the host: files the sandbox writes through a "
			    "read-write volume would be root's. Give the directory to an "
			    "unprivileged owner (chown), mount it read-only, or add the volume "
			    "option owner=root to accept root-owned files",
			    host_path, uid == 0 ? "root (uid 0)" : "group root (gid 0)");
}

int al_idmap_mount(struct al_sandbox_plan *p, const char *host_path, uint64_t attrs,
		   bool owner_root, struct al_error *err)
{
	struct mount_attr attr = {0};
	struct stat st;
	int fd, r;

	if (p->n_move_fds >= AL_MAX_MOVE_FDS)
		return al_error_set(err, E2BIG, "idmap", "too many mapped volumes (at most %d)",
				    AL_MAX_MOVE_FDS);
	fd = (int)syscall(SYS_open_tree, AT_FDCWD, host_path,
			  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (fd < 0)
		return al_error_errno(err, "idmap", "open_tree %s", host_path);
	/* The owner of what was cloned, not of whatever the path names now. */
	if (fstat(fd, &st) < 0) {
		r = al_error_errno(err, "idmap", "%s", host_path);
		close(fd);
		return r;
	}
	r = al_idmap_owner_rule(host_path, st.st_uid, st.st_gid, !(attrs & MOUNT_ATTR_RDONLY),
				owner_root, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (r == 1 && p->idmap_userns_fd >= 0 &&
	    (st.st_uid != p->idmap_owner_uid || st.st_gid != p->idmap_owner_gid)) {
		close(p->idmap_userns_fd);
		p->idmap_userns_fd = -1;
	}
	if (r == 1 && p->idmap_userns_fd < 0) {
		r = make_idmap_userns(p, st.st_uid, st.st_gid, err);
		if (r < 0) {
			close(fd);
			return r;
		}
		r = 1;
	}
	/* r == 0: a read-only volume of root's, bound with no mapping at all */
	attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | attrs | (r == 1 ? MOUNT_ATTR_IDMAP : 0);
	attr.userns_fd = r == 1 ? (uint64_t)p->idmap_userns_fd : 0;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
		int e = errno;
		close(fd);
		return al_error_set(err, e, "idmap",
				    "idmapping %s (the filesystem must support idmapped mounts)", host_path);
	}
	p->move_fds[p->n_move_fds] = fd;
	return (int)p->n_move_fds++;
}
