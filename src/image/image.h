/* Images: the digest of an image tree (a canonical listing hashed with
 * SHA-256, docs/images.md), its cache, the digest of the host image, drift
 * against a pinned digest, and the attack-surface lint. The supervisor calls
 * al_image_identify() before the clone; the CLI calls the rest. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"
#include "util/json.h"

#define AL_IMAGE_DIGEST_MAX 72 /* "sha256:" + 64 hex + NUL */
#define AL_IMAGE_MAX_DEPTH 256 /* deeper trees are refused */
#define AL_IMAGE_MAX_PATH 4096 /* longer paths are refused */
#define AL_IMAGE_MAX_ENTRIES 4000000

/* One entry of a tree, in canonical order (depth first, siblings sorted
 * bytewise by name). */
struct al_image_entry {
	char *path;      /* "/" for the root, else "/a/b" (raw bytes, no NUL inside) */
	char type;       /* 'd' 'f' 'l' 'c' 'b' 'p' 's' */
	bool unreadable; /* f: content, d: entries could not be read (EACCES) */
	bool racy;       /* changed too recently for its identity to vouch for it */
	uint32_t mode;   /* st_mode & 07777 */
	uint32_t uid, gid;
	uint64_t size;     /* f only */
	uint64_t dev, ino; /* identity, for the cache (not in the listing) */
	int64_t mtime_ns, ctime_ns;
	unsigned char sha256[32]; /* f */
	char *target;             /* l: the link target (raw bytes) */
	uint32_t rmajor, rminor;  /* c, b */
	unsigned char *cap;       /* f: security.capability xattr, or NULL */
	size_t cap_len;
	size_t parent; /* index of the parent directory (root: 0) */
	size_t end;    /* d: index just past its last descendant */
};

struct al_image_stats {
	size_t entries, dirs_read, dirs_reused, files_hashed, cache_hits;
	uint64_t bytes_hashed;
	bool cache_loaded, cache_written, all_hit;
};

struct al_image_tree {
	struct al_image_entry *e;
	size_t n, cap;
	char digest[AL_IMAGE_DIGEST_MAX];
	struct al_image_stats stats;
};

struct al_image_opts {
	bool no_cache;         /* neither read nor write the cache */
	const char *cache_dir; /* NULL: the default (al_image_cache_dir) */
};

/* ---- tree.c: the walk and the canonical listing ---- */

/* Walk dir (never following a symlink, bounded in depth and path length)
 * and compute its digest, reusing a previous walk's results (old, may be
 * NULL) only where the stat identity matches exactly. */
int al_image_tree_walk(int rootfd, const char *name, const struct al_image_tree *old,
                       struct al_image_tree *t, struct al_error *err);
void al_image_tree_free(struct al_image_tree *t);
/* The canonical listing (the exact bytes the digest hashes). */
int al_image_listing(const struct al_image_tree *t, struct al_buf *out);
/* One record of it (with the trailing newline). */
void al_image_record(const struct al_image_entry *e, struct al_buf *out);
/* Percent-escape path bytes outside 0x21..0x7e (and '%'). */
void al_image_escape(struct al_buf *b, const char *s, size_t n);
/* Canonical order of two paths: component by component, bytewise. */
int al_image_path_cmp(const char *a, const char *b);
/* "sha256:" + hex of the listing's SHA-256. */
void al_image_digest_of(const void *listing, size_t len, char out[AL_IMAGE_DIGEST_MAX]);
/* "sha256:" followed by exactly 64 lowercase hex digits. */
bool al_image_digest_valid(const char *s);

/* ---- cache.c: identity-keyed reuse of content hashes, and listings ---- */

/* The cache directory: /var/lib/airlock/cache as root, else
 * $XDG_CACHE_HOME/airlock or ~/.cache/airlock. */
int al_image_cache_dir(char *out, size_t len);
/* Compute the digest of the tree at path, through the cache. */
int al_image_digest_dir(const char *path, const struct al_image_opts *o, struct al_image_tree *t,
                        struct al_error *err);
/* The listing stored for digest (verified: its SHA-256 must be the digest);
 * -ENOENT when there is none. */
int al_image_listing_load(const char *cache_dir, const char *digest, struct al_buf *out);

/* ---- host.c: the host image (image: host) ---- */

/* The digest of what `image: host` exposes (docs/images.md: the installed
 * package set and the identity of the exposed directories). */
int al_image_digest_host(const struct al_image_opts *o, char out[AL_IMAGE_DIGEST_MAX],
                         struct al_buf *listing, struct al_error *err);

/* ---- drift.c: what a run records, and a pin ---- */

struct al_image_id {
	char digest[AL_IMAGE_DIGEST_MAX];
	const char *kind; /* "tree" or "host" */
	bool drift;       /* a pin was given and does not match, or a stored
	                   * image has findings its forbid list names: refused */
	char drift_msg[AL_ERR_MSG_MAX - 64];
};

/* The digest of image ("host" or a directory) and, when pin is not NULL,
 * whether it matches (naming the changed paths when the pinned listing is
 * in the cache). A digest that cannot be computed is an error. */
int al_image_identify(const char *image, const char *pin, struct al_image_id *id,
                      struct al_error *err);
/* Describe the differences between two listings, at most max_paths paths,
 * separated by sep: "changed /bin/sh (content), added /x, removed /y".
 * Returns how many differences there are in all. */
