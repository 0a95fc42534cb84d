/* Landlock: filesystem, network and scope restrictions on every process in
 * the sandbox, decided in the parent (ABI probe, path list) and applied by
 * the sandbox init after pivot_root (see landlock.c and docs/seccomp.md). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"
#include "util/json.h"

struct al_landlock;

/* The ABI airlock's full policy needs: 6 (fs incl. truncate and device
 * ioctls, TCP bind/connect, abstract-socket and signal scoping). */
#define AL_LANDLOCK_ABI_WANTED 6

/* Parent: probe the ABI and decide the rules. A kernel below
 * AL_LANDLOCK_ABI_WANTED is an error unless spec->allow_degraded has
 * AL_DEGRADE_LANDLOCK; then whatever the kernel supports is applied (or
 * nothing, without Landlock). */
/* writable_etc: a rootful session's /etc (its own tmpfs) may be written */
int al_landlock_prepare(struct al_landlock **out, const struct al_spec *spec, bool writable_etc,
			struct al_error *err);

/* Child: after pivot_root and all mounts, after dropping ids/caps and
 * no_new_privs, before seccomp. Opens each precomputed path (O_PATH), adds
 * the rules and restricts itself. No malloc. */
int al_landlock_child_setup(const struct al_landlock *ll, struct al_error *err);

/* The kernel's ABI version (0: no Landlock). */
int al_landlock_abi(const struct al_landlock *ll);

/* For run_start.protections: ABI, what is handled, the rules. */
void al_landlock_describe(const struct al_landlock *ll, struct al_json *j);

void al_landlock_free(struct al_landlock *ll);

/* One path rule, exposed for tests and docs. */
struct al_landlock_rule {
	const char *path; /* absolute, inside the sandbox */
	uint64_t access;  /* LANDLOCK_ACCESS_FS_* bits (before masking by ABI/file type) */
	int optional;     /* skip if absent (e.g. /lib32) */
	const char *why;
};
const struct al_landlock_rule *al_landlock_rules(const struct al_landlock *ll, size_t *n);
uint64_t al_landlock_handled_fs(const struct al_landlock *ll);
uint64_t al_landlock_handled_net(const struct al_landlock *ll);
uint64_t al_landlock_scoped(const struct al_landlock *ll);
