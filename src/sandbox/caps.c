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

/* What uid 0 keeps inside a rootful session (`airlock exec --user root`):
 * enough to act as root of the sandbox -- own and change any file of the
 * sandbox's mapped ids, switch to another of them, signal its processes,
 * bind low ports in its own network namespace -- and nothing else: no
 * CAP_SYS_ADMIN (mounts, namespaces), CAP_NET_ADMIN/RAW, CAP_SYS_PTRACE,
 * CAP_MKNOD, CAP_SETFCAP, CAP_SETPCAP, CAP_SYS_CHROOT. Every one of these is
 * a capability in the sandbox's user namespace: over host objects (files
 * of unmapped ids, the host's namespaces) it is worth nothing. */
#define SESSION_ROOT_CAPS                                                                                   \
	((1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_DAC_READ_SEARCH) |                 \
	 (1ull << CAP_FOWNER) | (1ull << CAP_FSETID) | (1ull << CAP_KILL) | (1ull << CAP_SETGID) |          \
	 (1ull << CAP_SETUID) | (1ull << CAP_NET_BIND_SERVICE))

uint64_t al_caps_session_root_set(void)
{
	return SESSION_ROOT_CAPS;
}

static int caps_read(uint64_t *eff, uint64_t *perm, uint64_t *inh)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {{0}};
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	*eff = data[0].effective | (uint64_t)data[1].effective << 32;
	*perm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	*inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

int al_caps_child_setup_session_root(const struct al_sandbox_plan *plan, struct al_error *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {{0}};
	uint64_t keep = SESSION_ROOT_CAPS, e, pm, in;
	int cap;

	if (plan->rootless)
		return al_error_set(err, EINVAL, "caps", "a rootless session has no root to keep");
	if (setgroups(0, NULL) < 0)
		return al_error_errno(err, "ids", "clearing supplementary groups");
	/* Root keeps its capabilities across exec (no NOROOT: `--user root`
	 * commands need them), locked so; switching to any other uid clears
	 * them all (the setuid fixup, locked on); no ambient capabilities. */
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			  SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return al_error_errno(err, "caps", "locking securebits");
	for (cap = 0; cap <= 63; cap++) {
		if (keep & (1ull << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;
			return al_error_errno(err, "caps", "dropping capability %d from the bounding set", cap);
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return al_error_errno(err, "caps", "clearing ambient capabilities");
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return al_error_errno(err, "caps", "setting the session root's capabilities");
	if (caps_read(&e, &pm, &in) < 0 || e != keep || pm != keep || in != 0 ||
	    prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
		return al_error_set(err, EPERM, "caps", "the session root's capabilities are not what was set");
	return 0;
}

int al_caps_become(uid_t uid, gid_t gid)
{
	uint64_t e, pm, in;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	if (uid == 0)
		return 0; /* root of a session keeps its set (al_caps_child_setup_session_root) */
	if (capset_zero() < 0 || caps_read(&e, &pm, &in) < 0 || e || pm || in)
		return -EPERM;
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		return -EPERM;
	return 0;
}
