/* The image tree walk and its canonical listing (docs/images.md). The walk
 * never follows a symlink (openat O_NOFOLLOW, fstatat AT_SYMLINK_NOFOLLOW),
 * checks that what it opens is what it stat'ed, refuses trees deeper than
 * AL_IMAGE_MAX_DEPTH or paths longer than AL_IMAGE_MAX_PATH, and reuses a
 * previous walk's hash of a file only when its whole stat identity is the
 * same (cache.c explains why that is sound). */
#define _GNU_SOURCE
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

/* A file whose ctime is this close to the start of the walk (or later) may
 * change again within the same timestamp tick: its identity does not vouch
 * for its content, so it is hashed again next time ("racily clean", as git
 * calls it). Two seconds also covers filesystems with 1 s timestamps. */
#define RACY_MARGIN_NS (2LL * 1000000000LL)

#define READ_CHUNK (256 * 1024)

/* The prefetch of a warm walk. An unchanged image costs one fstatat per
 * entry, and that syscall is nearly all of a run start's digest check
 * (docs/benchmarks.md). With the previous walk in hand the names are known
 * before the walk starts, so on two or more CPUs a helper thread stats the
 * entries of the second half of the previous walk (by index) while the
 * walker does the first half; one handoff per walk (a handoff per directory
 * cost more than it saved). The helper opens each directory of its half
 * beneath the root without following any link (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) and records the directory's identity with each
 * stat; the walker uses a prefetched stat only for an entry whose parent it
 * opened is that same inode, so it is the stat of the same directory entry,
 * taken a few milliseconds earlier; anything else it stats itself. */
#define PREFETCH_MIN_ENTRIES 1024

struct prefetch {
	const struct al_image_tree *old;
	int rootfd;
	size_t mid;        /* entries [mid, old->n) are the helper's */
	struct stat *st;   /* indexed from mid */
	uint64_t *pdev, *pino;
	bool *ok;
	pthread_t thread;
	bool started, joined;
};

struct walker {
	struct al_image_tree *t;
	const struct al_image_tree *old;
	int64_t racy_after_ns;
	bool all_hit;
	unsigned char *buf;
	struct al_error *err;
	struct prefetch *pf; /* NULL: none */
};

static int open_dir_beneath(int rootfd, const char *path)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = path[0] == '/' && path[1] ? path + 1 : ".";
	return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
}

static void *prefetch_main(void *arg)
{
	struct prefetch *pf = arg;
	const struct al_image_tree *old = pf->old;

	for (size_t d = pf->mid; d < old->n; d++) {
		const struct al_image_entry *de = &old->e[d];
		struct stat dst;
		if (de->type != 'd')
			continue;
		int dfd = open_dir_beneath(pf->rootfd, de->path);
		if (dfd < 0)
			continue;
		if (fstat(dfd, &dst) == 0) {
			/* its direct children: the entries up to its end whose
			 * parent it is */
			for (size_t k = d + 1; k < de->end; k++) {
				const struct al_image_entry *c = &old->e[k];
				if (c->parent != d)
					continue;
				size_t i = k - pf->mid;
				pf->ok[i] = fstatat(dfd, strrchr(c->path, '/') + 1, &pf->st[i],
				                    AT_SYMLINK_NOFOLLOW) == 0;
				pf->pdev[i] = dst.st_dev;
				pf->pino[i] = dst.st_ino;
			}
		}
		close(dfd);
	}
	return NULL;
}

