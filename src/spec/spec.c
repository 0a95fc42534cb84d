/* The resolved spec of a run: defaults, ownership of its strings, the
 * mutators shared by the YAML loader and the CLI, and cross-field validation
 * (the last word before anything is started). */
#define _GNU_SOURCE
#include "spec/spec.h"
#include "util/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

/* Static defaults: al_spec_init cannot fail, so it does not allocate; these
 * pointers are recognised (by identity) and never freed. */
static const char default_image[] = "host";
static const char default_workdir[] = "/workspace";
static const char default_hostname[] = "airlock";

#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)
#define NSEC_PER_SEC 1000000000ull

/* The sandbox maps exactly 65536 ids (0..65535) into its user namespace. */
#define SANDBOX_IDS 65536u
#define PIDS_MAX 4194304ull   /* PID_MAX_LIMIT on 64-bit */
#define NOFILE_MAX 1048576ull /* the kernel's default fs.nr_open */

void al_spec_init(struct al_spec *spec)
{
	memset(spec, 0, sizeof *spec);
	spec->image = (char *)default_image;
	spec->workdir = (char *)default_workdir;
	spec->hostname = (char *)default_hostname;
	spec->uid = 1000;
	spec->gid = 1000;
	spec->limits.memory = 4 * GiB;
	spec->limits.pids = 256;
	spec->limits.cpus = 1.0;
	spec->limits.disk = 2 * GiB;
	spec->limits.nofile = 1024;
	spec->limits.nproc = spec->limits.pids;
	spec->limits.fsize = spec->limits.disk;
	spec->limits.output = 64 * MiB;
	spec->limits.timeout_ns = 10 * 60 * NSEC_PER_SEC;
	spec->log.on_sink_failure = AL_SINK_FAILURE_KILL;
	spec->log.checkpoint_every = 1000;
	spec->log.checkpoint_ns = 1 * NSEC_PER_SEC;
	spec->log.max_size = 1024 * MiB;
	spec->network.mode = AL_NET_NONE;
	spec->network.loopback_tcp = true;
	spec->default_rules = true;
	spec->alert.timeout_ns = 5000000000ull;
}

static bool is_static_default(const char *p)
{
	return p == default_image || p == default_workdir || p == default_hostname;
}

static void free_str(char **p)
{
	if (*p != NULL && !is_static_default(*p))
		free(*p);
	*p = NULL;
}

static void free_argv(struct al_spec *spec)
{
	for (size_t i = 0; i < spec->argc; i++)
		free(spec->argv[i]);
	free(spec->argv);
	spec->argv = NULL;
	spec->argc = 0;
}

void al_spec_free(struct al_spec *spec)
{
	if (spec == NULL)
		return;
	free_str(&spec->source);
	free_argv(spec);
	free_str(&spec->image);
	free_str(&spec->image_digest);
	free_str(&spec->workdir);
	free_str(&spec->workspace);
	free_str(&spec->export_dir);
	free_str(&spec->hostname);
	free(spec->runsc);
	spec->runsc = NULL;
	for (size_t i = 0; i < spec->n_env; i++) {
		free(spec->env[i].key);
		free(spec->env[i].value);
	}
	free(spec->env);
	free(spec->env_index);
	for (size_t i = 0; i < spec->n_volumes; i++) {
		free(spec->volumes[i].host);
		free(spec->volumes[i].sandbox);
	}
	free(spec->volumes);
	al_chaos_spec_free(&spec->chaos);
	free_str(&spec->log.path);
	free_str(&spec->log.sink);
	free_str(&spec->log.signing_key);
	free_str(&spec->log.spool_dir);
	free_str(&spec->log.tls_ca);
	al_net_spec_free(&spec->network);
	for (size_t i = 0; i < spec->n_rules; i++) {
		free(spec->rules[i].path);
		free(spec->rules[i].argv);
		free(spec->rules[i].host);
		free(spec->rules[i].syscall);
		free(spec->rules[i].text);
		free(spec->rules[i].contains);
	}
	free(spec->rules);
	spec->rules = NULL;
	spec->n_rules = 0;
	for (size_t i = 0; i < spec->n_canaries; i++) {
		free(spec->canaries[i].path);
		free(spec->canaries[i].name);
		free(spec->canaries[i].content);
	}
	free(spec->canaries);
	spec->canaries = NULL;
	spec->n_canaries = 0;
	free(spec->alert.webhook);
	spec->alert.webhook = NULL;
	for (size_t i = 0; i < spec->alert.command_n; i++)
		free(spec->alert.command[i]);
	free(spec->alert.command);
	spec->alert.command = NULL;
	spec->alert.command_n = 0;
	memset(spec, 0, sizeof *spec);
}

