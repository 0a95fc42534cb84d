/* The cgroup front end: detects the host's layout (v2, v1, hybrid), picks
 * the back end and where the run's cgroup goes, turns "no writable cgroup"
 * into a refusal that says how to delegate (or rlimits-only mode when the
 * user accepted it), and dispatches every call through the back end table. */
#include "cgroup/cgroup_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fdutil.h"

#define STAGE "cgroup"

static const char *const cg1_names[AL_CG1_N] = {
    [AL_CG1_MEMORY] = "memory",   [AL_CG1_PIDS] = "pids",       [AL_CG1_CPU] = "cpu",
    [AL_CG1_CPUACCT] = "cpuacct", [AL_CG1_FREEZER] = "freezer",
};

void al_cg_dir_init(struct al_cg_dir *d)
{
	memset(d, 0, sizeof *d);
	d->fd = -1;
}

void al_cg_init(struct al_cgroup *cg)
{
	memset(cg, 0, sizeof *cg);
	al_cg_dir_init(&cg->v2);
	for (int i = 0; i < AL_CG1_N; i++) {
		al_cg_dir_init(&cg->dirs[i]);
		cg->alias[i] = -1;
	}
	cg->oom_control_fd = -1;
	cg->oom_eventfd = -1;
	cg->inotify_fd = -1;
	cg->timer_fd = -1;
	cg->event_fd = -1;
}

/* ---- layout detection ---------------------------------------------------- */

static bool is_fs(const char *path, long magic)
{
	struct statfs sfs;
	if (statfs(path, &sfs) < 0)
		return false;
	return (long)sfs.f_type == magic;
}

static bool has_file(const char *dir, const char *file)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof p, "%s/%s", dir, file) >= (int)sizeof p)
		return false;
	return access(p, F_OK) == 0;
}

static bool is_v2_root(const char *dir, bool check_fs_type)
{
	if (!has_file(dir, "cgroup.controllers"))
		return false;
	return !check_fs_type || is_fs(dir, CGROUP2_SUPER_MAGIC);
}

/* A v1 hierarchy has a "tasks" file at its root (v2 never does). */
static bool is_v1_root(const char *dir, bool check_fs_type)
{
	if (!has_file(dir, "tasks"))
		return false;
	return !check_fs_type || is_fs(dir, CGROUP_SUPER_MAGIC);
}

static bool name_has_token(const char *list, const char *tok)
{
	size_t n = strlen(tok);
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, tok, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* v1 controller c: first at root/<name> (systemd and cgroupfs-mount both
 * make that, a symlink when co-mounted), else any directory whose
 * comma-separated name lists it ("cpu,cpuacct"). */
static void find_v1(const char *root, enum al_cg1_ctl c, bool check_fs_type, char *out, size_t n)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *de;

	out[0] = '\0';
	if (snprintf(p, sizeof p, "%s/%s", root, cg1_names[c]) < (int)sizeof p &&
	    is_v1_root(p, check_fs_type)) {
		snprintf(out, n, "%s", p);
		return;
	}
	d = opendir(root);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !name_has_token(de->d_name, cg1_names[c]))
			continue;
		if (snprintf(p, sizeof p, "%s/%s", root, de->d_name) >= (int)sizeof p)
			continue;
		if (is_v1_root(p, check_fs_type)) {
			snprintf(out, n, "%s", p);
			break;
		}
	}
	closedir(d);
}

int al_cg_detect_layout(const char *root, bool check_fs_type, struct al_cg_layout *out,
                        struct al_error *err)
{
	char p[PATH_MAX];
	bool any_v1 = false;

