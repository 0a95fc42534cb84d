/* The workspace change report and --export. The overlay's upper layer
 * holds exactly what the workload changed; the supervisor walks it through
 * the directory fd the init handed over, comparing with the host original
 * (the lower layer), and never follows a link the workload made: every
 * lookup is relative to a directory fd with O_NOFOLLOW. The export is built
 * under a temporary name beside the target, in the parent opened before the
 * clone (hostpaths.c), and renamed into place only when it is complete. It
 * exports exactly the reported files, keeps holes, links hard links, never
 * carries setuid/setgid bits, xattrs or device nodes, and stops at the
 * run's deadline and at limits.disk bytes. */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#include "util/timeutil.h"

#define MAX_REPORTED 10000
#define MAX_DEPTH 64
#define CMP_BUF 65536

enum change { CH_CREATED, CH_MODIFIED, CH_DELETED };

struct entry {
	enum change kind;
	char *path;
	uint64_t size;
	const char *type;     /* "file", "dir", "symlink", "special" */
	const char *not_exported; /* with --export: why this entry was not exported, or NULL */
	bool exported;
};

/* An exported file with more than one link: later names become links to it. */
struct linked {
	dev_t dev;
	ino_t ino;
	char *rel;
};

struct report {
	char *cmp_a, *cmp_b; /* CMP_BUF each: compare buffers, on the heap */
	char *path;          /* PATH_MAX: the walk's current path */
	struct entry *v;
	size_t n, cap;
	size_t omitted;
	uint64_t deadline_ns;  /* the run's end (0: none): the report stops there */
	const char *stopped;   /* why the walk stopped early: "timeout", "signal", or NULL */
	int export_root;       /* the temporary export directory; -1 without --export */
	size_t exported;
	int export_errors;
	size_t export_skipped;  /* reported, not exported: specials, limits, stop */
	size_t export_omitted;  /* changed files beyond the report's cap: not exported */
	uint64_t export_bytes, export_max_bytes;
	const char *export_stopped; /* "timeout", "signal", "limits.disk bytes", or NULL */
	struct linked *links;
	size_t n_links, cap_links;
};

static void add_entry(struct report *rep, enum change kind, const char *path, uint64_t size,
		      const char *type);

/* Is the run out of time, or has the caller asked it to end? Checked
 * between files and between chunks: the timeout bounds the whole run. */
static bool must_stop(struct report *rep)
{
	sigset_t pend;
	if (rep->stopped)
		return true;
	if (rep->deadline_ns && al_mono_ns() >= rep->deadline_ns)
		rep->stopped = "timeout";
	else if (sigpending(&pend) == 0 && (sigismember(&pend, SIGINT) == 1 || sigismember(&pend, SIGTERM) == 1 ||
					    sigismember(&pend, SIGHUP) == 1 || sigismember(&pend, SIGQUIT) == 1))
		rep->stopped = "signal";
	return rep->stopped != NULL;
}

static struct entry *add_entry_ret(struct report *rep, enum change kind, const char *path,
				   uint64_t size, const char *type)
{
	struct entry *e;
	if (rep->n >= MAX_REPORTED) {
		rep->omitted++;
		return NULL;
	}
	if (rep->n == rep->cap) {
		size_t ncap = rep->cap ? rep->cap * 2 : 32;
		struct entry *n = realloc(rep->v, ncap * sizeof *n);
		if (n == NULL) {
			rep->omitted++;
			return NULL;
		}
		rep->v = n;
		rep->cap = ncap;
	}
	e = &rep->v[rep->n];
	*e = (struct entry){.kind = kind, .path = strdup(path), .size = size, .type = type};
	if (e->path == NULL) {
		rep->omitted++;
		return NULL;
	}
	rep->n++;
	return e;
}

