/* cgroup v2 back end: one directory <parent>/airlock/<run> in the unified
 * hierarchy, entered with clone3(CLONE_INTO_CGROUP) so no process of the run
 * ever exists outside it; limits, events (inotify on *.events), peaks, and
 * an atomic cgroup.kill. */
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "util/cleanup.h"

#define STAGE "cgroup"

static const struct {
	unsigned bit;
	const char *name;
} v2_ctls[] = {
    {AL_CG2_MEMORY, "memory"},
    {AL_CG2_PIDS, "pids"},
    {AL_CG2_CPU, "cpu"},
};

static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;
	while ((p = strstr(p, name)) != NULL) {
		bool start = p == list || p[-1] == ' ' || p[-1] == '\n';
		bool end = p[n] == '\0' || p[n] == ' ' || p[n] == '\n';
		if (start && end)
			return true;
		p += n;
	}
	return false;
}

/* Make the controllers in need available to children of dir: each must be
 * in dir's cgroup.controllers (else the parent has not delegated it), then
 * enabled in its cgroup.subtree_control. */
static int enable_controllers(const char *dir, unsigned need, struct al_error *err)
{
	struct al_cg_dir d;
	_cleanup_close_ int fd = -1;
	char have[512], on[512];
	int r;

	if (need == 0)
		return 0;
	al_cg_dir_init(&d);
	snprintf(d.path, sizeof d.path, "%s", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return al_error_errno(err, STAGE, "opening cgroup %s", dir);
	d.fd = fd;
	r = al_cg_read(&d, "cgroup.controllers", have, sizeof have, err);
	if (r < 0)
		return r;
	r = al_cg_read(&d, "cgroup.subtree_control", on, sizeof on, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < AL_ARRAY_SIZE(v2_ctls); i++) {
		char plus[32];
		if (!(need & v2_ctls[i].bit) || list_has(on, v2_ctls[i].name))
			continue;
		if (!list_has(have, v2_ctls[i].name))
			return al_error_set(
			    err, ENODEV, STAGE,
			    "the %s controller is not available in %s (cgroup.controllers: %s)",
			    v2_ctls[i].name, dir, have[0] ? have : "empty");
		snprintf(plus, sizeof plus, "+%s", v2_ctls[i].name);
		r = al_cg_write(&d, "cgroup.subtree_control", plus, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int write_u64(struct al_cgroup *cg, const char *file, uint64_t v, struct al_error *err)
{
	char val[32];
	snprintf(val, sizeof val, "%llu", (unsigned long long)v);
	return al_cg_write(&cg->v2, file, val, err);
}

static int write_limits(struct al_cgroup *cg, const struct al_limits *lim, struct al_error *err)
{
	char cpu[64];
	int r;

	r = write_u64(cg, "memory.max", lim->memory, err);
	if (r < 0)
		return r;
	/* memory + swap = memory: a workload must not push the host into swap */
	r = al_cg_write(&cg->v2, "memory.swap.max", "0", err);
	if (r == -ENOENT && !al_cg_host_has_swap())
		r = 0; /* no swap accounting, but no swap either */
	else if (r == -ENOENT)
		return al_error_set(
		    err, ENODEV, STAGE,
		    "%s/memory.swap.max does not exist (swap accounting off) while swap is on: "
		    "cannot keep the run out of swap",
		    cg->v2.path);
	if (r < 0)
		return r;
	cg->swap_off = true;
	r = write_u64(cg, "pids.max", lim->pids, err);
	if (r < 0)
		return r;
	al_cg_fmt_cpu_max(lim->cpus, cpu, sizeof cpu);
	r = al_cg_write(&cg->v2, "cpu.max", cpu, err);
	if (r < 0)
		return r;
	/* an OOM kill takes the whole run down rather than leaving a maimed
	 * process tree behind (4.19+; older kernels kill one process) */
	r = al_cg_write(&cg->v2, "memory.oom.group", "1", err);
	if (r == 0)
		cg->oom_group = true;
	else if (r != -ENOENT)
		return r;
	return 0;
}

static int watch_events(struct al_cgroup *cg, struct al_error *err)
{
	static const char *const files[] = {"memory.events", "pids.events"};
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	int watched = 0;

	if (fd < 0)
		return al_error_errno(err, STAGE, "inotify_init1 for %s", cg->v2.path);
	cg->inotify_fd = fd;
	for (size_t i = 0; i < AL_ARRAY_SIZE(files); i++) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof p, "%s/%s", cg->v2.path, files[i]);
		if (inotify_add_watch(fd, p, IN_MODIFY) >= 0)
			watched++;
		else if (errno != ENOENT || cg->has_limits)
			return al_error_errno(err, STAGE, "watching %s", p);
	}
	cg->event_fd = watched ? fd : -1;
	return 0;
}

static int v2_attach(struct al_cgroup *cg, pid_t pid, struct al_error *err)
{
	char val[32];
	snprintf(val, sizeof val, "%d", (int)pid);
	return al_cg_write(&cg->v2, "cgroup.procs", val, err);
}

static void drain(int fd)
{
	char buf[4096];
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof buf) > 0)
		;
}

