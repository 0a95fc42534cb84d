/* The plan-time check of every host path the supervisor will open, create
 * or copy to -- --export, the event log and its stream files, the sink
 * spool -- against the places the sandbox can write (rw volumes, the
 * workspace), done once before the clone. Also opens the export's parent
 * directory, while no sandbox exists, and keeps it for the export. */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/json.h"
#include "util/pathsafe.h"

struct places {
	struct al_place *v;
	char **what;
	size_t n, cap;
};

static void places_free(struct places *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].fd >= 0)
			close(p->v[i].fd);
		free(p->v[i].fs_path);
		free(p->what[i]);
	}
	free(p->v);
	free(p->what);
	p->n = 0;
}

static int place_add(struct places *p, const char *host, const char *kind, struct al_error *err)
{
	struct stat st;
	int fd;

	if (p->n >= p->cap)
		return al_error_set(err, E2BIG, "paths", "too many writable places to check");
	fd = open(host, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return al_error_errno(err, "paths", "opening %s %s", kind, host);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return al_error_errno(err, "paths", "%s %s", kind, host);
	}
	if (!S_ISDIR(st.st_mode)) {
		close(fd);
		fd = -1;
	}
	if (asprintf(&p->what[p->n], "%s %s", kind, host) < 0) {
		if (fd >= 0)
			close(fd);
		return al_error_set(err, ENOMEM, "paths", "%s %s", kind, host);
	}
	p->v[p->n] =
	    (struct al_place){.dev = st.st_dev, .ino = st.st_ino, .fd = fd, .what = p->what[p->n]};
	/* Where it lies in its file system: then a bind mount of a directory
	 * inside it, elsewhere, is known to be inside it too. Without it (no
	 * mount id from statx, no mountinfo) the walk up through ".." remains. */
	if (fd >= 0)
		(void)al_place_locate(&p->v[p->n]);
	p->n++;
	return 0;
}

/* log.path with {run} expanded, as the event log will name it. */
static char *expand_run(const char *tmpl, const char *run)
{
	struct al_buf b;
	const char *p = tmpl, *q;

	al_buf_init(&b);
	while ((q = strstr(p, "{run}")) != NULL) {
		al_buf_append(&b, p, (size_t)(q - p));
		al_buf_puts(&b, run);
		p = q + 5;
	}
	al_buf_puts(&b, p);
	if (b.oom || !b.data) {
		al_buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* A file the supervisor will create (O_EXCL) at path: the directory it is
 * created in, and every lookup on the way, must be out of the sandbox's reach. */
static int check_file_path(const struct places *pl, const char *what, const char *path,
                           struct al_error *err)
{
	int fd = -1, r;
	r = al_path_resolve_checked(path, AL_PATH_PARENT, pl->v, pl->n, what, &fd, NULL, err);
	if (fd >= 0)
		close(fd);
	return r;
}

static int check_dir_path(const struct places *pl, const char *what, const char *path,
                          struct al_error *err)
{
	int fd = -1, r;
	r = al_path_resolve_checked(path, 0, pl->v, pl->n, what, &fd, NULL, err);
	if (fd >= 0)
		close(fd);
	return r;
}

static int check_log(const struct al_spec *spec, const char *run_id, const struct places *pl,
                     struct al_error *err)
{
	_cleanup_free_ char *log = NULL, *spool_dflt = NULL;
	int r;

	if (spec->log.path) {
		static const char *const suffix[] = {"", ".stdout", ".stderr"};
		log = expand_run(spec->log.path, run_id);
		if (!log)
			return al_error_set(err, ENOMEM, "paths", "log.path");
		for (size_t i = 0; i < AL_ARRAY_SIZE(suffix); i++) {
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "%s%s", log, suffix[i]) < 0)
				return al_error_set(err, ENOMEM, "paths", "log.path");
			r = check_file_path(pl, i == 0 ? "log.path" : "the log's stream file", p,
			                    err);
			if (r < 0)
				return r;
		}
	}
	if (spec->log.sink && spec->log.on_sink_failure == AL_SINK_FAILURE_SPOOL) {
		if (spec->log.spool_dir)
			return check_dir_path(pl, "log.spool_dir", spec->log.spool_dir, err);
		if (log) {
			spool_dflt = strdup(log);
			if (!spool_dflt)
				return al_error_set(err, ENOMEM, "paths", "spool");
			return check_dir_path(pl, "the sink spool directory", dirname(spool_dflt),
			                      err);
		}
	}
	return 0;
}

