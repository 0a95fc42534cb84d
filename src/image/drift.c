/* What a run records about its image, and drift: a pinned digest that does
 * not match refuses the run, naming the changed paths when the listing of
 * the pinned digest is still in the cache. */
#define _GNU_SOURCE
#include "image/image.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fdutil.h"

struct line {
	const char *s; /* the record */
	size_t len;    /* without the newline */
	size_t plen;   /* length of the (escaped) path field */
};

/* Split a listing into records, skipping the header line. */
static struct line *split(const char *text, size_t len, size_t *n)
{
	struct line *v = NULL;
	size_t cap = 0, i = 0;
	const char *p = memchr(text, '\n', len), *end = text + len;

	*n = 0;
	if (p == NULL)
		return NULL;
	for (p++; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *sp;
		if (nl == NULL)
			nl = end;
		if (i == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct line *nv = realloc(v, nc * sizeof *nv);
			if (nv == NULL) {
				free(v);
				*n = 0;
				return NULL;
			}
			v = nv;
			cap = nc;
		}
		sp = memchr(p, ' ', (size_t)(nl - p));
		v[i].s = p;
		v[i].len = (size_t)(nl - p);
		v[i].plen = sp ? (size_t)(sp - p) : v[i].len;
		i++;
		p = nl + 1;
	}
	*n = i;
	return v;
}

