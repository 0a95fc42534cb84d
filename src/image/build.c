/* `airlock image build FILE`: a Debian image from a declarative image file
 * (imagefile.c), with mmdebstrap, into the local store.
 *
 * mmdebstrap writes one tar of the whole tree to a private unnamed file
 * (--format=tar, SOURCE_DATE_EPOCH set: the same options and the same
 * package versions give the same bytes); the store's importer applies it
 * with the same rules as any layer (nothing followed, no device nodes, no
 * setuid bits); then, on the staging tree, airlock removes what differs
 * from host to host, writes the file's extra files and users, computes the
 * tree digest, lints it and refuses the image if a category of its forbid
 * list is present. Nothing from the image file reaches a shell: it is
 * checked to a narrow alphabet and passed as separate arguments, and the
 * extra files are written by airlock itself with openat2(RESOLVE_IN_ROOT).
 *
 * Rootful builds use --mode=root; rootless ones --mode=unshare, which needs
 * subordinate uids and gids (/etc/subuid, /etc/subgid) for the caller: when
 * there are none the build is refused before anything is downloaded. */
#define _GNU_SOURCE
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image/image_internal.h"
#include "image/imagefile.h"
#include "util/cleanup.h"
#include "util/fdutil.h"
#include "util/timeutil.h"

#define MMDEBSTRAP "/usr/bin/mmdebstrap"
#define BUSYBOX_HOOKS "/usr/share/mmdebstrap/hooks/busybox"
#define DEFAULT_MIRROR "http://deb.debian.org/debian"
/* the smallest set dpkg can install packages with, busybox as its shell */
static const char *const busybox_base[] = {"dpkg",      "busybox",     "libc-bin",   "base-files",
                                           "base-passwd", "debianutils", NULL};
/* host-specific files mmdebstrap copies in (its man page, SOURCE_DATE_EPOCH) */
static const char *const host_files[] = {"etc/resolv.conf", "etc/hostname", NULL};

struct build {
	const struct al_imagefile *f;
	const char *file;
	unsigned char file_sha256[32];
	const char *mode;
	bool deb_cache;
	uint64_t mmdebstrap_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_image_file(const char *file, char **text, size_t *len, struct al_error *err)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return al_error_errno(err, "build", "opening the image file %s", file);
	if (fstat(fd, &st) < 0)
		return al_error_errno(err, "build", "stat %s", file);
	if (!S_ISREG(st.st_mode))
		return al_error_set(err, EINVAL, "build", "%s is not a regular file", file);
	if (st.st_size > AL_IMAGEFILE_MAX_BYTES)
		return al_error_set(err, EFBIG, "build", "%s: larger than %d bytes", file,
		                    AL_IMAGEFILE_MAX_BYTES);
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return al_error_set(err, ENOMEM, "build", "reading %s", file);
	/* read one byte more than the size: a file growing under us is refused */
	n = al_read_full(fd, buf, (size_t)st.st_size + 1);
	if (n < 0 || n != st.st_size) {
		free(buf);
		return al_error_set(err, n < 0 ? (int)-n : EAGAIN, "build",
		                    "reading %s (changed while read?)", file);
	}
	buf[n] = '\0';
	*text = buf;
	*len = (size_t)n;
	return 0;
}

/* Does the caller have subordinate ids for mmdebstrap --mode=unshare? */
static bool has_subids(const char *file, const char *user, uid_t uid)
{
	_cleanup_fclose_ FILE *fp = fopen(file, "re");
	char line[512], num[16];

	if (fp == NULL)
		return false;
	snprintf(num, sizeof num, "%u", (unsigned)uid);
	while (fgets(line, sizeof line, fp)) {
		char *c = strchr(line, ':');
		if (c == NULL)
			continue;
		*c = '\0';
		if ((user && strcmp(line, user) == 0) || strcmp(line, num) == 0)
			return true;
	}
	return false;
}

/* A path for mmdebstrap's sync-in/sync-out hooks, which split on spaces. */
static bool hook_safe(const char *s)
{
	return s[0] == '/' && s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                  "0123456789/._-")] == '\0';
}

struct argv {
	char *v[64];
	size_t n;
};

