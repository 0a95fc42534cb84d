/* Identity and privilege drop for the init (and so for everything it
 * forks): supplementary groups cleared, securebits locked, every capability
 * set emptied -- bounding, ambient, inheritable, permitted, effective -- and
 * the result verified rather than assumed. */
#define _GNU_SOURCE
#include "sandbox/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int capset_zero(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {{0}};
	return (int)syscall(SYS_capset, &hdr, data);
}

static int caps_all_zero(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {{0}};
	int i;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	for (i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return 0;
	return 1;
}

int al_caps_child_setup(const struct al_sandbox_plan *plan, struct al_error *err)
{
	const struct al_spec *s = plan->spec;
	int cap;

	/* Rootless maps a single gid and setgroups is denied: nothing to clear. */
	if (!plan->rootless && setgroups(0, NULL) < 0)
		return al_error_errno(err, "ids", "clearing supplementary groups");

	/* Lock the securebits so nothing later can regain privilege by becoming
	 * uid 0 inside, keeping caps across setuid, or raising ambient caps.
	 * Needs CAP_SETPCAP, so it comes before the drop. */
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
			  SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return al_error_errno(err, "caps", "locking securebits");

	/* Bounding set: also needs CAP_SETPCAP, so before the uid change. */
	for (cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the kernel's last capability */
			return al_error_errno(err, "caps", "dropping capability %d from the bounding set", cap);
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return al_error_errno(err, "caps", "clearing ambient capabilities");

	if (setresgid(s->gid, s->gid, s->gid) < 0)
		return al_error_errno(err, "ids", "setresgid %u", s->gid);
	if (setresuid(s->uid, s->uid, s->uid) < 0)
		return al_error_errno(err, "ids", "setresuid %u", s->uid);

	/* Rootless keeps its uid, so the kernel's setuid fixup does not clear
	 * the sets: empty them explicitly in every mode. */
	if (capset_zero() < 0)
		return al_error_errno(err, "caps", "clearing capability sets");
	if (caps_all_zero() != 1 || prctl(PR_CAPBSET_READ, 0, 0, 0, 0) != 0)
		return al_error_set(err, EPERM, "caps", "capabilities still present after the drop");
	return 0;
}
