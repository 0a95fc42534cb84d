/* The seccomp policy: the one table of rules (each with its reason), its
 * compilation with libseccomp in the parent into a BPF program kept in
 * memory, and its installation on the sandbox init with seccomp(2). */
#define _GNU_SOURCE
#include "sandbox/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/json.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* Namespace-creating clone flags. CLONE_NEWTIME (0x80) is left out on
 * purpose: in clone(2) the low byte is the exit signal, and clone(2) rejects
 * CLONE_NEWTIME anyway (only clone3 and unshare accept it; both are denied). */
#define AL_CLONE_NS_FLAGS                                                                          \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET)

/* Linux personality values: PER_LINUX (0) is the default, 0xffffffff queries. */
#define AL_PER_LINUX 0x0000u
#define AL_PER_QUERY 0xffffffffu

/* ioctl numbers kept out of the sandbox (stable ABI; not every libc exposes
 * both in the same header). */
#define AL_TIOCSTI 0x5412u
#define AL_TIOCLINUX 0x541Cu
#define AL_TIOCSETD 0x5423u

#define LO32 0xffffffffull

/* The set-id mode bits: no file the sandbox creates or changes may carry
 * them (a volume's files are the host's; a setuid file there is a privilege
 * for whoever runs it on the host, root or the rootless caller). */
#define AL_SETID_BITS ((uint64_t)(S_ISUID | S_ISGID))
/* open flags under which the mode argument is used: O_TMPFILE is the bit
 * 020000000 together with O_DIRECTORY (glibc's __O_TMPFILE includes
 * O_DIRECTORY too), and that bit alone is what marks it */
#define AL_CREATE_FLAGS ((uint64_t)(O_CREAT | (O_TMPFILE & ~O_DIRECTORY)))
/* socket(2)'s type argument: the low bits are the type, the rest flags */
#define AL_SOCK_TYPE_MASK 0xfull

/* the row constructors and the table stay one row per line */
/* clang-format off */
/* Row constructors keep the table one line per syscall. */
#define ALLOW(n, g, why) { (n), -1, AL_SC_ALLOW, 0, { { 0 } }, 0, 0, { 0 }, (g), (why) }
#define ENOSYS_ROW(n, g, why) { (n), -1, AL_SC_ENOSYS, 0, { { 0 } }, 0, 0, { 0 }, (g), (why) }
#define ALLOW_NR(n, nr, g, why) { (n), (nr), AL_SC_ALLOW, 0, { { 0 } }, 0, 0, { 0 }, (g), (why) }
#define DENY(n, g, why) { (n), -1, AL_SC_DENY, 0, { { 0 } }, 0, 0, { 0 }, (g), (why) }
/* allow when (arg[i] & m) == v */
#define ALLOW_IF(n, i, m, v, g, why) \
	{ (n), -1, AL_SC_ALLOW, 1, { { (i), (m), (v) } }, 0, 0, { 0 }, (g), (why) }
#define ALLOW_IF2(n, i, m, v, i2, m2, v2, g, why) \
	{ (n), -1, AL_SC_ALLOW, 2, { { (i), (m), (v) }, { (i2), (m2), (v2) } }, 0, 0, { 0 }, (g), (why) }
#define ALLOW_IF3(n, i, m, v, i2, m2, v2, i3, m3, v3, g, why) \
	{ (n), -1, AL_SC_ALLOW, 3, { { (i), (m), (v) }, { (i2), (m2), (v2) }, { (i3), (m3), (v3) } }, 0, 0, { 0 }, (g), (why) }
/* allow only when the mode argument i carries neither S_ISUID nor S_ISGID */
#define ALLOW_NO_SETID(n, i, g, why) ALLOW_IF((n), (i), AL_SETID_BITS, 0, (g), (why))
/* open-style: allow when nothing is created (no O_CREAT, no O_TMPFILE), or
 * when the mode of what is created carries no setuid/setgid bit */
#define ALLOW_OPEN(n, fi, mi, g, why) \
	ALLOW_IF((n), (fi), AL_CREATE_FLAGS, 0, (g), (why)), \
	ALLOW_NO_SETID((n), (mi), (g), (why))
/* socket(family, type, protocol) for one of the types and protocols the policy means */
#define ALLOW_SOCK(fam, type, proto, why) \
	ALLOW_IF3("socket", 0, LO32, (fam), 1, AL_SOCK_TYPE_MASK, (type), 2, LO32, (proto), "@network-io", (why))
/* allow unless the low 32 bits of arg[i] are one of the (1 to 3) values */
#define ALLOW_EXCEPT2(n, i, a, b, g, why) \
	{ (n), -1, AL_SC_ALLOW, 0, { { 0 } }, (i), 2, { (a), (b) }, (g), (why) }
#define ALLOW_EXCEPT3(n, i, a, b, c, g, why) \
	{ (n), -1, AL_SC_ALLOW, 0, { { 0 } }, (i), 3, { (a), (b), (c) }, (g), (why) }
/* clang-format on */

/*
 * The policy. Default (not listed): EPERM, recorded as syscall_denied.
 * Groups follow systemd's documented syscall sets where one fits. Hot
 * syscalls are plain ALLOW rows with no argument checks, so the kernel's
 * constant-action cache answers them without running the filter at all.
 */
