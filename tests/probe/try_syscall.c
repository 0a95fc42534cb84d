/* try_syscall: calls syscalls the sandbox must refuse, with harmless
 * arguments (bad pointers, bad fds, flags that would only ever make the call
 * fail), and prints one JSON line per attempt:
 *   {"syscall":"bpf","nr":321,"ret":-1,"errno":"EPERM"}
 * Cases that must kill the caller (foreign ABIs) run in a child and report
 * the signal: {"syscall":"i386","signal":"SIGSYS"}.
 * Usage: try_syscall all | try_syscall NAME... | try_syscall list
 *        try_syscall repeat N NAME   (N attempts, one summary line)
 *        try_syscall execveat PATH [ARG...]   (exec PATH with execveat(2))
 *        try_syscall execve_badpath   (execve with an unmapped path pointer)
 *        try_syscall exec_wronly WHAT PATH [ARG...]   (exec with the strings named by
 *            WHAT -- path, argv, env or all -- on PROT_WRITE-only pages; the env is
 *            the probe's plus LD_LIBRARY_PATH=/probe-ld-path)
 *        try_syscall exec_path_at_end PATH [ARG...]   (path ends, NUL included,
 *            at the last byte of a mapping followed by an unmapped page)
 *        try_syscall exec_path_unmapped PATH   (path runs into an unmapped page)
 *        try_syscall exec_argv_unmapped PATH   (argv array runs into one, no NULL)
 *        try_syscall fexecve_memfd SRC [ARG...]   (copy SRC into a memfd and
 *            execveat(memfd, "", AT_EMPTY_PATH))
 *        try_syscall execv PATH ARG0 [ARG...]   (argv[0] need not be PATH)
 *        try_syscall execveat_dirfd DIR PATH [ARG...]   (execveat(open(DIR), PATH))
 * Static, no libc features beyond syscall(2) and stdio. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __NR_fsopen
#define __NR_open_tree 428
#define __NR_move_mount 429
#define __NR_fsopen 430
#define __NR_fsconfig 431
#define __NR_fsmount 432
#define __NR_fspick 433
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef __NR_quotactl_fd
#define __NR_quotactl_fd 443
#endif
#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif
#ifndef AF_PACKET
#define AF_PACKET 17
#endif
#ifndef CLONE_NEWUSER
#define CLONE_NEWUSER 0x10000000
#endif

#define BAD ((long)-1)

struct attempt {
	const char *name; /* as reported; usually the syscall name */
	long nr;
	long a[6];
};

