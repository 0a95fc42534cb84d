/* Target memory reads for the notification handler (tmem.h).
 *
 * Why two ways: process_vm_readv honours the target's page protections as
 * a user access would (a PROT_WRITE-only page is unreadable to it), while
 * the kernel's own copy of an exec path or argv reads any page the CPU can
 * read -- on x86 a writable page is readable. /proc/PID/mem reads the way
 * ptrace does (FOLL_FORCE: any page the target could make readable), so
 * what the kernel can read, it can. It is bound to the target's mm at open
 * time, hence opened per notification, never kept per pid. */
#define _GNU_SOURCE
#include "supervisor/tmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096u

void al_tmem_init(struct al_tmem *m, pid_t pid)
{
	m->pid = pid;
	m->mem_fd = -1;
	m->mem_tried = false;
	m->used_mem = false;
}

void al_tmem_close(struct al_tmem *m)
{
	if (m->mem_fd >= 0)
		close(m->mem_fd);
	m->mem_fd = -1;
}

static int mem_fd(struct al_tmem *m)
{
	char path[64];

	if (m->mem_fd < 0 && !m->mem_tried) {
		m->mem_tried = true;
		snprintf(path, sizeof path, "/proc/%d/mem", (int)m->pid);
		m->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	return m->mem_fd;
}

/* Bytes readable through /proc/PID/mem from addr, up to len (stops at the
 * first page it cannot read). */
static size_t read_mem(struct al_tmem *m, uint64_t addr, char *buf, size_t len)
{
	size_t done = 0;
	int fd = mem_fd(m);

	if (fd < 0 || addr > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - addr)
		return 0;
	while (done < len) {
		ssize_t r = pread(fd, buf + done, len - done, (off_t)(addr + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
		m->used_mem = true;
	}
	return done;
}

int al_tmem_read(struct al_tmem *m, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	size_t done = 0;
	ssize_t r;

	if (len == 0)
		return 0;
	/* one call for the whole range: it stops at the first page it cannot
	 * read and reports what it read before it */
	r = process_vm_readv(m->pid, &local, 1, &remote, 1, 0);
	if (r > 0)
		done = (size_t)r;
	if (done < len)
		done += read_mem(m, addr + done, (char *)buf + done, len - done);
	return done == len ? 0 : -EFAULT;
}

ssize_t al_tmem_string(struct al_tmem *m, uint64_t addr, char *buf, size_t cap, bool *truncated)
{
	size_t len = 0;

	*truncated = false;
	if (cap == 0)
		return -ENOSPC;
	while (len < cap - 1) {
		/* never past the page: its successor may be unmapped while the
		 * string ends on this one */
		size_t want = PAGE - (size_t)((addr + len) & (PAGE - 1));
		char *nul;

		if (want > cap - 1 - len)
			want = cap - 1 - len;
		if (al_tmem_read(m, addr + len, buf + len, want) < 0)
			return -EFAULT;
		nul = memchr(buf + len, '\0', want);
		if (nul != NULL)
			return nul - buf;
		len += want;
	}
	buf[len] = '\0';
	*truncated = true;
	return (ssize_t)len;
}

size_t al_tmem_readv_prefix(struct al_tmem *m, const struct iovec *loc, const struct iovec *rem,
                            size_t n)
{
	size_t done = 0, acc = 0;
	ssize_t r;

	if (n == 0)
		return 0;
	r = process_vm_readv(m->pid, loc, n, rem, n, 0);
	while (r > 0 && done < n && acc + rem[done].iov_len <= (size_t)r)
		acc += rem[done++].iov_len;
	return done;
}