	memset(out, 0, sizeof *out);
	if (access(root, F_OK) < 0)
		return al_error_errno(err, STAGE, "looking for cgroups at %s", root);
	if (is_v2_root(root, check_fs_type)) {
		out->kind = AL_CG_LAYOUT_V2;
		snprintf(out->unified, sizeof out->unified, "%s", root);
		return 0;
	}
	for (int c = 0; c < AL_CG1_N; c++) {
		find_v1(root, (enum al_cg1_ctl)c, check_fs_type, out->v1[c], sizeof out->v1[c]);
		any_v1 |= out->v1[c][0] != '\0';
	}
	if (snprintf(p, sizeof p, "%s/unified", root) < (int)sizeof p &&
	    is_v2_root(p, check_fs_type))
		snprintf(out->unified, sizeof out->unified, "%s", p);
	if (any_v1)
		out->kind = out->unified[0] ? AL_CG_LAYOUT_HYBRID : AL_CG_LAYOUT_V1;
	else if (out->unified[0])
		/* a unified hierarchy below root/unified but no v1 controllers:
		 * all controllers are free to live there; treat it as v2 */
		out->kind = AL_CG_LAYOUT_V2;
	else
		out->kind = AL_CG_LAYOUT_NONE;
	return 0;
}

int al_cg_self_path(const char *proc_cgroup, const char *controller, char *out, size_t n)
{
	const char *line = proc_cgroup;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *c1 = memchr(line, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;

		if (c1 && c2) {
			char list[256];
			size_t ll = (size_t)(c2 - c1 - 1);
			size_t pl = len - (size_t)(c2 + 1 - line);
			bool match;

			if (ll < sizeof list) {
				memcpy(list, c1 + 1, ll);
				list[ll] = '\0';
				if (controller == NULL)
					match = ll == 0 && c1 - line == 1 && line[0] == '0';
				else
					match = name_has_token(list, controller);
				if (match) {
					if (pl == 0 || c2[1] != '/' || pl >= n)
						return -EINVAL;
					memcpy(out, c2 + 1, pl);
					out[pl] = '\0';
					return 0;
				}
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	return -ENOENT;
}

uint64_t al_cg_cpu_quota_us(double cpus, uint64_t period_us)
{
	double q;
	if (!(cpus > 0))
		return 0;
	q = cpus * (double)period_us + 0.5;
	if (q < 1000)
		q = 1000; /* the kernel refuses quotas below 1 ms */
	return (uint64_t)q;
}

void al_cg_fmt_cpu_max(double cpus, char *buf, size_t n)
{
	uint64_t q = al_cg_cpu_quota_us(cpus, 100000);
	if (q == 0)
		snprintf(buf, n, "max 100000");
	else
		snprintf(buf, n, "%llu 100000", (unsigned long long)q);
}

int al_cg_keyed_u64(const char *text, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	const char *line = text;

	while (line && *line) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			char *end;
			unsigned long long v;
			errno = 0;
			v = strtoull(line + kl + 1, &end, 10);
			if (errno || end == line + kl + 1)
				return -EINVAL;
			*out = v;
			return 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -ENOENT;
}

/* Short on purpose: it prefixes the real cause in a fixed-size message, and
 * the cause must survive. The step-by-step commands are in docs/limits.md. */
const char *al_cg_delegation_hint(enum al_cg_layout_kind kind)
{
	if (kind == AL_CG_LAYOUT_V2)
		return "no usable cgroup for the run's limits (delegate to this user a cgroup2 "
		       "subtree with "
		       "memory, pids and cpu enabled and run airlock from a leaf of it, see "
		       "docs/limits.md; "
		       "or accept rlimits only: --allow-degraded cgroup)";
	return "no usable cgroup for the run's limits (delegate to this user a cgroup in each of "
	       "the v1 "
	       "memory, pids, cpu and freezer hierarchies and run airlock from it, see "
	       "docs/limits.md; "
	       "or accept rlimits only: --allow-degraded cgroup)";
}

/* ---- file helpers -------------------------------------------------------- */

int al_cg_write(const struct al_cg_dir *d, const char *file, const char *val, struct al_error *err)
{
	_cleanup_close_ int fd = openat(d->fd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(val);
	ssize_t w;

	if (fd < 0)
		return al_error_errno(err, STAGE, "opening %s/%s", d->path, file);
	/* one write(): cgroup files take a value per write call */
	do
		w = write(fd, val, len);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return al_error_errno(err, STAGE, "writing \"%s\" to %s/%s", val, d->path, file);
	if ((size_t)w != len)
		return al_error_set(err, EIO, STAGE, "writing \"%s\" to %s/%s: short write", val,
		                    d->path, file);
	return 0;
}

int al_cg_read(const struct al_cg_dir *d, const char *file, char *buf, size_t n,
               struct al_error *err)
{
	ssize_t r = al_read_file_at(d->fd, file, buf, n);
	if (r < 0)
		return al_error_set(err, (int)-r, STAGE, "reading %s/%s", d->path, file);
	return 0;
}

int al_cg_read_u64(const struct al_cg_dir *d, const char *file, uint64_t *out, struct al_error *err)
{
	char buf[64], *end;
	unsigned long long v;
	int r = al_cg_read(d, file, buf, sizeof buf, err);
	if (r < 0)
		return r;
	if (strncmp(buf, "max", 3) == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return al_error_set(err, EINVAL, STAGE, "reading %s/%s: not a number: \"%.20s\"",
		                    d->path, file, buf);
	*out = v;
	return 0;
}

static int valid_run_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_' && id[i] != '.')
			return 0;
	return 1;
}

/* Runs whose supervisor was SIGKILLed never reach their teardown. Their
 * processes die with the init (PDEATHSIG, pid namespace), leaving empty run
 * directories; each new run removes those beside its own. A live run holds
 * flock(LOCK_EX) on each of its directories from just after mkdir until
 * destroy, so "stale" means: lock free, empty, and not brand new (the age
 * covers the microseconds between a run's mkdir and its flock; kernfs gives
 * a directory the time its inode was last instantiated, which is never
 * older than its real age, so the check never errs towards removal). */
#define AL_CG_STALE_S 10

static void collect_in(const char *parent)
{
	DIR *dir = opendir(parent);
	struct dirent *de;
	time_t now = time(NULL);

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		char procs[16];
		int fd;
		ssize_t got;

		if (de->d_type != DT_DIR || de->d_name[0] == '.' || !valid_run_id(de->d_name))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    now - st.st_mtime < AL_CG_STALE_S)
			continue;
		fd =
		    openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			got = al_read_file_at(fd, "cgroup.procs", procs, sizeof procs);
			if (got == 0)
				unlinkat(dirfd(dir), de->d_name,
				         AT_REMOVEDIR); /* fails harmlessly if busy */
		}
		close(fd);
	}
	closedir(dir);
}

/* Each hierarchy separately: they hold different sets (v1 memory runs nest
 * under each caller's own cgroup, pids runs may all share one parent), and
 * a supervisor killed mid-prepare leaves some hierarchies only. */
void al_cg_collect_stale(const struct al_cg_dir *const *dirs, int n)
{
	for (int i = 0; i < n; i++)
		if (dirs[i]->created && !dirs[i]->parent_created)
			collect_in(dirs[i]->parent);
}

int al_cg_mkdir_run(struct al_cg_dir *d, const char *parent, const char *run_id,
                    struct al_error *err)
{
	if (!valid_run_id(run_id))
		return al_error_set(err, EINVAL, STAGE, "run id \"%s\" is not a safe cgroup name",
		                    run_id);
	if (snprintf(d->parent, sizeof d->parent, "%s", parent) >= (int)sizeof d->parent ||
	    snprintf(d->path, sizeof d->path, "%s/%s", parent, run_id) >= (int)sizeof d->path)
		return al_error_set(err, ENAMETOOLONG, STAGE, "cgroup path %s/%s", parent, run_id);
	if (mkdir(d->parent, 0755) == 0)
		d->parent_created = true;
	else if (errno != EEXIST)
		return al_error_errno(err, STAGE, "creating cgroup %s", d->parent);
	/* EEXIST on the run's own directory is an error: run ids are unique, and
	 * reusing a directory someone else made would inherit their settings.
	 * ENOENT: a run that just ended removed the shared parent; make it again. */
	for (int tries = 0; mkdir(d->path, 0755) < 0; tries++) {
		if (errno != ENOENT || tries >= 3)
			return al_error_errno(err, STAGE, "creating cgroup %s", d->path);
		if (mkdir(d->parent, 0755) == 0)
			d->parent_created = true;
	}
	d->created = true;
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (d->fd < 0)
		return al_error_errno(err, STAGE, "opening cgroup %s", d->path);
	/* held until destroy: tells other runs' stale collection this one lives */
	if (flock(d->fd, LOCK_EX | LOCK_NB) < 0)
		return al_error_errno(err, STAGE, "locking cgroup %s", d->path);
	return 0;
}

/* rmdir fails with EBUSY while the last killed tasks are still exiting:
 * retry for up to two seconds, then report. The shared parent goes too when
 * it is empty (other runs may still use it, so failure there is fine). */
int al_cg_rmdir_run(struct al_cg_dir *d, struct al_error *err)
{
	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
	}
	if (!d->created || d->removed)
		return 0;
	for (int i = 0;; i++) {
		if (rmdir(d->path) == 0 || errno == ENOENT)
			break;
		if (errno != EBUSY || i >= 2000)
			return al_error_errno(err, STAGE, "removing cgroup %s", d->path);
		al_cg_sleep_ms(1);
	}
	if (access(d->path, F_OK) == 0 || errno != ENOENT)
		return al_error_set(err, EEXIST, STAGE, "cgroup %s still exists after removal",
		                    d->path);
	d->removed = true;
	if (rmdir(d->parent) < 0 && errno != ENOTEMPTY && errno != EBUSY && errno != ENOENT &&
	    errno != EEXIST && errno != EACCES && errno != EPERM)
		return al_error_errno(err, STAGE, "removing cgroup %s", d->parent);
	return 0;
}

