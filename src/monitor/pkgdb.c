/* The image's package managers, hashed once at start (pkgmgr.h): a renamed
 * or copied package manager is recognised by content. Files are opened
 * beneath the image root (RESOLVE_IN_ROOT: an absolute symlink in an image
 * directory stays inside it). */
#define _GNU_SOURCE
#include "monitor/pkgmgr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Package-manager files larger than this are identified by dev:ino only. */
#define PKGDB_HASH_MAX (64u << 20)

static const char *const bin_dirs[] = {"usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin",
                                       "bin", "sbin"};

static int open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, root, path, &how, sizeof how);
}

static int hash_fd(int fd, char hex[65], size_t *bytes)
{
	crypto_hash_sha256_state st;
	unsigned char buf[65536], d[crypto_hash_sha256_BYTES];
	ssize_t n;

	crypto_hash_sha256_init(&st);
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
		*bytes += (size_t)n;
	}
	crypto_hash_sha256_final(&st, d);
	sodium_bin2hex(hex, 65, d, sizeof d);
	return 0;
}

static bool seen(const struct al_pkgdb *db, const struct stat *st)
{
	for (size_t i = 0; i < db->n; i++)
		if (db->e[i].ino == st->st_ino && db->e[i].dev_major == major(st->st_dev) &&
		    db->e[i].dev_minor == minor(st->st_dev))
			return true;
	return false;
}

int al_pkgdb_scan(struct al_pkgdb *db, const char *image_root)
{
	struct timespec t0, t1;
	int root, r = 0;

	if (sodium_init() < 0)
		return -EIO;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	root = open(image_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	for (size_t d = 0; d < sizeof bin_dirs / sizeof bin_dirs[0] && r == 0; d++) {
		int dfd = open_in_root(root, bin_dirs[d], O_RDONLY | O_DIRECTORY);
		DIR *dir;
		struct dirent *de;

		if (dfd < 0)
			continue;
		dir = fdopendir(dfd);
		if (dir == NULL) {
			close(dfd);
			continue;
		}
		while ((de = readdir(dir)) != NULL) {
			struct al_pkgdb_entry e = {0};
			char path[512];
			struct stat st;
			size_t bytes = 0;
			int fd;

			if (!al_pkgmgr_name(de->d_name) || strlen(de->d_name) >= sizeof e.name)
				continue;
			snprintf(path, sizeof path, "%s/%s", bin_dirs[d], de->d_name);
			fd = open_in_root(root, path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
			if (fd < 0)
				continue;
			if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || seen(db, &st)) {
				close(fd);
				continue;
			}
			snprintf(e.name, sizeof e.name, "%s", de->d_name);
			e.dev_major = major(st.st_dev);
			e.dev_minor = minor(st.st_dev);
			e.ino = st.st_ino;
			if ((uint64_t)st.st_size <= PKGDB_HASH_MAX && hash_fd(fd, e.sha256, &bytes) == 0)
				db->bytes_hashed += bytes;
			else
				e.sha256[0] = '\0';
			close(fd);
			r = al_pkgdb_add(db, &e);
			if (r < 0)
				break;
		}
		closedir(dir);
	}
	close(root);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	db->scan_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
	              (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	return r;
}
