/* The supervisor's side of chaos resource steps: a timerfd in the event
 * loop, armed at the absolute monotonic time of the next step, and the
 * application of a step to the live cgroup and the writable tmpfs areas.
 * The schedule itself (which step, its record) is src/chaos/. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "chaos/chaos.h"
#include "evidence/evlog.h"
#include "supervisor/supervisor.h"
#include "util/timeutil.h"

#ifndef FSPICK_EMPTY_PATH
#define FSPICK_CLOEXEC 0x00000001
#define FSPICK_EMPTY_PATH 0x00000008
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_RECONFIGURE 7
#endif

static int arm(struct al_supervisor *s, struct al_error *err)
{
	uint64_t due = al_chaos_next_step_ns(s->chaos), at;
	struct itimerspec t = {0};

	if (due == UINT64_MAX)
		return 0; /* nothing left: the timer stays disarmed */
	at = s->t_ready_ns + due;
	if (at == 0)
		at = 1; /* an all-zero value would disarm it */
	t.it_value.tv_sec = (time_t)(at / 1000000000ull);
	t.it_value.tv_nsec = (long)(at % 1000000000ull);
	if (timerfd_settime(s->chaos_timerfd, TFD_TIMER_ABSTIME, &t, NULL) < 0)
		return al_error_errno(err, "chaos", "arming the resource schedule timer");
	return 0;
}

/* A writable tmpfs area, resized through its superblock (fspick +
 * fsconfig reconfigure: the mount's own flags -- nosuid, nodev -- are not
 * touched, as a MS_REMOUNT would). The supervisor holds an O_PATH handle on
 * each area from the init. It needs CAP_SYS_ADMIN over the sandbox's mount
 * namespace: rootful only (the spec check refuses disk steps rootless).
 * tmpfs refuses a size below what is in use (EINVAL). */
static int resize_disks(struct al_supervisor *s, uint64_t bytes, struct al_error *err)
{
	char val[32];

	snprintf(val, sizeof val, "%llu", (unsigned long long)bytes);
	if (s->n_disk_fds == 0)
		return al_error_set(err, ENOENT, "chaos", "no writable tmpfs area to resize");
	for (size_t i = 0; i < s->n_disk_fds; i++) {
		int fs =
		    (int)syscall(SYS_fspick, s->disk[i].fd, "", FSPICK_CLOEXEC | FSPICK_EMPTY_PATH);
		if (fs < 0)
			return al_error_errno(err, "chaos", "fspick %s", s->disk[i].path);
		if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", val, 0) < 0 ||
		    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0) {
			int e = errno;
			close(fs);
			return al_error_set(err, e, "chaos", "resizing %s to %s bytes: %s",
			                    s->disk[i].path, val, strerror(e));
		}
		close(fs);
	}
	return 0;
}

static int apply_step(void *ctx, const struct al_chaos_step *st, struct al_error *err)
{
	struct al_supervisor *s = ctx;
	struct al_limits lim = s->spec->limits;
	unsigned what = 0;
	int r;

	if (st->what & AL_CHAOS_RES_MEMORY) {
		lim.memory = st->memory;
		what |= AL_CGROUP_SET_MEMORY;
	}
	if (st->what & AL_CHAOS_RES_PIDS) {
		lim.pids = st->pids;
		what |= AL_CGROUP_SET_PIDS;
	}
	if (st->what & AL_CHAOS_RES_CPUS) {
		lim.cpus = st->cpus;
		what |= AL_CGROUP_SET_CPUS;
	}
	if (what) {
		r = al_cgroup_update(s->cgroup, what, &lim, err);
		if (r < 0)
			return r;
	}
	if (st->what & AL_CHAOS_RES_DISK)
		return resize_disks(s, st->disk, err);
	return 0;
}

static int record(void *ctx, const char *fields, struct al_error *err)
{
	struct al_supervisor *s = ctx;
	return al_evlog_append(s->log, "chaos", fields, err);
}

int al_sv_chaos_check(struct al_supervisor *s, struct al_error *err)
{
	const struct al_chaos_spec *cs = &s->spec->chaos;

	if (s->chaos == NULL || (s->cgroup && strncmp(al_cgroup_mode(s->cgroup), "none", 4) != 0))
		return 0;
	for (size_t i = 0; i < cs->n_steps; i++)
		if (cs->steps[i].what &
		    (AL_CHAOS_RES_MEMORY | AL_CHAOS_RES_CPUS | AL_CHAOS_RES_PIDS))
			return al_error_set(
			    err, ENOTSUP, "chaos",
			    "chaos.resources[%zu]: memory, cpus and pids steps change "
			    "the run's cgroup, and this run has none (rlimits only)",
			    i);
	return 0;
}

int al_sv_chaos_start(struct al_supervisor *s, struct al_error *err)
{
	int64_t off = s->spec->chaos.clock_offset_ns, skew = s->spec->chaos.realtime_skew_ns;

	if (s->chaos && (off != 0 || skew != 0)) {
		/* the init wrote the offset before forking the workload (init.c,
		 * step_clock_offset): the workload started under it; the realtime
		 * skew is applied to each real clock syscall from now on */
		char f[220];
		snprintf(f, sizeof f,
		         "{\"decision\":{\"kind\":\"clock\",\"monotonic_offset_ns\":%lld,"
		         "\"boottime_offset_ns\":%lld,\"realtime_skew_ns\":%lld},\"applied\":true}",
		         (long long)off, (long long)off, (long long)skew);
		int r = al_evlog_append(s->log, "chaos", f, err);
		if (r < 0)
			return r;
	}
	if (s->chaos == NULL || al_chaos_next_step_ns(s->chaos) == UINT64_MAX)
		return 0;
	s->chaos_timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->chaos_timerfd < 0)
		return al_error_errno(err, "chaos", "timerfd_create");
	return arm(s, err);
}

int al_sv_chaos_fire(struct al_supervisor *s, struct al_error *err)
{
	uint64_t ticks;
	int r;

	if (read(s->chaos_timerfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
		return al_error_errno(err, "chaos", "reading the schedule timer");
	r = al_chaos_steps_due(s->chaos, al_mono_ns() - s->t_ready_ns, apply_step, record, s, err);
	if (r < 0)
		return r;
	return arm(s, err);
}
