/* `airlock image import`: a docker-archive (docker save, podman save), an
 * OCI archive or an OCI image layout directory, into the local store.
 *
 * Layers are hostile input, applied in order into a private staging
 * directory with openat from its root and nothing followed:
 * - a path with a ".." component, or whose parent is a symlink or not a
 *   directory, is refused (the whole import fails: fail closed);
 * - a hard link must name a regular file already inside the tree (resolved
 *   the same way), so it cannot reach out;
 * - symlinks are created as they are (data: inside a sandbox an absolute
 *   target resolves inside its root) and never followed while importing;
 * - device nodes are dropped, setuid/setgid bits are dropped, extended
 *   attributes (file capabilities) are not applied; each counted;
 * - whiteouts (".wh.NAME") remove NAME from the lower layers, an opaque
 *   marker (".wh..wh..opq") empties its directory of them; both are applied
 *   in a first pass over the layer, before its own entries.
 * The digest of the result is its tree digest; the store directory is named
 * after it. Ownership is kept when importing as root; rootless, the caller
 * owns every file (so the two digests differ). */
#define _GNU_SOURCE
#include "image/image.h"
#include "util/zlib_dl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <linux/openat2.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "image/image_internal.h"
#include "image/tar.h"
#include "util/cleanup.h"
#include "util/fdutil.h"

#define JSON_MAX (4u << 20)

struct member {
	char *name;
	uint64_t off, size;
};

struct source {
	int fd; /* the archive file, or the layout directory */
	bool dir;
	struct member *m; /* archive members (regular files) */
	size_t n;
};

struct dirmode {
	char *path;
	uint32_t mode, uid, gid;
};

struct applier {
	int root;
	bool as_root;
	struct al_image_import_result *res;
	struct dirmode *dm;
	size_t ndm, capdm;
	struct al_error *err;
	const char *layer;
	uint64_t max_bytes; /* a gzip bomb stops here, not at a full disk */
};

/* ---- the source: archive members or layout files ---- */

static void source_free(struct source *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->m[i].name);
	free(s->m);
	if (s->fd >= 0)
		close(s->fd);
}

static const char *strip_dot(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (p[0] == '/')
		p++;
	return p;
}

static int index_archive(struct source *s, struct al_error *err)
{
	struct al_tar t;
	struct al_tar_entry *e = malloc(sizeof *e);
	struct stat st;
	int r;

	if (e == NULL)
		return al_error_set(err, ENOMEM, "import", "reading the archive");
	fstat(s->fd, &st);
	al_tar_init(&t, s->fd, 0, (uint64_t)st.st_size);
	while ((r = al_tar_next(&t, e)) > 0) {
		if (t.gz) {
			r = -ENOTSUP;
			break;
		}
		if (e->type != 'f')
			continue;
		struct member *nm = realloc(s->m, (s->n + 1) * sizeof *nm);
		if (nm == NULL) {
			r = -ENOMEM;
			break;
		}
		s->m = nm;
		s->m[s->n].name = strdup(strip_dot(e->path));
		s->m[s->n].off = t.off;
		s->m[s->n].size = e->size;
		if (s->m[s->n].name == NULL) {
			r = -ENOMEM;
			break;
		}
		s->n++;
	}
	al_tar_free(&t);
	free(e);
	if (r == -ENOTSUP)
		return al_error_set(err, ENOTSUP, "import",
		                    "a compressed archive: decompress it first (docker/podman save "
		                    "write plain tar)");
	if (r < 0)
		return al_error_set(err, -r, "import", "reading the archive: not a valid tar");
	return 0;
}

/* A member (or layout file) as (fd, offset, size); fd is borrowed for
 * archives and owned (*own) for layouts. */
static int source_find(struct source *s, const char *name, int *fd, uint64_t *off, uint64_t *size,
                       bool *own)
{
	name = strip_dot(name);
	if (strstr(name, "..") != NULL)
		return -EINVAL;
	if (s->dir) {
		struct open_how how = {.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
		                       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		                                  RESOLVE_NO_MAGICLINKS};
		struct stat st;
		int f = (int)syscall(SYS_openat2, s->fd, name, &how, sizeof how);
		if (f < 0)
			return -errno;
		if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(f);
			return -EINVAL;
		}
		*fd = f;
		*off = 0;
		*size = (uint64_t)st.st_size;
		*own = true;
		return 0;
	}
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->m[i].name, name) == 0) {
			*fd = s->fd;
			*off = s->m[i].off;
			*size = s->m[i].size;
			*own = false;
			return 0;
		}
	return -ENOENT;
}

