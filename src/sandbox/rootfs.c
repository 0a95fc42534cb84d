/* The sandbox's root filesystem: planned in the parent as a flat list of
 * mount operations (image binds, synthesized /etc, /proc with masks, a
 * minimal /dev, size-limited writable tmpfs areas, volumes, the workspace
 * overlay) and executed by the init, which then pivots into it. */
#define _GNU_SOURCE
#include "sandbox/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

/* ---- plan helpers (parent) ------------------------------------------------ */

int al_plan_add(struct al_sandbox_plan *plan, const struct al_mount_op *op)
{
	if (plan->n_ops == plan->cap_ops) {
		size_t ncap = plan->cap_ops ? plan->cap_ops * 2 : 64;
		struct al_mount_op *n = realloc(plan->ops, ncap * sizeof *n);
		if (n == NULL)
			return -ENOMEM;
		plan->ops = n;
		plan->cap_ops = ncap;
	}
	plan->ops[plan->n_ops++] = *op;
	return 0;
}

static const char *plan_own(struct al_sandbox_plan *plan, char *s)
{
	if (s == NULL)
		return NULL;
	if (plan->n_owned == plan->cap_owned) {
		size_t ncap = plan->cap_owned ? plan->cap_owned * 2 : 64;
		char **n = realloc(plan->owned, ncap * sizeof *n);
		if (n == NULL) {
			free(s);
			return NULL;
		}
		plan->owned = n;
		plan->cap_owned = ncap;
	}
	plan->owned[plan->n_owned++] = s;
	return s;
}

const char *al_plan_strdup(struct al_sandbox_plan *plan, const char *s)
{
	return plan_own(plan, strdup(s));
}

const char *al_plan_printf(struct al_sandbox_plan *plan, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	return plan_own(plan, s);
}

void al_plan_free(struct al_sandbox_plan *plan)
{
	size_t i;
	for (i = 0; i < plan->n_owned; i++)
		free(plan->owned[i]);
	free(plan->owned);
	for (i = 0; i < plan->n_move_fds; i++)
		close(plan->move_fds[i]);
	plan->n_move_fds = 0;
	if (plan->idmap_userns_fd >= 0)
		close(plan->idmap_userns_fd);
	plan->idmap_userns_fd = -1;
	free(plan->ops);
	if (plan->envp) {
		for (i = 0; plan->envp[i]; i++)
			free(plan->envp[i]);
		free(plan->envp);
	}
	plan->owned = NULL;
	plan->ops = NULL;
	plan->envp = NULL;
	plan->n_owned = plan->n_ops = 0;
}

#define NR(path) AL_NEWROOT path

/* Strings of an op come from al_plan_printf/strdup: NULL means an
 * allocation failed there, so the check for it is made once, here. */
static int add(struct al_sandbox_plan *p, struct al_mount_op op, struct al_error *err)
{
	bool needs_src = op.kind == AL_MNT_BIND || op.kind == AL_MNT_BIND_FILE ||
			 op.kind == AL_MNT_SYMLINK;
	if (op.dst == NULL || (needs_src && op.src == NULL) ||
	    (op.kind == AL_MNT_FILE && op.content == NULL))
		return al_error_set(err, ENOMEM, "rootfs", "planning the root filesystem");
	if (al_plan_add(p, &op) < 0)
		return al_error_set(err, ENOMEM, "rootfs", "planning the root filesystem");
	return 0;
}

/* A size-limited writable area the supervisor watches for filling up. */
static int add_disk_area(struct al_sandbox_plan *p, const char *sandbox_path, struct al_error *err)
{
	if (p->n_disk_areas >= AL_MAX_DISK_AREAS)
		return al_error_set(err, E2BIG, "rootfs", "too many writable areas");
	p->disk_areas[p->n_disk_areas++] = sandbox_path;
	return 0;
}

/* Top-level entries of an image that become part of the new root. Virtual
 * and writable places are made fresh instead; /etc is synthesized. */