/* Denied syscalls with arguments that cannot do anything even if allowed. */
/* one attempt per line */
/* clang-format off */
static const struct attempt denied[] = {
	{ "bpf", __NR_bpf, { BAD, 0, 0 } },
	{ "perf_event_open", __NR_perf_event_open, { 0, BAD, BAD, BAD, 0 } },
	{ "userfaultfd", __NR_userfaultfd, { BAD } },
	{ "io_uring_setup", __NR_io_uring_setup, { 0, 0 } },
	{ "io_uring_enter", __NR_io_uring_enter, { BAD, 0, 0, 0, 0, 0 } },
	{ "io_uring_register", __NR_io_uring_register, { BAD, 0, 0, 0 } },
	{ "keyctl", __NR_keyctl, { BAD, 0, 0, 0, 0 } },
	{ "add_key", __NR_add_key, { 0, 0, 0, 0, 0 } },
	{ "request_key", __NR_request_key, { 0, 0, 0, 0 } },
	{ "ptrace", __NR_ptrace, { BAD, 0, 0, 0 } },
	{ "process_vm_readv", __NR_process_vm_readv, { 0, 0, 0, 0, 0, BAD } },
	{ "process_vm_writev", __NR_process_vm_writev, { 0, 0, 0, 0, 0, BAD } },
	{ "mount", __NR_mount, { 0, 0, 0, 0, 0 } },
	{ "umount2", __NR_umount2, { 0, BAD } },
	{ "fsopen", __NR_fsopen, { 0, BAD } },
	{ "fsconfig", __NR_fsconfig, { BAD, BAD, 0, 0, 0 } },
	{ "fsmount", __NR_fsmount, { BAD, BAD, 0 } },
	{ "fspick", __NR_fspick, { BAD, 0, BAD } },
	{ "move_mount", __NR_move_mount, { BAD, 0, BAD, 0, BAD } },
	{ "open_tree", __NR_open_tree, { BAD, 0, BAD } },
	{ "mount_setattr", __NR_mount_setattr, { BAD, 0, BAD, 0, 0 } },
	{ "pivot_root", __NR_pivot_root, { 0, 0 } },
	{ "chroot", __NR_chroot, { 0 } },
	{ "unshare", __NR_unshare, { CLONE_NEWUSER } },
	{ "setns", __NR_setns, { BAD, 0 } },
	{ "kexec_load", __NR_kexec_load, { 0, 0, 0, BAD } },
	{ "kexec_file_load", __NR_kexec_file_load, { BAD, BAD, 0, 0, BAD } },
	{ "init_module", __NR_init_module, { 0, 0, 0 } },
	{ "finit_module", __NR_finit_module, { BAD, 0, BAD } },
	{ "delete_module", __NR_delete_module, { 0, BAD } },
	{ "open_by_handle_at", __NR_open_by_handle_at, { BAD, 0, 0 } },
	{ "name_to_handle_at", __NR_name_to_handle_at, { BAD, 0, 0, 0, BAD } },
	{ "swapon", __NR_swapon, { 0, BAD } },
	{ "swapoff", __NR_swapoff, { 0 } },
	{ "reboot", __NR_reboot, { 0, 0, 0, 0 } },
	{ "syslog", __NR_syslog, { BAD, 0, 0 } },
	{ "acct", __NR_acct, { BAD } },
	{ "quotactl", __NR_quotactl, { BAD, 0, 0, 0 } },
	{ "quotactl_fd", __NR_quotactl_fd, { BAD, BAD, 0, 0 } },
	{ "settimeofday", __NR_settimeofday, { BAD, BAD } },
	{ "clock_settime", __NR_clock_settime, { BAD, 0 } },
	{ "clock_adjtime", __NR_clock_adjtime, { BAD, 0 } },
	{ "adjtimex", __NR_adjtimex, { 0 } },
	/* argument-checked denials */
	{ "clone_newuser", __NR_clone, { CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0 } },
	{ "clone_newns", __NR_clone, { CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0 } },
	{ "personality_addr_no_randomize", __NR_personality, { PER_LINUX | ADDR_NO_RANDOMIZE } },
	{ "ioctl_tiocsti", __NR_ioctl, { BAD, TIOCSTI, 0 } },
	/* high half set: the kernel truncates cmd to 32 bits, so must the filter */
	{ "ioctl_tiocsti_high", __NR_ioctl, { BAD, (long)(0xdead000000000000ul | TIOCSTI), 0 } },
	{ "ioctl_tioclinux", __NR_ioctl, { BAD, TIOCLINUX, 0 } },
	{ "ioctl_tiocsetd", __NR_ioctl, { BAD, TIOCSETD, 0 } },
	{ "socket_netlink", __NR_socket, { AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 } },
	{ "socket_packet", __NR_socket, { AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0 } },
	/* protocols the policy does not mean (MPTCP passed Landlock's TCP rules) */
	{ "socket_mptcp", __NR_socket, { AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 262 } },
	{ "socket_mptcp6", __NR_socket, { AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 262 } },
	{ "socket_sctp", __NR_socket, { AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 132 } },
	{ "socket_sctp_seqpacket", __NR_socket, { AF_INET6, SOCK_SEQPACKET | SOCK_CLOEXEC, 0 } },
	{ "socket_dccp", __NR_socket, { AF_INET, 6 /* SOCK_DCCP */ | SOCK_CLOEXEC, 0 } },
	{ "socket_udplite", __NR_socket, { AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 136 } },
	{ "socket_raw", __NR_socket, { AF_INET, SOCK_RAW | SOCK_CLOEXEC, 6 } },
	/* setuid/setgid modes: the path is a bad pointer, so an allowed call
	 * would fail with EFAULT (EBADF for fchmod) and create nothing */
	{ "chmod_setuid", __NR_chmod, { BAD, 04755 } },
	{ "fchmod_setgid", __NR_fchmod, { BAD, 02755 } },
	{ "fchmodat_setuid", __NR_fchmodat, { AT_FDCWD, BAD, 04755, 0 } },
	{ "fchmodat2_setgid", 452, { AT_FDCWD, BAD, 02711, 0 } },
	{ "open_creat_setuid", __NR_open, { BAD, O_CREAT | O_WRONLY, 04755 } },
	{ "openat_creat_setgid", __NR_openat, { AT_FDCWD, BAD, O_CREAT | O_WRONLY, 02755 } },
	{ "openat_tmpfile_setuid", __NR_openat, { AT_FDCWD, BAD, O_TMPFILE | O_WRONLY, 04700 } },
	{ "creat_setuid", __NR_creat, { BAD, 06755 } },
	{ "mkdir_setgid", __NR_mkdir, { BAD, 02775 } },
	{ "mkdirat_setuid", __NR_mkdirat, { AT_FDCWD, BAD, 04755 } },
	{ "mknod_setuid", __NR_mknod, { BAD, S_IFREG | 04755, 0 } },
	{ "mknodat_setgid", __NR_mknodat, { AT_FDCWD, BAD, S_IFIFO | 02644, 0 } },
	/* not listed at all: the default */
	{ "sysfs", __NR_sysfs, { BAD, 0, 0 } },
};
/* clang-format on */

