/* Landlock for the sandbox: which paths may be read, written and executed,
 * TCP bind/connect only where network.loopback_tcp (the default) leaves it
 * to the netns, no abstract unix sockets or signals across the
 * sandbox boundary. The parent probes the ABI and builds the rule list; the
 * init applies it in its own root after every mount is done. */
#define _GNU_SOURCE
#include "sandbox/landlock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

/* The installed linux/landlock.h predates ABI 3; what is missing is defined
 * here (values are kernel ABI, they never change). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* The full ruleset attribute (ABI 6); the header's has only the first field.
 * The kernel takes the size we pass, so older ABIs get a prefix. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_RX (FS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
/* every right that changes the tree or a file's contents */
#define FS_WRITE                                                                                   \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |                           \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |                           \
	 LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |                               \
	 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |                             \
	 LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER |  \
	 LANDLOCK_ACCESS_FS_TRUNCATE)
#define FS_ALL (FS_RX | FS_WRITE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
/* rights that make sense on a file (not a directory); others are EINVAL */
#define FS_FILE_RIGHTS                                                                             \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                              \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |                              \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define FS_DEV_NODE                                                                                \
	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |                            \
	 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

#define MAX_RULES 64

struct al_landlock {
	int abi;       /* 0: not available */
	bool degraded; /* ABI below AL_LANDLOCK_ABI_WANTED, accepted */
	struct ll_ruleset_attr attr;
	size_t attr_size;
	struct al_landlock_rule rules[MAX_RULES];
	size_t n_rules;
	char *owned[MAX_RULES]; /* strings we allocated */
	size_t n_owned;
};

