/* The run's control groups: one interface over cgroup v2 (unified) and v1
 * (one hierarchy per controller, including hybrid hosts), in the style of
 * crun's cgroup manager -- a small table of functions per back end. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"
#include "util/json.h"

struct al_cgroup;

/* Detect the layout, create the run's cgroup(s) (<parent>/airlock/<run_id>;
 * on v1 one per hierarchy: memory, cpu, cpuacct, pids, freezer) and write
 * the limits of spec->limits: memory with no swap on top, pids, cpu quota
 * from cpus; oom.group on v2. Without a usable (delegated) cgroup this is an
 * error explaining how to delegate, unless spec->allow_degraded has
 * AL_DEGRADE_CGROUP: then *out is a cgroup in "none (rlimits only)" mode on
 * which every other call is a harmless no-op. */
int al_cgroup_prepare(struct al_cgroup **out, const struct al_spec *spec, const char *run_id,
                      struct al_error *err);

/* v2: an O_DIRECTORY fd of the run's cgroup for clone3 CLONE_INTO_CGROUP
 * (owned by cg: do not close); -1 on v1 and in none mode. */
int al_cgroup_clone_fd(const struct al_cgroup *cg);

/* v1: open the run's "tasks" file in each hierarchy (O_WRONLY, CLOEXEC)
 * into fds[0..max): they go to the sandbox init with the second go, and it
 * writes "0" to each before it forks anything, moving itself. The kernel takes its global threadgroup lock -- whose
 * first writer waits a whole RCU grace period, 3-13 ms on this machine --
 * only when another task or a whole thread group is moved (pid != 0 or
 * cgroup.procs); a single-threaded task moving itself skips it. The write
 * is checked against the credentials that opened the file (ours). Returns
 * how many fds were opened (0 on v2 and in none mode: clone3 places the
 * child there), or -errno with none left open. The caller closes them once
 * sent. */
int al_cgroup_self_attach_fds(struct al_cgroup *cg, int *fds, int max, struct al_error *err);

/* Place pid (and so everything it will fork) in the run's cgroup(s). On v1
 * (and v2 when clone3 could not use clone_fd) the supervisor calls this
 * after clone and before the child is released. */
int al_cgroup_attach(struct al_cgroup *cg, pid_t pid, struct al_error *err);

/* A pollable fd (owned by cg) that becomes readable when oom or pids events
 * may have happened; then call al_cgroup_read_events. -1 in none mode. */
int al_cgroup_event_fd(const struct al_cgroup *cg);

/* What happened since the previous call (deltas). Drains event_fd. */
struct al_cgroup_events {
	uint64_t oom_kills;       /* processes killed by the OOM killer inside */
	uint64_t pids_max_hits;   /* forks refused by pids.max */
	uint64_t memory_max_hits; /* v2: memory.events max; v1: memory.failcnt */
};
int al_cgroup_read_events(struct al_cgroup *cg, struct al_cgroup_events *ev, struct al_error *err);

/* Peaks for run_end. cpu_ns is the total CPU time of everything inside. */
struct al_cgroup_stats {
	uint64_t memory_peak; /* bytes */
	uint64_t cpu_ns;
	uint64_t pids_peak; /* kernel's pids.peak where it exists, else sampled */
};
int al_cgroup_stats(struct al_cgroup *cg, struct al_cgroup_stats *st, struct al_error *err);

/* Change limits of the live cgroup (chaos resource steps): the ones named
 * in `what` (AL_CGROUP_SET_*) take lim's values. No cgroup (rlimits-only
 * mode): -ENOTSUP. */
#define AL_CGROUP_SET_MEMORY (1u << 0)
#define AL_CGROUP_SET_PIDS (1u << 1)
#define AL_CGROUP_SET_CPUS (1u << 2)
int al_cgroup_update(struct al_cgroup *cg, unsigned what, const struct al_limits *lim,
                     struct al_error *err);

/* Kill everything inside, including processes forked while killing: v2
 * cgroup.kill (or freeze + kill on kernels before 5.14); v1 freezer FROZEN,
 * SIGKILL every pid, THAWED. Returns once no process is left, or an error. */
int al_cgroup_kill(struct al_cgroup *cg, struct al_error *err);

/* A policy kill is under way (every process inside has been sent SIGKILL):
 * let the dying processes have the CPU they need to exit -- the run's cpu
 * quota lifted (a throttled process runs its exit only in the next period)
 * and its weight raised to the maximum against the host's other load.
 * The recorded limits are unchanged. No cgroup: 0. */
int al_cgroup_kill_boost(struct al_cgroup *cg, struct al_error *err);

/* Remove the run's cgroup(s) and check they are gone; error if not. */
int al_cgroup_destroy(struct al_cgroup *cg, struct al_error *err);

/* "v2", "v1" or "none (rlimits only)". */
const char *al_cgroup_mode(const struct al_cgroup *cg);

/* A JSON object (value only: the caller writes the key) saying which limits
 * are in force and how, for run_start.protections. */
void al_cgroup_describe(const struct al_cgroup *cg, struct al_json *j);

/* Frees memory and closes fds; does not remove cgroups (see destroy). */
void al_cgroup_free(struct al_cgroup *cg);