static void prefetch_start(struct prefetch *pf, int rootfd, const struct al_image_tree *old)
{
	size_t half;

	memset(pf, 0, sizeof *pf);
	if (old == NULL || old->n < PREFETCH_MIN_ENTRIES || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	pf->old = old;
	pf->rootfd = rootfd;
	pf->mid = old->n / 2;
	half = old->n - pf->mid;
	pf->st = malloc(half * sizeof *pf->st);
	pf->pdev = malloc(half * sizeof *pf->pdev);
	pf->pino = malloc(half * sizeof *pf->pino);
	pf->ok = calloc(half, sizeof *pf->ok);
	if (pf->st && pf->pdev && pf->pino && pf->ok)
		pf->started = pthread_create(&pf->thread, NULL, prefetch_main, pf) == 0;
}

static void prefetch_join(struct prefetch *pf)
{
	if (pf->started && !pf->joined) {
		pthread_join(pf->thread, NULL);
		pf->joined = true;
	}
}

static void prefetch_free(struct prefetch *pf)
{
	prefetch_join(pf);
	free(pf->st);
	free(pf->pdev);
	free(pf->pino);
	free(pf->ok);
	memset(pf, 0, sizeof *pf);
}

/* The prefetched stat of the previous walk's entry o, if it was made in
 * the directory the walker has open as its parent (identity pdev/pino). */
static const struct stat *prefetched(struct walker *w, const struct al_image_entry *o,
                                     uint64_t pdev, uint64_t pino)
{
	struct prefetch *pf = w->pf;
	size_t k;

	if (pf == NULL || !pf->started || o == NULL)
		return NULL;
	k = (size_t)(o - w->old->e);
	if (k < pf->mid || k >= w->old->n)
		return NULL;
	prefetch_join(pf);
	k -= pf->mid;
	if (!pf->ok[k] || pf->pdev[k] != pdev || pf->pino[k] != pino)
		return NULL;
	return &pf->st[k];
}

static const char hexd[] = "0123456789abcdef";

void al_image_escape(struct al_buf *b, const char *s, size_t n)
{
	static const char up[] = "0123456789ABCDEF";
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x21 && c <= 0x7e && c != '%')
			continue;
		char esc[3] = {'%', up[c >> 4], up[c & 15]};
		al_buf_append(b, s + run, i - run);
		al_buf_append(b, esc, 3);
		run = i + 1;
	}
	al_buf_append(b, s + run, n - run);
}

int al_image_path_cmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	for (;; x++, y++) {
		unsigned cx = *x == '/' ? 1 : *x == 0 ? 0 : (unsigned)*x + 1;
		unsigned cy = *y == '/' ? 1 : *y == 0 ? 0 : (unsigned)*y + 1;
		if (cx != cy)
			return cx < cy ? -1 : 1;
		if (cx == 0)
			return 0;
	}
}

void al_image_digest_of(const void *listing, size_t len, char out[AL_IMAGE_DIGEST_MAX])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	size_t i;

	crypto_hash_sha256(h, listing, len);
	memcpy(out, "sha256:", 7);
	for (i = 0; i < sizeof h; i++) {
		out[7 + 2 * i] = hexd[h[i] >> 4];
		out[8 + 2 * i] = hexd[h[i] & 15];
	}
	out[7 + 64] = '\0';
}

bool al_image_digest_valid(const char *s)
{
	size_t i;

	if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return false;
	for (i = 7; i < 7 + 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void put_hex(struct al_buf *b, const unsigned char *p, size_t n)
{
	char two[2];
	for (size_t i = 0; i < n; i++) {
		two[0] = hexd[p[i] >> 4];
		two[1] = hexd[p[i] & 15];
		al_buf_append(b, two, 2);
	}
}

void al_image_record(const struct al_image_entry *e, struct al_buf *out)
{
	al_image_escape(out, e->path, strlen(e->path));
	al_buf_printf(out, " %c %04o %u %u ", e->type, e->mode, e->uid, e->gid);
	switch (e->type) {
	case 'f':
		al_buf_printf(out, "%llu ", (unsigned long long)e->size);
		if (e->unreadable)
			al_buf_puts(out, "?");
		else
			put_hex(out, e->sha256, sizeof e->sha256);
		al_buf_puts(out, " ");
		if (e->cap)
			put_hex(out, e->cap, e->cap_len);
		else
			al_buf_puts(out, "-");
		break;
	case 'l':
		al_image_escape(out, e->target, strlen(e->target));
		break;
	case 'c':
	case 'b':
		al_buf_printf(out, "%u,%u", e->rmajor, e->rminor);
		break;
	case 'd':
		al_buf_puts(out, e->unreadable ? "?" : "-");
		break;
	default:
		al_buf_puts(out, "-");
	}
	al_buf_puts(out, "\n");
}

#define LISTING_HEADER "airlock-image-listing 1\n"

int al_image_listing(const struct al_image_tree *t, struct al_buf *out)
{
	al_buf_puts(out, LISTING_HEADER);
	for (size_t i = 0; i < t->n; i++)
		al_image_record(&t->e[i], out);
	return out->oom ? -ENOMEM : 0;
}

void al_image_tree_free(struct al_image_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].path);
		free(t->e[i].target);
		free(t->e[i].cap);
	}
	free(t->e);
	memset(t, 0, sizeof *t);
}

