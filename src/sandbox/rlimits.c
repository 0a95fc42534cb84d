/* rlimits: the per-process limits the sandbox init sets on itself before it
 * forks the workload, so every process inside inherits them. They back up
 * the cgroup (and are all there is in rlimits-only mode). */
#include "sandbox/rlimits.h"

#include <errno.h>
#include <sys/resource.h>

struct rlimit_item {
	int resource;
	const char *name;
	uint64_t want;
};

/* Fixed table, no allocation: the child walks it between clone and exec. */
static int rlimit_items(const struct al_limits *lim, struct rlimit_item it[4])
{
	/* no core dumps: a dump of a hostile process could land anywhere the
	 * kernel's core_pattern says, outside the sandbox's writable areas */
	it[0] = (struct rlimit_item){RLIMIT_CORE, "core", 0};
	it[1] = (struct rlimit_item){RLIMIT_NOFILE, "nofile", lim->nofile};
	/* counted per (user namespace, real uid): only the sandbox's own
	 * processes and threads of the workload's uid count (docs/limits.md) */
	it[2] = (struct rlimit_item){RLIMIT_NPROC, "nproc", lim->nproc};
	it[3] = (struct rlimit_item){RLIMIT_FSIZE, "fsize", lim->fsize};
	return 4;
}

static rlim_t clamp(uint64_t want, rlim_t hard)
{
	if (hard != RLIM_INFINITY && (want == UINT64_MAX || want > (uint64_t)hard))
		return hard;
	if (want == UINT64_MAX)
		return RLIM_INFINITY;
	return (rlim_t)want;
}

int al_rlimits_child_setup(const struct al_limits *lim, struct al_error *err)
{
	struct rlimit_item it[4];
	int n = rlimit_items(lim, it);

	for (int i = 0; i < n; i++) {
		struct rlimit cur, next;
		if (getrlimit(it[i].resource, &cur) < 0)
			return al_error_errno(err, "rlimits", "getrlimit RLIMIT_%s", it[i].name);
		/* never ask for more than the hard limit we inherited: raising
		 * fails with EPERM, and the lower hard limit is stricter anyway */
		next.rlim_cur = next.rlim_max = clamp(it[i].want, cur.rlim_max);
		if (setrlimit(it[i].resource, &next) < 0)
			return al_error_errno(err, "rlimits", "setrlimit RLIMIT_%s to %llu",
			                      it[i].name, (unsigned long long)next.rlim_max);
	}
	return 0;
}

void al_rlimits_describe(const struct al_limits *lim, struct al_json *j)
{
	struct rlimit_item it[4];
	int n = rlimit_items(lim, it);

	al_json_obj_begin(j);
	for (int i = 0; i < n; i++) {
		struct rlimit cur;
		rlim_t v;
		al_json_key(j, it[i].name);
		al_json_obj_begin(j);
		if (getrlimit(it[i].resource, &cur) < 0) {
			al_json_kv_str(j, "error", "getrlimit failed");
			al_json_obj_end(j);
			continue;
		}
		v = clamp(it[i].want, cur.rlim_max);
		if (v == RLIM_INFINITY)
			al_json_kv_str(j, "limit", "unlimited");
		else
			al_json_kv_uint(j, "limit", (uint64_t)v);
		if ((uint64_t)v != it[i].want &&
		    !(v == RLIM_INFINITY && it[i].want == UINT64_MAX)) {
			al_json_kv_uint(j, "requested", it[i].want);
			al_json_kv_str(j, "clamped_by", "the hard limit airlock was started with");
		}
		al_json_obj_end(j);
	}
	al_json_kv_str(j, "nproc_scope",
	               "per user namespace and uid: only the sandbox's own processes count");
	al_json_obj_end(j);
}