int al_spec_set_str(struct al_spec *spec, char **field, const char *value)
{
	char *copy = NULL;

	(void)spec;
	if (value != NULL) {
		copy = strdup(value);
		if (copy == NULL)
			return -ENOMEM;
	}
	free_str(field);
	*field = copy;
	return 0;
}

void al_spec_set_pids(struct al_spec *spec, uint64_t pids)
{
	spec->limits.pids = pids;
	if (!spec->limits.nproc_set)
		spec->limits.nproc = pids;
}

void al_spec_set_disk(struct al_spec *spec, uint64_t disk)
{
	spec->limits.disk = disk;
	if (!spec->limits.fsize_set)
		spec->limits.fsize = disk;
}

int al_spec_set_argv(struct al_spec *spec, char *const *argv, size_t argc)
{
	char **v;

	v = calloc(argc + 1, sizeof *v);
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < argc; i++) {
		v[i] = strdup(argv[i]);
		if (v[i] == NULL) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return -ENOMEM;
		}
	}
	free_argv(spec);
	spec->argv = v;
	spec->argc = argc;
	return 0;
}

/* The env keys are indexed by an open-addressing hash table (linear
 * probing, at most half full), so that many -e options or a large env:
 * mapping cost linear time, not a scan per key. */
static uint64_t env_hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 0x100000001b3ull;
	return h;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t env_slot(const struct al_spec *spec, const char *key)
{
	size_t mask = spec->env_index_cap - 1, i = (size_t)env_hash(key) & mask;

	while (spec->env_index[i] != 0 && strcmp(spec->env[spec->env_index[i] - 1].key, key) != 0)
		i = (i + 1) & mask;
	return i;
}

static int env_index_grow(struct al_spec *spec, size_t want_entries)
{
	size_t cap = spec->env_index_cap ? spec->env_index_cap : 16;
	uint32_t *t;

	while (cap < 2 * want_entries)
		cap *= 2;
	if (cap == spec->env_index_cap)
		return 0;
	t = calloc(cap, sizeof *t);
	if (t == NULL)
		return -ENOMEM;
	free(spec->env_index);
	spec->env_index = t;
	spec->env_index_cap = cap;
	for (size_t i = 0; i < spec->n_env; i++)
		spec->env_index[env_slot(spec, spec->env[i].key)] = (uint32_t)(i + 1);
	return 0;
}

int al_spec_set_env(struct al_spec *spec, const char *key, const char *value)
{
	_cleanup_free_ char *k = NULL;
	_cleanup_free_ char *v = NULL;
	size_t slot;
	int r;

	if (key == NULL || value == NULL || key[0] == '\0' || strchr(key, '=') != NULL)
		return -EINVAL;
	v = strdup(value);
	if (v == NULL)
		return -ENOMEM;
	r = env_index_grow(spec, spec->n_env + 1);
	if (r < 0)
		return r;
	/* one value per key: the later setting replaces the earlier one in place */
	slot = env_slot(spec, key);
	if (spec->env_index[slot] != 0) {
		struct al_env_var *e = &spec->env[spec->env_index[slot] - 1];
		free(e->value);
		e->value = TAKE_PTR(v);
		return 0;
	}
	if (spec->n_env >= AL_SPEC_MAX_ENV)
		return -E2BIG;
	k = strdup(key);
	if (k == NULL)
		return -ENOMEM;
	/* grow by doubling: n_env is only ever changed here */
	if ((spec->n_env & (spec->n_env - 1)) == 0) {
		size_t cap = spec->n_env ? 2 * spec->n_env : 1;
		struct al_env_var *n = realloc(spec->env, cap * sizeof *n);
		if (n == NULL)
			return -ENOMEM;
		spec->env = n;
	}
	spec->env[spec->n_env].key = TAKE_PTR(k);
	spec->env[spec->n_env].value = TAKE_PTR(v);
	spec->n_env++;
	spec->env_index[slot] = (uint32_t)spec->n_env;
	return 0;
}

