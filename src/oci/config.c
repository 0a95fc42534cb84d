/* config.json of an OCI bundle, read as hostile input: one strict JSON
 * validation (jscan: RFC 8259, UTF-8, bounded depth) of a bounded text, then
 * only the members airlock uses are read, each list and string bounded.
 * Fields that would weaken airlock are refused here, naming the field. */
#define _GNU_SOURCE
#include "oci/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence/jscan.h"
#include "util/cleanup.h"
#include "util/fdutil.h"

#define STAGE "oci"

void al_oci_config_init(struct al_oci_config *c)
{
	memset(c, 0, sizeof *c);
	al_buf_init(&c->narrowed);
}

void al_oci_config_free(struct al_oci_config *c)
{
	for (size_t i = 0; i < c->n_args; i++)
		free(c->args[i]);
	free(c->args);
	for (size_t i = 0; i < c->n_env; i++)
		free(c->env[i]);
	free(c->env);
	free(c->cwd);
	free(c->root_path);
	free(c->hostname);
	for (size_t i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].type);
		free(c->mounts[i].source);
		free(c->mounts[i].destination);
	}
	free(c->mounts);
	for (size_t i = 0; i < c->n_rlimits; i++)
		free(c->rlimits[i].type);
	free(c->rlimits);
	for (size_t i = 0; i < c->n_annotations; i++) {
		free(c->annotations[i].key);
		free(c->annotations[i].value);
	}
	free(c->annotations);
	al_buf_free(&c->narrowed);
	memset(c, 0, sizeof *c);
}

/* A string member as a new C string: no NUL inside, at most AL_OCI_MAX_STR. */
static int get_str(const struct al_jval *v, const char *field, char **out, struct al_error *err)
{
	if (v->type != AL_J_STRING)
		return al_error_set(err, EINVAL, STAGE, "config.json: %s: not a string", field);
	if (v->n > AL_OCI_MAX_STR)
		return al_error_set(err, E2BIG, STAGE, "config.json: %s: longer than %u bytes", field,
				    AL_OCI_MAX_STR);
	char *s = malloc(v->n + 1);
	if (s == NULL)
		return al_error_set(err, ENOMEM, STAGE, "config.json: %s: out of memory", field);
	size_t n = al_jstr_unescape(v, s, v->n + 1);
	if (n != strlen(s)) {
		free(s);
		return al_error_set(err, EINVAL, STAGE, "config.json: %s: contains a NUL byte", field);
	}
	*out = s;
	return 0;
}

static int get_bool(const struct al_jval *v, const char *field, bool *out, struct al_error *err)
{
	if (v->type == AL_J_TRUE || v->type == AL_J_FALSE) {
		*out = v->type == AL_J_TRUE;
		return 0;
	}
	return al_error_set(err, EINVAL, STAGE, "config.json: %s: not a boolean", field);
}

/* A non-negative integer; a negative one (OCI's "-1: unlimited") gives *neg. */
static int get_u64(const struct al_jval *v, const char *field, uint64_t *out, bool *neg, struct al_error *err)
{
	if (neg)
		*neg = false;
	if (v->type == AL_J_NUMBER && v->n > 1 && v->p[0] == '-' && neg) {
		struct al_jval t = {AL_J_NUMBER, v->p + 1, v->n - 1};
		uint64_t x;
		if (al_jnum_u64(&t, &x) == 0) {
			*neg = true;
			*out = 0;
			return 0;
		}
	}
	if (v->type != AL_J_NUMBER || al_jnum_u64(v, out) < 0)
		return al_error_set(err, EINVAL, STAGE, "config.json: %s: not a non-negative integer", field);
	return 0;
}

void al_oci_note_narrowed(struct al_oci_config *c, const char *field, const char *asked, const char *given)
{
	struct al_json j;
	if (c->narrowed.len == 0)
		al_buf_puts(&c->narrowed, "[");
	else
		c->narrowed.len--, c->narrowed.data[c->narrowed.len] = '\0', al_buf_puts(&c->narrowed, ",");
	al_json_init(&j, &c->narrowed);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "field", field);
	al_json_kv_str(&j, "asked", asked);
	al_json_kv_str(&j, "given", given);
	al_json_obj_end(&j);
	al_buf_puts(&c->narrowed, "]");
}