static void add_entry(struct report *rep, enum change kind, const char *path, uint64_t size,
		      const char *type)
{
	(void)add_entry_ret(rep, kind, path, size, type);
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
		if (must_stop(rep))
			return false; /* the caller sees rep->stopped */
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

/* Copy src to dst keeping holes: only the data extents are read and
 * written, then the size is set. Data bytes count against the export's
 * budget. 0, -errno, or 1 when the export must stop here. */
static int copy_extents(struct report *rep, int src, int dst, off_t size)
{
	char *buf = rep->cmp_a;
	off_t off = 0;

	if (buf == NULL)
		return -ENOMEM;
	while (off < size) {
		off_t data = lseek(src, off, SEEK_DATA), hole;
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole is left */
			if (errno != EINVAL)
				return -errno;
			data = off; /* no SEEK_DATA on this file system: all of it is data */
			hole = size;
		} else {
			hole = lseek(src, data, SEEK_HOLE);
			if (hole < 0)
				return -errno;
		}
		if (hole > size)
			hole = size;
		while (data < hole) {
			size_t want = (size_t)(hole - data) < CMP_BUF ? (size_t)(hole - data) : CMP_BUF;
			ssize_t n;
			if (must_stop(rep)) {
				rep->export_stopped = rep->stopped;
				return 1;
			}
			if (rep->export_bytes + want > rep->export_max_bytes) {
				rep->export_stopped = "limits.disk bytes";
				return 1;
			}
			n = pread(src, buf, want, data);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EIO; /* shorter than its size: nothing runs any more, so never */
			for (ssize_t w = 0; w < n;) {
				ssize_t k = pwrite(dst, buf + w, (size_t)(n - w), data + w);
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					return k < 0 ? -errno : -EIO;
				w += k;
			}
			data += n;
			rep->export_bytes += (uint64_t)n;
		}
		off = hole;
	}
	return ftruncate(dst, size) < 0 ? -errno : 0;
}

static const char *remember_link(struct report *rep, const struct stat *st, const char *rel)
{
	if (rep->n_links == rep->cap_links) {
		size_t ncap = rep->cap_links ? rep->cap_links * 2 : 16;
		struct linked *n = realloc(rep->links, ncap * sizeof *n);
		if (n == NULL)
			return NULL;
		rep->links = n;
		rep->cap_links = ncap;
	}
	rep->links[rep->n_links].rel = strdup(rel);
	if (rep->links[rep->n_links].rel == NULL)
		return NULL;
	rep->links[rep->n_links].dev = st->st_dev;
	rep->links[rep->n_links].ino = st->st_ino;
	return rep->links[rep->n_links++].rel;
}

static const char *find_link(const struct report *rep, const struct stat *st)
{
	for (size_t i = 0; i < rep->n_links; i++)
		if (rep->links[i].dev == st->st_dev && rep->links[i].ino == st->st_ino)
			return rep->links[i].rel;
	return NULL;
}

/* A second name of a file already exported becomes a hard link to it: the
 * bytes are exported (and counted) once. */
static bool export_as_link(struct report *rep, int dfd, const char *base, const char *first)
{
	const char *fbase = strrchr(first, '/');
	int fdir = export_dir_for(rep, first);
	bool ok;

	if (fdir < 0)
		return false;
	fbase = fbase ? fbase + 1 : first;
	ok = linkat(fdir, fbase, dfd, base, 0) == 0;
	close(fdir);
	return ok;
}

static void not_exported(struct report *rep, struct entry *e, const char *why, bool error)
{
	e->not_exported = why;
	if (error)
		rep->export_errors++;
	else
		rep->export_skipped++;
}

