/* The sandbox init: pid 1 of the sandbox's pid namespace. It builds the
 * sandbox around itself as a fixed, ordered list of steps, then forks and
 * execs the workload, reaps zombies, forwards signals, and reports the
 * workload's exit to the supervisor. Runs between clone and exec: syscalls
 * only (everything it needs was precomputed in the plan). */
#define _GNU_SOURCE
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/magic.h>

#include "sandbox/landlock.h"
#include "util/cleanup.h"
#include "util/proctitle.h"
#include "sandbox/rlimits.h"
#include "sandbox/seccomp.h"

struct init_ctx {
	const struct al_sandbox_plan *plan;
	struct al_error err;
	int upper_fd;     /* workspace overlay upper dir, for the supervisor */
	int listener_fd;  /* seccomp user-notification listener, for the supervisor */
	int disk_fds[AL_MAX_DISK_AREAS]; /* writable areas, for the supervisor */
	int root_fd;      /* sessions: the sandbox's root, for `airlock cp` */
	int tty_slave;    /* plan->terminal: the workload's terminal, or -1 */
	int canary_fds[AL_MAX_CANARIES]; /* planted canaries (O_PATH), for the supervisor */
	int egress_fds[AL_EGRESS_NFDS];  /* proxy mode: the proxy's sockets, for the supervisor */
	int cg_fds[AL_MAX_CGROUP_TASKS_FDS]; /* v1: the run's cgroup "tasks" files */
	int n_cg_fds;
	int gvtrace_fd;   /* gVisor tier: the trace socket (listening), for the supervisor */
};

#define SYNC_FD 3

