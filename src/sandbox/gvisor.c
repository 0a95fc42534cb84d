/* The gVisor tier's part of the plan (parent, before clone): the OCI bundle
 * runsc is given (config.json, written by the init into its staging root),
 * the few host files runsc itself needs there, and its command line. The
 * sandbox init builds airlock's root as for any run, then execs runsc on it
 * instead of the workload: gVisor's kernel serves the workload's syscalls,
 * airlock's namespaces, cgroup and supervision stay around it. */
#define _GNU_SOURCE
#include "sandbox/gvisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/json.h"

/* Inside the init's staging root (the tmpfs it pivoted into, with the host
 * beneath it at AL_OLDROOT until the init detaches it). */
#define GV_RUN "/run"
#define GV_BUNDLE GV_RUN "/bundle"
#define GV_STATE GV_RUN "/state"
#define GV_TMP GV_RUN "/tmp"
#define GV_RUNSC "/runsc"

/* gVisor's runtime monitoring: the trace points airlock records, sent by
 * the sentry to the remote sink -- a SOCK_SEQPACKET socket the init binds
 * at AL_GVISOR_TRACE_SOCK and hands to the supervisor, which serves it
 * (supervisor/gvisor_trace.c). Enter points: the attempt is recorded
 * whatever its outcome. */
#define TRACE_HEAD "{\"trace_session\":{\"name\":\"Default\",\"points\":[" \
    "{\"name\":\"sentry/execve\",\"context_fields\":[\"group_id\",\"cwd\"]}"
#define TRACE_SINK "],\"sinks\":[{\"name\":\"remote\",\"config\":{\"endpoint\":\"" \
    AL_GVISOR_TRACE_SOCK "\"}}]}}\n"
/* execs only (default): few, so the sentry never has to drop one */
static const char trace_config_execs[] = TRACE_HEAD TRACE_SINK;
/* with every open (trace_opens): many; gVisor drops points when its socket
 * is full, which fails the run closed (gvisor_trace.c) */
static const char trace_config[] = TRACE_HEAD ","
    "{\"name\":\"syscall/open/enter\",\"context_fields\":[\"group_id\",\"cwd\"]},"
    "{\"name\":\"syscall/openat/enter\",\"context_fields\":[\"group_id\",\"cwd\"],"
    "\"optional_fields\":[\"fd_path\"]},"
    "{\"name\":\"syscall/creat/enter\",\"context_fields\":[\"group_id\",\"cwd\"]}" TRACE_SINK;

static int is_runsc_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(path, X_OK) < 0)
		return -errno;
	return 0;
}

int al_gvisor_find_runsc(const char *explicit_path, char *out, size_t out_len,
			 struct al_error *err)
{
	char buf[PATH_MAX];
	const char *path;
	int r;

	if (explicit_path) {
		r = is_runsc_file(explicit_path);
		if (r < 0)
			return al_error_set(err, 0, "gvisor",
					    "isolation: gvisor: runsc %s: %s (no fallback to another "
					    "tier: install Debian's runsc or give its path)",
					    explicit_path, strerror(-r));
		if (realpath(explicit_path, buf) == NULL)
			return al_error_errno(err, "gvisor", "resolving %s", explicit_path);
	} else {
		const char *seg, *end;
		bool found = false;

		/* The caller's PATH, as a shell would search it. */
		path = getenv("PATH");
		if (path == NULL || path[0] == '\0')
			path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
		for (seg = path; seg && *seg && !found; seg = end ? end + 1 : NULL) {
			size_t len;
			end = strchr(seg, ':');
			len = end ? (size_t)(end - seg) : strlen(seg);
			if (len == 0 || seg[0] != '/' || len + sizeof "/runsc" > sizeof buf)
				continue;
			memcpy(buf, seg, len);
			strcpy(buf + len, "/runsc");
			if (is_runsc_file(buf) == 0) {
				char real[PATH_MAX];
				if (realpath(buf, real) == NULL)
					continue;
				snprintf(buf, sizeof buf, "%s", real);
				found = true;
			}
		}
		if (!found)
			return al_error_set(err, 0, "gvisor",
					    "isolation: gvisor: no runsc in PATH (no fallback to "
					    "another tier: install Debian's runsc, or give --runsc PATH)");
	}
	if (strlen(buf) >= out_len)
		return al_error_set(err, ENAMETOOLONG, "gvisor", "runsc path %s", buf);
	snprintf(out, out_len, "%s", buf);
	return 0;
}

static void json_rlimit(struct al_json *j, const char *type, uint64_t v)
{
	al_json_obj_begin(j);
	al_json_kv_str(j, "type", type);
	al_json_kv_uint(j, "hard", v);
	al_json_kv_uint(j, "soft", v);
	al_json_obj_end(j);
}