static int refuse(struct al_error *err, const char *field, const char *what)
{
	return al_error_set(err, EPERM, STAGE,
			    "config.json: %s: %s would weaken airlock's sandbox: refused (docs/oci.md)", field,
			    what);
}

/* Members of obj that airlock neither maps nor refuses are recorded as not
 * applied (never silently dropped): known[] lists the ones handled. */
static void note_unhandled(struct al_oci_config *c, const struct al_jval *obj, const char *prefix,
			   const char *const *known, size_t n_known)
{
	struct al_jiter it;
	struct al_jval k, v;
	al_jiter_init(&it, obj);
	while (al_jiter_next(&it, &k, &v) == 1) {
		char name[64], field[96];
		bool handled = false;
		if (k.n >= sizeof name)
			continue;
		al_jstr_unescape(&k, name, sizeof name);
		for (size_t i = 0; i < n_known && !handled; i++)
			handled = strcmp(name, known[i]) == 0;
		if (handled)
			continue;
		for (char *q = name; *q; q++)
			if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
				*q = '?';
		snprintf(field, sizeof field, "%s%s", prefix, name);
		al_oci_note_narrowed(c, field, "set", "not applied");
	}
}

/* ---- process ---- */

static int parse_str_array(const struct al_jval *arr, const char *field, size_t max, char ***out, size_t *n,
			   struct al_error *err)
{
	struct al_jiter it;
	struct al_jval v;
	size_t cap = 0;
	int r;

	if (arr->type != AL_J_ARRAY)
		return al_error_set(err, EINVAL, STAGE, "config.json: %s: not an array", field);
	al_jiter_init(&it, arr);
	while (al_jarr_next(&it, &v) == 1) {
		if (*n >= max)
			return al_error_set(err, E2BIG, STAGE, "config.json: %s: more than %zu entries", field, max);
		if (*n + 1 >= cap) {
			size_t nc = cap ? cap * 2 : 8;
			char **p = realloc(*out, nc * sizeof *p);
			if (p == NULL)
				return al_error_set(err, ENOMEM, STAGE, "config.json: %s: out of memory", field);
			*out = p;
			cap = nc;
		}
		r = get_str(&v, field, &(*out)[*n], err);
		if (r < 0)
			return r;
		(*n)++;
		(*out)[*n] = NULL;
	}
	return 0;
}

/* The capability sets standard clients (podman, docker, containerd, runc
 * spec) give an unprivileged container by default. airlock gives none of
 * them (every capability is dropped): such a set is narrowed, recorded.
 * Anything beyond it is a request for privilege: refused. */
static const char *const default_caps[] = {
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
};

static int parse_caps(struct al_oci_config *c, const struct al_jval *caps, struct al_error *err)
{
	static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};
	char field[64];
	bool any = false;

	if (caps->type != AL_J_OBJECT)
		return al_error_set(err, EINVAL, STAGE, "config.json: process.capabilities: not an object");
	for (size_t i = 0; i < AL_ARRAY_SIZE(sets); i++) {
		struct al_jval arr, v;
		struct al_jiter it;
		if (!al_jobj_get(caps, sets[i], &arr))
			continue;
		snprintf(field, sizeof field, "process.capabilities.%s", sets[i]);
		if (arr.type != AL_J_ARRAY)
			return al_error_set(err, EINVAL, STAGE, "config.json: %s: not an array", field);
		al_jiter_init(&it, &arr);
		while (al_jarr_next(&it, &v) == 1) {
			char name[40];
			bool known = false;
			if (v.type != AL_J_STRING || v.n >= sizeof name)
				return al_error_set(err, EINVAL, STAGE, "config.json: %s: not a capability name",
						    field);
			if (al_jstr_unescape(&v, name, sizeof name) >= sizeof name)
				return al_error_set(err, EINVAL, STAGE, "config.json: %s: not a capability name",
						    field);
			for (size_t k = 0; k < AL_ARRAY_SIZE(default_caps); k++)
				known = known || strcmp(name, default_caps[k]) == 0;
			if (!known) {
				char what[80];
				snprintf(what, sizeof what, "%s", name);
				for (char *p = what; *p; p++)
					if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
						*p = '?';
				return refuse(err, field, what);
			}
			any = true;
		}
	}
	if (any)
		al_oci_note_narrowed(c, "process.capabilities", "the default container set", "none (all dropped)");
	return 0;
}