/* Must fail with ENOSYS, unrecorded. */
static const struct attempt enosys[] = {
    {"clone3", __NR_clone3, {0, 0}},
    /* its mode is in memory the filter cannot read */
    {"openat2", 437, {AT_FDCWD, BAD, BAD, 24}},
};

/* Must work: shows the probe itself is not failing everything. */
static const struct attempt allowed[] = {
    {"getppid", __NR_getppid, {0}},
    {"socket_unix", __NR_socket, {AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0}},
    {"socket_inet", __NR_socket, {AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0}},
    {"socket_tcp", __NR_socket, {AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 6}},
    {"socket_tcp6", __NR_socket, {AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0}},
    {"socket_udp6", __NR_socket, {AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 17}},
    {"chmod_plain", __NR_chmod, {BAD, 0755}},                                       /* EFAULT */
    {"openat_creat_plain", __NR_openat, {AT_FDCWD, BAD, O_CREAT | O_WRONLY, 0644}}, /* EFAULT */
    {"mkdir_plain", __NR_mkdir, {BAD, 01777}},                                      /* EFAULT */
    {"personality_query", __NR_personality, {0xffffffffL}},
    {"ioctl_tcgets", __NR_ioctl, {BAD, TCGETS, 0}}, /* EBADF, not EPERM */
};

static const char *errname(int e)
{
	switch (e) {
	case 0:
		return NULL;
	case EPERM:
		return "EPERM";
	case ENOSYS:
		return "ENOSYS";
	case EINVAL:
		return "EINVAL";
	case EFAULT:
		return "EFAULT";
	case EBADF:
		return "EBADF";
	case EACCES:
		return "EACCES";
	case ENOENT:
		return "ENOENT";
	case EAFNOSUPPORT:
		return "EAFNOSUPPORT";
	case EIO:
		return "EIO";
	case ESRCH:
		return "ESRCH";
	case ENOTTY:
		return "ENOTTY";
	case E2BIG:
		return "E2BIG";
	case ENAMETOOLONG:
		return "ENAMETOOLONG";
	case ELOOP:
		return "ELOOP";
	default:
		return "other";
	}
}