static bool image_entry_skipped(const char *name)
{
	static const char *const skip[] = {
		".", "..", "proc", "sys", "dev", "tmp", "run", "home", "workspace", "etc",
		"var", "root", "mnt", "media", "lost+found", "boot", "srv", "opt",
	};
	size_t i;
	for (i = 0; i < AL_ARRAY_SIZE(skip); i++)
		if (strcmp(name, skip[i]) == 0)
			return true;
	return false;
}

/* Host image: only the OS tree, never the caller's data (/root, /home, /srv...). */
static bool host_entry_wanted(const char *name)
{
	static const char *const want[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};
	size_t i;
	for (i = 0; i < AL_ARRAY_SIZE(want); i++)
		if (strcmp(name, want[i]) == 0)
			return true;
	return false;
}

static int plan_image(struct al_sandbox_plan *p, const char *image_root, bool host,
		      struct al_error *err)
{
	_cleanup_close_ int dfd = open(image_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (dfd < 0)
		return al_error_errno(err, "rootfs", "opening image %s", image_root);
	d = fdopendir(dfd);
	if (d == NULL)
		return al_error_errno(err, "rootfs", "reading image %s", image_root);
	dfd = -1;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		const char *name = de->d_name;
		if (host ? !host_entry_wanted(name) : image_entry_skipped(name))
			continue;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(dirfd(d), name, target, sizeof target - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			r = add(p, (struct al_mount_op){.kind = AL_MNT_SYMLINK, .src = al_plan_strdup(p, target),
						     .dst = al_plan_printf(p, NR("/%s"), name)}, err);
		} else if (S_ISDIR(st.st_mode)) {
			const char *dst = al_plan_printf(p, NR("/%s"), name);
			r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = dst, .mode = 0755}, err);
			if (r == 0)
				r = add(p, (struct al_mount_op){.kind = AL_MNT_BIND,
							     .src = al_plan_printf(p, AL_OLDROOT "%s/%s",
										   strcmp(image_root, "/") == 0 ? "" : image_root, name),
							     .dst = dst, .flags = MS_RDONLY | MS_NODEV}, err);
		}
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int plan_file(struct al_sandbox_plan *p, const char *dst, const char *content, uint32_t mode,
		     struct al_error *err)
{
	const char *c = al_plan_strdup(p, content);
	return add(p, (struct al_mount_op){.kind = AL_MNT_FILE, .dst = dst, .content = c,
					   .content_len = c ? strlen(c) : 0, .mode = mode}, err);
}

/* The content of host file src becomes the file dst in the new root. */
static int plan_copy(struct al_sandbox_plan *p, const char *src, const char *dst, struct al_error *err)
{
	char *buf;
	ssize_t n;
	struct stat st;
	int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0; /* unreadable: not part of the image */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 256 * 1024 ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n < 0 || plan_own(p, buf) == NULL)
		return n < 0 ? (free(buf), 0) : al_error_set(err, ENOMEM, "rootfs", "planning %s", dst);
	return add(p, (struct al_mount_op){.kind = AL_MNT_FILE, .dst = dst, .content = buf,
					   .content_len = (size_t)n, .mode = st.st_mode & 0644}, err);
}

/* Read-only binds of the host /etc pieces programs need to work: TLS roots,
 * the dynamic linker cache, Debian's alternatives links, Python's config. */
