/* The digest of `image: host`. Hashing every byte of the host's /usr at each
 * run start is out of the question (here: 158,000 files, 8.6 GiB), so the
 * host digest covers what can be checked in about a millisecond
 * (docs/images.md): the installed package set as dpkg records it, the
 * exposed top-level entries, and the identity (dev, ino, mtime, ctime) of
 * each exposed directory and of each directory directly inside one (so an
 * entry added to or removed from /usr/bin, /usr/lib, /usr/local... changes
 * the digest). It does not cover a file edited in place. */
#define _GNU_SOURCE
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/image_internal.h"
#include "util/cleanup.h"

#define HOST_HEADER "airlock-host-listing 1\n"
#define DPKG_STATUS "/var/lib/dpkg/status"
#define RACY_MARGIN_NS (2LL * 1000000000LL)

/* The same list as src/sandbox/rootfs.c host_entry_wanted(). */
static const char *const exposed[] = {"bin", "lib", "lib32", "lib64", "libx32", "sbin", "usr"};

struct hrec {
	char *path;
	char *line; /* the record without the path */
};

static int64_t ns_of(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int add_rec(struct hrec **v, size_t *n, const char *path, const struct stat *st,
                   const char *data)
{
	struct hrec *nv = realloc(*v, (*n + 1) * sizeof **v);
	struct al_buf b;

	if (nv == NULL)
		return -ENOMEM;
	*v = nv;
	al_buf_init(&b);
	al_buf_printf(&b, " %c %04o %u %u %s\n",
	              S_ISDIR(st->st_mode)   ? 'd'
	              : S_ISLNK(st->st_mode) ? 'l'
	              : S_ISREG(st->st_mode) ? 'f'
	                                     : 's',
	              st->st_mode & 07777, st->st_uid, st->st_gid, data);
	nv[*n].path = strdup(path);
	nv[*n].line = b.data;
	if (nv[*n].path == NULL || b.oom) {
		free(nv[*n].path);
		al_buf_free(&b);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

static int add_dir(struct hrec **v, size_t *n, const char *path, const struct stat *st)
{
	char id[128];
	snprintf(id, sizeof id, "id=%llu:%llu:%lld:%lld", (unsigned long long)st->st_dev,
	         (unsigned long long)st->st_ino, (long long)ns_of(st->st_mtim),
	         (long long)ns_of(st->st_ctim));
	return add_rec(v, n, path, st, id);
}

/* SHA-256 of dpkg's status file, reused from the cache while its identity
 * is unchanged (the same argument as for image files, cache.c). */
static int status_hash(const struct al_image_opts *o, const struct stat *st, char hex[65],
                       struct al_error *err)
{
	static const char hexd[] = "0123456789abcdef";
	char dir[PATH_MAX], key[160], *text = NULL;
	unsigned char h[32];
	size_t len = 0;
	int cfd = -1;
	struct timespec now;
	bool use_cache = !(o && o->no_cache);

	snprintf(key, sizeof key, "%llu %llu %llu %lld %lld ", (unsigned long long)st->st_dev,
	         (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
	         (long long)ns_of(st->st_mtim), (long long)ns_of(st->st_ctim));
	if (use_cache) {
		if (o && o->cache_dir)
			snprintf(dir, sizeof dir, "%s", o->cache_dir);
		else if (al_image_cache_dir(dir, sizeof dir) < 0)
			use_cache = false;
	}
	if (use_cache) {
		cfd = al_image_open_sub(dir, "images", true);
		if (cfd >= 0 &&
		    al_image_read_private(cfd, "host-dpkg-status", false, &text, &len) == 0) {
			size_t kl = strlen(key);
			bool ok =
			    len == kl + 65 && memcmp(text, key, kl) == 0 && text[len - 1] == '\n';
			for (size_t i = kl; ok && i < kl + 64; i++)
				ok = (text[i] >= '0' && text[i] <= '9') ||
				     (text[i] >= 'a' && text[i] <= 'f');
			if (ok) {
				memcpy(hex, text + kl, 64);
				hex[64] = '\0';
				free(text);
				close(cfd);
				return 0;
			}
			free(text);
		}
	}
	{
		crypto_hash_sha256_state hs;
		unsigned char buf[65536];
		struct stat st2;
		_cleanup_close_ int fd =
		    open(DPKG_STATUS, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st2) < 0 || st2.st_ino != st->st_ino) {
			if (cfd >= 0)
				close(cfd);
			return al_error_errno(err, "image", "reading %s", DPKG_STATUS);
		}
		crypto_hash_sha256_init(&hs);
		for (;;) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				if (cfd >= 0)
					close(cfd);
				return al_error_errno(err, "image", "reading %s", DPKG_STATUS);
			}
			if (n == 0)
				break;
			crypto_hash_sha256_update(&hs, buf, (size_t)n);
		}
		crypto_hash_sha256_final(&hs, h);
	}
	for (int k = 0; k < 32; k++) {
		hex[2 * k] = hexd[h[k] >> 4];
		hex[2 * k + 1] = hexd[h[k] & 15];
	}
	hex[64] = '\0';
	clock_gettime(CLOCK_REALTIME, &now);
	if (cfd >= 0 && ns_of(st->st_ctim) < ns_of(now) - RACY_MARGIN_NS) {
		struct al_buf b;
		al_buf_init(&b);
		al_buf_printf(&b, "%s%s\n", key, hex);
		if (!b.oom)
			al_image_write_atomic(cfd, "host-dpkg-status", b.data, b.len);
		al_buf_free(&b);
	}
	if (cfd >= 0)
		close(cfd);
	return 0;
}

static int cmp_rec(const void *a, const void *b)
{
	return al_image_path_cmp(((const struct hrec *)a)->path, ((const struct hrec *)b)->path);
}

int al_image_digest_host(const struct al_image_opts *o, char out[AL_IMAGE_DIGEST_MAX],
                         struct al_buf *listing, struct al_error *err)
{
	struct hrec *v = NULL;
	size_t n = 0, i;
	struct stat st;
	struct al_buf b;
	int r = 0;

	if (sodium_init() < 0)
		return al_error_set(err, EIO, "image", "libsodium initialisation failed");
	for (i = 0; i < AL_ARRAY_SIZE(exposed) && r == 0; i++) {
		char path[64];
		snprintf(path, sizeof path, "/%s", exposed[i]);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			struct al_buf t;
			ssize_t tl = readlink(path, target, sizeof target - 1);
			if (tl < 0)
				continue;
			al_buf_init(&t);
			al_image_escape(&t, target, (size_t)tl);
			r = t.oom ? -ENOMEM : add_rec(&v, &n, path, &st, t.data ? t.data : "");
			al_buf_free(&t);
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		r = add_dir(&v, &n, path, &st);
		DIR *d = opendir(path);
		struct dirent *de;
		if (d == NULL)
			continue;
		while (r == 0 && (de = readdir(d)) != NULL) {
			struct stat cst;
			char cpath[PATH_MAX];
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				continue;
			if (fstatat(dirfd(d), de->d_name, &cst, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(cst.st_mode))
				continue;
			snprintf(cpath, sizeof cpath, "%s/%s", path, de->d_name);
			r = add_dir(&v, &n, cpath, &cst);
		}
		closedir(d);
	}
	if (r == 0 && lstat(DPKG_STATUS, &st) == 0 && S_ISREG(st.st_mode)) {
		char hex[65], data[128];
		r = status_hash(o, &st, hex, err);
		if (r == 0) {
			snprintf(data, sizeof data, "%llu %s -", (unsigned long long)st.st_size,
			         hex);
			r = add_rec(&v, &n, DPKG_STATUS, &st, data);
		}
	}
	if (r == 0) {
		qsort(v, n, sizeof *v, cmp_rec);
		al_buf_init(&b);
		al_buf_puts(&b, HOST_HEADER);
		for (i = 0; i < n; i++) {
			al_image_escape(&b, v[i].path, strlen(v[i].path));
			al_buf_puts(&b, v[i].line);
		}
		if (b.oom) {
			r = -ENOMEM;
		} else {
			al_image_digest_of(b.data, b.len, out);
			if (!(o && o->no_cache))
				al_image_listing_remember(o ? o->cache_dir : NULL, out, &b);
			if (listing)
				al_buf_append(listing, b.data, b.len);
		}
		al_buf_free(&b);
	}
	for (i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].line);
	}
	free(v);
	if (r == -ENOMEM)
		return al_error_set(err, ENOMEM, "image", "the host image digest");
	return r;
}
