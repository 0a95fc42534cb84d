/* The run's chaos: preparing the diverted seccomp program, answering the
 * diverted calls on the listener (inject or continue), and walking the
 * resource schedule. Every fault and step becomes a `chaos` record. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "chaos/chaos.h"
#include "sandbox/seccomp.h"
#include "supervisor/notify.h"
#include "util/cleanup.h"

/* chaos records per run; beyond, faults are still injected and counted */
#define AL_CHAOS_RECORDS 10000

struct al_chaos {
	const struct al_chaos_spec *cs;
	uint64_t seed; /* in use: the spec's, or drawn at random (recorded in run_start) */
	struct al_chaos_schedule sched;
	struct sock_filter *base; /* the policy program before the diversion */
	size_t n_base;
	size_t next_step;
	uint64_t diverted; /* calls that reached chaos */
	uint64_t faults;   /* injected */
	uint64_t records;
	uint64_t unrecorded;
	uint64_t steps_applied;
	uint64_t skewed_calls; /* clock syscalls answered with the realtime skew */
	pid_t init_pid;        /* the sandbox init (host pid): exempt */
	bool workload_execd;   /* the workload's first exec was seen: airlock's own pre-exec
	                        * code in the forked child is over */
	char path[PATH_MAX * 2 + 2];
};

static bool policy_allows(const char *name)
{
	size_t n;
	const struct al_seccomp_rule *rules = al_seccomp_rules(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(rules[i].name, name) == 0 && rules[i].action == AL_SC_ALLOW)
			return true;
	return false;
}

int al_chaos_prepare(struct al_chaos **out, const struct al_spec *spec, struct al_seccomp *sc,
                     bool rootless, struct al_error *err)
{
	const struct al_chaos_spec *cs = &spec->chaos;
	struct al_chaos *c;
	int nrs[AL_CHAOS_MAX_SYSCALLS + 3];
	size_t n_nrs = 0;
	int r;

	*out = NULL;
	/* network chaos alone is the egress proxy's business */
	if (!cs->enabled || (cs->n_syscalls == 0 && cs->n_steps == 0 && cs->clock_offset_ns == 0 &&
	                     cs->realtime_skew_ns == 0))
		return 0;
	/* Resizing a tmpfs inside the sandbox takes CAP_SYS_ADMIN over its
	 * mount namespace (fspick); a rootless supervisor has none there, and
	 * the init has dropped its own before the workload runs. */
	for (size_t i = 0; rootless && i < cs->n_steps; i++)
		if (cs->steps[i].what & AL_CHAOS_RES_DISK)
			return al_error_set(
			    err, EPERM, "chaos",
			    "chaos.resources[%zu].disk: shrinking the writable areas "
			    "needs a rootful airlock (the supervisor must hold "
			    "CAP_SYS_ADMIN over the sandbox's mount namespace)",
			    i);
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return al_error_set(err, ENOMEM, "chaos", "allocating");
	c->cs = cs;
	if (cs->clock_offset_ns != 0 && access("/proc/self/ns/time", F_OK) != 0) {
		free(c);
		return al_error_set(err, ENOSYS, "chaos",
		                    "chaos.clock.offset needs time namespaces, which this kernel "
		                    "lacks");
	}
	/* no seed given: a random one, recorded in run_start so the run can be
	 * replayed (the egress proxy draws its own for network chaos) */
	c->seed = cs->seed;
	if (!cs->seed_set && getrandom(&c->seed, sizeof c->seed, 0) != (ssize_t)sizeof c->seed) {
		free(c);
		return al_error_errno(err, "chaos", "getrandom for the seed");
	}
	r = al_chaos_schedule_init(&c->sched, cs, c->seed, err);
	if (r < 0) {
		free(c);
		return r;
	}
	for (size_t i = 0; i < c->sched.n_rules; i++) {
		const char *name = cs->syscalls[i].syscall;
		bool dup = false;
		/* A fault replaces a call the policy lets through; a call the
		 * policy refuses already fails (and is recorded as denied). */
		if (!policy_allows(name)) {
			al_chaos_free(c);
			return al_error_set(
			    err, EINVAL, "chaos",
			    "chaos.syscalls[%zu]: %s is not allowed by the sandbox's "
			    "seccomp policy, so there is no call to fail "
			    "(docs/seccomp.md lists the allowed ones)",
			    i, name);
		}
		for (size_t j = 0; j < n_nrs; j++)
			dup |= nrs[j] == c->sched.rules[i].nr;
		if (!dup)
			nrs[n_nrs++] = c->sched.rules[i].nr;
	}
	/* realtime skew: the real clock syscalls (what the vDSO does not answer) */
	if (cs->realtime_skew_ns) {
		static const int clock_nrs[] = {SYS_clock_gettime, SYS_gettimeofday, SYS_time};
		for (size_t k = 0; k < AL_ARRAY_SIZE(clock_nrs); k++) {
			bool dup = false;
			for (size_t j = 0; j < n_nrs; j++)
				dup |= nrs[j] == clock_nrs[k];
			if (!dup)
				nrs[n_nrs++] = clock_nrs[k];
		}
	}
	if (n_nrs > 0) {
		size_t n;
		const void *prog;
		if (sc == NULL) {
			al_chaos_free(c);
			return al_error_set(err, EINVAL, "chaos",
			                    "chaos syscall faults need the seccomp filter");
		}
		prog = al_seccomp_program(sc, &n);
		c->base = malloc(n * sizeof *c->base);
		if (c->base == NULL) {
			al_chaos_free(c);
			return al_error_set(err, ENOMEM, "chaos", "copying the seccomp program");
		}
		memcpy(c->base, prog, n * sizeof *c->base);
		c->n_base = n;
		r = al_seccomp_divert_to_listener(sc, nrs, n_nrs, err);
		if (r < 0) {
			al_chaos_free(c);
			return r;
		}
	}
	*out = c;
	return 0;
}