static void send_msg(const struct al_msg *m)
{
	while (send(SYNC_FD, m, sizeof *m, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

__attribute__((noreturn)) static void fail(struct init_ctx *c, int stage)
{
	struct al_msg m = {.type = AL_MSG_ERROR, .stage = stage, .err = c->err.code};
	snprintf(m.text, sizeof m.text, "%s", c->err.msg);
	send_msg(&m);
	_exit(AL_EXIT_SETUP_STATUS);
}

/* The supervisor going away must take the sandbox with it. The setting is
 * cleared by every credential change, so it is set again after each. */
static int ensure_supervisor_alive(struct init_ctx *c)
{
	struct pollfd p = {.fd = SYNC_FD, .events = POLLIN};
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return al_error_errno(&c->err, "init", "setting the parent-death signal");
	/* Died before the line above? Then its end of the socket is closed. */
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
		return al_error_set(&c->err, ESRCH, "init", "the supervisor is gone");
	return 0;
}

/* ---- the steps --------------------------------------------------------- */

/* Wait until the supervisor has written our uid/gid maps: nothing below may
 * run as an unmapped process. */
static int step_wait_for_supervisor(struct init_ctx *c)
{
	char go = 0;
	ssize_t n;
	int r = ensure_supervisor_alive(c);
	if (r < 0)
		return r;
	do
		n = read(SYNC_FD, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || go != AL_GO)
		return al_error_set(&c->err, n < 0 ? errno : ECONNRESET, "init", "waiting for the supervisor");
	return 0;
}

/* The second go: the supervisor is ready to supervise (the rules' monitor
 * open, the proxy started in proxy mode; on v2 we were born in the run's
 * cgroup, on v1 we moved ourselves in first thing, and on kernels without
 * CLONE_INTO_CGROUP the supervisor has placed us by now), so the workload
 * and everything it forks start under the limits and the rules. */
static int step_wait_for_cgroup(struct init_ctx *c)
{
	char go = 0;
	struct iovec iov = {.iov_base = &go, .iov_len = 1};
	char cbuf[CMSG_SPACE(sizeof(int) * AL_MAX_CGROUP_TASKS_FDS)];
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	                    .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm;
	ssize_t n;

	c->n_cg_fds = 0;
	do
		n = recvmsg(SYNC_FD, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
			if (c->n_cg_fds < AL_MAX_CGROUP_TASKS_FDS)
				c->cg_fds[c->n_cg_fds++] = fd;
			else
				close(fd);
		}
	}
	if (n != 1 || go != AL_GO_WORKLOAD || (mh.msg_flags & MSG_CTRUNC))
		return al_error_set(&c->err, n < 0 ? errno : ECONNRESET, "init",
				    "waiting for the supervisor to place the sandbox in its cgroup");
	return 0;
}

/* v1 cgroups: the second go came with the run's "tasks" files (one per
 * hierarchy); writing "0" to each moves us -- before we fork anything, so
 * the workload and all it forks are born inside. A task moving itself is
 * exempt from the kernel's global lock whose first writer waits for an RCU
 * grace period (3-13 ms here), which the supervisor writing our pid to
 * cgroup.procs paid on the path to the workload's start. The kernel checks
 * the write against the credentials that opened the file (the
 * supervisor's). A failure stops the run before the workload exists. */
static int step_enter_cgroup(struct init_ctx *c)
{
	int r = 0;

	for (int i = 0; i < c->n_cg_fds; i++) {
		ssize_t w;
		do
			w = write(c->cg_fds[i], "0", 1);
		while (w < 0 && errno == EINTR);
		if (w != 1 && r == 0)
			r = al_error_set(&c->err, w < 0 ? errno : EIO, "cgroup",
			                 "moving the sandbox init into the run's cgroup");
		close(c->cg_fds[i]);
	}
	c->n_cg_fds = 0;
	return r;
}

/* Become the namespace's root, so setup runs as a mapped id: rootful, our
 * host uid 0 is deliberately not in the map, so until this call we would
 * still be host root to the kernel -- after it we never are again. Also a
 * new session: nothing inside shares the caller's terminal session. */
static int step_identity(struct init_ctx *c)
{
	const struct al_sandbox_plan *p = c->plan;
	if (!p->rootless) {
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			return al_error_errno(&c->err, "init", "becoming root of the user namespace");
	}
	if (setsid() < 0)
		return al_error_errno(&c->err, "init", "setsid");
	return ensure_supervisor_alive(c);
}

static int step_mounts(struct init_ctx *c)
{
	return al_rootfs_child_setup(c->plan, &c->err);
}

/* Take a handle on the workspace's upper layer before the pivot detaches
 * it: the supervisor reads the workload's changes through it afterwards. */
static int step_workspace_handle(struct init_ctx *c)
{
	if (!c->plan->want_upper_fd)
		return 0;
	c->upper_fd = open("/ws/upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->upper_fd < 0)
		return al_error_errno(&c->err, "workspace", "opening the overlay upper layer");
	return 0;
}

/* Enter the new root and detach everything else: the staging tmpfs and,
 * under it, the whole host mount tree. */
static int step_pivot(struct init_ctx *c)
{
	if (chdir(AL_NEWROOT) < 0)
		return al_error_errno(&c->err, "pivot", "chdir %s", AL_NEWROOT);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return al_error_errno(&c->err, "pivot", "pivot_root into the new root");
	if (umount2(".", MNT_DETACH) < 0)
		return al_error_errno(&c->err, "pivot", "detaching the old root");
	if (chdir("/") < 0)
		return al_error_errno(&c->err, "pivot", "chdir /");
	if (chdir(c->plan->workdir) < 0)
		return al_error_errno(&c->err, "pivot", "working directory %s", c->plan->workdir);
	return 0;
}

static int step_hostname(struct init_ctx *c)
{
	const char *h = c->plan->spec->hostname;
	if (sethostname(h, strlen(h)) < 0)
		return al_error_errno(&c->err, "hostname", "sethostname %s", h);
	return 0;
}

/* plan->terminal: a pty of the sandbox's own devpts (mounted newinstance
 * by the mount steps; never a link: /dev/pts/ptmx itself, checked to be a
 * devpts multiplexer), its slave kept for the workload, its master sent to
 * the supervisor, which hands it to the caller (runc's --console-socket)
 * and keeps no copy. After the egress handover (the supervisor reads that
 * message first), while we may still give the slave to the workload's
 * user. */
static int step_terminal(struct init_ctx *c)
{
	struct al_msg m = {.type = AL_MSG_TERMINAL};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm;
	struct statfs sf;
	int master, unlock = 0;

	if (!c->plan->terminal)
		return 0;
	master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
	if (master < 0)
		return al_error_errno(&c->err, "terminal", "opening /dev/pts/ptmx");
	if (fstatfs(master, &sf) < 0 || sf.f_type != DEVPTS_SUPER_MAGIC || ioctl(master, TIOCSPTLCK, &unlock) < 0 ||
	    (c->tty_slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		close(master);
		return al_error_errno(&c->err, "terminal", "making the workload's terminal");
	}
	if (fchown(c->tty_slave, c->plan->spec->uid, c->plan->spec->gid) < 0) {
		/* cosmetic: the descriptor is the workload's whatever its owner */
	}
	memset(cbuf, 0, sizeof cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof master);
	while (sendmsg(SYNC_FD, &mh, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(master);
			errno = e;
			return al_error_errno(&c->err, "terminal", "handing the terminal over");
		}
	}
	close(master);
	return 0;
}

/* While we still hold CAP_NET_ADMIN (and CAP_NET_BIND_SERVICE) over our
 * network namespace: after the capability drop nobody inside ever can
 * change its rules or take the proxy's ports. */
static int step_network(struct init_ctx *c)
{
	return al_netns_child_setup(c->plan, c->egress_fds, &c->err);
}

/* Proxy mode: the proxy's listening sockets go to the supervisor at once,
 * in a message of their own: it starts the proxy with them before it lets
 * the workload start, and we keep no copy. */
static int step_egress_handover(struct init_ctx *c)
{
	struct al_msg m = {.type = AL_MSG_EGRESS_FDS};
	char cbuf[CMSG_SPACE(sizeof c->egress_fds)];
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	int i, fds[AL_EGRESS_NFDS], n = 0;

	if (!c->plan->egress)
		return 0;
	for (i = 0; i < AL_EGRESS_NFDS; i++) {
		if (c->egress_fds[i] < 0)
			continue;
		m.text[n] = (char)('0' + i);
		fds[n++] = c->egress_fds[i];
	}
	m.status = n;
	memset(cbuf, 0, sizeof cbuf);
	mh.msg_control = cbuf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	if (sendmsg(SYNC_FD, &mh, MSG_NOSIGNAL) < 0)
		return al_error_errno(&c->err, "network", "handing the egress sockets to the supervisor");
	for (i = 0; i < AL_EGRESS_NFDS; i++) {
		if (c->egress_fds[i] >= 0)
			close(c->egress_fds[i]);
		c->egress_fds[i] = -1;
	}
	return 0;
}

/* chaos.clock.offset: the workload's monotonic and boottime clocks run
 * ahead (or behind) by the offset. clone3(CLONE_NEWTIME) put us in a time
 * namespace whose offsets froze when we entered it, so a fresh one is made
 * here for our children only (unshare: the caller stays where it is), and
 * its offsets are written before any process enters it -- the workload is
 * the first, at fork. Needs CAP_SYS_ADMIN (unshare) and CAP_SYS_TIME over
 * our user namespace: before the capability drop; after the pivot, since
 * /proc is the sandbox's own then. */
static int step_clock_offset(struct init_ctx *c)
{
	int64_t off = c->plan->spec->chaos.clock_offset_ns;
	long long sec = off / 1000000000LL, nsec = off % 1000000000LL;
	char buf[128];
	int fd, n, dumpable;

	if (off == 0)
		return 0;
	if (nsec < 0) { /* the kernel wants 0 <= nsec < 1e9 */
		nsec += 1000000000LL;
		sec -= 1;
	}
	if (unshare(CLONE_NEWTIME) < 0)
		return al_error_errno(&c->err, "clock", "unshare(CLONE_NEWTIME)");
	/* Our /proc/self files belong to the global root while we are not
	 * dumpable (the id change made us so), and no capability inside
	 * covers that owner: dumpable for the open only. No other process
	 * exists in the sandbox yet, and step_drop_privileges ends it again. */
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	prctl(PR_SET_DUMPABLE, dumpable > 0 ? dumpable : 0, 0, 0, 0);
	if (fd < 0)
		return al_error_errno(&c->err, "clock", "opening /proc/self/timens_offsets");
	n = snprintf(buf, sizeof buf, "monotonic %lld %lld\nboottime %lld %lld\n", sec, nsec, sec,
	             nsec);
	if (write(fd, buf, (size_t)n) != n) {
		int e = errno;
		close(fd);
		return al_error_set(&c->err, e, "clock", "writing the time namespace offsets: %s",
		                    strerror(e));
	}
	close(fd);
	return 0;
}

/* Limits before the privilege drop: lowering needs no privilege, but the
 * values must be in place before anything runs under them. */
static int step_rlimits(struct init_ctx *c)
{
	return al_rlimits_child_setup(&c->plan->spec->limits, &c->err);
}

static int step_drop_privileges(struct init_ctx *c)
{
	/* A rootful session's init stays root of the user namespace with a
	 * small set of capabilities that only reach the sandbox's own ids, so
	 * that it can start `--user root` (and other users') commands; every
	 * command takes its identity when forked (session_cmd_child). */
	int r = c->plan->session && !c->plan->rootless ? al_caps_child_setup_session_root(c->plan, &c->err)
						       : al_caps_child_setup(c->plan, &c->err);
	if (r < 0)
		return r;
	/* Non-dumpable: the workload runs as the same uid, and must not reach
	 * pid 1's memory or fds through /proc/1 or ptrace. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return al_error_errno(&c->err, "caps", "PR_SET_DUMPABLE");
	return ensure_supervisor_alive(c);
}

/* no_new_privs: no exec can ever grant privilege again (setuid bits, file
 * caps); also the precondition for unprivileged Landlock and seccomp. */
static int step_no_new_privs(struct init_ctx *c)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return al_error_errno(&c->err, "nnp", "PR_SET_NO_NEW_PRIVS");
	return 0;
}

static int step_landlock(struct init_ctx *c)
{
	if (c->plan->landlock == NULL)
		return 0;
	return al_landlock_child_setup(c->plan->landlock, &c->err);
}

/* Last: after it, the init itself is confined to the allowlist too. */
static int step_seccomp(struct init_ctx *c)
{
	if (c->plan->seccomp == NULL)
		return 0;
	return al_seccomp_child_setup(c->plan->seccomp, &c->listener_fd, &c->err);
}

/* Handles on the writable tmpfs areas, so the supervisor can see from
 * outside when one fills up (a `limit` event). O_PATH: no access to the
 * content, only fstatfs. Taken right after the pivot, while the paths are
 * ours alone. */
static int step_disk_handles(struct init_ctx *c)
{
	const struct al_sandbox_plan *p = c->plan;
	size_t i;
	for (i = 0; i < p->n_disk_areas; i++) {
		c->disk_fds[i] = open(p->disk_areas[i], O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (c->disk_fds[i] < 0)
			return al_error_errno(&c->err, "init", "opening %s", p->disk_areas[i]);
	}
	return 0;
}

/* Sessions: a handle on the sandbox's root, so `airlock cp` can resolve
 * paths from it (openat2 RESOLVE_IN_ROOT) as the sandbox sees them. O_PATH:
 * the supervisor reads and writes nothing through it itself; its copy
 * helper does, as the sandbox's user. Right after the pivot, the root is
 * the one every command will have (nothing inside can pivot again). */
static int step_root_handle(struct init_ctx *c)
{
	if (!c->plan->session && !c->plan->exec_server)
		return 0;
	c->root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->root_fd < 0)
		return al_error_errno(&c->err, "init", "opening the new root");
	return 0;
}

/* Hand the supervisor the descriptors it watches from outside; m.text
 * names each one's kind in order: L listener, U workspace upper layer,
 * D writable area (in plan->disk_areas order), C canary, R the root
 * (sessions). */
static int step_handover(struct init_ctx *c)
{
	struct al_msg m = {.type = AL_MSG_FDS};
	int fds[AL_MAX_HANDOVER_FDS], n = 0;
	char cbuf[CMSG_SPACE(sizeof fds)];
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	size_t i;

	if (c->listener_fd >= 0) {
		m.text[n] = 'L';
		fds[n++] = c->listener_fd;
	}
	if (c->upper_fd >= 0) {
		m.text[n] = 'U';
		fds[n++] = c->upper_fd;
	}
	if (c->gvtrace_fd >= 0) {
		m.text[n] = 'G';
		fds[n++] = c->gvtrace_fd;
	}
	for (i = 0; i < c->plan->n_disk_areas; i++) {
		m.text[n] = 'D';
		fds[n++] = c->disk_fds[i];
	}
	for (i = 0; i < c->plan->n_canaries; i++) {
		m.text[n] = 'C';
		fds[n++] = c->canary_fds[i];
	}
	if (c->root_fd >= 0) {
		m.text[n] = 'R';
		fds[n++] = c->root_fd;
	}
	if (n == 0)
		return 0;
	m.status = n;
	memset(cbuf, 0, sizeof cbuf);
	mh.msg_control = cbuf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	if (sendmsg(SYNC_FD, &mh, MSG_NOSIGNAL) < 0)
		return al_error_errno(&c->err, "init", "handing descriptors to the supervisor");
	while (n > 0)
		close(fds[--n]);
	c->listener_fd = c->upper_fd = c->root_fd = c->gvtrace_fd = -1;
	return 0;
}

/* mkdir -p the parents of path (inside the new root, before the workload
 * exists: nothing can race us), each new one the workload's, 0700. */
static int canary_parents(struct init_ctx *c, const char *path)
{
	char buf[4096];
	const struct al_spec *s = c->plan->spec;

	if (strlen(path) >= sizeof buf)
		return al_error_set(&c->err, ENAMETOOLONG, "canary", "%s", path);
	strcpy(buf, path);
	for (char *p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		struct stat st;
		*p = '\0';
		if (lstat(buf, &st) < 0) {
			if (errno != ENOENT || mkdir(buf, 0700) < 0 ||
			    lchown(buf, s->uid, s->gid) < 0)
				return al_error_errno(&c->err, "canary",
				                      "making %s for the canary %s (a canary must be "
				                      "in a writable area)",
				                      buf, path);
		} else if (!S_ISDIR(st.st_mode)) {
			return al_error_set(&c->err, ENOTDIR, "canary", "%s (for the canary %s)", buf,
			                    path);
		}
		*p = '/';
	}
	return 0;
}

/* Plant the canaries (plan->canaries) and keep an O_PATH handle on each. */
static int step_canaries(struct init_ctx *c)
{
	const struct al_sandbox_plan *p = c->plan;
	const struct al_spec *s = p->spec;

	for (size_t i = 0; i < p->n_canaries; i++) {
		const struct al_canary_file *cf = &p->canaries[i];
		size_t off = 0;
		int fd, r;

		r = canary_parents(c, cf->path);
		if (r < 0)
			return r;
		fd = open(cf->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return al_error_errno(&c->err, "canary",
			                      "creating the canary %s (it must be new, in a writable "
			                      "area)",
			                      cf->path);
		while (off < cf->len) {
			ssize_t w = write(fd, cf->content + off, cf->len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				close(fd);
				return al_error_errno(&c->err, "canary", "writing the canary %s",
				                      cf->path);
			}
			off += (size_t)w;
		}
		if (fchown(fd, s->uid, s->gid) < 0) {
			close(fd);
			return al_error_errno(&c->err, "canary", "chown %s", cf->path);
		}
		close(fd);
		c->canary_fds[i] = open(cf->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (c->canary_fds[i] < 0)
			return al_error_errno(&c->err, "canary", "opening %s", cf->path);
	}
	return 0;
}

struct init_step {
	int stage;
	int (*run)(struct init_ctx *c);
};

/* The order is the security argument:
 *  - nothing happens before the supervisor has mapped our ids, and the
 *    workload is not forked before it has placed us in the cgroup (our own
 *    setup overlaps with that placement);
 *  - the filesystem is built while we still hold CAP_SYS_ADMIN in the user
 *    namespace, and entered (pivot) before anything else touches paths;
 *  - limits, then the identity/capability drop, then no_new_privs;
 *  - Landlock needs no_new_privs; seccomp goes last, so the steps before it
 *    may use syscalls the workload must not, and the init itself ends up
 *    under the same filter as everything it will ever fork. */
static const struct init_step init_steps[] = {
	{AL_STAGE_WAIT, step_wait_for_supervisor},
	{AL_STAGE_IDENTITY_MAP, step_identity},
	{AL_STAGE_MOUNTS, step_mounts},
	{AL_STAGE_MOUNTS, step_workspace_handle},
	{AL_STAGE_PIVOT, step_pivot},
	{AL_STAGE_PIVOT, step_disk_handles},
	{AL_STAGE_PIVOT, step_root_handle},
	{AL_STAGE_PIVOT, step_canaries},
	{AL_STAGE_HOSTNAME, step_hostname},
	{AL_STAGE_NETWORK, step_network},
	{AL_STAGE_NETWORK, step_egress_handover},
	{AL_STAGE_PIVOT, step_terminal},
	{AL_STAGE_CLOCK, step_clock_offset},
	{AL_STAGE_RLIMITS, step_rlimits},
	{AL_STAGE_CAPS, step_drop_privileges},
	{AL_STAGE_NNP, step_no_new_privs},
	{AL_STAGE_LANDLOCK, step_landlock},
	{AL_STAGE_SECCOMP, step_seccomp},
	{AL_STAGE_INIT, step_handover},
	{AL_STAGE_WAIT, step_wait_for_cgroup},
	{AL_STAGE_CGROUP, step_enter_cgroup},
};

/* ---- the gVisor tier (plan->gvisor, sandbox/gvisor.c) -------------------
 * The same root, network and handover as above; then, instead of confining
 * ourselves and exec'ing the workload, we exec runsc on that root: gVisor's
 * kernel serves the workload's syscalls. runsc needs its capabilities in
 * our user namespace (it builds namespaces of its own, ptraces its stubs),
 * so airlock's own seccomp filter, Landlock and capability drop are not
 * installed on it: gVisor confines itself (its sentry and gofer run under
 * its own seccomp filters), and around it stay airlock's user, pid, mount,
 * network, ipc and uts namespaces and the cgroup. */

/* The disk handles and canaries are paths in the new root, which we do not
 * pivot into (runsc serves it): take them from inside it, then step back
 * out to the staging root through a handle on it. */
static int step_gvisor_root_handles(struct init_ctx *c)
{
	int r, old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (old < 0)
		return al_error_errno(&c->err, "gvisor", "opening the staging root");
	if (chroot(AL_NEWROOT) < 0 || chdir("/") < 0) {
		r = al_error_errno(&c->err, "gvisor", "entering %s", AL_NEWROOT);
		close(old);
		return r;
	}
	r = step_disk_handles(c);
	if (r == 0)
		r = step_canaries(c);
	if (fchdir(old) < 0 || chroot(".") < 0 || chdir("/") < 0) {
		close(old);
		return al_error_errno(&c->err, "gvisor", "leaving %s", AL_NEWROOT);
	}
	close(old);
	return r;
}

/* runsc sees only the staging root (its bundle, state, binary, /dev/null,
 * the sandbox's /proc) and the new root: the host's tree goes. */
static int step_gvisor_detach_host(struct init_ctx *c)
{
	if (umount2(AL_OLDROOT, MNT_DETACH) < 0)
		return al_error_errno(&c->err, "gvisor", "detaching the host root");
	if (rmdir(AL_OLDROOT) < 0)
		return al_error_errno(&c->err, "gvisor", "removing %s", AL_OLDROOT);
	if (chdir("/") < 0)
		return al_error_errno(&c->err, "gvisor", "chdir /");
	/* The workload cannot reach us (it is inside gVisor), but runsc runs
	 * as our uid: it has no business reading pid 1's memory either. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return al_error_errno(&c->err, "gvisor", "PR_SET_DUMPABLE");
	return ensure_supervisor_alive(c);
}

/* The remote sink of gVisor's trace points: runsc connects here (the
 * socket lives in the staging root, where runsc runs); the supervisor, which
 * cannot reach this path from its own mount namespace, gets the listening
 * socket itself and serves it. Bound before runsc exists, by us alone. */
static int step_gvisor_trace_socket(struct init_ctx *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return al_error_errno(&c->err, "gvisor", "trace socket");
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", AL_GVISOR_TRACE_SOCK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 2) < 0) {
		close(fd);
		return al_error_errno(&c->err, "gvisor", "binding %s", AL_GVISOR_TRACE_SOCK);
	}
	c->gvtrace_fd = fd;
	return 0;
}

/* runsc keeps what it needs to build its own sandbox (mounts, namespaces,
 * chroot, ids, ptrace, file ownership); nothing else goes past the exec.
 * Above all CAP_NET_ADMIN: the sandbox's network namespace holds the
 * redirect rules to airlock's proxy, and runsc (root of our user
 * namespace) would otherwise hold the power to change them -- a process
 * that escaped gVisor's sentry must not get it. After the network steps,
 * which needed it. */
static int step_gvisor_bound_caps(struct init_ctx *c)
{
	static const int drop[] = {
	    CAP_NET_ADMIN,     CAP_NET_RAW,        CAP_NET_BROADCAST, CAP_SYS_MODULE,
	    CAP_SYS_RAWIO,     CAP_SYS_TIME,       CAP_SYS_BOOT,      CAP_SYSLOG,
	    CAP_SYS_PACCT,     CAP_SYS_TTY_CONFIG, CAP_LINUX_IMMUTABLE, CAP_LEASE,
	    CAP_AUDIT_CONTROL, CAP_AUDIT_READ,     CAP_AUDIT_WRITE,   CAP_MAC_ADMIN,
	    CAP_MAC_OVERRIDE,  CAP_WAKE_ALARM,     CAP_BLOCK_SUSPEND, CAP_IPC_LOCK,
	    CAP_BPF,           CAP_PERFMON,
	};
	for (size_t i = 0; i < AL_ARRAY_SIZE(drop); i++)
		if (prctl(PR_CAPBSET_DROP, drop[i], 0, 0, 0) < 0 && errno != EINVAL)
			return al_error_errno(&c->err, "gvisor", "dropping capability %d from the bounding set",
					      drop[i]);
	return 0;
}

/* Same order argument as init_steps, minus the confinement of ourselves:
 * ids mapped first; root built while we hold CAP_SYS_ADMIN; handles taken
 * before the host is detached; no_new_privs (runsc needs no set-id exec);
 * runsc is exec'd only after the cgroup placement. */
static const struct init_step gvisor_steps[] = {
	{AL_STAGE_WAIT, step_wait_for_supervisor},
	{AL_STAGE_IDENTITY_MAP, step_identity},
	{AL_STAGE_MOUNTS, step_mounts},
	{AL_STAGE_MOUNTS, step_workspace_handle},
	{AL_STAGE_PIVOT, step_gvisor_root_handles},
	{AL_STAGE_HOSTNAME, step_hostname},
	{AL_STAGE_NETWORK, step_network},
	{AL_STAGE_NETWORK, step_egress_handover},
	{AL_STAGE_PIVOT, step_gvisor_detach_host},
	{AL_STAGE_INIT, step_gvisor_trace_socket},
	{AL_STAGE_CAPS, step_gvisor_bound_caps},
	{AL_STAGE_NNP, step_no_new_privs},
	{AL_STAGE_INIT, step_handover},
	{AL_STAGE_WAIT, step_wait_for_cgroup},
	{AL_STAGE_CGROUP, step_enter_cgroup},
};

/* ---- the workload ------------------------------------------------------ */

/* execvpe resolves with the caller's PATH, not the workload's: search the
 * sandbox's PATH ourselves, without allocating. */
static int exec_in_path(char *const *argv, char *const *envp, const char *path)
{
	const char *file = argv[0];
	const char *seg;
	char buf[PATH_MAX];
	int saved = ENOENT;

	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return errno;
	}
	for (seg = path; seg && *seg;) {
		const char *end = strchr(seg, ':');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);
		if (len > 0 && len + 1 + strlen(file) < sizeof buf) {
			memcpy(buf, seg, len);
			buf[len] = '/';
			strcpy(buf + len + 1, file);
			execve(buf, argv, envp);
			if (errno == EACCES || errno == ENOEXEC || errno == EPERM)
				saved = errno;
			else if (errno != ENOENT && errno != ENOTDIR && saved == ENOENT)
				saved = errno;
		}
		seg = end ? end + 1 : NULL;
	}
	return saved;
}

static int exec_workload(const struct al_sandbox_plan *p)
{
	if (p->gvisor) { /* runsc, which runs the workload inside gVisor */
		execve(p->gvisor_argv[0], p->gvisor_argv, p->gvisor_envp);
		return errno;
	}
	return exec_in_path(p->argv, p->envp, p->path_env);
}

__attribute__((noreturn)) static void workload_child(const struct al_sandbox_plan *p, int report_fd, int tty)
{
	sigset_t none;
	int sig, e;

	/* A fresh session with no controlling terminal: the workload can never
	 * push input into the caller's terminal (TIOCSTI and friends). */
	setsid();
	/* plan->terminal: its own pty (of the sandbox's devpts) is its stdio
	 * and controlling terminal; the caller holds the master */
	if (tty >= 0 && (dup2(tty, 0) < 0 || dup2(tty, 1) < 0 || dup2(tty, 2) < 0 || ioctl(0, TIOCSCTTY, 0) < 0)) {
		e = errno;
		while (write(report_fd, &e, sizeof e) < 0 && errno == EINTR)
			;
		_exit(126);
	}
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Dumpable again for the exec: the supervisor reads the exec's path and
	 * argv from this process's memory (seccomp listener), and a rootless
	 * supervisor may not read a non-dumpable process whose memory still
	 * belongs to the host user namespace. execve sets dumpability afresh
	 * from the new program, so this only opens the pre-exec window. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	e = exec_workload(p);
	while (write(report_fd, &e, sizeof e) < 0 && errno == EINTR)
		;
	_exit(127);
}

__attribute__((noreturn)) static void serve_workload_and_execs(struct init_ctx *c, pid_t pid);

__attribute__((noreturn)) static void supervise_workload(struct init_ctx *c, sigset_t *sigs)
{
	const struct al_sandbox_plan *p = c->plan;
	struct al_msg m = {0};
	int pipefd[2], e = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		al_error_errno(&c->err, "exec", "pipe");
		fail(c, AL_STAGE_EXEC);
	}
	/* fork, not vfork: tried, and after a vfork child's exec the init's
	 * memory was dumpable again here (6.18), so the workload could read
	 * /proc/1/environ -- the caller's environment. test_isolation's
	 * test_caller_env_secret_absent catches that. */
	pid = fork();
	if (pid < 0) {
		al_error_errno(&c->err, "exec", "fork");
		fail(c, AL_STAGE_EXEC);
	}
	if (pid == 0) {
		close(pipefd[0]);
		workload_child(p, pipefd[1], c->tty_slave);
	}
	close(pipefd[1]);
	/* EOF: the exec happened (the pipe is CLOEXEC); 4 bytes: its errno. */
	do
		n = read(pipefd[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof e) {
		m.type = AL_MSG_EXEC_FAILED;
		m.err = e;
		snprintf(m.text, sizeof m.text, "%s", p->argv[0]);
		send_msg(&m);
		waitpid(pid, NULL, 0);
		_exit(e == ENOENT ? 127 : 126);
	}
	m.type = AL_MSG_STARTED;
	m.status = pid;
	send_msg(&m);
	if (p->exec_server)
		serve_workload_and_execs(c, pid);

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(sigs, &si);
		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			int st;
			pid_t w;
			while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
				if (w != pid)
					continue;
				/* Our exit kills every other process in the namespace. */
				m.type = AL_MSG_EXITED;
				m.status = st;
				send_msg(&m);
				_exit(0);
			}
			continue;
		}
		/* Everything else the supervisor (or anyone) sends us goes to the
		 * workload: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2, ... */
		kill(pid, sig);
	}
}


/* ---- sessions: commands on request ------------------------------------ */

/* A session's init runs no workload: it waits, confined like any workload,
 * for the supervisor's requests and forks each command itself, so every
 * command inherits the seccomp filter, the Landlock domain, the identity
 * and the rlimits installed above. Static storage: the init never mallocs. */
#define SESSION_MAX_CMDS 256
static struct al_init_req session_req;
static bool session_dumpable_exec; /* rootless: see session_cmd_child */
static char *session_argv[AL_REQ_ARGS_MAX + 1];
static char *session_envp[AL_REQ_ARGS_MAX + 1];
static struct {
	pid_t pid;
	uint32_t id;
} session_cmds[SESSION_MAX_CMDS];

static void session_noop(int sig)
{
	(void)sig;
}

static void session_reply(uint32_t type, uint32_t id, int32_t status, int32_t e, const char *what)
{
	struct al_msg m = {.type = type, .stage = (int32_t)id, .status = status, .err = e};
	if (what)
		snprintf(m.text, sizeof m.text, "%s", what);
	send_msg(&m);
}

/* Split the request's data into argv, envp and the working directory; the
 * supervisor built it, but it is checked anyway (bounds, NULs, counts). */
static int session_parse(const struct al_init_req *q, const char **cwd, const char **path, const char **user)
{
	const char *p = q->data, *end = q->data + q->len;
	uint32_t i;

	if (q->len > sizeof q->data || q->argc == 0 || q->argc > AL_REQ_ARGS_MAX || q->envc > AL_REQ_ARGS_MAX)
		return -EINVAL;
	*path = NULL;
	for (i = 0; i < q->argc + q->envc + 2; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		if (p >= end || nul == NULL)
			return -EINVAL;
		if (i < q->argc) {
			session_argv[i] = (char *)p;
		} else if (i < q->argc + q->envc) {
			session_envp[i - q->argc] = (char *)p;
			if (strncmp(p, "PATH=", 5) == 0)
				*path = p + 5;
		} else if (i == q->argc + q->envc) {
			*cwd = p;
		} else {
			*user = p;
		}
		p = nul + 1;
	}
	session_argv[q->argc] = NULL;
	session_envp[q->envc] = NULL;
	return 0;
}

/* `--user`: "" the sandbox's own user; "root"; a uid; or a name in the
 * sandbox's own /etc/passwd (which root may have changed: read as hostile,
 * at most 256 KiB, strict fields). The gid is the passwd entry's, else the
 * uid's. Static buffer: no malloc in the init or its children. */
static char session_passwd[256 * 1024];

static bool parse_id(const char *p, size_t n, uint32_t *out)
{
	uint32_t v = 0;
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = v;
	return true;
}

static int session_resolve_user(const struct al_sandbox_plan *plan, const char *user, uid_t *uid, gid_t *gid)
{
	uint32_t want_uid = 0;
	bool by_uid = parse_id(user, strlen(user), &want_uid);
	ssize_t n = 0;
	int fd;

	if (user[0] == '\0') {
		*uid = plan->spec->uid;
		*gid = plan->spec->gid;
		return 0;
	}
	fd = open("/etc/passwd", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		struct stat sb;
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
			while (n < (ssize_t)sizeof session_passwd - 1) {
				ssize_t k = read(fd, session_passwd + n, sizeof session_passwd - 1 - (size_t)n);
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					break;
				n += k;
			}
		close(fd);
	}
	for (const char *l = session_passwd, *end = session_passwd + n; l < end;) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		const char *le = nl ? nl : end, *f[4];
		size_t k = 0;
		f[0] = l;
		for (const char *q = l; q < le && k < 3; q++)
			if (*q == ':')
				f[++k] = q + 1;
		if (k == 3) {
			const char *uend = memchr(f[2], ':', (size_t)(le - f[2]));
			const char *gend = uend ? memchr(f[3], ':', (size_t)(le - f[3])) : NULL;
			uint32_t u, g;
			size_t namelen = (size_t)(f[1] - 1 - f[0]);
			if (gend && parse_id(f[2], (size_t)(uend - f[2]), &u) && parse_id(f[3], (size_t)(gend - f[3]), &g)) {
				if (by_uid ? u == want_uid : (namelen == strlen(user) && memcmp(f[0], user, namelen) == 0)) {
					*uid = u;
					*gid = g;
					return 0;
				}
			}
		}
		l = le + 1;
	}
	if (by_uid) {
		*uid = *gid = want_uid;
		return 0;
	}
	if (strcmp(user, "root") == 0) {
		*uid = *gid = 0;
		return 0;
	}
	return -ENOENT;
}