static int plan_etc_host(struct al_sandbox_plan *p, const char *etc, struct al_error *err)
{
	static const char *const dirs[] = {"ssl/certs", "alternatives", "python3", "python3.11",
					   "python3.12", "python3.13", "ca-certificates"};
	static const char *const files[] = {"ld.so.cache", "ssl/openssl.cnf", "protocols",
					    "services", "gitconfig"};
	size_t i;
	int r;
	struct stat st;
	char src[PATH_MAX];

	for (i = 0; i < AL_ARRAY_SIZE(dirs); i++) {
		snprintf(src, sizeof src, "%s/%s", etc, dirs[i]);
		if (lstat(src, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		const char *dst = al_plan_printf(p, NR("/etc/%s"), dirs[i]);
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = dst, .mode = 0755}, err);
		if (r == 0)
			r = add(p, (struct al_mount_op){.kind = AL_MNT_BIND, .src = al_plan_printf(p, AL_OLDROOT "%s", src),
						     .dst = dst, .flags = MS_RDONLY}, err);
		if (r < 0)
			return r;
	}
	/* Small files are copied (read here, written by the init into the root
	 * tmpfs, which ends read-only): cheaper than a bind mount each, and a
	 * snapshot the host cannot change under the run. */
	for (i = 0; i < AL_ARRAY_SIZE(files); i++) {
		snprintf(src, sizeof src, "%s/%s", etc, files[i]);
		if (lstat(src, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 256 * 1024)
			continue;
		r = plan_copy(p, src, al_plan_printf(p, NR("/etc/%s"), files[i]), err);
		if (r < 0)
			return r;
	}
	/* /etc/localtime is a symlink into /usr/share/zoneinfo on Debian. */
	snprintf(src, sizeof src, "%s/localtime", etc);
	if (lstat(src, &st) == 0 && S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof target - 1);
		if (n > 0) {
			target[n] = '\0';
			r = add(p, (struct al_mount_op){.kind = AL_MNT_SYMLINK, .src = al_plan_strdup(p, target),
						     .dst = NR("/etc/localtime")}, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* A rootfs image's /etc is image content: all of it is visible (read-only),
 * except the files airlock writes itself and the image's password hashes. */
static int plan_etc_image(struct al_sandbox_plan *p, const char *etc, struct al_error *err)
{
	static const char *const ours[] = {".", "..", "passwd", "group", "hosts", "hostname",
					   "resolv.conf", "nsswitch.conf", "shadow", "gshadow"};
	_cleanup_close_ int dfd = open(etc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (dfd < 0)
		return 0; /* an image without /etc */
	d = fdopendir(dfd);
	if (d == NULL)
		return al_error_errno(err, "rootfs", "reading %s", etc);
	dfd = -1;
	while (r == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		size_t i;
		bool skip = false;
		for (i = 0; i < AL_ARRAY_SIZE(ours); i++)
			skip = skip || strcmp(de->d_name, ours[i]) == 0;
		if (skip || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		const char *src = al_plan_printf(p, "%s/%s", etc, de->d_name);
		const char *dst = al_plan_printf(p, NR("/etc/%s"), de->d_name);
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			r = add(p, (struct al_mount_op){.kind = AL_MNT_SYMLINK,
						     .src = al_plan_strdup(p, target), .dst = dst}, err);
		} else if (S_ISDIR(st.st_mode)) {
			r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = dst, .mode = 0755}, err);
			if (r == 0)
				r = add(p, (struct al_mount_op){.kind = AL_MNT_BIND,
							     .src = al_plan_printf(p, AL_OLDROOT "%s", src),
							     .dst = dst, .flags = MS_RDONLY | MS_NODEV}, err);
		} else if (S_ISREG(st.st_mode)) {
			r = st.st_size <= 256 * 1024
				    ? plan_copy(p, src, dst, err)
				    : add(p, (struct al_mount_op){.kind = AL_MNT_BIND_FILE,
							       .src = al_plan_printf(p, AL_OLDROOT "%s", src),
							       .dst = dst, .flags = MS_RDONLY | MS_NODEV}, err);
		}
	}
	closedir(d);
	return r;
}

static int plan_etc(struct al_sandbox_plan *p, const char *home, const char *user,
		    struct al_error *err)
{
	const struct al_spec *s = p->spec;
	const char *passwd, *group, *hosts;
	int r;

	if (s->uid == 0)
		passwd = al_plan_printf(p, "root:x:0:%u:root:/root:/bin/sh\n"
					   "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
					s->gid);
	else
		passwd = al_plan_printf(p, "root:x:0:0:root:/root:/bin/sh\n"
					   "%s:x:%u:%u:%s:%s:/bin/sh\n"
					   "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
					user, s->uid, s->gid, user, home);
	if (s->gid == 0)
		group = al_plan_printf(p, "root:x:0:\nnogroup:x:65534:\n");
	else
		group = al_plan_printf(p, "root:x:0:\n%s:x:%u:\nnogroup:x:65534:\n", user, s->gid);
	hosts = al_plan_printf(p, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
				  "127.0.1.1\t%s\n", s->hostname);
	if (passwd == NULL || group == NULL || hosts == NULL)
		return al_error_set(err, ENOMEM, "rootfs", "planning /etc");

	r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = NR("/etc"), .mode = 0755}, err);
	/* A rootful session has a root (`exec --user root`) who may change
	 * /etc (adduser; the next exec's --user NAME reads /etc/passwd): its
	 * own small tmpfs, root's inside, a copy -- never the host's /etc.
	 * The pieces bound from the host or the image below stay read-only. */
	if (r == 0 && p->session && !p->rootless)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_TMPFS, .dst = NR("/etc"),
					     .data = "size=16m,nr_inodes=4096,mode=755",
					     .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC}, err);
	if (r == 0)
		r = plan_file(p, NR("/etc/passwd"), passwd, 0644, err);
	if (r == 0)
		r = plan_file(p, NR("/etc/group"), group, 0644, err);
	if (r == 0)
		r = plan_file(p, NR("/etc/hosts"), hosts, 0644, err);
	if (r == 0)
		r = plan_file(p, NR("/etc/hostname"), al_plan_printf(p, "%s\n", s->hostname), 0644, err);
	if (r == 0)
		r = plan_file(p, NR("/etc/resolv.conf"),
			      s->network.mode == AL_NET_PROXY
				  ? "# airlock: names are resolved by the egress proxy, which answers\n"
				    "# allowed names only (docs/egress.md)\nnameserver 127.0.0.1\n"
				  : "# airlock: no network; name resolution is not available\n",
			      0644, err);
	if (r == 0)
		r = plan_file(p, NR("/etc/nsswitch.conf"),
			      s->network.mode == AL_NET_PROXY
				  ? "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
				    "networks: files\nprotocols: files\nservices: files\n"
				  : "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"
				    "networks: files\nprotocols: files\nservices: files\n",
			      0644, err);
	if (r == 0) {
		if (strcmp(s->image, "host") == 0)
			r = plan_etc_host(p, "/etc", err);
		else
			r = plan_etc_image(p, al_plan_printf(p, "%s/etc", s->image), err);
	}
	return r;
}