void al_chaos_set_init_pid(struct al_chaos *c, pid_t pid)
{
	c->init_pid = pid;
}

void al_chaos_free(struct al_chaos *c)
{
	if (c == NULL)
		return;
	al_chaos_schedule_free(&c->sched);
	free(c->base);
	free(c);
}

/* ---- the listener side ---- */

/* A NUL-terminated string from the target, page by page (a string may end
 * right before an unmapped page). false when unreadable or longer than cap. */
static bool read_target_string(pid_t pid, uint64_t addr, char *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		size_t page_left = 4096 - ((addr + got) & 4095), want = cap - got;
		struct iovec l, rm;
		ssize_t n;
		if (want > page_left)
			want = page_left;
		l = (struct iovec){buf + got, want};
		rm = (struct iovec){(void *)(uintptr_t)(addr + got), want};
		n = process_vm_readv(pid, &l, 1, &rm, 1, 0);
		if (n <= 0)
			return false;
		if (memchr(buf + got, '\0', (size_t)n))
			return true;
		got += (size_t)n;
	}
	return false;
}

/* The path the call names, made absolute as the target sees it: relative
 * paths are joined to its cwd or to its dirfd's path, read from /proc
 * (lexically; no normalisation of `..`). Racy by nature (the target's other
 * threads can change the memory or the cwd after we read), which is
 * harmless here: the worst a race can do is make chaos fail a call it
 * would not have failed, or let one through -- chaos only ever makes calls
 * fail, and the policy and Landlock decide on the real call. NULL when
 * unreadable. */
static const char *call_path(struct al_chaos *c, const struct seccomp_notif *req, int arg,
                             int dirfd_arg)
{
	char *buf = c->path, rel[PATH_MAX], link[64];
	ssize_t n;
	int dirfd = dirfd_arg >= 0 ? (int)req->data.args[dirfd_arg] : AT_FDCWD;

	if (!read_target_string((pid_t)req->pid, req->data.args[arg], rel, sizeof rel))
		return NULL;
	if (rel[0] == '/') {
		memcpy(buf, rel, strlen(rel) + 1);
		return buf;
	}
	if (dirfd == AT_FDCWD)
		snprintf(link, sizeof link, "/proc/%u/cwd", req->pid);
	else
		snprintf(link, sizeof link, "/proc/%u/fd/%d", req->pid, dirfd);
	n = readlink(link, buf, PATH_MAX);
	if (n <= 0 || n >= PATH_MAX || buf[0] != '/')
		return NULL;
	if (rel[0] == '\0') /* AT_EMPTY_PATH: the dirfd itself */
		buf[n] = '\0';
	else
		snprintf(buf + n, sizeof c->path - (size_t)n, "%s%s", n > 1 ? "/" : "", rel);
	return buf;
}

