/* Reading a seccomp-notification target's memory, completely or not at all:
 * process_vm_readv first (one cheap call in the common case), then
 * /proc/PID/mem for what it could not read. Only the supervisor reads; the
 * caller re-validates the notification afterwards (pid reuse). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct al_tmem {
	pid_t pid;
	int mem_fd;     /* /proc/PID/mem, opened on first need; -1 before */
	bool mem_tried; /* opening it failed once: do not retry */
	bool used_mem;  /* something was read through /proc/PID/mem */
};

void al_tmem_init(struct al_tmem *m, pid_t pid);
void al_tmem_close(struct al_tmem *m);

/* All len bytes at addr, or -EFAULT (some byte could not be read: the
 * target did not map it, or the kernel refused both ways). */
int al_tmem_read(struct al_tmem *m, uint64_t addr, void *buf, size_t len);

/* A NUL-terminated string at addr into buf (cap >= 1 bytes, NUL included).
 * Returns its length; -EFAULT when a byte before its NUL could not be read;
 * when no NUL came within cap - 1 bytes, returns cap - 1 with *truncated set
 * (buf then holds that prefix, NUL-terminated). Reads page by page, so a
 * string that ends at the end of a mapping is read. */
ssize_t al_tmem_string(struct al_tmem *m, uint64_t addr, char *buf, size_t cap, bool *truncated);

/* Many reads at once (the starts of argv/envp strings): piece i is lens[i]
 * bytes at rem[i] into loc[i], no piece crossing a page. Returns how many
 * leading pieces were read whole by the one fast call; the caller reads the
 * others one by one (al_tmem_string), which falls back to /proc/PID/mem. */
size_t al_tmem_readv_prefix(struct al_tmem *m, const struct iovec *loc, const struct iovec *rem,
                            size_t n);