/* The command's process: its own session and process group (a per-command
 * kill reaches everything it started that did not leave the group), stdio
 * from the supervisor's pipes, nothing else. Reports a failure to start as
 * {what, errno} on report_fd (CLOEXEC: EOF means the exec happened). */
__attribute__((noreturn)) static void session_cmd_child(const struct al_sandbox_plan *plan, int fds[3],
							int report_fd, const char *cwd, const char *path,
							const char *user, bool tty)
{
	sigset_t none;
	int sig, rep[2] = {0, 0};
	uid_t uid;
	gid_t gid;

	setsid();
	/* Beside a workload (exec_server) the init has the workload's identity
	 * and no capabilities: so has every command, and no other is asked
	 * (the supervisor refuses one; refused here again). */
	if (plan->exec_server && user[0]) {
		rep[0] = 2;
		rep[1] = EPERM;
		goto fail;
	}
	/* Its identity first (rootful: the init is root of the namespace;
	 * rootless there is one uid, checked by the supervisor). */
	if (plan->session && !plan->rootless) {
		int r = session_resolve_user(plan, user, &uid, &gid);
		if (r == 0)
			r = al_caps_become(uid, gid);
		if (r < 0) {
			rep[0] = 2;
			rep[1] = -r;
			goto fail;
		}
	}
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	if (fds[0] < 0)
		fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fds[0] < 0 || dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[2], 2) < 0) {
		rep[1] = errno;
		goto fail;
	}
	/* -t: the pty (from the sandbox's own devpts) becomes the controlling
	 * terminal of the command's new session */
	if (tty && ioctl(0, TIOCSCTTY, 0) < 0) {
		rep[1] = errno;
		goto fail;
	}
	/* Everything else the init holds (the setup socket, the pipes' spare
	 * copies) is CLOEXEC already; make sure of it before the exec. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (cwd[0] && chdir(cwd) < 0) {
		rep[0] = 1;
		rep[1] = errno;
		goto fail;
	}
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Unlike the workload of a run, this command is born while other
	 * processes of the sandbox run, as the same uid: while it is dumpable
	 * they could read its memory (a copy of the init's) through
	 * /proc/PID/mem. So it stays non-dumpable where the supervisor can
	 * read it anyway (rootful: the supervisor has CAP_SYS_PTRACE over the
	 * memory's user namespace). Rootless, the supervisor needs it dumpable
	 * to read the exec's arguments; the init's copy of the supervisor's
	 * secrets was wiped at its start (al_init_main), and execve resets
	 * dumpability from the new program. */
	if (session_dumpable_exec)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	rep[1] = exec_in_path(session_argv, session_envp, path ? path : "/usr/bin:/bin");