static int record_fault(struct al_chaos *c, struct al_notify *n, const struct seccomp_notif *req,
                        const struct al_chaos_decision *d, const char *path, struct al_error *err)
{
	struct al_buf b;
	struct al_json j;
	int r;

	if (c->records >= AL_CHAOS_RECORDS) {
		c->unrecorded++;
		if (c->unrecorded > 1)
			return 0;
		return al_notify_record(n, "chaos",
		                        "{\"kind\":\"records_capped\",\"reason\":\"more than "
		                        "10000 chaos records; further faults are only counted\"}",
		                        err);
	}
	c->records++;
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	/* the deterministic part first, under one key: same seed, same calls,
	 * same `decision`, byte for byte */
	al_json_key(&j, "decision");
	al_chaos_decision_json(&c->sched, d, path, &j);
	al_notify_pid_fields(n, &j, (pid_t)req->pid);
	al_json_key(&j, "args");
	al_json_arr_begin(&j);
	for (int i = 0; i < 6; i++)
		al_json_uint(&j, req->data.args[i]);
	al_json_arr_end(&j);
	al_json_obj_end(&j);
	r = b.oom ? al_error_set(err, ENOMEM, "chaos", "building a chaos record")
	          : al_notify_record(n, "chaos", b.data, err);
	al_buf_free(&b);
	return r;
}

static bool is_clock_call(int nr)
{
	return nr == SYS_clock_gettime || nr == SYS_gettimeofday || nr == SYS_time;
}

/* Writing into a target is only safe into *that* target: a notification
 * whose process died meanwhile may name a pid the host has reused. So the
 * target's memory is opened first (/proc/PID/mem pins the address space it
 * opened), and only if the notification is still pending after the open --
 * the target alive, so the pid was still its own at the open -- is the fd
 * used. -ESRCH: the target is gone (nothing to answer). */