/* /proc: fresh for the sandbox's pid namespace. The kernel-wide knobs are
 * read-only; what leaks host facts to anyone who can read it is hidden (the
 * set docker and runc mask, plus kallsyms, key-users, config.gz, mtrr and
 * driver). Files only host root can read (kmsg, kpage*, slabinfo, ...) stay
 * as they are: no sandbox id is host root and no capability reaches past
 * the user namespace, so their permissions already keep them closed; each
 * mask costs two syscalls on every start. */
static int plan_proc(struct al_sandbox_plan *p, struct al_error *err)
{
	static const char *const ro[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq",
					 "/proc/bus", "/proc/fs"};
	static const char *const masked[] = {
		"/proc/kcore", "/proc/kallsyms", "/proc/keys", "/proc/key-users",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/latency_stats",
		"/proc/acpi", "/proc/scsi", "/proc/asound", "/proc/config.gz", "/proc/mtrr",
		"/proc/driver",
	};
	size_t i;
	int r;

	r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = NR("/proc"), .mode = 0555}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_PROC, .dst = NR("/proc")}, err);
	for (i = 0; r == 0 && i < AL_ARRAY_SIZE(ro); i++)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_RDONLY,
					     .dst = al_plan_printf(p, AL_NEWROOT "%s", ro[i])}, err);
	/* Planned only for what exists on this kernel: no probe in the child. */
	for (i = 0; r == 0 && i < AL_ARRAY_SIZE(masked); i++)
		if (access(masked[i], F_OK) == 0)
			r = add(p, (struct al_mount_op){.kind = AL_MNT_MASK,
						     .dst = al_plan_printf(p, AL_NEWROOT "%s", masked[i])}, err);
	return r;
}

