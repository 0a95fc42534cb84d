/* The canonical form of a resolved spec: JSON with sorted keys and no
 * whitespace, every field present (defaults included), sizes in bytes and
 * durations in ns; and its SHA-256, which the first log record carries so a
 * run says exactly what policy it ran under. */
#include "spec/spec.h"
#include "util/utf8.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

/* Bump when the canonical form changes shape, so old and new hashes never
 * compare equal by accident. */
#define AL_SPEC_CANON_VERSION 1

/* The shortest decimal that reads back as exactly v: "1", "0.5", "2.25",
 * never "0.10000000000000001" (and never locale-dependent commas: airlock
 * does not call setlocale). */
static void json_shortest_double(struct al_json *j, double v)
{
	char buf[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	al_json_raw(j, buf);
}

/* A string, losslessly. The JSON writer replaces invalid UTF-8 with U+FFFD,
 * which would let two different byte strings (say, command arguments given
 * on the command line) hash alike; such a string is written as {"hex": ...}
 * instead, which no string can be confused with. */
static void canon_str(struct al_json *j, const char *s)
{
	static const char digits[] = "0123456789abcdef";
	_cleanup_free_ char *hex = NULL;
	size_t n;

	if (s == NULL || al_utf8_valid(s, (n = strlen(s)))) {
		al_json_str(j, s);
		return;
	}
	hex = malloc(2 * n + 3);
	if (hex == NULL) {
		j->b->oom = true; /* reported by the caller's final check */
		return;
	}
	hex[0] = '"';
	for (size_t i = 0; i < n; i++) {
		hex[1 + 2 * i] = digits[(unsigned char)s[i] >> 4];
		hex[2 + 2 * i] = digits[(unsigned char)s[i] & 15];
	}
	hex[2 * n + 1] = '"';
	hex[2 * n + 2] = '\0';
	al_json_obj_begin(j);
	al_json_key(j, "hex");
	al_json_raw(j, hex);
	al_json_obj_end(j);
}

static void canon_kv_str(struct al_json *j, const char *k, const char *v)
{
	al_json_key(j, k);
	canon_str(j, v);
}

static int cmp_env(const void *a, const void *b)
{
	const struct al_env_var *x = *(const struct al_env_var *const *)a;
	const struct al_env_var *y = *(const struct al_env_var *const *)b;

	return strcmp(x->key, y->key);
}

static int write_env(struct al_json *j, const struct al_spec *spec)
{
	_cleanup_free_ const struct al_env_var **sorted = NULL;

	al_json_key(j, "env");
	al_json_obj_begin(j);
	if (spec->n_env > 0) {
		sorted = calloc(spec->n_env, sizeof *sorted);
		if (sorted == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < spec->n_env; i++)
			sorted[i] = &spec->env[i];
		qsort(sorted, spec->n_env, sizeof *sorted, cmp_env);
		for (size_t i = 0; i < spec->n_env; i++)
			/* a name that is not UTF-8 is refused by al_spec_validate */
			canon_kv_str(j, sorted[i]->key, sorted[i]->value);
	}
	al_json_obj_end(j);
	return 0;
}

static void write_limits(struct al_json *j, const struct al_limits *l)
{
	al_json_key(j, "limits");
	al_json_obj_begin(j);
	al_json_key(j, "cpus");
	json_shortest_double(j, l->cpus);
	al_json_kv_uint(j, "disk", l->disk);
	al_json_kv_uint(j, "fsize", l->fsize);
	al_json_kv_uint(j, "memory", l->memory);
	al_json_kv_uint(j, "nproc", l->nproc);
	al_json_kv_uint(j, "open_files", l->nofile);
	al_json_kv_uint(j, "output", l->output);
	al_json_kv_uint(j, "pids", l->pids);
	al_json_kv_uint(j, "timeout", l->timeout_ns);
	al_json_obj_end(j);
}

static void write_log(struct al_json *j, const struct al_log_spec *log)
{
	al_json_key(j, "log");
	al_json_obj_begin(j);
	al_json_kv_uint(j, "checkpoint_every", log->checkpoint_every);
	al_json_kv_uint(j, "checkpoint_interval", log->checkpoint_ns);
	al_json_kv_uint(j, "max_size", log->max_size);
	al_json_kv_str(j, "on_sink_failure",
	               log->on_sink_failure == AL_SINK_FAILURE_SPOOL ? "spool" : "kill");
	canon_kv_str(j, "path", log->path);
	canon_kv_str(j, "signing_key", log->signing_key);
	canon_kv_str(j, "sink", log->sink);
	canon_kv_str(j, "spool_dir", log->spool_dir);
	canon_kv_str(j, "tls_ca", log->tls_ca);
	al_json_obj_end(j);
}

/* Tripwires, only when set: specs without them keep their hash. Keys sorted. */
static void write_alert(struct al_json *j, const struct al_spec *spec)
{
	if (!spec->alert.webhook && !spec->alert.command)
		return;
	al_json_key(j, "alert");
	al_json_obj_begin(j);
	if (spec->alert.command) {
		al_json_key(j, "command");
		al_json_arr_begin(j);
		for (size_t i = 0; i < spec->alert.command_n; i++)
			al_json_str(j, spec->alert.command[i]);
		al_json_arr_end(j);
	}
	al_json_kv_uint(j, "timeout_ns", spec->alert.timeout_ns);
	if (spec->alert.webhook)
		al_json_kv_str(j, "webhook", spec->alert.webhook);
	al_json_obj_end(j);
}

static void write_canaries(struct al_json *j, const struct al_spec *spec)
{
	if (spec->n_canaries == 0)
		return;
	al_json_key(j, "canaries");
	al_json_arr_begin(j);
	for (size_t i = 0; i < spec->n_canaries; i++) {
		const struct al_canary_spec *c = &spec->canaries[i];
		al_json_obj_begin(j);
		if (c->content)
			al_json_kv_str(j, "content", c->content);
		al_json_kv_str(j, "kind", al_canary_kind_name(c->kind));
		if (c->name)
			al_json_kv_str(j, "name", c->name);
		if (c->path)
			al_json_kv_str(j, "path", c->path);
		al_json_obj_end(j);
	}
	al_json_arr_end(j);
}

static void write_rules(struct al_json *j, const struct al_spec *spec)
{
	if (spec->n_rules == 0)
		return;
	al_json_key(j, "rules");
	al_json_arr_begin(j);
	for (size_t i = 0; i < spec->n_rules; i++) {
		const struct al_rule *r = &spec->rules[i];
		al_json_obj_begin(j);
		al_json_kv_str(j, "action", al_rule_action_name(r->action));
		if (r->alert)
			al_json_kv_bool(j, "alert", true);
		if (r->count)
			al_json_kv_uint(j, "count", r->count);
		al_json_key(j, "match");
		al_json_obj_begin(j);
		if (r->argv)
			al_json_kv_str(j, "argv", r->argv);
		if (r->contains)
			al_json_kv_str(j, "contains", r->contains);
		if (r->host)
			al_json_kv_str(j, "host", r->host);
		if (r->origin)
			al_json_kv_str(j, "origin", r->origin == AL_ORIGIN_IMAGE ? "image" : "writable");
		if (r->package_manager >= 0)
			al_json_kv_bool(j, "package_manager", r->package_manager == 1);
		if (r->path)
			al_json_kv_str(j, "path", r->path);
		if (r->stream)
			al_json_kv_str(j, "stream", r->stream == 1 ? "stdout" : "stderr");
		if (r->syscall)
			al_json_kv_str(j, "syscall", r->syscall);
		if (r->text)
			al_json_kv_str(j, "text", r->text);
		al_json_obj_end(j);
		al_json_kv_str(j, "on", al_rule_on_name(r->on));
		if (r->within_ns)
			al_json_kv_uint(j, "within_ns", r->within_ns);
		al_json_obj_end(j);
	}
	al_json_arr_end(j);
}

int al_spec_canonical_json(const struct al_spec *spec, struct al_buf *out)
{
	struct al_json j;
	int r;

	al_json_init(&j, out);
	/* keys in strcmp order at every level */
	al_json_obj_begin(&j);

	write_alert(&j, spec);
	al_json_key(&j, "allow_degraded");
	al_json_arr_begin(&j);
	/* names in sorted order, whatever order they were given in */
	{
		const char *names[32];
		size_t n = 0;
		for (uint32_t bit = 1; bit != 0; bit <<= 1)
			if ((spec->allow_degraded & bit) && al_degradation_name(bit) != NULL)
				names[n++] = al_degradation_name(bit);
		for (size_t a = 1; a < n; a++)
			for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
				const char *t = names[b];
				names[b] = names[b - 1];
				names[b - 1] = t;
			}
		for (size_t i = 0; i < n; i++)
			al_json_str(&j, names[i]);
	}
	al_json_arr_end(&j);

	write_canaries(&j, spec);
	r = al_chaos_spec_canonical(&j, &spec->chaos);
	if (r < 0)
		return r;

	al_json_key(&j, "command");
	al_json_arr_begin(&j);
	for (size_t i = 0; i < spec->argc; i++)
		canon_str(&j, spec->argv[i]);
	al_json_arr_end(&j);

	if (!spec->default_rules)
		al_json_kv_bool(&j, "default_rules", false);
	r = write_env(&j, spec);
	if (r < 0)
		return r;

	canon_kv_str(&j, "export", spec->export_dir);
	canon_kv_str(&j, "hostname", spec->hostname);
	canon_kv_str(&j, "image", spec->image);
	if (spec->image_digest) /* only when pinned: unpinned specs keep their hash */
		canon_kv_str(&j, "image_digest", spec->image_digest);
	/* only when not the default: specs of the default tier keep their hash */
	if (spec->isolation != AL_ISOLATION_NAMESPACES)
		canon_kv_str(&j, "isolation", al_isolation_name(spec->isolation));
	write_limits(&j, &spec->limits);
	write_log(&j, &spec->log);

	r = al_net_spec_canonical(&j, &spec->network);
	if (r < 0)
		return r;

	write_rules(&j, spec);
	/* only when given: specs without it keep their hash */
	if (spec->session.idle_timeout_set || spec->session.max_lifetime_set) {
		al_json_key(&j, "session");
		al_json_obj_begin(&j);
		if (spec->session.idle_timeout_set)
			al_json_kv_uint(&j, "idle_timeout_ns", spec->session.idle_timeout_ns);
		if (spec->session.max_lifetime_set)
			al_json_kv_uint(&j, "max_lifetime_ns", spec->session.max_lifetime_ns);
		al_json_obj_end(&j);
	}
	if (spec->runsc)
		canon_kv_str(&j, "runsc", spec->runsc);
	if (spec->trace_opens) /* only when set: older specs keep their hash */
		al_json_kv_bool(&j, "trace_opens", true);
	al_json_key(&j, "user");
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "gid", spec->gid);
	al_json_kv_uint(&j, "uid", spec->uid);
	al_json_obj_end(&j);

	al_json_kv_uint(&j, "version", AL_SPEC_CANON_VERSION);

	/* volumes keep their order: it is the mount order */
	al_json_key(&j, "volumes");
	al_json_arr_begin(&j);
	for (size_t i = 0; i < spec->n_volumes; i++) {
		al_json_obj_begin(&j);
		canon_kv_str(&j, "host", spec->volumes[i].host);
		al_json_kv_str(&j, "mode", spec->volumes[i].rw ? "rw" : "ro");
		/* keys in sorted order; the options appear only when set, so the
		 * canonical form (and hash) of a spec without them is unchanged */
		if (spec->volumes[i].noexec)
			al_json_kv_bool(&j, "noexec", true);
		if (spec->volumes[i].owner_root)
			al_json_kv_str(&j, "owner", "root");
		canon_kv_str(&j, "path", spec->volumes[i].sandbox);
		al_json_obj_end(&j);
	}
	al_json_arr_end(&j);

	canon_kv_str(&j, "workdir", spec->workdir);
	canon_kv_str(&j, "workspace", spec->workspace);
	al_json_obj_end(&j);

	if (out->oom)
		return -ENOMEM;
	return 0;
}

int al_spec_hash(const struct al_spec *spec, char hex[65])
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	struct al_buf b;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	al_buf_init(&b);
	r = al_spec_canonical_json(spec, &b);
	if (r < 0) {
		al_buf_free(&b);
		return r;
	}
	crypto_hash_sha256(digest, (const unsigned char *)b.data, b.len);
	al_buf_free(&b);
	sodium_bin2hex(hex, 65, digest, sizeof digest);
	return 0;
}