fail:
	while (write(report_fd, rep, sizeof rep) < 0 && errno == EINTR)
		;
	_exit(127);
}

static void session_exec(struct init_ctx *c, int fds[3])
{
	const struct al_init_req *q = &session_req;
	const char *cwd = "", *path = NULL, *user = "";
	int rep[2] = {0, 0}, pipefd[2], slot = -1, i;
	ssize_t n;
	pid_t pid;

	for (i = 0; i < SESSION_MAX_CMDS; i++)
		if (session_cmds[i].pid == 0) {
			slot = i;
			break;
		}
	if (slot < 0) {
		session_reply(AL_MSG_CMD_FAILED, q->id, 0, EAGAIN, "too many commands at once");
		return;
	}
	if (session_parse(q, &cwd, &path, &user) < 0) {
		session_reply(AL_MSG_CMD_FAILED, q->id, 0, EINVAL, "malformed request");
		return;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		session_reply(AL_MSG_CMD_FAILED, q->id, 0, errno, "pipe");
		return;
	}
	pid = fork();
	if (pid < 0) {
		session_reply(AL_MSG_CMD_FAILED, q->id, 0, errno, "fork");
		close(pipefd[0]);
		close(pipefd[1]);
		return;
	}
	if (pid == 0) {
		close(pipefd[0]);
		session_cmd_child(c->plan, fds, pipefd[1], cwd, path, user, q->sig == AL_REQ_EXEC_TTY);
	}
	close(pipefd[1]);
	do
		n = read(pipefd[0], rep, sizeof rep);
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof rep) {
		waitpid(pid, NULL, 0);
		session_reply(AL_MSG_CMD_FAILED, q->id, 0, rep[1] ? rep[1] : ENOENT,
			      rep[0] == 1 ? "chdir" : rep[0] == 2 ? "user" : "exec");
		return;
	}
	session_cmds[slot].pid = pid;
	session_cmds[slot].id = q->id;
	session_reply(AL_MSG_CMD_STARTED, q->id, pid, 0, NULL);
}