bool al_cg_host_has_swap(void)
{
	char buf[4096];
	ssize_t r = al_read_file_at(AT_FDCWD, "/proc/swaps", buf, sizeof buf);
	const char *nl;
	if (r < 0)
		return true; /* cannot tell: assume the worst */
	nl = strchr(buf, '\n');
	return nl != NULL && nl[1] != '\0';
}

int al_cg_signal_procs(const struct al_cg_dir *d, int sig, struct al_error *err)
{
	char buf[65536];
	char *p, *end;
	int n = 0, r;

	r = al_cg_read(d, "cgroup.procs", buf, sizeof buf, err);
	if (r < 0)
		return r;
	for (p = buf; *p; p = end) {
		long pid;
		errno = 0;
		pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0) {
			n++;
			if (kill((pid_t)pid, sig) < 0 && errno != ESRCH)
				return al_error_errno(err, STAGE,
				                      "sending signal %d to pid %ld in %s", sig,
				                      pid, d->path);
		}
	}
	return n;
}

void al_cg_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
/* The fds behind al_cgroup_event_fd (event_fd may be the inotify fd itself). */
static void close_event_fds(struct al_cgroup *cg)
{
	if (cg->event_fd >= 0 && cg->event_fd != cg->inotify_fd)
		close(cg->event_fd);
	if (cg->inotify_fd >= 0)
		close(cg->inotify_fd);
	if (cg->timer_fd >= 0)
		close(cg->timer_fd);
	if (cg->oom_eventfd >= 0)
		close(cg->oom_eventfd);
	if (cg->oom_control_fd >= 0)
		close(cg->oom_control_fd);
	cg->event_fd = cg->inotify_fd = cg->timer_fd = cg->oom_eventfd = cg->oom_control_fd = -1;
}


