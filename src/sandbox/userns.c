/* Identity mapping of the sandbox's user namespace. Rootless: the one
 * sandbox uid/gid maps to the caller's. Rootful: the sandbox's 65536 ids map
 * to an unprivileged host range (root's /etc/subuid entry, or a fixed high
 * range) -- never to host root, whose uid inside a sandbox could still write
 * host-owned files such as /proc/sys. */
#define _GNU_SOURCE
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fdutil.h"

#define AL_ID_RANGE 65536u
/* Top of the positive 31-bit range: far from the 100000+ ranges useradd hands out. */
#define AL_DEFAULT_ID_BASE 2147418112u

/* First "root:START:COUNT" (or "0:...") entry in a subid file with COUNT >= 65536. */
static bool subid_base(const char *file, uint32_t *base)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	char line[256];

	if (f == NULL)
		return false;
	while (fgets(line, sizeof line, f)) {
		char name[64];
		unsigned long start, count;
		if (sscanf(line, "%63[^:]:%lu:%lu", name, &start, &count) != 3)
			continue;
		if ((strcmp(name, "root") == 0 || strcmp(name, "0") == 0) && count >= AL_ID_RANGE &&
		    start > 0 && start + AL_ID_RANGE <= 0xffffffffu) {
			*base = (uint32_t)start;
			return true;
		}
	}
	return false;
}

int al_userns_prepare(struct al_sandbox_plan *plan, struct al_error *err)
{
	const struct al_spec *s = plan->spec;

	plan->rootless = geteuid() != 0;
	if (plan->rootless) {
		plan->host_uid = geteuid();
		plan->host_gid = getegid();
		snprintf(plan->uid_map, sizeof plan->uid_map, "%u %u 1\n", s->uid, plan->host_uid);
		snprintf(plan->gid_map, sizeof plan->gid_map, "%u %u 1\n", s->gid, plan->host_gid);
		return 0;
	}
	uint32_t ubase = AL_DEFAULT_ID_BASE, gbase = AL_DEFAULT_ID_BASE;
	subid_base("/etc/subuid", &ubase);
	subid_base("/etc/subgid", &gbase);
	if (ubase == 0 || gbase == 0)
		return al_error_set(err, EINVAL, "userns", "refusing to map sandbox ids to host root");
	plan->host_uid = ubase;
	plan->host_gid = gbase;
	snprintf(plan->uid_map, sizeof plan->uid_map, "0 %u %u\n", ubase, AL_ID_RANGE);
	snprintf(plan->gid_map, sizeof plan->gid_map, "0 %u %u\n", gbase, AL_ID_RANGE);
	return 0;
}

int al_userns_parent_setup(const struct al_sandbox_plan *plan, pid_t pid, struct al_error *err)
{
	char path[64];
	_cleanup_close_ int dfd = -1;
	int r;

	snprintf(path, sizeof path, "/proc/%d", (int)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return al_error_errno(err, "userns", "opening %s", path);
	/* Rootless: an unprivileged writer must give up setgroups first, or a
	 * sandbox could drop supplementary groups the caller is denied by. */
	if (plan->rootless) {
		r = al_write_file_at(dfd, "setgroups", "deny", 4, 0, 0);
		if (r < 0)
			return al_error_set(err, -r, "userns", "writing %s/setgroups", path);
	}
	r = al_write_file_at(dfd, "uid_map", plan->uid_map, strlen(plan->uid_map), 0, 0);
	if (r < 0)
		return al_error_set(err, -r, "userns", "writing %s/uid_map (%s)", path, plan->uid_map);
	r = al_write_file_at(dfd, "gid_map", plan->gid_map, strlen(plan->gid_map), 0, 0);
	if (r < 0)
		return al_error_set(err, -r, "userns", "writing %s/gid_map", path);
	return 0;
}