size_t al_image_listing_diff(const char *old_listing, size_t old_len, const char *new_listing,
                             size_t new_len, size_t max_paths, const char *sep, struct al_buf *out);
/* Installed packages that differ between two dpkg status files, one per
 * line: "package NAME: OLD -> NEW", "package added NAME NEW", "package
 * removed NAME OLD". Returns how many. */
/* dpkg's status file of the tree at rootfd (read beneath it, no link
 * followed) appended to out; -ENOENT when there is none. */
int al_image_dpkg_status(int rootfd, struct al_buf *out);
/* The number of installed packages in a dpkg status file. */
long al_image_packages_count(const char *status, size_t len);
/* [{"name": ..., "version": ...}] of the installed packages, sorted by name. */
void al_image_packages_json(const char *status, size_t len, struct al_json *j);
size_t al_image_packages_diff(const char *old_status, size_t old_len, const char *new_status,
                              size_t new_len, struct al_buf *out);

/* ---- store.c, import.c: the local image store ---- */

/* /var/lib/airlock/images as root, else $XDG_DATA_HOME/airlock/images or
 * ~/.local/share/airlock/images. */
int al_image_store_dir(char *out, size_t len);
/* The store directory's fd (created when create); -errno with err filled. */
int al_image_store_open(bool create, struct al_error *err);
/* Is this image: value a store reference (sha256:HEX or NAME:TAG) rather
 * than "host" or a path (which starts with / or .)? */
bool al_image_ref_is_store(const char *ref);
bool al_image_name_valid(const char *name);
/* A store reference to its directory and digest. */
int al_image_resolve(const char *ref, char *path, size_t len, char digest[AL_IMAGE_DIGEST_MAX],
                     struct al_error *err);
int al_image_store_rm(const char *ref, struct al_error *err);
/* [{digest, names[], import{...}}] */
int al_image_store_list(struct al_json *j, struct al_error *err);

struct al_image_import_result {
	char digest[AL_IMAGE_DIGEST_MAX];
	char name[256];
	char format[32]; /* "docker-archive" or "oci" */
	size_t layers, entries, whiteouts, dropped_devices, dropped_setuid;
	uint64_t bytes;
};

/* Import a docker-archive or OCI archive (plain tar) or an OCI layout
 * directory into the store, tagged name (NULL: the archive's own name). */
int al_image_import(const char *src, const char *name, struct al_image_import_result *res,
                    struct al_error *err);

/* ---- build.c: an image from a declarative image file (mmdebstrap) ---- */

struct al_image_build_opts {
	const char *name; /* NAME:TAG, overrides the file's name: */
};

struct al_image_build_result {
	char digest[AL_IMAGE_DIGEST_MAX];
	char name[256];
	const char *mode; /* mmdebstrap --mode: "root" or "unshare" */
	bool deb_cache;
	size_t entries, dropped_devices, dropped_setuid;
	uint64_t bytes, elapsed_ns, mmdebstrap_ns;
};

int al_image_build(const char *file, const struct al_image_build_opts *o,
                   struct al_image_build_result *res, struct al_error *err);

/* ---- lint.c: the attack surface ---- */

enum al_lint_category {
	AL_LINT_COMPILERS = 0,
	AL_LINT_INTERPRETERS,
	AL_LINT_PACKAGE_MANAGERS,
	AL_LINT_NETWORK_TOOLS,
	AL_LINT_SHELLS,
	AL_LINT_SETUID,
	AL_LINT_CAPABILITIES,
	AL_LINT_WORLD_WRITABLE,
	AL_LINT_DEVICES,
	AL_LINT_CREDENTIALS,
	AL_LINT_N_CATEGORIES,
};

struct al_lint_finding {
	char *path;
	enum al_lint_category category;
	const char *severity; /* "high", "medium", "low" */
	char reason[160];
};

struct al_lint_report {
	struct al_lint_finding *f;
	size_t n, cap;
	size_t scanned;
};

const char *al_lint_category_name(enum al_lint_category c);
int al_lint_category_parse(const char *name, enum al_lint_category *c);
/* Classify an executable's name found in a bin directory: the category, or
 * -1. why receives a short reason. */
int al_lint_classify_tool(const char *name, const char **why);
/* Does this content look like a secret: a private key, or a .env file with
 * KEY=...? (name: the file's base name) */
bool al_lint_content_is_secret(const char *name, const char *data, size_t len, const char **why);
/* Lint the tree t (walked from rootfd). */
int al_lint_tree(int rootfd, const struct al_image_tree *t, struct al_lint_report *rep,
                 struct al_error *err);
/* The same, recording only the categories with want[c] set (NULL: all). */
int al_lint_tree_only(int rootfd, const struct al_image_tree *t, const bool *want,
                      struct al_lint_report *rep, struct al_error *err);
void al_lint_report_free(struct al_lint_report *rep);
void al_lint_report_json(const struct al_lint_report *rep, struct al_json *j);

/* The forbid list kept with a stored image (store fd, its digest):
 * -ENOENT when there is none, -EINVAL when it cannot be read. */
int al_image_forbid_load(int store, const char *digest, bool forbid[AL_LINT_N_CATEGORIES]);
/* Add categories to it (created when missing). */
int al_image_forbid_merge(const char *digest, const bool add[AL_LINT_N_CATEGORIES],
                          struct al_error *err);
