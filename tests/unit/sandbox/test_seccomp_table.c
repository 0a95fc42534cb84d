/* Unit tests for the seccomp policy: the table (every syscall issue 3 names
 * is denied, every row resolves) and the compiled program, run through a
 * small classic-BPF interpreter: foreign ABIs are killed, denied calls go to
 * the listener, argument rules compare what the kernel compares, and hot
 * syscalls are decided without looking at arguments (so the kernel's
 * constant-action cache can answer them). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cmocka.h>
#include <seccomp.h>

#include "sandbox/seccomp.h"
#include "spec/spec.h"

/* ---- a classic BPF interpreter over struct seccomp_data ---------------- */

struct emu_result {
	uint32_t ret;
	bool ok;         /* program ran to a RET */
	bool const_path; /* only what the kernel's constant-action check accepts:
	                    loads of nr/arch, JA/JEQ/JGE/JGT/JSET with K, AND with K, RET K */
};

static struct emu_result emulate(const struct sock_filter *f, size_t n,
                                 const struct seccomp_data *d)
{
	struct emu_result res = {0, false, true};
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {0};
	size_t pc = 0;

	for (unsigned steps = 0; pc < n && steps < 100000; steps++) {
		const struct sock_filter *in = &f[pc++];
		uint16_t code = in->code;
		uint32_t src = BPF_SRC(code) == BPF_X ? X : in->k;

		switch (BPF_CLASS(code)) {
		case BPF_LD:
			if (code == (BPF_LD | BPF_W | BPF_ABS)) {
				if (in->k + 4 > sizeof *d || in->k % 4)
					return res;
				memcpy(&A, (const char *)d + in->k, 4);
				if (in->k != offsetof(struct seccomp_data, nr) &&
				    in->k != offsetof(struct seccomp_data, arch))
					res.const_path = false;
			} else if (code == (BPF_LD | BPF_IMM)) {
				A = in->k;
				res.const_path = false;
			} else if (code == (BPF_LD | BPF_MEM)) {
				A = M[in->k % BPF_MEMWORDS];
				res.const_path = false;
			} else {
				return res;
			}
			break;
		case BPF_LDX:
			res.const_path = false;
			if (code == (BPF_LDX | BPF_IMM))
				X = in->k;
			else if (code == (BPF_LDX | BPF_MEM))
				X = M[in->k % BPF_MEMWORDS];
			else
				return res;
			break;
		case BPF_ST:
			res.const_path = false;
			M[in->k % BPF_MEMWORDS] = A;
			break;
		case BPF_STX:
			res.const_path = false;
			M[in->k % BPF_MEMWORDS] = X;
			break;
		case BPF_ALU:
			if (!(BPF_OP(code) == BPF_AND && BPF_SRC(code) == BPF_K))
				res.const_path = false;
			switch (BPF_OP(code)) {
			case BPF_ADD:
				A += src;
				break;
			case BPF_SUB:
				A -= src;
				break;
			case BPF_AND:
				A &= src;
				break;
			case BPF_OR:
				A |= src;
				break;
			case BPF_LSH:
				A <<= src;
				break;
			case BPF_RSH:
				A >>= src;
				break;
			case BPF_NEG:
				A = -A;
				break;
			default:
				return res;
			}
			break;
		case BPF_JMP: {
			bool t;
			if (BPF_SRC(code) == BPF_X)
				res.const_path = false;
			switch (BPF_OP(code)) {
			case BPF_JA:
				pc += in->k;
				continue;
			case BPF_JEQ:
				t = A == src;
				break;
			case BPF_JGT:
				t = A > src;
				break;
			case BPF_JGE:
				t = A >= src;
				break;
			case BPF_JSET:
				t = (A & src) != 0;
				break;
			default:
				return res;
			}
			pc += t ? in->jt : in->jf;
			break;
		}
		case BPF_RET:
			if (BPF_RVAL(code) != BPF_K)
				res.const_path = false;
			res.ret = BPF_RVAL(code) == BPF_A ? A : in->k;
			res.ok = true;
			return res;
		case BPF_MISC:
			res.const_path = false;
			if (BPF_MISCOP(code) == BPF_TAX)
				X = A;
			else
				A = X;
			break;
		default:
			return res;
		}
	}
	return res;
}

static struct al_seccomp *sc;
static const struct sock_filter *prog;
static size_t prog_len;

