/* Identify the file an exec will run (exec_file.h).
 *
 * Resolution never leaves the sandbox: absolute paths are resolved with
 * openat2(RESOLVE_IN_ROOT) beneath the target's root, relative ones beneath
 * its cwd or dirfd (RESOLVE_BENEATH), re-resolved from the root with the
 * directory's in-sandbox path when they climb out of it. A symlink to
 * /etc/shadow inside the sandbox therefore names the sandbox's file, never
 * the host's. The magic links /proc/PID/{root,cwd,fd/N,exe} of the host's
 * /proc are opened deliberately and only as O_PATH starting points: each is
 * the target's own root, cwd, open file or program, which the kernel would
 * use for the same exec, and nothing is resolved through them but the
 * target's path, confined as above. */
#define _GNU_SOURCE
#include "supervisor/exec_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/cleanup.h"

#ifndef ST_RDONLY
#define ST_RDONLY 1
#endif
#ifndef ST_NOEXEC
#define ST_NOEXEC 8
#endif

static int open_proc(const struct al_exec_target *t, const char *what, int extra)
{
	char p[96];
	int fd;

	snprintf(p, sizeof p, "/proc/%d/%s", (int)t->pid, what);
	fd = open(p, O_PATH | O_CLOEXEC | extra);
	if (fd < 0)
		return -errno;
	if (t->alive && !t->alive(t->ctx)) {
		close(fd); /* the pid may name another process now */
		return -ESRCH;
	}
	return fd;
}

