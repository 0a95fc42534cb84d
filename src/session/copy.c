/* `airlock cp` trees as frame streams (copy.h). Sending walks the tree
 * below its top with openat(O_NOFOLLOW) from held directory fds, one plain
 * component at a time; receiving builds the tree under a temporary name
 * beside the destination from held fds (O_EXCL | O_NOFOLLOW, mkdirat,
 * symlinkat), then renames it into place. Neither side ever follows a link
 * below the top, neither makes a device, fifo or set-id file. */
#define _GNU_SOURCE
#include "session/copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/cleanup.h"

#define DATA_CHUNK (256u << 10)

static int open2(int dirfd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC, .resolve = resolve};
	long r;
	do
		r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	while (r < 0 && errno == EINTR);
	return (int)r;
}

/* ---- frames ---------------------------------------------------------------- */

static int write_all(int fd, const struct iovec *iv, int n)
{
	struct iovec v[2];
	memcpy(v, iv, sizeof(struct iovec) * (size_t)n);
	while (n > 0) {
		struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK)
			w = writev(fd, v, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		while (n > 0 && (size_t)w >= v[0].iov_len) {
			w -= (ssize_t)v[0].iov_len;
			memmove(v, v + 1, sizeof(struct iovec) * (size_t)(n - 1));
			n--;
		}
		if (n > 0) {
			v[0].iov_base = (uint8_t *)v[0].iov_base + w;
			v[0].iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int frame_out(int fd, uint8_t type, const void *p, size_t n)
{
	uint8_t h[5];
	uint32_t len = (uint32_t)n + 1;
	h[0] = (uint8_t)len;
	h[1] = (uint8_t)(len >> 8);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 24);
	h[4] = type;
	struct iovec iv[2] = {{h, 5}, {(void *)p, n}};
	return write_all(fd, iv, n ? 2 : 1);
}

int al_cp_read_frame(int fd, struct al_frame_reader *rd, uint8_t *type, const uint8_t **p,
                     size_t *n)
{
	for (;;) {
		uint8_t buf[65536];
		int r = al_frame_reader_next(rd, type, p, n);
		if (r != 0)
			return r;
		ssize_t got = read(fd, buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return 0;
		r = al_frame_reader_feed(rd, buf, (size_t)got);
		if (r < 0)
			return r;
	}
}

static void fmt_size(uint64_t v, char *out, size_t cap)
{
	if (v >= (1ull << 30) && v % (1ull << 30) == 0)
		snprintf(out, cap, "%llu GiB", (unsigned long long)(v >> 30));
	else if (v >= (1ull << 20) && v % (1ull << 20) == 0)
		snprintf(out, cap, "%llu MiB", (unsigned long long)(v >> 20));
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(out, cap, "%llu KiB", (unsigned long long)(v >> 10));
	else
		snprintf(out, cap, "%llu bytes", (unsigned long long)v);
}

/* Names in messages: the top by the path it was asked for, below it the
 * relative path. */
static __thread const char *cp_top = ".";

static const char *shown(const char *rel)
{
	return rel[0] ? rel : cp_top;
}

/* ---- sending ------------------------------------------------------------ */

static bool pseudo_fs(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return true;
	switch ((unsigned long)sf.f_type) {
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case DEVPTS_SUPER_MAGIC:
	case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC:
	case SECURITYFS_MAGIC:
	case DEBUGFS_MAGIC:
	case TRACEFS_MAGIC:
	case BPF_FS_MAGIC:
	case SELINUX_MAGIC:
		return true;
	}
	return false;
}

struct sender {
	int fd;
	uint64_t limit;
	struct al_cp_stats *st;
	struct al_error *err;
};

static int send_entry(struct sender *s, uint8_t kind, mode_t mode, uint64_t size, const char *rel,
                      const char *link)
{
	struct al_cp_entry e = {.kind = kind,
	                        .mode = (uint32_t)(mode & 01777),
	                        .size = size,
	                        .rel = rel,
	                        .link = link ? link : ""};
	uint8_t *b = NULL;
	size_t n;
	int r;

	if (kind == 'f')
		e.mode &= 0777;
	if (++s->st->entries > AL_CP_MAX_ENTRIES)
		return al_error_set(s->err, E2BIG, "cp", "more than %u entries", AL_CP_MAX_ENTRIES);
	r = al_cp_entry_encode(&e, &b, &n);
	if (r < 0)
		return al_error_set(s->err, -r, "cp", "out of memory");
	r = frame_out(s->fd, AL_FR_CP_ENTRY, b, n);
	free(b);
	if (r < 0)
		return al_error_set(s->err, -r, "cp", "sending: %s", strerror(-r));
	return 0;
}

static int send_file(struct sender *s, int ffd, const struct stat *sb, const char *rel)
{
	static uint8_t buf[DATA_CHUNK];
	uint64_t left = (uint64_t)sb->st_size;
	char a[32], b[32];
	int r;

	if (s->st->bytes + left > s->limit || left > s->limit) {
		fmt_size((uint64_t)sb->st_size, a, sizeof a);
		fmt_size(s->limit, b, sizeof b);
		return al_error_set(s->err, EFBIG, "cp",
		                    "%s: %s would pass the copy's limit of %s (--max-size)",
		                    shown(rel), a, b);
	}
	r = send_entry(s, 'f', sb->st_mode, left, rel, NULL);
	if (r < 0)
		return r;
	while (left > 0) {
		size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
		ssize_t got = read(ffd, buf, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return al_error_errno(s->err, "cp", "reading %s: %s", shown(rel),
			                      strerror(errno));
		if (got == 0)
			return al_error_set(s->err, EIO, "cp",
			                    "%s: the file shrank while being copied", shown(rel));
		r = frame_out(s->fd, AL_FR_CP_DATA, buf, (size_t)got);
		if (r < 0)
			return al_error_set(s->err, -r, "cp", "sending: %s", strerror(-r));
		left -= (uint64_t)got;
		s->st->bytes += (uint64_t)got;
	}
	s->st->files++;
	return 0;
}

static int send_dir(struct sender *s, int dfd, char *rel, size_t rlen, int depth);

/* One entry below the top, by name in the directory dfd: never followed. */
static int send_child(struct sender *s, int dfd, const char *name, char *rel, size_t rlen,
                      int depth)
{
	struct stat sb, sb2;
	size_t nl = strlen(name);
	size_t at = rlen ? rlen + 1 : 0;
	int r;

	if (at + nl >= AL_CP_PATH_MAX)
		return al_error_set(s->err, ENAMETOOLONG, "cp", "%s/%s: path too long", shown(rel),
		                    name);
	if (rlen)
		rel[rlen] = '/';
	memcpy(rel + at, name, nl + 1);
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT) { /* gone meanwhile */
			rel[rlen] = '\0';
			return 0;
		}
		r = al_error_errno(s->err, "cp", "%s: %s", rel, strerror(errno));
		rel[rlen] = '\0';
		return r;
	}
	if (S_ISLNK(sb.st_mode)) {
		char target[AL_CP_PATH_MAX + 1];
		ssize_t n = readlinkat(dfd, name, target, sizeof target);
		if (n < 0 || n > AL_CP_PATH_MAX)
			r = al_error_set(s->err, n < 0 ? errno : ENAMETOOLONG, "cp",
			                 "reading the link %s", rel);
		else {
			target[n] = '\0';
			r = n == 0 ? 0 : send_entry(s, 'l', 0777, 0, rel, target);
		}
	} else if (S_ISDIR(sb.st_mode)) {
		_cleanup_close_ int cfd =
		    openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0 || fstat(cfd, &sb2) < 0 || sb2.st_ino != sb.st_ino ||
		    sb2.st_dev != sb.st_dev)
			r = al_error_set(s->err, cfd < 0 ? errno : EAGAIN, "cp",
			                 "%s: changed while being copied", rel);
		else if (pseudo_fs(cfd)) {
			s->st->skipped++;
			r = 0;
		} else if (depth >= AL_CP_MAX_DEPTH)
			r = al_error_set(s->err, ELOOP, "cp", "%s: deeper than %d levels", rel,
			                 AL_CP_MAX_DEPTH);
		else {
			r = send_entry(s, 'd', sb.st_mode, 0, rel, NULL);
			if (r == 0)
				r = send_dir(s, cfd, rel, at + nl, depth + 1);
		}
	} else if (S_ISREG(sb.st_mode)) {
		/* O_NONBLOCK: a fifo swapped in after the fstatat never blocks us */
		_cleanup_close_ int ffd =
		    openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (ffd < 0)
			r = al_error_errno(s->err, "cp", "opening %s: %s", rel, strerror(errno));
		else if (fstat(ffd, &sb2) < 0 || !S_ISREG(sb2.st_mode) || sb2.st_ino != sb.st_ino ||
		         sb2.st_dev != sb.st_dev)
			r = al_error_set(s->err, EAGAIN, "cp", "%s: changed while being copied",
			                 rel);
		else if (pseudo_fs(ffd)) {
			s->st->skipped++;
			r = 0;
		} else
			r = send_file(s, ffd, &sb2, rel);
	} else {
		/* devices, fifos, sockets: never copied */
		s->st->skipped++;
		r = 0;
	}
	rel[rlen] = '\0';
	return r;
}

static int send_dir(struct sender *s, int dfd, char *rel, size_t rlen, int depth)
{
	int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	struct dirent *de;
	int r = 0;

	if (d == NULL) {
		if (dup >= 0)
			close(dup);
		return al_error_errno(s->err, "cp", "reading the directory %s: %s", shown(rel),
		                      strerror(errno));
	}
	while (r == 0) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno)
				r = al_error_errno(s->err, "cp", "reading the directory %s: %s",
				                   shown(rel), strerror(errno));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = send_child(s, dfd, de->d_name, rel, rlen, depth);
	}
	closedir(d);
	return r;
}

