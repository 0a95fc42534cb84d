/* Supervisor internals shared by run.c (lifecycle), loop.c (the epoll
 * loop) and workspace.c (the change report). */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/image.h"
#include "sandbox/sandbox.h"
#include "spec/spec.h"
#include "supervisor/run.h"
#include "supervisor/notify.h"
#include "util/error.h"

struct al_evlog;
struct al_notify;
struct al_cgroup;
struct al_monitor;
struct al_canary;
struct al_canary_watch;
struct al_output_scan;
struct al_chaos;
struct al_egress_run;
struct al_session;
struct al_gvtrace;
struct al_json;

#define AL_RELAY_BUF 65536

struct al_stream {
	int fd;            /* supervisor end, nonblocking; -1 when closed */
	int out;           /* where to relay (1 or 2) */
	bool out_broken;   /* caller closed it: keep draining, stop writing */
	bool out_pollable; /* out is a pipe/socket/tty: writes could block */
	bool reading;      /* fd is in epoll (no pending data) */
	bool watching_out; /* out is in epoll for EPOLLOUT */
	uint64_t bytes;    /* total read from the workload */
	uint64_t undelivered; /* read (and logged) but never written to out */
	uint64_t progress_ns; /* when out last took bytes (or output became pending) */
	char pend[AL_RELAY_BUF]; /* read but not yet written to out */
	size_t plen, poff;
};

struct al_stdin_relay {
	int src;           /* caller's stdin, or -1 */
	int dst;           /* pipe to the workload, nonblocking; -1 when closed */
	bool pollable;     /* src can go in epoll (pipe, socket); else plain reads
	                    * (files, /dev/null, /dev/zero: epoll_ctl says EPERM) */
	bool registered_src, registered_dst;
	int read_errno;    /* a read of the caller's stdin failed (run_end says so) */
	char buf[16384];
	size_t len, off;
};

enum al_kill_reason {
	AL_KILL_NONE = 0,
	AL_KILL_TIMEOUT,
	AL_KILL_SIGNAL,    /* SIGINT/SIGTERM/SIGHUP to airlock */
	AL_KILL_POLICY,    /* evidence sink loss, rules (later) */
	AL_KILL_ERROR,     /* the supervisor itself failed: fail closed */
	AL_KILL_REMOVED,   /* a session removed by `airlock rm` */
};

struct al_supervisor {
	const struct al_spec *spec;
	struct al_sandbox_plan *plan;
	struct al_evlog *log;
	struct al_notify *notify;
	struct al_monitor *monitor; /* tripwires (src/monitor/), or NULL */
	struct al_canary *canaries; /* the spec's canaries, made for this run */
	size_t n_canaries;
	int canary_fds[AL_MAX_CANARIES]; /* O_PATH handles from the init ('C') */
	size_t n_canary_fds;
	struct al_canary_watch *canary_watch;
	struct al_canary *canary_files; /* the watched ones (copies) */
	struct al_output_scan *out_scan; /* canary tokens in stdout/stderr */
	struct al_output_lines *out_lines; /* output rules: stdout/stderr cut in lines */
	struct al_cgroup *cgroup;
	struct al_chaos *chaos; /* NULL: no chaos section */
	int chaos_timerfd;      /* resource steps; -1 until the workload starts */
	struct al_egress_run *egress; /* proxy mode (egress.c); NULL otherwise */
	struct al_session *session; /* NULL for `airlock run` */
	struct al_gvtrace *gvtrace; /* gVisor tier: its trace points (gvisor_trace.c) */
	char run_id[40];
	char image_digest[72]; /* run_start.image_digest (src/image) */

	pid_t pid;          /* init's pid on the host */
	int pidfd;
	int sync_fd;        /* supervisor end of the setup socket */
	int epfd, sigfd, timerfd, tickfd;

	struct al_stream out, err;
	struct al_stdin_relay in;
	uint64_t output_cap_dropped;
	bool output_cap_hit;
	/* The run is over (killed, timed out, or its caller stopped reading):
	 * output the caller cannot take at once is dropped, not waited for. */
	bool drop_output;
	uint64_t init_exit_ns;