int al_spec_add_env(struct al_spec *spec, const char *kv)
{
	_cleanup_free_ char *key = NULL;
	const char *eq;

	if (kv == NULL)
		return -EINVAL;
	eq = strchr(kv, '=');
	/* a bare K would mean "import the caller's value": never, secrets live there */
	if (eq == NULL || eq == kv)
		return -EINVAL;
	key = strndup(kv, (size_t)(eq - kv));
	if (key == NULL)
		return -ENOMEM;
	return al_spec_set_env(spec, key, eq + 1);
}

char *al_spec_host_path(const char *base_dir, const char *path)
{
	_cleanup_free_ char *cwd = NULL;
	char *out;
	size_t bl;

	if (path == NULL || path[0] == '\0') {
		errno = EINVAL;
		return NULL;
	}
	if (path[0] == '/')
		return strdup(path);
	if (base_dir == NULL) {
		cwd = getcwd(NULL, 0);
		if (cwd == NULL)
			return NULL;
		base_dir = cwd;
	}
	/* "./x" and "x" name the same thing; keep the result readable */
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (path[0] == '/')
			path++;
	}
	if (strcmp(path, ".") == 0 || path[0] == '\0')
		return strdup(base_dir);
	bl = strlen(base_dir);
	while (bl > 1 && base_dir[bl - 1] == '/')
		bl--;
	/* base "/" would otherwise give "//x" */
	if (bl == 1 && base_dir[0] == '/')
		bl = 0;
	if (asprintf(&out, "%.*s/%s", (int)bl, base_dir, path) < 0)
		return NULL;
	return out;
}

/* Append a volume; takes ownership of host and sandbox on success. */
static int spec_push_volume(struct al_spec *spec, char *host, char *sandbox,
                            const struct al_volume *opts)
{
	struct al_volume *n;

	n = realloc(spec->volumes, (spec->n_volumes + 1) * sizeof *n);
	if (n == NULL)
		return -ENOMEM;
	spec->volumes = n;
	spec->volumes[spec->n_volumes] = *opts;
	spec->volumes[spec->n_volumes].host = host;
	spec->volumes[spec->n_volumes].sandbox = sandbox;
	spec->n_volumes++;
	return 0;
}

/* The comma-separated options of "HOST:SANDBOX:OPTS": ro or rw (at most
 * one), noexec, owner=root. Each at most once: "ro,rw" is a mistake, not a
 * choice. */
static int parse_volume_opts(const char *arg, char *opts, struct al_volume *v, struct al_error *err)
{
	bool mode_seen = false;
	char *o;

	while ((o = strsep(&opts, ",")) != NULL) {
		bool *flag = NULL;
		if (*o == '\0')
			return al_error_set(err, 0, "spec", "volume \"%s\": empty option", arg);
		if (strcmp(o, "ro") == 0 || strcmp(o, "rw") == 0) {
			if (mode_seen)
				return al_error_set(err, 0, "spec",
				                    "volume \"%s\": ro/rw given more than once",
				                    arg);
			mode_seen = true;
			v->rw = o[1] == 'w';
			continue;
		}
		if (strcmp(o, "noexec") == 0)
			flag = &v->noexec;
		else if (strcmp(o, "owner=root") == 0)
			flag = &v->owner_root;
		else
			return al_error_set(
			    err, 0, "spec",
			    "volume \"%s\": unknown option \"%s\" (expected ro, rw, "
			    "noexec, owner=root)",
			    arg, o);
		if (*flag)
			return al_error_set(err, 0, "spec",
			                    "volume \"%s\": option \"%s\" given twice", arg, o);
		*flag = true;
	}
	return 0;
}