static int plan_dev(struct al_sandbox_plan *p, struct al_error *err)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	static const struct {
		const char *target, *name;
	} links[] = {
		{"/proc/self/fd", "fd"},   {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
	};
	size_t i;
	int r;

	r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = NR("/dev"), .mode = 0755}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_TMPFS, .dst = NR("/dev"),
					     .data = "size=64k,nr_inodes=64,mode=0755",
					     .flags = MS_NOSUID | MS_NOEXEC}, err);
	for (i = 0; r == 0 && i < AL_ARRAY_SIZE(nodes); i++)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_BIND_FILE,
					     .src = al_plan_printf(p, AL_OLDROOT "/dev/%s", nodes[i]),
					     .dst = al_plan_printf(p, NR("/dev/%s"), nodes[i]),
					     .flags = MS_NOSUID | MS_NOEXEC}, err);
	for (i = 0; r == 0 && i < AL_ARRAY_SIZE(links); i++)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_SYMLINK, .src = links[i].target,
					     .dst = al_plan_printf(p, NR("/dev/%s"), links[i].name)}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = NR("/dev/pts"), .mode = 0755}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DEVPTS, .dst = NR("/dev/pts")}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = NR("/dev/shm"), .mode = 01777}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_TMPFS, .dst = NR("/dev/shm"),
					     .data = al_plan_printf(p, "size=%llu,mode=1777",
								    (unsigned long long)p->spec->limits.disk),
					     .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC}, err);
	if (r == 0)
		r = add_disk_area(p, "/dev/shm", err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_REMOUNT_RO, .dst = NR("/dev"),
					     .flags = MS_NOSUID | MS_NOEXEC}, err);
	return r;
}

static int plan_tmpfs(struct al_sandbox_plan *p, const char *dst, uint32_t mode, bool owned,
		      struct al_error *err)
{
	const struct al_spec *s = p->spec;
	const char *data = owned ? al_plan_printf(p, "size=%llu,mode=%o,uid=%u,gid=%u",
						  (unsigned long long)s->limits.disk, mode, s->uid, s->gid)
				 : al_plan_printf(p, "size=%llu,mode=%o",
						  (unsigned long long)s->limits.disk, mode);
	int r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = dst, .mode = 0755}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_TMPFS, .dst = dst, .data = data,
					     .flags = MS_NOSUID | MS_NODEV}, err);
	if (r == 0)
		r = add_disk_area(p, dst + strlen(AL_NEWROOT), err);
	return r;
}

/* A caller-chosen host path (volume, workspace). Rootful, directories are
 * idmapped so the owner's files are the sandbox user's inside, under the
 * owner rule of idmap.c (owner_root: whether a root-owned directory may be
 * mapped); rootless the caller's own uid is already the sandbox user's.
 * Always nosuid and nodev; noexec when asked. */
static int add_host_bind(struct al_sandbox_plan *p, const char *real, const char *dst, bool ro,
			 bool noexec, bool owner_root, bool is_dir, struct al_error *err)
{
	unsigned long flags = (ro ? MS_RDONLY : 0) | (noexec ? MS_NOEXEC : 0) | MS_NOSUID | MS_NODEV;
	if (!p->rootless && is_dir) {
		int idx = al_idmap_mount(p, real,
					 (ro ? MOUNT_ATTR_RDONLY : 0) | (noexec ? MOUNT_ATTR_NOEXEC : 0),
					 owner_root, err);
		if (idx < 0)
			return idx;
		return add(p, (struct al_mount_op){.kind = AL_MNT_MOVE_FD, .dst = dst, .fd = idx}, err);
	}
	if (!is_dir) {
		const char *placeholder = dst;
		int r = add(p, (struct al_mount_op){.kind = AL_MNT_BIND_FILE,
						 .src = al_plan_printf(p, AL_OLDROOT "%s", real),
						 .dst = placeholder, .flags = flags}, err);
		return r;
	}
	return add(p, (struct al_mount_op){.kind = AL_MNT_BIND, .src = al_plan_printf(p, AL_OLDROOT "%s", real),
					 .dst = dst, .flags = flags}, err);
}

