/* Helpers shared inside src/image (not for callers of the module). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/json.h"

/* The cache subdirectory sub of cache_dir, private to the caller (created
 * when create); an fd or -errno. */
int al_image_open_sub(const char *cache_dir, const char *sub, bool create);
/* A whole file of ours (regular, owned by the caller and not writable by
 * others, unless any_owner), NUL-terminated; 0 or -errno. */
int al_image_read_private(int dfd, const char *name, bool any_owner, char **out, size_t *len);
/* Write dfd/name atomically (private temp file, rename). */
int al_image_write_atomic(int dfd, const char *name, const char *data, size_t len);
/* Keep listing (whose SHA-256 is digest) for later drift reports. */
void al_image_listing_remember(const char *cache_dir, const char *digest,
                               const struct al_buf *listing);
/* rm -r of dfd/name, never following a link. */
int al_image_remove_tree(int dfd, const char *name, unsigned depth);
/* Point the store tag name at digest. */
int al_image_tag_set(int store, const char *name, const char *digest, struct al_error *err);
/* Parse and check a cache file (text is modified); on any defect -EINVAL
 * and t empty. Exposed for the fuzzer. */
struct al_image_tree;
int al_image_cache_parse(char *text, size_t len, struct al_image_tree *t);

/* store.c: the per-user directory of a kind of airlock data (the store, the
 * cache): root_path as root, else under $xdg_env or the home directory. */
int al_image_user_dir(char *out, size_t len, const char *root_path, const char *xdg_env,
		      const char *xdg_sub, const char *home_sub);

/* import.c: what `image build` adds to an import (build.c). */
struct al_image_tree;
struct al_image_import_result;
struct al_error;
struct al_image_import_hook {
	bool rootfs_tar;    /* src is one plain tar of a whole tree */
	const char *format; /* recorded as the import's format */
	const char *source; /* recorded as the import's source (NULL: src) */
	/* on the staging tree, after the layers, before the digest */
	int (*prepare)(int rootfd, const char *path, void *ctx, struct al_error *err);
	/* with the digest's walk of the staging tree: may refuse the image */
	int (*check)(int rootfd, const struct al_image_tree *t, void *ctx, struct al_error *err);
	/* more members of the store's record (sha256-HEX.json) */
	void (*meta)(struct al_json *j, void *ctx);
	void *ctx;
};
int al_image_import_ex(const char *src, const char *name, const struct al_image_import_hook *h,
                       struct al_image_import_result *res, struct al_error *err);