static int parse_rlimits(struct al_oci_config *c, const struct al_jval *arr, struct al_error *err)
{
	struct al_jiter it;
	struct al_jval v, t;
	int r;

	if (arr->type != AL_J_ARRAY)
		return al_error_set(err, EINVAL, STAGE, "config.json: process.rlimits: not an array");
	al_jiter_init(&it, arr);
	while (al_jarr_next(&it, &v) == 1) {
		struct al_oci_rlimit *rl;
		if (c->n_rlimits >= AL_OCI_MAX_RLIMITS)
			return al_error_set(err, E2BIG, STAGE, "config.json: process.rlimits: more than %d",
					    AL_OCI_MAX_RLIMITS);
		if (v.type != AL_J_OBJECT)
			return al_error_set(err, EINVAL, STAGE, "config.json: process.rlimits: not an object");
		if (c->rlimits == NULL) {
			c->rlimits = calloc(AL_OCI_MAX_RLIMITS, sizeof *c->rlimits);
			if (c->rlimits == NULL)
				return al_error_set(err, ENOMEM, STAGE, "config.json: out of memory");
		}
		rl = &c->rlimits[c->n_rlimits];
		if (!al_jobj_get(&v, "type", &t))
			return al_error_set(err, EINVAL, STAGE, "config.json: process.rlimits: type missing");
		r = get_str(&t, "process.rlimits.type", &rl->type, err);
		if (r < 0)
			return r;
		c->n_rlimits++;
		if (al_jobj_get(&v, "soft", &t) && (r = get_u64(&t, "process.rlimits.soft", &rl->soft, NULL, err)) < 0)
			return r;
		if (al_jobj_get(&v, "hard", &t) && (r = get_u64(&t, "process.rlimits.hard", &rl->hard, NULL, err)) < 0)
			return r;
	}
	return 0;
}

static int parse_process(struct al_oci_config *c, const struct al_jval *p, struct al_error *err)
{
	struct al_jval v, w;
	int r;

	if (p->type != AL_J_OBJECT)
		return al_error_set(err, EINVAL, STAGE, "config.json: process: not an object");
	if (!al_jobj_get(p, "args", &v))
		return al_error_set(err, EINVAL, STAGE, "config.json: process.args: missing");
	r = parse_str_array(&v, "process.args", AL_OCI_MAX_ARGS, &c->args, &c->n_args, err);
	if (r < 0)
		return r;
	if (c->n_args == 0 || c->args[0][0] == '\0')
		return al_error_set(err, EINVAL, STAGE, "config.json: process.args: empty");
	if (al_jobj_get(p, "env", &v)) {
		r = parse_str_array(&v, "process.env", AL_OCI_MAX_ENV, &c->env, &c->n_env, err);
		if (r < 0)
			return r;
	}
	if (al_jobj_get(p, "cwd", &v)) {
		r = get_str(&v, "process.cwd", &c->cwd, err);
		if (r < 0)
			return r;
	}
	if (al_jobj_get(p, "terminal", &v)) {
		r = get_bool(&v, "process.terminal", &c->terminal, err);
		if (r < 0)
			return r;
	}
	if (al_jobj_get(p, "user", &v)) {
		uint64_t x;
		if (v.type != AL_J_OBJECT)
			return al_error_set(err, EINVAL, STAGE, "config.json: process.user: not an object");
		if (al_jobj_get(&v, "uid", &w)) {
			r = get_u64(&w, "process.user.uid", &x, NULL, err);
			if (r < 0)
				return r;
			if (x >= 65536)
				return al_error_set(err, ERANGE, STAGE,
						    "config.json: process.user.uid: %llu is not below 65536 "
						    "(the sandbox maps 65536 ids)", (unsigned long long)x);
			c->uid = (uint32_t)x;
		}
		if (al_jobj_get(&v, "gid", &w)) {
			r = get_u64(&w, "process.user.gid", &x, NULL, err);
			if (r < 0)
				return r;
			if (x >= 65536)
				return al_error_set(err, ERANGE, STAGE,
						    "config.json: process.user.gid: %llu is not below 65536 "
						    "(the sandbox maps 65536 ids)", (unsigned long long)x);
			c->gid = (uint32_t)x;
		}
		if (al_jobj_get(&v, "additionalGids", &w) && w.type == AL_J_ARRAY) {
			struct al_jiter it;
			struct al_jval g;
			al_jiter_init(&it, &w);
			if (al_jarr_next(&it, &g) == 1)
				al_oci_note_narrowed(c, "process.user.additionalGids", "supplementary groups", "none");
		}
		if (al_jobj_get(&v, "username", &w))
			al_oci_note_narrowed(c, "process.user.username", "a user name", "the numeric uid/gid");
	}
	if (al_jobj_get(p, "capabilities", &v)) {
		r = parse_caps(c, &v, err);
		if (r < 0)
			return r;
	}
	if (al_jobj_get(p, "rlimits", &v)) {
		r = parse_rlimits(c, &v, err);
		if (r < 0)
			return r;
	}
	if (al_jobj_get(p, "noNewPrivileges", &v) && v.type == AL_J_FALSE)
		al_oci_note_narrowed(c, "process.noNewPrivileges", "false", "true (always set)");
	if (al_jobj_get(p, "apparmorProfile", &v))
		al_oci_note_narrowed(c, "process.apparmorProfile", "an AppArmor profile", "not applied (airlock's Landlock + seccomp)");
	if (al_jobj_get(p, "selinuxLabel", &v))
		al_oci_note_narrowed(c, "process.selinuxLabel", "an SELinux label", "not applied (airlock's Landlock + seccomp)");
	static const char *const known[] = {"args", "env", "cwd", "terminal", "user", "capabilities", "rlimits",
					    "noNewPrivileges", "apparmorProfile", "selinuxLabel", "consoleSize"};
	note_unhandled(c, p, "process.", known, AL_ARRAY_SIZE(known));
	return 0;
}

