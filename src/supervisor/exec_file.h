/* The file an exec names, identified by the supervisor at notification time:
 * resolved as the kernel would resolve it for the target (its root, its cwd
 * or dirfd, an fd for fexecve), then dev/inode, and the content's SHA-256
 * when the file lies outside the read-only image. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Files of a writable area larger than this are identified, not hashed. */
#define AL_EXEC_HASH_MAX (16u << 20)

struct al_exec_file {
	uint64_t dev_major, dev_minor, ino, size;
	uint32_t mode;
	bool image;           /* on a read-only mount: the sandbox cannot change it */
	bool hashed;          /* sha256 holds the content's hash */
	char sha256[65];      /* hex */
	const char *skipped;  /* why a non-image file was not hashed, or NULL */
	const char *resolved; /* how it was found: root, cwd, dirfd, fd, proc */
	/* For a file of a writable area: what the kernel runs for it without
	 * another exec call -- the "#!" interpreter of a script, or the
	 * PT_INTERP loader of an ELF program (NUL-terminated), or "" */
	char interpreter[4096];
	const char *interp_kind; /* "script" or "elf" */
};

/* Scripts within scripts the kernel follows (its BINPRM_MAX_RECURSION). */
#define AL_EXEC_INTERP_DEPTH 4

/* The exec'ing process: its host pid, and a check that the pid still names
 * it (the seccomp notification is still pending). Every /proc/PID/... fd is
 * checked with it right after it is opened and before it is used, so a
 * reused pid never makes the supervisor resolve or read outside the
 * sandbox. */
struct al_exec_target {
	pid_t pid;
	bool (*alive)(void *ctx);
	void *ctx;
};

/* Identify the file of an exec by t with `path` (as read from it), `dirfd`
 * (AT_FDCWD for execve) and execveat `flags`. *root_fd caches the sandbox's
 * root directory (-1: open it from this process; the caller closes it).
 * Returns 0, or -errno: the file could not be identified (the caller
 * refuses the exec); -ESRCH: the process is gone. */
int al_exec_file_identify(struct al_exec_file *f, int *root_fd, const struct al_exec_target *t,
                          const char *path, int dirfd, int flags);
