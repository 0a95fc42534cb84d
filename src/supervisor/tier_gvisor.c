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
	/* what gVisor serves and airlock therefore does not see (docs/gvisor.md) */
	al_json_key(j, "not_recorded");
	al_json_raw(j, "[\"exec\",\"file-open\",\"syscall-denied\"]");
	al_json_obj_end(j);
}