/* ---- linux ---- */

/* Whether path names one of the host's namespaces of OCI type `type` (the
 * runtime's own: it runs in the host's): 1 yes, 0 no (another one), -1
 * cannot tell (no such path, not a namespace, unknown type). */
static int joined_namespace(const char *type, const char *path)
{
	static const struct {
		const char *oci, *proc;
	} names[] = {{"pid", "pid"}, {"network", "net"}, {"ipc", "ipc"}, {"uts", "uts"}, {"mount", "mnt"},
		     {"user", "user"}, {"cgroup", "cgroup"}, {"time", "time"}};
	char own[64];
	struct stat a, b;

	for (size_t i = 0; i < AL_ARRAY_SIZE(names); i++) {
		if (strcmp(type, names[i].oci) != 0)
			continue;
		snprintf(own, sizeof own, "/proc/self/ns/%s", names[i].proc);
		if (stat(path, &a) < 0 || stat(own, &b) < 0)
			return -1;
		if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return 1;
		/* a namespace file lives on nsfs: same device as our own */
		return a.st_dev == b.st_dev ? 0 : -1;
	}
	return -1;
}

static int parse_namespaces(struct al_oci_config *c, const struct al_jval *arr, struct al_error *err)
{
	int r;
	static const char *const needed[] = {"pid", "network", "ipc", "uts", "mount"};
	bool have[AL_ARRAY_SIZE(needed)] = {false};
	struct al_jiter it;
	struct al_jval v, t;

	if (arr->type != AL_J_ARRAY)
		return al_error_set(err, EINVAL, STAGE, "config.json: linux.namespaces: not an array");
	al_jiter_init(&it, arr);
	while (al_jarr_next(&it, &v) == 1) {
		char type[16];
		if (v.type != AL_J_OBJECT || !al_jobj_get(&v, "type", &t) || t.type != AL_J_STRING ||
		    t.n >= sizeof type)
			return al_error_set(err, EINVAL, STAGE, "config.json: linux.namespaces: bad entry");
		al_jstr_unescape(&t, type, sizeof type);
		for (char *q = type; *q; q++)
			if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
				*q = '?';
		if (al_jobj_get(&v, "path", &t)) {
			char field[48], path[256];
			snprintf(field, sizeof field, "linux.namespaces[%s].path", type);
			if (t.type != AL_J_STRING || t.n >= sizeof path)
				return refuse(err, field, "joining an existing namespace");
			al_jstr_unescape(&t, path, sizeof path);
			r = joined_namespace(type, path);
			if (r == 1)
				return refuse(err, field, "joining the host's namespace");
			if (r < 0)
				return refuse(err, field, "joining a namespace that cannot be checked");
			/* another container's or a pod's (CNI network, shared IPC):
			 * never joined; the sandbox gets its own, so it reaches
			 * nothing that namespace reaches */
			al_oci_note_narrowed(c, field, "joining an existing namespace",
					     "airlock's own (not joined: no network beyond lo or airlock's proxy)");
		}
		for (size_t i = 0; i < AL_ARRAY_SIZE(needed); i++)
			if (strcmp(type, needed[i]) == 0)
				have[i] = true;
	}
	for (size_t i = 0; i < AL_ARRAY_SIZE(needed); i++) {
		if (!have[i]) {
			char what[64];
			snprintf(what, sizeof what, "no %s namespace (the host's)", needed[i]);
			return refuse(err, "linux.namespaces", what);
		}
	}
	return 0;
}

