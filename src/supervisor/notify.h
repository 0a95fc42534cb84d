/* The supervisor's side of the seccomp user-notification listener: every
 * execve/execveat and every denied syscall inside the sandbox arrives here,
 * is recorded in the event log, and is answered (exec: continue; anything
 * else: EPERM). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "evidence/evlog.h"
#include "util/error.h"

/* Bounds on what is read from a target for one exec record. */
#define AL_NOTIFY_PATH_MAX 4096    /* the kernel's PATH_MAX: bytes of a path, its NUL included */
#define AL_NOTIFY_ARGV_MAX 256     /* argv entries recorded */
#define AL_NOTIFY_ARGV_BYTES 16384 /* bytes of all recorded argv strings together */
#define AL_NOTIFY_LD_MAX 64        /* LD_ environment entries recorded */
#define AL_NOTIFY_LD_BYTES 16384   /* bytes of them together */
/* argv or envp entries walked (the kernel accepts fewer: its argument
 * space is at most 6 MiB, 8 bytes a pointer); more is refused, E2BIG */
#define AL_NOTIFY_VEC_MAX (1u << 20)
/* denied syscall numbers counted one by one past the recording cap */
#define AL_NOTIFY_NR_SLOTS 1024
/* syscall_denied records per run; beyond, denials are counted, not recorded */
#define AL_NOTIFY_DENIED_RECORDS 10000

struct al_notify;

/* Takes ownership of listener_fd (closed by al_notify_free, also on error).
 * log may be NULL in tests: then records go to the recorder set below, or
 * nowhere. */
int al_notify_open(struct al_notify **out, int listener_fd, struct al_evlog *log,
                   struct al_error *err);

/* The listener fd to poll for EPOLLIN; -1 once the listener was closed
 * because no process inside uses the filter any more (closing it also takes
 * it out of any epoll set). */
int al_notify_fd(const struct al_notify *n);

/* Called when the listener is readable: receive one notification, record it
 * (exec / syscall_denied), respond. Returns 0 when the target vanished
 * meanwhile (nothing to record). Returns -errno when recording failed (the
 * target is answered EPERM first) or the listener broke: the caller must
 * kill the run. */
int al_notify_handle(struct al_notify *n, struct al_error *err);

/* Counters, for run_end and tests. */
struct al_notify_stats {
	uint64_t execs;         /* continued */
	uint64_t execs_refused; /* refused: not fully readable, or the file not identified */
	uint64_t denied;
	uint64_t denied_unrecorded; /* past AL_NOTIFY_DENIED_RECORDS */
	uint64_t vanished;          /* targets gone before the answer */
	/* denials past the recording cap by syscall number; the last slot
	 * counts numbers >= AL_NOTIFY_NR_SLOTS - 1 */
	uint64_t unrecorded_by_nr[AL_NOTIFY_NR_SLOTS];
};
void al_notify_stats(const struct al_notify *n, struct al_notify_stats *st);

/* run_end.syscalls members beyond execs/denied/denied_unrecorded:
 * execs_refused and unrecorded_by_syscall {name: count} (docs/events.md). */
struct al_json;
void al_notify_stats_json(const struct al_notify_stats *st, struct al_json *j);

/* Where records go instead of the event log (tests, benchmarks). */
typedef int (*al_notify_recorder)(void *ctx, const char *type, const char *fields_json,
                                  struct al_error *err);
void al_notify_set_recorder(struct al_notify *n, al_notify_recorder fn, void *ctx);

/* A module that answers some notifications itself (chaos) sees each one
 * first: it returns 1 when it answered, 0 to leave it to the exec/denial
 * handling, <0 to fail the run. It answers and records through the
 * helpers below. */
struct seccomp_notif;
typedef int (*al_notify_interposer)(void *ctx, struct al_notify *n,
                                    const struct seccomp_notif *req, struct al_error *err);
void al_notify_set_interposer(struct al_notify *n, al_notify_interposer fn, void *ctx);
/* Answer: error 0 and flags SECCOMP_USER_NOTIF_FLAG_CONTINUE runs the call,
 * error -E fails it with E. A vanished target is 0 (counted). */
int al_notify_respond(struct al_notify *n, uint64_t id, int error, uint32_t flags,
                      struct al_error *err);
/* Answer with a return value of our own: the call is not run, it returns
 * val (an emulated call: chaos's skewed clock reads). */
int al_notify_respond_value(struct al_notify *n, uint64_t id, int64_t val, struct al_error *err);
/* Write a record through the log (or the test recorder). */
int al_notify_record(struct al_notify *n, const char *type, const char *json,
                     struct al_error *err);
/* "pid", "ppid" (inside the sandbox) and "host_pid" members. */
void al_notify_pid_fields(struct al_notify *n, struct al_json *j, pid_t host_pid);
/* Is notification id still pending (its target alive and waiting)? */
bool al_notify_valid(struct al_notify *n, uint64_t id);

void al_notify_free(struct al_notify *n);