/* one row per line reads as a table */
/* clang-format off */
static const struct al_seccomp_rule rules[] = {
	/* @default: what every process needs to exist */
	ALLOW("arch_prctl", "@default", "TLS setup on x86_64"),
	ALLOW("brk", "@default", "heap"),
	ALLOW("exit", "@default", "thread exit"),
	ALLOW("exit_group", "@default", "process exit"),
	ALLOW("futex", "@default", "locks, thread join"),
	ALLOW("futex_waitv", "@default", "futex wait on several words"),
	ALLOW("futex_wake", "@default", "futex2"),
	ALLOW("futex_wait", "@default", "futex2"),
	ALLOW("futex_requeue", "@default", "futex2"),
	ALLOW("get_robust_list", "@default", "thread robust futex list"),
	ALLOW("set_robust_list", "@default", "thread robust futex list"),
	ALLOW("set_tid_address", "@default", "libc thread startup"),
	ALLOW("rseq", "@default", "restartable sequences (glibc registers one per thread)"),
	ALLOW("membarrier", "@default", "JITs and RCU-style runtimes"),
	ALLOW("restart_syscall", "@default", "kernel-internal restart after a signal"),
	ALLOW("rt_sigreturn", "@default", "return from signal handlers"),
	ALLOW("getpid", "@default", "identity of self"),
	ALLOW("getppid", "@default", "identity of parent"),
	ALLOW("gettid", "@default", "identity of self"),
	ALLOW("getuid", "@default", "credentials query"),
	ALLOW("geteuid", "@default", "credentials query"),
	ALLOW("getgid", "@default", "credentials query"),
	ALLOW("getegid", "@default", "credentials query"),
	ALLOW("getresuid", "@default", "credentials query"),
	ALLOW("getresgid", "@default", "credentials query"),
	ALLOW("getgroups", "@default", "credentials query"),
	ALLOW("getpgid", "@default", "process group query"),
	ALLOW("getpgrp", "@default", "process group query"),
	ALLOW("getsid", "@default", "session query"),
	ALLOW("uname", "@default", "system identity (the sandbox's own UTS namespace)"),
	ALLOW("sysinfo", "@default", "memory/uptime figures"),
	ALLOW("getrandom", "@default", "entropy"),
	ALLOW("getcpu", "@default", "current CPU"),
	ALLOW("getrlimit", "@default", "limits query"),
	ALLOW_EXCEPT2("setrlimit", 0, RLIMIT_CORE, RLIMIT_CORE, "@default", "lowering limits (raising needs CAP_SYS_RESOURCE); not RLIMIT_CORE, whose value 1 is what stops pipe core dumps to a host helper"),
	ALLOW_IF("prlimit64", 2, ~0ull, 0, "@default", "limits query (no new limit)"),
	ALLOW_EXCEPT2("prlimit64", 1, RLIMIT_CORE, RLIMIT_CORE, "@default", "lowering limits; not RLIMIT_CORE, whose value 1 is what stops pipe core dumps to a host helper"),
	ALLOW("getrusage", "@default", "resource usage"),
	ALLOW("times", "@default", "process times"),
	ALLOW("umask", "@default", "file creation mask"),
	ALLOW("prctl", "@default", "process attributes (names, no_new_privs, dumpable); privileged options need capabilities"),
	ALLOW("capget", "@default", "capability query"),
	ALLOW("capset", "@default", "capabilities can only be dropped (none are held)"),

	/* @basic-io */
	ALLOW("read", "@basic-io", "hot path"),
	ALLOW("write", "@basic-io", "hot path"),
	ALLOW("readv", "@basic-io", "vectored I/O"),
	ALLOW("writev", "@basic-io", "vectored I/O"),
	ALLOW("pread64", "@basic-io", "positional I/O"),
	ALLOW("pwrite64", "@basic-io", "positional I/O"),
	ALLOW("preadv", "@basic-io", "positional I/O"),
	ALLOW("pwritev", "@basic-io", "positional I/O"),
	ALLOW("preadv2", "@basic-io", "positional I/O"),
	ALLOW("pwritev2", "@basic-io", "positional I/O"),
	ALLOW("lseek", "@basic-io", "file offset"),
	ALLOW("close", "@basic-io", "fd lifetime"),
	ALLOW("close_range", "@basic-io", "closing inherited fds before exec"),
	ALLOW("dup", "@basic-io", "fd duplication"),
	ALLOW("dup2", "@basic-io", "fd duplication"),
	ALLOW("dup3", "@basic-io", "fd duplication"),
	ALLOW("sendfile", "@basic-io", "in-kernel copy (cp, web servers)"),
	ALLOW("splice", "@basic-io", "pipe I/O"),
	ALLOW("tee", "@basic-io", "pipe I/O"),
	ALLOW("vmsplice", "@basic-io", "pipe I/O"),
	ALLOW("copy_file_range", "@basic-io", "in-kernel copy (coreutils cp)"),

	/* @file-system: Landlock and the read-only mounts decide which paths */
	ALLOW_OPEN("open", 1, 2, "@file-system", "paths are confined by mounts and Landlock; no file is created setuid/setgid"),
	ALLOW_OPEN("openat", 2, 3, "@file-system", "paths are confined by mounts and Landlock; no file is created setuid/setgid"),
	ENOSYS_ROW("openat2", "@file-system", "ENOSYS: its mode is in memory where BPF cannot look (a setuid create could pass), so callers fall back to openat, whose mode is checked"),
	ALLOW_NO_SETID("creat", 1, "@file-system", "file creation, never setuid/setgid"),
	ALLOW("stat", "@file-system", "metadata"),
	ALLOW("fstat", "@file-system", "metadata"),
	ALLOW("lstat", "@file-system", "metadata"),
	ALLOW("newfstatat", "@file-system", "metadata"),
	ALLOW("statx", "@file-system", "metadata"),
	ALLOW("statfs", "@file-system", "filesystem metadata"),
	ALLOW("fstatfs", "@file-system", "filesystem metadata"),
	ALLOW("access", "@file-system", "permission check"),
	ALLOW("faccessat", "@file-system", "permission check"),
	ALLOW("faccessat2", "@file-system", "permission check"),
	ALLOW("getdents", "@file-system", "directory listing"),
	ALLOW("getdents64", "@file-system", "directory listing"),
	ALLOW("getcwd", "@file-system", "working directory"),
	ALLOW("chdir", "@file-system", "working directory"),
	ALLOW("fchdir", "@file-system", "working directory"),
	ALLOW("fcntl", "@file-system", "fd flags and locks"),
	ALLOW("flock", "@file-system", "advisory locks (git, pip)"),
	ALLOW("readlink", "@file-system", "symlinks"),
	ALLOW("readlinkat", "@file-system", "symlinks"),
	ALLOW("symlink", "@file-system", "symlinks"),
	ALLOW("symlinkat", "@file-system", "symlinks"),
	ALLOW("link", "@file-system", "hard links"),
	ALLOW("linkat", "@file-system", "hard links"),
	ALLOW("unlink", "@file-system", "removal"),
	ALLOW("unlinkat", "@file-system", "removal"),
	ALLOW("rmdir", "@file-system", "removal"),
	ALLOW_NO_SETID("mkdir", 1, "@file-system", "creation, without setuid/setgid bits (a setgid parent still passes its bit on, as the kernel does)"),
	ALLOW_NO_SETID("mkdirat", 2, "@file-system", "creation, without setuid/setgid bits"),
	ALLOW_NO_SETID("mknod", 1, "@file-system", "FIFOs and sockets, never setuid/setgid; device nodes need CAP_MKNOD and mounts are nodev"),
	ALLOW_NO_SETID("mknodat", 2, "@file-system", "FIFOs and sockets, never setuid/setgid; device nodes need CAP_MKNOD and mounts are nodev"),
	ALLOW("rename", "@file-system", "renames"),
	ALLOW("renameat", "@file-system", "renames"),
	ALLOW("renameat2", "@file-system", "renames"),
	ALLOW("truncate", "@file-system", "size"),
	ALLOW("ftruncate", "@file-system", "size"),
	ALLOW("fallocate", "@file-system", "preallocation (bounded by the tmpfs size)"),
	ALLOW_NO_SETID("chmod", 1, "@file-system", "modes, never setuid/setgid: a volume's files are the host's, where those bits are a privilege"),
	ALLOW_NO_SETID("fchmod", 1, "@file-system", "modes, never setuid/setgid"),
	ALLOW_NO_SETID("fchmodat", 2, "@file-system", "modes, never setuid/setgid"),
	ALLOW_NO_SETID("fchmodat2", 2, "@file-system", "modes, never setuid/setgid (newer libcs)"),
	ALLOW("chown", "@file-system", "ownership within the sandbox's mapped ids"),
	ALLOW("fchown", "@file-system", "ownership within the sandbox's mapped ids"),
	ALLOW("fchownat", "@file-system", "ownership within the sandbox's mapped ids"),
	ALLOW("lchown", "@file-system", "ownership within the sandbox's mapped ids"),
	ALLOW("utime", "@file-system", "timestamps (tar, make)"),
	ALLOW("utimes", "@file-system", "timestamps"),
	ALLOW("utimensat", "@file-system", "timestamps"),
	ALLOW("futimesat", "@file-system", "timestamps"),
	ALLOW("getxattr", "@file-system", "extended attributes"),
	ALLOW("lgetxattr", "@file-system", "extended attributes"),
	ALLOW("fgetxattr", "@file-system", "extended attributes"),
	ALLOW("listxattr", "@file-system", "extended attributes"),
	ALLOW("llistxattr", "@file-system", "extended attributes"),
	ALLOW("flistxattr", "@file-system", "extended attributes"),
	ALLOW("setxattr", "@file-system", "extended attributes (user.*; others need capabilities)"),
	ALLOW("lsetxattr", "@file-system", "extended attributes"),
	ALLOW("fsetxattr", "@file-system", "extended attributes"),
	ALLOW("removexattr", "@file-system", "extended attributes"),
	ALLOW("lremovexattr", "@file-system", "extended attributes"),
	ALLOW("fremovexattr", "@file-system", "extended attributes"),
	ALLOW("inotify_init", "@file-system", "file watching (build tools)"),
	ALLOW("inotify_init1", "@file-system", "file watching"),
	ALLOW("inotify_add_watch", "@file-system", "file watching"),
	ALLOW("inotify_rm_watch", "@file-system", "file watching"),
	ALLOW("fadvise64", "@file-system", "page cache hints"),
	ALLOW("readahead", "@file-system", "page cache hints"),

	/* @sync */
	ALLOW("fsync", "@sync", "durability (git, databases)"),
	ALLOW("fdatasync", "@sync", "durability"),
	ALLOW("sync", "@sync", "durability"),
	ALLOW("syncfs", "@sync", "durability"),
	ALLOW("sync_file_range", "@sync", "durability"),
	ALLOW("msync", "@sync", "durability of mappings"),

	/* @io-event */
	ALLOW("poll", "@io-event", "event loops"),
	ALLOW("ppoll", "@io-event", "event loops"),
	ALLOW("select", "@io-event", "event loops"),
	ALLOW("pselect6", "@io-event", "event loops"),
	ALLOW("epoll_create", "@io-event", "event loops"),
	ALLOW("epoll_create1", "@io-event", "event loops"),
	ALLOW("epoll_ctl", "@io-event", "event loops"),
	ALLOW("epoll_wait", "@io-event", "event loops"),
	ALLOW("epoll_pwait", "@io-event", "event loops"),
	ALLOW("epoll_pwait2", "@io-event", "event loops"),
	ALLOW("eventfd", "@io-event", "event loops"),
	ALLOW("eventfd2", "@io-event", "event loops"),

	/* @aio: the old AIO interface, not io_uring */
	ALLOW("io_setup", "@aio", "POSIX AIO (databases)"),
	ALLOW("io_destroy", "@aio", "POSIX AIO"),
	ALLOW("io_submit", "@aio", "POSIX AIO"),
	ALLOW("io_cancel", "@aio", "POSIX AIO"),
	ALLOW("io_getevents", "@aio", "POSIX AIO"),
	ALLOW("io_pgetevents", "@aio", "POSIX AIO"),

	/* @ipc: the sandbox has its own IPC namespace */
	ALLOW("pipe", "@ipc", "pipes"),
	ALLOW("pipe2", "@ipc", "pipes"),
	ALLOW("memfd_create", "@ipc", "anonymous files (JITs, multiprocessing)"),
	ALLOW("shmget", "@ipc", "SysV shared memory, private IPC namespace"),
	ALLOW("shmat", "@ipc", "SysV shared memory"),
	ALLOW("shmdt", "@ipc", "SysV shared memory"),
	ALLOW("shmctl", "@ipc", "SysV shared memory"),
	ALLOW("semget", "@ipc", "SysV semaphores"),
	ALLOW("semop", "@ipc", "SysV semaphores"),
	ALLOW("semtimedop", "@ipc", "SysV semaphores"),
	ALLOW("semctl", "@ipc", "SysV semaphores"),
	ALLOW("msgget", "@ipc", "SysV messages"),
	ALLOW("msgsnd", "@ipc", "SysV messages"),
	ALLOW("msgrcv", "@ipc", "SysV messages"),
	ALLOW("msgctl", "@ipc", "SysV messages"),
	ALLOW("mq_open", "@ipc", "POSIX message queues"),
	ALLOW("mq_unlink", "@ipc", "POSIX message queues"),
	ALLOW("mq_timedsend", "@ipc", "POSIX message queues"),
	ALLOW("mq_timedreceive", "@ipc", "POSIX message queues"),
	ALLOW("mq_notify", "@ipc", "POSIX message queues"),
	ALLOW("mq_getsetattr", "@ipc", "POSIX message queues"),

	/* @network-io: only families listed in `socket`; the netns has only lo */
	ALLOW_IF("socket", 0, LO32, AF_UNIX, "@network-io", "AF_UNIX, and AF_INET/AF_INET6 only as TCP, UDP or ICMP: no netlink, packet or other families, no MPTCP, SCTP, DCCP, UDP-Lite or raw sockets (protocols Landlock's TCP rules do not cover)"),
	ALLOW_SOCK(AF_INET, SOCK_STREAM, 0, "TCP (default protocol)"),
	ALLOW_SOCK(AF_INET, SOCK_STREAM, IPPROTO_TCP, "TCP by number"),
	ALLOW_SOCK(AF_INET, SOCK_DGRAM, 0, "UDP (default protocol)"),
	ALLOW_SOCK(AF_INET, SOCK_DGRAM, IPPROTO_UDP, "UDP by number"),
	ALLOW_SOCK(AF_INET, SOCK_DGRAM, IPPROTO_ICMP, "ICMP echo (ping sockets, if ping_group_range allows)"),
	ALLOW_SOCK(AF_INET6, SOCK_STREAM, 0, "TCP (default protocol)"),
	ALLOW_SOCK(AF_INET6, SOCK_STREAM, IPPROTO_TCP, "TCP by number"),
	ALLOW_SOCK(AF_INET6, SOCK_DGRAM, 0, "UDP (default protocol)"),
	ALLOW_SOCK(AF_INET6, SOCK_DGRAM, IPPROTO_UDP, "UDP by number"),
	ALLOW_SOCK(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6, "ICMPv6 echo (ping sockets, if ping_group_range allows)"),
	ALLOW("socketpair", "@network-io", "AF_UNIX pairs (the kernel accepts no other family)"),
	ALLOW("bind", "@network-io", "sockets"),
	ALLOW("listen", "@network-io", "sockets"),
	ALLOW("accept", "@network-io", "sockets"),
	ALLOW("accept4", "@network-io", "sockets"),
	ALLOW("connect", "@network-io", "sockets"),
	ALLOW("getsockname", "@network-io", "sockets"),
	ALLOW("getpeername", "@network-io", "sockets"),
	ALLOW("getsockopt", "@network-io", "sockets"),
	ALLOW("setsockopt", "@network-io", "sockets"),
	ALLOW("sendto", "@network-io", "sockets"),
	ALLOW("recvfrom", "@network-io", "sockets"),
	ALLOW("sendmsg", "@network-io", "sockets, fd passing"),
	ALLOW("recvmsg", "@network-io", "sockets, fd passing"),
	ALLOW("sendmmsg", "@network-io", "sockets"),
	ALLOW("recvmmsg", "@network-io", "sockets"),
	ALLOW("shutdown", "@network-io", "sockets"),

	/* @process */
	ALLOW_IF("clone", 0, AL_CLONE_NS_FLAGS, 0, "@process", "only without namespace flags (threads, fork): no nested namespaces"),
	{ "clone3", -1, AL_SC_ENOSYS, 0, { { 0 } }, 0, 0, { 0 }, "@process",
	  "ENOSYS: its flags are in memory where BPF cannot look, so libc falls back to clone, whose flags are checked" },
	ALLOW("fork", "@process", "processes"),
	ALLOW("vfork", "@process", "processes (posix_spawn)"),
	{ "execve", -1, AL_SC_EXEC, 0, { { 0 } }, 0, 0, { 0 }, "@process",
	  "recorded by the supervisor (pid, ppid, path, argv), then continued" },
	{ "execveat", -1, AL_SC_EXEC, 0, { { 0 } }, 0, 0, { 0 }, "@process",
	  "recorded by the supervisor (pid, ppid, path, argv), then continued" },
	ALLOW("wait4", "@process", "reaping children"),
	ALLOW("waitid", "@process", "reaping children"),
	ALLOW("kill", "@process", "signals (pid namespace and Landlock scope keep them inside)"),
	ALLOW("tkill", "@process", "signals to threads"),
	ALLOW("tgkill", "@process", "signals to threads"),
	ALLOW("rt_sigqueueinfo", "@process", "queued signals"),
	ALLOW("rt_tgsigqueueinfo", "@process", "queued signals"),
	ALLOW("pidfd_open", "@process", "process handles (Python subprocess)"),
	ALLOW("pidfd_send_signal", "@process", "signals via process handles"),
	ALLOW("setsid", "@process", "sessions (shells, daemons)"),
	ALLOW("setpgid", "@process", "job control"),
	ALLOW_IF("personality", 0, LO32, AL_PER_LINUX, "@process", "only PER_LINUX or a query: no ADDR_NO_RANDOMIZE or other ASLR-weakening flags"),
	ALLOW_IF("personality", 0, LO32, AL_PER_QUERY, "@process", "personality query"),
	ALLOW_IF("seccomp", 0, LO32, SECCOMP_SET_MODE_STRICT, "@process", "further filters can only restrict; no second listener"),
	ALLOW_IF2("seccomp", 0, LO32, SECCOMP_SET_MODE_FILTER, 1, SECCOMP_FILTER_FLAG_NEW_LISTENER, 0, "@process", "filters without a listener"),
	ALLOW_IF("seccomp", 0, LO32, SECCOMP_GET_ACTION_AVAIL, "@process", "feature query"),
	ALLOW_IF("seccomp", 0, LO32, SECCOMP_GET_NOTIF_SIZES, "@process", "feature query"),
	ALLOW("landlock_create_ruleset", "@process", "further Landlock domains can only restrict"),
	ALLOW("landlock_add_rule", "@process", "further Landlock domains can only restrict"),
	ALLOW("landlock_restrict_self", "@process", "further Landlock domains can only restrict"),

	/* @credentials: inside the user namespace, without capabilities, these can only drop */
	ALLOW("setuid", "@credentials", "dropping to a mapped id"),
	ALLOW("setgid", "@credentials", "dropping to a mapped id"),
	ALLOW("setreuid", "@credentials", "dropping to a mapped id"),
	ALLOW("setregid", "@credentials", "dropping to a mapped id"),
	ALLOW("setresuid", "@credentials", "dropping to a mapped id"),
	ALLOW("setresgid", "@credentials", "dropping to a mapped id"),
	ALLOW("setfsuid", "@credentials", "dropping to a mapped id"),
	ALLOW("setfsgid", "@credentials", "dropping to a mapped id"),
	ALLOW("setgroups", "@credentials", "needs CAP_SETGID, which is not held"),

	/* @signal */
	ALLOW("rt_sigaction", "@signal", "signal handlers"),
	ALLOW("rt_sigprocmask", "@signal", "signal masks"),
	ALLOW("rt_sigpending", "@signal", "signal state"),
	ALLOW("rt_sigsuspend", "@signal", "waiting for signals"),
	ALLOW("rt_sigtimedwait", "@signal", "waiting for signals"),
	ALLOW("sigaltstack", "@signal", "signal stacks (Go, Rust)"),
	ALLOW("signalfd", "@signal", "signals as fds"),
	ALLOW("signalfd4", "@signal", "signals as fds"),
	ALLOW("pause", "@signal", "waiting for signals"),

	/* @timer and clocks (reading only; setting is @clock, denied) */
	ALLOW("clock_gettime", "@timer", "clocks (vDSO fallback)"),
	ALLOW("clock_getres", "@timer", "clocks"),
	ALLOW("clock_nanosleep", "@timer", "sleeping"),
	ALLOW("gettimeofday", "@timer", "clocks"),
	ALLOW("time", "@timer", "clocks"),
	ALLOW("nanosleep", "@timer", "sleeping"),
	ALLOW("alarm", "@timer", "timers"),
	ALLOW("getitimer", "@timer", "timers"),
	ALLOW("setitimer", "@timer", "timers"),
	ALLOW("timer_create", "@timer", "POSIX timers"),
	ALLOW("timer_delete", "@timer", "POSIX timers"),
	ALLOW("timer_settime", "@timer", "POSIX timers"),
	ALLOW("timer_gettime", "@timer", "POSIX timers"),
	ALLOW("timer_getoverrun", "@timer", "POSIX timers"),
	ALLOW("timerfd_create", "@timer", "timers as fds"),
	ALLOW("timerfd_settime", "@timer", "timers as fds"),
	ALLOW("timerfd_gettime", "@timer", "timers as fds"),

	/* @memory */
	ALLOW("mmap", "@memory", "mappings"),
	ALLOW("munmap", "@memory", "mappings"),
	ALLOW("mremap", "@memory", "mappings"),
	ALLOW("mprotect", "@memory", "mappings (JITs, loaders)"),
	ALLOW("madvise", "@memory", "mapping hints (allocators)"),
	ALLOW("mincore", "@memory", "residency query"),
	ALLOW("mlock", "@memory", "bounded by RLIMIT_MEMLOCK"),
	ALLOW("mlock2", "@memory", "bounded by RLIMIT_MEMLOCK"),
	ALLOW("munlock", "@memory", "unlocking"),
	ALLOW("mlockall", "@memory", "bounded by RLIMIT_MEMLOCK"),
	ALLOW("munlockall", "@memory", "unlocking"),
	ALLOW("remap_file_pages", "@memory", "legacy mappings"),
	ALLOW("pkey_alloc", "@memory", "memory protection keys"),
	ALLOW("pkey_free", "@memory", "memory protection keys"),
	ALLOW("pkey_mprotect", "@memory", "memory protection keys"),
	ALLOW("get_mempolicy", "@memory", "NUMA policy of self"),
	ALLOW("set_mempolicy", "@memory", "NUMA policy of self"),
	ALLOW("mbind", "@memory", "NUMA policy of own mappings"),
	ALLOW("set_mempolicy_home_node", "@memory", "NUMA policy of own mappings"),
	ALLOW("map_shadow_stack", "@memory", "CET shadow stacks (newer glibc)"),
	ALLOW_NR("mseal", 462, "@memory", "sealing own mappings (newer glibc)"),

	/* @sched: own scheduling only */
	ALLOW("sched_yield", "@sched", "scheduling"),
	ALLOW("sched_getaffinity", "@sched", "CPU count (os.cpu_count, nproc)"),
	ALLOW("sched_setaffinity", "@sched", "within the cgroup's cpuset"),
	ALLOW("sched_getparam", "@sched", "scheduling"),
	ALLOW("sched_setparam", "@sched", "scheduling (real-time needs CAP_SYS_NICE)"),
	ALLOW("sched_getscheduler", "@sched", "scheduling"),
	ALLOW("sched_setscheduler", "@sched", "scheduling (real-time needs CAP_SYS_NICE)"),
	ALLOW("sched_get_priority_max", "@sched", "scheduling"),
	ALLOW("sched_get_priority_min", "@sched", "scheduling"),
	ALLOW("sched_rr_get_interval", "@sched", "scheduling"),
	ALLOW("sched_getattr", "@sched", "scheduling"),
	ALLOW("sched_setattr", "@sched", "scheduling"),
	ALLOW("getpriority", "@sched", "nice values"),
	ALLOW("setpriority", "@sched", "nice values (raising needs CAP_SYS_NICE)"),
	ALLOW("ioprio_get", "@sched", "I/O priority"),
	ALLOW("ioprio_set", "@sched", "I/O priority"),

	/* ioctl: everything but terminal input injection */
	ALLOW_EXCEPT3("ioctl", 1, AL_TIOCSTI, AL_TIOCLINUX, AL_TIOCSETD, "@basic-io",
		      "all but TIOCSTI and TIOCLINUX, which push input into a terminal, and TIOCSETD, which can autoload a line-discipline module (low 32 bits compared, as the kernel does)"),

	/* Denied with EPERM and recorded. These are listed (rather than just
	 * left out) so the reason travels with each syscall_denied event. */
	DENY("bpf", "@bpf", "eBPF programs and maps: large kernel attack surface"),
	DENY("perf_event_open", "@debug", "performance counters: kernel attack surface and side channels"),
	DENY("userfaultfd", "@debug", "page-fault handling in user space: widens kernel race windows"),
	DENY("io_uring_setup", "@io-uring", "io_uring performs I/O (sockets, opens) the seccomp filter never sees"),
	DENY("io_uring_enter", "@io-uring", "io_uring"),
	DENY("io_uring_register", "@io-uring", "io_uring"),
	DENY("keyctl", "@keyring", "kernel keyrings are not namespaced"),
	DENY("add_key", "@keyring", "kernel keyrings are not namespaced"),
	DENY("request_key", "@keyring", "kernel keyrings are not namespaced"),
	DENY("ptrace", "@debug", "tracing other processes"),
	DENY("process_vm_readv", "@debug", "reading another process's memory"),
	DENY("process_vm_writev", "@debug", "writing another process's memory"),
	DENY("process_madvise", "@debug", "acting on another process's memory"),
	DENY("kcmp", "@debug", "comparing kernel objects of other processes"),
	DENY("pidfd_getfd", "@debug", "stealing another process's fds"),
	DENY("mount", "@mount", "mount table changes"),
	DENY("umount2", "@mount", "mount table changes"),
	DENY("fsopen", "@mount", "new mount API"),
	DENY("fsconfig", "@mount", "new mount API"),
	DENY("fsmount", "@mount", "new mount API"),
	DENY("fspick", "@mount", "new mount API"),
	DENY("move_mount", "@mount", "new mount API"),
	DENY("open_tree", "@mount", "new mount API"),
	DENY("mount_setattr", "@mount", "new mount API"),
	DENY("pivot_root", "@mount", "changing the root"),
	DENY("chroot", "@mount", "changing the root"),
	DENY("unshare", "@namespaces", "new namespaces (nested user namespaces are kernel attack surface)"),
	DENY("setns", "@namespaces", "entering namespaces"),
	DENY("kexec_load", "@reboot", "replacing the kernel"),
	DENY("kexec_file_load", "@reboot", "replacing the kernel"),
	DENY("reboot", "@reboot", "rebooting"),
	DENY("init_module", "@module", "kernel modules"),
	DENY("finit_module", "@module", "kernel modules"),
	DENY("delete_module", "@module", "kernel modules"),
	DENY("open_by_handle_at", "@file-system", "opens files by handle, bypassing path checks (the shocker escape)"),
	DENY("name_to_handle_at", "@file-system", "file handles, the other half of open_by_handle_at"),
	DENY("swapon", "@swap", "swap devices"),
	DENY("swapoff", "@swap", "swap devices"),
	DENY("syslog", "@privileged", "kernel log"),
	DENY("acct", "@privileged", "process accounting"),
	DENY("quotactl", "@privileged", "disk quotas"),
	DENY("quotactl_fd", "@privileged", "disk quotas"),
	DENY("settimeofday", "@clock", "setting the system clock"),
	DENY("clock_settime", "@clock", "setting the system clock"),
	DENY("clock_adjtime", "@clock", "adjusting the system clock"),
	DENY("adjtimex", "@clock", "adjusting the system clock"),
	DENY("iopl", "@raw-io", "raw port I/O"),
	DENY("ioperm", "@raw-io", "raw port I/O"),
	DENY("modify_ldt", "@cpu-emulation", "16-bit segments, a source of kernel bugs"),
	DENY("lookup_dcookie", "@privileged", "profiling internals"),
	DENY("vhangup", "@privileged", "terminal hangup"),
	DENY("sethostname", "@privileged", "hostname is set by airlock"),
	DENY("setdomainname", "@privileged", "domain name is set by airlock"),
	DENY("fanotify_init", "@privileged", "filesystem-wide monitoring"),
	DENY("memfd_secret", "@memory", "secret memory hidden from the kernel's own inspection"),
	DENY("uselib", "@obsolete", "obsolete a.out loader"),
	DENY("_sysctl", "@obsolete", "obsolete sysctl interface"),
	DENY("nfsservctl", "@obsolete", "obsolete NFS server control"),
};
/* clang-format on */