static void json_mount(struct al_json *j, const char *dst, const char *type, const char *src,
		       const char *const *opts)
{
	al_json_obj_begin(j);
	al_json_kv_str(j, "destination", dst);
	al_json_kv_str(j, "type", type);
	al_json_kv_str(j, "source", src);
	al_json_key(j, "options");
	al_json_arr_begin(j);
	for (; opts && *opts; opts++)
		al_json_str(j, *opts);
	al_json_arr_end(j);
	al_json_obj_end(j);
}

static int cmp_len(const void *a, const void *b)
{
	size_t la = strlen(*(const char *const *)a), lb = strlen(*(const char *const *)b);
	return la < lb ? -1 : la > lb;
}

/* The bundle's config.json: the workload's process (argv, the scrubbed
 * environment, cwd, ids, no capabilities, no_new_privs, rlimits) on the
 * root airlock built. gVisor's own /proc, /dev and /dev/pts replace the
 * host-backed ones of that root; every writable area of the root is named
 * as a bind so gVisor serves it from airlock's size-limited tmpfs (and the
 * workspace overlay whose changes are reported) rather than from a tmpfs of
 * its own in the sandbox's memory. */
static int build_config(const struct al_sandbox_plan *p, struct al_buf *b)
{
	const struct al_spec *s = p->spec;
	static const char *const none[] = {NULL};
	static const char *const dev_opts[] = {"nosuid", "noexec", "mode=755", "size=65536k", NULL};
	static const char *const pts_opts[] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666",
					       "mode=0620", NULL};
	static const char *const bind_opts[] = {"rbind", "rw", "nosuid", "nodev", NULL};
	static const char *const caps[] = {"bounding", "effective", "inheritable", "permitted",
					   "ambient"};
	const char *areas[AL_MAX_DISK_AREAS];
	struct al_json j;
	size_t i;

	al_json_init(&j, b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "ociVersion", "1.0.2");
	al_json_key(&j, "process");
	al_json_obj_begin(&j);
	al_json_kv_bool(&j, "terminal", false);
	al_json_key(&j, "user");
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "uid", s->uid);
	al_json_kv_uint(&j, "gid", s->gid);
	al_json_obj_end(&j);
	al_json_key(&j, "args");
	al_json_arr_begin(&j);
	for (i = 0; i < s->argc; i++)
		al_json_str(&j, s->argv[i]);
	al_json_arr_end(&j);
	al_json_key(&j, "env");
	al_json_arr_begin(&j);
	for (i = 0; p->envp && p->envp[i]; i++)
		al_json_str(&j, p->envp[i]);
	al_json_arr_end(&j);
	al_json_kv_str(&j, "cwd", p->workdir);
	al_json_key(&j, "capabilities");
	al_json_obj_begin(&j);
	for (i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		al_json_key(&j, caps[i]);
		al_json_arr_begin(&j);
		al_json_arr_end(&j);
	}
	al_json_obj_end(&j);
	al_json_key(&j, "rlimits");
	al_json_arr_begin(&j);
	json_rlimit(&j, "RLIMIT_NOFILE", s->limits.nofile);
	json_rlimit(&j, "RLIMIT_NPROC", s->limits.nproc);
	json_rlimit(&j, "RLIMIT_FSIZE", s->limits.fsize);
	json_rlimit(&j, "RLIMIT_CORE", 0);
	al_json_arr_end(&j);
	al_json_kv_bool(&j, "noNewPrivileges", true);
	al_json_obj_end(&j);

	al_json_key(&j, "root");
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "path", AL_NEWROOT);
	/* Not read-only to gVisor: its root mount would make every area under
	 * it read-only too. The host enforces: the image and /etc are
	 * read-only bind mounts, only the writable areas take writes. */
	al_json_kv_bool(&j, "readonly", false);
	al_json_obj_end(&j);
	al_json_kv_str(&j, "hostname", s->hostname);

	al_json_key(&j, "mounts");
	al_json_arr_begin(&j);
	json_mount(&j, "/proc", "proc", "proc", none);
	json_mount(&j, "/dev", "tmpfs", "tmpfs", dev_opts);
	json_mount(&j, "/dev/pts", "devpts", "devpts", pts_opts);
	/* parents before children: OCI mounts are made in order */
	for (i = 0; i < p->n_disk_areas; i++)
		areas[i] = p->disk_areas[i];
	qsort(areas, p->n_disk_areas, sizeof areas[0], cmp_len);
	for (i = 0; i < p->n_disk_areas; i++) {
		char src[PATH_MAX];
		snprintf(src, sizeof src, "%s%s", AL_NEWROOT, areas[i]);
		json_mount(&j, areas[i], "bind", src, bind_opts);
	}
	al_json_arr_end(&j);

	al_json_key(&j, "linux");
	al_json_obj_begin(&j);
	al_json_key(&j, "namespaces");
	al_json_raw(&j, "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}]");
	al_json_obj_end(&j);
	al_json_obj_end(&j);
	return b->oom ? -ENOMEM : 0;
}

