/* Starting the egress proxy: fork, keep only the listening sockets and the
 * report socket, confine the child (no filesystem, a small seccomp
 * allowlist, no new privileges), and run the epoll loop (proxy.c). The parent
 * gets a pidfd and the report socket. */
#define _GNU_SOURCE
#if defined(__SANITIZE_ADDRESS__)
#define AL_SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AL_SANITIZED_BUILD 1
#endif
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "net/egress.h"
#include "net/policy_wire.h"
#include "net/proxy.h"
#include "util/cleanup.h"
#include "util/fdutil.h"
#include "util/zlib_dl.h"

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
#define PROXY_MAX_CONNS 4096
#define PROXY_MAX_DATA (512ull << 20) /* heap + private mappings */
#define FDS_PER_CONN 6                /* client, upstream, two pipes */

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

/* The installed linux/landlock.h predates network rules and scopes; the
 * values are kernel ABI. */
struct ruleset_attr_v6 {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};
struct net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
};
#define LL_RULE_NET_PORT 2
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif

static int allow_connect_port(int fd, uint16_t port)
{
	struct net_port_attr a = {.allowed_access = LL_NET_CONNECT_TCP, .port = port};
	return syscall(SYS_landlock_add_rule, fd, LL_RULE_NET_PORT, &a, 0) < 0 ? -errno : 0;
}

/* Landlock: every filesystem right handled and none granted (the proxy can
 * open nothing); from ABI 4, TCP bind refused and TCP connect only to the
 * ports the policy allows and the resolvers' ports (so even a compromised
 * proxy cannot reach other services); from ABI 6, no signals or abstract
 * unix sockets outside its own domain. Kernels without Landlock rely on
 * seccomp (no open*). */
static int confine_landlock(const struct al_egress_policy *pol)
{
	static const uint16_t default_ports[] = {80, 443};
	struct ruleset_attr_v6 attr = {0};
	size_t size = sizeof(uint64_t), i;
	int abi, fd, r = 0;

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
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0)
		return -errno;
	if (abi >= 4) {
		const uint16_t *ports = pol->n_allow_ports ? pol->allow_ports : default_ports;
		size_t n = pol->n_allow_ports ? pol->n_allow_ports : AL_ARRAY_SIZE(default_ports);
		for (i = 0; r == 0 && i < n; i++)
			r = allow_connect_port(fd, ports[i]);
		/* c-ares falls back to TCP for truncated answers */
		for (i = 0; r == 0 && i < pol->n_resolvers; i++) {
			const struct sockaddr_storage *ss = &pol->resolvers[i];
			uint16_t port = ss->ss_family == AF_INET6
			                    ? ntohs(((const struct sockaddr_in6 *)ss)->sin6_port)
			                    : ntohs(((const struct sockaddr_in *)ss)->sin_port);
			r = allow_connect_port(fd, port ? port : 53);
		}
		if (r == 0 && pol->n_resolvers == 0)
			r = allow_connect_port(fd, 53);
	}
	if (r == 0 && syscall(SYS_landlock_restrict_self, fd, 0) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* The proxy's syscall allowlist: sockets (IPv4/IPv6 only, for connecting out
 * and for c-ares), epoll, splice and pipes, memory, time. Nothing opens a
 * path, executes, forks, or changes identity; anything else kills it. */
