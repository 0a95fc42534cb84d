/* config.json onto an airlock spec. The airlock spec given by annotation
 * (dev.airlock.spec) is the policy; config.json supplies the process, the
 * root and the host name, and its resources and rlimits can only lower the
 * spec's limits. Mounts are mapped to airlock's own safe mounts. */
#define _GNU_SOURCE
#include "oci/oci.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAGE "oci"

/* Destinations a container client mounts for every container; airlock
 * provides its own (/proc, /dev, /dev/pts, /dev/shm, /tmp) or none (/sys,
 * cgroups, the client's /etc/hosts and /etc/resolv.conf: the sandbox has no
 * network of the host to name). */
static bool system_destination(const char *d)
{
	static const char *const sys[] = {
		"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
		"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/run/.containerenv", "/run/secrets",
		"/tmp", "/var/tmp", "/run", "/dev/console", "/dev/termination-log",
	};
	for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
		if (strcmp(d, sys[i]) == 0)
			return true;
	return false;
}

static void safe_copy(char *out, size_t cap, const char *s)
{
	snprintf(out, cap, "%s", s);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

static int map_mounts(struct al_oci_config *c, const char *bundle, struct al_spec *spec, struct al_error *err)
{
	for (size_t i = 0; i < c->n_mounts; i++) {
		const struct al_oci_mount *m = &c->mounts[i];
		char field[48], dst[160], arg[PATH_MAX * 2 + 16];
		int r;

		snprintf(field, sizeof field, "mounts[%zu]", i);
		safe_copy(dst, sizeof dst, m->destination);
		if (m->destination[0] != '/')
			return al_error_set(err, EINVAL, STAGE, "config.json: %s.destination %s: not absolute", field,
					    dst);
		if (system_destination(m->destination)) {
			char asked[200];
			snprintf(asked, sizeof asked, "%s %s", m->type[0] ? m->type : "mount", dst);
			al_oci_note_narrowed(c, field, asked, "airlock's own (or none)");
			continue;
		}
		if (!m->bind) {
			char what[200];
			snprintf(what, sizeof what, "a %s mount at %s (only bind mounts, as airlock volumes)",
				 m->type[0] ? m->type : "typeless", dst);
			return al_error_set(err, EPERM, STAGE, "config.json: %s: %s: refused (docs/oci.md)", field, what);
		}
		if (m->source == NULL || m->source[0] == '\0')
			return al_error_set(err, EINVAL, STAGE, "config.json: %s.source: missing", field);
		if (strchr(m->source, ':') || strchr(m->destination, ':') || strchr(m->source, ',') ||
		    strchr(m->destination, ','))
			return al_error_set(err, EINVAL, STAGE, "config.json: %s: ':' or ',' in a bind path", field);
		if (m->source[0] == '/')
			r = snprintf(arg, sizeof arg, "%s:%s:%s", m->source, m->destination, m->ro ? "ro" : "rw");
		else
			r = snprintf(arg, sizeof arg, "%s/%s:%s:%s", bundle, m->source, m->destination,
				     m->ro ? "ro" : "rw");
		if (r < 0 || (size_t)r >= sizeof arg)
			return al_error_set(err, ENAMETOOLONG, STAGE, "config.json: %s: path too long", field);
		r = al_spec_add_volume(spec, arg, err);
		if (r < 0)
			return al_error_wrap(err, "config.json: %s", field);
	}
	return 0;
}

static uint64_t min_nonzero(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* Rootful, whoever writes config.json's annotations may be less trusted
 * than the runtime (a Kubernetes Pod's author; CRI passes its annotations
 * through). Their inline spec may set the sandbox's policy -- limits,
 * network names, rules, canaries, chaos, env -- but nothing that acts on
 * the host as root: host paths (volumes, workspace, export, the log and its
 * files, keys), host-side network endpoints (sinks, webhooks, resolvers,
 * addresses the proxy would otherwise refuse), host commands (alerts) and
 * accepted degradations. Those come from a spec file of the operator's
 * (AL_OCI_SPEC_DIR) or from the command line's root user. Rootless, the
 * runtime has no more power than whoever wrote the bundle. */
static int inline_spec_check(const struct al_spec *spec, struct al_error *err)
{
	const char *key = NULL;

	if (spec->n_volumes)
		key = "volumes";
	else if (spec->workspace)
		key = "workspace";
	else if (spec->export_dir)
		key = "export";
	else if (spec->log.path || spec->log.sink || spec->log.signing_key || spec->log.spool_dir || spec->log.tls_ca)
		key = "log (path, sink, signing_key, spool_dir, tls_ca)";
	else if (spec->alert.webhook || spec->alert.command)
		key = "alert";
	else if (spec->network.n_allow_cidr || spec->network.n_resolvers || spec->network.n_hosts)
		key = "network.allow_cidr / resolvers / hosts";
	else if (spec->allow_degraded)
		key = "allow_degraded";
	if (key)
		return al_error_set(err, EPERM, STAGE,
		                    "annotation dev.airlock.spec: %s acts on the host: refused in an inline spec "
		                    "when the runtime is root; put it in a spec file under " AL_OCI_SPEC_DIR
		                    " and name that file (docs/oci.md)",
		                    key);
	return 0;
}

/* A spec file named by annotation, rootful: only the operator's, under
 * AL_OCI_SPEC_DIR after resolving every link (an error message quoting a
 * line of /etc/shadow would otherwise go back to whoever named it). */
static int spec_path_check(const char *path, struct al_error *err)
{
	char real[PATH_MAX];
	size_t n = strlen(AL_OCI_SPEC_DIR);
	if (realpath(path, real) == NULL || strncmp(real, AL_OCI_SPEC_DIR "/", n + 1) != 0)
		return al_error_set(err, EPERM, STAGE,
				    "annotation dev.airlock.spec: a spec file must be under " AL_OCI_SPEC_DIR
				    " when the runtime is root (or give the spec inline)");
	return 0;
}

/* The event log named by annotation, rootful: a new file (never an
 * existing one: the log opens O_EXCL) in the runtime's log directory or
 * under AL_OCI_LOG_DIR -- not anywhere root can write. */
static int log_path_check(const char *path, const char *log_default, struct al_error *err)
{
	char dir[PATH_MAX], real[PATH_MAX], allowed[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int ok = 0;

	if (slash == NULL || (size_t)(slash - path) >= sizeof dir || strstr(path, "/../") || strstr(path, "/./"))
		goto refuse;
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (realpath(dir[0] ? dir : "/", real) == NULL)
		goto refuse;
	if (strncmp(real, AL_OCI_LOG_DIR, strlen(AL_OCI_LOG_DIR)) == 0 &&
	    (real[strlen(AL_OCI_LOG_DIR)] == '\0' || real[strlen(AL_OCI_LOG_DIR)] == '/'))
		ok = 1;
	if (!ok && log_default) {
		const char *ds = strrchr(log_default, '/');
		if (ds) {
			snprintf(dir, sizeof dir, "%.*s", (int)(ds - log_default), log_default);
			if (realpath(dir, allowed) && strcmp(real, allowed) == 0)
				ok = 1;
		}
	}
	if (ok)
		return 0;
refuse:
	return al_error_set(err, EPERM, STAGE,
			    "annotation dev.airlock.log: when the runtime is root the log goes in its log directory "
			    "(ROOT/logs) or under " AL_OCI_LOG_DIR);
}

static int apply_annotations(struct al_oci_config *c, const char *log_default, struct al_spec *spec,
			     struct al_error *err)
{
	bool privileged = geteuid() == 0;
	const char *v;
	int r;

	v = al_oci_annotation(c, "dev.airlock.spec");
	if (v) {
		if (v[0] == '/') {
			r = privileged ? spec_path_check(v, err) : 0;
			if (r == 0)
				r = al_spec_load_file(spec, v, err);
		} else {
			r = al_spec_load_string(spec, "annotation dev.airlock.spec", v, strlen(v), err);
			if (r == 0 && privileged)
				r = inline_spec_check(spec, err);
		}
		if (r < 0)
			return r == -EPERM ? r : al_error_wrap(err, "annotation dev.airlock.spec");
	}
	v = al_oci_annotation(c, "dev.airlock.network.allow_domains");
	if (v) {
		char *copy = strdup(v), *save = NULL;
		if (copy == NULL)
			return al_error_set(err, ENOMEM, STAGE, "out of memory");
		spec->network.mode = AL_NET_PROXY;
		for (char *d = strtok_r(copy, ", ", &save); d; d = strtok_r(NULL, ", ", &save)) {
			r = al_spec_add_domain(spec, false, d);
			if (r < 0) {
				char name[128];
				safe_copy(name, sizeof name, d);
				free(copy);
				return al_error_set(err, -r, STAGE,
						    "annotation dev.airlock.network.allow_domains: %s: not a domain", name);
			}
		}
		free(copy);
	}
	v = al_oci_annotation(c, "dev.airlock.timeout");
	if (v) {
		uint64_t ns;
		if (al_parse_duration(v, &ns) < 0)
			return al_error_set(err, EINVAL, STAGE, "annotation dev.airlock.timeout: not a duration");
		spec->limits.timeout_ns = ns;
	}
	v = al_oci_annotation(c, "dev.airlock.log");
	if (v) {
		if (v[0] != '/')
			return al_error_set(err, EINVAL, STAGE, "annotation dev.airlock.log: not an absolute path");
		if (privileged) {
			r = log_path_check(v, log_default, err);
			if (r < 0)
				return r;
		}
		r = al_spec_set_str(spec, &spec->log.path, v);
		if (r < 0)
			return al_error_set(err, -r, STAGE, "out of memory");
	}
	v = al_oci_annotation(c, "dev.airlock.log.sink");
	if (v) {
		if (privileged)
			return al_error_set(err, EPERM, STAGE,
					    "annotation dev.airlock.log.sink: a host-side connection: when the runtime "
					    "is root, give the sink in a spec file under " AL_OCI_SPEC_DIR);
		r = al_spec_set_str(spec, &spec->log.sink, v);
		if (r < 0)
			return al_error_set(err, -r, STAGE, "out of memory");
	}
	return 0;
}

int al_oci_config_to_spec(struct al_oci_config *c, const char *bundle, const char *log_default,
			  struct al_spec *spec, struct al_error *err)
{
	char path[PATH_MAX];
	int r;

	/* A container runs until it ends or is stopped: no wall-clock limit
	 * unless the airlock spec (or dev.airlock.timeout) gives one. */
	spec->limits.timeout_ns = 0;
	r = apply_annotations(c, log_default, spec, err);
	if (r < 0)
		return r;
	if (spec->log.path == NULL && log_default) {
		r = al_spec_set_str(spec, &spec->log.path, log_default);
		if (r < 0)
			return al_error_set(err, -r, STAGE, "out of memory");
	}
	spec->quiet = true;

	r = al_spec_set_argv(spec, c->args, c->n_args);
	if (r < 0)
		return al_error_set(err, -r, STAGE, "out of memory");
	for (size_t i = 0; i < c->n_env; i++) {
		r = al_spec_add_env(spec, c->env[i]);
		if (r == -EINVAL)
			continue; /* "K" without "=": nothing to set (never the caller's value) */
		if (r < 0)
			return al_error_set(err, -r, STAGE, "config.json: process.env: too many or out of memory");
	}
	r = al_spec_set_str(spec, &spec->workdir, c->cwd && c->cwd[0] ? c->cwd : "/");
	if (r < 0)
		return al_error_set(err, -r, STAGE, "out of memory");
	spec->uid = c->uid;
	spec->gid = c->gid;
	if (c->hostname && c->hostname[0]) {
		r = al_spec_set_str(spec, &spec->hostname, c->hostname);
		if (r < 0)
			return al_error_set(err, -r, STAGE, "out of memory");
	}
	if (c->root_path[0] == '/')
		r = snprintf(path, sizeof path, "%s", c->root_path);
	else
		r = snprintf(path, sizeof path, "%s/%s", bundle, c->root_path);
	if (r < 0 || (size_t)r >= sizeof path)
		return al_error_set(err, ENAMETOOLONG, STAGE, "config.json: root.path: too long");
	r = al_spec_set_str(spec, &spec->image, path);
	if (r < 0)
		return al_error_set(err, -r, STAGE, "out of memory");
	free(spec->image_digest);
	spec->image_digest = NULL;

	r = map_mounts(c, bundle, spec, err);
	if (r < 0)
		return r;

	/* resources and rlimits: only ever lower */
	if (c->memory_limit)
		spec->limits.memory = min_nonzero(spec->limits.memory, c->memory_limit);
	if (c->pids_limit)
		al_spec_set_pids(spec, min_nonzero(spec->limits.pids, c->pids_limit));
	if (c->cpu_quota && c->cpu_period) {
		double cpus = (double)c->cpu_quota / (double)c->cpu_period;
		if (cpus > 0 && cpus < spec->limits.cpus)
			spec->limits.cpus = cpus;
	}
	for (size_t i = 0; i < c->n_rlimits; i++) {
		const struct al_oci_rlimit *rl = &c->rlimits[i];
		uint64_t v = rl->soft < rl->hard ? rl->soft : rl->hard;
		if (strcmp(rl->type, "RLIMIT_NOFILE") == 0) {
			if (v < spec->limits.nofile)
				spec->limits.nofile = v ? v : 1;
		} else if (strcmp(rl->type, "RLIMIT_NPROC") == 0) {
			if (v < spec->limits.nproc) {
				spec->limits.nproc = v ? v : 1;
				spec->limits.nproc_set = true;
			}
		} else if (strcmp(rl->type, "RLIMIT_FSIZE") == 0) {
			if (v < spec->limits.fsize) {
				spec->limits.fsize = v ? v : 1;
				spec->limits.fsize_set = true;
			}
		}
	}
	if (c->terminal && !c->console_socket)
		return al_error_set(err, EINVAL, STAGE,
				    "config.json: process.terminal: a terminal needs --console-socket (the caller's end of it)");
	if (!c->terminal && c->console_socket)
		return al_error_set(err, EINVAL, STAGE, "--console-socket: process.terminal is not true");
	return al_spec_validate(spec, err);
}
