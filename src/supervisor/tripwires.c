/* The supervisor's side of the tripwires (src/monitor/): start the monitor,
 * give it the log, and the kill it asks for: the whole sandbox at once
 * (cgroup.kill on v2, freezer + SIGKILL on v1, the pid namespace's init
 * otherwise), then a kill record with the time from the triggering event to
 * the last process gone. docs/tripwires.md. */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "cgroup/cgroup.h"
#include "evidence/evlog.h"
#include "monitor/monitor.h"
#include "util/json.h"
#include "util/timeutil.h"

static int mon_append(void *ctx, const char *type, const char *fields, struct al_error *err)
{
	struct al_supervisor *s = ctx;
	return al_evlog_append(s->log, type, fields, err);
}

static void mon_kill(void *ctx, const char *why, uint64_t t_event_ns)
{
	struct al_supervisor *s = ctx;
	struct al_error e = {0};
	struct al_buf b;
	struct al_json j;
	const char *method;
	bool gone = true;
	uint64_t t_gone;

	if (s->cgroup && strcmp(al_cgroup_mode(s->cgroup), "v2") == 0) {
		/* cgroup.kill: one write, the kernel kills every process inside
		 * (also those forking meanwhile); returns once it is empty */
		method = "cgroup.kill";
		al_supervisor_kill(s, AL_KILL_POLICY, why);
	} else {
		/* The pid namespace's init first: its death makes the kernel stop
		 * all forks in the namespace, SIGKILL every process in it and
		 * reap them before the init's pidfd reports the exit. The v1
		 * freezer (al_cgroup_kill, below) would first have to freeze
		 * them, and a process waiting in a seccomp notification the
		 * supervisor holds (the exec that fired the rule) cannot be
		 * frozen: it would take the freezer's full 1 s timeout. */
		struct pollfd p = {.fd = s->pidfd, .events = POLLIN};
		method = s->cgroup && strncmp(al_cgroup_mode(s->cgroup), "none", 4) != 0
		             ? "pidns-init+freezer"
		             : "pidns-init";
		if (!s->init_exited && s->pidfd >= 0) {
			syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
			gone = poll(&p, 1, 2000) > 0;
		}
		/* then the cgroup, for anything left (nothing, normally) */
		al_supervisor_kill(s, AL_KILL_POLICY, why);
	}
	t_gone = al_mono_ns();
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "reason", why);
	al_json_kv_str(&j, "method", method);
	al_json_kv_bool(&j, "all_gone", gone);
	al_json_kv_uint(&j, "elapsed_ns", t_gone - t_event_ns);
	al_json_obj_end(&j);
	if (b.oom || al_evlog_append(s->log, "kill", b.data, &e) < 0)
		s->kill_reason = AL_KILL_ERROR; /* not recorded: airlock's own failure */
	al_buf_free(&b);
}

int al_supervisor_monitor_start(struct al_supervisor *s, struct al_error *err)
{
	struct al_monitor_ops ops = {.append = mon_append, .kill = mon_kill, .ctx = s};
	const char *root = strcmp(s->spec->image, "host") == 0 ? "/" : s->spec->image;

	return al_monitor_open(&s->monitor, s->spec, root, &ops, err);
}

void al_supervisor_monitor_event(struct al_supervisor *s, const char *type, const char *fields)
{
	struct al_error e = {0};

	if (s->monitor && al_monitor_event(s->monitor, type, fields, &e) < 0)
		al_supervisor_kill(s, AL_KILL_ERROR, e.msg);
}
