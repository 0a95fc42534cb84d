/* The image's package managers (pkgmgr.h): a renamed or copied package
 * manager is recognised by content. The scan at start only notes names,
 * identities and sizes (hashing them all cost every run 2-12 ms: dpkg alone
 * is 300 KB); a file is hashed the first time an exec of a hashed file of
 * the same size asks (al_pkgdb_hash_for), which is the only case where its
 * hash can decide anything. Files are opened beneath the image root
 * (RESOLVE_IN_ROOT: an absolute symlink in an image directory stays inside
 * it). */
#define _GNU_SOURCE
#include "monitor/pkgmgr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
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

/* One directory: the package-manager names in it, noted by identity and
 * size. Opened O_PATH beneath the root (a symlink resolves inside it); no
 * file is read here. */
static int scan_dir(struct al_pkgdb *db, int root, const char *dname, int dfd)
{
	DIR *dir = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (dir == NULL) {
		close(dfd);
		return 0;
	}
	while (r == 0 && (de = readdir(dir)) != NULL) {
		struct al_pkgdb_entry e = {0};
		struct stat st;
		int fd;

		if (!al_pkgmgr_name(de->d_name) || strlen(de->d_name) >= sizeof e.name)
			continue;
		snprintf(e.path, sizeof e.path, "%s/%s", dname, de->d_name);
		fd = open_in_root(root, e.path, O_PATH);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || seen(db, &st)) {
			close(fd);
			continue;
		}
		close(fd);
		snprintf(e.name, sizeof e.name, "%s", de->d_name);
		e.dev_major = major(st.st_dev);
		e.dev_minor = minor(st.st_dev);
		e.ino = st.st_ino;
		e.size = (uint64_t)st.st_size;
		r = al_pkgdb_add(db, &e);
	}
	closedir(dir);
	return r;
}

int al_pkgdb_scan(struct al_pkgdb *db, const char *image_root)
{
	struct timespec t0, t1;
	struct stat dirs[sizeof bin_dirs / sizeof bin_dirs[0]];
	size_t ndirs = 0;
	int root, r = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	free(db->root);
	db->root = strdup(image_root);
	if (db->root == NULL)
		return -ENOMEM;
	root = open(image_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	for (size_t d = 0; d < sizeof bin_dirs / sizeof bin_dirs[0] && r == 0; d++) {
		int dfd = open_in_root(root, bin_dirs[d], O_RDONLY | O_DIRECTORY);
		struct stat st;
		bool dup = false;

		if (dfd < 0)
			continue;
		/* /bin and /sbin are usually symlinks to /usr's (merged /usr):
		 * a directory already read is not read again */
		if (fstat(dfd, &st) < 0) {
			close(dfd);
			continue;
		}
		for (size_t k = 0; k < ndirs && !dup; k++)
			dup = dirs[k].st_dev == st.st_dev && dirs[k].st_ino == st.st_ino;
		if (dup) {
			close(dfd);
			continue;
		}
		dirs[ndirs++] = st;
		r = scan_dir(db, root, bin_dirs[d], dfd);
	}
	close(root);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	db->scan_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
	              (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	return r;
}

/* Hash one entry now, from its path beneath the root. The file may have
 * been replaced since the scan (an upgrade of the host): what is there now
 * is the image's package manager under that name, and is what a copy made
 * now would equal. */
static void hash_entry(struct al_pkgdb *db, struct al_pkgdb_entry *e)
{
	struct stat st;
	size_t bytes = 0;
	int root, fd;

	e->hashed = true;
	e->sha256[0] = '\0';
	if (db->root == NULL || e->path[0] == '\0' || e->size > PKGDB_HASH_MAX ||
	    sodium_init() < 0)
		return;
	root = open(db->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return;
	fd = open_in_root(root, e->path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	close(root);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= PKGDB_HASH_MAX &&
	    hash_fd(fd, e->sha256, &bytes) == 0)
		db->bytes_hashed += bytes;
	else
		e->sha256[0] = '\0';
	close(fd);
}

void al_pkgdb_hash_for(struct al_pkgdb *db, const struct al_pkg_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (files[i].sha256 == NULL || files[i].sha256[0] == '\0')
			continue;
		for (size_t k = 0; k < db->n; k++) {
			struct al_pkgdb_entry *e = &db->e[k];
			if (!e->hashed && (!files[i].have_size || files[i].size == e->size))
				hash_entry(db, e);
		}
	}
}