struct al_seccomp {
	struct sock_filter *insns;
	size_t n_insns;
	bool notify;      /* USER_NOTIF actions present: install with NEW_LISTENER */
	unsigned n_rules; /* libseccomp rules added */
};

const struct al_seccomp_rule *al_seccomp_rules(size_t *n)
{
	*n = AL_ARRAY_SIZE(rules);
	return rules;
}

int al_seccomp_rule_nr(const struct al_seccomp_rule *r)
{
	int nr = seccomp_syscall_resolve_name(r->name);

	if (nr >= 0)
		return nr;
#ifdef __x86_64__
	return r->fallback_nr;
#else
	return -1;
#endif
}

const struct al_seccomp_rule *al_seccomp_rule_lookup(int nr)
{
	for (size_t i = 0; i < AL_ARRAY_SIZE(rules); i++)
		if (al_seccomp_rule_nr(&rules[i]) == nr)
			return &rules[i];
	return NULL;
}

const char *al_seccomp_syscall_name(int nr, char *buf, size_t len)
{
	_cleanup_free_ char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	if (name != NULL) {
		snprintf(buf, len, "%s", name);
		return buf;
	}
	for (size_t i = 0; i < AL_ARRAY_SIZE(rules); i++) {
		if (rules[i].fallback_nr == nr) {
			snprintf(buf, len, "%s", rules[i].name);
			return buf;
		}
	}
	snprintf(buf, len, "nr_%d", nr);
	return buf;
}