/* Undo a partly made run cgroup: close fds, remove the directories this run
 * created. Best effort by design: it runs on an error path that already
 * reports the first failure. */
void al_cg_undo(struct al_cgroup *cg)
{
	struct al_cg_dir *all[AL_CG1_N + 1];
	int n = 0;

	all[n++] = &cg->v2;
	for (int i = 0; i < AL_CG1_N; i++)
		all[n++] = &cg->dirs[i];
	for (int i = 0; i < n; i++) {
		struct al_cg_dir *d = all[i];
		if (d->fd >= 0)
			close(d->fd);
		d->fd = -1;
		if (d->created && !d->removed && rmdir(d->path) == 0)
			d->removed = true;
		if (d->parent_created)
			rmdir(d->parent);
		d->created = false;
	}
	close_event_fds(cg);
}

/* ---- the front end ------------------------------------------------------- */

static bool is_delegation_problem(int code)
{
	return code == EACCES || code == EPERM || code == EROFS || code == ENODEV ||
	       code == EOPNOTSUPP || code == EBUSY;
}

static void dirname_of(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(slash - path), path);
}

static int prepare_v2(struct al_cgroup *cg, const struct al_cg_layout *lay, const char *self,
                      const struct al_spec *spec, const char *run_id, struct al_error *err)
{
	char self_path[PATH_MAX], parent[PATH_MAX];
	int r = al_cg_self_path(self, NULL, self_path, sizeof self_path);
	if (r < 0)
		return al_error_set(err, -r, STAGE, "finding our own cgroup in /proc/self/cgroup");
	/* root writes the root cgroup's subtree_control, which is exempt from the
	 * no-internal-processes rule; a user can only use a delegated subtree,
	 * and the cgroup we run in holds processes, so the run goes beside it */
	if (geteuid() == 0 || strcmp(self_path, "/") == 0)
		snprintf(parent, sizeof parent, "/");
	else
		dirname_of(self_path, parent, sizeof parent);
	return al_cg_v2_create(cg, lay->unified, parent, run_id, &spec->limits, err);
}