static void unesc(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		if (s[i] == '%' && i + 2 < n) {
			unsigned v = 0;
			for (int h = 1; h <= 2; h++) {
				char x = s[i + h];
				v = v * 16 + (unsigned)(x >= 'A' ? x - 'A' + 10 : x - '0');
			}
			out[k++] = (char)(v ? v : '?');
			i += 2;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = '\0';
}

/* The fields after the path: type mode uid gid data... */
static size_t fields(const struct line *l, const char *f[8], size_t flen[8])
{
	const char *p = l->s + l->plen, *end = l->s + l->len;
	size_t n = 0;
	while (p < end && n < 8) {
		const char *q;
		p++;
		q = memchr(p, ' ', (size_t)(end - p));
		if (q == NULL)
			q = end;
		f[n] = p;
		flen[n] = (size_t)(q - p);
		n++;
		p = q;
	}
	return n;
}

static bool feq(const char *a, size_t al, const char *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

static const char *what_changed(const struct line *a, const struct line *b)
{
	const char *fa[8], *fb[8];
	size_t la[8], lb[8];
	size_t na = fields(a, fa, la), nb = fields(b, fb, lb);

	if (na < 5 || nb < 5 || !feq(fa[0], la[0], fb[0], lb[0]))
		return "type";
	if (!feq(fa[1], la[1], fb[1], lb[1]))
		return "mode";
	if (!feq(fa[2], la[2], fb[2], lb[2]) || !feq(fa[3], la[3], fb[3], lb[3]))
		return "owner";
	switch (fa[0][0]) {
	case 'f':
		if (na >= 7 && nb >= 7 && feq(fa[4], la[4], fb[4], lb[4]) &&
		    feq(fa[5], la[5], fb[5], lb[5]))
			return "capabilities";
		return "content";
	case 'l':
		return "target";
	case 'c':
	case 'b':
		return "device";
	case 'd':
		return fa[4][0] == 'i' ? "entries" : "readability";
	default:
		return "other";
	}
}

size_t al_image_listing_diff(const char *old_listing, size_t old_len, const char *new_listing,
                             size_t new_len, size_t max_paths, const char *sep, struct al_buf *out)
{
	size_t no, nn, i = 0, j = 0, count = 0;
	struct line *a = split(old_listing, old_len, &no);
	struct line *b = split(new_listing, new_len, &nn);
	static char pa[AL_IMAGE_MAX_PATH + 1], pb[AL_IMAGE_MAX_PATH + 1];

	while (i < no || j < nn) {
		int c;
		const char *kind;
		const char *path;
		char detail[64] = "";

		if (i < no)
			unesc(a[i].s, a[i].plen, pa, sizeof pa);
		if (j < nn)
			unesc(b[j].s, b[j].plen, pb, sizeof pb);
		c = i >= no ? 1 : j >= nn ? -1 : al_image_path_cmp(pa, pb);
		if (c < 0) {
			kind = "removed";
			path = pa;
			i++;
		} else if (c > 0) {
			kind = "added";
			path = pb;
			j++;
		} else {
			bool same = a[i].len == b[j].len && memcmp(a[i].s, b[j].s, a[i].len) == 0;
			if (same) {
				i++;
				j++;
				continue;
			}
			kind = "changed";
			path = pb;
			snprintf(detail, sizeof detail, " (%s)", what_changed(&a[i], &b[j]));
			i++;
			j++;
		}
		if (count < max_paths) {
			if (count)
				al_buf_puts(out, sep);
			al_buf_printf(out, "%s ", kind);
			al_image_escape(out, path, strlen(path));
			al_buf_puts(out, detail);
		}
		count++;
	}
	if (count > max_paths)
		al_buf_printf(out, " (and %zu more)", count - max_paths);
	free(a);
	free(b);
	return count;
}

struct pkg {
	const char *name, *version;
	size_t nlen, vlen;
};

static int cmp_pkg(const void *a, const void *b)
{
	const struct pkg *x = a, *y = b;
	size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
	int c = memcmp(x->name, y->name, n);
	return c ? c : (x->nlen > y->nlen) - (x->nlen < y->nlen);
}

/* The installed packages of a dpkg status file ("Package:" and "Version:"
 * of each stanza whose Status ends in "installed"), sorted by name. */
static struct pkg *packages(const char *s, size_t len, size_t *n)
{
	struct pkg *v = NULL, cur = {0};
	size_t cap = 0;
	bool installed = false;
	const char *p = s, *end = s + len;

	*n = 0;
	for (;;) {
		const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		const char *le = nl ? nl : end;
		if (p >= end || le == p) { /* end of a stanza */
			if (cur.name && installed) {
				if (*n == cap) {
					size_t nc = cap ? cap * 2 : 256;
					struct pkg *nv = realloc(v, nc * sizeof *nv);
					if (nv == NULL)
						break;
					v = nv;
					cap = nc;
				}
				v[(*n)++] = cur;
			}
			memset(&cur, 0, sizeof cur);
			installed = false;
			if (p >= end)
				break;
		} else if ((size_t)(le - p) > 9 && memcmp(p, "Package: ", 9) == 0) {
			cur.name = p + 9;
			cur.nlen = (size_t)(le - p - 9);
		} else if ((size_t)(le - p) > 9 && memcmp(p, "Version: ", 9) == 0) {
			cur.version = p + 9;
			cur.vlen = (size_t)(le - p - 9);
		} else if ((size_t)(le - p) > 8 && memcmp(p, "Status: ", 8) == 0) {
			installed =
			    (size_t)(le - p) >= 18 && memcmp(le - 10, " installed", 10) == 0;
		}
		p = le + 1;
	}
	if (v)
		qsort(v, *n, sizeof *v, cmp_pkg);
	return v;
}

size_t al_image_packages_diff(const char *old_status, size_t old_len, const char *new_status,
                              size_t new_len, struct al_buf *out)
{
	size_t na, nb, i = 0, j = 0, count = 0;
	struct pkg *a = packages(old_status, old_len, &na);
	struct pkg *b = packages(new_status, new_len, &nb);

	while (i < na || j < nb) {
		int c = i >= na ? 1 : j >= nb ? -1 : cmp_pkg(&a[i], &b[j]);
		if (c < 0) {
			al_buf_printf(out, "package removed %.*s %.*s\n", (int)a[i].nlen, a[i].name,
			              (int)a[i].vlen, a[i].version ? a[i].version : "");
			i++;
			count++;
		} else if (c > 0) {
			al_buf_printf(out, "package added %.*s %.*s\n", (int)b[j].nlen, b[j].name,
			              (int)b[j].vlen, b[j].version ? b[j].version : "");
			j++;
			count++;
		} else {
			if (a[i].vlen != b[j].vlen ||
			    (a[i].vlen && memcmp(a[i].version, b[j].version, a[i].vlen) != 0)) {
				al_buf_printf(out, "package %.*s: %.*s -> %.*s\n", (int)a[i].nlen,
				              a[i].name, (int)a[i].vlen,
				              a[i].version ? a[i].version : "", (int)b[j].vlen,
				              b[j].version ? b[j].version : "");
				count++;
			}
			i++;
			j++;
		}
	}
	free(a);
	free(b);
	return count;
}

int al_image_dpkg_status(int rootfd, struct al_buf *out)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	char *buf;
	ssize_t n;
	_cleanup_close_ int fd =
	    (int)syscall(SYS_openat2, rootfd, "var/lib/dpkg/status", &how, sizeof how);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20))
		return -EINVAL;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return -ENOMEM;
	n = al_read_full(fd, buf, (size_t)st.st_size);
	if (n > 0)
		al_buf_append(out, buf, (size_t)n);
	free(buf);
	return n < 0 ? (int)n : 0;
}

void al_image_packages_json(const char *status, size_t len, struct al_json *j)
{
	size_t n;
	struct pkg *v = packages(status, len, &n);

	al_json_arr_begin(j);
	for (size_t i = 0; i < n; i++) {
		al_json_obj_begin(j);
		al_json_key(j, "name");
		al_json_strn(j, v[i].name, v[i].nlen);
		al_json_key(j, "version");
		al_json_strn(j, v[i].version ? v[i].version : "", v[i].vlen);
		al_json_obj_end(j);
	}
	al_json_arr_end(j);
	free(v);
}

long al_image_packages_count(const char *status, size_t len)
{
	size_t n;
	free(packages(status, len, &n));
	return (long)n;
}