int al_cp_send(int fd, int dirfd, const char *path, uint64_t resolve, uint64_t limit,
               struct al_cp_stats *st, struct al_error *err)
{
	struct sender s = {.fd = fd, .limit = limit, .st = st, .err = err};
	cp_top = path;
	_cleanup_close_ int pfd = -1, ofd = -1;
	struct stat sb, sb2;
	char rel[AL_CP_PATH_MAX + 1] = "";
	int r;

	/* The top, followed as its owner sees it (inside: within the root). */
	pfd = open2(dirfd, path, O_PATH, resolve);
	if (pfd < 0 || fstat(pfd, &sb) < 0)
		return al_error_errno(err, "cp", "%s: %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		ofd = open2(dirfd, path, O_RDONLY | O_DIRECTORY, resolve);
	} else if (S_ISREG(sb.st_mode)) {
		ofd = open2(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, resolve);
	} else {
		return al_error_set(err, EINVAL, "cp",
		                    "%s: not a regular file or a directory (devices, fifos and "
		                    "sockets are never copied)",
		                    path);
	}
	if (ofd < 0)
		return al_error_errno(err, "cp", "opening %s: %s", path, strerror(errno));
	if (fstat(ofd, &sb2) < 0 || sb2.st_ino != sb.st_ino || sb2.st_dev != sb.st_dev ||
	    (sb2.st_mode & S_IFMT) != (sb.st_mode & S_IFMT))
		return al_error_set(err, EAGAIN, "cp", "%s: changed while being copied", path);
	if (pseudo_fs(ofd))
		return al_error_set(err, EINVAL, "cp",
		                    "%s: on a kernel pseudo file system (proc, sys...): not copied",
		                    path);
	if (S_ISREG(sb2.st_mode))
		r = send_file(&s, ofd, &sb2, rel);
	else {
		r = send_entry(&s, 'd', sb2.st_mode, 0, rel, NULL);
		if (r == 0)
			r = send_dir(&s, ofd, rel, 0, 1);
	}
	if (r < 0)
		return r;
	r = frame_out(fd, AL_FR_CP_END, NULL, 0);
	if (r < 0)
		return al_error_set(err, -r, "cp", "sending: %s", strerror(-r));
	return 0;
}

