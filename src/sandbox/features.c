/* Cheap kernel feature probes done once per run, so a protection the
 * kernel cannot give is refused up front with a clear message instead of
 * failing half-way or, worse, silently running weaker. */
#define _GNU_SOURCE
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/fdutil.h"

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

int al_features_probe(struct al_features *f, struct al_error *err)
{
	char buf[64];
	unsigned int action = SECCOMP_RET_USER_NOTIF;
	long abi;

	f->userns = true;
	if (al_read_file_at(AT_FDCWD, "/proc/sys/user/max_user_namespaces", buf, sizeof buf) > 0 &&
	    atol(buf) == 0)
		f->userns = false;
	if (al_read_file_at(AT_FDCWD, "/proc/sys/kernel/unprivileged_userns_clone", buf, sizeof buf) > 0 &&
	    atol(buf) == 0 && geteuid() != 0)
		f->userns = false;
	f->timens = access("/proc/self/ns/time", F_OK) == 0;
	f->seccomp_notify = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	f->landlock_abi = abi > 0 ? (int)abi : 0;
	f->cgroup_v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;

	if (!f->userns)
		return al_error_set(err, EPERM, "features",
				    "user namespaces are disabled on this kernel (user.max_user_namespaces "
				    "or kernel.unprivileged_userns_clone); airlock cannot isolate without them");
	return 0;
}

const char *al_stage_name(int stage)
{
	switch (stage) {
	case AL_STAGE_WAIT: return "waiting for the supervisor";
	case AL_STAGE_IDENTITY_MAP: return "entering the user namespace";
	case AL_STAGE_MOUNTS: return "building the root filesystem";
	case AL_STAGE_PIVOT: return "entering the new root";
	case AL_STAGE_HOSTNAME: return "setting the hostname";
	case AL_STAGE_NETWORK: return "configuring the network";
	case AL_STAGE_RLIMITS: return "setting resource limits";
	case AL_STAGE_IDS: return "switching to the sandbox user";
	case AL_STAGE_CAPS: return "dropping capabilities";
	case AL_STAGE_NNP: return "setting no_new_privs";
	case AL_STAGE_LANDLOCK: return "applying Landlock";
	case AL_STAGE_SECCOMP: return "installing the seccomp filter";
	case AL_STAGE_FDS: return "closing inherited file descriptors";
	case AL_STAGE_EXEC: return "starting the command";
	case AL_STAGE_INIT: return "running the sandbox init";
	case AL_STAGE_CLOCK: return "setting the clock offset (chaos.clock)";
	case AL_STAGE_CGROUP: return "entering the run's cgroup";
	}
	return "setting up the sandbox";
}