static char type_of(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR:
		return 'd';
	case S_IFREG:
		return 'f';
	case S_IFLNK:
		return 'l';
	case S_IFCHR:
		return 'c';
	case S_IFBLK:
		return 'b';
	case S_IFIFO:
		return 'p';
	default:
		return 's';
	}
}

static int64_t ns_of(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Append an entry for st at path (ownership of path passes to the tree). */
static int add_entry(struct walker *w, char *path, const struct stat *st, size_t parent)
{
	struct al_image_tree *t = w->t;
	struct al_image_entry *e;

	if (t->n >= AL_IMAGE_MAX_ENTRIES) {
		free(path);
		return al_error_set(w->err, E2BIG, "image", "more than %d entries in the image",
		                    AL_IMAGE_MAX_ENTRIES);
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 1024;
		struct al_image_entry *ne = realloc(t->e, nc * sizeof *ne);
		if (ne == NULL) {
			free(path);
			return al_error_set(w->err, ENOMEM, "image", "listing the image");
		}
		t->e = ne;
		t->cap = nc;
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof *e);
	e->path = path;
	e->type = type_of(st->st_mode);
	e->mode = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->size = e->type == 'f' ? (uint64_t)st->st_size : 0;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->mtime_ns = ns_of(st->st_mtim);
	e->ctime_ns = ns_of(st->st_ctim);
	e->racy = e->ctime_ns >= w->racy_after_ns;
	e->parent = parent;
	e->end = t->n;
	if (e->type == 'c' || e->type == 'b') {
		e->rmajor = major(st->st_rdev);
		e->rminor = minor(st->st_rdev);
	}
	return 0;
}

/* The previous walk's entry o stands for e when nothing about the inode
 * can have changed since: same identity, same times (ctime cannot be set by
 * a user: any write, chmod, chown, xattr change or rename moves it), and o
 * was not racily recorded. */
static bool same_identity(const struct al_image_entry *o, const struct al_image_entry *e)
{
	return !o->racy && o->type == e->type && o->dev == e->dev && o->ino == e->ino &&
	       o->mtime_ns == e->mtime_ns && o->ctime_ns == e->ctime_ns && o->size == e->size &&
	       o->mode == e->mode && o->uid == e->uid && o->gid == e->gid && !e->racy;
}

static int hash_file(struct walker *w, int dfd, const char *name, const struct stat *st,
                     struct al_image_entry *e)
{
	crypto_hash_sha256_state hs;
	struct stat st2;
	uint64_t got = 0;
	unsigned char capbuf[256];
	ssize_t cl;
	_cleanup_close_ int fd =
	    openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0 && (errno == EACCES || errno == EPERM)) {
		e->unreadable = true;
		return 0;
	}
	if (fd < 0)
		return al_error_errno(w->err, "image", "opening %s", e->path);
	if (fstat(fd, &st2) < 0)
		return al_error_errno(w->err, "image", "stat %s", e->path);
	if (!S_ISREG(st2.st_mode) || st2.st_ino != st->st_ino || st2.st_dev != st->st_dev)
		return al_error_set(w->err, EAGAIN, "image", "%s changed while the image was read",
		                    e->path);
	crypto_hash_sha256_init(&hs);
	for (;;) {
		ssize_t n = read(fd, w->buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return al_error_errno(w->err, "image", "reading %s", e->path);
		if (n == 0)
			break;
		crypto_hash_sha256_update(&hs, w->buf, (size_t)n);
		got += (uint64_t)n;
	}
	crypto_hash_sha256_final(&hs, e->sha256);
	if (fstat(fd, &st2) < 0)
		return al_error_errno(w->err, "image", "stat %s", e->path);
	if (got != (uint64_t)st->st_size || st2.st_size != st->st_size ||
	    ns_of(st2.st_mtim) != e->mtime_ns || ns_of(st2.st_ctim) != e->ctime_ns)
		return al_error_set(w->err, EAGAIN, "image", "%s changed while the image was read",
		                    e->path);
	cl = fgetxattr(fd, "security.capability", capbuf, sizeof capbuf);
	if (cl > 0) {
		e->cap = malloc((size_t)cl);
		if (e->cap == NULL)
			return al_error_set(w->err, ENOMEM, "image", "reading %s", e->path);
		memcpy(e->cap, capbuf, (size_t)cl);
		e->cap_len = (size_t)cl;
	}
	w->t->stats.files_hashed++;
	w->t->stats.bytes_hashed += got;
	return 0;
}

static int read_link(struct walker *w, int dfd, const char *name, struct al_image_entry *e)
{
	char buf[AL_IMAGE_MAX_PATH + 1];
	ssize_t n = readlinkat(dfd, name, buf, sizeof buf);

	if (n < 0)
		return al_error_errno(w->err, "image", "reading the link %s", e->path);
	if ((size_t)n >= sizeof buf)
		return al_error_set(w->err, ENAMETOOLONG, "image", "link target of %s too long",
		                    e->path);
	e->target = strndup(buf, (size_t)n);
	if (e->target == NULL)
		return al_error_set(w->err, ENOMEM, "image", "reading %s", e->path);
	return 0;
}

/* Fill the content part of entry e (index ei) from the old entry, or by
 * reading the inode. */
static int fill_content(struct walker *w, int dfd, const char *name, const struct stat *st,
                        size_t ei, const struct al_image_entry *o)
{
	struct al_image_entry *e = &w->t->e[ei];

	if (o && same_identity(o, e) && e->type != 'd') {
		if (e->type == 'f') {
			memcpy(e->sha256, o->sha256, sizeof e->sha256);
			e->unreadable = o->unreadable;
			if (o->cap) {
				e->cap = malloc(o->cap_len);
				if (e->cap == NULL)
					return al_error_set(w->err, ENOMEM, "image", "listing");
				memcpy(e->cap, o->cap, o->cap_len);
				e->cap_len = o->cap_len;
			}
		} else if (e->type == 'l') {
			e->target = strdup(o->target ? o->target : "");
			if (e->target == NULL)
				return al_error_set(w->err, ENOMEM, "image", "listing");
		}
		w->t->stats.cache_hits++;
		return 0;
	}
	if (e->type != 'd')
		w->all_hit = false;
	if (e->type == 'f')
		return hash_file(w, dfd, name, st, e);
	if (e->type == 'l')
		return read_link(w, dfd, name, e);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void free_names(char **names, size_t n, bool owned)
{
	if (owned)
		for (size_t i = 0; i < n; i++)
			free(names[i]);
	free(names);
}

/* The names in directory dfd, sorted bytewise; or -errno. */
static int read_names(struct walker *w, int dfd, const char *path, char ***out, size_t *count)
{
	_cleanup_close_ int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL)
		return -errno;
	fd = -1;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n >= AL_IMAGE_MAX_ENTRIES) {
			closedir(d);
			free_names(names, n, true);
			return al_error_set(w->err, E2BIG, "image", "more than %d entries in %s",
			                    AL_IMAGE_MAX_ENTRIES, path);
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			char **nn = realloc(names, nc * sizeof *nn);
			if (nn == NULL)
				goto oom;
			names = nn;
			cap = nc;
		}
		names[n] = strdup(de->d_name);
		if (names[n] == NULL)
			goto oom;
		n++;
	}
	if (errno) {
		int e = errno;
		closedir(d);
		free_names(names, n, true);
		return al_error_set(w->err, e, "image", "reading the directory %s", path);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_names);
	*out = names;
	*count = n;
	w->t->stats.dirs_read++;
	return 0;
