/* The digest cache: the previous walk of each image directory, so that an
 * unchanged image costs one fstatat per entry instead of reading every byte,
 * and the listings of past digests, so that drift can name what changed.
 *
 * Why an identity match is enough (docs/images.md): a file's content cannot
 * change without its ctime moving, and no user can set ctime (utimensat sets
 * atime and mtime only, and itself moves ctime). So an inode with the same
 * (dev, ino, size, mtime, ctime) as when it was hashed still has that hash,
 * unless the change fell in the same timestamp tick as the hashing: entries
 * that changed within RACY_MARGIN of a walk are never reused (tree.c).
 *
 * The cache is input we do not trust: it must be a regular file owned by the
 * caller in a directory owned by the caller and writable by nobody else,
 * opened without following links, its trailer must be the checksum of its
 * body, its entries must form a well-ordered tree; otherwise it is ignored.
 * Even then an entry is only used when the live stat identity matches. */
#define _GNU_SOURCE
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fdutil.h"
#include "image/image_internal.h"

/* The trailer is a 64-bit checksum of the body: a check against
 * corruption and truncation, not against an attacker (ownership is that).
 * It runs over the whole file at every run start, so it is a word-at-a-time
 * multiply-xor hash (about 0.1 ms for the 790 KB cache of a 5,000-entry
 * image) rather than a cryptographic hash (BLAKE2b took 0.9 ms, a third of
 * the cache's load time). Version 2 of the format; a version 1 file (with a
 * BLAKE2b trailer) is ignored and rewritten once. */
#define CACHE_HEADER "airlock-image-cache 2\n"
#define CACHE_MAX_BYTES (512u << 20)
#define LISTINGS_KEPT 32
#define TREES_KEPT 64 /* previous walks kept, least recently used dropped */
#define F_RACY 1u
#define F_UNREADABLE 2u

static uint64_t checksum64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0x243f6a8885a308d3ull ^ (uint64_t)len, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, p, len);
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 32;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

int al_image_cache_dir(char *out, size_t len)
{
	return al_image_user_dir(out, len, "/var/lib/airlock/cache", "XDG_CACHE_HOME", "airlock",
				 ".cache/airlock");
}