/* Device nodes airlock's own /dev has anyway. */
static bool standard_device(const char *path)
{
	static const char *const std[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
					  "/dev/urandom", "/dev/tty"};
	for (size_t i = 0; i < AL_ARRAY_SIZE(std); i++)
		if (strcmp(path, std[i]) == 0)
			return true;
	return false;
}

static int parse_linux(struct al_oci_config *c, const struct al_jval *l, struct al_error *err)
{
	struct al_jval v, w, x;
	int r;

	if (l->type != AL_J_OBJECT)
		return al_error_set(err, EINVAL, STAGE, "config.json: linux: not an object");
	if (!al_jobj_get(l, "namespaces", &v))
		return refuse(err, "linux.namespaces", "no namespaces at all");
	r = parse_namespaces(c, &v, err);
	if (r < 0)
		return r;
	if (al_jobj_get(l, "devices", &v) && v.type == AL_J_ARRAY) {
		struct al_jiter it;
		al_jiter_init(&it, &v);
		while (al_jarr_next(&it, &w) == 1) {
			char path[128] = "";
			if (w.type != AL_J_OBJECT || !al_jobj_get(&w, "path", &x) || x.type != AL_J_STRING ||
			    x.n >= sizeof path)
				return refuse(err, "linux.devices", "a device node");
			al_jstr_unescape(&x, path, sizeof path);
			if (!standard_device(path)) {
				for (char *q = path; *q; q++)
					if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
						*q = '?';
				return refuse(err, "linux.devices", path);
			}
		}
	}
	if (al_jobj_get(l, "seccomp", &v)) {
		if (v.type != AL_J_OBJECT)
			return al_error_set(err, EINVAL, STAGE, "config.json: linux.seccomp: not an object");
		if (al_jobj_get(&v, "defaultAction", &w) &&
		    (al_jstr_eq(&w, "SCMP_ACT_ALLOW") || al_jstr_eq(&w, "SCMP_ACT_LOG")))
			return refuse(err, "linux.seccomp.defaultAction", "an allow-by-default (unconfined) filter");
		al_oci_note_narrowed(c, "linux.seccomp", "the client's profile", "airlock's own filter");
	}
	if (al_jobj_get(l, "sysctl", &v) && v.type == AL_J_OBJECT) {
		struct al_jiter it;
		struct al_jval k;
		al_jiter_init(&it, &v);
		while (al_jiter_next(&it, &k, &w) == 1) {
			/* Namespaced ones (the sandbox's own network, IPC) would only
			 * change the sandbox: not applied, recorded. Any other is a
			 * host-wide setting: refused. */
			char name[128];
			if (k.n >= sizeof name)
				return refuse(err, "linux.sysctl", "setting a kernel parameter");
			al_jstr_unescape(&k, name, sizeof name);
			if (strncmp(name, "net.", 4) != 0 && strncmp(name, "kernel.shm", 10) != 0 &&
			    strncmp(name, "kernel.msg", 10) != 0 && strcmp(name, "kernel.sem") != 0 &&
			    strncmp(name, "fs.mqueue.", 10) != 0) {
				for (char *q = name; *q; q++)
					if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
						*q = '?';
				char field[160];
				snprintf(field, sizeof field, "linux.sysctl.%s", name);
				return refuse(err, field, "setting a host-wide kernel parameter");
			}
			al_oci_note_narrowed(c, "linux.sysctl", name, "not set (the sandbox's own default)");
		}
	}
	if (al_jobj_get(l, "rootfsPropagation", &v) &&
	    (al_jstr_eq(&v, "shared") || al_jstr_eq(&v, "rshared") || al_jstr_eq(&v, "slave") ||
	     al_jstr_eq(&v, "rslave")))
		return refuse(err, "linux.rootfsPropagation", "mount propagation with the host");
	if (al_jobj_get(l, "intelRdt", &v))
		al_oci_note_narrowed(c, "linux.intelRdt", "RDT settings", "not applied");
	if (al_jobj_get(l, "resources", &v) && v.type == AL_J_OBJECT) {
		if (al_jobj_get(&v, "memory", &w) && w.type == AL_J_OBJECT && al_jobj_get(&w, "limit", &x)) {
			bool neg;
			r = get_u64(&x, "linux.resources.memory.limit", &c->memory_limit, &neg, err);
			if (r < 0)
				return r;
		}
		if (al_jobj_get(&v, "pids", &w) && w.type == AL_J_OBJECT && al_jobj_get(&w, "limit", &x)) {
			bool neg;
			r = get_u64(&x, "linux.resources.pids.limit", &c->pids_limit, &neg, err);
			if (r < 0)
				return r;
		}
		if (al_jobj_get(&v, "cpu", &w) && w.type == AL_J_OBJECT) {
			bool neg;
			if (al_jobj_get(&w, "quota", &x)) {
				r = get_u64(&x, "linux.resources.cpu.quota", &c->cpu_quota, &neg, err);
				if (r < 0)
					return r;
			}
			if (al_jobj_get(&w, "period", &x)) {
				r = get_u64(&x, "linux.resources.cpu.period", &c->cpu_period, &neg, err);
				if (r < 0)
					return r;
			}
		}
	}
	if (al_jobj_get(l, "cgroupsPath", &v))
		al_oci_note_narrowed(c, "linux.cgroupsPath", "a cgroup chosen by the client", "airlock's own per-run cgroup");
	if (al_jobj_get(l, "maskedPaths", &v))
		al_oci_note_narrowed(c, "linux.maskedPaths", "paths to mask", "airlock's own /proc and /sys policy (no /sys)");
	static const char *const known[] = {"namespaces", "devices", "seccomp", "sysctl", "rootfsPropagation",
					    "intelRdt", "resources", "cgroupsPath", "maskedPaths", "readonlyPaths"};
	note_unhandled(c, l, "linux.", known, AL_ARRAY_SIZE(known));
	return 0;
}