/* Export one reported entry (e) into the temporary export directory. */
__attribute__((noinline)) static void export_entry(struct report *rep, int upper_dir, const char *name,
						    const char *rel, const struct stat *st, struct entry *e)
{
	int dfd, src, dst, r;
	const char *base = strrchr(rel, '/'), *first;

	if (rep->export_root < 0)
		return;
	if (e == NULL) {
		/* beyond the report's cap: exactly what is reported is exported */
		if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode))
			rep->export_omitted++;
		return;
	}
	if (!S_ISREG(st->st_mode) && !S_ISLNK(st->st_mode)) {
		not_exported(rep, e, "special file (devices, FIFOs and sockets are never exported)", false);
		return;
	}
	if (rep->export_stopped || must_stop(rep)) {
		if (!rep->export_stopped)
			rep->export_stopped = rep->stopped;
		not_exported(rep, e, rep->export_stopped, false);
		return;
	}
	base = base ? base + 1 : rel;
	dfd = export_dir_for(rep, rel);
	if (dfd < 0) {
		not_exported(rep, e, "could not create its directory", true);
		return;
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(upper_dir, name, target, sizeof target - 1);
		if (n >= 0) {
			target[n] = '\0';
			if (symlinkat(target, dfd, base) == 0) {
				rep->exported++;
				e->exported = true;
			} else {
				not_exported(rep, e, "could not create the link", true);
			}
		} else {
			not_exported(rep, e, "could not read the link", true);
		}
		close(dfd);
		return;
	}
	if (st->st_nlink > 1 && (first = find_link(rep, st)) != NULL) {
		if (export_as_link(rep, dfd, base, first)) {
			rep->exported++;
			e->exported = true;
		} else {
			not_exported(rep, e, "could not link it to its other name", true);
		}
		close(dfd);
		return;
	}
	/* Source first: an export is complete or absent, never a truncated copy.
	 * O_EXCL: the directory is new and ours; nothing can already be there. */
	src = open_upper(upper_dir, name, O_RDONLY | O_NONBLOCK);
	if (src >= 0) {
		/* what was opened is what was reported: never a FIFO or another file */
		struct stat now;
		if (fstat(src, &now) < 0 || !S_ISREG(now.st_mode) || now.st_ino != st->st_ino ||
		    now.st_dev != st->st_dev) {
			close(src);
			src = -1;
		}
	}
	dst = src < 0 ? -1
		      : openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (src < 0 || dst < 0) {
		not_exported(rep, e, src < 0 ? "could not read it" : "could not create it", true);
	} else {
		uint64_t bytes_before = rep->export_bytes;
		r = copy_extents(rep, src, dst, st->st_size);
		/* permission bits only: never setuid, setgid or sticky */
		if (r == 0 && fchmod(dst, st->st_mode & 0777) < 0)
			r = -errno;
		if (r == 0) {
			rep->exported++;
			e->exported = true;
			if (st->st_nlink > 1)
				remember_link(rep, st, rel); /* without memory: copied again later */
		} else {
			unlinkat(dfd, base, 0); /* no partial copy left behind */
			rep->export_bytes = bytes_before; /* nor counted */
			if (r == 1)
				not_exported(rep, e, rep->export_stopped, false);
			else
				not_exported(rep, e, "copy failed", true);
		}
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

		if (must_stop(rep))
			break; /* said in the report: it is incomplete */

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
			struct entry *e = add_entry_ret(rep, CH_CREATED, rel, (uint64_t)st.st_size,
							type_of(st.st_mode));
			export_entry(rep, upper_dir, de->d_name, rel, &st, e);
			continue;
		}
		/* Present in both: copied up. Report it only if it really differs. */
		bool changed = (st.st_mode & S_IFMT) != (lst.st_mode & S_IFMT) ||
			       st.st_size != lst.st_size || (st.st_mode & 07777) != (lst.st_mode & 07777);
		if (!changed && S_ISREG(st.st_mode))
			changed = !same_file(rep, upper_dir, lower_dir, de->d_name);
		else if (!changed && S_ISLNK(st.st_mode))
			changed = !same_link(upper_dir, lower_dir, de->d_name);
		if (rep->stopped)
			break; /* the comparison did not finish: nothing said about it */
		if (changed) {
			struct entry *e = add_entry_ret(rep, CH_MODIFIED, rel, (uint64_t)st.st_size,
							type_of(st.st_mode));
			export_entry(rep, upper_dir, de->d_name, rel, &st, e);
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

/* The temporary export directory beside the target: its name says what it
 * is, and it keeps that name unless the export completes. */
static int export_begin(struct al_supervisor *s, struct report *rep, char *tmp, size_t len,
			struct al_error *err)
{
	int n = snprintf(tmp, len, "%s.incomplete-%s", s->export_base, s->run_id);
	if (n < 0 || (size_t)n >= len || n > NAME_MAX)
		return al_error_set(err, ENAMETOOLONG, "workspace", "export: %s.incomplete-%s",
				    s->export_path, s->run_id);
	if (mkdirat(s->export_parent_fd, tmp, 0755) < 0)
		return al_error_errno(err, "workspace", "export: creating %s beside %s", tmp, s->export_path);
	rep->export_root = openat(s->export_parent_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rep->export_root < 0)
		return al_error_errno(err, "workspace", "export: opening %s", tmp);
	return 0;
}

static bool is_exportable(const struct entry *e)
{
	return e->kind != CH_DELETED && strcmp(e->type, "dir") != 0;
}

int al_workspace_report(struct al_supervisor *s, struct al_error *err)
{
	struct report rep = {.export_root = -1};
	_cleanup_close_ int lower = -1;
	struct al_buf b;
	struct al_json j;
	size_t i, counts[3] = {0};
	static const char *const names[] = {"created", "modified", "deleted"};
	char tmpname[NAME_MAX + 1] = "";
	const char *export_incomplete = NULL; /* why the export is not in place, or NULL */
	bool exporting = s->spec->export_dir != NULL && s->export_parent_fd >= 0;
	int k, r = 0;

	if (s->spec->limits.timeout_ns)
		rep.deadline_ns = s->t_start_ns + s->spec->limits.timeout_ns;
	rep.export_max_bytes = s->spec->limits.disk;
	lower = open(s->spec->workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lower < 0)
		return al_error_errno(err, "workspace", "opening %s", s->spec->workspace);
	if (s->spec->export_dir && !exporting)
		return al_error_set(err, EBADF, "workspace", "export: its directory was not opened before the run");
	if (exporting) {
		r = export_begin(s, &rep, tmpname, sizeof tmpname, err);
		if (r < 0)
			return r;
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
	for (i = 0; i < rep.n_links; i++)
		free(rep.links[i].rel);
	free(rep.links);
	if (rep.n > 1)
		qsort(rep.v, rep.n, sizeof *rep.v, cmp_entry);
	for (i = 0; i < rep.n; i++)
		counts[rep.v[i].kind]++;
	if (rep.stopped && !strcmp(rep.stopped, "timeout"))
		s->report_timed_out = true;

	/* In place only when complete: everything reported was exported (or is
	 * a special file, which never is) and nothing changed beyond the cap. */
	if (exporting) {
		if (rep.stopped)
			export_incomplete = rep.stopped;
		else if (rep.export_stopped)
			export_incomplete = rep.export_stopped;
		else if (rep.export_errors)
			export_incomplete = "files could not be exported";
		else if (rep.export_omitted || rep.omitted)
			export_incomplete = "changes beyond the report's cap";
		if (!export_incomplete && fsync(rep.export_root) < 0)
			export_incomplete = "could not sync the export";
		if (!export_incomplete &&
		    renameat(s->export_parent_fd, tmpname, s->export_parent_fd, s->export_base) < 0)
			export_incomplete = errno == ENOTEMPTY || errno == EEXIST
					    ? "the target appeared during the run and is not empty"
					    : "could not rename it into place";
	}

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	for (k = 0; k < 3; k++) {
		al_json_key(&j, names[k]);
		al_json_arr_begin(&j);
		for (i = 0; i < rep.n; i++) {
			const struct entry *e = &rep.v[i];
			if ((int)e->kind != k)
				continue;
			al_json_obj_begin(&j);
			al_json_kv_str(&j, "path", e->path);
			if (k != CH_DELETED)
				al_json_kv_uint(&j, "size", e->size);
			if (e->type[0])
				al_json_kv_str(&j, "type", e->type);
			if (exporting && is_exportable(e)) {
				al_json_kv_bool(&j, "exported", e->exported);
				if (!e->exported)
					al_json_kv_str(&j, "not_exported", e->not_exported ? e->not_exported
											   : rep.stopped ? rep.stopped : "unknown");
			}
			al_json_obj_end(&j);
		}
		al_json_arr_end(&j);
	}
	al_json_kv_uint(&j, "omitted", rep.omitted);
	if (rep.stopped)
		al_json_kv_str(&j, "incomplete", rep.stopped);
	if (exporting) {
		al_json_kv_str(&j, "exported_to", s->spec->export_dir);
		al_json_kv_uint(&j, "exported", rep.exported);
		al_json_kv_int(&j, "export_errors", rep.export_errors);
		al_json_kv_uint(&j, "export_skipped", rep.export_skipped);
		al_json_kv_uint(&j, "export_omitted", rep.export_omitted);
		al_json_kv_uint(&j, "exported_bytes", rep.export_bytes);
		al_json_kv_bool(&j, "export_complete", export_incomplete == NULL);
		if (export_incomplete) {
			al_json_kv_str(&j, "export_incomplete", export_incomplete);
			al_json_kv_str(&j, "export_partial", tmpname);
		}
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
			if (exporting && is_exportable(e) && !e->exported)
				fprintf(stderr, " [not exported: %s]",
					e->not_exported ? e->not_exported : rep.stopped ? rep.stopped : "unknown");
			fputc('\n', stderr);
		}
		if (rep.omitted)
			fprintf(stderr, "  ... %zu more not listed%s\n", rep.omitted,
				exporting ? " (and not exported)" : "");
		if (rep.stopped)
			fprintf(stderr, "airlock: the change report is incomplete (%s)\n", rep.stopped);
		if (exporting && !export_incomplete) {
			fprintf(stderr, "airlock: exported %zu changed file(s) to ", rep.exported);
			print_path(stderr, s->export_path);
			fputc('\n', stderr);
		} else if (exporting) {
			fprintf(stderr, "airlock: export INCOMPLETE (%s): %zu file(s) left in ", export_incomplete,
				rep.exported);
			print_path(stderr, tmpname);
			fputs(" beside ", stderr);
			print_path(stderr, s->export_path);
			fputs(", not renamed into place\n", stderr);
		}
	}
	if (rep.export_root >= 0)
		close(rep.export_root);
	if (rep.export_errors && r == 0)
		r = al_error_set(err, EIO, "workspace", "%d file(s) could not be exported", rep.export_errors);
	else if (export_incomplete && r == 0)
		r = al_error_set(err, EIO, "workspace", "the export is incomplete: %s", export_incomplete);
	for (i = 0; i < rep.n; i++)
		free(rep.v[i].path);
	free(rep.v);
	return r;
}

/* Rootless, the user namespace maps only the caller's uid and gid. The
 * overlay copies a file up (on any change to it, or to anything inside a
 * directory) with its owner and group: one the namespace cannot map makes
 * that fail with EOVERFLOW inside the sandbox, long after the run started.
 * Say it up front, naming the file and what to do. */
struct owner_scan {
	uid_t uid;
	gid_t gid;
	char path[PATH_MAX];
	struct stat bad;
	bool found;
};

static int scan_owners(struct owner_scan *sc, int dirfd, size_t len, int depth)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL && !sc->found) {
		struct stat st;
		size_t nl = strlen(de->d_name);
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (len + nl + 2 >= sizeof sc->path) {
			r = -ENAMETOOLONG;
			break;
		}
		sc->path[len] = '/';
		memcpy(sc->path + len + 1, de->d_name, nl + 1);
		if (st.st_uid != sc->uid || st.st_gid != sc->gid) {
			sc->bad = st;
			sc->found = true;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				continue; /* unreadable to the caller: unreadable inside too */
			r = depth < 1024 ? scan_owners(sc, sub, len + 1 + nl, depth + 1) : -ELOOP;
			close(sub);
			if (r < 0)
				break;
		}
		sc->path[len] = '\0';
	}
	closedir(d);
	return r;
}