	/* what happened */
	bool init_exited;
	bool kill_unthrottled; /* a policy kill lifted the cpu quota (tripwires.c) */
	uint64_t kill_sent_ns;  /* when a policy kill sent its SIGKILL (CLOCK_MONOTONIC) */
	bool got_exit_msg;
	int workload_status;  /* wait status reported by init */
	pid_t workload_pid;   /* in the sandbox's pid namespace */
	int exec_errno;
	bool setup_failed;
	struct al_msg setup_msg;
	enum al_kill_reason kill_reason;
	int kill_signal;      /* the signal airlock received, for AL_KILL_SIGNAL */
	char kill_detail[256];
	int upper_fd;         /* workspace upper layer, from the init */
	int export_parent_fd; /* --export's parent, opened (checked) before the clone; -1 */
	char *export_path;    /* --export without trailing slashes */
	const char *export_base; /* its last component, in export_path */
	bool report_timed_out; /* the report/export ran out of the run's time */
	struct {
		int fd;           /* O_PATH handle on a writable area, from the init */
		const char *path; /* its path inside */
		bool reported;
	} disk[AL_MAX_DISK_AREAS];
	size_t n_disk_fds;

	uint64_t t_start_ns, t_ready_ns, t_end_ns;
	uint64_t peak_memory, peak_cpu_ns, peak_pids;
	uint64_t rusage_cpu_ns; /* the init's, including all it reaped */
	bool log_failed_reported;
	bool run_start_logged;
	struct al_notify_stats notify_stats; /* at teardown, for run_end */
};

/* One run's lifecycle, the same for every face (`run`, sessions, later
 * the OCI runtime): al_run_init, al_run_prepare (plan, filters, log,
 * cgroup: no sandbox yet), al_run_spawn (clone and release the init),
 * al_run_supervise (the event loop until the sandbox is gone, then the
 * verdict and the exit record), al_run_teardown (report, verified
 * teardown, run_end, final checkpoint), al_run_finish (a setup error's
 * records, then free everything; always called). */
struct al_run {
	struct al_sandbox_plan plan;
	struct al_supervisor s;
	struct al_features feat;
	struct al_seccomp *sc;
	struct al_landlock *ll;
	struct al_image_id img;
	int outp[2], errp[2], inp[2], sp[2]; /* until the init has its ends */
	bool cg_before_clone;
	bool release_failed;
	struct al_error release_err;
	int fds_before;       /* the teardown check's baseline */
	ino_t pidns;          /* the sandbox's pid namespace, for the /proc scan */
	sigset_t sigs;        /* blocked from the clone until the run is recorded, read by signalfd */
	bool signals_blocked;
	int status;           /* what airlock exits with */
	const char *verdict;
	/* Called once the sandbox is built and recorded, just before the
	 * workload is released (the OCI runtime's `create` waits here for
	 * `start`); a negative return refuses the run like a failed release.
	 * NULL: release at once. */
	int (*before_workload)(struct al_run *run, void *arg, struct al_error *err);
	void *before_workload_arg;
};

void al_run_init(struct al_run *run, const struct al_spec *spec);
int al_run_prepare(struct al_run *run, struct al_error *err);
int al_run_spawn(struct al_run *run, struct al_error *err);
void al_run_supervise(struct al_run *run, struct al_error *err);
void al_run_teardown(struct al_run *run);
void al_run_finish(struct al_run *run, int r, struct al_run_result *res, struct al_error *err);

/* After the workload has ended, the caller's stdout/stderr get this long
 * without taking a single byte before the rest of the output is dropped
 * (counted in run_end.output.undelivered_bytes; the log keeps it all).
 * Long enough for a consumer that works a while on each piece it reads,
 * short enough that airlock, its teardown and run_end are not held up by a
 * reader that stopped. The run's timeout also ends the drain. */
#define AL_OUTPUT_STALL_NS (10ull * 1000000000ull)

/* tripwires.c: the monitor (rules, package installs, alerts) and the kill
 * it asks for; every record a rule can react to is passed to it. */
int al_supervisor_monitor_start(struct al_supervisor *s, struct al_error *err);
void al_supervisor_monitor_event(struct al_supervisor *s, const char *type, const char *fields);
/* Make the spec's canaries (tokens, content) into the plan (files) and its
 * environment (env canaries); before the clone. */
int al_supervisor_canaries_prepare(struct al_supervisor *s, struct al_sandbox_plan *plan,
                                   struct al_error *err);