int al_cgroup_prepare(struct al_cgroup **out, const struct al_spec *spec, const char *run_id,
                      struct al_error *err)
{
	return al_cg_prepare_at(out, spec, run_id, "/sys/fs/cgroup", err);
}

int al_cg_prepare_at(struct al_cgroup **out, const struct al_spec *spec, const char *run_id,
                     const char *root, struct al_error *err)
{
	_cleanup_free_ struct al_cgroup *cg = calloc(1, sizeof *cg);
	struct al_cg_layout lay;
	char self[8192];
	ssize_t sr;
	int r;

	*out = NULL;
	if (cg == NULL)
		return al_error_set(err, ENOMEM, STAGE, "allocating the cgroup state");
	al_cg_init(cg);
	cg->lim = spec->limits;

	r = al_cg_detect_layout(root, true, &lay, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT)
		lay.kind = AL_CG_LAYOUT_NONE;
	sr = al_read_file_at(AT_FDCWD, "/proc/self/cgroup", self, sizeof self);
	if (sr < 0)
		return al_error_set(err, (int)-sr, STAGE, "reading /proc/self/cgroup");

	switch (lay.kind) {
	case AL_CG_LAYOUT_V2:
		r = prepare_v2(cg, &lay, self, spec, run_id, err);
		break;
	case AL_CG_LAYOUT_V1:
	case AL_CG_LAYOUT_HYBRID:
		/* hybrid: the unified hierarchy has no memory/pids/cpu (they are
		 * bound to v1), so v1 is what can enforce limits */
		r = al_cg_v1_create(cg, &lay, self, run_id, &spec->limits, err);
		break;
	default:
		r = al_error_set(err, ENODEV, STAGE, "no cgroup file system is mounted at %s",
		                 root);
		break;
	}
	if (r < 0) {
		if (!is_delegation_problem(err->code))
			return r;
		if (!(spec->allow_degraded & AL_DEGRADE_CGROUP)) {
			if (lay.kind == AL_CG_LAYOUT_NONE)
				return al_error_wrap(
				    err, "no cgroup to enforce memory, pids and cpu limits "
				         "(--allow-degraded cgroup accepts rlimits only)");
			return al_error_wrap(err, "%s",
			                     al_cg_delegation_hint(lay.kind == AL_CG_LAYOUT_V2
			                                               ? AL_CG_LAYOUT_V2
			                                               : AL_CG_LAYOUT_V1));
		}
		/* the user accepted rlimits only: say why in the record */
		{
			char msg[AL_ERR_MSG_MAX + 64];
			snprintf(cg->none_reason, sizeof cg->none_reason, "%s",
			         al_error_format(err, msg, sizeof msg));
		}
		al_error_clear(err);
		cg->ops = NULL;
	}
	*out = TAKE_PTR(cg);
	return 0;
}