static int setup(void **state)
{
	struct al_spec spec;
	struct al_error err = {0};

	(void)state;
	al_spec_init(&spec);
	if (al_seccomp_prepare(&sc, &spec, &err) < 0) {
		fprintf(stderr, "al_seccomp_prepare: %s\n", err.msg);
		return -1;
	}
	prog = al_seccomp_program(sc, &prog_len);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	al_seccomp_free(sc);
	return 0;
}

static struct emu_result run(uint32_t arch, int nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct seccomp_data d = {.nr = nr, .arch = arch, .args = {a0, a1, a2}};
	struct emu_result r = emulate(prog, prog_len, &d);

	assert_true(r.ok);
	return r;
}

static uint32_t act4(int nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct seccomp_data d = {.nr = nr, .arch = AUDIT_ARCH_X86_64, .args = {a0, a1, a2, a3}};
	struct emu_result r = emulate(prog, prog_len, &d);

	assert_true(r.ok);
	return r.ret;
}

static uint32_t act(int nr, uint64_t a0, uint64_t a1)
{
	return run(AUDIT_ARCH_X86_64, nr, a0, a1, 0).ret;
}

/* ---- the table ---------------------------------------------------------- */

static const char *const must_deny[] = {
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "fsopen",
    "fsmount",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "fsconfig",
    "fspick",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "name_to_handle_at",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "acct",
    "quotactl",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "clock_adjtime",
};

static void every_row_resolves_and_has_a_reason(void **state)
{
	size_t n;
	const struct al_seccomp_rule *r = al_seccomp_rules(&n);

	(void)state;
	assert_true(n > 250);
	for (size_t i = 0; i < n; i++) {
		if (al_seccomp_rule_nr(&r[i]) < 0)
			fail_msg("row %s does not resolve to a syscall number", r[i].name);
		assert_non_null(r[i].reason);
		assert_true(strlen(r[i].reason) > 3);
		assert_non_null(r[i].group);
		assert_true(r[i].n_conds <= 3 && r[i].n_except <= AL_SC_MAX_EXCEPT);
	}
}

static void every_named_syscall_is_denied_in_the_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof must_deny / sizeof *must_deny; i++) {
		int nr = seccomp_syscall_resolve_name(must_deny[i]);
		const struct al_seccomp_rule *r = al_seccomp_rule_lookup(nr);
		if (r == NULL || r->action != AL_SC_DENY)
			fail_msg("%s is not a deny row", must_deny[i]);
		/* and the compiled program agrees: to the listener */
		if (act(nr, 0, 0) != SECCOMP_RET_USER_NOTIF)
			fail_msg("%s does not reach the listener", must_deny[i]);
	}
}

static void no_syscall_is_listed_twice_with_different_actions(void **state)
{
	size_t n;
	const struct al_seccomp_rule *r = al_seccomp_rules(&n);

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			if (strcmp(r[i].name, r[k].name) == 0 && r[i].action != r[k].action)
				fail_msg("%s has conflicting rows", r[i].name);
}

/* ---- the compiled program ----------------------------------------------- */

