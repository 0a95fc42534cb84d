/* cgroup v1 back end: <own cgroup>/airlock/<run> in each of the memory,
 * pids, cpu, freezer (and, for cpu time, cpuacct) hierarchies. v1 has no
 * CLONE_INTO_CGROUP and no cgroup.kill: the supervisor places the child
 * before releasing it, and kills by freezing, signalling, thawing. */
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

#define STAGE "cgroup"

static const char *const names[AL_CG1_N] = {
    [AL_CG1_MEMORY] = "memory",   [AL_CG1_PIDS] = "pids",       [AL_CG1_CPU] = "cpu",
    [AL_CG1_CPUACCT] = "cpuacct", [AL_CG1_FREEZER] = "freezer",
};

/* The directory holding controller c's files (c's own, or the one it shares). */
static struct al_cg_dir *dir_of(struct al_cgroup *cg, enum al_cg1_ctl c)
{
	int i = cg->alias[c] >= 0 ? cg->alias[c] : (int)c;
	return cg->dirs[i].created ? &cg->dirs[i] : NULL;
}

static const struct al_cg_dir *cdir_of(const struct al_cgroup *cg, enum al_cg1_ctl c)
{
	int i = cg->alias[c] >= 0 ? cg->alias[c] : (int)c;
	return cg->dirs[i].created ? &cg->dirs[i] : NULL;
}

static int write_u64(struct al_cg_dir *d, const char *file, uint64_t v, struct al_error *err)
{
	char val[32];
	snprintf(val, sizeof val, "%llu", (unsigned long long)v);
	return al_cg_write(d, file, val, err);
}