/* Whether this kernel can deliver SECCOMP_RET_USER_NOTIF (5.0+). */
__attribute__((unused)) /* not in seccomp-gen */
static bool kernel_has_user_notif(void)
{
	uint32_t action = SECCOMP_RET_USER_NOTIF;

	return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

static uint32_t action_of(enum al_seccomp_action a, bool notify)
{
	switch (a) {
	case AL_SC_ALLOW:
		return SCMP_ACT_ALLOW;
	case AL_SC_DENY:
		return notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM);
	case AL_SC_EXEC:
		/* Without a listener an exec can only be allowed, unrecorded
		 * (the degradation the user accepted). */
		return notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ALLOW;
	case AL_SC_ENOSYS:
		return SCMP_ACT_ERRNO(ENOSYS);
	}
	return SCMP_ACT_KILL_PROCESS;
}

/*
 * "allow unless low32(arg) is a or b", with only masked-equality compares
 * (libseccomp has no masked not-equal, and an unconditional allow row would
 * swallow any deny row for the same syscall). The complement of {a, b} is
 * the union of: one cube per bit where a and b agree (that bit differs from
 * theirs), and one cube per pattern of the bits where they differ, other
 * than a's and b's. Comparing only the low 32 bits matters: the kernel
 * truncates ioctl's cmd to unsigned int, so a compare on all 64 bits could
 * be passed with junk in the high half.
 */
