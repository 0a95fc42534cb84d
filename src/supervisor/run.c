/* The run lifecycle: probe, plan, open the log, create the cgroup, clone
 * the sandbox init into fresh namespaces, release it, supervise, then tear
 * down and verify that nothing of the run is left. Every failure after the
 * clone kills the sandbox before returning (fail closed). */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock-config.h"
#include "cgroup/cgroup.h"
#include "evidence/evlog.h"
#include "image/image.h"
#include "sandbox/landlock.h"
#include "sandbox/rlimits.h"
#include "sandbox/seccomp.h"
#include "chaos/chaos.h"
#include "supervisor/egress.h"
#include "supervisor/notify.h"
#include "monitor/monitor.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/timeutil.h"
#include "util/escape.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const char *const default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* The workload's environment: a fixed minimal set plus the explicit -e
 * values. Nothing of the caller's environment is passed (secrets live
 * there). */
static int build_env(struct al_sandbox_plan *p, struct al_error *err)
{
	const struct al_spec *s = p->spec;
	const char *home = s->uid == 0 ? "/root" : "/home/agent";
	const char *user = s->uid == 0 ? "root" : "agent";
	size_t n = 0, i, cap = 16 + s->n_env + 1;
	char **env = calloc(cap, sizeof *env);

	if (env == NULL)
		return al_error_set(err, ENOMEM, "env", "building the environment");
	/* Explicit values replace the defaults of the same name. */
#define SETDEF(k, v)                                                        \
	do {                                                                \
		bool over = false;                                          \
		for (i = 0; i < s->n_env; i++)                              \
			if (strcmp(s->env[i].key, k) == 0)                  \
				over = true;                                \
		if (!over && asprintf(&env[n], "%s=%s", k, v) >= 0)         \
			n++;                                                \
	} while (0)
	SETDEF("PATH", default_path);
	SETDEF("HOME", home);
	SETDEF("USER", user);
	SETDEF("LOGNAME", user);
	SETDEF("SHELL", "/bin/sh");
	SETDEF("LANG", "C.UTF-8");
	SETDEF("PWD", s->workdir);
	SETDEF("HOSTNAME", s->hostname);
	if (s->network.mode == AL_NET_PROXY) {
		/* Clients that honour these go to the proxy explicitly; the
		 * rest are caught by the netns's redirect (docs/egress.md). */
		static const char *const http = "http://127.0.0.1:" AL_STR(AL_EGRESS_PORT_HTTP);
		static const char *const socks = "socks5h://127.0.0.1:" AL_STR(AL_EGRESS_PORT_SOCKS);
		static const char *const local = "localhost,127.0.0.1,::1";
		SETDEF("HTTP_PROXY", http);
		SETDEF("HTTPS_PROXY", http);
		SETDEF("ALL_PROXY", socks);
		SETDEF("NO_PROXY", local);
		SETDEF("http_proxy", http);
		SETDEF("https_proxy", http);
		SETDEF("all_proxy", socks);
		SETDEF("no_proxy", local);
	}
#undef SETDEF
	p->path_env = default_path;
	/* One entry per key: al_spec_set_env keeps the later -e of a key in
	 * place of the earlier one (in linear time), so no scan is needed here. */
	for (i = 0; i < s->n_env; i++) {
		if (asprintf(&env[n], "%s=%s", s->env[i].key, s->env[i].value) < 0) {
			env[n] = NULL;
			p->envp = env;
			return al_error_set(err, ENOMEM, "env", "building the environment");
		}
		if (strcmp(s->env[i].key, "PATH") == 0)
			p->path_env = env[n] + 5;
		n++;
	}
	env[n] = NULL;
	p->envp = env;
	return 0;
}

static void make_run_id(char out[40])
{
	unsigned char r[12];
	size_t i;
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		uint64_t t = al_realtime_ns() ^ ((uint64_t)getpid() << 32);
		memcpy(r, &t, 8);
		memset(r + 8, 0, 4);
	}
	for (i = 0; i < sizeof r; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* Processes still in the sandbox's pid namespace, found by scanning /proc:
 * the evidence that teardown left nothing running. */
static int count_ns_processes(ino_t pidns)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if (pidns == 0)
		return 0;
	d = opendir("/proc");
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char path[64];
		struct stat st;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/ns/pid", de->d_name);
		if (stat(path, &st) == 0 && st.st_ino == pidns)
			n++;
	}
	closedir(d);
	return n;
}