static int add_op(struct al_sandbox_plan *p, struct al_mount_op op, struct al_error *err)
{
	if (op.dst == NULL || ((op.kind == AL_MNT_BIND || op.kind == AL_MNT_BIND_FILE) && op.src == NULL) ||
	    (op.kind == AL_MNT_FILE && op.content == NULL) || al_plan_add(p, &op) < 0)
		return al_error_set(err, ENOMEM, "gvisor", "planning the gVisor bundle");
	return 0;
}

int al_gvisor_plan(struct al_sandbox_plan *p, const char *runsc, struct al_error *err)
{
	struct al_buf cfg;
	const char *content;
	size_t len;
	int r = 0, n = 0;

	al_buf_init(&cfg);
	if (build_config(p, &cfg) < 0) {
		al_buf_free(&cfg);
		return al_error_set(err, ENOMEM, "gvisor", "building config.json");
	}
	len = cfg.len;
	content = al_plan_strdup(p, cfg.data);
	al_buf_free(&cfg);

	/* After airlock's root is built (these ops come last), in the staging
	 * root: runsc's state and bundle on a small tmpfs of their own, the
	 * runsc binary (static) and /dev/null bound from the host, and the
	 * sandbox's own /proc (with airlock's masks) for runsc's use of
	 * /proc/self. The init then detaches the host (AL_OLDROOT). */
	struct al_mount_op ops[] = {
	    {.kind = AL_MNT_DIR, .dst = GV_RUN, .mode = 0700},
	    {.kind = AL_MNT_TMPFS, .dst = GV_RUN, .data = "size=16m,mode=0700",
	     .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC},
	    {.kind = AL_MNT_DIR, .dst = GV_BUNDLE, .mode = 0700},
	    {.kind = AL_MNT_DIR, .dst = GV_STATE, .mode = 0700},
	    {.kind = AL_MNT_DIR, .dst = GV_TMP, .mode = 0700},
	    {.kind = AL_MNT_FILE, .dst = GV_BUNDLE "/config.json", .mode = 0400, .content = content,
	     .content_len = len},
	    {.kind = AL_MNT_FILE, .dst = GV_BUNDLE "/trace.json", .mode = 0400,
	     .content = p->spec->trace_opens ? trace_config : trace_config_execs,
	     .content_len = p->spec->trace_opens ? sizeof trace_config - 1
						  : sizeof trace_config_execs - 1},
	    {.kind = AL_MNT_BIND_FILE, .src = al_plan_printf(p, AL_OLDROOT "%s", runsc),
	     .dst = GV_RUNSC, .flags = MS_RDONLY},
	    {.kind = AL_MNT_DIR, .dst = "/dev", .mode = 0755},
	    {.kind = AL_MNT_BIND_FILE, .src = AL_OLDROOT "/dev/null", .dst = "/dev/null",
	     .flags = MS_NOEXEC},
	    {.kind = AL_MNT_DIR, .dst = "/proc", .mode = 0555},
	    {.kind = AL_MNT_BIND, .src = AL_NEWROOT "/proc", .dst = "/proc",
	     .flags = MS_NOEXEC},
	};
	for (size_t i = 0; r == 0 && i < sizeof ops / sizeof ops[0]; i++)
		r = add_op(p, ops[i], err);
	if (r < 0)
		return r;

	/* runsc's own flags: ptrace platform (kvm hangs on this kind of host),
	 * no cgroups of its own (the init is already in airlock's), rootless
	 * (it runs as root of airlock's user namespace, never host root), and
	 * the network: gVisor's own loopback-only stack, or -- proxy mode --
	 * the sandbox's network namespace that airlock built, whose only way
	 * out is airlock's proxy. */
	p->gvisor = true;
	p->gvisor_runsc = al_plan_strdup(p, runsc);
	if (p->gvisor_runsc == NULL)
		return al_error_set(err, ENOMEM, "gvisor", "planning the gVisor bundle");
	p->gvisor_argv[n++] = (char *)GV_RUNSC;
	p->gvisor_argv[n++] = (char *)"--root=" GV_STATE;
	p->gvisor_argv[n++] = (char *)"--rootless";
	p->gvisor_argv[n++] = (char *)"--ignore-cgroups";
	p->gvisor_argv[n++] = (char *)"--platform=ptrace";
	p->gvisor_argv[n++] = p->egress ? (char *)"--network=host" : (char *)"--network=none";
	p->gvisor_argv[n++] = (char *)"--pod-init-config=" GV_BUNDLE "/trace.json";
	p->gvisor_argv[n++] = (char *)"run";
	p->gvisor_argv[n++] = (char *)"--bundle=" GV_BUNDLE;
	p->gvisor_argv[n++] = (char *)"airlock";
	p->gvisor_argv[n] = NULL;
	p->gvisor_envp[0] = (char *)"PATH=/";
	p->gvisor_envp[1] = (char *)"TMPDIR=" GV_TMP;
	p->gvisor_envp[2] = NULL;
	return 0;
}