/*
 * The same for any (small) number of excluded values, by the binary trie of
 * the set: walking each excluded value from the top bit down, the subtree
 * that branches off at bit k (same bits above k, the other value at k) is
 * one masked-equality cube; it joins the union unless an excluded value
 * lies in it (then that value's own walk covers it further down). Every
 * value outside the set lies in exactly one such cube, no excluded value in
 * any.
 */
static int add_allow_except_many(scmp_filter_ctx ctx, int nr, const struct al_seccomp_rule *r,
                                 unsigned *count, struct al_error *err)
{
	uint32_t seen_mask[AL_SC_MAX_EXCEPT * 32], seen_val[AL_SC_MAX_EXCEPT * 32];
	unsigned n_seen = 0;
	int rc;

	for (unsigned i = 0; i < r->n_except; i++) {
		for (int k = 31; k >= 0; k--) {
			uint32_t mask = ~((1u << k) - 1u), val = (r->except[i] & mask) ^ (1u << k);
			bool skip = false;
			for (unsigned e = 0; e < r->n_except && !skip; e++)
				skip = (r->except[e] & mask) == val;
			for (unsigned q = 0; q < n_seen && !skip; q++)
				skip = seen_mask[q] == mask && seen_val[q] == val;
			if (skip)
				continue;
			seen_mask[n_seen] = mask;
			seen_val[n_seen++] = val;
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			                      SCMP_CMP(r->except_idx, SCMP_CMP_MASKED_EQ, mask, val));
			if (rc < 0)
				return al_error_set(err, -rc, "seccomp", "seccomp_rule_add %s",
				                    r->name);
			(*count)++;
		}
	}
	return 0;
}