static void protections_json(struct al_supervisor *s, const struct al_features *f,
			     const struct al_seccomp *sc, const struct al_landlock *ll,
			     struct al_json *j)
{
	al_json_key(j, "protections");
	al_json_obj_begin(j);
	al_json_kv_str(j, "isolation", al_isolation_name(s->spec->isolation));
	if (s->plan->gvisor)
		al_tier_gvisor_describe(s->plan, j);
	al_json_key(j, "namespaces");
	al_json_raw(j, f->timens ? "[\"user\",\"pid\",\"mount\",\"network\",\"ipc\",\"uts\",\"cgroup\",\"time\"]"
				 : "[\"user\",\"pid\",\"mount\",\"network\",\"ipc\",\"uts\",\"cgroup\"]");
	al_json_kv_bool(j, "rootless", s->plan->rootless);
	al_json_kv_str(j, "uid_map", s->plan->uid_map);
	al_json_kv_str(j, "gid_map", s->plan->gid_map);
	/* gVisor tier: the init stays in its staging root and runsc pivots
	 * into airlock's root itself; the workload has no capabilities inside
	 * gVisor, runsc holds a bounded set in airlock's user namespace */
	al_json_kv_bool(j, "pivot_root", !s->plan->gvisor);
	al_json_kv_bool(j, "no_new_privs", true);
	al_json_kv_str(j, "capabilities", s->plan->gvisor ? "none inside gVisor (runsc: bounded, no net_admin/net_raw)" : "none");
	al_json_kv_str(j, "network", s->egress ? "proxy" : "none (loopback only)");
	if (s->egress)
		al_egress_describe(s->egress, j);
	al_json_key(j, "seccomp");
	if (sc)
		al_seccomp_describe(sc, j);
	else
		al_json_null(j);
	al_json_key(j, "landlock");
	if (ll)
		al_landlock_describe(ll, j);
	else
		al_json_null(j);
	al_json_key(j, "cgroup");
	if (s->cgroup)
		al_cgroup_describe(s->cgroup, j);
	else
		al_json_null(j);
	al_json_key(j, "rlimits");
	al_rlimits_describe(&s->spec->limits, j);
	al_json_obj_end(j);
}

static int log_run_start(struct al_supervisor *s, const struct al_features *f,
			 const struct al_seccomp *sc, const struct al_landlock *ll,
			 struct al_error *err)
{
	struct al_buf b, canon;
	struct al_json j;
	struct utsname u;
	char hash[65];
	uint32_t bit;
	int r;

	/* the cgroup mode is known from here on (both callers), and nothing
	 * of the workload has run: chaos refuses what it cannot apply now */
	r = al_sv_chaos_check(s, err);
	if (r < 0)
		return r;
	al_buf_init(&b);
	al_buf_init(&canon);
	uname(&u);
	if (al_spec_canonical_json(s->spec, &canon) < 0 || al_spec_hash(s->spec, hash) < 0) {
		al_buf_free(&canon);
		return al_error_set(err, ENOMEM, "log", "canonicalising the spec");
	}
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "airlock_version", AIRLOCK_VERSION);
	al_json_kv_str(&j, "host", u.nodename);
	al_json_kv_str(&j, "kernel", u.release);
	al_json_key(&j, "spec");
	al_json_raw(&j, canon.data);
	al_json_kv_str(&j, "spec_hash", hash);
	al_json_kv_str(&j, "image", s->spec->image);
	al_json_kv_str(&j, "image_digest", s->image_digest[0] ? s->image_digest : NULL);
	protections_json(s, f, sc, ll, &j);
	al_json_kv_str(&j, "pubkey", al_evlog_pubkey_hex(s->log));
	if (s->chaos) {
		al_json_key(&j, "chaos");
		al_chaos_describe_start(s->chaos, &j);
	}
	al_json_key(&j, "degraded");
	al_json_arr_begin(&j);
	for (bit = 1; bit; bit <<= 1)
		if ((s->spec->allow_degraded & bit) &&
		    ((bit == AL_DEGRADE_TIMENS && !f->timens) ||
		     (bit == AL_DEGRADE_CGROUP && s->cgroup &&
		      strncmp(al_cgroup_mode(s->cgroup), "none", 4) == 0) ||
		     (bit == AL_DEGRADE_LANDLOCK && (ll == NULL || al_landlock_abi(ll) < AL_LANDLOCK_ABI_WANTED)) ||
		     (bit == AL_DEGRADE_SECCOMP_NOTIFY && (sc == NULL || !al_seccomp_notify_enabled(sc)))))
			al_json_str(&j, al_degradation_name(bit));
	al_json_arr_end(&j);
	al_json_obj_end(&j);
	al_buf_free(&canon);
	r = b.oom ? -ENOMEM : al_evlog_append(s->log, "run_start", b.data, err);
	al_buf_free(&b);
	if (r == 0)
		s->run_start_logged = true;
	/* signed at once: a supervisor killed at any moment from here on
	 * leaves a verifiable prefix (docs/evidence.md) */
	if (r == 0)
		r = al_evlog_checkpoint(s->log, err);
	return r;
}

/* clone3 into fresh namespaces. On cgroup v2 the child is born inside its
 * cgroup (CLONE_INTO_CGROUP); otherwise *need_attach tells the caller to
 * place it before the workload may start. */
static pid_t clone_sandbox(struct al_supervisor *s, bool timens, int *pidfd, bool *need_attach,
			   struct al_error *err)
{
	struct clone_args args;
	int cgfd = s->cgroup ? al_cgroup_clone_fd(s->cgroup) : -1;
	long pid;

	memset(&args, 0, sizeof args);
	args.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
		     CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_PIDFD | (timens ? CLONE_NEWTIME : 0);
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = SIGCHLD;
	if (cgfd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgfd;
	}
	pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0 && cgfd >= 0 && (errno == EINVAL || errno == E2BIG)) {
		/* Kernels without CLONE_INTO_CGROUP: attach before release instead. */
		args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
		args.cgroup = 0;
		cgfd = -1;
		pid = syscall(SYS_clone3, &args, sizeof args);
	}
	if (pid < 0)
		return al_error_errno(err, "clone", "clone3 into new namespaces"), -1;
	*need_attach = s->cgroup != NULL && cgfd < 0;
	return (pid_t)pid;
}

/* The second go (AL_GO_WORKLOAD), with the v1 cgroup "tasks" fds the init
 * moves itself in through (none on v2). */