/* ---- the destination ------------------------------------------------------ */

void al_cp_basename(const char *path, char out[256])
{
	size_t n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	size_t b = n;
	while (b > 0 && path[b - 1] != '/')
		b--;
	if (n - b > 255)
		n = b + 255;
	memcpy(out, path + b, n - b);
	out[n - b] = '\0';
}

static bool name_ok(const char *n)
{
	return n[0] && strcmp(n, ".") && strcmp(n, "..") && strchr(n, '/') == NULL;
}

int al_cp_dest(int dirfd, const char *path, uint64_t resolve, const char *base, int *parent,
               char name[256], struct al_error *err)
{
	_cleanup_free_ char *p = strdup(path);
	_cleanup_close_ int fd = -1;
	size_t n;
	char *slash;

	if (p == NULL)
		return al_error_set(err, ENOMEM, "cp", "out of memory");
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	fd = open2(dirfd, p, O_RDONLY | O_DIRECTORY, resolve);
	if (fd >= 0) {
		/* an existing directory: into it */
		if (!name_ok(base))
			return al_error_set(err, EISDIR, "cp",
			                    "%s: Is a directory (name the destination itself)",
			                    path);
		snprintf(name, 256, "%s", base);
		*parent = TAKE_FD(fd);
		return 0;
	}
	if (errno != ENOENT && errno != ENOTDIR)
		return al_error_errno(err, "cp", "%s: %s", path, strerror(errno));
	slash = strrchr(p, '/');
	const char *last = slash ? slash + 1 : p;
	if (!name_ok(last) || strlen(last) > 255)
		return al_error_set(err, EINVAL, "cp", "%s: not a name to create", path);
	snprintf(name, 256, "%s", last);
	if (slash == NULL) {
		fd = open2(dirfd, ".", O_RDONLY | O_DIRECTORY, resolve);
		if (fd < 0)
			return al_error_errno(err, "cp", "the current directory: %s",
			                      strerror(errno));
		*parent = TAKE_FD(fd);
		return 0;
	}
	*slash = '\0';
	/* the parents: each prefix opened as its owner resolves it, a
	 * missing one made in the one before */
	_cleanup_close_ int cur = -1;
	char *q = p;
	if (*q == '/') {
		cur = open2(dirfd, "/", O_RDONLY | O_DIRECTORY, resolve);
		q++;
	} else
		cur = open2(dirfd, ".", O_RDONLY | O_DIRECTORY, resolve);
	if (cur < 0)
		return al_error_errno(err, "cp", "%s: %s", path, strerror(errno));
	while (*q) {
		char *e = strchr(q, '/');
		if (e)
			*e = '\0';
		if (*q) {
			int next = open2(dirfd, p[0] ? p : "/", O_RDONLY | O_DIRECTORY, resolve);
			if (next < 0 && errno == ENOENT && name_ok(q)) {
				if (mkdirat(cur, q, 0755) < 0 && errno != EEXIST)
					return al_error_errno(err, "cp", "making %s: %s", p,
					                      strerror(errno));
				next = open2(dirfd, p, O_RDONLY | O_DIRECTORY, resolve);
			}
			if (next < 0)
				return al_error_errno(err, "cp", "%s: %s", p, strerror(errno));
			close(cur);
			cur = next;
		}
		if (e == NULL)
			break;
		*e = '/';
		q = e + 1;
	}
	*parent = TAKE_FD(cur);
	return 0;
}