/* ---- root, mounts, annotations ---- */

static int parse_mounts(struct al_oci_config *c, const struct al_jval *arr, struct al_error *err)
{
	struct al_jiter it;
	struct al_jval v, t;
	int r;

	if (arr->type != AL_J_ARRAY)
		return al_error_set(err, EINVAL, STAGE, "config.json: mounts: not an array");
	al_jiter_init(&it, arr);
	while (al_jarr_next(&it, &v) == 1) {
		struct al_oci_mount *m;
		if (c->n_mounts >= AL_OCI_MAX_MOUNTS)
			return al_error_set(err, E2BIG, STAGE, "config.json: mounts: more than %d", AL_OCI_MAX_MOUNTS);
		if (v.type != AL_J_OBJECT)
			return al_error_set(err, EINVAL, STAGE, "config.json: mounts: not an object");
		if (c->mounts == NULL) {
			c->mounts = calloc(AL_OCI_MAX_MOUNTS, sizeof *c->mounts);
			if (c->mounts == NULL)
				return al_error_set(err, ENOMEM, STAGE, "config.json: out of memory");
		}
		m = &c->mounts[c->n_mounts++];
		if (!al_jobj_get(&v, "destination", &t))
			return al_error_set(err, EINVAL, STAGE, "config.json: mounts: destination missing");
		r = get_str(&t, "mounts.destination", &m->destination, err);
		if (r < 0)
			return r;
		if (al_jobj_get(&v, "type", &t))
			r = get_str(&t, "mounts.type", &m->type, err);
		else
			r = (m->type = strdup("")) ? 0 : al_error_set(err, ENOMEM, STAGE, "out of memory");
		if (r < 0)
			return r;
		if (al_jobj_get(&v, "source", &t)) {
			r = get_str(&t, "mounts.source", &m->source, err);
			if (r < 0)
				return r;
		}
		m->bind = strcmp(m->type, "bind") == 0;
		if (al_jobj_get(&v, "options", &t)) {
			struct al_jiter oi;
			struct al_jval o;
			if (t.type != AL_J_ARRAY)
				return al_error_set(err, EINVAL, STAGE, "config.json: mounts.options: not an array");
			al_jiter_init(&oi, &t);
			while (al_jarr_next(&oi, &o) == 1) {
				if (o.type != AL_J_STRING)
					return al_error_set(err, EINVAL, STAGE, "config.json: mounts.options: not a string");
				if (al_jstr_eq(&o, "bind") || al_jstr_eq(&o, "rbind"))
					m->bind = true;
				else if (al_jstr_eq(&o, "ro"))
					m->ro = true;
			}
		}
	}
	return 0;
}