static void try_one(const struct attempt *t)
{
	long r;
	int e;

	errno = 0;
	r = syscall(t->nr, t->a[0], t->a[1], t->a[2], t->a[3], t->a[4], t->a[5]);
	e = r < 0 ? errno : 0;
	/* a call that unexpectedly succeeded and returned an fd: close it */
	if (r > 2 && strncmp(t->name, "socket", 6) == 0)
		close((int)r);
	if (r == 0 && t->nr == __NR_clone)
		_exit(0); /* we are the unexpected child */
	if (e)
		printf("{\"syscall\":\"%s\",\"nr\":%ld,\"ret\":%ld,\"errno\":\"%s\",\"errno_num\":%"
		       "d}\n",
		       t->name, t->nr, r, errname(e), e);
	else
		printf("{\"syscall\":\"%s\",\"nr\":%ld,\"ret\":%ld,\"errno\":null}\n", t->name,
		       t->nr, r);
	fflush(stdout);
}

/* A foreign-ABI call in a child; report how the child ended. */
static void try_foreign(const char *name)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		printf("{\"syscall\":\"%s\",\"error\":\"fork\"}\n", name);
		return;
	}
	if (pid == 0) {
		if (strcmp(name, "i386") == 0) {
			long ret = 20; /* i386 getpid */
			__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
		} else {
			syscall(0x40000000L | __NR_getpid); /* x32 ABI bit */
		}
		_exit(0); /* reached only if the call was allowed */
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		printf("{\"syscall\":\"%s\",\"signal\":\"%s\",\"signum\":%d}\n", name,
		       WTERMSIG(st) == SIGSYS ? "SIGSYS" : "other", WTERMSIG(st));
	else
		printf("{\"syscall\":\"%s\",\"exit\":%d}\n", name, WEXITSTATUS(st));
	fflush(stdout);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---------- hostile execs: what the supervisor must read, or refuse ---------- */

extern char **environ;

static void exec_failed(const char *name)
{
	int e = errno;
	printf("{\"syscall\":\"%s\",\"ret\":-1,\"errno\":\"%s\",\"errno_num\":%d}\n", name,
	       errname(e) ? errname(e) : "none", e);
	fflush(stdout);
}

/* n pages, read-write, followed by one unmapped page (a guard). */
static char *pages_then_hole(size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, (n + 1) * (size_t)pg, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(3);
	}
	munmap(p + n * (size_t)pg, (size_t)pg);
	return p;
}

/* Copy the strings src[0..n) (NUL-terminated each) into one fresh page and
 * an array of pointers to them into dst (NULL-terminated). Returns the page. */
static char *strings_to_page(char *const *src, size_t n, char **dst)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t total = 0;
	char *page, *w;

	for (size_t i = 0; i < n; i++)
		total += strlen(src[i]) + 1;
	page = mmap(NULL, total + (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	            -1, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		exit(3);
	}
	w = page;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(src[i]) + 1;
		memcpy(w, src[i], l);
		dst[i] = w;
		w += l;
	}
	dst[n] = NULL;
	return page;
}

/* Make a mapping write-only: on x86 the kernel's own reads of it still work
 * (a writable page is readable to the CPU), process_vm_readv does not. */
static void write_only(void *p, size_t len)
{
	if (mprotect(p, len, PROT_WRITE) < 0) {
		perror("mprotect");
		exit(3);
	}
}