int al_cgroup_clone_fd(const struct al_cgroup *cg)
{
	if (cg == NULL || cg->ops == NULL || cg->v2.fd < 0 || !cg->v2.created)
		return -1;
	return cg->v2.fd;
}

int al_cgroup_update(struct al_cgroup *cg, unsigned what, const struct al_limits *lim,
                     struct al_error *err)
{
	int r;

	if (cg == NULL || cg->ops == NULL || cg->ops->update == NULL)
		return al_error_set(err, ENOTSUP, "cgroup",
		                    "no cgroup to change limits on (rlimits-only mode)");
	r = cg->ops->update(cg, what, lim, err);
	if (r < 0)
		return r;
	if (what & AL_CGROUP_SET_MEMORY)
		cg->lim.memory = lim->memory;
	if (what & AL_CGROUP_SET_PIDS)
		cg->lim.pids = lim->pids;
	if (what & AL_CGROUP_SET_CPUS)
		cg->lim.cpus = lim->cpus;
	return 0;
}

int al_cgroup_kill_boost(struct al_cgroup *cg, struct al_error *err)
{
	if (cg == NULL || cg->ops == NULL || cg->ops->kill_boost == NULL)
		return 0;
	return cg->ops->kill_boost(cg, err);
}

int al_cgroup_attach(struct al_cgroup *cg, pid_t pid, struct al_error *err)
{
	if (cg == NULL || cg->ops == NULL)
		return 0;
	return cg->ops->attach(cg, pid, err);
}

int al_cgroup_self_attach_fds(struct al_cgroup *cg, int *fds, int max, struct al_error *err)
{
	if (cg == NULL || cg->ops == NULL || cg->ops->self_attach_fds == NULL)
		return 0;
	return cg->ops->self_attach_fds(cg, fds, max, err);
}

int al_cgroup_event_fd(const struct al_cgroup *cg)
{
	if (cg == NULL || cg->ops == NULL)
		return -1;
	return cg->event_fd;
}

int al_cgroup_read_events(struct al_cgroup *cg, struct al_cgroup_events *ev, struct al_error *err)
{
	memset(ev, 0, sizeof *ev);
	if (cg == NULL || cg->ops == NULL)
		return 0;
	return cg->ops->read_events(cg, ev, err);
}

int al_cgroup_stats(struct al_cgroup *cg, struct al_cgroup_stats *st, struct al_error *err)
{
	memset(st, 0, sizeof *st);
	if (cg == NULL || cg->ops == NULL)
		return 0;
	return cg->ops->stats(cg, st, err);
}

int al_cgroup_kill(struct al_cgroup *cg, struct al_error *err)
{
	if (cg == NULL || cg->ops == NULL)
		return 0;
	return cg->ops->kill(cg, err);
}

int al_cgroup_destroy(struct al_cgroup *cg, struct al_error *err)
{
	if (cg == NULL || cg->ops == NULL)
		return 0;
	return cg->ops->destroy(cg, err);
}

const char *al_cgroup_mode(const struct al_cgroup *cg)
{
	if (cg == NULL || cg->ops == NULL)
		return "none (rlimits only)";
	return cg->ops->mode;
}

void al_cgroup_describe(const struct al_cgroup *cg, struct al_json *j)
{
	if (cg == NULL || cg->ops == NULL) {
		al_json_obj_begin(j);
		al_json_kv_str(j, "mode", "none (rlimits only)");
		al_json_kv_bool(j, "degraded", true);
		al_json_kv_str(j, "reason",
		               cg && cg->none_reason[0] ? cg->none_reason : "no cgroup");
		al_json_kv_str(j, "enforced_by",
		               "rlimits only: no memory, cpu or total pids limit");
		al_json_obj_end(j);
		return;
	}
	cg->ops->describe(cg, j);
}

void al_cgroup_free(struct al_cgroup *cg)
{
	if (cg == NULL)
		return;
	for (int i = 0; i < AL_CG1_N; i++)
		if (cg->dirs[i].fd >= 0)
			close(cg->dirs[i].fd);
	if (cg->v2.fd >= 0)
		close(cg->v2.fd);
	close_event_fds(cg);
	free(cg);
}