static int add_allow_except(scmp_filter_ctx ctx, int nr, const struct al_seccomp_rule *r,
                            unsigned *count, struct al_error *err)
{
	if (r->n_except > 2)
		return add_allow_except_many(ctx, nr, r, count, err);
	uint32_t a = r->except[0], b = r->n_except > 1 ? r->except[1] : r->except[0];
	uint32_t diff = a ^ b;
	int rc;

	for (unsigned bit = 0; bit < 32; bit++) {
		uint32_t m = 1u << bit;
		if (diff & m)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		                      SCMP_CMP(r->except_idx, SCMP_CMP_MASKED_EQ, m, (~a) & m));
		if (rc < 0)
			return al_error_set(err, -rc, "seccomp", "seccomp_rule_add %s", r->name);
		(*count)++;
	}
	/* every sub-pattern of diff, by the standard submask walk */
	for (uint32_t p = diff;; p = (p - 1) & diff) {
		if (p != (a & diff) && p != (b & diff)) {
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			                      SCMP_CMP(r->except_idx, SCMP_CMP_MASKED_EQ, diff, p));
			if (rc < 0)
				return al_error_set(err, -rc, "seccomp", "seccomp_rule_add %s",
				                    r->name);
			(*count)++;
		}
		if (p == 0)
			break;
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct al_seccomp_rule *r, uint32_t def, bool notify,
                    unsigned *count, struct al_error *err)
{
	struct scmp_arg_cmp cmp[3];
	uint32_t act = action_of(r->action, notify);
	int nr = al_seccomp_rule_nr(r);
	int rc;

	if (nr < 0)
		return al_error_set(err, ENOSYS, "seccomp", "syscall %s is unknown to libseccomp",
		                    r->name);
	if (r->n_except > 0)
		return add_allow_except(ctx, nr, r, count, err);
	/* A deny row whose action is the default is documentation (and the
	 * reason for the supervisor); libseccomp refuses such a row. */
	if (act == def)
		return 0;
	for (unsigned i = 0; i < r->n_conds; i++)
		cmp[i] = (struct scmp_arg_cmp){.arg = r->conds[i].idx,
		                               .op = SCMP_CMP_MASKED_EQ,
		                               .datum_a = r->conds[i].mask,
		                               .datum_b = r->conds[i].value};
	rc = seccomp_rule_add_array(ctx, act, nr, r->n_conds, r->n_conds ? cmp : NULL);
	if (rc < 0)
		return al_error_set(err, -rc, "seccomp", "seccomp_rule_add %s", r->name);
	(*count)++;
	return 0;
}

