/* The gVisor isolation tier, sandbox side (gvisor.c): find runsc, and plan
 * the bundle the sandbox init hands it. */
#pragma once

#include <stddef.h>

#include "sandbox/sandbox.h"
#include "util/error.h"

/* The runsc binary: explicit_path (must exist, regular, executable) or the
 * first runsc in the caller's PATH; its real path into out. Missing: an
 * error naming what to do -- there is no fallback to another tier. */
int al_gvisor_find_runsc(const char *explicit_path, char *out, size_t out_len,
			 struct al_error *err);

/* After al_rootfs_plan, build_env and al_netns_prepare: add the bundle
 * (config.json), runsc and what it needs to the staging root, and set
 * plan->gvisor and the command the init execs instead of the workload. */
int al_gvisor_plan(struct al_sandbox_plan *plan, const char *runsc, struct al_error *err);