int al_workspace_check_owners(const char *workspace, uid_t uid, gid_t gid, struct al_error *err)
{
	_cleanup_free_ struct owner_scan *sc = calloc(1, sizeof *sc);
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (!sc)
		return al_error_set(err, ENOMEM, "workspace", "checking owners");
	sc->uid = uid;
	sc->gid = gid;
	fd = open(workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return al_error_errno(err, "workspace", "opening workspace %s", workspace);
	if (st.st_uid != uid || st.st_gid != gid) {
		sc->bad = st;
		sc->found = true;
	} else {
		r = scan_owners(sc, fd, 0, 0);
		if (r < 0)
			return al_error_set(err, -r, "workspace", "checking the owners of the files in %s%s",
					    workspace, sc->path);
	}
	if (!sc->found)
		return 0;
	return al_error_set(err, EPERM, "workspace",
			    "workspace %s%s is owned by uid %u gid %u, but a rootless sandbox maps only your "
			    "uid %u and gid %u: the workload could not change it (EOVERFLOW). Give the "
			    "workspace to yourself (chown -R %u:%u), work on a copy, or run airlock as root",
			    workspace, sc->path, (unsigned)sc->bad.st_uid, (unsigned)sc->bad.st_gid,
			    (unsigned)uid, (unsigned)gid, (unsigned)uid, (unsigned)gid);
}