static void foreign_architectures_are_killed(void **state)
{
	(void)state;
	/* i386 (int 0x80): its getpid is 20 */
	assert_int_equal(run(AUDIT_ARCH_I386, 20, 0, 0, 0).ret, SECCOMP_RET_KILL_PROCESS);
	/* x32: the x86_64 arch with bit 30 set in the number */
	assert_int_equal(run(AUDIT_ARCH_X86_64, 0x40000000 | __NR_getpid, 0, 0, 0).ret,
	                 SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(run(AUDIT_ARCH_X86_64, 0x40000000 | __NR_execve, 0, 0, 0).ret,
	                 SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(run(AUDIT_ARCH_AARCH64, __NR_getpid, 0, 0, 0).ret,
	                 SECCOMP_RET_KILL_PROCESS);
}

static void hot_syscalls_are_constant_allow(void **state)
{
	static const int hot[] = {__NR_getppid,    __NR_read,          __NR_write, __NR_futex,
	                          __NR_mmap,       __NR_close,         __NR_fstat, __NR_newfstatat,
	                          __NR_epoll_wait, __NR_clock_gettime, __NR_brk,   __NR_lseek};
	size_t n;
	const struct al_seccomp_rule *r = al_seccomp_rules(&n);

	(void)state;
	for (size_t i = 0; i < sizeof hot / sizeof *hot; i++) {
		/* junk in every argument must not matter */
		struct emu_result e = run(AUDIT_ARCH_X86_64, hot[i], ~0ull, 0x1234, ~0ull);
		assert_int_equal(e.ret, SECCOMP_RET_ALLOW);
		if (!e.const_path)
			fail_msg("syscall %d looks at arguments: not cacheable", hot[i]);
	}
	/* the interpreter does tell: an argument rule is not constant */
	assert_false(run(AUDIT_ARCH_X86_64, __NR_socket, AF_UNIX, 0, 0).const_path);
	assert_false(run(AUDIT_ARCH_X86_64, __NR_ioctl, 0, TCGETS, 0).const_path);
	/* and so is every unconditional allow row */
	for (size_t i = 0; i < n; i++) {
		if (r[i].action != AL_SC_ALLOW || r[i].n_conds || r[i].n_except)
			continue;
		struct emu_result e = run(AUDIT_ARCH_X86_64, al_seccomp_rule_nr(&r[i]), 7, 7, 7);
		if (e.ret != SECCOMP_RET_ALLOW || !e.const_path)
			fail_msg("%s: ret %#x const %d", r[i].name, e.ret, e.const_path);
	}
}

static void exec_goes_to_the_listener(void **state)
{
	(void)state;
	assert_int_equal(act(__NR_execve, 0, 0), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_execveat, 0, 0), SECCOMP_RET_USER_NOTIF);
}

static void unlisted_syscalls_are_denied_and_recorded(void **state)
{
	(void)state;
	assert_int_equal(act(__NR_iopl, 0, 0), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_lookup_dcookie, 0, 0), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(999, 0, 0), SECCOMP_RET_USER_NOTIF);
}

static void clone_with_namespace_flags_is_denied(void **state)
{
	(void)state;
	/* glibc's fork and pthread_create flags */
	assert_int_equal(act(__NR_clone, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, 0),
	                 SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_clone,
	                     CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
	                         CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
	                         CLONE_CHILD_CLEARTID,
	                     0),
	                 SECCOMP_RET_ALLOW);
	static const uint64_t ns[] = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,   CLONE_NEWNET,
	                              CLONE_NEWUTS,  CLONE_NEWIPC, CLONE_NEWCGROUP};
	for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
		assert_int_equal(act(__NR_clone, ns[i] | SIGCHLD, 0), SECCOMP_RET_USER_NOTIF);
	/* clone3 keeps its flags in memory: ENOSYS, so libc falls back to clone */
	assert_int_equal(act(__NR_clone3, 0, 0), SECCOMP_RET_ERRNO | ENOSYS);
}

static void ioctl_terminal_injection_is_denied(void **state)
{
	(void)state;
	assert_int_equal(act(__NR_ioctl, 0, TIOCSTI), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_ioctl, 0, TIOCLINUX), SECCOMP_RET_USER_NOTIF);
	/* the kernel truncates cmd to 32 bits: junk above must not help */
	assert_int_equal(act(__NR_ioctl, 0, 0xffffffff00000000ull | TIOCSTI),
	                 SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_ioctl, 0, 0x100000000ull | TIOCLINUX), SECCOMP_RET_USER_NOTIF);
	/* everything else works, including a sign-extended _IOR/_IOW command */
	assert_int_equal(act(__NR_ioctl, 0, TCGETS), SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_ioctl, 0, FIONREAD), SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_ioctl, 0, TIOCGWINSZ), SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_ioctl, 0, 0xffffffffc0045406ull), SECCOMP_RET_ALLOW);
	/* TIOCSETD: a line discipline not built in is loaded as a module */
	assert_int_equal(act(__NR_ioctl, 0, TIOCSETD), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_ioctl, 0, 0xdead00000000ull | TIOCSETD), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_ioctl, 0, TIOCGETD), SECCOMP_RET_ALLOW);
	/* neighbours of the denied values */
	for (uint32_t c = 0x5400; c < 0x5440; c++) {
		uint32_t want = (c == TIOCSTI || c == TIOCLINUX || c == TIOCSETD)
		                    ? SECCOMP_RET_USER_NOTIF
		                    : SECCOMP_RET_ALLOW;
		assert_int_equal(act(__NR_ioctl, 0, c), want);
	}
	/* and a sweep of single-bit neighbours and far values */
	for (int b = 0; b < 32; b++) {
		assert_int_equal(act(__NR_ioctl, 0, TIOCSETD ^ (1u << b)), SECCOMP_RET_ALLOW);
		assert_int_equal(act(__NR_ioctl, 0, TIOCSTI ^ (1u << b)), SECCOMP_RET_ALLOW);
		assert_int_equal(act(__NR_ioctl, 0, TIOCLINUX ^ (1u << b)), SECCOMP_RET_ALLOW);
	}
	for (uint64_t c = 0; c < 0x100000000ull; c += 0x10001ull)
		assert_int_equal(act(__NR_ioctl, 0, c),
		                 (c == TIOCSTI || c == TIOCLINUX || c == TIOCSETD)
		                     ? SECCOMP_RET_USER_NOTIF
		                     : SECCOMP_RET_ALLOW);
}