static void ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/* libseccomp 2.5 exports only to an fd: go through a memfd and keep the
 * program in memory, so the child has nothing to do but call seccomp(2). */
static int export_program(scmp_filter_ctx ctx, struct al_seccomp *sc, struct al_error *err)
{
	_cleanup_close_ int fd = memfd_create("airlock-seccomp", MFD_CLOEXEC);
	struct stat st;
	ssize_t n;
	int rc;

	if (fd < 0)
		return al_error_errno(err, "seccomp", "memfd_create for the BPF export");
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		return al_error_set(err, -rc, "seccomp", "seccomp_export_bpf");
	if (fstat(fd, &st) < 0)
		return al_error_errno(err, "seccomp", "fstat BPF export");
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return al_error_set(err, E2BIG, "seccomp", "BPF program of %lld bytes",
		                    (long long)st.st_size);
	sc->insns = malloc(st.st_size);
	if (sc->insns == NULL)
		return al_error_set(err, ENOMEM, "seccomp", "allocating the BPF program");
	n = pread(fd, sc->insns, st.st_size, 0);
	if (n != st.st_size)
		return al_error_set(err, n < 0 ? errno : EIO, "seccomp", "reading the BPF export");
	sc->n_insns = st.st_size / sizeof(struct sock_filter);
	return 0;
}

int al_seccomp_compile(struct al_seccomp **out, bool notify, struct al_error *err)
{
	__attribute__((cleanup(ctx_releasep))) scmp_filter_ctx ctx = NULL;
	struct al_seccomp *sc;
	uint32_t def;
	int rc;

	*out = NULL;
	sc = calloc(1, sizeof *sc);
	if (sc == NULL)
		return al_error_set(err, ENOMEM, "seccomp", "allocating the filter");
	sc->notify = notify;
	/* Not listed: EPERM, and recorded when a listener exists. */
	def = notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM);
	ctx = seccomp_init(def);
	if (ctx == NULL) {
		free(sc);
		return al_error_set(err, ENOMEM, "seccomp", "seccomp_init");
	}
	/* Only the native ABI: i386 (int 0x80) and x32 calls kill the process,
	 * they reach different syscall tables the rules do not describe. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc == 0)
		/* the child sets no_new_privs itself, in its own step */
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* libseccomp's binary tree layout (SCMP_FLTATR_CTL_OPTIMIZE=2): the
	 * program is compiled at build time, so its extra compile cost is paid
	 * once; in return every uncached call (ioctl, socket, clone) walks
	 * O(log n) instead of O(n) instructions, and so does the kernel when it
	 * emulates the filter for each syscall number to build its
	 * constant-action cache at install time, on every sandbox start. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (rc < 0) {
		free(sc);
		return al_error_set(err, -rc, "seccomp", "seccomp_attr_set");
	}
	for (size_t i = 0; i < AL_ARRAY_SIZE(rules); i++) {
		rc = add_rule(ctx, &rules[i], def, notify, &sc->n_rules, err);
		if (rc < 0) {
			free(sc);
			return rc;
		}
	}
	rc = export_program(ctx, sc, err);
	if (rc < 0) {
		al_seccomp_free(sc);
		return rc;
	}
	*out = sc;
	return 0;
}