static void session_kill(void)
{
	for (int i = 0; i < SESSION_MAX_CMDS; i++)
		if (session_cmds[i].pid > 0 && session_cmds[i].id == session_req.id) {
			/* the group first (what it started), then itself */
			kill(-session_cmds[i].pid, session_req.sig);
			kill(session_cmds[i].pid, session_req.sig);
		}
}

static void session_reap(void)
{
	int st;
	pid_t w;
	while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
		for (int i = 0; i < SESSION_MAX_CMDS; i++)
			if (session_cmds[i].pid == w) {
				session_reply(AL_MSG_CMD_EXITED, session_cmds[i].id, st, 0, NULL);
				session_cmds[i].pid = 0;
			}
		/* others are orphans adopted by pid 1 (nohup, daemons): reaped */
	}
}

/* One request from the supervisor (its descriptors are closed here
 * whatever happens); -1: the supervisor is gone. */
static int session_take_request(struct init_ctx *c)
{
	int fds[3] = {-1, -1, -1};
	char cbuf[CMSG_SPACE(sizeof fds)];
	struct iovec iov = {.iov_base = &session_req, .iov_len = sizeof session_req};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm;
	ssize_t n;

	n = recvmsg(SYNC_FD, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof fds))
			memcpy(fds, CMSG_DATA(cm), sizeof fds);
	if ((size_t)n < AL_REQ_HEADER_SIZE || session_req.len > (size_t)n - AL_REQ_HEADER_SIZE) {
		/* not from our supervisor's code: ignore */
	} else if (session_req.type == AL_REQ_EXEC && fds[1] >= 0 && fds[2] >= 0) {
		session_exec(c, fds);
	} else if (session_req.type == AL_REQ_KILL) {
		session_kill();
	}
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 0;
}