static int read_json(struct source *s, const char *name, struct fy_document **doc,
                     const char *want_digest, struct al_error *err)
{
	int fd;
	uint64_t off, size;
	bool own;
	char *text;
	int r = source_find(s, name, &fd, &off, &size, &own);

	if (r < 0)
		return al_error_set(err, -r, "import", "%s: missing from the image", name);
	if (size > JSON_MAX) {
		if (own)
			close(fd);
		return al_error_set(err, EFBIG, "import", "%s: too large", name);
	}
	text = malloc(size + 1);
	if (text == NULL || pread(fd, text, size, (off_t)off) != (ssize_t)size) {
		free(text);
		if (own)
			close(fd);
		return al_error_set(err, EIO, "import", "reading %s", name);
	}
	if (own)
		close(fd);
	text[size] = '\0';
	if (want_digest) {
		char got[AL_IMAGE_DIGEST_MAX];
		al_image_digest_of(text, size, got);
		if (strcmp(got, want_digest) != 0) {
			free(text);
			return al_error_set(err, EINVAL, "import",
			                    "%s: content does not match its digest", name);
		}
	}
	struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_FORCE};
	*doc = fy_document_build_from_malloc_string(&cfg, text, size);
	if (*doc == NULL) {
		free(text);
		return al_error_set(err, EINVAL, "import", "%s: not valid JSON", name);
	}
	return 0;
}

static const char *jstr(struct fy_node *n, const char *key)
{
	struct fy_node *v =
	    n && fy_node_is_mapping(n) ? fy_node_mapping_lookup_by_string(n, key, FY_NT) : NULL;
	return v && fy_node_is_scalar(v) ? fy_node_get_scalar0(v) : NULL;
}

static struct fy_node *jget(struct fy_node *n, const char *key)
{
	return n && fy_node_is_mapping(n) ? fy_node_mapping_lookup_by_string(n, key, FY_NT) : NULL;
}

/* ---- applying a layer ---- */

#define MAX_COMPS (AL_IMAGE_MAX_DEPTH + 1)

/* Split a layer path into components; ".." is refused. */
static int split_path(char *p, char *comp[MAX_COMPS], size_t *n)
{
	char *save = NULL, *c;
	*n = 0;
	for (c = strtok_r(p, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0)
			return -EPERM;
		if (*n >= MAX_COMPS)
			return -ELOOP;
		comp[(*n)++] = c;
	}
	return 0;
}

/* The directory holding comp[n-1], reached from the root without
 * following anything; missing directories are made when create. */
static int open_parent(struct applier *a, char *comp[], size_t n, bool create)
{
	int cur = dup(a->root);
	if (cur < 0)
		return -errno;
	for (size_t i = 0; i + 1 < n; i++) {
		int next = openat(cur, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp[i], 0755) < 0 && errno != EEXIST) {
				int e = -errno;
				close(cur);
				return e;
			}
			next =
			    openat(cur, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		int e = -errno;
		close(cur);
		if (next < 0)
			return e == -ELOOP || e == -ENOTDIR ? -ENOTDIR : e;
		cur = next;
	}
	return cur;
}

static int refuse(struct applier *a, const char *path, const char *why)
{
	return al_error_set(a->err, EPERM, "import", "layer %s: %s: refused: %s", a->layer, path,
	                    why);
}