oom:
	closedir(d);
	free_names(names, n, true);
	return al_error_set(w->err, ENOMEM, "image", "reading the directory %s", path);
}

static bool virtual_fs(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return true;
	return sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC ||
	       sf.f_type == CGROUP_SUPER_MAGIC || sf.f_type == CGROUP2_SUPER_MAGIC ||
	       sf.f_type == DEBUGFS_MAGIC || sf.f_type == SECURITYFS_MAGIC ||
	       sf.f_type == TRACEFS_MAGIC || sf.f_type == BPF_FS_MAGIC;
}

static char *child_path(const char *parent, const char *name)
{
	size_t pl = strcmp(parent, "/") == 0 ? 0 : strlen(parent), nl = strlen(name);
	char *p = malloc(pl + 1 + nl + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, parent, pl);
	p[pl] = '/';
	memcpy(p + pl + 1, name, nl + 1);
	return p;
}

static int walk_dir(struct walker *w, int dfd, size_t di, const struct al_image_entry *od,
                    unsigned depth);

/* One directory entry: stat it, record it, fill its content, descend. */
static int visit(struct walker *w, int dfd, size_t di, const char *name,
                 const struct al_image_entry *o, unsigned depth)
{
	struct stat st;
	size_t ei;
	char *path;
	int r;

	const struct stat *pre = prefetched(w, o, w->t->e[di].dev, w->t->e[di].ino);
	if (pre) {
		st = *pre;
	} else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return -ENOENT; /* gone since it was listed: the caller decides */
		return al_error_errno(w->err, "image", "stat %s/%s", w->t->e[di].path, name);
	}
	path = child_path(w->t->e[di].path, name);
	if (path == NULL)
		return al_error_set(w->err, ENOMEM, "image", "listing");
	if (strlen(path) > AL_IMAGE_MAX_PATH) {
		r = al_error_set(w->err, ENAMETOOLONG, "image",
		                 "a path in the image is longer than %d bytes (under %.200s)",
		                 AL_IMAGE_MAX_PATH, w->t->e[di].path);
		free(path);
		return r;
	}
	r = add_entry(w, path, &st, di);
	if (r < 0)
		return r;
	ei = w->t->n - 1;
	if (!S_ISDIR(st.st_mode)) {
		r = fill_content(w, dfd, name, &st, ei, o);
		/* recorded, then gone: not "removed before it was listed" (which
		 * the caller forgives) but a tree changing under the walk */
		if (r == -ENOENT)
			r = al_error_set(w->err, EAGAIN, "image",
			                 "%s changed while the image was read", w->t->e[ei].path);
		return r;
	}

	/* A directory: open it without following a link, and be sure it is
	 * the one just stat'ed (not swapped in between). */
	if (depth + 1 > AL_IMAGE_MAX_DEPTH)
		return al_error_set(
		    w->err, 0, "image",
		    "refused: the image is nested deeper than %d levels (at %.120s...)",
		    AL_IMAGE_MAX_DEPTH, w->t->e[ei].path);
	_cleanup_close_ int cfd =
	    openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat cst;
	if (cfd < 0 && (errno == EACCES || errno == EPERM)) {
		w->t->e[ei].unreadable = true;
		w->all_hit = false;
		return 0;
	}
	if (cfd < 0 && errno == ENOENT)
		return al_error_set(w->err, EAGAIN, "image", "%s changed while the image was read",
		                    w->t->e[ei].path);
	if (cfd < 0)
		return al_error_errno(w->err, "image", "opening %s", w->t->e[ei].path);
	if (fstat(cfd, &cst) < 0)
		return al_error_errno(w->err, "image", "stat %s", w->t->e[ei].path);
	if (cst.st_ino != st.st_ino || cst.st_dev != st.st_dev)
		return al_error_set(w->err, EAGAIN, "image", "%s changed while the image was read",
		                    w->t->e[ei].path);
	if (cst.st_dev != w->t->e[di].dev && virtual_fs(cfd))
		return al_error_set(
		    w->err, EINVAL, "image",
		    "%s is a mounted kernel filesystem (proc, sysfs...): not an image",
		    w->t->e[ei].path);
	return walk_dir(w, cfd, ei, o && o->type == 'd' ? o : NULL, depth + 1);
}