static void only_three_socket_families(void **state)
{
	(void)state;
	assert_int_equal(act(__NR_socket, AF_UNIX, SOCK_STREAM), SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_socket, AF_INET, SOCK_STREAM), SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_socket, AF_INET6, SOCK_DGRAM), SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_socket, AF_NETLINK, SOCK_RAW), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_socket, AF_PACKET, SOCK_RAW), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_socket, AF_VSOCK, SOCK_STREAM), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_socket, AF_BLUETOOTH, SOCK_STREAM), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_socketpair, AF_UNIX, SOCK_STREAM), SECCOMP_RET_ALLOW);
}

/* AF_INET/AF_INET6 only as TCP, UDP or ICMP: MPTCP passed Landlock's TCP
 * rules, and SCTP, DCCP and UDP-Lite are protocols the policy never meant. */
static void only_tcp_udp_icmp_protocols(void **state)
{
	static const int fams[] = {AF_INET, AF_INET6};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		uint64_t f = (uint64_t)fams[i];
		uint64_t icmp = fams[i] == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_STREAM, 0).ret,
		                 SECCOMP_RET_ALLOW);
		assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_socket, f,
		                     SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP)
		                     .ret,
		                 SECCOMP_RET_ALLOW);
		assert_int_equal(
		    run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_DGRAM | SOCK_CLOEXEC, 0).ret,
		    SECCOMP_RET_ALLOW);
		assert_int_equal(
		    run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_DGRAM, IPPROTO_UDP).ret,
		    SECCOMP_RET_ALLOW);
		assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_DGRAM, icmp).ret,
		                 SECCOMP_RET_ALLOW);
		assert_int_equal(
		    run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_STREAM, 262 /* MPTCP */).ret,
		    SECCOMP_RET_USER_NOTIF);
		assert_int_equal(
		    run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_STREAM, 0x100000000ull | 262).ret,
		    SECCOMP_RET_USER_NOTIF);
		assert_int_equal(
		    run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_STREAM, IPPROTO_SCTP).ret,
		    SECCOMP_RET_USER_NOTIF);
		assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_SEQPACKET, 0).ret,
		                 SECCOMP_RET_USER_NOTIF);
		assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_DCCP, 0).ret,
		                 SECCOMP_RET_USER_NOTIF);
		assert_int_equal(
		    run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_DGRAM, IPPROTO_UDPLITE).ret,
		    SECCOMP_RET_USER_NOTIF);
		assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_RAW, IPPROTO_TCP).ret,
		                 SECCOMP_RET_USER_NOTIF);
		assert_int_equal(
		    run(AUDIT_ARCH_X86_64, __NR_socket, f, SOCK_STREAM, IPPROTO_UDP).ret,
		    SECCOMP_RET_USER_NOTIF);
	}
}

/* No file is created or changed setuid/setgid, whichever call sets the mode
 * (docs/isolation.md: volumes are the host's files). */