/* read a keyed counter; a missing file (controller off, in tests) is 0 */
static int keyed(struct al_cgroup *cg, const char *file, const char *key, uint64_t *out,
                 struct al_error *err)
{
	char buf[1024];
	int r = al_cg_read(&cg->v2, file, buf, sizeof buf, err);
	*out = 0;
	if (r == -ENOENT && !cg->has_limits) {
		al_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	r = al_cg_keyed_u64(buf, key, out);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return al_error_set(err, -r, STAGE, "parsing %s/%s", cg->v2.path, file);
	return 0;
}

static void sample_pids(struct al_cgroup *cg)
{
	uint64_t cur;
	struct al_error ignored;
	if (al_cg_read_u64(&cg->v2, "pids.current", &cur, &ignored) == 0 &&
	    cur > cg->pids_peak_sampled)
		cg->pids_peak_sampled = cur;
}

static int v2_read_events(struct al_cgroup *cg, struct al_cgroup_events *ev, struct al_error *err)
{
	uint64_t oom, mmax, pmax;
	int r;

	drain(cg->inotify_fd);
	if ((r = keyed(cg, "memory.events", "oom_kill", &oom, err)) < 0 ||
	    (r = keyed(cg, "memory.events", "max", &mmax, err)) < 0 ||
	    (r = keyed(cg, "pids.events", "max", &pmax, err)) < 0)
		return r;
	ev->oom_kills = oom - cg->last_oom_kills;
	ev->memory_max_hits = mmax - cg->last_memory_max;
	ev->pids_max_hits = pmax - cg->last_pids_max;
	cg->last_oom_kills = oom;
	cg->last_memory_max = mmax;
	cg->last_pids_max = pmax;
	sample_pids(cg);
	return 0;
}

static int optional_u64(struct al_cgroup *cg, const char *file, uint64_t *out, bool *found,
                        struct al_error *err)
{
	int r = al_cg_read_u64(&cg->v2, file, out, err);
	*found = r == 0;
	if (r == -ENOENT) {
		al_error_clear(err);
		*out = 0;
		return 0;
	}
	return r;
}

static int v2_stats(struct al_cgroup *cg, struct al_cgroup_stats *st, struct al_error *err)
{
	char buf[1024];
	uint64_t usec = 0;
	bool found;
	int r;

	/* memory.peak: 5.19+; older kernels have no peak and report 0 */
	r = optional_u64(cg, "memory.peak", &st->memory_peak, &found, err);
	if (r < 0)
		return r;
	/* cpu.stat usage_usec exists even without the cpu controller */
	r = al_cg_read(&cg->v2, "cpu.stat", buf, sizeof buf, err);
	if (r < 0)
		return r;
	if (al_cg_keyed_u64(buf, "usage_usec", &usec) < 0)
		return al_error_set(err, EINVAL, STAGE, "no usage_usec in %s/cpu.stat",
		                    cg->v2.path);
	st->cpu_ns = usec * 1000;
	sample_pids(cg);
	r = optional_u64(cg, "pids.peak", &st->pids_peak, &found, err);
	if (r < 0)
		return r;
	if (!found || st->pids_peak < cg->pids_peak_sampled)
		st->pids_peak = cg->pids_peak_sampled;
	return 0;
}

static int wait_events_key(struct al_cgroup *cg, const char *key, uint64_t want, unsigned ms,
                           struct al_error *err)
{
	for (unsigned i = 0;; i++) {
		char buf[256];
		uint64_t v;
		int r = al_cg_read(&cg->v2, "cgroup.events", buf, sizeof buf, err);
		if (r < 0)
			return r;
		if (al_cg_keyed_u64(buf, key, &v) == 0 && v == want)
			return 0;
		if (i >= ms)
			return al_error_set(err, ETIMEDOUT, STAGE,
			                    "%s/cgroup.events: %s did not become %llu", cg->v2.path,
			                    key, (unsigned long long)want);
		al_cg_sleep_ms(1);
	}
}

static int v2_kill(struct al_cgroup *cg, struct al_error *err)
{
	int r;

	if (cg->has_kill_file) {
		/* the kernel kills every task, including ones forking right now */
		r = al_cg_write(&cg->v2, "cgroup.kill", "1", err);
		if (r < 0)
			return r;
	} else {
		/* before 5.14: freeze so nothing forks or exits (no pid reuse)
		 * while we signal the listed pids, then thaw so they die */
		r = al_cg_write(&cg->v2, "cgroup.freeze", "1", err);
		if (r < 0)
			return r;
		r = wait_events_key(cg, "frozen", 1, 1000, err);
		if (r == 0)
			r = al_cg_signal_procs(&cg->v2, SIGKILL, err);
		if (al_cg_write(&cg->v2, "cgroup.freeze", "0", r < 0 ? NULL : err) < 0 && r >= 0)
			return -err->code;
		if (r < 0)
			return r;
	}
	return wait_events_key(cg, "populated", 0, 2000, err);
}

static int v2_destroy(struct al_cgroup *cg, struct al_error *err)
{
	return al_cg_rmdir_run(&cg->v2, err);
}

static void v2_describe(const struct al_cgroup *cg, struct al_json *j)
{
	char cpu[64];

	al_json_obj_begin(j);
	al_json_kv_str(j, "mode", "v2");
	al_json_kv_str(j, "path", cg->v2.path);
	if (cg->has_limits) {
		al_json_kv_uint(j, "memory_max", cg->lim.memory);
		al_json_kv_bool(j, "swap_off", cg->swap_off);
		al_json_kv_uint(j, "pids_max", cg->lim.pids);
		al_cg_fmt_cpu_max(cg->lim.cpus, cpu, sizeof cpu);
		al_json_kv_str(j, "cpu_max", cpu);
		al_json_kv_bool(j, "oom_group", cg->oom_group);
	}
	al_json_kv_str(j, "kill", cg->has_kill_file ? "cgroup.kill" : "cgroup.freeze+SIGKILL");
	al_json_kv_str(j, "events", "inotify memory.events pids.events");
	al_json_obj_end(j);
}

/* Live changes (chaos steps). memory.max below the usage makes the kernel
 * reclaim, then OOM-kill (the group, with memory.oom.group): the squeeze
 * is real, never refused. */
static int v2_update(struct al_cgroup *cg, unsigned what, const struct al_limits *lim,
                     struct al_error *err)
{
	char cpu[64];
	int r = 0;