static int write_limits(struct al_cgroup *cg, const struct al_limits *lim, struct al_error *err)
{
	struct al_cg_dir *mem = dir_of(cg, AL_CG1_MEMORY);
	struct al_cg_dir *pids = dir_of(cg, AL_CG1_PIDS);
	struct al_cg_dir *cpu = dir_of(cg, AL_CG1_CPU);
	uint64_t quota = al_cg_cpu_quota_us(lim->cpus, 100000);
	int r;

	r = write_u64(mem, "memory.limit_in_bytes", lim->memory, err);
	if (r < 0)
		return r;
	/* memsw is memory+swap; equal to the memory limit means no swap. It
	 * must be written after limit_in_bytes (the kernel keeps memsw >= mem). */
	r = write_u64(mem, "memory.memsw.limit_in_bytes", lim->memory, err);
	if (r == -ENOENT) {
		/* no swap accounting (swapaccount=0): swappiness 0 stops this
		 * memcg's reclaim from swapping, which is as good where it works */
		al_error_clear(err);
		r = al_cg_write(mem, "memory.swappiness", "0", err);
		if (r < 0 && al_cg_host_has_swap())
			return al_error_wrap(err, "no memory.memsw.limit_in_bytes and swap is on");
		r = 0;
	}
	if (r < 0)
		return r;
	cg->swap_off = true;
	/* the kernel's OOM killer must act inside (never pause the run) */
	r = al_cg_write(mem, "memory.oom_control", "0", err);
	if (r < 0)
		return r;
	r = write_u64(pids, "pids.max", lim->pids, err);
	if (r < 0)
		return r;
	r = write_u64(cpu, "cpu.cfs_period_us", 100000, err);
	if (r < 0)
		return r;
	if (quota) {
		r = write_u64(cpu, "cpu.cfs_quota_us", quota, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One pollable fd for two sources: the memcg OOM notification (an eventfd
 * registered through cgroup.event_control) and a 100 ms timer. The timer is
 * there because v1's pids.events changes without any notification (neither
 * inotify nor poll fire on it; checked on 6.18), so pids.max hits and the
 * pids peak are sampled. An epoll fd is itself pollable, so the
 * supervisor's loop sees one fd. */
#define V1_SAMPLE_NS 100000000L

static int setup_events(struct al_cgroup *cg, struct al_error *err)
{
	struct al_cg_dir *mem = dir_of(cg, AL_CG1_MEMORY);
	struct epoll_event ee = {.events = EPOLLIN};
	struct itimerspec its = {.it_interval = {0, V1_SAMPLE_NS}, .it_value = {0, V1_SAMPLE_NS}};
	char reg[64];
	int r;

	cg->event_fd = epoll_create1(EPOLL_CLOEXEC);
	if (cg->event_fd < 0)
		return al_error_errno(err, STAGE, "epoll_create1 for cgroup events");
	if (mem) {
		cg->oom_eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (cg->oom_eventfd < 0)
			return al_error_errno(err, STAGE, "eventfd for %s/memory.oom_control",
			                      mem->path);
		cg->oom_control_fd = openat(mem->fd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
		if (cg->oom_control_fd < 0)
			return al_error_errno(err, STAGE, "opening %s/memory.oom_control",
			                      mem->path);
		snprintf(reg, sizeof reg, "%d %d", cg->oom_eventfd, cg->oom_control_fd);
		r = al_cg_write(mem, "cgroup.event_control", reg, err);
		if (r < 0)
			return r;
		ee.data.fd = cg->oom_eventfd;
		if (epoll_ctl(cg->event_fd, EPOLL_CTL_ADD, cg->oom_eventfd, &ee) < 0)
			return al_error_errno(err, STAGE, "epoll_ctl for the OOM eventfd");
	}
	if (dir_of(cg, AL_CG1_PIDS)) {
		cg->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (cg->timer_fd < 0)
			return al_error_errno(err, STAGE,
			                      "timerfd_create for sampling pids.events");
		if (timerfd_settime(cg->timer_fd, 0, &its, NULL) < 0)
			return al_error_errno(err, STAGE,
			                      "timerfd_settime for sampling pids.events");
		ee.data.fd = cg->timer_fd;
		if (epoll_ctl(cg->event_fd, EPOLL_CTL_ADD, cg->timer_fd, &ee) < 0)
			return al_error_errno(err, STAGE, "epoll_ctl for the pids sampling timer");
	}
	return 0;
}

static int v1_attach(struct al_cgroup *cg, pid_t pid, struct al_error *err)
{
	char val[32];
	snprintf(val, sizeof val, "%d", (int)pid);
	for (int c = 0; c < AL_CG1_N; c++) {
		int r;
		if (cg->alias[c] >= 0 || !cg->dirs[c].created)
			continue;
		r = al_cg_write(&cg->dirs[c], "cgroup.procs", val, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The "tasks" file, not "cgroup.procs": writing "0" there moves only the
 * writing thread, which is what lets the kernel skip its global lock (the
 * init is single-threaded: the supervisor is when it clones). */
static int v1_self_attach_fds(struct al_cgroup *cg, int *fds, int max, struct al_error *err)
{
	int n = 0;

	for (int c = 0; c < AL_CG1_N; c++) {
		if (cg->alias[c] >= 0 || !cg->dirs[c].created)
			continue;
		if (n == max) {
			while (n > 0)
				close(fds[--n]);
			return al_error_set(err, E2BIG, STAGE, "more than %d v1 hierarchies", max);
		}
		fds[n] = openat(cg->dirs[c].fd, "tasks", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fds[n] < 0) {
			int r = al_error_errno(err, STAGE, "opening %s/tasks", cg->dirs[c].path);
			while (n > 0)
				close(fds[--n]);
			return r;
		}
		n++;
	}
	return n;
}

static void drain(int fd)
{
	char buf[4096];
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof buf) > 0)
		;
}

static int keyed(struct al_cg_dir *d, const char *file, const char *key, uint64_t *out,
                 struct al_error *err)
{
	char buf[1024];
	int r;

	*out = 0;
	if (d == NULL)
		return 0;
	r = al_cg_read(d, file, buf, sizeof buf, err);
	if (r < 0)
		return r;
	r = al_cg_keyed_u64(buf, key, out);
	if (r == -ENOENT)
		return 0; /* older kernels: no oom_kill line */
	if (r < 0)
		return al_error_set(err, -r, STAGE, "parsing %s/%s", d->path, file);
	return 0;
}

static void sample_pids(struct al_cgroup *cg)
{
	struct al_cg_dir *pids = dir_of(cg, AL_CG1_PIDS);
	struct al_error ignored;
	uint64_t cur;
	if (pids && al_cg_read_u64(pids, "pids.current", &cur, &ignored) == 0 &&
	    cur > cg->pids_peak_sampled)
		cg->pids_peak_sampled = cur;
}

static int v1_read_events(struct al_cgroup *cg, struct al_cgroup_events *ev, struct al_error *err)
{
	struct al_cg_dir *mem = dir_of(cg, AL_CG1_MEMORY);
	uint64_t oom = 0, fail = 0, pmax = 0;
	int r;

	drain(cg->oom_eventfd);
	drain(cg->timer_fd);
	if ((r = keyed(mem, "memory.oom_control", "oom_kill", &oom, err)) < 0 ||
	    (r = keyed(dir_of(cg, AL_CG1_PIDS), "pids.events", "max", &pmax, err)) < 0)
		return r;
	/* a charge fails on whichever limit it meets first; with memsw equal
	 * to the memory limit that is usually memsw, so count both */
	if (mem && (r = al_cg_read_u64(mem, "memory.failcnt", &fail, err)) < 0)
		return r;
	if (mem) {
		uint64_t swfail = 0;
		r = al_cg_read_u64(mem, "memory.memsw.failcnt", &swfail, err);
		if (r < 0 && r != -ENOENT)
			return r;
		al_error_clear(err);
		fail += swfail;
	}
	ev->oom_kills = oom - cg->last_oom_kills;
	ev->pids_max_hits = pmax - cg->last_pids_max;
	ev->memory_max_hits = fail - cg->last_memory_max;
	cg->last_oom_kills = oom;
	cg->last_pids_max = pmax;
	cg->last_memory_max = fail;
	sample_pids(cg);
	return 0;
}

static int v1_stats(struct al_cgroup *cg, struct al_cgroup_stats *st, struct al_error *err)
{
	struct al_cg_dir *mem = dir_of(cg, AL_CG1_MEMORY);
	struct al_cg_dir *acct = dir_of(cg, AL_CG1_CPUACCT);
	struct al_cg_dir *pids = dir_of(cg, AL_CG1_PIDS);
	int r;

	if (mem &&
	    (r = al_cg_read_u64(mem, "memory.max_usage_in_bytes", &st->memory_peak, err)) < 0)
		return r;
	/* cpuacct.usage is nanoseconds; without a cpuacct hierarchy there is
	 * no per-cgroup CPU time in v1 and the figure stays 0 (describe says so) */
	if (acct && (r = al_cg_read_u64(acct, "cpuacct.usage", &st->cpu_ns, err)) < 0)
		return r;
	sample_pids(cg);
	if (pids) {
		/* pids.peak is in v1 since 6.1 too; before that only sampling */
		r = al_cg_read_u64(pids, "pids.peak", &st->pids_peak, err);
		if (r == -ENOENT)
			al_error_clear(err);
		else if (r < 0)
			return r;
	}
	if (st->pids_peak < cg->pids_peak_sampled)
		st->pids_peak = cg->pids_peak_sampled;
	return 0;
}

static int wait_frozen(struct al_cg_dir *fz, struct al_error *err)
{
	for (int i = 0;; i++) {
		char state[32];
		int r = al_cg_read(fz, "freezer.state", state, sizeof state, err);
		if (r < 0)
			return r;
		if (strncmp(state, "FROZEN", 6) == 0)
			return 0;
		if (i >= 1000)
			return al_error_set(err, ETIMEDOUT, STAGE, "%s did not freeze within 1 s",
			                    fz->path);
		al_cg_sleep_ms(1);
	}
}

static int count_procs(struct al_cgroup *cg, struct al_error *err)
{
	int total = 0;
	for (int c = 0; c < AL_CG1_N; c++) {
		char buf[64];
		int r;
		if (cg->alias[c] >= 0 || !cg->dirs[c].created)
			continue;
		r = al_cg_read(&cg->dirs[c], "cgroup.procs", buf, sizeof buf, err);
		if (r < 0)
			return r;
		total += buf[0] != '\0';
	}
	return total;
}

/* Frozen tasks neither fork nor exit, so the pids read from cgroup.procs
 * stay valid (no reuse) while we signal them; SIGKILL takes effect on thaw.
 * Repeat until every hierarchy is empty: a task that was mid-fork when we
 * froze shows up in the next round. */
static int v1_kill(struct al_cgroup *cg, struct al_error *err)
{
	struct al_cg_dir *fz = dir_of(cg, AL_CG1_FREEZER);
	int r;

	/* nothing inside (the usual case once the init has exited): nothing can
	 * fork into an empty cgroup, so there is nothing to freeze */
	r = count_procs(cg, err);
	if (r <= 0)
		return r;
	for (int round = 0;; round++) {
		r = al_cg_write(fz, "freezer.state", "FROZEN", err);
		if (r < 0)
			return r;
		r = wait_frozen(fz, err);
		if (r == 0)
			r = al_cg_signal_procs(fz, SIGKILL, err);
		if (al_cg_write(fz, "freezer.state", "THAWED", r < 0 ? NULL : err) < 0 && r >= 0)
			return -err->code;
		if (r < 0)
			return r;
		for (int i = 0; i < 200; i++) {
			r = count_procs(cg, err);
			if (r <= 0)
				return r;
			al_cg_sleep_ms(1);
		}
		if (round >= 10)
			return al_error_set(err, EBUSY, STAGE,
			                    "processes remain in %s after %d kill rounds", fz->path,
			                    round + 1);
	}
}

static int v1_destroy(struct al_cgroup *cg, struct al_error *err)
{
	int first = 0;
	/* the registration ends with the memcg; close our side first */
	if (cg->oom_control_fd >= 0) {
		close(cg->oom_control_fd);
		cg->oom_control_fd = -1;
	}
	for (int c = 0; c < AL_CG1_N; c++) {
		int r;
		if (cg->alias[c] >= 0)
			continue;
		r = al_cg_rmdir_run(&cg->dirs[c], err);
		if (r < 0 && first == 0)
			first = r; /* keep going: remove what can be removed */
	}
	return first;
}

static void v1_describe(const struct al_cgroup *cg, struct al_json *j)
{
	const struct al_cg_dir *acct = cdir_of(cg, AL_CG1_CPUACCT);
	const struct al_cg_dir *pids = cdir_of(cg, AL_CG1_PIDS);

	al_json_obj_begin(j);
	al_json_kv_str(j, "mode", "v1");
	al_json_key(j, "paths");
	al_json_obj_begin(j);
	for (int c = 0; c < AL_CG1_N; c++) {
		const struct al_cg_dir *d = cdir_of(cg, (enum al_cg1_ctl)c);
		if (d)
			al_json_kv_str(j, names[c], d->path);
	}
	al_json_obj_end(j);
	if (cg->has_limits) {
		al_json_kv_uint(j, "memory_limit_in_bytes", cg->lim.memory);
		al_json_kv_bool(j, "swap_off", cg->swap_off);
		al_json_kv_uint(j, "pids_max", cg->lim.pids);
		al_json_kv_uint(j, "cpu_cfs_period_us", 100000);
		al_json_kv_uint(j, "cpu_cfs_quota_us", al_cg_cpu_quota_us(cg->lim.cpus, 100000));
	}
	/* v1 cannot kill the whole group on OOM: the kernel picks one victim */
	al_json_kv_bool(j, "oom_group", false);
	al_json_kv_str(j, "kill", "freezer FROZEN + SIGKILL + THAWED");
	al_json_kv_str(j, "cpu_time",
	               acct ? "cpuacct.usage" : "the init's rusage (every process it reaped)");
	al_json_kv_str(j, "pids_peak",
	               pids && faccessat(pids->fd, "pids.peak", F_OK, 0) == 0 ? "pids.peak"
	                                                                      : "sampled");
	al_json_kv_str(j, "events", "memory.oom_control eventfd; pids.events sampled every 100 ms");
	al_json_obj_end(j);
}

/* Live changes (chaos steps). memsw (memory+swap) is kept equal to the
 * memory limit, and the kernel keeps memsw >= memory at every moment: when
 * lowering, memory goes first; when raising, memsw. A memory limit below
 * what the group uses is refused by v1 with EBUSY after reclaim fails. */
static int v1_update(struct al_cgroup *cg, unsigned what, const struct al_limits *lim,
                     struct al_error *err)
{
	struct al_cg_dir *mem = dir_of(cg, AL_CG1_MEMORY);
	int r = 0;

	if (what & AL_CGROUP_SET_MEMORY) {
		uint64_t cur = 0;
		r = al_cg_read_u64(mem, "memory.limit_in_bytes", &cur, err);
		if (r < 0)
			return r;
		if (lim->memory > cur) {
			r = write_u64(mem, "memory.memsw.limit_in_bytes", lim->memory, err);
			if (r == -ENOENT) {
				al_error_clear(err);
				r = 0;
			}
			if (r == 0)
				r = write_u64(mem, "memory.limit_in_bytes", lim->memory, err);
		} else {
			r = write_u64(mem, "memory.limit_in_bytes", lim->memory, err);
			if (r == 0) {
				r = write_u64(mem, "memory.memsw.limit_in_bytes", lim->memory, err);
				if (r == -ENOENT) {
					al_error_clear(err);
					r = 0;
				}
			}
		}
		if (r < 0)
			return r;
	}
	if (what & AL_CGROUP_SET_PIDS) {
		r = write_u64(dir_of(cg, AL_CG1_PIDS), "pids.max", lim->pids, err);
		if (r < 0)
			return r;
	}
	if (what & AL_CGROUP_SET_CPUS) {
		uint64_t quota = al_cg_cpu_quota_us(lim->cpus, 100000);
		r = quota ? write_u64(dir_of(cg, AL_CG1_CPU), "cpu.cfs_quota_us", quota, err)
		          : al_cg_write(dir_of(cg, AL_CG1_CPU), "cpu.cfs_quota_us", "-1", err);
	}
	return r;
}

static int v1_kill_boost(struct al_cgroup *cg, struct al_error *err)
{
	struct al_cg_dir *cpu = dir_of(cg, AL_CG1_CPU);
	int r = al_cg_write(cpu, "cpu.cfs_quota_us", "-1", err);
	int r2 = al_cg_write(cpu, "cpu.shares", "262144", r < 0 ? NULL : err);
	return r < 0 ? r : r2;
}

static const struct al_cg_ops v1_ops = {
    .update = v1_update,
    .kill_boost = v1_kill_boost,
    .mode = "v1",
    .attach = v1_attach,
    .self_attach_fds = v1_self_attach_fds,
    .read_events = v1_read_events,
    .stats = v1_stats,
    .kill = v1_kill,
    .destroy = v1_destroy,
    .describe = v1_describe,
};

static bool same_dir(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int al_cg_v1_create(struct al_cgroup *cg, const struct al_cg_layout *lay, const char *proc_cgroup,
                    const char *run_id, const struct al_limits *lim, struct al_error *err)
{
	int r;

	cg->has_limits = lim != NULL;
	if (lim)
		cg->lim = *lim;
	for (int c = 0; c < AL_CG1_N; c++) {
		char self[PATH_MAX], parent[PATH_MAX];

		if (lay->v1[c][0] == '\0') {
			/* memory, pids, cpu enforce the limits; the freezer makes the
			 * kill race-free. cpuacct only feeds a statistic. */
			if (c == AL_CG1_CPUACCT)
				continue;
			r = al_error_set(err, ENODEV, STAGE, "no v1 %s hierarchy is mounted",
			                 names[c]);
			goto fail;
		}
		for (int prev = 0; prev < c; prev++)
			if (lay->v1[prev][0] && cg->dirs[prev].created &&
			    same_dir(lay->v1[prev], lay->v1[c]))
				cg->alias[c] = prev;
		if (cg->alias[c] >= 0)
			continue;
		/* A cpuacct hierarchy of its own would cost a cgroup mkdir and
		 * rmdir per run (a tenth of the start-up CPU here) for one
		 * statistic the supervisor gets anyway from the init's rusage:
		 * use cpuacct only when it comes free, co-mounted with cpu. */
		if (c == AL_CG1_CPUACCT)
			continue;
		/* v1 has no internal-process rule, so the run nests under our own
		 * cgroup and stays inside whatever limits the caller runs under */
		r = al_cg_self_path(proc_cgroup, names[c], self, sizeof self);
		if (r < 0) {
			r = al_error_set(err, -r, STAGE,
			                 "finding our %s cgroup in /proc/self/cgroup", names[c]);
			goto fail;
		}
		if (snprintf(parent, sizeof parent, "%s%s/airlock", lay->v1[c],
		             strcmp(self, "/") == 0 ? "" : self) >= (int)sizeof parent) {
			r = al_error_set(err, ENAMETOOLONG, STAGE, "cgroup path under %s",
			                 lay->v1[c]);
			goto fail;
		}
		r = al_cg_mkdir_run(&cg->dirs[c], parent, run_id, err);
		if (r < 0 && c == AL_CG1_CPUACCT && (r == -EACCES || r == -EPERM || r == -EROFS)) {
			/* not delegated: only the cpu time figure is lost (describe says so) */
			if (cg->dirs[c].parent_created)
				rmdir(cg->dirs[c].parent);
			al_cg_dir_init(&cg->dirs[c]);
			al_error_clear(err);
			continue;
		}
		if (r < 0)
			goto fail;
	}
	{
		const struct al_cg_dir *made[AL_CG1_N];
		for (int c = 0; c < AL_CG1_N; c++)
			made[c] = &cg->dirs[c];
		al_cg_collect_stale(made, AL_CG1_N);
	}
	if (lim) {
		r = write_limits(cg, lim, err);
		if (r < 0)
			goto fail;
	}
	r = setup_events(cg, err);
	if (r < 0)
		goto fail;
	cg->ops = &v1_ops;
	return 0;
fail:
	al_cg_undo(cg);
	return r;
}