/* The workspace: the host directory is the read-only lower layer of an
 * overlay whose upper layer is a size-limited tmpfs; the workload's changes
 * land only in the upper layer, which the supervisor reads afterwards (it is
 * handed the upper directory's fd) for the change report and --export. */
static int plan_workspace(struct al_sandbox_plan *p, struct al_error *err)
{
	const struct al_spec *s = p->spec;
	char real[PATH_MAX];
	struct stat st;
	int r;

	if (realpath(s->workspace, real) == NULL)
		return al_error_errno(err, "workspace", "resolving workspace %s", s->workspace);
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		return al_error_set(err, ENOTDIR, "workspace", "workspace %s is not a directory", real);

	r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = "/ws-lower", .mode = 0755}, err);
	if (r == 0)
		/* the lower layer is never written: the owner (root included)
		 * may be mapped, so the workload can work on its own files */
		r = add_host_bind(p, real, "/ws-lower", true, false, true, true, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = "/ws", .mode = 0755}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_TMPFS, .dst = "/ws",
					     .data = al_plan_printf(p, "size=%llu,mode=0755",
								    (unsigned long long)s->limits.disk),
					     .flags = MS_NOSUID | MS_NODEV}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = "/ws/upper", .mode = st.st_mode & 07777}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_CHOWN, .dst = "/ws/upper", .uid = s->uid, .gid = s->gid}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = "/ws/work", .mode = 0700}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = NR("/workspace"), .mode = 0755}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_OVERLAY, .dst = NR("/workspace"),
					     .data = "lowerdir=/ws-lower,upperdir=/ws/upper,workdir=/ws/work,userxattr",
					     .flags = MS_NOSUID | MS_NODEV}, err);
	/* an overlay's statfs is its upper layer's: the tmpfs that fills */
	if (r == 0)
		r = add_disk_area(p, "/workspace", err);
	p->want_upper_fd = true;
	return r;
}

static int plan_volumes(struct al_sandbox_plan *p, struct al_error *err)
{
	const struct al_spec *s = p->spec;
	size_t i;
	int r;

	for (i = 0; i < s->n_volumes; i++) {
		const struct al_volume *v = &s->volumes[i];
		char real[PATH_MAX];
		struct stat st;
		if (realpath(v->host, real) == NULL)
			return al_error_errno(err, "volumes", "resolving volume source %s", v->host);
		if (stat(real, &st) < 0)
			return al_error_errno(err, "volumes", "volume source %s", real);
		const char *dst = al_plan_printf(p, AL_NEWROOT "%s", v->sandbox);
		if (S_ISDIR(st.st_mode)) {
			r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = dst, .mode = 0755}, err);
		} else {
			/* a file volume: its parent directory may not exist yet */
			const char *slash = dst ? strrchr(dst, '/') : NULL;
			const char *parent = slash ? al_plan_printf(p, "%.*s", (int)(slash - dst), dst) : NULL;
			r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = parent, .mode = 0755}, err);
		}
		if (r == 0)
			r = add_host_bind(p, real, dst, !v->rw, v->noexec, v->owner_root,
					  S_ISDIR(st.st_mode), err);
		if (r < 0)
			return r;
	}
	return 0;
}