static int arg(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int arg(struct argv *a, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (a->n + 1 >= AL_ARRAY_SIZE(a->v))
		return -E2BIG;
	va_start(ap, fmt);
	r = vasprintf(&a->v[a->n], fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	a->n++;
	a->v[a->n] = NULL;
	return 0;
}

static void argv_free(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

static int build_argv(struct build *b, const char *cache, struct argv *a)
{
	const struct al_imagefile *f = b->f;
	struct al_buf inc;
	int r = 0;

	al_buf_init(&inc);
	if (f->base == AL_IMAGE_BASE_BUSYBOX)
		for (size_t i = 0; busybox_base[i]; i++)
			al_buf_printf(&inc, "%s%s", inc.len ? "," : "", busybox_base[i]);
	for (size_t i = 0; i < f->npackages; i++)
		al_buf_printf(&inc, "%s%s", inc.len ? "," : "", f->packages[i]);
	if (inc.oom) {
		al_buf_free(&inc);
		return -ENOMEM;
	}
	r |= arg(a, "%s", MMDEBSTRAP);
	r |= arg(a, "--variant=%s", f->base == AL_IMAGE_BASE_BUSYBOX ? "custom" : "essential");
	r |= arg(a, "--mode=%s", b->mode);
	r |= arg(a, "--format=tar");
	if (inc.len)
		r |= arg(a, "--include=%s", inc.data);
	if (f->base == AL_IMAGE_BASE_BUSYBOX)
		r |= arg(a, "--hook-dir=%s", BUSYBOX_HOOKS);
	if (cache) {
		/* the downloaded .debs are kept between builds; apt checks each
		 * against the signed index before it uses it */
		r |= arg(a, "--skip=essential/unlink");
		r |= arg(a, "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/");
		r |= arg(a, "--setup-hook=sync-in %s /var/cache/apt/archives/", cache);
		r |= arg(a, "--customize-hook=sync-out /var/cache/apt/archives %s", cache);
	}
	r |= arg(a, "%s", f->suite);
	r |= arg(a, "-");
	r |= arg(a, "%s", DEFAULT_MIRROR);
	al_buf_free(&inc);
	return r < 0 ? -ENOMEM : 0;
}

/* Run mmdebstrap with stdout to outfd; its stderr is the caller's. */
static int run_mmdebstrap(struct build *b, char *const argv[], int outfd, struct al_error *err)
{
	char epoch[32];
	const char *keep[] = {"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
	                      "NO_PROXY", "HOME", NULL};
	char *envp[16];
	size_t ne = 0;
	int status;
	pid_t pid;

	snprintf(epoch, sizeof epoch, "SOURCE_DATE_EPOCH=%llu", (unsigned long long)b->f->epoch);
	envp[ne++] = (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	envp[ne++] = (char *)"LC_ALL=C.UTF-8";
	envp[ne++] = epoch;
	char *kept[AL_ARRAY_SIZE(keep)] = {NULL};
	for (size_t i = 0; keep[i]; i++) {
		const char *v = getenv(keep[i]);
		if (v && asprintf(&kept[i], "%s=%s", keep[i], v) > 0)
			envp[ne++] = kept[i];
	}
	envp[ne] = NULL;
	_cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return al_error_errno(err, "build", "opening /dev/null");
	pid = fork();
	if (pid < 0) {
		for (size_t i = 0; keep[i]; i++)
			free(kept[i]);
		return al_error_errno(err, "build", "fork");
	}
	if (pid == 0) {
		/* stdin is /dev/null: without a tty mmdebstrap would read a
		 * sources.list from it */
		if (dup2(devnull, 0) < 0 || dup2(outfd, 1) < 0)
			_exit(127);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	for (size_t i = 0; keep[i]; i++)
		free(kept[i]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return al_error_errno(err, "build", "waiting for mmdebstrap");
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return al_error_set(err, 0, "build",
		                    "mmdebstrap failed (exit %d; its messages are above)",
		                    WEXITSTATUS(status));
	return al_error_set(err, 0, "build", "mmdebstrap was killed by signal %d",
	                    WTERMSIG(status));
}

/* ---- on the staging tree ---- */

static int open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	while (*path == '/')
		path++;
	return (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof how);
}

/* The directory dir (an absolute path; created 0755 as needed, parents
 * first), resolved inside the image root: a link in the image (/bin ->
 * usr/bin) resolves as it would in a sandbox, never out of the tree. */
static int ensure_dir(int rootfd, const char *dir, struct al_error *err)
{
	char buf[300];
	size_t n = strlen(dir);

	if (n >= sizeof buf)
		return al_error_set(err, ENAMETOOLONG, "build", "%s: path too long", dir);
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		int fd = open_in_root(rootfd, buf, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0 && errno == ENOENT) {
			char *s = strrchr(buf, '/');
			*s = '\0';
			_cleanup_close_ int pfd =
			    open_in_root(rootfd, buf[0] ? buf : "/", O_RDONLY | O_DIRECTORY, 0);
			*s = '/';
			if (pfd < 0 || (mkdirat(pfd, s + 1, 0755) < 0 && errno != EEXIST))
				return al_error_errno(err, "build", "creating %s in the image", buf);
			fd = open_in_root(rootfd, buf, O_RDONLY | O_DIRECTORY, 0);
		}
		if (fd < 0)
			return al_error_errno(err, "build", "opening %s in the image", buf);
		if (c == '\0')
			return fd;
		close(fd);
		buf[i] = c;
	}
	return open_in_root(rootfd, "/", O_RDONLY | O_DIRECTORY, 0);
}

/* The directory of path, and its last component in *base. */
static int open_parent_dir(int rootfd, const char *path, const char **base, struct al_error *err)
{
	char dir[300];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (slash == NULL || n >= sizeof dir)
		return al_error_set(err, EINVAL, "build", "%s: not an absolute path", path);
	*base = slash + 1;
	if (n == 0)
		return open_in_root(rootfd, "/", O_RDONLY | O_DIRECTORY, 0);
	memcpy(dir, path, n);
	dir[n] = '\0';
	return ensure_dir(rootfd, dir, err);
}

static int write_file_in(int rootfd, const char *path, const char *data, size_t len,
                         uint32_t mode, uint32_t uid, uint32_t gid, struct al_error *err)
{
	const char *base;
	_cleanup_close_ int dfd = open_parent_dir(rootfd, path, &base, err);
	struct stat st;

	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			return al_error_set(err, EISDIR, "build", "%s is a directory in the image",
			                    path);
		if (unlinkat(dfd, base, 0) < 0)
			return al_error_errno(err, "build", "replacing %s", path);
	}
	_cleanup_close_ int fd =
	    openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return al_error_errno(err, "build", "creating %s", path);
	if (al_write_all(fd, data, len) < 0)
		return al_error_errno(err, "build", "writing %s", path);
	/* ownership as the file says when building as root; rootless, the
	 * caller owns every file of the image (as with import) */
	if (geteuid() == 0 && fchown(fd, uid, gid) < 0)
		return al_error_errno(err, "build", "chown %s", path);
	if (fchmod(fd, mode) < 0)
		return al_error_errno(err, "build", "chmod %s", path);
	return 0;
}

/* The whole of a small file of the image (resolved inside its root). */
static int read_in(int rootfd, const char *path, struct al_buf *out)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path, O_RDONLY | O_NONBLOCK, 0);
	struct stat st;
	char buf[4096];
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20))
		return -EINVAL;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		al_buf_append(out, buf, (size_t)n);
	return n < 0 ? -errno : 0;
}