static int send_go_workload(int sync_fd, const int *fds, int n)
{
	char go = AL_GO_WORKLOAD;
	struct iovec iov = {.iov_base = &go, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	char cbuf[CMSG_SPACE(sizeof(int) * AL_MAX_CGROUP_TASKS_FDS)];
	struct cmsghdr *cm;
	ssize_t w;

	if (n > 0) {
		memset(cbuf, 0, sizeof cbuf);
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	}
	do
		w = sendmsg(sync_fd, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w == 1)
		return 0;
	if (w >= 0)
		errno = EIO;
	return -1;
}

static int make_pipe(int fds[2], bool reader_is_supervisor, struct al_error *err)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return al_error_errno(err, "supervisor", "pipe");
	/* Only the supervisor's end is nonblocking; the workload sees a normal pipe. */
	int mine = reader_is_supervisor ? fds[0] : fds[1];
	fcntl(mine, F_SETFL, fcntl(mine, F_GETFL) | O_NONBLOCK);
	return 0;
}

static const char *verdict_of(struct al_supervisor *s, int *status)
{
	switch (s->kill_reason) {
	case AL_KILL_TIMEOUT:
		*status = AL_EXIT_TIMEOUT;
		return "timeout";
	case AL_KILL_SIGNAL:
		*status = 128 + s->kill_signal;
		return "interrupted";
	case AL_KILL_POLICY:
		*status = AL_EXIT_POLICY;
		return "policy";
	case AL_KILL_ERROR:
		*status = AL_EXIT_SETUP;
		return "airlock-error";
	case AL_KILL_REMOVED:
		*status = 0;
		return "removed";
	case AL_KILL_NONE:
		break;
	}
	if (s->setup_failed) {
		*status = AL_EXIT_SETUP;
		return "setup-error";
	}
	if (s->exec_errno) {
		*status = s->exec_errno == ENOENT ? AL_EXIT_NOTFOUND : AL_EXIT_NOEXEC;
		return "exec-failed";
	}
	if (s->got_exit_msg) {
		if (WIFSIGNALED(s->workload_status)) {
			*status = 128 + WTERMSIG(s->workload_status);
			return "signaled";
		}
		*status = WEXITSTATUS(s->workload_status);
		return "exited";
	}
	/* The init died without telling us how the workload ended: fail closed. */
	*status = AL_EXIT_SETUP;
	return "init-died";
}

struct al_teardown_facts {
	const char *method;  /* how processes_left was established */
	int processes_left;
	int fds_left;
	bool cgroup_removed;
	bool ok;
	char detail[256];
};

static void log_exit_records(struct al_supervisor *s, const char *verdict, int status,
			     const struct al_teardown_facts *t);
static void log_exit_record(struct al_supervisor *s);

/* Before run_end: evidence that cannot be shipped (the sink is down, the
 * spool could not be delivered) is how the run ended too. Say so in the
 * verdict now, so that run_end and the exit status agree. A run that
 * already ended by airlock's decision (timeout, policy, error) keeps its
 * verdict; the reason says what happened to the evidence. */
static void settle_sink(struct al_supervisor *s, const char **verdict, int *status)
{
	struct al_error e = {0};

	if (al_evlog_sink_settle(s->log, &e) == 0)
		return;
	if (!s->spec->quiet || *status == 0)
		fprintf(stderr, "airlock: event log: %s\n", e.msg);
	if (!s->kill_detail[0])
		snprintf(s->kill_detail, sizeof s->kill_detail, "%s", e.msg);
	if (strcmp(*verdict, "exited") == 0 || strcmp(*verdict, "signaled") == 0) {
		*verdict = "sink-undelivered";
		*status = AL_EXIT_SETUP;
	}
}

/* After the sandbox is gone there is nothing left to kill; a record that
 * cannot be written is reported, and al_evlog_close fails the run. */
static void log_event_plain(struct al_supervisor *s, const char *type, const char *fields)
{
	struct al_error e = {0};
	if (al_evlog_append(s->log, type, fields, &e) < 0 && !s->log_failed_reported) {
		s->log_failed_reported = true;
		al_escape_printf(stderr, "airlock: event log: %s\n", e.msg);
	}
}

/* A SIGINT/SIGTERM/SIGHUP/SIGQUIT still pending after the loop arrived
 * while the workspace report, the export or teardown ran (those stop early
 * for it). The workload had already ended, but the caller interrupted the
 * run: it ends as interrupted, 128+N, like a signal during the run. */
static void late_signal(struct al_supervisor *s, const sigset_t *set, const char **verdict,
			int *status)
{
	struct timespec zero = {0, 0};
	int sig = sigtimedwait(set, NULL, &zero);

	if (sig <= 0)
		return;
	while (sigtimedwait(set, NULL, &zero) > 0)
		;
	if (strcmp(*verdict, "exited") != 0 && strcmp(*verdict, "signaled") != 0)
		return; /* an ending of its own (timeout, policy, error) stands */
	s->kill_reason = AL_KILL_SIGNAL;
	s->kill_signal = sig;
	snprintf(s->kill_detail, sizeof s->kill_detail,
		 "received signal %d after the workload ended (during the report, export or teardown)",
		 sig);
	*verdict = "interrupted";
	*status = 128 + sig;
}