int al_rootfs_plan(struct al_sandbox_plan *p, struct al_error *err)
{
	const struct al_spec *s = p->spec;
	bool host = strcmp(s->image, "host") == 0;
	const char *user = s->uid == 0 ? "root" : "agent";
	const char *home = s->uid == 0 ? "/root" : "/home/agent";
	int r;

	/* The new root is a small tmpfs of our own; it is made read-only at the end. */
	r = add(p, (struct al_mount_op){.kind = AL_MNT_TMPFS, .dst = AL_NEWROOT,
				     .data = "size=1m,nr_inodes=4096,mode=0755",
				     .flags = MS_NOSUID | MS_NODEV}, err);
	if (r == 0)
		r = plan_image(p, host ? "/" : s->image, host, err);
	if (r == 0)
		r = plan_etc(p, home, user, err);
	if (r == 0)
		r = plan_proc(p, err);
	if (r == 0)
		r = plan_dev(p, err);
	if (r == 0)
		r = plan_tmpfs(p, NR("/tmp"), 01777, false, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .dst = NR("/var"), .mode = 0755}, err);
	if (r == 0)
		r = plan_tmpfs(p, NR("/var/tmp"), 01777, false, err);
	if (r == 0)
		r = plan_tmpfs(p, al_plan_printf(p, AL_NEWROOT "%s", home), 0700, true, err);
	if (r == 0)
		r = s->workspace ? plan_workspace(p, err)
				 : plan_tmpfs(p, NR("/workspace"), 0755, true, err);
	if (r == 0)
		r = plan_volumes(p, err);
	if (r == 0 && s->workdir)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_DIR, .optional = true,
					     .dst = al_plan_printf(p, AL_NEWROOT "%s", s->workdir),
					     .mode = 0755}, err);
	if (r == 0)
		r = add(p, (struct al_mount_op){.kind = AL_MNT_REMOUNT_RO, .dst = AL_NEWROOT,
					     .flags = MS_NOSUID | MS_NODEV}, err);
	return r;
}

/* ---- execution (child: syscalls only) ------------------------------------ */

static int child_fail(struct al_error *err, const char *what, const char *path)
{
	return al_error_set(err, errno, "mounts", "%s %s", what, path);
}

/* mkdir -p without allocation. Most targets have an existing parent, so
 * try the full path first and walk the components only when that fails. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;
	bool created = false;

	if (mkdir(path, mode) == 0)
		return chmod(path, mode); /* mkdir honours the umask; the mode is by design */
	if (errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		created = mkdir(buf, i == len ? mode : 0755) == 0;
		if (!created && errno != EEXIST)
			return -1;
		buf[i] = i == len ? '\0' : '/';
	}
	return created && chmod(path, mode) < 0 ? -1 : 0;
}

static int sys_mount_setattr(int dfd, const char *path, unsigned int flags, struct mount_attr *a)
{
	return (int)syscall(SYS_mount_setattr, dfd, path, flags, a, sizeof *a);
}

/* Make a bind mount (and everything under it) read-only/nosuid/nodev without
 * touching its atime flags -- remount would have to repeat the locked flags
 * of a mount inherited from the host, mount_setattr only adds. */
static int restrict_mount(const char *path, unsigned long flags)
{
	struct mount_attr a = {0};
	if (flags & MS_RDONLY)
		a.attr_set |= MOUNT_ATTR_RDONLY;
	if (flags & MS_NOSUID)
		a.attr_set |= MOUNT_ATTR_NOSUID;
	if (flags & MS_NODEV)
		a.attr_set |= MOUNT_ATTR_NODEV;
	if (flags & MS_NOEXEC)
		a.attr_set |= MOUNT_ATTR_NOEXEC;
	if (a.attr_set == 0)
		return 0;
	return sys_mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &a);
}