static int empty_dir(int dfd)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int r = 0;
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = al_image_remove_tree(dfd, de->d_name, 0);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int whiteout(struct applier *a, const struct al_tar_entry *e)
{
	char buf[AL_IMAGE_MAX_PATH + 1], *comp[MAX_COMPS];
	size_t n;
	int r;

	snprintf(buf, sizeof buf, "%s", e->path);
	r = split_path(buf, comp, &n);
	if (r == -EPERM)
		return refuse(a, e->path, "a \"..\" component (path escape)");
	if (r < 0)
		return refuse(a, e->path, "nested too deep");
	if (n == 0 || strncmp(comp[n - 1], ".wh.", 4) != 0)
		return 0;
	int p = open_parent(a, comp, n, false);
	if (p == -ENOENT)
		return 0; /* nothing below to hide */
	if (p < 0)
		return refuse(a, e->path, "its directory is a symlink or not a directory");
	if (strcmp(comp[n - 1], ".wh..wh..opq") == 0)
		r = empty_dir(p);
	else if (comp[n - 1][4] == '\0' || strcmp(comp[n - 1] + 4, ".") == 0 ||
	         strcmp(comp[n - 1] + 4, "..") == 0)
		r = -EPERM;
	else
		r = al_image_remove_tree(p, comp[n - 1] + 4, 0);
	close(p);
	if (r == -EPERM)
		return refuse(a, e->path, "a whiteout of nothing");
	if (r < 0)
		return al_error_set(a->err, -r, "import", "applying the whiteout %s", e->path);
	a->res->whiteouts++;
	return 0;
}

