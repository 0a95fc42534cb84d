/* Internals shared by the cgroup front end (cgroup.c) and its two back ends
 * (cgroup_v2.c, cgroup_v1.c): the layout, the per-back-end function table,
 * the run's state, and small file helpers. Also used by the unit tests. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup/cgroup.h"

enum al_cg_layout_kind {
	AL_CG_LAYOUT_NONE = 0, /* no cgroup file system found */
	AL_CG_LAYOUT_V2,       /* pure unified hierarchy */
	AL_CG_LAYOUT_V1,       /* only v1 hierarchies */
	AL_CG_LAYOUT_HYBRID,   /* v1 hierarchies plus a (controller-less) unified one */
};

/* The v1 controllers airlock uses, each on its own hierarchy or co-mounted. */
enum al_cg1_ctl {
	AL_CG1_MEMORY = 0,
	AL_CG1_PIDS,
	AL_CG1_CPU,
	AL_CG1_CPUACCT, /* optional: only for the cpu time figure */
	AL_CG1_FREEZER, /* needed to kill without racing forks */
	AL_CG1_N,
};

struct al_cg_layout {
	enum al_cg_layout_kind kind;
	char unified[PATH_MAX];      /* where the v2 hierarchy is mounted, or "" */
	char v1[AL_CG1_N][PATH_MAX]; /* where each v1 controller's hierarchy is, or "" */
};

/* v2 controllers a run needs enabled (bit mask). */
enum {
	AL_CG2_MEMORY = 1u << 0,
	AL_CG2_PIDS = 1u << 1,
	AL_CG2_CPU = 1u << 2,
};

struct al_cg_ops {
	const char *mode;
	int (*attach)(struct al_cgroup *cg, pid_t pid, struct al_error *err);
	/* optional (v1): see al_cgroup_self_attach_fds */
	int (*self_attach_fds)(struct al_cgroup *cg, int *fds, int max, struct al_error *err);
	int (*read_events)(struct al_cgroup *cg, struct al_cgroup_events *ev, struct al_error *err);
	int (*stats)(struct al_cgroup *cg, struct al_cgroup_stats *st, struct al_error *err);
	int (*kill)(struct al_cgroup *cg, struct al_error *err);
	int (*destroy)(struct al_cgroup *cg, struct al_error *err);
	void (*describe)(const struct al_cgroup *cg, struct al_json *j);
	int (*update)(struct al_cgroup *cg, unsigned what, const struct al_limits *lim,
	              struct al_error *err);
	int (*kill_boost)(struct al_cgroup *cg, struct al_error *err);
};

/* One directory the run created: the run's cgroup in one hierarchy. */
struct al_cg_dir {
	char path[PATH_MAX];   /* absolute, for messages and rmdir */
	char parent[PATH_MAX]; /* the shared "airlock" directory above it */
	int fd;                /* O_DIRECTORY, -1 when not open */
	bool created;
	bool parent_created; /* this run made the "airlock" directory */
	bool removed;
};

struct al_cgroup {
	const struct al_cg_ops *ops; /* NULL: none (rlimits only) mode */
	char none_reason[AL_ERR_MSG_MAX];
	bool has_limits; /* limits were written (false only in tests) */
	struct al_limits lim;

	/* v2 */
	struct al_cg_dir v2;
	bool oom_group;     /* memory.oom.group = 1 in force */
	bool swap_off;      /* memory.swap.max = 0 written (or no swap exists) */
	bool has_kill_file; /* cgroup.kill exists (5.14+) */

	/* v1: dirs[c] is the run's directory in controller c's hierarchy; when
	 * two controllers share a hierarchy, alias[c] is the first one's index. */
	struct al_cg_dir dirs[AL_CG1_N];
	int alias[AL_CG1_N];
	int oom_control_fd;
	int oom_eventfd;
	int inotify_fd;
	int timer_fd; /* v1: pids.events is not pollable there; sample it */

	int event_fd; /* what al_cgroup_event_fd hands out */

	/* event counters at the previous read, for deltas */
	uint64_t last_oom_kills, last_pids_max, last_memory_max;
	uint64_t pids_peak_sampled;
};

/* Pure helpers, unit-tested. */
int al_cg_detect_layout(const char *root, bool check_fs_type, struct al_cg_layout *out,
                        struct al_error *err);
/* From the text of /proc/PID/cgroup, the path of the line whose controller
 * list contains controller (v1), or of the "0::" line (controller NULL). */
int al_cg_self_path(const char *proc_cgroup, const char *controller, char *out, size_t n);
/* CPU quota in microseconds per period for a CPU count; 0 means no limit. */
uint64_t al_cg_cpu_quota_us(double cpus, uint64_t period_us);
/* The value for v2 cpu.max: "QUOTA PERIOD" or "max PERIOD". */
void al_cg_fmt_cpu_max(double cpus, char *buf, size_t n);
/* Value of "key N" in a flat-keyed cgroup file text; -ENOENT if absent. */
int al_cg_keyed_u64(const char *text, const char *key, uint64_t *out);
/* The delegation how-to appended to errors when no writable cgroup exists. */
const char *al_cg_delegation_hint(enum al_cg_layout_kind kind);

/* File helpers: messages name the full path. */
int al_cg_write(const struct al_cg_dir *d, const char *file, const char *val, struct al_error *err);
int al_cg_read(const struct al_cg_dir *d, const char *file, char *buf, size_t n,
               struct al_error *err);
int al_cg_read_u64(const struct al_cg_dir *d, const char *file, uint64_t *out,
                   struct al_error *err);
int al_cg_mkdir_run(struct al_cg_dir *d, const char *parent, const char *run_id,
                    struct al_error *err);
int al_cg_rmdir_run(struct al_cg_dir *d, struct al_error *err);
/* Remove run directories left empty for minutes beside the ones in dirs
 * (whose supervisors died before teardown). */
void al_cg_collect_stale(const struct al_cg_dir *const *dirs, int n);
/* Is there any swap device or file enabled on the host? */
bool al_cg_host_has_swap(void);
/* Every pid listed in d's cgroup.procs gets sig; returns how many were listed. */
int al_cg_signal_procs(const struct al_cg_dir *d, int sig, struct al_error *err);
/* Sleep about ms milliseconds (EINTR-safe). */
void al_cg_sleep_ms(unsigned ms);

void al_cg_dir_init(struct al_cg_dir *d);
void al_cg_init(struct al_cgroup *cg);
/* Close fds and remove the directories this run created (error paths). */
void al_cg_undo(struct al_cgroup *cg);

/* al_cgroup_prepare with the cgroup file systems looked for under root
 * (tests mount a cgroup2 hierarchy elsewhere in a private mount namespace). */
int al_cg_prepare_at(struct al_cgroup **out, const struct al_spec *spec, const char *run_id,
                     const char *root, struct al_error *err);

/* Back ends. lim NULL creates the cgroups without limits and without
 * requiring controllers (unit tests on hosts whose controllers are bound to
 * another hierarchy). They undo what they created on failure. */
int al_cg_v2_create(struct al_cgroup *cg, const char *mount, const char *parent_rel,
                    const char *run_id, const struct al_limits *lim, struct al_error *err);
int al_cg_v1_create(struct al_cgroup *cg, const struct al_cg_layout *lay, const char *proc_cgroup,
                    const char *run_id, const struct al_limits *lim, struct al_error *err);