static void setid_modes_are_denied(void **state)
{
	static const uint64_t bad[] = {S_ISUID, S_ISGID, S_ISUID | S_ISGID | 0755, 04755,
	                               0xffffffff00000000ull | 02755};
	static const uint64_t good[] = {0, 0644, 0755, 01777, 0777, 0xffffffff00000000ull | 0755};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		uint64_t m = bad[i];
		assert_int_equal(act(__NR_chmod, 0, m), SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act(__NR_fchmod, 3, m), SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act4(__NR_fchmodat, AT_FDCWD, 0, m, 0), SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act4(452 /* fchmodat2 */, AT_FDCWD, 0, m, 0),
		                 SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act(__NR_creat, 0, m), SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act(__NR_mkdir, 0, m), SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act4(__NR_mkdirat, AT_FDCWD, 0, m, 0), SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act(__NR_mknod, 0, S_IFIFO | m), SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act4(__NR_mknodat, AT_FDCWD, 0, S_IFREG | m, 0),
		                 SECCOMP_RET_USER_NOTIF);
		assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_open, 0, O_CREAT | O_WRONLY, m).ret,
		                 SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act4(__NR_openat, AT_FDCWD, 0, O_CREAT | O_EXCL | O_RDWR, m),
		                 SECCOMP_RET_USER_NOTIF);
		assert_int_equal(act4(__NR_openat, AT_FDCWD, 0, O_TMPFILE | O_RDWR, m),
		                 SECCOMP_RET_USER_NOTIF);
	}
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		uint64_t m = good[i];
		assert_int_equal(act(__NR_chmod, 0, m), SECCOMP_RET_ALLOW);
		assert_int_equal(act(__NR_fchmod, 3, m), SECCOMP_RET_ALLOW);
		assert_int_equal(act4(__NR_fchmodat, AT_FDCWD, 0, m, 0), SECCOMP_RET_ALLOW);
		assert_int_equal(act4(452, AT_FDCWD, 0, m, 0), SECCOMP_RET_ALLOW);
		assert_int_equal(act(__NR_mkdir, 0, m), SECCOMP_RET_ALLOW);
		assert_int_equal(act4(__NR_mknodat, AT_FDCWD, 0, S_IFIFO | m, 0),
		                 SECCOMP_RET_ALLOW);
		assert_int_equal(act4(__NR_openat, AT_FDCWD, 0, O_CREAT | O_WRONLY, m),
		                 SECCOMP_RET_ALLOW);
	}
	/* without O_CREAT/O_TMPFILE the mode argument is junk the kernel ignores */
	assert_int_equal(act4(__NR_openat, AT_FDCWD, 0, O_RDONLY, 06777), SECCOMP_RET_ALLOW);
	assert_int_equal(act4(__NR_openat, AT_FDCWD, 0, O_RDWR | O_DIRECTORY, ~0ull),
	                 SECCOMP_RET_ALLOW);
	/* openat2 carries its mode in memory: ENOSYS, libc and runtimes fall back */
	assert_int_equal(act(437 /* openat2 */, 0, 0), SECCOMP_RET_ERRNO | ENOSYS);
}

/* RLIMIT_CORE stays at 1 (what stops pipe core dumps): no lowering to 0. */
static void core_limit_cannot_be_changed(void **state)
{
	(void)state;
	assert_int_equal(act(__NR_setrlimit, RLIMIT_CORE, 0x1000), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_setrlimit, 0x100000000ull | RLIMIT_CORE, 0x1000),
	                 SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_setrlimit, RLIMIT_NOFILE, 0x1000), SECCOMP_RET_ALLOW);
	assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_prlimit64, 0, RLIMIT_CORE, 0x1000).ret,
	                 SECCOMP_RET_USER_NOTIF);
	assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_prlimit64, 0, RLIMIT_CORE, 0).ret,
	                 SECCOMP_RET_ALLOW); /* a query */
	assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_prlimit64, 0, RLIMIT_NOFILE, 0x1000).ret,
	                 SECCOMP_RET_ALLOW);
	assert_int_equal(run(AUDIT_ARCH_X86_64, __NR_prlimit64, 0, RLIMIT_FSIZE, 0x1000).ret,
	                 SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_getrlimit, RLIMIT_CORE, 0x1000), SECCOMP_RET_ALLOW);
}

static void personality_keeps_aslr(void **state)
{
	(void)state;
	assert_int_equal(act(__NR_personality, PER_LINUX, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_personality, 0xffffffff, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(act(__NR_personality, PER_LINUX | ADDR_NO_RANDOMIZE, 0),
	                 SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_personality, PER_LINUX32, 0), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_personality, READ_IMPLIES_EXEC, 0), SECCOMP_RET_USER_NOTIF);
}

