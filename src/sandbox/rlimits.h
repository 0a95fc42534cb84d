/* Resource limits applied by the sandbox init (child side, no allocation),
 * and the parent's account of what will be in force for run_start. */
#pragma once

#include "spec/spec.h"
#include "util/error.h"
#include "util/json.h"

/* Child, after clone, before dropping privileges: RLIMIT_CORE 0, NOFILE,
 * NPROC, FSIZE from lim, soft = hard, each clamped to the current hard
 * limit (lowering is always allowed; raising needs CAP_SYS_RESOURCE in the
 * initial namespace, which the sandbox never has). Syscalls only. */
int al_rlimits_child_setup(const struct al_limits *lim, struct al_error *err);

/* Parent: a JSON object (value only) with each rlimit the child will set,
 * the value after clamping to the hard limits the child inherits, and the
 * requested value where clamping lowered it. */
void al_rlimits_describe(const struct al_limits *lim, struct al_json *j);