static int run_op(const struct al_mount_op *op, struct al_error *err)
{
	int fd;
	struct stat st;

	switch (op->kind) {
	case AL_MNT_DIR:
		if (mkdir_p(op->dst, op->mode) < 0 && !op->optional)
			return child_fail(err, "creating", op->dst);
		return 0;
	case AL_MNT_TMPFS:
		if (mount("tmpfs", op->dst, "tmpfs", op->flags, op->data) < 0)
			return child_fail(err, "mounting tmpfs on", op->dst);
		return 0;
	case AL_MNT_BIND_FILE:
		fd = open(op->dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
		if (fd < 0)
			return child_fail(err, "creating", op->dst);
		close(fd);
		/* fallthrough */
	case AL_MNT_BIND:
		if (mount(op->src, op->dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (op->optional && errno == ENOENT)
				return 0;
			return child_fail(err, "bind-mounting", op->dst);
		}
		/* Every bind is nosuid; every directory bind (image, /etc pieces,
		 * volumes) is also nodev, so a device node in an image or a host
		 * directory opens nothing. Single-file binds keep their planned
		 * flags: /dev/null and friends are such binds. */
		if (restrict_mount(op->dst, op->flags | MS_NOSUID |
						(op->kind == AL_MNT_BIND ? MS_NODEV : 0)) < 0)
			return child_fail(err, "restricting", op->dst);
		return 0;
	case AL_MNT_SYMLINK:
		if (symlink(op->src, op->dst) < 0 && errno != EEXIST)
			return child_fail(err, "creating symlink", op->dst);
		return 0;
	case AL_MNT_FILE:
		fd = open(op->dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, op->mode);
		if (fd < 0)
			return child_fail(err, "creating", op->dst);
		if (write(fd, op->content, op->content_len) != (ssize_t)op->content_len) {
			close(fd);
			return child_fail(err, "writing", op->dst);
		}
		close(fd);
		return 0;
	case AL_MNT_PROC:
		if (mount("proc", op->dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			return child_fail(err, "mounting proc on", op->dst);
		return 0;
	case AL_MNT_DEVPTS:
		if (mount("devpts", op->dst, "devpts", MS_NOSUID | MS_NOEXEC,
			  "newinstance,ptmxmode=0666,mode=0620") < 0)
			return child_fail(err, "mounting devpts on", op->dst);
		return 0;
	case AL_MNT_MASK:
		if (lstat(op->dst, &st) < 0)
			return 0; /* nothing to hide */
		if (S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", op->dst, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				  "size=0,nr_inodes=1,mode=0500") < 0)
				return child_fail(err, "masking", op->dst);
		} else if (mount(AL_OLDROOT "/dev/null", op->dst, NULL, MS_BIND, NULL) < 0 ||
			   restrict_mount(op->dst, MS_RDONLY | MS_NOSUID | MS_NOEXEC) < 0) {
			return child_fail(err, "masking", op->dst);
		}
		return 0;
	case AL_MNT_RDONLY:
		if (lstat(op->dst, &st) < 0)
			return 0;
		if (mount(op->dst, op->dst, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    restrict_mount(op->dst, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) < 0)
			return child_fail(err, "making read-only", op->dst);
		return 0;
	case AL_MNT_OVERLAY:
		if (mount("overlay", op->dst, "overlay", op->flags, op->data) < 0)
			return child_fail(err, "mounting overlay on", op->dst);
		return 0;
	case AL_MNT_MOVE_FD:
		if (syscall(SYS_move_mount, AL_MOVE_FD_BASE + op->fd, "", AT_FDCWD, op->dst,
			    MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return child_fail(err, "attaching mount at", op->dst);
		close(AL_MOVE_FD_BASE + op->fd);
		return 0;
	case AL_MNT_REMOUNT_RO:
		if (mount(NULL, op->dst, NULL, MS_REMOUNT | MS_RDONLY | op->flags, NULL) < 0)
			return child_fail(err, "remounting read-only", op->dst);
		return 0;
	case AL_MNT_CHOWN:
		if (chown(op->dst, op->uid, op->gid) < 0)
			return child_fail(err, "chown", op->dst);
		return 0;
	}
	errno = EINVAL;
	return child_fail(err, "unknown mount operation for", op->dst);
}

int al_rootfs_child_setup(const struct al_sandbox_plan *plan, struct al_error *err)
{
	size_t i;
	int r;

	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return al_error_errno(err, "mounts", "making / private");
	/* Stage: a tmpfs over the old root's /tmp becomes the root at once, with
	 * the old root beneath it at /oldroot; nothing of the host is shadowed. */
	if (mount("tmpfs", AL_STAGE_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") < 0)
		return al_error_errno(err, "mounts", "mounting the staging tmpfs");
	if (chdir(AL_STAGE_DIR) < 0 || mkdir("oldroot", 0755) < 0 || mkdir("newroot", 0755) < 0)
		return al_error_errno(err, "mounts", "preparing the staging tmpfs");
	if (syscall(SYS_pivot_root, ".", "oldroot") < 0)
		return al_error_errno(err, "pivot", "pivot_root into the staging tmpfs");
	if (chdir("/") < 0)
		return al_error_errno(err, "pivot", "chdir /");

	for (i = 0; i < plan->n_ops; i++) {
		r = run_op(&plan->ops[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}
