/* The workspace change report and --export. The overlay's upper layer
 * holds exactly what the workload changed; the supervisor walks it through
 * the directory fd the init handed over, comparing with the host original
 * (the lower layer), and never follows a link the workload made: every
 * lookup is relative to a directory fd with O_NOFOLLOW. */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "evidence/evlog.h"
#include "util/escape.h"
#include "util/cleanup.h"
#include "util/fdutil.h"
#include "util/json.h"

#define MAX_REPORTED 10000
#define MAX_DEPTH 64
#define CMP_BUF 65536

enum change { CH_CREATED, CH_MODIFIED, CH_DELETED };

struct entry {
	enum change kind;
	char *path;
	uint64_t size;
	const char *type; /* "file", "dir", "symlink", "special" */
};

struct report {
	char *cmp_a, *cmp_b; /* CMP_BUF each: compare buffers, on the heap */
	char *path;          /* PATH_MAX: the walk's current path */
	struct entry *v;
	size_t n, cap;
	size_t omitted;
	int export_root; /* -1 without --export */
	size_t exported;
	int export_errors;
};

static void add_entry(struct report *rep, enum change kind, const char *path, uint64_t size,
		      const char *type)
{
	if (rep->n >= MAX_REPORTED) {
		rep->omitted++;
		return;
	}
	if (rep->n == rep->cap) {
		size_t ncap = rep->cap ? rep->cap * 2 : 32;
		struct entry *n = realloc(rep->v, ncap * sizeof *n);
		if (n == NULL) {
			rep->omitted++;
			return;
		}
		rep->v = n;
		rep->cap = ncap;
	}
	rep->v[rep->n].kind = kind;
	rep->v[rep->n].path = strdup(path);
	rep->v[rep->n].size = size;
	rep->v[rep->n].type = type;
	if (rep->v[rep->n].path == NULL) {
		rep->omitted++;
		return;
	}
	rep->n++;
}

/* Same bytes? Both fds regular files of equal size. The walk recurses once
 * per directory level of a tree the workload made, so nothing big may live
 * in its frames: buffers are on the heap, helpers out of line. */
__attribute__((noinline)) static bool same_content(struct report *rep, int a, int b)
{
	char *ba = rep->cmp_a, *bb = rep->cmp_b;
	if (ba == NULL || bb == NULL)
		return false; /* cannot compare: report it as modified */
	for (;;) {
		ssize_t na = al_read_full(a, ba, CMP_BUF);
		ssize_t nb = al_read_full(b, bb, CMP_BUF);
		if (na < 0 || nb < 0 || na != nb)
			return false;
		if (na == 0)
			return true;
		if (memcmp(ba, bb, (size_t)na) != 0)
			return false;
	}
}

static const char *type_of(mode_t m)
{
	if (S_ISREG(m))
		return "file";
	if (S_ISDIR(m))
		return "dir";
	if (S_ISLNK(m))
		return "symlink";
	return "special";
}

/* Open name in the upper layer. A workload can chmod its files to 000; a
 * rootful supervisor reads them anyway, a rootless one is only their owner
 * (the sandbox uid is the caller's). The owner may grant itself access: the
 * upper layer is about to be discarded and nothing inside runs any more.
 * Done through an O_PATH handle, so a link the workload made is never
 * followed; only the report's view of the mode changes, not the export's. */