	if (what & AL_CGROUP_SET_MEMORY)
		r = write_u64(cg, "memory.max", lim->memory, err);
	if (r == 0 && (what & AL_CGROUP_SET_PIDS))
		r = write_u64(cg, "pids.max", lim->pids, err);
	if (r == 0 && (what & AL_CGROUP_SET_CPUS)) {
		al_cg_fmt_cpu_max(lim->cpus, cpu, sizeof cpu);
		r = al_cg_write(&cg->v2, "cpu.max", cpu, err);
	}
	return r;
}

static int v2_kill_boost(struct al_cgroup *cg, struct al_error *err)
{
	int r = al_cg_write(&cg->v2, "cpu.max", "max 100000", err);
	int r2 = al_cg_write(&cg->v2, "cpu.weight", "10000", r < 0 ? NULL : err);
	return r < 0 ? r : r2;
}

static const struct al_cg_ops v2_ops = {
    .update = v2_update,
    .kill_boost = v2_kill_boost,
    .mode = "v2",
    .attach = v2_attach,
    .read_events = v2_read_events,
    .stats = v2_stats,
    .kill = v2_kill,
    .destroy = v2_destroy,
    .describe = v2_describe,
};

int al_cg_v2_create(struct al_cgroup *cg, const char *mount, const char *parent_rel,
                    const char *run_id, const struct al_limits *lim, struct al_error *err)
{
	unsigned need = lim ? (AL_CG2_MEMORY | AL_CG2_PIDS | AL_CG2_CPU) : 0;
	char base[PATH_MAX], airlock[PATH_MAX];
	int r;

	if (snprintf(base, sizeof base, "%s%s", mount,
	             strcmp(parent_rel, "/") == 0 ? "" : parent_rel) >= (int)sizeof base ||
	    snprintf(airlock, sizeof airlock, "%s/airlock", base) >= (int)sizeof airlock)
		return al_error_set(err, ENAMETOOLONG, STAGE, "cgroup path under %s", mount);
	cg->has_limits = lim != NULL;
	if (lim)
		cg->lim = *lim;

	r = enable_controllers(base, need, err);
	if (r < 0)
		goto fail;
	r = al_cg_mkdir_run(&cg->v2, airlock, run_id, err);
	if (r < 0)
		goto fail;
	r = enable_controllers(airlock, need, err);
	if (r < 0)
		goto fail;
	{
		const struct al_cg_dir *made[1] = {&cg->v2};
		al_cg_collect_stale(made, 1);
	}
	if (lim) {
		r = write_limits(cg, lim, err);
		if (r < 0)
			goto fail;
	}
	cg->has_kill_file = faccessat(cg->v2.fd, "cgroup.kill", F_OK, 0) == 0;
	r = watch_events(cg, err);
	if (r < 0)
		goto fail;
	cg->ops = &v2_ops;
	return 0;
fail:
	al_cg_undo(cg);
	return r;
}