static int resolve(int dirfd, const char *path, uint64_t resolve_flags, bool nofollow)
{
	struct open_how how = {
	    .flags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0),
	    .resolve = resolve_flags | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	/* RESOLVE_IN_ROOT/BENEATH fail with EAGAIN when a rename raced the
	 * walk: try again a few times */
	for (int i = 0; i < 8; i++) {
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd < 0 ? -errno : (int)fd;
}

/* /dev/fd/N, /proc/self/fd/N, /proc/thread-self/fd/N, /proc/self/exe:
 * the target's own fd or program. The sandbox's /proc cannot resolve "self"
 * for the supervisor (it is not in that pid namespace), so these are taken
 * from the host's /proc for the target pid. Returns an fd, 0 when the path
 * is none of these, or -errno. */
static int open_self_link(const struct al_exec_target *t, const char *path, bool nofollow)
{
	static const char *const pre[] = {"/proc/self/", "/proc/thread-self/", "/dev/"};
	const char *rest = NULL;
	char *end;
	long n;

	for (size_t i = 0; i < AL_ARRAY_SIZE(pre) && rest == NULL; i++)
		if (strncmp(path, pre[i], strlen(pre[i])) == 0)
			rest = path + strlen(pre[i]);
	if (rest == NULL)
		return 0;
	if (strcmp(rest, "exe") == 0 && path[1] == 'p')
		return open_proc(t, "exe", nofollow ? O_NOFOLLOW : 0);
	if (strncmp(rest, "fd/", 3) != 0)
		return 0;
	errno = 0;
	n = strtol(rest + 3, &end, 10);
	if (errno || end == rest + 3 || *end != '\0' || n < 0 || n > INT32_MAX) {
		return 0;
	} else {
		char what[32];
		snprintf(what, sizeof what, "fd/%ld", n);
		return open_proc(t, what, nofollow ? O_NOFOLLOW : 0);
	}
}

/* The in-sandbox path of the target's cwd or fd (as /proc shows it from
 * outside: paths of another mount namespace are shown from its root). */
static int proc_link_path(pid_t pid, const char *what, char *buf, size_t cap)
{
	char p[96];
	ssize_t n;

	snprintf(p, sizeof p, "/proc/%d/%s", (int)pid, what);
	n = readlink(p, buf, cap - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if ((size_t)n >= cap - 1 || buf[0] != '/' || strstr(buf, " (deleted)") != NULL)
		return -EXDEV; /* no usable path: cannot re-resolve from the root */
	return 0;
}

static int root_of(int *root_fd, const struct al_exec_target *t)
{
	/* Every process inside shares one root (chroot, pivot_root, setns and
	 * new mount namespaces are denied by the filter), so it is opened
	 * once, from the first exec'ing process. */
	if (*root_fd < 0) {
		int fd = open_proc(t, "root", O_DIRECTORY);
		if (fd < 0)
			return fd;
		*root_fd = fd;
	}
	return *root_fd;
}

static int open_exec_file(struct al_exec_file *f, int *root_fd, const struct al_exec_target *t,
                          const char *path, int dirfd, int flags)
{
	bool nofollow = flags & AT_SYMLINK_NOFOLLOW;
	char what[32], base[4096], *joined;
	int fd, root;
	_cleanup_close_ int dfd = -1;

	if (path[0] == '\0') {
		if (!(flags & AT_EMPTY_PATH))
			return -ENOENT;
		/* fexecve: the file is the fd itself */
		f->resolved = "fd";
		if (dirfd == AT_FDCWD)
			return open_proc(t, "cwd", 0);
		snprintf(what, sizeof what, "fd/%d", dirfd);
		return open_proc(t, what, 0);
	}
	if (path[0] == '/') {
		fd = open_self_link(t, path, nofollow);
		if (fd != 0) {
			f->resolved = "proc";
			return fd;
		}
		root = root_of(root_fd, t);
		if (root < 0)
			return root;
		f->resolved = "root";
		return resolve(root, path, RESOLVE_IN_ROOT, nofollow);
	}
	if (dirfd == AT_FDCWD)
		snprintf(what, sizeof what, "cwd");
	else
		snprintf(what, sizeof what, "fd/%d", dirfd);
	dfd = open_proc(t, what, 0);
	if (dfd < 0)
		return dfd == -ENOENT ? -EBADF : dfd;
	f->resolved = dirfd == AT_FDCWD ? "cwd" : "dirfd";
	fd = resolve(dfd, path, RESOLVE_BENEATH, nofollow);
	if (fd != -EXDEV)
		return fd;
	/* ".." above the directory or an absolute symlink: the kernel goes on
	 * from there within the root; so do we, from the directory's path */
	root = root_of(root_fd, t);
	if (root < 0)
		return root;
	fd = proc_link_path(t->pid, what, base, sizeof base);
	if (fd < 0)
		return fd;
	if (asprintf(&joined, "%s/%s", base, path) < 0)
		return -ENOMEM;
	fd = resolve(root, joined, RESOLVE_IN_ROOT, nofollow);
	free(joined);
	return fd;
}

/* The interpreter of a "#!" script as the kernel reads it (binfmt_script):
 * within the first 256 bytes, after "#!" and blanks, up to a blank or the
 * end of the line. Read from the same bytes that are hashed. */
static void script_interpreter(struct al_exec_file *f, const unsigned char *b, size_t n)
{
	size_t i = 2, start;

	if (n > 256) /* the kernel's BINPRM_BUF_SIZE */
		n = 256;
	if (n < 3 || b[0] != '#' || b[1] != '!')
		return;
	while (i < n && (b[i] == ' ' || b[i] == '\t'))
		i++;
	start = i;
	while (i < n && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\0')
		i++;
	if (i == start || i - start >= sizeof f->interpreter)
		return;
	memcpy(f->interpreter, b + start, i - start);
	f->interpreter[i - start] = '\0';
	f->interp_kind = "script";
}

static uint64_t le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* The PT_INTERP loader of a 64-bit little-endian ELF program, as the
 * kernel's ELF loader finds it (binfmt_elf): the first PT_INTERP program
 * header names a NUL-terminated path of at most PATH_MAX bytes. A custom
 * loader in a writable area runs before the program's first instruction,
 * without an exec call of its own. */
static void elf_interpreter(struct al_exec_file *f, int fd, const unsigned char *h, size_t n)
{
	unsigned char ph[56];
	uint64_t phoff, off, sz;
	unsigned phentsize, phnum;

	if (n < 64 || memcmp(h, "\177ELF", 4) != 0 || h[4] != 2 || h[5] != 1)
		return;
	phoff = le(h + 0x20, 8);
	phentsize = (unsigned)le(h + 0x36, 2);
	phnum = (unsigned)le(h + 0x38, 2);
	if (phentsize != sizeof ph || phnum > 1024)
		return; /* the kernel refuses such a file */
	for (unsigned i = 0; i < phnum; i++) {
		if (pread(fd, ph, sizeof ph, (off_t)(phoff + (uint64_t)i * sizeof ph)) !=
		    (ssize_t)sizeof ph)
			return;
		if (le(ph, 4) != 3 /* PT_INTERP */)
			continue;
		off = le(ph + 8, 8);
		sz = le(ph + 0x20, 8);
		if (sz < 2 || sz > sizeof f->interpreter ||
		    pread(fd, f->interpreter, sz, (off_t)off) != (ssize_t)sz ||
		    f->interpreter[sz - 1] != '\0') {
			f->interpreter[0] = '\0'; /* the kernel refuses it: ENOEXEC */
			return;
		}
		f->interp_kind = "elf";
		return;
	}
}

static void hash_file(struct al_exec_file *f, int path_fd, bool noexec)
{
	char self[64];
	unsigned char buf[65536], h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	_cleanup_close_ int fd = -1;
	uint64_t total = 0;
	ssize_t r;

	/* Only what the kernel could run is read: a file it refuses (not
	 * regular, no execute bit, on a noexec mount such as /proc or /dev/shm)
	 * is never opened for reading -- reading some of those as root has
	 * effects (/proc/kmsg consumes the host's kernel log). */
	if (!S_ISREG(f->mode)) {
		f->skipped = "not-regular";
		return;
	}
	if (noexec) {
		f->skipped = "noexec";
		return;
	}
	if (!(f->mode & 0111)) {
		f->skipped = "not-executable";
		return;
	}
	/* re-open our own O_PATH fd for reading: the same inode, no lookup */
	snprintf(self, sizeof self, "/proc/self/fd/%d", path_fd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		f->skipped = "unreadable";
		return;
	}
	/* the "#!" line or ELF loader even of a file too large to hash:
	 * padding a program past the bound must not hide its interpreter */
	r = pread(fd, buf, 256, 0);
	if (r < 0) {
		f->skipped = "unreadable";
		return;
	}
	script_interpreter(f, buf, (size_t)r);
	if (f->interpreter[0] == '\0')
		elf_interpreter(f, fd, buf, (size_t)r);
	if (f->size > AL_EXEC_HASH_MAX) {
		f->skipped = "size";
		return;
	}
	crypto_hash_sha256_init(&st);
	while ((r = read(fd, buf, sizeof buf)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			f->skipped = "unreadable";
			return;
		}
		total += (uint64_t)r;
		if (total > AL_EXEC_HASH_MAX) { /* it grew meanwhile */
			f->skipped = "size";
			return;
		}
		crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(f->sha256, sizeof f->sha256, h, sizeof h);
	f->hashed = true;
	f->size = total;
}

int al_exec_file_identify(struct al_exec_file *f, int *root_fd, const struct al_exec_target *t,
                          const char *path, int dirfd, int flags)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	struct statfs sfs;

	memset(f, 0, sizeof *f);
	fd = open_exec_file(f, root_fd, t, path, dirfd, flags);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
		return -errno;
	f->dev_major = major(st.st_dev);
	f->dev_minor = minor(st.st_dev);
	f->ino = st.st_ino;
	f->size = (uint64_t)st.st_size;
	f->mode = st.st_mode;
	/* A read-only mount is the image (or a read-only volume, which
	 * Landlock keeps from being executed): nothing inside can change it
	 * through this mount, and remounting is denied. Everything else is a
	 * writable area whose content is hashed. */
	f->image = (sfs.f_flags & ST_RDONLY) != 0;
	if (!f->image)
		hash_file(f, fd, (sfs.f_flags & ST_NOEXEC) != 0);
	return 0;
}