/* ---- receiving ------------------------------------------------------------- */

struct receiver {
	int fd;
	struct al_frame_reader *rd;
	uint64_t limit;
	struct al_cp_stats *st;
	struct al_error *err;
	int top; /* the temporary top directory, or -1 */
	struct {
		char *rel;
		mode_t mode;
	} * dirs;
	size_t n_dirs, cap_dirs;
};

/* A peer's ERROR frame, or a protocol error. */
static int peer_frame(struct receiver *v, uint8_t *type, const uint8_t **p, size_t *n)
{
	int r = al_cp_read_frame(v->fd, v->rd, type, p, n);
	if (r < 0)
		return al_error_set(v->err, -r, "cp", "receiving: %s", strerror(-r));
	if (r == 0)
		return al_error_set(v->err, EPIPE, "cp", "the other side ended the copy early");
	if (*type == AL_FR_ERROR) {
		size_t k = *n < AL_ERR_MSG_MAX - 1 ? *n : AL_ERR_MSG_MAX - 1;
		char msg[AL_ERR_MSG_MAX];
		memcpy(msg, *p, k);
		msg[k] = '\0';
		for (size_t i = 0; i < k; i++)
			if ((unsigned char)msg[i] < 0x20)
				msg[i] = '?';
		return al_error_set(v->err, EIO, "cp", "%s", msg);
	}
	return 0;
}