/* A directory of ours: not a symlink, owned by us, writable by nobody else. */
static int open_private_dir(int dfd, const char *name, bool create)
{
	struct stat st;
	int fd;

	/* open first: at run start the directory nearly always exists */
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* mkdir -p of the parents of dir (they may be links: $HOME often is), then
 * the last component opened as a private directory. */
static int open_cache_dir(const char *dir, bool create)
{
	char buf[PATH_MAX];
	char *slash;

	if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
		return -ENAMETOOLONG;
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return -EINVAL;
	*slash = '\0';
	{
		/* the common case: the parents exist */
		_cleanup_close_ int parent =
		    open(slash == buf ? "/" : buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (parent >= 0)
			return open_private_dir(parent, slash + 1, create);
		if (errno != ENOENT || !create)
			return -errno;
	}
	*slash = '/';
	if (create) {
		for (char *p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
				*p = '/';
				return -errno;
			}
			*p = '/';
		}
	}
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return -EINVAL;
	*slash = '\0';
	_cleanup_close_ int parent =
	    open(slash == buf ? "/" : buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0)
		return -errno;
	return open_private_dir(parent, slash + 1, create);
}

int al_image_open_sub(const char *cache_dir, const char *sub, bool create)
{
	_cleanup_close_ int top = open_cache_dir(cache_dir, create);
	if (top < 0)
		return top;
	return open_private_dir(top, sub, create);
}

/* Read a whole file of ours (regular, owned by us unless any_owner, not
 * writable by others) into a NUL-terminated buffer. */
int al_image_read_private(int dfd, const char *name, bool any_owner, char **out, size_t *len)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (!any_owner && (st.st_uid != geteuid() || (st.st_mode & 022))))
		return -EPERM;
	if ((uint64_t)st.st_size > CACHE_MAX_BYTES)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return -ENOMEM;
	n = al_read_full(fd, buf, (size_t)st.st_size);
	if (n < 0 || n != st.st_size) {
		free(buf);
		return n < 0 ? (int)n : -EIO;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

/* Write atomically: a private temp file, then rename over. */
int al_image_write_atomic(int dfd, const char *name, const char *data, size_t len)
{
	char tmp[96];
	uint32_t rnd = 0;
	int fd, r;

	if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)getpid() * 2654435761u;
	snprintf(tmp, sizeof tmp, ".tmp.%d.%08x", (int)getpid(), rnd);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = al_write_all(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

/* ---- the cache file of one image ---- */

static int unescape(const char *s, size_t n, char **out)
{
	char *d = malloc(n + 1);
	size_t i, k = 0;

	if (d == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			unsigned v = 0;
			if (i + 2 >= n) {
				free(d);
				return -EINVAL;
			}
			for (int h = 1; h <= 2; h++) {
				char x = s[i + h];
				v <<= 4;
				if (x >= '0' && x <= '9')
					v |= (unsigned)(x - '0');
				else if (x >= 'A' && x <= 'F')
					v |= (unsigned)(x - 'A' + 10);
				else {
					free(d);
					return -EINVAL;
				}
			}
			if (v == 0) { /* no NUL inside names */
				free(d);
				return -EINVAL;
			}
			d[k++] = (char)v;
			i += 2;
		} else if (c < 0x21 || c > 0x7e) {
			free(d);
			return -EINVAL;
		} else {
			d[k++] = (char)c;
		}
	}
	d[k] = '\0';
	*out = d;
	return 0;
}

/* Lowercase hex digit values, 0x10 for anything else: the cache is parsed
 * at every run start (two hex digits per byte of every file's hash), so
 * decoding is a table lookup with one check per byte pair, no branches per
 * digit. */
static unsigned char hexval[256];

static void hexval_init(void)
{
	if (hexval[0] == 0x10)
		return;
	for (int i = 0; i < 256; i++)
		hexval[i] = 0x10;
	for (int i = 0; i < 10; i++)
		hexval['0' + i] = (unsigned char)i;
	for (int i = 0; i < 6; i++)
		hexval['a' + i] = (unsigned char)(10 + i);
}

static int parse_hex(const char *s, size_t n, unsigned char *out, size_t max, size_t *got)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned bad = 0;

	if (n % 2 || n / 2 > max)
		return -EINVAL;
	hexval_init();
	for (size_t i = 0; i < n; i += 2) {
		unsigned hi = hexval[u[i]], lo = hexval[u[i + 1]];
		bad |= hi | lo;
		out[i / 2] = (unsigned char)(hi << 4 | (lo & 15));
	}
	if (bad & 0x10)
		return -EINVAL;
	*got = n / 2;
	return 0;
}

#define MAX_FIELDS 13

/* Digits only (no sign, no spaces, no overflow), in base 8 or 10: the
 * cache is parsed at every run start, so no locale-aware strtoull. */
static int parse_u64(const char *s, int base, unsigned long long *v)
{
	unsigned long long x = 0;
	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (d >= (unsigned)base || x > (ULLONG_MAX - d) / (unsigned)base)
			return -EINVAL;
		x = x * (unsigned)base + d;
	}
	*v = x;
	return 0;
}