static int exec_wronly(const char *what, int argc, char **argv)
{
	long pg = sysconf(_SC_PAGESIZE);
	bool all = strcmp(what, "all") == 0;
	size_t nenv = 0, nargs = (size_t)argc;
	char **args, **env, *path = argv[0];

	while (environ[nenv])
		nenv++;
	args = calloc(nargs + 1, sizeof *args);
	env = calloc(nenv + 2, sizeof *env);
	if (!args || !env)
		return 3;
	for (size_t i = 0; i < nargs; i++)
		args[i] = argv[i];
	for (size_t i = 0; i < nenv; i++)
		env[i] = environ[i];
	env[nenv++] = "LD_LIBRARY_PATH=/probe-ld-path";
	if (all || strcmp(what, "path") == 0) {
		char *one[2];
		char *page = strings_to_page(&path, 1, one);
		path = one[0];
		write_only(page, (size_t)pg);
	}
	if (all || strcmp(what, "argv") == 0) {
		char **arr = mmap(NULL, (nargs + 1) * sizeof *arr, PROT_READ | PROT_WRITE,
		                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *page = strings_to_page(args, nargs, arr);
		size_t len = 0;
		for (size_t i = 0; i < nargs; i++)
			len += strlen(args[i]) + 1;
		write_only(page, len);
		write_only(arr, (nargs + 1) * sizeof *arr);
		args = arr;
	}
	if (all || strcmp(what, "env") == 0) {
		char **arr = mmap(NULL, (nenv + 1) * sizeof *arr, PROT_READ | PROT_WRITE,
		                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *page = strings_to_page(env, nenv, arr);
		size_t len = 0;
		for (size_t i = 0; i < nenv; i++)
			len += strlen(env[i]) + 1;
		write_only(page, len);
		write_only(arr, (nenv + 1) * sizeof *arr);
		env = arr;
	}
	syscall(__NR_execve, path, args, env);
	exec_failed("exec_wronly");
	return 1;
}

/* The path, NUL included, fills the end of a page; the next page is a hole. */
static int exec_path_at_end(int argc, char **argv)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t l = strlen(argv[0]) + 1;
	char *p = pages_then_hole(1);
	char *path = p + pg - (long)l;

	memcpy(path, argv[0], l);
	(void)argc;
	syscall(__NR_execve, path, argv, environ);
	exec_failed("exec_path_at_end");
	return 1;
}

/* The path has no NUL before the hole: the kernel faults (EFAULT). */
static int exec_path_unmapped(char **argv)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t l = strlen(argv[0]);
	char *p = pages_then_hole(1);
	char *path = p + pg - (long)l;

	memcpy(path, argv[0], l); /* no NUL: the next byte is unmapped */
	syscall(__NR_execve, path, argv, environ);
	exec_failed("exec_path_unmapped");
	return 0;
}

/* The argv array fills the end of a page and has no NULL before the hole. */
static int exec_argv_unmapped(char **argv)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = pages_then_hole(1);
	char **arr = (char **)(p + pg - 2 * (long)sizeof(char *));

	arr[0] = argv[0];
	arr[1] = "unterminated";
	syscall(__NR_execve, argv[0], arr, environ);
	exec_failed("exec_argv_unmapped");
	return 0;
}