static int recv_data(struct receiver *v, int ffd, uint64_t size, const char *rel)
{
	char a[32];
	if (v->st->bytes + size > v->limit || size > v->limit) {
		fmt_size(v->limit, a, sizeof a);
		return al_error_set(v->err, EFBIG, "cp",
		                    "%s: the copy would pass its limit of %s (--max-size)",
		                    shown(rel), a);
	}
	while (size > 0) {
		uint8_t type;
		const uint8_t *p;
		size_t n;
		int r = peer_frame(v, &type, &p, &n);
		if (r < 0)
			return r;
		if (type != AL_FR_CP_DATA || n > size)
			return al_error_set(v->err, EPROTO, "cp", "%s: malformed copy stream",
			                    shown(rel));
		while (n > 0) {
			ssize_t w = write(ffd, p, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return al_error_errno(v->err, "cp", "writing %s: %s", shown(rel),
				                      strerror(errno));
			p += w;
			n -= (size_t)w;
			size -= (uint64_t)w;
			v->st->bytes += (uint64_t)w;
		}
	}
	v->st->files++;
	return 0;
}

/* The directory holding rel's last component, walked from the top without
 * following anything; *last points into rel. */
static int walk_parent(struct receiver *v, const char *rel, const char **last)
{
	char buf[AL_CP_PATH_MAX + 1];
	const char *slash = strrchr(rel, '/');
	int cur;

	*last = slash ? slash + 1 : rel;
	cur = fcntl(v->top, F_DUPFD_CLOEXEC, 3);
	if (slash == NULL || cur < 0)
		return cur;
	snprintf(buf, sizeof buf, "%.*s", (int)(slash - rel), rel);
	for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(cur);
		if (next < 0)
			return -1;
		cur = next;
	}
	return cur;
}

static int make_entry(struct receiver *v, int pfd, const char *name, const struct al_cp_entry *e)
{
	if (e->kind == 'd') {
		if (mkdirat(pfd, name, 0700) < 0)
			return al_error_errno(v->err, "cp", "making %s: %s", shown(e->rel),
			                      strerror(errno));
		if (v->n_dirs == v->cap_dirs) {
			size_t nc = v->cap_dirs ? v->cap_dirs * 2 : 64;
			void *nd = realloc(v->dirs, nc * sizeof *v->dirs);
			if (nd == NULL)
				return al_error_set(v->err, ENOMEM, "cp", "out of memory");
			v->dirs = nd;
			v->cap_dirs = nc;
		}
		v->dirs[v->n_dirs].rel = strdup(e->rel);
		v->dirs[v->n_dirs].mode = (mode_t)(e->mode & 01777);
		if (v->dirs[v->n_dirs].rel == NULL)
			return al_error_set(v->err, ENOMEM, "cp", "out of memory");
		v->n_dirs++;
		return 0;
	}
	if (e->kind == 'l') {
		if (symlinkat(e->link, pfd, name) < 0)
			return al_error_errno(v->err, "cp", "making the link %s: %s", shown(e->rel),
			                      strerror(errno));
		return 0;
	}
	_cleanup_close_ int ffd =
	    openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (ffd < 0)
		return al_error_errno(v->err, "cp", "creating %s: %s", shown(e->rel),
		                      strerror(errno));
	int r = recv_data(v, ffd, e->size, e->rel);
	if (r < 0)
		return r;
	/* permission bits only: never a set-id file */
	if (fchmod(ffd, (mode_t)(e->mode & 0777)) < 0)
		return al_error_errno(v->err, "cp", "chmod %s: %s", shown(e->rel), strerror(errno));
	return 0;
}

static void remove_tree(int pfd, const char *name, int depth)
{
	struct stat sb;
	if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISDIR(sb.st_mode) && depth < AL_CP_MAX_DEPTH + 2) {
		int dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d;
		struct dirent *de;
		if (dfd >= 0) {
			fchmod(dfd, 0700);
			d = fdopendir(dfd);
			if (d == NULL)
				close(dfd);
			else {
				while ((de = readdir(d)) != NULL)
					if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
						remove_tree(dirfd(d), de->d_name, depth + 1);
				closedir(d);
			}
		}
		unlinkat(pfd, name, AT_REMOVEDIR);
	} else {
		unlinkat(pfd, name, 0);
	}
}