__attribute__((noreturn)) static void session_serve(struct init_ctx *c, sigset_t *all)
{
	struct sigaction sa;
	sigset_t wait_mask = *all;

	session_dumpable_exec = c->plan->rootless;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = session_noop;
	sigaction(SIGCHLD, &sa, NULL);
	/* SIGCHLD is delivered only inside ppoll, so a child's exit between
	 * the reap and the wait is never missed. */
	sigdelset(&wait_mask, SIGCHLD);
	session_reply(AL_MSG_SESSION_READY, 0, 0, 0, NULL);
	for (;;) {
		struct pollfd p = {.fd = SYNC_FD, .events = POLLIN};

		session_reap();
		if (ppoll(&p, 1, NULL, &wait_mask) < 0)
			continue;
		if (!(p.revents & POLLIN))
			_exit(0); /* the supervisor is gone: so is the sandbox */
		if (session_take_request(c) < 0)
			_exit(0);
	}
}

/* ---- a workload with exec requests beside it (OCI containers) ----------- */

/* Signals are taken by a handler that only notes them, and only while the
 * init waits in ppoll: a child's exit or a signal for the workload is
 * never missed between the checks and the wait. */
static volatile sig_atomic_t exec_server_pending[NSIG];

static void exec_server_note(int sig)
{
	if (sig > 0 && sig < NSIG)
		exec_server_pending[sig] = 1;
}

