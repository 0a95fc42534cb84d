/* rlimits: the per-process limits the sandbox init sets on itself before it
 * forks the workload, so every process inside inherits them. They back up
 * the cgroup (and are all there is in rlimits-only mode). */
#include "sandbox/rlimits.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <unistd.h>

struct rlimit_item {
	int resource;
	const char *name;
	uint64_t want;
};

/* Fixed table, no allocation: the child walks it between clone and exec. */
static int rlimit_items(const struct al_limits *lim, struct rlimit_item it[4])
{
	/* No core dumps, of either kind. A file dump needs at least a page
	 * (binfmt min_coredump), so 1 stops it as 0 would. A pipe dump
	 * (core_pattern "|helper": apport, systemd-coredump) ignores the limit
	 * and starts the host's helper as root on the hostile process's memory
	 * -- except at exactly 1, which the kernel reserves to stop recursive
	 * helper crashes and answers with "aborting core". The seccomp filter
	 * keeps the workload from lowering it back to 0 (docs/isolation.md). */
	it[0] = (struct rlimit_item){RLIMIT_CORE, "core", 1};
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

/* Whether the host's core_pattern hands dumps to a program ("|...") or a
 * socket ("@..."). Syscalls only (the child calls it); unreadable counts as yes. */
static bool core_pattern_is_helper(void)
{
	char c = '|';
	int fd = open("/proc/sys/kernel/core_pattern", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '|';
		close(fd);
	}
	return c == '|' || c == '@';
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
		/* A hard core limit of 0 inherited from the caller cannot be
		 * raised to 1 from here; it stops file dumps but not a helper:
		 * fail closed where the host has one. */
		if (it[i].resource == RLIMIT_CORE && next.rlim_max == 0 && core_pattern_is_helper())
			return al_error_set(
			    err, EPERM, "rlimits",
			    "the host's core_pattern hands core dumps to a helper, and "
			    "airlock was started with a hard core limit of 0, which "
			    "does not stop it (only 1 does); start airlock with "
			    "'ulimit -Hc 1' or higher");
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
