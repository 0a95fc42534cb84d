/* Chaos: seeded, replayable fault injection inside the sandbox (issue 14,
 * docs/chaos.md). The supervisor owns it: syscall faults are decided on the
 * seccomp listener, resource steps are applied to the live cgroup from a
 * timer, the clock offset is written by the init. Every fault and every
 * step is a `chaos` record whose `decision` member depends only on the spec
 * (seed included) and the sequence of matching calls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"
#include "util/json.h"

struct al_seccomp;
struct al_notify;
struct seccomp_notif;
struct sock_filter;
struct seccomp_data;

/* ---- the PRNG: xoshiro256** seeded through splitmix64 (prng.c) ---- */
struct al_prng {
	uint64_t s[4];
};
/* One independent stream per (seed, stream): rule i of a spec draws from
 * stream i, so adding a rule never shifts another rule's draws. */
void al_prng_seed(struct al_prng *p, uint64_t seed, uint64_t stream);
uint64_t al_prng_next(struct al_prng *p);
/* Uniform in [0, 1), 53 bits. */
double al_prng_unit(struct al_prng *p);

/* ---- syscall fault decisions (schedule.c, pure) ---- */
struct al_chaos_rule_state {
	const struct al_chaos_syscall *rule;
	int nr;
	int path_arg;  /* -1: the rule looks at no path */
	int dirfd_arg; /* the *at calls' directory fd argument, or -1 (the cwd) */
	struct al_prng prng;
	uint64_t calls;    /* matching calls seen */
	uint64_t injected; /* faults injected by this rule */
};

struct al_chaos_decision {
	int rule;          /* index in chaos.syscalls; -1 when no rule matched */
	uint64_t call;     /* the rule's matching-call number, 1-based */
	uint64_t injected; /* the rule's injection count, this one included */
	bool has_draw;
	double draw; /* rate rules: the draw compared with the rate */
	bool inject;
	int err;
};

struct al_chaos_schedule {
	struct al_chaos_rule_state *rules;
	size_t n_rules;
};

/* Rules from the spec; fails (naming chaos.syscalls[i]) on a syscall this
 * architecture does not have. */
int al_chaos_schedule_init(struct al_chaos_schedule *sc, const struct al_chaos_spec *cs,
                           uint64_t seed, struct al_error *err);
void al_chaos_schedule_free(struct al_chaos_schedule *sc);
/* Whether any rule names syscall nr (so the call needs a path read). */
bool al_chaos_schedule_wants(const struct al_chaos_schedule *sc, int nr, bool *needs_path);
/* One call of nr (path: what the call names, NULL when not read or not
 * readable): every rule for nr whose glob matches counts it; the first whose
 * trigger fires (and whose max is not reached) injects. Returns whether a
 * rule matched at all. */
bool al_chaos_schedule_decide(struct al_chaos_schedule *sc, int nr, const char *path,
                              struct al_chaos_decision *d);
/* The deterministic part of a record: {"kind":"syscall","rule":..}. */
void al_chaos_decision_json(const struct al_chaos_schedule *sc, const struct al_chaos_decision *d,
                            const char *path, struct al_json *j);

/* ---- classic BPF, as seccomp runs it (bpf.c) ---- */
/* The filter's return value for d; a program that would be refused by the
 * kernel (bad opcode, jump out of range, no return) gives KILL_PROCESS. */
uint32_t al_bpf_run(const struct sock_filter *prog, size_t n, const struct seccomp_data *d);

/* ---- the run's chaos (chaos.c) ---- */
struct al_chaos;

/* Parent, before clone: the schedule, and the seccomp program changed so
 * that exactly the named syscalls reach the listener (sc must record through
 * a listener). Refuses what this run cannot do (disk steps rootless, a
 * clock offset without time namespaces). NULL *out when the spec has no
 * chaos. */
int al_chaos_prepare(struct al_chaos **out, const struct al_spec *spec, struct al_seccomp *sc,
                     bool rootless, struct al_error *err);
/* The seccomp listener hook (al_notify_set_interposer): 1 when the call was
 * a chaos call and was answered, 0 when it is not chaos's (the normal exec
 * and denial handling goes on), <0 on a failure (the run must be killed). */
int al_chaos_notify(void *ctx, struct al_notify *n, const struct seccomp_notif *req,
                    struct al_error *err);

/* The sandbox init's host pid: its own calls are never faulted (it reaps,
 * forwards signals and reports the exit; failing those would hang or
 * misreport the run instead of testing the workload). */
void al_chaos_set_init_pid(struct al_chaos *c, pid_t pid);

/* Resource schedule: the next step's due time (CLOCK_MONOTONIC ns relative
 * to the workload's start), or UINT64_MAX when none is left. */
uint64_t al_chaos_next_step_ns(const struct al_chaos *c);
/* Apply every step due at elapsed_ns through apply(); each one is recorded
 * (record() gets the type "chaos" and the fields). */
typedef int (*al_chaos_apply_fn)(void *ctx, const struct al_chaos_step *st, struct al_error *err);
typedef int (*al_chaos_record_fn)(void *ctx, const char *fields_json, struct al_error *err);
int al_chaos_steps_due(struct al_chaos *c, uint64_t elapsed_ns, al_chaos_apply_fn apply,
                       al_chaos_record_fn record, void *ctx, struct al_error *err);

/* Counters for run_end. */
void al_chaos_describe(const struct al_chaos *c, struct al_json *j);
/* run_start: what chaos is in force, with the seed in use (the spec's, or
 * a random one when it gives none). */
void al_chaos_describe_start(const struct al_chaos *c, struct al_json *j);

void al_chaos_free(struct al_chaos *c);
