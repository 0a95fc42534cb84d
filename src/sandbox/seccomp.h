/* The seccomp policy of every process inside the sandbox: one table of rules
 * (allow / deny-and-record / ENOSYS), compiled with libseccomp in the parent
 * into a classic BPF program that the sandbox init installs with seccomp(2). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

struct al_seccomp;

/* What a rule does when it matches. */
enum al_seccomp_action {
	AL_SC_ALLOW = 0, /* plain allow: the kernel's constant-action cache serves it */
	AL_SC_DENY,      /* EPERM, recorded as syscall_denied through the listener */
	AL_SC_EXEC,      /* execve/execveat: recorded as exec, then continued */
	AL_SC_ENOSYS,    /* fail with ENOSYS, not recorded (clone3: libc falls back to clone) */
};

/* How a rule looks at one argument (only on cold syscalls; hot ones have none). */
enum al_seccomp_argcheck {
	AL_SC_ARG_NONE = 0,
	AL_SC_ARG_MASKED_EQ, /* allow when (arg[idx] & mask) == value */
};

#define AL_SC_MAX_EXCEPT 3

struct al_seccomp_cond {
	uint8_t idx;
	uint64_t mask;
	uint64_t value;
};

/* One row of the policy table. A syscall may have several ALLOW rows with
 * conditions (socket: one per family); a call that matches none of them
 * falls to the default action (EPERM, recorded), and `reason` of the first
 * row explains why it is restricted. */
struct al_seccomp_rule {
	const char *name; /* libseccomp name */
	int fallback_nr;  /* x86_64 number when libseccomp is older than the syscall, else -1 */
	enum al_seccomp_action action;
	unsigned n_conds; /* 0..3, all must hold (AND) */
	struct al_seccomp_cond conds[3];
	uint8_t except_idx; /* with n_except > 0: allow unless low32(arg) is listed */
	unsigned n_except;
	uint32_t except[AL_SC_MAX_EXCEPT];
	const char *group;  /* systemd-style group, for docs and events */
	const char *reason; /* why it is allowed / denied */
};

/* The policy table, in one place (seccomp.c). */
const struct al_seccomp_rule *al_seccomp_rules(size_t *n);

/* Syscall number of a rule on the native architecture, or -1 if unknown. */
int al_seccomp_rule_nr(const struct al_seccomp_rule *r);

/* First table row for the native syscall number nr, or NULL (not listed:
 * denied by default). Used by the supervisor to explain a denial. */
const struct al_seccomp_rule *al_seccomp_rule_lookup(int nr);

/* Name of native syscall nr into buf ("nr_<n>" if unknown). */
const char *al_seccomp_syscall_name(int nr, char *buf, size_t len);

/* Compile the table in the parent. Fails when the kernel lacks seccomp user
 * notification, unless spec->allow_degraded has AL_DEGRADE_SECCOMP_NOTIFY (then
 * denials are plain EPERM with no events and execs are not recorded). */
int al_seccomp_prepare(struct al_seccomp **out, const struct al_spec *spec, struct al_error *err);

/* The compilation itself, with or without a listener (prepare decides from
 * the kernel and the spec; tests build both). */
int al_seccomp_compile(struct al_seccomp **out, bool notify, struct al_error *err);

/* The same program, compiled from the same table at build time by
 * seccomp-gen (what prepare uses: no libseccomp work per start). */
int al_seccomp_embedded(struct al_seccomp **out, bool notify, struct al_error *err);

/* Child, as the LAST step before forking the workload, after no_new_privs:
 * installs the filter. *listener_out = the user-notification listener fd
 * (CLOEXEC; to be sent to the supervisor), or -1 when degraded. No malloc. */
int al_seccomp_child_setup(const struct al_seccomp *sc, int *listener_out, struct al_error *err);

/* Whether the compiled filter records through a listener. */
int al_seccomp_notify_enabled(const struct al_seccomp *sc);

/* The exported BPF program (for tests and benchmarks): n_insns 8-byte
 * struct sock_filter instructions. */
const void *al_seccomp_program(const struct al_seccomp *sc, size_t *n_insns);

/* Chaos (src/chaos): put in front of the program a prologue that sends
 * exactly the native syscalls nrs[0..n) to the listener (USER_NOTIF), and
 * leaves every other call to the unchanged policy below it -- so their
 * answers, and the kernel's constant-action cache for the hot allowed ones,
 * stay what they were. The supervisor must then answer those calls as the
 * policy would (it evaluates the original program: al_bpf_run). Needs a
 * filter with a listener (EINVAL otherwise). */
int al_seccomp_divert_to_listener(struct al_seccomp *sc, const int *nrs, size_t n,
                                  struct al_error *err);

void al_seccomp_describe(const struct al_seccomp *sc, struct al_json *j);

void al_seccomp_free(struct al_seccomp *sc);