int al_spec_add_volume_at(struct al_spec *spec, const char *arg, const char *base_dir,
                          struct al_error *err)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ char *host = NULL;
	_cleanup_free_ char *sandbox = NULL;
	struct al_volume opts = {0};
	char *first, *second, *mode;
	int r;

	if (arg == NULL)
		return al_error_set(err, 0, "spec", "volume: missing argument");
	copy = strdup(arg);
	if (copy == NULL)
		return al_error_set(err, ENOMEM, "spec", "volume \"%s\"", arg);
	first = copy;
	second = strchr(first, ':');
	if (second == NULL)
		return al_error_set(err, 0, "spec",
		                    "volume \"%s\": expected HOST:SANDBOX[:OPTIONS]", arg);
	*second++ = '\0';
	mode = strchr(second, ':');
	if (mode != NULL) {
		*mode++ = '\0';
		r = parse_volume_opts(arg, mode, &opts, err);
		if (r < 0)
			return r;
	}
	if (first[0] == '\0' || second[0] == '\0')
		return al_error_set(err, 0, "spec",
		                    "volume \"%s\": expected HOST:SANDBOX[:OPTIONS]", arg);
	host = al_spec_host_path(base_dir, first);
	if (host == NULL)
		return al_error_errno(err, "spec", "volume \"%s\": resolving host path", arg);
	sandbox = strdup(second);
	if (sandbox == NULL)
		return al_error_set(err, ENOMEM, "spec", "volume \"%s\"", arg);
	r = spec_push_volume(spec, host, sandbox, &opts);
	if (r < 0)
		return al_error_set(err, -r, "spec", "volume \"%s\"", arg);
	host = NULL;
	sandbox = NULL;
	return 0;
}

int al_spec_add_volume(struct al_spec *spec, const char *arg, struct al_error *err)
{
	return al_spec_add_volume_at(spec, arg, NULL, err);
}

/* ---- validation ---- */

/* Absolute, no empty, "." or ".." components, no trailing slash: the mount
 * code compares and creates these paths component by component, and a path
 * that is not in this form is either a mistake or an attempt at confusion. */
bool al_spec_sandbox_path_normal(const char *p)
{
	const char *c;

	if (p == NULL || p[0] != '/')
		return false;
	if (strcmp(p, "/") == 0)
		return true;
	if (strlen(p) >= 4096)
		return false;
	c = p + 1;
	for (;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0)
			return false;
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (slash == NULL)
			return true;
		c = slash + 1;
	}
}

/* a == b, or one is an ancestor directory of the other */
static bool paths_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	const char *s = la <= lb ? a : b, *l = la <= lb ? b : a;
	size_t ls = la <= lb ? la : lb;

	if (strcmp(s, "/") == 0)
		return true;
	return strncmp(s, l, ls) == 0 && (l[ls] == '\0' || l[ls] == '/');
}

/* RFC 1123 host name: dot-separated labels of 1-63 letters, digits and
 * hyphens, not starting or ending with a hyphen; at most 64 bytes in all
 * (HOST_NAME_MAX, what sethostname accepts). */
bool al_spec_hostname_valid(const char *h)
{
	size_t len = strlen(h), label = 0;

	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = h[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		label++;
	}
	return true;
}