static void seccomp_cannot_make_a_second_listener(void **state)
{
	(void)state;
	assert_int_equal(act(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(
	    act(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER),
	    SECCOMP_RET_USER_NOTIF);
	assert_int_equal(act(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0), SECCOMP_RET_ALLOW);
}

static void degraded_filter_denies_without_a_listener(void **state)
{
	struct al_seccomp *d = NULL;
	struct al_error err = {0};
	const struct sock_filter *p;
	size_t len;
	struct seccomp_data sd = {.arch = AUDIT_ARCH_X86_64};

	(void)state;
	assert_int_equal(al_seccomp_compile(&d, false, &err), 0);
	assert_false(al_seccomp_notify_enabled(d));
	p = al_seccomp_program(d, &len);
	/* no USER_NOTIF anywhere: without a listener it would be ENOSYS */
	sd.nr = __NR_bpf;
	assert_int_equal(emulate(p, len, &sd).ret, SECCOMP_RET_ERRNO | EPERM);
	sd.nr = __NR_iopl;
	assert_int_equal(emulate(p, len, &sd).ret, SECCOMP_RET_ERRNO | EPERM);
	sd.nr = __NR_execve;
	assert_int_equal(emulate(p, len, &sd).ret, SECCOMP_RET_ALLOW);
	sd.nr = __NR_socket;
	sd.args[0] = AF_NETLINK;
	assert_int_equal(emulate(p, len, &sd).ret, SECCOMP_RET_ERRNO | EPERM);
	sd.nr = __NR_getppid;
	assert_int_equal(emulate(p, len, &sd).ret, SECCOMP_RET_ALLOW);
	for (size_t i = 0; i < len; i++)
		if (BPF_CLASS(p[i].code) == BPF_RET && p[i].k == SECCOMP_RET_USER_NOTIF)
			fail_msg("USER_NOTIF in the degraded program at %zu", i);
	al_seccomp_free(d);
}

/* What airlock installs is the build-time program (seccomp-gen): it must be
 * exactly what libseccomp makes of the table now, in both variants. */
static void embedded_program_is_the_table_compiled(void **state)
{
	for (int notify = 0; notify <= 1; notify++) {
		struct al_seccomp *fresh = NULL, *emb = NULL;
		struct al_error err = {0};
		const struct sock_filter *a, *b;
		size_t na, nb;

		assert_int_equal(al_seccomp_compile(&fresh, notify, &err), 0);
		assert_int_equal(al_seccomp_embedded(&emb, notify, &err), 0);
		a = al_seccomp_program(fresh, &na);
		b = al_seccomp_program(emb, &nb);
		assert_int_equal(na, nb);
		assert_true(na > 100);
		assert_memory_equal(a, b, na * sizeof *a);
		assert_int_equal(al_seccomp_notify_enabled(emb), notify);
		al_seccomp_free(fresh);
		al_seccomp_free(emb);
	}
}

static void syscall_names_for_events(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(al_seccomp_syscall_name(__NR_bpf, buf, sizeof buf), "bpf");
	assert_string_equal(al_seccomp_syscall_name(462, buf, sizeof buf), "mseal");
	assert_string_equal(al_seccomp_syscall_name(100000, buf, sizeof buf), "nr_100000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_row_resolves_and_has_a_reason),
	    cmocka_unit_test(every_named_syscall_is_denied_in_the_table),
	    cmocka_unit_test(no_syscall_is_listed_twice_with_different_actions),
	    cmocka_unit_test(foreign_architectures_are_killed),
	    cmocka_unit_test(hot_syscalls_are_constant_allow),
	    cmocka_unit_test(exec_goes_to_the_listener),
	    cmocka_unit_test(unlisted_syscalls_are_denied_and_recorded),
	    cmocka_unit_test(clone_with_namespace_flags_is_denied),
	    cmocka_unit_test(ioctl_terminal_injection_is_denied),
	    cmocka_unit_test(only_three_socket_families),
	    cmocka_unit_test(only_tcp_udp_icmp_protocols),
	    cmocka_unit_test(setid_modes_are_denied),
	    cmocka_unit_test(core_limit_cannot_be_changed),
	    cmocka_unit_test(personality_keeps_aslr),
	    cmocka_unit_test(seccomp_cannot_make_a_second_listener),
	    cmocka_unit_test(degraded_filter_denies_without_a_listener),
	    cmocka_unit_test(syscall_names_for_events),
	    cmocka_unit_test(embedded_program_is_the_table_compiled),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