/* Which fs rights each ABI knows. */
static uint64_t fs_rights_for_abi(int abi)
{
	uint64_t r = 0;

	if (abi >= 1)
		r |= (1ULL << 13) - 1; /* EXECUTE .. MAKE_SYM */
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

static int add_rule(struct al_landlock *ll, const char *path, uint64_t access, bool optional,
                    const char *why, struct al_error *err)
{
	if (ll->n_rules >= MAX_RULES)
		return al_error_set(err, E2BIG, "landlock",
		                    "more than %d Landlock path rules (at %s)", MAX_RULES, path);
	ll->rules[ll->n_rules++] = (struct al_landlock_rule){
	    .path = path, .access = access, .optional = optional, .why = why};
	return 0;
}

/* Keep a copy of path (prefixed with '/' when it lacks one) owned by ll. */
static const char *own(struct al_landlock *ll, const char *path)
{
	char *s = NULL;

	if (ll->n_owned >= MAX_RULES || asprintf(&s, "%s%s", path[0] == '/' ? "" : "/", path) < 0)
		return NULL;
	ll->owned[ll->n_owned++] = s;
	return s;
}

/* Same choice of top-level entries as rootfs.c makes for a directory image:
 * these are the places code comes from, so they get read + execute. */
static bool image_entry_is_code(const char *name)
{
	static const char *const skip[] = {
	    ".",   "..",  "proc", "sys", "dev",   "tmp",        "run",  "home", "workspace",
	    "etc", "var", "root", "mnt", "media", "lost+found", "boot", "srv",  "opt",
	};
	for (size_t i = 0; i < AL_ARRAY_SIZE(skip); i++)
		if (strcmp(name, skip[i]) == 0)
			return false;
	return true;
}

static int plan_image_rules(struct al_landlock *ll, const struct al_spec *spec,
                            struct al_error *err)
{
	static const char *const host_dirs[] = {"/usr",   "/bin",   "/sbin",  "/lib",
	                                        "/lib32", "/lib64", "/libx32"};
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (spec->image == NULL || strcmp(spec->image, "host") == 0) {
		for (size_t i = 0; i < AL_ARRAY_SIZE(host_dirs); i++) {
			r = add_rule(ll, host_dirs[i], FS_RX, true, "image: read and execute", err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	d = opendir(spec->image);
	if (d == NULL)
		return al_error_errno(err, "landlock", "opening image %s", spec->image);
	while ((de = readdir(d)) != NULL) {
		const char *p;
		if (!image_entry_is_code(de->d_name))
			continue;
		p = own(ll, de->d_name);
		if (p == NULL) {
			r = al_error_set(err, ENOMEM, "landlock", "planning image rules");
			break;
		}
		r = add_rule(ll, p, FS_RX, true, "image: read and execute", err);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int plan_rules(struct al_landlock *ll, const struct al_spec *spec, bool writable_etc, struct al_error *err)
{
	static const char *const dev_nodes[] = {"/dev/null",   "/dev/zero",    "/dev/full",
	                                        "/dev/random", "/dev/urandom", "/dev/tty"};
	const char *home = spec->uid == 0 ? "/root" : "/home/agent";
	int r;

	/* Listing directories anywhere is harmless (the tree holds only what
	 * airlock put there) and expected by shells and tools. */
	r = add_rule(ll, "/", LANDLOCK_ACCESS_FS_READ_DIR, false, "list directories", err);
	if (r == 0)
		r = plan_image_rules(ll, spec, err);
	if (r == 0)
		r = writable_etc ? add_rule(ll, "/etc", FS_READ | FS_WRITE, false,
		                            "a rootful session's own /etc (a tmpfs copy): root may change it", err)
		                 : add_rule(ll, "/etc", FS_READ, false, "synthesized configuration: read only",
		                            err);
	if (r == 0)
		r = add_rule(ll, "/proc", FS_READ, false, "procfs: read only", err);
	/* /dev/tty can be absent from the sandbox (no controlling terminal to bind) */
	for (size_t i = 0; r == 0 && i < AL_ARRAY_SIZE(dev_nodes); i++)
		r = add_rule(ll, dev_nodes[i], FS_DEV_NODE, true, "device node: read, write, ioctl",
		             err);
	if (r == 0)
		r = add_rule(ll, "/dev/pts", FS_READ | FS_DEV_NODE, true, "pseudo-terminals", err);
	if (r == 0)
		r = add_rule(ll, "/dev/shm", FS_READ | FS_WRITE, true,
		             "POSIX shared memory (noexec mount)", err);
	/* The writable areas: full rights, including execute (agent tool
	 * installers unpack and run binaries from /tmp, /var/tmp and home). */
	if (r == 0)
		r = add_rule(ll, "/tmp", FS_ALL, false, "writable area", err);
	if (r == 0)
		r = add_rule(ll, "/var/tmp", FS_ALL, false, "writable area", err);
	if (r == 0)
		r = add_rule(ll, home, FS_ALL, false, "home directory", err);
	if (r == 0)
		r = add_rule(ll, "/workspace", FS_ALL, false, "workspace", err);
	for (size_t i = 0; r == 0 && i < spec->n_volumes; i++) {
		const struct al_volume *v = &spec->volumes[i];
		const char *p = own(ll, v->sandbox);
		if (p == NULL)
			return al_error_set(err, ENOMEM, "landlock", "planning volume rules");
		/* executable unless noexec (the mount is noexec too): tools
		 * volumes are what docker, podman and bwrap users expect to run */
		uint64_t rights = v->rw ? FS_ALL : FS_RX;
		if (v->noexec)
			rights &= ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE;
		r = add_rule(ll, p, rights, false,
		             v->rw ? (v->noexec ? "read-write volume, noexec" : "read-write volume")
		                   : (v->noexec ? "read-only volume, noexec" : "read-only volume"),
		             err);
	}
	return r;
}

int al_landlock_prepare(struct al_landlock **out, const struct al_spec *spec, bool writable_etc,
			struct al_error *err)
{
	struct al_landlock *ll;
	long abi;
	int r;

	*out = NULL;
	ll = calloc(1, sizeof *ll);
	if (ll == NULL)
		return al_error_set(err, ENOMEM, "landlock", "allocating the ruleset plan");
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	ll->abi = abi > 0 ? (int)abi : 0;
	if (ll->abi < AL_LANDLOCK_ABI_WANTED) {
		if (!(spec->allow_degraded & AL_DEGRADE_LANDLOCK)) {
			int e = ll->abi == 0 ? (abi < 0 ? errno : ENOSYS) : ENOTSUP;
			free(ll);
			return al_error_set(err, e, "landlock",
			                    "Landlock ABI %d is available, airlock needs %d "
			                    "(filesystem, TCP and scope rules); "
			                    "allow the degradation 'landlock' to run with less",
			                    abi > 0 ? (int)abi : 0, AL_LANDLOCK_ABI_WANTED);
		}
		ll->degraded = true;
	}
	if (ll->abi == 0) {
		*out = ll;
		return 0;
	}
	ll->attr.handled_access_fs = fs_rights_for_abi(ll->abi);
	ll->attr_size = sizeof ll->attr.handled_access_fs;
	if (ll->abi >= 4 && !spec->network.loopback_tcp) {
		/* network.loopback_tcp: false -- handled with no rule: no TCP bind
		 * or connect at all. By default (true) TCP is left unhandled:
		 * Landlock rules are per port, not per address, and lo is all
		 * there is to reach. A mode whose netns reaches more than lo (an
		 * egress proxy) must decide here for itself, not inherit this. */
		ll->attr.handled_access_net =
		    LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
	}
	if (spec->network.mode == AL_NET_PROXY) {
		/* Proxy mode: every outgoing TCP connect must reach the netns's
		 * nftables redirect to the proxy, which decides and records;
		 * Landlock sees the original port and would refuse it unrecorded.
		 * Binding stays as loopback_tcp says. */
		ll->attr.handled_access_net &= ~(uint64_t)LANDLOCK_ACCESS_NET_CONNECT_TCP;
	}
	if (ll->abi >= 4)
		ll->attr_size = offsetof(struct ll_ruleset_attr, scoped);
	if (ll->abi >= 6) {
		ll->attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
		ll->attr_size = sizeof ll->attr;
	}
	r = plan_rules(ll, spec, writable_etc, err);
	if (r < 0) {
		al_landlock_free(ll);
		return r;
	}
	*out = ll;
	return 0;
}

int al_landlock_child_setup(const struct al_landlock *ll, struct al_error *err)
{
	int rfd, r = 0;

	if (ll->abi == 0)
		return 0; /* degraded to nothing, accepted and recorded by the parent */
	/* Fail closed if the order is wrong: restrict_self needs no_new_privs
	 * (we hold no CAP_SYS_ADMIN), and it must never be skipped silently. */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return al_error_set(err, EPERM, "landlock",
		                    "applying Landlock: no_new_privs is not set");
	rfd = (int)syscall(SYS_landlock_create_ruleset, &ll->attr, ll->attr_size, 0);
	if (rfd < 0)
		return al_error_errno(err, "landlock", "landlock_create_ruleset");
	for (size_t i = 0; i < ll->n_rules; i++) {
		const struct al_landlock_rule *rule = &ll->rules[i];
		struct landlock_path_beneath_attr pb;
		struct stat st;
		int fd = open(rule->path, O_PATH | O_CLOEXEC);

		if (fd < 0) {
			if (errno == ENOENT && rule->optional)
				continue;
			r = al_error_errno(err, "landlock", "opening %s for a Landlock rule",
			                   rule->path);
			break;
		}
		if (fstat(fd, &st) < 0) {
			r = al_error_errno(err, "landlock", "fstat %s", rule->path);
			close(fd);
			break;
		}
		pb.allowed_access = rule->access & ll->attr.handled_access_fs;
		if (!S_ISDIR(st.st_mode))
			pb.allowed_access &= FS_FILE_RIGHTS;
		pb.parent_fd = fd;
		if (pb.allowed_access != 0 &&
		    syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
			r = al_error_errno(err, "landlock", "landlock_add_rule %s", rule->path);
		close(fd);
		if (r < 0)
			break;
	}
	if (r == 0 && syscall(SYS_landlock_restrict_self, rfd, 0) < 0)
		r = al_error_errno(err, "landlock", "landlock_restrict_self");
	close(rfd);
	return r;
}

int al_landlock_abi(const struct al_landlock *ll)
{
	return ll->abi;
}

const struct al_landlock_rule *al_landlock_rules(const struct al_landlock *ll, size_t *n)
{
	*n = ll->n_rules;
	return ll->rules;
}

uint64_t al_landlock_handled_fs(const struct al_landlock *ll)
{
	return ll->attr.handled_access_fs;
}

uint64_t al_landlock_handled_net(const struct al_landlock *ll)
{
	return ll->attr.handled_access_net;
}

uint64_t al_landlock_scoped(const struct al_landlock *ll)
{
	return ll->attr.scoped;
}

static void access_names(struct al_json *j, uint64_t a)
{
	static const char *const names[] = {"execute",    "write_file",  "read_file", "read_dir",
	                                    "remove_dir", "remove_file", "make_char", "make_dir",
	                                    "make_reg",   "make_sock",   "make_fifo", "make_block",
	                                    "make_sym",   "refer",       "truncate",  "ioctl_dev"};
	al_json_arr_begin(j);
	for (unsigned i = 0; i < AL_ARRAY_SIZE(names); i++)
		if (a & (1ULL << i))
			al_json_str(j, names[i]);
	al_json_arr_end(j);
}

void al_landlock_describe(const struct al_landlock *ll, struct al_json *j)
{
	al_json_obj_begin(j);
	al_json_kv_int(j, "abi", ll->abi);
	al_json_kv_bool(j, "enabled", ll->abi > 0);
	al_json_kv_bool(j, "degraded", ll->degraded);
	if (ll->abi > 0) {
		al_json_key(j, "fs_handled");
		access_names(j, ll->attr.handled_access_fs);
		al_json_kv_bool(j, "net_tcp_denied", ll->attr.handled_access_net != 0);
		/* proxy mode denies bind only: say which */
		al_json_kv_bool(j, "net_tcp_bind_denied",
				(ll->attr.handled_access_net & LANDLOCK_ACCESS_NET_BIND_TCP) != 0);
		al_json_kv_bool(j, "net_tcp_connect_denied",
				(ll->attr.handled_access_net & LANDLOCK_ACCESS_NET_CONNECT_TCP) != 0);
		al_json_kv_bool(j, "scope_abstract_unix",
		                (ll->attr.scoped & LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET) != 0);
		al_json_kv_bool(j, "scope_signal", (ll->attr.scoped & LANDLOCK_SCOPE_SIGNAL) != 0);
		al_json_key(j, "fs_rules");
		al_json_arr_begin(j);
		for (size_t i = 0; i < ll->n_rules; i++) {
			al_json_obj_begin(j);
			al_json_kv_str(j, "path", ll->rules[i].path);
			al_json_key(j, "access");
			access_names(j, ll->rules[i].access & ll->attr.handled_access_fs);
			al_json_obj_end(j);
		}
		al_json_arr_end(j);
	}
	al_json_obj_end(j);
}

void al_landlock_free(struct al_landlock *ll)
{
	if (ll == NULL)
		return;
	for (size_t i = 0; i < ll->n_owned; i++)
		free(ll->owned[i]);
	free(ll);
}