/* The init handed over the planted canaries: watch them (epoll tag given). */
int al_supervisor_canaries_watch(struct al_supervisor *s, int epfd, uint32_t tag,
                                 struct al_error *err);
void al_supervisor_canaries_handle(struct al_supervisor *s);
/* The workload wrote data to stream (1, 2): a canary token in it, in any
 * of the disguises exfil.c knows, across reads, is a canary_output event. */
void al_supervisor_output_scan(struct al_supervisor *s, int stream, const void *data, size_t len);
/* The stream (1 stdout, 2 stderr) ended: its last line, if it had no newline. */
void al_supervisor_output_eof(struct al_supervisor *s, int stream);
/* Names the egress proxy reported (DNS query names, CONNECT/SOCKS/Host
 * names, SNI): a canary token in one, in any disguise (also split by the
 * dots of a DNS name), is an `exfil` event. */
void al_supervisor_exfil_names(struct al_supervisor *s, const char *channel, const char *proto,
                               const char *const *names, size_t n);
/* The tokens for the egress proxy's own search of request heads (pointers
 * into the tripwire state; none without canaries). */
void al_supervisor_exfil_tokens(struct al_supervisor *s, char ***tokens, size_t *n);
/* The proxy refused a request head holding token `token` (an index it
 * reported: checked) in encoding `variant`: an exfil record, the rules. */
int al_supervisor_exfil_report(struct al_supervisor *s, size_t token, const char *variant,
                               const char *where, const char *proto, const char *host,
                               struct al_error *err);
/* Stop watching (before the workspace report reads files); free. */
void al_supervisor_canaries_end(struct al_supervisor *s);

/* loop.c */
int al_supervise(struct al_supervisor *s, struct al_error *err);
void al_supervisor_kill(struct al_supervisor *s, enum al_kill_reason why, const char *detail);
void al_supervisor_check_disks(struct al_supervisor *s);

/* chaos_run.c: the resource schedule on the live run. Start: when the
 * workload has started (its steps count from then), makes
 * s->chaos_timerfd; fire: when it expires, applies what is due and re-arms.
 * Both return <0 when a step failed: the caller kills the run. */
int al_sv_chaos_start(struct al_supervisor *s, struct al_error *err);
/* Before the workload runs, once the cgroup is known: memory, cpus or pids
 * steps without a cgroup (rlimits-only mode) are refused. */
int al_sv_chaos_check(struct al_supervisor *s, struct al_error *err);
int al_sv_chaos_fire(struct al_supervisor *s, struct al_error *err);

/* workspace.c: the change report (and --export) from the overlay's upper layer. */
int al_workspace_report(struct al_supervisor *s, struct al_error *err);
/* Rootless: refuse up front a workspace holding a file whose owner or group
 * the user namespace cannot map (the overlay could not copy it up). */
int al_workspace_check_owners(const char *workspace, uid_t uid, gid_t gid, struct al_error *err);

/* tier_gvisor.c: isolation: gvisor. Prepare: find runsc (refused when
 * missing: no fallback) and plan its bundle, after the root, environment,
 * network and canaries are planned. Describe: run_start.protections.gvisor. */
int al_tier_gvisor_prepare(struct al_sandbox_plan *plan, struct al_error *err);
void al_tier_gvisor_describe(const struct al_sandbox_plan *plan, struct al_json *j);

/* gvisor_trace.c: the gVisor tier's trace socket, handed over by the init
 * ('G'); accept one connection, read its messages into exec / file_open
 * records; finish drains it after the loop; counts go in run_end. */
int al_gvtrace_start(struct al_supervisor *s, int listen_fd, struct al_error *err);
int al_gvtrace_listen_fd(const struct al_gvtrace *t);
void al_gvtrace_accept(struct al_supervisor *s, int epfd, uint64_t conn_tag);
void al_gvtrace_read(struct al_supervisor *s, int epfd);
void al_gvtrace_finish(struct al_supervisor *s);
void al_gvtrace_counts(const struct al_gvtrace *t, struct al_json *j);
void al_gvtrace_free(struct al_supervisor *s);

/* hostpaths.c: before the clone, check every host path the supervisor will
 * open, create or copy to against the places the sandbox can write, and
 * open --export's parent (s->export_parent_fd). */
int al_host_paths_check(struct al_supervisor *s, struct al_error *err);
