/* Unit tests for the cgroup module: layout detection against fake trees,
 * /proc/self/cgroup parsing, limit formatting, and -- as root, on the real
 * hierarchies of this host -- create, attach, limits biting, events, peaks,
 * kill and destroy, for v1 and for whatever of v2 the host offers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup/cgroup_internal.h"
#include "util/fdutil.h"

/* cmocka's skip() prints no reason; CI should show why a test did not run */
#define skip_because(why)                                                                          \
	do {                                                                                       \
		fprintf(stderr, "[  SKIP    ] %s: %s\n", __func__, why);                           \
		skip();                                                                            \
	} while (0)

/* ---- fake trees ---------------------------------------------------------- */

static char tmproot[PATH_MAX];

static void touch(const char *rel)
{
	char p[PATH_MAX];
	int fd;
	snprintf(p, sizeof p, "%s/%s", tmproot, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void mkd(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", tmproot, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int fake_setup(void **state)
{
	snprintf(tmproot, sizeof tmproot, "/tmp/al-cgtest-XXXXXX");
	assert_non_null(mkdtemp(tmproot));
	return 0;
}

static int fake_teardown(void **state)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmproot);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_is(const char *got, const char *rel)
{
	char want[PATH_MAX];
	if (rel == NULL) {
		assert_string_equal(got, "");
		return;
	}
	snprintf(want, sizeof want, "%s/%s", tmproot, rel);
	assert_string_equal(got, want);
}

static void test_detect_v2(void **state)
{
	struct al_cg_layout lay;
	struct al_error err;
	touch("cgroup.controllers");
	touch("cgroup.procs");
	assert_int_equal(al_cg_detect_layout(tmproot, false, &lay, &err), 0);
	assert_int_equal(lay.kind, AL_CG_LAYOUT_V2);
	assert_string_equal(lay.unified, tmproot);
	assert_string_equal(lay.v1[AL_CG1_MEMORY], "");
}

/* v1 with cpu and cpuacct co-mounted under their joint name and no
 * symlinks: the comma-separated name must be found for both */
static void test_detect_v1_comounted(void **state)
{
	struct al_cg_layout lay;
	struct al_error err;
	mkd("memory");
	touch("memory/tasks");
	mkd("pids");
	touch("pids/tasks");
	mkd("cpu,cpuacct");
	touch("cpu,cpuacct/tasks");
	mkd("cpuset"); /* must not be taken for cpu */
	touch("cpuset/tasks");
	mkd("freezer");
	touch("freezer/tasks");
	mkd("systemd"); /* named hierarchy, no controller: ignored */
	touch("systemd/tasks");
	assert_int_equal(al_cg_detect_layout(tmproot, false, &lay, &err), 0);
	assert_int_equal(lay.kind, AL_CG_LAYOUT_V1);
	path_is(lay.v1[AL_CG1_MEMORY], "memory");
	path_is(lay.v1[AL_CG1_PIDS], "pids");
	path_is(lay.v1[AL_CG1_CPU], "cpu,cpuacct");
	path_is(lay.v1[AL_CG1_CPUACCT], "cpu,cpuacct");
	path_is(lay.v1[AL_CG1_FREEZER], "freezer");
	assert_string_equal(lay.unified, "");
}

/* this host's shape: v1 controllers plus a unified mount with no controllers */
static void test_detect_hybrid(void **state)
{
	struct al_cg_layout lay;
	struct al_error err;
	mkd("memory");
	touch("memory/tasks");
	mkd("cpu");
	touch("cpu/tasks");
	mkd("unified");
	touch("unified/cgroup.controllers");
	assert_int_equal(al_cg_detect_layout(tmproot, false, &lay, &err), 0);
	assert_int_equal(lay.kind, AL_CG_LAYOUT_HYBRID);
	path_is(lay.unified, "unified");
	path_is(lay.v1[AL_CG1_MEMORY], "memory");
	path_is(lay.v1[AL_CG1_CPU], "cpu");
	path_is(lay.v1[AL_CG1_PIDS], NULL);
	path_is(lay.v1[AL_CG1_FREEZER], NULL);
}

/* a directory named like a controller but without the v1 "tasks" file is
 * not a hierarchy (e.g. a v2 child cgroup called "memory") */
static void test_detect_none(void **state)
{
	struct al_cg_layout lay;
	struct al_error err;
	mkd("memory");
	touch("memory/cgroup.procs");
	assert_int_equal(al_cg_detect_layout(tmproot, false, &lay, &err), 0);
	assert_int_equal(lay.kind, AL_CG_LAYOUT_NONE);
	assert_int_equal(al_cg_detect_layout("/nonexistent/al-cg", false, &lay, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/al-cg"));
}

/* with fs type checks on, a tmpfs tree that looks like v2 is not v2 */
static void test_detect_checks_fs_type(void **state)
{
	struct al_cg_layout lay;
	struct al_error err;
	touch("cgroup.controllers");
	assert_int_equal(al_cg_detect_layout(tmproot, true, &lay, &err), 0);
	assert_int_equal(lay.kind, AL_CG_LAYOUT_NONE);
}

/* ---- pure parsing and formatting ----------------------------------------- */

static void test_self_path(void **state)
{
	const char *hybrid = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/357493ac\n"
	                     "3:cpuset:/\n2:cpu,cpuacct:/grp/a:b\n0::/\n";
	const char *v2 = "0::/user.slice/user-1000.slice/session-3.scope\n";
	char out[PATH_MAX];

	assert_int_equal(al_cg_self_path(hybrid, "memory", out, sizeof out), 0);
	assert_string_equal(out, "/process_api/357493ac");
	assert_int_equal(al_cg_self_path(hybrid, "pids", out, sizeof out), 0);
	assert_string_equal(out, "/");
	/* co-mounted list; a colon inside the path is kept */
	assert_int_equal(al_cg_self_path(hybrid, "cpuacct", out, sizeof out), 0);
	assert_string_equal(out, "/grp/a:b");
	assert_int_equal(al_cg_self_path(hybrid, "cpu", out, sizeof out), 0);
	assert_string_equal(out, "/grp/a:b");
	assert_int_equal(al_cg_self_path(hybrid, "freezer", out, sizeof out), -ENOENT);
	assert_int_equal(al_cg_self_path(hybrid, NULL, out, sizeof out), 0);
	assert_string_equal(out, "/");
	assert_int_equal(al_cg_self_path(v2, NULL, out, sizeof out), 0);
	assert_string_equal(out, "/user.slice/user-1000.slice/session-3.scope");
	assert_int_equal(al_cg_self_path(v2, "memory", out, sizeof out), -ENOENT);
	/* no room: refuse rather than truncate a path */
	assert_int_equal(al_cg_self_path(v2, NULL, out, 8), -EINVAL);
}

static void test_cpu_quota(void **state)
{
	char buf[64];
	assert_int_equal(al_cg_cpu_quota_us(1.0, 100000), 100000);
	assert_int_equal(al_cg_cpu_quota_us(0.5, 100000), 50000);
	assert_int_equal(al_cg_cpu_quota_us(2.25, 100000), 225000);
	assert_int_equal(al_cg_cpu_quota_us(0.333, 100000), 33300);
	/* the kernel's minimum quota is 1 ms */
	assert_int_equal(al_cg_cpu_quota_us(0.001, 100000), 1000);
	assert_int_equal(al_cg_cpu_quota_us(0, 100000), 0);
	al_cg_fmt_cpu_max(1.0, buf, sizeof buf);
	assert_string_equal(buf, "100000 100000");
	al_cg_fmt_cpu_max(1.5, buf, sizeof buf);
	assert_string_equal(buf, "150000 100000");
	al_cg_fmt_cpu_max(0, buf, sizeof buf);
	assert_string_equal(buf, "max 100000");
}

static void test_keyed(void **state)
{
	const char *ev = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n";
	uint64_t v;
	assert_int_equal(al_cg_keyed_u64(ev, "max", &v), 0);
	assert_int_equal(v, 17);
	assert_int_equal(al_cg_keyed_u64(ev, "oom", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(al_cg_keyed_u64(ev, "oom_kill", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(al_cg_keyed_u64(ev, "oom_group", &v), -ENOENT);
	assert_int_equal(al_cg_keyed_u64("max x\n", "max", &v), -EINVAL);
}

/* ---- real cgroups --------------------------------------------------------- */

#define MiB (1024ull * 1024)

/* The cgroup a real test is using: if an assertion fails midway, the
 * teardown still kills what runs in it and removes it from the host. */
static struct al_cgroup *live;
static bool live_heap;

static bool still_there(const struct al_cgroup *cg)
{
	bool any = cg->v2.created && !cg->v2.removed;
	for (int c = 0; c < AL_CG1_N; c++)
		any |= cg->dirs[c].created && !cg->dirs[c].removed;
	return any;
}

static int real_teardown(void **state)
{
	struct al_error err;
	if (live) {
		if (live->ops && still_there(live)) {
			al_cgroup_kill(live, &err);
			al_cgroup_destroy(live, &err);
		}
		al_cg_undo(live);
		if (live_heap)
			al_cgroup_free(live);
	}
	live = NULL;
	live_heap = false;
	return 0;
}

static bool real_v1(struct al_cg_layout *lay, char *self, size_t n)
{
	struct al_error err;
	if (geteuid() != 0)
		return false;
	if (al_cg_detect_layout("/sys/fs/cgroup", true, lay, &err) < 0)
		return false;
	if (lay->kind != AL_CG_LAYOUT_V1 && lay->kind != AL_CG_LAYOUT_HYBRID)
		return false;
	return al_read_file_at(AT_FDCWD, "/proc/self/cgroup", self, n) > 0;
}

static void read_in(const struct al_cg_dir *d, const char *file, char *buf, size_t n)
{
	struct al_error err;
	assert_int_equal(al_cg_read(d, file, buf, n, &err), 0);
}

static bool read_in_opt(const struct al_cg_dir *d, const char *file, char *buf, size_t n)
{
	struct al_error err;
	return al_cg_read(d, file, buf, n, &err) == 0;
}

static pid_t fork_waiting(int *release_fd)
{
	int p[2];
	pid_t pid;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(3);
		if (c == 'p') {
			/* fork until pids.max refuses; children wait to be killed */
			for (int i = 0; i < 64; i++) {
				pid_t k = fork();
				if (k == 0) {
					pause();
					_exit(0);
				}
				if (k < 0)
					break;
			}
			pause();
		} else if (c == 'm') {
			/* touch 256 MiB against a 32 MiB limit with no swap */
			size_t sz = 256 * MiB;
			char *m = mmap(NULL, sz, PROT_READ | PROT_WRITE,
			               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED)
				_exit(4);
			for (size_t off = 0; off < sz; off += 4096)
				m[off] = 1;
			_exit(5);
		} else if (c == 's') {
			pause();
		}
		_exit(0);
	}
	close(p[0]);
	*release_fd = p[1];
	return pid;
}

static bool wait_readable(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	return poll(&pfd, 1, ms) == 1;
}

static void unit_run_id(char *buf, size_t n, const char *what)
{
	snprintf(buf, n, "unittest-%s-%d", what, (int)getpid());
}

/* The whole life of a v1 run cgroup on this host: limits land in the
 * files, a fork bomb hits pids.max (event + peak), kill empties it, destroy
 * removes every directory. */
static void test_v1_real_pids(void **state)
{
	struct al_cg_layout lay;
	char self[8192], buf[256], id[64];
	struct al_limits lim = {.memory = 64 * MiB, .pids = 6, .cpus = 0.5};
	static struct al_cgroup cg; /* static: the teardown may see it */
	struct al_cgroup_events ev;
	struct al_cgroup_stats st;
	struct al_error err;
	int go, status;
	pid_t pid;

	if (!real_v1(&lay, self, sizeof self)) {
		skip_because("needs root on a host with v1 hierarchies");
		return;
	}
	unit_run_id(id, sizeof id, "pids");
	al_cg_init(&cg);
	live = &cg;
	assert_int_equal(al_cg_v1_create(&cg, &lay, self, id, &lim, &err), 0);
	assert_string_equal(cg.ops->mode, "v1");
	read_in(&cg.dirs[AL_CG1_MEMORY], "memory.limit_in_bytes", buf, sizeof buf);
	assert_int_equal(strtoull(buf, NULL, 10), 64 * MiB);
	read_in(&cg.dirs[AL_CG1_PIDS], "pids.max", buf, sizeof buf);
	assert_string_equal(buf, "6\n");
	read_in(&cg.dirs[AL_CG1_CPU], "cpu.cfs_quota_us", buf, sizeof buf);
	assert_string_equal(buf, "50000\n");
	assert_true(cg.event_fd >= 0);
	assert_int_equal(al_cgroup_clone_fd(&cg), -1);

	pid = fork_waiting(&go);
	assert_int_equal(al_cgroup_attach(&cg, pid, &err), 0);
	snprintf(buf, sizeof buf, "%d\n", (int)pid);
	{
		char procs[256];
		read_in(&cg.dirs[AL_CG1_FREEZER], "cgroup.procs", procs, sizeof procs);
		assert_string_equal(procs, buf);
	}
	assert_int_equal(write(go, "p", 1), 1);
	close(go);
	assert_true(wait_readable(al_cgroup_event_fd(&cg), 5000));
	assert_int_equal(al_cgroup_read_events(&cg, &ev, &err), 0);
	assert_true(ev.pids_max_hits >= 1);
	assert_int_equal(ev.oom_kills, 0);
	assert_int_equal(al_cgroup_stats(&cg, &st, &err), 0);
	assert_int_equal(st.pids_peak, 6);
	assert_true(st.memory_peak > 0);

	assert_int_equal(al_cgroup_kill(&cg, &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(al_cgroup_destroy(&cg, &err), 0);
	for (int c = 0; c < AL_CG1_N; c++)
		if (cg.dirs[c].created)
			assert_int_equal(access(cg.dirs[c].path, F_OK), -1);
	al_cg_undo(&cg);
}

/* A memory balloon is OOM-killed inside the cgroup and the eventfd fires. */
static void test_v1_real_oom(void **state)
{
	struct al_cg_layout lay;
	char self[8192], id[64];
	struct al_limits lim = {.memory = 32 * MiB, .pids = 16, .cpus = 1};
	static struct al_cgroup cg; /* static: the teardown may see it */
	struct al_cgroup_events ev = {0};
	struct al_cgroup_stats st;
	struct al_error err;
	int go, status;
	pid_t pid;

	if (!real_v1(&lay, self, sizeof self)) {
		skip_because("needs root on a host with v1 hierarchies");
		return;
	}
	unit_run_id(id, sizeof id, "oom");
	al_cg_init(&cg);
	live = &cg;
	assert_int_equal(al_cg_v1_create(&cg, &lay, self, id, &lim, &err), 0);
	pid = fork_waiting(&go);
	assert_int_equal(al_cgroup_attach(&cg, pid, &err), 0);
	assert_int_equal(write(go, "m", 1), 1);
	close(go);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_true(wait_readable(al_cgroup_event_fd(&cg), 5000));
	assert_int_equal(al_cgroup_read_events(&cg, &ev, &err), 0);
	assert_int_equal(ev.oom_kills, 1);
	/* memory_max_hits is not checked: v1's failcnt stays 0 on this kernel
	 * when memsw is limited (docs/limits.md) */
	/* deltas: nothing new on a second read */
	assert_int_equal(al_cgroup_read_events(&cg, &ev, &err), 0);
	assert_int_equal(ev.oom_kills, 0);
	assert_int_equal(al_cgroup_stats(&cg, &st, &err), 0);
	assert_true(st.memory_peak <= 32 * MiB && st.memory_peak > 16 * MiB);
	/* v1 keeps cpuacct only where it is co-mounted with cpu (no extra
	 * hierarchy per run); there the cgroup has CPU time, elsewhere the
	 * supervisor takes the init's rusage (integration: test_cpu_time_peak) */
	int acct = cg.alias[AL_CG1_CPUACCT] >= 0 ? cg.alias[AL_CG1_CPUACCT] : AL_CG1_CPUACCT;
	if (cg.dirs[acct].created)
		assert_true(st.cpu_ns > 0);
	else
		assert_int_equal(st.cpu_ns, 0);
	assert_int_equal(al_cgroup_kill(&cg, &err), 0); /* empty: still fine */
	assert_int_equal(al_cgroup_destroy(&cg, &err), 0);
	al_cg_undo(&cg);
}

/* The front end on this host as root: whatever the layout, prepare makes a
 * limited cgroup, a child placed in it is killed, destroy leaves nothing. */
static void test_prepare_real(void **state)
{
	struct al_spec spec;
	struct al_cgroup *cg = NULL;
	struct al_error err;
	struct al_buf b;
	struct al_json j;
	char id[64];
	int go, status;
	pid_t pid;

	if (geteuid() != 0) {
		skip_because("needs root (rootless runs need a delegated cgroup; docs/limits.md)");
		return;
	}
	memset(&spec, 0, sizeof spec);
	spec.limits = (struct al_limits){.memory = 128 * MiB, .pids = 32, .cpus = 1.0};
	unit_run_id(id, sizeof id, "prepare");
	assert_int_equal(al_cgroup_prepare(&cg, &spec, id, &err), 0);
	assert_non_null(cg);
	live = cg;
	live_heap = true;
	assert_string_not_equal(al_cgroup_mode(cg), "none (rlimits only)");
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_cgroup_describe(cg, &j);
	assert_non_null(strstr(b.data, al_cgroup_mode(cg)));
	assert_non_null(strstr(b.data, "\"pids_max\":32"));
	al_buf_free(&b);
	/* a second prepare with the same id must not reuse the directory */
	{
		struct al_cgroup *dup = NULL;
		assert_true(al_cgroup_prepare(&dup, &spec, id, &err) == -EEXIST);
		assert_null(dup);
	}
	pid = fork_waiting(&go);
	assert_int_equal(al_cgroup_attach(cg, pid, &err), 0);
	assert_int_equal(write(go, "s", 1), 1);
	close(go);
	assert_int_equal(al_cgroup_kill(cg, &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(al_cgroup_destroy(cg, &err), 0);
}

/* A new run removes run cgroups left empty by a supervisor that died
 * before its teardown -- only old and empty ones. */
static void test_v1_real_collects_stale(void **state)
{
	struct al_cg_layout lay;
	char self[8192], id[64], stale[PATH_MAX], fresh[PATH_MAX], busy[PATH_MAX], locked[PATH_MAX],
	    procs[PATH_MAX + 16];
	int lockfd;
	struct al_limits lim = {.memory = 64 * MiB, .pids = 8, .cpus = 1};
	static struct al_cgroup cg; /* static: the teardown may see it */
	struct timespec old[2] = {{.tv_sec = 0}, {.tv_sec = 0}};
	struct al_error err;
	char pidbuf[32];
	int go, status;
	pid_t pid;

	if (!real_v1(&lay, self, sizeof self)) {
		skip_because("needs root on a host with v1 hierarchies");
		return;
	}
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 3600;
	snprintf(stale, sizeof stale, "%s/airlock/unittest-stale-%d", lay.v1[AL_CG1_PIDS],
	         (int)getpid());
	snprintf(fresh, sizeof fresh, "%s/airlock/unittest-fresh-%d", lay.v1[AL_CG1_PIDS],
	         (int)getpid());
	snprintf(busy, sizeof busy, "%s/airlock/unittest-busy-%d", lay.v1[AL_CG1_PIDS],
	         (int)getpid());
	snprintf(locked, sizeof locked, "%s/airlock/unittest-locked-%d", lay.v1[AL_CG1_PIDS],
	         (int)getpid());
	snprintf(procs, sizeof procs, "%s/airlock", lay.v1[AL_CG1_PIDS]);
	mkdir(procs, 0755);
	assert_int_equal(mkdir(stale, 0755), 0);
	assert_int_equal(mkdir(fresh, 0755), 0);
	assert_int_equal(mkdir(busy, 0755), 0);
	assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, busy, old, 0), 0);
	/* old and empty, but a live run (here: this test) holds its lock */
	assert_int_equal(mkdir(locked, 0755), 0);
	assert_int_equal(utimensat(AT_FDCWD, locked, old, 0), 0);
	lockfd = open(locked, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(lockfd >= 0);
	assert_int_equal(flock(lockfd, LOCK_EX | LOCK_NB), 0);
	pid = fork_waiting(&go);
	snprintf(procs, sizeof procs, "%s/cgroup.procs", busy);
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	assert_int_equal(al_write_file_at(AT_FDCWD, procs, pidbuf, strlen(pidbuf), 0, 0), 0);

	unit_run_id(id, sizeof id, "collector");
	al_cg_init(&cg);
	live = &cg;
	assert_int_equal(al_cg_v1_create(&cg, &lay, self, id, &lim, &err), 0);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);
	assert_int_equal(access(busy, F_OK), 0);
	assert_int_equal(access(locked, F_OK), 0);
	close(lockfd);
	assert_int_equal(rmdir(locked), 0);

	assert_int_equal(write(go, "x", 1), 1); /* 'x': the child just exits */
	close(go);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(rmdir(fresh), 0);
	assert_int_equal(rmdir(busy), 0);
	assert_int_equal(al_cgroup_destroy(&cg, &err), 0);
}

/* Of v2, what this host's unified hierarchy supports even without
 * controllers: the directory, CLONE_INTO_CGROUP through clone_fd,
 * cgroup.kill, removal. The limits need memory/pids/cpu, which are bound
 * to v1 here, so lim is NULL. */
static void test_v2_real_clone_into(void **state)
{
	struct al_cg_layout lay;
	static struct al_cgroup cg; /* static: the teardown may see it */
	struct al_error err;
	char id[64], line[PATH_MAX], want[PATH_MAX], path[64];
	int go[2], status;
	pid_t pid;

	if (geteuid() != 0 || al_cg_detect_layout("/sys/fs/cgroup", true, &lay, &err) < 0 ||
	    lay.unified[0] == '\0') {
		skip_because("needs root and a mounted cgroup2 hierarchy");
		return;
	}
	unit_run_id(id, sizeof id, "v2");
	al_cg_init(&cg);
	live = &cg;
	assert_int_equal(al_cg_v2_create(&cg, lay.unified, "/", id, NULL, &err), 0);
	assert_string_equal(cg.ops->mode, "v2");
	assert_true(al_cgroup_clone_fd(&cg) >= 0);

	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	{
		struct clone_args args = {0};
		args.flags = CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (uint64_t)al_cgroup_clone_fd(&cg);
		pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	}
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		(void)!read(go[0], &c, 1);
		pause();
		_exit(0);
	}
	close(go[0]);
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	assert_true(al_read_file_at(AT_FDCWD, path, line, sizeof line) > 0);
	snprintf(want, sizeof want, "0::/airlock/%s\n", id);
	assert_non_null(strstr(line, want));
	assert_int_equal(write(go[1], "s", 1), 1);
	close(go[1]);

	if (cg.has_kill_file)
		assert_int_equal(al_cgroup_kill(&cg, &err), 0);
	else
		assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(al_cgroup_destroy(&cg, &err), 0);
	assert_int_equal(access(cg.v2.path, F_OK), -1);
	al_cg_undo(&cg);
}

/* v2 with limits on a hierarchy lacking the controllers (this host's
 * unified tree has only hugetlb): fail closed, naming the controller and
 * the cgroup, and leave nothing behind. */
static void test_v2_real_missing_controller_fails_closed(void **state)
{
	struct al_cg_layout lay;
	struct al_limits lim = {.memory = 64 * MiB, .pids = 8, .cpus = 1};
	static struct al_cgroup cg;
	struct al_error err;
	char have[256], id[64], path[PATH_MAX + 80];

	if (geteuid() != 0 || al_cg_detect_layout("/sys/fs/cgroup", true, &lay, &err) < 0 ||
	    lay.unified[0] == '\0') {
		skip_because("needs root and a mounted cgroup2 hierarchy");
		return;
	}
	snprintf(path, sizeof path, "%s/cgroup.controllers", lay.unified);
	assert_true(al_read_file_at(AT_FDCWD, path, have, sizeof have) >= 0);
	if (strstr(have, "memory") != NULL) {
		skip_because("the memory controller is on v2 here: nothing is missing");
		return;
	}
	unit_run_id(id, sizeof id, "v2missing");
	al_cg_init(&cg);
	live = &cg;
	assert_int_equal(al_cg_v2_create(&cg, lay.unified, "/", id, &lim, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "memory controller is not available"));
	assert_non_null(strstr(err.msg, lay.unified));
	assert_null(cg.ops);
	snprintf(path, sizeof path, "%s/airlock/%s", lay.unified, id);
	assert_int_equal(access(path, F_OK), -1);
}

/* The front end on a real, pure cgroup2 layout: in a private mount
 * namespace a cgroup2 hierarchy is mounted on an empty directory and handed
 * to prepare as the root. Here its controllers are bound to v1, so the v2
 * path must refuse with the v2 delegation advice, or -- degradation
 * accepted -- fall back to rlimits only and say why. Checks run in a child
 * (the namespace is its own) and report by exit status. */
static int v2_frontend_child(void)
{
	char dir[] = "/tmp/al-cg2-XXXXXX";
	struct al_cg_layout lay;
	struct al_spec spec;
	struct al_cgroup *cg = NULL;
	struct al_error err;
	struct al_buf b;
	struct al_json j;
	int r;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 10;
	if (mkdtemp(dir) == NULL || mount("cgroup2", dir, "cgroup2", 0, NULL) < 0)
		return 11;
	if (al_cg_detect_layout(dir, true, &lay, &err) < 0 || lay.kind != AL_CG_LAYOUT_V2 ||
	    strcmp(lay.unified, dir) != 0)
		return 12;
	memset(&spec, 0, sizeof spec);
	spec.limits = (struct al_limits){.memory = 64 * MiB, .pids = 8, .cpus = 1};
	r = al_cg_prepare_at(&cg, &spec, "unittest-v2front", dir, &err);
	if (r != -ENODEV || cg != NULL)
		return 13;
	if (!strstr(err.msg, "cgroup2 subtree") || !strstr(err.msg, "--allow-degraded cgroup") ||
	    !strstr(err.msg, "memory controller is not available")) {
		fprintf(stderr, "message: %s\n", err.msg);
		return 14;
	}
	spec.allow_degraded = AL_DEGRADE_CGROUP;
	r = al_cg_prepare_at(&cg, &spec, "unittest-v2front", dir, &err);
	if (r != 0 || cg == NULL || strcmp(al_cgroup_mode(cg), "none (rlimits only)") != 0)
		return 15;
	if (al_cgroup_clone_fd(cg) != -1 || al_cgroup_event_fd(cg) != -1 ||
	    al_cgroup_attach(cg, getpid(), &err) != 0 || al_cgroup_destroy(cg, &err) != 0)
		return 16;
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_cgroup_describe(cg, &j);
	if (!strstr(b.data, "\"degraded\":true") ||
	    !strstr(b.data, "memory controller is not available"))
		return 17;
	al_buf_free(&b);
	al_cgroup_free(cg);
	umount(dir);
	rmdir(dir);
	return 0;
}

static void test_v2_frontend_in_private_mount(void **state)
{
	int status;
	pid_t pid;
	if (geteuid() != 0) {
		skip_because("mounting a cgroup2 hierarchy needs root");
		return;
	}
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
		char have[256];
		al_read_file_at(AT_FDCWD, "/sys/fs/cgroup/cgroup.controllers", have, sizeof have);
		if (strstr(have, "memory")) {
			skip_because("a real v2 host: test_prepare_real covers prepare there");
			return;
		}
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(v2_frontend_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* chaos steps on a real v1 cgroup: memory down and back up (memsw kept
 * equal, in the order the kernel accepts), pids, cpus. */
static void test_v1_real_update(void **state)
{
	struct al_cg_layout lay;
	char self[8192], buf[256], id[64];
	struct al_limits lim = {.memory = 64 * MiB, .pids = 16, .cpus = 1};
	static struct al_cgroup cg; /* static: the teardown may see it */
	struct al_error err;

	if (!real_v1(&lay, self, sizeof self)) {
		skip_because("needs root on a host with v1 hierarchies");
		return;
	}
	unit_run_id(id, sizeof id, "update");
	al_cg_init(&cg);
	live = &cg;
	assert_int_equal(al_cg_v1_create(&cg, &lay, self, id, &lim, &err), 0);
	lim.memory = 32 * MiB;
	assert_int_equal(al_cgroup_update(&cg, AL_CGROUP_SET_MEMORY, &lim, &err), 0);
	read_in(&cg.dirs[AL_CG1_MEMORY], "memory.limit_in_bytes", buf, sizeof buf);
	assert_int_equal(strtoull(buf, NULL, 10), 32 * MiB);
	if (read_in_opt(&cg.dirs[AL_CG1_MEMORY], "memory.memsw.limit_in_bytes", buf, sizeof buf))
		assert_int_equal(strtoull(buf, NULL, 10), 32 * MiB);
	lim.memory = 128 * MiB; /* raising: memsw first, or the kernel refuses */
	assert_int_equal(al_cgroup_update(&cg, AL_CGROUP_SET_MEMORY, &lim, &err), 0);
	read_in(&cg.dirs[AL_CG1_MEMORY], "memory.limit_in_bytes", buf, sizeof buf);
	assert_int_equal(strtoull(buf, NULL, 10), 128 * MiB);
	lim.pids = 5;
	lim.cpus = 0.2;
	assert_int_equal(al_cgroup_update(&cg, AL_CGROUP_SET_PIDS | AL_CGROUP_SET_CPUS, &lim, &err), 0);
	read_in(&cg.dirs[AL_CG1_PIDS], "pids.max", buf, sizeof buf);
	assert_string_equal(buf, "5\n");
	read_in(&cg.dirs[AL_CG1_CPU], "cpu.cfs_quota_us", buf, sizeof buf);
	assert_string_equal(buf, "20000\n");
	/* a policy kill: the dying processes get the CPU, the limits as recorded */
	assert_int_equal(al_cgroup_kill_boost(&cg, &err), 0);
	read_in(&cg.dirs[AL_CG1_CPU], "cpu.cfs_quota_us", buf, sizeof buf);
	assert_string_equal(buf, "-1\n");
	read_in(&cg.dirs[AL_CG1_CPU], "cpu.shares", buf, sizeof buf);
	assert_string_equal(buf, "262144\n");
	assert_true(cg.lim.cpus > 0.19 && cg.lim.cpus < 0.21);
	assert_int_equal(al_cgroup_destroy(&cg, &err), 0);
	al_cg_undo(&cg);
}

/* chaos resource steps through the v2 back end's update, on a plain
 * directory standing in for the run's cgroup (the files are what the kernel
 * would be told; no controller is needed). */
static void read_small(const char *dir, const char *file, char *buf, size_t n)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	ssize_t r = al_read_file_at(AT_FDCWD, path, buf, n);
	assert_true(r >= 0);
	buf[r] = '\0';
}

static void touch_in(const char *dir, const char *file)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void test_v2_update_files(void **state)
{
	char tmpl[] = "/tmp/airlock-cg-v2-XXXXXX", buf[128];
	struct al_cgroup cg;
	struct al_limits lim = {0};
	struct al_error err = {0};

	assert_non_null(mkdtemp(tmpl));
	al_cg_init(&cg);
	if (al_cg_v2_create(&cg, tmpl, "/", "chaos", NULL, &err) < 0) {
		skip_because("the v2 back end needs a cgroup file system to create in");
		return;
	}
	touch_in(cg.v2.path, "memory.max");
	touch_in(cg.v2.path, "pids.max");
	touch_in(cg.v2.path, "cpu.max");
	lim.memory = 256ull << 20;
	lim.pids = 32;
	lim.cpus = 0.2;
	assert_int_equal(al_cgroup_update(&cg, AL_CGROUP_SET_MEMORY, &lim, &err), 0);
	read_small(cg.v2.path, "memory.max", buf, sizeof buf);
	assert_string_equal(buf, "268435456");
	read_small(cg.v2.path, "pids.max", buf, sizeof buf);
	assert_string_equal(buf, ""); /* not named: untouched */
	assert_int_equal(al_cgroup_update(&cg, AL_CGROUP_SET_PIDS | AL_CGROUP_SET_CPUS, &lim, &err), 0);
	read_small(cg.v2.path, "pids.max", buf, sizeof buf);
	assert_string_equal(buf, "32");
	read_small(cg.v2.path, "cpu.max", buf, sizeof buf);
	assert_string_equal(buf, "20000 100000");
	assert_int_equal(cg.lim.pids, 32);
	/* a policy kill lifts the quota and raises the weight; the recorded
	 * limit stays what it was */
	touch_in(cg.v2.path, "cpu.weight");
	touch_in(cg.v2.path, "cpu.max"); /* (a plain file keeps a longer old value's tail) */
	assert_int_equal(al_cgroup_kill_boost(&cg, &err), 0);
	read_small(cg.v2.path, "cpu.max", buf, sizeof buf);
	assert_string_equal(buf, "max 100000");
	read_small(cg.v2.path, "cpu.weight", buf, sizeof buf);
	assert_string_equal(buf, "10000");
	assert_true(cg.lim.cpus > 0.19 && cg.lim.cpus < 0.21);
	/* a file the kernel would lack is an error naming it, not a silent skip */
	{
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/memory.max", cg.v2.path);
		unlink(path);
		snprintf(path, sizeof path, "%s/pids.max", cg.v2.path);
		unlink(path);
		snprintf(path, sizeof path, "%s/cpu.max", cg.v2.path);
		unlink(path);
	}
	assert_true(al_cgroup_update(&cg, AL_CGROUP_SET_MEMORY, &lim, &err) < 0);
	assert_non_null(strstr(err.msg, "memory.max"));
	al_cg_undo(&cg);
	{
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
		assert_int_equal(system(cmd), 0);
	}
}

/* no cgroup at all (rlimits-only mode): a step cannot land, and says so */
static void test_update_without_cgroup(void **state)
{
	struct al_limits lim = {.memory = 1};
	struct al_error err = {0};
	assert_int_equal(al_cgroup_update(NULL, AL_CGROUP_SET_MEMORY, &lim, &err), -ENOTSUP);
	assert_int_equal(al_cgroup_kill_boost(NULL, &err), 0); /* nothing to boost */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_detect_v2, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_detect_v1_comounted, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_detect_hybrid, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_detect_none, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_detect_checks_fs_type, fake_setup, fake_teardown),
	    cmocka_unit_test(test_self_path),
	    cmocka_unit_test(test_cpu_quota),
	    cmocka_unit_test(test_keyed),
	    cmocka_unit_test_teardown(test_v1_real_pids, real_teardown),
	    cmocka_unit_test_teardown(test_v1_real_oom, real_teardown),
	    cmocka_unit_test_teardown(test_prepare_real, real_teardown),
	    cmocka_unit_test_teardown(test_v1_real_collects_stale, real_teardown),
	    cmocka_unit_test_teardown(test_v2_real_clone_into, real_teardown),
	    cmocka_unit_test_teardown(test_v2_real_missing_controller_fails_closed, real_teardown),
	    cmocka_unit_test(test_v2_frontend_in_private_mount),
	    cmocka_unit_test(test_v2_update_files),
	    cmocka_unit_test_teardown(test_v1_real_update, real_teardown),
	    cmocka_unit_test(test_update_without_cgroup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