static int confine_seccomp(void)
{
	static const int allow[] = {
	    SCMP_SYS(read),
	    SCMP_SYS(write),
	    SCMP_SYS(readv),
	    SCMP_SYS(writev),
	    SCMP_SYS(recvfrom),
	    SCMP_SYS(sendto),
	    SCMP_SYS(recvmsg),
	    SCMP_SYS(sendmsg),
	    SCMP_SYS(recvmmsg),
	    SCMP_SYS(sendmmsg),
	    SCMP_SYS(connect),
	    SCMP_SYS(accept4),
	    SCMP_SYS(getsockopt),
	    SCMP_SYS(setsockopt),
	    SCMP_SYS(getsockname),
	    SCMP_SYS(getpeername),
	    SCMP_SYS(shutdown),
	    SCMP_SYS(close),
	    SCMP_SYS(epoll_wait),
	    SCMP_SYS(epoll_pwait),
	    SCMP_SYS(epoll_ctl),
	    SCMP_SYS(splice),
	    SCMP_SYS(pipe2),
	    SCMP_SYS(fcntl),
	    SCMP_SYS(brk),
	    SCMP_SYS(mmap),
	    SCMP_SYS(munmap),
	    SCMP_SYS(mremap),
	    SCMP_SYS(madvise),
	    SCMP_SYS(mprotect),
	    SCMP_SYS(clock_gettime),
	    SCMP_SYS(gettimeofday),
	    SCMP_SYS(getrandom),
	    SCMP_SYS(exit),
	    SCMP_SYS(exit_group),
	    SCMP_SYS(rt_sigreturn),
	    SCMP_SYS(rt_sigprocmask),
	    SCMP_SYS(sigaltstack), /* the sanitizer runtime queries it on the way out; harmless */
	    SCMP_SYS(futex),
	    SCMP_SYS(getpid),
	    SCMP_SYS(gettid),
	    SCMP_SYS(restart_syscall),
	    SCMP_SYS(poll),
	    SCMP_SYS(ppoll),
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

/* Renumber the fds we keep to 3.. (absent ones leave their slot closed),
 * clear CLOEXEC on them so they survive the exec, and close every other fd. */
static void keep_fds(int *fds[], size_t n, int report_fd)
{
	int base = 3 + (int)n, i;

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
		if (*fds[i] < 0) {
			close(3 + i);
			continue;
		}
		if (dup3(*fds[i], 3 + i, 0) < 0)
			child_fail(*fds[0], "dup3", errno);
		*fds[i] = 3 + i;
	}
	if (syscall(SYS_close_range, 3 + (unsigned)n, ~0U, 0) < 0)
		child_fail(*fds[0], "close_range", errno);
}

/* The fixed fd numbers in the exec'd image */
enum {
	FD_REPORT = 3,
	FD_HTTP,
	FD_SOCKS,
	FD_TRANSPARENT,
	FD_TRANSPARENT6,
	FD_DNS_UDP,
	FD_DNS_TCP,
	FD_POLICY,
	FD_COUNT = FD_POLICY - FD_HTTP
};

/* In the forked child, before exec: nothing here may rely on the parent's
 * state beyond what it was given. The exec gives the proxy a fresh address
 * space: nothing of the supervisor's memory (log signing keys, spec,
 * environment) is in the process that parses hostile bytes. */
static _Noreturn void proxy_child_exec(const struct al_egress_policy *pol, struct al_egress_fds f,
                                       int report_fd, pid_t parent)
{
	static char *const argv[] = {(char *)AL_EGRESS_ARGV0, NULL};
	static char *const envp[] = {NULL};
	int *keep[] = {&report_fd,      &f.http,    &f.socks,   &f.transparent,
	               &f.transparent6, &f.dns_udp, &f.dns_tcp, NULL};
	struct al_buf b;
	uint32_t mask = 0;
	sigset_t none;
	int memfd, devnull, i;

	/* die with the supervisor, and never outlive a parent that already died
	 * (kept across execve) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	for (i = 1; i <= FD_COUNT; i++)
		if (*keep[i] >= 0)
			mask |= 1u << (i - 1);
	al_buf_init(&b);
	memfd = (int)syscall(SYS_memfd_create, "airlock-egress-policy", MFD_CLOEXEC);
	if (memfd < 0)
		child_fail(report_fd, "memfd_create", errno);
	if (al_policy_wire_encode(pol, mask, &b) < 0 || al_write_all(memfd, b.data, b.len) < 0 ||
	    lseek(memfd, 0, SEEK_SET) != 0)
		child_fail(report_fd, "policy", errno);
	al_buf_free(&b);
	keep[FD_POLICY - 3] = &memfd;
	/* stdio: /dev/null, not the supervisor's terminal */
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		child_fail(report_fd, "/dev/null", errno);
	for (i = 0; i <= 2; i++)
		if (dup2(devnull, i) < 0)
			child_fail(report_fd, "dup2 /dev/null", errno);
	if (devnull > 2)
		close(devnull);
	keep_fds(keep, AL_ARRAY_SIZE(keep), report_fd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			signal(i, SIG_DFL);
	execve("/proc/self/exe", argv, envp);
	child_fail(FD_REPORT, "execve /proc/self/exe", errno);
}

bool al_egress_is_proxy_argv(int argc, char **argv)
{
	return argc >= 1 && argv[0] != NULL && strcmp(argv[0], AL_EGRESS_ARGV0) == 0;
}

/* The proxy image: read the policy, confine, run. */
int al_egress_proxy_main(void)
{
	static struct al_egress_policy pol;
	struct al_egress_fds f = {-1, -1, -1, -1, -1, -1};
	int *slots[] = {&f.http, &f.socks, &f.transparent, &f.transparent6, &f.dns_udp, &f.dns_tcp};
	struct proxy p = {.pol = &pol};
	struct al_error err = {0};
	struct rlimit rl;
	struct stat st;
	uint8_t *blob;
	uint32_t mask = 0;
	int r, i;

	if (fstat(FD_POLICY, &st) < 0 || st.st_size <= 0 || st.st_size > (64 << 20))
		child_fail(FD_REPORT, "policy memfd", errno);
	blob = malloc((size_t)st.st_size);
	if (blob == NULL || al_read_full(FD_POLICY, blob, (size_t)st.st_size) != st.st_size ||
	    al_policy_wire_decode(blob, (size_t)st.st_size, &pol, &mask) < 0)
		child_fail(FD_REPORT, "policy decode", 0);
	free(blob);
	close(FD_POLICY);
	for (i = 0; i < FD_COUNT; i++) {
		if (mask & (1u << i)) {
			*slots[i] = FD_HTTP + i;
			fcntl(FD_HTTP + i, F_SETFD, FD_CLOEXEC);
		}
	}
	fcntl(FD_REPORT, F_SETFD, FD_CLOEXEC);
	/* the report socket blocks: reports are never dropped (proxy_report) */
	fcntl(FD_REPORT, F_SETFL, fcntl(FD_REPORT, F_GETFL) & ~O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	/* termination is read in the loop, so that queued reports go out first */
	{
		sigset_t term;
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigaddset(&term, SIGINT);
		sigaddset(&term, SIGHUP);
		if (sigprocmask(SIG_BLOCK, &term, NULL) < 0)
			child_fail(FD_REPORT, "sigprocmask", errno);
		p.signal_fd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
		if (p.signal_fd < 0)
			child_fail(FD_REPORT, "signalfd", errno);
	}

	/* limits: thousands of connections (capped: every one may hold two 16 KiB
	 * buffers), bounded memory, no core dumps of hostile bytes */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max < PROXY_NOFILE ? rl.rlim_max : PROXY_NOFILE;
		setrlimit(RLIMIT_NOFILE, &rl);
		p.max_conns = rl.rlim_cur > 128 ? (rl.rlim_cur - 64) / FDS_PER_CONN : 8;
	} else {
		p.max_conns = 150;
	}
	if (p.max_conns > PROXY_MAX_CONNS)
		p.max_conns = PROXY_MAX_CONNS;
	/* AddressSanitizer reserves terabytes of shadow memory and cannot work
	 * under a data limit: the sanitizer build (tests only) goes without. */
#ifndef AL_SANITIZED_BUILD
	rl.rlim_cur = rl.rlim_max = PROXY_MAX_DATA;
	if (setrlimit(RLIMIT_DATA, &rl) < 0)
		child_fail(FD_REPORT, "RLIMIT_DATA", errno);
#endif
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		child_fail(FD_REPORT, "RLIMIT_CORE", errno);
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		child_fail(FD_REPORT, "PR_SET_DUMPABLE", errno);

	/* c-ares reads its configuration files here, before the filesystem is
	 * gone; afterwards it only uses the servers it was given */
	p.report_fd = FD_REPORT;
	p.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p.epfd < 0)
		child_fail(FD_REPORT, "epoll_create1", errno);
	if (dns_resolver_init(&p, &err) < 0)
		child_fail(FD_REPORT, err.msg, 0);
	/* canary tokens: compressed bodies are inflated to be searched; zlib
	 * cannot be opened once the filesystem is gone */
	if (pol.n_exfil_tokens > 0 && al_zlib_load(&err) < 0)
		child_fail(FD_REPORT, err.msg, 0);

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(FD_REPORT, "no_new_privs", errno);
	r = confine_landlock(&pol);
	if (r < 0)
		child_fail(FD_REPORT, "landlock", -r);
	r = confine_seccomp();
	if (r < 0)
		child_fail(FD_REPORT, "seccomp", -r);

	if (proxy_run(&p, &f, &err) < 0)
		child_fail(FD_REPORT, err.msg, err.code);
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
		proxy_child_exec(pol, *fds, sp[1], parent);
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