static const struct al_image_entry *old_next(const struct al_image_tree *old, size_t *j)
{
	const struct al_image_entry *o = &old->e[*j];
	*j = o->type == 'd' ? o->end : *j + 1;
	return o;
}

static int walk_dir(struct walker *w, int dfd, size_t di, const struct al_image_entry *od,
                    unsigned depth)
{
	const struct al_image_tree *old = w->old;
	size_t oi = od ? (size_t)(od - old->e) : 0, oend = od ? od->end : 0;
	bool reuse = od && same_identity(od, &w->t->e[di]) && !od->unreadable;
	size_t start_n = w->t->n;
	int r;

	for (int attempt = 0; attempt < 2; attempt++) {
		char **names = NULL;
		size_t n = 0, i, j = oi + 1;
		bool owned = !reuse;

		if (reuse) {
			/* The directory's identity is unchanged, so are its entries
			 * (any create, unlink or rename in it moves its mtime and
			 * ctime): take them from the previous walk. */
			size_t k = oi + 1, cnt = 0;
			while (k < oend) {
				old_next(old, &k);
				cnt++;
			}
			names = calloc(cnt ? cnt : 1, sizeof *names);
			if (names == NULL)
				return al_error_set(w->err, ENOMEM, "image", "listing");
			k = oi + 1;
			while (k < oend)
				names[n++] = (char *)base_of(old_next(old, &k)->path);
			w->t->stats.dirs_reused++;
		} else {
			r = read_names(w, dfd, w->t->e[di].path, &names, &n);
			if (r == -EACCES || r == -EPERM) {
				w->t->e[di].unreadable = true;
				w->all_hit = false;
				return 0;
			}
			if (r < 0)
				return r == -ENOMEM || w->err->msg[0]
				           ? r
				           : al_error_set(w->err, -r, "image", "reading %s",
				                          w->t->e[di].path);
			w->all_hit = false;
		}
		r = 0;
		for (i = 0; i < n && r == 0; i++) {
			const struct al_image_entry *o = NULL;
			/* the previous walk's entry of the same name, if any
			 * (both lists are sorted bytewise) */
			while (od && j < oend) {
				size_t save = j;
				const struct al_image_entry *c = old_next(old, &j);
				int cmp = strcmp(base_of(c->path), names[i]);
				if (cmp == 0) {
					o = c;
					break;
				}
				if (cmp > 0) {
					j = save;
					break;
				}
			}
			r = visit(w, dfd, di, names[i], o, depth);
			if (r == -ENOENT && !reuse) {
				r = 0; /* removed since it was listed */
				w->all_hit = false;
			}
		}
		free_names(names, n, owned);
		if (r == -ENOENT && reuse) {
			/* the previous walk's entries were wrong after all: read the
			 * directory itself */
			for (size_t k = start_n; k < w->t->n; k++) {
				free(w->t->e[k].path);
				free(w->t->e[k].target);
				free(w->t->e[k].cap);
			}
			w->t->n = start_n;
			w->all_hit = false;
			reuse = false;
			continue;
		}
		if (r < 0)
			return r;
		break;
	}
	w->t->e[di].end = w->t->n;
	return 0;
}

