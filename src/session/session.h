/* A session: a sandbox whose init forks commands on request, driven over
 * its control socket (control.h, proto.h). The supervisor side of it lives
 * here and is called from the run lifecycle (run.c) and its event loop
 * (loop.c); the sandbox side is session_serve in sandbox/init.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "spec/spec.h"
#include "supervisor/run.h"
#include "util/error.h"

struct al_supervisor;
struct al_msg;

struct al_session_opts {
	const char *name;          /* or NULL */
	uint64_t idle_timeout_ns;  /* 0: none */
	uint64_t max_output;       /* default per-stream cap of an exec */
};

#define AL_SESSION_IDLE_DEFAULT_NS (30ull * 60 * 1000000000ull)
#define AL_SESSION_LIFETIME_DEFAULT_NS (24ull * 3600 * 1000000000ull)
#define AL_SESSION_MAX_OUTPUT_DEFAULT (10ull * 1024 * 1024)

/* `airlock create`: start a sandbox whose supervisor detaches (double fork,
 * setsid, stdio on /dev/null) and owns it; returns once the sandbox is
 * ready (its id in id_out) or failed (err). */
int al_session_create(const struct al_spec *spec, const struct al_session_opts *o, char id_out[40],
		      struct al_error *err);

/* The event loop's hooks. Tags at or above AL_TAG_SESSION are ours. */
#define AL_TAG_SESSION 64u
int al_session_loop_setup(struct al_supervisor *s, struct al_error *err);
void al_session_event(struct al_supervisor *s, uint64_t data, uint32_t events);
void al_session_init_msg(struct al_supervisor *s, const struct al_msg *m);
void al_session_tick(struct al_supervisor *s);
/* An OCI container's supervisor (the init runs a workload with
 * plan.exec_server): serve exec requests -- as the workload's own user,
 * no cp, no rm -- on listen_fd (listening, non-blocking; the session
 * takes it), removing sock_path at the end. Between al_run_prepare and
 * al_run_spawn. */
int al_session_attach_exec(struct al_supervisor *s, int listen_fd, const char *sock_path, struct al_error *err);
/* After al_run_supervise, before the teardown: every command's last
 * record, clients told, the socket closed and removed. */
void al_session_detach(struct al_supervisor *s, const char *verdict);
/* The sandbox's root (an O_PATH handle from the init), for `airlock cp`. */
void al_session_take_root(struct al_supervisor *s, int fd);

/* `airlock cp`, the sandbox side: in a child of the supervisor, become the
 * sandbox's user, or `--user` root / a uid (rootful: that id's host
 * uid/gid in the mapped range, no groups, no capabilities;
 * rootless: already the caller, who is that user), then serve one copy on
 * the client's socket, paths resolved from root_fd (RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS), and write a struct al_cp_result to report_fd. */
struct al_cp_result {
	int32_t err;       /* 0: done */
	uint64_t bytes, files, entries, skipped;
	char what[256];
};
__attribute__((noreturn)) void al_session_cp_child(struct al_supervisor *s, int client_fd, int root_fd,
						   int report_fd, bool in, uint64_t limit, const char *path,
						   const char *base, const char *user);
