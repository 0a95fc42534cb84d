/* Write a seccomp BPF program (libseccomp, seccomp_export_bpf) to a file, for
 * `bwrap --seccomp FD` in the startup benchmark: default allow, a deny list of
 * the syscalls container runtimes commonly block (EPERM). */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

static const char *const denied[] = {
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
	"get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp",
	"kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount",
	"mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
	"open_by_handle_at", "open_tree", "perf_event_open", "personality", "pivot_root",
	"process_vm_readv", "process_vm_writev", "ptrace", "query_module", "quotactl",
	"reboot", "request_key", "set_mempolicy", "setns", "settimeofday", "swapoff",
	"swapon", "sysfs", "umount2", "unshare", "uselib", "userfaultfd", "ustat",
	"vhangup",
};

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT.bpf\n", argv[0]);
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return 1;
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0)
			return 1;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0) {
		perror(argv[1]);
		return 1;
	}
	close(fd);
	seccomp_release(ctx);
	return 0;
}