void al_run_init(struct al_run *run, const struct al_spec *spec)
{
	struct al_supervisor *s = &run->s;

	memset(run, 0, sizeof *run);
	for (int i = 0; i < 2; i++)
		run->outp[i] = run->errp[i] = run->inp[i] = run->sp[i] = -1;
	run->status = AL_EXIT_SETUP;
	run->verdict = "setup-error";
	s->spec = spec;
	s->plan = &run->plan;
	s->pidfd = s->sync_fd = s->epfd = s->sigfd = s->timerfd = s->tickfd = -1;
	s->out.fd = s->err.fd = -1;
	s->in.src = s->in.dst = -1;
	s->upper_fd = -1;
	s->chaos_timerfd = -1;
	s->export_parent_fd = -1;
	s->t_start_ns = al_mono_ns();
	make_run_id(s->run_id);
	sigemptyset(&run->sigs);
	sigaddset(&run->sigs, SIGINT);
	sigaddset(&run->sigs, SIGTERM);
	sigaddset(&run->sigs, SIGHUP);
	sigaddset(&run->sigs, SIGQUIT);
}

/* Phase 1, before any sandbox exists: everything that can fail without
 * one -- probe, plan, compile the filters, check host paths, open the log,
 * and (cgroup v2) create the cgroup the sandbox is born into. */