/* An image of the store built with a forbid list (build.c keeps it beside
 * the image, sha256-HEX.forbid) is linted again for those categories at
 * every run start, with this airlock's rules: a finding refuses the run
 * like drift does (recorded in the log, exit 125). Only the forbidden
 * categories are looked for, from the walk the digest just made. */
static int forbid_check(const char *image, const struct al_image_tree *t, struct al_image_id *id,
                        struct al_error *err)
{
	char dir[PATH_MAX], store_real[PATH_MAX], real[PATH_MAX], digest[AL_IMAGE_DIGEST_MAX];
	bool forbid[AL_LINT_N_CATEGORIES];
	struct al_lint_report rep = {0};
	struct al_error ignored = {0};
	size_t n;
	int r;

	/* however the directory is spelled (NAME:TAG resolved, a path with a
	 * trailing slash, a symlink to it): is it an image of the store? */
	if (al_image_store_dir(dir, sizeof dir) < 0 || realpath(dir, store_real) == NULL ||
	    realpath(image, real) == NULL)
		return 0;
	n = strlen(store_real);
	if (strncmp(real, store_real, n) != 0 || real[n] != '/' ||
	    strncmp(real + n + 1, "sha256-", 7) != 0 || strlen(real + n + 1) != 7 + 64)
		return 0; /* not a stored image: no forbid list */
	snprintf(digest, sizeof digest, "sha256:%s", real + n + 8);
	if (!al_image_digest_valid(digest))
		return 0;
	_cleanup_close_ int store = al_image_store_open(false, &ignored);
	if (store < 0)
		return al_error_set(err, -store, "image",
		                    "opening the image store to read the forbid list of %s", digest);
	r = al_image_forbid_load(store, digest, forbid);
	if (r == -ENOENT)
		return 0;
	if (r < 0) /* a list that cannot be read refuses the run, never permits it */
		return al_error_set(err, -r, "image", "reading the forbid list of %s", digest);
	_cleanup_close_ int rootfd = open(image, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return al_error_errno(err, "image", "opening the image %s", image);
	r = al_lint_tree_only(rootfd, t, forbid, &rep, err);
	if (r < 0)
		return r;
	if (rep.n) {
		struct al_buf msg;
		al_buf_init(&msg);
		for (size_t i = 0; i < rep.n && i < 8; i++) {
			al_buf_printf(&msg, "%s%s ", i ? ", " : "",
			              al_lint_category_name(rep.f[i].category));
			al_image_escape(&msg, rep.f[i].path, strlen(rep.f[i].path));
		}
		if (rep.n > 8)
			al_buf_printf(&msg, " (and %zu more)", rep.n - 8);
		id->drift = true;
		snprintf(id->drift_msg, sizeof id->drift_msg,
		         "image forbid: %s has %zu finding%s in a category its forbid list names: %s",
		         digest, rep.n, rep.n == 1 ? "" : "s", msg.data ? msg.data : "");
		al_buf_free(&msg);
	}
	al_lint_report_free(&rep);
	return 0;
}

int al_image_identify(const char *image, const char *pin, struct al_image_id *id,
                      struct al_error *err)
{
	struct al_buf listing, old, msg;
	struct al_image_tree t = {0};
	int r;

	memset(id, 0, sizeof *id);
	al_buf_init(&listing);
	if (strcmp(image, "host") == 0) {
		id->kind = "host";
		r = al_image_digest_host(NULL, id->digest, pin ? &listing : NULL, err);
	} else {
		id->kind = "tree";
		r = al_image_digest_dir(image, NULL, &t, err);
		if (r == 0) {
			memcpy(id->digest, t.digest, sizeof id->digest);
			if (pin && strcmp(pin, t.digest) != 0 && al_image_listing(&t, &listing) < 0)
				r = al_error_set(err, ENOMEM, "image", "listing the image");
			else if (pin == NULL || strcmp(pin, t.digest) == 0)
				r = forbid_check(image, &t, id, err);
		}
		al_image_tree_free(&t);
	}
	if (r < 0) {
		al_buf_free(&listing);
		return r;
	}
	if (pin == NULL || strcmp(pin, id->digest) == 0 || id->drift) {
		al_buf_free(&listing);
		return 0;
	}
	id->drift = true;
	al_buf_init(&old);
	al_buf_init(&msg);
	if (al_image_listing_load(NULL, pin, &old) == 0) {
		size_t n = al_image_listing_diff(old.data, old.len, listing.data, listing.len, 8,
		                                 ", ", &msg);
		snprintf(id->drift_msg, sizeof id->drift_msg,
		         "image drift: %s is %s, pinned %s: %zu difference%s: %s", image,
		         id->digest, pin, n, n == 1 ? "" : "s", msg.data ? msg.data : "");
	} else {
		snprintf(
		    id->drift_msg, sizeof id->drift_msg,
		    "image drift: %s is %s, pinned %s (the pinned listing is not in the cache, "
		    "so the changed paths cannot be named)",
		    image, id->digest, pin);
	}
	al_buf_free(&old);
	al_buf_free(&msg);
	al_buf_free(&listing);
	return 0;
}