/* Is there a line "name:" or a third field ":id:" in an /etc/passwd or
 * /etc/group text? */
static bool db_has(const struct al_buf *b, const char *name, uint32_t id)
{
	const char *p = b->data ? b->data : "", *end = p + b->len;
	size_t nl = strlen(name);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *f2, *f3;
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == ':')
			return true;
		f2 = memchr(p, ':', (size_t)(eol - p));
		f3 = f2 ? memchr(f2 + 1, ':', (size_t)(eol - f2 - 1)) : NULL;
		if (f3) {
			char *e;
			unsigned long v = strtoul(f3 + 1, &e, 10);
			if (e > f3 + 1 && *e == ':' && v == id)
				return true;
		}
		p = eol + 1;
	}
	return false;
}

static int add_users(int rootfd, const struct al_imagefile *f, struct al_error *err)
{
	struct al_buf pw, gr;
	int r = 0;

	if (f->nusers == 0)
		return 0;
	al_buf_init(&pw);
	al_buf_init(&gr);
	/* a missing file starts empty; one that is not a small regular file
	 * (a link, a FIFO) is refused rather than replaced */
	r = read_in(rootfd, "/etc/passwd", &pw);
	if (r == 0 || r == -ENOENT)
		r = read_in(rootfd, "/etc/group", &gr);
	if (r < 0 && r != -ENOENT)
		r = al_error_set(err, -r, "build",
		                 "reading the image's /etc/passwd and /etc/group to add users");
	else
		r = 0;
	for (size_t i = 0; i < f->nusers && r == 0; i++) {
		const struct al_imagefile_user *u = &f->users[i];
		if (db_has(&pw, u->name, u->uid)) {
			r = al_error_set(err, EEXIST, "build",
			                 "user %s (uid %u): the name or the uid is already in the "
			                 "image's /etc/passwd",
			                 u->name, u->uid);
			break;
		}
		if (pw.len && pw.data[pw.len - 1] != '\n')
			al_buf_puts(&pw, "\n");
		al_buf_printf(&pw, "%s:x:%u:%u::%s:%s\n", u->name, u->uid, u->gid, u->home,
		              u->shell);
		if (!db_has(&gr, u->name, u->gid)) {
			if (gr.len && gr.data[gr.len - 1] != '\n')
				al_buf_puts(&gr, "\n");
			al_buf_printf(&gr, "%s:x:%u:\n", u->name, u->gid);
		}
		/* the home directory, the user's own */
		_cleanup_close_ int hfd = ensure_dir(rootfd, u->home, err);
		if (hfd < 0) {
			r = hfd;
			break;
		}
		if ((geteuid() == 0 && fchown(hfd, u->uid, u->gid) < 0) || fchmod(hfd, 0755) < 0)
			r = al_error_errno(err, "build", "setting up the home %s", u->home);
	}
	if (r == 0 && (pw.oom || gr.oom))
		r = al_error_set(err, ENOMEM, "build", "adding users");
	if (r == 0)
		r = write_file_in(rootfd, "/etc/passwd", pw.data, pw.len, 0644, 0, 0, err);
	if (r == 0)
		r = write_file_in(rootfd, "/etc/group", gr.data, gr.len, 0644, 0, 0, err);
	al_buf_free(&pw);
	al_buf_free(&gr);
	return r;
}

