/* The gVisor isolation tier, supervisor side: the run's phases are the
 * same as for the namespaces tier (run.c); only the plan differs -- the
 * sandbox init execs runsc on the root it built (sandbox/gvisor.c) -- and
 * run_start says so. */
#include <limits.h>

#include "sandbox/gvisor.h"
#include "supervisor/supervisor.h"
#include "util/json.h"

int al_tier_gvisor_prepare(struct al_sandbox_plan *plan, struct al_error *err)
{
	char runsc[PATH_MAX];
	int r;

	/* runsc must be root of airlock's user namespace: its gofer mounts a
	 * procfs of airlock's pid namespace, which only that namespace's root
	 * may do (runsc's own rootless mode nests a user namespace that does
	 * not own it: EPERM). Rootless, that namespace maps one id, the
	 * caller's, to the workload's uid: so it must be 0. Inside gVisor it
	 * holds no capabilities (config.json gives none). */
	if (plan->rootless && (plan->spec->uid != 0 || plan->spec->gid != 0))
		return al_error_set(err, 0, "gvisor",
				    "isolation: gvisor, rootless: needs --user 0 (spec user: 0): runsc "
				    "must run as root of airlock's user namespace, which maps only your "
				    "own id; inside gVisor that uid 0 has no capabilities "
				    "(docs/gvisor.md). Or run airlock as root.");

	r = al_gvisor_find_runsc(plan->spec->runsc, runsc, sizeof runsc, err);
	if (r < 0)
		return r;
	return al_gvisor_plan(plan, runsc, err);
}

void al_tier_gvisor_describe(const struct al_sandbox_plan *plan, struct al_json *j)
{
	al_json_key(j, "gvisor");
	al_json_obj_begin(j);
	al_json_kv_str(j, "runsc", plan->gvisor_runsc);
	al_json_kv_str(j, "platform", "ptrace");
	al_json_kv_str(j, "network", plan->egress ? "host stack of the sandbox's network namespace (proxy only)"
						   : "gVisor's own, loopback only");
	/* gVisor's own trace points, served by the supervisor (gvisor_trace.c) */
	al_json_key(j, "recorded");
	al_json_raw(j, plan->spec->trace_opens ? "[\"exec\",\"file_open\"]" : "[\"exec\"]");
	/* what gVisor serves and airlock therefore does not see (docs/gvisor.md) */
	al_json_key(j, "not_recorded");
	al_json_raw(j, plan->spec->trace_opens ? "[\"syscall_denied\",\"exec_refusal\",\"openat2\"]"
					       : "[\"file_open\",\"syscall_denied\",\"exec_refusal\"]");
	al_json_obj_end(j);
}