static int parse_annotations(struct al_oci_config *c, const struct al_jval *obj, struct al_error *err)
{
	struct al_jiter it;
	struct al_jval k, v;
	int r;

	if (obj->type != AL_J_OBJECT)
		return al_error_set(err, EINVAL, STAGE, "config.json: annotations: not an object");
	al_jiter_init(&it, obj);
	while (al_jiter_next(&it, &k, &v) == 1) {
		struct al_oci_kv *a;
		if (c->n_annotations >= AL_OCI_MAX_ANNOTATIONS)
			return al_error_set(err, E2BIG, STAGE, "config.json: annotations: more than %d",
					    AL_OCI_MAX_ANNOTATIONS);
		if (c->annotations == NULL) {
			c->annotations = calloc(AL_OCI_MAX_ANNOTATIONS, sizeof *c->annotations);
			if (c->annotations == NULL)
				return al_error_set(err, ENOMEM, STAGE, "config.json: out of memory");
		}
		a = &c->annotations[c->n_annotations++];
		r = get_str(&k, "annotations (key)", &a->key, err);
		if (r < 0)
			return r;
		r = get_str(&v, "annotations (value)", &a->value, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i + 1 < c->n_annotations; i++)
			if (strcmp(c->annotations[i].key, a->key) == 0)
				return al_error_set(err, EINVAL, STAGE, "config.json: annotations: duplicate key");
	}
	return 0;
}

const char *al_oci_annotation(const struct al_oci_config *c, const char *key)
{
	for (size_t i = 0; i < c->n_annotations; i++)
		if (strcmp(c->annotations[i].key, key) == 0)
			return c->annotations[i].value;
	return NULL;
}

int al_oci_config_parse(struct al_oci_config *c, const char *text, size_t len, struct al_error *err)
{
	struct al_jval top, v, w;
	int r;

	if (len > AL_OCI_CONFIG_MAX)
		return al_error_set(err, E2BIG, STAGE, "config.json: larger than %u bytes", AL_OCI_CONFIG_MAX);
	if (al_jscan_value(text, len, false, &top) < 0 || top.type != AL_J_OBJECT)
		return al_error_set(err, EINVAL, STAGE, "config.json: not one valid JSON object");
	if (!al_jobj_get(&top, "process", &v))
		return al_error_set(err, EINVAL, STAGE, "config.json: process: missing");
	r = parse_process(c, &v, err);
	if (r < 0)
		return r;
	if (!al_jobj_get(&top, "root", &v) || v.type != AL_J_OBJECT || !al_jobj_get(&v, "path", &w))
		return al_error_set(err, EINVAL, STAGE, "config.json: root.path: missing");
	r = get_str(&w, "root.path", &c->root_path, err);
	if (r < 0)
		return r;
	if (c->root_path[0] == '\0')
		return al_error_set(err, EINVAL, STAGE, "config.json: root.path: empty");
	if (al_jobj_get(&v, "readonly", &w)) {
		r = get_bool(&w, "root.readonly", &c->root_readonly, err);
		if (r < 0)
			return r;
	}
	if (!c->root_readonly)
		al_oci_note_narrowed(c, "root.readonly", "false", "a read-only root with airlock's writable tmpfs areas");
	if (al_jobj_get(&top, "hostname", &v)) {
		r = get_str(&v, "hostname", &c->hostname, err);
		if (r < 0)
			return r;
	}
	if (al_jobj_get(&top, "mounts", &v)) {
		r = parse_mounts(c, &v, err);
		if (r < 0)
			return r;
	}
	if (al_jobj_get(&top, "annotations", &v)) {
		r = parse_annotations(c, &v, err);
		if (r < 0)
			return r;
	}
	if (al_jobj_get(&top, "hooks", &v) && v.type == AL_J_OBJECT) {
		struct al_jiter it;
		struct al_jval k;
		al_jiter_init(&it, &v);
		if (al_jiter_next(&it, &k, &w) == 1) {
			c->has_hooks = true;
			al_oci_note_narrowed(c, "hooks", "host commands at lifecycle points", "not run");
		}
	}
	static const char *const known[] = {"ociVersion", "process", "root", "hostname", "mounts", "annotations",
					    "hooks", "linux"};
	note_unhandled(c, &top, "", known, AL_ARRAY_SIZE(known));
	if (!al_jobj_get(&top, "linux", &v))
		return refuse(err, "linux", "no linux section (no namespaces)");
	return parse_linux(c, &v, err);
}