static int prepare_tree(int rootfd, const char *path, void *ctx, struct al_error *err)
{
	struct build *b = ctx;
	const struct al_imagefile *f = b->f;
	int r;

	(void)path;
	for (size_t i = 0; host_files[i]; i++) {
		const char *base;
		char p[64];
		snprintf(p, sizeof p, "/%s", host_files[i]);
		_cleanup_close_ int dfd = open_parent_dir(rootfd, p, &base, err);
		if (dfd < 0)
			return dfd;
		if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
			return al_error_errno(err, "build", "removing %s", p);
	}
	for (size_t i = 0; i < f->nfiles; i++) {
		const struct al_imagefile_file *x = &f->files[i];
		r = write_file_in(rootfd, x->path, x->content, x->len, x->mode, x->uid, x->gid, err);
		if (r < 0)
			return r;
	}
	return add_users(rootfd, f, err);
}

static void forbid_file(const char *digest, char out[96])
{
	snprintf(out, 96, "sha256-%s.forbid", digest + 7);
}

static int check_tree(int rootfd, const struct al_image_tree *t, void *ctx, struct al_error *err)
{
	struct build *b = ctx;
	struct al_lint_report rep = {0};
	struct al_buf msg;
	size_t n = 0;
	bool any = false;
	int r;

	for (int c = 0; c < AL_LINT_N_CATEGORIES; c++)
		any |= b->f->forbid[c];
	if (!any)
		return 0;
	r = al_lint_tree_only(rootfd, t, b->f->forbid, &rep, err);
	if (r < 0)
		return r;
	al_buf_init(&msg);
	for (size_t i = 0; i < rep.n; i++) {
		if (n < 8) {
			al_buf_printf(&msg, "%s%s ", n ? ", " : "",
			              al_lint_category_name(rep.f[i].category));
			al_image_escape(&msg, rep.f[i].path, strlen(rep.f[i].path));
			al_buf_printf(&msg, " (%s)", rep.f[i].reason);
		}
		n++;
	}
	if (n > 8)
		al_buf_printf(&msg, " (and %zu more)", n - 8);
	if (n)
		r = al_error_set(err, 0, "build",
		                 "refused: the image has %zu finding%s in a category its forbid list names: %s",
		                 n, n == 1 ? "" : "s", msg.data ? msg.data : "");
	al_buf_free(&msg);
	al_lint_report_free(&rep);
	if (r < 0)
		return r;
	/* kept with the image, so that a run of it checks again (run.c, through
	 * al_image_identify) */
	return al_image_forbid_merge(t->digest, b->f->forbid, err);
}