bool al_spec_sink_url_valid(const char *url)
{
	static const char *const schemes[] = {"tcp://", "tls://", "relp://"};
	const char *hp = NULL, *colon;
	char *end;
	unsigned long port;

	for (size_t i = 0; i < AL_ARRAY_SIZE(schemes); i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			hp = url + strlen(schemes[i]);
	if (hp == NULL)
		return false;
	colon = strrchr(hp, ':');
	if (colon == NULL || colon == hp)
		return false;
	/* an IPv6 literal must be bracketed: [::1]:514 */
	if (hp[0] == '[' ? colon[-1] != ']' : memchr(hp, ':', (size_t)(colon - hp)) != NULL)
		return false;
	if (colon[1] < '0' || colon[1] > '9')
		return false;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

static const char *const reserved_mounts[] = {"/proc", "/dev", "/etc"};

static int validate_volumes(const struct al_spec *spec, struct al_error *err)
{
	for (size_t i = 0; i < spec->n_volumes; i++) {
		const struct al_volume *v = &spec->volumes[i];

		if (v->host == NULL || v->host[0] == '\0')
			return al_error_set(err, 0, "spec", "volumes[%zu]: empty host path", i);
		if (!al_spec_sandbox_path_normal(v->sandbox))
			return al_error_set(
			    err, 0, "spec",
			    "volumes[%zu]: sandbox path \"%s\" must be absolute and normalised "
			    "(no \"..\", \".\", \"//\" or trailing \"/\")",
			    i, v->sandbox ? v->sandbox : "");
		if (strcmp(v->sandbox, "/") == 0)
			return al_error_set(err, 0, "spec", "volumes[%zu]: cannot mount over /", i);
		for (size_t k = 0; k < AL_ARRAY_SIZE(reserved_mounts); k++)
			if (paths_overlap(v->sandbox, reserved_mounts[k]))
				return al_error_set(
				    err, 0, "spec",
				    "volumes[%zu]: %s overlaps %s, which airlock builds itself", i,
				    v->sandbox, reserved_mounts[k]);
		if (spec->workspace != NULL && paths_overlap(v->sandbox, "/workspace"))
			return al_error_set(
			    err, 0, "spec",
			    "volumes[%zu]: %s overlaps /workspace, where the workspace is mounted",
			    i, v->sandbox);
		for (size_t k = 0; k < i; k++)
			if (paths_overlap(v->sandbox, spec->volumes[k].sandbox))
				return al_error_set(err, 0, "spec",
				                    "volumes[%zu]: %s overlaps volumes[%zu] (%s)",
				                    i, v->sandbox, k, spec->volumes[k].sandbox);
	}
	return 0;
}

/* Numeric bounds, by spec key. Minimums are where a smaller value cannot run
 * anything useful or is surely a unit mistake ("memory: 4" is 4 bytes);
 * maximums are what the kernel accepts. */
static const struct {
	const char *key;
	uint64_t min, max;
	bool bytes;
} limit_bounds[] = {
    {"memory", 4 * MiB, UINT64_MAX, true}, {"pids", 1, PIDS_MAX, false},
    {"disk", 1 * MiB, UINT64_MAX, true},   {"open_files", 3, NOFILE_MAX, false},
    {"nproc", 1, PIDS_MAX, false},         {"fsize", 1, UINT64_MAX, true},
    {"output", 0, UINT64_MAX, true},       {"checkpoint_every", 1, UINT32_MAX, false},
    {"max_size", 0, UINT64_MAX, true},
};

bool al_spec_limit_ok(const char *key, uint64_t v, char *buf, size_t len)
{
	for (size_t i = 0; i < AL_ARRAY_SIZE(limit_bounds); i++) {
		if (strcmp(limit_bounds[i].key, key) != 0)
			continue;
		if (v >= limit_bounds[i].min && v <= limit_bounds[i].max)
			return true;
		if (v < limit_bounds[i].min && limit_bounds[i].bytes)
			snprintf(buf, len, "%llu bytes is below the minimum of %llu (%llu MiB)",
			         (unsigned long long)v, (unsigned long long)limit_bounds[i].min,
			         (unsigned long long)(limit_bounds[i].min / MiB));
		else
			snprintf(buf, len, "%llu is not in %llu..%llu", (unsigned long long)v,
			         (unsigned long long)limit_bounds[i].min,
			         (unsigned long long)limit_bounds[i].max);
		return false;
	}
	snprintf(buf, len, "no such limit");
	return false;
}

static int validate_limits(const struct al_limits *l, struct al_error *err)
{
	const struct {
		const char *key;
		uint64_t v;
	} vals[] = {
	    {"memory", l->memory},     {"pids", l->pids},   {"disk", l->disk},
	    {"open_files", l->nofile}, {"nproc", l->nproc}, {"fsize", l->fsize},
	    {"output", l->output},
	};
	char why[160];

	for (size_t i = 0; i < AL_ARRAY_SIZE(vals); i++)
		if (!al_spec_limit_ok(vals[i].key, vals[i].v, why, sizeof why))
			return al_error_set(err, 0, "spec", "limits.%s: %s", vals[i].key, why);
	/* cpu.max / cfs quota has a 1 ms floor per 100 ms period */
	if (!isfinite(l->cpus) || l->cpus < 0.01 || l->cpus > 1024)
		return al_error_set(err, 0, "spec", "limits.cpus: %g is not in 0.01..1024",
		                    l->cpus);
	return 0;
}

static int validate_log(const struct al_log_spec *log, struct al_error *err)
{
	char why[160];

	if (log->path != NULL && log->path[0] == '\0')
		return al_error_set(err, 0, "spec", "log.path: empty path");
	if (log->sink != NULL && !al_spec_sink_url_valid(log->sink))
		return al_error_set(
		    err, 0, "spec",
		    "log.sink: \"%s\" is not tcp://HOST:PORT, tls://HOST:PORT or relp://HOST:PORT",
		    log->sink);
	if (!al_spec_limit_ok("checkpoint_every", log->checkpoint_every, why, sizeof why))
		return al_error_set(err, 0, "spec", "log.checkpoint_every: %s", why);
	if (log->max_size != 0 && log->max_size < 1 * MiB)
		return al_error_set(err, 0, "spec",
		                    "log.max_size: must be 0 (no cap) or at least 1MiB (room for "
		                    "run_start and the final records)");
	if (log->checkpoint_ns < 1000000ull)
		return al_error_set(err, 0, "spec",
		                    "log.checkpoint_interval: must be at least 1ms");
	if (log->tls_ca != NULL && (log->sink == NULL || strncmp(log->sink, "tls://", 6) != 0))
		return al_error_set(err, 0, "spec",
		                    "log.tls_ca: only meaningful with a tls:// sink");
	return 0;
}

static int validate_rest(const struct al_spec *spec, struct al_error *err);

const char *al_isolation_name(enum al_isolation i)
{
	switch (i) {
	case AL_ISOLATION_NAMESPACES:
		return "namespaces";
	case AL_ISOLATION_GVISOR:
		return "gvisor";
	case AL_ISOLATION_MICROVM:
		return "microvm";
	}
	return "unknown";
}

int al_isolation_parse(const char *s, enum al_isolation *out)
{
	if (strcmp(s, "namespaces") == 0)
		*out = AL_ISOLATION_NAMESPACES;
	else if (strcmp(s, "gvisor") == 0)
		*out = AL_ISOLATION_GVISOR;
	else if (strcmp(s, "microvm") == 0)
		*out = AL_ISOLATION_MICROVM;
	else
		return -EINVAL;
	return 0;
}

/* What a tier cannot give is refused here, before anything starts: no
 * silent fallback to another tier, no setting that would do nothing. */
static int validate_isolation(const struct al_spec *spec, struct al_error *err)
{
	if (spec->isolation == AL_ISOLATION_MICROVM)
		return al_error_set(err, 0, "spec",
		                    "isolation: microvm is not available in this airlock (designed, not "
		                    "built: see docs/isolation.md); use namespaces or gvisor");
	if (spec->runsc != NULL && spec->isolation != AL_ISOLATION_GVISOR)
		return al_error_set(err, 0, "spec", "runsc: only meaningful with isolation: gvisor");
	if (spec->trace_opens && spec->isolation != AL_ISOLATION_GVISOR)
		return al_error_set(err, 0, "spec", "trace_opens: only meaningful with isolation: gvisor");
	if (spec->runsc != NULL && spec->runsc[0] != '/')
		return al_error_set(err, 0, "spec", "runsc: \"%s\" must be an absolute path",
		                    spec->runsc);
	if (spec->isolation != AL_ISOLATION_GVISOR)
		return 0;
	/* These act on the workload's syscalls through airlock's seccomp filter
	 * or its time namespace; under gVisor the workload's syscalls never
	 * reach either (gVisor's kernel serves them). */
	if (spec->chaos.n_syscalls > 0)
		return al_error_set(err, 0, "spec",
		                    "chaos.syscalls: not available with isolation: gvisor (the "
		                    "workload's syscalls are served by gVisor, not airlock's filter)");
	if (spec->chaos.clock_offset_ns != 0 || spec->chaos.realtime_skew_ns != 0)
		return al_error_set(err, 0, "spec",
		                    "chaos.clock: not available with isolation: gvisor (gVisor keeps "
		                    "its own clocks)");
	for (size_t i = 0; i < spec->n_rules; i++) {
		const struct al_rule *ru = &spec->rules[i];
		/* gVisor serves (and refuses) syscalls itself: airlock never sees one */
		if (ru->on == AL_ON_SYSCALL_DENIED)
			return al_error_set(err, 0, "spec",
			                    "rules[%zu]: on: syscall-denied has no records with isolation: "
			                    "gvisor (docs/gvisor.md: what is recorded under gVisor)", i);
		/* exec records come from gVisor's trace after the exec happened:
		 * it can be logged or the sandbox killed, not the exec refused; and
		 * the record names no host file, so no origin to match */
		if (ru->on == AL_ON_EXEC && ru->action == AL_ACT_DENY)
			return al_error_set(err, 0, "spec",
			                    "rules[%zu]: on: exec with action deny is not available with "
			                    "isolation: gvisor (gVisor reports an exec once it happened: "
			                    "use kill or log)", i);
		if (ru->on == AL_ON_EXEC && ru->origin != AL_ORIGIN_ANY)
			return al_error_set(err, 0, "spec",
			                    "rules[%zu]: on: exec with origin is not available with "
			                    "isolation: gvisor (gVisor's exec record names no host file)", i);
	}
	return 0;
}

int al_spec_validate(const struct al_spec *spec, struct al_error *err)
{
	if (spec->argc == 0 || spec->argv == NULL || spec->argv[0] == NULL)
		return al_error_set(err, 0, "spec",
		                    "no command given (spec key command, or after --)");
	if (spec->argv[0][0] == '\0')
		return al_error_set(err, 0, "spec", "command: empty program name");
	return validate_rest(spec, err);
}

int al_spec_validate_session(const struct al_spec *spec, struct al_error *err)
{
	if (spec->argc > 0 && (spec->argv[0] == NULL || spec->argv[0][0] == '\0'))
		return al_error_set(err, 0, "spec", "command: empty program name");
	if (spec->isolation == AL_ISOLATION_GVISOR)
		return al_error_set(err, 0, "spec",
		                    "isolation: gvisor is available to `airlock run` only, not to "
		                    "sessions (docs/gvisor.md)");
	return validate_rest(spec, err);
}

static int validate_rest(const struct al_spec *spec, struct al_error *err)
{
	int r;

	if (spec->image == NULL || spec->image[0] == '\0')
		return al_error_set(err, 0, "spec", "image: empty");
	if (!al_spec_sandbox_path_normal(spec->workdir))
		return al_error_set(
		    err, 0, "spec",
		    "workdir: \"%s\" must be an absolute, normalised path inside the sandbox",
		    spec->workdir ? spec->workdir : "");
	if (spec->workspace != NULL && spec->workspace[0] == '\0')
		return al_error_set(err, 0, "spec", "workspace: empty path");
	if (spec->export_dir != NULL && spec->workspace == NULL)
		return al_error_set(
		    err, 0, "spec",
		    "export: needs a workspace (the changes exported are the workspace's)");
	if (spec->hostname == NULL || !al_spec_hostname_valid(spec->hostname))
		return al_error_set(
		    err, 0, "spec",
		    "hostname: \"%s\" is not a valid RFC 1123 host name of at most 64 characters",
		    spec->hostname ? spec->hostname : "");
	if (spec->uid >= SANDBOX_IDS || spec->gid >= SANDBOX_IDS)
		return al_error_set(err, 0, "spec",
		                    "user: %u:%u is outside the sandbox's 0..%u id range",
		                    spec->uid, spec->gid, SANDBOX_IDS - 1);
	for (size_t i = 0; i < spec->n_env; i++)
		if (spec->env[i].key[0] == '\0' || strchr(spec->env[i].key, '=') != NULL ||
		    !al_utf8_valid(spec->env[i].key, strlen(spec->env[i].key)))
			return al_error_set(err, 0, "spec", "env: invalid variable name \"%s\"",
			                    spec->env[i].key);
	r = validate_volumes(spec, err);
	if (r < 0)
		return r;
	r = validate_limits(&spec->limits, err);
	if (r < 0)
		return r;
	r = validate_log(&spec->log, err);
	if (r < 0)
		return r;
	r = al_net_spec_validate(&spec->network, err);
	if (r < 0)
		return r;
	r = al_chaos_spec_validate(spec, err);
	if (r < 0)
		return r;
	r = validate_isolation(spec, err);
	if (r < 0)
		return r;
	if (spec->allow_degraded & ~(uint32_t)(AL_DEGRADE_LANDLOCK | AL_DEGRADE_CGROUP |
	                                       AL_DEGRADE_TIMENS | AL_DEGRADE_SECCOMP_NOTIFY))
		return al_error_set(err, 0, "spec", "allow_degraded: unknown degradation bit");
	return 0;
}

bool al_spec_image_digest_valid(const char *s)
{
	if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return false;
	for (size_t i = 7; i < 7 + 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool al_spec_image_is_store_ref(const char *s)
{
	if (s == NULL || s[0] == '/' || s[0] == '.' || strcmp(s, "host") == 0)
		return false;
	return strchr(s, ':') != NULL;
}