/* --export: resolve (creating) its parent, hold it, and require the target
 * to be absent or an empty directory that holds no writable place. */
static int open_export(struct al_supervisor *s, const struct places *pl, struct al_error *err)
{
	const char *base = NULL;
	char *path;
	size_t len;
	struct stat st;
	int parent = -1, r;

	path = strdup(s->spec->export_dir);
	if (!path)
		return al_error_set(err, ENOMEM, "paths", "--export");
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	r = al_path_resolve_checked(path, AL_PATH_PARENT | AL_PATH_CREATE, pl->v, pl->n, "--export",
	                            &parent, &base, err);
	if (r < 0) {
		free(path);
		return r;
	}
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		_cleanup_close_ int t = -1;
		if (!S_ISDIR(st.st_mode)) {
			r = al_error_set(err, EEXIST, "paths",
			                 "--export %s exists and is not a directory (it must not "
			                 "exist, or be an "
			                 "empty directory)",
			                 path);
			goto fail;
		}
		t = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0) {
			r = al_error_errno(err, "paths", "--export %s", path);
			goto fail;
		}
		r = al_path_beneath(t, pl->v, pl->n);
		if (r >= 0) {
			r = al_error_set(err, EPERM, "paths",
			                 "--export %s is inside %s, which the sandbox can write",
			                 path, pl->v[r].what);
			goto fail;
		}
		for (size_t i = 0; i < pl->n; i++) {
			int c = al_path_contains(t, &pl->v[i]);
			if (c != 0) {
				r = c < 0
				        ? al_error_set(err, -c, "paths", "--export %s: checking %s",
				                       path, pl->v[i].what)
				        : al_error_set(
				              err, EPERM, "paths",
				              "--export %s contains %s: the export must lie apart "
				              "from it",
				              path, pl->v[i].what);
				goto fail;
			}
		}
		{
			/* an empty directory only: the export replaces it whole */
			int d = fcntl(t, F_DUPFD_CLOEXEC, 3);
			DIR *dir = d >= 0 ? fdopendir(d) : NULL;
			struct dirent *de;
			bool empty = true;
			if (!dir) {
				if (d >= 0)
					close(d);
				r = al_error_errno(err, "paths", "--export %s: listing it", path);
				goto fail;
			}
			while ((de = readdir(dir)) != NULL)
				if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
					empty = false;
			closedir(dir);
			if (!empty) {
				r = al_error_set(
				    err, ENOTEMPTY, "paths",
				    "--export %s is not empty (it must not exist, or be an empty "
				    "directory: the export replaces it once complete)",
				    path);
				goto fail;
			}
		}
	} else if (errno != ENOENT) {
		r = al_error_errno(err, "paths", "--export %s", path);
		goto fail;
	}
	s->export_parent_fd = parent;
	s->export_path = path;
	s->export_base = path + (base - path);
	return 0;
fail:
	close(parent);
	free(path);
	return r;
}

int al_host_paths_check(struct al_supervisor *s, struct al_error *err)
{
	const struct al_spec *spec = s->spec;
	struct places pl = {.cap = spec->n_volumes + 1};
	int r = 0;

	pl.v = calloc(pl.cap, sizeof *pl.v);
	pl.what = calloc(pl.cap, sizeof *pl.what);
	if (!pl.v || !pl.what) {
		free(pl.v);
		free(pl.what);
		return al_error_set(err, ENOMEM, "paths", "checking host paths");
	}

	for (size_t i = 0; i < spec->n_volumes && r == 0; i++)
		if (spec->volumes[i].rw)
			r = place_add(&pl, spec->volumes[i].host, "rw volume", err);
	if (r == 0 && spec->workspace)
		r = place_add(&pl, spec->workspace, "the workspace", err);
	if (r == 0)
		r = check_log(spec, s->run_id, &pl, err);
	if (r == 0 && spec->export_dir)
		r = open_export(s, &pl, err);
	places_free(&pl);
	if (r == 0 && spec->workspace && s->plan->rootless)
		r = al_workspace_check_owners(spec->workspace, s->plan->host_uid, s->plan->host_gid,
		                              err);
	return r;
}