static int open_target_mem(struct al_notify *n, const struct seccomp_notif *req)
{
	char path[64];
	int fd;

	snprintf(path, sizeof path, "/proc/%u/mem", req->pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return al_notify_valid(n, req->id) ? -errno : -ESRCH;
	if (!al_notify_valid(n, req->id)) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

static int write_target(int memfd, uint64_t addr, const void *src, size_t len)
{
	if (addr == 0 || addr > UINT64_MAX - len)
		return -EFAULT;
	return pwrite(memfd, src, len, (off_t)addr) == (ssize_t)len ? 0 : -EFAULT;
}

/* CLOCK_REALTIME (and its coarse and TAI forms) of the real syscalls, plus
 * the skew: the supervisor reads the host's clock, adds the skew and writes
 * the result where the call asked for it, then answers for the kernel (the
 * call is not run). Another clock id: the call runs as asked. Returns 1
 * answered, 0 to continue, <0 on a failed answer. */
static int answer_clock(struct al_chaos *c, struct al_notify *n, const struct seccomp_notif *req,
                        struct al_error *err)
{
	int64_t skew = c->cs->realtime_skew_ns;
	struct timespec ts;
	int64_t ns;
	int r = 0, memfd;

	if (req->data.nr == SYS_clock_gettime) {
		clockid_t id = (clockid_t)req->data.args[0];
		if (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE && id != CLOCK_TAI)
			return 0;
		clock_gettime(id, &ts);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
	}
	ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + skew;
	memfd = open_target_mem(n, req);
	if (memfd == -ESRCH)
		return 1; /* gone: the answer would find no one */
	if (memfd < 0) {
		/* alive but not writable by us: the skew cannot be given, so
		 * the run stops (the call is answered so nothing hangs) */
		al_notify_respond(n, req->id, -EPERM, 0, err);
		errno = -memfd;
		return al_error_errno(err, "chaos", "opening /proc/%u/mem for the realtime skew",
		                      req->pid);
	}
	c->skewed_calls++;
	if (req->data.nr == SYS_clock_gettime) {
		struct timespec out = {ns / 1000000000LL, ns % 1000000000LL};
		if (out.tv_nsec < 0) {
			out.tv_nsec += 1000000000L;
			out.tv_sec--;
		}
		r = write_target(memfd, req->data.args[1], &out, sizeof out);
		r = r < 0 ? al_notify_respond(n, req->id, r, 0, err)
		          : al_notify_respond_value(n, req->id, 0, err);
	} else if (req->data.nr == SYS_gettimeofday) {
		struct timeval tv = {ns / 1000000000LL, (ns % 1000000000LL) / 1000};
		struct timezone tz = {0, 0};
		if (tv.tv_usec < 0) {
			tv.tv_usec += 1000000;
			tv.tv_sec--;
		}
		if (req->data.args[1]) {
			struct timeval unused;
			gettimeofday(&unused,
			             &tz); /* the kernel's sys_tz, as the call would give */
		}
		if (req->data.args[0])
			r = write_target(memfd, req->data.args[0], &tv, sizeof tv);
		if (r == 0 && req->data.args[1])
			r = write_target(memfd, req->data.args[1], &tz, sizeof tz);
		r = r < 0 ? al_notify_respond(n, req->id, r, 0, err)
		          : al_notify_respond_value(n, req->id, 0, err);
	} else {
		int64_t t = ns / 1000000000LL - (ns % 1000000000LL < 0);
		if (req->data.args[0])
			r = write_target(memfd, req->data.args[0], &t, sizeof t);
		r = r < 0 ? al_notify_respond(n, req->id, r, 0, err)
		          : al_notify_respond_value(n, req->id, t, err);
	}
	close(memfd);
	return r < 0 ? r : 1;
}

int al_chaos_notify(void *ctx, struct al_notify *n, const struct seccomp_notif *req,
                    struct al_error *err)
{
	struct al_chaos *c = ctx;
	struct al_chaos_decision d;
	const char *path = NULL;
	bool needs_path;
	uint32_t act;
	int r, arg = -1, dirfd_arg = -1;

	bool skew = c->cs->realtime_skew_ns && is_clock_call((int)req->data.nr);

	/* Between the init's fork and the workload's exec, the child runs
	 * airlock's own code (signal resets, setsid, the exec error report):
	 * not under test. The first exec notification ends that window. */
	if (!c->workload_execd) {
		if ((req->data.nr == SYS_execve || req->data.nr == SYS_execveat) &&
		    (pid_t)req->pid != c->init_pid)
			c->workload_execd = true;
		else if ((pid_t)req->pid != c->init_pid &&
		         (skew ||
		          al_chaos_schedule_wants(&c->sched, (int)req->data.nr, &needs_path)) &&
		         (al_bpf_run(c->base, c->n_base, &req->data) & SECCOMP_RET_ACTION_FULL) ==
		             SECCOMP_RET_ALLOW) {
			r = al_notify_respond(n, req->id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE, err);
			return r < 0 ? r : 1;
		}
	}
	if (!al_chaos_schedule_wants(&c->sched, (int)req->data.nr, &needs_path) && !skew)
		return 0;
	/* What the policy itself says comes first: only a call it allows is
	 * chaos's to fail; a denied one goes to the denial handling. */
	act = al_bpf_run(c->base, c->n_base, &req->data);
	if ((act & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO) {
		r = al_notify_respond(n, req->id, -(int)(act & SECCOMP_RET_DATA), 0, err);
		return r < 0 ? r : 1;
	}
	if ((act & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ALLOW)
		return 0;
	if (c->init_pid > 0 && (pid_t)req->pid == c->init_pid) {
		/* the init is not under test: its calls run as asked, uncounted */
		r = al_notify_respond(n, req->id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE, err);
		return r < 0 ? r : 1;
	}
	c->diverted++;
	if (needs_path) {
		for (size_t i = 0; i < c->sched.n_rules; i++)
			if (c->sched.rules[i].nr == (int)req->data.nr &&
			    c->sched.rules[i].path_arg >= 0) {
				arg = c->sched.rules[i].path_arg;
				dirfd_arg = c->sched.rules[i].dirfd_arg;
			}
		path = call_path(c, req, arg, dirfd_arg);
		/* read by pid: only the target's if it is still waiting now (a
		 * recycled pid would have let us read some other process) */
		if (!al_notify_valid(n, req->id))
			return 1;
	}
	if (!al_chaos_schedule_decide(&c->sched, (int)req->data.nr, path, &d) || !d.inject) {
		if (skew) {
			r = answer_clock(c, n, req, err);
			if (r != 0)
				return r;
		}
		/* CONTINUE: the kernel runs the call with its own arguments; we
		 * decided on a copy, which is fine for a decision that only ever
		 * makes a call fail (seccomp_unotify(2) on CONTINUE). */
		r = al_notify_respond(n, req->id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE, err);
		return r < 0 ? r : 1;
	}
	c->faults++;
	/* recorded before it takes effect: the log never misses a fault the
	 * workload saw */
	r = record_fault(c, n, req, &d, path, err);
	if (r < 0) {
		al_notify_respond(n, req->id, -d.err, 0, err);
		return al_error_wrap(err, "recording a chaos fault");
	}
	r = al_notify_respond(n, req->id, -d.err, 0, err);
	return r < 0 ? r : 1;
}

/* ---- the resource schedule ---- */

uint64_t al_chaos_next_step_ns(const struct al_chaos *c)
{
	if (c == NULL || c->next_step >= c->cs->n_steps)
		return UINT64_MAX;
	return c->cs->steps[c->next_step].at_ns;
}

static void step_decision_json(const struct al_chaos_step *st, size_t i, struct al_json *j)
{
	al_json_obj_begin(j);
	al_json_kv_str(j, "kind", "resource");
	al_json_kv_uint(j, "step", i);
	al_json_kv_uint(j, "at_ns", st->at_ns);
	if (st->what & AL_CHAOS_RES_MEMORY)
		al_json_kv_uint(j, "memory", st->memory);
	if (st->what & AL_CHAOS_RES_CPUS) {
		al_json_key(j, "cpus");
		al_json_double(j, st->cpus);
	}
	if (st->what & AL_CHAOS_RES_PIDS)
		al_json_kv_uint(j, "pids", st->pids);
	if (st->what & AL_CHAOS_RES_DISK)
		al_json_kv_uint(j, "disk", st->disk);
	al_json_obj_end(j);
}

int al_chaos_steps_due(struct al_chaos *c, uint64_t elapsed_ns, al_chaos_apply_fn apply,
                       al_chaos_record_fn record, void *ctx, struct al_error *err)
{
	while (c && c->next_step < c->cs->n_steps &&
	       c->cs->steps[c->next_step].at_ns <= elapsed_ns) {
		size_t i = c->next_step++;
		const struct al_chaos_step *st = &c->cs->steps[i];
		struct al_error aerr = {0};
		struct al_buf b;
		struct al_json j;
		int ra, r;

		ra = apply(ctx, st, &aerr);
		al_buf_init(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_key(&j, "decision");
		step_decision_json(st, i, &j);
		al_json_kv_bool(&j, "applied", ra == 0);
		if (ra < 0)
			al_json_kv_str(&j, "error", aerr.msg);
		al_json_kv_int(&j, "late_ns", (int64_t)(elapsed_ns - st->at_ns));
		al_json_obj_end(&j);
		r = b.oom ? al_error_set(err, ENOMEM, "chaos", "building a chaos record")
		          : record(ctx, b.data, err);
		al_buf_free(&b);
		if (r < 0)
			return r;
		/* a squeeze that did not happen is a run that did not get the
		 * chaos it asked for: fail closed */
		if (ra < 0) {
			*err = aerr;
			return al_error_wrap(err, "chaos.resources[%zu]", i);
		}
		c->steps_applied++;
	}
	return 0;
}

/* ---- descriptions ---- */

void al_chaos_describe_start(const struct al_chaos *c, struct al_json *j)
{
	const struct al_chaos_spec *cs = c->cs;

	al_json_obj_begin(j);
	al_json_kv_uint(j, "seed", c->seed);
	al_json_kv_bool(j, "seed_given", cs->seed_set);
	al_json_kv_uint(j, "syscall_rules", cs->n_syscalls);
	al_json_kv_uint(j, "resource_steps", cs->n_steps);
	al_json_kv_int(j, "clock_offset_ns", cs->clock_offset_ns);
	al_json_kv_int(j, "realtime_skew_ns", cs->realtime_skew_ns);
	al_json_obj_end(j);
}

void al_chaos_describe(const struct al_chaos *c, struct al_json *j)
{
	al_json_obj_begin(j);
	al_json_kv_uint(j, "diverted_calls", c->diverted);
	al_json_kv_uint(j, "faults", c->faults);
	al_json_kv_uint(j, "faults_unrecorded", c->unrecorded);
	al_json_kv_uint(j, "steps_applied", c->steps_applied);
	al_json_kv_uint(j, "realtime_skewed_calls", c->skewed_calls);
	al_json_key(j, "by_rule");
	al_json_arr_begin(j);
	for (size_t i = 0; i < c->sched.n_rules; i++) {
		al_json_obj_begin(j);
		al_json_kv_str(j, "syscall", c->sched.rules[i].rule->syscall);
		al_json_kv_uint(j, "calls", c->sched.rules[i].calls);
		al_json_kv_uint(j, "injected", c->sched.rules[i].injected);
		al_json_obj_end(j);
	}
	al_json_arr_end(j);
	al_json_obj_end(j);
}
