/* The local image store: /var/lib/airlock/images as root, else
 * $XDG_DATA_HOME/airlock/images or ~/.local/share/airlock/images.
 *
 *   sha256-HEX/          an image's root tree; HEX is its tree digest
 *   sha256-HEX.json      what import recorded about it
 *   tags/NAME%3ATAG      "sha256:HEX\n" (the name escaped like a listing path)
 *   .staging-*           imports in progress
 *
 * Everything is reached with openat from the store's own fd, never
 * following a link; a run of a stored image is pinned to the digest in its
 * directory name, so a store changed behind airlock's back is refused. */
#define _GNU_SOURCE
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image_internal.h"
#include "util/cleanup.h"

/* Where airlock keeps a kind of its data: root_path as root; otherwise
 * $XDG_ENV/xdg_sub when that is absolute, else ~/home_sub (the home from
 * $HOME, or the password database when $HOME is not absolute). */
int al_image_user_dir(char *out, size_t len, const char *root_path, const char *xdg_env,
		      const char *xdg_sub, const char *home_sub)
{
	const char *x = getenv(xdg_env);
	const char *home = getenv("HOME");
	int n;

	if (geteuid() == 0) {
		n = snprintf(out, len, "%s", root_path);
	} else if (x && x[0] == '/') {
		n = snprintf(out, len, "%s/%s", x, xdg_sub);
	} else {
		if (home == NULL || home[0] != '/') {
			struct passwd *pw = getpwuid(geteuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (home == NULL || home[0] != '/')
			return -ENOENT;
		n = snprintf(out, len, "%s/%s", home, home_sub);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int al_image_store_dir(char *out, size_t len)
{
	return al_image_user_dir(out, len, "/var/lib/airlock/images", "XDG_DATA_HOME",
				 "airlock/images", ".local/share/airlock/images");
}

/* The store directory: ours, not a link, writable by nobody else. It is
 * 0755 so that a rootful sandbox (unprivileged mapped uids) can read it. */
int al_image_store_open(bool create, struct al_error *err)
{
	char dir[PATH_MAX];
	struct stat st;
	int fd, r;

	r = al_image_store_dir(dir, sizeof dir);
	if (r < 0)
		return al_error_set(err, -r, "store", "no image store directory (HOME unset?)");
	if (create) {
		char buf[PATH_MAX];
		snprintf(buf, sizeof buf, "%s", dir);
		for (char *p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
		mkdir(buf, 0755);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return al_error_errno(err, "store", "opening the image store %s", dir);
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return al_error_set(
		    err, EPERM, "store",
		    "the image store %s is not owned by the caller or is writable by others", dir);
	}
	if (create) {
		mkdirat(fd, "tags", 0755);
	}
	return fd;
}

bool al_image_ref_is_store(const char *ref)
{
	if (ref == NULL || ref[0] == '/' || ref[0] == '.' || strcmp(ref, "host") == 0)
		return false;
	return strncmp(ref, "sha256:", 7) == 0 || strchr(ref, ':') != NULL;
}

/* NAME:TAG, NAME of [a-z0-9._/-], TAG of [A-Za-z0-9._-], at most 255. */
bool al_image_name_valid(const char *name)
{
	const char *colon = strrchr(name, ':');
	size_t n = strlen(name);

	if (n == 0 || n > 255 || colon == NULL || colon == name || colon[1] == '\0')
		return false;
	if (strncmp(name, "sha256:", 7) == 0 || name[0] == '.' || name[0] == '/' || name[0] == '-')
		return false;
	for (const char *p = name; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-' || *p == '/'))
			return false;
	for (const char *p = colon + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return strstr(name, "..") == NULL && strstr(name, "//") == NULL;
}

static void tag_file(const char *name, char out[PATH_MAX])
{
	size_t k = 0;
	static const char up[] = "0123456789ABCDEF";
	for (const char *p = name; *p && k + 4 < PATH_MAX; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-') {
			out[k++] = (char)c;
		} else {
			out[k++] = '%';
			out[k++] = up[c >> 4];
			out[k++] = up[c & 15];
		}
	}
	out[k] = '\0';
}

static void untag_file(const char *file, char *out, size_t cap)
{
	size_t k = 0;
	for (const char *p = file; *p && k + 1 < cap; p++) {
		if (p[0] == '%' && p[1] && p[2]) {
			unsigned v = 0;
			for (int h = 1; h <= 2; h++)
				v = v * 16 + (unsigned)(p[h] >= 'A' ? p[h] - 'A' + 10 : p[h] - '0');
			out[k++] = (char)v;
			p += 2;
		} else {
			out[k++] = *p;
		}
	}
	out[k] = '\0';
}

int al_image_tag_set(int store, const char *name, const char *digest, struct al_error *err)
{
	char f[PATH_MAX], line[AL_IMAGE_DIGEST_MAX + 2];
	_cleanup_close_ int tags =
	    openat(store, "tags", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (tags < 0)
		return al_error_errno(err, "store", "opening the store's tags");
	tag_file(name, f);
	snprintf(line, sizeof line, "%s\n", digest);
	int r = al_image_write_atomic(tags, f, line, strlen(line));
	if (r < 0)
		return al_error_set(err, -r, "store", "writing the tag %s", name);
	if (fchmodat(tags, f, 0644, 0) < 0)
		return al_error_errno(err, "store", "chmod the tag %s", name);
	return 0;
}

static int tag_get(int store, const char *name, char digest[AL_IMAGE_DIGEST_MAX])
{
	char f[PATH_MAX], *text = NULL;
	size_t len = 0;
	_cleanup_close_ int tags =
	    openat(store, "tags", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (tags < 0)
		return -errno;
	tag_file(name, f);
	r = al_image_read_private(tags, f, false, &text, &len);
	if (r < 0)
		return r;
	if (len != 7 + 64 + 1 || text[len - 1] != '\n') {
		free(text);
		return -EINVAL;
	}
	text[len - 1] = '\0';
	if (!al_image_digest_valid(text)) {
		free(text);
		return -EINVAL;
	}
	memcpy(digest, text, AL_IMAGE_DIGEST_MAX);
	free(text);
	return 0;
}

int al_image_resolve(const char *ref, char *path, size_t len, char digest[AL_IMAGE_DIGEST_MAX],
                     struct al_error *err)
{
	char dir[PATH_MAX];
	struct stat st;
	int r;

	_cleanup_close_ int store = al_image_store_open(false, err);
	if (store < 0)
		return store;
	if (strncmp(ref, "sha256:", 7) == 0) {
		if (!al_image_digest_valid(ref))
			return al_error_set(err, EINVAL, "store", "%s is not an image digest", ref);
		memcpy(digest, ref, AL_IMAGE_DIGEST_MAX);
	} else {
		r = tag_get(store, ref, digest);
		if (r < 0)
			return al_error_set(err, -r, "store", "no image %s in the store", ref);
	}
	snprintf(dir, sizeof dir, "sha256-%s", digest + 7);
	if (fstatat(store, dir, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return al_error_set(err, ENOENT, "store", "image %s (%s) is not in the store", ref,
		                    digest);
	al_image_store_dir(dir, sizeof dir);
	if (snprintf(path, len, "%s/sha256-%s", dir, digest + 7) >= (int)len)
		return al_error_set(err, ENAMETOOLONG, "store", "store path too long");
	return 0;
}

/* rm -r below dfd/name, never following a link. */
int al_image_remove_tree(int dfd, const char *name, unsigned depth)
{
	struct stat st;
	if (depth > AL_IMAGE_MAX_DEPTH + 8)
		return -ELOOP;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* a directory without write or search permission for its owner
	 * (imported as such) must still be removable */
	fchmod(fd, 0700);
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	/* unlinking while reading is fine on Linux; a second sweep catches
	 * anything a directory's readdir did not return after a removal */
	for (int sweep = 0; sweep < 2 && r == 0; sweep++) {
		bool removed = false;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			r = al_image_remove_tree(dirfd(d), de->d_name, depth + 1);
			if (r < 0)
				break;
			removed = true;
		}
		if (!removed)
			break;
		rewinddir(d);
	}
	closedir(d);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int al_image_store_rm(const char *ref, struct al_error *err)
{
	char digest[AL_IMAGE_DIGEST_MAX], path[PATH_MAX], f[PATH_MAX];
	int r;

	r = al_image_resolve(ref, path, sizeof path, digest, err);
	if (r < 0)
		return r;
	_cleanup_close_ int store = al_image_store_open(false, err);
	if (store < 0)
		return store;
	_cleanup_close_ int tags =
	    openat(store, "tags", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool other_tags = false;
	if (tags >= 0) {
		int dup_fd = dup(tags);
		DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			char dg[AL_IMAGE_DIGEST_MAX], name[PATH_MAX];
			if (de->d_name[0] == '.')
				continue;
			untag_file(de->d_name, name, sizeof name);
			if (tag_get(store, name, dg) < 0 || strcmp(dg, digest) != 0)
				continue;
			if (strncmp(ref, "sha256:", 7) == 0 || strcmp(name, ref) == 0)
				unlinkat(tags, de->d_name, 0);
			else
				other_tags = true;
		}
		if (d)
			closedir(d);
	}
	(void)f;
	if (other_tags && strncmp(ref, "sha256:", 7) != 0)
		return 0; /* the image stays under its other names */
	snprintf(path, sizeof path, "sha256-%s", digest + 7);
	r = al_image_remove_tree(store, path, 0);
	if (r < 0)
		return al_error_set(err, -r, "store", "removing %s", digest);
	snprintf(path, sizeof path, "sha256-%s.json", digest + 7);
	unlinkat(store, path, 0);
	snprintf(path, sizeof path, "sha256-%s.listing", digest + 7);
	unlinkat(store, path, 0);
	snprintf(path, sizeof path, "sha256-%s.forbid", digest + 7);
	unlinkat(store, path, 0);
	return 0;
}

int al_image_store_list(struct al_json *j, struct al_error *err)
{
	_cleanup_close_ int store = al_image_store_open(false, err);
	if (store < 0)
		return store;
	int dup_fd = dup(store);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;

	if (d == NULL)
		return al_error_errno(err, "store", "listing the store");
	al_json_arr_begin(j);
	while ((de = readdir(d)) != NULL) {
		char digest[AL_IMAGE_DIGEST_MAX], meta[PATH_MAX], *text = NULL;
		size_t len = 0;
		struct stat st;
		if (strncmp(de->d_name, "sha256-", 7) != 0 || strlen(de->d_name) != 7 + 64 ||
		    fstatat(store, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		snprintf(digest, sizeof digest, "sha256:%s", de->d_name + 7);
		al_json_obj_begin(j);
		al_json_kv_str(j, "digest", digest);
		al_json_key(j, "names");
		al_json_arr_begin(j);
		_cleanup_close_ int tags =
		    openat(store, "tags", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int tfd = tags >= 0 ? dup(tags) : -1;
		DIR *td = tfd >= 0 ? fdopendir(tfd) : NULL;
		struct dirent *te;
		while (td && (te = readdir(td)) != NULL) {
			char dg[AL_IMAGE_DIGEST_MAX], name[PATH_MAX];
			if (te->d_name[0] == '.')
				continue;
			untag_file(te->d_name, name, sizeof name);
			if (tag_get(store, name, dg) == 0 && strcmp(dg, digest) == 0)
				al_json_str(j, name);
		}
		if (td)
			closedir(td);
		al_json_arr_end(j);
		snprintf(meta, sizeof meta, "%s.json", de->d_name);
		if (al_image_read_private(store, meta, false, &text, &len) == 0 && len > 1 &&
		    text[0] == '{') {
			al_json_key(j, "import");
			al_json_raw(j, text);
		}
		free(text);
		al_json_obj_end(j);
	}
	closedir(d);
	al_json_arr_end(j);
	return 0;
}
