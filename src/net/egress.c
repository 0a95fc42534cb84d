/* Starting the egress proxy: fork, keep only the listening sockets and the
 * report socket, confine the child (no filesystem, a small seccomp
 * allowlist, no new privileges), and run the epoll loop (proxy.c). The parent
 * gets a pidfd and the report socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "net/egress.h"
#include "net/proxy.h"
#include "util/cleanup.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

#define PROXY_NOFILE 65536
#define FDS_PER_CONN 6 /* client, upstream, two pipes */

/* In the child, before confinement: the failure goes to the supervisor as
 * an AL_NET_ERROR report, then the child exits (the run fails closed). */
static _Noreturn void child_fail(int report_fd, const char *what, int e)
{
	struct al_net_report r;

	memset(&r, 0, sizeof(r));
	r.kind = AL_NET_ERROR;
	snprintf(r.proto, sizeof(r.proto), "proxy");
	snprintf(r.reason, sizeof(r.reason), "proxy setup: %s%s%s", what, e ? ": " : "",
	         e ? strerror(e) : "");
	(void)send(report_fd, &r, sizeof(r), MSG_NOSIGNAL);
	_exit(1);
}

/* Landlock with every filesystem right handled and none granted: the proxy
 * can open nothing. Kernels without Landlock rely on seccomp (no open*). */
static int confine_landlock(void)
{
	struct landlock_ruleset_attr attr = {0};
	int abi, fd;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return (errno == ENOSYS || errno == EOPNOTSUPP) ? 0 : -errno;
	attr.handled_access_fs = (1ULL << 13) - 1; /* ABI 1: bits 0..12 */
	if (abi >= 2)
		attr.handled_access_fs |= 1ULL << 13; /* REFER */
	if (abi >= 3)
		attr.handled_access_fs |= 1ULL << 14; /* TRUNCATE */
	if (abi >= 5)
		attr.handled_access_fs |= 1ULL << 15; /* IOCTL_DEV */
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_landlock_restrict_self, fd, 0) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

/* The proxy's syscall allowlist: sockets (IPv4/IPv6 only, for connecting out
 * and for c-ares), epoll, splice and pipes, memory, time. Nothing opens a
 * path, executes, forks, or changes identity; anything else kills it. */
static int confine_seccomp(void)
{
	static const int allow[] = {
		SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
		SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
		SCMP_SYS(recvmmsg), SCMP_SYS(sendmmsg), SCMP_SYS(connect), SCMP_SYS(accept4),
		SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(getsockname),
		SCMP_SYS(getpeername), SCMP_SYS(shutdown), SCMP_SYS(close), SCMP_SYS(epoll_wait),
		SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(splice), SCMP_SYS(pipe2),
		SCMP_SYS(fcntl), SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
		SCMP_SYS(madvise), SCMP_SYS(mprotect), SCMP_SYS(clock_gettime),
		SCMP_SYS(gettimeofday), SCMP_SYS(getrandom), SCMP_SYS(exit), SCMP_SYS(exit_group),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(futex), SCMP_SYS(getpid),
		SCMP_SYS(gettid), SCMP_SYS(restart_syscall), SCMP_SYS(poll), SCMP_SYS(ppoll),
		SCMP_SYS(sched_yield),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	size_t i;
	int r = 0;

	if (ctx == NULL)
		return -ENOMEM;
	for (i = 0; i < AL_ARRAY_SIZE(allow) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i], 0);
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		                     SCMP_A0(SCMP_CMP_EQ, AF_INET));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		                     SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		                     SCMP_A1(SCMP_CMP_EQ, FIONBIO));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		                     SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

/* Renumber the fds we keep to 3.. and close every other one. */
static void keep_fds(int *fds[], size_t n, int report_fd)
{
	int base = 3, i;

	for (i = 0; i < (int)n; i++)
		if (*fds[i] >= base)
			base = *fds[i] + 1;
	for (i = 0; i < (int)n; i++) {
		if (*fds[i] < 0)
			continue;
		int d = fcntl(*fds[i], F_DUPFD_CLOEXEC, base);
		if (d < 0)
			child_fail(report_fd, "dup", errno);
		*fds[i] = d;
	}
	for (i = 0; i < (int)n; i++) {
		if (*fds[i] < 0)
			continue;
		if (dup3(*fds[i], 3 + i, O_CLOEXEC) < 0)
			child_fail(*fds[0], "dup3", errno);
		*fds[i] = 3 + i;
	}
	if (syscall(SYS_close_range, 3 + (unsigned)n, ~0U, 0) < 0)
		child_fail(*fds[0], "close_range", errno);
}

static _Noreturn void proxy_child(const struct al_egress_policy *pol, struct al_egress_fds f,
                                  int report_fd, pid_t parent)
{
	int *keep[] = {&report_fd, &f.http, &f.socks, &f.transparent, &f.transparent6, &f.dns_udp,
	               &f.dns_tcp};
	struct proxy p = {.pol = pol};
	struct al_error err = {0};
	struct rlimit rl;
	sigset_t none;
	int r;

	/* die with the supervisor, and never outlive a parent that already died */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	keep_fds(keep, AL_ARRAY_SIZE(keep), report_fd);
	/* the report socket blocks: reports are never dropped (proxy_report) */
	fcntl(report_fd, F_SETFL, fcntl(report_fd, F_GETFL) & ~O_NONBLOCK);

	/* limits: thousands of connections, no core dumps of hostile bytes */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max < PROXY_NOFILE ? rl.rlim_max : PROXY_NOFILE;
		setrlimit(RLIMIT_NOFILE, &rl);
		p.max_conns = rl.rlim_cur > 128 ? (rl.rlim_cur - 64) / FDS_PER_CONN : 8;
	} else {
		p.max_conns = 150;
	}
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		child_fail(report_fd, "RLIMIT_CORE", errno);
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		child_fail(report_fd, "PR_SET_DUMPABLE", errno);

	/* c-ares reads its configuration files here, before the filesystem is
	 * gone; afterwards it only uses the servers it was given */
	p.report_fd = report_fd;
	p.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p.epfd < 0)
		child_fail(report_fd, "epoll_create1", errno);
	if (dns_resolver_init(&p, &err) < 0)
		child_fail(report_fd, err.msg, 0);

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(report_fd, "no_new_privs", errno);
	r = confine_landlock();
	if (r < 0)
		child_fail(report_fd, "landlock", -r);
	r = confine_seccomp();
	if (r < 0)
		child_fail(report_fd, "seccomp", -r);

	if (proxy_run(&p, &f, &err) < 0)
		child_fail(report_fd, err.msg, err.code);
	_exit(0);
}

int al_egress_start(const struct al_egress_policy *pol, const struct al_egress_fds *fds,
                    int *pidfd_out, pid_t *pid_out, int *report_fd_out, struct al_error *err)
{
	int sp[2];
	pid_t parent = getpid(), pid;
	int pidfd;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return al_error_errno(err, "egress", "socketpair for proxy reports");
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sp[0]);
		close(sp[1]);
		return al_error_set(err, e, "egress", "fork of the egress proxy");
	}
	if (pid == 0) {
		close(sp[0]);
		proxy_child(pol, *fds, sp[1], parent);
	}
	close(sp[1]);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		close(sp[0]);
		return al_error_set(err, e, "egress", "pidfd_open of the egress proxy");
	}
	*pidfd_out = pidfd;
	*pid_out = pid;
	*report_fd_out = sp[0];
	return 0;
}