static int fexecve_memfd(char **argv)
{
	char buf[65536];
	int src = open(argv[0], O_RDONLY | O_CLOEXEC);
	int mfd = (int)syscall(__NR_memfd_create, "probe-memfd", 0);
	ssize_t n;

	if (src < 0 || mfd < 0) {
		exec_failed("fexecve_memfd");
		return 3;
	}
	while ((n = read(src, buf, sizeof buf)) > 0)
		if (write(mfd, buf, (size_t)n) != n) {
			exec_failed("fexecve_memfd");
			return 3;
		}
	close(src);
	syscall(__NR_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
	exec_failed("fexecve_memfd");
	return 1;
}

static int run_named(const char *name)
{
	const struct attempt *sets[] = {denied, enosys, allowed};
	size_t lens[] = {N(denied), N(enosys), N(allowed)};

	if (strcmp(name, "i386") == 0 || strcmp(name, "x32") == 0) {
		try_foreign(name);
		return 0;
	}
	for (size_t s = 0; s < 3; s++)
		for (size_t i = 0; i < lens[s]; i++)
			if (strcmp(sets[s][i].name, name) == 0) {
				try_one(&sets[s][i]);
				return 0;
			}
	fprintf(stderr, "try_syscall: unknown case %s\n", name);
	return 2;
}

/* N attempts of one case; prints {"syscall":..,"repeat":N,"eperm":K}. */
static int repeat(long n, const char *name)
{
	const struct attempt *sets[] = {denied, enosys, allowed};
	size_t lens[] = {N(denied), N(enosys), N(allowed)};
	const struct attempt *t = NULL;
	long eperm = 0;

	for (size_t s = 0; s < 3 && !t; s++)
		for (size_t i = 0; i < lens[s]; i++)
			if (strcmp(sets[s][i].name, name) == 0)
				t = &sets[s][i];
	if (t == NULL || n <= 0)
		return 2;
	for (long i = 0; i < n; i++) {
		long r = syscall(t->nr, t->a[0], t->a[1], t->a[2], t->a[3], t->a[4], t->a[5]);
		eperm += r < 0 && errno == EPERM;
	}
	printf("{\"syscall\":\"%s\",\"repeat\":%ld,\"eperm\":%ld}\n", name, n, eperm);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: try_syscall all | denied | list | NAME...\n");
		return 2;
	}
	if (strcmp(argv[1], "list") == 0) {
		for (size_t i = 0; i < N(denied); i++)
			printf("denied %s\n", denied[i].name);
		for (size_t i = 0; i < N(enosys); i++)
			printf("enosys %s\n", enosys[i].name);
		for (size_t i = 0; i < N(allowed); i++)
			printf("allowed %s\n", allowed[i].name);
		printf("killed i386\nkilled x32\n");
		return 0;
	}
	if (strcmp(argv[1], "repeat") == 0 && argc == 4)
		return repeat(atol(argv[2]), argv[3]);
	if (strcmp(argv[1], "execveat") == 0 && argc >= 3) {
		syscall(__NR_execveat, AT_FDCWD, argv[2], argv + 2, environ, 0);
		printf("{\"syscall\":\"execveat\",\"ret\":-1,\"errno_num\":%d}\n", errno);
		return 1;
	}
	if (strcmp(argv[1], "exec_wronly") == 0 && argc >= 4)
		return exec_wronly(argv[2], argc - 3, argv + 3);
	if (strcmp(argv[1], "exec_path_at_end") == 0 && argc >= 3)
		return exec_path_at_end(argc - 2, argv + 2);
	if (strcmp(argv[1], "exec_path_unmapped") == 0 && argc >= 3)
		return exec_path_unmapped(argv + 2);
	if (strcmp(argv[1], "exec_argv_unmapped") == 0 && argc >= 3)
		return exec_argv_unmapped(argv + 2);
	if (strcmp(argv[1], "fexecve_memfd") == 0 && argc >= 3)
		return fexecve_memfd(argv + 2);
	if (strcmp(argv[1], "execveat_dirfd") == 0 && argc >= 4) {
		int dfd = open(argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
		syscall(__NR_execveat, dfd, argv[3], argv + 3, environ, 0);
		exec_failed("execveat_dirfd");
		return 1;
	}
	if (strcmp(argv[1], "execv") == 0 && argc >= 4) {
		syscall(__NR_execve, argv[2], argv + 3, environ);
		exec_failed("execv");
		return 1;
	}
	if (strcmp(argv[1], "execve_badpath") == 0) {
		/* an address no process maps: the supervisor cannot read the path */
		long r = syscall(__NR_execve, 16L, argv, NULL);
		printf("{\"syscall\":\"execve_badpath\",\"nr\":%d,\"ret\":%ld,\"errno\":\"%s\","
		       "\"errno_num\":%d}\n",
		       __NR_execve, r, errname(errno), errno);
		return 0;
	}
	if (strcmp(argv[1], "all") == 0 || strcmp(argv[1], "denied") == 0) {
		for (size_t i = 0; i < N(denied); i++)
			try_one(&denied[i]);
		if (strcmp(argv[1], "all") == 0) {
			for (size_t i = 0; i < N(enosys); i++)
				try_one(&enosys[i]);
			for (size_t i = 0; i < N(allowed); i++)
				try_one(&allowed[i]);
			try_foreign("i386");
			try_foreign("x32");
		}
		return 0;
	}
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--marker=", 9) != 0 && run_named(argv[i]) != 0)
			rc = 2;
	return rc;
}