__attribute__((noreturn)) static void serve_workload_and_execs(struct init_ctx *c, pid_t pid)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	session_dumpable_exec = c->plan->rootless;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = exec_server_note;
	sigfillset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL); /* glibc's reserved ones fail: never ours */
	sigemptyset(&none);
	for (;;) {
		struct pollfd p = {.fd = SYNC_FD, .events = POLLIN};
		int st;
		pid_t w;

		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w == pid) {
				/* Our exit kills every other process in the namespace,
				 * the exec'd commands too (as runc's container ends
				 * with its init process). */
				struct al_msg m = {.type = AL_MSG_EXITED, .status = st};
				send_msg(&m);
				_exit(0);
			}
			for (int i = 0; i < SESSION_MAX_CMDS; i++)
				if (session_cmds[i].pid == w) {
					session_reply(AL_MSG_CMD_EXITED, session_cmds[i].id, st, 0, NULL);
					session_cmds[i].pid = 0;
				}
		}
		for (sig = 1; sig < NSIG; sig++)
			if (exec_server_pending[sig]) {
				exec_server_pending[sig] = 0;
				/* everything but SIGCHLD goes to the workload, as in
				 * supervise_workload */
				if (sig != SIGCHLD)
					kill(pid, sig);
			}
		if (ppoll(&p, 1, NULL, &none) < 0)
			continue;
		if (!(p.revents & POLLIN))
			_exit(0); /* the supervisor is gone: so is the sandbox */
		if (session_take_request(c) < 0)
			_exit(0);
	}
}