static int open_upper(int upper_dir, const char *name, int flags)
{
	char proc[64];
	struct stat st;
	int fd = openat(upper_dir, name, flags | O_NOFOLLOW | O_CLOEXEC), h;

	if (fd >= 0 || errno != EACCES)
		return fd;
	h = openat(upper_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (h < 0)
		return -1;
	if (fstat(h, &st) < 0 || st.st_uid != geteuid() ||
	    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
		close(h);
		errno = EACCES;
		return -1;
	}
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", h);
	if (chmod(proc, (st.st_mode & 07777) | (S_ISDIR(st.st_mode) ? 0700 : 0600)) < 0) {
		close(h);
		errno = EACCES;
		return -1;
	}
	close(h);
	return openat(upper_dir, name, flags | O_NOFOLLOW | O_CLOEXEC);
}

/* Open (creating) the export directory that mirrors rel's parent. */
static int export_dir_for(struct report *rep, const char *rel)
{
	char buf[PATH_MAX];
	char *p, *seg;
	int fd = fcntl(rep->export_root, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		return -1;
	snprintf(buf, sizeof buf, "%s", rel);
	p = strrchr(buf, '/');
	if (p == NULL)
		return fd;
	*p = '\0';
	for (seg = strtok(buf, "/"); seg; seg = strtok(NULL, "/")) {
		int nfd;
		if (mkdirat(fd, seg, 0755) < 0 && errno != EEXIST) {
			close(fd);
			return -1;
		}
		nfd = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (nfd < 0)
			return -1;
		fd = nfd;
	}
	return fd;
}

__attribute__((noinline)) static void export_entry(struct report *rep, int upper_dir, const char *name, const char *rel,
			 const struct stat *st)
{
	int dfd, src, dst;
	const char *base = strrchr(rel, '/');

	if (rep->export_root < 0)
		return;
	base = base ? base + 1 : rel;
	dfd = export_dir_for(rep, rel);
	if (dfd < 0) {
		rep->export_errors++;
		return;
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(upper_dir, name, target, sizeof target - 1);
		if (n >= 0) {
			target[n] = '\0';
			unlinkat(dfd, base, 0);
			if (symlinkat(target, dfd, base) == 0)
				rep->exported++;
			else
				rep->export_errors++;
		}
		close(dfd);
		return;
	}
	/* Source first: an export is complete or absent, never a truncated copy. */
	src = open_upper(upper_dir, name, O_RDONLY);
	dst = src < 0 ? -1
		      : openat(dfd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			       st->st_mode & 0777);
	if (src >= 0 && dst >= 0) {
		char buf[65536];
		ssize_t n;
		int ok = 1;
		while ((n = read(src, buf, sizeof buf)) > 0)
			if (al_write_all(dst, buf, (size_t)n) < 0) {
				ok = 0;
				break;
			}
		if (n < 0)
			ok = 0;
		fchmod(dst, st->st_mode & 0777);
		if (ok) {
			rep->exported++;
		} else {
			unlinkat(dfd, base, 0); /* no partial copy left behind */
			rep->export_errors++;
		}
	} else {
		rep->export_errors++;
	}
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	close(dfd);
}

__attribute__((noinline)) static bool same_file(struct report *rep, int upper_dir, int lower_dir,
						 const char *name)
{
	int a = open_upper(upper_dir, name, O_RDONLY);
	int b = openat(lower_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	bool same = a >= 0 && b >= 0 && same_content(rep, a, b);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return same;
}

__attribute__((noinline)) static bool same_link(int upper_dir, int lower_dir, const char *name)
{
	char t1[PATH_MAX], t2[PATH_MAX];
	ssize_t n1 = readlinkat(upper_dir, name, t1, sizeof t1);
	ssize_t n2 = readlinkat(lower_dir, name, t2, sizeof t2);
	return n1 == n2 && n1 >= 0 && memcmp(t1, t2, (size_t)n1) == 0;
}

__attribute__((noinline)) static void list_lower_as_deleted(struct report *rep, int lower_dir, int upper_dir,
				  const char *prefix)
{
	int fd = fcntl(lower_dir, F_DUPFD_CLOEXEC, 3);
	DIR *d;
	struct dirent *de;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char rel[PATH_MAX];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(upper_dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue; /* replaced, reported from the upper side */
		snprintf(rel, sizeof rel, "%s%s", prefix, de->d_name);
		add_entry(rep, CH_DELETED, rel, 0, "");
	}
	closedir(d);
}

/* rep->path holds the current directory's path (relative, "" or ending in
 * '/'); entries are appended and the length restored after each. */
static void walk(struct report *rep, int upper_dir, int lower_dir, int depth)
{
	int fd;
	DIR *d;
	struct dirent *de;
	size_t base = strlen(rep->path);

	fd = fcntl(upper_dir, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st, lst;
		const char *rel = rep->path;
		bool in_lower;

		rep->path[base] = '\0';
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(upper_dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (base + strlen(de->d_name) + 2 > PATH_MAX) {
			rep->omitted++;
			continue;
		}
		strcpy(rep->path + base, de->d_name);
		in_lower = lower_dir >= 0 &&
			   fstatat(lower_dir, de->d_name, &lst, AT_SYMLINK_NOFOLLOW) == 0;

		/* A whiteout: the workload deleted the original. */
		if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
			if (in_lower)
				add_entry(rep, CH_DELETED, rel, 0, type_of(lst.st_mode));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = open_upper(upper_dir, de->d_name, O_RDONLY | O_DIRECTORY);
			int lsub = -1;
			char opaque[4] = {0};
			bool is_opaque = false;
			if (sub < 0) {
				rep->omitted++; /* could not look inside: the report says so */
				continue;
			}
			is_opaque = fgetxattr(sub, "user.overlay.opaque", opaque, sizeof opaque) > 0 &&
				    opaque[0] == 'y';
			if (in_lower && S_ISDIR(lst.st_mode))
				lsub = openat(lower_dir, de->d_name,
					      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			else if (in_lower)
				add_entry(rep, CH_DELETED, rel, 0, type_of(lst.st_mode));
			if (lsub < 0)
				add_entry(rep, CH_CREATED, rel, 0, "dir");
			strcat(rep->path, "/");
			if (lsub >= 0 && is_opaque) {
				/* Deleted and made anew: the old contents are gone. */
				list_lower_as_deleted(rep, lsub, sub, rep->path);
				close(lsub);
				lsub = -1;
			}
			if (depth < MAX_DEPTH)
				walk(rep, sub, lsub, depth + 1);
			else
				rep->omitted++; /* deeper than we walk: said in the report */
			if (lsub >= 0)
				close(lsub);
			close(sub);
			continue;
		}
		if (!in_lower) {
			add_entry(rep, CH_CREATED, rel, (uint64_t)st.st_size, type_of(st.st_mode));
			if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
				export_entry(rep, upper_dir, de->d_name, rel, &st);
			continue;
		}
		/* Present in both: copied up. Report it only if it really differs. */
		bool changed = (st.st_mode & S_IFMT) != (lst.st_mode & S_IFMT) ||
			       st.st_size != lst.st_size || (st.st_mode & 07777) != (lst.st_mode & 07777);
		if (!changed && S_ISREG(st.st_mode))
			changed = !same_file(rep, upper_dir, lower_dir, de->d_name);
		else if (!changed && S_ISLNK(st.st_mode))
			changed = !same_link(upper_dir, lower_dir, de->d_name);
		if (changed) {
			add_entry(rep, CH_MODIFIED, rel, (uint64_t)st.st_size, type_of(st.st_mode));
			if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
				export_entry(rep, upper_dir, de->d_name, rel, &st);
		}
	}
	rep->path[base] = '\0';
	closedir(d);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return strcmp(x->path, y->path);
}

static void print_path(FILE *f, const char *p)
{
	al_escape_fputs(f, p); /* hostile names: the escaping all human output uses */
}

int al_workspace_report(struct al_supervisor *s, struct al_error *err)
{
	struct report rep = {.export_root = -1};
	_cleanup_close_ int lower = -1;
	struct al_buf b;
	struct al_json j;
	size_t i, counts[3] = {0};
	static const char *const names[] = {"created", "modified", "deleted"};
	int k, r = 0;

	lower = open(s->spec->workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lower < 0)
		return al_error_errno(err, "workspace", "opening %s", s->spec->workspace);
	if (s->spec->export_dir) {
		char tmp[PATH_MAX];
		snprintf(tmp, sizeof tmp, "%s", s->spec->export_dir);
		for (char *p = tmp + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				mkdir(tmp, 0755);
				*p = '/';
			}
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return al_error_errno(err, "workspace", "creating export directory %s", tmp);
		rep.export_root = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rep.export_root < 0)
			return al_error_errno(err, "workspace", "opening export directory %s", tmp);
	}
	rep.path = calloc(1, PATH_MAX);
	rep.cmp_a = malloc(CMP_BUF);
	rep.cmp_b = malloc(CMP_BUF);
	if (rep.path == NULL) {
		free(rep.cmp_a);
		free(rep.cmp_b);
		if (rep.export_root >= 0)
			close(rep.export_root);
		return al_error_set(err, ENOMEM, "workspace", "walking the changes");
	}
	walk(&rep, s->upper_fd, lower, 0);
	free(rep.path);
	free(rep.cmp_a);
	free(rep.cmp_b);
	if (rep.n > 1)
		qsort(rep.v, rep.n, sizeof *rep.v, cmp_entry);
	for (i = 0; i < rep.n; i++)
		counts[rep.v[i].kind]++;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	for (k = 0; k < 3; k++) {
		al_json_key(&j, names[k]);
		al_json_arr_begin(&j);
		for (i = 0; i < rep.n; i++) {
			if ((int)rep.v[i].kind != k)
				continue;
			al_json_obj_begin(&j);
			al_json_kv_str(&j, "path", rep.v[i].path);
			if (k != CH_DELETED)
				al_json_kv_uint(&j, "size", rep.v[i].size);
			if (rep.v[i].type[0])
				al_json_kv_str(&j, "type", rep.v[i].type);
			al_json_obj_end(&j);
		}
		al_json_arr_end(&j);
	}
	al_json_kv_uint(&j, "omitted", rep.omitted);
	if (rep.export_root >= 0) {
		al_json_kv_str(&j, "exported_to", s->spec->export_dir);
		al_json_kv_uint(&j, "exported", rep.exported);
		al_json_kv_int(&j, "export_errors", rep.export_errors);
	}
	al_json_obj_end(&j);
	{
		struct al_error e = {0};
		if (al_evlog_append(s->log, "workspace", b.data, &e) < 0)
			r = al_error_set(err, e.code, "workspace", "recording the change report: %s", e.msg);
	}
	al_buf_free(&b);

	if (!s->spec->quiet) {
		fprintf(stderr, "airlock: workspace changes: %zu created, %zu modified, %zu deleted\n",
			counts[CH_CREATED], counts[CH_MODIFIED], counts[CH_DELETED]);
		for (i = 0; i < rep.n; i++) {
			const struct entry *e = &rep.v[i];
			fputs(e->kind == CH_CREATED ? "  + " : e->kind == CH_MODIFIED ? "  ~ " : "  - ", stderr);
			print_path(stderr, e->path);
			if (e->kind != CH_DELETED && strcmp(e->type, "dir") != 0)
				fprintf(stderr, " (%llu bytes)", (unsigned long long)e->size);
			else if (strcmp(e->type, "dir") == 0)
				fputs("/", stderr);
			fputc('\n', stderr);
		}
		if (rep.omitted)
			fprintf(stderr, "  ... %zu more not listed\n", rep.omitted);
		if (rep.export_root >= 0)
			fprintf(stderr, "airlock: exported %zu changed file(s) to %s%s\n", rep.exported,
				s->spec->export_dir, rep.export_errors ? " (with errors)" : "");
	}
	if (rep.export_root >= 0)
		close(rep.export_root);
	if (rep.export_errors && r == 0)
		r = al_error_set(err, EIO, "workspace", "%d file(s) could not be exported", rep.export_errors);
	for (i = 0; i < rep.n; i++)
		free(rep.v[i].path);
	free(rep.v);
	return r;
}