static int write_file(struct applier *a, struct al_tar *t, int p, const char *name,
                      const struct al_tar_entry *e)
{
	unsigned char buf[65536];
	int fd = openat(p, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return al_error_errno(a->err, "import", "creating %s", e->path);
	while ((n = al_tar_read(t, buf, sizeof buf)) > 0) {
		if (al_write_all(fd, buf, (size_t)n) < 0) {
			close(fd);
			return al_error_errno(a->err, "import", "writing %s", e->path);
		}
		a->res->bytes += (uint64_t)n;
		if (a->res->bytes > a->max_bytes) {
			close(fd);
			return al_error_set(
			    a->err, EFBIG, "import",
			    "layer %s: refused: the image expands beyond %llu bytes "
			    "(64 GiB, or 90%% of the store's free space)",
			    a->layer, (unsigned long long)a->max_bytes);
		}
	}
	if (n < 0) {
		close(fd);
		return al_error_set(a->err, (int)-n, "import", "layer %s: reading %s", a->layer,
		                    e->path);
	}
	if (a->as_root && fchown(fd, e->uid, e->gid) < 0) {
		close(fd);
		return al_error_errno(a->err, "import", "chown %s", e->path);
	}
	if (fchmod(fd, e->mode & 0777) < 0) { /* setuid/setgid/sticky dropped */
		close(fd);
		return al_error_errno(a->err, "import", "chmod %s", e->path);
	}
	close(fd);
	return 0;
}

static int remember_dir(struct applier *a, const char *path, const struct al_tar_entry *e)
{
	if (a->ndm == a->capdm) {
		size_t nc = a->capdm ? a->capdm * 2 : 256;
		struct dirmode *nd = realloc(a->dm, nc * sizeof *nd);
		if (nd == NULL)
			return -ENOMEM;
		a->dm = nd;
		a->capdm = nc;
	}
	a->dm[a->ndm].path = strdup(path);
	if (a->dm[a->ndm].path == NULL)
		return -ENOMEM;
	a->dm[a->ndm].mode = e->mode & 01777;
	a->dm[a->ndm].uid = e->uid;
	a->dm[a->ndm].gid = e->gid;
	a->ndm++;
	return 0;
}

static int apply_entry(struct applier *a, struct al_tar *t, const struct al_tar_entry *e)
{
	char buf[AL_IMAGE_MAX_PATH + 1], *comp[MAX_COMPS];
	size_t n;
	int r;

	snprintf(buf, sizeof buf, "%s", e->path);
	r = split_path(buf, comp, &n);
	if (r == -EPERM)
		return refuse(a, e->path, "a \"..\" component (path escape)");
	if (r < 0)
		return refuse(a, e->path, "nested too deep");
	if (n == 0)
		return 0; /* the root itself */
	if (strncmp(comp[n - 1], ".wh.", 4) == 0)
		return 0; /* applied in the first pass */
	if (++a->res->entries > AL_IMAGE_MAX_ENTRIES)
		return refuse(a, e->path, "too many entries");
	if (e->mode & 06000 && e->type == 'f')
		a->res->dropped_setuid++;
	if (e->type == 'c' || e->type == 'b') {
		a->res->dropped_devices++;
		return 0;
	}
	_cleanup_close_ int p = open_parent(a, comp, n, true);
	if (p == -ENOTDIR)
		return refuse(a, e->path, "a parent is a symlink or not a directory");
	if (p < 0)
		return al_error_set(a->err, -p, "import", "layer %s: %s", a->layer, e->path);
	const char *name = comp[n - 1];
	struct stat st;
	bool exists = fstatat(p, name, &st, AT_SYMLINK_NOFOLLOW) == 0;

	if (e->type == 'd') {
		if (exists && !S_ISDIR(st.st_mode)) {
			r = al_image_remove_tree(p, name, 0);
			if (r < 0)
				return al_error_set(a->err, -r, "import", "replacing %s", e->path);
			exists = false;
		}
		if (!exists && mkdirat(p, name, 0700) < 0)
			return al_error_errno(a->err, "import", "mkdir %s", e->path);
		/* modes are applied at the end: a read-only directory would
		 * stop its own entries from being written */
		char norm[AL_IMAGE_MAX_PATH + 1] = "";
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			k += (size_t)snprintf(norm + k, sizeof norm - k, "/%s", comp[i]);
		return remember_dir(a, norm, e) < 0
		           ? al_error_set(a->err, ENOMEM, "import", "import")
		           : 0;
	}
	if (exists) {
		r = al_image_remove_tree(p, name, 0);
		if (r < 0)
			return al_error_set(a->err, -r, "import", "replacing %s", e->path);
	}
	switch (e->type) {
	case 'f':
		return write_file(a, t, p, name, e);
	case 'l':
		if (symlinkat(e->link, p, name) < 0)
			return al_error_errno(a->err, "import", "symlink %s", e->path);
		if (a->as_root && fchownat(p, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return al_error_errno(a->err, "import", "chown %s", e->path);
		return 0;
	case 'p':
		if (mkfifoat(p, name, e->mode & 0777) < 0)
			return al_error_errno(a->err, "import", "mkfifo %s", e->path);
		if (a->as_root && fchownat(p, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return al_error_errno(a->err, "import", "chown %s", e->path);
		return 0;
	case 'h': {
		char lb[AL_IMAGE_MAX_PATH + 1], *lc[MAX_COMPS];
		size_t ln;
		struct stat ts;
		snprintf(lb, sizeof lb, "%s", e->link);
		if (split_path(lb, lc, &ln) < 0 || ln == 0)
			return refuse(a, e->path, "a hard link out of the tree");
		_cleanup_close_ int tp = open_parent(a, lc, ln, false);
		if (tp < 0)
			return refuse(a, e->path, "a hard link to something not in the tree");
		if (fstatat(tp, lc[ln - 1], &ts, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(ts.st_mode))
			return refuse(a, e->path,
			              "a hard link to something not a file in the tree");
		if (linkat(tp, lc[ln - 1], p, name, 0) < 0)
			return al_error_errno(a->err, "import", "link %s", e->path);
		return 0;
	}
	}
	return refuse(a, e->path, "an unknown entry type");
}

static int apply_layer(struct applier *a, struct source *s, const char *name,
                       const char *want_digest)
{
	int fd;
	uint64_t off, size;
	bool own;
	struct al_tar t;
	struct al_tar_entry *e;
	int r = source_find(s, name, &fd, &off, &size, &own);

	if (r < 0)
		return al_error_set(a->err, -r, "import", "layer %s: missing from the image", name);
	a->layer = name;
	if (want_digest) {
		/* the blob must be what the manifest names */
		crypto_hash_sha256_state hs;
		unsigned char buf[65536], h[32];
		char got[AL_IMAGE_DIGEST_MAX];
		uint64_t done = 0;
		crypto_hash_sha256_init(&hs);
		while (done < size) {
			size_t k = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
			ssize_t n = pread(fd, buf, k, (off_t)(off + done));
			if (n <= 0) {
				r = al_error_set(a->err, EIO, "import", "reading layer %s", name);
				goto out;
			}
			crypto_hash_sha256_update(&hs, buf, (size_t)n);
			done += (uint64_t)n;
		}
		crypto_hash_sha256_final(&hs, h);
		/* reuse the listing digest formatter on the raw hash */
		static const char hexd[] = "0123456789abcdef";
		memcpy(got, "sha256:", 7);
		for (int i = 0; i < 32; i++) {
			got[7 + 2 * i] = hexd[h[i] >> 4];
			got[8 + 2 * i] = hexd[h[i] & 15];
		}
		got[71] = '\0';
		if (strcmp(got, want_digest) != 0) {
			r = al_error_set(a->err, EINVAL, "import",
			                 "layer %s does not match its digest", name);
			goto out;
		}
	}
	e = malloc(sizeof *e);
	if (e == NULL) {
		r = al_error_set(a->err, ENOMEM, "import", "import");
		goto out;
	}
	/* pass 1: whiteouts hide lower layers' entries */
	al_tar_init(&t, fd, off, size);
	while ((r = al_tar_next(&t, e)) > 0) {
		r = whiteout(a, e);
		if (r < 0)
			break;
	}
	al_tar_free(&t);
	if (r == 0) {
		/* pass 2: the layer's own entries */
		al_tar_init(&t, fd, off, size);
		while ((r = al_tar_next(&t, e)) > 0) {
			r = apply_entry(a, &t, e);
			if (r < 0)
				break;
		}
		al_tar_free(&t);
	}
	if (r < 0 && !a->err->msg[0])
		r = al_error_set(a->err, -r, "import", "layer %s: not a valid tar", name);
	free(e);
	a->res->layers++;
out:
	if (own)
		close(fd);
	return r < 0 ? r : 0;
}

static int finish_dirs(struct applier *a)
{
	/* deepest first, so a read-only parent is set last */
	for (size_t i = a->ndm; i-- > 0;) {
		char buf[AL_IMAGE_MAX_PATH + 1], *comp[MAX_COMPS];
		size_t n;
		snprintf(buf, sizeof buf, "%s", a->dm[i].path);
		if (split_path(buf, comp, &n) < 0 || n == 0)
			continue;
		int p = open_parent(a, comp, n, false);
		if (p < 0)
			continue; /* removed by a later layer */
		int d = openat(p, comp[n - 1], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int r = 0;
		if (d >= 0) {
			if ((a->as_root && fchown(d, a->dm[i].uid, a->dm[i].gid) < 0) ||
			    fchmod(d, a->dm[i].mode) < 0)
				r = al_error_errno(a->err, "import", "setting the mode of %s",
				                   a->dm[i].path);
			close(d);
		}
		close(p);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- formats ---- */

static int layers_docker(struct source *s, struct applier *a, char *name_out, size_t name_len)
{
	struct fy_document *doc = NULL;
	int r = read_json(s, "manifest.json", &doc, NULL, a->err);
	if (r < 0)
		return r;
	struct fy_node *root = fy_document_root(doc);
	struct fy_node *m =
	    root && fy_node_is_sequence(root) && fy_node_sequence_item_count(root) >= 1
	        ? fy_node_sequence_get_by_index(root, 0)
	        : NULL;
	struct fy_node *layers = jget(m, "Layers");
	struct fy_node *tags = jget(m, "RepoTags");
	if (layers == NULL || !fy_node_is_sequence(layers)) {
		fy_document_destroy(doc);
		return al_error_set(a->err, EINVAL, "import", "manifest.json: no Layers");
	}
	if (tags && fy_node_is_sequence(tags) && fy_node_sequence_item_count(tags) >= 1) {
		struct fy_node *t0 = fy_node_sequence_get_by_index(tags, 0);
		if (t0 && fy_node_is_scalar(t0))
			snprintf(name_out, name_len, "%s", fy_node_get_scalar0(t0));
	}
	snprintf(a->res->format, sizeof a->res->format, "docker-archive");
	for (int i = 0; r == 0 && i < fy_node_sequence_item_count(layers); i++) {
		struct fy_node *l = fy_node_sequence_get_by_index(layers, i);
		const char *path = l && fy_node_is_scalar(l) ? fy_node_get_scalar0(l) : NULL;
		if (path == NULL) {
			r = al_error_set(a->err, EINVAL, "import",
			                 "manifest.json: a layer is not a path");
			break;
		}
		/* newer docker: blobs/sha256/HEX, checked against its name */
		char want[AL_IMAGE_DIGEST_MAX];
		const char *b = strip_dot(path);
		bool named = strncmp(b, "blobs/sha256/", 13) == 0 && strlen(b) == 13 + 64;
		if (named)
			snprintf(want, sizeof want, "sha256:%s", b + 13);
		r = apply_layer(a, s, path, named && al_image_digest_valid(want) ? want : NULL);
	}
	fy_document_destroy(doc);
	return r;
}

static int blob_name(const char *digest, char out[128])
{
	if (!al_image_digest_valid(digest))
		return -EINVAL;
	snprintf(out, 128, "blobs/sha256/%s", digest + 7);
	return 0;
}

static int layers_oci(struct source *s, struct applier *a, char *name_out, size_t name_len)
{
	struct fy_document *idx = NULL, *man = NULL;
	char blob[128];
	int r = read_json(s, "index.json", &idx, NULL, a->err);
	if (r < 0)
		return r;
	snprintf(a->res->format, sizeof a->res->format, "oci");
	struct fy_node *mans = jget(fy_document_root(idx), "manifests");
	struct fy_node *m0 =
	    mans && fy_node_is_sequence(mans) && fy_node_sequence_item_count(mans) >= 1
	        ? fy_node_sequence_get_by_index(mans, 0)
	        : NULL;
	const char *digest = jstr(m0, "digest");
	const char *ref = jstr(jget(m0, "annotations"), "org.opencontainers.image.ref.name");
	if (ref)
		snprintf(name_out, name_len, "%s", ref);
	if (digest == NULL || blob_name(digest, blob) < 0) {
		fy_document_destroy(idx);
		return al_error_set(a->err, EINVAL, "import", "index.json: no manifest digest");
	}
	r = read_json(s, blob, &man, digest, a->err);
	if (r == 0) {
		const char *mt = jstr(fy_document_root(man), "mediaType");
		if (mt && strstr(mt, "index")) {
			/* a nested index (multi-platform): its first manifest */
			struct fy_node *n2 = jget(fy_document_root(man), "manifests");
			struct fy_node *m1 =
			    n2 && fy_node_is_sequence(n2) && fy_node_sequence_item_count(n2) >= 1
			        ? fy_node_sequence_get_by_index(n2, 0)
			        : NULL;
			const char *d1 = jstr(m1, "digest");
			char *d1c = d1 ? strdup(d1) : NULL;
			fy_document_destroy(man);
			man = NULL;
			if (d1c == NULL || blob_name(d1c, blob) < 0)
				r = al_error_set(a->err, EINVAL, "import",
				                 "nested index without a manifest");
			else
				r = read_json(s, blob, &man, d1c, a->err);
			free(d1c);
		}
	}
	if (r == 0) {
		struct fy_node *layers = jget(fy_document_root(man), "layers");
		if (layers == NULL || !fy_node_is_sequence(layers))
			r = al_error_set(a->err, EINVAL, "import", "manifest: no layers");
		for (int i = 0; r == 0 && i < fy_node_sequence_item_count(layers); i++) {
			struct fy_node *l = fy_node_sequence_get_by_index(layers, i);
			const char *d = jstr(l, "digest");
			const char *lmt = jstr(l, "mediaType");
			char want[AL_IMAGE_DIGEST_MAX];
			if (d == NULL || blob_name(d, blob) < 0) {
				r = al_error_set(a->err, EINVAL, "import",
				                 "manifest: a layer without a digest");
				break;
			}
			if (lmt && (strstr(lmt, "zstd") || strstr(lmt, "encrypted"))) {
				r = al_error_set(a->err, ENOTSUP, "import",
				                 "layer media type %s is not supported", lmt);
				break;
			}
			snprintf(want, sizeof want, "%s", d);
			r = apply_layer(a, s, blob, want);
		}
	}
	if (man)
		fy_document_destroy(man);
	fy_document_destroy(idx);
	return r;
}

static int write_meta(int store, const char *src, const struct al_image_import_result *res,
                      const struct al_image_import_hook *h)
{
	struct al_buf b;
	struct al_json j;
	char name[128];
	int r;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "digest", res->digest);
	al_json_kv_str(&j, "source", h && h->source ? h->source : src);
	al_json_kv_str(&j, "format", res->format);
	al_json_kv_uint(&j, "imported_at", (uint64_t)time(NULL));
	al_json_kv_bool(&j, "rootless", geteuid() != 0);
	al_json_kv_uint(&j, "layers", res->layers);
	al_json_kv_uint(&j, "entries", res->entries);
	al_json_kv_uint(&j, "bytes", res->bytes);
	al_json_kv_uint(&j, "whiteouts", res->whiteouts);
	al_json_kv_uint(&j, "dropped_devices", res->dropped_devices);
	al_json_kv_uint(&j, "dropped_setuid", res->dropped_setuid);
	if (h && h->meta)
		h->meta(&j, h->ctx);
	al_json_obj_end(&j);
	snprintf(name, sizeof name, "sha256-%s.json", res->digest + 7);
	r = b.oom ? -ENOMEM : al_image_write_atomic(store, name, b.data, b.len);
	if (r == 0 && fchmodat(store, name, 0644, 0) < 0)
		r = -errno;
	al_buf_free(&b);
	return r;
}

int al_image_import(const char *src, const char *name, struct al_image_import_result *res,
                    struct al_error *err)
{
	return al_image_import_ex(src, name, NULL, res, err);
}

int al_image_import_ex(const char *src, const char *name, const struct al_image_import_hook *h,
                       struct al_image_import_result *res, struct al_error *err)
{
	struct source s = {.fd = -1};
	struct applier a = {.root = -1, .as_root = geteuid() == 0, .res = res, .err = err};
	char staging[64], path[PATH_MAX], final[80], auto_name[256] = "";
	struct stat st;
	uint32_t rnd = 0;
	_cleanup_close_ int store = -1;
	int r;

	memset(res, 0, sizeof *res);
	if (name && !al_image_name_valid(name))
		return al_error_set(err, EINVAL, "import",
		                    "--name %s: expected NAME:TAG (NAME of a-z 0-9 . _ - /, TAG of "
		                    "A-Z a-z 0-9 . _ -)",
		                    name);
	if (sodium_init() < 0)
		return al_error_set(err, EIO, "import", "libsodium initialisation failed");
	/* layers may be gzip'ed: zlib is loaded here, not by every run */
	r = al_zlib_load(err);
	if (r < 0)
		return al_error_wrap(err, "importing %s", src);
	s.fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (s.fd < 0)
		return al_error_errno(err, "import", "opening %s", src);
	if (fstat(s.fd, &st) < 0) {
		r = al_error_errno(err, "import", "stat %s", src);
		goto out;
	}
	s.dir = S_ISDIR(st.st_mode);
	if (!s.dir && !S_ISREG(st.st_mode)) {
		r = al_error_set(err, EINVAL, "import", "%s is neither a file nor a directory",
		                 src);
		goto out;
	}
	if (h && h->rootfs_tar) {
		/* one plain tar of a whole tree (mmdebstrap's output): the file
		 * itself is the only layer */
		if (s.dir) {
			r = al_error_set(err, EINVAL, "import", "%s is not a tar file", src);
			goto out;
		}
		s.m = calloc(1, sizeof *s.m);
		if (s.m == NULL || (s.m[0].name = strdup("rootfs.tar")) == NULL) {
			r = al_error_set(err, ENOMEM, "import", "import");
			goto out;
		}
		s.m[0].off = 0;
		s.m[0].size = (uint64_t)st.st_size;
		s.n = 1;
	} else if (!s.dir && (r = index_archive(&s, err)) < 0) {
		goto out;
	}

	store = al_image_store_open(true, err);
	if (store < 0) {
		r = store;
		goto out;
	}
	{
		struct statvfs sv;
		uint64_t avail =
		    fstatvfs(store, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : 0;
		a.max_bytes = (uint64_t)64 << 30;
		if (avail / 10 * 9 < a.max_bytes)
			a.max_bytes = avail / 10 * 9;
	}
	if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)getpid() ^ (uint32_t)time(NULL);
	snprintf(staging, sizeof staging, ".staging-%d-%08x", (int)getpid(), rnd);
	if (mkdirat(store, staging, 0700) < 0) {
		r = al_error_errno(err, "import", "creating %s in the store", staging);
		goto out;
	}
	a.root = openat(store, staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (a.root < 0) {
		r = al_error_errno(err, "import", "opening %s", staging);
		goto cleanup;
	}
	if (h && h->rootfs_tar) {
		snprintf(res->format, sizeof res->format, "%s", h->format ? h->format : "rootfs-tar");
		r = apply_layer(&a, &s, "rootfs.tar", NULL);
	} else {
		int fd;
		uint64_t off, size;
		bool own;
		bool oci = source_find(&s, "index.json", &fd, &off, &size, &own) == 0;
		if (oci && own)
			close(fd);
		r = oci ? layers_oci(&s, &a, auto_name, sizeof auto_name)
		        : layers_docker(&s, &a, auto_name, sizeof auto_name);
	}
	if (r < 0)
		goto cleanup;
	r = finish_dirs(&a);
	if (r == 0 && fchmod(a.root, 0755) < 0)
		r = al_error_errno(err, "import", "chmod the image root");
	if (r == 0 && h && h->prepare) {
		char dir[PATH_MAX];
		al_image_store_dir(dir, sizeof dir);
		snprintf(path, sizeof path, "%s/%s", dir, staging);
		r = h->prepare(a.root, path, h->ctx, err);
	}
	if (r < 0)
		goto cleanup;

	{
		struct al_image_tree t = {0};
		char dir[PATH_MAX];
		al_image_store_dir(dir, sizeof dir);
		snprintf(path, sizeof path, "%s/%s", dir, staging);
		r = al_image_digest_dir(path, NULL, &t, err);
		if (r < 0)
			goto cleanup;
		memcpy(res->digest, t.digest, sizeof res->digest);
		if (h && h->check && (r = h->check(a.root, &t, h->ctx, err)) < 0) {
			al_image_tree_free(&t);
			goto cleanup;
		}
		/* the listing stays beside the image, so that drift against the
		 * stored digest can always name the changed paths */
		struct al_buf lb;
		char lname[96];
		al_buf_init(&lb);
		snprintf(lname, sizeof lname, "sha256-%s.listing", t.digest + 7);
		if (al_image_listing(&t, &lb) < 0 ||
		    al_image_write_atomic(store, lname, lb.data, lb.len) < 0 ||
		    fchmodat(store, lname, 0644, 0) < 0)
			r = al_error_set(err, EIO, "import", "writing the listing of %s", t.digest);
		al_buf_free(&lb);
		al_image_tree_free(&t);
		if (r < 0)
			goto cleanup;
	}
	snprintf(final, sizeof final, "sha256-%s", res->digest + 7);
	if (renameat(store, staging, store, final) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY) {
			r = al_error_errno(err, "import", "storing %s", final);
			goto cleanup;
		}
		/* already stored: keep it if it is intact, else replace it */
		struct al_image_tree t = {0};
		struct al_error e2 = {0};
		char dir[PATH_MAX];
		al_image_store_dir(dir, sizeof dir);
		snprintf(path, sizeof path, "%s/%s", dir, final);
		bool intact = al_image_digest_dir(path, NULL, &t, &e2) == 0 &&
		              strcmp(t.digest, res->digest) == 0;
		al_image_tree_free(&t);
		if (intact) {
			al_image_remove_tree(store, staging, 0);
		} else {
			r = al_image_remove_tree(store, final, 0);
			if (r == 0 && renameat(store, staging, store, final) < 0)
				r = -errno;
			if (r < 0) {
				r = al_error_set(err, -r, "import", "replacing the changed %s",
				                 final);
				goto cleanup;
			}
		}
	}
	write_meta(store, src, res, h);
	if (name == NULL && auto_name[0] && al_image_name_valid(auto_name))
		name = auto_name;
	else if (name == NULL && auto_name[0] && strchr(auto_name, ':') == NULL) {
		/* an OCI ref name is often only the tag */
		static char composed[300];
		snprintf(composed, sizeof composed, "imported:%s", auto_name);
		if (al_image_name_valid(composed))
			name = composed;
	}
	if (name) {
		r = al_image_tag_set(store, name, res->digest, err);
		if (r < 0)
			goto out;
		snprintf(res->name, sizeof res->name, "%s", name);
	}
	r = 0;
	goto out;
cleanup:
	al_image_remove_tree(store, staging, 0);
out:
	if (a.root >= 0)
		close(a.root);
	for (size_t i = 0; i < a.ndm; i++)
		free(a.dm[i].path);
	free(a.dm);
	source_free(&s);
	return r;
}