static void meta_build(struct al_json *j, void *ctx)
{
	struct build *b = ctx;
	static const char hexd[] = "0123456789abcdef";
	char hex[65];

	for (int i = 0; i < 32; i++) {
		hex[2 * i] = hexd[b->file_sha256[i] >> 4];
		hex[2 * i + 1] = hexd[b->file_sha256[i] & 15];
	}
	hex[64] = '\0';
	al_json_key(j, "build");
	al_json_obj_begin(j);
	al_json_kv_str(j, "image_file", b->file);
	al_json_kv_str(j, "image_file_sha256", hex);
	al_json_kv_str(j, "suite", b->f->suite);
	al_json_kv_str(j, "base", b->f->base == AL_IMAGE_BASE_BUSYBOX ? "busybox" : "essential");
	al_json_key(j, "packages");
	al_json_arr_begin(j);
	for (size_t i = 0; i < b->f->npackages; i++)
		al_json_str(j, b->f->packages[i]);
	al_json_arr_end(j);
	al_json_kv_uint(j, "source_date_epoch", b->f->epoch);
	al_json_kv_str(j, "mode", b->mode);
	al_json_kv_bool(j, "deb_cache", b->deb_cache);
	al_json_kv_uint(j, "mmdebstrap_ms", b->mmdebstrap_ns / 1000000);
	al_json_obj_end(j);
	al_json_key(j, "forbid");
	al_json_arr_begin(j);
	for (int c = 0; c < AL_LINT_N_CATEGORIES; c++)
		if (b->f->forbid[c])
			al_json_str(j, al_lint_category_name((enum al_lint_category)c));
	al_json_arr_end(j);
}

int al_image_build(const char *file, const struct al_image_build_opts *o,
                   struct al_image_build_result *res, struct al_error *err)
{
	struct al_imagefile f;
	struct build b = {.f = &f, .file = file};
	struct argv a = {.n = 0};
	char *text = NULL, cache_dir[PATH_MAX], debs[PATH_MAX + 8], src[64];
	const char *name;
	size_t len = 0;
	uint64_t t0 = now_ns();
	int r;