int al_cp_recv(int fd, struct al_frame_reader *rd, int parent, const char *name, uint64_t limit,
               struct al_cp_stats *st, struct al_error *err)
{
	struct receiver v = {.fd = fd, .rd = rd, .limit = limit, .st = st, .err = err, .top = -1};
	struct al_cp_entry e;
	uint8_t type, rnd[6];
	const uint8_t *p;
	size_t n;
	char tmp[64];
	bool made = false;
	int r;

	if (!name_ok(name))
		return al_error_set(err, EINVAL, "cp", "%s: not a name to create", name);
	cp_top = name;
	/* An existing file we may not write is not replaced behind its
	 * back (as cp(1), which would fail to open it for writing). */
	struct stat cur;
	if (fstatat(parent, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(cur.st_mode) &&
	    faccessat(parent, name, W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) < 0 && errno == EACCES)
		return al_error_set(err, EACCES, "cp", "%s: Permission denied", name);
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return al_error_errno(err, "cp", "getrandom");
	snprintf(tmp, sizeof tmp, ".airlock-cp.%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	         rnd[3], rnd[4], rnd[5]);
	r = peer_frame(&v, &type, &p, &n);
	if (r < 0)
		return r;
	if (type != AL_FR_CP_ENTRY || al_cp_entry_parse(p, n, &e) < 0 || e.rel[0] != '\0')
		return al_error_set(err, EPROTO, "cp", "malformed copy stream");
	st->entries++;
	r = make_entry(&v, parent, tmp, &e);
	made = r == 0 || e.kind != 'd';
	if (r == 0 && e.kind == 'd') {
		v.top = openat(parent, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (v.top < 0)
			r = al_error_errno(err, "cp", "opening %s: %s", tmp, strerror(errno));
	}
	while (r == 0) {
		r = peer_frame(&v, &type, &p, &n);
		if (r < 0)
			break;
		if (type == AL_FR_CP_END)
			break;
		if (type != AL_FR_CP_ENTRY || al_cp_entry_parse(p, n, &e) < 0 || e.rel[0] == '\0' ||
		    v.top < 0) {
			r = al_error_set(err, EPROTO, "cp", "malformed copy stream");
			break;
		}
		if (++st->entries > AL_CP_MAX_ENTRIES) {
			r = al_error_set(err, E2BIG, "cp", "more than %u entries",
			                 AL_CP_MAX_ENTRIES);
			break;
		}
		const char *last;
		int pfd = walk_parent(&v, e.rel, &last);
		if (pfd < 0) {
			r = al_error_set(err, EPROTO, "cp", "%s: its directory is not in the copy",
			                 e.rel);
			break;
		}
		r = make_entry(&v, pfd, last, &e);
		close(pfd);
	}
	/* directories' own modes last, deepest (latest made) first */
	for (size_t i = v.n_dirs; r == 0 && i-- > 0;) {
		if (v.dirs[i].rel[0] == '\0') {
			if (fchmod(v.top, v.dirs[i].mode) < 0)
				r = al_error_errno(err, "cp", "chmod .: %s", strerror(errno));
			continue;
		}
		const char *last;
		int pfd = walk_parent(&v, v.dirs[i].rel, &last);
		int dfd = pfd < 0
		              ? -1
		              : openat(pfd, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0 || fchmod(dfd, v.dirs[i].mode) < 0)
			r = al_error_errno(err, "cp", "chmod %s: %s", v.dirs[i].rel,
			                   strerror(errno));
		if (dfd >= 0)
			close(dfd);
		if (pfd >= 0)
			close(pfd);
	}
	if (r == 0 && renameat(parent, tmp, parent, name) < 0) {
		if (errno == ENOTEMPTY || errno == EEXIST)
			r = al_error_errno(err, "cp",
			                   "%s: a directory that is not empty is in the way", name);
		else
			r = al_error_errno(err, "cp", "renaming into %s: %s", name,
			                   strerror(errno));
	}
	if (r < 0 && made)
		remove_tree(parent, tmp, 0);
	if (v.top >= 0)
		close(v.top);
	for (size_t i = 0; i < v.n_dirs; i++)
		free(v.dirs[i].rel);
	free(v.dirs);
	return r;
}