/* seccomp-gen (the build-time compiler of this table) is built from this
 * file too, before any embedded program exists: it leaves out what uses one. */
#ifndef AL_SECCOMP_GENERATOR
int al_seccomp_prepare(struct al_seccomp **out, const struct al_spec *spec, struct al_error *err)
{
	bool notify = kernel_has_user_notif();

	*out = NULL;
	if (!notify && !(spec->allow_degraded & AL_DEGRADE_SECCOMP_NOTIFY))
		return al_error_set(
		    err, ENOSYS, "seccomp",
		    "this kernel lacks seccomp user notification (needed to record execs and "
		    "denied syscalls); "
		    "allow the degradation 'seccomp-notify' to run without those records");
	return al_seccomp_embedded(out, notify, err);
}

/* The program seccomp-gen compiled from this table at build time. */
extern const struct sock_filter al_seccomp_embedded_notify[], al_seccomp_embedded_plain[];
extern const size_t al_seccomp_embedded_notify_len, al_seccomp_embedded_plain_len;

int al_seccomp_embedded(struct al_seccomp **out, bool notify, struct al_error *err)
{
	const struct sock_filter *src = notify ? al_seccomp_embedded_notify : al_seccomp_embedded_plain;
	size_t n = notify ? al_seccomp_embedded_notify_len : al_seccomp_embedded_plain_len;
	struct al_seccomp *sc = calloc(1, sizeof *sc);

	if (sc == NULL || (sc->insns = malloc(n * sizeof *sc->insns)) == NULL) {
		free(sc);
		return al_error_set(err, ENOMEM, "seccomp", "allocating the filter");
	}
	memcpy(sc->insns, src, n * sizeof *sc->insns);
	sc->n_insns = n;
	sc->notify = notify;
	*out = sc;
	return 0;
}
#endif /* AL_SECCOMP_GENERATOR */

int al_seccomp_child_setup(const struct al_seccomp *sc, int *listener_out, struct al_error *err)
{
	struct sock_fprog prog = {.len = (unsigned short)sc->n_insns, .filter = sc->insns};
	unsigned long flags = 0;
	long fd;

	*listener_out = -1;
	/* Order check, fail closed: without no_new_privs seccomp(2) would need
	 * CAP_SYS_ADMIN, and a caller that forgot the step must not go on. */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return al_error_set(err, EPERM, "seccomp",
		                    "installing the seccomp filter: no_new_privs is not set");
	if (sc->notify)
		/* WAIT_KILLABLE_RECV: once the supervisor holds an exec notification,
		 * only a fatal signal interrupts it, so it is not replayed. */
		flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (fd < 0 && errno == EINVAL && sc->notify) {
		flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV; /* kernels before 5.19 */
		fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	}
	if (fd < 0)
		return al_error_errno(err, "seccomp", "seccomp(SECCOMP_SET_MODE_FILTER)");
	if (sc->notify) {
		/* the kernel makes it CLOEXEC; say so anyway rather than rely on it */
		if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
			int e = errno;
			close((int)fd);
			return al_error_set(err, e, "seccomp", "fcntl seccomp listener");
		}
		*listener_out = (int)fd;
	}
	return 0;
}

int al_seccomp_notify_enabled(const struct al_seccomp *sc)
{
	return sc->notify;
}

int al_seccomp_divert_to_listener(struct al_seccomp *sc, const int *nrs, size_t n,
                                  struct al_error *err)
{
	/* ld arch; jne native -> policy; ld nr; (jeq nr_i -> notify)*; ja policy; ret notify */
	size_t pro = 3 + n + 2, total = pro + sc->n_insns;
	struct sock_filter *p;
	size_t i;

	if (!sc->notify)
		return al_error_set(err, EINVAL, "seccomp",
		                    "chaos syscall faults need the seccomp listener (not available: "
		                    "seccomp-notify is degraded)");
	/* conditional jumps reach at most 255 instructions ahead */
	if (n == 0 || n + 4 > 255 || total > BPF_MAXINSNS)
		return al_error_set(err, E2BIG, "seccomp", "%zu chaos syscalls: too many", n);
	p = calloc(total, sizeof *p);
	if (p == NULL)
		return al_error_set(err, ENOMEM, "seccomp", "allocating the chaos filter");
	p[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	                                    offsetof(struct seccomp_data, arch));
	/* a foreign arch goes to the policy, which kills it */
	p[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0,
	                                    (uint8_t)(pro - 2));
	p[2] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	                                    offsetof(struct seccomp_data, nr));
	for (i = 0; i < n; i++)
		p[3 + i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nrs[i],
		                                        (uint8_t)(n - i), 0);
	p[3 + n] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 1);
	p[4 + n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	memcpy(p + pro, sc->insns, sc->n_insns * sizeof *p);
	free(sc->insns);
	sc->insns = p;
	sc->n_insns = total;
	return 0;
}

const void *al_seccomp_program(const struct al_seccomp *sc, size_t *n_insns)
{
	*n_insns = sc->n_insns;
	return sc->insns;
}

void al_seccomp_describe(const struct al_seccomp *sc, struct al_json *j)
{
	al_json_obj_begin(j);
	al_json_kv_str(j, "mode", "allowlist");
	al_json_kv_str(j, "default", sc->notify ? "EPERM, recorded" : "EPERM");
	al_json_kv_bool(j, "notify", sc->notify);
	al_json_kv_bool(j, "exec_recorded", sc->notify);
	al_json_kv_str(j, "foreign_arch", "kill");
	al_json_kv_uint(j, "table_rows", AL_ARRAY_SIZE(rules));
	al_json_kv_uint(j, "bpf_insns", sc->n_insns);
	al_json_obj_end(j);
}

void al_seccomp_free(struct al_seccomp *sc)
{
	if (sc == NULL)
		return;
	free(sc->insns);
	free(sc);
}