/* Arrange the descriptor table: 0-2 are the workload's stdio, 3 the setup
 * socket, and nothing else survives -- whatever the caller leaked into
 * airlock, and the supervisor's own fds, end here. */
static int setup_fds(struct init_ctx *c)
{
	const struct al_sandbox_plan *p = c->plan;
	int in, out, errfd, sync;

	in = p->stdin_fd >= 0 ? fcntl(p->stdin_fd, F_DUPFD_CLOEXEC, 10)
			      : open("/dev/null", O_RDONLY | O_CLOEXEC);
	out = fcntl(p->stdout_fd, F_DUPFD_CLOEXEC, 10);
	errfd = fcntl(p->stderr_fd, F_DUPFD_CLOEXEC, 10);
	sync = fcntl(p->sync_fd, F_DUPFD_CLOEXEC, 10);
	if (in < 0 || out < 0 || errfd < 0 || sync < 0)
		return -errno;
	int moved[AL_MAX_MOVE_FDS];
	size_t i;
	/* The parent's detached mounts go to fixed numbers after the sync fd;
	 * park them high first so no dup below can clobber one. */
	for (i = 0; i < p->n_move_fds; i++) {
		moved[i] = fcntl(p->move_fds[i], F_DUPFD_CLOEXEC, 200);
		if (moved[i] < 0)
			return -errno;
	}
	if (dup3(sync, SYNC_FD, O_CLOEXEC) < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(errfd, 2) < 0)
		return -errno;
	for (i = 0; i < p->n_move_fds; i++)
		if (dup3(moved[i], AL_MOVE_FD_BASE + (int)i, O_CLOEXEC) < 0)
			return -errno;
	if (syscall(SYS_close_range, AL_MOVE_FD_BASE + (unsigned)p->n_move_fds, ~0U, 0) < 0)
		return -errno;
	return 0;
}

void al_init_main(const struct al_sandbox_plan *plan)
{
	struct init_ctx c = {.plan = plan, .upper_fd = -1, .listener_fd = -1, .root_fd = -1, .gvtrace_fd = -1,
	                     .tty_slave = -1};
	sigset_t sigs;
	size_t i;

	/* Our memory is a copy of the supervisor's, its signing keys included.
	 * Nothing inside may ever read them: a session's commands are forked
	 * from us, and (rootless) each is dumpable for a moment before its
	 * exec while other processes of the sandbox run (session_cmd_child). */
	for (i = 0; i < (size_t)plan->n_wipe && i < AL_ARRAY_SIZE(plan->wipe); i++)
		explicit_bzero(plan->wipe[i], plan->wipe_len[i]);
	/* We are a copy of the supervisor: its command line (host paths of the
	 * log, the spec, volumes) must not be readable in /proc/1/cmdline. */
	al_proctitle_set("airlock-init");
	/* Likewise its environment: non-dumpable already keeps /proc/1/environ
	 * closed, but the init has no use for the caller's variables (secrets
	 * among them), so it does not keep them at all. */
	al_proctitle_clear_environ();

	/* Signals are taken synchronously (sigwaitinfo) once the workload runs. */
	sigfillset(&sigs);
	sigprocmask(SIG_SETMASK, &sigs, NULL);

	for (i = 0; i < AL_EGRESS_NFDS; i++)
		c.egress_fds[i] = -1;
	if (setup_fds(&c) < 0)
		_exit(AL_EXIT_SETUP_STATUS);
	const struct init_step *steps = plan->gvisor ? gvisor_steps : init_steps;
	size_t n_steps = plan->gvisor ? AL_ARRAY_SIZE(gvisor_steps) : AL_ARRAY_SIZE(init_steps);
	for (i = 0; i < n_steps; i++) {
		if (steps[i].run(&c) < 0)
			fail(&c, steps[i].stage);
	}
	/* Fail closed: cgroup files handed over but not used would leave the
	 * workload outside its limits (a step list without step_enter_cgroup). */
	if (c.n_cg_fds != 0) {
		al_error_set(&c.err, EPROTO, "cgroup", "the run's cgroup files were handed over but not entered");
		fail(&c, AL_STAGE_CGROUP);
	}
	if (plan->session)
		session_serve(&c, &sigs);
	supervise_workload(&c, &sigs);
}