/* Read a config file already opened (regular, no link) into a fresh
 * buffer: at most AL_OCI_CONFIG_MAX + 1 bytes, so "too large" is seen by
 * the caller's length check, never an endless read. */
static int read_bounded(int fd, char **text, size_t *len, struct al_error *err, const char *what,
                        const char *where, const char *suffix)
{
	ssize_t n;

	*text = malloc(AL_OCI_CONFIG_MAX + 1);
	if (*text == NULL)
		return al_error_set(err, ENOMEM, STAGE, "%s: out of memory", what);
	n = al_read_full(fd, *text, AL_OCI_CONFIG_MAX + 1);
	if (n < 0) {
		free(*text);
		*text = NULL;
		return al_error_set(err, (int)-n, STAGE, "reading %s%s", where, suffix);
	}
	*len = (size_t)n;
	return 0;
}

int al_oci_config_load(struct al_oci_config *c, const char *bundle, struct al_error *err)
{
	_cleanup_close_ int dfd = -1, fd = -1;
	struct stat st;
	char *text;
	size_t len = 0;
	int r;

	dfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return al_error_errno(err, STAGE, "bundle %s", bundle);
	fd = openat(dfd, "config.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return al_error_errno(err, STAGE, "%s/config.json", bundle);
	if (fstat(fd, &st) < 0)
		return al_error_errno(err, STAGE, "%s/config.json", bundle);
	if (!S_ISREG(st.st_mode))
		return al_error_set(err, EINVAL, STAGE, "%s/config.json: not a regular file", bundle);
	r = read_bounded(fd, &text, &len, err, "config.json", bundle, "/config.json");
	if (r < 0)
		return r;
	r = al_oci_config_parse(c, text, len, err);
	free(text);
	return r;
}

/* `exec --process FILE`: a runtime-spec process object, read and checked
 * as config.json's process is (the same refusals: capabilities beyond the
 * default set, ...). Errors name "process.json". */
int al_oci_process_load(struct al_oci_config *c, const char *path, struct al_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct al_jval top;
	struct stat st;
	char *text;
	size_t len = 0;
	int r;

	if (fd < 0)
		return al_error_errno(err, STAGE, "--process %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return al_error_set(err, EINVAL, STAGE, "--process %s: not a regular file", path);
	r = read_bounded(fd, &text, &len, err, "process.json", path, "");
	if (r < 0)
		return r;
	if (len > AL_OCI_CONFIG_MAX)
		r = al_error_set(err, E2BIG, STAGE, "process.json: larger than %u bytes", AL_OCI_CONFIG_MAX);
	else if (al_jscan_value(text, len, false, &top) < 0 || top.type != AL_J_OBJECT)
		r = al_error_set(err, EINVAL, STAGE, "process.json: not one valid JSON object");
	else
		r = parse_process(c, &top, err);
	if (r < 0 && strncmp(err->msg, "config.json: ", 13) == 0)
		memcpy(err->msg, "process.json:", 13);
	free(text);
	return r;
}