int al_run_prepare(struct al_run *run, struct al_error *err)
{
	struct al_supervisor *s = &run->s;
	const struct al_spec *spec = s->spec;
	struct al_sandbox_plan *plan = &run->plan;
	int r;

	r = al_features_probe(&run->feat, err);
	if (r < 0)
		return r;
	if (!run->feat.timens && !(spec->allow_degraded & AL_DEGRADE_TIMENS))
		return al_error_set(err, ENOSYS, "features",
				    "this kernel has no time namespaces (use --allow-degraded timens to run without)");
	plan->spec = spec;
	plan->idmap_userns_fd = -1;
	plan->argv = spec->argv;
	plan->workdir = spec->workdir;
	r = al_userns_prepare(plan, err);
	if (r == 0)
		r = al_rootfs_plan(plan, err);
	if (r == 0) /* what the run is on: recorded in run_start, checked against a pin */
		r = al_image_identify(spec->image, spec->image_digest, &run->img, err);
	if (r == 0)
		snprintf(s->image_digest, sizeof s->image_digest, "%s", run->img.digest);
	if (r == 0)
		r = build_env(plan, err);
	if (r == 0)
		r = al_netns_prepare(plan, err);
	if (r == 0)
		r = al_egress_prepare(&s->egress, spec, err);
	if (r == 0)
		r = al_supervisor_canaries_prepare(s, plan, err);
	/* The tier: gVisor serves the workload's syscalls itself, so airlock's
	 * Landlock rules and seccomp filter have nothing to confine there. */
	if (r == 0 && spec->isolation == AL_ISOLATION_GVISOR)
		r = al_tier_gvisor_prepare(plan, err);
	if (r == 0 && spec->isolation != AL_ISOLATION_GVISOR)
		r = al_landlock_prepare(&run->ll, spec, run->plan.session && !run->plan.rootless, err);
	if (r == 0 && spec->isolation != AL_ISOLATION_GVISOR)
		r = al_seccomp_prepare(&run->sc, spec, err);
	if (r == 0)
		r = al_chaos_prepare(&s->chaos, spec, run->sc, plan->rootless, err);
	if (r < 0)
		return r;
	plan->landlock = run->ll;
	plan->seccomp = run->sc;

	/* Before the log is created and before any sandbox exists: no host path
	 * the supervisor opens, creates or copies to may pass through a place
	 * the sandbox can write (docs/isolation.md, "What the host trusts"). */
	r = al_host_paths_check(s, err);
	if (r < 0)
		return r;

	r = al_evlog_open(&s->log, &spec->log, s->run_id, err);
	if (r < 0)
		return r;
	if (run->img.drift) /* refused before anything starts; the log says why */
		return al_error_set(err, 0, "image", "%s", run->img.drift_msg);
	/* the stream files beside the log keep what the relay keeps */
	al_evlog_set_output_cap(s->log, spec->limits.output);
	al_evlog_set_max_size(s->log, spec->log.max_size);
	/* the rules' monitor is opened in al_run_spawn, while the init works */
	/* Without a signing key of the caller's, the run's own key is the only
	 * handle a verifier has: say it where a person sees it, not only in the
	 * log that it signs. */
	if (!spec->quiet && !spec->log.signing_key && (spec->log.path || spec->log.sink))
		al_escape_printf(stderr, "airlock: run %s: event log signed with per-run key %s\n", s->run_id,
			al_evlog_pubkey_hex(s->log));
	/* Baseline for the teardown check: every fd opened from here on
	 * belongs to the run and must be gone at the end. */
	run->fds_before = count_fds();
	/* On a unified (v2) host the sandbox is cloned straight into its
	 * cgroup, which must exist first. Elsewhere the cgroup is made while
	 * the init builds the sandbox (al_run_spawn), and the init moves
	 * itself in before it forks the workload. */
	run->cg_before_clone = run->feat.cgroup_v2;
	if (run->cg_before_clone) {
		r = al_cgroup_prepare(&s->cgroup, spec, s->run_id, err);
		if (r < 0)
			return r;
		r = log_run_start(s, &run->feat, run->sc, run->ll, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Phase 2: the pipes and the setup socket, the clone, and the release of
 * the init in two steps. A negative return means no sandbox was cloned.
 * A failure to release a cloned init kills it and is kept in
 * run->release_err: supervision still runs, to reap it and record. */
int al_run_spawn(struct al_run *run, struct al_error *err)
{
	struct al_supervisor *s = &run->s;
	const struct al_spec *spec = s->spec;
	struct al_sandbox_plan *plan = &run->plan;
	bool need_attach = false;
	int cg_fds[AL_MAX_CGROUP_TASKS_FDS], n_cg_fds = 0;
	char path[64];
	struct stat nsst;
	int pidfd = -1, r;
	pid_t pid;

	if (make_pipe(run->outp, true, err) < 0 || make_pipe(run->errp, true, err) < 0)
		return -err->code;
	/* The caller's terminal never reaches the workload; other stdin is relayed. */
	if (fcntl(0, F_GETFD) >= 0 && !isatty(0)) {
		if (make_pipe(run->inp, false, err) < 0)
			return -err->code;
		s->in.src = 0;
		s->in.dst = run->inp[1];
		/* Read only after EPOLLIN (or, for what epoll refuses -- files,
		 * /dev/null, /dev/zero -- at any time; the loop decides): never
		 * O_NONBLOCK, which would change the file description the caller
		 * shares with others (the next command of a script). */
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, run->sp) < 0)
		return al_error_errno(err, "supervisor", "socketpair");
	plan->n_wipe = al_evlog_secret_regions(s->log, plan->wipe, plan->wipe_len, 4);
	plan->sync_fd = run->sp[1];
	plan->stdout_fd = run->outp[1];
	plan->stderr_fd = run->errp[1];
	plan->stdin_fd = run->inp[0];

	/* Signals that end the run are read from a signalfd; block them before
	 * the clone so none is lost in between (the init resets its mask).
	 * They stay blocked until the run is recorded (al_run_finish). */
	sigprocmask(SIG_BLOCK, &run->sigs, NULL);
	run->signals_blocked = true;
	signal(SIGPIPE, SIG_IGN);

	/* ---- clone ---- */
	pid = clone_sandbox(s, run->feat.timens, &pidfd, &need_attach, err);
	if (pid < 0)
		return -(err->code ? err->code : EINVAL);
	if (pid == 0)
		al_init_main(plan); /* never returns */

	s->pid = pid;
	s->pidfd = pidfd;
	s->sync_fd = run->sp[0];
	run->sp[0] = -1;
	s->out.fd = run->outp[0];
	s->out.out = 1;
	s->err.fd = run->errp[0];
	s->err.out = 2;
	run->outp[0] = run->errp[0] = -1;
	/* Our copies of the child's ends must go, or the pipes never reach EOF. */
	close(run->sp[1]);
	close(run->outp[1]);
	close(run->errp[1]);
	run->sp[1] = run->outp[1] = run->errp[1] = -1;
	if (run->inp[0] >= 0)
		close(run->inp[0]);
	run->inp[0] = -1;
	run->inp[1] = -1; /* owned by s->in now */

	snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
	if (stat(path, &nsst) == 0)
		run->pidns = nsst.st_ino;

	/* ---- release ----
	 * Two steps: once the ids are mapped the init may build the sandbox
	 * (our own code), and while it does, we place it in the cgroup -- a v1
	 * migration waits for an RCU grace period, milliseconds we overlap.
	 * The init forks the workload only after the second go. */
	r = al_userns_parent_setup(plan, pid, err);
	if (r == 0) {
		char go = AL_GO;
		if (write(s->sync_fd, &go, 1) != 1)
			r = al_error_errno(err, "supervisor", "releasing the sandbox init");
	}
	if (r == 0 && !run->cg_before_clone) {
		r = al_cgroup_prepare(&s->cgroup, spec, s->run_id, err);
		need_attach = r == 0 && s->cgroup != NULL;
		if (r == 0)
			r = log_run_start(s, &run->feat, run->sc, run->ll, err);
		/* v1: the init moves itself in, through the "tasks" files that
		 * go with the second go (cgroup.h: no RCU grace period, which
		 * our writing its pid to cgroup.procs waited for, 3-13 ms here).
		 * Rootful only: the kernel lets the opener of the file (us) move
		 * a task whose uid differs only when the opener is root, and by
		 * then the init runs as the workload's uid -- in a rootless run
		 * with subordinate ids, not ours. Rootless, we move it as before. */
		if (r == 0 && !plan->rootless) {
			r = al_cgroup_self_attach_fds(s->cgroup, cg_fds, AL_MAX_CGROUP_TASKS_FDS, err);
			if (r > 0) {
				n_cg_fds = r;
				need_attach = false;
				r = 0;
			}
		}
	}
	if (r == 0 && need_attach)
		r = al_cgroup_attach(s->cgroup, pid, err);
	/* The rules' monitor, with its scan of the image's bin directories
	 * (about 1 ms, most of it reading /usr/bin), is opened here, while the
	 * init builds the sandbox, rather than before the clone: the first
	 * record it judges is the workload's first exec, which the loop reads
	 * only after this (the listener's recorder is set when its fd arrives,
	 * in the loop). A failure kills the init before the workload exists. */
	if (r == 0)
		r = al_supervisor_monitor_start(s, err);
	/* Proxy mode: the proxy runs before the workload does. */
	if (r == 0)
		r = al_egress_begin(s, err);
	if (r == 0 && !s->setup_failed && run->before_workload)
		r = run->before_workload(run, run->before_workload_arg, err);
	if (r == 0 && !s->setup_failed && send_go_workload(s->sync_fd, cg_fds, n_cg_fds) < 0)
		r = al_error_errno(err, "supervisor", "releasing the workload");
	while (n_cg_fds > 0)
		close(cg_fds[--n_cg_fds]);
	if (r < 0) {
		/* Nothing of the workload ran: report the cause as it is, not as
		 * a killed run (the init is still killed and reaped). */
		run->release_err = *err;
		run->release_failed = true;
		al_supervisor_kill(s, AL_KILL_ERROR, err->msg);
		s->setup_failed = true;
	}
	return 0;
}

/* Phase 3: the event loop, until the sandbox is gone; then how it ended
 * (err, run->verdict, run->status) and the exit record, written first. */
void al_run_supervise(struct al_run *run, struct al_error *err)
{
	struct al_supervisor *s = &run->s;
	const struct al_spec *spec = s->spec;
	struct al_error lerr = {0};

	al_supervise(s, &lerr);
	if (!run->release_failed && lerr.code)
		*err = lerr;
	s->t_end_ns = al_mono_ns();
	/* the proxy's last reports are recorded before the run's end */
	al_egress_stop(s);
	/* and gVisor's last trace points */
	al_gvtrace_finish(s);
	if (run->release_failed) {
		*err = run->release_err;
	} else if (s->setup_failed && s->setup_msg.type == AL_MSG_ERROR) {
		al_error_set(err, s->setup_msg.err, "setup", "setting up the sandbox: %s: %s",
			     al_stage_name(s->setup_msg.stage), s->setup_msg.text);
	} else if (s->exec_errno) {
		al_error_set(err, s->exec_errno, "exec", "running %s", spec->argv[0]);
	} else if (s->kill_reason == AL_KILL_ERROR || s->kill_reason == AL_KILL_POLICY) {
		al_error_set(err, 0, "supervisor", "the run was killed: %s", s->kill_detail);
	} else if (s->kill_reason == AL_KILL_TIMEOUT) {
		al_error_set(err, 0, "timeout", "timeout reached after %.3f s: the sandbox was killed",
			     (double)spec->limits.timeout_ns / 1e9);
	} else if (!s->got_exit_msg && !s->setup_failed && s->kill_reason == AL_KILL_NONE) {
		al_error_set(err, 0, "supervisor", "the sandbox init died unexpectedly");
	}
	run->verdict = verdict_of(s, &run->status);
	log_exit_record(s);
	if (s->out.undelivered + s->err.undelivered && !spec->quiet)
		al_escape_printf(stderr, "airlock: %llu byte(s) of the workload's output were not delivered "
			"(%s)\n",
			(unsigned long long)(s->out.undelivered + s->err.undelivered),
			s->kill_reason != AL_KILL_NONE ? "the run was killed" : "the reader stopped reading");
}

/* Phase 4: report what the workload changed, verify that nothing of the
 * run remains, and close the log with run_end and the final checkpoint. */
void al_run_teardown(struct al_run *run)
{
	struct al_supervisor *s = &run->s;
	const struct al_spec *spec = s->spec;
	struct al_teardown_facts td = {0};

	/* A fill between the last tick and the end is still an event. */
	al_supervisor_check_disks(s);
	for (size_t i = 0; i < s->n_disk_fds; i++)
		close(s->disk[i].fd);
	s->n_disk_fds = 0;

	if (s->upper_fd >= 0) {
		struct al_error werr = {0};
		if (al_workspace_report(s, &werr) < 0 && !spec->quiet)
			al_escape_printf(stderr, "airlock: workspace report: %s\n", werr.msg);
		close(s->upper_fd);
		s->upper_fd = -1;
		/* The timeout bounds the whole run, the report and export included:
		 * a workload that ended in time but left more than the rest of the
		 * time could export ends as a timeout. */
		if (s->report_timed_out &&
		    (strcmp(run->verdict, "exited") == 0 || strcmp(run->verdict, "signaled") == 0)) {
			run->status = AL_EXIT_TIMEOUT;
			run->verdict = "timeout";
			if (!spec->quiet)
				fprintf(stderr, "airlock: timeout reached after %.3f s during the workspace report\n",
					(double)spec->limits.timeout_ns / 1e9);
		}
	}
	if (s->notify) {
		al_notify_stats(s->notify, &s->notify_stats);
		al_notify_free(s->notify);
		s->notify = NULL;
	}
	al_supervisor_canaries_end(s);
	/* alerts get their bounded time, then are recorded */
	al_monitor_finish(s->monitor);
	al_monitor_free(s->monitor);
	s->monitor = NULL;
	/* No process of the run may remain. With a cgroup the kernel's own
	 * bookkeeping is the evidence: an rmdir succeeds only on an empty
	 * cgroup, and nothing inside can leave it (there is no cgroupfs in the
	 * sandbox). Without one, scan /proc for the sandbox's pid namespace. */
	td.cgroup_removed = true;
	td.method = "proc-scan";
	if (s->cgroup) {
		struct al_error cerr = {0};
		struct al_cgroup_stats st = {0};
		bool real = strncmp(al_cgroup_mode(s->cgroup), "none", 4) != 0;
		al_cgroup_stats(s->cgroup, &st, &cerr);
		s->peak_memory = st.memory_peak;
		s->peak_cpu_ns = st.cpu_ns;
		s->peak_pids = st.pids_peak;
		if (al_cgroup_destroy(s->cgroup, &cerr) < 0) {
			td.cgroup_removed = false;
			snprintf(td.detail, sizeof td.detail, "%s", cerr.msg);
		} else if (real) {
			td.method = "cgroup-removed";
		}
		al_cgroup_free(s->cgroup);
		s->cgroup = NULL;
	}
	td.processes_left = strcmp(td.method, "proc-scan") == 0 ? count_ns_processes(run->pidns) : 0;
	/* Without a per-cgroup CPU counter (v1 without a co-mounted cpuacct,
	 * rlimits-only mode) the init's rusage is the run's CPU time. */
	if (s->peak_cpu_ns == 0)
		s->peak_cpu_ns = s->rusage_cpu_ns;
	close(s->pidfd);
	s->pidfd = -1;
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->timerfd >= 0)
		close(s->timerfd);
	if (s->tickfd >= 0)
		close(s->tickfd);
	if (s->chaos_timerfd >= 0)
		close(s->chaos_timerfd);
	s->chaos_timerfd = -1;
	s->epfd = s->sigfd = s->timerfd = s->tickfd = -1;
	/* The log's own fds are the only ones allowed to remain open now. */
	td.fds_left = count_fds() - run->fds_before;
	if (td.fds_left < 0)
		td.fds_left = 0;
	td.ok = td.processes_left == 0 && td.fds_left == 0 && td.cgroup_removed;
	if (!td.ok) {
		if (!td.detail[0])
			snprintf(td.detail, sizeof td.detail, "%d process(es), %d fd(s) of the run remain",
				 td.processes_left, td.fds_left);
		if (run->status == 0 || !spec->quiet)
			al_escape_printf(stderr, "airlock: teardown verification failed: %s\n", td.detail);
		if (run->status == 0) {
			run->status = AL_EXIT_SETUP;
			run->verdict = "teardown-failed";
		}
	}
	if (!s->run_start_logged) {
		/* setup failed before it was written: the log still opens with it */
		struct al_error lerr = {0};
		log_run_start(s, &run->feat, run->sc, run->ll, &lerr);
	}
	/* A signal that came after the loop (during the report, the export or
	 * teardown) is an ending the caller asked for: it is recorded, and it
	 * must not kill airlock before the records are written. */
	if (run->signals_blocked)
		late_signal(s, &run->sigs, &run->verdict, &run->status);
	settle_sink(s, &run->verdict, &run->status);
	log_exit_records(s, run->verdict, run->status, &td);
	{
		struct al_error cerr = {0};
		if (al_evlog_close(s->log, &cerr) < 0) {
			al_escape_printf(stderr, "airlock: closing the event log: %s\n", cerr.msg);
			/* Only a local failure changes the status: then run_end is
			 * not covered by the final checkpoint. A sink that fails after
			 * settle_sink succeeded has the signed run_end in the local
			 * log, and the exit status stays the one it records. */
			if (run->status == 0 && al_evlog_local_failure(s->log)) {
				run->status = AL_EXIT_SETUP;
				run->verdict = "log-error";
			}
		}
	}
}

/* Last: r < 0 is a setup error from al_run_prepare or al_run_spawn (no
 * sandbox ran): the log still gets run_start and run_end. Then every
 * resource of the run is released. */
void al_run_finish(struct al_run *run, int r, struct al_run_result *res, struct al_error *err)
{
	struct al_supervisor *s = &run->s;

	if (r < 0) {
		run->status = AL_EXIT_SETUP;
		run->verdict = "setup-error";
		if (s->log) {
			struct al_buf b;
			struct al_json j;
			struct al_error cerr = {0};
			if (!s->run_start_logged)
				log_run_start(s, &run->feat, run->sc, run->ll, &cerr);
			al_buf_init(&b);
			al_json_init(&j, &b);
			al_json_obj_begin(&j);
			al_json_kv_str(&j, "verdict", run->verdict);
			al_json_kv_int(&j, "exit_status", run->status);
			al_json_kv_str(&j, "error", err->msg);
			al_json_obj_end(&j);
			al_evlog_append(s->log, "run_end", b.data, &cerr);
			al_buf_free(&b);
			al_evlog_close(s->log, &cerr);
		}
	}
	if (res) {
		memset(res, 0, sizeof *res);
		snprintf(res->run_id, sizeof res->run_id, "%s", s->run_id);
		snprintf(res->verdict, sizeof res->verdict, "%s", run->verdict);
		res->exit_status = run->status;
	}
	for (int i = 0; i < 2; i++) {
		if (run->outp[i] >= 0)
			close(run->outp[i]);
		if (run->errp[i] >= 0)
			close(run->errp[i]);
		if (run->inp[i] >= 0)
			close(run->inp[i]);
		if (run->sp[i] >= 0)
			close(run->sp[i]);
		run->outp[i] = run->errp[i] = run->inp[i] = run->sp[i] = -1;
	}
	if (s->sync_fd >= 0)
		close(s->sync_fd);
	s->sync_fd = -1;
	if (s->cgroup) {
		/* Only a setup error after al_cgroup_prepare gets here with the
		 * cgroup still set: remove it too, nothing of a run may remain. */
		struct al_error cerr = {0};
		al_cgroup_kill(s->cgroup, &cerr);
		al_cgroup_destroy(s->cgroup, &cerr);
		al_cgroup_free(s->cgroup);
		s->cgroup = NULL;
	}
	al_supervisor_canaries_end(s);
	al_monitor_free(s->monitor);
	s->monitor = NULL;
	if (s->log)
		al_evlog_free(s->log);
	s->log = NULL;
	if (s->export_parent_fd >= 0)
		close(s->export_parent_fd);
	s->export_parent_fd = -1;
	free(s->export_path);
	s->export_path = NULL;
	al_egress_free(s->egress);
	s->egress = NULL;
	al_gvtrace_free(s);
	al_seccomp_free(run->sc);
	al_chaos_free(s->chaos);
	s->chaos = NULL;
	al_landlock_free(run->ll);
	run->sc = NULL;
	run->ll = NULL;
	al_plan_free(&run->plan);
	if (run->signals_blocked) {
		/* Anything still pending now arrived after the run was recorded:
		 * drop it rather than die with a status the log does not give. */
		struct timespec zero = {0, 0};
		while (sigtimedwait(&run->sigs, NULL, &zero) > 0)
			;
		sigprocmask(SIG_UNBLOCK, &run->sigs, NULL);
		run->signals_blocked = false;
	}
}

/* `airlock run`: the four phases in order, one command, then teardown. */
int al_run(const struct al_spec *spec, struct al_run_result *res, struct al_error *err)
{
	struct al_run *run = calloc(1, sizeof *run);
	int r;

	if (run == NULL) {
		memset(res, 0, sizeof *res);
		res->exit_status = AL_EXIT_SETUP;
		snprintf(res->verdict, sizeof res->verdict, "setup-error");
		return al_error_set(err, ENOMEM, "supervisor", "allocating the run");
	}
	al_run_init(run, spec);
	r = al_run_prepare(run, err);
	if (r == 0)
		r = al_run_spawn(run, err);
	if (r == 0) {
		al_run_supervise(run, err);
		al_run_teardown(run);
	}
	al_run_finish(run, r, res, err);
	free(run);
	return r < 0 ? r : 0;
}

/* The workload's own ending, recorded as soon as the sandbox is gone and
 * before anything else can take time or be interrupted (the workspace
 * report, the export, teardown): a supervisor killed after this point
 * still leaves how the workload ended in the log. */
static void log_exit_record(struct al_supervisor *s)
{
	struct al_buf b;
	struct al_json j;

	if (!s->got_exit_msg)
		return;
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_int(&j, "pid", s->workload_pid);
	if (WIFSIGNALED(s->workload_status)) {
		al_json_key(&j, "status");
		al_json_null(&j);
		al_json_kv_int(&j, "signal", WTERMSIG(s->workload_status));
	} else {
		al_json_kv_int(&j, "status", WEXITSTATUS(s->workload_status));
		al_json_key(&j, "signal");
		al_json_null(&j);
	}
	al_json_obj_end(&j);
	log_event_plain(s, "exit", b.data);
	al_buf_free(&b);
}

static void log_exit_records(struct al_supervisor *s, const char *verdict, int status,
			     const struct al_teardown_facts *t)
{
	struct al_buf b;
	struct al_json j;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_int(&j, "processes_left", t->processes_left);
	al_json_kv_str(&j, "processes_checked_by", t->method);
	al_json_kv_int(&j, "mounts_left", t->processes_left == 0 && t->fds_left == 0 ? 0 : -1);
	al_json_kv_int(&j, "fds_left", t->fds_left);
	al_json_kv_bool(&j, "cgroup_removed", t->cgroup_removed);
	al_json_kv_bool(&j, "ok", t->ok);
	if (t->detail[0])
		al_json_kv_str(&j, "detail", t->detail);
	al_json_obj_end(&j);
	log_event_plain(s, "teardown", b.data);
	al_buf_reset(&b);

	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "verdict", verdict);
	al_json_kv_int(&j, "exit_status", status);
	if (s->kill_detail[0])
		al_json_kv_str(&j, "reason", s->kill_detail);
	al_json_kv_uint(&j, "duration_ns", s->t_end_ns - s->t_start_ns);
	al_json_kv_uint(&j, "startup_ns", s->t_ready_ns ? s->t_ready_ns - s->t_start_ns : 0);
	al_json_key(&j, "peaks");
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "memory_bytes", s->peak_memory);
	al_json_kv_uint(&j, "cpu_ns", s->peak_cpu_ns);
	al_json_kv_uint(&j, "pids", s->peak_pids);
	al_json_obj_end(&j);
	al_json_key(&j, "syscalls");
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "execs", s->notify_stats.execs);
	al_json_kv_uint(&j, "denied", s->notify_stats.denied);
	al_json_kv_uint(&j, "denied_unrecorded", s->notify_stats.denied_unrecorded);
	al_notify_stats_json(&s->notify_stats, &j);
	al_json_obj_end(&j);
	if (s->chaos) {
		al_json_key(&j, "chaos");
		al_chaos_describe(s->chaos, &j);
	}
	al_json_key(&j, "output");
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "stdout_bytes", s->out.bytes);
	al_json_kv_uint(&j, "stderr_bytes", s->err.bytes);
	al_json_kv_uint(&j, "dropped_bytes", s->output_cap_dropped);
	/* read from the workload (and kept in the log) but never taken by the
	 * caller's stdout/stderr: the run was killed or the reader stalled */
	al_json_kv_uint(&j, "undelivered_bytes", s->out.undelivered + s->err.undelivered);
	if (s->in.read_errno)
		al_json_kv_str(&j, "stdin_error", strerror(s->in.read_errno));
	al_json_obj_end(&j);
	if (s->egress)
		al_egress_counts(s->egress, &j);
	al_gvtrace_counts(s->gvtrace, &j);
	al_json_obj_end(&j);
	log_event_plain(s, "run_end", b.data);
	al_buf_free(&b);
}