int al_image_tree_walk(int rootfd, const char *name, const struct al_image_tree *old,
                       struct al_image_tree *t, struct al_error *err)
{
	struct walker w = {.t = t, .old = old, .err = err};
	struct timespec now;
	struct stat st;
	char *root;
	int r;

	memset(t, 0, sizeof *t);
	if (sodium_init() < 0)
		return al_error_set(err, EIO, "image", "libsodium initialisation failed");
	clock_gettime(CLOCK_REALTIME, &now);
	w.racy_after_ns = ns_of(now) - RACY_MARGIN_NS;
	w.all_hit = old != NULL && old->n > 0 && al_image_digest_valid(old->digest);
	_cleanup_close_ int fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return al_error_errno(err, "image", "opening the image %s", name);
	if (fstat(fd, &st) < 0)
		return al_error_errno(err, "image", "stat %s", name);
	if (virtual_fs(fd))
		return al_error_set(err, EINVAL, "image", "%s is a kernel filesystem, not an image",
		                    name);
	w.buf = malloc(READ_CHUNK);
	root = strdup("/");
	if (w.buf == NULL || root == NULL) {
		free(w.buf);
		free(root);
		return al_error_set(err, ENOMEM, "image", "listing the image");
	}
	struct prefetch pf;
	prefetch_start(&pf, fd, old);
	w.pf = &pf;
	r = add_entry(&w, root, &st, 0);
	if (r == 0)
		r = walk_dir(&w, fd, 0,
		             old && old->n > 0 && old->e[0].type == 'd' ? &old->e[0] : NULL, 0);
	prefetch_free(&pf);
	free(w.buf);
	if (r < 0) {
		al_image_tree_free(t);
		return r;
	}
	t->stats.entries = t->n;
	if (w.all_hit && t->n == old->n) {
		/* every entry is the previous walk's, unchanged: so is the listing */
		memcpy(t->digest, old->digest, sizeof t->digest);
		t->stats.all_hit = true;
	} else {
		struct al_buf b;
		al_buf_init(&b);
		r = al_image_listing(t, &b);
		if (r < 0) {
			al_buf_free(&b);
			al_image_tree_free(t);
			return al_error_set(err, ENOMEM, "image", "listing the image");
		}
		al_image_digest_of(b.data, b.len, t->digest);
		al_buf_free(&b);
	}
	return 0;
}