static int parse_i64(const char *s, int64_t *v)
{
	unsigned long long x;
	bool neg = *s == '-';
	if (parse_u64(s + neg, 10, &x) < 0 || x > (unsigned long long)INT64_MAX)
		return -EINVAL;
	*v = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

/* One cache line of len bytes: PATH TYPE MODE UID GID SIZE DEV INO MTIME
 * FLAGS CTIME DATA CAP */
static int parse_entry(char *line, size_t len, struct al_image_entry *e)
{
	char *end = line + len;
	char *f[MAX_FIELDS];
	size_t nf = 0, got;
	char *p = line;
	unsigned long long mode, uid, gid, size, dev, ino, flags;
	int r;

	memset(e, 0, sizeof *e);
	/* split on spaces (memchr: the line's length is known) */
	f[nf++] = p;
	while ((p = memchr(p, ' ', (size_t)(end - p))) != NULL) {
		if (nf == MAX_FIELDS)
			return -EINVAL;
		*p++ = '\0';
		f[nf++] = p;
	}
	if (nf != MAX_FIELDS)
		return -EINVAL;
	if (strlen(f[1]) != 1 || !strchr("dflcbps", f[1][0]))
		return -EINVAL;
	if (parse_u64(f[2], 8, &mode) < 0 || parse_u64(f[3], 10, &uid) < 0 ||
	    parse_u64(f[4], 10, &gid) < 0 || parse_u64(f[5], 10, &size) < 0 ||
	    parse_u64(f[6], 10, &dev) < 0 || parse_u64(f[7], 10, &ino) < 0 ||
	    parse_i64(f[8], &e->mtime_ns) < 0 || parse_u64(f[9], 10, &flags) < 0 ||
	    parse_i64(f[10], &e->ctime_ns) < 0)
		return -EINVAL;
	if (mode > 07777 || uid > UINT32_MAX || gid > UINT32_MAX || flags > 3)
		return -EINVAL;
	e->type = f[1][0];
	e->mode = (uint32_t)mode;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->size = size;
	e->dev = dev;
	e->ino = ino;
	e->racy = flags & F_RACY;
	e->unreadable = flags & F_UNREADABLE;
	r = unescape(f[0], strlen(f[0]), &e->path);
	if (r < 0)
		return r;
	if (e->type == 'f') {
		if (strcmp(f[11], "-") == 0
		        ? !e->unreadable
		        : (parse_hex(f[11], strlen(f[11]), e->sha256, 32, &got) < 0 || got != 32))
			return -EINVAL;
		if (strcmp(f[12], "-") != 0) {
			unsigned char cap[256];
			if (parse_hex(f[12], strlen(f[12]), cap, sizeof cap, &got) < 0 || got == 0)
				return -EINVAL;
			e->cap = malloc(got);
			if (e->cap == NULL)
				return -ENOMEM;
			memcpy(e->cap, cap, got);
			e->cap_len = got;
		}
	} else if (e->type == 'l') {
		r = unescape(f[11], strlen(f[11]), &e->target);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool parent_of(const char *dir, const char *path)
{
	const char *s = strrchr(path, '/');
	size_t n = (size_t)(s - path);

	if (s == NULL || s[1] == '\0' || strcmp(s + 1, ".") == 0 || strcmp(s + 1, "..") == 0)
		return false;
	if (n == 0)
		return strcmp(dir, "/") == 0;
	return strlen(dir) == n && memcmp(dir, path, n) == 0;
}

/* Parse and check a cache file; on any defect the result is empty. */
int al_image_cache_parse(char *text, size_t len, struct al_image_tree *t)
{
	unsigned char want[8];
	size_t got, stack_n = 0;
	size_t *stack = NULL;
	char *p, *nl, *trailer;
	int r = -EINVAL;

	memset(t, 0, sizeof *t);
	if (len < sizeof CACHE_HEADER || memcmp(text, CACHE_HEADER, sizeof CACHE_HEADER - 1) != 0 ||
	    text[len - 1] != '\n')
		return -EINVAL;
	text[len - 1] = '\0';
	trailer = strrchr(text, '\n');
	if (trailer == NULL || strncmp(trailer + 1, "end ", 4) != 0)
		return -EINVAL;
	if (parse_hex(trailer + 5, strlen(trailer + 5), want, 8, &got) < 0 || got != 8)
		return -EINVAL;
	{
		uint64_t sum = checksum64(text, (size_t)(trailer + 1 - text));
		for (int k = 0; k < 8; k++)
			if (want[k] != (unsigned char)(sum >> (56 - 8 * k)))
				return -EINVAL;
	}
	*trailer = '\0';
	p = text + sizeof CACHE_HEADER - 1;
	nl = strchr(p, '\n');
	if (nl == NULL || strncmp(p, "digest ", 7) != 0)
		return -EINVAL;
	*nl = '\0';
	if (!al_image_digest_valid(p + 7))
		return -EINVAL;
	snprintf(t->digest, sizeof t->digest, "%s", p + 7);
	p = nl + 1;
	while (*p) {
		struct al_image_entry e;
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		size_t llen = nl ? (size_t)(nl - p) : strlen(p);
		if (t->n == t->cap) {
			size_t nc = t->cap ? t->cap * 2 : 1024;
			struct al_image_entry *ne = realloc(t->e, nc * sizeof *ne);
			size_t *ns = realloc(stack, nc * sizeof *ns);
			if (ne)
				t->e = ne;
			if (ns)
				stack = ns;
			if (ne == NULL || ns == NULL || nc > AL_IMAGE_MAX_ENTRIES) {
				r = -ENOMEM;
				goto bad;
			}
			t->cap = nc;
		}
		r = parse_entry(p, llen, &e);
		if (r < 0) {
			free(e.path);
			free(e.target);
			free(e.cap);
			goto bad;
		}
		t->e[t->n] = e;
		t->n++;
		r = -EINVAL;
		/* structure: the root first, then each entry after its parent
		 * and after its previous sibling's subtree, in canonical order */
		if (t->n == 1) {
			if (strcmp(e.path, "/") != 0 || e.type != 'd')
				goto bad;
			e.parent = 0;
		} else {
			if (al_image_path_cmp(t->e[t->n - 2].path, e.path) >= 0)
				goto bad;
			while (stack_n > 0 && !parent_of(t->e[stack[stack_n - 1]].path, e.path))
				t->e[stack[--stack_n]].end = t->n - 1;
			if (stack_n == 0)
				goto bad;
			t->e[t->n - 1].parent = stack[stack_n - 1];
		}
		t->e[t->n - 1].end = t->n;
		if (e.type == 'd')
			stack[stack_n++] = t->n - 1;
		p = nl ? nl + 1 : p + strlen(p);
	}
	while (stack_n > 0)
		t->e[stack[--stack_n]].end = t->n;
	free(stack);
	return t->n > 0 ? 0 : -EINVAL;
bad:
	free(stack);
	al_image_tree_free(t);
	return r;
}

static int cache_format(const struct al_image_tree *t, struct al_buf *b)
{
	static const char hexd[] = "0123456789abcdef";
	char hex[65];

	al_buf_puts(b, CACHE_HEADER);
	al_buf_printf(b, "digest %s\n", t->digest);
	for (size_t i = 0; i < t->n; i++) {
		const struct al_image_entry *e = &t->e[i];
		al_image_escape(b, e->path, strlen(e->path));
		al_buf_printf(b, " %c %o %u %u %llu %llu %llu %lld %u %lld ", e->type, e->mode,
		              e->uid, e->gid, (unsigned long long)e->size,
		              (unsigned long long)e->dev, (unsigned long long)e->ino,
		              (long long)e->mtime_ns,
		              (e->racy ? F_RACY : 0) | (e->unreadable ? F_UNREADABLE : 0),
		              (long long)e->ctime_ns);
		if (e->type == 'f' && !e->unreadable) {
			for (int k = 0; k < 32; k++) {
				hex[2 * k] = hexd[e->sha256[k] >> 4];
				hex[2 * k + 1] = hexd[e->sha256[k] & 15];
			}
			al_buf_append(b, hex, 64);
		} else if (e->type == 'l') {
			al_image_escape(b, e->target, strlen(e->target));
		} else {
			al_buf_puts(b, "-");
		}
		al_buf_puts(b, " ");
		if (e->type == 'f' && e->cap) {
			for (size_t k = 0; k < e->cap_len; k++) {
				char two[2] = {hexd[e->cap[k] >> 4], hexd[e->cap[k] & 15]};
				al_buf_append(b, two, 2);
			}
		} else {
			al_buf_puts(b, "-");
		}
		al_buf_puts(b, "\n");
	}
	if (b->oom)
		return -ENOMEM;
	al_buf_printf(b, "end %016llx\n", (unsigned long long)checksum64(b->data, b->len));
	return b->oom ? -ENOMEM : 0;
}

/* ---- listings of past digests ---- */

/* Keep the newest `keep` files named prefix* in dfd (by mtime). */
static void prune_oldest(int dfd, const char *prefix, size_t keep)
{
	for (int round = 0; round < 64; round++) {
		_cleanup_close_ int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		char oldest[NAME_MAX + 1] = "";
		int64_t oldest_t = INT64_MAX;
		size_t n = 0;

		if (d == NULL)
			return;
		fd = -1;
		while ((de = readdir(d)) != NULL) {
			struct stat st;
			if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
			    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			n++;
			int64_t tm = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
			if (tm < oldest_t) {
				oldest_t = tm;
				snprintf(oldest, sizeof oldest, "%s", de->d_name);
			}
		}
		if (n > keep && oldest[0])
			unlinkat(dirfd(d), oldest, 0);
		closedir(d);
		if (n <= keep + 1)
			return;
	}
}

static void listing_name(const char *digest, char out[80])
{
	snprintf(out, 80, "sha256-%s", digest + 7);
}

static void listing_store(const char *cache_dir, const char *digest, const struct al_buf *listing)
{
	_cleanup_close_ int dfd = al_image_open_sub(cache_dir, "listings", true);
	char name[80];
	struct stat st;

	if (dfd < 0)
		return;
	listing_name(digest, name);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* keep it among the newest: it is in use */
		utimensat(dfd, name, NULL, AT_SYMLINK_NOFOLLOW);
		return;
	}
	if (al_image_write_atomic(dfd, name, listing->data, listing->len) == 0)
		prune_oldest(dfd, "sha256-", LISTINGS_KEPT);
}

int al_image_listing_load(const char *cache_dir, const char *digest, struct al_buf *out)
{
	char dir[PATH_MAX], name[80], got[AL_IMAGE_DIGEST_MAX];
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!al_image_digest_valid(digest))
		return -EINVAL;
	if (cache_dir == NULL) {
		r = al_image_cache_dir(dir, sizeof dir);
		if (r < 0)
			return r;
		cache_dir = dir;
	}
	_cleanup_close_ int dfd = al_image_open_sub(cache_dir, "listings", false);
	listing_name(digest, name);
	/* self-verifying: the name is the hash of the content */
	r = dfd >= 0 ? al_image_read_private(dfd, name, true, &text, &len) : dfd;
	if (r < 0) {
		/* a stored image keeps its listing beside it in the store */
		struct al_error ignored = {0};
		_cleanup_close_ int store = al_image_store_open(false, &ignored);
		char sname[96];
		snprintf(sname, sizeof sname, "sha256-%s.listing", digest + 7);
		r = store >= 0 ? al_image_read_private(store, sname, false, &text, &len) : store;
	}
	if (r < 0)
		return r;
	al_image_digest_of(text, len, got);
	if (strcmp(got, digest) != 0) {
		free(text);
		return -EINVAL;
	}
	al_buf_append(out, text, len);
	free(text);
	return out->oom ? -ENOMEM : 0;
}

void al_image_listing_remember(const char *cache_dir, const char *digest,
                               const struct al_buf *listing)
{
	char dir[PATH_MAX];
	if (cache_dir == NULL) {
		if (al_image_cache_dir(dir, sizeof dir) < 0)
			return;
		cache_dir = dir;
	}
	listing_store(cache_dir, digest, listing);
}

/* ---- the digest of a directory, through the cache ---- */

int al_image_digest_dir(const char *path, const struct al_image_opts *o, struct al_image_tree *t,
                        struct al_error *err)
{
	struct al_image_tree old = {0};
	char dir[PATH_MAX], name[64];
	struct stat st;
	int cfd = -1, r;
	bool use_cache = !(o && o->no_cache);

	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return al_error_errno(err, "image", "opening the image %s", path);
	if (fstat(fd, &st) < 0)
		return al_error_errno(err, "image", "stat %s", path);
	snprintf(name, sizeof name, "tree-%llx-%llx", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	if (use_cache) {
		if (o && o->cache_dir)
			snprintf(dir, sizeof dir, "%s", o->cache_dir);
		else if (al_image_cache_dir(dir, sizeof dir) < 0)
			use_cache = false;
	}
	if (use_cache) {
		char *text = NULL;
		size_t len = 0;
		cfd = al_image_open_sub(dir, "images", true);
		if (cfd >= 0 && al_image_read_private(cfd, name, false, &text, &len) == 0) {
			if (al_image_cache_parse(text, len, &old) < 0)
				memset(&old, 0, sizeof old);
			free(text);
		}
	}
	r = al_image_tree_walk(fd, ".", old.n ? &old : NULL, t, err);
	t->stats.cache_loaded = old.n > 0;
	al_image_tree_free(&old);
	if (r < 0) {
		if (cfd >= 0)
			close(cfd);
		return r;
	}
	if (use_cache && !t->stats.all_hit) {
		struct al_buf b;
		al_buf_init(&b);
		if (cfd >= 0 && cache_format(t, &b) == 0 &&
		    al_image_write_atomic(cfd, name, b.data, b.len) == 0) {
			t->stats.cache_written = true;
			prune_oldest(cfd, "tree-", TREES_KEPT);
		}
		al_buf_reset(&b);
		if (al_image_listing(t, &b) == 0)
			listing_store(dir, t->digest, &b);
		al_buf_free(&b);
	} else if (cfd >= 0) {
		utimensat(cfd, name, NULL, AT_SYMLINK_NOFOLLOW); /* recently used: kept */
	}
	if (cfd >= 0)
		close(cfd);
	return 0;
}