	memset(res, 0, sizeof *res);
	if (sodium_init() < 0)
		return al_error_set(err, EIO, "build", "libsodium initialisation failed");
	r = read_image_file(file, &text, &len, err);
	if (r < 0)
		return r;
	crypto_hash_sha256(b.file_sha256, (unsigned char *)text, len);
	r = al_imagefile_parse(file, text, len, &f, err);
	free(text);
	if (r < 0)
		return r;
	name = o && o->name ? o->name : f.name[0] ? f.name : NULL;
	if (name && !al_image_name_valid(name)) {
		r = al_error_set(err, EINVAL, "build", "--name %s: expected NAME:TAG", name);
		goto out;
	}
	if (access(MMDEBSTRAP, X_OK) < 0) {
		r = al_error_set(err, ENOENT, "build",
		                 "%s is not installed (apt-get install mmdebstrap)", MMDEBSTRAP);
		goto out;
	}
	if (geteuid() == 0) {
		b.mode = "root";
	} else {
		struct passwd *pw = getpwuid(geteuid());
		const char *user = pw ? pw->pw_name : NULL;
		b.mode = "unshare";
		if (!has_subids("/etc/subuid", user, geteuid()) ||
		    !has_subids("/etc/subgid", user, geteuid()) ||
		    access("/usr/bin/newuidmap", X_OK) < 0) {
			r = al_error_set(err, EPERM, "build",
			                 "a rootless build runs mmdebstrap --mode=unshare, which needs "
			                 "subordinate ids for %s (uid %u) in /etc/subuid and "
			                 "/etc/subgid and newuidmap (package uidmap); there are none: "
			                 "add them (usermod --add-subuids 100000-165535 "
			                 "--add-subgids 100000-165535 %s) or build as root",
			                 user ? user : "this user", (unsigned)geteuid(),
			                 user ? user : "USER");
			goto out;
		}
	}
	/* the .deb cache; a path the hooks cannot carry just goes without */
	if (al_image_cache_dir(cache_dir, sizeof cache_dir) == 0) {
		_cleanup_close_ int dfd = al_image_open_sub(cache_dir, "debs", true);
		snprintf(debs, sizeof debs, "%s/debs", cache_dir);
		b.deb_cache = dfd >= 0 && hook_safe(debs);
	}
	r = build_argv(&b, b.deb_cache ? debs : NULL, &a);
	if (r < 0) {
		r = al_error_set(err, -r, "build", "building the mmdebstrap command");
		goto out;
	}
	{
		/* the tar lives in an unnamed file: nothing to clean up, nothing
		 * another user can swap */
		const char *tmp = getenv("TMPDIR");
		if (tmp == NULL || tmp[0] != '/')
			tmp = "/var/tmp";
		_cleanup_close_ int tarfd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (tarfd < 0) {
			r = al_error_errno(err, "build", "creating a temporary file in %s", tmp);
			goto out;
		}
		uint64_t m0 = now_ns();
		r = run_mmdebstrap(&b, a.v, tarfd, err);
		b.mmdebstrap_ns = now_ns() - m0;
		if (r < 0)
			goto out;
		struct al_image_import_hook h = {
		    .rootfs_tar = true,
		    .format = "mmdebstrap",
		    .source = file,
		    .prepare = prepare_tree,
		    .check = check_tree,
		    .meta = meta_build,
		    .ctx = &b,
		};
		struct al_image_import_result ir;
		snprintf(src, sizeof src, "/proc/self/fd/%d", tarfd);
		r = al_image_import_ex(src, name, &h, &ir, err);
		if (r < 0)
			goto out;
		memcpy(res->digest, ir.digest, sizeof res->digest);
		snprintf(res->name, sizeof res->name, "%s", ir.name);
		res->entries = ir.entries;
		res->bytes = ir.bytes;
		res->dropped_devices = ir.dropped_devices;
		res->dropped_setuid = ir.dropped_setuid;
	}
	res->mode = b.mode;
	res->deb_cache = b.deb_cache;
	res->mmdebstrap_ns = b.mmdebstrap_ns;
	res->elapsed_ns = now_ns() - t0;
out:
	argv_free(&a);
	al_imagefile_free(&f);
	return r;
}

/* ---- the forbid list kept with a stored image ---- */

int al_image_forbid_load(int store, const char *digest, bool forbid[AL_LINT_N_CATEGORIES])
{
	char name[96], *text = NULL, *save = NULL;
	size_t len = 0;
	int r;

	memset(forbid, 0, AL_LINT_N_CATEGORIES * sizeof *forbid);
	forbid_file(digest, name);
	r = al_image_read_private(store, name, false, &text, &len);
	if (r < 0)
		return r;
	for (char *tok = strtok_r(text, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
		enum al_lint_category c;
		if (al_lint_category_parse(tok, &c) < 0) {
			free(text);
			return -EINVAL; /* a list we cannot read refuses, not permits */
		}
		forbid[c] = true;
	}
	free(text);
	return 0;
}

int al_image_forbid_merge(const char *digest, const bool add[AL_LINT_N_CATEGORIES],
                          struct al_error *err)
{
	bool cur[AL_LINT_N_CATEGORIES];
	char name[96];
	struct al_buf b;
	int r;

	_cleanup_close_ int store = al_image_store_open(true, err);
	if (store < 0)
		return store;
	r = al_image_forbid_load(store, digest, cur);
	if (r < 0 && r != -ENOENT)
		return al_error_set(err, -r, "store", "reading the forbid list of %s", digest);
	al_buf_init(&b);
	for (int c = 0; c < AL_LINT_N_CATEGORIES; c++)
		if (cur[c] || add[c])
			al_buf_printf(&b, "%s\n", al_lint_category_name((enum al_lint_category)c));
	forbid_file(digest, name);
	r = b.oom ? -ENOMEM : al_image_write_atomic(store, name, b.data ? b.data : "", b.len);
	if (r == 0 && fchmodat(store, name, 0644, 0) < 0)
		r = -errno;
	al_buf_free(&b);
	return r < 0 ? al_error_set(err, -r, "store", "writing the forbid list of %s", digest) : 0;
}
